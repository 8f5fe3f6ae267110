/*
 * store_auth.c - the tokens table: HTTP bearer tokens and pairing codes
 * (include/foyer/store_auth.h; the table is described in store.c).
 *
 * Tokens come in from foyerctl token (create, revoke) and from the HTTP
 * server's pairing exchange; they go out to the server's authentication
 * (store_auth_lookup() on its thread's read-only handle) and to foyerctl
 * token list.  Writes are rare (a few a day): each opens a write
 * connection for the call and closes it, so no handle is shared between
 * the server's threads and the writer keeps the only long-lived one.
 *
 * Hashing is SHA-256 from GnuTLS (gnutls_hash_fast), the library
 * libmicrohttpd links for TLS already; randomness is getrandom(2).
 */
#include "foyer/store_auth.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <sqlite3.h>

#include "foyer/timeutil.h"
#include "store_int.h"

/* Busy wait of the call's write connection: the writer holds the lock a
 * batch's commit long (well under a second). */
#define STORE_AUTH_BUSY_MS 5000

static _Thread_local char auth_msg[512];

static const char auth_cols[] =
    "id, name, role, hash, dwelling, tenancy, buildings, created, expires, revoked,"
    " pair_hash IS NOT NULL, pair_expires, pair_tries";

static int fill_random(uint8_t *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(buf + got, n - got, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        got += (size_t)r;
    }
    return 0;
}

int store_auth_new_token(char *out)
{
    static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    uint8_t raw[33] = {0}; /* 32 random bytes, one zero byte to make 11 groups of 3 */
    int rc = fill_random(raw, 32);
    if (rc < 0)
        return rc;
    size_t o = 0;
    for (size_t i = 0; i < 33; i += 3) {
        uint32_t v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 | raw[i + 2];
        out[o++] = b64url[(v >> 18) & 63];
        out[o++] = b64url[(v >> 12) & 63];
        out[o++] = b64url[(v >> 6) & 63];
        out[o++] = b64url[v & 63];
    }
    /* 44 characters for 33 bytes; the last encodes only the padding byte. */
    out[STORE_AUTH_TOKEN_LEN] = '\0';
    return 0;
}

int store_auth_new_code(char *out)
{
    static const char alphabet[] = STORE_AUTH_CODE_ALPHABET;
    const unsigned n = (unsigned)(sizeof(alphabet) - 1);
    size_t o = 0;
    while (o < STORE_AUTH_CODE_LEN) {
        uint8_t b[16];
        int rc = fill_random(b, sizeof(b));
        if (rc < 0)
            return rc;
        /* Rejection sampling: bytes at or above the largest multiple of n
         * would make the first letters likelier. */
        for (size_t i = 0; i < sizeof(b) && o < STORE_AUTH_CODE_LEN; i++)
            if (b[i] < 256 - 256 % n)
                out[o++] = alphabet[b[i] % n];
    }
    out[STORE_AUTH_CODE_LEN] = '\0';
    return 0;
}

int store_auth_hash(const char *text, uint8_t *ret)
{
    if (gnutls_hash_fast(GNUTLS_DIG_SHA256, text, strlen(text), ret) < 0)
        return -EIO;
    return 0;
}

bool store_auth_hash_equal(const uint8_t *a, const uint8_t *b)
{
    /* volatile: the compiler may not stop at the first difference. */
    volatile uint8_t diff = 0;
    for (size_t i = 0; i < STORE_AUTH_HASH_LEN; i++)
        diff = (uint8_t)(diff | (a[i] ^ b[i]));
    return diff == 0;
}

/* The lookup key: the hash's first 8 bytes as a signed 64-bit integer. */
static int64_t hash_key(const uint8_t *h)
{
    uint64_t k = 0;
    for (int i = 0; i < 8; i++)
        k = k << 8 | h[i];
    return (int64_t)k;
}

static void copy_col(char *dst, size_t len, sqlite3_stmt *st, int col)
{
    const unsigned char *v = sqlite3_column_text(st, col);
    (void)snprintf(dst, len, "%s", v ? (const char *)v : "");
}

