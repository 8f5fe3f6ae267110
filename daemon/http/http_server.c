/*
 * http_server.c - foyerd's HTTP server over libmicrohttpd (include/foyer/http.h).
 *
 * DESIGN
 *   libmicrohttpd runs FOYER_HTTP_THREADS epoll threads of its own; this
 *   file owns them, their limits and everything between a request's bytes
 *   and a handler: the body (at most FOYER_HTTP_BODY_MAX, 413 beyond, said
 *   as soon as Content-Length announces it), query arguments (at most
 *   FOYER_HTTP_QUERY_ARGS_MAX of FOYER_HTTP_QUERY_MAX bytes each, 400),
 *   authentication (http_auth.c), routing over the route tables, static
 *   files under web_dir, and the response.  Headers are bounded by the
 *   connection's memory (FOYER_HTTP_CONN_MEMORY; libmicrohttpd answers 431
 *   beyond), idle connections closed after FOYER_HTTP_TIMEOUT_S, and
 *   FOYER_HTTP_CONN_MAX connections in all, FOYER_HTTP_CONN_PER_IP_MAX per
 *   address, are accepted: a slow client holds little, and the daemon's
 *   other threads (drivers, writer) never wait for this one.
 *
 *   Routes: the server's own (/healthz, /metrics, the pairing exchange),
 *   then http_api_routes[] and http_page_routes[] (http_api.c,
 *   http_pages.c).  A path that matches a route of another method gets 405
 *   with Allow; a route's roles decide 401 (no or bad credentials) or 403,
 *   except a page opened without a live session (GET /tablet, /ambassador):
 *   303 to /pair, where a browser can do something about it.  Handlers get
 *   the Host, Origin and Referer headers for the pages' cross-site check.
 *   /metrics is open to loopback clients too, unless behind_proxy (a proxy
 *   on the gateway makes every client look local).
 *
 *   Store handles: each libmicrohttpd thread opens its read-only handle
 *   (store_open_readonly()) at its first request that needs one, kept in
 *   a thread-specific slot and in a list this file closes at stop, after
 *   the threads have ended.
 *
 *   Stop: MHD_stop_daemon() closes every connection whatever the client
 *   does (an inter-thread channel wakes the threads) and joins them.
 */
#include "foyer/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <microhttpd.h>

#include "foyer/limits.h"
#include "foyer/log.h"
#include "foyer/store.h"
#include "foyer/timeutil.h"
#include "http_srv.h"

/* The tables of http_api.c and http_pages.c.  Weak: a build without them
 * (this file's tests before the API and the pages existed) serves the
 * server's own routes and static files. */
extern const struct http_route http_api_routes[] __attribute__((weak));
extern const struct http_route http_page_routes[] __attribute__((weak));
/* The building status answers kept (http_api_team.c), forgotten at stop
 * (a reload's config may reuse the old one's address) and after every
 * request that may write (a report filed or closed, an alert
 * acknowledged: its author sees it at once). */
extern void api_status_cache_clear(void) __attribute__((weak));

/* The server's own routes. */
static const struct http_route server_routes[] = {
    {"GET", "/healthz",
     HTTP_ALLOW_PUBLIC | HTTP_ALLOW_TENANT | HTTP_ALLOW_AMBASSADOR | HTTP_ALLOW_ENERGY_TEAM,
     http_metrics_healthz, "/healthz"},
    {"GET", "/metrics", HTTP_ALLOW_ENERGY_TEAM, http_metrics_metrics, "/metrics"},
    {"POST", "/api/v1/pair",
     HTTP_ALLOW_PUBLIC | HTTP_ALLOW_TENANT | HTTP_ALLOW_AMBASSADOR | HTTP_ALLOW_ENERGY_TEAM,
     http_auth_pair_api, "/api/v1/pair"},
    {"POST", "/pair",
     HTTP_ALLOW_PUBLIC | HTTP_ALLOW_TENANT | HTTP_ALLOW_AMBASSADOR | HTTP_ALLOW_ENERGY_TEAM,
     http_auth_pair_form, "/pair"},
    {NULL, NULL, 0, NULL, NULL},
};
#define METRICS_ROUTE (&server_routes[1])

#define HTTP_STR_(x) #x
#define HTTP_STR(x)  HTTP_STR_(x)

/* Path segments of a route or a request, and path parameters. */
#define HTTP_SEGMENTS_MAX 16

/* Distinct (route, status) pairs counted; more go to the last. */
#define HTTP_COUNTS_MAX 256

struct http_count {
    const char *route; /* a route's name (static), or "static", "none" */
    int status;
    uint64_t n;
};

