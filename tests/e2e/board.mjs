// tests/e2e/board.mjs: the web page at / driven in headless Chromium, as a
// person would use it.  TAP on stdout: one "ok"/"not ok" line per
// assertion, the plan last; a crash is "Bail out!" (and no plan).
//
//   TASKAPI_BASE_URL=http://127.0.0.1:8080 node tests/e2e/board.mjs
//
// Env: TASKAPI_BASE_URL (required, else the whole file is skipped),
// TASKAPI_BUILD (screenshots go to $TASKAPI_BUILD/artifacts; default a
// temporary directory), CHROMIUM (default /usr/bin/chromium).
//
// What the page shows is read from the DOM; where a claim is about what
// was stored, the test asks the API itself (Node's fetch, with the token
// the page keeps in sessionStorage).

import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const BASE = (process.env.TASKAPI_BASE_URL || '').replace(/\/+$/, '');
if (!BASE) {
  console.log('1..0 # SKIP stack not running');
  process.exit(0);
}

const CSP = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";
const RUN = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const PASSWORD = 'correct horse battery';
const PAGE_SIZE = 10; // the page's page size (web/app.js)
const T0 = Date.now();

// ------------------------------------------------------------------ TAP

let n = 0;
let failed = 0;
const out = (s) => process.stdout.write(`${s}\n`);

function diag(msg) {
  for (const line of String(msg).split('\n')) {
    out(`# ${line}`);
  }
}

