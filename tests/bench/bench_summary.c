/*
 * bench_summary.c - how long the weekly summaries of a large site take, and
 * how fast the pusher delivers to a local receiver.  Prints figures, never
 * fails on time.
 *
 * Setup: DWELLINGS dwellings in buildings of 100 (electricity, hot water,
 * indoor temperature each, one outdoor sensor per building), rollups
 * written directly with SQL (the bench's own connection): daily and monthly rows for two years,
 * hourly rows for the last HOURLY_DAYS days and the same days a year before (everything a weekly
 * summary reads; full hourly history only makes the B-trees one level deeper).  Then every
 * dwelling's summary of the last full week is computed through a read-only connection, on one core.
 *
 * Push: N summaries handed to the pusher, POSTed to tests/integration/
 * http_receiver.py on 127.0.0.1 (a Python server: it is the bottleneck
 * long before libcurl is).
 *
 * Usage: bench_summary [DWELLINGS [HOURLY_DAYS [PUSH_N]]]   (1000 60 2000)
 */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "foyer/coach.h"
#include "foyer/push.h"
#include "foyer/timeutil.h"

extern char **environ;

static void die(const char *what)
{
    fprintf(stderr, "bench_summary: %s\n", what);
    exit(1);
}

static void write_conf(const char *path, const char *db, int n, const char *push_url)
{
    FILE *f = fopen(path, "w");
    if (!f)
        die("cannot write the config");
    fprintf(f, "[foyer]\ndatabase = %s\ntimezone = Europe/Paris\n", db);
    for (int b = 0; b < (n + 99) / 100; b++)
        fprintf(f,
                "[building b%d]\n[channel b%d-out]\nbuilding = b%d\n"
                "quantity = outdoor_temperature\n",
                b, b, b);
    for (int d = 0; d < n; d++) {
        fprintf(f,
                "[dwelling d%d]\nbuilding = b%d\nsurface_m2 = %d\nheating = electric\n"
                "consent = true\n",
                d, d / 100, 30 + d % 60);
        fprintf(f, "[channel d%d-elec]\ndwelling = d%d\nquantity = electricity\n", d, d);
        fprintf(f, "[channel d%d-hw]\ndwelling = d%d\nquantity = hot_water\n", d, d);
        fprintf(f, "[channel d%d-temp]\ndwelling = d%d\nquantity = temperature\n", d, d);
    }
    fprintf(f, "[tariff e]\nquantity = electricity\nprice = 0.1952\n"
               "subscription_eur_month = 12.8\n[tariff w]\nquantity = hot_water\nprice = 10.5\n");
    if (push_url)
        fprintf(f, "[push bench]\nurl = %s\ninsecure = yes\ntimeout = 10\n", push_url);
    fclose(f);
}

