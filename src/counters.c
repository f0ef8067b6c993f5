/*
 * counters.c: counting into this worker's block, and the master's fold
 * of a dead worker's block into the retired totals.
 */
#include "config.h"

#include "counters.h"

struct sb_metrics *counters_self;

/* The status codes the app sends; anything else is "other". */
const int met_codes[MET_CODES - 1] = { 200, 201, 204, 304, 400, 401, 403, 404,
	405, 409, 412, 413, 415, 422, 428, 429, 500, 502, 503, 504 };

const int64_t met_bounds_us[MET_BUCKETS] = { 250, 500, 1000, 2500, 5000, 10000,
	25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000 };

unsigned
met_code_index(int status)
{
	for (unsigned i = 0; i < MET_CODES - 1; i++)
		if (met_codes[i] == status)
			return i;
	return MET_CODES - 1;
}

static void
inc(atomic_ullong *c, unsigned long long n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

void
metrics_observe(unsigned route, int status, int64_t dur_us)
{
	struct sb_metrics *m = counters_self;
	unsigned	   b;

	if (m == NULL)
		return;
	if (route >= MET_ROUTES)
		route = MET_ROUTES - 1;
	if (dur_us < 0)
		dur_us = 0;
	inc(&m->requests[route][met_code_index(status)], 1);
	for (b = 0; b < MET_BUCKETS && dur_us > met_bounds_us[b]; b++)
		;
	if (b < MET_BUCKETS)
		inc(&m->dur_bucket[route][b], 1);
	inc(&m->dur_sum_us[route], (unsigned long long)dur_us);
}

void
metrics_db_error(enum met_db_err e)
{
	if (counters_self != NULL && e < MET_DB__MAX)
		inc(&counters_self->db_errors[e], 1);
}

void
metrics_db_connect(int ok, int first)
{
	if (counters_self == NULL)
		return;
	if (!ok)
		inc(&counters_self->db_connect_failures, 1);
	else if (!first)
		inc(&counters_self->db_reconnects, 1);
}

void
metrics_ev_segment(enum met_ev_seg seg, int64_t us)
{
	unsigned b;

	if (counters_self == NULL || seg >= MET_EV__MAX)
		return;
	if (us < 0)
		us = 0;
	for (b = 0; b < MET_BUCKETS && us > met_bounds_us[b]; b++)
		;
	if (b < MET_BUCKETS)
		inc(&counters_self->ev_bucket[seg][b], 1);
	inc(&counters_self->ev_count[seg], 1);
	inc(&counters_self->ev_sum_us[seg], (unsigned long long)us);
}

void
metrics_db_failover(void)
{
	if (counters_self != NULL)
		inc(&counters_self->db_failovers, 1);
}

void
metrics_ev_batch(size_t n)
{
	if (counters_self == NULL)
		return;
	inc(&counters_self->ev_batches, 1);
	inc(&counters_self->ev_batched, n);
}

void
metrics_outcome_unknown(void)
{
	if (counters_self != NULL)
		inc(&counters_self->outcome_unknown, 1);
}

/* Moves every counter of from into to (the worker behind from is dead). */
static void
move(atomic_ullong *to, atomic_ullong *from, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		inc(&to[i],
		    atomic_load_explicit(&from[i], memory_order_relaxed));
		atomic_store_explicit(&from[i], 0, memory_order_relaxed);
	}
}

void
metrics_fold(struct sb_metrics *to, struct sb_metrics *from)
{
	move(&to->requests[0][0], &from->requests[0][0],
	    (size_t)MET_ROUTES * MET_CODES);
	move(&to->dur_bucket[0][0], &from->dur_bucket[0][0],
	    (size_t)MET_ROUTES * MET_BUCKETS);
	move(to->dur_sum_us, from->dur_sum_us, MET_ROUTES);
	move(to->db_errors, from->db_errors, MET_DB__MAX);
	move(&to->db_reconnects, &from->db_reconnects, 1);
	move(&to->db_connect_failures, &from->db_connect_failures, 1);
	move(&to->db_failovers, &from->db_failovers, 1);
	move(&to->outcome_unknown, &from->outcome_unknown, 1);
	move(&to->ev_bucket[0][0], &from->ev_bucket[0][0],
	    (size_t)MET_EV__MAX * MET_BUCKETS);
	move(to->ev_count, from->ev_count, MET_EV__MAX);
	move(to->ev_sum_us, from->ev_sum_us, MET_EV__MAX);
	move(&to->ev_batches, &from->ev_batches, 1);
	move(&to->ev_batched, &from->ev_batched, 1);
}
