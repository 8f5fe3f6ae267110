/*
 * store.c - SQLite time-series storage: raw readings, rollups, events.
 *
 * SCHEMA (version 4, PRAGMA user_version; version 1 had channels to devices,
 * version 2 added summaries and outbox, version 3 ingest_state, version 4
 * ingest_state.ingest_gen)
 *
 *   channels(id INTEGER PRIMARY KEY, name TEXT UNIQUE, quantity, kind, unit,
 *            dwelling, building)
 *       One row per channel name ever configured; ids are never reused, so
 *       history survives a channel leaving and coming back to the config.
 *   readings(channel, ts, value, status) WITHOUT ROWID, key (channel, ts)
 *       Raw readings, UTC epoch seconds, in the stored unit.  status is an
 *       enum reading_status: dropped readings are kept (with their status)
 *       for data-quality review and so that an import run twice knows it
 *       has seen them.  Bounded by retention.
 *   rollup_hour / rollup_day / rollup_month(channel, ts, sum, n, min, max)
 *       WITHOUT ROWID, key (channel, ts).  ts is the UTC start of the UTC
 *       hour (a local hour: the zone's offsets are whole hours), of the local
 *       day, of the local month.  Counters: sum is the consumption, n the
 *       number of readings taken in the period, min/max NULL.  Gauges: sum
 *       and n of the values (mean = sum/n), min and max.  Kept forever.
 *   events(id, ts, channel, device, kind, value, prev_value, detail, logged)
 *       Counter events of a channel (resets, rollovers, dropped readings)
 *       and state changes of a device (meter offline, sensor stale).
 *   devices(name PRIMARY KEY, kind, state, since, last_success, polls,
 *           timeouts, crc_errors, exceptions, bad_values, other_errors,
 *           response_ms, updated)
 *       Latest health of each meter and sensor, as its driver reported it.
 *   summaries(dwelling TEXT, period TEXT, schema INTEGER, computed INTEGER,
 *             body TEXT) WITHOUT ROWID, key (dwelling, period)    [version 2]
 *       The coaching summary of a dwelling for a period ("2026-W47",
 *       "2026-11"), as the JSON that is pushed (docs/summary.md).  Written
 *       only by the pusher thread, on its own connection, through
 *       daemon/store/store_outbox.c (include/foyer/store_outbox.h); read
 *       through store_read_summary() by the summary engine (tips shown last
 *       period) and the scheduler (which are missing).
 *   outbox(id INTEGER PRIMARY KEY, endpoint TEXT, key TEXT, dwelling TEXT,
 *          body TEXT, created, attempts, next_try, state, last_error)
 *       UNIQUE(endpoint, key)                                     [version 2]
 *       One row per summary and push endpoint; key is the Idempotency-Key.
 *       state: 0 pending, 1 delivered, 2 given up (any answer but 2xx, 5xx,
 *       408 or 429, or older than the endpoint's max_age): enum
 *       store_outbox_state.  Rows of one (endpoint, dwelling) are sent in id
 *       order.  Written only by the pusher, likewise, which also appends an
 *       events row (kind push_given_up) when it gives up.
 *
 *   ingest_state(id = 1, queue_seq, db_id, ingest_gen)            [version 3]
 *       The sequence number of the last reading of foyerd's reading queue
 *       (daemon/ingest/ingest_queue.c) committed, written in the same transaction as the
 *       readings: at start the readings after it, still in the queue file,
 *       are committed again, and those up to it are not.  db_id, random at
 *       creation, is stamped in the queue file too: a queue file left by
 *       another (deleted, replaced) database is recognised.  ingest_gen
 *       [version 4] is raised by one in every store_ingest() transaction,
 *       whoever runs it (foyerd's writer, foyerctl import): see WRITE PATH.
 *
 *   A channel's quantity, kind, unit, dwelling and building never change
 *   once it holds data: sync_channels() refuses a config that would re-label
 *   stored history (store_check_channels()); a changed channel with no data
 *   yet is updated.
 *
 * WRITE PATH
 *   store_ingest() sorts a batch by (channel, ts), so each channel's
 *   readings are applied in time order and raw rows go into the B-tree in
 *   key order (each leaf page written once per batch).  Consumption is
 *   accumulated per (channel, hour) in memory during the batch and merged
 *   into the three rollup tables with one upsert per touched row at the end,
 *   in the same transaction: a crash leaves raw rows and rollups consistent.
 *
 *   Counter state (last accepted reading, held reading) is cached per
 *   channel and rebuilt from the readings table when unknown.  Another
 *   handle's ingest (foyerctl import next to foyerd) raises ingest_gen past
 *   the value this handle last wrote; the cache is then dropped inside the
 *   transaction, before any decision.  The generation, not PRAGMA
 *   data_version, because data_version changes with any other connection's
 *   commit: the pusher's (summaries, outbox) would drop every channel's
 *   state for nothing, three queries per channel to rebuild it.  Retention
 *   raises no generation: it keeps what counter state is made of (each
 *   channel's last accepted and held readings), and it runs in foyerd's
 *   writer, whose own commits never dropped its cache.
 *
 * READ PATH
 *   No file outside the store holds SQL or the connection.  Other modules
 *   read through the read API of store.h (daemon/store/store_read.c):
 *   rollups (export, summaries), stored summaries (summaries, scheduler),
 *   channel and device status (foyerctl status), events (foyerctl events).
 *   Its statements are prepared once per handle and finalised here, by
 *   store_close().  The pusher writes the summaries and outbox tables
 *   through daemon/store/store_outbox.c, on a connection of its own.
 *   tests/integration/layout_check.sh keeps SQL inside the store's files.
 */
#include "foyer/store.h"
#include "store_int.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "foyer/counter.h"
#include "foyer/limits.h"
#include "foyer/timeutil.h"

/* In-memory accumulation of one batch's rollup changes: a hash of (channel,
 * period) to its entry, by open addressing over idx, whose slots point into
 * the dense array e of the entries in the order they were made.  Clearing
 * touches only what the batch used (each entry knows its slot), and a table
 * that a batch of long spreads grew is shrunk back to its first size once
 * the batch is done: no large memset per batch, no memory kept for a
 * one-off. */
struct acc_entry {
    uint64_t key; /* channel db id << 32 | period start / 3600 */
    double sum;
    double min, max;
    uint32_t n;
    uint32_t slot; /* its slot in idx */
    bool gauge;
};

struct acc {
    struct acc_entry *e; /* [0, used): the entries; one block with idx after */
    uint32_t *idx;       /* cap slots: 1 + index into e, 0 empty */
    size_t cap;          /* a power of two */
    size_t cap0;         /* first capacity, shrunk back to after a batch */
    size_t used;
    bool indexed; /* idx points at e (false once sorted for the flush) */
};

enum {
    ST_INS_READING,
    ST_GET_READING,
    ST_SET_STATUS,
    ST_PREV,
    ST_NEXT,
    ST_HELD,
    ST_MAX_TS,
    ST_UP_HOUR,
    ST_UP_DAY,
    ST_UP_MONTH,
    ST_INS_EVENT,
    ST_EVENT_MORE,
    ST_INGEST_GEN,
    ST_INGEST_DONE,
    ST_COUNT_
};

/* Add a batch's changes to a rollup row: sums and counts add up, min and
 * max (gauges only; NULL for counters) widen. */
#define ROLLUP_UPSERT(table)                                                                       \
    "INSERT INTO " table "(channel, ts, sum, n, min, max) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"         \
    " ON CONFLICT DO UPDATE SET sum = sum + excluded.sum, n = n + excluded.n,"                     \
    " min = min(coalesce(min, excluded.min), excluded.min),"                                       \
    " max = max(coalesce(max, excluded.max), excluded.max)"

