/*
 * ids.h: random bytes for request, trace and span ids, without a system
 * call per id.
 */
#ifndef TASKAPI_IDS_H
#define TASKAPI_IDS_H

#include <stddef.h>

/*
 * Fills out with n unpredictable bytes from this
 * process's keystream.  Never fails: if the kernel's random source is
 * unusable at the first call, libsodium aborts the process, as it does
 * for every other random draw.
 */
void
ids_fill(void *out, size_t n);

#endif
