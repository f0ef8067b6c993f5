/*
 * handlers.h: one handler per endpoint, each two plain functions of one
 * struct hctx.
 *
 *   plan:   validated request -> a prepared statement and its parameters
 *           (or a finished response, when no database is needed);
 *   render: the statement's result -> the response.
 *
 * Neither does I/O, so unit tests drive them without a database and any
 * worker loop (blocking libfcgi, or an event loop that pipelines
 * queries) can run them.  The export alone streams, through
 * struct stream_out.  Which handler serves which endpoint, and what the
 * pipeline checks first, is endpoints.def's.
 */
#ifndef TASKAPI_HANDLERS_H
#define TASKAPI_HANDLERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "conf.h"
#include "db.h"
#include "request.h"
#include "response.h"
#include "task_values.h"
#include "terr.h"

/*
 * One handler call: everything a plan, render or stream may see or
 * fill, so that each takes this one argument.
 */
struct hctx {
	/* The world besides the request. */
	const struct conf *conf;
	int64_t		   now; /* seconds since the epoch */
	/*
	 * The loop ran STMT_USER_EXISTS for the token's user before the
	 * plan, and the user exists (HF_USER_FIRST): only then may a plan
	 * spend an Argon2id hash on the caller.
	 */
	bool user_checked;

	struct req  *req;
	struct plan *plan; /* plan and stream: the statement (else NULL) */
	struct resp *resp;

	/* Render: the result, NULL (and err set) only for HF_OWN_ERRORS. */
	const PGresult *res;
	enum terr	err;

	/*
	 * Plan: a message for the client when it fails; left empty, the
	 * error's default message is sent.
	 */
	char  *msg;
	size_t msgsz;
};

/* How a streaming handler ended. */
enum stream_result {
	STREAM_DONE = 0,	/* the whole answer went out */
	STREAM_RESP,		/* nothing went out: send resp instead */
	STREAM_ABORT		/* a partial answer went out: cut the connection */
};

/* Where a streaming handler writes; each call returns 0 or -1. */
struct stream_out {
	void	*ctx;
	int	(*head)(void *ctx, const struct resp *);
	int	(*write)(void *ctx, const char *buf, size_t len);
	int	(*flush)(void *ctx);
};

/* Fills c->plan (or c->resp), or fails with a 4xx/5xx and c->msg. */
typedef enum terr (*plan_fn)(struct hctx *c);
/* The statement's result (c->res, c->err) -> c->resp. */
typedef void (*render_fn)(struct hctx *c);
/* Runs c->plan on db itself and writes the answer to out. */
typedef enum stream_result (
    *stream_fn)(struct hctx *c, struct db *db, const struct stream_out *out);

/* The export: runs its own query on db in single-row mode. */
enum stream_result
h_tasks_export_stream(struct hctx *, struct db *, const struct stream_out *);

/* Plans and renders, one pair per endpoint (h_*.c). */
enum terr
h_health_plan(struct hctx *);
void
h_health_render(struct hctx *);
enum terr
h_register_plan(struct hctx *);
void
h_register_render(struct hctx *);
enum terr
h_login_plan(struct hctx *);
void
h_login_render(struct hctx *);
enum terr
h_me_plan(struct hctx *);
enum terr
h_users_list_plan(struct hctx *);
void
h_users_list_render(struct hctx *);
enum terr
h_user_get_plan(struct hctx *);
void
h_user_render(struct hctx *);
enum terr
h_user_patch_plan(struct hctx *);
void
h_user_patch_render(struct hctx *);
enum terr
h_user_delete_plan(struct hctx *);
void
h_user_delete_render(struct hctx *);
enum terr
h_tasks_list_plan(struct hctx *);
void
h_tasks_list_render(struct hctx *);
enum terr
h_task_create_plan(struct hctx *);
void
h_task_create_render(struct hctx *);
enum terr
h_task_get_plan(struct hctx *);
void
h_task_render(struct hctx *);
enum terr
h_task_patch_plan(struct hctx *);
enum terr
h_task_delete_plan(struct hctx *);
void
h_task_delete_render(struct hctx *);
enum terr
h_tasks_export_plan(struct hctx *);
/* The pool's metrics and status (h_ops.c): no database, no render. */
enum terr
h_metrics_plan(struct hctx *);
enum terr
h_status_plan(struct hctx *);

#endif /* TASKAPI_HANDLERS_H */
