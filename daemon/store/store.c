/*
 * store.c - SQLite time-series storage: raw readings, rollups, events.
 *
 * The store room (daemon/store/) is the only owner of SQL.  This file opens
 * handles (checks, migrations, channel registration and its guard against
 * re-labelled history), switches configs and keeps errors; the write path
 * is store_ingest.c, the counter rules store_counter.c (pure), reads for
 * other rooms store_read.c, the pusher's tables store_outbox.c, the fleet
 * uplink's tables store_uplink.c.  What they share is store_int.h.
 *
 * SCHEMA (version 13, PRAGMA user_version; version 1 had channels to devices,
 * version 2 added summaries and outbox, version 3 ingest_state, version 4
 * ingest_state.ingest_gen, version 5 tip_answers and reports, version 6 tokens,
 * version 7 alerts, version 8 the uplink tables, version 9 tenancies, consents
 * and access_log, version 10 uplink_alerts, version 11 grants, version 12
 * rollup_folded and tenancy_erasures, version 13 erasures)
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
 *       period) and the scheduler (what was pushed: a recomputed summary
 *       whose figures differ is pushed as its next revision).
 *   outbox(id INTEGER PRIMARY KEY, endpoint TEXT, key TEXT, dwelling TEXT,
 *          body TEXT, created, attempts, next_try, state, last_error)
 *       UNIQUE(endpoint, key)                                     [version 2]
 *       One row per summary and push endpoint; key is the Idempotency-Key.
 *       state: 0 pending, 1 delivered, 2 given up (any answer but 2xx, 5xx,
 *       408 or 429, or older than the endpoint's max_age): enum
 *       store_outbox_state.  Rows of one (endpoint, dwelling) are sent in id
 *       order.  Written only by the pusher, likewise, which also appends an
 *       events row (kind push_given_up) when it gives up, and deletes
 *       delivered rows after [foyer] outbox_retention_days (a delivered
 *       row's next_try is its delivery time); but new rows of alerts (key
 *       alert-DBID-ID-STATE, INSERT OR IGNORE) are added by the alert
 *       engine through store_alerts_queue() [version 7], which the pusher
 *       then sends and updates like any other.
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
 *   tip_answers(dwelling TEXT, tip TEXT, answer TEXT, ts)         [version 5]
 *       A household's answer to a tip of its summary, from the tablet page:
 *       answer is "done", "impossible" (not possible here: the tip is not
 *       shown to the dwelling again) or "more" (tell me more).  Appended
 *       only; the newest answer of a (dwelling, tip) counts.
 *   reports(id INTEGER PRIMARY KEY, building TEXT, dwelling TEXT, kind TEXT,
 *           text TEXT, opened, closed, closed_by)                 [version 5]
 *       A problem a household reported from the tablet (kind: cold, damp,
 *       draught, leak, broken; text: theirs, at most FOYER_REPORT_TEXT_MAX
 *       characters, may be empty), or its wish to know more about a tip
 *       (kind more; text: the tip's words), open until an ambassador closes
 *       it (closed = when, closed_by = the token's name).  Both tables are
 *       written through daemon/store/store_people.c on a connection opened
 *       for the call.
 *   tokens(id INTEGER PRIMARY KEY, name TEXT UNIQUE, role TEXT, hkey INTEGER,
 *          hash BLOB, dwelling TEXT, tenancy TEXT, buildings TEXT,
 *          created, expires, revoked, pair_hash BLOB, pair_expires,
 *          pair_tries)                                          [version 6]
 *       HTTP bearer tokens (daemon/store/store_auth.c, written by foyerctl
 *       token and by a pairing exchange on a connection of their own).
 *       hash is the SHA-256 of the token (the token itself is never
 *       stored), hkey its first 8 bytes as an integer, the indexed lookup
 *       key (the full hash is then compared in constant time).  role is
 *       "tenant" (dwelling and tenancy: config IDs), "ambassador"
 *       (buildings: comma-separated config IDs) or "energy-team".  A
 *       pairing token has no hash yet: pair_hash is the SHA-256 of its
 *       short code, valid until pair_expires, dead once pair_tries failed
 *       exchanges were counted; the exchange sets hash and clears pair_hash.
 *       Times UTC epoch s; expires and revoked NULL for none.
 *   alerts(id INTEGER PRIMARY KEY, kind, subject, severity, building,
 *          dwelling, channel, state, opened, last_seen, acked, ack_by,
 *          ack_note, closed, closed_by, value, threshold, text_fr, text_en)
 *                                                                 [version 7]
 *       One row per alert, kept after it closes (history).  (kind, subject)
 *       names what it is about (a channel, a meter, a bus): at most one row
 *       of a (kind, subject) is not closed.  state: 0 open, 1 acknowledged,
 *       2 closed (enum store_alert_state).  opened and last_seen: the first
 *       and last hour the condition held; value and threshold: the figure
 *       that opened it; text_fr and text_en: its sentence.  Written only by
 *       the alert engine (foyerd's main thread) and by hand (foyerctl alerts
 *       ack|close), each on a connection of its own, through
 *       daemon/store/store_alerts.c (include/foyer/store_alerts.h).
 *
 *   uplink_dirty(gran, ts, channel) WITHOUT ROWID                 [version 8]
 *       Rollup periods changed since the uplink last looked: gran 0 hour,
 *       1 day, 2 month; ts the period's start.  store_ingest() adds the
 *       (0, hour, channel) of every hourly row it changes, in its own
 *       transaction (crash-consistent), only while [uplink] is configured;
 *       the uplink thread turns a settled hour into its item and a dirty
 *       day, a settled day into its item and a dirty month, and so on
 *       (daemon/store/store_uplink.c).
 *   uplink_outbox(seq INTEGER PRIMARY KEY AUTOINCREMENT, type, key, body,
 *                 created, sent)                                  [version 8]
 *       Items waiting for the central collector's ack (docs: the fleet
 *       protocol): seq is the item's sequence number, never reused
 *       (AUTOINCREMENT); type rollup, event, device, alert, erasure or
 *       withdrawal; key the natural key ("rollup:CHANNEL:GRAN:START",
 *       "event:ID", "device:NAME", "alert:ID"): queuing an item drops the
 *       older one of the same key, sent or not (the newer carries the
 *       whole figure), but for "erasure:DWELLING:CUT:PART" and
 *       "withdrawal:DWELLING:PURPOSE:TIME", never dropped;
 *       body the item's JSON without its seq; sent the last time it was
 *       published, 0 never.  Deleted when the collector acks or rejects.
 *   uplink_state(id = 1, event_id, devices_ts, backfill)          [version 8]
 *       The last events.id queued, when device health was last queued, and
 *       how far the stored history was marked to send: -1 all of it, N >= 0
 *       the channels with id > N are still to mark (set to 0 while no
 *       [uplink] is configured, so that enabling it later sends history).
 *       The three uplink tables are written through
 *       daemon/store/store_uplink.c by the uplink thread, on its own
 *       connection (include/foyer/store_uplink.h), except the dirty keys
 *       store_ingest() adds and the erasure and withdrawal items that
 *       store_erase.c and store_consent.c queue with their records.
 *   tenancies(id TEXT PRIMARY KEY, dwelling TEXT, start_ymd, end_ymd, ref,
 *             consent, created, created_by, ended, ended_by)  [version 9]
 *       Who lives in a dwelling (config ID) from when to when: start_ymd
 *       the first local day, end_ymd the last (YYYYMMDD integers, as the
 *       config writes them), 0 while it runs.  ref: the landlord's lease
 *       reference; consent: the household's default load-curve consent
 *       (the config dwelling's flag when it was added).  created_by is
 *       "config" for a row seeded from a [tenancy] section (when a write
 *       handle opens: sections missing from the table that overlap none of
 *       its dwelling's rows; such a row follows its section's start and
 *       end until foyerctl tenancy end sets ended), else the local user
 *       of foyerctl tenancy start; ended and ended_by: foyerctl tenancy
 *       end.  Written through
 *       daemon/store/store_tenancy.c; rows of one dwelling never overlap.
 *       A tenant token's tenancy is one of these IDs.
 *   consents(id INTEGER PRIMARY KEY, dwelling TEXT, tenancy TEXT,
 *            purpose TEXT, given INTEGER, ts, by TEXT)       [version 9]
 *       A household's consent to a purpose ("load_curve": hourly figures
 *       kept and shown; "sharing": shown to an adviser), given (1) or
 *       withdrawn (0) at ts by `by` (the local user of foyerctl consent).
 *       Appended only; the newest row of (dwelling, tenancy, purpose)
 *       counts, tenancy NULL for a dwelling without tenancies; none: the
 *       tenancy's consent column (load_curve) or no (sharing).  Written
 *       and read through daemon/store/store_consent.c.
 *   access_log(id INTEGER PRIMARY KEY, ts, who, role, what, dwelling,
 *              origin)                                       [version 9]
 *       Every read of a dwelling's data by anyone but its household: the
 *       token's name and role or the local user ("local"), the route or
 *       command with its parameters, the dwelling, the peer's address or
 *       "foyerctl".  Never a figure.  Rows older than
 *       FOYER_ACCESS_LOG_DAYS are deleted as rows are appended, through
 *       daemon/store/store_access.c.
 *   uplink_alerts(id INTEGER PRIMARY KEY, state)                  [version 10]
 *       The state of each alert (alerts.id, alerts.state) the uplink last
 *       queued: an alert whose state differs (or has no row) changed since
 *       and is queued again.  Written by the uplink thread as the other
 *       uplink tables; the alert engine and foyerctl alerts know nothing
 *       of it.
 *   grants(id INTEGER PRIMARY KEY, dwelling TEXT, tenancy TEXT,
 *          grantee TEXT, created, expires, revoked, created_by,
 *          revoked_by)                                            [version 11]
 *       A household lets the ambassador token named grantee (tokens.name)
 *       see its summaries and history from created until expires (UTC
 *       epoch s), for its tenancy (tenancies.id; NULL for a dwelling
 *       without tenancies) only.  revoked (NULL while not) and revoked_by:
 *       the tenant's withdrawal, or a withdrawal of the consent to sharing
 *       (every grant of the tenancy).  created_by: "tenant:NAME" (the
 *       tenant token's name).  Active: not revoked, not expired, its
 *       tenancy current, sharing consented to (consents).  Never deleted:
 *       the rows prove who was let see what, and until when.  Written and
 *       read through daemon/store/store_grant.c; the consents rows it
 *       implies are written in the same transaction.
 *   rollup_folded(building TEXT, quantity TEXT, gran, ts, sum, n)
 *       WITHOUT ROWID, key (building, quantity, gran, ts)       [version 12]
 *       The consumption of erased dwellings' counters that count in
 *       building totals (counters that are not submeters), folded before
 *       their rows were deleted: building a config ID, quantity its name,
 *       gran 0 hour, 1 day, 2 month (as uplink_dirty), ts the period's
 *       start as in the rollup tables, sum the consumption, n the readings
 *       it was measured from.  Names no dwelling.  Every building total
 *       adds it (store_read_folded()); written only by
 *       daemon/store/store_erase.c.  Hourly rows are deleted past
 *       raw_retention_days_no_consent by foyerd's writer
 *       (store_erase_prune_hours()).
 *   tenancy_erasures(tenancy TEXT PRIMARY KEY, ts)               [version 12]
 *       The ended tenancies (tenancies.id) whose data was erased, and when
 *       (foyerctl erase, or foyerd after [foyer] erase_after_days): foyerd
 *       does not erase them again.  A table rather than a column of
 *       tenancies: its CREATE is idempotent, so a database set back by
 *       hand migrates again.
 *   erasures(dwelling TEXT, cut, ts)                             [version 13]
 *       Every erasure of a dwelling (config ID): everything before cut
 *       (a local day's start) went, at ts.  Written with the erasure, in
 *       its transaction (daemon/store/store_erase.c).  What is stored
 *       afterwards for the dwelling is checked against it in the storing
 *       transaction: a summary whose period starts before a cut
 *       (store_outbox_add()) or an alert opened before one
 *       (store_alerts_add()) was computed from data read before the
 *       erasure and is refused, never stored; an alert's state is queued
 *       for push only while the alert exists (store_alerts_queue()).
 *       Without it foyerd's main thread, which reads first and stores
 *       later, could bring an erased household's figures back.
 *
 *   A channel's quantity, kind, unit, dwelling and building never change
 *   once it holds data: sync_channels() refuses a config that would re-label
 *   stored history (store_check_channels()); a changed channel with no data
 *   yet is updated.
 *
 * WRITE PATH (store_ingest.c)
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "foyer/counter.h"
#include "foyer/limits.h"
#include "foyer/store_tenancy.h"
#include "foyer/timeutil.h"

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

/* Version 5: what tenants tell through the tablet page (tip answers,
 * problem reports), written by daemon/store/store_people.c. */
