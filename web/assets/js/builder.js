// The segment builder page: name and description, condition groups, a live
// member count (`POST /v1/segments/preview`, debounced), validation errors
// placed on the row and control they point at, the rule as text
// (`POST /v1/rules/format`, when the server has it) and as JSON, and save
// (`POST /v1/segments` or `PUT /v1/segments/{id}`).

import { ApiError, enc, get, post, put, serverHas } from './api.js';
import { debounce, h, heading, number, replace, toast, failure } from './dom.js';
import { renderGroups } from './conditions.js';
import { sharedDatalists } from './events.js';
import { conditionComplete, fromRule, incompleteRows, locate, newDraft, toRule } from './model.js';

const PREVIEW_DELAY_MS = 350;

/**
 * Renders the builder into `section`. `id`: the segment to edit;
 * `copyOf`: the segment to duplicate (saved as a new one).
 */
export async function builderPage(section, { id, copyOf } = {}) {
  const title = heading(id ? 'Edit segment' : copyOf ? 'Duplicate segment' : 'New segment');
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  section.append(title, body);
  document.title = `${title.textContent} · flowseg`;

  let loaded;
  try {
    const source = id ?? copyOf;
    const [fields, catalog, segments, segment] = await Promise.all([
      get('/v1/fields'),
      get('/v1/events/catalog'),
      get('/v1/segments'),
      source ? get(`/v1/segments/${enc(source)}`) : null,
    ]);
    loaded = { fields: fields.fields, catalog: catalog.events, segments: segments.segments, segment };
  } catch (error) {
    replace(body, failure(error));
    return;
  }

  const draft = newDraft();
  if (loaded.segment) {
    Object.assign(draft, fromRule(loaded.segment.rule));
    draft.description = loaded.segment.description ?? '';
    draft.name = copyOf ? uniqueName(`${loaded.segment.name} (copy)`, loaded.segments) : loaded.segment.name;
    if (id) title.textContent = `Edit segment: ${loaded.segment.name}`;
  }
  const builder = new Builder(section, body, draft, loaded, id ?? null);
  builder.mount();
}

function uniqueName(base, segments) {
  const taken = new Set(segments.map((s) => s.name));
  if (!taken.has(base)) return base;
  for (let n = 2; ; n++) {
    const name = base.replace(/\(copy\)$/, `(copy ${n})`);
    if (!taken.has(name)) return name;
  }
}

class Builder {
  constructor(section, body, draft, loaded, id) {
    this.section = section;
    this.body = body;
    this.draft = draft;
    this.id = id;
    this.segments = loaded.segments;
    this.ctx = {
      fields: loaded.fields,
      types: new Map(loaded.fields.map((f) => [f.name, f.type])),
      catalog: new Map(loaded.catalog.map((e) => [e.name, e])),
      // A segment cannot reference itself (cycles are refused anyway).
      segments: loaded.segments.filter((s) => s.id !== id),
      changed: (structural, focusId) => this.changed(structural, focusId),
    };
    this.places = [];
    this.controller = null;
    this.showAllIncomplete = false;
    this.refresh = debounce(() => this.preview(), PREVIEW_DELAY_MS);
  }

