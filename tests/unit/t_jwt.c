/*
 * t_jwt.c: unit tests for jwt.c (cmocka; TAP with
 * CMOCKA_MESSAGE_OUTPUT=TAP).
 *
 * Positive results are anchored on tokens made outside this code base
 * (see the vectors below).  Negative cases are built with mk_token(),
 * which signs arbitrary header and payload text with the same libsodium
 * primitives; t_helper_matches_vector checks it against vector 1 first,
 * so a token it makes is "correct except for the one thing each test
 * breaks".
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "api_limits.h"
#include "jwt.h"

/*
 * Vector 1, generated with Python 3's standard library only:
 *
 *   import hmac, hashlib, base64
 *   b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b'=').decode()
 *   def tok(key, hdr, pl):
 *       si = b64(hdr.encode()) + '.' + b64(pl.encode())
 *       return si + '.' + b64(hmac.new(key, si.encode(),
 *           hashlib.sha256).digest())
 *   tok(b'taskapi unit-test secret, not for production',
 *       '{"alg":"HS256","typ":"JWT"}',
 *       '{"sub":"0b8f4c2e-3a4d-4e5f-9a6b-7c8d9e0f1a2b",'
 *       '"iat":1700000000,"exp":1700003600}')
 */
#define V1_KEY	"taskapi unit-test secret, not for production"
#define V1_SUB	"0b8f4c2e-3a4d-4e5f-9a6b-7c8d9e0f1a2b"
#define V1_IAT	INT64_C(1700000000)
#define V1_EXP	INT64_C(1700003600)
#define V1_TOKEN \
	"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." \
	"eyJzdWIiOiIwYjhmNGMyZS0zYTRkLTRlNWYtOWE2Yi03YzhkOWUwZjFhMmIiLCJp" \
	"YXQiOjE3MDAwMDAwMDAsImV4cCI6MTcwMDAwMzYwMH0." \
	"RgZ4gpKG8eD6axou5cMQTyrfC-qXx945J2304j76G1c"

/*
 * Vector 2, same tok() as above, with a 100-byte key (bytes 0..99, so
 * HMAC must hash it first), Python's default ", " / ": " separators,
 * members in another order, an extra header member and a non-ASCII
 * extra claim:
 *
 *   tok(bytes(range(100)),
 *       '{"typ": "JWT", "kid": "k1", "alg": "HS256"}',
 *       '{"exp": 4102444800, "name": "\u00e9t\u00e9", '
 *       '"sub": "ffffffff-0000-4000-8000-123456789abc", '
 *       '"iat": 1700000000}')
 */
#define V2_SUB	"ffffffff-0000-4000-8000-123456789abc"
#define V2_TOKEN \
	"eyJ0eXAiOiAiSldUIiwgImtpZCI6ICJrMSIsICJhbGciOiAiSFMyNTYifQ." \
	"eyJleHAiOiA0MTAyNDQ0ODAwLCAibmFtZSI6ICLDqXTDqSIsICJzdWIiOiAiZmZm" \
	"ZmZmZmYtMDAwMC00MDAwLTgwMDAtMTIzNDU2Nzg5YWJjIiwgImlhdCI6IDE3MDAw" \
	"MDAwMDB9." \
	"UjrSQtCGRBLdZgjUAz_tuJQ2Mp-fNKYzb8H-I5mAUPc"

/*
 * Vector 3: the example token published on jwt.io, HS256 with the
 * secret "your-256-bit-secret".  Its claims ("sub":"1234567890", no
 * "exp") are not ours, so a correct signature check must get as far as
 * the claims and stop there.
 */
#define V3_KEY	"your-256-bit-secret"
#define V3_TOKEN \
	"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." \
	"eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2" \
	"MjM5MDIyfQ." \
	"SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"

#define HDR	"{\"alg\":\"HS256\",\"typ\":\"JWT\"}"
#define PL_OK	"{\"sub\":\"" V1_SUB "\",\"iat\":1700000000,\"exp\":1700003600}"
#define NOW	(V1_IAT + 1)
#define KEY	((const unsigned char *)V1_KEY)
#define KEYLEN	(sizeof(V1_KEY) - 1)

#define TOKBUF	(4 * LIM_TOKEN_MAX)

/* Appends the base64url form of len bytes of s to out. */
static void
b64cat(char *out, size_t outsz, const void *s, size_t len)
{
	size_t	used = strlen(out);

	assert_true(sodium_base64_ENCODED_LEN(len,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING) <= outsz - used);
	sodium_bin2base64(out + used, outsz - used, s, len,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

/* out = b64(hdr) "." b64(pl) "." b64(HMAC-SHA256(key, first two)). */
static void
mk_token(const void *key, size_t keylen, const char *hdr, const char *pl,
    char *out, size_t outsz)
{
	crypto_auth_hmacsha256_state	st;
	unsigned char			mac[crypto_auth_hmacsha256_BYTES];

	out[0] = '\0';
	b64cat(out, outsz, hdr, strlen(hdr));
	assert_true(strlen(out) + 2 < outsz);
	strcat(out, ".");
	b64cat(out, outsz, pl, strlen(pl));
	crypto_auth_hmacsha256_init(&st, key, keylen);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)out,
	    strlen(out));
	crypto_auth_hmacsha256_final(&st, mac);
	assert_true(strlen(out) + 2 < outsz);
	strcat(out, ".");
	b64cat(out, outsz, mac, sizeof(mac));
}

