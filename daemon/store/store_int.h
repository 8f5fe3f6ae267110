/*
 * store_int.h - what the store's own files share (daemon/store/store.c and the
 * files of daemon/store/), beside the connection (foyer/store_private.h).  No
 * other file includes it.
 */
#ifndef FOYER_STORE_INT_H
#define FOYER_STORE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "foyer/counter.h"
#include "foyer/store_private.h"

struct store_ingest;
struct store_read;

/* A store handle.  Every field is the store room's; store.c opens, closes
 * and switches configs, store_ingest.c writes readings, store_read.c
 * reads. */
struct store {
    sqlite3 *db;
    bool readonly;
    const struct foyer_config *cfg;
    int64_t *chan_id;            /* db id per config channel, -1 unknown */
    struct counter_state *state; /* per config channel */
    struct store_ingest *ing;    /* the write path's statements and rollup buffers
                                    (store_ingest.c); NULL on a read-only handle */
    int64_t ingest_gen;          /* ingest_state.ingest_gen as this handle last read or wrote it */
    int64_t now_s;               /* wall clock at batch start */
    struct store_read *rd;       /* the read API's statements (store_read.c), NULL until used */
    sqlite3_stmt *auth_lookup;   /* store_auth_lookup()'s statement (store_auth.c), prepared
                                    at its first use: every HTTP request runs it */
    /* Why the last failed operation failed (see store_errmsg()): room for a
     * config refusal, FILE:LINE and what the channel holds. */
    char errmsg[1024];
};

/* Run a statement without results; -errno. */
int store_exec(sqlite3 *db, const char *sql);

/* Step a statement expected to return no row, and reset it; -errno. */
int store_step_done(sqlite3_stmt *st);

/* A write transaction failed: keep why (store_errmsg()), then undo it. */
void store_abort_txn(struct store *s);

/* The write path of a write handle (store_ingest.c): prepare its statements
 * and buffers, and free them (accepts NULL).  0 or -errno. */
int store_ingest_open(struct store *s);
void store_ingest_close(struct store_ingest *ing);

/* SQLite's result code as -errno: -ENOSPC full, -EBUSY locked, -ENOMEM,
 * -EACCES, -ENOENT, -EBADMSG damaged or not a database, -EIO otherwise. */
int store_sqlite_errno(int rc);

/* Keep SQLite's message of the failure that just happened on the handle,
 * for store_errmsg(). */
void store_note_error(struct store *s);

/* The read API's prepared statements of a handle (daemon/store/store_read.c):
 * the slot in the handle where they hang, NULL until the first read; freed
 * with store_read_free() by store_close() (accepts NULL). */
struct store_read **store_read_slot(struct store *s);
void store_read_free(struct store_read *r);

/* The run's tenancies on a connection (store_tenancy_read() without a
 * handle), for the store's own writers (store_consent.c). */
int store_tenancy_read_db(sqlite3 *db, const struct foyer_config *cfg, struct tenancy **ret,
                          size_t *ret_n);

/* Open path read-write for one call (foyerctl's changes, the HTTP API's
 * token writes), busy timeout busy_ms, and check it has this schema
 * (STORE_SCHEMA_VERSION).  0 or -errno: -ENOENT no file, -EBADMSG not a
 * foyer database, -ESTALE older schema, -EPROTO newer; msg (msg_len bytes)
 * says why, naming path.  *ret untouched on failure; caller closes it with
 * sqlite3_close(). */
int store_open_rw(const char *path, int busy_ms, char *msg, size_t msg_len, sqlite3 **ret);

/* Open path read-write for a long-lived handle (store_alerts.c,
 * store_uplink.c, store_outbox.c) or a call (store_people.c), busy timeout busy_ms, and prepare its
 * n statements sql[] (persistent) into ret_st[] (n slots, NULL on entry). 0 or -errno; on failure
 * msg (msg_len bytes; NULL with 0 to drop it) holds SQLite's message, every slot is NULL again and
 * *ret_db is untouched. */
int store_open_stmts(const char *path, int busy_ms, const char *const *sql, size_t n,
                     sqlite3_stmt **ret_st, char *msg, size_t msg_len, sqlite3 **ret_db);

/* A write connection for one call on a database of this schema, busy
 * timeout set (store_tenancy.c); *ret_err_msg says why on failure
 * (thread-local, until the next call). */
int store_open_call(const char *path, sqlite3 **ret, const char **ret_err_msg);

/* Protocol amendment 3 (docs/fleet.md): an erasure or a withdrawal that
 * must reach the central database, queued in uplink_outbox inside the
 * caller's transaction (store_erase.c, store_consent.c), so that the
 * record and its item commit together.  Callers build and queue items
 * only while [uplink] is configured, as the writer notes dirty rollups (an
 * erasure item holds the folded sums: it must not wait in an outbox
 * nothing sends).  body (consumed) is the item without its seq.  0 or
 * -errno (sqlite3_errmsg(db) says why, or -ENOMEM). */
struct json_t;
int store_uplink_queue_privacy(sqlite3 *db, const char *type, const char *key, struct json_t *body,
                               int64_t now_s);
/* The names of dwelling's channels (the protocol's channel ids) as a new
 * JSON array into *ret.  0 or -errno. */
int store_uplink_dwelling_channels(sqlite3 *db, const char *dwelling, struct json_t **ret);

#endif
