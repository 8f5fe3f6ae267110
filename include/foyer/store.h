/*
 * store.h - the SQLite time-series store.
 *
 * One write handle (owned by the writer thread, or by foyerctl import) and
 * any number of read-only handles (API, export, status), in WAL mode.  The
 * schema is described at the top of daemon/store.c.
 */
#ifndef FOYER_STORE_H
#define FOYER_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "foyer/config.h"
#include "foyer/device.h"
#include "foyer/reading.h"

#define STORE_SCHEMA_VERSION 2

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
    uint64_t batches; /* committed transactions */
};

void ingest_stats_add(struct ingest_stats *to, const struct ingest_stats *from);

/* Open (creating or migrating) the database for writing, and register the
 * config's channels.  cfg is borrowed until store_close() or the next
 * store_set_config().  Returns 0 or -errno; *ret_err_msg, when not NULL,
 * gets a static or SQLite message on failure. */
int store_open(const char *path, const struct foyer_config *cfg, struct store **ret,
               const char **ret_err_msg);

/* Open an existing database read-only (readers: export, status, API). */
int store_open_readonly(const char *path, const struct foyer_config *cfg, struct store **ret,
                        const char **ret_err_msg);

void store_close(struct store *s);

/* Switch to a new config (after SIGHUP): channels are registered again and
 * cached counter state is dropped.  Write handle only.  0 or -errno. */
int store_set_config(struct store *s, const struct foyer_config *cfg);

/* Apply readings in one transaction: raw rows, counter logic, hourly, daily
 * and monthly rollups, events.  r is sorted in place.  On failure nothing is
 * applied (the caller may retry the same readings): -ENOSPC when the disk
 * is full, -EBUSY when the database stayed locked, -EIO otherwise. */
int store_ingest(struct store *s, struct reading *r, size_t n, struct ingest_stats *stats);

/* Delete raw readings older than the retention windows (and hourly rollups
 * of dwellings without consent), keeping each channel's last accepted
 * reading and a held one, so counting resumes without a gap.  Returns rows
 * deleted or -errno. */
int64_t store_retention(struct store *s, int64_t now_s);

/* Record device state changes and the latest health of devices, in one
 * transaction.  0 or -errno. */
int store_put_devices(struct store *s, const struct device_event *ev, size_t n_ev,
                      const struct device_health *h, size_t n_h);

/* The database id of a config channel, or -1 when it has none yet (a
 * read-only handle on a database foyerd never saw this channel in). */
int64_t store_channel_id(const struct store *s, uint32_t cfg_channel);

/* The connection, for read queries in export/status/API code. */
sqlite3 *store_db(struct store *s);

/* Last SQLite error message of the handle. */
const char *store_errmsg(struct store *s);

#endif
