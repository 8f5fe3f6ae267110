/*
 * test_http_api.c - the JSON API's handlers (daemon/http/http_api*.c) on a
 * real database: a config of two buildings, three dwellings (one without
 * consent), two tenancies of one dwelling, a meter and a sensor; weeks of
 * hourly readings through store_ingest(); a summary computed by the real
 * engine and stored as foyerd stores it.  Each route is called through the
 * route table (method and pattern, path parameters taken as the server
 * does) with a principal of each role, and its status and JSON checked:
 * what each role sees, the tenancy clip (a household sees nothing of the
 * one before it), consent, every bad parameter named, unknown ids, and the
 * CSV export byte for byte against `foyerctl export`.
 *
 * The server is written in parallel: the few http_int.h helpers the
 * handlers call come from tests/unit/http_harness.c (a test harness: http_arg(); the buffers are
 * the real http_buf.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>

#include "foyer/coach.h"
#include "foyer/store_outbox.h"
#include "http_api_int.h"
#include "http_harness.h"
#include "testutil.h"

#define H 3600

static const char *src_dir(void)
{
    const char *s = getenv("FOYER_SRC");
    return s ? s : "..";
}

static const char conf_text[] = "[foyer]\n"
                                "database = %s\n"
                                "timezone = Europe/Paris\n"
                                "profiles_dir = %s/config/profiles\n"
                                "[building b1]\n"
                                "name = Les Tilleuls\n"
                                "[building b2]\n"
                                "[dwelling d1]\n"
                                "building = b1\n"
                                "label = A, 1er gauche\n"
                                "surface_m2 = 50\n"
                                "heating = electric\n"
                                "consent = true\n"
                                "[dwelling d2]\n"
                                "building = b1\n"
                                "label = A, 2e droite\n"
                                "surface_m2 = 60\n"
                                "heating = gas\n"
                                "[dwelling d3]\n"
                                "building = b2\n"
                                "surface_m2 = 40\n"
                                "heating = electric\n"
                                "consent = true\n"
                                "[tenancy t1]\n"
                                "dwelling = d1\n"
                                "start = 2026-01-01\n"
                                "end = 2026-06-30\n"
                                "[tenancy t2]\n"
                                "dwelling = d1\n"
                                "start = 2026-07-01\n"
                                "[channel elec1]\n"
                                "dwelling = d1\n"
                                "quantity = electricity\n"
                                "[channel sub1]\n"
                                "dwelling = d1\n"
                                "quantity = electricity\n"
                                "submeter = true\n"
                                "[channel water1]\n"
                                "dwelling = d1\n"
                                "quantity = cold_water\n"
                                "[channel elec2]\n"
                                "dwelling = d2\n"
                                "quantity = electricity\n"
                                "[channel elec3]\n"
                                "dwelling = d3\n"
                                "quantity = electricity\n"
                                "[channel common]\n"
                                "building = b1\n"
                                "quantity = electricity\n"
                                "[bus gw]\n"
                                "type = tcp\n"
                                "host = 127.0.0.1\n"
                                "[meter m2]\n"
                                "profile = sdm120\n"
                                "bus = gw\n"
                                "unit_id = 1\n"
                                "dwelling = d2\n"
                                "[dwelling d4]\n"
                                "building = b1\n"
                                "surface_m2 = 45\n"
                                "heating = gas\n"
                                "[channel e4]\n"
                                "dwelling = d4\n"
                                "quantity = electricity\n"
                                "[dwelling d5]\n"
                                "building = b1\n"
                                "surface_m2 = 45\n"
                                "heating = gas\n"
                                "[channel e5]\n"
                                "dwelling = d5\n"
                                "quantity = electricity\n"
                                "[dwelling d6]\n"
                                "building = b1\n"
                                "surface_m2 = 45\n"
                                "heating = gas\n"
                                "[channel e6]\n"
                                "dwelling = d6\n"
                                "quantity = electricity\n"
                                "[dwelling d7]\n"
                                "building = b1\n"
                                "surface_m2 = 45\n"
                                "heating = gas\n"
                                "[channel e7]\n"
                                "dwelling = d7\n"
                                "quantity = electricity\n"
                                "[dwelling d8]\n"
                                "building = b1\n"
                                "surface_m2 = 45\n"
                                "heating = gas\n"
                                "[channel e8]\n"
                                "dwelling = d8\n"
                                "quantity = electricity\n"
                                "[sensor s2]\n"
                                "topic = z/s2\n"
                                "preset = zigbee2mqtt\n"
                                "building = b1\n"
                                "[sensor s1]\n"
                                "topic = z/s1\n"
                                "preset = zigbee2mqtt\n"
                                "dwelling = d1\n";

struct env {
    struct tenv t;
    struct store *ro;
    int64_t now_s;
    struct http_principal tenant1, tenant2, tenant_d2, amb_b1, team, none;
};

static struct env *G;

static int64_t day(const char *ymd)
{
    char buf[40];
    snprintf(buf, sizeof(buf), "%sT00:00:00", ymd);
    return tiso(buf);
}

/* Hourly counter readings of channel ch from t0 for n hours, rate per hour. */
static int feed(struct env *e, const char *ch, int64_t t0, int hours, double rate)
{
    struct reading *r = calloc((size_t)hours + 1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    for (int i = 0; i <= hours; i++)
        r[i] = (struct reading){
            .channel = tchan(&e->t, ch), .ts_s = t0 + (int64_t)i * H, .value = 1000 + rate * i};
    int rc = store_ingest(e->t.s, r, (size_t)hours + 1, 0, &e->t.stats);
    free(r);
    return rc;
}

/* The week 2026-W27 (29 June to 5 July) of d1, computed by the engine as
 * foyerd does and stored as the pusher stores it: clipped to tenancy t2,
 * which started on 1 July. */
static int store_summary(struct env *e)
{
    char dir[512];
    struct summary_lang *fr = NULL;
    struct conf_errors errs = {0};
    struct summary_period p;
    json_t *doc = NULL;
    snprintf(dir, sizeof(dir), "%s/config", src_dir());
    if (summary_lang_load(dir, "fr", &fr, &errs) < 0)
        return -1;
    struct summary_engine *eng = summary_engine_new(e->t.cfg, e->ro, fr, DJU_METEO_FRANCE);
    if (!eng || summary_period_parse("2026-W27", &p) < 0 ||
        summary_compute(eng, (uint32_t)config_find_dwelling(e->t.cfg, "d1"), &p, e->now_s, &doc) <
            0)
        return -1;
    char *body = json_dumps(doc, SUMMARY_JSON_FLAGS);
    struct store_outbox *o;
    const char *msg;
    struct store_outbox_summary s = {
        .key = "k1", .dwelling = "d1", .period = "2026-W27", .body = body};
    uint64_t queued;
    int rc = store_outbox_open(e->t.db, &o, &msg);
    if (rc == 0) {
        rc = store_outbox_add(o, &s, SUMMARY_SCHEMA_VERSION, NULL, 0, e->now_s, &queued, NULL);
        store_outbox_close(o);
    }
    free(body);
    json_decref(doc);
    summary_engine_free(eng);
    summary_lang_free(fr);
    return rc;
}

static int setup(void **state)
{
    struct env *e = calloc(1, sizeof(*e));
    struct tenv *t = &e->t;
    const char *msg;
    if (!e)
        return -1;
    *state = e; /* teardown frees what was made */
    snprintf(t->dir, sizeof(t->dir), "/tmp/foyer-test-XXXXXX");
    if (!mkdtemp(t->dir))
        return -1;
    snprintf(t->db, sizeof(t->db), "%s/foyer.db", t->dir);
    snprintf(t->conf, sizeof(t->conf), "%s/foyer.conf", t->dir);
    FILE *f = fopen(t->conf, "w");
    if (!f)
        return -1;
    fprintf(f, conf_text, t->db, src_dir());
    fclose(f);
    struct conf_errors errs = {0};
    t->cfg = config_load(t->conf, &errs);
    if (!t->cfg) {
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "%s\n", errs.msgs[i]);
        return -1;
    }
    if (tu_set_zone(t->cfg->timezone) < 0 || store_open(t->db, t->cfg, &t->s, &msg) < 0)
        return -1;

    /* 20 June to 12 July 2026: d1 1 kWh/h (its submeter 0.5), 10 L/h of
     * water, d2 2 kWh/h, d3 4 kWh/h, the common meter 3 kWh/h. */
    int64_t t0 = day("2026-06-20"), hours = (day("2026-07-12") - t0) / H;
    if (feed(e, "elec1", t0, (int)hours, 1) < 0 || feed(e, "sub1", t0, (int)hours, 0.5) < 0 ||
        feed(e, "water1", t0, (int)hours, 10) < 0 || feed(e, "elec2", t0, (int)hours, 2) < 0 ||
        feed(e, "elec3", t0, (int)hours, 4) < 0 || feed(e, "common", t0, (int)hours, 3) < 0)
        return -1;
    /* Five more households of b1, 1 kWh/h from 6 July: seven dwellings
     * with electricity, one with water. */
    for (int i = 4; i <= 8; i++) {
        char ch[8];
        snprintf(ch, sizeof(ch), "e%d", i);
        if (feed(e, ch, day("2026-07-06"), 4 * 24, 1) < 0)
            return -1;
    }
    e->now_s = tiso("2026-07-08T12:00:00+02:00"); /* a Wednesday */
    /* The sensor's temperature 100 s ago; the meter's voltage a day ago. */
    struct reading r = {.channel = tchan(t, "s1.temperature"), .ts_s = e->now_s - 100, .value = 20};
    if (store_ingest(t->s, &r, 1, 0, &t->stats) < 0)
        return -1;
    r = (struct reading){.channel = tchan(t, "m2.voltage"), .ts_s = e->now_s - 86400, .value = 230};
    if (store_ingest(t->s, &r, 1, 0, &t->stats) < 0)
        return -1;
    /* s2, in the common areas, no driver report (foyerd has not run it):
     * judged by its newest reading, two days old. */
    r = (struct reading){
        .channel = tchan(t, "s2.temperature"), .ts_s = e->now_s - 2 * 86400, .value = 12};
    if (store_ingest(t->s, &r, 1, 0, &t->stats) < 0)
        return -1;
    struct device_health h[2] = {{.device = "s1",
                                  .kind = "sensor",
                                  .state = "fresh",
                                  .since_s = e->now_s - 7200,
                                  .last_success_s = e->now_s - 100},
                                 {.device = "m2",
                                  .kind = "meter",
                                  .state = "offline",
                                  .since_s = e->now_s - 3000,
                                  .last_success_s = e->now_s - 86400}};
    struct device_event ev = {.device = "m2", .ts_s = e->now_s - 3000, .kind = "offline"};
    snprintf(ev.detail, sizeof(ev.detail), "3 polls missed: timeout");
    if (store_put_devices(t->s, &ev, 1, h, 2) < 0)
        return -1;
    if (store_open_readonly(t->db, t->cfg, &e->ro, &msg) < 0 || store_summary(e) < 0)
        return -1;

    int32_t d1 = config_find_dwelling(t->cfg, "d1");
    e->tenant1 = (struct http_principal){.role = HTTP_ROLE_TENANT,
                                         .token_id = 1,
                                         .dwelling = d1,
                                         .tenancy_from_s = day("2026-01-01"),
                                         .tenancy_to_s = day("2026-07-01")};
    e->tenant2 = (struct http_principal){.role = HTTP_ROLE_TENANT,
                                         .token_id = 2,
                                         .dwelling = d1,
                                         .tenancy_from_s = day("2026-07-01"),
                                         .tenancy_to_s = INT64_MAX};
    e->tenant_d2 = (struct http_principal){.role = HTTP_ROLE_TENANT,
                                           .token_id = 3,
                                           .dwelling = config_find_dwelling(t->cfg, "d2"),
                                           .tenancy_from_s = day("2025-01-01"),
                                           .tenancy_to_s = INT64_MAX};
    e->amb_b1 = (struct http_principal){.role = HTTP_ROLE_AMBASSADOR,
                                        .token_id = 4,
                                        .dwelling = -1,
                                        .n_buildings = 1,
                                        .buildings = {config_find_building(t->cfg, "b1")}};
    e->team = (struct http_principal){.role = HTTP_ROLE_ENERGY_TEAM, .token_id = 5, .dwelling = -1};
    e->none = (struct http_principal){.role = HTTP_ROLE_NONE, .dwelling = -1};
    G = e;
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct env *e = *state;
    if (!e)
        return 0;
    store_close(e->ro);
    tenv_teardown(&e->t);
    free(e);
    return 0;
}

