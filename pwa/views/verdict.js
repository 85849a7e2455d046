// What the open views show of a signal's verdict (docs/envelope.md, "Verdicts"): who sent it,
// only when the signature proved it, and for a signature that did not verify a screen of its
// own instead of the signal, with "Melden" (a security event: a kind and an organisation id).

import { api } from "../api.js";
import { button, h, messageSlot, notice, screen, whileBusy } from "./common.js";

export const UNVERIFIABLE = "Dit signaal kan niet worden gecontroleerd. Het is mogelijk niet echt.";

/** Whether the open view must show the unverifiable screen instead of the signal. */
export const unverifiable = (opened) => opened.verdict === "bad_signature" ||
  opened.verdict === "malformed";

/**
 * "Van: Veilig Thuis Utrecht" (and "Doorgestuurd door Ingrid Bakker, intern begeleider") for a
 * verified signal; null otherwise (an unsigned one shows as before, without "Van:").
 */
export function fromLines(opened) {
  if (opened.verdict !== "verified") return null;
  const { org, forwarder } = opened.shown;
  return h("div", { class: "verified-from" },
    h("p", {}, h("strong", {}, "Van: "), org ?? "een organisatie die de app niet kan noemen"),
    forwarder ? h("p", {}, `Doorgestuurd door ${forwarder}`) : null);
}

/**
 * The screen for a signal whose signature did not verify: the warning, "Melden", what else the
 * person can do (`action`, e.g. closing it, with its own message slot) and the way back.
 */
export function unverifiableScreen(ctx, opened, back, action = null, actionSlot = null) {
  const slot = messageSlot();
  const report = button("Melden", () => whileBusy(report, () => reportForgery(ctx, opened, slot,
    report)), "primary");
  screen("Signaal niet te controleren",
    notice("error", UNVERIFIABLE),
    h("p", {}, "De app kan niet nagaan wie dit signaal heeft verstuurd. Daarom toont de app het " +
      "niet. Bel de afzender als u een signaal verwacht."),
    h("p", {}, "Meld het: de beheerders en de organisatie die als afzender is genoemd, zien " +
      "dan dat er een signaal was dat niet klopt. Er gaat geen naam mee."),
    slot,
    actionSlot,
    h("div", { class: "actions" }, report, action),
    back);
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
