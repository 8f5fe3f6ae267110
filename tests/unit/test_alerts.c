/*
 * test_alerts.c - the alert engine (daemon/alerts/) on real SQLite files:
 * history built for each rule goes in through store_ingest() (the write
 * path of live and imported readings) or store_put_devices(), the engine
 * judges it through its read-only handle and writes the alerts table, and
 * the test looks at that table on a connection of its own.
 *
 * For each rule: it opens on history crossing its threshold, stays closed
 * on history just below it, opens once however often it runs; and the
 * lifecycle: acknowledged, closed by itself after the hold time once the
 * data clears (or only by hand for counter events), inhibition of a bus's
 * and the broker's devices.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "foyer/alerts.h"
#include "foyer/limits.h"
#include "foyer/store_alerts.h"
#include "testutil.h"

#define H 3600

/* The inventory of these tests: one dwelling with every sensor, meters on
 * a bus, two MQTT sensors; extra is appended. */
#define ALERTS_CONF                                                                                \
    "[foyer]\n"                                                                                    \
    "database = %s\n"                                                                              \
    "timezone = Europe/Paris\n"                                                                    \
    "profiles_dir = %s/config/profiles\n"                                                          \
    "[building b1]\n"                                                                              \
    "[dwelling d1]\n"                                                                              \
    "building = b1\n"                                                                              \
    "surface_m2 = 50\n"                                                                            \
    "heating = electric\n"                                                                         \
    "consent = true\n"                                                                             \
    "[channel temp]\n"                                                                             \
    "dwelling = d1\n"                                                                              \
    "quantity = temperature\n"                                                                     \
    "[channel hum]\n"                                                                              \
    "dwelling = d1\n"                                                                              \
    "quantity = humidity\n"                                                                        \
    "[channel co2]\n"                                                                              \
    "dwelling = d1\n"                                                                              \
    "quantity = co2\n"                                                                             \
    "[channel water]\n"                                                                            \
    "dwelling = d1\n"                                                                              \
    "quantity = cold_water\n"                                                                      \
    "[channel elec]\n"                                                                             \
    "dwelling = d1\n"                                                                              \
    "quantity = electricity\n"                                                                     \
    "[bus bus1]\n"                                                                                 \
    "type = tcp\n"                                                                                 \
    "host = 127.0.0.1\n"                                                                           \
    "[meter m1]\nprofile = sdm120\nbus = bus1\nunit_id = 1\ndwelling = d1\n"                       \
    "[meter m2]\nprofile = sdm120\nbus = bus1\nunit_id = 2\ndwelling = d1\n"                       \
    "[meter m3]\nprofile = sdm120\nbus = bus1\nunit_id = 3\ndwelling = d1\n"                       \
    "[mqtt]\nhost = 127.0.0.1\n"                                                                   \
    "[sensor s1]\ntopic = home/s1\npreset = zigbee2mqtt\ndwelling = d1\n"                          \
    "[sensor s2]\ntopic = home/s2\npreset = zigbee2mqtt\ndwelling = d1\n"

static const char *src_dir(void)
{
    const char *s = getenv("FOYER_SRC");
    return s ? s : ".";
}

static void setup_env(struct tenv *t, const char *extra)
{
    memset(t, 0, sizeof(*t));
    snprintf(t->dir, sizeof(t->dir), "/tmp/foyer-test-XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    snprintf(t->db, sizeof(t->db), "%s/foyer.db", t->dir);
    snprintf(t->conf, sizeof(t->conf), "%s/foyer.conf", t->dir);
    FILE *f = fopen(t->conf, "w");
    assert_non_null(f);
    fprintf(f, ALERTS_CONF, t->db, src_dir());
    if (extra)
        fputs(extra, f);
    fclose(f);
    struct conf_errors errs = {0};
    t->cfg = config_load(t->conf, &errs);
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "%s\n", errs.msgs[i]);
    conf_errors_free(&errs);
    assert_non_null(t->cfg);
    assert_int_equal(tu_set_zone(t->cfg->timezone), 0);
    const char *msg;
    assert_int_equal(store_open(t->db, t->cfg, &t->s, &msg), 0);
}

/* Monday 5 January 2026, local midnight: in the heating season. */
static int64_t base(void)
{
    return tiso("2026-01-05T00:00:00+01:00");
}

