/*
 * t_metrics.c: counting into scoreboard slots, folding a dead worker's
 * counts, the Prometheus and status renderings; and W3C trace context
 * (req_set_trace).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "counters.h"
#include "metrics.h"
#include "request.h"
#include "router.h"
#include "scoreboard.h"

/* The value of one exact series in a Prometheus text, or -1. */
static long long
sample(const char *text, const char *series)
{
	size_t		 n = strlen(series);
	const char	*p = text;

	while ((p = strstr(p, series)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[n] == ' ')
			return strtoll(p + n + 1, NULL, 10);
		p += n;
	}
	return -1;
}

static void
test_code_index(void **state)
{
	(void)state;
	assert_int_equal(met_code_index(200), 0);
	assert_int_not_equal(met_code_index(404), met_code_index(405));
	assert_int_equal(met_code_index(299), MET_CODES - 1);
	assert_int_equal(met_code_index(-1), MET_CODES - 1);
}

static void
test_observe_fold_render(void **state)
{
	struct scoreboard	*sb = scoreboard_create(4);
	char			*text;
	size_t			 len;

	(void)state;
	assert_non_null(sb);
	atomic_store(&sb->used, 4u); /* as the master, at each spawn */
	/* Worker 0 and worker 1 each count some requests. */
	counters_self = &sb->slots[0].met;
	metrics_observe(EP_TASK_GET, 200, 300);	 /* 0.3 ms */
	metrics_observe(EP_TASK_GET, 200, 7000); /* 7 ms */
	metrics_observe(ROUTE__MAX, 404, 10);
	metrics_db_error(MET_DB_CONFLICT);
	counters_self = &sb->slots[1].met;
	metrics_observe(EP_TASK_GET, 200, 60000000);	/* past every bucket */
	metrics_observe(99, 418, 5);			/* clamped, "other" */
	metrics_db_connect(1, 1);	/* first connect: not a reconnect */
	metrics_db_connect(1, 0);
	metrics_db_connect(0, 0);
	counters_self = NULL;
	metrics_observe(EP_TASK_GET, 200, 1); /* no slot: ignored */

	/* Worker 0 dies: its counts move to retired, totals unchanged. */
	atomic_store(&sb->slots[0].pid, 1234);
	scoreboard_retire(sb, 0, SB_KIND_FCGI, SB_EXIT_CRASH, 1);
	assert_int_equal(atomic_load(&sb->slots[0].pid), 0);
	assert_int_equal(atomic_load(
			     &sb->slots[0].met.requests[EP_TASK_GET][0]),
	    0);
	/* Worker 2 is stopped for idling beyond the spares: not a restart. */
	atomic_store(&sb->slots[2].pid, 1235);
	scoreboard_retire(sb, 2, SB_KIND_FCGI, SB_EXIT_IDLE, 1);

	text = metrics_render_prometheus(sb, &len);
	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	assert_int_equal(sample(text, "taskapi_requests_total"
	    "{route=\"/api/v1/tasks/{id}\",status=\"200\"}"), 3);
	assert_int_equal(sample(text,
	    "taskapi_requests_total{route=\"none\",status=\"404\"}"), 1);
	assert_int_equal(sample(text,
	    "taskapi_requests_total{route=\"none\",status=\"other\"}"), 1);
	/* Buckets are cumulative; +Inf is the count. */
	assert_int_equal(sample(text, "taskapi_request_duration_seconds_bucket"
	    "{route=\"/api/v1/tasks/{id}\",le=\"0.00025\"}"), 0);
	assert_int_equal(sample(text, "taskapi_request_duration_seconds_bucket"
	    "{route=\"/api/v1/tasks/{id}\",le=\"0.0005\"}"), 1);
	assert_int_equal(sample(text, "taskapi_request_duration_seconds_bucket"
	    "{route=\"/api/v1/tasks/{id}\",le=\"0.01\"}"), 2);
	assert_int_equal(sample(text, "taskapi_request_duration_seconds_bucket"
	    "{route=\"/api/v1/tasks/{id}\",le=\"5\"}"), 2);
	assert_int_equal(sample(text, "taskapi_request_duration_seconds_bucket"
	    "{route=\"/api/v1/tasks/{id}\",le=\"+Inf\"}"), 3);
	assert_non_null(strstr(text, "taskapi_request_duration_seconds_sum"
	    "{route=\"/api/v1/tasks/{id}\"} 60.007300\n"));
	assert_int_equal(sample(text,
	    "taskapi_db_errors_total{kind=\"conflict\"}"), 1);
	assert_int_equal(sample(text, "taskapi_db_reconnects_total"), 1);
	assert_int_equal(sample(text, "taskapi_db_connect_failures_total"), 1);
	assert_int_equal(sample(text, "taskapi_worker_restarts_total"
	    "{kind=\"fastcgi\",reason=\"crash\"}"), 1);
	assert_int_equal(sample(text, "taskapi_worker_idle_stops_total"), 1);
	assert_null(strstr(text, "reason=\"idle\""));
	/* Families are declared once each. */
	assert_non_null(strstr(text, "# TYPE taskapi_requests_total counter\n"));
	assert_non_null(strstr(text,
	    "# TYPE taskapi_request_duration_seconds histogram\n"));
	free(text);
}

