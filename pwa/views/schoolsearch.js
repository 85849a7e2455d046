// Search-as-you-type for a school or leerplicht office: the ARIA 1.2 combobox pattern
// (an input that controls a listbox), usable with arrow keys, Enter, Escape and by tapping.

import { api } from "../api.js";
import { h, setFieldError, uniqueId } from "./common.js";

const DEBOUNCE_MS = 250;
const MIN_QUERY = 2;

const KINDS = {
  school: { label: "School", hint: "Typ de naam, de plaats of de BRIN-code.",
    none: "Geen school gevonden. Probeer een andere naam of plaats.", found: ["school", "scholen"] },
  leerplicht: { label: "Leerplichtbureau", hint: "Typ de naam of de gemeente.",
    none: "Geen leerplichtbureau gevonden. Probeer een andere gemeente.",
    found: ["leerplichtbureau", "leerplichtbureaus"] },
};

export function describeOrg(org) {
  const where = org.kind === "leerplicht" ? org.municipalities : org.place;
  return [org.name, where].filter(Boolean).join(", ");
}

function optionDetail(org) {
  if (org.kind === "leerplicht") return org.municipalities ? `Gemeenten: ${org.municipalities}` : "";
  return [org.place, org.code && `BRIN ${org.code}`].filter(Boolean).join(" · ");
}

/** The widget. `onChange(org | null)` runs whenever the choice changes. */
export function schoolSearch({ kind = "school", onChange = () => {}, initial = null } = {}) {
  const ids = { input: uniqueId("search"), list: uniqueId("results"), hint: uniqueId("hint"),
    status: uniqueId("status"), error: uniqueId("error") };
  let currentKind = kind;
  let results = [];
  let active = -1;
  let selected = null;
  let timer;
  let sequence = 0;

  const label = h("label", { for: ids.input }, KINDS[kind].label);
  const hint = h("p", { class: "hint", id: ids.hint }, KINDS[kind].hint);
  const error = h("p", { class: "field-error", id: ids.error, hidden: true });
  const input = h("input", { id: ids.input, type: "text", role: "combobox", autocomplete: "off",
    spellcheck: "false", "aria-autocomplete": "list", "aria-expanded": "false",
    "aria-controls": ids.list, "aria-describedby": `${ids.hint} ${ids.error}` });
  const list = h("ul", { id: ids.list, role: "listbox", class: "listbox", hidden: true,
    "aria-label": "Zoekresultaten" });
  const status = h("p", { class: "visually-hidden", id: ids.status, "aria-live": "polite" });
  const chosen = h("p", { class: "chosen", hidden: true });
  const element = h("div", { class: "field combobox" }, label, hint, error, input, list, status, chosen);

  function setOpen(open) {
    list.hidden = !open;
    input.setAttribute("aria-expanded", String(open));
    if (!open) setActive(-1);
  }

  function setActive(index) {
    active = index;
    [...list.children].forEach((li, i) => {
      li.setAttribute("aria-selected", String(i === index));
    });
    if (index >= 0) {
      input.setAttribute("aria-activedescendant", list.children[index].id);
      list.children[index].scrollIntoView({ block: "nearest" });
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  }

  function choose(org) {
    selected = org;
    input.value = org ? org.name : input.value;
    chosen.hidden = !org;
    chosen.textContent = org ? `Gekozen: ${describeOrg(org)}` : "";
    setOpen(false);
    showError(null);
    onChange(org);
  }

  function render() {
    list.replaceChildren(...results.map((org, index) => h("li", {
      id: `${ids.list}-${index}`, role: "option", class: "option", "aria-selected": "false",
      onpointerdown: (event) => event.preventDefault(), // keep focus in the input
      onclick: () => choose(org),
    }, h("span", { class: "option-name" }, org.name), " ",
    h("span", { class: "option-detail" }, optionDetail(org)))));
    const [one, many] = KINDS[currentKind].found;
    status.textContent = results.length
      ? `${results.length} ${results.length === 1 ? one : many} gevonden. Kies met de pijltjestoetsen.`
      : KINDS[currentKind].none;
    if (!results.length) list.append(h("li", { class: "option-empty", role: "presentation" },
      KINDS[currentKind].none));
    setOpen(true);
  }

  async function search(query) {
    const mine = ++sequence;
    const params = new URLSearchParams({ q: query });
    if (currentKind === "leerplicht") params.set("kind", "leerplicht");
    try {
      const found = await api(`/api/schools?${params}`);
      if (mine !== sequence) return; // a newer query is under way
      results = found;
      render();
    } catch (failure) {
      if (mine === sequence) showError(failure.message);
    }
  }

  function showError(text) {
    setFieldError(error, input, text);
  }

  input.addEventListener("input", () => {
    if (selected) choose(null);
    clearTimeout(timer);
    const query = input.value.trim();
    if (query.length < MIN_QUERY) {
      sequence++;
      results = [];
      setOpen(false);
      return;
    }
    timer = setTimeout(() => search(query), DEBOUNCE_MS);
  });

  input.addEventListener("keydown", (event) => {
    const open = !list.hidden && results.length > 0;
    if (event.key === "ArrowDown" && results.length) {
      event.preventDefault();
      if (list.hidden) setOpen(true);
      setActive(Math.min(active + 1, results.length - 1));
    } else if (event.key === "ArrowUp" && open) {
      event.preventDefault();
      setActive(Math.max(active - 1, 0));
    } else if (event.key === "Enter" && open && active >= 0) {
      event.preventDefault();
      choose(results[active]);
    } else if (event.key === "Escape" && !list.hidden) {
      event.preventDefault();
      setOpen(false);
    }
  });

  element.addEventListener("focusout", (event) => {
    if (!element.contains(event.relatedTarget)) setOpen(false);
  });

  if (initial) choose(initial);

  return {
    element,
    input,
    selected: () => selected,
    showError,
    setKind(next) {
      currentKind = next;
      label.textContent = KINDS[next].label;
      hint.textContent = KINDS[next].hint;
      input.value = "";
      results = [];
      sequence++;
      if (selected) choose(null);
      setOpen(false);
    },
  };
}
