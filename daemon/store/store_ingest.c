/*
 * store_ingest.c - the store's write path: readings in, counter rules
 * applied (store_counter.c), rollups accumulated per batch and merged, device
 * events and health, raw retention.  See the WRITE PATH part of store.c's
 * header comment.  Runs on the one write handle (foyerd's writer thread, or
 * foyerctl import).
 */
#include "store_int.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "foyer/counter.h"
#include "foyer/limits.h"
#include "foyer/store.h"
#include "foyer/store_consent.h"
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
    ST_DIRTY,
    ST_COUNT_
};

/* Add a batch's changes to a rollup row: sums and counts add up, min and
 * max (gauges only; NULL for counters) widen. */
#define ROLLUP_UPSERT(table)                                                                       \
    "INSERT INTO " table "(channel, ts, sum, n, min, max) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"         \
    " ON CONFLICT DO UPDATE SET sum = sum + excluded.sum, n = n + excluded.n,"                     \
    " min = min(coalesce(min, excluded.min), excluded.min),"                                       \
    " max = max(coalesce(max, excluded.max), excluded.max)"

/* The statements below spell reading statuses as numbers (an index can
 * serve "status IN (0, 1)", and they are prepared once): the enum must not
 * move under them. */
_Static_assert(RS_ACCEPTED == 0 && RS_BASELINE == 1 && RS_HELD_LOW == 2 && RS_HELD_JUMP == 3,
               "store_ingest.c's statements spell these statuses as 0, 1, 2 and 3");

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
    /* An hourly row changed, for the uplink (daemon/store/store_uplink.c):
     * its day and month follow from it. */
    [ST_DIRTY] = "INSERT OR IGNORE INTO uplink_dirty(gran, ts, channel) VALUES (0, ?2, ?1)",
};

/* The write path's own state, hanging from a write handle. */
struct store_ingest {
    sqlite3_stmt *st[ST_COUNT_];
    struct acc hours;   /* this batch's rollup changes */
    struct acc scratch; /* day/month merge at commit */
};

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
    return rc == SQLITE_DONE ? 0 : store_sqlite_errno(rc);
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

/* Note an hourly row as changed for the uplink.  One key per (channel,
 * hour) however many batches change it: a gauge's current hour costs a
 * lookup per batch, not a row. */
static int mark_dirty(sqlite3_stmt *st, const struct acc_entry *e)
{
    sqlite3_bind_int64(st, 1, (int64_t)(e->key >> 32));
    sqlite3_bind_int64(st, 2, (int64_t)(e->key & 0xffffffffu) * 3600);
    return store_step_done(st);
}

/* Write the batch's hourly changes, and their sums per local day and month;
 * with [uplink], the changed hours are noted in the same transaction. */
static int flush_rollups(struct store *s)
{
    size_t n = acc_compact_sorted(&s->ing->hours);
    bool uplink = s->cfg->uplink.enabled;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = upsert(s->ing->st[ST_UP_HOUR], &s->ing->hours.e[i]);
        if (rc == 0 && uplink)
            rc = mark_dirty(s->ing->st[ST_DIRTY], &s->ing->hours.e[i]);
    }
    if (rc == 0)
        rc = acc_merge_period(&s->ing->scratch, s->ing->hours.e, n, tu_day_start);
    if (rc == 0) {
        size_t m = acc_compact_sorted(&s->ing->scratch);
        for (size_t i = 0; i < m && rc == 0; i++)
            rc = upsert(s->ing->st[ST_UP_DAY], &s->ing->scratch.e[i]);
    }
    acc_clear(&s->ing->scratch);
    if (rc == 0)
        rc = acc_merge_period(&s->ing->scratch, s->ing->hours.e, n, tu_month_start);
    if (rc == 0) {
        size_t m = acc_compact_sorted(&s->ing->scratch);
        for (size_t i = 0; i < m && rc == 0; i++)
            rc = upsert(s->ing->st[ST_UP_MONTH], &s->ing->scratch.e[i]);
    }
    acc_clear(&s->ing->scratch);
    acc_clear(&s->ing->hours);
    return rc;
}

int store_ingest_open(struct store *s)
{
    struct store_ingest *ing = calloc(1, sizeof(*ing));
    if (!ing)
        return -ENOMEM;
    s->ing = ing;
    for (int i = 0; i < ST_COUNT_; i++) {
        int rc = sqlite3_prepare_v3(s->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &ing->st[i],
                                    NULL);
        if (rc != SQLITE_OK) {
            store_note_error(s);
            return store_sqlite_errno(rc);
        }
    }
    int rc = acc_init(&ing->hours, 16384);
    if (rc == 0)
        rc = acc_init(&ing->scratch, 4096);
    return rc;
}