/* ---- calling a route as the server does ---------------------------------- */

struct answer {
    int status;
    const char *type;
    char *body;
    json_t *json; /* NULL unless the body is JSON */
};

static void answer_free(struct answer *a)
{
    free(a->body);
    json_decref(a->json);
}

/* Match path against the table's pattern; params get the {x} segments. */
static bool route_match(const char *pattern, const char *path, char params[4][128], size_t *ret_n)
{
    size_t n = 0;
    while (*pattern && *path) {
        if (*pattern != '/' || *path != '/')
            return false;
        pattern++;
        path++;
        size_t pl = strcspn(pattern, "/"), ql = strcspn(path, "/");
        if (pattern[0] == '{') {
            if (ql == 0 || ql >= 128 || n == 4)
                return false;
            memcpy(params[n], path, ql);
            params[n++][ql] = '\0';
        } else if (pl != ql || strncmp(pattern, path, pl) != 0) {
            return false;
        }
        pattern += pl;
        path += ql;
    }
    *ret_n = n;
    return !*pattern && !*path;
}

/* Call METHOD PATH with query "a=1&b=2" (no escapes) as who.  The server's
 * part is mimicked: no route 404, a role not allowed 401/403. */
static struct answer call(const struct http_principal *who, const char *path, const char *query)
{
    struct answer a = {0};
    char params[4][128];
    const char *pp[4];
    size_t np = 0;
    const struct http_route *r = http_api_routes;
    for (; r->method; r++)
        if (strcmp(r->method, "GET") == 0 && route_match(r->pattern, path, params, &np))
            break;
    if (!r->method) {
        a.status = 404;
        return a;
    }
    if (!(r->roles & (1u << who->role))) {
        a.status = who->role == HTTP_ROLE_NONE ? 401 : 403;
        return a;
    }
    for (size_t i = 0; i < np; i++)
        pp[i] = params[i];
    struct harness_args args = {0};
    char q[512];
    snprintf(q, sizeof(q), "%s", query ? query : "");
    for (char *save = NULL, *kv = strtok_r(q, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq)
            continue;
        *eq = '\0';
        args.name[args.n] = kv;
        args.value[args.n++] = eq + 1;
    }
    struct http_request req = {.method = "GET",
                               .path = path,
                               .params = pp,
                               .n_params = np,
                               .lang = "fr",
                               .client = "127.0.0.1",
                               .now_s = G->now_s,
                               .who = who,
                               .cfg = G->t.cfg,
                               .ro = G->ro,
                               .server = &args};
    struct http_response resp = {.status = 200};
    int rc = r->handler(&req, &resp);
    if (rc < 0)
        fail_msg("GET %s?%s: handler returned %d", path, query ? query : "", rc);
    a.status = resp.status;
    a.type = resp.content_type;
    a.body = resp.body.data ? strdup(resp.body.data) : strdup("");
    if (!resp.content_type || strcmp(resp.content_type, "application/json") == 0) {
        json_error_t err;
        a.json = json_loads(a.body, 0, &err);
        if (!a.json)
            fail_msg("GET %s?%s: not JSON (%s): %s", path, query ? query : "", err.text, a.body);
    }
    http_buf_free(&resp.body);
    /* FOYER_API_EXAMPLES=1: print each exchange (docs/api.md's examples
     * come from here). */
    if (getenv("FOYER_API_EXAMPLES"))
        fprintf(stderr, "GET %s%s%s -> %d\n%s\n\n", path, query ? "?" : "", query ? query : "",
                a.status, a.body);
    return a;
}

