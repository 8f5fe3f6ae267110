/*
 * coach_signature.c - the energy signature of a dwelling (or of a whole
 * building): its daily energy against the day's degree-days, fitted over
 * its own recent history, and the weather-corrected comparison of a period
 * with what that signature predicts for the period's weather.
 *
 * The model is the standard PRISM-style one with the change-point fixed at
 * the base temperature of the degree-days (18 °C):
 *
 *     kWh(day) = base + slope * DJU(day) + noise
 *
 * base is what the household uses whatever the weather (appliances, hot
 * water, cooking on a meter that also heats), slope the heating per
 * degree-day.  The fit is ordinary least squares over the days of the
 * window that have both the energy and the outdoor temperature; its
 * goodness (R², the slope's t) and the residual spread decide whether it
 * may speak at all, and the spread gives the standard error of every
 * comparison made with it.
 *
 * Also the two sections of a summary that rest on it: heating
 * (summary_heating()) and the building's shared figure
 * (summary_building_total(), computed once per building and period).
 *
 * Data in: day rollups (store_read_rollups(), STORE_DAY) of the energy
 * channels and of the building's outdoor channel, through the summary
 * engine's read-only handle.  A dwelling's signature is refitted from the
 * store at every summary (the building's once per engine and period), so
 * history imported late counts.
 * Thresholds and why are in coach_int.h and docs/summary.md.
 */
#include "coach_int.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "foyer/store_erase.h"
#include "foyer/timeutil.h"

/* Days in a window at most: a year and the DST days' slack. */
#define SIG_DAYS_CAP (SUMMARY_SIG_WINDOW_DAYS + 4)

void summary_signature_ols(const double *x, const double *y, size_t n,
                           struct summary_signature *ret)
{
    struct summary_signature s = {.days = (int)n, .valid = false, .why = "history"};
    double sx = 0, sy = 0;
    for (size_t i = 0; i < n; i++) {
        sx += x[i];
        sy += y[i];
    }
    s.dju_sum = sx;
    if (n < 3) {
        *ret = s;
        return;
    }
    double mx = sx / (double)n, my = sy / (double)n, sxx = 0, sxy = 0, syy = 0;
    for (size_t i = 0; i < n; i++) {
        double dx = x[i] - mx, dy = y[i] - my;
        sxx += dx * dx;
        sxy += dx * dy;
        syy += dy * dy;
    }
    s.mean_dju = mx;
    s.mean_kwh = my;
    s.sxx = sxx;
    if (sxx <= 0) {
        *ret = s;
        return;
    }
    s.slope = sxy / sxx;
    s.base = my - s.slope * mx;
    double rss = fmax(0, syy - s.slope * sxy);
    s.sigma = sqrt(rss / (double)(n - 2));
    s.r2 = syy > 0 ? 1 - rss / syy : 0;
    s.se_slope = s.sigma / sqrt(sxx);
    s.se_base = s.sigma * sqrt(1.0 / (double)n + mx * mx / sxx);
    s.t_slope = s.se_slope > 0 ? s.slope / s.se_slope : (s.slope > 0 ? INFINITY : 0);

    if (s.days < SUMMARY_SIG_DAYS_MIN || s.dju_sum < SUMMARY_SIG_DJU_MIN)
        s.why = "history";
    else if (s.r2 < SUMMARY_SIG_R2_MIN || s.t_slope < SUMMARY_SIG_T_MIN || s.base < -2 * s.se_base)
        s.why = "fit";
    else {
        s.why = NULL;
        s.valid = true;
    }
    *ret = s;
}

