// The web panel in a real browser: headless Debian Chromium, driven by
// playwright-core, against the real `flowseg serve` with seed data made
// through the public API. The steps run in order on one page, as a
// marketer would: sign in, build a two-group segment with an event
// condition and compare its live count with the API's, save it, find it,
// open its members, edit it, see validation errors on the right rows,
// duplicate and delete, open a contact, and use it all at phone width.
//
// Screenshots go to target/panel-screenshots, or to docs/screenshots with
// SCREENSHOTS=docs (how the committed ones are made).

import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { launchBrowser, screenshotDir, seed, startServer } from './support.mjs';

const SEGMENT = 'Warsaw shoe buyers';

const cityRow = { field: 'City', op: 'equals', value: 'Warsaw' };
const shoesRow = {
  event: 'purchase',
  where: [{ attribute: 'category', op: 'equals', value: 'shoes' }],
  within: { last: '30d' },
  count: { op: 'gte', value: 1 },
};
const twoGroups = (join) => ({ [join]: [{ all: [cityRow] }, { all: [shoesRow] }] });

describe('the web panel in headless Chromium', { concurrency: 1 }, () => {
  let server;
  let api;
  let secretKey;
  let browser;
  let page;
  let shots;
  // Console errors and page errors not expected by the current step.
  let problems = [];
  let allowedStatuses = new Set();

  const label = (text) => page.getByLabel(text, { exact: true });
  const button = (name) => page.getByRole('button', { name, exact: true });
  const h1 = (name) => page.getByRole('heading', { level: 1, name, exact: true });

  /** The live count once the preview for the current rule has answered. */
  async function liveCount() {
    const el = await page.waitForSelector('#live-count[data-state="ready"][data-count]');
    return Number(await el.getAttribute('data-count'));
  }

  /** A full-page screenshot once counts have answered and no message is showing. */
  async function shoot(name) {
    await page.waitForFunction(() => !document.querySelector('#live-count[data-state="pending"]'));
    // A passing message is not part of the page: dismiss it (and wait out its fade).
    const hadMessage = await page.evaluate(() => {
      const toast = document.querySelector('.toast.shown');
      toast?.classList.remove('shown');
      return Boolean(toast);
    });
    if (hadMessage) await page.waitForTimeout(300);
    await page.screenshot({ path: path.join(shots, name), fullPage: true });
  }

  async function preview(rule) {
    return (await api.post('/v1/segments/preview', { rule })).count;
  }

  async function segmentNamed(name) {
    return (await api.get('/v1/segments')).segments.find((s) => s.name === name);
  }

  /** Controls without an accessible name on the current page (should be none). */
  function unlabelled() {
    return page.evaluate(() =>
      [...document.querySelectorAll('input, select, textarea, button')]
        .filter((el) => el.offsetParent !== null || el.getClientRects().length)
        .filter((el) => {
          if (el.getAttribute('aria-label') || el.getAttribute('aria-labelledby') || el.title) return false;
          if (el.labels?.length) return false;
          return el.tagName === 'BUTTON' ? !el.textContent.trim() : true;
        })
        .map((el) => el.outerHTML.slice(0, 120)),
    );
  }

  before(async () => {
    server = await startServer();
    const seeded = await seed(server.base);
    api = seeded.api;
    secretKey = seeded.account.secret_key;
    browser = await launchBrowser();
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true, locale: 'en-GB' });
    page = await context.newPage();
    page.setDefaultTimeout(15_000);
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() !== 'error' && m.type() !== 'warning') return;
      // Chromium reports every non-2xx fetch on the console; a step that
      // provokes one on purpose (a wrong key, an invalid rule) allows it.
      const status = /status of (\d{3})/.exec(m.text())?.[1];
      if (status && allowedStatuses.has(Number(status))) return;
      problems.push(`console ${m.type()}: ${m.text()}`);
    });
    shots = screenshotDir();
  });

  afterEach(() => {
    const seen = problems;
    problems = [];
    allowedStatuses = new Set();
    assert.deepEqual(seen, [], 'no console errors');
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  it('signs in with the secret key, by keyboard, and refuses a wrong key', async () => {
    allowedStatuses = new Set([401]);
    await page.goto(`${server.base}/`);
    await h1('Sign in to flowseg').waitFor();
    // The key box has focus: type and press Enter.
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'secret-key');
    await page.keyboard.type('sk_not_a_key');
    await page.keyboard.press('Enter');
    await page.locator('#key-error', { hasText: 'not valid' }).waitFor();
    await label('Secret key').fill(secretKey);
    await page.keyboard.press('Enter');
    await h1('Segments').waitFor();
    assert.deepEqual(await unlabelled(), []);
  });

  it('builds a two-group segment with an event condition; the live count equals the API preview', async () => {
    await page.getByRole('link', { name: '+ New segment' }).click();
    await h1('New segment').waitFor();
    await page.locator('#seg-name').fill(SEGMENT);
    await page.locator('#seg-desc').fill('Lives in Warsaw and bought shoes in the last 30 days.');

    // Segment 1: City is "Warsaw".
    await label('Segment 1, condition 1: field').selectOption('City');
    await label('Segment 1, condition 1: operator').selectOption('equals');
    await label('Segment 1, condition 1: value').fill('Warsaw');
    assert.equal(await liveCount(), await preview(cityRow));

    // Segment 2: the custom event purchase, category "shoes", last 30 days.
    await button('+ Add group').click();
    await label('Segment 2, condition 1: data type').selectOption('custom');
    await label('Segment 2, condition 1: event name').fill('purchase');
    await button('Segment 2, condition 1, filter: add an attribute filter').click();
    await label('Segment 2, condition 1, filter 1: attribute').fill('category');
    await label('Segment 2, condition 1, filter 1: value').fill('shoes');
    await label('Segment 2, condition 1: time window').selectOption('last');
    await label('Segment 2, condition 1: window length: amount').fill('30');
    await label('Contacts in every group (AND)').check();

    const count = await liveCount();
    const expected = await preview(twoGroups('all'));
    assert.equal(count, expected);
    assert.ok(expected > 0 && expected < (await preview(cityRow)), `a narrowing, non-empty segment (${expected})`);

    // The rule behind the count, as JSON and as text.
    await button('Show rule as text and JSON').click();
    assert.deepEqual(JSON.parse(await page.locator('#rule-json').textContent()), twoGroups('all'));
    await page.locator('#rule-text', { hasText: 'purchase' }).waitFor();
    const text = await page.locator('#rule-text').textContent();
    assert.match(text, /City/);
    assert.match(text, /Warsaw/);
    assert.deepEqual(await unlabelled(), []);
    await shoot('builder.png');
  });

  it('saves it and finds it in the list, with the same count', async () => {
    await button('Save segment').click();
    await h1('Segments').waitFor();
    const saved = await segmentNamed(SEGMENT);
    assert.ok(saved, 'saved through the API');
    assert.deepEqual(saved.rule, twoGroups('all'));

    await label('Search segments by name').fill('shoe buy');
    await page.locator('#segment-summary', { hasText: '1 of 4 segments' }).waitFor();
    const rows = page.locator('table.segments tbody tr');
    assert.equal(await rows.count(), 1);
    assert.equal(await rows.first().locator('.segment-name').textContent(), SEGMENT);
    const cell = await page.waitForSelector('table.segments tbody tr .count[data-count]');
    assert.equal(Number(await cell.getAttribute('data-count')), (await api.get(`/v1/segments/${saved.id}/count`)).count);

    await label('Search segments by name').fill('');
    await page.waitForFunction(() => document.querySelectorAll('table.segments .count[data-count]').length === 4);
    await shoot('segments.png');
  });

  it('opens its members, with a chosen column and a CSV export', async () => {
    const saved = await segmentNamed(SEGMENT);
    await page.getByRole('link', { name: `Show members of ${SEGMENT}` }).click();
    await h1(`Members of ${SEGMENT}`).waitFor();
    const expected = (await api.get(`/v1/segments/${saved.id}/members?fields=Age&limit=1000`)).members;
    await page.locator('table.members tbody tr').first().waitFor();
    const ids = await page.locator('table.members tbody tr td:first-child').allTextContents();
    assert.deepEqual(ids, expected.map((m) => m.id));

    await page.getByText('Columns', { exact: true }).click();
    await label('Age').check();
    await page.locator('table.members th', { hasText: 'Age' }).waitFor();
    const ages = await page.locator('table.members tbody tr td:last-child').allTextContents();
    assert.deepEqual(ages, expected.map((m) => String(m.Age)));

    const [download] = await Promise.all([page.waitForEvent('download'), button('Export CSV').click()]);
    assert.equal(download.suggestedFilename(), 'warsaw-shoe-buyers-members.csv');
    const csv = (await readFile(await download.path(), 'utf8')).trim().split('\n');
    assert.equal(csv[0], 'id,Email,MobilePhone,ExternalId,Age');
    assert.deepEqual(csv.slice(1).map((line) => line.split(',')[0]).sort(), expected.map((m) => m.id).sort());
  });

  it('pages through members over one consistent result', async () => {
    const vip = await segmentNamed('VIP customers');
    const all = (await api.get(`/v1/segments/${vip.id}/members?limit=1000`)).members.map((m) => m.id);
    assert.ok(all.length > 10 && all.length <= 20, `seed: ${all.length} VIP customers`);
    await page.getByRole('link', { name: 'All segments' }).click();
    await page.getByRole('link', { name: 'Show members of VIP customers' }).click();
    await h1('Members of VIP customers').waitFor();
    await label('Members per page').selectOption('10');
    const ids = () => page.locator('table.members tbody tr td:first-child').allTextContents();
    await page.locator('#members-summary', { hasText: `Showing 1–10 of ${all.length}` }).waitFor();
    const first = await ids();
    await button('Next →').click();
    await page.locator('#members-summary', { hasText: `Showing 11–${all.length} of ${all.length}` }).waitFor();
    const second = await ids();
    assert.deepEqual([...first, ...second], all);
    assert.equal(await button('Next →').isDisabled(), true);
    await button('← Previous').click();
    await page.locator('#members-summary', { hasText: 'Showing 1–10' }).waitFor();
    assert.deepEqual(await ids(), first);
    assert.equal(await button('← Previous').isDisabled(), true);
    await page.getByRole('link', { name: 'All segments' }).click();
    await h1('Segments').waitFor();
  });

  it('edits it: the builder reads the saved rule back, OR between groups, and the count follows', async () => {
    await page.getByRole('link', { name: `Edit ${SEGMENT}` }).click();
    await h1(`Edit segment: ${SEGMENT}`).waitFor();
    assert.equal(await label('Segment 1, condition 1: value').inputValue(), 'Warsaw');
    assert.equal(await label('Segment 2, condition 1: event name').inputValue(), 'purchase');
    assert.equal(await label('Segment 2, condition 1, filter 1: value').inputValue(), 'shoes');
    assert.equal(await liveCount(), await preview(twoGroups('all')));

    await label('Contacts in any group (OR)').check();
    assert.equal(await liveCount(), await preview(twoGroups('any')));
    await button('Save changes').click();
    await h1('Segments').waitFor();
    assert.deepEqual((await segmentNamed(SEGMENT)).rule, twoGroups('any'));
  });

  it('shows validation errors on the row they belong to', async () => {
    allowedStatuses = new Set([422]);
    const before = await segmentNamed(SEGMENT);
    await page.getByRole('link', { name: `Edit ${SEGMENT}` }).click();
    await h1(`Edit segment: ${SEGMENT}`).waitFor();
    await liveCount();
    const cityGroup = page.getByRole('group', { name: 'Segment 1, condition 1', exact: true });
    const eventRow = page.getByRole('group', { name: 'Segment 2, condition 1', exact: true });

    // A zero-length window is not a duration: the error lands on the event
    // row and its amount box, nowhere else.
    const amount = label('Segment 2, condition 1: window length: amount');
    await amount.fill('0');
    await eventRow.locator('ul.errors li').waitFor();
    assert.match(await eventRow.locator('ul.errors').textContent(), /not a duration/);
    assert.equal(await amount.getAttribute('aria-invalid'), 'true');
    assert.equal(await cityGroup.locator('ul.errors li').count(), 0);
    assert.equal(await page.locator('#live-count').textContent(), '—');

    // Saving is refused the same way, and nothing changes.
    await button('Save changes').click();
    await eventRow.locator('ul.errors li', { hasText: 'not a duration' }).waitFor();
    assert.equal(await h1(`Edit segment: ${SEGMENT}`).count(), 1);
    assert.deepEqual((await segmentNamed(SEGMENT)).rule, before.rule);

    // Fixed, the error goes; a bad pattern on a new row of Segment 1 is
    // reported on that row instead.
    await amount.fill('30');
    assert.equal(await liveCount(), await preview(twoGroups('any')));
    assert.equal(await eventRow.locator('ul.errors li').count(), 0);
    await button('Segment 1: add a condition').click();
    await label('Segment 1, condition 2: field').selectOption('City');
    await label('Segment 1, condition 2: operator').selectOption('matches');
    await label('Segment 1, condition 2: value').fill('war(');
    const patternRow = page.getByRole('group', { name: 'Segment 1, condition 2', exact: true });
    await patternRow.locator('ul.errors li').waitFor();
    assert.equal(await label('Segment 1, condition 2: value').getAttribute('aria-invalid'), 'true');
    assert.equal(await eventRow.locator('ul.errors li').count(), 0);
    assert.equal(await cityGroup.locator('ul.errors li').count(), 0);
    await shoot('builder-error.png');

    await page.getByRole('link', { name: 'Cancel' }).click();
    await h1('Segments').waitFor();
  });

  it('builds not-followed-by and aggregate conditions (keyboard adds the row)', async () => {
    await page.getByRole('link', { name: '+ New segment' }).click();
    await h1('New segment').waitFor();
    // Abandoned cart: added in the last 2 days, no purchase of that cart within 1 hour.
    await label('Segment 1, condition 1: data type').selectOption('custom');
    await label('Segment 1, condition 1: event name').fill('cart_add');
    await label('Segment 1, condition 1: time window').selectOption('last');
    await label('Segment 1, condition 1: window length: amount').fill('2');
    await label('Segment 1, condition 1: follow-up').selectOption('not_followed_by');
    await label('Segment 1, condition 1: follow-up event').fill('purchase');
    await label('Segment 1, condition 1: follow-up window (blank: any time until now): amount').fill('1');
    await label('Segment 1, condition 1: follow-up window (blank: any time until now): unit').selectOption('h');
    await label('Segment 1, condition 1: attributes that must match (e.g. cart_id): add a value (Enter)').fill('cart_id');
    await page.keyboard.press('Enter');

    // The second row, added from the keyboard: focus lands on its first control.
    await button('Segment 1: add a condition').focus();
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.activeElement?.getAttribute('aria-label') === 'Segment 1, condition 2: data type');
    await label('Segment 1, condition 2: data type').selectOption('custom');
    await label('Segment 1, condition 2: event name').fill('purchase');
    await label('Segment 1, condition 2: measure').selectOption('sum');
    await label('Segment 1, condition 2: numeric attribute').fill('price');
    await label('Segment 1, condition 2: comparison').selectOption('gt');
    await label('Segment 1, condition 2: amount').fill('300');
    await label('Segment 1: contacts match').selectOption('any');

    const expected = {
      any: [
        { event: 'cart_add', within: { last: '2d' }, count: { op: 'gte', value: 1 }, not_followed_by: { event: 'purchase', window: '1h', on: ['cart_id'] } },
        { event: 'purchase', aggregate: { fn: 'sum', attribute: 'price', op: 'gt', value: 300 } },
      ],
    };
    const count = await liveCount();
    await button('Show rule as text and JSON').click();
    assert.deepEqual(JSON.parse(await page.locator('#rule-json').textContent()), expected);
    assert.equal(count, await preview(expected));
    assert.ok(count > 0, 'the seed has abandoned carts and big spenders');
    await page.getByRole('link', { name: 'Cancel' }).click();
    await h1('Segments').waitFor();
  });

  it('takes the rule as text, and shows where the text is wrong', async () => {
    allowedStatuses = new Set([422]);
    await page.getByRole('link', { name: '+ New segment' }).click();
    await h1('New segment').waitFor();
    await liveCount();
    await button('Show rule as text and JSON').click();
    await button('Edit as text').click();
    await label('Rule as text').fill('City = "Warsaw" and');
    await button('Apply text').click();
    await page.locator('#rule-text-problems').filter({ hasText: /\S/ }).waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'rule-text-input');

    const text = 'City = "Warsaw" and did purchase where category = "shoes" in last 30d';
    await label('Rule as text').fill(text);
    await button('Apply text').click();
    await page.locator('#rule-text-input').waitFor({ state: 'detached' });
    assert.equal(await label('Segment 1, condition 1: value').inputValue(), 'Warsaw');
    assert.equal(await label('Segment 1, condition 2: event name').inputValue(), 'purchase');
    assert.equal(await label('Segment 1, condition 2, filter 1: value').inputValue(), 'shoes');
    const { rule } = await api.post('/v1/rules/parse', { text });
    assert.equal(await liveCount(), await preview(rule));
    await page.getByRole('link', { name: 'Cancel' }).click();
    await h1('Segments').waitFor();
  });

  it('duplicates a segment, and deletes only after confirmation', async () => {
    await page.getByRole('link', { name: `Duplicate ${SEGMENT}` }).click();
    await h1('Duplicate segment').waitFor();
    assert.equal(await page.locator('#seg-name').inputValue(), `${SEGMENT} (copy)`);
    await liveCount();
    // Names are unique: the original's name is refused on the name box.
    await page.locator('#seg-name').fill(SEGMENT);
    await button('Save segment').click();
    await page.locator('#name-errors li', { hasText: 'already exists' }).waitFor();
    assert.equal(await page.locator('#seg-name').getAttribute('aria-invalid'), 'true');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'seg-name');
    await page.locator('#seg-name').fill(`${SEGMENT} (copy)`);
    await button('Save segment').click();
    await h1('Segments').waitFor();
    const copy = await segmentNamed(`${SEGMENT} (copy)`);
    assert.deepEqual(copy.rule, (await segmentNamed(SEGMENT)).rule);

    // Escape (keyboard) cancels; then Delete confirms.
    await button(`Delete ${SEGMENT} (copy)`).click();
    await page.getByRole('dialog').waitFor();
    await page.keyboard.press('Escape');
    await page.getByRole('dialog').waitFor({ state: 'detached' });
    assert.ok(await segmentNamed(`${SEGMENT} (copy)`), 'still there after cancel');
    await button(`Delete ${SEGMENT} (copy)`).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
    await page.locator('#segment-summary', { hasText: '4 segments' }).waitFor();
    assert.equal(await segmentNamed(`${SEGMENT} (copy)`), undefined);
  });

  it('shows a contact: fields, timeline, segments and why', async () => {
    const saved = await segmentNamed(SEGMENT);
    const member = (await api.get(`/v1/segments/${saved.id}/members?fields=City`)).members.find((m) => m.City === 'Warsaw');
    // Found by email from the Contacts page.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Contacts' }).click();
    await h1('Contacts').waitFor();
    await label('Value to find').fill(member.Email.toUpperCase());
    await button('Find').click();
    await page.locator('#timeline li').first().waitFor();
    const contact = await api.get(`/v1/contacts/${member.id}`);
    await h1(`${contact.FirstName} ${contact.LastName}`).waitFor();
    assert.match(await page.locator('dl.fields').textContent(), /Warsaw/);
    const events = (await api.get(`/v1/contacts/${member.id}/events`)).events;
    assert.equal(await page.locator('#timeline li.event').count(), events.length);
    assert.match(await page.locator('#timeline').textContent(), /purchase/);

    await button(`Why is this contact in ${SEGMENT}?`).click();
    await page.locator('.why .verdict.yes').waitFor();
    assert.match(await page.locator('.why .tree').first().textContent(), /City is “Warsaw”/);
    assert.deepEqual(await unlabelled(), []);
    await shoot('contact.png');
  });

  it('works at phone width without sideways scrolling', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    const saved = await segmentNamed(SEGMENT);
    const contact = (await api.get('/v1/contacts?limit=1')).contacts[0];
    for (const [hash, title] of [
      ['#/segments', 'Segments'],
      [`#/segments/${saved.id}/edit`, `Edit segment: ${SEGMENT}`],
      [`#/segments/${saved.id}/members`, `Members of ${SEGMENT}`],
      [`#/contacts/${contact.id}`, null],
      ['#/contacts', 'Contacts'],
    ]) {
      await page.evaluate((h) => {
        location.hash = h;
      }, hash);
      if (title) await h1(title).waitFor();
      await page.waitForLoadState('networkidle');
      const widths = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
      assert.ok(widths[0] <= widths[1], `${hash}: page is ${widths[0]} px wide in a ${widths[1]} px viewport`);
      assert.deepEqual(await unlabelled(), [], hash);
      if (hash.endsWith('/edit')) await shoot('builder-phone.png');
    }
    await page.setViewportSize({ width: 1280, height: 900 });
  });
});
