// hwc-envelope-v2 (docs/keylog.md): version 1 with the receiving organisation's key log head
// {org, size, hash} in the envelope and in the additional authenticated data:
// "hwc-envelope-v2\n" + canonical({device, head, signal}). Version 3 (docs/envelope.md) has the
// same aad under the label "hwc-envelope-v3\n"; this module opens it too (decrypting is not
// verifying: envelope3.js seals and verifies its signature). Loaded lazily with the key log.

import { EnvelopeError, b64uDecode, decryptEnvelope, encryptEnvelope } from "./envelope.js";

const ID = /^[A-Za-z0-9_-]{1,64}$/;
const SIG_BYTES = 64;
const utf8 = new TextEncoder();

/** A head {org, size, hash}, exactly; a copy, so the envelope holds no other reference. */
function checkHead(head) {
  const ok = head?.constructor === Object && Object.keys(head).sort().join() === "hash,org,size" &&
    ID.test(head.org) && Number.isSafeInteger(head.size) && head.size >= 0 &&
    /^[0-9a-f]{64}$/.test(head.hash);
  if (!ok) throw new EnvelopeError("head must be {org, size, hash}");
  return { org: head.org, size: head.size, hash: head.hash };
}

/** A version 3 `signer` or `origin`: {org, device}, ids of the key log's form; a copy. */
export function checkParty(party, name = "signer") {
  const ok = party?.constructor === Object && Object.keys(party).sort().join() === "device,org" &&
    ID.test(party.org) && ID.test(party.device);
  if (!ok) throw new EnvelopeError(`${name} must be {org, device}, ids of the key log's form`);
  return { org: party.org, device: party.device };
}

/** A version 3 envelope's signed part: {signer, origin (null when absent)}; sig is 64 bytes. */
export function checkSigned(envelope) {
  const origin = Object.hasOwn(envelope, "origin") ? checkParty(envelope.origin, "origin") : null;
  const signer = checkParty(envelope.signer);
  let sig;
  try {
    sig = b64uDecode(envelope.sig);
  } catch {
    throw new EnvelopeError("sig is not base64url");
  }
  if (sig.length !== SIG_BYTES) throw new EnvelopeError("sig has the wrong length");
  return { signer, origin };
}

/** The sorted key list of a version 2 or 3 envelope (version 3 with or without origin). */
function keysOf(version, withOrigin) {
  const signed = version === 3 ? ["sig", "signer", ...(withOrigin ? ["origin"] : [])] : [];
  return ["ct", "epk", "head", "iv", "salt", "v", ...signed].sort().join();
}

/**
 * The format arguments of envelope.js for version 2 or 3: its keys, its aad and its head. The
 * aad is "hwc-envelope-v<version>\n" + canonical({device, head, signal}).
 */
export function formatOf(version, signalId, deviceId, head, withOrigin = false) {
  if (![signalId, deviceId].every((id) => typeof id === "string" && ID.test(id))) {
    throw new EnvelopeError("ids must be 1 to 64 characters of A-Z a-z 0-9 _ -");
  }
  const checked = checkHead(head);
  const aad = utf8.encode(`hwc-envelope-v${version}\n` + JSON.stringify({ device: deviceId,
    head: { hash: checked.hash, org: checked.org, size: checked.size }, signal: signalId }));
  return { v: version, keys: keysOf(version, withOrigin), aad, head: checked };
}

/** The key log head a v2 or v3 envelope was sealed under, or null for version 1. */
export const envelopeHead = (envelope) =>
  (envelope?.v === 2 || envelope?.v === 3 ? checkHead(envelope.head) : null);

/** Seal for one device under the verified head; opts as encryptEnvelope's (vectors only). */
export async function encryptEnvelopeV2(recipientPublicKeyRaw, signalId, deviceId, plaintextBytes, head,
  opts = {}) {
  return encryptEnvelope(recipientPublicKeyRaw, signalId, deviceId, plaintextBytes, opts,
    formatOf(2, signalId, deviceId, head));
}

/**
 * Open a version 1, 2 or 3 envelope: {plain, head, signer, origin} (head null for version 1;
 * signer and origin null but for version 3). Decrypting is not verifying: a version 3
 * envelope's signature is envelope3.js's verifyEnvelopeSignature.
 */
export async function openEnvelope(privateKey, recipientPublicKeyRaw, signalId, deviceId,
  envelope) {
  const head = envelopeHead(envelope);
  const { signer, origin } = envelope?.v === 3 ? checkSigned(envelope)
    : { signer: null, origin: null };
  const format = head ? formatOf(envelope.v, signalId, deviceId, head, origin !== null)
    : undefined;
  const plain = await decryptEnvelope(privateKey, recipientPublicKeyRaw, signalId, deviceId,
    envelope, format);
  return { plain, head, signer, origin };
}