/* One reading of gauge ch in each of n hours from from_s, value v. */
static void gauge_hours(struct tenv *t, const char *ch, int64_t from_s, int n, double v)
{
    struct reading *r = calloc((size_t)n, sizeof(*r));
    assert_non_null(r);
    for (int i = 0; i < n; i++)
        r[i] = (struct reading){.channel = tchan(t, ch), .ts_s = from_s + i * H + 1800, .value = v};
    assert_int_equal(store_ingest(t->s, r, (size_t)n, 0, &t->stats), 0);
    free(r);
}

/* Counter ch: readings at every hour boundary of n hours from from_s, the
 * index moving by use(local hour) in each hour; index0 first. */
static double counter_hours(struct tenv *t, const char *ch, int64_t from_s, int n, double index0,
                            double (*use)(int hour, void *ctx), void *ctx)
{
    struct reading *r = calloc((size_t)n + 1, sizeof(*r));
    assert_non_null(r);
    double idx = index0;
    for (int i = 0; i <= n; i++) {
        r[i] = (struct reading){.channel = tchan(t, ch), .ts_s = from_s + i * H, .value = idx};
        time_t ts = (time_t)(from_s + i * H);
        struct tm tm;
        localtime_r(&ts, &tm); /* the local hour, DST days included */
        int hour = tm.tm_hour;
        if (i < n)
            idx += use(hour, ctx);
    }
    assert_int_equal(store_ingest(t->s, r, (size_t)n + 1, 0, &t->stats), 0);
    free(r);
    return idx; /* the last index stored */
}

static struct alerts_engine *engine(struct tenv *t)
{
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/config", src_dir());
    setenv("FOYER_LANG_DIR", dir, 1);
    struct alerts_engine *e = alerts_engine_new(t->cfg);
    assert_non_null(e);
    return e;
}

/* One run as of now_s: it must succeed. */
static struct alerts_run_stats run_at(struct alerts_engine *e, int64_t now_s)
{
    struct alerts_run_stats st = {0};
    assert_int_equal(alerts_engine_run(e, now_s, &st), 0);
    return st;
}

static int n_alerts(struct tenv *t, const char *kind)
{
    return (int)tquery(t, "SELECT count(*) FROM alerts WHERE kind = '%s'", kind);
}

static double alert_col(struct tenv *t, const char *kind, const char *col)
{
    return tquery(t, "SELECT %s FROM alerts WHERE kind = '%s' ORDER BY id DESC LIMIT 1", col, kind);
}

static void teardown_env(struct tenv *t, struct alerts_engine *e)
{
    alerts_engine_free(e);
    tenv_teardown(t);
}

/* ---- cold_home, with the lifecycle ------------------------------------------ */

