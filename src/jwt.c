/*
 * jwt.c: HS256 JSON Web Tokens (see jwt.h).
 *
 * jwt_verify() works in a fixed order so that nothing an attacker wrote
 * in the payload is parsed before the signature has been checked:
 *
 *   1. size and shape: at most LIM_TOKEN_MAX bytes, three non-empty
 *      parts of base64url characters without padding;
 *   2. header: decode, parse as JSON (small depth, strict, UTF-8
 *      checked, nothing after the value), "alg" must be "HS256";
 *   3. signature: HMAC-SHA256 over "<part1>.<part2>", compared in
 *      constant time;
 *   4. payload: decode, parse the same way, check sub/iat/exp types;
 *   5. expiry against the clock passed in.
 *
 * All buffers are on the stack; the only heap memory is json-c's, and
 * every path releases it at the single exit.
 */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <json.h>
#include <sodium.h>

#include "api_limits.h"
#include "jwt.h"
#include "util.h"

/* Nesting accepted in a header or payload: one object of scalars. */
#define JWT_JSON_DEPTH	4

/*
 * Bounds for iat and exp: 1970-01-01 to 9999-12-31T23:59:59Z.  json-c
 * saturates numbers that do not fit 64 bits instead of failing, so the
 * bounds also reject those.
 */
#define JWT_TIME_MIN	INT64_C(0)
#define JWT_TIME_MAX	INT64_C(253402300799)

#define JWT_HEADER	"{\"alg\":\"HS256\",\"typ\":\"JWT\"}"
#define JWT_PAYLOAD_MAX	128	/* {"sub":"<36>","iat":<20>,"exp":<20>} */

static const char *const jwt_status_names[JWT_STATUS__MAX] = {
	[JWT_OK] = "ok",
	[JWT_MALFORMED] = "malformed token",
	[JWT_BAD_ALG] = "unsupported algorithm",
	[JWT_BAD_SIGNATURE] = "bad signature",
	[JWT_EXPIRED] = "token expired",
	[JWT_BAD_CLAIMS] = "bad claims",
};

const char *
jwt_status_str(enum jwt_status st)
{

	if ((unsigned int)st >= JWT_STATUS__MAX)
		return "unknown status";
	return jwt_status_names[st];
}

/*
 * HMAC-SHA256 of msg (len bytes) under key into mac.  The _init form
 * takes keys of any length (longer ones are hashed, as RFC 2104 says).
 */
static void
hs256(const unsigned char *key, size_t keylen, const char *msg, size_t len,
    unsigned char mac[crypto_auth_hmacsha256_BYTES])
{
	crypto_auth_hmacsha256_state	st;

	crypto_auth_hmacsha256_init(&st, key, keylen);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)msg, len);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_memzero(&st, sizeof(st));
}

/*
 * Appends the unpadded base64url form of bin to out at *pos, keeping
 * the NUL terminator.  Returns -1 when it does not fit.
 */
