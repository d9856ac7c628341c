// Value editors, one per kind of operand: text, number, date, duration,
// list and between-range, and `opAndValue`, the operator select with the
// editor it calls for (field rows and attribute filters share it). Each takes `{id, label, value, ptr, onInput}`,
// labels every control it makes, tags it with `data-ptr` (the pointer of
// the value below its rule node, so a 422 can mark it), and reports the
// new value in its JSON form. Typing does not re-render the builder, so
// focus and caret stay where they are.

import { h, select } from './dom.js';
import { DURATION_UNITS, OP_LABELS, caseApplies, editorFor, emptyValue, splitDuration } from './ops.js';

const PLAIN_DATE = /^\d{4}-\d{2}-\d{2}$/;

function text({ id, label, value, ptr, onInput, placeholder }) {
  return h('input', {
    id,
    type: 'text',
    'aria-label': label,
    'data-ptr': ptr,
    placeholder: placeholder ?? 'value',
    value: typeof value === 'string' ? value : '',
    oninput: (e) => onInput(e.target.value),
  });
}

function number({ id, label, value, ptr, onInput, placeholder, min, step }) {
  return h('input', {
    id,
    type: 'number',
    step: step ?? 'any',
    min,
    inputmode: 'decimal',
    'aria-label': label,
    'data-ptr': ptr,
    placeholder: placeholder ?? 'number',
    value: typeof value === 'number' ? String(value) : '',
    oninput: (e) => onInput(e.target.value === '' ? null : Number(e.target.value)),
  });
}

/**
 * A date picker for plain dates. A stored instant (`2026-06-01T10:00:00Z`)
 * cannot be shown by `<input type=date>`, so it gets a text box instead and
 * keeps its precision.
 */
export function date({ id, label, value, ptr, onInput }) {
  const v = typeof value === 'string' ? value : '';
  if (v && !PLAIN_DATE.test(v)) {
    return text({ id, label, value: v, ptr, onInput, placeholder: 'YYYY-MM-DD or RFC 3339' });
  }
  return h('input', { id, type: 'date', 'aria-label': label, 'data-ptr': ptr, value: v, oninput: (e) => onInput(e.target.value) });
}

/** Amount and unit; the JSON form is `"30d"`. */
export function duration({ id, label, value, ptr, onInput }) {
  const parts = splitDuration(value);
  const emit = () => onInput(`${amount.value.trim()}${unit.value}`);
  const amount = h('input', {
    id,
    type: 'number',
    min: '1',
    step: '1',
    inputmode: 'numeric',
    class: 'amount',
    'aria-label': `${label}: amount`,
    'data-ptr': ptr,
    placeholder: '30',
    value: parts.amount,
    oninput: emit,
  });
  const unit = select({ id: `${id}-unit`, label: `${label}: unit`, choices: DURATION_UNITS, value: parts.unit, ptr, onchange: emit });
  return h('span', { class: 'duration' }, amount, unit);
}

/**
 * A list of values as removable chips; Enter or a comma adds what was
 * typed (so values may not contain commas when typed, but may when loaded).
 */
function list({ id, label, value, ptr, onInput, numeric }) {
  const items = Array.isArray(value) ? [...value] : [];
  const chips = h('span', { class: 'chips' });
  const note = h('span', { class: 'hint', 'aria-live': 'polite' });
  const input = h('input', {
    id,
    type: numeric ? 'number' : 'text',
    step: numeric ? 'any' : undefined,
    'aria-label': `${label}: add a value (Enter)`,
    'data-ptr': ptr,
    placeholder: 'type, then Enter',
  });
  const paint = () => {
    chips.replaceChildren(
      ...items.map((v, i) =>
        h(
          'span',
          { class: 'chip' },
          String(v),
          h(
            'button',
            {
              type: 'button',
              class: 'chip-remove',
              'aria-label': `Remove ${v}`,
              onclick: () => {
                items.splice(i, 1);
                paint();
                onInput([...items]);
                input.focus();
              },
            },
            '×',
          ),
        ),
      ),
    );
  };
  const add = () => {
    const raw = input.value.trim();
    if (!raw) return;
    const v = numeric ? Number(raw) : raw;
    if (numeric && !Number.isFinite(v)) {
      note.textContent = `${raw} is not a number`;
      return;
    }
    note.textContent = '';
    if (!items.includes(v)) items.push(v);
    input.value = '';
    paint();
    onInput([...items]);
  };
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || (e.key === ',' && !numeric)) {
      e.preventDefault();
      add();
    } else if (e.key === 'Backspace' && input.value === '' && items.length) {
      items.pop();
      paint();
      onInput([...items]);
    }
  });
  // Leaving the box keeps what was typed rather than dropping it.
  input.addEventListener('blur', add);
  paint();
  return h('span', { class: 'list-editor' }, chips, input, note);
}

function range({ id, label, value, ptr, onInput, one }) {
  const pair = Array.isArray(value) && value.length === 2 ? [...value] : [null, null];
  const side = (i, name) =>
    one({
      id: `${id}-${i}`,
      label: `${label}: ${name}`,
      value: pair[i],
      ptr: `${ptr}/${i}`,
      onInput: (v) => {
        pair[i] = v;
        onInput([...pair]);
      },
    });
  return h('span', { class: 'range' }, side(0, 'from'), h('span', { class: 'and' }, 'and'), side(1, 'to'));
}

/** The editor for `kind` (see ops.editorFor), or null for operators without a value. */
export function valueEditor(kind, props) {
  switch (kind) {
    case 'none':
      return null;
    case 'number':
      return number(props);
    case 'date':
      return date(props);
    case 'duration':
      return duration(props);
    case 'list':
      return list(props);
    case 'number-list':
      return list({ ...props, numeric: true });
    case 'number-range':
      return range({ ...props, one: number });
    case 'date-range':
      return range({ ...props, one: date });
    default:
      return text(props);
  }
}

/** Operator select, value editor and case toggle of a field row or an attribute filter. */
export function opAndValue(target, type, ops, idBase, label, ptrBase, structural, typing) {
  const out = [
    select({
      id: `${idBase}-op`,
      label: `${label}: operator`,
      ptr: `${ptrBase}/op`,
      placeholder: target.op ? undefined : 'Choose…',
      // A saved operator that no longer fits the type (the field was
      // retyped) stays visible, so the server's error has a control.
      choices: (ops.includes(target.op) || !target.op ? ops : [...ops, target.op]).map((o) => [o, OP_LABELS[o] ?? o]),
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
