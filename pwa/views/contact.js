// The school's contact (intern begeleider): pending signals, and per signal one of three
// actions — forward to the teacher(s), tell the teacher in person, or not our pupil — then
// "Afronden" once the teacher knows and the parents are informed.

import { api, offlineError, segment } from "../api.js";
import { openSignal, postSealed } from "../sealing.js";
import {
  appLink, button, confirmAction, formatMoment, formatNear, h, loadingScreen, messageSlot, notice,
  screen, setFlash, uniqueId, whileBusy, withPhone,
} from "./common.js";
import { childBlock, fromLines } from "./child.js";
import { pushReminder } from "./device.js";
import { findSignal, liveSection, notePending, receiverPanel } from "./lists.js";
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
    text: ["De melder ziet dat het signaal niet bij u hoort en kan de goede school zoeken. " +
      "Het signaal wordt overal verwijderd."],
    confirm: "Ja, geen leerling van ons",
    done: "Gesloten: geen leerling van uw school. De melder ziet dit.",
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
    receiverPanel(ctx));
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
  const unhandled = UNHANDLED.has(summary.state);
  let opened;
  let teachers;
  try {
    // The teachers load alongside, so the signal screen can list them at once.
    [opened, teachers] = await Promise.all([openSignal(id), unhandled ? loadTeachers(ctx) : null]);
  } catch (error) {
    return ctx.active && gone(ctx, error.message);
  }
  if (!ctx.active) return undefined;
  if (!opened.content) {
    const verdict = await import("./verdict.js"); // not verified: never the signal
    return verdict.unverifiableScreen(ctx, id, opened, back(ctx), UNHANDLED.has(summary.state) &&
      "close");
  }
  return unhandled ? actionsScreen(ctx, summary, opened, teachers)
    : forwardedScreen(ctx, summary, opened);
}

/** The school's teachers, with and without a device; an ApiError when they could not load. */
const loadTeachers = (ctx) => api(`/api/schools/${segment(ctx.me.org.id)}/teachers`)
  .catch((error) => error);

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

/** The signal with its teachers listed: a tap on a teacher, "Ja, doorsturen", done. */
function actionsScreen(ctx, summary, opened, teachers) {
  const slot = messageSlot();
  screen("Nieuw signaal",
    childBlock(opened.content),
    fromLines(opened),
    h("p", { class: "deadline" }, `Vóór ${formatNear(summary.deadline)} doorsturen of afsluiten.`),
    senderLine(summary, opened),
    slot,
    teacherChooser(ctx, summary, opened, teachers, slot),
    h("h2", {}, "Niet doorsturen?"),
    h("div", { class: "actions" },
      closeButton(ctx, summary, "told_in_person", "Ik vertel het de leerkracht zelf", slot),
      closeButton(ctx, summary, "not_our_pupil", "Geen leerling van ons", slot)),
    back(ctx));
}

/**
 * The sender's number, when the directory has it: the school phones with questions. A signed
 * signal's sender is in "Van: …" already; an unsigned one's is only the server's word, said so.
 */
function senderLine(summary, opened) {
  const verified = opened.verdict === "verified";
  if (verified && opened.shown[0] !== `Van: ${summary.sender}`) return null; // not proven
  const claim = verified ? "" : `Niet ondertekend: volgens de server verstuurd door ${summary.sender}. `;
  if (!summary.sender_phone) return claim ? h("p", { class: "muted" }, claim.trim()) : null;
  return withPhone(`${claim}Vragen over dit signaal? Bel ${summary.sender}: ${summary.sender_phone}.`,
    summary.sender_phone);
}

function closeButton(ctx, summary, reason, text, slot) {
  const action = button(text, () => closeWith(ctx, summary, reason, slot, action),
    reason === "done" ? "primary" : "secondary");
  return action;
}

/** Ask, then close (or finish) the signal; `busy` is the button that waits meanwhile. */
async function closeWith(ctx, summary, reason, slot, busy) {
  const wording = CLOSE_TEXT[reason];
  if (!await confirmAction(wording)) return;
  await whileBusy(busy, async () => {
    try {
      await api(`/api/signals/${segment(summary.id)}/close`, { method: "POST", body: { reason } });
    } catch (error) {
      return conflictOrError(ctx, error, slot);
    }
    return ctx.active && screen(reason === "done" ? "Signaal afgerond" : "Signaal gesloten",
      notice("success", wording.done), back(ctx));
  });
}

/** A 409 means a colleague was first: say so and show the signal as it is now. */
function conflictOrError(ctx, error, slot) {
  if (error.status === 409 || error.status === 404) {
    setFlash(error.message);
    return ctx.refresh();
  }
  return slot.showError(error);
}

// --- forwarding -----------------------------------------------------------------------------

