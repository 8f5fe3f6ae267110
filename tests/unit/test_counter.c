/*
 * test_counter.c - counter readings to consumption, through the real store on
 * a real SQLite file: every case widely used home-energy systems get wrong.
 * Each test names its readings in its assertions' context.
 */
#include <malloc.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define T_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(T_ASAN)
#define T_ASAN 1
#endif
#ifdef T_ASAN
#include <sanitizer/allocator_interface.h>
#endif

#include "foyer/counter.h"
#include "testutil.h"

#define H   3600
#define EPS 1e-9

static int setup(void **state)
{
    struct tenv *t = calloc(1, sizeof(*t));
    if (!t || tenv_setup(t, NULL) < 0)
        return -1;
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    tenv_teardown(*state);
    free(*state);
    return 0;
}

/* Hourly consumption must never be negative nor above max_rate (36 kWh/h). */
static void assert_hours_sane(struct tenv *t, const char *ch)
{
    double lo = tquery(t, "SELECT coalesce(min(sum), 0) FROM rollup_hour WHERE channel = %lld",
                       (long long)tchan_id(t, ch));
    double hi = tquery(t, "SELECT coalesce(max(sum), 0) FROM rollup_hour WHERE channel = %lld",
                       (long long)tchan_id(t, ch));
    if (lo < -EPS || hi > 36 + EPS)
        fail_msg("%s: an hour has %g..%g kWh", ch, lo, hi);
}

static void feed(struct tenv *t, const char *ch, int64_t t0, int64_t step, const double *v,
                 size_t n)
{
    for (size_t i = 0; i < n; i++)
        assert_int_equal(tput(t, ch, t0 + (int64_t)i * step, v[i]), 0);
}

static void test_normal_consumption(void **state)
{
    struct tenv *t = *state;
    int64_t t0 = tiso("2026-01-10T00:00:00+01:00");
    double v[] = {1000, 1001, 1003, 1006};
    feed(t, "elec", t0, H, v, 4);
    assert_double_equal(thours(t, "elec", t0, t0 + 3 * H), 6, EPS);
    assert_double_equal(thours(t, "elec", t0, t0 + H), 1, EPS);
    assert_double_equal(thours(t, "elec", t0 + 2 * H, t0 + 3 * H), 3, EPS);
    assert_double_equal(tday(t, "elec", t0), 6, EPS);
}

static void test_reset_to_zero(void **state)
{
    struct tenv *t = *state;
    int64_t t0 = tiso("2026-01-10T00:00:00+01:00");
    /* 100, 110, then the meter restarts at 0 and counts on: 0, 5, 8. */
    double v[] = {100, 110, 0, 5, 8};
    feed(t, "elec", t0, H, v, 5);
    assert_double_equal(tday(t, "elec", t0), 10 + 5 + 3, EPS);
    assert_double_equal(tevents(t, "elec", EVENT_METER_RESET), 1, 0);
    assert_int_equal(t->stats.resets, 1);
    assert_hours_sane(t, "elec");
}

static void test_rollover(void **state)
{
    struct tenv *t = *state;
    int64_t t0 = tiso("2026-01-10T00:00:00+01:00");
    /* The index wraps at 100000: 99990 -> 99995 -> 3 -> 10. */
    double v[] = {99990, 99995, 3, 10};
    feed(t, "roll", t0, H, v, 4);
    assert_double_equal(tday(t, "roll", t0), 5 + 8 + 7, EPS);
    assert_double_equal(thours(t, "roll", t0 + H, t0 + 2 * H), 8, EPS);
    assert_double_equal(tevents(t, "roll", EVENT_ROLLOVER), 1, 0);
    assert_hours_sane(t, "roll");
}

static void test_meter_replaced_lower(void **state)
{
    struct tenv *t = *state;
    int64_t t0 = tiso("2026-01-10T00:00:00+01:00");
    /* Old meter at 5000, replaced by a new one starting at 200. */
    double v[] = {5000, 5010, 200, 205, 207};
    feed(t, "elec", t0, H, v, 5);
    assert_double_equal(tday(t, "elec", t0), 10 + 5 + 2, EPS);
    assert_double_equal(tevents(t, "elec", EVENT_METER_RESET), 1, 0);
    assert_hours_sane(t, "elec");
}

