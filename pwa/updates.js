// The page's side of the service worker: register it, offer a waiting new version
// ("Nieuwe versie — herladen"; the worker only takes over when asked), and turn its messages
// (a push arrived) into a refresh of what is on screen.

import { button, h } from "./views/common.js";

let reloadRequested = false;

function offerUpdate(worker) {
  const bar = document.getElementById("update");
  const reload = button("Nieuwe versie — herladen", () => {
    reloadRequested = true;
    reload.disabled = true;
    worker.postMessage({ type: "skipWaiting" });
  }, "primary");
  bar.replaceChildren(h("p", {}, "Er is een nieuwe versie van de app."), reload);
  bar.hidden = false;
}

function watchInstalling(registration) {
  const worker = registration.installing;
  worker?.addEventListener("statechange", () => {
    // With no controller this is the very first install: nothing to replace.
    if (worker.state === "installed" && navigator.serviceWorker.controller) offerUpdate(worker);
  });
}

/** Register /sw.js; `onPush(data)` runs when the worker reports a push. */
export async function startServiceWorker(onPush) {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.addEventListener("controllerchange", () => {
    if (reloadRequested) window.location.reload();
  });
  navigator.serviceWorker.addEventListener("message", (event) => {
    if (event.data?.type === "push") onPush(event.data);
  });
  try {
    const registration = await navigator.serviceWorker.register("/sw.js", { scope: "/",
      updateViaCache: "none" });
    if (registration.waiting && navigator.serviceWorker.controller) offerUpdate(registration.waiting);
    registration.addEventListener("updatefound", () => watchInstalling(registration));
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") registration.update().catch(() => {});
    });
  } catch {
    // Without a worker the app still works online; only offline start and push are lost.
  }
}
