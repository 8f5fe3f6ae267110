/*
 * coach_summary.c - the summary engine: the figures of one dwelling's
 * summary (periods and degree-days are coach_period.c), computed from the rollups through a
 * read-only store handle (store_read_rollups(), store_read_summary()) and returned as the JSON
 * document that is pushed (schema in docs/summary.md).
 *
 * Every figure is a lookup in rollup_day (consumption, euros, degree-days,
 * means) or rollup_hour (coverage, comfort hours, night base load); nothing
 * scans raw readings.  Totals per (channel, period) are cached in the
 * engine, because the comparison with similar dwellings needs every
 * dwelling's totals: computing all the dwellings of a building for one
 * period reads each channel's rows once.
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

#include "foyer/timeutil.h"

/* kWh per DJU and the heating season need some cold: below this many
 * degree-days over a period, heating is not normalised. */
#define SUMMARY_DJU_MIN 5.0
/* Night hours (local) of the base load: [1 h, 5 h). */
#define SUMMARY_NIGHT_FROM_H 1
#define SUMMARY_NIGHT_TO_H   5
/* At least this many night hours with data for a base load. */
#define SUMMARY_NIGHT_HOURS_MIN 3
/* Hours in a period at most (a month of 31 days, plus a DST hour). */
#define SUMMARY_PERIOD_HOURS_MAX (31 * 24 + 1)

static const enum quantity energy_q[] = {Q_ELECTRICITY, Q_HEAT, Q_GAS, Q_HOT_WATER, Q_COLD_WATER};
#define N_ENERGY_Q (sizeof(energy_q) / sizeof(energy_q[0]))

/* ---- the engine -------------------------------------------------------- */

/* Totals of one channel over one range, cached. */
struct ctot {
    uint32_t ch;   /* config channel + 1; 0 = empty slot */
    int64_t a, b;  /* [a, b) */
    double amount; /* sum of the period (counters: consumption) */
    double n;      /* readings */
    double coverage;
};

struct hrow {
    int64_t ts;
    double sum;
    int64_t n;
};

struct summary_engine {
    const struct foyer_config *cfg;
    struct store *ro;
    const struct summary_lang *lang;
    enum dju_method dju;
    /* Channels grouped by dwelling: by_dw[dw_first[d] .. dw_first[d+1]). */
    uint32_t *by_dw;
    uint32_t *dw_first;
    /* Building-level channels: by_bld[bld_first[b] .. bld_first[b+1]). */
    uint32_t *by_bld;
    uint32_t *bld_first;
    int32_t *outdoor; /* per building: the outdoor temperature channel, or -1 */
    struct ctot *cache;
    size_t cache_cap, cache_used;
    struct hrow *hours;
    size_t hours_cap;
    /* What hours holds: the hour rows of config channel hours_ch - 1 (0:
     * nothing) in [hours_a, hours_b), hours_n of them.  A range inside it
     * is cut from it rather than read again: comfort() reads its period
     * right after chan_total() read it with the coverage margins. */
    uint32_t hours_ch;
    int64_t hours_a, hours_b;
    size_t hours_n;
    int db_err;
};

/* A counter that is a submeter (a circuit, an appliance) measures part of
 * another counter of the same place: adding it would count twice.  Its
 * gauges (a plug's temperature sensor) still count. */
static bool summarised(const struct channel *c)
{
    return !(c->submeter && c->kind == KIND_COUNTER);
}

static void engine_index(struct summary_engine *e)
{
    const struct foyer_config *cfg = e->cfg;
    size_t nd = cfg->n_dwellings, nb = cfg->n_buildings;
    for (size_t i = 0; i < cfg->n_channels; i++) {
        const struct channel *c = &cfg->channels[i];
        if (!summarised(c))
            continue;
        if (c->dwelling >= 0)
            e->dw_first[c->dwelling + 1]++;
        else if (c->building >= 0)
            e->bld_first[c->building + 1]++;
        if (c->quantity == Q_OUTDOOR_TEMPERATURE && c->building >= 0 && e->outdoor[c->building] < 0)
            e->outdoor[c->building] = (int32_t)i;
    }
    for (size_t d = 0; d < nd; d++)
        e->dw_first[d + 1] += e->dw_first[d];
    for (size_t b = 0; b < nb; b++)
        e->bld_first[b + 1] += e->bld_first[b];
    uint32_t *fill_d = calloc(nd + 1, sizeof(*fill_d));
    uint32_t *fill_b = calloc(nb + 1, sizeof(*fill_b));
    if (!fill_d || !fill_b) {
        free(fill_d);
        free(fill_b);
        e->db_err = -ENOMEM;
        return;
    }
    for (size_t i = 0; i < cfg->n_channels; i++) {
        const struct channel *c = &cfg->channels[i];
        if (!summarised(c))
            continue;
        if (c->dwelling >= 0)
            e->by_dw[e->dw_first[c->dwelling] + fill_d[c->dwelling]++] = (uint32_t)i;
        else if (c->building >= 0)
            e->by_bld[e->bld_first[c->building] + fill_b[c->building]++] = (uint32_t)i;
    }
    free(fill_d);
    free(fill_b);
}

