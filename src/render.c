/*
 * render.c: the JSON the handlers share: a users or tasks row as an
 * object (column tables, so a column cannot be written out of order or
 * rendered by accident), and the one-row and list answers of statements
 * joined to the caller's row.
 */
#include "config.h"

#include <stdbool.h>

#include "json_out.h"
#include "pgval.h"
#include "render.h"
#include "terr.h"

/*
 * The columns of USER_COLS and TASK_COLS, in order: each key is written
 * with the punctuation before it.  password_hash is never selected, so
 * it can never be rendered.
 */
enum col_kind {
	COL_TEXT, /* text or an enum: the same characters in both formats */
	COL_UUID,
	COL_TIME, /* timestamptz */
};
struct col {
	const char   *key;
	size_t	      keylen;
	enum col_kind kind;
};
#define COL(k, t)                   \
	{                           \
		k, sizeof(k) - 1, t \
	}

static const struct col user_cols[] = {
	COL("{\"id\":", COL_UUID),
	COL(",\"email\":", COL_TEXT),
	COL(",\"name\":", COL_TEXT),
	COL(",\"created_at\":", COL_TIME),
	COL(",\"updated_at\":", COL_TIME),
};

static const struct col task_cols[] = {
	COL("{\"id\":", COL_UUID),
	COL(",\"user_id\":", COL_UUID),
	COL(",\"title\":", COL_TEXT),
	COL(",\"description\":", COL_TEXT),
	COL(",\"status\":", COL_TEXT),
	COL(",\"priority\":", COL_TEXT),
	COL(",\"due_at\":", COL_TIME),
	COL(",\"created_at\":", COL_TIME),
	COL(",\"updated_at\":", COL_TIME),
};

/*
 * A binary timestamptz as the API's RFC 3339 string, the same as
 * jb_pgtime makes of its text: six digits of fraction, "Z".  Years
 * outside 1..9999 and the infinities mark jb failed, as their text does
 * there.
 */
static void
jb_time_us(struct buf *jb, const char *v, size_t n)
{
	char s[LIM_TIMESTAMP_LEN + 3];

	if (n != 8 ||
	    !pgval_time_rfc3339(pgval_int64_be((const unsigned char *)v),
		s + 1)) {
		jb->failed = true;
		return;
	}
	s[0] = '"';
	s[LIM_TIMESTAMP_LEN + 1] = '"';
	jb_raw(jb, s, LIM_TIMESTAMP_LEN + 2);
}

/* A binary uuid as its quoted 36 characters. */
static void
jb_uuid(struct buf *jb, const char *v, size_t n)
{
	char u[PGVAL_UUID_LEN + 3];

	if (n != 16) {
		jb->failed = true;
		return;
	}
	u[0] = '"';
	pgval_uuid_format((const unsigned char *)v, u + 1);
	u[PGVAL_UUID_LEN + 1] = '"';
	jb_raw(jb, u, PGVAL_UUID_LEN + 2);
}

/*
 * One row as a JSON object; NULL columns are null.  Either result
 * format (pgval.h): in binary, uuids and timestamps are converted here;
 * text and enums are their characters in both.
 */
static void
render_cols(struct buf *jb, const PGresult *r, int row, const struct col *cols,
    int ncols)
{
	if (PQnfields(r) < ncols) {
		jb->failed = true;
		return;
	}
	for (int i = 0; i < ncols; i++) {
		const char *v = PQgetvalue(r, row, i);
		size_t	    n = (size_t)PQgetlength(r, row, i);
		bool	    binary = PQfformat(r, i) == 1;

		jb_raw(jb, cols[i].key, cols[i].keylen);
		if (PQgetisnull(r, row, i))
			jb_lit(jb, "null");
		else if (cols[i].kind == COL_TIME && binary)
			jb_time_us(jb, v, n);
		else if (cols[i].kind == COL_TIME)
			jb_pgtime(jb, v, n);
		else if (cols[i].kind == COL_UUID && binary)
			jb_uuid(jb, v, n);
		else
			jb_str(jb, v, n);
	}
	jb_lit(jb, "}");
}

void
render_user_row(struct buf *jb, const PGresult *r, int row)
{
	render_cols(jb, r, row, user_cols, 5);
}

void
render_task_row(struct buf *jb, const PGresult *r, int row)
{
	render_cols(jb, r, row, task_cols, 9);
}

/*
 * Renders a list whose rows are LEFT JOINed to the caller's row: no row
 * at all is 401, and a single row of NULLs is an empty page.
 */
void
render_list(const PGresult *res, struct resp *resp,
    void (*row_fn)(struct buf *, const PGresult *, int))
{
	struct buf jb;
	int	   n = PQntuples(res);
	bool	   first = true;

	if (n == 0) {
		resp_error(resp, TERR_UNAUTH, NULL);
		return;
	}
	jb_begin(&jb, resp);
	jb_lit(&jb, "[");
	for (int i = 0; i < n; i++) {
		if (PQgetisnull(res, i, 0))
			continue;
		if (!first)
			jb_lit(&jb, ",");
		first = false;
		row_fn(&jb, res, i);
	}
	jb_lit(&jb, "]");
	jb_end(&jb, resp, 200);
}

void
render_one(const PGresult *res, struct resp *resp, int status,
    const char *notfound, void (*row_fn)(struct buf *, const PGresult *, int))
{
	struct buf jb;

	if (PQntuples(res) == 0) {
		resp_error(resp, TERR_UNAUTH, NULL);
		return;
	}
	if (PQgetisnull(res, 0, 0)) {
		resp_error(resp, TERR_NOTFOUND, notfound);
		return;
	}
	jb_begin(&jb, resp);
	row_fn(&jb, res, 0);
	jb_end(&jb, resp, status);
}
