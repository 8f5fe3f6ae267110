/*
 * store_outbox.c - the summaries and outbox tables (and the push_given_up
 * events), written by the pusher on a connection of its own: the store's
 * documented second owner (include/foyer/store_outbox.h says why, and
 * daemon/store/store.c describes the tables).
 *
 * Data comes in from the pusher thread only: summaries to store and queue,
 * the result of each delivery attempt, expiries.  It goes out to it as the
 * head rows of the outbox, the items it may send now.  Every statement is
 * prepared once at open and reset after each use, so a handle holds no
 * read transaction between calls and WAL checkpoints are never held back.
 *
 * The pusher's transactions are short and never span network I/O; SQLite
 * serialises them with the writer's.  They do not change the ingest
 * generation (ingest_state.ingest_gen), so the writer keeps its cached
 * counter state across them.
 */
#include "foyer/store_outbox.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "foyer/limits.h"
#include "store_int.h"

enum {
    OST_BEGIN,
    OST_COMMIT,
    OST_ROLLBACK,
    OST_SUMMARY,
    OST_QUEUE,
    OST_EXPIRE,
    OST_EVENT,
    OST_HEADS,
    OST_RETRY,
    OST_CLOSE,
    OST_PURGE,
    OST_COUNT_
};

static const char *const outbox_sql[OST_COUNT_] = {
    [OST_BEGIN] = "BEGIN IMMEDIATE",
    [OST_COMMIT] = "COMMIT",
    [OST_ROLLBACK] = "ROLLBACK",
    /* Not for a dwelling erased after the period began (erasures): the
     * summary was computed from data read before the erasure.  The period
     * start as store_erase.c reads it (the body's period.start). */
    [OST_SUMMARY] = "INSERT OR REPLACE INTO summaries(dwelling, period, schema, computed, body)"
                    " SELECT ?1, ?2, ?3, ?4, ?5 WHERE NOT EXISTS (SELECT 1 FROM erasures"
                    " WHERE dwelling = ?1 AND cut > coalesce(CASE WHEN json_valid(?5) THEN"
                    " unixepoch(json_extract(?5, '$.period.start')) END, ?4))",
    [OST_QUEUE] = "INSERT OR IGNORE INTO outbox(endpoint, key, dwelling, body, created)"
                  " VALUES (?1, ?2, ?3, ?4, ?5)",
    /* state 0 pending, 2 given up (enum store_outbox_state). */
    [OST_EXPIRE] = "UPDATE outbox SET state = 2, body = '', last_error = 'expired'"
                   " WHERE state = 0 AND endpoint = ?1 AND created < ?2",
    [OST_EVENT] = "INSERT INTO events(ts, device, kind, detail, logged)"
                  " VALUES (?1, ?2, 'push_given_up', ?3, ?1)",
    /* The oldest pending item of each (endpoint, dwelling), by the index
     * outbox_pending(state, endpoint, dwelling, id). */
    [OST_HEADS] = "SELECT o.id, o.endpoint, o.key, o.body, o.attempts, o.next_try FROM outbox o"
                  " WHERE o.state = 0 AND NOT EXISTS (SELECT 1 FROM outbox e"
                  " WHERE e.state = 0 AND e.endpoint = o.endpoint AND e.dwelling = o.dwelling"
                  " AND e.id < o.id) ORDER BY o.id",
    [OST_RETRY] = "UPDATE outbox SET attempts = ?2, next_try = ?3, last_error = ?4 WHERE id = ?1",
    [OST_CLOSE] = "UPDATE outbox SET state = ?5, attempts = ?2, next_try = ?3, last_error = ?4,"
                  " body = '' WHERE id = ?1",
    /* A delivered row's next_try is its delivery time (store_outbox_set()). */
    [OST_PURGE] = "DELETE FROM outbox WHERE state = 1 AND next_try < ?1",
};

struct store_outbox {
    sqlite3 *db;
    sqlite3_stmt *st[OST_COUNT_];
    char errmsg[512]; /* the last failure's message (store_outbox_errmsg()) */
};