static void test_cold_home(void **state)
{
    (void)state;
    struct tenv t;
    setup_env(&t, NULL);
    struct alerts_engine *e = engine(&t);
    int64_t b = base();

    /* 30 hours at 15 degC: cold from the 24th hour on. */
    gauge_hours(&t, "temp", b, 30, 15.0);
    struct alerts_run_stats st = run_at(e, b + 30 * H + 600);
    assert_int_equal(st.opened, 1);
    assert_int_equal(n_alerts(&t, "cold_home"), 1);
    assert_int_equal((int64_t)alert_col(&t, "cold_home", "opened"), b + 23 * H);
    assert_int_equal((int64_t)alert_col(&t, "cold_home", "last_seen"), b + 29 * H);
    assert_double_equal(alert_col(&t, "cold_home", "value"), 15.0, 1e-9);
    assert_double_equal(alert_col(&t, "cold_home", "threshold"), 16.0, 1e-9);
    assert_double_equal(alert_col(&t, "cold_home", "state"), STORE_ALERT_OPEN, 0);
    assert_double_equal(
        tquery(&t, "SELECT count(*) FROM alerts WHERE text_fr LIKE '%%froid%%15.0 °C%%' AND "
                   "text_en LIKE '%%cold: 15.0 °C%%' AND dwelling = 'd1' AND channel = 'temp'"),
        1, 0);

    /* Opens once: more runs, more cold hours. */
    gauge_hours(&t, "temp", b + 30 * H, 5, 14.0);
    st = run_at(e, b + 35 * H + 600);
    assert_int_equal(st.opened, 0);
    st = run_at(e, b + 35 * H + 900);
    assert_int_equal(st.opened, 0);
    assert_int_equal(n_alerts(&t, "cold_home"), 1);
    assert_int_equal((int64_t)alert_col(&t, "cold_home", "last_seen"), b + 34 * H);

    /* Acknowledged: who, when, note. */
    struct store_alerts *sa;
    assert_int_equal(store_alerts_open(t.db, &sa, NULL), 0);
    int64_t id = (int64_t)alert_col(&t, "cold_home", "id");
    assert_int_equal(store_alerts_ack(sa, id, "amina", "radiator broken", b + 36 * H), 0);
    assert_int_equal(store_alerts_ack(sa, id + 100, "amina", NULL, b + 36 * H), -ENOENT);
    char long_note[FOYER_ALERT_NOTE_MAX + 2];
    memset(long_note, 'x', sizeof(long_note) - 1);
    long_note[sizeof(long_note) - 1] = '\0';
    assert_int_equal(store_alerts_ack(sa, id, "amina", long_note, b + 36 * H), -EMSGSIZE);
    assert_int_equal(store_alerts_ack(sa, id, "", NULL, b + 36 * H), -EMSGSIZE);
    assert_double_equal(alert_col(&t, "cold_home", "state"), STORE_ALERT_ACKNOWLEDGED, 0);
    assert_double_equal(tquery(&t,
                               "SELECT count(*) FROM alerts WHERE ack_by = 'amina' AND ack_note = "
                               "'radiator broken' AND acked = %lld",
                               (long long)(b + 36 * H)),
                        1, 0);

    /* Warm again: still open one hour short of the hold time, closed at it. */
    gauge_hours(&t, "temp", b + 35 * H, 60, 19.0);
    int64_t clear = b + 35 * H; /* first clear hour */
    int64_t hold = t.cfg->alerts.hold_s;
    st = run_at(e, clear + hold - H + 600);
    assert_int_equal(st.closed, 0);
    st = run_at(e, clear + hold + 600);
    assert_int_equal(st.closed, 1);
    assert_double_equal(alert_col(&t, "cold_home", "state"), STORE_ALERT_CLOSED, 0);
    assert_int_equal((int64_t)alert_col(&t, "cold_home", "closed"), clear + hold);
    assert_double_equal(
        tquery(&t, "SELECT count(*) FROM alerts WHERE closed_by = 'auto' AND ack_by = 'amina'"), 1,
        0);
    /* History kept; closed by itself; closing it again is refused. */
    assert_int_equal(store_alerts_close_one(sa, id, "amina", b + 100 * H), -EALREADY);
    st = run_at(e, clear + hold + 3 * H);
    assert_int_equal(st.opened, 0);
    assert_int_equal(n_alerts(&t, "cold_home"), 1);

    /* Cold again after the hold: a new alert. */
    int64_t again = clear + 60 * H;
    gauge_hours(&t, "temp", again, 26, 15.5);
    st = run_at(e, again + 26 * H + 600);
    assert_int_equal(st.opened, 1);
    assert_int_equal(n_alerts(&t, "cold_home"), 2);

    int64_t counts[ALERT_KIND_COUNT_];
    assert_int_equal(alerts_open_by_kind(t.s, counts), 0);
    assert_int_equal(counts[ALERT_COLD_HOME], 1);
    assert_int_equal(counts[ALERT_DAMP_HOME], 0);
    store_alerts_close(sa);
    teardown_env(&t, e);
}

static void test_cold_home_below(void **state)
{
    (void)state;
    struct tenv t;
    setup_env(&t, NULL);
    struct alerts_engine *e = engine(&t);
    int64_t b = base();
    /* 16.0 is not below 16; 23 hours below is not 24. */
    gauge_hours(&t, "temp", b, 30, 16.0);
    gauge_hours(&t, "temp", b + 30 * H, 23, 15.0);
    gauge_hours(&t, "temp", b + 53 * H, 10, 17.0);
    run_at(e, b + 63 * H + 600);
    assert_int_equal(n_alerts(&t, "cold_home"), 0);
    teardown_env(&t, e);
}

static void test_cold_home_summer(void **state)
{
    (void)state;
    struct tenv t;
    setup_env(&t, NULL);
    struct alerts_engine *e = engine(&t);
    int64_t b = tiso("2026-07-06T00:00:00+02:00");
    gauge_hours(&t, "temp", b, 30, 15.0); /* a cold cellar in July: no heating to blame */
    run_at(e, b + 30 * H + 600);
    assert_int_equal(n_alerts(&t, "cold_home"), 0);
    teardown_env(&t, e);
}

/* ---- damp_home -------------------------------------------------------------- */

