/*
 * util_log.c - leveled logging to stderr.
 *
 * One write(2) per line so lines of concurrent threads never interleave.
 * Under systemd (JOURNAL_STREAM set) each line starts with "<N>", the syslog
 * priority, which journald strips and files as the level; on a terminal the
 * line starts with the level name instead.
 */
#include "foyer/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Written by the main thread on SIGHUP while every thread reads it: an
 * atomic (relaxed: a line logged by the old level around a reload is fine). */
static atomic_int log_threshold = LOG_LVL_INFO;
static int log_journal; /* stderr is connected to journald */
static const char *log_ident = "foyer";

void log_init(const char *ident)
{
    log_ident = ident;
    log_journal = getenv("JOURNAL_STREAM") != NULL;
}

void log_set_level(enum log_level lvl)
{
    atomic_store_explicit(&log_threshold, (int)lvl, memory_order_relaxed);
}

bool log_set_level_name(const char *name)
{
    static const struct {
        const char *name;
        enum log_level lvl;
    } names[] = {{"error", LOG_LVL_ERR},
                 {"warning", LOG_LVL_WARNING},
                 {"info", LOG_LVL_INFO},
                 {"debug", LOG_LVL_DEBUG}};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(name, names[i].name) == 0) {
            log_set_level(names[i].lvl);
            return true;
        }
    }
    return false;
}

bool log_enabled(enum log_level lvl)
{
    return (int)lvl <= atomic_load_explicit(&log_threshold, memory_order_relaxed);
}

static const char *level_word(enum log_level lvl)
{
    switch (lvl) {
    case LOG_LVL_ERR:
        return "error";
    case LOG_LVL_WARNING:
        return "warning";
    case LOG_LVL_INFO:
        return "info";
    case LOG_LVL_DEBUG:
        return "debug";
    }
    return "?";
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
    char line[2048];
    int n;
    va_list ap;

    if (!log_enabled(lvl))
        return;
    if (log_journal)
        n = snprintf(line, sizeof(line), "<%d>", (int)lvl);
    else
        n = snprintf(line, sizeof(line), "%s: %s: ", log_ident, level_word(lvl));
    if (n < 0)
        return;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (m < 0)
        return;
    size_t len = (size_t)n + (size_t)m;
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2; /* truncated: still one whole line */
    line[len++] = '\n';
    (void)!write(STDERR_FILENO, line, len);
}

static pthread_mutex_t rl_lock = PTHREAD_MUTEX_INITIALIZER;

bool log_ratelimit_ok(struct log_ratelimit *rl, unsigned long *ret_suppressed)
{
    struct timespec now;
    bool ok;

    clock_gettime(CLOCK_MONOTONIC, &now);
    pthread_mutex_lock(&rl_lock);
    if (now.tv_sec - rl->window_start_s >= rl->period_s) {
        rl->window_start_s = now.tv_sec;
        rl->printed = 0;
    }
    ok = rl->printed < rl->burst;
    if (ok) {
        rl->printed++;
        *ret_suppressed = rl->suppressed;
        rl->suppressed = 0;
    } else {
        rl->suppressed++;
    }
    pthread_mutex_unlock(&rl_lock);
    return ok;
}
