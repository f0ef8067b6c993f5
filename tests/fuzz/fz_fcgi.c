/*
 * fz_fcgi.c: FastCGI records and name-value pairs on any bytes, as the
 * event worker reads them from a connection.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>

#include "fcgi_proto.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t			 off = 0;
	struct fcgi_record	 rec;
	long			 n;

	while ((n = fcgi_record_next(data + off, size - off, &rec)) > 0) {
		if ((size_t)n > size - off ||
		    rec.content + rec.len > data + size)
			abort();
		if (rec.type == FCGI_T_PARAMS) {
			const uint8_t	*p = rec.content, *k, *v;
			size_t		 left = rec.len, kl, vl;

			while (fcgi_param_next(&p, &left, &k, &kl, &v, &vl) == 1)
				if (k + kl > rec.content + rec.len ||
				    v + vl > rec.content + rec.len)
					abort();
		}
		off += (size_t)n;
	}
	return 0;
}
