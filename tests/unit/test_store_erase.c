/*
 * test_store_erase.c - store_erase_dwelling() on a real SQLite file: a cut
 * in the middle of a month folds exactly the erased days, hours and month
 * parts of the counters that count in building totals (not a submeter,
 * not a gauge), leaves the month cut in two holding its later days (a
 * gauge's min and max too), keeps the rows at and after the cut, refuses
 * while a tenancy that started before the cut is open (nothing changed)
 * unless forced, and marks ended tenancies erased.  What foyerd computed
 * before an erasure and stores after it (a summary, an alert: the
 * pusher's and the alert engine's handles) is refused when it covers
 * time before the cut, stored when it does not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "foyer/store_alerts.h"
#include "foyer/store_erase.h"
#include "foyer/store_outbox.h"
#include "foyer/store_tenancy.h"
#include "testutil.h"

#define DAY 86400

static const char *extra = "[channel sub]\n"
                           "dwelling = d1\n"
                           "quantity = electricity\n"
                           "submeter = yes\n"
                           "[dwelling d2]\n"
                           "building = b1\n"
                           "surface_m2 = 30\n"
                           "heating = gas\n"
                           "[channel water2]\n"
                           "dwelling = d2\n"
                           "quantity = cold_water\n";

struct fsum {
    double sum;
    int64_t rows;
};

static int fsum_row(void *ctx, const struct store_rollup *row)
{
    struct fsum *f = ctx;
    f->sum += row->sum;
    f->rows++;
    return 0;
}

static double folded(struct tenv *t, enum quantity q, enum store_gran g)
{
    struct fsum f = {0};
    assert_int_equal(store_read_folded(t->s, "b1", q, g, INT64_MIN, INT64_MAX, fsum_row, &f), 0);
    return f.sum;
}

static double rsum(struct tenv *t, const char *table, const char *ch, const char *cond, int64_t ts)
{
    return tquery(t, "SELECT total(sum) FROM %s WHERE channel = %lld AND ts %s %lld", table,
                  (long long)tchan_id(t, ch), cond, (long long)ts);
}

static void test_mid_month(void **state)
{
    (void)state;
    struct tenv t;
    assert_int_equal(tenv_setup(&t, extra), 0);
    /* 70 days of hourly readings up to the 15th of this month, cut on
     * the 10th. */
    int64_t m0 = tu_month_start(tu_now_s() - 20 * DAY);
    int64_t end = m0 + 14 * DAY, start = end - 70 * DAY;
    int64_t cut = m0 + 9 * DAY + 12 * 3600; /* taken back to its day's start */
    int64_t cut_day = tu_day_start(cut);
    for (int64_t ts = start; ts < end; ts += 3600) {
        double h = (double)(ts - start) / 3600;
        assert_int_equal(tput(&t, "elec", ts, 100 + 0.5 * h), 0);
        assert_int_equal(tput(&t, "sub", ts, 10 + 0.1 * h), 0);
        assert_int_equal(tput(&t, "temp", ts, 19 + (double)((ts / 3600) % 7)), 0);
        assert_int_equal(tput(&t, "water2", ts, 1000 + 2 * h), 0);
    }
    double day_before = rsum(&t, "rollup_day", "elec", "<", cut_day);
    double hour_before = rsum(&t, "rollup_hour", "elec", "<", cut_day);
    double day_after = rsum(&t, "rollup_day", "elec", ">=", cut_day);
    double months_all = rsum(&t, "rollup_month", "elec", ">=", INT64_MIN);
    double water_days = rsum(&t, "rollup_day", "water2", ">=", INT64_MIN);
    assert_true(day_before > 0 && day_after > 0);

    /* d1's tenancy runs since before the cut: refused, nothing changed. */
    const char *msg = NULL;
    char id[FOYER_ID_MAX + 1];
    assert_int_equal(
        store_tenancy_start(t.db, t.cfg, "d1", 20200101, "LEASE-1", "test", tu_now_s(), id, &msg),
        0);
    struct store_erase_opts o = {
        .before_s = cut, .by = "test", .origin = "foyerctl", .now_s = tu_now_s()};
    struct store_erase_account a;
    assert_int_equal(store_erase_dwelling(t.s, t.cfg, "d1", &o, &a), -EBUSY);
    assert_non_null(strstr(store_errmsg(t.s), "d1.20200101 is open since 2020-01-01"));
    assert_double_equal(rsum(&t, "rollup_day", "elec", "<", cut_day), day_before, 1e-9);
    assert_double_equal(folded(&t, Q_ELECTRICITY, STORE_DAY), 0, 0);

    /* Forced. */
    o.force = true;
    assert_int_equal(store_erase_dwelling(t.s, t.cfg, "d1", &o, &a), 0);
    assert_int_equal(a.cut_s, cut_day);
    assert_true(a.rows[STORE_ERASE_READINGS] > 0 && a.rows[STORE_ERASE_DAYS] > 0);
    assert_int_equal(a.tenancies, 0); /* the open one is not marked */
    /* Folded: elec's days, hours and month parts; not the submeter's, not
     * the gauge's, nothing of d2. */
    assert_double_equal(a.folded[Q_ELECTRICITY], day_before, 1e-6);
    assert_double_equal(folded(&t, Q_ELECTRICITY, STORE_DAY), day_before, 1e-6);
    assert_double_equal(folded(&t, Q_ELECTRICITY, STORE_HOUR), hour_before, 1e-6);
    assert_double_equal(folded(&t, Q_ELECTRICITY, STORE_MONTH), day_before, 1e-6);
    assert_double_equal(folded(&t, Q_TEMPERATURE, STORE_DAY), 0, 0);
    assert_double_equal(folded(&t, Q_COLD_WATER, STORE_DAY), 0, 0);
    assert_double_equal(tquery(&t, "SELECT count(*) FROM rollup_folded WHERE quantity <> "
                                   "'electricity'"),
                        0, 0);
    /* Nothing before the cut; the rows after it as they were; the month
     * cut in two holds its later days, a gauge's extremes too. */
    for (size_t k = 0; k < 3; k++) {
        const char *ch = (const char *[]){"elec", "sub", "temp"}[k];
        assert_double_equal(
            tquery(&t, "SELECT count(*) FROM readings WHERE channel = %lld AND ts < %lld",
                   (long long)tchan_id(&t, ch), (long long)cut_day),
            0, 0);
        assert_double_equal(
            tquery(&t, "SELECT count(*) FROM rollup_day WHERE channel = %lld AND ts < %lld",
                   (long long)tchan_id(&t, ch), (long long)cut_day),
            0, 0);
        assert_double_equal(
            tquery(&t, "SELECT count(*) FROM rollup_month WHERE channel = %lld AND ts < %lld",
                   (long long)tchan_id(&t, ch), (long long)m0),
            0, 0);
    }
    assert_double_equal(rsum(&t, "rollup_day", "elec", ">=", cut_day), day_after, 1e-9);
    assert_double_equal(rsum(&t, "rollup_month", "elec", ">=", INT64_MIN), months_all - day_before,
                        1e-6);
    assert_double_equal(rsum(&t, "rollup_month", "elec", "=", m0),
                        rsum(&t, "rollup_day", "elec", ">=", cut_day), 1e-6);
    assert_double_equal(tquery(&t,
                               "SELECT min FROM rollup_month WHERE channel = %lld AND ts = %lld",
                               (long long)tchan_id(&t, "temp"), (long long)m0),
                        tquery(&t, "SELECT min(min) FROM rollup_day WHERE channel = %lld",
                               (long long)tchan_id(&t, "temp")),
                        1e-9);
    assert_double_equal(rsum(&t, "rollup_day", "water2", ">=", INT64_MIN), water_days, 1e-9);
    /* The erasure is in the access log. */
    assert_double_equal(tquery(&t, "SELECT count(*) FROM access_log WHERE dwelling = 'd1' AND "
                                   "who = 'test' AND what LIKE 'erase before=%% force'"),
                        1, 0);
    /* No [uplink], nothing ever queued: no item for a central database. */
    assert_double_equal(tquery(&t, "SELECT count(*) FROM uplink_outbox"), 0, 0);
    assert_true(tintegrity_ok(&t));
    tenv_teardown(&t);
}