static const char *const stmt_sql[ST_COUNT_] = {
    [ST_INS_READING] = "INSERT INTO readings(channel, ts, value, status) VALUES (?1, ?2, ?3, ?4)",
    [ST_GET_READING] = "SELECT value, status FROM readings WHERE channel = ?1 AND ts = ?2",
    [ST_SET_STATUS] = "UPDATE readings SET status = ?3 WHERE channel = ?1 AND ts = ?2",
    [ST_PREV] = "SELECT ts, value, status FROM readings WHERE channel = ?1 AND ts < ?2"
                " AND status IN (0, 1) ORDER BY ts DESC LIMIT 1",
    [ST_NEXT] = "SELECT ts, value, status FROM readings WHERE channel = ?1 AND ts > ?2"
                " AND status IN (0, 1) ORDER BY ts LIMIT 1",
    [ST_HELD] = "SELECT ts, value, status FROM readings WHERE channel = ?1 AND ts > ?2"
                " AND status IN (2, 3) ORDER BY ts DESC LIMIT 1",
    [ST_MAX_TS] = "SELECT max(ts) FROM readings WHERE channel = ?1",
    [ST_UP_HOUR] = ROLLUP_UPSERT("rollup_hour"),
    [ST_UP_DAY] = ROLLUP_UPSERT("rollup_day"),
    [ST_UP_MONTH] = ROLLUP_UPSERT("rollup_month"),
    [ST_INS_EVENT] = "INSERT INTO events(ts, channel, kind, value, prev_value, detail, logged)"
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    /* The repeats of a rate-limited event (counter_limit_events). */
    [ST_EVENT_MORE] = "UPDATE events SET detail = ?4 WHERE channel = ?1 AND kind = ?2 AND ts = ?3",
    [ST_INGEST_GEN] = "SELECT ingest_gen FROM ingest_state WHERE id = 1",
    /* Every ingest: the new generation, and the queue position when foyerd's
     * writer gives one (NULL: foyerctl import leaves it). */
    [ST_INGEST_DONE] = "UPDATE ingest_state SET ingest_gen = ?1,"
                       " queue_seq = coalesce(?2, queue_seq) WHERE id = 1",
};

struct store {
    sqlite3 *db;
    bool readonly;
    const struct foyer_config *cfg;
    int64_t *chan_id;            /* db id per config channel, -1 unknown */
    struct counter_state *state; /* per config channel */
    sqlite3_stmt *st[ST_COUNT_];
    struct acc hours;      /* this batch's rollup changes */
    struct acc scratch;    /* day/month merge at commit */
    int64_t ingest_gen;    /* ingest_state.ingest_gen as this handle last read or wrote it */
    int64_t now_s;         /* wall clock at batch start */
    struct store_read *rd; /* the read API's statements (store_read.c), NULL until used */
    /* Why the last failed operation failed (see store_errmsg()): room for a
     * config refusal, FILE:LINE and what the channel holds. */
    char errmsg[1024];
};

/* The message of a failed store_open*(), for its caller (see store.h). */
static _Thread_local char open_msg[6144];

static const char *const schema_v1[] = {
    "CREATE TABLE channels(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
    " quantity TEXT NOT NULL, kind TEXT NOT NULL, unit TEXT NOT NULL,"
    " dwelling TEXT, building TEXT)",
    "CREATE TABLE readings(channel INTEGER NOT NULL, ts INTEGER NOT NULL,"
    " value REAL NOT NULL, status INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY(channel, ts)) WITHOUT ROWID",
    "CREATE TABLE rollup_hour(channel INTEGER NOT NULL, ts INTEGER NOT NULL,"
    " sum REAL NOT NULL, n INTEGER NOT NULL, min REAL, max REAL,"
    " PRIMARY KEY(channel, ts)) WITHOUT ROWID",
    "CREATE TABLE rollup_day(channel INTEGER NOT NULL, ts INTEGER NOT NULL,"
    " sum REAL NOT NULL, n INTEGER NOT NULL, min REAL, max REAL,"
    " PRIMARY KEY(channel, ts)) WITHOUT ROWID",
    "CREATE TABLE rollup_month(channel INTEGER NOT NULL, ts INTEGER NOT NULL,"
    " sum REAL NOT NULL, n INTEGER NOT NULL, min REAL, max REAL,"
    " PRIMARY KEY(channel, ts)) WITHOUT ROWID",
    "CREATE TABLE events(id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, channel INTEGER,"
    " device TEXT, kind TEXT NOT NULL, value REAL, prev_value REAL, detail TEXT,"
    " logged INTEGER NOT NULL)",
    "CREATE INDEX events_ts ON events(ts)",
    "CREATE TABLE devices(name TEXT PRIMARY KEY, kind TEXT NOT NULL, state TEXT NOT NULL,"
    " since INTEGER, last_success INTEGER, polls INTEGER, timeouts INTEGER,"
    " crc_errors INTEGER, exceptions INTEGER, bad_values INTEGER, other_errors INTEGER,"
    " response_ms REAL, updated INTEGER NOT NULL)",
    NULL,
};

/* Version 2: coaching summaries and the push outbox (daemon/push/push.c). */
static const char *const schema_v2[] = {
    "CREATE TABLE summaries(dwelling TEXT NOT NULL, period TEXT NOT NULL,"
    " schema INTEGER NOT NULL, computed INTEGER NOT NULL, body TEXT NOT NULL,"
    " PRIMARY KEY(dwelling, period)) WITHOUT ROWID",
    "CREATE TABLE outbox(id INTEGER PRIMARY KEY, endpoint TEXT NOT NULL, key TEXT NOT NULL,"
    " dwelling TEXT NOT NULL, body TEXT NOT NULL, created INTEGER NOT NULL,"
    " attempts INTEGER NOT NULL DEFAULT 0, next_try INTEGER NOT NULL DEFAULT 0,"
    " state INTEGER NOT NULL DEFAULT 0, last_error TEXT, UNIQUE(endpoint, key))",
    "CREATE INDEX outbox_pending ON outbox(state, endpoint, dwelling, id)",
    NULL,
};

/* Version 3: the reading queue's committed sequence number (daemon/ingest/ingest_queue.c). */
static const char *const schema_v3[] = {
    "CREATE TABLE ingest_state(id INTEGER PRIMARY KEY CHECK (id = 1),"
    " queue_seq INTEGER NOT NULL, db_id INTEGER NOT NULL)",
    "INSERT INTO ingest_state(id, queue_seq, db_id) VALUES (1, 0, random())",
    NULL,
};

/* Version 4: the ingest generation, so that a writer's cached counter state
 * depends only on other handles' ingests (see WRITE PATH). */
static const char *const schema_v4[] = {
    "ALTER TABLE ingest_state ADD COLUMN ingest_gen INTEGER NOT NULL DEFAULT 0",
    NULL,
};

/* Forward migrations: migrations[v] takes the schema from v to v + 1. */
static const char *const *const migrations[] = {schema_v1, schema_v2, schema_v3, schema_v4};

static int sqlite_to_errno(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
        return 0;
    case SQLITE_FULL:
        return -ENOSPC;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return -EBUSY;
    case SQLITE_NOMEM:
        return -ENOMEM;
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
        return -EACCES;
    case SQLITE_CANTOPEN:
        return -ENOENT;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return -EBADMSG;
    default:
        return -EIO;
    }
}

static int exec(sqlite3 *db, const char *sql)
{
    return sqlite_to_errno(sqlite3_exec(db, sql, NULL, NULL, NULL));
}

static int step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : sqlite_to_errno(rc);
}

/* Keep SQLite's message of the failure that just happened, before a
 * ROLLBACK or another statement replaces it. */
static void note_error(struct store *s)
{
    snprintf(s->errmsg, sizeof(s->errmsg), "%s", sqlite3_errmsg(s->db));
}

/* A write transaction failed: keep why, then undo it. */
static void abort_txn(struct store *s)
{
    note_error(s);
    if (!sqlite3_get_autocommit(s->db))
        (void)exec(s->db, "ROLLBACK");
}

void ingest_stats_add(struct ingest_stats *to, const struct ingest_stats *from)
{
    uint64_t *t = (uint64_t *)to;
    const uint64_t *f = (const uint64_t *)from;
    for (size_t i = 0; i < sizeof(*to) / sizeof(uint64_t); i++)
        t[i] += f[i];
}

