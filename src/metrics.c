/*
 * metrics.c: the pool's counters (counters.c) and workers (scoreboard.c)
 * rendered as Prometheus text and as the pool status JSON.
 *
 * The exposition format: https://prometheus.io/docs/instrumenting/
 * exposition_formats/ (HELP and TYPE once per family, counters named
 * *_total, histogram buckets cumulative with an le="+Inf" equal to
 * _count).  `promtool check metrics` parses it in 83-metrics.sh.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_limits.h"
#include "buf.h"
#include "counters.h"
#include "metrics.h"
#include "router.h"
#include "scoreboard.h"
#include "util.h"

/* Bucket upper bounds as Prometheus writes them: seconds. */

/* The label values of taskapi_ev_segment_seconds, by enum met_ev_seg. */
static const char *const met_ev_seg_names[MET_EV__MAX] = { "loop", "queue",
	"db" };
static const char *const met_bounds_s[MET_BUCKETS] = {
	"0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
	"0.05", "0.1", "0.25", "0.5", "1", "2.5", "5"
};

static const char *const met_db_err_names[MET_DB__MAX] = {
	[MET_DB_UNAVAILABLE] = "unavailable",
	[MET_DB_CONFLICT] = "conflict",
	[MET_DB_INVALID] = "invalid",
	[MET_DB_OTHER] = "other",
};

