/*
 * collector_db.c - the collector's PostgreSQL side: the connection, the
 * schema (versioned migrations) and the batch writes.  The only file of
 * central/ holding SQL.
 *
 * SCHEMA (the energy team's interface, documented in docs/fleet.md):
 *   fleet_schema_version(version, applied_at)   one row per migration applied
 *   gateways(gateway_id PK, first_seen, last_seen, max_seq, items_received,
 *            items_rejected)                    updated by every batch
 *   buildings(gateway_id, building_id PK, first_seen)
 *   dwellings(gateway_id, dwelling_id PK, building_id, first_seen)
 *   channels(gateway_id, channel_id PK, building_id, dwelling_id, quantity,
 *            kind, unit, seq, last_start, last_end) as learned from the rollups
 *   rollup_hour, rollup_day, rollup_month(gateway_id, channel_id,
 *            period_start PK, start_local, local_day, building_id,
 *            dwelling_id, quantity, kind, unit, sum, n, min, max, seq,
 *            stored_at)                         partitioned by month of
 *                                               period_start (UTC)
 *   events(gateway_id, event_id, event_time PK, kind, channel_id, device,
 *          detail, value, seq, stored_at)      partitioned by month of event_time
 *   alerts(gateway_id, alert_id PK, kind, severity, building_id (null: no
 *          one building), dwelling_id,
 *          channel_id, state, opened_at, acknowledged_at, closed_at,
 *          text_fr, text_en, seq, stored_at)
 *   device_health(gateway_id, device PK, state, since, polls, errors,
 *          timeouts, last_ok, seq, stored_at)
 *   fleet_erasures(gateway_id, seq PK, kind (erasure, withdrawal),
 *          dwelling_id, purpose, cut, channels, applied_at)   [version 4]
 *          the erasures and withdrawals applied: the proof, never a figure
 *   fleet_erased_channels(gateway_id, channel_id, seq PK, cut, hours_only)
 *          [version 4] what the upserts refuse: a row of the channel before
 *          cut from an item older (lower seq) than the erasure
 *   rollup_folded(gateway_id, building_id, quantity, gran, period_start
 *          PK, unit, start_local, local_day, sum, n)  [version 4]
 *          erased households' consumption, per building (days, months),
 *          nothing linking it to an erasure
 *   views: building_day, building_month (adding rollup_folded),
 *          dwelling_day, dwelling_month, gateway_quality, open_alerts.
 * Partitions are named TABLE_pYYYYMM and created when a batch first needs
 * them, in the batch's own transaction, under a transaction advisory lock
 * (two collectors creating the same partition would otherwise race in the
 * catalog); a partition rolled back with its batch is created again.
 *
 * Apply rule (protocol): every upsert replaces a stored row only when the
 * incoming seq is greater (ON CONFLICT ... DO UPDATE ... WHERE stored.seq <
 * excluded.seq), so a redelivered or older item leaves the row untouched
 * (not even rewritten: its xmin stays).  An erasure (protocol amendment 3)
 * deletes a household's rows before its cut and folds its consumption into
 * rollup_folded in the item's statement (fleet_erase()); the upserts then
 * refuse a row of an erased channel before the cut carried by an item of
 * a lower seq than the erasure (a late resend must not bring it back).
 *
 * A batch is one transaction: BEGIN, the partitions, then every statement
 * sent in libpq's pipeline mode (a sync every DB_PIPELINE_CHUNK statements,
 * so that neither side's socket buffer fills while the other waits), then
 * COMMIT.  Items reaching here are checked by collector_item.c (dates,
 * times, sizes), so a statement fails mostly with the database
 * (connection, disk, lock): the batch is rolled back and the caller retries
 * it whole (-EIO).  A statement refusing an item's data (SQLSTATE classes
 * 22 and 23: a CHECK constraint added by a DBA, say) returns -EINVAL, and
 * the caller writes that batch item by item to find the culprit.
 */
#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector.h"

/* Statements per pipeline sync: ~60 bytes of results each, 500 keep both
 * directions far below a socket buffer (a blocking send cannot deadlock). */
#define DB_PIPELINE_CHUNK 500
/* Parameters of the widest statement (alerts). */
#define DB_PARAMS_MAX 16
/* Partitioned tables. */
enum part_table { PT_HOUR, PT_DAY, PT_MONTH, PT_EVENTS, PT_COUNT_ };
static const char *const part_names[PT_COUNT_] = {"rollup_hour", "rollup_day", "rollup_month",
                                                  "events"};
/* How long creating a partition may wait for the lock on its parent. */
#define DB_PARTITION_LOCK_TIMEOUT "10s"
/* Months of partitions created ahead (this one and the next two), so that
 * live data never waits for a partition's creation. */
#define DB_MONTHS_AHEAD 3
/* The advisory lock key of partition creation and migrations ("foyr"). */
#define DB_LOCK_KEY "1718581618"

struct collector_db {
    PGconn *conn;
    bool prepared;         /* the upserts are prepared on this connection */
    int *known[PT_COUNT_]; /* months (year * 12 + month - 1) whose partition exists */
    size_t n_known[PT_COUNT_], cap_known[PT_COUNT_];
};

/* ---- schema -------------------------------------------------------------- */

#define ROLLUP_COLUMNS                                                                             \
    "(gateway_id text NOT NULL, channel_id text NOT NULL, period_start timestamptz NOT NULL,"      \
    " start_local text NOT NULL, local_day date NOT NULL, building_id text NOT NULL,"              \
    " dwelling_id text, quantity text NOT NULL, kind text NOT NULL, unit text NOT NULL,"           \
    " sum double precision NOT NULL, n bigint NOT NULL, min double precision,"                     \
    " max double precision, seq bigint NOT NULL, stored_at timestamptz NOT NULL DEFAULT now(),"    \
    " PRIMARY KEY (gateway_id, channel_id, period_start)) PARTITION BY RANGE (period_start);"

/* Aggregates of rollups over a group: total (counters: the energy or
 * volume), samples, mean (gauges), extremes. */
#define AGG_COLUMNS                                                                                \
    " count(DISTINCT channel_id) AS channels, sum(sum) AS total, sum(n) AS samples,"               \
    " CASE WHEN sum(n) > 0 THEN sum(sum) / sum(n) END AS mean, min(min) AS min, max(max) AS max"

/* Migrations, in order; migration i brings the schema to version i + 1.
 * Never edit a shipped one: add the next. */
