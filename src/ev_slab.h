/*
 * ev_slab.h: objects of one size (the event worker's connections) kept
 * on pages of their own, apart from malloc's heap.
 *
 * Why.  A connection's struct (about 6 KiB) and its buffers (about 10
 * KiB after a request) are allocated together; on malloc's heap they
 * interleave.  After a burst, a front end may keep hundreds of
 * connections open and idle: their buffers are freed (ev_conn_trim),
 * but the free space lies in gaps between the structs, and malloc_trim
 * gives back only the whole pages inside each gap (about 40% of a
 * burst's memory, measured with 400 kept connections).  With the
 * structs here the buffers' space is contiguous and goes back whole;
 * a slab whose objects are all freed is unmapped (one kept in reserve).
 *
 * A build with AddressSanitizer takes the objects from malloc instead,
 * so that it still sees overruns and uses after free.
 */
#ifndef TASKAPI_EV_SLAB_H
#define TASKAPI_EV_SLAB_H

#include <stddef.h>

/* Defined when the objects come from malloc (AddressSanitizer). */
#if defined(__SANITIZE_ADDRESS__)
#define EV_SLAB_MALLOC 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EV_SLAB_MALLOC 1
#endif
#endif

struct ev_slab;

/* A zeroed struct ev_slabs is empty; size is set by the first alloc. */
struct ev_slabs {
	size_t		size;	  /* bytes of an object */
	struct ev_slab *head;	  /* slabs with a free slot come first */
	size_t		nslabs;	  /* mapped */
	size_t		nobjects; /* allocated, not freed */
	struct ev_slab *spare;	  /* an empty slab kept mapped, or NULL */
};

/* A zeroed object of `size` bytes (the same at every call), or NULL. */
void *
ev_slab_alloc(struct ev_slabs *, size_t size);

/* Gives back an object of ev_slab_alloc (NULL: nothing). */
void
ev_slab_free(struct ev_slabs *, void *);

/* Unmaps every slab; every object must have been freed. */
void
ev_slab_release(struct ev_slabs *);

#endif /* TASKAPI_EV_SLAB_H */
