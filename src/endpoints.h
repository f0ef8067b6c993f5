/*
 * endpoints.h: the handler table, one row per endpoint of endpoints.def
 * (indexed by enum endpoint_id, router.h): what the pipeline (app.c)
 * checks before the plan, and the handler's plan, render and stream.
 */
#ifndef TASKAPI_ENDPOINTS_H
#define TASKAPI_ENDPOINTS_H

#include "handlers.h"
#include "router.h"

#define HF_AUTH	      0x01 /* needs a valid bearer token */
#define HF_BODY	      0x02 /* needs a JSON object body */
#define HF_CPU	      0x04 /* hashes a password: slow, CPU-bound */
#define HF_OWN_ERRORS 0x08 /* render sees database errors too */
#define HF_USER_FIRST 0x10 /* the caller must exist before the plan */

struct endpoint {
	unsigned  flags;
	plan_fn	  plan;
	render_fn render; /* NULL: the plan answers, or stream */
	stream_fn stream; /* NULL unless the endpoint streams */
};

extern const struct endpoint endpoints[EP__MAX];

#endif /* TASKAPI_ENDPOINTS_H */