struct http_server {
    struct MHD_Daemon *mhd;
    const struct foyer_config *cfg;
    http_snapshot_fn snapshot;
    void *snapshot_ctx;
    int port;
    bool tls;
    char *tls_cert; /* PEM contents, kept while the daemon runs */
    char *tls_key;
    char web_root[PATH_MAX];            /* realpath of web_dir, "" when missing */
    const struct http_route *tables[4]; /* the server's, the API's, the pages', NULL */

    pthread_key_t ro_key;
    pthread_mutex_t lock; /* guards ro and counts */
    struct store **ro;    /* every thread's handle, closed at stop */
    size_t n_ro, cap_ro;
    struct http_count counts[HTTP_COUNTS_MAX]; /* requests by route and status */
    size_t n_counts;
    /* Failed authentications (a token that does not hold, a wrong pairing
     * code) per client address over the current window, under lock. */
    struct auth_fails {
        char client[64];
        int64_t window_s; /* start of its window */
        int n;
    } fails[FOYER_HTTP_AUTH_CLIENTS_MAX]; /* (429s: in counts, status 429) */
};

/* One request's state across libmicrohttpd's calls (its con_cls), freed
 * by on_completed(). */
struct conn_req {
    char *body;     /* the body so far, NUL-terminated; NULL: none */
    size_t len;     /* its bytes, at most FOYER_HTTP_BODY_MAX */
    bool too_large; /* more came: the rest is read and dropped, then 413 */
    char *form;     /* a urlencoded POST body's copy, cut and decoded in place */
    const char *form_keys[FOYER_HTTP_QUERY_ARGS_MAX]; /* into form */
    const char *form_vals[FOYER_HTTP_QUERY_ARGS_MAX];
    size_t n_form;
    struct MHD_Connection *conn; /* for http_arg()'s query lookups */
};

/* ---- counts -------------------------------------------------------------- */

static void count_request(struct http_server *srv, const char *route, int status)
{
    pthread_mutex_lock(&srv->lock);
    size_t i;
    for (i = 0; i < srv->n_counts; i++)
        if (srv->counts[i].status == status && strcmp(srv->counts[i].route, route) == 0)
            break;
    if (i == srv->n_counts) {
        if (srv->n_counts < HTTP_COUNTS_MAX) {
            srv->counts[i] = (struct http_count){route, status, 0};
            srv->n_counts++;
        } else {
            i = HTTP_COUNTS_MAX - 1;
        }
    }
    srv->counts[i].n++;
    pthread_mutex_unlock(&srv->lock);
}

void http_server_each_count(const struct http_request *req,
                            void (*fn)(void *ctx, const char *route, int status, uint64_t n),
                            void *ctx)
{
    struct http_server *srv = req->server;
    struct http_count copy[HTTP_COUNTS_MAX];
    pthread_mutex_lock(&srv->lock);
    size_t n = srv->n_counts;
    memcpy(copy, srv->counts, n * sizeof(copy[0]));
    pthread_mutex_unlock(&srv->lock);
    for (size_t i = 0; i < n; i++)
        fn(ctx, copy[i].route, copy[i].status, copy[i].n);
}

void http_server_snapshot(const struct http_request *req, struct http_snapshot *ret)
{
    struct http_server *srv = req->server;
    memset(ret, 0, sizeof(*ret));
    if (srv->snapshot)
        srv->snapshot(srv->snapshot_ctx, ret);
}

void http_server_health_snapshot(const struct http_request *req, struct http_snapshot *ret)
{
    struct http_server *srv = req->server;
    memset(ret, 0, sizeof(*ret));
    ret->skip_devices = true;
    if (srv->snapshot)
        srv->snapshot(srv->snapshot_ctx, ret);
}

int http_server_port(const struct http_server *srv)
{
    return srv->port;
}

/* ---- the thread's store handle ------------------------------------------ */

static struct store *thread_store(struct http_server *srv, const char **ret_msg)
{
    struct store *s = pthread_getspecific(srv->ro_key);
    if (s)
        return s;
    int rc = store_open_readonly(srv->cfg->database, srv->cfg, &s, ret_msg);
    if (rc < 0)
        return NULL;
    pthread_mutex_lock(&srv->lock);
    if (srv->n_ro == srv->cap_ro) {
        size_t cap = srv->cap_ro ? srv->cap_ro * 2 : 8;
        struct store **v = realloc(srv->ro, cap * sizeof(*v));
        if (!v) {
            pthread_mutex_unlock(&srv->lock);
            store_close(s);
            *ret_msg = "out of memory";
            return NULL;
        }
        srv->ro = v;
        srv->cap_ro = cap;
    }
    srv->ro[srv->n_ro++] = s;
    pthread_mutex_unlock(&srv->lock);
    (void)pthread_setspecific(srv->ro_key, s);
    return s;
}

