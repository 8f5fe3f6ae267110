/*
 * alerts.h - the alerts room (daemon/alerts/): rules that find what an
 * energy ambassador can act on (a running toilet, a cold or damp home, a
 * meter that stopped talking, a heated empty flat) in what the store
 * already knows, and the lifecycle of the alerts they open.
 *
 * ENGINE
 *   foyerd's main thread calls alerts_engine_tick() every second.  At
 *   start, then once per closed hour (ALERTS_GRACE_S after it ends, so its
 *   last readings are committed), a pass evaluates every rule over the
 *   last history_days days ([alerts] in foyer.conf): readings imported or
 *   delivered late are judged like live ones.  A pass goes in steps of
 *   ALERTS_STEP_MS, ALERTS_STEP_PAUSE_MS apart, so that foyerd answers
 *   signals and other writers get the lock while thousands of alerts open
 *   (daemon/alerts/alerts_engine.c, STEPS); its result is that of one
 *   unbroken pass.  Figures are read
 *   through a read-only store handle (store.h); alerts are written through a
 *   store_alerts handle of the engine's own (store_alerts.h), the store's
 *   documented owner of the alerts table.
 *
 * LIFECYCLE (one alert per kind and subject: a channel, a meter, a bus)
 *   - A rule yields runs of hours in which its condition held.  A run that
 *     begins more than the hold time ([alerts] hold) after the last hour of
 *     the subject's latest alert, or when it has none, opens a new alert at
 *     the run's first hour, with the figure and threshold of that hour and
 *     its sentence in French and English (config/alerts.LANG.conf).  Any
 *     other run belongs to the latest alert, whatever its state: no
 *     duplicate while it is open, and no new alert after one closed by hand
 *     until the condition has been clear for the hold time.
 *   - An open or acknowledged alert closes by itself once the hours judged
 *     since its last hour add up to the hold time ("auto"); meter_reset and
 *     index_jump alerts (one-off events somebody must check) close only by
 *     hand, and a later event of the same channel after that opens a new one.
 *   - Acknowledged (who, when, note) and closed by hand through
 *     store_alerts_ack() and store_alerts_close_one() (foyerctl alerts).
 *     History is kept.
 *   - Delivery: each run queues every alert's states (open, acknowledged,
 *     closed) not queued before in the pusher's outbox, for the [push]
 *     endpoints with alerts = yes, with the Idempotency-Key
 *     alert-DBID-ID-STATE (DBID: the database's identity, hexadecimal): one
 *     POST of alerts_json() per alert and state, across restarts.  An
 *     acknowledgement is delivered at the next run (within the hour).
 *   - Inhibition: when every meter of a bus (two or more) is offline, one
 *     device_silent alert for the bus instead of one per meter; when every
 *     MQTT sensor (two or more) is stale, one for the broker.
 */
#ifndef FOYER_ALERTS_H
#define FOYER_ALERTS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "foyer/config.h"
#include "foyer/store.h"
#include "foyer/store_alerts.h"

/* The kinds, exactly as the public interface names them. */
enum alert_kind {
    ALERT_DEVICE_SILENT, /* a meter offline or a sensor stale longer than silent_grace */
    ALERT_WATER_LEAK,    /* water in every hour 01:00-05:00, leak_nights nights in a row */
    ALERT_COLD_HOME,     /* below cold_below for cold_hours, in the heating season */
    ALERT_DAMP_HOME,     /* above damp_above %RH for damp_hours; critical when cold too */
    ALERT_STALE_AIR,     /* CO2 above co2_above most of the night, co2_nights in a row */
    ALERT_ABNORMAL_USE,  /* a day above abnormal_factor x the usual day of the season */
    ALERT_METER_RESET,   /* a counter event: somebody checks the meter */
    ALERT_INDEX_JUMP,    /* likewise */
    ALERT_VACANT_USE,    /* heat or water used on a day with no tenancy */
    ALERT_KIND_COUNT_
};

/* The kind's name ("water_leak"). */
const char *alert_kind_name(enum alert_kind k);

/* The kind named name, or -1. */
int alert_kind_from_name(const char *name);

/* Readings of an hour's last minutes may still be on their way (meter
 * polls, the writer's batch deadline): an hour is judged this long after
 * its end. */
#define ALERTS_GRACE_S 300

