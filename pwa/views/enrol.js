// Enrolment (a link /aanmelden#token): make this device's key, register it, and afterwards offer
// notifications. Also the screen for a device that is not (or no longer) enrolled.

import { api } from "../api.js";
import { b64uEncode, generateDeviceKey, generateSigningKey } from "../envelope.js";
import { saveDevice } from "../keystore.js";
import { isIos, isStandalone } from "../push.js";
import { button, h, messageSlot, notice, screen, uniqueId, whileBusy } from "./common.js";
import { notificationControl, notificationStatus } from "./device.js";

const DEFAULT_LABEL = "Mijn telefoon";
const TOKEN_PATTERN = /^[A-Za-z0-9_.-]{10,300}$/;

// The token of the link being enrolled with, in memory only: never in the URL, so never in the
// browser's history or session files. linktoken.js took it out of the link's fragment before
// anything else ran; a pasted link puts it here directly.
let pendingToken = "";

/** The token to enrol with: the link's (taken over once from linktoken.js), or a pasted one. */
function currentToken() {
  if (self.hwcLinkToken !== undefined) {
    pendingToken = validToken(decoded(self.hwcLinkToken));
    delete self.hwcLinkToken;
  }
  return pendingToken;
}

function decoded(text) {
  try {
    return decodeURIComponent(text); // a mail client may have escaped the link
  } catch {
    return "";
  }
}

function validToken(text) {
  const token = text.trim();
  return TOKEN_PATTERN.test(token) ? token : "";
}

/** A pasted enrolment link (or bare token) -> the token, or "". */
function tokenFromPaste(text) {
  const value = text.trim();
  return validToken(value.includes("#") ? value.slice(value.indexOf("#") + 1) : value);
}

export function render(ctx) {
  const token = currentToken();
  if (!token) return incompleteLink(ctx);
  if (isIos() && !isStandalone()) {
    return import("./homescreen.js").then((m) => m.render(token, () => enrolForm(ctx, token)));
  }
  return enrolForm(ctx, token);
}

function intro() {
  return [
    h("p", {}, "Met deze link meldt u dit apparaat aan voor Handle with Care. " +
      "Daarna ontvangt u hier signalen over kinderen die op school extra aandacht nodig hebben."),
    h("p", {}, "Het apparaat maakt een eigen sleutel. Die sleutel blijft op dit apparaat. " +
      "Alleen dit apparaat kan signalen voor u openen."),
  ];
}

function enrolForm(ctx, token) {
  const labelId = uniqueId("label");
  const hintId = uniqueId("hint");
  const slot = messageSlot();
  const labelInput = h("input", { id: labelId, type: "text", value: DEFAULT_LABEL, maxlength: "60",
    autocomplete: "off", "aria-describedby": hintId });
  const submit = h("button", { type: "submit", class: "button button-primary" },
    "Dit apparaat aanmelden");
  const form = h("form", { class: "form", novalidate: true },
    h("div", { class: "field" }, h("label", { for: labelId }, "Naam van dit apparaat"),
      h("p", { class: "hint", id: hintId }, "Zo herkent de beheerder dit apparaat, bijvoorbeeld " +
        "‘Telefoon werk’."), labelInput),
    submit, slot);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    whileBusy(submit, () => enrolDevice(ctx, token, labelInput.value.trim() || DEFAULT_LABEL, slot));
  });
  screen("Dit apparaat aanmelden", ...intro(), form);
}

