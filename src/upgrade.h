/*
 * upgrade.h: a new binary takes over the running pool's listening
 * sockets, so that a restart for an upgrade refuses no connection.
 */
#ifndef TASKAPI_UPGRADE_H
#define TASKAPI_UPGRADE_H

#include <sys/types.h>

#include <stdbool.h>

/* At start: remembers which file this binary is (for the check below). */
void
upgrade_note_binary(void);

/*
 * From now on no take-over: the binary being replaced is logged (once,
 * with why) and SIGHUP only reloads.  why must outlive the process.
 */
void
upgrade_forbid(const char *why);

/*
 * Whether the file this binary was started from has been replaced (and
 * a take-over is allowed).
 */
bool
upgrade_binary_replaced(void);

/*
 * In the running master: starts the binary now at that path with the
 * same arguments, handing it listen_fd and ev_fd (-1: none).  Returns
 * its pid, or -1.
 */
pid_t
upgrade_start(char *const argv[], int listen_fd, int ev_fd);

/*
 * In a master the one above started: the sockets handed over.  Returns
 * 1 with *listen_fd, *ev_fd (-1: none) and *from (the old master, to
 * stop once this one serves) set; 0 when nothing was handed over; -1 on
 * a malformed hand-over (logged).
 */
int
upgrade_inherited(int *listen_fd, int *ev_fd, pid_t *from);

#endif /* TASKAPI_UPGRADE_H */
