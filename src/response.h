/*
 * response.h: the one response of a request: status, the few headers
 * this API uses, and a JSON body, built completely before a byte goes
 * out.  Both worker loops serialise it with resp_head().
 */
#ifndef TASKAPI_RESPONSE_H
#define TASKAPI_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "terr.h"

struct json_object;

/*
 * A Link header's value: the next page's path and its re-encoded query
 * parameters (a list's known ones only, q at most LIM_SEARCH_BYTES
 * bytes, three characters each when escaped) and a cursor.
 */
#define RESP_LINK_MAX 2048
/* Room for a whole response head, a full Link included. */
#define RESP_HEAD_MAX (RESP_LINK_MAX + 2048)

struct resp {
	int		 status;		/* 0: not set yet */
	const char	*content_type;		/* static string */
	char		 location[80];		/* "" or a path */
	char		 allow[64];		/* "" or the Allow list */
	char		 etag[24]; /* "" or a quoted tag (etag.h) */
	bool		 www_authenticate;
	int		 retry_after;		/* seconds, 0: none */
	char		 link[RESP_LINK_MAX];	/* "" or a Link value */
	bool		 has_total_count;	/* send X-Total-Count */
	long long	 total_count;
	bool		 stream;		/* body follows, length unknown */
	struct buf	 body;			/* kept across requests */
};

/* The HTTP status and fixed client message for each terr. */
int	 terr_status(enum terr);
const char *terr_message(enum terr);

/*
 * Sets a JSON response: serialises obj (not consumed; the caller puts
 * it).  On allocation failure it becomes a 500 with a static body.
 */
void	resp_json(struct resp *, int status, struct json_object *obj);

/* Sets a response with a raw, already serialised body. */
void	resp_raw(struct resp *, int status, const char *ctype,
	    const char *body, size_t len);

/*
 * Sets {"error": msg} with the status of e (msg NULL: the fixed
 * message).  401 adds WWW-Authenticate, 503 adds Retry-After.
 */
void	resp_error(struct resp *, enum terr e, const char *msg);

/* Same as resp_error() for a status no terr names (404/405 and such). */
void	resp_error_status(struct resp *, int status, const char *msg);

/* Sets an empty response (204). */
void	resp_empty(struct resp *, int status);

/*
 * Writes the CGI response head ("Status: ...\r\n...\r\n\r\n") into buf.
 * Returns its length, or 0 when buf is too small (RESP_HEAD_MAX always
 * does).
 */
size_t	resp_head(const struct resp *, const char *request_id,
	    const char *traceresponse, char *buf, size_t sz);

/* Clears the response for the next request, keeping the body buffer. */
void	resp_reset(struct resp *);
void	resp_free(struct resp *);

/* The reason phrase for a status, e.g. "Not Found". */
const char *http_reason(int status);

#endif /* TASKAPI_RESPONSE_H */
