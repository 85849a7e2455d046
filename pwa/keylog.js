// The key log (docs/keylog.md, issue 19): verify an organisation's hash-linked log of people and
// devices, derive who may decrypt from it, and check the server's signed head. Pure: no network,
// no storage; the same rules as server/keylog.py, checked against tests/vectors/keylog/.
// Loaded lazily (when sending or opening), never in the first load.

import { b64uDecode, b64uEncode, concat } from "./envelope.js";

export const ZERO = "0".repeat(64);
const HEAD_LABEL = "hwc-keylog-head-v1\n";
const APPROVAL_LABEL = "hwc-approve-device-v1\n";
const ROTATE_LABEL = "hwc-rotate-key-v1\n";
const CODE_LABEL = "hwc-device-code-v1\n";
const MACHINE_APPROVAL_LABEL = "hwc-approve-machine-v1\n";
const MACHINE_CODE_LABEL = "hwc-machine-code-v1\n";
const MACHINE_APPROVERS = ["sender", "admin"]; // roles whose devices may approve a system
const ECDSA = { name: "ECDSA", namedCurve: "P-256" };
const SIGN = { name: "ECDSA", hash: "SHA-256" };
const ID = /^[A-Za-z0-9_-]{1,64}$/;
const HASH = /^[0-9a-f]{64}$/;
const BY = /^(server|(admin|device|person):[A-Za-z0-9_-]{1,64})$/;
const PRINTABLE = /^[\x20-\x7e]*$/; // what Python's json.dumps and JSON.stringify write alike
export const ROLES = ["admin", "sender", "contact", "teacher", "officer"];
const COMMON = ["at", "by", "kind", "org", "prev", "seq"];
const KINDS = {
  person_added: ["person", "role"],
  role_changed: ["person", "role"],
  person_revoked: ["person"],
  device_added: ["device", "enc_key", "how", "person", "sig_key"],
  device_revoked: ["device", "person"],
  person_reset: ["person"],
  key_rotated: ["device", "enc_key", "person", "signature"],
  machine_added: ["approval", "approver", "device", "sig_key"],
  machine_revoked: ["device"],
};
const HOWS = ["link", "contact", "approved", "migrated"];

const utf8 = new TextEncoder();
const subtle = () => globalThis.crypto.subtle;

/** A log, head or statement that does not verify; `reason` is a short fixed English code. */
export class KeylogError extends Error {
  constructor(reason) {
    super(`key log refused: ${reason}`);
    this.name = "KeylogError";
    this.reason = reason;
  }
}

const refuse = (reason) => {
  throw new KeylogError(reason);
};

// --- canonical bytes and hashes -------------------------------------------------------------

function checkValue(value) {
  if (typeof value === "string") return PRINTABLE.test(value) || refuse("value");
  return Number.isSafeInteger(value) && value >= 0 ? true : refuse("value");
}

/** Sorted keys, no spaces; only printable ASCII strings and non-negative integers. */
export function canonicalBytes(object) {
  const plain = object !== null && typeof object === "object" && !Array.isArray(object);
  if (!plain) refuse("object");
  const keys = Object.keys(object).sort();
  const parts = keys.map((key) => {
    checkValue(key);
    checkValue(object[key]);
    return `${JSON.stringify(key)}:${JSON.stringify(object[key])}`;
  });
  return utf8.encode(`{${parts.join(",")}}`);
}

export const hex = (buffer) => Array.from(new Uint8Array(buffer),
  (b) => b.toString(16).padStart(2, "0")).join("");

/** Lowercase hex SHA-256 of an entry's canonical bytes. */
export async function entryHash(entry) {
  return hex(await subtle().digest("SHA-256", canonicalBytes(entry)));
}

// --- keys and signatures --------------------------------------------------------------------

/** A key field: base64url of a 65-byte uncompressed point. */
function pointBytes(text) {
  let raw;
  try {
    raw = b64uDecode(text);
  } catch {
    refuse("key");
  }
  return raw.length === 65 && raw[0] === 4 ? raw : refuse("key");
}

export async function verifySignature(keyText, sigText, data) {
  let key;
  let sig;
  try {
    key = await subtle().importKey("raw", pointBytes(keyText), ECDSA, false, ["verify"]);
    sig = b64uDecode(sigText);
  } catch {
    return false;
  }
  return sig.length === 64 && subtle().verify(SIGN, key, sig, data);
}

