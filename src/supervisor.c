/*
 * supervisor.c: the master's event loop.
 *
 * Signal handlers only write the signal number to a self-pipe; the loop
 * polls the pipe with a timeout and does all the work in plain context
 * (php-fpm's fpm_signals.c).  Signals are blocked across fork(), and
 * each child resets its handlers before it unblocks them.
 *
 * Worker bookkeeping: struct child (master-only) next to the shared
 * scoreboard slot of the same index.  Once per tick the master counts
 * the slots (struct pool_count) and asks pool_policy.c what to do: how
 * many workers each kind wants, which to stop, whether the crash brake
 * holds; this file does it (signals, spawn, reap, stuck workers,
 * reload, stop).  A reload bumps the generation; workers of an older
 * generation are replaced one at a time: start one new worker, wait
 * until it accepts, then ask one old worker to stop.
 */
#include "config.h"

#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evworker.h"
#include "log.h"
#include "pool_policy.h"
#include "scoreboard.h"
#include "supervisor.h"
#include "upgrade.h"
#include "util.h"
#include "worker.h"

#define STUCK_GRACE_US	 (5LL * 1000000) /* past request_timeout */
#define TERM_RESEND_US	 (1LL * 1000000)
#define TAKEOVER_WAIT_US (15LL * 1000000) /* a new master's workers */

/*
 * A kind's crash brake (pool_policy.h) keeps one worker: a blocking one
 * answers every request with a JSON 503 + Retry-After until the brake
 * lets go (worker.c, admission.c), so it runs none of what may be
 * killing the pool; the event worker serves on.  The brake's end is
 * published in the scoreboard for that.
 */

struct child {
	pid_t		 pid;		/* 0: slot free */
	enum sb_kind	 kind;
	unsigned	 gen;
	bool		 retiring;	/* asked to stop */
	bool		 stuck;		/* killed for a stuck request */
	bool		 idle_stop;	/* stopped as a surplus idle worker */
	int64_t		 started_us;
	int64_t		 term_sent_us;
};

static int		 sig_pipe[2] = { -1, -1 };

static void
begin_stop(int);

static struct {
	struct conf		*conf;
	const char		*env_file;
	int			 listen_fd;
	int			 ev_fd;		/* -1: no event workers */
	struct scoreboard	*sb;
	struct child		 children[SB_SLOTS_MAX];
	unsigned		 gen;
	bool			 stopping;
	int64_t			 stop_deadline;
	struct brake		 brake[SB_KIND__MAX];
	struct pool_count	 count; /* this tick's (count_slots) */
	unsigned long		 restarts;
	char *const		*argv;	      /* to start a new binary */
	pid_t			 successor;   /* new master starting, or 0 */
	pid_t			 predecessor; /* old master to stop, or 0 */
	int64_t			 takeover_deadline;
} sv;

static void
on_signal(int sig)
{
	int		 saved = errno;
	unsigned char	 b = (unsigned char)sig;

	/* The pipe is non-blocking: a full pipe drops the byte, harmless. */
	if (write(sig_pipe[1], &b, 1) == -1) {
		/* nothing to do in a handler */
	}
	errno = saved;
}

static int
setup_signals(void)
{
	struct sigaction	 sa;
	static const int sigs[] = { SIGCHLD, SIGTERM, SIGINT, SIGQUIT, SIGHUP,
		SIGUSR1 };

	if (pipe2(sig_pipe, O_NONBLOCK | O_CLOEXEC) == -1)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigaction(sigs[i], &sa, NULL) == -1)
			return -1;
	/*
	 * USR1 (above) only makes the master look at its pool at once: the
	 * workers send it when the spare ones run out.  USR2 is ignored, not
	 * fatal: a stray one (logrotate habits) must not kill the master and
	 * orphan its workers.  Inherited by the workers.
	 */
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGUSR2, &sa, NULL) == -1)
		return -1;
	return sigaction(SIGPIPE, &sa, NULL);
}

/* In the child: default handlers, no self-pipe. */
static void
child_reset_signals(void)
{
	struct sigaction	 sa;
	static const int	 sigs[] = { SIGCHLD, SIGTERM, SIGINT, SIGQUIT,
	    SIGHUP };

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_DFL;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		(void)sigaction(sigs[i], &sa, NULL);
	/* A worker ignores USR1, like USR2. */
	sa.sa_handler = SIG_IGN;
	(void)sigaction(SIGUSR1, &sa, NULL);
	close(sig_pipe[0]);
	close(sig_pipe[1]);
}

