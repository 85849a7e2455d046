// Opening this device's copy of a signal, and who signed it (docs/envelope.md, "Verifying",
// issue 20): a version 3 envelope's signer must be, in the signer organisation's verified key
// log, a device (or a machine) active when the signal was sent, with a role that sends; then
// the signature is checked and the envelope opened, and the verdict decides what the app shows.
// Versions 1 and 2 open as before, unsigned. Loaded lazily, when a copy is opened.

import { EnvelopeError, b64uDecode, decodeContent, decryptEnvelope } from "./envelope.js";
import { openEnvelope } from "./envelope2.js";
import { SignatureInvalid, verifyEnvelopeSignature } from "./envelope3.js";
import { KeylogError, verifyLog } from "./keylog.js";
import { keptKeys, openWithKeptKeys } from "./keyring.js";
import { keptAnswer } from "./keystore.js";
import { openV2, splitViewWarning, verifiedLog } from "./trust.js";
import { setFlash } from "./views/common.js";

const ID = /^[A-Za-z0-9_-]{1,64}$/;
// Roles whose device signs an original signal (an officer sends too: views/officer.js "/nieuw"),
// and a forwarded (contact) or relayed (officer) copy, which carries `origin`.
const ORIGINAL_ROLES = ["sender", "officer"];
const COPY_ROLES = ["contact", "officer"];

/** The signer is not an active device of its organisation's log with a role that sends. */
export class SignerUnknown extends Error {}

/** A signal's send time in ms: its id's first 6 bytes (envelope.js newSignalId). */
export function sentAt(signalId) {
  const bytes = b64uDecode(signalId);
  return bytes.length === 16 ? bytes.slice(0, 6).reduce((t, b) => t * 256 + b, 0) : -1;
}

const isParty = (party) => party?.constructor === Object &&
  Object.keys(party).sort().join() === "device,org" && ID.test(party.org) && ID.test(party.device);

/**
 * The log as it stood when the signal was sent: its entries up to that time verified again on
 * their own (the same rules, so no second walk to keep in step with keylog.js).
 */
async function stateAt(org, signalId) {
  const { entries } = await verifiedLog(org);
  const seconds = sentAt(signalId) / 1000;
  const upTo = entries.findIndex((e) => e.at > seconds);
  return (await verifyLog(org, upTo < 0 ? entries : entries.slice(0, upTo))).state;
}

/**
 * The signer's {sigKey, person} (person null for a machine) as its organisation's verified log
 * had it when the signal was sent; `copy`: a forwarded or relayed copy (it carries `origin`).
 * Throws SignerUnknown, a KeylogError (the log does not verify) or an ApiError (offline).
 */
export async function signerAt(signer, signalId, copy) {
  const state = await stateAt(signer.org, signalId);
  const machine = state.machines.get(signer.device); // `machine_added` (hwc send)
  if (machine) {
    if (copy || !machine.active || !machine.sig_key) throw new SignerUnknown();
    return { sigKey: machine.sig_key, person: null };
  }
  const device = state.devices.get(signer.device);
  const person = device && state.people.get(device.person);
  const roles = copy ? COPY_ROLES : ORIGINAL_ROLES;
  if (!device?.active || !device.sig_key || !person || person.revoked ||
    !roles.includes(person.role)) throw new SignerUnknown();
  return { sigKey: device.sig_key, person: device.person };
}

/** The verdict of a signature, or the signer's key and person when it verifies. */
async function checkSignature(envelope, signalId, deviceId) {
  if (!isParty(envelope.signer)) return { verdict: "malformed" };
  let signer;
  try {
    signer = await signerAt(envelope.signer, signalId, "origin" in envelope);
    const from = await verifyEnvelopeSignature(envelope, signalId, deviceId, signer.sigKey);
    return { verdict: "verified", signer, from: fromOf(from) };
  } catch (error) {
    if (error instanceof SignatureInvalid || error instanceof SignerUnknown ||
      error instanceof KeylogError || error?.status === 404) return { verdict: "bad_signature" };
    if (error instanceof EnvelopeError) return { verdict: "malformed" };
    throw error; // offline: nothing decided, opened again later
  }
}