/* The answer's status is want; for an error, its detail holds needle. */
static void expect(const struct http_principal *who, const char *path, const char *query, int want,
                   const char *needle)
{
    struct answer a = call(who, path, query);
    if (a.status != want)
        fail_msg("GET %s?%s as role %d: status %d, expected %d: %s", path, query ? query : "",
                 who->role, a.status, want, a.body ? a.body : "");
    if (needle) {
        const char *detail = json_string_value(json_object_get(a.json, "detail"));
        if (!detail || !strstr(detail, needle))
            fail_msg("GET %s?%s: detail \"%s\" does not name \"%s\"", path, query ? query : "",
                     detail ? detail : "(none)", needle);
    }
    answer_free(&a);
}

static double num(const json_t *j, const char *path)
{
    /* "a.b.0.c": objects by key, arrays by index. */
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", path);
    const json_t *cur = j;
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); k && cur;
         k = strtok_r(NULL, ".", &save))
        cur = json_is_array(cur) ? json_array_get(cur, strtoul(k, NULL, 10))
                                 : json_object_get(cur, k);
    if (!json_is_number(cur))
        fail_msg("%s is not a number", path);
    return json_number_value(cur);
}

static const char *str(const json_t *j, const char *key)
{
    const char *s = json_string_value(json_object_get(j, key));
    if (!s)
        fail_msg("%s is not a string", key);
    return s;
}

/* ---- the tests ----------------------------------------------------------- */

/* The route table: who may call what (tests/integration/http_roles.py
 * holds the same table for the server's test over the wire). */