static size_t
free_slot(void)
{
	size_t	 limit = sv.sb->nslots;

	for (size_t i = 0; i < limit; i++)
		if (sv.children[i].pid == 0)
			return i;
	return limit;
}

/* Forks one worker of the kind, current generation; returns 0 or -1. */
static int
spawn(enum sb_kind kind)
{
	sigset_t	 all, old;
	size_t		 i = free_slot();
	pid_t		 pid, master_pid;

	if (i >= sv.sb->nslots) {
		log_error("no free scoreboard slot; not starting a worker");
		return -1;
	}
	/* Before the fork: scans by the workers then include this slot. */
	if (i + 1 > atomic_load(&sv.sb->used))
		atomic_store(&sv.sb->used, (unsigned)(i + 1));
	master_pid = getpid();
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid = fork();
	if (pid == 0) {
		struct sb_slot *slot = &sv.sb->slots[i];
		child_reset_signals();
		/*
		 * If the master dies anyhow (kill -9), its workers stop too,
		 * gracefully, instead of serving on unsupervised.  The check
		 * after it closes the race with a master that died first.
		 */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1 ||
		    getppid() != master_pid)
			_exit(0);
		scoreboard_self = slot;
		counters_self = &slot->met;
		atomic_store(&slot->pid, (int)getpid());
		atomic_store(&slot->requests, 0ULL);
		atomic_store(&slot->req_start_us, 0LL);
		atomic_store(&slot->started_us, util_mono_us());
		atomic_store(&slot->idle_since_us, 0LL);
		atomic_store(&slot->kind, (int)kind);
		atomic_store(&slot->state, SB_STARTING);
		/* Each worker keeps only its own socket. */
		if (kind == SB_KIND_EV) {
			close(sv.listen_fd);
			_exit(evworker_main(sv.conf, sv.ev_fd, slot));
		}
		if (sv.ev_fd != -1)
			close(sv.ev_fd);
		/* worker_main unblocks signals once its handlers are set. */
		_exit(worker_main(sv.conf, sv.listen_fd, slot));
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid == -1) {
		log_error("fork: %s", strerror(errno));
		return -1;
	}
	sv.children[i].pid = pid;
	sv.children[i].kind = kind;
	sv.children[i].gen = sv.gen;
	sv.children[i].retiring = false;
	sv.children[i].stuck = false;
	sv.children[i].idle_stop = false;
	sv.children[i].started_us = util_mono_us();
	sv.children[i].term_sent_us = 0;
	atomic_store(&sv.sb->slots[i].pid, (int)pid);
	atomic_store(&sv.sb->slots[i].kind, (int)kind);
	atomic_store(&sv.sb->slots[i].state, SB_STARTING);
	pool_count_spawned(&sv.count, i, (int)kind);
	log_debug("started %s worker %ld (generation %u)",
	    kind == SB_KIND_EV ? "event" : "fastcgi", (long)pid, sv.gen);
	return 0;
}

static void
retire(size_t i)
{
	struct child	*c = &sv.children[i];

	pool_count_retired(&sv.count, i);
	c->retiring = true;
	c->term_sent_us = util_mono_us();
	if (kill(c->pid, SIGTERM) == -1 && errno != ESRCH)
		log_warn("kill %ld: %s", (long)c->pid, strerror(errno));
}

/* Publishes the end of a kind's brake where its workers read it. */
static void
publish_brake(enum sb_kind kind)
{
	atomic_store(&sv.sb->brake_until_us[kind], sv.brake[kind].spawn_at);
}

/*
 * Notes an abnormal exit of a worker of the kind and sets that kind's
 * respawn backoff when they pile up.
 */
static void
note_crash(enum sb_kind kind, int64_t now)
{
	struct brake *b = &sv.brake[kind];

	if (!brake_note_crash(b, now))
		return;
	publish_brake(kind);
	log_error("%d workers died within %lld s; waiting %lld ms before "
		  "starting another %s worker (one is kept running%s)",
	    CRASH_LIMIT, (long long)(CRASH_WINDOW_US / 1000000),
	    (long long)(b->backoff_us / 1000), sb_kind_name((int)kind),
	    kind == SB_KIND_FCGI ? ", answering 503" : "");
}