/* A token signed with the test key. */
static void
mk(const char *hdr, const char *pl, char *out)
{

	mk_token(KEY, KEYLEN, hdr, pl, out, TOKBUF);
}

/*
 * Runs jwt_verify on len bytes of tok copied into a heap buffer of
 * exactly that size (no NUL), so ASan catches any read past the end.
 */
static enum jwt_status
verify_n(const void *key, size_t keylen, const char *tok, size_t len,
    int64_t now, char *sub)
{
	char		*copy;
	enum jwt_status	 st;

	copy = malloc(len == 0 ? 1 : len);
	assert_non_null(copy);
	memcpy(copy, tok, len);
	st = jwt_verify(key, keylen, copy, len, now, sub, LIM_UUID_LEN + 1);
	free(copy);
	return st;
}

/* verify_n with the test key, strlen(tok) and time NOW. */
static enum jwt_status
verify(const char *tok)
{
	char	sub[LIM_UUID_LEN + 1];

	return verify_n(KEY, KEYLEN, tok, strlen(tok), NOW, sub);
}

/* Signs PL_OK-like claims with hdr and checks the status. */
static void
expect_hdr(const char *hdr, enum jwt_status want)
{
	char	tok[TOKBUF];

	mk(hdr, PL_OK, tok);
	assert_int_equal(verify(tok), want);
}

/* Signs pl with the good header and checks the status. */
static void
expect_pl(const char *pl, enum jwt_status want)
{
	char	tok[TOKBUF];

	mk(HDR, pl, tok);
	assert_int_equal(verify(tok), want);
}

static int
setup(void **state)
{

	(void)state;
	return sodium_init() < 0 ? -1 : 0;
}

/* --- independent vectors ----------------------------------------------- */

static void
t_vector1_verifies(void **state)
{
	char	sub[LIM_UUID_LEN + 1] = "";

	(void)state;
	assert_int_equal(verify_n(KEY, KEYLEN, V1_TOKEN, strlen(V1_TOKEN),
	    NOW, sub), JWT_OK);
	assert_string_equal(sub, V1_SUB);
}

static void
t_vector1_sign_matches(void **state)
{
	char	out[LIM_TOKEN_MAX];

	(void)state;
	assert_int_equal(jwt_sign(KEY, KEYLEN, V1_SUB, V1_IAT, V1_EXP, out,
	    sizeof(out)), 0);
	assert_string_equal(out, V1_TOKEN);
}

static void
t_vector2_long_key_spaces(void **state)
{
	unsigned char	key[100];
	char		sub[LIM_UUID_LEN + 1] = "";
	size_t		i;

	(void)state;
	for (i = 0; i < sizeof(key); i++)
		key[i] = (unsigned char)i;
	assert_int_equal(verify_n(key, sizeof(key), V2_TOKEN,
	    strlen(V2_TOKEN), NOW, sub), JWT_OK);
	assert_string_equal(sub, V2_SUB);
	/* The same token under the first 99 bytes of the key is forged. */
	assert_int_equal(verify_n(key, sizeof(key) - 1, V2_TOKEN,
	    strlen(V2_TOKEN), NOW, sub), JWT_BAD_SIGNATURE);
}

static void
t_vector3_jwtio(void **state)
{
	char	sub[LIM_UUID_LEN + 1];

	(void)state;
	assert_int_equal(verify_n(V3_KEY, strlen(V3_KEY), V3_TOKEN,
	    strlen(V3_TOKEN), NOW, sub), JWT_BAD_CLAIMS);
	assert_int_equal(verify_n(KEY, KEYLEN, V3_TOKEN, strlen(V3_TOKEN),
	    NOW, sub), JWT_BAD_SIGNATURE);
}

static void
t_helper_matches_vector(void **state)
{
	char	tok[TOKBUF];

	(void)state;
	mk(HDR, PL_OK, tok);
	assert_string_equal(tok, V1_TOKEN);
}

/* --- jwt_sign ---------------------------------------------------------- */

static void
t_round_trip(void **state)
{
	char	tok[LIM_TOKEN_MAX], sub[LIM_UUID_LEN + 1] = "";

	(void)state;
	assert_int_equal(jwt_sign(KEY, KEYLEN, V2_SUB, 10, 20, tok,
	    sizeof(tok)), 0);
	assert_int_equal(verify_n(KEY, KEYLEN, tok, strlen(tok), 19, sub),
	    JWT_OK);
	assert_string_equal(sub, V2_SUB);
	assert_int_equal(verify_n(KEY, KEYLEN, tok, strlen(tok), 20, sub),
	    JWT_EXPIRED);
}