static const char *const migrations[] = {
    /* 1: the first schema. */
    "CREATE TABLE gateways (gateway_id text PRIMARY KEY,"
    " first_seen timestamptz NOT NULL DEFAULT now(), last_seen timestamptz NOT NULL DEFAULT now(),"
    " max_seq bigint NOT NULL DEFAULT 0, items_received bigint NOT NULL DEFAULT 0,"
    " items_rejected bigint NOT NULL DEFAULT 0);"
    "CREATE TABLE buildings (gateway_id text NOT NULL, building_id text NOT NULL,"
    " first_seen timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (gateway_id, building_id));"
    "CREATE TABLE dwellings (gateway_id text NOT NULL, dwelling_id text NOT NULL,"
    " building_id text NOT NULL, first_seen timestamptz NOT NULL DEFAULT now(),"
    " PRIMARY KEY (gateway_id, dwelling_id));"
    "CREATE TABLE channels (gateway_id text NOT NULL, channel_id text NOT NULL,"
    " building_id text NOT NULL, dwelling_id text, quantity text NOT NULL, kind text NOT NULL,"
    " unit text NOT NULL, seq bigint NOT NULL, last_start timestamptz NOT NULL,"
    " PRIMARY KEY (gateway_id, channel_id));"
    "CREATE TABLE rollup_hour " ROLLUP_COLUMNS "CREATE TABLE rollup_day " ROLLUP_COLUMNS
    "CREATE TABLE rollup_month " ROLLUP_COLUMNS
    "CREATE INDEX ON rollup_day (gateway_id, building_id, local_day);"
    "CREATE INDEX ON rollup_month (gateway_id, building_id, local_day);"
    "CREATE TABLE events (gateway_id text NOT NULL, event_id bigint NOT NULL,"
    " event_time timestamptz NOT NULL, kind text NOT NULL, channel_id text, device text,"
    " detail text, value double precision, seq bigint NOT NULL,"
    " stored_at timestamptz NOT NULL DEFAULT now(),"
    " PRIMARY KEY (gateway_id, event_id, event_time)) PARTITION BY RANGE (event_time);"
    "CREATE TABLE alerts (gateway_id text NOT NULL, alert_id bigint NOT NULL, kind text NOT NULL,"
    " severity text NOT NULL, building_id text NOT NULL, dwelling_id text, channel_id text,"
    " state text NOT NULL, opened_at timestamptz NOT NULL, acknowledged_at timestamptz,"
    " closed_at timestamptz, text_fr text NOT NULL, text_en text NOT NULL, seq bigint NOT NULL,"
    " stored_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (gateway_id, alert_id));"
    "CREATE TABLE device_health (gateway_id text NOT NULL, device text NOT NULL,"
    " state text NOT NULL, since timestamptz NOT NULL, polls bigint NOT NULL,"
    " errors bigint NOT NULL, timeouts bigint NOT NULL, last_ok timestamptz,"
    " seq bigint NOT NULL, stored_at timestamptz NOT NULL DEFAULT now(),"
    " PRIMARY KEY (gateway_id, device));"
    /* level: a building's own channels ("building") apart from the sum of
     * its dwellings' ("dwellings"): adding them would count twice. */
    "CREATE VIEW building_day AS SELECT gateway_id, building_id,"
    " CASE WHEN dwelling_id IS NULL THEN 'building' ELSE 'dwellings' END AS level,"
    " quantity, kind, unit, local_day AS day," AGG_COLUMNS
    " FROM rollup_day GROUP BY 1, 2, 3, 4, 5, 6, 7;"
    "CREATE VIEW building_month AS SELECT gateway_id, building_id,"
    " CASE WHEN dwelling_id IS NULL THEN 'building' ELSE 'dwellings' END AS level,"
    " quantity, kind, unit, date_trunc('month', local_day)::date AS month," AGG_COLUMNS
    " FROM rollup_month GROUP BY 1, 2, 3, 4, 5, 6, 7;"
    "CREATE VIEW dwelling_day AS SELECT gateway_id, building_id, dwelling_id, quantity, kind,"
    " unit, local_day AS day," AGG_COLUMNS
    " FROM rollup_day WHERE dwelling_id IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6, 7;"
    "CREATE VIEW dwelling_month AS SELECT gateway_id, building_id, dwelling_id, quantity, kind,"
    " unit, date_trunc('month', local_day)::date AS month," AGG_COLUMNS
    " FROM rollup_month WHERE dwelling_id IS NOT NULL GROUP BY 1, 2, 3, 4, 5, 6, 7;"
    /* Data quality: a channel is silent when its latest period is more
     * than a day older than its gateway's latest (not than now: a gateway
     * catching up a week is late, not silent); gaps are the hours missing
     * between a channel's first and last hourly rollup of the 7 days
     * before its gateway's latest. */
    "CREATE VIEW gateway_quality AS SELECT g.gateway_id, g.last_seen AS last_item_at,"
    " g.max_seq, g.items_received, g.items_rejected,"
    " (SELECT max(c.last_start) FROM channels c WHERE c.gateway_id = g.gateway_id)"
    " AS latest_period,"
    " (SELECT count(*) FROM channels c WHERE c.gateway_id = g.gateway_id) AS channels,"
    " (SELECT count(*) FROM channels c WHERE c.gateway_id = g.gateway_id AND c.last_start <"
    " (SELECT max(c2.last_start) FROM channels c2 WHERE c2.gateway_id = g.gateway_id)"
    " - interval '1 day') AS channels_silent,"
    " (SELECT coalesce(sum(x.missing), 0) FROM (SELECT h.channel_id,"
    " extract(epoch FROM max(h.period_start) - min(h.period_start)) / 3600 + 1 - count(*)"
    " AS missing FROM rollup_hour h WHERE h.gateway_id = g.gateway_id AND h.period_start >="
    " (SELECT max(c3.last_start) FROM channels c3 WHERE c3.gateway_id = g.gateway_id)"
    " - interval '7 days' GROUP BY h.channel_id) x)::bigint AS hour_gaps_7d"
    " FROM gateways g;"
    "CREATE VIEW open_alerts AS SELECT gateway_id, alert_id, building_id, dwelling_id,"
    " channel_id, kind, severity, state, opened_at, acknowledged_at, text_fr, text_en,"
    " now() - opened_at AS open_for FROM alerts WHERE state <> 'closed';",
    /* 2: an alert may concern no one building (a device serving several,
     * the gateway itself): the gateway sends "building": null. */
    "ALTER TABLE alerts ALTER COLUMN building_id DROP NOT NULL;",
    /* 3: a channel's latest figure is judged by its period's end, not its
     * start: a dwelling without consent sends days only (its hours never
     * leave its gateway), whose latest start is a day and more behind the
     * hours of the others; by starts it looked silent most of every day. */
    "ALTER TABLE channels ADD COLUMN last_end timestamptz;"
    "UPDATE channels SET last_end = last_start;"
    "CREATE OR REPLACE VIEW gateway_quality AS SELECT g.gateway_id, g.last_seen AS last_item_at,"
    " g.max_seq, g.items_received, g.items_rejected,"
    " (SELECT max(c.last_start) FROM channels c WHERE c.gateway_id = g.gateway_id)"
    " AS latest_period,"
    " (SELECT count(*) FROM channels c WHERE c.gateway_id = g.gateway_id) AS channels,"
    " (SELECT count(*) FROM channels c WHERE c.gateway_id = g.gateway_id AND c.last_end <"
    " (SELECT max(c2.last_end) FROM channels c2 WHERE c2.gateway_id = g.gateway_id)"
    " - interval '1 day') AS channels_silent,"
    " (SELECT coalesce(sum(x.missing), 0) FROM (SELECT h.channel_id,"
    " extract(epoch FROM max(h.period_start) - min(h.period_start)) / 3600 + 1 - count(*)"
    " AS missing FROM rollup_hour h WHERE h.gateway_id = g.gateway_id AND h.period_start >="
    " (SELECT max(c3.last_start) FROM channels c3 WHERE c3.gateway_id = g.gateway_id)"
    " - interval '7 days' GROUP BY h.channel_id) x)::bigint AS hour_gaps_7d"
    " FROM gateways g;",
    /* 4: the erasure of a household and the withdrawal of its load-curve
     * consent reach the centre (protocol amendment 3): the record of each,
     * the channels' cuts the upserts check, the folded consumption the
     * building views add (so their totals stay the same to the Wh). */
    "CREATE TABLE fleet_erasures (gateway_id text NOT NULL, seq bigint NOT NULL,"
    " kind text NOT NULL, dwelling_id text NOT NULL, purpose text, cut timestamptz NOT NULL,"
    " channels text[] NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(),"
    " PRIMARY KEY (gateway_id, seq));"
    /* The alerts' upsert looks for an erasure of the alert's dwelling. */
    "CREATE INDEX ON fleet_erasures (gateway_id, dwelling_id);"
    "CREATE TABLE fleet_erased_channels (gateway_id text NOT NULL, channel_id text NOT NULL,"
    " seq bigint NOT NULL, cut timestamptz NOT NULL, hours_only boolean NOT NULL,"
    " PRIMARY KEY (gateway_id, channel_id, seq));"
    "CREATE TABLE rollup_folded (gateway_id text NOT NULL, building_id text NOT NULL,"
    " quantity text NOT NULL, gran text NOT NULL CHECK (gran IN ('day', 'month')),"
    " period_start timestamptz NOT NULL, unit text NOT NULL, start_local text NOT NULL,"
    " local_day date NOT NULL, sum double precision NOT NULL, n bigint NOT NULL,"
    " PRIMARY KEY (gateway_id, building_id, quantity, gran, period_start));"
    /* The months of the cut keep what their remaining days hold (a month
     * is the sum of its days, as on the gateway); months wholly before the
     * cut go.  The folds are added to the building's once, when the
     * erasure's record is new (applied twice, added once), and nothing
     * links them to the erasure: the record names the dwelling, a fold
     * kept per erasure would be the household's consumption again. */
    "CREATE FUNCTION fleet_erase(p_gw text, p_seq bigint, p_dwelling text, p_cut timestamptz,"
    " p_channels jsonb, p_folded jsonb) RETURNS bigint LANGUAGE plpgsql AS $f$"
    " DECLARE ch text[] := ARRAY(SELECT jsonb_array_elements_text(p_channels));"
    " k bigint; total bigint := 0;"
    " BEGIN"
    " INSERT INTO fleet_erasures (gateway_id, seq, kind, dwelling_id, cut, channels)"
    " VALUES (p_gw, p_seq, 'erasure', p_dwelling, p_cut, ch) ON CONFLICT DO NOTHING;"
    " GET DIAGNOSTICS k = ROW_COUNT;"
    " IF k > 0 THEN"
    " INSERT INTO rollup_folded AS r (gateway_id, building_id, quantity, gran, period_start,"
    " unit, start_local, local_day, sum, n)"
    " SELECT p_gw, f.building, f.quantity, f.gran, to_timestamp(f.start_s), min(f.unit),"
    " min(f.start), left(min(f.start), 10)::date, sum(f.sum), sum(f.n)"
    " FROM jsonb_to_recordset(p_folded) AS f(building text, quantity text, unit text,"
    " gran text, start text, start_s bigint, sum double precision, n bigint)"
    " GROUP BY f.building, f.quantity, f.gran, f.start_s"
    " ON CONFLICT (gateway_id, building_id, quantity, gran, period_start) DO UPDATE"
    " SET sum = r.sum + excluded.sum, n = r.n + excluded.n;"
    " END IF;"
    " INSERT INTO fleet_erased_channels (gateway_id, channel_id, seq, cut, hours_only)"
    " SELECT p_gw, c, p_seq, p_cut, false FROM unnest(ch) c ON CONFLICT DO NOTHING;"
    " DELETE FROM rollup_hour WHERE gateway_id = p_gw AND channel_id = ANY(ch)"
    " AND period_start < p_cut; GET DIAGNOSTICS k = ROW_COUNT; total := total + k;"
    " DELETE FROM rollup_day WHERE gateway_id = p_gw AND channel_id = ANY(ch)"
    " AND period_start < p_cut; GET DIAGNOSTICS k = ROW_COUNT; total := total + k;"
    " UPDATE rollup_month m SET (sum, n, min, max, stored_at) = (SELECT sum(d.sum), sum(d.n),"
    " min(d.min), max(d.max), now() FROM rollup_day d WHERE d.gateway_id = p_gw"
    " AND d.channel_id = m.channel_id AND d.local_day >= m.local_day"
    " AND d.local_day < (m.local_day + interval '1 month')::date)"
    " WHERE m.gateway_id = p_gw AND m.channel_id = ANY(ch) AND m.period_start < p_cut"
    " AND EXISTS (SELECT 1 FROM rollup_day d WHERE d.gateway_id = p_gw"
    " AND d.channel_id = m.channel_id AND d.local_day >= m.local_day"
    " AND d.local_day < (m.local_day + interval '1 month')::date);"
    " DELETE FROM rollup_month m WHERE m.gateway_id = p_gw AND m.channel_id = ANY(ch)"
    " AND m.period_start < p_cut AND NOT EXISTS (SELECT 1 FROM rollup_day d"
    " WHERE d.gateway_id = p_gw AND d.channel_id = m.channel_id AND d.local_day >= m.local_day"
    " AND d.local_day < (m.local_day + interval '1 month')::date);"
    " GET DIAGNOSTICS k = ROW_COUNT; total := total + k;"
    " DELETE FROM events WHERE gateway_id = p_gw AND channel_id = ANY(ch)"
    " AND event_time < p_cut; GET DIAGNOSTICS k = ROW_COUNT; total := total + k;"
    " DELETE FROM alerts WHERE gateway_id = p_gw AND (dwelling_id = p_dwelling"
    " OR channel_id = ANY(ch)) AND opened_at < p_cut;"
    " GET DIAGNOSTICS k = ROW_COUNT; total := total + k;"
    " RETURN total; END $f$;"
    /* A withdrawal of load_curve: the hours before it go (the gateway no
     * longer sends them); other purposes are only recorded. */
    "CREATE FUNCTION fleet_withdraw(p_gw text, p_seq bigint, p_dwelling text, p_purpose text,"
    " p_since timestamptz, p_channels jsonb) RETURNS bigint LANGUAGE plpgsql AS $f$"
    " DECLARE ch text[] := ARRAY(SELECT jsonb_array_elements_text(p_channels)); k bigint := 0;"
    " BEGIN"
    " INSERT INTO fleet_erasures (gateway_id, seq, kind, dwelling_id, purpose, cut, channels)"
    " VALUES (p_gw, p_seq, 'withdrawal', p_dwelling, p_purpose, p_since, ch)"
    " ON CONFLICT DO NOTHING;"
    " IF p_purpose = 'load_curve' THEN"
    " INSERT INTO fleet_erased_channels (gateway_id, channel_id, seq, cut, hours_only)"
    " SELECT p_gw, c, p_seq, p_since, true FROM unnest(ch) c ON CONFLICT DO NOTHING;"
    " DELETE FROM rollup_hour WHERE gateway_id = p_gw AND (channel_id = ANY(ch)"
    " OR dwelling_id = p_dwelling) AND period_start < p_since; GET DIAGNOSTICS k = ROW_COUNT;"
    " END IF; RETURN k; END $f$;"
    /* The building views add the folded consumption to the dwellings'
     * level (columns unchanged: CREATE OR REPLACE). */
    "CREATE OR REPLACE VIEW building_day AS SELECT gateway_id, building_id, level,"
    " quantity, kind, unit, day," AGG_COLUMNS " FROM (SELECT gateway_id, building_id,"
    " CASE WHEN dwelling_id IS NULL THEN 'building' ELSE 'dwellings' END AS level, quantity,"
    " kind, unit, local_day AS day, channel_id, sum, n, min, max FROM rollup_day"
    " UNION ALL SELECT gateway_id, building_id, 'dwellings', quantity, 'counter', unit,"
    " local_day, NULL, sum, n, NULL, NULL FROM rollup_folded WHERE gran = 'day') x"
    " GROUP BY 1, 2, 3, 4, 5, 6, 7;"
    "CREATE OR REPLACE VIEW building_month AS SELECT gateway_id, building_id, level,"
    " quantity, kind, unit, month," AGG_COLUMNS " FROM (SELECT gateway_id, building_id,"
    " CASE WHEN dwelling_id IS NULL THEN 'building' ELSE 'dwellings' END AS level, quantity,"
    " kind, unit, date_trunc('month', local_day)::date AS month, channel_id, sum, n, min, max"
    " FROM rollup_month UNION ALL SELECT gateway_id, building_id, 'dwellings', quantity,"
    " 'counter', unit, date_trunc('month', local_day)::date, NULL, sum, n, NULL, NULL"
    " FROM rollup_folded WHERE gran = 'month') x GROUP BY 1, 2, 3, 4, 5, 6, 7;",
};
#define N_MIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

