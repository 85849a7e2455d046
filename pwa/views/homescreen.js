// An iPhone or iPad outside the home screen gets no notifications: before enrolling, the way to
// put the app there first (loaded only on such a phone).

import { button, h, messageSlot, screen } from "./common.js";

export function render(token, enrolHere) {
  const slot = messageSlot();
  const copy = button("Kopieer de aanmeldlink", async () => {
    try {
      await navigator.clipboard.writeText(`${location.origin}/aanmelden#${token}`);
      slot.show("success", "De link is gekopieerd. Plak hem straks in de app.");
    } catch {
      slot.show("error", "Kopiëren lukte niet. Houd de link in uw bericht ingedrukt en kies Kopieer.");
    }
  }, "primary");
  screen("Zet de app eerst op uw beginscherm",
    h("p", {}, "Op een iPhone of iPad werken meldingen alleen als Handle with Care op het " +
      "beginscherm staat. Doe dit eerst:"),
    h("ol", { class: "steps" },
      h("li", {}, "Kopieer de aanmeldlink met de knop hieronder."),
      h("li", {}, "Tik onderin Safari op Deel (het vierkantje met de pijl omhoog)."),
      h("li", {}, "Kies Zet op beginscherm en tik op Voeg toe."),
      h("li", {}, "Open Handle with Care vanaf uw beginscherm en plak daar de link.")),
    copy, slot,
    h("p", {}, "Wilt u geen meldingen? Dan kunt u ook hier in Safari aanmelden."),
    button("Toch hier aanmelden, zonder meldingen", enrolHere));
}
