// The operators of SPEC §2 by type, the words the panel shows for them, and
// which value editor each needs. Kept in one place so the builder, the
// rule's description and the explain view say the same thing.

export const OP_LABELS = {
  equals: 'is',
  not_equals: 'is not',
  contains: 'contains',
  not_contains: 'does not contain',
  starts_with: 'starts with',
  ends_with: 'ends with',
  in: 'is one of',
  not_in: 'is none of',
  matches: 'matches pattern',
  has_value: 'has a value',
  has_no_value: 'has no value',
  gt: 'is greater than',
  gte: 'is at least',
  lt: 'is less than',
  lte: 'is at most',
  between: 'is between',
  before: 'is before',
  after: 'is after',
  within_last: 'is within the last',
  more_than_ago: 'is more than … ago',
  within_next: 'is within the next',
  is_true: 'is true',
  is_false: 'is false',
};

/** Field operators by field type (SPEC §2 "Field operators"). */
export const FIELD_OPS = {
  text: ['equals', 'not_equals', 'contains', 'not_contains', 'starts_with', 'ends_with', 'in', 'not_in', 'matches', 'has_value', 'has_no_value'],
  number: ['equals', 'not_equals', 'gt', 'gte', 'lt', 'lte', 'between', 'in', 'not_in', 'has_value', 'has_no_value'],
  date: ['equals', 'not_equals', 'before', 'after', 'between', 'within_last', 'more_than_ago', 'within_next', 'has_value', 'has_no_value'],
  boolean: ['is_true', 'is_false', 'has_value', 'has_no_value'],
};

/**
 * Attribute operators by the attribute's value type. Event attributes have
 * no declared type: the operator and operand decide how a value is read
 * (SPEC §2 "Event conditions"), so string attributes also offer the date
 * operators, which read strings that parse as dates.
 */
export const ATTR_OPS = {
  text: [...FIELD_OPS.text, 'before', 'after', 'between', 'within_last', 'more_than_ago', 'within_next'],
  number: FIELD_OPS.number,
  boolean: FIELD_OPS.boolean,
};

export const ATTR_TYPES = [
  ['text', 'text'],
  ['number', 'number'],
  ['boolean', 'yes/no'],
];

const NO_VALUE = new Set(['has_value', 'has_no_value', 'is_true', 'is_false']);
const DURATION = new Set(['within_last', 'more_than_ago', 'within_next']);
const DATE_OPS = new Set(['before', 'after']);
const CASE_OPS = new Set(['equals', 'not_equals', 'contains', 'not_contains', 'starts_with', 'ends_with', 'in', 'not_in', 'matches']);

/**
 * The value editor an operator needs for a value of `type` (`text`,
 * `number`, `date`, `boolean`): `none`, `text`, `number`, `date`,
 * `duration`, `list`, `number-list`, `number-range` or `date-range`.
 */
export function editorFor(type, op) {
  if (!op || NO_VALUE.has(op)) return 'none';
  if (DURATION.has(op)) return 'duration';
  if (type === 'number') {
    if (op === 'in' || op === 'not_in') return 'number-list';
    if (op === 'between') return 'number-range';
    return 'number';
  }
  if (type === 'date') return op === 'between' ? 'date-range' : 'date';
  if (type === 'boolean') return 'none';
  if (op === 'in' || op === 'not_in') return 'list';
  if (op === 'between') return 'date-range';
  if (DATE_OPS.has(op)) return 'date';
  return 'text';
}

/** Whether `case_sensitive` applies (text comparisons only). */
export function caseApplies(type, op) {
  return type === 'text' && CASE_OPS.has(op);
}

/** The empty value of an editor, set when the operator changes. */
export function emptyValue(editor) {
  switch (editor) {
    case 'none':
      return undefined;
    case 'number':
      return null;
    case 'duration':
      return 'd';
    case 'list':
    case 'number-list':
      return [];
    case 'number-range':
      return [null, null];
    case 'date-range':
      return ['', ''];
    default:
      return '';
  }
}

/** Splits `"30d"` into amount and unit; an empty amount keeps the unit. */
export function splitDuration(value) {
  const s = typeof value === 'string' ? value : '';
  const unit = 'mhdw'.includes(s.slice(-1)) && s.length > 0 ? s.slice(-1) : 'd';
  const amount = 'mhdw'.includes(s.slice(-1)) ? s.slice(0, -1) : s;
  return { amount, unit };
}

export const DURATION_UNITS = [
  ['m', 'minutes'],
  ['h', 'hours'],
  ['d', 'days'],
  ['w', 'weeks'],
];

/** Whether an editor's value is filled in enough to send. */
export function valueComplete(editor, value) {
  switch (editor) {
    case 'none':
      return true;
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'duration':
      // Anything typed is sent: the server judges it and its message is
      // shown on the row (a blank amount is just "not filled in yet").
      return splitDuration(value).amount !== '';
    case 'list':
    case 'number-list':
      return Array.isArray(value) && value.length > 0;
    case 'number-range':
      return Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === 'number' && Number.isFinite(v));
    case 'date-range':
      return Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === 'string' && v !== '');
    default:
      return typeof value === 'string' && value !== '';
  }
}

/** The comparisons of `count` and `aggregate`. */
export const COUNT_OPS = [
  ['gte', 'at least'],
  ['lte', 'at most'],
  ['equals', 'exactly'],
  ['not_equals', 'not exactly'],
  ['gt', 'more than'],
  ['lt', 'fewer than'],
  ['between', 'between'],
];

export const MEASURES = [
  ['count', 'Number of times'],
  ['sum', 'Sum of'],
  ['avg', 'Average of'],
  ['min', 'Minimum of'],
  ['max', 'Maximum of'],
];

export const WITHIN_MODES = [
  ['any', 'at any time'],
  ['last', 'in the last'],
  ['before', 'more than … ago'],
  ['range', 'between dates'],
];

export const SEQUENCE_MODES = [
  ['none', 'no follow-up condition'],
  ['followed_by', 'followed by'],
  ['not_followed_by', 'not followed by'],
];

/** System event names (SPEC §1): produced by the platform. */
export const SYSTEM_EVENTS = ['MailSent', 'MailOpen', 'MailClick', 'MailBounce', 'MailUnsubscribe', 'SmsSent', 'SmsClick', 'PushSent', 'PushOpen'];

/** Attributes the platform sets, offered before any event was seen. */
export const KNOWN_ATTRIBUTES = {
  Visit: [
    { name: 'url', types: ['string'] },
    { name: 'referrer', types: ['string'] },
    { name: 'title', types: ['string'] },
    { name: 'session_id', types: ['string'] },
  ],
  system: [
    { name: 'campaign_id', types: ['string'] },
    { name: 'url', types: ['string'] },
  ],
};

/** The data types a condition row can be about. */
export const KINDS = [
  ['field', 'Contact field'],
  ['visit', 'Website visit'],
  ['system', 'System event'],
  ['custom', 'Custom event'],
  ['segment', 'Another segment'],
];

/** A condition kind from an event name. */
export function kindOfEvent(name) {
  if (name === 'Visit') return 'visit';
  if (SYSTEM_EVENTS.includes(name)) return 'system';
  return 'custom';
}

/** The attribute value type the panel edits, from the JSON types seen. */
export function attrTypeOf(types) {
  const seen = new Set(types ?? []);
  seen.delete('null');
  if (seen.size === 1 && seen.has('number')) return 'number';
  if (seen.size === 1 && seen.has('boolean')) return 'boolean';
  return 'text';
}