static const char *const schema_v5[] = {
    "CREATE TABLE tip_answers(dwelling TEXT NOT NULL, tip TEXT NOT NULL, answer TEXT NOT NULL,"
    " ts INTEGER NOT NULL)",
    "CREATE INDEX tip_answers_dwelling ON tip_answers(dwelling, ts)",
    "CREATE TABLE reports(id INTEGER PRIMARY KEY, building TEXT NOT NULL,"
    " dwelling TEXT NOT NULL, kind TEXT NOT NULL, text TEXT NOT NULL, opened INTEGER NOT NULL,"
    " closed INTEGER, closed_by TEXT)",
    "CREATE INDEX reports_open ON reports(building, closed, opened)",
    NULL,
};

/* Version 6: HTTP bearer tokens and pairing codes (daemon/store/store_auth.c).
 * IF NOT EXISTS: a database whose user_version was set back by hand (the
 * migration tests do) still migrates. */
static const char *const schema_v6[] = {
    "CREATE TABLE IF NOT EXISTS tokens(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, role "
    "TEXT NOT NULL,"
    " hkey INTEGER, hash BLOB, dwelling TEXT, tenancy TEXT, buildings TEXT,"
    " created INTEGER NOT NULL, expires INTEGER, revoked INTEGER, pair_hash BLOB,"
    " pair_expires INTEGER, pair_tries INTEGER NOT NULL DEFAULT 0)",
    "CREATE INDEX IF NOT EXISTS tokens_hkey ON tokens(hkey)",
    "CREATE INDEX IF NOT EXISTS tokens_pair ON tokens(pair_hash)",
    NULL,
};

