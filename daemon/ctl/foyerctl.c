/*
 * foyerctl.c - the operator's tool: status, import, export, and the table of
 * every command (summary and events live in their own files).
 *
 * Reads go through a read-only connection and can run next to foyerd.
 * Import opens its own write connection: SQLite serialises it with foyerd's
 * writer, and each notices the other's ingests (the ingest generation,
 * daemon/store/store.c) and reloads its counter state, so importing while foyerd
 * runs is safe.
 *
 * ADDING A COMMAND (or a sub-command's help).  A command is one struct
 * ctl_command (include/foyer/ctl.h): its name, its ONE usage text and its
 * run function.  The usage text is all the help there is:
 *   - `foyerctl NAME --help` (or -h, anywhere in its arguments) prints it on
 *     stdout and exits 0; main() does it before loading the config, so help
 *     works without one.  A command with sub-commands (`token add`) lists
 *     them in its usage: `foyerctl token add --help` prints the same text.
 *   - a usage error ends with it: call ctl_usage_error(cmd, "...") or, for
 *     getopt_long() ('?' or ':', with opterr = 0 and an optstring starting
 *     with ':'), ctl_getopt_error(cmd, c, argv); both return 2.
 *   - `foyerctl --help` lists its first line (the synopsis).
 *   - tests/integration/foyerctl_help.sh diffs it with
 *     tests/integration/help/NAME.txt (a new command fails the test until
 *     its golden file is added) and checks that every option it names is in
 *     docs/man/foyerctl.8.
 * So: write `int run(const struct ctl_command *cmd, cfg, argc, argv)` and
 * `const struct ctl_command ctl_NAME_command = {"NAME", "Usage: ...", run}`
 * (in daemon/ctl/ctl_NAME.c, declared in ctl.h), add it to ctl_commands[]
 * below, add the golden help file, the man page entry, and the word to
 * contrib/foyerctl.bash.
 *
 * Numbers are written through include/foyer/units.h (one precision per
 * unit, the same in status, events, export and summaries); tables pad by
 * display columns, not bytes (units_print_padded()), and fit 80 columns
 * (status --wide gives every column).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "foyer/coach.h"
#include "foyer/config.h"
#include "foyer/counter.h"
#include "foyer/ctl.h"
#include "foyer/log.h"
#include "foyer/store.h"
#include "foyer/store_access.h"
#include "foyer/store_consent.h"
#include "foyer/store_uplink.h"
#include "foyer/timeutil.h"
#include "foyer/units.h"

#define DEFAULT_CONFIG FOYER_SYSCONFDIR "/foyer.conf"

/* A channel of a plain [channel] section (imports only) has no expected
 * interval: it is reported stale after this long without a reading. */
#define CTL_PLAIN_STALE_S (2 * 86400)

static const struct ctl_command ctl_status_command, ctl_import_command, ctl_export_command;

/* Every command, in the order `foyerctl --help` lists them. */
static const struct ctl_command *const ctl_commands[] = {
    &ctl_status_command,  &ctl_events_command, &ctl_import_command, &ctl_export_command,
    &ctl_summary_command, &ctl_alerts_command, &ctl_token_command,  &ctl_tenancy_command,
    &ctl_consent_command, &ctl_access_command, &ctl_erase_command,
};
#define CTL_N_COMMANDS (sizeof(ctl_commands) / sizeof(ctl_commands[0]))

/* A command's synopsis: its usage up to the first empty line, without
 * "Usage: foyerctl [--config FILE] " (continuation lines re-indented). */
static void print_synopsis(FILE *out, const struct ctl_command *c)
{
    static const char prefix[] = "Usage: foyerctl [--config FILE] ";
    const size_t plen = sizeof(prefix) - 1;
    const char *u = c->usage;
    if (strncmp(u, prefix, plen) == 0)
        u += plen;
    for (bool first = true; *u && *u != '\n'; first = false) {
        size_t n = strcspn(u, "\n");
        const char *line = u;
        if (!first) /* continuation: aligned under the prefix; align under the name */
            while (line < u + n && *line == ' ')
                line++;
        fprintf(out, "  %s%.*s\n", first ? "" : "      ", (int)(n - (size_t)(line - u)), line);
        u += n + (u[n] == '\n');
    }
}

static void usage(FILE *out)
{
    fprintf(out, "Usage: foyerctl [--config FILE] COMMAND [ARGS]\n\nCommands:\n");
    for (size_t k = 0; k < CTL_N_COMMANDS; k++)
        print_synopsis(out, ctl_commands[k]);
    fprintf(out,
            "\n"
            "Options:\n"
            "  -c, --config FILE   configuration file (default: the FOYER_CONFIG\n"
            "                      environment variable, else %s)\n"
            "  -V, --version       print the version\n"
            "  -h, --help          this help (COMMAND --help: the command's)\n",
            DEFAULT_CONFIG);
}

