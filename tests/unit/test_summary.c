/*
 * test_summary.c - coaching summaries with hand-computed answers, from
 * history ingested through the real store into a real SQLite file and read
 * back through a read-only connection, as foyerctl does.
 *
 * The building b1: d1 (50 m², collective heating) and five similar
 * dwellings p2..p6 using 0.5, 1.5, 2, 2.5 and 3 kWh every hour, an outdoor
 * sensor at a steady 8 °C (10 degree-days a day).  d1's electricity rises
 * 0.3 kWh in each night hour (local 01:00-05:00) and 1.2 kWh in the others
 * (25.2 kWh a day), its heat meter 2 kWh and its hot water 10 L an hour; it
 * is 20 °C but 15 °C for 10 hours, 50 % RH but 75 % for 30 hours.
 * The building b2: fewer than 5 comparable dwellings, one with a two-day
 * gap, one with no sensors, one whose tenancy starts mid-week, one (sil)
 * with a meter that never sent a reading and one silent from 2026-03-20.
 * Tariffs: electricity 0.20 €/kWh + 31 €/month, hot water 5 €/m³.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "foyer/coach.h"
#include "foyer/push.h"
#include "testutil.h"

#define H   3600
#define EPS 1e-6

static const char conf_text[] =
    "[foyer]\n"
    "database = %s\n"
    "timezone = Europe/Paris\n"
    "[building b1]\n"
    "[building b2]\n"
    "[dwelling d1]\nbuilding = b1\nsurface_m2 = 50\nheating = collective\nconsent = true\n"
    "[dwelling p2]\nbuilding = b1\nsurface_m2 = 50\nheating = collective\n"
    "[dwelling p3]\nbuilding = b1\nsurface_m2 = 50\nheating = collective\n"
    "[dwelling p4]\nbuilding = b1\nsurface_m2 = 50\nheating = collective\n"
    "[dwelling p5]\nbuilding = b1\nsurface_m2 = 50\nheating = collective\n"
    "[dwelling p6]\nbuilding = b1\nsurface_m2 = 50\nheating = collective\n"
    "[dwelling gap]\nbuilding = b2\nsurface_m2 = 40\nheating = electric\n"
    "[dwelling nos]\nbuilding = b2\nsurface_m2 = 40\nheating = electric\n"
    "[dwelling t1]\nbuilding = b2\nsurface_m2 = 40\nheating = electric\n"
    "[dwelling q4]\nbuilding = b2\nsurface_m2 = 40\nheating = electric\n"
    /* A second meter just installed, without a reading yet; the first one
     * falls silent on 2026-03-20 (test_silent_channel, test_closed_by_data). */
    "[dwelling sil]\nbuilding = b2\nsurface_m2 = 40\nheating = electric\n"
    "[tenancy t1-2026]\ndwelling = t1\nstart = 2026-03-04\n"
    /* Cold just around the edges of week 10 (test_comfort_edges). */
    "[building b3]\n"
    "[dwelling edge]\nbuilding = b3\nsurface_m2 = 40\nheating = electric\n"
    "[channel edge-temp]\ndwelling = edge\nquantity = temperature\n"
    "[channel out1]\nbuilding = b1\nquantity = outdoor_temperature\n"
    "[channel d1-elec]\ndwelling = d1\nquantity = electricity\n"
    "[channel d1-heat]\ndwelling = d1\nquantity = heat\n"
    "[channel d1-hw]\ndwelling = d1\nquantity = hot_water\n"
    "[channel d1-temp]\ndwelling = d1\nquantity = temperature\n"
    "[channel d1-hum]\ndwelling = d1\nquantity = humidity\n"
    /* A plug on the same supply: a submeter, never added to d1's totals. */
    "[channel d1-plug]\ndwelling = d1\nquantity = electricity\nsubmeter = yes\n"
    "[channel p2-elec]\ndwelling = p2\nquantity = electricity\n"
    "[channel p3-elec]\ndwelling = p3\nquantity = electricity\n"
    "[channel p4-elec]\ndwelling = p4\nquantity = electricity\n"
    "[channel p5-elec]\ndwelling = p5\nquantity = electricity\n"
    "[channel p6-elec]\ndwelling = p6\nquantity = electricity\n"
    "[channel gap-elec]\ndwelling = gap\nquantity = electricity\n"
    "[channel nos-elec]\ndwelling = nos\nquantity = electricity\n"
    "[channel t1-elec]\ndwelling = t1\nquantity = electricity\n"
    "[channel q4-elec]\ndwelling = q4\nquantity = electricity\n"
    "[channel sil-elec]\ndwelling = sil\nquantity = electricity\n"
    "[channel sil-new]\ndwelling = sil\nquantity = electricity\n"
    "[tariff elec]\nquantity = electricity\nprice = 0.20\nsubscription_eur_month = 31\n"
    "[tariff hw]\nquantity = hot_water\nprice = 5\nprice_unit = m3\n";