static void read_row(sqlite3_stmt *st, struct store_token *t)
{
    memset(t, 0, sizeof(*t));
    t->id = sqlite3_column_int64(st, 0);
    copy_col(t->name, sizeof(t->name), st, 1);
    copy_col(t->role, sizeof(t->role), st, 2);
    if (sqlite3_column_bytes(st, 3) == STORE_AUTH_HASH_LEN) {
        memcpy(t->hash, sqlite3_column_blob(st, 3), STORE_AUTH_HASH_LEN);
        t->has_hash = true;
    }
    copy_col(t->dwelling, sizeof(t->dwelling), st, 4);
    copy_col(t->tenancy, sizeof(t->tenancy), st, 5);
    copy_col(t->buildings, sizeof(t->buildings), st, 6);
    t->created_s = sqlite3_column_int64(st, 7);
    t->expires_s = sqlite3_column_int64(st, 8);
    t->revoked_s = sqlite3_column_int64(st, 9);
    t->pairing = sqlite3_column_int(st, 10) != 0;
    t->pair_expires_s = sqlite3_column_int64(st, 11);
    t->pair_tries = sqlite3_column_int(st, 12);
}

/* Start a call: its message is auth_msg, cleared; open db_path read-write
 * (store_open_rw()).  0 or -errno, auth_msg saying why. */
static int auth_begin(const char *db_path, const char **msg, sqlite3 **ret_db)
{
    auth_msg[0] = '\0';
    *msg = auth_msg;
    return store_open_rw(db_path, STORE_AUTH_BUSY_MS, auth_msg, sizeof(auth_msg), ret_db);
}

static int db_fail(sqlite3 *db, int rc)
{
    (void)snprintf(auth_msg, sizeof(auth_msg), "%s", sqlite3_errmsg(db));
    return store_sqlite_errno(rc);
}

/* The end of a pairing's last write: its statement *st stepped to rc;
 * finalize it and commit.  0 or -errno, auth_msg saying why (the caller
 * rolls back and finalizes *st, NULL once done). */
