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
 * Data in: day rollups (store_read_rollups(), STORE_DAY) of the energy
 * channels and of the building's outdoor channel, through the summary
 * engine's read-only handle.  Nothing is cached: the signature is refitted
 * from the store at every summary, so history imported late counts.
 * Thresholds and why are in coach_int.h and docs/summary.md.
 */
#include "coach_int.h"

#include <errno.h>
#include <math.h>
#include <string.h>

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
    if (d && row->n > 0) {
        d->kwh += row->sum;
        d->chans++;
        r->any = true;
    } else if (d) {
        /* Consumption spread over a gap still belongs to the day. */
        d->kwh += row->sum;
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
                           const uint32_t *chs, size_t n_chs, int64_t a, int64_t b,
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
    size_t n = 0;
    for (size_t k = 0; k < r.n; k++) {
        /* The last whole day before b only: a day cut by b is partial. */
        if (tu_next_day(days[k].ts) > b)
            continue;
        if (!days[k].outdoor || with_data == 0 || days[k].chans < with_data)
            continue;
        x[n] = days[k].dju;
        y[n] = days[k].kwh;
        n++;
    }
    summary_signature_ols(x, y, n, ret);
    return 0;
}