int db_schema_latest(void)
{
    return N_MIGRATIONS;
}

/* The upserts, prepared once per connection. */
static const struct {
    const char *name, *sql;
} statements[] = {
/* An item older than an erasure (lower seq) carries no row of an erased
 * channel before its cut: a late resend would bring back what was erased.
 * HOURS: the table is rollup_hour, where a withdrawal of load_curve also
 * counts. */
#define ERASED_BEFORE(chan, t, seq, hours)                                                         \
    " NOT EXISTS (SELECT 1 FROM fleet_erased_channels x WHERE x.gateway_id = $1::text"             \
    " AND x.channel_id = " chan " AND x.seq > " seq " AND x.cut > " t hours ")"
#define ROLLUP_UPSERT(t, hours)                                                                    \
    {                                                                                              \
        "up_" t,                                                                                   \
            "INSERT INTO " t                                                                       \
            " AS r (gateway_id, channel_id, period_start, start_local, local_day,"                 \
            " building_id, dwelling_id, quantity, kind, unit, sum, n, min, max, seq) SELECT"       \
            " $1::text, $2::text, to_timestamp($3::bigint), $4::text,"                             \
            " left($4::text, 10)::date, $5::text, $6::text, $7::text, $8::text, $9::text,"         \
            " $10::double precision, $11::bigint, $12::double precision,"                          \
            " $13::double precision, $14::bigint WHERE" ERASED_BEFORE(                             \
                "$2::text", "to_timestamp($3::bigint)", "$14::bigint",                             \
                hours) " ON CONFLICT (gateway_id, channel_id, period_start) DO UPDATE SET"         \
                       " start_local = excluded.start_local, local_day = excluded.local_day,"      \
                       " building_id = excluded.building_id, dwelling_id = excluded.dwelling_id,"  \
                       " quantity = excluded.quantity, kind = excluded.kind, unit = "              \
                       "excluded.unit,"                                                            \
                       " sum = excluded.sum, n = excluded.n, min = excluded.min, max = "           \
                       "excluded.max,"                                                             \
                       " seq = excluded.seq, stored_at = now() WHERE r.seq < excluded.seq"         \
    }
    ROLLUP_UPSERT("rollup_hour", ""),
    ROLLUP_UPSERT("rollup_day", " AND NOT x.hours_only"),
    ROLLUP_UPSERT("rollup_month", " AND NOT x.hours_only"),
    {"up_event",
     "INSERT INTO events AS e (gateway_id, event_id, event_time, kind, channel_id, device, detail,"
     " value, seq) SELECT $1::text, $2::bigint, to_timestamp($3::bigint), $4::text, $5::text,"
     " $6::text, $7::text, $8::double precision, $9::bigint"
     " WHERE" ERASED_BEFORE(
         "$5::text", "to_timestamp($3::bigint)", "$9::bigint",
         " AND NOT x.hours_only") " ON CONFLICT (gateway_id, event_id, event_time) DO UPDATE SET "
                                  "kind = excluded.kind,"
                                  " channel_id = excluded.channel_id, device = excluded.device, "
                                  "detail = excluded.detail,"
                                  " value = excluded.value, seq = excluded.seq, stored_at = now() "
                                  "WHERE e.seq < excluded.seq"},
    {"up_alert",
     "INSERT INTO alerts AS a (gateway_id, alert_id, kind, severity, building_id, dwelling_id,"
     " channel_id, state, opened_at, acknowledged_at, closed_at, text_fr, text_en, seq) SELECT"
     " $1::text, $2::bigint, $3::text, $4::text, $5::text, $6::text, $7::text, $8::text,"
     " to_timestamp($9::bigint), to_timestamp($10::bigint), to_timestamp($11::bigint),"
     " $12::text, $13::text, $14::bigint WHERE" ERASED_BEFORE(
         "$7::text", "to_timestamp($9::bigint)", "$14::bigint", " AND NOT x.hours_only")
     /* An alert of the erased dwelling itself (no channel). */
     " AND NOT EXISTS (SELECT 1 FROM fleet_erasures x WHERE x.gateway_id = $1::text"
     " AND x.kind = 'erasure' AND x.dwelling_id = $6::text AND x.seq > $14::bigint"
     " AND x.cut > to_timestamp($9::bigint)) ON CONFLICT (gateway_id, alert_id) DO UPDATE SET"
     " kind = excluded.kind, severity = excluded.severity, building_id = excluded.building_id,"
     " dwelling_id = excluded.dwelling_id, channel_id = excluded.channel_id,"
     " state = excluded.state, opened_at = excluded.opened_at,"
     " acknowledged_at = excluded.acknowledged_at, closed_at = excluded.closed_at,"
     " text_fr = excluded.text_fr, text_en = excluded.text_en, seq = excluded.seq,"
     " stored_at = now() WHERE a.seq < excluded.seq"},
    {"up_device",
     "INSERT INTO device_health AS d (gateway_id, device, state, since, polls, errors, timeouts,"
     " last_ok, seq) VALUES ($1, $2, $3, to_timestamp($4::bigint), $5, $6, $7,"
     " to_timestamp($8::bigint), $9) ON CONFLICT (gateway_id, device) DO UPDATE SET"
     " state = excluded.state, since = excluded.since, polls = excluded.polls,"
     " errors = excluded.errors, timeouts = excluded.timeouts, last_ok = excluded.last_ok,"
     " seq = excluded.seq, stored_at = now() WHERE d.seq < excluded.seq"},
    /* A channel's attributes follow its newest item; last_start only grows. */
    {"up_channel",
     "INSERT INTO channels AS c (gateway_id, channel_id, building_id, dwelling_id, quantity, kind,"
     " unit, seq, last_start, last_end) VALUES ($1, $2, $3, $4, $5, $6, $7, $8,"
     " to_timestamp($9::bigint), to_timestamp($10::bigint))"
     " ON CONFLICT (gateway_id, channel_id) DO UPDATE SET"
     " building_id = CASE WHEN c.seq < excluded.seq THEN excluded.building_id"
     " ELSE c.building_id END,"
     " dwelling_id = CASE WHEN c.seq < excluded.seq THEN excluded.dwelling_id"
     " ELSE c.dwelling_id END,"
     " quantity = CASE WHEN c.seq < excluded.seq THEN excluded.quantity ELSE c.quantity END,"
     " kind = CASE WHEN c.seq < excluded.seq THEN excluded.kind ELSE c.kind END,"
     " unit = CASE WHEN c.seq < excluded.seq THEN excluded.unit ELSE c.unit END,"
     " seq = greatest(c.seq, excluded.seq), last_start = greatest(c.last_start,"
     " excluded.last_start), last_end = greatest(c.last_end, excluded.last_end)"
     " WHERE c.seq < excluded.seq OR c.last_start < excluded.last_start"
     " OR c.last_end IS NULL OR c.last_end < excluded.last_end"},
    /* Amendment 3: an erasure and a withdrawal (fleet_erase(),
     * fleet_withdraw(), created by migration 4). */
    {"up_erasure", "SELECT fleet_erase($1::text, $2::bigint, $3::text, to_timestamp($4::bigint),"
                   " $5::jsonb, $6::jsonb)"},
    {"up_withdrawal", "SELECT fleet_withdraw($1::text, $2::bigint, $3::text, $4::text,"
                      " to_timestamp($5::bigint), $6::jsonb)"},
    {"up_building",
     "INSERT INTO buildings (gateway_id, building_id) VALUES ($1, $2) ON CONFLICT DO NOTHING"},
    {"up_dwelling", "INSERT INTO dwellings (gateway_id, dwelling_id, building_id)"
                    " VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"},
    {"up_gateway",
     "INSERT INTO gateways AS g (gateway_id, max_seq, items_received, items_rejected)"
     " VALUES ($1, $2, $3, $4) ON CONFLICT (gateway_id) DO UPDATE SET last_seen = now(),"
     " max_seq = greatest(g.max_seq, excluded.max_seq),"
     " items_received = g.items_received + excluded.items_received,"
     " items_rejected = g.items_rejected + excluded.items_rejected"},
};
#define N_STATEMENTS (sizeof(statements) / sizeof(statements[0]))