static void test_route_roles(void **state)
{
    (void)state;
    static const struct {
        const char *pattern;
        unsigned roles;
        const char *method;
    } want[] = {
        {"/api/v1/me", HTTP_ALLOW_TENANT, "GET"},
        {"/api/v1/me/summary", HTTP_ALLOW_TENANT, "GET"},
        {"/api/v1/me/history", HTTP_ALLOW_TENANT, "GET"},
        {"/api/v1/me/export", HTTP_ALLOW_TENANT, "GET"},
        {"/api/v1/buildings", HTTP_ALLOW_AMBASSADOR | HTTP_ALLOW_ENERGY_TEAM, "GET"},
        {"/api/v1/buildings/{id}/status", HTTP_ALLOW_AMBASSADOR | HTTP_ALLOW_ENERGY_TEAM, "GET"},
        {"/api/v1/dwellings", HTTP_ALLOW_ENERGY_TEAM, "GET"},
        /* An ambassador with a household's grant (issue 15, sharing). */
        {"/api/v1/dwellings/{id}/summary", HTTP_ALLOW_AMBASSADOR | HTTP_ALLOW_ENERGY_TEAM, "GET"},
        {"/api/v1/dwellings/{id}/history", HTTP_ALLOW_AMBASSADOR | HTTP_ALLOW_ENERGY_TEAM, "GET"},
        {"/api/v1/me/grants", HTTP_ALLOW_TENANT, "GET"},
        {"/api/v1/me/grants", HTTP_ALLOW_TENANT, "POST"},
        {"/api/v1/me/grants/{id}/revoke", HTTP_ALLOW_TENANT, "POST"},
        {"/api/v1/me/ambassadors", HTTP_ALLOW_TENANT, "GET"},
        {"/api/v1/me/consents", HTTP_ALLOW_TENANT, "GET"},
        {"/api/v1/me/consents", HTTP_ALLOW_TENANT, "POST"},
        {"/api/v1/shared", HTTP_ALLOW_AMBASSADOR, "GET"},
        {"/api/v1/channels", HTTP_ALLOW_ENERGY_TEAM, "GET"},
        {"/api/v1/rollups", HTTP_ALLOW_ENERGY_TEAM, "GET"},
        {"/api/v1/events", HTTP_ALLOW_ENERGY_TEAM, "GET"},
        {"/api/v1/export.csv", HTTP_ALLOW_ENERGY_TEAM, "GET"},
        {"/api/v1/alerts", HTTP_ALLOW_AMBASSADOR | HTTP_ALLOW_ENERGY_TEAM, "GET"},
        {"/api/v1/alerts/{id}/ack", HTTP_ALLOW_AMBASSADOR | HTTP_ALLOW_ENERGY_TEAM, "POST"},
        {"/api/v1/reports/{id}/close", HTTP_ALLOW_AMBASSADOR | HTTP_ALLOW_ENERGY_TEAM, "POST"},
    };
    size_t n = 0;
    for (const struct http_route *r = http_api_routes; r->method; r++, n++) {
        size_t i = 0;
        while (i < sizeof(want) / sizeof(want[0]) &&
               (strcmp(want[i].pattern, r->pattern) != 0 || strcmp(want[i].method, r->method)))
            i++;
        if (i == sizeof(want) / sizeof(want[0]))
            fail_msg("route %s %s is not in the test's table", r->method, r->pattern);
        if (r->roles != want[i].roles || (r->roles & HTTP_ALLOW_PUBLIC))
            fail_msg("route %s: roles 0x%x, expected 0x%x", r->pattern, r->roles, want[i].roles);
        assert_string_equal(r->method, want[i].method);
        assert_non_null(r->name);
    }
    assert_int_equal(n, sizeof(want) / sizeof(want[0]));
    /* Without credentials nothing answers; the wrong role is refused. */
    expect(&G->none, "/api/v1/me", NULL, 401, NULL);
    expect(&G->team, "/api/v1/me", NULL, 403, NULL);
    expect(&G->tenant1, "/api/v1/buildings", NULL, 403, NULL);
    expect(&G->amb_b1, "/api/v1/dwellings", NULL, 403, NULL);
}

static void test_me(void **state)
{
    (void)state;
    struct answer a = call(&G->tenant2, "/api/v1/me", NULL);
    assert_int_equal(a.status, 200);
    json_t *d = json_object_get(a.json, "dwelling");
    assert_string_equal(str(d, "id"), "d1");
    assert_string_equal(str(d, "label"), "A, 1er gauche");
    assert_true(json_is_true(json_object_get(d, "consent")));
    assert_string_equal(str(json_object_get(a.json, "building"), "name"), "Les Tilleuls");
    json_t *ten = json_object_get(a.json, "tenancy");
    assert_string_equal(str(ten, "start"), "2026-07-01T00:00:00+02:00");
    assert_true(json_is_null(json_object_get(ten, "end")));
    /* elec1, sub1, water1 and the sensor's fields: all of d1's, none of d2's. */
    json_t *ch = json_object_get(a.json, "channels");
    size_t i;
    json_t *c;
    bool water = false;
    json_array_foreach(ch, i, c)
    {
        int32_t k = config_find_channel(G->t.cfg, str(c, "id"));
        assert_true(k >= 0);
        assert_int_equal(G->t.cfg->channels[k].dwelling, config_find_dwelling(G->t.cfg, "d1"));
        if (strcmp(str(c, "id"), "water1") == 0) {
            water = true;
            assert_string_equal(str(c, "unit"), "L");
            assert_string_equal(str(c, "quantity"), "cold_water");
        }
    }
    assert_true(water);
    answer_free(&a);

    /* The first household's token ended: its times say so. */
    a = call(&G->tenant1, "/api/v1/me", NULL);
    assert_string_equal(str(json_object_get(a.json, "tenancy"), "end"),
                        "2026-07-01T00:00:00+02:00");
    answer_free(&a);
}