async function enrolDevice(ctx, token, label, slot) {
  slot.clear();
  let key;
  let signing;
  try {
    key = await generateDeviceKey();
    signing = await generateSigningKey();
  } catch {
    slot.show("error", "Dit apparaat kan geen sleutel maken. Gebruik een recente browser, " +
      "niet in een privévenster.");
    return;
  }
  let me;
  try {
    me = await api("/api/enrol", { method: "POST", body: { token, label: label.slice(0, 60),
      public_key: b64uEncode(key.publicKeyRaw), sig_key: signing.sigKey, push: null } });
  } catch (error) {
    slot.showError(error);
    return;
  }
  try {
    await api("/api/me"); // "aangemeld" only once the browser really sends its credential
  } catch (error) {
    if (error.status !== 401) return slot.showError(error);
    return (await import("./notkept.js")).render(me, () => enrolForm(ctx, token));
  }
  try {
    await saveDevice({ privateKey: key.privateKey, publicKeyRaw: key.publicKeyRaw,
      deviceId: me.device.id, signingKey: signing.privateKey, sigKey: signing.sigKey });
  } catch {
    slot.show("error", "De sleutel kon niet op dit apparaat worden bewaard. Gebruik geen " +
      "privévenster en vraag een nieuwe aanmeldlink.");
    return;
  }
  navigator.storage?.persist?.().catch(() => {}); // ask the browser not to evict the key
  pendingToken = "";
  history.replaceState(null, "", "/");
  ctx.setMe(me);
  if (me.pending) return ctx.refresh(); // views/guard.js: the code, waiting for approval
  enrolled(ctx, me);
}

/** After enrolment: confirm, and offer notifications (asked only on this tap). */
function enrolled(ctx, me) {
  const role = me.person.role_label;
  const next = button("Verder naar de app", () => ctx.navigate("/", { replace: true }),
    notificationStatus(me) === "on" ? "primary" : "secondary");
  const control = notificationControl(me, (updated) => {
    ctx.setMe(updated);
    enrolled(ctx, updated);
  });
  screen("Dit apparaat is aangemeld",
    notice("success", `U bent aangemeld als ${me.person.name} (${role})` +
      `${me.org ? `, ${me.org.name}` : ""}.`),
    h("section", { class: "stack", "aria-labelledby": "push-heading" },
      h("h2", { id: "push-heading" }, "Meldingen"),
      h("p", {}, "Met meldingen hoort u het meteen als er een signaal is. De melding noemt " +
        "nooit een naam."),
      control),
    next);
}

/** The link-paste form: for a link that lost its token, and in a freshly installed app. */
export function pasteLinkForm(ctx) {
  const id = uniqueId("link");
  const input = h("input", { id, type: "text", autocomplete: "off", spellcheck: "false",
    inputmode: "url" });
  const slot = messageSlot();
  const form = h("form", { class: "form", novalidate: true },
    h("div", { class: "field" }, h("label", { for: id }, "Aanmeldlink"), input),
    h("button", { type: "submit", class: "button button-secondary" }, "Aanmelden met deze link"),
    slot);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const token = tokenFromPaste(input.value);
    if (!token) {
      slot.show("error", "Dit is geen aanmeldlink. Plak de hele link uit het bericht.");
      return;
    }
    pendingToken = token;
    ctx.navigate("/aanmelden");
  });
  return h("section", { class: "stack", "aria-labelledby": "paste-heading" },
    h("h2", { id: "paste-heading" }, "Heeft u een nieuwe aanmeldlink?"),
    h("p", {}, "Open de link op dit apparaat, of plak hem hier."), form);
}

function incompleteLink(ctx) {
  screen("Aanmeldlink niet compleet",
    notice("error", "Deze aanmeldlink is niet compleet. Open de link opnieuw vanuit het bericht, " +
      "of vraag uw beheerder of intern begeleider om een nieuwe link."),
    pasteLinkForm(ctx));
}

/** The startup check failed: no key here, a different key, or the device was revoked. */
export function notEnrolled(ctx) {
  const why = notice("warning", "Dit apparaat is niet (meer) aangemeld. Vraag uw beheerder of " +
    "intern begeleider om een nieuwe aanmeldlink.");
  screen("Niet aangemeld", why, pasteLinkForm(ctx));
  // Switched off by a reset or a sibling: the public key log says so (views/guard.js).
  import("./guard.js").then((g) => g.whyStopped()).then((text) => text &&
    why.replaceChildren(h("p", {}, text))).catch(() => {});
}
