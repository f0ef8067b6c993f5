/*
 * password.h: Argon2id password hashing through libsodium's
 * crypto_pwhash_str family.  Parameters follow OWASP's minimum for
 * Argon2id (m = 19 MiB, t = 2, p = 1), so a worker's peak memory stays
 * small; existing hashes carry their own parameters.
 */
#ifndef TASKAPI_PASSWORD_H
#define TASKAPI_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

#define PASSWORD_HASH_MAX	128	/* == crypto_pwhash_STRBYTES */

/* True while the dummy hash has the parameters new hashes get. */
bool
password_dummy_current(void);

/*
 * Hashes pw (len bytes) into out (PASSWORD_HASH_MAX bytes, NUL
 * terminated).  Returns 0, or -1 when memory could not be had.
 */
int	password_hash(const char *pw, size_t len, char *out);

/* True when pw matches the encoded hash. */
bool	password_verify(const char *hash, const char *pw, size_t len);

/*
 * Spends the time of one verification against a fixed dummy hash, so a
 * login for an unknown e-mail takes as long as one with a wrong password.
 */
void	password_verify_dummy(const char *pw, size_t len);

#endif /* TASKAPI_PASSWORD_H */