/* Where the config path came from, for the hint when it cannot be read. */
enum config_from { CONFIG_DEFAULT, CONFIG_ENV, CONFIG_OPTION };

static struct foyer_config *load_config(const char *path, enum config_from from)
{
    if (access(path, R_OK) < 0) {
        fprintf(stderr, "foyerctl: %s: cannot open: %s\n", path, strerror(errno));
        if (from == CONFIG_DEFAULT)
            fprintf(stderr, "foyerctl: give the configuration with --config FILE or the "
                            "FOYER_CONFIG environment variable\n");
        else if (from == CONFIG_ENV)
            fprintf(stderr, "foyerctl: (the FOYER_CONFIG environment variable names it; "
                            "--config FILE gives another)\n");
        return NULL;
    }
    struct conf_errors errs = {0};
    struct foyer_config *cfg = config_load(path, &errs);
    if (!cfg) {
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "%s\n", errs.msgs[i]);
        fprintf(stderr, "foyerctl: %zu %s in %s\n", errs.n, units_plural(errs.n, "error", "errors"),
                path);
        conf_errors_free(&errs);
        return NULL;
    }
    if (tu_set_zone(cfg->timezone) < 0) {
        fprintf(stderr, "foyerctl: %s: unknown time zone \"%s\"\n", path, cfg->timezone);
        config_free(cfg);
        return NULL;
    }
    return cfg;
}

/* ---- status ------------------------------------------------------------ */

struct chan_status {
    bool has_last;
    int64_t last_ts;
    double last_v;
    bool held;
    const char *state;
    int64_t age_s;
};

static int64_t expected_interval(const struct foyer_config *cfg, const struct channel *c,
                                 int64_t *ret_stale_after_s)
{
    if (c->meter >= 0) {
        const struct meter *m = &cfg->meters[c->meter];
        *ret_stale_after_s = (int64_t)m->interval_s * cfg->buses[m->bus].offline_after;
        return m->interval_s;
    }
    if (c->sensor >= 0) {
        const struct sensor *se = &cfg->sensors[c->sensor];
        *ret_stale_after_s = (int64_t)se->interval_s * se->stale_after;
        return se->interval_s;
    }
    *ret_stale_after_s = CTL_PLAIN_STALE_S;
    return 0;
}

/* State of the meter or sensor feeding a channel, as its driver last
 * reported it, or NULL. */
static const char *device_state(struct store *s, const struct foyer_config *cfg,
                                const struct channel *c, char *buf, size_t len)
{
    const char *name = c->meter >= 0    ? cfg->meters[c->meter].id
                       : c->sensor >= 0 ? cfg->sensors[c->sensor].id
                                        : NULL;
    if (!name || store_read_device_state(s, name, buf, len) < 0)
        return NULL;
    return buf;
}

static int channel_status(struct store *s, uint32_t ch, const struct foyer_config *cfg,
                          const struct channel *c, int64_t now, struct chan_status *ret)
{
    struct store_channel_status cs;
    int rc = store_read_channel_status(s, ch, &cs);
    if (rc < 0)
        return rc;
    memset(ret, 0, sizeof(*ret));
    ret->has_last = cs.has_last;
    ret->last_ts = cs.last_ts_s;
    ret->last_v = cs.last_value;
    ret->held = cs.held;
    int64_t stale_after;
    expected_interval(cfg, c, &stale_after);
    if (!ret->has_last) {
        ret->state = "never";
        return 0;
    }
    ret->age_s = now - ret->last_ts;
    if (ret->held)
        ret->state = "held";
    else if (ret->age_s > stale_after)
        ret->state = "stale";
    else
        ret->state = "ok";
    return 0;
}

static void format_age(int64_t s, char *buf, size_t len)
{
    if (s < 0)
        snprintf(buf, len, "in future");
    else if (s < 120)
        snprintf(buf, len, "%lld s", (long long)s);
    else if (s < 7200)
        snprintf(buf, len, "%lld min", (long long)(s / 60));
    else if (s < 172800)
        snprintf(buf, len, "%lld h", (long long)(s / 3600));
    else
        snprintf(buf, len, "%lld days", (long long)(s / 86400));
}

/* The device a channel's readings come from: its [meter] ID, or for a
 * sensor's channel (DEVICE.FIELD) the device part, which is the [sensor] ID
 * or, under a wildcard topic, the device the driver reports on.  Written
 * into buf; NULL for an import-only channel. */
static const char *channel_device(const struct foyer_config *cfg, const struct channel *c,
                                  char *buf, size_t len)
{
    if (c->meter >= 0)
        return cfg->meters[c->meter].id;
    if (c->sensor < 0)
        return NULL;
    const char *dot = strrchr(c->id, '.');
    if (!dot)
        return cfg->sensors[c->sensor].id;
    (void)snprintf(buf, len, "%.*s", (int)(dot - c->id), c->id);
    return buf;
}