static void
t_round_trip_one_byte_key(void **state)
{
	const unsigned char	 k = 'x';
	char			 tok[LIM_TOKEN_MAX], sub[LIM_UUID_LEN + 1];

	(void)state;
	assert_int_equal(jwt_sign(&k, 1, V1_SUB, V1_IAT, V1_EXP, tok,
	    sizeof(tok)), 0);
	assert_int_equal(verify_n(&k, 1, tok, strlen(tok), NOW, sub), JWT_OK);
	assert_int_equal(verify_n(KEY, KEYLEN, tok, strlen(tok), NOW, sub),
	    JWT_BAD_SIGNATURE);
}

static void
t_sign_rejects_empty_key(void **state)
{
	char	tok[LIM_TOKEN_MAX];

	(void)state;
	assert_int_equal(jwt_sign(KEY, 0, V1_SUB, 1, 2, tok, sizeof(tok)), -1);
	assert_string_equal(tok, "");
	assert_int_equal(jwt_sign(NULL, 5, V1_SUB, 1, 2, tok, sizeof(tok)),
	    -1);
}

static void
t_sign_rejects_bad_sub(void **state)
{
	char	tok[LIM_TOKEN_MAX];

	(void)state;
	assert_int_equal(jwt_sign(KEY, KEYLEN,
	    "0B8F4C2E-3A4D-4E5F-9A6B-7C8D9E0F1A2B", 1, 2, tok, sizeof(tok)),
	    -1);
	assert_int_equal(jwt_sign(KEY, KEYLEN, "x\",\"admin\":true,\"y\":\"",
	    1, 2, tok, sizeof(tok)), -1);
	assert_int_equal(jwt_sign(KEY, KEYLEN, "", 1, 2, tok, sizeof(tok)),
	    -1);
	assert_int_equal(jwt_sign(KEY, KEYLEN, NULL, 1, 2, tok, sizeof(tok)),
	    -1);
}

static void
t_sign_out_size(void **state)
{
	char	full[LIM_TOKEN_MAX], tok[LIM_TOKEN_MAX];
	size_t	len;

	(void)state;
	assert_int_equal(jwt_sign(KEY, KEYLEN, V1_SUB, V1_IAT, V1_EXP, full,
	    sizeof(full)), 0);
	len = strlen(full);
	assert_int_equal(jwt_sign(KEY, KEYLEN, V1_SUB, V1_IAT, V1_EXP, tok,
	    len + 1), 0);
	assert_string_equal(tok, full);
	assert_int_equal(jwt_sign(KEY, KEYLEN, V1_SUB, V1_IAT, V1_EXP, tok,
	    len), -1);
	assert_string_equal(tok, "");
	assert_int_equal(jwt_sign(KEY, KEYLEN, V1_SUB, V1_IAT, V1_EXP, tok,
	    10), -1);
	assert_int_equal(jwt_sign(KEY, KEYLEN, V1_SUB, V1_IAT, V1_EXP, tok,
	    0), -1);
}

static void
t_sign_extreme_times_fit(void **state)
{
	char	tok[LIM_TOKEN_MAX];

	(void)state;
	assert_int_equal(jwt_sign(KEY, KEYLEN, V1_SUB, INT64_MIN, INT64_MIN,
	    tok, sizeof(tok)), 0);
	assert_true(strlen(tok) < LIM_TOKEN_MAX);
}

/* --- tampering --------------------------------------------------------- */

static void
t_tampered_payload(void **state)
{
	char	good[TOKBUF], evil[TOKBUF], tok[TOKBUF];
	char	*gsig, *edot;

	(void)state;
	mk(HDR, PL_OK, good);
	/* Same header, exp pushed out, signed with another key. */
	mk_token("other", 5, HDR, "{\"sub\":\"" V1_SUB
	    "\",\"iat\":1700000000,\"exp\":9999999999}", evil, sizeof(evil));
	gsig = strrchr(good, '.');
	edot = strrchr(evil, '.');
	/* evil's header and payload with good's signature. */
	memcpy(tok, evil, (size_t)(edot - evil));
	strcpy(tok + (edot - evil), gsig);
	assert_int_equal(verify(tok), JWT_BAD_SIGNATURE);
	assert_int_equal(verify(good), JWT_OK);
}

static void
t_tampered_signature(void **state)
{
	char	tok[TOKBUF], *sig;

	(void)state;
	mk(HDR, PL_OK, tok);
	sig = strrchr(tok, '.') + 1;
	sig[0] = (sig[0] == 'A') ? 'B' : 'A';
	assert_int_equal(verify(tok), JWT_BAD_SIGNATURE);
}

static void
t_tampered_header(void **state)
{
	char	good[TOKBUF], evil[TOKBUF], tok[TOKBUF];
	char	*gdot, *edot;

	(void)state;
	mk(HDR, PL_OK, good);
	mk("{\"alg\":\"HS256\",\"kid\":\"x\"}", PL_OK, evil);
	edot = strchr(evil, '.');
	gdot = strchr(good, '.');
	memcpy(tok, evil, (size_t)(edot - evil));
	strcpy(tok + (edot - evil), gdot);
	assert_int_equal(verify(tok), JWT_BAD_SIGNATURE);
}

