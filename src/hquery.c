/*
 * hquery.c: the query-string parameters the handlers share: paging and
 * enumerated filters, each with its own 400 message.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "api_limits.h"
#include "hquery.h"
#include "util.h"

static enum terr
hq_int(const struct req *r, const char *key, long long def, long long min,
    long long max, long long *out, char *err, size_t errsz)
{
	const char *v;
	int	    n;

	*out = def;
	v = query_get(&r->query, key, &n);
	if (n == 0)
		return TERR_OK;
	if (n > 1) {
		snprintf(err, errsz, "%s must be given at most once", key);
		return TERR_INVALID;
	}
	if (!util_parse_int(v, min, max, out)) {
		snprintf(err, errsz, "%s must be an integer from %lld to %lld",
		    key, min, max);
		return TERR_INVALID;
	}
	return TERR_OK;
}

enum terr
hq_paging(const struct req *r, long long *limit, long long *offset, char *err,
    size_t errsz)
{
	enum terr e;

	e = hq_int(r, "limit", LIM_PAGE_LIMIT_DEFAULT, LIM_PAGE_LIMIT_MIN,
	    LIM_PAGE_LIMIT_MAX, limit, err, errsz);
	if (e == TERR_OK)
		e = hq_int(r, "offset", 0, 0, LIM_PAGE_OFFSET_MAX, offset, err,
		    errsz);
	return e;
}

enum terr
hq_enum(const struct req *r, const char *key, const char *const *vals,
    const char **out, char *err, size_t errsz)
{
	const char *v;
	int	    n;

	*out = NULL;
	v = query_get(&r->query, key, &n);
	if (n == 0)
		return TERR_OK;
	if (n == 1)
		for (const char *const *e = vals; *e != NULL; e++)
			if (strcmp(*e, v) == 0) {
				*out = *e;
				return TERR_OK;
			}
	snprintf(err, errsz, "%s must be given once, as one of:", key);
	for (const char *const *e = vals; *e != NULL; e++) {
		size_t off = strlen(err);
		snprintf(err + off, errsz - off, "%s %s", e == vals ? "" : ",",
		    *e);
	}
	return TERR_INVALID;
}
