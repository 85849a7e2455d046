// This device's key in IndexedDB: the non-extractable private CryptoKey, its public point and
// the device id; and, to show offline, the last device check and list the server gave, with
// every person's name taken out. Nothing else is ever stored: no signal content, no names.

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

async function withStore(mode, use) {
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

export function saveDevice({ privateKey, publicKeyRaw, deviceId }) {
  return withStore("readwrite", (store) => store.put({ privateKey, publicKeyRaw, deviceId }, KEY));
}

const unnamed = (teacher) => ({ ...teacher, name: "leerkracht" });
// What each kept answer may hold: the same, without people's names.
const WITHOUT_NAMES = {
  "/api/me": (me) => ({ ...me, person: { ...me.person, name: "" } }),
  "/api/signals": (list) => list.map((s) => ({ ...s, acted_by: null,
    teachers: s.teachers?.map(unnamed) })),
};

/** Keep an answer of a path in WITHOUT_NAMES, names taken out, with the time (ms). */
export function keepAnswer(path, value) {
  const kept = { value: WITHOUT_NAMES[path](value), at: Date.now() };
  return withStore("readwrite", (store) => store.put(kept, path)).catch(() => {});
}

/** {value, at} as kept, or undefined. */
export const keptAnswer = (path) => withStore("readonly", (store) => store.get(path))
  .catch(() => undefined);

export const forgetAnswers = () => Promise.all(Object.keys(WITHOUT_NAMES).map((path) =>
  withStore("readwrite", (store) => store.delete(path)).catch(() => {})));
