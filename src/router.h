/*
 * router.h: the route table.  One row per (method, path pattern), each
 * naming its handler; 404 and 405 (with the Allow list) come out of the
 * same table, so they cannot disagree with it.
 */
#ifndef TASKAPI_ROUTER_H
#define TASKAPI_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#include "api_limits.h"

enum route_id {
	ROUTE_HEALTH = 0,
	ROUTE_REGISTER,
	ROUTE_LOGIN,
	ROUTE_ME,
	ROUTE_USERS,
	ROUTE_USER,
	ROUTE_TASKS,
	ROUTE_TASK,
	ROUTE_EXPORT,
	ROUTE_METRICS,
	ROUTE_STATUS,
	ROUTE__MAX
};

enum handler_id {
	H_HEALTH = 0,
	H_REGISTER,
	H_LOGIN,
	H_ME,
	H_USERS_LIST,
	H_USER_GET,
	H_USER_PATCH,
	H_USER_DELETE,
	H_TASKS_LIST,
	H_TASK_CREATE,
	H_TASK_GET,
	H_TASK_PATCH,
	H_TASK_DELETE,
	H_TASKS_EXPORT,
	H_METRICS,
	H_STATUS,
	H__MAX
};

enum router_result {
	ROUTER_OK = 0,
	ROUTER_NOTFOUND,	/* no pattern matches the path */
	ROUTER_BADMETHOD,	/* a pattern matches, not with this method */
	ROUTER_BADID		/* the {id} segment is not a canonical UUID */
};

struct route_match {
	enum route_id	 route;
	enum handler_id	 handler;
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

/* The route's pattern, e.g. "/api/v1/tasks/{id}", for logs and metrics. */
const char *router_pattern(enum route_id);

/* The handler's name, e.g. "task_get". */
const char *router_handler_name(enum handler_id);

/* Writes "GET, POST" for an allow mask into buf. */
void	router_allow_header(unsigned allow, char *buf, size_t sz);

#endif /* TASKAPI_ROUTER_H */