static void test_meter_replaced_higher(void **state)
{
    struct tenv *t = *state;
    int64_t t0 = tiso("2026-01-10T00:00:00+01:00");
    /* Replaced by a meter whose index is far higher: never 85 000 kWh in
     * an hour, a new baseline confirmed by the readings that follow. */
    double v[] = {5000, 5010, 90000, 90005, 90007};
    feed(t, "elec", t0, H, v, 5);
    assert_double_equal(tday(t, "elec", t0), 10 + 5 + 2, EPS);
    assert_double_equal(tevents(t, "elec", EVENT_INDEX_JUMP), 1, 0);
    assert_hours_sane(t, "elec");
}

static void test_spike_then_normal(void **state)
{
    struct tenv *t = *state;
    int64_t t0 = tiso("2026-01-10T00:00:00+01:00");
    double v[] = {100, 101, 5000, 102, 103};
    feed(t, "elec", t0, H, v, 5);
    assert_double_equal(tday(t, "elec", t0), 3, EPS);
    assert_double_equal(tevents(t, "elec", EVENT_SPIKE_DROPPED), 1, 0);
    assert_int_equal(t->stats.spikes, 1);
    assert_hours_sane(t, "elec");
}

static void test_zero_glitch(void **state)
{
    struct tenv *t = *state;
    int64_t t0 = tiso("2026-01-10T00:00:00+01:00");
    /* A gateway reboots and reports 0 once between two normal readings. */
    double v[] = {100, 101, 0, 102, 103};
    feed(t, "elec", t0, H, v, 5);
    assert_double_equal(tday(t, "elec", t0), 3, EPS);
    assert_double_equal(tevents(t, "elec", EVENT_GLITCH_DROPPED), 1, 0);
    assert_double_equal(tevents(t, "elec", EVENT_METER_RESET), 0, 0);
    /* Nothing lost: the glitch is kept with its status, for review. */
    assert_double_equal(tquery(t, "SELECT count(*) FROM readings WHERE channel = %lld",
                               (long long)tchan_id(t, "elec")),
                        5, 0);
    assert_hours_sane(t, "elec");
}

static void test_device_off_two_weeks(void **state)
{
    struct tenv *t = *state;
    int64_t t0 = tiso("2026-02-01T00:00:00+01:00");
    /* Switched off for 14 days: the index does not move. */
    assert_int_equal(tput(t, "elec", t0, 500), 0);
    assert_int_equal(tput(t, "elec", t0 + H, 501), 0);
    assert_int_equal(tput(t, "elec", t0 + 14 * 24 * H, 501), 0);
    assert_int_equal(tput(t, "elec", t0 + 14 * 24 * H + H, 502.5), 0);
    for (int d = 1; d < 14; d++) {
        int64_t day = tu_day_start(t0 + d * 24 * H + 12 * H);
        assert_double_equal(tday(t, "elec", day), 0, EPS);
    }
    assert_double_equal(thours(t, "elec", t0 + 14 * 24 * H, t0 + 15 * 24 * H), 1.5, EPS);
    assert_hours_sane(t, "elec");
}

static void test_three_day_gap(void **state)
{
    struct tenv *t = *state;
    int64_t t0 = tiso("2026-02-01T00:00:00+01:00");
    assert_int_equal(tput(t, "elec", t0, 1000), 0);
    assert_int_equal(tput(t, "elec", t0 + 72 * H, 1072), 0);
    /* Spread in proportion to time: 1 kWh in each of the 72 hours. */
    for (int h = 0; h < 72; h++)
        assert_double_equal(thours(t, "elec", t0 + h * H, t0 + (h + 1) * H), 1, 1e-9);
    for (int d = 0; d < 3; d++)
        assert_double_equal(tday(t, "elec", tu_day_start(t0 + d * 24 * H)), 24, 1e-9);
}

