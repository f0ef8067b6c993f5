/*
 * t_ev_pipeline.c: the event worker's pipeline rules against a
 * simulated PostgreSQL behind the ev_pq_ops seam.
 *
 * The simulation answers as PostgreSQL does in pipeline mode: each
 * statement gives its result and a NULL; after a failure in a segment
 * the rest of it gives PGRES_PIPELINE_ABORTED (and a NULL) until the
 * sync, which gives PGRES_PIPELINE_SYNC.  Whether a statement fails is
 * read from its first parameter: "ok", "err:SQLSTATE" (always) or
 * "once:SQLSTATE" (the first time it is sent).  Results become readable
 * when the test delivers them.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ev_pipeline.h"
#include "util.h"

/* Room for a few full segments (EV_SEGMENT_MAX statements each). */
#define SIM_ORDER (4 * EV_SEGMENT_MAX)
#define SIM_EVS	  (2 * SIM_ORDER + 64)

enum ev_kind {
	R_RES,
	R_NULL,
	R_SYNC
};

struct fres {
	ExecStatusType st;
	const char    *state;
};

struct ev {
	enum ev_kind   kind;
	ExecStatusType st;
	const char    *state;
};

struct sim {
	bool		     up;
	bool		     broken;  /* consume fails */
	bool		     aborted; /* the segment has failed */
	struct ev	     evs[SIM_EVS];
	size_t		     nev, delivered, read;
	int		     sent, syncs, opens, cancels, steps;
	bool		     slow_open;	  /* open waits for open_result */
	bool		     refuse_open; /* open fails at once */
	enum db_step	     open_result; /* what a step with io gives */
	const struct ev_job *once_done[16];
	size_t		     nonce;
	const struct ev_job *order[SIM_ORDER]; /* what was sent, in order */
	size_t		     norder;
};

static struct sim sims[EV_PG_MAX];
static int	  live_results; /* created and not cleared */

static struct sim *
S(struct ev_pgconn *pg)
{
	return pg->sim;
}

static void
push(struct sim *s, enum ev_kind k, ExecStatusType st, const char *state)
{
	assert_true(s->nev < SIM_EVS);
	s->evs[s->nev].kind = k;
	s->evs[s->nev].st = st;
	s->evs[s->nev].state = state;
	s->nev++;
}

/* A connection that opens at once, or (slow_open) only when the test
 * says, by open_result, and a step with io comes. */
static enum db_step
f_open(struct ev_pgconn *pg, int64_t now)
{
	struct sim *s = S(pg);

	(void)now;
	memset(s->evs, 0, sizeof(s->evs));
	s->nev = s->delivered = s->read = 0;
	s->aborted = s->broken = false;
	s->opens++;
	if (s->refuse_open)
		return DB_STEP_FAILED;
	if (s->slow_open)
		return DB_STEP_WRITE;
	s->up = true;
	return DB_STEP_READY;
}

static enum db_step
f_step(struct ev_pgconn *pg, bool io, int64_t now)
{
	struct sim *s = S(pg);

	(void)now;
	s->steps++;
	if (!io || s->open_result == DB_STEP_WAIT)
		return DB_STEP_WAIT;
	if (s->open_result == DB_STEP_READY)
		s->up = true;
	return s->open_result;
}

static int
f_socket(const struct ev_pgconn *pg)
{
	return 100 + (int)((const struct sim *)pg->sim - sims);
}

static void
f_close(struct ev_pgconn *pg)
{
	S(pg)->up = false;
}

static bool
f_connected(const struct ev_pgconn *pg)
{
	return ((const struct sim *)pg->sim)->up;
}

static int
f_send(struct ev_pgconn *pg, const struct ev_job *j)
{
	struct sim *s = S(pg);
	const char *p = j->nparams > 0 ? j->values[0] : "ok";

	s->sent++;
	if (s->norder < SIM_ORDER)
		s->order[s->norder++] = j;
	if (s->aborted) {
		push(s, R_RES, PGRES_PIPELINE_ABORTED, NULL);
		push(s, R_NULL, 0, NULL);
		return 1;
	}
	if (strncmp(p, "err:", 4) == 0 ||
	    (strncmp(p, "once:", 5) == 0 && s->nonce < 16)) {
		bool fail = true;

		if (p[0] == 'o') {
			for (size_t i = 0; i < s->nonce; i++)
				if (s->once_done[i] == j)
					fail = false;
			if (fail)
				s->once_done[s->nonce++] = j;
		}
		if (fail) {
			push(s, R_RES, PGRES_FATAL_ERROR, strchr(p, ':') + 1);
			push(s, R_NULL, 0, NULL);
			s->aborted = true;
			return 1;
		}
	}
	push(s, R_RES, PGRES_TUPLES_OK, NULL);
	push(s, R_NULL, 0, NULL);
	return 1;
}

static int
f_cancel(struct ev_pgconn *pg)
{
	S(pg)->cancels++;
	return 0;
}

