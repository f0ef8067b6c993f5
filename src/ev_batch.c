/*
 * ev_batch.c: a loop turn's task lookups as one statement (the design
 * is in ev_batch.h).
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "counters.h"
#include "db.h"
#include "ev_batch.h"
#include "pgval.h"
#include "util.h"

void
ev_batch_init(struct ev_batcher *b, ev_batch_submit_fn *submit, void *ctx,
    bool enabled)
{
	memset(b, 0, sizeof(*b));
	b->submit = submit;
	b->ctx = ctx;
	b->enabled = enabled;
	b->held.tail = &b->held.head;
}

/* A task_get whose ids are canonical UUIDs: put_id converts them as
 * they are, and one bad id cannot fail the others' statement. */
static bool
batchable(const struct ev_job *j)
{
	return j->stmt == STMT_TASK_GET && j->nparams == 2 &&
	    util_uuid_valid(j->values[0]) && util_uuid_valid(j->values[1]);
}

void
ev_batch_submit(struct ev_batcher *b, struct ev_job *j)
{
	if (!b->enabled || !batchable(j)) {
		b->submit(b->ctx, j);
		return;
	}
	j->next = NULL;
	*b->held.tail = j;
	b->held.tail = &j->next;
}

bool
ev_batch_split(const PGresult *batch, size_t n, PGresult *out[])
{
	int	     nf = PQnfields(batch) - 1, nrows = PQntuples(batch);
	int	     rowof[EV_BATCH_MAX];
	PGresAttDesc attrs[32];
	size_t	     i;

	if (n > EV_BATCH_MAX || nf < 1 || nf > 32)
		return false;
	for (int c = 0; c < nf; c++) {
		attrs[c].name = PQfname(batch, c);
		attrs[c].tableid = PQftable(batch, c);
		attrs[c].columnid = PQftablecol(batch, c);
		attrs[c].format = PQfformat(batch, c);
		attrs[c].typid = PQftype(batch, c);
		attrs[c].typlen = PQfsize(batch, c);
		attrs[c].atttypmod = PQfmod(batch, c);
	}
	for (i = 0; i < n; i++)
		rowof[i] = -1;
	for (int r = 0; r < nrows; r++) {
		long long ord;

		if (pgval_int(batch, r, nf, &ord) && ord >= 1 &&
		    ord <= (long long)n && rowof[ord - 1] == -1)
			rowof[ord - 1] = r;
	}
	for (i = 0; i < n; i++) {
		int r = rowof[i];

		out[i] = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
		if (out[i] == NULL || !PQsetResultAttrs(out[i], nf, attrs))
			goto fail;
		for (int c = 0; r >= 0 && c < nf; c++) {
			bool null = PQgetisnull(batch, r, c) != 0;

			if (!PQsetvalue(out[i], 0, c,
				null ? NULL : PQgetvalue(batch, r, c),
				null ? -1 : PQgetlength(batch, r, c)))
				goto fail;
		}
	}
	return true;
fail:
	for (size_t k = 0; k <= i && k < n; k++) {
		PQclear(out[k]);
		out[k] = NULL;
	}
	return false;
}

/* The batch job is back: each member gets its row, or the error. */
static void
batch_done(struct ev_job *j)
{
	struct ev_batch	  *bt = (struct ev_batch *)(void *)j;
	struct ev_batcher *b = bt->owner;
	PGresult	  *own[EV_BATCH_MAX];
	enum terr	   err = j->err;

	if (err == TERR_OK && !ev_batch_split(j->res, bt->n, own))
		err = TERR_NOMEM;
	for (size_t i = 0; i < bt->n; i++) {
		struct ev_job *m = bt->members[i];

		m->err = err;
		m->res = err == TERR_OK ? own[i] : NULL;
		/* May submit this connection's next request (to b again);
		 * m is not touched after it. */
		m->done(m);
		if (err == TERR_OK)
			PQclear(own[i]);
	}
	bt->next_free = b->free;
	b->free = bt;
}