/* The event worker's segments: counted per slot, kept when the worker
 * is retired, rendered as one histogram with a segment label. */
static void
test_ev_segments(void **state)
{
	struct scoreboard *sb = scoreboard_create(2);
	char		  *text;
	size_t		   len;

	(void)state;
	assert_non_null(sb);
	atomic_store(&sb->used, 2u);
	counters_self = &sb->slots[0].met;
	metrics_ev_segment(MET_EV_LOOP, 100);	/* 0.1 ms */
	metrics_ev_segment(MET_EV_LOOP, 30000); /* 30 ms: a stall */
	metrics_ev_segment(MET_EV_DB, -5);	/* clock step: 0 */
	metrics_ev_segment(MET_EV__MAX, 1);	/* no such segment */
	counters_self = &sb->slots[1].met;
	metrics_ev_segment(MET_EV_QUEUE, 7000000); /* past every bucket */
	counters_self = NULL;
	metrics_ev_segment(MET_EV_LOOP, 1); /* no slot: ignored */
	atomic_store(&sb->slots[0].pid, 1234);
	scoreboard_retire(sb, 0, SB_KIND_EV, SB_EXIT_RELOAD, 1);

	text = metrics_render_prometheus(sb, &len);
	assert_non_null(text);
	assert_int_equal(sample(text,
			     "taskapi_ev_segment_seconds_bucket"
			     "{segment=\"loop\",le=\"0.00025\"}"),
	    1);
	assert_int_equal(sample(text,
			     "taskapi_ev_segment_seconds_bucket"
			     "{segment=\"loop\",le=\"0.025\"}"),
	    1);
	assert_int_equal(sample(text,
			     "taskapi_ev_segment_seconds_bucket"
			     "{segment=\"loop\",le=\"0.05\"}"),
	    2);
	assert_int_equal(
	    sample(text, "taskapi_ev_segment_seconds_count{segment=\"loop\"}"),
	    2);
	assert_non_null(strstr(text,
	    "taskapi_ev_segment_seconds_sum"
	    "{segment=\"loop\"} 0.030100\n"));
	assert_int_equal(sample(text,
			     "taskapi_ev_segment_seconds_bucket"
			     "{segment=\"db\",le=\"0.00025\"}"),
	    1);
	assert_int_equal(sample(text,
			     "taskapi_ev_segment_seconds_bucket"
			     "{segment=\"queue\",le=\"5\"}"),
	    0);
	assert_int_equal(sample(text,
			     "taskapi_ev_segment_seconds_bucket"
			     "{segment=\"queue\",le=\"+Inf\"}"),
	    1);
	assert_non_null(
	    strstr(text, "# TYPE taskapi_ev_segment_seconds histogram\n"));
	free(text);
}

