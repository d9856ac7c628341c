// The panel's entry point: sign-in with an account's secret key, the hash
// router, and focus handling between pages. Hash routes need nothing from
// the server beyond `/` and `/assets/`, and survive a reload.

import { get, session, whenUnauthorized } from './api.js';
import { h, heading, replace } from './dom.js';
import { listPage } from './list.js';
import { builderPage } from './builder.js';
import { membersPage } from './members.js';
import { contactPage, contactsPage } from './contacts.js';

const ROUTES = [
  [/^#\/segments\/?$/, (s) => listPage(s)],
  [/^#\/segments\/new$/, (s) => builderPage(s)],
  [/^#\/segments\/([^/]+)\/edit$/, (s, id) => builderPage(s, { id })],
  [/^#\/segments\/([^/]+)\/duplicate$/, (s, id) => builderPage(s, { copyOf: id })],
  [/^#\/segments\/([^/]+)\/members$/, (s, id) => membersPage(s, { id })],
  [/^#\/contacts\/?$/, (s) => contactsPage(s)],
  [/^#\/contacts\/([^/]+)$/, (s, id) => contactPage(s, { id })],
];

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const signOut = document.getElementById('sign-out');

function signInPage(message) {
  document.title = 'Sign in · flowseg';
  nav.hidden = true;
  signOut.hidden = true;
  const key = h('input', {
    id: 'secret-key',
    type: 'password',
    autocomplete: 'off',
    spellcheck: 'false',
    required: true,
    'aria-describedby': 'key-help key-error',
  });
  const error = h('p', { id: 'key-error', class: 'field-error', role: 'alert' }, message ?? '');
  const form = h(
    'form',
    {
      class: 'card sign-in',
      onsubmit: async (e) => {
        e.preventDefault();
        const value = key.value.trim();
        if (!value) {
          error.textContent = 'Paste your account’s secret key.';
          key.focus();
          return;
        }
        button.disabled = true;
        error.textContent = '';
        try {
          // Any secret-key endpoint tells whether the key works.
          await get('/v1/fields', { key: value });
          session.set(value);
          if (!location.hash || location.hash === '#/' || location.hash === '#') location.hash = '#/segments';
          else route();
        } catch (err) {
          button.disabled = false;
          error.textContent =
            err.status === 401
              ? 'This key is not valid. Use the secret key returned when the account was created.'
              : err.status === 403
                ? 'This is a public key: the panel needs the account’s secret key.'
                : err.message;
          key.focus();
        }
      },
    },
    h('label', { for: 'secret-key' }, 'Secret key'),
    key,
    h('p', { id: 'key-help', class: 'muted' }, 'The key is kept in this browser tab only, and forgotten when the tab closes.'),
    error,
  );
  const button = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  form.append(button);
  replace(main, h('section', { class: 'page narrow' }, heading('Sign in to flowseg'), form));
  key.focus();
}

async function route() {
  if (!session.key) {
    signInPage();
    return;
  }
  nav.hidden = false;
  signOut.hidden = false;
  const hash = location.hash || '#/segments';
  for (const link of nav.querySelectorAll('a')) {
    const active = hash.startsWith(link.getAttribute('href'));
    if (active) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  for (const [pattern, page] of ROUTES) {
    const m = pattern.exec(hash);
    if (!m) continue;
    // A fresh section per visit: a slow load for a page already left
    // writes into a detached element and is never seen.
    const section = h('section', { class: 'page' });
    replace(main, section);
    const args = m.slice(1).map(decodeURIComponent);
    const done = page(section, ...args);
    focusHeading(section);
    await done;
    return;
  }
  location.hash = '#/segments';
}

/** Moves focus to the new page's heading, so keyboard and screen-reader users start there. */
function focusHeading(section) {
  const title = section.querySelector('h1');
  if (title && !section.querySelector(':focus')) title.focus({ preventScroll: true });
  window.scrollTo(0, 0);
}

signOut.addEventListener('click', () => {
  session.clear();
  sessionStorage.clear();
  signInPage('You are signed out.');
});

whenUnauthorized(() => {
  session.clear();
  signInPage('The key stopped working (it may have been revoked). Sign in again.');
});

window.addEventListener('hashchange', route);
route();
