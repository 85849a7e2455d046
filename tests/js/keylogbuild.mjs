// Builds signed key logs for the JS tests (docs/keylog.md): real ECDSA keys, real hashes.
import { b64uEncode } from "../../pwa/envelope.js";
import {
  ZERO, canonicalBytes, entryHash, generateSigningKey, signApproval,
} from "../../pwa/keylog.js";

const ECDH = { name: "ECDH", namedCurve: "P-256" };

/** A device's public keys and its signing key: {encKey, sigKey, privateKey}. */
export async function newDeviceKeys() {
  const enc = await crypto.subtle.generateKey(ECDH, true, ["deriveBits"]);
  const encKey = b64uEncode(new Uint8Array(await crypto.subtle.exportKey("raw", enc.publicKey)));
  const { privateKey, sigKey } = await generateSigningKey();
  return { encKey, sigKey, privateKey };
}

/** A log under construction: append entries by kind; `keys` holds each device's keys. */
export class LogBuilder {
  constructor(org = "org-1") {
    this.org = org;
    this.entries = [];
    this.keys = new Map();
    this.at = 1_790_000_000;
  }

  async append(kind, by, fields) {
    const prev = this.entries.length ? await entryHash(this.entries.at(-1)) : ZERO;
    const entry = { org: this.org, seq: this.entries.length, prev, at: this.at++, kind, by,
      ...fields };
    this.entries.push(entry);
    return entry;
  }

  person(person, role = "teacher") {
    return this.append("person_added", "admin:adm", { person, role });
  }

  async device(person, device, how = "link", approver = undefined) {
    const keys = await newDeviceKeys();
    this.keys.set(device, keys);
    const fields = { person, device, enc_key: keys.encKey, sig_key: keys.sigKey, how };
    if (how === "approved") {
      fields.approver = approver;
      fields.approval = await signApproval(this.keys.get(approver).privateKey,
        { ...fields, org: this.org });
    }
    const by = how === "approved" ? `device:${approver}` : "admin:adm";
    return this.append("device_added", how === "migrated" ? "server" : by, fields);
  }
}

/** A log key and a signer of heads {org, size, hash} -> {org, size, hash, sig}. */
export async function newLogKey() {
  const { privateKey, sigKey } = await generateSigningKey();
  const sign = async (head) => {
    const label = new TextEncoder().encode("hwc-keylog-head-v1\n");
    const body = canonicalBytes(head);
    const data = new Uint8Array(label.length + body.length);
    data.set(label);
    data.set(body, label.length);
    const sig = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, privateKey, data);
    return { ...head, sig: b64uEncode(new Uint8Array(sig)) };
  };
  return { key: sigKey, sign };
}
