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

#endif