/* ---- connection ---------------------------------------------------------- */

static void say(char *err, size_t errlen, const char *what, PGconn *conn)
{
    const char *m = PQerrorMessage(conn);
    size_t len = strlen(m);

    /* libpq's messages end with a newline and may hold several lines: one
     * line for the log. */
    while (len > 0 && (m[len - 1] == '\n' || m[len - 1] == ' '))
        len--;
    snprintf(err, errlen, "%s: %.*s", what, (int)len, m);
    for (char *q = err; *q; q++)
        if (*q == '\n' || *q == '\t')
            *q = ' ';
}

static int exec_ok(struct collector_db *db, const char *sql, const char *what, char *err,
                   size_t errlen)
{
    PGresult *res = PQexec(db->conn, sql);
    ExecStatusType st = PQresultStatus(res);
    int r = 0;

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        say(err, errlen, what, db->conn);
        r = -EIO;
    }
    PQclear(res);
    return r;
}

/* A statement whose failure adds nothing (the ROLLBACK after an error: the
 * first error is the one to tell). */
static void exec_quiet(struct collector_db *db, const char *sql)
{
    PQclear(PQexec(db->conn, sql));
}

/* PostgreSQL's notices ("relation ... already exists, skipping" from an
 * idempotent migration) are not problems: not printed. */
