/*
 * router.c: a fixed table of routes; matching is a linear scan over
 * eleven patterns split into segments, cheaper than any clever structure
 * at this size.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "request.h"
#include "router.h"
#include "util.h"

struct route_row {
	enum http_method	 method;
	enum route_id		 route;
	enum handler_id		 handler;
};

static const char *const route_patterns[ROUTE__MAX] = {
	[ROUTE_HEALTH] = "/health",
	[ROUTE_REGISTER] = "/api/v1/auth/register",
	[ROUTE_LOGIN] = "/api/v1/auth/login",
	[ROUTE_ME] = "/api/v1/me",
	[ROUTE_USERS] = "/api/v1/users",
	[ROUTE_USER] = "/api/v1/users/{id}",
	[ROUTE_TASKS] = "/api/v1/tasks",
	[ROUTE_TASK] = "/api/v1/tasks/{id}",
	[ROUTE_EXPORT] = "/api/v1/tasks/export",
	[ROUTE_METRICS] = "/metrics",
	[ROUTE_STATUS] = "/status",
};

static const char *const handler_names[H__MAX] = {
	[H_HEALTH] = "health",
	[H_REGISTER] = "register",
	[H_LOGIN] = "login",
	[H_ME] = "me",
	[H_USERS_LIST] = "users_list",
	[H_USER_GET] = "user_get",
	[H_USER_PATCH] = "user_patch",
	[H_USER_DELETE] = "user_delete",
	[H_TASKS_LIST] = "tasks_list",
	[H_TASK_CREATE] = "task_create",
	[H_TASK_GET] = "task_get",
	[H_TASK_PATCH] = "task_patch",
	[H_TASK_DELETE] = "task_delete",
	[H_TASKS_EXPORT] = "tasks_export",
	[H_METRICS] = "metrics",
	[H_STATUS] = "status",
};

static const struct route_row route_rows[] = {
	{ METHOD_GET, ROUTE_HEALTH, H_HEALTH },
	{ METHOD_POST, ROUTE_REGISTER, H_REGISTER },
	{ METHOD_POST, ROUTE_LOGIN, H_LOGIN },
	{ METHOD_GET, ROUTE_ME, H_ME },
	{ METHOD_GET, ROUTE_USERS, H_USERS_LIST },
	{ METHOD_GET, ROUTE_USER, H_USER_GET },
	{ METHOD_PATCH, ROUTE_USER, H_USER_PATCH },
	{ METHOD_DELETE, ROUTE_USER, H_USER_DELETE },
	{ METHOD_GET, ROUTE_TASKS, H_TASKS_LIST },
	{ METHOD_POST, ROUTE_TASKS, H_TASK_CREATE },
	/* The fixed segment "export" is tried before {id}. */
	{ METHOD_GET, ROUTE_EXPORT, H_TASKS_EXPORT },
	{ METHOD_GET, ROUTE_TASK, H_TASK_GET },
	{ METHOD_PATCH, ROUTE_TASK, H_TASK_PATCH },
	{ METHOD_DELETE, ROUTE_TASK, H_TASK_DELETE },
	/* Operators' pages; nginx lets only its allow list reach them. */
	{ METHOD_GET, ROUTE_METRICS, H_METRICS },
	{ METHOD_GET, ROUTE_STATUS, H_STATUS },
};

/*
 * Matches path against one pattern.  "{id}" takes one whole non-empty
 * segment (copied to id, at most LIM_UUID_LEN + 1 bytes kept so that
 * the caller can tell a UUID from a longer string).
 */
static bool
pattern_match(const char *pat, const char *path, size_t len, char *id,
    size_t idsz)
{
	size_t	 i = 0;

	while (*pat != '\0') {
		/* (The '{' test first: this runs per pattern byte.) */
		if (*pat == '{' && strncmp(pat, "{id}", 4) == 0) {
			size_t	 start = i, n;

			while (i < len && path[i] != '/')
				i++;
			n = i - start;
			if (n == 0)
				return false;
			if (n >= idsz)
				n = idsz - 1;
			memcpy(id, path + start, n);
			id[n] = '\0';
			pat += 4;
			continue;
		}
		if (i >= len || path[i] != *pat)
			return false;
		i++;
		pat++;
	}
	return i == len;
}

enum router_result
router_match(int method, const char *path, size_t len, struct route_match *m)
{
	char		 id[LIM_UUID_LEN + 2];
	bool		 found = false, id_long = false;

	memset(m, 0, sizeof(*m));
	for (size_t i = 0; i < sizeof(route_rows) / sizeof(route_rows[0]);
	    i++) {
		const struct route_row *row = &route_rows[i];

		if (found && row->route != m->route)
			continue;
		id[0] = '\0';
		if (!pattern_match(route_patterns[row->route], path, len, id,
		    sizeof(id)))
			continue;
		/* The first matching row fixes the route ("export" wins over {id}). */
		if (!found) {
			m->route = row->route;
			memcpy(m->id, id, sizeof(m->id) - 1);
			m->id[sizeof(m->id) - 1] = '\0';
			id_long = strlen(id) > LIM_UUID_LEN;
			found = true;
		}
		m->allow |= 1u << row->method;
		if ((int)row->method == method)
			m->handler = row->handler;
	}
	if (!found)
		return ROUTER_NOTFOUND;
	if ((m->allow & (1u << method)) == 0 || method >= METHOD_OTHER)
		return ROUTER_BADMETHOD;
	if (strchr(route_patterns[m->route], '{') != NULL &&
	    (id_long || !util_uuid_valid(m->id)))
		return ROUTER_BADID;
	return ROUTER_OK;
}

const char *
router_pattern(enum route_id r)
{
	return r < ROUTE__MAX ? route_patterns[r] : "-";
}

const char *
router_handler_name(enum handler_id h)
{
	return h < H__MAX ? handler_names[h] : "-";
}

void
router_allow_header(unsigned allow, char *buf, size_t sz)
{
	static const char *const names[] = { "GET", "POST", "PATCH", "DELETE",
	    "PUT", "HEAD", "OPTIONS" };
	size_t	 off = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if ((allow & (1u << i)) == 0)
			continue;
		int n = snprintf(buf + off, sz - off, "%s%s",
		    off > 0 ? ", " : "", names[i]);
		if (n < 0 || (size_t)n >= sz - off)
			return;
		off += (size_t)n;
	}
}
