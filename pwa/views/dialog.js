// Modal questions (the native <dialog>), loaded by common.js the first time one is asked: only
// the screens that act on a signal ask them, so no phone's first visit carries them.

import { button, focusAfterAction, h, uniqueId } from "./common.js";

/**
 * A modal question: resolves with the value of the choice tapped ([value, text, kind] each),
 * or null on cancel or Escape. Focus starts on the safe choice (cancel) and goes back to what
 * opened the dialog. `extra` is shown below the text (e.g. a field).
 */
export function chooseAction({ title, text, choices, cancel = "Annuleren", extra = null }) {
  const opener = document.activeElement;
  const titleId = uniqueId("dialog-title");
  const textId = uniqueId("dialog-text");
  let answer;
  const answered = new Promise((resolve) => { answer = resolve; });
  // Answered at once, not on the dialog's later "close" event: by then focus is already back on
  // the opener, which would still be busy for a key pressed in between.
  const finish = (value) => {
    dialog.close();
    dialog.remove();
    focusAfterAction(opener);
    answer(value);
  };
  const safe = button(cancel, () => finish(null), "secondary", { autofocus: true });
  const onEscape = (event) => {
    event.preventDefault();
    finish(null);
  };
  const dialog = h("dialog", { class: "dialog", "aria-labelledby": titleId,
    "aria-describedby": textId, oncancel: onEscape },
    h("h2", { id: titleId }, title),
    h("div", { id: textId }, ...[text].flat().map((t) => h("p", {}, t))),
    extra,
    h("div", { class: "actions" },
      ...choices.map(([value, label, kind = "secondary"]) => button(label, () => finish(value), kind)),
      safe));
  document.body.append(dialog);
  dialog.showModal();
  safe.focus();
  return answered;
}

/** A modal question for irreversible actions; resolves true only on the confirm button. */
export async function confirmAction({ title, text, confirm, cancel, danger = false, extra }) {
  const choice = await chooseAction({ title, text, cancel, extra,
    choices: [["yes", confirm, danger ? "danger" : "primary"]] });
  return choice === "yes";
}
