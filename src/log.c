/*
 * log.c: structured log lines on stderr.  Every string in the JSON form
 * is escaped (json_out.c), so no value (a message, a route) can break
 * the line.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "json_out.h"
#include "log.h"
#include "util.h"

static enum log_level	 log_min = LOGL_INFO;
static enum log_format	 log_fmt = LOGF_JSON;
static const char	*log_role = "taskapi";
static const char	*log_reqid;
static const char	*log_traceid;
static long		 log_pid;	/* cached: one getpid() per process */
static int		 log_buffered;
static char		 log_buf[16384];
static size_t		 log_buf_len;

static const char *const level_names[LOGL__MAX] = {
	[LOGL_DEBUG] = "debug",
	[LOGL_INFO] = "info",
	[LOGL_WARN] = "warn",
	[LOGL_ERROR] = "error",
};

int
log_level_parse(const char *s)
{
	for (int i = 0; i < LOGL__MAX; i++)
		if (strcmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

int
log_format_parse(const char *s)
{
	if (strcmp(s, "json") == 0)
		return LOGF_JSON;
	if (strcmp(s, "text") == 0)
		return LOGF_TEXT;
	return -1;
}

void
log_setup(enum log_level level, enum log_format fmt, const char *role)
{
	log_min = level;
	log_fmt = fmt;
	log_role = role;
	log_pid = (long)getpid();	/* called again in every child */
}

void
log_set_buffered(int on)
{
	log_flush();
	log_buffered = on;
}

void
log_set_request(const char *request_id, const char *trace_id)
{
	log_reqid = request_id;
	log_traceid = trace_id;
}

/* Writes it all, retrying on EINTR; a failing stderr is ignored. */
static void
log_write_now(const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(STDERR_FILENO, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		buf += n;
		len -= (size_t)n;
	}
}

void
log_flush(void)
{
	if (log_buf_len > 0)
		log_write_now(log_buf, log_buf_len);
	log_buf_len = 0;
}

/* One whole line (or part of one, the rest following at once). */
static void
log_write(const char *buf, size_t len)
{
	if (!log_buffered) {
		log_write_now(buf, len);
		return;
	}
	if (len > sizeof(log_buf) - log_buf_len)
		log_flush();
	if (len > sizeof(log_buf)) {
		log_write_now(buf, len);
		return;
	}
	memcpy(log_buf + log_buf_len, buf, len);
	log_buf_len += len;
}

static void
log_time(char *buf, size_t sz)
{
	if (!util_rfc3339_format(util_now_us(), buf, sz))
		snprintf(buf, sz, "?");
}

/*
 * One field of a line after the fixed ones: a string, or a number when
 * str is NULL.
 */
struct field {
	const char *key;
	const char *str;
	int64_t	    num;
};

/*
 * The line being written, reused: once it has grown to the longest line
 * so far, writing a line allocates nothing.  (The access line was built
 * as a json-c tree and serialized: 19% of the event worker's CPU on
 * GET task; bench/RESULTS.md.)
 */
static struct buf log_line;

static void
line_num(struct buf *jb, int64_t v)
{
	char digits[UTIL_INT_LEN];

	jb_raw(jb, digits, util_format_int(v, digits));
}

/* ,"key": then the value, as JSON */
static void
line_json_field(struct buf *jb, const char *key, const char *str, int64_t num)
{
	jb_lit(jb, ",");
	jb_str(jb, key, strlen(key));
	jb_lit(jb, ":");
	if (str != NULL)
		jb_str(jb, str, strlen(str));
	else
		line_num(jb, num);
}

/* " key=value": the text form writes values as they are */
static void
line_text_field(struct buf *jb, const char *key, const char *str, int64_t num)
{
	jb_lit(jb, " ");
	jb_raw(jb, key, strlen(key));
	jb_lit(jb, "=");
	if (str != NULL)
		jb_raw(jb, str, strlen(str));
	else
		line_num(jb, num);
}

/*
 * Emits one line: time, level, role, pid and the request's ids, then
 * the n fields in order.  Every string is escaped (jb_str, as json-c
 * does), so no value can break the line; in text form the fields are
 * " key=value" pairs, written as they are.
 */
static void
log_emit(enum log_level level, const struct field *f, size_t n)
{
	struct buf	*jb = &log_line;
	char		 ts[40];
	void (*field)(struct buf *, const char *, const char *, int64_t);

	jb->len = 0;
	jb->failed = false;
	log_time(ts, sizeof(ts));
	if (log_fmt == LOGF_TEXT) {
		field = line_text_field;
		jb_raw(jb, ts, strlen(ts));
		jb_lit(jb, " ");
		jb_raw(jb, level_names[level], strlen(level_names[level]));
		jb_lit(jb, " ");
		jb_raw(jb, log_role, strlen(log_role));
		jb_lit(jb, "[");
		line_num(jb, log_pid);
		jb_lit(jb, "]");
	} else {
		field = line_json_field;
		jb_lit(jb, "{\"time\":");
		jb_str(jb, ts, strlen(ts));
		field(jb, "level", level_names[level], 0);
		field(jb, "role", log_role, 0);
		field(jb, "pid", NULL, log_pid);
	}
	if (log_reqid != NULL)
		field(jb, "request_id", log_reqid, 0);
	if (log_traceid != NULL)
		field(jb, "trace_id", log_traceid, 0);
	for (size_t i = 0; i < n; i++)
		field(jb, f[i].key, f[i].str, f[i].num);
	if (log_fmt != LOGF_TEXT)
		jb_lit(jb, "}");
	jb_lit(jb, "\n");
	if (!jb->failed)
		log_write(jb->p, jb->len);
	/* A line far over the usual size is not kept around. */
	if (jb->cap > 65536) {
		jb_free(jb);
		*jb = (struct buf){ 0 };
	}
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	char		 msg[2048];
	va_list		 ap;
	int		 saved = errno;

	if (level < log_min)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	const struct field f[] = { { "msg", msg, 0 } };
	log_emit(level, f, 1);
	errno = saved;
}

void
log_access(const struct log_access *a)
{
	struct field f[6] = {
		{ "msg", "request", 0 },
		{ "method", a->method, 0 },
		{ "route", a->route, 0 },
		{ "status", NULL, a->status },
		{ "duration_us", NULL, a->duration_us },
	};
	size_t n = 5;

	if (LOGL_INFO < log_min)
		return;
	if (a->user_id != NULL && a->user_id[0] != '\0')
		f[n++] = (struct field){ "user_id", a->user_id, 0 };
	log_emit(LOGL_INFO, f, n);
}
