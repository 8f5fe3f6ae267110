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

#define STORE_SCHEMA_VERSION 4

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

/* The connection, for read queries in export/status/API code. */
sqlite3 *store_db(struct store *s);

/* Why the last failed operation of the handle failed (kept from the
 * failing statement, not the ROLLBACK after it). */
const char *store_errmsg(struct store *s);

#endif
