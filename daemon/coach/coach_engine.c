/*
 * coach_engine.c - the summary engine's reading side: the channels of each
 * dwelling and building indexed at creation, and every figure a summary
 * needs read from the rollups through the engine's read-only store handle
 * (store_read_rollups(), store_read_channel_status()): a channel's totals
 * and coverage over a range, a dwelling's per quantity, euros at each day's
 * tariff, a building's degree-days, and whether the data has closed a
 * period.
 *
 * Every figure is a lookup in rollup_day (consumption, euros, degree-days,
 * means) or rollup_hour (coverage, comfort hours, night base load); nothing
 * scans raw readings.  Totals per (channel, period) are cached in the
 * engine, because the comparison with similar dwellings needs every
 * dwelling's totals: computing all the dwellings of a building for one
 * period reads each channel's rows once.  The document is coach_summary.c.
 */
#include "coach_int.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "foyer/timeutil.h"

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
    e->bt = calloc(cfg->n_buildings + 1, sizeof(*e->bt));
    e->bld_last = calloc(cfg->n_buildings + 1, sizeof(*e->bld_last));
    e->bld_last_known = calloc(cfg->n_buildings + 1, sizeof(*e->bld_last_known));
    e->cache_cap = 4096;
    e->cache = calloc(e->cache_cap, sizeof(*e->cache));
    e->hours_cap = 1024;
    e->hours = calloc(e->hours_cap, sizeof(*e->hours));
    if (!e->by_dw || !e->by_bld || !e->dw_first || !e->bld_first || !e->outdoor || !e->cache ||
        !e->hours || !e->bt || !e->bld_last || !e->bld_last_known)
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

int summary_engine_add_lang(struct summary_engine *e, const struct summary_lang *lang)
{
    const char *name = summary_lang_name(lang);
    if (strcmp(name, summary_lang_name(e->lang)) == 0)
        return -EEXIST;
    for (size_t i = 0; i < e->n_other; i++)
        if (strcmp(name, summary_lang_name(e->other[i])) == 0)
            return -EEXIST;
    if (e->n_other == FOYER_SUMMARY_TEXT_LANGS_MAX)
        return -E2BIG;
    e->other[e->n_other++] = lang;
    return 0;
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
    for (size_t b = 0; e->bt && b < e->cfg->n_buildings; b++)
        json_decref(e->bt[b].obj);
    free(e->bt);
    free(e->bld_last);
    free(e->bld_last_known);
    free(e->cache);
    free(e->hours);
    free(e);
}

/* ---- reading the rollups ----------------------------------------------- */

/* A read of the store failed: -ENOMEM stays (out of memory here or in
 * SQLite), anything else is the database's (-EIO). */
int summary_db_error(int rc)
{
    return rc == -ENOMEM ? rc : -EIO;
}

/* Where summary_fetch_hours() puts the rows. */
struct hours_ctx {
    struct summary_engine *e;
    size_t n; /* rows in e->hours */
};

static int hours_row(void *ctx, const struct store_rollup *r)
{
    struct hours_ctx *x = ctx;
    struct summary_engine *e = x->e;
    if (x->n == e->hours_cap) {
        struct summary_hrow *g = realloc(e->hours, 2 * e->hours_cap * sizeof(*g));
        if (!g)
            return -ENOMEM;
        e->hours = g;
        e->hours_cap *= 2;
    }
    e->hours[x->n++] = (struct summary_hrow){r->ts_s, r->sum, r->n};
    return 0;
}

/* Hour rows of config channel ch in [a, b) into e->hours; returns the
 * count or -errno. */
int64_t summary_fetch_hours(struct summary_engine *e, uint32_t ch, int64_t a, int64_t b)
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
        return summary_db_error(rc);
    e->hours_ch = ch + 1;
    e->hours_a = a;
    e->hours_b = b;
    e->hours_n = x.n;
    return (int64_t)x.n;
}