/* With [uplink]: the erasure queues its item for the central database
 * (protocol amendment 3) in its own transaction: the dwelling, all its
 * channels, the cut, and per day and month exactly what it folded. */
static void test_uplink_item(void **state)
{
    (void)state;
    struct tenv t;
    char conf[1024];
    (void)snprintf(conf, sizeof(conf), "%s[uplink]\nhost = 127.0.0.1\ngateway_id = gw1\n", extra);
    assert_int_equal(tenv_setup(&t, conf), 0);
    int64_t m0 = tu_month_start(tu_now_s() - 20 * DAY);
    int64_t end = m0 + 14 * DAY, start = end - 45 * DAY;
    int64_t cut_day = tu_day_start(m0 + 9 * DAY);
    for (int64_t ts = start; ts < end; ts += 3600) {
        double h = (double)(ts - start) / 3600;
        assert_int_equal(tput(&t, "elec", ts, 100 + 0.5 * h), 0);
        assert_int_equal(tput(&t, "sub", ts, 10 + 0.1 * h), 0);
        assert_int_equal(tput(&t, "water2", ts, 1000 + 2 * h), 0);
    }
    double day_before = rsum(&t, "rollup_day", "elec", "<", cut_day);
    struct store_erase_opts o = {
        .before_s = cut_day, .by = "test", .origin = "foyerctl", .now_s = tu_now_s()};
    struct store_erase_account a;
    assert_int_equal(store_erase_dwelling(t.s, t.cfg, "d1", &o, &a), 0);
    assert_double_equal(tquery(&t, "SELECT count(*) FROM uplink_outbox WHERE type = 'erasure'"), 1,
                        0);
    assert_double_equal(
        tquery(&t,
               "SELECT count(*) FROM uplink_outbox WHERE type = 'erasure' AND"
               " json_extract(body, '$.dwelling') = 'd1' AND json_extract(body, '$.cut_s') = %lld"
               " AND json_extract(body, '$.parts') = 1 AND json_extract(body, '$.cut') LIKE "
               "'____-__-__T00:00:00%%'",
               (long long)cut_day),
        1, 0);
    /* Every channel of d1, the submeter and the gauge too (their rows go). */
    assert_double_equal(tquery(&t, "SELECT count(*) FROM uplink_outbox o, json_each(o.body, "
                                   "'$.channels') c WHERE o.type = 'erasure' AND c.value IN "
                                   "(SELECT name FROM channels WHERE dwelling = 'd1')"),
                        tquery(&t, "SELECT count(*) FROM channels WHERE dwelling = 'd1'"), 0);
    /* The folds: electricity only, days and months, each summing what was
     * folded; no hour. */
    for (int g = 0; g < 2; g++) {
        const char *gran = g == 0 ? "day" : "month";
        assert_double_equal(
            tquery(&t,
                   "SELECT total(json_extract(f.value, '$.sum')) FROM uplink_outbox o,"
                   " json_each(o.body, '$.folded') f WHERE o.type = 'erasure' AND"
                   " json_extract(f.value, '$.gran') = '%s' AND"
                   " json_extract(f.value, '$.quantity') = 'electricity' AND"
                   " json_extract(f.value, '$.building') = 'b1'",
                   gran),
            day_before, 1e-6);
    }
    assert_double_equal(
        tquery(&t, "SELECT count(*) FROM uplink_outbox o, json_each(o.body, '$.folded') f"
                   " WHERE json_extract(f.value, '$.gran') NOT IN ('day', 'month') OR"
                   " json_extract(f.value, '$.quantity') <> 'electricity'"),
        0, 0);
    assert_double_equal(
        tquery(&t, "SELECT count(*) FROM uplink_outbox o, json_each(o.body, '$.folded') f"
                   " WHERE json_extract(f.value, '$.gran') = 'day'"),
        tquery(&t, "SELECT count(*) FROM rollup_folded WHERE gran = 1"), 0);
    assert_true(tintegrity_ok(&t));
    tenv_teardown(&t);
}

