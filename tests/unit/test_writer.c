/*
 * test_writer.c - the writer thread: readings pushed into the queue are all
 * committed when it stops (what SIGTERM relies on), in batches; a config
 * switch registers new channels; device events and health reach their
 * tables.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "foyer/ingest.h"
#include "testutil.h"

static void test_stop_commits_everything(void **state)
{
    (void)state;
    struct tenv t;
    assert_int_equal(tenv_setup(&t, NULL), 0);
    struct queue *q = queue_new(100000);
    struct writer *w = writer_start(t.s, q, t.cfg);
    assert_non_null(w);
    /* Recent readings: the writer runs raw retention (30 days) at start. */
    int64_t t0 = tu_day_start(tu_now_s()) - 5 * 86400;
    uint32_t ch = tchan(&t, "elec");
    for (int i = 0; i < 60000; i++) {
        struct reading r = {ch, t0 + i * 5, 100 + i * 0.001};
        assert_true(queue_push(q, &r));
    }
    struct device_event ev = {
        .device = "m1", .ts_s = t0, .kind = "offline", .detail = "3 polls missed: timeout"};
    writer_post_event(w, &ev);
    struct device_health h = {.device = "m1",
                              .kind = "meter",
                              .state = "offline",
                              .since_s = t0,
                              .polls = 10,
                              .timeouts = 3};
    writer_post_health(w, &h);
    struct writer_stats ws;
    writer_stop(w, &ws); /* closes the store */
    t.s = NULL;
    assert_int_equal(ws.ingest.stored, 60000);
    /* A backlog is committed in batches of FOYER_BATCH_BACKLOG_MAX at most. */
    assert_true(ws.ingest.batches >= 60000 / FOYER_BATCH_BACKLOG_MAX + 1);
    assert_int_equal(ws.lost_at_exit, 0);

    const char *msg;
    assert_int_equal(store_open_readonly(t.db, t.cfg, &t.s, &msg), 0);
    assert_double_equal(tquery(&t, "SELECT count(*) FROM readings"), 60000, 0);
    assert_double_equal(tquery(&t, "SELECT sum(sum) FROM rollup_hour"), 59999 * 0.001, 1e-6);
    assert_double_equal(tquery(&t, "SELECT count(*) FROM events WHERE device = 'm1' AND "
                                   "kind = 'offline'"),
                        1, 0);
    assert_double_equal(tquery(&t, "SELECT timeouts FROM devices WHERE name = 'm1'"), 3, 0);
    queue_free(q);
    tenv_teardown(&t);
}

static void test_config_switch(void **state)
{
    (void)state;
    struct tenv t;
    assert_int_equal(tenv_setup(&t, NULL), 0);
    struct queue *q = queue_new(1000);
    struct writer *w = writer_start(t.s, q, t.cfg);

    /* A new config with one more channel. */
    FILE *f = fopen(t.conf, "a");
    fputs("[channel water]\ndwelling = d1\nquantity = cold_water\n", f);
    fclose(f);
    struct conf_errors errs = {0};
    struct foyer_config *ncfg = config_load(t.conf, &errs);
    assert_non_null(ncfg);
    assert_int_equal(writer_set_config(w, ncfg), 0);
    int32_t water = config_find_channel(ncfg, "water");
    assert_true(water >= 0);
    struct reading r1 = {(uint32_t)water, tiso("2026-05-01T00:00:00Z"), 1000};
    struct reading r2 = {(uint32_t)water, tiso("2026-05-01T01:00:00Z"), 1150};
    assert_true(queue_push(q, &r1));
    assert_true(queue_push(q, &r2));
    writer_stop(w, NULL);
    config_free(t.cfg);
    t.cfg = ncfg;
    const char *msg;
    assert_int_equal(store_open_readonly(t.db, t.cfg, &t.s, &msg), 0);
    assert_double_equal(thours(&t, "water", 0, INT64_MAX), 150, 1e-9);
    queue_free(q);
    tenv_teardown(&t);
}

static void test_queue_full_is_counted(void **state)
{
    (void)state;
    struct queue *q = queue_new(4);
    struct reading r = {0, 1700000000, 1};
    for (int i = 0; i < 6; i++)
        (void)queue_push(q, &r);
    struct queue_stats st;
    queue_get_stats(q, &st);
    assert_int_equal(st.pushed, 4);
    assert_int_equal(st.dropped_full, 2);
    assert_int_equal(st.high_water, 4);
    struct reading out[8];
    assert_int_equal(queue_pop(q, out, 8, 0), 4);
    queue_close(q);
    assert_false(queue_push(q, &r));
    assert_true(queue_closed_and_empty(q));
    queue_free(q);
}

