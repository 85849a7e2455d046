// Trusting the key log, not the server (issue 19, docs/keylog.md): fetch an organisation's log,
// verify it against the pinned log key and the head this device saw last, and only then seal
// to the devices the log names. Loaded lazily, when sending, opening or checking this device.

import { ApiError, api, segment } from "./api.js";
import { b64uDecode, encodeContent } from "./envelope.js";
import { encryptEnvelopeV2, openEnvelope } from "./envelope2.js";
import { encryptEnvelopeV3 } from "./envelope3.js";
// Version 3 (docs/envelope.md) loads with the key log: the opening side verifies with these.
export { SignatureInvalid, verifyEnvelopeSignature } from "./envelope3.js";
import {
  KeylogError, agreesWith, devicesOf, recipients, sameDevices, verifyLogAnswer,
} from "./keylog.js";
import { keptAnswer, loadDevice, withStore } from "./keystore.js";
import { setFlash } from "./views/common.js";

// Who receives for an organisation: a school's contacts, a leerplicht office's officers.
const RECEIVING_ROLES = ["contact", "officer"];

export const NOT_SENT = "Het signaal is niet verstuurd. De lijst met apparaten die het signaal " +
  "zouden krijgen, klopt niet met het controleerbare sleutellogboek. Bel de ontvanger (de " +
  "school of het bureau) om het signaal door te geven, en meld dit aan uw beheerder.";
export const SPLIT_VIEW = "Let op: dit signaal is versleuteld volgens een andere lijst met " +
  "apparaten dan dit apparaat van uw organisatie kent. Mogelijk kan iemand anders meelezen. " +
  "Meld dit aan uw beheerder.";

/** The key log's state on this device (pinned log key, last verified heads, what was seen). */
export const keepTrust = (name, value) => withStore("readwrite",
  (store) => store.put(value, `trust:${name}`));

export const keptTrust = (name) => withStore("readonly", (s) => s.get(`trust:${name}`));

/** Record a security event: a kind and an organisation id, never personal data. */
export function reportEvent(kind, org) {
  return api("/api/security-events", { method: "POST", body: { kind, org } }).catch(() => {});
}

/** The log key, pinned the first time this device sees it. */
async function logKey() {
  const pinned = await keptTrust("logkey");
  if (pinned) return pinned;
  const { key } = await api("/api/log/key");
  await keepTrust("logkey", key);
  return key;
}

/**
 * The organisation's log, verified and consistent with the head this device saw last; that
 * head moves forward. Throws a KeylogError (a broken or forked log) or an ApiError (offline).
 */
export async function verifiedLog(org) {
  const remembered = await keptTrust(`head:${org}`);
  const answer = await api(`/api/orgs/${segment(org)}/log`);
  const verified = await verifyLogAnswer(org, answer, await logKey(), remembered);
  await keepTrust(`head:${org}`, verified.head);
  return verified;
}

const eventFor = (error) => (error.reason === "inconsistent" ? "log_fork" : "log_invalid");

/**
 * {head, devices} to seal to: the devices the receiver's log names (its receiving roles, or
 * `people`, chosen teachers) under its verified head. When the server's list `devices`
 * ([{device_id, public_key}]) differs, a list fetched before the log moved on may be stale: the
 * first try (`strict` false) seals to the log's devices and the server checks them against its
 * current list; when the server insists on another (`strict`), a security event and an
 * ApiError whose Dutch message says nothing was sent.
 */
export async function checkedHead({ org, people }, devices, strict = true) {
  let kind = "recipients_mismatch";
  try {
    const { state, head } = await verifiedLog(org);
    const derived = people ? devicesOf(state, people) : recipients(state, RECEIVING_ROLES);
    if (sameDevices(derived, devices) || !strict) {
      return { head, devices: derived.map((d) => ({ device_id: d.id, public_key: d.enc_key })) };
    }
  } catch (error) {
    if (!(error instanceof KeylogError)) throw error;
    kind = eventFor(error);
  }
  await reportEvent(kind, org);
  throw new ApiError(409, "untrusted_devices", NOT_SENT);
}