struct fix {
    struct tenv t;
    struct store *ro;
    struct summary_lang *fr;
    struct summary_engine *e;
};

static struct reading *rbuf;
static size_t rn, rcap;

static void add(struct tenv *t, const char *ch, int64_t ts, double v)
{
    if (rn == rcap) {
        rcap = rcap ? rcap * 2 : 65536;
        rbuf = realloc(rbuf, rcap * sizeof(*rbuf));
        assert_non_null(rbuf);
    }
    rbuf[rn++] = (struct reading){.channel = tchan(t, ch), .ts_s = ts, .value = v};
}

static int local_hour(int64_t ts)
{
    time_t tt = (time_t)ts;
    struct tm tm;
    localtime_r(&tt, &tm);
    return tm.tm_hour;
}

static int setup(void **state)
{
    struct fix *f = calloc(1, sizeof(*f));
    struct tenv *t = &f->t;
    snprintf(t->dir, sizeof(t->dir), "/tmp/foyer-test-XXXXXX");
    if (!mkdtemp(t->dir))
        return -1;
    snprintf(t->db, sizeof(t->db), "%s/foyer.db", t->dir);
    snprintf(t->conf, sizeof(t->conf), "%s/foyer.conf", t->dir);
    FILE *cf = fopen(t->conf, "w");
    fprintf(cf, conf_text, t->db);
    fclose(cf);
    struct conf_errors errs = {0};
    t->cfg = config_load(t->conf, &errs);
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "%s\n", errs.msgs[i]);
    if (!t->cfg || tu_set_zone("Europe/Paris") < 0)
        return -1;
    const char *msg;
    if (store_open(t->db, t->cfg, &t->s, &msg) < 0)
        return -1;

    int64_t from = tiso("2026-02-16T00:00:00+01:00"), to = tiso("2026-04-07T00:00:00+02:00");
    int64_t gap_from = tiso("2026-03-04T12:00:00+01:00");
    double d1 = 1000, heat = 500, hw = 0, peers[5] = {0}, gap = 0, nos = 0, t1 = 0, q4 = 0;
    static const double rate[5] = {0.5, 1.5, 2, 2.5, 3};
    rn = 0;
    for (int64_t ts = from; ts <= to; ts += H) {
        add(t, "d1-elec", ts, d1);
        d1 += local_hour(ts) >= 1 && local_hour(ts) < 5 ? 0.3 : 1.2;
        add(t, "d1-plug", ts, (double)(ts - from) / H * 0.8);
        add(t, "d1-heat", ts, heat);
        heat += 2;
        add(t, "d1-hw", ts, hw);
        hw += 10;
        char name[16];
        for (int k = 0; k < 5; k++) {
            snprintf(name, sizeof(name), "p%d-elec", k + 2);
            add(t, name, ts, peers[k]);
            peers[k] += rate[k];
        }
        /* No readings for 47 hours: hours between are not covered. */
        if (ts <= gap_from || ts >= gap_from + 48 * H)
            add(t, "gap-elec", ts, gap);
        gap += 1;
        add(t, "nos-elec", ts, nos);
        nos += 1;
        add(t, "t1-elec", ts, t1);
        t1 += 1;
        add(t, "q4-elec", ts, q4);
        q4 += 1;
        if (ts <= tiso("2026-03-20T00:00:00+01:00"))
            add(t, "sil-elec", ts, (double)(ts - from) / H);
        add(t, "out1", ts, 8);
        bool cold =
            ts >= tiso("2026-03-03T00:00:00+01:00") && ts < tiso("2026-03-03T10:00:00+01:00");
        bool damp =
            ts >= tiso("2026-03-05T00:00:00+01:00") && ts < tiso("2026-03-06T06:00:00+01:00");
        add(t, "d1-temp", ts, cold ? 15 : 20);
        /* 15 degC in the 4 hours before week 10's end and after its start,
         * 20 elsewhere: 2 of those hours are inside the week. */
        int64_t w10 = tiso("2026-03-02T00:00:00+01:00"), w11 = tiso("2026-03-09T00:00:00+01:00");
        bool edge = (ts >= w10 - 3 * H && ts < w10 + H) || (ts >= w11 - H && ts < w11 + 3 * H);
        add(t, "edge-temp", ts, edge ? 15 : 20);
        add(t, "d1-hum", ts, damp ? 75 : 50);
    }
    if (store_ingest(t->s, rbuf, rn, 0, &t->stats) < 0)
        return -1;
    free(rbuf);
    rbuf = NULL;
    rcap = 0;

    char dir[512];
    snprintf(dir, sizeof(dir), "%s/config", getenv("FOYER_SRC") ? getenv("FOYER_SRC") : "..");
    struct conf_errors lerrs = {0};
    if (summary_lang_load(dir, "fr", &f->fr, &lerrs) < 0) {
        for (size_t i = 0; i < lerrs.n; i++)
            fprintf(stderr, "%s\n", lerrs.msgs[i]);
        return -1;
    }
    if (store_open_readonly(t->db, t->cfg, &f->ro, &msg) < 0)
        return -1;
    f->e = summary_engine_new(t->cfg, f->ro, f->fr, DJU_METEO_FRANCE);
    if (!f->e)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fix *f = *state;
    summary_engine_free(f->e);
    store_close(f->ro);
    summary_lang_free(f->fr);
    tenv_teardown(&f->t);
    free(f);
    return 0;
}

