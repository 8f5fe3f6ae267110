/*
 * coach_int.h - what the files of the coach room (daemon/coach/) share and
 * nobody else uses: the variables a summary exposes to the tip catalogue,
 * tip picking and text expansion.  The room's interface is foyer/coach.h.
 */
#ifndef FOYER_COACH_INT_H
#define FOYER_COACH_INT_H

#include <time.h>

#include "foyer/coach.h"
#include "foyer/config.h"

/* The local calendar time of ts in the site's zone (coach_period.c). */
void summary_local_tm(int64_t ts, struct tm *ret);

/* ---- between the summary modules (summary*.c) ---------------------------- */

/* Named figures of a summary: the variables of the tips' conditions and
 * saving formulas, and of the text templates.  A figure that is unknown
 * is absent (its value is NaN: every comparison with it is false). */
#define SUMMARY_VARS_MAX 160
struct summary_var {
    char name[40];
    double value; /* NaN when only text */
    bool is_text; /* text holds the value */
    char text[480];
};
struct summary_vars {
    struct summary_var v[SUMMARY_VARS_MAX];
    size_t n;
};
/* Set (or replace) a number; NaN values are not stored. */
void summary_vars_set(struct summary_vars *v, const char *name, double value);
void summary_vars_set_text(struct summary_vars *v, const char *name, const char *text);
/* The number, or NaN when absent. */
double summary_vars_get(const struct summary_vars *v, const char *name);

/* Choose up to SUMMARY_TIPS_MAX tips whose condition holds, best priority
 * first, leaving out a tip shown in prev_tips (the previous period's "tips"
 * array, or NULL) unless its measure got worse.  Each tip's "text" is in
 * l's language, and "texts" holds it in l's and in each of the n_other
 * languages of other[] whose catalogue has the tip (the same figures).
 * Returns a new JSON array (caller decrefs), NULL on allocation failure. */
json_t *summary_tips_pick(const struct summary_lang *l, const struct summary_lang *const *other,
                          size_t n_other, const struct summary_vars *v, const json_t *prev_tips);

/* Expand a template: "{name}" becomes the figure (number with the
 * language's decimal separator, 0 decimals from 100 up, else 1; "{name:2}"
 * with 2 decimals) or its text; an absent figure gives "?".  Returns the
 * length written (truncated to len - 1). */
size_t summary_lang_expand(const struct summary_lang *l, const char *tmpl,
                           const struct summary_vars *v, char *buf, size_t len);

/* ---- the engine and the document (coach_engine.c, coach_summary.c,
 * coach_signature.c) ------------------------------------------------------ */

/* Hours in a period at most (a month of 31 days, plus a DST hour). */
#define SUMMARY_PERIOD_HOURS_MAX (31 * 24 + 1)

/* Totals of one channel over one range, cached. */
struct summary_ctot {
    uint32_t ch;     /* config channel + 1; 0 = empty slot */
    int64_t a, b;    /* [a, b) */
    double amount;   /* sum of the period (counters: consumption) */
    double n;        /* readings */
    double coverage; /* share of the hours covered (docs/summary.md) */
};

/* One hour row of a channel (store_rollup, without min and max). */
struct summary_hrow {
    int64_t ts; /* start of the hour, UTC epoch s */
    double sum; /* counters: consumption; gauges: sum of the values */
    int64_t n;  /* readings in the hour */
};

/* The building's shared figure of one period, kept for its other dwellings. */
struct summary_bt_memo {
    int64_t a, b;  /* the period; a == b: nothing */
    json_t *obj;   /* building_total (null when not shown) */
    double change; /* building_change_pct, NaN: none */
};

/* The engine (summary_engine_new()): borrowed config, store and language,
 * the channel index, and the caches of one scheduler run. */
