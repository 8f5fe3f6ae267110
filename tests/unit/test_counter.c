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
#include <sys/stat.h>

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
#include "foyer/limits.h"
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
    assert_int_equal(store_ingest(t->s, r, n, 0, &t->stats), 0);
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

/* ---- issue 9 item 2: a reading far from the chain is never spread ------- */

/* Exactly the rows of the report: two readings on 2026-11-29, then one
 * stamped 2000-01-02 with index 0 (a device whose clock reset after a
 * reboot).  No consumption may appear before November 2026. */
static void test_old_timestamp_not_spread(void **state)
{
    struct tenv *t = *state;
    int64_t nov = tiso("2026-11-01T00:00:00+01:00");
    assert_int_equal(tput(t, "elec", tiso("2026-11-29T10:00:00Z"), 12345), 0);
    assert_int_equal(tput(t, "elec", tiso("2026-11-29T11:00:00Z"), 12345.5), 0);
    assert_int_equal(tput(t, "elec", tiso("2000-01-02T00:00:00Z"), 0), 0);
    long long id = (long long)tchan_id(t, "elec");
    double before = tquery(t, "SELECT count(*) FROM rollup_hour WHERE channel = %lld AND ts < %lld",
                           id, (long long)nov);
    if (before != 0)
        fail_msg("2000-01-02 index 0, then 2026-11-29 index 12345: %g hourly rows before "
                 "November 2026",
                 before);
    assert_double_equal(tquery(t,
                               "SELECT count(*) FROM rollup_month WHERE channel = %lld AND "
                               "ts < %lld",
                               id, (long long)nov),
                        0, 0);
    assert_double_equal(thours(t, "elec", nov, nov + 60 * 24 * H), 0.5, EPS);
    assert_double_equal(tevents(t, "elec", EVENT_CLOCK_GAP), 1, 0);
    assert_int_equal(t->stats.clock_gaps, 1);
    assert_int_equal(t->stats.late, 0);
    /* Kept for review with a dropped status, so an import run twice knows it. */
    assert_double_equal(tquery(t, "SELECT status FROM readings WHERE channel = %lld AND ts = %lld",
                               id, (long long)tiso("2000-01-02T00:00:00Z")),
                        RS_DROPPED_LATE, 0);
}

/* In time order: a silence longer than the limit starts a new baseline with
 * an event; the consumption across it is unknown and counts nothing. */
static void test_forward_gap_new_baseline(void **state)
{
    struct tenv *t = *state;
    int64_t t0 = tiso("2026-01-10T00:00:00+01:00");
    int64_t t1 = t0 + 100 * 24 * H; /* a gateway dead for 100 days */
    assert_int_equal(tput(t, "elec", t0, 100), 0);
    assert_int_equal(tput(t, "elec", t1, 600), 0);
    assert_int_equal(tput(t, "elec", t1 + H, 601), 0);
    assert_double_equal(thours(t, "elec", t0, t1), 0, EPS);
    assert_double_equal(thours(t, "elec", t1, t1 + H), 1, EPS);
    assert_double_equal(tevents(t, "elec", EVENT_CLOCK_GAP), 1, 0);
    assert_int_equal(t->stats.clock_gaps, 1);
    assert_double_equal(tquery(t, "SELECT status FROM readings WHERE channel = %lld AND ts = %lld",
                               (long long)tchan_id(t, "elec"), (long long)t1),
                        RS_BASELINE, 0);
    /* Up to the limit, a silence is still spread (2 weeks off: see above). */
    assert_int_equal(tput(t, "roll", t0, 100), 0);
    assert_int_equal(tput(t, "roll", t0 + (int64_t)FOYER_SPREAD_HOURS_MAX * H, 600), 0);
    assert_double_equal(thours(t, "roll", t0, t0 + (int64_t)FOYER_SPREAD_HOURS_MAX * H), 500, 1e-6);
}

/* Late, after the end of a chain ("extends the chain"): further than the
 * limit from it, the reading is refused, not spread back to it. */
