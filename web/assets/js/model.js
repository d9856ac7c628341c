// The builder's model and its mapping to and from the rule JSON of SPEC §2.
//
// The model is what a marketer edits: groups ("Segment 1", "Segment 2", …)
// combined with and/or, each matching all/any/none/not-all of its items,
// an item being a condition row or a nested sub-group. `toRule` writes the
// rule and, beside it, where each group and row landed in the JSON (its
// pointer), so a 422's `details[].path` such as `/rule/all/1/within/last`
// can be shown on the row — and the control — it belongs to. `fromRule`
// reads any valid rule back (also ones written through the API): every
// rule tree is a group tree once `not` is folded into groups and rows.
//
// This module touches no DOM, so node's test runner can check it directly.

import { editorFor, valueComplete, kindOfEvent, caseApplies, OP_LABELS, COUNT_OPS, MEASURES } from './ops.js';

let counter = 0;
/** A key unique in this page: DOM ids and error placement hang on it. */
export const newKey = (prefix) => `${prefix}${++counter}`;

export function newCondition(kind = 'field') {
  return {
    type: 'condition',
    key: newKey('c'),
    kind,
    negate: false,
    // kind "field"
    field: '',
    op: '',
    value: undefined,
    caseSensitive: false,
    // kinds "visit", "system", "custom"
    event: kind === 'visit' ? 'Visit' : '',
    where: [],
    within: { mode: 'any', duration: 'd', from: '', to: '' },
    measure: { mode: 'count', op: 'gte', value: 1, attribute: '' },
    sequence: { mode: 'none', event: '', where: [], window: 'd', on: [] },
    // kind "segment"
    segment: '',
  };
}

export function newFilter() {
  return { key: newKey('f'), attribute: '', valueType: 'text', op: '', value: undefined, caseSensitive: false };
}

export function newGroup(match = 'all', items) {
  return { type: 'group', key: newKey('g'), match, items: items ?? [newCondition()] };
}

export function newDraft() {
  return { name: '', description: '', join: 'all', groups: [newGroup()] };
}

const isEvent = (c) => c.kind === 'visit' || c.kind === 'system' || c.kind === 'custom';

/** The value type a field condition compares (from the account's schema). */
function fieldType(c, types) {
  return types?.get(c.field) ?? 'text';
}

function filterComplete(f) {
  return Boolean(f.attribute && f.op) && valueComplete(editorFor(f.valueType, f.op), f.value);
}

/**
 * Whether a row is filled in enough to be sent. Rows still being filled in
 * are left out of the preview (and block saving) instead of provoking an
 * error on every keystroke.
 */
export function conditionComplete(c, types) {
  if (c.kind === 'segment') return Boolean(c.segment);
  if (c.kind === 'field') {
    return Boolean(c.field && c.op) && valueComplete(editorFor(fieldType(c, types), c.op), c.value);
  }
  if (!c.event) return false;
  if (!c.where.every(filterComplete)) return false;
  const w = c.within;
  if ((w.mode === 'last' || w.mode === 'before') && !valueComplete('duration', w.duration)) return false;
  if (w.mode === 'range' && !w.from && !w.to) return false;
  const m = c.measure;
  if (m.mode !== 'count' && !m.attribute) return false;
  if (!valueComplete(m.op === 'between' ? 'number-range' : 'number', m.value)) return false;
  const s = c.sequence;
  if (s.mode !== 'none' && (!s.event || !s.where.every(filterComplete))) return false;
  return true;
}

function emittable(item, types) {
  return item.type === 'group' ? item.items.some((i) => emittable(i, types)) : conditionComplete(item, types);
}

/** Every incomplete condition row, in order. */
export function incompleteRows(draft, types) {
  const out = [];
  const walk = (item) => {
    if (item.type === 'group') item.items.forEach(walk);
    else if (!conditionComplete(item, types)) out.push(item);
  };
  draft.groups.forEach(walk);
  return out;
}

const GROUP_KEYS = { all: ['all', false], any: ['any', false], none: ['any', true], notall: ['all', true] };

/**
 * The rule of a draft, and `places`: `{path, key}` for every group and row
 * that was written, `path` being its JSON pointer in a request body whose
 * rule is at `/rule`. `types` maps field names to their types.
 */
