// hwc-envelope-v2 (docs/keylog.md): version 1 with the receiving organisation's key log head
// {org, size, hash} in the envelope and in the additional authenticated data:
// "hwc-envelope-v2\n" + canonical({device, head, signal}). Loaded lazily with the key log.

import { EnvelopeError, decryptEnvelope, encryptEnvelope } from "./envelope.js";

const KEYS = "ct,epk,head,iv,salt,v";
const ID = /^[A-Za-z0-9_-]{1,64}$/;
const utf8 = new TextEncoder();

/** A head {org, size, hash}, exactly; a copy, so the envelope holds no other reference. */
function checkHead(head) {
  const ok = head?.constructor === Object && Object.keys(head).sort().join() === "hash,org,size" &&
    ID.test(head.org) && Number.isSafeInteger(head.size) && head.size >= 0 &&
    /^[0-9a-f]{64}$/.test(head.hash);
  if (!ok) throw new EnvelopeError("head must be {org, size, hash}");
  return { org: head.org, size: head.size, hash: head.hash };
}

/** The format arguments of envelope.js for version 2: its keys, its aad and its head. */
function formatV2(signalId, deviceId, head) {
  if (![signalId, deviceId].every((id) => typeof id === "string" && ID.test(id))) {
    throw new EnvelopeError("ids must be 1 to 64 characters of A-Z a-z 0-9 _ -");
  }
  const checked = checkHead(head);
  const aad = utf8.encode("hwc-envelope-v2\n" + JSON.stringify({ device: deviceId,
    head: { hash: checked.hash, org: checked.org, size: checked.size }, signal: signalId }));
  return { v: 2, keys: KEYS, aad, head: checked };
}

/** The key log head a v2 envelope was sealed under, or null for version 1. */
export const envelopeHead = (envelope) => (envelope?.v === 2 ? checkHead(envelope.head) : null);

/** Seal for one device under the verified head; opts as encryptEnvelope's (vectors only). */
export async function encryptEnvelopeV2(recipientPublicKeyRaw, signalId, deviceId, plaintextBytes, head,
  opts = {}) {
  return encryptEnvelope(recipientPublicKeyRaw, signalId, deviceId, plaintextBytes, opts,
    formatV2(signalId, deviceId, head));
}

/** Open a version 1 or 2 envelope: {plain, head} (head null for version 1). */
export async function openEnvelope(privateKey, recipientPublicKeyRaw, signalId, deviceId,
  envelope) {
  const head = envelopeHead(envelope);
  const format = head ? formatV2(signalId, deviceId, head) : undefined;
  const plain = await decryptEnvelope(privateKey, recipientPublicKeyRaw, signalId, deviceId,
    envelope, format);
  return { plain, head };
}
