// Sealing a signal's content to devices and opening this device's copy, on top of envelope.js.
// Content lives only in memory: callers render it and drop it, nothing here stores it.

import {
  b64uDecode, decodeContent, decryptEnvelope, encodeContent, encryptEnvelope, envelopeHead,
} from "./envelope.js";
import { ApiError, api, segment } from "./api.js";
import { loadDevice } from "./keystore.js";
import { setFlash } from "./views/common.js";

const NOT_OPENED = "Dit signaal kan op dit apparaat niet worden geopend. Vraag uw beheerder om hulp.";

// The key log's checks (issue 19): loaded when a signal is sealed or opened, not at start.
const trust = () => import("./trust.js");

/**
 * One envelope per device [{device_id, public_key}] for content {name, birth_date}, after the
 * receiver's key log ({org, people?}) named exactly these devices; its head goes in each (v2).
 */
export async function sealFor(receiver, devices, signalId, content) {
  const head = await (await trust()).checkedHead(receiver, devices);
  const plaintext = encodeContent(content.name, content.birth_date);
  try {
    return await Promise.all(devices.map(async (device) => ({
      device_id: device.device_id,
      envelope: await encryptEnvelope(b64uDecode(device.public_key), signalId, device.device_id,
        plaintext, { head }),
    })));
  } finally {
    plaintext.fill(0);
  }
}

/**
 * POST envelopes sealed to `devices`. When the server says the devices changed meanwhile, seal
 * to its current list and try once more, as the API asks.
 */
export async function postSealed(path, receiver, devices, signalId, content, bodyFor) {
  try {
    return await api(path, { method: "POST",
      body: bodyFor(await sealFor(receiver, devices, signalId, content)) });
  } catch (error) {
    if (!(error instanceof ApiError) || error.code !== "devices_changed" || !error.body.devices?.length) {
      throw error;
    }
    const envelopes = await sealFor(receiver, error.body.devices, signalId, content);
    return api(path, { method: "POST", body: bodyFor(envelopes) });
  }
}

/**
 * Fetch this device's envelope (an explicit POST) and decrypt it here: {content, state,
 * deleteAt}. When the envelope's key log head disagrees with this device's view of its own
 * organisation's log, the next screen shows the warning.
 */
export async function openSignal(signalId) {
  const device = await loadDevice();
  if (!device) throw new ApiError(401, "no_device", NOT_OPENED);
  const opened = await api(`/api/signals/${segment(signalId)}/open`, { method: "POST" });
  let bytes;
  try {
    bytes = await decryptEnvelope(device.privateKey, device.publicKeyRaw, signalId, device.deviceId,
      opened.envelope);
    const head = envelopeHead(opened.envelope);
    const warning = head && await trust().then((t) => t.splitViewWarning(head), () => null);
    if (warning) setFlash(warning);
    return { content: decodeContent(bytes), state: opened.state, deleteAt: opened.delete_at };
  } catch (error) {
    if (error instanceof ApiError) throw error;
    throw new ApiError(422, "undecryptable", NOT_OPENED);
  } finally {
    bytes?.fill(0);
  }
}
