// app.js: the taskapi board.  Plain ES module, no framework, no build step.
//
// The token lives in sessionStorage (never a cookie): a reload keeps the
// person logged in, closing the tab logs them out.  Filters and the page
// live in the URL (?status=&priority=&sort=&q=&cursor=&page=), so a reload
// shows the same list.  Styles are classes only (the page's CSP allows no
// inline style).
//
// Pages follow the API's cursors (keyset paging), not offsets, so tasks
// added or deleted elsewhere between two pages never show a row twice or
// hide one: Next takes the cursor of the list's rel="next" link, Previous
// goes back through the cursors of the pages visited (page 1 has none).

import { ApiError, createClient, etagOf, FIELD_LABELS, nextCursorOf } from './api.js';

const SESSION_KEY = 'taskapi.session';
const PAGE_SIZE = 10;
const CURSOR_RE = /^[A-Za-z0-9_-]{1,256}$/; // the API's cursors are base64url
const STATUSES = ['todo', 'in_progress', 'done', 'cancelled'];
// The orders the page offers (the API has more: doc/API.md, Lists).
const SORTS = ['created_at', '-updated_at', 'due_at', '-priority'];
const PRIORITIES = ['low', 'medium', 'high', 'critical'];
const STATUS_LABELS = { todo: 'To do', in_progress: 'In progress', done: 'Done', cancelled: 'Cancelled' };
const PRIORITY_LABELS = { low: 'Low', medium: 'Medium', high: 'High', critical: 'Critical' };

const $ = (id) => document.getElementById(id);

const el = {
  booting: $('booting'),
  authView: $('auth-view'),
  authNotice: $('auth-notice'),
  loginForm: $('login-form'),
  registerForm: $('register-form'),
  boardView: $('board-view'),
  session: $('session'),
  who: $('who'),
  logout: $('logout'),
  createForm: $('create-form'),
  filterForm: $('filter-form'),
  filterStatus: $('filter-status'),
  filterPriority: $('filter-priority'),
  filterSort: $('filter-sort'),
  filterQ: $('filter-q'),
  listHeading: $('list-heading'),
  listStatus: $('list-status'),
  listError: $('list-error'),
  list: $('tasks'),
  empty: $('empty'),
  prev: $('prev-page'),
  next: $('next-page'),
  pageNo: $('page-no'),
  pager: document.querySelector('.pager'),
  announce: $('announce'),
  template: $('task-template'),
};

// ------------------------------------------------------------------ state

let session = loadSession(); // { token, expiresAt, user }
const state = { status: '', priority: '', sort: '', q: '', page: 0 };
// cursors[i]: the cursor of page i+1 ('' for page 1; a hole when not known,
// after a reload of a later page), so cursors[state.page] is this page's.
let cursors = [''];
const tasks = new Map(); // id -> task object as the API last returned it
let nextCursor = null; // the rel="next" cursor of the page shown, or null
let pageNotice = ''; // why the page shown is not the one asked for
const NOT_THAT_PAGE = 'That page can no longer be shown, so this is page 1.';
let listLoading = false;
let listSeq = 0;
let listAbort = null;

function loadSession() {
  try {
    const s = JSON.parse(sessionStorage.getItem(SESSION_KEY));
    if (s && typeof s.token === 'string' && s.token) {
      return s;
    }
  } catch {
    // unreadable: treat as logged out
  }
  return null;
}

function saveSession(s) {
  session = s;
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(s));
}

function clearSession() {
  session = null;
  sessionStorage.removeItem(SESSION_KEY);
}

const api = createClient({
  getToken: () => (session ? session.token : null),
  onUnauthorized: () => sessionExpired(),
});

// --------------------------------------------------------------- helpers

function announce(msg) {
  // Cleared first so the same sentence twice is read twice.
  el.announce.textContent = '';
  setTimeout(() => {
    el.announce.textContent = msg;
  }, 50);
}

function show(node, text) {
  node.textContent = text;
  node.hidden = false;
}

function hide(node) {
  node.textContent = '';
  node.hidden = true;
}

function isBusy(node) {
  return node.getAttribute('aria-busy') === 'true';
}