/* Issue 9 item 6: a config switch the database refuses (here a trigger
 * aborts the registration of the new channel, as a locked or read-only
 * database would) changes nothing: the writer goes on with the running
 * config, and readings land in their own channels. */
static void test_failed_switch_changes_nothing(void **state)
{
    (void)state;
    struct tenv t;
    assert_int_equal(tenv_setup(&t, NULL), 0);
    assert_int_equal(texec(&t, "CREATE TRIGGER refuse BEFORE INSERT ON channels"
                               " BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"),
                     SQLITE_OK);
    struct queue *q = queue_new(1000);
    struct writer *w = writer_start(t.s, q, t.cfg);

    FILE *f = fopen(t.conf, "a");
    fputs("[channel water]\ndwelling = d1\nquantity = cold_water\n", f);
    fclose(f);
    struct conf_errors errs = {0};
    struct foyer_config *ncfg = config_load(t.conf, &errs);
    assert_non_null(ncfg);
    assert_true(writer_set_config(w, ncfg) < 0);
    config_free(ncfg); /* the caller frees a refused config at once (foyerd's reload) */

    int64_t t0 = tu_day_start(tu_now_s()) - 2 * 86400;
    struct reading r1 = {tchan(&t, "temp"), t0, 19.5};
    struct reading r2 = {tchan(&t, "elec"), t0, 500};
    struct reading r3 = {tchan(&t, "elec"), t0 + 3600, 501.25};
    assert_true(queue_push(q, &r1));
    assert_true(queue_push(q, &r2));
    assert_true(queue_push(q, &r3));
    struct writer_stats ws;
    writer_stop(w, &ws);
    t.s = NULL;
    assert_int_equal(ws.ingest.stored, 3);
    const char *msg;
    assert_int_equal(store_open_readonly(t.db, t.cfg, &t.s, &msg), 0);
    assert_double_equal(thours(&t, "elec", 0, INT64_MAX), 1.25, 1e-9);
    assert_double_equal(tquery(&t, "SELECT count(*) FROM readings WHERE channel = %lld",
                               (long long)tchan_id(&t, "temp")),
                        1, 0);
    queue_free(q);
    tenv_teardown(&t);
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char m[] = "writer_stop did not return within 60 s\n";
    (void)!write(2, m, sizeof(m) - 1);
    _exit(1);
}

/* Issue 9 item 8: stopping while the database refuses every write (disk
 * full) is bounded: the writer tries once more, gives up, and counts what
 * it could not commit.  Before, it retried each remaining batch forever. */
static void test_stop_is_bounded_when_the_disk_is_full(void **state)
{
    (void)state;
    struct tenv t;
    assert_int_equal(tenv_setup(&t, NULL), 0);
    struct queue *q = queue_new(200000);
    int64_t pages = (int64_t)tquery(&t, "PRAGMA page_count");
    assert_int_equal(store_limit_pages(t.s, pages), pages);
    struct writer *w = writer_start(t.s, q, t.cfg);
    int64_t t0 = tu_day_start(tu_now_s()) - 5 * 86400;
    uint32_t ch = tchan(&t, "temp");
    for (int i = 0; i < 150000; i++) {
        struct reading r = {ch, t0 + i, 20};
        assert_true(queue_push(q, &r));
    }
    signal(SIGALRM, on_alarm);
    alarm(60);
    struct writer_stats ws;
    writer_stop(w, &ws);
    alarm(0);
    t.s = NULL;
    assert_int_equal(ws.ingest.stored, 0);
    assert_int_equal(ws.lost_at_exit, 150000);
    assert_true(ws.commit_errors >= 2);
    queue_free(q);
    tenv_teardown(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stop_commits_everything),
        cmocka_unit_test(test_config_switch),
        cmocka_unit_test(test_queue_full_is_counted),
        cmocka_unit_test(test_failed_switch_changes_nothing),
        cmocka_unit_test(test_stop_is_bounded_when_the_disk_is_full),
    };
    return cmocka_run_group_tests_name("writer", tests, NULL, NULL);
}
