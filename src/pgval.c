/*
 * pgval.c: result columns in text or binary format (see pgval.h).
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "pgval.h"
#include "util.h"

static uint64_t
be_uint(const unsigned char *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static bool
binary(const PGresult *r, int col)
{
	return PQfformat(r, col) == 1;
}

/* The cell exists and is not NULL. */
static bool
present(const PGresult *r, int row, int col)
{
	return col < PQnfields(r) && row < PQntuples(r) &&
	    !PQgetisnull(r, row, col);
}

/* A binary timestamptz column's microseconds since 2000-01-01 UTC. */
static bool
time_us(const PGresult *r, int row, int col, int64_t *out)
{
	if (!present(r, row, col) || !binary(r, col) ||
	    PQftype(r, col) != PGVAL_TIMESTAMPTZ_OID ||
	    PQgetlength(r, row, col) != 8)
		return false;
	*out =
	    (int64_t)be_uint((const unsigned char *)PQgetvalue(r, row, col), 8);
	return true;
}

bool
pgval_int(const PGresult *r, int row, int col, long long *out)
{
	const unsigned char *p;
	int		     len;

	if (!present(r, row, col))
		return false;
	if (!binary(r, col))
		return util_parse_int(PQgetvalue(r, row, col), LLONG_MIN,
		    LLONG_MAX, out);
	p = (const unsigned char *)PQgetvalue(r, row, col);
	len = PQgetlength(r, row, col);
	switch (PQftype(r, col)) {
	case PGVAL_INT2_OID:
		if (len != 2)
			return false;
		*out = (int16_t)(uint16_t)be_uint(p, 2);
		return true;
	case PGVAL_INT4_OID:
		if (len != 4)
			return false;
		*out = (int32_t)(uint32_t)be_uint(p, 4);
		return true;
	case PGVAL_INT8_OID:
		if (len != 8)
			return false;
		*out = (long long)(int64_t)be_uint(p, 8);
		return true;
	default:
		return false;
	}
}

void
pgval_uuid_format(const unsigned char b[16], char out[PGVAL_UUID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	char		 *o = out;

	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*o++ = '-';
		*o++ = hex[b[i] >> 4];
		*o++ = hex[b[i] & 15];
	}
	*o = '\0';
}

int64_t
pgval_int64_be(const unsigned char b[8])
{
	return (int64_t)be_uint(b, 8);
}

bool
pgval_uuid(const PGresult *r, int row, int col, char out[PGVAL_UUID_LEN + 1])
{
	const unsigned char *p;

	if (!present(r, row, col))
		return false;
	p = (const unsigned char *)PQgetvalue(r, row, col);
	if (!binary(r, col)) {
		if (PQgetlength(r, row, col) != PGVAL_UUID_LEN)
			return false;
		memcpy(out, p, PGVAL_UUID_LEN + 1);
		return true;
	}
	if (PQftype(r, col) != PGVAL_UUID_OID || PQgetlength(r, row, col) != 16)
		return false;
	pgval_uuid_format(p, out);
	return true;
}

/* From 2000-01-01 (PostgreSQL's epoch) to 1970-01-01 (util's). */
#define PG_EPOCH_US 946684800000000LL
/* Far beyond year 9999 either way, and far from overflowing. */
#define PG_TIME_BOUND (1LL << 62)

bool
pgval_time_rfc3339(int64_t t, char out[LIM_TIMESTAMP_LEN + 1])
{
	if (t <= -PG_TIME_BOUND || t >= PG_TIME_BOUND) /* the infinities too */
		return false;
	return util_rfc3339_format(t + PG_EPOCH_US, out, LIM_TIMESTAMP_LEN + 1);
}

size_t
pgval_text(const PGresult *r, int row, int col, char *out, size_t size)
{
	const char *v;
	size_t	    n;

	if (size == 0 || !present(r, row, col))
		return 0;
	v = PQgetvalue(r, row, col);
	n = (size_t)PQgetlength(r, row, col);
	if (binary(r, col)) {
		long long i;
		int64_t	  t;
		char	  iso[LIM_TIMESTAMP_LEN + 1];
		int	  w;

		switch (PQftype(r, col)) {
		case PGVAL_UUID_OID:
			if (size <= PGVAL_UUID_LEN ||
			    !pgval_uuid(r, row, col, out))
				return 0;
			return PGVAL_UUID_LEN;
		case PGVAL_INT2_OID:
		case PGVAL_INT4_OID:
		case PGVAL_INT8_OID:
			if (!pgval_int(r, row, col, &i))
				return 0;
			w = snprintf(out, size, "%lld", i);
			return w > 0 && (size_t)w < size ? (size_t)w : 0;
		case PGVAL_TIMESTAMPTZ_OID:
			if (!time_us(r, row, col, &t))
				return 0;
			if (t == INT64_MAX || t == INT64_MIN) {
				w = snprintf(out, size, "%s",
				    t < 0 ? "-infinity" : "infinity");
				return w > 0 && (size_t)w < size ? (size_t)w :
								   0;
			}
			/* "2026-11-21 09:30:00.123400+00", as TimeZone UTC
			 * writes it, from the RFC 3339 form. */
			if (size < sizeof(iso) + 2 ||
			    !pgval_time_rfc3339(t, iso))
				return 0;
			memcpy(out, iso, LIM_TIMESTAMP_LEN - 1);
			out[10] = ' ';
			memcpy(out + LIM_TIMESTAMP_LEN - 1, "+00", 4);
			return LIM_TIMESTAMP_LEN + 2;
		default:
			break; /* text, varchar, enums: their characters */
		}
	}
	if (n >= size)
		return 0;
	memcpy(out, v, n);
	out[n] = '\0';
	return n;
}
