/*
 * admission.h: whether a blocking worker runs the request it has just
 * read, or answers it without running it.
 */
#ifndef TASKAPI_ADMISSION_H
#define TASKAPI_ADMISSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum admission {
	ADMIT_RUN = 0, /* run it */
	ADMIT_BRAKE,   /* the crash brake holds: 503 + Retry-After */
	ADMIT_STALE,   /* it waited in the queue past the request timeout */
	ADMIT_GONE,    /* nginx closed the connection or aborted it */
};

/*
 * Decides for a request read from fd (parameters and body).
 * request_start: nginx's REQUEST_START parameter ($msec, NULL if not
 * sent); max_wait_us: how long it may have waited; brake_until_us: the
 * end of the crash brake (monotonic; 0: none).  *retry_after_s is set
 * for ADMIT_BRAKE and ADMIT_STALE.
 */
enum admission
admission_check(int fd, const char *request_start, int64_t max_wait_us,
    int64_t brake_until_us, int *retry_after_s);

/*
 * True when buf (bytes still queued on the connection, after the
 * request's records) holds an FCGI_ABORT_REQUEST record.
 */
bool
admission_aborted(const unsigned char *buf, size_t len);

/* nginx's $msec ("1733380000.123") as microseconds; -1 if malformed. */
int64_t
admission_parse_msec(const char *s);

#endif /* TASKAPI_ADMISSION_H */
