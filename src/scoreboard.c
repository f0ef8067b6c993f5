/*
 * scoreboard.c: the shared worker table.
 */
#include "config.h"

#include <sys/mman.h>

#include <stddef.h>
#include <string.h>
#include <time.h>

#include "counters.h"
#include "scoreboard.h"
#include "util.h"

struct scoreboard *scoreboard;
struct sb_slot	  *scoreboard_self;

struct scoreboard *
scoreboard_create(size_t n)
{
	size_t		   sz;
	struct scoreboard *sb;

	sz = sizeof(*sb) + n * sizeof(struct sb_slot);
	sb = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	    -1, 0); /* cppcheck-suppress invalidFunctionArg */
	if (sb == MAP_FAILED)
		return NULL;
	/* Anonymous mappings start zeroed: every slot is SB_EMPTY. */
	sb->nslots = n;
	sb->started_wall = (int64_t)time(NULL);
	sb->started_mono_us = util_mono_us();
	scoreboard = sb;
	return sb;
}

void
scoreboard_retire(struct scoreboard *sb, size_t i, int kind, enum sb_exit why,
    int count_exit)
{
	struct sb_slot *s = &sb->slots[i];

	/* Readers retry while the sequence is odd or has moved. */
	atomic_fetch_add(&sb->fold_seq, 1u);
	metrics_fold(&sb->retired, &s->met);
	atomic_fetch_add(&sb->fold_seq, 1u);
	if (count_exit && kind >= 0 && kind < SB_KIND__MAX)
		atomic_fetch_add(&sb->exits[kind][why], 1ULL);
	atomic_store(&s->pid, 0);
	atomic_store(&s->inflight, 0);
	atomic_store(&s->conns, 0);
	atomic_store(&s->export_key, 0ULL);
	atomic_store(&s->progress_us, 0LL);
	atomic_store(&s->requests, 0ULL);
	atomic_store(&s->state, SB_EMPTY);
}

/* FNV-1a over the user id; never 0 (0 marks "no export"). */
static unsigned long long
export_key(const char *user_id)
{
	unsigned long long h = 0xcbf29ce484222325ULL;

	for (; *user_id != '\0'; user_id++) {
		h ^= (unsigned char)*user_id;
		h *= 0x100000001b3ULL;
	}
	return h | 1ULL;
}

bool
scoreboard_export_begin(struct scoreboard *sb, struct sb_slot *self,
    const char *user_id, unsigned max)
{
	unsigned long long key = export_key(user_id);
	unsigned	   n = 0;
	size_t		   used;

	if (sb == NULL || self == NULL)
		return true;
	/* Marked first, counted after: of two racing, each sees the other. */
	atomic_store(&self->export_key, key);
	used = scoreboard_used(sb);
	for (size_t i = 0; i < used; i++)
		if (atomic_load(&sb->slots[i].pid) != 0 &&
		    atomic_load(&sb->slots[i].export_key) == key)
			n++;
	if (n > max) {
		atomic_store(&self->export_key, 0ULL);
		return false;
	}
	return true;
}

void
scoreboard_export_end(struct sb_slot *self)
{
	if (self != NULL)
		atomic_store(&self->export_key, 0ULL);
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
		[SB_READING] = "reading",
	};

	return state >= 0 && state < SB__MAX ? names[state] : "?";
}

size_t
scoreboard_used(const struct scoreboard *sb)
{
	size_t n = atomic_load(&sb->used);

	return n < sb->nslots ? n : sb->nslots;
}

size_t
scoreboard_fcgi_ready(const struct scoreboard *sb)
{
	size_t n = 0, used = scoreboard_used(sb);

	for (size_t i = 0; i < used; i++) {
		const struct sb_slot *s = &sb->slots[i];
		int		      st;

		if (atomic_load(&s->pid) == 0 ||
		    atomic_load(&s->kind) != SB_KIND_FCGI)
			continue;
		st = atomic_load(&s->state);
		n += st == SB_IDLE || st == SB_STARTING;
	}
	return n;
}

void
scoreboard_ev_conns(const struct scoreboard *sb, size_t *workers, size_t *conns)
{
	size_t used = scoreboard_used(sb);

	*workers = *conns = 0;
	for (size_t i = 0; i < used; i++) {
		const struct sb_slot *s = &sb->slots[i];
		int		      st, n;

		if (atomic_load(&s->pid) == 0 ||
		    atomic_load(&s->kind) != SB_KIND_EV)
			continue;
		st = atomic_load(&s->state);
		if (st != SB_IDLE && st != SB_BUSY)
			continue; /* not accepting yet, or any more */
		n = atomic_load_explicit(&s->conns, memory_order_relaxed);
		*workers += 1;
		*conns += n > 0 ? (size_t)n : 0;
	}
}

const char *
sb_kind_name(int kind)
{
	return kind == SB_KIND_EV ? "event" : "fastcgi";
}

const char *
sb_exit_name(int why)
{
	static const char *const names[SB_EXIT__MAX] = {
		[SB_EXIT_CRASH] = "crash",
		[SB_EXIT_RECYCLED] = "max_requests",
		[SB_EXIT_STUCK] = "stuck",
		[SB_EXIT_RELOAD] = "reload",
		[SB_EXIT_IDLE] = "idle",
	};

	return why >= 0 && why < SB_EXIT__MAX ? names[why] : "?";
}
