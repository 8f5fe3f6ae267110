/*
 * store_consent.c - the consents table: a household's consent per purpose,
 * appended with who and when (include/foyer/store_consent.h; the table is
 * described in store.c).
 *
 * In: foyerctl consent set|withdraw and the tenant's own consent form and
 * API, on a write connection opened for the call; a withdrawal of sharing
 * revokes the tenancy's grants (store_grant.c) in the same transaction.  Out: store_consent_get()
 * and store_consent_load_curve() on any handle, for retention (foyerd's writer, hourly: a
 * withdrawal deletes the hourly figures past the raw window within the hour), the export and the
 * HTTP API (at each request: a withdrawal holds at once for reads).
 */
#include "foyer/store_consent.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sqlite3.h>

#include "foyer/store_tenancy.h"
#include "foyer/timeutil.h"
#include "store_int.h"

static const char *const purpose_names[STORE_PURPOSE_N] = {
    [STORE_PURPOSE_LOAD_CURVE] = "load_curve",
    [STORE_PURPOSE_SHARING] = "sharing",
};

static _Thread_local char consent_msg[512];

const char *store_purpose_name(enum store_purpose p)
{
    return (unsigned)p < STORE_PURPOSE_N ? purpose_names[p] : NULL;
}

int store_purpose_parse(const char *name, enum store_purpose *ret)
{
    for (int p = 0; p < STORE_PURPOSE_N; p++)
        if (strcmp(name, purpose_names[p]) == 0) {
            *ret = (enum store_purpose)p;
            return 0;
        }
    return -EINVAL;
}

/* The consent of dwelling d's household current at now_s, on db. */
static int consent_db(sqlite3 *db, const struct foyer_config *cfg, const struct tenancy *tv,
                      size_t n_tv, uint32_t d, enum store_purpose p, int64_t now_s,
                      struct store_consent *ret)
{
    static const char sql_rec[] = "SELECT given, ts, by FROM consents WHERE dwelling = ?1"
                                  " AND tenancy IS ?2 AND purpose = ?3 ORDER BY id DESC LIMIT 1";
    static const char sql_def[] = "SELECT consent FROM tenancies WHERE id = ?1";
    const struct tenancy *t = store_tenancy_current(tv, n_tv, d, now_s);
    struct store_consent c = {.given = p == STORE_PURPOSE_LOAD_CURVE && cfg->dwellings[d].consent};
    sqlite3_stmt *st = NULL;
    if (t)
        (void)snprintf(c.tenancy, sizeof(c.tenancy), "%s", t->id);
    int src = sqlite3_prepare_v2(db, sql_rec, -1, &st, NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_text(st, 1, cfg->dwellings[d].id, -1, SQLITE_STATIC);
        if (t)
            sqlite3_bind_text(st, 2, t->id, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 2);
        sqlite3_bind_text(st, 3, purpose_names[p], -1, SQLITE_STATIC);
        src = sqlite3_step(st);
        if (src == SQLITE_ROW) {
            c.given = sqlite3_column_int(st, 0) != 0;
            c.recorded = true;
            c.ts_s = sqlite3_column_int64(st, 1);
            const unsigned char *by = sqlite3_column_text(st, 2);
            (void)snprintf(c.by, sizeof(c.by), "%s", by ? (const char *)by : "");
        }
    }
    sqlite3_finalize(st);
    st = NULL;
    /* No record: a tenancy's default (the flag when it was added). */
    if ((src == SQLITE_ROW || src == SQLITE_DONE) && !c.recorded && t &&
        p == STORE_PURPOSE_LOAD_CURVE) {
        src = sqlite3_prepare_v2(db, sql_def, -1, &st, NULL);
        if (src == SQLITE_OK) {
            sqlite3_bind_text(st, 1, t->id, -1, SQLITE_STATIC);
            src = sqlite3_step(st);
            if (src == SQLITE_ROW)
                c.given = sqlite3_column_int(st, 0) != 0;
        }
        sqlite3_finalize(st);
    }
    if (src != SQLITE_ROW && src != SQLITE_DONE) {
        (void)snprintf(consent_msg, sizeof(consent_msg), "consents: %s", sqlite3_errmsg(db));
        return store_sqlite_errno(src);
    }
    *ret = c;
    return 0;
}

