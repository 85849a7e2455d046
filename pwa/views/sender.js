// The sender (Veilig Thuis, and leerplicht officers who send): a new signal in three steps —
// fill in, check, sent — and below it the progress of everything sent. The child's name lives
// only in this module's memory until it is sent, and is dropped right after.

import { api, apiOrKept } from "../api.js";
import { newSignalId } from "../envelope.js";
import { postSealed } from "../sealing.js";
import {
  ageOn, appLink, button, facts, formatBirthDate, formatMoment, formatNear, h, messageSlot, notice,
  offlineNotice, refreshButton, screen, setFieldError, uniqueId, whileBusy,
} from "./common.js";
import { describeOrg, schoolSearch } from "./schoolsearch.js";
import { sentSignalCard } from "./timeline.js";
import { devicePanel, pushReminder } from "./device.js";

// The draft being entered: {kind, org, name, day, month, year}. Memory only.
let draft = null;

// --- validation -----------------------------------------------------------------------------

export const cleanName = (raw) => raw.normalize("NFC").trim().replace(/\s+/g, " ");

/** The rules are the server's (`me.policy.child`: server/policy.py), not repeated here. */
export function nameProblem(name, rule) {
  if (!name) return "Vul de naam van het kind in.";
  const max = rule.name_max;
  if ([...name].length > max) return `De naam is te lang: hooguit ${max} tekens.`;
  if (!new RegExp(rule.name_pattern, "u").test(name)) {
    return "Gebruik alleen letters, spaties, streepjes (-), punten en apostroffen (').";
  }
  return null;
}

/** {iso} for a real date giving an age within the rule's bounds, else {error} in Dutch. */
export function checkBirthDate(day, month, year, rule, today = new Date()) {
  if (!day && !month && !year) return { error: "Vul de geboortedatum in." };
  const numbers = [day, month, year].map((v) => (/^\d+$/.test(v) ? Number(v) : NaN));
  const [d, m, y] = numbers;
  const date = new Date(Date.UTC(y, m - 1, d));
  const real = numbers.every(Number.isInteger) && year.length === 4 &&
    date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
  if (!real) return { error: "Dit is geen bestaande datum. Vul dag, maand en jaar in, zoals 4 3 2016." };
  const iso = `${year}-${String(m).padStart(2, "0")}-${String(d).padStart(2, "0")}`;
  const age = ageOn(iso, today);
  const { age_min: low, age_max: high } = rule;
  if (age < low || age > high) {
    return { error: `Controleer de geboortedatum: het kind is nu ${age < 0 ? "nog niet geboren" :
      `${age} jaar`}. Signalen gaan over kinderen van ${low} tot en met ${high} jaar.` };
  }
  return { iso };
}

// --- the screens ----------------------------------------------------------------------------

/** Home for senders; also the officers' "/nieuw". opts: {focusId, officer}. */
export async function render(ctx, opts = {}) {
  ctx.onLeave(() => { draft = null; });
  showForm(ctx, opts);
}

function field(label, input, { hint, error } = {}) {
  return h("div", { class: "field" }, h("label", { for: input.id }, label),
    hint ? h("p", { class: "hint", id: `${input.id}-hint` }, hint) : null, error, input);
}

function errorFor(input) {
  const error = h("p", { class: "field-error", id: `${input.id}-error`, hidden: true });
  const described = [input.getAttribute("aria-describedby"), error.id].filter(Boolean).join(" ");
  input.setAttribute("aria-describedby", described);
  error.set = (text) => setFieldError(error, input, text);
  return error;
}

/** Once a field's error shows, check it again on every change: the error goes when it is right. */
function recheckWhileWrong(inputs, error, problem) {
  for (const input of inputs) {
    input.addEventListener("input", () => {
      if (!error.hidden) setFieldError(error, inputs, problem());
    });
  }
}

function kindChoice(current, onChange) {
  const name = uniqueId("kind");
  const option = (value, text) => {
    const id = uniqueId("kind-option");
    return h("div", { class: "choice" },
      h("input", { type: "radio", id, name, value, checked: current === value,
        onchange: () => onChange(value) }),
      h("label", { for: id }, text));
  };
  return h("fieldset", { class: "field" }, h("legend", {}, "Sturen naar"),
    option("school", "De school van het kind"),
    option("leerplicht", "Een leerplichtbureau (dat zoekt de school)"));
}

