/*
 * store_read.c - the store's read API (include/foyer/store.h, "read API"):
 * every query another module runs on the database, so that no file
 * outside the store holds SQL or the connection.
 *
 * What reads what (the tables are described at the top of daemon/store/store.c):
 *   rollup_hour/day/month  store_read_rollups()        export, summaries
 *   readings               store_read_channel_status() foyerctl status
 *   devices                store_read_device_state(),  foyerctl status
 *                          store_read_devices()
 *   events, channels       store_read_events()         foyerctl events
 *   summaries              store_read_summary()        summaries (tips shown
 *                                                      last period), scheduler
 *   outbox                 store_read_outbox_pending() /metrics
 *
 * Statements are prepared on a handle the first time they are used and kept
 * (SQLITE_PREPARE_PERSISTENT) until store_close(): the summary engine runs
 * the rollup reads tens of thousands of times per scheduler run.  Each call
 * resets its statement before returning, so no read transaction stays open
 * between calls (an open one would hold the WAL back from checkpointing).
 * Reading statuses are bound from enum reading_status once, when the
 * statement is prepared: the SQL carries no status numbers.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "foyer/counter.h"
#include "foyer/store.h"
#include "foyer/store_outbox.h"
#include "store_int.h"

enum {
    RD_HOUR, /* RD_HOUR + enum store_gran: rollup rows of a channel in a range */
    RD_DAY,
    RD_MONTH,
    RD_HOUR_MINMAX, /* RD_HOUR_MINMAX + enum store_gran: the same with min and max */
    RD_DAY_MINMAX,
    RD_MONTH_MINMAX,
    RD_LAST,           /* a channel's newest reading taken as valid */
    RD_HELD,           /* a held reading after a time */
    RD_DEVICE_STATE,   /* one device's state */
    RD_DEVICES,        /* every device's health */
    RD_EVENTS,         /* events since a time */
    RD_SUMMARY,        /* a stored summary's body */
    RD_HAS_SUMMARY,    /* whether a summary is stored */
    RD_OUTBOX_PENDING, /* outbox items still to deliver */
    RD_COUNT_
};

/* Rollup rows: ?1 channel db id, [?2, ?3) period starts.  min and max
 * (NULL for counters) only when asked for: decoding two more columns of
 * every row made the summary engine, which reads hours by the hundred
 * thousand and only adds them up, a quarter slower. */
#define ROLLUP_RANGE(cols, table)                                                                  \
    "SELECT " cols " FROM " table " WHERE channel = ?1 AND ts >= ?2 AND ts < ?3 ORDER BY ts"

static const char *const rd_sql[RD_COUNT_] = {
    [RD_HOUR] = ROLLUP_RANGE("ts, sum, n", "rollup_hour"),
    [RD_DAY] = ROLLUP_RANGE("ts, sum, n", "rollup_day"),
    [RD_MONTH] = ROLLUP_RANGE("ts, sum, n", "rollup_month"),
    [RD_HOUR_MINMAX] = ROLLUP_RANGE("ts, sum, n, min, max", "rollup_hour"),
    [RD_DAY_MINMAX] = ROLLUP_RANGE("ts, sum, n, min, max", "rollup_day"),
    [RD_MONTH_MINMAX] = ROLLUP_RANGE("ts, sum, n, min, max", "rollup_month"),
    /* ?2..?4: the statuses counter_status_taken() says yes to. */
    [RD_LAST] = "SELECT ts, value FROM readings WHERE channel = ?1 AND status IN (?2, ?3, ?4)"
                " ORDER BY ts DESC LIMIT 1",
    /* ?3, ?4: the held statuses. */
    [RD_HELD] = "SELECT 1 FROM readings WHERE channel = ?1 AND ts > ?2 AND status IN (?3, ?4)"
                " LIMIT 1",
    [RD_DEVICE_STATE] = "SELECT state FROM devices WHERE name = ?1",
    [RD_DEVICES] = "SELECT name, kind, state, since, last_success, polls, timeouts, crc_errors,"
                   " exceptions, bad_values, other_errors, response_ms FROM devices"
                   " ORDER BY kind, name",
    [RD_EVENTS] = "SELECT e.ts, c.name, e.device, e.kind, e.value, e.prev_value, e.detail"
                  " FROM events e LEFT JOIN channels c ON c.id = e.channel"
                  " WHERE e.ts >= ?1 ORDER BY e.ts, e.id",
    [RD_SUMMARY] = "SELECT body FROM summaries WHERE dwelling = ?1 AND period = ?2",
    /* Without reading the body (several overflow pages). */
    [RD_HAS_SUMMARY] = "SELECT 1 FROM summaries WHERE dwelling = ?1 AND period = ?2",
    /* ?1: STORE_OUTBOX_PENDING; by the index outbox_pending(state, ...). */
    [RD_OUTBOX_PENDING] = "SELECT count(*) FROM outbox WHERE state = ?1",
};