static void fill(struct store *s, const char *path, const struct foyer_config *cfg, int64_t now,
                 int hourly_days)
{
    sqlite3 *db;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        die(sqlite3_errmsg(db));
    sqlite3_stmt *ins[3];
    const char *tables[3] = {"rollup_hour", "rollup_day", "rollup_month"};
    for (int i = 0; i < 3; i++) {
        char sql[160];
        snprintf(sql, sizeof(sql),
                 "INSERT OR REPLACE INTO %s(channel, ts, sum, n, min, max) VALUES (?1, ?2, ?3,"
                 " ?4, ?5, ?6)",
                 tables[i]);
        if (sqlite3_prepare_v2(db, sql, -1, &ins[i], NULL) != SQLITE_OK)
            die(sqlite3_errmsg(db));
    }
    int64_t start = tu_day_start(now - 2 * 366 * 86400);
    int64_t hour_from = now - hourly_days * 86400, ly_from = hour_from - 365 * 86400;
    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    for (size_t c = 0; c < cfg->n_channels; c++) {
        const struct channel *ch = &cfg->channels[c];
        int64_t id = store_channel_id(s, (uint32_t)c);
        bool gauge = ch->kind == KIND_GAUGE;
        double rate = ch->quantity == Q_ELECTRICITY ? 0.4 + (double)(c % 7) * 0.1
                      : ch->quantity == Q_HOT_WATER ? 5 + (double)(c % 5)
                                                    : 0;
        double v = ch->quantity == Q_OUTDOOR_TEMPERATURE ? 6 : 20;
        for (int64_t m = tu_month_start(start); m < now; m = tu_next_month(m)) {
            int64_t hours = (tu_next_month(m) - m) / 3600;
            sqlite3_stmt *st = ins[2];
            sqlite3_bind_int64(st, 1, id);
            sqlite3_bind_int64(st, 2, m);
            sqlite3_bind_double(st, 3, gauge ? v * (double)hours : rate * (double)hours);
            sqlite3_bind_int64(st, 4, hours);
            gauge ? sqlite3_bind_double(st, 5, v - 3) : sqlite3_bind_null(st, 5);
            gauge ? sqlite3_bind_double(st, 6, v + 3) : sqlite3_bind_null(st, 6);
            sqlite3_step(st);
            sqlite3_reset(st);
        }
        for (int64_t d = start; d < now; d = tu_next_day(d)) {
            int64_t hours = (tu_next_day(d) - d) / 3600;
            sqlite3_stmt *st = ins[1];
            sqlite3_bind_int64(st, 1, id);
            sqlite3_bind_int64(st, 2, d);
            sqlite3_bind_double(st, 3, gauge ? v * (double)hours : rate * (double)hours);
            sqlite3_bind_int64(st, 4, hours);
            gauge ? sqlite3_bind_double(st, 5, v - 3) : sqlite3_bind_null(st, 5);
            gauge ? sqlite3_bind_double(st, 6, v + 3) : sqlite3_bind_null(st, 6);
            sqlite3_step(st);
            sqlite3_reset(st);
            bool hourly = (d >= hour_from) || (d >= ly_from && d < ly_from + hourly_days * 86400);
            for (int64_t h = d; hourly && h < tu_next_day(d); h += 3600) {
                st = ins[0];
                sqlite3_bind_int64(st, 1, id);
                sqlite3_bind_int64(st, 2, h);
                sqlite3_bind_double(st, 3, gauge ? v : rate);
                sqlite3_bind_int64(st, 4, 1);
                gauge ? sqlite3_bind_double(st, 5, v) : sqlite3_bind_null(st, 5);
                gauge ? sqlite3_bind_double(st, 6, v) : sqlite3_bind_null(st, 6);
                sqlite3_step(st);
                sqlite3_reset(st);
            }
        }
    }
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    for (int i = 0; i < 3; i++)
        sqlite3_finalize(ins[i]);
    sqlite3_close(db);
}

