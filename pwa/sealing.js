// Sealing a signal's content to devices and opening this device's copy, on top of envelope.js.
// Content lives only in memory: callers render it and drop it, nothing here stores it. Sealing
// and version 2 envelopes check the key log first (trust.js, loaded when first needed); a
// signed (version 3) envelope is checked against its signer's log (signer.js, likewise).

import { decodeContent, decryptEnvelope } from "./envelope.js";
import { ApiError, api, segment } from "./api.js";
import { loadDevice } from "./keystore.js";

const NOT_OPENED = "Dit signaal kan op dit apparaat niet worden geopend. Vraag uw beheerder om hulp.";
const trust = () => import("./trust.js");
const signer = () => import("./signer.js");

/** POST envelopes sealed to the devices the receiver's key log names: trust.js's postSealed. */
export const postSealed = async (...args) => (await trust()).postSealed(...args);

/** An unsigned envelope (version 1 or 2): {bytes, verdict: "unsigned"}. */
async function openUnsigned(device, signalId, envelope) {
  const bytes = envelope?.v === 2 ? await (await trust()).openV2(device, signalId, envelope)
    : await decryptEnvelope(device.privateKey, device.publicKeyRaw, signalId, device.deviceId,
      envelope);
  return { bytes, verdict: "unsigned" };
}

/**
 * Fetch this device's envelope (an explicit POST) and open it here: {content, state, deleteAt,
 * verdict, from, shown, claimed}. verdict: "verified" (from = {org, device, origin_org?,
 * origin_device?}, shown = the names the app may show), "unsigned" (versions 1 and 2), or
 * "bad_signature" / "malformed" (content null; claimed = the signer organisation the envelope
 * names, for the security event). An envelope this device's key does not open ("unreadable")
 * throws an ApiError with the Dutch message, as before.
 */
export async function openSignal(signalId) {
  const device = await loadDevice();
  if (!device) throw new ApiError(401, "no_device", NOT_OPENED);
  const opened = await api(`/api/signals/${segment(signalId)}/open`, { method: "POST" });
  let result;
  try {
    result = opened.envelope?.v === 3 ? await (await signer()).openSigned(device, signalId, opened)
      : await openUnsigned(device, signalId, opened.envelope);
    const { bytes, ...verdict } = result;
    return { content: bytes ? decodeContent(bytes) : null, state: opened.state,
      deleteAt: opened.delete_at, from: null, shown: null, ...verdict };
  } catch (error) {
    if (error instanceof ApiError) throw error; // offline while fetching a key log
    throw new ApiError(422, "undecryptable", NOT_OPENED);
  } finally {
    result?.bytes?.fill(0);
  }
}
