// hwc-envelope-v3 (docs/envelope.md): a version 2 envelope under the version 3 aad, signed by
// the sending device's key log signing key (ECDSA P-256 / SHA-256, P1363) over a flat
// statement that binds the recipient, the signal, the head, the sealed bytes, the signer and
// (a forwarded or relayed copy) the origin. Must agree with server/envelope.py
// (tests/vectors/envelope-v3.json). Loaded lazily with trust.js, never in the first load.

import { EnvelopeError, b64uDecode, b64uEncode, concat, encryptEnvelope, importPoint, parse }
  from "./envelope.js";
import { checkParty, checkSigned, formatOf } from "./envelope2.js";
import { canonicalBytes, hex, verifySignature } from "./keylog.js";

const SIG_LABEL = "hwc-envelope-sig-v3\n";
const SIGN = { name: "ECDSA", hash: "SHA-256" };
const utf8 = new TextEncoder();
const subtle = () => globalThis.crypto.subtle;

/** A well-formed version 3 envelope whose signature is not the named signer's. */
export class SignatureInvalid extends Error {
  constructor(message = "signature does not verify") {
    super(message);
    this.name = "SignatureInvalid";
  }
}

/**
 * What the signer signs: "hwc-envelope-sig-v3\n" + canonical flat statement (docs/envelope.md).
 * Async (a Promise of the bytes): `sealed` is a SHA-256, and WebCrypto digests only async.
 */
export async function signedStatement(envelope, signalId, deviceId) {
  const { head } = formatOf(3, signalId, deviceId, envelope.head); // checks the ids' form
  const signer = checkParty(envelope.signer);
  const origin = Object.hasOwn(envelope, "origin") ? checkParty(envelope.origin, "origin") : null;
  const sealed = concat(...["epk", "salt", "iv", "ct"].map((k) => b64uDecode(envelope[k])));
  const fields = {
    device: deviceId,
    head_hash: head.hash,
    head_org: head.org,
    head_size: head.size,
    sealed: hex(await subtle().digest("SHA-256", sealed)),
    signal: signalId,
    signer_device: signer.device,
    signer_org: signer.org,
    ...(origin && { origin_device: origin.device, origin_org: origin.org }),
  };
  return concat(utf8.encode(SIG_LABEL), canonicalBytes(fields));
}

/**
 * Seal for one device under the receiving organisation's verified `head`, signed with this
 * device's `signingPrivateKey` as `signer` {org, device}; `origin` {org, device} on a forwarded
 * or relayed copy (the original sender as this device verified it). opts as encryptEnvelope's.
 */
export async function encryptEnvelopeV3(recipientPublicKeyRaw, signalId, deviceId,
  plaintextBytes, head, signer, signingPrivateKey, origin = null, opts = {}) {
  const parties = { signer: checkParty(signer),
    ...(origin !== null && { origin: checkParty(origin, "origin") }) };
  const sealed = await encryptEnvelope(recipientPublicKeyRaw, signalId, deviceId, plaintextBytes,
    opts, formatOf(3, signalId, deviceId, head));
  const envelope = { ...sealed, ...parties };
  const statement = await signedStatement(envelope, signalId, deviceId);
  const sig = await subtle().sign(SIGN, signingPrivateKey, statement);
  return { ...envelope, sig: b64uEncode(new Uint8Array(sig)) };
}

/**
 * Check a version 3 envelope's signature under `sigKeyB64` (the signer's sig_key from its
 * organisation's verified key log). -> {signer_org, signer_device[, origin_org,
 * origin_device]}. EnvelopeError when malformed (any version but 3 too), SignatureInvalid when
 * well formed but not signed by that key: the verdicts of server/envelope.py verify_signature.
 */
export async function verifyEnvelopeSignature(envelope, signalId, deviceId, sigKeyB64) {
  await checkShape(envelope);
  const statement = await signedStatement(envelope, signalId, deviceId);
  if (!(await verifySignature(sigKeyB64, envelope.sig, statement))) throw new SignatureInvalid();
  const { signer, origin } = checkSigned(envelope);
  return { signer_org: signer.org, signer_device: signer.device,
    ...(origin && { origin_org: origin.org, origin_device: origin.device }) };
}

/** The whole shape as the server checks it, the ephemeral point included; version 3 only. */
async function checkShape(envelope) {
  if (envelope?.constructor !== Object || envelope.v !== 3) {
    throw new EnvelopeError("only a version 3 envelope is signed");
  }
  const { origin } = checkSigned(envelope);
  // Ids are checked by signedStatement; placeholders here only pick the format's keys.
  const { epk } = parse(envelope, formatOf(3, "s", "d", envelope.head, origin !== null));
  await importPoint(epk);
}
