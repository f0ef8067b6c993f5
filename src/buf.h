/*
 * buf.h: the one growable byte buffer: JSON answers (json_out.c), the
 * /metrics and /status text (metrics.c), the event worker's FastCGI
 * input and output (ev_conn.c), and a request's and a response's body.
 *
 * A buffer grows by doubling, from 1 KiB, up to its cap (max); a write
 * that would pass the cap, or that finds no memory, writes nothing and
 * marks the buffer failed, and every write after it is a no-op, so a
 * writer checks once at the end.  The bytes are NUL-terminated after
 * any successful write (the NUL is not counted in len, and fits within
 * max + 1 bytes of memory).  A zeroed struct buf is an empty buffer
 * with no cap but SIZE_MAX / 2.
 */
#ifndef TASKAPI_BUF_H
#define TASKAPI_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct buf {
	char  *p;      /* NULL until the first write */
	size_t len;    /* bytes written */
	size_t cap;    /* bytes allocated */
	bool   failed; /* a write passed max or found no memory */
	size_t max;    /* the most len may reach; 0: SIZE_MAX / 2 */
};

/*
 * Room for n more bytes and a NUL after them; false (and failed) when
 * that passes max or memory is out.  Writers that fill the room
 * themselves add to len afterwards.
 */
bool
buf_reserve(struct buf *, size_t n);

/* Appends n bytes; false (and failed) as buf_reserve(). */
bool
buf_append(struct buf *, const void *s, size_t n);

/*
 * Appends formatted text, all of it or nothing: output that would pass
 * max is not cut short, the buffer is marked failed and len stays.
 */
bool
buf_printf(struct buf *, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Empties the buffer for its next use (failed cleared, max kept); the
 * memory is kept unless it grew past keep bytes.
 */
void
buf_reset(struct buf *, size_t keep);

/* Frees the memory; the buffer is empty, with its max kept. */
void
buf_free(struct buf *);

#endif /* TASKAPI_BUF_H */