/* ---- request helpers ----------------------------------------------------- */

/* What the server hands a handler: the public request, and where its
 * arguments are (http_arg() finds them from the request's address). */
struct srv_request {
    struct http_request pub; /* first: a handler's request is this struct's */
    struct conn_req *cr;
    const char *segs[HTTP_SEGMENTS_MAX]; /* path parameters */
};

const char *http_arg(const struct http_request *r, const char *name)
{
    const struct srv_request *sr = (const struct srv_request *)r;
    const char *v = MHD_lookup_connection_value(sr->cr->conn, MHD_GET_ARGUMENT_KIND, name);
    if (v)
        return v;
    for (size_t i = 0; i < sr->cr->n_form; i++)
        if (strcmp(sr->cr->form_keys[i], name) == 0)
            return sr->cr->form_vals[i];
    return NULL;
}

/* Decode %XX and + of a urlencoded form value in place. */
static void form_unescape(char *s)
{
    char *o = s;
    for (char *p = s; *p; p++) {
        if (*p == '+') {
            *o++ = ' ';
        } else if (*p == '%' && p[1] && p[2]) {
            char hex[3] = {p[1], p[2], 0};
            char *end;
            long v = strtol(hex, &end, 16);
            if (*end || v == 0) {
                *o++ = *p;
                continue;
            }
            *o++ = (char)v;
            p += 2;
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
}

/* Split an application/x-www-form-urlencoded body into fields.  -E2BIG:
 * too many fields; -EINVAL: a value too long. */
static int parse_form(struct conn_req *cr)
{
    cr->form = strndup(cr->body ? cr->body : "", cr->len);
    if (!cr->form)
        return -ENOMEM;
    char *save = NULL;
    for (char *f = strtok_r(cr->form, "&", &save); f; f = strtok_r(NULL, "&", &save)) {
        if (cr->n_form == FOYER_HTTP_QUERY_ARGS_MAX)
            return -E2BIG;
        char *eq = strchr(f, '=');
        if (eq)
            *eq++ = '\0';
        form_unescape(f);
        if (eq)
            form_unescape(eq);
        if (strlen(eq ? eq : "") > FOYER_HTTP_QUERY_MAX)
            return -EINVAL;
        cr->form_keys[cr->n_form] = f;
        cr->form_vals[cr->n_form] = eq ? eq : "";
        cr->n_form++;
    }
    return 0;
}

struct arg_check {
    size_t n;
    bool too_long;
    bool bad_byte;
};

static enum MHD_Result check_arg(void *ctx, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    struct arg_check *c = ctx;
    (void)kind;
    c->n++;
    if (strlen(key) > FOYER_HTTP_QUERY_MAX || (value && strlen(value) > FOYER_HTTP_QUERY_MAX))
        c->too_long = true;
    for (const unsigned char *p = (const unsigned char *)(value ? value : ""); *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            c->bad_byte = true;
    return MHD_YES;
}

/* The bearer token of the request: Authorization: Bearer, else the
 * foyer_token cookie; NULL when none. */
static const char *request_token(struct MHD_Connection *conn)
{
    const char *h =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (h && strncasecmp(h, "Bearer ", 7) == 0) {
        h += 7;
        while (*h == ' ')
            h++;
        return h;
    }
    return MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, "foyer_token");
}

static const char *request_lang(struct MHD_Connection *conn)
{
    const char *l = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "lang");
    if (!l)
        l = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, "foyer_lang");
    if (l)
        return strcmp(l, "en") == 0 ? "en" : "fr";
    l = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT_LANGUAGE);
    return l && strncasecmp(l, "en", 2) == 0 ? "en" : "fr";
}

static bool client_is_loopback(struct MHD_Connection *conn, char *text, size_t len)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    (void)snprintf(text, len, "?");
    if (!ci || !ci->client_addr)
        return false;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        (void)inet_ntop(AF_INET, &in->sin_addr, text, (socklen_t)len);
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        (void)inet_ntop(AF_INET6, &in6->sin6_addr, text, (socklen_t)len);
        return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) ||
               (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127);
    }
    return false;
}

/* ---- routing ------------------------------------------------------------- */

/* Whether path matches pattern; the {name} segments' values go to params
 * (pointers into path_copy, whose '/' are cut). */
