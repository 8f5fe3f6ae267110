/*
 * testutil.h - helpers for tests that run the real store on a real SQLite
 * file in a fresh temporary directory.
 *
 * Tests look into the database with SQL of their own (tquery(), tdb()), on
 * a connection of their own: the store does not hand out its connection.
 * Like any second connection, a test's writes change PRAGMA data_version,
 * so the store drops its cached counter state and reads it again.
 */
#ifndef FOYER_TESTUTIL_H
#define FOYER_TESTUTIL_H

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "foyer/config.h"
#include "foyer/store.h"
#include "foyer/timeutil.h"

struct tenv {
    char dir[64];
    char db[128];
    char conf[128];
    struct foyer_config *cfg;
    struct store *s;
    struct ingest_stats stats;
    sqlite3 *sql; /* the test's own connection (tdb()), NULL until used */
};

/* The inventory most store tests use; extra is appended to it. */
#define TEST_BASE_CONF                                                                             \
    "[foyer]\n"                                                                                    \
    "database = %s\n"                                                                              \
    "timezone = Europe/Paris\n"                                                                    \
    "[building b1]\n"                                                                              \
    "[dwelling d1]\n"                                                                              \
    "building = b1\n"                                                                              \
    "surface_m2 = 50\n"                                                                            \
    "heating = electric\n"                                                                         \
    "consent = true\n"                                                                             \
    "[channel elec]\n"                                                                             \
    "dwelling = d1\n"                                                                              \
    "quantity = electricity\n"                                                                     \
    "[channel roll]\n"                                                                             \
    "dwelling = d1\n"                                                                              \
    "quantity = electricity\n"                                                                     \
    "rollover = 100000\n"                                                                          \
    "[channel temp]\n"                                                                             \
    "dwelling = d1\n"                                                                              \
    "quantity = temperature\n"

/* cmocka 1.1 compares floats in single precision: compare doubles here, and
 * say both values when they differ. */
#define assert_double_equal(a, b, eps)                                                             \
    do {                                                                                           \
        double a_ = (a), b_ = (b);                                                                 \
        if (!(fabs(a_ - b_) <= (eps)))                                                             \
            fail_msg("%s = %.12g, expected %s = %.12g (within %g)", #a, a_, #b, b_,                \
                     (double)(eps));                                                               \
    } while (0)

static inline int tenv_setup(struct tenv *t, const char *extra)
{
    memset(t, 0, sizeof(*t));
    snprintf(t->dir, sizeof(t->dir), "/tmp/foyer-test-XXXXXX");
    if (!mkdtemp(t->dir))
        return -errno;
    snprintf(t->db, sizeof(t->db), "%s/foyer.db", t->dir);
    snprintf(t->conf, sizeof(t->conf), "%s/foyer.conf", t->dir);
    FILE *f = fopen(t->conf, "w");
    if (!f)
        return -errno;
    fprintf(f, TEST_BASE_CONF, t->db);
    if (extra)
        fputs(extra, f);
    fclose(f);
    struct conf_errors errs = {0};
    t->cfg = config_load(t->conf, &errs);
    if (!t->cfg) {
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "%s\n", errs.msgs[i]);
        conf_errors_free(&errs);
        return -EINVAL;
    }
    if (tu_set_zone(t->cfg->timezone) < 0)
        return -EINVAL;
    const char *msg;
    int rc = store_open(t->db, t->cfg, &t->s, &msg);
    if (rc < 0)
        fprintf(stderr, "store_open: %s\n", msg);
    return rc;
}

static inline void tenv_teardown(struct tenv *t)
{
    char cmd[160];
    sqlite3_close(t->sql);
    store_close(t->s);
    config_free(t->cfg);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", t->dir);
}

static inline uint32_t tchan(struct tenv *t, const char *id)
{
    int32_t i = config_find_channel(t->cfg, id);
    if (i < 0) {
        fprintf(stderr, "no channel %s\n", id);
        abort();
    }
    return (uint32_t)i;
}