/* Newest reading of any channel of device, 0 when none. */
static int64_t device_last_reading(struct store *s, const struct foyer_config *cfg,
                                   const char *device)
{
    int64_t last = 0;
    for (size_t i = 0; i < cfg->n_channels; i++) {
        char b[FOYER_CHANNEL_ID_MAX + 1];
        const char *d = channel_device(cfg, &cfg->channels[i], b, sizeof(b));
        struct store_channel_status cs;
        if (d && strcmp(d, device) == 0 && store_read_channel_status(s, (uint32_t)i, &cs) == 0 &&
            cs.has_last && cs.last_ts_s > last)
            last = cs.last_ts_s;
    }
    return last;
}

/* The meters and sensors: what their drivers last stored (foyerd stores
 * health every few seconds, so its counters may lag the readings by that),
 * and every configured device the drivers have not reported on yet. */
struct devices_ctx {
    struct store *s;
    const struct foyer_config *cfg;
    bool wide;
    bool header;   /* printed */
    size_t n;      /* devices listed */
    size_t n_seen; /* names in seen[] */
    char (*seen)[FOYER_CHANNEL_ID_MAX + 1];
    size_t cap_seen;
    int64_t now;
};

static void devices_header(struct devices_ctx *x)
{
    if (x->header)
        return;
    x->header = true;
    if (x->wide)
        printf("\n%-16s %-7s %-8s %-25s %9s %8s %8s %6s %6s %6s %6s %9s\n", "DEVICE", "KIND",
               "STATE", "SINCE", "LAST OK", "POLLS", "TIMEOUTS", "CRC", "EXCEPT", "BAD", "OTHER",
               "RESPONSE");
    else
        printf("\n%-20s %-7s %-8s %9s %9s %7s %9s\n", "DEVICE", "KIND", "STATE", "LAST OK", "POLLS",
               "ERRORS", "RESPONSE");
}

static int remember_device(struct devices_ctx *x, const char *device);

static int print_device(void *ctx, const struct device_health *h)
{
    struct devices_ctx *x = ctx;
    devices_header(x);
    if (remember_device(x, h->device) < 0)
        return -ENOMEM;
    x->n++;
    /* The readings may be newer than the stored health: the age shown is
     * that of the newest of the two. */
    int64_t last = device_last_reading(x->s, x->cfg, h->device);
    if (h->last_success_s > last)
        last = h->last_success_s;
    char since[40], ok[24] = "never", resp[24] = "-";
    tu_format_local(h->since_s, since, sizeof(since));
    if (last > 0)
        format_age(x->now - last, ok, sizeof(ok));
    if (h->response_ms > 0)
        snprintf(resp, sizeof(resp), "%.1f ms", h->response_ms);
    if (x->wide)
        printf("%-16s %-7s %-8s %-25s %9s %8llu %8llu %6llu %6llu %6llu %6llu %9s\n", h->device,
               h->kind, h->state, since, ok, (unsigned long long)h->polls,
               (unsigned long long)h->timeouts, (unsigned long long)h->crc_errors,
               (unsigned long long)h->exceptions, (unsigned long long)h->bad_values,
               (unsigned long long)h->other_errors, resp);
    else
        printf("%-20s %-7s %-8s %9s %9llu %7llu %9s\n", h->device, h->kind, h->state, ok,
               (unsigned long long)h->polls,
               (unsigned long long)(h->timeouts + h->crc_errors + h->exceptions + h->bad_values +
                                    h->other_errors),
               resp);
    return 0;
}

static bool device_seen(const struct devices_ctx *x, const char *device)
{
    for (size_t i = 0; i < x->n_seen; i++)
        if (strcmp(x->seen[i], device) == 0)
            return true;
    return false;
}

static int remember_device(struct devices_ctx *x, const char *device)
{
    if (x->n_seen == x->cap_seen) {
        size_t cap = x->cap_seen ? 2 * x->cap_seen : 16;
        void *p = realloc(x->seen, cap * sizeof(*x->seen));
        if (!p)
            return -ENOMEM;
        x->seen = p;
        x->cap_seen = cap;
    }
    (void)snprintf(x->seen[x->n_seen++], sizeof(x->seen[0]), "%s", device);
    return 0;
}

static void print_devices(struct store *s, const struct foyer_config *cfg, bool wide)
{
    struct devices_ctx x = {.s = s, .cfg = cfg, .wide = wide, .now = tu_now_s()};
    (void)store_read_devices(s, print_device, &x);
    size_t unreported = 0;
    for (size_t i = 0; i < cfg->n_channels; i++) {
        const struct channel *c = &cfg->channels[i];
        char b[FOYER_CHANNEL_ID_MAX + 1], ok[24] = "never";
        const char *d = channel_device(cfg, c, b, sizeof(b));
        if (!d || device_seen(&x, d) || remember_device(&x, d) < 0)
            continue;
        devices_header(&x);
        int64_t last = device_last_reading(s, cfg, d);
        if (last > 0)
            format_age(x.now - last, ok, sizeof(ok));
        const char *kind = c->meter >= 0 ? "meter" : "sensor";
        if (wide)
            printf("%-16s %-7s %-8s %-25s %9s %8s %8s %6s %6s %6s %6s %9s\n", d, kind, "-", "-", ok,
                   "-", "-", "-", "-", "-", "-", "-");
        else
            printf("%-20s %-7s %-8s %9s %9s %7s %9s\n", d, kind, "-", ok, "-", "-", "-");
        x.n++;
        unreported++;
    }
    if (unreported)
        printf("%zu %s not reported on by a driver yet (LAST OK from the readings)\n", unreported,
               units_plural(unreported, "device", "devices"));
    free(x.seen);
}