static bool route_match(const char *pattern, const char *path, char *path_copy, size_t cap,
                        const char **params, size_t *ret_n)
{
    size_t n = 0;
    const char *p = pattern, *q = path;
    (void)snprintf(path_copy, cap, "%s", path);
    while (*p && *q) {
        if (*p != '/' || *q != '/')
            return false;
        p++;
        q++;
        const char *pe = strchrnul(p, '/');
        const char *qe = strchrnul(q, '/');
        if (*p == '{') {
            if (qe == q || n == HTTP_SEGMENTS_MAX)
                return false;
            char *seg = path_copy + (q - path);
            seg[qe - q] = '\0';
            params[n++] = seg;
        } else if (pe - p != qe - q || strncmp(p, q, (size_t)(pe - p)) != 0) {
            return false;
        }
        p = pe;
        q = qe;
    }
    if (*p || *q)
        return false;
    *ret_n = n;
    return true;
}

/* ---- failed authentications ------------------------------------------------
 * A client that keeps sending dead tokens or wrong pairing codes (guessing
 * them) is answered 429 for the rest of the window, before any code is
 * tried: a pairing code of 8 characters in a 31-letter alphabet cannot be
 * guessed at FOYER_HTTP_AUTH_FAILS_MAX tries a minute (and dies after
 * FOYER_PAIR_TRIES_MAX wrong ones anyway).  Valid tokens are never
 * throttled: behind a proxy every client shares one address. */

/* The slot of client (its own, a free or expired one, else the oldest). */
static struct auth_fails *fails_slot(struct http_server *srv, const char *client, int64_t now_s)
{
    struct auth_fails *best = &srv->fails[0];
    for (size_t i = 0; i < FOYER_HTTP_AUTH_CLIENTS_MAX; i++) {
        struct auth_fails *f = &srv->fails[i];
        if (strcmp(f->client, client) == 0)
            return f;
        if (f->client[0] == '\0' || now_s - f->window_s >= FOYER_HTTP_AUTH_WINDOW_S ||
            f->window_s < best->window_s)
            best = f;
    }
    (void)snprintf(best->client, sizeof(best->client), "%s", client);
    best->window_s = now_s;
    best->n = 0;
    return best;
}

/* Count a failed authentication of client. */
static void auth_failed(struct http_server *srv, const char *client, int64_t now_s)
{
    pthread_mutex_lock(&srv->lock);
    struct auth_fails *f = fails_slot(srv, client, now_s);
    if (now_s - f->window_s >= FOYER_HTTP_AUTH_WINDOW_S) {
        f->window_s = now_s;
        f->n = 0;
    }
    f->n++;
    pthread_mutex_unlock(&srv->lock);
}

/* Whether client has failed too often in its window: 0, or the seconds
 * until the window ends (for Retry-After). */
static int auth_throttled(struct http_server *srv, const char *client, int64_t now_s)
{
    int wait_s = 0;
    pthread_mutex_lock(&srv->lock);
    for (size_t i = 0; i < FOYER_HTTP_AUTH_CLIENTS_MAX; i++) {
        const struct auth_fails *f = &srv->fails[i];
        if (strcmp(f->client, client) != 0)
            continue;
        int64_t left = f->window_s + FOYER_HTTP_AUTH_WINDOW_S - now_s;
        if (f->n >= FOYER_HTTP_AUTH_FAILS_MAX && left > 0)
            wait_s = (int)left;
        break;
    }
    pthread_mutex_unlock(&srv->lock);
    return wait_s;
}

/* ---- responses ----------------------------------------------------------- */

static enum MHD_Result send_response(struct http_server *srv, struct MHD_Connection *conn,
                                     struct http_response *resp, const char *route,
                                     const char *allow)
{
    struct MHD_Response *r;
    char cache[64];
    if (resp->body.failed) {
        http_buf_free(&resp->body);
        resp->status = 500;
        (void)http_error(resp, 500, "internal", "out of memory");
    }
    r = MHD_create_response_from_buffer(resp->body.len, resp->body.data, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        http_buf_free(&resp->body);
        return MHD_NO;
    }
    resp->body = (struct http_buf){0}; /* libmicrohttpd frees it now */
    (void)MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                                  resp->content_type ? resp->content_type : "application/json");
    if (resp->max_age_s > 0) /* (negative: a 429's Retry-After, below) */
        (void)snprintf(cache, sizeof(cache), "max-age=%d", resp->max_age_s);
    else
        (void)snprintf(cache, sizeof(cache), "no-store");
    (void)MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, cache);
    (void)MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    (void)MHD_add_response_header(r, "X-Frame-Options", "DENY");
    (void)MHD_add_response_header(r, "Referrer-Policy", "same-origin");
    if (resp->location[0])
        (void)MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, resp->location);
    if (resp->set_cookie[0])
        (void)MHD_add_response_header(r, MHD_HTTP_HEADER_SET_COOKIE, resp->set_cookie);
    if (resp->disposition[0])
        (void)MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_DISPOSITION, resp->disposition);
    if (allow)
        (void)MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    if (resp->status == 401)
        (void)MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                      "Bearer realm=\"foyer\"");
    if (resp->status == 429 && resp->max_age_s < 0) {
        char after[24];
        (void)snprintf(after, sizeof(after), "%d", -resp->max_age_s);
        (void)MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, after);
    }
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)resp->status, r);
    MHD_destroy_response(r);
    count_request(srv, route, resp->status);
    return ret;
}

