// api.js: the taskapi HTTP client used by the page.
//
// Same-origin fetch to /api/v1/...  Every error the API can produce becomes
// an ApiError whose .message is a sentence a person can read and whose
// .field names the request field it is about (the API's validation errors
// start with the field's name: "title must be 1 to 200 characters").

const BASE = '/api/v1';
const TIMEOUT_MS = 15000;

// Field names as the API spells them -> how the page labels them.
export const FIELD_LABELS = {
  title: 'Title',
  description: 'Description',
  status: 'Status',
  priority: 'Priority',
  due_at: 'Due date',
  email: 'Email',
  name: 'Name',
  password: 'Password',
};

export class ApiError extends Error {
  constructor(status, message, { field = null, raw = '', aborted = false } = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status; // 0: no answer at all
    this.field = field;   // request field the error is about, or null
    this.raw = raw;       // the API's own wording
    this.aborted = aborted;
    this.handled = false; // set when the 401 handler already reacted
  }
}

function fieldOf(raw) {
  const m = /^([a-z_]+)\b/.exec(raw);
  return m && Object.hasOwn(FIELD_LABELS, m[1]) ? m[1] : null;
}

// The API's message, as a sentence, with the field's label in front.
export function plainMessage(status, raw) {
  if (status === 429) {
    return 'Too many attempts in a short time. Wait a few seconds and try again.';
  }
  if (status === 502 || status === 503 || status === 504) {
    return 'The task service is not available right now. Try again in a moment.';
  }
  if (status >= 500) {
    return 'Something went wrong on the server. Try again; if it keeps happening, tell the administrator.';
  }
  if (!raw) {
    return `The request failed (HTTP ${status}).`;
  }
  let m = raw;
  const field = fieldOf(raw);
  if (field) {
    m = FIELD_LABELS[field] + m.slice(field.length);
  }
  m = m.charAt(0).toUpperCase() + m.slice(1);
  if (!/[.!?]$/.test(m)) {
    m += '.';
  }
  return m;
}

// The ETag each task or user object came with (GET, PATCH, POST answers;
// list items have none): sent back as If-Match, so a change made by
// someone else in the meantime is refused (412) instead of overwritten.
const etags = new WeakMap();

export function etagOf(obj) {
  return obj && typeof obj === 'object' ? etags.get(obj) : undefined;
}

// The `cursor` of a list answer's rel="next" link: the next page is that
// list again with this cursor.  Undefined on the last page.
const nextCursors = new WeakMap();

