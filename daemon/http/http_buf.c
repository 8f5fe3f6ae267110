/*
 * http_buf.c - the growable text buffer every handler writes its response
 * into, its HTML and JSON escapes, and http_error() (http_int.h).
 *
 * A buffer that once failed to grow stays failed: later appends return
 * -ENOMEM without writing, so a handler may check once at the end.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_int.h"

static int buf_reserve(struct http_buf *b, size_t more)
{
    if (b->failed)
        return -ENOMEM;
    if (b->len + more + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more + 1) {
        if (cap > SIZE_MAX / 2) {
            b->failed = true;
            return -ENOMEM;
        }
        cap *= 2;
    }
    char *d = realloc(b->data, cap);
    if (!d) {
        b->failed = true;
        return -ENOMEM;
    }
    b->data = d;
    b->cap = cap;
    return 0;
}

int http_buf_add(struct http_buf *b, const char *s, size_t n)
{
    int rc = buf_reserve(b, n);
    if (rc < 0)
        return rc;
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
    va_list ap;
    char small[256];

    if (b->failed)
        return -ENOMEM;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return -EINVAL;
    if ((size_t)n < sizeof(small))
        return http_buf_add(b, small, (size_t)n);
    int rc = buf_reserve(b, (size_t)n);
    if (rc < 0)
        return rc;
    va_start(ap, fmt);
    (void)vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

int http_buf_html(struct http_buf *b, const char *text)
{
    const char *run = text;
    int rc = 0;
    for (const char *p = text; *p && rc == 0; p++) {
        const char *esc = NULL;
        switch (*p) {
        case '&':
            esc = "&amp;";
            break;
        case '<':
            esc = "&lt;";
            break;
        case '>':
            esc = "&gt;";
            break;
        case '"':
            esc = "&quot;";
            break;
        case '\'':
            esc = "&#39;";
            break;
        default:
            continue;
        }
        rc = http_buf_add(b, run, (size_t)(p - run));
        if (rc == 0)
            rc = http_buf_str(b, esc);
        run = p + 1;
    }
    if (rc == 0)
        rc = http_buf_str(b, run);
    return rc;
}

int http_buf_json_str(struct http_buf *b, const char *text)
{
    const char *run = text;
    int rc = http_buf_add(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)text; *p && rc == 0; p++) {
        char esc[8];
        if (*p >= 0x20 && *p != '"' && *p != '\\')
            continue;
        rc = http_buf_add(b, run, (size_t)((const char *)p - run));
        if (*p == '"' || *p == '\\')
            (void)snprintf(esc, sizeof(esc), "\\%c", *p);
        else if (*p == '\n')
            (void)snprintf(esc, sizeof(esc), "\\n");
        else
            (void)snprintf(esc, sizeof(esc), "\\u%04x", *p);
        if (rc == 0)
            rc = http_buf_str(b, esc);
        run = (const char *)p + 1;
    }
    if (rc == 0)
        rc = http_buf_str(b, run);
    if (rc == 0)
        rc = http_buf_add(b, "\"", 1);
    return rc;
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
    resp->max_age_s = 0;
    (void)http_buf_str(&resp->body, "{\"error\": ");
    (void)http_buf_json_str(&resp->body, error);
    (void)http_buf_str(&resp->body, ", \"detail\": ");
    (void)http_buf_json_str(&resp->body, detail);
    return http_buf_str(&resp->body, "}\n");
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
