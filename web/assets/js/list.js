// The segments list: search by name, each segment's name, description and
// live member count (`GET /v1/segments/{id}/count`), and its actions: Show
// (members), Edit, Duplicate and Delete (after confirmation).

import { del, enc, get } from './api.js';
import { confirmDialog, failure, h, heading, number, replace, toast } from './dom.js';

/** Counts requested at once: enough to fill a screen quickly, gentle on the server. */
const COUNT_CONCURRENCY = 4;

export async function listPage(section) {
  document.title = 'Segments · flowseg';
  const search = h('input', {
    id: 'segment-search',
    type: 'search',
    placeholder: 'Search by name',
    autocomplete: 'off',
    value: sessionStorage.getItem('flowseg.search') ?? '',
  });
  const results = h('div', { class: 'segment-list' }, h('p', { class: 'muted' }, 'Loading…'));
  const summary = h('p', { class: 'muted', id: 'segment-summary', 'aria-live': 'polite' });
  section.append(
    h(
      'div',
      { class: 'page-head' },
      heading('Segments'),
      h('a', { href: '#/segments/new', class: 'button primary', id: 'new-segment' }, '+ New segment'),
    ),
    h('div', { class: 'search' }, h('label', { for: 'segment-search' }, 'Search segments by name'), search),
    summary,
    results,
  );

  let segments;
  try {
    segments = (await get('/v1/segments')).segments;
  } catch (error) {
    replace(results, failure(error));
    return;
  }
  segments.sort((a, b) => a.name.localeCompare(b.name));
  const rows = new Map(segments.map((s) => [s.id, row(s, () => remove(s))]));

  const filter = () => {
    const q = search.value.trim().toLowerCase();
    sessionStorage.setItem('flowseg.search', search.value);
    const shown = segments.filter((s) => s.name.toLowerCase().includes(q));
    summary.textContent = q
      ? `${shown.length} of ${segments.length} segments match “${search.value.trim()}”.`
      : `${segments.length} segment${segments.length === 1 ? '' : 's'}.`;
    if (!segments.length) {
      replace(results, h('p', { class: 'empty' }, 'No segments yet. ', h('a', { href: '#/segments/new' }, 'Build the first one'), '.'));
      return;
    }
    replace(
      results,
      h(
        'table',
        { class: 'segments' },
        h(
          'thead',
          {},
          h('tr', {}, h('th', { scope: 'col' }, 'Segment'), h('th', { scope: 'col', class: 'num' }, 'Members'), h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Actions'))),
        ),
        h('tbody', {}, shown.map((s) => rows.get(s.id))),
      ),
      shown.length ? null : h('p', { class: 'empty' }, 'No segment has that in its name.'),
    );
  };
  search.addEventListener('input', filter);
  filter();

  async function remove(s) {
    const ok = await confirmDialog({
      title: `Delete “${s.name}”?`,
      message: 'The segment’s definition is deleted for good; contacts and events stay. Campaigns that use it will no longer find it.',
    });
    if (!ok) {
      rows.get(s.id)?.querySelector('.delete')?.focus();
      return;
    }
    try {
      await del(`/v1/segments/${enc(s.id)}`);
      segments.splice(segments.indexOf(s), 1);
      rows.delete(s.id);
      toast(`Deleted segment “${s.name}”.`);
      filter();
      search.focus();
    } catch (error) {
      // 409: another segment references this one.
      toast(error.message);
      const cell = rows.get(s.id)?.querySelector('.row-error');
      if (cell) cell.textContent = error.message;
    }
  }

  // Live counts, a few at a time, into the rows already shown.
  const queue = [...segments];
  const worker = async () => {
    while (queue.length && section.isConnected) {
      const s = queue.shift();
      const cell = rows.get(s.id)?.querySelector('.count');
      try {
        const { count } = await get(`/v1/segments/${enc(s.id)}/count`);
        if (cell) {
          cell.textContent = number(count);
          cell.dataset.count = String(count);
        }
      } catch (error) {
        if (cell) {
          cell.textContent = 'n/a';
          cell.title = error.message;
        }
      }
    }
  };
  await Promise.all(Array.from({ length: COUNT_CONCURRENCY }, worker));
}

function row(s, remove) {
  return h(
    'tr',
    { 'data-segment': s.id },
    h(
      'td',
      { class: 'name-cell' },
      h('a', { href: `#/segments/${enc(s.id)}/members`, class: 'segment-name' }, s.name),
      s.description ? h('p', { class: 'description' }, s.description) : null,
      h('p', { class: 'row-error', role: 'status' }),
    ),
    h('td', { class: 'num' }, h('span', { class: 'count', 'aria-label': `Members of ${s.name}` }, '…')),
    h(
      'td',
      { class: 'actions' },
      h('a', { href: `#/segments/${enc(s.id)}/members`, class: 'button small', 'aria-label': `Show members of ${s.name}` }, 'Show'),
      h('a', { href: `#/segments/${enc(s.id)}/edit`, class: 'button small secondary', 'aria-label': `Edit ${s.name}` }, 'Edit'),
      h('a', { href: `#/segments/${enc(s.id)}/duplicate`, class: 'button small ghost', 'aria-label': `Duplicate ${s.name}` }, 'Duplicate'),
      h('button', { type: 'button', class: 'small danger-ghost delete', 'aria-label': `Delete ${s.name}`, onclick: remove }, 'Delete'),
    ),
  );
}
