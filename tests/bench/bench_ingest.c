/*
 * bench_ingest.c - ingest throughput of the real write path, against a bare
 * SQLite baseline measured in the same run.  Prints figures; asserts nothing
 * about time.
 *
 *   1. writer: 1 000 counter channels, readings arriving time-major (one per
 *      channel per cycle, as live data comes) through the queue and the
 *      writer thread: batched commits, counter logic, hourly/daily/monthly
 *      rollups.
 *   2. bare SQLite: the same rows into a (channel, ts, value) WITHOUT ROWID
 *      table, one prepared statement, arrival order, in batches of
 *      batch_readings, and again in batches of FOYER_BATCH_BACKLOG_MAX (the
 *      writer commits up to that many at once when it is behind).
 *   3. import: the same kind of data from a CSV file through csv_import().
 *   4. bytes per raw reading on disk (dbstat), and resident memory.
 *   1b. the same with [uplink] set: store_ingest() also notes each changed
 *      hourly row for the fleet uplink (uplink_dirty); the cost beside 1.
 *   5. small batches (40 channels, one reading each) before and after one
 *      batch of 90-day spreads on the same channels: the rollup accumulator
 *      such a batch grows must not make every later batch slower.
 *
 * Usage: bench_ingest [CHANNELS [CYCLES]]   (default 1000 x 300)
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "foyer/config.h"
#include "foyer/ctl.h"
#include "foyer/ingest.h"
#include "foyer/limits.h"
#include "foyer/store.h"
#include "foyer/timeutil.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static long rss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static struct foyer_config *make_config_uplink(const char *dir, const char *db, int channels,
                                               bool uplink)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/bench.conf", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return NULL;
    fprintf(f, "[foyer]\ndatabase = %s\ntimezone = Europe/Paris\n[building b1]\n", db);
    for (int c = 0; c < channels; c++)
        fprintf(f, "[channel c%04d]\nbuilding = b1\nquantity = electricity\n", c);
    if (uplink)
        fprintf(f, "[uplink]\nhost = 127.0.0.1\ngateway_id = bench\n");
    fclose(f);
    struct conf_errors errs = {0};
    struct foyer_config *cfg = config_load(path, &errs);
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "%s\n", errs.msgs[i]);
    conf_errors_free(&errs);
    return cfg;
}

static struct foyer_config *make_config(const char *dir, const char *db, int channels)
{
    return make_config_uplink(dir, db, channels, false);
}

static double value_of(int c, int cycle)
{
    return 1000.0 + c + cycle * (0.01 + 0.0001 * (c % 50));
}

static int64_t t0;
#define CYCLE_S 60

static double bench_writer(const struct foyer_config *cfg, const char *db, int channels, int cycles,
                           double *ret_cpu)
{
    struct store *s;
    const char *msg;
    if (store_open(db, cfg, &s, &msg) < 0) {
        fprintf(stderr, "store_open: %s\n", msg);
        exit(1);
    }
    struct queue *q = queue_new(FOYER_QUEUE_CAPACITY);
    double c0 = cpu_s(), w0 = now_s();
    struct writer *w = writer_start(s, q, cfg);
    uint64_t refused = 0;
    for (int k = 0; k < cycles; k++) {
        for (int c = 0; c < channels; c++) {
            struct reading r = {(uint32_t)c, t0 + (int64_t)k * CYCLE_S, value_of(c, k)};
            while (!queue_push(q, &r)) {
                refused++; /* the bench waits instead of dropping */
                struct timespec ts = {0, 200000};
                nanosleep(&ts, NULL);
            }
        }
        if (k % 50 == 0)
            fprintf(stderr, "\rwriter: cycle %d/%d", k, cycles);
    }
    struct writer_stats ws;
    writer_stop(w, &ws);
    double secs = now_s() - w0;
    *ret_cpu = cpu_s() - c0;
    fprintf(stderr, "\r");
    queue_free(q);
    if (ws.ingest.stored != (uint64_t)channels * (uint64_t)cycles)
        fprintf(stderr, "writer: stored %llu of %llu readings!\n",
                (unsigned long long)ws.ingest.stored,
                (unsigned long long)channels * (unsigned long long)cycles);
    printf("  writer batches: %llu commits, queue full waits: %llu\n",
           (unsigned long long)ws.ingest.batches, (unsigned long long)refused);
    return secs;
}