static void test_late_gap_after_chain(void **state)
{
    struct tenv *t = *state;
    int64_t t0 = tiso("2026-01-10T00:00:00+01:00");
    int64_t far = t0 + H + 110 * 24 * H;
    int64_t late = t0 + H + 100 * 24 * H;
    assert_int_equal(tput(t, "elec", t0, 100), 0);
    assert_int_equal(tput(t, "elec", t0 + H, 101), 0);
    assert_int_equal(tput(t, "elec", far, 0), 0);     /* a new meter, months later */
    assert_int_equal(tput(t, "elec", late, 150), 0);  /* late, far from both */
    assert_int_equal(tput(t, "elec", far + H, 2), 0); /* the new meter goes on */
    double gap = thours(t, "elec", t0 + H, far);
    if (fabs(gap) > EPS)
        fail_msg("101 at t0+1h, 150 late at +%lld days: %g kWh spread in between",
                 (long long)((late - t0) / 86400), gap);
    assert_double_equal(thours(t, "elec", t0, t0 + H), 1, EPS);
    assert_double_equal(thours(t, "elec", far, far + H), 2, EPS);
    assert_double_equal(tevents(t, "elec", EVENT_CLOCK_GAP), 2, 0);
    assert_int_equal(t->stats.clock_gaps, 2);
    assert_hours_sane(t, "elec");
}

/* Late, before the first reading ("history before first reading"): near
 * history becomes the chain's start, far history is refused. */
static void test_late_gap_before_chain(void **state)
{
    struct tenv *t = *state;
    int64_t t0 = tiso("2026-06-10T00:00:00+02:00");
    int64_t far = t0 - 100 * 24 * H;
    int64_t near = t0 - 30 * 24 * H;
    assert_int_equal(tput(t, "elec", t0, 1000), 0);
    assert_int_equal(tput(t, "elec", t0 + H, 1001), 0);
    assert_int_equal(tput(t, "elec", far, 500), 0);
    assert_double_equal(thours(t, "elec", far - H, t0), 0, EPS);
    assert_double_equal(tevents(t, "elec", EVENT_CLOCK_GAP), 1, 0);
    assert_int_equal(tput(t, "elec", near, 640), 0);
    assert_double_equal(thours(t, "elec", near, t0), 360, 1e-6);
    assert_double_equal(tevents(t, "elec", EVENT_CLOCK_GAP), 1, 0);
    assert_int_equal(t->stats.late_refused, 0);
}

/* ---- issue 9 item 3: a reading ahead of the clock ----------------------- */

/* One reading stamped 21 h ahead (a device clock 23 h fast) must not block
 * the genuine readings after it, nor become the channel's last reading. */
static void test_future_reading_refused(void **state)
{
    struct tenv *t = *state;
    int64_t now = tu_now_s();
    assert_int_equal(tput(t, "elec", now - 3 * H, 100), 0);
    assert_int_equal(tput(t, "elec", now + 21 * H, 100.5), 0);
    assert_int_equal(tput(t, "elec", now - H, 101), 0);
    assert_int_equal(tput(t, "elec", now - 60, 101.5), 0);
    long long id = (long long)tchan_id(t, "elec");
    assert_int_equal(t->stats.late_refused, 0);
    assert_double_equal(thours(t, "elec", now - 4 * H, now + H), 1.5, 1e-9);
    /* The newest reading of any status, and the newest of the chain (what
     * foyerctl status shows), is the genuine one. */
    assert_double_equal(tquery(t, "SELECT max(ts) FROM readings WHERE channel = %lld", id),
                        (double)(now - 60), 0);
    assert_double_equal(tevents(t, "elec", EVENT_FUTURE_REFUSED), 1, 0);
    assert_int_equal(t->stats.future, 1);
    assert_int_equal(t->stats.bad_time, 1);
    /* Within the tolerance, a clock a little fast is not refused. */
    assert_int_equal(tput(t, "elec", now + t->cfg->future_tolerance_s - 5, 101.6), 0);
    assert_int_equal(t->stats.future, 1);
    assert_int_equal(t->cfg->future_tolerance_s, FOYER_FUTURE_TOLERANCE_S);
}

