/*
 * store_uplink.c - the uplink tables (uplink_dirty, uplink_outbox,
 * uplink_state, uplink_alerts), written by the uplink thread on a connection of its own:
 * include/foyer/store_uplink.h says what is queued and why this thread owns
 * them, daemon/store/store.c describes the tables.
 *
 * In: the dirty rollup keys store_ingest() notes, the events, devices and
 * alerts tables.  Out: items in seq order for the uplink to
 * publish; deletions when the collector acks.  Every statement is prepared
 * once at open and reset after use, so no read transaction stays open
 * between calls.  Item bodies are built with jansson, the JSON the
 * protocol describes, without their seq (added when published).
 */
#include "foyer/store_uplink.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "foyer/limits.h"
#include "foyer/timeutil.h"
#include "store_int.h"

enum {
    UST_BEGIN,
    UST_COMMIT,
    UST_ROLLBACK,
    UST_STATE,
    UST_DIRTY,
    UST_MARK,
    UST_UNDIRTY,
    UST_HOUR,
    UST_DAY,
    UST_MONTH,
    UST_DROP_KEY,
    UST_INSERT,
    UST_EVENTS,
    UST_EVENT_CURSOR,
    UST_DEVICES,
    UST_DEVICES_TS,
    UST_BACKFILL_NEXT,
    UST_BACKFILL_HOURS,
    UST_BACKFILL_DAYS,
    UST_BACKFILL_SET,
    UST_ITEMS,
    UST_SENT,
    UST_DELETE,
    UST_COUNT,
    UST_DEPTH,
    UST_PURGE_HOURS,
    UST_ALERTS,
    UST_ALERT_MARK,
    UST_SEQ_RAISE,
    UST_SEQ_FIRST,
    UST_CONSENT_MARK,
    UST_COUNT_
};

/* A rollup's figure with what the protocol says of its channel. */
#define ROLLUP_SELECT(table)                                                                       \
    "SELECT r.sum, r.n, r.min, r.max, c.name, c.quantity, c.kind, c.unit, c.dwelling,"             \
    " c.building FROM " table " r JOIN channels c ON c.id = r.channel"                             \
    " WHERE r.channel = ?1 AND r.ts = ?2"

static const char *const uplink_sql[UST_COUNT_] = {
    [UST_BEGIN] = "BEGIN IMMEDIATE",
    [UST_COMMIT] = "COMMIT",
    [UST_ROLLBACK] = "ROLLBACK",
    [UST_STATE] = "SELECT event_id, devices_ts, backfill,"
                  " (SELECT count(*) FROM uplink_outbox) FROM uplink_state WHERE id = 1",
    /* Oldest first; the caller checks each key's exact period end. */
    [UST_DIRTY] = "SELECT ts, channel FROM uplink_dirty WHERE gran = ?1 AND ts <= ?2"
                  " ORDER BY ts LIMIT ?3",
    [UST_MARK] = "INSERT OR IGNORE INTO uplink_dirty(gran, ts, channel) VALUES (?1, ?2, ?3)",
    [UST_UNDIRTY] = "DELETE FROM uplink_dirty WHERE gran = ?1 AND ts = ?2 AND channel = ?3",
    [UST_HOUR] = ROLLUP_SELECT("rollup_hour"),
    [UST_DAY] = ROLLUP_SELECT("rollup_day"),
    [UST_MONTH] = ROLLUP_SELECT("rollup_month"),
    [UST_DROP_KEY] = "DELETE FROM uplink_outbox WHERE key = ?1",
    [UST_INSERT] = "INSERT INTO uplink_outbox(type, key, body, created) VALUES (?1, ?2, ?3, ?4)",
    [UST_EVENTS] = "SELECT e.id, e.ts, e.kind, c.name, e.device, e.detail, e.value FROM events e"
                   " LEFT JOIN channels c ON c.id = e.channel WHERE e.id > ?1 ORDER BY e.id"
                   " LIMIT ?2",
    [UST_EVENT_CURSOR] = "UPDATE uplink_state SET event_id = ?1 WHERE id = 1",
    [UST_DEVICES] = "SELECT name, state, since, polls, coalesce(timeouts, 0) + coalesce(crc_errors,"
                    " 0) + coalesce(exceptions, 0) + coalesce(bad_values, 0) +"
                    " coalesce(other_errors, 0), timeouts, last_success FROM devices"
                    " WHERE updated >= ?1 ORDER BY name LIMIT ?2",
    [UST_DEVICES_TS] = "UPDATE uplink_state SET devices_ts = ?1 WHERE id = 1",
    [UST_BACKFILL_NEXT] = "SELECT min(id) FROM channels WHERE id > ?1",
    [UST_BACKFILL_HOURS] = "INSERT OR IGNORE INTO uplink_dirty(gran, ts, channel)"
                           " SELECT 0, ts, channel FROM rollup_hour WHERE channel = ?1",
    /* Days whose hours are gone (no consent, past the raw window) too. */
    [UST_BACKFILL_DAYS] = "INSERT OR IGNORE INTO uplink_dirty(gran, ts, channel)"
                          " SELECT 1, ts, channel FROM rollup_day WHERE channel = ?1",
    [UST_BACKFILL_SET] = "UPDATE uplink_state SET backfill = ?1 WHERE id = 1",
    [UST_ITEMS] = "SELECT seq, body FROM uplink_outbox WHERE seq > ?1 AND seq <= ?2"
                  " ORDER BY seq LIMIT ?3",
    [UST_SENT] = "UPDATE uplink_outbox SET sent = ?3 WHERE seq BETWEEN ?1 AND ?2",
    [UST_DELETE] = "DELETE FROM uplink_outbox WHERE seq BETWEEN ?1 AND ?2",
    [UST_COUNT] = "SELECT count(*) FROM uplink_outbox WHERE seq BETWEEN ?1 AND ?2",
    [UST_DEPTH] = "SELECT count(*), coalesce(min(created), 0) FROM uplink_outbox",
    [UST_PURGE_HOURS] = "DELETE FROM uplink_outbox WHERE type = 'rollup'"
                        " AND json_extract(body, '$.gran') = 'hour'"
                        " AND json_extract(body, '$.dwelling') = ?1",
    /* Alerts whose state is not the one last queued (or never queued):
     * opened, acknowledged or closed since, by the engine or by hand. */
    [UST_ALERTS] = "SELECT a.id, a.kind, a.severity, a.building, a.dwelling, a.channel, a.state,"
                   " a.opened, a.acked, a.closed, a.text_fr, a.text_en FROM alerts a"
                   " LEFT JOIN uplink_alerts q ON q.id = a.id"
                   " WHERE q.state IS NULL OR q.state <> a.state ORDER BY a.id LIMIT ?1",
    [UST_ALERT_MARK] = "INSERT OR REPLACE INTO uplink_alerts(id, state) VALUES (?1, ?2)",
    /* AUTOINCREMENT's counter (SQLite documents that it may be written):
     * raised, never lowered; its row exists once an item was ever queued. */
    [UST_SEQ_RAISE] =
        "UPDATE sqlite_sequence SET seq = ?1 WHERE name = 'uplink_outbox' AND seq < ?1",
    [UST_SEQ_FIRST] =
        "INSERT INTO sqlite_sequence(name, seq) SELECT 'uplink_outbox', ?1"
        " WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'uplink_outbox')",
    /* Moves whenever foyerctl consent or tenancy writes: consents are
     * appended, tenancies added or ended (their ends summed). */
    [UST_CONSENT_MARK] =
        "SELECT (SELECT coalesce(max(id), 0) FROM consents),"
        " (SELECT count(*) + coalesce(sum(end_ymd), 0) + coalesce(sum(start_ymd), 0)"
        " FROM tenancies)",
};

