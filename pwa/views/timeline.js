// A signal's progress in Dutch, without any personal data: what the sender (and an officer
// who relayed it) sees.

import { formatMoment, formatNear, h, plural, withPhone } from "./common.js";

export const STATE_LABELS = {
  sent: "Verstuurd",
  opened: "Geopend",
  relayed: "Doorgestuurd naar school",
  forwarded: "Bij de leerkracht",
  viewed: "Gezien door leerkracht",
  done: "Afgerond",
  closed: "Gesloten",
  expired: "Verlopen",
};

export const CLOSE_REASONS = {
  told_in_person: "school vertelt het de leerkracht zelf",
  not_our_pupil: "geen leerling van ons",
  not_in_municipality: "geen leerling in deze gemeente",
  done: "afgerond",
  unverifiable: "niet te controleren",
};

const FINISHED = new Set(["done", "closed", "expired"]);
export const isFinished = (state) => FINISHED.has(state);

/** The Dutch line for one timeline event; `place` says who held the signal then. */
function eventText(event, place, teachersChosen) {
  switch (event.kind) {
    case "sent": return `afgeleverd op ${plural(event.count ?? 0, "apparaat", "apparaten")}`;
    case "opened": return `geopend door ${place}`;
    case "relayed": return `doorgestuurd naar school (${plural(event.count ?? 0, "apparaat", "apparaten")})`;
    case "forwarded": return `doorgestuurd naar ${plural(event.count ?? 0, "leerkracht", "leerkrachten")}`;
    case "teacher_viewed": return "gezien door leerkracht";
    case "viewed": return teachersChosen > 1 ? "gezien door alle gekozen leerkrachten" : null;
    case "done": return "afgerond: leerkracht weet het, ouders geïnformeerd";
    case "closed": return `gesloten: ${CLOSE_REASONS[event.detail] ?? "zonder reden"}`;
    case "expired": return "verlopen";
    case "escalated": return "niet op tijd opgepakt: bel de school";
    case "reminded": return "herinnering gestuurd";
    default: return null;
  }
}

/** [{at, text}] for a signal summary with a timeline. */
export function timelineLines(signal) {
  const relayedAt = signal.timeline.findIndex((e) => e.kind === "relayed");
  const toOffice = relayedAt >= 0 || signal.holder_kind === "leerplicht";
  const chosen = signal.timeline.find((e) => e.kind === "forwarded")?.count ?? 0;
  return signal.timeline.map((event, index) => {
    const atOffice = toOffice && (relayedAt < 0 || index < relayedAt);
    const text = eventText(event, atOffice ? "leerplicht" : "school", chosen);
    return text && { at: event.at, text };
  }).filter(Boolean);
}

/** "Not in time: phone them", with the holder's number as a tel: link when there is one. */
function lateFlag(signal) {
  const office = signal.holder_kind === "leerplicht";
  const text = `Let op: ${office ? "het leerplichtbureau" : "de school"} heeft niet op tijd ` +
    `gereageerd. Bel ${office ? "het bureau" : "de school"}` +
    `${signal.holder_phone ? `: ${signal.holder_phone}` : ""}.`;
  const flag = withPhone(text, signal.holder_phone);
  flag.className = "flag";
  return flag;
}

/** A card for one sent signal: reference, recipient, times, state and the whole timeline. */
export function sentSignalCard(signal) {
  const viaOffice = signal.timeline.some((e) => e.kind === "relayed");
  const recipient = signal.school ? `${signal.school}${viaOffice ? " (via leerplicht)" : ""}`
    : signal.holder;
  return h("li", { class: `card${signal.escalated ? " card-alert" : ""}` },
    h("h3", { class: "card-title" }, h("span", { class: "ref" }, signal.ref), " ",
      h("span", { class: `badge badge-${signal.state}` }, STATE_LABELS[signal.state] ?? signal.state)),
    signal.escalated ? lateFlag(signal) : null,
    h("p", {}, `Aan: ${recipient}`),
    h("p", { class: "muted" }, `Verstuurd: ${formatMoment(signal.sent_at)}`),
    isFinished(signal.state) ? null
      : h("p", { class: "muted" }, `School handelt vóór: ${formatNear(signal.deadline)}`),
    h("ol", { class: "timeline", "aria-label": `Verloop van ${signal.ref}` },
      timelineLines(signal).map((line) => h("li", {},
        h("span", { class: "timeline-at" }, formatMoment(line.at)), " ", line.text))));
}
