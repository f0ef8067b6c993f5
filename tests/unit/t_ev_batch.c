/*
 * t_ev_batch.c: a loop turn's task lookups as one statement (ev_batch.c).
 * What is held and what goes at once, the batch statement's parameters,
 * and how its rows and errors are dealt back to the requests.  The
 * statement itself runs against PostgreSQL in 73-pipeline.sh.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "ev_batch.h"

#define NJOBS 80

/* What the batcher handed to the pipeline, in order. */
static struct ev_job *sent[NJOBS];
static size_t	      nsent;

static void
fake_submit(void *ctx, struct ev_job *j)
{
	(void)ctx;
	assert_true(nsent < NJOBS);
	sent[nsent++] = j;
}

static uint32_t
get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/*
 * Parameter k of a batch job, a binary uuid[] (PostgreSQL's array_recv
 * form), checked and written out as the array literal it stands for:
 * "{id,id,...}".
 */
static const char *
array_text(const struct ev_job *j, int k)
{
	static char	     out[EV_BATCH_MAX * 37 + 3];
	static const char    hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)j->values[k];
	uint32_t	     n;
	char		    *o = out;

	assert_non_null(j->formats);
	assert_non_null(j->lengths);
	assert_int_equal(j->formats[k], 1);
	assert_int_equal(get_u32(p), 1);	/* one dimension */
	assert_int_equal(get_u32(p + 4), 0);	/* no NULLs */
	assert_int_equal(get_u32(p + 8), 2950); /* of uuid */
	n = get_u32(p + 12);
	assert_int_equal(get_u32(p + 16), 1); /* lower bound */
	assert_int_equal(j->lengths[k], 20 + n * 20);
	p += 20;
	*o++ = '{';
	for (uint32_t e = 0; e < n; e++, p += 20) {
		assert_int_equal(get_u32(p), 16);
		if (e > 0)
			*o++ = ',';
		for (int b = 0; b < 16; b++) {
			if (b == 4 || b == 6 || b == 8 || b == 10)
				*o++ = '-';
			*o++ = hex[p[4 + b] >> 4];
			*o++ = hex[p[4 + b] & 15];
		}
	}
	*o++ = '}';
	*o = '\0';
	return out;
}

/* What each request's callback saw. */
struct seen {
	bool	  called;
	enum terr err;
	int	  ntuples; /* -1: no result */
	bool	  isnull;  /* its row's first column */
	char	  id[40];  /* its row's first column */
	int	  nfields;
};

static struct ev_job	  jobs[NJOBS];
static const char	 *vals[NJOBS][2];
static char		  ids[NJOBS][2][37];
static struct seen	  seen[NJOBS];
static struct ev_batcher *resubmit_to; /* done submits again, once */

static void
member_done(struct ev_job *j)
{
	size_t	     i = (size_t)(j - jobs);
	struct seen *s = &seen[i];

	s->called = true;
	s->err = j->err;
	s->ntuples = j->res != NULL ? PQntuples(j->res) : -1;
	s->nfields = j->res != NULL ? PQnfields(j->res) : -1;
	if (s->ntuples > 0) {
		s->isnull = PQgetisnull(j->res, 0, 0) != 0;
		snprintf(s->id, sizeof(s->id), "%s", PQgetvalue(j->res, 0, 0));
	}
	if (resubmit_to != NULL) {
		struct ev_batcher *b = resubmit_to;

		resubmit_to = NULL;
		ev_batch_submit(b, j);
	}
}

static int
setup(void **state)
{
	(void)state;
	nsent = 0;
	resubmit_to = NULL;
	memset(seen, 0, sizeof(seen));
	for (size_t i = 0; i < NJOBS; i++) {
		snprintf(ids[i][0], 37, "00000000-0000-4000-8000-%012zx", i);
		snprintf(ids[i][1], 37, "11111111-0000-4000-8000-%012zx", i);
		vals[i][0] = ids[i][0];
		vals[i][1] = ids[i][1];
		memset(&jobs[i], 0, sizeof(jobs[i]));
		jobs[i].stmt = STMT_TASK_GET;
		jobs[i].nparams = 2;
		jobs[i].values = vals[i];
		jobs[i].done = member_done;
	}
	return 0;
}