static void
reap(void)
{
	pid_t	 pid;
	int	 st;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		size_t		 i;
		bool		 planned;
		enum sb_exit	 why = SB_EXIT_CRASH;
		int64_t		 now = util_mono_us();

		if (pid == sv.successor) {
			log_error(
			    "the new master %ld %s %d before it took over; "
			    "this master serves on",
			    (long)pid,
			    WIFEXITED(st) ? "exited with status" :
					    "was killed by signal",
			    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
			sv.successor = 0;
			continue;
		}
		for (i = 0; i < SB_SLOTS_MAX; i++)
			if (sv.children[i].pid == pid)
				break;
		if (i == SB_SLOTS_MAX) {
			log_warn("reaped unknown child %ld", (long)pid);
			continue;
		}
		planned = sv.stopping || sv.children[i].retiring;
		if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
			if (planned) {
				log_debug("worker %ld exited", (long)pid);
				why = sv.children[i].idle_stop ? SB_EXIT_IDLE :
								 SB_EXIT_RELOAD;
			} else {
				log_info("worker %ld exited after its "
				    "max_requests; replacing it", (long)pid);
				why = SB_EXIT_RECYCLED;
			}
		} else if (WIFEXITED(st)) {
			log_error("worker %ld exited with status %d", (long)pid,
			    WEXITSTATUS(st));
			note_crash(sv.children[i].kind, now);
		} else if (WIFSIGNALED(st)) {
			int sig = WTERMSIG(st);
			if (planned && (sig == SIGTERM || sig == SIGKILL)) {
				log_info("worker %ld stopped by signal %d",
				    (long)pid, sig);
				why = sv.children[i].stuck   ? SB_EXIT_STUCK :
				    sv.children[i].idle_stop ? SB_EXIT_IDLE :
							       SB_EXIT_RELOAD;
			} else {
				log_error("worker %ld killed by signal %d%s",
				    (long)pid, sig, WCOREDUMP(st) ?
				    " (core dumped)" : "");
				note_crash(sv.children[i].kind, now);
			}
		}
		if (!planned)
			sv.restarts++;
		/* Exits at shutdown replace nothing: not counted. */
		scoreboard_retire(sv.sb, i, (int)sv.children[i].kind, why,
		    !sv.stopping);
		memset(&sv.children[i], 0, sizeof(sv.children[i]));
	}
}

/*
 * Kills workers stuck in one request well past the request timeout: with
 * no output flushed for that long (a streamed export counts from its last
 * flush, so a long one that keeps moving is not cut).
 */
static void
kill_stuck(int64_t now)
{
	int64_t	 limit = sv.conf->request_timeout * 1000000LL + STUCK_GRACE_US;

	for (size_t i = 0; i < sv.sb->nslots; i++) {
		struct sb_slot	*s = &sv.sb->slots[i];
		int64_t		 start;

		if (sv.children[i].pid == 0 ||
		    atomic_load(&s->state) != SB_BUSY)
			continue;
		start = atomic_load(&s->req_start_us);
		/* A streaming request counts from its last progress. */
		if (start != 0 && atomic_load(&s->progress_us) > start)
			start = atomic_load(&s->progress_us);
		if (start != 0 && now - start > limit) {
			log_error("worker %ld stuck in one request for %lld s; "
			    "killing it", (long)sv.children[i].pid,
			    (long long)((now - start) / 1000000));
			kill(sv.children[i].pid, SIGKILL);
			pool_count_retired(&sv.count, i);
			sv.children[i].retiring = true;	/* replaced, not a crash */
			sv.children[i].stuck = true;
			atomic_store(&s->req_start_us, 0LL);
		}
	}
}

/*
 * The one count of the slots per tick: every decision of the tick reads
 * it (pool_policy.c), and what the tick starts or stops updates it.
 */
