/*
 * handlers.h: one handler per endpoint, each two plain functions.
 *
 *   plan:   validated request -> a prepared statement and its parameters
 *           (or a finished response, when no database is needed);
 *   render: the statement's result -> the response.
 *
 * Neither does I/O, so unit tests drive them without a database and any
 * worker loop (blocking libfcgi, or an event loop that pipelines
 * queries) can run them.  The export alone streams, through
 * struct stream_out.
 */
#ifndef TASKAPI_HANDLERS_H
#define TASKAPI_HANDLERS_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "conf.h"
#include "db.h"
#include "request.h"
#include "response.h"
#include "terr.h"

struct buf;

/* What a handler may know about the world besides its request. */
struct app_ctx {
	const struct conf	*conf;
	int64_t			 now;	/* seconds since the epoch */
	/*
	 * The loop ran STMT_USER_EXISTS for the token's user before the
	 * plan, and the user exists (HF_USER_FIRST): only then may a plan
	 * spend an Argon2id hash on the caller.
	 */
	bool user_checked;
};

#define HF_AUTH		0x01	/* needs a valid bearer token */
#define HF_BODY		0x02	/* needs a JSON object body */
#define HF_STREAM	0x04	/* streams its answer (the export) */
#define HF_CPU		0x08	/* hashes a password: slow, CPU-bound */
#define HF_OWN_ERRORS	0x10	/* render sees database errors too */
#define HF_USER_FIRST	0x20	/* the caller must exist before the plan */

typedef enum terr (*plan_fn)(const struct app_ctx *, struct req *,
    struct plan *, struct resp *, char *err, size_t errsz);
/* res is NULL (and e set) only for HF_OWN_ERRORS handlers. */
typedef void (*render_fn)(const struct app_ctx *, struct req *,
    const PGresult *res, enum terr e, struct resp *);

struct handler {
	unsigned	 flags;
	plan_fn		 plan;
	render_fn	 render;
};

extern const struct handler handlers[H__MAX];

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

/* The export: runs its own query on db in single-row mode. */
enum stream_result h_tasks_export_stream(const struct app_ctx *,
	    struct req *, struct plan *, struct db *, struct resp *,
	    const struct stream_out *);

/* Plans and renders, one pair per endpoint (h_*.c). */
enum terr h_health_plan(const struct app_ctx *, struct req *, struct plan *,
	    struct resp *, char *, size_t);
void	h_health_render(const struct app_ctx *, struct req *,
	    const PGresult *, enum terr, struct resp *);
enum terr h_register_plan(const struct app_ctx *, struct req *,
	    struct plan *, struct resp *, char *, size_t);
void	h_register_render(const struct app_ctx *, struct req *,
	    const PGresult *, enum terr, struct resp *);
enum terr h_login_plan(const struct app_ctx *, struct req *, struct plan *,
	    struct resp *, char *, size_t);
void	h_login_render(const struct app_ctx *, struct req *,
	    const PGresult *, enum terr, struct resp *);
enum terr h_me_plan(const struct app_ctx *, struct req *, struct plan *,
	    struct resp *, char *, size_t);
enum terr h_users_list_plan(const struct app_ctx *, struct req *,
	    struct plan *, struct resp *, char *, size_t);
void	h_users_list_render(const struct app_ctx *, struct req *,
	    const PGresult *, enum terr, struct resp *);
enum terr h_user_get_plan(const struct app_ctx *, struct req *,
	    struct plan *, struct resp *, char *, size_t);
void	h_user_render(const struct app_ctx *, struct req *,
	    const PGresult *, enum terr, struct resp *);
enum terr h_user_patch_plan(const struct app_ctx *, struct req *,
	    struct plan *, struct resp *, char *, size_t);
void	h_user_patch_render(const struct app_ctx *, struct req *,
	    const PGresult *, enum terr, struct resp *);
enum terr h_user_delete_plan(const struct app_ctx *, struct req *,
	    struct plan *, struct resp *, char *, size_t);
void	h_user_delete_render(const struct app_ctx *, struct req *,
	    const PGresult *, enum terr, struct resp *);
enum terr h_tasks_list_plan(const struct app_ctx *, struct req *,
	    struct plan *, struct resp *, char *, size_t);
void	h_tasks_list_render(const struct app_ctx *, struct req *,
	    const PGresult *, enum terr, struct resp *);
enum terr h_task_create_plan(const struct app_ctx *, struct req *,
	    struct plan *, struct resp *, char *, size_t);
void	h_task_create_render(const struct app_ctx *, struct req *,
	    const PGresult *, enum terr, struct resp *);
enum terr h_task_get_plan(const struct app_ctx *, struct req *,
	    struct plan *, struct resp *, char *, size_t);
void	h_task_render(const struct app_ctx *, struct req *,
	    const PGresult *, enum terr, struct resp *);
enum terr h_task_patch_plan(const struct app_ctx *, struct req *,
	    struct plan *, struct resp *, char *, size_t);
enum terr h_task_delete_plan(const struct app_ctx *, struct req *,
	    struct plan *, struct resp *, char *, size_t);
void	h_task_delete_render(const struct app_ctx *, struct req *,
	    const PGresult *, enum terr, struct resp *);
enum terr h_tasks_export_plan(const struct app_ctx *, struct req *,
	    struct plan *, struct resp *, char *, size_t);
/* The pool's metrics and status (h_ops.c): no database, no render. */
enum terr h_metrics_plan(const struct app_ctx *, struct req *,
	    struct plan *, struct resp *, char *, size_t);
enum terr h_status_plan(const struct app_ctx *, struct req *,
	    struct plan *, struct resp *, char *, size_t);

/* Shared by the handlers (app.c). */

/* Appends the JSON object of a users row (USER_COLS) / a tasks row. */
void
render_user_row(struct buf *, const PGresult *, int row);
void
render_task_row(struct buf *, const PGresult *, int row);

/*
 * Renders the one row of a statement joined to the caller's row: no row
 * is 401, a row of NULLs 404 (notfound is the message), else status
 * with the object row_fn writes.
 */
void
render_one(const PGresult *, struct resp *, int status, const char *notfound,
    void (*row_fn)(struct buf *, const PGresult *, int));

/*
 * Renders rows LEFT JOINed to the caller's row as a JSON array: no row
 * at all is 401, a single row of NULLs an empty page.
 */
void
render_list(const PGresult *, struct resp *,
    void (*row_fn)(struct buf *, const PGresult *, int));

/*
 * limit (default 50, 1..100) and offset (default 0, >= 0) from the
 * query string; repeated or malformed values are errors.
 */
enum terr hq_paging(const struct req *, long long *limit,
	    long long *offset, char *err, size_t errsz);

/*
 * An optional query parameter that must be one of vals; *out is NULL
 * when absent.
 */
enum terr hq_enum(const struct req *, const char *key,
	    const char *const *vals, const char **out, char *err,
	    size_t errsz);

extern const char *const task_statuses[];
extern const char *const task_priorities[];

#endif /* TASKAPI_HANDLERS_H */
