// A segment's current members (`GET /v1/segments/{id}/members`): pages over
// one frozen result (the API's cursor), columns chosen by the user
// (`fields=`), and a CSV export. The export needs the Authorization header,
// so it is fetched and saved as a Blob rather than linked.

import { enc, get, request } from './api.js';
import { dateValue, display, failure, h, heading, number, replace, saveBlob, select, toast } from './dom.js';

const PAGE_SIZES = ['10', '25', '50', '100'];
const IDENTITY = ['Email', 'MobilePhone', 'ExternalId'];

export async function membersPage(section, { id }) {
  const title = heading('Members');
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  section.append(title, body);

  let segment;
  let fields;
  try {
    [segment, fields] = await Promise.all([get(`/v1/segments/${enc(id)}`), get('/v1/fields')]);
    fields = fields.fields;
  } catch (error) {
    replace(body, failure(error));
    return;
  }
  const types = new Map(fields.map((f) => [f.name, f.type]));
  title.textContent = `Members of ${segment.name}`;
  document.title = `${segment.name} · flowseg`;

  const chosen = new Set(JSON.parse(sessionStorage.getItem(`flowseg.columns.${id}`) ?? '[]'));
  const columnChoices = fields
    .filter((f) => !IDENTITY.includes(f.name))
    .map((f) =>
      h(
        'label',
        { class: 'check' },
        h('input', {
          type: 'checkbox',
          value: f.name,
          checked: chosen.has(f.name),
          onchange: (e) => {
            if (e.target.checked) chosen.add(f.name);
            else chosen.delete(f.name);
            sessionStorage.setItem(`flowseg.columns.${id}`, JSON.stringify([...chosen]));
            load(null, []);
          },
        }),
        h('span', {}, f.name),
      ),
    );
  let pageSize = Number(sessionStorage.getItem('flowseg.pageSize') ?? 25);
  const sizeChoice = select({
    id: 'page-size',
    label: 'Members per page',
    choices: PAGE_SIZES.map((n) => [n, `${n} per page`]),
    value: String(pageSize),
    onchange: (v) => {
      pageSize = Number(v);
      sessionStorage.setItem('flowseg.pageSize', v);
      load(null, []);
    },
  });
  const summary = h('p', { id: 'members-summary', class: 'muted', 'aria-live': 'polite' });
  const table = h('div', { class: 'table-wrap' });
  const prev = h('button', { type: 'button', class: 'secondary', id: 'members-prev', disabled: true }, '← Previous');
  const next = h('button', { type: 'button', class: 'secondary', id: 'members-next', disabled: true }, 'Next →');
  const exportButton = h('button', { type: 'button', class: 'secondary', id: 'export-csv', onclick: () => exportCsv() }, 'Export CSV');

  replace(
    body,
    segment.description ? h('p', { class: 'description' }, segment.description) : null,
    h(
      'div',
      { class: 'toolbar' },
      h('a', { href: `#/segments/${enc(id)}/edit`, class: 'button secondary' }, 'Edit segment'),
      exportButton,
      h('a', { href: '#/segments', class: 'button ghost' }, 'All segments'),
    ),
    h('details', { class: 'columns' }, h('summary', {}, 'Columns'), h('fieldset', {}, h('legend', {}, 'Fields to show and export'), columnChoices)),
    summary,
    table,
    h('nav', { class: 'pager', 'aria-label': 'Pages of members' }, sizeChoice, prev, next),
  );

  // Cursors of the pages seen so far: the API pages forward only, so
  // "Previous" reloads the page before from its remembered cursor (over
  // the same frozen result, so pages stay consistent).
  let trail = [];
  let current = null;

  async function load(cursor, newTrail) {
    const columns = [...chosen];
    const size = pageSize;
    const params = new URLSearchParams({ limit: String(size) });
    if (columns.length) params.set('fields', columns.join(','));
    if (cursor) params.set('cursor', cursor);
    summary.textContent = 'Loading…';
    try {
      const page = await get(`/v1/segments/${enc(id)}/members?${params}`);
      trail = newTrail;
      current = cursor;
      // Changing the page size starts again from page 1, so this holds.
      const first = trail.length * size;
      summary.textContent = page.count
        ? `Showing ${number(first + 1)}–${number(first + page.members.length)} of ${number(page.count)} members (as of ${new Date(page.as_of).toLocaleTimeString('en-GB')}).`
        : 'This segment has no members right now.';
      replace(table, membersTable(page.members, [...IDENTITY, ...columns], types));
      prev.disabled = trail.length === 0;
      next.disabled = !page.next_cursor;
      next.onclick = () => load(page.next_cursor, [...trail, current]);
      prev.onclick = () => load(trail[trail.length - 1], trail.slice(0, -1));
    } catch (error) {
      replace(table, failure(error));
      summary.textContent = '';
    }
  }

  async function exportCsv() {
    const params = new URLSearchParams({ format: 'csv' });
    if (chosen.size) params.set('fields', [...chosen].join(','));
    exportButton.disabled = true;
    exportButton.textContent = 'Exporting…';
    try {
      const response = await request('GET', `/v1/segments/${enc(id)}/export?${params}`, { raw: true });
      const blob = await response.blob();
      saveBlob(blob, `${slug(segment.name)}-members.csv`);
      toast('The CSV export is downloading.');
    } catch (error) {
      toast(`Export failed: ${error.message}`);
    } finally {
      exportButton.disabled = false;
      exportButton.textContent = 'Export CSV';
    }
  }

  await load(null, []);
}

function membersTable(members, columns, types) {
  if (!members.length) return h('p', { class: 'empty' }, 'No members.');
  return h(
    'table',
    { class: 'members' },
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Contact'), columns.map((c) => h('th', { scope: 'col' }, c)))),
    h(
      'tbody',
      {},
      members.map((m) =>
        h(
          'tr',
          {},
          h('td', {}, h('a', { href: `#/contacts/${enc(m.id)}` }, m.id)),
          columns.map((c) => h('td', { 'data-label': c }, types.get(c) === 'date' ? dateValue(m[c]) : display(m[c]))),
        ),
      ),
    ),
  );
}

/** A file-name-safe form of a segment name. */
function slug(name) {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'segment';
}
