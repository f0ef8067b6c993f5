/*
 * metrics.h: the pool's counters (counters.h) and workers (scoreboard.h)
 * in their two renderings: Prometheus text (/metrics) and the
 * php-fpm-like pool status (/status, JSON).  A reader sums the retired
 * block and every slot's; the master's fold runs under a sequence
 * counter the reader retries on.
 */
#ifndef TASKAPI_METRICS_H
#define TASKAPI_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct scoreboard;

/*
 * Renders the pool's metrics / status into a malloc'd NUL-terminated
 * buffer (*len bytes without the NUL).  NULL on allocation failure.
 * now_mono_us is util_mono_us(), now_wall the epoch seconds.
 */
char	*metrics_render_prometheus(struct scoreboard *, size_t *len);
char	*metrics_render_status(struct scoreboard *, int64_t now_mono_us,
	    int64_t now_wall, size_t *len);

#endif /* TASKAPI_METRICS_H */
