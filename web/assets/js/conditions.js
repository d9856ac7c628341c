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
import { opAndValue } from './editors.js';
import { eventDetails, eventNames, fillAttributeLists } from './events.js';
import { FIELD_OPS, KINDS, editorFor, emptyValue } from './ops.js';
import { newCondition, newGroup } from './model.js';

/**
 * Choices plus the saved value when it is not among them (a field or
 * segment deleted since the rule was saved): the row keeps showing what the
 * rule says, and the server's error about it lands on this control.
 */
function withCurrent(choices, current, label) {
  if (!current || choices.some(([value]) => value === current)) return choices;
  return [...choices, [current, label]];
}

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
      choices: withCurrent(
        ctx.fields.map((f) => [f.name, `${f.name} (${f.type})`]),
        c.field,
        `${c.field} (no longer a field)`,
      ),
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
      choices: withCurrent(
        ctx.segments.map((s) => [s.id, s.name]),
        c.segment,
        `${c.segment} (no longer exists)`,
      ),
      value: c.segment,
      onchange: (v) => {
        c.segment = v;
        structural();
      },
    }),
  ];
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
