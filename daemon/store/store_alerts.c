/*
 * store_alerts.c - the alerts table, written by the alert engine and by
 * hand (foyerctl alerts ack|close), each on a connection of its own: the
 * store's documented owner of that table beside the writer and the pusher
 * (include/foyer/store_alerts.h says why; daemon/store/store.c describes
 * the table).
 *
 * Every statement of a handle is prepared once at open and reset after each
 * use, so a handle holds no read transaction between calls.  Each call is
 * one statement, so one short transaction, unless the caller groups calls
 * with store_alerts_begin() and store_alerts_commit() (the alert engine,
 * one transaction per step of its pass: one commit, not one per alert).
 * The reads for other handles (store_read_alerts(),
 * store_read_alerts_open()) prepare their statement at each call: a page
 * or a metrics scrape, not a hot path.
 */
#include "foyer/store_alerts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "foyer/limits.h"
#include "store_int.h"

#define ALERT_COLS                                                                                 \
    "id, kind, subject, severity, building, dwelling, channel, state, opened, last_seen,"          \
    " acked, ack_by, ack_note, closed, closed_by, value, threshold, text_fr, text_en"

/* The selection of store_alerts_list(): ?1 all (1) or not closed (0),
 * ?2 building or NULL, ?3 dwelling or NULL. */
#define ALERT_LIST_SQL                                                                             \
    "SELECT " ALERT_COLS " FROM alerts WHERE (?1 = 1 OR state < 2)"                                \
    " AND (?2 IS NULL OR building = ?2) AND (?3 IS NULL OR dwelling = ?3) ORDER BY id"

enum {
    AST_LATEST,
    AST_ADD,
    AST_SEEN,
    AST_ACK,
    AST_CLOSE,
    AST_STATE,
    AST_LIST,
    AST_BEGIN,
    AST_COMMIT,
    AST_ROLLBACK,
    AST_QUEUE,
    AST_COUNT_
};

static const char *const alerts_sql[AST_COUNT_] = {
    [AST_LATEST] = "SELECT id, state, opened, last_seen, acked, closed FROM alerts"
                   " WHERE kind = ?1 AND subject = ?2 ORDER BY id DESC LIMIT 1",
    /* Not for a dwelling erased after the alert's first hour (erasures):
     * the alert was judged from data read before the erasure. */
    [AST_ADD] = "INSERT INTO alerts(kind, subject, severity, building, dwelling, channel, state,"
                " opened, last_seen, value, threshold, text_fr, text_en)"
                " SELECT ?1, ?2, ?3, ?4, ?5, ?6, 0, ?7, ?8, ?9, ?10, ?11, ?12"
                " WHERE ?5 IS NULL OR NOT EXISTS (SELECT 1 FROM erasures"
                " WHERE dwelling = ?5 AND cut > ?7)",
    [AST_SEEN] = "UPDATE alerts SET last_seen = max(last_seen, ?2) WHERE id = ?1",
    /* 1 acknowledged, 2 closed (enum store_alert_state). */
    [AST_ACK] = "UPDATE alerts SET state = 1, acked = ?2, ack_by = ?3, ack_note = ?4"
                " WHERE id = ?1 AND state < 2",
    [AST_CLOSE] = "UPDATE alerts SET state = 2, closed = ?2, closed_by = ?3"
                  " WHERE id = ?1 AND state < 2",
    [AST_STATE] = "SELECT state FROM alerts WHERE id = ?1",
    [AST_LIST] = ALERT_LIST_SQL,
    [AST_BEGIN] = "BEGIN IMMEDIATE",
    [AST_COMMIT] = "COMMIT",
    [AST_ROLLBACK] = "ROLLBACK",
    /* The pusher's outbox (store_outbox.c): the same rows as a summary's,
     * a key once per endpoint. */
    [AST_QUEUE] = "INSERT OR IGNORE INTO outbox(endpoint, key, dwelling, body, created)"
                  " SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS (SELECT 1 FROM alerts WHERE id = ?6)",
};

