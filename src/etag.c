/*
 * etag.c: entity tags and the conditional request headers (etag.h).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "etag.h"
#include "pgval.h"
#include "util.h"

/* etagc = %x21 / %x23-7E / obs-text (RFC 9110 section 8.8.3). */
static bool
etagc(unsigned char c)
{
	return c == 0x21 || (c >= 0x23 && c != 0x7f);
}

static bool
ows(char c)
{
	return c == ' ' || c == '\t';
}

/* A tag of this service's form: 1..18 digits, no leading zero. */
static bool
own_tag(const char *s, size_t len, int64_t *v)
{
	int64_t n = 0;

	if (len == 0 || len > 18 || s[0] == '0')
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		n = n * 10 + (s[i] - '0');
	}
	*v = n;
	return true;
}

enum terr
etag_parse(const char *value, const char *name, struct etag_list *out,
    char *err, size_t errsz)
{
	const char *s = value;

	memset(out, 0, sizeof(*out));
	if (value == NULL)
		return TERR_OK;
	out->present = true;
	while (ows(*s))
		s++;
	if (*s == '*') {
		s++;
		while (ows(*s))
			s++;
		if (*s == '\0') {
			out->star = true;
			return TERR_OK;
		}
		goto bad;
	}
	/* #entity-tag: elements separated by commas, empty ones allowed. */
	for (;;) {
		bool	    weak = false;
		const char *tag;
		int64_t	    v;

		while (ows(*s) || *s == ',')
			s++;
		if (*s == '\0')
			break;
		if (s[0] == 'W' && s[1] == '/') {
			weak = true;
			s += 2;
		}
		if (*s != '"')
			goto bad;
		tag = ++s;
		while (etagc((unsigned char)*s))
			s++;
		if (*s != '"')
			goto bad;
		if (own_tag(tag, (size_t)(s - tag), &v)) {
			if (out->n == ETAG_LIST_MAX) {
				snprintf(err, errsz,
				    "%s lists more than %d entity tags", name,
				    ETAG_LIST_MAX);
				return TERR_INVALID;
			}
			out->version[out->n] = v;
			out->weak[out->n] = weak;
			out->n++;
		}
		s++;
		while (ows(*s))
			s++;
		if (*s != ',' && *s != '\0')
			goto bad;
	}
	return TERR_OK;
bad:
	snprintf(err, errsz,
	    "%s must be * or a comma-separated list of entity tags "
	    "such as \"3\" or W/\"3\"",
	    name);
	return TERR_INVALID;
}

bool
etag_match_strong(const struct etag_list *l, int64_t version)
{
	if (l->star)
		return true;
	for (int i = 0; i < l->n; i++)
		if (!l->weak[i] && l->version[i] == version)
			return true;
	return false;
}

bool
etag_match_weak(const struct etag_list *l, int64_t version)
{
	if (l->star)
		return true;
	for (int i = 0; i < l->n; i++)
		if (l->version[i] == version)
			return true;
	return false;
}

void
etag_set(struct resp *resp, int64_t version)
{
	size_t n;

	if (version <= 0)
		return;
	/* A quoted decimal: at most 21 bytes of the 24 (version > 0). */
	resp->etag[0] = '"';
	n = util_format_int(version, resp->etag + 1);
	memcpy(resp->etag + 1 + n, "\"", 2);
}

int64_t
etag_version(const PGresult *res, int row, int col)
{
	long long v;

	if (!pgval_int(res, row, col, &v) || v < 1)
		return 0;
	return (int64_t)v;
}

/* Adds {v1,v2,...} of the tags weak or not as allowed; returns TERR_*. */
static enum terr
param_versions(struct plan *p, const struct etag_list *l, bool strong)
{
	char   buf[ETAG_LIST_MAX * 20 + 3];
	size_t off = 0;

	buf[off++] = '{';
	for (int i = 0; i < l->n; i++) {
		if (strong && l->weak[i])
			continue;
		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%lld",
		    off > 1 ? "," : "", (long long)l->version[i]);
	}
	buf[off++] = '}';
	return plan_param_copy(p, buf, off);
}

enum terr
etag_plan_write(const struct req *r, bool require, struct plan *p, char *err,
    size_t errsz)
{
	struct etag_list im, inm;
	enum terr	 e;

	if ((e = etag_parse(r->if_match, "If-Match", &im, err, errsz)) !=
		TERR_OK ||
	    (e = etag_parse(r->if_none_match, "If-None-Match", &inm, err,
		 errsz)) != TERR_OK)
		return e;
	if (require && !im.present) {
		snprintf(err, errsz,
		    "this server requires If-Match on PATCH and DELETE: send "
		    "the ETag of the version you are changing");
		return TERR_PRECONDITION;
	}
	/* If-None-Match: * is false for a row that exists: allow none. */
	if (inm.star)
		e = plan_param_copy(p, "{}", 2);
	else if (!im.present || im.star)
		plan_param(p, NULL);
	else
		e = param_versions(p, &im, true);
	if (e != TERR_OK)
		return e;
	if (!inm.present || inm.star)
		plan_param(p, NULL);
	else
		e = param_versions(p, &inm, false);
	return e;
}

enum terr
etag_plan_read(const struct req *r, char *err, size_t errsz)
{
	struct etag_list l;
	enum terr	 e;

	if ((e = etag_parse(r->if_match, "If-Match", &l, err, errsz)) !=
	    TERR_OK)
		return e;
	return etag_parse(r->if_none_match, "If-None-Match", &l, err, errsz);
}

void
etag_finish_read(const struct req *r, const PGresult *res, int col,
    struct resp *resp)
{
	struct etag_list l;
	char		 err[8];
	int64_t		 v;

	if (resp->status != 200 || (v = etag_version(res, 0, col)) == 0)
		return;
	etag_set(resp, v);
	/* Both parsed in the plan already: errors cannot happen here. */
	if (r->if_match != NULL &&
	    etag_parse(r->if_match, "", &l, err, sizeof(err)) == TERR_OK &&
	    !etag_match_strong(&l, v)) {
		resp_error_status(resp, 412,
		    "the resource has changed: its current ETag is in the "
		    "ETag header");
		return;
	}
	if (r->if_none_match != NULL &&
	    etag_parse(r->if_none_match, "", &l, err, sizeof(err)) == TERR_OK &&
	    etag_match_weak(&l, v))
		resp_empty(resp, 304);
}

bool
etag_finish_write(const PGresult *res, int vcol, int okcol, const char *what,
    struct resp *resp)
{
	int64_t v;

	if (PQntuples(res) != 1 || PQnfields(res) <= okcol ||
	    PQgetisnull(res, 0, okcol) || (v = etag_version(res, 0, vcol)) == 0)
		return false;
	etag_set(resp, v);
	if (PQgetvalue(res, 0, okcol)[0] == 't')
		return false;
	resp_error_status(resp, 412, what);
	return true;
}