int summary_signature_compare(const struct summary_signature *s, double days, double dju,
                              double kwh, struct summary_sig_compare *ret)
{
    struct summary_sig_compare c = {.expected_heating_kwh = NAN,
                                    .heating_kwh = NAN,
                                    .change_pct = NAN,
                                    .se_pct = NAN,
                                    .why = NULL};
    if (!s->valid) {
        c.why = s->why;
        *ret = c;
        return -EDOM;
    }
    c.heating_kwh = kwh - s->base * days;
    c.expected_heating_kwh = s->slope * dju;
    if (!(days > 0) || dju / days < SUMMARY_SIG_PERIOD_DJU_DAY_MIN) {
        /* Little cold: the heating is small beside the rest, any ratio of
         * it would be noise. */
        c.why = "mild";
        *ret = c;
        return -EDOM;
    }
    /* The period's total against the prediction base * days + slope * dju:
     * the residuals of its days, and the uncertainty of the prediction
     * itself (ȳ and the slope are uncorrelated). */
    double n = (double)s->days;
    double dev = dju - days * s->mean_dju;
    double var_pred = s->sigma * s->sigma * (days * days / n + dev * dev / s->sxx);
    double se_kwh = sqrt(days * s->sigma * s->sigma + var_pred);
    c.change_pct = (c.heating_kwh - c.expected_heating_kwh) / c.expected_heating_kwh * 100.0;
    c.se_pct = se_kwh / c.expected_heating_kwh * 100.0;
    if (c.se_pct > SUMMARY_SIG_SE_MAX_PCT) {
        c.why = "uncertain";
        *ret = c;
        return -EDOM;
    }
    double band = fmax(SUMMARY_SIG_SAME_PCT, 2 * c.se_pct);
    c.verdict = fabs(c.change_pct) < band ? SUMMARY_SAME
                : c.change_pct < 0        ? SUMMARY_LESS
                                          : SUMMARY_MORE;
    *ret = c;
    return 0;
}

/* One day of the window: the energy of the channels that read that day,
 * and the degree-days. */
struct sig_day {
    int64_t ts;
    double kwh;
    double dju;
    int chans; /* channels with readings that day */
    int rows;  /* channels with a row that day (readings, or use spread over a gap) */
    bool outdoor;
};

struct sig_read {
    struct sig_day *days;
    size_t n;
    enum dju_method method;
    bool any; /* the channel being read has a reading in the window */
};

static struct sig_day *sig_find(struct sig_read *r, int64_t ts)
{
    size_t lo = 0, hi = r->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (r->days[mid].ts < ts)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < r->n && r->days[lo].ts == ts ? &r->days[lo] : NULL;
}

static int sig_energy_row(void *ctx, const struct store_rollup *row)
{
    struct sig_read *r = ctx;
    struct sig_day *d = sig_find(r, row->ts_s);
    if (!d)
        return 0;
    /* Consumption spread over a gap still belongs to the day. */
    d->kwh += row->sum;
    d->rows++;
    if (row->n > 0) {
        d->chans++;
        r->any = true;
    }
    return 0;
}

static int sig_outdoor_row(void *ctx, const struct store_rollup *row)
{
    struct sig_read *r = ctx;
    struct sig_day *d = sig_find(r, row->ts_s);
    if (d && row->n > 0 && !isnan(row->min) && !isnan(row->max)) {
        d->dju = summary_dju(r->method, row->min, row->max);
        d->outdoor = true;
    }
    return 0;
}

