/*
 * store_grant.c - the grants table: a household lets a named ambassador
 * see its summaries and history for a time (include/foyer/store_grant.h;
 * the table is described in store.c).
 *
 * In: the tenant's API and tablet forms (create, revoke), each on a write
 * connection opened for the call, in one transaction with the consents
 * row it implies.  Out: the grant lists (tenant's API and tablet, the
 * ambassador's page) and store_grant_active(), asked before every read an
 * ambassador makes of a household's data, on the HTTP thread's read-only
 * handle.  The consent half lives in store_consent.c: a withdrawal of
 * sharing revokes the tenancy's grants there.
 */
#include "foyer/store_grant.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "foyer/store_auth.h"
#include "foyer/store_consent.h"
#include "foyer/store_tenancy.h"
#include "store_int.h"

static _Thread_local char grant_msg[512];

static const char grant_cols[] =
    "id, dwelling, tenancy, grantee, created, expires, revoked, created_by, revoked_by";

/* A bound parameter: text (NULL binds NULL) or integer. */
struct grant_arg {
    bool is_text;
    const char *s;
    int64_t i;
};
#define GRANT_S(x)                                                                                 \
    {                                                                                              \
        .is_text = true, .s = (x)                                                                  \
    }
#define GRANT_I(x)                                                                                 \
    {                                                                                              \
        .is_text = false, .i = (x)                                                                 \
    }

/* Prepare sql on db with args a bound: SQLITE_OK and *ret_st, or the
 * error code (*ret_st NULL). */
