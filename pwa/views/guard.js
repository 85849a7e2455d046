// This device's watch over its own person's devices (issue 19, docs/keylog.md): a new device
// waits for approval; the person's device approves or declines it by comparing a code; at every
// start and refresh the device checks its person's entries in the organisation's key log and
// warns about what it did not do itself. Loaded lazily, after the startup check.

import { api, isOffline, segment } from "../api.js";
import { navigate } from "../app.js";
import { b64uEncode } from "../envelope.js";
import { comparisonCode, deviceMatches, signApproval } from "../keylog.js";
import { RECEIVING_ROLES, keepKeysFresh, rotateKey } from "../keyring.js";
import { loadDevice } from "../keystore.js";
import { keepTrust, keptTrust, reportEvent, verifiedLog } from "../trust.js";
import { button, formatMoment, h, messageSlot, notice, screen, whileBusy } from "./common.js";

const BY = { admin: "een beheerder", person: "de intern begeleider", device: "een ander " +
  "apparaat van u", server: "de server" };

// --- the area above each screen -------------------------------------------------------------

/** Where warnings and approval requests go: beside <main>, so a screen's redraw keeps them. */
function area() {
  let section = document.getElementById("trust");
  if (!section) {
    section = h("section", { id: "trust", class: "stack", "aria-label": "Veiligheid" });
    document.getElementById("main").before(section);
  }
  return section;
}

function show(...children) {
  const shown = children.filter(Boolean);
  area().replaceChildren(...shown);
  area().hidden = shown.length === 0; // no empty landmark
}

// --- a pending device -----------------------------------------------------------------------

/** A pending device (GET /api/me says so) shows its code and waits. */
export function pending(ctx) {
  show();
  waitingScreen(ctx);
  ctx.onRefresh(() => recheckPending(ctx));
}

async function ownCode() {
  const device = await loadDevice();
  return comparisonCode(b64uEncode(device.publicKeyRaw), device.sigKey);
}

async function waitingScreen(ctx) {
  const code = await ownCode();
  if (!ctx.active) return;
  const again = button("Opnieuw kijken", () => whileBusy(again, () => recheckPending(ctx)),
    "primary");
  screen("Wacht op goedkeuring",
    h("p", {}, "U heeft al een apparaat voor Handle with Care. Dat apparaat moet dit nieuwe " +
      "apparaat eerst goedkeuren. Tot dan ontvangt dit apparaat geen signalen."),
    h("p", {}, "De code van dit apparaat:"),
    h("p", { class: "ref-big", id: "device-code" }, code),
    h("p", {}, "Open Handle with Care op uw andere apparaat. Staat daar dezelfde code? Tik " +
      "daar dan op Toestaan."),
    again);
}

async function recheckPending(ctx) {
  const me = await api("/api/me").catch((error) => error);
  if (!ctx.active || me.pending || isOffline(me)) return;
  if (me instanceof Error) location.assign("/"); // declined: the startup check says so
  else {
    ctx.setMe(me);
    ctx.refresh();
  }
}

// --- approving another device of this person ------------------------------------------------

/** Approvals and self-monitoring now and at every refresh of this screen. */
export function watch(ctx) {
  if (!ctx.active) return;
  // Keys first: the self-check compares this device's current key with the log.
  const run = () => keyCare(ctx).then(() => Promise.all([approvals(ctx), selfCheck(ctx),
    systems(ctx), forgedInOurName(ctx)])).catch(() => {});
  run();
  ctx.onRefresh(run);
}

/** A weekly new key, and old keys destroyed once no live envelope needs them (keyring.js);
 * offline or refused, it is tried again at the next refresh. */
const keyCare = (ctx) => keepKeysFresh(ctx.me).catch(() => {});

async function approvals(ctx) {
  const list = await api("/api/me/pending");
  if (!ctx.active) return;
  if (list.length === 0) return clearPart("approval");
  if (list.length > 1) return part("approval", twoAtOnce(list));
  return part("approval", approvalPanel(ctx, list[0], await comparisonCode(list[0].enc_key,
    list[0].sig_key)));
}

