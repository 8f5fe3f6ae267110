/*
 * store.h - the SQLite time-series store.
 *
 * One write handle (owned by the writer thread, or by foyerctl import) and
 * any number of read-only handles (API, export, status, summaries), in WAL
 * mode.  The store owns the schema (described at the top of daemon/store/store.c):
 * only its files hold SQL or use SQLite (tests/integration/layout_check.sh).
 * Everyone else writes through store_ingest() and the other writers below,
 * and reads through the read API at the end of this file
 * (daemon/store/store_read.c).
 */
#ifndef FOYER_STORE_H
#define FOYER_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "foyer/config.h"
#include "foyer/device.h"
#include "foyer/reading.h"

#define STORE_SCHEMA_VERSION 13

struct store;

/* What ingest did with readings, added to by store_ingest() once its
 * transaction is committed. */
struct ingest_stats {
    uint64_t readings;     /* readings offered */
    uint64_t stored;       /* raw readings inserted, any status */
    uint64_t duplicates;   /* identical to a stored reading: skipped */
    uint64_t conflicts;    /* same channel and time, another value: first kept */
    uint64_t out_of_range; /* NaN, infinity, outside the channel's range: refused */
    uint64_t bad_time;     /* before 2000, or more than future_tolerance_s ahead of
                              the clock: refused, not stored */
    uint64_t future;       /* of bad_time: ahead of the clock (future_refused) */
    uint64_t late;         /* older than the newest reading, slotted in */
    uint64_t late_refused; /* older and inconsistent with their neighbours */
    uint64_t glitches;     /* low readings dropped (reboot) */
    uint64_t spikes;       /* implausible jumps dropped */
    uint64_t resets;       /* meter resets / replacements */
    uint64_t jumps;        /* confirmed index jumps (new baseline) */
    uint64_t clock_gaps;   /* more than FOYER_SPREAD_HOURS_MAX from the channel's
                              other readings: a new baseline, or refused when late
                              (event clock_gap) */
    uint64_t rollovers;
    uint64_t batches;     /* committed transactions */
    uint64_t state_loads; /* channels whose counter state was rebuilt from readings
                             (three queries each): at first use, and after another
                             handle's ingest (foyerctl import next to foyerd) */
};

void ingest_stats_add(struct ingest_stats *to, const struct ingest_stats *from);

/* Open (creating or migrating) the database for writing, check it
 * (PRAGMA quick_check) and register the config's channels.  cfg is borrowed
 * until store_close() or the next store_set_config().  Returns 0 or -errno;
 * *ret_err_msg, when not NULL, gets on failure a message saying what is
 * wrong with the file and what to do (borrowed until the next store_open*()
 * of this thread): -EACCES not writable (file or directory), -ENOENT no
 * directory, -EBADMSG not a database or damaged, -EPROTO schema too new,
 * -EEXIST the config re-labels a channel holding data
 * (store_check_channels()). */
int store_open(const char *path, const struct foyer_config *cfg, struct store **ret,
               const char **ret_err_msg);

/* Whether this user may open the database at path for writing, as far as
 * the file system says (the file, if it exists, readable and writable; its
 * directory writable, for SQLite's -wal and -shm files).  Returns 0, or
 * -EACCES or -ENOENT with *ret_err_msg (when not NULL) saying what is wrong
 * and what to do (borrowed like store_open()'s).  foyerd asks before it
 * creates files beside the database. */
int store_check_access(const char *path, const char **ret_err_msg);

/* Open an existing database read-only (readers: export, status, API).
 * -ESTALE: its schema is older (foyerd migrates it at its next start);
 * -EPROTO: newer than this program. */
int store_open_readonly(const char *path, const struct foyer_config *cfg, struct store **ret,
                        const char **ret_err_msg);

void store_close(struct store *s);

/* Switch to a new config (after SIGHUP): channels are registered again and
 * cached counter state is dropped.  Write handle only.  0 or -errno
 * (-EEXIST: the config re-labels a channel holding data); on failure the
 * store goes on with its config, unchanged. */
int store_set_config(struct store *s, const struct foyer_config *cfg);

/* Compare cfg's channels with those the database knows: a channel holding
 * data (readings or daily figures) whose quantity, kind, unit, dwelling or
 * building differ would re-label its history.  Appends one "FILE:LINE:
 * message" per such channel to errs (caller frees with conf_errors_free())
 * and returns their number, or -errno.  Any handle. */
