/*
 * bench_alerts.c - how long one run of the alert engine takes on a large
 * site, beside the floor: reading the same hourly rollups alone through the
 * read API.  Prints figures, never fails on time.
 *
 * Setup: DWELLINGS dwellings in buildings of 100, each with indoor
 * temperature, humidity, CO2 (gauges), cold water and electricity
 * (counters); rollups written directly with SQL (the bench's own
 * connection): hourly rows for the last DAYS days, daily rows for a year
 * (abnormal_use's season).  One dwelling in ten is cold and leaks, so the
 * first run opens alerts and the second only confirms them; then the
 * first run again, in steps as foyerd runs it: its steps and the longest
 * (the baseline: run 1 in one call).
 *
 * Usage: bench_alerts [DWELLINGS [DAYS]]   (1000 35)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "foyer/alerts.h"
#include "foyer/timeutil.h"

static void die(const char *what)
{
    fprintf(stderr, "bench_alerts: %s\n", what);
    exit(1);
}

static const char *const chans[] = {"temp", "hum", "co2", "water", "elec"};
static const char *const quantities[] = {"temperature", "humidity", "co2", "cold_water",
                                         "electricity"};

static void write_conf(const char *path, const char *db, int n)
{
    FILE *f = fopen(path, "w");
    if (!f)
        die("cannot write the config");
    fprintf(f, "[foyer]\ndatabase = %s\ntimezone = Europe/Paris\n", db);
    for (int b = 0; b < (n + 99) / 100; b++)
        fprintf(f, "[building b%d]\n", b);
    for (int d = 0; d < n; d++) {
        fprintf(f, "[dwelling d%d]\nbuilding = b%d\nsurface_m2 = 50\nheating = electric\n", d,
                d / 100);
        for (int c = 0; c < 5; c++)
            fprintf(f, "[channel d%d-%s]\ndwelling = d%d\nquantity = %s\n", d, chans[c], d,
                    quantities[c]);
    }
    fclose(f);
}

/* The hourly value of channel c of dwelling d at local hour h. */
static double value(int d, int c, int h)
{
    bool bad = d % 10 == 0;
    switch (c) {
    case 0:
        return bad ? 14.5 : 19.5;
    case 1:
        return 55;
    case 2:
        return h < 6 ? 1100 : 700;
    case 3:
        return bad || (h >= 7 && h < 22) ? 6 : 0;
    default:
        return 0.3;
    }
}

