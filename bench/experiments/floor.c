/*
 * bench/experiments/floor.c: the smallest event-driven FastCGI responder, the shape
 * of the "130-line C prototype" the performance targets were set beside.  It is a
 * yardstick, not part of taskapi: bench/experiments/floor.sh puts it behind the
 * bench stack's own nginx in place of the event worker, so the two can
 * be compared on the same machine, through the same nginx, in the same
 * minutes.  What taskapi does on top of it (authentication, validation,
 * routing, logging, metrics, error handling, retries, group commit) is
 * what the difference costs.
 *
 *   floor SOCKET                      every request: the health JSON
 *   floor SOCKET CONNINFO             GET .../{id}: the task by id alone
 *   floor SOCKET CONNINFO USER_ID     GET .../{id}: taskapi's task_get SQL;
 *                                     GET .../tasks?...: its tasks_list SQL,
 *                                     the newest 20 of USER_ID's tasks
 *
 * One process, epoll over nginx's kept FastCGI connections, one
 * PostgreSQL connection in pipeline mode, one prepared statement per
 * request and one sync per loop turn (several segments may be in
 * flight).  No authentication, no logging: a floor to measure against.
 */
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_FD	  8192
#define IN_MAX	  (8 + 65535 + 255) /* one whole FastCGI record */
#define QUEUE_MAX 65536		    /* statements in flight */

struct conn {
	int	      fd;
	unsigned      gen; /* tells a reused fd from the one a result is for */
	unsigned      req_id;
	size_t	      in_len;
	char	      id[64]; /* the last path segment of REQUEST_URI */
	unsigned char in[IN_MAX];
};

static struct conn *conns[MAX_FD];
static unsigned	    next_gen = 1;
static PGconn	   *pg;
static const char  *user_id;
static struct {
	int	 fd; /* -1: a sync point */
	unsigned gen;
	bool	 list; /* rows of tasks_list, not one of task_get */
} queue[QUEUE_MAX];
static size_t q_head, q_len;

static const char health[] = "{\"status\":\"ok\",\"database\":\"ok\"}";

static void
conn_close(struct conn *c)
{
	conns[c->fd] = NULL;
	(void)close(c->fd);
	free(c);
}

/*
 * One response: STDOUT with the head and body, empty STDOUT, END.
 * Returns 0, or -1 when c was closed (and freed).
 */
static int
respond(struct conn *c, int status, const char *body, size_t blen)
{
	unsigned char buf[8 + 16384 + 24];
	int	      hl;
	size_t	      cl, n;

	hl = snprintf((char *)buf + 8, 256,
	    "Status: %d\r\nContent-Type: application/json\r\n"
	    "Content-Length: %zu\r\n\r\n",
	    status, blen);
	if (hl < 0 || blen > 16384 - 256)
		return 0;
	cl = (size_t)hl + blen;
	memcpy(buf + 8 + hl, body, blen);
	buf[0] = 1;
	buf[1] = 6; /* FCGI_STDOUT */
	buf[2] = (unsigned char)(c->req_id >> 8);
	buf[3] = (unsigned char)c->req_id;
	buf[4] = (unsigned char)(cl >> 8);
	buf[5] = (unsigned char)cl;
	buf[6] = buf[7] = 0;
	n = 8 + cl;
	memcpy(buf + n,
	    (const unsigned char[]){ 1, 6, 0, 0, 0, 0, 0, 0, 1, 3, 0, 0, 0, 8,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
	    24);
	buf[n + 2] = buf[n + 10] = buf[2];
	buf[n + 3] = buf[n + 11] = buf[3];
	n += 24;
	if (write(c->fd, buf, n) != (ssize_t)n) {
		conn_close(c); /* nginx went away, or a full socket: drop it */
		return -1;
	}
	return 0;
}

/* Appends s as a JSON string; returns the new length, 0 if it is full. */
static size_t
json_str(char *out, size_t len, size_t cap, const char *s)
{
	if (len + 2 >= cap)
		return 0;
	out[len++] = '"';
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if (len + 7 >= cap)
			return 0;
		if (ch == '"' || ch == '\\') {
			out[len++] = '\\';
			out[len++] = (char)ch;
		} else if (ch < 0x20) {
			len += (size_t)snprintf(out + len, 7, "\\u%04x", ch);
		} else {
			out[len++] = (char)ch;
		}
	}
	out[len++] = '"';
	return len;
}

/* Appends row r as a JSON object; returns the new length, 0 if full. */
static size_t
render_row(char *body, size_t len, size_t cap, const PGresult *res, int r)
{
	int nf = PQnfields(res);

	body[len++] = '{';
	for (int i = 0; i < nf && len != 0; i++) {
		len = json_str(body, len, cap - 2, PQfname(res, i));
		if (len == 0)
			return 0;
		body[len++] = ':';
		if (PQgetisnull(res, r, i)) {
			/* JSON text, not a C string: body has no NUL. */
			/* NOLINTNEXTLINE(bugprone-not-null-terminated-result) */
			memcpy(body + len, "null", 4);
			len += 4;
		} else {
			len =
			    json_str(body, len, cap - 2, PQgetvalue(res, r, i));
		}
		if (len != 0 && i + 1 < nf)
			body[len++] = ',';
	}
	if (len == 0)
		return 0;
	body[len++] = '}';
	return len;
}