/* A device with a wrong clock: one event an hour, not one per reading. */
static void test_future_events_rate_limited(void **state)
{
    struct tenv *t = *state;
    int64_t now = tu_now_s();
    assert_int_equal(tput(t, "elec", now - 3 * H, 100), 0);
    for (int i = 0; i < 10; i++)
        assert_int_equal(tput(t, "elec", now + 23 * H + i * 60, 100 + 0.01 * i), 0);
    assert_int_equal(t->stats.future, 10);
    assert_double_equal(tevents(t, "elec", EVENT_FUTURE_REFUSED), 1, 0);
    assert_double_equal(tquery(t,
                               "SELECT count(*) FROM events WHERE channel = %lld AND "
                               "detail LIKE '9 more%%'",
                               (long long)tchan_id(t, "elec")),
                        1, 0);
    assert_double_equal(tquery(t, "SELECT count(*) FROM readings WHERE channel = %lld",
                               (long long)tchan_id(t, "elec")),
                        1, 0);
}

/* ---- issue 9 item 14: drops within the meter's resolution ---------------- */

/* An index creeping back 0.001 kWh per poll: no consumption, and not one
 * meter_reset per poll. */
static void test_creep_back_within_resolution(void **state)
{
    struct tenv *t = *state;
    int64_t t0 = tiso("2026-01-10T00:00:00+01:00");
    for (int i = 0; i < 60; i++)
        assert_int_equal(tput(t, "elec", t0 + i * 60, 100.0 - 0.001 * i), 0);
    assert_double_equal(thours(t, "elec", t0 - H, t0 + 2 * H), 0, 1e-9);
    double resets = tevents(t, "elec", EVENT_METER_RESET);
    if (resets > 1)
        fail_msg("index 100 - 0.001 per poll, 60 polls: %g meter_reset events in one hour", resets);
    assert_double_equal(tevents(t, "elec", EVENT_GLITCH_DROPPED), 0, 0);
    /* A reset each time the creep passes the resolution (0.01 kWh), not
     * each poll; the events table keeps the first of the hour. */
    if (t->stats.resets > 6)
        fail_msg("index 100 - 0.001 per poll, 60 polls: %llu resets",
                 (unsigned long long)t->stats.resets);
    assert_hours_sane(t, "elec");
}

/* ±0.001 kWh of jitter around a still index: no glitch, no consumption. */
static void test_jitter_within_resolution(void **state)
{
    struct tenv *t = *state;
    int64_t t0 = tiso("2026-01-10T00:00:00+01:00");
    for (int i = 0; i < 60; i++)
        assert_int_equal(tput(t, "elec", t0 + i * 60, i % 2 ? 99.999 : 100.0), 0);
    /* Then real consumption: counted from the higher index. */
    assert_int_equal(tput(t, "elec", t0 + 60 * 60, 100.5), 0);
    assert_double_equal(tevents(t, "elec", EVENT_GLITCH_DROPPED), 0, 0);
    assert_double_equal(tevents(t, "elec", EVENT_METER_RESET), 0, 0);
    assert_int_equal(t->stats.glitches, 0);
    assert_double_equal(thours(t, "elec", t0 - H, t0 + 3 * H), 0.5, 1e-9);
    assert_double_equal(tquery(t,
                               "SELECT count(*) FROM readings WHERE channel = %lld AND "
                               "status = %d",
                               (long long)tchan_id(t, "elec"), RS_UNCHANGED),
                        30, 0);
    /* Every reading was taken: each counts in the hour's coverage n. */
    assert_double_equal(tquery(t, "SELECT sum(n) FROM rollup_hour WHERE channel = %lld",
                               (long long)tchan_id(t, "elec")),
                        61, 0);
}

/* A drop larger than the resolution still goes through the held logic:
 * glitches are dropped, but repeated events are rate-limited. */
static void test_repeated_glitches_rate_limited(void **state)
{
    struct tenv *t = *state;
    int64_t t0 = tiso("2026-01-10T00:00:00+01:00");
    /* Two hours of polls every minute; every other one reads 1 kWh low. */
    for (int i = 0; i <= 120; i++)
        assert_int_equal(tput(t, "elec", t0 + i * 60, i % 2 ? 99.0 + 0.01 * i : 100.0 + 0.01 * i),
                         0);
    assert_int_equal(t->stats.glitches, 60);
    double rows = tevents(t, "elec", EVENT_GLITCH_DROPPED);
    if (rows != 2)
        fail_msg("60 glitches in 2 hours: %g glitch_dropped rows, expected one an hour", rows);
    assert_double_equal(tquery(t,
                               "SELECT count(*) FROM events WHERE channel = %lld AND "
                               "kind = '%s' AND detail LIKE '29 more%%'",
                               (long long)tchan_id(t, "elec"), EVENT_GLITCH_DROPPED),
                        2, 0);
    assert_hours_sane(t, "elec");
}