struct store_uplink {
    sqlite3 *db;
    sqlite3_stmt *st[UST_COUNT_];
    /* The load-curve consent of each config dwelling (store_uplink_set_consent()),
     * a copy: n_consent is the config's n_dwellings it was given for; NULL:
     * the config's flags. */
    bool *consent;
    size_t n_consent;
    char errmsg[512]; /* the last failure's message (store_uplink_errmsg()) */
};

/* The message of a failed store_uplink_open(), for its caller. */
static _Thread_local char open_msg[512];

enum gran { GRAN_HOUR, GRAN_DAY, GRAN_MONTH };
static const char *const gran_name[] = {"hour", "day", "month"};

static int uplink_errno(int rc)
{
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_sqlite_errno(rc);
}

static int fail(struct store_uplink *u, int rc)
{
    (void)snprintf(u->errmsg, sizeof(u->errmsg), "%s", sqlite3_errmsg(u->db));
    return uplink_errno(rc);
}

static int run(struct store_uplink *u, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    int err = rc == SQLITE_DONE ? 0 : fail(u, rc);
    sqlite3_reset(st);
    return err;
}

int store_uplink_open(const char *path, struct store_uplink **ret, const char **ret_err_msg)
{
    const char *dummy = NULL;
    const char **msg = ret_err_msg ? ret_err_msg : &dummy;
    struct store_uplink *u = calloc(1, sizeof(*u));
    int rc;

    open_msg[0] = '\0';
    *msg = open_msg;
    if (!u) {
        (void)snprintf(open_msg, sizeof(open_msg), "out of memory");
        return -ENOMEM;
    }
    rc = store_open_stmts(path, STORE_UPLINK_BUSY_MS, uplink_sql, UST_COUNT_, u->st, open_msg,
                          sizeof(open_msg), &u->db);
    if (rc < 0) {
        store_uplink_close(u);
        return rc;
    }
    *msg = NULL;
    *ret = u;
    return 0;
}

void store_uplink_close(struct store_uplink *u)
{
    if (!u)
        return;
    for (int i = 0; i < UST_COUNT_; i++)
        sqlite3_finalize(u->st[i]);
    sqlite3_close(u->db);
    free(u->consent);
    free(u);
}

const char *store_uplink_errmsg(const struct store_uplink *u)
{
    return u->errmsg[0] ? u->errmsg : sqlite3_errmsg(u->db);
}

/* ---- queuing ------------------------------------------------------------ */

