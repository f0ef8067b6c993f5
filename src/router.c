/*
 * router.c: the (method, pattern) columns of endpoints.def; matching is
 * a linear scan over sixteen rows, cheaper than any clever structure at
 * this size.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "http_method.h"
#include "router.h"
#include "util.h"

/* The router's columns of endpoints.def. */
struct route_row {
	enum http_method method;
	const char	*pattern;
};

static const struct route_row route_rows[EP__MAX] = {
#define EP(name, method, pattern, flags, plan, render, stream) \
	[EP_##name] = { METHOD_##method, pattern },
#include "endpoints.def"
#undef EP
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
	for (unsigned i = 0; i < EP__MAX; i++) {
		const struct route_row *row = &route_rows[i];

		/*
		 * The rows of one pattern are adjacent (endpoints.def; the
		 * unit test checks it): past them, nothing can match.
		 */
		if (found &&
		    strcmp(row->pattern, route_rows[m->route].pattern) != 0)
			break;
		id[0] = '\0';
		if (!pattern_match(row->pattern, path, len, id, sizeof(id)))
			continue;
		/*
		 * The first matching row fixes the route ("export" wins over
		 * {id}); it is the first row of its pattern, since an earlier
		 * row with the same pattern would have matched.
		 */
		if (!found) {
			m->route = (enum endpoint_id)i;
			memcpy(m->id, id, sizeof(m->id) - 1);
			m->id[sizeof(m->id) - 1] = '\0';
			id_long = strlen(id) > LIM_UUID_LEN;
			found = true;
		}
		m->allow |= 1u << row->method;
		if ((int)row->method == method)
			m->endpoint = (enum endpoint_id)i;
	}
	if (!found)
		return ROUTER_NOTFOUND;
	if ((m->allow & (1u << method)) == 0 || method >= METHOD_OTHER)
		return ROUTER_BADMETHOD;
	if (strchr(route_rows[m->route].pattern, '{') != NULL &&
	    (id_long || !util_uuid_valid(m->id)))
		return ROUTER_BADID;
	return ROUTER_OK;
}

const char *
router_pattern(enum endpoint_id e)
{
	return e < EP__MAX ? route_rows[e].pattern : "-";
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