/* ---- issue 9 item 15 ---------------------------------------------------- */

/* A held reading later confirmed as a baseline was taken: it counts in n. */
static void test_held_baseline_counts_n(void **state)
{
    struct tenv *t = *state;
    int64_t t0 = tiso("2026-01-10T00:00:00+01:00");
    /* A reset at t0+2h, a jump at t0+5h: both held, both confirmed. */
    double v[] = {100, 101, 0, 1, 2, 90000, 90001, 90002};
    feed(t, "elec", t0, H, v, 8);
    long long id = (long long)tchan_id(t, "elec");
    for (int h = 0; h < 8; h++) {
        double n = tquery(t,
                          "SELECT coalesce(sum(n), 0) FROM rollup_hour WHERE channel = %lld AND "
                          "ts = %lld",
                          id, (long long)(t0 + h * H));
        if (n != 1)
            fail_msg("reading %g at t0+%dh: n = %g in its hour, expected 1", v[h], h, n);
    }
    assert_double_equal(tquery(t, "SELECT sum(n) FROM rollup_day WHERE channel = %lld", id), 8, 0);
}

/* Heap bytes in use outside SQLite (whose page cache grows as the database
 * does): glibc's count, or the sanitizer allocator's under ASan; 0 when the
 * allocator does not say (valgrind replaces glibc's). */