/* An ended tenancy: no force needed, its lease reference cleared, marked
 * erased, and store_erase_due() does not take it again. */
static void test_ended(void **state)
{
    (void)state;
    struct tenv t;
    assert_int_equal(tenv_setup(&t, extra), 0);
    int64_t now = tu_now_s();
    int64_t start = tu_day_start(now) - 40 * DAY;
    for (int64_t ts = start; ts < now - 3600; ts += 3600)
        assert_int_equal(tput(&t, "water2", ts, 1000 + (double)(ts - start) / 360), 0);
    const char *msg = NULL;
    char id[FOYER_ID_MAX + 1];
    assert_int_equal(
        store_tenancy_start(t.db, t.cfg, "d2", 20200101, "LEASE-2", "test", now, id, &msg), 0);
    struct tm tm;
    time_t e = (time_t)(now - 30 * DAY);
    localtime_r(&e, &tm);
    int32_t end_ymd = (tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday;
    assert_int_equal(store_tenancy_end(t.db, t.cfg, "d2", end_ymd, "test", now, id, &msg), 0);

    char ten[FOYER_ID_MAX + 1], dw[FOYER_ID_MAX + 1];
    struct store_erase_account a;
    /* Not due yet at 40 days, due at 20; never at 0. */
    assert_int_equal(store_erase_due(t.s, t.cfg, now, 40, ten, dw, &a), 0);
    assert_int_equal(store_erase_due(t.s, t.cfg, now, 0, ten, dw, &a), 0);
    assert_int_equal(store_erase_due(t.s, t.cfg, now, 20, ten, dw, &a), 1);
    assert_string_equal(ten, "d2.20200101");
    assert_string_equal(dw, "d2");
    assert_int_equal(a.tenancies, 1);
    assert_int_equal(a.rows[STORE_ERASE_REFS], 1);
    assert_true(a.folded[Q_COLD_WATER] > 0);
    assert_double_equal(
        tquery(&t, "SELECT count(*) FROM tenancies JOIN tenancy_erasures ON tenancy = id WHERE "
                   "id = 'd2.20200101' AND ref IS NULL"),
        1, 0);
    /* The days after its end stay (vacant: nobody's tenancy). */
    assert_true(tquery(&t, "SELECT count(*) FROM rollup_day WHERE channel = %lld",
                       (long long)tchan_id(&t, "water2")) >= 29);
    assert_int_equal(store_erase_due(t.s, t.cfg, now, 20, ten, dw, &a), 0);
    tenv_teardown(&t);
}

/* A summary body as the pusher stores it: what the erasure and the
 * refusal read of it is its period's start. */
static void summary_body(char *buf, size_t len, int64_t start_s)
{
    char t[40];
    (void)snprintf(buf, len, "{\"period\":{\"start\":\"%s\"}}",
                   tu_format_local(start_s, t, sizeof(t)));
}

/* Store one summary of dwelling dw for a period starting at start_s,
 * queued for one endpoint; returns how many were refused. */
static uint64_t put_summary(struct store_outbox *o, const char *dw, const char *period,
                            int64_t start_s)
{
    static const char *const eps[] = {"e1"};
    char body[128], key[64];
    summary_body(body, sizeof(body), start_s);
    (void)snprintf(key, sizeof(key), "%s-%s", dw, period);
    struct store_outbox_summary s = {
        .key = key, .dwelling = (char *)dw, .period = (char *)period, .body = body};
    uint64_t queued = 0, refused = 99;
    int rc = store_outbox_add(o, &s, 1, eps, 1, tu_now_s(), &queued, &refused);
    if (rc < 0)
        fail_msg("store_outbox_add %s %s: %s", dw, period, store_outbox_errmsg(o));
    assert_int_equal(queued + refused, 1);
    return refused;
}

static int put_alert(struct store_alerts *a, const char *dw, const char *subject, int64_t opened_s)
{
    struct store_alert al = {.kind = "cold_home",
                             .subject = subject,
                             .severity = "warning",
                             .building = "b1",
                             .dwelling = dw,
                             .opened_s = opened_s,
                             .last_seen_s = opened_s,
                             .text_fr = "froid",
                             .text_en = "cold"};
    int64_t id = 0;
    return store_alerts_add(a, &al, &id);
}

/* The race of foyerctl erase with foyerd: a summary or an alert computed
 * from data read before the erasure, stored after it, must not bring the
 * erased household back.  Before the cut: refused; after it: stored; other
 * dwellings and building-level alerts untouched. */
static void test_stored_after_erasure(void **state)
{
    (void)state;
    struct tenv t;
    assert_int_equal(tenv_setup(&t, extra), 0);
    int64_t now = tu_now_s();
    int64_t cut = tu_day_start(now - 10 * DAY);
    for (int64_t ts = cut - 5 * DAY; ts < now - 3600; ts += 3600)
        assert_int_equal(tput(&t, "elec", ts, 100 + (double)(ts - cut) / 3600), 0);

    /* The pusher's and the alert engine's handles, opened before. */
    struct store_outbox *o = NULL;
    struct store_alerts *a = NULL;
    const char *msg = NULL;
    assert_int_equal(store_outbox_open(t.db, &o, &msg), 0);
    assert_int_equal(store_alerts_open(t.db, &a, &msg), 0);

    struct store_erase_opts eo = {
        .before_s = cut, .by = "test", .origin = "foyerctl", .now_s = now};
    struct store_erase_account acc;
    assert_int_equal(store_erase_dwelling(t.s, t.cfg, "d1", &eo, &acc), 0);
    assert_int_equal(acc.cut_s, cut);

    /* Summaries: a period begun before the cut is refused (neither stored
     * nor queued), one begun at or after it stored; d2 not concerned. */
    assert_int_equal(put_summary(o, "d1", "2026-W01", cut - 7 * DAY), 1);
    assert_int_equal(put_summary(o, "d1", "2026-W02", cut - 3 * DAY), 1);
    assert_double_equal(tquery(&t, "SELECT count(*) FROM summaries WHERE dwelling = 'd1'"), 0, 0);
    assert_double_equal(tquery(&t, "SELECT count(*) FROM outbox WHERE dwelling = 'd1'"), 0, 0);
    assert_int_equal(put_summary(o, "d1", "2026-W03", cut), 0);
    assert_int_equal(put_summary(o, "d2", "2026-W01", cut - 7 * DAY), 0);
    assert_double_equal(tquery(&t, "SELECT count(*) FROM summaries WHERE dwelling = 'd1' AND "
                                   "period = '2026-W03'"),
                        1, 0);
    assert_double_equal(tquery(&t, "SELECT count(*) FROM outbox WHERE dwelling = 'd1'"), 1, 0);
    assert_double_equal(tquery(&t, "SELECT count(*) FROM summaries WHERE dwelling = 'd2'"), 1, 0);

    /* Alerts: opened before the cut refused, at or after it stored; a
     * building-level alert (no dwelling) and d2's stored. */
    assert_int_equal(put_alert(a, "d1", "temp", cut - 3600), -ECANCELED);
    assert_non_null(strstr(store_alerts_errmsg(a), "d1"));
    assert_double_equal(tquery(&t, "SELECT count(*) FROM alerts WHERE dwelling = 'd1'"), 0, 0);
    assert_int_equal(put_alert(a, "d1", "temp", cut), 0);
    assert_int_equal(put_alert(a, NULL, "bus:rtu0", cut - DAY), 0);
    assert_int_equal(put_alert(a, "d2", "water2", cut - DAY), 0);
    assert_double_equal(tquery(&t, "SELECT count(*) FROM alerts WHERE dwelling = 'd1'"), 1, 0);
    assert_double_equal(tquery(&t, "SELECT count(*) FROM alerts"), 3, 0);

    /* An alert listed before the erasure and queued after it: left out. */
    static const char *const eps[] = {"e1"};
    struct store_alert_push items[] = {
        {.id = 999999, .key = "alert-gone-open", .dwelling = "d1", .body = "{}"},
        {.id = (int64_t)tquery(&t, "SELECT id FROM alerts WHERE dwelling = 'd2'"),
         .key = "alert-d2-open",
         .dwelling = "d2",
         .body = "{}"},
    };
    uint64_t queued = 0;
    assert_int_equal(store_alerts_queue(a, items, 2, eps, 1, now, &queued), 0);
    assert_int_equal(queued, 1);
    assert_double_equal(tquery(&t, "SELECT count(*) FROM outbox WHERE key = 'alert-gone-open'"), 0,
                        0);

    /* The erasure is on record with its cut. */
    assert_double_equal(tquery(&t,
                               "SELECT count(*) FROM erasures WHERE dwelling = 'd1' AND cut = %lld",
                               (long long)cut),
                        1, 0);
    store_alerts_close(a);
    store_outbox_close(o);
    assert_true(tintegrity_ok(&t));
    tenv_teardown(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mid_month),
        cmocka_unit_test(test_uplink_item),
        cmocka_unit_test(test_ended),
        cmocka_unit_test(test_stored_after_erasure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
