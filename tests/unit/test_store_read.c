/*
 * test_store_read.c - the store's read API (store.h, "read API") on a real
 * database: what each function returns against what the tables hold (seen
 * through the test's own connection), reading statuses from enum
 * reading_status (RS_UNCHANGED counts as taken, held ones are flagged),
 * NaN for NULL, channels the database does not know, a callback that stops
 * a scan, and no read transaction left open after any call.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "foyer/counter.h"
#include "testutil.h"

#define H 3600

/* Rows a scan handed over. */
struct rows {
    struct store_rollup r[64];
    size_t n;
    size_t stop_after; /* 0: never stop */
};

static int keep_rollup(void *ctx, const struct store_rollup *row)
{
    struct rows *x = ctx;
    if (x->n < 64)
        x->r[x->n] = *row;
    x->n++;
    return x->stop_after && x->n == x->stop_after ? 7 : 0;
}

/* A TRUNCATE checkpoint completes only when no connection holds a read
 * transaction: a scan left open would make it busy. */
static void assert_no_reader(struct tenv *t, const char *after)
{
    double busy = tquery(t, "PRAGMA wal_checkpoint(TRUNCATE)");
    if (busy != 0)
        fail_msg("after %s a read transaction is still open (checkpoint busy)", after);
}

static void test_rollups(void **state)
{
    (void)state;
    struct tenv t;
    assert_int_equal(tenv_setup(&t, NULL), 0);
    int64_t t0 = tiso("2026-01-10T00:00:00+01:00");
    assert_int_equal(tput(&t, "elec", t0, 100), 0);
    assert_int_equal(tput(&t, "elec", t0 + H, 101), 0);
    assert_int_equal(tput(&t, "elec", t0 + 2 * H, 103), 0);
    assert_int_equal(tput(&t, "temp", t0, 19), 0);
    assert_int_equal(tput(&t, "temp", t0 + 1800, 21), 0);

    struct rows x = {0};
    assert_int_equal(store_read_rollups(t.s, STORE_HOUR, tchan(&t, "elec"), t0, t0 + 3 * H,
                                        STORE_READ_MINMAX, keep_rollup, &x),
                     0);
    assert_int_equal(x.n, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(x.r[i].ts_s, t0 + (int64_t)i * H);
        assert_int_equal(x.r[i].n, 1);
        if (!isnan(x.r[i].min) || !isnan(x.r[i].max))
            fail_msg("hour %zu of a counter: min %g max %g, expected NaN", i, x.r[i].min,
                     x.r[i].max);
    }
    assert_double_equal(x.r[0].sum, 1, 1e-9);
    assert_double_equal(x.r[1].sum, 2, 1e-9);
    assert_double_equal(x.r[2].sum, 0, 1e-9);
    /* [from, to): the last hour left out. */
    x = (struct rows){0};
    assert_int_equal(
        store_read_rollups(t.s, STORE_HOUR, tchan(&t, "elec"), t0, t0 + 2 * H, 0, keep_rollup, &x),
        0);
    assert_int_equal(x.n, 2);

    x = (struct rows){0};
    assert_int_equal(
        store_read_rollups(t.s, STORE_DAY, tchan(&t, "elec"), 0, INT64_MAX, 0, keep_rollup, &x), 0);
    assert_int_equal(x.n, 1);
    assert_int_equal(x.r[0].ts_s, t0);
    assert_double_equal(x.r[0].sum, tday(&t, "elec", t0), 1e-9);
    assert_double_equal(x.r[0].sum, 3, 1e-9);
    assert_int_equal(x.r[0].n, 3);

    x = (struct rows){0};
    assert_int_equal(store_read_rollups(t.s, STORE_MONTH, tchan(&t, "temp"), 0, INT64_MAX,
                                        STORE_READ_MINMAX, keep_rollup, &x),
                     0);
    assert_int_equal(x.n, 1);
    assert_int_equal(x.r[0].ts_s, tiso("2026-01-01T00:00:00+01:00"));
    assert_double_equal(x.r[0].sum, 40, 1e-9);
    assert_int_equal(x.r[0].n, 2);
    assert_double_equal(x.r[0].min, 19, 0);
    assert_double_equal(x.r[0].max, 21, 0);
    /* Not asked for: not read. */
    x = (struct rows){0};
    assert_int_equal(
        store_read_rollups(t.s, STORE_MONTH, tchan(&t, "temp"), 0, INT64_MAX, 0, keep_rollup, &x),
        0);
    assert_int_equal(x.n, 1);
    assert_double_equal(x.r[0].sum, 40, 1e-9);
    assert_true(isnan(x.r[0].min) && isnan(x.r[0].max));
    assert_int_equal(
        store_read_rollups(t.s, STORE_MONTH, tchan(&t, "temp"), 0, INT64_MAX, 0x2, keep_rollup, &x),
        -EINVAL);

    /* A callback that stops: its value comes back, the scan is closed. */
    x = (struct rows){.stop_after = 2};
    assert_int_equal(
        store_read_rollups(t.s, STORE_HOUR, tchan(&t, "elec"), 0, INT64_MAX, 0, keep_rollup, &x),
        7);
    assert_int_equal(x.n, 2);
    assert_no_reader(&t, "a scan stopped by its callback");
    tenv_teardown(&t);
}

