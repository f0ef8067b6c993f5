/*
 * ev_pipeline.c: jobs on PostgreSQL connections in pipeline mode (the
 * design is in ev_pipeline.h).
 *
 * State of one connection: q is the FIFO of what it owes answers for,
 * in the order PostgreSQL answers: a job's result and its NULL, or a
 * sync point's PGRES_PIPELINE_SYNC.  The first q_done entries have
 * their results and wait for their segment's sync.  Every PQgetResult
 * is matched against that FIFO; a mismatch breaks the connection.
 *
 * No function here calls a job's callback: completing a job puts it on
 * pl->done, and no function calls back into one that may have called
 * it (pg_broken() fails jobs but sends nothing), so there is no cycle.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "counters.h"
#include "db_cancel.h"
#include "ev_pipeline.h"
#include "log.h"
#include "util.h"

/* --- the libpq binding ------------------------------------------------- */

/* Set up: from here on the connection runs in pipeline mode. */
static enum db_step
pq_ready(struct ev_pgconn *pg)
{
	PGconn *conn = pg->db.conn;

	if (PQenterPipelineMode(conn) != 1 || PQsetnonblocking(conn, 1) != 0) {
		log_error("cannot enter pipeline mode: %s",
		    PQerrorMessage(conn));
		db_close(&pg->db);
		return DB_STEP_FAILED;
	}
	return DB_STEP_READY;
}

static enum db_step
pq_open(struct ev_pgconn *pg, int64_t now)
{
	return db_open_start(&pg->db, now);
}

static enum db_step
pq_step(struct ev_pgconn *pg, bool io, int64_t now)
{
	enum db_step st = db_open_step(&pg->db, io, now);

	return st == DB_STEP_READY ? pq_ready(pg) : st;
}

static int
pq_socket(const struct ev_pgconn *pg)
{
	return db_socket(&pg->db);
}

static void
pq_close(struct ev_pgconn *pg)
{
	db_close(&pg->db);
}

static bool
pq_connected(const struct ev_pgconn *pg)
{
	return db_connected(&pg->db);
}

static int
pq_send(struct ev_pgconn *pg, const struct ev_job *j)
{
	return PQsendQueryPrepared(pg->db.conn, db_stmt_name(j->stmt),
	    j->nparams, j->values, j->lengths, j->formats,
	    db_stmt_binary(j->stmt) ? 1 : 0);
}

static int
pq_cancel(struct ev_pgconn *pg)
{
	return db_cancel_async(pg->db.conn);
}

static int
pq_sync(struct ev_pgconn *pg)
{
	return PQpipelineSync(pg->db.conn);
}

static int
pq_flush(struct ev_pgconn *pg)
{
	return PQflush(pg->db.conn);
}

static int
pq_consume(struct ev_pgconn *pg)
{
	return PQconsumeInput(pg->db.conn) == 1 &&
	    PQstatus(pg->db.conn) == CONNECTION_OK;
}

static bool
pq_busy(struct ev_pgconn *pg)
{
	return PQisBusy(pg->db.conn) != 0;
}

static PGresult *
pq_result(struct ev_pgconn *pg)
{
	return PQgetResult(pg->db.conn);
}

static const char *
pq_sqlstate(const PGresult *res)
{
	return PQresultErrorField(res, PG_DIAG_SQLSTATE);
}

static enum terr
pq_error(struct ev_pgconn *pg, const PGresult *res)
{
	return db_result_error(&pg->db, res);
}

static const char *
pq_message(struct ev_pgconn *pg)
{
	return pg->db.conn != NULL ? PQerrorMessage(pg->db.conn) :
				     "no connection";
}

const struct ev_pq_ops ev_pq_libpq = {
	.open = pq_open,
	.step = pq_step,
	.socket = pq_socket,
	.close = pq_close,
	.connected = pq_connected,
	.send = pq_send,
	.cancel = pq_cancel,
	.sync = pq_sync,
	.flush = pq_flush,
	.consume = pq_consume,
	.busy = pq_busy,
	.result = pq_result,
	.status = PQresultStatus,
	.sqlstate = pq_sqlstate,
	.error = pq_error,
	.clear = PQclear,
	.message = pq_message,
	.watch = NULL, /* the loop sets its own (ev_loop.c) */
};

/* --- queues -------------------------------------------------------------- */