static void test_gap_not_on_hour(void **state)
{
    struct tenv *t = *state;
    int64_t t0 = tiso("2026-02-01T10:30:00+01:00");
    assert_int_equal(tput(t, "elec", t0, 10), 0);
    assert_int_equal(tput(t, "elec", t0 + 2 * H, 12), 0);
    assert_double_equal(thours(t, "elec", t0 - 1800, t0 + 1800), 0.5, 1e-12);
    assert_double_equal(thours(t, "elec", t0 + 1800, t0 + 5400), 1, 1e-12);
    assert_double_equal(thours(t, "elec", t0 + 5400, t0 + 9000), 0.5, 1e-12);
}

static void ingest_all(struct tenv *t, struct reading *r, size_t n)
{
    assert_int_equal(store_ingest(t->s, r, n, &t->stats), 0);
}

/* The same readings in time order, then shuffled into another database,
 * give the same hours. */
static void test_out_of_order(void **state)
{
    struct tenv *t = *state;
    int64_t t0 = tiso("2026-03-02T00:00:00+01:00");
    enum { N = 48 };
    double v[N];
    for (int i = 0; i < N; i++)
        v[i] = 100 + i * 0.75 + 0.3 * (i % 3); /* increasing, uneven steps */
    /* In order, one reading per transaction. */
    feed(t, "elec", t0, 1800, v, N);
    /* Another channel gets the same values in a scrambled order, each
     * reading in its own transaction so every late one takes the late path. */
    int order[N];
    for (int i = 0; i < N; i++)
        order[i] = (i * 17 + 5) % N; /* 17 and 48 are coprime: a permutation */
    for (int i = 0; i < N; i++) {
        struct reading r = {
            .channel = tchan(t, "roll"), .ts_s = t0 + order[i] * 1800, .value = v[order[i]]};
        ingest_all(t, &r, 1);
    }
    for (int h = 0; h < 24; h++) {
        double a = thours(t, "elec", t0 + h * H, t0 + (h + 1) * H);
        double b = thours(t, "roll", t0 + h * H, t0 + (h + 1) * H);
        if (fabs(a - b) > 1e-9)
            fail_msg("hour %d: in order %g kWh, scrambled %g kWh", h, a, b);
    }
    assert_double_equal(tday(t, "roll", t0), v[N - 1] - v[0], 1e-9);
    assert_int_equal(t->stats.late_refused, 0);
}

static void test_duplicates(void **state)
{
    struct tenv *t = *state;
    int64_t t0 = tiso("2026-03-02T00:00:00+01:00");
    double v[] = {10, 11, 13};
    feed(t, "elec", t0, H, v, 3);
    feed(t, "elec", t0, H, v, 3);
    struct reading batch[] = {{tchan(t, "elec"), t0 + H, 11}, {tchan(t, "elec"), t0 + H, 11}};
    ingest_all(t, batch, 2);
    assert_double_equal(tday(t, "elec", t0), 3, EPS);
    assert_int_equal(t->stats.duplicates, 5);
    /* Same time, another value: the first is kept, the conflict recorded. */
    assert_int_equal(tput(t, "elec", t0 + H, 12), 0);
    assert_int_equal(t->stats.conflicts, 1);
    assert_double_equal(tday(t, "elec", t0), 3, EPS);
}