static void notice_ignore(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

struct collector_db *db_open(const char *conninfo, char *err, size_t errlen)
{
    struct collector_db *db = calloc(1, sizeof(*db));

    if (!db) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    db->conn = PQconnectdb(conninfo);
    if (PQstatus(db->conn) != CONNECTION_OK) {
        say(err, errlen, "connect", db->conn);
        goto out_close;
    }
    (void)PQsetNoticeProcessor(db->conn, notice_ignore, NULL);
    /* UTC for to_timestamp() and the partition bounds; the views' days
     * come from the gateways' local starts, not from this. */
    if (exec_ok(db, "SET TIME ZONE 'UTC'", "set time zone", err, errlen) < 0)
        goto out_close;
    return db;
out_close:
    db_close(db);
    return NULL;
}

void db_close(struct collector_db *db)
{
    if (!db)
        return;
    PQfinish(db->conn);
    for (int t = 0; t < PT_COUNT_; t++)
        free(db->known[t]);
    free(db);
}

bool db_ok(struct collector_db *db)
{
    return db && PQstatus(db->conn) == CONNECTION_OK;
}

static int prepare_all(struct collector_db *db, char *err, size_t errlen)
{
    for (size_t i = 0; i < N_STATEMENTS; i++) {
        PGresult *res = PQprepare(db->conn, statements[i].name, statements[i].sql, 0, NULL);
        bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;

        PQclear(res);
        if (!ok) {
            say(err, errlen, statements[i].name, db->conn);
            return -EIO;
        }
    }
    return 0;
}

int db_schema_version(struct collector_db *db, char *err, size_t errlen)
{
    PGresult *res;
    int v;

    res = PQexec(db->conn, "SELECT CASE WHEN to_regclass('fleet_schema_version') IS NULL THEN 0"
                           " ELSE (SELECT coalesce(max(version), 0) FROM fleet_schema_version)"
                           " END");
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        say(err, errlen, "schema version", db->conn);
        PQclear(res);
        return -EIO;
    }
    v = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    return v;
}