static void damp_case(double rh, double temp, int hours, const char *want_severity)
{
    struct tenv t;
    setup_env(&t, NULL);
    struct alerts_engine *e = engine(&t);
    int64_t b = base();
    gauge_hours(&t, "hum", b, hours, rh);
    gauge_hours(&t, "temp", b, hours, temp);
    run_at(e, b + hours * H + 600);
    run_at(e, b + hours * H + 900);
    if (!want_severity) {
        assert_int_equal(n_alerts(&t, "damp_home"), 0);
    } else {
        assert_int_equal(n_alerts(&t, "damp_home"), 1);
        assert_double_equal(
            tquery(&t, "SELECT count(*) FROM alerts WHERE kind = 'damp_home' AND severity = '%s'",
                   want_severity),
            1, 0);
        assert_int_equal((int64_t)alert_col(&t, "damp_home", "opened"), b + 71 * H);
    }
    teardown_env(&t, e);
}

static void test_damp_home(void **state)
{
    (void)state;
    damp_case(75, 20, 80, "warning");
    damp_case(75, 17, 80, "critical"); /* damp and cold: mould on cold walls */
    damp_case(70, 20, 80, NULL);       /* 70 %% is not above 70 %% */
    damp_case(75, 20, 71, NULL);       /* 71 hours are not 72 */
}

/* ---- stale_air -------------------------------------------------------------- */

static void co2_case(int nights, double night_ppm, bool want)
{
    struct tenv t;
    setup_env(&t, NULL);
    struct alerts_engine *e = engine(&t);
    int64_t b = base();
    int days = nights < 4 ? 4 : nights;
    for (int d = 0; d < days; d++) {
        gauge_hours(&t, "co2", b + d * 86400, 6, d < nights ? night_ppm : 700);
        gauge_hours(&t, "co2", b + d * 86400 + 6 * H, 18, 700);
    }
    run_at(e, b + days * 86400 + 600);
    run_at(e, b + days * 86400 + 900);
    assert_int_equal(n_alerts(&t, "stale_air"), want ? 1 : 0);
    if (want) /* at the end of the third night */
        assert_int_equal((int64_t)alert_col(&t, "stale_air", "opened"), b + 2 * 86400 + 5 * H);
    teardown_env(&t, e);
}

static void test_stale_air(void **state)
{
    (void)state;
    co2_case(3, 1600, true);
    co2_case(4, 1600, true); /* one alert for four nights */
    co2_case(8, 1600, true); /* and for eight: longer than the hold time */
    co2_case(2, 1600, false);
    co2_case(3, 1500, false); /* 1500 is not above 1500 */
}

/* ---- water_leak --------------------------------------------------------------- */

struct night_use {
    double night_l; /* per hour, 01:00-05:00 */
    int leak_days;  /* days whose night leaks */
    int64_t from_s;
};

static double water_use(int hour, void *ctx)
{
    struct night_use *u = ctx;
    (void)u;
    if (hour >= 1 && hour < 5)
        return -1; /* filled in by the caller */
    return hour >= 7 && hour < 22 ? 12 : 0;
}

/* Hourly water index over days days, the nights of the first leak_days
 * days at night_l litres an hour. */
static void water_case(int leak_days, double night_l, bool want)
{
    struct tenv t;
    setup_env(&t, NULL);
    struct alerts_engine *e = engine(&t);
    int64_t b = base();
    int days = leak_days < 3 ? 3 : leak_days;
    struct reading *r = calloc((size_t)days * 24 + 1, sizeof(*r));
    assert_non_null(r);
    double idx = 1000;
    for (int i = 0; i <= days * 24; i++) {
        r[i] = (struct reading){.channel = tchan(&t, "water"), .ts_s = b + i * H, .value = idx};
        int hour = i % 24, day = i / 24;
        double u = water_use(hour, NULL);
        if (u < 0)
            u = day < leak_days ? night_l : 0;
        idx += u;
    }
    assert_int_equal(store_ingest(t.s, r, (size_t)days * 24 + 1, 0, &t.stats), 0);
    free(r);
    run_at(e, b + days * 86400 + 600);
    run_at(e, b + days * 86400 + 900);
    assert_int_equal(n_alerts(&t, "water_leak"), want ? 1 : 0);
    if (want) {
        assert_int_equal((int64_t)alert_col(&t, "water_leak", "opened"), b + 86400 + 4 * H);
        assert_double_equal(alert_col(&t, "water_leak", "value"), night_l, 1e-6);
    }
    teardown_env(&t, e);
}

static void test_water_leak(void **state)
{
    (void)state;
    water_case(2, 3, true);
    water_case(3, 2, true); /* at the threshold: 2 L/h is "at least 2" */
    water_case(2, 1.9, false);
    water_case(1, 30, false); /* one night is not two */
    /* A week of leaking nights: one alert, not one each time the nights
     * since the alert opened add up to the hold time. */
    water_case(7, 3, true);
}

