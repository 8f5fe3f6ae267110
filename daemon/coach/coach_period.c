/*
 * coach_period.c - the periods summaries are made for (ISO weeks and
 * calendar months in the site's zone: their ids "2026-W47" and "2026-11",
 * the one before, the same one last year), the idempotency key of a
 * summary, and degree-days (Météo-France and COSTIC methods, base 18 °C).
 * Pure functions of time and the zone, no I/O.
 */
#include "coach_int.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "foyer/timeutil.h"

/* ---- periods ----------------------------------------------------------- */

void summary_local_tm(int64_t ts, struct tm *ret)
{
    time_t t = (time_t)ts;
    localtime_r(&t, ret);
}

static void period_fill_id(struct summary_period *p)
{
    struct tm tm;
    summary_local_tm(p->start_s, &tm);
    if (p->kind == SUMMARY_WEEK)
        (void)strftime(p->id, sizeof(p->id), "%G-W%V", &tm);
    else
        (void)strftime(p->id, sizeof(p->id), "%Y-%m", &tm);
}

void summary_period_at(enum summary_kind kind, int64_t ts_s, struct summary_period *ret)
{
    ret->kind = kind;
    if (kind == SUMMARY_WEEK) {
        ret->start_s = tu_week_start(ts_s);
        struct tm tm;
        summary_local_tm(ret->start_s, &tm);
        ret->end_s = tu_local_date(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday + 7);
    } else {
        ret->start_s = tu_month_start(ts_s);
        ret->end_s = tu_next_month(ret->start_s);
    }
    period_fill_id(ret);
}

/* Monday of ISO week 1 of year y is the Monday of the week holding Jan 4. */
static int64_t iso_week_start(int year, int week)
{
    int64_t jan4 = tu_local_date(year, 1, 4);
    struct tm tm;
    summary_local_tm(jan4, &tm);
    int back = (tm.tm_wday + 6) % 7;
    return tu_local_date(year, 1, 4 - back + 7 * (week - 1));
}

int summary_period_parse(const char *text, struct summary_period *ret)
{
    int year, num, used = 0;
    struct summary_period p;
    if (sscanf(text, "%4d-W%2d%n", &year, &num, &used) == 2 && text[used] == '\0' &&
        strlen(text) == 8) {
        if (year < 2000 || year > 2100 || num < 1 || num > 53)
            return -EINVAL;
        summary_period_at(SUMMARY_WEEK, iso_week_start(year, num) + 12 * 3600, &p);
    } else if (sscanf(text, "%4d-%2d%n", &year, &num, &used) == 2 && text[used] == '\0' &&
               strlen(text) == 7) {
        if (year < 2000 || year > 2100 || num < 1 || num > 12)
            return -EINVAL;
        summary_period_at(SUMMARY_MONTH, tu_local_date(year, num, 1) + 12 * 3600, &p);
    } else {
        return -EINVAL;
    }
    /* Week 53 of a year that has 52 comes out as next year's week 1. */
    if (strcmp(p.id, text) != 0)
        return -EINVAL;
    *ret = p;
    return 0;
}

void summary_period_prev(const struct summary_period *p, struct summary_period *ret)
{
    summary_period_at(p->kind, p->start_s - 1, ret);
}

bool summary_period_last_year(const struct summary_period *p, struct summary_period *ret)
{
    char id[16];
    int year = atoi(p->id);
    (void)snprintf(id, sizeof(id), "%04d%s", year - 1, p->id + 4);
    return summary_period_parse(id, ret) == 0;
}

int summary_key(const char *building, const char *dwelling, const char *period, char *buf,
                size_t len)
{
    int n = snprintf(buf, len, "foyer-summary-v%d/%s/%s/%s", SUMMARY_SCHEMA_VERSION, building,
                     dwelling, period);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

double summary_dju(enum dju_method m, double tmin_c, double tmax_c)
{
    const double base = 18.0;
    double mean = (tmin_c + tmax_c) / 2;
    if (m == DJU_METEO_FRANCE)
        return mean < base ? base - mean : 0;
    /* COSTIC: a day wholly below the base counts base - mean; wholly above,
     * nothing; in between, the share of the day spent below the base. */
    if (tmax_c <= base)
        return base - mean;
    if (tmin_c >= base)
        return 0;
    return (base - tmin_c) * (0.08 + 0.42 * (base - tmin_c) / (tmax_c - tmin_c));
}
