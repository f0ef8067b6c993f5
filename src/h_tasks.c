/*
 * h_tasks.c: /api/v1/tasks, /api/v1/tasks/{id} and the NDJSON export.
 *
 * Tasks are private: another user's task answers exactly like a missing
 * one (404), since the statements only ever look for (id, owner).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "api_limits.h"
#include "etag.h"
#include "handlers.h"
#include "hquery.h"
#include "idempotency.h"
#include "json_out.h"
#include "list_query.h"
#include "log.h"
#include "render.h"
#include "util.h"
#include "valid.h"

/*
 * GET /api/v1/tasks: 200 array (newest first unless sorted), Link to the
 * next page, X-Total-Count on request; 400 parameters or cursor; 401.
 * The parameters, cursors and statements are list_query.c's.
 */
enum terr
h_tasks_list_plan(struct hctx *c)
{
	struct list_query lq;
	enum terr	  e;

	if ((e = list_parse(c->conf, c->req, 'T', &lq, c->msg, c->msgsz)) !=
	    TERR_OK)
		return e;
	return list_plan(&lq, c->req, c->plan);
}

void
h_tasks_list_render(struct hctx *c)
{
	struct list_query lq;
	char		  err[256];

	/* The plan parsed the same request without an error. */
	if (list_parse(c->conf, c->req, 'T', &lq, err, sizeof(err)) !=
	    TERR_OK) {
		resp_error(c->resp, TERR_INTERNAL, NULL);
		return;
	}
	list_render(&lq, c->res, c->resp, render_task_row);
}

/* Adds a timestamp parameter normalised to UTC, or NULL. */
static enum terr
param_ts(struct plan *p, const struct vvalue *v)
{
	char	 buf[LIM_TIMESTAMP_LEN + 8];

	if (!v->present || v->is_null) {
		plan_param(p, NULL);
		return TERR_OK;
	}
	if (!util_rfc3339_format(v->ts, buf, sizeof(buf)))
		return TERR_INVALID;
	return plan_param_copy(p, buf, strlen(buf));
}

/* Adds a text parameter, or NULL when absent or null. */
static enum terr
param_text(struct plan *p, const struct vvalue *v)
{
	if (!v->present || v->is_null) {
		plan_param(p, NULL);
		return TERR_OK;
	}
	return plan_param_copy(p, v->str, v->len);
}

static const struct vfield task_create_fields[] = {
	{ "title", VK_TEXT, VF_REQUIRED | VF_TRIM, LIM_TITLE_MIN,
	    LIM_TITLE_MAX, NULL },
	{ "description", VK_TEXT, VF_NULLABLE, 0, LIM_DESCRIPTION_MAX, NULL },
	{ "priority", VK_ENUM, 0, 0, 0, task_priorities },
	{ "due_at", VK_TIMESTAMP, VF_NULLABLE, 0, 0, NULL },
};

/*
 * POST /api/v1/tasks: 201 task + Location + ETag; 400; 401; with an
 * Idempotency-Key, a repeat gets the first 201 again, 422 another body.
 */
enum terr
h_task_create_plan(struct hctx *c)
{
	struct req	*r = c->req;
	struct plan	*p = c->plan;
	struct vvalue	 v[4];
	enum terr	 e;
	bool		 keyed;

	if ((e = valid_fields(r->json, task_create_fields, 4, v, c->msg,
		 c->msgsz)) != TERR_OK)
		return e;
	p->stmt = STMT_TASK_INSERT;
	plan_param(p, r->user_id);
	if ((e = param_text(p, &v[0])) != TERR_OK ||
	    (e = param_text(p, &v[1])) != TERR_OK)
		return e;
	if (v[2].present)
		e = param_text(p, &v[2]);
	else
		plan_param(p, "medium");
	if (e != TERR_OK || (e = param_ts(p, &v[3])) != TERR_OK ||
	    (e = idem_plan(c->conf, r, p, &keyed, c->msg, c->msgsz)) != TERR_OK)
		return e;
	if (keyed)
		p->stmt = STMT_TASK_INSERT_KEYED;
	return TERR_OK;
}

