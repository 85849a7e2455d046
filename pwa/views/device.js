// This device and its notifications, visible on every home screen: a person must know whether
// a new signal will reach them, and how to fix it when it will not.

import { PushError, permissionState, turnOnNotifications } from "../push.js";
import { button, facts, focusOnNextScreen, h, messageSlot, whileBusy } from "./common.js";

/** 'on' | 'off' | 'gone', or what this browser does not allow (see permissionState): what the
 * server and this browser know together. */
export function notificationStatus(me) {
  const local = permissionState();
  if (local !== "on" && local !== "off") return local;
  if (me.device.push === "gone") return "gone";
  return me.device.push === "active" && local === "on" ? "on" : "off";
}

const STATUS_TEXT = {
  on: "Meldingen staan aan.",
  off: "Meldingen staan uit. U ziet nieuwe signalen alleen als u de app opent.",
  gone: "Meldingen werken niet meer op dit apparaat. Zet ze opnieuw aan.",
  denied: "Meldingen zijn geweigerd op dit apparaat. Wilt u ze toch? Sta ze toe in de " +
    "instellingen van uw browser of telefoon, bij deze app.",
  // Never possible here (nothing to turn on): signals still wait in the app.
  ios: "Meldingen kunnen op een iPhone pas als de app op het beginscherm staat: kies in Safari " +
    "Deel en dan Zet op beginscherm. Tot dan ziet u nieuwe signalen als u de app opent.",
  unsupported: "Deze browser kan geen meldingen ontvangen. U ziet nieuwe signalen als u de " +
    "app opent.",
};

/**
 * The notification line with, when off, the button that turns them on.
 * `onUpdated(me)` receives the new /api/me body after a change.
 */
export function notificationControl(me, onUpdated, buttonKind = "primary") {
  const status = notificationStatus(me);
  const slot = messageSlot();
  // A status: read out when it takes focus after "Meldingen aanzetten" redraws the screen.
  const text = h("p", { class: `push-status push-${status}`, role: "status", tabindex: "-1" },
    STATUS_TEXT[status]);
  const children = [text];
  if (status === "off" || status === "gone") {
    const turnOn = button("Meldingen aanzetten", () => whileBusy(turnOn, async () => {
      slot.clear();
      try {
        const updated = await turnOnNotifications();
        focusOnNextScreen(".push-status");
        onUpdated(updated);
      } catch (error) {
        slot.show("error", error instanceof PushError || error.name === "ApiError"
          ? error.message : "Meldingen aanzetten is niet gelukt. Probeer het later opnieuw.");
      }
    }), buttonKind);
    children.push(turnOn);
  }
  return h("div", { class: "push-control" }, ...children, slot);
}

/** The "Dit apparaat" section: who is enrolled here, (by default) notifications, and `extra`
 * (a receiver's quiet hours). */
export function devicePanel(me, onUpdated, { notifications = true, extra = null } = {}) {
  const who = [me.person.name, me.person.role_label].filter(Boolean).join(", ");
  // Focusable, so "Meldingen regelen" (a link to #dit-apparaat) moves focus here.
  return h("section", { class: "device-panel", id: "dit-apparaat", tabindex: "-1",
    "aria-labelledby": "device-heading" },
    h("h2", { id: "device-heading" }, "Dit apparaat"),
    facts([
      ["Aangemeld als", who],
      ...(me.org ? [["Organisatie", me.org.name]] : []),
      ["Apparaat", me.device.label],
    ]),
    // Notifications first: "Meldingen regelen" leads here, and the next Tab must reach them.
    notifications ? notificationControl(me, onUpdated, "secondary") : null, extra,
    // a screen of its own (app.js routes it), reached as a link: it goes somewhere
    h("p", {}, h("a", { href: "/apparaat-toevoegen", class: "button button-secondary" },
      "Apparaat toevoegen")), later(me));
}

function later(me) {
  const slot = h("div");
  import("./guard.js").then((m) => slot.append(m.newKeyControl(me))).catch(() => {});
  return slot;
}

/** At the top of a home screen when notifications are not on: a link down to the panel. */
export function pushReminder(me) {
  const status = notificationStatus(me);
  if (status === "on") return null;
  return h("p", { class: "push-reminder" }, STATUS_TEXT[status].split(".")[0] + ". ",
    h("a", { href: "#dit-apparaat" }, "Meldingen regelen"));
}