/* Queue obj (consumed) as an item of type under key, dropping the older
 * item of that key. */
static int enqueue(struct store_uplink *u, const char *type, const char *key, json_t *obj,
                   int64_t now_s, struct store_uplink_harvest *h)
{
    char *body = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    json_decref(obj);
    if (!body) {
        (void)snprintf(u->errmsg, sizeof(u->errmsg), "out of memory");
        return -ENOMEM;
    }
    sqlite3_stmt *drop = u->st[UST_DROP_KEY], *ins = u->st[UST_INSERT];
    sqlite3_bind_text(drop, 1, key, -1, SQLITE_STATIC);
    int rc = run(u, drop);
    if (rc == 0 && h)
        h->replaced += (uint64_t)sqlite3_changes(u->db);
    if (rc == 0) {
        sqlite3_bind_text(ins, 1, type, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 2, key, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 3, body, -1, SQLITE_STATIC);
        sqlite3_bind_int64(ins, 4, now_s);
        rc = run(u, ins);
    }
    free(body);
    return rc;
}

static json_t *text_or_null(sqlite3_stmt *st, int col)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    return t ? json_string((const char *)t) : json_null();
}

static json_t *real_or_null(sqlite3_stmt *st, int col)
{
    return sqlite3_column_type(st, col) == SQLITE_NULL ? json_null()
                                                       : json_real(sqlite3_column_double(st, col));
}

static json_t *int_or_null(sqlite3_stmt *st, int col)
{
    return sqlite3_column_type(st, col) == SQLITE_NULL
               ? json_null()
               : json_integer(sqlite3_column_int64(st, col));
}

/* Whether config dwelling i has consent: the store's, as last given to
 * store_uplink_set_consent() for a config of as many dwellings, else the
 * config's flag. */
static bool dwelling_consent(const struct store_uplink *u, const struct foyer_config *cfg, size_t i)
{
    if (u->consent && u->n_consent == cfg->n_dwellings)
        return u->consent[i];
    return cfg->dwellings[i].consent;
}

/* Whether an hourly figure of a channel of dwelling (NULL: a building's)
 * may leave the gateway: only with the dwelling's consent, and a dwelling
 * no longer configured has none. */
static bool hour_allowed(const struct store_uplink *u, const struct foyer_config *cfg,
                         const unsigned char *dwelling)
{
    if (!dwelling)
        return true;
    for (size_t i = 0; i < cfg->n_dwellings; i++)
        if (strcmp(cfg->dwellings[i].id, (const char *)dwelling) == 0)
            return dwelling_consent(u, cfg, i);
    return false;
}

/* The end of the period of gran starting at start_s. */
static int64_t period_end(enum gran g, int64_t start_s)
{
    switch (g) {
    case GRAN_HOUR:
        return start_s + 3600;
    case GRAN_DAY:
        return tu_next_day(start_s);
    default:
        return tu_next_month(start_s);
    }
}

/* Queue the figure of (chan, gran, start_s) if it exists and may leave. */
static int queue_rollup(struct store_uplink *u, const struct foyer_config *cfg, enum gran g,
                        int64_t chan, int64_t start_s, int64_t now_s,
                        struct store_uplink_harvest *h)
{
    static const int stmt_of[] = {UST_HOUR, UST_DAY, UST_MONTH};
    sqlite3_stmt *st = u->st[stmt_of[g]];
    sqlite3_bind_int64(st, 1, chan);
    sqlite3_bind_int64(st, 2, start_s);
    int src = sqlite3_step(st);
    if (src != SQLITE_ROW) {
        /* No figure (deleted by retention): nothing to send. */
        int rc = src == SQLITE_DONE ? 0 : fail(u, src);
        sqlite3_reset(st);
        return rc;
    }
    if (g == GRAN_HOUR && !hour_allowed(u, cfg, sqlite3_column_text(st, 8))) {
        h->withheld++;
        sqlite3_reset(st);
        return 0;
    }
    char start[40], key[FOYER_ID_MAX + 64];
    const unsigned char *name = sqlite3_column_text(st, 4);
    tu_format_local(start_s, start, sizeof(start));
    (void)snprintf(key, sizeof(key), "rollup:%s:%s:%lld", name ? (const char *)name : "?",
                   gran_name[g], (long long)start_s);
    json_t *o = json_object();
    if (o) {
        json_object_set_new(o, "type", json_string("rollup"));
        json_object_set_new(o, "gran", json_string(gran_name[g]));
        json_object_set_new(o, "channel", text_or_null(st, 4));
        json_object_set_new(o, "building", text_or_null(st, 9));
        json_object_set_new(o, "dwelling", text_or_null(st, 8));
        json_object_set_new(o, "quantity", text_or_null(st, 5));
        json_object_set_new(o, "kind", text_or_null(st, 6));
        json_object_set_new(o, "unit", text_or_null(st, 7));
        json_object_set_new(o, "start", json_string(start));
        json_object_set_new(o, "start_s", json_integer(start_s));
        json_object_set_new(o, "sum", json_real(sqlite3_column_double(st, 0)));
        json_object_set_new(o, "n", json_integer(sqlite3_column_int64(st, 1)));
        json_object_set_new(o, "min", real_or_null(st, 2));
        json_object_set_new(o, "max", real_or_null(st, 3));
    }
    sqlite3_reset(st);
    int rc = enqueue(u, "rollup", key, o, now_s, h);
    if (rc == 0)
        h->rollups++;
    return rc;
}

