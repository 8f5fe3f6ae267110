/*
 * bench_api.c - how fast the JSON API's two busiest handlers answer on a
 * building-sized database: GET /api/v1/me/summary (every tablet, every
 * few minutes) and GET /api/v1/buildings/{id}/status (the ambassador's
 * page), each beside a baseline, the bare store reads under it.  Prints
 * figures, never fails on time.
 *
 * Setup: one building of DWELLINGS dwellings, each with a Modbus meter of
 * the generic profile (energy_import, power) and a tenancy; DAYS days of
 * hourly energy_import readings for every meter through store_ingest()
 * (time-major batches of 50 000, as the writer takes a backlog), progress
 * printed; the drivers' device health as foyerd records it; the last full
 * week's summary of every dwelling computed by the engine and stored as
 * the scheduler stores it.  Then the handlers are called directly through
 * the route table (the server and its HTTP overhead are measured apart,
 * with wrk, once they are merged), on one core, one read-only handle.
 *
 * The server's helpers come from the test harness
 * (tests/unit/http_harness.c), as in test_http_api.
 *
 * Usage: bench_api [DWELLINGS [DAYS [REQUESTS]]]   (300 730 5000)
 * FOYER_BENCH_DIR=DIR keeps the database there and reuses it when it
 * exists (building it takes a minute or two).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "foyer/coach.h"
#include "foyer/store_outbox.h"
#include "foyer/timeutil.h"
#include "http_api_int.h"
#include "http_harness.h"

static void die(const char *what)
{
    fprintf(stderr, "bench_api: %s\n", what);
    exit(1);
}

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void write_conf(const char *path, const char *db, const char *src, int n, int64_t start_s)
{
    char ymd[16];
    time_t t = (time_t)start_s;
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(ymd, sizeof(ymd), "%Y-%m-%d", &tm);
    FILE *f = fopen(path, "w");
    if (!f)
        die("cannot write the config");
    fprintf(f,
            "[foyer]\ndatabase = %s\ntimezone = Europe/Paris\nprofiles_dir = %s/config/profiles\n"
            "[building b0]\nname = Bench\n"
            "[channel b0-common]\nbuilding = b0\nquantity = electricity\n",
            db, src);
    /* A Modbus gateway serves at most 247 unit ids: one per 200 meters. */
    for (int g = 0; g < (n + 199) / 200; g++)
        fprintf(f, "[bus gw%d]\ntype = tcp\nhost = 127.0.0.1\nport = %d\n", g, 1502 + g);
    for (int d = 0; d < n; d++)
        fprintf(f,
                "[dwelling d%d]\nbuilding = b0\nlabel = Flat %d\nsurface_m2 = %d\n"
                "heating = electric\nconsent = %s\n"
                "[tenancy t%d]\ndwelling = d%d\nstart = %s\n"
                "[meter m%d]\nprofile = generic\nbus = gw%d\nunit_id = %d\ndwelling = d%d\n",
                d, d, 30 + d % 60, d % 3 ? "true" : "false", d, d, ymd, d, d / 200, 1 + d % 200, d);
    fclose(f);
}