static json_t *compute(struct fix *f, const char *dwelling, const char *period)
{
    struct summary_period p;
    json_t *doc = NULL;
    assert_int_equal(summary_period_parse(period, &p), 0);
    int32_t d = config_find_dwelling(f->t.cfg, dwelling);
    assert_true(d >= 0);
    int rc = summary_compute(f->e, (uint32_t)d, &p, tiso("2026-04-10T12:00:00+02:00"), &doc);
    if (rc < 0)
        fail_msg("summary %s %s: %d", dwelling, period, rc);
    return doc;
}

/* The entry of quantity q in "consumption". */
static json_t *cons(json_t *doc, const char *q)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(doc, "consumption"), i, e)
    {
        if (strcmp(json_string_value(json_object_get(e, "quantity")), q) == 0)
            return e;
    }
    fail_msg("no %s in the summary", q);
    return NULL;
}

static double jnum_at(json_t *o, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", path);
    json_t *cur = o;
    for (char *tok = strtok(buf, "."); tok; tok = strtok(NULL, "."))
        cur = json_object_get(cur, tok);
    if (!json_is_number(cur))
        fail_msg("%s is not a number", path);
    return json_number_value(cur);
}

static void test_periods(void **state)
{
    (void)state;
    struct summary_period p;
    assert_int_equal(summary_period_parse("2026-W13", &p), 0);
    assert_int_equal(p.start_s, tiso("2026-03-23T00:00:00+01:00"));
    assert_int_equal(p.end_s, tiso("2026-03-30T00:00:00+02:00"));
    assert_int_equal((p.end_s - p.start_s) / H, 167);
    assert_int_equal(summary_period_parse("2026-W53", &p), 0); /* 2026 has 53 weeks */
    assert_int_equal(summary_period_parse("2025-W53", &p), -EINVAL);
    assert_int_equal(summary_period_parse("2026-10", &p), 0);
    assert_int_equal((p.end_s - p.start_s) / H, 31 * 24 + 1); /* DST ends in October */
    assert_int_equal(summary_period_parse("2026-13", &p), -EINVAL);
    assert_int_equal(summary_period_parse("2026-W1", &p), -EINVAL);
    summary_period_parse("2026-W01", &p);
    assert_string_equal(p.id, "2026-W01");
    assert_int_equal(p.start_s, tiso("2025-12-29T00:00:00+01:00"));
    struct summary_period prev;
    summary_period_prev(&p, &prev);
    assert_string_equal(prev.id, "2025-W52");
    char key[128];
    assert_int_equal(summary_key("b1", "d1", "2026-W10", key, sizeof(key)), 0);
    /* Schema 2 (weather correction by signature): a new key. */
    assert_string_equal(key, "foyer-summary-v2/b1/d1/2026-W10");
}