/* ---- rollup accumulator ------------------------------------------------ */

/* Entries a table of cap slots holds: 70 % load keeps probes short. */
static size_t acc_room(size_t cap)
{
    return cap / 10 * 7;
}

/* A table of cap slots, empty; NULL when out of memory. */
static struct acc_entry *acc_alloc(size_t cap, uint32_t **ret_idx)
{
    size_t room = acc_room(cap);
    struct acc_entry *e = malloc(room * sizeof(*e) + cap * sizeof(**ret_idx));
    if (!e)
        return NULL;
    *ret_idx = (uint32_t *)(e + room);
    memset(*ret_idx, 0, cap * sizeof(**ret_idx));
    return e;
}

static int acc_init(struct acc *a, size_t cap)
{
    *a = (struct acc){.cap = cap, .cap0 = cap, .indexed = true};
    a->e = acc_alloc(cap, &a->idx);
    return a->e ? 0 : -ENOMEM;
}

static uint64_t acc_hash(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return k;
}

/* The slot of key in idx, or the empty slot where it goes. */
static size_t acc_slot(const struct acc *a, uint64_t key)
{
    size_t mask = a->cap - 1;
    size_t i = (size_t)acc_hash(key) & mask;
    while (a->idx[i] && a->e[a->idx[i] - 1].key != key)
        i = (i + 1) & mask;
    return i;
}

/* Put the entries into a fresh table of cap slots (larger or smaller). */
static int acc_rehash(struct acc *a, size_t cap)
{
    uint32_t *idx;
    struct acc_entry *e = acc_alloc(cap, &idx);
    if (!e)
        return -ENOMEM;
    memcpy(e, a->e, a->used * sizeof(*e));
    free(a->e);
    a->e = e;
    a->idx = idx;
    a->cap = cap;
    for (size_t k = 0; k < a->used; k++) {
        size_t i = acc_slot(a, e[k].key);
        idx[i] = (uint32_t)(k + 1);
        e[k].slot = (uint32_t)i;
    }
    return 0;
}

/* Forget the batch: clear the slots it used, and give back what a large
 * batch made it grow (keeping the large table if that fails: it works). */
static void acc_clear(struct acc *a)
{
    if (a->indexed)
        for (size_t k = 0; k < a->used; k++)
            a->idx[a->e[k].slot] = 0;
    a->used = 0;
    a->indexed = true;
    if (a->cap > a->cap0)
        (void)acc_rehash(a, a->cap0);
}

/* The entry for key, created empty if needed; NULL on allocation failure. */
static struct acc_entry *acc_get(struct acc *a, uint64_t key)
{
    size_t i = acc_slot(a, key);
    if (a->idx[i])
        return &a->e[a->idx[i] - 1];
    if (a->used + 1 > acc_room(a->cap)) {
        if (acc_rehash(a, a->cap * 2) < 0)
            return NULL;
        i = acc_slot(a, key);
    }
    struct acc_entry *e = &a->e[a->used];
    *e = (struct acc_entry){.key = key, .slot = (uint32_t)i};
    a->idx[i] = (uint32_t)++a->used;
    return e;
}

/* Start of the UTC hour holding ts (also for ts before 1970). */
static int64_t hour_of(int64_t ts)
{
    return ts - (ts % 3600 + 3600) % 3600;
}

static uint64_t acc_key(int64_t chan, int64_t period_ts)
{
    return ((uint64_t)chan << 32) | (uint64_t)(period_ts / 3600);
}

static int acc_add_gauge(struct acc *a, int64_t chan, int64_t hour_ts, double v)
{
    struct acc_entry *e = acc_get(a, acc_key(chan, hour_ts));
    if (!e)
        return -ENOMEM;
    if (e->n == 0 || !e->gauge) {
        e->min = v;
        e->max = v;
    } else {
        e->min = fmin(e->min, v);
        e->max = fmax(e->max, v);
    }
    e->gauge = true;
    e->sum += v;
    e->n++;
    return 0;
}

static int acc_add(struct acc *a, int64_t chan, int64_t hour_ts, double amount, uint32_t n)
{
    struct acc_entry *e = acc_get(a, acc_key(chan, hour_ts));
    if (!e)
        return -ENOMEM;
    e->sum += amount;
    e->n += n;
    return 0;
}

/* Spread amount over [t0, t1) in proportion to time, hour by hour.  The
 * last hour takes the remainder so the hours add up to amount exactly. */
