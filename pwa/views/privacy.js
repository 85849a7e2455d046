// The privacy page for staff (B1 Dutch), reachable without enrolment: what the app keeps on
// the phone and on the server, and for how long. The terms are the settings' defaults;
// tests/test_inventory.py holds them to server/settings.py and docs/gegevens.md.

import { h, screen, textList as list, textSection as section } from "./common.js";

const TERMS = {
  HWC_VIEW_GRACE_MINUTES: 10,
  HWC_MAX_DAYS: 7,
  HWC_STATUS_RETENTION_DAYS: 14,
  HWC_ENROL_TOKEN_DAYS: 7,
  HWC_TOKEN_RETENTION_DAYS: 30,
  HWC_REVOKED_RETENTION_DAYS: 30,
  HWC_AUDIT_RETENTION_DAYS: 365,
};

export function render() {
  screen("Privacy",
    h("p", {}, "Met deze app krijgt u een Handle with Care-signaal van Veilig Thuis of " +
      "leerplicht. Hier leest u welke gegevens de app bewaart, waar, en hoe lang."),
    section("Het kind",
      "De naam en geboortedatum van het kind zijn versleuteld. Alleen uw telefoon kan ze " +
      "lezen. De server en de beheerder kunnen dat niet. Een melding op uw scherm noemt " +
      "nooit een naam: er staat alleen „Nieuw signaal — open de app”."),
    section("Op uw telefoon",
      list("Een geheime sleutel. Alleen met deze sleutel opent uw telefoon een signaal. " +
        "De sleutel gaat nooit van uw telefoon af.",
        "Een inlogcode (een cookie). Zo weet de server dat dit uw telefoon is.",
        "De bestanden van de app, zodat hij snel opent.",
        "Het laatste overzicht van signalen (zonder namen en zonder inhoud), om het zonder " +
        "verbinding te kunnen tonen."),
      "De app bewaart geen naam van een kind op uw telefoon. U ziet de naam alleen zolang " +
      "het signaal open is op uw scherm."),
    section("Op de server",
      list("Uw naam, uw rol, uw school en uw groep of klas.",
        "Uw telefoon: de naam die u hem gaf, wanneer u hem aanmeldde, wanneer de app voor " +
        "het laatst contact had, en het adres voor meldingen.",
        "Van elk signaal: hoe ver het is (bijvoorbeeld „gezien door leerkracht”) en wanneer. " +
        "Zonder naam van het kind.",
        "Het beheerlog: wie een aanmeldlink voor u maakte, en wie een telefoon van u " +
        "aanmeldde, goedkeurde of uitzette, en wanneer. Zonder gegevens van kinderen.")),
    section("Hoe lang?",
      list(`Uw kopie van een signaal: weg zodra u op „Gelezen” tikt, of ` +
        `${TERMS.HWC_VIEW_GRACE_MINUTES} minuten nadat u het opende. Op uw andere ` +
        "telefoons is het meteen weg.",
        `Alle kopieën van een signaal: weg als het signaal klaar is, en uiterlijk ` +
        `${TERMS.HWC_MAX_DAYS} dagen na het versturen.`,
        `Hoe ver een signaal is (zonder naam): ${TERMS.HWC_STATUS_RETENTION_DAYS} dagen ` +
        "nadat het signaal klaar is.",
        `Een aanmeldlink werkt ${TERMS.HWC_ENROL_TOKEN_DAYS} dagen en maar één keer. ` +
        `Daarna bewaart de server hem nog ${TERMS.HWC_TOKEN_RETENTION_DAYS} dagen.`,
        "Gaat u weg, of levert u uw telefoon in? Dan zet de beheerder uw toegang uit. " +
        `${TERMS.HWC_REVOKED_RETENTION_DAYS} dagen later zijn uw gegevens helemaal weg. ` +
        "De beheerder kan ze ook meteen wissen.",
        `Het beheerlog: ${TERMS.HWC_AUDIT_RETENTION_DAYS} dagen. Zijn uw gegevens gewist? ` +
        "Dan staat daar alleen nog uw rol, niet uw naam.")),
    section("Wie ziet uw gegevens?",
      list("De beheerder: uw naam, uw telefoons en wanneer die voor het laatst contact hadden.",
        "De intern begeleider van uw school: hetzelfde. Zo kan hij of zij u een signaal " +
        "sturen en uw toegang regelen.",
        "De melder bij Veilig Thuis of leerplicht ziet uw naam niet.")),
    section("Uw rechten",
      "Wilt u weten welke gegevens er over u zijn? Of wilt u dat ze weggaan? Vraag het de " +
      "beheerder van uw organisatie. Die kan alles laten zien en alles wissen. U kunt ook " +
      "terecht bij de functionaris gegevensbescherming van uw schoolbestuur."),
    h("p", { class: "muted" }, "Dit zijn de standaardtermijnen. Uw organisatie kan andere " +
      "termijnen kiezen. De beheerder weet welke voor u gelden."));
}