static void
t_other_key(void **state)
{
	char	tok[TOKBUF];

	(void)state;
	mk_token("another key", 11, HDR, PL_OK, tok, sizeof(tok));
	assert_int_equal(verify(tok), JWT_BAD_SIGNATURE);
}

static void
t_signature_wrong_length(void **state)
{
	unsigned char	mac[33];
	char		tok[TOKBUF], *sig;

	(void)state;
	memset(mac, 0x5a, sizeof(mac));
	mk(HDR, PL_OK, tok);
	sig = strrchr(tok, '.') + 1;
	*sig = '\0';
	b64cat(tok, sizeof(tok), mac, 31);
	assert_int_equal(verify(tok), JWT_BAD_SIGNATURE);
	*sig = '\0';
	b64cat(tok, sizeof(tok), mac, 33);
	assert_int_equal(verify(tok), JWT_BAD_SIGNATURE);
}

/* The right 32 bytes followed by more, or cut short, are not a match. */
static void
t_signature_right_prefix(void **state)
{
	unsigned char	mac[crypto_auth_hmacsha256_BYTES + 3];
	char		tok[TOKBUF], *sig;
	size_t		len;

	(void)state;
	mk(HDR, PL_OK, tok);
	sig = strrchr(tok, '.') + 1;
	assert_int_equal(sodium_base642bin(mac, sizeof(mac), sig,
	    strlen(sig), NULL, &len, NULL,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING), 0);
	assert_int_equal(len, crypto_auth_hmacsha256_BYTES);
	mac[32] = 0;
	mac[33] = 0;
	mac[34] = 0;
	*sig = '\0';
	b64cat(tok, sizeof(tok), mac, 33);
	assert_int_equal(verify(tok), JWT_BAD_SIGNATURE);
	*sig = '\0';
	b64cat(tok, sizeof(tok), mac, 35);
	assert_int_equal(verify(tok), JWT_BAD_SIGNATURE);
	*sig = '\0';
	b64cat(tok, sizeof(tok), mac, 31);
	assert_int_equal(verify(tok), JWT_BAD_SIGNATURE);
	*sig = '\0';
	b64cat(tok, sizeof(tok), mac, 32);
	assert_int_equal(verify(tok), JWT_OK);
}

/* Nothing in the payload is looked at before the signature. */
static void
t_signature_checked_before_payload(void **state)
{
	char	tok[TOKBUF];

	(void)state;
	mk_token("wrong", 5, HDR, "not json at all", tok, sizeof(tok));
	assert_int_equal(verify(tok), JWT_BAD_SIGNATURE);
	mk_token("wrong", 5, HDR, "{\"sub\":1}", tok, sizeof(tok));
	assert_int_equal(verify(tok), JWT_BAD_SIGNATURE);
	mk_token("wrong", 5, HDR, "{\"sub\":\"" V1_SUB
	    "\",\"iat\":1,\"exp\":2}", tok, sizeof(tok));
	assert_int_equal(verify(tok), JWT_BAD_SIGNATURE);
	/* The same with the right key reaches the later checks. */
	mk(HDR, "not json at all", tok);
	assert_int_equal(verify(tok), JWT_MALFORMED);
	mk(HDR, "{\"sub\":1}", tok);
	assert_int_equal(verify(tok), JWT_BAD_CLAIMS);
	mk(HDR, "{\"sub\":\"" V1_SUB "\",\"iat\":1,\"exp\":2}", tok);
	assert_int_equal(verify(tok), JWT_EXPIRED);
}

/* --- header ------------------------------------------------------------ */

static void
t_alg_none(void **state)
{
	char	tok[TOKBUF];

	(void)state;
	/* Correctly signed, but alg says none. */
	expect_hdr("{\"alg\":\"none\",\"typ\":\"JWT\"}", JWT_BAD_ALG);
	/* The classic form: no signature at all. */
	tok[0] = '\0';
	b64cat(tok, sizeof(tok), "{\"alg\":\"none\"}", 14);
	strcat(tok, ".");
	b64cat(tok, sizeof(tok), PL_OK, strlen(PL_OK));
	strcat(tok, ".");
	assert_int_equal(verify(tok), JWT_MALFORMED);
}

static void
t_alg_others(void **state)
{

	(void)state;
	expect_hdr("{\"alg\":\"HS512\",\"typ\":\"JWT\"}", JWT_BAD_ALG);
	expect_hdr("{\"alg\":\"RS256\",\"typ\":\"JWT\"}", JWT_BAD_ALG);
	expect_hdr("{\"alg\":\"hs256\"}", JWT_BAD_ALG);
	expect_hdr("{\"alg\":\"HS256 \"}", JWT_BAD_ALG);
	expect_hdr("{\"alg\":\"HS256\\u0000\"}", JWT_BAD_ALG);
	expect_hdr("{\"alg\":256}", JWT_BAD_ALG);
	expect_hdr("{\"alg\":null}", JWT_BAD_ALG);
	expect_hdr("{\"alg\":[\"HS256\"]}", JWT_BAD_ALG);
}

