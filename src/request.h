/*
 * request.h: one HTTP request as a worker loop hands it to app.c.
 *
 * The worker loop fills the "input" part (strings it borrows from its
 * FastCGI library or its own parser, valid until the request ends) and
 * the body.  app.c fills the rest.  req_reset() releases everything a
 * request owns, so one struct req serves a worker's whole life.
 */
#ifndef TASKAPI_REQUEST_H
#define TASKAPI_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api_limits.h"
#include "buf.h"
#include "http_method.h"
#include "query.h"
#include "router.h"

struct json_object;

struct req {
	/* Input, borrowed from the worker loop. */
	enum http_method	 method;
	const char		*method_str;
	const char		*uri;		/* REQUEST_URI, raw */
	const char		*content_type;	/* may be NULL */
	const char		*authorization;	/* may be NULL */
	const char		*traceparent;	/* may be NULL */
	/* Conditional requests and retries (etag.h, idempotency.h). */
	const char		*if_match;	  /* may be NULL */
	const char		*if_none_match;	  /* may be NULL */
	const char		*idempotency_key; /* may be NULL */
	char			 request_id[LIM_REQUEST_ID_MAX + 1];
	int64_t			 start_us;	/* monotonic */

	/* The body, NUL-terminated; the buffer is kept across requests. */
	struct buf		 body;
	bool			 body_too_large;

	/* Filled by app.c. */
	struct route_match	 match;
	struct query		 query;
	struct json_object	*json;		/* parsed body, owned */
	char			 user_id[LIM_UUID_LEN + 1]; /* "" if none */
	char			 trace_id[33];	/* req_set_trace() */
	/* "00-<trace id>-<this request's span id>-<flags>" */
	char			 traceresponse[56];
};

/* Maps a method name to the enum (METHOD_OTHER for anything unknown). */
enum http_method req_method_parse(const char *);

/*
 * Sets req->request_id from the id the front end passed (nginx's
 * validated X-Request-Id) when it is 1..64 of [A-Za-z0-9._-], else to
 * 32 random hex digits.
 */
void	req_set_request_id(struct req *, const char *given);

/*
 * W3C Trace Context.  Continues the trace of a well-formed traceparent
 * header ("00-<32 hex>-<16 hex>-<2 hex>", ids not all zero); without
 * one, starts a trace whose id is the request id (nginx's $request_id is
 * 32 random hex digits) or a random one.  Either way sets trace_id and
 * traceresponse, with a new span id for this request.  Call it after
 * req_set_request_id().
 */
void	req_set_trace(struct req *, const char *tp);

/* Releases what the request owns and clears it for the next one. */
void	req_reset(struct req *);

/* Frees the kept buffers too, when the worker exits. */
void	req_free(struct req *);

#endif /* TASKAPI_REQUEST_H */