static int
render(struct conn *c, const PGresult *res, bool list)
{
	char   body[16000];
	size_t len = 0;

	if (list) {
		/* One row of NULLs when the user has no task (LEFT JOIN). */
		body[len++] = '[';
		for (int r = 0; r < PQntuples(res) && len != 0; r++) {
			if (PQgetisnull(res, r, 0))
				continue;
			if (len > 1)
				body[len++] = ',';
			len = render_row(body, len, sizeof(body) - 1, res, r);
		}
		if (len == 0)
			return respond(c, 500, "{}", 2);
		body[len++] = ']';
		return respond(c, 200, body, len);
	}
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)) {
		static const char nf404[] = "{\"error\":\"task not found\"}";

		return respond(c, 404, nf404, sizeof(nf404) - 1);
	}
	len = render_row(body, 0, sizeof(body), res, 0);
	if (len == 0)
		return respond(c, 500, "{}", 2);
	return respond(c, 200, body, len);
}

static int
queue_push(int fd, unsigned gen, bool list)
{
	if (q_len == QUEUE_MAX)
		return -1;
	queue[(q_head + q_len) % QUEUE_MAX].fd = fd;
	queue[(q_head + q_len) % QUEUE_MAX].gen = gen;
	queue[(q_head + q_len) % QUEUE_MAX].list = list;
	q_len++;
	return 0;
}

/* A whole request has arrived on c: 1 (a statement sent), 0 (answered),
 * -1 (c was closed). */
static int
request(struct conn *c)
{
	bool list = user_id != NULL && strncmp(c->id, "tasks", 5) == 0;
	int  rc;

	if (pg == NULL)
		return respond(c, 200, health, sizeof(health) - 1);
	if (list) {
		const char *v[5] = { user_id, NULL, NULL, "20", "0" };

		rc = PQsendQueryPrepared(pg, "list", 5, v, NULL, NULL, 0);
	} else {
		const char *v[2] = { c->id, user_id };

		rc = PQsendQueryPrepared(pg, "get", user_id != NULL ? 2 : 1, v,
		    NULL, NULL, 0);
	}
	if (rc != 1 || queue_push(c->fd, c->gen, list) == -1) {
		fprintf(stderr, "floor: send: %s", PQerrorMessage(pg));
		exit(1);
	}
	return 1;
}

/* FastCGI name-value pairs: keeps the last segment of REQUEST_URI. */
static void
params(struct conn *c, const unsigned char *p, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t l[2];

		for (int k = 0; k < 2; k++) {
			if (i >= len)
				return;
			if (p[i] & 0x80) {
				if (len - i < 4)
					return;
				l[k] = ((size_t)(p[i] & 0x7f) << 24) |
				    ((size_t)p[i + 1] << 16) |
				    ((size_t)p[i + 2] << 8) | p[i + 3];
				i += 4;
			} else {
				l[k] = p[i++];
			}
		}
		if (l[0] > len - i || l[1] > len - i - l[0])
			return;
		if (l[0] == 11 && memcmp(p + i, "REQUEST_URI", 11) == 0) {
			const unsigned char *v = p + i + 11, *s = v + l[1];

			while (s > v && s[-1] != '/')
				s--;
			if ((size_t)(v + l[1] - s) < sizeof(c->id)) {
				memcpy(c->id, s, (size_t)(v + l[1] - s));
				c->id[v + l[1] - s] = '\0';
			}
		}
		i += l[0] + l[1];
	}
}

/* Reads what nginx sent: the statements sent, or -1 when it closed. */
static int
conn_read(struct conn *c)
{
	ssize_t r = read(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len);
	size_t	off = 0;
	int	sent = 0;

	if (r <= 0) {
		if (r < 0 && errno == EAGAIN)
			return 0;
		conn_close(c);
		return -1;
	}
	c->in_len += (size_t)r;
	while (c->in_len - off >= 8) {
		const unsigned char *h = c->in + off;
		size_t		     cl = ((size_t)h[4] << 8) | h[5], pl = h[6];

		if (c->in_len - off < 8 + cl + pl)
			break;
		if (h[1] == 1) { /* FCGI_BEGIN_REQUEST */
			c->req_id = ((unsigned)h[2] << 8) | h[3];
			c->id[0] = '\0';
		} else if (h[1] == 4) { /* FCGI_PARAMS */
			params(c, h + 8, cl);
		} else if (h[1] == 5 && cl == 0) { /* the end of FCGI_STDIN */
			int rc = request(c);

			if (rc == -1)
				return sent; /* closed: c is gone */
			sent += rc;
		}
		off += 8 + cl + pl;
	}
	memmove(c->in, c->in + off, c->in_len - off);
	c->in_len -= off;
	return sent;
}