int store_check_channels(struct store *s, const struct foyer_config *cfg, struct conf_errors *errs);

/* Apply readings in one transaction: raw rows, counter logic, hourly, daily
 * and monthly rollups, events; and, when queue_seq > 0, record it as the
 * last reading queue sequence number committed (store_queue_seq()).  r is
 * sorted in place.  On failure nothing is applied (the caller may retry the
 * same readings) and store_errmsg() says why: -ENOSPC when the disk is
 * full, -EBUSY when the database stayed locked, -EIO otherwise. */
int store_ingest(struct store *s, struct reading *r, size_t n, uint64_t queue_seq,
                 struct ingest_stats *stats);

/* The last reading queue sequence number committed (0: none), and the
 * database's identity (random, fixed at creation), for queue_recover().
 * 0 or -errno. */
int store_queue_state(struct store *s, uint64_t *ret_seq, uint64_t *ret_db_id);

/* Delete raw readings older than the retention windows (and hourly rollups
 * of dwellings without consent), keeping each channel's last accepted
 * reading and a held one, so counting resumes without a gap.  Returns rows
 * deleted or -errno. */
int64_t store_retention(struct store *s, int64_t now_s);

/* The same in steps, one write transaction per channel, so that no lock
 * is held for long: on a database of years the first run deletes millions
 * of rows, and as one transaction it held the write lock for over ten
 * seconds (foyerctl token create gave up with "database is locked", the
 * writer ingested nothing).  Channels from *cursor on, until budget_ms
 * have passed (at least one channel per call); *cursor is then the next
 * channel, the config's channel count when all are done.  Returns rows
 * deleted or -errno (*cursor then names the channel that failed). */
int64_t store_retention_step(struct store *s, int64_t now_s, size_t *cursor, int64_t budget_ms);

/* Record device state changes and the latest health of devices, in one
 * transaction.  0 or -errno. */
int store_put_devices(struct store *s, const struct device_event *ev, size_t n_ev,
                      const struct device_health *h, size_t n_h);

/* The database id of a config channel, or -1 when it has none yet (a
 * read-only handle on a database foyerd never saw this channel in). */
int64_t store_channel_id(const struct store *s, uint32_t cfg_channel);

/* The database id of every config channel (n of them), borrowed until the
 * next store_set_config() or store_close(). */
const int64_t *store_channel_ids(const struct store *s, size_t *ret_n);

/* Why the last failed operation of the handle failed (kept from the
 * failing statement, not the ROLLBACK after it). */
const char *store_errmsg(struct store *s);

/* Test hook, for disk-full tests: cap the database file at pages pages
 * (of PRAGMA page_size bytes) for this handle's connection (PRAGMA
 * max_page_count: a write that needs more fails with -ENOSPC, as on a full
 * disk); pages <= 0 lifts the cap (to SQLite's largest).  Returns the cap
 * now in effect (SQLite never sets it below the file's current size), or
 * -errno.  foyerd never calls it. */
int64_t store_limit_pages(struct store *s, int64_t pages);

/* ---- read API (daemon/store/store_read.c) ------------------------------
 *
 * What the rest of foyer reads from the database: rollups (export,
 * summaries, later the HTTP API), the stored summaries, channel and device
 * status (foyerctl status), events.  Any handle will do, read-only or the
 * write handle; these functions never write.  Channels are named by their
 * config index (as in struct reading); a channel the database does not know
 * yet has no rows.  Times are UTC epoch seconds, values in the channel's
 * stored unit (kWh, L, degC, ...).
 *
 * Each query is prepared once per handle, on first use, and finalised by
 * store_close(): a caller that repeats one (the summary engine reads
 * thousands of ranges) pays the parse once.  A call leaves no read
 * transaction open.  Rows are handed to a callback, one by one, without
 * allocating; the row and the strings it points to are borrowed for the
 * call only.  The callback returns 0 to go on; any other value stops the
 * scan and is returned as is (return a negative errno, or a positive value
 * of your own).  On a database failure the functions return -errno (-EBUSY
 * locked, -ENOMEM, -EBADMSG damaged, -EIO otherwise) and store_errmsg()
 * says why. */