static int
b64_append(char *out, size_t outsz, size_t *pos, const unsigned char *bin,
    size_t len)
{
	size_t	need;

	need = sodium_base64_ENCODED_LEN(len,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);	/* counts the NUL */
	if (*pos >= outsz || outsz - *pos < need)
		return -1;
	sodium_bin2base64(out + *pos, outsz - *pos, bin, len,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	*pos += need - 1;
	return 0;
}

/*
 * Builds the token in out.  sub must be a canonical UUID, which is also
 * what makes printing it into JSON without escaping safe.  Returns 0,
 * or -1 on a bad argument or when out is too small (out then holds "").
 */
int
jwt_sign(const unsigned char *key, size_t keylen, const char *sub,
    int64_t iat, int64_t exp, char *out, size_t outsz)
{
	unsigned char	 mac[crypto_auth_hmacsha256_BYTES];
	char		 payload[JWT_PAYLOAD_MAX];
	size_t		 pos = 0;
	int		 n, rc = -1;

	if (out == NULL || outsz == 0)
		return -1;
	out[0] = '\0';
	if (key == NULL || keylen == 0 || !util_uuid_valid(sub))
		return -1;

	n = snprintf(payload, sizeof(payload),
	    "{\"sub\":\"%s\",\"iat\":%lld,\"exp\":%lld}",
	    sub, (long long)iat, (long long)exp);
	if (n < 0 || (size_t)n >= sizeof(payload))
		goto out;

	if (b64_append(out, outsz, &pos, (const unsigned char *)JWT_HEADER,
	    sizeof(JWT_HEADER) - 1) == -1)
		goto out;
	if (pos + 1 >= outsz)
		goto out;
	out[pos++] = '.';
	if (b64_append(out, outsz, &pos, (const unsigned char *)payload,
	    (size_t)n) == -1)
		goto out;

	hs256(key, keylen, out, pos, mac);

	if (pos + 1 >= outsz)
		goto out;
	out[pos++] = '.';
	if (b64_append(out, outsz, &pos, mac, sizeof(mac)) == -1)
		goto out;
	rc = 0;
out:
	if (rc == -1)
		out[0] = '\0';
	sodium_memzero(mac, sizeof(mac));
	return rc;
}

static bool
is_b64url_char(char c)
{

	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/*
 * Checks the shape of token (len bytes): at most LIM_TOKEN_MAX bytes,
 * only base64url characters and exactly two dots, no part empty.  Sets
 * dot[0] and dot[1] to the dots.  Padding '=' and the standard
 * alphabet's '+' and '/' fail here, as does any NUL byte.
 */
static bool
split_token(const char *token, size_t len, const char *dot[2])
{
	size_t	i, ndots = 0;

	if (len == 0 || len > LIM_TOKEN_MAX)
		return false;
	for (i = 0; i < len; i++) {
		if (token[i] == '.') {
			if (ndots == 2)
				return false;
			dot[ndots++] = token + i;
		} else if (!is_b64url_char(token[i]))
			return false;
	}
	return ndots == 2 && dot[0] != token && dot[1] != dot[0] + 1 &&
	    dot[1] != token + len - 1;
}

/*
 * Decodes the base64url text s (len bytes) into out (outsz bytes) and
 * NUL-terminates it.  libsodium rejects a length of 4k+1 and non-zero
 * leftover bits, so each byte string has exactly one accepted encoding.
 * Returns false on any error; *outlen is the decoded length.
 */
static bool
b64_decode(const char *s, size_t len, unsigned char *out, size_t outsz,
    size_t *outlen)
{

	if (outsz == 0)
		return false;
	if (sodium_base642bin(out, outsz - 1, s, len, NULL, outlen, NULL,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
		return false;
	out[*outlen] = '\0';
	return true;
}

/*
 * Parses buf (len bytes) as exactly one JSON object: strict mode,
 * depth limited, nothing but white space after it.  The bytes must
 * pass util_utf8_valid() first: json-c's JSON_TOKENER_VALIDATE_UTF8
 * (0.16) only checks sequence lengths and lets overlong forms,
 * surrogates and code points above U+10FFFF through.  Returns an owned
 * object (json_object_put() it) or NULL.
 */
static struct json_object *
parse_object(const unsigned char *buf, size_t len)
{
	struct json_tokener	*tok;
	struct json_object	*obj;

	if (len == 0 || len > INT32_MAX ||
	    !util_utf8_valid((const char *)buf, len))
		return NULL;
	if ((tok = json_tokener_new_ex(JWT_JSON_DEPTH)) == NULL)
		return NULL;
	json_tokener_set_flags(tok,
	    JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, (const char *)buf, (int)len);
	if (obj != NULL &&
	    (json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len ||
	    !json_object_is_type(obj, json_type_object))) {
		json_object_put(obj);
		obj = NULL;
	}
	json_tokener_free(tok);
	return obj;
}

/* True when obj is a JSON string of exactly the len bytes s. */
static bool
json_str_eq(struct json_object *obj, const char *s)
{
	size_t	len = strlen(s);

	return json_object_is_type(obj, json_type_string) &&
	    (size_t)json_object_get_string_len(obj) == len &&
	    memcmp(json_object_get_string(obj), s, len) == 0;
}

/*
 * Header rules: "alg" exactly "HS256" (else JWT_BAD_ALG); "typ", when
 * present, exactly "JWT"; no "crit" at all, since we implement no
 * extensions (else JWT_MALFORMED).  Other members are ignored.
 */
static enum jwt_status
check_header(struct json_object *hdr)
{
	struct json_object	*v;

	if (!json_object_object_get_ex(hdr, "alg", &v) ||
	    !json_str_eq(v, "HS256"))
		return JWT_BAD_ALG;
	if (json_object_object_get_ex(hdr, "typ", &v) && !json_str_eq(v, "JWT"))
		return JWT_MALFORMED;
	if (json_object_object_get_ex(hdr, "crit", NULL))
		return JWT_MALFORMED;
	return JWT_OK;
}

/* Reads member name of obj as a JSON integer in [JWT_TIME_MIN, _MAX]. */
static bool
get_time(struct json_object *obj, const char *name, int64_t *out)
{
	struct json_object	*v;
	int64_t			 t;

	if (!json_object_object_get_ex(obj, name, &v) ||
	    !json_object_is_type(v, json_type_int))
		return false;
	t = json_object_get_int64(v);
	if (t < JWT_TIME_MIN || t > JWT_TIME_MAX)
		return false;
	*out = t;
	return true;
}

/*
 * Verifies in the order given at the top of this file.  sub_out must
 * hold LIM_UUID_LEN + 1 bytes; a smaller one, a NULL argument or an
 * empty key is a caller bug and gives JWT_MALFORMED.  sub_out is only
 * written on JWT_OK.
 */
enum jwt_status
jwt_verify(const unsigned char *key, size_t keylen, const char *token,
    size_t toklen, int64_t now, char *sub_out, size_t sub_outsz)
{
	return jwt_verify_exp(key, keylen, token, toklen, now, sub_out,
	    sub_outsz, NULL);
}

enum jwt_status
jwt_verify_exp(const unsigned char *key, size_t keylen, const char *token,
    size_t toklen, int64_t now, char *sub_out, size_t sub_outsz,
    int64_t *exp_out)
{
	unsigned char		 buf[LIM_TOKEN_MAX + 1];
	unsigned char		 mac[crypto_auth_hmacsha256_BYTES];
	struct json_object	*hdr = NULL, *pl = NULL, *v;
	const char		*dot[2] = { NULL, NULL };
	size_t			 len, siglen;
	int64_t			 iat, exp;
	enum jwt_status		 st = JWT_MALFORMED;

	if (key == NULL || keylen == 0 || token == NULL || sub_out == NULL ||
	    sub_outsz < LIM_UUID_LEN + 1)
		return JWT_MALFORMED;

	/* 1. Shape. */
	if (!split_token(token, toklen, dot))
		return JWT_MALFORMED;

	/* 2. Header. */
	if (!b64_decode(token, (size_t)(dot[0] - token), buf, sizeof(buf),
	    &len))
		goto out;
	if ((hdr = parse_object(buf, len)) == NULL)
		goto out;
	if ((st = check_header(hdr)) != JWT_OK)
		goto out;

	/* 3. Signature; any decodable length other than 32 is just wrong. */
	st = JWT_MALFORMED;
	if (!b64_decode(dot[1] + 1, (size_t)(token + toklen - dot[1] - 1),
	    buf, sizeof(buf), &siglen))
		goto out;
	st = JWT_BAD_SIGNATURE;
	if (siglen != sizeof(mac))
		goto out;
	hs256(key, keylen, token, (size_t)(dot[1] - token), mac);
	if (sodium_memcmp(mac, buf, sizeof(mac)) != 0)
		goto out;

	/* 4. Payload, now known to be ours. */
	st = JWT_MALFORMED;
	if (!b64_decode(dot[0] + 1, (size_t)(dot[1] - dot[0] - 1), buf,
	    sizeof(buf), &len))
		goto out;
	if ((pl = parse_object(buf, len)) == NULL)
		goto out;
	st = JWT_BAD_CLAIMS;
	if (!json_object_object_get_ex(pl, "sub", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    json_object_get_string_len(v) != LIM_UUID_LEN ||
	    !util_uuid_valid(json_object_get_string(v)))
		goto out;
	if (!get_time(pl, "iat", &iat) || !get_time(pl, "exp", &exp))
		goto out;

	/* 5. Expiry. */
	if (now >= exp) {
		st = JWT_EXPIRED;
		goto out;
	}
	memcpy(sub_out, json_object_get_string(v), LIM_UUID_LEN + 1);
	if (exp_out != NULL)
		*exp_out = exp;
	st = JWT_OK;
out:
	json_object_put(pl);
	json_object_put(hdr);
	sodium_memzero(mac, sizeof(mac));
	return st;
}
