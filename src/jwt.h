/*
 * jwt.h: HS256 JSON Web Tokens, nothing else.
 *
 * HMAC-SHA256 and base64url come from libsodium; the signature is
 * compared in constant time.  The clock is passed in so tests can move it.
 */
#ifndef TASKAPI_JWT_H
#define TASKAPI_JWT_H

#include <stddef.h>
#include <stdint.h>

enum jwt_status {
	JWT_OK = 0,
	JWT_MALFORMED,		/* not three base64url parts of JSON objects */
	JWT_BAD_ALG,		/* header alg is not exactly "HS256" */
	JWT_BAD_SIGNATURE,	/* HMAC does not match */
	JWT_EXPIRED,		/* now >= exp */
	JWT_BAD_CLAIMS,		/* sub/iat/exp missing or of the wrong type */
	JWT_STATUS__MAX
};

/* Short English text for a status, for logs only (never secret). */
const char *jwt_status_str(enum jwt_status);

/*
 * Signs {"sub":sub,"iat":iat,"exp":exp} with the header
 * {"alg":"HS256","typ":"JWT"} using key (any length >= 1).
 * Writes a NUL-terminated token into out.  Returns 0, or -1 when out
 * is too small (LIM_TOKEN_MAX is always enough) or on allocation failure.
 */
int	jwt_sign(const unsigned char *key, size_t keylen, const char *sub,
	    int64_t iat, int64_t exp, char *out, size_t outsz);

/*
 * Verifies token (toklen bytes, no NUL required) at time now (seconds).
 * Rules: exactly three non-empty dot-separated base64url parts without
 * padding; the header is a JSON object whose "alg" is "HS256"; the
 * signature matches; the payload is a JSON object with "sub" a
 * canonical lower-case UUID string, "iat" and "exp" integers; now < exp.
 * On JWT_OK copies sub (36 chars + NUL) into sub_out.
 */
enum jwt_status jwt_verify(const unsigned char *key, size_t keylen,
	    const char *token, size_t toklen, int64_t now, char *sub_out,
	    size_t sub_outsz);

/* jwt_verify(), also giving the token's exp on JWT_OK (exp_out may be NULL). */
enum jwt_status jwt_verify_exp(const unsigned char *key, size_t keylen,
	    const char *token, size_t toklen, int64_t now, char *sub_out,
	    size_t sub_outsz, int64_t *exp_out);

#endif /* TASKAPI_JWT_H */
