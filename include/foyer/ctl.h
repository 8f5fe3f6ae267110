/*
 * ctl.h - the ctl room (daemon/ctl/): foyerctl's commands, and the CSV
 * import and export they share with tests and benchmarks.  A command takes
 * the loaded config and its own argv (argv[0] is the command name) and
 * returns the exit status: 0, 1 on an error, 2 on bad usage.
 */
#ifndef FOYER_CTL_H
#define FOYER_CTL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "foyer/config.h"
#include "foyer/store.h"

/* Open the database read-only; on failure, or when cfg re-labels a channel
 * holding data (store_check_channels()), say why on stderr, naming the
 * command ("status"), and return NULL.  Caller closes with store_close(). */
struct store *ctl_open_readonly(const struct foyer_config *cfg, const char *cmd);

/* foyerctl events [--since DATE] [--dwelling ID] [--json] */
int ctl_events(const struct foyer_config *cfg, int argc, char **argv);

/* foyerctl alerts [--building ID] [--dwelling ID] [--all] [--json]
 * [--lang fr|en], foyerctl alerts ack ID [--note TEXT], foyerctl alerts
 * close ID (daemon/ctl/ctl_alerts.c); its usage text on out. */
int ctl_alerts(const struct foyer_config *cfg, int argc, char **argv);
void ctl_alerts_usage(FILE *out);

/* foyerctl summary --dwelling ID --period P [--lang fr|en] [--format text|json]
 * (daemon/ctl/ctl_summary.c) */
int ctl_summary(const struct foyer_config *cfg, int argc, char **argv);

/* ---- CSV import and export (daemon/ctl/ctl_import.c, ctl_export.c) ------
 * Import: header "channel,time,value", ISO 8601 time with offset or Z, one
 * reading per row, rows in any order; fields may be quoted (RFC 4180, on one
 * line).  A time without an offset, a leap second (:60) and a value that is
 * not a decimal number are bad rows.  Rows go through store_ingest(), the
 * same counter logic as live readings.  A bad row is reported with its line
 * number and why (input escaped) and skipped; every other row is still
 * imported.  Rows identical to stored readings are skipped and counted, so an
 * import can be run again (after being killed half-way, say) and changes
 * nothing; a row at a stored reading's time with another value is counted
 * as a conflict (ingest.conflicts).
 *
 * Export: header "channel,dwelling,quantity,period_start,value,unit", one
 * row per channel and period; the value is the consumption of the period
 * for counters and the mean for gauges; period_start is local ISO 8601 with
 * its offset.
 */
struct import_result {
    uint64_t rows;            /* data rows read */
    uint64_t bad_rows;        /* reported and skipped */
    uint64_t unknown_channel; /* among bad_rows: channel not in the config */
    struct ingest_stats ingest;
};

/* Import from `in` (named `name` in messages).  Bad rows are reported on
 * `err` as "NAME:LINE: message" (the first 50, then a count).  Progress goes
 * to `progress` when not NULL.  Returns 0, or -errno when the file could not
 * be read or the database refused a batch (rows committed before stay). */
int csv_import(struct store *s, const struct foyer_config *cfg, FILE *in, const char *name,
               FILE *err, FILE *progress, struct import_result *ret);

struct export_opts {
    enum store_gran gran; /* STORE_HOUR, STORE_DAY or STORE_MONTH */
    int64_t from_s;       /* periods starting at or after; INT64_MIN: all */
    int64_t to_s;         /* periods starting before; INT64_MAX: all */
    const char *dwelling; /* only this dwelling's channels, or NULL */
    const char *building; /* only this building's channels (with its dwellings'), or NULL */
};

/* Write the CSV to out.  Hourly figures of dwellings without load-curve
 * consent are not exported (counted in *ret_skipped_channels).  Returns the
 * number of rows written, or -errno. */
int64_t csv_export(struct store *s, const struct foyer_config *cfg, const struct export_opts *o,
                   FILE *out, uint64_t *ret_skipped_channels);

#endif