static void
t_alg_missing(void **state)
{

	(void)state;
	expect_hdr("{\"typ\":\"JWT\"}", JWT_BAD_ALG);
	expect_hdr("{}", JWT_BAD_ALG);
	expect_hdr("{\"ALG\":\"HS256\"}", JWT_BAD_ALG);
}

/* alg is checked before the signature: an HS512 token is BAD_ALG. */
static void
t_alg_checked_before_signature(void **state)
{
	char	tok[TOKBUF];

	(void)state;
	mk_token("wrong", 5, "{\"alg\":\"HS512\"}", PL_OK, tok, sizeof(tok));
	assert_int_equal(verify(tok), JWT_BAD_ALG);
}

static void
t_typ(void **state)
{

	(void)state;
	expect_hdr("{\"alg\":\"HS256\"}", JWT_OK);
	expect_hdr("{\"typ\":\"JWT\",\"alg\":\"HS256\",\"kid\":\"a\"}", JWT_OK);
	expect_hdr("{\"alg\":\"HS256\",\"typ\":\"other\"}", JWT_MALFORMED);
	expect_hdr("{\"alg\":\"HS256\",\"typ\":\"jwt\"}", JWT_MALFORMED);
	expect_hdr("{\"alg\":\"HS256\",\"typ\":1}", JWT_MALFORMED);
	expect_hdr("{\"alg\":\"HS256\",\"typ\":null}", JWT_MALFORMED);
}

static void
t_crit(void **state)
{

	(void)state;
	expect_hdr("{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", JWT_MALFORMED);
	expect_hdr("{\"alg\":\"HS256\",\"crit\":[]}", JWT_MALFORMED);
	expect_hdr("{\"alg\":\"HS256\",\"crit\":null}", JWT_MALFORMED);
}

static void
t_header_not_object(void **state)
{

	(void)state;
	expect_hdr("[\"HS256\"]", JWT_MALFORMED);
	expect_hdr("\"HS256\"", JWT_MALFORMED);
	expect_hdr("null", JWT_MALFORMED);
	expect_hdr("alg=HS256", JWT_MALFORMED);
	expect_hdr("{\"alg\":\"HS256\"", JWT_MALFORMED);
	expect_hdr("{\"alg\":\"HS256\"}x", JWT_MALFORMED);
	expect_hdr("{\"alg\":\"HS256\"}{}", JWT_MALFORMED);
	expect_hdr("{\"alg\":\"HS256\",}", JWT_MALFORMED);
}

/* --- encoding and shape ------------------------------------------------ */

static void
t_b64_padding(void **state)
{
	char	tok[TOKBUF], *dot;

	(void)state;
	/* '=' after the header part. */
	mk(HDR, PL_OK, tok);
	dot = strchr(tok, '.');
	memmove(dot + 1, dot, strlen(dot) + 1);
	*dot = '=';
	assert_int_equal(verify(tok), JWT_MALFORMED);
	/* "==" after a payload whose length is not a multiple of 3. */
	assert_int_not_equal((sizeof(PL_OK) - 1) % 3, 0);
	mk(HDR, PL_OK, tok);
	assert_int_equal(verify(tok), JWT_OK);
	dot = strrchr(tok, '.');
	memmove(dot + 2, dot, strlen(dot) + 1);
	dot[0] = '=';
	dot[1] = '=';
	assert_int_equal(verify(tok), JWT_MALFORMED);
	/* Padding on the signature (43 chars + "="). */
	mk(HDR, PL_OK, tok);
	strcat(tok, "=");
	assert_int_equal(verify(tok), JWT_MALFORMED);
}

/* Replaces the first from in tok with to; tok must contain one. */
static void
swap_urlsafe(char *tok, char from, char to)
{
	char	*p = strchr(tok, from);

	assert_non_null(p);
	*p = to;
}

static void
t_b64_standard_alphabet(void **state)
{
	char	tok[TOKBUF], sub[LIM_UUID_LEN + 1];

	(void)state;
	/* V1's signature holds a '-', V3's a '_'. */
	strcpy(tok, V1_TOKEN);
	swap_urlsafe(tok, '-', '+');
	assert_int_equal(verify(tok), JWT_MALFORMED);
	strcpy(tok, V3_TOKEN);
	swap_urlsafe(tok, '_', '/');
	assert_int_equal(verify_n(V3_KEY, strlen(V3_KEY), tok, strlen(tok),
	    NOW, sub), JWT_MALFORMED);
}

static void
t_b64_invalid_chars(void **state)
{
	static const char	 bad[] = { '*', ' ', '\n', '%', '"', '\\',
	    (char)0x80, (char)0xff };
	char			 tok[TOKBUF], sub[LIM_UUID_LEN + 1];
	size_t			 i, len;

	(void)state;
	for (i = 0; i < sizeof(bad); i++) {
		strcpy(tok, V1_TOKEN);
		tok[5] = bad[i];
		assert_int_equal(verify(tok), JWT_MALFORMED);
	}
	/* An embedded NUL inside the counted length. */
	strcpy(tok, V1_TOKEN);
	len = strlen(tok);
	tok[5] = '\0';
	assert_int_equal(verify_n(KEY, KEYLEN, tok, len, NOW, sub),
	    JWT_MALFORMED);
	/* A NUL just past the token is not part of it. */
	strcpy(tok, V1_TOKEN);
	assert_int_equal(verify_n(KEY, KEYLEN, tok, len + 1, NOW, sub),
	    JWT_MALFORMED);
	assert_int_equal(verify_n(KEY, KEYLEN, tok, len, NOW, sub), JWT_OK);
}