struct summary_engine *summary_engine_new(const struct foyer_config *cfg, struct store *ro,
                                          const struct summary_lang *lang, enum dju_method dju)
{
    struct summary_engine *e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    e->cfg = cfg;
    e->ro = ro;
    e->lang = lang;
    e->dju = dju;
    size_t nc = cfg->n_channels + 1;
    e->by_dw = calloc(nc, sizeof(*e->by_dw));
    e->by_bld = calloc(nc, sizeof(*e->by_bld));
    e->dw_first = calloc(cfg->n_dwellings + 1, sizeof(*e->dw_first));
    e->bld_first = calloc(cfg->n_buildings + 1, sizeof(*e->bld_first));
    e->outdoor = calloc(cfg->n_buildings + 1, sizeof(*e->outdoor));
    e->cache_cap = 4096;
    e->cache = calloc(e->cache_cap, sizeof(*e->cache));
    e->hours_cap = 1024;
    e->hours = calloc(e->hours_cap, sizeof(*e->hours));
    if (!e->by_dw || !e->by_bld || !e->dw_first || !e->bld_first || !e->outdoor || !e->cache ||
        !e->hours)
        goto out_free;
    for (size_t b = 0; b < cfg->n_buildings; b++)
        e->outdoor[b] = -1;
    engine_index(e);
    if (e->db_err)
        goto out_free;
    return e;

out_free:
    summary_engine_free(e);
    return NULL;
}

void summary_engine_free(struct summary_engine *e)
{
    if (!e)
        return;
    free(e->by_dw);
    free(e->by_bld);
    free(e->dw_first);
    free(e->bld_first);
    free(e->outdoor);
    free(e->cache);
    free(e->hours);
    free(e);
}

/* ---- reading the rollups ----------------------------------------------- */

/* A read of the store failed: -ENOMEM stays (out of memory here or in
 * SQLite), anything else is the database's (-EIO). */
static int db_error(int rc)
{
    return rc == -ENOMEM ? rc : -EIO;
}

/* Where fetch_hours() puts the rows. */
struct hours_ctx {
    struct summary_engine *e;
    size_t n; /* rows in e->hours */
};

static int hours_row(void *ctx, const struct store_rollup *r)
{
    struct hours_ctx *x = ctx;
    struct summary_engine *e = x->e;
    if (x->n == e->hours_cap) {
        struct hrow *g = realloc(e->hours, 2 * e->hours_cap * sizeof(*g));
        if (!g)
            return -ENOMEM;
        e->hours = g;
        e->hours_cap *= 2;
    }
    e->hours[x->n++] = (struct hrow){r->ts_s, r->sum, r->n};
    return 0;
}

/* Hour rows of config channel ch in [a, b) into e->hours; returns the
 * count or -errno. */
static int64_t fetch_hours(struct summary_engine *e, uint32_t ch, int64_t a, int64_t b)
{
    if (e->hours_ch == ch + 1 && a >= e->hours_a && b <= e->hours_b) {
        /* Rows are in time order: those of [a, b) are one run of them. */
        size_t i = 0, j = e->hours_n;
        while (i < j && e->hours[i].ts < a)
            i++;
        while (j > i && e->hours[j - 1].ts >= b)
            j--;
        memmove(e->hours, e->hours + i, (j - i) * sizeof(*e->hours));
        e->hours_a = a;
        e->hours_b = b;
        e->hours_n = j - i;
        return (int64_t)e->hours_n;
    }
    struct hours_ctx x = {.e = e};
    e->hours_ch = 0;
    int rc = store_read_rollups(e->ro, STORE_HOUR, ch, a, b, 0, hours_row, &x);
    if (rc < 0)
        return db_error(rc);
    e->hours_ch = ch + 1;
    e->hours_a = a;
    e->hours_b = b;
    e->hours_n = x.n;
    return (int64_t)x.n;
}

/* A channel's day rows over a range, added up (chan_total()). */
struct days_ctx {
    double amount; /* sum of the sums */
    double n;      /* of the readings */
    int days_read; /* days with readings */
};