/* Turn the settled dirty keys of gran into items (and dirty keys of the
 * period above).  Returns how many keys were taken, or -errno. */
static int harvest_gran(struct store_uplink *u, const struct foyer_config *cfg, enum gran g,
                        int64_t now_s, struct store_uplink_harvest *h)
{
    /* The shortest period of gran: a key starting later cannot be settled. */
    static const int64_t shortest_s[] = {3600, 23 * 3600, 28 * 86400 - 3600};
    int64_t settled_before = now_s - cfg->uplink.settle_s;
    sqlite3_stmt *sel = u->st[UST_DIRTY];
    struct {
        int64_t ts, chan;
    } keys[256];
    int taken = 0, rc = 0;

    /* Read a chunk, then write: the select's cursor never sees its own
     * changes. */
    for (;;) {
        size_t n = 0;
        int src;
        sqlite3_bind_int(sel, 1, (int)g);
        sqlite3_bind_int64(sel, 2, settled_before - shortest_s[g]);
        sqlite3_bind_int64(sel, 3, (int64_t)(sizeof(keys) / sizeof(keys[0])));
        while ((src = sqlite3_step(sel)) == SQLITE_ROW) {
            int64_t ts = sqlite3_column_int64(sel, 0);
            if (period_end(g, ts) > settled_before)
                continue; /* a 25-hour day or a long month: not yet */
            keys[n].ts = ts;
            keys[n].chan = sqlite3_column_int64(sel, 1);
            n++;
        }
        rc = src == SQLITE_DONE ? 0 : fail(u, src);
        sqlite3_reset(sel);
        for (size_t i = 0; rc == 0 && i < n; i++) {
            rc = queue_rollup(u, cfg, g, keys[i].chan, keys[i].ts, now_s, h);
            if (rc == 0 && g != GRAN_MONTH) {
                sqlite3_stmt *mark = u->st[UST_MARK];
                sqlite3_bind_int(mark, 1, (int)g + 1);
                sqlite3_bind_int64(mark, 2,
                                   g == GRAN_HOUR ? tu_day_start(keys[i].ts)
                                                  : tu_month_start(keys[i].ts));
                sqlite3_bind_int64(mark, 3, keys[i].chan);
                rc = run(u, mark);
            }
            if (rc == 0) {
                sqlite3_stmt *del = u->st[UST_UNDIRTY];
                sqlite3_bind_int(del, 1, (int)g);
                sqlite3_bind_int64(del, 2, keys[i].ts);
                sqlite3_bind_int64(del, 3, keys[i].chan);
                rc = run(u, del);
            }
        }
        if (rc < 0)
            return rc;
        taken += (int)n;
        /* A chunk of only unsettled keys, or the last one: done. */
        if (n == 0 || taken >= FOYER_UPLINK_HARVEST_MAX)
            return taken;
    }
}

static int harvest_events(struct store_uplink *u, int64_t cursor, int64_t now_s,
                          struct store_uplink_harvest *h, int *ret_n)
{
    sqlite3_stmt *sel = u->st[UST_EVENTS];
    int64_t ids[128];
    json_t *items[128];
    size_t n = 0;
    int src, rc;

    sqlite3_bind_int64(sel, 1, cursor);
    sqlite3_bind_int64(sel, 2, (int64_t)(sizeof(ids) / sizeof(ids[0])));
    while ((src = sqlite3_step(sel)) == SQLITE_ROW) {
        json_t *o = json_object();
        if (o) {
            json_object_set_new(o, "type", json_string("event"));
            json_object_set_new(o, "id", json_integer(sqlite3_column_int64(sel, 0)));
            json_object_set_new(o, "time_s", json_integer(sqlite3_column_int64(sel, 1)));
            json_object_set_new(o, "kind", text_or_null(sel, 2));
            json_object_set_new(o, "channel", text_or_null(sel, 3));
            json_object_set_new(o, "device", text_or_null(sel, 4));
            json_object_set_new(o, "detail", text_or_null(sel, 5));
            json_object_set_new(o, "value", real_or_null(sel, 6));
        }
        ids[n] = sqlite3_column_int64(sel, 0);
        items[n++] = o;
    }
    rc = src == SQLITE_DONE ? 0 : fail(u, src);
    sqlite3_reset(sel);
    for (size_t i = 0; i < n; i++) {
        char key[32];
        (void)snprintf(key, sizeof(key), "event:%lld", (long long)ids[i]);
        if (rc == 0) {
            rc = enqueue(u, "event", key, items[i], now_s, h);
            h->events += rc == 0;
        } else {
            json_decref(items[i]);
        }
    }
    if (rc == 0 && n > 0) {
        sqlite3_stmt *cur = u->st[UST_EVENT_CURSOR];
        sqlite3_bind_int64(cur, 1, ids[n - 1]);
        rc = run(u, cur);
    }
    if (rc == 0)
        *ret_n = (int)n;
    return rc;
}