static double leak_all_night(int hour, void *ctx)
{
    (void)ctx;
    return hour >= 1 && hour < 5 ? 3 : hour >= 7 && hour < 22 ? 12 : 0;
}

/* The nights of the DST changes: 01:00-05:00 has three hours in March
 * (02:00 is skipped) and five in October (02:00 twice); a leak through
 * them is a leak. */
static void test_water_leak_dst(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"2026-03-28T00:00:00+01:00", "2026-03-29T04:00:00+02:00"},
        {"2026-10-24T00:00:00+02:00", "2026-10-25T04:00:00+01:00"},
    };
    for (size_t k = 0; k < 2; k++) {
        struct tenv t;
        setup_env(&t, NULL);
        struct alerts_engine *e = engine(&t);
        int64_t b = tiso(cases[k][0]);
        (void)counter_hours(&t, "water", b, 71, 1000, leak_all_night, NULL);
        run_at(e, b + 71 * H + 600);
        if (n_alerts(&t, "water_leak") != 1)
            fail_msg("from %s: %d water_leak alerts, expected 1", cases[k][0],
                     n_alerts(&t, "water_leak"));
        assert_int_equal((int64_t)alert_col(&t, "water_leak", "opened"), tiso(cases[k][1]));
        teardown_env(&t, e);
    }
}

/* ---- abnormal_use ------------------------------------------------------------- */

static double daily_kwh;

static double elec_use(int hour, void *ctx)
{
    (void)hour;
    (void)ctx;
    return daily_kwh / 24;
}

static void abnormal_case(double last_day_kwh, bool want)
{
    struct tenv t;
    setup_env(&t, NULL);
    struct alerts_engine *e = engine(&t);
    int64_t b = base() - 20 * 86400; /* 16 December: heating season all along */
    daily_kwh = 5;
    double idx = counter_hours(&t, "elec", b, 20 * 24, 100, elec_use, NULL);
    daily_kwh = last_day_kwh;
    struct reading r[24];
    for (int i = 0; i < 24; i++) {
        idx += last_day_kwh / 24;
        r[i] = (struct reading){
            .channel = tchan(&t, "elec"), .ts_s = b + 20 * 86400 + (i + 1) * H, .value = idx};
    }
    assert_int_equal(store_ingest(t.s, r, 24, 0, &t.stats), 0);
    run_at(e, b + 21 * 86400 + 600);
    run_at(e, b + 21 * 86400 + 900);
    assert_int_equal(n_alerts(&t, "abnormal_use"), want ? 1 : 0);
    if (want) {
        assert_double_equal(alert_col(&t, "abnormal_use", "value"), last_day_kwh, 1e-6);
        assert_double_equal(alert_col(&t, "abnormal_use", "threshold"), 15, 1e-6);
    }
    teardown_env(&t, e);
}

static void test_abnormal_use(void **state)
{
    (void)state;
    abnormal_case(16, true);
    abnormal_case(15, false); /* three times the usual day is not above it */
}

/* ---- vacant_use ---------------------------------------------------------------- */

static double vacant_l;

static double vacant_use_fn(int hour, void *ctx)
{
    (void)hour;
    (void)ctx;
    return vacant_l / 24;
}

static void vacant_case(double litres_day, bool want)
{
    struct tenv t;
    /* The tenancy ends on 6 January: the 7th and 8th are vacant. */
    setup_env(&t, "[tenancy t1]\ndwelling = d1\nstart = 2025-01-01\nend = 2026-01-06\n");
    struct alerts_engine *e = engine(&t);
    int64_t b = base();
    vacant_l = litres_day;
    (void)counter_hours(&t, "water", b, 4 * 24, 10, vacant_use_fn, NULL);
    run_at(e, b + 4 * 86400 + 600);
    run_at(e, b + 4 * 86400 + 900);
    assert_int_equal(n_alerts(&t, "vacant_use"), want ? 1 : 0);
    if (want)
        assert_int_equal((int64_t)alert_col(&t, "vacant_use", "opened"), b + 3 * 86400 - H);
    teardown_env(&t, e);
}

static void test_vacant_use(void **state)
{
    (void)state;
    vacant_case(100, true);
    vacant_case(19, false); /* 19 L a day: below 20 */
}

/* ---- meter_reset and index_jump: close only by hand ----------------------------- */