static int
f_sync(struct ev_pgconn *pg)
{
	struct sim *s = S(pg);

	s->syncs++;
	push(s, R_SYNC, PGRES_PIPELINE_SYNC, NULL);
	s->aborted = false;
	return 1;
}

static int
f_flush(struct ev_pgconn *pg)
{
	(void)pg;
	return 0;
}

static int
f_consume(struct ev_pgconn *pg)
{
	return S(pg)->broken ? 0 : 1;
}

static bool
f_busy(struct ev_pgconn *pg)
{
	return S(pg)->read >= S(pg)->delivered;
}

static PGresult *
f_result(struct ev_pgconn *pg)
{
	struct sim  *s = S(pg);
	struct ev   *e = &s->evs[s->read++];
	struct fres *r;

	if (e->kind == R_NULL)
		return NULL;
	r = malloc(sizeof(*r));
	assert_non_null(r);
	r->st = e->st;
	r->state = e->state;
	live_results++;
	return (PGresult *)(void *)r;
}

static ExecStatusType
f_status(const PGresult *res)
{
	return ((const struct fres *)(const void *)res)->st;
}

static const char *
f_sqlstate(const PGresult *res)
{
	return ((const struct fres *)(const void *)res)->state;
}

static enum terr
f_error(struct ev_pgconn *pg, const PGresult *res)
{
	const char *st = f_sqlstate(res);

	(void)pg;
	return st != NULL && strcmp(st, "23505") == 0 ? TERR_CONFLICT : TERR_DB;
}

static void
f_clear(PGresult *res)
{
	if (res != NULL) {
		live_results--;
		free(res);
	}
}

static const char *
f_message(struct ev_pgconn *pg)
{
	(void)pg;
	return "simulated";
}

static const struct ev_pq_ops sim_ops = {
	.open = f_open,
	.step = f_step,
	.socket = f_socket,
	.close = f_close,
	.connected = f_connected,
	.send = f_send,
	.cancel = f_cancel,
	.sync = f_sync,
	.flush = f_flush,
	.consume = f_consume,
	.busy = f_busy,
	.result = f_result,
	.status = f_status,
	.sqlstate = f_sqlstate,
	.error = f_error,
	.clear = f_clear,
	.message = f_message,
	.watch = NULL,
};

/* A job as a request embeds it, and what its callback saw. */
struct tjob {
	struct ev_job  job;
	const char    *vals[1];
	int	       calls;
	enum terr      err;
	bool	       had_res;
	ExecStatusType st;
};

static int completions;

static void
tjob_done(struct ev_job *j)
{
	struct tjob *t = (struct tjob *)(void *)j;

	t->calls++;
	t->err = j->err;
	t->had_res = j->res != NULL;
	t->st = j->res != NULL ? f_status(j->res) : PGRES_FATAL_ERROR;
	completions++;
}

static void
tjob_init(struct tjob *t, const char *what, bool write)
{
	memset(t, 0, sizeof(*t));
	t->vals[0] = what;
	t->job.stmt = STMT_TASK_GET;
	t->job.nparams = 1;
	t->job.values = t->vals;
	t->job.write = write;
	t->job.done = tjob_done;
}

/* A health check's ping: one shared statement. */
static void
tjob_ping(struct tjob *t)
{
	tjob_init(t, "ok", false);
	t->job.stmt = STMT_PING;
	t->job.shared = true;
}

/* A write that locks the row named key (NULL: none). */
static void
tjob_write(struct tjob *t, const char *key)
{
	tjob_init(t, "ok", true);
	t->job.lock_key = key;
}

/* Callbacks run, summed over n jobs. */
static size_t
calls_of(const struct tjob *t, size_t n)
{
	size_t sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += (size_t)t[i].calls;
	return sum;
}

/*
 * A pipeline of npg connections on the simulated server; connection k
 * (when k < npg) opens slowly: it waits for the test to say how its
 * attempt ends.
 */
static void
setup_pl_slow(struct ev_pipeline *pl, size_t npg, size_t k)
{
	memset(sims, 0, sizeof(sims));
	live_results = 0;
	completions = 0;
	if (k < EV_PG_MAX) {
		sims[k].slow_open = true;
		sims[k].open_result = DB_STEP_WAIT;
	}
	ev_pipeline_init(pl, &sim_ops, npg);
	for (size_t i = 0; i < EV_PG_MAX; i++)
		pl->pg[i].sim = &sims[i];
	ev_pipeline_connect(pl);
}

static void
setup_pl(struct ev_pipeline *pl, size_t npg)
{
	setup_pl_slow(pl, npg, EV_PG_MAX);
}

/* Runs the completions and ends the turn, as the loop does. */
static void
end_turn(struct ev_pipeline *pl)
{
	do {
		(void)ev_pipeline_run_completions(pl);
		ev_pipeline_turn_end(pl);
	} while (pl->done.head != NULL);
}

