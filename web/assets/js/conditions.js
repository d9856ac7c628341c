// The builder's groups and condition rows. Each row picks a data type
// (contact field, website visit, system event, custom event, another
// segment), then the field or event, an operator fitting its type and a
// value editor fitting the operator; event rows add attribute filters, a
// time window, a count or aggregate, and followed-by / not-followed-by.
//
// Rendering is plain: a structural change (a select that changes what a
// row shows) calls `ctx.changed(true)` and the builder re-renders the
// groups, restoring focus by element id; typing calls `ctx.changed(false)`
// and only refreshes the preview. Ids derive from the model's keys, and
// every control carries `data-ptr`, its pointer below the row's rule node,
// so validation errors can be placed on it.

import { h, select } from './dom.js';
import { valueEditor } from './editors.js';
import {
  ATTR_OPS,
  ATTR_TYPES,
  COUNT_OPS,
  FIELD_OPS,
  KINDS,
  KNOWN_ATTRIBUTES,
  MEASURES,
  OP_LABELS,
  SEQUENCE_MODES,
  SYSTEM_EVENTS,
  WITHIN_MODES,
  attrTypeOf,
  caseApplies,
  editorFor,
  emptyValue,
  valueComplete,
} from './ops.js';
import { newCondition, newFilter, newGroup } from './model.js';

const MATCHES = [
  ['all', 'all of'],
  ['any', 'any of'],
  ['none', 'none of'],
  ['notall', 'not all of'],
];

/** The groups of a draft, with the control that adds one. */
export function renderGroups(draft, ctx) {
  const groups = draft.groups.map((g, i) => [
    i > 0 ? h('div', { class: 'join-badge', 'aria-hidden': 'true' }, draft.join === 'any' ? 'OR' : 'AND') : null,
    renderGroup(g, {
      ctx,
      label: `Segment ${i + 1}`,
      depth: 0,
      remove:
        draft.groups.length > 1
          ? () => {
              draft.groups.splice(i, 1);
              ctx.changed(true, 'add-group');
            }
          : null,
    }),
  ]);
  const add = h(
    'button',
    {
      type: 'button',
      id: 'add-group',
      class: 'secondary',
      onclick: () => {
        const g = newGroup();
        draft.groups.push(g);
        ctx.changed(true, `${g.items[0].key}-kind`);
      },
    },
    '+ Add group',
  );
  return h('div', { class: 'groups' }, groups, h('div', { class: 'group-actions' }, add));
}

function renderGroup(g, { ctx, label, depth, remove }) {
  const items = g.items.map((item, i) => {
    const removeItem = () => {
      g.items.splice(i, 1);
      ctx.changed(true, `${g.key}-add`);
    };
    return item.type === 'group'
      ? renderGroup(item, { ctx, label: `${label}, sub-group ${i + 1}`, depth: depth + 1, remove: removeItem })
      : renderCondition(item, { ctx, label: `${label}, condition ${i + 1}`, remove: removeItem });
  });
  const head = h(
    'div',
    { class: 'group-head' },
    h('span', { class: 'group-name', id: `${g.key}-name` }, label),
    h('span', { class: 'muted' }, 'Contacts match'),
    select({
      id: `${g.key}-match`,
      label: `${label}: contacts match`,
      choices: MATCHES,
      value: g.match,
      onchange: (v) => {
        g.match = v;
        ctx.changed(true);
      },
    }),
    h('span', { class: 'muted' }, 'these conditions'),
    remove
      ? h('button', { type: 'button', class: 'ghost icon', 'aria-label': `Remove ${label}`, title: `Remove ${label}`, onclick: remove }, '✕')
      : null,
  );
  const actions = h(
    'div',
    { class: 'row-actions' },
    h(
      'button',
      {
        type: 'button',
        id: `${g.key}-add`,
        class: 'secondary small',
        'aria-label': `${label}: add a condition`,
        onclick: () => {
          const c = newCondition();
          g.items.push(c);
          ctx.changed(true, `${c.key}-kind`);
        },
      },
      '+ Condition',
    ),
    depth < 4
      ? h(
          'button',
          {
            type: 'button',
            class: 'ghost small',
            'aria-label': `${label}: add a sub-group`,
            onclick: () => {
              const sub = newGroup('any');
              g.items.push(sub);
              ctx.changed(true, `${sub.items[0].key}-kind`);
            },
          },
          '+ Sub-group',
        )
      : null,
  );
  return h(
    'fieldset',
    { class: `group depth-${depth}`, 'data-key': g.key, 'aria-labelledby': `${g.key}-name` },
    head,
    h('ul', { class: 'errors', id: `${g.key}-errors` }),
    h('div', { class: 'items' }, items.length ? items : h('p', { class: 'muted' }, 'No conditions yet.')),
    actions,
  );
}

