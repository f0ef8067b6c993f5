/*
 * migrate.h: "taskapi migrate": numbered, forward-only SQL migrations.
 */
#ifndef TASKAPI_MIGRATE_H
#define TASKAPI_MIGRATE_H

#include "conf.h"

/*
 * Applies every sql file NNNN_name.sql of conf->migrations_dir not yet
 * in schema_migrations, in order, each in its own transaction that also
 * records it, under an advisory lock (two runs at once are safe).  An
 * applied file whose checksum changed is an error.  Returns 0 or 1.
 */
int	migrate_run(const struct conf *);

#endif /* TASKAPI_MIGRATE_H */