/* The message of a failed store_outbox_open(), for its caller. */
static _Thread_local char open_msg[512];

/* SQLite's result code as -errno, as store.h documents them; a step's
 * SQLITE_ROW and SQLITE_DONE are success. */
static int outbox_errno(int rc)
{
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_sqlite_errno(rc);
}

/* Keep SQLite's message of the failure that just happened, before a
 * ROLLBACK replaces it; return rc as -errno. */
static int fail(struct store_outbox *o, int rc)
{
    (void)snprintf(o->errmsg, sizeof(o->errmsg), "%s", sqlite3_errmsg(o->db));
    return outbox_errno(rc);
}

/* Run a statement that returns no row, and reset it. */
static int run(struct store_outbox *o, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    int err = rc == SQLITE_DONE ? 0 : fail(o, rc);
    sqlite3_reset(st);
    return err;
}

int store_outbox_open(const char *path, struct store_outbox **ret, const char **ret_err_msg)
{
    const char *dummy = NULL;
    const char **msg = ret_err_msg ? ret_err_msg : &dummy;
    struct store_outbox *o = calloc(1, sizeof(*o));
    int rc;

    open_msg[0] = '\0';
    *msg = open_msg;
    if (!o) {
        (void)snprintf(open_msg, sizeof(open_msg), "out of memory");
        return -ENOMEM;
    }
    rc = store_open_stmts(path, STORE_OUTBOX_BUSY_MS, outbox_sql, OST_COUNT_, o->st, open_msg,
                          sizeof(open_msg), &o->db);
    if (rc < 0) {
        store_outbox_close(o);
        return rc;
    }
    *msg = NULL;
    *ret = o;
    return 0;
}

void store_outbox_close(struct store_outbox *o)
{
    if (!o)
        return;
    for (int i = 0; i < OST_COUNT_; i++)
        sqlite3_finalize(o->st[i]);
    sqlite3_close(o->db);
    free(o);
}

const char *store_outbox_errmsg(const struct store_outbox *o)
{
    return o->errmsg[0] ? o->errmsg : sqlite3_errmsg(o->db);
}

int store_outbox_add(struct store_outbox *o, const struct store_outbox_summary *list, int schema,
                     const char *const *endpoints, size_t n_endpoints, int64_t now_s,
                     uint64_t *ret_queued, uint64_t *ret_refused)
{
    sqlite3_stmt *sum = o->st[OST_SUMMARY], *out = o->st[OST_QUEUE];
    uint64_t queued = 0, refused = 0;
    int rc = run(o, o->st[OST_BEGIN]);

    for (const struct store_outbox_summary *s = list; rc == 0 && s; s = s->next) {
        sqlite3_bind_text(sum, 1, s->dwelling, -1, SQLITE_STATIC);
        sqlite3_bind_text(sum, 2, s->period, -1, SQLITE_STATIC);
        sqlite3_bind_int(sum, 3, schema);
        sqlite3_bind_int64(sum, 4, now_s);
        sqlite3_bind_text(sum, 5, s->body, -1, SQLITE_STATIC);
        rc = run(o, sum);
        bool stored = rc == 0 && sqlite3_changes(o->db) > 0;
        if (rc == 0 && !stored)
            refused++; /* erased after its period began: neither stored nor queued */
        for (size_t i = 0; stored && rc == 0 && i < n_endpoints; i++) {
            sqlite3_bind_text(out, 1, endpoints[i], -1, SQLITE_STATIC);
            sqlite3_bind_text(out, 2, s->key, -1, SQLITE_STATIC);
            sqlite3_bind_text(out, 3, s->dwelling, -1, SQLITE_STATIC);
            sqlite3_bind_text(out, 4, s->body, -1, SQLITE_STATIC);
            sqlite3_bind_int64(out, 5, now_s);
            rc = run(o, out);
            if (rc == 0)
                queued += (uint64_t)sqlite3_changes(o->db); /* 0: already queued */
        }
    }
    if (rc == 0)
        rc = run(o, o->st[OST_COMMIT]);
    /* The texts were bound without a copy: unbind them before the call
     * returns and the caller frees them. */
    sqlite3_clear_bindings(sum);
    sqlite3_clear_bindings(out);
    if (rc < 0) {
        if (!sqlite3_get_autocommit(o->db))
            (void)sqlite3_step(o->st[OST_ROLLBACK]);
        sqlite3_reset(o->st[OST_ROLLBACK]);
        return rc;
    }
    *ret_queued = queued;
    if (ret_refused)
        *ret_refused = refused;
    return 0;
}