static int count_row(void *ctx, const struct store_rollup *row)
{
    (void)row;
    (*(long *)ctx)++;
    return 0;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 1000;
    int days = argc > 2 ? atoi(argv[2]) : 35;
    char dir[] = "/tmp/foyer-bench-alerts-XXXXXX", db[128], conf[128];
    if (n <= 0 || days <= 0 || !mkdtemp(dir))
        die("usage: bench_alerts [DWELLINGS [DAYS]]");
    snprintf(db, sizeof(db), "%s/foyer.db", dir);
    snprintf(conf, sizeof(conf), "%s/foyer.conf", dir);
    write_conf(conf, db, n);
    struct conf_errors errs = {0};
    struct foyer_config *cfg = config_load(conf, &errs);
    if (!cfg || tu_set_zone(cfg->timezone) < 0)
        die("bad config");
    struct store *s;
    const char *msg;
    if (store_open(db, cfg, &s, &msg) < 0)
        die(msg);

    int64_t now = tu_now_s();
    int64_t end = (now - ALERTS_GRACE_S) / 3600 * 3600;
    int64_t first_hour = tu_day_start(end - (int64_t)days * 86400);
    sqlite3 *sql;
    sqlite3_stmt *hr, *dy;
    if (sqlite3_open(db, &sql) != SQLITE_OK ||
        sqlite3_prepare_v2(sql, "INSERT INTO rollup_hour VALUES (?1, ?2, ?3, 1, ?3, ?3)", -1, &hr,
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(sql, "INSERT INTO rollup_day VALUES (?1, ?2, ?3, 24, NULL, NULL)", -1,
                           &dy, NULL) != SQLITE_OK)
        die("cannot prepare the inserts");
    int64_t t0 = tu_mono_ms();
    sqlite3_exec(sql, "BEGIN", NULL, NULL, NULL);
    for (int d = 0; d < n; d++) {
        for (int c = 0; c < 5; c++) {
            char id[64];
            snprintf(id, sizeof(id), "d%d-%s", d, chans[c]);
            int64_t cid = store_channel_id(s, (uint32_t)config_find_channel(cfg, id));
            for (int64_t t = first_hour; t < end; t += 3600) {
                int h = (int)((t - tu_day_start(t)) / 3600);
                sqlite3_bind_int64(hr, 1, cid);
                sqlite3_bind_int64(hr, 2, t);
                sqlite3_bind_double(hr, 3, value(d, c, h));
                if (sqlite3_step(hr) != SQLITE_DONE)
                    die(sqlite3_errmsg(sql));
                sqlite3_reset(hr);
            }
            if (c < 3)
                continue;
            for (int64_t t = tu_day_start(end - 400 * 86400LL); t < tu_day_start(end);
                 t = tu_next_day(t)) {
                sqlite3_bind_int64(dy, 1, cid);
                sqlite3_bind_int64(dy, 2, t);
                sqlite3_bind_double(dy, 3, c == 3 ? 100 : 7.2);
                if (sqlite3_step(dy) != SQLITE_DONE)
                    die(sqlite3_errmsg(sql));
                sqlite3_reset(dy);
            }
        }
    }
    sqlite3_exec(sql, "COMMIT", NULL, NULL, NULL);
    sqlite3_finalize(hr);
    sqlite3_finalize(dy);
    sqlite3_close(sql);
    printf("setup: %d dwellings, %d channels, %d days of hourly rows: %lld ms\n", n, n * 5, days,
           (long long)(tu_mono_ms() - t0));

    /* The floor: every channel's hourly rows of the window, read alone. */
    struct store *ro;
    if (store_open_readonly(db, cfg, &ro, &msg) < 0)
        die(msg);
    long rows = 0;
    t0 = tu_mono_ms();
    for (size_t i = 0; i < cfg->n_channels; i++)
        (void)store_read_rollups(ro, STORE_HOUR, (uint32_t)i, first_hour, end, 0, count_row, &rows);
    int64_t floor_ms = tu_mono_ms() - t0;
    store_close(ro);
    printf("floor: read %ld hourly rows through the read API: %lld ms\n", rows,
           (long long)floor_ms);

    char lang[1024];
    snprintf(lang, sizeof(lang), "%s/config", getenv("FOYER_SRC") ? getenv("FOYER_SRC") : ".");
    setenv("FOYER_LANG_DIR", lang, 1);
    struct alerts_engine *e = alerts_engine_new(cfg);
    if (!e)
        die("cannot load the alert texts (set FOYER_SRC)");
    for (int run = 1; run <= 2; run++) {
        struct alerts_run_stats st = {0};
        t0 = tu_mono_ms();
        if (alerts_engine_run(e, now, &st) < 0)
            die("run failed");
        int64_t ms = tu_mono_ms() - t0;
        printf("run %d: %llu runs of hours found, %llu alerts opened: %lld ms (%.1f x the "
               "floor)\n",
               run, (unsigned long long)st.runs, (unsigned long long)st.opened, (long long)ms,
               floor_ms ? (double)ms / (double)floor_ms : 0.0);
    }
    /* The same first pass in steps of ALERTS_STEP_MS, as foyerd runs it
     * (without its pauses between steps): the longest step is how long
     * foyerd's main thread is away from its signals, and how long the
     * write lock is held at once. */
    if (sqlite3_open(db, &sql) != SQLITE_OK ||
        sqlite3_exec(sql, "DELETE FROM alerts; DELETE FROM outbox", NULL, NULL, NULL) != SQLITE_OK)
        die("cannot empty the alerts table");
    sqlite3_close(sql);
    struct alerts_run_stats st = {0};
    int rc;
    while ((rc = alerts_engine_step(e, now, ALERTS_STEP_MS, &st)) == 1)
        ;
    if (rc < 0)
        die("stepped pass failed");
    printf("run 1 again in steps of %d ms: %llu alerts opened in %llu steps, the longest %lld ms; "
           "%lld ms of work (+ %d ms of pause per step in foyerd: %lld ms)\n",
           ALERTS_STEP_MS, (unsigned long long)st.opened, (unsigned long long)st.steps,
           (long long)st.longest_step_ms, (long long)st.duration_ms, ALERTS_STEP_PAUSE_MS,
           (long long)(st.duration_ms + (int64_t)(st.steps - 1) * ALERTS_STEP_PAUSE_MS));
    alerts_engine_free(e);
    store_close(s);
    config_free(cfg);
    char cmd[160];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return 0;
}