int db_migrate(struct collector_db *db, int *ret_from, int *ret_to, char *err, size_t errlen)
{
    char sql[128];
    int v, from;

    /* The table of versions first, on its own: CREATE ... IF NOT EXISTS
     * may still race with another --init-db, hence the lock below before
     * reading the version. */
    if (exec_ok(db, "BEGIN", "begin", err, errlen) < 0)
        return -EIO;
    if (exec_ok(db, "SELECT pg_advisory_xact_lock(" DB_LOCK_KEY ")", "lock", err, errlen) < 0 ||
        exec_ok(db,
                "CREATE TABLE IF NOT EXISTS fleet_schema_version (version integer PRIMARY KEY,"
                " applied_at timestamptz NOT NULL DEFAULT now())",
                "create fleet_schema_version", err, errlen) < 0)
        goto out_rollback;
    from = v = db_schema_version(db, err, errlen);
    if (v < 0)
        goto out_rollback;
    if (v > N_MIGRATIONS) {
        snprintf(err, errlen, "the database's schema is version %d, newer than this collector's %d",
                 v, N_MIGRATIONS);
        goto out_rollback;
    }
    /* Every step in the same transaction: a failed migration leaves the
     * schema as it was. */
    for (; v < N_MIGRATIONS; v++) {
        snprintf(sql, sizeof(sql), "migration %d", v + 1);
        if (exec_ok(db, migrations[v], sql, err, errlen) < 0)
            goto out_rollback;
        snprintf(sql, sizeof(sql), "INSERT INTO fleet_schema_version (version) VALUES (%d)", v + 1);
        if (exec_ok(db, sql, "record version", err, errlen) < 0)
            goto out_rollback;
    }
    if (exec_ok(db, "COMMIT", "commit", err, errlen) < 0)
        return -EIO;
    *ret_from = from;
    *ret_to = v;
    return 0;
out_rollback:
    exec_quiet(db, "ROLLBACK");
    return -EIO;
}

/* ---- batch --------------------------------------------------------------- */

/* A small string map of one batch: dedupes buildings, dwellings and
 * channels (one statement each per batch, not per item). */
/* The length of a period of each granularity, for a channel's latest end
 * (channels.last_end, for the silent channels of gateway_quality): a day
 * of 24 hours (23 or 25 at a DST change: an hour off, against the view's
 * day of tolerance), a month of 28 days (never the latest: days are sent). */
static const int64_t gran_min_s[FLEET_GRAN_COUNT_] = {3600, 86400, 28 * 86400};

struct smap_ent {
    char *key; /* NULL: free slot */
    size_t idx;
    int64_t max_start_s;
    int64_t max_end_s; /* the latest period end: an hour's, a day's, a month's */
};
struct smap {
    struct smap_ent *e;
    size_t cap, n;
};

static uint64_t fnv(const char *a, const char *b)
{
    uint64_t h = 1469598103934665603ULL;

    for (; *a; a++)
        h = (h ^ (unsigned char)*a) * 1099511628211ULL;
    h = (h ^ 0x1f) * 1099511628211ULL;
    for (; *b; b++)
        h = (h ^ (unsigned char)*b) * 1099511628211ULL;
    return h;
}

/* The entry for (A, B), added when new (*ret_new).  NULL: out of memory. */
static struct smap_ent *smap_get(struct smap *m, const char *a, const char *b, bool *ret_new)
{
    size_t la = strlen(a), lb = strlen(b), i;

    if (m->n * 2 >= m->cap) {
        struct smap old = *m;

        m->cap = m->cap ? m->cap * 2 : 64;
        m->e = calloc(m->cap, sizeof(*m->e));
        if (!m->e) {
            *m = old;
            return NULL;
        }
        m->n = 0;
        for (i = 0; i < old.cap; i++) {
            if (!old.e[i].key)
                continue;
            size_t j = fnv(old.e[i].key, old.e[i].key + strlen(old.e[i].key) + 1) & (m->cap - 1);
            while (m->e[j].key)
                j = (j + 1) & (m->cap - 1);
            m->e[j] = old.e[i];
            m->n++;
        }
        free(old.e);
    }
    i = fnv(a, b) & (m->cap - 1);
    for (; m->e[i].key; i = (i + 1) & (m->cap - 1)) {
        const char *k = m->e[i].key;
        if (strcmp(k, a) == 0 && strcmp(k + la + 1, b) == 0) {
            *ret_new = false;
            return &m->e[i];
        }
    }
    m->e[i].key = malloc(la + lb + 2);
    if (!m->e[i].key)
        return NULL;
    memcpy(m->e[i].key, a, la + 1);
    memcpy(m->e[i].key + la + 1, b, lb + 1);
    m->n++;
    *ret_new = true;
    return &m->e[i];
}

static void smap_free(struct smap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->e[i].key);
    free(m->e);
    memset(m, 0, sizeof(*m));
}

/* The month (year * 12 + month - 1, UTC) of an epoch. */
static int month_of(int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;

    gmtime_r(&tt, &tm);
    return (tm.tm_year + 1900) * 12 + tm.tm_mon;
}

static bool known(const struct collector_db *db, int t, int month)
{
    for (size_t i = 0; i < db->n_known[t]; i++)
        if (db->known[t][i] == month)
            return true;
    return false;
}

static int add_known(struct collector_db *db, int t, int month)
{
    if (known(db, t, month))
        return 0;
    if (db->n_known[t] == db->cap_known[t]) {
        size_t cap = db->cap_known[t] ? db->cap_known[t] * 2 : 16;
        int *k = realloc(db->known[t], cap * sizeof(*k));
        if (!k)
            return -ENOMEM;
        db->known[t] = k;
        db->cap_known[t] = cap;
    }
    db->known[t][db->n_known[t]++] = month;
    return 0;
}

/* Months created in this batch (to remember once committed). */
struct new_part {
    int table, month;
};

static int ensure_partition(struct collector_db *db, int t, int month, struct new_part **parts,
                            size_t *n_parts, bool *locked, char *err, size_t errlen)
{
    char sql[512];
    int y = month / 12, m = month % 12 + 1, y2 = (month + 1) / 12, m2 = (month + 1) % 12 + 1;
    struct new_part *p;

    if (known(db, t, month))
        return 0;
    for (size_t i = 0; i < *n_parts; i++)
        if ((*parts)[i].table == t && (*parts)[i].month == month)
            return 0;
    if (!*locked) {
        /* CREATE ... PARTITION OF locks the parent table exclusively: it
         * waits for a long report reading it, and every insert then waits
         * for it.  Give up after DB_PARTITION_LOCK_TIMEOUT (the batch is
         * retried later) rather than stall the fleet. */
        if (exec_ok(db, "SELECT pg_advisory_xact_lock(" DB_LOCK_KEY ")", "lock", err, errlen) < 0 ||
            exec_ok(db, "SET LOCAL lock_timeout = '" DB_PARTITION_LOCK_TIMEOUT "'", "lock timeout",
                    err, errlen) < 0)
            return -EIO;
        *locked = true;
    }
    snprintf(sql, sizeof(sql),
             "CREATE TABLE IF NOT EXISTS %s_p%04d%02d PARTITION OF %s FOR VALUES FROM"
             " ('%04d-%02d-01 00:00:00+00') TO ('%04d-%02d-01 00:00:00+00')",
             part_names[t], y, m, part_names[t], y, m, y2, m2);
    if (exec_ok(db, sql, "create partition", err, errlen) < 0)
        return -EIO;
    p = realloc(*parts, (*n_parts + 1) * sizeof(*p));
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    *parts = p;
    p[*n_parts].table = t;
    p[*n_parts].month = month;
    (*n_parts)++;
    return 0;
}

