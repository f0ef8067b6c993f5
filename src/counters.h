/*
 * counters.h: the pool's request and database counters, one block per
 * worker in its scoreboard slot, and the fold of a dead worker's block
 * into the pool's retired totals.
 *
 * Each worker counts into its own block (one writer per block: relaxed
 * atomic adds, no lock, no cache line shared between workers).  When
 * the master reaps a worker it folds the block into the scoreboard's
 * retired one, so the pool's totals never go backwards when a worker is
 * replaced.  Rendering them (/metrics, /status) is metrics.c's job; this
 * file knows nothing of the scoreboard around the blocks, so the
 * scoreboard can fold without depending on the rendering.
 */
#ifndef TASKAPI_COUNTERS_H
#define TASKAPI_COUNTERS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "router.h"

#define MET_ROUTES  (ROUTE__MAX + 1) /* + "no route" (404) */
#define MET_CODES   21		     /* met_code_index(): 20 + other */
#define MET_BUCKETS 14		     /* upper bounds, + Inf = count */

enum met_db_err {
	MET_DB_UNAVAILABLE = 0, /* connection lost, timeout, shutdown */
	MET_DB_CONFLICT,	/* unique violation (e.g. e-mail taken) */
	MET_DB_INVALID,		/* data or check violation */
	MET_DB_OTHER,
	MET_DB__MAX
};

/*
 * The event worker's time, by segment (histograms, like the requests'):
 * one loop turn's work (from epoll_wait's return to the end of the turn:
 * a long one delays every connection the worker serves), a statement's
 * wait in the pipeline before it is sent, and its time in PostgreSQL
 * (sent to result, the commit's WAL flush included for a write).
 */
enum met_ev_seg {
	MET_EV_LOOP = 0,
	MET_EV_QUEUE,
	MET_EV_DB,
	MET_EV__MAX
};

struct sb_metrics {
	atomic_ullong requests[MET_ROUTES][MET_CODES];
	/* Not cumulative; a route's count is the sum of its requests[]. */
	atomic_ullong dur_bucket[MET_ROUTES][MET_BUCKETS];
	atomic_ullong dur_sum_us[MET_ROUTES];
	atomic_ullong db_errors[MET_DB__MAX];
	atomic_ullong db_reconnects; /* connections re-made */
	atomic_ullong db_connect_failures;
	/* reconnects that landed on another primary (db.c) */
	atomic_ullong db_failovers;
	/* writes answered 503 "outcome unknown" (TERR_UNKNOWN) */
	atomic_ullong outcome_unknown;
	atomic_ullong ev_bucket[MET_EV__MAX][MET_BUCKETS];
	atomic_ullong ev_count[MET_EV__MAX];
	atomic_ullong ev_sum_us[MET_EV__MAX];
	/* task lookups sent as batch statements (ev_batch.c), and those */
	atomic_ullong ev_batches;
	atomic_ullong ev_batched;
};

/* The block this worker process counts into (NULL: the master, tests). */
extern struct sb_metrics *counters_self;

/* The status codes counted one by one; met_codes[MET_CODES - 1] is none. */
extern const int met_codes[MET_CODES - 1];

/* Bucket upper bounds in µs. */
extern const int64_t met_bounds_us[MET_BUCKETS];

/* Counts one answered request in this worker's block. */
void
metrics_observe(unsigned route, int status, int64_t dur_us);

/* Database events, counted in this worker's block (db.c). */
void metrics_db_error(enum met_db_err);
/* A write answered 503 because its commit was not confirmed in time. */
void
metrics_outcome_unknown(void);
void
metrics_db_connect(int ok, int first);
void
metrics_db_failover(void);

/* One event-worker segment of us microseconds (ev_loop.c, ev_pipeline.c). */
void
metrics_ev_segment(enum met_ev_seg, int64_t us);

/* One batch statement of n task lookups (ev_batch.c). */
void
metrics_ev_batch(size_t n);

/* Moves every counter of from into to (the master, on reap). */
void
metrics_fold(struct sb_metrics *to, struct sb_metrics *from);

/* Index of a status code in the requests table. */
unsigned
met_code_index(int status);

#endif /* TASKAPI_COUNTERS_H */