/** The bytes a person's device signs to approve a new device (the new device's values). */
export function approvalStatement({ device, enc_key, org, person, sig_key }) {
  return concat(utf8.encode(APPROVAL_LABEL),
    canonicalBytes({ device, enc_key, org, person, sig_key }));
}

/** This device's approval of a pending one: base64url P1363 signature. */
export async function signApproval(privateKey, fields) {
  return b64uEncode(new Uint8Array(await subtle().sign(SIGN, privateKey,
    approvalStatement(fields))));
}

/** The bytes a sender's or admin's device signs to approve a sending system's key. */
export function machineStatement({ device, org, sig_key }) {
  return concat(utf8.encode(MACHINE_APPROVAL_LABEL), canonicalBytes({ device, org, sig_key }));
}

/** This device's approval of a sending system's key: base64url P1363 signature. */
export async function signMachineApproval(privateKey, fields) {
  return b64uEncode(new Uint8Array(await subtle().sign(SIGN, privateKey,
    machineStatement(fields))));
}

export { generateSigningKey } from "./envelope.js"; // made at enrolment, in the first load

/** "482 731": the code a new device and its approver both show (docs/keylog.md). */
export async function comparisonCode(encKey, sigKey) {
  return sixDigits(concat(utf8.encode(CODE_LABEL), pointBytes(encKey), pointBytes(sigKey)));
}

/** "482 731" for a sending system's key: `hwc register-key` prints the same. */
export async function machineCode(sigKey) {
  return sixDigits(concat(utf8.encode(MACHINE_CODE_LABEL), pointBytes(sigKey)));
}

async function sixDigits(data) {
  const digest = await subtle().digest("SHA-256", data);
  const code = String(new DataView(digest).getUint32(0) % 1_000_000).padStart(6, "0");
  return `${code.slice(0, 3)} ${code.slice(3)}`;
}

/** The bytes a device signs with its own sig_key to announce its new ECDH key. */
export function rotationStatement({ device, enc_key, org, person }) {
  return concat(utf8.encode(ROTATE_LABEL), canonicalBytes({ device, enc_key, org, person }));
}

/** This device's key_rotated signature: base64url P1363. */
export async function signRotation(privateKey, fields) {
  return b64uEncode(new Uint8Array(await subtle().sign(SIGN, privateKey,
    rotationStatement(fields))));
}

// --- entry shape ----------------------------------------------------------------------------

function checkFields(entry, kind) {
  const extra = kind === "device_added" && entry.how === "approved" ? ["approval", "approver"] : [];
  const expected = [...COMMON, ...KINDS[kind], ...extra].sort().join();
  if (Object.keys(entry).sort().join() !== expected) refuse("fields");
}

function checkShape(entry, index, org) {
  const plain = entry !== null && typeof entry === "object" && !Array.isArray(entry);
  if (!plain || !Object.hasOwn(KINDS, entry.kind)) refuse("kind");
  checkFields(entry, entry.kind);
  for (const [key, value] of Object.entries(entry)) {
    if (typeof value !== (key === "seq" || key === "at" ? "number" : "string")) refuse("type");
  }
  canonicalBytes(entry); // integers non-negative, strings printable ASCII
  if (entry.seq !== index) refuse("seq");
  if (entry.org !== org) refuse("org");
  if (!HASH.test(entry.prev)) refuse("prev");
  if (!BY.test(entry.by)) refuse("by");
  for (const name of ["person", "device", "approver"]) {
    if (name in entry && !ID.test(entry[name])) refuse("id");
  }
  if ("role" in entry && !ROLES.includes(entry.role)) refuse("role");
  if (entry.kind === "device_added") checkDeviceShape(entry);
  if (entry.kind === "machine_added") checkMachineShape(entry);
  if (entry.kind === "key_rotated") checkRotationShape(entry);
}

function checkRotationShape(entry) {
  pointBytes(entry.enc_key);
  if (entry.signature.length !== 86) refuse("signature");
}

function checkDeviceShape(entry) {
  if (!HOWS.includes(entry.how)) refuse("how");
  pointBytes(entry.enc_key);
  if (entry.sig_key !== "" || entry.how !== "migrated") pointBytes(entry.sig_key);
}

function checkMachineShape(entry) {
  pointBytes(entry.sig_key);
  if (entry.approval.length !== 86) refuse("approval");
}

// --- the rules and the derived state --------------------------------------------------------