function showForm(ctx, opts) {
  // Regions that route through leerplicht have that as their organisation's default.
  const defaultKind = ctx.me.org?.route === "leerplicht" ? "leerplicht" : "school";
  const saved = draft ?? { kind: defaultKind, org: null, name: "", day: "", month: "", year: "" };
  const search = schoolSearch({ kind: saved.kind, initial: saved.org });
  let kind = saved.kind;
  const nameInput = h("input", { id: uniqueId("child-name"), type: "text", autocomplete: "off",
    autocapitalize: "words", spellcheck: "false", maxlength: "150", value: saved.name });
  const nameError = errorFor(nameInput);
  const dateParts = [["Dag", "day", 2], ["Maand", "month", 2], ["Jaar", "year", 4]].map(
    ([label, key, size]) => h("input", { id: uniqueId(key), type: "text", inputmode: "numeric",
      autocomplete: "off", maxlength: String(size), class: `date-${key}`, value: saved[key],
      "data-label": label }));
  const dateHintId = uniqueId("date-hint");
  const dateError = h("p", { class: "field-error", id: uniqueId("date-error"), hidden: true });
  for (const input of dateParts) {
    input.setAttribute("aria-describedby", `${dateHintId} ${dateError.id}`);
  }
  const rule = ctx.me.policy?.child; // none in an older kept answer
  recheckWhileWrong([nameInput], nameError, () => nameProblem(cleanName(nameInput.value), rule));
  recheckWhileWrong(dateParts, dateError,
    () => checkBirthDate(...dateParts.map((input) => input.value.trim()), rule).error);
  const slot = messageSlot();
  const submit = h("button", { type: "submit", class: "button button-primary" }, "Controleren");

  const form = h("form", { class: "form", novalidate: true },
    h("p", {}, "Vul in naar wie het signaal gaat en om welk kind het gaat. Meer is niet nodig: " +
      "alleen naam en geboortedatum gaan mee, versleuteld."),
    kindChoice(kind, (next) => { kind = next; search.setKind(next); }),
    search.element,
    field("Naam van het kind", nameInput, { error: nameError }),
    h("fieldset", { class: "field date-field" }, h("legend", {}, "Geboortedatum"),
      h("p", { class: "hint", id: dateHintId }, "Bijvoorbeeld 4 3 2016"), dateError,
      h("div", { class: "date-inputs" }, dateParts.map((input) => h("div", { class: "date-part" },
        h("label", { for: input.id }, input.dataset.label), input)))),
    slot, submit);

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const [day, month, year] = dateParts.map((input) => input.value.trim());
    draft = { kind, org: search.selected(), name: cleanName(nameInput.value), day, month, year };
    const problems = validate(draft, rule, { search, nameInput, nameError, dateError, dateParts });
    if (problems.length) {
      problems[0].focus();
      return;
    }
    whileBusy(submit, () => prepareCheck(ctx, opts, slot));
  });

  const sections = [form];
  if (opts.officer) {
    sections.unshift(appLink("Terug naar signalen voor leerplicht", "/", ctx.navigate,
      { class: "back-link" }));
  }
  screen("Nieuw signaal", opts.officer ? null : pushReminder(ctx.me), ...sections, sentList(ctx, opts),
    opts.officer ? null : devicePanel(ctx.me, (me) => { ctx.setMe(me); ctx.refresh(); }));
}

function validate(values, rule, { search, nameInput, nameError, dateError, dateParts }) {
  const problems = [];
  const what = values.kind === "school" ? "een school" : "een leerplichtbureau";
  search.showError(values.org ? null : `Kies ${what} uit de lijst.`);
  if (!values.org) problems.push(search.input);
  const nameText = nameProblem(values.name, rule);
  nameError.set(nameText);
  if (nameText) problems.push(nameInput);
  const date = checkBirthDate(values.day, values.month, values.year, rule);
  setFieldError(dateError, dateParts, date.error);
  if (date.error) problems.push(dateParts.find((input) => !input.value.trim()) ?? dateParts[0]);
  else values.birthDate = date.iso;
  return problems;
}

async function prepareCheck(ctx, opts, slot) {
  slot.clear();
  let recipients;
  try {
    recipients = await api(`/api/schools/${encodeURIComponent(draft.org.id)}/recipients`);
  } catch (error) {
    slot.showError(error);
    return;
  }
  if (ctx.active) showCheck(ctx, opts, recipients);
}

