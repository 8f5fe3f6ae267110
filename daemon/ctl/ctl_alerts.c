/*
 * ctl_alerts.c - `foyerctl alerts`: the alerts an ambassador can act on
 * (daemon/alerts/), listed, acknowledged and closed by hand.
 *
 * The listing reads through a read-only handle (store_read_alerts());
 * acknowledging and closing write through a store_alerts handle of their
 * own (include/foyer/store_alerts.h), next to a running foyerd: SQLite
 * serialises them with its writes.  Who acknowledged or closed is the
 * user running foyerctl.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "foyer/alerts.h"
#include "foyer/ctl.h"
#include "foyer/store_alerts.h"
#include "foyer/timeutil.h"
#include "foyer/units.h"

/* The one help text (include/foyer/ctl.h). */
static const char ctl_alerts_usage_text[] =
    "Usage: foyerctl [--config FILE] alerts [--building ID] [--dwelling ID] [--all]\n"
    "                [--json] [--lang fr|en]\n"
    "       foyerctl [--config FILE] alerts ack ID [--note TEXT]\n"
    "       foyerctl [--config FILE] alerts close ID\n"
    "\n"
    "Alerts an ambassador can act on: open and acknowledged ones, oldest first.\n"
    "\n"
    "Options:\n"
    "  -b, --building ID  only this building's\n"
    "  -d, --dwelling ID  only this dwelling's\n"
    "  -a, --all          closed ones too (the history)\n"
    "  -j, --json         a JSON array: id, kind, severity, building, dwelling,\n"
    "                     channel, state (open|acknowledged|closed), opened,\n"
    "                     acknowledged, closed, text\n"
    "  -l, --lang fr|en   the language of the text (default fr)\n"
    "  ack ID             acknowledge alert ID (you, now), with --note TEXT\n"
    "  close ID           close alert ID by hand\n"
    "  -h, --help         this help\n";

static void ctl_alerts_usage(FILE *out)
{
    fputs(ctl_alerts_usage_text, out);
}

static const char *const state_names[] = {"open", "acknowledged", "closed"};

static const char *state_name(enum store_alert_state s)
{
    return (unsigned)s < 3 ? state_names[s] : "?";
}

struct list_ctx {
    json_t *arr; /* --json: the array being built */
    bool en;     /* --lang en */
    size_t n;
};

static int list_one(void *ctx, const struct store_alert *al)
{
    struct list_ctx *x = ctx;
    const char *text = x->en ? al->text_en : al->text_fr;
    x->n++;
    if (x->arr) {
        json_t *o = alerts_json(al, al->state, x->en ? "en" : "fr");
        if (!o)
            return -ENOMEM;
        json_array_append_new(x->arr, o);
        return 0;
    }
    char opened[40];
    tu_format_local(al->opened_s, opened, sizeof(opened));
    opened[16] = '\0'; /* "2026-11-30T04:00" */
    printf("%-6" PRId64 " %-14s %-8s %-12s %-10s %-16s %s\n", al->id, al->kind, al->severity,
           state_name(al->state), al->dwelling ? al->dwelling : "-", opened, text ? text : "");
    if (al->ack_by)
        printf("       acknowledged by %s%s%s\n", al->ack_by, al->ack_note ? ": " : "",
               al->ack_note ? al->ack_note : "");
    return 0;
}