static void
jobq_push(struct ev_jobq *q, struct ev_job *j)
{
	j->next = NULL;
	if (q->head == NULL)
		q->tail = &q->head;
	*q->tail = j;
	q->tail = &j->next;
}

static struct ev_job *
jobq_pop(struct ev_jobq *q)
{
	struct ev_job *j = q->head;

	if (j != NULL) {
		q->head = j->next;
		j->next = NULL;
	}
	return j;
}

/*
 * Whether a goes before b in a segment: writes that lock no existing
 * row first, then by the key of the row they lock.
 */
static bool
key_before(const struct ev_job *a, const struct ev_job *b)
{
	if (b->lock_key == NULL)
		return false;
	return a->lock_key == NULL || strcmp(a->lock_key, b->lock_key) < 0;
}

/*
 * Sorts q by key_before, keeping the order of jobs that compare equal:
 * a bottom-up merge sort of the list, with no allocation and no
 * recursion.
 */
static void
jobq_sort_by_key(struct ev_jobq *q)
{
	struct ev_job *list = q->head, *tail = NULL;
	size_t	       run = 1, merges = 2;

	if (list == NULL)
		return;
	for (; merges > 1; run *= 2) {
		struct ev_job *p = list;

		list = tail = NULL;
		merges = 0;
		while (p != NULL) {
			struct ev_job *r = p;
			size_t	       np = 0, nr = run;

			merges++;
			while (np < run && r != NULL) {
				np++;
				r = r->next;
			}
			while (np > 0 || (nr > 0 && r != NULL)) {
				struct ev_job *e;

				if (np > 0 &&
				    (nr == 0 || r == NULL ||
					!key_before(r, p))) {
					e = p;
					p = p->next;
					np--;
				} else {
					e = r;
					r = r->next;
					nr--;
				}
				if (tail != NULL)
					tail->next = e;
				else
					list = e;
				tail = e;
			}
			p = r;
		}
		if (tail != NULL) /* (always: the list was not empty) */
			tail->next = NULL;
	}
	q->head = list;
	q->tail = tail != NULL ? &tail->next : &q->head;
}

/* Queues j's callback with err (its result, if any, stays in j->own). */
static void
complete(struct ev_pipeline *pl, struct ev_job *j, enum terr err)
{
	/* Where its time went: waiting for a connection, then PostgreSQL
	 * (a follower of the shared ping was never sent itself). */
	if (j->sent_us != 0) {
		int64_t now = util_mono_us();

		metrics_ev_segment(MET_EV_QUEUE, j->sent_us - j->submit_us);
		metrics_ev_segment(MET_EV_DB, now - j->sent_us);
	}
	if (j == pl->ping) /* answered: the next health check pings */
		pl->ping = NULL;
	j->err = err;
	j->state = JOB_COMPLETE;
	jobq_push(&pl->done, j);
}

static void
drop_result(struct ev_pipeline *pl, struct ev_job *j)
{
	if (j->own != NULL) {
		pl->ops->clear(j->own);
		j->own = NULL;
	}
}