static void
pg_results(void)
{
	if (PQconsumeInput(pg) != 1) {
		fprintf(stderr, "floor: %s", PQerrorMessage(pg));
		exit(1);
	}
	while (q_len > 0 && !PQisBusy(pg)) {
		PGresult *res = PQgetResult(pg);
		int	  fd = queue[q_head].fd;
		unsigned  gen = queue[q_head].gen;
		bool	  list = queue[q_head].list;

		if (res == NULL)
			continue; /* the end of one statement's results */
		q_head = (q_head + 1) % QUEUE_MAX;
		q_len--;
		if (fd >= 0 && conns[fd] != NULL && conns[fd]->gen == gen)
			(void)render(conns[fd], res, list);
		PQclear(res);
	}
}

static int
pg_open(const char *conninfo)
{
	static const char cols[] = "t.id, t.user_id, t.title, t.description, "
				   "t.status, t.priority, t.due_at, "
				   "t.created_at, t.updated_at";
	char		  sql[1024];
	PGresult	 *res;

	pg = PQconnectdb(conninfo);
	if (PQstatus(pg) != CONNECTION_OK)
		return -1;
	if (user_id != NULL)
		(void)snprintf(sql, sizeof(sql),
		    "SELECT %s FROM users me "
		    "LEFT JOIN tasks t ON t.id = $1 AND t.user_id = me.id "
		    "WHERE me.id = $2",
		    cols);
	else
		(void)snprintf(sql, sizeof(sql),
		    "SELECT %s FROM tasks t "
		    "WHERE t.id = $1",
		    cols);
	res = PQprepare(pg, "get", sql, 0, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		PQclear(res);
		return -1;
	}
	PQclear(res);
	if (user_id != NULL) {
		/* taskapi's tasks_list (src/db.c), with its columns. */
		(void)snprintf(sql, sizeof(sql),
		    "SELECT x.id, x.user_id, x.title, x.description, x.status, "
		    "x.priority, x.due_at, x.created_at, x.updated_at "
		    "FROM users me LEFT JOIN LATERAL "
		    "(SELECT * FROM tasks t WHERE t.user_id = me.id "
		    "AND ($2::task_status IS NULL OR t.status = $2::task_status) "
		    "AND ($3::task_priority IS NULL OR "
		    "t.priority = $3::task_priority) "
		    "ORDER BY t.created_at DESC, t.id DESC LIMIT $4 OFFSET $5) x "
		    "ON true WHERE me.id = $1");
		res = PQprepare(pg, "list", sql, 0, NULL);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			PQclear(res);
			return -1;
		}
		PQclear(res);
	}
	if (PQenterPipelineMode(pg) != 1 || PQsetnonblocking(pg, 1) != 0)
		return -1;
	return PQsocket(pg);
}

/* Takes every waiting connection from nginx. */
static void
accept_all(int lfd, int ep)
{
	int cfd;

	while ((cfd = accept(lfd, NULL, NULL)) >= 0) {
		struct epoll_event ev = { .events = EPOLLIN, .data.fd = cfd };
		struct conn	  *c;

		if (cfd >= MAX_FD || fcntl(cfd, F_SETFL, O_NONBLOCK) == -1 ||
		    (c = malloc(sizeof(*c))) == NULL) {
			(void)close(cfd);
			continue;
		}
		c->fd = cfd;
		c->gen = next_gen++;
		c->in_len = 0;
		c->id[0] = '\0';
		conns[cfd] = c;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &ev) == -1)
			conn_close(c);
	}
}

int
main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct epoll_event ev = { .events = EPOLLIN }, evs[256];
	int		   lfd, ep, pgfd = -1;

	if (argc < 2 || argc > 4 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: floor SOCKET [CONNINFO [USER_ID]]\n");
		return 2;
	}
	(void)signal(SIGPIPE, SIG_IGN);
	user_id = argc == 4 ? argv[3] : NULL;
	if (argc >= 3 && (pgfd = pg_open(argv[2])) == -1) {
		fprintf(stderr, "floor: %s", PQerrorMessage(pg));
		return 1;
	}
	memcpy(sa.sun_path, argv[1], strlen(argv[1]));
	(void)unlink(argv[1]);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (lfd == -1 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
	    listen(lfd, 1024) == -1 || (ep = epoll_create1(0)) == -1) {
		perror("floor: listen");
		return 1;
	}
	ev.data.fd = lfd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) == -1)
		return 1;
	if (pgfd != -1) {
		ev.data.fd = pgfd;
		if (epoll_ctl(ep, EPOLL_CTL_ADD, pgfd, &ev) == -1)
			return 1;
	}
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1), sent = 0;

		if (n == -1 && errno != EINTR)
			return 1;
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd, rc;

			if (fd == lfd) {
				accept_all(lfd, ep);
			} else if (fd == pgfd) {
				pg_results();
			} else if (conns[fd] != NULL &&
			    (rc = conn_read(conns[fd])) > 0) {
				sent += rc;
			}
		}
		if (sent > 0 &&
		    (PQpipelineSync(pg) != 1 ||
			queue_push(-1, 0, false) == -1 || PQflush(pg) == -1)) {
			fprintf(stderr, "floor: sync: %s", PQerrorMessage(pg));
			return 1;
		}
	}
}
