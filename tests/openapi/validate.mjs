#!/usr/bin/env node
// tests/openapi/validate.mjs: checks the real stack against web/openapi.json.
//
// Drives the API at $TASKAPI_BASE_URL with fetch (two fresh users, every
// operation, its main error statuses) and, for every response, checks that
//   - the status is the one this test expects,
//   - the status is declared in the document for that operation (found from
//     the document itself: path template + method; a method a path item does
//     not list answers what the root extension x-unlisted-methods declares, a
//     path that `paths` does not list what x-unlisted-paths declares),
//   - the body matches the schema declared for that status and content type
//     (application/x-ndjson: every line against the schema), or is empty
//     when no content is declared,
//   - every declared header that is required is there and its value matches
//     the header's schema (and a 405's Allow names exactly the methods the
//     document gives the path),
//   - the JSON body sent, when the case says so, is valid (or, for a 400 about
//     its shape, invalid) per the operation's declared request body schema.
// At the end, every operation of the document must have been exercised and
// have answered one of its declared 2xx statuses.
// Schemas are validated with Ajv (JSON Schema 2020-12, the dialect of
// OpenAPI 3.1) and ajv-formats.
//
// Output is TAP; the plan comes last.  Options:
//   --spec PATH   the document [web/openapi.json of this repository]
//   --offset N    number the first assertion N + 1 (to splice this stream
//                 into another TAP stream)
//   --no-plan     do not print the plan (the caller prints it)
// Exit status: 0 when every assertion ran (failed ones are "not ok" lines),
// 2 on a usage or setup error.

import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import Ajv2020Import from 'ajv/dist/2020.js';
import addFormatsImport from 'ajv-formats';

const Ajv2020 = Ajv2020Import.default ?? Ajv2020Import;
const addFormats = addFormatsImport.default ?? addFormatsImport;

// ------------------------------------------------------------------ options

const here = path.dirname(fileURLToPath(import.meta.url));
let specPath = path.join(process.env.TASKAPI_SRCDIR || path.join(here, '..', '..'), 'web', 'openapi.json');
let offset = 0;
let printPlan = true;
{
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--spec' && i + 1 < argv.length) specPath = argv[++i];
    else if (argv[i] === '--offset' && i + 1 < argv.length && /^[0-9]+$/.test(argv[i + 1])) offset = Number(argv[++i]);
    else if (argv[i] === '--no-plan') printPlan = false;
    else {
      process.stderr.write(`usage: validate.mjs [--spec PATH] [--offset N] [--no-plan]\n`);
      process.exit(2);
    }
  }
}
const BASE = (process.env.TASKAPI_BASE_URL || '').replace(/\/+$/, '');
if (BASE === '') {
  process.stderr.write('validate.mjs: TASKAPI_BASE_URL is not set\n');
  process.exit(2);
}

// ------------------------------------------------------------------ TAP

let n = 0;
let failed = 0;