static int
fifo_push(struct ev_pgconn *pg, struct ev_job *j)
{
	if (pg->q_len == pg->q_cap) {
		size_t cap = pg->q_cap == 0 ? 64 : pg->q_cap * 2;
		/* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
		struct ev_job **nq = malloc(cap * sizeof(*nq));

		if (nq == NULL)
			return -1;
		for (size_t i = 0; i < pg->q_len; i++)
			nq[i] = pg->q[(pg->q_head + i) % pg->q_cap];
		free(pg->q);
		pg->q = nq;
		pg->q_cap = cap;
		pg->q_head = 0;
	}
	pg->q[(pg->q_head + pg->q_len) % pg->q_cap] = j;
	pg->q_len++;
	if (j != NULL)
		pg->pl->inflight++;
	return 0;
}

/* Takes the oldest entry (done or not); a sync point is NULL. */
static struct ev_job *
fifo_pop(struct ev_pgconn *pg)
{
	struct ev_job *j = pg->q[pg->q_head];

	pg->q_head = (pg->q_head + 1) % pg->q_cap;
	pg->q_len--;
	if (j != NULL)
		pg->pl->inflight--;
	return j;
}

/* The entry whose result comes next (NULL: a sync point); *any is
 * false when every entry has its result. */
static struct ev_job *
fifo_next(const struct ev_pgconn *pg, bool *any)
{
	*any = pg->q_done < pg->q_len;
	return *any ? pg->q[(pg->q_head + pg->q_done) % pg->q_cap] : NULL;
}

/* --- connections ---------------------------------------------------------- */

/*
 * Every job pg owes an answer for fails, with err, or write_err for a
 * write, and the connection is dropped; it is opened again when next
 * needed.  Jobs waiting for a connection stay waiting: the turn's end
 * hands them to another connection, or fails them when none can be had.
 */
static void
pg_fail(struct ev_pgconn *pg, enum terr err, enum terr write_err)
{
	struct ev_pipeline *pl = pg->pl;

	pl->ops->close(pg); /* closing the fd drops it from epoll */
	pg->fd = -1;
	pg->opening = pg->want_write = pg->unsynced = pg->seg_failed = false;
	pg->q_done = 0;
	while (pg->q_len > 0) {
		struct ev_job *j = fifo_pop(pg);

		if (j == NULL)
			continue;
		if (j == pl->ping)
			pl->ping = NULL;
		drop_result(pl, j);
		complete(pl, j, j->write ? write_err : err);
	}
}

/* Nothing after pg's last sync that came back was committed, those jobs
 * with results too: every one it owes fails (503). */
static void
pg_broken(struct ev_pgconn *pg)
{
	log_warn("database connection lost; %zu entries in its pipeline fail",
	    pg->q_len);
	pg_fail(pg, TERR_DB, TERR_DB);
}

/*
 * Where pg's opening connection stands after open or a step (st): its
 * socket watched as it asks, or given up.  The socket is watched anew
 * after every step: libpq may have closed it for another (the next
 * address or host), under the same number or another.
 */
static void
pg_opened(struct ev_pgconn *pg, enum db_step st)
{
	const struct ev_pq_ops *ops = pg->pl->ops;
	int			fd;
	bool			add;

	if (st == DB_STEP_WAIT)
		return;
	if (st == DB_STEP_FAILED) { /* (closed by the binding) */
		pg->opening = pg->want_write = false;
		pg->fd = -1;
		return;
	}
	fd = ops->socket(pg);
	add = fd != pg->fd;
	pg->fd = fd;
	pg->want_write = st == DB_STEP_WRITE;
	if (ops->watch != NULL && ops->watch(pg, add, pg->want_write) == -1) {
		log_error("cannot watch the database connection");
		ops->close(pg);
		pg->opening = pg->want_write = false;
		pg->fd = -1;
		return;
	}
	pg->opening = st != DB_STEP_READY;
}

/* Starts opening pg's connection, unless it is open or opening; true
 * when it is connected now. */
static bool
pg_open(struct ev_pgconn *pg)
{
	const struct ev_pq_ops *ops = pg->pl->ops;

	if (ops->connected(pg))
		return true;
	if (pg->opening)
		return false;
	pg->opening = true;
	pg->fd = -1;
	pg_opened(pg, ops->open(pg, util_mono_us()));
	return ops->connected(pg);
}

/*
 * Which connections a job may use.  With two or more, writes go to the
 * first and reads to the others (see ev_pipeline.h).
 */
static void
pg_range(const struct ev_pipeline *pl, const struct ev_job *j, size_t *lo,
    size_t *hi)
{
	if (pl->npg < 2) {
		*lo = 0;
		*hi = pl->npg;
	} else if (j->write) {
		*lo = 0;
		*hi = pl->nwriters;
	} else {
		*lo = pl->nwriters;
		*hi = pl->npg;
	}
}

/*
 * The connection for a job now: the one whose segment of this turn is
 * open, else the first that has nothing in PostgreSQL.  So a turn's
 * reads go out as one segment on one reader, and another reader is taken
 * only while the first still has a segment in flight (a slow or distant
 * database), or when the segment is full.  Spreading a turn's reads over
 * every idle reader instead woke a backend per reader each turn:
 * bench/experiments/ab.sh, two event workers of four connections, GET
 * task cost 20.1 against 26.2 µs of PostgreSQL CPU packed, 69.0 against
 * 81.8 µs for the whole server side, 1.14x the req/s.  NULL: every
 * connected one is busy (the job waits), or none is connected (*none
 * set).
 */
static struct ev_pgconn *
pg_pick_batch(struct ev_pipeline *pl, const struct ev_job *j, bool *none)
{
	struct ev_pgconn *best = NULL;
	size_t		  lo, hi;

	*none = true;
	pg_range(pl, j, &lo, &hi);
	for (size_t i = lo; i < hi; i++) {
		struct ev_pgconn *pg = &pl->pg[i];

		if (!pl->ops->connected(pg)) {
			if (pg->opening) /* the job waits for it */
				*none = false;
			continue;
		}
		*none = false;
		if (!(pg->q_len == 0 || pg->unsynced) ||
		    pg->q_len >= EV_SEGMENT_MAX)
			continue;
		if (best == NULL || (pg->unsynced && !best->unsynced))
			best = pg;
	}
	return best;
}

/* A connection at all: the connected one with the shortest FIFO, or
 * one that connects at once (the others start opening).  NULL: none
 * now. */
static struct ev_pgconn *
pg_pick_any(struct ev_pipeline *pl, const struct ev_job *j)
{
	struct ev_pgconn *best = NULL;
	size_t		  lo, hi;

	pg_range(pl, j, &lo, &hi);
	for (size_t i = lo; i < hi; i++)
		if (pl->ops->connected(&pl->pg[i]) &&
		    (best == NULL || pl->pg[i].q_len < best->q_len))
			best = &pl->pg[i];
	if (best != NULL)
		return best;
	for (size_t i = lo; i < hi; i++)
		if (pg_open(&pl->pg[i]))
			return &pl->pg[i];
	return NULL;
}

/* Whether a connection j may use is opening (j can wait for it). */
static bool
pg_opening(const struct ev_pipeline *pl, const struct ev_job *j)
{
	size_t lo, hi;

	pg_range(pl, j, &lo, &hi);
	for (size_t i = lo; i < hi; i++)
		if (pl->pg[i].opening)
			return true;
	return false;
}

/* Ends pg's open segment with a sync; false when pg broke. */
static bool
pg_sync(struct ev_pgconn *pg)
{
	if (!pg->unsynced)
		return true;
	if (pg->pl->ops->sync(pg) != 1 || fifo_push(pg, NULL) == -1) {
		log_error("pipeline sync: %s", pg->pl->ops->message(pg));
		pg_broken(pg);
		return false;
	}
	pg->unsynced = false;
	return true;
}

/*
 * Sends j on pg, in its open segment, or alone in a segment of its own
 * (then no other statement's failure can undo it).  On failure j
 * completes with TERR_DB and pg is broken.
 */
static void
pg_send(struct ev_pgconn *pg, struct ev_job *j, bool alone)
{
	struct ev_pipeline *pl = pg->pl;

	if (alone && !pg_sync(pg)) {
		complete(pl, j, TERR_DB);
		return;
	}
	if (pl->ops->send(pg, j) != 1) {
		log_error("sending a statement: %s", pl->ops->message(pg));
		complete(pl, j, TERR_DB);
		pg_broken(pg);
		return;
	}
	if (fifo_push(pg, j) == -1) {
		/* The statement is out; without an entry its result cannot
		 * be matched, so this connection is unusable. */
		complete(pl, j, TERR_NOMEM);
		pg_broken(pg);
		return;
	}
	j->state = JOB_RESULT;
	j->failed = false;
	if (j->sent_us == 0) /* a retry keeps its first send's time */
		j->sent_us = util_mono_us();
	pg->unsynced = true;
	if (alone)
		(void)pg_sync(pg);
	else if (j->shared)
		pl->ping = j;
}

/* Sends j now, or queues it for a connection, or fails it. */
static void
dispatch(struct ev_pipeline *pl, struct ev_job *j, bool alone)
{
	struct ev_pgconn *pg = NULL;
	bool		  none = true;

	if (j->cancelled) { /* nobody is waiting for it: don't run it */
		complete(pl, j, TERR_DB);
		return;
	}
	if (!alone && (pg = pg_pick_batch(pl, j, &none)) == NULL && !none)
		goto wait;
	if (pg == NULL && (pg = pg_pick_any(pl, j)) == NULL) {
		if (!alone && pg_opening(pl, j))
			goto wait;
		complete(pl, j, TERR_DB); /* the handler decides (health) */
		return;
	}
	pg_send(pg, j, alone);
	return;
wait:
	j->state = JOB_WAITING;
	jobq_push(&pl->wait[j->write ? 0 : 1], j);
	pl->nwaiting++;
}

void
ev_pipeline_submit(struct ev_pipeline *pl, struct ev_job *j)
{
	j->res = NULL;
	j->err = TERR_OK;
	j->own = NULL;
	j->retried = j->failed = false;
	j->followers = NULL;
	j->next = NULL;
	j->submit_us = util_mono_us();
	j->sent_us = 0;
	if (j->shared && pl->ping != NULL && pl->ping->state == JOB_RESULT &&
	    pl->ping->stmt == j->stmt) {
		/* Sent, its answer not back yet: the answer arrives after
		 * this request did.  (PostgreSQL may have made it up to one
		 * round trip earlier than this job's own: for "is the
		 * database there", as good; and a health check that waits
		 * for a busy connection's segment to end first waits two.) */
		j->state = JOB_FOLLOW;
		j->next = pl->ping->followers;
		pl->ping->followers = j;
		pl->nwaiting++;
		return;
	}
	if (j->write && (j->lock_key != NULL || pl->wait[0].head != NULL)) {
		/* Sent at the turn's end (wait_drain): one that locks a row
		 * in key order; any write behind those already waiting. */
		j->state = JOB_WAITING;
		jobq_push(&pl->wait[0], j);
		pl->nwaiting++;
		return;
	}
	dispatch(pl, j, false);
}

/*
 * Sends waiting jobs while a connection takes them, oldest first: a job
 * waits for those ahead of it, never for ones that came after it (and
 * the deadline scan finds the oldest at the head).  The writes go out
 * one segment's worth at a time, the oldest that fit, and that batch in
 * key order (see ev_pipeline.h).  Only the batch is sorted: sorting all
 * that wait would let new writes with low keys pass older ones with
 * high keys, segment after segment, for as long as the load lasts.
 */
static void
wait_drain(struct ev_pipeline *pl)
{
	struct ev_jobq *q = &pl->wait[0];
	struct ev_job  *j;

	/* A batch per writer that takes one: the next writer only while
	 * the first has its segment in flight (pg_pick_batch). */
	while ((j = q->head) != NULL) {
		struct ev_jobq	  batch = { NULL, NULL };
		struct ev_pgconn *pg;
		bool		  none;
		size_t		  room;

		/* None connected: they all go to the one that connects
		 * first (or fail) as one batch. */
		pg = pg_pick_batch(pl, j, &none);
		if (pg == NULL && !none)
			break; /* every writer busy: the next segment end */
		room = pg != NULL ? EV_SEGMENT_MAX - pg->q_len : SIZE_MAX;
		while (room > 0 && (j = jobq_pop(q)) != NULL) {
			pl->nwaiting--;
			jobq_push(&batch, j);
			room--;
		}
		jobq_sort_by_key(&batch);
		while ((j = jobq_pop(&batch)) != NULL) {
			j->state = JOB_IDLE;
			dispatch(pl, j, false);
		}
	}
	q = &pl->wait[1];
	while ((j = q->head) != NULL) {
		bool none;

		if (pg_pick_batch(pl, j, &none) == NULL && !none)
			break; /* all busy: the next segment end */
		(void)jobq_pop(q);
		pl->nwaiting--;
		j->state = JOB_IDLE;
		dispatch(pl, j, false);
	}
}

/*
 * The sync of pg's oldest segment came back.  When no statement of it
 * failed, it has committed: every job completes.  When one failed, that
 * one completes with its error; the others were rolled back or skipped,
 * and go again, each alone (once: alone, only a statement's own failure
 * can fail it).  The segment is taken off the FIFO first, so that
 * re-sending (which can break pg) sees a FIFO in step.
 */
static void
pg_segment_end(struct ev_pgconn *pg)
{
	struct ev_pipeline *pl = pg->pl;
	struct ev_jobq	    seg = { NULL, NULL };
	struct ev_job	   *j;
	bool		    failed = pg->seg_failed;

	for (size_t n = pg->q_done; n > 0; n--) {
		j = fifo_pop(pg);
		if (j != NULL)
			jobq_push(&seg, j);
	}
	(void)fifo_pop(pg); /* the sync point */
	pg->q_done = 0;
	pg->seg_failed = false;

	while ((j = jobq_pop(&seg)) != NULL) {
		if (!failed || j->failed) {
			complete(pl, j, j->err);
		} else if (!j->retried && !j->cancelled) {
			drop_result(pl, j);
			j->retried = true;
			j->err = TERR_OK;
			j->state = JOB_IDLE;
			if ((pg = pg_pick_any(pl, j)) == NULL)
				complete(pl, j, TERR_DB);
			else
				pg_send(pg, j, true);
		} else {
			drop_result(pl, j);
			complete(pl, j, TERR_DB);
		}
	}
}

/* A statement's own result: keep it, or note its failure. */
static void
take_result(struct ev_pgconn *pg, struct ev_job *j, PGresult *res)
{
	struct ev_pipeline *pl = pg->pl;
	ExecStatusType	    st = pl->ops->status(res);
	const char	   *state;
	bool		    again;

	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
		j->own = res;
		return;
	}
	if (st ==
	    PGRES_PIPELINE_ABORTED) { /* skipped after another's failure */
		pg->seg_failed = true;
		pl->ops->clear(res);
		return;
	}
	/* A deadlock victim or a serialization failure (class 40) did
	 * nothing wrong: it goes again alone with the rest of its segment. */
	state = pl->ops->sqlstate(res);
	again = state != NULL && strncmp(state, "40", 2) == 0 && !j->retried;
	j->err = pl->ops->error(pg, res);
	pl->ops->clear(res);
	if (j->err == TERR_INTERNAL)
		j->err = TERR_DB;
	j->failed = !again;
	if (again)
		j->err = TERR_OK;
	pg->seg_failed = true;
}

/* Reads what PostgreSQL has answered, entry by entry. */
static void
pg_read(struct ev_pgconn *pg)
{
	struct ev_pipeline     *pl = pg->pl;
	const struct ev_pq_ops *ops = pl->ops;
	struct ev_job	       *j;
	bool			any;

	if (!ops->connected(pg))
		return;
	if (ops->consume(pg) != 1) {
		pg_broken(pg);
		return;
	}
	while ((j = fifo_next(pg, &any), any) && ops->connected(pg) &&
	    !ops->busy(pg)) {
		PGresult *res = ops->result(pg);

		if (j == NULL) {
			/* A sync point: PGRES_PIPELINE_SYNC, nothing else. */
			if (res == NULL ||
			    ops->status(res) != PGRES_PIPELINE_SYNC) {
				log_error(
				    "pipeline out of step at a sync point");
				if (res != NULL)
					ops->clear(res);
				pg_broken(pg);
				return;
			}
			ops->clear(res);
			pg_segment_end(pg);
			continue;
		}
		if (j->state == JOB_RESULT) {
			if (res == NULL) {
				log_error("pipeline out of step: no result");
				pg_broken(pg);
				return;
			}
			take_result(pg, j, res);
			if (!ops->connected(pg)) {
				/* error() dropped it: nothing of this segment
				 * committed. */
				pg->fd = -1;
				pg_broken(pg);
				return;
			}
			j->state = JOB_NULL;
			continue;
		}
		/* JOB_NULL: the NULL that ends this statement's results. */
		if (res != NULL) {
			log_error("pipeline out of step: extra result");
			ops->clear(res);
			pg_broken(pg);
			return;
		}
		j->state = JOB_DONE;
		pg->q_done++;
	}
}

void
ev_pipeline_event(struct ev_pgconn *pg, bool readable, bool writable)
{
	if (pg->opening) {
		pg_opened(pg, pg->pl->ops->step(pg, true, util_mono_us()));
		return;
	}
	if (writable && pg->pl->ops->connected(pg) &&
	    pg->pl->ops->flush(pg) == -1) {
		pg_broken(pg);
		return;
	}
	if (readable)
		pg_read(pg);
}

void
ev_pipeline_turn_end(struct ev_pipeline *pl)
{
	wait_drain(pl);
	for (size_t i = 0; i < pl->npg; i++) {
		struct ev_pgconn *pg = &pl->pg[i];
		int		  rc;

		if (!pl->ops->connected(pg) || !pg_sync(pg))
			continue;
		if ((rc = pl->ops->flush(pg)) == -1) {
			pg_broken(pg);
			continue;
		}
		if ((rc == 1) != pg->want_write) {
			pg->want_write = rc == 1;
			if (pl->ops->watch != NULL)
				(void)pl->ops->watch(pg, false, pg->want_write);
		}
	}
}

/*
 * A segment PostgreSQL has not answered within the deadline is most
 * likely a commit waiting for a synchronous standby that is gone, which
 * nothing on the server bounds.  Its statement is cancelled and the
 * connection dropped, as for an error; its jobs complete at once: the
 * writes with TERR_UNKNOWN (they may have committed locally, and
 * PostgreSQL goes on with what it had read), the reads with TERR_DB.
 * Jobs that waited for a connection as long were never sent: TERR_DB.
 */
void
ev_pipeline_expire(struct ev_pipeline *pl, int64_t now)
{
	for (size_t i = 0; i < pl->npg; i++)
		if (pl->pg[i].opening)
			pg_opened(&pl->pg[i],
			    pl->ops->step(&pl->pg[i], false, now));
	if (pl->deadline_us <= 0)
		return;
	for (size_t i = 0; i < pl->npg; i++) {
		struct ev_pgconn    *pg = &pl->pg[i];
		const struct ev_job *oldest = NULL;

		for (size_t k = 0; k < pg->q_len && oldest == NULL; k++)
			oldest = pg->q[(pg->q_head + k) % pg->q_cap];
		if (oldest == NULL || !pl->ops->connected(pg) ||
		    now - oldest->submit_us <= pl->deadline_us)
			continue;
		log_warn("database connection: no answer after %lld ms; "
			 "cancelling, %zu entries in its pipeline get 503 "
			 "(outcome unknown for writes)",
		    (long long)((now - oldest->submit_us) / 1000), pg->q_len);
		if (pl->ops->cancel != NULL)
			(void)pl->ops->cancel(pg);
		pg_fail(pg, TERR_DB, TERR_UNKNOWN);
	}
	for (int k = 0; k < 2; k++) {
		struct ev_jobq *q = &pl->wait[k];
		struct ev_job  *j;

		/* Oldest first: the expired ones are at the head. */
		while ((j = q->head) != NULL &&
		    now - j->submit_us > pl->deadline_us) {
			(void)jobq_pop(q);
			pl->nwaiting--;
			complete(pl, j, TERR_DB);
		}
	}
}

size_t
ev_pipeline_run_completions(struct ev_pipeline *pl)
{
	struct ev_job *j;
	size_t	       n = 0;

	while ((j = jobq_pop(&pl->done)) != NULL) {
		PGresult      *own = j->own;
		struct ev_job *f = j->followers;
		enum terr      err = j->err;

		j->own = NULL;
		j->followers = NULL;
		/* Followers first: j's callback may free j. */
		while (f != NULL) {
			struct ev_job *fn = f->next;

			f->next = NULL;
			pl->nwaiting--;
			f->state = JOB_IDLE;
			f->res = own;
			f->err = err;
			f->done(f);
			n++;
			f = fn;
		}
		j->state = JOB_IDLE;
		j->res = own;
		j->done(j);
		n++;
		if (own != NULL)
			pl->ops->clear(own);
	}
	return n;
}

size_t
ev_pipeline_opening(const struct ev_pipeline *pl)
{
	size_t n = 0;

	for (size_t i = 0; i < pl->npg; i++)
		n += pl->pg[i].opening;
	return n;
}

size_t
ev_pipeline_pending(const struct ev_pipeline *pl)
{
	size_t n = pl->inflight + pl->nwaiting;

	for (const struct ev_job *j = pl->done.head; j != NULL; j = j->next)
		n++;
	return n;
}

void
ev_pipeline_init(struct ev_pipeline *pl, const struct ev_pq_ops *ops,
    size_t npg)
{
	memset(pl, 0, sizeof(*pl));
	pl->ops = ops;
	pl->npg = npg < 1 ? 1 : (npg > EV_PG_MAX ? EV_PG_MAX : npg);
	pl->nwriters = 1;
	for (size_t i = 0; i < EV_PG_MAX; i++) {
		pl->pg[i].tag.kind = EV_TAG_PG;
		pl->pg[i].pl = pl;
		pl->pg[i].fd = -1;
	}
}

void
ev_pipeline_set_writers(struct ev_pipeline *pl, size_t n)
{
	if (pl->npg < 2)
		return; /* the one connection carries both */
	pl->nwriters = n < 1 ? 1 : (n > pl->npg - 1 ? pl->npg - 1 : n);
}

void
ev_pipeline_connect(struct ev_pipeline *pl)
{
	for (size_t i = 0; i < pl->npg; i++)
		(void)pg_open(&pl->pg[i]);
}

void
ev_pipeline_free(struct ev_pipeline *pl)
{
	for (size_t i = 0; i < pl->npg; i++) {
		struct ev_pgconn *pg = &pl->pg[i];

		if (pl->ops->connected(pg) || pg->opening)
			pl->ops->close(pg);
		free(pg->q);
		pg->q = NULL;
		pg->q_len = pg->q_cap = 0;
	}
}
