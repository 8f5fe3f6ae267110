/*
 * test_signature.c - the weather correction against a known truth.
 *
 * Two winters of generated history (September 2024 to June 2026, the
 * second winter colder) go through the real store into a real SQLite file:
 * an outdoor channel with an annual cycle, day-to-day weather (AR(1)) and a
 * daily swing, read every 3 hours; energy meters read every 3 hours whose
 * daily use is base + slope * DJU(day) + noise, DJU computed from the same
 * readings the engine sees (Météo-France, base 18 °C).  The generator knows
 * the truth, the test checks the summaries against it:
 *
 * - same (electric: base 8 kWh/day of appliances, 1.5 kWh/DJU) and heat (a
 *   collective heat meter) never change their habits: every month with
 *   heating weather the weather-corrected change is within ±3 % of 0, the
 *   verdict is "same" and the text neither praises nor warns, although the
 *   weather differs from one month and year to the next; the heating part
 *   excludes the appliances (within 3 % of the true heating);
 * - lYYMM heat 10 % less in month YYMM only: -10 % ± 3 %, "less";
 * - noise uses 14 kWh/day ± 4 whatever the weather: silent ("fit");
 * - young moved in (data) on 2026-01-05: silent in February ("history");
 * - months with little cold (September, June): silent ("mild");
 * - building b2 (six constant households): the shared figure, weather
 *   corrected against last year, is "the same" every winter month.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "foyer/coach.h"
#include "testutil.h"

#define H 3600

static const char conf_head[] = "[foyer]\n"
                                "database = %s\n"
                                "timezone = Europe/Paris\n"
                                "[building b1]\n"
                                "[building b2]\n"
                                "[channel out1]\nbuilding = b1\nquantity = outdoor_temperature\n"
                                "[channel out2]\nbuilding = b2\nquantity = outdoor_temperature\n";

/* A generated household. */
struct hh {
    const char *id;
    const char *building;
    const char *heating; /* config heating type */
    const char *quantity;
    double base, slope, noise_sd;
    int change_ym;   /* YYYYMM heated 10 % less, or 0 */
    int64_t from_s;  /* first reading (0: the start) */
    bool temp_blind; /* use does not follow the weather */
};

static struct hh hhs[] = {
    {"same", "b1", "electric", "electricity", 8, 1.5, 0.5, 0, 0, false},
    {"heat", "b1", "collective", "heat", 0.3, 2.0, 0.5, 0, 0, false},
    {"l2510", "b1", "electric", "electricity", 7, 1.4, 0.5, 202510, 0, false},
    {"l2511", "b1", "electric", "electricity", 7, 1.4, 0.5, 202511, 0, false},
    {"l2512", "b1", "electric", "electricity", 7, 1.4, 0.5, 202512, 0, false},
    {"l2601", "b1", "electric", "electricity", 7, 1.4, 0.5, 202601, 0, false},
    {"l2602", "b1", "electric", "electricity", 7, 1.4, 0.5, 202602, 0, false},
    {"l2603", "b1", "electric", "electricity", 7, 1.4, 0.5, 202603, 0, false},
    {"l2604", "b1", "gas", "gas", 4, 2.2, 0.5, 202604, 0, false},
    {"noise", "b1", "electric", "electricity", 14, 0, 4, 0, 0, true},
    {"young", "b1", "electric", "electricity", 8, 1.5, 0.5, 0, 1, false},
    {"s1", "b2", "electric", "electricity", 6, 1.2, 0.5, 0, 0, false},
    {"s2", "b2", "electric", "electricity", 9, 1.6, 0.5, 0, 0, false},
    {"s3", "b2", "electric", "electricity", 5, 1.0, 0.5, 0, 0, false},
    {"s4", "b2", "electric", "electricity", 7, 2.0, 0.5, 0, 0, false},
    {"s5", "b2", "electric", "electricity", 10, 1.3, 0.5, 0, 0, false},
    {"s6", "b2", "electric", "electricity", 8, 1.8, 0.5, 0, 0, false},
};
#define N_HH (sizeof(hhs) / sizeof(hhs[0]))

/* The generated days: their start, DJU and each household's true heating. */
#define DAYS_MAX 700
static int64_t day_ts[DAYS_MAX];
static double day_dju[DAYS_MAX];
static double day_heat[N_HH][DAYS_MAX];
static size_t n_days;