/* A day total must equal the index difference between local midnights. */
static void check_dst_day(struct tenv *t, const char *day, double expect_hours)
{
    int64_t start = tiso(day);
    int64_t end = tu_next_day(start);
    assert_double_equal((double)(end - start) / H, expect_hours, 0);
    /* 1 kWh per hour, read every 15 minutes from the day before to after. */
    int64_t from = start - 24 * H, to = end + 24 * H;
    for (int64_t ts = from; ts <= to; ts += 900)
        assert_int_equal(tput(t, "elec", ts, 1000 + (double)(ts - from) / H), 0);
    double index_start = 1000 + (double)(start - from) / H;
    double index_end = 1000 + (double)(end - from) / H;
    double got = tday(t, "elec", start);
    if (fabs(got - (index_end - index_start)) > 1e-6)
        fail_msg("%s: day total %g kWh, index difference %g kWh", day, got,
                 index_end - index_start);
    assert_double_equal(got, expect_hours, 1e-6);
    assert_double_equal(tquery(t,
                               "SELECT count(*) FROM rollup_hour WHERE channel = %lld AND "
                               "ts >= %lld AND ts < %lld",
                               (long long)tchan_id(t, "elec"), (long long)start, (long long)end),
                        expect_hours, 0);
}

static void test_dst_spring(void **state)
{
    check_dst_day(*state, "2026-03-29", 23);
}

static void test_dst_autumn(void **state)
{
    check_dst_day(*state, "2026-10-25", 25);
}

static void test_month_rollup(void **state)
{
    struct tenv *t = *state;
    int64_t jan31 = tiso("2026-01-31T12:00:00+01:00");
    assert_int_equal(tput(t, "elec", jan31, 0), 0);
    assert_int_equal(tput(t, "elec", jan31 + 24 * H, 24), 0);
    int64_t feb = tiso("2026-02-01");
    double jan = tquery(t, "SELECT sum FROM rollup_month WHERE channel = %lld AND ts = %lld",
                        (long long)tchan_id(t, "elec"), (long long)tu_month_start(jan31));
    double febv = tquery(t, "SELECT sum FROM rollup_month WHERE channel = %lld AND ts = %lld",
                         (long long)tchan_id(t, "elec"), (long long)feb);
    assert_double_equal(jan, 12, 1e-9);
    assert_double_equal(febv, 12, 1e-9);
}

static void test_gauge_mean_min_max(void **state)
{
    struct tenv *t = *state;
    int64_t t0 = tiso("2026-01-10T08:00:00+01:00");
    double v[] = {19, 20, 21, 22};
    feed(t, "temp", t0, 900, v, 4);
    int64_t id = tchan_id(t, "temp");
    assert_double_equal(
        tquery(t, "SELECT sum / n FROM rollup_hour WHERE channel = %lld", (long long)id), 20.5,
        EPS);
    assert_double_equal(tquery(t, "SELECT min FROM rollup_day WHERE channel = %lld", (long long)id),
                        19, 0);
    assert_double_equal(tquery(t, "SELECT max FROM rollup_day WHERE channel = %lld", (long long)id),
                        22, 0);
    /* NaN and values out of range are refused and counted. */
    assert_int_equal(tput(t, "temp", t0 + H, NAN), 0);
    assert_int_equal(tput(t, "temp", t0 + H, 500), 0);
    assert_int_equal(t->stats.out_of_range, 2);
}

static void test_bad_time_refused(void **state)
{
    struct tenv *t = *state;
    assert_int_equal(tput(t, "elec", 1000, 5), 0);                    /* 1970 */
    assert_int_equal(tput(t, "elec", tu_now_s() + 30 * 86400, 5), 0); /* next month */
    assert_int_equal(t->stats.bad_time, 2);
    assert_int_equal(t->stats.stored, 0);
}

/* History imported before the first live reading is slotted in front. */
static void test_backfill_before_first(void **state)
{
    struct tenv *t = *state;
    int64_t t0 = tiso("2026-04-01T00:00:00+02:00");
    assert_int_equal(tput(t, "elec", t0 + 10 * H, 110), 0);
    for (int i = 0; i < 10; i++)
        assert_int_equal(tput(t, "elec", t0 + i * H, 100 + i), 0);
    assert_double_equal(thours(t, "elec", t0, t0 + 10 * H), 10, 1e-9);
    assert_int_equal(t->stats.late_refused, 0);
}