static void test_dju(void **state)
{
    (void)state;
    assert_double_equal(summary_dju(DJU_METEO_FRANCE, 5, 11), 10, EPS);
    assert_double_equal(summary_dju(DJU_METEO_FRANCE, 15, 25), 0, EPS);
    assert_double_equal(summary_dju(DJU_COSTIC, 5, 11), 10, EPS);
    assert_double_equal(summary_dju(DJU_COSTIC, 10, 22), 8 * (0.08 + 0.42 * 8 / 12.0), EPS);
    assert_double_equal(summary_dju(DJU_COSTIC, 19, 25), 0, EPS);
}

/* A full week: every figure by hand. */
static void test_week_known_answers(void **state)
{
    struct fix *f = *state;
    json_t *doc = compute(f, "d1", "2026-W10");
    json_t *el = cons(doc, "electricity");
    assert_double_equal(jnum_at(el, "amount"), 7 * 25.2, 1e-3);
    assert_double_equal(jnum_at(el, "coverage"), 1, EPS);
    /* 176.4 kWh at 0.20 €, and 7 days of a 31 € month of 31 days. */
    assert_double_equal(jnum_at(el, "eur"), 35.28 + 7, 1e-6);
    assert_double_equal(jnum_at(el, "previous.change_pct"), 0, 1e-9);
    assert_true(json_is_null(json_object_get(el, "last_year")));
    /* Peers per m²: 1.68 5.04 6.72 8.4 10.08; d1 3.528: best quarter. */
    assert_double_equal(jnum_at(el, "comparison.peers"), 5, 0);
    assert_double_equal(jnum_at(el, "comparison.median_per_m2"), 6.72, 1e-9);
    assert_double_equal(jnum_at(el, "comparison.best_quarter_per_m2"), 5.04, 1e-9);
    assert_double_equal(jnum_at(el, "comparison.vs_median_pct"), -47.5, 1e-9);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(el, "comparison"), "position")),
        "best_quarter");
    json_t *hw = cons(doc, "hot_water");
    assert_double_equal(jnum_at(hw, "amount"), 1680, 1e-6);
    assert_double_equal(jnum_at(hw, "eur"), 8.40, 1e-9);
    /* 336 kWh of heat over 70 degree-days. */
    assert_double_equal(jnum_at(doc, "heating.dju"), 70, 1e-9);
    assert_double_equal(jnum_at(doc, "heating.kwh_per_dju"), 4.8, 1e-9);
    /* (158 × 20 + 10 × 15) / 168 */
    assert_double_equal(jnum_at(doc, "comfort.temperature.mean"), 19.7, 1e-9);
    assert_double_equal(jnum_at(doc, "comfort.temperature.hours_below_16"), 10, 0);
    assert_double_equal(jnum_at(doc, "comfort.temperature.hours_above_22"), 0, 0);
    assert_double_equal(jnum_at(doc, "comfort.humidity.hours_above_70"), 30, 0);
    /* Lowest night hour 0.3 kWh: 300 W, 0.3 × 8760 × 0.20 = 525.6 € a year. */
    assert_double_equal(jnum_at(doc, "base_load.w"), 300, 1e-9);
    assert_double_equal(jnum_at(doc, "base_load.eur_per_year"), 526, 1e-9);
    assert_double_equal(jnum_at(doc, "coverage.share"), 1, EPS);
    assert_true(json_is_false(json_object_get(json_object_get(doc, "coverage"), "partial")));
    /* Tips by priority: damp air, standby ((300 - 100) W a year), praise. */
    json_t *tips = json_object_get(doc, "tips");
    assert_int_equal(json_array_size(tips), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(tips, 0), "id")),
                        "damp-air");
    assert_string_equal(json_string_value(json_object_get(json_array_get(tips, 1), "id")),
                        "standby");
    assert_double_equal(jnum_at(json_array_get(tips, 1), "saving_eur_year"), 350, 0);
    assert_string_equal(json_string_value(json_object_get(json_array_get(tips, 2), "id")),
                        "efficient-household");
    assert_string_equal(json_string_value(json_object_get(doc, "key")),
                        "foyer-summary-v2/b1/d1/2026-W10");
    json_decref(doc);
}

