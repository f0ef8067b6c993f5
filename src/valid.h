/*
 * valid.h: request bodies.  A body is parsed once, strictly (UTF-8
 * checked, depth limited, nothing after the value), then each handler
 * runs a table of field rules over it, as kcgi does with its kvalid
 * arrays.  Handlers read only struct vvalue results, never raw JSON.
 */
#ifndef TASKAPI_VALID_H
#define TASKAPI_VALID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "terr.h"

struct json_object;

enum vkind {
	VK_TEXT = 0,	/* a string, length in code points within min..max */
	VK_EMAIL,	/* one '@' with text both sides, no space/control */
	VK_ENUM,	/* one of enumvals */
	VK_TIMESTAMP	/* RFC 3339, normalised to UTC microseconds */
};

#define VF_REQUIRED	0x01	/* absent is an error */
#define VF_NULLABLE	0x02	/* JSON null is accepted (and clears) */
#define VF_TRIM		0x04	/* trim ASCII white space before counting */

struct vfield {
	const char		*name;
	enum vkind		 kind;
	unsigned		 flags;
	size_t			 min;	/* code points (VK_TEXT, VK_EMAIL) */
	size_t			 max;
	const char *const	*enumvals;	/* NULL terminated (VK_ENUM) */
};

struct vvalue {
	bool		 present;
	bool		 is_null;
	const char	*str;	/* borrowed from the JSON object; not trimmed */
	size_t		 len;	/* bytes of the (trimmed) value at str */
	int64_t		 ts;	/* VK_TIMESTAMP: microseconds, UTC */
};

/*
 * Parses body (len bytes) as one JSON object: strict JSON, valid UTF-8,
 * at most LIM_JSON_DEPTH deep, no trailing bytes but white space.
 * Returns TERR_OK with *out owned by the caller (json_object_put), or
 * TERR_INVALID with a message for the client in err.
 */
enum terr valid_parse_body(const char *body, size_t len,
	    struct json_object **out, char *err, size_t errsz);

/*
 * Checks the n fields of obj against the rules, filling vals[i] for
 * fields[i].  Unknown members are ignored.  Returns TERR_OK, or
 * TERR_INVALID with err naming the first field that breaks a rule.
 */
enum terr valid_fields(struct json_object *obj, const struct vfield *fields,
	    size_t n, struct vvalue *vals, char *err, size_t errsz);

/*
 * True when ctype is application/json, optionally with
 * "; charset=utf-8" (any case, any spacing); other parameters refuse.
 */
bool	valid_json_content_type(const char *ctype);

#endif /* TASKAPI_VALID_H */
