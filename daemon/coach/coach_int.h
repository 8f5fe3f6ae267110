/*
 * coach_int.h - what the files of the coach room (daemon/coach/) share and
 * nobody else uses: the variables a summary exposes to the tip catalogue,
 * tip picking and text expansion.  The room's interface is foyer/coach.h.
 */
#ifndef FOYER_COACH_INT_H
#define FOYER_COACH_INT_H

#include <time.h>

#include "foyer/coach.h"

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
 * array, or NULL) unless its measure got worse.  Returns a new JSON array
 * (caller decrefs), NULL on allocation failure. */
json_t *summary_tips_pick(const struct summary_lang *l, const struct summary_vars *v,
                          const json_t *prev_tips);

/* Expand a template: "{name}" becomes the figure (number with the
 * language's decimal separator, 0 decimals from 100 up, else 1; "{name:2}"
 * with 2 decimals) or its text; an absent figure gives "?".  Returns the
 * length written (truncated to len - 1). */
size_t summary_lang_expand(const struct summary_lang *l, const char *tmpl,
                           const struct summary_vars *v, char *buf, size_t len);

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
 * channel and every channel with readings in the window read that day.
 * 0, or -EIO / -ENOMEM. */
int summary_signature_read(struct store *ro, int32_t outdoor, enum dju_method m,
                           const uint32_t *chs, size_t n_chs, int64_t a, int64_t b,
                           struct summary_signature *ret);
/* A period of days days, dju degree-days and kwh kWh against s.  0 when a
 * claim may be made (ret fully set), -EDOM when silent (ret->why says why;
 * the figures are set as far as known). */
int summary_signature_compare(const struct summary_signature *s, double days, double dju,
                              double kwh, struct summary_sig_compare *ret);

#endif