function renderCondition(c, { ctx, label, remove }) {
  const structural = () => ctx.changed(true);
  const typing = () => ctx.changed(false);
  const main = [
    select({
      id: `${c.key}-kind`,
      label: `${label}: data type`,
      choices: KINDS,
      value: c.kind,
      onchange: (v) => {
        const fresh = newCondition(v);
        Object.assign(c, { ...fresh, key: c.key });
        structural();
      },
    }),
  ];
  let details = null;
  if (c.kind === 'field') main.push(...fieldControls(c, ctx, label, structural, typing));
  else if (c.kind === 'segment') main.push(...segmentControls(c, ctx, label, structural));
  else {
    main.push(...eventHead(c, ctx, label, structural, typing));
    details = eventDetails(c, ctx, label, structural, typing);
  }
  return h(
    'div',
    { class: 'condition', 'data-key': c.key, role: 'group', 'aria-label': label },
    h(
      'div',
      { class: 'condition-main' },
      main,
      h('button', { type: 'button', class: 'ghost icon remove', 'aria-label': `Remove ${label}`, title: 'Remove condition', onclick: remove }, '✕'),
    ),
    details,
    h('p', { class: 'incomplete-note', id: `${c.key}-incomplete`, hidden: true }, 'Not complete yet: this condition is not counted.'),
    h('ul', { class: 'errors', id: `${c.key}-errors` }),
  );
}

function fieldControls(c, ctx, label, structural, typing) {
  const type = ctx.types.get(c.field) ?? 'text';
  const out = [
    select({
      id: `${c.key}-field`,
      label: `${label}: field`,
      ptr: '/field',
      placeholder: 'Choose a field…',
      choices: ctx.fields.map((f) => [f.name, `${f.name} (${f.type})`]),
      value: c.field,
      onchange: (v) => {
        const before = ctx.types.get(c.field);
        c.field = v;
        const now = ctx.types.get(v) ?? 'text';
        if (before !== now || !c.op) {
          c.op = FIELD_OPS[now][0];
          c.value = emptyValue(editorFor(now, c.op));
          c.caseSensitive = false;
        }
        structural();
      },
    }),
  ];
  if (!c.field) return out;
  out.push(...opAndValue(c, type, FIELD_OPS[type], `${c.key}`, label, '', structural, typing));
  return out;
}

/** Operator select, value editor and case toggle of a field row or an attribute filter. */
function opAndValue(target, type, ops, idBase, label, ptrBase, structural, typing) {
  const out = [
    select({
      id: `${idBase}-op`,
      label: `${label}: operator`,
      ptr: `${ptrBase}/op`,
      placeholder: target.op ? undefined : 'Choose…',
      choices: ops.map((o) => [o, OP_LABELS[o] ?? o]),
      value: target.op,
      onchange: (v) => {
        const before = editorFor(type, target.op);
        target.op = v;
        const after = editorFor(type, v);
        if (before !== after) target.value = emptyValue(after);
        structural();
      },
    }),
  ];
  const editor = valueEditor(editorFor(type, target.op), {
    id: `${idBase}-value`,
    label: `${label}: value`,
    value: target.value,
    ptr: `${ptrBase}/value`,
    onInput: (v) => {
      target.value = v;
      typing();
    },
  });
  if (editor) out.push(editor);
  if (caseApplies(type, target.op)) {
    out.push(
      h(
        'label',
        { class: 'check' },
        h('input', {
          type: 'checkbox',
          id: `${idBase}-case`,
          'data-ptr': `${ptrBase}/case_sensitive`,
          checked: target.caseSensitive,
          onchange: (e) => {
            target.caseSensitive = e.target.checked;
            typing();
          },
        }),
        h('span', {}, 'Match case'),
      ),
    );
  }
  return out;
}

