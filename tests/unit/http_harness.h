/*
 * http_harness.h - TEST HARNESS (tests/unit only, never in foyerd): the
 * request arguments of a handler called directly, hung on req->server.
 */
#ifndef FOYER_HTTP_HARNESS_H
#define FOYER_HTTP_HARNESS_H

#include "http_int.h"

struct harness_args {
    const char *name[8];
    const char *value[8];
    size_t n;
};

#endif