void store_ingest_close(struct store_ingest *ing)
{
    if (!ing)
        return;
    /* Every statement is finalised before the connection closes. */
    for (int i = 0; i < ST_COUNT_; i++)
        sqlite3_finalize(ing->st[i]);
    free(ing->hours.e);
    free(ing->scratch.e);
    free(ing);
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
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_sqlite_errno(rc);
}

static int load_state(struct store *s, int64_t chan, struct counter_state *st)
{
    struct counter_neighbour last, held;
    int rc = query_neighbour(s->ing->st[ST_PREV], chan, INT64_MAX, &last);
    if (rc == 0)
        rc = query_neighbour(s->ing->st[ST_HELD], chan, last.present ? last.ts : INT64_MIN, &held);
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
    sqlite3_stmt *mx = s->ing->st[ST_MAX_TS];
    sqlite3_bind_int64(mx, 1, chan);
    rc = sqlite3_step(mx);
    st->max_ts = rc == SQLITE_ROW && sqlite3_column_type(mx, 0) != SQLITE_NULL
                     ? sqlite3_column_int64(mx, 0)
                     : INT64_MIN;
    sqlite3_reset(mx);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_sqlite_errno(rc);
}

/* prev NaN (nothing to compare with) is stored as NULL. */
static int insert_event(struct store *s, int64_t chan, const char *kind, int64_t ts, double v,
                        double prev)
{
    sqlite3_stmt *st = s->ing->st[ST_INS_EVENT];
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
    return store_step_done(st);
}