static void test_channel_status(void **state)
{
    (void)state;
    struct tenv t;
    assert_int_equal(tenv_setup(&t, NULL), 0);
    int64_t t0 = tiso("2026-01-10T00:00:00+01:00");
    struct store_channel_status cs;

    assert_int_equal(store_read_channel_status(t.s, tchan(&t, "elec"), &cs), 0);
    assert_false(cs.has_last);
    assert_false(cs.held);

    assert_int_equal(tput(&t, "elec", t0, 100), 0);
    assert_int_equal(tput(&t, "elec", t0 + H, 101), 0);
    assert_int_equal(tput(&t, "elec", t0 + 2 * H, 50), 0); /* below: held */
    assert_double_equal(
        tquery(&t, "SELECT status FROM readings WHERE ts = %lld", (long long)(t0 + 2 * H)),
        RS_HELD_LOW, 0);
    assert_int_equal(store_read_channel_status(t.s, tchan(&t, "elec"), &cs), 0);
    assert_true(cs.has_last);
    assert_int_equal(cs.last_ts_s, t0 + H);
    assert_double_equal(cs.last_value, 101, 0);
    assert_true(cs.held);

    /* An unchanged reading (within the resolution) is taken as valid: the
     * newest one. */
    assert_int_equal(tput(&t, "roll", t0, 10), 0);
    char sql[160];
    snprintf(sql, sizeof(sql), "INSERT INTO readings VALUES (%lld, %lld, 9.995, %d)",
             (long long)tchan_id(&t, "roll"), (long long)(t0 + H), RS_UNCHANGED);
    assert_int_equal(texec(&t, sql), SQLITE_OK);
    assert_int_equal(store_read_channel_status(t.s, tchan(&t, "roll"), &cs), 0);
    assert_true(cs.has_last);
    assert_int_equal(cs.last_ts_s, t0 + H);
    assert_double_equal(cs.last_value, 9.995, 0);
    assert_false(cs.held);
    assert_no_reader(&t, "store_read_channel_status()");
    tenv_teardown(&t);
}

/* What a devices scan saw. */
struct devs {
    char names[4][FOYER_ID_MAX + 1];
    char states[4][16];
    uint64_t timeouts[4];
    size_t n;
};

static int keep_device(void *ctx, const struct device_health *h)
{
    struct devs *x = ctx;
    if (x->n < 4) {
        snprintf(x->names[x->n], sizeof(x->names[0]), "%s", h->device);
        snprintf(x->states[x->n], sizeof(x->states[0]), "%s", h->state);
        x->timeouts[x->n] = h->timeouts;
    }
    x->n++;
    return 0;
}

/* The events of a scan, as one line each. */
struct evs {
    char line[8][160];
    size_t n;
};