static enum MHD_Result send_error(struct http_server *srv, struct MHD_Connection *conn,
                                  const char *route, int status, const char *error,
                                  const char *detail)
{
    struct http_response resp = {.status = status};
    (void)http_error(&resp, status, error, "%s", detail);
    return send_response(srv, conn, &resp, route, NULL);
}

/* ---- static files -------------------------------------------------------- */

static const char *content_type_of(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".json", "application/json"},
        {".txt", "text/plain; charset=utf-8"},
        {".woff2", "font/woff2"},
    };
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

/* A file under web_dir: 0 and the response filled, or -ENOENT (404 for
 * the caller).  Any ".." or "." segment, hidden file, or path that leaves
 * the root once resolved is not found. */
static int static_file(struct http_server *srv, const char *path, struct http_response *resp)
{
    char want[PATH_MAX], real[PATH_MAX];
    struct stat st;
    if (!srv->web_root[0] || path[0] != '/' || path[1] == '\0')
        return -ENOENT;
    for (const char *p = path; *p; p++) {
        if (p[0] == '/' && p[1] == '.')
            return -ENOENT; /* "..", ".", hidden files */
        if (*p == '\\' || (unsigned char)*p < 0x20)
            return -ENOENT;
    }
    int n = snprintf(want, sizeof(want), "%s%s", srv->web_root, path);
    if (n < 0 || (size_t)n >= sizeof(want) || !realpath(want, real))
        return -ENOENT;
    size_t rl = strlen(srv->web_root);
    if (strncmp(real, srv->web_root, rl) != 0 || real[rl] != '/')
        return -ENOENT;
    int fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -ENOENT;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > FOYER_HTTP_STATIC_MAX) {
        close(fd);
        return -ENOENT;
    }
    int rc = 0;
    size_t size = (size_t)st.st_size;
    char *data = malloc(size + 1);
    size_t got = 0;
    if (!data)
        rc = -ENOMEM;
    while (rc == 0 && got < size) {
        ssize_t r = read(fd, data + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            rc = -EIO;
        else
            got += (size_t)r;
    }
    close(fd);
    if (rc < 0) {
        free(data);
        return rc;
    }
    data[size] = '\0';
    resp->body = (struct http_buf){.data = data, .len = size, .cap = size + 1};
    resp->status = 200;
    resp->content_type = content_type_of(real);
    resp->max_age_s = 300;
    return 0;
}

/* ---- dispatch ------------------------------------------------------------ */

/* Whether route is a page (http_page_routes[]) read with GET: what a
 * browser opens, as opposed to the API's JSON and the pages' form posts. */
static bool is_page_get(const struct http_route *route, const char *method)
{
    if (!http_page_routes || strcmp(method, "GET") != 0)
        return false;
    for (const struct http_route *r = http_page_routes; r->method; r++)
        if (r == route)
            return true;
    return false;
}

static enum MHD_Result dispatch(struct http_server *srv, struct MHD_Connection *conn,
                                struct conn_req *cr, const char *url, const char *method)
{
    struct srv_request sr = {.cr = cr};
    struct http_request *req = &sr.pub;
    struct http_response resp = {.status = 200};
    struct http_principal who = {.role = HTTP_ROLE_NONE, .dwelling = -1};
    char path_copy[1024], client[64];
    const struct http_route *route = NULL;
    bool path_known = false;
    char allow[128] = "";
    size_t n_params = 0;
    const char *match_method = strcmp(method, "HEAD") == 0 ? "GET" : method;

