// Helpers for the receiving roles' lists: loading with a visible error, refreshing, and
// announcing a newly arrived signal in the live region.

import { api } from "../api.js";
import { announce, h, notice, refreshButton } from "./common.js";

// Signal ids already seen as pending in this page's lifetime, to announce only new ones.
const knownPending = new Set();
let firstLoad = true;

/** Remember which signals are pending; announce when one appears that was not there before. */
export function notePending(ids) {
  const fresh = ids.filter((id) => !knownPending.has(id));
  ids.forEach((id) => knownPending.add(id));
  if (!firstLoad && fresh.length) {
    announce(fresh.length === 1 ? "Er is een nieuw signaal." : `Er zijn ${fresh.length} nieuwe signalen.`);
  }
  firstLoad = false;
}

/**
 * A section whose body is (re)built from GET /api/signals on every refresh. Resolves with the
 * section once the first load is in, so a home screen appears in one piece: nothing below the
 * list jumps when it arrives. `build(signals)` returns the nodes to show.
 */
export async function liveSection(ctx, { title, id }, build) {
  const body = h("div", { class: "stack" });
  const section = h("section", { class: "stack", "aria-labelledby": id },
    h("div", { class: "section-head" }, h("h2", { id }, title), refreshButton(() => load())), body);

  async function load() {
    try {
      const signals = await api("/api/signals");
      if (ctx.active) body.replaceChildren(...build(signals).filter(Boolean));
    } catch (error) {
      if (ctx.active) body.replaceChildren(notice("error", error.message));
    }
  }

  await load();
  ctx.onRefresh(load);
  return section;
}

/** Fetch one signal's summary from the list (the API has no GET per signal). */
export async function findSignal(id) {
  const signals = await api("/api/signals");
  return signals.find((signal) => signal.id === id && !signal.sent_by_us) ?? null;
}
