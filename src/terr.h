/*
 * terr.h: the one status type.  Functions return a terr and fill
 * out-parameters; response.c maps each value to an HTTP status and a
 * fixed client message, so "not found" is never confused with
 * "database down".
 */
#ifndef TASKAPI_TERR_H
#define TASKAPI_TERR_H

enum terr {
	TERR_OK = 0,
	TERR_NOMEM,		/* 500: allocation failed */
	TERR_INVALID,		/* 400: the request breaks a rule */
	TERR_UNAUTH,		/* 401: no valid token, or its user is gone */
	TERR_FORBIDDEN,		/* 403: acting on another user's account */
	TERR_NOTFOUND,		/* 404 */
	TERR_CONFLICT,		/* 409: e-mail taken */
	TERR_TOOLARGE,		/* 413 */
	TERR_MEDIATYPE,		/* 415 */
	TERR_DB,		/* 503: database unreachable or timed out */
	TERR_INTERNAL,		/* 500: a bug; logged with details */
	TERR_PRECONDITION,	/* 428: If-Match required and missing */
	TERR_UNPROCESSABLE, /* 422: an Idempotency-Key reused with another body */
	TERR_UNKNOWN, /* 503: a write's commit was not confirmed in time */
	TERR__MAX
};

#endif /* TASKAPI_TERR_H */
