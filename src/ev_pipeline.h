/*
 * ev_pipeline.h: the event worker's statements on PostgreSQL, in libpq
 * pipeline mode.
 *
 * Design.  A job is one statement to run: the statement, its
 * parameters, and, once it has run, a result or an error; the request
 * that wants it embeds it and names a completion callback.  The
 * pipeline owns everything else:
 *
 *   - its connections (TASKAPI_EV_DB_CONNECTIONS of them), each with
 *     the FIFO of what it owes answers for: jobs, and sync points;
 *   - segments: the statements sent between two syncs, which
 *     PostgreSQL runs as one implicit transaction.  Each connection has
 *     at most one segment in PostgreSQL at a time; jobs submitted
 *     meanwhile wait and go into the next (group commit).  Writes use
 *     the first connections (the writers), reads the others, and both
 *     the same way: a turn's statements as one segment on the first
 *     idle connection of their kind, the next one only while that
 *     one's segment is in flight (each backend woken costs PostgreSQL
 *     CPU, so a fast database gets few, a slow or distant one as many
 *     as it needs; a second writer commits one segment while the
 *     first waits for its commit's flush).  So segments of one
 *     worker's writers, and of other workers, run side by side, and a
 *     segment holds each row it locked to its commit: two that lock the
 *     same two rows in opposite orders would deadlock (PostgreSQL
 *     breaks that only after deadlock_timeout, 1 s).  So a write that
 *     locks an existing row names it (lock_key), waits for the turn's
 *     end, and goes out in key order: every segment of every worker
 *     takes its row locks in one order, and none waits for another in
 *     a circle.  Writes that wait for a writer connection still go
 *     first come, first served: each segment takes the oldest that
 *     fit, and only those are put in key order;
 *   - the rules of a segment's end: a job is complete only when its
 *     segment's sync is back (committed).  When one statement failed,
 *     the others were rolled back or skipped: each is sent again alone.
 *     A deadlock victim or serialization failure (SQLSTATE class 40)
 *     goes again alone once too;
 *   - a broken connection: every job it owed fails (503), the
 *     connection is dropped and opened again when next needed;
 *   - opening a connection never blocks the loop (db_open_start): the
 *     loop goes on answering while it connects, a failover's seconds
 *     included.  Jobs that need it wait for it; when the attempt
 *     fails, they fail (503) unless another connection can take them;
 *   - a deadline: a segment not answered within deadline_us of its
 *     oldest job's submission (a commit waiting for a synchronous
 *     standby that is gone waits forever otherwise) is cancelled, its
 *     connection dropped, its writes answered "outcome unknown";
 *   - health pings share one statement: one that comes while another
 *     is sent and not yet answered follows it and gets its answer.
 *
 * Completion never calls back into the caller from inside the
 * pipeline: a job that completes is queued, and the loop runs the
 * queue once per turn (ev_pipeline_run_completions).  So a callback
 * may submit again at once, and nothing recurses.
 *
 * libpq is reached through struct ev_pq_ops, a small seam the unit
 * tests (tests/unit/t_ev_pipeline.c) fill with a simulated server.
 */
#ifndef TASKAPI_EV_PIPELINE_H
#define TASKAPI_EV_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "db.h"
#include "ev_tag.h"
#include "terr.h"

#define EV_PG_MAX      16  /* connections in one pipeline */
#define EV_SEGMENT_MAX 256 /* statements in one segment */

struct ev_job;
typedef void
ev_job_done_fn(struct ev_job *);

enum ev_job_state {
	JOB_IDLE = 0, /* not submitted, or completed */
	JOB_WAITING,  /* submitted; waiting for a connection to take it */
	JOB_FOLLOW,   /* a ping that gets another ping's answer */
	JOB_RESULT,   /* sent; waiting for its result */
	JOB_NULL,     /* got it; waiting for the NULL that ends it */
	JOB_DONE,     /* ended; waiting for its segment's sync */
	JOB_COMPLETE  /* on the completion queue */
};

struct ev_job {
	/* Set by the submitter. */
	enum stmt	   stmt;
	int		   nparams;
	const char *const *values;
	/* NULL: every value is text.  Else each value's format (1:
	 * binary) and its length in bytes (libpq's paramFormats and
	 * paramLengths). */
	const int	  *formats;
	const int	  *lengths;
	bool		   write;  /* changes rows: the writer connection */
	bool		   shared; /* same answer for all (the ping) */
	/* The existing row a write locks (db_plan_lock_key), or NULL. */
	const char	  *lock_key;
	ev_job_done_fn	  *done;
	/* Set by the submitter when its client went away: the job still
	 * completes (so its owner can free it), nobody is answered. */
	bool cancelled;

	/* Valid in the callback only: the result (NULL on error) and
	 * TERR_OK or the error. */
	const PGresult *res;
	enum terr	err;

	/* The pipeline's own. */
	enum ev_job_state state;
	bool		  retried; /* sent again alone once */
	bool		  failed;  /* its own statement failed */
	PGresult	 *own;	   /* the result it holds */
	int64_t		  submit_us; /* monotonic: submitted, sent (0: not) */
	int64_t		  sent_us;   /* for the metrics' queue and db times */
	struct ev_job	 *next;	   /* wait queue, completion queue */
	struct ev_job	 *followers;
};

struct ev_pipeline;