// A request is running for `node` (a form or a task row): its controls are
// disabled, except the one that has the focus, which only says so
// (aria-disabled), so a keyboard user does not lose their place.
function setBusy(node, busy) {
  node.setAttribute('aria-busy', String(busy));
  node.classList.toggle('busy', busy);
  for (const c of node.querySelectorAll('button, select, input, textarea')) {
    if (busy) {
      if (c === document.activeElement) {
        c.setAttribute('aria-disabled', 'true');
        c.dataset.busyHeld = '1';
        if ('readOnly' in c && c.tagName !== 'SELECT' && c.tagName !== 'BUTTON') {
          c.dataset.busyRo = c.readOnly ? '1' : '0';
          c.readOnly = true;
        }
      } else if (!c.disabled) {
        c.disabled = true;
        c.dataset.busyDisabled = '1';
      }
    } else {
      if (c.dataset.busyDisabled) {
        c.disabled = false;
        delete c.dataset.busyDisabled;
      }
      if (c.dataset.busyHeld) {
        c.removeAttribute('aria-disabled');
        delete c.dataset.busyHeld;
      }
      if (c.dataset.busyRo) {
        c.readOnly = c.dataset.busyRo === '1';
        delete c.dataset.busyRo;
      }
    }
  }
}

function fieldError(form, name) {
  const input = form.elements.namedItem(name);
  if (!input || !input.closest) {
    return { input: null, error: null };
  }
  const field = input.closest('.field');
  return { input, error: field ? field.querySelector('.field-error') : null };
}

function clearErrors(form) {
  for (const p of form.querySelectorAll('.field-error, .form-error')) {
    hide(p);
  }
  for (const i of form.querySelectorAll('[aria-invalid]')) {
    i.removeAttribute('aria-invalid');
  }
}

// Puts a message next to the field it is about, or at the foot of the form.
function showError(form, message, field) {
  const { input, error } = field ? fieldError(form, field) : { input: null, error: null };
  if (input && error) {
    show(error, message);
    input.setAttribute('aria-invalid', 'true');
    input.focus();
    return;
  }
  const formError = [...form.querySelectorAll('.form-error')].pop();
  show(formError, message);
}

function requireFilled(form, names) {
  let ok = true;
  for (const name of names) {
    const { input, error } = fieldError(form, name);
    if (input && input.value === '') {
      show(error, `Enter ${name === 'email' ? 'your email' : name === 'password' ? 'a password' : `a ${FIELD_LABELS[name].toLowerCase()}`}.`);
      input.setAttribute('aria-invalid', 'true');
      if (ok) {
        input.focus();
      }
      ok = false;
    }
  }
  return ok;
}

