/*
 * fcgi_proto.c: FastCGI records, as the 1996 specification lays them out.
 */
#include "config.h"

#include <string.h>

#include "fcgi_proto.h"

#define FCGI_CHUNK 65528 /* largest content that is a multiple of 8 */

long
fcgi_record_next(const uint8_t *buf, size_t len, struct fcgi_record *rec)
{
	size_t clen, plen, total;

	if (len < FCGI_HEADER_LEN)
		return 0;
	if (buf[0] != FCGI_VERSION_1)
		return -1;
	clen = ((size_t)buf[4] << 8) | buf[5];
	plen = buf[6];
	total = FCGI_HEADER_LEN + clen + plen;
	if (len < total)
		return 0;
	rec->type = buf[1];
	rec->id = (uint16_t)(((unsigned)buf[2] << 8) | buf[3]);
	rec->content = buf + FCGI_HEADER_LEN;
	rec->len = (uint16_t)clen;
	return (long)total;
}

/* One length: 1 byte below 128, else 4 bytes with the top bit set. */
static int
param_len(const uint8_t **p, size_t *left, size_t *out)
{
	const uint8_t *b = *p;

	if (*left < 1)
		return -1;
	if ((b[0] & 0x80) == 0) {
		*out = b[0];
		*p += 1;
		*left -= 1;
		return 0;
	}
	if (*left < 4)
		return -1;
	*out = ((size_t)(b[0] & 0x7f) << 24) | ((size_t)b[1] << 16) |
	    ((size_t)b[2] << 8) | b[3];
	*p += 4;
	*left -= 4;
	return 0;
}

int
fcgi_param_next(const uint8_t **p, size_t *left, const uint8_t **name,
    size_t *nlen, const uint8_t **val, size_t *vlen)
{
	if (*left == 0)
		return 0;
	if (param_len(p, left, nlen) == -1 || param_len(p, left, vlen) == -1)
		return -1;
	if (*nlen > *left || *vlen > *left - *nlen)
		return -1;
	*name = *p;
	*val = *p + *nlen;
	*p += *nlen + *vlen;
	*left -= *nlen + *vlen;
	return 1;
}

size_t
fcgi_param_size(size_t nlen, size_t vlen)
{
	return (nlen < 128 ? 1U : 4U) + (vlen < 128 ? 1U : 4U) + nlen + vlen;
}

static size_t
put_len(uint8_t *dst, size_t len)
{
	if (len < 128) {
		dst[0] = (uint8_t)len;
		return 1;
	}
	dst[0] = (uint8_t)(0x80 | ((len >> 24) & 0x7f));
	dst[1] = (uint8_t)(len >> 16);
	dst[2] = (uint8_t)(len >> 8);
	dst[3] = (uint8_t)len;
	return 4;
}

size_t
fcgi_param_put(uint8_t *dst, const char *name, size_t nlen, const char *val,
    size_t vlen)
{
	size_t off = put_len(dst, nlen);

	off += put_len(dst + off, vlen);
	memcpy(dst + off, name, nlen);
	memcpy(dst + off + nlen, val, vlen);
	return off + nlen + vlen;
}

size_t
fcgi_header(uint8_t *dst, uint8_t type, uint16_t id, uint16_t clen,
    uint8_t padlen)
{
	dst[0] = FCGI_VERSION_1;
	dst[1] = type;
	dst[2] = (uint8_t)(id >> 8);
	dst[3] = (uint8_t)(id & 0xff);
	dst[4] = (uint8_t)(clen >> 8);
	dst[5] = (uint8_t)(clen & 0xff);
	dst[6] = padlen;
	dst[7] = 0;
	return FCGI_HEADER_LEN;
}

size_t
fcgi_stream_size(size_t len)
{
	size_t full = len / FCGI_CHUNK, rest = len % FCGI_CHUNK;
	size_t n = full * (FCGI_HEADER_LEN + FCGI_CHUNK);

	if (rest > 0)
		n += FCGI_HEADER_LEN + ((rest + 7) & ~(size_t)7);
	return n;
}

size_t
fcgi_stream(uint8_t *dst, uint8_t type, uint16_t id, const void *data,
    size_t len)
{
	const uint8_t *src = data;
	size_t	       off = 0;

	while (len > 0) {
		size_t	n = len > FCGI_CHUNK ? FCGI_CHUNK : len;
		uint8_t pad = (uint8_t)((8 - (n & 7)) & 7);

		off += fcgi_header(dst + off, type, id, (uint16_t)n, pad);
		memcpy(dst + off, src, n);
		off += n;
		memset(dst + off, 0, pad);
		off += pad;
		src += n;
		len -= n;
	}
	return off;
}

size_t
fcgi_end_request(uint8_t *dst, uint16_t id, uint32_t app_status,
    uint8_t proto_status)
{
	size_t off = fcgi_header(dst, FCGI_T_END_REQUEST, id, 8, 0);

	dst[off++] = (uint8_t)(app_status >> 24);
	dst[off++] = (uint8_t)(app_status >> 16);
	dst[off++] = (uint8_t)(app_status >> 8);
	dst[off++] = (uint8_t)app_status;
	dst[off++] = proto_status;
	memset(dst + off, 0, 3);
	return off + 3;
}
