/*
 * http_harness.h - TEST HARNESS (tests/unit and tests/bench only, never in
 * foyerd): the request arguments of a handler called directly, hung on
 * req->server, for the test's http_arg() (tests/unit/http_harness.c).  The
 * rest of http_int.h (buffers, errors) is the real daemon/http/http_buf.c.
 */
#ifndef FOYER_HTTP_HARNESS_H
#define FOYER_HTTP_HARNESS_H

#include "http_int.h"

struct harness_args {
    const char *name[16];
    const char *value[16];
    size_t n;
};

#endif