static int cmd_list(const struct foyer_config *cfg, int argc, char **argv)
{
    static const struct option opts[] = {{"building", required_argument, NULL, 'b'},
                                         {"dwelling", required_argument, NULL, 'd'},
                                         {"all", no_argument, NULL, 'a'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"lang", required_argument, NULL, 'l'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct store_alert_filter f = {0};
    bool json = false, en = false;
    int c;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":b:d:ajl:h", opts, NULL)) != -1) {
        switch (c) {
        case 'b':
            if (config_find_building(cfg, optarg) < 0) {
                fprintf(stderr, "foyerctl alerts: unknown building \"%s\"\n", optarg);
                return 2;
            }
            f.building = optarg;
            break;
        case 'd':
            if (ctl_find_dwelling(cfg, "alerts", optarg) < 0)
                return 2;
            f.dwelling = optarg;
            break;
        case 'a':
            f.all = true;
            break;
        case 'j':
            json = true;
            break;
        case 'l':
            if (strcmp(optarg, "fr") != 0 && strcmp(optarg, "en") != 0) {
                fprintf(stderr, "foyerctl alerts: --lang \"%s\": expected fr or en\n", optarg);
                return 2;
            }
            en = strcmp(optarg, "en") == 0;
            break;
        case 'h':
            ctl_alerts_usage(stdout);
            return 0;
        default:
            return ctl_getopt_error(&ctl_alerts_command, c, argv);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "foyerctl alerts: unexpected argument \"%s\"\n", argv[optind]);
        ctl_alerts_usage(stderr);
        return 2;
    }
    struct store *s = ctl_open_readonly(cfg, "alerts");
    if (!s)
        return 1;
    struct list_ctx x = {.arr = json ? json_array() : NULL, .en = en};
    if (!json)
        printf("%-6s %-14s %-8s %-12s %-10s %-16s %s\n", "ID", "KIND", "SEVERITY", "STATE",
               "DWELLING", "OPENED", "TEXT");
    int rc = store_read_alerts(s, &f, list_one, &x);
    if (ctl_list_finish(s, cfg, "alerts", rc, x.arr, JSON_INDENT(2) | JSON_REAL_PRECISION(12)) != 0)
        return 1;
    if (!json)
        printf("%zu %s%s\n", x.n, units_plural(x.n, "alert", "alerts"),
               f.all ? "" : " open or acknowledged");
    return 0;
}

/* foyerctl alerts ack ID [--note TEXT] | close ID */
static int cmd_change(const struct foyer_config *cfg, int argc, char **argv, bool ack)
{
    static const struct option opts[] = {{"note", required_argument, NULL, 'n'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *what = ack ? "ack" : "close";
    const char *note = NULL;
    int c;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ack ? ":n:h" : ":h", ack ? opts : opts + 1, NULL)) != -1) {
        if (c == 'n') {
            note = optarg;
        } else if (c == 'h') {
            ctl_alerts_usage(stdout);
            return 0;
        } else {
            return ctl_getopt_error(&ctl_alerts_command, c, argv);
        }
    }
    char *end = NULL;
    long long id = optind < argc ? strtoll(argv[optind], &end, 10) : 0;
    if (optind + 1 != argc || !end || *end || id <= 0) {
        fprintf(stderr,
                "foyerctl alerts %s: expected one alert ID (a number from foyerctl alerts)\n",
                what);
        return 2;
    }
    struct store_alerts *a;
    const char *msg;
    int rc = store_alerts_open(cfg->database, &a, &msg);
    if (rc < 0) {
        fprintf(stderr, "foyerctl alerts %s: %s: %s\n", what, cfg->database,
                msg ? msg : strerror(-rc));
        return 1;
    }
    char who[256];
    ctl_who_am_i(who, sizeof(who));
    rc = ack ? store_alerts_ack(a, id, who, note, tu_now_s())
             : store_alerts_close_one(a, id, who, tu_now_s());
    if (rc < 0)
        fprintf(stderr, "foyerctl alerts %s: %s\n", what, store_alerts_errmsg(a));
    else
        printf("alert %lld %s by %s\n", id, ack ? "acknowledged" : "closed", who);
    store_alerts_close(a);
    return rc < 0 ? 1 : 0;
}

static int ctl_alerts(const struct ctl_command *cmd, const struct foyer_config *cfg, int argc,
                      char **argv)
{
    (void)cmd;
    if (argc >= 2 && strcmp(argv[1], "ack") == 0)
        return cmd_change(cfg, argc - 1, argv + 1, true);
    if (argc >= 2 && strcmp(argv[1], "close") == 0)
        return cmd_change(cfg, argc - 1, argv + 1, false);
    return cmd_list(cfg, argc, argv);
}

const struct ctl_command ctl_alerts_command = {"alerts", ctl_alerts_usage_text, ctl_alerts};
