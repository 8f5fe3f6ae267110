/*
 * util_time.c - local-time boundaries and ISO 8601 text.
 *
 * The zone is process-wide (TZ, tzset), chosen once before threads start;
 * localtime_r and mktime are then thread-safe.  Day boundaries are computed
 * by mktime on local midnight, so DST days have their true length.  The last
 * day and month looked up are cached per thread: the writer asks for the same
 * day thousands of times per batch and mktime costs microseconds.
 *
 * A zone is checked (tu_zone_check) by reading its TZif file (RFC 8536)
 * rather than by switching TZ: the config is checked again on SIGHUP while
 * other threads convert local times, and TZ is process-wide.  foyerd's start
 * (tu_set_zone) and the config check use this one function, so
 * `foyerd --check-config` refuses exactly the zones foyerd refuses.
 */
#include "foyer/timeutil.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "foyer/limits.h"

#ifndef FOYER_ZONEINFO_DIR
#define FOYER_ZONEINFO_DIR "/usr/share/zoneinfo"
#endif

struct span_cache {
    int64_t start, end; /* [start, end) of the cached local day or month */
};
static _Thread_local struct span_cache day_cache = {1, 0};
static _Thread_local struct span_cache month_cache = {1, 0};

const char *tu_zone_dir(void)
{
    const char *dir = getenv("TZDIR"); /* as the C library reads it */
    return dir && *dir ? dir : FOYER_ZONEINFO_DIR;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* An offset of a POSIX TZ string ("5:30", "-1", "+10"), west-positive as
 * POSIX writes it; returns the offset east of UTC in seconds via ret. */
static const char *posix_offset(const char *p, int32_t *ret)
{
    int sign = 1, part[3] = {0, 0, 0};
    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    for (int i = 0; i < 3; i++) {
        if (i > 0) {
            if (*p != ':')
                break;
            p++;
        }
        if (!isdigit((unsigned char)*p))
            return NULL;
        while (isdigit((unsigned char)*p) && part[i] < 1000)
            part[i] = part[i] * 10 + (*p++ - '0');
    }
    *ret = -sign * (part[0] * 3600 + part[1] * 60 + part[2]);
    return p;
}

/* A POSIX TZ zone name: letters, or <...> for names like <+0530>. */
static const char *posix_name(const char *p)
{
    const char *start = p;
    if (*p == '<') {
        while (*p && *p != '>')
            p++;
        return *p == '>' && p - start > 1 ? p + 1 : NULL;
    }
    while (isalpha((unsigned char)*p))
        p++;
    return p - start >= 3 ? p : NULL;
}

/* The footer of a TZif file ("CET-1CEST,M3.5.0,M10.5.0/3"): the rule for
 * every time after the last transition.  Checks its standard and summer
 * offsets (summer defaults to one hour more). */
static int zone_footer_check(const char *tz, int32_t *ret_bad_offset_s)
{
    int32_t std = 0, dst;
    const char *p = tz;

    if (*p == '\0')
        return 0; /* no rule: the last transition's type goes on */
    if (!(p = posix_name(p)) || !(p = posix_offset(p, &std)))
        return -EBADMSG;
    dst = std + 3600;
    if (*p && *p != ',') {
        if (!(p = posix_name(p)))
            return -EBADMSG;
        if (*p && *p != ',' && !(p = posix_offset(p, &dst)))
            return -EBADMSG;
    }
    if (std % 3600 != 0 || dst % 3600 != 0) {
        *ret_bad_offset_s = std % 3600 != 0 ? std : dst;
        return -EDOM;
    }
    return 0;
}

/* Check the offsets a TZif file gives from FOYER_TS_MIN_S on: the type in
 * force then, every later transition's type, and the footer rule. */
static int zone_tzif_check(const unsigned char *b, size_t n, int32_t *ret_bad_offset_s)
{
    size_t off = 0, time_size = 4;
    uint32_t isut, isstd, leap, timecnt, typecnt, charcnt;

    for (int pass = 0;; pass++) {
        if (n - off < 44 || memcmp(b + off, "TZif", 4) != 0)
            return -EBADMSG;
        isut = be32(b + off + 20);
        isstd = be32(b + off + 24);
        leap = be32(b + off + 28);
        timecnt = be32(b + off + 32);
        typecnt = be32(b + off + 36);
        charcnt = be32(b + off + 40);
        if (typecnt == 0 || typecnt > 256 || timecnt > n || charcnt > n || leap > n || isut > n ||
            isstd > n)
            return -EBADMSG;
        size_t len = (size_t)timecnt * (time_size + 1) + (size_t)typecnt * 6 + charcnt +
                     (size_t)leap * (time_size + 4) + isstd + isut;
        if (n - off - 44 < len)
            return -EBADMSG;
        /* Version 2 and later repeat the data with 64-bit times: use that. */
        if (pass == 0 && b[off + 4] >= '2') {
            off += 44 + len;
            time_size = 8;
            continue;
        }
        off += 44;
        break;
    }
    const unsigned char *times = b + off, *idx = times + (size_t)timecnt * time_size;
    const unsigned char *types = idx + timecnt;
    uint32_t in_force = 0; /* before the first transition: type 0 (RFC 8536 3.2) */
    for (uint32_t i = 0; i < timecnt; i++) {
        int64_t t = time_size == 8 ? be64(times + (size_t)i * 8)
                                   : (int64_t)(int32_t)be32(times + (size_t)i * 4);
        uint32_t type = idx[i];
        if (type >= typecnt)
            return -EBADMSG;
        if (t <= FOYER_TS_MIN_S) {
            in_force = type;
            continue;
        }
        int32_t utoff = (int32_t)be32(types + (size_t)type * 6);
        if (utoff % 3600 != 0) {
            *ret_bad_offset_s = utoff;
            return -EDOM;
        }
    }
    int32_t utoff = (int32_t)be32(types + (size_t)in_force * 6);
    if (utoff % 3600 != 0) {
        *ret_bad_offset_s = utoff;
        return -EDOM;
    }
    if (time_size == 8) {
        /* The footer: "\n" TZ string "\n" after the 64-bit data. */
        size_t data =
            (size_t)timecnt * 9 + (size_t)typecnt * 6 + charcnt + (size_t)leap * 12 + isstd + isut;
        const char *foot = (const char *)b + off + data, *endp;
        char tz[128];
        if (off + data >= n || *foot != '\n')
            return -EBADMSG;
        foot++;
        endp = memchr(foot, '\n', n - off - data - 1);
        if (!endp || (size_t)(endp - foot) >= sizeof(tz))
            return -EBADMSG;
        memcpy(tz, foot, (size_t)(endp - foot));
        tz[endp - foot] = '\0';
        return zone_footer_check(tz, ret_bad_offset_s);
    }
    return 0;
}

int tu_zone_check(const char *zone, int32_t *ret_bad_offset_s)
{
    char path[512];
    unsigned char *buf;
    struct stat st;
    int32_t bad = 0;
    int fd, rc;

    if (zone[0] == '\0' || zone[0] == '/' || strstr(zone, ".."))
        return -EINVAL;
    for (const char *c = zone; *c; c++)
        if (!(isalnum((unsigned char)*c) || strchr("/_+-", *c)))
            return -EINVAL;
    if (strcmp(zone, "UTC") == 0)
        return 0; /* the C library knows it without a file */
    rc = snprintf(path, sizeof(path), "%s/%s", tu_zone_dir(), zone);
    if (rc < 0 || (size_t)rc >= sizeof(path))
        return -EINVAL;
    /* Not a FIFO or a device: such a file would block or never end. */
    if (stat(path, &st) < 0)
        return errno == ENOTDIR ? -ENOENT : -errno;
    if (!S_ISREG(st.st_mode))
        return -ENOENT;
    fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > FOYER_ZONE_FILE_MAX) {
        close(fd);
        return S_ISREG(st.st_mode) ? -EBADMSG : -ENOENT;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        close(fd);
        return -ENOMEM;
    }
    size_t n = 0;
    ssize_t got = 1;
    while (got > 0 && n <= (size_t)st.st_size) {
        got = read(fd, buf + n, (size_t)st.st_size + 1 - n);
        if (got < 0 && errno == EINTR)
            got = 1;
        else if (got > 0)
            n += (size_t)got;
    }
    rc = got < 0 ? -errno : zone_tzif_check(buf, n, &bad);
    free(buf);
    close(fd);
    if (rc == -EDOM && ret_bad_offset_s)
        *ret_bad_offset_s = bad;
    return rc;
}

int tu_set_zone(const char *zone)
{
    if (tu_zone_check(zone, NULL) < 0)
        return -EINVAL;
    if (setenv("TZ", zone, 1) < 0)
        return -errno;
    tzset();
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

int tu_parse_iso_info(const char *s, int64_t *ret_ts_s, struct tu_iso_info *ret_info)
{
    const char *p = s;
    int y, mo, d, h = 0, mi = 0, sec = 0;
    bool has_time = false, has_offset = false;
    int offset_s = 0;

    if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
        !digits(&p, 2, &d))
        return -EINVAL;
    if (*p == 'T' || *p == ' ') {
        p++;
        has_time = true;
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
    if (ret_info)
        *ret_info = (struct tu_iso_info){has_time, has_offset, sec == 60};
    return 0;
}

int tu_parse_iso(const char *s, int64_t *ret_ts_s)
{
    return tu_parse_iso_info(s, ret_ts_s, NULL);
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

int64_t tu_backoff_next(int64_t cur, int64_t max)
{
    return cur > max / 2 ? max : cur * 2;
}