struct summary_engine {
    const struct foyer_config *cfg;
    struct store *ro; /* read-only */
    const struct summary_lang *lang;
    /* The other languages the tips are written in too (tips[].texts). */
    const struct summary_lang *other[FOYER_SUMMARY_TEXT_LANGS_MAX];
    size_t n_other;
    enum dju_method dju;
    /* Channels grouped by dwelling: by_dw[dw_first[d] .. dw_first[d+1]). */
    uint32_t *by_dw;
    uint32_t *dw_first;
    /* Building-level channels: by_bld[bld_first[b] .. bld_first[b+1]). */
    uint32_t *by_bld;
    uint32_t *bld_first;
    int32_t *outdoor; /* per building: the outdoor temperature channel, or -1 */
    /* Per building: the building_total of the period last computed (the
     * same for each of its dwellings, and its signature reads every
     * channel of the building over a year). */
    struct summary_bt_memo *bt;
    /* Per building: its channels' newest reading (summary_closed_by_data()),
     * read once per engine when bld_last_known. */
    int64_t *bld_last;
    bool *bld_last_known;
    struct summary_ctot *cache;
    size_t cache_cap, cache_used;
    struct summary_hrow *hours;
    size_t hours_cap;
    /* What hours holds: the hour rows of config channel hours_ch - 1 (0:
     * nothing) in [hours_a, hours_b), hours_n of them.  A range inside it
     * is cut from it rather than read again: comfort() reads its period
     * right after summary_chan_total() read it with the coverage margins. */
    uint32_t hours_ch;
    int64_t hours_a, hours_b;
    size_t hours_n;
    int db_err; /* set by engine_index() on allocation failure */
};

/* One summary being computed (summary_compute()). */
struct summary_ctx {
    struct summary_engine *e;
    uint32_t d;                     /* the dwelling, config index */
    const struct dwelling *dw;      /* and its config */
    const struct summary_period *p; /* the period, unclipped */
    int64_t a, b;                   /* the clipped period */
    int64_t tenancy_start;          /* INT64_MIN: no tenancy configured */
    bool clipped;
    double hours;              /* of the clipped period */
    struct summary_vars *vars; /* the figures tips and texts use */
};

/* coach_engine.c: reading the rollups, cached. */
/* A store read failed: -ENOMEM stays, anything else is -EIO. */
int summary_db_error(int rc);
/* Hour rows of config channel ch in [a, b) into e->hours; the count or
 * -errno. */
int64_t summary_fetch_hours(struct summary_engine *e, uint32_t ch, int64_t a, int64_t b);
/* Mark in covered[] (one flag per hour of [a, b)) the hours covered by the
 * first n rows of e->hours (docs/summary.md, "Coverage"). */
void summary_mark_covered(const struct summary_engine *e, size_t n, int64_t a, int64_t b,
                          bool *covered);
/* Totals of channel ch over [a, b): amount, readings, coverage.  Cached.
 * 0 or -errno. */
int summary_chan_total(struct summary_engine *e, uint32_t ch, int64_t a, int64_t b,
                       struct summary_ctot *ret);
/* Sum over dwelling d's channels of quantity q with data in [a, b), their
 * lowest coverage; channels without a reading are appended to missing
 * (when not NULL).  0 or -errno. */
int summary_dw_total(struct summary_engine *e, uint32_t d, enum quantity q, int64_t a, int64_t b,
                     double *ret_amount, double *ret_cov, bool *ret_has, json_t *missing);
/* The local date of ts as YYYYMMDD. */
int32_t summary_ymd_of(int64_t ts);
/* The tariff of q for building b on local day ymd, or NULL. */
const struct tariff *summary_tariff_for(const struct foyer_config *cfg, enum quantity q, int32_t b,
                                        int32_t ymd);
/* Euros per stored unit (kWh or L). */
double summary_price_per_unit(const struct tariff *t);
/* Euros of dwelling d's quantity q over [a, b) (NaN without a tariff). */
int summary_dw_euros(struct summary_engine *e, uint32_t d, enum quantity q, int64_t a, int64_t b,
                     double *ret_eur, bool *ret_complete);
/* Degree-days of building bld over [a, b) (days without data at the mean of
 * the others; NaN without outdoor data) and the share of days with data. */
int summary_building_dju(struct summary_engine *e, int32_t bld, int64_t a, int64_t b,
                         double *ret_dju, double *ret_cov);

/* coach_summary.c: the document's numbers and words. */
json_t *summary_jnum(double x, int decimals); /* null when not finite */
json_t *summary_jtime(int64_t ts);            /* local ISO 8601 */
enum quantity summary_heating_quantity(enum heating h);
double summary_pct_change(double cur, double ref); /* NaN unless ref > 0 */

/* coach_signature.c: the heating section (weather-corrected) and the
 * building's shared figure.  0 or -errno. */
int summary_heating(struct summary_ctx *c, json_t *doc);
int summary_building_total(struct summary_ctx *c, json_t *doc);

/* ---- energy signature (coach_signature.c) -------------------------------
 *
 * Thresholds of the weather correction (docs/summary.md, "Weather
 * correction"), each with its reason. */