struct alerts_engine;

/* A step of a pass works this long at most (one channel's rules at
 * least), its writes in one transaction: foyerd's main thread answers
 * SIGTERM and SIGHUP between steps, and the write lock is held one step at
 * a time. */
#define ALERTS_STEP_MS 100
/* ... and the next step comes this long after: longer than SQLite's busy
 * wait polls (every 100 ms), so that a writer waiting for the lock
 * (foyerctl token create, 5 s at most) gets it in the first pause. */
#define ALERTS_STEP_PAUSE_MS 150

/* What one pass did. */
struct alerts_run_stats {
    uint64_t opened;         /* new alerts */
    uint64_t closed;         /* closed by themselves (clear for the hold time) */
    uint64_t runs;           /* runs of hours the rules found, new alerts or not */
    uint64_t refused;        /* not opened: the dwelling was erased after the run began */
    uint64_t steps;          /* steps the pass took (1: alerts_engine_run()) */
    int64_t longest_step_ms; /* the longest of them */
    int64_t duration_ms;     /* from the pass's start to its end, pauses included */
};

/* A new engine for cfg (borrowed until alerts_engine_free() or the next
 * alerts_engine_set_config()).  Loads the language files (French and
 * English, from the config file's directory or FOYER_LANG_DIR) and checks
 * that they have the same keys; NULL after logging why. */
struct alerts_engine *alerts_engine_new(const struct foyer_config *cfg);

/* Switch to cfg (after SIGHUP); on failure to load its language files the
 * engine keeps the texts it had (logged) and returns -EINVAL. */
int alerts_engine_set_config(struct alerts_engine *e, const struct foyer_config *cfg);

void alerts_engine_free(struct alerts_engine *e);

/* Called by foyerd's main thread every second, or ALERTS_STEP_PAUSE_MS
 * after it returned true: starts a pass at the first call and once per
 * closed hour, and runs one step (ALERTS_STEP_MS) of the pass under way.
 * true while a pass is under way (call again after the pause).  Accepts
 * NULL. */
bool alerts_engine_tick(struct alerts_engine *e, int64_t now_s);

/* One step of at most budget_ms (< 0: no limit, the whole pass) of the
 * pass under way, or of a new pass as of now_s (UTC epoch s): every hour
 * ending at least ALERTS_GRACE_S before now_s within the last
 * history_days days.  Opens and closes alerts; logs what the pass opened
 * and closed and any failure.  1 while the pass goes on, 0 when it ended
 * (ret_stats, when not NULL, gets what it did), or -errno (the pass is
 * dropped). */
int alerts_engine_step(struct alerts_engine *e, int64_t now_s, int64_t budget_ms,
                       struct alerts_run_stats *ret_stats);

/* A whole pass as of now_s in one call (a pass under way is dropped):
 * alerts_engine_step() without a limit.  0 or -errno. */
int alerts_engine_run(struct alerts_engine *e, int64_t now_s, struct alerts_run_stats *ret_stats);

/* The number of alerts not closed (open or acknowledged) per kind into
 * ret_counts (the caller's array, indexed by enum alert_kind; kinds of
 * another version of foyer are left out), read on any store handle: the
 * /metrics gauge and the ambassador page.  0 or -errno (ret_counts
 * untouched; store_errmsg() says why). */
int alerts_open_by_kind(struct store *s, int64_t ret_counts[ALERT_KIND_COUNT_]);

/* An alert as the public interface shows it (foyerctl alerts --json, the
 * webhook): id, kind, severity, building, dwelling, channel, state (the
 * name of state: open, acknowledged, closed), opened, acknowledged, closed
 * (local ISO 8601 times, or null), text (in lang "fr" or "en"), then
 * acknowledged_by, note, closed_by, subject, value, threshold.  NULL when
 * out of memory; the caller frees with json_decref(). */
json_t *alerts_json(const struct store_alert *al, enum store_alert_state state, const char *lang);

/* Load and compare the alert texts of cfg's language files, appending each
 * problem as "FILE:LINE: message" to errs (a key in one language and not
 * the other, an unknown or missing key, a file that cannot be read):
 * foyerd --check-config.  Returns the number of problems, or -errno. */
int alerts_lang_check(const struct foyer_config *cfg, struct conf_errors *errs);

#endif
