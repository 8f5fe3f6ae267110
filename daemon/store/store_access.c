/*
 * store_access.c - the access_log table (include/foyer/store_access.h).
 *
 * In: the HTTP API's energy-team and ambassador routes that read one
 * dwelling's data, and foyerctl export of a dwelling, each appending on a
 * connection opened for the call (reads of a dwelling's data by the team
 * are a few a day; the server's handles are read-only, and the writer's
 * queue carries readings only).  Out: foyerctl access-log, on a read-only
 * handle.  The table sits apart from the readings and holds no figure.
 */
#include "foyer/store_access.h"

#include <errno.h>
#include <stdio.h>

#include <sqlite3.h>

#include "foyer/limits.h"
#include "store_int.h"

static _Thread_local char access_msg[512];

int store_access_append(const char *db_path, const struct store_access *a, const char **ret_err_msg)
{
    static const char ins[] = "INSERT INTO access_log(ts, who, role, what, dwelling, origin)"
                              " VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
    static const char del[] = "DELETE FROM access_log WHERE ts < ?1";
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int rc = store_open_call(db_path, &db, ret_err_msg);
    if (rc < 0)
        return rc;
    int src = sqlite3_prepare_v2(db, ins, -1, &st, NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, a->ts_s);
        sqlite3_bind_text(st, 2, a->who, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, a->role, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, a->what, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, a->dwelling, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, a->origin, -1, SQLITE_STATIC);
        src = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    st = NULL;
    if (src == SQLITE_DONE) {
        src = sqlite3_prepare_v2(db, del, -1, &st, NULL);
        if (src == SQLITE_OK) {
            sqlite3_bind_int64(st, 1, a->ts_s - (int64_t)FOYER_ACCESS_LOG_DAYS * 86400);
            src = sqlite3_step(st);
        }
        sqlite3_finalize(st);
    }
    if (src != SQLITE_DONE) {
        (void)snprintf(access_msg, sizeof(access_msg), "access log: %s", sqlite3_errmsg(db));
        *ret_err_msg = access_msg;
        rc = store_sqlite_errno(src);
    }
    sqlite3_close(db);
    return rc;
}

int store_access_list(struct store *s, const char *dwelling, int64_t since_s,
                      int (*fn)(void *ctx, const struct store_access *a), void *ctx)
{
    static const char sql[] =
        "SELECT ts, who, role, what, dwelling, origin FROM access_log"
        " WHERE ts >= ?1 AND (?2 IS NULL OR dwelling IN (?2, '*')) ORDER BY id";
    sqlite3_stmt *st = NULL;
    int rc = 0;
    int src = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (src == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, since_s);
        if (dwelling)
            sqlite3_bind_text(st, 2, dwelling, -1, SQLITE_STATIC);
        while ((src = sqlite3_step(st)) == SQLITE_ROW) {
            struct store_access a = {
                .ts_s = sqlite3_column_int64(st, 0),
                .who = (const char *)sqlite3_column_text(st, 1),
                .role = (const char *)sqlite3_column_text(st, 2),
                .what = (const char *)sqlite3_column_text(st, 3),
                .dwelling = (const char *)sqlite3_column_text(st, 4),
                .origin = (const char *)sqlite3_column_text(st, 5),
            };
            rc = fn(ctx, &a);
            if (rc != 0)
                break;
        }
    }
    if (rc == 0 && src != SQLITE_DONE) {
        store_note_error(s);
        rc = store_sqlite_errno(src);
    }
    sqlite3_finalize(st);
    return rc;
}