function teacherChooser(ctx, summary, opened, teachers, slot) {
  const headingId = uniqueId("teachers-heading");
  const section = h("section", { class: "stack", "aria-labelledby": headingId },
    h("h2", { id: headingId }, "Doorsturen naar de leerkracht"));
  if (teachers instanceof Error) {
    section.append(notice("error", teachers.message));
    return section;
  }
  if (!teachers.length) {
    section.append(notice("warning", "Er staan nog geen leerkrachten in de app. Voeg ze toe " +
      "via Leerkrachten beheren, of vertel het de leerkracht zelf."),
    h("p", {}, h("a", { href: "/admin/school" }, "Leerkrachten beheren")));
    return section;
  }
  const filterId = uniqueId("filter");
  const filter = h("input", { id: filterId, type: "search", autocomplete: "off", spellcheck: "false" });
  const items = teachers.map((teacher) => h("li",
    { "data-search": `${teacher.name} ${teacher.class_label}`.toLowerCase() },
    teacherButton(ctx, summary, opened, teacher, teachers, slot)));
  const noMatch = h("p", { class: "empty", hidden: true }, "Geen leerkracht gevonden.");
  filter.addEventListener("input", () => {
    const query = filter.value.trim().toLowerCase();
    for (const item of items) item.hidden = Boolean(query) && !item.dataset.search.includes(query);
    noMatch.hidden = items.some((item) => !item.hidden);
  });
  section.append(h("div", { class: "field" }, h("label", { for: filterId }, "Zoek op naam of groep"), filter),
    h("ul", { class: "teacher-list" }, items), noMatch);
  return section;
}

/** One teacher: a tap opens the confirmation, or (not in the app yet) what to do instead. */
function teacherButton(ctx, summary, opened, teacher, teachers, slot) {
  const ready = teacher.devices.length > 0;
  const tap = button(teacherText(teacher), () => (ready
    ? confirmForward(ctx, summary, opened, teacher, teachers, slot, tap)
    : notInApp(ctx, teacher, slot, tap, () => closeWith(ctx, summary, "told_in_person", slot, tap))),
  "secondary",
  { class: `button button-secondary teacher-choice${ready ? "" : " teacher-missing"}` });
  if (!ready) tap.append(h("span", {}, "nog geen apparaat"));
  return tap;
}

/** A teacher not in the app yet: what to do instead (loaded when first needed). */
async function notInApp(ctx, teacher, slot, tap, tellInPerson) {
  try {
    const link = await import("./teacherlink.js").catch(() => { throw offlineError(); });
    await link.notInApp(ctx, teacher, tap, tellInPerson);
  } catch (error) {
    slot.showError(error);
  }
}

/** A second teacher for a duo-baan, chosen inside the confirmation. */
function secondTeacherField(others) {
  const id = uniqueId("second");
  const select = h("select", { id },
    h("option", { value: "" }, "Niemand anders"),
    others.map((t) => h("option", { value: t.person_id }, teacherText(t))));
  return { element: h("div", { class: "field" }, h("label", { for: id }, "Duo-baan? Ook naar"), select),
    chosen: () => others.find((t) => t.person_id === select.value) ?? null };
}

async function confirmForward(ctx, summary, opened, teacher, teachers, slot, tap) {
  const others = teachers.filter((t) => t !== teacher && t.devices.length);
  const duo = others.length && ctx.me.policy.max_teachers > 1;
  const second = duo ? secondTeacherField(others) : null;
  const ok = await confirmAction({
    title: `Doorsturen naar ${teacherText(teacher)}?`,
    text: ["De leerkracht krijgt een melding en ziet naam en geboortedatum één keer. Daarna " +
      "wordt het daar verwijderd.",
    "U houdt uw kopie tot u het signaal afrondt, zodat u de ouders kunt bellen."],
    extra: second?.element,
    confirm: "Ja, doorsturen",
  });
  if (!ok) return undefined;
  const chosen = [teacher, second?.chosen()].filter(Boolean);
  return whileBusy(tap, () => forwardTo(ctx, summary, opened, chosen, slot));
}

async function forwardTo(ctx, summary, opened, chosen, slot) {
  slot.clear();
  const devices = chosen.flatMap((t) => t.devices);
  const ids = chosen.map((t) => t.person_id);
  try {
    await postSealed(`/api/signals/${segment(summary.id)}/forward`,
      { org: ctx.me.org.id, people: ids }, devices, summary.id, opened.content,
      (envelopes) => ({ teachers: ids, envelopes }), opened.from);
  } catch (error) {
    return conflictOrError(ctx, error, slot);
  }
  const updated = await findSignal(summary.id).catch(() => null);
  if (!ctx.active) return undefined;
  return forwardedScreen(ctx, updated ?? { ...summary, state: "forwarded", acted_by_me: true,
    teachers: chosen.map((t) => ({ ...t, viewed: false })) }, opened,
  `Doorgestuurd naar ${chosen.map(teacherText).join(" en ")}.`);
}

function forwardedScreen(ctx, summary, opened, success = null) {
  const slot = messageSlot();
  screen("Doorgestuurd",
    success ? notice("success", success) : null,
    childBlock(opened.content),
    fromLines(opened),
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
