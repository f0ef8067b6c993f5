/*
 * query.c: application/x-www-form-urlencoded query strings (see query.h).
 *
 * Each non-empty pair "k=v" of n input bytes decodes to at most n + 1
 * bytes of buf (key NUL, value NUL, no '='; a pair without '=' takes
 * its value from the key's terminating NUL).  Pairs are separated by
 * '&', so the decoded total never exceeds strlen(qs) + 1, which is why
 * buf holds LIM_QUERY_MAX + 1 bytes.  The writer still checks bounds.
 */
#include "config.h"

#include <stddef.h>
#include <string.h>

#include "api_limits.h"
#include "query.h"
#include "util.h"

/*
 * Decodes src[0..len) into q->buf at *pos and NUL-terminates it.
 * Returns a pointer to the decoded text (inside q->buf), or NULL on a
 * bad escape, a decoded NUL, or (impossible by the sizing above) a full
 * buffer.
 */
static const char *
decode(struct query *q, size_t *pos, const char *src, size_t len)
{
	char	*start = q->buf + *pos;
	size_t	 i, o = *pos;
	int	 hi, lo;

	if (*pos >= sizeof(q->buf))
		return NULL;
	for (i = 0; i < len; i++) {
		if (o >= sizeof(q->buf) - 1)
			return NULL;
		if (src[i] == '+')
			q->buf[o++] = ' ';
		else if (src[i] == '%') {
			if (len - i < 3)
				return NULL;
			hi = util_hexval(src[i + 1]);
			lo = util_hexval(src[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return NULL;
			q->buf[o++] = (char)(unsigned char)(hi * 16 + lo);
			i += 2;
		} else
			q->buf[o++] = src[i];
	}
	q->buf[o++] = '\0';
	*pos = o;
	return start;
}

/*
 * Splits qs on '&' and each pair on its first '='.  On error every
 * parameter is dropped (q->n == 0) and -1 is returned; q->buf may hold
 * partial data then, but nothing points into it.
 */
int
query_parse(const char *qs, struct query *q)
{
	const char	*p, *amp, *eq, *key, *val;
	size_t		 len, plen, pos = 0;

	q->n = 0;
	q->buf[0] = '\0';
	if (qs == NULL || qs[0] == '\0')
		return 0;
	len = strnlen(qs, LIM_QUERY_MAX + 1);
	if (len > LIM_QUERY_MAX)
		return -1;

	for (p = qs; p < qs + len; p = amp + 1) {
		amp = memchr(p, '&', (size_t)(qs + len - p));
		if (amp == NULL)
			amp = qs + len;
		plen = (size_t)(amp - p);
		if (plen == 0)
			continue;		/* "a=1&&b=2", "&a", "a&" */
		if (q->n == LIM_QUERY_PARAMS)
			goto fail;

		eq = memchr(p, '=', plen);
		key = decode(q, &pos, p, eq == NULL ? plen : (size_t)(eq - p));
		if (key == NULL)
			goto fail;
		if (eq == NULL)
			val = key + strlen(key);	/* "" */
		else {
			val = decode(q, &pos, eq + 1,
			    plen - (size_t)(eq - p) - 1);
			if (val == NULL)
				goto fail;
		}
		q->params[q->n].key = key;
		q->params[q->n].val = val;
		q->n++;
	}
	return 0;
fail:
	q->n = 0;
	return -1;
}

/*
 * Linear search: n is at most LIM_QUERY_PARAMS.  Returns the first
 * value (borrowed from q) and the number of occurrences in *count.
 */
const char *
query_get(const struct query *q, const char *key, int *count)
{
	const char	*found = NULL;
	size_t		 i;
	int		 c = 0;

	for (i = 0; i < q->n; i++) {
		if (strcmp(q->params[i].key, key) != 0)
			continue;
		if (found == NULL)
			found = q->params[i].val;
		c++;
	}
	if (count != NULL)
		*count = c;
	return found;
}
