/*
 * upgrade.c: the listening sockets outlive the master.
 *
 * A stop and a start leave a moment when no process holds the pool's
 * sockets (and spawn-fcgi makes a new one): every connection nginx tries
 * then fails, a JSON 502 each.  So a new binary is started by the running
 * master instead, as nginx does its binary upgrade: on SIGHUP, when the
 * file it was started from has been replaced (make install, a rebuild),
 * the master forks and execs that file with the same arguments and the
 * two listening sockets left open across exec, their numbers in
 * TASKAPI_UPGRADE_FDS and its own pid in TASKAPI_UPGRADE_FROM.  The new
 * master serves on those sockets (connections queue in their backlog
 * meanwhile, none is refused) and, once its workers are up, sends the
 * old master SIGTERM: that one stops as on any SIGTERM, serving what its
 * workers hold and what is queued (worker.c).  If the new binary fails
 * to start (a bad configuration, an old schema), the old master reaps
 * it, logs why and serves on.
 *
 * Not under socket activation (listen_fds.c): the service manager that
 * holds the sockets watches the master it started, and a successor that
 * master forked would be a process it does not know (systemd would kill
 * it as a leftover once the old master exits; the dev stack's holder
 * would close the sockets).  There a restart is the zero-failure path.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "upgrade.h"

#define ENV_FDS	 "TASKAPI_UPGRADE_FDS"
#define ENV_FROM "TASKAPI_UPGRADE_FROM"

static struct {
	char	    path[PATH_MAX]; /* "": unknown */
	struct stat st;
	const char *forbidden; /* why no take-over; NULL: allowed */
	bool	    told;      /* that reason logged already */
} self;

void
upgrade_forbid(const char *why)
{
	self.forbidden = why;
}

void
upgrade_note_binary(void)
{
	ssize_t n =
	    readlink("/proc/self/exe", self.path, sizeof(self.path) - 1);

	if (n <= 0 || stat(self.path, &self.st) == -1) {
		self.path[0] = '\0';
		return;
	}
	self.path[n] = '\0';
}

bool
upgrade_binary_replaced(void)
{
	struct stat st;
	bool	    replaced;

	if (self.path[0] == '\0' || stat(self.path, &st) == -1)
		return false;
	replaced = st.st_ino != self.st.st_ino || st.st_dev != self.st.st_dev ||
	    st.st_mtim.tv_sec != self.st.st_mtim.tv_sec ||
	    st.st_mtim.tv_nsec != self.st.st_mtim.tv_nsec;
	if (replaced && self.forbidden != NULL) {
		if (!self.told)
			log_warn(
			    "the binary was replaced, but this master does "
			    "not hand its sockets to it (%s): restart it "
			    "to run the new one",
			    self.forbidden);
		self.told = true;
		return false;
	}
	return replaced;
}

/* Leaves fd open across exec; fd -1 is left alone. */
static int
keep_open(int fd)
{
	int fl;

	if (fd < 0)
		return 0;
	if ((fl = fcntl(fd, F_GETFD)) == -1)
		return -1;
	return fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC);
}

pid_t
upgrade_start(char *const argv[], int listen_fd, int ev_fd)
{
	sigset_t all, old;
	char	 fds[32], from[32];
	pid_t	 pid;

	if (self.path[0] == '\0' || argv == NULL)
		return -1;
	snprintf(fds, sizeof(fds), "%d,%d", listen_fd, ev_fd);
	snprintf(from, sizeof(from), "%ld", (long)getpid());
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid = fork();
	if (pid == 0) {
		struct sigaction sa;

		/* Default dispositions, then the mask the new master expects. */
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = SIG_DFL;
		sigemptyset(&sa.sa_mask);
		for (int s = 1; s < NSIG; s++)
			if (s != SIGKILL && s != SIGSTOP)
				(void)sigaction(s, &sa, NULL);
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		if (keep_open(listen_fd) == -1 || keep_open(ev_fd) == -1 ||
		    setenv(ENV_FDS, fds, 1) == -1 ||
		    setenv(ENV_FROM, from, 1) == -1)
			_exit(127);
		execv(self.path, argv);
		log_error("upgrade: exec %s: %s", self.path, strerror(errno));
		_exit(127);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid == -1)
		log_error("upgrade: fork: %s", strerror(errno));
	return pid;
}

static bool
is_socket(int fd)
{
	struct stat st;

	return fd >= 0 && fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

int
upgrade_inherited(int *listen_fd, int *ev_fd, pid_t *from)
{
	const char *fds = getenv(ENV_FDS), *fr = getenv(ENV_FROM);
	long	    l, e = -2, p = 0;
	char	   *end;

	if (fds == NULL)
		return 0;
	l = strtol(fds, &end, 10);
	if (*end == ',')
		e = strtol(end + 1, &end, 10);
	if (*end != '\0' || l < 0 || l > INT_MAX || e < -1 || e > INT_MAX ||
	    fr == NULL || (p = strtol(fr, &end, 10)) <= 1 || *end != '\0' ||
	    !is_socket((int)l) || (e != -1 && !is_socket((int)e))) {
		log_error("upgrade: malformed hand-over %s=%s %s=%s", ENV_FDS,
		    fds, ENV_FROM, fr != NULL ? fr : "");
		return -1;
	}
	/* Only from the master that started this one, and not passed on. */
	if ((pid_t)p != getppid()) {
		log_error("upgrade: %s=%ld is not this process's parent",
		    ENV_FROM, p);
		return -1;
	}
	(void)unsetenv(ENV_FDS);
	(void)unsetenv(ENV_FROM);
	/* Not passed to the workers' execs (there are none) nor the next. */
	(void)fcntl((int)l, F_SETFD, FD_CLOEXEC);
	if (e != -1)
		(void)fcntl((int)e, F_SETFD, FD_CLOEXEC);
	*listen_fd = (int)l;
	*ev_fd = (int)e;
	*from = (pid_t)p;
	return 1;
}