/* Write the number of repeats into the detail of the event they repeat. */
static int event_more(struct store *s, int64_t chan, const struct counter_op *op)
{
    char detail[80];
    sqlite3_stmt *st = s->ing->st[ST_EVENT_MORE];
    (void)snprintf(detail, sizeof(detail), "%lu more within an hour of it, not listed",
                   (unsigned long)op->more);
    sqlite3_bind_int64(st, 1, chan);
    sqlite3_bind_text(st, 2, op->event, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, op->ts);
    sqlite3_bind_text(st, 4, detail, -1, SQLITE_TRANSIENT);
    return store_step_done(st);
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
    sqlite3_stmt *st = s->ing->st[ST_INS_READING];
    sqlite3_bind_int64(st, 1, chan);
    sqlite3_bind_int64(st, 2, ts);
    sqlite3_bind_double(st, 3, v);
    sqlite3_bind_int(st, 4, status);
    return store_step_done(st);
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
                rc = acc_add(&s->ing->hours, chan, hour_of(op->ts), 0, 1);
            break;
        case COP_SET_STATUS:
            st = s->ing->st[ST_SET_STATUS];
            sqlite3_bind_int64(st, 1, chan);
            sqlite3_bind_int64(st, 2, op->ts);
            sqlite3_bind_int(st, 3, op->status);
            rc = store_step_done(st);
            /* A held reading confirmed (as a new baseline) is now one of
             * them.  No rule takes a taken reading out again. */
            if (rc == 0 && counter_status_taken(op->status) &&
                !counter_status_taken(op->old_status))
                rc = acc_add(&s->ing->hours, chan, hour_of(op->ts), 0, 1);
            break;
        case COP_SPREAD:
            rc = acc_spread(&s->ing->hours, chan, op->ts, op->ts_end, op->value);
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
    sqlite3_stmt *st = s->ing->st[ST_GET_READING];
    sqlite3_bind_int64(st, 1, chan);
    sqlite3_bind_int64(st, 2, ts);
    int rc = sqlite3_step(st);
    int found = rc == SQLITE_ROW;
    if (found)
        *ret_value = sqlite3_column_double(st, 0);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_sqlite_errno(rc);
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
    return rc < 0 ? rc : acc_add_gauge(&s->ing->hours, chan, hour_of(r->ts_s), r->value);
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
    rc = query_neighbour(s->ing->st[ST_PREV], chan, r->ts_s, &prev);
    if (rc == 0)
        rc = query_neighbour(s->ing->st[ST_NEXT], chan, r->ts_s, &next);
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
    sqlite3_stmt *st = s->ing->st[ST_INGEST_GEN];
    int rc = sqlite3_step(st);
    int64_t v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? -EBADMSG : store_sqlite_errno(rc);
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
    rc = store_exec(s->db, "BEGIN IMMEDIATE");
    if (rc < 0) {
        store_note_error(s);
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
        sqlite3_stmt *done = s->ing->st[ST_INGEST_DONE];
        sqlite3_bind_int64(done, 1, s->ingest_gen + 1);
        if (queue_seq > 0)
            sqlite3_bind_int64(done, 2, (int64_t)queue_seq);
        else
            sqlite3_bind_null(done, 2);
        rc = store_step_done(done);
    }
    if (rc == 0)
        rc = store_exec(s->db, "COMMIT");
    if (rc == 0)
        s->ingest_gen++;
    if (rc < 0) {
        /* Nothing of the batch is applied: forget the state the batch
         * advanced and the rollups it accumulated. */
        store_abort_txn(s);
        memset(s->state, 0, s->cfg->n_channels * sizeof(*s->state));
        acc_clear(&s->ing->hours);
        acc_clear(&s->ing->scratch);
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
    int rc = store_sqlite_errno(sqlite3_prepare_v2(
        s->db, "INSERT INTO events(ts, device, kind, detail, logged) VALUES (?1, ?2, ?3, ?4, ?5)",
        -1, &ins, NULL));
    if (rc == 0)
        rc = store_sqlite_errno(sqlite3_prepare_v2(
            s->db,
            "INSERT OR REPLACE INTO devices(name, kind, state, since, last_success, polls,"
            " timeouts, crc_errors, exceptions, bad_values, other_errors, response_ms, updated)"
            " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            -1, &up, NULL));
    if (rc == 0)
        rc = store_exec(s->db, "BEGIN IMMEDIATE");
    for (size_t i = 0; rc == 0 && i < n_ev; i++) {
        sqlite3_bind_int64(ins, 1, ev[i].ts_s);
        sqlite3_bind_text(ins, 2, ev[i].device, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 3, ev[i].kind, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 4, ev[i].detail, -1, SQLITE_STATIC);
        sqlite3_bind_int64(ins, 5, now);
        rc = store_step_done(ins);
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
        rc = store_step_done(up);
    }
    if (rc == 0)
        rc = store_exec(s->db, "COMMIT");
    if (rc < 0)
        store_abort_txn(s);
    sqlite3_finalize(ins);
    sqlite3_finalize(up);
    return rc;
}

/* ---- retention --------------------------------------------------------- */

int64_t store_retention(struct store *s, int64_t now_s)
{
    size_t cursor = 0;
    int64_t deleted = 0;
    while (cursor < s->cfg->n_channels) {
        int64_t n = store_retention_step(s, now_s, &cursor, INT64_MAX);
        if (n < 0)
            return n;
        deleted += n;
    }
    return deleted;
}

int64_t store_retention_step(struct store *s, int64_t now_s, size_t *cursor, int64_t budget_ms)
{
    const struct foyer_config *cfg = s->cfg;
    sqlite3_stmt *del_raw = NULL, *del_hour = NULL;
    int64_t deleted = 0;
    int64_t t0 = tu_mono_ms();
    /* Each household's load-curve consent now (store_consent.h): a
     * withdrawal deletes the hourly figures past the raw window at the
     * next run (hourly). */
    bool *consent = calloc(cfg->n_dwellings + 1, sizeof(*consent));
    int rc = consent ? store_consent_load_curve(s, cfg, now_s, consent) : -ENOMEM;

    if (rc == 0)
        rc = store_sqlite_errno(sqlite3_prepare_v2(
            s->db,
            "DELETE FROM readings WHERE channel = ?1 AND ts < ?2 AND status NOT IN (2, 3)"
            " AND ts <> (SELECT coalesce(max(ts), 0) FROM readings WHERE channel = ?1"
            " AND status IN (0, 1))",
            -1, &del_raw, NULL));
    if (rc == 0)
        rc = store_sqlite_errno(sqlite3_prepare_v2(
            s->db, "DELETE FROM rollup_hour WHERE channel = ?1 AND ts < ?2", -1, &del_hour, NULL));
    size_t i = *cursor;
    for (; rc == 0 && i < cfg->n_channels; i++) {
        const struct channel *c = &cfg->channels[i];
        bool personal = c->dwelling >= 0 && !consent[c->dwelling];
        int days = personal ? cfg->raw_retention_days_no_consent : cfg->raw_retention_days;
        int64_t cutoff = now_s - (int64_t)days * 86400;
        if (s->chan_id[i] < 0)
            continue;
        if (i > *cursor && tu_mono_ms() - t0 >= budget_ms)
            break;
        rc = store_exec(s->db, "BEGIN IMMEDIATE");
        if (rc < 0)
            break;
        sqlite3_bind_int64(del_raw, 1, s->chan_id[i]);
        sqlite3_bind_int64(del_raw, 2, cutoff);
        rc = store_step_done(del_raw);
        deleted += sqlite3_changes(s->db);
        if (rc == 0 && personal) {
            /* No consent: no load curve beyond the raw window, only days. */
            sqlite3_bind_int64(del_hour, 1, s->chan_id[i]);
            sqlite3_bind_int64(del_hour, 2, cutoff);
            rc = store_step_done(del_hour);
            deleted += sqlite3_changes(s->db);
        }
        if (rc == 0)
            rc = store_exec(s->db, "COMMIT");
        if (rc < 0) {
            store_abort_txn(s);
            break;
        }
    }
    *cursor = i;
    sqlite3_finalize(del_raw);
    sqlite3_finalize(del_hour);
    free(consent);
    return rc < 0 ? rc : deleted;
}
