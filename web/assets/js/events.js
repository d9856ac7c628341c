// The details of an event row: attribute filters (`where`), the time
// window (`within`), the count or aggregate, and followed-by /
// not-followed-by. Controls carry `data-ptr` below the row's rule node, as
// in conditions.js, so validation errors land on them.

import { h, select } from './dom.js';
import { opAndValue, valueEditor } from './editors.js';
import {
  ATTR_OPS,
  ATTR_TYPES,
  COUNT_OPS,
  KNOWN_ATTRIBUTES,
  MEASURES,
  SEQUENCE_MODES,
  SYSTEM_EVENTS,
  WITHIN_MODES,
  attrTypeOf,
  editorFor,
  emptyValue,
  valueComplete,
} from './ops.js';
import { newFilter } from './model.js';

/** Event names offered for a kind: the catalog's, plus the platform's own. */
export function eventNames(ctx, kind) {
  const seen = [...ctx.catalog.values()].filter((e) => e.source === kind).map((e) => e.name);
  if (kind === 'system') return [...new Set([...SYSTEM_EVENTS, ...seen])];
  return seen;
}

/** Attributes offered for an event: those seen, plus the platform's own. */
export function attributesOf(ctx, event) {
  const seen = ctx.catalog.get(event)?.attributes ?? [];
  const known = event === 'Visit' ? KNOWN_ATTRIBUTES.Visit : SYSTEM_EVENTS.includes(event) ? KNOWN_ATTRIBUTES.system : [];
  const byName = new Map(known.map((a) => [a.name, a]));
  for (const a of seen) byName.set(a.name, a);
  return [...byName.values()];
}

export function eventDetails(c, ctx, label, structural, typing) {
  const event = c.kind === 'visit' ? 'Visit' : c.event;
  const attrs = attributesOf(ctx, event);
  const listId = `${c.key}-attrs`;
  const numericListId = `${c.key}-numeric-attrs`;
  const parts = [
    h('datalist', { id: listId }, attrs.map((a) => h('option', { value: a.name }))),
    h(
      'datalist',
      { id: numericListId },
      attrs.filter((a) => a.types?.includes('number')).map((a) => h('option', { value: a.name })),
    ),
    detailLine(
      'Where',
      filtersEditor(c.where, { ctx, attrsNow: () => attributesOf(ctx, c.kind === 'visit' ? 'Visit' : c.event), listId, idBase: `${c.key}-w`, label: `${label}, filter`, ptrBase: '/where', structural, typing }),
    ),
    detailLine('When', withinEditor(c, label, structural, typing)),
    detailLine('How often', measureEditor(c, label, numericListId, structural, typing)),
    detailLine('Then', sequenceEditor(c, ctx, label, structural, typing)),
  ];
  return h('div', { class: 'event-details' }, parts);
}

function detailLine(title, ...content) {
  return h('div', { class: 'detail-line' }, h('span', { class: 'detail-title' }, title), h('div', { class: 'detail-body' }, content));
}

/** Attribute filters (`where`), of an event or of its follow-up event. */
function filtersEditor(filters, { ctx, attrsNow, listId, idBase, label, ptrBase, structural, typing }) {
  const rows = filters.map((f, i) => {
    const l = `${label} ${i + 1}`;
    const id = `${f.key}`;
    const ptr = `${ptrBase}/${i}`;
    // The event may have been typed since this was rendered: look it up now.
    const known = (name) => attrsNow().find((a) => a.name === name);
    return h(
      'div',
      { class: 'filter', 'data-filter': f.key },
      h('input', {
        id: `${id}-attr`,
        type: 'text',
        list: listId,
        'aria-label': `${l}: attribute`,
        'data-ptr': `${ptr}/attribute`,
        placeholder: 'attribute',
        value: f.attribute,
        oninput: (e) => {
          f.attribute = e.target.value.trim();
          // Naming a known attribute (typed or picked from the list) sets
          // the value type it was seen with, while no value was entered.
          const a = known(f.attribute);
          const type = a ? attrTypeOf(a.types) : f.valueType;
          const untouched = !valueComplete(editorFor(f.valueType, f.op), f.value);
          if (type !== f.valueType && untouched) {
            f.valueType = type;
            f.op = ATTR_OPS[type][0];
            f.value = emptyValue(editorFor(type, f.op));
            structural();
          } else {
            typing();
          }
        },
      }),
      select({
        id: `${id}-type`,
        label: `${l}: value type`,
        choices: ATTR_TYPES,
        value: f.valueType,
        onchange: (v) => {
          f.valueType = v;
          if (!ATTR_OPS[v].includes(f.op)) f.op = ATTR_OPS[v][0];
          f.value = emptyValue(editorFor(v, f.op));
          structural();
        },
      }),
      opAndValue(f, f.valueType, ATTR_OPS[f.valueType], id, l, ptr, structural, typing),
      h(
        'button',
        {
          type: 'button',
          class: 'ghost icon',
          'aria-label': `Remove ${l}`,
          onclick: () => {
            filters.splice(i, 1);
            structural();
          },
        },
        '✕',
      ),
    );
  });
  const add = h(
    'button',
    {
      type: 'button',
      class: 'ghost small',
      id: `${idBase}-add`,
      'aria-label': `${label}: add an attribute filter`,
      onclick: () => {
        const f = newFilter();
        f.op = ATTR_OPS.text[0];
        f.value = '';
        filters.push(f);
        ctx.changed(true, `${f.key}-attr`);
      },
    },
    '+ Attribute filter',
  );
  return [rows, add];
}

