/*
 * store_grant.h - a household's grants to a named ambassador to see its
 * summaries and history for a time (daemon/store/store_grant.c; the table
 * is described in daemon/store/store.c).
 *
 * A grant belongs to a dwelling and to the tenancy current when it was
 * made; its grantee is an ambassador token's name (tokens.name) whose
 * buildings hold the dwelling's.  It is active while it is not revoked,
 * not expired, its tenancy is still the dwelling's current one, and the
 * household's consent to sharing (store_consent.h) is given: making a
 * grant records that consent (a consents row, given, by the grant's
 * maker), revoking the last active one records its withdrawal, and a
 * withdrawal of sharing recorded any other way (foyerctl consent
 * withdraw, the tablet's consent form) revokes every grant of the
 * tenancy at once (store_consent_record()).
 *
 * Writes open a connection of their own for the call, as store_consent.h;
 * reads go through any handle.
 */
#ifndef FOYER_STORE_GRANT_H
#define FOYER_STORE_GRANT_H

#include <stdbool.h>
#include <stdint.h>

#include "foyer/config.h"
#include "foyer/limits.h"
#include "foyer/store.h"

struct store_grant {
    int64_t id;
    char dwelling[FOYER_ID_MAX + 1]; /* config ID */
    char tenancy[FOYER_ID_MAX + 1];  /* the tenancy it belongs to, "" none */
    char grantee[64];                /* the ambassador token's name */
    int64_t created_s;               /* UTC epoch s */
    int64_t expires_s;               /* the grant ends then */
    int64_t revoked_s;               /* 0: not revoked */
    char created_by[64];             /* who made it ("tenant:NAME" for a tenant's token) */
    char revoked_by[64];             /* "" while not revoked */
    bool active;                     /* at the now_s of the call (the rule above) */
};

/* Grant the household of dwelling (a config ID, its current tenancy)'s
 * summaries and history to the ambassador token named grantee for days
 * days (1..FOYER_GRANT_DAYS_MAX) from now_s, made by `by`, and record the
 * household's consent to sharing.  OUT: ret_id.  -ENOENT unknown
 * dwelling, no current tenancy while the dwelling has tenancies, or no
 * live ambassador token of that name; -EACCES the token's buildings do
 * not hold the dwelling's; -EINVAL days out of range; -EMLINK already
 * FOYER_GRANTS_ACTIVE_MAX active grants; *ret_err_msg says which. */
int store_grant_create(const char *db_path, const struct foyer_config *cfg, const char *dwelling,
                       const char *grantee, int days, const char *by, int64_t now_s,
                       int64_t *ret_id, const char **ret_err_msg);

/* Revoke grant id of dwelling's current tenancy at now_s, by `by`; when no
 * grant of the tenancy stays active, record the withdrawal of sharing.
 * -ENOENT no such grant of that tenancy, -EALREADY revoked or expired
 * already; *ret_err_msg says why on failure. */
int store_grant_revoke(const char *db_path, const struct foyer_config *cfg, const char *dwelling,
                       int64_t id, const char *by, int64_t now_s, const char **ret_err_msg);

/* Call fn for each grant of config dwelling d's tenancy current at now_s,
 * newest first, active or not (row borrowed for the call); stops at fn's
 * first nonzero return, which it returns.  -errno (store_errmsg(s)). */
int store_grant_list(struct store *s, const struct foyer_config *cfg, uint32_t d, int64_t now_s,
                     int (*fn)(void *ctx, const struct store_grant *g), void *ctx);

/* The same for the grants made to grantee that are active at now_s, of
 * dwellings still in cfg, by dwelling. */
int store_grant_list_grantee(struct store *s, const struct foyer_config *cfg, const char *grantee,
                             int64_t now_s, int (*fn)(void *ctx, const struct store_grant *g),
                             void *ctx);

/* Whether config dwelling d's household grants grantee access at now_s:
 * 0 and *ret (the newest active grant), -ENOENT none, or -errno (a failed
 * read: the caller refuses). */
int store_grant_active(struct store *s, const struct foyer_config *cfg, uint32_t d,
                       const char *grantee, int64_t now_s, struct store_grant *ret);

#endif
