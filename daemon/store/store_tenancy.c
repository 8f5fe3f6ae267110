/*
 * store_tenancy.c - the tenancies table: who lives in a dwelling from when
 * to when, changed at run time (include/foyer/store_tenancy.h; the table is
 * described in store.c).
 *
 * In: the config's [tenancy] sections (seeded, see the header) and
 * foyerctl tenancy start|end, each on a write connection opened for the
 * call (a few changes a year per dwelling), inside one IMMEDIATE
 * transaction so the overlap check and the write see the same table next
 * to a running foyerd.  Out: store_tenancy_read() in the config's struct
 * tenancy shape, for every reader that asked the config before (summaries'
 * clipping, tenant tokens, vacant_use alerts, the team API); it reads the
 * small table at each use, so a change is seen at the next request or
 * computation without a reload.
 *
 * The merge of table and config is one function (merge()): the seed
 * writes exactly what the read shows, so whether foyerd has seeded yet
 * changes nothing that a reader sees.
 */
#include "foyer/store_tenancy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "foyer/store_auth.h"
#include "foyer/timeutil.h"
#include "store_int.h"

/* Busy wait of the call's write connection: foyerd's writer holds the lock
 * a batch at a time (milliseconds). */
#define STORE_TENANCY_BUSY_MS 5000

static _Thread_local char tenancy_msg[512];

struct tlist {
    struct store_tenancy *v;
    size_t n, cap;
};

static struct store_tenancy *tlist_add(struct tlist *l)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        struct store_tenancy *v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return NULL;
        l->v = v;
        l->cap = cap;
    }
    struct store_tenancy *t = &l->v[l->n++];
    memset(t, 0, sizeof(*t));
    return t;
}

static void copy_col(char *dst, size_t len, sqlite3_stmt *st, int col)
{
    const unsigned char *v = sqlite3_column_text(st, col);
    (void)snprintf(dst, len, "%s", v ? (const char *)v : "");
}

static bool overlaps(int32_t s1, int32_t e1, int32_t s2, int32_t e2)
{
    return s1 <= (e2 ? e2 : INT32_MAX) && s2 <= (e1 ? e1 : INT32_MAX);
}

static int cmp_tenancy(const void *a, const void *b)
{
    const struct store_tenancy *x = a, *y = b;
    int c = strcmp(x->dwelling, y->dwelling);
    if (c)
        return c;
    return (x->start_ymd > y->start_ymd) - (x->start_ymd < y->start_ymd);
}

/* The table's rows, then the config's sections it lacks (the seed rule),
 * sorted.  0 or -errno (SQLite's message in tenancy_msg). */
/* Whether the table holds a row with this id (any dwelling). */
static bool stored_id(sqlite3 *db, const char *id)
{
    sqlite3_stmt *st = NULL;
    bool found = false;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM tenancies WHERE id = ?1", -1, &st, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        found = sqlite3_step(st) == SQLITE_ROW;
    }
    sqlite3_finalize(st);
    return found;
}

/* only: NULL, or one dwelling's ID: its tenancies alone, as the whole
 * merge would give them (a tenant's every request asks: the rows of one
 * dwelling and the config sections of it, not every row against every
 * section). */