/* One PostgreSQL connection of the pipeline. */
struct ev_pgconn {
	struct ev_tag	    tag; /* EV_TAG_PG */
	struct ev_pipeline *pl;
	struct db	    db;
	void		   *sim; /* the unit tests' simulated server */
	int		    fd;	 /* watched by the loop, or -1 */
	bool		    opening; /* connecting or setting up */
	bool		    want_write;
	bool		    unsynced;	/* sent since the last sync */
	bool		    seg_failed; /* a statement of it failed */
	struct ev_job	  **q;		/* ring: jobs, NULL = a sync point */
	size_t		    q_head, q_len, q_cap;
	size_t		    q_done; /* entries with results, before a sync */
};

/*
 * What the pipeline needs of libpq, per connection.  open starts
 * opening the connection and step drives it, as db_open_start and
 * db_open_step (db.h): DB_STEP_READY when it is connected (in pipeline
 * mode), DB_STEP_READ or DB_STEP_WRITE while it waits for the socket
 * (socket says which, and it can change), DB_STEP_FAILED when it is
 * given up (and closed), DB_STEP_WAIT when a step without io changed
 * nothing.  Other return values as libpq's: send/sync 1 or 0; flush 0, 1
 * (more to write) or -1; cancel asks the server to stop what pg runs,
 * without waiting; consume 1, or 0 when the connection is broken;
 * error maps a failed result (and may drop the connection: connected
 * says).  watch registers the socket with the loop (add: a new socket)
 * or changes whether it waits to write.
 */
struct ev_pq_ops {
	enum db_step (*open)(struct ev_pgconn *, int64_t now);
	enum db_step (*step)(struct ev_pgconn *, bool io, int64_t now);
	int (*socket)(const struct ev_pgconn *);
	void (*close)(struct ev_pgconn *);
	bool (*connected)(const struct ev_pgconn *);
	int (*send)(struct ev_pgconn *, const struct ev_job *);
	int (*cancel)(struct ev_pgconn *); /* 0, or -1: not sent */
	int (*sync)(struct ev_pgconn *);
	int (*flush)(struct ev_pgconn *);
	int (*consume)(struct ev_pgconn *);
	bool (*busy)(struct ev_pgconn *);
	PGresult *(*result)(struct ev_pgconn *);
	ExecStatusType (*status)(const PGresult *);
	const char *(*sqlstate)(const PGresult *);
	enum terr (*error)(struct ev_pgconn *, const PGresult *);
	void (*clear)(PGresult *);
	const char *(*message)(struct ev_pgconn *);
	int (*watch)(struct ev_pgconn *, bool add, bool want_write);
};

/* The libpq binding; its watch is the caller's (the loop's epoll). */
extern const struct ev_pq_ops ev_pq_libpq;

struct ev_jobq {
	struct ev_job  *head;
	struct ev_job **tail;
};

struct ev_pipeline {
	const struct ev_pq_ops *ops;
	struct ev_pgconn	pg[EV_PG_MAX];
	size_t			npg;
	size_t			nwriters; /* pg[0..nwriters) take the writes */
	size_t			inflight; /* jobs in the connections' FIFOs */
	size_t			nwaiting; /* waiting or following */
	struct ev_jobq		wait[2];  /* [0] writes, [1] reads */
	struct ev_jobq		done;	  /* completed, callbacks to run */
	struct ev_job	       *ping;	  /* the ping in flight, or NULL */
	int64_t deadline_us;		  /* see ev_pipeline_expire; 0: none */
};

/*
 * Sets up npg (1..EV_PG_MAX) unconnected connections; ops is copied by
 * reference and must outlive the pipeline.  The caller fills each
 * pg[i].db (db_init) when ops is ev_pq_libpq.
 */
void
ev_pipeline_init(struct ev_pipeline *, const struct ev_pq_ops *, size_t npg);

/*
 * With two connections or more, the first n (1..npg-1) take the writes
 * and the others the reads; 1 unless set.
 */
void
ev_pipeline_set_writers(struct ev_pipeline *, size_t n);

/* Starts opening what is not connected yet (at start, so the first
 * request does not wait for it). */
void
ev_pipeline_connect(struct ev_pipeline *);

/*
 * Takes a job (state JOB_IDLE, stmt, values and done set).  It is sent
 * in this turn's segment, waits for the next, or, when no connection
 * can be had, completes with TERR_DB.  Never calls done itself.
 */
void
ev_pipeline_submit(struct ev_pipeline *, struct ev_job *);

/* The loop saw pg's socket readable and/or writable (or, while it
 * opens, in error). */
void
ev_pipeline_event(struct ev_pgconn *, bool readable, bool writable);

/*
 * End of a loop turn: what waits goes to a connection that takes it,
 * each connection syncs what it was sent and flushes.
 */
void
ev_pipeline_turn_end(struct ev_pipeline *);

/*
 * At now (monotonic), at least once a second: a connection that opens
 * past its deadline goes on to the next host or fails.  A connection whose oldest job was submitted more
 * than deadline_us ago has its statement cancelled and is dropped; its
 * jobs complete, writes with TERR_UNKNOWN, reads with TERR_DB; jobs that
 * waited for a connection as long complete with TERR_DB.
 */
void
ev_pipeline_expire(struct ev_pipeline *, int64_t now);

/* Runs the completion callbacks queued so far; returns how many. */
size_t
ev_pipeline_run_completions(struct ev_pipeline *);

/* Connections opening now. */
size_t
ev_pipeline_opening(const struct ev_pipeline *);

/* Jobs submitted and not yet completed. */
size_t
ev_pipeline_pending(const struct ev_pipeline *);

/* Closes the connections (jobs still in them are dropped silently). */
void
ev_pipeline_free(struct ev_pipeline *);

#endif /* TASKAPI_EV_PIPELINE_H */
