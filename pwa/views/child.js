// The decrypted content on screen: name and birth date, large, and its proven sender. Shown only
// while its screen is open; the router empties the screen on leaving, and nothing is stored.

import { ageOn, formatBirthDate, h } from "./common.js";

export function childBlock(content) {
  return h("dl", { class: "child" },
    h("dt", {}, "Naam"),
    h("dd", { class: "child-name" }, content.name),
    h("dt", {}, "Geboortedatum"),
    h("dd", { class: "child-born" },
      `${formatBirthDate(content.birth_date)} (${ageOn(content.birth_date)}\u00a0jaar)`));
}

/** A verified signal's "Van: …" (and "Doorgestuurd door …"). */
export const fromLines = ({ shown }) => shown && h("div", { class: "verified-from" },
  shown.map((line) => h("p", {}, line)));