/* Delivers all the simulated server has answered on pg, reads it, and
 * runs the callbacks; then ends the turn as the loop does. */
static void
turn(struct ev_pipeline *pl, size_t i)
{
	sims[i].delivered = sims[i].nev;
	ev_pipeline_event(&pl->pg[i], true, false);
	end_turn(pl);
}

static void
test_segment_commits_together(void **state)
{
	struct ev_pipeline pl;
	struct tjob	   a, b, c;

	(void)state;
	setup_pl(&pl, 1);
	tjob_init(&a, "ok", true);
	tjob_init(&b, "ok", true);
	tjob_init(&c, "ok", true);
	ev_pipeline_submit(&pl, &a.job);
	ev_pipeline_submit(&pl, &b.job);
	end_turn(&pl);
	assert_int_equal(sims[0].sent, 2);
	assert_int_equal(sims[0].syncs, 1);
	/* The segment is in PostgreSQL: c waits for the next one. */
	ev_pipeline_submit(&pl, &c.job);
	assert_int_equal(sims[0].sent, 2);
	assert_int_equal(ev_pipeline_pending(&pl), 3);
	/* Results without the sync complete nothing. */
	sims[0].delivered = 4;
	ev_pipeline_event(&pl.pg[0], true, false);
	assert_int_equal(ev_pipeline_run_completions(&pl), 0);
	turn(&pl, 0);
	assert_int_equal(a.calls, 1);
	assert_int_equal(b.calls, 1);
	assert_true(a.had_res && b.had_res);
	assert_int_equal(a.err, TERR_OK);
	/* c went in the next segment. */
	assert_int_equal(sims[0].sent, 3);
	assert_int_equal(c.calls, 0);
	turn(&pl, 0);
	assert_int_equal(c.calls, 1);
	assert_int_equal(ev_pipeline_pending(&pl), 0);
	assert_int_equal(live_results, 0);
	ev_pipeline_free(&pl);
}

static void
test_failed_segment_resent_alone(void **state)
{
	struct ev_pipeline pl;
	struct tjob	   a, bad, c;

	(void)state;
	setup_pl(&pl, 1);
	tjob_init(&a, "ok", true);
	tjob_init(&bad, "err:23505", true);
	tjob_init(&c, "ok", true);
	ev_pipeline_submit(&pl, &a.job);
	ev_pipeline_submit(&pl, &bad.job);
	ev_pipeline_submit(&pl, &c.job);
	end_turn(&pl);
	assert_int_equal(sims[0].sent, 3);
	/* The failure: bad answers its own error, a (rolled back) and c
	 * (skipped) are sent again, each alone with its own sync. */
	turn(&pl, 0);
	assert_int_equal(bad.calls, 1);
	assert_int_equal(bad.err, TERR_CONFLICT);
	assert_false(bad.had_res);
	assert_int_equal(a.calls, 0);
	assert_int_equal(c.calls, 0);
	assert_int_equal(sims[0].sent, 5);
	assert_int_equal(sims[0].syncs, 3);
	turn(&pl, 0);
	assert_int_equal(a.calls, 1);
	assert_int_equal(c.calls, 1);
	assert_int_equal(a.err, TERR_OK);
	assert_int_equal(c.err, TERR_OK);
	assert_true(a.had_res && c.had_res);
	assert_int_equal(ev_pipeline_pending(&pl), 0);
	assert_int_equal(live_results, 0);
	ev_pipeline_free(&pl);
}

static void
test_deadlock_retried_once(void **state)
{
	struct ev_pipeline pl;
	struct tjob	   victim, other, always;

	(void)state;
	setup_pl(&pl, 1);
	tjob_init(&victim, "once:40P01", true);
	tjob_init(&other, "ok", true);
	ev_pipeline_submit(&pl, &victim.job);
	ev_pipeline_submit(&pl, &other.job);
	end_turn(&pl);
	turn(&pl, 0);
	/* Nobody answered yet: both go again alone. */
	assert_int_equal(victim.calls, 0);
	assert_int_equal(other.calls, 0);
	assert_int_equal(sims[0].sent, 4);
	turn(&pl, 0);
	assert_int_equal(victim.calls, 1);
	assert_int_equal(victim.err, TERR_OK);
	assert_true(victim.had_res);
	assert_int_equal(other.calls, 1);

	/* A statement that deadlocks every time gets its error after one
	 * retry, not a loop. */
	tjob_init(&always, "err:40P01", true);
	ev_pipeline_submit(&pl, &always.job);
	end_turn(&pl);
	turn(&pl, 0);
	assert_int_equal(always.calls, 0);
	turn(&pl, 0);
	assert_int_equal(always.calls, 1);
	assert_int_equal(always.err, TERR_DB);
	assert_int_equal(live_results, 0);
	ev_pipeline_free(&pl);
}