/* The rollup tables, by the length of their periods. */
enum store_gran {
    STORE_HOUR,  /* rollup_hour: UTC hours (whole local hours too) */
    STORE_DAY,   /* rollup_day: local days (23 to 25 hours) */
    STORE_MONTH, /* rollup_month: local months */
};

/* One rollup row: a channel's figure for one period. */
struct store_rollup {
    int64_t ts_s; /* start of the period */
    double sum;   /* counters: consumption of the period; gauges: sum of the
                     values (mean = sum / n) */
    int64_t n;    /* readings taken in the period (0: a counter's period that
                     only got consumption spread from readings around it) */
    double min;   /* gauges: lowest and highest value; NaN for counters, and
                     unless STORE_READ_MINMAX is asked for */
    double max;
};

/* Flags of store_read_rollups(). */
#define STORE_READ_MINMAX 0x1u /* read min and max too */

/* The rollup rows of config channel cfg_channel at granularity g whose
 * period starts in [from_s, to_s) (UTC epoch s), oldest first, to fn (row
 * borrowed for the call; sums in the channel's unit).  flags: 0, or
 * STORE_READ_MINMAX (without it, rows are cheaper to read).  0, fn's
 * non-zero value, or -errno (-EINVAL: no such granularity or flag). */
int store_read_rollups(struct store *s, enum store_gran g, uint32_t cfg_channel, int64_t from_s,
                       int64_t to_s, unsigned flags,
                       int (*fn)(void *ctx, const struct store_rollup *row), void *ctx);

/* Where a channel's readings stand, for foyerctl status. */
struct store_channel_status {
    bool has_last;     /* a reading taken as valid is stored (counter_status_taken():
                          accepted, baseline or unchanged) */
    int64_t last_ts_s; /* the newest of them: its time */
    double last_value; /* and value */
    bool held;         /* a newer reading waits for the next one to be judged
                          (RS_HELD_LOW, RS_HELD_JUMP) */
};

/* *ret (the caller's) = the status of config channel cfg_channel: time in
 * UTC epoch s, value in the channel's unit; all false/0 when the database
 * has no reading of it.  0 or -errno (*ret untouched). */
int store_read_channel_status(struct store *s, uint32_t cfg_channel,
                              struct store_channel_status *ret);

/* The state of device (a [meter] or [sensor] ID) its driver last reported
 * ("online", "offline", "fresh", "stale"), copied into the caller's buf
 * (len bytes, truncated).  0, -ENOENT when no driver reported on it, or
 * -errno (buf untouched). */
int store_read_device_state(struct store *s, const char *device, char *buf, size_t len);

/* The latest health of every device a driver reported on, by kind then
 * name, to fn (times UTC epoch s, response in ms).  The row, and the kind
 * and state it points to, are borrowed for the call (not static strings as
 * for store_put_devices()).  0, fn's non-zero value, or -errno. */
int store_read_devices(struct store *s, int (*fn)(void *ctx, const struct device_health *h),
                       void *ctx);

/* One row of the events table. */
struct store_event {
    int64_t ts_s;
    const char *channel; /* channel ID; NULL for other events */
    const char *device;  /* [meter] or [sensor] ID; NULL for a channel's event */
    const char *kind;    /* EVENT_* (counter.h), a device state change ("offline"),
                            push_given_up */
    double value;        /* NaN: none */
    double prev_value;   /* the value before (a reset: the old index); NaN: none */
    const char *detail;  /* for people; NULL: none */
};

/* The events at or after since_s (UTC epoch s), oldest first (in the order
 * recorded for equal times), to fn (the event and its strings borrowed for
 * the call; values in the channel's unit).  Selecting by dwelling is the
 * caller's: a device's dwelling is in the config, not in the database.
 * 0, fn's non-zero value, or -errno. */
int store_read_events(struct store *s, int64_t since_s,
                      int (*fn)(void *ctx, const struct store_event *ev), void *ctx);

/* The stored summary of dwelling (its ID) for period ("2026-W47",
 * "2026-11"): 0 and, when ret_body is not NULL, *ret_body = its JSON
 * document (caller frees with free()); -ENOENT when none is stored; or
 * -errno.  With ret_body NULL only the key is looked up (the scheduler's
 * "which dwellings still miss this period's summary"). */
int store_read_summary(struct store *s, const char *dwelling, const char *period, char **ret_body);

