/*
 * render.c: the JSON the handlers share: a users or tasks row as an
 * object (column tables, so a column cannot be written out of order or
 * rendered by accident), and the one-row and list answers of statements
 * joined to the caller's row.
 */
#include "config.h"

#include <stdbool.h>

#include "json_out.h"
#include "render.h"
#include "terr.h"

/*
 * The columns of USER_COLS and TASK_COLS, in order: each key is written
 * with the punctuation before it.  password_hash is never selected, so
 * it can never be rendered.
 */
struct col {
	const char *key;
	size_t	    keylen;
	bool	    time; /* a timestamptz, else text */
};
#define COL(k, t)                   \
	{                           \
		k, sizeof(k) - 1, t \
	}

static const struct col user_cols[] = {
	COL("{\"id\":", false),
	COL(",\"email\":", false),
	COL(",\"name\":", false),
	COL(",\"created_at\":", true),
	COL(",\"updated_at\":", true),
};

static const struct col task_cols[] = {
	COL("{\"id\":", false),
	COL(",\"user_id\":", false),
	COL(",\"title\":", false),
	COL(",\"description\":", false),
	COL(",\"status\":", false),
	COL(",\"priority\":", false),
	COL(",\"due_at\":", true),
	COL(",\"created_at\":", true),
	COL(",\"updated_at\":", true),
};

/* One row as a JSON object; NULL columns are null. */
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

		jb_raw(jb, cols[i].key, cols[i].keylen);
		if (PQgetisnull(r, row, i))
			jb_lit(jb, "null");
		else if (cols[i].time)
			jb_pgtime(jb, v, n);
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
