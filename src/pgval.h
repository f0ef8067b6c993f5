/*
 * pgval.h: a result column's value in either of libpq's formats.
 *
 * The hot read statements (a task, a batch of tasks, a page of tasks)
 * ask PostgreSQL for binary results (db_stmt_binary): its text output
 * of uuid and timestamptz was a fifth of its CPU on a page of 20 tasks
 * (bench/HISTORY.md), and the binary forms are a copy of 16 or 8 bytes.
 * Everything that reads those results reads through here, so a column
 * is read the same whichever format its statement asked for.
 *
 * Binary forms (PostgreSQL's *_send functions): int2/int4/int8 are
 * big-endian integers; uuid is its 16 bytes; timestamptz is a big-endian
 * int64 of microseconds since 2000-01-01 00:00:00 UTC, INT64_MIN and
 * INT64_MAX meaning -infinity and infinity; text, varchar and enums are
 * their characters, as in text format.
 */
#ifndef TASKAPI_PGVAL_H
#define TASKAPI_PGVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "api_limits.h"

/* Type oids (PostgreSQL's pg_type.dat; fixed for good). */
#define PGVAL_INT8_OID	      20
#define PGVAL_INT2_OID	      21
#define PGVAL_INT4_OID	      23
#define PGVAL_UUID_OID	      2950
#define PGVAL_TIMESTAMPTZ_OID 1184

#define PGVAL_UUID_LEN 36

/* An integer column (text, or binary int2/int4/int8).  False when NULL
 * or not an integer. */
bool
pgval_int(const PGresult *r, int row, int col, long long *out);

/* A uuid column as its 36 characters and a NUL.  False when NULL or
 * not a uuid. */
bool
pgval_uuid(const PGresult *r, int row, int col, char out[PGVAL_UUID_LEN + 1]);

/* A binary uuid's 16 bytes as its 36 characters and a NUL. */
void
pgval_uuid_format(const unsigned char b[16], char out[PGVAL_UUID_LEN + 1]);

/* A big-endian 8-byte integer (a binary int8 or timestamptz). */
int64_t
pgval_int64_be(const unsigned char b[8]);

/*
 * The column as PostgreSQL's text output would have it, for sending
 * back as a parameter (a cursor's sort key): binary timestamptz as
 * "2026-11-21 09:30:00.123400+00" (TimeZone UTC), "infinity" or
 * "-infinity".  Returns the length, or 0 when NULL, unknown or longer
 * than size - 1.
 */
size_t
pgval_text(const PGresult *r, int row, int col, char *out, size_t size);

/*
 * A binary timestamptz's microseconds since 2000 as the API's RFC 3339
 * string ("2026-11-21T09:30:00.123400Z", util_rfc3339_format's form).
 * False for the infinities and for years outside 0001..9999, which the
 * API never takes in.
 */
bool
pgval_time_rfc3339(int64_t t, char out[LIM_TIMESTAMP_LEN + 1]);

#endif