struct fix {
    struct tenv t;
    struct store *ro;
    struct summary_lang *en;
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

/* A fixed sequence: the test is the same at every run. */
static uint64_t rng = 0x2545F4914F6CDD1DULL;

static double uniform(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return ((double)(rng >> 11) + 0.5) / 9007199254740992.0;
}

static double gauss(double sd)
{
    return sd * sqrt(-2 * log(uniform())) * cos(2 * M_PI * uniform());
}

static int ym_of(int64_t ts)
{
    time_t tt = (time_t)ts;
    struct tm tm;
    localtime_r(&tt, &tm);
    return (tm.tm_year + 1900) * 100 + tm.tm_mon + 1;
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
    fprintf(cf, conf_head, t->db);
    for (size_t i = 0; i < N_HH; i++)
        fprintf(cf,
                "[dwelling %s]\nbuilding = %s\nsurface_m2 = 50\nheating = %s\n"
                "[channel %s-m]\ndwelling = %s\nquantity = %s\n",
                hhs[i].id, hhs[i].building, hhs[i].heating, hhs[i].id, hhs[i].id, hhs[i].quantity);
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

    int64_t start = tu_local_date(2024, 9, 1), end = tu_local_date(2026, 7, 1);
    int64_t young_from = tu_local_date(2026, 1, 5);
    double idx[N_HH] = {0}, weather = 0;
    rn = 0;
    n_days = 0;
    for (int64_t d = start; d < end && n_days < DAYS_MAX; d = tu_next_day(d)) {
        int64_t next = tu_next_day(d);
        double doy = (double)(d - tu_local_date(ym_of(d) / 100, 1, 1)) / 86400.0;
        /* The second winter is colder than the first. */
        double amp = d < tu_local_date(2025, 8, 1) ? 7.5 : 9.5;
        weather = 0.7 * weather + gauss(2.0);
        double mean = 11.5 - amp * cos(2 * M_PI * (doy - 20) / 365.25) + weather;
        double lo = INFINITY, hi = -INFINITY;
        int64_t slot[9];
        for (int k = 0; k < 8; k++) {
            slot[k] = d + k * 3 * H;
            double v = mean + 4 * sin(2 * M_PI * (double)(k * 3 - 9) / 24.0);
            v = round(v * 100) / 100;
            lo = fmin(lo, v);
            hi = fmax(hi, v);
            add(t, "out1", slot[k], v);
            add(t, "out2", slot[k], v);
        }
        slot[8] = next;
        double dju = summary_dju(DJU_METEO_FRANCE, lo, hi);
        day_ts[n_days] = d;
        day_dju[n_days] = dju;
        for (size_t i = 0; i < N_HH; i++) {
            const struct hh *h = &hhs[i];
            double factor = ym_of(d) == h->change_ym ? 0.9 : 1.0;
            double heat = h->temp_blind ? 0 : h->slope * dju * factor;
            double use = fmax(0.05, h->base + heat + gauss(h->noise_sd));
            day_heat[i][n_days] = heat;
            if (h->from_s && d < young_from)
                continue;
            char ch[32];
            snprintf(ch, sizeof(ch), "%s-m", h->id);
            /* The day's use in 8 equal parts, each read at the end of its
             * 3 hours: every part lands in its own day. */
            if (h->from_s && d == young_from)
                add(t, ch, slot[0], idx[i]);
            else if (d == start)
                add(t, ch, slot[0], idx[i]);
            for (int k = 0; k < 8; k++) {
                idx[i] += use / 8;
                add(t, ch, slot[k + 1], round(idx[i] * 1000) / 1000);
            }
        }
        n_days++;
    }
    if (store_ingest(t->s, rbuf, rn, 0, &t->stats) < 0)
        return -1;
    free(rbuf);
    rbuf = NULL;
    rcap = 0;

    char dir[512];
    snprintf(dir, sizeof(dir), "%s/config", getenv("FOYER_SRC") ? getenv("FOYER_SRC") : "..");
    struct conf_errors lerrs = {0};
    if (summary_lang_load(dir, "en", &f->en, &lerrs) < 0)
        return -1;
    if (store_open_readonly(t->db, t->cfg, &f->ro, &msg) < 0)
        return -1;
    f->e = summary_engine_new(t->cfg, f->ro, f->en, DJU_METEO_FRANCE);
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
    summary_lang_free(f->en);
    tenv_teardown(&f->t);
    free(f);
    return 0;
}

static json_t *compute(struct fix *f, const char *dwelling, const struct summary_period *p)
{
    json_t *doc = NULL;
    int32_t d = config_find_dwelling(f->t.cfg, dwelling);
    assert_true(d >= 0);
    int rc = summary_compute(f->e, (uint32_t)d, p, tu_local_date(2026, 7, 10), &doc);
    if (rc < 0)
        fail_msg("summary %s %s: %d", dwelling, p->id, rc);
    return doc;
}

static char *text_of(struct fix *f, const json_t *doc)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    assert_int_equal(summary_render_text(doc, f->en, out), 0);
    fclose(out);
    return buf;
}