function newState(org) {
  return { org, people: new Map(), devices: new Map(), machines: new Map(), keys: new Set(),
    genesis: true, approvals: [] };
}

const livePerson = (state, id) => {
  const person = state.people.get(id);
  return person && !person.revoked ? person : refuse("person");
};

const activeDevicesOf = (state, person) =>
  [...state.devices.entries()].filter(([, d]) => d.active && d.person === person);

function endDevices(state, person) {
  for (const [, device] of activeDevicesOf(state, person)) device.active = false;
}

const RULES = {
  person_added(state, e) {
    if (state.people.has(e.person)) refuse("person");
    state.people.set(e.person, { role: e.role, revoked: false });
  },
  role_changed(state, e) {
    livePerson(state, e.person).role = e.role;
  },
  person_revoked(state, e) {
    livePerson(state, e.person).revoked = true;
    endDevices(state, e.person);
  },
  person_reset(state, e) {
    livePerson(state, e.person);
    endDevices(state, e.person);
  },
  device_revoked(state, e) {
    const device = state.devices.get(e.device);
    if (!device?.active || device.person !== e.person) refuse("device");
    device.active = false;
  },
  device_added(state, e) {
    livePerson(state, e.person);
    const keys = [e.enc_key, e.sig_key].filter(Boolean);
    if (seen(state, e.device, keys) || e.enc_key === e.sig_key) refuse("reused");
    checkHow(state, e);
    for (const key of keys) state.keys.add(key);
    state.devices.set(e.device, { person: e.person, enc_key: e.enc_key, sig_key: e.sig_key,
      active: true, how: e.how, seq: e.seq });
  },
  key_rotated(state, e) {
    livePerson(state, e.person);
    const device = state.devices.get(e.device);
    if (!device?.active || device.person !== e.person) refuse("device");
    if (e.by !== `device:${e.device}`) refuse("by");
    if (state.keys.has(e.enc_key)) refuse("reused");
    if (!device.sig_key) refuse("no_sig_key");
    // Checked with the approvals at the end, under the sig_key the device has at this point.
    state.approvals.push(verifySignature(device.sig_key, e.signature, rotationStatement(e)));
    state.keys.add(e.enc_key);
    device.enc_key = e.enc_key;
  },
  machine_added(state, e) {
    if (seen(state, e.device, [e.sig_key])) refuse("reused");
    const approver = machineApprover(state, e);
    // Checked together at the end (verifyLog), as a device's approval.
    state.approvals.push(verifySignature(approver.sig_key, e.approval,
      machineStatement({ device: e.device, org: state.org, sig_key: e.sig_key })));
    state.keys.add(e.sig_key);
    state.machines.set(e.device, { sig_key: e.sig_key, active: true, seq: e.seq });
  },
  machine_revoked(state, e) {
    const machine = state.machines.get(e.device);
    if (!machine?.active) refuse("machine");
    machine.active = false;
  },
};

/** Whether a device id (a person's device or a machine) or a key was ever in the log. */
const seen = (state, id, keys) => state.devices.has(id) || state.machines.has(id) ||
  keys.some((k) => state.keys.has(k));

/** The device approving a machine: active, acting itself, of a live sender or admin. */
function machineApprover(state, e) {
  const approver = state.devices.get(e.approver);
  const person = approver && state.people.get(approver.person);
  const ok = approver?.active && e.by === `device:${e.approver}` && !person.revoked &&
    MACHINE_APPROVERS.includes(person.role) && approver.sig_key;
  return ok ? approver : refuse("approver");
}

function checkHow(state, e) {
  if (e.how === "migrated") {
    if (!state.genesis || e.by !== "server") refuse("migrated");
  } else if (e.how === "approved") {
    const approver = state.devices.get(e.approver);
    if (!approver?.active || approver.person !== e.person || !approver.sig_key) refuse("approver");
    // Checked together at the end (verifyLog): the walk does not depend on the outcome.
    state.approvals.push(verifySignature(approver.sig_key, e.approval, approvalStatement(e)));
  } else if (activeDevicesOf(state, e.person).length) {
    refuse("not_first_device");
  }
}

function stillGenesis(state, e) {
  return state.genesis && e.by === "server" &&
    (e.kind === "person_added" || (e.kind === "device_added" && e.how === "migrated"));
}

/**
 * Verify a whole log of organisation `org`: {state, hashes, entries, head: {org, size, hash}};
 * throws a KeylogError on the first rule broken. The hashes are computed together (they do not
 * depend on each other), then the chain and the rules are walked in order; the approvals'
 * signatures are checked together at the end.
 */
