// The accessibility statement (toegankelijkheidsverklaring), reachable without enrolment. It
// follows the Dutch model statement: status, the last assessment (date and method), known
// issues with their plan, the time limit, feedback and the Nationale ombudsman. The deploying
// organisation and its contact details come from the server's settings (GET /api/accessibility).

import { api } from "../api.js";
import { h, notice, plural, screen, textList as list, textSection as section } from "./common.js";

const ASSESSED_ON = "30 november 2026";
const OMBUDSMAN_URL = "https://www.nationaleombudsman.nl";
const OMBUDSMAN_PHONE = "0800 33 55 555";
const EMAIL = /^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/;
const PHONE = /^\+?[0-9][0-9 ()-]{5,}$/;


/** The operator's details; offline, a line that says where to find them. */
async function operator() {
  try {
    return await api("/api/accessibility");
  } catch {
    return null;
  }
}

function contactLines(who) {
  if (!who) {
    return [notice("warning", "De contactgegevens konden niet worden geladen. Open deze pagina " +
      "opnieuw als u verbinding heeft.")];
  }
  const email = EMAIL.test(who.email) ? h("a", { href: `mailto:${who.email}` }, who.email) : who.email;
  const phone = PHONE.test(who.phone)
    ? h("a", { href: `tel:${who.phone.replace(/[^+0-9]/g, "")}` }, who.phone) : who.phone;
  return [
    who.configured ? null : notice("warning", "De organisatie die deze app aanbiedt, heeft haar " +
      "naam en contactgegevens hier nog niet ingevuld."),
    h("dl", { class: "facts" },
      h("dt", {}, "Organisatie"), h("dd", {}, who.organisation),
      h("dt", {}, "E-mail"), h("dd", {}, email),
      h("dt", {}, "Telefoon"), h("dd", {}, phone)),
  ];
}

export async function render(ctx) {
  const who = await operator();
  if (!ctx.active) return;
  const organisation = who?.organisation ?? "de organisatie die deze app aanbiedt";
  screen("Toegankelijkheidsverklaring",
    h("p", {}, `${organisation} wil dat iedereen de app Handle with Care kan gebruiken, ook ` +
      "mensen met een beperking. Deze verklaring gaat over de app, de beheerpagina's en deze " +
      "pagina. De app is er voor scholen, Veilig Thuis en leerplichtbureaus: organisaties met " +
      "een publieke taak."),
    section("Welke eisen gelden?",
      "De app moet voldoen aan de Web Content Accessibility Guidelines (WCAG) 2.1, niveau A en AA. " +
      "Die eisen staan ook in de Europese norm EN 301 549 en in het Besluit digitale " +
      "toegankelijkheid overheid."),
    section("Status: C — eerste maatregelen genomen",
      "Wij hebben de app zelf onderzocht en de gevonden problemen opgelost of hieronder beschreven. " +
      "Een volledig onderzoek door een onafhankelijke deskundige volgens de onderzoeksmethode " +
      "WCAG-EM is nog niet gedaan. Daarom zeggen wij nog niet dat de app volledig (status A) of " +
      "gedeeltelijk (status B) voldoet.",
      "Plan: de organisatie die de app aanbiedt, laat dat onderzoek doen voordat zij een hogere " +
      "status opgeeft, en zet de uitkomst in deze verklaring."),
    section("Laatste onderzoek",
      `Datum: ${ASSESSED_ON}. Soort onderzoek: eigen onderzoek door de makers, geen onafhankelijke partij.`,
      "Zo is er getest:",
      list(
        "Elke taak van elke rol (melder, leerplichtambtenaar, intern begeleider, leerkracht, " +
          "beheerder) helemaal met alleen een toetsenbord, in Chromium. Na elke handeling staat de " +
          "focus op een zinvolle plek, en elke melding staat in een gebied dat een schermlezer " +
          "voorleest. Deze tests draaien bij elke wijziging.",
        "Automatisch met axe-core op elk scherm (WCAG 2.1 A en AA): geen fouten.",
        "Met Lighthouse (toegankelijkheid): 100 op de belangrijkste schermen.",
        "Een schermbreedte van 320 pixels, 200% zoom, extra tekstafstand en donkere modus.",
        "Knoppen en losse links zijn minstens 24 bij 24 pixels.")),
    section("Tijdslimiet voor de leerkracht",
      "Een leerkracht ziet een signaal maar kort: na het openen staat het " +
      `${who ? plural(who.view_grace_minutes, "minuut", "minuten") : "enkele minuten"} op het ` +
      "scherm en daarna verdwijnt het vanzelf. Zo blijft " +
      "de naam van het kind niet op een telefoon staan die open op tafel ligt. De app zegt vóór " +
      "het openen hoe lang het blijft staan en laat op het scherm zien om hoe laat het verdwijnt.",
      "Een minuut voor het einde verschijnt een waarschuwing die ook wordt voorgelezen. Met één " +
      `knop blijft het signaal ${who ? `${who.view_extend_minutes} minuten langer staan; dat ` +
        `kan ${who.view_max_extensions} keer` : "een paar keer wat langer staan"}. Dat langer ` +
      "tonen gebeurt " +
      "alleen op dat scherm: de server bewaart het signaal niet langer. Wij beroepen ons dus niet " +
      "op de uitzondering voor een noodzakelijke tijdslimiet."),
    section("Wat werkt nog niet goed, en wat doen we eraan?",
      list(
        "Op een iPhone of iPad krijgt u alleen meldingen als de app op het beginscherm staat. Dat " +
          "bepaalt Apple; wij kunnen het niet veranderen. Zonder meldingen ziet u nieuwe signalen " +
          "als u de app opent. De app legt uit hoe u haar op het beginscherm zet.",
        "De app is nog niet getest door mensen die een schermlezer (VoiceOver, TalkBack, NVDA) of " +
          "spraakbediening gebruiken. Plan: een test met ervaringsdeskundigen vóór het " +
          "onafhankelijke onderzoek.",
        "De toetsenbordtests draaien nog alleen in Chromium. Plan: ook in Safari (WebKit) en " +
          "Firefox, in de volgende versie.")),
    section("Probleem gevonden? Laat het ons weten",
      "Kunt u iets in de app niet gebruiken of lezen? Neem dan contact op met de organisatie die " +
      "de app aanbiedt. Vertel welke pagina of welk scherm het is en wat er niet lukt. U krijgt " +
      "binnen 5 werkdagen antwoord.",
      ...contactLines(who)),
    section("Niet tevreden met het antwoord?",
      `Bent u niet tevreden met hoe ${organisation} uw vraag of klacht heeft behandeld, of ` +
      "kreeg u niet op tijd antwoord? Dan kunt u gratis een klacht indienen bij de Nationale " +
      "ombudsman. Heeft uw gemeente een eigen ombudsman, dan kan het ook daar.",
      h("p", {}, "Nationale ombudsman: ", h("a", { href: OMBUDSMAN_URL }, "www.nationaleombudsman.nl"),
        `, telefoon ${OMBUDSMAN_PHONE} (gratis).`)),
    h("p", { class: "muted" }, `Deze verklaring is opgesteld op 24 november 2026 en bijgewerkt op ${ASSESSED_ON}.`));
}
