/*
 * ids.c: random bytes for request, trace and span ids.
 *
 * Every response carries a request id, and a trace id and span id when
 * tracing.  libsodium's randombytes_buf() is one getrandom(2) call per
 * draw here (its "sysrandom" source), about 1 µs on a virtual machine,
 * and nginx's $request_id is OpenSSL's RAND_bytes plus a getpid(2) for
 * its fork check, about 2 µs of nginx's CPU on each request.  Instead
 * each process draws one ChaCha20 key from the kernel and hands out its
 * keystream, a block of IDS_POOL bytes at a time:
 *
 * - unpredictable to clients (they never see the key);
 * - unique within the process (the nonce is a counter, never reused
 *   under one key);
 * - a forked child draws its own key before its first id (pthread_atfork),
 *   so no two workers ever hand out the same stream, whichever process
 *   drew first.
 *
 * The ids are not secrets and guard nothing: unpredictability keeps a
 * client from guessing another request's id in the logs, no more.
 */
#include "config.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "ids.h"

#define IDS_POOL 256

static unsigned char ids_key[crypto_stream_chacha20_ietf_KEYBYTES];
static uint64_t	     ids_counter;
static unsigned char ids_pool[IDS_POOL];
static size_t	     ids_left;
static bool	     ids_keyed;
static bool	     ids_atfork;

static void
ids_forget(void)
{
	/* In the child of a fork: the next draw takes a new key. */
	sodium_memzero(ids_key, sizeof(ids_key));
	sodium_memzero(ids_pool, sizeof(ids_pool));
	ids_left = 0;
	ids_counter = 0;
	ids_keyed = false;
}

/* A new block of keystream; false when there is no fork handler
 * (pthread_atfork failed, out of memory): a child could go on with this
 * stream, so the caller draws from the kernel instead. */
static bool
ids_refill(void)
{
	unsigned char nonce[crypto_stream_chacha20_ietf_NONCEBYTES] = { 0 };

	if (!ids_atfork)
		ids_atfork = pthread_atfork(NULL, NULL, ids_forget) == 0;
	if (!ids_atfork)
		return false;
	if (!ids_keyed) {
		randombytes_buf(ids_key, sizeof(ids_key));
		ids_counter = 0;
		ids_keyed = true;
	}
	ids_counter++;
	memcpy(nonce, &ids_counter, sizeof(ids_counter));
	/* Returns 0 always (the ietf variant only refuses lengths past its
	 * 256 GiB block counter), checked all the same. */
	if (crypto_stream_chacha20_ietf(ids_pool, sizeof(ids_pool), nonce,
		ids_key) != 0)
		randombytes_buf(ids_pool, sizeof(ids_pool));
	ids_left = sizeof(ids_pool);
	return true;
}

void
ids_fill(void *out, size_t n)
{
	unsigned char *p = out;

	while (n > 0) {
		size_t take;

		if (ids_left == 0 && !ids_refill()) {
			randombytes_buf(p, n);
			return;
		}
		take = n < ids_left ? n : ids_left;
		/* Handed out front to back: no byte is handed out twice. */
		memcpy(p, ids_pool + (sizeof(ids_pool) - ids_left), take);
		ids_left -= take;
		p += take;
		n -= take;
	}
}
