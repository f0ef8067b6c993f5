/*
 * buf.c: the growable byte buffer.
 */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

#define BUF_FIRST 1024 /* the first allocation */

static size_t
buf_max(const struct buf *b)
{
	return b->max == 0 ? SIZE_MAX / 2 : b->max;
}

bool
buf_reserve(struct buf *b, size_t n)
{
	size_t cap, max = buf_max(b);
	char  *p;

	if (b->failed)
		return false;
	if (n > max || b->len > max - n) {
		b->failed = true;
		return false;
	}
	if (b->len + n + 1 <= b->cap)
		return true;
	/* Doubling from BUF_FIRST, but never more than the cap allows. */
	cap = b->cap < BUF_FIRST ? BUF_FIRST : b->cap;
	while (cap < b->len + n + 1 && cap <= max)
		cap *= 2;
	if (cap > max + 1)
		cap = max + 1;
	if ((p = realloc(b->p, cap)) == NULL) {
		b->failed = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

bool
buf_append(struct buf *b, const void *s, size_t n)
{
	if (!buf_reserve(b, n))
		return false;
	if (n > 0)
		memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return true;
}

bool
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int	n;

	/* The room left, or a first guess; vsnprintf then says the size. */
	if (!buf_reserve(b, b->cap > b->len + 1 ? b->cap - b->len - 1 : 0))
		return false;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->p[b->len] = '\0';
		b->failed = true;
		return false;
	}
	if ((size_t)n >= b->cap - b->len) {
		/* Cut short: grow to the whole size and format again. */
		b->p[b->len] = '\0';
		if (!buf_reserve(b, (size_t)n))
			return false;
		va_start(ap, fmt);
		(void)vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
	return true;
}

void
buf_reset(struct buf *b, size_t keep)
{
	if (b->cap > keep) {
		free(b->p);
		b->p = NULL;
		b->cap = 0;
	}
	b->len = 0;
	b->failed = false;
	if (b->p != NULL)
		b->p[0] = '\0';
}

void
buf_free(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
	b->failed = false;
}