/* A channel's day rows over a range, added up (summary_chan_total()). */
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
void summary_mark_covered(const struct summary_engine *e, size_t n, int64_t a, int64_t b,
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
int summary_chan_total(struct summary_engine *e, uint32_t ch, int64_t a, int64_t b,
                       struct summary_ctot *ret)
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

    struct summary_ctot t = {.ch = ch + 1, .a = a, .b = b};
    if (store_channel_id(e->ro, ch) >= 0 && b > a) {
        struct days_ctx dx = {0};
        int days = 0;
        int rc = store_read_rollups(e->ro, STORE_DAY, ch, a, b, 0, days_row, &dx);
        if (rc < 0)
            return summary_db_error(rc);
        t.amount = dx.amount;
        t.n = dx.n;
        int days_read = dx.days_read;
        int64_t nh = summary_fetch_hours(e, ch, a - SUMMARY_COVER_GAP_H * 3600,
                                         b + SUMMARY_COVER_GAP_H * 3600);
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
            summary_mark_covered(e, (size_t)nh, a, a + (int64_t)hours * 3600, cov);
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
            struct summary_ctot *g = calloc(e->cache_cap * 4, sizeof(*g));
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
 * lowest of them.  A channel without a single reading in [a, b) (a sensor
 * just installed, a meter that died before the period) is left out: it
 * neither adds nor zeroes the coverage of the others; its ID is appended to
 * missing (when not NULL).  *ret_has: some channel of q has data. */
int summary_dw_total(struct summary_engine *e, uint32_t d, enum quantity q, int64_t a, int64_t b,
                     double *ret_amount, double *ret_cov, bool *ret_has, json_t *missing)
{
    double amount = 0, cov = 1;
    bool has = false;
    for (uint32_t k = e->dw_first[d]; k < e->dw_first[d + 1]; k++) {
        uint32_t ch = e->by_dw[k];
        if (e->cfg->channels[ch].quantity != q)
            continue;
        struct summary_ctot t;
        int rc = summary_chan_total(e, ch, a, b, &t);
        if (rc < 0)
            return rc;
        if (t.n <= 0 && t.coverage <= 0 && t.amount == 0) {
            if (missing)
                json_array_append_new(missing, json_string(e->cfg->channels[ch].id));
            continue;
        }
        amount += t.amount;
        cov = fmin(cov, t.coverage);
        has = true;
    }
    *ret_amount = amount;
    *ret_cov = has ? cov : 0;
    *ret_has = has;
    return 0;
}

int32_t summary_ymd_of(int64_t ts)
{
    struct tm tm;
    summary_local_tm(ts, &tm);
    return (tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday;
}

/* The tariff of quantity q for building b on local day ymd: the building's
 * own before one for every building. */
const struct tariff *summary_tariff_for(const struct foyer_config *cfg, enum quantity q, int32_t b,
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
double summary_price_per_unit(const struct tariff *t)
{
    return strcmp(t->price_unit, "m3") == 0 ? t->price_eur / 1000.0 : t->price_eur;
}

/* A channel's consumption in euros, day by day (summary_dw_euros()). */
struct euros_ctx {
    const struct foyer_config *cfg;
    enum quantity q;
    int32_t bld;
    double eur; /* so far */
};

static int euros_row(void *ctx, const struct store_rollup *r)
{
    struct euros_ctx *x = ctx;
    const struct tariff *t = summary_tariff_for(x->cfg, x->q, x->bld, summary_ymd_of(r->ts_s));
    if (t)
        x->eur += r->sum * summary_price_per_unit(t);
    return 0;
}

/* Euros of dwelling d's quantity q over [a, b), each day's consumption at
 * that day's tariff, plus the subscription's share of each day.  NaN
 * without any tariff; *ret_complete false when some day had none. */
int summary_dw_euros(struct summary_engine *e, uint32_t d, enum quantity q, int64_t a, int64_t b,
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
            return summary_db_error(rc);
    }
    double eur = x.eur;
    for (int64_t day = a; day < b; day = tu_next_day(day)) {
        const struct tariff *t = summary_tariff_for(cfg, q, bld, summary_ymd_of(day));
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

/* The degree-days of the days with outdoor data (summary_building_dju()). */
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
int summary_building_dju(struct summary_engine *e, int32_t bld, int64_t a, int64_t b,
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
        return summary_db_error(rc);
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

int summary_closed_by_data(struct summary_engine *e, uint32_t dwelling,
                           const struct summary_period *p, bool *ret_closed)
{
    const struct foyer_config *cfg = e->cfg;
    if (dwelling >= cfg->n_dwellings)
        return -EINVAL;
    uint32_t bld = cfg->dwellings[dwelling].building;
    /* The dwelling's own channels first (submeters too: any reading says
     * the gateway got past the end). */
    for (size_t i = 0; i < cfg->n_channels; i++) {
        if (cfg->channels[i].dwelling != (int32_t)dwelling)
            continue;
        struct store_channel_status st;
        int rc = store_read_channel_status(e->ro, (uint32_t)i, &st);
        if (rc < 0)
            return summary_db_error(rc);
        if (st.has_last && st.last_ts_s >= p->end_s) {
            *ret_closed = true;
            return 0;
        }
    }
    /* Then the newest reading of the building's, once per engine: the
     * scheduler asks for every dwelling. */
    if (!e->bld_last_known[bld]) {
        int64_t last = INT64_MIN;
        for (size_t i = 0; i < cfg->n_channels; i++) {
            if (cfg->channels[i].building != (int32_t)bld)
                continue;
            struct store_channel_status st;
            int rc = store_read_channel_status(e->ro, (uint32_t)i, &st);
            if (rc < 0)
                return summary_db_error(rc);
            if (st.has_last && st.last_ts_s > last)
                last = st.last_ts_s;
        }
        e->bld_last[bld] = last;
        e->bld_last_known[bld] = true;
    }
    *ret_closed =
        e->bld_last[bld] != INT64_MIN && e->bld_last[bld] >= p->end_s + SUMMARY_CLOSED_SILENT_S;
    return 0;
}