export function toRule(draft, types, base = '/rule') {
  const places = [];

  const group = (g, path) => {
    const [key, negated] = GROUP_KEYS[g.match] ?? GROUP_KEYS.all;
    const listPath = negated ? `${path}/not/${key}` : `${path}/${key}`;
    places.push({ path, key: g.key });
    const children = g.items.filter((i) => emittable(i, types)).map((item, i) => node(item, `${listPath}/${i}`));
    const json = { [key]: children };
    return negated ? { not: json } : json;
  };

  const node = (item, path) => (item.type === 'group' ? group(item, path) : condition(item, path));

  const condition = (c, path) => {
    // A negated row's own node sits inside the `not`, and so do its errors.
    places.push({ path: c.negate ? `${path}/not` : path, key: c.key });
    if (c.negate) places.push({ path, key: c.key });
    const json = c.kind === 'segment' ? { segment: c.segment } : c.kind === 'field' ? fieldNode(c, types) : eventNode(c);
    return c.negate ? { not: json } : json;
  };

  const groups = draft.groups.filter((g) => emittable(g, types));
  let rule;
  if (groups.length === 0) {
    rule = { all: [] };
  } else if (groups.length === 1) {
    rule = group(groups[0], base);
  } else {
    const join = draft.join === 'any' ? 'any' : 'all';
    rule = { [join]: groups.map((g, i) => group(g, `${base}/${join}/${i}`)) };
  }
  return { rule, places };
}

function fieldNode(c, types) {
  const type = fieldType(c, types);
  const json = { field: c.field, op: c.op };
  if (editorFor(type, c.op) !== 'none') json.value = c.value;
  if (c.caseSensitive && caseApplies(type, c.op)) json.case_sensitive = true;
  return json;
}

function filterNode(f) {
  const json = { attribute: f.attribute, op: f.op };
  if (editorFor(f.valueType, f.op) !== 'none') json.value = f.value;
  if (f.caseSensitive && caseApplies(f.valueType, f.op)) json.case_sensitive = true;
  return json;
}

function eventNode(c) {
  const json = { event: c.kind === 'visit' ? 'Visit' : c.event };
  if (c.where.length) json.where = c.where.map(filterNode);
  const w = c.within;
  if (w.mode === 'last') json.within = { last: w.duration };
  else if (w.mode === 'before') json.within = { before: w.duration };
  else if (w.mode === 'range') {
    json.within = {};
    if (w.from) json.within.from = w.from;
    if (w.to) json.within.to = w.to;
  }
  const m = c.measure;
  if (m.mode === 'count') json.count = { op: m.op, value: m.value };
  else json.aggregate = { fn: m.mode, attribute: m.attribute, op: m.op, value: m.value };
  const s = c.sequence;
  if (s.mode !== 'none') {
    const seq = { event: s.event };
    if (s.where.length) seq.where = s.where.map(filterNode);
    if (valueComplete('duration', s.window)) seq.window = s.window;
    if (s.on.length) seq.on = [...s.on];
    json[s.mode] = seq;
  }
  return json;
}

/**
 * The group or row a JSON pointer belongs to: the place whose path is the
 * longest prefix of `pointer` (segment-wise), and the rest of the pointer
 * below it (e.g. `/within/last`), or null.
 */
export function locate(places, pointer) {
  let best = null;
  for (const place of places) {
    const hit = pointer === place.path || pointer.startsWith(`${place.path}/`);
    if (hit && (!best || place.path.length > best.path.length)) best = place;
  }
  return best && { key: best.key, rest: pointer.slice(best.path.length) };
}

// ---- reading a rule back -------------------------------------------------

const isList = (n, k) => n && typeof n === 'object' && Array.isArray(n[k]);
const groupish = (n) => isList(n, 'all') || isList(n, 'any');

/** Reads a rule (from a saved segment) into the builder's groups. */
export function fromRule(rule) {
  const top = item(rule);
  if (top.type === 'group') {
    const plain = top.match === 'all' || top.match === 'any';
    if (plain && top.items.length > 1 && top.items.every((i) => i.type === 'group')) {
      return { join: top.match, groups: top.items };
    }
    // `{"all": []}`, every contact: an empty builder.
    if (top.match === 'all' && top.items.length === 0) return { join: 'all', groups: [newGroup()] };
    return { join: 'all', groups: [top] };
  }
  return { join: 'all', groups: [newGroup('all', [top])] };
}

const NEGATED_MATCH = { all: 'notall', any: 'none', notall: 'all', none: 'any' };

function item(node) {
  let negate = false;
  let n = node;
  while (n && typeof n === 'object' && 'not' in n && !groupish(n)) {
    negate = !negate;
    n = n.not;
  }
  if (groupish(n)) {
    const match = isList(n, 'all') ? 'all' : 'any';
    const items = (n.all ?? n.any).map(item);
    return { type: 'group', key: newKey('g'), match: negate ? NEGATED_MATCH[match] : match, items };
  }
  const c = condition(n ?? {});
  c.negate = negate;
  return c;
}