struct store_alerts {
    sqlite3 *db;
    sqlite3_stmt *st[AST_COUNT_];
    char errmsg[512];
};

static _Thread_local char open_msg[512];

static int alerts_errno(int rc)
{
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_sqlite_errno(rc);
}

static int fail(struct store_alerts *a, int rc)
{
    (void)snprintf(a->errmsg, sizeof(a->errmsg), "%s", sqlite3_errmsg(a->db));
    return alerts_errno(rc);
}

static int run(struct store_alerts *a, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    int err = rc == SQLITE_DONE ? 0 : fail(a, rc);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return err;
}

int store_alerts_open(const char *path, struct store_alerts **ret, const char **ret_err_msg)
{
    const char *dummy = NULL;
    const char **msg = ret_err_msg ? ret_err_msg : &dummy;
    struct store_alerts *a = calloc(1, sizeof(*a));
    int rc;

    open_msg[0] = '\0';
    *msg = open_msg;
    if (!a) {
        (void)snprintf(open_msg, sizeof(open_msg), "out of memory");
        return -ENOMEM;
    }
    rc = store_open_stmts(path, STORE_ALERTS_BUSY_MS, alerts_sql, AST_COUNT_, a->st, open_msg,
                          sizeof(open_msg), &a->db);
    if (rc < 0) {
        if (strstr(open_msg, "no such table"))
            (void)snprintf(open_msg, sizeof(open_msg), "%s",
                           "the database has no alerts table yet: start foyerd once to upgrade it");
        store_alerts_close(a);
        return rc;
    }
    *msg = NULL;
    *ret = a;
    return 0;
}

void store_alerts_close(struct store_alerts *a)
{
    if (!a)
        return;
    for (int i = 0; i < AST_COUNT_; i++)
        sqlite3_finalize(a->st[i]);
    sqlite3_close(a->db);
    free(a);
}

const char *store_alerts_errmsg(const struct store_alerts *a)
{
    return a->errmsg[0] ? a->errmsg : sqlite3_errmsg(a->db);
}

int store_alerts_latest(struct store_alerts *a, const char *kind, const char *subject,
                        struct store_alert *ret)
{
    sqlite3_stmt *st = a->st[AST_LATEST];
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, subject, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *ret = (struct store_alert){
            .id = sqlite3_column_int64(st, 0),
            .state = (enum store_alert_state)sqlite3_column_int(st, 1),
            .opened_s = sqlite3_column_int64(st, 2),
            .last_seen_s = sqlite3_column_int64(st, 3),
            .acked_s = sqlite3_column_int64(st, 4),
            .closed_s = sqlite3_column_int64(st, 5),
        };
        rc = 0;
    } else {
        rc = rc == SQLITE_DONE ? -ENOENT : fail(a, rc);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

int store_alerts_add(struct store_alerts *a, const struct store_alert *al, int64_t *ret_id)
{
    sqlite3_stmt *st = a->st[AST_ADD];
    sqlite3_bind_text(st, 1, al->kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, al->subject, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, al->severity, -1, SQLITE_STATIC);
    bind_text_or_null(st, 4, al->building);
    bind_text_or_null(st, 5, al->dwelling);
    bind_text_or_null(st, 6, al->channel);
    sqlite3_bind_int64(st, 7, al->opened_s);
    sqlite3_bind_int64(st, 8, al->last_seen_s);
    sqlite3_bind_double(st, 9, al->value);
    sqlite3_bind_double(st, 10, al->threshold);
    sqlite3_bind_text(st, 11, al->text_fr ? al->text_fr : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 12, al->text_en ? al->text_en : "", -1, SQLITE_STATIC);
    int rc = run(a, st);
    if (rc == 0 && sqlite3_changes(a->db) == 0) {
        (void)snprintf(a->errmsg, sizeof(a->errmsg),
                       "dwelling %s was erased after %lld: alert not stored", al->dwelling,
                       (long long)al->opened_s);
        return -ECANCELED;
    }
    if (rc == 0)
        *ret_id = sqlite3_last_insert_rowid(a->db);
    return rc;
}

int store_alerts_seen(struct store_alerts *a, int64_t id, int64_t seen_s)
{
    sqlite3_stmt *st = a->st[AST_SEEN];
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, seen_s);
    return run(a, st);
}

