/*
 * valid.c: strict JSON body parsing and the field-rule engine.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "api_limits.h"
#include "util.h"
#include "valid.h"

/*
 * A strict RFC 8259 syntax check run before json-c, which (0.16) still
 * accepts single-quoted keys in its strict mode and turns lone UTF-16
 * surrogate escapes into replacement characters.  Recursion is bounded
 * by LIM_JSON_DEPTH.
 */
struct jscan {
	const char	*p;
	const char	*end;
	int		 depth;
	size_t		 top_members;	/* members of the outermost object */
};

static void
js_ws(struct jscan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' ||
	    *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static int
js_hex4(const char *p)
{
	int	 v = 0;

	for (int i = 0; i < 4; i++) {
		char	 c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

static bool
js_string(struct jscan *s)
{
	if (s->p >= s->end || *s->p != '"')
		return false;
	s->p++;
	while (s->p < s->end) {
		unsigned char c = (unsigned char)*s->p;
		if (c == '"') {
			s->p++;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c != '\\') {
			s->p++;
			continue;
		}
		if (s->end - s->p < 2)
			return false;
		switch (s->p[1]) {
		case '"': case '\\': case '/': case 'b': case 'f': case 'n':
		case 'r': case 't':
			s->p += 2;
			break;
		case 'u': {
			int	 u;
			if (s->end - s->p < 6 || (u = js_hex4(s->p + 2)) < 0)
				return false;
			s->p += 6;
			if (u >= 0xdc00 && u <= 0xdfff)
				return false;	/* lone low surrogate */
			if (u >= 0xd800 && u <= 0xdbff) {
				int	 l;
				if (s->end - s->p < 6 || s->p[0] != '\\' ||
				    s->p[1] != 'u' ||
				    (l = js_hex4(s->p + 2)) < 0xdc00 || l > 0xdfff)
					return false;	/* lone high surrogate */
				s->p += 6;
			}
			break;
		}
		default:
			return false;
		}
	}
	return false;
}

static bool
js_digits(struct jscan *s)
{
	const char	*start = s->p;

	while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
		s->p++;
	return s->p > start;
}

static bool
js_number(struct jscan *s)
{
	if (s->p < s->end && *s->p == '-')
		s->p++;
	if (s->p < s->end && *s->p == '0')
		s->p++;
	else if (!js_digits(s))
		return false;
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		if (!js_digits(s))
			return false;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (!js_digits(s))
			return false;
	}
	return true;
}

static bool
js_literal(struct jscan *s, const char *lit)
{
	size_t	 n = strlen(lit);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0)
		return false;
	s->p += n;
	return true;
}

/* Recursion is bounded: s->depth stops at LIM_JSON_DEPTH. */
static bool
js_value(struct jscan *s)	/* NOLINT(misc-no-recursion) */
{
	bool	 ok;

	js_ws(s);
	if (s->p >= s->end)
		return false;
	switch (*s->p) {
	case '{':
	case '[': {
		char	 close = *s->p == '{' ? '}' : ']';
		bool	 obj = close == '}';

		if (++s->depth > LIM_JSON_DEPTH)
			return false;
		s->p++;
		js_ws(s);
		if (s->p < s->end && *s->p == close) {
			s->p++;
			s->depth--;
			return true;
		}
		for (;;) {
			if (obj) {
				js_ws(s);
				if (!js_string(s))
					return false;
				if (s->depth == 1)
					s->top_members++;
				js_ws(s);
				if (s->p >= s->end || *s->p != ':')
					return false;
				s->p++;
			}
			if (!js_value(s))
				return false;
			js_ws(s);
			if (s->p >= s->end)
				return false;
			if (*s->p == ',') {
				s->p++;
				continue;
			}
			if (*s->p != close)
				return false;
			s->p++;
			s->depth--;
			return true;
		}
	}
	case '"':
		return js_string(s);
	case 't':
		return js_literal(s, "true");
	case 'f':
		return js_literal(s, "false");
	case 'n':
		return js_literal(s, "null");
	default:
		ok = js_number(s);
		return ok;
	}
}

/*
 * True when buf is exactly one JSON value (surrounded by white space);
 * *members is the number of members of the outermost object.
 */
static bool
json_syntax_ok(const char *buf, size_t len, size_t *members)
{
	struct jscan	 s = { buf, buf + len, 0, 0 };

	if (!js_value(&s))
		return false;
	js_ws(&s);
	*members = s.top_members;
	return s.p == s.end;
}

enum terr
valid_parse_body(const char *body, size_t len, struct json_object **out,
    char *err, size_t errsz)
{
	struct json_tokener	*tok;
	struct json_object	*obj;
	enum json_tokener_error	 jerr;
	size_t			 end, members = 0;

	*out = NULL;
	if (len == 0) {
		snprintf(err, errsz, "request body must be a JSON object");
		return TERR_INVALID;
	}
	if (len > LIM_BODY_MAX || len > (size_t)INT32_MAX) {
		snprintf(err, errsz, "request body too large");
		return TERR_INVALID;
	}
	/*
	 * json-c validates UTF-8 only inside its own parse; check the whole
	 * body first so that bytes outside strings are covered too, and NUL
	 * bytes anywhere are refused.
	 */
	if (!util_utf8_valid(body, len)) {
		snprintf(err, errsz, "request body is not valid UTF-8");
		return TERR_INVALID;
	}
	if (!json_syntax_ok(body, len, &members)) {
		snprintf(err, errsz, "request body is not valid JSON");
		return TERR_INVALID;
	}
	if ((tok = json_tokener_new_ex(LIM_JSON_DEPTH + 1)) == NULL)
		return TERR_NOMEM;
	json_tokener_set_flags(tok,
	    JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	obj = json_tokener_parse_ex(tok, body, (int)len);
	jerr = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (obj == NULL || jerr != json_tokener_success) {
		if (obj != NULL)
			json_object_put(obj);
		snprintf(err, errsz, "request body is not valid JSON%s",
		    jerr == json_tokener_error_depth ? " (nested too deep)" :
		    "");
		return TERR_INVALID;
	}
	for (; end < len; end++) {
		char c = body[end];
		if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
			json_object_put(obj);
			snprintf(err, errsz,
			    "request body has data after the JSON value");
			return TERR_INVALID;
		}
	}
	if (!json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		snprintf(err, errsz, "request body must be a JSON object");
		return TERR_INVALID;
	}
	/*
	 * json-c keeps the last of two equal keys; which one the client
	 * meant is anyone's guess, so such a body is refused.
	 */
	if ((size_t)json_object_object_length(obj) != members) {
		json_object_put(obj);
		snprintf(err, errsz, "request body has a duplicate key");
		return TERR_INVALID;
	}
	*out = obj;
	return TERR_OK;
}

static bool
email_ok(const char *s, size_t len)
{
	size_t	 at = len, nat = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c == 0x7f)
			return false;
		if (c == '@') {
			nat++;
			at = i;
		}
	}
	return nat == 1 && at > 0 && at + 1 < len;
}