static int merge(sqlite3 *db, const struct foyer_config *cfg, const char *only, struct tlist *ret)
{
    static const char sql[] = "SELECT id, dwelling, start_ymd, end_ymd, ref, consent, created_by,"
                              " ended IS NULL FROM tenancies WHERE ?1 IS NULL OR dwelling = ?1";
    struct tlist l = {0};
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    int rc = 0;
    if (src == SQLITE_OK && only)
        sqlite3_bind_text(st, 1, only, -1, SQLITE_STATIC);
    while (src == SQLITE_OK || src == SQLITE_ROW) {
        if ((src = sqlite3_step(st)) != SQLITE_ROW)
            break;
        struct store_tenancy *t = tlist_add(&l);
        if (!t) {
            rc = -ENOMEM;
            break;
        }
        copy_col(t->id, sizeof(t->id), st, 0);
        copy_col(t->dwelling, sizeof(t->dwelling), st, 1);
        t->start_ymd = sqlite3_column_int(st, 2);
        t->end_ymd = sqlite3_column_int(st, 3);
        copy_col(t->ref, sizeof(t->ref), st, 4);
        t->consent = sqlite3_column_int(st, 5) != 0;
        copy_col(t->created_by, sizeof(t->created_by), st, 6);
        t->stored = true;
        /* A row seeded from a section that foyerctl tenancy end has not
         * touched follows its section: an end written in the config (and
         * a reload) still ends the tenancy. */
        const struct tenancy *c = NULL;
        for (size_t i = 0; sqlite3_column_int(st, 7) && strcmp(t->created_by, "config") == 0 &&
                           i < cfg->n_tenancies;
             i++)
            if (strcmp(cfg->tenancies[i].id, t->id) == 0 &&
                strcmp(cfg->dwellings[cfg->tenancies[i].dwelling].id, t->dwelling) == 0)
                c = &cfg->tenancies[i];
        if (c && c->start_ymd && (c->start_ymd != t->start_ymd || c->end_ymd != t->end_ymd)) {
            t->start_ymd = c->start_ymd;
            t->end_ymd = c->end_ymd;
            t->stored = false;
        }
    }
    if (rc == 0 && src != SQLITE_DONE) {
        (void)snprintf(tenancy_msg, sizeof(tenancy_msg), "%s", sqlite3_errmsg(db));
        rc = store_sqlite_errno(src);
    }
    sqlite3_finalize(st);
    size_t n_stored = l.n;
    for (size_t i = 0; rc == 0 && i < cfg->n_tenancies; i++) {
        const struct tenancy *c = &cfg->tenancies[i];
        const char *dw = cfg->dwellings[c->dwelling].id;
        if (only && strcmp(dw, only) != 0)
            continue;
        bool skip = false;
        for (size_t j = 0; j < n_stored && !skip; j++)
            skip = strcmp(l.v[j].id, c->id) == 0 ||
                   (strcmp(l.v[j].dwelling, dw) == 0 &&
                    overlaps(l.v[j].start_ymd, l.v[j].end_ymd, c->start_ymd, c->end_ymd));
        /* Only one dwelling's rows were read: a row of another dwelling
         * with this section's id also keeps it out. */
        if (!skip && only)
            skip = stored_id(db, c->id);
        if (skip)
            continue;
        struct store_tenancy *t = tlist_add(&l);
        if (!t) {
            rc = -ENOMEM;
            break;
        }
        (void)snprintf(t->id, sizeof(t->id), "%s", c->id);
        (void)snprintf(t->dwelling, sizeof(t->dwelling), "%s", dw);
        t->start_ymd = c->start_ymd;
        t->end_ymd = c->end_ymd;
        t->consent = cfg->dwellings[c->dwelling].consent;
        (void)snprintf(t->created_by, sizeof(t->created_by), "config");
    }
    if (rc < 0) {
        free(l.v);
        return rc;
    }
    if (l.n)
        qsort(l.v, l.n, sizeof(*l.v), cmp_tenancy);
    *ret = l;
    return 0;
}

static int insert_row(sqlite3 *db, const struct store_tenancy *t, int64_t now_s)
{
    static const char sql[] =
        "INSERT INTO tenancies(id, dwelling, start_ymd, end_ymd, ref, consent, created,"
        " created_by) VALUES (?1, ?2, ?3, ?4, NULLIF(?5, ''), ?6, ?7, ?8)"
        " ON CONFLICT(id) DO UPDATE SET start_ymd = excluded.start_ymd,"
        " end_ymd = excluded.end_ymd";
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, t->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, t->dwelling, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, t->start_ymd);
        sqlite3_bind_int(st, 4, t->end_ymd);
        sqlite3_bind_text(st, 5, t->ref, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 6, t->consent);
        sqlite3_bind_int64(st, 7, now_s);
        sqlite3_bind_text(st, 8, t->created_by, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        (void)snprintf(tenancy_msg, sizeof(tenancy_msg), "%s", sqlite3_errmsg(db));
        return store_sqlite_errno(rc);
    }
    return 0;
}