static int auth_commit(sqlite3 *db, sqlite3_stmt **st, int rc)
{
    if (rc != SQLITE_DONE)
        return db_fail(db, rc);
    sqlite3_finalize(*st);
    *st = NULL;
    rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : db_fail(db, rc);
}

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *v)
{
    if (v && *v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

int store_auth_create(const char *db_path, const struct store_token *t, const uint8_t *hash,
                      bool pairing, int64_t pair_expires_s, int64_t *ret_id,
                      const char **ret_err_msg)
{
    static const char sql[] =
        "INSERT INTO tokens(name, role, hkey, hash, dwelling, tenancy, buildings, created,"
        " expires, pair_hash, pair_expires) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
    sqlite3 *db;
    sqlite3_stmt *st = NULL;
    const char *dummy = NULL;
    const char **msg = ret_err_msg ? ret_err_msg : &dummy;
    int rc;

    rc = auth_begin(db_path, msg, &db);
    if (rc < 0)
        return rc;
    rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        rc = db_fail(db, rc);
        goto out_close;
    }
    sqlite3_bind_text(st, 1, t->name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, t->role, -1, SQLITE_TRANSIENT);
    if (pairing) {
        sqlite3_bind_null(st, 3);
        sqlite3_bind_null(st, 4);
        sqlite3_bind_blob(st, 10, hash, STORE_AUTH_HASH_LEN, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 11, pair_expires_s);
    } else {
        sqlite3_bind_int64(st, 3, hash_key(hash));
        sqlite3_bind_blob(st, 4, hash, STORE_AUTH_HASH_LEN, SQLITE_TRANSIENT);
    }
    bind_text_or_null(st, 5, t->dwelling);
    bind_text_or_null(st, 6, t->tenancy);
    bind_text_or_null(st, 7, t->buildings);
    sqlite3_bind_int64(st, 8, t->created_s);
    if (t->expires_s)
        sqlite3_bind_int64(st, 9, t->expires_s);
    rc = sqlite3_step(st);
    if (rc == SQLITE_CONSTRAINT_UNIQUE) {
        (void)snprintf(auth_msg, sizeof(auth_msg), "a token named \"%s\" exists already", t->name);
        rc = -EEXIST;
    } else if (rc != SQLITE_DONE) {
        rc = db_fail(db, rc);
    } else {
        *ret_id = sqlite3_last_insert_rowid(db);
        *msg = NULL;
        rc = 0;
    }
    sqlite3_finalize(st);
out_close:
    sqlite3_close(db);
    return rc;
}

int store_auth_revoke(const char *db_path, const char *name_or_id, int64_t now_s,
                      const char **ret_err_msg)
{
    sqlite3 *db;
    sqlite3_stmt *st = NULL;
    const char *dummy = NULL;
    const char **msg = ret_err_msg ? ret_err_msg : &dummy;
    int rc;

    rc = auth_begin(db_path, msg, &db);
    if (rc < 0)
        return rc;
    /* A name wins over an id: a token may be named "12". */
    rc = sqlite3_prepare_v2(db,
                            "SELECT id, revoked FROM tokens WHERE name = ?1 OR"
                            " (CAST(id AS TEXT) = ?1 AND NOT EXISTS"
                            " (SELECT 1 FROM tokens WHERE name = ?1))",
                            -1, &st, NULL);
    if (rc != SQLITE_OK) {
        rc = db_fail(db, rc);
        goto out_close;
    }
    sqlite3_bind_text(st, 1, name_or_id, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        (void)snprintf(auth_msg, sizeof(auth_msg), "no token named \"%s\" (nor with that id)",
                       name_or_id);
        rc = -ENOENT;
        goto out_finalize;
    }
    if (rc != SQLITE_ROW) {
        rc = db_fail(db, rc);
        goto out_finalize;
    }
    int64_t id = sqlite3_column_int64(st, 0);
    if (sqlite3_column_type(st, 1) != SQLITE_NULL) {
        (void)snprintf(auth_msg, sizeof(auth_msg), "token \"%s\" is revoked already", name_or_id);
        rc = -EALREADY;
        goto out_finalize;
    }
    sqlite3_finalize(st);
    st = NULL;
    rc = sqlite3_prepare_v2(db,
                            "UPDATE tokens SET revoked = ?2, pair_hash = NULL WHERE id = ?1"
                            " AND revoked IS NULL",
                            -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, now_s);
        rc = sqlite3_step(st);
    }
    if (rc != SQLITE_DONE) {
        rc = db_fail(db, rc);
        goto out_finalize;
    }
    *msg = NULL;
    rc = 0;
out_finalize:
    sqlite3_finalize(st);
out_close:
    sqlite3_close(db);
    return rc;
}

int store_auth_pair(const char *db_path, const uint8_t *code_hash, const uint8_t *token_hash,
                    int64_t now_s, int max_tries, struct store_token *ret, const char **ret_err_msg)
{
    char sel[512];
    sqlite3 *db;
    sqlite3_stmt *st = NULL;
    const char *dummy = NULL;
    const char **msg = ret_err_msg ? ret_err_msg : &dummy;
    struct store_token t;
    int rc;

    rc = auth_begin(db_path, msg, &db);
    if (rc < 0)
        return rc;
    /* One transaction: two tablets posting the same code at once cannot
     * both get a token. */
    rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        rc = db_fail(db, rc);
        goto out_close;
    }
    (void)snprintf(sel, sizeof(sel),
                   "SELECT %s FROM tokens WHERE pair_hash = ?1 AND revoked IS NULL"
                   " AND pair_expires > ?2 AND pair_tries < ?3"
                   " AND (expires IS NULL OR expires > ?2)",
                   auth_cols);
    rc = sqlite3_prepare_v2(db, sel, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        rc = db_fail(db, rc);
        goto out_rollback;
    }
    sqlite3_bind_blob(st, 1, code_hash, STORE_AUTH_HASH_LEN, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, now_s);
    sqlite3_bind_int(st, 3, max_tries);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        read_row(st, &t);
    sqlite3_finalize(st);
    st = NULL;
    if (rc == SQLITE_DONE) {
        /* A wrong code: one failure against every live code. */
        rc = sqlite3_prepare_v2(db,
                                "UPDATE tokens SET pair_tries = pair_tries + 1"
                                " WHERE pair_hash IS NOT NULL AND revoked IS NULL",
                                -1, &st, NULL);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(st);
        rc = auth_commit(db, &st, rc);
        if (rc < 0)
            goto out_rollback;
        (void)snprintf(auth_msg, sizeof(auth_msg), "no live pairing code matches");
        rc = -ENOENT;
        goto out_close;
    }
    if (rc != SQLITE_ROW) {
        rc = db_fail(db, rc);
        goto out_rollback;
    }
    rc = sqlite3_prepare_v2(db,
                            "UPDATE tokens SET hkey = ?2, hash = ?3, pair_hash = NULL,"
                            " pair_expires = NULL WHERE id = ?1",
                            -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, t.id);
        sqlite3_bind_int64(st, 2, hash_key(token_hash));
        sqlite3_bind_blob(st, 3, token_hash, STORE_AUTH_HASH_LEN, SQLITE_TRANSIENT);
        rc = sqlite3_step(st);
    }
    rc = auth_commit(db, &st, rc);
    if (rc < 0)
        goto out_rollback;
    t.pairing = false;
    t.pair_expires_s = 0;
    memcpy(t.hash, token_hash, STORE_AUTH_HASH_LEN);
    t.has_hash = true;
    *ret = t;
    *msg = NULL;
    rc = 0;
    goto out_close;
