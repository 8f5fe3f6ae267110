/*
 * ctl_access.c - `foyerctl access-log`: who read which household's data,
 * when and from where (include/foyer/store_access.h), for a household's
 * access request or the DPO's review.  Reads through a read-only handle.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "foyer/ctl.h"
#include "foyer/store_access.h"
#include "foyer/timeutil.h"

/* The one help text (include/foyer/ctl.h). */
static const char ctl_access_usage_text[] =
    "Usage: foyerctl [--config FILE] access-log [--dwelling ID] [--since DATE]\n"
    "                [--json]\n"
    "\n"
    "Every read of a household's data by anyone but the household: the energy\n"
    "team's and ambassadors' API routes on a dwelling, foyerctl export.  Who (the\n"
    "token's name, or the local user), role, what (route or command and its\n"
    "parameters, never a figure), which dwelling (* for every one), when, from\n"
    "where.  Kept 365 days.\n"
    "\n"
    "Options:\n"
    "  -d, --dwelling ID  only the reads of this dwelling (and of every one)\n"
    "  -s, --since DATE   from this date (local midnight) or ISO 8601 time\n"
    "  -j, --json         a JSON array: time, who, role, what, dwelling, origin\n"
    "  -h, --help         this help\n";

struct list_ctx {
    json_t *arr;
    size_t n;
};

static int list_one(void *ctx, const struct store_access *a)
{
    struct list_ctx *x = ctx;
    char when[40];
    tu_format_local(a->ts_s, when, sizeof(when));
    x->n++;
    if (x->arr) {
        json_t *o = json_object();
        if (!o)
            return -ENOMEM;
        json_object_set_new(o, "time", json_string(when));
        json_object_set_new(o, "who", json_string(a->who ? a->who : ""));
        json_object_set_new(o, "role", json_string(a->role ? a->role : ""));
        json_object_set_new(o, "what", json_string(a->what ? a->what : ""));
        json_object_set_new(o, "dwelling", json_string(a->dwelling ? a->dwelling : ""));
        json_object_set_new(o, "origin", json_string(a->origin ? a->origin : ""));
        json_array_append_new(x->arr, o);
        return 0;
    }
    printf("%-25s %-20s %-11s %-10s %-15s %s\n", when, a->who ? a->who : "", a->role ? a->role : "",
           a->dwelling ? a->dwelling : "", a->origin ? a->origin : "", a->what ? a->what : "");
    return 0;
}

static int ctl_access(const struct ctl_command *cmd, const struct foyer_config *cfg, int argc,
                      char **argv)
{
    static const struct option opts[] = {{"dwelling", required_argument, NULL, 'd'},
                                         {"since", required_argument, NULL, 's'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *dwelling = NULL;
    int64_t since_s = 0;
    bool json = false;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":d:s:jh", opts, NULL)) != -1) {
        if (c == 'd') {
            if (ctl_find_dwelling(cfg, "access-log", optarg) < 0)
                return 2;
            dwelling = optarg;
        } else if (c == 's') {
            if (tu_parse_iso(optarg, &since_s) < 0) {
                fprintf(stderr,
                        "foyerctl access-log: --since \"%s\": expected a date YYYY-MM-DD or "
                        "an ISO 8601 time\n",
                        optarg);
                return 2;
            }
        } else if (c == 'j') {
            json = true;
        } else if (c == 'h') {
            fputs(ctl_access_usage_text, stdout);
            return 0;
        } else {
            return ctl_getopt_error(cmd, c, argv);
        }
    }
    if (optind < argc)
        return ctl_usage_error(cmd, "unexpected argument \"%s\"", argv[optind]);
    struct store *s = ctl_open_readonly(cfg, "access-log");
    if (!s)
        return 1;
    struct list_ctx x = {.arr = json ? json_array() : NULL};
    if (!json)
        printf("%-25s %-20s %-11s %-10s %-15s %s\n", "TIME", "WHO", "ROLE", "DWELLING", "FROM",
               "WHAT");
    int rc = store_access_list(s, dwelling, since_s, list_one, &x);
    return ctl_list_finish(s, cfg, "access-log", rc, x.arr, JSON_INDENT(2));
}

const struct ctl_command ctl_access_command = {"access-log", ctl_access_usage_text, ctl_access};