static int acc_spread(struct acc *a, int64_t chan, int64_t t0, int64_t t1, double amount)
{
    double left = amount;
    double span = (double)(t1 - t0);
    for (int64_t h = hour_of(t0); h < t1; h += 3600) {
        int64_t from = h > t0 ? h : t0;
        int64_t to = h + 3600 < t1 ? h + 3600 : t1;
        double part = h + 3600 >= t1 ? left : amount * (double)(to - from) / span;
        left -= part;
        int rc = acc_add(a, chan, h, part, 0);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int cmp_entry(const void *a, const void *b)
{
    uint64_t x = ((const struct acc_entry *)a)->key, y = ((const struct acc_entry *)b)->key;
    return x < y ? -1 : x > y;
}

/* The entries sorted by key (channel, time), so the upserts walk each rollup
 * B-tree in order.  The table can no longer be looked up: acc_clear() next. */
static size_t acc_compact_sorted(struct acc *a)
{
    for (size_t k = 0; k < a->used; k++)
        a->idx[a->e[k].slot] = 0;
    a->indexed = false;
    qsort(a->e, a->used, sizeof(*a->e), cmp_entry);
    return a->used;
}

static int upsert(sqlite3_stmt *st, const struct acc_entry *e)
{
    sqlite3_bind_int64(st, 1, (int64_t)(e->key >> 32));
    sqlite3_bind_int64(st, 2, (int64_t)(e->key & 0xffffffffu) * 3600);
    sqlite3_bind_double(st, 3, e->sum);
    sqlite3_bind_int64(st, 4, e->n);
    if (e->gauge) {
        sqlite3_bind_double(st, 5, e->min);
        sqlite3_bind_double(st, 6, e->max);
    } else {
        sqlite3_bind_null(st, 5);
        sqlite3_bind_null(st, 6);
    }
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : sqlite_to_errno(rc);
}

/* Merge entries into `into` keyed by the period start period_of(hour). */
static int acc_merge_period(struct acc *into, const struct acc_entry *src, size_t n,
                            int64_t (*period_of)(int64_t))
{
    for (size_t i = 0; i < n; i++) {
        int64_t chan = (int64_t)(src[i].key >> 32);
        int64_t hour = (int64_t)(src[i].key & 0xffffffffu) * 3600;
        struct acc_entry *e = acc_get(into, acc_key(chan, period_of(hour)));
        if (!e)
            return -ENOMEM;
        if (src[i].gauge) {
            if (e->n == 0 || !e->gauge) {
                e->min = src[i].min;
                e->max = src[i].max;
            } else {
                e->min = fmin(e->min, src[i].min);
                e->max = fmax(e->max, src[i].max);
            }
            e->gauge = true;
        }
        e->sum += src[i].sum;
        e->n += src[i].n;
    }
    return 0;
}

/* Write the batch's hourly changes, and their sums per local day and month. */
static int flush_rollups(struct store *s)
{
    size_t n = acc_compact_sorted(&s->hours);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = upsert(s->st[ST_UP_HOUR], &s->hours.e[i]);
    if (rc == 0)
        rc = acc_merge_period(&s->scratch, s->hours.e, n, tu_day_start);
    if (rc == 0) {
        size_t m = acc_compact_sorted(&s->scratch);
        for (size_t i = 0; i < m && rc == 0; i++)
            rc = upsert(s->st[ST_UP_DAY], &s->scratch.e[i]);
    }
    acc_clear(&s->scratch);
    if (rc == 0)
        rc = acc_merge_period(&s->scratch, s->hours.e, n, tu_month_start);
    if (rc == 0) {
        size_t m = acc_compact_sorted(&s->scratch);
        for (size_t i = 0; i < m && rc == 0; i++)
            rc = upsert(s->st[ST_UP_MONTH], &s->scratch.e[i]);
    }
    acc_clear(&s->scratch);
    acc_clear(&s->hours);
    return rc;
}

/* ---- open, schema, channels -------------------------------------------- */

static int migrate(sqlite3 *db, char *ret_msg, size_t len)
{
    sqlite3_stmt *st;
    int version = 0;
    int rc = sqlite_to_errno(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL));
    if (rc < 0)
        return rc;
    if (sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);

    if (version > STORE_SCHEMA_VERSION) {
        snprintf(ret_msg, len, "database schema is newer than this foyer: upgrade foyer");
        return -EPROTO;
    }
    for (int v = version; v < STORE_SCHEMA_VERSION; v++) {
        char sql[64];
        rc = exec(db, "BEGIN IMMEDIATE");
        for (const char *const *q = migrations[v]; rc == 0 && *q; q++)
            rc = exec(db, *q);
        snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
        if (rc == 0)
            rc = exec(db, sql);
        if (rc == 0)
            rc = exec(db, "COMMIT");
        if (rc < 0) {
            snprintf(ret_msg, len, "migrating the schema to version %d: %s", v + 1,
                     sqlite3_errmsg(db));
            (void)exec(db, "ROLLBACK");
            return rc;
        }
    }
    return 0;
}

/* Append "FILE:LINE: message" to errs (best effort: out of memory drops it,
 * the caller still sees the count). */
static void add_problem(struct conf_errors *errs, const struct conf_pos *pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void add_problem(struct conf_errors *errs, const struct conf_pos *pos, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    char **m = realloc(errs->msgs, (errs->n + 1) * sizeof(*m));
    if (!m)
        return;
    errs->msgs = m;
    if (asprintf(&m[errs->n], "%s:%d: %s", pos->file ? pos->file : "?", pos->line, text) >= 0)
        errs->n++;
}

static const char *or_none(const char *s)
{
    return s ? s : "none";
}

static bool same_text(const char *a, const unsigned char *b)
{
    if (!a || !b)
        return !a && !b;
    return strcmp(a, (const char *)b) == 0;
}

int store_check_channels(struct store *s, const struct foyer_config *cfg, struct conf_errors *errs)
{
    sqlite3_stmt *sel = NULL, *data = NULL;
    int rc = sqlite_to_errno(sqlite3_prepare_v2(
        s->db, "SELECT id, quantity, kind, unit, dwelling, building FROM channels WHERE name = ?1",
        -1, &sel, NULL));
    if (rc == 0)
        rc = sqlite_to_errno(
            sqlite3_prepare_v2(s->db,
                               "SELECT (SELECT count(*) FROM readings WHERE channel = ?1),"
                               " (SELECT count(*) FROM rollup_day WHERE channel = ?1)",
                               -1, &data, NULL));
    int problems = 0;
    for (size_t i = 0; rc == 0 && i < cfg->n_channels; i++) {
        const struct channel *c = &cfg->channels[i];
        const char *dw = c->dwelling >= 0 ? cfg->dwellings[c->dwelling].id : NULL;
        const char *bd = c->building >= 0 ? cfg->buildings[c->building].id : NULL;
        sqlite3_bind_text(sel, 1, c->id, -1, SQLITE_STATIC);
        int src = sqlite3_step(sel);
        if (src == SQLITE_ROW) {
            const unsigned char *q = sqlite3_column_text(sel, 1);
            const unsigned char *k = sqlite3_column_text(sel, 2);
            const unsigned char *u = sqlite3_column_text(sel, 3);
            const unsigned char *d = sqlite3_column_text(sel, 4);
            const unsigned char *b = sqlite3_column_text(sel, 5);
            bool changed = !same_text(quantity_name(c->quantity), q) ||
                           !same_text(kind_name(c->kind), k) || !same_text(c->unit, u) ||
                           !same_text(dw, d) || !same_text(bd, b);
            if (changed) {
                sqlite3_bind_int64(data, 1, sqlite3_column_int64(sel, 0));
                int drc = sqlite3_step(data);
                int64_t n_raw = drc == SQLITE_ROW ? sqlite3_column_int64(data, 0) : 0;
                int64_t n_days = drc == SQLITE_ROW ? sqlite3_column_int64(data, 1) : 0;
                if (drc != SQLITE_ROW)
                    rc = sqlite_to_errno(drc);
                else if (n_raw > 0 || n_days > 0) {
                    problems++;
                    add_problem(errs, &c->pos,
                                "channel \"%s\" holds %lld readings and %lld days of history as "
                                "%s (%s) in dwelling %s, building %s; it cannot become %s (%s) in "
                                "dwelling %s, building %s: that would re-label stored history. "
                                "Keep it as it was, or give the new measurement another channel "
                                "ID (the old history stays under \"%s\")",
                                c->id, (long long)n_raw, (long long)n_days, q, u,
                                d ? (const char *)d : "none", b ? (const char *)b : "none",
                                quantity_name(c->quantity), c->unit, or_none(dw), or_none(bd),
                                c->id);
                }
                sqlite3_reset(data);
            }
        } else if (src != SQLITE_DONE) {
            rc = sqlite_to_errno(src);
        }
        sqlite3_reset(sel);
    }
    sqlite3_finalize(sel);
    sqlite3_finalize(data);
    return rc < 0 ? rc : problems;
}

/* Register every config channel and learn its ids into ids (one per config
 * channel).  Refuses (-EEXIST, nothing written) a config that re-labels a
 * channel holding data. */
static int sync_channels(struct store *s, const struct foyer_config *cfg, int64_t *ids)
{
    sqlite3_stmt *up = NULL, *sel = NULL;
    int rc;

    if (!s->readonly) {
        struct conf_errors errs = {0};
        int problems = store_check_channels(s, cfg, &errs);
        if (problems > 0)
            snprintf(s->errmsg, sizeof(s->errmsg), "%s%s", errs.n ? errs.msgs[0] : "",
                     problems > 1 ? " (and more)" : "");
        for (size_t i = 0; i < errs.n; i++)
            free(errs.msgs[i]);
        free(errs.msgs);
        if (problems != 0)
            return problems < 0 ? problems : -EEXIST;
        rc = sqlite_to_errno(sqlite3_prepare_v2(
            s->db,
            "INSERT INTO channels(name, quantity, kind, unit, dwelling, building)"
            " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(name) DO UPDATE SET"
            " quantity = excluded.quantity, kind = excluded.kind, unit = excluded.unit,"
            " dwelling = excluded.dwelling, building = excluded.building",
            -1, &up, NULL));
        if (rc < 0)
            return rc;
        rc = exec(s->db, "BEGIN IMMEDIATE");
        for (size_t i = 0; rc == 0 && i < cfg->n_channels; i++) {
            const struct channel *c = &cfg->channels[i];
            sqlite3_bind_text(up, 1, c->id, -1, SQLITE_STATIC);
            sqlite3_bind_text(up, 2, quantity_name(c->quantity), -1, SQLITE_STATIC);
            sqlite3_bind_text(up, 3, kind_name(c->kind), -1, SQLITE_STATIC);
            sqlite3_bind_text(up, 4, c->unit, -1, SQLITE_STATIC);
            if (c->dwelling >= 0)
                sqlite3_bind_text(up, 5, cfg->dwellings[c->dwelling].id, -1, SQLITE_STATIC);
            else
                sqlite3_bind_null(up, 5);
            if (c->building >= 0)
                sqlite3_bind_text(up, 6, cfg->buildings[c->building].id, -1, SQLITE_STATIC);
            else
                sqlite3_bind_null(up, 6);
            rc = step_done(up);
        }
        if (rc == 0)
            rc = exec(s->db, "COMMIT");
        if (rc < 0)
            abort_txn(s);
        sqlite3_finalize(up);
        if (rc < 0)
            return rc;
    }

    rc = sqlite_to_errno(
        sqlite3_prepare_v2(s->db, "SELECT id FROM channels WHERE name = ?1", -1, &sel, NULL));
    for (size_t i = 0; rc == 0 && i < cfg->n_channels; i++) {
        sqlite3_bind_text(sel, 1, cfg->channels[i].id, -1, SQLITE_STATIC);
        int src = sqlite3_step(sel);
        ids[i] = src == SQLITE_ROW ? sqlite3_column_int64(sel, 0) : -1;
        if (src != SQLITE_ROW && src != SQLITE_DONE)
            rc = sqlite_to_errno(src);
        sqlite3_reset(sel);
    }
    if (rc < 0)
        note_error(s);
    sqlite3_finalize(sel);
    return rc;
}

/* Switch the store to cfg: channel ids and counter state are built aside
 * and swapped in only when everything worked, so a failure changes
 * nothing. */
static int use_config(struct store *s, const struct foyer_config *cfg)
{
    size_t n = cfg->n_channels ? cfg->n_channels : 1;
    int64_t *ids = calloc(n, sizeof(*ids));
    struct counter_state *state = calloc(n, sizeof(*state));
    int rc = ids && state ? sync_channels(s, cfg, ids) : -ENOMEM;
    if (rc < 0) {
        free(ids);
        free(state);
        return rc;
    }
    free(s->chan_id);
    free(s->state);
    s->chan_id = ids;
    s->state = state;
    s->cfg = cfg;
    return 0;
}

/* Why the database at path cannot be opened for writing, and what to do,
 * when the cause is the file system (checked before SQLite, whose own
 * messages for these cases are "not an error" or about a rollback). */
static int check_writable(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof(dir), ".");
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';

    if (access(path, F_OK) == 0 && access(path, R_OK | W_OK) < 0) {
        snprintf(open_msg, sizeof(open_msg),
                 "the database file is not readable and writable by this user (uid %u): "
                 "give it to the user foyerd runs as (chown), or make it writable (chmod u+rw)",
                 (unsigned)geteuid());
        return -EACCES;
    }
    if (access(dir, W_OK | X_OK) < 0) {
        int err = errno;
        if (err == ENOENT)
            snprintf(open_msg, sizeof(open_msg),
                     "its directory %s does not exist: create it, or set [foyer] database", dir);
        else
            snprintf(open_msg, sizeof(open_msg),
                     "its directory %s is not writable by this user (uid %u)%s: SQLite creates "
                     "the -wal and -shm files beside the database; give the directory to the "
                     "user foyerd runs as, or move the database (%s)",
                     dir, (unsigned)geteuid(), err == EROFS ? " (read-only file system)" : "",
                     strerror(err));
        return err == ENOENT ? -ENOENT : -EACCES;
    }
    return 0;
}

int store_check_access(const char *path, const char **ret_err_msg)
{
    open_msg[0] = '\0';
    int rc = check_writable(path);
    if (rc < 0 && ret_err_msg)
        *ret_err_msg = open_msg;
    return rc;
}

/* Explain a failure of the first statements on a database: not a
 * database, or damaged (quick_check found damaged pages). */
static void explain_open_failure(struct store *s, int rc, bool damaged)
{
    if (rc == -EBADMSG && damaged)
        snprintf(open_msg, sizeof(open_msg),
                 "the database is damaged (%s): foyerd does not write on it; keep a copy, then "
                 "restore a backup or recover what SQLite can read (sqlite3 FILE .recover), or "
                 "move it aside and let foyerd create a new one",
                 s->errmsg);
    else if (rc == -EBADMSG)
        snprintf(open_msg, sizeof(open_msg),
                 "the file is not a foyer database or is damaged (%s): move it aside and restore "
                 "a backup (foyerd then starts with it), or let foyerd create a new one",
                 s->errmsg[0] ? s->errmsg : "file is not a database");
    else
        snprintf(open_msg, sizeof(open_msg), "%s", s->errmsg[0] ? s->errmsg : strerror(-rc));
}

/* PRAGMA quick_check: a damaged database must stop foyerd at start, not
 * be written on until retention fails on it. */
static int check_pages(struct store *s)
{
    sqlite3_stmt *st;
    int rc = sqlite_to_errno(sqlite3_prepare_v2(s->db, "PRAGMA quick_check(1)", -1, &st, NULL));
    if (rc < 0) {
        note_error(s);
        return rc;
    }
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        const char *res = (const char *)sqlite3_column_text(st, 0);
        if (!res || strcmp(res, "ok") != 0) {
            /* One line for the log: without SQLite's heading, newlines as
             * spaces. */
            const char *head = "*** in database main ***\n";
            if (res && strncmp(res, head, strlen(head)) == 0)
                res += strlen(head);
            snprintf(s->errmsg, sizeof(s->errmsg), "PRAGMA quick_check: %s", res ? res : "?");
            for (char *p = s->errmsg; (p = strchr(p, '\n')) != NULL;)
                *p = ' ';
            rc = -EBADMSG;
        }
    } else {
        rc = sqlite_to_errno(src);
        snprintf(s->errmsg, sizeof(s->errmsg), "PRAGMA quick_check: %s", sqlite3_errmsg(s->db));
    }
    sqlite3_finalize(st);
    return rc;
}