    if (cr->too_large)
        return send_error(srv, conn, "none", 413, "body_too_large",
                          "request bodies are limited to " HTTP_STR(FOYER_HTTP_BODY_MAX) " bytes");
    struct arg_check ac = {0};
    (void)MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, check_arg, &ac);
    if (ac.n > FOYER_HTTP_QUERY_ARGS_MAX || ac.too_long || ac.bad_byte)
        return send_error(srv, conn, "none", 400, "bad_query",
                          ac.n > FOYER_HTTP_QUERY_ARGS_MAX ? "too many query arguments"
                          : ac.too_long ? "a query argument is longer than " HTTP_STR(
                                              FOYER_HTTP_QUERY_MAX) " bytes"
                                        : "a query argument holds control characters");
    if (strlen(url) >= sizeof(path_copy) || url[0] != '/')
        return send_error(srv, conn, "none", 400, "bad_path", "the path is too long or relative");
    const char *ctype =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (strcmp(method, "POST") == 0 && ctype &&
        strncasecmp(ctype, "application/x-www-form-urlencoded", 33) == 0) {
        int rc = parse_form(cr);
        if (rc == -ENOMEM)
            return send_error(srv, conn, "none", 500, "internal", "out of memory");
        if (rc < 0)
            return send_error(srv, conn, "none", 400, "bad_form",
                              rc == -E2BIG ? "too many form fields" : "a form field is too long");
    }

    for (size_t t = 0; srv->tables[t] && !route; t++)
        for (const struct http_route *r = srv->tables[t]; r->method && !route; r++) {
            if (!route_match(r->pattern, url, path_copy, sizeof(path_copy), sr.segs, &n_params))
                continue;
            path_known = true;
            if (strcmp(r->method, match_method) == 0) {
                route = r;
            } else if (!strstr(allow, r->method) &&
                       strlen(allow) + strlen(r->method) + 3 < sizeof(allow)) {
                if (allow[0])
                    strcat(allow, ", ");
                strcat(allow, r->method);
            }
        }

    bool loopback = client_is_loopback(conn, client, sizeof(client));
    req->method = method;
    req->path = url;
    req->params = sr.segs;
    req->n_params = n_params;
    req->body = cr->body;
    req->body_len = cr->len;
    req->lang = request_lang(conn);
    req->secure = srv->tls;
    req->client = client;
    req->now_s = tu_now_s();
    req->who = &who;
    req->cfg = srv->cfg;
    req->server = srv;
    /* For the pages' cross-site check of form posts (page_same_origin()). */
    req->host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    req->origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
    req->referer = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_REFERER);

    if (!route) {
        if (path_known) {
            struct http_response e = {.status = 405};
            (void)http_error(&e, 405, "method_not_allowed", "%s %s: allowed: %s", method, url,
                             allow);
            return send_response(srv, conn, &e, "none", allow);
        }
        if (strcmp(match_method, "GET") == 0) {
            int rc = static_file(srv, url, &resp);
            if (rc == 0)
                return send_response(srv, conn, &resp, "static", NULL);
            if (rc == -ENOMEM)
                return send_error(srv, conn, "static", 500, "internal", "out of memory");
        }
        return send_error(srv, conn, "none", 404, "not_found", "no such route or file");
    }

    /* Authenticate: credentials that do not hold are refused on a route
     * that needs some, and ignored on a public one (a stale cookie must
     * not keep a tablet from the pairing page). */
    const char *token = request_token(conn);
    const char *why = "no credentials: send Authorization: Bearer TOKEN";
    struct store *ro = NULL;
    bool pairing = route->handler == http_auth_pair_api || route->handler == http_auth_pair_form;
    int throttle_s = token || pairing ? auth_throttled(srv, client, req->now_s) : 0;
    if (throttle_s > 0 && pairing) {
        struct http_response e = {.status = 429};
        (void)http_error(&e, 429, "too_many_failures",
                         "too many wrong codes or tokens from %s: retry in %d s", client,
                         throttle_s);
        e.max_age_s = -throttle_s; /* the Retry-After (send_response()) */
        return send_response(srv, conn, &e, route->name, NULL);
    }
    if (token) {
        const char *msg = NULL;
        ro = thread_store(srv, &msg);
        if (!ro)
            return send_error(srv, conn, route->name, 503, "unavailable",
                              msg ? msg : "the database cannot be opened");
        int rc = http_auth_principal(ro, srv->cfg, token, req->now_s, &who, &why);
        if (rc < 0 && rc != -EACCES)
            return send_error(srv, conn, route->name, 503, "unavailable", store_errmsg(ro));
    }
    /* Credentials that do not hold are refused wherever some are needed,
     * loopback or not: a caller must learn that its token is dead. */
    bool bad_token = token && who.role == HTTP_ROLE_NONE;
    if (bad_token && throttle_s > 0) {
        struct http_response e = {.status = 429};
        (void)http_error(&e, 429, "too_many_failures",
                         "too many wrong codes or tokens from %s: retry in %d s", client,
                         throttle_s);
        e.max_age_s = -throttle_s; /* the Retry-After (send_response()) */
        return send_response(srv, conn, &e, route->name, NULL);
    }
    if (bad_token)
        auth_failed(srv, client, req->now_s);
    bool allowed =
        (route->roles & (1u << who.role)) != 0 ||
        (route == METRICS_ROUTE && loopback && !bad_token && !srv->cfg->http.behind_proxy);
    if (!allowed && who.role == HTTP_ROLE_NONE && is_page_get(route, match_method)) {
        /* A browser without a (live) session cookie: to the pairing form,
         * not a JSON 401 a tablet would show as text. */
        resp.status = 303;
        resp.content_type = "text/html; charset=utf-8";
        (void)snprintf(resp.location, sizeof(resp.location), "/pair");
        return send_response(srv, conn, &resp, route->name, NULL);
    }
    if (!allowed && who.role == HTTP_ROLE_NONE)
        return send_error(srv, conn, route->name, 401, "unauthorized", why);
    if (!allowed)
        return send_error(srv, conn, route->name, 403, "forbidden",
                          "this token's role may not use this route");
    if (!ro) {
        const char *msg = NULL;
        ro = thread_store(srv, &msg);
        if (!ro)
            return send_error(srv, conn, route->name, 503, "unavailable",
                              msg ? msg : "the database cannot be opened");
    }
    req->ro = ro;
    int rc = route->handler(req, &resp);
    if (rc == 0 && pairing && (resp.status == 401 || strcmp(resp.location, "/pair?error=1") == 0))
        auth_failed(srv, client, req->now_s);
    if (api_status_cache_clear && strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        api_status_cache_clear();
    if (rc < 0) {
        http_buf_free(&resp.body);
        log_err("http: %s %s from %s: %s", method, url, client, strerror(-rc));
        return send_error(srv, conn, route->name, 500, "internal", strerror(-rc));
    }
    return send_response(srv, conn, &resp, route->name, NULL);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct http_server *srv = cls;
    struct conn_req *cr = *con_cls;
    (void)version;

    if (!cr) {
        cr = calloc(1, sizeof(*cr));
        if (!cr)
            return MHD_NO;
        cr->conn = conn;
        *con_cls = cr;
        /* Said before reading a byte of it. */
        const char *cl =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > FOYER_HTTP_BODY_MAX)
            return send_error(
                srv, conn, "none", 413, "body_too_large",
                "request bodies are limited to " HTTP_STR(FOYER_HTTP_BODY_MAX) " bytes");
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (cr->too_large || cr->len + n > FOYER_HTTP_BODY_MAX) {
            cr->too_large = true; /* chunked: read and dropped, then 413 */
            return MHD_YES;
        }
        char *b = realloc(cr->body, cr->len + n + 1);
        if (!b)
            return MHD_NO;
        memcpy(b + cr->len, upload_data, n);
        cr->body = b;
        cr->len += n;
        cr->body[cr->len] = '\0';
        return MHD_YES;
    }
    return dispatch(srv, conn, cr, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct conn_req *cr = *con_cls;
    (void)cls;
    (void)conn;
    (void)toe;
    if (!cr)
        return;
    free(cr->body);
    free(cr->form);
    free(cr);
    *con_cls = NULL;
}