static double num(const json_t *o, const char *key)
{
    const json_t *x = json_object_get(o, key);
    return json_is_number(x) ? json_number_value(x) : NAN;
}

/* The true heating of household i and the DJU over [a, b). */
static void truth(size_t i, int64_t a, int64_t b, double *ret_heat, double *ret_dju)
{
    double heat = 0, dju = 0;
    for (size_t k = 0; k < n_days; k++) {
        if (day_ts[k] < a || day_ts[k] >= b)
            continue;
        heat += day_heat[i][k];
        dju += day_dju[k];
    }
    *ret_heat = heat;
    *ret_dju = dju;
}

/* Praise or warning about heating in the English text: "less than" or
 * "more than" in its heating section (summary.en.conf: heating_less,
 * heating_more; the old ratio's heating_down and heating_up too). */
static bool heating_claim(const char *text)
{
    const char *h = strstr(text, "YOUR HEATING");
    if (!h)
        return false;
    const char *end = strstr(h, "\n\n");
    size_t len = end ? (size_t)(end - h) : strlen(h);
    char sect[1024];
    snprintf(sect, sizeof(sect), "%.*s", (int)(len < sizeof(sect) ? len : sizeof(sect) - 1), h);
    return strstr(sect, "less than") || strstr(sect, "more than");
}

/* Every month from September 2025 to June 2026, for every household with
 * a constant habit and the one that changed that month. */
static void test_truth_every_month(void **state)
{
    struct fix *f = *state;
    int spoke = 0;
    for (int ym = 202509; ym <= 202606; ym = ym % 100 == 12 ? ym + 89 : ym + 1) {
        char id[16];
        snprintf(id, sizeof(id), "%04d-%02d", ym / 100, ym % 100);
        struct summary_period p;
        assert_int_equal(summary_period_parse(id, &p), 0);
        for (size_t i = 0; i < N_HH; i++) {
            const struct hh *h = &hhs[i];
            bool changed = h->change_ym == ym;
            bool constant = strcmp(h->id, "same") == 0 || strcmp(h->id, "heat") == 0;
            if (!changed && !constant)
                continue;
            double heat, dju;
            truth(i, p.start_s, p.end_s, &heat, &dju);
            double days = (double)(p.end_s - p.start_s) / 86400.0;
            json_t *doc = compute(f, h->id, &p);
            json_t *hj = json_object_get(doc, "heating");
            json_t *w = json_object_get(hj, "weather_corrected");
            char *text = text_of(f, doc);
            if (getenv("FOYER_TEST_VERBOSE"))
                fprintf(stderr, "%s %s dju %.0f heat %.0f: %s\n", h->id, id, dju, heat,
                        json_dumps(hj, JSON_COMPACT));
            if (dju / days < 3.0) {
                /* Little heating: nothing said about it. */
                if (!json_is_null(w) || heating_claim(text))
                    fail_msg("%s %s (%.0f DJU): a weather claim in a mild month:\n%s", h->id, id,
                             dju, text);
                assert_string_equal(json_string_value(json_object_get(hj, "silent_because")),
                                    "mild");
            } else {
                if (!json_is_object(w))
                    fail_msg("%s %s (%.0f DJU): silent (%s)", h->id, id, dju,
                             json_string_value(json_object_get(hj, "silent_because")));
                double want = changed ? -10.0 : 0.0;
                double got = num(w, "change_pct");
                if (!(fabs(got - want) <= 3.0))
                    fail_msg("%s %s: weather-corrected change %.1f %%, truth %.1f %%", h->id, id,
                             got, want);
                /* Only the energy above the base load is heating. */
                double part = num(hj, "heating_kwh");
                if (!(fabs(part - heat) <= 0.03 * heat))
                    fail_msg("%s %s: heating %.1f kWh, truth %.1f kWh", h->id, id, part, heat);
                const char *verdict = json_string_value(json_object_get(w, "verdict"));
                assert_string_equal(verdict, changed ? "less" : "same");
                if (changed ? !(heating_claim(text) && strstr(text, "less than usual"))
                            : heating_claim(text))
                    fail_msg("%s %s: truth %.0f %%, text:\n%s", h->id, id, want, text);
                spoke++;
            }
            free(text);
            json_decref(doc);
        }
    }
    /* October to April for same and heat, and the seven changes. */
    assert_true(spoke >= 2 * 7 + 7);
}

/* Weeks, October 2025 to April 2026: habits constant, weather changing
 * from week to week: never praise nor warning, and the truth within the
 * figure's stated uncertainty. */