/* Parameter text of one statement: numbers printed into buf. */
struct params {
    const char *v[DB_PARAMS_MAX];
    char buf[DB_PARAMS_MAX][32];
    int n;
};

static void p_str(struct params *p, const char *s)
{
    p->v[p->n++] = s;
}

static void p_int(struct params *p, int64_t x)
{
    snprintf(p->buf[p->n], sizeof(p->buf[0]), "%" PRId64, x);
    p->v[p->n] = p->buf[p->n];
    p->n++;
}

/* -1 means null (the item decoder's convention for absent times). */
static void p_int_null(struct params *p, int64_t x)
{
    if (x < 0)
        p->v[p->n++] = NULL;
    else
        p_int(p, x);
}

static void p_dbl(struct params *p, bool has, double x)
{
    if (!has) {
        p->v[p->n++] = NULL;
        return;
    }
    /* %.17g: the double comes back bit for bit. */
    snprintf(p->buf[p->n], sizeof(p->buf[0]), "%.17g", x);
    p->v[p->n] = p->buf[p->n];
    p->n++;
}

/* The pipeline: statements sent, results read at each sync. */
struct pipe {
    struct collector_db *db;
    size_t pending; /* statements sent since the last sync */
    char *err;
    size_t errlen;
    bool failed;
    bool data_error; /* the first failure was a statement refusing data */
};

static int pipe_sync(struct pipe *pp)
{
    PGconn *c = pp->db->conn;
    PGresult *res;

    if (pp->pending == 0)
        return pp->failed ? -EIO : 0;
    if (!PQpipelineSync(c)) {
        say(pp->err, pp->errlen, "pipeline sync", c);
        return -EIO;
    }
    /* Each statement gives its result then NULL; the sync gives
     * PGRES_PIPELINE_SYNC.  Read everything, even after an error, so that
     * the connection is usable (for the ROLLBACK) afterwards. */
    for (;;) {
        res = PQgetResult(c);
        if (!res) {
            if (PQstatus(c) != CONNECTION_OK) {
                say(pp->err, pp->errlen, "pipeline", c);
                pp->failed = true;
                break;
            }
            continue;
        }
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_PIPELINE_SYNC) {
            PQclear(res);
            break;
        }
        /* The erasures' functions answer a row (rows deleted). */
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && !pp->failed) {
            const char *m = PQresultErrorMessage(res);
            const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

            snprintf(pp->err, pp->errlen, "statement: %.*s", (int)strcspn(m, "\n"), m);
            pp->failed = true;
            /* Classes 22 (data exception) and 23 (integrity constraint
             * violation): this item's data, not the database's state. */
            pp->data_error =
                state && (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0);
        }
        PQclear(res);
    }
    pp->pending = 0;
    return pp->failed ? -EIO : 0;
}

static int pipe_send(struct pipe *pp, const char *stmt, const struct params *p)
{
    if (!PQsendQueryPrepared(pp->db->conn, stmt, p->n, p->v, NULL, NULL, 0)) {
        say(pp->err, pp->errlen, stmt, pp->db->conn);
        pp->failed = true;
        return -EIO;
    }
    if (++pp->pending >= DB_PIPELINE_CHUNK)
        return pipe_sync(pp);
    return 0;
}

/* An erasure or a withdrawal: one call of its function, with the item's
 * arrays as jsonb (their JSON text, checked by collector_item.c). */
static int send_erasure(struct pipe *pp, const char *gw, const struct fleet_item *it)
{
    char *channels = json_dumps(it->channels, JSON_COMPACT);
    char *folded = it->folded ? json_dumps(it->folded, JSON_COMPACT) : NULL;
    struct params p;
    int r;

    if (!channels || (it->type == FLEET_ERASURE && !folded)) {
        free(channels);
        free(folded);
        snprintf(pp->err, pp->errlen, "out of memory");
        pp->failed = true;
        return -ENOMEM;
    }
    p.n = 0;
    p_str(&p, gw);
    p_int(&p, (int64_t)it->seq);
    p_str(&p, it->dwelling);
    if (it->type == FLEET_ERASURE) {
        p_int(&p, it->cut_s);
        p_str(&p, channels);
        p_str(&p, folded);
        r = pipe_send(pp, "up_erasure", &p);
    } else {
        p_str(&p, it->purpose);
        p_int(&p, it->cut_s);
        p_str(&p, channels);
        r = pipe_send(pp, "up_withdrawal", &p);
    }
    /* libpq has copied the parameters into its output buffer. */
    free(channels);
    free(folded);
    return r;
}

static int send_item(struct pipe *pp, const char *gw, const struct fleet_item *it)
{
    static const char *const rollup_stmt[FLEET_GRAN_COUNT_] = {"up_rollup_hour", "up_rollup_day",
                                                               "up_rollup_month"};
    struct params p;

    p.n = 0;
    p_str(&p, gw);
    switch (it->type) {
    case FLEET_ROLLUP:
        p_str(&p, it->channel);
        p_int(&p, it->start_s);
        p_str(&p, it->start);
        p_str(&p, it->building);
        p_str(&p, it->dwelling);
        p_str(&p, it->quantity);
        p_str(&p, it->kind);
        p_str(&p, it->unit);
        p_dbl(&p, true, it->sum);
        p_int(&p, it->n);
        p_dbl(&p, it->has_min, it->min);
        p_dbl(&p, it->has_max, it->max);
        p_int(&p, (int64_t)it->seq);
        return pipe_send(pp, rollup_stmt[it->gran], &p);
    case FLEET_EVENT:
        p_int(&p, it->id);
        p_int(&p, it->time_s);
        p_str(&p, it->kind);
        p_str(&p, it->channel);
        p_str(&p, it->device);
        p_str(&p, it->detail);
        p_dbl(&p, it->has_value, it->value);
        p_int(&p, (int64_t)it->seq);
        return pipe_send(pp, "up_event", &p);
    case FLEET_ALERT:
        p_int(&p, it->id);
        p_str(&p, it->kind);
        p_str(&p, it->severity);
        p_str(&p, it->building);
        p_str(&p, it->dwelling);
        p_str(&p, it->channel);
        p_str(&p, it->state);
        p_int(&p, it->opened_s);
        p_int_null(&p, it->ack_s);
        p_int_null(&p, it->closed_s);
        p_str(&p, it->text_fr);
        p_str(&p, it->text_en);
        p_int(&p, (int64_t)it->seq);
        return pipe_send(pp, "up_alert", &p);
    case FLEET_DEVICE:
        p_str(&p, it->device);
        p_str(&p, it->state);
        p_int(&p, it->since_s);
        p_int(&p, it->polls);
        p_int(&p, it->errors);
        p_int(&p, it->timeouts);
        p_int_null(&p, it->last_ok_s);
        p_int(&p, (int64_t)it->seq);
        return pipe_send(pp, "up_device", &p);
    case FLEET_ERASURE:
    case FLEET_WITHDRAWAL:
        return send_erasure(pp, gw, it);
    }
    return 0;
}

