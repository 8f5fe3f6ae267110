/*
 * foyerctl.c - the operator's tool: status, import, export.
 *
 * Reads go through a read-only connection and can run next to foyerd.
 * Import opens its own write connection: SQLite serialises it with foyerd's
 * writer, and each notices the other's ingests (the ingest generation,
 * daemon/store/store.c) and reloads its counter state, so importing while foyerd
 * runs is safe.
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
#include "foyer/timeutil.h"

#define DEFAULT_CONFIG FOYER_SYSCONFDIR "/foyer.conf"

/* A channel of a plain [channel] section (imports only) has no expected
 * interval: it is reported stale after this long without a reading. */
#define CTL_PLAIN_STALE_S (2 * 86400)

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: foyerctl [--config FILE] COMMAND [ARGS]\n\n"
            "Commands:\n"
            "  status [--json]            every channel: last reading, its age, state\n"
            "  import FILE.csv            backfill readings (header channel,time,value)\n"
            "  export [OPTIONS]           consumption per period as CSV\n"
            "      --granularity hour|day|month   (default day)\n"
            "      --from DATE --to DATE  periods starting in [from, to), ISO 8601\n"
            "      --dwelling ID --building ID    only these channels\n"
            "      --output FILE          write to FILE instead of standard output\n"
            "  summary [OPTIONS]          one coaching summary, computed from the database\n"
            "      --dwelling ID --period 2026-W47|2026-11\n"
            "      --lang fr|en --format text|json   (default fr, text)\n"
            "  events [--since DATE] [--dwelling ID] [--json]\n"
            "                             resets, rollovers, dropped readings, meters offline,\n"
            "                             sensors stale (default: the last 30 days)\n"
            "  alerts [--building ID] [--dwelling ID] [--all] [--json]\n"
            "  alerts ack ID [--note TEXT] | alerts close ID\n"
            "                             alerts to act on (foyerctl alerts --help)\n\n"
            "Options:\n"
            "  -c, --config FILE   configuration file (default %s)\n"
            "  -V, --version       print the version\n"
            "  -h, --help          this help\n",
            DEFAULT_CONFIG);
}

static struct foyer_config *load_config(const char *path)
{
    struct conf_errors errs = {0};
    struct foyer_config *cfg = config_load(path, &errs);
    if (!cfg) {
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "%s\n", errs.msgs[i]);
        fprintf(stderr, "foyerctl: %zu errors in %s\n", errs.n, path);
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

/* The meters and sensors drivers reported on: state, since when, errors. */
struct devices_ctx {
    bool header; /* printed */
    int64_t now;
};

static int print_device(void *ctx, const struct device_health *h)
{
    struct devices_ctx *x = ctx;
    if (!x->header) {
        printf("\n%-16s %-7s %-8s %-25s %9s %8s %8s %6s %6s %6s %6s %9s\n", "DEVICE", "KIND",
               "STATE", "SINCE", "LAST OK", "POLLS", "TIMEOUTS", "CRC", "EXCEPT", "BAD", "OTHER",
               "RESPONSE");
        x->header = true;
    }
    char since[40], ok[24] = "never";
    tu_format_local(h->since_s, since, sizeof(since));
    if (h->last_success_s > 0)
        format_age(x->now - h->last_success_s, ok, sizeof(ok));
    printf("%-16s %-7s %-8s %-25s %9s %8lld %8lld %6lld %6lld %6lld %6lld %6.1f ms\n", h->device,
           h->kind, h->state, since, ok, (long long)h->polls, (long long)h->timeouts,
           (long long)h->crc_errors, (long long)h->exceptions, (long long)h->bad_values,
           (long long)h->other_errors, h->response_ms);
    return 0;
}

static void print_devices(struct store *s)
{
    struct devices_ctx x = {.now = tu_now_s()};
    (void)store_read_devices(s, print_device, &x);
}

static int cmd_status(const struct foyer_config *cfg, int argc, char **argv)
{
    bool json = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else {
            fprintf(stderr, "foyerctl status: unknown option \"%s\"\n", argv[i]);
            return 2;
        }
    }
    struct store *s = ctl_open_readonly(cfg, "status");
    if (!s)
        return 1;
    int64_t now = tu_now_s();
    json_t *arr = json ? json_array() : NULL;
    size_t counts[5] = {0};
    if (!json)
        printf("%-28s %-10s %-20s %-25s %14s %-5s %9s %s\n", "CHANNEL", "DWELLING", "QUANTITY",
               "LAST READING", "VALUE", "UNIT", "AGE", "STATE");
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
            snprintf(val, sizeof(val), "%.10g", st.last_v);
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
            json_object_set_new(o, "last_value", st.has_last ? json_real(st.last_v) : json_null());
            json_object_set_new(o, "age_s", st.has_last ? json_integer(st.age_s) : json_null());
            json_object_set_new(o, "state", json_string(st.state));
            json_array_append_new(arr, o);
        } else {
            printf("%-28s %-10s %-20s %-25s %14s %-5s %9s %s\n", c->id, dw ? dw : "-",
                   quantity_name(c->quantity), when, val, c->unit, age, st.state);
        }
    }
    if (json) {
        json_dumpf(arr, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(12));
        fputc('\n', stdout);
        json_decref(arr);
    } else {
        printf("%zu channels: %zu ok, %zu stale, %zu offline, %zu held, %zu never read\n",
               cfg->n_channels, counts[0], counts[1], counts[4], counts[2], counts[3]);
        print_devices(s);
    }
    store_close(s);
    return 0;
}