/* After an UPDATE that changed nothing: -ENOENT (no such id) or -EALREADY
 * (closed). */
static int why_unchanged(struct store_alerts *a, int64_t id)
{
    sqlite3_stmt *st = a->st[AST_STATE];
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    int err = rc == SQLITE_ROW ? -EALREADY : rc == SQLITE_DONE ? -ENOENT : fail(a, rc);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (err == -ENOENT)
        (void)snprintf(a->errmsg, sizeof(a->errmsg), "no alert %lld", (long long)id);
    else if (err == -EALREADY)
        (void)snprintf(a->errmsg, sizeof(a->errmsg), "alert %lld is closed", (long long)id);
    return err;
}

int store_alerts_ack(struct store_alerts *a, int64_t id, const char *who, const char *note,
                     int64_t now_s)
{
    sqlite3_stmt *st = a->st[AST_ACK];
    if (!who || !*who || strlen(who) > FOYER_ALERT_WHO_MAX ||
        (note && strlen(note) > FOYER_ALERT_NOTE_MAX)) {
        (void)snprintf(a->errmsg, sizeof(a->errmsg),
                       "the name (1 to %d bytes) or the note (at most %d bytes) is too long or "
                       "empty",
                       FOYER_ALERT_WHO_MAX, FOYER_ALERT_NOTE_MAX);
        return -EMSGSIZE;
    }
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, now_s);
    sqlite3_bind_text(st, 3, who, -1, SQLITE_STATIC);
    bind_text_or_null(st, 4, note);
    int rc = run(a, st);
    if (rc == 0 && sqlite3_changes(a->db) == 0)
        rc = why_unchanged(a, id);
    return rc;
}

int store_alerts_close_one(struct store_alerts *a, int64_t id, const char *by, int64_t closed_s)
{
    sqlite3_stmt *st = a->st[AST_CLOSE];
    if (!by || !*by || strlen(by) > FOYER_ALERT_WHO_MAX) {
        (void)snprintf(a->errmsg, sizeof(a->errmsg), "the name must be 1 to %d bytes",
                       FOYER_ALERT_WHO_MAX);
        return -EMSGSIZE;
    }
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, closed_s);
    sqlite3_bind_text(st, 3, by, -1, SQLITE_STATIC);
    int rc = run(a, st);
    if (rc == 0 && sqlite3_changes(a->db) == 0)
        rc = why_unchanged(a, id);
    return rc;
}

int store_alerts_begin(struct store_alerts *a)
{
    return run(a, a->st[AST_BEGIN]);
}

int store_alerts_commit(struct store_alerts *a)
{
    return run(a, a->st[AST_COMMIT]);
}

void store_alerts_rollback(struct store_alerts *a)
{
    if (!sqlite3_get_autocommit(a->db))
        (void)sqlite3_step(a->st[AST_ROLLBACK]);
    sqlite3_reset(a->st[AST_ROLLBACK]);
}

int store_alerts_queue(struct store_alerts *a, const struct store_alert_push *items, size_t n,
                       const char *const *endpoints, size_t n_endpoints, int64_t now_s,
                       uint64_t *ret_queued)
{
    sqlite3_stmt *st = a->st[AST_QUEUE];
    uint64_t queued = 0;
    /* An alert erased since it was listed (foyerctl erase meanwhile) is
     * not queued: the erasure took its outbox rows too (AST_QUEUE). */
    int rc = store_alerts_begin(a);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        for (size_t e = 0; rc == 0 && e < n_endpoints; e++) {
            sqlite3_bind_text(st, 1, endpoints[e], -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 2, items[i].key, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 3, items[i].dwelling ? items[i].dwelling : "", -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 4, items[i].body, -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 5, now_s);
            sqlite3_bind_int64(st, 6, items[i].id);
            rc = run(a, st);
            if (rc == 0)
                queued += (uint64_t)sqlite3_changes(a->db); /* 0: queued before */
        }
    }
    if (rc == 0)
        rc = store_alerts_commit(a);
    if (rc < 0) {
        store_alerts_rollback(a);
        return rc;
    }
    *ret_queued = queued;
    return 0;
}

