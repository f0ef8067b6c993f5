/*
 * util.h: pure helpers with no I/O: UTF-8, trimming, UUIDs, integers,
 * RFC 3339 timestamps.  Everything here is unit-tested in tests/unit.
 */
#ifndef TASKAPI_UTIL_H
#define TASKAPI_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Strict UTF-8 check of len bytes: rejects overlong forms, surrogates
 * (U+D800..U+DFFF), code points above U+10FFFF, truncated sequences and
 * embedded NUL bytes.  Returns true when s is valid.
 */
bool	util_utf8_valid(const char *s, size_t len);

/* Number of code points in the (already validated) UTF-8 string s. */
size_t	util_utf8_count(const char *s, size_t len);

/*
 * Trims ASCII white space (space, \t, \n, \v, \f, \r) from both ends.
 * Returns a pointer into s and sets *outlen; never allocates.
 */
const char *util_trim(const char *s, size_t len, size_t *outlen);

/* True when s is exactly a canonical lower-case UUID (8-4-4-4-12 hex). */
bool	util_uuid_valid(const char *s);

/* Value of one hexadecimal digit, or -1. */
int
util_hexval(char c);

/*
 * Parses the whole of s as a base-10 integer in [min, max]: no sign
 * other than a leading '-', no white space, no empty string, no
 * overflow.  Returns true and sets *out on success.
 */
bool	util_parse_int(const char *s, long long min, long long max,
	    long long *out);

/*
 * v in base 10 ("-" and digits), NUL-terminated, into out, which holds
 * UTIL_INT_LEN bytes; returns its length.  The hot paths' numbers
 * (Content-Length, ETags, log fields) without snprintf's format
 * parsing.
 */
#define UTIL_INT_LEN 21 /* "-9223372036854775808" and the NUL */
size_t
util_format_int(long long v, char out[UTIL_INT_LEN]);

/*
 * Strict RFC 3339 date-time ("1985-04-12T23:20:50.52Z",
 * "1996-12-19T16:39:57-08:00"; 't'/'z' accepted in lower case; 1 to 9
 * fraction digits, truncated to microseconds; years 0001..9999; real
 * calendar dates only).  On success sets *us to microseconds since the
 * Unix epoch, in UTC, and returns true.
 */
bool	util_rfc3339_parse(const char *s, int64_t *us);

/*
 * Writes us (microseconds since the epoch) as "YYYY-MM-DDTHH:MM:SS.ffffffZ"
 * into out, which holds at least LIM_TIMESTAMP_LEN + 1 bytes.  Returns
 * false when the instant is outside years 0001..9999.
 */
bool	util_rfc3339_format(int64_t us, char *out, size_t outsz);

/* Microseconds since the epoch from CLOCK_REALTIME. */
int64_t	util_now_us(void);

/* Microseconds from CLOCK_MONOTONIC, for durations. */
int64_t	util_mono_us(void);

#endif /* TASKAPI_UTIL_H */