static int harvest_devices(struct store_uplink *u, int64_t since_s, int64_t now_s,
                           struct store_uplink_harvest *h)
{
    sqlite3_stmt *sel = u->st[UST_DEVICES];
    int src, rc = 0;
    struct dev {
        char key[FOYER_ID_MAX * 2 + 16];
        json_t *o;
    } *devs = calloc(FOYER_UPLINK_HARVEST_MAX, sizeof(*devs));
    size_t n = 0;

    if (!devs)
        return -ENOMEM;
    sqlite3_bind_int64(sel, 1, since_s);
    sqlite3_bind_int64(sel, 2, FOYER_UPLINK_HARVEST_MAX);
    while ((src = sqlite3_step(sel)) == SQLITE_ROW) {
        const unsigned char *name = sqlite3_column_text(sel, 0);
        json_t *o = json_object();
        if (o) {
            json_object_set_new(o, "type", json_string("device"));
            json_object_set_new(o, "device", text_or_null(sel, 0));
            json_object_set_new(o, "state", text_or_null(sel, 1));
            json_object_set_new(o, "since_s", int_or_null(sel, 2));
            json_object_set_new(o, "polls", int_or_null(sel, 3));
            json_object_set_new(o, "errors", int_or_null(sel, 4));
            json_object_set_new(o, "timeouts", int_or_null(sel, 5));
            /* 0 is "never" in the devices table. */
            int64_t ok = sqlite3_column_int64(sel, 6);
            json_object_set_new(o, "last_ok_s", ok > 0 ? json_integer(ok) : json_null());
        }
        (void)snprintf(devs[n].key, sizeof(devs[n].key), "device:%s",
                       name ? (const char *)name : "?");
        devs[n++].o = o;
    }
    rc = src == SQLITE_DONE ? 0 : fail(u, src);
    sqlite3_reset(sel);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0) {
            rc = enqueue(u, "device", devs[i].key, devs[i].o, now_s, h);
            h->devices += rc == 0;
        } else {
            json_decref(devs[i].o);
        }
    }
    free(devs);
    if (rc == 0) {
        sqlite3_stmt *ts = u->st[UST_DEVICES_TS];
        sqlite3_bind_int64(ts, 1, now_s);
        rc = run(u, ts);
    }
    return rc;
}

/* Mark the stored history of the next channel after `after` to send; -1
 * when every channel is done. */
static int backfill_step(struct store_uplink *u, int64_t after, struct store_uplink_harvest *h)
{
    sqlite3_stmt *nx = u->st[UST_BACKFILL_NEXT];
    sqlite3_bind_int64(nx, 1, after);
    int src = sqlite3_step(nx);
    int64_t chan = src == SQLITE_ROW && sqlite3_column_type(nx, 0) != SQLITE_NULL
                       ? sqlite3_column_int64(nx, 0)
                       : -1;
    int rc = src == SQLITE_ROW ? 0 : fail(u, src);
    sqlite3_reset(nx);
    if (rc == 0 && chan >= 0) {
        sqlite3_bind_int64(u->st[UST_BACKFILL_HOURS], 1, chan);
        rc = run(u, u->st[UST_BACKFILL_HOURS]);
        if (rc == 0) {
            sqlite3_bind_int64(u->st[UST_BACKFILL_DAYS], 1, chan);
            rc = run(u, u->st[UST_BACKFILL_DAYS]);
        }
        h->backfill++;
    }
    if (rc == 0) {
        sqlite3_bind_int64(u->st[UST_BACKFILL_SET], 1, chan);
        rc = run(u, u->st[UST_BACKFILL_SET]);
    }
    return rc;
}

/* The protocol's alert item of a (NULL when out of memory). */
static json_t *alert_item(const struct store_uplink_alert *a)
{
    json_t *o = json_object();
    if (o) {
        json_object_set_new(o, "type", json_string("alert"));
        json_object_set_new(o, "id", json_integer(a->id));
        json_object_set_new(o, "kind", json_string(a->kind ? a->kind : ""));
        json_object_set_new(o, "severity", json_string(a->severity ? a->severity : ""));
        json_object_set_new(o, "building", a->building ? json_string(a->building) : json_null());
        json_object_set_new(o, "dwelling", a->dwelling ? json_string(a->dwelling) : json_null());
        json_object_set_new(o, "channel", a->channel ? json_string(a->channel) : json_null());
        json_object_set_new(o, "state", json_string(a->state ? a->state : "open"));
        json_object_set_new(o, "opened_s", json_integer(a->opened_s));
        json_object_set_new(o, "acknowledged_s",
                            a->acknowledged_s ? json_integer(a->acknowledged_s) : json_null());
        json_object_set_new(o, "closed_s", a->closed_s ? json_integer(a->closed_s) : json_null());
        json_object_set_new(o, "text_fr", json_string(a->text_fr ? a->text_fr : ""));
        json_object_set_new(o, "text_en", json_string(a->text_en ? a->text_en : ""));
    }
    return o;
}