/* One line for the fleet uplink: the outbox's depth and oldest item. */
static int print_uplink(struct store *s, const struct foyer_config *cfg, int64_t now)
{
    int64_t items = 0, oldest = 0;
    int rc = store_uplink_read_depth(s, &items, &oldest);
    if (rc < 0)
        return rc;
    char age[24] = "-";
    if (items > 0)
        format_age(now - oldest > 0 ? now - oldest : 0, age, sizeof(age));
    printf("uplink %s to %s:%d: %lld %s waiting for the collector's ack, oldest %s\n",
           cfg->uplink.gateway_id, cfg->uplink.host, cfg->uplink.port, (long long)items,
           units_plural((size_t)items, "item", "items"), age);
    return 0;
}

static const char ctl_status_usage[] =
    "Usage: foyerctl [--config FILE] status [--wide] [--json]\n"
    "\n"
    "Every channel: its last reading, the reading's age and a state (ok, stale,\n"
    "offline, held, never); then every meter and sensor: its driver's state,\n"
    "its last good poll or message, its polls and errors.  Values are shown at\n"
    "their unit's precision.  With [uplink], a last line gives the uplink\n"
    "outbox's depth and the age of its oldest item.\n"
    "\n"
    "Options:\n"
    "  -w, --wide   every column: quantity, time of the last reading, the\n"
    "               device's state since and its errors by kind (wider than 80\n"
    "               columns)\n"
    "  --json       the channels as a JSON array\n"
    "  -h, --help   this help\n";

static int cmd_status(const struct ctl_command *cmd, const struct foyer_config *cfg, int argc,
                      char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'}, {"wide", no_argument, NULL, 'w'}, {NULL, 0, NULL, 0}};
    bool json = false, wide = false;
    int opt;

    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":w", opts, NULL)) != -1) {
        switch (opt) {
        case 'j':
            json = true;
            break;
        case 'w':
            wide = true;
            break;
        default:
            return ctl_getopt_error(cmd, opt, argv);
        }
    }
    if (optind < argc)
        return ctl_usage_error(cmd, "unexpected argument \"%s\"", argv[optind]);
    struct store *s = ctl_open_readonly(cfg, "status");
    if (!s)
        return 1;
    int64_t now = tu_now_s();
    json_t *arr = json ? json_array() : NULL;
    size_t counts[5] = {0};
    if (!json && wide)
        printf("%-28s %-10s %-20s %-25s %14s %-5s %9s %s\n", "CHANNEL", "DWELLING", "QUANTITY",
               "LAST READING", "VALUE", "UNIT", "AGE", "STATE");
    else if (!json)
        printf("%-26s %-8s %14s %-5s %9s %s\n", "CHANNEL", "DWELLING", "VALUE", "UNIT", "AGE",
               "STATE");
    for (size_t i = 0; i < cfg->n_channels; i++) {
        const struct channel *c = &cfg->channels[i];
        struct chan_status st;
        if (channel_status(s, (uint32_t)i, cfg, c, now, &st) < 0) {
            fprintf(stderr, "foyerctl: %s: %s\n", cfg->database, store_errmsg(s));
            json_decref(arr);
            store_close(s);
            return 1;
        }
        char devbuf[16];
        const char *ds = device_state(s, cfg, c, devbuf, sizeof(devbuf));
        if (ds && (strcmp(ds, "offline") == 0 || strcmp(ds, "stale") == 0))
            st.state = ds; /* the driver knows better than the age */
        const char *dw = c->dwelling >= 0 ? cfg->dwellings[c->dwelling].id : NULL;
        char when[40] = "-", age[24] = "-", val[32] = "-";
        if (st.has_last) {
            tu_format_local(st.last_ts, when, sizeof(when));
            format_age(st.age_s, age, sizeof(age));
            units_format_column(c->unit, st.last_v, val, sizeof(val));
        }
        static const char *const states[] = {"ok", "stale", "held", "never", "offline"};
        for (size_t k = 0; k < 5; k++)
            if (strcmp(st.state, states[k]) == 0)
                counts[k]++;
        if (json) {
            json_t *o = json_object();
            json_object_set_new(o, "channel", json_string(c->id));
            json_object_set_new(o, "dwelling", dw ? json_string(dw) : json_null());
            json_object_set_new(o, "building",
                                c->building >= 0 ? json_string(cfg->buildings[c->building].id)
                                                 : json_null());
            json_object_set_new(o, "quantity", json_string(quantity_name(c->quantity)));
            json_object_set_new(o, "kind", json_string(kind_name(c->kind)));
            json_object_set_new(o, "unit", json_string(c->unit));
            json_object_set_new(o, "last_time", st.has_last ? json_string(when) : json_null());
            /* The value as shown, so JSON and text agree to the digit. */
            json_object_set_new(o, "last_value",
                                st.has_last ? json_real(strtod(val, NULL)) : json_null());
            json_object_set_new(o, "age_s", st.has_last ? json_integer(st.age_s) : json_null());
            json_object_set_new(o, "state", json_string(st.state));
            json_array_append_new(arr, o);
        } else if (wide) {
            printf("%-28s %-10s %-20s %-25s %14s ", c->id, dw ? dw : "-",
                   quantity_name(c->quantity), when, val);
            units_print_padded(stdout, c->unit, 5);
            printf(" %9s %s\n", age, st.state);
        } else {
            printf("%-26s %-8s %14s ", c->id, dw ? dw : "-", val);
            units_print_padded(stdout, c->unit, 5);
            printf(" %9s %s\n", age, st.state);
        }
    }
    if (json) {
        json_dumpf(arr, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
        fputc('\n', stdout);
        json_decref(arr);
    } else {
        printf("%zu %s: %zu ok, %zu stale, %zu offline, %zu held, %zu never read\n",
               cfg->n_channels, units_plural(cfg->n_channels, "channel", "channels"), counts[0],
               counts[1], counts[4], counts[2], counts[3]);
        print_devices(s, cfg, wide);
        if (cfg->uplink.enabled && print_uplink(s, cfg, now) < 0) {
            fprintf(stderr, "foyerctl: %s: %s\n", cfg->database, store_errmsg(s));
            store_close(s);
            return 1;
        }
    }
    store_close(s);
    return 0;
}

