// Shared by the browser tests: the real flowseg binary on a free loopback
// port with a fresh data directory, an API client, seed data made through
// the public API, and Debian's Chromium launched through playwright-core
// (never a downloaded browser: this machine cannot fetch one).

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const ADMIN_TOKEN = `adm_panel_tests_${process.pid}`;

/** Starts `flowseg serve` on 127.0.0.1 with an OS-chosen port. */
export async function startServer() {
  const bin = process.env.FLOWSEG_BIN ?? path.join(ROOT, 'target/debug/flowseg');
  if (!existsSync(bin)) throw new Error(`no flowseg binary at ${bin}: run \`cargo build --bin flowseg\` or set FLOWSEG_BIN`);
  const data = mkdtempSync(path.join(tmpdir(), 'flowseg-panel-'));
  const child = spawn(bin, ['--data', data, 'serve', '--listen', '127.0.0.1:0', '--admin-token', ADMIN_TOKEN], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, FLOWSEG_LOG: process.env.FLOWSEG_LOG ?? 'warn' },
  });
  // The log is kept (bounded) to explain a failure; the pipe must be drained anyway.
  let log = '';
  child.stderr.on('data', (chunk) => {
    log = (log + chunk).slice(-20_000);
  });
  const base = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`flowseg did not start within 30 s:\n${log}`)), 30_000);
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const m = /listens on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`flowseg exited with ${code} before listening:\n${log}`));
    });
  });
  return {
    base,
    log: () => log,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await once(child, 'exit');
        clearTimeout(killer);
      }
      rmSync(data, { recursive: true, force: true });
    },
  };
}

/** A minimal API client: JSON in and out, throws on a non-2xx answer. */
export function client(base, key) {
  const call = async (method, p, body) => {
    const headers = { Authorization: `Bearer ${key}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const response = await fetch(base + p, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${p} answered ${response.status}: ${text}`);
    return text ? JSON.parse(text) : null;
  };
  return {
    get: (p) => call('GET', p),
    post: (p, body) => call('POST', p, body),
    put: (p, body) => call('PUT', p, body),
    patch: (p, body) => call('PATCH', p, body),
    delete: (p) => call('DELETE', p),
  };
}

const FIRST = ['Ann', 'Bartek', 'Celina', 'Dawid', 'Ewa', 'Filip', 'Gosia', 'Henryk', 'Iga', 'Jan', 'Kasia', 'Leon'];
const LAST = ['Nowak', 'Kowalska', 'Wiśniewski', 'Wójcik', 'Kamińska', 'Lewandowski'];
const CITIES = ['Warsaw', 'Krakow', 'Gdansk', 'Warsaw', 'Poznan', 'Berlin', 'Wroclaw'];
const STATUS = ['vip', 'regular', 'new'];
const DAY = 86_400_000;

/**
 * An account with custom events, five custom fields, 48 contacts, their
 * visits, mails, carts and purchases (times relative to now, so windows
 * such as "last 30 days" select the same contacts on every run), and three
 * saved segments.
 */