/* ---- import ------------------------------------------------------------ */

static int cmd_import(const struct foyer_config *cfg, int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "foyerctl import: expected one file (header channel,time,value)\n");
        return 2;
    }
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
    printf("import %s: %llu rows: %llu stored, %llu duplicates skipped, %llu bad rows "
           "(%llu unknown channels), %llu conflicts (a reading at the same channel and time "
           "with another value: the first kept), %llu refused as out of range or time; "
           "counters: %llu resets, %llu rollovers, %llu glitches and %llu spikes dropped, "
           "%llu late readings slotted in, %llu refused\n",
           path, (unsigned long long)res.rows, (unsigned long long)g->stored,
           (unsigned long long)g->duplicates, (unsigned long long)res.bad_rows,
           (unsigned long long)res.unknown_channel, (unsigned long long)g->conflicts,
           (unsigned long long)(g->out_of_range + g->bad_time), (unsigned long long)g->resets,
           (unsigned long long)g->rollovers, (unsigned long long)g->glitches,
           (unsigned long long)g->spikes, (unsigned long long)g->late,
           (unsigned long long)g->late_refused);
    if (g->clock_gaps)
        printf("import %s: %llu readings too far from the channel's other readings to spread "
               "(more than %d days): a new baseline, or refused when older (see foyerctl events)\n",
               path, (unsigned long long)g->clock_gaps, FOYER_SPREAD_HOURS_MAX / 24);
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

static int cmd_export(const struct foyer_config *cfg, int argc, char **argv)
{
    static const struct option opts[] = {{"granularity", required_argument, NULL, 'g'},
                                         {"from", required_argument, NULL, 'f'},
                                         {"to", required_argument, NULL, 't'},
                                         {"dwelling", required_argument, NULL, 'd'},
                                         {"building", required_argument, NULL, 'b'},
                                         {"output", required_argument, NULL, 'o'},
                                         {NULL, 0, NULL, 0}};
    struct export_opts o = {.gran = STORE_DAY, .from_s = INT64_MIN, .to_s = INT64_MAX};
    const char *output = NULL;
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "g:f:t:d:b:o:", opts, NULL)) != -1) {
        switch (c) {
        case 'g':
            if (strcmp(optarg, "hour") == 0)
                o.gran = STORE_HOUR;
            else if (strcmp(optarg, "day") == 0)
                o.gran = STORE_DAY;
            else if (strcmp(optarg, "month") == 0)
                o.gran = STORE_MONTH;
            else {
                fprintf(stderr, "foyerctl export: --granularity \"%s\": hour, day or month\n",
                        optarg);
                return 2;
            }
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
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "foyerctl export: unexpected argument \"%s\"\n", argv[optind]);
        return 2;
    }
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
    int64_t rows = csv_export(s, cfg, &o, out, &skipped);
    int rc = 0;
    if (out != stdout && fclose(out) != 0)
        rows = -errno;
    if (rows < 0) {
        fprintf(stderr, "foyerctl export: failed: %s\n", strerror((int)-rows));
        rc = 1;
    } else {
        if (skipped)
            fprintf(stderr,
                    "foyerctl export: %llu channels of dwellings without load-curve "
                    "consent left out of the hourly export (RGPD)\n",
                    (unsigned long long)skipped);
        if (output)
            fprintf(stderr, "foyerctl export: %lld rows written to %s\n", (long long)rows, output);
    }
    store_close(s);
    return rc;
}

int main(int argc, char **argv)
{
    const char *path = DEFAULT_CONFIG;
    int i = 1;

    log_init("foyerctl");
    for (; i < argc && argv[i][0] == '-'; i++) {
        if ((strcmp(argv[i], "--config") == 0 || strcmp(argv[i], "-c") == 0) && i + 1 < argc) {
            path = argv[++i];
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
    static const struct {
        const char *name;
        int (*fn)(const struct foyer_config *, int, char **);
    } cmds[] = {{"status", cmd_status},   {"import", cmd_import}, {"export", cmd_export},
                {"summary", ctl_summary}, {"events", ctl_events}, {"alerts", ctl_alerts}};
    for (size_t k = 0; k < sizeof(cmds) / sizeof(cmds[0]); k++) {
        if (strcmp(argv[i], cmds[k].name) != 0)
            continue;
        /* Its usage needs no config. */
        for (int j = i + 1; cmds[k].fn == ctl_alerts && j < argc; j++)
            if (strcmp(argv[j], "--help") == 0 || strcmp(argv[j], "-h") == 0) {
                ctl_alerts_usage(stdout);
                return 0;
            }
        struct foyer_config *cfg = load_config(path);
        if (!cfg)
            return 1;
        int rc = cmds[k].fn(cfg, argc - i, argv + i);
        config_free(cfg);
        return rc;
    }
    fprintf(stderr, "foyerctl: unknown command \"%s\"\n", argv[i]);
    usage(stderr);
    return 2;
}