static void test_history(void **state)
{
    (void)state;
    /* Days, asked from before the tenancy: clipped to 1 July; the
     * submeter is not added (24 kWh a day, not 36). */
    struct answer a = call(&G->tenant2, "/api/v1/me/history",
                           "quantity=electricity&granularity=day&from=2026-06-25&to=2026-07-05");
    assert_int_equal(a.status, 200);
    assert_true(json_is_true(json_object_get(a.json, "clipped_to_tenancy")));
    assert_string_equal(str(a.json, "from"), "2026-07-01T00:00:00+02:00");
    assert_string_equal(str(a.json, "unit"), "kWh");
    json_t *p = json_object_get(a.json, "periods");
    assert_int_equal(json_array_size(p), 5);
    for (size_t i = 0; i < 5; i++) {
        char path[32];
        snprintf(path, sizeof(path), "periods.%zu.value", i);
        assert_double_equal(num(a.json, path), 24, 1e-9);
    }
    assert_double_equal(num(a.json, "periods.0.start_s"), (double)day("2026-07-01"), 0);
    assert_double_equal(num(a.json, "total"), 120, 1e-9);
    answer_free(&a);

    /* The first household, same request: only its June days. */
    a = call(&G->tenant1, "/api/v1/me/history",
             "quantity=electricity&granularity=day&from=2026-06-25&to=2026-07-05");
    assert_int_equal(a.status, 200);
    assert_int_equal(json_array_size(json_object_get(a.json, "periods")), 6);
    assert_string_equal(str(a.json, "to"), "2026-07-01T00:00:00+02:00");
    answer_free(&a);

    /* Weeks from days: the week of 29 June holds only 1-5 July (partial),
     * the next 6-10 July. */
    a = call(&G->tenant2, "/api/v1/me/history",
             "quantity=electricity&granularity=week&from=2026-06-01&to=2026-07-10");
    assert_int_equal(a.status, 200);
    assert_int_equal(json_array_size(json_object_get(a.json, "periods")), 2);
    assert_double_equal(num(a.json, "periods.0.start_s"), (double)day("2026-06-29"), 0);
    assert_double_equal(num(a.json, "periods.0.value"), 5 * 24, 1e-9);
    assert_true(json_is_true(
        json_object_get(json_array_get(json_object_get(a.json, "periods"), 0), "partial")));
    assert_double_equal(num(a.json, "periods.1.value"), 5 * 24, 1e-9);
    answer_free(&a);

    /* Months: July from 1 July only (June is the first household's). */
    a = call(&G->tenant2, "/api/v1/me/history",
             "quantity=cold_water&granularity=month&from=2026-06-01&to=2026-07-31");
    assert_int_equal(a.status, 200);
    assert_int_equal(json_array_size(json_object_get(a.json, "periods")), 1);
    assert_string_equal(str(a.json, "unit"), "L");
    /* 1 July 00:00 to the last reading, 12 July 00:00: 11 days of 240 L. */
    assert_double_equal(num(a.json, "periods.0.value"), 11 * 240, 1e-6);
    answer_free(&a);

    /* Hours, with consent: 24 a day, 1 kWh each. */
    a = call(&G->tenant2, "/api/v1/me/history",
             "quantity=electricity&granularity=hour&from=2026-07-02&to=2026-07-02");
    assert_int_equal(a.status, 200);
    assert_int_equal(json_array_size(json_object_get(a.json, "periods")), 24);
    assert_double_equal(num(a.json, "periods.23.value"), 1, 1e-9);
    answer_free(&a);

    /* Without consent, no hours; every bad input names its parameter. */
    expect(&G->tenant_d2, "/api/v1/me/history",
           "quantity=electricity&granularity=hour&from=2026-07-02&to=2026-07-02", 403, "consent");
    expect(&G->tenant_d2, "/api/v1/me/history",
           "quantity=electricity&granularity=day&from=2026-07-02&to=2026-07-02", 200, NULL);
    expect(&G->tenant2, "/api/v1/me/history",
           "quantity=temperature&granularity=day&from=2026-07-02&to=2026-07-02", 400, "quantity");
    expect(&G->tenant2, "/api/v1/me/history", "granularity=day&from=2026-07-02&to=2026-07-02", 400,
           "quantity");
    expect(&G->tenant2, "/api/v1/me/history",
           "quantity=heat&granularity=day&from=2026-07-02&to=2026-07-02", 404, "heat");
    expect(&G->tenant2, "/api/v1/me/history",
           "quantity=electricity&granularity=year&from=2026-07-02&to=2026-07-02", 400,
           "granularity");
    expect(&G->tenant2, "/api/v1/me/history",
           "quantity=electricity&granularity=day&from=2026-02-30&to=2026-07-02", 400, "from");
    expect(&G->tenant2, "/api/v1/me/history",
           "quantity=electricity&granularity=day&from=2026-07-02&to=2026-7-3", 400, "to");
    expect(&G->tenant2, "/api/v1/me/history",
           "quantity=electricity&granularity=day&from=2026-07-02", 400, "to");
    expect(&G->tenant2, "/api/v1/me/history",
           "quantity=electricity&granularity=day&from=2026-07-05&to=2026-07-02", 400, "from");
    expect(&G->tenant2, "/api/v1/me/history",
           "quantity=electricity&granularity=day&from=2025-01-01&to=2026-07-02", 400, "days");
    expect(&G->tenant2, "/api/v1/me/history",
           "quantity=electricity&granularity=hour&from=2026-06-01&to=2026-07-10", 400, "days");
    /* A range wholly before the tenancy gets nothing. */
    expect(&G->tenant2, "/api/v1/me/history",
           "quantity=electricity&granularity=day&from=2026-06-01&to=2026-06-30", 403, "tenancy");
}

static void test_summary(void **state)
{
    (void)state;
    /* The second household gets the stored document, as stored. */
    struct answer a = call(&G->tenant2, "/api/v1/me/summary", "period=2026-W27");
    assert_int_equal(a.status, 200);
    assert_string_equal(str(a.json, "dwelling"), "d1");
    json_t *per = json_object_get(a.json, "period");
    assert_string_equal(str(per, "id"), "2026-W27");
    assert_string_equal(str(per, "from"), "2026-07-01T00:00:00+02:00");
    assert_true(json_is_true(json_object_get(per, "clipped_to_tenancy")));
    char *stored = NULL;
    assert_int_equal(store_read_summary(G->ro, "d1", "2026-W27", &stored), 0);
    assert_string_equal(a.body, stored);
    free(stored);
    answer_free(&a);

    /* The first household's tenancy meets that week (29-30 June), but the
     * stored summary is the next household's: nothing of it leaks. */
    expect(&G->tenant1, "/api/v1/me/summary", "period=2026-W27", 404, "period");
    /* Periods outside a tenancy. */
    expect(&G->tenant1, "/api/v1/me/summary", "period=2026-07", 403, "after your tenancy");
    expect(&G->tenant2, "/api/v1/me/summary", "period=2026-06", 403, "before your tenancy");
    expect(&G->tenant2, "/api/v1/me/summary", "period=2026-W26", 403, "before your tenancy");
    /* None stored; bad periods. */
    expect(&G->tenant2, "/api/v1/me/summary", "period=2026-W28", 404, "no summary");
    expect(&G->tenant2, "/api/v1/me/summary", "period=2026-W54", 400, "period");
    expect(&G->tenant2, "/api/v1/me/summary", "period=2026-13", 400, "period");
    expect(&G->tenant2, "/api/v1/me/summary", NULL, 400, "period");
    /* Another dwelling's tenant: its own (none stored), never d1's. */
    expect(&G->tenant_d2, "/api/v1/me/summary", "period=2026-W27", 404, "d2");

    /* The energy team: any dwelling's. */
    expect(&G->team, "/api/v1/dwellings/d1/summary", "period=2026-W27", 200, NULL);
    expect(&G->team, "/api/v1/dwellings/d2/summary", "period=2026-W27", 404, "no summary");
    expect(&G->team, "/api/v1/dwellings/nope/summary", "period=2026-W27", 404, "dwelling");
    expect(&G->team, "/api/v1/dwellings/d1/summary", "period=W27", 400, "period");
}

