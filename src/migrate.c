/*
 * migrate.c: the migration runner.  The SQL files are the only SQL not
 * in db.c's statement table: they are trusted files shipped with the
 * binary, run with the simple query protocol inside a transaction.
 */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "db.h"
#include "log.h"
#include "migrate.h"
#include "util.h"

/* pg_advisory_lock key: the ASCII bytes of "taskapi" as one number. */
#define MIGRATE_LOCK_KEY	"32758245649117289"

#define MIGRATION_MAX_BYTES	(4 * 1024 * 1024)

struct migration {
	int	 version;
	char	 name[256];
};

static int
cmp_migration(const void *a, const void *b)
{
	const struct migration *x = a, *y = b;

	return (x->version > y->version) - (x->version < y->version);
}

/* NNNN_[a-z0-9_]+.sql */
static bool
migration_name(const char *s, int *version)
{
	size_t	 len = strlen(s);

	if (len < 10 || len >= 256 || strcmp(s + len - 4, ".sql") != 0)
		return false;
	for (int i = 0; i < 4; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	if (s[4] != '_')
		return false;
	for (size_t i = 5; i < len - 4; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	*version = (s[0] - '0') * 1000 + (s[1] - '0') * 100 +
	    (s[2] - '0') * 10 + (s[3] - '0');
	return *version > 0;
}

/* Reads a whole file; returns a NUL-terminated malloc'd buffer or NULL. */
static char *
slurp(const char *path, size_t *len)
{
	FILE	*f;
	char	*buf = NULL;
	long	 sz;

	if ((f = fopen(path, "re")) == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (sz = ftell(f)) >= 0 &&
	    sz <= MIGRATION_MAX_BYTES && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)sz + 1)) != NULL) {
		if (fread(buf, 1, (size_t)sz, f) != (size_t)sz) {
			free(buf);
			buf = NULL;
		} else {
			buf[sz] = '\0';
			*len = (size_t)sz;
		}
	}
	(void)fclose(f);	/* read only: nothing to lose */
	return buf;
}

static bool
exec_ok(PGconn *c, const char *sql, const char *what)
{
	PGresult	*r = PQexec(c, sql);
	bool		 ok = r != NULL &&
	    (PQresultStatus(r) == PGRES_COMMAND_OK ||
	    PQresultStatus(r) == PGRES_TUPLES_OK);

	if (!ok)
		log_error("%s failed: %s", what, PQerrorMessage(c));
	PQclear(r);
	return ok;
}

/* Applies one file in a transaction; returns 0 or -1. */
static int
apply_one(PGconn *c, const char *dir, const struct migration *m)
{
	char		 path[4096], sum_hex[crypto_hash_sha256_BYTES * 2 + 1];
	char		 ver[16];
	unsigned char	 sum[crypto_hash_sha256_BYTES];
	char		*sql;
	size_t		 len = 0;
	PGresult	*r;
	const char	*params[3];
	int		 rc = -1;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, m->name) >=
	    sizeof(path)) {
		log_error("migration path too long");
		return -1;
	}
	if ((sql = slurp(path, &len)) == NULL) {
		log_error("cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	crypto_hash_sha256(sum, (const unsigned char *)sql, len);
	sodium_bin2hex(sum_hex, sizeof(sum_hex), sum, sizeof(sum));
	snprintf(ver, sizeof(ver), "%d", m->version);
	params[0] = ver;
	params[1] = m->name;
	params[2] = sum_hex;

	r = PQexecParams(c, "SELECT checksum FROM schema_migrations "
	    "WHERE version = $1", 1, NULL, params, NULL, NULL, 0);
	if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK) {
		log_error("reading schema_migrations: %s", PQerrorMessage(c));
		goto out;
	}
	if (PQntuples(r) == 1) {
		if (strcmp(PQgetvalue(r, 0, 0), sum_hex) != 0) {
			log_error("%s was changed after it was applied "
			    "(checksum differs): add a new migration instead",
			    m->name);
			goto out;
		}
		rc = 0;		/* already applied */
		goto out;
	}
	PQclear(r);
	r = NULL;
	if (!exec_ok(c, "BEGIN", "BEGIN"))
		goto out;
	if (!exec_ok(c, sql, m->name)) {
		(void)exec_ok(c, "ROLLBACK", "ROLLBACK");
		goto out;
	}
	r = PQexecParams(c, "INSERT INTO schema_migrations "
	    "(version, name, checksum) VALUES ($1, $2, $3)", 3, NULL, params,
	    NULL, NULL, 0);
	if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK) {
		log_error("recording %s: %s", m->name, PQerrorMessage(c));
		(void)exec_ok(c, "ROLLBACK", "ROLLBACK");
		goto out;
	}
	if (!exec_ok(c, "COMMIT", "COMMIT"))
		goto out;
	printf("applied %s\n", m->name);
	rc = 0;
out:
	PQclear(r);
	free(sql);
	return rc;
}

int
migrate_run(const struct conf *conf)
{
	DIR			*d;
	struct dirent		*de;
	struct migration	*list = NULL;
	size_t			 n = 0, cap = 0;
	PGconn			*c = NULL;
	int			 rc = 1, version;

	if ((d = opendir(conf->migrations_dir)) == NULL) {
		log_error("cannot open migrations directory %s: %s",
		    conf->migrations_dir, strerror(errno));
		return 1;
	}
	while ((de = readdir(d)) != NULL) {
		int	 v;

		if (!migration_name(de->d_name, &v))
			continue;
		if (n == cap) {
			struct migration *nl;
			cap = cap == 0 ? 16 : cap * 2;
			if ((nl = realloc(list, cap * sizeof(*list))) == NULL) {
				log_error("out of memory");
				goto out;
			}
			list = nl;
		}
		list[n].version = v;
		snprintf(list[n].name, sizeof(list[n].name), "%s", de->d_name);
		n++;
	}
	if (n > 0)
		qsort(list, n, sizeof(*list), cmp_migration);
	for (size_t i = 1; i < n; i++)
		if (list[i].version == list[i - 1].version) {
			log_error("two migrations share version %04d: %s, %s",
			    list[i].version, list[i - 1].name, list[i].name);
			goto out;
		}

	if ((c = db_connect_once(conf->migrate_url != NULL ? conf->migrate_url :
	    conf->database_url, conf->db_connect_timeout)) == NULL)
		goto out;
	if (!exec_ok(c, "SET client_min_messages = warning", "settings") ||
	    !exec_ok(c, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")",
	    "taking the migration lock") ||
	    !exec_ok(c, "CREATE TABLE IF NOT EXISTS schema_migrations ("
	    "version integer PRIMARY KEY, name text NOT NULL, "
	    "checksum text NOT NULL, "
	    "applied_at timestamptz NOT NULL DEFAULT now())",
	    "creating schema_migrations"))
		goto out;
	for (size_t i = 0; i < n; i++)
		if (apply_one(c, conf->migrations_dir, &list[i]) == -1)
			goto out;
	if (db_schema_version(c, &version) == -1)
		goto out;
	printf("schema is at version %d\n", version);
	if (version < DB_SCHEMA_VERSION) {
		log_error("this taskapi needs schema version %d; %s holds "
		    "fewer migrations", DB_SCHEMA_VERSION,
		    conf->migrations_dir);
		goto out;
	}
	rc = 0;
out:
	if (c != NULL) {
		(void)exec_ok(c, "SELECT pg_advisory_unlock("
		    MIGRATE_LOCK_KEY ")", "releasing the migration lock");
		PQfinish(c);
	}
	free(list);
	closedir(d);
	return rc;
}