static void test_weeks_same(void **state)
{
    struct fix *f = *state;
    struct summary_period p;
    int spoke = 0;
    assert_int_equal(summary_period_parse("2025-W40", &p), 0);
    for (; p.start_s < tu_local_date(2026, 5, 1); summary_period_at(SUMMARY_WEEK, p.end_s, &p)) {
        static const char *const ids[] = {"same", "heat"};
        for (size_t i = 0; i < 2; i++) {
            json_t *doc = compute(f, ids[i], &p);
            json_t *w = json_object_get(json_object_get(doc, "heating"), "weather_corrected");
            char *text = text_of(f, doc);
            if (heating_claim(text))
                fail_msg("%s %s: habits unchanged, text:\n%s", ids[i], p.id, text);
            if (json_is_object(w)) {
                spoke++;
                assert_string_equal(json_string_value(json_object_get(w, "verdict")), "same");
                /* A week's figure is noisier than a month's: the truth lies
                 * within the engine's own band (3 %, or twice its standard
                 * error when larger). */
                double band = fmax(3.0, 2 * num(w, "se_pct"));
                if (!(fabs(num(w, "change_pct")) <= band))
                    fail_msg("%s %s: weather-corrected change %.1f %% (se %.1f), truth 0", ids[i],
                             p.id, num(w, "change_pct"), num(w, "se_pct"));
            }
            free(text);
            json_decref(doc);
        }
    }
    /* Most weeks of the winter have cold enough to speak. */
    assert_true(spoke >= 40);
}

/* Use that does not follow the weather: no signature, nothing said. */
static void test_silent_poor_fit(void **state)
{
    struct fix *f = *state;
    struct summary_period p;
    assert_int_equal(summary_period_parse("2026-01", &p), 0);
    json_t *doc = compute(f, "noise", &p);
    /* The text first: what the old ratio said here. */
    char *text = text_of(f, doc);
    if (strstr(text, "HEATING") || heating_claim(text))
        fail_msg("a heating claim without a signature:\n%s", text);
    free(text);
    json_t *hj = json_object_get(doc, "heating");
    assert_true(json_is_null(json_object_get(hj, "weather_corrected")));
    assert_string_equal(json_string_value(json_object_get(hj, "silent_because")), "fit");
    assert_true(json_is_false(json_object_get(json_object_get(hj, "signature"), "valid")));
    /* A shared meter without a signature: its heating part is unknown. */
    assert_true(json_is_null(json_object_get(hj, "heating_kwh")));
    assert_true(json_is_null(json_object_get(hj, "kwh_per_dju")));
    json_decref(doc);
}

/* Four weeks of history: too little to fit. */
static void test_silent_short_history(void **state)
{
    struct fix *f = *state;
    struct summary_period p;
    assert_int_equal(summary_period_parse("2026-02", &p), 0);
    json_t *doc = compute(f, "young", &p);
    /* The text first: what the old ratio said here. */
    char *text = text_of(f, doc);
    if (strstr(text, "HEATING") || heating_claim(text))
        fail_msg("a heating claim on four weeks of history:\n%s", text);
    free(text);
    json_t *hj = json_object_get(doc, "heating");
    assert_true(json_is_null(json_object_get(hj, "weather_corrected")));
    assert_string_equal(json_string_value(json_object_get(hj, "silent_because")), "history");
    json_decref(doc);
}

/* The building's shared figure: six households with constant habits, a
 * colder winter than the last: "the same", for the same cold. */
static void test_building_same(void **state)
{
    struct fix *f = *state;
    static const char *const months[] = {"2025-10", "2025-11", "2025-12", "2026-01",
                                         "2026-02", "2026-03", "2026-04"};
    for (size_t m = 0; m < sizeof(months) / sizeof(months[0]); m++) {
        struct summary_period p;
        assert_int_equal(summary_period_parse(months[m], &p), 0);
        json_t *doc = compute(f, "s1", &p);
        json_t *bt = json_object_get(doc, "building_total");
        if (!json_is_object(bt))
            fail_msg("%s: no building figure", months[m]);
        assert_true(json_is_true(json_object_get(bt, "normalised_by_dju")));
        double change = num(bt, "change_pct");
        if (!(fabs(change) <= 3.0))
            fail_msg("%s: building change %.1f %%, truth 0", months[m], change);
        assert_string_equal(json_string_value(json_object_get(bt, "verdict")), "same");
        char *text = text_of(f, doc);
        if (!strstr(text, "as much as last year for the same cold"))
            fail_msg("%s: text:\n%s", months[m], text);
        free(text);
        json_decref(doc);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_truth_every_month), cmocka_unit_test(test_weeks_same),
        cmocka_unit_test(test_silent_poor_fit),   cmocka_unit_test(test_silent_short_history),
        cmocka_unit_test(test_building_same),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
