/*
 * fcgi_params.h: FastCGI parameters (CGI/1.1 meta-variables, RFC 3875)
 * to a struct req: one rule for both kinds of worker.
 *
 *   - the path is REQUEST_URI (nginx, lighttpd and h2o send it); when a
 *     front end sends none, SCRIPT_NAME + PATH_INFO, with "?" and
 *     QUERY_STRING when that is not empty (Apache mod_proxy_fcgi);
 *   - CONTENT_LENGTH is absent or empty (no body announced), or decimal
 *     digits only: anything else, a sign included, is a 400;
 *   - a length over the body limit marks the request too large (413).
 */
#ifndef TASKAPI_FCGI_PARAMS_H
#define TASKAPI_FCGI_PARAMS_H

#include <stddef.h>

#include "request.h"

/* Looks a parameter up: its value, or NULL when it was not sent. */
typedef const char *
fcgi_param_get_fn(void *ctx, const char *name);

/* What the request borrows that is not a parameter as sent. */
struct fcgi_req_extra {
	char	 *uri; /* SCRIPT_NAME + PATH_INFO ?QUERY_STRING */
	size_t	  uri_cap;
	long long content_length; /* -1: none announced */
};

/*
 * Fills r's input fields (start time, method, uri, content type,
 * authorization, trace context, request id) from the parameters.
 * Returns 0, or 400 with *why set to the client message (r is filled
 * enough to be logged and answered).  A built path lives in extra
 * until the next call or fcgi_req_extra_free.
 */
int
fcgi_params_to_req(fcgi_param_get_fn *get, void *ctx, struct req *r,
    struct fcgi_req_extra *extra, const char **why);

/*
 * Checks the body received against CONTENT_LENGTH: returns 0, or 400
 * with *why set when a length was announced and received differs
 * (received counts every byte, kept or not).
 */
int
fcgi_body_check(const struct fcgi_req_extra *, unsigned long long received,
    const char **why);

void
fcgi_req_extra_free(struct fcgi_req_extra *);

#endif /* TASKAPI_FCGI_PARAMS_H */