export function nextCursorOf(obj) {
  return obj && typeof obj === 'object' ? nextCursors.get(obj) : undefined;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+/;

// The URI references of a Link header (RFC 8288 section 3) whose rel
// names `rel`: link-values separated by commas, each "<URI>" then
// ";"-parameters whose values are tokens or quoted strings (where commas
// and semicolons are text); rel is a space-separated list of relation
// types, compared without case, and only its first occurrence counts.
// A malformed header yields the links before the malformed one.
export function linksOf(header, rel) {
  const s = header || '';
  const found = [];
  let i = 0;
  const skip = (re) => {
    while (i < s.length && re.test(s[i])) {
      i++;
    }
  };
  for (;;) {
    skip(/[ \t,]/);
    if (i >= s.length || s[i] !== '<') {
      return found;
    }
    const end = s.indexOf('>', i);
    if (end < 0) {
      return found;
    }
    const uri = s.slice(i + 1, end);
    i = end + 1;
    let rels = null;
    for (;;) {
      skip(/[ \t]/);
      if (s[i] !== ';') {
        break;
      }
      i++;
      skip(/[ \t]/);
      const name = TOKEN.exec(s.slice(i));
      if (!name) {
        return found;
      }
      i += name[0].length;
      skip(/[ \t]/);
      let value = '';
      if (s[i] === '=') {
        i++;
        skip(/[ \t]/);
        if (s[i] === '"') {
          for (i++; i < s.length && s[i] !== '"'; i++) {
            if (s[i] === '\\') {
              i++;
            }
            value += s[i] ?? '';
          }
          if (i >= s.length) {
            return found;
          }
          i++;
        } else {
          const tok = TOKEN.exec(s.slice(i));
          value = tok ? tok[0] : '';
          i += value.length;
        }
      }
      if (name[0].toLowerCase() === 'rel' && rels === null) {
        rels = value.toLowerCase().split(/[ \t]+/);
      }
    }
    skip(/[ \t]/);
    if (i < s.length && s[i] !== ',') {
      return found; // this link-value does not end where it should
    }
    if (rels && rels.includes(rel)) {
      found.push(uri);
    }
  }
}

// The cursor of the rel="next" link of the answer to `url`, if that link
// goes to the same list on the same origin (a link elsewhere is ignored:
// the page never sends its token or requests to another place).
function nextCursor(header, url) {
  for (const ref of linksOf(header, 'next')) {
    let target;
    try {
      target = new URL(ref, url); // relative to the request (RFC 8288 3.2)
    } catch {
      continue;
    }
    const here = new URL(url);
    const cursor = target.searchParams.get('cursor');
    if (target.origin === here.origin && target.pathname === here.pathname && cursor) {
      return cursor;
    }
  }
  return undefined;
}

export function createClient({ getToken, onUnauthorized }) {
  // request(method, path, {body, auth, signal, ifMatch}) -> parsed JSON
  // (null for 204); etagOf(result) is the answer's ETag, nextCursorOf(result)
  // its next page's cursor.  A 412's ApiError carries the current ETag in
  // err.etag.
  return async function request(method, path, { body, auth = true, signal, ifMatch } = {}) {
    const headers = { Accept: 'application/json' };
    const token = auth ? getToken() : null;
    if (ifMatch) {
      headers['If-Match'] = ifMatch;
    }
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
    }
    if (token) {
      headers.Authorization = `Bearer ${token}`;
    }
    const ctl = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ctl.abort();
    }, TIMEOUT_MS);
    const onAbort = () => ctl.abort();
    if (signal) {
      if (signal.aborted) {
        ctl.abort();
      } else {
        signal.addEventListener('abort', onAbort, { once: true });
      }
    }

    let res;
    let text = '';
    try {
      res = await fetch(BASE + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: ctl.signal,
        cache: 'no-store',
        credentials: 'omit',
      });
      if (res.status !== 204) {
        text = await res.text();
      }
    } catch {
      if (timedOut) {
        throw new ApiError(0, 'The task service did not answer in time. Try again.');
      }
      if (signal && signal.aborted) {
        throw new ApiError(0, 'Cancelled.', { aborted: true });
      }
      throw new ApiError(0, 'Cannot reach the task service. Check your connection and try again.');
    } finally {
      clearTimeout(timer);
      if (signal) {
        signal.removeEventListener('abort', onAbort);
      }
    }

    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
    if (!res.ok) {
      const raw = data && typeof data.error === 'string' ? data.error : '';
      const err = new ApiError(res.status, plainMessage(res.status, raw), {
        field: fieldOf(raw),
        raw,
      });
      err.etag = res.headers.get('ETag') || undefined;
      if (res.status === 401 && token) {
        // The token was refused (expired, or its user is gone).
        err.handled = true;
        onUnauthorized(err);
      }
      throw err;
    }
    // A weak tag (W/"3": nginx compressed a create's answer) is never
    // matched by If-Match; without one, tagFor() reads the task first.
    const tag = res.headers.get('ETag');
    if (tag && !tag.startsWith('W/') && data && typeof data === 'object') {
      etags.set(data, tag);
    }
    const cursor = nextCursor(res.headers.get('Link'), res.url);
    if (cursor && data && typeof data === 'object') {
      nextCursors.set(data, cursor);
    }
    return data;
  };
}