/* Version 7: alerts (daemon/alerts/, written through store_alerts.c).  IF
 * NOT EXISTS: a database taken back to an older version by hand (the
 * migration tests do) may keep the table. */
static const char *const schema_v7[] = {
    "CREATE TABLE IF NOT EXISTS alerts(id INTEGER PRIMARY KEY, kind TEXT NOT NULL, subject TEXT "
    "NOT NULL,"
    " severity TEXT NOT NULL, building TEXT, dwelling TEXT, channel TEXT,"
    " state INTEGER NOT NULL DEFAULT 0, opened INTEGER NOT NULL, last_seen INTEGER NOT NULL,"
    " acked INTEGER, ack_by TEXT, ack_note TEXT, closed INTEGER, closed_by TEXT,"
    " value REAL, threshold REAL, text_fr TEXT NOT NULL, text_en TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS alerts_subject ON alerts(kind, subject, id)",
    "CREATE INDEX IF NOT EXISTS alerts_state ON alerts(state, id)",
    NULL,
};

/* Version 8: the fleet uplink (daemon/uplink/): the rollup keys the writer
 * changed, the persistent outbox of items for the central collector, and
 * the uplink's cursors, written by daemon/store/store_uplink.c (the
 * uplink thread's own connection) and, for uplink_dirty, by store_ingest().
 * IF NOT EXISTS, OR IGNORE: as versions 6 and 7, for databases set back by
 * hand. */
