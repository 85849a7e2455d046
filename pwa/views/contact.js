// The school's contact (intern begeleider): pending signals, and per signal one of three
// actions — forward to the teacher(s), tell the teacher in person, or not our pupil — then
// "Afronden" once the teacher knows and the parents are informed.

import { api, segment } from "../api.js";
import { openSignal, postSealed } from "../sealing.js";
import {
  appLink, button, confirmAction, formatMoment, formatNear, h, loadingScreen, messageSlot, notice,
  plural, screen, setFlash, uniqueId, whileBusy, withPhone,
} from "./common.js";
import { childBlock } from "./child.js";
import { devicePanel, pushReminder } from "./device.js";
import { findSignal, liveSection, notePending } from "./lists.js";
import { CLOSE_REASONS, STATE_LABELS, isFinished } from "./timeline.js";

const UNHANDLED = new Set(["sent", "opened", "relayed"]);
const CLOSE_TEXT = {
  told_in_person: {
    title: "Vertelt u het de leerkracht zelf?",
    text: ["Vertel het de leerkracht vóór de les. Het signaal wordt daarna gesloten en overal " +
      "verwijderd."],
    confirm: "Ja, ik vertel het zelf",
    done: "Gesloten. Vertel het de leerkracht vóór de les.",
  },
  not_our_pupil: {
    title: "Is dit geen leerling van uw school?",
    text: ["De verzender ziet dat het signaal niet bij u hoort en kan de goede school zoeken. " +
      "Het signaal wordt overal verwijderd."],
    confirm: "Ja, geen leerling van ons",
    done: "Gesloten: geen leerling van uw school. De verzender ziet dit.",
  },
  done: {
    title: "Afronden?",
    text: ["Afronden betekent: de leerkracht weet het en de ouders zijn geïnformeerd.",
      "Het signaal wordt daarna overal verwijderd, ook op dit apparaat."],
    confirm: "Ja, afronden",
    done: "Afgerond. Het signaal is overal verwijderd.",
  },
};

const back = (ctx) => appLink("Terug naar het overzicht", "/", ctx.navigate, { class: "back-link" });
const teacherText = (t) => (t.class_label ? `${t.name} (${t.class_label})` : t.name);

// --- home -----------------------------------------------------------------------------------

export async function home(ctx) {
  const list = await liveSection(ctx, { title: "Signalen", id: uniqueId("signals") },
    (signals) => buildLists(ctx, signals));
  if (!ctx.active) return;
  screen("Signalen voor uw school",
    pushReminder(ctx.me),
    list,
    h("p", {}, h("a", { href: "/admin/school", class: "button button-secondary" }, "Leerkrachten beheren")),
    devicePanel(ctx.me, (me) => { ctx.setMe(me); ctx.refresh(); }));
}

function buildLists(ctx, signals) {
  const pending = signals.filter((s) => UNHANDLED.has(s.state));
  const forwarded = signals.filter((s) => s.state === "forwarded" || s.state === "viewed");
  const finished = signals.filter((s) => isFinished(s.state)).slice(0, 10);
  notePending(pending.map((s) => s.id));
  return [
    pending.length ? h("ul", { class: "cards" }, pending.map((s) => pendingCard(ctx, s)))
      : h("p", { class: "empty" }, "Geen nieuwe signalen."),
    forwarded.length ? h("h3", {}, "Doorgestuurd") : null,
    forwarded.length ? h("ul", { class: "cards" }, forwarded.map((s) => forwardedCard(ctx, s))) : null,
    finished.length ? h("h3", {}, "Afgehandeld") : null,
    finished.length ? h("ul", { class: "cards cards-quiet" }, finished.map(finishedCard)) : null,
  ];
}

function pendingCard(ctx, signal) {
  return h("li", { class: `card${signal.escalated ? " card-alert" : ""}` },
    h("h3", { class: "card-title" }, "Nieuw signaal ", h("span", { class: "ref" }, signal.ref)),
    signal.escalated
      ? h("p", { class: "flag" }, "De tijd is om. Stuur het signaal zo snel mogelijk door.") : null,
    h("p", { class: "deadline" }, `Vóór ${formatNear(signal.deadline)} doorsturen`),
    h("p", { class: "muted" }, `Ontvangen: ${formatMoment(signal.sent_at)}`),
    signal.has_copy
      ? appLink("Openen", `/signaal/${segment(signal.id)}`, ctx.navigate, { class: "button button-primary",
        "aria-label": `Signaal ${signal.ref} openen` })
      : h("p", { class: "muted" }, "Niet te openen op dit apparaat."));
}