/* task_get's ten columns and the ordinal, as PostgreSQL describes them. */
static const char *const colnames[11] = { "id", "user_id", "title",
	"description", "status", "priority", "due_at", "created_at",
	"updated_at", "version", "n" };

static PGresult *
batch_result(void)
{
	PGresAttDesc attrs[11];
	PGresult    *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);

	assert_non_null(r);
	memset(attrs, 0, sizeof(attrs));
	for (int c = 0; c < 11; c++) {
		attrs[c].name = (char *)(uintptr_t)colnames[c];
		attrs[c].typid = c == 10 ? 20 : 25; /* int8, text */
		attrs[c].typlen = -1;
		attrs[c].atttypmod = -1;
	}
	assert_true(PQsetResultAttrs(r, 11, attrs));
	return r;
}

/* Appends a row: task id (NULL: none) for the member of ordinal n. */
static void
add_row(PGresult *r, const char *task_id, const char *n)
{
	int row = PQntuples(r);

	for (int c = 0; c < 10; c++) {
		const char *v = task_id == NULL ? NULL : c == 0 ? task_id : "x";

		assert_true(PQsetvalue(r, row, c, (char *)(uintptr_t)v,
		    v == NULL ? -1 : (int)strlen(v)));
	}
	assert_true(
	    PQsetvalue(r, row, 10, (char *)(uintptr_t)n, (int)strlen(n)));
}

/*
 * The same in binary format, as the batch statement's results come
 * (db_stmt_binary): the ordinal is an 8-byte int8, the id 16 bytes; each
 * member's result keeps the format and the bytes.
 */
static void
t_split_binary(void **state)
{
	PGresAttDesc  attrs[11];
	PGresult     *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK), *out[2];
	unsigned char id[16], ord[8];

	(void)state;
	assert_non_null(r);
	memset(attrs, 0, sizeof(attrs));
	for (int c = 0; c < 11; c++) {
		attrs[c].name = (char *)(uintptr_t)colnames[c];
		attrs[c].typid = c == 10 ? 20 : c == 0 ? 2950 : 25;
		attrs[c].typlen = -1;
		attrs[c].atttypmod = -1;
		attrs[c].format = 1;
	}
	assert_true(PQsetResultAttrs(r, 11, attrs));
	for (int i = 0; i < 16; i++)
		id[i] = (unsigned char)(0xf0 + i);
	memset(ord, 0, sizeof(ord));
	ord[7] = 2; /* the second member's row */
	assert_true(PQsetvalue(r, 0, 0, (char *)id, 16));
	for (int c = 1; c < 10; c++)
		assert_true(PQsetvalue(r, 0, c, (char *)(uintptr_t) "x", 1));
	assert_true(PQsetvalue(r, 0, 10, (char *)ord, 8));
	assert_true(ev_batch_split(r, 2, out));
	assert_int_equal(PQntuples(out[0]), 0);
	assert_int_equal(PQntuples(out[1]), 1);
	assert_int_equal(PQfformat(out[1], 0), 1);
	assert_int_equal(PQftype(out[1], 0), 2950);
	assert_int_equal(PQgetlength(out[1], 0, 0), 16);
	assert_memory_equal(PQgetvalue(out[1], 0, 0), id, 16);
	/* A text ordinal "2" in a binary column is not an int8: not dealt. */
	assert_true(PQsetvalue(r, 0, 10, (char *)(uintptr_t) "2", 1));
	PQclear(out[0]);
	PQclear(out[1]);
	assert_true(ev_batch_split(r, 2, out));
	assert_int_equal(PQntuples(out[1]), 0);
	PQclear(out[0]);
	PQclear(out[1]);
	PQclear(r);
}

/*
 * Rows come back in any order; each member gets task_get's columns and
 * its own row: its task, a row of NULLs (no such task: 404) or no row
 * (the user is gone: 401).
 */