/* Write the merged list's unseeded entries; inside the caller's
 * transaction. */
static int seed_db(sqlite3 *db, const struct foyer_config *cfg, int64_t now_s)
{
    struct tlist l = {0};
    int rc = merge(db, cfg, NULL, &l);
    for (size_t i = 0; rc == 0 && i < l.n; i++)
        if (!l.v[i].stored)
            rc = insert_row(db, &l.v[i], now_s);
    free(l.v);
    return rc;
}

int store_tenancy_seed(struct store *s, const struct foyer_config *cfg)
{
    if (cfg->n_tenancies == 0)
        return 0;
    int rc = store_exec(s->db, "BEGIN IMMEDIATE");
    if (rc < 0)
        return rc;
    rc = seed_db(s->db, cfg, tu_now_s());
    if (rc == 0)
        rc = store_exec(s->db, "COMMIT");
    if (rc < 0) {
        (void)snprintf(s->errmsg, sizeof(s->errmsg), "tenancies: %s", tenancy_msg);
        (void)store_exec(s->db, "ROLLBACK");
    }
    return rc;
}

int store_tenancy_list(struct store *s, const struct foyer_config *cfg,
                       int (*fn)(void *ctx, const struct store_tenancy *t), void *ctx)
{
    struct tlist l = {0};
    int rc = merge(s->db, cfg, NULL, &l);
    if (rc < 0) {
        (void)snprintf(s->errmsg, sizeof(s->errmsg), "tenancies: %s", tenancy_msg);
        return rc;
    }
    for (size_t i = 0; rc == 0 && i < l.n; i++)
        rc = fn(ctx, &l.v[i]);
    free(l.v);
    return rc;
}

int store_tenancy_read(struct store *s, const struct foyer_config *cfg, struct tenancy **ret,
                       size_t *ret_n)
{
    int rc = store_tenancy_read_db(s->db, cfg, ret, ret_n);
    if (rc < 0)
        (void)snprintf(s->errmsg, sizeof(s->errmsg), "tenancies: %s", tenancy_msg);
    return rc;
}

static int read_merged(sqlite3 *db, const struct foyer_config *cfg, const char *only,
                       struct tenancy **ret, size_t *ret_n);

int store_tenancy_read_db(sqlite3 *db, const struct foyer_config *cfg, struct tenancy **ret,
                          size_t *ret_n)
{
    return read_merged(db, cfg, NULL, ret, ret_n);
}

int store_tenancy_read_dwelling(struct store *s, const struct foyer_config *cfg, uint32_t d,
                                struct tenancy **ret, size_t *ret_n)
{
    int rc =
        d < cfg->n_dwellings ? read_merged(s->db, cfg, cfg->dwellings[d].id, ret, ret_n) : -EINVAL;
    if (rc < 0 && rc != -EINVAL)
        (void)snprintf(s->errmsg, sizeof(s->errmsg), "tenancies: %s", tenancy_msg);
    return rc;
}

static int read_merged(sqlite3 *db, const struct foyer_config *cfg, const char *only,
                       struct tenancy **ret, size_t *ret_n)
{
    struct tlist l = {0};
    int rc = merge(db, cfg, only, &l);
    if (rc < 0)
        return rc;
    struct tenancy *v = l.n ? calloc(l.n, sizeof(*v)) : NULL;
    if (l.n && !v) {
        free(l.v);
        return -ENOMEM;
    }
    size_t n = 0;
    for (size_t i = 0; i < l.n; i++) {
        int32_t d = config_find_dwelling(cfg, l.v[i].dwelling);
        if (d < 0)
            continue; /* a dwelling gone from the config: nobody reads it */
        memcpy(v[n].id, l.v[i].id, sizeof(v[n].id));
        v[n].dwelling = (uint32_t)d;
        v[n].start_ymd = l.v[i].start_ymd;
        v[n].end_ymd = l.v[i].end_ymd;
        n++;
    }
    free(l.v);
    if (!n) {
        free(v);
        v = NULL;
    }
    *ret = v;
    *ret_n = n;
    return 0;
}