static int days_row(void *ctx, const struct store_rollup *r)
{
    struct days_ctx *x = ctx;
    x->amount += r->sum;
    x->n += (double)r->n;
    x->days_read += r->n > 0;
    return 0;
}

/* Mark in covered[] (one flag per hour of [a, b)) the hours covered by
 * readings of the rows in e->hours: an hour with a reading, and the hours
 * between two readings at most SUMMARY_COVER_GAP_H hours apart. */
static void mark_covered(const struct summary_engine *e, size_t n, int64_t a, int64_t b,
                         bool *covered)
{
    int64_t prev = INT64_MIN;
    for (size_t i = 0; i < n; i++) {
        if (e->hours[i].n <= 0)
            continue;
        int64_t h = e->hours[i].ts;
        int64_t from =
            prev != INT64_MIN && h - prev <= SUMMARY_COVER_GAP_H * 3600 ? prev + 3600 : h;
        for (int64_t x = from; x <= h; x += 3600)
            if (x >= a && x < b)
                covered[(x - a) / 3600] = true;
        prev = h;
    }
}

/* Totals of a channel over [a, b): consumption or sum of values, readings,
 * and the share of hours covered.  Cached. */
static int chan_total(struct summary_engine *e, uint32_t ch, int64_t a, int64_t b, struct ctot *ret)
{
    uint64_t hk = ((uint64_t)ch * 0x9E3779B97F4A7C15ULL) ^ (uint64_t)a ^ ((uint64_t)b << 7);
    hk ^= hk >> 29;
    size_t mask = e->cache_cap - 1, i = (size_t)hk & mask;
    while (e->cache[i].ch) {
        if (e->cache[i].ch == ch + 1 && e->cache[i].a == a && e->cache[i].b == b) {
            *ret = e->cache[i];
            return 0;
        }
        i = (i + 1) & mask;
    }

    struct ctot t = {.ch = ch + 1, .a = a, .b = b};
    if (store_channel_id(e->ro, ch) >= 0 && b > a) {
        struct days_ctx dx = {0};
        int days = 0;
        int rc = store_read_rollups(e->ro, STORE_DAY, ch, a, b, 0, days_row, &dx);
        if (rc < 0)
            return db_error(rc);
        t.amount = dx.amount;
        t.n = dx.n;
        int days_read = dx.days_read;
        int64_t nh =
            fetch_hours(e, ch, a - SUMMARY_COVER_GAP_H * 3600, b + SUMMARY_COVER_GAP_H * 3600);
        if (nh < 0)
            return (int)nh;
        size_t hours = (size_t)((b - a) / 3600);
        bool any_hour = false;
        for (int64_t k = 0; k < nh; k++)
            any_hour |= e->hours[k].n > 0;
        if (any_hour || t.n == 0) {
            bool cov[SUMMARY_PERIOD_HOURS_MAX] = {false};
            if (hours > sizeof(cov))
                hours = sizeof(cov);
            mark_covered(e, (size_t)nh, a, a + (int64_t)hours * 3600, cov);
            size_t c = 0;
            for (size_t k = 0; k < hours; k++)
                c += cov[k];
            t.coverage = hours ? (double)c / (double)hours : 0;
        } else {
            /* Hourly rollups gone (no consent, past the raw window): the
             * share of days with readings is all we know. */
            for (int64_t d = tu_day_start(a); d < b; d = tu_next_day(d))
                days++;
            t.coverage = days ? (double)days_read / days : 0;
        }
    }
    if ((e->cache_used + 1) * 10 > e->cache_cap * 7) {
        /* Full: start afresh (the periods of one scheduler run fit). */
        memset(e->cache, 0, e->cache_cap * sizeof(*e->cache));
        e->cache_used = 0;
        i = (size_t)hk & mask;
        if (e->cache_cap < (1u << 20)) {
            struct ctot *g = calloc(e->cache_cap * 4, sizeof(*g));
            if (g) {
                free(e->cache);
                e->cache = g;
                e->cache_cap *= 4;
                mask = e->cache_cap - 1;
                i = (size_t)hk & mask;
            }
        }
    }
    while (e->cache[i].ch)
        i = (i + 1) & mask;
    e->cache[i] = t;
    e->cache_used++;
    *ret = t;
    return 0;
}

/* Sum over the channels of dwelling d of quantity q; coverage is the
 * lowest of them.  *ret_has: the dwelling has such a channel. */