/* The week DST starts has 167 hours; the night hour 02:00 does not exist. */
static void test_dst_week(void **state)
{
    struct fix *f = *state;
    json_t *doc = compute(f, "d1", "2026-W13");
    json_t *el = cons(doc, "electricity");
    assert_double_equal(jnum_at(doc, "period.hours"), 167, 0);
    assert_double_equal(jnum_at(el, "amount"), 6 * 25.2 + 3 * 0.3 + 20 * 1.2, 1e-3);
    assert_double_equal(jnum_at(el, "coverage"), 1, EPS);
    assert_double_equal(jnum_at(cons(doc, "heat"), "amount"), 167 * 2, 1e-6);
    assert_double_equal(jnum_at(el, "eur"), 176.1 * 0.2 + 7, 1e-6);
    json_decref(doc);
}

/* 47 hours without readings: 121 of 168 hours covered, flagged. */
static void test_gap_week(void **state)
{
    struct fix *f = *state;
    json_t *doc = compute(f, "gap", "2026-W10");
    json_t *el = cons(doc, "electricity");
    assert_double_equal(jnum_at(el, "coverage"), 0.72, 1e-9); /* 121 / 168 = 0.7202 */
    assert_true(json_is_false(json_object_get(el, "reliable")));
    assert_true(json_is_false(json_object_get(json_object_get(doc, "coverage"), "reliable")));
    /* The index difference is still all there, spread over the gap. */
    assert_double_equal(jnum_at(el, "amount"), 168, 1e-6);
    assert_true(json_is_null(json_object_get(el, "previous")));
    json_decref(doc);
}

/* No sensors: no comfort section; fewer than 5 comparable: no comparison;
 * no outdoor sensor: no heating; no building total (4 dwellings). */
static void test_no_sensors_few_peers(void **state)
{
    struct fix *f = *state;
    json_t *doc = compute(f, "nos", "2026-W10");
    assert_true(json_is_null(json_object_get(doc, "comfort")));
    assert_true(json_is_null(json_object_get(cons(doc, "electricity"), "comparison")));
    assert_true(json_is_null(json_object_get(doc, "heating")));
    assert_true(json_is_null(json_object_get(doc, "building_total")));
    assert_double_equal(jnum_at(cons(doc, "electricity"), "amount"), 168, 1e-6);
    json_decref(doc);
}

/* A tenancy starting on Wednesday: the household sees Wednesday on. */
static void test_tenancy_clip(void **state)
{
    struct fix *f = *state;
    json_t *doc = compute(f, "t1", "2026-W10");
    assert_true(
        json_is_true(json_object_get(json_object_get(doc, "period"), "clipped_to_tenancy")));
    assert_double_equal(jnum_at(doc, "period.hours"), 120, 0);
    assert_double_equal(jnum_at(cons(doc, "electricity"), "amount"), 120, 1e-6);
    assert_true(json_is_null(json_object_get(cons(doc, "electricity"), "previous")));
    json_decref(doc);
    struct summary_period p;
    json_t *none = NULL;
    summary_period_parse("2026-W09", &p);
    assert_int_equal(
        summary_compute(f->e, (uint32_t)config_find_dwelling(f->t.cfg, "t1"), &p, 0, &none),
        -ENOENT);
}