int summary_signature_read(struct store *ro, int32_t outdoor, enum dju_method m,
                           const uint32_t *chs, size_t n_chs, const char *fold_building,
                           uint32_t fold_mask, double min_share, int64_t a, int64_t b,
                           struct summary_signature *ret)
{
    struct sig_day days[SIG_DAYS_CAP];
    double x[SIG_DAYS_CAP], y[SIG_DAYS_CAP];
    struct sig_read r = {.days = days, .method = m};
    struct summary_signature none = {.valid = false, .why = "history"};
    if (outdoor < 0 || store_channel_id(ro, (uint32_t)outdoor) < 0 || b <= a) {
        *ret = none;
        return 0;
    }
    for (int64_t d = tu_day_start(a); d < b && r.n < SIG_DAYS_CAP; d = tu_next_day(d)) {
        if (d < a)
            continue; /* the window starts inside a day: that day is not whole */
        days[r.n++] = (struct sig_day){.ts = d};
    }
    int rc = store_read_rollups(ro, STORE_DAY, (uint32_t)outdoor, a, b, STORE_READ_MINMAX,
                                sig_outdoor_row, &r);
    if (rc < 0)
        return rc == -ENOMEM ? rc : -EIO;
    int with_data = 0;
    for (size_t k = 0; k < n_chs; k++) {
        if (store_channel_id(ro, chs[k]) < 0)
            continue;
        r.any = false;
        rc = store_read_rollups(ro, STORE_DAY, chs[k], a, b, 0, sig_energy_row, &r);
        if (rc < 0)
            return rc == -ENOMEM ? rc : -EIO;
        /* A channel without a single reading in the window (a meter added
         * since) does not veto every day. */
        with_data += r.any;
    }
    for (int q = 0; fold_building && q < Q_COUNT_; q++) {
        if (!(fold_mask & (1u << q)))
            continue;
        r.any = false;
        rc = store_read_folded(ro, fold_building, (enum quantity)q, STORE_DAY, a, b, sig_energy_row,
                               &r);
        if (rc < 0)
            return rc == -ENOMEM ? rc : -EIO;
        with_data += r.any;
    }
    size_t n = 0;
    for (size_t k = 0; k < r.n; k++) {
        /* The last whole day before b only: a day cut by b is partial. */
        if (tu_next_day(days[k].ts) > b)
            continue;
        if (!days[k].outdoor || with_data == 0 || days[k].rows < with_data ||
            days[k].chans < (int)ceil(min_share * with_data - 1e-9))
            continue;
        x[n] = days[k].dju;
        y[n] = days[k].kwh;
        n++;
    }
    summary_signature_ols(x, y, n, ret);
    return 0;
}

/* ---- the summary's sections ------------------------------------------- */

/* heating.kwh_per_dju of a heat meter needs some cold: below this many
 * degree-days over a period it is not given. */
#define SUMMARY_KWH_PER_DJU_MIN 5.0

/* The history a signature is fitted on for a period starting at start_s:
 * the SUMMARY_SIG_WINDOW_DAYS days before it, from not_before_s on (the
 * household's tenancy: an earlier household's habits are not theirs). */
static void sig_window(int64_t start_s, int64_t not_before_s, int64_t *ret_a)
{
    int64_t a = tu_day_start(start_s - (int64_t)SUMMARY_SIG_WINDOW_DAYS * 86400 + 43200);
    *ret_a = a > not_before_s ? a : not_before_s;
}

static const char *verdict_word(enum summary_verdict v)
{
    return v == SUMMARY_LESS ? "less" : v == SUMMARY_MORE ? "more" : "same";
}

static json_t *signature_json(const struct summary_signature *s, int64_t a, int64_t b)
{
    json_t *o = json_object();
    json_object_set_new(o, "from", summary_jtime(a));
    json_object_set_new(o, "to", summary_jtime(b));
    json_object_set_new(o, "days", json_integer(s->days));
    json_object_set_new(o, "dju", summary_jnum(s->dju_sum, 1));
    json_object_set_new(o, "base_kwh_per_day", summary_jnum(s->base, 3));
    json_object_set_new(o, "kwh_per_dju", summary_jnum(s->slope, 4));
    json_object_set_new(o, "kwh_per_dju_se", summary_jnum(s->se_slope, 4));
    json_object_set_new(o, "t", summary_jnum(s->t_slope, 1));
    json_object_set_new(o, "r2", summary_jnum(s->r2, 3));
    json_object_set_new(o, "valid", json_boolean(s->valid));
    return o;
}

/* The heating energy of the period against what the dwelling's energy
 * signature (coach_signature.c) predicts for the period's degree-days. */