void
h_task_create_render(struct hctx *c)
{
	struct resp    *resp = c->resp;
	const PGresult *res = c->res;

	if (idem_finish(res, 10, resp))
		return;
	render_one(res, resp, 201, "task not found", render_task_row);
	if (resp->status == 201) {
		snprintf(resp->location, sizeof(resp->location),
		    "/api/v1/tasks/%s", PQgetvalue(res, 0, 0));
		etag_set(resp, etag_version(res, 0, 9));
	}
}

/*
 * GET /api/v1/tasks/{id}: 200 task + ETag; 304 If-None-Match; 412
 * If-Match; 400 bad id or header; 401; 404.
 */
enum terr
h_task_get_plan(struct hctx *c)
{
	c->plan->stmt = STMT_TASK_GET;
	plan_param(c->plan, c->req->user_id);
	plan_param(c->plan, c->req->match.id);
	return etag_plan_read(c->req, c->msg, c->msgsz);
}

#define TASK_CHANGED_MSG                                               \
	"the task has changed since the version you sent in If-Match " \
	"(or If-None-Match matched it); its current ETag is in the ETag header"

/*
 * Renders TASK_GET/TASK_UPDATE: no row 401, a row of NULLs 404, a
 * failed precondition 412 (column 10 of TASK_UPDATE); column 9 is the
 * version.
 */
void
h_task_render(struct hctx *c)
{
	struct req     *r = c->req;
	struct resp    *resp = c->resp;
	const PGresult *res = c->res;

	if (r->method == METHOD_PATCH &&
	    etag_finish_write(res, 9, 10, TASK_CHANGED_MSG, resp))
		return;
	render_one(res, resp, 200, "task not found", render_task_row);
	if (r->method != METHOD_PATCH)
		etag_finish_read(r, res, 9, resp);
}

static const struct vfield task_patch_fields[] = {
	{ "title", VK_TEXT, VF_TRIM, LIM_TITLE_MIN, LIM_TITLE_MAX, NULL },
	{ "description", VK_TEXT, VF_NULLABLE, 0, LIM_DESCRIPTION_MAX, NULL },
	{ "status", VK_ENUM, 0, 0, 0, task_statuses },
	{ "priority", VK_ENUM, 0, 0, 0, task_priorities },
	{ "due_at", VK_TIMESTAMP, VF_NULLABLE, 0, 0, NULL },
};

/*
 * PATCH /api/v1/tasks/{id}: 200 task + ETag; 400; 401; 404; 412 If-Match
 * no longer matches; 428 without If-Match when it is required.  One fixed
 * statement takes a "present" flag before each value, so no SQL is
 * ever assembled; updated_at moves only on a real change.
 */
enum terr
h_task_patch_plan(struct hctx *c)
{
	struct req	*r = c->req;
	struct plan	*p = c->plan;
	struct vvalue	 v[5];
	enum terr	 e;

	if ((e = valid_fields(r->json, task_patch_fields, 5, v, c->msg,
		 c->msgsz)) != TERR_OK)
		return e;
	p->stmt = STMT_TASK_UPDATE;
	plan_param(p, r->user_id);
	plan_param(p, r->match.id);
	for (int i = 0; i < 5; i++) {
		plan_param(p, v[i].present ? "t" : "f");
		e = i == 4 ? param_ts(p, &v[i]) : param_text(p, &v[i]);
		if (e != TERR_OK)
			return e;
	}
	return etag_plan_write(r, c->conf != NULL && c->conf->require_if_match,
	    p, c->msg, c->msgsz);
}

/*
 * DELETE /api/v1/tasks/{id}: 204; 400 bad id; 401; 404; 412 If-Match
 * no longer matches; 428 without If-Match when it is required.
 */
