/*
 * http_test_support.h - TEST HARNESS ONLY (see http_test_support.c): query
 * arguments for the test implementation of http_arg().
 */
#ifndef FOYER_HTTP_TEST_SUPPORT_H
#define FOYER_HTTP_TEST_SUPPORT_H

#include <stdarg.h>

#include "http_int.h"

/* Hung on http_request.server by the test. */
struct test_args {
    const char *name[16];
    const char *value[16];
    size_t n;
};

#endif