int summary_heating(struct summary_ctx *c, json_t *doc)
{
    struct summary_engine *e = c->e;
    enum quantity q = summary_heating_quantity(c->dw->heating);
    int32_t bld = (int32_t)c->dw->building;
    double dju, dcov, kwh, cov;
    bool has;
    int rc = summary_building_dju(e, bld, c->a, c->b, &dju, &dcov);
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
    rc = summary_dw_total(e, c->d, q, c->a, c->b, &kwh, &cov, &has, NULL);
    if (rc < 0)
        return rc;
    /* A meter that heats and does something else: electricity always
     * (appliances), gas often (cooking, hot water). */
    bool shared = q != Q_HEAT;
    if (!has || !isfinite(dju)) {
        json_object_set_new(doc, "heating", json_null());
        if (has && !shared && cov >= SUMMARY_COVERAGE_MIN)
            summary_vars_set(c->vars, "heating_kwh", kwh);
        return 0;
    }
    uint32_t *chs = calloc(e->dw_first[c->d + 1] - e->dw_first[c->d] + 1, sizeof(*chs));
    size_t n = 0;
    if (!chs)
        return -ENOMEM;
    for (uint32_t k = e->dw_first[c->d]; k < e->dw_first[c->d + 1]; k++)
        if (e->cfg->channels[e->by_dw[k]].quantity == q)
            chs[n++] = e->by_dw[k];
    int64_t wa;
    sig_window(c->p->start_s, c->tenancy_start, &wa);
    struct summary_signature sig;
    rc = summary_signature_read(e->ro, e->outdoor[bld], e->dju, chs, n, NULL, 0, 1.0, wa,
                                c->p->start_s, &sig);
    free(chs);
    if (rc < 0)
        return rc;
    double days = c->hours / 24;
    struct summary_sig_compare cmp = {.why = "coverage"};
    bool ok = cov >= SUMMARY_COVERAGE_MIN && dcov >= SUMMARY_COVERAGE_MIN;
    bool speak = ok && summary_signature_compare(&sig, days, dju, kwh, &cmp) == 0;
    json_t *o = json_object();
    json_object_set_new(o, "quantity", json_string(quantity_name(q)));
    json_object_set_new(o, "dju", summary_jnum(dju, 1));
    json_object_set_new(o, "dju_method",
                        json_string(e->dju == DJU_COSTIC ? "costic" : "meteo_france"));
    json_object_set_new(o, "dju_coverage", summary_jnum(dcov, 3));
    json_object_set_new(o, "kwh", summary_jnum(kwh, 3));
    /* Schema 1's ratio, kept where it is heating alone (a heat meter); on
     * a shared meter it divided appliances by the cold. */
    json_object_set_new(
        o, "kwh_per_dju",
        summary_jnum(!shared && ok && dju >= SUMMARY_KWH_PER_DJU_MIN ? kwh / dju : NAN, 3));
    json_object_set_new(o, "signature",
                        sig.days > 0 ? signature_json(&sig, wa, c->p->start_s) : json_null());
    /* The energy above the base load is heating only when the signature
     * holds (in a mild period noise can take it below zero: none); a heat
     * meter measures heating alone. */
    double heat_kwh = ok && sig.valid ? fmax(0, cmp.heating_kwh) : (!shared && ok ? kwh : NAN);
    json_object_set_new(o, "heating_kwh", summary_jnum(heat_kwh, 3));
    if (isfinite(heat_kwh))
        summary_vars_set(c->vars, "heating_kwh", heat_kwh);
    json_t *w = json_null();
    if (speak) {
        w = json_object();
        json_object_set_new(w, "expected_kwh", summary_jnum(cmp.expected_heating_kwh, 3));
        json_object_set_new(w, "change_pct", summary_jnum(cmp.change_pct, 1));
        json_object_set_new(w, "se_pct", summary_jnum(cmp.se_pct, 1));
        json_object_set_new(w, "verdict", json_string(verdict_word(cmp.verdict)));
        summary_vars_set(c->vars, "heating_expected_kwh", cmp.expected_heating_kwh);
        summary_vars_set(c->vars, "heating_change_pct", cmp.change_pct);
        summary_vars_set(c->vars, "heating_change_same", cmp.verdict == SUMMARY_SAME);
    }
    json_object_set_new(o, "weather_corrected", w);
    json_object_set_new(o, "silent_because", speak ? json_null() : json_string(cmp.why));
    json_object_set_new(doc, "heating", o);
    return 0;
}

