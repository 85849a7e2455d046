// This device's ECDH keys over time (issue 20 item 4; docs/envelope.md, "Which key"): a new key
// each week (or at once, "Nieuwe sleutel maken"), announced in the organisation's key log under
// the device's own signature; the old private keys kept only while the server says a live
// envelope may need them, and never longer than a signal can live. A key copied from this
// phone afterwards opens nothing sent before the rotation. Loaded lazily (start check, open).

import { api, segment } from "./api.js";
import { b64uEncode, generateDeviceKey } from "./envelope.js";
import { signRotation } from "./keylog.js";
import { loadDevice, withStore } from "./keystore.js";

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

/** Change this device's record in one IndexedDB transaction (read and write together), so a
 * rotation and a destruction at once cannot undo each other. Record key: keystore.js's. */
const updateDevice = (change) => withStore("readwrite", (store) => {
  const read = store.get("self");
  read.onsuccess = () => read.result && store.put(change(read.result), "self");
  return read;
});

let rotating = null; // one rotation at a time (the weekly one and the button)

/**
 * A new key: made and kept as `nextKey` first (so a lost answer loses nothing), announced with
 * the device's signature, and only then the current key (the old one kept for live envelopes).
 */
export function rotateKey(me) {
  rotating ??= rotateOnce(me).finally(() => {
    rotating = null;
  });
  return rotating;
}

async function rotateOnce(me) {
  const device = await loadDevice();
  const next = device.nextKey ?? await generateDeviceKey();
  if (!device.nextKey) await updateDevice((d) => ({ ...d, nextKey: next }));
  const encKey = b64uEncode(next.publicKeyRaw);
  const signature = await signRotation(device.signingKey, { device: device.deviceId,
    enc_key: encKey, org: me.org.id, person: me.person.id });
  try {
    await api(`/api/me/devices/${segment(device.deviceId)}/key`, { method: "POST",
      body: { enc_key: encKey, signature } });
  } catch (error) {
    if (!(await serverHas(encKey, error))) {
      if (error.status >= 400 && error.status < 500) await updateDevice(withoutNext);
      throw error;
    }
  }
  await promote(next);
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
 * At the start check (app.js), when /api/me (`me`) names another key than the current one:
 * whether it is still this device's: an old key (an answer kept from before a rotation) or the
 * next key (the server took it but its answer was lost: it becomes the current key now).
 * Otherwise the key is gone and the device reports it ("sleutel kwijt").
 */
export async function heldBefore(device, me) {
  const publicKey = me.device.public_key;
  if (device.nextKey && b64uEncode(device.nextKey.publicKeyRaw) === publicKey) {
    await promote(device.nextKey);
    return true;
  }
  return Boolean(device.oldKeys?.some((k) => b64uEncode(k.publicKeyRaw) === publicKey));
}

/** The announced key pair `next` becomes the current one; the current one is kept as old,
 * with the time it was replaced. */
export async function promote(next, now = Date.now()) {
  await updateDevice((d) => {
    if (b64uEncode(d.publicKeyRaw) === b64uEncode(next.publicKeyRaw)) return withoutNext(d);
    const old = { privateKey: d.privateKey, publicKeyRaw: d.publicKeyRaw, replacedAt: now };
    return { ...withoutNext(d), privateKey: next.privateKey, publicKeyRaw: next.publicKeyRaw,
      keyMadeAt: now, oldKeys: [old, ...(d.oldKeys ?? [])] };
  });
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
  const gone = new Set(device.oldKeys.filter((old) => !stillNeeded(old, listed, me, now))
    .map((old) => b64uEncode(old.publicKeyRaw)));
  if (gone.size) {
    await updateDevice((d) => ({ ...d,
      oldKeys: (d.oldKeys ?? []).filter((old) => !gone.has(b64uEncode(old.publicKeyRaw))) }));
  }
}

/** At start and refresh: old keys destroyed when unneeded, a new key when the current one is
 * a week old. A device from before rotation starts its week now. */
export async function keepKeysFresh(me) {
  const device = await loadDevice();
  if (!device || !me.org) return;
  if (device.keyMadeAt === undefined) {
    await updateDevice((d) => ({ ...d, keyMadeAt: d.keyMadeAt ?? Date.now() }));
  } else if (device.nextKey || rotationDue(device, me)) {
    await rotateKey(me);
  }
  await destroyUnneeded(me);
}