/* ---- import ------------------------------------------------------------ */

static const char ctl_import_usage[] =
    "Usage: foyerctl [--config FILE] import FILE.csv\n"
    "\n"
    "Backfill readings from CSV (header channel,time,value; - reads standard\n"
    "input): ISO 8601 times with an offset or Z, one reading per row, rows in\n"
    "any order.  The rows go through the same counter logic as live readings.\n"
    "A bad row is reported by line and skipped; a row identical to a stored\n"
    "reading is skipped and counted, so an import can be run again.\n"
    "\n"
    "Options:\n"
    "  -h, --help   this help\n";

/* "N thing" or "N things", then sep. */
static void put_count(FILE *out, unsigned long long n, const char *one, const char *many,
                      const char *sep)
{
    fprintf(out, "%llu %s%s", n, units_plural(n, one, many), sep);
}

static int cmd_import(const struct ctl_command *cmd, const struct foyer_config *cfg, int argc,
                      char **argv)
{
    if (argc > 1 && argv[1][0] == '-' && argv[1][1] != '\0')
        return ctl_usage_error(cmd, "unknown option \"%s\"", argv[1]);
    if (argc != 2)
        return ctl_usage_error(cmd, "expected one file (header channel,time,value)");
    const char *path = argv[1];
    FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
    if (!in) {
        fprintf(stderr, "foyerctl import: %s: %s\n", path, strerror(errno));
        return 1;
    }
    struct store *s;
    const char *msg;
    int rc = store_open(cfg->database, cfg, &s, &msg);
    if (rc < 0) {
        fprintf(stderr, "foyerctl import: %s: %s\n", cfg->database, msg ? msg : strerror(-rc));
        if (in != stdin)
            fclose(in);
        return 1;
    }
    struct import_result res;
    FILE *progress = isatty(STDERR_FILENO) ? stderr : NULL;
    rc = csv_import(s, cfg, in, path, stderr, progress, &res);
    if (in != stdin)
        fclose(in);
    const struct ingest_stats *g = &res.ingest;
    /* Every row is in one count: stored, duplicate, bad, conflict, refused
     * (or dropped by the counter logic, with its event). */
    /* Every row is in one count: stored, duplicate, bad, conflict, refused
     * (or dropped by the counter logic, with its event). */
    printf("import %s: ", path);
    put_count(stdout, res.rows, "row", "rows", ": ");
    put_count(stdout, g->stored, "stored", "stored", ", ");
    put_count(stdout, g->duplicates, "duplicate skipped", "duplicates skipped", ", ");
    put_count(stdout, res.bad_rows, "bad row", "bad rows", " (");
    put_count(stdout, res.unknown_channel, "unknown channel", "unknown channels", "), ");
    put_count(stdout, g->conflicts, "conflict", "conflicts",
              " (a reading at the same channel and time with another value: the first kept), ");
    printf("%llu refused as out of range or time; counters: ",
           (unsigned long long)(g->out_of_range + g->bad_time));
    put_count(stdout, g->resets, "reset", "resets", ", ");
    put_count(stdout, g->rollovers, "rollover", "rollovers", ", ");
    put_count(stdout, g->glitches, "glitch", "glitches", " and ");
    put_count(stdout, g->spikes, "spike", "spikes", " dropped, ");
    put_count(stdout, g->late, "late reading", "late readings", " slotted in, ");
    printf("%llu refused\n", (unsigned long long)g->late_refused);
    if (g->clock_gaps)
        printf("import %s: %llu %s too far from the channel's other readings to spread "
               "(more than %d days): a new baseline, or refused when older (see foyerctl events)\n",
               path, (unsigned long long)g->clock_gaps,
               units_plural(g->clock_gaps, "reading", "readings"), FOYER_SPREAD_HOURS_MAX / 24);
    if (rc == -EINVAL)
        fprintf(stderr, "foyerctl import: %s: stopped, see above\n", path);
    else if (rc == -EIO)
        fprintf(stderr, "foyerctl import: %s: stopped: cannot read the file (%s)\n", path,
                strerror(EIO));
    else if (rc < 0)
        fprintf(stderr,
                "foyerctl import: %s: stopped: the database refused a batch: %s (%s); rows "
                "committed so far are kept, run the import again to finish\n",
                path, strerror(-rc), store_errmsg(s));
    store_close(s);
    if (rc < 0)
        return 1;
    /* A row not taken is a failure; a duplicate is not (imports repeat). */
    return res.bad_rows || g->conflicts || g->out_of_range || g->bad_time ? 1 : 0;
}