function segmentControls(c, ctx, label, structural) {
  return [
    select({
      id: `${c.key}-negate`,
      label: `${label}: membership`,
      choices: [
        ['in', 'is in'],
        ['out', 'is not in'],
      ],
      value: c.negate ? 'out' : 'in',
      onchange: (v) => {
        c.negate = v === 'out';
        structural();
      },
    }),
    select({
      id: `${c.key}-segment`,
      label: `${label}: segment`,
      ptr: '/segment',
      placeholder: ctx.segments.length ? 'Choose a segment…' : 'No other segments yet',
      choices: ctx.segments.map((s) => [s.id, s.name]),
      value: c.segment,
      onchange: (v) => {
        c.segment = v;
        structural();
      },
    }),
  ];
}

/** Event names offered for a kind: the catalog's, plus the platform's own. */
function eventNames(ctx, kind) {
  const seen = [...ctx.catalog.values()].filter((e) => e.source === kind).map((e) => e.name);
  if (kind === 'system') return [...new Set([...SYSTEM_EVENTS, ...seen])];
  return seen;
}

/** Attributes offered for an event: those seen, plus the platform's own. */
function attributesOf(ctx, event) {
  const seen = ctx.catalog.get(event)?.attributes ?? [];
  const known = event === 'Visit' ? KNOWN_ATTRIBUTES.Visit : SYSTEM_EVENTS.includes(event) ? KNOWN_ATTRIBUTES.system : [];
  const byName = new Map(known.map((a) => [a.name, a]));
  for (const a of seen) byName.set(a.name, a);
  return [...byName.values()];
}

function eventHead(c, ctx, label, structural, typing) {
  const out = [];
  if (c.kind === 'system') {
    out.push(
      select({
        id: `${c.key}-event`,
        label: `${label}: event`,
        ptr: '/event',
        placeholder: 'Choose an event…',
        choices: eventNames(ctx, 'system'),
        value: c.event,
        onchange: (v) => {
          c.event = v;
          structural();
        },
      }),
    );
  } else if (c.kind === 'custom') {
    // Free text with suggestions: a segment may name an event that has not
    // arrived yet.
    out.push(
      h('input', {
        id: `${c.key}-event`,
        type: 'text',
        list: 'custom-event-names',
        'aria-label': `${label}: event name`,
        'data-ptr': '/event',
        placeholder: 'event name',
        value: c.event,
        oninput: (e) => {
          c.event = e.target.value.trim();
          // Attribute suggestions follow the event. They are refilled in
          // place: re-rendering here (or on `change`, which fires while
          // focus moves) would lose focus or swallow the click that left
          // the box.
          fillAttributeLists(ctx, c.event, `${c.key}-attrs`, `${c.key}-numeric-attrs`);
          typing();
        },
      }),
    );
  }
  out.push(
    select({
      id: `${c.key}-negate`,
      label: `${label}: happened or not`,
      choices: [
        ['did', 'happened'],
        ['didnt', 'did not happen'],
      ],
      value: c.negate ? 'didnt' : 'did',
      onchange: (v) => {
        c.negate = v === 'didnt';
        structural();
      },
    }),
  );
  return out;
}

function eventDetails(c, ctx, label, structural, typing) {
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
function fillAttributeLists(ctx, event, listId, numericListId) {
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