static double bench_bare(const char *db, int channels, int cycles, int batch)
{
    sqlite3 *h;
    sqlite3_stmt *st;
    sqlite3_open(db, &h);
    sqlite3_exec(h,
                 "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
                 "CREATE TABLE r(channel INTEGER, ts INTEGER, value REAL,"
                 " PRIMARY KEY(channel, ts)) WITHOUT ROWID",
                 NULL, NULL, NULL);
    sqlite3_prepare_v2(h, "INSERT INTO r VALUES (?1, ?2, ?3)", -1, &st, NULL);
    double w0 = now_s();
    int in_batch = 0;
    sqlite3_exec(h, "BEGIN", NULL, NULL, NULL);
    for (int k = 0; k < cycles; k++) {
        for (int c = 0; c < channels; c++) {
            sqlite3_bind_int64(st, 1, c + 1);
            sqlite3_bind_int64(st, 2, t0 + (int64_t)k * CYCLE_S);
            sqlite3_bind_double(st, 3, value_of(c, k));
            sqlite3_step(st);
            sqlite3_reset(st);
            if (++in_batch == batch) {
                sqlite3_exec(h, "COMMIT; BEGIN", NULL, NULL, NULL);
                in_batch = 0;
            }
        }
    }
    sqlite3_exec(h, "COMMIT", NULL, NULL, NULL);
    double secs = now_s() - w0;
    sqlite3_finalize(st);
    sqlite3_close(h);
    return secs;
}

static double bytes_per_reading(const char *db, const char *table, long long rows)
{
    sqlite3 *h;
    sqlite3_stmt *st;
    double bytes = -1;
    char sql[128];
    sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL);
    snprintf(sql, sizeof(sql), "SELECT sum(pgsize) FROM dbstat WHERE name = '%s'", table);
    if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            bytes = sqlite3_column_double(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(h);
    return bytes < 0 ? -1 : bytes / (double)rows;
}

static double bench_import(const struct foyer_config *cfg, const char *dir, const char *db,
                           int channels, int cycles, double *ret_gen_s)
{
    char csv[256];
    char when[40];
    snprintf(csv, sizeof(csv), "%s/import.csv", dir);
    double g0 = now_s();
    FILE *f = fopen(csv, "w");
    fprintf(f, "channel,time,value\n");
    for (int k = 0; k < cycles; k++)
        for (int c = 0; c < channels; c++)
            fprintf(f, "c%04d,%s,%.4f\n", c,
                    tu_format_utc(t0 + (int64_t)k * CYCLE_S, when, sizeof(when)), value_of(c, k));
    fclose(f);
    *ret_gen_s = now_s() - g0;

    struct store *s;
    const char *msg;
    if (store_open(db, cfg, &s, &msg) < 0) {
        fprintf(stderr, "store_open: %s\n", msg);
        exit(1);
    }
    struct import_result res;
    f = fopen(csv, "r");
    double w0 = now_s();
    int rc = csv_import(s, cfg, f, csv, stderr, stderr, &res);
    double secs = now_s() - w0;
    fclose(f);
    store_close(s);
    if (rc < 0 || res.ingest.stored != (uint64_t)channels * (uint64_t)cycles)
        fprintf(stderr, "import: rc %d, stored %llu\n", rc, (unsigned long long)res.ingest.stored);
    return secs;
}

/* Wall time per batch of `batches` small batches of SPREAD_CHANNELS readings,
 * one a minute from *tick on. */
#define SPREAD_CHANNELS 40
static double small_batches(struct store *s, int batches, int64_t *tick, double *value)
{
    struct reading r[SPREAD_CHANNELS];
    struct ingest_stats st = {0};
    double w0 = now_s();
    for (int b = 0; b < batches; b++) {
        *tick += 60;
        *value += 0.01;
        for (int c = 0; c < SPREAD_CHANNELS; c++)
            r[c] = (struct reading){(uint32_t)c, *tick, *value};
        if (store_ingest(s, r, SPREAD_CHANNELS, 0, &st) < 0)
            fprintf(stderr, "spreads: a batch failed\n");
    }
    return (now_s() - w0) / batches;
}