/* ---- export ------------------------------------------------------------ */

static int parse_when(const char *opt, const char *arg, int64_t *ret)
{
    if (tu_parse_iso(arg, ret) < 0) {
        fprintf(stderr,
                "foyerctl export: %s \"%s\": expected a date (2026-01-31) or an ISO 8601 "
                "time\n",
                opt, arg);
        return -EINVAL;
    }
    return 0;
}

static const char ctl_export_usage[] =
    "Usage: foyerctl [--config FILE] export [--granularity hour|day|month]\n"
    "                [--from DATE] [--to DATE] [--dwelling ID] [--building ID]\n"
    "                [--output FILE]\n"
    "       foyerctl [--config FILE] export --dwelling ID --all-data\n"
    "                [--format csv|json] [--from DATE] [--to DATE] [--output FILE]\n"
    "\n"
    "Consumption per period as CSV (header channel,dwelling,quantity,\n"
    "period_start,value,unit): the consumption of the period for counters, the\n"
    "mean for gauges, at the unit's precision; period_start is local time with\n"
    "its offset.  Hourly figures of dwellings without load-curve consent are\n"
    "never exported.\n"
    "\n"
    "With --all-data: everything held about the household of one dwelling, to\n"
    "answer its request of access or portability: its tenancies, consents,\n"
    "daily and monthly figures, summaries, tip answers, reports, alerts,\n"
    "tenant tokens (never their secrets) and who read its data; hourly\n"
    "figures and raw readings only with its load-curve consent.  JSON or CSV\n"
    "with one block per section (docs/api.md, \"Household export\").\n"
    "Every export is recorded in the access log.\n"
    "\n"
    "Options:\n"
    "  -g, --granularity hour|day|month   (default day)\n"
    "  -f, --from DATE      periods starting at or after DATE (2026-01-31 or an\n"
    "                       ISO 8601 time)\n"
    "  -t, --to DATE        periods starting before DATE\n"
    "  -d, --dwelling ID    only this dwelling's channels\n"
    "  -b, --building ID    only this building's channels (its dwellings' too)\n"
    "  -a, --all-data       everything held about the dwelling's household\n"
    "  -F, --format csv|json   with --all-data (default json)\n"
    "  -o, --output FILE    write to FILE instead of standard output\n"
    "  -h, --help           this help\n";

/* store_export_csv()'s writer: a row to the output file. */
static int export_write(void *ctx, const char *data, size_t len)
{
    return fwrite(data, 1, len, ctx) == len ? 0 : -EIO;
}

/* The operator's read of dwelling ("*": every one) through the export
 * head with eo's span, in the access log (store_access.h) before anything
 * is read: 0, or -errno after saying on stderr that nothing is exported. */
static int export_log_access(const struct foyer_config *cfg, const char *head,
                             const struct store_export_opts *eo, const char *dwelling)
{
    char who[256], what[512], from[40] = "-", to[40] = "-";
    if (eo->from_s != INT64_MIN)
        tu_format_local(eo->from_s, from, sizeof(from));
    if (eo->to_s != INT64_MAX)
        tu_format_local(eo->to_s, to, sizeof(to));
    (void)snprintf(what, sizeof(what), "%s from=%s to=%s", head, from, to);
    struct store_access acc = {.ts_s = tu_now_s(),
                               .who = ctl_who_am_i(who, sizeof(who)),
                               .role = "local",
                               .what = what,
                               .dwelling = dwelling,
                               .origin = "foyerctl"};
    const char *msg = NULL;
    int rc = store_access_append(cfg->database, &acc, &msg);
    if (rc < 0)
        fprintf(stderr, "foyerctl export: %s: %s: nothing exported\n", cfg->database,
                msg ? msg : strerror(-rc));
    return rc;
}

