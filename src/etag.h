/*
 * etag.h: strong entity tags from a row's version column, and the
 * conditional request headers of RFC 9110 section 13.1 (If-Match,
 * If-None-Match) on the task and user routes.
 *
 * A tag is the row's version in quotes ("7").  Tags this service did not
 * issue are well-formed and simply never match.  If-Match compares
 * strongly (a weak tag never matches), If-None-Match weakly (W/"7"
 * matches "7").  A header that is not "*" or a list of entity tags is a
 * 400: the precondition cannot be evaluated, and neither running the
 * method nor 412 would tell the client what it got wrong.
 */
#ifndef TASKAPI_ETAG_H
#define TASKAPI_ETAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "db.h"
#include "request.h"
#include "response.h"
#include "terr.h"

/* Versions of our own format one header may list; more is a 400. */
#define ETAG_LIST_MAX 32

/* One parsed If-Match or If-None-Match header. */
struct etag_list {
	bool	present; /* the header was sent */
	bool	star;	 /* "*" */
	int	n;	 /* versions below */
	int64_t version[ETAG_LIST_MAX];
	bool	weak[ETAG_LIST_MAX];
};

/*
 * Parses a header value (NULL: absent) per RFC 9110: "*" or a
 * comma-separated list of [W/]"opaque" tags, empty list elements
 * allowed.  Only tags of this service's form ("digits") are kept.
 * Returns TERR_OK or TERR_INVALID with a message in err.
 */
enum terr
etag_parse(const char *value, const char *name, struct etag_list *out,
    char *err, size_t errsz);

/* If-Match: strong comparison ("*" matches any current version). */
bool
etag_match_strong(const struct etag_list *, int64_t version);
/* If-None-Match: weak comparison ("*" matches any current version). */
bool
etag_match_weak(const struct etag_list *, int64_t version);

/* Writes "\"<version>\"" into resp->etag. */
void
etag_set(struct resp *, int64_t version);

/*
 * For PATCH and DELETE: parses both headers and adds the statement's
 * two precondition parameters, each a bigint[] literal or NULL:
 *   the versions If-Match allows (NULL: no If-Match, or "*");
 *   the versions If-None-Match forbids (NULL: no If-None-Match).
 * "If-None-Match: *" on an existing row is always false, which the
 * first parameter says as an empty list.  With require set (the
 * TASKAPI_REQUIRE_IF_MATCH setting) a request without If-Match is
 * TERR_PRECONDITION_REQUIRED.  The statement tests
 *   ($a IS NULL OR version = ANY($a)) AND ($b IS NULL OR version <> ALL($b))
 * against the row it is about to change, under its row lock.
 */
enum terr
etag_plan_write(const struct req *, bool require, struct plan *, char *err,
    size_t errsz);

/* For GET: only checks that both headers parse (400 otherwise). */
enum terr
etag_plan_read(const struct req *, char *err, size_t errsz);

/*
 * After a GET rendered its 200 from a row whose version is in column
 * col: sets the ETag, then evaluates the headers in RFC 9110 section
 * 13.2.2's order: If-Match false is 412, If-None-Match true is 304
 * (no body).  Does nothing to a response that is not a 200.
 */
void
etag_finish_read(const struct req *, const PGresult *, int col, struct resp *);

/*
 * After a PATCH or DELETE whose statement returns the row's version in
 * column vcol and whether the preconditions held in column okcol (see
 * db.c): a row whose preconditions failed becomes a 412 with the
 * current ETag and what's message; otherwise the ETag is set on a 200.
 * Returns true when it answered (412).
 */
bool
etag_finish_write(const PGresult *, int vcol, int okcol, const char *what,
    struct resp *);

/* The row's version in column col, or 0 when NULL or malformed. */
int64_t
etag_version(const PGresult *, int row, int col);

#endif /* TASKAPI_ETAG_H */