// --- sealing --------------------------------------------------------------------------------

/**
 * The origin a forwarded or relayed copy carries (docs/envelope.md, version 3): the original
 * sender as this device verified it when it opened its own copy. `from` is openSignal's (set
 * only for a verified copy); a copy that was itself forwarded names its own origin on.
 */
export function originOf(from) {
  if (!from?.org || !from.device) return null;
  return { org: from.origin_org ?? from.org, device: from.origin_device ?? from.device };
}

/** This device as a version 3 signer, {signer, key}; null for a device without a signing key
 * (enrolled before signing keys: `migrated`) or outside an organisation. */
async function ownSigner() {
  const device = await loadDevice();
  if (!device?.signingKey) return null;
  const org = (await keptAnswer("/api/me"))?.value?.org?.id ?? (await api("/api/me")).org?.id;
  return org ? { signer: { org, device: device.deviceId }, key: device.signingKey } : null;
}

/** Seal one device's envelope under `head`: version 3 signed by this device, else version 2. */
async function sealerFor(head, from) {
  const own = await ownSigner();
  const origin = originOf(from);
  return own
    ? (raw, signalId, deviceId, plain) => encryptEnvelopeV3(raw, signalId, deviceId, plain, head,
      own.signer, own.key, origin)
    : (raw, signalId, deviceId, plain) => encryptEnvelopeV2(raw, signalId, deviceId, plain, head);
}

/**
 * One envelope per device the receiver's key log ({org, people?}) names, for content {name,
 * birth_date}, checked against the server's list `devices` (checkedHead); the log's head goes
 * in each, signed by this device (v3; v2 without a signing key). `from`: the opened copy's
 * verified sender, for a forward or relay (originOf).
 */
export async function sealFor(receiver, devices, signalId, content, strict = true, from = null) {
  const checked = await checkedHead(receiver, devices, strict);
  const seal = await sealerFor(checked.head, from);
  const plaintext = encodeContent(content.name, content.birth_date);
  try {
    return await Promise.all(checked.devices.map(async (device) => ({
      device_id: device.device_id,
      envelope: await seal(b64uDecode(device.public_key), signalId, device.device_id, plaintext),
    })));
  } finally {
    plaintext.fill(0);
  }
}

/**
 * POST envelopes sealed to the devices the log names. When the server says the devices changed
 * meanwhile, its current list must be the log's exactly: then seal and try once more.
 */
export async function postSealed(path, receiver, devices, signalId, content, bodyFor,
  from = null) {
  try {
    return await api(path, { method: "POST",
      body: bodyFor(await sealFor(receiver, devices, signalId, content, false, from)) });
  } catch (error) {
    if (!(error instanceof ApiError) || error.code !== "devices_changed" || !error.body.devices?.length) {
      throw error;
    }
    const envelopes = await sealFor(receiver, error.body.devices, signalId, content, true, from);
    return api(path, { method: "POST", body: bodyFor(envelopes) });
  }
}

// --- opening ---------------------------------------------------------------------------------

/** Open a v2 envelope for this device; a head that disagrees brings the warning on screen. */
export async function openV2(device, signalId, envelope) {
  const { plain, head } = await openEnvelope(device.privateKey, device.publicKeyRaw, signalId,
    device.deviceId, envelope);
  const warning = await splitViewWarning(head);
  if (warning) setFlash(warning);
  return plain;
}

/**
 * At open: a v2 envelope's head (`head`) must agree with this device's own view of its organisation's
 * log (one a prefix of the other; the log is fetched anew, so a longer head is covered too).
 * -> null when it agrees, else the warning text (the event is reported).
 */
export async function splitViewWarning(head) {
  const myOrg = (await keptAnswer("/api/me"))?.value?.org?.id;
  try {
    if (head.org === myOrg && agreesWith(await verifiedLog(myOrg), head)) return null;
  } catch (error) {
    if (!(error instanceof KeylogError)) return null; // offline: checked at the next open
  }
  await reportEvent("head_mismatch", myOrg ?? head.org);
  return SPLIT_VIEW;
}
