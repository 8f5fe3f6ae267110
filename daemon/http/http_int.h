/*
 * http_int.h - the inside of the http room: what the server
 * (http_server.c, http_auth.c) hands to a handler and what a handler hands
 * back.  Handlers live in http_api.c (JSON routes under /api/v1) and
 * http_pages.c (the tablet, ambassador and pairing pages); the server owns
 * libmicrohttpd, limits, authentication and the route table, and nothing
 * else in the room includes <microhttpd.h>.
 *
 * A handler runs on one of libmicrohttpd's threads with the read-only store
 * handle of that thread (store.h's read API: it never writes readings), the
 * principal the server authenticated, and the request's method, path,
 * query and (bounded) body.  It fills a response: a status, a content type
 * and a body in a growable buffer.  Errors are JSON
 * {"error": "...", "detail": "..."} (http_error()), for pages too when the
 * client asked for JSON; a page answers an HTML error page of its own.
 *
 * Writes: the http side never writes readings.  The few rows it does write
 * (a pairing code exchanged, a tip answered, a problem report filed or
 * closed: a handful a day) go through store functions that open a write
 * connection of their own for the call (cfg->database), so no handle is
 * shared between libmicrohttpd's threads.
 *
 * Handlers never allocate what outlives the call except the response body,
 * which the server frees.  They return 0 (the response is filled) or
 * -errno (-ENOMEM...: the server answers 500 and counts it).
 */
#ifndef FOYER_HTTP_INT_H
#define FOYER_HTTP_INT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "foyer/config.h"
#include "foyer/store.h"

/* ---- growable text buffer ------------------------------------------------ */

struct http_buf {
    char *data; /* NUL-terminated while len > 0; NULL before the first append */
    size_t len;
    size_t cap;
    bool failed; /* an append ran out of memory: the buffer is unusable */
};

/* Append; on allocation failure set b->failed and return -ENOMEM (later
 * appends are no-ops returning -ENOMEM, so a caller may check once at the
 * end). */
int http_buf_add(struct http_buf *b, const char *s, size_t n);
int http_buf_str(struct http_buf *b, const char *s);
int http_buf_printf(struct http_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Text escaped for HTML element content and quoted attribute values
 * (& < > " '). */
int http_buf_html(struct http_buf *b, const char *text);
/* A JSON string literal, quotes included. */
int http_buf_json_str(struct http_buf *b, const char *text);
void http_buf_free(struct http_buf *b);

/* ---- who is asking ------------------------------------------------------- */

enum http_role {
    HTTP_ROLE_NONE = 0, /* no credentials (only public routes) */
    HTTP_ROLE_TENANT,
    HTTP_ROLE_AMBASSADOR,
    HTTP_ROLE_ENERGY_TEAM,
};

/* Route permission bits (struct http_route.roles). */
#define HTTP_ALLOW_PUBLIC      (1u << HTTP_ROLE_NONE)
#define HTTP_ALLOW_TENANT      (1u << HTTP_ROLE_TENANT)
#define HTTP_ALLOW_AMBASSADOR  (1u << HTTP_ROLE_AMBASSADOR)
#define HTTP_ALLOW_ENERGY_TEAM (1u << HTTP_ROLE_ENERGY_TEAM)

/* The authenticated caller.  For a tenant, dwelling is a config dwelling
 * index and [tenancy_from_s, tenancy_to_s) the tenancy the token is bound
 * to (UTC epoch s; tenancy_to_s = INT64_MAX while it runs): a handler
 * answers nothing about times outside it.  For an ambassador, buildings
 * lists config building indexes. */
struct http_principal {
    enum http_role role;
    int64_t token_id; /* tokens.id, 0 for none */
    char name[64];    /* the token's name, for logs and the access log */
    int32_t dwelling; /* tenant: config dwelling index; else -1 */
    int64_t tenancy_from_s;
    int64_t tenancy_to_s;
    uint32_t n_buildings; /* ambassador: config building indexes */
    int32_t buildings[32];
};

/* Whether p may see config building b (energy team: every one). */
bool http_principal_has_building(const struct http_principal *p, int32_t b);

/* ---- request and response ------------------------------------------------ */

struct http_request {
    const char *method;        /* "GET", "POST", ... */
    const char *path;          /* decoded path, no query */
    const char *const *params; /* path parameters ({id} in the route), in order */
    size_t n_params;
    const char *body; /* NULL or the request body (bounded by the server) */
    size_t body_len;
    const char *lang;   /* "fr" or "en": ?lang=, else cookie, else Accept-Language, else fr */
    bool secure;        /* served over TLS (cookies get Secure) */
    const char *client; /* the peer's address, as text, for logs */
    int64_t now_s;      /* wall clock when the request arrived */
    const struct http_principal *who;
    const struct foyer_config *cfg; /* the running config (borrowed for the call) */
    struct store *ro;               /* this thread's read-only store handle */
    void *server;                   /* opaque, for the accessors below */
    /* Added for the pages' cross-site check (http_pages.c,
     * page_same_origin()): the request's Host, Origin and Referer headers,
     * or NULL when not sent.  A form post whose Origin (else Referer) names
     * another host than Host is refused. */
    const char *host;
    const char *origin;
    const char *referer;
};

/* The value of a query-string argument (GET) or of a form field
 * (application/x-www-form-urlencoded POST), or NULL.  Bounded by the
 * server (FOYER_HTTP_QUERY_MAX). */
const char *http_arg(const struct http_request *r, const char *name);

struct http_response {
    int status;               /* HTTP status, default 200 */
    const char *content_type; /* static string; default application/json */
    struct http_buf body;
    char location[512];   /* for 3xx: the Location header */
    char set_cookie[512]; /* a whole Set-Cookie value, or "" */
    int max_age_s;        /* Cache-Control max-age; 0: no-store */
    /* A whole Content-Disposition value (a download's file name), or "". */
    char disposition[128];
};

/* Fill resp with a JSON error {"error": error, "detail": detail}, detail
 * formatted; returns 0 (or -ENOMEM). */
int http_error(struct http_response *resp, int status, const char *error, const char *detail_fmt,
               ...) __attribute__((format(printf, 4, 5)));

typedef int (*http_handler_fn)(const struct http_request *req, struct http_response *resp);

/* One route.  pattern is a path whose segments are literal or "{name}"
 * (one segment each, handed over in params); roles the permission bits of
 * who may call it (others get 401 without credentials, 403 with). */
struct http_route {
    const char *method;
    const char *pattern;
    unsigned roles;
    http_handler_fn handler;
    const char *name; /* metrics label: the pattern, or a short name */
};

/* The route tables: http_api.c (JSON API) and http_pages.c (pages and their
 * form posts); each ends with a { NULL } entry. */
extern const struct http_route http_api_routes[];
extern const struct http_route http_page_routes[];

/* ---- pages (added by http_pages.c) ------------------------------------ */

/* What the page handlers count, for /metrics (atomics, any thread). */
struct http_page_stats {
    uint64_t bad_forms;      /* form posts refused with a 400 page (bad or missing field) */
    uint64_t cross_site;     /* form posts refused: Origin or Referer of another host */
    uint64_t tip_answers;    /* tip answers stored */
    uint64_t reports_opened; /* problem reports filed */
    uint64_t reports_closed; /* problem reports closed */
};
void http_page_stats_get(struct http_page_stats *ret);

#endif /* FOYER_HTTP_INT_H */
