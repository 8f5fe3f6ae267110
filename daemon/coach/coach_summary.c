/*
 * coach_summary.c - the document: one dwelling's summary for a period, as
 * the JSON that is pushed (schema in docs/summary.md): consumption, euros,
 * changes, the comparison with similar dwellings, comfort, night base load
 * and tips.  Its figures are read by the engine (coach_engine.c); heating
 * and the building's shared figure, weather-corrected, are
 * coach_signature.c; periods and degree-days coach_period.c.
 *
 * Tenancies: a household sees nothing from before its tenancy.  The period
 * is clipped to the tenancy; a comparison with the previous period or last
 * year is given only when that period lies wholly inside the tenancy (an
 * earlier household's figures are neither comparable nor theirs to see).
 */
#include "coach_int.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "foyer/store_tenancy.h"
#include "foyer/timeutil.h"

/* Night hours (local) of the base load: [1 h, 5 h). */
#define SUMMARY_NIGHT_FROM_H 1
#define SUMMARY_NIGHT_TO_H   5
/* At least this many night hours with data for a base load. */
#define SUMMARY_NIGHT_HOURS_MIN 3

static const enum quantity energy_q[] = {Q_ELECTRICITY, Q_HEAT, Q_GAS, Q_HOT_WATER, Q_COLD_WATER};
#define N_ENERGY_Q (sizeof(energy_q) / sizeof(energy_q[0]))

/* ---- the document ------------------------------------------------------ */

static double round_to(double x, int decimals)
{
    double f = pow(10, decimals);
    return round(x * f) / f;
}

json_t *summary_jnum(double x, int decimals)
{
    return isfinite(x) ? json_real(round_to(x, decimals)) : json_null();
}

json_t *summary_jtime(int64_t ts)
{
    char buf[40];
    return json_string(tu_format_local(ts, buf, sizeof(buf)));
}

static const char *kind_word(enum summary_kind k)
{
    return k == SUMMARY_WEEK ? "week" : "month";
}

enum quantity summary_heating_quantity(enum heating h)
{
    switch (h) {
    case HEATING_GAS:
        return Q_GAS;
    case HEATING_DISTRICT:
    case HEATING_COLLECTIVE:
        return Q_HEAT;
    default:
        return Q_ELECTRICITY;
    }
}

/* The household's tenancy meeting [a, b) (the latest starting), clipping
 * [a, b).  -ENOENT when the dwelling has tenancies and none meets it.
 * Tenancies are the run's (store_tenancy_read(): foyerctl tenancy). */
static int clip_tenancy(const struct tenancy *v, size_t n, uint32_t d, int64_t *a, int64_t *b,
                        int64_t *ret_tenancy_start)
{
    const struct tenancy *best = NULL;
    bool any = false;
    int64_t best_s = 0, best_e = 0;
    for (size_t i = 0; i < n; i++) {
        const struct tenancy *t = &v[i];
        if (t->dwelling != d)
            continue;
        any = true;
        int64_t s =
            tu_local_date(t->start_ymd / 10000, t->start_ymd / 100 % 100, t->start_ymd % 100);
        int64_t en = t->end_ymd ? tu_local_date(t->end_ymd / 10000, t->end_ymd / 100 % 100,
                                                t->end_ymd % 100 + 1)
                                : INT64_MAX;
        if (s >= *b || en <= *a)
            continue;
        if (!best || s > best_s) {
            best = t;
            best_s = s;
            best_e = en;
        }
    }
    *ret_tenancy_start = INT64_MIN;
    if (!any)
        return 0;
    if (!best)
        return -ENOENT;
    *ret_tenancy_start = best_s;
    if (best_s > *a)
        *a = best_s;
    if (best_e < *b)
        *b = best_e;
    return 0;
}

double summary_pct_change(double cur, double ref)
{
    return ref > 0 && isfinite(cur) ? (cur - ref) / ref * 100.0 : NAN;
}