const parts = {};
function part(name, element) {
  parts[name] = element;
  show(parts.approval, parts.machines, parts.warning, parts.forged);
}
const clearPart = (name) => part(name, null);

/** A sender's or admin's phone: the organisation's sending systems (views/machines.js). */
async function systems(ctx) {
  if (!ctx.me.org || !["sender", "admin"].includes(ctx.me.person.role)) return;
  const { machinesPanel } = await import("./machines.js");
  const panel = await machinesPanel(ctx, (done) => part("machines", done));
  if (ctx.active) part("machines", panel);
}

function approvalPanel(ctx, device, code) {
  const slot = messageSlot();
  const allow = button("Toestaan", () => whileBusy(allow, () => decide(ctx, device, true, slot)),
    "primary");
  const refuse = button("Weigeren", () => whileBusy(refuse, () => decide(ctx, device, false, slot)));
  return notice("warning",
    `Nieuw apparaat wil signalen ontvangen: '${device.label}', code ${code} — staat dezelfde ` +
    "code op het nieuwe apparaat?",
    "Weet u niet waar dit apparaat vandaan komt? Tik op Weigeren en meld het aan uw beheerder.",
    h("div", { class: "actions" }, allow, refuse), slot);
}

async function decide(ctx, device, allow, slot) {
  const path = `/api/me/devices/${segment(device.id)}/${allow ? "approve" : "decline"}`;
  try {
    const body = allow ? { approval: await approvalOf(ctx.me, device) } : {};
    await api(path, { method: "POST", body });
  } catch (error) {
    return slot.showError(error);
  }
  part("approval", notice("success", allow ? `'${device.label}' is toegevoegd.`
    : `'${device.label}' is geweigerd en krijgt geen signalen.`));
  return undefined;
}

/** This device's signature over the new device's keys (docs/keylog.md, approval statement). */
async function approvalOf(me, device) {
  const own = await loadDevice();
  return signApproval(own.signingKey, { device: device.id, enc_key: device.enc_key,
    org: me.org.id, person: me.person.id, sig_key: device.sig_key });
}

function twoAtOnce(list) {
  const slot = messageSlot();
  const refuse = button("Alle weigeren", () => whileBusy(refuse, async () => {
    try {
      for (const device of list) {
        await api(`/api/me/devices/${segment(device.id)}/decline`, { method: "POST" });
      }
    } catch (error) {
      return slot.showError(error);
    }
    return clearPart("approval");
  }), "primary");
  return notice("warning",
    `${list.length} nieuwe apparaten willen tegelijk signalen voor u ontvangen: ` +
    `${list.map((d) => `'${d.label}'`).join(", ")}. Dat staan we niet toe: u kunt dan niet ` +
    "zien welk apparaat van u is. Weiger ze en meld daarna één apparaat tegelijk aan. Kent u " +
    "ze niet? Meld het aan uw beheerder.",
    refuse, slot);
}

// --- self-monitoring ------------------------------------------------------------------------

/**
 * This person's entries in the key log after the one that added this device: a device this
 * device did not approve brings up a warning (once per entry; what was seen stays here).
 */