const struct tenancy *store_tenancy_current(const struct tenancy *v, size_t n, uint32_t d,
                                            int64_t now_s)
{
    const struct tenancy *best = NULL;
    for (size_t i = 0; i < n; i++) {
        int64_t from_s, to_s;
        if (v[i].dwelling != d)
            continue;
        store_auth_tenancy_span(&v[i], &from_s, &to_s);
        if (from_s <= now_s && now_s < to_s && (!best || v[i].start_ymd > best->start_ymd))
            best = &v[i];
    }
    return best;
}

/* ---- changes by foyerctl tenancy, on a connection of their own ---------- */

/* A write connection of this room's calls; tenancy_msg says why not. */
static int open_rw(const char *path, sqlite3 **ret)
{
    return store_open_rw(path, STORE_TENANCY_BUSY_MS, tenancy_msg, sizeof(tenancy_msg), ret);
}

int store_open_call(const char *path, sqlite3 **ret, const char **ret_err_msg)
{
    int rc = open_rw(path, ret);
    if (rc < 0)
        *ret_err_msg = tenancy_msg;
    return rc;
}

static const char *fmt_ymd(int32_t ymd, char *buf, size_t len)
{
    (void)snprintf(buf, len, "%04d-%02d-%02d", ymd / 10000, ymd / 100 % 100, ymd % 100);
    return buf;
}

/* Open, BEGIN IMMEDIATE, seed and merge: the state a change is judged on. */
static int change_begin(const char *path, const struct foyer_config *cfg, int64_t now_s,
                        sqlite3 **ret_db, struct tlist *ret)
{
    sqlite3 *db = NULL;
    int rc = open_rw(path, &db);
    if (rc < 0)
        return rc;
    rc = store_exec(db, "BEGIN IMMEDIATE");
    if (rc == 0)
        rc = seed_db(db, cfg, now_s);
    if (rc == 0)
        rc = merge(db, cfg, NULL, ret);
    if (rc < 0) {
        if (!tenancy_msg[0])
            (void)snprintf(tenancy_msg, sizeof(tenancy_msg), "%s", sqlite3_errmsg(db));
        (void)store_exec(db, "ROLLBACK");
        sqlite3_close(db);
        return rc;
    }
    *ret_db = db;
    return 0;
}

static int change_end(sqlite3 *db, struct tlist *l, int rc)
{
    if (rc == 0)
        rc = store_exec(db, "COMMIT");
    if (rc < 0)
        (void)store_exec(db, "ROLLBACK");
    free(l->v);
    sqlite3_close(db);
    return rc;
}

int store_tenancy_start(const char *db_path, const struct foyer_config *cfg, const char *dwelling,
                        int32_t start_ymd, const char *ref, const char *by, int64_t now_s,
                        char *ret_id, const char **ret_err_msg)
{
    int32_t d = config_find_dwelling(cfg, dwelling);
    sqlite3 *db = NULL;
    struct tlist l = {0};
    char d1[16], d2[16];
    tenancy_msg[0] = '\0';
    *ret_err_msg = tenancy_msg;
    if (d < 0) {
        (void)snprintf(tenancy_msg, sizeof(tenancy_msg), "unknown dwelling \"%s\"", dwelling);
        return -ENOENT;
    }
    if (strlen(ref) > FOYER_TENANCY_REF_MAX) {
        (void)snprintf(tenancy_msg, sizeof(tenancy_msg), "--ref: longer than %d bytes",
                       FOYER_TENANCY_REF_MAX);
        return -EINVAL;
    }
    struct store_tenancy t = {.start_ymd = start_ymd, .consent = cfg->dwellings[d].consent};
    if ((size_t)snprintf(t.id, sizeof(t.id), "%s.%08d", dwelling, (int)start_ymd) >= sizeof(t.id)) {
        (void)snprintf(tenancy_msg, sizeof(tenancy_msg),
                       "dwelling ID \"%s\" is too long to name its tenancies", dwelling);
        return -ENAMETOOLONG;
    }
    (void)snprintf(t.dwelling, sizeof(t.dwelling), "%s", dwelling);
    (void)snprintf(t.ref, sizeof(t.ref), "%s", ref);
    (void)snprintf(t.created_by, sizeof(t.created_by), "%s", by);

    int rc = change_begin(db_path, cfg, now_s, &db, &l);
    if (rc < 0)
        return rc;
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        const struct store_tenancy *o = &l.v[i];
        if (strcmp(o->id, t.id) == 0 || (strcmp(o->dwelling, dwelling) == 0 &&
                                         overlaps(o->start_ymd, o->end_ymd, start_ymd, 0))) {
            if (o->end_ymd)
                (void)snprintf(tenancy_msg, sizeof(tenancy_msg),
                               "dwelling %s: tenancy %s runs from %s to %s, on or after %s",
                               dwelling, o->id, fmt_ymd(o->start_ymd, d1, sizeof(d1)),
                               fmt_ymd(o->end_ymd, d2, sizeof(d2)),
                               fmt_ymd(start_ymd, d2, sizeof(d2)));
            else
                (void)snprintf(tenancy_msg, sizeof(tenancy_msg),
                               "dwelling %s: tenancy %s is open since %s: end it first "
                               "(foyerctl tenancy end --dwelling %s --date ...)",
                               dwelling, o->id, fmt_ymd(o->start_ymd, d1, sizeof(d1)), dwelling);
            rc = -EEXIST;
        }
    }
    if (rc == 0)
        rc = insert_row(db, &t, now_s);
    rc = change_end(db, &l, rc);
    if (rc == 0) {
        memcpy(ret_id, t.id, sizeof(t.id));
        *ret_err_msg = NULL;
    }
    return rc;
}

