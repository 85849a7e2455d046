// The app: the startup device check, a small router on location.pathname, and refresh events.
//
// Routes: /aanmelden#token (enrol), /toegankelijkheid and /privacy (for anyone), and for an
// enrolled device / (the role's home), /signaal/{id} (one signal; where a notification leads)
// and /nieuw (officers: send).

import { api, apiOrKept, isOffline, offlineError } from "./api.js";
import { b64uEncode } from "./envelope.js";
import { forgetAnswers, keepAnswer, loadDevice } from "./keystore.js";
import { startServiceWorker } from "./updates.js";
import { button, clearScreen, loadingScreen, notice, screen } from "./views/common.js";
import * as enrol from "./views/enrol.js";

const REFRESH_EVERY_MS = 60_000;
const RECHECK_AFTER_MS = 5 * 60_000;
const SIGNAL_PATH = /^\/signaal\/([A-Za-z0-9_-]{1,64})$/;
const APP_PATH =
  /^\/(|aanmelden|nieuw|apparaat-toevoegen|toegankelijkheid|privacy|signaal\/[A-Za-z0-9_-]{1,64})$/;

// Each role's screens load on demand, so a phone fetches and runs only what its person uses.
// What an entry imports is that role's first visit (bench/weight.py reads this table); a later
// screen's module (the officers' send form) loads when it first opens.
const ROLE_VIEWS = {
  admin: async () => {
    const admin = await import("./views/admin.js");
    return { home: admin.home };
  },
  sender: async () => {
    const sender = await import("./views/sender.js");
    return {
      home: (ctx) => sender.render(ctx),
      signal: (ctx, id) => sender.render(ctx, { focusId: id }),
    };
  },
  contact: () => import("./views/contact.js"),
  teacher: () => import("./views/teacher.js"),
  officer: () => import("./views/officer.js"),
};

// Pages anyone may read, enrolled or not.
const STATEMENTS = {
  "/toegankelijkheid": () => import("./views/accessibility.js"),
  "/privacy": () => import("./views/privacy.js"),
};

let me = null; // the checked GET /api/me body, for this page's lifetime
let current = null; // the context of the screen on display
let lastCheck = 0;

// --- screen contexts ------------------------------------------------------------------------

/** What a view gets: whether it is still on screen, hooks for leaving and refreshing, me. */
function newContext() {
  const ctx = {
    active: true,
    me,
    leave: [],
    onLeave: (fn) => ctx.leave.push(fn),
    onRefresh: (fn) => {
      window.addEventListener("hwc:refresh", fn);
      ctx.leave.push(() => window.removeEventListener("hwc:refresh", fn));
    },
    navigate,
    refresh: () => route(),
    setMe: (next) => {
      me = next;
      ctx.me = next;
      keepAnswer("/api/me", next);
    },
  };
  return ctx;
}

function leaveCurrent() {
  if (!current) return;
  current.active = false;
  for (const fn of current.leave.splice(0)) fn();
}

export function navigate(path, { replace = false } = {}) {
  history[replace ? "replaceState" : "pushState"](null, "", path);
  route();
}

// --- the startup check ----------------------------------------------------------------------

/** 'ok', 'not_enrolled', or an ApiError when the server could not be asked. Offline, the
 * last answer kept on this device will do: the home screens show what they had. */
async function checkDevice() {
  const device = await loadDevice();
  try {
    const { value: body, at } = await apiOrKept("/api/me");
    const sameKey = device && body.device.id === device.deviceId && (body.pending ||
      body.device.public_key === b64uEncode(device.publicKeyRaw) ||
      await import("./keyring.js").then((k) => k.heldBefore(device, body)));
    if (!sameKey) {
      // The server knows this device but its key is gone (storage wiped): it can never open a
      // signal again, so it is revoked and the admin sees why ("sleutel kwijt").
      await api("/api/me/key-lost", { method: "POST" }).catch(() => {});
      await forgetAnswers();
      return "not_enrolled";
    }
    me = body;
    lastCheck = at === null ? Date.now() : 0; // offline: ask again when back in view
    return "ok";
  } catch (error) {
    if (!device || error.status === 401 || error.status === 403) {
      await forgetAnswers();
      return "not_enrolled";
    }
    return error;
  }
}