static void
t_b64_bad_length_and_bits(void **state)
{
	char	tok[TOKBUF], *dot;

	(void)state;
	/* 4k+1 characters cannot be base64: the header has 36, make 37. */
	mk(HDR, PL_OK, tok);
	dot = strchr(tok, '.');
	assert_int_equal(dot - tok, 36);
	memmove(dot + 1, dot, strlen(dot) + 1);
	*dot = 'A';
	assert_int_equal(verify(tok), JWT_MALFORMED);
	/*
	 * 43 characters carry 258 bits for 256: the last two must be 0.
	 * V1's signature ends in 'c' (011100); 'd' (011101) sets one.
	 */
	strcpy(tok, V1_TOKEN);
	tok[strlen(tok) - 1] = 'd';
	assert_int_equal(verify(tok), JWT_MALFORMED);
}

static void
t_parts(void **state)
{
	char	tok[TOKBUF], h[128], p[256], s[128];
	char	*d1, *d2;

	(void)state;
	strcpy(tok, V1_TOKEN);
	d1 = strchr(tok, '.');
	d2 = strrchr(tok, '.');
	*d1 = '\0';
	*d2 = '\0';
	strcpy(h, tok);
	strcpy(p, d1 + 1);
	strcpy(s, d2 + 1);

#define TRY(want, ...) do {						\
		snprintf(tok, sizeof(tok), __VA_ARGS__);		\
		assert_int_equal(verify(tok), (want));			\
	} while (0)
	TRY(JWT_OK, "%s.%s.%s", h, p, s);
	TRY(JWT_MALFORMED, "%s.%s", h, p);
	TRY(JWT_MALFORMED, "%s.%s.%s.%s", h, p, s, s);
	TRY(JWT_MALFORMED, "%s.%s.%s.", h, p, s);
	TRY(JWT_MALFORMED, ".%s.%s", p, s);
	TRY(JWT_MALFORMED, "%s..%s", h, s);
	TRY(JWT_MALFORMED, "%s.%s.", h, p);
	TRY(JWT_MALFORMED, "%s", h);
	TRY(JWT_MALFORMED, "..");
	TRY(JWT_MALFORMED, ".");
	TRY(JWT_MALFORMED, "%s", "");
#undef TRY
}

static void
t_token_length_limit(void **state)
{
	char	tok[TOKBUF], pl[TOKBUF];
	size_t	pad;
	int	hit2048 = 0, hit2049 = 0;

	(void)state;
	/* Grow a padding claim until the token is exactly 2048, then 2049. */
	for (pad = 1300; pad < 1500; pad++) {
		snprintf(pl, sizeof(pl), "{\"sub\":\"%s\",\"iat\":1,"
		    "\"exp\":9999999999,\"pad\":\"%*s\"}", V1_SUB,
		    (int)pad, "");
		mk(HDR, pl, tok);
		if (strlen(tok) == LIM_TOKEN_MAX) {
			assert_int_equal(verify(tok), JWT_OK);
			hit2048 = 1;
		} else if (strlen(tok) == LIM_TOKEN_MAX + 1) {
			assert_int_equal(verify(tok), JWT_MALFORMED);
			hit2049 = 1;
		}
	}
	assert_true(hit2048);
	assert_true(hit2049);
	/* Far too long: nothing is decoded. */
	memset(tok, 'A', 3 * LIM_TOKEN_MAX);
	tok[3 * LIM_TOKEN_MAX] = '\0';
	assert_int_equal(verify(tok), JWT_MALFORMED);
}

/* --- payload and claims ------------------------------------------------ */

static void
t_payload_not_object(void **state)
{

	(void)state;
	expect_pl("[]", JWT_MALFORMED);
	expect_pl("[\"" V1_SUB "\"]", JWT_MALFORMED);
	expect_pl("1", JWT_MALFORMED);
	expect_pl("\"" V1_SUB "\"", JWT_MALFORMED);
	expect_pl("null", JWT_MALFORMED);
	expect_pl("true", JWT_MALFORMED);
	expect_pl("", JWT_MALFORMED);
	expect_pl("{", JWT_MALFORMED);
}

static void
t_payload_trailing_garbage(void **state)
{

	(void)state;
	expect_pl(PL_OK "x", JWT_MALFORMED);
	expect_pl(PL_OK "{}", JWT_MALFORMED);
	expect_pl(PL_OK ",", JWT_MALFORMED);
	expect_pl(PL_OK "]", JWT_MALFORMED);
	/* JSON white space around the value is not garbage. */
	expect_pl(PL_OK " ", JWT_OK);
	expect_pl(" " PL_OK "\n", JWT_OK);
}

