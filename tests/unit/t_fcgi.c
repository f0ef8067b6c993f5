/*
 * t_fcgi.c: the FastCGI wire format: records, name-value pairs, and
 * what the event worker writes back (records, END_REQUEST, the pairs
 * of GET_VALUES_RESULT).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fcgi_proto.h"

static void
test_record_whole_and_partial(void **state)
{
	uint8_t		   buf[64];
	struct fcgi_record rec;
	size_t		   n;

	(void)state;
	n = fcgi_header(buf, FCGI_T_STDIN, 0x1234, 5, 3);
	memcpy(buf + n, "hello\0\0\0", 8);
	/* Every prefix is "not yet". */
	for (size_t i = 0; i < 16; i++)
		assert_int_equal(fcgi_record_next(buf, i, &rec), 0);
	assert_int_equal(fcgi_record_next(buf, 16, &rec), 16);
	assert_int_equal(rec.type, FCGI_T_STDIN);
	assert_int_equal(rec.id, 0x1234);
	assert_int_equal(rec.len, 5);
	assert_memory_equal(rec.content, "hello", 5);
	/* Two records back to back: the first one only. */
	memcpy(buf + 16, buf, 16);
	assert_int_equal(fcgi_record_next(buf, 32, &rec), 16);
}

static void
test_record_bad_version(void **state)
{
	uint8_t		   buf[8] = { 2, 1, 0, 1, 0, 0, 0, 0 };
	struct fcgi_record rec;

	(void)state;
	assert_int_equal(fcgi_record_next(buf, 8, &rec), -1);
	memcpy(buf, "GET / HT", 8); /* HTTP on the FastCGI socket */
	assert_int_equal(fcgi_record_next(buf, 8, &rec), -1);
}

static void
test_record_max_length(void **state)
{
	size_t		   len = FCGI_HEADER_LEN + 65535 + 255;
	uint8_t		  *buf = calloc(1, len);
	struct fcgi_record rec;

	(void)state;
	assert_non_null(buf);
	fcgi_header(buf, FCGI_T_PARAMS, 1, 65535, 255);
	assert_int_equal(fcgi_record_next(buf, len - 1, &rec), 0);
	assert_int_equal(fcgi_record_next(buf, len, &rec), (long)len);
	assert_int_equal(rec.len, 65535);
	free(buf);
}

static void
test_params(void **state)
{
	uint8_t	       buf[600];
	const uint8_t *p = buf, *name, *val;
	size_t	       left, nlen, vlen, off = 0;

	(void)state;
	/* Short form: 14 "REQUEST_METHOD", 3 "GET". */
	buf[off++] = 14;
	buf[off++] = 3;
	memcpy(buf + off, "REQUEST_METHODGET", 17);
	off += 17;
	/* Long value: 4-byte length 300. */
	buf[off++] = 1;
	buf[off++] = 0x80;
	buf[off++] = 0;
	buf[off++] = 0x01;
	buf[off++] = 0x2c;
	buf[off++] = 'X';
	memset(buf + off, 'v', 300);
	off += 300;
	left = off;
	assert_int_equal(fcgi_param_next(&p, &left, &name, &nlen, &val, &vlen),
	    1);
	assert_int_equal(nlen, 14);
	assert_memory_equal(name, "REQUEST_METHOD", 14);
	assert_int_equal(vlen, 3);
	assert_memory_equal(val, "GET", 3);
	assert_int_equal(fcgi_param_next(&p, &left, &name, &nlen, &val, &vlen),
	    1);
	assert_int_equal(nlen, 1);
	assert_int_equal(vlen, 300);
	assert_int_equal(val[299], 'v');
	assert_int_equal(fcgi_param_next(&p, &left, &name, &nlen, &val, &vlen),
	    0);
}

static void
test_params_truncated(void **state)
{
	/* Each one claims more bytes than it has. */
	static const uint8_t bad[][8] = {
		{ 5, 1, 'a', 'b' },	       /* name runs past the end */
		{ 1, 9, 'a', 'b' },	       /* value runs past the end */
		{ 0x80, 0, 0 },		       /* 4-byte length cut short */
		{ 1, 0xff, 0xff, 0xff, 0xff }, /* 2^31-1 bytes of value */
	};
	static const size_t lens[] = { 4, 4, 3, 5 };

	(void)state;
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		const uint8_t *p = bad[i], *n, *v;
		size_t	       left = lens[i], nl, vl;

		if (fcgi_param_next(&p, &left, &n, &nl, &v, &vl) != -1)
			fail_msg("truncated pair %zu accepted", i);
	}
}