static int keep_event(void *ctx, const struct store_event *ev)
{
    struct evs *x = ctx;
    if (x->n < 8)
        snprintf(x->line[x->n], sizeof(x->line[0]), "%lld %s %s %s %g %g %s", (long long)ev->ts_s,
                 ev->channel ? ev->channel : "-", ev->device ? ev->device : "-", ev->kind,
                 ev->value, ev->prev_value, ev->detail ? ev->detail : "-");
    x->n++;
    return 0;
}

static void test_devices_and_events(void **state)
{
    (void)state;
    struct tenv t;
    assert_int_equal(tenv_setup(&t, NULL), 0);
    char buf[16] = "untouched";
    assert_int_equal(store_read_device_state(t.s, "m1", buf, sizeof(buf)), -ENOENT);
    assert_string_equal(buf, "untouched");

    struct device_health h[2] = {
        {.device = "s1", .kind = "sensor", .state = "stale", .since_s = 1700000000},
        {.device = "m1", .kind = "meter", .state = "offline", .since_s = 1700000100, .timeouts = 3},
    };
    struct device_event ev = {
        .device = "m1", .ts_s = 1700000100, .kind = "offline", .detail = "3 polls missed: timeout"};
    assert_int_equal(store_put_devices(t.s, &ev, 1, h, 2), 0);
    assert_int_equal(store_read_device_state(t.s, "m1", buf, sizeof(buf)), 0);
    assert_string_equal(buf, "offline");

    struct devs d = {0};
    assert_int_equal(store_read_devices(t.s, keep_device, &d), 0);
    assert_int_equal(d.n, 2);
    /* By kind, then name: meters first. */
    assert_string_equal(d.names[0], "m1");
    assert_string_equal(d.states[0], "offline");
    assert_int_equal(d.timeouts[0], 3);
    assert_string_equal(d.names[1], "s1");

    /* A counter reset: an event of the channel, with both values. */
    int64_t t0 = tiso("2026-01-10T00:00:00+01:00");
    assert_int_equal(tput(&t, "elec", t0, 100), 0);
    assert_int_equal(tput(&t, "elec", t0 + H, 5), 0);
    assert_int_equal(tput(&t, "elec", t0 + 2 * H, 6), 0);
    struct evs e = {0};
    assert_int_equal(store_read_events(t.s, 0, keep_event, &e), 0);
    assert_double_equal((double)e.n, tquery(&t, "SELECT count(*) FROM events"), 0);
    assert_int_equal(e.n, 2);
    assert_string_equal(e.line[0], "1700000100 - m1 offline nan nan 3 polls missed: timeout");
    char want[160];
    snprintf(want, sizeof(want), "%lld elec - %s 5 100 -", (long long)(t0 + H), EVENT_METER_RESET);
    assert_string_equal(e.line[1], want);
    /* Since a time: the older event left out. */
    e = (struct evs){0};
    assert_int_equal(store_read_events(t.s, 1700000101, keep_event, &e), 0);
    assert_int_equal(e.n, 1);
    assert_no_reader(&t, "the devices and events reads");
    tenv_teardown(&t);
}

static void test_summary(void **state)
{
    (void)state;
    struct tenv t;
    assert_int_equal(tenv_setup(&t, NULL), 0);
    char *body = NULL;
    assert_int_equal(store_read_summary(t.s, "d1", "2026-W09", &body), -ENOENT);
    assert_null(body);
    assert_int_equal(store_read_summary(t.s, "d1", "2026-W09", NULL), -ENOENT);
    assert_int_equal(texec(&t, "INSERT INTO summaries VALUES ('d1', '2026-W09', 1, 0,"
                               " '{\"tips\": []}')"),
                     SQLITE_OK);
    assert_int_equal(store_read_summary(t.s, "d1", "2026-W09", NULL), 0);
    assert_int_equal(store_read_summary(t.s, "d1", "2026-W09", &body), 0);
    assert_string_equal(body, "{\"tips\": []}");
    free(body);
    assert_int_equal(store_read_summary(t.s, "d1", "2026-W10", NULL), -ENOENT);
    assert_int_equal(store_read_summary(t.s, "d2", "2026-W09", NULL), -ENOENT);
    assert_no_reader(&t, "store_read_summary()");
    tenv_teardown(&t);
}

