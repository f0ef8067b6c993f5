/*
 * util.c: pure helpers with no I/O (see util.h).
 *
 * Nothing here allocates.  Date arithmetic uses days-from-civil on the
 * proleptic Gregorian calendar (Howard Hinnant's algorithms), never
 * timegm(3) or the TZ environment, so results do not depend on the host.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_limits.h"
#include "util.h"

#define US_PER_SEC	INT64_C(1000000)
#define SEC_PER_DAY	INT64_C(86400)

/* Days from 1970-01-01 to 0001-01-01 and to 10000-01-01. */
#define DAYS_0001	INT64_C(-719162)
#define DAYS_10000	INT64_C(2932897)

/* First and last representable instants: years 0001..9999, in UTC. */
#define US_MIN		(DAYS_0001 * SEC_PER_DAY * US_PER_SEC)
#define US_MAX		(DAYS_10000 * SEC_PER_DAY * US_PER_SEC - 1)

/*
 * For a non-ASCII lead byte c, returns how many continuation bytes
 * follow it and sets [*lo, *hi] to the range allowed for the first of
 * them (Unicode 15, table 3-7).  That range is what rules out overlong
 * forms, surrogates and code points above U+10FFFF.  Returns 0 for a
 * byte that cannot start a sequence (80..C1, F5..FF).
 */
static size_t
utf8_lead(unsigned char c, unsigned char *lo, unsigned char *hi)
{

	*lo = 0x80;
	*hi = 0xBF;
	if (c >= 0xC2 && c <= 0xDF)
		return 1;
	if (c == 0xE0)
		*lo = 0xA0;	/* below is overlong */
	else if (c == 0xED)
		*hi = 0x9F;	/* above is a surrogate */
	if (c >= 0xE0 && c <= 0xEF)
		return 2;
	if (c == 0xF0)
		*lo = 0x90;	/* below is overlong */
	else if (c == 0xF4)
		*hi = 0x8F;	/* above is > U+10FFFF */
	if (c >= 0xF0 && c <= 0xF4)
		return 3;
	return 0;
}

/*
 * Strict UTF-8: well-formed sequences only (see utf8_lead()), and no
 * NUL either, because C strings cannot carry it.
 */
bool
util_utf8_valid(const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0, need, k;
	unsigned char		 lo, hi;

	if (s == NULL)
		return len == 0;

	while (i < len) {
		if (p[i] == 0x00)
			return false;
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if ((need = utf8_lead(p[i], &lo, &hi)) == 0)
			return false;
		if (len - i - 1 < need)
			return false;	/* truncated */
		if (p[i + 1] < lo || p[i + 1] > hi)
			return false;
		for (k = 2; k <= need; k++)
			if (p[i + k] < 0x80 || p[i + k] > 0xBF)
				return false;
		i += need + 1;
	}
	return true;
}

/*
 * Counts the bytes that are not continuation bytes (10xxxxxx).  On a
 * string util_utf8_valid() accepted that is the number of code points.
 */
size_t
util_utf8_count(const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i, n = 0;

	if (s == NULL)
		return 0;
	for (i = 0; i < len; i++)
		if ((p[i] & 0xC0) != 0x80)
			n++;
	return n;
}

static bool
is_ascii_space(char c)
{

	return c == ' ' || c == '\t' || c == '\n' || c == '\v' ||
	    c == '\f' || c == '\r';
}

/*
 * Returns a pointer into s past the leading white space and sets *outlen
 * to the length without the trailing white space.  Borrowed from s.
 */
const char *
util_trim(const char *s, size_t len, size_t *outlen)
{

	if (s == NULL) {
		*outlen = 0;
		return s;
	}
	while (len > 0 && is_ascii_space(s[0])) {
		s++;
		len--;
	}
	while (len > 0 && is_ascii_space(s[len - 1]))
		len--;
	*outlen = len;
	return s;
}

static bool
is_lower_hex(char c)
{

	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/*
 * Checks s one byte at a time, so a short string stops at its NUL and
 * nothing past it is read.
 */
bool
util_uuid_valid(const char *s)
{
	size_t	i;

	if (s == NULL)
		return false;
	for (i = 0; i < LIM_UUID_LEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!is_lower_hex(s[i]))
			return false;
	}
	return s[LIM_UUID_LEN] == '\0';
}

static bool
is_digit(char c)
{

	return c >= '0' && c <= '9';
}

