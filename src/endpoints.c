/*
 * endpoints.c: the handler table, the handlers' columns of
 * endpoints.def.
 */
#include "config.h"

#include <stddef.h>

#include "endpoints.h"

const struct endpoint endpoints[EP__MAX] = {
#define EP(name, method, pattern, flags, plan, render, stream) \
	[EP_##name] = { flags, plan, render, stream },
#include "endpoints.def"
#undef EP
};
