/*
 * request.c: struct req lifecycle and the small parsers for the
 * headers every request carries.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <sodium.h>

#include "ids.h"
#include "request.h"

enum http_method
req_method_parse(const char *s)
{
	static const char *const names[METHOD__MAX] = {
		[METHOD_GET] = "GET",
		[METHOD_POST] = "POST",
		[METHOD_PATCH] = "PATCH",
		[METHOD_DELETE] = "DELETE",
		[METHOD_PUT] = "PUT",
		[METHOD_HEAD] = "HEAD",
		[METHOD_OPTIONS] = "OPTIONS",
		[METHOD_OTHER] = NULL,
	};

	if (s == NULL)
		return METHOD_OTHER;
	for (int i = 0; i < METHOD_OTHER; i++)
		if (strcmp(s, names[i]) == 0)
			return (enum http_method)i;
	return METHOD_OTHER;
}

static bool
request_id_ok(const char *s)
{
	size_t	 n = 0;

	for (; s[n] != '\0'; n++) {
		char c = s[n];
		if (n >= LIM_REQUEST_ID_MAX)
			return false;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return false;
	}
	return n > 0;
}

void
req_set_request_id(struct req *r, const char *given)
{
	unsigned char	 raw[16];

	if (given != NULL && request_id_ok(given)) {
		memcpy(r->request_id, given, strlen(given) + 1);
		return;
	}
	/* 32 hex digits, the size of a W3C trace id (req_set_trace). */
	ids_fill(raw, sizeof(raw));
	sodium_bin2hex(r->request_id, sizeof(r->request_id), raw, sizeof(raw));
}

static bool
hex_run(const char *s, size_t n, bool *allzero)
{
	*allzero = true;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
		if (c != '0')
			*allzero = false;
	}
	return true;
}

/* A span (or half a trace) id: 64 random bits, never all zero. */
static uint64_t
next_span(void)
{
	uint64_t z;

	ids_fill(&z, sizeof(z));
	return z != 0 ? z : 1;
}

/* 16 hex digits and a NUL into out. */
static void
hex64(uint64_t v, char *out)
{
	sodium_bin2hex(out, 17, (const unsigned char *)&v, sizeof(v));
}

static bool
traceparent_ok(const char *tp)
{
	bool	 z1, z2, z3;

	if (tp == NULL || strlen(tp) < 55)
		return false;
	/* version-traceid-parentid-flags; version ff is invalid. */
	if (!hex_run(tp, 2, &z1) || strncmp(tp, "ff", 2) == 0 || tp[2] != '-' ||
	    !hex_run(tp + 3, 32, &z2) || tp[35] != '-' ||
	    !hex_run(tp + 36, 16, &z3) || tp[52] != '-' ||
	    !hex_run(tp + 53, 2, &z1) || z2 || z3)
		return false;
	/* Version 00 is exactly 55 characters; later ones may append. */
	return strncmp(tp, "00", 2) != 0 || tp[55] == '\0';
}

void
req_set_trace(struct req *r, const char *tp)
{
	char	 flags[3] = "00", span[17];
	bool	 z;

	if (traceparent_ok(tp)) {
		memcpy(r->trace_id, tp + 3, 32);
		memcpy(flags, tp + 53, 2);
	} else if (strlen(r->request_id) == 32 &&
	    hex_run(r->request_id, 32, &z) && !z) {
		/* nginx's $request_id: 128 random bits, the trace id's size. */
		memcpy(r->trace_id, r->request_id, 32);
	} else {
		hex64(next_span(), r->trace_id);
		hex64(next_span(), r->trace_id + 16);
	}
	r->trace_id[32] = '\0';
	hex64(next_span(), span);
	/* "00-" trace id "-" span id "-" flags: 55 bytes and the NUL. */
	memcpy(r->traceresponse, "00-", 3);
	memcpy(r->traceresponse + 3, r->trace_id, 32);
	r->traceresponse[35] = '-';
	memcpy(r->traceresponse + 36, span, 16);
	r->traceresponse[52] = '-';
	memcpy(r->traceresponse + 53, flags, 2);
	r->traceresponse[55] = '\0';
}

void
req_reset(struct req *r)
{
	struct buf body = r->body;

	if (r->json != NULL)
		json_object_put(r->json);
	/* Bodies may hold passwords: wipe what was used. */
	if (body.p != NULL && body.len > 0)
		sodium_memzero(body.p, body.len);
	/* Keep the body buffer unless a large body grew it. */
	buf_reset(&body, 2 * LIM_BODY_MAX);
	memset(r, 0, sizeof(*r));
	r->body = body;
}

void
req_free(struct req *r)
{
	req_reset(r);
	buf_free(&r->body);
}
