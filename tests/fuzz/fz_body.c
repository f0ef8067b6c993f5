/*
 * fz_body.c: body parsing and the field rules on any bytes.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "valid.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const char *const statuses[] = { "todo", "done", NULL };

static const struct vfield fields[] = {
	{ "title", VK_TEXT, VF_REQUIRED | VF_TRIM, 1, 200, NULL },
	{ "description", VK_TEXT, VF_NULLABLE, 0, 2000, NULL },
	{ "status", VK_ENUM, 0, 0, 0, statuses },
	{ "due_at", VK_TIMESTAMP, VF_NULLABLE, 0, 0, NULL },
	{ "email", VK_EMAIL, 0, 3, 254, NULL },
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_object	*obj = NULL;
	struct vvalue		 v[5];
	char			 err[256];

	if (valid_parse_body((const char *)data, size, &obj, err,
	    sizeof(err)) != TERR_OK)
		return 0;
	if (obj == NULL || !json_object_is_type(obj, json_type_object))
		abort();
	if (valid_fields(obj, fields, 5, v, err, sizeof(err)) == TERR_OK &&
	    v[0].str != NULL && memchr(v[0].str, '\0', v[0].len) != NULL)
		abort();
	json_object_put(obj);
	return 0;
}
