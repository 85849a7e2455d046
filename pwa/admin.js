// Admin pages: every form is sent as JSON with the X-HWC header to the API route named in its
// data-api attribute, so the pages follow the same rules as the app. No inline script (CSP).
//
// Focus and announcements: an error is an alert, linked to the field it is about (which gets
// focus); after a change that reloads the page, the form's data-done text is shown in the
// page's status region and focused there, so nobody is left at the top wondering.

const DONE_KEY = 'hwc-admin-done'; // sessionStorage: one line of text, never personal data

const form_fields = (form) => {
  const body = {};
  // Empty optional fields are left out, so the server applies its defaults.
  for (const [name, value] of new FormData(form)) if (value !== '') body[name] = value;
  return body;
};

const alert_of = (form) => {
  let alert = form.querySelector('[role="alert"]');
  if (!alert) {
    alert = document.createElement('p');
    alert.setAttribute('role', 'alert');
    alert.setAttribute('tabindex', '-1');
    alert.className = 'error';
    alert.id = `${form.dataset.api.replace(/\W+/g, '-')}-error`;
    form.append(alert);
  }
  return alert;
};

const clear_error = (form) => {
  form.querySelector('[role="alert"]')?.remove();
  for (const field of form.querySelectorAll('[aria-invalid]')) {
    field.removeAttribute('aria-invalid');
    const ids = (field.getAttribute('aria-describedby') || '').split(' ');
    const kept = ids.filter((id) => id && !id.endsWith('-error')).join(' ');
    if (kept) field.setAttribute('aria-describedby', kept);
    else field.removeAttribute('aria-describedby');
  }
};

/** Show `message` in the form; when it is about one field, mark that field and focus it. */
const show_error = (form, message, field_name) => {
  clear_error(form);
  const alert = alert_of(form);
  alert.textContent = message;
  const field = field_name && form.elements.namedItem(field_name);
  if (field instanceof HTMLElement && field.type !== 'hidden') {
    field.setAttribute('aria-invalid', 'true');
    const ids = [field.getAttribute('aria-describedby'), alert.id].filter(Boolean).join(' ');
    field.setAttribute('aria-describedby', ids);
    field.focus();
  } else {
    alert.focus();
  }
};

const fill = (section, values) => {
  for (const [field, value] of Object.entries(values)) {
    const element = section.querySelector(`[data-field="${field}"]`);
    if (!element) continue;
    if (field === 'qr') {
      const svg = new DOMParser().parseFromString(value, 'image/svg+xml').documentElement;
      element.replaceChildren(document.importNode(svg, true));
    } else if (field === 'link') {
      element.textContent = value;
      element.href = value;
    } else {
      element.textContent = value;
    }
  }
  section.hidden = false;
  section.scrollIntoView({ block: 'start' });
  section.focus();
};

const element = (tag, props, text = '') => Object.assign(document.createElement(tag), props,
  text ? { textContent: text } : {});

/**
 * The page's own confirmation (not the browser's confirm(), which focuses OK): focus starts on
 * "Annuleren", the safe choice, and goes back to the button that asked. Resolves true on yes.
 */
const ask = (question, yes_text) => new Promise((resolve) => {
  const opener = document.activeElement;
  const dialog = element('dialog', { className: 'confirm' });
  const text = element('p', { id: 'confirm-question' }, question);
  const choices = element('form', { method: 'dialog', className: 'actions' });
  const no = element('button', { value: 'no', autofocus: true }, 'Annuleren');
  choices.append(element('button', { value: 'yes', className: 'danger' }, yes_text), no);
  dialog.setAttribute('aria-labelledby', text.id);
  dialog.append(text, choices);
  dialog.addEventListener('close', () => {
    resolve(dialog.returnValue === 'yes');
    dialog.remove();
    opener?.focus();
  });
  document.body.append(dialog);
  dialog.showModal();
  no.focus();
});

const THEN = {
  reload: (result, form) => {
    // An import may say what it changed (counts only, never personal data).
    const done = result.summary || form.dataset.done;
    if (done) sessionStorage.setItem(DONE_KEY, done);
    location.reload();
  },
  link: (result) => fill(document.getElementById('aanmeldlink'), result),
  key: (result) => fill(document.getElementById('api-key'), { key: result.api_key }),
  leave: (_result, form) => location.assign(form.dataset.next),
};

async function submit(event) {
  const form = event.target;
  if (!form.dataset.api) return;
  event.preventDefault();
  const button = form.querySelector('button[type="submit"]');
  // Busy, not disabled: a disabled button would drop keyboard focus to the page body.
  if (button.getAttribute('aria-disabled') === 'true') return;
  if (form.dataset.confirm && !await ask(form.dataset.confirm, form.dataset.confirmYes || 'Ja')) return;
  button.setAttribute('aria-disabled', 'true');
  try {
    const response = await fetch(form.dataset.api, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-HWC': '1' },
      body: JSON.stringify(form_fields(form)),
    });
    const result = await response.json();
    if (!response.ok) {
      show_error(form, result.message || 'Dat lukte niet.', result.field);
      return;
    }
    clear_error(form);
    (THEN[form.dataset.then] || THEN.reload)(result, form);
  } catch {
    show_error(form, 'Geen verbinding met de server. Probeer het opnieuw.');
  } finally {
    button.removeAttribute('aria-disabled');
  }
}

/** After a reload: say what the last change did, in the status region, and focus it. */
function report_done() {
  const text = sessionStorage.getItem(DONE_KEY);
  const status = document.getElementById('status');
  sessionStorage.removeItem(DONE_KEY);
  if (!text || !status) return;
  // Filled a moment after load, so screen readers take it as a change to the live region.
  setTimeout(() => {
    status.textContent = text;
    status.focus();
  }, 100);
}

document.addEventListener('submit', submit);
document.addEventListener('click', (event) => {
  if (event.target.matches('[data-print]')) window.print();
});
report_done();