static int dw_total(struct summary_engine *e, uint32_t d, enum quantity q, int64_t a, int64_t b,
                    double *ret_amount, double *ret_cov, bool *ret_has)
{
    double amount = 0, cov = 1;
    bool has = false;
    for (uint32_t k = e->dw_first[d]; k < e->dw_first[d + 1]; k++) {
        uint32_t ch = e->by_dw[k];
        if (e->cfg->channels[ch].quantity != q)
            continue;
        struct ctot t;
        int rc = chan_total(e, ch, a, b, &t);
        if (rc < 0)
            return rc;
        amount += t.amount;
        cov = fmin(cov, t.coverage);
        has = true;
    }
    *ret_amount = amount;
    *ret_cov = has ? cov : 0;
    *ret_has = has;
    return 0;
}

static int32_t ymd_of(int64_t ts)
{
    struct tm tm;
    summary_local_tm(ts, &tm);
    return (tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday;
}

/* The tariff of quantity q for building b on local day ymd: the building's
 * own before one for every building. */
static const struct tariff *tariff_for(const struct foyer_config *cfg, enum quantity q, int32_t b,
                                       int32_t ymd)
{
    const struct tariff *best = NULL;
    for (size_t i = 0; i < cfg->n_tariffs; i++) {
        const struct tariff *t = &cfg->tariffs[i];
        if (t->quantity != q || (t->building >= 0 && t->building != b))
            continue;
        if ((t->valid_from_ymd && ymd < t->valid_from_ymd) ||
            (t->valid_to_ymd && ymd > t->valid_to_ymd))
            continue;
        if (!best || (best->building < 0 && t->building >= 0))
            best = t;
    }
    return best;
}

/* Euros per stored unit (kWh or L). */
static double price_per_unit(const struct tariff *t)
{
    return strcmp(t->price_unit, "m3") == 0 ? t->price_eur / 1000.0 : t->price_eur;
}

/* A channel's consumption in euros, day by day (dw_euros()). */
struct euros_ctx {
    const struct foyer_config *cfg;
    enum quantity q;
    int32_t bld;
    double eur; /* so far */
};

static int euros_row(void *ctx, const struct store_rollup *r)
{
    struct euros_ctx *x = ctx;
    const struct tariff *t = tariff_for(x->cfg, x->q, x->bld, ymd_of(r->ts_s));
    if (t)
        x->eur += r->sum * price_per_unit(t);
    return 0;
}

/* Euros of dwelling d's quantity q over [a, b), each day's consumption at
 * that day's tariff, plus the subscription's share of each day.  NaN
 * without any tariff; *ret_complete false when some day had none. */
static int dw_euros(struct summary_engine *e, uint32_t d, enum quantity q, int64_t a, int64_t b,
                    double *ret_eur, bool *ret_complete)
{
    const struct foyer_config *cfg = e->cfg;
    int32_t bld = (int32_t)cfg->dwellings[d].building;
    struct euros_ctx x = {.cfg = cfg, .q = q, .bld = bld};
    bool any = false, complete = true;
    for (uint32_t k = e->dw_first[d]; k < e->dw_first[d + 1]; k++) {
        uint32_t ch = e->by_dw[k];
        if (cfg->channels[ch].quantity != q || store_channel_id(e->ro, ch) < 0)
            continue;
        int rc = store_read_rollups(e->ro, STORE_DAY, ch, a, b, 0, euros_row, &x);
        if (rc < 0)
            return db_error(rc);
    }
    double eur = x.eur;
    for (int64_t day = a; day < b; day = tu_next_day(day)) {
        const struct tariff *t = tariff_for(cfg, q, bld, ymd_of(day));
        if (!t) {
            complete = false;
            continue;
        }
        any = true;
        int64_t ms = tu_month_start(day);
        double month_days = round((double)(tu_next_month(ms) - ms) / 86400.0);
        eur += t->subscription_eur_month / month_days;
    }
    *ret_eur = any ? eur : NAN;
    *ret_complete = any && complete;
    return 0;
}

/* The degree-days of the days with outdoor data (building_dju()). */
struct dju_ctx {
    enum dju_method method;
    double dju; /* so far */
    int with;   /* days with data */
};

static int dju_row(void *ctx, const struct store_rollup *r)
{
    struct dju_ctx *x = ctx;
    if (r->n <= 0 || isnan(r->min))
        return 0;
    x->dju += summary_dju(x->method, r->min, r->max);
    x->with++;
    return 0;
}

/* Degree-days of building b over [a, b): sum of the days with outdoor
 * data; *ret_cov the share of days with data. */
static int building_dju(struct summary_engine *e, int32_t bld, int64_t a, int64_t b,
                        double *ret_dju, double *ret_cov)
{
    *ret_dju = NAN;
    *ret_cov = 0;
    if (bld < 0 || e->outdoor[bld] < 0)
        return 0;
    uint32_t out = (uint32_t)e->outdoor[bld];
    if (store_channel_id(e->ro, out) < 0)
        return 0;
    struct dju_ctx x = {.method = e->dju};
    int days = 0;
    int rc = store_read_rollups(e->ro, STORE_DAY, out, a, b, STORE_READ_MINMAX, dju_row, &x);
    if (rc < 0)
        return db_error(rc);
    double dju = x.dju;
    int with = x.with;
    for (int64_t d = a; d < b; d = tu_next_day(d))
        days++;
    if (with > 0) {
        *ret_cov = days ? (double)with / days : 0;
        /* Days without data count as the mean of the others. */
        *ret_dju = dju * days / with;
    }
    return 0;
}

/* ---- the document ------------------------------------------------------ */

static double round_to(double x, int decimals)
{
    double f = pow(10, decimals);
    return round(x * f) / f;
}

static json_t *jnum(double x, int decimals)
{
    return isfinite(x) ? json_real(round_to(x, decimals)) : json_null();
}

static json_t *jtime(int64_t ts)
{
    char buf[40];
    return json_string(tu_format_local(ts, buf, sizeof(buf)));
}

static const char *kind_word(enum summary_kind k)
{
    return k == SUMMARY_WEEK ? "week" : "month";
}

static enum quantity heating_quantity(enum heating h)
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
 * [a, b).  -ENOENT when the dwelling has tenancies and none meets it. */
static int clip_tenancy(const struct foyer_config *cfg, uint32_t d, int64_t *a, int64_t *b,
                        int64_t *ret_tenancy_start)
{
    const struct tenancy *best = NULL;
    bool any = false;
    int64_t best_s = 0, best_e = 0;
    for (size_t i = 0; i < cfg->n_tenancies; i++) {
        const struct tenancy *t = &cfg->tenancies[i];
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

static double pct_change(double cur, double ref)
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

struct ctx {
    struct summary_engine *e;
    uint32_t d;
    const struct dwelling *dw;
    const struct summary_period *p;
    int64_t a, b;          /* the clipped period */
    int64_t tenancy_start; /* INT64_MIN: no tenancy configured */
    bool clipped;
    double hours; /* of the clipped period */
    struct summary_vars *vars;
};

/* The household's per-m² position among similar dwellings (same building,
 * same heating, data over SUMMARY_COVERAGE_MIN), or null. */
static int comparison(struct ctx *c, enum quantity q, double amount, json_t **ret)
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
        int rc = dw_total(e, o, q, c->p->start_s, c->p->end_s, &amt, &cov, &has);
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
        json_object_set_new(o, "per_m2", jnum(mine, 3));
        json_object_set_new(o, "median_per_m2", jnum(med, 3));
        json_object_set_new(o, "best_quarter_per_m2", jnum(best, 3));
        json_object_set_new(o, "vs_median_pct", jnum(pct_change(mine, med), 1));
        json_object_set_new(o, "position", json_string(pos));
        *ret = o;
        char name[40];
        const char *qn = quantity_name(q);
        (void)snprintf(name, sizeof(name), "%s_per_m2", qn);
        summary_vars_set(c->vars, name, mine);
        (void)snprintf(name, sizeof(name), "%s_vs_median_pct", qn);
        summary_vars_set(c->vars, name, pct_change(mine, med));
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
static int reference(struct ctx *c, enum quantity q, const struct summary_period *ref,
                     double amount, double cov, const char *var, json_t **ret)
{
    double ramt, rcov;
    bool has;
    *ret = json_null();
    if (c->clipped || ref->start_s < c->tenancy_start || cov < SUMMARY_COVERAGE_MIN)
        return 0;
    int rc = dw_total(c->e, c->d, q, ref->start_s, ref->end_s, &ramt, &rcov, &has);
    if (rc < 0 || !has || rcov < SUMMARY_COVERAGE_MIN)
        return rc;
    double rhours = (double)(ref->end_s - ref->start_s) / 3600.0;
    double change = pct_change(amount / c->hours, ramt / rhours);
    json_t *o = json_object();
    json_object_set_new(o, "period", json_string(ref->id));
    json_object_set_new(o, "amount", jnum(ramt, 3));
    json_object_set_new(o, "change_pct", jnum(change, 1));
    *ret = o;
    char name[48];
    (void)snprintf(name, sizeof(name), "%s_%s", quantity_name(q), var);
    summary_vars_set(c->vars, name, change);
    return 0;
}

static int consumption(struct ctx *c, json_t *doc, double *ret_cov_min)
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
        rc = dw_total(c->e, c->d, q, c->a, c->b, &amount, &cov, &has);
        if (rc < 0 || !has)
            continue;
        rc = dw_euros(c->e, c->d, q, c->a, c->b, &eur, &eur_complete);
        if (rc < 0)
            break;
        bool reliable = cov >= SUMMARY_COVERAGE_MIN;
        cov_min = isnan(cov_min) ? cov : fmin(cov_min, cov);
        const struct tariff *t =
            tariff_for(c->e->cfg, q, (int32_t)c->dw->building, ymd_of(c->b - 1));
        json_t *o = json_object();
        json_object_set_new(o, "quantity", json_string(qn));
        json_object_set_new(o, "unit", json_string(quantity_unit(q)));
        json_object_set_new(o, "amount", jnum(amount, 3));
        json_object_set_new(o, "coverage", jnum(cov, 3));
        json_object_set_new(o, "reliable", json_boolean(reliable));
        json_object_set_new(o, "eur", jnum(eur, 2));
        json_object_set_new(o, "eur_complete", json_boolean(eur_complete));
        json_object_set_new(o, "price_eur_per_unit", t ? jnum(price_per_unit(t), 6) : json_null());
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
            summary_vars_set(c->vars, name, price_per_unit(t));
        }
    }
    *ret_cov_min = isnan(cov_min) ? 0 : cov_min;
    return rc;
}

