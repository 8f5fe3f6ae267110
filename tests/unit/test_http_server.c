/*
 * test_http_server.c - the HTTP server (daemon/http/http_server.c,
 * http_auth.c, http_buf.c) with a route table of this test's own: this
 * binary compiles the server's files and defines http_api_routes[] and
 * http_page_routes[] itself (the product's come from http_api.c and
 * http_pages.c).  A real server on a loopback port, a real database with
 * tokens made by store_auth_create(), libcurl as the client.
 *
 * Checks: path parameters and query/form arguments reach the handler;
 * every role against routes of every permission (200, 401, 403); a tenant
 * principal carries its dwelling and tenancy, an ambassador its buildings;
 * a handler's failure is a JSON 500; HEAD; the buffer's escapes, the error
 * shape, the constant-time hash compare, token and code formats.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "foyer/http.h"
#include "foyer/store_auth.h"
#include "http_int.h"
#include "testutil.h"

/* ---- the test's routes ---------------------------------------------------- */

static int h_echo(const struct http_request *req, struct http_response *resp)
{
    const char *q = http_arg(req, "q");
    (void)http_buf_printf(&resp->body, "role=%d dwelling=%d n=%zu p0=%s p1=%s q=%s lang=%s",
                          (int)req->who->role, req->who->dwelling, req->n_params,
                          req->n_params > 0 ? req->params[0] : "-",
                          req->n_params > 1 ? req->params[1] : "-", q ? q : "-", req->lang);
    if (req->who->role == HTTP_ROLE_TENANT)
        (void)http_buf_printf(&resp->body, " from=%lld to_max=%d",
                              (long long)req->who->tenancy_from_s,
                              req->who->tenancy_to_s == INT64_MAX);
    resp->content_type = "text/plain";
    return 0;
}

static int h_form(const struct http_request *req, struct http_response *resp)
{
    const char *a = http_arg(req, "a");
    (void)http_buf_printf(&resp->body, "a=[%s] len=%zu", a ? a : "-", req->body_len);
    resp->content_type = "text/plain";
    return 0;
}

static int h_amb(const struct http_request *req, struct http_response *resp)
{
    (void)http_buf_printf(&resp->body, "b0=%d b1=%d n=%u", http_principal_has_building(req->who, 0),
                          http_principal_has_building(req->who, 1), req->who->n_buildings);
    resp->content_type = "text/plain";
    return 0;
}

static int h_fail(const struct http_request *req, struct http_response *resp)
{
    (void)req;
    (void)http_buf_str(&resp->body, "half written");
    return -ENOMEM;
}

const struct http_route http_api_routes[] = {
    {"GET", "/api/v1/t/dwellings/{id}/x/{k}", HTTP_ALLOW_TENANT | HTTP_ALLOW_ENERGY_TEAM, h_echo,
     "/api/v1/t/dwellings/{id}/x/{k}"},
    {"GET", "/api/v1/t/amb", HTTP_ALLOW_AMBASSADOR | HTTP_ALLOW_ENERGY_TEAM, h_amb,
     "/api/v1/t/amb"},
    {"GET", "/api/v1/t/fail", HTTP_ALLOW_PUBLIC, h_fail, "/api/v1/t/fail"},
    {NULL, NULL, 0, NULL, NULL},
};
const struct http_route http_page_routes[] = {
    {"POST", "/t/form", HTTP_ALLOW_PUBLIC, h_form, "/t/form"},
    {NULL, NULL, 0, NULL, NULL},
};

/* ---- the client ------------------------------------------------------------ */

struct got {
    long status;
    char body[65536];
    size_t len;
};

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
    struct got *g = ctx;
    size_t k = size * n;
    size_t room = sizeof(g->body) - 1 - g->len;
    memcpy(g->body + g->len, p, k < room ? k : room);
    g->len += k < room ? k : room;
    g->body[g->len] = '\0';
    return k;
}

static struct got request(int port, const char *method, const char *path, const char *token,
                          const char *body)
{
    struct got g = {0};
    char url[512], auth[128];
    struct curl_slist *h = NULL;
    CURL *c = curl_easy_init();
    (void)snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &g);
    if (token) {
        (void)snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        h = curl_slist_append(h, auth);
    }
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &g.status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return g;
}

/* ---- setup ----------------------------------------------------------------- */

struct srv_env {
    struct tenv t;
    struct http_server *srv;
    int port;
    char tenant[STORE_AUTH_TOKEN_LEN + 1];
    char amb[STORE_AUTH_TOKEN_LEN + 1];
    char team[STORE_AUTH_TOKEN_LEN + 1];
};