/* Comfort counts the hours of the period only, not the hours around it
 * that coverage reads (the engine cuts the period's hours from the rows it
 * read with those margins). */
static void test_comfort_edges(void **state)
{
    struct fix *f = *state;
    json_t *doc = compute(f, "edge", "2026-W10");
    assert_double_equal(jnum_at(doc, "comfort.temperature.hours_below_16"), 2, 0);
    /* (166 × 20 + 2 × 15) / 168, to one decimal */
    assert_double_equal(jnum_at(doc, "comfort.temperature.mean"), 19.9, 1e-9);
    assert_double_equal(jnum_at(doc, "comfort.temperature.coverage"), 1, EPS);
    json_decref(doc);
}

/* A tip shown last week comes back only when its measure got worse. */
static void test_tip_not_repeated(void **state)
{
    struct fix *f = *state;
    assert_int_equal(texec(&f->t, "INSERT INTO summaries VALUES ('d1', '2026-W09', 1, 0,"
                                  " '{\"tips\": [{\"id\": \"damp-air\", \"measure\": 40},"
                                  " {\"id\": \"standby\", \"measure\": 200}]}')"),
                     SQLITE_OK);
    json_t *doc = compute(f, "d1", "2026-W10");
    json_t *tips = json_object_get(doc, "tips");
    /* damp-air: 30 hours, better than 40: not repeated; standby: 300 W,
     * worse than 200: shown again. */
    assert_int_equal(json_array_size(tips), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(tips, 0), "id")),
                        "standby");
    json_decref(doc);
    assert_int_equal(texec(&f->t, "DELETE FROM summaries"), SQLITE_OK);
}

/* The text: French words from summary.fr.conf, euros with a comma. */
static void test_text(void **state)
{
    struct fix *f = *state;
    json_t *doc = compute(f, "d1", "2026-W10");
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    assert_int_equal(summary_render_text(doc, f->fr, out), 0);
    fclose(out);
    if (!strstr(buf, "Électricité : 176 kWh, soit 42,28 €") ||
        !strstr(buf, "2 mars au 8 mars 2026") || !strstr(buf, "NOS CONSEILS"))
        fail_msg("unexpected text:\n%s", buf);
    free(buf);
    json_decref(doc);
}

/* A meter without a single reading does not zero the coverage of the
 * dwelling's other meter of the quantity: it is named as missing.  Before,
 * the coverage was the minimum over the channels: 0, and the scheduler
 * made no summary ("no reading in the period"). */
static void test_silent_channel(void **state)
{
    struct fix *f = *state;
    json_t *doc = compute(f, "sil", "2026-W10");
    json_t *el = cons(doc, "electricity");
    assert_double_equal(jnum_at(el, "coverage"), 1, EPS);
    assert_true(json_is_true(json_object_get(el, "reliable")));
    assert_double_equal(jnum_at(el, "amount"), 168, 1e-6);
    assert_double_equal(jnum_at(doc, "coverage.share"), 1, EPS);
    json_t *missing = json_object_get(json_object_get(doc, "coverage"), "missing");
    assert_int_equal(json_array_size(missing), 1);
    assert_string_equal(json_string_value(json_array_get(missing, 0)), "sil-new");
    json_decref(doc);
    /* A dwelling whose meters all read: nothing missing. */
    doc = compute(f, "d1", "2026-W10");
    assert_int_equal(json_array_size(json_object_get(json_object_get(doc, "coverage"), "missing")),
                     0);
    json_decref(doc);
}

static bool closed(struct fix *f, const char *dwelling, const char *period)
{
    struct summary_period p;
    bool c = false;
    assert_int_equal(summary_period_parse(period, &p), 0);
    int32_t d = config_find_dwelling(f->t.cfg, dwelling);
    assert_true(d >= 0);
    assert_int_equal(summary_closed_by_data(f->e, (uint32_t)d, &p, &c), 0);
    return c;
}

/* The readings end at 2026-04-07 00:00 (sil's own on 2026-03-20); the
 * wall clock (2026-11) is long past every period: only the data closes
 * one. */
