/*
 * router.h: matching a request to its endpoint (endpoints.def): one row
 * per (method, path pattern); 404 and 405 (with the Allow list) come out
 * of the same rows, so they cannot disagree with them.
 */
#ifndef TASKAPI_ROUTER_H
#define TASKAPI_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#include "api_limits.h"

/* One per row of endpoints.def, in its order. */
enum endpoint_id {
#define EP(name, method, pattern, flags, plan, render, stream) EP_##name,
#include "endpoints.def"
#undef EP
	EP__MAX
};

/*
 * A route is a path pattern, the label of the access log and the
 * metrics.  Endpoints with the same pattern share a route, named by the
 * first of them in endpoints.def; ROUTE__MAX is no route (a 404).
 */
#define ROUTE__MAX EP__MAX

enum router_result {
	ROUTER_OK = 0,
	ROUTER_NOTFOUND,	/* no pattern matches the path */
	ROUTER_BADMETHOD,	/* a pattern matches, not with this method */
	ROUTER_BADID		/* the {id} segment is not a canonical UUID */
};

struct route_match {
	enum endpoint_id route;		/* the pattern's first endpoint */
	enum endpoint_id endpoint;	/* the method's, for ROUTER_OK */
	unsigned	 allow;		/* bit per enum http_method */
	char		 id[LIM_UUID_LEN + 1];	/* "" when no {id} */
};

/*
 * Matches path (len bytes, no query string) and method (enum
 * http_method) against the table.  A path never matches when it has a
 * trailing slash, an empty segment or a percent escape in a fixed
 * segment.  The Allow mask is filled for ROUTER_BADMETHOD; route is set
 * for every result but ROUTER_NOTFOUND.
 */
enum router_result router_match(int method, const char *path, size_t len,
	    struct route_match *m);

/*
 * The pattern of an endpoint (or route), e.g. "/api/v1/tasks/{id}", for
 * logs and metrics; "-" for ROUTE__MAX.
 */
const char *router_pattern(enum endpoint_id);

/* Writes "GET, POST" for an allow mask into buf. */
void	router_allow_header(unsigned allow, char *buf, size_t sz);

#endif /* TASKAPI_ROUTER_H */