/* Hold one read transaction over the read calls that follow, until
 * store_read_end() (daemon/store/store_read_api.c): they see one snapshot,
 * and a caller making hundreds of reads at once (a building's status) pays
 * the transaction's locking once, not per call.  Never hold it across
 * anything slow or waiting: while it is held the WAL cannot be
 * checkpointed past it.  Not on a handle that is writing.  0, -EBUSY when
 * one is already held, or -errno. */
int store_read_begin(struct store *s);
/* End it (accepts a handle holding none). */
void store_read_end(struct store *s);

/* ---- CSV export (daemon/store/store_export.c) ---------------------------
 * One format for `foyerctl export` and the API's GET /api/v1/export.csv:
 * header "channel,dwelling,quantity,period_start,value,unit", one row per
 * channel and period; the value is the consumption of the period for
 * counters and the mean for gauges, at the unit's fixed precision
 * (units_format(), include/foyer/units.h); period_start is local ISO 8601
 * with its offset.  Reads rollups only (store_read_rollups()). */
struct store_export_opts {
    enum store_gran gran; /* STORE_HOUR, STORE_DAY or STORE_MONTH */
    int64_t from_s;       /* periods starting at or after; INT64_MIN: all */
    int64_t to_s;         /* periods starting before; INT64_MAX: all */
    const char *dwelling; /* only this dwelling's channels, or NULL */
    const char *building; /* only this building's channels (with its dwellings'), or NULL */
};

/* Hand the CSV, row by row (each a whole line with its newline), to
 * write(ctx, data, len), which returns 0 or -errno (the export stops and
 * returns it).  Hourly figures of dwellings without load-curve consent are
 * not exported (counted in *ret_skipped_channels when not NULL).  Returns the
 * number of data rows written, or -errno. */
int64_t store_export_csv(struct store *s, const struct foyer_config *cfg,
                         const struct store_export_opts *o,
                         int (*write)(void *ctx, const char *data, size_t len), void *ctx,
                         uint64_t *ret_skipped_channels);

/* ---- household export (daemon/store/store_portab.c) ---------------------
 * Everything held about one household, for its rights of access and
 * portability: GET /api/v1/me/export (the tenant, its tenancy) and
 * `foyerctl export --all-data`.  Sections, in this order (docs/api.md,
 * "Household export", gives the columns): export (schema, window),
 * dwelling, channels, tenancies (those the window meets), consents (of
 * those tenancies), rollups_hour (only with load_curve), rollups_day,
 * rollups_month (whole months inside the window), readings (raw, only with
 * load_curve), events (of its channels), summaries, tip_answers, reports,
 * alerts, tokens (tenant tokens: name and dates, never a hash),
 * access_log (reads of its data by others, "*" reads included).  Nothing
 * of another dwelling; every time row clipped to [from_s, to_s). */
enum store_portab_format {
    STORE_PORTAB_JSON, /* one object: "schema" and a member per section */
    STORE_PORTAB_CSV,  /* one stream: per section a header line "#SECTION,COLUMNS",
                          rows "SECTION,VALUES", a blank line between sections */
};

struct store_portab_opts {
    uint32_t dwelling; /* config dwelling index */
    int64_t from_s;    /* window start (UTC epoch s); INT64_MIN: all */
    int64_t to_s;      /* window end, excluded; INT64_MAX: all */
    bool load_curve;   /* include finer than daily data (hourly figures, raw
                          readings): the tenant's own, or with the household's
                          load-curve consent (the caller decides) */
    enum store_portab_format format;
    int64_t now_s; /* the export's time ("generated") */
};

/* Hand the export to write(ctx, data, len) piece by piece (returns 0 or
 * -errno, which stops the export and is returned), in one read
 * transaction of s (not on a handle holding one: -EBUSY).  Returns the
 * number of rows written, or -errno (-EINVAL: no such dwelling, or from_s
 * after to_s; store_errmsg() says why on a database failure). */
int64_t store_portab_write(struct store *s, const struct foyer_config *cfg,
                           const struct store_portab_opts *o,
                           int (*write)(void *ctx, const char *data, size_t len), void *ctx);

/* *ret_n = the outbox items still to deliver (pending: not delivered, not
 * given up), for /metrics.  0 or -errno (*ret_n untouched). */
int store_read_outbox_pending(struct store *s, int64_t *ret_n);

#endif