/* libmicrohttpd's log callback: its format string is the library's. */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    (void)cls;
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    log_debug("http: %s", msg);
}

/* ---- start and stop ------------------------------------------------------ */

/* The whole of a PEM file, NUL-terminated, for libmicrohttpd's *_MEM
 * options.  0 or -errno. */
static int read_pem(const char *path, char **ret)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    char *buf = malloc(FOYER_HTTP_PEM_MAX + 1);
    size_t got = 0;
    int rc = buf ? 0 : -ENOMEM;
    while (rc == 0) {
        ssize_t r = read(fd, buf + got, FOYER_HTTP_PEM_MAX + 1 - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            rc = -errno;
        else if (r == 0)
            break;
        else if ((got += (size_t)r) > FOYER_HTTP_PEM_MAX)
            rc = -EFBIG;
    }
    close(fd);
    if (rc < 0) {
        free(buf);
        return rc;
    }
    buf[got] = '\0';
    *ret = buf;
    return 0;
}

static void server_free(struct http_server *srv)
{
    for (size_t i = 0; i < srv->n_ro; i++)
        store_close(srv->ro[i]);
    free(srv->ro);
    (void)pthread_key_delete(srv->ro_key);
    pthread_mutex_destroy(&srv->lock);
    free(srv->tls_cert);
    free(srv->tls_key);
    free(srv);
}

