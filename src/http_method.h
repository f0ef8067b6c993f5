/*
 * http_method.h: the request methods the API tells apart, as bits of an
 * Allow mask too (router.h).  Apart from request.h so that the router,
 * which request.h includes for its match, needs no request.
 */
#ifndef TASKAPI_HTTP_METHOD_H
#define TASKAPI_HTTP_METHOD_H

enum http_method {
	METHOD_GET = 0,
	METHOD_POST,
	METHOD_PATCH,
	METHOD_DELETE,
	METHOD_PUT,
	METHOD_HEAD,
	METHOD_OPTIONS,
	METHOD_OTHER,
	METHOD__MAX
};

#endif /* TASKAPI_HTTP_METHOD_H */
