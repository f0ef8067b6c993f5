/*
 * pool_policy.h: what the master decides about its pool, apart from how
 * it does it (supervisor.c), as php-fpm keeps fpm_process_ctl.c apart
 * from fpm_children.c: how many workers of each kind are wanted, which
 * surplus one to stop, when the on-demand pool starts one, when a
 * rolling reload moves on, and the crash brake.
 *
 * Every decision is a pure function over one count of the slots the
 * master takes once per tick (struct pool_count) and the brake's state:
 * no process, signal or clock is touched here, so tests/unit/t_pool_policy.c
 * runs them without any.
 */
#ifndef TASKAPI_POOL_POLICY_H
#define TASKAPI_POOL_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scoreboard.h"

#define CRASH_WINDOW_US (30LL * 1000000) /* brake window */
#define CRASH_LIMIT	5		 /* abnormal exits per window */
#define BACKOFF_MIN_US	(500LL * 1000)
#define BACKOFF_MAX_US	(30LL * 1000000)
#define KEPT_RESPAWN_US (500LL * 1000) /* the kept worker, at most */

/*
 * The crash brake, one per kind of worker: blocking workers dying in a
 * loop must not delay the event worker's restart, nor the other way
 * round.  While a kind's brake holds (now < spawn_at) no worker of that
 * kind is started beyond one: a kind is never left with no worker at
 * all, since requests would then wait unanswered in its socket's queue
 * until nginx or the client gave up, and run later for nobody.  That
 * kept worker is restarted at most every KEPT_RESPAWN_US.
 */
struct brake {
	int64_t crashes[CRASH_LIMIT]; /* ring of times */
	size_t	crash_next;
	int64_t backoff_us;
	int64_t spawn_at; /* no spawn before, but the kept one */
	int64_t kept_at;  /* last start of a kept worker */
};

/* One worker as the master sees it this tick. */
struct pool_worker {
	bool	live;	    /* a process is there */
	int	kind;	    /* enum sb_kind */
	bool	current;    /* of the current generation */
	bool	retiring;   /* asked to stop */
	int	state;	    /* enum sb_state, from its slot */
	int64_t idle_since; /* monotonic us while idle, 0 otherwise */
};

/* Per kind: the workers not asked to stop, and those asked. */
struct pool_kind_count {
	size_t cur;	 /* current generation */
	size_t old;	 /* older generation (a reload in progress) */
	size_t retiring; /* asked to stop, not gone yet */
	size_t starting; /* current generation, not accepting yet */
	size_t busy;	 /* serving or reading a request */
	size_t ready;	 /* idle or starting, retiring ones too */
	size_t serving;	 /* idle or busy: accepting */
	size_t live;	 /* every process of the kind */
};

/* The count of the slots, taken once per tick (supervisor.c). */
struct pool_count {
	size_t		       n; /* entries of w[] */
	struct pool_worker     w[SB_SLOTS_MAX];
	struct pool_kind_count k[SB_KIND__MAX];
};

/* The settings the policy reads (TASKAPI_WORKERS and friends). */
struct pool_settings {
	size_t	fcgi_max;	 /* TASKAPI_WORKERS */
	size_t	fcgi_spare;	 /* TASKAPI_SPARE_WORKERS */
	int64_t idle_timeout_us; /* TASKAPI_WORKER_IDLE_TIMEOUT */
	size_t	ev_workers;	 /* 0: no event workers */
};

/* What to do for one kind this tick. */
struct pool_plan {
	size_t spawn;	     /* workers to start now */
	bool   kept;	     /* the one started is the brake's kept worker */
	bool   retire_old;   /* ask one of an older generation to stop */
	bool   stop_surplus; /* stop one more than wanted (pool_surplus) */
};

/* Adds one worker (slot i) to a count that does not hold slot i yet. */
void
pool_count_add(struct pool_count *, size_t i, const struct pool_worker *);

/* Counts a worker started (in slot i) or asked to stop after the
 * count was taken. */
void
pool_count_spawned(struct pool_count *, size_t i, int kind);
void
pool_count_retired(struct pool_count *, size_t i);

/*
 * Notes an abnormal exit at now; true when the kind's restarts are now
 * held back (CRASH_LIMIT within CRASH_WINDOW_US), the backoff doubled.
 */
bool
brake_note_crash(struct brake *, int64_t now);

/* A long-lived pool forgets old crashes. */
void
brake_forget(struct brake *, int64_t now);

bool
brake_holds(const struct brake *, int64_t now);

/*
 * Blocking workers wanted: the busy ones plus fcgi_spare idle ones,
 * within fcgi_max (php-fpm's "dynamic" pool; with spare 0 "ondemand",
 * with spare >= max "static").  An on-demand pool wants none while none
 * is busy, but one while the brake holds, which answers 503 at once.
 */
size_t
pool_fcgi_wanted(const struct pool_count *, const struct pool_settings *,
    bool brake_holds);

/*
 * How long a blocking worker must have been idle to be stopped as
 * surplus: the idle timeout, or 0 (any, at once) when the pool holds
 * more than fcgi_max after a reload made it smaller.
 */
int64_t
pool_fcgi_idle_min(const struct pool_count *, const struct pool_settings *);

/*
 * The plan for one kind: brings it to want and carries a rolling reload
 * forward (one new worker in, and once it accepts, one old one out).
 * b is updated for the workers the plan starts (spawn_at, kept_at).
 */
void
pool_plan_kind(const struct pool_count *, int kind, size_t want,
    struct brake *b, int64_t now, struct pool_plan *);

/*
 * The worker to stop when there are more than wanted: the one idle the
 * longest, if for idle_min_us at least; with idle_min_us 0 any, idle
 * ones first.  c->n when none.
 */
size_t
pool_surplus(const struct pool_count *, int kind, int64_t now,
    int64_t idle_min_us);

/*
 * An on-demand pool (fcgi_spare 0): whether the master watches the
 * listen socket itself, to start a worker for a waiting connection.
 * Only while no blocking worker is ready and the pool may grow.
 */
bool
pool_ondemand_watch(const struct pool_count *, const struct pool_settings *,
    bool brake_holds);

#endif /* TASKAPI_POOL_POLICY_H */
