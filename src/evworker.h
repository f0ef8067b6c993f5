/*
 * evworker.h: the event-driven worker: many FastCGI connections on one
 * epoll loop, their statements pipelined on its PostgreSQL connections
 * (ev_loop.h, ev_conn.h, ev_pipeline.h).
 */
#ifndef TASKAPI_EVWORKER_H
#define TASKAPI_EVWORKER_H

#include "conf.h"
#include "scoreboard.h"

/*
 * Serves the event socket lfd until SIGTERM/SIGINT/SIGQUIT, then stops
 * accepting, answers what is in flight and returns the exit code.
 */
int
evworker_main(const struct conf *, int lfd, struct sb_slot *slot);

#endif /* TASKAPI_EVWORKER_H */