struct store_read {
    sqlite3_stmt *st[RD_COUNT_];
};

void store_read_free(struct store_read *r)
{
    if (!r)
        return;
    for (int i = 0; i < RD_COUNT_; i++)
        sqlite3_finalize(r->st[i]);
    free(r);
}

/* Parameters fixed for the statement's life: bindings survive a reset. */
static void bind_constants(int which, sqlite3_stmt *st)
{
    if (which == RD_LAST) {
        sqlite3_bind_int(st, 2, RS_ACCEPTED);
        sqlite3_bind_int(st, 3, RS_BASELINE);
        sqlite3_bind_int(st, 4, RS_UNCHANGED);
    } else if (which == RD_HELD) {
        sqlite3_bind_int(st, 3, RS_HELD_LOW);
        sqlite3_bind_int(st, 4, RS_HELD_JUMP);
    }
}

/* *ret = the statement which of the handle, prepared on first use.
 * 0 or -errno. */
static int stmt_get(struct store *s, int which, sqlite3_stmt **ret)
{
    struct store_read **slot = store_read_slot(s);
    if (!*slot) {
        *slot = calloc(1, sizeof(**slot));
        if (!*slot)
            return -ENOMEM;
    }
    sqlite3_stmt **st = &(*slot)->st[which];
    if (!*st) {
        int rc =
            sqlite3_prepare_v3(store_db(s), rd_sql[which], -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
        if (rc != SQLITE_OK) {
            store_note_error(s);
            return store_sqlite_errno(rc);
        }
        bind_constants(which, *st);
    }
    *ret = *st;
    return 0;
}

/* End a scan whose last sqlite3_step() returned step_rc: keep the failure's
 * message, reset the statement (ending its read transaction).  0 when the
 * scan ran to its end (or stopped at a row), else -errno. */
static int scan_end(struct store *s, sqlite3_stmt *st, int step_rc)
{
    int rc = 0;
    if (step_rc != SQLITE_DONE && step_rc != SQLITE_ROW) {
        store_note_error(s);
        rc = store_sqlite_errno(step_rc);
    }
    sqlite3_reset(st);
    return rc;
}

/* A column that may be NULL, as a double: NaN for NULL. */
static double column_or_nan(sqlite3_stmt *st, int col)
{
    return sqlite3_column_type(st, col) == SQLITE_NULL ? NAN : sqlite3_column_double(st, col);
}

static const char *column_text(sqlite3_stmt *st, int col)
{
    return (const char *)sqlite3_column_text(st, col);
}

int store_read_rollups(struct store *s, enum store_gran g, uint32_t cfg_channel, int64_t from_s,
                       int64_t to_s, unsigned flags,
                       int (*fn)(void *ctx, const struct store_rollup *row), void *ctx)
{
    int64_t chan = store_channel_id(s, cfg_channel);
    bool minmax = flags & STORE_READ_MINMAX;
    sqlite3_stmt *st = NULL;
    if ((unsigned)g > STORE_MONTH || (flags & ~(unsigned)STORE_READ_MINMAX))
        return -EINVAL;
    if (chan < 0)
        return 0;
    int rc = stmt_get(s, (minmax ? RD_HOUR_MINMAX : RD_HOUR) + (int)g, &st);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, chan);
    sqlite3_bind_int64(st, 2, from_s);
    sqlite3_bind_int64(st, 3, to_s);
    int src = SQLITE_DONE, stop = 0;
    struct store_rollup row = {.min = NAN, .max = NAN};
    while (stop == 0 && (src = sqlite3_step(st)) == SQLITE_ROW) {
        row.ts_s = sqlite3_column_int64(st, 0);
        row.sum = sqlite3_column_double(st, 1);
        row.n = sqlite3_column_int64(st, 2);
        if (minmax) {
            row.min = column_or_nan(st, 3);
            row.max = column_or_nan(st, 4);
        }
        stop = fn(ctx, &row);
    }
    rc = scan_end(s, st, src);
    return stop ? stop : rc;
}

int store_read_channel_status(struct store *s, uint32_t cfg_channel,
                              struct store_channel_status *ret)
{
    struct store_channel_status cs = {0};
    int64_t chan = store_channel_id(s, cfg_channel);
    sqlite3_stmt *last = NULL, *held = NULL;
    if (chan < 0) {
        *ret = cs;
        return 0;
    }
    int rc = stmt_get(s, RD_LAST, &last);
    if (rc == 0)
        rc = stmt_get(s, RD_HELD, &held);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(last, 1, chan);
    int src = sqlite3_step(last);
    if (src == SQLITE_ROW) {
        cs.has_last = true;
        cs.last_ts_s = sqlite3_column_int64(last, 0);
        cs.last_value = sqlite3_column_double(last, 1);
    }
    rc = scan_end(s, last, src);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(held, 1, chan);
    sqlite3_bind_int64(held, 2, cs.has_last ? cs.last_ts_s : INT64_MIN);
    src = sqlite3_step(held);
    cs.held = src == SQLITE_ROW;
    rc = scan_end(s, held, src);
    if (rc < 0)
        return rc;
    *ret = cs;
    return 0;
}

