/*
 * http_auth.c - who is asking: a bearer token judged against the tokens
 * table and the running config, and the pairing exchange (a short code
 * for a token, POST /api/v1/pair and POST /pair).
 *
 * A token is looked up by its SHA-256 (store_auth_lookup() compares the
 * whole hash in constant time) on the thread's read-only handle, then
 * judged: revoked, expired, still waiting for its pairing code, and for a
 * tenant the tenancy it is bound to, taken from the config as it is now
 * (an end date added after the token was made ends it).  Dwellings and
 * buildings are kept by ID and found in the running config at each
 * request, so a reload that drops one drops its tokens' rights with it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "foyer/limits.h"
#include "foyer/store_auth.h"
#include "foyer/store_tenancy.h"
#include "http_srv.h"

const char *http_auth_role_name(enum http_role role)
{
    switch (role) {
    case HTTP_ROLE_TENANT:
        return "tenant";
    case HTTP_ROLE_AMBASSADOR:
        return "ambassador";
    case HTTP_ROLE_ENERGY_TEAM:
        return "energy-team";
    case HTTP_ROLE_NONE:
        break;
    }
    return "none";
}

/* The principal of row t at now_s: 0, or -EACCES with *why. */
static int judge(struct store *ro, const struct foyer_config *cfg, const struct store_token *t,
                 int64_t now_s, struct http_principal *p, const char **why)
{
    *p = (struct http_principal){.role = HTTP_ROLE_NONE, .token_id = t->id, .dwelling = -1};
    (void)snprintf(p->name, sizeof(p->name), "%s", t->name);
    if (t->revoked_s) {
        *why = "this token was revoked";
        return -EACCES;
    }
    if (t->expires_s && now_s >= t->expires_s) {
        *why = "this token has expired";
        return -EACCES;
    }
    if (t->pairing || !t->has_hash) {
        *why = "unknown token";
        return -EACCES;
    }
    if (strcmp(t->role, "energy-team") == 0) {
        p->role = HTTP_ROLE_ENERGY_TEAM;
        return 0;
    }
    if (strcmp(t->role, "tenant") == 0) {
        /* The run's tenancies (foyerctl tenancy), read at each request: a
         * tenancy ended at run time ends its token at once. */
        int32_t d = config_find_dwelling(cfg, t->dwelling);
        struct tenancy *v = NULL;
        size_t n = 0;
        int rc = d >= 0 ? store_tenancy_read_dwelling(ro, cfg, (uint32_t)d, &v, &n) : 0;
        if (rc < 0)
            return rc;
        const struct tenancy *ten = NULL;
        for (size_t i = 0; i < n; i++)
            if (v[i].dwelling == (uint32_t)d && strcmp(v[i].id, t->tenancy) == 0)
                ten = &v[i];
        if (ten)
            store_auth_tenancy_span(ten, &p->tenancy_from_s, &p->tenancy_to_s);
        free(v);
        if (!ten) {
            *why = "this token's dwelling or tenancy is no longer known";
            return -EACCES;
        }
        if (now_s >= p->tenancy_to_s) {
            *why = "the tenancy this token was made for has ended";
            return -EACCES;
        }
        p->role = HTTP_ROLE_TENANT;
        p->dwelling = d;
        return 0;
    }
    if (strcmp(t->role, "ambassador") == 0) {
        const char *s = t->buildings;
        while (*s) {
            const char *e = strchrnul(s, ',');
            char id[FOYER_ID_MAX + 1];
            int32_t b = -1;
            if ((size_t)(e - s) < sizeof(id)) {
                memcpy(id, s, (size_t)(e - s));
                id[e - s] = '\0';
                b = config_find_building(cfg, id);
            }
            /* A building gone from the config is skipped, not an error:
             * the others still need their ambassador. */
            if (b >= 0 && p->n_buildings < FOYER_TOKEN_BUILDINGS_MAX &&
                p->n_buildings < sizeof(p->buildings) / sizeof(p->buildings[0]))
                p->buildings[p->n_buildings++] = b;
            s = *e ? e + 1 : e;
        }
        if (!p->n_buildings) {
            *why = "none of this token's buildings is in the configuration";
            return -EACCES;
        }
        p->role = HTTP_ROLE_AMBASSADOR;
        return 0;
    }
    *why = "unknown role";
    return -EACCES;
}