// datetime-local value ("2026-11-21T09:30", local time) -> RFC 3339 UTC.
function localToIso(value) {
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

// RFC 3339 -> datetime-local value in local time.
function isoToLocal(iso) {
  if (!iso) {
    return '';
  }
  const d = new Date(iso);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

function timeEl(iso) {
  const t = document.createElement('time');
  t.dateTime = iso;
  t.textContent = dateFmt.format(new Date(iso));
  return t;
}

function matchesFilter(t) {
  return (!state.status || t.status === state.status) && (!state.priority || t.priority === state.priority);
}

// ----------------------------------------------------------------- views

function showView(name) {
  el.booting.hidden = true;
  el.authView.hidden = name !== 'auth';
  el.boardView.hidden = name !== 'board';
  el.session.hidden = name !== 'board';
}

function showAuth(message, kind = 'error') {
  resetBoard();
  for (const f of [el.loginForm, el.registerForm]) {
    clearErrors(f);
    f.reset();
  }
  if (message) {
    el.authNotice.className = `notice ${kind}`;
    show(el.authNotice, message);
  } else {
    hide(el.authNotice);
  }
  showView('auth');
}

function resetBoard() {
  if (listAbort) {
    listAbort.abort();
  }
  listSeq++;
  listLoading = false;
  tasks.clear();
  nextCursor = null;
  pageNotice = '';
  el.pager.classList.add('pending');
  el.list.replaceChildren();
  el.list.setAttribute('aria-busy', 'false');
  el.list.classList.remove('loading');
  hide(el.empty);
  hide(el.listError);
  el.listStatus.textContent = '';
  el.who.textContent = '';
  clearErrors(el.createForm);
  el.createForm.reset();
  setBusy(el.createForm, false);
}

function enterBoard(user) {
  el.who.textContent = user ? `${user.name} (${user.email})` : '';
  readUrl();
  writeUrl(); // without what readUrl did not take (a bad cursor, a page without one)
  el.filterStatus.value = state.status;
  el.filterPriority.value = state.priority;
  el.filterSort.value = state.sort;
  el.filterQ.value = state.q;
  showView('board');
  return loadList();
}

let expiredShown = false;

function sessionExpired() {
  const wasIn = session !== null;
  clearSession();
  history.replaceState(null, '', location.pathname);
  if (wasIn || !expiredShown) {
    expiredShown = true;
    showAuth('Your session has expired or is no longer valid. Please log in again.');
    el.loginForm.elements.email.focus();
  }
}

// ------------------------------------------------------------ URL state

function readUrl() {
  const p = new URLSearchParams(location.search);
  state.status = STATUSES.includes(p.get('status')) ? p.get('status') : '';
  state.priority = PRIORITIES.includes(p.get('priority')) ? p.get('priority') : '';
  state.sort = SORTS.includes(p.get('sort')) ? p.get('sort') : '';
  state.q = (p.get('q') || '').trim().slice(0, 100);
  const page = Number.parseInt(p.get('page') || '1', 10);
  const cursor = p.get('cursor');
  firstPage();
  if (cursor === null) {
    return;
  }
  if (!CURSOR_RE.test(cursor) || !Number.isInteger(page) || page < 2 || page > 100000) {
    pageNotice = NOT_THAT_PAGE;
    return;
  }
  // The cursors of the pages before are known only if this tab saved them.
  const saved = history.state && Array.isArray(history.state.cursors) ? history.state.cursors : [];
  saved.forEach((c, i) => {
    if (i > 0 && i < page - 1 && typeof c === 'string' && CURSOR_RE.test(c)) {
      cursors[i] = c;
    }
  });
  state.page = page - 1;
  cursors[state.page] = cursor;
}

// Back to page 1 (a filter, the sort or the search changed, or a task was
// added: it is on page 1 in the default order).
function firstPage() {
  state.page = 0;
  cursors = [''];
}

function writeUrl() {
  const p = new URLSearchParams();
  if (state.status) {
    p.set('status', state.status);
  }
  if (state.priority) {
    p.set('priority', state.priority);
  }
  if (state.sort) {
    p.set('sort', state.sort);
  }
  if (state.q) {
    p.set('q', state.q);
  }
  if (state.page > 0) {
    p.set('cursor', cursors[state.page]);
    p.set('page', String(state.page + 1));
  }
  const qs = p.toString();
  // The cursors of the pages before go in the history entry, not the URL:
  // a reload keeps Previous working, a copied link stays short.
  history.replaceState({ cursors: cursors.slice(0, state.page + 1) }, '', qs ? `?${qs}` : location.pathname);
}

// ------------------------------------------------------------- the list

function describeFilter() {
  const parts = [];
  parts.push(state.status ? STATUS_LABELS[state.status] : 'any status');
  parts.push(state.priority ? `${PRIORITY_LABELS[state.priority]} priority` : 'any priority');
  if (state.q) {
    parts.push(`matching “${state.q}”`);
  }
  return parts.join(', ');
}

function updatePager() {
  const prevOk = state.page > 0;
  const nextOk = nextCursor !== null;
  el.prev.disabled = !prevOk && document.activeElement !== el.prev;
  el.next.disabled = !nextOk && document.activeElement !== el.next;
  el.prev.setAttribute('aria-disabled', String(!prevOk || listLoading));
  el.next.setAttribute('aria-disabled', String(!nextOk || listLoading));
  el.pageNo.textContent = `Page ${state.page + 1}`;
}

async function loadList() {
  const seq = ++listSeq;
  if (listAbort) {
    listAbort.abort();
  }
  listAbort = new AbortController();
  listLoading = true;
  el.list.setAttribute('aria-busy', 'true');
  el.list.classList.add('loading');
  el.listStatus.textContent = 'Loading tasks…';
  hide(el.listError);
  updatePager();

  const q = new URLSearchParams();
  if (state.status) {
    q.set('status', state.status);
  }
  if (state.priority) {
    q.set('priority', state.priority);
  }
  if (state.sort) {
    q.set('sort', state.sort);
  }
  if (state.q) {
    q.set('q', state.q);
  }
  q.set('limit', String(PAGE_SIZE));
  if (state.page > 0) {
    q.set('cursor', cursors[state.page]);
  }

  try {
    const rows = await api('GET', `/tasks?${q}`, { signal: listAbort.signal });
    if (seq !== listSeq) {
      return;
    }
    if (rows.length === 0 && state.page > 0) {
      // The page emptied (deleted elsewhere): go back one, or to page 1
      // when the cursor before is not known.
      state.page--;
      if (typeof cursors[state.page] !== 'string') {
        firstPage();
      }
      cursors.length = state.page + 1;
      writeUrl();
      listLoading = false;
      return loadList();
    }
    nextCursor = nextCursorOf(rows) || null;
    renderList(rows);
    el.pager.classList.remove('pending');
    const first = state.page * PAGE_SIZE + 1;
    const last = first + rows.length - 1;
    el.listStatus.textContent = (rows.length === 0
      ? `No tasks (${describeFilter()}).`
      : `Showing ${first}–${last}${nextCursor ? '' : ` of ${last}`} (${describeFilter()}).`) +
      (pageNotice ? ` ${pageNotice}` : '');
    pageNotice = '';
  } catch (e) {
    if (e.aborted || e.handled || seq !== listSeq) {
      return;
    }
    if (e.status === 400 && state.page > 0) {
      // A cursor the API refuses (changed by hand, or from before the
      // server's secret was rotated): page 1 rather than no list.
      firstPage();
      pageNotice = NOT_THAT_PAGE;
      writeUrl();
      listLoading = false;
      return loadList();
    }
    el.listStatus.textContent = 'The tasks could not be loaded.';
    show(el.listError, e.message);
  } finally {
    if (seq === listSeq) {
      listLoading = false;
      el.list.setAttribute('aria-busy', 'false');
      el.list.classList.remove('loading');
      updatePager();
    }
  }
}

function renderList(rows) {
  // A control of a row that had the focus gets it back in the new row.
  const active = document.activeElement;
  const activeLi = active && el.list.contains(active) ? active.closest('li.task') : null;
  const keep = activeLi
    ? { id: activeLi.dataset.id, cls: [...active.classList].find((c) => /^(task|confirm|edit)-/.test(c)) }
    : null;
  tasks.clear();
  const items = rows.map((t) => {
    tasks.set(t.id, t);
    const li = el.template.content.firstElementChild.cloneNode(true);
    prepareRow(li, t.id);
    fillRow(li, t);
    return li;
  });
  el.list.replaceChildren(...items);
  if (keep) {
    const li = items.find((x) => x.dataset.id === keep.id);
    const same = li && keep.cls ? li.querySelector(`.${keep.cls}`) : null;
    const target = same && !same.closest('[hidden]') ? same : li ? li.querySelector('.task-status') : el.listHeading;
    target.focus();
  }
  if (rows.length === 0) {
    show(el.empty, state.status || state.priority || state.q
      ? 'No tasks match these filters.'
      : state.page > 0 ? 'No tasks on this page.' : 'No tasks yet. Add one with the form.');
  } else {
    hide(el.empty);
  }
}

// Ids and label links of a fresh row (once per row).
function prepareRow(li, id) {
  li.dataset.id = id;
  const base = `task-${id}`;
  li.querySelector('.task-title').id = `${base}-title`;
  li.setAttribute('aria-labelledby', `${base}-title`);
  const form = li.querySelector('.edit-form');
  for (const field of form.querySelectorAll('.field')) {
    const input = field.querySelector('input, textarea');
    const label = field.querySelector('label');
    const error = field.querySelector('.field-error');
    input.id = `${base}-edit-${input.name}`;
    label.htmlFor = input.id;
    error.id = `${input.id}-error`;
    input.setAttribute('aria-describedby', error.id);
  }
  const edit = li.querySelector('.task-edit');
  form.id = `${base}-edit`;
  edit.setAttribute('aria-controls', form.id);
  edit.setAttribute('aria-expanded', 'false');
}

// Shows task `t` in row `li`, in place (the focused control keeps focus).
function fillRow(li, t) {
  const keep = ['busy', 'fresh'].filter((c) => li.classList.contains(c));
  li.className = `task status-${t.status} priority-${t.priority}`;
  li.classList.add(...keep);
  const overdue = t.due_at && (t.status === 'todo' || t.status === 'in_progress') &&
    new Date(t.due_at).getTime() < Date.now();
  li.classList.toggle('overdue', Boolean(overdue));
  li.querySelector('.task-title').textContent = t.title;
  const desc = li.querySelector('.task-desc');
  desc.textContent = t.description || '';
  desc.hidden = !t.description;
  const due = li.querySelector('.task-due');
  if (t.due_at) {
    due.replaceChildren('Due ', timeEl(t.due_at));
  } else {
    due.replaceChildren('No due date');
  }
  li.querySelector('.badge.overdue').hidden = !overdue;
  li.querySelector('.task-created').replaceChildren('Created ', timeEl(t.created_at));
  const status = li.querySelector('.task-status');
  const priority = li.querySelector('.task-priority');
  status.value = t.status;
  priority.value = t.priority;
  // Accessible names that say which task (and still start with the label).
  status.setAttribute('aria-label', `Status of “${t.title}”`);
  priority.setAttribute('aria-label', `Priority of “${t.title}”`);
  li.querySelector('.task-edit').setAttribute('aria-label', `Edit “${t.title}”`);
  li.querySelector('.task-delete').setAttribute('aria-label', `Delete “${t.title}”`);
}

function rowOf(node) {
  return node.closest('li.task');
}

const CHANGED_ELSEWHERE = 'Someone else changed this task in the meantime, so your change was not saved. ' +
  'It now shows their version: check it, and make your change again if you still want it.';
const CHANGED_NOT_DELETED = 'Someone else changed this task in the meantime, so it was not deleted. ' +
  'It now shows their version: delete it again if you still want to.';

// The ETag to send as If-Match with a change of the task the person sees
// (shown).  A task that came from a create, a read or a change has one; a
// task from the list (lists carry none) is read first, and if that read
// is not what the person sees, the change is refused as a 412 would be.
async function tagFor(id, shown) {
  const tag = etagOf(shown);
  if (tag) {
    return tag;
  }
  const fresh = await api('GET', `/tasks/${id}`);
  if (fresh.updated_at !== shown.updated_at) {
    const e = new ApiError(412, CHANGED_ELSEWHERE);
    e.fresh = fresh;
    throw e;
  }
  return etagOf(fresh);
}

// After a 412: the task as it is now (or null when it cannot be read).
async function freshAfter412(e, id) {
  if (!e.fresh) {
    try {
      e.fresh = await api('GET', `/tasks/${id}`);
    } catch {
      e.fresh = null;
    }
  }
  return e.fresh;
}

async function patchTask(li, patch, what) {
  const id = li.dataset.id;
  const before = tasks.get(id);
  const rowError = li.querySelector('.task-error');
  hide(rowError);
  setBusy(li, true);
  try {
    const ifMatch = await tagFor(id, before);
    const t = await api('PATCH', `/tasks/${id}`, { body: patch, ifMatch });
    tasks.set(id, t);
    fillRow(li, t);
    announce(matchesFilter(t)
      ? `“${t.title}”: ${what}.`
      : `“${t.title}”: ${what}. It no longer matches the filters and leaves the list when it is reloaded.`);
    return t;
  } catch (e) {
    if (e.status === 412) {
      e.message = CHANGED_ELSEWHERE;
      const fresh = await freshAfter412(e, id);
      if (fresh) {
        tasks.set(id, fresh);
      }
    }
    if (!e.handled && li.isConnected) {
      // Put the controls back to what is stored (after a 412: the new version).
      fillRow(li, tasks.get(id) || before);
      show(rowError, e.status === 404
        ? 'This task no longer exists: it was deleted, perhaps in another window. Reload the list.'
        : e.message);
    }
    throw e;
  } finally {
    if (li.isConnected) {
      setBusy(li, false);
    }
  }
}

function fillEdit(form, t) {
  form.elements.title.value = t.title;
  form.elements.description.value = t.description || '';
  form.elements.due_at.value = isoToLocal(t.due_at);
}

function openEdit(li) {
  const t = tasks.get(li.dataset.id);
  const form = li.querySelector('.edit-form');
  clearErrors(form);
  fillEdit(form, t);
  form.hidden = false;
  li.querySelector('.task-edit').setAttribute('aria-expanded', 'true');
  form.elements.title.focus();
}

function closeEdit(li, { focus = true } = {}) {
  const form = li.querySelector('.edit-form');
  form.hidden = true;
  clearErrors(form);
  const btn = li.querySelector('.task-edit');
  btn.setAttribute('aria-expanded', 'false');
  if (focus) {
    btn.focus();
  }
}

async function saveEdit(li) {
  const form = li.querySelector('.edit-form');
  if (isBusy(li)) {
    return;
  }
  clearErrors(form);
  const t = tasks.get(li.dataset.id);
  const patch = {};
  const title = form.elements.title.value;
  if (title !== t.title) {
    patch.title = title;
  }
  const desc = form.elements.description.value;
  if ((desc === '' ? null : desc) !== (t.description ?? null)) {
    patch.description = desc === '' ? null : desc;
  }
  const dueRaw = form.elements.due_at.value;
  let due = null;
  if (dueRaw !== '') {
    due = localToIso(dueRaw);
    if (due === null) {
      showError(form, 'Enter a complete date and time, or leave it empty.', 'due_at');
      return;
    }
  }
  if (dueRaw !== isoToLocal(t.due_at)) {
    patch.due_at = due;
  }
  if (Object.keys(patch).length === 0) {
    closeEdit(li);
    return;
  }
  try {
    await patchTask(li, patch, 'saved');
    closeEdit(li);
  } catch (e) {
    // patchTask showed it on the row; it belongs next to the field.
    if (!e.handled && li.isConnected) {
      hide(li.querySelector('.task-error'));
      if (e.status === 412 && e.fresh) {
        fillEdit(form, e.fresh); // the form shows their version now
      }
      showError(form, e.message, e.field);
    }
  }
}

function openConfirm(li) {
  const box = li.querySelector('.confirm');
  const t = tasks.get(li.dataset.id);
  box.querySelector('.confirm-text').textContent = `Delete “${t.title}”? This cannot be undone.`;
  box.hidden = false;
  box.querySelector('.confirm-no').focus();
}

function closeConfirm(li) {
  li.querySelector('.confirm').hidden = true;
  li.querySelector('.task-delete').focus();
}

async function deleteTask(li) {
  const id = li.dataset.id;
  const t = tasks.get(id);
  const rowError = li.querySelector('.task-error');
  hide(rowError);
  setBusy(li, true);
  try {
    await api('DELETE', `/tasks/${id}`, { ifMatch: await tagFor(id, t) });
  } catch (e) {
    if (e.handled) {
      return;
    }
    if (e.status === 412) {
      const fresh = await freshAfter412(e, id);
      setBusy(li, false);
      if (fresh && li.isConnected) {
        tasks.set(id, fresh);
        fillRow(li, fresh);
      }
      show(rowError, CHANGED_NOT_DELETED);
      return;
    }
    if (e.status !== 404) { // 404: already gone, which is what was asked
      setBusy(li, false);
      show(rowError, e.message);
      return;
    }
  }
  // Focus goes to the task that takes its place (or the list heading).
  const nextLi = li.nextElementSibling || li.previousElementSibling;
  li.remove();
  tasks.delete(id);
  (nextLi ? nextLi.querySelector('.task-status') : el.listHeading).focus();
  announce(`Deleted “${t.title}”.`);
  await loadList();
}

// ------------------------------------------------------------- handlers

async function onLogin(ev) {
  ev.preventDefault();
  const form = el.loginForm;
  if (isBusy(form)) {
    return;
  }
  clearErrors(form);
  hide(el.authNotice);
  if (!requireFilled(form, ['email', 'password'])) {
    return;
  }
  setBusy(form, true);
  const err = await logIn(form.elements.email.value.trim(), form.elements.password.value);
  setBusy(form, false);
  if (err) {
    showError(form, err.message, err.field);
  }
}

async function onRegister(ev) {
  ev.preventDefault();
  const form = el.registerForm;
  if (isBusy(form)) {
    return;
  }
  clearErrors(form);
  hide(el.authNotice);
  if (!requireFilled(form, ['name', 'email', 'password'])) {
    return;
  }
  const email = form.elements.email.value.trim();
  const password = form.elements.password.value;
  setBusy(form, true);
  let err = null;
  try {
    await api('POST', '/auth/register', {
      body: { name: form.elements.name.value, email, password },
      auth: false,
    });
    err = await logIn(email, password);
    if (err) {
      err = { message: `Your account was created, but logging in failed: ${err.message}`, field: null };
    }
  } catch (e) {
    err = e;
  }
  setBusy(form, false);
  if (err) {
    showError(form, err.message, err.field);
  }
}

// Logs in and opens the board; returns null, or the error to show.
async function logIn(email, password) {
  let r;
  try {
    r = await api('POST', '/auth/login', { body: { email, password }, auth: false });
  } catch (e) {
    return e;
  }
  saveSession({ token: r.token, expiresAt: Date.now() + r.expires_in * 1000 });
  expiredShown = false;
  let me = null;
  try {
    me = await api('GET', '/me');
    saveSession({ ...session, user: me });
  } catch (e) {
    if (e.handled) {
      return null;
    }
  }
  // Never leave a password in a field that stays in the page.
  el.loginForm.reset();
  el.registerForm.reset();
  history.replaceState(null, '', location.pathname);
  enterBoard(me);
  el.createForm.elements.title.focus();
  announce(`Logged in${me ? ` as ${me.name}` : ''}.`);
  return null;
}

function onLogout() {
  clearSession();
  history.replaceState(null, '', location.pathname);
  showAuth('You are logged out.', 'info');
  el.loginForm.elements.email.focus();
}

async function onCreate(ev) {
  ev.preventDefault();
  const form = el.createForm;
  if (isBusy(form)) {
    return;
  }
  clearErrors(form);
  if (!requireFilled(form, ['title'])) {
    return;
  }
  const body = {
    title: form.elements.title.value,
    priority: form.elements.priority.value,
  };
  const desc = form.elements.description.value;
  if (desc !== '') {
    body.description = desc;
  }
  const dueRaw = form.elements.due_at.value;
  if (dueRaw !== '') {
    body.due_at = localToIso(dueRaw);
    if (body.due_at === null) {
      showError(form, 'Enter a complete date and time, or leave it empty.', 'due_at');
      return;
    }
  }
  setBusy(form, true);
  let t;
  try {
    t = await api('POST', '/tasks', { body });
  } catch (e) {
    setBusy(form, false);
    if (!e.handled) {
      showError(form, e.message, e.field);
    }
    return;
  }
  setBusy(form, false);
  form.reset();
  form.elements.title.focus();
  announce(matchesFilter(t)
    ? `Added “${t.title}”.`
    : `Added “${t.title}”. The current filters hide it.`);
  firstPage();
  writeUrl();
  await loadList();
  const row = el.list.querySelector(`li[data-id="${CSS.escape(t.id)}"]`);
  if (row) {
    row.classList.add('fresh');
  } else if (!matchesFilter(t)) {
    el.listStatus.textContent += ` “${t.title}” was added; the filters hide it.`;
  }
}

function onFilterChange() {
  state.status = el.filterStatus.value;
  state.priority = el.filterPriority.value;
  state.sort = el.filterSort.value;
  state.q = el.filterQ.value.trim().slice(0, 100);
  firstPage();
  writeUrl();
  loadList();
}

function onPage(delta) {
  if (listLoading) {
    return;
  }
  if ((delta < 0 && state.page === 0) || (delta > 0 && nextCursor === null)) {
    return;
  }
  if (delta > 0) {
    cursors[state.page + 1] = nextCursor;
  }
  state.page += delta;
  if (typeof cursors[state.page] !== 'string') {
    firstPage(); // reloaded on a later page: the cursors before are unknown
  }
  cursors.length = state.page + 1;
  writeUrl();
  loadList();
}

function onListClick(ev) {
  const btn = ev.target.closest('button');
  if (!btn) {
    return;
  }
  const li = rowOf(btn);
  if (!li || isBusy(li) || btn.getAttribute('aria-disabled') === 'true') {
    return;
  }
  if (btn.classList.contains('task-edit')) {
    if (li.querySelector('.edit-form').hidden) {
      openEdit(li);
    } else {
      closeEdit(li);
    }
  } else if (btn.classList.contains('task-delete')) {
    openConfirm(li);
  } else if (btn.classList.contains('confirm-yes')) {
    deleteTask(li);
  } else if (btn.classList.contains('confirm-no')) {
    closeConfirm(li);
  } else if (btn.classList.contains('edit-cancel')) {
    closeEdit(li);
  }
}

function onListChange(ev) {
  const sel = ev.target;
  const li = rowOf(sel);
  if (!li || !sel.matches('.task-status, .task-priority')) {
    return;
  }
  const t = tasks.get(li.dataset.id);
  if (isBusy(li)) {
    fillRow(li, t); // one change at a time
    return;
  }
  if (sel.classList.contains('task-status')) {
    patchTask(li, { status: sel.value }, `status set to ${STATUS_LABELS[sel.value]}`).catch(() => {});
  } else {
    patchTask(li, { priority: sel.value }, `priority set to ${PRIORITY_LABELS[sel.value]}`).catch(() => {});
  }
}

function onListSubmit(ev) {
  if (!ev.target.matches('.edit-form')) {
    return;
  }
  ev.preventDefault();
  saveEdit(rowOf(ev.target));
}

function onListKeydown(ev) {
  if (ev.key !== 'Escape') {
    return;
  }
  const li = rowOf(ev.target);
  if (!li || isBusy(li)) {
    return;
  }
  if (ev.target.closest('.edit-form')) {
    ev.preventDefault();
    closeEdit(li);
  } else if (ev.target.closest('.confirm')) {
    ev.preventDefault();
    li.querySelector('.confirm').hidden = true;
    li.querySelector('.task-delete').focus();
  }
}

// ------------------------------------------------------------------ boot

async function boot() {
  el.loginForm.addEventListener('submit', onLogin);
  el.registerForm.addEventListener('submit', onRegister);
  el.logout.addEventListener('click', onLogout);
  el.createForm.addEventListener('submit', onCreate);
  el.filterForm.addEventListener('change', onFilterChange);
  el.filterForm.addEventListener('submit', (ev) => ev.preventDefault());
  el.prev.addEventListener('click', () => onPage(-1));
  el.next.addEventListener('click', () => onPage(1));
  el.list.addEventListener('click', onListClick);
  el.list.addEventListener('change', onListChange);
  el.list.addEventListener('submit', onListSubmit);
  el.list.addEventListener('keydown', onListKeydown);

  if (!session) {
    showAuth();
    return;
  }
  if (typeof session.expiresAt === 'number' && Date.now() >= session.expiresAt) {
    sessionExpired();
    return;
  }
  // Show the board at once from what is stored; /me confirms the token.
  const shown = enterBoard(session.user || null);
  try {
    const me = await api('GET', '/me');
    if (session) {
      saveSession({ ...session, user: me });
      el.who.textContent = `${me.name} (${me.email})`;
    }
  } catch {
    // 401: handled (back to the login form); anything else shows in the list.
  }
  await shown;
}

boot();