export async function seed(base) {
  const admin = client(base, ADMIN_TOKEN);
  const account = await admin.post('/v1/accounts', { addons: { custom_events: true } });
  const api = client(base, account.secret_key);
  for (const [name, type] of [
    ['City', 'text'],
    ['Age', 'number'],
    ['Customer_Status', 'text'],
    ['Newsletter', 'boolean'],
    ['Birthday', 'date'],
  ]) {
    await api.post('/v1/fields', { name, type });
  }
  const contacts = Array.from({ length: 48 }, (_, i) => {
    const first = FIRST[i % FIRST.length];
    const last = LAST[(i * 5) % LAST.length];
    return {
      Email: `${first.toLowerCase()}.${i}@shop.test`,
      FirstName: first,
      LastName: last,
      City: CITIES[(i * 5) % CITIES.length],
      Age: 19 + ((i * 7) % 45),
      Customer_Status: STATUS[i % STATUS.length],
      Newsletter: i % 4 !== 0,
      Birthday: `19${70 + (i % 30)}-0${1 + (i % 9)}-1${i % 10}`,
      ...(i % 3 === 0 ? { MobilePhone: `+48 600 100 ${String(100 + i)}` } : {}),
    };
  });
  const { results } = await api.post('/v1/contacts', contacts);
  const ids = results.map((r) => {
    if (!r.id) throw new Error(`seed contact refused: ${JSON.stringify(r)}`);
    return r.id;
  });
  const now = Date.now();
  const at = (ms) => new Date(now - ms).toISOString();
  const events = [];
  ids.forEach((id, i) => {
    const contact = { id };
    // Shoes bought 1–80 days ago: some inside a 30-day window, some not.
    if (i % 3 === 0) {
      events.push({ id: `p-${i}`, name: 'purchase', contact, time: at(((i * 5) % 80) * DAY + DAY), attributes: { category: 'shoes', price: 80 + i * 3, order_id: `o-${i}` } });
    }
    if (i % 4 === 1) {
      events.push({ id: `b-${i}`, name: 'purchase', contact, time: at(3 * DAY), attributes: { category: 'bags', price: 150 + i, order_id: `ob-${i}` } });
    }
    if (i % 5 === 0) {
      events.push({ name: 'cart_add', contact, time: at(20 * 3_600_000), attributes: { cart_id: `cart-${i}`, value: 99.5 } });
    }
    if (i % 2 === 0) {
      for (let v = 0; v < 1 + (i % 3); v++) {
        events.push({ name: 'Visit', contact, time: at((v + 1) * 7_200_000 + i * 60_000), attributes: { url: v % 2 ? 'https://shop.test/shoes' : 'https://shop.test/pricing', title: 'Shop', session_id: `s-${i}-${v}` } });
      }
    }
    if (i % 3 === 1) {
      events.push({ name: 'MailOpen', contact, time: at(2 * DAY + i * 60_000), attributes: { campaign_id: 'spring-sale' } });
    }
  });
  const outcome = await api.post('/v1/events', events);
  if (outcome.rejected.length) throw new Error(`seed events refused: ${JSON.stringify(outcome.rejected)}`);
  for (const s of [
    { name: 'VIP customers', description: 'Customer_Status is vip.', rule: { field: 'Customer_Status', op: 'equals', value: 'vip' } },
    { name: 'Newsletter readers', description: 'Subscribed and opened a mail in the last 30 days.', rule: { all: [{ field: 'Newsletter', op: 'is_true' }, { event: 'MailOpen', within: { last: '30d' } }] } },
    { name: 'Pricing page visitors', description: 'Looked at /pricing this week.', rule: { event: 'Visit', where: [{ attribute: 'url', op: 'contains', value: '/pricing' }], within: { last: '7d' } } },
  ]) {
    await api.post('/v1/segments', s);
  }
  return { account, api, ids };
}

/**
 * Debian's Chromium, headless. playwright-core's `launch` gives it a new,
 * empty profile directory of its own (it refuses `--user-data-dir`) and
 * removes it on close.
 */
export async function launchBrowser() {
  const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!existsSync(executablePath)) throw new Error(`no Chromium at ${executablePath}: run scripts/panel-tests.sh, or set CHROMIUM_PATH`);
  // Without the background-networking flags Chromium keeps dialling
  // Google's hosts, which this machine's closed network refuses.
  return chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Where screenshots go: docs/screenshots with SCREENSHOTS=docs, else a scratch folder. */
export function screenshotDir() {
  const dir = process.env.SCREENSHOTS === 'docs' ? path.join(ROOT, 'docs/screenshots') : path.join(ROOT, 'target/panel-screenshots');
  mkdirSync(dir, { recursive: true });
  return dir;
}