static int open_common(const char *path, const struct foyer_config *cfg, bool readonly,
                       struct store **ret, const char **ret_err_msg)
{
    const char *dummy = NULL;
    const char **msg = ret_err_msg ? ret_err_msg : &dummy;
    struct store *s = calloc(1, sizeof(*s));
    int rc;

    open_msg[0] = '\0';
    *msg = open_msg;
    if (!s) {
        snprintf(open_msg, sizeof(open_msg), "out of memory");
        return -ENOMEM;
    }
    s->readonly = readonly;
    if (!readonly) {
        rc = check_writable(path);
        if (rc < 0)
            goto out_free;
    }
    int flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    rc = sqlite3_open_v2(path, &s->db, flags | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(open_msg, sizeof(open_msg), "%s", s->db ? sqlite3_errmsg(s->db) : "cannot open");
        rc = sqlite_to_errno(rc);
        goto out_close;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, 10000);
    if (!readonly) {
        /* WAL: readers never block the writer.  NORMAL: a commit survives a
         * crash of foyerd; only a power cut can lose the last commits,
         * never corrupt the file. */
        rc = exec(s->db, "PRAGMA journal_mode = WAL");
        if (rc == 0)
            rc = exec(s->db, "PRAGMA synchronous = NORMAL");
        /* A 2 MiB page cache keeps the upper B-tree levels of readings and
         * rollups in memory (4 MiB was no faster, and foyerd must stay under
         * 16 MiB resident on a gateway with 500 meters).  Checkpoint every 4000 pages (16 MiB of
         * WAL) rather than 1000: each checkpoint syncs, and at the default the syncs cost a quarter
         * of the write throughput (bench_ingest).  The WAL file is truncated back to 32 MiB at most
         * after a checkpoint. */
        if (rc == 0)
            rc = exec(s->db, "PRAGMA cache_size = -2048; PRAGMA wal_autocheckpoint = 4000;"
                             " PRAGMA journal_size_limit = 33554432");
        if (rc < 0)
            note_error(s);
        bool damaged = false;
        if (rc == 0) {
            rc = check_pages(s);
            damaged = rc == -EBADMSG;
        }
        if (rc == 0)
            rc = migrate(s->db, s->errmsg, sizeof(s->errmsg));
        if (rc < 0) {
            explain_open_failure(s, rc, damaged);
            goto out_close;
        }
    } else {
        sqlite3_stmt *st;
        int version = -1;
        rc = sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL);
        if (rc == SQLITE_OK) {
            if (sqlite3_step(st) == SQLITE_ROW)
                version = sqlite3_column_int(st, 0);
            sqlite3_finalize(st);
        }
        if (version < 0) {
            note_error(s);
            rc = sqlite_to_errno(rc != SQLITE_OK ? rc : sqlite3_errcode(s->db));
            explain_open_failure(s, rc < 0 ? rc : -EIO, false);
            rc = rc < 0 ? rc : -EIO;
            goto out_close;
        }
        if (version != STORE_SCHEMA_VERSION) {
            snprintf(open_msg, sizeof(open_msg), "%s",
                     version == 0 ? "database has no foyer schema (has foyerd run on it?)"
                     : version < STORE_SCHEMA_VERSION
                         ? "database schema is older than this foyer: start foyerd once to "
                           "migrate it"
                         : "database schema is newer than this foyer: upgrade foyer");
            rc = version < STORE_SCHEMA_VERSION ? -ESTALE : -EPROTO;
            goto out_close;
        }
    }
    rc = use_config(s, cfg);
    if (rc < 0) {
        snprintf(open_msg, sizeof(open_msg), "%s", s->errmsg[0] ? s->errmsg : strerror(-rc));
        goto out_close;
    }
    if (!readonly) {
        for (int i = 0; i < ST_COUNT_; i++) {
            rc = sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->st[i],
                                    NULL);
            if (rc != SQLITE_OK) {
                snprintf(open_msg, sizeof(open_msg), "%s", sqlite3_errmsg(s->db));
                rc = sqlite_to_errno(rc);
                goto out_close;
            }
        }
        rc = acc_init(&s->hours, 16384);
        if (rc == 0)
            rc = acc_init(&s->scratch, 4096);
        if (rc < 0) {
            snprintf(open_msg, sizeof(open_msg), "out of memory");
            goto out_close;
        }
    }
    *msg = NULL;
    *ret = s;
    return 0;

