// DOM helpers and Dutch formatting shared by every screen. Text only ever enters the page
// through textContent or text nodes: never innerHTML, so no data can become markup.

const TIME_ZONE = "Europe/Amsterdam";
const MONTHS = ["januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus",
  "september", "oktober", "november", "december"];

// --- elements -------------------------------------------------------------------------------

/** h("p", {class: "x", onclick: fn}, "text", child...). Strings become text nodes. */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") element.className = value;
    else if (key.startsWith("on") && typeof value === "function") {
      element.addEventListener(key.slice(2), value);
    } else if (key === "value") element.value = value;
    else if (value === true && !(key in element)) element.setAttribute(key, ""); // novalidate
    else if (typeof value === "boolean") element[key] = value; // hidden, checked, disabled
    else element.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) element.append(child);
  }
  return element;
}

let uniqueCounter = 0;
export const uniqueId = (prefix) => `${prefix}-${++uniqueCounter}`;

const main = () => document.getElementById("main");

// A message for the next screen, e.g. "a colleague was first" after a refresh.
let flash = null;
export function setFlash(text) {
  flash = text;
}

// Where focus goes on the next screen instead of its heading (a selector), so an action that
// redraws the screen leaves focus on its own result rather than at the top.
let nextFocus = null;
export function focusOnNextScreen(selector) {
  nextFocus = selector;
}

/** Focus `element` if it is still on the page and can take focus, else the screen's heading. */
export function focusAfterAction(element) {
  if (element?.isConnected && !element.closest("[hidden]")) {
    element.focus({ preventScroll: false });
    if (document.activeElement === element) return;
  }
  main().querySelector("h1")?.focus();
}

/**
 * Replace the screen: a heading (focused, so screen readers announce the new screen) and
 * content. The document title follows the heading; never put a child's name in either.
 */
export function screen(title, ...children) {
  const heading = h("h1", { tabindex: "-1" }, title);
  const message = flash && notice("warning", flash);
  flash = null;
  const content = children.flat().filter((c) => c !== null && c !== undefined && c !== false);
  main().replaceChildren(heading, ...(message ? [message] : []), ...content);
  document.title = `${title} · Handle with Care`;
  window.scrollTo({ top: 0, behavior: "instant" }); // a new screen starts at its top
  const target = nextFocus && main().querySelector(nextFocus);
  nextFocus = null;
  if (target) target.focus();
  else heading.focus({ preventScroll: true });
  return main();
}

/** A placeholder while a screen loads; keeps any flash message for the real screen. */
export function loadingScreen(title, text) {
  main().replaceChildren(h("h1", { tabindex: "-1" }, title), h("p", { class: "loading" }, text));
  document.title = `${title} · Handle with Care`;
}

/** Empty the screen (used when content must leave the DOM at once). */
export function clearScreen() {
  main().replaceChildren();
}

let announcements = 0;

/** Say something to screen reader users without moving focus. */
export function announce(text) {
  announcements += 1;
  const live = document.getElementById("live");
  live.textContent = "";
  // A new text node in a later task is announced even when the text repeats.
  setTimeout(() => { live.textContent = text; }, 50);
}

/** Above a list kept from the last time there was a connection (`at`: ms). */
export function offlineNotice(at) {
  return notice("warning", `Geen verbinding — bijgewerkt om ${formatTime(new Date(at))}.`,
    "Een signaal openen of versturen kan pas weer met verbinding.");
}

/** A message block. kind: info | success | warning | error (errors are alerts). */
export function notice(kind, ...content) {
  return h("div", { class: `notice notice-${kind}`, role: kind === "error" ? "alert" : "status" },
    ...content.map((c) => (typeof c === "string" ? h("p", {}, c) : c)));
}

export function button(text, onclick, kind = "secondary", props = {}) {
  return h("button", { type: "button", class: `button button-${kind}`, onclick, ...props }, text);
}

/**
 * Run `task` with the button marked busy; a second tap does nothing. The button is only
 * aria-disabled, never disabled: a disabled button drops keyboard focus to the page body.
 */
export async function whileBusy(buttonElement, task) {
  if (buttonElement.getAttribute("aria-busy") === "true") return undefined;
  buttonElement.setAttribute("aria-busy", "true");
  buttonElement.setAttribute("aria-disabled", "true");
  try {
    return await task();
  } finally {
    buttonElement.removeAttribute("aria-busy");
    buttonElement.removeAttribute("aria-disabled");
  }
}

/** "Vernieuwen": runs `load`, then says so unless the load said more (a new signal); focus
 * stays on the button. */
export function refreshButton(load) {
  const refresh = button("Vernieuwen", () => whileBusy(refresh, async () => {
    const before = announcements;
    await load();
    if (announcements === before) announce("De lijst is bijgewerkt.");
  }), "link");
  return refresh;
}