static const char *col_text(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

/* Step st (ALERT_LIST_SQL) to the end, handing each row to fn: fn's
 * non-zero value, or 0 with *ret_rc = SQLite's last result (SQLITE_DONE
 * when every row was read). */
static int list_rows(sqlite3_stmt *st, const struct store_alert_filter *f,
                     int (*fn)(void *ctx, const struct store_alert *al), void *ctx, int *ret_rc)
{
    int rc;
    sqlite3_bind_int(st, 1, f && f->all ? 1 : 0);
    bind_text_or_null(st, 2, f ? f->building : NULL);
    bind_text_or_null(st, 3, f ? f->dwelling : NULL);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_alert al = {
            .id = sqlite3_column_int64(st, 0),
            .kind = col_text(st, 1),
            .subject = col_text(st, 2),
            .severity = col_text(st, 3),
            .building = col_text(st, 4),
            .dwelling = col_text(st, 5),
            .channel = col_text(st, 6),
            .state = (enum store_alert_state)sqlite3_column_int(st, 7),
            .opened_s = sqlite3_column_int64(st, 8),
            .last_seen_s = sqlite3_column_int64(st, 9),
            .acked_s = sqlite3_column_int64(st, 10),
            .ack_by = col_text(st, 11),
            .ack_note = col_text(st, 12),
            .closed_s = sqlite3_column_int64(st, 13),
            .closed_by = col_text(st, 14),
            .value = sqlite3_column_double(st, 15),
            .threshold = sqlite3_column_double(st, 16),
            .text_fr = col_text(st, 17),
            .text_en = col_text(st, 18),
        };
        int r = fn(ctx, &al);
        if (r != 0) {
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            return r;
        }
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    *ret_rc = rc;
    return 0;
}

int store_alerts_list(struct store_alerts *a, const struct store_alert_filter *f,
                      int (*fn)(void *ctx, const struct store_alert *al), void *ctx)
{
    int src = SQLITE_DONE;
    int rc = list_rows(a->st[AST_LIST], f, fn, ctx, &src);
    if (rc == 0 && src != SQLITE_DONE)
        return fail(a, src);
    return rc;
}

int store_read_alerts(struct store *s, const struct store_alert_filter *f,
                      int (*fn)(void *ctx, const struct store_alert *al), void *ctx)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->db, ALERT_LIST_SQL, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        store_note_error(s);
        return store_sqlite_errno(rc);
    }
    int src = SQLITE_DONE;
    rc = list_rows(st, f, fn, ctx, &src);
    if (rc == 0 && src != SQLITE_DONE) {
        store_note_error(s);
        rc = store_sqlite_errno(src);
    }
    sqlite3_finalize(st);
    return rc;
}

int store_read_alerts_open(struct store *s, int (*fn)(void *ctx, const char *kind, int64_t n),
                           void *ctx)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(
        s->db, "SELECT kind, count(*) FROM alerts WHERE state < 2 GROUP BY kind ORDER BY kind", -1,
        &st, NULL);
    if (rc != SQLITE_OK) {
        store_note_error(s);
        return store_sqlite_errno(rc);
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int r = fn(ctx, col_text(st, 0), sqlite3_column_int64(st, 1));
        if (r != 0) {
            sqlite3_finalize(st);
            return r;
        }
    }
    if (rc != SQLITE_DONE)
        store_note_error(s);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : store_sqlite_errno(rc);
}
