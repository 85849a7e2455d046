// This device's ECDH keys over time (issue 20 item 4; docs/envelope.md, "Which key"): a new key
// each week (or at once, "Nieuwe sleutel maken"), announced in the organisation's key log under
// the device's own signature; the old private keys kept only while the server says a live
// envelope may need them, and never longer than a signal can live. A key copied from this
// phone afterwards opens nothing sent before the rotation. Loaded lazily (start check, open).

import { api, segment } from "./api.js";
import { b64uEncode, generateDeviceKey } from "./envelope.js";
import { signRotation } from "./keylog.js";
import { loadDevice, saveDevice } from "./keystore.js";

/** Roles whose devices are sealed to (docs/keylog.md): only their keys rotate. */
export const RECEIVING_ROLES = ["contact", "teacher", "officer"];
const DAY_MS = 86_400_000;
const RACE_MS = 600_000; // server/policy.py ROTATION_RACE_SECONDS: a sender's list fetched before

/** The keys this device holds, newest first: [{privateKey, publicKeyRaw}]. */
export const keptKeys = (device) => [device, ...(device.oldKeys ?? [])]
  .map(({ privateKey, publicKeyRaw }) => ({ privateKey, publicKeyRaw }));

/**
 * Open with whichever kept key the envelope was sealed to: `open(key)` per key, newest first
 * (HKDF binds the recipient key, so another key fails the tag; there are at most a few).
 * Throws the newest key's failure when none opens it.
 */
export async function openWithKeptKeys(keys, open) {
  let failure;
  for (const key of keys) {
    try {
      return await open(key);
    } catch (error) {
      failure ??= error;
    }
  }
  throw failure ?? new Error("no key kept");
}

/** Whether the current key of a receiving device is older than the policy's rotation age (a
 * device from before signing keys cannot sign a rotation; the log grows by one entry each). */
export function rotationDue(device, me, now = Date.now()) {
  const days = me.policy?.key_rotation_days ?? 7;
  return Boolean(device.signingKey && device.sigKey && me.org) &&
    RECEIVING_ROLES.includes(me.person.role) && now - device.keyMadeAt >= days * DAY_MS;
}

/**
 * A new key: made and kept as `nextKey` first (so a lost answer loses nothing), announced with
 * the device's signature, and only then the current key (the old one kept for live envelopes).
 */
export async function rotateKey(me) {
  let device = await loadDevice();
  if (!device.nextKey) {
    device = { ...device, nextKey: await generateDeviceKey() };
    await saveDevice(device);
  }
  const encKey = b64uEncode(device.nextKey.publicKeyRaw);
  const signature = await signRotation(device.signingKey, { device: device.deviceId,
    enc_key: encKey, org: me.org.id, person: me.person.id });
  try {
    await api(`/api/me/devices/${segment(device.deviceId)}/key`, { method: "POST",
      body: { enc_key: encKey, signature } });
  } catch (error) {
    if (!(await serverHas(encKey, error))) {
      if (error.status >= 400 && error.status < 500) await saveDevice(withoutNext(device));
      throw error;
    }
  }
  return promote(device);
}

/** An earlier try's answer was lost: the server took the key then ("key_reused" now). */
async function serverHas(encKey, error) {
  if (error.code !== "key_reused") return false;
  const me = await api("/api/me").catch(() => null);
  return me?.device?.public_key === encKey;
}

function withoutNext(device) {
  const { nextKey, ...rest } = device;
  return rest;
}

/**
 * At the start check (app.js), when /api/me names another key than the current one: whether it
 * is still this device's: an old key (an answer kept from before a rotation) or the next key
 * (the server took it but its answer was lost: it becomes the current key now). Otherwise the
 * key is gone and the device reports it ("sleutel kwijt").
 */
export async function heldBefore(device, publicKey) {
  if (device.nextKey && b64uEncode(device.nextKey.publicKeyRaw) === publicKey) {
    await promote(device);
    return true;
  }
  return Boolean(device.oldKeys?.some((k) => b64uEncode(k.publicKeyRaw) === publicKey));
}

/** The next key becomes the current one; the current one is kept as old, with its time. */
export async function promote(device, now = Date.now()) {
  const old = { privateKey: device.privateKey, publicKeyRaw: device.publicKeyRaw,
    replacedAt: now };
  const promoted = { ...withoutNext(device), privateKey: device.nextKey.privateKey,
    publicKeyRaw: device.nextKey.publicKeyRaw, keyMadeAt: now,
    oldKeys: [old, ...(device.oldKeys ?? [])] };
  await saveDevice(promoted);
  return promoted;
}

/** Whether an old key must still be kept: the server names a live envelope's expiry ahead,
 * and no signal of before its replacement can live this long (whatever the server says). */
function stillNeeded(old, listed, me, now) {
  if (now - old.replacedAt > (me.max_days ?? 7) * DAY_MS + RACE_MS) return false;
  const until = listed.get(b64uEncode(old.publicKeyRaw))?.needed_until;
  return typeof until === "string" && Date.parse(until) > now;
}

/** Destroy the old private keys no live envelope needs (GET /api/me/old-keys). */
export async function destroyUnneeded(me, now = Date.now()) {
  const device = await loadDevice();
  if (!device?.oldKeys?.length) return;
  const { keys } = await api("/api/me/old-keys");
  const listed = new Map(keys.map((k) => [k.enc_key, k]));
  const kept = device.oldKeys.filter((old) => stillNeeded(old, listed, me, now));
  if (kept.length < device.oldKeys.length) await saveDevice({ ...device, oldKeys: kept });
}

/** At start and refresh: old keys destroyed when unneeded, a new key when the current one is
 * a week old. A device from before rotation starts its week now. */
export async function keepKeysFresh(me) {
  const device = await loadDevice();
  if (!device || !me.org) return;
  if (device.keyMadeAt === undefined) await saveDevice({ ...device, keyMadeAt: Date.now() });
  else if (device.nextKey || rotationDue(device, me)) await rotateKey(me);
  await destroyUnneeded(me);
}
