/*
 * ctl_common.c - what foyerctl's commands share: opening the database read-only,
 * with the message an operator needs when it is not there yet or when the
 * config would re-label its history; usage errors, which end with the
 * command's usage (struct ctl_command, include/foyer/ctl.h); the end of a
 * listing (its error, or its JSON array); who runs foyerctl.
 */
#include "foyer/ctl.h"

#include <getopt.h>
#include <jansson.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct store *ctl_open_readonly(const struct foyer_config *cfg, const char *cmd)
{
    struct store *s;
    const char *msg;
    if (access(cfg->database, F_OK) < 0) {
        fprintf(stderr, "foyerctl %s: %s: no database yet (foyerd creates it when it starts)\n",
                cmd, cfg->database);
        return NULL;
    }
    int rc = store_open_readonly(cfg->database, cfg, &s, &msg);
    if (rc < 0) {
        fprintf(stderr, "foyerctl %s: %s: %s\n", cmd, cfg->database, msg ? msg : strerror(-rc));
        return NULL;
    }
    /* The commands label history with the config's quantity, unit and
     * dwelling: a config foyerd would refuse shows it as what it is not
     * (temperatures as kWh, one household's history as another's). */
    struct conf_errors errs = {0};
    rc = store_check_channels(s, cfg, &errs);
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "%s\n", errs.msgs[i]);
    conf_errors_free(&errs);
    if (rc != 0) {
        if (rc > 0)
            fprintf(stderr, "foyerctl %s: %s: the config re-labels stored history (see above)\n",
                    cmd, cfg->database);
        else
            fprintf(stderr, "foyerctl %s: %s: %s\n", cmd, cfg->database, store_errmsg(s));
        store_close(s);
        return NULL;
    }
    return s;
}

int ctl_usage_error(const struct ctl_command *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "foyerctl %s: ", cmd->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n%s", cmd->usage);
    return 2;
}

int ctl_getopt_error(const struct ctl_command *cmd, int c, char **argv)
{
    /* getopt_long() leaves optind past the option it refused: a long
     * option is that argument (without "=value"), a short one optopt. */
    const char *arg = optind > 0 ? argv[optind - 1] : "";
    char name[64];
    if (strncmp(arg, "--", 2) == 0)
        (void)snprintf(name, sizeof(name), "%.*s", (int)strcspn(arg, "="), arg);
    else
        (void)snprintf(name, sizeof(name), "-%c", optopt ? optopt : '?');
    if (c == ':')
        return ctl_usage_error(cmd, "option \"%s\" needs a value", name);
    return ctl_usage_error(cmd, "unknown option \"%s\"", name);
}

const char *ctl_who_am_i(char *buf, size_t len)
{
    struct passwd pw, *res = NULL;
    char tmp[1024];
    if (getpwuid_r(geteuid(), &pw, tmp, sizeof(tmp), &res) == 0 && res)
        (void)snprintf(buf, len, "%s", res->pw_name);
    else
        (void)snprintf(buf, len, "uid %u", (unsigned)geteuid());
    return buf;
}

int ctl_subcommand_error(const struct ctl_command *cmd, int argc, char **argv, const char *expected)
{
    if (argc < 2)
        return ctl_usage_error(cmd, "%s", expected);
    if (argv[1][0] == '-')
        return ctl_usage_error(cmd, "unknown option \"%s\"", argv[1]);
    return ctl_usage_error(cmd, "unknown sub-command \"%s\"", argv[1]);
}

int ctl_list_finish(struct store *s, const struct foyer_config *cfg, const char *what, int rc,
                    json_t *arr, size_t flags)
{
    if (rc < 0) {
        fprintf(stderr, "foyerctl %s: %s: %s\n", what, cfg->database, store_errmsg(s));
        json_decref(arr);
        store_close(s);
        return 1;
    }
    store_close(s);
    if (arr) {
        json_dumpf(arr, stdout, flags);
        fputc('\n', stdout);
        json_decref(arr);
    }
    return 0;
}

int32_t ctl_find_dwelling(const struct foyer_config *cfg, const char *what, const char *id)
{
    int32_t d = config_find_dwelling(cfg, id);
    if (d < 0)
        fprintf(stderr, "foyerctl %s: unknown dwelling \"%s\"\n", what, id);
    return d;
}