static int grant_prepare(sqlite3 *db, const char *sql, const struct grant_arg *a, int n,
                         sqlite3_stmt **ret_st)
{
    int src = sqlite3_prepare_v2(db, sql, -1, ret_st, NULL);
    for (int k = 0; src == SQLITE_OK && k < n; k++) {
        if (!a[k].is_text)
            sqlite3_bind_int64(*ret_st, k + 1, a[k].i);
        else if (a[k].s)
            sqlite3_bind_text(*ret_st, k + 1, a[k].s, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(*ret_st, k + 1);
    }
    return src;
}

/* Run sql with args once: SQLITE_ROW (column 0 into *ret_int when not
 * NULL) or SQLITE_DONE, else the error code (grant_msg says it). */
static int grant_run(sqlite3 *db, const char *sql, const struct grant_arg *a, int n,
                     int64_t *ret_int)
{
    sqlite3_stmt *st = NULL;
    int src = grant_prepare(db, sql, a, n, &st);
    if (src == SQLITE_OK)
        src = sqlite3_step(st);
    if (src == SQLITE_ROW && ret_int)
        *ret_int = sqlite3_column_int64(st, 0);
    if (src != SQLITE_ROW && src != SQLITE_DONE)
        (void)snprintf(grant_msg, sizeof(grant_msg), "grants: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return src;
}

static void grant_row(sqlite3_stmt *st, struct store_grant *g)
{
    const char *t;
    memset(g, 0, sizeof(*g));
    g->id = sqlite3_column_int64(st, 0);
    t = (const char *)sqlite3_column_text(st, 1);
    (void)snprintf(g->dwelling, sizeof(g->dwelling), "%s", t ? t : "");
    t = (const char *)sqlite3_column_text(st, 2);
    (void)snprintf(g->tenancy, sizeof(g->tenancy), "%s", t ? t : "");
    t = (const char *)sqlite3_column_text(st, 3);
    (void)snprintf(g->grantee, sizeof(g->grantee), "%s", t ? t : "");
    g->created_s = sqlite3_column_int64(st, 4);
    g->expires_s = sqlite3_column_int64(st, 5);
    g->revoked_s = sqlite3_column_int64(st, 6);
    t = (const char *)sqlite3_column_text(st, 7);
    (void)snprintf(g->created_by, sizeof(g->created_by), "%s", t ? t : "");
    t = (const char *)sqlite3_column_text(st, 8);
    (void)snprintf(g->revoked_by, sizeof(g->revoked_by), "%s", t ? t : "");
}

/* The tenancy of config dwelling d current at now_s among tv: *ret_id its
 * ID or NULL (a dwelling without tenancies); false between two tenancies
 * (nothing to grant or read for). */
static bool grant_tenancy(const struct tenancy *tv, size_t n_tv, uint32_t d, int64_t now_s,
                          const char **ret_id)
{
    const struct tenancy *t = store_tenancy_current(tv, n_tv, d, now_s);
    bool any = false;
    for (size_t i = 0; i < n_tv; i++)
        any = any || tv[i].dwelling == d;
    *ret_id = t ? t->id : NULL;
    return t || !any;
}

/* Whether the live ambassador token named grantee covers building. */
static int grant_grantee_ok(sqlite3 *db, const char *grantee, const char *building, int64_t now_s)
{
    static const char sql[] = "SELECT buildings FROM tokens WHERE name = ?1 AND role = 'ambassador'"
                              " AND revoked IS NULL AND hash IS NOT NULL"
                              " AND (expires IS NULL OR expires <= 0 OR expires > ?2)";
    sqlite3_stmt *st = NULL;
    int rc = -ENOENT;
    int src = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_text(st, 1, grantee, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, now_s);
        src = sqlite3_step(st);
    }
    if (src == SQLITE_ROW) {
        rc = store_auth_buildings_has((const char *)sqlite3_column_text(st, 0), building) ? 0
                                                                                          : -EACCES;
        if (rc < 0)
            (void)snprintf(grant_msg, sizeof(grant_msg),
                           "grantee: the ambassador \"%s\" does not cover building %s", grantee,
                           building);
    } else if (src == SQLITE_DONE) {
        (void)snprintf(grant_msg, sizeof(grant_msg),
                       "grantee: no live ambassador token named \"%s\"", grantee);
    } else {
        (void)snprintf(grant_msg, sizeof(grant_msg), "tokens: %s", sqlite3_errmsg(db));
        rc = store_sqlite_errno(src);
    }
    sqlite3_finalize(st);
    return rc;
}

static const char sql_active_n[] =
    "SELECT count(*) FROM grants WHERE dwelling = ?1 AND tenancy IS ?2"
    " AND revoked IS NULL AND expires > ?3";
static const char sql_consent[] = "INSERT INTO consents(dwelling, tenancy, purpose, given, ts, by)"
                                  " VALUES (?1, ?2, 'sharing', ?3, ?4, ?5)";

/* Open db_path, BEGIN IMMEDIATE, read the tenancies: *ret_tenancy the
 * dwelling's current one (NULL none), tv kept for it (caller frees). */
static int grant_begin(const char *db_path, const struct foyer_config *cfg, uint32_t d,
                       int64_t now_s, sqlite3 **ret_db, struct tenancy **ret_tv,
                       const char **ret_tenancy, const char **ret_err_msg)
{
    sqlite3 *db = NULL;
    struct tenancy *tv = NULL;
    size_t n_tv = 0;
    int rc = store_open_call(db_path, &db, ret_err_msg);
    if (rc < 0)
        return rc;
    *ret_err_msg = grant_msg;
    rc = store_exec(db, "BEGIN IMMEDIATE");
    if (rc < 0)
        (void)snprintf(grant_msg, sizeof(grant_msg), "%s", sqlite3_errmsg(db));
    if (rc == 0)
        rc = store_tenancy_read_db(db, cfg, &tv, &n_tv);
    if (rc == 0 && !grant_tenancy(tv, n_tv, d, now_s, ret_tenancy)) {
        (void)snprintf(grant_msg, sizeof(grant_msg),
                       "dwelling %s has no current tenancy: a grant is the household's",
                       cfg->dwellings[d].id);
        rc = -ENOENT;
    }
    if (rc < 0) {
        if (!grant_msg[0])
            (void)snprintf(grant_msg, sizeof(grant_msg), "%s", sqlite3_errmsg(db));
        free(tv);
        sqlite3_close(db); /* rolls back */
        return rc;
    }
    *ret_db = db;
    *ret_tv = tv;
    return 0;
}

static int grant_end(sqlite3 *db, struct tenancy *tv, int rc)
{
    if (rc == 0) {
        rc = store_exec(db, "COMMIT");
        if (rc < 0)
            (void)snprintf(grant_msg, sizeof(grant_msg), "%s", sqlite3_errmsg(db));
    }
    free(tv);
    sqlite3_close(db); /* rolls back what was not committed */
    return rc;
}

static int grant_sqlite_rc(int src)
{
    return src == SQLITE_ROW || src == SQLITE_DONE ? 0 : store_sqlite_errno(src);
}

int store_grant_create(const char *db_path, const struct foyer_config *cfg, const char *dwelling,
                       const char *grantee, int days, const char *by, int64_t now_s,
                       int64_t *ret_id, const char **ret_err_msg)
{
    static const char ins[] =
        "INSERT INTO grants(dwelling, tenancy, grantee, created, expires, created_by)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
    int32_t d = config_find_dwelling(cfg, dwelling);
    sqlite3 *db = NULL;
    struct tenancy *tv = NULL;
    const char *tenancy = NULL;
    grant_msg[0] = '\0';
    *ret_err_msg = grant_msg;
    if (d < 0) {
        (void)snprintf(grant_msg, sizeof(grant_msg), "unknown dwelling \"%s\"", dwelling);
        return -ENOENT;
    }
    if (days < 1 || days > FOYER_GRANT_DAYS_MAX) {
        (void)snprintf(grant_msg, sizeof(grant_msg), "days: %d is not 1 to %d", days,
                       FOYER_GRANT_DAYS_MAX);
        return -EINVAL;
    }
    int rc = grant_begin(db_path, cfg, (uint32_t)d, now_s, &db, &tv, &tenancy, ret_err_msg);
    if (rc < 0)
        return rc;
    const char *building = cfg->buildings[cfg->dwellings[d].building].id;
    rc = grant_grantee_ok(db, grantee, building, now_s);
    int64_t n_active = 0;
    if (rc == 0) {
        struct grant_arg a[] = {GRANT_S(dwelling), GRANT_S(tenancy), GRANT_I(now_s)};
        rc = grant_sqlite_rc(grant_run(db, sql_active_n, a, 3, &n_active));
    }
    if (rc == 0 && n_active >= FOYER_GRANTS_ACTIVE_MAX) {
        (void)snprintf(grant_msg, sizeof(grant_msg),
                       "dwelling %s has %d active grants already, the most there may be "
                       "(revoke one first)",
                       dwelling, FOYER_GRANTS_ACTIVE_MAX);
        rc = -EMLINK;
    }
    if (rc == 0) {
        struct grant_arg a[] = {GRANT_S(dwelling),
                                GRANT_S(tenancy),
                                GRANT_S(grantee),
                                GRANT_I(now_s),
                                GRANT_I(now_s + (int64_t)days * 86400),
                                GRANT_S(by)};
        rc = grant_sqlite_rc(grant_run(db, ins, a, 6, NULL));
    }
    int64_t id = rc == 0 ? sqlite3_last_insert_rowid(db) : 0;
    if (rc == 0) {
        /* Sharing is consented to by the act of granting. */
        struct grant_arg a[] = {GRANT_S(dwelling), GRANT_S(tenancy), GRANT_I(1), GRANT_I(now_s),
                                GRANT_S(by)};
        rc = grant_sqlite_rc(grant_run(db, sql_consent, a, 5, NULL));
    }
    rc = grant_end(db, tv, rc);
    if (rc == 0) {
        *ret_id = id;
        *ret_err_msg = NULL;
    }
    return rc;
}

int store_grant_revoke(const char *db_path, const struct foyer_config *cfg, const char *dwelling,
                       int64_t id, const char *by, int64_t now_s, const char **ret_err_msg)
{
    static const char sel[] = "SELECT revoked IS NOT NULL OR expires <= ?4 FROM grants"
                              " WHERE id = ?1 AND dwelling = ?2 AND tenancy IS ?3";
    static const char upd[] = "UPDATE grants SET revoked = ?2, revoked_by = ?3 WHERE id = ?1";
    int32_t d = config_find_dwelling(cfg, dwelling);
    sqlite3 *db = NULL;
    struct tenancy *tv = NULL;
    const char *tenancy = NULL;
    grant_msg[0] = '\0';
    *ret_err_msg = grant_msg;
    if (d < 0) {
        (void)snprintf(grant_msg, sizeof(grant_msg), "unknown dwelling \"%s\"", dwelling);
        return -ENOENT;
    }
    int rc = grant_begin(db_path, cfg, (uint32_t)d, now_s, &db, &tv, &tenancy, ret_err_msg);
    if (rc < 0)
        return rc;
    int64_t over = 0;
    struct grant_arg a[] = {GRANT_I(id), GRANT_S(dwelling), GRANT_S(tenancy), GRANT_I(now_s)};
    int src = grant_run(db, sel, a, 4, &over);
    rc = grant_sqlite_rc(src);
    if (src == SQLITE_DONE) {
        (void)snprintf(grant_msg, sizeof(grant_msg), "grant %lld: not one of this household's",
                       (long long)id);
        rc = -ENOENT;
    } else if (rc == 0 && over) {
        (void)snprintf(grant_msg, sizeof(grant_msg), "grant %lld: revoked or expired already",
                       (long long)id);
        rc = -EALREADY;
    }
    if (rc == 0) {
        struct grant_arg u[] = {GRANT_I(id), GRANT_I(now_s), GRANT_S(by)};
        rc = grant_sqlite_rc(grant_run(db, upd, u, 3, NULL));
    }
    int64_t n_active = 0;
    if (rc == 0) {
        struct grant_arg c[] = {GRANT_S(dwelling), GRANT_S(tenancy), GRANT_I(now_s)};
        rc = grant_sqlite_rc(grant_run(db, sql_active_n, c, 3, &n_active));
    }
    if (rc == 0 && n_active == 0) {
        /* Nobody is shared with any more: the consent to share ends. */
        struct grant_arg c[] = {GRANT_S(dwelling), GRANT_S(tenancy), GRANT_I(0), GRANT_I(now_s),
                                GRANT_S(by)};
        rc = grant_sqlite_rc(grant_run(db, sql_consent, c, 5, NULL));
    }
    rc = grant_end(db, tv, rc);
    if (rc == 0)
        *ret_err_msg = NULL;
    return rc;
}

/* The sharing consent of the dwelling of the rows last judged: the rows
 * come by dwelling, so it is read once per dwelling, not once per row. */
struct grant_sharing {
    int32_t d; /* -1: none read yet */
    bool given;
};

/* Whether g, read at now_s, is active: the SQL has checked nothing. */
static bool grant_is_active(struct store *s, const struct foyer_config *cfg,
                            const struct tenancy *tv, size_t n_tv, uint32_t d,
                            const struct store_grant *g, int64_t now_s,
                            struct grant_sharing *sharing, int *ret_rc)
{
    const char *tenancy = NULL;
    if (g->revoked_s != 0 || g->expires_s <= now_s)
        return false;
    if (!grant_tenancy(tv, n_tv, d, now_s, &tenancy) || strcmp(tenancy ? tenancy : "", g->tenancy))
        return false;
    if (sharing->d != (int32_t)d) {
        struct store_consent c;
        int rc = store_consent_get(s, cfg, d, STORE_PURPOSE_SHARING, now_s, &c);
        if (rc < 0) {
            *ret_rc = rc;
            return false;
        }
        sharing->d = (int32_t)d;
        sharing->given = c.given;
    }
    return sharing->given;
}

/* Rows of sql (grant_cols, args a) to fn, each judged active at now_s;
 * only_active: the others skipped, and one per dwelling (the first). */
static int grant_each(struct store *s, const struct foyer_config *cfg, const char *sql,
                      const struct grant_arg *a, int n, int64_t now_s, bool only_active,
                      int (*fn)(void *ctx, const struct store_grant *g), void *ctx)
{
    struct tenancy *tv = NULL;
    size_t n_tv = 0;
    sqlite3_stmt *st = NULL;
    char last[FOYER_ID_MAX + 1] = "";
    struct grant_sharing sharing = {.d = -1};
    int rc = store_tenancy_read(s, cfg, &tv, &n_tv);
    if (rc < 0)
        return rc;
    int src = grant_prepare(s->db, sql, a, n, &st);
    while (st && rc == 0 && (src = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_grant g;
        grant_row(st, &g);
        int32_t d = config_find_dwelling(cfg, g.dwelling);
        if (d < 0)
            continue;
        g.active = grant_is_active(s, cfg, tv, n_tv, (uint32_t)d, &g, now_s, &sharing, &rc);
        if (rc < 0)
            break;
        if (only_active && (!g.active || strcmp(last, g.dwelling) == 0))
            continue;
        (void)snprintf(last, sizeof(last), "%s", g.dwelling);
        rc = fn(ctx, &g);
    }
    if (rc == 0 && src != SQLITE_DONE && src != SQLITE_ROW) {
        store_note_error(s);
        rc = store_sqlite_errno(src);
    }
    sqlite3_finalize(st);
    free(tv);
    return rc;
}

int store_grant_list(struct store *s, const struct foyer_config *cfg, uint32_t d, int64_t now_s,
                     int (*fn)(void *ctx, const struct store_grant *g), void *ctx)
{
    char sql[256];
    struct tenancy *tv = NULL;
    size_t n_tv = 0;
    const char *tenancy = NULL;
    if (d >= cfg->n_dwellings)
        return -EINVAL;
    int rc = store_tenancy_read_dwelling(s, cfg, d, &tv, &n_tv);
    if (rc < 0)
        return rc;
    bool current = grant_tenancy(tv, n_tv, d, now_s, &tenancy);
    char tid[FOYER_ID_MAX + 1] = "";
    if (tenancy)
        (void)snprintf(tid, sizeof(tid), "%s", tenancy);
    free(tv);
    if (!current)
        return 0;
    (void)snprintf(sql, sizeof(sql),
                   "SELECT %s FROM grants WHERE dwelling = ?1 AND tenancy IS ?2 ORDER BY id DESC",
                   grant_cols);
    struct grant_arg a[] = {GRANT_S(cfg->dwellings[d].id), GRANT_S(tid[0] ? tid : NULL)};
    return grant_each(s, cfg, sql, a, 2, now_s, false, fn, ctx);
}

int store_grant_list_grantee(struct store *s, const struct foyer_config *cfg, const char *grantee,
                             int64_t now_s, int (*fn)(void *ctx, const struct store_grant *g),
                             void *ctx)
{
    char sql[256];
    (void)snprintf(sql, sizeof(sql),
                   "SELECT %s FROM grants WHERE grantee = ?1 AND revoked IS NULL"
                   " AND expires > ?2 ORDER BY dwelling, id DESC",
                   grant_cols);
    struct grant_arg a[] = {GRANT_S(grantee), GRANT_I(now_s)};
    return grant_each(s, cfg, sql, a, 2, now_s, true, fn, ctx);
}

static int grant_keep(void *ctx, const struct store_grant *g)
{
    *(struct store_grant *)ctx = *g;
    return 1;
}

int store_grant_active(struct store *s, const struct foyer_config *cfg, uint32_t d,
                       const char *grantee, int64_t now_s, struct store_grant *ret)
{
    char sql[256];
    struct store_grant g;
    if (d >= cfg->n_dwellings)
        return -EINVAL;
    (void)snprintf(sql, sizeof(sql),
                   "SELECT %s FROM grants WHERE grantee = ?1 AND dwelling = ?2"
                   " AND revoked IS NULL AND expires > ?3 ORDER BY id DESC",
                   grant_cols);
    struct grant_arg a[] = {GRANT_S(grantee), GRANT_S(cfg->dwellings[d].id), GRANT_I(now_s)};
    int rc = grant_each(s, cfg, sql, a, 3, now_s, true, grant_keep, &g);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return -ENOENT;
    *ret = g;
    return 0;
}
