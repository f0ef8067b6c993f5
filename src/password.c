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

/* Bytes of random dummy password, hashed once per process. */
#define PW_DUMMY_LEN	32

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
 * The dummy hash is made from a random password nobody knows, with the
 * same parameters as real hashes, so a verification against it costs
 * what a real one costs.  main() calls password_init() before the
 * workers fork, so no worker pays for the hash on its first unknown
 * e-mail (that would be a timing signal); a process that did not call
 * it makes the hash on first use.  Workers are single-threaded, so the
 * statics need no lock.
 */
static char	dummy[PASSWORD_HASH_MAX];
static bool	dummy_ready;

int
password_init(void)
{
	unsigned char	rnd[PW_DUMMY_LEN];

	if (dummy_ready)
		return 0;
	randombytes_buf(rnd, sizeof(rnd));
	if (crypto_pwhash_str_alg(dummy, (const char *)rnd, sizeof(rnd),
	    PW_OPSLIMIT, PW_MEMLIMIT, crypto_pwhash_ALG_ARGON2ID13) == 0)
		dummy_ready = true;
	sodium_memzero(rnd, sizeof(rnd));
	return dummy_ready ? 0 : -1;
}

/*
 * If the dummy cannot be made (no memory), the time is spent hashing pw
 * instead, which costs about the same.
 */
void
password_verify_dummy(const char *pw, size_t len)
{
	volatile int	rc;	/* the result is of no interest */
	bool		ready;

	if (pw == NULL && len != 0)
		return;
	ready = password_init() == 0;
	if (ready)
		rc = crypto_pwhash_str_verify(dummy, pw == NULL ? "" : pw,
		    len);
	else {
		char	scratch[PASSWORD_HASH_MAX];

		rc = password_hash(pw, len, scratch);
	}
	(void)rc;
}
