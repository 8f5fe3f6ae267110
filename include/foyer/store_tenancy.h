/*
 * store_tenancy.h - tenancies at run time: who lives in a dwelling from
 * when to when (daemon/store/store_tenancy.c; the table is described in
 * daemon/store/store.c).
 *
 * The config's [tenancy] sections seed the table: a section whose ID is
 * not in the table and which overlaps no tenancy of its dwelling there is
 * added when a write handle opens (foyerd's start) and before any change
 * made by foyerctl tenancy; until then store_tenancy_read() shows it as if
 * it were.  A row seeded from a section follows that section's start and
 * end (an end written in the config and a reload still end it) until
 * foyerctl tenancy end changes it; then, and for tenancies made by
 * foyerctl tenancy start, the table decides, and a section that overlaps
 * a row of its dwelling is ignored.  The config dwelling's consent flag
 * becomes the default consent of each tenancy added.
 */
#ifndef FOYER_STORE_TENANCY_H
#define FOYER_STORE_TENANCY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "foyer/config.h"
#include "foyer/limits.h"
#include "foyer/store.h"

/* A tenancy as the table holds it, for foyerctl tenancy list. */
struct store_tenancy {
    char id[FOYER_ID_MAX + 1];
    char dwelling[FOYER_ID_MAX + 1];     /* the config ID */
    int32_t start_ymd;                   /* first day, YYYYMMDD (local calendar) */
    int32_t end_ymd;                     /* last day included, 0 while it runs */
    char ref[FOYER_TENANCY_REF_MAX + 1]; /* the landlord's reference (lease), may be "" */
    bool consent;                        /* default load-curve consent of the household */
    bool stored;                         /* false: a config section not yet seeded */
    char created_by[64];                 /* "config" or the local user */
};

/* The run's tenancies in the config's shape (struct tenancy, dwelling = the
 * config index; pos is zero), ordered by dwelling then start: every
 * reader that asked cfg->tenancies asks this.  Rows of dwellings no longer
 * in cfg are left out.  0 with *ret (caller frees with free(); NULL when
 * *ret_n is 0) or -errno (store_errmsg(s) says why). */
int store_tenancy_read(struct store *s, const struct foyer_config *cfg, struct tenancy **ret,
                       size_t *ret_n);

/* The same for config dwelling d alone (what store_tenancy_read() gives
 * of it), without reading every dwelling's: a tenant's every request
 * (http_auth.c) asks.  -EINVAL: no such dwelling. */
int store_tenancy_read_dwelling(struct store *s, const struct foyer_config *cfg, uint32_t d,
                                struct tenancy **ret, size_t *ret_n);

/* Call fn for each tenancy as stored (and config sections not yet seeded),
 * ordered by dwelling then start; stops at fn's first nonzero return,
 * which it returns. */
int store_tenancy_list(struct store *s, const struct foyer_config *cfg,
                       int (*fn)(void *ctx, const struct store_tenancy *t), void *ctx);

/* Start a tenancy of dwelling (a config ID) on local day start_ymd, with
 * ref ("" none), recorded by `by` at now_s.  Its ID is "DWELLING.YYYYMMDD".
 * -EEXIST when a tenancy of the dwelling is open or ends on or after that
 * day (*ret_err_msg says which).  OUT: ret_id (FOYER_ID_MAX + 1 bytes). */
int store_tenancy_start(const char *db_path, const struct foyer_config *cfg, const char *dwelling,
                        int32_t start_ymd, const char *ref, const char *by, int64_t now_s,
                        char *ret_id, const char **ret_err_msg);

/* End the open tenancy of dwelling: end_ymd is its last day (included).
 * -ENOENT no open tenancy, -EINVAL end before its start.  OUT: ret_id. */
int store_tenancy_end(const char *db_path, const struct foyer_config *cfg, const char *dwelling,
                      int32_t end_ymd, const char *by, int64_t now_s, char *ret_id,
                      const char **ret_err_msg);

/* Add the config's tenancies missing from the table (the rule above), on a
 * write handle; 0 or -errno. */
int store_tenancy_seed(struct store *s, const struct foyer_config *cfg);

/* The tenancy of dwelling d current at now_s (the latest starting) among
 * v[0..n), or NULL. */
const struct tenancy *store_tenancy_current(const struct tenancy *v, size_t n, uint32_t d,
                                            int64_t now_s);

#endif
