/*
 * ctl_tenancy.c - `foyerctl tenancy start|end|list`: who lives in a
 * dwelling from when to when, changed at run time without a config edit
 * (include/foyer/store_tenancy.h).
 *
 * start and end write through store_tenancy_start()/_end() on a connection
 * of their own, next to a running foyerd (SQLite serialises them with its
 * writes); foyerd, its HTTP server and its summaries read the table at each
 * use, so the change holds at once: a token of an ended tenancy stops at
 * the end of its last day.  Who made the change is the user running
 * foyerctl.  list reads through a read-only handle.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "foyer/ctl.h"
#include "foyer/store_tenancy.h"
#include "foyer/timeutil.h"

/* The one help text (include/foyer/ctl.h). */
static const char ctl_tenancy_usage_text[] =
    "Usage: foyerctl [--config FILE] tenancy start|end|list ...\n"
    "\n"
    "  tenancy start --dwelling ID --date YYYY-MM-DD [--ref TEXT]\n"
    "  tenancy end --dwelling ID --date YYYY-MM-DD\n"
    "  tenancy list [--dwelling ID] [--json]\n"
    "\n"
    "Who lives in a dwelling from when to when, changed while foyerd runs.  The\n"
    "config's [tenancy] sections are the starting point; after a change the\n"
    "database decides.  A tenant token is bound to the tenancy current when it\n"
    "was made: it sees nothing before its start and stops at its end.  A new\n"
    "tenancy takes the dwelling's consent flag of the config as its default.\n"
    "\n"
    "  start              a household moves in on --date (its first day); its\n"
    "                     tenancy is named DWELLING.YYYYMMDD.  Refused while the\n"
    "                     dwelling has an open tenancy or one ending on or after\n"
    "                     that day\n"
    "  end                the open tenancy of the dwelling ends: --date is its\n"
    "                     last day (included)\n"
    "  list               every tenancy: ID, dwelling, start, end, reference,\n"
    "                     consent, who added it (config or a user)\n"
    "\n"
    "Options:\n"
    "  -d, --dwelling ID  the dwelling (list: only its tenancies)\n"
    "  -D, --date DATE    a local calendar day, YYYY-MM-DD\n"
    "  -r, --ref TEXT     the landlord's reference of the lease (at most 64 bytes)\n"
    "  -j, --json         list: a JSON array: id, dwelling, start, end (null while\n"
    "                     it runs), ref, consent, created_by\n"
    "  -h, --help         this help\n";

static const struct ctl_command *const cmd_self = &ctl_tenancy_command;

/* "2026-11-30" as 20261130; 0 or -EINVAL (not a calendar day). */
static int parse_ymd(const char *s, int32_t *ret)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, m, d, n = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || s[n] || n != 10 || y < 1970 || m < 1 ||
        m > 12 || d < 1 || d > mdays[m - 1])
        return -EINVAL;
    if (m == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
        return -EINVAL;
    *ret = y * 10000 + m * 100 + d;
    return 0;
}

static char *fmt_ymd(int32_t ymd, char *buf, size_t len)
{
    (void)snprintf(buf, len, "%04d-%02d-%02d", ymd / 10000, ymd / 100 % 100, ymd % 100);
    return buf;
}

struct list_ctx {
    const char *dwelling; /* --dwelling, or NULL */
    json_t *arr;          /* --json */
    size_t n;
};

static int list_one(void *ctx, const struct store_tenancy *t)
{
    struct list_ctx *x = ctx;
    char s[16], e[16] = "-";
    if (x->dwelling && strcmp(x->dwelling, t->dwelling) != 0)
        return 0;
    x->n++;
    fmt_ymd(t->start_ymd, s, sizeof(s));
    if (t->end_ymd)
        fmt_ymd(t->end_ymd, e, sizeof(e));
    if (x->arr) {
        json_t *o = json_object();
        if (!o)
            return -ENOMEM;
        json_object_set_new(o, "id", json_string(t->id));
        json_object_set_new(o, "dwelling", json_string(t->dwelling));
        json_object_set_new(o, "start", json_string(s));
        json_object_set_new(o, "end", t->end_ymd ? json_string(e) : json_null());
        json_object_set_new(o, "ref", t->ref[0] ? json_string(t->ref) : json_null());
        json_object_set_new(o, "consent", json_boolean(t->consent));
        json_object_set_new(o, "created_by", json_string(t->created_by));
        json_array_append_new(x->arr, o);
        return 0;
    }
    printf("%-24s %-12s %-10s %-10s %-7s %-12s %s\n", t->id, t->dwelling, s, e,
           t->consent ? "yes" : "no", t->created_by, t->ref[0] ? t->ref : "-");
    return 0;
}

