/*
 * worker_signals.c: the signal handlers both kinds of worker install.
 * The handler only sets a flag; the loops look at it (slowcgi, httpd).
 */
#include "config.h"

#include <signal.h>
#include <string.h>

#include "worker_signals.h"

volatile sig_atomic_t worker_stop;

static void
on_stop(int sig)
{
	(void)sig;
	worker_stop = 1;
}

int
worker_install_signals(void)
{
	struct sigaction sa;
	sigset_t	 none;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop;
	sa.sa_flags = 0; /* no SA_RESTART: accept(2) must return */
	if (sigaction(SIGTERM, &sa, NULL) == -1 ||
	    sigaction(SIGINT, &sa, NULL) == -1 ||
	    sigaction(SIGQUIT, &sa, NULL) == -1)
		return -1;
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) == -1 ||
	    sigaction(SIGHUP, &sa, NULL) == -1)
		return -1;
	sigemptyset(&none);
	return sigprocmask(SIG_SETMASK, &none, NULL);
}