/** envelope3's {signer_org, signer_device, origin_org?, origin_device?} as openSignal's `from`. */
function fromOf(verified) {
  const from = { org: verified.signer_org, device: verified.signer_device };
  if (verified.origin_org) {
    Object.assign(from, { origin_org: verified.origin_org, origin_device: verified.origin_device });
  }
  return from;
}

/**
 * The lines the app may show of who sent it ("Van: …", "Doorgestuurd door …"), from the server's
 * names (`names` of the open answer) for the ids the signature proved: the (original) sender
 * organisation, and for a forwarded or relayed copy the forwarding device's person when the
 * server's person for that device is the one the verified log gives it.
 */
function shownLines(from, person, names) {
  const org = names?.orgs?.[from.origin_org ?? from.org] ?? "een organisatie zonder naam";
  const forwarder = names?.devices?.[from.device];
  const byPerson = person && forwarder?.person === person
    ? `${forwarder.name}, ${forwarder.role_label}` : "een collega";
  return [`Van: ${org}`, ...(from.origin_org ? [`Doorgestuurd door ${byPerson}`] : [])];
}

/** A version 3 envelope: {bytes, verdict, from, shown, claimed}; bytes null unless "verified". */
async function openSigned(device, signalId, opened) {
  const { envelope } = opened;
  const checked = await checkSignature(envelope, signalId, device.deviceId);
  const claimed = ID.test(envelope?.signer?.org) ? envelope.signer.org : null;
  if (checked.verdict !== "verified") return { bytes: null, verdict: checked.verdict, claimed };
  const { plain, head } = await openWithKeptKeys(keptKeys(device), (key) => openEnvelope(
    key.privateKey, key.publicKeyRaw, signalId, device.deviceId, envelope));
  const warning = await splitViewWarning(head);
  if (warning) setFlash(warning);
  return { bytes: plain, verdict: "verified", from: checked.from,
    shown: shownLines(checked.from, checked.signer.person, opened.names) };
}

/**
 * A version 1 or 2 envelope (unsigned): {bytes, verdict: "unsigned"}; "bad_signature" for a
 * signal sent from the cut-over on (HWC_SIGNED_FROM, `signed_from` of /api/me, Unix seconds).
 */
async function openUnsigned(device, signalId, envelope) {
  const cut = (await keptAnswer("/api/me"))?.value?.signed_from;
  if (Number.isFinite(cut) && sentAt(signalId) >= cut * 1000) {
    return { bytes: null, verdict: "bad_signature", claimed: null };
  }
  // Sealed to this device's current key or, before a rotation, to an old key it still keeps.
  const bytes = await openWithKeptKeys(keptKeys(device), (key) => (envelope?.v === 2
    ? openV2({ ...device, ...key }, signalId, envelope)
    : decryptEnvelope(key.privateKey, key.publicKeyRaw, signalId, device.deviceId, envelope)));
  return { bytes, verdict: "unsigned" };
}

/**
 * This device's copy (the open answer `opened`) opened here: {content, verdict, from, shown,
 * claimed}. verdict: "verified" (from = {org, device, origin_org?, origin_device?}, shown = the
 * names the app may show), "unsigned" (versions 1 and 2), or "bad_signature" / "malformed"
 * (content null; claimed = the signer organisation the envelope names, for the event). Throws
 * when this device's key does not open it ("unreadable") or when offline.
 */
export async function openCopy(device, signalId, opened) {
  let result;
  try {
    result = opened.envelope?.v === 3 ? await openSigned(device, signalId, opened)
      : await openUnsigned(device, signalId, opened.envelope);
    const { bytes, ...verdict } = result;
    return { content: bytes && decodeContent(bytes), from: null, shown: null, ...verdict };
  } finally {
    result?.bytes?.fill(0);
  }
}