static size_t heap_outside_sqlite(void)
{
#ifdef T_ASAN
    size_t used = __sanitizer_get_current_allocated_bytes();
#else
    struct mallinfo2 mi = mallinfo2();
    size_t used = mi.uordblks + mi.hblkhd;
#endif
    size_t sqlite = (size_t)sqlite3_memory_used();
    return used > sqlite ? used - sqlite : 0;
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
    if (before == 0) {
        print_message("heap use is not measurable under this allocator: skipped\n");
        skip();
    }
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

/* counter_late with neither neighbour (every stored reading is held or
 * dropped): the event has nothing to compare with, and says so (NaN, stored
 * as NULL) instead of reading a neighbour that is not there. */
static void test_late_without_neighbours(void **state)
{
    (void)state;
    struct counter_params p = {.max_rate = 36, .resolution = 0.01};
    /* What an absent neighbour's fields may hold: anything. */
    struct counter_neighbour prev = {.present = false, .ts = 5, .value = 777, .status = 0};
    struct counter_neighbour next = {.present = false, .ts = 9, .value = 888, .status = 1};
    struct counter_op ops[COUNTER_OPS_MAX];
    size_t n = counter_late(&prev, &next, &p, tiso("2026-01-10T00:00:00Z"), 42, ops);
    assert_int_equal(n, 2);
    assert_int_equal(ops[0].kind, COP_STORE);
    assert_int_equal(ops[0].status, RS_DROPPED_LATE);
    assert_int_equal(ops[1].kind, COP_EVENT);
    assert_string_equal(ops[1].event, EVENT_LATE_REFUSED);
    if (!isnan(ops[1].prev))
        fail_msg("no neighbours: the event's previous value is %g, expected none (NaN)",
                 ops[1].prev);
}

/* The same through the store: the only stored reading is held. */
static void test_late_without_neighbours_store(void **state)
{
    struct tenv *t = *state;
    int64_t t0 = tiso("2026-01-10T00:00:00+01:00");
    char sql[160];
    snprintf(sql, sizeof(sql), "INSERT INTO readings VALUES (%lld, %lld, 50, %d)",
             (long long)tchan_id(t, "elec"), (long long)(t0 + H), RS_HELD_LOW);
    assert_int_equal(texec(t, sql), SQLITE_OK);
    assert_int_equal(tput(t, "elec", t0, 40), 0);
    assert_int_equal(t->stats.late_refused, 1);
    assert_double_equal(tquery(t,
                               "SELECT count(*) FROM events WHERE kind = '%s' AND "
                               "prev_value IS NULL",
                               EVENT_LATE_REFUSED),
                        1, 0);
}

/* Events of several kinds interleaved are limited each on its own, and an
 * event an hour later is listed again. */
static void test_event_limit_rule(void **state)
{
    (void)state;
    struct counter_state st = {0};
    int64_t t0 = tiso("2026-01-10T00:00:00Z");
    const char *kinds[] = {EVENT_GLITCH_DROPPED, EVENT_SPIKE_DROPPED, EVENT_CONFLICT};
    for (int i = 0; i < 30; i++) {
        struct counter_op op = {.kind = COP_EVENT, .event = kinds[i % 3], .ts = t0 + i * 60};
        counter_limit_events(&st, &op, 1);
        if (i < 3) {
            assert_int_equal(op.kind, COP_EVENT);
        } else {
            assert_int_equal(op.kind, COP_EVENT_MORE);
            assert_int_equal(op.ts, t0 + (i % 3) * 60);
            assert_int_equal(op.more, i / 3);
        }
    }
    struct counter_op later = {.kind = COP_EVENT, .event = kinds[0], .ts = t0 + H};
    counter_limit_events(&st, &later, 1);
    assert_int_equal(later.kind, COP_EVENT);
}

/* resolution: per channel, per profile register, and the defaults. */
static void test_resolution_config(void **state)
{
    (void)state;
    char dir[] = "/tmp/foyer-test-res-XXXXXX", path[128];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/profiles", dir);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof(path), "%s/profiles/m.conf", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("[register wh]\nfunction = holding\naddress = 0\ntype = u32\nscale = 0.001\n"
          "quantity = electricity\n"
          "[register hwh]\nfunction = holding\naddress = 2\ntype = u32\nscale = 0.1\n"
          "quantity = electricity\n"
          "[register f]\nfunction = input\naddress = 4\ntype = float32\nquantity = heat\n"
          "[register set]\nfunction = input\naddress = 6\ntype = float32\n"
          "quantity = cold_water\nresolution = 10\n",
          f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/foyer.conf", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("[foyer]\nfuture_tolerance_s = 60\n[building b]\n"
          "[channel e]\nbuilding = b\nquantity = electricity\n"
          "[channel w]\nbuilding = b\nquantity = hot_water\n"
          "[channel c]\nbuilding = b\nquantity = gas\nresolution = 0.5\n"
          "[channel t]\nbuilding = b\nquantity = temperature\n"
          "[bus gw]\ntype = tcp\nhost = 127.0.0.1\n"
          "[meter m1]\nprofile = m\nbus = gw\nunit_id = 1\nbuilding = b\n",
          f);
    fclose(f);
    struct conf_errors errs = {0};
    struct foyer_config *cfg = config_load(path, &errs);
    for (size_t i = 0; i < errs.n; i++)
        print_error("%s\n", errs.msgs[i]);
    assert_non_null(cfg);
    struct {
        const char *ch;
        double res;
    } want[] = {{"e", 0.01},     {"w", 1},        {"c", 0.5},     {"t", 0},
                {"m1.wh", 0.01}, {"m1.hwh", 0.1}, {"m1.f", 0.01}, {"m1.set", 10}};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        int32_t c = config_find_channel(cfg, want[i].ch);
        assert_true(c >= 0);
        if (cfg->channels[c].resolution != want[i].res)
            fail_msg("channel %s: resolution %g, expected %g", want[i].ch,
                     cfg->channels[c].resolution, want[i].res);
    }
    assert_int_equal(cfg->future_tolerance_s, 60);
    config_free(cfg);

    /* Not on a gauge, not 0, and a tolerance of at most a day. */
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("[foyer]\nfuture_tolerance_s = 86401\n[building b]\n"
          "[channel t]\nbuilding = b\nquantity = temperature\nresolution = 0.1\n"
          "[channel e]\nbuilding = b\nquantity = electricity\nresolution = 0\n",
          f);
    fclose(f);
    cfg = config_load(path, &errs);
    assert_null(cfg);
    assert_int_equal(errs.n, 3);
    const char *expect[] = {"future_tolerance_s", "channel t: resolution applies only to counters",
                            "resolution"};
    for (size_t i = 0; i < errs.n; i++)
        if (!strstr(errs.msgs[i], expect[i]))
            fail_msg("error %zu: \"%s\", expected it to name %s", i, errs.msgs[i], expect[i]);
    conf_errors_free(&errs);
    char cmd[80];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static int setup_coarse(void **state)
{
    struct tenv *t = calloc(1, sizeof(*t));
    if (!t || tenv_setup(t, "[channel water]\ndwelling = d1\nquantity = cold_water\n"
                            "[channel coarse]\ndwelling = d1\nquantity = cold_water\n"
                            "resolution = 10\n") < 0)
        return -1;
    *state = t;
    return 0;
}

