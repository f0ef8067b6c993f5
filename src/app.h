/*
 * app.h: the request pipeline every worker loop shares.
 *
 *   app_begin:  route, 404/405, query string, token, body, plan;
 *   (the loop runs the planned statement, its own way);
 *   app_finish: map errors, render.
 *
 * app_handle_blocking() is the whole thing for the libfcgi worker.
 */
#ifndef TASKAPI_APP_H
#define TASKAPI_APP_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "conf.h"
#include "db.h"
#include "handlers.h"
#include "request.h"
#include "response.h"

struct app {
	const struct conf	*conf;
	struct db		 db;
	struct plan		 plan;	/* the blocking worker's one plan */
	/*
	 * This loop may run a statement itself before the plan (the
	 * blocking worker): HF_USER_FIRST routes check their caller first.
	 */
	bool sync_db;
};

void	app_init(struct app *, const struct conf *);
void	app_free(struct app *);

/*
 * Runs every step before the database.  Returns true when plan holds a
 * statement to run (or the handler streams), false when resp already
 * holds the answer.  The plan belongs to the request (an event loop has
 * one per request in flight).
 */
bool	app_begin(struct app *, struct req *, struct resp *, struct plan *);

/* Renders the result of the planned statement (res NULL when e != OK). */
void	app_finish(struct app *, struct req *, const PGresult *res,
	    enum terr e, struct resp *);

/*
 * The answered request's access log line and its count in /metrics,
 * for both worker loops.  method is passed apart: the blocking worker
 * has freed the params req->method_str pointed into.
 */
void	app_account(const struct req *, const char *method, int status);

/*
 * begin + db_exec + finish, or the streaming handler.  Returns
 * STREAM_RESP when resp must be sent, otherwise what the stream did.
 */
enum stream_result app_handle_blocking(struct app *, struct req *,
	    struct resp *, const struct stream_out *);

#endif /* TASKAPI_APP_H */
