/*
 * idempotency.c: Idempotency-Key checks and the request hash
 * (idempotency.h).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "idempotency.h"

/* Tells the request hash's key apart from any other use of the secret. */
#define IDEM_HASH_CONTEXT "taskapi idempotency request hash"

enum terr
idem_plan(const struct conf *c, const struct req *r, struct plan *p,
    bool *keyed, char *err, size_t errsz)
{
	const char   *k = r->idempotency_key;
	size_t	      len;
	unsigned char key[crypto_generichash_KEYBYTES];
	unsigned char digest[32];
	char	      hex[2 * sizeof(digest) + 1];
	enum terr     e;

	*keyed = false;
	if (k == NULL)
		return TERR_OK;
	len = strlen(k);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)k[i] < 0x20 || (unsigned char)k[i] > 0x7e)
			len = 0;
	if (len == 0 || len > IDEM_KEY_MAX) {
		snprintf(err, errsz,
		    "Idempotency-Key must be 1 to %d printable ASCII "
		    "characters",
		    IDEM_KEY_MAX);
		return TERR_INVALID;
	}
	/* key = BLAKE2b(context, keyed by the secret), then the body. */
	if (crypto_generichash(key, sizeof(key),
		(const unsigned char *)IDEM_HASH_CONTEXT,
		sizeof(IDEM_HASH_CONTEXT) - 1, c->jwt_secret,
		c->jwt_secret_len > crypto_generichash_KEYBYTES_MAX ?
		    crypto_generichash_KEYBYTES_MAX :
		    c->jwt_secret_len) != 0 ||
	    crypto_generichash(digest, sizeof(digest),
		(const unsigned char *)r->body.p, r->body.len, key,
		sizeof(key)) != 0) {
		sodium_memzero(key, sizeof(key));
		return TERR_INTERNAL;
	}
	sodium_memzero(key, sizeof(key));
	sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
	if ((e = plan_param_copy(p, k, len)) != TERR_OK ||
	    (e = plan_param_copy(p, hex, strlen(hex))) != TERR_OK)
		return e;
	*keyed = true;
	return TERR_OK;
}

bool
idem_finish(const PGresult *res, int col, struct resp *resp)
{
	if (PQntuples(res) != 1 || PQnfields(res) <= col ||
	    PQgetisnull(res, 0, col) || PQgetvalue(res, 0, col)[0] != 'f')
		return false;
	resp_error(resp, TERR_UNPROCESSABLE, NULL);
	return true;
}