/* DAYS of hourly index readings of every meter's energy_import, time-major. */
static void fill(struct store *s, const struct foyer_config *cfg, int n, int64_t start_s,
                 int64_t end_s)
{
    size_t cap = 50000, k = 0;
    struct reading *r = calloc(cap, sizeof(*r));
    uint32_t *ch = calloc((size_t)n, sizeof(*ch));
    struct ingest_stats st = {0};
    if (!r || !ch)
        die("out of memory");
    for (int d = 0; d < n; d++) {
        char id[64];
        snprintf(id, sizeof(id), "m%d.energy_import", d);
        int32_t c = config_find_channel(cfg, id);
        if (c < 0)
            die("no energy_import channel: the generic profile changed?");
        ch[d] = (uint32_t)c;
    }
    int64_t hours = (end_s - start_s) / 3600, total = hours * n, done = 0, next_pct = 10;
    double t0 = now_us();
    printf("filling: %d dwellings x %lld hours = %lld readings\n", n, (long long)hours,
           (long long)total);
    fflush(stdout);
    for (int64_t h = 0; h < hours; h++) {
        for (int d = 0; d < n; d++) {
            /* 0.2 to 1.4 kWh an hour, by dwelling and time of day. */
            double rate = 0.2 + 0.4 * (d % 4) + 0.2 * ((h % 24) >= 18);
            r[k++] = (struct reading){
                .channel = ch[d], .ts_s = start_s + h * 3600, .value = 1000 + rate * (double)h};
            if (k == cap) {
                if (store_ingest(s, r, k, 0, &st) < 0)
                    die(store_errmsg(s));
                done += (int64_t)k;
                k = 0;
                if (done * 100 / total >= next_pct) {
                    double el = (now_us() - t0) / 1e6;
                    printf("  %3lld %%  %lld readings  %.0f readings/s\n",
                           (long long)(done * 100 / total), (long long)done, (double)done / el);
                    fflush(stdout);
                    next_pct += 10;
                }
            }
        }
    }
    if (k && store_ingest(s, r, k, 0, &st) < 0)
        die(store_errmsg(s));
    printf("filled in %.1f s\n", (now_us() - t0) / 1e6);
    free(r);
    free(ch);
}

/* Every meter reported on: online, a few offline. */
static void put_health(struct store *s, int n, int64_t now_s)
{
    struct device_health *h = calloc((size_t)n, sizeof(*h));
    if (!h)
        die("out of memory");
    for (int d = 0; d < n; d++) {
        snprintf(h[d].device, sizeof(h[d].device), "m%d", d);
        h[d].kind = "meter";
        h[d].state = d % 50 == 7 ? "offline" : "online";
        h[d].since_s = now_s - 3600 * (d % 24);
        h[d].last_success_s = now_s - 60;
        h[d].polls = 1000;
    }
    if (store_put_devices(s, NULL, 0, h, (size_t)n) < 0)
        die(store_errmsg(s));
    free(h);
}