/* Whether the last snapshot was asked without its device list. */
static atomic_int snap_skipped = -1;

static void snapshot(void *ctx, struct http_snapshot *ret)
{
    (void)ctx;
    atomic_store(&snap_skipped, ret->skip_devices ? 1 : 0);
    ret->writer_alive = true;
    ret->queue_capacity = 100;
}

static void add_token(struct srv_env *e, const char *name, const char *role, const char *dwelling,
                      const char *tenancy, const char *buildings, char *out)
{
    struct store_token t = {.created_s = tu_now_s()};
    uint8_t hash[STORE_AUTH_HASH_LEN];
    int64_t id;
    (void)snprintf(t.name, sizeof(t.name), "%s", name);
    (void)snprintf(t.role, sizeof(t.role), "%s", role);
    (void)snprintf(t.dwelling, sizeof(t.dwelling), "%s", dwelling);
    (void)snprintf(t.tenancy, sizeof(t.tenancy), "%s", tenancy);
    (void)snprintf(t.buildings, sizeof(t.buildings), "%s", buildings);
    assert_int_equal(store_auth_new_token(out), 0);
    assert_int_equal(store_auth_hash(out, hash), 0);
    assert_int_equal(store_auth_create(e->t.db, &t, hash, false, 0, &id, NULL), 0);
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static int setup(void **state)
{
    struct srv_env *e = calloc(1, sizeof(*e));
    char extra[512], msg[256];
    int err = 0;
    e->port = free_port();
    (void)snprintf(extra, sizeof(extra),
                   "[building b2]\n[dwelling d2]\nbuilding = b2\nsurface_m2 = 40\n"
                   "heating = gas\n[tenancy t1]\ndwelling = d1\nstart = 2024-03-01\n"
                   "[http]\nport = %d\n",
                   e->port);
    assert_int_equal(tenv_setup(&e->t, extra), 0);
    add_token(e, "tenant", "tenant", "d1", "t1", "", e->tenant);
    add_token(e, "amb", "ambassador", "", "", "b2,gone", e->amb);
    add_token(e, "team", "energy-team", "", "", "", e->team);
    e->srv = http_server_start(e->t.cfg, snapshot, NULL, &err, msg, sizeof(msg));
    if (!e->srv)
        fail_msg("http_server_start: %s", msg);
    assert_int_equal(http_server_port(e->srv), e->port);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct srv_env *e = *state;
    http_server_stop(e->srv);
    tenv_teardown(&e->t);
    free(e);
    return 0;
}

/* ---- tests ----------------------------------------------------------------- */

static void test_params_and_args(void **state)
{
    struct srv_env *e = *state;
    struct got g =
        request(e->port, "GET", "/api/v1/t/dwellings/d1/x/7?q=a%20b&lang=en", e->team, NULL);
    assert_int_equal(g.status, 200);
    assert_string_equal(g.body, "role=3 dwelling=-1 n=2 p0=d1 p1=7 q=a b lang=en");
    /* An empty segment is not a parameter: no route. */
    g = request(e->port, "GET", "/api/v1/t/dwellings//x/7", e->team, NULL);
    assert_int_equal(g.status, 404);
    /* A form post's fields, decoded. */
    g = request(e->port, "POST", "/t/form", NULL, "z=1&a=x%26y+z");
    assert_int_equal(g.status, 200);
    assert_string_equal(g.body, "a=[x&y z] len=13");
}

static void test_roles(void **state)
{
    struct srv_env *e = *state;
    const char *echo = "/api/v1/t/dwellings/d1/x/1";
    assert_int_equal(request(e->port, "GET", echo, NULL, NULL).status, 401);
    assert_int_equal(request(e->port, "GET", echo, e->amb, NULL).status, 403);
    assert_int_equal(request(e->port, "GET", echo, e->team, NULL).status, 200);
    struct got g = request(e->port, "GET", echo, e->tenant, NULL);
    assert_int_equal(g.status, 200);
    char want[128];
    (void)snprintf(want, sizeof(want),
                   "role=1 dwelling=0 n=2 p0=d1 p1=1 q=- lang=fr from=%lld to_max=1",
                   (long long)tu_local_date(2024, 3, 1));
    assert_string_equal(g.body, want);

    assert_int_equal(request(e->port, "GET", "/api/v1/t/amb", NULL, NULL).status, 401);
    assert_int_equal(request(e->port, "GET", "/api/v1/t/amb", e->tenant, NULL).status, 403);
    g = request(e->port, "GET", "/api/v1/t/amb", e->amb, NULL);
    assert_int_equal(g.status, 200);
    /* b2 is config building 1; "gone" is in no config: skipped. */
    assert_string_equal(g.body, "b0=0 b1=1 n=1");
    g = request(e->port, "GET", "/api/v1/t/amb", e->team, NULL);
    assert_string_equal(g.body, "b0=1 b1=1 n=0");
    /* A token one character off. */
    char bad[STORE_AUTH_TOKEN_LEN + 1];
    memcpy(bad, e->team, sizeof(bad));
    bad[10] = bad[10] == 'A' ? 'B' : 'A';
    g = request(e->port, "GET", "/api/v1/t/amb", bad, NULL);
    assert_int_equal(g.status, 401);
    assert_non_null(strstr(g.body, "\"error\": \"unauthorized\""));
}

static void test_failures(void **state)
{
    struct srv_env *e = *state;
    struct got g = request(e->port, "GET", "/api/v1/t/fail", NULL, NULL);
    assert_int_equal(g.status, 500);
    assert_string_equal(g.body,
                        "{\"error\": \"internal\", \"detail\": \"Cannot allocate memory\"}\n");
    g = request(e->port, "POST", "/api/v1/t/amb", e->team, "x=1");
    assert_int_equal(g.status, 405);
    g = request(e->port, "HEAD", "/api/v1/t/amb", e->team, NULL);
    assert_int_equal(g.status, 200);
    assert_int_equal(g.len, 0);
    /* /metrics from loopback without behind_proxy: open; the outbox depth
     * is what the database holds (2 pending, 1 delivered). */
    assert_int_equal(
        sqlite3_exec(tdb(&e->t),
                     "INSERT INTO outbox(endpoint, key, dwelling, body, created, state)"
                     " VALUES ('p', 'k1', 'd1', '{}', 1, 0), ('p', 'k2', 'd1', '{}', 1, 0),"
                     " ('p', 'k3', 'd1', '{}', 1, 1)",
                     NULL, NULL, NULL),
        SQLITE_OK);
    g = request(e->port, "GET", "/metrics", NULL, NULL);
    assert_int_equal(g.status, 200);
    assert_non_null(strstr(g.body, "\nfoyer_push_outbox_depth 2\n"));
    assert_int_equal(atomic_load(&snap_skipped), 0);
    g = request(e->port, "GET", "/healthz", NULL, NULL);
    assert_int_equal(g.status, 200);
    /* /healthz asks for no device list: foyerd's copy of its device table
     * made every probe as slow as /metrics (1 400 a second for 600
     * devices, against 60 000 for a static file). */
    assert_int_equal(atomic_load(&snap_skipped), 1);
}

static void test_buf_and_auth(void **state)
{
    (void)state;
    struct http_buf b = {0};
    assert_int_equal(http_buf_html(&b, "<a href=\"x\">&'</a>"), 0);
    assert_string_equal(b.data, "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
    http_buf_free(&b);
    assert_int_equal(http_buf_json_str(&b, "a\"b\\c\nd\x01"), 0);
    assert_string_equal(b.data, "\"a\\\"b\\\\c\\nd\\u0001\"");
    http_buf_free(&b);
    struct http_response r = {0};
    assert_int_equal(http_error(&r, 404, "not_found", "no %s", "x\"y"), 0);
    assert_int_equal(r.status, 404);
    assert_string_equal(r.body.data, "{\"error\": \"not_found\", \"detail\": \"no x\\\"y\"}\n");
    http_buf_free(&r.body);

    /* Tokens: 43 base64url characters, different each time; codes: 8 of
     * the unambiguous alphabet. */
    char t1[STORE_AUTH_TOKEN_LEN + 1], t2[STORE_AUTH_TOKEN_LEN + 1], c[STORE_AUTH_CODE_LEN + 1];
    assert_int_equal(store_auth_new_token(t1), 0);
    assert_int_equal(store_auth_new_token(t2), 0);
    assert_int_equal(strlen(t1), 43);
    assert_int_equal(strspn(t1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
                     43);
    assert_string_not_equal(t1, t2);
    assert_int_equal(store_auth_new_code(c), 0);
    assert_int_equal(strspn(c, STORE_AUTH_CODE_ALPHABET), STORE_AUTH_CODE_LEN);
    /* The constant-time compare: equal, and a difference in the first or
     * the last byte. */
    uint8_t h1[STORE_AUTH_HASH_LEN], h2[STORE_AUTH_HASH_LEN];
    assert_int_equal(store_auth_hash(t1, h1), 0);
    memcpy(h2, h1, sizeof(h2));
    assert_true(store_auth_hash_equal(h1, h2));
    h2[0] ^= 1;
    assert_false(store_auth_hash_equal(h1, h2));
    h2[0] ^= 1;
    h2[STORE_AUTH_HASH_LEN - 1] ^= 0x80;
    assert_false(store_auth_hash_equal(h1, h2));
    /* SHA-256 of "abc" (FIPS 180-2). */
    static const uint8_t abc[] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
                                  0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
                                  0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
    assert_int_equal(store_auth_hash("abc", h1), 0);
    assert_memory_equal(h1, abc, sizeof(abc));
}

/* Pairing at the store: a code is exchanged once, not after its 15
 * minutes, not after FOYER_PAIR_TRIES_MAX wrong codes in all, not once
 * revoked; the token it gives is found by its hash. */
static void test_pairing_rules(void **state)
{
    struct srv_env *e = *state;
    struct store_token t = {.created_s = tu_now_s()}, got;
    uint8_t code_a[STORE_AUTH_HASH_LEN], code_b[STORE_AUTH_HASH_LEN], wrong[STORE_AUTH_HASH_LEN];
    uint8_t tok[STORE_AUTH_HASH_LEN];
    int64_t id_a, id_b, now = t.created_s;

    (void)snprintf(t.role, sizeof(t.role), "tenant");
    (void)snprintf(t.dwelling, sizeof(t.dwelling), "d1");
    (void)snprintf(t.tenancy, sizeof(t.tenancy), "t1");
    assert_int_equal(store_auth_hash("AAAAAAAA", code_a), 0);
    assert_int_equal(store_auth_hash("BBBBBBBB", code_b), 0);
    assert_int_equal(store_auth_hash("CCCCCCCC", wrong), 0);
    assert_int_equal(store_auth_hash("the token", tok), 0);
    (void)snprintf(t.name, sizeof(t.name), "pa");
    assert_int_equal(
        store_auth_create(e->t.db, &t, code_a, true, now + FOYER_PAIR_VALID_S, &id_a, NULL), 0);
    (void)snprintf(t.name, sizeof(t.name), "pb");
    assert_int_equal(
        store_auth_create(e->t.db, &t, code_b, true, now + FOYER_PAIR_VALID_S, &id_b, NULL), 0);
    /* Not before its exchange: a pairing token has no hash to be found by. */
    assert_int_equal(store_auth_lookup(e->t.s, tok, &got), -ENOENT);
    /* Expired: 15 minutes later. */
    assert_int_equal(store_auth_pair(e->t.db, code_a, tok, now + FOYER_PAIR_VALID_S, 5, &got, NULL),
                     -ENOENT);
    /* Four wrong codes (and the late try above): five failures counted on
     * every live code, so both are dead now. */
    for (int i = 0; i < 4; i++)
        assert_int_equal(
            store_auth_pair(e->t.db, wrong, tok, now, FOYER_PAIR_TRIES_MAX, &got, NULL), -ENOENT);
    assert_int_equal(store_auth_pair(e->t.db, code_b, tok, now, FOYER_PAIR_TRIES_MAX, &got, NULL),
                     -ENOENT);
    /* With room for more tries, a live code is exchanged once. */
    assert_int_equal(store_auth_pair(e->t.db, code_a, tok, now, 100, &got, NULL), 0);
    assert_int_equal(got.id, id_a);
    assert_false(got.pairing);
    assert_int_equal(store_auth_pair(e->t.db, code_a, tok, now, 100, &got, NULL), -ENOENT);
    assert_int_equal(store_auth_lookup(e->t.s, tok, &got), 0);
    assert_int_equal(got.id, id_a);
    assert_string_equal(got.tenancy, "t1");
    /* A revoked pairing token's code is dead. */
    assert_int_equal(store_auth_revoke(e->t.db, "pb", now, NULL), 0);
    assert_int_equal(store_auth_revoke(e->t.db, "pb", now, NULL), -EALREADY);
    assert_int_equal(store_auth_pair(e->t.db, code_b, wrong, now, 100, &got, NULL), -ENOENT);
    assert_int_equal(store_auth_revoke(e->t.db, "no such", now, NULL), -ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_params_and_args), cmocka_unit_test(test_roles),
        cmocka_unit_test(test_failures),        cmocka_unit_test(test_buf_and_auth),
        cmocka_unit_test(test_pairing_rules),
    };
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