static void test_buildings(void **state)
{
    (void)state;
    struct answer a = call(&G->amb_b1, "/api/v1/buildings", NULL);
    assert_int_equal(a.status, 200);
    json_t *b = json_object_get(a.json, "buildings");
    assert_int_equal(json_array_size(b), 1);
    assert_string_equal(str(json_array_get(b, 0), "id"), "b1");
    assert_double_equal(num(a.json, "buildings.0.dwellings"), 7, 0);
    answer_free(&a);
    a = call(&G->team, "/api/v1/buildings", NULL);
    assert_int_equal(json_array_size(json_object_get(a.json, "buildings")), 2);
    answer_free(&a);
}

static void test_building_status(void **state)
{
    (void)state;
    struct answer a = call(&G->amb_b1, "/api/v1/buildings/b1/status", NULL);
    assert_int_equal(a.status, 200);
    json_t *devs = json_object_get(a.json, "devices");
    assert_int_equal(json_array_size(devs), 3);
    /* Silent first: the meter its driver declared offline, since then. */
    json_t *m = json_array_get(devs, 0);
    assert_string_equal(str(m, "device"), "m2");
    assert_string_equal(str(m, "state"), "offline");
    assert_double_equal(num(m, "since_s"), (double)(G->now_s - 3000), 0);
    assert_string_equal(str(json_object_get(m, "dwelling"), "label"), "A, 2e droite");
    assert_double_equal(num(m, "last_seen_s"), (double)(G->now_s - 86400), 0);
    /* Then the sensor no driver reported on, silent since its reading. */
    json_t *s2 = json_array_get(devs, 1);
    assert_string_equal(str(s2, "device"), "s2");
    assert_string_equal(str(s2, "state"), "stale");
    assert_double_equal(num(s2, "since_s"), (double)(G->now_s - 2 * 86400), 0);
    assert_true(json_is_null(json_object_get(s2, "dwelling")));
    assert_true(json_is_null(json_object_get(s2, "driver_state")));
    json_t *s = json_array_get(devs, 2);
    assert_string_equal(str(s, "device"), "s1");
    assert_string_equal(str(s, "state"), "ok");
    assert_string_equal(str(s, "driver_state"), "fresh");
    assert_double_equal(num(s, "since_s"), (double)(G->now_s - 7200), 0);
    assert_double_equal(num(s, "last_seen_s"), (double)(G->now_s - 100), 0);
    assert_double_equal(num(a.json, "device_counts.offline"), 1, 0);
    assert_double_equal(num(a.json, "device_counts.stale"), 1, 0);
    /* A device holds only health, never consumption. */
    const char *key;
    json_t *v;
    json_object_foreach(m, key, v)
    {
        static const char *const allowed[] = {"device",    "kind",        "dwelling",
                                              "state",     "since",       "since_s",
                                              "last_seen", "last_seen_s", "driver_state"};
        bool ok = false;
        for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
            ok |= strcmp(key, allowed[i]) == 0;
        if (!ok)
            fail_msg("device field %s is not health", key);
    }
    /* Totals of the building, submeter and other building left out:
     * today (8 July, whole day stored) 24 (d1) + 48 (d2) + 72 (common) +
     * 5 x 24 (d4-d8); the week from Monday 6 July, three days.  Water:
     * only d1 has a meter, so its total would be d1's: withheld from the
     * ambassador. */
    json_t *t = json_object_get(a.json, "totals");
    assert_string_equal(str(t, "week_from"), "2026-07-06T00:00:00+02:00");
    json_t *q = json_object_get(t, "quantities");
    json_t *e = NULL, *w = NULL;
    size_t i;
    json_array_foreach(q, i, v)
    {
        if (strcmp(str(v, "quantity"), "electricity") == 0)
            e = v;
        else if (strcmp(str(v, "quantity"), "cold_water") == 0)
            w = v;
    }
    assert_non_null(e);
    assert_non_null(w);
    assert_double_equal(num(e, "today"), 264, 1e-9);
    assert_double_equal(num(e, "week"), 3 * 264, 1e-9);
    assert_double_equal(num(e, "dwellings"), 7, 0);
    assert_string_equal(str(e, "unit"), "kWh");
    assert_true(json_is_null(json_object_get(w, "today")));
    assert_true(json_is_null(json_object_get(w, "week")));
    assert_string_equal(str(w, "withheld"), "too_few_dwellings");
    /* Nothing per dwelling anywhere in the answer: d2's day (48) is not in
     * it, nor d1's (24). */
    assert_null(strstr(a.body, "\"consumption\""));
    assert_null(strstr(a.body, ":48"));
    answer_free(&a);

    /* Another building: refused; an unknown one: 404; the team: any. */
    expect(&G->amb_b1, "/api/v1/buildings/b2/status", NULL, 403, "b2");
    expect(&G->amb_b1, "/api/v1/buildings/zz/status", NULL, 404, "zz");
    /* The energy team sees every total. */
    a = call(&G->team, "/api/v1/buildings/b1/status", NULL);
    assert_double_equal(num(a.json, "totals.quantities.1.today"), 240, 1e-9);
    assert_string_equal(
        str(json_array_get(json_object_get(json_object_get(a.json, "totals"), "quantities"), 1),
            "quantity"),
        "cold_water");
    answer_free(&a);
    a = call(&G->team, "/api/v1/buildings/b2/status", NULL);
    assert_int_equal(a.status, 200);
    assert_int_equal(json_array_size(json_object_get(a.json, "devices")), 0);
    assert_double_equal(num(a.json, "totals.quantities.0.today"), 96, 1e-9);
    answer_free(&a);
}