function withinEditor(c, label, structural, typing) {
  const w = c.within;
  const out = [
    select({
      id: `${c.key}-within`,
      label: `${label}: time window`,
      ptr: '/within',
      choices: WITHIN_MODES,
      value: w.mode,
      onchange: (v) => {
        w.mode = v;
        structural();
      },
    }),
  ];
  if (w.mode === 'last' || w.mode === 'before') {
    out.push(
      valueEditor('duration', {
        id: `${c.key}-within-d`,
        label: `${label}: window length`,
        value: w.duration,
        ptr: `/within/${w.mode}`,
        onInput: (v) => {
          w.duration = v;
          typing();
        },
      }),
    );
  } else if (w.mode === 'range') {
    const side = (key, name) =>
      valueEditor('date', {
        id: `${c.key}-within-${key}`,
        label: `${label}: ${name}`,
        value: w[key],
        ptr: `/within/${key}`,
        onInput: (v) => {
          w[key] = v;
          typing();
        },
      });
    out.push(side('from', 'from (inclusive)'), h('span', { class: 'and' }, 'to'), side('to', 'to (exclusive)'));
  }
  return out;
}

function measureEditor(c, label, numericListId, structural, typing) {
  const m = c.measure;
  const key = m.mode === 'count' ? 'count' : 'aggregate';
  const out = [
    select({
      id: `${c.key}-measure`,
      label: `${label}: measure`,
      ptr: `/${key}/fn`,
      choices: MEASURES,
      value: m.mode,
      onchange: (v) => {
        m.mode = v;
        structural();
      },
    }),
  ];
  if (m.mode !== 'count') {
    out.push(
      h('input', {
        id: `${c.key}-agg-attr`,
        type: 'text',
        list: numericListId,
        'aria-label': `${label}: numeric attribute`,
        'data-ptr': '/aggregate/attribute',
        placeholder: 'numeric attribute',
        value: m.attribute,
        oninput: (e) => {
          m.attribute = e.target.value.trim();
          typing();
        },
      }),
    );
  }
  out.push(
    select({
      id: `${c.key}-measure-op`,
      label: `${label}: comparison`,
      ptr: `/${key}/op`,
      choices: COUNT_OPS,
      value: m.op,
      onchange: (v) => {
        const wasRange = m.op === 'between';
        m.op = v;
        if (wasRange !== (v === 'between')) m.value = v === 'between' ? [null, null] : null;
        structural();
      },
    }),
    valueEditor(m.op === 'between' ? 'number-range' : 'number', {
      id: `${c.key}-measure-value`,
      label: `${label}: ${m.mode === 'count' ? 'number of times' : 'amount'}`,
      value: m.value,
      ptr: `/${key}/value`,
      onInput: (v) => {
        m.value = v;
        typing();
      },
    }),
  );
  if (m.mode === 'count') out.push(h('span', { class: 'muted' }, 'times'));
  return out;
}

function sequenceEditor(c, ctx, label, structural, typing) {
  const s = c.sequence;
  const out = [
    select({
      id: `${c.key}-seq`,
      label: `${label}: follow-up`,
      choices: SEQUENCE_MODES,
      value: s.mode,
      onchange: (v) => {
        s.mode = v;
        structural();
      },
    }),
  ];
  if (s.mode === 'none') return out;
  const ptr = `/${s.mode}`;
  const attrs = attributesOf(ctx, s.event);
  const listId = `${c.key}-seq-attrs`;
  out.push(
    h('input', {
      id: `${c.key}-seq-event`,
      type: 'text',
      list: 'all-event-names',
      'aria-label': `${label}: follow-up event`,
      'data-ptr': `${ptr}/event`,
      placeholder: 'event name',
      value: s.event,
      oninput: (e) => {
        s.event = e.target.value.trim();
        fillAttributeLists(ctx, s.event, listId);
        typing();
      },
    }),
    h('span', { class: 'muted' }, 'within'),
    valueEditor('duration', {
      id: `${c.key}-seq-window`,
      label: `${label}: follow-up window (blank: any time until now)`,
      value: s.window,
      ptr: `${ptr}/window`,
      onInput: (v) => {
        s.window = v;
        typing();
      },
    }),
    h('datalist', { id: listId }, attrs.map((a) => h('option', { value: a.name }))),
    h('span', { class: 'muted' }, 'with the same'),
    valueEditor('list', {
      id: `${c.key}-seq-on`,
      label: `${label}: attributes that must match (e.g. cart_id)`,
      value: s.on,
      ptr: `${ptr}/on`,
      onInput: (v) => {
        s.on = v;
        typing();
      },
    }),
    h(
      'div',
      { class: 'sub-filters' },
      filtersEditor(s.where, {
        ctx,
        attrsNow: () => attributesOf(ctx, s.event),
        listId,
        idBase: `${c.key}-sw`,
        label: `${label}, follow-up filter`,
        ptrBase: `${ptr}/where`,
        structural,
        typing,
      }),
    ),
  );
  return out;
}

/** Refills a row's attribute suggestions for `event`. */
export function fillAttributeLists(ctx, event, listId, numericListId) {
  const attrs = attributesOf(ctx, event);
  document.getElementById(listId)?.replaceChildren(...attrs.map((a) => h('option', { value: a.name })));
  if (numericListId) {
    const numeric = attrs.filter((a) => a.types?.includes('number'));
    document.getElementById(numericListId)?.replaceChildren(...numeric.map((a) => h('option', { value: a.name })));
  }
}

/** Datalists shared by all rows: custom event names and every event name. */
export function sharedDatalists(ctx) {
  const all = [...new Set([...ctx.catalog.keys(), 'Visit', ...SYSTEM_EVENTS])].sort();
  return [
    h('datalist', { id: 'custom-event-names' }, eventNames(ctx, 'custom').map((n) => h('option', { value: n }))),
    h('datalist', { id: 'all-event-names' }, all.map((n) => h('option', { value: n }))),
  ];
}
