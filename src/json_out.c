/*
 * json_out.c: JSON text appended to a buffer, for rows of text values.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json_out.h"
#include "response.h"
#include "terr.h"

void
jb_begin(struct buf *jb, struct resp *r)
{
	*jb = r->body;
	jb->len = 0;
	jb->failed = false;
	memset(&r->body, 0, sizeof(r->body));
}

void
jb_raw(struct buf *jb, const char *s, size_t n)
{
	(void)buf_append(jb, s, n);
}

void
jb_str(struct buf *jb, const char *s, size_t n)
{
	static const char    hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	size_t		     i, run;
	char		    *o;

	/* Worst case: every byte becomes \u00XX. */
	if (n > (SIZE_MAX - 2) / 6 || !buf_reserve(jb, n * 6 + 2))
		return;
	o = jb->p + jb->len;
	*o++ = '"';
	for (i = 0; i < n; i += run) {
		/* Copy the longest run that needs no escape in one go. */
		for (run = 0; i + run < n && u[i + run] >= 0x20 &&
		     u[i + run] != '"' && u[i + run] != '\\';
		     run++)
			;
		if (run > 0) {
			memcpy(o, s + i, run);
			o += run;
			continue;
		}
		run = 1;
		*o++ = '\\';
		switch (u[i]) {
		case '"':
			*o++ = '"';
			break;
		case '\\':
			*o++ = '\\';
			break;
		case '\b':
			*o++ = 'b';
			break;
		case '\f':
			*o++ = 'f';
			break;
		case '\n':
			*o++ = 'n';
			break;
		case '\r':
			*o++ = 'r';
			break;
		case '\t':
			*o++ = 't';
			break;
		default:
			*o++ = 'u';
			*o++ = '0';
			*o++ = '0';
			*o++ = hex[u[i] >> 4];
			*o++ = hex[u[i] & 0xf];
		}
	}
	*o++ = '"';
	jb->len = (size_t)(o - jb->p);
}

static bool
digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

void
jb_pgtime(struct buf *jb, const char *s, size_t n)
{
	/* "YYYY-MM-DD HH:MM:SS" [ "." 1-6 digits ] "+00" */
	size_t frac = 0;
	char  *o;

	if (n >= 23 && s[19] == '.')
		frac = n - 23;
	if (n != 22 + (frac > 0 ? frac + 1 : 0) || frac > 6 || !digits(s, 4) ||
	    s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' ||
	    !digits(s + 8, 2) || s[10] != ' ' || !digits(s + 11, 2) ||
	    s[13] != ':' || !digits(s + 14, 2) || s[16] != ':' ||
	    !digits(s + 17, 2) || (frac > 0 && !digits(s + 20, frac)) ||
	    memcmp(s + n - 3, "+00", 3) != 0) {
		jb->failed = true;
		return;
	}
	if (!buf_reserve(jb, 29))
		return;
	o = jb->p + jb->len;
	*o++ = '"';
	memcpy(o, s, 10);
	o[10] = 'T';
	memcpy(o + 11, s + 11, 8);
	o[19] = '.';
	memcpy(o + 20, s + 20, frac);
	memset(o + 20 + frac, '0', 6 - frac);
	o[26] = 'Z';
	o[27] = '"';
	jb->len += 29;
}

void
jb_end(struct buf *jb, struct resp *r, int status)
{
	if (jb->failed || !buf_reserve(jb, 0)) {
		jb_free(jb);
		resp_error(r, TERR_INTERNAL, NULL);
		return;
	}
	jb->p[jb->len] = '\0';
	buf_free(&r->body);
	r->body = *jb;
	r->status = status;
	r->content_type = "application/json; charset=utf-8";
	memset(jb, 0, sizeof(*jb));
}

void
jb_free(struct buf *jb)
{
	buf_free(jb);
}