async function selfCheck(ctx) {
  const own = await loadDevice();
  const { me } = ctx;
  if (!me.org || !own?.sigKey) return; // no organisation, or a device from before signing keys
  await keepTrust("self", { org: me.org.id, person: me.person.id, device: own.deviceId });
  const { state, entries } = await verifiedLog(me.org.id);
  if (!ctx.active) return;
  if (!deviceMatches(state, own.deviceId, b64uEncode(own.publicKeyRaw), own.sigKey)) {
    await reportEvent("log_invalid", me.org.id);
    return part("warning", notice("error", "Let op: dit apparaat staat niet goed in het " +
      "controleerbare sleutellogboek van uw organisatie. Signalen aan u zijn misschien niet " +
      "veilig. Meld dit aan uw beheerder."));
  }
  // A device the server lists for this person (/api/me) that the log does not name active.
  const unlogged = me.devices?.find((d) => state.devices.get(d.id)?.active !== true);
  if (unlogged) {
    await reportEvent("unapproved_device", me.org.id);
    return part("warning", deviceWarning(ctx, unlogged.id, "Er staat een apparaat bij u " +
      `ingeschreven dat niet in het controleerbare sleutellogboek staat: '${unlogged.label}'.`));
  }
  const seen = (await keptTrust(`seen:${own.deviceId}`)) ?? -1;
  const mineAt = state.devices.get(own.deviceId).seq;
  const strange = entries.find((e) => e.seq > Math.max(seen, mineAt) && e.person === me.person.id &&
    e.kind === "device_added" && e.approver !== own.deviceId);
  return part("warning", strange ? strangeDevice(ctx, strange) : null);
}

function whoDid(by) {
  const [kind] = by.split(":");
  return BY[kind] ?? by;
}

function strangeDevice(ctx, entry) {
  const label = ctx.me.devices?.find((d) => d.id === entry.device)?.label ?? "een nieuw apparaat";
  const when = formatMoment(new Date(entry.at * 1000).toISOString());
  return deviceWarning(ctx, entry.device, "Er is een apparaat aan u toegevoegd dat dit " +
    `apparaat niet heeft goedgekeurd: '${label}', op ${when}, door ${whoDid(entry.by)}.`, entry);
}

/** The warning about another device of this person, with "blokkeer" (and "Dat was ik" for a
 * log entry, remembered here as seen). */
function deviceWarning(ctx, deviceId, text, entry = null) {
  const slot = messageSlot();
  const block = button("Dit was ik niet — blokkeer dit apparaat", () => whileBusy(block,
    async () => {
      try {
        await api(`/api/me/devices/${segment(deviceId)}/revoke`, { method: "POST" });
      } catch (error) {
        return slot.showError(error);
      }
      await reportEvent("unapproved_device", ctx.me.org.id);
      if (entry) await seenUpTo(entry);
      return part("warning", notice("success", "Het apparaat is geblokkeerd. Meld dit aan uw " +
        "beheerder."));
    }), "primary");
  const mine = entry && button("Dat was ik", () => whileBusy(mine, async () => {
    await seenUpTo(entry);
    part("warning", null);
  }));
  return notice("error", text,
    "Kan dat apparaat signalen voor u openen zonder dat u het weet? Blokkeer het dan.",
    h("div", { class: "actions" }, block, mine), slot);
}

const seenUpTo = async (entry) => keepTrust(`seen:${(await loadDevice()).deviceId}`, entry.seq);

// --- signals in this organisation's name that did not verify (issue 20) --------------------

const SIGNING_ROLES = ["admin", "sender", "contact", "officer"];

/** A recipient's app reported a signal with this organisation as its claimed sender that did
 * not verify: its signing people are told, until they tap "Gezien" (remembered here). */
async function forgedInOurName(ctx) {
  const { me } = ctx;
  if (!me.org || !SIGNING_ROLES.includes(me.person.role)) return;
  const seen = (await keptTrust("forged-seen")) ?? 0;
  const events = (await api("/api/me/security-events")).filter((e) => e.at > seen);
  if (!ctx.active) return;
  part("forged", events.length ? forgedNotice(events) : null);
}

function forgedNotice(events) {
  const latest = events[0].at;
  const gezien = button("Gezien", async () => {
    await keepTrust("forged-seen", latest);
    clearPart("forged");
  });
  const count = events.length === 1 ? "een signaal" : `${events.length} signalen`;
  return notice("error",
    `Let op: ${count} met uw organisatie als afzender kon${events.length === 1 ? "" : "den"} ` +
    "bij de ontvanger niet worden gecontroleerd (het laatste op " +
    `${formatMoment(new Date(latest * 1000).toISOString())}). Mogelijk doet iemand zich voor ` +
    "als uw organisatie, bijvoorbeeld met een gestolen API-sleutel. Meld dit aan uw beheerder.",
    h("div", { class: "actions" }, gezien));
}