static const char *const schema_v8[] = {
    "CREATE TABLE IF NOT EXISTS uplink_dirty(gran INTEGER NOT NULL, ts INTEGER NOT NULL,"
    " channel INTEGER NOT NULL, PRIMARY KEY(gran, ts, channel)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS uplink_outbox(seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " type TEXT NOT NULL, key TEXT NOT NULL, body TEXT NOT NULL, created INTEGER NOT NULL,"
    " sent INTEGER NOT NULL DEFAULT 0)",
    "CREATE INDEX IF NOT EXISTS uplink_outbox_key ON uplink_outbox(key)",
    "CREATE TABLE IF NOT EXISTS uplink_state(id INTEGER PRIMARY KEY CHECK (id = 1),"
    " event_id INTEGER NOT NULL, devices_ts INTEGER NOT NULL, backfill INTEGER NOT NULL)",
    "INSERT OR IGNORE INTO uplink_state(id, event_id, devices_ts, backfill) VALUES (1, 0, 0, 0)",
    NULL,
};

/* Version 9: tenancies at run time (daemon/store/store_tenancy.c), seeded
 * from the config's [tenancy] sections, and consent per purpose
 * (daemon/store/store_consent.c). */
static const char *const schema_v9[] = {
    "CREATE TABLE IF NOT EXISTS tenancies(id TEXT PRIMARY KEY, dwelling TEXT NOT NULL,"
    " start_ymd INTEGER NOT NULL, end_ymd INTEGER NOT NULL DEFAULT 0, ref TEXT,"
    " consent INTEGER NOT NULL, created INTEGER NOT NULL, created_by TEXT NOT NULL,"
    " ended INTEGER, ended_by TEXT)",
    "CREATE INDEX IF NOT EXISTS tenancies_dwelling ON tenancies(dwelling, start_ymd)",
    "CREATE TABLE IF NOT EXISTS consents(id INTEGER PRIMARY KEY, dwelling TEXT NOT NULL,"
    " tenancy TEXT, purpose TEXT NOT NULL, given INTEGER NOT NULL, ts INTEGER NOT NULL,"
    " by TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS consents_key ON consents(dwelling, tenancy, purpose, id)",
    "CREATE TABLE IF NOT EXISTS access_log(id INTEGER PRIMARY KEY, ts INTEGER NOT NULL,"
    " who TEXT NOT NULL, role TEXT NOT NULL, what TEXT NOT NULL, dwelling TEXT NOT NULL,"
    " origin TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS access_log_ts ON access_log(ts)",
    NULL,
};