  mount() {
    const name = h('input', {
      id: 'seg-name',
      type: 'text',
      required: true,
      'aria-required': 'true',
      'aria-describedby': 'name-errors',
      autocomplete: 'off',
      maxlength: '200',
      value: this.draft.name,
      oninput: (e) => {
        this.draft.name = e.target.value;
      },
    });
    const description = h('textarea', {
      id: 'seg-desc',
      rows: '2',
      value: this.draft.description,
      oninput: (e) => {
        this.draft.description = e.target.value;
      },
    });
    this.count = h('output', { id: 'live-count', class: 'live-count', 'data-state': 'pending', for: 'groups' }, '…');
    this.status = h('p', { id: 'live-status', class: 'muted' }, 'Counting…');
    this.sample = h('ul', { class: 'sample', 'aria-label': 'Sample of matching contacts' });
    this.groupsBox = h('div', { id: 'groups' });
    this.ruleText = h('pre', { id: 'rule-text', class: 'code' });
    this.ruleJson = h('pre', { id: 'rule-json', class: 'code' });
    this.textEditor = h('div', { class: 'text-editor' });
    this.rulePanel = h(
      'div',
      { id: 'rule-panel', class: 'rule-panel', hidden: true },
      h('h2', {}, 'As text'),
      this.ruleText,
      this.textEditor,
      h('h2', {}, 'As JSON'),
      this.ruleJson,
    );
    const toggle = h(
      'button',
      {
        type: 'button',
        id: 'rule-toggle',
        class: 'secondary',
        'aria-expanded': 'false',
        'aria-controls': 'rule-panel',
        onclick: () => {
          const open = this.rulePanel.hidden;
          this.rulePanel.hidden = !open;
          toggle.setAttribute('aria-expanded', String(open));
          toggle.textContent = open ? 'Hide rule' : 'Show rule as text and JSON';
          if (open) this.paintRule();
        },
      },
      'Show rule as text and JSON',
    );
    this.formErrors = h('ul', { class: 'errors', id: 'form-errors' });
    const form = h(
      'form',
      { class: 'builder', novalidate: true, onsubmit: (e) => this.save(e) },
      h(
        'div',
        { class: 'builder-top' },
        h(
          'div',
          { class: 'meta' },
          h('label', { for: 'seg-name' }, 'Name ', h('span', { class: 'required', 'aria-hidden': 'true' }, '*')),
          name,
          h('ul', { class: 'errors', id: 'name-errors' }),
          h('label', { for: 'seg-desc' }, 'Description'),
          description,
        ),
        h(
          'aside',
          { class: 'live', 'aria-live': 'polite', 'aria-atomic': 'true', 'aria-label': 'Live member count' },
          h('div', { class: 'live-label' }, 'Matching contacts'),
          this.count,
          this.status,
          this.sample,
        ),
      ),
      sharedDatalists(this.ctx),
      this.groupsBox,
      h('div', { class: 'rule-view' }, toggle, this.rulePanel),
      this.formErrors,
      h(
        'div',
        { class: 'form-actions' },
        h('button', { type: 'submit', class: 'primary', id: 'save' }, this.id ? 'Save changes' : 'Save segment'),
        h('a', { href: '#/segments', class: 'button ghost' }, 'Cancel'),
      ),
    );
    replace(this.body, form);
    this.paint();
    this.changed(false);
  }

  /** Re-renders the groups, keeping focus on the same control. */
  paint(focusId) {
    const focused = document.activeElement;
    const active = focusId ?? focused?.id;
    // A re-render while typing (a known attribute changes the editors)
    // keeps the caret where it was.
    const caret = !focusId && typeof focused?.selectionStart === 'number' ? [focused.selectionStart, focused.selectionEnd] : null;
    const join =
      this.draft.groups.length > 1
        ? h(
            'fieldset',
            { class: 'join' },
            h('legend', {}, 'Combine the groups'),
            [
              ['all', 'Contacts in every group (AND)'],
              ['any', 'Contacts in any group (OR)'],
            ].map(([value, label]) =>
              h(
                'label',
                { class: 'radio' },
                h('input', {
                  type: 'radio',
                  name: 'join',
                  id: `join-${value}`,
                  value,
                  checked: this.draft.join === value,
                  onchange: () => {
                    this.draft.join = value;
                    this.changed(true);
                  },
                }),
                h('span', {}, label),
              ),
            ),
          )
        : null;
    replace(this.groupsBox, join, renderGroups(this.draft, this.ctx));
    const target = active && document.getElementById(active);
    if (target) {
      target.focus();
      if (caret && typeof target.setSelectionRange === 'function') {
        try {
          target.setSelectionRange(...caret);
        } catch {
          // Number inputs have no selection; focus is enough.
        }
      }
    }
    this.markIncomplete();
  }

  changed(structural, focusId) {
    // Errors point into the previous rule; they are refreshed with the count.
    if (structural) {
      this.paint(focusId);
      this.clearErrors();
    }
    this.count.dataset.state = 'pending';
    this.refresh();
  }

  markIncomplete() {
    const types = this.ctx.types;
    for (const row of this.groupsBox.querySelectorAll('.condition')) {
      const c = findCondition(this.draft, row.dataset.key);
      const note = row.querySelector('.incomplete-note');
      if (!c || !note) continue;
      const blank = c.kind === 'field' ? !c.field : c.kind === 'segment' ? !c.segment : !c.event;
      note.hidden = conditionComplete(c, types) || (blank && !this.showAllIncomplete);
    }
  }

