/*
 * store_consent.h - consent per purpose, per dwelling and tenancy, with who
 * recorded it and when (daemon/store/store_consent.c; the table is
 * described in daemon/store/store.c).
 *
 * A household's consent to a purpose is the newest record of its dwelling,
 * its tenancy (the one current now; none for a dwelling without
 * tenancies) and the purpose; without a record, the tenancy's default
 * (the config dwelling's consent flag when the tenancy was added) for
 * load_curve and no for sharing.  Records are appended, never changed: the
 * history proves what was given, withdrawn, by whom and when.  Every reader
 * that asked the config's flag asks store_consent_get() or
 * store_consent_load_curve(), so a withdrawal holds at the next read.
 */
#ifndef FOYER_STORE_CONSENT_H
#define FOYER_STORE_CONSENT_H

#include <stdbool.h>
#include <stdint.h>

#include "foyer/config.h"
#include "foyer/limits.h"
#include "foyer/store.h"

enum store_purpose {
    STORE_PURPOSE_LOAD_CURVE, /* hourly (finer than daily) data kept past the raw window and shown
                               */
    STORE_PURPOSE_SHARING,    /* the household's summaries and history shown to an adviser */
    STORE_PURPOSE_N,
};

/* "load_curve", "sharing"; NULL out of range. */
const char *store_purpose_name(enum store_purpose p);

/* 0 with *ret, or -EINVAL (unknown name). */
int store_purpose_parse(const char *name, enum store_purpose *ret);

struct store_consent {
    bool given;
    bool recorded;                  /* false: the default, no record */
    int64_t ts_s;                   /* when recorded (0 default) */
    char by[64];                    /* who recorded it ("" default) */
    char tenancy[FOYER_ID_MAX + 1]; /* the tenancy it belongs to, "" none */
};

/* The consent of config dwelling d's household current at now_s for p.
 * 0 or -errno (store_errmsg(s)).  Any handle. */
int store_consent_get(struct store *s, const struct foyer_config *cfg, uint32_t d,
                      enum store_purpose p, int64_t now_s, struct store_consent *ret);

/* Load-curve consent of every config dwelling at now_s: ret[d], an array
 * of cfg->n_dwellings the caller gives (untouched on failure). */
int store_consent_load_curve(struct store *s, const struct foyer_config *cfg, int64_t now_s,
                             bool *ret);

/* Record that the household of dwelling (a config ID) gives (given) or
 * withdraws consent to p, by `by` at now_s, on a connection of its own.
 * A withdrawal of sharing also revokes every grant of the tenancy
 * (store_grant.h), in the same transaction.
 * OUT: ret_tenancy (FOYER_ID_MAX + 1 bytes, "" none).  -ENOENT unknown
 * dwelling; *ret_err_msg says why on failure. */
int store_consent_record(const char *db_path, const struct foyer_config *cfg, const char *dwelling,
                         enum store_purpose p, bool given, const char *by, int64_t now_s,
                         char *ret_tenancy, const char **ret_err_msg);

#endif