int store_consent_get(struct store *s, const struct foyer_config *cfg, uint32_t d,
                      enum store_purpose p, int64_t now_s, struct store_consent *ret)
{
    struct tenancy *tv = NULL;
    size_t n_tv = 0;
    if (d >= cfg->n_dwellings || (unsigned)p >= STORE_PURPOSE_N)
        return -EINVAL;
    int rc = store_tenancy_read(s, cfg, &tv, &n_tv);
    if (rc < 0)
        return rc;
    rc = consent_db(s->db, cfg, tv, n_tv, d, p, now_s, ret);
    if (rc < 0)
        (void)snprintf(s->errmsg, sizeof(s->errmsg), "%s", consent_msg);
    free(tv);
    return rc;
}

int store_consent_load_curve(struct store *s, const struct foyer_config *cfg, int64_t now_s,
                             bool *ret)
{
    struct tenancy *tv = NULL;
    size_t n_tv = 0;
    int rc = store_tenancy_read(s, cfg, &tv, &n_tv);
    bool *v = rc == 0 ? calloc(cfg->n_dwellings + 1, sizeof(*v)) : NULL;
    if (rc == 0 && !v)
        rc = -ENOMEM;
    for (size_t d = 0; rc == 0 && d < cfg->n_dwellings; d++) {
        struct store_consent c;
        rc = consent_db(s->db, cfg, tv, n_tv, (uint32_t)d, STORE_PURPOSE_LOAD_CURVE, now_s, &c);
        if (rc < 0)
            (void)snprintf(s->errmsg, sizeof(s->errmsg), "%s", consent_msg);
        else
            v[d] = c.given;
    }
    if (rc == 0 && cfg->n_dwellings)
        memcpy(ret, v, cfg->n_dwellings * sizeof(*v));
    free(v);
    free(tv);
    return rc;
}

/* The withdrawal item of dwelling's load_curve consent at now_s, queued
 * for the uplink (the caller checks that [uplink] is set). */
static int queue_withdrawal(sqlite3 *db, const char *dwelling, int64_t now_s)
{
    json_t *channels = NULL, *o;
    char since[40], key[FOYER_ID_MAX + 64];
    int rc = store_uplink_dwelling_channels(db, dwelling, &channels);
    if (rc == 0) {
        o = json_object();
        tu_format_local(now_s, since, sizeof(since));
        if (o) {
            json_object_set_new(o, "type", json_string("withdrawal"));
            json_object_set_new(o, "dwelling", json_string(dwelling));
            json_object_set_new(o, "purpose", json_string(purpose_names[STORE_PURPOSE_LOAD_CURVE]));
            json_object_set_new(o, "channels", channels);
            json_object_set_new(o, "since", json_string(since));
            json_object_set_new(o, "since_s", json_integer(now_s));
        } else {
            json_decref(channels);
        }
        (void)snprintf(key, sizeof(key), "withdrawal:%s:load_curve:%lld", dwelling,
                       (long long)now_s);
        rc = o ? store_uplink_queue_privacy(db, "withdrawal", key, o, now_s) : -ENOMEM;
    }
    if (rc < 0)
        (void)snprintf(consent_msg, sizeof(consent_msg), "uplink_outbox: %s",
                       rc == -ENOMEM ? "out of memory" : sqlite3_errmsg(db));
    return rc;
}