/* Quantile q of sorted v[0..n) (linear interpolation). */
static double quantile(const double *v, size_t n, double q)
{
    double pos = q * (double)(n - 1);
    size_t lo = (size_t)pos;
    double frac = pos - (double)lo;
    return lo + 1 < n ? v[lo] * (1 - frac) + v[lo + 1] * frac : v[lo];
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

/* The household's per-m² position among similar dwellings (same building,
 * same heating, data over SUMMARY_COVERAGE_MIN), or null. */
static int comparison(struct summary_ctx *c, enum quantity q, double amount, json_t **ret)
{
    struct summary_engine *e = c->e;
    const struct foyer_config *cfg = e->cfg;
    double *v = calloc(cfg->n_dwellings + 1, sizeof(*v));
    size_t n = 0;
    *ret = json_null();
    if (!v)
        return -ENOMEM;
    for (uint32_t o = 0; o < cfg->n_dwellings; o++) {
        const struct dwelling *od = &cfg->dwellings[o];
        if (o == c->d || od->building != c->dw->building || od->heating != c->dw->heating)
            continue;
        double amt, cov;
        bool has;
        int rc = summary_dw_total(e, o, q, c->p->start_s, c->p->end_s, &amt, &cov, &has, NULL);
        if (rc < 0) {
            free(v);
            return rc;
        }
        if (has && cov >= SUMMARY_COVERAGE_MIN)
            v[n++] = amt / od->surface_m2;
    }
    if (n >= SUMMARY_PEERS_MIN) {
        qsort(v, n, sizeof(*v), cmp_double);
        double mine = amount / c->dw->surface_m2;
        double med = quantile(v, n, 0.5), best = quantile(v, n, 0.25);
        const char *pos = mine <= best  ? "best_quarter"
                          : mine <= med ? "better_than_median"
                                        : "above_median";
        json_t *o = json_object();
        json_object_set_new(o, "peers", json_integer((json_int_t)n));
        json_object_set_new(o, "per_m2", summary_jnum(mine, 3));
        json_object_set_new(o, "median_per_m2", summary_jnum(med, 3));
        json_object_set_new(o, "best_quarter_per_m2", summary_jnum(best, 3));
        json_object_set_new(o, "vs_median_pct", summary_jnum(summary_pct_change(mine, med), 1));
        json_object_set_new(o, "position", json_string(pos));
        *ret = o;
        char name[40];
        const char *qn = quantity_name(q);
        (void)snprintf(name, sizeof(name), "%s_per_m2", qn);
        summary_vars_set(c->vars, name, mine);
        (void)snprintf(name, sizeof(name), "%s_vs_median_pct", qn);
        summary_vars_set(c->vars, name, summary_pct_change(mine, med));
        (void)snprintf(name, sizeof(name), "%s_best_quarter", qn);
        summary_vars_set(c->vars, name, mine <= best ? 1 : 0);
        (void)snprintf(name, sizeof(name), "%s_peers", qn);
        summary_vars_set(c->vars, name, (double)n);
    }
    free(v);
    return 0;
}

/* A reference period (previous, last year): its amount and the change of
 * the daily rate, when it lies inside the tenancy and both are reliable. */
static int reference(struct summary_ctx *c, enum quantity q, const struct summary_period *ref,
                     double amount, double cov, const char *var, json_t **ret)
{
    double ramt, rcov;
    bool has;
    *ret = json_null();
    if (c->clipped || ref->start_s < c->tenancy_start || cov < SUMMARY_COVERAGE_MIN)
        return 0;
    int rc = summary_dw_total(c->e, c->d, q, ref->start_s, ref->end_s, &ramt, &rcov, &has, NULL);
    if (rc < 0 || !has || rcov < SUMMARY_COVERAGE_MIN)
        return rc;
    double rhours = (double)(ref->end_s - ref->start_s) / 3600.0;
    double change = summary_pct_change(amount / c->hours, ramt / rhours);
    json_t *o = json_object();
    json_object_set_new(o, "period", json_string(ref->id));
    json_object_set_new(o, "amount", summary_jnum(ramt, 3));
    json_object_set_new(o, "change_pct", summary_jnum(change, 1));
    *ret = o;
    char name[48];
    (void)snprintf(name, sizeof(name), "%s_%s", quantity_name(q), var);
    summary_vars_set(c->vars, name, change);
    return 0;
}

static int consumption(struct summary_ctx *c, json_t *doc, json_t *missing, double *ret_cov_min)
{
    struct summary_period prev, ly;
    bool has_ly = summary_period_last_year(c->p, &ly);
    json_t *arr = json_array();
    double cov_min = NAN;
    int rc = 0;
    summary_period_prev(c->p, &prev);
    json_object_set_new(doc, "consumption", arr);
    for (size_t k = 0; k < N_ENERGY_Q && rc == 0; k++) {
        enum quantity q = energy_q[k];
        const char *qn = quantity_name(q);
        double amount, cov, eur;
        bool has, eur_complete;
        char name[48];
        rc = summary_dw_total(c->e, c->d, q, c->a, c->b, &amount, &cov, &has, missing);
        if (rc < 0 || !has)
            continue;
        rc = summary_dw_euros(c->e, c->d, q, c->a, c->b, &eur, &eur_complete);
        if (rc < 0)
            break;
        bool reliable = cov >= SUMMARY_COVERAGE_MIN;
        cov_min = isnan(cov_min) ? cov : fmin(cov_min, cov);
        const struct tariff *t =
            summary_tariff_for(c->e->cfg, q, (int32_t)c->dw->building, summary_ymd_of(c->b - 1));
        json_t *o = json_object();
        json_object_set_new(o, "quantity", json_string(qn));
        json_object_set_new(o, "unit", json_string(quantity_unit(q)));
        json_object_set_new(o, "amount", summary_jnum(amount, 3));
        json_object_set_new(o, "coverage", summary_jnum(cov, 3));
        json_object_set_new(o, "reliable", json_boolean(reliable));
        json_object_set_new(o, "eur", summary_jnum(eur, 2));
        json_object_set_new(o, "eur_complete", json_boolean(eur_complete));
        json_object_set_new(o, "price_eur_per_unit",
                            t ? summary_jnum(summary_price_per_unit(t), 6) : json_null());
        json_t *jp, *jl = json_null(), *jc;
        rc = reference(c, q, &prev, amount, cov, "change_prev_pct", &jp);
        if (rc == 0 && has_ly)
            rc = reference(c, q, &ly, amount, cov, "change_year_pct", &jl);
        json_object_set_new(o, "previous", jp);
        json_object_set_new(o, "last_year", jl);
        jc = json_null();
        if (rc == 0 && reliable && !c->clipped)
            rc = comparison(c, q, amount, &jc);
        json_object_set_new(o, "comparison", jc);
        json_array_append_new(arr, o);
        if (reliable) {
            summary_vars_set(c->vars, qn, amount);
            (void)snprintf(name, sizeof(name), "%s_per_day", qn);
            summary_vars_set(c->vars, name, amount / (c->hours / 24));
            (void)snprintf(name, sizeof(name), "%s_eur", qn);
            summary_vars_set(c->vars, name, eur);
        }
        if (t) {
            (void)snprintf(name, sizeof(name), "%s_price", qn);
            summary_vars_set(c->vars, name, summary_price_per_unit(t));
        }
    }
    *ret_cov_min = isnan(cov_min) ? 0 : cov_min;
    return rc;
}

/* Mean indoor temperature and humidity, hours too cold, too warm, damp,
 * stuffy: from the hourly means of the dwelling's first sensor of each. */
static int comfort(struct summary_ctx *c, json_t *doc)
{
    struct summary_engine *e = c->e;
    static const enum quantity gq[] = {Q_TEMPERATURE, Q_HUMIDITY, Q_CO2};
    json_t *o = NULL;
    for (size_t g = 0; g < 3; g++) {
        int32_t ch = -1;
        for (uint32_t k = e->dw_first[c->d]; k < e->dw_first[c->d + 1] && ch < 0; k++)
            if (e->cfg->channels[e->by_dw[k]].quantity == gq[g])
                ch = (int32_t)e->by_dw[k];
        if (ch < 0)
            continue;
        struct summary_ctot t;
        int rc = summary_chan_total(e, (uint32_t)ch, c->a, c->b, &t);
        if (rc < 0)
            return rc;
        int64_t nh = summary_fetch_hours(e, (uint32_t)ch, c->a, c->b);
        if (nh < 0)
            return (int)nh;
        double lo = 0, hi = 0, hi2 = 0;
        size_t with = 0;
        for (int64_t i = 0; i < nh; i++) {
            if (e->hours[i].n <= 0)
                continue;
            double m = e->hours[i].sum / (double)e->hours[i].n;
            with++;
            if (gq[g] == Q_TEMPERATURE) {
                lo += m < 16.0;
                hi += m > 22.0;
            } else if (gq[g] == Q_HUMIDITY) {
                hi += m > 70.0;
            } else {
                hi += m > 1000.0;
                hi2 += m > 1500.0;
            }
        }
        if (!o)
            o = json_object();
        bool reliable = t.coverage >= SUMMARY_COVERAGE_MIN;
        double mean = t.n > 0 ? t.amount / t.n : NAN;
        json_t *s = json_object();
        json_object_set_new(s, "mean", summary_jnum(mean, 1));
        json_object_set_new(s, "coverage", summary_jnum(t.coverage, 3));
        json_object_set_new(s, "reliable", json_boolean(reliable));
        /* Without hourly rollups (no consent, old period) no hour counts. */
        bool hourly = with > 0;
        if (gq[g] == Q_TEMPERATURE) {
            json_object_set_new(s, "hours_below_16",
                                hourly ? json_integer((json_int_t)lo) : json_null());
            json_object_set_new(s, "hours_above_22",
                                hourly ? json_integer((json_int_t)hi) : json_null());
            json_object_set_new(o, "temperature", s);
            if (reliable) {
                summary_vars_set(c->vars, "temp_mean", mean);
                if (hourly) {
                    summary_vars_set(c->vars, "temp_hours_below_16", lo);
                    summary_vars_set(c->vars, "temp_hours_above_22", hi);
                }
            }
        } else if (gq[g] == Q_HUMIDITY) {
            json_object_set_new(s, "hours_above_70",
                                hourly ? json_integer((json_int_t)hi) : json_null());
            json_object_set_new(o, "humidity", s);
            if (reliable) {
                summary_vars_set(c->vars, "humidity_mean", mean);
                if (hourly)
                    summary_vars_set(c->vars, "humidity_hours_above_70", hi);
            }
        } else {
            json_object_set_new(s, "hours_above_1000",
                                hourly ? json_integer((json_int_t)hi) : json_null());
            json_object_set_new(s, "hours_above_1500",
                                hourly ? json_integer((json_int_t)hi2) : json_null());
            json_object_set_new(o, "co2", s);
            if (reliable && hourly) {
                summary_vars_set(c->vars, "co2_hours_above_1000", hi);
                summary_vars_set(c->vars, "co2_hours_above_1500", hi2);
            }
        }
    }
    json_object_set_new(doc, "comfort", o ? o : json_null());
    return 0;
}

/* The lowest hourly electricity of the nights (01:00-05:00 local) covered
 * by readings, in W, and what it costs over a year. */
static int base_load(struct summary_ctx *c, json_t *doc)
{
    struct summary_engine *e = c->e;
    size_t hours = (size_t)((c->b - c->a) / 3600);
    double kwh[SUMMARY_PERIOD_HOURS_MAX] = {0};
    bool cov_all[SUMMARY_PERIOD_HOURS_MAX];
    bool any = false;
    json_object_set_new(doc, "base_load", json_null());
    if (hours > SUMMARY_PERIOD_HOURS_MAX)
        hours = SUMMARY_PERIOD_HOURS_MAX;
    for (size_t h = 0; h < hours; h++)
        cov_all[h] = true;
    for (uint32_t k = e->dw_first[c->d]; k < e->dw_first[c->d + 1]; k++) {
        uint32_t ch = e->by_dw[k];
        if (e->cfg->channels[ch].quantity != Q_ELECTRICITY)
            continue;
        if (store_channel_id(e->ro, ch) < 0)
            return 0;
        int64_t nh = summary_fetch_hours(e, ch, c->a - SUMMARY_COVER_GAP_H * 3600,
                                         c->b + SUMMARY_COVER_GAP_H * 3600);
        if (nh < 0)
            return (int)nh;
        bool cov[SUMMARY_PERIOD_HOURS_MAX] = {false};
        summary_mark_covered(e, (size_t)nh, c->a, c->a + (int64_t)hours * 3600, cov);
        for (int64_t i = 0; i < nh; i++) {
            int64_t off = (e->hours[i].ts - c->a) / 3600;
            if (e->hours[i].ts >= c->a && off < (int64_t)hours)
                kwh[off] += e->hours[i].sum;
        }
        for (size_t h = 0; h < hours; h++)
            cov_all[h] = cov_all[h] && cov[h];
        any = true;
    }
    if (!any)
        return 0;
    double best = INFINITY;
    size_t nights = 0;
    for (size_t h = 0; h < hours; h++) {
        struct tm tm;
        summary_local_tm(c->a + (int64_t)h * 3600, &tm);
        if (!cov_all[h] || tm.tm_hour < SUMMARY_NIGHT_FROM_H || tm.tm_hour >= SUMMARY_NIGHT_TO_H)
            continue;
        nights++;
        best = fmin(best, kwh[h]);
    }
    if (nights < SUMMARY_NIGHT_HOURS_MIN)
        return 0;
    /* Electric heating runs at night in the heating season: its lowest
     * hour is heating, not appliances left on. */
    if (summary_heating_quantity(c->dw->heating) == Q_ELECTRICITY &&
        summary_vars_get(c->vars, "heating_season") == 1)
        return 0;
    const struct tariff *t = summary_tariff_for(e->cfg, Q_ELECTRICITY, (int32_t)c->dw->building,
                                                summary_ymd_of(c->b - 1));
    double w = best * 1000.0;
    double eur = t ? best * 8760.0 * summary_price_per_unit(t) : NAN;
    json_t *o = json_object();
    json_object_set_new(o, "w", summary_jnum(w, 0));
    json_object_set_new(o, "eur_per_year", summary_jnum(eur, 0));
    json_object_set_new(o, "night_hours", json_integer((json_int_t)nights));
    json_object_set_new(doc, "base_load", o);
    summary_vars_set(c->vars, "base_load_w", w);
    summary_vars_set(c->vars, "base_load_eur_year", eur);
    return 0;
}

/* The tips array of the summary stored for the period before, or NULL. */
static json_t *previous_tips(struct summary_engine *e, const char *dwelling,
                             const struct summary_period *p)
{
    struct summary_period prev;
    json_t *tips = NULL;
    char *body = NULL;
    summary_period_prev(p, &prev);
    /* None stored, or unreadable: every tip may be shown. */
    if (store_read_summary(e->ro, dwelling, prev.id, &body) == 0) {
        json_t *doc = json_loads(body, 0, NULL);
        if (doc) {
            tips = json_incref(json_object_get(doc, "tips"));
            json_decref(doc);
        }
        free(body);
    }
    return tips;
}

int summary_compute(struct summary_engine *e, uint32_t dwelling, const struct summary_period *p,
                    int64_t now_s, json_t **ret)
{
    const struct foyer_config *cfg = e->cfg;
    if (dwelling >= cfg->n_dwellings)
        return -EINVAL;
    struct summary_ctx c = {.e = e,
                            .d = dwelling,
                            .dw = &cfg->dwellings[dwelling],
                            .p = p,
                            .a = p->start_s,
                            .b = p->end_s};
    struct tenancy *ten = NULL;
    size_t n_ten = 0;
    int rc = store_tenancy_read(e->ro, cfg, &ten, &n_ten);
    if (rc == 0)
        rc = clip_tenancy(ten, n_ten, dwelling, &c.a, &c.b, &c.tenancy_start);
    free(ten);
    if (rc < 0)
        return rc;
    c.clipped = c.a != p->start_s || c.b != p->end_s;
    c.hours = (double)(c.b - c.a) / 3600.0;
    c.vars = calloc(1, sizeof(*c.vars));
    json_t *doc = json_object();
    if (!c.vars || !doc) {
        free(c.vars);
        json_decref(doc);
        return -ENOMEM;
    }
    const char *bid = cfg->buildings[c.dw->building].id;
    char key[256];
    (void)summary_key(bid, c.dw->id, p->id, key, sizeof(key));
    json_object_set_new(doc, "schema_version", json_integer(SUMMARY_SCHEMA_VERSION));
    json_object_set_new(doc, "key", json_string(key));
    json_object_set_new(doc, "revision", json_integer(1)); /* the pusher's (summary_revise()) */
    json_object_set_new(doc, "building", json_string(bid));
    json_object_set_new(doc, "dwelling", json_string(c.dw->id));
    json_object_set_new(doc, "surface_m2", summary_jnum(c.dw->surface_m2, 1));
    json_object_set_new(doc, "heating_type", json_string(heating_name(c.dw->heating)));
    json_t *per = json_object();
    json_object_set_new(per, "kind", json_string(kind_word(p->kind)));
    json_object_set_new(per, "id", json_string(p->id));
    json_object_set_new(per, "start", summary_jtime(p->start_s));
    json_object_set_new(per, "end", summary_jtime(p->end_s));
    json_object_set_new(per, "from", summary_jtime(c.a));
    json_object_set_new(per, "to", summary_jtime(c.b));
    json_object_set_new(per, "hours", json_integer((json_int_t)((c.b - c.a) / 3600)));
    json_object_set_new(per, "clipped_to_tenancy", json_boolean(c.clipped));
    json_object_set_new(doc, "period", per);
    json_object_set_new(doc, "generated_at", summary_jtime(now_s));
    json_object_set_new(doc, "lang", json_string(summary_lang_name(e->lang)));

    summary_vars_set(c.vars, "days", c.hours / 24);
    summary_vars_set(c.vars, "periods_per_year", p->kind == SUMMARY_WEEK ? 365.25 / 7 : 12);
    summary_vars_set(c.vars, "surface_m2", c.dw->surface_m2);

    double cov = 0;
    json_t *missing = json_array();
    rc = consumption(&c, doc, missing, &cov);
    json_t *jc = json_object();
    json_object_set_new(jc, "share", summary_jnum(cov, 3));
    json_object_set_new(jc, "reliable", json_boolean(cov >= SUMMARY_COVERAGE_MIN));
    json_object_set_new(jc, "partial", json_boolean(cov < 1.0));
    json_object_set_new(jc, "missing", missing);
    json_object_set_new(doc, "coverage", jc);
    summary_vars_set(c.vars, "coverage", cov);
    if (rc == 0)
        rc = summary_heating(&c, doc);
    if (rc == 0)
        rc = comfort(&c, doc);
    if (rc == 0)
        rc = base_load(&c, doc);
    if (rc == 0)
        rc = summary_building_total(&c, doc);
    if (rc == 0) {
        /* Derived figures the tips use. */
        double heat = summary_vars_get(c.vars, "heating_kwh");
        enum quantity hq = summary_heating_quantity(c.dw->heating);
        char pn[48];
        (void)snprintf(pn, sizeof(pn), "%s_price", quantity_name(hq));
        double hp = summary_vars_get(c.vars, pn);
        summary_vars_set(c.vars, "heating_eur", heat * hp);
        summary_vars_set(c.vars, "heating_price", hp);
        json_t *prev = previous_tips(e, c.dw->id, p);
        json_t *tips = summary_tips_pick(e->lang, e->other, e->n_other, c.vars, prev);
        json_decref(prev);
        if (!tips)
            rc = -ENOMEM;
        else
            json_object_set_new(doc, "tips", tips);
    }
    free(c.vars);
    if (rc < 0) {
        json_decref(doc);
        return rc == -ENOMEM ? rc : -EIO;
    }
    *ret = doc;
    return 0;
}
