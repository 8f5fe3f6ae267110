/*
 * ctl_common.c - what foyerctl's commands share: opening the database read-only,
 * with the message an operator needs when it is not there yet or when the
 * config would re-label its history.
 */
#include "foyer/ctl.h"

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