out_close:
    store_close(s);
    return rc;
out_free:
    free(s);
    return rc;
}

int store_open(const char *path, const struct foyer_config *cfg, struct store **ret,
               const char **ret_err_msg)
{
    return open_common(path, cfg, false, ret, ret_err_msg);
}

int store_open_readonly(const char *path, const struct foyer_config *cfg, struct store **ret,
                        const char **ret_err_msg)
{
    return open_common(path, cfg, true, ret, ret_err_msg);
}

void store_close(struct store *s)
{
    if (!s)
        return;
    /* Every statement is finalised before the close, or it fails (busy)
     * and leaks the connection. */
    store_read_free(s->rd);
    for (int i = 0; i < ST_COUNT_; i++)
        sqlite3_finalize(s->st[i]);
    sqlite3_close(s->db);
    free(s->hours.e);
    free(s->scratch.e);
    free(s->chan_id);
    free(s->state);
    free(s);
}

int store_set_config(struct store *s, const struct foyer_config *cfg)
{
    s->errmsg[0] = '\0';
    return use_config(s, cfg);
}

int64_t store_channel_id(const struct store *s, uint32_t cfg_channel)
{
    return cfg_channel < s->cfg->n_channels ? s->chan_id[cfg_channel] : -1;
}

const int64_t *store_channel_ids(const struct store *s, size_t *ret_n)
{
    *ret_n = s->cfg->n_channels;
    return s->chan_id;
}

int store_queue_state(struct store *s, uint64_t *ret_seq, uint64_t *ret_db_id)
{
    sqlite3_stmt *st;
    int rc = sqlite_to_errno(sqlite3_prepare_v2(
        s->db, "SELECT queue_seq, db_id FROM ingest_state WHERE id = 1", -1, &st, NULL));
    if (rc < 0) {
        note_error(s);
        return rc;
    }
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        *ret_seq = (uint64_t)sqlite3_column_int64(st, 0);
        *ret_db_id = (uint64_t)sqlite3_column_int64(st, 1);
    } else {
        rc = src == SQLITE_DONE ? -EBADMSG : sqlite_to_errno(src);
        note_error(s);
    }
    sqlite3_finalize(st);
    return rc;
}

sqlite3 *store_db(struct store *s)
{
    return s->db;
}

const char *store_errmsg(struct store *s)
{
    return s->errmsg[0] ? s->errmsg : sqlite3_errmsg(s->db);
}

int64_t store_limit_pages(struct store *s, int64_t pages)
{
    char sql[64];
    sqlite3_stmt *st;
    /* SQLite's largest: no cap. */
    snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %lld",
             pages > 0 ? (long long)pages : 4294967294LL);
    int rc = store_sqlite_errno(sqlite3_prepare_v2(s->db, sql, -1, &st, NULL));
    if (rc < 0) {
        note_error(s);
        return rc;
    }
    int src = sqlite3_step(st);
    int64_t cap = src == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    if (src != SQLITE_ROW) {
        rc = store_sqlite_errno(src);
        note_error(s);
    }
    sqlite3_finalize(st);
    return rc < 0 ? rc : cap;
}

/* ---- between the store's files (store_int.h) --------------------------- */

int store_sqlite_errno(int rc)
{
    return sqlite_to_errno(rc);
}

void store_note_error(struct store *s)
{
    note_error(s);
}

struct store_read **store_read_slot(struct store *s)
{
    return &s->rd;
}

/* ---- ingest ------------------------------------------------------------ */

/* Read one (ts, value, status) row of st bound to (chan, ts); an absent
 * neighbour is all zero, never stale. */
