/*
 * list_query.c: sort, filters, search, cursors and counts of the list
 * endpoints (see list_query.h; the SQL is in list_sql.h).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "hquery.h"
#include "json_out.h"
#include "list_query.h"
#include "pgval.h"
#include "query.h"
#include "util.h"

/* The sort parameter's values, in enum list_sort's order. */
static const char *const sort_names[LS__MAX] = {
	"-created_at",
	"created_at",
	"-updated_at",
	"updated_at",
	"-due_at",
	"due_at",
	"-priority",
	"priority",
};

/* Columns of a tasks row (TASK_COLS) and of a users row (USER_COLS). */
#define TASK_COL_PRIORITY 5
#define TASK_COL_DUE	  6
#define TASK_COL_CREATED  7
#define TASK_COL_UPDATED  8
#define TASK_COL_COUNT	  9 /* the new shapes only */
#define USER_COL_CREATED  3
#define USER_COL_COUNT	  5

/* The sort key's column of a task row; a NULL due_at is 'infinity'. */
static int
task_key_col(enum list_sort s)
{
	switch (s) {
	case LS_CREATED_DESC:
	case LS_CREATED_ASC:
		return TASK_COL_CREATED;
	case LS_UPDATED_DESC:
	case LS_UPDATED_ASC:
		return TASK_COL_UPDATED;
	case LS_DUE_DESC:
	case LS_DUE_ASC:
		return TASK_COL_DUE;
	case LS_PRIORITY_DESC:
	case LS_PRIORITY_ASC:
	case LS__MAX:
		break;
	}
	return TASK_COL_PRIORITY;
}

/* Fetches key at most once; NULL when absent. */
static enum terr
once(const struct req *r, const char *key, const char **out, char *err,
    size_t errsz)
{
	int n;

	*out = query_get(&r->query, key, &n);
	if (n > 1) {
		snprintf(err, errsz, "%s must be given at most once", key);
		return TERR_INVALID;
	}
	return TERR_OK;
}

/* "true" or "false"; absent is false. */
static enum terr
boolean(const struct req *r, const char *key, bool *out, char *err,
    size_t errsz)
{
	const char *v;
	enum terr   e;

	*out = false;
	if ((e = once(r, key, &v, err, errsz)) != TERR_OK || v == NULL)
		return e;
	if (strcmp(v, "true") == 0)
		*out = true;
	else if (strcmp(v, "false") != 0) {
		snprintf(err, errsz, "%s must be true or false", key);
		return TERR_INVALID;
	}
	return TERR_OK;
}

/* An RFC 3339 date-time, normalised to UTC with six fraction digits. */
static enum terr
timestamp(const struct req *r, const char *key, char *out, size_t outsz,
    char *err, size_t errsz)
{
	const char *v;
	int64_t	    us;
	enum terr   e;

	out[0] = '\0';
	if ((e = once(r, key, &v, err, errsz)) != TERR_OK || v == NULL)
		return e;
	if (!util_rfc3339_parse(v, &us) ||
	    !util_rfc3339_format(us, out, outsz)) {
		snprintf(err, errsz,
		    "%s must be an RFC 3339 date-time, "
		    "e.g. 2026-11-21T09:30:00Z",
		    key);
		return TERR_INVALID;
	}
	return TERR_OK;
}

/* q: words, 1 to LIM_SEARCH_MAX code points of UTF-8, not all blank. */
static enum terr
search(const struct req *r, const char **out, char *err, size_t errsz)
{
	const char *v;
	size_t	    len, tlen;
	enum terr   e;

	if ((e = once(r, "q", &v, err, errsz)) != TERR_OK || v == NULL)
		return e;
	len = strlen(v);
	if (len > LIM_SEARCH_BYTES || !util_utf8_valid(v, len) ||
	    util_utf8_count(v, len) > LIM_SEARCH_MAX) {
		snprintf(err, errsz,
		    "q must be UTF-8 text of at most %d "
		    "characters (%d bytes)",
		    LIM_SEARCH_MAX, LIM_SEARCH_BYTES);
		return TERR_INVALID;
	}
	(void)util_trim(v, len, &tlen);
	if (tlen == 0) {
		snprintf(err, errsz, "q must hold at least one word");
		return TERR_INVALID;
	}
	*out = v;
	return TERR_OK;
}

