/*
 * store_people.c - the tip_answers and reports tables (daemon/store/store.c
 * describes them; include/foyer/store_people.h says who calls and why each
 * write has a connection of its own).
 *
 * Writes: open the database read-write (never create it: foyerd's writer
 * made and migrated it), one statement, close.  A few writes a day do not
 * pay for a kept connection, and a connection per call shares nothing
 * between libmicrohttpd's threads.  Reads: statements prepared on the
 * caller's handle for the call and finalised before returning, so no read
 * transaction stays open (they run a few times per page, not thousands).
 */
#include "foyer/store_people.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store_int.h"

enum people_write { PW_TIP, PW_REPORT_OPEN, PW_REPORT_CLOSE };

static const char *const people_write_sql[] = {
    [PW_TIP] = "INSERT INTO tip_answers(dwelling, tip, answer, ts) VALUES (?1, ?2, ?3, ?4)",
    [PW_REPORT_OPEN] = "INSERT INTO reports(building, dwelling, kind, text, opened)"
                       " VALUES (?1, ?2, ?3, ?4, ?5)",
    [PW_REPORT_CLOSE] = "UPDATE reports SET closed = ?2, closed_by = ?3"
                        " WHERE id = ?1 AND closed IS NULL",
};

/* Open path for one write, prepare statement which.  0 or -errno. */
static int people_open(const char *path, enum people_write which, sqlite3 **ret_db,
                       sqlite3_stmt **ret_st)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    /* Callers report the -errno alone: no message kept. */
    int rc = store_open_stmts(path, STORE_PEOPLE_BUSY_MS, &people_write_sql[which], 1, &st, NULL, 0,
                              &db);
    if (rc < 0)
        return rc;
    *ret_db = db;
    *ret_st = st;
    return 0;
}

/* Step the prepared write, close everything; *ret_changes (when not NULL)
 * = rows changed.  0 or -errno. */
static int people_run(sqlite3 *db, sqlite3_stmt *st, int64_t *ret_changes, int64_t *ret_rowid)
{
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE) {
        if (ret_changes)
            *ret_changes = sqlite3_changes(db);
        if (ret_rowid)
            *ret_rowid = sqlite3_last_insert_rowid(db);
    }
    sqlite3_close(db);
    return rc == SQLITE_DONE ? 0 : store_sqlite_errno(rc);
}

int store_people_tip_answer(const char *path, const char *dwelling, const char *tip,
                            const char *answer, int64_t now_s)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int rc = people_open(path, PW_TIP, &db, &st);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(st, 1, dwelling, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, tip, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, answer, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, now_s);
    return people_run(db, st, NULL, NULL);
}

int store_people_report_open(const char *path, const char *building, const char *dwelling,
                             const char *kind, const char *text, int64_t now_s, int64_t *ret_id)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int64_t id = 0;
    int rc = people_open(path, PW_REPORT_OPEN, &db, &st);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(st, 1, building, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, dwelling, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, text, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, now_s);
    rc = people_run(db, st, NULL, &id);
    if (rc == 0 && ret_id)
        *ret_id = id;
    return rc;
}

int store_people_report_close(const char *path, int64_t id, const char *closed_by, int64_t now_s)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int64_t changes = 0;
    int rc = people_open(path, PW_REPORT_CLOSE, &db, &st);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, now_s);
    sqlite3_bind_text(st, 3, closed_by, -1, SQLITE_STATIC);
    rc = people_run(db, st, &changes, NULL);
    if (rc == 0 && changes == 0)
        return -ENOENT;
    return rc;
}

/* Prepare sql on the handle for one read.  0 or -errno (kept for
 * store_errmsg()). */
static int people_prepare(struct store *s, const char *sql, sqlite3_stmt **ret)
{
    int rc = sqlite3_prepare_v2(s->db, sql, -1, ret, NULL);
    if (rc != SQLITE_OK) {
        store_note_error(s);
        return store_sqlite_errno(rc);
    }
    return 0;
}

/* The end of a scan: SQLITE_DONE is success, a callback's value is given
 * back as is, anything else is a database error. */
static int people_scan_end(struct store *s, sqlite3_stmt *st, int rc, int stop)
{
    if (stop == 0 && rc != SQLITE_DONE)
        store_note_error(s);
    sqlite3_finalize(st);
    if (stop != 0)
        return stop;
    return rc == SQLITE_DONE ? 0 : store_sqlite_errno(rc);
}

static const char *col_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : "";
}

int store_people_read_tip_answers(struct store *s, const char *dwelling, int64_t since_s,
                                  int (*fn)(void *ctx, const struct store_tip_answer *a), void *ctx)
{
    sqlite3_stmt *st = NULL;
    int rc = people_prepare(s,
                            "SELECT tip, answer, ts FROM tip_answers WHERE dwelling = ?1"
                            " AND ts >= ?2 ORDER BY ts, rowid",
                            &st);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(st, 1, dwelling, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, since_s);
    int stop = 0;
    while (stop == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_tip_answer a = {
            .tip = col_text(st, 0),
            .answer = col_text(st, 1),
            .ts_s = sqlite3_column_int64(st, 2),
        };
        stop = fn(ctx, &a);
    }
    return people_scan_end(s, st, rc, stop);
}

int store_people_read_reports(struct store *s, const char *building, bool open_only,
                              int (*fn)(void *ctx, const struct store_report *r), void *ctx)
{
    sqlite3_stmt *st = NULL;
    int rc = people_prepare(s,
                            "SELECT id, building, dwelling, kind, text, opened, closed, closed_by"
                            " FROM reports WHERE building = ?1 AND (?2 = 0 OR closed IS NULL)"
                            " ORDER BY opened, id",
                            &st);
    if (rc < 0)
        return rc;
    sqlite3_bind_text(st, 1, building, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, open_only ? 1 : 0);
    int stop = 0;
    while (stop == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        bool closed = sqlite3_column_type(st, 6) != SQLITE_NULL;
        struct store_report r = {
            .id = sqlite3_column_int64(st, 0),
            .building = col_text(st, 1),
            .dwelling = col_text(st, 2),
            .kind = col_text(st, 3),
            .text = col_text(st, 4),
            .opened_s = sqlite3_column_int64(st, 5),
            .closed_s = closed ? sqlite3_column_int64(st, 6) : 0,
            .closed_by = closed ? col_text(st, 7) : NULL,
        };
        stop = fn(ctx, &r);
    }
    return people_scan_end(s, st, rc, stop);
}

int store_people_report_building(struct store *s, int64_t id, char *buf, size_t len)
{
    sqlite3_stmt *st = NULL;
    int rc = people_prepare(s, "SELECT building FROM reports WHERE id = ?1", &st);
    if (rc < 0)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    rc = sqlite3_step(st);
    int ret;
    if (rc == SQLITE_ROW) {
        const char *b = col_text(st, 0);
        if (strlen(b) >= len) {
            ret = -ENAMETOOLONG;
        } else {
            memcpy(buf, b, strlen(b) + 1);
            ret = 0;
        }
    } else if (rc == SQLITE_DONE) {
        ret = -ENOENT;
    } else {
        store_note_error(s);
        ret = store_sqlite_errno(rc);
    }
    sqlite3_finalize(st);
    return ret;
}