static int query_neighbour(sqlite3_stmt *st, int64_t chan, int64_t ts,
                           struct counter_neighbour *ret)
{
    sqlite3_bind_int64(st, 1, chan);
    sqlite3_bind_int64(st, 2, ts);
    int rc = sqlite3_step(st);
    *ret = (struct counter_neighbour){.present = rc == SQLITE_ROW};
    if (ret->present) {
        ret->ts = sqlite3_column_int64(st, 0);
        ret->value = sqlite3_column_double(st, 1);
        ret->status = sqlite3_column_int(st, 2);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : sqlite_to_errno(rc);
}

static int load_state(struct store *s, int64_t chan, struct counter_state *st)
{
    struct counter_neighbour last, held;
    int rc = query_neighbour(s->st[ST_PREV], chan, INT64_MAX, &last);
    if (rc == 0)
        rc = query_neighbour(s->st[ST_HELD], chan, last.present ? last.ts : INT64_MIN, &held);
    if (rc < 0)
        return rc;
    /* The events already rate-limited this batch stay remembered. */
    struct counter_seen seen[COUNTER_SEEN_SLOTS];
    memcpy(seen, st->seen, sizeof(seen));
    *st = (struct counter_state){.loaded = true};
    memcpy(st->seen, seen, sizeof(seen));
    if (last.present) {
        st->has_last = true;
        st->last_ts = last.ts;
        st->last_v = last.value;
    }
    if (held.present) {
        st->has_held = true;
        st->held_ts = held.ts;
        st->held_v = held.value;
        st->held_status = held.status;
    }
    sqlite3_stmt *mx = s->st[ST_MAX_TS];
    sqlite3_bind_int64(mx, 1, chan);
    rc = sqlite3_step(mx);
    st->max_ts = rc == SQLITE_ROW && sqlite3_column_type(mx, 0) != SQLITE_NULL
                     ? sqlite3_column_int64(mx, 0)
                     : INT64_MIN;
    sqlite3_reset(mx);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : sqlite_to_errno(rc);
}

/* prev NaN (nothing to compare with) is stored as NULL. */
static int insert_event(struct store *s, int64_t chan, const char *kind, int64_t ts, double v,
                        double prev)
{
    sqlite3_stmt *st = s->st[ST_INS_EVENT];
    sqlite3_bind_int64(st, 1, ts);
    sqlite3_bind_int64(st, 2, chan);
    sqlite3_bind_text(st, 3, kind, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, 4, v);
    if (isnan(prev))
        sqlite3_bind_null(st, 5);
    else
        sqlite3_bind_double(st, 5, prev);
    sqlite3_bind_null(st, 6);
    sqlite3_bind_int64(st, 7, s->now_s);
    return step_done(st);
}

/* Write the number of repeats into the detail of the event they repeat. */
static int event_more(struct store *s, int64_t chan, const struct counter_op *op)
{
    char detail[80];
    sqlite3_stmt *st = s->st[ST_EVENT_MORE];
    (void)snprintf(detail, sizeof(detail), "%lu more within an hour of it, not listed",
                   (unsigned long)op->more);
    sqlite3_bind_int64(st, 1, chan);
    sqlite3_bind_text(st, 2, op->event, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, op->ts);
    sqlite3_bind_text(st, 4, detail, -1, SQLITE_TRANSIENT);
    return step_done(st);
}

/* Every occurrence is counted, also those rate-limited out of the events
 * table.  Conflicts and readings ahead of the clock are counted where they
 * are found. */
static void count_event(struct ingest_stats *stats, const char *ev)
{
    if (strcmp(ev, EVENT_GLITCH_DROPPED) == 0)
        stats->glitches++;
    else if (strcmp(ev, EVENT_SPIKE_DROPPED) == 0)
        stats->spikes++;
    else if (strcmp(ev, EVENT_METER_RESET) == 0)
        stats->resets++;
    else if (strcmp(ev, EVENT_INDEX_JUMP) == 0)
        stats->jumps++;
    else if (strcmp(ev, EVENT_ROLLOVER) == 0)
        stats->rollovers++;
    else if (strcmp(ev, EVENT_LATE_REFUSED) == 0)
        stats->late_refused++;
    else if (strcmp(ev, EVENT_CLOCK_GAP) == 0)
        stats->clock_gaps++;
}

static int insert_raw(struct store *s, int64_t chan, int64_t ts, double v, int status)
{
    sqlite3_stmt *st = s->st[ST_INS_READING];
    sqlite3_bind_int64(st, 1, chan);
    sqlite3_bind_int64(st, 2, ts);
    sqlite3_bind_double(st, 3, v);
    sqlite3_bind_int(st, 4, status);
    return step_done(st);
}

static int apply_ops(struct store *s, int64_t chan, const struct counter_op *ops, size_t n,
                     struct ingest_stats *stats)
{
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct counter_op *op = &ops[i];
        sqlite3_stmt *st;
        switch (op->kind) {
        case COP_STORE:
            rc = insert_raw(s, chan, op->ts, op->value, op->status);
            stats->stored++;
            /* n counts the readings a period's figure rests on. */
            if (rc == 0 && counter_status_taken(op->status))
                rc = acc_add(&s->hours, chan, hour_of(op->ts), 0, 1);
            break;
        case COP_SET_STATUS:
            st = s->st[ST_SET_STATUS];
            sqlite3_bind_int64(st, 1, chan);
            sqlite3_bind_int64(st, 2, op->ts);
            sqlite3_bind_int(st, 3, op->status);
            rc = step_done(st);
            /* A held reading confirmed (as a new baseline) is now one of
             * them.  No rule takes a taken reading out again. */
            if (rc == 0 && counter_status_taken(op->status) &&
                !counter_status_taken(op->old_status))
                rc = acc_add(&s->hours, chan, hour_of(op->ts), 0, 1);
            break;
        case COP_SPREAD:
            rc = acc_spread(&s->hours, chan, op->ts, op->ts_end, op->value);
            break;
        case COP_EVENT:
            rc = insert_event(s, chan, op->event, op->ts, op->value, op->prev);
            count_event(stats, op->event);
            break;
        case COP_EVENT_MORE:
            rc = event_more(s, chan, op);
            count_event(stats, op->event);
            break;
        }
    }
    return rc;
}

/* One event of config channel idx (db id chan), rate-limited. */
static int channel_event(struct store *s, uint32_t idx, int64_t chan, const char *kind, int64_t ts,
                         double v, double prev, struct ingest_stats *stats)
{
    struct counter_op op = {.kind = COP_EVENT, .event = kind, .ts = ts, .value = v, .prev = prev};
    counter_limit_events(&s->state[idx], &op, 1);
    return apply_ops(s, chan, &op, 1, stats);
}

/* The stored reading at (chan, ts), if any: returns 1 and fills value. */
static int stored_at(struct store *s, int64_t chan, int64_t ts, double *ret_value)
{
    sqlite3_stmt *st = s->st[ST_GET_READING];
    sqlite3_bind_int64(st, 1, chan);
    sqlite3_bind_int64(st, 2, ts);
    int rc = sqlite3_step(st);
    int found = rc == SQLITE_ROW;
    if (found)
        *ret_value = sqlite3_column_double(st, 0);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sqlite_to_errno(rc);
    return found;
}

/* A reading whose time is already stored: an exact duplicate changes
 * nothing; another value is a conflict (the first one is kept). */
static int handle_same_time(struct store *s, uint32_t idx, int64_t chan, const struct reading *r,
                            double stored, struct ingest_stats *stats)
{
    if (stored == r->value) {
        stats->duplicates++;
        return 0;
    }
    stats->conflicts++;
    return channel_event(s, idx, chan, EVENT_CONFLICT, r->ts_s, r->value, stored, stats);
}

static int ingest_gauge(struct store *s, uint32_t idx, int64_t chan, const struct reading *r,
                        struct ingest_stats *stats)
{
    double stored = 0;
    int rc = stored_at(s, chan, r->ts_s, &stored);
    if (rc < 0)
        return rc;
    if (rc == 1)
        return handle_same_time(s, idx, chan, r, stored, stats);
    rc = insert_raw(s, chan, r->ts_s, r->value, RS_ACCEPTED);
    stats->stored++;
    return rc < 0 ? rc : acc_add_gauge(&s->hours, chan, hour_of(r->ts_s), r->value);
}

static int ingest_counter(struct store *s, uint32_t idx, int64_t chan, const struct reading *r,
                          struct ingest_stats *stats)
{
    const struct channel *c = &s->cfg->channels[idx];
    struct counter_state *st = &s->state[idx];
    struct counter_params p = {
        .max_rate = c->max_rate, .rollover = c->rollover, .resolution = c->resolution};
    struct counter_op ops[COUNTER_OPS_MAX];
    size_t n;
    int rc;

    if (!st->loaded) {
        rc = load_state(s, chan, st);
        if (rc < 0)
            return rc;
        stats->state_loads++;
    }
    if (r->ts_s > st->max_ts) {
        n = counter_step(st, &p, r->ts_s, r->value, ops);
        counter_limit_events(st, ops, n);
        return apply_ops(s, chan, ops, n, stats);
    }

    double stored = 0;
    rc = stored_at(s, chan, r->ts_s, &stored);
    if (rc < 0)
        return rc;
    if (rc == 1)
        return handle_same_time(s, idx, chan, r, stored, stats);

    struct counter_neighbour prev, next;
    rc = query_neighbour(s->st[ST_PREV], chan, r->ts_s, &prev);
    if (rc == 0)
        rc = query_neighbour(s->st[ST_NEXT], chan, r->ts_s, &next);
    if (rc < 0)
        return rc;
    n = counter_late(&prev, &next, &p, r->ts_s, r->value, ops);
    counter_limit_events(st, ops, n);
    for (size_t i = 0; i < n; i++) {
        if (ops[i].kind == COP_STORE && counter_status_taken(ops[i].status))
            stats->late++;
        if (ops[i].kind == COP_STORE && counter_status_counts(ops[i].status)) {
            /* Between the last accepted reading and a held or dropped
             * one: it is now the chain's newest reading. */
            if (!st->has_last || ops[i].ts > st->last_ts) {
                st->has_last = true;
                st->last_ts = ops[i].ts;
                st->last_v = ops[i].value;
            }
        }
    }
    return apply_ops(s, chan, ops, n, stats);
}

static int cmp_reading(const void *a, const void *b)
{
    const struct reading *x = a, *y = b;
    if (x->channel != y->channel)
        return x->channel < y->channel ? -1 : 1;
    return x->ts_s < y->ts_s ? -1 : x->ts_s > y->ts_s;
}

/* Drop the cached state when another handle ingested since our last look
 * (only an ingest changes what counter state is made of; the pusher's
 * commits leave the cache alone).  Inside the write transaction. */