static void
test_broken_connection(void **state)
{
	struct ev_pipeline pl;
	struct tjob	   a, b, later;

	(void)state;
	setup_pl(&pl, 1);
	tjob_init(&a, "ok", true);
	tjob_init(&b, "ok", true);
	ev_pipeline_submit(&pl, &a.job);
	ev_pipeline_submit(&pl, &b.job);
	end_turn(&pl);
	/* a's result is in, then the connection dies before the sync:
	 * nothing committed, both fail with 503s. */
	sims[0].delivered = 2;
	ev_pipeline_event(&pl.pg[0], true, false);
	sims[0].broken = true;
	ev_pipeline_event(&pl.pg[0], true, false);
	end_turn(&pl);
	assert_int_equal(a.calls, 1);
	assert_int_equal(b.calls, 1);
	assert_int_equal(a.err, TERR_DB);
	assert_int_equal(b.err, TERR_DB);
	assert_false(a.had_res);
	assert_false(sims[0].up);
	assert_int_equal(live_results, 0);
	/* The next job reconnects and runs. */
	tjob_init(&later, "ok", true);
	ev_pipeline_submit(&pl, &later.job);
	end_turn(&pl);
	assert_int_equal(sims[0].opens, 2);
	turn(&pl, 0);
	assert_int_equal(later.calls, 1);
	assert_int_equal(later.err, TERR_OK);
	assert_int_equal(live_results, 0);
	ev_pipeline_free(&pl);
}

static void
test_client_closed_in_flight(void **state)
{
	struct ev_pipeline pl;
	struct tjob	   gone, stays, waiting;

	(void)state;
	setup_pl(&pl, 1);
	tjob_init(&gone, "ok", true);
	tjob_init(&stays, "ok", true);
	tjob_init(&waiting, "ok", true);
	ev_pipeline_submit(&pl, &gone.job);
	ev_pipeline_submit(&pl, &stays.job);
	end_turn(&pl);
	ev_pipeline_submit(&pl, &waiting.job);
	/* Both clients go away: one in flight, one still waiting. */
	gone.job.cancelled = true;
	waiting.job.cancelled = true;
	turn(&pl, 0);
	/* The one in flight completes (its owner frees it then), the
	 * pipeline stays in step, and the other's answer is right. */
	assert_int_equal(gone.calls, 1);
	assert_int_equal(stays.calls, 1);
	assert_int_equal(stays.err, TERR_OK);
	assert_true(stays.had_res);
	/* The waiting one is never sent. */
	assert_int_equal(waiting.calls, 1);
	assert_int_equal(sims[0].sent, 2);
	assert_int_equal(ev_pipeline_pending(&pl), 0);
	assert_int_equal(live_results, 0);
	ev_pipeline_free(&pl);
}

static void
test_pings_share_one_statement(void **state)
{
	struct ev_pipeline pl;
	struct tjob	   p[3];

	(void)state;
	setup_pl(&pl, 1);
	for (int i = 0; i < 3; i++) {
		tjob_ping(&p[i]);
		ev_pipeline_submit(&pl, &p[i].job);
	}
	end_turn(&pl);
	assert_int_equal(sims[0].sent, 1);
	turn(&pl, 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(p[i].calls, 1);
		assert_true(p[i].had_res);
	}
	assert_int_equal(live_results, 0);
	ev_pipeline_free(&pl);
}

/* A ping sent in an earlier turn and not yet answered is followed too;
 * once it is answered, the next health check sends its own. */
static void
test_ping_in_flight_followed_across_turns(void **state)
{
	struct ev_pipeline pl;
	struct tjob	   p[3];

	(void)state;
	setup_pl(&pl, 1);
	for (int i = 0; i < 3; i++)
		tjob_ping(&p[i]);
	ev_pipeline_submit(&pl, &p[0].job);
	end_turn(&pl);
	ev_pipeline_submit(&pl, &p[1].job); /* a later turn, not answered */
	end_turn(&pl);
	assert_int_equal(sims[0].sent, 1);
	turn(&pl, 0);
	assert_int_equal(p[0].calls, 1);
	assert_int_equal(p[1].calls, 1);
	assert_true(p[1].had_res);
	ev_pipeline_submit(&pl, &p[2].job); /* after the answer: its own */
	end_turn(&pl);
	assert_int_equal(sims[0].sent, 2);
	turn(&pl, 0);
	assert_int_equal(p[2].calls, 1);
	assert_int_equal(live_results, 0);
	ev_pipeline_free(&pl);
}

static void
test_writes_on_first_reads_elsewhere(void **state)
{
	struct ev_pipeline pl;
	struct tjob	   w, r;

	(void)state;
	setup_pl(&pl, 3);
	tjob_init(&w, "ok", true);
	tjob_init(&r, "ok", false);
	ev_pipeline_submit(&pl, &w.job);
	ev_pipeline_submit(&pl, &r.job);
	end_turn(&pl);
	assert_int_equal(sims[0].sent, 1);
	assert_int_equal(sims[1].sent + sims[2].sent, 1);
	turn(&pl, 0);
	turn(&pl, sims[1].sent == 1 ? 1 : 2);
	assert_int_equal(w.calls, 1);
	assert_int_equal(r.calls, 1);
	ev_pipeline_free(&pl);
}