static enum terr
check_one(struct json_object *obj, const struct vfield *f, struct vvalue *v,
    char *err, size_t errsz)
{
	struct json_object	*jv;
	const char		*s;
	size_t			 len, cps;

	memset(v, 0, sizeof(*v));
	if (!json_object_object_get_ex(obj, f->name, &jv)) {
		if (f->flags & VF_REQUIRED) {
			snprintf(err, errsz, "%s is required", f->name);
			return TERR_INVALID;
		}
		return TERR_OK;
	}
	v->present = true;
	if (jv == NULL) {
		if ((f->flags & VF_NULLABLE) == 0) {
			snprintf(err, errsz, "%s must not be null", f->name);
			return TERR_INVALID;
		}
		v->is_null = true;
		return TERR_OK;
	}
	if (!json_object_is_type(jv, json_type_string)) {
		snprintf(err, errsz, "%s must be a string", f->name);
		return TERR_INVALID;
	}
	s = json_object_get_string(jv);
	len = (size_t)json_object_get_string_len(jv);
	/* An escaped \u0000 would cut the string short in C and in SQL. */
	if (strlen(s) != len || !util_utf8_valid(s, len)) {
		snprintf(err, errsz, "%s contains invalid characters", f->name);
		return TERR_INVALID;
	}
	if (f->flags & VF_TRIM)
		s = util_trim(s, len, &len);
	v->str = s;
	v->len = len;

	switch (f->kind) {
	case VK_TEXT:
		cps = util_utf8_count(s, len);
		if (cps < f->min || cps > f->max) {
			if (f->min > 0)
				snprintf(err, errsz, "%s must be %zu to %zu "
				    "characters", f->name, f->min, f->max);
			else
				snprintf(err, errsz, "%s must be at most %zu "
				    "characters", f->name, f->max);
			return TERR_INVALID;
		}
		break;
	case VK_EMAIL:
		cps = util_utf8_count(s, len);
		if (cps > f->max || !email_ok(s, len)) {
			snprintf(err, errsz, "%s must be an email address of at "
			    "most %zu characters", f->name, f->max);
			return TERR_INVALID;
		}
		break;
	case VK_ENUM:
		for (const char *const *e = f->enumvals; *e != NULL; e++)
			if (strlen(*e) == len && memcmp(*e, s, len) == 0)
				return TERR_OK;
		snprintf(err, errsz, "%s must be one of:", f->name);
		for (const char *const *e = f->enumvals; *e != NULL; e++) {
			size_t off = strlen(err);
			snprintf(err + off, errsz - off, "%s %s",
			    e == f->enumvals ? "" : ",", *e);
		}
		return TERR_INVALID;
	case VK_TIMESTAMP:
		if (!util_rfc3339_parse(s, &v->ts)) {
			snprintf(err, errsz, "%s must be an RFC 3339 date-time, "
			    "e.g. 2026-11-21T09:30:00Z", f->name);
			return TERR_INVALID;
		}
		break;
	}
	return TERR_OK;
}

enum terr
valid_fields(struct json_object *obj, const struct vfield *fields, size_t n,
    struct vvalue *vals, char *err, size_t errsz)
{
	for (size_t i = 0; i < n; i++) {
		enum terr e = check_one(obj, &fields[i], &vals[i], err, errsz);
		if (e != TERR_OK)
			return e;
	}
	return TERR_OK;
}

bool
valid_json_content_type(const char *ct)
{
	static const char	 base[] = "application/json";
	const char		*p;

	if (ct == NULL || strncasecmp(ct, base, sizeof(base) - 1) != 0)
		return false;
	p = ct + sizeof(base) - 1;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0')
		return true;
	if (*p++ != ';')
		return false;
	while (*p == ' ' || *p == '\t')
		p++;
	if (strncasecmp(p, "charset=", 8) != 0)
		return false;
	p += 8;
	if (*p == '"')
		p++;
	if (strncasecmp(p, "utf-8", 5) != 0)
		return false;
	p += 5;
	if (*p == '"')
		p++;
	while (*p == ' ' || *p == '\t' || *p == ';')
		p++;
	return *p == '\0';
}