function ok(cond, desc, detail) {
  n++;
  const d = String(desc).replace(/\n/g, ' ').replace(/#/g, '\\#');
  if (cond) {
    out(`ok ${n} - ${d}`);
  } else {
    failed++;
    out(`not ok ${n} - ${d}`);
    if (detail !== undefined && detail !== '') {
      diag(typeof detail === 'string' ? detail : JSON.stringify(detail, null, 1));
    }
  }
  return Boolean(cond);
}

function is(got, want, desc) {
  const g = JSON.stringify(got);
  const w = JSON.stringify(want);
  return ok(g === w, desc, `got:  ${g}\nwant: ${w}`);
}

// Runs an assertion whose evaluation may itself throw (a timeout waiting
// for an element): a throw is a "not ok" with the reason, not a crash.
async function check(desc, fn) {
  try {
    const r = await fn();
    if (r === undefined || r === true) {
      return ok(true, desc);
    }
    if (r === false) {
      return ok(false, desc);
    }
    return ok(r.ok, desc, r.detail);
  } catch (e) {
    return ok(false, desc, String(e && e.message ? e.message : e).split('\n').slice(0, 8).join('\n'));
  }
}

const eq = (got, want) => ({
  ok: JSON.stringify(got) === JSON.stringify(want),
  detail: `got:  ${JSON.stringify(got)}\nwant: ${JSON.stringify(want)}`,
});

// ------------------------------------------------------------- helpers

async function apiAs(token, method, path, body) {
  const headers = { Accept: 'application/json' };
  if (token) {
    headers.Authorization = `Bearer ${token}`;
  }
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
  }
  const res = await fetch(`${BASE}/api/v1${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  return { status: res.status, json, link: res.headers.get('link') };
}

// The task list as the API pages it now: the ids of each page of
// PAGE_SIZE, following each answer's rel="next" link, and the cursors
// (the cursor of page i+1 at index i; none for page 1).
async function apiPages(token) {
  const pages = [];
  const cursors = [null];
  let path = `/tasks?limit=${PAGE_SIZE}`;
  for (let i = 0; i < 100 && path; i++) {
    const r = await apiAs(token, 'GET', path);
    pages.push(r.json.map((t) => t.id));
    const m = /^<([^>]*)>; rel="next"$/.exec(r.link || '');
    path = null;
    if (m) {
      const next = new URL(m[1], BASE);
      cursors.push(next.searchParams.get('cursor'));
      path = `${next.pathname.replace(/^\/api\/v1/, '')}${next.search}`;
    }
  }
  return { pages, cursors };
}

const tokenOf = (page) => page.evaluate(() => {
  const s = JSON.parse(sessionStorage.getItem('taskapi.session') || 'null');
  return s ? s.token : null;
});

const isListResponse = (r) => r.request().method() === 'GET' && /\/api\/v1\/tasks\?/.test(r.url());

async function listIdle(page) {
  await page.waitForFunction(() => {
    const b = document.getElementById('board-view');
    return b && !b.hidden && document.getElementById('tasks').getAttribute('aria-busy') === 'false';
  });
}

// Does `action` and waits until the list it causes has been fetched and shown.
async function afterListLoad(page, action) {
  await Promise.all([page.waitForResponse(isListResponse), action()]);
  await listIdle(page);
}

const rows = (page) => page.$$eval('#tasks > li.task', (lis) => lis.map((li) => ({
  id: li.dataset.id,
  title: li.querySelector('.task-title').textContent,
  status: li.querySelector('.task-status').value,
  priority: li.querySelector('.task-priority').value,
})));

const titles = async (page) => (await rows(page)).map((r) => r.title);
const row = (page, title) => page.locator('#tasks > li.task', {
  has: page.locator('.task-title', { hasText: new RegExp(`^${title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`) }),
});
const visible = (page, sel) => page.locator(sel).isVisible();
const text = async (page, sel) => ((await page.locator(sel).textContent()) || '').trim();

async function createViaForm(page, { title, description, priority, due }) {
  await page.fill('#new-title', title);
  await page.fill('#new-description', description || '');
  if (priority) {
    await page.selectOption('#new-priority', priority);
  }
  if (due) {
    await page.fill('#new-due', due);
  }
  const created = page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/api/v1/tasks'));
  await afterListLoad(page, () => page.click('#create-form button[type="submit"]'));
  return created;
}

async function register(page, name, email) {
  await page.fill('#register-name', name);
  await page.fill('#register-email', email);
  await page.fill('#register-password', PASSWORD);
  await afterListLoad(page, () => page.click('#register-form button[type="submit"]'));
}

// Things that must never happen on the page: script errors, CSP refusals,
// a file of the page that does not load.
function watch(page, bucket) {
  page.on('pageerror', (e) => bucket.push(`pageerror: ${e.message}`));
  page.on('response', (r) => {
    // The page's own files (not the API, whose errors are part of the test).
    if (r.url().startsWith(BASE) && !r.url().startsWith(`${BASE}/api/`) && r.status() >= 400) {
      bucket.push(`static: ${r.status()} ${r.url()}`);
    }
  });
  page.on('console', (m) => {
    const t = m.text();
    if (/Content Security Policy|Refused to/i.test(t)) {
      bucket.push(`csp: ${t}`);
    }
  });
}

// Sums the layout shifts not caused by input (Cumulative Layout Shift).
function clsProbe() {
  window.__cls = 0;
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        if (!e.hadRecentInput) {
          window.__cls += e.value;
        }
      }
    }).observe({ type: 'layout-shift', buffered: true });
  } catch {
    window.__cls = -1;
  }
}

const noHorizontalScroll = (page) => page.evaluate(() => ({
  scrollWidth: document.documentElement.scrollWidth,
  clientWidth: document.documentElement.clientWidth,
  bodyScroll: document.body.scrollWidth,
}));

// ------------------------------------------------------------------ test

async function main() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox'],
  });
  const problems = [];
  try {
    await run(browser, problems);
  } finally {
    await browser.close();
  }
}

async function run(browser, problems) {
  const ctxA = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  ctxA.setDefaultTimeout(10000);
  await ctxA.addInitScript(clsProbe);
  const page = await ctxA.newPage();
  watch(page, problems);

  const emailA = `web-a-${RUN}@example.test`;
  const nameA = `Ada ${RUN}`;

  // --- the page itself ----------------------------------------------------
  const res = await page.goto(`${BASE}/`);
  is(res.status(), 200, 'GET / answers 200');
  is(res.headers()['content-security-policy'], CSP, 'GET / carries the page CSP');
  await check('logged out: the log-in and register forms are shown', async () => {
    await page.locator('#login-form').waitFor();
    return (await visible(page, '#register-form')) && !(await visible(page, '#board-view'));
  });

  // --- register (then logged in), log out, wrong password, log in ----------
  await check('register: the board opens with the person\'s name', async () => {
    await register(page, nameA, emailA);
    const who = await text(page, '#who');
    return { ok: who.includes(nameA) && who.includes(emailA) && !(await visible(page, '#auth-view')), detail: who };
  });
  await check('the token is in sessionStorage and no cookie is set', async () => {
    const token = await tokenOf(page);
    const cookies = await ctxA.cookies();
    const docCookie = await page.evaluate(() => document.cookie);
    return { ok: /^[\w-]+\.[\w-]+\.[\w-]+$/.test(token || '') && cookies.length === 0 && docCookie === '',
      detail: { token: Boolean(token), cookies, docCookie } };
  });
  await check('a new account starts with the empty-list message', async () =>
    eq([await text(page, '#empty'), (await rows(page)).length], ['No tasks yet. Add one with the form.', 0]));

  await check('log out: back to the log-in form, token gone', async () => {
    await page.click('#logout');
    await page.locator('#login-form').waitFor();
    const token = await tokenOf(page);
    return { ok: token === null && (await text(page, '#auth-notice')) === 'You are logged out.' &&
      (await rows(page)).length === 0, detail: { token } };
  });

  await check('a wrong password: the API says 401 and the form shows it', async () => {
    await page.fill('#login-email', emailA);
    await page.fill('#login-password', 'not the password');
    const [r] = await Promise.all([
      page.waitForResponse((x) => x.url().endsWith('/api/v1/auth/login')),
      page.click('#login-form button[type="submit"]'),
    ]);
    await page.locator('#login-error').waitFor();
    const msg = await text(page, '#login-error');
    return { ok: r.status() === 401 && msg === 'Invalid email or password.' &&
      (await visible(page, '#login-form')) && (await tokenOf(page)) === null,
    detail: { status: r.status(), msg } };
  });

  await check('log in: the board opens', async () => {
    await page.fill('#login-password', PASSWORD);
    await afterListLoad(page, () => page.click('#login-form button[type="submit"]'));
    return !(await visible(page, '#login-error')) && (await text(page, '#who')).includes(emailA);
  });
  const tokenA = await tokenOf(page);

  // --- create three tasks -----------------------------------------------------
  const T = {
    alpha: `Alpha ${RUN}`,
    bravo: `Bravo ${RUN}`,
    charlie: `Charlie ${RUN}`,
  };
  const dueLocal = '2030-12-24T17:30';
  for (const [t, extra] of [
    [T.alpha, { priority: 'low' }],
    [T.bravo, { priority: 'high', description: 'Two lines\nof text' }],
    [T.charlie, { priority: 'critical', due: dueLocal }],
  ]) {
    await check(`create "${t}" from the form: POST answers 201, the form is emptied`, async () => {
      const created = await createViaForm(page, { title: t, ...extra });
      return eq([created.status(), await page.inputValue('#new-title'), await page.inputValue('#new-priority')], [201, '', 'medium']);
    });
  }
  await check('the three tasks are listed, newest first', async () => eq(await titles(page), [T.charlie, T.bravo, T.alpha]));

  const dueWanted = await page.evaluate((v) => new Date(v).getTime(), dueLocal);
  await check('the API stored the three tasks with their priority, description and due date', async () => {
    const r = await apiAs(tokenA, 'GET', '/tasks');
    const got = r.json.map((t) => [t.title, t.priority, t.description, t.due_at ? Date.parse(t.due_at) : null, t.status]);
    return eq(got, [
      [T.charlie, 'critical', null, dueWanted, 'todo'],
      [T.bravo, 'high', 'Two lines\nof text', null, 'todo'],
      [T.alpha, 'low', null, null, 'todo'],
    ]);
  });
  await check('the due date is shown on the task, in a <time> element', async () => {
    const dt = await row(page, T.charlie).locator('.task-due time').getAttribute('datetime');
    return { ok: Date.parse(dt) === dueWanted, detail: dt };
  });
  const ids = Object.fromEntries((await rows(page)).map((r) => [r.title, r.id]));

  // --- the in-flight state ------------------------------------------------------
  await check('while a create is in flight the form is busy and a second submit is ignored', async () => {
    let release;
    const gate = new Promise((r) => { release = r; });
    await page.route('**/api/v1/tasks', async (route) => {
      if (route.request().method() === 'POST') {
        await gate;
      }
      await route.continue();
    });
    const title = `Delta ${RUN}`;
    await page.fill('#new-title', title);
    await page.focus('#create-form button[type="submit"]');
    const done = page.waitForResponse(isListResponse);
    await page.keyboard.press('Enter');
    await page.waitForFunction(() => document.getElementById('create-form').getAttribute('aria-busy') === 'true');
    const during = await page.evaluate(() => {
      const b = document.querySelector('#create-form button[type="submit"]');
      const t = document.getElementById('new-title');
      return { button: b.disabled || b.getAttribute('aria-disabled') === 'true', title: t.disabled || t.readOnly };
    });
    await page.keyboard.press('Enter'); // a second submit while busy
    release();
    await done;
    await listIdle(page);
    await page.unroute('**/api/v1/tasks');
    const after = await page.evaluate(() => document.getElementById('create-form').getAttribute('aria-busy'));
    const stored = (await apiAs(tokenA, 'GET', '/tasks')).json.filter((t) => t.title === title).length;
    return eq({ during, after, stored }, { during: { button: true, title: true }, after: 'false', stored: 1 });
  });

  // --- API errors next to the field --------------------------------------------
  for (const [label, bad] of [['a whitespace-only title', '   '], ['a 201-character title', 'x'.repeat(201)]]) {
    await check(`${label}: the API's 400 is shown next to the title field`, async () => {
      const before = (await apiAs(tokenA, 'GET', '/tasks')).json.length;
      await page.fill('#new-title', bad);
      const [r] = await Promise.all([
        page.waitForResponse((x) => x.request().method() === 'POST' && x.url().endsWith('/api/v1/tasks')),
        page.click('#create-form button[type="submit"]'),
      ]);
      await page.locator('#new-title-error').waitFor();
      const msg = await text(page, '#new-title-error');
      const invalid = await page.getAttribute('#new-title', 'aria-invalid');
      const focused = await page.evaluate(() => document.activeElement.id);
      const after = (await apiAs(tokenA, 'GET', '/tasks')).json.length;
      return eq({ status: r.status(), msg, invalid, focused, stored: after - before },
        { status: 400, msg: 'Title must be 1 to 200 characters.', invalid: 'true', focused: 'new-title', stored: 0 });
    });
  }
  await page.fill('#new-title', '');

  // --- status in place, filter ----------------------------------------------
  await check('marking a task done: the row shows it and the API stored it', async () => {
    const [r] = await Promise.all([
      page.waitForResponse((x) => x.request().method() === 'PATCH'),
      row(page, T.bravo).locator('select.task-status').selectOption('done'),
    ]);
    await page.waitForFunction((id) => {
      const li = document.querySelector(`li[data-id="${id}"]`);
      return li && li.getAttribute('aria-busy') === 'false';
    }, ids[T.bravo]);
    const cls = await row(page, T.bravo).getAttribute('class');
    const stored = (await apiAs(tokenA, 'GET', `/tasks/${ids[T.bravo]}`)).json.status;
    return { ok: r.status() === 200 && /\bstatus-done\b/.test(cls) && stored === 'done', detail: { status: r.status(), cls, stored } };
  });

  await check('filter status = done: only the done task is listed', async () => {
    await afterListLoad(page, () => page.selectOption('#filter-status', 'done'));
    return eq({ titles: await titles(page), url: new URL(page.url()).search }, { titles: [T.bravo], url: '?status=done' });
  });
  await check('filter priority = low: only the low-priority task is listed', async () => {
    await afterListLoad(page, () => page.selectOption('#filter-status', ''));
    await afterListLoad(page, () => page.selectOption('#filter-priority', 'low'));
    return eq(await titles(page), [T.alpha]);
  });
  await check('clearing the filters lists the four tasks again', async () => {
    await afterListLoad(page, () => page.selectOption('#filter-priority', ''));
    return eq([(await rows(page)).length, new URL(page.url()).search], [4, '']);
  });

  // --- delete with a confirmation ----------------------------------------------
  await check('delete, then "Keep it": nothing is deleted', async () => {
    await row(page, T.alpha).locator('button.task-delete').click();
    const prompt = await text(page, `li[data-id="${ids[T.alpha]}"] .confirm-text`);
    await row(page, T.alpha).locator('button.confirm-no').click();
    const stored = (await apiAs(tokenA, 'GET', `/tasks/${ids[T.alpha]}`)).status;
    return eq({ prompt, stored, listed: (await titles(page)).includes(T.alpha) },
      { prompt: `Delete “${T.alpha}”? This cannot be undone.`, stored: 200, listed: true });
  });
  await check('delete, then "Yes, delete": the row goes, the API answers 404 for it, focus stays in the list', async () => {
    await row(page, T.alpha).locator('button.task-delete').click();
    await afterListLoad(page, () => row(page, T.alpha).locator('button.confirm-yes').click());
    const stored = (await apiAs(tokenA, 'GET', `/tasks/${ids[T.alpha]}`)).status;
    // Alpha was the last row: the focus moves to the row before it.
    const focus = await page.evaluate(() => {
      const a = document.activeElement;
      const li = a && a.closest('li.task');
      return li ? `${li.querySelector('.task-title').textContent} / ${a.className}` : a && (a.id || a.tagName);
    });
    return eq({ listed: (await titles(page)).includes(T.alpha), stored, focus },
      { listed: false, stored: 404, focus: `${T.bravo} / task-status` });
  });

  // --- edit title, due date and priority in place -------------------------------
  const charlie2 = `Charlie renamed ${RUN}`;
  await check('edit in place: new title and no due date are saved', async () => {
    const r = row(page, T.charlie);
    await r.locator('button.task-edit').click();
    const form = r.locator('form.edit-form');
    await form.locator('input[name="title"]').fill(charlie2);
    await form.locator('input[name="due_at"]').fill('');
    await Promise.all([
      page.waitForResponse((x) => x.request().method() === 'PATCH'),
      form.locator('button[type="submit"]').click(),
    ]);
    await form.waitFor({ state: 'hidden' });
    const stored = (await apiAs(tokenA, 'GET', `/tasks/${ids[T.charlie]}`)).json;
    const shown = await text(page, `li[data-id="${ids[T.charlie]}"] .task-title`);
    const due = await text(page, `li[data-id="${ids[T.charlie]}"] .task-due`);
    return eq({ shown, due, title: stored.title, due_at: stored.due_at }, { shown: charlie2, due: 'No due date', title: charlie2, due_at: null });
  });
  await check('edit in place: an empty title shows the API\'s error next to the field', async () => {
    const r = row(page, charlie2);
    await r.locator('button.task-edit').click();
    const form = r.locator('form.edit-form');
    await form.locator('input[name="title"]').fill('  ');
    await Promise.all([
      page.waitForResponse((x) => x.request().method() === 'PATCH' && x.status() === 400),
      form.locator('button[type="submit"]').click(),
    ]);
    const msg = await text(page, `li[data-id="${ids[T.charlie]}"] form.edit-form .field-error:not([hidden])`);
    await form.locator('input[name="title"]').press('Escape');
    const closed = await form.isHidden();
    const stored = (await apiAs(tokenA, 'GET', `/tasks/${ids[T.charlie]}`)).json.title;
    return eq({ msg, closed, stored }, { msg: 'Title must be 1 to 200 characters.', closed: true, stored: charlie2 });
  });
  await check('edit in place after someone else changed the task: 412, the page says so and shows their version', async () => {
    const theirs = `Charlie changed elsewhere ${RUN}`;
    const other = await apiAs(tokenA, 'PATCH', `/tasks/${ids[T.charlie]}`, { title: theirs });
    const r = page.locator(`#tasks > li[data-id="${ids[T.charlie]}"]`); // its title changes below
    await r.locator('button.task-edit').click();
    const form = r.locator('form.edit-form');
    await form.locator('input[name="title"]').fill(`Mine ${RUN}`);
    const [resp] = await Promise.all([
      page.waitForResponse((x) => x.request().method() === 'PATCH'),
      form.locator('button[type="submit"]').click(),
    ]);
    await page.waitForFunction((id) => {
      const e = document.querySelector(`li[data-id="${id}"] form.edit-form .form-error:not([hidden])`);
      return e && /Someone else changed this task/.test(e.textContent);
    }, ids[T.charlie]);
    const sentIfMatch = resp.request().headers()['if-match'] || '';
    const field = await form.locator('input[name="title"]').inputValue();
    const shown = await text(page, `li[data-id="${ids[T.charlie]}"] .task-title`);
    const storedTheirs = (await apiAs(tokenA, 'GET', `/tasks/${ids[T.charlie]}`)).json.title;
    // Made again on their version, the change goes through.
    await form.locator('input[name="title"]').fill(charlie2);
    const [again] = await Promise.all([
      page.waitForResponse((x) => x.request().method() === 'PATCH'),
      form.locator('button[type="submit"]').click(),
    ]);
    await form.waitFor({ state: 'hidden' });
    const stored = (await apiAs(tokenA, 'GET', `/tasks/${ids[T.charlie]}`)).json.title;
    return eq({ other: other.status, status: resp.status(), ifMatch: /^"[0-9]+"$/.test(sentIfMatch), field, shown,
      storedTheirs, again: again.status(), stored },
    { other: 200, status: 412, ifMatch: true, field: theirs, shown: theirs, storedTheirs: theirs, again: 200, stored: charlie2 });
  });
  await check('priority in place: the API stored the new priority', async () => {
    await Promise.all([
      page.waitForResponse((x) => x.request().method() === 'PATCH' && x.status() === 200),
      row(page, charlie2).locator('select.task-priority').selectOption('medium'),
    ]);
    return eq((await apiAs(tokenA, 'GET', `/tasks/${ids[T.charlie]}`)).json.priority, 'medium');
  });

  // --- reload keeps the session and the state ------------------------------------
  const beforeReload = await rows(page);
  await check('reload: still logged in, the same tasks in the same states', async () => {
    await afterListLoad(page, () => page.reload());
    return eq({ rows: await rows(page), auth: await visible(page, '#auth-view'), who: (await text(page, '#who')).includes(emailA) },
      { rows: beforeReload, auth: false, who: true });
  });
  await check('reload on a slow list (400 ms): no layout shift while it loads (CLS < 0.01)', async () => {
    // Slow enough that the empty board is painted before the rows arrive.
    await page.route(/\/api\/v1\/tasks\?/, async (route) => {
      await new Promise((r) => setTimeout(r, 400));
      await route.continue();
    });
    try {
      await afterListLoad(page, () => page.reload());
      await page.waitForTimeout(200);
    } finally {
      await page.unroute(/\/api\/v1\/tasks\?/);
    }
    const cls = await page.evaluate(() => window.__cls);
    return { ok: cls >= 0 && cls < 0.01 && (await rows(page)).length === beforeReload.length, detail: `CLS ${cls}` };
  });
  await check('reload with a filter: the filter and the filtered list are kept', async () => {
    await afterListLoad(page, () => page.selectOption('#filter-status', 'done'));
    await afterListLoad(page, () => page.reload());
    return eq({ filter: await page.inputValue('#filter-status'), titles: await titles(page) }, { filter: 'done', titles: [T.bravo] });
  });
  await check('clearing the status filter lists every task again', async () => {
    await afterListLoad(page, () => page.selectOption('#filter-status', ''));
    return eq(await rows(page), beforeReload);
  });

  // --- keyboard only --------------------------------------------------------------
  const kbTitle = `Keyboard ${RUN}`;
  await check('keyboard only: skip link, then create a high-priority task with keys alone', async () => {
    await afterListLoad(page, () => page.reload());
    await page.keyboard.press('Tab');
    const first = await page.evaluate(() => document.activeElement.className);
    await page.keyboard.press('Enter'); // follow the skip link
    for (let i = 0; i < 10; i++) {
      await page.keyboard.press('Tab');
      if (await page.evaluate(() => document.activeElement.id === 'new-title')) {
        break;
      }
    }
    const focusStyle = await page.evaluate(() => {
      const s = getComputedStyle(document.activeElement);
      return { id: document.activeElement.id, outline: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2 };
    });
    await page.keyboard.type(kbTitle);
    await page.keyboard.press('Tab');
    await page.keyboard.type('typed, not clicked');
    await page.keyboard.press('Tab'); // priority: medium -> high
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Shift+Tab');
    await afterListLoad(page, () => page.keyboard.press('Enter')); // submit from the title field
    const t = (await apiAs(tokenA, 'GET', '/tasks?limit=1')).json[0];
    return eq({ first, focusStyle, listed: (await titles(page))[0], stored: [t.title, t.description, t.priority] },
      { first: 'skip-link', focusStyle: { id: 'new-title', outline: true }, listed: kbTitle, stored: [kbTitle, 'typed, not clicked', 'high'] });
  });

  // --- the screenshot -----------------------------------------------------------------
  const artifacts = process.env.TASKAPI_BUILD
    ? join(process.env.TASKAPI_BUILD, 'artifacts')
    : mkdtempSync(join(tmpdir(), 'taskapi-e2e-'));
  mkdirSync(artifacts, { recursive: true });
  const shot = join(artifacts, 'board.png');
  await page.screenshot({ path: shot, fullPage: true });
  diag(`screenshot: ${shot}`);

  // --- a second person ------------------------------------------------------------------
  const ctxB = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  ctxB.setDefaultTimeout(10000);
  const pageB = await ctxB.newPage();
  watch(pageB, problems);
  await pageB.goto(`${BASE}/`);
  await check('a second person (another browser) sees none of the first person\'s tasks', async () => {
    await register(pageB, `Bob ${RUN}`, `web-b-${RUN}@example.test`);
    const body = await pageB.locator('body').innerText();
    const leaked = Object.values(T).concat([charlie2, kbTitle]).filter((x) => body.includes(x));
    const tokenB = await tokenOf(pageB);
    const list = (await apiAs(tokenB, 'GET', '/tasks')).json;
    const probe = (await apiAs(tokenB, 'GET', `/tasks/${ids[T.bravo]}`)).status;
    return eq({ rows: (await rows(pageB)).length, leaked, list, probe }, { rows: 0, leaked: [], list: [], probe: 404 });
  });

  // --- paging by cursor -----------------------------------------------------------------
  // Enough tasks for three pages, the last one short.
  const have = (await apiAs(tokenA, 'GET', '/tasks?limit=100')).json.length;
  for (let i = 1; i <= 2 * PAGE_SIZE + 4 - have; i++) {
    await apiAs(tokenA, 'POST', '/tasks', { title: `Page filler ${i} ${RUN}`, priority: 'low' });
  }
  // A long title without spaces: must wrap, not widen the page.
  await apiAs(tokenA, 'POST', '/tasks', { title: 'W'.repeat(200), description: 'y'.repeat(300) });
  const before = await apiPages(tokenA);
  const pagerState = () => page.evaluate(() => ({
    prev: document.getElementById('prev-page').getAttribute('aria-disabled'),
    next: document.getElementById('next-page').getAttribute('aria-disabled'),
    label: document.getElementById('page-no').textContent,
  }));
  const pageIds = async () => (await rows(page)).map((r) => r.id);
  const search = () => Object.fromEntries(new URL(page.url()).searchParams);
  const listRequests = [];
  const onList = (r) => {
    if (isListResponse(r)) {
      listRequests.push({ status: r.status(), query: Object.fromEntries(new URL(r.url()).searchParams) });
    }
  };
  page.on('response', onList);
  await check(`paging: ${before.pages.map((p) => p.length).join('+')} tasks in three pages as the API pages them`, async () =>
    eq(before.pages.map((p) => p.length), [PAGE_SIZE, PAGE_SIZE, 5]));
  await check('paging: page 1 is the API\'s first page, asked for without offset or cursor, Next is on', async () => {
    await afterListLoad(page, () => page.reload());
    return eq({ ids: await pageIds(), pager: await pagerState(), query: listRequests.at(-1).query, url: search() },
      { ids: before.pages[0], pager: { prev: 'true', next: 'false', label: 'Page 1' }, query: { limit: String(PAGE_SIZE) }, url: {} });
  });
  const intruder = (await apiAs(tokenA, 'POST', '/tasks', { title: `Added elsewhere ${RUN}` })).json;
  await check('paging: a task added elsewhere after page 1 was shown; Next shows exactly the rows page 2 had before', async () => {
    await afterListLoad(page, () => page.click('#next-page'));
    const got = await pageIds();
    return eq({ ids: got, again: got.filter((id) => before.pages[0].includes(id)), pager: await pagerState(),
      query: listRequests.at(-1).query, url: search() },
    { ids: before.pages[1], again: [], pager: { prev: 'false', next: 'false', label: 'Page 2' },
      query: { limit: String(PAGE_SIZE), cursor: before.cursors[1] }, url: { cursor: before.cursors[1], page: '2' } });
  });
  await check('paging: Next again shows the last page; Next is off, the count is shown', async () => {
    await afterListLoad(page, () => page.click('#next-page'));
    return eq({ ids: await pageIds(), pager: await pagerState(), url: search(),
      status: (await text(page, '#list-status')).startsWith(`Showing ${2 * PAGE_SIZE + 1}–${2 * PAGE_SIZE + 5} of ${2 * PAGE_SIZE + 5} `) },
    { ids: before.pages[2], pager: { prev: 'false', next: 'true', label: 'Page 3' },
      url: { cursor: before.cursors[2], page: '3' }, status: true });
  });
  await check('paging: a reload on page 3 shows page 3 again', async () => {
    await afterListLoad(page, () => page.reload());
    return eq({ ids: await pageIds(), pager: await pagerState(), url: search() },
      { ids: before.pages[2], pager: { prev: 'false', next: 'true', label: 'Page 3' }, url: { cursor: before.cursors[2], page: '3' } });
  });
  await check('paging: Previous (after the reload) goes back to page 2 by its cursor', async () => {
    await afterListLoad(page, () => page.click('#prev-page'));
    return eq({ ids: await pageIds(), pager: await pagerState(), query: listRequests.at(-1).query, url: search() },
      { ids: before.pages[1], pager: { prev: 'false', next: 'false', label: 'Page 2' },
        query: { limit: String(PAGE_SIZE), cursor: before.cursors[1] }, url: { cursor: before.cursors[1], page: '2' } });
  });
  await check('paging: Previous again: page 1, with the task added elsewhere on top', async () => {
    await afterListLoad(page, () => page.click('#prev-page'));
    const got = await pageIds();
    return eq({ top: got[0], rest: got.slice(1), pager: await pagerState(), url: search() },
      { top: intruder.id, rest: before.pages[0].slice(0, PAGE_SIZE - 1), pager: { prev: 'true', next: 'false', label: 'Page 1' }, url: {} });
  });
  await check('paging: a tampered cursor in the address: the API says 400, the page shows page 1 and says why', async () => {
    const c = before.cursors[2];
    const mid = c.length >> 1;
    const bad = c.slice(0, mid) + (c[mid] === 'A' ? 'B' : 'A') + c.slice(mid + 1);
    listRequests.length = 0;
    await page.goto(`${BASE}/?cursor=${bad}&page=3`);
    await page.waitForFunction(() => document.getElementById('page-no').textContent === 'Page 1' &&
      document.getElementById('tasks').getAttribute('aria-busy') === 'false' &&
      document.querySelectorAll('#tasks > li.task').length > 0);
    return eq({ requests: listRequests.map((r) => [r.status, r.query.cursor || null]), ids: (await pageIds()).length,
      pager: await pagerState(), url: search(), error: await visible(page, '#list-error'),
      status: (await text(page, '#list-status')).endsWith('That page can no longer be shown, so this is page 1.') },
    { requests: [[400, bad], [200, null]], ids: PAGE_SIZE, pager: { prev: 'true', next: 'false', label: 'Page 1' },
      url: {}, error: false, status: true });
  });
  await check('paging: a cursor that is not even base64url in the address: page 1 without asking for it', async () => {
    listRequests.length = 0;
    await afterListLoad(page, () => page.goto(`${BASE}/?page=2&cursor=${encodeURIComponent('<"x">, y')}`));
    return eq({ cursors: listRequests.map((r) => r.query.cursor || null), pager: await pagerState(), url: search(),
      status: (await text(page, '#list-status')).endsWith('so this is page 1.') },
    { cursors: [null], pager: { prev: 'true', next: 'false', label: 'Page 1' }, url: {}, status: true });
  });
  // The Link header as RFC 8288 allows it (the page reads it: web/api.js).
  const withLink = async (link, action) => {
    await page.route(/\/api\/v1\/tasks\?/, async (route) => {
      const res = await route.fetch();
      await route.fulfill({ response: res, headers: { ...res.headers(), link } });
    });
    try {
      await afterListLoad(page, action);
    } finally {
      await page.unroute(/\/api\/v1\/tasks\?/);
    }
  };
  await check('paging: rel="next" among several rels, after another link with a comma and a quoted ";" and ","', async () => {
    const cur = (await apiPages(tokenA)).cursors[1];
    await withLink(`</api/v1/tasks?a=1,2>; rel=prev; title="x; rel=next, y", </api/v1/tasks?limit=${PAGE_SIZE}&cursor=${cur}>; REL="start Next"`,
      () => page.reload());
    const pager = await pagerState();
    await afterListLoad(page, () => page.click('#next-page'));
    return eq({ pager, query: listRequests.at(-1).query }, { pager: { prev: 'true', next: 'false', label: 'Page 1' },
      query: { limit: String(PAGE_SIZE), cursor: cur } });
  });
  await check('the page\'s Link parser (web/api.js linksOf) on RFC 8288 forms, malformed ones included', async () => {
    const cases = [
      ['</a?cursor=1>; rel="next"', ['/a?cursor=1']],
      ['</a,b>; rel=next', ['/a,b']],
      ['<https://x/p>; rel="prev start", </n>; title="a, b; rel=next"; REL="Prev NEXT"', ['/n']],
      ['</first>; rel="prev"; rel="next"', []], // only the first rel counts
      ['</x>;rel=next,</y> ; rel = "next"', ['/x', '/y']],
      ['</q>; title="a\\"b"; rel=next', ['/q']],
      ['</nx>; rel=nextpage', []],
      ['</y>; rel=next, </x>; rel=next junk', ['/y']], // stops at the malformed one
      ['</x>; rel="next', []],
      ['rel=next', []],
      ['', []],
    ];
    const got = await page.evaluate(async (hs) => {
      const { linksOf } = await import('/api.js');
      return hs.map((h) => linksOf(h, 'next'));
    }, cases.map((c) => c[0]));
    return eq(got, cases.map((c) => c[1]));
  });
  await check('paging: a rel="next" link to another origin is not followed (Next stays off)', async () => {
    await afterListLoad(page, () => page.click('#prev-page'));
    await withLink('<https://elsewhere.example/api/v1/tasks?cursor=AAAA>; rel="next"', () => page.reload());
    return eq(await pagerState(), { prev: 'true', next: 'true', label: 'Page 1' });
  });
  await check('paging: when the last page empties (its tasks deleted elsewhere), the page goes back one', async () => {
    await afterListLoad(page, () => page.reload());
    await afterListLoad(page, () => page.click('#next-page'));
    await afterListLoad(page, () => page.click('#next-page'));
    const last = await pageIds();
    for (const id of last.slice(1)) {
      await apiAs(tokenA, 'DELETE', `/tasks/${id}`);
    }
    await page.locator('#tasks > li.task').first().locator('button.task-delete').click();
    listRequests.length = 0;
    await page.locator('#tasks button.confirm-yes').first().click();
    await page.waitForFunction(() => document.getElementById('page-no').textContent === 'Page 2' &&
      document.getElementById('tasks').getAttribute('aria-busy') === 'false');
    const now = await apiPages(tokenA);
    return eq({ deleted: last.length, requests: listRequests.map((r) => r.status), ids: await pageIds(), pager: await pagerState(),
      url: search() },
    { deleted: 6, requests: [200, 200], ids: now.pages[1], pager: { prev: 'false', next: 'true', label: 'Page 2' },
      url: { cursor: now.cursors[1], page: '2' } });
  });
  page.off('response', onList);
  await check('paging: Previous goes back to page 1', async () => {
    await afterListLoad(page, () => page.click('#prev-page'));
    return eq([(await rows(page)).length, new URL(page.url()).search, await text(page, '#page-no')], [PAGE_SIZE, '', 'Page 1']);
  });

  // --- a phone-sized screen ----------------------------------------------------------------
  await page.setViewportSize({ width: 375, height: 740 });
  await check('375x740: the board (long title included) has no horizontal scroll', async () => {
    await afterListLoad(page, () => page.reload());
    const w = await noHorizontalScroll(page);
    return { ok: w.scrollWidth <= w.clientWidth && w.bodyScroll <= w.clientWidth, detail: w };
  });
  await check('375x740: an open edit form has no horizontal scroll either', async () => {
    await page.locator('#tasks > li.task').first().locator('button.task-edit').click();
    const w = await noHorizontalScroll(page);
    await page.keyboard.press('Escape');
    return { ok: w.scrollWidth <= w.clientWidth, detail: w };
  });
  await page.screenshot({ path: join(artifacts, 'board-phone.png'), fullPage: false });
  await pageB.setViewportSize({ width: 360, height: 740 });
  await check('360x740: the log-in page has no horizontal scroll', async () => {
    await pageB.click('#logout');
    await pageB.locator('#login-form').waitFor();
    const w = await noHorizontalScroll(pageB);
    return { ok: w.scrollWidth <= w.clientWidth, detail: w };
  });

  // --- an expired or refused token ------------------------------------------------------------
  await page.setViewportSize({ width: 1280, height: 900 });
  await check('a refused token (401): back to the log-in form with a message', async () => {
    await page.evaluate(() => {
      const s = JSON.parse(sessionStorage.getItem('taskapi.session'));
      const last = s.token.slice(-1);
      s.token = s.token.slice(0, -1) + (last === 'A' ? 'B' : 'A'); // a tampered signature
      sessionStorage.setItem('taskapi.session', JSON.stringify(s));
    });
    const [r] = await Promise.all([
      page.waitForResponse((x) => x.url().includes('/api/v1/') && x.status() === 401),
      page.reload(),
    ]);
    await page.locator('#login-form').waitFor();
    const notice = await text(page, '#auth-notice');
    return eq({ status: r.status(), notice, token: await tokenOf(page), board: await visible(page, '#board-view') },
      { status: 401, notice: 'Your session has expired or is no longer valid. Please log in again.', token: null, board: false });
  });

  is([...new Set(problems)].map((p) => p.slice(0, 160)), [], 'no script errors, no CSP refusals, no missing files on any page');
  await ctxB.close();
  await ctxA.close();
}

const watchdog = setTimeout(() => {
  out('Bail out! the browser test ran longer than 300 s');
  process.exit(1);
}, 300000);
watchdog.unref();

try {
  await main();
  out(`1..${n}`);
  diag(`${failed ? `FAILED ${failed} of ${n}` : `all ${n} passed`} in ${((Date.now() - T0) / 1000).toFixed(1)} s`);
  process.exit(0);
} catch (e) {
  out(`Bail out! ${String(e && e.message ? e.message : e).split('\n')[0]}`);
  diag(String(e && e.stack ? e.stack : e));
  process.exit(1);
}