/* Hashes one field with its length, so fields cannot run together. */
static void
scope_add(crypto_generichash_state *st, const char *s)
{
	unsigned char len[4];
	size_t	      n = s != NULL ? strlen(s) : 0;

	len[0] = s == NULL ? 0xff : (unsigned char)(n >> 16);
	len[1] = (unsigned char)(n >> 8);
	len[2] = (unsigned char)n;
	len[3] = (unsigned char)(n >> 24);
	crypto_generichash_update(st, len, sizeof(len));
	if (n > 0)
		crypto_generichash_update(st, (const unsigned char *)s, n);
}

/* What a cursor is a cursor of, besides its sort: caller and filters. */
static void
scope_hash(struct list_query *lq, const struct req *r)
{
	crypto_generichash_state st;
	const char		 list[2] = { lq->list, '\0' };

	crypto_generichash_init(&st, NULL, 0, CURSOR_SCOPE_LEN);
	scope_add(&st, list);
	scope_add(&st, r->user_id);
	scope_add(&st, lq->status);
	scope_add(&st, lq->priority);
	scope_add(&st, lq->due_after);
	scope_add(&st, lq->due_before);
	scope_add(&st, lq->overdue ? "t" : "f");
	scope_add(&st, lq->q);
	crypto_generichash_final(&st, lq->scope, CURSOR_SCOPE_LEN);
}

static enum terr
task_params(const struct req *r, struct list_query *lq, char *err, size_t errsz)
{
	const char *v;
	enum terr   e;

	if ((e = hq_enum(r, "status", task_statuses, &lq->status, err,
		 errsz)) != TERR_OK ||
	    (e = hq_enum(r, "priority", task_priorities, &lq->priority, err,
		 errsz)) != TERR_OK ||
	    (e = timestamp(r, "due_after", lq->due_after, sizeof(lq->due_after),
		 err, errsz)) != TERR_OK ||
	    (e = timestamp(r, "due_before", lq->due_before,
		 sizeof(lq->due_before), err, errsz)) != TERR_OK ||
	    (e = boolean(r, "overdue", &lq->overdue, err, errsz)) != TERR_OK ||
	    (e = search(r, &lq->q, err, errsz)) != TERR_OK ||
	    (e = once(r, "sort", &v, err, errsz)) != TERR_OK)
		return e;
	if (v != NULL) {
		int s;

		for (s = 0; s < LS__MAX; s++)
			if (strcmp(v, sort_names[s]) == 0)
				break;
		if (s == LS__MAX) {
			snprintf(err, errsz,
			    "sort must be one of: created_at, "
			    "updated_at, due_at, priority, each optionally "
			    "with a leading - for descending");
			return TERR_INVALID;
		}
		lq->sort = (enum list_sort)s;
		lq->sort_text = sort_names[s];
	}
	return TERR_OK;
}

enum terr
list_parse(const struct conf *conf, const struct req *r, char list,
    struct list_query *lq, char *err, size_t errsz)
{
	const char *cur;
	enum terr   e;

	memset(lq, 0, sizeof(*lq));
	lq->list = list;
	lq->sort = LS_CREATED_DESC;
	if (list == 'T' && (e = task_params(r, lq, err, errsz)) != TERR_OK)
		return e;
	if ((e = boolean(r, "count", &lq->count, err, errsz)) != TERR_OK ||
	    (e = hq_paging(r, &lq->limit, &lq->offset, err, errsz)) !=
		TERR_OK ||
	    (e = once(r, "cursor", &cur, err, errsz)) != TERR_OK)
		return e;
	/* Both are needed for the next page's cursor too. */
	cursor_mac_key(conf->jwt_secret, conf->jwt_secret_len, lq->mac_key);
	scope_hash(lq, r);
	if (cur == NULL)
		return TERR_OK;
	if (lq->offset != 0) {
		snprintf(err, errsz,
		    "cursor and offset cannot be combined: "
		    "a cursor already says where the page starts");
		return TERR_INVALID;
	}
	if (!cursor_decode(cur, lq->mac_key, &lq->cursor) ||
	    lq->cursor.list != (unsigned char)list) {
		snprintf(err, errsz,
		    "cursor is not valid: use the Link of "
		    "the previous page unchanged");
		return TERR_INVALID;
	}
	if (lq->cursor.sort != (unsigned char)lq->sort ||
	    sodium_memcmp(lq->cursor.scope, lq->scope, CURSOR_SCOPE_LEN) != 0) {
		snprintf(err, errsz,
		    "cursor belongs to another query: "
		    "keep the sort and filters of the page it came from");
		return TERR_INVALID;
	}
	lq->has_cursor = true;
	return TERR_OK;
}

