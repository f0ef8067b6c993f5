/*
 * response.c: building and serialising struct resp.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "response.h"

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
	[TERR_MEDIATYPE] = { 415,
	    "request body must be application/json" },
	[TERR_DB] = { 503, "database unavailable, try again later" },
	[TERR_INTERNAL] = { 500, "internal error" },
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

const char *
http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Unknown";
	}
}

static bool
body_set(struct resp *r, const char *s, size_t len)
{
	if (len + 1 > r->cap) {
		size_t	 cap = r->cap == 0 ? 1024 : r->cap;
		char	*p;

		while (cap < len + 1)
			cap *= 2;
		if ((p = realloc(r->body, cap)) == NULL)
			return false;
		r->body = p;
		r->cap = cap;
	}
	memcpy(r->body, s, len);
	r->body[len] = '\0';
	r->len = len;
	return true;
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
		r->len = 0;
		if (r->cap > sizeof(oom)) {
			memcpy(r->body, oom, sizeof(oom));
			r->len = sizeof(oom) - 1;
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
	resp_error_status(r, terr_status(e), msg != NULL ? msg :
	    terr_message(e));
}

void
resp_empty(struct resp *r, int status)
{
	r->status = status;
	r->content_type = NULL;
	r->len = 0;
}

size_t
resp_head(const struct resp *r, const char *request_id,
    const char *traceresponse, char *buf, size_t sz)
{
	int	 n;
	size_t	 off;

#define APPEND(...) do {						\
	n = snprintf(buf + off, sz - off, __VA_ARGS__);			\
	if (n < 0 || (size_t)n >= sz - off)				\
		return 0;						\
	off += (size_t)n;						\
} while (0)

	off = 0;
	APPEND("Status: %d %s\r\n", r->status, http_reason(r->status));
	if (r->content_type != NULL)
		APPEND("Content-Type: %s\r\n", r->content_type);
	if (r->status != 204 && r->content_type != NULL && !r->stream)
		APPEND("Content-Length: %zu\r\n", r->len);
	if (r->location[0] != '\0')
		APPEND("Location: %s\r\n", r->location);
	if (r->allow[0] != '\0')
		APPEND("Allow: %s\r\n", r->allow);
	if (r->www_authenticate)
		APPEND("WWW-Authenticate: Bearer realm=\"taskapi\"\r\n");
	if (r->retry_after > 0)
		APPEND("Retry-After: %d\r\n", r->retry_after);
	if (request_id != NULL && request_id[0] != '\0')
		APPEND("X-Request-Id: %s\r\n", request_id);
	if (traceresponse != NULL && traceresponse[0] != '\0')
		APPEND("traceresponse: %s\r\n", traceresponse);
	APPEND("Cache-Control: no-store\r\n\r\n");
#undef APPEND
	return off;
}

void
resp_reset(struct resp *r)
{
	char	*body = r->body;
	size_t	 cap = r->cap;

	if (cap > 256 * 1024) {
		free(body);
		body = NULL;
		cap = 0;
	}
	memset(r, 0, sizeof(*r));
	r->body = body;
	r->cap = cap;
}

void
resp_free(struct resp *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}