static void test_meter_reset(void **state)
{
    (void)state;
    struct tenv t;
    setup_env(&t, NULL);
    struct alerts_engine *e = engine(&t);
    int64_t b = base();
    /* 1000, 1001, 1002, then a new meter from 5 on: a reset. */
    double v[] = {1000, 1001, 1002, 5, 6, 7, 8};
    for (int i = 0; i < 7; i++)
        assert_int_equal(tput(&t, "elec", b + i * H, v[i]), 0);
    assert_true(tevents(&t, "elec", "meter_reset") >= 1);
    struct alerts_run_stats st = run_at(e, b + 8 * H);
    assert_int_equal(st.opened, 1);
    assert_int_equal(n_alerts(&t, "meter_reset"), 1);
    /* Not closed by the hold time: somebody must check the meter. */
    run_at(e, b + 8 * H + 3 * t.cfg->alerts.hold_s);
    assert_double_equal(alert_col(&t, "meter_reset", "state"), STORE_ALERT_OPEN, 0);
    struct store_alerts *sa;
    assert_int_equal(store_alerts_open(t.db, &sa, NULL), 0);
    int64_t id = (int64_t)alert_col(&t, "meter_reset", "id");
    assert_int_equal(store_alerts_close_one(sa, id, "amina", b + 10 * H), 0);
    assert_int_equal(store_alerts_ack(sa, id, "amina", NULL, b + 11 * H), -EALREADY);
    run_at(e, b + 12 * H);
    assert_int_equal(n_alerts(&t, "meter_reset"), 1); /* the same event: no new alert */
    assert_double_equal(
        tquery(&t, "SELECT count(*) FROM alerts WHERE closed_by = 'amina' AND closed = %lld",
               (long long)(b + 10 * H)),
        1, 0);
    /* A later reset: a new alert. */
    double w[] = {2, 3, 4};
    for (int i = 0; i < 3; i++)
        assert_int_equal(tput(&t, "elec", b + (20 + i) * H, w[i]), 0);
    run_at(e, b + 24 * H);
    assert_int_equal(n_alerts(&t, "meter_reset"), 2);
    store_alerts_close(sa);
    teardown_env(&t, e);
}

/* index_jump on a confirmed jump; a glitch (a reboot reading 0) and a spike
 * refuted by the next reading are no event and no alert. */
static void test_index_jump(void **state)
{
    (void)state;
    struct tenv t;
    setup_env(&t, NULL);
    struct alerts_engine *e = engine(&t);
    int64_t b = base();
    double v[] = {100, 101, 0, 102, 5000, 103, 104};
    for (int i = 0; i < 7; i++)
        assert_int_equal(tput(&t, "elec", b + i * H, v[i]), 0);
    run_at(e, b + 8 * H);
    assert_int_equal(n_alerts(&t, "meter_reset"), 0);
    assert_int_equal(n_alerts(&t, "index_jump"), 0);
    double w[] = {5000, 5001, 5002};
    for (int i = 0; i < 3; i++)
        assert_int_equal(tput(&t, "elec", b + (10 + i) * H, w[i]), 0);
    assert_true(tevents(&t, "elec", "index_jump") >= 1);
    run_at(e, b + 14 * H);
    run_at(e, b + 15 * H);
    assert_int_equal(n_alerts(&t, "index_jump"), 1);
    assert_double_equal(
        tquery(&t, "SELECT count(*) FROM alerts WHERE kind = 'index_jump' AND severity = 'info'"
                   " AND channel = 'elec' AND text_fr LIKE '%%saut%%'"),
        1, 0);
    teardown_env(&t, e);
}

/* ---- device_silent: inhibition ---------------------------------------------------- */

static void put_health(struct tenv *t, const char *dev, const char *kind, const char *state,
                       int64_t since)
{
    struct device_health h = {.kind = kind, .state = state, .since_s = since};
    snprintf(h.device, sizeof(h.device), "%s", dev);
    assert_int_equal(store_put_devices(t->s, NULL, 0, &h, 1), 0);
}

static void test_device_silent(void **state)
{
    (void)state;
    struct tenv t;
    setup_env(&t, NULL);
    struct alerts_engine *e = engine(&t);
    int64_t now = base() + 10 * H + 600;

    /* One meter offline for 30 minutes: within the grace period. */
    put_health(&t, "m1", "meter", "offline", now - 1800);
    put_health(&t, "m2", "meter", "online", now - 86400);
    put_health(&t, "m3", "meter", "online", now - 86400);
    put_health(&t, "s1", "sensor", "fresh", now - 86400);
    put_health(&t, "s2", "sensor", "fresh", now - 86400);
    run_at(e, now);
    assert_int_equal(n_alerts(&t, "device_silent"), 0);

    /* Two hours: one alert for the meter. */
    put_health(&t, "m1", "meter", "offline", now - 2 * H);
    run_at(e, now);
    run_at(e, now + 60);
    assert_int_equal(n_alerts(&t, "device_silent"), 1);
    assert_double_equal(
        tquery(&t, "SELECT count(*) FROM alerts WHERE subject = 'm1' AND severity = 'warning' "
                   "AND dwelling = 'd1' AND channel IS NULL"),
        1, 0);
    teardown_env(&t, e);
}