/* The state survives closing and reopening the store (a restart). */
static void test_held_survives_restart(void **state)
{
    struct tenv *t = *state;
    int64_t t0 = tiso("2026-01-10T00:00:00+01:00");
    assert_int_equal(tput(t, "elec", t0, 100), 0);
    assert_int_equal(tput(t, "elec", t0 + H, 0), 0); /* held low */
    store_close(t->s);
    const char *msg;
    assert_int_equal(store_open(t->db, t->cfg, &t->s, &msg), 0);
    assert_int_equal(tput(t, "elec", t0 + 2 * H, 101), 0); /* glitch confirmed */
    assert_double_equal(tday(t, "elec", t0), 1, EPS);
    assert_double_equal(tevents(t, "elec", EVENT_GLITCH_DROPPED), 1, 0);
}

/* Heap bytes in use outside SQLite (whose page cache grows as the database
 * does): glibc's count, or the sanitizer allocator's under ASan. */
static size_t heap_outside_sqlite(void)
{
#ifdef T_ASAN
    size_t used = __sanitizer_get_current_allocated_bytes();
#else
    struct mallinfo2 mi = mallinfo2();
    size_t used = mi.uordblks + mi.hblkhd;
#endif
    return used - (size_t)sqlite3_memory_used();
}

#define MANY_CHANNELS 40

static int setup_many(void **state)
{
    struct tenv *t = calloc(1, sizeof(*t));
    char extra[MANY_CHANNELS * 64], *p = extra;
    for (int i = 0; i < MANY_CHANNELS; i++)
        p += sprintf(p, "[channel c%02d]\nbuilding = b1\nquantity = electricity\n", i);
    if (!t || tenv_setup(t, extra) < 0)
        return -1;
    *state = t;
    return 0;
}

/* One batch with long spreads on many channels grows the rollup
 * accumulator; the memory must come back once the batch is committed. */
static void test_rollup_memory_returns(void **state)
{
    struct tenv *t = *state;
    int64_t t0 = tiso("2026-01-10T00:00:00+01:00");
    int64_t span = 90 * 24 * H;
    struct reading r[2 * MANY_CHANNELS];
    char id[8];

    /* Warm up: every channel has its state and one hour in the database. */
    for (int i = 0; i < MANY_CHANNELS; i++) {
        snprintf(id, sizeof(id), "c%02d", i);
        r[i] = (struct reading){tchan(t, id), t0, 1000};
    }
    ingest_all(t, r, MANY_CHANNELS);
    size_t before = heap_outside_sqlite();
    assert_true(before > 0 && before < (size_t)1 << 40); /* the measure works */
    for (int i = 0; i < MANY_CHANNELS; i++) {
        snprintf(id, sizeof(id), "c%02d", i);
        r[i] = (struct reading){tchan(t, id), t0 + span, 1000 + 90 * 24};
    }
    ingest_all(t, r, MANY_CHANNELS); /* 40 spreads of 2160 hours */
    for (int i = 0; i < MANY_CHANNELS; i++) {
        snprintf(id, sizeof(id), "c%02d", i);
        r[i] = (struct reading){tchan(t, id), t0 + span + H, 1000 + 90 * 24 + 1};
    }
    ingest_all(t, r, MANY_CHANNELS);
    size_t after = heap_outside_sqlite();
    assert_double_equal(thours(t, "c07", t0, t0 + span + H), 90 * 24 + 1, 1e-6);
    if (after > before + 256 * 1024)
        fail_msg("after a batch of %d spreads of 90 days: %zu KiB more heap in use", MANY_CHANNELS,
                 (after - before) / 1024);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_normal_consumption, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_to_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rollover, setup, teardown),
        cmocka_unit_test_setup_teardown(test_meter_replaced_lower, setup, teardown),
        cmocka_unit_test_setup_teardown(test_meter_replaced_higher, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spike_then_normal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zero_glitch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_off_two_weeks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_three_day_gap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gap_not_on_hour, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_of_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dst_spring, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dst_autumn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_month_rollup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gauge_mean_min_max, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_time_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backfill_before_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_held_survives_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rollup_memory_returns, setup_many, teardown),
    };
    return cmocka_run_group_tests_name("counter", tests, NULL, NULL);
}
