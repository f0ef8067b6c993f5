/*
 * list_query.h: the query parameters of the list endpoints (sort,
 * filters, search, keyset cursor, count), validated into one struct;
 * the plan that picks one of the fixed statements (list_sql.h) and
 * fills its parameters; and the render that adds Link and X-Total-Count.
 */
#ifndef TASKAPI_LIST_QUERY_H
#define TASKAPI_LIST_QUERY_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "api_limits.h"
#include "cursor.h"
#include "db.h"
#include "handlers.h"
#include "terr.h"

/* In the order of the STMT_TASKS_PAGE_* and STMT_TASKS_SEARCH_* rows. */
enum list_sort {
	LS_CREATED_DESC = 0, /* the default */
	LS_CREATED_ASC,
	LS_UPDATED_DESC,
	LS_UPDATED_ASC,
	LS_DUE_DESC,
	LS_DUE_ASC,
	LS_PRIORITY_DESC,
	LS_PRIORITY_ASC,
	LS__MAX
};

struct list_query {
	char	       list; /* 'T' tasks, 'U' users */
	enum list_sort sort;
	const char    *sort_text; /* as given, NULL: the default */
	const char    *status;	  /* NULL: any */
	const char    *priority;
	char	       due_after[LIM_TIMESTAMP_LEN + 1]; /* "" or UTC */
	char	       due_before[LIM_TIMESTAMP_LEN + 1];
	bool	       overdue;
	bool	       count;
	const char    *q; /* NULL: no search */
	long long      limit, offset;
	bool	       has_cursor;
	struct cursor  cursor; /* when has_cursor */
	unsigned char  mac_key[CURSOR_MACKEY_LEN];
	unsigned char  scope[CURSOR_SCOPE_LEN];
};

/*
 * Reads and checks the parameters of GET /api/v1/tasks or /users
 * (list 'T' or 'U') for the caller r->user_id.  A bad value, a cursor
 * that fails its MAC or was made for another list, sort, user or set of
 * filters, and a cursor with an offset are TERR_INVALID with a message
 * in err.
 */
enum terr
list_parse(const struct conf *, const struct req *, char list,
    struct list_query *, char *err, size_t errsz);

/*
 * Fills p with the statement of lq and its parameters.  The plain task
 * list (no parameter but status, priority, limit and offset) keeps the
 * original statement tasks_list.  Every statement reads one row more
 * than the page, so the render knows whether another page follows.
 */
enum terr
list_plan(const struct list_query *, const struct req *, struct plan *);

/*
 * Renders the page (at most limit rows of res) as a JSON array; when
 * another page follows, Link: <...>; rel="next" with a cursor after the
 * page's last row; with count=true, X-Total-Count.
 */
void
list_render(const struct list_query *, const PGresult *, struct resp *,
    void (*row_fn)(struct buf *, const PGresult *, int));

#endif /* TASKAPI_LIST_QUERY_H */
