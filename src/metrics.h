/*
 * metrics.h: the pool's counters, kept in the shared scoreboard, and
 * their two renderings: Prometheus text (/metrics) and the php-fpm-like
 * pool status (/status, JSON).
 *
 * Each worker counts into its own scoreboard slot (one writer per slot:
 * relaxed atomic adds, no lock, no cache line shared between workers).
 * When the master reaps a worker it folds the slot's counters into
 * scoreboard.retired, so the pool's totals never go backwards when a
 * worker is replaced.  A reader sums retired + every slot; the fold runs
 * under a sequence counter the reader retries on.
 */
#ifndef TASKAPI_METRICS_H
#define TASKAPI_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "router.h"

#define MET_ROUTES	(ROUTE__MAX + 1)	/* + "no route" (404) */
#define MET_CODES	17			/* met_code_index(): 16 + other */
#define MET_BUCKETS	14			/* upper bounds, + Inf = count */

enum met_db_err {
	MET_DB_UNAVAILABLE = 0,	/* connection lost, timeout, shutdown */
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
	atomic_ullong	 requests[MET_ROUTES][MET_CODES];
	/* Not cumulative; a route's count is the sum of its requests[]. */
	atomic_ullong	 dur_bucket[MET_ROUTES][MET_BUCKETS];
	atomic_ullong	 dur_sum_us[MET_ROUTES];
	atomic_ullong	 db_errors[MET_DB__MAX];
	atomic_ullong	 db_reconnects;		/* connections re-made */
	atomic_ullong	 db_connect_failures;
	atomic_ullong	 ev_bucket[MET_EV__MAX][MET_BUCKETS];
	atomic_ullong	 ev_count[MET_EV__MAX];
	atomic_ullong	 ev_sum_us[MET_EV__MAX];
};

struct scoreboard;
struct sb_slot;

/* The slot of this worker process (NULL in the master and in tests). */
extern struct sb_slot *metrics_self;

/* Counts one answered request in this worker's slot. */
void	metrics_observe(unsigned route, int status, int64_t dur_us);

/* Database events, counted in this worker's slot (db.c). */
void	metrics_db_error(enum met_db_err);
void	metrics_db_connect(int ok, int first);

/* One event-worker segment of us microseconds (ev_loop.c, ev_pipeline.c). */
void
metrics_ev_segment(enum met_ev_seg, int64_t us);

/* Adds every counter of from into to (the master, on reap). */
void	metrics_fold(struct sb_metrics *to, struct sb_metrics *from);

/*
 * Renders the pool's metrics / status into a malloc'd NUL-terminated
 * buffer (*len bytes without the NUL).  NULL on allocation failure.
 * now_mono_us is util_mono_us(), now_wall the epoch seconds.
 */
char	*metrics_render_prometheus(struct scoreboard *, size_t *len);
char	*metrics_render_status(struct scoreboard *, int64_t now_mono_us,
	    int64_t now_wall, size_t *len);

/* Index of a status code in the requests table (tests use it). */
unsigned met_code_index(int status);

#endif /* TASKAPI_METRICS_H */
