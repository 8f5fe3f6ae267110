/*
 * ctl.c - what foyerctl's commands share: opening the database read-only,
 * with the message an operator needs when it is not there yet.
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
    return s;
}
