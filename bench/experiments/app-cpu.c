/*
 * bench/experiments/app-cpu.c: the CPU time of taskapi's request
 * pipeline without I/O (app_begin, then app_finish on a built task
 * row), per request, for GET a task, a list, POST, PATCH and /health,
 * so two trees can be compared where the machine's load does not reach:
 * process CPU time, no network, no database.  Build it against each
 * tree's library and run them in turns:
 *
 *   cc -O2 -std=c11 -D_GNU_SOURCE -IBUILD -ISRC/src \
 *       -I/usr/include/postgresql -I/usr/include/json-c \
 *       bench/experiments/app-cpu.c BUILD/src/libtaskapi.a \
 *       -o app-cpu -lpq -ljson-c -lsodium -lfcgi
 *   ./app-cpu [REQUESTS per case, 200000]
 *
 * (BUILD a configured and built tree of SRC.)  The app's database
 * connection is never opened: no route here needs it before its plan.
 */
#include "app.h"
#include "config.h"
#include "jwt.h"
#include <libpq-fe.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
static double
cpu(void)
{
	struct timespec t;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}
#define ME   "0b6f3a0e-8c2d-4f5e-9a1b-2c3d4e5f6a7b"
#define TASK "2d8a5c2a-ae4f-4b7a-9c3d-4e5f6a7b8c9d"
#define TS   "2026-11-21 09:30:00.1234+00"
static PGresult *
task_result(void)
{
	static const char *names[] = { "id", "user_id", "title", "description",
		"status", "priority", "due_at", "created_at", "updated_at" };
	const char *cells[] = { TASK, ME, "a title", NULL, "todo", "high", NULL,
		TS, TS };
	PGresAttDesc a[9];
	PGresult    *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	memset(a, 0, sizeof(a));
	for (int i = 0; i < 9; i++) {
		a[i].name = (char *)(uintptr_t)names[i];
		a[i].typid = 25;
		a[i].typlen = -1;
		a[i].atttypmod = -1;
	}
	PQsetResultAttrs(r, 9, a);
	for (int c = 0; c < 9; c++)
		PQsetvalue(r, 0, c, (char *)(uintptr_t)cells[c],
		    cells[c] ? (int)strlen(cells[c]) : -1);
	return r;
}
int
main(int argc, char **argv)
{
	static unsigned char secret[] = "0123456789abcdef0123456789abcdef";
	struct conf	     conf;
	struct app	     app;
	struct req	     r;
	struct resp	     resp;
	struct plan	     p;
	char		     tok[2048], auth[2100];
	long		     n = argc > 1 ? strtol(argv[1], NULL, 10) : 200000;
	memset(&conf, 0, sizeof(conf));
	conf.jwt_secret = secret;
	conf.jwt_secret_len = 32;
	conf.jwt_ttl = 3600;
	conf.database_url = (char *)"postgresql:///none";
	conf.request_timeout = 5;
	conf.db_connect_timeout = 1;
	if (n <= 0 || sodium_init() < 0)
		return 2;
	app_init(&app, &conf);
	jwt_sign(secret, 32, ME, (int64_t)time(NULL),
	    (int64_t)time(NULL) + 3600, tok, sizeof(tok));
	snprintf(auth, sizeof(auth), "Bearer %s", tok);
	PGresult *res = task_result();
	static const struct {
		const char	*label;
		enum http_method m;
		const char	*uri;
		const char	*body;
	} cases[] = {
		{ "GET task", METHOD_GET, "/api/v1/tasks/" TASK, NULL },
		{ "GET list", METHOD_GET, "/api/v1/tasks?limit=20", NULL },
		{ "POST task", METHOD_POST, "/api/v1/tasks",
		    "{\"title\":\"a title\",\"priority\":\"high\"}" },
		{ "PATCH task", METHOD_PATCH, "/api/v1/tasks/" TASK,
		    "{\"status\":\"done\"}" },
		{ "GET health", METHOD_GET, "/health", NULL },
	};
	memset(&r, 0, sizeof(r));
	memset(&resp, 0, sizeof(resp));
	memset(&p, 0, sizeof(p));
	for (unsigned c = 0; c < 5; c++) {
		double	      t0 = cpu();
		unsigned long ok = 0;
		for (long i = 0; i < n; i++) {
			req_reset(&r);
			resp_reset(&resp);
			r.method = cases[c].m;
			r.uri = cases[c].uri;
			r.authorization = auth;
			r.content_type = "application/json";
			if (cases[c].body) {
				size_t l = strlen(cases[c].body);
				char  *b = req_body_reserve(&r, l + 1);
				memcpy(b, cases[c].body, l + 1);
				r.body_len = l;
			}
			if (app_begin(&app, &r, &resp, &p)) {
				/* A task row answers every route here (/health too). */
				app_finish(&app, &r, res, TERR_OK, &resp);
			}
			ok += resp.status < 300;
		}
		double t1 = cpu();
		printf("%-10s %7.0f ns/request (%lu of %ld 2xx, last %d)\n",
		    cases[c].label, (t1 - t0) / (double)n * 1e9, ok, n,
		    resp.status);
	}
	return 0;
}