function forwardedCard(ctx, signal) {
  const seen = signal.teachers.map((t) => `${teacherText(t)}: ${t.viewed ? "gezien" : "nog niet gezien"}`);
  return h("li", { class: "card" },
    h("h3", { class: "card-title" }, h("span", { class: "ref" }, signal.ref), " ",
      h("span", { class: `badge badge-${signal.state}` }, STATE_LABELS[signal.state])),
    signal.acted_by_me
      ? h("p", {}, `Doorgestuurd naar ${seen.join("; ")}`)
      : h("p", {}, `Doorgestuurd door ${signal.acted_by ?? "een collega"}`),
    signal.acted_by_me && signal.has_copy
      ? appLink("Bekijken en afronden", `/signaal/${segment(signal.id)}`, ctx.navigate,
        { class: "button button-secondary", "aria-label": `Signaal ${signal.ref} bekijken en afronden` })
      : null);
}

function finishedCard(signal) {
  const reason = signal.state === "closed" ? `: ${CLOSE_REASONS[signal.close_reason] ?? ""}` : "";
  return h("li", { class: "card" }, h("span", { class: "ref" }, signal.ref), " ",
    `${STATE_LABELS[signal.state]}${reason}`);
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
  if (!summary) return gone(ctx, "Dit signaal is er niet (meer).");
  if (isFinished(summary.state)) return finishedScreen(ctx, summary);
  if (!UNHANDLED.has(summary.state) && !summary.acted_by_me) return forwardedByColleague(ctx, summary);
  if (!summary.has_copy) {
    return gone(ctx, "Dit signaal is niet (meer) te openen op dit apparaat.");
  }
  let opened;
  try {
    opened = await openSignal(id);
  } catch (error) {
    return ctx.active && gone(ctx, error.message);
  }
  if (!ctx.active) return undefined;
  return UNHANDLED.has(summary.state)
    ? actionsScreen(ctx, summary, opened.content) : forwardedScreen(ctx, summary, opened.content);
}

function gone(ctx, message) {
  screen("Signaal", notice("info", message), back(ctx));
}

function finishedScreen(ctx, summary) {
  const reason = summary.state === "closed" ? `: ${CLOSE_REASONS[summary.close_reason] ?? ""}` : ".";
  screen("Signaal afgehandeld",
    notice("info", `Signaal ${summary.ref}: ${STATE_LABELS[summary.state].toLowerCase()}${reason}`),
    back(ctx));
}

function forwardedByColleague(ctx, summary) {
  screen("Signaal al doorgestuurd",
    notice("info", `Doorgestuurd door ${summary.acted_by ?? "een collega"}.`),
    h("p", {}, "Uw collega handelt dit signaal af. Daarom staat het niet meer op uw apparaat."),
    back(ctx));
}

function actionsScreen(ctx, summary, content) {
  const slot = messageSlot();
  const forward = button("Doorsturen naar leerkracht",
    () => whileBusy(forward, () => teacherPicker(ctx, summary, content)), "primary");
  screen("Nieuw signaal",
    childBlock(content),
    h("p", { class: "deadline" }, `Vóór ${formatNear(summary.deadline)} doorsturen of afsluiten.`),
    senderLine(summary),
    slot,
    h("div", { class: "actions" }, forward,
      closeButton(ctx, summary, "told_in_person", "Ik vertel het de leerkracht zelf", slot),
      closeButton(ctx, summary, "not_our_pupil", "Geen leerling van ons", slot)),
    back(ctx));
}

/** Who sent it and, when the directory has it, their number: the school phones with questions. */
function senderLine(summary) {
  if (!summary.sender_phone) return h("p", { class: "muted" }, `Verstuurd door ${summary.sender}.`);
  return withPhone(`Vragen over dit signaal? Bel ${summary.sender}: ${summary.sender_phone}.`,
    summary.sender_phone);
}

function closeButton(ctx, summary, reason, text, slot) {
  const wording = CLOSE_TEXT[reason];
  const action = button(text, async () => {
    if (!await confirmAction(wording)) return;
    await whileBusy(action, async () => {
      try {
        await api(`/api/signals/${segment(summary.id)}/close`, { method: "POST", body: { reason } });
      } catch (error) {
        return conflictOrError(ctx, summary, error, slot);
      }
      return ctx.active && screen(reason === "done" ? "Signaal afgerond" : "Signaal gesloten",
        notice("success", wording.done), back(ctx));
    });
  }, reason === "done" ? "primary" : "secondary");
  return action;
}

/** A 409 means a colleague was first: say so and show the signal as it is now. */
function conflictOrError(ctx, summary, error, slot) {
  if (error.status === 409 || error.status === 404) {
    setFlash(error.message);
    return ctx.refresh();
  }
  return slot.showError(error);
}

// --- forwarding -----------------------------------------------------------------------------