static void
t_split(void **state)
{
	PGresult *r = batch_result(), *out[3];

	(void)state;
	add_row(r, "task-three", "3");
	add_row(r, NULL, "1");
	assert_true(ev_batch_split(r, 3, out));
	assert_int_equal(PQnfields(out[0]), 10);
	assert_string_equal(PQfname(out[0], 9), "version");
	assert_int_equal(PQntuples(out[0]), 1);
	assert_true(PQgetisnull(out[0], 0, 0));
	assert_int_equal(PQntuples(out[1]), 0);
	assert_int_equal(PQnfields(out[1]), 10);
	assert_int_equal(PQntuples(out[2]), 1);
	assert_string_equal(PQgetvalue(out[2], 0, 0), "task-three");
	assert_string_equal(PQgetvalue(out[2], 0, 9), "x");
	assert_int_equal(PQgetlength(out[2], 0, 0), 10);
	for (int i = 0; i < 3; i++)
		PQclear(out[i]);
	/* An ordinal outside the batch, or twice, is not dealt. */
	add_row(r, "task-one-again", "1");
	add_row(r, "nobody's", "7");
	assert_true(ev_batch_split(r, 3, out));
	assert_true(PQgetisnull(out[0], 0, 0));
	assert_int_equal(PQntuples(out[1]), 0);
	for (int i = 0; i < 3; i++)
		PQclear(out[i]);
	PQclear(r);
}

/*
 * Task lookups wait for the turn's end and go as one statement whose
 * parameters list the pairs in order; other statements, and a lookup
 * with an id PostgreSQL could refuse, go at once.
 */
static void
t_held_and_batched(void **state)
{
	struct ev_batcher b;
	char		  want[EV_BATCH_MAX * 37 + 3];

	(void)state;
	ev_batch_init(&b, fake_submit, NULL, true);
	jobs[3].stmt = STMT_TASKS_LIST;
	ids[4][1][0] = 'G'; /* not a UUID */
	for (size_t i = 0; i < 5; i++)
		ev_batch_submit(&b, &jobs[i]);
	assert_int_equal(nsent, 2);
	assert_ptr_equal(sent[0], &jobs[3]);
	assert_ptr_equal(sent[1], &jobs[4]);
	ev_batch_flush(&b);
	assert_int_equal(nsent, 3);
	assert_int_equal(sent[2]->stmt, STMT_TASK_GET_BATCH);
	assert_int_equal(sent[2]->nparams, 2);
	assert_false(sent[2]->write);
	snprintf(want, sizeof(want), "{%s,%s,%s}", ids[0][0], ids[1][0],
	    ids[2][0]);
	assert_string_equal(array_text(sent[2], 0), want);
	snprintf(want, sizeof(want), "{%s,%s,%s}", ids[0][1], ids[1][1],
	    ids[2][1]);
	assert_string_equal(array_text(sent[2], 1), want);
	/* Nothing held any more: a second flush sends nothing. */
	ev_batch_flush(&b);
	assert_int_equal(nsent, 3);
	ev_batch_free(&b);
}

/* The batch's answer reaches every member: its row, or no row. */
static void
t_dealt(void **state)
{
	struct ev_batcher b;
	struct ev_job	 *bj;
	PGresult	 *r = batch_result();

	(void)state;
	ev_batch_init(&b, fake_submit, NULL, true);
	for (size_t i = 0; i < 3; i++)
		ev_batch_submit(&b, &jobs[i]);
	ev_batch_flush(&b);
	assert_int_equal(nsent, 1);
	bj = sent[0];
	add_row(r, "task-two", "2");
	add_row(r, NULL, "3");
	bj->res = r;
	bj->err = TERR_OK;
	bj->done(bj);
	assert_true(seen[0].called && seen[1].called && seen[2].called);
	assert_int_equal(seen[0].err, TERR_OK);
	assert_int_equal(seen[0].ntuples, 0);
	assert_int_equal(seen[1].ntuples, 1);
	assert_false(seen[1].isnull);
	assert_string_equal(seen[1].id, "task-two");
	assert_int_equal(seen[1].nfields, 10);
	assert_int_equal(seen[2].ntuples, 1);
	assert_true(seen[2].isnull);
	PQclear(r);
	ev_batch_free(&b);
}

/*
 * A failed batch fails each member with its error; a member's callback
 * that submits its connection's next lookup at once gets it held for the
 * next turn, in a batch of its own that reuses the first's memory.
 */
