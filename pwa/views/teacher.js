// The teacher: pending signals, and one signal opened once — name, birth date and short
// guidance. "Gelezen" deletes it at once; otherwise it goes after the grace period. The
// content is never stored: it lives in this screen's DOM and leaves it with the screen.

import { api, segment } from "../api.js";
import { openSignal } from "../sealing.js";
import {
  appLink, button, clearScreen, confirmAction, formatMoment, formatTime, h, loadingScreen,
  messageSlot, notice, plural, screen, uniqueId, whileBusy,
} from "./common.js";
import { childBlock } from "./child.js";
import { pushReminder } from "./device.js";
import { closeNotifications, liveSection, notePending, receiverPanel } from "./lists.js";

const GUIDANCE = [
  "Zorg voor een rustig plekje als het kind dat nodig heeft.",
  "Een toets of een moeilijke opdracht kan wachten.",
  "Een kort gesprekje mag, als het kind dat wil. Vraag niet door over wat er thuis gebeurde.",
  "Een blik of een knikje dat zegt: ik weet het, ik ben er voor je.",
];

const back = (ctx) => appLink("Terug naar het overzicht", "/", ctx.navigate, { class: "back-link" });

export async function home(ctx) {
  const list = await liveSection(ctx, { title: "Nieuwe signalen", id: uniqueId("signals") },
    (signals) => pendingCards(ctx, signals));
  if (!ctx.active) return;
  screen("Signalen",
    pushReminder(ctx.me),
    list,
    receiverPanel(ctx));
}

function pendingCards(ctx, signals) {
  const pending = signals.filter((s) => s.has_copy);
  notePending(pending.map((s) => s.id));
  const ids = pending.map((s) => s.id);
  closeNotifications((tag) => !ids.includes(tag)); // e.g. opened on the teacher's other phone
  if (!pending.length) return [h("p", { class: "empty" }, "Geen nieuwe signalen.")];
  return [h("ul", { class: "cards" }, pending.map((s) => h("li", { class: "card" },
    h("h3", { class: "card-title" }, "Nieuw signaal"),
    h("p", { class: "muted" }, `Ontvangen: ${formatMoment(s.sent_at)}`),
    h("p", {}, "U kunt het één keer openen. Doe dat vlak voor de les."),
    appLink("Openen", `/signaal/${segment(s.id)}`, ctx.navigate,
      { class: "button button-primary", "aria-label": "Signaal openen" }))))];
}

export async function signal(ctx, id) {
  loadingScreen("Signaal", "Het signaal wordt geopend.");
  let opened;
  try {
    opened = await openSignal(id);
  } catch (error) {
    closeNotifications((tag) => tag === id);
    return ctx.active && removed(ctx, whyRemoved(error));
  }
  if (!ctx.active) return undefined;
  showContent(ctx, id, opened);
  return undefined;
}

/** "Geopend op 'Telefoon' om 07:42." when another of this teacher's devices opened it. */
function whyRemoved(error) {
  if (error.code !== "opened_elsewhere") return error.message;
  return `Geopend op ‘${error.body.opened_on}’ om ${formatTime(error.body.opened_at)}. ` +
    "Daarom is het hier verwijderd. Dat hoort zo: een signaal is maar één keer te openen.";
}

function removed(ctx, message, kind = "info") {
  screen("Signaal verwijderd", notice(kind, message), back(ctx));
}

function showContent(ctx, id, opened) {
  const deleteAt = opened.deleteAt ? new Date(opened.deleteAt * 1000) : null;
  const grace = plural(ctx.me.times.view_grace_minutes, "minuut", "minuten");
  if (deleteAt) {
    // The server deletes the copy then; the screen lets go of it at the same moment.
    const timer = setTimeout(() => {
      clearScreen();
      removed(ctx, `Het signaal is na ${grace} vanzelf verwijderd.`);
    }, Math.max(0, deleteAt - Date.now()));
    ctx.onLeave(() => clearTimeout(timer));
  }
  const slot = messageSlot();
  const read = button("Gelezen", async () => {
    const ok = await confirmAction({ title: "Gelezen?",
      text: "Het signaal wordt nu verwijderd. U kunt het daarna niet meer openen.",
      confirm: "Ja, verwijderen" });
    if (ok) await whileBusy(read, () => markRead(ctx, id, slot));
  }, "primary");
  screen("Signaal",
    childBlock(opened.content),
    h("section", { class: "stack guidance", "aria-labelledby": "guidance-heading" },
      h("h2", { id: "guidance-heading" }, "Wat kunt u vandaag doen?"),
      h("ul", {}, GUIDANCE.map((line) => h("li", {}, line))),
      h("p", {}, "De intern begeleider informeert de ouders. U hoeft niets op te schrijven of " +
        "te bewaren.")),
    h("p", { class: "muted" }, deleteAt
      ? `Dit signaal verdwijnt vanzelf om ${formatTime(deleteAt.toISOString())}, ${grace} na openen.`
      : `Dit signaal verdwijnt vanzelf ${grace} na openen.`),
    slot,
    h("div", { class: "actions" }, read),
    back(ctx));
}

async function markRead(ctx, id, slot) {
  try {
    await api(`/api/signals/${segment(id)}/done`, { method: "POST" });
  } catch (error) {
    slot.show("error", error.message);
    return;
  }
  if (ctx.active) {
    clearScreen();
    removed(ctx, "Dank u. Het signaal is verwijderd.", "success");
  }
}
