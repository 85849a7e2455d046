// Helpers for the receiving roles' screens: lists loaded with a visible error, refreshed, a
// newly arrived signal announced in the live region; their device panel with quiet hours.

import { api, apiOrKept, segment } from "../api.js";
import { announce, h, messageSlot, notice, offlineNotice, refreshButton, uniqueId } from "./common.js";
import { devicePanel } from "./device.js";

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
      const { value: signals, at } = await apiOrKept("/api/signals");
      if (ctx.active) {
        body.replaceChildren(at ? offlineNotice(at) : "", ...build(signals).filter(Boolean));
      }
    } catch (error) {
      if (ctx.active) body.replaceChildren(notice("error", error.message));
    }
  }

  await load();
  ctx.onRefresh(load);
  return section;
}

/** Close this app's notifications whose tag (a signal id) `stale(tag)` says is no longer
 * current: it must not lead to a signal that is gone. */
export async function closeNotifications(stale) {
  const registration = await navigator.serviceWorker?.getRegistration().catch(() => null);
  const shown = await registration?.getNotifications().catch(() => []) ?? [];
  for (const notification of shown) if (stale(notification.tag)) notification.close();
}

/** One signal's summary as this device's list shows it; null when it is not (or no longer)
 * there to act on (an office's own sent signals are shown on the send screen). */
export async function findSignal(id) {
  try {
    const signal = await api(`/api/signals/${segment(id)}`);
    return signal.sent_by_us ? null : signal;
  } catch (error) {
    if (error.status === 404) return null;
    throw error;
  }
}

// --- this device, for those who receive signals ---------------------------------------------

const QUIET_CHOICES = ["off", "22:00-07:00", "20:00-07:00", "23:00-06:00"];
const hours = (value) => value.replace("-", "–");

/** Quiet hours on this device: the default, "altijd direct", or other hours. Saved on
 * change, in place (focus stays on the field). */
function quietControl(me) {
  const id = uniqueId("quiet");
  const slot = messageSlot();
  const own = me.device.quiet_hours ?? "";
  const values = ["", ...QUIET_CHOICES, ...(own && !QUIET_CHOICES.includes(own) ? [own] : [])];
  const select = h("select", { id, "aria-describedby": `${id}-hint` }, values.map((value) =>
    h("option", { value, selected: value === own }, value === "" ? `Standaard: ${hours(me.default_quiet_hours)}`
      : value === "off" ? "Altijd direct" : hours(value))));
  select.addEventListener("change", async () => {
    try {
      const updated = await api("/api/me/quiet", { method: "PUT",
        body: { quiet_hours: select.value || null } });
      me.device.quiet_hours = updated.device.quiet_hours;
      slot.show("success", "Opgeslagen.");
    } catch (error) {
      slot.show("error", error.message);
    }
  });
  return h("div", { class: "field" }, h("label", { for: id }, "Nachtrust voor meldingen"),
    h("p", { class: "hint", id: `${id}-hint` }, "Een melding in deze uren komt aan het eind " +
      "ervan, tenzij het signaal dan te laat zou zijn. De melder ziet wanneer."),
    select, slot);
}

/** The "Dit apparaat" section of a home screen that receives signals. */
export function receiverPanel(ctx) {
  return devicePanel(ctx.me, (me) => { ctx.setMe(me); ctx.refresh(); },
    { extra: quietControl(ctx.me) });
}
