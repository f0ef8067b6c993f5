/*
 * render.h: the JSON answers the handlers share (render.c).
 */
#ifndef TASKAPI_RENDER_H
#define TASKAPI_RENDER_H

#include <libpq-fe.h>

#include "response.h"

struct buf;

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

#endif /* TASKAPI_RENDER_H */