export async function verifyLog(org, entries) {
  if (!ID.test(org) || !Array.isArray(entries)) refuse("log");
  entries.forEach((entry, i) => {
    checkShape(entry, i, org);
  });
  const hashes = await Promise.all(entries.map(entryHash));
  const state = newState(org);
  for (const [i, entry] of entries.entries()) {
    if (entry.prev !== (i ? hashes[i - 1] : ZERO)) refuse("prev");
    if (i && entry.at < entries[i - 1].at) refuse("at");
    state.genesis = stillGenesis(state, entry);
    RULES[entry.kind](state, entry);
  }
  if ((await Promise.all(state.approvals)).includes(false)) refuse("approval");
  return { state, hashes, entries,
    head: { org, size: entries.length, hash: hashes.at(-1) ?? ZERO } };
}

/** The active devices of live people with a role in `roles`: [{id, enc_key}] sorted by id. */
export function recipients(state, roles) {
  return [...state.devices.entries()]
    .filter(([, d]) => d.active && !state.people.get(d.person).revoked &&
      roles.includes(state.people.get(d.person).role))
    .map(([id, d]) => ({ id, enc_key: d.enc_key }))
    .sort((a, b) => (a.id < b.id ? -1 : 1));
}

/** The active devices of these people (forwarding to chosen teachers): [{id, enc_key}]. */
export function devicesOf(state, people) {
  return [...state.devices.entries()]
    .filter(([, d]) => d.active && people.includes(d.person) && !state.people.get(d.person).revoked)
    .map(([id, d]) => ({ id, enc_key: d.enc_key }));
}

/** Whether the server's list [{device_id, public_key}] is exactly the derived recipients. */
export function sameDevices(derived, serverDevices) {
  const given = serverDevices.map((d) => `${d.device_id} ${d.public_key}`).sort();
  const wanted = derived.map((d) => `${d.id} ${d.enc_key}`).sort();
  return given.length === new Set(given).size && given.join("\n") === wanted.join("\n");
}

/** Whether a device is active in the log with these keys (its own view of itself). */
export function deviceMatches(state, deviceId, encKey, sigKey) {
  const device = state.devices.get(deviceId);
  return Boolean(device?.active && device.enc_key === encKey &&
    (sigKey === undefined || device.sig_key === sigKey));
}

// --- heads ----------------------------------------------------------------------------------

/** Check a signed head {org, size, hash, sig} under the pinned log key (base64url). */
export async function verifyHead(logKey, head) {
  const ok = head !== null && typeof head === "object" &&
    Object.keys(head).sort().join() === "hash,org,sig,size" && ID.test(head.org) &&
    Number.isSafeInteger(head.size) && head.size >= 0 && HASH.test(head.hash);
  if (!ok) refuse("head");
  const { org, size, hash } = head;
  const data = concat(utf8.encode(HEAD_LABEL), canonicalBytes({ org, size, hash }));
  if (!(await verifySignature(logKey, head.sig, data))) refuse("head_sig");
  return { org, size, hash };
}

/** Whether a verified log (its hashes) extends a remembered head {size, hash} of its org. */
export function extendsHead(hashes, remembered) {
  if (!remembered) return true;
  if (remembered.size > hashes.length) return false;
  return remembered.size === 0 ? remembered.hash === ZERO
    : hashes[remembered.size - 1] === remembered.hash;
}

/**
 * A GET /api/orgs/{id}/log answer, all checked: entries valid, the head signed by the log key
 * and naming this log's end, consistent with the remembered head. -> the verifyLog result.
 */
export async function verifyLogAnswer(org, answer, logKey, remembered) {
  if (answer?.org !== org) refuse("org");
  const head = await verifyHead(logKey, answer.head);
  const verified = await verifyLog(org, answer.entries);
  const same = head.org === org && head.size === verified.head.size &&
    head.hash === verified.head.hash;
  if (!same) refuse("head_mismatch");
  if (!extendsHead(verified.hashes, remembered)) refuse("inconsistent");
  return verified;
}

/** Whether an envelope's head and this device's verified log agree (one a prefix). */
export function agreesWith(verified, head) {
  if (head.org !== verified.head.org) return false;
  if (head.size <= verified.hashes.length) return extendsHead(verified.hashes, head);
  return false; // longer than what this device verified: the caller fetches anew first
}