static void
t_payload_bad_json(void **state)
{

	(void)state;
	/* Invalid UTF-8 inside a string (json-c alone lets these pass). */
#define PL_N(n) "{\"sub\":\"" V1_SUB "\",\"iat\":1,\"exp\":9999999999," \
	    "\"n\":\"" n "\"}"
	expect_pl(PL_N("\xc3\xa9"), JWT_OK);
	expect_pl(PL_N("\xc0\x80"), JWT_MALFORMED);
	expect_pl(PL_N("\xed\xa0\x80"), JWT_MALFORMED);
	expect_pl(PL_N("\xf4\x90\x80\x80"), JWT_MALFORMED);
	expect_pl(PL_N("\xff"), JWT_MALFORMED);
	expect_pl(PL_N("\xe2\x82"), JWT_MALFORMED);
#undef PL_N
	/* Too deep. */
	expect_pl("{\"sub\":\"" V1_SUB "\",\"iat\":1,\"exp\":9999999999,"
	    "\"n\":[[[[[[1]]]]]]}", JWT_MALFORMED);
	/* Trailing comma, as strict JSON forbids. */
	expect_pl("{\"sub\":\"" V1_SUB "\",\"iat\":1,\"exp\":9999999999,}",
	    JWT_MALFORMED);
}

static void
t_exp_claim(void **state)
{

	(void)state;
#define PL_EXP(e) "{\"sub\":\"" V1_SUB "\",\"iat\":1700000000,\"exp\":" e "}"
	expect_pl(PL_EXP("1700003600"), JWT_OK);
	expect_pl("{\"sub\":\"" V1_SUB "\",\"iat\":1700000000}",
	    JWT_BAD_CLAIMS);
	expect_pl(PL_EXP("\"1700003600\""), JWT_BAD_CLAIMS);
	expect_pl(PL_EXP("1700003600.0"), JWT_BAD_CLAIMS);
	expect_pl(PL_EXP("1.7e9"), JWT_BAD_CLAIMS);
	expect_pl(PL_EXP("true"), JWT_BAD_CLAIMS);
	expect_pl(PL_EXP("null"), JWT_BAD_CLAIMS);
	expect_pl(PL_EXP("-1"), JWT_BAD_CLAIMS);
	expect_pl(PL_EXP("99999999999999999999"), JWT_BAD_CLAIMS);
	expect_pl(PL_EXP("253402300799"), JWT_OK);
	expect_pl(PL_EXP("253402300800"), JWT_BAD_CLAIMS);
#undef PL_EXP
}

static void
t_iat_claim(void **state)
{

	(void)state;
#define PL_IAT(i) "{\"sub\":\"" V1_SUB "\",\"iat\":" i ",\"exp\":1700003600}"
	expect_pl(PL_IAT("0"), JWT_OK);
	expect_pl("{\"sub\":\"" V1_SUB "\",\"exp\":1700003600}",
	    JWT_BAD_CLAIMS);
	expect_pl(PL_IAT("\"1700000000\""), JWT_BAD_CLAIMS);
	expect_pl(PL_IAT("1700000000.5"), JWT_BAD_CLAIMS);
	expect_pl(PL_IAT("false"), JWT_BAD_CLAIMS);
	expect_pl(PL_IAT("{}"), JWT_BAD_CLAIMS);
	expect_pl(PL_IAT("-5"), JWT_BAD_CLAIMS);
#undef PL_IAT
}

static void
t_expiry(void **state)
{
	char	tok[TOKBUF], sub[LIM_UUID_LEN + 1];
	size_t	len;

	(void)state;
	strcpy(tok, V1_TOKEN);
	len = strlen(tok);
	assert_int_equal(verify_n(KEY, KEYLEN, tok, len, V1_EXP - 1, sub),
	    JWT_OK);
	assert_int_equal(verify_n(KEY, KEYLEN, tok, len, V1_EXP, sub),
	    JWT_EXPIRED);
	assert_int_equal(verify_n(KEY, KEYLEN, tok, len, V1_EXP + 1, sub),
	    JWT_EXPIRED);
	assert_int_equal(verify_n(KEY, KEYLEN, tok, len, INT64_MAX, sub),
	    JWT_EXPIRED);
}

static void
t_sub_claim(void **state)
{

	(void)state;
#define PL_SUB(s) "{\"sub\":" s ",\"iat\":1700000000,\"exp\":1700003600}"
	expect_pl(PL_SUB("\"" V1_SUB "\""), JWT_OK);
	expect_pl("{\"iat\":1700000000,\"exp\":1700003600}", JWT_BAD_CLAIMS);
	expect_pl(PL_SUB("\"0B8F4C2E-3A4D-4E5F-9A6B-7C8D9E0F1A2B\""),
	    JWT_BAD_CLAIMS);
	expect_pl(PL_SUB("\"0b8f4c2e3a4d4e5f9a6b7c8d9e0f1a2b\""),
	    JWT_BAD_CLAIMS);
	expect_pl(PL_SUB("\"{0b8f4c2e-3a4d-4e5f-9a6b-7c8d9e0f1a2b}\""),
	    JWT_BAD_CLAIMS);
	expect_pl(PL_SUB("\"" V1_SUB "\\u0000\""), JWT_BAD_CLAIMS);
	expect_pl(PL_SUB("\"1234567890\""), JWT_BAD_CLAIMS);
	expect_pl(PL_SUB("\"\""), JWT_BAD_CLAIMS);
	expect_pl(PL_SUB("1234567890"), JWT_BAD_CLAIMS);
	expect_pl(PL_SUB("null"), JWT_BAD_CLAIMS);
	expect_pl(PL_SUB("[\"" V1_SUB "\"]"), JWT_BAD_CLAIMS);
#undef PL_SUB
}