static void test_closed_by_data(void **state)
{
    struct fix *f = *state;
    assert_true(closed(f, "d1", "2026-W14"));  /* ends 04-06: a reading at 04-07 */
    assert_false(closed(f, "d1", "2026-W15")); /* ends 04-13 */
    assert_true(closed(f, "d1", "2026-03"));
    assert_false(closed(f, "d1", "2026-04"));
    /* sil's meter died on 03-20: its building's data closes W12 (ends
     * 03-23) once it is two days past; not yet W14 (ends 04-06). */
    assert_true(closed(f, "sil", "2026-W11"));
    assert_true(closed(f, "sil", "2026-W12"));
    assert_false(closed(f, "sil", "2026-W14"));
}

/* foyerd's scheduler, a day after week 15 ended on the wall clock, with
 * readings that stop on its second day: it makes March's summaries (closed
 * by the data) and not week 15's, which would have told the households
 * about one day of seven as if it were the week (pushed at once, never
 * corrected).  The summaries go through the real pusher into the
 * summaries table (no endpoint configured). */
static void test_scheduler_waits_for_data(void **state)
{
    struct fix *f = *state;
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/config", getenv("FOYER_SRC") ? getenv("FOYER_SRC") : "..");
    setenv("FOYER_LANG_DIR", dir, 1);
    int err = 0;
    struct pusher *p = push_start(f->t.cfg, &err);
    assert_non_null(p);
    struct summary_scheduler *s = summary_scheduler_new(f->t.cfg, p);
    assert_non_null(s);
    summary_scheduler_tick(s, tiso("2026-04-14T12:00:00+02:00"));
    /* Poll until the pusher stored March's (handed over after the week's). */
    int64_t deadline = tu_mono_ms() + 10000;
    while (tquery(&f->t, "SELECT count(*) FROM summaries WHERE dwelling = 'd1' AND period = "
                         "'2026-03'") < 1 &&
           tu_mono_ms() < deadline)
        usleep(10000);
    push_stop(p, NULL);
    summary_scheduler_free(s);
    assert_double_equal(tquery(&f->t,
                               "SELECT count(*) FROM summaries WHERE dwelling = 'd1' AND period = "
                               "'2026-03'"),
                        1, 0);
    assert_double_equal(tquery(&f->t, "SELECT count(*) FROM summaries WHERE period = '2026-W15'"),
                        0, 0);
    assert_int_equal(texec(&f->t, "DELETE FROM summaries"), SQLITE_OK);
}

/* Both catalogues have the same tips with the same conditions. */
static void test_catalogues_agree(void **state)
{
    struct fix *f = *state;
    struct summary_lang *en = NULL;
    struct conf_errors errs = {0};
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/config", getenv("FOYER_SRC") ? getenv("FOYER_SRC") : "..");
    assert_int_equal(summary_lang_load(dir, "en", &en, &errs), 0);
    assert_int_equal(summary_lang_n_tips(en), summary_lang_n_tips(f->fr));
    for (size_t i = 0; i < summary_lang_n_tips(en); i++) {
        assert_string_equal(summary_lang_tip_id(en, i), summary_lang_tip_id(f->fr, i));
        assert_string_equal(summary_lang_tip_condition(en, i),
                            summary_lang_tip_condition(f->fr, i));
    }
    summary_lang_free(en);
}

/* Each tip in both languages (tips[].texts): the French summary's tips
 * carry the English words an English summary would show, with the same
 * figures; the engine's own language, or one added twice, is refused. */