/*
 * strtoll(3) alone would skip leading white space and take a '+', so
 * the characters are checked first; strtoll then only converts and
 * reports overflow.
 */
bool
util_parse_int(const char *s, long long min, long long max, long long *out)
{
	const char	*p;
	char		*end;
	long long	 v;

	if (s == NULL)
		return false;
	p = (s[0] == '-') ? s + 1 : s;
	if (*p == '\0')
		return false;
	for (; *p != '\0'; p++)
		if (!is_digit(*p))
			return false;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0')
		return false;
	if (v < min || v > max)
		return false;
	*out = v;
	return true;
}

size_t
util_format_int(long long v, char out[UTIL_INT_LEN])
{
	char		   digits[UTIL_INT_LEN];
	size_t		   i = sizeof(digits), n;
	bool		   neg = v < 0;
	unsigned long long u =
	    neg ? 0ULL - (unsigned long long)v : (unsigned long long)v;

	do {
		digits[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u > 0);
	if (neg)
		digits[--i] = '-';
	n = sizeof(digits) - i;
	memcpy(out, digits + i, n);
	out[n] = '\0';
	return n;
}

/*
 * Days since 1970-01-01 of the proleptic Gregorian date y-m-d
 * (Hinnant's days_from_civil).  Valid for any y that fits the types.
 */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t	era, yoe, doy, doe, mp;

	if (m <= 2)
		y--;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;				/* [0, 399] */
	mp = (m > 2) ? m - 3 : m + 9;			/* March = 0 */
	doy = (153 * mp + 2) / 5 + d - 1;		/* [0, 365] */
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;	/* [0, 146096] */
	return era * 146097 + doe - 719468;
}

/* The inverse of days_from_civil (Hinnant's civil_from_days). */
static void
civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t	era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;				/* [0, 146096] */
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);	/* [0, 365] */
	mp = (5 * doy + 2) / 153;			/* [0, 11] */
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);	/* [1, 31] */
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);		/* [1, 12] */
	*y = era * 400 + yoe + (*m <= 2 ? 1 : 0);
}

