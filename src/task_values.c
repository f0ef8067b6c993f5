/* task_values.c: the values of task_status and task_priority. */
#include "config.h"

#include <stddef.h>

#include "task_values.h"

const char *const task_statuses[] = { "todo", "in_progress", "done",
	"cancelled", NULL };
const char *const task_priorities[] = { "low", "medium", "high", "critical",
	NULL };
