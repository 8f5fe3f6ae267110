/*
 * ctl_consent.c - `foyerctl consent set|withdraw|list`: a household's
 * consent per purpose, recorded with who and when
 * (include/foyer/store_consent.h).
 *
 * set and withdraw append a record through store_consent_record() on a
 * connection of their own, next to a running foyerd; the API and exports
 * read consent at each request, so a withdrawal holds at once for reads,
 * and foyerd's hourly retention deletes the hourly figures past the raw
 * window within the hour.  Who recorded it is the user running foyerctl.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "foyer/ctl.h"
#include "foyer/store_consent.h"
#include "foyer/timeutil.h"

/* The one help text (include/foyer/ctl.h). */
static const char ctl_consent_usage_text[] =
    "Usage: foyerctl [--config FILE] consent set|withdraw|list ...\n"
    "\n"
    "  consent set --dwelling ID --purpose load_curve|sharing\n"
    "  consent withdraw --dwelling ID --purpose load_curve|sharing\n"
    "  consent list [--dwelling ID] [--json]\n"
    "\n"
    "A household's consent, one per purpose, for its current tenancy, recorded\n"
    "with who and when (every record is kept).  Purposes:\n"
    "  load_curve  hourly figures kept past the raw window and shown by the API\n"
    "              and exports; without it they are used for the summaries and\n"
    "              alerts only, and deleted after raw_retention_days_no_consent\n"
    "  sharing     the household's summaries and history shown to an adviser\n"
    "              it names (the tablet's grants, /api/v1/me/grants); withdrawing\n"
    "              it ends every grant of the tenancy at once\n"
    "Without a record: the dwelling's consent flag of the config when the\n"
    "tenancy was added (load_curve), no (sharing).  A withdrawal holds at once\n"
    "for reads and within the hour for storage.  Monthly heat and hot-water\n"
    "figures stay available to the household without consent.\n"
    "\n"
    "Options:\n"
    "  -d, --dwelling ID  the dwelling (list: only this one)\n"
    "  -p, --purpose P    load_curve or sharing\n"
    "  -j, --json         list: a JSON array: dwelling, tenancy, purpose, given,\n"
    "                     recorded (false: the default), since, by\n"
    "  -h, --help         this help\n";

static const struct ctl_command *const cmd_self = &ctl_consent_command;

static int cmd_list(const struct foyer_config *cfg, int argc, char **argv)
{
    static const struct option opts[] = {{"dwelling", required_argument, NULL, 'd'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int32_t only = -1;
    bool json = false;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":d:jh", opts, NULL)) != -1) {
        if (c == 'd') {
            only = ctl_find_dwelling(cfg, "consent list", optarg);
            if (only < 0)
                return 2;
        } else if (c == 'j') {
            json = true;
        } else if (c == 'h') {
            fputs(ctl_consent_usage_text, stdout);
            return 0;
        } else {
            return ctl_getopt_error(cmd_self, c, argv);
        }
    }
    if (optind < argc)
        return ctl_usage_error(cmd_self, "list: unexpected argument \"%s\"", argv[optind]);
    struct store *s = ctl_open_readonly(cfg, "consent list");
    if (!s)
        return 1;
    json_t *arr = json ? json_array() : NULL;
    int64_t now_s = tu_now_s();
    int rc = 0;
    if (!json)
        printf("%-12s %-24s %-10s %-7s %-25s %s\n", "DWELLING", "TENANCY", "PURPOSE", "CONSENT",
               "SINCE", "BY");
    for (size_t d = 0; rc == 0 && d < cfg->n_dwellings; d++) {
        if (only >= 0 && (size_t)only != d)
            continue;
        for (int p = 0; rc == 0 && p < STORE_PURPOSE_N; p++) {
            struct store_consent k;
            rc = store_consent_get(s, cfg, (uint32_t)d, (enum store_purpose)p, now_s, &k);
            if (rc < 0)
                break;
            char since[40] = "-";
            if (k.recorded)
                tu_format_local(k.ts_s, since, sizeof(since));
            const char *name = store_purpose_name((enum store_purpose)p);
            if (arr) {
                json_t *o = json_object();
                json_object_set_new(o, "dwelling", json_string(cfg->dwellings[d].id));
                json_object_set_new(o, "tenancy",
                                    k.tenancy[0] ? json_string(k.tenancy) : json_null());
                json_object_set_new(o, "purpose", json_string(name));
                json_object_set_new(o, "given", json_boolean(k.given));
                json_object_set_new(o, "recorded", json_boolean(k.recorded));
                json_object_set_new(o, "since", k.recorded ? json_string(since) : json_null());
                json_object_set_new(o, "by", k.recorded ? json_string(k.by) : json_null());
                json_array_append_new(arr, o);
            } else {
                printf("%-12s %-24s %-10s %-7s %-25s %s\n", cfg->dwellings[d].id,
                       k.tenancy[0] ? k.tenancy : "-", name, k.given ? "yes" : "no", since,
                       k.recorded ? k.by : "(default)");
            }
        }
    }
    return ctl_list_finish(s, cfg, "consent list", rc, arr, JSON_INDENT(2));
}