static unsigned long long
get(const atomic_ullong *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

/* A plain (non-atomic) copy of the pool's totals. */
struct met_sum {
	unsigned long long	 requests[MET_ROUTES][MET_CODES];
	unsigned long long	 dur_bucket[MET_ROUTES][MET_BUCKETS];
	unsigned long long	 count[MET_ROUTES]; /* sum of requests[r] */
	unsigned long long	 dur_sum_us[MET_ROUTES];
	unsigned long long	 db_errors[MET_DB__MAX];
	unsigned long long	 db_reconnects;
	unsigned long long	 db_connect_failures;
	unsigned long long	 db_failovers;
	unsigned long long	 outcome_unknown;
	unsigned long long	 ev_bucket[MET_EV__MAX][MET_BUCKETS];
	unsigned long long	 ev_count[MET_EV__MAX];
	unsigned long long	 ev_sum_us[MET_EV__MAX];
	unsigned long long	 ev_batches;
	unsigned long long	 ev_batched;
};

static void
add_all(unsigned long long *to, const atomic_ullong *from, size_t n)
{
	for (size_t i = 0; i < n; i++)
		to[i] += get(&from[i]);
}

static void
sum_one(struct met_sum *s, const struct sb_metrics *m)
{
	add_all(&s->requests[0][0], &m->requests[0][0],
	    (size_t)MET_ROUTES * MET_CODES);
	add_all(&s->dur_bucket[0][0], &m->dur_bucket[0][0],
	    (size_t)MET_ROUTES * MET_BUCKETS);
	add_all(s->dur_sum_us, m->dur_sum_us, MET_ROUTES);
	add_all(s->db_errors, m->db_errors, MET_DB__MAX);
	add_all(&s->db_reconnects, &m->db_reconnects, 1);
	add_all(&s->db_connect_failures, &m->db_connect_failures, 1);
	add_all(&s->db_failovers, &m->db_failovers, 1);
	add_all(&s->outcome_unknown, &m->outcome_unknown, 1);
	add_all(&s->ev_bucket[0][0], &m->ev_bucket[0][0],
	    (size_t)MET_EV__MAX * MET_BUCKETS);
	add_all(s->ev_count, m->ev_count, MET_EV__MAX);
	add_all(s->ev_sum_us, m->ev_sum_us, MET_EV__MAX);
	add_all(&s->ev_batches, &m->ev_batches, 1);
	add_all(&s->ev_batched, &m->ev_batched, 1);
}

/*
 * retired + every slot, retried while the master folds a slot (else a
 * counter read both in its slot and in retired would jump, then fall).
 */
static void
sum_pool(struct scoreboard *sb, struct met_sum *s)
{
	for (int tries = 0; tries < 100; tries++) {
		unsigned seq = atomic_load(&sb->fold_seq);

		if (seq & 1u)
			continue;
		memset(s, 0, sizeof(*s));
		sum_one(s, &sb->retired);
		for (size_t i = 0, used = scoreboard_used(sb); i < used; i++)
			sum_one(s, &sb->slots[i].met);
		if (atomic_load(&sb->fold_seq) == seq)
			break;
	}
	for (unsigned r = 0; r < MET_ROUTES; r++)
		for (unsigned c = 0; c < MET_CODES; c++)
			s->count[r] += s->requests[r][c];
}

/* The text, or NULL when a write failed. */
static char *
buf_finish(struct buf *b, size_t *len)
{
	if (b->failed || b->p == NULL) {
		buf_free(b);
		return NULL;
	}
	*len = b->len;
	return b->p;
}

static const char *
route_label(unsigned r)
{
	return r < ROUTE__MAX ? router_pattern((enum endpoint_id)r) : "none";
}

/* --- Prometheus text -------------------------------------------------- */

static void
family(struct buf *b, const char *name, const char *type, const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

char *
metrics_render_prometheus(struct scoreboard *sb, size_t *len)
{
	struct met_sum	*s;
	struct buf	 b = { 0 };
	unsigned	 workers[SB_KIND__MAX][SB__MAX];

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	sum_pool(sb, s);

	family(&b, "taskapi_requests_total", "counter",
	    "Requests answered by the pool, by route pattern and status.");
	for (unsigned r = 0; r < MET_ROUTES; r++)
		for (unsigned c = 0; c < MET_CODES; c++) {
			if (s->requests[r][c] == 0)
				continue;
			if (c < MET_CODES - 1)
				buf_printf(&b,
				    "taskapi_requests_total{route=\"%s\","
				    "status=\"%d\"} %llu\n",
				    route_label(r), met_codes[c],
				    s->requests[r][c]);
			else
				buf_printf(&b,
				    "taskapi_requests_total{route=\"%s\","
				    "status=\"other\"} %llu\n",
				    route_label(r), s->requests[r][c]);
		}

	family(&b, "taskapi_request_duration_seconds", "histogram",
	    "Time from the request's first byte at the worker to its "
	    "response, by route pattern.");
	for (unsigned r = 0; r < MET_ROUTES; r++) {
		unsigned long long cum = 0;

		if (s->count[r] == 0)
			continue;
		for (unsigned k = 0; k < MET_BUCKETS; k++) {
			cum += s->dur_bucket[r][k];
			buf_printf(&b,
			    "taskapi_request_duration_seconds_bucket"
			    "{route=\"%s\",le=\"%s\"} %llu\n",
			    route_label(r), met_bounds_s[k], cum);
		}
		buf_printf(&b,
		    "taskapi_request_duration_seconds_bucket"
		    "{route=\"%s\",le=\"+Inf\"} %llu\n",
		    route_label(r), s->count[r]);
		buf_printf(&b,
		    "taskapi_request_duration_seconds_sum{route=\"%s\"} "
		    "%llu.%06llu\n",
		    route_label(r), s->dur_sum_us[r] / 1000000,
		    s->dur_sum_us[r] % 1000000);
		buf_printf(&b,
		    "taskapi_request_duration_seconds_count"
		    "{route=\"%s\"} %llu\n",
		    route_label(r), s->count[r]);
	}

	family(&b, "taskapi_db_errors_total", "counter",
	    "Statements that failed in PostgreSQL, by kind.");
	for (unsigned e = 0; e < MET_DB__MAX; e++)
		buf_printf(&b, "taskapi_db_errors_total{kind=\"%s\"} %llu\n",
		    met_db_err_names[e], s->db_errors[e]);
	family(&b, "taskapi_db_reconnects_total", "counter",
	    "Database connections made again after one was lost.");
	buf_printf(&b, "taskapi_db_reconnects_total %llu\n", s->db_reconnects);
	family(&b, "taskapi_db_connect_failures_total", "counter",
	    "Attempts to connect to the database that failed.");
	buf_printf(&b, "taskapi_db_connect_failures_total %llu\n",
	    s->db_connect_failures);
	family(&b, "taskapi_db_failovers_total", "counter",
	    "Reconnects that found a different primary (another server, "
	    "or a new timeline) than the connection they replaced.");
	buf_printf(&b, "taskapi_db_failovers_total %llu\n", s->db_failovers);
	family(&b, "taskapi_writes_outcome_unknown_total", "counter",
	    "Writes answered 503 because their commit was not confirmed "
	    "in time (TASKAPI_DB_COMMIT_TIMEOUT, a lost connection): each "
	    "may have committed.");
	buf_printf(&b, "taskapi_writes_outcome_unknown_total %llu\n",
	    s->outcome_unknown);

	family(&b, "taskapi_ev_read_batches_total", "counter",
	    "Event workers: statements that looked up several requests' "
	    "tasks at once (one loop turn's GETs of a task).");
	buf_printf(&b, "taskapi_ev_read_batches_total %llu\n", s->ev_batches);
	family(&b, "taskapi_ev_batched_reads_total", "counter",
	    "Event workers: task lookups answered by those statements.");
	buf_printf(&b, "taskapi_ev_batched_reads_total %llu\n", s->ev_batched);

	family(&b, "taskapi_ev_segment_seconds", "histogram",
	    "Event workers: one loop turn's work (loop), a statement's wait "
	    "before it is sent (queue), its time in PostgreSQL (db).");
	for (unsigned g = 0; g < MET_EV__MAX; g++) {
		unsigned long long cum = 0;

		for (unsigned k = 0; k < MET_BUCKETS; k++) {
			cum += s->ev_bucket[g][k];
			buf_printf(&b,
			    "taskapi_ev_segment_seconds_bucket"
			    "{segment=\"%s\",le=\"%s\"} %llu\n",
			    met_ev_seg_names[g], met_bounds_s[k], cum);
		}
		buf_printf(&b,
		    "taskapi_ev_segment_seconds_bucket"
		    "{segment=\"%s\",le=\"+Inf\"} %llu\n",
		    met_ev_seg_names[g], s->ev_count[g]);
		buf_printf(&b,
		    "taskapi_ev_segment_seconds_sum{segment=\"%s\"} "
		    "%llu.%06llu\n",
		    met_ev_seg_names[g], s->ev_sum_us[g] / 1000000,
		    s->ev_sum_us[g] % 1000000);
		buf_printf(&b,
		    "taskapi_ev_segment_seconds_count{segment=\"%s\"} "
		    "%llu\n",
		    met_ev_seg_names[g], s->ev_count[g]);
	}

	family(&b, "taskapi_worker_restarts_total", "counter",
	    "Workers the master replaced, by kind and reason.");
	for (int k = 0; k < SB_KIND__MAX; k++)
		for (int w = 0; w < SB_EXIT__MAX; w++)
			if (w != SB_EXIT_IDLE)
				buf_printf(&b,
				    "taskapi_worker_restarts_total{kind="
				    "\"%s\",reason=\"%s\"} %llu\n",
				    sb_kind_name(k), sb_exit_name(w),
				    get(&sb->exits[k][w]));
	/* Not a restart: the pool shrinking back to its spare workers. */
	family(&b, "taskapi_worker_idle_stops_total", "counter",
	    "Blocking workers stopped for being idle beyond the spare ones.");
	buf_printf(&b, "taskapi_worker_idle_stops_total %llu\n",
	    get(&sb->exits[SB_KIND_FCGI][SB_EXIT_IDLE]));

	memset(workers, 0, sizeof(workers));
	for (size_t i = 0, used = scoreboard_used(sb); i < used; i++) {
		const struct sb_slot *sl = &sb->slots[i];
		int st = atomic_load(&sl->state), k = atomic_load(&sl->kind);

		if (atomic_load(&sl->pid) == 0 || st <= SB_EMPTY ||
		    st >= SB__MAX || k < 0 || k >= SB_KIND__MAX)
			continue;
		workers[k][st]++;
	}
	family(&b, "taskapi_workers", "gauge",
	    "Workers now, by kind and state (an event worker is busy while "
	    "any request is open on it).");
	for (int k = 0; k < SB_KIND__MAX; k++)
		for (int st = SB_STARTING; st < SB__MAX; st++)
			buf_printf(&b,
			    "taskapi_workers{kind=\"%s\",state=\"%s\"} "
			    "%u\n",
			    sb_kind_name(k), sb_state_name(st), workers[k][st]);

	family(&b, "taskapi_start_time_seconds", "gauge",
	    "When the master started, seconds since the epoch.");
	buf_printf(&b, "taskapi_start_time_seconds %lld\n",
	    (long long)sb->started_wall);
	family(&b, "taskapi_build_info", "gauge",
	    "Always 1; the version is the label.");
	buf_printf(&b, "taskapi_build_info{version=\"%s\"} 1\n",
	    PACKAGE_VERSION);

	free(s);
	return buf_finish(&b, len);
}

/* --- pool status (JSON) ------------------------------------------------ */

char *
metrics_render_status(struct scoreboard *sb, int64_t now_mono_us,
    int64_t now_wall, size_t *len)
{
	struct buf		 b = { 0 };
	unsigned long long	 accepted = 0, restarts = 0;
	unsigned		 idle = 0, busy = 0, total = 0;
	char			 started[LIM_TIMESTAMP_LEN + 1];
	bool			 first = true;
	const char		*pm;
	int			 pm_max, pm_spare;

	for (size_t i = 0, used = scoreboard_used(sb); i < used; i++) {
		const struct sb_slot *sl = &sb->slots[i];
		int st = atomic_load(&sl->state);

		if (atomic_load(&sl->pid) == 0 || st == SB_EMPTY)
			continue;
		total++;
		idle += st == SB_IDLE;
		busy += st == SB_BUSY || st == SB_READING;
	}
	{
		struct met_sum *s = calloc(1, sizeof(*s));
		if (s == NULL)
			return NULL;
		sum_pool(sb, s);
		for (unsigned r = 0; r < MET_ROUTES; r++)
			accepted += s->count[r];
		free(s);
	}
	for (int k = 0; k < SB_KIND__MAX; k++)
		for (int w = 0; w < SB_EXIT__MAX; w++)
			if (w != SB_EXIT_IDLE)
				restarts += get(&sb->exits[k][w]);
	if (!util_rfc3339_format(sb->started_wall * 1000000, started,
	    sizeof(started)))
		snprintf(started, sizeof(started), "?");

	pm_max = atomic_load(&sb->pm_max);
	pm_spare = atomic_load(&sb->pm_spare);
	/* php-fpm's names: how the blocking pool is sized. */
	pm = pm_spare >= pm_max ? "static" :
	    pm_spare == 0	? "ondemand" :
				  "dynamic";
	buf_printf(&b,
	    "{\"pool\":\"taskapi\",\"version\":\"%s\","
	    "\"start_time\":\"%s\",\"uptime_seconds\":%lld,"
	    "\"accepted_requests\":%llu,\"restarts\":%llu,"
	    "\"process_manager\":{\"fastcgi\":\"%s\",\"max_workers\":%d,"
	    "\"spare_workers\":%d,\"idle_timeout_seconds\":%d},"
	    "\"workers\":{\"total\":%u,\"idle\":%u,\"busy\":%u},"
	    "\"processes\":[",
	    PACKAGE_VERSION, started, (long long)(now_wall - sb->started_wall),
	    accepted, restarts, pm, pm_max,
	    pm_spare < pm_max ? pm_spare : pm_max,
	    atomic_load(&sb->pm_idle_timeout_s), total, idle, busy);
	for (size_t i = 0, used = scoreboard_used(sb); i < used; i++) {
		const struct sb_slot *sl = &sb->slots[i];
		int	 pid = atomic_load(&sl->pid);
		int	 st = atomic_load(&sl->state);
		int	 kind = atomic_load(&sl->kind);
		int64_t	 start = atomic_load(&sl->req_start_us);
		int64_t	 born = atomic_load(&sl->started_us);

		if (pid == 0 || st == SB_EMPTY)
			continue;
		buf_printf(&b,
		    "%s{\"pid\":%d,\"kind\":\"%s\",\"state\":\"%s\","
		    "\"requests\":%llu,\"age_seconds\":%lld,",
		    first ? "" : ",", pid, sb_kind_name(kind),
		    sb_state_name(st), get(&sl->requests),
		    born > 0 ? (long long)((now_mono_us - born) / 1000000) :
			       0LL);
		first = false;
		if (kind == SB_KIND_EV)
			buf_printf(&b,
			    "\"requests_in_flight\":%d,\"connections\":%d,"
			    "\"current_request_ms\":null}",
			    atomic_load(&sl->inflight),
			    atomic_load_explicit(&sl->conns,
				memory_order_relaxed));
		else if (st == SB_BUSY && start > 0)
			buf_printf(&b,
			    "\"requests_in_flight\":1,"
			    "\"current_request_ms\":%lld}",
			    (long long)((now_mono_us - start) / 1000));
		else
			buf_printf(&b,
			    "\"requests_in_flight\":0,"
			    "\"current_request_ms\":null}");
	}
	buf_printf(&b, "]}\n");
	return buf_finish(&b, len);
}