static void
t_error_and_resubmit(void **state)
{
	struct ev_batcher b;
	struct ev_job	 *first;

	(void)state;
	ev_batch_init(&b, fake_submit, NULL, true);
	ev_batch_submit(&b, &jobs[0]);
	ev_batch_submit(&b, &jobs[1]);
	ev_batch_flush(&b);
	first = sent[0];
	resubmit_to = &b;
	first->res = NULL;
	first->err = TERR_DB;
	first->done(first);
	assert_int_equal(seen[0].err, TERR_DB);
	assert_int_equal(seen[0].ntuples, -1);
	assert_int_equal(seen[1].err, TERR_DB);
	assert_int_equal(seen[1].ntuples, -1);
	/* jobs[0] was submitted again from its callback: held. */
	assert_int_equal(nsent, 1);
	ev_batch_submit(&b, &jobs[2]);
	ev_batch_flush(&b);
	assert_int_equal(nsent, 2);
	assert_ptr_equal(sent[1], first); /* the same batch, reused */
	assert_int_equal(sent[1]->stmt, STMT_TASK_GET_BATCH);
	ev_batch_free(&b);
}

/* One lookup in a turn goes as task_get itself; so does any with the
 * batching off. */
static void
t_lone_and_off(void **state)
{
	struct ev_batcher b;

	(void)state;
	ev_batch_init(&b, fake_submit, NULL, true);
	ev_batch_submit(&b, &jobs[0]);
	assert_int_equal(nsent, 0);
	ev_batch_flush(&b);
	assert_int_equal(nsent, 1);
	assert_ptr_equal(sent[0], &jobs[0]);
	ev_batch_free(&b);

	ev_batch_init(&b, fake_submit, NULL, false);
	ev_batch_submit(&b, &jobs[1]);
	ev_batch_submit(&b, &jobs[2]);
	assert_int_equal(nsent, 3);
	assert_ptr_equal(sent[1], &jobs[1]);
	assert_ptr_equal(sent[2], &jobs[2]);
	ev_batch_flush(&b);
	assert_int_equal(nsent, 3);
	ev_batch_free(&b);
}

/* A lookup whose client went away before the turn's end is not put in
 * the batch: it goes to the pipeline alone (which does not run it). */
static void
t_cancelled(void **state)
{
	struct ev_batcher b;

	(void)state;
	ev_batch_init(&b, fake_submit, NULL, true);
	for (size_t i = 0; i < 3; i++)
		ev_batch_submit(&b, &jobs[i]);
	jobs[1].cancelled = true;
	ev_batch_flush(&b);
	assert_int_equal(nsent, 2);
	assert_ptr_equal(sent[0], &jobs[1]);
	assert_int_equal(sent[1]->stmt, STMT_TASK_GET_BATCH);
	assert_string_equal(array_text(sent[1], 1),
	    "{11111111-0000-4000-8000-000000000000,"
	    "11111111-0000-4000-8000-000000000002}");
	ev_batch_free(&b);
}

/* More than EV_BATCH_MAX: full batches, then the rest (alone if one). */
static void
t_over_max(void **state)
{
	struct ev_batcher b;

	(void)state;
	ev_batch_init(&b, fake_submit, NULL, true);
	for (size_t i = 0; i < EV_BATCH_MAX + 1; i++)
		ev_batch_submit(&b, &jobs[i]);
	ev_batch_flush(&b);
	assert_int_equal(nsent, 2);
	assert_int_equal(sent[0]->stmt, STMT_TASK_GET_BATCH);
	assert_int_equal(strlen(array_text(sent[0], 0)),
	    2 + EV_BATCH_MAX * 37 - 1);
	assert_ptr_equal(sent[1], &jobs[EV_BATCH_MAX]);
	ev_batch_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(t_split, setup),
		cmocka_unit_test_setup(t_split_binary, setup),
		cmocka_unit_test_setup(t_held_and_batched, setup),
		cmocka_unit_test_setup(t_dealt, setup),
		cmocka_unit_test_setup(t_error_and_resubmit, setup),
		cmocka_unit_test_setup(t_lone_and_off, setup),
		cmocka_unit_test_setup(t_cancelled, setup),
		cmocka_unit_test_setup(t_over_max, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
