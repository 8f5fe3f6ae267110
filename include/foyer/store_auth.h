/*
 * store_auth.h - HTTP bearer tokens and pairing codes in the database
 * (the tokens table, described in daemon/store/store.c).
 *
 * A token is 256 random bits (getrandom), shown once in base64url (43
 * characters) and stored only as its SHA-256.  A pairing token is created
 * without one: a short code (STORE_AUTH_CODE_LEN characters of an
 * unambiguous alphabet) is shown instead, and exchanged once for a token
 * by store_auth_pair() (the HTTP server's POST /api/v1/pair and POST /pair).
 *
 * Reads go through a read-only store handle (the HTTP server's per-thread
 * one, foyerctl's); the rare writes (create, revoke, a pairing exchange)
 * open a write connection of their own for the call, on a database foyerd
 * has already created and migrated (-ESTALE: older schema; -ENOENT: no
 * database yet).
 */
#ifndef FOYER_STORE_AUTH_H
#define FOYER_STORE_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "foyer/limits.h"
#include "foyer/store.h"

#define STORE_AUTH_HASH_LEN  32 /* SHA-256 */
#define STORE_AUTH_TOKEN_LEN 43 /* base64url of 32 bytes, no padding */
#define STORE_AUTH_CODE_LEN  8  /* pairing code characters */

/* A token row.  Strings are copies (NUL-terminated, truncated to fit). */
struct store_token {
    int64_t id;
    char name[64];
    char role[16];                     /* "tenant", "ambassador", "energy-team" */
    char dwelling[FOYER_ID_MAX + 1];   /* tenant: dwelling ID, else "" */
    char tenancy[FOYER_ID_MAX + 1];    /* tenant: tenancy ID current at creation */
    char buildings[512];               /* ambassador: building IDs, comma-separated */
    uint8_t hash[STORE_AUTH_HASH_LEN]; /* SHA-256 of the token; zeros while pairing */
    bool has_hash;
    int64_t created_s;
    int64_t expires_s; /* 0: never */
    int64_t revoked_s; /* 0: not revoked */
    bool pairing;      /* waiting for its code to be exchanged */
    int64_t pair_expires_s;
    int pair_tries; /* failed exchanges counted against the code */
};

/* Whether list, an ambassador token's comma-separated building IDs
 * (store_token.buildings), names building. */
bool store_auth_buildings_has(const char *list, const char *building);

/* Fill out with STORE_AUTH_TOKEN_LEN base64url characters of 256 random
 * bits and a NUL (out has room for STORE_AUTH_TOKEN_LEN + 1).  0 or -errno
 * (getrandom failed). */
int store_auth_new_token(char *out);

/* Fill out with STORE_AUTH_CODE_LEN random characters of
 * STORE_AUTH_CODE_ALPHABET and a NUL.  0 or -errno. */
int store_auth_new_code(char *out);
#define STORE_AUTH_CODE_ALPHABET "ABCDEFGHJKMNPQRSTUVWXYZ23456789" /* no 0 O 1 I L */

/* SHA-256 of text (a token, or a pairing code upper-cased by the caller)
 * into ret (STORE_AUTH_HASH_LEN bytes).  0 or -errno. */
int store_auth_hash(const char *text, uint8_t *ret);

/* Whether a and b (STORE_AUTH_HASH_LEN bytes each) are equal, in a time
 * that does not depend on where they differ. */
bool store_auth_hash_equal(const uint8_t *a, const uint8_t *b);

/* Insert t (its id, created_s and pairing fields are the caller's only
 * through the arguments): hash is the token's hash, or with pairing the
 * code's hash, valid until pair_expires_s.  *ret_id = the new row's id.
 * 0, -EEXIST (a token of that name exists), or -errno; *ret_err_msg (when
 * not NULL) says why, borrowed until the next call of this thread. */
int store_auth_create(const char *db_path, const struct store_token *t, const uint8_t *hash,
                      bool pairing, int64_t pair_expires_s, int64_t *ret_id,
                      const char **ret_err_msg);

/* Mark the token named name_or_id (its name, or its id in decimal)
 * revoked at now_s.  0, -ENOENT (no such token), -EALREADY (revoked
 * already), or -errno (*ret_err_msg as above). */
int store_auth_revoke(const char *db_path, const char *name_or_id, int64_t now_s,
                      const char **ret_err_msg);

/* Exchange a pairing code: the live pairing token (not revoked, not
 * expired, code not expired at now_s, fewer than max_tries failures) whose
 * code hash is code_hash gets token_hash and stops being a pairing token;
 * *ret (the caller's) = the row.  A code that matches none counts one
 * failure against every live code (codes are short: max_tries guesses in
 * all, whoever makes them) and returns -ENOENT.  -errno otherwise. */
int store_auth_pair(const char *db_path, const uint8_t *code_hash, const uint8_t *token_hash,
                    int64_t now_s, int max_tries, struct store_token *ret,
                    const char **ret_err_msg);

/* The token whose hash is hash (compared in constant time), whatever its
 * state (the caller judges revoked, expires, tenancy): 0 and *ret, -ENOENT,
 * or -errno.  Any handle. */
int store_auth_lookup(struct store *s, const uint8_t *hash, struct store_token *ret);

/* The instants a tenancy covers, [*ret_from_s, *ret_to_s) (UTC epoch s;
 * *ret_to_s = INT64_MAX while it runs): local midnight of its first day to
 * local midnight after its last.  The time zone must be set. */
void store_auth_tenancy_span(const struct tenancy *t, int64_t *ret_from_s, int64_t *ret_to_s);

/* Every token, by id, to fn (row borrowed for the call).  0, fn's non-zero
 * value, or -errno.  Any handle. */
int store_auth_list(struct store *s, int (*fn)(void *ctx, const struct store_token *t), void *ctx);

#endif
