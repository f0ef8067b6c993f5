/*
 * conf.h: the runtime settings, read once from the environment and an
 * optional env file into one struct, validated, then treated as const.
 * SIGHUP reads a fresh struct and swaps it in only when it is valid.
 */
#ifndef TASKAPI_CONF_H
#define TASKAPI_CONF_H

#include <stddef.h>

#include "log.h"

struct conf {
	char		*database_url;		/* DATABASE_URL */
	char		*migrate_url;		/* TASKAPI_MIGRATE_DATABASE_URL */
	unsigned char	*jwt_secret;		/* JWT_SECRET, >= 32 bytes */
	size_t		 jwt_secret_len;
	long		 jwt_ttl;		/* JWT_TTL, seconds */
	long		 workers;		/* TASKAPI_WORKERS */
	long		 spare_workers;		/* TASKAPI_SPARE_WORKERS */
	long worker_idle_timeout; /* TASKAPI_WORKER_IDLE_TIMEOUT, s */
	enum log_level	 log_level;		/* LOG_LEVEL */
	enum log_format	 log_format;		/* LOG_FORMAT */
	char		*listen;		/* TASKAPI_LISTEN; NULL: fd 0 */
	char		*migrations_dir;	/* TASKAPI_MIGRATIONS_DIR */
	char		*user;			/* TASKAPI_USER, when root */
	char		*pid_file;		/* TASKAPI_PID_FILE */
	long		 request_timeout;	/* TASKAPI_REQUEST_TIMEOUT, s */
	long		 db_connect_timeout;	/* TASKAPI_DB_CONNECT_TIMEOUT, s */
	long		 db_commit_timeout; /* TASKAPI_DB_COMMIT_TIMEOUT, s */
	long		 max_requests;		/* TASKAPI_MAX_REQUESTS */
	long		 shutdown_timeout;	/* TASKAPI_SHUTDOWN_TIMEOUT, s */
	long		 listen_backlog;	/* TASKAPI_LISTEN_BACKLOG */
	char		*ev_listen;		/* TASKAPI_EV_LISTEN; NULL: none */
	long		 ev_workers;		/* TASKAPI_EV_WORKERS */
	long		 ev_db_connections;	/* TASKAPI_EV_DB_CONNECTIONS */
	long		 ev_batch_reads;	/* TASKAPI_EV_BATCH_READS */
	long		 ev_max_connections;	/* TASKAPI_EV_MAX_CONNECTIONS */
	long		 require_if_match; /* TASKAPI_REQUIRE_IF_MATCH, 0/1 */
};

/*
 * Fills c from the environment, then from env_file (KEY=VALUE lines;
 * the file wins, so SIGHUP can change what it holds) when not NULL.
 * Command-line overrides (listen) are applied by the caller after.
 * Returns 0, or -1 with a reason in err; c is then left empty.
 */
int	conf_load(struct conf *c, const char *env_file, char *err,
	    size_t errsz);

/* Frees the members (wiping the secret); conf_free of an empty conf is a no-op. */
void	conf_free(struct conf *c);

/* Writes the documented variables and their defaults, for --help. */
void	conf_usage(void);

#endif /* TASKAPI_CONF_H */
