// Enrolment went through, but this browser did not keep the device's cookie (WebKit on plain
// http, a private window, cookies blocked): the link stays usable for a few minutes
// (ENROL_RETRY_SECONDS on the server), by this browser once fixed or by another one.

import { button, h, notice, screen } from "./common.js";

export function render(me, retry) {
  screen("Aanmelden is niet gelukt",
    notice("error", "Deze browser heeft de aanmelding niet bewaard: hij weigert het cookie van " +
      "deze app. Dat gebeurt in een privévenster, als cookies uit staan, of in Safari op een " +
      "adres zonder https."),
    h("p", {}, `Uw aanmeldlink werkt nog ${me.enrol_retry_minutes} minuten. Open hem in die ` +
      "tijd opnieuw: in een andere browser, of hier nadat u cookies heeft toegestaan. Daarna " +
      "vraagt u uw beheerder of intern begeleider om een nieuwe link."),
    button("Opnieuw proberen", retry, "primary"));
}