/*
 * Two writers: while the first's segment is in flight (its commit
 * waits for the flush), the next turn's writes go to the second, in
 * key order; a write that finds both busy waits for the first to end,
 * then goes there.  Reads stay on the readers.
 */
static void
test_second_writer_while_first_commits(void **state)
{
	struct ev_pipeline pl;
	struct tjob	   w1, w2, w3, w4, r;

	(void)state;
	setup_pl(&pl, 4);
	ev_pipeline_set_writers(&pl, 2);
	tjob_write(&w1, NULL);
	tjob_init(&r, "ok", false);
	ev_pipeline_submit(&pl, &w1.job);
	ev_pipeline_submit(&pl, &r.job);
	end_turn(&pl);
	assert_int_equal(sims[0].sent, 1);
	assert_int_equal(sims[1].sent, 0);
	assert_int_equal(sims[2].sent, 1);
	tjob_write(&w2, "b");
	tjob_write(&w3, "a");
	ev_pipeline_submit(&pl, &w2.job);
	ev_pipeline_submit(&pl, &w3.job);
	end_turn(&pl);
	assert_int_equal(sims[0].sent, 1);
	assert_int_equal(sims[1].sent, 2);
	assert_int_equal(sims[1].syncs, 1);
	assert_ptr_equal(sims[1].order[0], &w3.job);
	assert_ptr_equal(sims[1].order[1], &w2.job);
	tjob_write(&w4, "c");
	ev_pipeline_submit(&pl, &w4.job);
	end_turn(&pl);
	assert_int_equal(sims[0].sent + sims[1].sent, 3);
	turn(&pl, 0);
	assert_int_equal(w1.calls, 1);
	assert_int_equal(sims[0].sent, 2);
	assert_ptr_equal(sims[0].order[1], &w4.job);
	turn(&pl, 1);
	turn(&pl, 0);
	turn(&pl, 2);
	assert_int_equal(w2.calls + w3.calls + w4.calls + r.calls, 4);
	assert_int_equal(sims[3].sent, 0);
	assert_int_equal(ev_pipeline_pending(&pl), 0);
	assert_int_equal(live_results, 0);
	ev_pipeline_free(&pl);
}

/* The writers leave at least one reader; one connection does both. */
static void
test_writers_bounded(void **state)
{
	struct ev_pipeline pl;

	(void)state;
	setup_pl(&pl, 4);
	ev_pipeline_set_writers(&pl, 9);
	assert_int_equal(pl.nwriters, 3);
	ev_pipeline_set_writers(&pl, 0);
	assert_int_equal(pl.nwriters, 1);
	ev_pipeline_free(&pl);
	setup_pl(&pl, 1);
	ev_pipeline_set_writers(&pl, 2);
	assert_int_equal(pl.nwriters, 1);
	ev_pipeline_free(&pl);
}

/* Submits n reads, as one turn's events would. */
static void
submit_reads(struct ev_pipeline *pl, struct tjob *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		tjob_init(&t[i], "ok", false);
		ev_pipeline_submit(pl, &t[i].job);
	}
}

/*
 * A turn's reads go out as one segment on the first idle reader; the
 * next turn's reads, while that segment is in flight, on the next idle
 * one; once it is answered, on the first again.
 */
static void
test_reads_packed_on_one_reader(void **state)
{
	struct ev_pipeline pl;
	struct tjob	   r[4], s[2], t;

	(void)state;
	setup_pl(&pl, 4);
	submit_reads(&pl, r, 4);
	end_turn(&pl);
	assert_int_equal(sims[1].sent, 4);
	assert_int_equal(sims[1].syncs, 1);
	assert_int_equal(sims[2].sent + sims[3].sent, 0);
	submit_reads(&pl, s, 2);
	end_turn(&pl);
	assert_int_equal(sims[2].sent, 2);
	assert_int_equal(sims[3].sent, 0);
	turn(&pl, 1);
	assert_int_equal(calls_of(r, 4), 4);
	submit_reads(&pl, &t, 1);
	end_turn(&pl);
	assert_int_equal(sims[1].sent, 5);
	turn(&pl, 2);
	turn(&pl, 1);
	assert_int_equal(calls_of(s, 2) + (size_t)t.calls, 3);
	assert_int_equal(sims[3].sent, 0);
	ev_pipeline_free(&pl);
}

/*
 * Writes that lock an existing row wait for the turn's end and go out in
 * the order of their keys, after the writes that lock none (which go at
 * once, unless writes already wait: then behind them); equal keys keep
 * their order.  So two workers' segments lock rows in one order and
 * cannot deadlock each other.  Writes that wait for the next segment
 * go out sorted among themselves.
 */
