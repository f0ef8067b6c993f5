/*
 * fcgi_params.c: FastCGI parameters to a struct req (the rules are in
 * fcgi_params.h).
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api_limits.h"
#include "fcgi_params.h"
#include "util.h"

/* Strict: digits only, no sign, no blanks, no overflow. */
static int
parse_length(const char *s, long long *out)
{
	long long n = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (n > (INT64_MAX - (*s - '0')) / 10)
			return -1;
		n = n * 10 + (*s - '0');
	}
	*out = n;
	return 0;
}

/* extra->uri = SCRIPT_NAME PATH_INFO [? QUERY_STRING]; NULL when short
 * of memory. */
static const char *
build_uri(struct fcgi_req_extra *extra, const char *script,
    const char *pathinfo, const char *query)
{
	size_t ls = script != NULL ? strlen(script) : 0;
	size_t lp = pathinfo != NULL ? strlen(pathinfo) : 0;
	size_t lq = query != NULL ? strlen(query) : 0;
	size_t need = ls + lp + lq + 3;
	char  *p;

	if (need > extra->uri_cap) {
		if ((p = realloc(extra->uri, need)) == NULL)
			return NULL;
		extra->uri = p;
		extra->uri_cap = need;
	}
	p = extra->uri;
	memcpy(p, script != NULL ? script : "", ls);
	memcpy(p + ls, pathinfo != NULL ? pathinfo : "", lp);
	p += ls + lp;
	if (lq > 0) {
		*p++ = '?';
		memcpy(p, query, lq);
		p += lq;
	}
	*p = '\0';
	return extra->uri;
}

int
fcgi_params_to_req(fcgi_param_get_fn *get, void *ctx, struct req *r,
    struct fcgi_req_extra *extra, const char **why)
{
	const char *uri, *cl;

	r->start_us = util_mono_us();
	r->match.route = ROUTE__MAX; /* "-" in the log until routed */
	r->method_str = get(ctx, "REQUEST_METHOD");
	if (r->method_str == NULL || *r->method_str == '\0')
		r->method_str = "-";
	r->method = req_method_parse(r->method_str);
	uri = get(ctx, "REQUEST_URI");
	if (uri == NULL || *uri == '\0') {
		const char *script = get(ctx, "SCRIPT_NAME");
		const char *pathinfo = get(ctx, "PATH_INFO");

		uri = NULL;
		if (script != NULL || pathinfo != NULL)
			uri = build_uri(extra, script, pathinfo,
			    get(ctx, "QUERY_STRING"));
	}
	r->uri = uri != NULL && *uri != '\0' ? uri : "/";
	r->content_type = get(ctx, "CONTENT_TYPE");
	if (r->content_type != NULL && *r->content_type == '\0')
		r->content_type = NULL;
	r->authorization = get(ctx, "HTTP_AUTHORIZATION");
	r->traceparent = get(ctx, "HTTP_TRACEPARENT");
	r->if_match = get(ctx, "HTTP_IF_MATCH");
	r->if_none_match = get(ctx, "HTTP_IF_NONE_MATCH");
	r->idempotency_key = get(ctx, "HTTP_IDEMPOTENCY_KEY");
	req_set_request_id(r, get(ctx, "HTTP_X_REQUEST_ID"));
	req_set_trace(r, r->traceparent);

	extra->content_length = -1;
	cl = get(ctx, "CONTENT_LENGTH");
	if (cl != NULL && *cl != '\0') {
		if (parse_length(cl, &extra->content_length) == -1) {
			extra->content_length = -1;
			*why = "CONTENT_LENGTH is not a length";
			return 400;
		}
		if (extra->content_length > LIM_BODY_MAX)
			r->body_too_large = true;
	}
	return 0;
}

int
fcgi_body_check(const struct fcgi_req_extra *extra, unsigned long long received,
    const char **why)
{
	if (extra->content_length < 0 ||
	    (unsigned long long)extra->content_length == received)
		return 0;
	*why = received < (unsigned long long)extra->content_length ?
	    "the body is shorter than its Content-Length" :
	    "the body is longer than its Content-Length";
	return 400;
}

void
fcgi_req_extra_free(struct fcgi_req_extra *extra)
{
	free(extra->uri);
	extra->uri = NULL;
	extra->uri_cap = 0;
}