/* foyerctl export --all-data: everything held about one household
 * (store_portab_write()), hourly data only with its load-curve consent,
 * as `foyerctl export` gives it. */
static int export_all_data(const struct foyer_config *cfg, const struct store_export_opts *eo,
                           const char *format, const char *output)
{
    bool json = !format || strcmp(format, "json") == 0;
    int64_t now_s = tu_now_s();
    /* In the access log before anything is read, or not at all. */
    if (export_log_access(cfg,
                          json ? "foyerctl export --all-data format=json"
                               : "foyerctl export --all-data format=csv",
                          eo, eo->dwelling) < 0)
        return 1;
    struct store *s = ctl_open_readonly(cfg, "export");
    if (!s)
        return 1;
    uint32_t d = (uint32_t)config_find_dwelling(cfg, eo->dwelling);
    struct store_consent lc;
    int rc = store_consent_get(s, cfg, d, STORE_PURPOSE_LOAD_CURVE, now_s, &lc);
    if (rc < 0) {
        fprintf(stderr, "foyerctl export: %s: load-curve consent of dwelling %s: %s\n",
                cfg->database, eo->dwelling, store_errmsg(s));
        store_close(s);
        return 1;
    }
    struct store_portab_opts po = {.dwelling = d,
                                   .from_s = eo->from_s,
                                   .to_s = eo->to_s,
                                   .load_curve = lc.given,
                                   .format = json ? STORE_PORTAB_JSON : STORE_PORTAB_CSV,
                                   .now_s = now_s};
    FILE *out = stdout;
    if (output && !(out = fopen(output, "we"))) {
        fprintf(stderr, "foyerctl export: %s: %s\n", output, strerror(errno));
        store_close(s);
        return 1;
    }
    int64_t rows = store_portab_write(s, cfg, &po, export_write, out);
    if (rows >= 0 && ferror(out))
        rows = -EIO;
    if (out != stdout && fclose(out) != 0 && rows >= 0)
        rows = -errno;
    rc = 0;
    if (rows < 0) {
        fprintf(stderr, "foyerctl export: dwelling %s: failed: %s\n", eo->dwelling,
                strerror((int)-rows));
        rc = 1;
    } else {
        if (!lc.given)
            fprintf(stderr,
                    "foyerctl export: dwelling %s has not consented to load curves: hourly "
                    "figures and raw readings left out (RGPD)\n",
                    eo->dwelling);
        if (output)
            fprintf(stderr, "foyerctl export: %lld %s of dwelling %s written to %s\n",
                    (long long)rows, units_plural((unsigned long long)rows, "row", "rows"),
                    eo->dwelling, output);
    }
    store_close(s);
    return rc;
}

