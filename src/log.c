/*
 * log.c: structured log lines on stderr.  json-c writes every byte of
 * the JSON form, so no value (a message, a route) can break the line.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

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
 * Emits obj (which gets time, level, role, pid and the ids added) as one
 * line, then puts it.  In text form the fields are "key=value" pairs.
 */
static void
log_emit(enum log_level level, struct json_object *obj)
{
	char		 ts[40];
	const char	*s;
	size_t		 len;

	log_time(ts, sizeof(ts));
	if (log_fmt == LOGF_TEXT) {
		char	 line[4096];
		size_t	 off;
		int	 n;

		n = snprintf(line, sizeof(line), "%s %s %s[%ld]", ts,
		    level_names[level], log_role, log_pid);
		off = n > 0 ? (size_t)n : 0;
		json_object_object_foreach(obj, key, val) {
			if (off >= sizeof(line))
				break;
			n = snprintf(line + off, sizeof(line) - off, " %s=%s",
			    key, json_object_get_string(val));
			if (n > 0)
				off += (size_t)n;
		}
		if (off >= sizeof(line) - 1)
			off = sizeof(line) - 2;
		line[off++] = '\n';
		log_write(line, off);
		json_object_put(obj);
		return;
	}

	/* JSON: put time/level first by building a fresh object. */
	struct json_object *line = json_object_new_object();
	if (line == NULL) {
		json_object_put(obj);
		return;
	}
	json_object_object_add(line, "time", json_object_new_string(ts));
	json_object_object_add(line, "level",
	    json_object_new_string(level_names[level]));
	json_object_object_add(line, "role", json_object_new_string(log_role));
	json_object_object_add(line, "pid", json_object_new_int64(log_pid));
	if (log_reqid != NULL)
		json_object_object_add(line, "request_id",
		    json_object_new_string(log_reqid));
	if (log_traceid != NULL)
		json_object_object_add(line, "trace_id",
		    json_object_new_string(log_traceid));
	json_object_object_foreach(obj, key, val)
		json_object_object_add(line, key, json_object_get(val));
	json_object_put(obj);

	s = json_object_to_json_string_length(line,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	if (s != NULL) {
		char	 buf[8192];
		if (len < sizeof(buf)) {
			memcpy(buf, s, len);
			buf[len] = '\n';
			log_write(buf, len + 1);
		} else {
			log_write(s, len);
			log_write("\n", 1);
		}
	}
	json_object_put(line);
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

	struct json_object *obj = json_object_new_object();
	if (obj != NULL) {
		json_object_object_add(obj, "msg", json_object_new_string(msg));
		log_emit(level, obj);
	}
	errno = saved;
}

void
log_access(const struct log_access *a)
{
	if (LOGL_INFO < log_min)
		return;
	struct json_object *obj = json_object_new_object();
	if (obj == NULL)
		return;
	json_object_object_add(obj, "msg", json_object_new_string("request"));
	json_object_object_add(obj, "method", json_object_new_string(a->method));
	json_object_object_add(obj, "route", json_object_new_string(a->route));
	json_object_object_add(obj, "status", json_object_new_int(a->status));
	json_object_object_add(obj, "duration_us",
	    json_object_new_int64(a->duration_us));
	if (a->user_id != NULL && a->user_id[0] != '\0')
		json_object_object_add(obj, "user_id",
		    json_object_new_string(a->user_id));
	log_emit(LOGL_INFO, obj);
}
