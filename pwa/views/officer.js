// The leerplicht officer: signals addressed to the office are opened here, the child's school is
// found, and one tap relays the signal to that school's contacts (the office's copies go). Or:
// "Geen leerling in onze gemeente". Officers can also send signals themselves (/nieuw).

import { api, segment } from "../api.js";
import { openSignal, postSealed } from "../sealing.js";
import {
  appLink, button, confirmAction, formatMoment, formatNear, h, loadingScreen, messageSlot, notice,
  screen, setFlash, uniqueId, whileBusy,
} from "./common.js";
import { childBlock, fromLines } from "./child.js";
import { pushReminder } from "./device.js";
import { findSignal, liveSection, notePending, receiverPanel } from "./lists.js";
import { describeOrg, schoolSearch } from "./schoolsearch.js";
import { CLOSE_REASONS, STATE_LABELS } from "./timeline.js";

const AT_OFFICE = new Set(["sent", "opened"]);
const back = (ctx) => appLink("Terug naar het overzicht", "/", ctx.navigate, { class: "back-link" });
const held = (s) => !s.sent_by_us && s.holder_kind === "leerplicht" && AT_OFFICE.has(s.state);

/** "/nieuw", the senders' form: its module loads the first time an officer opens it. */
export async function send() {
  const sender = await import("./sender.js");
  return (ctx) => sender.render(ctx, { officer: true });
}

export async function home(ctx) {
  const list = await liveSection(ctx, { title: "Signalen", id: uniqueId("signals") },
    (signals) => buildLists(ctx, signals));
  if (!ctx.active) return;
  screen("Signalen voor leerplicht",
    pushReminder(ctx.me),
    list,
    h("section", { class: "stack", "aria-labelledby": "send-heading" },
      h("h2", { id: "send-heading" }, "Zelf een signaal versturen"),
      appLink("Nieuw signaal versturen", "/nieuw", ctx.navigate, { class: "button button-secondary" })),
    receiverPanel(ctx));
}

function buildLists(ctx, signals) {
  const pending = signals.filter(held);
  const passedOn = signals.filter((s) => !s.sent_by_us && !held(s)).slice(0, 20);
  notePending(pending.map((s) => s.id));
  return [
    pending.length ? h("ul", { class: "cards" }, pending.map((s) => h("li", { class: "card" },
      h("h3", { class: "card-title" }, "Nieuw signaal ", h("span", { class: "ref" }, s.ref)),
      h("p", { class: "deadline" }, `De school moet het weten vóór ${formatNear(s.deadline)}`),
      h("p", { class: "muted" }, `Ontvangen: ${formatMoment(s.sent_at)}`),
      s.has_copy ? appLink("Openen", `/signaal/${segment(s.id)}`, ctx.navigate,
        { class: "button button-primary", "aria-label": `Signaal ${s.ref} openen` })
        : h("p", { class: "muted" }, "Niet te openen op dit apparaat."))))
      : h("p", { class: "empty" }, "Geen nieuwe signalen."),
    passedOn.length ? h("h3", {}, "Afgehandeld door leerplicht") : null,
    passedOn.length ? h("ul", { class: "cards cards-quiet" }, passedOn.map(statusCard)) : null,
  ];
}

function statusLine(s) {
  if (s.state === "closed" && s.holder_kind === "leerplicht") {
    return `Gesloten: ${CLOSE_REASONS[s.close_reason] ?? ""}`;
  }
  return `Doorgestuurd naar ${s.school ?? "school"}${s.acted_by ? ` door ${s.acted_by}` : ""}. ` +
    `Nu: ${(STATE_LABELS[s.state] ?? s.state).toLowerCase()}.`;
}

function statusCard(s) {
  return h("li", { class: "card" }, h("span", { class: "ref" }, s.ref), " ", statusLine(s));
}

// --- one signal -----------------------------------------------------------------------------

