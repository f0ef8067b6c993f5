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

export function createClient({ getToken, onUnauthorized }) {
  // request(method, path, {body, auth, signal, ifMatch}) -> parsed JSON
  // (null for 204); etagOf(result) is the answer's ETag.  A 412's ApiError
  // carries the current ETag in err.etag.
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
    return data;
  };
}