static void bench_push(const char *dir, int n, const char *src)
{
    char port_file[300], log_file[300], script[600], conf[300], db[300], url[64];
    snprintf(port_file, sizeof(port_file), "%s/port", dir);
    snprintf(log_file, sizeof(log_file), "%s/recv.log", dir);
    snprintf(script, sizeof(script), "%s/tests/integration/http_receiver.py", src);
    char *argv[] = {"python3", script, "--port-file", port_file, "--log", log_file, NULL};
    pid_t pid;
    if (posix_spawnp(&pid, "python3", NULL, NULL, argv, environ) != 0) {
        printf("push: python3 not found, skipped\n");
        return;
    }
    FILE *pf = NULL;
    for (int i = 0; i < 200 && !(pf = fopen(port_file, "r")); i++)
        usleep(50000);
    int port = 0;
    if (!pf || fscanf(pf, "%d", &port) != 1)
        die("the receiver did not start");
    fclose(pf);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/s", port);
    snprintf(conf, sizeof(conf), "%s/push.conf", dir);
    snprintf(db, sizeof(db), "%s/push.db", dir);
    write_conf(conf, db, 1, url);
    struct conf_errors errs = {0};
    struct foyer_config *cfg = config_load(conf, &errs);
    struct store *s;
    const char *msg;
    if (!cfg || store_open(db, cfg, &s, &msg) < 0)
        die("push setup");
    int err;
    struct pusher *p = push_start(cfg, &err);
    if (!p)
        die("push_start");
    char body[3000];
    memset(body, ' ', sizeof(body) - 3);
    body[0] = '{';
    body[sizeof(body) - 3] = '}';
    body[sizeof(body) - 2] = '\0';
    int64_t t0 = tu_mono_ms();
    for (int i = 0; i < n; i++) {
        char key[64], dw[16];
        snprintf(key, sizeof(key), "bench/%d", i);
        snprintf(dw, sizeof(dw), "d%d", i % 100);
        if (push_submit(p, key, dw, key, body) < 0)
            die("push_submit");
    }
    struct push_stats ps;
    do {
        usleep(10000);
        push_get_stats(p, &ps);
    } while (ps.delivered < (uint64_t)n && tu_mono_ms() - t0 < 120000);
    double s_el = (double)(tu_mono_ms() - t0) / 1000;
    printf("push: %llu summaries of 3 KB delivered in %.2f s: %.0f/s (in order per dwelling, "
           "100 dwellings, %d transfers at once)\n",
           (unsigned long long)ps.delivered, s_el, (double)ps.delivered / s_el, PUSH_INFLIGHT_MAX);
    push_stop(p, NULL);
    store_close(s);
    config_free(cfg);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 1000;
    int hourly_days = argc > 2 ? atoi(argv[2]) : 60;
    int push_n = argc > 3 ? atoi(argv[3]) : 2000;
    const char *src = getenv("FOYER_SRC") ? getenv("FOYER_SRC") : ".";
    char dir[] = "/tmp/foyer-bench-summary-XXXXXX", conf[128], db[128], cmd[200], langdir[512];
    if (!mkdtemp(dir))
        die("mkdtemp");
    snprintf(conf, sizeof(conf), "%s/foyer.conf", dir);
    snprintf(db, sizeof(db), "%s/foyer.db", dir);
    write_conf(conf, db, n, NULL);
    struct conf_errors errs = {0};
    struct foyer_config *cfg = config_load(conf, &errs);
    if (!cfg || tu_set_zone("Europe/Paris") < 0)
        die("config");
    struct store *s, *ro;
    const char *msg;
    if (store_open(db, cfg, &s, &msg) < 0)
        die(msg);
    int64_t now = tu_now_s();
    int64_t t0 = tu_mono_ms();
    fill(s, db, cfg, now, hourly_days);
    printf("setup: %d dwellings, %zu channels, 2 years of daily rollups, %d days of hourly "
           "(x2): %.1f s\n",
           n, cfg->n_channels, hourly_days, (double)(tu_mono_ms() - t0) / 1000);

    snprintf(langdir, sizeof(langdir), "%s/config", src);
    struct summary_lang *fr;
    if (summary_lang_load(langdir, "fr", &fr, &errs) < 0)
        die("language files (set FOYER_SRC)");
    if (store_open_readonly(db, cfg, &ro, &msg) < 0)
        die(msg);
    struct summary_engine *e = summary_engine_new(cfg, ro, fr, DJU_METEO_FRANCE);
    struct summary_period week, last;
    summary_period_at(SUMMARY_WEEK, now, &week);
    summary_period_prev(&week, &last);
    size_t bytes = 0, tips = 0;
    t0 = tu_mono_ms();
    int64_t c0 = (int64_t)clock();
    for (int d = 0; d < n; d++) {
        json_t *doc;
        if (summary_compute(e, (uint32_t)d, &last, now, &doc) < 0)
            die("summary_compute");
        char *body = json_dumps(doc, SUMMARY_JSON_FLAGS);
        bytes += strlen(body);
        tips += json_array_size(json_object_get(doc, "tips"));
        free(body);
        json_decref(doc);
    }
    double wall = (double)(tu_mono_ms() - t0) / 1000;
    double cpu = (double)((int64_t)clock() - c0) / CLOCKS_PER_SEC;
    printf("weekly summaries %s: %d dwellings in %.2f s wall, %.2f s CPU (one core): "
           "%.2f ms each, %zu bytes of JSON on average, %zu tips\n",
           last.id, n, wall, cpu, wall * 1000 / n, bytes / (size_t)n, tips);
    summary_engine_free(e);
    store_close(ro);
    summary_lang_free(fr);
    store_close(s);
    config_free(cfg);

    if (push_n > 0)
        bench_push(dir, push_n, src);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return 0;
}
