// The service worker: an offline app shell, notifications for pushes, and the way back into
// the app from a notification. It never caches /api/ or /admin, nor anything but the app's own
// files listed below: a signal's content can never end up in Cache Storage.
//
// Bump VERSION whenever any file in SHELL or ON_DEMAND changes: the new worker then installs,
// the app offers "Nieuwe versie — herladen", and only on that tap does it take over.

const VERSION = "hwc-shell-v22";
// What every phone needs to start (and to enrol): precached at install.
const SHELL = [
  "/",
  "/linktoken.js",
  "/app.js",
  "/api.js",
  "/envelope.js",
  "/keystore.js",
  "/push.js",
  "/updates.js",
  "/views/common.js",
  "/views/device.js",
  "/views/enrol.js",
  "/style.css",
  "/manifest.webmanifest",
  "/icons/icon-192.png",
];
// Each role's screens (and the accessibility and privacy statements): cached the first time the
// app loads them, so a phone downloads only its own role's. A phone loads its role's screens
// online first (enrolment needs the network); a new version fetches at install those this phone
// has used.
const ON_DEMAND = [
  "/envelope2.js",
  "/envelope3.js",
  "/keylog.js",
  "/keyring.js",
  "/sealing.js",
  "/signer.js",
  "/trust.js",
  "/views/accessibility.js",
  "/views/admin.js",
  "/views/child.js",
  "/views/contact.js",
  "/views/dialog.js",
  "/views/guard.js",
  "/views/homescreen.js",
  "/views/lists.js",
  "/views/machines.js",
  "/views/notkept.js",
  "/views/officer.js",
  "/views/privacy.js",
  "/views/schoolsearch.js",
  "/views/sender.js",
  "/views/teacher.js",
  "/views/teacherlink.js",
  "/views/timeline.js",
  "/views/verdict.js",
];
const NEUTRAL = { title: "Nieuw signaal", body: "Open de app.", navigate: "/", tag: "hwc" };
const NEVER_CACHED = ["/api/", "/admin", "/healthz", "/metrics", "/readyz"];

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const paths = [...SHELL, ...await onDemandUsedBefore()];
    const cache = await caches.open(VERSION);
    // "no-cache" revalidates with the ETag: files the page just loaded are not fetched twice.
    await cache.addAll(paths.map((path) => new Request(path, { cache: "no-cache" })));
  })());
});

/** The ON_DEMAND files an earlier version's cache holds: the screens this phone uses. */
async function onDemandUsedBefore() {
  const used = new Set();
  for (const name of await caches.keys()) {
    if (name === VERSION) continue;
    for (const request of await (await caches.open(name)).keys()) {
      const path = new URL(request.url).pathname;
      if (ON_DEMAND.includes(path)) used.add(path);
    }
  }
  return [...used];
}

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    const names = await caches.keys();
    await Promise.all(names.filter((name) => name !== VERSION).map((name) => caches.delete(name)));
    // Preload off (earlier versions had it on): a failed one breaks Firefox's offline start.
    await self.registration.navigationPreload?.disable();
    await self.clients.claim();
  })());
});

self.addEventListener("message", (event) => {
  if (event.data?.type === "skipWaiting") self.skipWaiting();
});

// --- requests -------------------------------------------------------------------------------

self.addEventListener("fetch", (event) => {
  const { request } = event;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (NEVER_CACHED.some((prefix) => url.pathname.startsWith(prefix))) {
    // Never cached; an admin page offline gets a page of the app's own, not the browser's.
    if (request.mode === "navigate" && url.pathname.startsWith("/admin")) {
      event.respondWith(fromNetwork(event).catch(adminOffline));
    }
    return;
  }
  if (request.mode === "navigate") {
    event.respondWith(networkFirstShell(event));
  } else if (SHELL.includes(url.pathname)) {
    event.respondWith(cacheFirst(request));
  } else if (ON_DEMAND.includes(url.pathname)) {
    event.respondWith(cacheOnFirstUse(event, url.pathname));
  }
});

const fromNetwork = (event) => fetch(event.request);

