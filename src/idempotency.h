/*
 * idempotency.h: the Idempotency-Key header on the creations
 * (POST /api/v1/tasks, POST /api/v1/auth/register), after the IETF
 * httpapi draft "The Idempotency-Key HTTP Header Field".
 *
 * The key is the header's value as sent: 1 to 255 printable ASCII
 * characters (0x20-0x7e), compared byte for byte.  The first request
 * with a key creates the row and stores the key with it in the same
 * statement (db.c, KEY_CLAIM); a repeat with the same body gets the
 * first answer again (201, same Location, same body) and creates
 * nothing; a repeat with another body gets 422.  A repeat that arrives
 * while the first is still running waits for it (the key's unique index
 * makes it) and then gets the stored answer.  Keys live 24 hours.
 */
#ifndef TASKAPI_IDEMPOTENCY_H
#define TASKAPI_IDEMPOTENCY_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "conf.h"
#include "db.h"
#include "request.h"
#include "response.h"
#include "terr.h"

#define IDEM_KEY_MAX 255

/*
 * Adds the key and the body's hash as the next two parameters, when the
 * request has a key (*keyed true); a malformed key is TERR_INVALID with
 * a message in err.  The hash is keyed BLAKE2b-256 (hex) of the raw
 * body under a key derived from JWT_SECRET: a register body holds a
 * password, and its hash must not be a way to guess it.
 */
enum terr
idem_plan(const struct conf *, const struct req *, struct plan *, bool *keyed,
    char *err, size_t errsz);

/*
 * After a keyed creation: when column col says the body differs from the
 * first request's, answers 422 and returns true.
 */
bool
idem_finish(const PGresult *, int col, struct resp *);

#endif /* TASKAPI_IDEMPOTENCY_H */
