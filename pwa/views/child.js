// The decrypted content on screen: name and birth date, large. Shown only while its screen is
// open; the router empties the screen on leaving, and nothing here is stored anywhere.

import { ageOn, formatBirthDate, h } from "./common.js";

export function childBlock(content) {
  return h("dl", { class: "child" },
    h("dt", {}, "Naam"),
    h("dd", { class: "child-name" }, content.name),
    h("dt", {}, "Geboortedatum"),
    h("dd", { class: "child-born" },
      `${formatBirthDate(content.birth_date)} (${ageOn(content.birth_date)}\u00a0jaar)`));
}