function adminOffline() {
  return new Response('<!doctype html><html lang="nl"><meta charset="utf-8"><meta name="viewport" ' +
    'content="width=device-width"><title>Geen verbinding</title><link rel="stylesheet" ' +
    'href="/style.css"><main><h1>Geen verbinding</h1><p>Het beheer werkt alleen met verbinding.' +
    '</p><p><a href="/">Naar de app</a></p></main>',
  { status: 503, headers: { "Content-Type": "text/html; charset=utf-8" } });
}

/** Pages: always the network when there is one; offline, the cached shell (the app routes). */
async function networkFirstShell(event) {
  try {
    return await fromNetwork(event);
  } catch (error) {
    const shell = await caches.match("/", { cacheName: VERSION });
    if (shell) return shell;
    throw error;
  }
}

async function cacheFirst(request) {
  const cached = await caches.match(request, { cacheName: VERSION, ignoreSearch: true });
  return cached ?? fetch(request);
}

/** An ON_DEMAND file: from the cache, or from the network and then kept under its path. */
async function cacheOnFirstUse(event, path) {
  const cached = await caches.match(path, { cacheName: VERSION });
  if (cached) return cached;
  const response = await fetch(event.request);
  if (response.ok && response.type === "basic") {
    const copy = response.clone();
    event.waitUntil(caches.open(VERSION).then((cache) => cache.put(path, copy)));
  }
  return response;
}

// --- push -----------------------------------------------------------------------------------

/** The notification to show: the payload's neutral text, or our own when it is unusable. */
function notificationFrom(data) {
  const given = data?.notification;
  const text = (value, fallback) => (typeof value === "string" && value.trim() ? value : fallback);
  return {
    title: text(given?.title, NEUTRAL.title),
    body: text(given?.body, NEUTRAL.body),
    tag: text(given?.tag, NEUTRAL.tag),
    url: sameOriginUrl(given?.navigate),
  };
}

function sameOriginUrl(value) {
  if (typeof value !== "string" || !value) return self.location.origin + "/";
  try {
    const url = new URL(value, self.location.origin);
    return url.origin === self.location.origin ? url.href : self.location.origin + "/";
  } catch {
    return self.location.origin + "/";
  }
}

function readPayload(event) {
  try {
    return event.data ? event.data.json() : null;
  } catch {
    return null;
  }
}

self.addEventListener("push", (event) => {
  const data = readPayload(event);
  const shown = notificationFrom(data);
  // Every push shows a notification: browsers revoke permission for silent ones.
  event.waitUntil((async () => {
    await self.registration.showNotification(shown.title, {
      body: shown.body, tag: shown.tag, renotify: true, data: { url: shown.url },
      icon: "/icons/icon-192.png", badge: "/icons/icon-192.png", lang: "nl",
    });
    const windows = await self.clients.matchAll({ type: "window" });
    for (const client of windows) {
      client.postMessage({ type: "push", kind: data?.kind ?? null, signal_id: data?.signal_id ?? null });
    }
  })());
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = sameOriginUrl(event.notification.data?.url);
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    const open = windows.find((client) => new URL(client.url).origin === self.location.origin);
    if (open) {
      await open.focus().catch(() => {}); // may be refused without a real user gesture
      const navigated = await open.navigate(url).catch(() => null); // only controlled windows
      if (navigated) return navigated;
    }
    return self.clients.openWindow(url);
  })());
});

// --- a subscription the push service replaced -----------------------------------------------

function b64uDecode(text) {
  const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

self.addEventListener("pushsubscriptionchange", (event) => {
  event.waitUntil((async () => {
    const response = await fetch("/api/push/key", { credentials: "include" });
    const { public_key: key } = await response.json();
    const subscription = await self.registration.pushManager.subscribe({ userVisibleOnly: true,
      applicationServerKey: b64uDecode(key) });
    const json = subscription.toJSON();
    await fetch("/api/me/push", {
      method: "PUT",
      credentials: "include",
      headers: { "Content-Type": "application/json", "X-HWC": "1" },
      body: JSON.stringify({ push: { endpoint: json.endpoint, expirationTime: json.expirationTime ?? null,
        keys: { p256dh: json.keys.p256dh, auth: json.keys.auth } } }),
    });
  })());
});
