-- roles.sql: taskapi's two database roles, its database, and what each
-- role may do there.  The dev stack (./dev, pg_up and app_up) and the
-- operator's steps in doc/INSTALL.md both run this file.
--
-- Two roles: the owner owns the database and the schema and runs the
-- migrations (TASKAPI_MIGRATE_DATABASE_URL); the service logs in as the
-- other (DATABASE_URL), which may only read and write rows: it can
-- neither create, alter, drop nor truncate anything, nor change
-- schema_migrations (65-hostile.sh checks this).
--
-- Run as the PostgreSQL superuser, connected to any database of the
-- cluster (it connects to the app's database itself), once before the
-- first `taskapi migrate` and once after it (the second run takes
-- schema_migrations, which migrate creates, away from the service).
-- Running it again changes nothing.
--
--   psql -X -v ON_ERROR_STOP=1 -U postgres -d postgres -f roles.sql
--
-- Names (psql variables, with these defaults): -v owner=taskapi_owner
-- -v service=taskapi -v dbname=taskapi.  Passwords are not set here:
-- give the roles one with \password, or map OS users in pg_ident.conf.

\if :{?owner}
\else
\set owner taskapi_owner
\endif
\if :{?service}
\else
\set service taskapi
\endif
\if :{?dbname}
\else
\set dbname taskapi
\endif

SELECT format('CREATE ROLE %I LOGIN', :'owner')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'owner')
\gexec
SELECT format('CREATE ROLE %I LOGIN', :'service')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'service')
\gexec
SELECT format('CREATE DATABASE %I OWNER %I', :'dbname', :'owner')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'dbname')
\gexec

\connect :"dbname"

-- A database made before the owner role existed: hand it over.
ALTER DATABASE :"dbname" OWNER TO :"owner";
REASSIGN OWNED BY :"service" TO :"owner";
ALTER SCHEMA public OWNER TO :"owner";

-- Nobody else may connect or create anything.
REVOKE ALL ON DATABASE :"dbname" FROM PUBLIC;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- The service: rows only, in the tables there are and in those the owner
-- creates later (the migrations).
GRANT CONNECT ON DATABASE :"dbname" TO :"service";
GRANT USAGE ON SCHEMA public TO :"service";
ALTER DEFAULT PRIVILEGES FOR ROLE :"owner" IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"service";
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO :"service";

-- The service reads the schema version; only migrate may change it.
SELECT format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON schema_migrations FROM %I',
    :'service')
WHERE to_regclass('public.schema_migrations') IS NOT NULL
\gexec