static int cmd_export(const struct ctl_command *cmd, const struct foyer_config *cfg, int argc,
                      char **argv)
{
    static const struct option opts[] = {{"granularity", required_argument, NULL, 'g'},
                                         {"from", required_argument, NULL, 'f'},
                                         {"to", required_argument, NULL, 't'},
                                         {"dwelling", required_argument, NULL, 'd'},
                                         {"building", required_argument, NULL, 'b'},
                                         {"output", required_argument, NULL, 'o'},
                                         {"all-data", no_argument, NULL, 'a'},
                                         {"format", required_argument, NULL, 'F'},
                                         {NULL, 0, NULL, 0}};
    struct store_export_opts o = {.gran = STORE_DAY, .from_s = INT64_MIN, .to_s = INT64_MAX};
    const char *output = NULL, *format = NULL;
    bool all_data = false, gran_given = false;
    int c;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":g:f:t:d:b:o:aF:", opts, NULL)) != -1) {
        switch (c) {
        case 'a':
            all_data = true;
            break;
        case 'F':
            if (strcmp(optarg, "csv") != 0 && strcmp(optarg, "json") != 0)
                return ctl_usage_error(cmd, "--format \"%s\": csv or json", optarg);
            format = optarg;
            break;
        case 'g':
            gran_given = true;
            if (strcmp(optarg, "hour") == 0)
                o.gran = STORE_HOUR;
            else if (strcmp(optarg, "day") == 0)
                o.gran = STORE_DAY;
            else if (strcmp(optarg, "month") == 0)
                o.gran = STORE_MONTH;
            else
                return ctl_usage_error(cmd, "--granularity \"%s\": hour, day or month", optarg);
            break;
        case 'f':
            if (parse_when("--from", optarg, &o.from_s) < 0)
                return 2;
            break;
        case 't':
            if (parse_when("--to", optarg, &o.to_s) < 0)
                return 2;
            break;
        case 'd':
            if (config_find_dwelling(cfg, optarg) < 0) {
                fprintf(stderr, "foyerctl export: unknown dwelling \"%s\"\n", optarg);
                return 2;
            }
            o.dwelling = optarg;
            break;
        case 'b':
            if (config_find_building(cfg, optarg) < 0) {
                fprintf(stderr, "foyerctl export: unknown building \"%s\"\n", optarg);
                return 2;
            }
            o.building = optarg;
            break;
        case 'o':
            output = optarg;
            break;
        default:
            return ctl_getopt_error(cmd, c, argv);
        }
    }
    if (optind < argc)
        return ctl_usage_error(cmd, "unexpected argument \"%s\"", argv[optind]);
    if (all_data) {
        if (!o.dwelling)
            return ctl_usage_error(cmd, "--all-data: give the household's --dwelling ID");
        if (o.building || gran_given)
            return ctl_usage_error(cmd, "--all-data: every granularity of one dwelling; "
                                        "--building and --granularity do not apply");
        return export_all_data(cfg, &o, format, output);
    }
    if (format)
        return ctl_usage_error(cmd, "--format: only with --all-data (the export is CSV)");
    /* A read of households' data by the operator: in the access log
     * (store_access.h) before anything is read, or not at all. */
    static const char *const gran_names[] = {
        [STORE_HOUR] = "hour", [STORE_DAY] = "day", [STORE_MONTH] = "month"};
    char head[256];
    (void)snprintf(head, sizeof(head), "foyerctl export granularity=%s building=%s",
                   gran_names[o.gran], o.building ? o.building : "*");
    if (export_log_access(cfg, head, &o, o.dwelling ? o.dwelling : "*") < 0)
        return 1;
    struct store *s = ctl_open_readonly(cfg, "export");
    if (!s)
        return 1;
    FILE *out = stdout;
    if (output && !(out = fopen(output, "we"))) {
        fprintf(stderr, "foyerctl export: %s: %s\n", output, strerror(errno));
        store_close(s);
        return 1;
    }
    uint64_t skipped = 0;
    int64_t rows = store_export_csv(s, cfg, &o, export_write, out, &skipped);
    if (rows >= 0 && ferror(out))
        rows = -EIO;
    int rc = 0;
    if (out != stdout && fclose(out) != 0)
        rows = -errno;
    if (rows < 0) {
        fprintf(stderr, "foyerctl export: failed: %s\n", strerror((int)-rows));
        rc = 1;
    } else {
        if (skipped)
            fprintf(stderr,
                    "foyerctl export: %llu %s of dwellings without load-curve "
                    "consent left out of the hourly export (RGPD)\n",
                    (unsigned long long)skipped, units_plural(skipped, "channel", "channels"));
        if (output)
            fprintf(stderr, "foyerctl export: %lld %s written to %s\n", (long long)rows,
                    units_plural((unsigned long long)rows, "row", "rows"), output);
    }
    store_close(s);
    return rc;
}

static const struct ctl_command ctl_status_command = {"status", ctl_status_usage, cmd_status};
static const struct ctl_command ctl_import_command = {"import", ctl_import_usage, cmd_import};
static const struct ctl_command ctl_export_command = {"export", ctl_export_usage, cmd_export};

/* Whether the command's arguments ask for its help (before a "--"). */
static bool wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    return false;
}

int main(int argc, char **argv)
{
    const char *path = getenv("FOYER_CONFIG");
    enum config_from from = CONFIG_ENV;
    int i = 1;

    if (!path || !path[0]) {
        path = DEFAULT_CONFIG;
        from = CONFIG_DEFAULT;
    }
    log_init("foyerctl");
    for (; i < argc && argv[i][0] == '-'; i++) {
        if ((strcmp(argv[i], "--config") == 0 || strcmp(argv[i], "-c") == 0) && i + 1 < argc) {
            path = argv[++i];
            from = CONFIG_OPTION;
        } else if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-V") == 0) {
            printf("foyerctl %s\n", FOYER_VERSION);
            return 0;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "foyerctl: unknown option \"%s\"\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    for (size_t k = 0; k < CTL_N_COMMANDS; k++) {
        const struct ctl_command *cmd = ctl_commands[k];
        if (strcmp(argv[i], cmd->name) != 0)
            continue;
        if (wants_help(argc - i, argv + i)) {
            fputs(cmd->usage, stdout);
            return 0;
        }
        struct foyer_config *cfg = load_config(path, from);
        if (!cfg)
            return 1;
        int rc = cmd->run(cmd, cfg, argc - i, argv + i);
        config_free(cfg);
        return rc;
    }
    fprintf(stderr, "foyerctl: unknown command \"%s\"\n", argv[i]);
    usage(stderr);
    return 2;
}