async function teacherPicker(ctx, summary, content) {
  let teachers;
  try {
    teachers = await api(`/api/schools/${segment(ctx.me.org.id)}/teachers`);
  } catch (error) {
    return screen("Kies de leerkracht", notice("error", error.message),
      button("Terug", () => actionsScreen(ctx, summary, content)));
  }
  if (!ctx.active) return undefined;
  const slot = messageSlot();
  const filterId = uniqueId("filter");
  const filter = h("input", { id: filterId, type: "search", autocomplete: "off",
    spellcheck: "false" });
  const options = teachers.map((teacher) => {
    const id = uniqueId("teacher");
    const box = h("input", { type: "checkbox", id, value: teacher.person_id });
    box.teacher = teacher;
    return h("div", { class: "choice", "data-search": `${teacher.name} ${teacher.class_label}`.toLowerCase() },
      box, h("label", { for: id }, teacherText(teacher)));
  });
  const noMatch = h("p", { class: "empty", hidden: true }, "Geen leerkracht gevonden.");
  filter.addEventListener("input", () => {
    const query = filter.value.trim().toLowerCase();
    let shown = 0;
    for (const option of options) {
      option.hidden = Boolean(query) && !option.dataset.search.includes(query);
      shown += option.hidden ? 0 : 1;
    }
    noMatch.hidden = shown > 0;
  });
  const send = button("Doorsturen", () => whileBusy(send, () => {
    const chosen = options.map((o) => o.querySelector("input")).filter((b) => b.checked).map((b) => b.teacher);
    return forwardTo(ctx, summary, content, chosen, slot);
  }), "primary");

  if (!teachers.length) {
    return screen("Kies de leerkracht", childBlock(content),
      notice("warning", "Er is nog geen leerkracht met een aangemeld apparaat. Meld de leerkracht " +
        "aan via Leerkrachten beheren, of vertel het de leerkracht zelf."),
      button("Terug", () => actionsScreen(ctx, summary, content)));
  }
  return screen("Kies de leerkracht",
    childBlock(content),
    h("div", { class: "field" }, h("label", { for: filterId }, "Zoek op naam of groep"), filter),
    h("fieldset", { class: "field" }, h("legend", {}, "Leerkrachten"),
      h("p", { class: "hint" }, "Bij een duo-baan kiest u beide leerkrachten."), ...options, noMatch),
    slot,
    h("div", { class: "actions" }, send, button("Terug", () => actionsScreen(ctx, summary, content))));
}

async function forwardTo(ctx, summary, content, chosen, slot) {
  slot.clear();
  if (!chosen.length) {
    slot.show("error", "Kies minstens één leerkracht.");
    return slot.firstChild.focus();
  }
  if (chosen.length > 4) {
    slot.show("error", "Kies hooguit vier leerkrachten.");
    return slot.firstChild.focus();
  }
  const names = chosen.map(teacherText).join(" en ");
  const ok = await confirmAction({
    title: `Doorsturen naar ${names}?`,
    text: [`${chosen.length === 1 ? "De leerkracht krijgt" : "De leerkrachten krijgen"} een ` +
      "melding en ziet naam en geboortedatum één keer. Daarna wordt het daar verwijderd.",
    "U houdt uw kopie tot u het signaal afrondt, zodat u de ouders kunt bellen."],
    confirm: "Ja, doorsturen",
  });
  if (!ok) return undefined;
  const devices = chosen.flatMap((t) => t.devices);
  const ids = chosen.map((t) => t.person_id);
  try {
    await postSealed(`/api/signals/${segment(summary.id)}/forward`, devices, summary.id, content,
      (envelopes) => ({ teachers: ids, envelopes }));
  } catch (error) {
    return conflictOrError(ctx, summary, error, slot);
  }
  const updated = await findSignal(summary.id).catch(() => null);
  if (!ctx.active) return undefined;
  return forwardedScreen(ctx, updated ?? { ...summary, state: "forwarded", acted_by_me: true,
    teachers: chosen.map((t) => ({ ...t, viewed: false })) }, content,
  `Doorgestuurd naar ${plural(chosen.length, "leerkracht", "leerkrachten")}.`);
}

function forwardedScreen(ctx, summary, content, success = null) {
  const slot = messageSlot();
  screen("Doorgestuurd",
    success ? notice("success", success) : null,
    childBlock(content),
    h("section", { class: "stack", "aria-labelledby": "teachers-heading" },
      h("h2", { id: "teachers-heading" }, summary.teachers.length === 1 ? "Leerkracht" : "Leerkrachten"),
      h("ul", { class: "status-list" }, summary.teachers.map((t) => h("li", {},
        `${teacherText(t)}: `, h("strong", {}, t.viewed ? "gezien" : "nog niet gezien"))))),
    h("p", {}, "Informeer de ouders dat de school het weet. Rond daarna af: dan wordt het " +
      "signaal overal verwijderd."),
    slot,
    h("div", { class: "actions" }, closeButton(ctx, summary, "done", "Afronden", slot)),
    back(ctx));
}
