/*
 * scoreboard.h: one slot per worker in memory shared by the master and
 * all workers (mapped before the first fork), as php-fpm keeps it.
 * Workers write their own slot; the master reads every slot to kill
 * stuck workers and, later, to report status and metrics.
 */
#ifndef TASKAPI_SCOREBOARD_H
#define TASKAPI_SCOREBOARD_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define SB_SLOTS_MAX	512	/* 2 x the largest pool, for rolling reloads */

enum sb_state {
	SB_EMPTY = 0,
	SB_STARTING,	/* forked, connecting to the database */
	SB_IDLE,	/* waiting in accept */
	SB_BUSY,	/* serving a request */
	SB_STOPPING,	/* finishing its last request */
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
	atomic_int		 handler;	/* enum handler_id while busy */
	atomic_llong		 req_start_us;	/* monotonic, while busy */
	atomic_ullong		 requests;	/* served since start */
	atomic_llong		 started_us;	/* monotonic, at fork */
};

struct scoreboard {
	size_t			 nslots;
	struct sb_slot		 slots[];
};

/* Maps a zeroed shared scoreboard of n slots; NULL on failure. */
struct scoreboard *scoreboard_create(size_t n);

const char *sb_state_name(int state);

#endif /* TASKAPI_SCOREBOARD_H */