/* Only what the original list statement knows. */
static bool
task_plain(const struct list_query *lq)
{
	return lq->sort_text == NULL && lq->due_after[0] == '\0' &&
	    lq->due_before[0] == '\0' && !lq->overdue && !lq->count &&
	    lq->q == NULL && !lq->has_cursor;
}

/* Adds a copy of s (it lives in the caller's list_query), or NULL. */
static enum terr
param_copy(struct plan *p, const char *s)
{
	if (s == NULL || s[0] == '\0') {
		plan_param(p, NULL);
		return TERR_OK;
	}
	return plan_param_copy(p, s, strlen(s));
}

/* The cursor's key and id, or two NULLs: the first page. */
static enum terr
param_cursor(struct plan *p, const struct list_query *lq)
{
	enum terr e;

	if (!lq->has_cursor) {
		plan_param(p, NULL);
		plan_param(p, NULL);
		return TERR_OK;
	}
	if ((e = param_copy(p, lq->cursor.key)) != TERR_OK)
		return e;
	return param_copy(p, lq->cursor.id);
}

/* limit + 1 rows (one tells whether another page follows), offset. */
static enum terr
param_paging(struct plan *p, const struct list_query *lq)
{
	enum terr e;

	if ((e = plan_param_fmt(p, "%lld", lq->limit + 1)) != TERR_OK)
		return e;
	return plan_param_fmt(p, "%lld", lq->offset);
}

enum terr
list_plan(const struct list_query *lq, const struct req *r, struct plan *p)
{
	enum terr e;

	plan_param(p, r->user_id);
	if (lq->list == 'U') {
		p->stmt = STMT_USERS_LIST;
		if ((e = param_paging(p, lq)) != TERR_OK ||
		    (e = param_cursor(p, lq)) != TERR_OK)
			return e;
		plan_param(p, lq->count ? "t" : "f");
		return TERR_OK;
	}
	plan_param(p, lq->status);
	plan_param(p, lq->priority);
	if (task_plain(lq)) {
		p->stmt = STMT_TASKS_LIST;
		return param_paging(p, lq);
	}
	p->stmt = (enum stmt)((lq->q != NULL ? STMT_TASKS_SEARCH_CREATED_DESC :
					       STMT_TASKS_PAGE_CREATED_DESC) +
	    (int)lq->sort);
	if ((e = param_copy(p, lq->due_after)) != TERR_OK ||
	    (e = param_copy(p, lq->due_before)) != TERR_OK)
		return e;
	plan_param(p, lq->overdue ? "t" : "f");
	if ((e = param_cursor(p, lq)) != TERR_OK ||
	    (e = param_paging(p, lq)) != TERR_OK)
		return e;
	plan_param(p, lq->count ? "t" : "f");
	if (lq->q != NULL)
		plan_param(p, lq->q);
	return TERR_OK;
}

/* Appends "&key=value" (value percent-encoded) to the link. */
static void
link_param(char *out, size_t sz, size_t *off, bool *ok, const char *key,
    const char *val)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t		  o = *off;

	if (val == NULL || val[0] == '\0' || !*ok)
		return;
	if (out[o - 1] != '?' && o + 1 < sz)
		out[o++] = '&';
	for (const char *k = key; *k != '\0' && o + 1 < sz; k++)
		out[o++] = *k;
	if (o + 1 < sz)
		out[o++] = '=';
	for (const unsigned char *v = (const unsigned char *)val; *v != '\0';
	     v++) {
		if (o + 4 >= sz) {
			*ok = false;
			return;
		}
		if ((*v >= 'a' && *v <= 'z') || (*v >= 'A' && *v <= 'Z') ||
		    (*v >= '0' && *v <= '9') || *v == '-' || *v == '.' ||
		    *v == '_' || *v == '~')
			out[o++] = (char)*v;
		else {
			out[o++] = '%';
			out[o++] = hex[*v >> 4];
			out[o++] = hex[*v & 15];
		}
	}
	out[o] = '\0';
	*off = o;
}