/* Version 10: what the uplink last queued of each alert, so that every
 * state change of the alerts table (the engine's, foyerctl alerts') reaches
 * the outbox without the alert engine knowing of the uplink. */
static const char *const schema_v10[] = {
    "CREATE TABLE IF NOT EXISTS uplink_alerts(id INTEGER PRIMARY KEY, state INTEGER NOT NULL)",
    NULL,
};

/* Version 11: a household's grants to a named ambassador
 * (daemon/store/store_grant.c). */
static const char *const schema_v11[] = {
    "CREATE TABLE IF NOT EXISTS grants(id INTEGER PRIMARY KEY, dwelling TEXT NOT NULL,"
    " tenancy TEXT, grantee TEXT NOT NULL, created INTEGER NOT NULL, expires INTEGER NOT NULL,"
    " revoked INTEGER, created_by TEXT NOT NULL, revoked_by TEXT)",
    "CREATE INDEX IF NOT EXISTS grants_dwelling ON grants(dwelling, tenancy, id)",
    "CREATE INDEX IF NOT EXISTS grants_grantee ON grants(grantee, dwelling, id)",
    NULL,
};

/* Version 12: erasure (daemon/store/store_erase.c): the folded consumption
 * of erased dwellings, per building, and when a tenancy was erased. */