struct folded_sum {
    double amount;
    int days_read; /* days with readings */
};

static int folded_row(void *ctx, const struct store_rollup *row)
{
    struct folded_sum *f = ctx;
    f->amount += row->sum;
    f->days_read += row->n > 0;
    return 0;
}

/* The folded consumption of erased dwellings of building bld for q over
 * [a, b) (store_erase.h), and its coverage: the share of the days with
 * readings (the hours are not kept apart once folded). */
static int folded_total(struct summary_engine *e, uint32_t bld, enum quantity q, int64_t a,
                        int64_t b, double *ret_amount, double *ret_coverage)
{
    struct folded_sum f = {0};
    int days = 0;
    int rc =
        store_read_folded(e->ro, e->cfg->buildings[bld].id, q, STORE_DAY, a, b, folded_row, &f);
    if (rc < 0)
        return rc == -ENOMEM ? rc : -EIO;
    for (int64_t d = tu_day_start(a); d < b; d = tu_next_day(d))
        days++;
    *ret_amount = f.amount;
    *ret_coverage = days ? (double)f.days_read / days : 0;
    return 0;
}

/* The building's energy (every dwelling and common channel with data in
 * both years) against the same period last year.  The weather is taken out
 * with the building's own signature (the sum of those channels against
 * the degree-days over the year before the period): last year's energy is
 * brought to this year's weather, base * days + slope * DJU.  Without a
 * valid signature the raw change is given only when neither period had
 * cold enough to heat; otherwise nothing.  Anonymous: shown only with
 * enough dwellings. */