/* The status answer is kept FOYER_HTTP_STATUS_CACHE_S by building and
 * role: a change in the database shows once that time has passed, or at
 * once after api_status_cache_clear() (the server calls it after every
 * request that may write); the other role's answer is its own. */
static void test_building_status_kept(void **state)
{
    (void)state;
    api_status_cache_clear();
    struct answer a = call(&G->amb_b1, "/api/v1/buildings/b1/status", NULL);
    assert_int_equal(a.status, 200);
    assert_double_equal(num(a.json, "device_counts.offline"), 1, 0);
    assert_int_equal(sqlite3_exec(tdb(&G->t),
                                  "UPDATE devices SET state = 'offline' WHERE name = 's1'", NULL,
                                  NULL, NULL),
                     SQLITE_OK);
    struct answer b = call(&G->amb_b1, "/api/v1/buildings/b1/status", NULL);
    assert_string_equal(b.body, a.body); /* kept */
    answer_free(&b);
    /* The team's answer is made for it, from the database as it is now. */
    b = call(&G->team, "/api/v1/buildings/b1/status", NULL);
    assert_double_equal(num(b.json, "device_counts.offline"), 2, 0);
    answer_free(&b);
    /* Time passes: made again. */
    G->now_s += FOYER_HTTP_STATUS_CACHE_S;
    b = call(&G->amb_b1, "/api/v1/buildings/b1/status", NULL);
    assert_double_equal(num(b.json, "device_counts.offline"), 2, 0);
    answer_free(&b);
    G->now_s -= FOYER_HTTP_STATUS_CACHE_S;
    /* A clear (a write went through the server): made again at once. */
    assert_int_equal(sqlite3_exec(tdb(&G->t),
                                  "UPDATE devices SET state = 'fresh' WHERE name = 's1'", NULL,
                                  NULL, NULL),
                     SQLITE_OK);
    api_status_cache_clear();
    b = call(&G->amb_b1, "/api/v1/buildings/b1/status", NULL);
    assert_string_equal(b.body, a.body);
    answer_free(&b);
    answer_free(&a);
    api_status_cache_clear();
}

static void test_inventory(void **state)
{
    (void)state;
    struct answer a = call(&G->team, "/api/v1/dwellings", NULL);
    assert_int_equal(a.status, 200);
    assert_int_equal(json_array_size(json_object_get(a.json, "dwellings")), 8);
    json_t *d1 = json_array_get(json_object_get(a.json, "dwellings"), 0);
    assert_string_equal(str(d1, "id"), "d1");
    assert_int_equal(json_array_size(json_object_get(d1, "tenancies")), 2);
    assert_string_equal(str(json_array_get(json_object_get(d1, "tenancies"), 0), "end"),
                        "2026-06-30");
    answer_free(&a);
    a = call(&G->team, "/api/v1/channels", NULL);
    assert_int_equal(json_array_size(json_object_get(a.json, "channels")), G->t.cfg->n_channels);
    answer_free(&a);
}

static void test_rollups(void **state)
{
    (void)state;
    struct answer a = call(&G->team, "/api/v1/rollups",
                           "channel=elec1&granularity=hour&from=2026-07-02&to=2026-07-02");
    assert_int_equal(a.status, 200);
    assert_int_equal(json_array_size(json_object_get(a.json, "rows")), 24);
    assert_double_equal(num(a.json, "rows.0.value"), 1, 1e-9);
    answer_free(&a);
    /* A gauge: mean, min and max, rounded to 0.01 degC. */
    a = call(&G->team, "/api/v1/rollups",
             "channel=s1.temperature&granularity=day&from=2026-07-08&to=2026-07-08");
    assert_int_equal(a.status, 200);
    assert_double_equal(num(a.json, "rows.0.value"), 20, 1e-9);
    assert_double_equal(num(a.json, "rows.0.min"), 20, 1e-9);
    answer_free(&a);
    expect(&G->team, "/api/v1/rollups",
           "channel=elec2&granularity=hour&from=2026-07-02&to=2026-07-02", 403, "consent");
    expect(&G->team, "/api/v1/rollups",
           "channel=elec2&granularity=day&from=2026-07-02&to=2026-07-02", 200, NULL);
    expect(&G->team, "/api/v1/rollups",
           "channel=nope&granularity=day&from=2026-07-02&to=2026-07-02", 404, "channel");
    expect(&G->team, "/api/v1/rollups", "granularity=day&from=2026-07-02&to=2026-07-02", 400,
           "channel");
    expect(&G->team, "/api/v1/rollups",
           "channel=elec1&granularity=week&from=2026-07-02&to=2026-07-02", 400, "granularity");
}

static void test_events(void **state)
{
    (void)state;
    struct answer a = call(&G->team, "/api/v1/events", "since=2026-07-01");
    assert_int_equal(a.status, 200);
    json_t *ev = json_object_get(a.json, "events");
    bool found = false;
    size_t i;
    json_t *v;
    json_array_foreach(ev, i, v)
    {
        if (strcmp(str(v, "kind"), "offline") == 0) {
            found = true;
            assert_string_equal(str(v, "device"), "m2");
            assert_string_equal(str(v, "dwelling"), "d2");
        }
    }
    assert_true(found);
    assert_true(json_is_false(json_object_get(a.json, "truncated")));
    answer_free(&a);
    expect(&G->team, "/api/v1/events", "since=2026-07-01T10:00:00+02:00", 200, NULL);
    expect(&G->team, "/api/v1/events", "since=2026-07-01T10:00:00Z", 200, NULL);
    expect(&G->team, "/api/v1/events", "since=2026-07-01T10:00:00", 400, "since");
    expect(&G->team, "/api/v1/events", NULL, 400, "since");
}

