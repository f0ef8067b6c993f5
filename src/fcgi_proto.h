/*
 * fcgi_proto.h: the FastCGI wire format (records and name-value
 * pairs), for the event-driven worker (ev_conn.c).  Pure functions over buffers:
 * every length is checked against what is there before it is used, and
 * they are fuzzed (tests/fuzz).
 */
#ifndef TASKAPI_FCGI_PROTO_H
#define TASKAPI_FCGI_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define FCGI_HEADER_LEN	 8
#define FCGI_VERSION_1	 1
#define FCGI_MAX_CONTENT 65535

enum fcgi_type {
	FCGI_T_BEGIN_REQUEST = 1,
	FCGI_T_ABORT_REQUEST = 2,
	FCGI_T_END_REQUEST = 3,
	FCGI_T_PARAMS = 4,
	FCGI_T_STDIN = 5,
	FCGI_T_STDOUT = 6,
	FCGI_T_STDERR = 7,
	FCGI_T_DATA = 8,
	FCGI_T_GET_VALUES = 9,
	FCGI_T_GET_VALUES_RESULT = 10,
	FCGI_T_UNKNOWN_TYPE = 11
};

#define FCGI_ROLE_RESPONDER 1
#define FCGI_FLAG_KEEP_CONN 1

enum fcgi_proto_status {
	FCGI_PS_REQUEST_COMPLETE = 0,
	FCGI_PS_CANT_MPX_CONN = 1,
	FCGI_PS_OVERLOADED = 2,
	FCGI_PS_UNKNOWN_ROLE = 3
};

struct fcgi_record {
	uint8_t	       type;
	uint16_t       id;
	const uint8_t *content;
	uint16_t       len;
};

/*
 * Takes the next whole record from buf (len bytes).  Returns the bytes
 * it spans (header, content and padding) with rec filled, 0 when buf
 * holds no whole record yet, or -1 when the header is not FastCGI
 * version 1 (the connection must be dropped).
 */
long
fcgi_record_next(const uint8_t *buf, size_t len, struct fcgi_record *rec);

/*
 * Takes the next name-value pair from the PARAMS stream at *p (*left
 * bytes), advancing both.  Returns 1 with the pair set, 0 at the end of
 * the stream, -1 when a length runs past the end.
 */
int
fcgi_param_next(const uint8_t **p, size_t *left, const uint8_t **name,
    size_t *nlen, const uint8_t **val, size_t *vlen);

/* Bytes fcgi_param_put() writes for a pair of these lengths. */
size_t
fcgi_param_size(size_t nlen, size_t vlen);

/* Writes one name-value pair at dst; returns the bytes written. */
size_t
fcgi_param_put(uint8_t *dst, const char *name, size_t nlen, const char *val,
    size_t vlen);

/* Writes a record header; returns FCGI_HEADER_LEN. */
size_t
fcgi_header(uint8_t *dst, uint8_t type, uint16_t id, uint16_t clen,
    uint8_t padlen);

/*
 * Bytes fcgi_stream() needs for len bytes of content (records of at
 * most 65528 bytes, padded to 8).
 */
size_t
fcgi_stream_size(size_t len);

/*
 * Writes len bytes of data as records of the given type into dst
 * (fcgi_stream_size(len) bytes).  Returns the bytes written.  len 0
 * writes nothing; the empty record that ends a stream is written with
 * fcgi_header().
 */
size_t
fcgi_stream(uint8_t *dst, uint8_t type, uint16_t id, const void *data,
    size_t len);

/* Writes an END_REQUEST record (16 bytes). */
size_t
fcgi_end_request(uint8_t *dst, uint16_t id, uint32_t app_status,
    uint8_t proto_status);

#endif /* TASKAPI_FCGI_PROTO_H */