/* --- API edges --------------------------------------------------------- */

static void
t_sub_out_untouched_on_failure(void **state)
{
	char	sub[LIM_UUID_LEN + 1];

	(void)state;
	memset(sub, 'Z', sizeof(sub));
	assert_int_equal(verify_n(KEY, KEYLEN, V1_TOKEN, strlen(V1_TOKEN),
	    V1_EXP, sub), JWT_EXPIRED);
	assert_int_equal(sub[0], 'Z');
	assert_int_equal(sub[LIM_UUID_LEN], 'Z');
}

static void
t_bad_arguments(void **state)
{
	char	sub[LIM_UUID_LEN + 1];

	(void)state;
	assert_int_equal(jwt_verify(KEY, KEYLEN, V1_TOKEN, strlen(V1_TOKEN),
	    NOW, sub, LIM_UUID_LEN), JWT_MALFORMED);
	assert_int_equal(jwt_verify(KEY, KEYLEN, V1_TOKEN, strlen(V1_TOKEN),
	    NOW, NULL, sizeof(sub)), JWT_MALFORMED);
	assert_int_equal(jwt_verify(KEY, 0, V1_TOKEN, strlen(V1_TOKEN),
	    NOW, sub, sizeof(sub)), JWT_MALFORMED);
	assert_int_equal(jwt_verify(KEY, KEYLEN, NULL, 10, NOW, sub,
	    sizeof(sub)), JWT_MALFORMED);
	assert_int_equal(jwt_verify(KEY, KEYLEN, V1_TOKEN, strlen(V1_TOKEN),
	    NOW, sub, sizeof(sub)), JWT_OK);
}

static void
t_status_str(void **state)
{
	int	i, j;

	(void)state;
	for (i = 0; i < JWT_STATUS__MAX; i++) {
		assert_non_null(jwt_status_str((enum jwt_status)i));
		assert_true(strlen(jwt_status_str((enum jwt_status)i)) > 0);
		for (j = 0; j < i; j++)
			assert_string_not_equal(
			    jwt_status_str((enum jwt_status)i),
			    jwt_status_str((enum jwt_status)j));
	}
	assert_string_equal(jwt_status_str(JWT_STATUS__MAX), "unknown status");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_vector1_verifies),
		cmocka_unit_test(t_vector1_sign_matches),
		cmocka_unit_test(t_vector2_long_key_spaces),
		cmocka_unit_test(t_vector3_jwtio),
		cmocka_unit_test(t_helper_matches_vector),
		cmocka_unit_test(t_round_trip),
		cmocka_unit_test(t_round_trip_one_byte_key),
		cmocka_unit_test(t_sign_rejects_empty_key),
		cmocka_unit_test(t_sign_rejects_bad_sub),
		cmocka_unit_test(t_sign_out_size),
		cmocka_unit_test(t_sign_extreme_times_fit),
		cmocka_unit_test(t_tampered_payload),
		cmocka_unit_test(t_tampered_signature),
		cmocka_unit_test(t_tampered_header),
		cmocka_unit_test(t_other_key),
		cmocka_unit_test(t_signature_wrong_length),
		cmocka_unit_test(t_signature_right_prefix),
		cmocka_unit_test(t_signature_checked_before_payload),
		cmocka_unit_test(t_alg_none),
		cmocka_unit_test(t_alg_others),
		cmocka_unit_test(t_alg_missing),
		cmocka_unit_test(t_alg_checked_before_signature),
		cmocka_unit_test(t_typ),
		cmocka_unit_test(t_crit),
		cmocka_unit_test(t_header_not_object),
		cmocka_unit_test(t_b64_padding),
		cmocka_unit_test(t_b64_standard_alphabet),
		cmocka_unit_test(t_b64_invalid_chars),
		cmocka_unit_test(t_b64_bad_length_and_bits),
		cmocka_unit_test(t_parts),
		cmocka_unit_test(t_token_length_limit),
		cmocka_unit_test(t_payload_not_object),
		cmocka_unit_test(t_payload_trailing_garbage),
		cmocka_unit_test(t_payload_bad_json),
		cmocka_unit_test(t_exp_claim),
		cmocka_unit_test(t_iat_claim),
		cmocka_unit_test(t_expiry),
		cmocka_unit_test(t_sub_claim),
		cmocka_unit_test(t_sub_out_untouched_on_failure),
		cmocka_unit_test(t_bad_arguments),
		cmocka_unit_test(t_status_str),
	};

	return cmocka_run_group_tests_name("jwt", tests, setup, NULL);
}
