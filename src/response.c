/*
 * response.c: building and serialising struct resp.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "counters.h"
#include "response.h"
#include "util.h"

#define CT_JSON	"application/json; charset=utf-8"

static const struct {
	int		 status;
	const char	*message;
} terr_table[TERR__MAX] = {
	[TERR_OK] = { 200, "ok" },
	[TERR_NOMEM] = { 500, "internal error" },
	[TERR_INVALID] = { 400, "invalid request" },
	[TERR_UNAUTH] = { 401, "missing or invalid credentials" },
	[TERR_FORBIDDEN] = { 403, "you may only change your own account" },
	[TERR_NOTFOUND] = { 404, "not found" },
	[TERR_CONFLICT] = { 409, "email is already registered" },
	[TERR_TOOLARGE] = { 413, "request body too large (max 64 KiB)" },
	[TERR_MEDIATYPE] = { 415, "request body must be application/json" },
	[TERR_DB] = { 503, "database unavailable, try again later" },
	[TERR_INTERNAL] = { 500, "internal error" },
	[TERR_PRECONDITION] = { 428, "If-Match is required" },
	[TERR_UNPROCESSABLE] = { 422,
	    "this Idempotency-Key was used with a different request body" },
	[TERR_UNKNOWN] = { 503,
	    "the database did not confirm this write in time: its outcome is "
	    "unknown (it may have been applied and become visible later); "
	    "retry with the same Idempotency-Key, or If-Match, to apply it "
	    "at most once" },
};

int
terr_status(enum terr e)
{
	return e < TERR__MAX ? terr_table[e].status : 500;
}

const char *
terr_message(enum terr e)
{
	return e < TERR__MAX ? terr_table[e].message : "internal error";
}

/* One status a line reads as the table it is. */
/* clang-format off */
const char *
http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 428: return "Precondition Required";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Unknown";
	}
}
/* clang-format on */

static bool
body_set(struct resp *r, const char *s, size_t len)
{
	buf_reset(&r->body, SIZE_MAX);
	return buf_append(&r->body, s, len);
}

void
resp_raw(struct resp *r, int status, const char *ctype, const char *body,
    size_t len)
{
	static const char oom[] = "{\"error\":\"internal error\"}";

	r->status = status;
	r->content_type = ctype;
	if (!body_set(r, body, len)) {
		r->status = 500;
		r->content_type = CT_JSON;
		r->location[0] = '\0';
		/* Cannot fail: static text into whatever buffer is left. */
		r->body.len = 0;
		r->body.failed = false;
		if (r->body.cap > sizeof(oom)) {
			memcpy(r->body.p, oom, sizeof(oom));
			r->body.len = sizeof(oom) - 1;
		}
	}
}

void
resp_json(struct resp *r, int status, struct json_object *obj)
{
	const char	*s;
	size_t		 len;

	s = json_object_to_json_string_length(obj,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	if (s == NULL) {
		/* Not resp_error(): that calls back here, again and again. */
		resp_raw(r, 500, CT_JSON, "{\"error\":\"internal error\"}", 26);
		return;
	}
	resp_raw(r, status, CT_JSON, s, len);
}

void
resp_error_status(struct resp *r, int status, const char *msg)
{
	struct json_object	*obj;

	if ((obj = json_object_new_object()) == NULL) {
		resp_raw(r, 500, CT_JSON, "{\"error\":\"internal error\"}", 26);
		return;
	}
	json_object_object_add(obj, "error", json_object_new_string(msg));
	resp_json(r, status, obj);
	json_object_put(obj);
	r->www_authenticate = status == 401;
	if (status == 503 && r->retry_after == 0)
		r->retry_after = 1;
}

void
resp_error(struct resp *r, enum terr e, const char *msg)
{
	/* Counted here, where both kinds of worker answer it. */
	if (e == TERR_UNKNOWN)
		metrics_outcome_unknown();
	resp_error_status(r, terr_status(e), msg != NULL ? msg :
	    terr_message(e));
}

void
resp_empty(struct resp *r, int status)
{
	r->status = status;
	r->content_type = NULL;
	buf_reset(&r->body, SIZE_MAX);
}

/*
 * The header block is written piece by piece rather than by snprintf:
 * it is written for every response, and formatting was a visible share
 * of the event worker's time.  ok turns false when sz is too small.
 */
struct head {
	char  *buf;
	size_t sz;
	size_t off;
	bool   ok;
};

static void
head_mem(struct head *h, const char *s, size_t n)
{
	if (!h->ok || n >= h->sz - h->off) {
		h->ok = false;
		return;
	}
	memcpy(h->buf + h->off, s, n);
	h->off += n;
}

static void
head_str(struct head *h, const char *s)
{
	head_mem(h, s, strlen(s));
}

static void
head_num(struct head *h, long long v)
{
	char digits[UTIL_INT_LEN];

	head_mem(h, digits, util_format_int(v, digits));
}

size_t
resp_head(const struct resp *r, const char *request_id,
    const char *traceresponse, char *buf, size_t sz)
{
	struct head h = { buf, sz, 0, true };

	head_str(&h, "Status: ");
	head_num(&h, r->status);
	head_str(&h, " ");
	head_str(&h, http_reason(r->status));
	head_str(&h, "\r\n");
	if (r->content_type != NULL) {
		head_str(&h, "Content-Type: ");
		head_str(&h, r->content_type);
		head_str(&h, "\r\n");
	}
	if (r->status != 204 && r->content_type != NULL && !r->stream) {
		head_str(&h, "Content-Length: ");
		head_num(&h, (long long)r->body.len);
		head_str(&h, "\r\n");
	}
	if (r->location[0] != '\0') {
		head_str(&h, "Location: ");
		head_str(&h, r->location);
		head_str(&h, "\r\n");
	}
	if (r->etag[0] != '\0') {
		head_str(&h, "ETag: ");
		head_str(&h, r->etag);
		head_str(&h, "\r\n");
	}
	if (r->allow[0] != '\0') {
		head_str(&h, "Allow: ");
		head_str(&h, r->allow);
		head_str(&h, "\r\n");
	}
	if (r->link[0] != '\0') {
		head_str(&h, "Link: ");
		head_str(&h, r->link);
		head_str(&h, "\r\n");
	}
	if (r->has_total_count) {
		head_str(&h, "X-Total-Count: ");
		head_num(&h, r->total_count);
		head_str(&h, "\r\n");
	}
	if (r->www_authenticate)
		head_str(&h, "WWW-Authenticate: Bearer realm=\"taskapi\"\r\n");
	if (r->retry_after > 0) {
		head_str(&h, "Retry-After: ");
		head_num(&h, r->retry_after);
		head_str(&h, "\r\n");
	}
	if (request_id != NULL && request_id[0] != '\0') {
		head_str(&h, "X-Request-Id: ");
		head_str(&h, request_id);
		head_str(&h, "\r\n");
	}
	if (traceresponse != NULL && traceresponse[0] != '\0') {
		head_str(&h, "traceresponse: ");
		head_str(&h, traceresponse);
		head_str(&h, "\r\n");
	}
	head_str(&h, "Cache-Control: no-store\r\n\r\n");
	if (!h.ok || h.off >= h.sz)
		return 0;
	h.buf[h.off] = '\0';
	return h.off;
}

void
resp_reset(struct resp *r)
{
	struct buf body = r->body;

	/* Keep the body buffer unless a large answer grew it. */
	buf_reset(&body, 256 * 1024);
	memset(r, 0, sizeof(*r));
	r->body = body;
}

void
resp_free(struct resp *r)
{
	buf_free(&r->body);
	memset(r, 0, sizeof(*r));
}