static int64_t int_or_zero(sqlite3_stmt *st, int col)
{
    return sqlite3_column_type(st, col) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, col);
}

static const char *text_col(sqlite3_stmt *st, int col)
{
    return (const char *)sqlite3_column_text(st, col);
}

/* Queue the alerts whose state changed since they were last queued (at
 * most FOYER_UPLINK_HARVEST_MAX), and remember the state queued.
 * *ret_n gets how many. */
static int harvest_alerts(struct store_uplink *u, int64_t now_s, struct store_uplink_harvest *h,
                          int *ret_n)
{
    static const char *const state_name[] = {"open", "acknowledged", "closed"};
    sqlite3_stmt *sel = u->st[UST_ALERTS];
    struct changed {
        int64_t id, state;
        json_t *o;
    } *ch = calloc(FOYER_UPLINK_HARVEST_MAX, sizeof(*ch));
    size_t n = 0;
    int src, rc;

    if (!ch)
        return -ENOMEM;
    sqlite3_bind_int64(sel, 1, FOYER_UPLINK_HARVEST_MAX);
    while ((src = sqlite3_step(sel)) == SQLITE_ROW) {
        int64_t state = sqlite3_column_int64(sel, 6);
        struct store_uplink_alert a = {
            .id = sqlite3_column_int64(sel, 0),
            .kind = text_col(sel, 1),
            .severity = text_col(sel, 2),
            .building = text_col(sel, 3),
            .dwelling = text_col(sel, 4),
            .channel = text_col(sel, 5),
            .state = state >= 0 && state <= 2 ? state_name[state] : "open",
            .opened_s = sqlite3_column_int64(sel, 7),
            .acknowledged_s = int_or_zero(sel, 8),
            .closed_s = int_or_zero(sel, 9),
            .text_fr = text_col(sel, 10),
            .text_en = text_col(sel, 11),
        };
        ch[n++] = (struct changed){a.id, state, alert_item(&a)};
    }
    rc = src == SQLITE_DONE ? 0 : fail(u, src);
    sqlite3_reset(sel);
    for (size_t i = 0; i < n; i++) {
        char key[40];
        (void)snprintf(key, sizeof(key), "alert:%lld", (long long)ch[i].id);
        if (rc == 0) {
            rc = enqueue(u, "alert", key, ch[i].o, now_s, h);
            h->alerts += rc == 0;
        } else {
            json_decref(ch[i].o);
        }
        if (rc == 0) {
            sqlite3_stmt *mark = u->st[UST_ALERT_MARK];
            sqlite3_bind_int64(mark, 1, ch[i].id);
            sqlite3_bind_int64(mark, 2, ch[i].state);
            rc = run(u, mark);
        }
    }
    free(ch);
    if (rc == 0)
        *ret_n = (int)n;
    return rc;
}

int store_uplink_harvest(struct store_uplink *u, const struct foyer_config *cfg, int64_t now_s,
                         struct store_uplink_harvest *ret)
{
    struct store_uplink_harvest h = {0};
    sqlite3_stmt *state = u->st[UST_STATE];
    int64_t event_id = 0, devices_ts = 0, backfill = -1, depth = 0;
    int rc;

    u->errmsg[0] = '\0';
    rc = run(u, u->st[UST_BEGIN]);
    if (rc < 0)
        return rc;
    int src = sqlite3_step(state);
    if (src == SQLITE_ROW) {
        event_id = sqlite3_column_int64(state, 0);
        devices_ts = sqlite3_column_int64(state, 1);
        backfill = sqlite3_column_int64(state, 2);
        depth = sqlite3_column_int64(state, 3);
    } else {
        rc = src == SQLITE_DONE ? -EBADMSG : fail(u, src);
        if (src == SQLITE_DONE)
            (void)snprintf(u->errmsg, sizeof(u->errmsg), "uplink_state has no row");
    }
    sqlite3_reset(state);

    if (rc == 0 && depth >= FOYER_UPLINK_OUTBOX_MAX) {
        /* Full: everything waits where it is (dirty keys, the cursor). */
        h.more = -1;
    } else if (rc == 0) {
        int n_ev = 0, n_al = 0, taken = 0;
        /* The history is marked whole before any key is taken: a key taken
         * before its channel's backfill would be queued twice. */
        if (backfill >= 0)
            rc = backfill_step(u, backfill, &h);
        /* A day only once no settled hour of it waits (else it would be
         * queued, then queued again by its next hour), a month likewise:
         * while a catch-up has more hours than one call takes, the days
         * wait for the next calls. */
        for (int g = GRAN_HOUR; rc == 0 && backfill < 0 && g <= GRAN_MONTH; g++) {
            int n = harvest_gran(u, cfg, (enum gran)g, now_s, &h);
            if (n < 0)
                rc = n;
            else
                taken += n;
            if (n >= FOYER_UPLINK_HARVEST_MAX)
                break;
        }
        if (rc == 0 && backfill < 0)
            rc = harvest_events(u, event_id, now_s, &h, &n_ev);
        if (rc == 0 && backfill < 0 && now_s - devices_ts >= cfg->uplink.device_every_s)
            rc = harvest_devices(u, devices_ts, now_s, &h);
        if (rc == 0 && backfill < 0)
            rc = harvest_alerts(u, now_s, &h, &n_al);
        h.more = backfill >= 0 || taken >= FOYER_UPLINK_HARVEST_MAX || n_ev >= 128 ||
                 n_al >= FOYER_UPLINK_HARVEST_MAX;
    }
    if (rc == 0)
        rc = run(u, u->st[UST_COMMIT]);
    if (rc < 0) {
        (void)sqlite3_step(u->st[UST_ROLLBACK]);
        sqlite3_reset(u->st[UST_ROLLBACK]);
        return rc;
    }
    *ret = h;
    return 0;
}