static void store_summaries(const struct foyer_config *cfg, struct store *ro, const char *db,
                            const char *src, const struct summary_period *p, int n, int64_t now_s)
{
    char dir[512];
    struct summary_lang *fr = NULL;
    struct conf_errors errs = {0};
    snprintf(dir, sizeof(dir), "%s/config", src);
    if (summary_lang_load(dir, "fr", &fr, &errs) < 0)
        die("cannot load the language files");
    struct summary_engine *e = summary_engine_new(cfg, ro, fr, DJU_METEO_FRANCE);
    struct store_outbox_summary *list = calloc((size_t)n, sizeof(*list));
    if (!e || !list)
        die("out of memory");
    double t0 = now_us();
    for (int d = 0; d < n; d++) {
        json_t *doc;
        if (summary_compute(e, (uint32_t)d, p, now_s, &doc) < 0)
            die("summary_compute failed");
        list[d].body = json_dumps(doc, SUMMARY_JSON_FLAGS);
        json_decref(doc);
        list[d].dwelling = strdup(cfg->dwellings[d].id);
        list[d].period = strdup(p->id);
        list[d].key = calloc(1, 128);
        summary_key("b0", cfg->dwellings[d].id, p->id, list[d].key, 128);
        list[d].next = d + 1 < n ? &list[d + 1] : NULL;
    }
    struct store_outbox *o;
    const char *msg;
    uint64_t queued;
    if (store_outbox_open(db, &o, &msg) < 0 ||
        store_outbox_add(o, list, SUMMARY_SCHEMA_VERSION, NULL, 0, now_s, &queued, NULL) < 0)
        die("cannot store the summaries");
    store_outbox_close(o);
    printf("summaries of %s: %d computed and stored in %.1f s\n", p->id, n, (now_us() - t0) / 1e6);
    for (int d = 0; d < n; d++) {
        free(list[d].body);
        free(list[d].dwelling);
        free(list[d].period);
        free(list[d].key);
    }
    free(list);
    summary_engine_free(e);
    summary_lang_free(fr);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Print requests/s, p50 and p99 of n latencies (us). */
static void report(const char *what, double *lat, int n, double total_us)
{
    qsort(lat, (size_t)n, sizeof(*lat), cmp_double);
    printf("  %-44s %8.0f req/s   p50 %7.1f us   p99 %7.1f us\n", what, n / (total_us / 1e6),
           lat[n / 2], lat[(int)((double)n * 0.99)]);
}

static const struct http_route *route(const char *pattern)
{
    for (const struct http_route *r = http_api_routes; r->method; r++)
        if (strcmp(r->pattern, pattern) == 0)
            return r;
    die("no such route");
    return NULL;
}

/* Call route r; the body's length goes to *ret_len.  Fails on an answer
 * other than 200. */
static void call(const struct http_route *r, struct http_request *req, size_t *ret_len)
{
    struct http_response resp = {.status = 200};
    if (r->handler(req, &resp) < 0 || resp.status != 200) {
        fprintf(stderr, "%s: %d %s\n", r->pattern, resp.status,
                resp.body.data ? resp.body.data : "");
        die("the handler failed");
    }
    *ret_len = resp.body.len;
    http_buf_free(&resp.body);
}

struct status_base {
    int n;
};

static int count_device(void *ctx, const struct device_health *h)
{
    (void)h;
    ((struct status_base *)ctx)->n++;
    return 0;
}

static int add_nothing(void *ctx, const struct store_rollup *row)
{
    *(double *)ctx += row->sum;
    return 0;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 300;
    int days = argc > 2 ? atoi(argv[2]) : 730;
    int reqs = argc > 3 ? atoi(argv[3]) : 5000;
    const char *src = getenv("FOYER_SRC") ? getenv("FOYER_SRC") : ".";
    const char *keep = getenv("FOYER_BENCH_DIR");
    char dir[256], db[300], conf[300];
    if (n < 1 || days < 14 || reqs < 100)
        die("usage: bench_api [DWELLINGS [DAYS (>= 14) [REQUESTS (>= 100)]]]");
    if (keep) {
        snprintf(dir, sizeof(dir), "%s", keep);
        (void)mkdir(dir, 0700);
    } else {
        snprintf(dir, sizeof(dir), "/tmp/foyer-bench-api-XXXXXX");
        if (!mkdtemp(dir))
            die("mkdtemp");
    }
    snprintf(db, sizeof(db), "%s/foyer.db", dir);
    snprintf(conf, sizeof(conf), "%s/foyer.conf", dir);
    if (tu_set_zone("Europe/Paris") < 0)
        die("no Europe/Paris zone");
    /* The data ends at the last local midnight; "now" is noon of the day after. */
    int64_t end_s = tu_day_start(tu_now_s());
    int64_t start_s = end_s;
    for (int i = 0; i < days; i++)
        start_s = tu_day_start(start_s - 43200);
    int64_t now_s = end_s + 12 * 3600;
    bool reuse = keep && access(db, F_OK) == 0;
    if (!reuse)
        write_conf(conf, db, src, n, start_s);

    struct conf_errors errs = {0};
    struct foyer_config *cfg = config_load(conf, &errs);
    if (!cfg) {
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "%s\n", errs.msgs[i]);
        die("bad config");
    }
    struct store *w, *ro;
    const char *msg;
    if (store_open(db, cfg, &w, &msg) < 0)
        die(msg);
    struct summary_period week;
    summary_period_at(SUMMARY_WEEK, tu_week_start(end_s) - 1, &week);
    if (!reuse) {
        fill(w, cfg, n, start_s, end_s);
        put_health(w, n, now_s);
    } else {
        printf("reusing %s\n", db);
    }
    if (store_open_readonly(db, cfg, &ro, &msg) < 0)
        die(msg);
    if (!reuse)
        store_summaries(cfg, ro, db, src, &week, n, now_s);
    store_close(w);

    double *lat = calloc((size_t)reqs, sizeof(*lat));
    if (!lat)
        die("out of memory");
    struct harness_args args = {.name = {"period"}, .value = {week.id}, .n = 1};
    struct http_principal who = {.role = HTTP_ROLE_TENANT, .tenancy_to_s = INT64_MAX};
    struct http_request req = {.method = "GET",
                               .lang = "fr",
                               .client = "127.0.0.1",
                               .now_s = now_s,
                               .who = &who,
                               .cfg = cfg,
                               .ro = ro,
                               .server = &args};
    size_t len = 0;

    printf("\n%d dwellings, %d days of hourly data, period %s, %d requests each, one core\n", n,
           days, week.id, reqs);
    /* Summary: baseline = the stored document read (store_read_summary). */
    double t0 = now_us();
    for (int i = 0; i < reqs; i++) {
        double a = now_us();
        char *body;
        if (store_read_summary(ro, cfg->dwellings[i % n].id, week.id, &body) < 0)
            die("no stored summary");
        len = strlen(body);
        free(body);
        lat[i] = now_us() - a;
    }
    report("store_read_summary (baseline)", lat, reqs, now_us() - t0);
    const struct http_route *rs = route("/api/v1/me/summary");
    req.path = "/api/v1/me/summary";
    t0 = now_us();
    for (int i = 0; i < reqs; i++) {
        double a = now_us();
        who.dwelling = i % n;
        who.tenancy_from_s = start_s;
        call(rs, &req, &len);
        lat[i] = now_us() - a;
    }
    report("GET /api/v1/me/summary (handler)", lat, reqs, now_us() - t0);
    printf("  (a summary is %zu bytes)\n", len);

    /* Building status: baseline = the store reads it makes, in one read
     * transaction as the handler makes them: the devices table (every
     * meter has a driver report, so no channel's newest reading is read)
     * and the week's daily figures of every counter. */
    int sreqs = reqs / 10;
    t0 = now_us();
    for (int i = 0; i < sreqs; i++) {
        double a = now_us();
        struct status_base b = {0};
        double sum = 0;
        if (store_read_begin(ro) < 0)
            die("store_read_begin failed");
        (void)store_read_devices(ro, count_device, &b);
        for (size_t c = 0; c < cfg->n_channels; c++)
            if (cfg->channels[c].kind == KIND_COUNTER)
                (void)store_read_rollups(ro, STORE_DAY, (uint32_t)c, tu_week_start(now_s),
                                         tu_next_day(tu_day_start(now_s)), 0, add_nothing, &sum);
        store_read_end(ro);
        lat[i] = now_us() - a;
    }
    report("bare store reads of a status (baseline)", lat, sreqs, now_us() - t0);
    const struct http_route *rb = route("/api/v1/buildings/{id}/status");
    const char *params[] = {"b0"};
    struct http_principal amb = {.role = HTTP_ROLE_AMBASSADOR, .dwelling = -1, .n_buildings = 1};
    req.who = &amb;
    req.path = "/api/v1/buildings/b0/status";
    req.params = params;
    req.n_params = 1;
    args.n = 0;
    /* Made each time (the kept answer forgotten before each request, as
     * after a write), then as served: kept FOYER_HTTP_STATUS_CACHE_S. */
    t0 = now_us();
    for (int i = 0; i < sreqs; i++) {
        api_status_cache_clear();
        double a = now_us();
        call(rb, &req, &len);
        lat[i] = now_us() - a;
    }
    report("GET .../status (handler, made each time)", lat, sreqs, now_us() - t0);
    t0 = now_us();
    for (int i = 0; i < sreqs; i++) {
        double a = now_us();
        call(rb, &req, &len);
        lat[i] = now_us() - a;
    }
    report("GET /api/v1/buildings/{id}/status (handler)", lat, sreqs, now_us() - t0);
    printf("  (a status of %d devices is %zu bytes)\n", n, len);

    free(lat);
    store_close(ro);
    config_free(cfg);
    if (!keep) {
        char cmd[400];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "bench_api: could not remove %s\n", dir);
    }
    return 0;
}