static void
count_slots(void)
{
	memset(&sv.count.k, 0, sizeof(sv.count.k));
	sv.count.n = 0;
	for (size_t i = 0, n = sv.sb->nslots; i < n; i++) {
		const struct child *c = &sv.children[i];
		struct sb_slot	   *s = &sv.sb->slots[i];
		struct pool_worker  w = { 0 };

		if (c->pid != 0) {
			w.live = true;
			w.kind = (int)c->kind;
			w.current = c->gen == sv.gen;
			w.retiring = c->retiring;
			w.state = atomic_load(&s->state);
			w.idle_since = atomic_load(&s->idle_since_us);
		}
		pool_count_add(&sv.count, i, &w);
	}
}

static void
settings(struct pool_settings *ps)
{
	ps->fcgi_max = (size_t)sv.conf->workers;
	ps->fcgi_spare = (size_t)sv.conf->spare_workers;
	ps->idle_timeout_us = sv.conf->worker_idle_timeout * 1000000LL;
	ps->ev_workers = sv.ev_fd != -1 ? (size_t)sv.conf->ev_workers : 0;
}

/* Does what the policy planned for one kind. */
static void
maintain_kind(enum sb_kind kind, size_t want, int64_t idle_min_us, int64_t now)
{
	struct pool_plan plan;
	int64_t		 spawn_at = sv.brake[kind].spawn_at;

	pool_plan_kind(&sv.count, (int)kind, want, &sv.brake[kind], now, &plan);
	if (sv.brake[kind].spawn_at != spawn_at)
		publish_brake(kind);
	for (size_t n = 0; n < plan.spawn; n++) {
		if (spawn(kind) == -1)
			return;
		if (plan.kept)
			log_warn("crash brake: started one %s worker to keep "
				 "the pool answering",
			    sb_kind_name((int)kind));
	}
	if (plan.retire_old) {
		for (size_t i = 0; i < sv.count.n; i++)
			if (sv.count.w[i].live &&
			    sv.count.w[i].kind == (int)kind &&
			    !sv.count.w[i].retiring && !sv.count.w[i].current) {
				retire(i);
				break;
			}
	} else if (plan.stop_surplus) {
		size_t v = pool_surplus(&sv.count, (int)kind, now, idle_min_us);

		if (v < sv.count.n) {
			sv.children[v].idle_stop = idle_min_us > 0;
			retire(v);
		}
	}
}

static void
maintain(int64_t now)
{
	struct pool_settings ps;

	settings(&ps);
	for (int k = 0; k < SB_KIND__MAX; k++)
		brake_forget(&sv.brake[k], now);
	maintain_kind(SB_KIND_FCGI,
	    pool_fcgi_wanted(&sv.count, &ps,
		brake_holds(&sv.brake[SB_KIND_FCGI], now)),
	    pool_fcgi_idle_min(&sv.count, &ps), now);
	maintain_kind(SB_KIND_EV, ps.ev_workers, 0, now);
}

/*
 * With TASKAPI_SPARE_WORKERS=0 (php-fpm's "ondemand" pool) no blocking
 * worker waits idle: the master watches the listen socket itself while
 * no worker is idle or starting, and a connection waiting there starts
 * one.  One at a time: the worker it starts counts as ready, so the
 * socket is not watched again until that worker has taken a connection.
 * An idle pool then holds no blocking worker and no database connection
 * for it; the first request after an idle spell pays a fork and a
 * connect (bench/RESULTS.md), small beside the Argon2id hash of the
 * routes this pool serves.
 */
static bool
ondemand_watch(int64_t now)
{
	struct pool_settings ps;

	settings(&ps);
	return !sv.stopping &&
	    pool_ondemand_watch(&sv.count, &ps,
		brake_holds(&sv.brake[SB_KIND_FCGI], now));
}

/* The pool's settings, where /status reads them. */
static void
publish_settings(void)
{
	atomic_store(&sv.sb->pm_max, (int)sv.conf->workers);
	atomic_store(&sv.sb->pm_spare, (int)sv.conf->spare_workers);
	atomic_store(&sv.sb->pm_idle_timeout_s,
	    (int)sv.conf->worker_idle_timeout);
}

