/*
 * task_values.h: the values of the schema's task_status and
 * task_priority types (sql/migrations/0001_init.sql), in their order.
 * The body's validation (h_tasks.c) and the list's filters and sorts
 * (list_query.c) both read them; apart from both, so neither links the
 * other.
 */
#ifndef TASKAPI_TASK_VALUES_H
#define TASKAPI_TASK_VALUES_H

/* NULL-terminated. */
extern const char *const task_statuses[];
extern const char *const task_priorities[];

#endif /* TASKAPI_TASK_VALUES_H */
