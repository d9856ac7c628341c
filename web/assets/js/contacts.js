// Contacts: finding one (by email, phone, external id or id, or browsing
// `GET /v1/contacts`), and the contact page — its fields, the timeline of
// its events and visits (newest first, paged), and the segments it is in,
// each with "why" (explain). Any other segment can be checked too, to see
// why the contact is not in it.

import { ApiError, enc, get } from './api.js';
import { dateValue, display, failure, h, heading, replace, select, when } from './dom.js';
import { explainTree } from './explain.js';

const PAGE_SIZE = 50;

export async function contactsPage(section) {
  document.title = 'Contacts · flowseg';
  const by = select({
    id: 'lookup-by',
    label: 'Find by',
    choices: [
      ['email', 'Email'],
      ['phone', 'Mobile phone'],
      ['external_id', 'External id'],
      ['id', 'Contact id'],
    ],
    value: 'email',
    onchange: () => {},
  });
  const value = h('input', { id: 'lookup-value', type: 'search', 'aria-label': 'Value to find', autocomplete: 'off', required: true });
  const message = h('p', { class: 'muted', role: 'status' });
  const list = h('div', { class: 'table-wrap' }, h('p', { class: 'muted' }, 'Loading…'));
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'More contacts');
  section.append(
    heading('Contacts'),
    h(
      'form',
      {
        class: 'lookup',
        onsubmit: async (e) => {
          e.preventDefault();
          const v = value.value.trim();
          if (!v) return;
          if (by.value === 'id') {
            location.hash = `#/contacts/${enc(v)}`;
            return;
          }
          message.textContent = 'Looking…';
          try {
            const contact = await get(`/v1/contacts?${by.value}=${enc(v)}`);
            location.hash = `#/contacts/${enc(contact.id)}`;
          } catch (error) {
            message.textContent = error.status === 404 ? 'No contact has that identity.' : error.message;
          }
        },
      },
      by,
      value,
      h('button', { type: 'submit', class: 'primary' }, 'Find'),
    ),
    message,
    h('h2', {}, 'All contacts'),
    list,
    more,
  );

  const rows = h('tbody');
  let first = true;
  const load = async (cursor) => {
    try {
      const page = await get(`/v1/contacts?limit=${PAGE_SIZE}${cursor ? `&cursor=${enc(cursor)}` : ''}`);
      if (first) {
        replace(
          list,
          h(
            'table',
            { class: 'members' },
            h('thead', {}, h('tr', {}, ['Contact', 'Email', 'Name', 'Mobile phone'].map((c) => h('th', { scope: 'col' }, c)))),
            rows,
          ),
        );
        first = false;
      }
      rows.append(
        ...page.contacts.map((c) =>
          h(
            'tr',
            {},
            h('td', {}, h('a', { href: `#/contacts/${enc(c.id)}` }, c.id)),
            h('td', { 'data-label': 'Email' }, display(c.Email)),
            h('td', { 'data-label': 'Name' }, display([c.FirstName, c.LastName].filter(Boolean).join(' '))),
            h('td', { 'data-label': 'Mobile phone' }, display(c.MobilePhone)),
          ),
        ),
      );
      more.hidden = !page.next_cursor;
      more.onclick = () => load(page.next_cursor);
    } catch (error) {
      replace(list, failure(error));
    }
  };
  await load(null);
}