struct http_server *http_server_start(const struct foyer_config *cfg, http_snapshot_fn snapshot,
                                      void *snapshot_ctx, int *ret_err, char *ret_msg, size_t len)
{
    const struct http_conf *h = &cfg->http;
    struct http_server *srv = calloc(1, sizeof(*srv));
    struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICSERV, .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    char port[16];
    int rc;

    if (!srv) {
        *ret_err = -ENOMEM;
        (void)snprintf(ret_msg, len, "out of memory");
        return NULL;
    }
    srv->cfg = cfg;
    srv->snapshot = snapshot;
    srv->snapshot_ctx = snapshot_ctx;
    pthread_mutex_init(&srv->lock, NULL);
    if (pthread_key_create(&srv->ro_key, NULL) != 0) {
        pthread_mutex_destroy(&srv->lock);
        free(srv);
        *ret_err = -EAGAIN;
        (void)snprintf(ret_msg, len, "no thread-specific key left");
        return NULL;
    }
    size_t t = 0;
    srv->tables[t++] = server_routes;
    if (http_api_routes)
        srv->tables[t++] = http_api_routes;
    if (http_page_routes)
        srv->tables[t++] = http_page_routes;
    srv->tables[t] = NULL;
    if (h->web_dir && !realpath(h->web_dir, srv->web_root)) {
        log_warn("http: web_dir %s: %s; no static files are served", h->web_dir, strerror(errno));
        srv->web_root[0] = '\0';
    }

    if (h->tls_cert && h->tls_key) {
        rc = read_pem(h->tls_cert, &srv->tls_cert);
        if (rc == 0)
            rc = read_pem(h->tls_key, &srv->tls_key);
        if (rc < 0) {
            *ret_err = rc;
            (void)snprintf(ret_msg, len, "cannot read the TLS certificate or key (%s, %s): %s",
                           h->tls_cert, h->tls_key, strerror(-rc));
            goto out_free;
        }
        srv->tls = true;
    }

    (void)snprintf(port, sizeof(port), "%d", h->port);
    rc = getaddrinfo(h->listen, port, &hints, &ai);
    if (rc != 0) {
        *ret_err = -EADDRNOTAVAIL;
        (void)snprintf(ret_msg, len, "listen = %s: %s", h->listen, gai_strerror(rc));
        goto out_free;
    }
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (srv->tls)
        flags |= MHD_USE_TLS;
    /* The TLS options only with TLS: libmicrohttpd refuses them without. */
    srv->mhd = MHD_start_daemon(
        flags, (uint16_t)h->port, NULL, NULL, on_request, srv, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)FOYER_HTTP_THREADS, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)FOYER_HTTP_TIMEOUT_S, MHD_OPTION_CONNECTION_LIMIT, (unsigned)FOYER_HTTP_CONN_MAX,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)FOYER_HTTP_CONN_PER_IP_MAX,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)FOYER_HTTP_CONN_MEMORY,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, 1U,
        srv->tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, srv->tls_cert,
        MHD_OPTION_HTTPS_MEM_KEY, srv->tls_key, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!srv->mhd) {
        *ret_err = -EADDRINUSE;
        (void)snprintf(ret_msg, len,
                       "cannot listen on %s port %d (address in use, not local, or the TLS "
                       "certificate and key refused)",
                       h->listen, h->port);
        goto out_free;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->mhd, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = di ? di->port : h->port;
    /* Said once: a build without the API or the pages (their tables are
     * weak references) must not pass for a full one. */
    size_t n_api = 0, n_pages = 0;
    for (const struct http_route *r = http_api_routes; r && r->method; r++)
        n_api++;
    for (const struct http_route *r = http_page_routes; r && r->method; r++)
        n_pages++;
    log_info("http: %zu API routes, %zu page routes, static files from %s", n_api, n_pages,
             srv->web_root[0] ? srv->web_root : "nowhere");
    return srv;

out_free:
    server_free(srv);
    return NULL;
}

void http_server_stop(struct http_server *srv)
{
    if (!srv)
        return;
    MHD_stop_daemon(srv->mhd);
    server_free(srv);
    if (api_status_cache_clear)
        api_status_cache_clear();
}