int store_consent_record(const char *db_path, const struct foyer_config *cfg, const char *dwelling,
                         enum store_purpose p, bool given, const char *by, int64_t now_s,
                         char *ret_tenancy, const char **ret_err_msg)
{
    static const char sql[] = "INSERT INTO consents(dwelling, tenancy, purpose, given, ts, by)"
                              " VALUES (?1, NULLIF(?2, ''), ?3, ?4, ?5, ?6)";
    static const char sql_revoke[] = "UPDATE grants SET revoked = ?1, revoked_by = ?2"
                                     " WHERE dwelling = ?3 AND tenancy IS ?4 AND revoked IS NULL";
    int32_t d = config_find_dwelling(cfg, dwelling);
    sqlite3 *db = NULL;
    struct tenancy *tv = NULL;
    size_t n_tv = 0;
    consent_msg[0] = '\0';
    *ret_err_msg = consent_msg;
    if (d < 0) {
        (void)snprintf(consent_msg, sizeof(consent_msg), "unknown dwelling \"%s\"", dwelling);
        return -ENOENT;
    }
    if ((unsigned)p >= STORE_PURPOSE_N)
        return -EINVAL;
    int rc = store_open_call(db_path, &db, ret_err_msg);
    if (rc < 0)
        return rc;
    *ret_err_msg = consent_msg;
    rc = store_tenancy_read_db(db, cfg, &tv, &n_tv);
    const struct tenancy *t = rc == 0 ? store_tenancy_current(tv, n_tv, (uint32_t)d, now_s) : NULL;
    bool any = false;
    for (size_t i = 0; i < n_tv; i++)
        any = any || tv[i].dwelling == (uint32_t)d;
    if (rc == 0 && !t && any) {
        /* A consent is a household's: between two tenancies there is none
         * to record it for. */
        (void)snprintf(consent_msg, sizeof(consent_msg),
                       "dwelling %s has no current tenancy: a consent is the household's "
                       "(foyerctl tenancy start first)",
                       dwelling);
        rc = -ENOENT;
    }
    sqlite3_stmt *st = NULL;
    /* One transaction: the record and, for a withdrawal of sharing, the
     * end of every grant it covered (store_grant.h). */
    if (rc == 0 && (rc = store_exec(db, "BEGIN IMMEDIATE")) < 0)
        (void)snprintf(consent_msg, sizeof(consent_msg), "%s", sqlite3_errmsg(db));
    if (rc == 0) {
        int src = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
        if (src == SQLITE_OK) {
            sqlite3_bind_text(st, 1, dwelling, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 2, t ? t->id : "", -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 3, purpose_names[p], -1, SQLITE_STATIC);
            sqlite3_bind_int(st, 4, given);
            sqlite3_bind_int64(st, 5, now_s);
            sqlite3_bind_text(st, 6, by, -1, SQLITE_STATIC);
            src = sqlite3_step(st);
        }
        if (src != SQLITE_DONE) {
            (void)snprintf(consent_msg, sizeof(consent_msg), "%s", sqlite3_errmsg(db));
            rc = store_sqlite_errno(src);
        }
        sqlite3_finalize(st);
        st = NULL;
    }
    if (rc == 0 && p == STORE_PURPOSE_SHARING && !given) {
        int src = sqlite3_prepare_v2(db, sql_revoke, -1, &st, NULL);
        if (src == SQLITE_OK) {
            sqlite3_bind_int64(st, 1, now_s);
            sqlite3_bind_text(st, 2, by, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 3, dwelling, -1, SQLITE_STATIC);
            if (t)
                sqlite3_bind_text(st, 4, t->id, -1, SQLITE_STATIC);
            else
                sqlite3_bind_null(st, 4);
            src = sqlite3_step(st);
        }
        if (src != SQLITE_DONE) {
            (void)snprintf(consent_msg, sizeof(consent_msg), "grants: %s", sqlite3_errmsg(db));
            rc = store_sqlite_errno(src);
        }
        sqlite3_finalize(st);
    }
    /* A withdrawal of load_curve reaches the central database too (its
     * hourly figures there are deleted: protocol amendment 3), queued in
     * this transaction so that the record and its item commit together. */
    if (rc == 0 && p == STORE_PURPOSE_LOAD_CURVE && !given && cfg->uplink.enabled)
        rc = queue_withdrawal(db, dwelling, now_s);
    if (rc == 0 && (rc = store_exec(db, "COMMIT")) < 0)
        (void)snprintf(consent_msg, sizeof(consent_msg), "%s", sqlite3_errmsg(db));
    if (rc == 0) {
        (void)snprintf(ret_tenancy, FOYER_ID_MAX + 1, "%s", t ? t->id : "");
        *ret_err_msg = NULL;
    }
    free(tv);
    sqlite3_close(db);
    return rc;
}
