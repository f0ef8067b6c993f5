/*
 * cursor.h: the opaque, tamper-evident keyset cursors of the list
 * endpoints.
 *
 * A cursor names the last row of a page by its sort key and id, plus
 * what the page was a page of: the list, the sort and a hash of the
 * caller and the filters (its scope).  It is MACed (libsodium
 * crypto_auth, HMAC-SHA-512-256) under a key derived from the JWT
 * secret and written in unpadded base64url, so a client can hand it
 * back but not make one up or change one: a cursor that fails the MAC,
 * or belongs to another list, sort, user or set of filters, is a 400
 * and never reaches SQL.
 */
#ifndef TASKAPI_CURSOR_H
#define TASKAPI_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CURSOR_SCOPE_LEN  16 /* bytes of the scope hash */
#define CURSOR_KEY_MAX	  63 /* bytes of a sort key's text */
#define CURSOR_MACKEY_LEN 32 /* crypto_auth_KEYBYTES */
/* The longest cursor text, with its NUL (see cursor.c's layout). */
#define CURSOR_TEXT_MAX 192

struct cursor {
	uint8_t list; /* 'T' tasks, 'U' users */
	uint8_t sort; /* the list's sort code */
	uint8_t scope[CURSOR_SCOPE_LEN];
	char	id[37];			 /* the row's uuid, text */
	char	key[CURSOR_KEY_MAX + 1]; /* as PostgreSQL wrote it */
};

/*
 * Derives the cursors' MAC key from the JWT secret (a key of its own,
 * so a cursor can never pass for a token or the other way round).
 */
void
cursor_mac_key(const unsigned char *secret, size_t secret_len,
    unsigned char key[CURSOR_MACKEY_LEN]);

/*
 * Writes c as text into out (CURSOR_TEXT_MAX bytes).  Returns false
 * when the id is not a uuid or the key is too long.
 */
bool
cursor_encode(const struct cursor *c,
    const unsigned char key[CURSOR_MACKEY_LEN], char *out, size_t outsz);

/*
 * Reads text into *c.  Returns false for anything but a cursor this
 * key made: bad base64url, wrong length or version, a failed MAC.
 */
bool
cursor_decode(const char *text, const unsigned char key[CURSOR_MACKEY_LEN],
    struct cursor *c);

#endif /* TASKAPI_CURSOR_H */
