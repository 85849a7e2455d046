// A teacher not in the app yet: their school's contact makes the one-time enrolment link on
// the signal screen (contacts may enrol their own teachers). Loaded when first asked for.

import { api, segment } from "../api.js";
import { button, h, plural, screen, whileBusy } from "./common.js";
import { chooseAction } from "./dialog.js";

/** Make their enrolment link here, or (`tellInPerson`) close the signal: told in person. */
export async function notInApp(ctx, teacher, tap, tellInPerson) {
  const choice = await chooseAction({
    title: `${teacher.name} heeft nog geen apparaat`,
    text: ["Deze leerkracht staat nog niet in de app. Doorsturen kan pas als de leerkracht een " +
      "telefoon heeft aangemeld.",
    "Maak een aanmeldlink: de leerkracht scant de QR-code met de eigen telefoon. Of vertel het " +
      "de leerkracht zelf."],
    choices: [["link", "Aanmeldlink maken", "primary"], ["told", "Ik vertel het de leerkracht zelf"]],
  });
  if (choice === "told") return tellInPerson();
  return choice === "link" ? whileBusy(tap, () => showTeacherLink(ctx, teacher)) : undefined;
}

/** Make the teacher's one-time enrolment link and show it as a QR code to scan. */
export async function showTeacherLink(ctx, teacher) {
  const made = await api(`/api/admin/people/${segment(teacher.person_id)}/enrol-link`,
    { method: "POST" });
  if (!ctx.active) return;
  const svg = new DOMParser().parseFromString(made.qr, "image/svg+xml").documentElement;
  const days = plural(ctx.me.enrol_token_days, "dag", "dagen");
  screen(`Aanmeldlink voor ${made.name}`,
    h("div", { class: "qr" }, document.importNode(svg, true)),
    h("ol", {},
      h("li", {}, "Laat de leerkracht deze QR-code scannen met de camera van de eigen telefoon."),
      h("li", {}, "Op een iPhone: eerst Deel → Zet op beginscherm, en de app vanaf het " +
        "beginscherm openen."),
      h("li", {}, "Daarna tikt de leerkracht op \"Dit apparaat aanmelden\" en zet meldingen aan.")),
    h("p", { class: "enrol-link" }, made.link),
    h("p", { class: "muted" }, `De link werkt één keer en verloopt na ${days}. Deel hem niet ` +
      "met anderen."),
    h("div", { class: "actions" },
      button("Terug naar het signaal", () => ctx.refresh(), "primary")));
}