// --- adding a device, and a device that was switched off ------------------------------------

/** "Apparaat toevoegen": a link for the person's new device, approved here afterwards. */
export async function addDevice(ctx) {
  let link;
  try {
    link = await api("/api/me/enrol-link", { method: "POST" });
  } catch (error) {
    return ctx.active && screen("Apparaat toevoegen", notice("error", error.message), back());
  }
  if (!ctx.active) return undefined;
  const svg = new DOMParser().parseFromString(link.qr, "image/svg+xml").documentElement;
  return screen("Apparaat toevoegen",
    h("p", {}, "Scan deze QR-code met de camera van uw nieuwe apparaat, of open de link daar. " +
      "Stuur hem niet door naar iemand anders."),
    h("div", { class: "qr" }, document.importNode(svg, true)),
    h("p", { class: "enrol-link" }, link.link),
    h("p", {}, "Het nieuwe apparaat toont dan een code van zes cijfers. Daarna vraagt dit " +
      "apparaat u om het nieuwe goed te keuren: tik op Toestaan als de codes gelijk zijn."),
    back());
}

const back = () => button("Terug", () => navigate("/"));

/** On the "Niet aangemeld" screen: why this device stopped, read from the public key log. */
export async function whyStopped() {
  Object.keys(parts).forEach(clearPart);
  const self = await keptTrust("self");
  if (!self) return null;
  const { state, entries } = await verifiedLog(self.org);
  if (state.devices.get(self.device)?.active !== false) return null;
  const end = entries.findLast((e) => e.person === self.person &&
    ["person_reset", "device_revoked", "person_revoked"].includes(e.kind));
  if (end?.kind === "device_revoked") {
    return `Dit apparaat is op ${formatMoment(new Date(end.at * 1000).toISOString())} ` +
      `geblokkeerd door ${whoDid(end.by)}. Weet u daar niets van? Bel uw beheerder.`;
  }
  if (end?.kind !== "person_reset") return null;
  return "Dit apparaat werkt niet meer: op " +
    `${formatMoment(new Date(end.at * 1000).toISOString())} heeft ${whoDid(end.by)} uw ` +
    "apparaten opnieuw ingesteld (bijvoorbeeld na een verloren of gewiste telefoon). Was u dat " +
    "niet, of weet u er niets van? Bel uw beheerder. Wilt u verder op dit apparaat? Vraag om " +
    "een nieuwe aanmeldlink.";
}

// --- a new key at once ----------------------------------------------------------------------

const NEW_KEY_DONE = "Dit apparaat heeft een nieuwe sleutel. Nieuwe signalen worden daarmee " +
  "versleuteld. De oude sleutel wordt gewist zodra geen signaal hem meer nodig heeft.";

/** "Nieuwe sleutel maken" in the device panel (device.js asks for it once drawn, so it stays
 * out of the first load): a suspected leak (a copy of the phone) replaces this device's key at
 * once; the weekly one happens by itself. Nothing on a device that is never sealed to. */
export function newKeyControl(me) {
  if (!me.org || !me.device.sig_key || !RECEIVING_ROLES.includes(me.person.role)) return "";
  const slot = messageSlot();
  const make = button("Nieuwe sleutel maken", () => whileBusy(make, async () => {
    slot.clear();
    try {
      await rotateKey(me);
    } catch (error) {
      return error.name === "ApiError" ? slot.showError(error)
        : slot.show("error", "Een nieuwe sleutel maken is niet gelukt. Probeer het opnieuw.");
    }
    return slot.show("success", NEW_KEY_DONE).focus();
  }), "secondary");
  return h("div", {},
    h("p", {}, "Denkt u dat iemand anders de sleutel van dit apparaat heeft (bijvoorbeeld een " +
      "kopie van de telefoon)? Maak dan een nieuwe."), make, slot);
}
