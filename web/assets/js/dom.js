// A tiny element builder and formatting helpers. The panel has no
// framework: pages build their DOM with `h` and re-render the parts that
// change, which keeps the embedded code small and free of a build step.

/**
 * Creates an element. `props`: `class`, `text`, `on<event>` handlers,
 * `value`/`checked`/`disabled`/`selected` as properties, anything else as an
 * attribute (`true` → empty attribute; `false`/`null`/`undefined` → none).
 * Children may be nodes, strings, numbers, arrays, or null/false (skipped).
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  let value;
  for (const [k, v] of Object.entries(props ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2), v);
    } else if (k === 'class') {
      el.className = v;
    } else if (k === 'text') {
      el.textContent = v;
    } else if (k === 'value') {
      // A select's value can only be set once its options exist.
      value = v;
    } else if (k === 'checked' || k === 'disabled' || k === 'selected' || k === 'hidden') {
      el[k] = Boolean(v);
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  if (value !== undefined) el.value = value;
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.append(child);
    else el.append(document.createTextNode(String(child)));
  }
}

/** `<option>`s from `[value, label]` pairs or plain strings. */
export function options(list, selected) {
  return list.map((o) => {
    const [value, label] = Array.isArray(o) ? o : [o, o];
    return h('option', { value, selected: value === selected }, label);
  });
}

/** A labelled `<select>`; `onchange` receives the new value. */
export function select({ id, label, choices, value, onchange, ptr, cls, placeholder }) {
  const list = placeholder ? [['', placeholder], ...choices] : choices;
  return h(
    'select',
    {
      id,
      class: cls,
      'aria-label': label,
      'data-ptr': ptr,
      value: value ?? '',
      onchange: (e) => onchange(e.target.value),
    },
    options(list, value ?? ''),
  );
}

/** Replaces an element's children. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const whole = new Intl.NumberFormat('en');

/** 12345 → "12,345". */
export function number(n) {
  return typeof n === 'number' ? whole.format(n) : String(n ?? '—');
}

/** An RFC 3339 instant as the reader's local date and time. */
export function when(instant) {
  if (!instant) return '—';
  const d = new Date(instant);
  if (Number.isNaN(d.getTime())) return instant;
  return d.toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short' });
}

/**
 * A date field's value: a plain date (stored as midnight UTC) as the date
 * alone, an instant in the reader's local time.
 */
export function dateValue(value) {
  if (typeof value !== 'string' || value === '') return display(value);
  const day = /^(\d{4}-\d{2}-\d{2})T00:00:00(\.000)?Z$/.exec(value);
  return day ? day[1] : when(value);
}

/** A field or attribute value for display. */
export function display(value) {
  if (value === null || value === undefined || value === '') return '—';
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (typeof value === 'number') return Number.isInteger(value) ? whole.format(value) : String(value);
  return String(value);
}

/** Shows a short message in the polite live region. */
export function toast(message) {
  const el = document.getElementById('toast');
  if (!el) return;
  el.textContent = message;
  el.classList.add('shown');
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => el.classList.remove('shown'), 4000);
}

/** A page heading that receives focus after navigation (for screen readers). */
export function heading(text) {
  return h('h1', { tabindex: '-1', class: 'page-title' }, text);
}

/** Runs `fn` after `ms` of quiet; calling again restarts the wait. */
export function debounce(fn, ms) {
  let timer;
  const run = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
  run.cancel = () => clearTimeout(timer);
  return run;
}

/**
 * Asks for confirmation in a modal `<dialog>` (focus is trapped and Escape
 * cancels, natively). Resolves to true when confirmed.
 */
export function confirmDialog({ title, message, confirm = 'Delete', danger = true }) {
  return new Promise((resolve) => {
    const dialog = h(
      'dialog',
      { class: 'dialog', 'aria-labelledby': 'dialog-title' },
      h('h2', { id: 'dialog-title' }, title),
      h('p', {}, message),
      h(
        'form',
        { method: 'dialog', class: 'dialog-actions' },
        h('button', { value: 'cancel', class: 'ghost', autofocus: true }, 'Cancel'),
        h('button', { value: 'confirm', class: danger ? 'danger' : 'primary' }, confirm),
      ),
    );
    dialog.addEventListener('close', () => {
      resolve(dialog.returnValue === 'confirm');
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** Saves bytes as a file through a temporary object URL. */
export function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: filename, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  // Give the download time to start before the URL is released.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** An error message paragraph for a failed load. */
export function failure(error) {
  return h('p', { class: 'error-box', role: 'alert' }, error?.message ?? String(error));
}
