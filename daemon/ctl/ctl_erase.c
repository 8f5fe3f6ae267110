/*
 * ctl_erase.c - `foyerctl erase`: a household's right to erasure
 * (include/foyer/store_erase.h), with the account of what went.
 *
 * It opens a write handle of its own next to a running foyerd (SQLite
 * serialises its one transaction with the writer's batches, the handle
 * waits for the lock) and erases through store_erase_dwelling(); the
 * erasure is written to the access log with the local user.  The account
 * is printed in plain words: rows per table, then the consumption folded
 * into the building's totals per quantity.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "foyer/ctl.h"
#include "foyer/store_erase.h"
#include "foyer/timeutil.h"
#include "foyer/units.h"

/* The one help text (include/foyer/ctl.h). */
static const char ctl_erase_usage_text[] =
    "Usage: foyerctl [--config FILE] erase --dwelling ID [--before DATE] [--force]\n"
    "\n"
    "Erase a household's personal data now (the right to erasure): the raw\n"
    "readings, hourly, daily and monthly figures and events of the dwelling's\n"
    "channels, its summaries and their outbox rows, tip answers, reports,\n"
    "grants to an adviser, alerts, the tokens and lease references of its ended\n"
    "tenancies, and its consent records beyond those that prove consent (per\n"
    "tenancy and purpose, the first that gave it and the newest). Before that,\n"
    "the consumption of its counters that count in building totals is folded\n"
    "into the building's figures, which name no dwelling: building totals are\n"
    "unchanged. The access log keeps every read and this erasure. Prints what\n"
    "was removed. Refused while a tenancy of the dwelling that started before\n"
    "the cut is open (its household would lose its data), unless --force.\n"
    "\n"
    "Options:\n"
    "  -d, --dwelling ID  the dwelling\n"
    "  -B, --before DATE  erase what is before this local day, YYYY-MM-DD\n"
    "                     (default: everything up to the end of today)\n"
    "  -f, --force        erase even while a tenancy started before DATE is open\n"
    "  -h, --help         this help\n";

/* Rows of each table in words: singular, plural (enum store_erase_what). */
static const char *const erase_words[STORE_ERASE_N][2] = {
    [STORE_ERASE_READINGS] = {"raw reading", "raw readings"},
    [STORE_ERASE_HOURS] = {"hourly figure", "hourly figures"},
    [STORE_ERASE_DAYS] = {"daily figure", "daily figures"},
    [STORE_ERASE_MONTHS] = {"monthly figure", "monthly figures"},
    [STORE_ERASE_EVENTS] = {"meter event", "meter events"},
    [STORE_ERASE_SUMMARIES] = {"summary", "summaries"},
    [STORE_ERASE_OUTBOX] = {"push outbox row", "push outbox rows"},
    [STORE_ERASE_TIP_ANSWERS] = {"tip answer", "tip answers"},
    [STORE_ERASE_REPORTS] = {"report", "reports"},
    [STORE_ERASE_ALERTS] = {"alert", "alerts"},
    [STORE_ERASE_TOKENS] = {"tenant token", "tenant tokens"},
    [STORE_ERASE_CONSENTS] = {"consent record", "consent records"},
    [STORE_ERASE_REFS] = {"lease reference", "lease references"},
    [STORE_ERASE_UPLINK] = {"uplink item", "uplink items"},
    [STORE_ERASE_GRANTS] = {"grant to an adviser", "grants to an adviser"},
};

static int ctl_erase(const struct ctl_command *cmd, const struct foyer_config *cfg, int argc,
                     char **argv)
{
    static const struct option opts[] = {{"dwelling", required_argument, NULL, 'd'},
                                         {"before", required_argument, NULL, 'B'},
                                         {"force", no_argument, NULL, 'f'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *dwelling = NULL;
    int64_t now_s = tu_now_s();
    struct store_erase_opts o = {.before_s = tu_next_day(tu_day_start(now_s)), .now_s = now_s};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":d:B:fh", opts, NULL)) != -1) {
        if (c == 'd') {
            if (ctl_find_dwelling(cfg, "erase", optarg) < 0)
                return 2;
            dwelling = optarg;
        } else if (c == 'B') {
            int64_t t;
            /* A date alone: a bare calendar day is local midnight. */
            if (strlen(optarg) != 10 || tu_parse_iso(optarg, &t) < 0) {
                fprintf(stderr, "foyerctl erase: --before \"%s\": expected a date YYYY-MM-DD\n",
                        optarg);
                return 2;
            }
            o.before_s = t;
        } else if (c == 'f') {
            o.force = true;
        } else if (c == 'h') {
            fputs(ctl_erase_usage_text, stdout);
            return 0;
        } else {
            return ctl_getopt_error(cmd, c, argv);
        }
    }
    if (optind < argc)
        return ctl_usage_error(cmd, "unexpected argument \"%s\"", argv[optind]);
    if (!dwelling)
        return ctl_usage_error(cmd, "--dwelling ID is required");

    char who[64];
    o.by = ctl_who_am_i(who, sizeof(who));
    o.origin = "foyerctl";
    struct store *s;
    const char *msg;
    int rc = store_open(cfg->database, cfg, &s, &msg);
    if (rc < 0) {
        fprintf(stderr, "foyerctl erase: %s: %s\n", cfg->database, msg ? msg : strerror(-rc));
        return 1;
    }
    struct store_erase_account a;
    rc = store_erase_dwelling(s, cfg, dwelling, &o, &a);
    if (rc < 0) {
        fprintf(stderr, "foyerctl erase: %s: %s\n", cfg->database, store_errmsg(s));
        store_close(s);
        return 1;
    }
    store_close(s);

    char day[40];
    tu_format_local(a.cut_s, day, sizeof(day));
    printf("dwelling %s: erased everything before %.10s:\n", dwelling, day);
    bool any = false;
    for (int k = 0; k < STORE_ERASE_N; k++) {
        if (!a.rows[k])
            continue;
        unsigned long long n = (unsigned long long)a.rows[k];
        printf("  %llu %s%s\n", n, units_plural(n, erase_words[k][0], erase_words[k][1]),
               k == STORE_ERASE_MONTHS ? " (removed, or cut to the days kept)"
               : k == STORE_ERASE_REFS ? " cleared"
                                       : "");
        any = true;
    }
    if (!any)
        printf("  nothing held before that day\n");
    if (a.tenancies)
        printf("  %d ended %s marked erased\n", a.tenancies,
               units_plural((unsigned long long)a.tenancies, "tenancy", "tenancies"));
    bool folded = false;
    for (int q = 0; q < Q_COUNT_; q++) {
        if (a.folded[q] == 0)
            continue;
        const char *unit = quantity_unit((enum quantity)q);
        char v[48], name[32];
        /* "hot water", not the config's "hot_water". */
        (void)snprintf(name, sizeof(name), "%s", quantity_name((enum quantity)q));
        for (char *p = name; (p = strchr(p, '_')) != NULL;)
            *p = ' ';
        if (!folded)
            printf("folded into the building's totals (no dwelling named):\n");
        folded = true;
        printf("  %s %s of %s\n", units_format(unit, a.folded[q], v, sizeof(v)), unit, name);
    }
    if (!folded)
        printf("no consumption to fold into the building's totals\n");
    return 0;
}

const struct ctl_command ctl_erase_command = {"erase", ctl_erase_usage_text, ctl_erase};
