// This device's keys in IndexedDB (non-extractable private CryptoKeys, public halves), its id;
// for offline, the last /api/me and /api/signals without people's names.
// Nothing else is ever stored: no signal content, no names.

const DB_NAME = "hwc-device";
const STORE = "device";
const KEY = "self";

function openDb() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => {
      const db = request.result;
      db.onversionchange = () => db.close(); // never block a deleteDatabase
      resolve(db);
    };
    request.onerror = () => reject(request.error);
    request.onblocked = () => reject(new Error("IndexedDB is blocked"));
  });
}

export async function withStore(mode, use) {
  const db = await openDb();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const request = use(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close(); // short-lived connections: a cleared database is noticed at the next start
  }
}

/** {privateKey, publicKeyRaw: Uint8Array, deviceId} or undefined when none is stored. */
export async function loadDevice() {
  try {
    const device = await withStore("readonly", (store) => store.get(KEY));
    return device?.privateKey && device.publicKeyRaw && device.deviceId ? device : undefined;
  } catch {
    return undefined;
  }
}

export const saveDevice = (device) => withStore("readwrite", (store) => store.put(device, KEY));

const UNNAMED = {
  "/api/me": (me) => ({ ...me, person: { ...me.person, name: "" } }),
  "/api/signals": (list) => list.map((s) => ({ ...s, acted_by: null,
    teachers: s.teachers?.map((t) => ({ ...t, name: "leerkracht" })) })),
};

/** Keep `value` of a path in UNNAMED, names taken out, with the time: {value, at (ms)}. */
export const keepAnswer = (path, value) => withStore("readwrite",
  (store) => store.put({ value: UNNAMED[path](value), at: Date.now() }, path)).catch(() => {});

export const keptAnswer = (path) => withStore("readonly", (s) => s.get(path)).catch(() => {});

export const forgetAnswers = () => Promise.all(Object.keys(UNNAMED).map((path) =>
  withStore("readwrite", (s) => s.delete(path)).catch(() => {})));