enum terr
h_task_delete_plan(struct hctx *c)
{
	c->plan->stmt = STMT_TASK_DELETE;
	plan_param(c->plan, c->req->user_id);
	plan_param(c->plan, c->req->match.id);
	return etag_plan_write(c->req,
	    c->conf != NULL && c->conf->require_if_match, c->plan, c->msg,
	    c->msgsz);
}

void
h_task_delete_render(struct hctx *c)
{
	if (etag_finish_write(c->res, 1, 2, TASK_CHANGED_MSG, c->resp))
		return;
	if (PQntuples(c->res) == 0)
		resp_error(c->resp, TERR_UNAUTH, NULL);
	else if (PQgetisnull(c->res, 0, 0))
		resp_error(c->resp, TERR_NOTFOUND, "task not found");
	else
		resp_empty(c->resp, 204);
}

/* GET /api/v1/tasks/export: 200 NDJSON, streamed; 401. */
enum terr
h_tasks_export_plan(struct hctx *c)
{
	c->plan->stmt = STMT_TASKS_EXPORT;
	plan_param(c->plan, c->req->user_id);
	return TERR_OK;
}

#define EXPORT_FLUSH_ROWS	256

/*
 * Streams every task of the caller, one JSON object a line, in
 * single-row mode: one PGresult and one line buffer alive at a time,
 * so memory stays flat whatever the number of tasks.  The status is
 * decided by the first result (no row: 401); after the head is out, a
 * failure can only cut the connection (STREAM_ABORT).
 */
enum stream_result
h_tasks_export_stream(struct hctx *c, struct db *db,
    const struct stream_out *out)
{
	struct plan		*p = c->plan;
	struct resp		*resp = c->resp;
	PGresult		*res;
	struct buf		 line = { 0 }; /* one row */
	enum terr		 e;
	bool			 started = false, failed = false;
	unsigned long		 rows = 0;

	if ((e = db_ready(db)) != TERR_OK) {
		resp_error(resp, e, NULL);
		return STREAM_RESP;
	}
	if (PQsendQueryPrepared(db->conn, db_stmt_name(p->stmt), p->nparams,
	    p->values, NULL, NULL, 0) != 1 ||
	    PQsetSingleRowMode(db->conn) != 1) {
		resp_error(resp, db_result_error(db, NULL), NULL);
		/* Drain whatever was started. */
		while (db->conn != NULL && (res = PQgetResult(db->conn)) != NULL)
			PQclear(res);
		return STREAM_RESP;
	}
	while ((res = PQgetResult(db->conn)) != NULL) {
		ExecStatusType st = PQresultStatus(res);

		if (failed) {
			/* Keep reading so the connection stays usable. */
		} else if (st == PGRES_SINGLE_TUPLE && PQnfields(res) >= 9) {
			if (!started) {
				resp->status = 200;
				resp->content_type = "application/x-ndjson";
				resp->stream = true;
				if (out->head(out->ctx, resp) == -1)
					failed = true;
				started = true;
			}
			if (!failed && !PQgetisnull(res, 0, 0)) {
				line.len = 0;
				render_task_row(&line, res, 0);
				jb_lit(&line, "\n");
				if (line.failed ||
				    out->write(out->ctx, line.p, line.len))
					failed = true;
				if (!failed && ++rows % EXPORT_FLUSH_ROWS == 0 &&
				    out->flush(out->ctx) == -1)
					failed = true;
			}
		} else if (st == PGRES_TUPLES_OK) {
			if (!started) {
				/* Zero rows: the caller's user is gone. */
				resp_error(resp, TERR_UNAUTH, NULL);
			}
		} else {
			e = db_result_error(db, res);
			if (!started)
				resp_error(resp, e, NULL);
			failed = true;
		}
		PQclear(res);
		if (db->conn == NULL)
			break;
	}
	jb_free(&line);
	if (!started)
		return STREAM_RESP;
	if (failed) {
		log_error("export aborted after %lu rows", rows);
		return STREAM_ABORT;
	}
	if (out->flush(out->ctx) == -1)
		return STREAM_ABORT;
	return STREAM_DONE;
}