static void
reload(void)
{
	struct conf	*nc;
	char		 err[256];

	if ((nc = calloc(1, sizeof(*nc))) == NULL) {
		log_error("reload: out of memory");
		return;
	}
	if (conf_load(nc, sv.env_file, err, sizeof(err)) == -1) {
		log_error("reload refused, keeping the running configuration: "
		    "%s", err);
		free(nc);
		return;
	}
	/* The socket is already open: a new listen address needs a restart. */
	free(nc->listen);
	nc->listen = sv.conf->listen;
	sv.conf->listen = NULL;
	free(nc->ev_listen);
	nc->ev_listen = sv.conf->ev_listen;
	sv.conf->ev_listen = NULL;
	conf_free(sv.conf);
	free(sv.conf);
	sv.conf = nc;
	log_setup(nc->log_level, nc->log_format, "master");
	publish_settings();
	sv.gen++;
	log_info("configuration reloaded; replacing %ld workers one at a time "
	    "(generation %u)", nc->workers, sv.gen);
}

/*
 * SIGHUP: a reload, or, when the binary was replaced since this master
 * started, the new binary taking over the sockets (upgrade.c).
 */
static void
on_hup(void)
{
	pid_t pid;

	if (sv.successor != 0) {
		log_warn("SIGHUP ignored: new master %ld is taking over",
		    (long)sv.successor);
		return;
	}
	if (!upgrade_binary_replaced()) {
		reload();
		return;
	}
	if ((pid = upgrade_start(sv.argv, sv.listen_fd, sv.ev_fd)) == -1) {
		log_error("the binary was replaced, but starting it failed; "
			  "reloading the configuration only");
		reload();
		return;
	}
	sv.successor = pid;
	log_info("the binary was replaced: started it as master %ld on the "
		 "same sockets; this master stops once that one serves",
	    (long)pid);
}

/*
 * A master that took over from another: once its workers are up, the
 * old master is asked to stop (it serves what it holds and what is
 * queued, beside this one's workers).  Workers that never come up
 * leave the old master serving and this one stopping.
 */
static void
takeover(int64_t now)
{
	bool ev = sv.ev_fd == -1 || sv.count.k[SB_KIND_EV].serving > 0;
	bool fcgi =
	    sv.conf->spare_workers == 0 || sv.count.k[SB_KIND_FCGI].serving > 0;

	if (sv.predecessor == 0)
		return;
	if (ev && fcgi) {
		log_info("serving; asking the old master %ld to stop",
		    (long)sv.predecessor);
		if (kill(sv.predecessor, SIGTERM) == -1 && errno != ESRCH)
			log_error("kill %ld: %s", (long)sv.predecessor,
			    strerror(errno));
		sv.predecessor = 0;
	} else if (now >= sv.takeover_deadline) {
		log_error("no worker ready %lld s after the take-over; leaving "
			  "the old master %ld serving and stopping",
		    (long long)(TAKEOVER_WAIT_US / 1000000),
		    (long)sv.predecessor);
		sv.predecessor = 0;
		begin_stop(SIGTERM);
	}
}

static void
begin_stop(int sig)
{
	sv.stopping = true;
	sv.stop_deadline = util_mono_us() +
	    sv.conf->shutdown_timeout * 1000000LL;
	log_info("signal %d: stopping; waiting up to %ld s for requests in "
	    "flight", sig, sv.conf->shutdown_timeout);
	for (size_t i = 0; i < sv.sb->nslots; i++)
		if (sv.children[i].pid != 0)
			retire(i);
}

static size_t
live_children(void)
{
	size_t	 n = 0;

	for (size_t i = 0; i < sv.sb->nslots; i++)
		if (sv.children[i].pid != 0)
			n++;
	return n;
}

/*
 * Stopping, with requests still queued on the blocking pool's socket and
 * no blocking worker left to take them (an on-demand pool may have none):
 * one is started and asked to stop at once; it serves what is queued
 * before it exits (worker.c, drain_queued).
 */
static void
drain_on_stop(int64_t now)
{
	struct pollfd p = { .fd = sv.listen_fd, .events = POLLIN };

	if (now >= sv.stop_deadline)
		return;
	for (size_t i = 0; i < sv.sb->nslots; i++)
		if (sv.children[i].pid != 0 &&
		    sv.children[i].kind == SB_KIND_FCGI)
			return;
	if (poll(&p, 1, 0) != 1 || (p.revents & POLLIN) == 0)
		return;
	if (spawn(SB_KIND_FCGI) == -1)
		return;
	for (size_t i = 0; i < sv.sb->nslots; i++)
		if (sv.children[i].pid != 0 &&
		    sv.children[i].kind == SB_KIND_FCGI)
			retire(i); /* the one just started */
}

