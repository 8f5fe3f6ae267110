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

/* A foyerctl command (the pattern is described at the top of
 * daemon/ctl/foyerctl.c).  `usage` is the command's one help text: printed
 * on stdout for `foyerctl NAME --help` (main() does it, before loading the
 * config), on stderr after a usage error, its first line listed by
 * `foyerctl --help`, and diffed with tests/integration/help/NAME.txt. */
struct ctl_command {
    const char *name;  /* "events" */
    const char *usage; /* "Usage: foyerctl [--config FILE] events ...\n\n...": first line the
                          synopsis, then what it does and every option */
    /* argv[0] is the command name; returns the exit status */
    int (*run)(const struct ctl_command *cmd, const struct foyer_config *cfg, int argc,
               char **argv);
};

/* Say "foyerctl NAME: MESSAGE" then the command's usage on stderr; returns 2
 * (the exit status of bad usage). */
int ctl_usage_error(const struct ctl_command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The usage error for what getopt_long() returned as c ('?' unknown
 * option, ':' missing argument; call it with opterr = 0 and an optstring
 * starting with ':').  Returns 2. */
int ctl_getopt_error(const struct ctl_command *cmd, int c, char **argv);

/* Open the database read-only; on failure, or when cfg re-labels a channel
 * holding data (store_check_channels()), say why on stderr, naming the
 * command ("status"), and return NULL.  Caller closes with store_close(). */
struct store *ctl_open_readonly(const struct foyer_config *cfg, const char *cmd);

/* The user running foyerctl (its login name, else "uid N"), for who
 * changed or read something.  Returns buf. */
const char *ctl_who_am_i(char *buf, size_t len);

/* After argv[1] named no sub-command of cmd: say so (none given: `expected`,
 * as "start, end or list?"; an option; an unknown name) with the usage on
 * stderr.  Returns 2. */
int ctl_subcommand_error(const struct ctl_command *cmd, int argc, char **argv,
                         const char *expected);

/* The index of dwelling id in cfg, or -1 after saying
 * "foyerctl WHAT: unknown dwelling "ID"" on stderr (then exit 2). */
int32_t ctl_find_dwelling(const struct foyer_config *cfg, const char *what, const char *id);

struct json_t;

/* The end of a listing read from s (opened by ctl_open_readonly()) into arr
 * (--json, else NULL) that returned rc: on rc < 0 say
 * "foyerctl WHAT: DATABASE: why" on stderr; close s; print arr on stdout
 * with json_dumpf() flags (jansson's JSON_INDENT() ...) and a newline.
 * Takes arr (freed).  Returns the exit status: 0, or 1 when rc < 0. */
int ctl_list_finish(struct store *s, const struct foyer_config *cfg, const char *what, int rc,
                    struct json_t *arr, size_t flags);

/* foyerctl events (daemon/ctl/ctl_events.c) */
extern const struct ctl_command ctl_events_command;

/* foyerctl summary (daemon/ctl/ctl_summary.c) */
extern const struct ctl_command ctl_summary_command;

/* foyerctl alerts, alerts ack, alerts close (daemon/ctl/ctl_alerts.c) */
extern const struct ctl_command ctl_alerts_command;

/* foyerctl token create|list|revoke (daemon/ctl/ctl_token.c) */
extern const struct ctl_command ctl_token_command;

/* foyerctl tenancy (daemon/ctl/ctl_tenancy.c). */
extern const struct ctl_command ctl_tenancy_command;

/* foyerctl consent (daemon/ctl/ctl_consent.c). */
extern const struct ctl_command ctl_consent_command;

/* foyerctl access-log (daemon/ctl/ctl_access.c). */
extern const struct ctl_command ctl_access_command;

/* foyerctl erase (daemon/ctl/ctl_erase.c). */
extern const struct ctl_command ctl_erase_command;

/* ---- CSV import (daemon/ctl/ctl_import.c) --------------------------------
 * (The export, shared with the HTTP API, is the store's: store_export_csv().)
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

#endif