static void test_bus_outage(void **state)
{
    (void)state;
    struct tenv t;
    setup_env(&t, NULL);
    struct alerts_engine *e = engine(&t);
    int64_t now = base() + 10 * H + 600;

    /* The whole bus down: one alert for the bus, none per meter. */
    put_health(&t, "m1", "meter", "offline", now - 3 * H);
    put_health(&t, "m2", "meter", "offline", now - 3 * H - 60);
    put_health(&t, "m3", "meter", "offline", now - 3 * H - 120);
    run_at(e, now);
    run_at(e, now + H);
    assert_int_equal(n_alerts(&t, "device_silent"), 1);
    assert_double_equal(tquery(&t, "SELECT count(*) FROM alerts WHERE subject = 'bus:bus1' AND "
                                   "severity = 'critical' AND building = 'b1'"),
                        1, 0);

    /* The broker down: every sensor stale, one alert. */
    put_health(&t, "s1", "sensor", "stale", now - 5 * H);
    put_health(&t, "s2", "sensor", "stale", now - 4 * H);
    run_at(e, now + H + 60);
    assert_int_equal(n_alerts(&t, "device_silent"), 2);
    assert_double_equal(tquery(&t, "SELECT count(*) FROM alerts WHERE subject = 'mqtt'"), 1, 0);
    assert_double_equal(tquery(&t, "SELECT count(*) FROM alerts WHERE subject IN "
                                   "('m1', 'm2', 'm3', 's1', 's2')"),
                        0, 0);

    /* Back: closed after the hold time. */
    put_health(&t, "m1", "meter", "online", now + 2 * H);
    put_health(&t, "m2", "meter", "online", now + 2 * H);
    put_health(&t, "m3", "meter", "online", now + 2 * H);
    put_health(&t, "s1", "sensor", "fresh", now + 2 * H);
    put_health(&t, "s2", "sensor", "fresh", now + 2 * H);
    struct alerts_run_stats st = run_at(e, now + 2 * H + t.cfg->alerts.hold_s + H);
    assert_int_equal(st.closed, 2);
    assert_int_equal(st.opened, 0);
    teardown_env(&t, e);
}

/* ---- texts and config ----------------------------------------------------------------- */

static void test_texts_differ(void **state)
{
    (void)state;
    struct tenv t;
    setup_env(&t, NULL);
    char dir[160], path[200], cmd[600];
    snprintf(dir, sizeof(dir), "%s/lang", t.dir);
    snprintf(cmd, sizeof(cmd), "mkdir -p %s && cp %s/config/alerts.*.conf %s/", dir, src_dir(),
             dir);
    assert_int_equal(system(cmd), 0);
    /* English lacks a sentence French has. */
    snprintf(cmd, sizeof(cmd), "sed -i '/^stale_air/d' %s/alerts.en.conf", dir);
    assert_int_equal(system(cmd), 0);
    setenv("FOYER_LANG_DIR", dir, 1);
    struct conf_errors errs = {0};
    assert_int_equal(alerts_lang_check(t.cfg, &errs), 1);
    snprintf(path, sizeof(path), "%s/alerts.fr.conf:", dir);
    assert_non_null(strstr(errs.msgs[0], path));
    assert_non_null(strstr(errs.msgs[0], "\"stale_air\" has no sentence"));
    conf_errors_free(&errs);
    assert_null(alerts_engine_new(t.cfg));
    tenv_teardown(&t);
}