export async function signal(ctx, id) {
  loadingScreen("Signaal", "Het signaal wordt geopend.");
  let summary;
  try {
    summary = await findSignal(id);
  } catch (error) {
    return ctx.active && screen("Signaal", notice("error", error.message), back(ctx));
  }
  if (!ctx.active) return undefined;
  if (!summary) return screen("Signaal", notice("info", "Dit signaal is er niet (meer)."), back(ctx));
  if (!held(summary) || !summary.has_copy) {
    return screen("Signaal", notice("info", `Signaal ${summary.ref}: ${statusLine(summary)}`), back(ctx));
  }
  let opened;
  try {
    opened = await openSignal(id);
  } catch (error) {
    return ctx.active && screen("Signaal", notice("info", error.message), back(ctx));
  }
  if (!ctx.active) return undefined;
  if (!opened.content) { // not verified: never the signal
    return (await import("./verdict.js")).unverifiableScreen(ctx, id, opened, back(ctx), "close");
  }
  relayScreen(ctx, summary, opened);
  return undefined;
}

function relayScreen(ctx, summary, opened) {
  const { content } = opened;
  const slot = messageSlot();
  const search = schoolSearch({ kind: "school" });
  const relay = button("Doorsturen naar school",
    () => whileBusy(relay, () => relayTo(ctx, summary, opened, search, slot)), "primary");
  const close = button("Geen leerling in onze gemeente", async () => {
    const ok = await confirmAction({ title: "Geen leerling in uw gemeente?",
      text: "De melder ziet dat het signaal niet bij uw gemeente hoort. Het signaal wordt " +
        "overal verwijderd.", confirm: "Ja, geen leerling van ons" });
    if (ok) await whileBusy(close, () => closeSignal(ctx, summary, slot));
  });
  screen("Signaal voor leerplicht",
    childBlock(content),
    fromLines(opened),
    h("p", { class: "deadline" }, `De school moet het weten vóór ${formatNear(summary.deadline)}.`),
    h("p", {}, "Zoek de school van dit kind en stuur het signaal door. Daarna wordt uw kopie " +
      "verwijderd."),
    search.element,
    slot,
    h("div", { class: "actions" }, relay, close),
    back(ctx));
}

async function relayTo(ctx, summary, opened, search, slot) {
  slot.clear();
  const school = search.selected();
  if (!school) {
    search.showError("Kies eerst een school uit de lijst.");
    return search.input.focus();
  }
  let recipients;
  try {
    recipients = await api(`/api/schools/${segment(school.id)}/recipients`);
  } catch (error) {
    return slot.showError(error);
  }
  const ok = await confirmAction({ title: `Doorsturen naar ${school.name}?`,
    text: [`School: ${describeOrg(school)}.`, `De school moet reageren vóór ${formatMoment(recipients.deadline)}.`,
      ...(recipients.holiday_warning ? [recipients.holiday_warning] : [])],
    confirm: "Ja, doorsturen" });
  if (!ok) return undefined;
  try {
    await postSealed(`/api/signals/${segment(summary.id)}/relay`, { org: school.id },
      recipients.devices, summary.id, opened.content,
      (envelopes) => ({ school_id: school.id, envelopes }), opened.from);
  } catch (error) {
    return failed(ctx, error, slot);
  }
  return ctx.active && screen("Doorgestuurd naar school",
    notice("success", `Het signaal is doorgestuurd naar ${describeOrg(school)}. Uw kopie is verwijderd.`),
    back(ctx));
}

async function closeSignal(ctx, summary, slot) {
  try {
    await api(`/api/signals/${segment(summary.id)}/close`, { method: "POST",
      body: { reason: "not_in_municipality" } });
  } catch (error) {
    return failed(ctx, error, slot);
  }
  return ctx.active && screen("Signaal gesloten",
    notice("success", "Gesloten: geen leerling in uw gemeente. De melder ziet dit."), back(ctx));
}

function failed(ctx, error, slot) {
  if (error.status === 409 && error.code !== "no_recipients") {
    setFlash(error.message);
    return ctx.refresh();
  }
  return slot.showError(error);
}
