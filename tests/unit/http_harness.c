/*
 * http_harness.c - TEST HARNESS, never linked into foyerd: a small
 * implementation of the helpers of daemon/http/http_int.h that the real
 * server (http_server.c) provides, so the page handlers can be called
 * directly by tests/unit/test_http_pages.c.  Request arguments come from a
 * list of name/value pairs hung on req->server (struct harness_args).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_harness.h"

int http_buf_add(struct http_buf *b, const char *s, size_t n)
{
    if (b->failed)
        return -ENOMEM;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d) {
            b->failed = true;
            return -ENOMEM;
        }
        b->data = d;
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
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        b->failed = true;
        return -ENOMEM;
    }
    return http_buf_add(b, tmp, (size_t)n);
}

int http_buf_html(struct http_buf *b, const char *text)
{
    int rc = 0;
    for (const char *p = text; *p && rc == 0; p++) {
        switch (*p) {
        case '&':
            rc = http_buf_str(b, "&amp;");
            break;
        case '<':
            rc = http_buf_str(b, "&lt;");
            break;
        case '>':
            rc = http_buf_str(b, "&gt;");
            break;
        case '"':
            rc = http_buf_str(b, "&quot;");
            break;
        case '\'':
            rc = http_buf_str(b, "&#39;");
            break;
        default:
            rc = http_buf_add(b, p, 1);
        }
    }
    return rc;
}

int http_buf_json_str(struct http_buf *b, const char *text)
{
    (void)http_buf_str(b, "\"");
    for (const char *p = text; *p; p++) {
        if (*p == '"' || *p == '\\')
            (void)http_buf_add(b, "\\", 1);
        if ((unsigned char)*p < 0x20)
            (void)http_buf_printf(b, "\\u%04x", (unsigned char)*p);
        else
            (void)http_buf_add(b, p, 1);
    }
    return http_buf_str(b, "\"");
}

void http_buf_free(struct http_buf *b)
{
    free(b->data);
    *b = (struct http_buf){0};
}

bool http_principal_has_building(const struct http_principal *p, int32_t b)
{
    if (p->role == HTTP_ROLE_ENERGY_TEAM)
        return true;
    for (uint32_t i = 0; p->role == HTTP_ROLE_AMBASSADOR && i < p->n_buildings; i++)
        if (p->buildings[i] == b)
            return true;
    return false;
}

const char *http_arg(const struct http_request *r, const char *name)
{
    const struct harness_args *a = r->server;
    for (size_t i = 0; a && i < a->n; i++)
        if (strcmp(a->name[i], name) == 0)
            return a->value[i];
    return NULL;
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
    (void)http_buf_str(&resp->body, "{\"error\": ");
    (void)http_buf_json_str(&resp->body, error);
    (void)http_buf_str(&resp->body, ", \"detail\": ");
    (void)http_buf_json_str(&resp->body, detail);
    return http_buf_str(&resp->body, "}");
}
