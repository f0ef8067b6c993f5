/*
 * pool_policy.c: the master's decisions over one count of its slots.
 */
#include "config.h"

#include <string.h>

#include "pool_policy.h"

static bool
valid_kind(int kind)
{
	return kind >= 0 && kind < SB_KIND__MAX;
}

void
pool_count_add(struct pool_count *c, size_t i, const struct pool_worker *w)
{
	struct pool_kind_count *k;

	if (i >= SB_SLOTS_MAX)
		return;
	c->w[i] = *w;
	if (i + 1 > c->n)
		c->n = i + 1;
	if (!w->live || !valid_kind(w->kind))
		return;
	k = &c->k[w->kind];
	k->live++;
	if (w->state == SB_IDLE || w->state == SB_STARTING)
		k->ready++;
	if (w->state == SB_IDLE || w->state == SB_BUSY)
		k->serving++;
	if (w->retiring) {
		k->retiring++;
		return;
	}
	if (w->state == SB_BUSY || w->state == SB_READING)
		k->busy++;
	if (w->current) {
		k->cur++;
		k->starting += w->state == SB_STARTING;
	} else
		k->old++;
}

void
pool_count_spawned(struct pool_count *c, size_t i, int kind)
{
	struct pool_worker w = { .live = true,
		.kind = kind,
		.current = true,
		.state = SB_STARTING };

	if (i < c->n && c->w[i].live)
		return; /* counted already: not a new worker */
	pool_count_add(c, i, &w);
}

void
pool_count_retired(struct pool_count *c, size_t i)
{
	struct pool_worker     *w;
	struct pool_kind_count *k;

	if (i >= c->n || !c->w[i].live || c->w[i].retiring ||
	    !valid_kind(c->w[i].kind))
		return;
	w = &c->w[i];
	k = &c->k[w->kind];
	w->retiring = true;
	k->retiring++;
	if (w->state == SB_BUSY || w->state == SB_READING)
		k->busy--;
	if (w->current) {
		k->cur--;
		k->starting -= w->state == SB_STARTING;
	} else
		k->old--;
}

bool
brake_note_crash(struct brake *b, int64_t now)
{
	int64_t oldest;

	b->crashes[b->crash_next] = now;
	b->crash_next = (b->crash_next + 1) % CRASH_LIMIT;
	oldest = b->crashes[b->crash_next];
	if (oldest == 0 || now - oldest >= CRASH_WINDOW_US)
		return false;
	b->backoff_us = b->backoff_us == 0 ? BACKOFF_MIN_US : b->backoff_us * 2;
	if (b->backoff_us > BACKOFF_MAX_US)
		b->backoff_us = BACKOFF_MAX_US;
	b->spawn_at = now + b->backoff_us;
	return true;
}

void
brake_forget(struct brake *b, int64_t now)
{
	if (b->backoff_us > 0 && now > b->spawn_at + CRASH_WINDOW_US)
		b->backoff_us = 0;
}

bool
brake_holds(const struct brake *b, int64_t now)
{
	return now < b->spawn_at;
}

size_t
pool_fcgi_wanted(const struct pool_count *c, const struct pool_settings *s,
    bool holds)
{
	size_t busy = c->k[SB_KIND_FCGI].busy, want;

	if (s->fcgi_spare >= s->fcgi_max)
		want = s->fcgi_max;
	else
		want = busy + s->fcgi_spare < s->fcgi_max ?
		    busy + s->fcgi_spare :
		    s->fcgi_max;
	return want == 0 && holds ? 1 : want;
}

int64_t
pool_fcgi_idle_min(const struct pool_count *c, const struct pool_settings *s)
{
	/* Beyond TASKAPI_WORKERS (after a reload): stop the extra now. */
	return c->k[SB_KIND_FCGI].cur > s->fcgi_max ? 0 : s->idle_timeout_us;
}

void
pool_plan_kind(const struct pool_count *c, int kind, size_t want,
    struct brake *b, int64_t now, struct pool_plan *p)
{
	size_t cur, old, retiring, starting;

	memset(p, 0, sizeof(*p));
	if (!valid_kind(kind))
		return;
	cur = c->k[kind].cur;
	old = c->k[kind].old;
	retiring = c->k[kind].retiring;
	starting = c->k[kind].starting;
	/* The brake holds: still one worker of the kind, never none. */
	if (brake_holds(b, now) && cur + old == 0 && want > 0) {
		if (now - b->kept_at >= KEPT_RESPAWN_US) {
			b->kept_at = now;
			p->spawn = 1;
			p->kept = true;
		}
		return;
	}
	while (cur + old < want && !brake_holds(b, now)) {
		p->spawn++;
		cur++;
		starting++;
		/* Recovering from crashes: one at a time, backoff apart. */
		if (b->backoff_us > 0) {
			b->spawn_at = now + b->backoff_us;
			break;
		}
	}
	if (old > 0 && retiring == 0 && starting == 0) {
		if (cur + old <= want && !brake_holds(b, now))
			p->spawn++; /* retire an old one once this one accepts */
		else
			p->retire_old = true;
	} else if (old == 0 && cur > want && retiring == 0)
		p->stop_surplus = true;
}

size_t
pool_surplus(const struct pool_count *c, int kind, int64_t now,
    int64_t idle_min_us)
{
	size_t	best = c->n, any = c->n;
	int64_t best_since = 0;

	for (size_t i = 0; i < c->n; i++) {
		const struct pool_worker *w = &c->w[i];

		if (!w->live || w->kind != kind || w->retiring)
			continue;
		if (any == c->n)
			any = i;
		if (w->state != SB_IDLE || w->idle_since == 0 ||
		    now - w->idle_since < idle_min_us)
			continue;
		if (best == c->n || w->idle_since < best_since) {
			best = i;
			best_since = w->idle_since;
		}
	}
	return best < c->n || idle_min_us > 0 ? best : any;
}

bool
pool_ondemand_watch(const struct pool_count *c, const struct pool_settings *s,
    bool holds)
{
	const struct pool_kind_count *k = &c->k[SB_KIND_FCGI];

	if (s->fcgi_spare != 0 || holds)
		return false;
	return k->live - k->retiring < s->fcgi_max && k->ready == 0;
}