/* kWh of the heating energy per degree-day, this period, the previous one
 * and last year's. */
static int heating(struct ctx *c, json_t *doc)
{
    struct summary_engine *e = c->e;
    enum quantity q = heating_quantity(c->dw->heating);
    int32_t bld = (int32_t)c->dw->building;
    double dju, dcov, kwh, cov;
    bool has;
    int rc = building_dju(e, bld, c->a, c->b, &dju, &dcov);
    if (rc < 0)
        return rc;
    if (isfinite(dju) && dcov >= SUMMARY_COVERAGE_MIN)
        summary_vars_set(c->vars, "dju", dju);
    /* The heating season: some cold; without an outdoor sensor, October
     * to April. */
    struct tm tm;
    summary_local_tm(c->p->start_s, &tm);
    bool season = isfinite(dju) && dcov >= SUMMARY_COVERAGE_MIN ? dju / (c->hours / 24) >= 1.0
                                                                : tm.tm_mon >= 9 || tm.tm_mon <= 3;
    summary_vars_set(c->vars, "heating_season", season ? 1 : 0);
    rc = dw_total(e, c->d, q, c->a, c->b, &kwh, &cov, &has);
    if (rc < 0)
        return rc;
    if (!has || !isfinite(dju)) {
        json_object_set_new(doc, "heating", json_null());
        return 0;
    }
    bool ok = cov >= SUMMARY_COVERAGE_MIN && dcov >= SUMMARY_COVERAGE_MIN && dju >= SUMMARY_DJU_MIN;
    double per = ok ? kwh / dju : NAN;
    json_t *o = json_object();
    json_object_set_new(o, "quantity", json_string(quantity_name(q)));
    json_object_set_new(o, "dju", jnum(dju, 1));
    json_object_set_new(o, "dju_method",
                        json_string(e->dju == DJU_COSTIC ? "costic" : "meteo_france"));
    json_object_set_new(o, "dju_coverage", jnum(dcov, 3));
    json_object_set_new(o, "kwh", jnum(kwh, 3));
    json_object_set_new(o, "kwh_per_dju", jnum(per, 3));
    summary_vars_set(c->vars, "heating_kwh_per_dju", per);
    if (cov >= SUMMARY_COVERAGE_MIN)
        summary_vars_set(c->vars, "heating_kwh", kwh);
    struct summary_period refs[2];
    const char *names[2] = {"previous", "last_year"};
    bool have[2] = {true, summary_period_last_year(c->p, &refs[1])};
    summary_period_prev(c->p, &refs[0]);
    for (int i = 0; i < 2; i++) {
        json_t *r = json_null();
        if (have[i] && ok && !c->clipped && refs[i].start_s >= c->tenancy_start) {
            double rd, rdc, rk, rc2;
            bool rh;
            rc = building_dju(e, bld, refs[i].start_s, refs[i].end_s, &rd, &rdc);
            if (rc == 0)
                rc = dw_total(e, c->d, q, refs[i].start_s, refs[i].end_s, &rk, &rc2, &rh);
            if (rc < 0) {
                json_decref(o);
                return rc;
            }
            if (rh && rc2 >= SUMMARY_COVERAGE_MIN && rdc >= SUMMARY_COVERAGE_MIN &&
                rd >= SUMMARY_DJU_MIN) {
                double rper = rk / rd;
                r = json_object();
                json_object_set_new(r, "period", json_string(refs[i].id));
                json_object_set_new(r, "kwh_per_dju", jnum(rper, 3));
                json_object_set_new(r, "change_pct", jnum(pct_change(per, rper), 1));
                summary_vars_set(c->vars,
                                 i == 0 ? "heating_per_dju_change_prev_pct"
                                        : "heating_per_dju_change_year_pct",
                                 pct_change(per, rper));
            }
        }
        json_object_set_new(o, names[i], r);
    }
    json_object_set_new(doc, "heating", o);
    return 0;
}

