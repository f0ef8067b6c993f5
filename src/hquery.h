/*
 * hquery.h: query-string parameters the handlers share (hquery.c).
 */
#ifndef TASKAPI_HQUERY_H
#define TASKAPI_HQUERY_H

#include <stddef.h>

#include "request.h"
#include "terr.h"

/*
 * limit (default 50, 1..100) and offset (default 0, >= 0) from the
 * query string; repeated or malformed values are errors (err says
 * which).
 */
enum terr
hq_paging(const struct req *, long long *limit, long long *offset, char *err,
    size_t errsz);

/*
 * An optional query parameter that must be one of vals (NULL-ended);
 * *out is NULL when absent.
 */
enum terr
hq_enum(const struct req *, const char *key, const char *const *vals,
    const char **out, char *err, size_t errsz);

#endif /* TASKAPI_HQUERY_H */
