/*
 * ev_slab.c: objects of one size on pages of their own (ev_slab.h).
 *
 * A slab is one anonymous mapping: this header, then EV_SLAB_OBJECTS
 * slots, each the slab's address followed by an object.  Slots are
 * handed out in order the first time (pages are touched only as they
 * are used), then from a list of freed ones threaded through the
 * objects' own space.  The slabs with a free slot are kept before the
 * full ones, so an allocation looks only at the first.
 */
#include "config.h"

#include <sys/mman.h>

#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ev_slab.h"

#define EV_SLAB_OBJECTS 32

struct ev_slab {
	struct ev_slab *next, *prev;
	/* (cppcheck: used where slabs are built, not under AddressSanitizer) */
	/* cppcheck-suppress unusedStructMember */
	size_t		used;  /* objects handed out */
	/* cppcheck-suppress unusedStructMember */
	size_t		fresh; /* slots never handed out: from the end */
	/* cppcheck-suppress unusedStructMember */
	void	       *freed; /* freed objects, each holding the next */
	size_t		bytes; /* of the mapping */
};

static void
unlink_slab(struct ev_slabs *s, struct ev_slab *b)
{
	if (b->prev != NULL)
		b->prev->next = b->next;
	else
		s->head = b->next;
	if (b->next != NULL)
		b->next->prev = b->prev;
	b->next = b->prev = NULL;
}

#ifndef EV_SLAB_MALLOC /* under AddressSanitizer: calloc and free */
static size_t
round_up(size_t n, size_t to)
{
	return (n + to - 1) / to * to;
}

/* What precedes each object: its slab's address, padded to keep the
 * object aligned. */
static size_t
slot_pad(void)
{
	return round_up(sizeof(void *), alignof(max_align_t));
}

static size_t
slot_size(size_t size)
{
	return slot_pad() + round_up(size, alignof(max_align_t));
}

static size_t
head_size(void)
{
	return round_up(sizeof(struct ev_slab), alignof(max_align_t));
}

static void
push_front(struct ev_slabs *s, struct ev_slab *b)
{
	b->prev = NULL;
	b->next = s->head;
	if (s->head != NULL)
		s->head->prev = b;
	s->head = b;
}

/* Full slabs go last (found by walking: they are moved once per filling,
 * and a worker has at most a few dozen slabs). */
static void
push_back(struct ev_slabs *s, struct ev_slab *b)
{
	struct ev_slab *t = s->head;

	if (t == NULL) {
		push_front(s, b);
		return;
	}
	while (t->next != NULL)
		t = t->next;
	t->next = b;
	b->prev = t;
	b->next = NULL;
}

static size_t
page_size(void)
{
	long page = sysconf(_SC_PAGESIZE);

	return page > 0 ? (size_t)page : 4096;
}

static struct ev_slab *
slab_new(struct ev_slabs *s)
{
	size_t page = page_size();
	size_t bytes = head_size() + EV_SLAB_OBJECTS * slot_size(s->size);
	int prot = PROT_READ | PROT_WRITE, flags = MAP_PRIVATE | MAP_ANONYMOUS;
	void *m;

	bytes = round_up(bytes, page);
	/* cppcheck-suppress invalidFunctionArg ; fd -1: anonymous */
	m = mmap(NULL, bytes, prot, flags, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	struct ev_slab *b = m; /* zero-filled by the kernel */
	b->fresh = EV_SLAB_OBJECTS;
	b->bytes = bytes;
	s->nslabs++;
	push_front(s, b);
	return b;
}

#endif

void *
ev_slab_alloc(struct ev_slabs *s, size_t size)
{
#ifdef EV_SLAB_MALLOC
	(void)s;
	return calloc(1, size);
#else
	struct ev_slab *b;
	unsigned char  *slot;
	void	       *obj;

	if (s->size == 0)
		s->size = size;
	if (size != s->size)
		return NULL;
	b = s->head;
	if (b == NULL || (b->freed == NULL && b->fresh == 0))
		b = slab_new(s);
	if (b == NULL)
		return NULL;
	if (b->freed != NULL) {
		obj = b->freed;
		memcpy(&b->freed, obj, sizeof(b->freed));
	} else {
		size_t i = EV_SLAB_OBJECTS - b->fresh--;

		slot =
		    (unsigned char *)b + head_size() + i * slot_size(s->size);
		/* NOLINTNEXTLINE(bugprone-sizeof-expression): the address */
		memcpy(slot, &b, sizeof(b));
		obj = slot + slot_pad();
	}
	memset(obj, 0, s->size);
	if (b == s->spare)
		s->spare = NULL;
	b->used++;
	s->nobjects++;
	if (b->freed == NULL && b->fresh == 0) {
		unlink_slab(s, b);
		push_back(s, b);
	}
	return obj;
#endif
}

void
ev_slab_free(struct ev_slabs *s, void *obj)
{
#ifdef EV_SLAB_MALLOC
	(void)s;
	free(obj);
#else
	struct ev_slab *b;

	if (obj == NULL)
		return;
	/* NOLINTNEXTLINE(bugprone-sizeof-expression): the address */
	memcpy(&b, (unsigned char *)obj - slot_pad(), sizeof(b));
	if (b->freed == NULL && b->fresh == 0) { /* was full */
		unlink_slab(s, b);
		push_front(s, b);
	}
	memcpy(obj, &b->freed, sizeof(b->freed));
	b->freed = obj;
	b->used--;
	s->nobjects--;
	if (b->used > 0)
		return;
	/*
	 * Empty: kept as the spare if there is none (a lone connection
	 * that comes and goes maps nothing), else unmapped.  A spare
	 * emptied by a burst's end (other slabs still mapped) gives its
	 * pages back too and starts afresh; a lone slab keeps them, or
	 * every close of a worker's only connection would cost a madvise
	 * and the next accept page faults.
	 */
	if (s->spare == NULL) {
		size_t page = page_size();

		s->spare = b;
		/* From the first page after the header's (the slots are
		 * zeroed when handed out, not by the kernel). */
		if (s->nslabs > 1 && b->bytes > page &&
		    madvise((unsigned char *)b + page, b->bytes - page,
			MADV_DONTNEED) == 0) {
			b->freed = NULL;
			b->fresh = EV_SLAB_OBJECTS;
		}
		return;
	}
	unlink_slab(s, b);
	s->nslabs--;
	(void)munmap(b, b->bytes);
#endif
}

void
ev_slab_release(struct ev_slabs *s)
{
	while (s->head != NULL) {
		struct ev_slab *b = s->head;

		unlink_slab(s, b);
		(void)munmap(b, b->bytes);
	}
	memset(s, 0, sizeof(*s));
}
