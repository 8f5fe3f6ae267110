/*
 * http_harness.c - TEST HARNESS, never linked into foyerd: http_arg(), which
 * the real server (http_server.c) answers from libmicrohttpd's connection,
 * answered here from a list of name/value pairs hung on req->server
 * (struct harness_args), so the API's and the pages' handlers can be called
 * directly by tests/unit/test_http_api.c, test_http_pages.c and
 * tests/bench/bench_api.c.
 */
#include <string.h>

#include "http_harness.h"

const char *http_arg(const struct http_request *r, const char *name)
{
    const struct harness_args *a = r->server;
    for (size_t i = 0; a && i < a->n; i++)
        if (strcmp(a->name[i], name) == 0)
            return a->value[i];
    return NULL;
}