static const char *const schema_v12[] = {
    "CREATE TABLE IF NOT EXISTS rollup_folded(building TEXT NOT NULL, quantity TEXT NOT NULL,"
    " gran INTEGER NOT NULL, ts INTEGER NOT NULL, sum REAL NOT NULL, n INTEGER NOT NULL,"
    " PRIMARY KEY(building, quantity, gran, ts)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS tenancy_erasures(tenancy TEXT PRIMARY KEY, ts INTEGER NOT NULL)",
    NULL,
};

/* Version 13: every erasure of a dwelling and its cut, so that what was
 * computed before an erasure is not stored after it (store_outbox.c,
 * store_alerts.c). */
static const char *const schema_v13[] = {
    "CREATE TABLE IF NOT EXISTS erasures(dwelling TEXT NOT NULL, cut INTEGER NOT NULL,"
    " ts INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS erasures_dwelling ON erasures(dwelling, cut)",
    NULL,
};

/* Forward migrations: migrations[v] takes the schema from v to v + 1. */
static const char *const *const migrations[] = {
    schema_v1, schema_v2, schema_v3,  schema_v4,  schema_v5,  schema_v6, schema_v7,
    schema_v8, schema_v9, schema_v10, schema_v11, schema_v12, schema_v13};

int store_sqlite_errno(int rc)
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

int store_open_stmts(const char *path, int busy_ms, const char *const *sql, size_t n,
                     sqlite3_stmt **ret_st, char *msg, size_t msg_len, sqlite3 **ret_db)
{
    sqlite3 *db = NULL;
    /* No SQLITE_OPEN_CREATE: foyerd's store_open() makes the file and its
     * schema; a missing file is an error, not a new empty database. */
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_extended_result_codes(db, 1);
        sqlite3_busy_timeout(db, busy_ms);
        for (size_t i = 0; i < n && rc == SQLITE_OK; i++)
            rc = sqlite3_prepare_v3(db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &ret_st[i], NULL);
    }
    if (rc != SQLITE_OK) {
        (void)snprintf(msg, msg_len, "%s", db ? sqlite3_errmsg(db) : "out of memory");
        for (size_t i = 0; i < n; i++) {
            sqlite3_finalize(ret_st[i]);
            ret_st[i] = NULL;
        }
        sqlite3_close(db);
        return store_sqlite_errno(rc);
    }
    *ret_db = db;
    return 0;
}

int store_open_rw(const char *path, int busy_ms, char *msg, size_t msg_len, sqlite3 **ret)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int version = -1;
    /* No SQLITE_OPEN_CREATE: foyerd's store_open() makes the file and its
     * schema; a missing file is an error, not a new empty database. */
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        (void)snprintf(msg, msg_len, "%s: %s (foyerd creates the database at its first start)",
                       path, db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return rc == SQLITE_CANTOPEN ? -ENOENT : store_sqlite_errno(rc);
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, busy_ms);
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (version != STORE_SCHEMA_VERSION) {
        (void)snprintf(msg, msg_len,
                       version < 0 ? "%s: not a foyer database"
                       : version < STORE_SCHEMA_VERSION
                           ? "%s: older schema: start foyerd once to migrate it"
                           : "%s: schema newer than this foyer: upgrade foyer",
                       path);
        sqlite3_close(db);
        return version < 0 ? -EBADMSG : version < STORE_SCHEMA_VERSION ? -ESTALE : -EPROTO;
    }
    *ret = db;
    return 0;
}

int store_exec(sqlite3 *db, const char *sql)
{
    return store_sqlite_errno(sqlite3_exec(db, sql, NULL, NULL, NULL));
}

