// Admin pages: every form is sent as JSON with the X-HWC header to the API route named in its
// data-api attribute, so the pages follow the same rules as the app. No inline script (CSP).

const form_fields = (form) => {
  const body = {};
  // Empty optional fields are left out, so the server applies its defaults.
  for (const [name, value] of new FormData(form)) if (value !== '') body[name] = value;
  return body;
};

const show_error = (form, message) => {
  let alert = form.querySelector('[role="alert"]');
  if (!alert) {
    alert = document.createElement('p');
    alert.setAttribute('role', 'alert');
    alert.className = 'error';
    form.append(alert);
  }
  alert.textContent = message;
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
  section.focus?.();
};

const THEN = {
  reload: () => location.reload(),
  link: (result) => fill(document.getElementById('aanmeldlink'), result),
  key: (result) => fill(document.getElementById('api-key'), { key: result.api_key }),
  leave: (result, form) => location.assign(form.dataset.next),
};

async function submit(event) {
  const form = event.target;
  if (!form.dataset.api) return;
  event.preventDefault();
  if (form.dataset.confirm && !confirm(form.dataset.confirm)) return;
  const button = form.querySelector('button[type="submit"]');
  button.disabled = true;
  try {
    const response = await fetch(form.dataset.api, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-HWC': '1' },
      body: JSON.stringify(form_fields(form)),
    });
    const result = await response.json();
    if (!response.ok) {
      show_error(form, result.message || 'Dat lukte niet.');
      return;
    }
    (THEN[form.dataset.then] || THEN.reload)(result, form);
  } catch {
    show_error(form, 'Geen verbinding met de server. Probeer het opnieuw.');
  } finally {
    button.disabled = false;
  }
}

document.addEventListener('submit', submit);
document.addEventListener('click', (event) => {
  if (event.target.matches('[data-print]')) window.print();
});