static void
test_writes_in_key_order(void **state)
{
	struct ev_pipeline pl;
	struct tjob	   c, none, a1, b, a2, late_a, late_d;

	(void)state;
	setup_pl(&pl, 2);
	tjob_write(&c, "c");
	tjob_write(&none, NULL);
	tjob_write(&a1, "a");
	tjob_write(&b, "b");
	tjob_write(&a2, "a");
	ev_pipeline_submit(&pl, &c.job);
	ev_pipeline_submit(&pl, &none.job);
	ev_pipeline_submit(&pl, &a1.job);
	ev_pipeline_submit(&pl, &b.job);
	ev_pipeline_submit(&pl, &a2.job);
	assert_int_equal(sims[0].sent, 0); /* c waits, so "none" too */
	end_turn(&pl);
	assert_int_equal(sims[0].sent, 5);
	assert_int_equal(sims[0].syncs, 1);
	assert_ptr_equal(sims[0].order[0], &none.job);
	assert_ptr_equal(sims[0].order[1], &a1.job);
	assert_ptr_equal(sims[0].order[2], &a2.job);
	assert_ptr_equal(sims[0].order[3], &b.job);
	assert_ptr_equal(sims[0].order[4], &c.job);
	/* The segment is in PostgreSQL: these wait, then go out sorted. */
	tjob_write(&late_d, "d");
	tjob_write(&late_a, "a");
	ev_pipeline_submit(&pl, &late_d.job);
	ev_pipeline_submit(&pl, &late_a.job);
	end_turn(&pl);
	assert_int_equal(sims[0].sent, 5);
	turn(&pl, 0);
	assert_int_equal(c.calls + none.calls + a1.calls + b.calls + a2.calls,
	    5);
	assert_int_equal(sims[0].sent, 7);
	assert_ptr_equal(sims[0].order[5], &late_a.job);
	assert_ptr_equal(sims[0].order[6], &late_d.job);
	turn(&pl, 0);
	assert_int_equal(late_a.calls + late_d.calls, 2);
	assert_int_equal(ev_pipeline_pending(&pl), 0);
	assert_int_equal(live_results, 0);
	ev_pipeline_free(&pl);
}

/*
 * A segment whose sync never comes back (a commit waiting for a
 * synchronous standby that is gone): past the deadline its statement is
 * cancelled, the connection dropped, the write answered "outcome
 * unknown", the read a plain 503; what waited behind it runs on a new
 * connection, and a job that waited for a connection past the deadline
 * fails without being sent.
 */
static void
test_deadline_cancels_stuck_segment(void **state)
{
	struct ev_pipeline pl;
	struct tjob	   w, r, late, x, y;
	const int64_t	   d = 2000000, t0 = 1000000;

	(void)state;
	setup_pl(&pl, 1);
	pl.deadline_us = d;
	tjob_init(&w, "ok", true);
	tjob_init(&r, "ok", false);
	tjob_init(&late, "ok", true);
	ev_pipeline_submit(&pl, &w.job);
	ev_pipeline_submit(&pl, &r.job);
	end_turn(&pl);
	ev_pipeline_submit(&pl, &late.job); /* waits: a segment is out */
	w.job.submit_us = r.job.submit_us = t0;
	late.job.submit_us = t0 + d;
	/* Both results are in, the sync (the commit) never comes. */
	sims[0].delivered = 4;
	ev_pipeline_event(&pl.pg[0], true, false);
	ev_pipeline_expire(&pl, t0 + d); /* not past it yet */
	assert_int_equal(ev_pipeline_run_completions(&pl), 0);
	assert_int_equal(sims[0].cancels, 0);
	ev_pipeline_expire(&pl, t0 + d + 1);
	assert_int_equal(sims[0].cancels, 1);
	assert_false(sims[0].up);
	assert_int_equal(ev_pipeline_run_completions(&pl), 2);
	assert_int_equal(w.calls, 1);
	assert_int_equal(w.err, TERR_UNKNOWN);
	assert_false(w.had_res);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.err, TERR_DB);
	assert_int_equal(late.calls, 0);
	assert_int_equal(live_results, 0);
	/* The one waiting behind it goes on a new connection and runs. */
	end_turn(&pl);
	assert_int_equal(sims[0].opens, 2);
	turn(&pl, 0);
	assert_int_equal(late.calls, 1);
	assert_int_equal(late.err, TERR_OK);

	/* A job waiting for a connection past the deadline is not sent. */
	tjob_init(&x, "ok", true);
	tjob_init(&y, "ok", true);
	ev_pipeline_submit(&pl, &x.job);
	end_turn(&pl);
	ev_pipeline_submit(&pl, &y.job);
	x.job.submit_us = t0 + 3 * d;
	y.job.submit_us = t0;
	ev_pipeline_expire(&pl, t0 + 3 * d);
	assert_int_equal(sims[0].cancels, 1);
	assert_true(sims[0].up);
	assert_int_equal(ev_pipeline_run_completions(&pl), 1);
	assert_int_equal(y.calls, 1);
	assert_int_equal(y.err, TERR_DB);
	turn(&pl, 0);
	assert_int_equal(x.calls, 1);
	assert_int_equal(x.err, TERR_OK);
	assert_int_equal(sims[0].sent, 4); /* w, r, late, x: never y */
	assert_int_equal(ev_pipeline_pending(&pl), 0);
	assert_int_equal(live_results, 0);
	ev_pipeline_free(&pl);
}

