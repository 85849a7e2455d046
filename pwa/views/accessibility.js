// The accessibility statement (toegankelijkheidsverklaring), reachable without enrolment.

import { h, screen, textSection as section } from "./common.js";

const STATEMENT_DATE = "24 november 2026";

export function render() {
  screen("Toegankelijkheid",
    h("p", {}, "Handle with Care wil dat iedereen de app kan gebruiken, ook mensen met een " +
      "beperking. De app is gemaakt voor scholen, Veilig Thuis en leerplichtbureaus: " +
      "organisaties met een publieke taak."),
    section("Welke eisen volgen wij?",
      "De app moet voldoen aan de Web Content Accessibility Guidelines (WCAG) 2.1, niveau A en AA. " +
      "Die eisen staan ook in de Europese norm EN 301 549."),
    section("Wat hebben wij gedaan?",
      h("ul", {},
        h("li", {}, "Alle knoppen en velden hebben een duidelijke naam en werken met een toetsenbord " +
          "en met een schermlezer."),
        h("li", {}, "De tekst is groot en goed leesbaar, ook bij 200% zoom, op een smal scherm " +
          "en in donkere modus."),
        h("li", {}, "Kleuren hebben genoeg contrast. Informatie staat nooit alleen in een kleur."),
        h("li", {}, "Nieuwe signalen worden ook voorgelezen door een schermlezer."),
        h("li", {}, "Voor een handeling die u niet kunt terugdraaien, vraagt de app altijd eerst " +
          "of u het zeker weet.")),
      "Wij testen de app zelf, met automatische tests in een echte browser. Er is nog geen " +
      "onderzoek door een onafhankelijke partij gedaan."),
    section("Wat werkt nog niet goed?",
      "Op een iPhone of iPad krijgt u alleen meldingen als de app op het beginscherm staat. " +
      "Zonder meldingen ziet u nieuwe signalen als u de app opent."),
    section("Probleem gevonden?",
      "Kunt u iets niet gebruiken of lezen? Meld het aan de beheerder van uw organisatie. " +
      "Wij zoeken dan samen met u naar een oplossing."),
    h("p", { class: "muted" }, `Deze verklaring is opgesteld op ${STATEMENT_DATE}.`));
}
