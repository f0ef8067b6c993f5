/*
 * fz_jwt.c: jwt_verify on any bytes, and on any header.payload that
 * carries a valid signature (so the claims parser is reached too).
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "api_limits.h"
#include "jwt.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char key[] = "fuzzing-key-fuzzing-key-fuzzing!";
	unsigned char	 mac[crypto_auth_hmacsha256_BYTES];
	char		 tok[LIM_TOKEN_MAX + 64], sub[64];
	crypto_auth_hmacsha256_state st;
	size_t		 n;

	if (sodium_init() < 0)
		abort();
	(void)jwt_verify(key, sizeof(key) - 1, (const char *)data, size,
	    1800000000, sub, sizeof(sub));
	/* Signed variant: data is "header.payload". */
	if (size > LIM_TOKEN_MAX - 64)
		return 0;
	crypto_auth_hmacsha256_init(&st, key, sizeof(key) - 1);
	crypto_auth_hmacsha256_update(&st, data, size);
	crypto_auth_hmacsha256_final(&st, mac);
	memcpy(tok, data, size);
	tok[size] = '.';
	sodium_bin2base64(tok + size + 1, sizeof(tok) - size - 1, mac,
	    sizeof(mac), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	n = strlen(tok + size + 1) + size + 1;
	if (jwt_verify(key, sizeof(key) - 1, tok, n, 1800000000, sub,
	    sizeof(sub)) == JWT_OK && strlen(sub) != LIM_UUID_LEN)
		abort();
	return 0;
}
