/*
 * fz_query.c: the query-string parser and the router on any bytes.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"
#include "request.h"
#include "router.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct query	 q;
	struct route_match	 m;
	char			 buf[8192];
	int			 count;

	if (size >= sizeof(buf))
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	if (query_parse(buf, &q) == 0) {
		for (size_t i = 0; i < q.n; i++) {
			if (query_get(&q, q.params[i].key, &count) == NULL ||
			    count < 1)
				abort();
		}
	}
	for (int method = 0; method < METHOD__MAX; method++) {
		enum router_result rr = router_match(method, buf, size, &m);
		if (rr == ROUTER_OK && m.endpoint >= EP__MAX)
			abort();
	}
	return 0;
}