int
supervisor_run(struct conf *conf, const char *env_file, int listen_fd,
    int ev_fd, char *const argv[], pid_t upgrade_from)
{
	memset(&sv, 0, sizeof(sv));
	sv.conf = conf;
	sv.env_file = env_file;
	sv.listen_fd = listen_fd;
	sv.ev_fd = ev_fd;
	sv.argv = argv;
	sv.predecessor = upgrade_from;
	sv.takeover_deadline = util_mono_us() + TAKEOVER_WAIT_US;
	if ((sv.sb = scoreboard_create(SB_SLOTS_MAX)) == NULL) {
		log_error("scoreboard: %s", strerror(errno));
		return 1;
	}
	atomic_store(&sv.sb->master_pid, (int)getpid());
	publish_settings();
	if (setup_signals() == -1) {
		log_error("signals: %s", strerror(errno));
		return 1;
	}
	log_info("taskapi %s master started: %ld-%ld fastcgi workers (%ld "
		 "spare), %ld event workers",
	    PACKAGE_VERSION,
	    conf->spare_workers < conf->workers ? conf->spare_workers :
						  conf->workers,
	    conf->workers, conf->spare_workers,
	    ev_fd != -1 ? conf->ev_workers : 0L);

	count_slots();
	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = sig_pipe[0], .events = POLLIN },
			{ .fd = -1, .events = POLLIN },
		};
		unsigned char	 sigs[64];
		ssize_t		 n;
		int64_t		 now;

		if (ondemand_watch(util_mono_us()))
			pfd[1].fd = sv.listen_fd;
		if (poll(pfd, 2, 200) == -1) {
			if (errno != EINTR) {
				log_error("poll: %s", strerror(errno));
				return 1;
			}
			pfd[1].revents = 0;
		}
		while ((n = read(sig_pipe[0], sigs, sizeof(sigs))) > 0) {
			for (ssize_t i = 0; i < n; i++) {
				switch (sigs[i]) {
				case SIGCHLD: /* reaped below, always */
				case SIGUSR1: /* the pool is looked at below */
					break;
				case SIGHUP:
					if (!sv.stopping)
						on_hup();
					break;
				default:	/* SIGTERM, SIGINT, SIGQUIT */
					if (!sv.stopping)
						begin_stop(sigs[i]);
					break;
				}
			}
		}
		reap();
		count_slots();
		now = util_mono_us();
		if (sv.stopping) {
			drain_on_stop(now);
			if (live_children() == 0)
				break;
			for (size_t i = 0; i < sv.sb->nslots; i++) {
				struct child *c = &sv.children[i];
				if (c->pid == 0)
					continue;
				if (now >= sv.stop_deadline) {
					log_warn("worker %ld still busy after "
					    "%ld s; killing it", (long)c->pid,
					    sv.conf->shutdown_timeout);
					kill(c->pid, SIGKILL);
				} else if (now - c->term_sent_us >=
				    TERM_RESEND_US) {
					/* A TERM that raced accept() is resent. */
					c->term_sent_us = now;
					kill(c->pid, SIGTERM);
				}
			}
			if (now >= sv.stop_deadline)
				sv.stop_deadline = now + TERM_RESEND_US;
			continue;
		}
		kill_stuck(now);
		maintain(now);
		takeover(now);
		/* Looked at again (the count is this tick's, with what the
		 * tick started): a worker may have taken it meanwhile. */
		if ((pfd[1].revents & POLLIN) != 0 && ondemand_watch(now))
			(void)spawn(SB_KIND_FCGI);
		/* Old workers asked to stop get a TERM again until they go. */
		for (size_t i = 0; i < sv.sb->nslots; i++) {
			struct child *c = &sv.children[i];
			if (c->pid != 0 && c->retiring &&
			    now - c->term_sent_us >= TERM_RESEND_US &&
			    atomic_load(&sv.sb->slots[i].state) != SB_BUSY) {
				c->term_sent_us = now;
				kill(c->pid, SIGTERM);
			}
		}
	}
	log_info("all workers stopped; master exiting");
	conf_free(sv.conf);
	free(sv.conf);
	return 0;
}
