/*
 * timeutil.c - local-time boundaries and ISO 8601 text.
 *
 * The zone is process-wide (TZ, tzset), chosen once before threads start;
 * localtime_r and mktime are then thread-safe.  Day boundaries are computed
 * by mktime on local midnight, so DST days have their true length.  The last
 * day and month looked up are cached per thread: the writer asks for the same
 * day thousands of times per batch and mktime costs microseconds.
 */
#include "foyer/timeutil.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

struct span_cache {
    int64_t start, end; /* [start, end) of the cached local day or month */
};
static _Thread_local struct span_cache day_cache = {1, 0};
static _Thread_local struct span_cache month_cache = {1, 0};

static int zone_file_ok(const char *zone)
{
    char path[512];
    const char *dir = getenv("TZDIR");
    struct stat st;

    if (zone[0] == '\0' || zone[0] == '/' || strstr(zone, ".."))
        return -EINVAL;
    if (strcmp(zone, "UTC") == 0)
        return 0;
    int n = snprintf(path, sizeof(path), "%s/%s", dir ? dir : "/usr/share/zoneinfo", zone);
    if (n < 0 || (size_t)n >= sizeof(path))
        return -EINVAL;
    if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
        return -EINVAL;
    return 0;
}

int timeutil_set_zone(const char *zone)
{
    if (zone_file_ok(zone) < 0)
        return -EINVAL;
    if (setenv("TZ", zone, 1) < 0)
        return -errno;
    tzset();
    /* Hour buckets are UTC hours: they are local hours only when every
     * offset of the zone is a whole number of hours.  Sample the offsets a
     * zone has had in our era (winter and summer of several years). */
    for (int64_t y = 2000; y <= 2040; y += 4) {
        for (int m = 0; m < 12; m += 6) {
            struct tm tm = {.tm_year = (int)(y - 1900), .tm_mon = m, .tm_mday = 1};
            time_t t = timegm(&tm);
            struct tm lt;
            localtime_r(&t, &lt);
            if (lt.tm_gmtoff % 3600 != 0)
                return -EINVAL;
        }
    }
    day_cache = (struct span_cache){1, 0};
    month_cache = (struct span_cache){1, 0};
    return 0;
}

static int64_t local_midnight(const struct tm *src, int add_days, bool first_of_month,
                              int add_months)
{
    struct tm tm = *src;
    tm.tm_hour = 0;
    tm.tm_min = 0;
    tm.tm_sec = 0;
    tm.tm_isdst = -1;
    if (first_of_month)
        tm.tm_mday = 1;
    tm.tm_mday += add_days;
    tm.tm_mon += add_months;
    return (int64_t)mktime(&tm);
}

static void to_local(int64_t ts_s, struct tm *ret_tm)
{
    time_t t = (time_t)ts_s;
    localtime_r(&t, ret_tm);
}

/* Start of the local day (or month) holding ts, through the thread's cache
 * of the last span looked up. */
static int64_t span_start(struct span_cache *c, int64_t ts_s, bool month)
{
    if (ts_s >= c->start && ts_s < c->end)
        return c->start;
    struct tm tm;
    to_local(ts_s, &tm);
    c->start = local_midnight(&tm, 0, month, 0);
    c->end = month ? local_midnight(&tm, 0, true, 1) : local_midnight(&tm, 1, false, 0);
    return c->start;
}

int64_t tu_day_start(int64_t ts_s)
{
    return span_start(&day_cache, ts_s, false);
}

int64_t tu_next_day(int64_t day_start_s)
{
    struct tm tm;
    to_local(day_start_s, &tm);
    return local_midnight(&tm, 1, false, 0);
}

int64_t tu_week_start(int64_t ts_s)
{
    struct tm tm;
    to_local(ts_s, &tm);
    int back = (tm.tm_wday + 6) % 7; /* days since Monday */
    return local_midnight(&tm, -back, false, 0);
}

int64_t tu_month_start(int64_t ts_s)
{
    return span_start(&month_cache, ts_s, true);
}

int64_t tu_next_month(int64_t month_start_s)
{
    struct tm tm;
    to_local(month_start_s, &tm);
    return local_midnight(&tm, 0, true, 1);
}

int64_t tu_local_date(int year, int month, int day)
{
    struct tm tm = {.tm_year = year - 1900, .tm_mon = month - 1, .tm_mday = day, .tm_isdst = -1};
    return (int64_t)mktime(&tm);
}

/* Read exactly n digits at *p. */
static bool digits(const char **p, int n, int *ret)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return false;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *ret = v;
    return true;
}

int tu_parse_iso(const char *s, int64_t *ret_ts_s)
{
    const char *p = s;
    int y, mo, d, h = 0, mi = 0, sec = 0;
    bool has_offset = false;
    int offset_s = 0;

    if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
        !digits(&p, 2, &d))
        return -EINVAL;
    if (*p == 'T' || *p == ' ') {
        p++;
        if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi))
            return -EINVAL;
        if (*p == ':') {
            p++;
            if (!digits(&p, 2, &sec))
                return -EINVAL;
            if (*p == '.' || *p == ',') {
                p++;
                if (!isdigit((unsigned char)*p))
                    return -EINVAL;
                while (isdigit((unsigned char)*p))
                    p++;
            }
        }
        if (*p == 'Z') {
            has_offset = true;
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p == '-' ? -1 : 1, oh, om = 0;
            p++;
            if (!digits(&p, 2, &oh))
                return -EINVAL;
            if (*p == ':')
                p++;
            if (isdigit((unsigned char)*p) && !digits(&p, 2, &om))
                return -EINVAL;
            if (oh > 14 || om > 59)
                return -EINVAL;
            has_offset = true;
            offset_s = sign * (oh * 3600 + om * 60);
        }
    }
    if (*p != '\0')
        return -EINVAL;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return -EINVAL;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap))
        return -EINVAL;

    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = sec,
                    .tm_isdst = -1};
    if (has_offset)
        *ret_ts_s = (int64_t)timegm(&tm) - offset_s;
    else
        *ret_ts_s = (int64_t)mktime(&tm);
    return 0;
}

char *tu_format_local(int64_t ts_s, char *buf, size_t len)
{
    struct tm tm;
    to_local(ts_s, &tm);
    long off = tm.tm_gmtoff;
    char sign = off < 0 ? '-' : '+';
    if (off < 0)
        off = -off;
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d%c%02ld:%02ld", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, sign, off / 3600,
             (off % 3600) / 60);
    return buf;
}

char *tu_format_utc(int64_t ts_s, char *buf, size_t len)
{
    struct tm tm;
    time_t t = (time_t)ts_s;
    gmtime_r(&t, &tm);
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return buf;
}

int64_t tu_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t tu_now_s(void)
{
    return (int64_t)time(NULL);
}

int tu_cond_init_monotonic(pthread_cond_t *cond)
{
    pthread_condattr_t attr;
    int rc = pthread_condattr_init(&attr);
    if (rc == 0)
        rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (rc == 0)
        rc = pthread_cond_init(cond, &attr);
    (void)pthread_condattr_destroy(&attr);
    return -rc;
}

struct timespec tu_mono_timespec(int64_t mono_ms)
{
    return (struct timespec){(time_t)(mono_ms / 1000), (long)(mono_ms % 1000) * 1000000L};
}
