// Sealing a signal's content to devices and opening this device's copy, on top of envelope.js.
// Content lives only in memory: callers render it and drop it, nothing here stores it. Sealing
// checks the key log first (trust.js), opening the copy's verdict (signer.js); both load lazily.

import { ApiError, api, segment } from "./api.js";
import { loadDevice } from "./keystore.js";

const NOT_OPENED = "Dit signaal kan op dit apparaat niet worden geopend. Vraag uw beheerder om hulp.";
const trust = () => import("./trust.js");

/** POST envelopes sealed to the devices the receiver's key log names: trust.js's postSealed. */
export const postSealed = async (...args) => (await trust()).postSealed(...args);

/** Fetch this device's envelope (an explicit POST) and open it: signer.js openCopy's answer. */
export async function openSignal(signalId) {
  const device = await loadDevice();
  if (!device) throw new ApiError(401, "no_device", NOT_OPENED);
  const opened = await api(`/api/signals/${segment(signalId)}/open`, { method: "POST" });
  try {
    return { state: opened.state, deleteAt: opened.delete_at,
      ...await (await import("./signer.js")).openCopy(device, signalId, opened) };
  } catch (error) {
    if (error instanceof ApiError) throw error; // offline while fetching a key log
    throw new ApiError(422, "undecryptable", NOT_OPENED);
  }
}