static int check_ingest_gen(struct store *s)
{
    sqlite3_stmt *st = s->st[ST_INGEST_GEN];
    int rc = sqlite3_step(st);
    int64_t v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? -EBADMSG : sqlite_to_errno(rc);
    if (v != s->ingest_gen) {
        memset(s->state, 0, s->cfg->n_channels * sizeof(*s->state));
        s->ingest_gen = v;
    }
    return 0;
}

int store_ingest(struct store *s, struct reading *r, size_t n, uint64_t queue_seq,
                 struct ingest_stats *stats)
{
    struct ingest_stats b = {0};
    int rc;

    if (s->readonly)
        return -EROFS;
    qsort(r, n, sizeof(*r), cmp_reading);
    s->now_s = tu_now_s();
    rc = exec(s->db, "BEGIN IMMEDIATE");
    if (rc < 0) {
        note_error(s);
        return rc;
    }
    rc = check_ingest_gen(s);
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct reading *rd = &r[i];
        b.readings++;
        if (rd->channel >= s->cfg->n_channels || s->chan_id[rd->channel] < 0) {
            b.out_of_range++;
            continue;
        }
        const struct channel *c = &s->cfg->channels[rd->channel];
        int64_t chan = s->chan_id[rd->channel];
        if (rd->ts_s < FOYER_TS_MIN_S) {
            b.bad_time++;
            continue;
        }
        if (rd->ts_s > s->now_s + s->cfg->future_tolerance_s) {
            /* A device clock ahead (or the gateway's behind): never stored,
             * or it would be the channel's newest reading and every genuine
             * one after it late. */
            b.bad_time++;
            b.future++;
            rc = channel_event(s, rd->channel, chan, EVENT_FUTURE_REFUSED, rd->ts_s, rd->value, NAN,
                               &b);
            continue;
        }
        if (!isfinite(rd->value) || rd->value < c->min_value || rd->value > c->max_value) {
            b.out_of_range++;
            continue;
        }
        if (c->kind == KIND_COUNTER)
            rc = ingest_counter(s, rd->channel, chan, rd, &b);
        else
            rc = ingest_gauge(s, rd->channel, chan, rd, &b);
    }
    if (rc == 0)
        rc = flush_rollups(s);
    if (rc == 0) {
        sqlite3_stmt *done = s->st[ST_INGEST_DONE];
        sqlite3_bind_int64(done, 1, s->ingest_gen + 1);
        if (queue_seq > 0)
            sqlite3_bind_int64(done, 2, (int64_t)queue_seq);
        else
            sqlite3_bind_null(done, 2);
        rc = step_done(done);
    }
    if (rc == 0)
        rc = exec(s->db, "COMMIT");
    if (rc == 0)
        s->ingest_gen++;
    if (rc < 0) {
        /* Nothing of the batch is applied: forget the state the batch
         * advanced and the rollups it accumulated. */
        abort_txn(s);
        memset(s->state, 0, s->cfg->n_channels * sizeof(*s->state));
        acc_clear(&s->hours);
        acc_clear(&s->scratch);
        return rc;
    }
    b.batches = 1;
    ingest_stats_add(stats, &b);
    return 0;
}

/* ---- devices ----------------------------------------------------------- */

int store_put_devices(struct store *s, const struct device_event *ev, size_t n_ev,
                      const struct device_health *h, size_t n_h)
{
    sqlite3_stmt *ins = NULL, *up = NULL;
    int64_t now = tu_now_s();
    int rc = sqlite_to_errno(sqlite3_prepare_v2(
        s->db, "INSERT INTO events(ts, device, kind, detail, logged) VALUES (?1, ?2, ?3, ?4, ?5)",
        -1, &ins, NULL));
    if (rc == 0)
        rc = sqlite_to_errno(sqlite3_prepare_v2(
            s->db,
            "INSERT OR REPLACE INTO devices(name, kind, state, since, last_success, polls,"
            " timeouts, crc_errors, exceptions, bad_values, other_errors, response_ms, updated)"
            " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            -1, &up, NULL));
    if (rc == 0)
        rc = exec(s->db, "BEGIN IMMEDIATE");
    for (size_t i = 0; rc == 0 && i < n_ev; i++) {
        sqlite3_bind_int64(ins, 1, ev[i].ts_s);
        sqlite3_bind_text(ins, 2, ev[i].device, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 3, ev[i].kind, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 4, ev[i].detail, -1, SQLITE_STATIC);
        sqlite3_bind_int64(ins, 5, now);
        rc = step_done(ins);
    }
    for (size_t i = 0; rc == 0 && i < n_h; i++) {
        sqlite3_bind_text(up, 1, h[i].device, -1, SQLITE_STATIC);
        sqlite3_bind_text(up, 2, h[i].kind, -1, SQLITE_STATIC);
        sqlite3_bind_text(up, 3, h[i].state, -1, SQLITE_STATIC);
        sqlite3_bind_int64(up, 4, h[i].since_s);
        sqlite3_bind_int64(up, 5, h[i].last_success_s);
        sqlite3_bind_int64(up, 6, (int64_t)h[i].polls);
        sqlite3_bind_int64(up, 7, (int64_t)h[i].timeouts);
        sqlite3_bind_int64(up, 8, (int64_t)h[i].crc_errors);
        sqlite3_bind_int64(up, 9, (int64_t)h[i].exceptions);
        sqlite3_bind_int64(up, 10, (int64_t)h[i].bad_values);
        sqlite3_bind_int64(up, 11, (int64_t)h[i].other_errors);
        sqlite3_bind_double(up, 12, h[i].response_ms);
        sqlite3_bind_int64(up, 13, now);
        rc = step_done(up);
    }
    if (rc == 0)
        rc = exec(s->db, "COMMIT");
    if (rc < 0)
        abort_txn(s);
    sqlite3_finalize(ins);
    sqlite3_finalize(up);
    return rc;
}

/* ---- retention --------------------------------------------------------- */

int64_t store_retention(struct store *s, int64_t now_s)
{
    const struct foyer_config *cfg = s->cfg;
    sqlite3_stmt *del_raw = NULL, *del_hour = NULL;
    int64_t deleted = 0;
    int rc;

    rc = sqlite_to_errno(sqlite3_prepare_v2(
        s->db,
        "DELETE FROM readings WHERE channel = ?1 AND ts < ?2 AND status NOT IN (2, 3)"
        " AND ts <> (SELECT coalesce(max(ts), 0) FROM readings WHERE channel = ?1"
        " AND status IN (0, 1))",
        -1, &del_raw, NULL));
    if (rc == 0)
        rc = sqlite_to_errno(sqlite3_prepare_v2(
            s->db, "DELETE FROM rollup_hour WHERE channel = ?1 AND ts < ?2", -1, &del_hour, NULL));
    if (rc == 0)
        rc = exec(s->db, "BEGIN IMMEDIATE");
    for (size_t i = 0; rc == 0 && i < cfg->n_channels; i++) {
        const struct channel *c = &cfg->channels[i];
        bool personal = c->dwelling >= 0 && !cfg->dwellings[c->dwelling].consent;
        int days = personal ? cfg->raw_retention_days_no_consent : cfg->raw_retention_days;
        int64_t cutoff = now_s - (int64_t)days * 86400;
        if (s->chan_id[i] < 0)
            continue;
        sqlite3_bind_int64(del_raw, 1, s->chan_id[i]);
        sqlite3_bind_int64(del_raw, 2, cutoff);
        rc = step_done(del_raw);
        deleted += sqlite3_changes(s->db);
        if (rc == 0 && personal) {
            /* No consent: no load curve beyond the raw window, only days. */
            sqlite3_bind_int64(del_hour, 1, s->chan_id[i]);
            sqlite3_bind_int64(del_hour, 2, cutoff);
            rc = step_done(del_hour);
            deleted += sqlite3_changes(s->db);
        }
    }
    if (rc == 0)
        rc = exec(s->db, "COMMIT");
    if (rc < 0)
        abort_txn(s);
    sqlite3_finalize(del_raw);
    sqlite3_finalize(del_hour);
    return rc < 0 ? rc : deleted;
}