int http_auth_principal(struct store *ro, const struct foyer_config *cfg, const char *token,
                        int64_t now_s, struct http_principal *ret, const char **ret_why)
{
    uint8_t hash[STORE_AUTH_HASH_LEN];
    struct store_token t;
    struct http_principal p;

    if (strlen(token) != STORE_AUTH_TOKEN_LEN) {
        *ret_why = "unknown token";
        return -EACCES;
    }
    int rc = store_auth_hash(token, hash);
    if (rc == 0)
        rc = store_auth_lookup(ro, hash, &t);
    if (rc == -ENOENT) {
        *ret_why = "unknown token";
        return -EACCES;
    }
    if (rc < 0)
        return rc;
    rc = judge(ro, cfg, &t, now_s, &p, ret_why);
    if (rc < 0)
        return rc;
    *ret = p;
    return 0;
}

/* Exchange code: 0 with token (STORE_AUTH_TOKEN_LEN + 1 bytes) and the
 * row; -ENOENT a bad, used, expired or dead code; -errno otherwise. */
static int pair(const struct http_request *req, const char *code, char *token,
                struct store_token *ret)
{
    char norm[STORE_AUTH_CODE_LEN + 1];
    uint8_t code_hash[STORE_AUTH_HASH_LEN], token_hash[STORE_AUTH_HASH_LEN];
    size_t n = 0;

    /* Upper case; spaces and dashes a person may type are skipped. */
    for (const char *p = code; *p; p++) {
        if (*p == ' ' || *p == '-')
            continue;
        if (n == STORE_AUTH_CODE_LEN)
            return -ENOENT;
        norm[n++] = (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
    }
    norm[n] = '\0';
    if (n != STORE_AUTH_CODE_LEN)
        return -ENOENT;
    int rc = store_auth_hash(norm, code_hash);
    if (rc == 0)
        rc = store_auth_new_token(token);
    if (rc == 0)
        rc = store_auth_hash(token, token_hash);
    if (rc == 0)
        rc = store_auth_pair(req->cfg->database, code_hash, token_hash, req->now_s,
                             FOYER_PAIR_TRIES_MAX, ret, NULL);
    return rc;
}

int http_auth_pair_api(const struct http_request *req, struct http_response *resp)
{
    char token[STORE_AUTH_TOKEN_LEN + 1];
    struct store_token t;
    json_error_t jerr;
    json_t *doc =
        req->body ? json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
    const char *code = doc ? json_string_value(json_object_get(doc, "code")) : NULL;

    if (!doc) {
        return http_error(resp, 400, "bad_json", "the body must be JSON {\"code\": \"...\"}%s%s",
                          req->body ? ": " : "", req->body ? jerr.text : "");
    }
    if (!code) {
        json_decref(doc);
        return http_error(resp, 400, "bad_request", "\"code\" must be a string");
    }
    int rc = pair(req, code, token, &t);
    json_decref(doc);
    if (rc == -ENOENT)
        return http_error(resp, 401, "bad_code",
                          "the code is wrong, used, or expired: ask for a new one");
    if (rc < 0)
        return rc;
    resp->status = 200;
    (void)http_buf_str(&resp->body, "{\"token\": ");
    (void)http_buf_json_str(&resp->body, token);
    (void)http_buf_str(&resp->body, ", \"role\": ");
    (void)http_buf_json_str(&resp->body, t.role);
    return http_buf_str(&resp->body, "}\n");
}

int http_auth_pair_form(const struct http_request *req, struct http_response *resp)
{
    char token[STORE_AUTH_TOKEN_LEN + 1];
    struct store_token t;
    const char *code = http_arg(req, "code");

    resp->status = 303;
    resp->content_type = "text/plain; charset=utf-8";
    int rc = code ? pair(req, code, token, &t) : -ENOENT;
    if (rc == -ENOENT) {
        (void)snprintf(resp->location, sizeof(resp->location), "/pair?error=1");
        return 0;
    }
    if (rc < 0)
        return rc;
    /* HttpOnly: no script reads it; SameSite=Strict: no other site's page
     * sends it; a year: the tablet keeps it (revoking ends it sooner). */
    (void)snprintf(resp->set_cookie, sizeof(resp->set_cookie),
                   "foyer_token=%s; Path=/; Max-Age=31536000; HttpOnly; SameSite=Strict%s", token,
                   req->secure ? "; Secure" : "");
    (void)snprintf(resp->location, sizeof(resp->location), "%s",
                   strcmp(t.role, "ambassador") == 0 ? "/ambassador"
                   : strcmp(t.role, "tenant") == 0   ? "/tablet"
                                                     : "/");
    return 0;
}