function condition(n) {
  if ('segment' in n) {
    return { ...newCondition('segment'), segment: String(n.segment ?? '') };
  }
  if ('field' in n) {
    return {
      ...newCondition('field'),
      field: n.field ?? '',
      op: n.op ?? '',
      value: n.value ?? undefined,
      caseSensitive: n.case_sensitive === true,
    };
  }
  const c = newCondition(kindOfEvent(n.event));
  c.event = n.event ?? '';
  c.where = (n.where ?? []).map(filter);
  const w = n.within;
  if (w?.last) c.within = { ...c.within, mode: 'last', duration: w.last };
  else if (w?.before) c.within = { ...c.within, mode: 'before', duration: w.before };
  else if (w && (w.from || w.to)) c.within = { ...c.within, mode: 'range', from: w.from ?? '', to: w.to ?? '' };
  if (n.count) c.measure = { ...c.measure, op: n.count.op, value: n.count.value };
  else if (n.aggregate) {
    const a = n.aggregate;
    c.measure = { mode: a.fn, op: a.op, value: a.value, attribute: a.attribute ?? '' };
  }
  const mode = n.followed_by ? 'followed_by' : n.not_followed_by ? 'not_followed_by' : 'none';
  if (mode !== 'none') {
    const s = n[mode];
    c.sequence = { mode, event: s.event ?? '', where: (s.where ?? []).map(filter), window: s.window ?? 'd', on: [...(s.on ?? [])] };
  }
  return c;
}

function filter(n) {
  const value = n.value ?? undefined;
  const first = Array.isArray(value) ? value[0] : value;
  let valueType = 'text';
  if (n.op === 'is_true' || n.op === 'is_false' || typeof first === 'boolean') valueType = 'boolean';
  else if (typeof first === 'number') valueType = 'number';
  return { key: newKey('f'), attribute: n.attribute ?? '', valueType, op: n.op ?? '', value, caseSensitive: n.case_sensitive === true };
}

// ---- describing rule nodes (explain view, summaries) ----------------------

const quote = (v) => (typeof v === 'string' ? `“${v}”` : String(v));

function operand(op, value) {
  if (value === undefined || value === null) return '';
  if (op === 'between' && Array.isArray(value)) return ` ${quote(value[0])} and ${quote(value[1])}`;
  if (Array.isArray(value)) return ` ${value.map(quote).join(', ')}`;
  if (op === 'more_than_ago') return ` ${value} ago`;
  return ` ${quote(value)}`;
}

function comparison(op, value, unit = '') {
  const label = (COUNT_OPS.find(([k]) => k === op) ?? [op, op])[1];
  if (op === 'between' && Array.isArray(value)) return `${label} ${value[0]} and ${value[1]}${unit}`;
  return `${label} ${value}${unit}`;
}

function opText(op, value) {
  const label = OP_LABELS[op] ?? op;
  if (op === 'more_than_ago') return `is more than${operand('', value)} ago`;
  return `${label}${operand(op, value)}`;
}

function filters(where) {
  return where?.length ? ` where ${where.map((f) => `${f.attribute} ${opText(f.op, f.value)}`).join(' and ')}` : '';
}

/** One rule node (its children aside) in words. */
export function describe(node, segmentNames = new Map()) {
  if (!node || typeof node !== 'object') return String(node);
  if ('all' in node) return 'All of these hold';
  if ('any' in node) return 'Any of these holds';
  if ('not' in node) return 'This does not hold';
  if ('segment' in node) return `In segment ${quote(segmentNames.get(node.segment) ?? node.segment)}`;
  if ('field' in node) return `${node.field} ${opText(node.op, node.value)}${node.case_sensitive ? ' (case-sensitive)' : ''}`;
  let text = `Did ${node.event}${filters(node.where)}`;
  const w = node.within;
  if (w?.last) text += ` in the last ${w.last}`;
  else if (w?.before) text += ` more than ${w.before} ago`;
  else if (w) text += `${w.from ? ` from ${w.from}` : ''}${w.to ? ` until ${w.to}` : ''}`;
  const seqKey = node.followed_by ? 'followed_by' : node.not_followed_by ? 'not_followed_by' : null;
  if (seqKey) {
    const s = node[seqKey];
    text += `, ${seqKey === 'followed_by' ? 'followed' : 'not followed'} by ${s.event}${filters(s.where)}`;
    if (s.window) text += ` within ${s.window}`;
    if (s.on?.length) text += ` (same ${s.on.join(', ')})`;
  }
  if (node.count) text += `, ${comparison(node.count.op, node.count.value, node.count.value === 1 ? ' time' : ' times')}`;
  else if (node.aggregate) {
    const a = node.aggregate;
    const fn = (MEASURES.find(([k]) => k === a.fn) ?? [a.fn, a.fn])[1].toLowerCase();
    text += `, ${fn} ${a.attribute} ${comparison(a.op, a.value)}`;
  }
  return text;
}
