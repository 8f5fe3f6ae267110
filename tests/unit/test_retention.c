/*
 * test_retention.c - raw readings are deleted past their window (30 days,
 * 7 without load-curve consent), each channel keeps its last accepted
 * reading so counting resumes after a long silence, and hourly rollups of
 * dwellings without consent go with their raw window while daily ones stay.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

#define DAY 86400

static const char *extra = "[dwelling d2]\n"
                           "building = b1\n"
                           "surface_m2 = 30\n"
                           "heating = gas\n"
                           "[channel water2]\n"
                           "dwelling = d2\n"
                           "quantity = cold_water\n"
                           "[channel silent]\n"
                           "dwelling = d1\n"
                           "quantity = electricity\n";

static double count_raw(struct tenv *t, const char *ch, int64_t before)
{
    return tquery(t, "SELECT count(*) FROM readings WHERE channel = %lld AND ts < %lld",
                  (long long)tchan_id(t, ch), (long long)before);
}

static void test_windows(void **state)
{
    (void)state;
    struct tenv t;
    assert_int_equal(tenv_setup(&t, extra), 0);
    int64_t now = tu_now_s();
    int64_t start = tu_day_start(now) - 40 * DAY;
    /* One reading an hour for 40 days on elec (consent) and water2 (none). */
    for (int64_t ts = start; ts < now - 3600; ts += 3600) {
        assert_int_equal(tput(&t, "elec", ts, 100 + (double)(ts - start) / 3600), 0);
        assert_int_equal(tput(&t, "water2", ts, 5000 + (double)(ts - start) / 360), 0);
    }
    /* A channel silent for 60 days: its last reading must survive. */
    assert_int_equal(tput(&t, "silent", now - 61 * DAY, 10), 0);
    assert_int_equal(tput(&t, "silent", now - 60 * DAY, 11), 0);

    int64_t days_water = (int64_t)tquery(&t,
                                         "SELECT count(*) FROM rollup_day WHERE channel = "
                                         "%lld",
                                         (long long)tchan_id(&t, "water2"));
    assert_true(store_retention(t.s, now) > 0);

    assert_double_equal(count_raw(&t, "elec", now - 30 * DAY), 0, 0);
    assert_true(count_raw(&t, "elec", now) > 29 * 24);
    assert_double_equal(count_raw(&t, "water2", now - 7 * DAY), 0, 0);
    assert_true(count_raw(&t, "water2", now) > 6 * 24);
    assert_double_equal(count_raw(&t, "silent", now), 1, 0);
    /* No load curve of d2 beyond 7 days; its daily figures stay. */
    assert_double_equal(tquery(&t,
                               "SELECT count(*) FROM rollup_hour WHERE channel = %lld AND "
                               "ts < %lld",
                               (long long)tchan_id(&t, "water2"), (long long)(now - 7 * DAY)),
                        0, 0);
    assert_double_equal(tquery(&t, "SELECT count(*) FROM rollup_day WHERE channel = %lld",
                               (long long)tchan_id(&t, "water2")),
                        (double)days_water, 0);
    /* d1 consented: its hourly figures are kept. */
    assert_true(tquery(&t, "SELECT count(*) FROM rollup_hour WHERE channel = %lld AND ts < %lld",
                       (long long)tchan_id(&t, "elec"), (long long)(now - 30 * DAY)) > 0);

    /* Counting resumes on the silent channel from its kept reading. */
    assert_int_equal(tput(&t, "silent", now - 3600, 23), 0);
    assert_double_equal(thours(&t, "silent", 0, INT64_MAX), 1 + 12, 1e-9);
    tenv_teardown(&t);
}

/* Retention in steps, one transaction per channel: between two steps the
 * write lock is free (another connection takes it without waiting), and
 * the steps together delete what one run does.  Before, a run was one
 * transaction over every channel: on a database of two years it held the
 * lock for over ten seconds and `foyerctl token create` right after
 * foyerd's start failed with "database is locked" after its 5 s wait. */
static void test_steps(void **state)
{
    (void)state;
    struct tenv t;
    assert_int_equal(tenv_setup(&t, extra), 0);
    int64_t now = tu_now_s();
    int64_t start = tu_day_start(now) - 40 * DAY;
    for (int64_t ts = start; ts < now - 3600; ts += 3600) {
        assert_int_equal(tput(&t, "elec", ts, 100 + (double)(ts - start) / 3600), 0);
        assert_int_equal(tput(&t, "water2", ts, 5000 + (double)(ts - start) / 360), 0);
    }
    double before_elec = count_raw(&t, "elec", now - 30 * DAY);
    double before_water = count_raw(&t, "water2", now - 7 * DAY);
    assert_true(before_elec > 0 && before_water > 0);

    size_t cursor = 0, steps = 0;
    int64_t total = 0;
    sqlite3 *other = NULL;
    assert_int_equal(sqlite3_open(t.db, &other), SQLITE_OK);
    sqlite3_busy_timeout(other, 0);
    while (cursor < t.cfg->n_channels) {
        size_t was = cursor;
        int64_t n = store_retention_step(t.s, now, &cursor, 0);
        assert_true(n >= 0);
        assert_true(cursor > was);
        total += n;
        steps++;
        /* No transaction left open between steps. */
        assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE; COMMIT", NULL, NULL, NULL),
                         SQLITE_OK);
        /* A budget of 0 ms: one channel per step, the others untouched. */
        if (was < t.cfg->n_channels && strcmp(t.cfg->channels[was].id, "elec") == 0) {
            assert_double_equal(count_raw(&t, "elec", now - 30 * DAY), 0, 0);
            if (count_raw(&t, "water2", now - 7 * DAY) != before_water)
                fail_msg("the step for elec deleted water2's readings too");
        }
    }
    sqlite3_close(other);
    assert_true(steps >= 2);
    assert_true(total >= (int64_t)(before_elec + before_water));
    assert_double_equal(count_raw(&t, "elec", now - 30 * DAY), 0, 0);
    assert_double_equal(count_raw(&t, "water2", now - 7 * DAY), 0, 0);
    tenv_teardown(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_windows),
        cmocka_unit_test(test_steps),
    };
    return cmocka_run_group_tests_name("retention", tests, NULL, NULL);
}
