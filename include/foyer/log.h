/*
 * log.h - leveled logging to stderr, one line per message, prefixed with the
 * syslog priority "<N>" when stderr is the journal (systemd sets
 * JOURNAL_STREAM), so journald files each line at its level.
 *
 * Only callers that know the context log: queue, store and decode functions
 * return errors and their caller logs once, with the context (bus=, unit=,
 * FILE:LINE).
 */
#ifndef FOYER_LOG_H
#define FOYER_LOG_H

#include <stdbool.h>

enum log_level { LOG_LVL_ERR = 3, LOG_LVL_WARNING = 4, LOG_LVL_INFO = 6, LOG_LVL_DEBUG = 7 };

void log_init(const char *ident);
/* Accepts "error", "warning", "info", "debug"; returns false on other names. */
bool log_set_level_name(const char *name);
void log_set_level(enum log_level lvl);
bool log_enabled(enum log_level lvl);

void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...)   log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARNING, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

/* A token bucket for messages that could repeat per item (a reading for an
 * unknown channel, a bad payload): at most `burst` lines, then one line per
 * `period_s`, with the number suppressed in between. */
struct log_ratelimit {
    int burst;
    int period_s;
    long long window_start_s;
    int printed;
    unsigned long suppressed;
};
#define LOG_RATELIMIT_INIT(b, p)                                                                   \
    {                                                                                              \
        (b), (p), 0, 0, 0                                                                          \
    }

/* True when the caller may log now; *ret_suppressed gets how many messages
 * were held back since the last one printed. Thread-safe. */
bool log_ratelimit_ok(struct log_ratelimit *rl, unsigned long *ret_suppressed);

#endif