function problemScreen(error) {
  screen(isOffline(error) ? "Geen verbinding" : "Er ging iets mis",
    notice("error", error.message),
    button("Opnieuw proberen", () => route(), "primary"));
}

// --- routing --------------------------------------------------------------------------------

/** What `load` gives (a screen's modules), or null: offline and never loaded on this phone,
 * the offline notice. */
async function loading(ctx, load) {
  try {
    const loaded = await load();
    return ctx.active ? loaded : null;
  } catch {
    if (ctx.active) problemScreen(offlineError());
    return null;
  }
}

async function route() {
  leaveCurrent();
  // The screen left takes its content with it at once; the next may wait for the network.
  if (current) loadingScreen("Handle with Care", "Even geduld, de app wordt geladen.");
  const ctx = newContext();
  current = ctx;
  const path = location.pathname;
  if (path === "/aanmelden") return enrol.render(ctx);
  const statement = STATEMENTS[path];
  if (statement) return (await loading(ctx, statement))?.render(ctx);
  if (!me) {
    loadingScreen("Handle with Care", "Even controleren of dit apparaat is aangemeld.");
    const result = await checkDevice();
    if (!ctx.active) return undefined;
    if (result === "not_enrolled") return enrol.notEnrolled(ctx);
    if (result !== "ok") return problemScreen(result);
    ctx.me = me;
  }
  // Waiting for approval, or (after this screen) the key log's checks.
  const guard = import("./views/guard.js").catch(() => null);
  if (me.pending) return (await guard)?.pending(ctx);
  // A screen of its own, so the home screen's refreshes cannot draw over the link.
  if (path === "/apparaat-toevoegen") return (await guard)?.addDevice(ctx);
  guard.then((g) => g?.watch(ctx));
  const load = ROLE_VIEWS[me.person.role];
  if (!load) return enrol.notEnrolled(ctx);
  const views = await loading(ctx, load);
  if (!views) return undefined;
  const signal = path.match(SIGNAL_PATH);
  if (signal && views.signal) return views.signal(ctx, signal[1]);
  if (path === "/nieuw" && views.send) return (await loading(ctx, views.send))?.(ctx);
  if (path !== "/") history.replaceState(null, "", "/");
  return views.home(ctx);
}

/** Back in view after a while: check the device again, then refresh what is shown. */
async function recheck() {
  if (!me || Date.now() - lastCheck < RECHECK_AFTER_MS) {
    window.dispatchEvent(new Event("hwc:refresh"));
    return;
  }
  const result = await checkDevice();
  if (result === "not_enrolled") {
    me = null;
    route();
  } else {
    window.dispatchEvent(new Event("hwc:refresh"));
  }
}

function interceptAppLinks(event) {
  const link = event.target.closest?.("a[href]");
  if (!link || event.defaultPrevented || event.button !== 0 || event.ctrlKey || event.metaKey ||
    event.shiftKey || link.target) return;
  const url = new URL(link.href);
  if (url.origin !== location.origin || !APP_PATH.test(url.pathname)) return;
  if (url.pathname === location.pathname && focusInPage(url.hash)) {
    event.preventDefault();
    return;
  }
  event.preventDefault();
  navigate(url.pathname + url.hash);
}

/** A link to a part of this screen (the skip link, "Meldingen regelen"): focus that part. The
 * browser's own fragment navigation would fire popstate, and the screen would be drawn anew. */
function focusInPage(hash) {
  const target = hash && document.getElementById(decodeURIComponent(hash.slice(1)));
  target?.focus();
  return Boolean(target);
}

function start() {
  window.addEventListener("popstate", () => route());
  document.addEventListener("click", interceptAppLinks);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") recheck();
  });
  // Leaving the page (or the back-forward cache keeping it): content leaves the DOM first.
  window.addEventListener("pagehide", () => {
    leaveCurrent();
    clearScreen();
  });
  window.addEventListener("pageshow", (event) => {
    if (event.persisted) route();
  });
  setInterval(() => {
    if (document.visibilityState === "visible") window.dispatchEvent(new Event("hwc:refresh"));
  }, REFRESH_EVERY_MS);
  startServiceWorker(() => window.dispatchEvent(new Event("hwc:refresh")));
  route();
}

// Not on a page linktoken.js is replacing with a token-free one.
if (!self.hwcLeaving) start();