static void
test_stream_roundtrip(void **state)
{
	size_t sizes[] = { 1, 7, 8, 65528, 65529, 200000 };

	(void)state;
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		size_t		   len = sizes[s], off = 0, got = 0;
		uint8_t		  *data = malloc(len);
		uint8_t		  *out = malloc(fcgi_stream_size(len));
		size_t		   n;
		struct fcgi_record rec;
		long		   r;

		assert_non_null(data);
		assert_non_null(out);
		for (size_t i = 0; i < len; i++)
			data[i] = (uint8_t)(i * 31);
		n = fcgi_stream(out, FCGI_T_STDOUT, 7, data, len);
		assert_int_equal(n, fcgi_stream_size(len));
		assert_int_equal(n % 8, 0);
		while ((r = fcgi_record_next(out + off, n - off, &rec)) > 0) {
			assert_int_equal(rec.type, FCGI_T_STDOUT);
			assert_int_equal(rec.id, 7);
			assert_memory_equal(rec.content, data + got, rec.len);
			got += rec.len;
			off += (size_t)r;
		}
		assert_int_equal(off, n);
		assert_int_equal(got, len);
		free(data);
		free(out);
	}
	assert_int_equal(fcgi_stream_size(0), 0);
}

static void
test_end_request(void **state)
{
	uint8_t		   buf[16];
	struct fcgi_record rec;

	(void)state;
	assert_int_equal(fcgi_end_request(buf, 1, 0x01020304,
			     FCGI_PS_CANT_MPX_CONN),
	    16);
	assert_int_equal(fcgi_record_next(buf, 16, &rec), 16);
	assert_int_equal(rec.type, FCGI_T_END_REQUEST);
	assert_int_equal(rec.len, 8);
	assert_int_equal(rec.content[0], 1);
	assert_int_equal(rec.content[3], 4);
	assert_int_equal(rec.content[4], FCGI_PS_CANT_MPX_CONN);
}

/* What GET_VALUES_RESULT is made of: pairs written, then read back,
 * with 1-byte and 4-byte lengths. */
static void
test_param_put_roundtrip(void **state)
{
	static char    longval[300];
	uint8_t	       buf[512];
	size_t	       n;
	const uint8_t *p = buf, *name, *val;
	size_t	       left, nlen, vlen;

	(void)state;
	memset(longval, 'v', sizeof(longval) - 1);
	assert_int_equal(fcgi_param_size(15, 1), 2 + 15 + 1);
	assert_int_equal(fcgi_param_size(5, 299), 1 + 4 + 5 + 299);
	n = fcgi_param_put(buf, "FCGI_MPXS_CONNS", 15, "0", 1);
	assert_int_equal(n, fcgi_param_size(15, 1));
	n += fcgi_param_put(buf + n, "LONGV", 5, longval, 299);
	left = n;
	assert_int_equal(fcgi_param_next(&p, &left, &name, &nlen, &val, &vlen),
	    1);
	assert_int_equal(nlen, 15);
	assert_memory_equal(name, "FCGI_MPXS_CONNS", 15);
	assert_int_equal(vlen, 1);
	assert_int_equal(val[0], '0');
	assert_int_equal(fcgi_param_next(&p, &left, &name, &nlen, &val, &vlen),
	    1);
	assert_int_equal(vlen, 299);
	assert_memory_equal(val, longval, 299);
	assert_int_equal(fcgi_param_next(&p, &left, &name, &nlen, &val, &vlen),
	    0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_whole_and_partial),
		cmocka_unit_test(test_record_bad_version),
		cmocka_unit_test(test_record_max_length),
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_params_truncated),
		cmocka_unit_test(test_stream_roundtrip),
		cmocka_unit_test(test_end_request),
		cmocka_unit_test(test_param_put_roundtrip),
	};

	return cmocka_run_group_tests_name("fcgi", tests, NULL, NULL);
}
