/*
 * ctl.h - foyerctl commands that live in files of their own.  Each takes the
 * loaded config and the command's own argv (argv[0] is the command name)
 * and returns the exit status: 0, 1 on an error, 2 on bad usage.
 */
#ifndef FOYER_CTL_H
#define FOYER_CTL_H

#include "foyer/config.h"
#include "foyer/store.h"

/* Open the database read-only; on failure, or when cfg re-labels a channel
 * holding data (store_check_channels()), say why on stderr, naming the
 * command ("status"), and return NULL.  Caller closes with store_close(). */
struct store *ctl_open_readonly(const struct foyer_config *cfg, const char *cmd);

/* foyerctl events [--since DATE] [--dwelling ID] [--json] */
int ctl_events(const struct foyer_config *cfg, int argc, char **argv);

#endif