static bool
is_leap(int y)
{

	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
days_in_month(int y, int m)
{
	static const int	 mdays[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};

	if (m == 2 && is_leap(y))
		return 29;
	return mdays[m - 1];
}

/*
 * Reads exactly n decimal digits at *pp into *out and advances *pp.
 * Returns false (leaving *pp alone) when any of them is not a digit;
 * a NUL is not a digit, so nothing past the end of the string is read.
 */
static bool
read_digits(const char **pp, size_t n, int *out)
{
	const char	*p = *pp;
	size_t		 i;
	int		 v = 0;

	for (i = 0; i < n; i++) {
		if (!is_digit(p[i]))
			return false;
		v = v * 10 + (p[i] - '0');
	}
	*out = v;
	*pp = p + n;
	return true;
}

/*
 * Reads an optional fraction ("." 1*9DIGIT) at *pp into *us,
 * truncated to microseconds (0 when there is none).  Returns false on
 * a '.' without digits or more than nine digits.
 */
static bool
read_fraction(const char **pp, int *us)
{
	const char	*p = *pp;
	int		 ndig = 0, v = 0;

	*us = 0;
	if (*p != '.')
		return true;
	for (p++; is_digit(*p); p++) {
		if (++ndig > 9)
			return false;
		if (ndig <= 6)
			v = v * 10 + (*p - '0');
	}
	if (ndig == 0)
		return false;
	for (; ndig < 6; ndig++)
		v *= 10;
	*us = v;
	*pp = p;
	return true;
}

/*
 * Reads "Z", "z" or ("+" / "-") HH ":" MM at *pp into *secs, the
 * offset east of UTC in seconds.  Returns false on anything else or on
 * hours above 23 or minutes above 59.
 */
static bool
read_offset(const char **pp, int *secs)
{
	const char	*p = *pp;
	int		 sign, oh, om;

	if (*p == 'Z' || *p == 'z') {
		*secs = 0;
		*pp = p + 1;
		return true;
	}
	if (*p != '+' && *p != '-')
		return false;
	sign = (*p == '+') ? 1 : -1;
	p++;
	if (!read_digits(&p, 2, &oh) || *p++ != ':' ||
	    !read_digits(&p, 2, &om))
		return false;
	if (oh > 23 || om > 59)
		return false;
	*secs = sign * (oh * 3600 + om * 60);
	*pp = p;
	return true;
}

/*
 * Grammar (RFC 3339 section 5.6, no extensions):
 *   date-time = full-date ("T" / "t") full-time
 *   full-date = 4DIGIT "-" 2DIGIT "-" 2DIGIT
 *   full-time = 2DIGIT ":" 2DIGIT ":" 2DIGIT ["." 1*9DIGIT] offset
 *   offset    = "Z" / "z" / ("+" / "-") 2DIGIT ":" 2DIGIT
 * Second 60 is accepted and, as timegm(3) does, lands on the next
 * second.  The resulting UTC instant must itself fall in years
 * 0001..9999, so everything this accepts can be formatted again.
 */
bool
util_rfc3339_parse(const char *s, int64_t *us)
{
	const char	*p = s;
	int		 y, mo, d, h, mi, sec, frac, off;
	int64_t		 t;

	if (s == NULL)
		return false;

	if (!read_digits(&p, 4, &y) || *p++ != '-' ||
	    !read_digits(&p, 2, &mo) || *p++ != '-' ||
	    !read_digits(&p, 2, &d))
		return false;
	if (*p != 'T' && *p != 't')
		return false;
	p++;
	if (!read_digits(&p, 2, &h) || *p++ != ':' ||
	    !read_digits(&p, 2, &mi) || *p++ != ':' ||
	    !read_digits(&p, 2, &sec))
		return false;
	if (!read_fraction(&p, &frac) || !read_offset(&p, &off) ||
	    *p != '\0')
		return false;

	if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
		return false;
	if (h > 23 || mi > 59 || sec > 60)
		return false;

	t = days_from_civil(y, mo, d) * SEC_PER_DAY + (int64_t)h * 3600 +
	    (int64_t)mi * 60 + sec - off;
	t = t * US_PER_SEC + frac;
	if (t < US_MIN || t > US_MAX)
		return false;
	*us = t;
	return true;
}

/*
 * Formats with floor division, so instants before 1970 come out right.
 * Returns false when out is too small or us is outside 0001..9999.
 */
/* The n low decimal digits of v (v >= 0), zero-padded. */
static void
put_digits(char *out, int64_t v, int n)
{
	while (n-- > 0) {
		out[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

bool
util_rfc3339_format(int64_t us, char *out, size_t outsz)
{
	int64_t	secs, frac, days, rem, y;
	int	m, d;

	if (out == NULL || outsz < LIM_TIMESTAMP_LEN + 1)
		return false;
	if (us < US_MIN || us > US_MAX)
		return false;

	secs = us / US_PER_SEC;
	frac = us % US_PER_SEC;
	if (frac < 0) {
		frac += US_PER_SEC;
		secs--;
	}
	days = secs / SEC_PER_DAY;
	rem = secs % SEC_PER_DAY;
	if (rem < 0) {
		rem += SEC_PER_DAY;
		days--;
	}
	civil_from_days(days, &y, &m, &d);

	/*
	 * "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", written digit by digit:
	 * every log line carries one, and snprintf was a visible share of
	 * the event worker's time.  US_MIN/US_MAX keep y in 1..9999.
	 */
	put_digits(out, y, 4);
	out[4] = '-';
	put_digits(out + 5, m, 2);
	out[7] = '-';
	put_digits(out + 8, d, 2);
	out[10] = 'T';
	put_digits(out + 11, rem / 3600, 2);
	out[13] = ':';
	put_digits(out + 14, rem / 60 % 60, 2);
	out[16] = ':';
	put_digits(out + 17, rem % 60, 2);
	out[19] = '.';
	put_digits(out + 20, frac, 6);
	out[26] = 'Z';
	out[27] = '\0';
	return true;
}

static int64_t
clock_us(clockid_t id)
{
	struct timespec	ts;

	if (clock_gettime(id, &ts) == -1)
		return 0;
	return (int64_t)ts.tv_sec * US_PER_SEC + (int64_t)ts.tv_nsec / 1000;
}

/* Wall-clock time; 0 only if clock_gettime(2) fails, which it cannot here. */
int64_t
util_now_us(void)
{

	return clock_us(CLOCK_REALTIME);
}

/* Monotonic time, for measuring durations only. */
int64_t
util_mono_us(void)
{

	return clock_us(CLOCK_MONOTONIC);
}

int
util_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}