export async function contactPage(section, { id }) {
  const title = heading(`Contact ${id}`);
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  section.append(title, body);
  document.title = `Contact ${id} · flowseg`;

  let contact;
  let fields;
  let member;
  let segments;
  try {
    [contact, fields, member, segments] = await Promise.all([
      get(`/v1/contacts/${enc(id)}`),
      get('/v1/fields'),
      get(`/v1/contacts/${enc(id)}/segments`),
      get('/v1/segments'),
    ]);
  } catch (error) {
    replace(body, error instanceof ApiError && error.status === 404 ? h('p', { class: 'error-box' }, `There is no contact ${id}.`) : failure(error));
    return;
  }
  const name = [contact.FirstName, contact.LastName].filter(Boolean).join(' ');
  title.textContent = name || contact.Email || `Contact ${id}`;
  document.title = `${title.textContent} · flowseg`;
  const segmentNames = new Map(segments.segments.map((s) => [s.id, s.name]));

  const timeline = h('ol', { class: 'timeline', id: 'timeline' });
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Older events');

  replace(
    body,
    h('p', { class: 'muted' }, `Contact id ${contact.id}`),
    h(
      'div',
      { class: 'contact-grid' },
      h(
        'section',
        { class: 'card', 'aria-labelledby': 'fields-title' },
        h('h2', { id: 'fields-title' }, 'Fields'),
        h(
          'dl',
          { class: 'fields' },
          fields.fields.map((f) => [h('dt', {}, f.name, h('span', { class: 'type' }, f.type)), h('dd', { title: f.type === 'date' ? contact[f.name] ?? '' : null }, f.type === 'date' ? dateValue(contact[f.name]) : display(contact[f.name]))]),
        ),
      ),
      h(
        'section',
        { class: 'card', 'aria-labelledby': 'segments-title' },
        h('h2', { id: 'segments-title' }, 'Segments'),
        member.segments.length
          ? h('ul', { class: 'contact-segments' }, member.segments.map((s) => segmentItem(s, id, segmentNames)))
          : h('p', { class: 'muted' }, 'Not in any saved segment right now.'),
        otherSegment(segments.segments, member.segments, id, segmentNames),
      ),
      h('section', { class: 'card wide', 'aria-labelledby': 'timeline-title' }, h('h2', { id: 'timeline-title' }, 'Timeline'), timeline, more),
    ),
  );

  const load = async (cursor) => {
    try {
      const page = await get(`/v1/contacts/${enc(id)}/events?limit=${PAGE_SIZE}${cursor ? `&cursor=${enc(cursor)}` : ''}`);
      if (!cursor && !page.events.length) timeline.append(h('li', { class: 'muted' }, 'No events yet.'));
      timeline.append(...page.events.map(eventItem));
      more.hidden = !page.next_cursor;
      more.onclick = () => load(page.next_cursor);
    } catch (error) {
      timeline.append(h('li', {}, failure(error)));
    }
  };
  await load(null);
}

function eventItem(e) {
  const attrs = Object.entries(e.attributes ?? {});
  return h(
    'li',
    { class: `event source-${e.source}` },
    h('time', { datetime: e.time, title: e.time }, when(e.time)),
    h('span', { class: 'event-name' }, e.name),
    h('span', { class: `badge ${e.source}` }, e.source),
    attrs.length ? h('span', { class: 'attrs' }, attrs.map(([k, v]) => h('span', { class: 'attr' }, h('span', { class: 'k' }, k), ' ', display(v)))) : null,
  );
}

/** A segment the contact is in, with a "Why?" toggle that loads explain. */
function segmentItem(s, contactId, segmentNames) {
  const panel = h('div', { class: 'why', id: `why-${s.id}`, hidden: true });
  const button = h(
    'button',
    {
      type: 'button',
      class: 'small secondary',
      'aria-expanded': 'false',
      'aria-controls': panel.id,
      'aria-label': `Why is this contact in ${s.name}?`,
      onclick: async () => {
        const open = panel.hidden;
        panel.hidden = !open;
        button.setAttribute('aria-expanded', String(open));
        if (open && !panel.childElementCount) await explainInto(panel, s.id, contactId, segmentNames);
      },
    },
    'Why?',
  );
  return h('li', {}, h('div', { class: 'segment-line' }, h('a', { href: `#/segments/${enc(s.id)}/members` }, s.name), button), panel);
}

function otherSegment(all, memberOf, contactId, segmentNames) {
  const inSet = new Set(memberOf.map((s) => s.id));
  const others = all.filter((s) => !inSet.has(s.id));
  if (!others.length) return null;
  const panel = h('div', { class: 'why', id: 'why-other' });
  const choice = select({
    id: 'why-not',
    label: 'Why not in another segment?',
    placeholder: 'Choose a segment…',
    choices: others.map((s) => [s.id, s.name]),
    value: '',
    onchange: async (v) => {
      panel.replaceChildren();
      if (v) await explainInto(panel, v, contactId, segmentNames);
    },
  });
  return h('div', { class: 'why-not' }, h('label', { for: 'why-not' }, 'Why not in another segment?'), choice, panel);
}

async function explainInto(panel, segmentId, contactId, segmentNames) {
  panel.replaceChildren(h('p', { class: 'muted' }, 'Explaining…'));
  try {
    const answer = await get(`/v1/segments/${enc(segmentId)}/explain?contact=${enc(contactId)}`);
    panel.replaceChildren(explainTree(answer, segmentNames));
  } catch (error) {
    panel.replaceChildren(failure(error));
  }
}