int store_step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : store_sqlite_errno(rc);
}

/* Keep SQLite's message of the failure that just happened, before a
 * ROLLBACK or another statement replaces it. */
void store_note_error(struct store *s)
{
    snprintf(s->errmsg, sizeof(s->errmsg), "%s", sqlite3_errmsg(s->db));
}

/* A write transaction failed: keep why, then undo it. */
void store_abort_txn(struct store *s)
{
    store_note_error(s);
    if (!sqlite3_get_autocommit(s->db))
        (void)store_exec(s->db, "ROLLBACK");
}

/* ---- open, schema, channels -------------------------------------------- */

static int migrate(sqlite3 *db, char *ret_msg, size_t len)
{
    sqlite3_stmt *st;
    int version = 0;
    int rc = store_sqlite_errno(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL));
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
        rc = store_exec(db, "BEGIN IMMEDIATE");
        for (const char *const *q = migrations[v]; rc == 0 && *q; q++)
            rc = store_exec(db, *q);
        snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
        if (rc == 0)
            rc = store_exec(db, sql);
        if (rc == 0)
            rc = store_exec(db, "COMMIT");
        if (rc < 0) {
            snprintf(ret_msg, len, "migrating the schema to version %d: %s", v + 1,
                     sqlite3_errmsg(db));
            (void)store_exec(db, "ROLLBACK");
            return rc;
        }
    }
    return 0;
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
    int rc = store_sqlite_errno(sqlite3_prepare_v2(
        s->db, "SELECT id, quantity, kind, unit, dwelling, building FROM channels WHERE name = ?1",
        -1, &sel, NULL));
    if (rc == 0)
        rc = store_sqlite_errno(
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
                    rc = store_sqlite_errno(drc);
                else if (n_raw > 0 || n_days > 0) {
                    problems++;
                    (void)conf_errors_add(
                        errs, &c->pos,
                        "channel \"%s\" holds %lld readings and %lld days of history as "
                        "%s (%s) in dwelling %s, building %s; it cannot become %s (%s) in "
                        "dwelling %s, building %s: that would re-label stored history. "
                        "Keep it as it was, or give the new measurement another channel "
                        "ID (the old history stays under \"%s\")",
                        c->id, (long long)n_raw, (long long)n_days, q, u,
                        d ? (const char *)d : "none", b ? (const char *)b : "none",
                        quantity_name(c->quantity), c->unit, or_none(dw), or_none(bd), c->id);
                }
                sqlite3_reset(data);
            }
        } else if (src != SQLITE_DONE) {
            rc = store_sqlite_errno(src);
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
        conf_errors_free(&errs);
        if (problems != 0)
            return problems < 0 ? problems : -EEXIST;
        rc = store_sqlite_errno(sqlite3_prepare_v2(
            s->db,
            "INSERT INTO channels(name, quantity, kind, unit, dwelling, building)"
            " VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(name) DO UPDATE SET"
            " quantity = excluded.quantity, kind = excluded.kind, unit = excluded.unit,"
            " dwelling = excluded.dwelling, building = excluded.building",
            -1, &up, NULL));
        if (rc < 0)
            return rc;
        rc = store_exec(s->db, "BEGIN IMMEDIATE");
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
            rc = store_step_done(up);
        }
        if (rc == 0)
            rc = store_exec(s->db, "COMMIT");
        if (rc < 0)
            store_abort_txn(s);
        sqlite3_finalize(up);
        if (rc < 0)
            return rc;
    }

    rc = store_sqlite_errno(
        sqlite3_prepare_v2(s->db, "SELECT id FROM channels WHERE name = ?1", -1, &sel, NULL));
    for (size_t i = 0; rc == 0 && i < cfg->n_channels; i++) {
        sqlite3_bind_text(sel, 1, cfg->channels[i].id, -1, SQLITE_STATIC);
        int src = sqlite3_step(sel);
        ids[i] = src == SQLITE_ROW ? sqlite3_column_int64(sel, 0) : -1;
        if (src != SQLITE_ROW && src != SQLITE_DONE)
            rc = store_sqlite_errno(src);
        sqlite3_reset(sel);
    }
    if (rc < 0)
        store_note_error(s);
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
    /* Changed rollups are noted for the uplink only while it is configured:
     * without it, the history is sent whole once it is configured again
     * (daemon/store/store_uplink.c, backfill). */
    if (rc == 0 && !s->readonly && !cfg->uplink.enabled) {
        rc = store_exec(s->db, "UPDATE uplink_state SET backfill = 0 WHERE backfill <> 0");
        if (rc < 0)
            store_note_error(s);
    }
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
    int rc = store_sqlite_errno(sqlite3_prepare_v2(s->db, "PRAGMA quick_check(1)", -1, &st, NULL));
    if (rc < 0) {
        store_note_error(s);
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
        rc = store_sqlite_errno(src);
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
        rc = store_sqlite_errno(rc);
        goto out_close;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, 10000);
    if (!readonly) {
        /* WAL: readers never block the writer.  NORMAL: a commit survives a
         * crash of foyerd; only a power cut can lose the last commits,
         * never corrupt the file. */
        rc = store_exec(s->db, "PRAGMA journal_mode = WAL");
        if (rc == 0)
            rc = store_exec(s->db, "PRAGMA synchronous = NORMAL");
        /* A 2 MiB page cache keeps the upper B-tree levels of readings and
         * rollups in memory (4 MiB was no faster, and foyerd must stay under
         * 16 MiB resident on a gateway with 500 meters).  Checkpoint every 4000 pages (16 MiB of
         * WAL) rather than 1000: each checkpoint syncs, and at the default the syncs cost a quarter
         * of the write throughput (bench_ingest).  The WAL file is truncated back to 32 MiB at most
         * after a checkpoint. */
        if (rc == 0)
            rc = store_exec(s->db, "PRAGMA cache_size = -2048; PRAGMA wal_autocheckpoint = 4000;"
                                   " PRAGMA journal_size_limit = 33554432");
        if (rc < 0)
            store_note_error(s);
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
            store_note_error(s);
            rc = store_sqlite_errno(rc != SQLITE_OK ? rc : sqlite3_errcode(s->db));
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
        /* Readers merge the config's sections themselves (store_tenancy.h):
         * the seed makes them rows foyerctl tenancy can change. */
        rc = store_tenancy_seed(s, cfg);
        if (rc == 0)
            rc = store_ingest_open(s);
        if (rc < 0) {
            snprintf(open_msg, sizeof(open_msg), "%s", s->errmsg[0] ? s->errmsg : strerror(-rc));
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
    store_ingest_close(s->ing);
    sqlite3_finalize(s->auth_lookup);
    sqlite3_close(s->db);
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
    int rc = store_sqlite_errno(sqlite3_prepare_v2(
        s->db, "SELECT queue_seq, db_id FROM ingest_state WHERE id = 1", -1, &st, NULL));
    if (rc < 0) {
        store_note_error(s);
        return rc;
    }
    int src = sqlite3_step(st);
    if (src == SQLITE_ROW) {
        *ret_seq = (uint64_t)sqlite3_column_int64(st, 0);
        *ret_db_id = (uint64_t)sqlite3_column_int64(st, 1);
    } else {
        rc = src == SQLITE_DONE ? -EBADMSG : store_sqlite_errno(src);
        store_note_error(s);
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
        store_note_error(s);
        return rc;
    }
    int src = sqlite3_step(st);
    int64_t cap = src == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    if (src != SQLITE_ROW) {
        rc = store_sqlite_errno(src);
        store_note_error(s);
    }
    sqlite3_finalize(st);
    return rc < 0 ? rc : cap;
}

/* ---- between the store's files (store_int.h) --------------------------- */

struct store_read **store_read_slot(struct store *s)
{
    return &s->rd;
}