  async preview() {
    if (!this.section.isConnected) return;
    const { rule, places } = toRule(this.draft, this.ctx.types);
    this.rule = rule;
    this.places = places;
    this.markIncomplete();
    this.paintRule();
    this.controller?.abort();
    const controller = new AbortController();
    this.controller = controller;
    this.status.textContent = 'Counting…';
    try {
      const result = await post('/v1/segments/preview', { rule }, { signal: controller.signal });
      if (controller !== this.controller) return;
      this.count.textContent = number(result.count);
      this.count.dataset.count = String(result.count);
      const skipped = incompleteRows(this.draft, this.ctx.types).length;
      this.status.textContent = skipped
        ? `${skipped} unfinished condition${skipped > 1 ? 's are' : ' is'} not counted.`
        : `Counted in ${Math.max(1, Math.round(result.took_ms ?? 0))} ms.`;
      replace(
        this.sample,
        (result.sample ?? []).slice(0, 5).map((c) =>
          h('li', {}, h('a', { href: `#/contacts/${enc(c.id)}` }, c.Email ?? c.ExternalId ?? c.MobilePhone ?? c.id)),
        ),
      );
      this.showErrors([], places);
    } catch (error) {
      if (error.name === 'AbortError' || controller !== this.controller) return;
      this.count.textContent = '—';
      delete this.count.dataset.count;
      this.sample.replaceChildren();
      if (error instanceof ApiError && error.status === 422) {
        const n = error.details.length || 1;
        this.status.textContent = `The rule has ${n} problem${n > 1 ? 's' : ''}: see the highlighted condition${n > 1 ? 's' : ''}.`;
        this.showErrors(error.details.length ? error.details : [{ path: '/rule', message: error.message }], places);
      } else {
        this.status.textContent = `Could not count: ${error.message}`;
      }
    } finally {
      if (controller === this.controller) this.count.dataset.state = 'ready';
    }
  }