/* Buildings, dwellings and channels named by the batch, once each. */
static int send_places(struct pipe *pp, const struct db_batch_item *items, size_t n)
{
    struct smap bld = {0}, dwl = {0}, chn = {0};
    struct params p;
    int r = 0;

    for (size_t i = 0; i < n && r == 0; i++) {
        const struct fleet_item *it = items[i].item;
        const char *gw = items[i].gateway;
        struct smap_ent *e;
        bool is_new;

        /* An alert of no one building (building null) names none. */
        if ((it->type != FLEET_ROLLUP && it->type != FLEET_ALERT) || !it->building)
            continue;
        if (!(e = smap_get(&bld, gw, it->building, &is_new)))
            goto out_nomem;
        if (is_new) {
            p.n = 0;
            p_str(&p, gw);
            p_str(&p, it->building);
            r = pipe_send(pp, "up_building", &p);
        }
        if (it->dwelling && r == 0) {
            if (!(e = smap_get(&dwl, gw, it->dwelling, &is_new)))
                goto out_nomem;
            if (is_new) {
                p.n = 0;
                p_str(&p, gw);
                p_str(&p, it->dwelling);
                p_str(&p, it->building);
                r = pipe_send(pp, "up_dwelling", &p);
            }
        }
        if (it->type != FLEET_ROLLUP)
            continue;
        /* Channels: the newest item's attributes, the latest start. */
        if (!(e = smap_get(&chn, gw, it->channel, &is_new)))
            goto out_nomem;
        if (is_new || items[e->idx].item->seq < it->seq)
            e->idx = i;
        if (is_new || e->max_start_s < it->start_s)
            e->max_start_s = it->start_s;
        if (is_new || e->max_end_s < it->start_s + gran_min_s[it->gran])
            e->max_end_s = it->start_s + gran_min_s[it->gran];
    }
    for (size_t i = 0; i < chn.cap && r == 0; i++) {
        const struct smap_ent *e = &chn.e[i];
        const struct fleet_item *it;

        if (!e->key)
            continue;
        it = items[e->idx].item;
        p.n = 0;
        p_str(&p, items[e->idx].gateway);
        p_str(&p, it->channel);
        p_str(&p, it->building);
        p_str(&p, it->dwelling);
        p_str(&p, it->quantity);
        p_str(&p, it->kind);
        p_str(&p, it->unit);
        p_int(&p, (int64_t)it->seq);
        p_int(&p, e->max_start_s);
        p_int(&p, e->max_end_s);
        r = pipe_send(pp, "up_channel", &p);
    }
    smap_free(&bld);
    smap_free(&dwl);
    smap_free(&chn);
    return r;
out_nomem:
    smap_free(&bld);
    smap_free(&dwl);
    smap_free(&chn);
    snprintf(pp->err, pp->errlen, "out of memory");
    return -ENOMEM;
}

int db_create_ahead(struct collector_db *db, int64_t now_s, char *err, size_t errlen)
{
    struct new_part *parts = NULL;
    size_t n_parts = 0;
    bool locked = false;
    int month = month_of(now_s), r = -EIO;

    if (exec_ok(db, "BEGIN", "begin", err, errlen) < 0)
        return -EIO;
    for (int t = 0; t < PT_COUNT_; t++)
        for (int k = 0; k < DB_MONTHS_AHEAD; k++)
            if (ensure_partition(db, t, month + k, &parts, &n_parts, &locked, err, errlen) < 0) {
                exec_quiet(db, "ROLLBACK");
                goto out_free;
            }
    if (exec_ok(db, "COMMIT", "commit", err, errlen) < 0)
        goto out_free;
    for (size_t i = 0; i < n_parts; i++)
        (void)add_known(db, parts[i].table, parts[i].month);
    r = 0;
out_free:
    free(parts);
    return r;
}

int db_write_batch(struct collector_db *db, const struct db_batch_item *items, size_t n,
                   const struct db_batch_gw *gws, size_t n_gws, char *err, size_t errlen)
{
    struct new_part *parts = NULL;
    struct pipe pp = {db, 0, err, errlen, false, false};
    size_t n_parts = 0;
    bool locked = false, piped = false;
    int r = -EIO;

    /* The statements are prepared on the first batch of a connection (a
     * --init-db may have created the tables after the connection). */
    if (!db->prepared) {
        if (prepare_all(db, err, errlen) < 0)
            return -EIO;
        db->prepared = true;
    }
    if (exec_ok(db, "BEGIN", "begin", err, errlen) < 0)
        return -EIO;
    for (size_t i = 0; i < n; i++) {
        const struct fleet_item *it = items[i].item;
        int t = it->type == FLEET_ROLLUP ? (int)it->gran : it->type == FLEET_EVENT ? PT_EVENTS : -1;
        if (t >= 0 && ensure_partition(db, t, month_of(t == PT_EVENTS ? it->time_s : it->start_s),
                                       &parts, &n_parts, &locked, err, errlen) < 0)
            goto out_rollback;
    }
    if (!PQenterPipelineMode(db->conn)) {
        say(err, errlen, "pipeline mode", db->conn);
        goto out_rollback;
    }
    piped = true;
    for (size_t i = 0; i < n; i++)
        if (send_item(&pp, items[i].gateway, items[i].item) < 0)
            goto out_rollback;
    if (send_places(&pp, items, n) < 0)
        goto out_rollback;
    for (size_t g = 0; g < n_gws; g++) {
        struct params p;

        p.n = 0;
        p_str(&p, gws[g].gateway);
        p_int(&p, (int64_t)gws[g].max_seq);
        p_int(&p, gws[g].received);
        p_int(&p, gws[g].rejected);
        if (pipe_send(&pp, "up_gateway", &p) < 0)
            goto out_rollback;
    }
    if (pipe_sync(&pp) < 0)
        goto out_rollback;
    (void)PQexitPipelineMode(db->conn);
    piped = false;
    if (exec_ok(db, "COMMIT", "commit", err, errlen) < 0)
        goto out_free;
    for (size_t i = 0; i < n_parts; i++)
        (void)add_known(db, parts[i].table, parts[i].month);
    r = 0;
    goto out_free;
out_rollback:
    if (piped) {
        (void)pipe_sync(&pp);
        (void)PQexitPipelineMode(db->conn);
    }
    exec_quiet(db, "ROLLBACK");
    if (pp.data_error && PQstatus(db->conn) == CONNECTION_OK)
        r = -EINVAL;
out_free:
    free(parts);
    return r;
}