/*
 * Writes that wait for the writer go first come, first served: each
 * segment takes the oldest that fit (EV_SEGMENT_MAX), in key order
 * among themselves.  Newer writes with lower keys, or with none, do not
 * pass them (sorting all that wait made a PATCH with a high key wait
 * for seconds under a steady load).
 */
#define FAIR_OLD (EV_SEGMENT_MAX + 44)
#define FAIR_NEW EV_SEGMENT_MAX

static struct tjob fair_old[FAIR_OLD], fair_new[FAIR_NEW], fair_first,
    fair_nokey;
static char fair_keys[FAIR_OLD + FAIR_NEW][8];

/* Whether order[from, to) is sorted by key (the keys are all set). */
static bool
sent_in_key_order(size_t from, size_t to)
{
	for (size_t i = from + 1; i < to; i++)
		if (strcmp(sims[0].order[i - 1]->lock_key,
			sims[0].order[i]->lock_key) > 0)
			return false;
	return true;
}

static void
test_waiting_writes_first_come_first_served(void **state)
{
	struct ev_pipeline pl;

	(void)state;
	setup_pl(&pl, 2);
	tjob_write(&fair_first, "m");
	ev_pipeline_submit(&pl, &fair_first.job);
	end_turn(&pl);
	assert_int_equal(sims[0].sent, 1);
	/* While that segment is out: old writes, keys descending. */
	for (size_t i = 0; i < FAIR_OLD; i++) {
		(void)snprintf(fair_keys[i], sizeof(fair_keys[i]), "k%03zu",
		    FAIR_OLD - i);
		tjob_write(&fair_old[i], fair_keys[i]);
		ev_pipeline_submit(&pl, &fair_old[i].job);
	}
	end_turn(&pl);
	assert_int_equal(sims[0].sent, 1);
	/* It commits: the oldest EV_SEGMENT_MAX go, sorted. */
	turn(&pl, 0);
	assert_int_equal(fair_first.calls, 1);
	assert_int_equal(sims[0].sent, 1 + EV_SEGMENT_MAX);
	assert_true(sent_in_key_order(1, 1 + EV_SEGMENT_MAX));
	for (size_t i = 0; i < EV_SEGMENT_MAX; i++)
		assert_ptr_equal(sims[0].order[1 + EV_SEGMENT_MAX - 1 - i],
		    &fair_old[i].job);
	/* Newer writes with lower keys, and one with none, while the rest
	 * of the old ones wait: none of them goes first. */
	for (size_t i = 0; i < FAIR_NEW; i++) {
		char *k = fair_keys[FAIR_OLD + i];

		(void)snprintf(k, sizeof(fair_keys[0]), "a%03zu", i);
		tjob_write(&fair_new[i], k);
		ev_pipeline_submit(&pl, &fair_new[i].job);
	}
	tjob_init(&fair_nokey, "ok", true);
	ev_pipeline_submit(&pl, &fair_nokey.job);
	end_turn(&pl);
	assert_int_equal(sims[0].sent, 1 + EV_SEGMENT_MAX);
	/* The next segment: the 44 old ones left and the oldest new ones
	 * that fit, sorted together; the old ones all in it. */
	turn(&pl, 0);
	assert_int_equal(sims[0].sent, 1 + 2 * EV_SEGMENT_MAX);
	assert_true(
	    sent_in_key_order(1 + EV_SEGMENT_MAX, 1 + 2 * EV_SEGMENT_MAX));
	assert_int_equal(calls_of(fair_old, FAIR_OLD), EV_SEGMENT_MAX);
	turn(&pl, 0);
	assert_int_equal(calls_of(fair_old, FAIR_OLD), FAIR_OLD);
	assert_int_equal(calls_of(fair_new, FAIR_NEW), EV_SEGMENT_MAX - 44);
	assert_int_equal(fair_nokey.calls, 0);
	/* The rest, then the one without a key, which came last. */
	turn(&pl, 0);
	turn(&pl, 0);
	assert_int_equal(calls_of(fair_new, FAIR_NEW), FAIR_NEW);
	assert_int_equal(fair_nokey.calls, 1);
	assert_int_equal(ev_pipeline_pending(&pl), 0);
	assert_int_equal(live_results, 0);
	ev_pipeline_free(&pl);
}

/* While the only connection opens, jobs wait for it (nothing is sent,
 * nothing fails); once it is up they go out and complete. */