int store_outbox_expire(struct store_outbox *o, const char *endpoint, int64_t created_before_s,
                        int64_t *ret_n)
{
    sqlite3_stmt *st = o->st[OST_EXPIRE];
    sqlite3_bind_text(st, 1, endpoint, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, created_before_s);
    int rc = run(o, st);
    if (rc == 0)
        *ret_n = sqlite3_changes(o->db);
    return rc;
}

int store_outbox_event_given_up(struct store_outbox *o, const char *endpoint, const char *detail,
                                int64_t now_s)
{
    sqlite3_stmt *st = o->st[OST_EVENT];
    char dev[FOYER_ID_MAX + 8];
    int n = snprintf(dev, sizeof(dev), "push:%s", endpoint);
    if (n < 0 || (size_t)n >= sizeof(dev)) {
        (void)snprintf(o->errmsg, sizeof(o->errmsg), "endpoint ID longer than %d bytes",
                       FOYER_ID_MAX);
        return -EINVAL;
    }
    sqlite3_bind_int64(st, 1, now_s);
    sqlite3_bind_text(st, 2, dev, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, detail, -1, SQLITE_TRANSIENT);
    return run(o, st);
}

int store_outbox_heads(struct store_outbox *o,
                       int (*fn)(void *ud, const struct store_outbox_row *row), void *ud)
{
    sqlite3_stmt *st = o->st[OST_HEADS];
    int rc = SQLITE_DONE, stop = 0;

    while (stop == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_outbox_row row = {
            .id = sqlite3_column_int64(st, 0),
            .endpoint = (const char *)sqlite3_column_text(st, 1),
            .key = (const char *)sqlite3_column_text(st, 2),
            .body = (const char *)sqlite3_column_text(st, 3),
            .attempts = sqlite3_column_int(st, 4),
            .next_try_s = sqlite3_column_int64(st, 5),
        };
        if (!row.endpoint || !row.key || !row.body) {
            /* The columns are NOT NULL: SQLite ran out of memory. */
            (void)snprintf(o->errmsg, sizeof(o->errmsg), "out of memory");
            sqlite3_reset(st);
            return -ENOMEM;
        }
        stop = fn(ud, &row);
    }
    int err = stop != 0 || rc == SQLITE_DONE ? 0 : fail(o, rc);
    sqlite3_reset(st);
    return stop != 0 ? stop : err;
}

int store_outbox_set(struct store_outbox *o, int64_t id, enum store_outbox_state state,
                     int attempts, int64_t next_try_s, const char *error)
{
    bool pending = state == STORE_OUTBOX_PENDING;
    sqlite3_stmt *st = o->st[pending ? OST_RETRY : OST_CLOSE];
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int(st, 2, attempts);
    sqlite3_bind_int64(st, 3, next_try_s);
    if (error)
        sqlite3_bind_text(st, 4, error, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, 4);
    if (!pending)
        sqlite3_bind_int(st, 5, (int)state);
    return run(o, st);
}

int store_outbox_purge(struct store_outbox *o, int64_t delivered_before_s, int64_t *ret_n)
{
    sqlite3_stmt *st = o->st[OST_PURGE];
    sqlite3_bind_int64(st, 1, delivered_before_s);
    int rc = run(o, st);
    if (rc == 0)
        *ret_n = sqlite3_changes(o->db);
    return rc;
}