/* A water meter read in litres: the default resolution of 1 L takes a
 * drop of 0.5 L as no change and one of 8 L as a drop; a channel set to
 * 10 L takes the 8 L drop as no change too. */
static void test_resolution_per_channel(void **state)
{
    struct tenv *t = *state;
    int64_t t0 = tiso("2026-01-10T00:00:00+01:00");
    double v[] = {5000, 5010, 5009.5, 5002, 5020};
    feed(t, "water", t0, H, v, 5);
    feed(t, "coarse", t0, H, v, 5);
    assert_double_equal(tevents(t, "water", EVENT_GLITCH_DROPPED), 1, 0);
    assert_double_equal(tevents(t, "coarse", EVENT_GLITCH_DROPPED), 0, 0);
    assert_double_equal(tday(t, "water", t0), 20, 1e-9);
    assert_double_equal(tday(t, "coarse", t0), 20, 1e-9);
    assert_double_equal(tquery(t,
                               "SELECT count(*) FROM readings WHERE channel = %lld AND "
                               "status = %d",
                               (long long)tchan_id(t, "coarse"), RS_UNCHANGED),
                        2, 0);
}

/* Readings within the resolution below the index do not pile up forever:
 * retention removes them like other old readings, but keeps the chain's
 * last reading (the index counting resumes from). */
static void test_retention_unchanged(void **state)
{
    struct tenv *t = *state;
    int64_t now = tu_now_s();
    int64_t t0 = now - 40 * 86400;
    assert_int_equal(tput(t, "elec", t0, 100), 0);
    for (int d = 1; d < 40; d++)
        assert_int_equal(tput(t, "elec", t0 + d * 86400, 99.995), 0);
    assert_true(store_retention(t->s, now) >= 0);
    long long id = (long long)tchan_id(t, "elec");
    assert_double_equal(tquery(t, "SELECT count(*) FROM readings WHERE channel = %lld", id),
                        1 + t->cfg->raw_retention_days, 0);
    assert_double_equal(tquery(t, "SELECT value FROM readings WHERE channel = %lld AND ts = %lld",
                               id, (long long)t0),
                        100, 0);
    /* Counting resumes from 100, not from 99.995. */
    assert_int_equal(tput(t, "elec", now - 60, 100.5), 0);
    assert_double_equal(thours(t, "elec", t0 - H, now), 0.5, 1e-9);
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
        cmocka_unit_test_setup_teardown(test_old_timestamp_not_spread, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forward_gap_new_baseline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_late_gap_after_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_late_gap_before_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_future_reading_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_future_events_rate_limited, setup, teardown),
        cmocka_unit_test_setup_teardown(test_creep_back_within_resolution, setup, teardown),
        cmocka_unit_test_setup_teardown(test_jitter_within_resolution, setup, teardown),
        cmocka_unit_test_setup_teardown(test_repeated_glitches_rate_limited, setup, teardown),
        cmocka_unit_test_setup_teardown(test_held_baseline_counts_n, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rollup_memory_returns, setup_many, teardown),
        cmocka_unit_test(test_late_without_neighbours),
        cmocka_unit_test_setup_teardown(test_late_without_neighbours_store, setup, teardown),
        cmocka_unit_test(test_event_limit_rule),
        cmocka_unit_test(test_resolution_config),
        cmocka_unit_test_setup_teardown(test_resolution_per_channel, setup_coarse, teardown),
        cmocka_unit_test_setup_teardown(test_retention_unchanged, setup, teardown),
    };
    return cmocka_run_group_tests_name("counter", tests, NULL, NULL);
}