static void test_tip_texts(void **state)
{
    struct fix *f = *state;
    struct summary_lang *en = NULL;
    struct conf_errors errs = {0};
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/config", getenv("FOYER_SRC") ? getenv("FOYER_SRC") : "..");
    assert_int_equal(summary_lang_load(dir, "en", &en, &errs), 0);
    struct summary_engine *both = summary_engine_new(f->t.cfg, f->ro, f->fr, DJU_METEO_FRANCE);
    struct summary_engine *english = summary_engine_new(f->t.cfg, f->ro, en, DJU_METEO_FRANCE);
    assert_non_null(both);
    assert_non_null(english);
    assert_int_equal(summary_engine_add_lang(both, f->fr), -EEXIST);
    assert_int_equal(summary_engine_add_lang(both, en), 0);
    assert_int_equal(summary_engine_add_lang(both, en), -EEXIST);

    struct summary_period p;
    json_t *doc_both = NULL, *doc_en = NULL, *doc_fr = NULL;
    int64_t now = tiso("2026-04-10T12:00:00+02:00");
    assert_int_equal(summary_period_parse("2026-W10", &p), 0);
    int32_t d = config_find_dwelling(f->t.cfg, "d1");
    assert_int_equal(summary_compute(both, (uint32_t)d, &p, now, &doc_both), 0);
    assert_int_equal(summary_compute(english, (uint32_t)d, &p, now, &doc_en), 0);
    doc_fr = compute(f, "d1", "2026-W10");
    json_t *tb = json_object_get(doc_both, "tips"), *te = json_object_get(doc_en, "tips");
    json_t *tf = json_object_get(doc_fr, "tips");
    assert_int_equal(json_array_size(tb), 3);
    assert_int_equal(json_array_size(te), 3);
    for (size_t i = 0; i < 3; i++) {
        json_t *texts = json_object_get(json_array_get(tb, i), "texts");
        const char *fr = json_string_value(json_object_get(texts, "fr"));
        const char *en_text = json_string_value(json_object_get(texts, "en"));
        assert_non_null(fr);
        assert_non_null(en_text);
        assert_string_equal(fr, json_string_value(json_object_get(json_array_get(tb, i), "text")));
        assert_string_equal(fr, json_string_value(json_object_get(json_array_get(tf, i), "text")));
        assert_string_equal(en_text,
                            json_string_value(json_object_get(json_array_get(te, i), "text")));
        assert_string_not_equal(fr, en_text);
    }
    /* Without another language, texts holds the summary's own. */
    json_t *only = json_object_get(json_array_get(tf, 0), "texts");
    assert_int_equal(json_object_size(only), 1);
    assert_non_null(json_object_get(only, "fr"));
    json_decref(doc_both);
    json_decref(doc_en);
    json_decref(doc_fr);
    summary_engine_free(both);
    summary_engine_free(english);
    summary_lang_free(en);
}

/* A broken catalogue is reported as FILE:LINE. */
static void test_catalogue_errors(void **state)
{
    struct fix *f = *state;
    char path[256];
    snprintf(path, sizeof(path), "%s/tips.xx.conf", f->t.dir);
    FILE *o = fopen(path, "w");
    fputs("; a comment\n[tip a]\ncondition = temp_mean > \npriority = 5\ntext = x\n"
          "[tip b]\nprority = 3\n",
          o);
    fclose(o);
    snprintf(path, sizeof(path), "%s/summary.xx.conf", f->t.dir);
    o = fopen(path, "w");
    fputs("[strings]\nx = y\n", o);
    fclose(o);
    struct summary_lang *l = NULL;
    struct conf_errors errs = {0};
    assert_int_equal(summary_lang_load(f->t.dir, "xx", &l, &errs), -EINVAL);
    assert_true(errs.n >= 3);
    assert_non_null(strstr(errs.msgs[0], "tips.xx.conf:3: tip a: condition"));
    assert_non_null(strstr(errs.msgs[1], "tips.xx.conf:7: tip b: unknown key \"prority\""));
    conf_errors_free(&errs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dju),
        cmocka_unit_test(test_periods),
        cmocka_unit_test(test_week_known_answers),
        cmocka_unit_test(test_dst_week),
        cmocka_unit_test(test_gap_week),
        cmocka_unit_test(test_no_sensors_few_peers),
        cmocka_unit_test(test_tenancy_clip),
        cmocka_unit_test(test_comfort_edges),
        cmocka_unit_test(test_tip_not_repeated),
        cmocka_unit_test(test_silent_channel),
        cmocka_unit_test(test_closed_by_data),
        cmocka_unit_test(test_scheduler_waits_for_data),
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_catalogues_agree),
        cmocka_unit_test(test_tip_texts),
        cmocka_unit_test(test_catalogue_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