static int cmd_list(const struct foyer_config *cfg, int argc, char **argv)
{
    static const struct option opts[] = {{"dwelling", required_argument, NULL, 'd'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct list_ctx x = {0};
    bool json = false;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":d:jh", opts, NULL)) != -1) {
        if (c == 'd') {
            if (ctl_find_dwelling(cfg, "tenancy list", optarg) < 0)
                return 2;
            x.dwelling = optarg;
        } else if (c == 'j') {
            json = true;
        } else if (c == 'h') {
            fputs(ctl_tenancy_usage_text, stdout);
            return 0;
        } else {
            return ctl_getopt_error(cmd_self, c, argv);
        }
    }
    if (optind < argc)
        return ctl_usage_error(cmd_self, "list: unexpected argument \"%s\"", argv[optind]);
    struct store *s = ctl_open_readonly(cfg, "tenancy list");
    if (!s)
        return 1;
    x.arr = json ? json_array() : NULL;
    if (!json)
        printf("%-24s %-12s %-10s %-10s %-7s %-12s %s\n", "ID", "DWELLING", "START", "END",
               "CONSENT", "BY", "REF");
    int rc = store_tenancy_list(s, cfg, list_one, &x);
    return ctl_list_finish(s, cfg, "tenancy list", rc, x.arr, JSON_INDENT(2));
}

/* start (start = true) or end. */
static int cmd_change(const struct foyer_config *cfg, int argc, char **argv, bool start)
{
    static const struct option opts[] = {{"dwelling", required_argument, NULL, 'd'},
                                         {"date", required_argument, NULL, 'D'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"ref", required_argument, NULL, 'r'},
                                         {NULL, 0, NULL, 0}};
    const char *what = start ? "start" : "end";
    const char *dwelling = NULL, *ref = "";
    int32_t ymd = 0;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, start ? ":d:D:hr:" : ":d:D:h", opts, NULL)) != -1) {
        if (c == 'd') {
            dwelling = optarg;
        } else if (c == 'D') {
            if (parse_ymd(optarg, &ymd) < 0) {
                fprintf(stderr, "foyerctl tenancy %s: --date \"%s\": expected YYYY-MM-DD\n", what,
                        optarg);
                return 2;
            }
        } else if (c == 'r') {
            ref = optarg;
        } else if (c == 'h') {
            fputs(ctl_tenancy_usage_text, stdout);
            return 0;
        } else {
            return ctl_getopt_error(cmd_self, c, argv);
        }
    }
    if (optind < argc)
        return ctl_usage_error(cmd_self, "%s: unexpected argument \"%s\"", what, argv[optind]);
    if (!dwelling || !ymd)
        return ctl_usage_error(cmd_self, "%s: --dwelling ID and --date YYYY-MM-DD are needed",
                               what);
    if (ctl_find_dwelling(cfg, start ? "tenancy start" : "tenancy end", dwelling) < 0)
        return 2;
    char who[256], id[FOYER_ID_MAX + 1], day[16];
    const char *msg = NULL;
    ctl_who_am_i(who, sizeof(who));
    int rc =
        start
            ? store_tenancy_start(cfg->database, cfg, dwelling, ymd, ref, who, tu_now_s(), id, &msg)
            : store_tenancy_end(cfg->database, cfg, dwelling, ymd, who, tu_now_s(), id, &msg);
    if (rc < 0) {
        fprintf(stderr, "foyerctl tenancy %s: %s\n", what, msg && *msg ? msg : strerror(-rc));
        return 1;
    }
    printf("tenancy %s of dwelling %s %s %s (%s)\n", id, dwelling,
           start ? "starts on" : "ends after", fmt_ymd(ymd, day, sizeof(day)), who);
    return 0;
}

static int ctl_tenancy(const struct ctl_command *cmd, const struct foyer_config *cfg, int argc,
                       char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "start") == 0)
        return cmd_change(cfg, argc - 1, argv + 1, true);
    if (argc >= 2 && strcmp(argv[1], "end") == 0)
        return cmd_change(cfg, argc - 1, argv + 1, false);
    if (argc >= 2 && strcmp(argv[1], "list") == 0)
        return cmd_list(cfg, argc - 1, argv + 1);
    return ctl_subcommand_error(cmd, argc, argv, "start, end or list?");
}

const struct ctl_command ctl_tenancy_command = {"tenancy", ctl_tenancy_usage_text, ctl_tenancy};