int store_uplink_withhold_hours(struct store_uplink *u, const struct foyer_config *cfg,
                                int64_t *ret_n)
{
    sqlite3_stmt *st = u->st[UST_PURGE_HOURS];
    int64_t n = 0;
    u->errmsg[0] = '\0';
    int rc = run(u, u->st[UST_BEGIN]);
    for (size_t i = 0; rc == 0 && i < cfg->n_dwellings; i++) {
        if (dwelling_consent(u, cfg, i))
            continue;
        sqlite3_bind_text(st, 1, cfg->dwellings[i].id, -1, SQLITE_STATIC);
        rc = run(u, st);
        n += sqlite3_changes(u->db);
    }
    if (rc == 0)
        rc = run(u, u->st[UST_COMMIT]);
    if (rc < 0) {
        (void)sqlite3_step(u->st[UST_ROLLBACK]);
        sqlite3_reset(u->st[UST_ROLLBACK]);
        return rc;
    }
    if (ret_n)
        *ret_n = n;
    return 0;
}

int store_uplink_set_consent(struct store_uplink *u, const struct foyer_config *cfg,
                             const bool *consent)
{
    bool *v = NULL;
    if (consent && cfg->n_dwellings) {
        v = malloc(cfg->n_dwellings * sizeof(*v));
        if (!v) {
            (void)snprintf(u->errmsg, sizeof(u->errmsg), "out of memory");
            return -ENOMEM;
        }
        memcpy(v, consent, cfg->n_dwellings * sizeof(*v));
    }
    free(u->consent);
    u->consent = v;
    u->n_consent = consent ? cfg->n_dwellings : 0;
    return 0;
}

int store_uplink_consent_mark(struct store_uplink *u, int64_t *ret_mark)
{
    sqlite3_stmt *st = u->st[UST_CONSENT_MARK];
    u->errmsg[0] = '\0';
    int src = sqlite3_step(st);
    int rc = src == SQLITE_ROW ? 0 : fail(u, src);
    if (rc == 0)
        *ret_mark = sqlite3_column_int64(st, 0) * 1000003 + sqlite3_column_int64(st, 1);
    sqlite3_reset(st);
    return rc;
}

int store_uplink_add_alert(struct store_uplink *u, const struct store_uplink_alert *a,
                           int64_t now_s, int64_t *ret_seq)
{
    char key[40];
    json_t *o = alert_item(a);
    (void)snprintf(key, sizeof(key), "alert:%lld", (long long)a->id);
    u->errmsg[0] = '\0';
    int rc = run(u, u->st[UST_BEGIN]);
    if (rc < 0) {
        json_decref(o);
        return rc;
    }
    rc = enqueue(u, "alert", key, o, now_s, NULL);
    int64_t seq = sqlite3_last_insert_rowid(u->db);
    if (rc == 0)
        rc = run(u, u->st[UST_COMMIT]);
    if (rc < 0) {
        (void)sqlite3_step(u->st[UST_ROLLBACK]);
        sqlite3_reset(u->st[UST_ROLLBACK]);
        return rc;
    }
    if (ret_seq)
        *ret_seq = seq;
    return 0;
}

/* ---- erasures and withdrawals (amendment 3) ------------------------------ */

int store_uplink_queue_privacy(sqlite3 *db, const char *type, const char *key, json_t *body,
                               int64_t now_s)
{
    sqlite3_stmt *st = NULL;
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!text)
        return -ENOMEM;
    int rc = store_sqlite_errno(sqlite3_prepare_v2(db, uplink_sql[UST_INSERT], -1, &st, NULL));
    if (rc == 0) {
        sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, text, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, now_s);
        rc = store_step_done(st);
    }
    sqlite3_finalize(st);
    free(text);
    return rc;
}

