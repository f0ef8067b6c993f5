/*
 * ev_batch.h: a loop turn's task lookups as one statement.
 *
 * Why.  PostgreSQL's cost of a GET of one task is mostly per statement
 * (Bind, executor start and end, Describe), not per row: on PostgreSQL
 * alone, five lookups as one statement cost about 8 µs each against 13
 * as five statements (bench/HISTORY.md).  Under load one turn of the
 * event worker reads several requests, and their task lookups can go to
 * PostgreSQL as one task_get_batch statement whose rows are dealt back
 * to the requests as if each had run task_get.
 *
 * How.  ev_batch_submit takes a request's job: a task_get whose two ids
 * are canonical UUIDs is held until the turn's end; any other job goes
 * to the pipeline at once.  ev_batch_flush, at the turn's end before the
 * pipeline syncs, sends a lone held job as it is, and two or more (up to
 * EV_BATCH_MAX a statement) as one batch job of the pipeline.  When that
 * completes, each member job gets a PGresult of its own shaped exactly
 * as task_get's (no row: the caller is gone; a row of NULLs: no such
 * task of theirs), or the batch's error, and its done callback runs.
 * The batch is one job to the pipeline: its retry, its deadline and a
 * broken connection apply to the batch whole, as each would have to
 * every member alone.  Nothing is added to a request's wait: a held job
 * goes out in the same segment, before the same sync, as it would have.
 */
#ifndef TASKAPI_EV_BATCH_H
#define TASKAPI_EV_BATCH_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "ev_pipeline.h"

#define EV_BATCH_MAX 64 /* lookups in one statement */

/*
 * A uuid[] in PostgreSQL's binary form (array_send): the header (the
 * number of dimensions, a has-nulls flag, the element type, the one
 * dimension's length and lower bound), then each element as its length
 * and its 16 bytes.  Binary, not an array literal: PostgreSQL parses a
 * literal a character at a time (array_in, then uuid_in on each
 * element), which was 7% of its CPU on a GET (bench/HISTORY.md).
 */
#define EV_BATCH_ARRAY_HDR 20
#define EV_BATCH_ARRAY_LEN (EV_BATCH_ARRAY_HDR + EV_BATCH_MAX * (4 + 16))

struct ev_batcher;

struct ev_batch {
	struct ev_job	   job; /* what the pipeline runs */
	struct ev_batcher *owner;
	struct ev_job	  *members[EV_BATCH_MAX];
	size_t		   n;
	const char	  *values[2];
	int		   formats[2];
	int		   lengths[2];
	unsigned char	   users[EV_BATCH_ARRAY_LEN];
	unsigned char	   tasks[EV_BATCH_ARRAY_LEN];
	struct ev_batch	  *next_free;
	struct ev_batch	  *all_next; /* every batch made, to free */
};

/* How a job reaches the pipeline (ev_pipeline_submit, or a test's). */
typedef void
ev_batch_submit_fn(void *ctx, struct ev_job *);

struct ev_batcher {
	ev_batch_submit_fn *submit;
	void		   *ctx;
	bool		    enabled;
	struct ev_jobq	    held; /* linked by next, this turn's */
	struct ev_batch	   *free; /* done batches, kept for reuse */
	struct ev_batch	   *all;  /* every batch made */
};

/* enabled false: every job goes to submit at once, as without it. */
void
ev_batch_init(struct ev_batcher *b, ev_batch_submit_fn *submit, void *ctx,
    bool enabled);

/* Holds a task lookup for the turn's end, or submits the job now. */
void
ev_batch_submit(struct ev_batcher *, struct ev_job *);

/* The turn's end: sends what is held (before the pipeline's turn end). */
void
ev_batch_flush(struct ev_batcher *);

/*
 * Deals a batch result of n members out: its last column is a member's
 * ordinal (1-based), the others task_get's.  out[i] gets task_get's
 * columns and member i's row, or no row.  False when out of memory
 * (then out[] holds nothing).
 */
bool
ev_batch_split(const PGresult *batch, size_t n, PGresult *out[]);

/* Frees every batch (the pipeline is freed first, or holds none). */
void
ev_batch_free(struct ev_batcher *);

#endif /* TASKAPI_EV_BATCH_H */
