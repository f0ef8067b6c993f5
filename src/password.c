/*
 * password.c: Argon2id password hashing (see password.h).
 *
 * sodium_init() must have been called (main does it, before fork, so
 * workers inherit an initialised library).
 */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <sodium.h>

#include "password.h"

/* OWASP's Argon2id minimum: t = 2, m = 19 MiB (p is always 1 here). */
#define PW_OPSLIMIT	2ULL
#define PW_MEMLIMIT	((size_t)19456 * 1024)

_Static_assert(PASSWORD_HASH_MAX == crypto_pwhash_STRBYTES,
    "PASSWORD_HASH_MAX must match crypto_pwhash_STRBYTES");

/*
 * Writes the "$argon2id$v=19$m=19456,t=2,p=1$..." string into out.
 * Returns 0, or -1 when libsodium fails (out of memory) or on a bad
 * argument; out then holds "".
 */
int
password_hash(const char *pw, size_t len, char *out)
{

	if (out == NULL)
		return -1;
	out[0] = '\0';
	if (pw == NULL && len != 0)
		return -1;
	if (crypto_pwhash_str_alg(out, pw == NULL ? "" : pw, len, PW_OPSLIMIT,
	    PW_MEMLIMIT, crypto_pwhash_ALG_ARGON2ID13) != 0) {
		out[0] = '\0';
		return -1;
	}
	return 0;
}

/*
 * False for a mismatch and also for a hash that is not a NUL-terminated
 * string of fewer than PASSWORD_HASH_MAX bytes or that libsodium cannot
 * decode.  Never reads hash past its NUL or PASSWORD_HASH_MAX bytes.
 */
bool
password_verify(const char *hash, const char *pw, size_t len)
{

	if (hash == NULL || (pw == NULL && len != 0))
		return false;
	if (strnlen(hash, PASSWORD_HASH_MAX) >= PASSWORD_HASH_MAX)
		return false;
	return crypto_pwhash_str_verify(hash, pw == NULL ? "" : pw, len) == 0;
}

/*
 * The dummy hash: of a random password nobody kept, made once with
 * PW_OPSLIMIT and PW_MEMLIMIT, so a verification against it costs what
 * a real one costs (t_password checks that its parameters are still
 * these).  A constant, not made at start: the master no longer spends an
 * Argon2id hash (19 MiB, ~50 ms) and the pages of that code at every
 * start, only so that workers could inherit it (pool memory idle,
 * bench/RESULTS.md).  Knowing it gives nothing: an unknown e-mail is 401
 * whatever the password.
 */
#define DUMMY_HASH                        \
	"$argon2id$v=19$m=19456,t=2,p=1$" \
	"kSAkWezdHPrWpsojNG/E+Q$7bkKIYqmTU9BLG16WOaKvNvquUABvNdQCcpX1kbpaRk"
_Static_assert(sizeof(DUMMY_HASH) <= PASSWORD_HASH_MAX, "dummy hash too long");
/* The full crypto_pwhash_STRBYTES that libsodium's prototypes declare. */
static const char dummy[PASSWORD_HASH_MAX] = DUMMY_HASH;

bool
password_dummy_current(void)
{
	return crypto_pwhash_str_needs_rehash(dummy, PW_OPSLIMIT,
		   PW_MEMLIMIT) == 0;
}

/* A failed verification (out of memory) returns early, as a real one would. */
void
password_verify_dummy(const char *pw, size_t len)
{
	volatile int rc; /* the result is of no interest */

	if (pw == NULL && len != 0)
		return;
	rc = crypto_pwhash_str_verify(dummy, pw == NULL ? "" : pw, len);
	(void)rc;
}