/*
 * The next page's Link: the same parameters (normalised, in a fixed
 * order) without offset, and the cursor after the page's last row.
 */
static void
next_link(const struct list_query *lq, const char *cur, struct resp *resp)
{
	char   limit[24], *out = resp->link;
	size_t sz = sizeof(resp->link), off;
	bool   ok = true;
	int    n;

	n = snprintf(out, sz, "</api/v1/%s?",
	    lq->list == 'U' ? "users" : "tasks");
	off = (size_t)n;
	snprintf(limit, sizeof(limit), "%lld", lq->limit);
	if (lq->list == 'T') {
		link_param(out, sz, &off, &ok, "sort", lq->sort_text);
		link_param(out, sz, &off, &ok, "status", lq->status);
		link_param(out, sz, &off, &ok, "priority", lq->priority);
		link_param(out, sz, &off, &ok, "due_after", lq->due_after);
		link_param(out, sz, &off, &ok, "due_before", lq->due_before);
		link_param(out, sz, &off, &ok, "overdue",
		    lq->overdue ? "true" : NULL);
		link_param(out, sz, &off, &ok, "q", lq->q);
	}
	link_param(out, sz, &off, &ok, "limit", limit);
	link_param(out, sz, &off, &ok, "count", lq->count ? "true" : NULL);
	link_param(out, sz, &off, &ok, "cursor", cur);
	if (!ok || off + sizeof(">; rel=\"next\"") > sz) {
		/* Cannot happen within the parameters' limits (response.h). */
		out[0] = '\0';
		return;
	}
	memcpy(out + off, ">; rel=\"next\"", sizeof(">; rel=\"next\""));
}

void
list_render(const struct list_query *lq, const PGresult *res, struct resp *resp,
    void (*row_fn)(struct buf *, const PGresult *, int))
{
	struct buf jb;
	int	   n = PQntuples(res), rows, shown;
	int	  count_col = lq->list == 'U' ? USER_COL_COUNT : TASK_COL_COUNT;
	long long total = -1;

	if (n == 0) {
		resp_error(resp, TERR_UNAUTH, NULL);
		return;
	}
	/* A single row of NULLs: the caller exists, the page is empty. */
	rows = PQgetisnull(res, 0, 0) ? 0 : n;
	shown = rows > lq->limit ? (int)lq->limit : rows;
	if (lq->count && PQnfields(res) > count_col &&
	    (!pgval_int(res, 0, count_col, &total) || total < 0)) {
		resp_error(resp, TERR_INTERNAL, NULL);
		return;
	}
	jb_begin(&jb, resp);
	jb_lit(&jb, "[");
	for (int i = 0; i < shown; i++) {
		if (i > 0)
			jb_lit(&jb, ",");
		row_fn(&jb, res, i);
	}
	jb_lit(&jb, "]");
	jb_end(&jb, resp, 200);
	if (resp->status != 200)
		return;
	if (total >= 0) {
		resp->has_total_count = true;
		resp->total_count = total;
	}
	if (rows > shown && shown > 0) {
		struct cursor c;
		char	      text[CURSOR_TEXT_MAX];
		int	      last = shown - 1;
		int	      kcol =
		      lq->list == 'U' ? USER_COL_CREATED : task_key_col(lq->sort);

		memset(&c, 0, sizeof(c));
		c.list = (uint8_t)lq->list;
		c.sort = (uint8_t)lq->sort;
		memcpy(c.scope, lq->scope, CURSOR_SCOPE_LEN);
		if (PQgetisnull(res, last, kcol))
			memcpy(c.key, "infinity", sizeof("infinity"));
		else if (pgval_text(res, last, kcol, c.key, sizeof(c.key)) == 0)
			return; /* cannot happen: no next link */
		if (pgval_uuid(res, last, 0, c.id) &&
		    cursor_encode(&c, lq->mac_key, text, sizeof(text)))
			next_link(lq, text, resp);
	}
}
