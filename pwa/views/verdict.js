// A signal whose signature did not verify (docs/envelope.md, "Verdicts"): a screen of its own
// instead of the signal, with "Melden" (a security event: a kind and an organisation id) and
// closing it. Loaded only then (by the open views), never in a first load.

import { api, segment } from "../api.js";
import { button, confirmAction, h, messageSlot, notice, screen, whileBusy } from "./common.js";

export const UNVERIFIABLE = "Dit signaal kan niet worden gecontroleerd. Het is mogelijk niet echt.";

// Closing it (a contact or an office: reason "unverifiable", the sender's timeline says so) or
// removing a teacher's copy ("done"): what each asks, calls and says once done.
const ENDINGS = {
  close: { label: "Signaal sluiten", path: "close", body: { reason: "unverifiable" },
    title: "Dit signaal sluiten?", confirm: "Ja, sluiten",
    text: "Het signaal wordt overal verwijderd. De afzender ziet dat het niet te controleren was.",
    done: "Gesloten: niet te controleren. Het signaal is overal verwijderd.",
    heading: "Signaal gesloten" },
  remove: { label: "Verwijderen", path: "done", title: "Verwijderen?", confirm: "Ja, verwijderen",
    text: "Het signaal wordt van dit apparaat verwijderd.", done: "Het signaal is verwijderd.",
    heading: "Signaal verwijderd" },
};

/**
 * The warning, "Melden", ending it (`ending`: "close", "remove", or false when that is not for
 * this person now) and the way back (`back`, a link).
 */
export function unverifiableScreen(ctx, signalId, opened, back, ending) {
  const slot = messageSlot();
  const report = button("Melden", () => whileBusy(report, () => reportForgery(ctx, opened, slot,
    report)), "primary");
  const end = ENDINGS[ending];
  const endButton = end && button(end.label, async () => {
    if (await confirmAction(end)) await whileBusy(endButton, () => endIt(signalId, end, slot, back));
  });
  screen("Signaal niet te controleren",
    notice("error", UNVERIFIABLE),
    h("p", {}, "De app kan niet nagaan wie dit signaal heeft verstuurd. Daarom toont de app het " +
      "niet. Bel de afzender als u een signaal verwacht."),
    h("p", {}, "Meld het: de beheerders en de organisatie die als afzender is genoemd, zien " +
      "dan dat er een signaal was dat niet klopt. Er gaat geen naam mee."),
    slot,
    h("div", { class: "actions" }, report, endButton),
    back);
}

async function endIt(signalId, end, slot, back) {
  try {
    await api(`/api/signals/${segment(signalId)}/${end.path}`, { method: "POST", body: end.body });
  } catch (error) {
    return slot.showError(error);
  }
  return screen(end.heading, notice("success", end.done), back);
}

async function reportForgery(ctx, opened, slot, report) {
  try {
    await api("/api/security-events", { method: "POST",
      body: { kind: "bad_signature", org: opened.claimed ?? ctx.me.org.id } });
  } catch (error) {
    return slot.showError(error);
  }
  report.remove();
  slot.show("success", "Gemeld. Dank u.").focus();
  return undefined;
}