static unsigned char *
put_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
	return p + 4;
}

/* The header of a one-dimensional uuid[] of n elements, none NULL. */
static unsigned char *
put_array_header(unsigned char *p, size_t n)
{
	p = put_u32(p, 1);	       /* dimensions */
	p = put_u32(p, 0);	       /* no NULLs */
	p = put_u32(p, PGVAL_UUID_OID); /* element type */
	p = put_u32(p, (uint32_t)n);   /* the dimension's length */
	return put_u32(p, 1);	       /* and its lower bound */
}

/* Appends a canonical UUID as an element (batchable() checked it:
 * every digit is a hex digit). */
static unsigned char *
put_id(unsigned char *p, const char *id)
{
	p = put_u32(p, 16);
	for (size_t i = 0; i < 36; i += 2) {
		if (id[i] == '-')
			i++;
		*p++ = (unsigned char)(util_hexval(id[i]) << 4 |
		    util_hexval(id[i + 1]));
	}
	return p;
}

/* Sends up to EV_BATCH_MAX held jobs, starting at *head, as one batch. */
static void
send_batch(struct ev_batcher *b, struct ev_job **head, size_t n)
{
	struct ev_batch *bt = b->free;
	unsigned char	*pu, *pt;

	if (bt != NULL)
		b->free = bt->next_free;
	else if ((bt = malloc(sizeof(*bt))) == NULL) {
		/* No batch to be had: each goes alone. */
		for (size_t i = 0; i < n; i++) {
			struct ev_job *j = *head;

			*head = j->next;
			b->submit(b->ctx, j);
		}
		return;
	} else {
		bt->all_next = b->all;
		b->all = bt;
	}
	memset(&bt->job, 0, sizeof(bt->job));
	bt->owner = b;
	bt->n = n;
	pu = put_array_header(bt->users, n);
	pt = put_array_header(bt->tasks, n);
	for (size_t i = 0; i < n; i++) {
		struct ev_job *j = *head;

		*head = j->next;
		bt->members[i] = j;
		pu = put_id(pu, j->values[0]);
		pt = put_id(pt, j->values[1]);
	}
	bt->values[0] = (const char *)bt->users;
	bt->values[1] = (const char *)bt->tasks;
	bt->formats[0] = bt->formats[1] = 1;
	bt->lengths[0] = (int)(pu - bt->users);
	bt->lengths[1] = (int)(pt - bt->tasks);
	bt->job.stmt = STMT_TASK_GET_BATCH;
	bt->job.nparams = 2;
	bt->job.values = bt->values;
	bt->job.formats = bt->formats;
	bt->job.lengths = bt->lengths;
	bt->job.done = batch_done;
	metrics_ev_batch(n);
	b->submit(b->ctx, &bt->job);
}

void
ev_batch_flush(struct ev_batcher *b)
{
	struct ev_job *head = NULL, **tail = &head, *j, *next;
	size_t	       left = 0;

	if (b->held.head == NULL) /* most turns: nothing to do */
		return;
	/* A job whose client went away in this turn goes alone: the
	 * pipeline completes it without running it. */
	for (j = b->held.head; j != NULL; j = next) {
		next = j->next;
		if (j->cancelled) {
			b->submit(b->ctx, j);
			continue;
		}
		*tail = j;
		tail = &j->next;
		left++;
	}
	*tail = NULL;
	b->held.head = NULL;
	b->held.tail = &b->held.head;
	while (left >= 2) {
		size_t n = left < EV_BATCH_MAX ? left : EV_BATCH_MAX;

		send_batch(b, &head, n); /* moves head past them */
		left -= n;
	}
	if (left == 1) /* a lone lookup goes as task_get itself */
		b->submit(b->ctx, head);
}

void
ev_batch_free(struct ev_batcher *b)
{
	while (b->all != NULL) {
		struct ev_batch *bt = b->all;

		b->all = bt->all_next;
		free(bt);
	}
	b->free = NULL;
}
