/*
 * scoreboard.c: the shared worker table.
 */
#include "config.h"

#include <sys/mman.h>

#include <stddef.h>

#include "scoreboard.h"

struct scoreboard *
scoreboard_create(size_t n)
{
	size_t			 sz;
	struct scoreboard	*sb;

	sz = sizeof(*sb) + n * sizeof(struct sb_slot);
	sb = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	    -1, 0);	/* cppcheck-suppress invalidFunctionArg */
	if (sb == MAP_FAILED)
		return NULL;
	/* Anonymous mappings start zeroed: every slot is SB_EMPTY. */
	sb->nslots = n;
	return sb;
}

const char *
sb_state_name(int state)
{
	static const char *const names[SB__MAX] = {
		[SB_EMPTY] = "empty",
		[SB_STARTING] = "starting",
		[SB_IDLE] = "idle",
		[SB_BUSY] = "busy",
		[SB_STOPPING] = "stopping",
	};

	return state >= 0 && state < SB__MAX ? names[state] : "?";
}