static void bench_after_spreads(const struct foyer_config *cfg, const char *db)
{
    struct store *s;
    const char *msg;
    if (store_open(db, cfg, &s, &msg) < 0) {
        fprintf(stderr, "store_open: %s\n", msg);
        exit(1);
    }
    /* The bench's own connection, for the checkpoints. */
    sqlite3 *h;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        fprintf(stderr, "%s: %s\n", db, sqlite3_errmsg(h));
        exit(1);
    }
    /* 100 days ago, then 90 days later: long spreads, nothing in the future. */
    int64_t tick = tu_day_start(tu_now_s()) - 100 * 86400;
    double value = 1000;
    (void)small_batches(s, 50, &tick, &value); /* warm up */
    (void)sqlite3_wal_checkpoint_v2(h, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    (void)small_batches(s, 50, &tick, &value);
    double before = small_batches(s, 200, &tick, &value);
    tick += 90 * 86400;
    value += 2000;
    double spread = small_batches(s, 1, &tick, &value);
    /* The WAL the spreads filled would slow SQLite's side for a while:
     * checkpoint it, so what remains is the store's own cost. */
    (void)sqlite3_wal_checkpoint_v2(h, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    (void)small_batches(s, 50, &tick, &value);
    double after = small_batches(s, 200, &tick, &value);
    sqlite3_close(h);
    store_close(s);
    printf("  small batches (%d readings): %.0f us each; one batch of %d spreads of 90 days: "
           "%.0f ms; small batches after it: %.0f us each (ratio %.2f)\n",
           SPREAD_CHANNELS, before * 1e6, SPREAD_CHANNELS, spread * 1e3, after * 1e6,
           after / before);
}

int main(int argc, char **argv)
{
    int channels = argc > 1 ? atoi(argv[1]) : 1000;
    int cycles = argc > 2 ? atoi(argv[2]) : 300;
    long long n = (long long)channels * cycles;
    char dir[] = "/tmp/foyer-bench-XXXXXX";
    char db[300], bare[300], imp[300];

    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(db, sizeof(db), "%s/writer.db", dir);
    snprintf(bare, sizeof(bare), "%s/bare.db", dir);
    snprintf(imp, sizeof(imp), "%s/import.db", dir);
    struct foyer_config *cfg = make_config(dir, db, channels);
    if (!cfg || tu_set_zone("Europe/Paris") < 0)
        return 1;
    /* Recent data: older readings would fall to raw retention mid-run. */
    t0 = tu_day_start(tu_now_s()) - 3 * 86400;

    printf("Foyer ingest benchmark: %d channels x %d cycles = %lld readings, time-major, "
           "batches of %d\n",
           channels, cycles, n, cfg->batch_readings);
    double cpu;
    double tw = bench_writer(cfg, db, channels, cycles, &cpu);
    printf("  foyer writer (queue -> batched commit -> rollups): %8.0f readings/s  "
           "(%.2f s wall, %.2f s CPU, %.2f us CPU per reading)\n",
           (double)n / tw, tw, cpu, cpu / (double)n * 1e6);
    char updb[300];
    snprintf(updb, sizeof(updb), "%s/uplink.db", dir);
    struct foyer_config *cfgu = make_config_uplink(dir, updb, channels, true);
    double cpuu;
    double twu = bench_writer(cfgu, updb, channels, cycles, &cpuu);
    printf("  foyer writer with [uplink] (changed hours noted):   %8.0f readings/s  "
           "(%.2f s wall, %.2f s CPU, %.2f us CPU per reading); cost: %+.1f %% wall, "
           "%+.1f %% CPU\n",
           (double)n / twu, twu, cpuu, cpuu / (double)n * 1e6, (twu / tw - 1) * 100,
           (cpuu / cpu - 1) * 100);
    config_free(cfgu);
    double tb = bench_bare(bare, channels, cycles, cfg->batch_readings);
    printf("  bare SQLite baseline (one INSERT, same batches):   %8.0f readings/s  (%.2f s)\n",
           (double)n / tb, tb);
    printf("  ratio foyer / bare: %.2f (target >= 0.5)\n", tb / tw);
    /* Under backlog the writer commits up to FOYER_BATCH_BACKLOG_MAX per
     * transaction: the bare baseline with that batch size, for fairness. */
    snprintf(bare, sizeof(bare), "%s/bare2.db", dir);
    double tb2 = bench_bare(bare, channels, cycles, FOYER_BATCH_BACKLOG_MAX);
    printf("  bare SQLite baseline, batches of %d:           %8.0f readings/s  (%.2f s); "
           "ratio foyer / bare: %.2f\n",
           FOYER_BATCH_BACKLOG_MAX, (double)n / tb2, tb2, tb2 / tw);

    double gen;
    struct foyer_config *cfg2 = make_config(dir, imp, channels);
    double ti = bench_import(cfg2, dir, imp, channels, cycles, &gen);
    printf("  foyerctl import of a %lld-row CSV:                 %8.0f readings/s  (%.2f s; "
           "writing the CSV took %.2f s)\n",
           n, (double)n / ti, ti, gen);

    double bpr = bytes_per_reading(db, "readings", n);
    snprintf(bare, sizeof(bare), "%s/bare.db", dir);
    double bpr_bare = bytes_per_reading(bare, "r", n);
    struct stat sb;
    stat(db, &sb);
    if (bpr > 0)
        printf("  on disk: %.1f bytes per raw reading (bare table: %.1f; target <= 40); "
               "database file %.1f MiB including rollups\n",
               bpr, bpr_bare, (double)sb.st_size / 1048576.0);
    else
        printf("  on disk: database file %.1f bytes per reading (dbstat unavailable)\n",
               (double)sb.st_size / (double)n);
    printf("  peak resident memory of the bench process: %.1f MiB\n", (double)rss_kib() / 1024);

    if (channels >= SPREAD_CHANNELS) {
        snprintf(imp, sizeof(imp), "%s/spreads.db", dir);
        struct foyer_config *cfg3 = make_config(dir, imp, channels);
        bench_after_spreads(cfg3, imp);
        config_free(cfg3);
    }

    config_free(cfg);
    config_free(cfg2);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return 0;
}
