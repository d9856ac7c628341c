// Renders `GET /v1/segments/{id}/explain` for one contact: the rule tree
// with each node's verdict and its evidence (the field's value; the
// matching events and their count or aggregate; a referenced segment's own
// tree), so a marketer can see why a contact is in a segment or not.

import { h, display, when } from './dom.js';
import { describe } from './model.js';

const SHOWN_EVENTS = 5;

export function explainTree(answer, segmentNames) {
  return h(
    'div',
    { class: 'explain' },
    h(
      'p',
      { class: answer.member ? 'verdict yes' : 'verdict no' },
      answer.member ? 'This contact is a member' : 'This contact is not a member',
      h('span', { class: 'muted' }, ` (as of ${when(answer.as_of)})`),
    ),
    h('ul', { class: 'tree' }, node(answer.tree, segmentNames)),
  );
}

function node(n, segmentNames) {
  const ok = Boolean(n.result);
  return h(
    'li',
    { class: ok ? 'holds' : 'fails' },
    h(
      'div',
      { class: 'node' },
      h('span', { class: 'mark', 'aria-hidden': 'true' }, ok ? '✓' : '✗'),
      h('span', { class: 'sr-only' }, ok ? 'holds: ' : 'does not hold: '),
      h('span', { class: 'desc' }, describe(n.rule, segmentNames)),
      evidence(n.evidence ?? {}),
    ),
    n.children?.length ? h('ul', {}, n.children.map((c) => node(c, segmentNames))) : null,
  );
}

function evidence(e) {
  if ('field' in e) return h('span', { class: 'evidence' }, `value: ${display(e.value)}`);
  if ('count' in e) {
    const parts = [`${e.count} matching event${e.count === 1 ? '' : 's'}`];
    if (e.aggregate) parts.push(`${e.aggregate.fn} of ${e.aggregate.attribute}: ${display(e.aggregate.value)}`);
    const events = (e.events ?? []).slice(0, SHOWN_EVENTS);
    return h(
      'span',
      { class: 'evidence' },
      parts.join('; '),
      events.length
        ? h(
            'ul',
            { class: 'evidence-events' },
            events.map((ev) =>
              h(
                'li',
                {},
                h('time', { datetime: ev.time }, when(ev.time)),
                ' ',
                Object.entries(ev.attributes ?? {})
                  .map(([k, v]) => `${k}=${display(v)}`)
                  .join(', '),
              ),
            ),
          )
        : null,
    );
  }
  return null;
}