static void
test_status_json(void **state)
{
	struct scoreboard	*sb = scoreboard_create(4);
	struct json_object	*o, *procs, *p0, *v;
	char			*text;
	size_t			 len;

	(void)state;
	assert_non_null(sb);
	/* The master has filled slots 0..2; slot 3 is past "used", unread. */
	atomic_store(&sb->used, 3u);
	atomic_store(&sb->slots[3].pid, 103);
	atomic_store(&sb->slots[3].state, SB_IDLE);
	atomic_store(&sb->slots[0].pid, 100);
	atomic_store(&sb->slots[0].state, SB_BUSY);
	atomic_store(&sb->slots[0].req_start_us, 1000000LL);
	atomic_store(&sb->slots[0].started_us, 500000LL);
	atomic_store(&sb->slots[0].requests, 7ULL);
	atomic_store(&sb->slots[2].pid, 102);
	atomic_store(&sb->slots[2].kind, SB_KIND_EV);
	atomic_store(&sb->slots[2].state, SB_IDLE);
	text = metrics_render_status(sb, 3500000LL, sb->started_wall + 9, &len);
	assert_non_null(text);
	o = json_tokener_parse(text);
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "processes", &procs));
	assert_int_equal(json_object_array_length(procs), 2);
	p0 = json_object_array_get_idx(procs, 0);
	assert_true(json_object_object_get_ex(p0, "current_request_ms", &v));
	assert_int_equal(json_object_get_int(v), 2500);
	assert_true(json_object_object_get_ex(p0, "requests", &v));
	assert_int_equal(json_object_get_int(v), 7);
	assert_true(json_object_object_get_ex(o, "uptime_seconds", &v));
	assert_int_equal(json_object_get_int(v), 9);
	json_object_put(o);
	free(text);

	/* How the blocking pool is sized, in php-fpm's words. */
	{
		static const struct {
			int	    max, spare;
			const char *name;
			int	    spare_shown;
		} pms[] = {
			{ 4, 0, "ondemand", 0 },
			{ 4, 1, "dynamic", 1 },
			{ 4, 4, "static", 4 },
			{ 4, 256, "static", 4 },
		};
		for (size_t i = 0; i < sizeof(pms) / sizeof(pms[0]); i++) {
			struct json_object *pm;

			atomic_store(&sb->pm_max, pms[i].max);
			atomic_store(&sb->pm_spare, pms[i].spare);
			atomic_store(&sb->pm_idle_timeout_s, 10);
			text = metrics_render_status(sb, 3500000LL,
			    sb->started_wall + 9, &len);
			assert_non_null(text);
			o = json_tokener_parse(text);
			assert_non_null(o);
			assert_true(json_object_object_get_ex(o,
			    "process_manager", &pm));
			assert_true(
			    json_object_object_get_ex(pm, "fastcgi", &v));
			assert_string_equal(json_object_get_string(v),
			    pms[i].name);
			assert_true(
			    json_object_object_get_ex(pm, "max_workers", &v));
			assert_int_equal(json_object_get_int(v), pms[i].max);
			assert_true(
			    json_object_object_get_ex(pm, "spare_workers", &v));
			assert_int_equal(json_object_get_int(v),
			    pms[i].spare_shown);
			assert_true(json_object_object_get_ex(pm,
			    "idle_timeout_seconds", &v));
			assert_int_equal(json_object_get_int(v), 10);
			json_object_put(o);
			free(text);
		}
	}
}

static void
test_trace(void **state)
{
	struct req	 r;
	char		 tr[56];

	(void)state;
	memset(&r, 0, sizeof(r));
	req_set_request_id(&r, "0123456789abcdef0123456789abcdef");
	req_set_trace(&r,
	    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
	assert_string_equal(r.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
	assert_int_equal(strlen(r.traceresponse), 55);
	assert_memory_equal(r.traceresponse,
	    "00-4bf92f3577b34da6a3ce929d0e0e4736-", 36);
	assert_memory_not_equal(r.traceresponse + 36, "00f067aa0ba902b7", 16);
	assert_string_equal(r.traceresponse + 52, "-01");
	memcpy(tr, r.traceresponse, sizeof(tr));
	req_set_trace(&r,
	    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
	assert_string_not_equal(r.traceresponse, tr);	/* a new span */

	/* Malformed: a new trace, from the request id. */
	req_set_trace(&r,
	    "00-00000000000000000000000000000000-00f067aa0ba902b7-01");
	assert_string_equal(r.trace_id, "0123456789abcdef0123456789abcdef");
	req_set_trace(&r,
	    "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01");
	assert_string_equal(r.trace_id, "0123456789abcdef0123456789abcdef");
	req_set_trace(&r,
	    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x");
	assert_string_equal(r.trace_id, "0123456789abcdef0123456789abcdef");
	req_set_trace(&r, NULL);
	assert_string_equal(r.trace_id, "0123456789abcdef0123456789abcdef");
	assert_string_equal(r.traceresponse + 52, "-00");
	/* A later version may append fields. */
	req_set_trace(&r,
	    "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-zz");
	assert_string_equal(r.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");

	/* A request id that is not 32 hex digits: a random trace id. */
	req_set_request_id(&r, "client-chosen-id");
	req_set_trace(&r, NULL);
	assert_int_equal(strlen(r.trace_id), 32);
	assert_string_not_equal(r.trace_id, "0123456789abcdef0123456789abcdef");
	req_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_code_index),
		cmocka_unit_test(test_observe_fold_render),
		cmocka_unit_test(test_ev_segments),
		cmocka_unit_test(test_status_json),
		cmocka_unit_test(test_trace),
	};

	return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
