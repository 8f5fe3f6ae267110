/*
 * store_access.h - the access log: every read of a dwelling's data by
 * anyone but its household (daemon/store/store_access.c; the table is
 * described in daemon/store/store.c).
 *
 * Who (a token's name and role, or the local user of foyerctl), what (the
 * route or command and its parameters that name no figure), which
 * dwelling, when, from where (the peer's address, or "foyerctl").  Never
 * the figures read.  Rows older than FOYER_ACCESS_LOG_DAYS are deleted as
 * new ones are appended.
 */
#ifndef FOYER_STORE_ACCESS_H
#define FOYER_STORE_ACCESS_H

#include <stdint.h>

#include "foyer/store.h"

struct store_access {
    int64_t ts_s;
    const char *who;      /* token name or local user */
    const char *role;     /* "energy-team", "ambassador", "local" */
    const char *what;     /* "GET /api/v1/rollups channel=x granularity=hour" */
    const char *dwelling; /* config ID */
    const char *origin;   /* peer address or "foyerctl" */
};

/* Append a on a connection of its own (the HTTP threads' handles are
 * read-only), deleting rows past FOYER_ACCESS_LOG_DAYS.  0 or -errno;
 * *ret_err_msg says why on failure. */
int store_access_append(const char *db_path, const struct store_access *a,
                        const char **ret_err_msg);

/* Call fn for each row, oldest first, of dwelling (NULL every one; the
 * reads of every dwelling, "*", included) at or after since_s; strings
 * borrowed for the call.  Stops at fn's first nonzero return, which it
 * returns. */
int store_access_list(struct store *s, const char *dwelling, int64_t since_s,
                      int (*fn)(void *ctx, const struct store_access *a), void *ctx);

#endif
