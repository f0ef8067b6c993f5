/*
 * query.h: application/x-www-form-urlencoded query strings.
 *
 * The whole string is decoded into one buffer owned by struct query.
 * Bad percent escapes, NUL bytes, more than LIM_QUERY_PARAMS pairs or
 * more than LIM_QUERY_MAX bytes are errors, not silently skipped.
 */
#ifndef TASKAPI_QUERY_H
#define TASKAPI_QUERY_H

#include <stddef.h>

#include "api_limits.h"

struct query_param {
	const char	*key;	/* decoded, NUL terminated, points into buf */
	const char	*val;	/* "" for "key" and "key=" */
};

struct query {
	struct query_param	 params[LIM_QUERY_PARAMS];
	size_t			 n;
	char			 buf[LIM_QUERY_MAX + 1];
};

/*
 * Parses qs (may be NULL or empty: no parameters).  '+' decodes to a
 * space.  Empty pairs ("a=1&&b=2") are skipped.  Returns 0, or -1 with
 * q->n == 0 on any of the errors above.
 */
int	query_parse(const char *qs, struct query *q);

/*
 * Looks up key.  Returns its value (borrowed from q) and sets *count to
 * the number of times key appears (0: returns NULL).  Callers treat
 * count > 1 as an error.
 */
const char *query_get(const struct query *q, const char *key, int *count);

#endif /* TASKAPI_QUERY_H */
