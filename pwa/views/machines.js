// A sender's or an organisation admin's phone decides about the organisation's sending systems
// (`hwc send`, issue 20 item 3; docs/keylog.md, "Sending systems"): a waiting system's key with
// its six-digit code, "Toestaan" (this device signs the key: `machine_added` in the key log) or
// "Weigeren"; approved systems can be revoked. Loaded lazily by views/guard.js.

import { api, segment } from "../api.js";
import { machineCode, signMachineApproval } from "../keylog.js";
import { loadDevice } from "../keystore.js";
import { button, h, messageSlot, notice, whileBusy } from "./common.js";

/** The panel for the organisation's systems, or null when there are none; `redraw` shows a
 * panel in its place (after a decision). */
export async function machinesPanel(ctx, redraw) {
  const list = await api("/api/org/machine-keys");
  if (!ctx.active || list.length === 0) return null;
  const waiting = list.filter((m) => m.state === "pending");
  const approved = list.filter((m) => m.state === "approved");
  const panels = await Promise.all(waiting.map(async (m) =>
    waitingPanel(ctx, m, await machineCode(m.sig_key), redraw)));
  return h("div", { class: "stack" }, ...panels, approved.length ? approvedList(approved, redraw)
    : null);
}

const systemName = (machine) => (machine.label ? `'${machine.label}'` : "een registratiesysteem");

function waitingPanel(ctx, machine, code, redraw) {
  const slot = messageSlot();
  const allow = button("Toestaan", () => whileBusy(allow, () =>
    decide(ctx, machine, "approve", slot, redraw)), "primary");
  const refuse = button("Weigeren", () => whileBusy(refuse, () =>
    decide(ctx, machine, "decline", slot, redraw)));
  return notice("warning",
    `Een registratiesysteem van uw organisatie wil signalen ondertekenen: ${systemName(machine)}` +
    `, code ${code}. Staat dezelfde code bij het systeem (hwc register-key)?`,
    "Tik alleen op Toestaan als de beheerder van het systeem u dezelfde code geeft. Weet u " +
    "niet waar dit systeem vandaan komt? Tik op Weigeren en meld het aan uw beheerder: iemand " +
    "anders gebruikt dan misschien de API-sleutel van uw organisatie.",
    h("div", { class: "actions" }, allow, refuse), slot);
}

const DONE = {
  approve: "is toegestaan: signalen van dit systeem zijn nu ondertekend.",
  decline: "is geweigerd.",
  revoke: "is ingetrokken: het ondertekent geen signalen meer.",
};

async function decide(ctx, machine, action, slot, redraw) {
  try {
    const body = action === "approve" ? { approval: await approvalOf(ctx.me, machine) } : {};
    await api(`/api/org/machine-keys/${segment(machine.id)}/${action}`, { method: "POST", body });
  } catch (error) {
    return slot.showError(error);
  }
  redraw(notice("success", `Het systeem ${systemName(machine)} ${DONE[action]}`));
  return undefined;
}

/** This device's signature over the system's key (docs/keylog.md, machine approval). */
async function approvalOf(me, machine) {
  const own = await loadDevice();
  return signMachineApproval(own.signingKey, { device: machine.id, org: me.org.id,
    sig_key: machine.sig_key });
}

function approvedList(approved, redraw) {
  const rows = approved.map((machine) => {
    const slot = messageSlot();
    const revoke = button("Intrekken", () => whileBusy(revoke, () =>
      decide(null, machine, "revoke", slot, redraw)));
    return h("li", {}, h("p", {}, `${systemName(machine)} (code ${machine.code})`), revoke, slot);
  });
  return h("details", { class: "machines" },
    h("summary", {}, `Registratiesystemen die voor uw organisatie ondertekenen (${approved.length})`),
    h("p", {}, "Trek een systeem in als het niet meer wordt gebruikt of als zijn sleutel is " +
      "uitgelekt; het ondertekent dan geen signalen meer."),
    h("ul", {}, ...rows));
}
