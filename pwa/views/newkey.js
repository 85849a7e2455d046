// "Nieuwe sleutel maken" in the device panel (issue 20 item 4): a suspected leak (a copy of the
// phone) replaces this device's key at once; the weekly one happens by itself (keyring.js).
// Loaded after the panel is drawn, so the first load stays small.

import { RECEIVING_ROLES, rotateKey } from "../keyring.js";
import { button, h, messageSlot, whileBusy } from "./common.js";

const DONE = "Dit apparaat heeft een nieuwe sleutel. Nieuwe signalen worden daarmee versleuteld. " +
  "De oude sleutel wordt gewist zodra geen signaal hem meer nodig heeft.";
const FAILED = "Een nieuwe sleutel maken is niet gelukt. Probeer het opnieuw.";

/** The device panel's part (device.js, loaded later): the control on a receiving device that
 * can sign a new key; nothing elsewhere. */
export default function newKeyControl(me) {
  if (!me.org || !me.device.sig_key || !RECEIVING_ROLES.includes(me.person.role)) return "";
  const slot = messageSlot();
  const make = button("Nieuwe sleutel maken", () => whileBusy(make, async () => {
    slot.clear();
    try {
      await rotateKey(me);
    } catch (error) {
      return error.name === "ApiError" ? slot.showError(error) : slot.show("error", FAILED);
    }
    return slot.show("success", DONE).focus();
  }), "secondary");
  return h("div", {},
    h("p", {}, "Denkt u dat iemand anders de sleutel van dit apparaat heeft (bijvoorbeeld een " +
      "kopie van de telefoon)? Maak dan een nieuwe."), make, slot);
}