int store_read_device_state(struct store *s, const char *device, char *buf, size_t len)
{
    sqlite3_stmt *st = NULL;
    int rc = stmt_get(s, RD_DEVICE_STATE, &st);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(st, 1, device, -1, SQLITE_STATIC);
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        const char *state = column_text(st, 0);
        (void)snprintf(buf, len, "%s", state ? state : "");
    }
    rc = scan_end(s, st, src);
    /* SQLITE_STATIC: the binding must not outlive the caller's string. */
    sqlite3_clear_bindings(st);
    if (rc < 0)
        return rc;
    return src == SQLITE_ROW ? 0 : -ENOENT;
}

int store_read_devices(struct store *s, int (*fn)(void *ctx, const struct device_health *h),
                       void *ctx)
{
    sqlite3_stmt *st = NULL;
    int rc = stmt_get(s, RD_DEVICES, &st);
    if (rc < 0)
        return rc;
    int src = SQLITE_DONE, stop = 0;
    while (stop == 0 && (src = sqlite3_step(st)) == SQLITE_ROW) {
        struct device_health h = {
            .kind = column_text(st, 1),
            .state = column_text(st, 2),
            .since_s = sqlite3_column_int64(st, 3),
            .last_success_s = sqlite3_column_int64(st, 4),
            .polls = (uint64_t)sqlite3_column_int64(st, 5),
            .timeouts = (uint64_t)sqlite3_column_int64(st, 6),
            .crc_errors = (uint64_t)sqlite3_column_int64(st, 7),
            .exceptions = (uint64_t)sqlite3_column_int64(st, 8),
            .bad_values = (uint64_t)sqlite3_column_int64(st, 9),
            .other_errors = (uint64_t)sqlite3_column_int64(st, 10),
            .response_ms = sqlite3_column_double(st, 11),
        };
        const char *name = column_text(st, 0);
        (void)snprintf(h.device, sizeof(h.device), "%s", name ? name : "");
        stop = fn(ctx, &h);
    }
    rc = scan_end(s, st, src);
    return stop ? stop : rc;
}

int store_read_events(struct store *s, int64_t since_s,
                      int (*fn)(void *ctx, const struct store_event *ev), void *ctx)
{
    sqlite3_stmt *st = NULL;
    int rc = stmt_get(s, RD_EVENTS, &st);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, since_s);
    int src = SQLITE_DONE, stop = 0;
    while (stop == 0 && (src = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_event ev = {
            .ts_s = sqlite3_column_int64(st, 0),
            .channel = column_text(st, 1),
            .device = column_text(st, 2),
            .kind = column_text(st, 3),
            .value = column_or_nan(st, 4),
            .prev_value = column_or_nan(st, 5),
            .detail = column_text(st, 6),
        };
        stop = fn(ctx, &ev);
    }
    rc = scan_end(s, st, src);
    return stop ? stop : rc;
}

int store_read_summary(struct store *s, const char *dwelling, const char *period, char **ret_body)
{
    sqlite3_stmt *st = NULL;
    char *body = NULL;
    int rc = stmt_get(s, ret_body ? RD_SUMMARY : RD_HAS_SUMMARY, &st);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(st, 1, dwelling, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, period, -1, SQLITE_STATIC);
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW && ret_body) {
        const char *text = column_text(st, 0);
        body = strdup(text ? text : "");
    }
    rc = scan_end(s, st, src);
    sqlite3_clear_bindings(st);
    if (rc == 0 && src == SQLITE_ROW && ret_body && !body)
        rc = -ENOMEM;
    if (rc < 0) {
        free(body);
        return rc;
    }
    if (src != SQLITE_ROW)
        return -ENOENT;
    if (ret_body)
        *ret_body = body;
    return 0;
}

int store_read_outbox_pending(struct store *s, int64_t *ret_n)
{
    sqlite3_stmt *st = NULL;
    int rc = stmt_get(s, RD_OUTBOX_PENDING, &st);
    if (rc < 0)
        return rc;
    sqlite3_bind_int(st, 1, STORE_OUTBOX_PENDING);
    int src = sqlite3_step(st);
    int64_t n = src == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    rc = scan_end(s, st, src);
    if (rc < 0)
        return rc;
    *ret_n = n;
    return 0;
}