function showCheck(ctx, opts, recipients) {
  const slot = messageSlot();
  const age = ageOn(draft.birthDate);
  const send = button("Versturen", () => whileBusy(send, () => sendSignal(ctx, opts, recipients, slot)), "primary");
  const who = draft.kind === "school" ? "De school" : "Het leerplichtbureau";
  screen("Controleer het signaal",
    h("p", {}, "Klopt alles? Na versturen kunt u het signaal niet meer veranderen."),
    facts([
      ["Naam", draft.name],
      ["Geboortedatum", `${formatBirthDate(draft.birthDate)} (${age}\u00a0jaar)`],
      [draft.kind === "school" ? "School" : "Leerplichtbureau", describeOrg(draft.org)],
    ], "facts facts-large"),
    h("p", {}, `${who} moet reageren vóór ${formatMoment(recipients.deadline)}.`),
    h("p", {}, notifyText(who, recipients.notify_at)),
    recipients.holiday_warning ? notice("warning", recipients.holiday_warning) : null,
    h("p", { class: "muted" }, `Het signaal gaat versleuteld naar ${recipients.devices.length === 1
      ? "1 aangemeld apparaat" : `${recipients.devices.length} aangemelde apparaten`}. ` +
      "Alleen die apparaten kunnen het openen."),
    slot,
    h("div", { class: "actions" }, send,
      button("Terug en aanpassen", () => showForm(ctx, opts))));
}

/** When the receivers hear of it: at once, or after their quiet hours (at night). */
function notifyText(who, iso) {
  if (Date.parse(iso) - Date.now() < 60_000) return `${who} krijgt direct een melding.`;
  return `${who} krijgt ${formatNear(iso).replace(/ (\d\d:\d\d)$/, " om $1")} een melding, ` +
    "na de nachtrust.";
}

async function sendSignal(ctx, opts, recipients, slot) {
  slot.clear();
  const signalId = newSignalId();
  const content = { name: draft.name, birth_date: draft.birthDate };
  let result;
  try {
    result = await postSealed("/api/signals", { org: draft.org.id }, recipients.devices, signalId,
      content,
      (envelopes) => ({ id: signalId, recipient_id: draft.org.id, envelopes }));
  } catch (error) {
    slot.showError(error);
    return;
  }
  draft = null; // the name leaves memory and, with the next screen, the DOM
  if (ctx.active) showSent(ctx, opts, result);
}

function showSent(ctx, opts, result) {
  screen("Signaal verstuurd",
    notice("success", "Het signaal is versleuteld verstuurd."),
    h("div", { class: "ref-block" },
      h("p", {}, "Noteer in uw dossier:"),
      h("p", { class: "ref-big" }, result.ref)),
    h("p", {}, `Reageren vóór ${formatMoment(result.deadline)}. Hieronder ziet u hoe ver het ` +
      "signaal is. Reageert niemand op tijd, dan krijgt u een melding om te bellen."),
    result.holiday_warning ? notice("warning", result.holiday_warning) : null,
    button("Nog een signaal versturen", () => showForm(ctx, opts), "primary"),
    sentList(ctx, opts));
}

/** "Verstuurde signalen": refreshed on every refresh event while on screen. */
function sentList(ctx, opts) {
  const list = h("ul", { class: "cards" });
  const status = h("div", {}, h("p", { class: "loading" }, "Signalen worden geladen."));
  const section = h("section", { class: "stack", "aria-labelledby": "sent-heading" },
    h("div", { class: "section-head" }, h("h2", { id: "sent-heading" }, "Verstuurde signalen"),
      refreshButton(() => load())),
    status, list);

  async function load() {
    let signals;
    let at;
    try {
      ({ value: signals, at } = await apiOrKept("/api/signals"));
    } catch (error) {
      status.replaceChildren(notice("error", error.message));
      return;
    }
    const mine = opts.officer ? signals.filter((s) => s.sent_by_us) : signals;
    status.replaceChildren(at ? offlineNotice(at) : "",
      mine.length ? "" : h("p", { class: "empty" }, "Nog geen verstuurde signalen."));
    list.replaceChildren(...mine.map((signal) => {
      const card = sentSignalCard(signal);
      card.id = `signaal-${signal.id}`;
      card.tabIndex = -1;
      return card;
    }));
    if (opts.focusId) {
      document.getElementById(`signaal-${opts.focusId}`)?.focus();
      opts.focusId = null;
    }
  }

  load();
  // One refresh listener per screen context, always reloading the list now on screen.
  if (!ctx.reloadSent) ctx.onRefresh(() => ctx.reloadSent());
  ctx.reloadSent = load;
  return section;
}
