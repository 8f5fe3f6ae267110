/*
 * timeutil.h - local-time boundaries (hour, day, ISO week, month) in the
 * site's time zone, and ISO 8601 parsing and formatting.
 *
 * Storage is UTC epoch seconds.  Boundaries are computed with the C library's
 * tz database after tu_set_zone(): days of 23 and 25 hours at the DST
 * changes come out right because a day is [local midnight, next local
 * midnight), never 86 400 s.
 */
#ifndef FOYER_TIMEUTIL_H
#define FOYER_TIMEUTIL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Select the zone for the whole process ("Europe/Paris").  Returns 0, or
 * -EINVAL when tu_zone_check() refuses it.  Call before starting threads. */
int tu_set_zone(const char *zone);

/* Whether foyer can run in ZONE, without selecting it (safe while other
 * threads convert local times).  Returns 0; -EINVAL for a name that is not
 * a zone name (absolute, "..", odd characters); -ENOENT when there is no
 * such zone file under tu_zone_dir(); -EBADMSG when the file is not a
 * readable TZif file; -EDOM when an offset the zone uses from FOYER_TS_MIN_S
 * on is not a whole number of hours (hour buckets are UTC hours, so they
 * must also be local hours), *ret_bad_offset_s (when not NULL) getting that
 * offset east of UTC; other -errno from reading the file.  "UTC" needs no
 * file. */
int tu_zone_check(const char *zone, int32_t *ret_bad_offset_s);

/* Where zone files are read: $TZDIR as the C library reads it, else the
 * system's (FOYER_ZONEINFO_DIR, /usr/share/zoneinfo). */
const char *tu_zone_dir(void);

/* Start of the local day, ISO week (Monday), month containing ts, as UTC
 * epoch seconds. */
int64_t tu_day_start(int64_t ts_s);
int64_t tu_week_start(int64_t ts_s);
int64_t tu_month_start(int64_t ts_s);
/* Start of the next local day / month after the one starting at start_s. */
int64_t tu_next_day(int64_t day_start_s);
int64_t tu_next_month(int64_t month_start_s);
/* Local midnight of a calendar date; month 1..12. */
int64_t tu_local_date(int year, int month, int day);

/* Parse ISO 8601 "2026-03-29T02:30:00+02:00", "...Z", fractional seconds
 * ignored; a date "2026-03-29" or a time without offset is local time.
 * Returns 0 or -EINVAL. */
int tu_parse_iso(const char *s, int64_t *ret_ts_s);

/* What tu_parse_iso_info() read besides the instant, for callers that
 * must refuse what tu_parse_iso() tolerates. */
struct tu_iso_info {
    bool has_time;    /* a time of day was given, not only a date */
    bool has_offset;  /* "Z" or an offset was given: the instant does not depend on the
                         zone (a local time is ambiguous or missing at DST changes) */
    bool leap_second; /* the seconds were 60: the instant is the next second's */
};

/* tu_parse_iso(), also filling *ret_info when not NULL (both untouched on
 * failure). */
int tu_parse_iso_info(const char *s, int64_t *ret_ts_s, struct tu_iso_info *ret_info);

/* Format as local time with offset "2026-03-29T03:00:00+02:00" into buf
 * (at least 32 bytes).  Returns buf. */
char *tu_format_local(int64_t ts_s, char *buf, size_t len);
/* Format as UTC "2026-03-29T01:00:00Z". */
char *tu_format_utc(int64_t ts_s, char *buf, size_t len);

/* Monotonic clock in milliseconds, and wall clock in seconds. */
int64_t tu_mono_ms(void);
int64_t tu_now_s(void);

/* A condition variable whose timed waits count on CLOCK_MONOTONIC, so that
 * a wall-clock step (NTP at boot on a gateway without a real-time clock)
 * never stretches or cuts a wait.  0 or -errno. */
int tu_cond_init_monotonic(pthread_cond_t *cond);

/* The absolute time for pthread_cond_timedwait() on such a condition
 * variable, at monotonic instant mono_ms (a tu_mono_ms() value). */
struct timespec tu_mono_timespec(int64_t mono_ms);

/* The next wait of an exponential backoff: cur doubled, at most max (any
 * unit, both > 0; no overflow whatever cur).  Every retry loop of foyerd
 * (the writer's commits, Modbus connects and polls, MQTT connects, push
 * deliveries) grows its wait this one way. */
int64_t tu_backoff_next(int64_t cur, int64_t max);

#endif