function desc(s) {
  // One line; "#" would start a TAP directive.
  return String(s).replace(/\s*\n\s*/g, ' ').replace(/#/g, '\\#');
}

function diag(text) {
  for (const line of String(text).split('\n')) process.stdout.write(`# ${line}\n`);
}

function ok(cond, what, why) {
  n++;
  if (cond) {
    process.stdout.write(`ok ${offset + n} - ${desc(what)}\n`);
  } else {
    failed++;
    process.stdout.write(`not ok ${offset + n} - ${desc(what)}\n`);
    if (why) diag(why);
  }
  return cond;
}

function clip(s, max = 400) {
  s = String(s);
  return s.length > max ? `${s.slice(0, max)}... (${s.length} characters)` : s;
}

// ------------------------------------------------------------------ the document

const DOC_ID = 'urn:taskapi:openapi';
let doc;
try {
  doc = JSON.parse(readFileSync(specPath, 'utf8'));
} catch (e) {
  process.stderr.write(`validate.mjs: cannot read the document ${specPath}: ${e.message}\n`);
  process.exit(2);
}
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

const ajv = new Ajv2020({ strict: true, allErrors: true, allowUnionTypes: true });
addFormats(ajv);
// OpenAPI's own format registry: "password" only hints at masking.
ajv.addFormat('password', true);
// The document is added whole; each schema is then compiled from its JSON
// pointer, so its "#/components/schemas/..." references resolve in it.
// Ajv compiles that root too: its OpenAPI members become keywords that do
// nothing (strict mode stays on for every schema inside).
try {
  for (const key of Object.keys(doc)) {
    if (!ajv.getKeyword(key)) ajv.addKeyword({ keyword: key });
  }
  ajv.addSchema(doc, DOC_ID);
} catch (e) {
  process.stderr.write(`validate.mjs: Ajv refuses the document: ${e.message}\n`);
  process.exit(2);
}

function pointerEscape(s) {
  return s.replace(/~/g, '~0').replace(/\//g, '~1');
}

function atPointer(ptr) {
  let node = doc;
  for (const part of ptr.split('/').slice(1)) {
    const key = part.replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === null || typeof node !== 'object' || !(key in node)) {
      throw new Error(`the document has nothing at ${ptr}`);
    }
    node = node[key];
  }
  return node;
}

// Follows OpenAPI $refs (responses, headers, parameters) to the object and
// its JSON pointer.
function deref(ptr) {
  let node = atPointer(ptr);
  for (let hops = 0; node && typeof node === 'object' && typeof node.$ref === 'string'; hops++) {
    if (!node.$ref.startsWith('#/') || hops > 10) throw new Error(`cannot follow $ref ${node.$ref} at ${ptr}`);
    ptr = node.$ref.slice(1);
    node = atPointer(ptr);
  }
  return { node, ptr };
}

const validators = new Map();
function schemaValidator(ptr) {
  if (!validators.has(ptr)) {
    const v = ajv.getSchema(`${DOC_ID}#${ptr}`);
    if (!v) throw new Error(`no schema at ${ptr}`);
    validators.set(ptr, v);
  }
  return validators.get(ptr);
}

function ajvErrors(v) {
  return (v.errors || []).map((e) => `${e.instancePath || '(root)'} ${e.message}` +
    (e.params && Object.keys(e.params).length ? ` ${JSON.stringify(e.params)}` : '')).join('\n');
}

// Path templates, literal ones first (so /tasks/export wins over /tasks/{id}).
const templates = Object.keys(doc.paths).map((tmpl) => {
  const segs = tmpl.split('/');
  const vars = segs.filter((s) => /^\{[^}]+\}$/.test(s)).length;
  const re = new RegExp('^' + segs.map((s) => (/^\{[^}]+\}$/.test(s) ? '[^/]+' :
    s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('/') + '$');
  return { tmpl, vars, re };
}).sort((a, b) => a.vars - b.vars);

// What the document says about METHOD PATH: the responses object's pointer
// and a name for it.
function resolve(method, pathname) {
  const t = templates.find((x) => x.re.test(pathname));
  if (!t) {
    return { kind: 'unlisted path', name: `unlisted path ${pathname}`, responsesPtr: '/x-unlisted-paths/responses' };
  }
  const itemPtr = `/paths/${pointerEscape(t.tmpl)}`;
  const item = atPointer(itemPtr);
  const m = method.toLowerCase();
  const allow = METHODS.filter((x) => x in item).map((x) => x.toUpperCase());
  if (!(m in item)) {
    return {
      kind: 'unlisted method', tmpl: t.tmpl, allow,
      name: `${method} ${t.tmpl} (a method the path does not list)`,
      responsesPtr: '/x-unlisted-methods/responses',
    };
  }
  const op = item[m];
  return {
    kind: 'operation', tmpl: t.tmpl, allow, operationId: op.operationId,
    name: `${op.operationId} (${method} ${t.tmpl})`,
    responsesPtr: `${itemPtr}/${m}/responses`,
  };
}

// The declared response for a status: exact code, then "4XX"-style, then default.
function declaredResponse(responsesPtr, status) {
  const responses = atPointer(responsesPtr);
  for (const key of [String(status), `${String(status)[0]}XX`, 'default']) {
    if (key in responses) return { key, ...deref(`${responsesPtr}/${pointerEscape(key)}`) };
  }
  return null;
}

// ------------------------------------------------------------------ HTTP

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let retries429 = 0;
const seen = new Map();	// operationId -> Set of statuses

async function send(method, pathname, { token, json, body, ctype, headers = {} } = {}) {
  const h = { ...headers };
  if (token) h.Authorization = `Bearer ${token}`;
  let payload;
  if (json !== undefined) {
    payload = typeof json === 'string' ? json : JSON.stringify(json);
    h['Content-Type'] = ctype ?? 'application/json';
  } else if (body !== undefined) {
    payload = body;
    if (ctype) h['Content-Type'] = ctype;
  }
  // nginx rate-limits /api/v1/auth/ per address; a 429 there is retried
  // after Retry-After (the 429 itself is declared and not what this tests).
  for (let attempt = 0; ; attempt++) {
    const res = await fetch(BASE + pathname, {
      method, headers: h, body: payload, redirect: 'manual', signal: AbortSignal.timeout(60000),
    });
    const text = await res.text();
    if (res.status === 429 && pathname.startsWith('/api/v1/auth/') && attempt < 40) {
      retries429++;
      const ra = Number(res.headers.get('retry-after'));
      await sleep(Number.isFinite(ra) && ra > 0 ? Math.min(ra, 2) * 1000 : 250);
      continue;
    }
    return { status: res.status, headers: res.headers, text };
  }
}

function mediaType(ct) {
  return (ct || '').split(';')[0].trim().toLowerCase();
}

// Checks one body against a media type object of the document.
function checkBody(res, media, mediaPtr, ct) {
  if (!('schema' in media)) return [];
  const v = schemaValidator(`${mediaPtr}/schema`);
  const errs = [];
  if (ct === 'application/x-ndjson') {
    if (res.text !== '' && !res.text.endsWith('\n')) errs.push('the NDJSON body does not end with a newline');
    const lines = res.text === '' ? [] : res.text.replace(/\n$/, '').split('\n');
    lines.forEach((line, i) => {
      let item;
      try {
        item = JSON.parse(line);
      } catch (e) {
        errs.push(`line ${i + 1} is not JSON: ${clip(line, 200)}`);
        return;
      }
      if (!v(item)) errs.push(`line ${i + 1}: ${ajvErrors(v)}`);
    });
    return errs;
  }
  let data;
  try {
    data = JSON.parse(res.text);
  } catch (e) {
    return [`the body is not JSON: ${clip(res.text)}`];
  }
  if (!v(data)) errs.push(ajvErrors(v));
  return errs;
}

// One request: four assertions, five when the request body is checked too.
async function check(label, method, pathname, expect, opts = {}) {
  const res = await send(method, pathname, opts);
  const where = resolve(method, pathname.split('?')[0]);
  const summary = `${method} ${pathname} -> ${res.status}\ncontent-type: ${res.headers.get('content-type')}\n` +
    `body: ${clip(res.text)}`;
  const who = where.operationId ?? (where.kind === 'unlisted method' ?
    `${method} ${where.tmpl} (unlisted method)` : `${method} ${pathname} (unlisted path)`);
  const tag = `${who}: ${label}`;

  if (where.operationId) {
    if (!seen.has(where.operationId)) seen.set(where.operationId, new Set());
    seen.get(where.operationId).add(res.status);
  }

  ok(res.status === expect, `${tag}: answers ${expect}`, `want status ${expect}\n${summary}`);

  // The request body against the operation's declared one: what the server
  // takes must be valid, what it refuses as invalid (400) must not be.
  const wantValid = opts.bodyValid ?? (expect < 300 ? true : undefined);
  if (where.kind === 'operation' && opts.json !== undefined && wantValid !== undefined) {
    let why = '';
    let valid = false;
    try {
      const rb = deref(`${where.responsesPtr.replace(/\/responses$/, '')}/requestBody`);
      const v = schemaValidator(`${rb.ptr}/content/application~1json/schema`);
      valid = v(typeof opts.json === 'string' ? JSON.parse(opts.json) : opts.json);
      why = valid ? 'the document accepts it' : ajvErrors(v);
    } catch (e) {
      why = e.message;
    }
    ok(valid === wantValid, `${tag}: the request body is ${wantValid ? 'valid' : 'invalid'} per the declared schema`,
      `${why}\nrequest body: ${clip(typeof opts.json === 'string' ? opts.json : JSON.stringify(opts.json))}`);
  }

  let decl = null;
  let why;
  try {
    decl = declaredResponse(where.responsesPtr, res.status);
    why = `declared: ${Object.keys(atPointer(where.responsesPtr)).join(', ')}\n${summary}`;
  } catch (e) {
    why = `${e.message}\n${summary}`;
  }
  if (!ok(decl !== null, `${tag}: ${res.status} is declared for ${where.name}`, why)) {
    ok(false, `${tag}: body matches the declared schema`, 'no declared response to check against');
    ok(false, `${tag}: declared headers are present and valid`, 'no declared response to check against');
    return res;
  }

  // Body.
  const content = decl.node.content;
  const ct = mediaType(res.headers.get('content-type'));
  let bodyErrs = [];
  if (method === 'HEAD') {
    if (res.text !== '') bodyErrs.push('a HEAD response has a body');
  } else if (!content) {
    if (res.text !== '') bodyErrs.push(`no content is declared, but the body is ${clip(res.text)}`);
    if (ct !== '') bodyErrs.push(`no content is declared, but Content-Type is ${ct}`);
  } else if (!(ct in content)) {
    bodyErrs.push(`Content-Type ${ct || '(none)'} is not one of the declared ${Object.keys(content).join(', ')}`);
  } else {
    try {
      bodyErrs = checkBody(res, content[ct], `${decl.ptr}/content/${pointerEscape(ct)}`, ct);
    } catch (e) {
      bodyErrs.push(e.message);
    }
  }
  ok(bodyErrs.length === 0, `${tag}: body matches the declared ${ct || 'empty'} schema for ${res.status}`,
    `${bodyErrs.join('\n')}\n${summary}`);

  // Headers: every required one is there and matches its schema.
  const hErrs = [];
  for (const [name] of Object.entries(decl.node.headers || {})) {
    let h;
    try {
      h = deref(`${decl.ptr}/headers/${pointerEscape(name)}`);
    } catch (e) {
      hErrs.push(e.message);
      continue;
    }
    const value = res.headers.get(name);
    if (value === null) {
      if (h.node.required) hErrs.push(`required header ${name} is missing`);
      continue;
    }
    if (h.node.schema) {
      // Header values are text; an integer schema describes the number.
      let v = value;
      if (['integer', 'number'].includes(h.node.schema.type) && /^-?[0-9]+(\.[0-9]+)?$/.test(value)) v = Number(value);
      try {
        const val = schemaValidator(`${h.ptr}/schema`);
        if (!val(v)) hErrs.push(`header ${name}: ${JSON.stringify(value)}: ${ajvErrors(val)}`);
      } catch (e) {
        hErrs.push(`header ${name}: ${e.message}`);
      }
    }
  }
  // The Allow of a 405 lists exactly the methods the document gives the path.
  if (res.status === 405 && where.allow) {
    const got = (res.headers.get('allow') || '').split(',').map((s) => s.trim()).filter(Boolean).sort();
    const want = [...where.allow].sort();
    if (got.join(',') !== want.join(',')) {
      hErrs.push(`Allow: ${res.headers.get('allow')}; the document lists ${want.join(', ')} for ${where.tmpl}`);
    }
  }
  ok(hErrs.length === 0, `${tag}: declared headers are present and valid`, `${hErrs.join('\n')}\n${summary}`);

  res.json = () => JSON.parse(res.text);
  return res;
}

// ------------------------------------------------------------------ the run

// Every schema in the document compiles in strict mode, also the ones no
// response of this run reaches (request bodies, parameters).
function compileAll() {
  const errs = [];
  let count = 0;
  const walk = (node, ptr) => {
    if (node === null || typeof node !== 'object') return;
    if (Array.isArray(node)) {
      node.forEach((x, i) => walk(x, `${ptr}/${i}`));
      return;
    }
    for (const [k, v] of Object.entries(node)) {
      const p = `${ptr}/${pointerEscape(k)}`;
      // "schema" members of OpenAPI objects, and the schemas of components.
      if ((k === 'schema' && !ptr.startsWith('/components/schemas')) ||
          ptr === '/components/schemas') {
        try {
          schemaValidator(p);
          count++;
        } catch (e) {
          errs.push(`${p}: ${e.message}`);
        }
      } else {
        walk(v, p);
      }
    }
  };
  walk(doc, '');
  ok(errs.length === 0 && count > 0,
    `every schema of the document (${count + errs.length}) compiles (Ajv, JSON Schema 2020-12, strict mode)`,
    errs.join('\n'));
}

async function run() {
  ok(/^3\.1\.[0-9]+$/.test(doc.openapi ?? ''), `the document is OpenAPI 3.1 (${doc.openapi})`);
  compileAll();

  const stamp = `${Date.now().toString(36)}-${randomUUID().slice(0, 8)}`;
  const emailA = `oapi-a-${stamp}@example.org`;
  const emailB = `oapi-b-${stamp}@example.org`;
  const pw = 'correct horse battery';
  const missing = randomUUID();	// almost surely no such user or task
  const big = JSON.stringify({ title: 'x'.repeat(70 * 1024), name: 'x', email: 'x@y', password: 'x' });
  const REGISTER = '/api/v1/auth/register';
  const LOGIN = '/api/v1/auth/login';
  const user = (id) => `/api/v1/users/${id}`;
  const task = (id) => `/api/v1/tasks/${id}`;
  // bodyValid: false marks a body the document must refuse too (a 400 for
  // its shape); true a body it must take although the server refuses the
  // request for another reason (409, 403, 404).
  const bad = (json) => ({ json, bodyValid: false });
  const fine = (json) => ({ json, bodyValid: true });
  const textPlain = (body) => ({ body, ctype: 'text/plain' });

  // Health.
  await check('healthy', 'GET', '/health', 200);
  await check('malformed query string', 'GET', '/health?%zz', 400);
  await check('POST not served', 'POST', '/health', 405, { json: {} });

  // Register (rate-limited: a handful of requests only).
  const ra = await check('user A', 'POST', REGISTER, 201, { json: { email: emailA, name: '  Alice  ', password: pw } });
  const rb = await check('user B', 'POST', REGISTER, 201, { json: { email: emailB, name: 'Bob', password: pw } });
  const idA = ra.json().id;
  const idB = rb.json().id;
  ok(ra.headers.get('location') === user(idA), 'registerUser: Location is the new user\'s path',
    `Location: ${ra.headers.get('location')}, id ${idA}`);
  await check('duplicate e-mail (other case)', 'POST', REGISTER, 409,
    fine({ email: emailA.toUpperCase(), name: 'Again', password: pw }));
  await check('name missing', 'POST', REGISTER, 400, bad({ email: `x${emailA}`, password: pw }));
  await check('password too short', 'POST', REGISTER, 400, bad({ email: `x${emailA}`, name: 'X', password: 'short' }));
  await check('not JSON', 'POST', REGISTER, 400, { json: '{"email":' });
  await check('text/plain body', 'POST', REGISTER, 415,
    textPlain(JSON.stringify({ email: `x${emailA}`, name: 'X', password: pw })));
  await check('body over 64 KiB', 'POST', REGISTER, 413, { json: big });
  await check('GET not served', 'GET', REGISTER, 405);
  // Idempotency-Key on register: a repeat is the first answer, another body 422.
  const rkey = { 'Idempotency-Key': `openapi-${randomUUID()}` };
  const rk = { email: `k${emailA}`, name: 'Keyed', password: pw };
  const rk1 = await check('with an Idempotency-Key', 'POST', REGISTER, 201, { json: rk, headers: rkey });
  const rk2 = await check('the same key and body again', 'POST', REGISTER, 201, { json: rk, headers: rkey });
  ok(rk1.text === rk2.text, 'registerUser: the repeat is the first answer', `${rk1.text}\n${rk2.text}`);
  await check('the same key, another body', 'POST', REGISTER, 422,
    { json: { ...rk, name: 'Other' }, headers: rkey, bodyValid: true });
  await check('a key of 256 characters', 'POST', REGISTER, 400,
    { json: rk, headers: { 'Idempotency-Key': 'k'.repeat(256) }, bodyValid: true });

  // Login.
  const la = await check('user A', 'POST', LOGIN, 200, { json: { email: emailA, password: pw } });
  const lb = await check('user B', 'POST', LOGIN, 200, { json: { email: emailB, password: pw } });
  const A = (o = {}) => ({ token: la.json().token, ...o });
  const B = (o = {}) => ({ token: lb.json().token, ...o });
  await check('wrong password', 'POST', LOGIN, 401, fine({ email: emailA, password: 'wrong password' }));
  await check('password missing', 'POST', LOGIN, 400, bad({ email: emailA }));
  await check('text/plain body', 'POST', LOGIN, 415, textPlain(JSON.stringify({ email: emailA, password: pw })));
  await check('body over 64 KiB', 'POST', LOGIN, 413, { json: big });

  // Me.
  await check('signed in', 'GET', '/api/v1/me', 200, A());
  await check('no token', 'GET', '/api/v1/me', 401);
  await check('malformed token', 'GET', '/api/v1/me', 401, { token: 'not.a.jwt' });
  // One signature character changed (not the last: its low bits may be padding).
  const [h64, p64, s64] = A().token.split('.');
  const flipped = `${s64.slice(0, 5)}${s64[5] === 'A' ? 'B' : 'A'}${s64.slice(6)}`;
  await check('tampered signature', 'GET', '/api/v1/me', 401, { token: `${h64}.${p64}.${flipped}` });
  await check('DELETE not served', 'DELETE', '/api/v1/me', 405, A());
  const rid = `oapi-${stamp}`;
  const me = await check('own X-Request-Id', 'GET', '/api/v1/me', 200, A({ headers: { 'X-Request-Id': rid } }));
  ok(me.headers.get('x-request-id') === rid, 'getMe: a valid client X-Request-Id is returned as is',
    `X-Request-Id: ${me.headers.get('x-request-id')}, sent ${rid}`);

  // Users.
  await check('first page', 'GET', '/api/v1/users', 200, A());
  await check('limit=1&offset=1', 'GET', '/api/v1/users?limit=1&offset=1', 200, A());
  await check('limit=100', 'GET', '/api/v1/users?limit=100', 200, A());
  await check('limit=0', 'GET', '/api/v1/users?limit=0', 400, A());
  await check('limit=101', 'GET', '/api/v1/users?limit=101', 400, A());
  await check('offset=-1', 'GET', '/api/v1/users?offset=-1', 400, A());
  await check('limit=abc', 'GET', '/api/v1/users?limit=abc', 400, A());
  await check('no token', 'GET', '/api/v1/users', 401);
  await check('POST not served', 'POST', '/api/v1/users', 405, A({ json: {} }));

  await check("another user's account", 'GET', user(idB), 200, A());
  await check('no such user', 'GET', user(missing), 404, A());
  await check('id not a UUID', 'GET', user('not-a-uuid'), 400, A());
  await check('upper-case UUID', 'GET', user(idB.toUpperCase()), 400, A());
  await check('no token', 'GET', user(idB), 401);
  await check('PUT not served', 'PUT', user(idA), 405, A({ json: {} }));

  await check('rename self', 'PATCH', user(idA), 200, A({ json: { name: 'Alice L.' } }));
  await check('empty object', 'PATCH', user(idA), 200, A({ json: {} }));
  await check("another user's account", 'PATCH', user(idB), 403, A(fine({ name: 'Mallory' })));
  await check('e-mail of another account', 'PATCH', user(idA), 409, A(fine({ email: emailB })));
  await check('name of the wrong type', 'PATCH', user(idA), 400, A(bad({ name: 5 })));
  await check('text/plain body', 'PATCH', user(idA), 415, A(textPlain('{"name":"X"}')));
  await check('body over 64 KiB', 'PATCH', user(idA), 413, A({ json: big }));
  await check('no token', 'PATCH', user(idA), 401, fine({ name: 'X' }));

  // Tasks.
  await check('empty list', 'GET', '/api/v1/tasks', 200, A());
  const t1 = await check('title only', 'POST', '/api/v1/tasks', 201, A({ json: { title: 'First task' } }));
  const t2 = await check('every field', 'POST', '/api/v1/tasks', 201, A({
    json: {
      title: '  Second task  ',
      description: 'With – unicode ✓',
      priority: 'high',
      due_at: '2026-12-01T18:00:00+01:00',
      status: 'done',
    },
  }));
  const task1 = t1.json().id;
  const task2 = t2.json().id;
  ok(t1.headers.get('location') === task(task1), 'createTask: Location is the new task\'s path',
    `Location: ${t1.headers.get('location')}, id ${task1}`);
  await check('title blank', 'POST', '/api/v1/tasks', 400, A(bad({ title: '   ' })));
  await check('unknown priority', 'POST', '/api/v1/tasks', 400, A(bad({ title: 'X', priority: 'urgent' })));
  await check('due_at not RFC 3339', 'POST', '/api/v1/tasks', 400, A(bad({ title: 'X', due_at: 'tomorrow' })));
  await check('body an array', 'POST', '/api/v1/tasks', 400, A(bad('[]')));
  await check('empty body', 'POST', '/api/v1/tasks', 400, A({ body: '', ctype: 'application/json' }));
  await check('text/plain body', 'POST', '/api/v1/tasks', 415, A(textPlain('{"title":"X"}')));
  await check('body over 64 KiB', 'POST', '/api/v1/tasks', 413, A({ json: big }));
  await check('no token', 'POST', '/api/v1/tasks', 401, fine({ title: 'X' }));

  await check('two tasks', 'GET', '/api/v1/tasks', 200, A());
  await check('status=todo&priority=high', 'GET', '/api/v1/tasks?status=todo&priority=high', 200, A());
  await check('limit=1&offset=1', 'GET', '/api/v1/tasks?limit=1&offset=1', 200, A());
  await check('unknown status', 'GET', '/api/v1/tasks?status=open', 400, A());
  await check('unknown priority', 'GET', '/api/v1/tasks?priority=urgent', 400, A());
  await check('limit given twice', 'GET', '/api/v1/tasks?limit=1&limit=2', 400, A());
  await check('offset=x', 'GET', '/api/v1/tasks?offset=x', 400, A());
  await check('no token', 'GET', '/api/v1/tasks', 401);
  await check('PUT not served', 'PUT', '/api/v1/tasks', 405, A({ json: {} }));
  await check('HEAD not served', 'HEAD', '/api/v1/tasks', 405, A());
  await check('plain OPTIONS not served', 'OPTIONS', '/api/v1/tasks', 405, A());

  const g1 = await check('own task', 'GET', task(task1), 200, A());
  const tag1 = g1.headers.get('etag');
  await check('If-None-Match its ETag', 'GET', task(task1), 304, A({ headers: { 'If-None-Match': tag1 } }));
  await check('If-Match another ETag', 'GET', task(task1), 412, A({ headers: { 'If-Match': '"999"' } }));
  await check('If-None-Match malformed', 'GET', task(task1), 400, A({ headers: { 'If-None-Match': 'nope' } }));
  const me1 = await check('own account', 'GET', '/api/v1/me', 200, A());
  await check('If-None-Match its ETag', 'GET', '/api/v1/me', 304,
    A({ headers: { 'If-None-Match': me1.headers.get('etag') } }));
  await check('If-Match another ETag', 'GET', '/api/v1/me', 412, A({ headers: { 'If-Match': '"999"' } }));
  await check('If-None-Match its ETag', 'GET', user(idA), 304,
    B({ headers: { 'If-None-Match': me1.headers.get('etag') } }));
  await check('If-Match another ETag', 'GET', user(idA), 412, B({ headers: { 'If-Match': '"999"' } }));
  await check('If-Match a stale ETag', 'PATCH', task(task1), 412,
    A({ json: { title: 'Lost' }, headers: { 'If-Match': '"999"' }, bodyValid: true }));
  await check('If-Match the current ETag', 'PATCH', task(task1), 200,
    A({ json: { title: 'Kept' }, headers: { 'If-Match': tag1 } }));
  await check('If-Match a stale ETag', 'DELETE', task(task1), 412, A({ headers: { 'If-Match': tag1 } }));
  // Idempotency-Key on task creation.
  const tkey = { 'Idempotency-Key': `openapi-${randomUUID()}` };
  const tk1 = await check('with an Idempotency-Key', 'POST', '/api/v1/tasks', 201,
    A({ json: { title: 'Keyed' }, headers: tkey }));
  const tk2 = await check('the same key and body again', 'POST', '/api/v1/tasks', 201,
    A({ json: { title: 'Keyed' }, headers: tkey }));
  ok(tk1.text === tk2.text && tk1.headers.get('location') === tk2.headers.get('location'),
    'createTask: the repeat is the first answer', `${tk1.text}\n${tk2.text}`);
  await check('the same key, another body', 'POST', '/api/v1/tasks', 422,
    A({ json: { title: 'Other' }, headers: tkey, bodyValid: true }));
  await check('own keyed task', 'DELETE', task(tk1.json().id), 204, A());
  await check("another user's task", 'GET', task(task1), 404, B());
  await check('no such task', 'GET', task(missing), 404, A());
  await check('id not a UUID', 'GET', task('123'), 400, A());
  await check('no token', 'GET', task(task1), 401);
  await check('POST not served', 'POST', task(task1), 405, A({ json: {} }));

  await check('status and clear description', 'PATCH', task(task2), 200,
    A({ json: { status: 'in_progress', description: null, due_at: null } }));
  await check('empty object', 'PATCH', task(task1), 200, A({ json: {} }));
  await check('unknown status', 'PATCH', task(task1), 400, A(bad({ status: 'open' })));
  await check('title null', 'PATCH', task(task1), 400, A(bad({ title: null })));
  await check('description over 2000 characters', 'PATCH', task(task1), 400,
    A(bad({ description: 'é'.repeat(2001) })));
  await check("another user's task", 'PATCH', task(task1), 404, B(fine({ title: 'Mine' })));
  await check('text/plain body', 'PATCH', task(task1), 415, A(textPlain('{}')));
  await check('body over 64 KiB', 'PATCH', task(task1), 413, A({ json: big }));
  await check('no token', 'PATCH', task(task1), 401, fine({}));

  // Export.
  const ex = await check('two tasks', 'GET', '/api/v1/tasks/export', 200, A());
  const lines = ex.text.split('\n').filter((l) => l !== '');
  ok(lines.length === 2, 'exportTasks: two tasks, two lines', `lines: ${lines.length}\n${clip(ex.text)}`);
  const exB = await check('no tasks', 'GET', '/api/v1/tasks/export', 200, B());
  ok(exB.text === '', 'exportTasks: no tasks, empty body', `body: ${clip(exB.text)}`);
  await check('no token', 'GET', '/api/v1/tasks/export', 401);
  await check('PATCH not served', 'PATCH', '/api/v1/tasks/export', 405, A({ json: {} }));

  // Unlisted paths.
  await check('unknown path', 'GET', '/api/v1/nothing-here', 404, A());
  await check('trailing slash', 'GET', '/api/v1/tasks/', 404, A());

  // Deletes.
  await check("another user's task", 'DELETE', task(task1), 404, B());
  await check('own task', 'DELETE', task(task1), 204, A());
  await check('already deleted', 'DELETE', task(task1), 404, A());
  await check('id not a UUID', 'DELETE', task('nope'), 400, A());
  await check('no token', 'DELETE', task(task2), 401);
  await check("another user's account", 'DELETE', user(idA), 403, B());
  await check('id not a UUID', 'DELETE', user('nope'), 400, B());
  await check('no token', 'DELETE', user(idB), 401);
  await check('own account', 'DELETE', user(idB), 204, B());
  await check("deleted user's token", 'GET', '/api/v1/me', 401, B());
  await check("deleted user's token", 'GET', '/api/v1/tasks/export', 401, B());
  await check('own account, with its tasks', 'DELETE', user(idA), 204, A());

  // Coverage: every operation of the document ran, and answered its 2xx.
  for (const [tmpl, item] of Object.entries(doc.paths)) {
    for (const m of METHODS) {
      if (!(m in item)) continue;
      const id = item[m].operationId;
      const statuses = [...(seen.get(id) ?? [])];
      const success = Object.keys(item[m].responses).filter((k) => /^2/.test(k)).map(Number);
      ok(success.some((s) => statuses.includes(s)), `${id}: exercised, with a declared 2xx answer`,
        `${m.toUpperCase()} ${tmpl}: statuses seen: ${statuses.join(', ') || 'none'}; ` +
        `2xx declared: ${success.join(', ')}`);
    }
  }
}

try {
  await run();
} catch (e) {
  ok(false, 'the run finished', e && e.stack ? e.stack : String(e));
}
if (retries429 > 0) diag(`${retries429} requests were retried after a 429 (rate limit)`);
if (printPlan) {
  process.stdout.write(`1..${n}\n`);
  if (failed > 0) diag(`FAILED ${failed} of ${n} assertions`);
}
process.exit(0);
