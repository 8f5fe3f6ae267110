/*
 * http_test_support.c - TEST HARNESS ONLY, never linked into foyerd: the
 * few helpers of daemon/http/http_int.h the API handlers call (the growable
 * buffer, the JSON error, query arguments, an ambassador's buildings),
 * written from the contract in http_int.h so that test_http_api can call
 * the handlers directly while the server (which owns the real ones) is
 * written in parallel.  Query arguments come from a struct test_args the
 * test hangs on http_request.server.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "http_test_support.h"

int http_buf_add(struct http_buf *b, const char *s, size_t n)
{
    if (b->failed)
        return -ENOMEM;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->data, cap);
        if (!p) {
            b->failed = true;
            return -ENOMEM;
        }
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int http_buf_str(struct http_buf *b, const char *s)
{
    return http_buf_add(b, s, strlen(s));
}

int http_buf_printf(struct http_buf *b, const char *fmt, ...)
{
    char tmp[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return -EOVERFLOW;
    return http_buf_add(b, tmp, (size_t)n);
}

int http_buf_json_str(struct http_buf *b, const char *text)
{
    /* Quotes, backslashes and control characters escaped; UTF-8 as is. */
    http_buf_add(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        char esc[8];
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            http_buf_add(b, esc, 2);
        } else if (*p < 0x20) {
            (void)snprintf(esc, sizeof(esc), "\\u%04x", *p);
            http_buf_add(b, esc, 6);
        } else {
            http_buf_add(b, (const char *)p, 1);
        }
    }
    return http_buf_add(b, "\"", 1);
}

void http_buf_free(struct http_buf *b)
{
    free(b->data);
    *b = (struct http_buf){0};
}

int http_error(struct http_response *resp, int status, const char *error, const char *detail_fmt,
               ...)
{
    char detail[512];
    va_list ap;
    va_start(ap, detail_fmt);
    (void)vsnprintf(detail, sizeof(detail), detail_fmt, ap);
    va_end(ap);
    http_buf_free(&resp->body);
    resp->status = status;
    resp->content_type = "application/json";
    json_t *j = json_pack("{s:s, s:s}", "error", error, "detail", detail);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text)
        return -ENOMEM;
    int rc = http_buf_str(&resp->body, text);
    free(text);
    return rc;
}

const char *http_arg(const struct http_request *r, const char *name)
{
    const struct test_args *a = r->server;
    for (size_t i = 0; a && i < a->n; i++)
        if (strcmp(a->name[i], name) == 0)
            return a->value[i];
    return NULL;
}

bool http_principal_has_building(const struct http_principal *p, int32_t b)
{
    if (p->role == HTTP_ROLE_ENERGY_TEAM)
        return true;
    if (p->role != HTTP_ROLE_AMBASSADOR)
        return false;
    for (uint32_t i = 0; i < p->n_buildings && i < 32; i++)
        if (p->buildings[i] == b)
            return true;
    return false;
}