static int building_figure(struct summary_ctx *c, json_t *doc)
{
    struct summary_engine *e = c->e;
    const struct foyer_config *cfg = e->cfg;
    uint32_t bld = c->dw->building;
    struct summary_period ly;
    json_object_set_new(doc, "building_total", json_null());
    if (!summary_period_last_year(c->p, &ly))
        return 0;
    uint32_t *used = calloc(cfg->n_channels + 1, sizeof(*used));
    if (!used)
        return -ENOMEM;
    size_t n_used = 0;
    double kwh = 0, ly_kwh = 0;
    size_t dwellings = 0;
    int rc = 0;
    for (uint32_t d = 0; d <= cfg->n_dwellings && rc == 0; d++) {
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
            struct summary_ctot t1, t2;
            rc = summary_chan_total(e, list[k], c->p->start_s, c->p->end_s, &t1);
            if (rc == 0)
                rc = summary_chan_total(e, list[k], ly.start_s, ly.end_s, &t2);
            if (rc < 0)
                break;
            if (t1.coverage < SUMMARY_COVERAGE_MIN || t2.coverage < SUMMARY_COVERAGE_MIN)
                continue;
            kwh += t1.amount;
            ly_kwh += t2.amount;
            used[n_used++] = list[k];
            counted = true;
        }
        dwellings += is_dw && counted;
    }
    /* Erased dwellings' consumption, folded per building: in the totals
     * (with the channels' coverage rule), never counted as a dwelling. */
    uint32_t fold_mask = 0;
    for (int q = 0; rc == 0 && q < Q_COUNT_; q++) {
        double f1 = 0, f2 = 0, c1 = 0, c2 = 0;
        if (q != Q_ELECTRICITY && q != Q_HEAT && q != Q_GAS)
            continue;
        rc = folded_total(e, bld, (enum quantity)q, c->p->start_s, c->p->end_s, &f1, &c1);
        if (rc == 0)
            rc = folded_total(e, bld, (enum quantity)q, ly.start_s, ly.end_s, &f2, &c2);
        if (rc < 0 || c1 < SUMMARY_COVERAGE_MIN || c2 < SUMMARY_COVERAGE_MIN)
            continue;
        kwh += f1;
        ly_kwh += f2;
        fold_mask |= 1u << q;
    }
    if (rc < 0 || dwellings < SUMMARY_PEERS_MIN + 1 || ly_kwh <= 0) {
        free(used);
        return rc;
    }
    double dju, dcov, ly_dju, ly_dcov;
    rc = summary_building_dju(e, (int32_t)bld, c->p->start_s, c->p->end_s, &dju, &dcov);
    if (rc == 0)
        rc = summary_building_dju(e, (int32_t)bld, ly.start_s, ly.end_s, &ly_dju, &ly_dcov);
    struct summary_signature sig = {.valid = false};
    int64_t wa;
    sig_window(c->p->start_s, INT64_MIN, &wa);
    if (rc == 0)
        rc = summary_signature_read(e->ro, e->outdoor[bld], e->dju, used, n_used,
                                    cfg->buildings[bld].id, fold_mask,
                                    SUMMARY_SIG_BUILDING_READ_SHARE, wa, c->p->start_s, &sig);
    free(used);
    if (rc < 0)
        return rc;
    double days = (double)(c->p->end_s - c->p->start_s) / 86400.0;
    double ly_days = (double)(ly.end_s - ly.start_s) / 86400.0;
    bool weather = isfinite(dju) && isfinite(ly_dju) && dcov >= SUMMARY_COVERAGE_MIN &&
                   ly_dcov >= SUMMARY_COVERAGE_MIN;
    bool norm = weather && sig.valid;
    double change = NAN, se = 0;
    if (norm) {
        double adj = ly_kwh + sig.base * (days - ly_days) + sig.slope * (dju - ly_dju);
        change = summary_pct_change(kwh, adj);
        /* Both periods' day-to-day noise, and the slope's own error over
         * the difference of degree-days. */
        double sd =
            sqrt((days + ly_days) * sig.sigma * sig.sigma + pow(sig.se_slope * (dju - ly_dju), 2));
        se = adj > 0 ? sd / adj * 100 : INFINITY;
        if (se > SUMMARY_SIG_SE_MAX_PCT)
            change = NAN;
    } else if (weather && dju / days < 1.0 && ly_dju / ly_days < 1.0) {
        /* Neither period had heating weather: the raw change is the
         * households'. */
        change = summary_pct_change(kwh, ly_kwh);
    }
    double band = fmax(SUMMARY_SIG_SAME_PCT, 2 * se);
    json_t *o = json_object();
    json_object_set_new(o, "dwellings", json_integer((json_int_t)dwellings));
    json_object_set_new(o, "kwh", summary_jnum(kwh, 1));
    json_object_set_new(o, "last_year_period", json_string(ly.id));
    json_object_set_new(o, "last_year_kwh", summary_jnum(ly_kwh, 1));
    json_object_set_new(o, "normalised_by_dju", json_boolean(norm && isfinite(change)));
    json_object_set_new(o, "change_pct", summary_jnum(change, 1));
    json_object_set_new(o, "verdict",
                        isfinite(change)
                            ? json_string(verdict_word(fabs(change) < band ? SUMMARY_SAME
                                                       : change < 0        ? SUMMARY_LESS
                                                                           : SUMMARY_MORE))
                            : json_null());
    json_object_set_new(doc, "building_total", o);
    summary_vars_set(c->vars, "building_change_pct", change);
    return 0;
}

/* building_figure(), computed once per building and period. */
int summary_building_total(struct summary_ctx *c, json_t *doc)
{
    struct summary_bt_memo *m = &c->e->bt[c->dw->building];
    if (m->a != c->p->start_s || m->b != c->p->end_s || !m->obj) {
        int rc = building_figure(c, doc);
        if (rc < 0)
            return rc;
        json_decref(m->obj);
        m->obj = json_deep_copy(json_object_get(doc, "building_total"));
        m->change = summary_vars_get(c->vars, "building_change_pct");
        m->a = m->obj ? c->p->start_s : 0;
        m->b = m->obj ? c->p->end_s : 0;
        return 0;
    }
    json_object_set_new(doc, "building_total", json_deep_copy(m->obj));
    summary_vars_set(c->vars, "building_change_pct", m->change);
    return 0;
}
