/*
 * scoreboard.h: one slot per worker in memory shared by the master and
 * all workers (mapped before the first fork), as php-fpm keeps it.
 * Workers write their own slot; the master reads every slot to size the
 * pool and kill stuck workers, and any worker reads them all to answer
 * /status and /metrics (h_ops.c, metrics.c).  Each slot holds its
 * worker's counters (counters.h).
 */
#ifndef TASKAPI_SCOREBOARD_H
#define TASKAPI_SCOREBOARD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "counters.h"

#define SB_SLOTS_MAX	512	/* 2 x the largest pool, for rolling reloads */

enum sb_state {
	SB_EMPTY = 0,
	SB_STARTING,	/* forked, connecting to the database */
	SB_IDLE,	/* waiting in accept */
	SB_BUSY,	/* serving a request */
	SB_STOPPING,	/* finishing its last request */
	SB_READING,	/* blocking worker: took a connection, reading the
			 * request (busy for the master; bounded by the
			 * worker's read deadline, not the stuck-kill) */
	SB__MAX
};

enum sb_kind {
	SB_KIND_FCGI = 0,	/* blocking libfcgi worker */
	SB_KIND_EV,		/* event-driven worker */
	SB_KIND__MAX
};

struct sb_slot {
	atomic_int		 pid;
	atomic_int		 kind;		/* enum sb_kind */
	atomic_int		 state;
	atomic_int		 handler; /* enum endpoint_id while busy */
	atomic_llong		 req_start_us;	/* monotonic, while busy */
	atomic_ullong		 requests;	/* served since start */
	atomic_llong		 started_us;	/* monotonic, at fork */
	atomic_llong		 idle_since_us; /* monotonic, while idle */
	atomic_int		 inflight;	/* event worker: requests open */
	atomic_int		 conns;	/* event worker: FastCGI connections */
	atomic_ullong		 export_key; /* user streaming an export; 0 */
	atomic_llong progress_us; /* monotonic, last output flushed */
	struct sb_metrics	 met;		/* this worker's counters */
};

/* Why a worker was replaced (the master counts each). */
enum sb_exit {
	SB_EXIT_CRASH = 0,	/* died or exited non-zero, unasked */
	SB_EXIT_RECYCLED,	/* exited 0 after its max_requests */
	SB_EXIT_STUCK,		/* killed: stuck past the request timeout */
	SB_EXIT_RELOAD,		/* replaced by a rolling reload (SIGHUP) */
	SB_EXIT_IDLE,		/* stopped: more idle than the spare ones */
	SB_EXIT__MAX
};

struct scoreboard {
	size_t			 nslots;
	/*
	 * Slots ever used: 1 + the highest index the master has filled.
	 * Scans stop there.  Each slot is kilobytes of counters, and the
	 * first read of a shared page allocates it: a scan of all 512 slots
	 * made 1.5 MiB of the pool's idle memory (bench/RESULTS.md).
	 */
	atomic_uint		 used;
	atomic_int		 master_pid; /* gets SIGUSR1: spares ran out */
	/*
	 * The blocking pool's settings, as the master runs them (set at
	 * start and on reload), for /status: TASKAPI_WORKERS,
	 * TASKAPI_SPARE_WORKERS, TASKAPI_WORKER_IDLE_TIMEOUT.
	 */
	atomic_int		 pm_max;
	atomic_int		 pm_spare;
	atomic_int		 pm_idle_timeout_s;
	int64_t			 started_wall;	/* master start, epoch s */
	int64_t			 started_mono_us;
	atomic_uint		 fold_seq;	/* odd while folding */
	atomic_ullong		 exits[SB_KIND__MAX][SB_EXIT__MAX];
	struct sb_metrics	 retired;	/* counters of reaped workers */
	/*
	 * Per kind of worker: until when (monotonic us) the master's crash
	 * brake holds; a blocking worker answers 503 until then.
	 */
	atomic_llong		 brake_until_us[SB_KIND__MAX];
	struct sb_slot		 slots[];
};

/* The scoreboard scoreboard_create() made (NULL before). */
extern struct scoreboard *scoreboard;

/* This worker process's slot (NULL in the master and in tests). */
extern struct sb_slot *scoreboard_self;

/*
 * The master, on reap: folds the slot's counters into retired, counts
 * the exit and frees the slot.
 */
void	scoreboard_retire(struct scoreboard *, size_t i, int kind,
	    enum sb_exit why, int count_exit);

/* The slots to scan: scoreboard->used, at most nslots. */
size_t
scoreboard_used(const struct scoreboard *);

/*
 * The event workers that accept (not stopping): how many, and the
 * FastCGI connections they hold together.
 */
void
scoreboard_ev_conns(const struct scoreboard *, size_t *workers,
    size_t *conns);

/* Blocking workers idle or starting (so soon idle), of any generation. */
size_t
scoreboard_fcgi_ready(const struct scoreboard *);

/*
 * Marks self as streaming an export for user_id, unless max of that
 * user's exports (this one included) are running already: then false,
 * and self is left unmarked.  Two that start at once may both be
 * refused; never more than max run.
 */
bool
scoreboard_export_begin(struct scoreboard *, struct sb_slot *self,
    const char *user_id, unsigned max);
void
scoreboard_export_end(struct sb_slot *self);

/* Maps a zeroed shared scoreboard of n slots; NULL on failure. */
struct scoreboard *scoreboard_create(size_t n);

const char *sb_state_name(int state);
const char *sb_kind_name(int kind);
const char *sb_exit_name(int why);

#endif /* TASKAPI_SCOREBOARD_H */