static void test_config_keys(void **state)
{
    (void)state;
    struct tenv t;
    setup_env(&t, "[alerts]\nleak_lph = 5\nhold = 90000\nheating_from = 11-01\n");
    assert_double_equal(t.cfg->alerts.leak_lph, 5, 0);
    assert_int_equal(t.cfg->alerts.hold_s, 90000);
    assert_int_equal(t.cfg->alerts.heating_from_md, 1101);
    assert_int_equal(t.cfg->alerts.cold_hours, 24); /* the default */
    tenv_teardown(&t);

    /* Errors name the file and line. */
    char conf[] = "/tmp/foyer-alerts-conf-XXXXXX";
    int fd = mkstemp(conf);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "[foyer]\ndatabase = /tmp/x.db\n[alerts]\nhold = 3600\nheating_to = 02-30\n");
    fclose(f);
    struct conf_errors errs = {0};
    assert_null(config_load(conf, &errs));
    assert_int_equal(errs.n, 2);
    char want[64];
    snprintf(want, sizeof(want), "%s:4:", conf);
    assert_non_null(strstr(errs.msgs[0], want));
    snprintf(want, sizeof(want), "%s:5:", conf);
    assert_non_null(strstr(errs.msgs[1], want));
    conf_errors_free(&errs);
    unlink(conf);
}

/* A pass in steps (here the smallest: one piece each) opens and closes
 * exactly what one pass in one go does, with the same texts: a cold spell
 * opened and closed in the pass, a silent meter, and more counter events
 * than a piece of the events takes. */
static void test_stepped_same(void **state)
{
    (void)state;
    struct tenv t;
    setup_env(&t, NULL);
    struct alerts_engine *e = engine(&t);
    int64_t b = base();
    gauge_hours(&t, "temp", b, 30, 14);
    gauge_hours(&t, "temp", b + 30 * H, 100, 19);
    gauge_hours(&t, "hum", b, 130, 80);
    put_health(&t, "m1", "meter", "offline", b + 100 * H);
    int64_t now = b + 130 * H;
    /* The runs without the events: each event is one run more. */
    struct alerts_run_stats none = run_at(e, now);
    assert_int_equal(texec(&t, "DELETE FROM alerts; DELETE FROM outbox"), 0);
    char sql[512];
    (void)snprintf(sql, sizeof(sql),
                   "WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i < 149)"
                   " INSERT INTO events(ts, channel, kind, value, prev_value, logged)"
                   " SELECT %lld + (i / 2) * 600, %lld, CASE WHEN i %% 3 = 0 THEN 'index_jump'"
                   " ELSE 'meter_reset' END, 5, 1000, %lld FROM k",
                   (long long)(b + 40 * H), (long long)tchan_id(&t, "elec"), (long long)b);
    assert_int_equal(texec(&t, sql), 0);

    struct alerts_run_stats one = run_at(e, now);
    assert_int_equal(one.runs, none.runs + 150);
    assert_true(one.opened >= 4 && one.closed >= 1);
    assert_int_equal(one.steps, 1);
    assert_int_equal(texec(&t, "CREATE TABLE one_go AS SELECT * FROM alerts;"
                               " DELETE FROM alerts; DELETE FROM outbox"),
                     0);

    struct alerts_run_stats st = {0};
    int rc, steps = 0;
    while ((rc = alerts_engine_step(e, now, 0, &st)) == 1)
        steps++;
    assert_int_equal(rc, 0);
    /* Every channel, three pieces of events, devices, closing, delivery. */
    assert_true(steps >= (int)t.cfg->n_channels + 5);
    assert_int_equal(st.steps, (uint64_t)steps + 1);
    assert_int_equal(st.opened, one.opened);
    assert_int_equal(st.closed, one.closed);
    assert_int_equal(st.runs, one.runs);
    assert_double_equal(tquery(&t, "SELECT count(*) FROM alerts"), (double)one.opened, 0);
    assert_double_equal(tquery(&t, "SELECT count(*) FROM (SELECT * FROM alerts EXCEPT"
                                   " SELECT * FROM one_go)"),
                        0, 0);
    assert_double_equal(tquery(&t, "SELECT count(*) FROM (SELECT * FROM one_go EXCEPT"
                                   " SELECT * FROM alerts)"),
                        0, 0);
    teardown_env(&t, e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cold_home),        cmocka_unit_test(test_cold_home_below),
        cmocka_unit_test(test_cold_home_summer), cmocka_unit_test(test_damp_home),
        cmocka_unit_test(test_stale_air),        cmocka_unit_test(test_water_leak),
        cmocka_unit_test(test_water_leak_dst),   cmocka_unit_test(test_abnormal_use),
        cmocka_unit_test(test_vacant_use),       cmocka_unit_test(test_meter_reset),
        cmocka_unit_test(test_index_jump),       cmocka_unit_test(test_device_silent),
        cmocka_unit_test(test_bus_outage),       cmocka_unit_test(test_texts_differ),
        cmocka_unit_test(test_config_keys),      cmocka_unit_test(test_stepped_same),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