/* The history a signature is fitted on: the year before the period, so
 * every season is in it once and an old household's habits are not. */
#define SUMMARY_SIG_WINDOW_DAYS 365
/* At least two months of days with energy and outdoor data: fewer days
 * give a slope that a single cold snap or holiday moves. */
#define SUMMARY_SIG_DAYS_MIN 60
/* And enough cold among them (about a fifth of a French heating season):
 * a history of summer days has no slope to fit. */
#define SUMMARY_SIG_DJU_MIN 400.0
/* The weather must explain most of the day-to-day variation (PRISM asks
 * 0.7 of billing periods; single days are noisier). */
#define SUMMARY_SIG_R2_MIN 0.6
/* The slope at least this many standard errors above zero. */
#define SUMMARY_SIG_T_MIN 5.0
/* A period averaging fewer degree-days a day (outdoor mean above 15 °C)
 * has too little heating for any ratio of it to mean something. */
#define SUMMARY_SIG_PERIOD_DJU_DAY_MIN 3.0
/* No figure when the change's standard error is above this (points of %):
 * a figure that noise could move by more is not given. */
#define SUMMARY_SIG_SE_MAX_PCT 5.0
/* Changes within this many % (or twice the standard error, when larger)
 * are "the same": neither praise nor warning. */
#define SUMMARY_SIG_SAME_PCT 3.0

/* A dwelling's signature uses only the days all its meters read (a day
 * estimated over a gap is flat whatever the weather); a building's, the
 * days at least this share of its meters read: with a hundred meters, one
 * of them missing a day would otherwise drop most days, and its estimated
 * day weighs a hundredth. */
#define SUMMARY_SIG_BUILDING_READ_SHARE 0.9

/* A fitted signature: kWh a day = base + slope * DJU. */
struct summary_signature {
    int days;       /* days fitted */
    double dju_sum; /* degree-days of those days */
    double base;    /* kWh a day whatever the weather */
    double slope;   /* kWh per degree-day */
    double se_base; /* standard errors, same units */
    double se_slope;
    double t_slope;  /* slope / se_slope */
    double r2;       /* share of the variance explained */
    double sigma;    /* residual standard deviation, kWh a day */
    double mean_dju; /* mean DJU of the days fitted */
    double mean_kwh; /* mean kWh of the days fitted */
    double sxx;      /* sum of squared DJU deviations */
    bool valid;      /* every threshold met */
    const char *why; /* when not valid: "history" or "fit" (static) */
};

enum summary_verdict { SUMMARY_SAME, SUMMARY_LESS, SUMMARY_MORE };

/* A period against the signature. */
struct summary_sig_compare {
    double heating_kwh;          /* the period's energy above base * days */
    double expected_heating_kwh; /* slope * the period's DJU */
    double change_pct;           /* heating against expected, % */
    double se_pct;               /* its standard error, points of % */
    enum summary_verdict verdict;
    const char *why; /* when silent: "history", "fit", "mild", "uncertain" */
};

/* Least squares of y (kWh a day) on x (DJU a day) over n days, and the
 * thresholds above (valid, why). */
void summary_signature_ols(const double *x, const double *y, size_t n,
                           struct summary_signature *ret);
/* The signature of the sum of channels chs over the whole local days of
 * [a, b), against the degree-days (method m) of the outdoor channel (-1:
 * none, the signature is "history").  A day counts when the outdoor
 * channel read that day, every channel with readings in the window has the
 * day's figure (read, or spread over a gap), and at least min_share of
 * them read that day.  fold_building (NULL none) and fold_mask (a bit per
 * enum quantity): the folded consumption of erased dwellings of that
 * building (store_erase.h) is one more series, as a channel.  0, or -EIO /
 * -ENOMEM. */
int summary_signature_read(struct store *ro, int32_t outdoor, enum dju_method m,
                           const uint32_t *chs, size_t n_chs, const char *fold_building,
                           uint32_t fold_mask, double min_share, int64_t a, int64_t b,
                           struct summary_signature *ret);
/* A period of days days, dju degree-days and kwh kWh against s.  0 when a
 * claim may be made (ret fully set), -EDOM when silent (ret->why says why;
 * the figures are set as far as known). */
int summary_signature_compare(const struct summary_signature *s, double days, double dju,
                              double kwh, struct summary_sig_compare *ret);

#endif
