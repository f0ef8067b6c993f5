/*
 * api_limits.h: every number of the HTTP contract (doc/API.md) in one place.
 *
 * The SQL CHECK constraints in sql/migrations mirror these values; the
 * integration tests probe both edges of each one.  Named api_limits.h
 * because <limits.h> belongs to libc.
 */
#ifndef TASKAPI_API_LIMITS_H
#define TASKAPI_API_LIMITS_H

#define LIM_BODY_MAX		(64 * 1024)	/* request body, bytes */
#define LIM_EMAIL_MAX		254		/* code points */
#define LIM_NAME_MIN		1		/* code points after trimming */
#define LIM_NAME_MAX		100
#define LIM_PASSWORD_MIN	8		/* code points */
#define LIM_PASSWORD_MAX	128
#define LIM_TITLE_MIN		1		/* code points after trimming */
#define LIM_TITLE_MAX		200
#define LIM_DESCRIPTION_MAX	2000		/* code points */
#define LIM_PAGE_LIMIT_DEFAULT	50
#define LIM_PAGE_LIMIT_MIN	1
#define LIM_PAGE_LIMIT_MAX	100
#define LIM_PAGE_OFFSET_MAX	1000000000LL	/* keeps OFFSET inside int32 */
#define LIM_JSON_DEPTH		16		/* nesting accepted in a body */
#define LIM_TOKEN_MAX		2048		/* bytes of a bearer token */
#define LIM_QUERY_MAX		2048		/* bytes of a query string */
#define LIM_QUERY_PARAMS	16		/* key=value pairs */
#define LIM_REQUEST_ID_MAX	64		/* client X-Request-Id */
#define LIM_UUID_LEN		36		/* canonical text form */
#define LIM_TIMESTAMP_LEN	27		/* 2026-11-21T09:30:00.123456Z */
#define LIM_SEARCH_MAX		100		/* q: code points */
#define LIM_SEARCH_BYTES	400		/* q: bytes of UTF-8 */

#endif /* TASKAPI_API_LIMITS_H */