/* Mean indoor temperature and humidity, hours too cold, too warm, damp,
 * stuffy: from the hourly means of the dwelling's first sensor of each. */
static int comfort(struct ctx *c, json_t *doc)
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
        struct ctot t;
        int rc = chan_total(e, (uint32_t)ch, c->a, c->b, &t);
        if (rc < 0)
            return rc;
        int64_t nh = fetch_hours(e, (uint32_t)ch, c->a, c->b);
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
        json_object_set_new(s, "mean", jnum(mean, 1));
        json_object_set_new(s, "coverage", jnum(t.coverage, 3));
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
static int base_load(struct ctx *c, json_t *doc)
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
        int64_t nh = fetch_hours(e, ch, c->a - SUMMARY_COVER_GAP_H * 3600,
                                 c->b + SUMMARY_COVER_GAP_H * 3600);
        if (nh < 0)
            return (int)nh;
        bool cov[SUMMARY_PERIOD_HOURS_MAX] = {false};
        mark_covered(e, (size_t)nh, c->a, c->a + (int64_t)hours * 3600, cov);
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
    if (heating_quantity(c->dw->heating) == Q_ELECTRICITY &&
        summary_vars_get(c->vars, "heating_season") == 1)
        return 0;
    const struct tariff *t =
        tariff_for(e->cfg, Q_ELECTRICITY, (int32_t)c->dw->building, ymd_of(c->b - 1));
    double w = best * 1000.0;
    double eur = t ? best * 8760.0 * price_per_unit(t) : NAN;
    json_t *o = json_object();
    json_object_set_new(o, "w", jnum(w, 0));
    json_object_set_new(o, "eur_per_year", jnum(eur, 0));
    json_object_set_new(o, "night_hours", json_integer((json_int_t)nights));
    json_object_set_new(doc, "base_load", o);
    summary_vars_set(c->vars, "base_load_w", w);
    summary_vars_set(c->vars, "base_load_eur_year", eur);
    return 0;
}

