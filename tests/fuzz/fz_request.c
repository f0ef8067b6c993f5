/*
 * fz_request.c: a whole request through the pipeline before the
 * database (app_begin): route, query string, bearer token, body, plan.
 * Input: METHOD \0 URI \0 AUTHORIZATION \0 CONTENT-TYPE \0 BODY.
 * Routes that hash passwords are skipped (Argon2id is slow by design).
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "app.h"
#include "buf.h"
#include "jwt.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char *
field(const uint8_t **p, const uint8_t *end, char *buf, size_t sz)
{
	size_t	 n = 0;

	while (*p < end && **p != '\0' && n + 1 < sz)
		buf[n++] = (char)*(*p)++;
	buf[n] = '\0';
	if (*p < end)
		(*p)++;
	return buf;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct conf	 conf;
	static unsigned char	 key[] = "fuzzing-key-fuzzing-key-fuzzing-key!";
	static struct app	 app;
	static bool		 ready;
	static char		 good[LIM_TOKEN_MAX + 16];
	const uint8_t		*p = data, *end = data + size;
	char			 method[16], uri[4096], auth[LIM_TOKEN_MAX + 64];
	char			 ctype[128];
	struct req		 req;
	struct resp		 resp;
	struct plan		 plan;

	if (!ready) {
		if (sodium_init() < 0)
			abort();
		conf.jwt_secret = key;
		conf.jwt_secret_len = sizeof(key) - 1;
		conf.jwt_ttl = 3600;
		conf.database_url = (char *)"postgresql:///nowhere";
		app_init(&app, &conf);
		/* A valid token, so the fuzzer gets past authentication. */
		memcpy(good, "Bearer ", 7);
		jwt_sign(key, sizeof(key) - 1,
		    "0b6f3a0e-8c2d-4f5e-9a1b-2c3d4e5f6a7b", 1, 4102444800LL,
		    good + 7, sizeof(good) - 7);
		ready = true;
	}
	memset(&req, 0, sizeof(req));
	memset(&resp, 0, sizeof(resp));
	memset(&plan, 0, sizeof(plan));
	field(&p, end, method, sizeof(method));
	field(&p, end, uri, sizeof(uri));
	field(&p, end, auth, sizeof(auth));
	field(&p, end, ctype, sizeof(ctype));
	if (strstr(uri, "auth") != NULL || strstr(uri, "users") != NULL)
		return 0;
	req.method_str = method;
	req.method = req_method_parse(method);
	req.uri = uri;
	req.authorization = strcmp(auth, "good") == 0 ? good : auth;
	req.content_type = ctype[0] != '\0' ? ctype : NULL;
	if (end > p) {
		if (!buf_append(&req.body, p, (size_t)(end - p)))
			return 0;
	}
	(void)app_begin(&app, &req, &resp, &plan);
	/* Whatever happened, a response or a plan with its parameters. */
	if (plan.stmt != STMT_NONE &&
	    plan.nparams != db_stmt_nparams(plan.stmt))
		abort();
	req_free(&req);
	resp_free(&resp);
	plan_free(&plan);
	return 0;
}