int store_tenancy_end(const char *db_path, const struct foyer_config *cfg, const char *dwelling,
                      int32_t end_ymd, const char *by, int64_t now_s, char *ret_id,
                      const char **ret_err_msg)
{
    static const char sql[] =
        "UPDATE tenancies SET end_ymd = ?2, ended = ?3, ended_by = ?4 WHERE id = ?1";
    sqlite3 *db = NULL;
    struct tlist l = {0};
    char d1[16], d2[16];
    tenancy_msg[0] = '\0';
    *ret_err_msg = tenancy_msg;
    if (config_find_dwelling(cfg, dwelling) < 0) {
        (void)snprintf(tenancy_msg, sizeof(tenancy_msg), "unknown dwelling \"%s\"", dwelling);
        return -ENOENT;
    }
    int rc = change_begin(db_path, cfg, now_s, &db, &l);
    if (rc < 0)
        return rc;
    const struct store_tenancy *open = NULL;
    for (size_t i = 0; i < l.n; i++)
        if (strcmp(l.v[i].dwelling, dwelling) == 0 && l.v[i].end_ymd == 0)
            open = &l.v[i];
    if (!open) {
        (void)snprintf(tenancy_msg, sizeof(tenancy_msg), "dwelling %s has no open tenancy",
                       dwelling);
        rc = -ENOENT;
    } else if (end_ymd < open->start_ymd) {
        (void)snprintf(tenancy_msg, sizeof(tenancy_msg),
                       "dwelling %s: %s is before the start of tenancy %s (%s)", dwelling,
                       fmt_ymd(end_ymd, d1, sizeof(d1)), open->id,
                       fmt_ymd(open->start_ymd, d2, sizeof(d2)));
        rc = -EINVAL;
    } else {
        sqlite3_stmt *st = NULL;
        int src = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
        if (src == SQLITE_OK) {
            sqlite3_bind_text(st, 1, open->id, -1, SQLITE_STATIC);
            sqlite3_bind_int(st, 2, end_ymd);
            sqlite3_bind_int64(st, 3, now_s);
            sqlite3_bind_text(st, 4, by, -1, SQLITE_STATIC);
            src = sqlite3_step(st);
        }
        sqlite3_finalize(st);
        if (src != SQLITE_DONE) {
            (void)snprintf(tenancy_msg, sizeof(tenancy_msg), "%s", sqlite3_errmsg(db));
            rc = store_sqlite_errno(src);
        } else {
            memcpy(ret_id, open->id, sizeof(open->id));
        }
    }
    rc = change_end(db, &l, rc);
    if (rc == 0)
        *ret_err_msg = NULL;
    return rc;
}
