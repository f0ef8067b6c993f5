/*
 * cursor.c: keyset cursors (see cursor.h).
 *
 * Layout before base64url, all lengths in bytes:
 *   version 1 | list 1 | sort 1 | scope 16 | id 16 | key length 1 |
 *   key 0..63 | MAC 32 (crypto_auth over everything before it)
 * so a cursor is at most 131 bytes, 175 characters of text.
 */
#include "config.h"

#include <string.h>

#include <sodium.h>

#include "cursor.h"
#include "util.h"

#define CURSOR_VERSION 1
#define CURSOR_HEAD    (3 + CURSOR_SCOPE_LEN + 16 + 1)
#define CURSOR_BIN_MAX (CURSOR_HEAD + CURSOR_KEY_MAX + crypto_auth_BYTES)

_Static_assert(CURSOR_MACKEY_LEN == crypto_auth_KEYBYTES,
    "cursor MAC key size");
_Static_assert(CURSOR_TEXT_MAX > (CURSOR_BIN_MAX * 4 + 2) / 3,
    "cursor text buffer");

/* The KDF context: eight bytes naming what the subkey is for. */
static const char kdf_context[crypto_kdf_CONTEXTBYTES] = "tcursor1";

void
cursor_mac_key(const unsigned char *secret, size_t secret_len,
    unsigned char subkey[CURSOR_MACKEY_LEN])
{
	unsigned char master[crypto_kdf_KEYBYTES];

	/* The secret may be any length; the KDF wants exactly 32 bytes. */
	crypto_generichash(master, sizeof(master), secret, secret_len, NULL, 0);
	crypto_kdf_derive_from_key(subkey, CURSOR_MACKEY_LEN, 1, kdf_context,
	    master);
	sodium_memzero(master, sizeof(master));
}

/* "8-4-4-4-12" hex digits -> 16 bytes. */
static bool
uuid_to_bin(const char *s, unsigned char out[16])
{
	size_t o = 0;

	for (size_t i = 0; s[i] != '\0'; i++) {
		int hi, lo;

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
			continue;
		}
		if (o == 16 || (hi = util_hexval(s[i])) < 0 ||
		    s[i + 1] == '\0' || (lo = util_hexval(s[i + 1])) < 0)
			return false;
		out[o++] = (unsigned char)(hi * 16 + lo);
		i++;
	}
	return o == 16;
}

static void
uuid_to_text(const unsigned char in[16], char out[37])
{
	static const char hex[] = "0123456789abcdef";
	size_t		  o = 0;

	for (size_t i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			out[o++] = '-';
		out[o++] = hex[in[i] >> 4];
		out[o++] = hex[in[i] & 15];
	}
	out[o] = '\0';
}

bool
cursor_encode(const struct cursor *c,
    const unsigned char key[CURSOR_MACKEY_LEN], char *out, size_t outsz)
{
	unsigned char bin[CURSOR_BIN_MAX];
	size_t	      klen = strlen(c->key), n = 0;

	if (klen > CURSOR_KEY_MAX ||
	    outsz < sodium_base64_ENCODED_LEN(CURSOR_BIN_MAX,
			sodium_base64_VARIANT_URLSAFE_NO_PADDING))
		return false;
	bin[n++] = CURSOR_VERSION;
	bin[n++] = c->list;
	bin[n++] = c->sort;
	memcpy(bin + n, c->scope, CURSOR_SCOPE_LEN);
	n += CURSOR_SCOPE_LEN;
	if (!uuid_to_bin(c->id, bin + n))
		return false;
	n += 16;
	bin[n++] = (unsigned char)klen;
	memcpy(bin + n, c->key, klen);
	n += klen;
	crypto_auth(bin + n, bin, n, key);
	n += crypto_auth_BYTES;
	sodium_bin2base64(out, outsz, bin, n,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return true;
}

bool
cursor_decode(const char *text, const unsigned char key[CURSOR_MACKEY_LEN],
    struct cursor *c)
{
	unsigned char bin[CURSOR_BIN_MAX];
	size_t	      n, klen, body;

	memset(c, 0, sizeof(*c));
	if (strlen(text) >= CURSOR_TEXT_MAX ||
	    sodium_base642bin(bin, sizeof(bin), text, strlen(text), NULL, &n,
		NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    n < CURSOR_HEAD + crypto_auth_BYTES)
		return false;
	body = n - crypto_auth_BYTES;
	if (crypto_auth_verify(bin + body, bin, body, key) != 0)
		return false;
	/* MACed by us, so the fields are ours; still, check their sizes. */
	klen = bin[CURSOR_HEAD - 1];
	if (bin[0] != CURSOR_VERSION || klen > CURSOR_KEY_MAX ||
	    CURSOR_HEAD + klen != body)
		return false;
	c->list = bin[1];
	c->sort = bin[2];
	memcpy(c->scope, bin + 3, CURSOR_SCOPE_LEN);
	uuid_to_text(bin + 3 + CURSOR_SCOPE_LEN, c->id);
	memcpy(c->key, bin + CURSOR_HEAD, klen);
	c->key[klen] = '\0';
	return true;
}