  clearErrors() {
    for (const ul of this.section.querySelectorAll('ul.errors')) ul.replaceChildren();
    for (const el of this.section.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
    for (const el of this.section.querySelectorAll('.has-error')) el.classList.remove('has-error');
  }

  /** Shows each problem on the row and control its pointer names. */
  showErrors(details, places) {
    this.clearErrors();
    for (const detail of details) {
      const path = detail.path ?? '';
      const message = detail.message ?? 'invalid';
      if (path === '/name' || path.startsWith('/name/')) {
        this.addError(this.section.querySelector('#name-errors'), message, this.section.querySelector('#seg-name'));
        continue;
      }
      const hit = path.startsWith('/rule') ? locate(places, path) : null;
      const box = hit && this.section.querySelector(`[data-key="${hit.key}"]`);
      if (!box) {
        this.addError(this.formErrors, path ? `${path}: ${message}` : message);
        continue;
      }
      box.classList.add('has-error');
      this.addError(box.querySelector(`#${hit.key}-errors`), message, controlFor(box, hit.rest));
    }
  }

  addError(list, message, control) {
    if (!list) return;
    list.append(h('li', {}, message));
    if (control) {
      control.setAttribute('aria-invalid', 'true');
      control.setAttribute('aria-describedby', list.id);
    }
  }

  async paintRule() {
    if (!this.rule || this.rulePanel.hidden) return;
    const rule = this.rule;
    this.ruleJson.textContent = JSON.stringify(rule, null, 2);
    if (!(await serverHas('/v1/rules/format'))) {
      this.ruleText.textContent = 'This server cannot print rules as text yet (it has no POST /v1/rules/format).';
      return;
    }
    if (!this.textEditor.childElementCount && (await serverHas('/v1/rules/parse'))) {
      this.textEditor.append(
        h('button', { type: 'button', class: 'secondary small', id: 'edit-text', onclick: () => this.editText() }, 'Edit as text'),
      );
    }
    try {
      const { text } = await post('/v1/rules/format', { rule });
      if (rule === this.rule) {
        this.ruleText.textContent = text;
        this.formatted = text;
      }
    } catch (error) {
      if (rule !== this.rule) return;
      this.formatted = '';
      this.ruleText.textContent =
        error.status === 422 ? 'The text form appears once the rule is valid.' : `Could not print the rule: ${error.message}`;
    }
  }

  /**
   * Lets the rule be written in the text language (SPEC §3); applying it
   * parses it on the server (`POST /v1/rules/parse`) and loads the result
   * into the groups, or shows the parser's line, column and hint.
   */
  editText() {
    const input = h('textarea', {
      id: 'rule-text-input',
      class: 'code-input',
      rows: '6',
      spellcheck: 'false',
      'aria-describedby': 'rule-text-problems',
      // The rule as last printed; nothing when it does not print (invalid).
      value: this.formatted ?? '',
    });
    const problems = h('pre', { id: 'rule-text-problems', class: 'diagnostic', role: 'alert' });
    const close = () => {
      this.ruleText.hidden = false;
      replace(this.textEditor, h('button', { type: 'button', class: 'secondary small', id: 'edit-text', onclick: () => this.editText() }, 'Edit as text'));
      this.textEditor.querySelector('button')?.focus();
    };
    const apply = async () => {
      problems.textContent = '';
      try {
        const { rule } = await post('/v1/rules/parse', { text: input.value });
        const { join, groups } = fromRule(rule);
        this.draft.join = join;
        this.draft.groups = groups;
        close();
        this.changed(true);
      } catch (error) {
        const details = error.details ?? [];
        problems.textContent = details.length ? details.map((d) => d.rendered ?? `line ${d.line}, column ${d.column}: ${d.message}`).join('\n\n') : error.message;
        input.focus();
      }
    };
    this.ruleText.hidden = true;
    replace(
      this.textEditor,
      h('label', { for: 'rule-text-input' }, 'Rule as text'),
      input,
      problems,
      h(
        'div',
        { class: 'form-actions' },
        h('button', { type: 'button', class: 'primary small', id: 'apply-text', onclick: apply }, 'Apply text'),
        h('button', { type: 'button', class: 'ghost small', onclick: close }, 'Cancel'),
      ),
    );
    input.focus();
  }

  async save(event) {
    event.preventDefault();
    this.refresh.cancel();
    const name = this.draft.name.trim();
    const { rule, places } = toRule(this.draft, this.ctx.types);
    this.places = places;
    this.clearErrors();
    const nameInput = this.section.querySelector('#seg-name');
    const nameErrors = this.section.querySelector('#name-errors');
    if (!name) {
      this.addError(nameErrors, 'Give the segment a name.', nameInput);
      nameInput.focus();
      return;
    }
    if (this.segments.some((s) => s.name === name && s.id !== this.id)) {
      this.addError(nameErrors, `A segment named “${name}” already exists: choose another name.`, nameInput);
      nameInput.focus();
      return;
    }
    const unfinished = incompleteRows(this.draft, this.ctx.types);
    if (unfinished.length) {
      this.showAllIncomplete = true;
      this.markIncomplete();
      const n = unfinished.length;
      this.addError(this.formErrors, `Complete or remove ${n} unfinished condition${n > 1 ? 's' : ''} before saving.`);
      this.section.querySelector(`[data-key="${unfinished[0].key}"] select, [data-key="${unfinished[0].key}"] input`)?.focus();
      return;
    }
    const payload = { name, description: this.draft.description.trim(), rule };
    const button = this.section.querySelector('#save');
    button.disabled = true;
    try {
      const saved = this.id ? await put(`/v1/segments/${enc(this.id)}`, payload) : await post('/v1/segments', payload);
      toast(`Saved segment “${saved.name}”.`);
      location.hash = '#/segments';
    } catch (error) {
      button.disabled = false;
      if (error.status === 409 && /named/.test(error.message)) {
        this.addError(nameErrors, error.message, nameInput);
        nameInput.focus();
      } else if (error.status === 422) {
        this.showErrors(error.details.length ? error.details : [{ path: '', message: error.message }], places);
        this.section.querySelector('[aria-invalid="true"]')?.focus();
      } else {
        this.addError(this.formErrors, error.message);
      }
    }
  }
}

function findCondition(draft, key) {
  let found = null;
  const walk = (item) => {
    if (found) return;
    if (item.key === key) found = item;
    else if (item.type === 'group') item.items.forEach(walk);
  };
  draft.groups.forEach(walk);
  return found;
}

/**
 * The control of `box` (a row or group, not its nested rows) whose
 * `data-ptr` is the longest segment-wise prefix of `rest`.
 */
function controlFor(box, rest) {
  let best = null;
  for (const el of box.querySelectorAll('[data-ptr]')) {
    if (el.closest('[data-key]') !== box) continue;
    const ptr = el.dataset.ptr;
    const hit = ptr && (rest === ptr || rest.startsWith(`${ptr}/`));
    if (hit && (!best || ptr.length > best.dataset.ptr.length)) best = el;
  }
  return best;
}