static void
test_jobs_wait_for_opening_connection(void **state)
{
	struct ev_pipeline pl;
	struct tjob	   t[3];

	(void)state;
	setup_pl_slow(&pl, 1, 0);
	assert_true(pl.pg[0].opening);
	assert_int_equal(pl.pg[0].fd, 100);
	tjob_init(&t[0], "ok", false);
	tjob_write(&t[1], NULL);
	tjob_write(&t[2], "k1");
	for (int i = 0; i < 3; i++)
		ev_pipeline_submit(&pl, &t[i].job);
	end_turn(&pl);
	/* A step without io before the deadline changes nothing. */
	ev_pipeline_expire(&pl, util_mono_us());
	end_turn(&pl);
	assert_int_equal(sims[0].sent, 0);
	assert_int_equal(calls_of(t, 3), 0);
	assert_int_equal(ev_pipeline_pending(&pl), 3);
	assert_true(sims[0].steps >= 1);

	sims[0].open_result = DB_STEP_READY;
	ev_pipeline_event(&pl.pg[0], false, true);
	assert_false(pl.pg[0].opening);
	end_turn(&pl);
	assert_int_equal(sims[0].sent, 3);
	turn(&pl, 0);
	assert_int_equal(calls_of(t, 3), 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(t[i].err, TERR_OK);
	assert_int_equal(sims[0].opens, 1);
	ev_pipeline_free(&pl);
	assert_int_equal(live_results, 0);
}

/* The attempt fails, and the next cannot start (held off): the jobs
 * that waited for it fail with TERR_DB, once each. */
static void
test_failed_open_fails_waiting_jobs(void **state)
{
	struct ev_pipeline pl;
	struct tjob	   t[2];

	(void)state;
	setup_pl_slow(&pl, 1, 0);
	tjob_init(&t[0], "ok", false);
	tjob_write(&t[1], NULL);
	ev_pipeline_submit(&pl, &t[0].job);
	ev_pipeline_submit(&pl, &t[1].job);
	end_turn(&pl);
	assert_int_equal(calls_of(t, 2), 0);

	sims[0].open_result = DB_STEP_FAILED;
	sims[0].refuse_open = true;
	ev_pipeline_event(&pl.pg[0], true, false);
	assert_false(pl.pg[0].opening);
	assert_int_equal(pl.pg[0].fd, -1);
	end_turn(&pl);
	assert_int_equal(t[0].calls, 1);
	assert_int_equal(t[1].calls, 1);
	assert_int_equal(t[0].err, TERR_DB);
	assert_int_equal(t[1].err, TERR_DB);
	assert_int_equal(sims[0].sent, 0);
	assert_int_equal(ev_pipeline_pending(&pl), 0);
	ev_pipeline_free(&pl);
	assert_int_equal(live_results, 0);
}

/* The writer connection opens slowly: reads go on being answered on
 * the reader meanwhile; the write waits, then goes out. */
static void
test_reads_served_while_writer_opens(void **state)
{
	struct ev_pipeline pl;
	struct tjob	   r, w;

	(void)state;
	setup_pl_slow(&pl, 2, 0);
	tjob_write(&w, NULL);
	tjob_init(&r, "ok", false);
	ev_pipeline_submit(&pl, &w.job);
	ev_pipeline_submit(&pl, &r.job);
	end_turn(&pl);
	turn(&pl, 1);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.err, TERR_OK);
	assert_int_equal(w.calls, 0);
	assert_int_equal(sims[0].sent, 0);

	sims[0].open_result = DB_STEP_READY;
	ev_pipeline_event(&pl.pg[0], false, true);
	end_turn(&pl);
	turn(&pl, 0);
	assert_int_equal(w.calls, 1);
	assert_int_equal(w.err, TERR_OK);
	ev_pipeline_free(&pl);
	assert_int_equal(live_results, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_segment_commits_together),
		cmocka_unit_test(test_failed_segment_resent_alone),
		cmocka_unit_test(test_deadlock_retried_once),
		cmocka_unit_test(test_broken_connection),
		cmocka_unit_test(test_client_closed_in_flight),
		cmocka_unit_test(test_pings_share_one_statement),
		cmocka_unit_test(test_ping_in_flight_followed_across_turns),
		cmocka_unit_test(test_writes_on_first_reads_elsewhere),
		cmocka_unit_test(test_second_writer_while_first_commits),
		cmocka_unit_test(test_writers_bounded),
		cmocka_unit_test(test_reads_packed_on_one_reader),
		cmocka_unit_test(test_deadline_cancels_stuck_segment),
		cmocka_unit_test(test_writes_in_key_order),
		cmocka_unit_test(test_waiting_writes_first_come_first_served),
		cmocka_unit_test(test_jobs_wait_for_opening_connection),
		cmocka_unit_test(test_failed_open_fails_waiting_jobs),
		cmocka_unit_test(test_reads_served_while_writer_opens),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