/* The building's energy (every dwelling and common channel with data in
 * both years) against the same period last year, per degree-day when both
 * had some cold.  Anonymous: shown only with enough dwellings. */
static int building_total(struct ctx *c, json_t *doc)
{
    struct summary_engine *e = c->e;
    const struct foyer_config *cfg = e->cfg;
    uint32_t bld = c->dw->building;
    struct summary_period ly;
    json_object_set_new(doc, "building_total", json_null());
    if (!summary_period_last_year(c->p, &ly))
        return 0;
    double kwh = 0, ly_kwh = 0;
    size_t dwellings = 0;
    for (uint32_t d = 0; d <= cfg->n_dwellings; d++) {
        bool is_dw = d < cfg->n_dwellings;
        if (is_dw && cfg->dwellings[d].building != bld)
            continue;
        const uint32_t *list = is_dw ? e->by_dw + e->dw_first[d] : e->by_bld + e->bld_first[bld];
        uint32_t n =
            is_dw ? e->dw_first[d + 1] - e->dw_first[d] : e->bld_first[bld + 1] - e->bld_first[bld];
        bool counted = false;
        for (uint32_t k = 0; k < n; k++) {
            enum quantity q = cfg->channels[list[k]].quantity;
            if (q != Q_ELECTRICITY && q != Q_HEAT && q != Q_GAS)
                continue;
            struct ctot t1, t2;
            int rc = chan_total(e, list[k], c->p->start_s, c->p->end_s, &t1);
            if (rc == 0)
                rc = chan_total(e, list[k], ly.start_s, ly.end_s, &t2);
            if (rc < 0)
                return rc;
            if (t1.coverage < SUMMARY_COVERAGE_MIN || t2.coverage < SUMMARY_COVERAGE_MIN)
                continue;
            kwh += t1.amount;
            ly_kwh += t2.amount;
            counted = true;
        }
        dwellings += is_dw && counted;
    }
    if (dwellings < SUMMARY_PEERS_MIN + 1 || ly_kwh <= 0)
        return 0;
    double dju, dcov, ly_dju, ly_dcov;
    int rc = building_dju(e, (int32_t)bld, c->p->start_s, c->p->end_s, &dju, &dcov);
    if (rc == 0)
        rc = building_dju(e, (int32_t)bld, ly.start_s, ly.end_s, &ly_dju, &ly_dcov);
    if (rc < 0)
        return rc;
    bool norm = isfinite(dju) && isfinite(ly_dju) && dcov >= SUMMARY_COVERAGE_MIN &&
                ly_dcov >= SUMMARY_COVERAGE_MIN && dju >= SUMMARY_DJU_MIN &&
                ly_dju >= SUMMARY_DJU_MIN;
    double change = norm ? pct_change(kwh / dju, ly_kwh / ly_dju) : pct_change(kwh, ly_kwh);
    json_t *o = json_object();
    json_object_set_new(o, "dwellings", json_integer((json_int_t)dwellings));
    json_object_set_new(o, "kwh", jnum(kwh, 1));
    json_object_set_new(o, "last_year_period", json_string(ly.id));
    json_object_set_new(o, "last_year_kwh", jnum(ly_kwh, 1));
    json_object_set_new(o, "normalised_by_dju", json_boolean(norm));
    json_object_set_new(o, "change_pct", jnum(change, 1));
    json_object_set_new(doc, "building_total", o);
    summary_vars_set(c->vars, "building_change_pct", change);
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
    struct ctx c = {.e = e,
                    .d = dwelling,
                    .dw = &cfg->dwellings[dwelling],
                    .p = p,
                    .a = p->start_s,
                    .b = p->end_s};
    int rc = clip_tenancy(cfg, dwelling, &c.a, &c.b, &c.tenancy_start);
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
    json_object_set_new(doc, "surface_m2", jnum(c.dw->surface_m2, 1));
    json_object_set_new(doc, "heating_type", json_string(heating_name(c.dw->heating)));
    json_t *per = json_object();
    json_object_set_new(per, "kind", json_string(kind_word(p->kind)));
    json_object_set_new(per, "id", json_string(p->id));
    json_object_set_new(per, "start", jtime(p->start_s));
    json_object_set_new(per, "end", jtime(p->end_s));
    json_object_set_new(per, "from", jtime(c.a));
    json_object_set_new(per, "to", jtime(c.b));
    json_object_set_new(per, "hours", json_integer((json_int_t)((c.b - c.a) / 3600)));
    json_object_set_new(per, "clipped_to_tenancy", json_boolean(c.clipped));
    json_object_set_new(doc, "period", per);
    json_object_set_new(doc, "generated_at", jtime(now_s));
    json_object_set_new(doc, "lang", json_string(summary_lang_name(e->lang)));

    summary_vars_set(c.vars, "days", c.hours / 24);
    summary_vars_set(c.vars, "periods_per_year", p->kind == SUMMARY_WEEK ? 365.25 / 7 : 12);
    summary_vars_set(c.vars, "surface_m2", c.dw->surface_m2);

    double cov = 0;
    rc = consumption(&c, doc, &cov);
    json_t *jc = json_object();
    json_object_set_new(jc, "share", jnum(cov, 3));
    json_object_set_new(jc, "reliable", json_boolean(cov >= SUMMARY_COVERAGE_MIN));
    json_object_set_new(jc, "partial", json_boolean(cov < 1.0));
    json_object_set_new(doc, "coverage", jc);
    summary_vars_set(c.vars, "coverage", cov);
    if (rc == 0)
        rc = heating(&c, doc);
    if (rc == 0)
        rc = comfort(&c, doc);
    if (rc == 0)
        rc = base_load(&c, doc);
    if (rc == 0)
        rc = building_total(&c, doc);
    if (rc == 0) {
        /* Derived figures the tips use. */
        double heat = summary_vars_get(c.vars, "heating_kwh");
        enum quantity hq = heating_quantity(c.dw->heating);
        char pn[48];
        (void)snprintf(pn, sizeof(pn), "%s_price", quantity_name(hq));
        double hp = summary_vars_get(c.vars, pn);
        summary_vars_set(c.vars, "heating_eur", heat * hp);
        summary_vars_set(c.vars, "heating_price", hp);
        json_t *prev = previous_tips(e, c.dw->id, p);
        json_t *tips = summary_tips_pick(e->lang, c.vars, prev);
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