/* The API's CSV is `foyerctl export`'s, byte for byte. */
static void test_export(void **state)
{
    (void)state;
    struct answer a = call(&G->team, "/api/v1/export.csv",
                           "granularity=day&from=2026-07-01&to=2026-07-03&dwelling=d1");
    assert_int_equal(a.status, 200);
    assert_string_equal(a.type, "text/csv; charset=utf-8");
    char cmd[1024], out[256];
    snprintf(out, sizeof(out), "%s/export.csv", G->t.dir);
    snprintf(cmd, sizeof(cmd),
             "'%s/foyerctl' --config '%s' export --granularity day --from 2026-07-01 "
             "--to 2026-07-04 --dwelling d1 --output '%s' 2>/dev/null",
             getenv("FOYER_BIN") ? getenv("FOYER_BIN") : ".", G->t.conf, out);
    assert_int_equal(system(cmd), 0);
    FILE *f = fopen(out, "r");
    assert_non_null(f);
    char want[8192];
    size_t n = fread(want, 1, sizeof(want) - 1, f);
    want[n] = '\0';
    fclose(f);
    assert_string_equal(a.body, want);
    assert_non_null(strstr(a.body, "elec1,d1,electricity,2026-07-01T00:00:00+02:00,24,kWh\n"));
    answer_free(&a);

    /* Hours: refused for a dwelling without consent, and left out of an
     * export of every dwelling. */
    expect(&G->team, "/api/v1/export.csv",
           "granularity=hour&from=2026-07-01&to=2026-07-01&dwelling=d2", 403, "consent");
    a = call(&G->team, "/api/v1/export.csv", "granularity=hour&from=2026-07-01&to=2026-07-01");
    assert_int_equal(a.status, 200);
    assert_null(strstr(a.body, ",d2,"));
    assert_non_null(strstr(a.body, ",d3,"));
    answer_free(&a);
    expect(&G->team, "/api/v1/export.csv",
           "granularity=day&from=2026-07-01&to=2026-07-01&dwelling=zz", 404, "dwelling");
    expect(&G->team, "/api/v1/export.csv", "from=2026-07-01&to=2026-07-01", 400, "granularity");
    expect(&G->team, "/api/v1/export.csv", "granularity=month&from=2026-07-01", 400, "to");
}

/* The household's export (issue 15): everything of its tenancy, nothing
 * of the tenancy before or after it, nor of another dwelling. */
static void export_check_rows(const json_t *j, const char *section, const char *key,
                              const char *from, const char *to)
{
    const json_t *arr = json_object_get(j, section);
    size_t i;
    const json_t *row;
    if (!json_is_array(arr) || json_array_size(arr) == 0)
        fail_msg("%s: no rows", section);
    json_array_foreach(arr, i, row)
    {
        const char *t = str(row, key);
        int32_t k = config_find_channel(G->t.cfg, str(row, "channel"));
        if (k < 0 || G->t.cfg->channels[k].dwelling != config_find_dwelling(G->t.cfg, "d1"))
            fail_msg("%s: row of channel %s, not d1's", section, str(row, "channel"));
        if (strcmp(t, from) < 0 || (to && strcmp(t, to) >= 0))
            fail_msg("%s: %s outside [%s, %s)", section, t, from, to ? to : "");
    }
}

static void test_me_export(void **state)
{
    (void)state;
    /* Times of June and July share the offset: text order is time order. */
    struct answer a = call(&G->tenant2, "/api/v1/me/export", NULL);
    assert_int_equal(a.status, 200);
    assert_int_equal(json_integer_value(json_object_get(a.json, "schema")), 1);
    assert_string_equal(str(json_object_get(a.json, "dwelling"), "id"), "d1");
    for (const char *const *sec = (const char *const[]){"rollups_hour", "rollups_day", NULL}; *sec;
         sec++)
        export_check_rows(a.json, *sec, "period_start", "2026-07-01T00:00:00+02:00", NULL);
    export_check_rows(a.json, "readings", "time", "2026-07-01T00:00:00+02:00", NULL);
    json_t *ten = json_object_get(a.json, "tenancies");
    assert_int_equal(json_array_size(ten), 1);
    assert_string_equal(str(json_array_get(ten, 0), "id"), "t2");
    /* 2026-W27 straddles the move; its summary is the new household's. */
    assert_int_equal(json_array_size(json_object_get(a.json, "summaries")), 1);
    assert_null(strstr(a.body, "elec2"));
    answer_free(&a);

    a = call(&G->tenant1, "/api/v1/me/export", NULL);
    assert_int_equal(a.status, 200);
    export_check_rows(a.json, "rollups_day", "period_start", "2026-01-01T00:00:00+01:00",
                      "2026-07-01T00:00:00+02:00");
    export_check_rows(a.json, "readings", "time", "2026-01-01T00:00:00+01:00",
                      "2026-07-01T00:00:00+02:00");
    assert_string_equal(str(json_array_get(json_object_get(a.json, "tenancies"), 0), "id"), "t1");
    assert_int_equal(json_array_size(json_object_get(a.json, "summaries")), 0);
    answer_free(&a);

    a = call(&G->tenant2, "/api/v1/me/export", "format=csv");
    assert_int_equal(a.status, 200);
    assert_string_equal(a.type, "text/csv; charset=utf-8");
    assert_true(strncmp(a.body, "#export,schema,", 15) == 0);
    assert_non_null(strstr(a.body, "\n\n#access_log,time,who,role,what,dwelling,origin\n"));
    assert_non_null(
        strstr(a.body, "\nrollups_day,elec1,electricity,2026-07-01T00:00:00+02:00,24,"));
    assert_null(strstr(a.body, "2026-06-30T"));
    answer_free(&a);
    expect(&G->tenant2, "/api/v1/me/export", "format=xml", 400, "format");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_route_roles),
        cmocka_unit_test(test_me),
        cmocka_unit_test(test_history),
        cmocka_unit_test(test_summary),
        cmocka_unit_test(test_buildings),
        cmocka_unit_test(test_building_status),
        cmocka_unit_test(test_building_status_kept),
        cmocka_unit_test(test_inventory),
        cmocka_unit_test(test_rollups),
        cmocka_unit_test(test_events),
        cmocka_unit_test(test_export),
        cmocka_unit_test(test_me_export),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