/* A read-only handle on a config with a channel the database has never
 * seen: that channel has no rows and no status; the others read as on the
 * write handle. */
static void test_readonly_unknown_channel(void **state)
{
    (void)state;
    struct tenv t;
    assert_int_equal(tenv_setup(&t, NULL), 0);
    int64_t t0 = tiso("2026-01-10T00:00:00+01:00");
    assert_int_equal(tput(&t, "elec", t0, 100), 0);
    assert_int_equal(tput(&t, "elec", t0 + H, 101), 0);
    FILE *f = fopen(t.conf, "a");
    fputs("[channel water]\ndwelling = d1\nquantity = cold_water\n", f);
    fclose(f);
    struct conf_errors errs = {0};
    struct foyer_config *ncfg = config_load(t.conf, &errs);
    assert_non_null(ncfg);
    struct store *ro;
    const char *msg;
    assert_int_equal(store_open_readonly(t.db, ncfg, &ro, &msg), 0);
    uint32_t water = (uint32_t)config_find_channel(ncfg, "water");
    assert_int_equal(store_channel_id(ro, water), -1);

    struct rows x = {0};
    assert_int_equal(store_read_rollups(ro, STORE_DAY, water, 0, INT64_MAX, 0, keep_rollup, &x), 0);
    assert_int_equal(x.n, 0);
    struct store_channel_status cs = {.has_last = true};
    assert_int_equal(store_read_channel_status(ro, water, &cs), 0);
    assert_false(cs.has_last);
    x = (struct rows){0};
    assert_int_equal(store_read_rollups(ro, STORE_HOUR, (uint32_t)config_find_channel(ncfg, "elec"),
                                        0, INT64_MAX, 0, keep_rollup, &x),
                     0);
    assert_int_equal(x.n, 2);
    assert_no_reader(&t, "reads on a read-only handle");
    /* Still read-only. */
    struct reading r = {(uint32_t)config_find_channel(ncfg, "elec"), t0 + 2 * H, 102};
    struct ingest_stats st = {0};
    assert_int_equal(store_ingest(ro, &r, 1, 0, &st), -EROFS);
    store_close(ro);
    config_free(ncfg);
    tenv_teardown(&t);
}

/* store_read_begin() holds one read transaction over several calls: they
 * see one snapshot (a commit in between is not seen), a second begin is
 * refused, and store_read_end() leaves no reader behind. */
static void test_read_transaction(void **state)
{
    (void)state;
    struct tenv t;
    struct store *ro;
    const char *msg;
    assert_int_equal(tenv_setup(&t, NULL), 0);
    int64_t t0 = tiso("2026-01-10T00:00:00+01:00");
    assert_int_equal(tput(&t, "elec", t0, 100), 0);
    assert_int_equal(store_open_readonly(t.db, t.cfg, &ro, &msg), 0);

    assert_int_equal(store_read_begin(ro), 0);
    assert_int_equal(store_read_begin(ro), -EBUSY);
    struct store_channel_status cs;
    assert_int_equal(store_read_channel_status(ro, tchan(&t, "elec"), &cs), 0);
    assert_int_equal(cs.last_ts_s, t0);
    assert_int_equal(tput(&t, "elec", t0 + H, 101), 0); /* committed meanwhile */
    assert_int_equal(store_read_channel_status(ro, tchan(&t, "elec"), &cs), 0);
    assert_int_equal(cs.last_ts_s, t0); /* the snapshot */
    store_read_end(ro);
    assert_no_reader(&t, "store_read_end()");
    assert_int_equal(store_read_channel_status(ro, tchan(&t, "elec"), &cs), 0);
    assert_int_equal(cs.last_ts_s, t0 + H);
    store_read_end(ro); /* none held: nothing happens */
    store_close(ro);
    tenv_teardown(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rollups),        cmocka_unit_test(test_read_transaction),
        cmocka_unit_test(test_channel_status), cmocka_unit_test(test_devices_and_events),
        cmocka_unit_test(test_summary),        cmocka_unit_test(test_readonly_unknown_channel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
