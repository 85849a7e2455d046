// The teacher: pending signals, and one signal opened once — name, birth date and short
// guidance. "Gelezen" deletes it at once; otherwise it goes after the grace period. The
// content is never stored: it lives in this screen's DOM and leaves it with the screen.

import { api, segment } from "../api.js";
import { openSignal } from "../sealing.js";
import {
  appLink, button, clearScreen, confirmAction, formatMoment, formatTime, h, loadingScreen,
  messageSlot, notice, plural, screen, uniqueId, whileBusy,
} from "./common.js";
import { childBlock, fromLines } from "./child.js";
import { pushReminder } from "./device.js";
import { closeNotifications, liveSection, notePending, receiverPanel } from "./lists.js";

const GUIDANCE = [
  "Zorg voor een rustig plekje als het kind dat nodig heeft.",
  "Een toets of een moeilijke opdracht kan wachten.",
  "Een kort gesprekje mag, als het kind dat wil. Vraag niet door over wat er thuis gebeurde.",
  "Een blik of een knikje dat zegt: ik weet het, ik ben er voor je.",
];

// The time limit (WCAG 2.2.1): warned this long before the end, the person can keep the copy on
// screen a little longer, as often as WCAG asks (ten times: me.policy). Only this screen keeps
// it: the server deletes its copy at the planned time.
const WARN_BEFORE_MS = 60_000;

const graceText = (me) => plural(me.view_grace_minutes, "minuut", "minuten");

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
    h("p", {}, `Na het openen staat het ${graceText(ctx.me)} op uw scherm en verdwijnt het ` +
      "daarna vanzelf. Vlak voor het einde krijgt u een waarschuwing en kunt u het langer laten staan."),
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
  if (!opened.content) { // not verified: never the signal
    return (await import("./verdict.js")).unverifiableScreen(ctx, id, opened, back(ctx), "remove");
  }
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
  const slot = messageSlot();
  const limitSlot = messageSlot();
  limitSlot.classList.add("time-limit"); // stays in view at the bottom while the reader scrolls
  const limitLine = h("p", { class: "muted" }, `Dit signaal verdwijnt vanzelf ${graceText(ctx.me)} ` +
    "na het eerste openen.");
  if (opened.deleteAt) timeLimit(ctx, opened.deleteAt * 1000, limitSlot, limitLine);
  const read = button("Gelezen", async () => {
    const ok = await confirmAction({ title: "Gelezen?",
      text: "Het signaal wordt nu verwijderd. U kunt het daarna niet meer openen.",
      confirm: "Ja, verwijderen" });
    if (ok) await whileBusy(read, () => markRead(ctx, id, slot));
  }, "primary");
  screen("Signaal",
    childBlock(opened.content),
    fromLines(opened),
    h("section", { class: "stack guidance", "aria-labelledby": "guidance-heading" },
      h("h2", { id: "guidance-heading" }, "Wat kunt u vandaag doen?"),
      h("ul", {}, GUIDANCE.map((line) => h("li", {}, line))),
      h("p", {}, "De intern begeleider informeert de ouders. U hoeft niets op te schrijven of " +
        "te bewaren.")),
    limitLine,
    limitSlot,
    slot,
    h("div", { class: "actions" }, read),
    back(ctx));
}

/**
 * The copy leaves the screen at `endsAt` (ms). A minute before, a warning is shown and read out
 * (an alert; focus stays where the reader is) with a button to keep it longer. Only when the
 * time is up does the screen change, after that warning.
 */
function timeLimit(ctx, endsAt, slot, line) {
  const { policy } = ctx.me;
  let end = endsAt;
  let extensions = 0;
  let timers = [];
  const stop = () => timers.forEach(clearTimeout);
  const at = () => formatTime(new Date(end).toISOString());
  const describe = () => {
    line.textContent = `Dit signaal verdwijnt vanzelf om ${at()} van uw scherm. U krijgt een ` +
      "minuut van tevoren een waarschuwing.";
  };
  const extend = () => {
    extensions += 1;
    end = Math.max(end, Date.now()) + policy.view_extend_minutes * 60_000;
    schedule();
    slot.show("info", `Het signaal blijft tot ${at()} op uw scherm. Alleen op dit scherm: ` +
      `opnieuw openen kan na ${formatTime(new Date(endsAt).toISOString())} niet meer.`).focus();
  };
  const warn = () => {
    const more = extensions < policy.view_max_extensions
      ? button(`Nog ${policy.view_extend_minutes} minuten laten staan`, extend, "secondary") : null;
    const warning = slot.show("warning", `Over een minuut, om ${at()}, verdwijnt het signaal ` +
      "van uw scherm.", more);
    warning.setAttribute("role", "alert");
  };
  const expire = () => {
    clearScreen();
    removed(ctx, `Het signaal is om ${at()} vanzelf van uw scherm verwijderd.`);
  };
  function schedule() {
    stop();
    const left = end - Date.now();
    timers = [setTimeout(warn, Math.max(0, left - WARN_BEFORE_MS)), setTimeout(expire, Math.max(0, left))];
    describe();
  }
  ctx.onLeave(stop);
  schedule();
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