int store_uplink_dwelling_channels(sqlite3 *db, const char *dwelling, json_t **ret)
{
    sqlite3_stmt *st = NULL;
    json_t *a = json_array();
    int rc =
        a ? store_sqlite_errno(sqlite3_prepare_v2(
                db, "SELECT name FROM channels WHERE dwelling = ?1 ORDER BY id", -1, &st, NULL))
          : -ENOMEM;
    int src = SQLITE_DONE;
    if (rc == 0)
        sqlite3_bind_text(st, 1, dwelling, -1, SQLITE_STATIC);
    while (rc == 0 && (src = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *name = sqlite3_column_text(st, 0);
        if (name && json_array_append_new(a, json_string((const char *)name)) < 0)
            rc = -ENOMEM;
    }
    if (rc == 0)
        rc = uplink_errno(src);
    sqlite3_finalize(st);
    if (rc < 0) {
        json_decref(a);
        return rc;
    }
    *ret = a;
    return 0;
}

/* ---- sending ------------------------------------------------------------ */

int store_uplink_items(struct store_uplink *u, int64_t after_seq, int64_t upto_seq, int limit,
                       int (*fn)(void *ud, int64_t seq, const char *body, size_t len), void *ud)
{
    sqlite3_stmt *st = u->st[UST_ITEMS];
    int src, rc = 0;
    u->errmsg[0] = '\0';
    sqlite3_bind_int64(st, 1, after_seq);
    sqlite3_bind_int64(st, 2, upto_seq < 0 ? INT64_MAX : upto_seq);
    sqlite3_bind_int(st, 3, limit);
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        const char *body = (const char *)sqlite3_column_text(st, 1);
        size_t len = (size_t)sqlite3_column_bytes(st, 1);
        rc = fn(ud, sqlite3_column_int64(st, 0), body ? body : "{}", body ? len : 2);
        if (rc != 0)
            break;
    }
    if (rc == 0 && src != SQLITE_DONE)
        rc = fail(u, src);
    sqlite3_reset(st);
    return rc;
}

int store_uplink_mark_sent(struct store_uplink *u, int64_t from_seq, int64_t to_seq, int64_t now_s)
{
    sqlite3_stmt *st = u->st[UST_SENT];
    u->errmsg[0] = '\0';
    sqlite3_bind_int64(st, 1, from_seq);
    sqlite3_bind_int64(st, 2, to_seq);
    sqlite3_bind_int64(st, 3, now_s);
    return run(u, st);
}

int store_uplink_delete(struct store_uplink *u, int64_t from_seq, int64_t to_seq, int64_t *ret_n)
{
    sqlite3_stmt *st = u->st[UST_DELETE];
    u->errmsg[0] = '\0';
    sqlite3_bind_int64(st, 1, from_seq);
    sqlite3_bind_int64(st, 2, to_seq);
    int rc = run(u, st);
    if (rc == 0 && ret_n)
        *ret_n = sqlite3_changes(u->db);
    return rc;
}

int store_uplink_count(struct store_uplink *u, int64_t from_seq, int64_t to_seq, int64_t *ret_n)
{
    sqlite3_stmt *st = u->st[UST_COUNT];
    u->errmsg[0] = '\0';
    sqlite3_bind_int64(st, 1, from_seq);
    sqlite3_bind_int64(st, 2, to_seq);
    int src = sqlite3_step(st);
    int64_t n = src == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    int rc = src == SQLITE_ROW ? 0 : fail(u, src);
    sqlite3_reset(st);
    if (rc == 0)
        *ret_n = n;
    return rc;
}

static int depth_of(sqlite3 *db, sqlite3_stmt *st, int64_t *ret_items, int64_t *ret_oldest_s)
{
    int src = sqlite3_step(st);
    int rc = src == SQLITE_ROW ? 0 : uplink_errno(src);
    if (src == SQLITE_ROW) {
        *ret_items = sqlite3_column_int64(st, 0);
        *ret_oldest_s = sqlite3_column_int64(st, 1);
    }
    (void)db;
    return rc;
}

int store_uplink_seq_floor(struct store_uplink *u, int64_t floor, bool *ret_raised)
{
    u->errmsg[0] = '\0';
    int rc = run(u, u->st[UST_BEGIN]);
    if (rc < 0)
        return rc;
    int changed = 0;
    for (int i = UST_SEQ_RAISE; rc == 0 && i <= UST_SEQ_FIRST; i++) {
        sqlite3_bind_int64(u->st[i], 1, floor);
        rc = run(u, u->st[i]);
        changed += sqlite3_changes(u->db);
    }
    if (rc == 0)
        rc = run(u, u->st[UST_COMMIT]);
    if (rc < 0) {
        (void)sqlite3_step(u->st[UST_ROLLBACK]);
        sqlite3_reset(u->st[UST_ROLLBACK]);
        return rc;
    }
    if (ret_raised)
        *ret_raised = changed > 0;
    return 0;
}

int store_uplink_depth(struct store_uplink *u, int64_t *ret_items, int64_t *ret_oldest_s)
{
    u->errmsg[0] = '\0';
    int rc = depth_of(u->db, u->st[UST_DEPTH], ret_items, ret_oldest_s);
    if (rc < 0)
        (void)fail(u, SQLITE_ERROR);
    sqlite3_reset(u->st[UST_DEPTH]);
    return rc;
}

int store_uplink_read_depth(struct store *s, int64_t *ret_items, int64_t *ret_oldest_s)
{
    sqlite3_stmt *st;
    int rc =
        store_sqlite_errno(sqlite3_prepare_v2(store_db(s), uplink_sql[UST_DEPTH], -1, &st, NULL));
    if (rc == 0) {
        rc = depth_of(store_db(s), st, ret_items, ret_oldest_s);
        sqlite3_finalize(st);
    }
    if (rc < 0)
        store_note_error(s);
    return rc;
}
