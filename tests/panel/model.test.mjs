// The builder's model ↔ rule JSON mapping (web/assets/js/model.js) without
// a browser: the rule it writes, the pointers it records for placing
// validation errors, and reading saved rules back.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { describe as describeNode, fromRule, locate, newCondition, newDraft, newFilter, newGroup, toRule } from '../../web/assets/js/model.js';

const types = new Map([
  ['City', 'text'],
  ['Age', 'number'],
  ['Birthday', 'date'],
  ['Newsletter', 'boolean'],
]);

function field(name, op, value) {
  return Object.assign(newCondition('field'), { field: name, op, value });
}

function purchase() {
  const c = newCondition('custom');
  c.event = 'purchase';
  c.where.push(Object.assign(newFilter(), { attribute: 'category', valueType: 'text', op: 'equals', value: 'shoes' }));
  c.within = { mode: 'last', duration: '30d', from: '', to: '' };
  return c;
}

test('two groups joined by AND, with an event condition', () => {
  const draft = newDraft();
  draft.groups = [newGroup('all', [field('City', 'equals', 'Warsaw')]), newGroup('any', [purchase(), field('Age', 'gte', 30)])];
  const { rule } = toRule(draft, types);
  assert.deepEqual(rule, {
    all: [
      { all: [{ field: 'City', op: 'equals', value: 'Warsaw' }] },
      {
        any: [
          {
            event: 'purchase',
            where: [{ attribute: 'category', op: 'equals', value: 'shoes' }],
            within: { last: '30d' },
            count: { op: 'gte', value: 1 },
          },
          { field: 'Age', op: 'gte', value: 30 },
        ],
      },
    ],
  });
});

test('one group is the rule itself; OR joins; none-of is not(any)', () => {
  const draft = newDraft();
  draft.groups = [newGroup('none', [field('Newsletter', 'is_true')])];
  assert.deepEqual(toRule(draft, types).rule, { not: { any: [{ field: 'Newsletter', op: 'is_true' }] } });
  draft.groups.push(newGroup('all', [field('City', 'has_value')]));
  draft.join = 'any';
  assert.deepEqual(toRule(draft, types).rule, {
    any: [{ not: { any: [{ field: 'Newsletter', op: 'is_true' }] } }, { all: [{ field: 'City', op: 'has_value' }] }],
  });
});

test('unfinished rows are left out, and an empty builder is every contact', () => {
  const draft = newDraft();
  assert.deepEqual(toRule(draft, types).rule, { all: [] });
  draft.groups[0].items.push(field('City', 'equals', ''), field('Age', 'between', [1, null]), field('Age', 'lt', 5));
  assert.deepEqual(toRule(draft, types).rule, { all: [{ field: 'Age', op: 'lt', value: 5 }] });
});

test('pointers in 422 details find their row and the control below it', () => {
  const draft = newDraft();
  const city = field('City', 'equals', 'Warsaw');
  const event = purchase();
  event.negate = true;
  const sub = newGroup('any', [field('Age', 'gt', 3)]);
  draft.groups = [newGroup('all', [city]), newGroup('all', [event, sub])];
  const { rule, places } = toRule(draft, types);
  assert.deepEqual(rule.all[1].all[0].not.within, { last: '30d' });
  assert.deepEqual(locate(places, '/rule/all/1/all/0/not/within/last'), { key: event.key, rest: '/within/last' });
  assert.deepEqual(locate(places, '/rule/all/1/all/0'), { key: event.key, rest: '' });
  assert.deepEqual(locate(places, '/rule/all/0/all/0/op'), { key: city.key, rest: '/op' });
  assert.deepEqual(locate(places, '/rule/all/1/all/1/any/0/value'), { key: sub.items[0].key, rest: '/value' });
  assert.deepEqual(locate(places, '/rule/all/1/all/1'), { key: sub.key, rest: '' });
  assert.equal(locate(places, '/name'), null);
  // `/rule/all/1` must not claim `/rule/all/10`.
  assert.equal(locate(places, '/rule/all/10/op'), null);
});

test('saved rules read back into the same rule', () => {
  const rules = [
    { all: [{ all: [{ field: 'City', op: 'equals', value: 'Warsaw' }] }, { any: [{ event: 'purchase', within: { last: '30d' }, count: { op: 'gte', value: 2 } }] }] },
    { field: 'City', op: 'in', value: ['Warsaw', 'Krakow'], case_sensitive: true },
    {
      event: 'cart_add',
      within: { last: '2d' },
      count: { op: 'gte', value: 1 },
      not_followed_by: { event: 'purchase', window: '1h', on: ['cart_id'] },
    },
    { not: { event: 'MailOpen', within: { from: '2026-06-01', to: '2026-07-01' }, count: { op: 'gte', value: 1 } } },
    { all: [{ event: 'purchase', aggregate: { fn: 'sum', attribute: 'price', op: 'between', value: [100, 500] } }, { not: { segment: 'seg_1' } }] },
    { not: { all: [{ field: 'Age', op: 'gt', value: 3 }, { field: 'Birthday', op: 'within_next', value: '7d' }] } },
  ];
  for (const rule of rules) {
    const draft = { ...newDraft(), ...fromRule(rule) };
    const again = toRule(draft, types).rule;
    // Reading may regroup (a lone condition becomes a group of one), so
    // compare after a second round trip, which must be stable, and check
    // the conditions themselves survived.
    const twice = toRule({ ...newDraft(), ...fromRule(again) }, types).rule;
    assert.deepEqual(twice, again, JSON.stringify(rule));
    const leaves = (n) => (n.all ?? n.any ?? (n.not && (n.not.all || n.not.any) ? leaves(n.not) : null))?.flatMap?.(leaves) ?? [n];
    assert.deepEqual(leaves(again).map(JSON.stringify).sort(), leaves(rule).map(JSON.stringify).sort(), JSON.stringify(rule));
  }
});

test('rule nodes in words, for the explain view', () => {
  assert.equal(describeNode({ field: 'City', op: 'equals', value: 'Warsaw' }), 'City is “Warsaw”');
  assert.equal(
    describeNode({ event: 'purchase', where: [{ attribute: 'category', op: 'equals', value: 'shoes' }], within: { last: '30d' }, count: { op: 'gte', value: 2 } }),
    'Did purchase where category is “shoes” in the last 30d, at least 2 times',
  );
  assert.equal(describeNode({ event: 'MailOpen', count: { op: 'gte', value: 1 } }), 'Did MailOpen, at least 1 time');
  assert.equal(describeNode({ segment: 'seg_1' }, new Map([['seg_1', 'VIP']])), 'In segment “VIP”');
});
