/*
 * json_out.h: JSON written straight from a row's text values.
 *
 * The rows this API returns are flat objects of strings, nulls and
 * timestamps, so they are written into one growing buffer with their
 * keys as literals: no tree of json-c objects per field (that was the
 * event worker's main cost on the list route; bench/RESULTS.md).  json-c
 * still parses request bodies and builds the few irregular answers.
 */
#ifndef TASKAPI_JSON_OUT_H
#define TASKAPI_JSON_OUT_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

struct resp;

/*
 * The writer appends to the shared buffer (buf.h); its failed flag also
 * marks a value of the wrong shape.
 */

/* Starts empty, reusing the response's body buffer (r keeps none). */
void
jb_begin(struct buf *, struct resp *r);

/* Appends n raw bytes (JSON punctuation and quoted keys). */
void
jb_raw(struct buf *, const char *s, size_t n);
#define jb_lit(jb, s) jb_raw((jb), (s), sizeof(s) - 1)

/* Appends s (n bytes of UTF-8) as a JSON string, escaped as json-c does. */
void
jb_str(struct buf *, const char *s, size_t n);

/*
 * Appends a PostgreSQL timestamptz in its ISO output for TimeZone UTC
 * ("2026-11-21 09:30:00.1234+00") as the API's RFC 3339 string
 * ("2026-11-21T09:30:00.123400Z").  Any other shape marks jb failed.
 */
void
jb_pgtime(struct buf *, const char *s, size_t n);

/*
 * Hands the buffer to r as its JSON body with that status; on failure
 * r becomes a 500.  jb is empty afterwards.
 */
void
jb_end(struct buf *, struct resp *r, int status);

/* Frees what jb holds (after jb_begin without jb_end). */
void
jb_free(struct buf *);

#endif /* TASKAPI_JSON_OUT_H */