out_rollback:
    sqlite3_finalize(st);
    (void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
out_close:
    sqlite3_close(db);
    return rc;
}

int store_auth_lookup(struct store *s, const uint8_t *hash, struct store_token *ret)
{
    char sql[512];
    sqlite3_stmt *st = s->auth_lookup;
    struct store_token t;
    bool found = false;
    int rc;

    /* Prepared once per handle (finalised by store_close()): parsing it
     * again cost a third of a request's time. */
    if (!st) {
        (void)snprintf(sql, sizeof(sql), "SELECT %s FROM tokens WHERE hkey = ?1", auth_cols);
        rc = sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
        if (rc != SQLITE_OK) {
            store_note_error(s);
            return store_sqlite_errno(rc);
        }
        s->auth_lookup = st;
    }
    sqlite3_bind_int64(st, 1, hash_key(hash));
    /* The index finds the candidates by 8 bytes; the whole hash is
     * compared in constant time. */
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        read_row(st, &t);
        if (t.has_hash && store_auth_hash_equal(t.hash, hash)) {
            found = true;
            break;
        }
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        store_note_error(s);
        sqlite3_reset(st);
        return store_sqlite_errno(rc);
    }
    /* Reset: no read transaction is left open between requests. */
    sqlite3_reset(st);
    if (!found)
        return -ENOENT;
    *ret = t;
    return 0;
}

int store_auth_list(struct store *s, int (*fn)(void *ctx, const struct store_token *t), void *ctx)
{
    char sql[512];
    sqlite3_stmt *st = NULL;
    struct store_token t;
    int rc;

    (void)snprintf(sql, sizeof(sql), "SELECT %s FROM tokens ORDER BY id", auth_cols);
    rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        store_note_error(s);
        return store_sqlite_errno(rc);
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        read_row(st, &t);
        int r = fn(ctx, &t);
        if (r != 0) {
            sqlite3_finalize(st);
            return r;
        }
    }
    if (rc != SQLITE_DONE) {
        store_note_error(s);
        sqlite3_finalize(st);
        return store_sqlite_errno(rc);
    }
    sqlite3_finalize(st);
    return 0;
}

void store_auth_tenancy_span(const struct tenancy *t, int64_t *ret_from_s, int64_t *ret_to_s)
{
    *ret_from_s = tu_local_date(t->start_ymd / 10000, t->start_ymd / 100 % 100, t->start_ymd % 100);
    if (t->end_ymd)
        *ret_to_s = tu_next_day(
            tu_local_date(t->end_ymd / 10000, t->end_ymd / 100 % 100, t->end_ymd % 100));
    else
        *ret_to_s = INT64_MAX;
}

bool store_auth_buildings_has(const char *list, const char *building)
{
    size_t n = strlen(building);
    for (const char *p = list; p && *p;) {
        if (strncmp(p, building, n) == 0 && (p[n] == ',' || p[n] == '\0'))
            return true;
        const char *c = strchr(p, ',');
        p = c ? c + 1 : "";
    }
    return false;
}
