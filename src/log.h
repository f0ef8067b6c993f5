/*
 * log.h: one JSON (or text) line per event on stderr.
 *
 * Each process sets its role once (master, worker) and, while it serves
 * a request, the request and trace ids, so every line a request causes
 * can be found again.  Lines are written with one write(2), so lines of
 * different processes sharing stderr never interleave.
 */
#ifndef TASKAPI_LOG_H
#define TASKAPI_LOG_H

#include <stdint.h>

enum log_level {
	LOGL_DEBUG = 0,
	LOGL_INFO,
	LOGL_WARN,
	LOGL_ERROR,
	LOGL__MAX
};

enum log_format {
	LOGF_JSON = 0,
	LOGF_TEXT,
	LOGF__MAX
};

/* Parses "debug"/"info"/"warn"/"error"; returns -1 for anything else. */
int	log_level_parse(const char *);
/* Parses "json"/"text"; returns -1 for anything else. */
int	log_format_parse(const char *);

void	log_setup(enum log_level, enum log_format, const char *role);

/*
 * Buffered mode (the event worker): lines collect in memory and go out
 * with one write(2) in log_flush(), once per loop turn or when 16 KiB
 * are waiting.  Lines stay whole; only their write is batched.
 */
void	log_set_buffered(int on);
void	log_flush(void);
/* Borrowed pointers, kept until the next call; NULL clears. */
void	log_set_request(const char *request_id, const char *trace_id);

void	log_msg(enum log_level, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

#define log_debug(...)	log_msg(LOGL_DEBUG, __VA_ARGS__)
#define log_info(...)	log_msg(LOGL_INFO, __VA_ARGS__)
#define log_warn(...)	log_msg(LOGL_WARN, __VA_ARGS__)
#define log_error(...)	log_msg(LOGL_ERROR, __VA_ARGS__)

/* The access line, one per request. user_id may be NULL. */
struct log_access {
	const char	*method;
	const char	*route;		/* the pattern, never the raw path */
	int		 status;
	int64_t		 duration_us;
	const char	*user_id;
};

void	log_access(const struct log_access *);

#endif /* TASKAPI_LOG_H */