/**
 * A place where one status or error message at a time is shown. It is a live region from the
 * start (a region added together with its text is not reliably read out); errors are alerts.
 */
export function messageSlot() {
  const slot = h("div", { class: "message-slot", "aria-live": "polite" });
  // Returns the message, which can take focus (after an action that removed what had it).
  slot.show = (kind, ...content) => {
    slot.replaceChildren(notice(kind, ...content));
    slot.firstChild.setAttribute("tabindex", "-1");
    return slot.firstChild;
  };
  // An API error (its phone number a tel: link), focused.
  slot.showError = (error) => {
    slot.show("error", withPhone(error.message, error.body?.phone));
    slot.firstChild.focus();
  };
  slot.clear = () => slot.replaceChildren();
  return slot;
}

/** A paragraph of `text` in which `phone`, where it occurs, is a tel: link. */
export function withPhone(text, phone) {
  const at = phone ? text.indexOf(phone) : -1;
  if (at < 0) return h("p", {}, text);
  return h("p", {}, text.slice(0, at), h("a", { href: `tel:${phone.replace(/[^0-9+]/g, "")}` },
    phone), text.slice(at + phone.length));
}

/** Show (no text: clear) a field's error; its inputs are aria-invalid="true" only then. */
export function setFieldError(error, inputs, text) {
  error.hidden = !text;
  error.textContent = text ?? "";
  for (const input of [inputs].flat()) {
    if (text) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  }
}

/** A link inside the app: navigates without reloading the page. */
export function appLink(text, path, navigate, props = {}) {
  return h("a", { href: path, ...props, onclick: (event) => {
    if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    navigate(path);
  } }, text);
}

/** A titled section of text (the statements): strings become paragraphs. */
export const textSection = (title, ...content) => h("section", { class: "stack" },
  h("h2", {}, title), ...content.map((c) => (typeof c === "string" ? h("p", {}, c) : c)));
/** A bulleted list of texts or elements. */
export const textList = (...items) => h("ul", {}, items.map((item) => h("li", {}, item)));

/** A labelled definition list from [[term, value], ...]. */
export function facts(rows, className = "facts") {
  return h("dl", { class: className }, rows.flatMap(([term, value]) => [h("dt", {}, term),
    h("dd", {}, value)]));
}

// --- questions ------------------------------------------------------------------------------

// views/dialog.js, fetched the first time a question is asked.
export const confirmAction = async (options) => (await import("./dialog.js")).confirmAction(options);

// --- Dutch dates ----------------------------------------------------------------------------

// Made on first use: building Intl formatters costs time a screen without dates can skip.
let momentFormat;
let dayKeyFormat;

function parts(date) {
  momentFormat ??= new Intl.DateTimeFormat("nl-NL", { timeZone: TIME_ZONE, weekday: "long",
    day: "numeric", month: "long", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  return Object.fromEntries(momentFormat.formatToParts(date).map((p) => [p.type, p.value]));
}

function dayKey(date) {
  dayKeyFormat ??= new Intl.DateTimeFormat("en-CA", { timeZone: TIME_ZONE, year: "numeric",
    month: "2-digit", day: "2-digit" });
  return dayKeyFormat.format(date);
}

/** "woensdag 25 november 08:15" (Amsterdam time). */
export function formatMoment(iso) {
  const p = parts(new Date(iso));
  return `${p.weekday} ${p.day} ${p.month} ${p.hour}:${p.minute}`;
}

/** "08:15" (Amsterdam time). */
export function formatTime(iso) {
  const p = parts(new Date(iso));
  return `${p.hour}:${p.minute}`;
}

/** "vandaag 08:15", "morgen 08:15" or "woensdag 25 november 08:15". */
export function formatNear(iso, now = new Date()) {
  const when = new Date(iso);
  const days = Math.round((Date.parse(dayKey(when)) - Date.parse(dayKey(now))) / 864e5);
  if (days === 0) return `vandaag ${formatTime(iso)}`;
  if (days === 1) return `morgen ${formatTime(iso)}`;
  return formatMoment(iso);
}

/** "2016-03-04" -> "4 maart 2016" (a calendar date: no time zone involved). */
export function formatBirthDate(isoDate) {
  const [year, month, day] = isoDate.split("-").map(Number);
  return `${day} ${MONTHS[month - 1]} ${year}`;
}

/** Age in whole years on `today` for a "YYYY-MM-DD" birth date. */
export function ageOn(isoDate, today = new Date()) {
  const [year, month, day] = isoDate.split("-").map(Number);
  let age = today.getFullYear() - year;
  if (today.getMonth() + 1 < month || (today.getMonth() + 1 === month && today.getDate() < day)) {
    age -= 1;
  }
  return age;
}

export const plural = (count, one, many) => `${count} ${count === 1 ? one : many}`;