/* Ingest one reading per call, each in its own transaction (as live data
 * arriving slowly), or a whole array at once. */
static inline int tput(struct tenv *t, const char *ch, int64_t ts, double v)
{
    struct reading r = {.channel = tchan(t, ch), .ts_s = ts, .value = v};
    return store_ingest(t->s, &r, 1, 0, &t->stats);
}

/* The test's own read-write connection to the database, opened on first
 * use (closed by tenv_teardown()).  It waits for the store's writer like any
 * other connection. */
static inline sqlite3 *tdb(struct tenv *t)
{
    if (!t->sql) {
        if (sqlite3_open_v2(t->db, &t->sql, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
            fprintf(stderr, "%s: %s\n", t->db, t->sql ? sqlite3_errmsg(t->sql) : "cannot open");
            abort();
        }
        sqlite3_busy_timeout(t->sql, 10000);
    }
    return t->sql;
}

/* Run SQL on the test's connection; SQLITE_OK or SQLite's error code (the
 * message on stderr). */
static inline int texec(struct tenv *t, const char *sql)
{
    char *err = NULL;
    int rc = sqlite3_exec(tdb(t), sql, NULL, NULL, &err);
    if (rc != SQLITE_OK)
        fprintf(stderr, "%s: %s\n", sql, err ? err : sqlite3_errstr(rc));
    sqlite3_free(err);
    return rc;
}

/* A single number from SQL with one integer/text parameter list given as
 * a printf-formatted query. */
static inline double tquery(struct tenv *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static inline double tquery(struct tenv *t, const char *fmt, ...)
{
    char sql[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof(sql), fmt, ap);
    va_end(ap);
    sqlite3_stmt *st;
    double v = -1e300;
    if (sqlite3_prepare_v2(tdb(t), sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "%s: %s\n", sql, sqlite3_errmsg(tdb(t)));
        abort();
    }
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* PRAGMA integrity_check says "ok". */
static inline bool tintegrity_ok(struct tenv *t)
{
    sqlite3_stmt *st;
    bool ok = false;
    if (sqlite3_prepare_v2(tdb(t), "PRAGMA integrity_check", -1, &st, NULL) != SQLITE_OK)
        return false;
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *r = (const char *)sqlite3_column_text(st, 0);
        ok = r && strcmp(r, "ok") == 0;
        if (!ok)
            fprintf(stderr, "integrity_check: %s\n", r ? r : "(null)");
    }
    sqlite3_finalize(st);
    return ok;
}

static inline int64_t tchan_id(struct tenv *t, const char *ch)
{
    return store_channel_id(t->s, tchan(t, ch));
}

/* Consumption of a channel over [from, to) from the hourly rollups. */
static inline double thours(struct tenv *t, const char *ch, int64_t from, int64_t to)
{
    return tquery(t,
                  "SELECT coalesce(sum(sum), 0) FROM rollup_hour WHERE channel = %lld AND "
                  "ts >= %lld AND ts < %lld",
                  (long long)tchan_id(t, ch), (long long)from, (long long)to);
}

static inline double tday(struct tenv *t, const char *ch, int64_t day_start)
{
    return tquery(t,
                  "SELECT coalesce(sum(sum), 0) FROM rollup_day WHERE channel = %lld AND "
                  "ts = %lld",
                  (long long)tchan_id(t, ch), (long long)day_start);
}

static inline double tevents(struct tenv *t, const char *ch, const char *kind)
{
    return tquery(t, "SELECT count(*) FROM events WHERE channel = %lld AND kind = '%s'",
                  (long long)tchan_id(t, ch), kind);
}

static inline int64_t tiso(const char *s)
{
    int64_t ts;
    if (tu_parse_iso(s, &ts) < 0) {
        fprintf(stderr, "bad test time %s\n", s);
        abort();
    }
    return ts;
}

#endif
