// Sealing a signal's content to devices and opening this device's copy, on top of envelope.js.
// Content lives only in memory: callers render it and drop it, nothing here stores it. Sealing
// and version 2 envelopes check the key log first (trust.js, loaded when first needed).

import { decodeContent, decryptEnvelope } from "./envelope.js";
import { ApiError, api, segment } from "./api.js";
import { loadDevice } from "./keystore.js";

const NOT_OPENED = "Dit signaal kan op dit apparaat niet worden geopend. Vraag uw beheerder om hulp.";
const trust = () => import("./trust.js");

/** POST envelopes sealed to the devices the receiver's key log names: trust.js's postSealed. */
export const postSealed = async (...args) => (await trust()).postSealed(...args);

/** Fetch this device's envelope (an explicit POST) and decrypt it here: {content, state, deleteAt}. */
export async function openSignal(signalId) {
  const device = await loadDevice();
  if (!device) throw new ApiError(401, "no_device", NOT_OPENED);
  const opened = await api(`/api/signals/${segment(signalId)}/open`, { method: "POST" });
  let bytes;
  try {
    bytes = opened.envelope?.v >= 2 ? await (await trust()).openV2(device, signalId, opened.envelope)
      : await decryptEnvelope(device.privateKey, device.publicKeyRaw, signalId, device.deviceId,
        opened.envelope);
    return { content: decodeContent(bytes), state: opened.state, deleteAt: opened.delete_at };
  } catch {
    throw new ApiError(422, "undecryptable", NOT_OPENED);
  } finally {
    bytes?.fill(0);
  }
}
