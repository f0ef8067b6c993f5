/*
 * listen_fds.h: the listening sockets a service manager passes in
 * (systemd's socket activation: LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES;
 * sd_listen_fds(3)), so that they outlive a stop and a start.
 */
#ifndef TASKAPI_LISTEN_FDS_H
#define TASKAPI_LISTEN_FDS_H

#include <sys/types.h>

#include <stddef.h>

/* What each passed socket is for, by its LISTEN_FDNAMES name. */
#define LISTEN_FDS_NAME_POOL "taskapi-pool" /* the blocking workers */
#define LISTEN_FDS_NAME_EV   "taskapi-ev"   /* the event-driven workers */

/* The protocol's first descriptor (SD_LISTEN_FDS_START). */
#define LISTEN_FDS_START 3

struct listen_fds {
	int pool; /* -1: not passed */
	int ev;	  /* -1: not passed */
};

/*
 * Reads the protocol from the environment of process self, for the
 * descriptors from first on (LISTEN_FDS_START outside the tests).
 * Nothing is for this process when LISTEN_PID is unset or names another
 * one.  Each descriptor passed must be a listening stream socket
 * (SO_ACCEPTCONN) of family AF_UNIX, AF_INET or AF_INET6, named
 * taskapi-pool or taskapi-ev (one descriptor without LISTEN_FDNAMES is
 * the pool's).  Each gets FD_CLOEXEC, and the three variables are
 * removed in every case, so that no worker nor successor reads them.
 * Returns how many were taken (0: none, out both -1), or -1 with a
 * reason in err (the start must stop: a service manager that passes
 * sockets nobody serves would queue nginx's connections for ever).
 */
int
listen_fds_take(pid_t self, int first, struct listen_fds *out, char *err,
    size_t errsz);

/*
 * Whether the passed socket fd serves the address addr as taskapi names
 * it (unix:PATH, HOST:PORT; NULL: anything goes): the same family, and
 * for a unix socket the same path.  Returns 1 (it does), 0 (the family
 * matches, the unix path differs: worth a warning, nginx may point at
 * the other) or -1 with a reason in err (another family).
 */
int
listen_fds_matches(int fd, const char *addr, char *err, size_t errsz);

#endif /* TASKAPI_LISTEN_FDS_H */
