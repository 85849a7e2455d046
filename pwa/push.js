// Turning notifications on: only ever from a tap. Subscribing can hang or fail (headless
// browsers, some Android builds, iOS outside the home screen), so every wait has a timeout and
// the app keeps working without push: it lists what is pending whenever it opens.

import { b64uDecode } from "./envelope.js";
import { api } from "./api.js";

export const PUSH_TIMEOUT_MS = 8000;

const MESSAGES = {
  denied: "Meldingen zijn niet toegestaan. Zet ze aan in de instellingen van uw telefoon, bij deze app " +
    "of bij de browser.",
  failed: "Meldingen aanzetten is niet gelukt. Probeer het later opnieuw. " +
    "U ziet nieuwe signalen ook als u de app opent.",
};

export class PushError extends Error {}

export function isIos() {
  const ua = navigator.userAgent;
  // iPadOS presents itself as a Mac; a touch screen gives it away.
  return /iPhone|iPad|iPod/.test(ua) || (/Macintosh/.test(ua) && navigator.maxTouchPoints > 1);
}

export const isStandalone = () => navigator.standalone === true ||
  window.matchMedia("(display-mode: standalone)").matches;

export const pushSupported = () => "serviceWorker" in navigator && "PushManager" in window &&
  "Notification" in window;

/** What this browser allows: 'on', 'off', 'denied' (refused), or never here: 'ios' (an iPhone
 * outside the home screen) or 'unsupported' (a browser without push). */
export function permissionState() {
  if (!pushSupported()) return isIos() && !isStandalone() ? "ios" : "unsupported";
  if (Notification.permission === "denied") return "denied";
  return Notification.permission === "granted" ? "on" : "off";
}

function withTimeout(promise, ms) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new PushError(MESSAGES.failed)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** The subscription JSON exactly as the server's model wants it (no other fields). */
export function subscriptionJson(subscription) {
  const json = subscription.toJSON();
  return { endpoint: json.endpoint, expirationTime: json.expirationTime ?? null,
    keys: { p256dh: json.keys.p256dh, auth: json.keys.auth } };
}

function sameKey(subscription, keyBytes) {
  const current = subscription.options?.applicationServerKey;
  if (!current) return true;
  const bytes = new Uint8Array(current);
  return bytes.length === keyBytes.length && bytes.every((b, i) => b === keyBytes[i]);
}

async function subscribe(registration) {
  const { public_key: publicKey } = await api("/api/push/key");
  const key = b64uDecode(publicKey);
  let subscription = await registration.pushManager.getSubscription();
  if (subscription && !sameKey(subscription, key)) {
    await subscription.unsubscribe(); // made for another server key: useless now
    subscription = null;
  }
  return subscription ?? registration.pushManager.subscribe({ userVisibleOnly: true,
    applicationServerKey: key });
}

/** Ask permission, subscribe and tell the server. Resolves to the new /api/me body. */
export async function turnOnNotifications() {
  if (!pushSupported()) throw new PushError(MESSAGES.failed);
  const permission = await Notification.requestPermission();
  if (permission !== "granted") throw new PushError(MESSAGES.denied);
  let subscription;
  try {
    const registration = await withTimeout(navigator.serviceWorker.ready, PUSH_TIMEOUT_MS);
    subscription = await withTimeout(subscribe(registration), PUSH_TIMEOUT_MS);
  } catch (error) {
    if (error?.name === "ApiError") throw error;
    throw new PushError(MESSAGES.failed);
  }
  return api("/api/me/push", { method: "PUT", body: { push: subscriptionJson(subscription) } });
}