static int cmd_change(const struct foyer_config *cfg, int argc, char **argv, bool given)
{
    static const struct option opts[] = {{"dwelling", required_argument, NULL, 'd'},
                                         {"purpose", required_argument, NULL, 'p'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *what = given ? "set" : "withdraw";
    const char *dwelling = NULL, *purpose = NULL;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":d:p:h", opts, NULL)) != -1) {
        if (c == 'd') {
            dwelling = optarg;
        } else if (c == 'p') {
            purpose = optarg;
        } else if (c == 'h') {
            fputs(ctl_consent_usage_text, stdout);
            return 0;
        } else {
            return ctl_getopt_error(cmd_self, c, argv);
        }
    }
    if (optind < argc)
        return ctl_usage_error(cmd_self, "%s: unexpected argument \"%s\"", what, argv[optind]);
    if (!dwelling || !purpose)
        return ctl_usage_error(cmd_self, "%s: --dwelling ID and --purpose P are needed", what);
    enum store_purpose p;
    if (store_purpose_parse(purpose, &p) < 0) {
        fprintf(stderr, "foyerctl consent %s: --purpose \"%s\": expected load_curve or sharing\n",
                what, purpose);
        return 2;
    }
    if (ctl_find_dwelling(cfg, given ? "consent set" : "consent withdraw", dwelling) < 0)
        return 2;
    char who[256], tenancy[FOYER_ID_MAX + 1];
    const char *msg = NULL;
    ctl_who_am_i(who, sizeof(who));
    int rc = store_consent_record(cfg->database, cfg, dwelling, p, given, who, tu_now_s(), tenancy,
                                  &msg);
    if (rc < 0) {
        fprintf(stderr, "foyerctl consent %s: %s\n", what, msg && *msg ? msg : strerror(-rc));
        return 1;
    }
    printf("consent to %s %s for dwelling %s%s%s (%s)\n", purpose, given ? "given" : "withdrawn",
           dwelling, tenancy[0] ? ", tenancy " : "", tenancy, who);
    return 0;
}

static int ctl_consent(const struct ctl_command *cmd, const struct foyer_config *cfg, int argc,
                       char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "set") == 0)
        return cmd_change(cfg, argc - 1, argv + 1, true);
    if (argc >= 2 && strcmp(argv[1], "withdraw") == 0)
        return cmd_change(cfg, argc - 1, argv + 1, false);
    if (argc >= 2 && strcmp(argv[1], "list") == 0)
        return cmd_list(cfg, argc - 1, argv + 1);
    return ctl_subcommand_error(cmd, argc, argv, "set, withdraw or list?");
}

const struct ctl_command ctl_consent_command = {"consent", ctl_consent_usage_text, ctl_consent};
