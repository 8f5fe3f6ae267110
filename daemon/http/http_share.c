/*
 * http_share.c - whether an ambassador holds a household's grant now, and
 * the access-log row written before each read it allows (http_share.h).
 * Used by the API (http_api_share.c, http_api_team.c) and the ambassador's
 * page (http_page_shared.c); share_by() and share_offered() by the
 * tenant's API and choices page (http_page_choices.c) too.
 */
#include "http_share.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "foyer/log.h"
#include "foyer/store_access.h"
#include "foyer/store_auth.h"
#include "foyer/store_tenancy.h"
#include "foyer/timeutil.h"

/* Whether the caller of req may see dwelling d at all: an ambassador
 * token with a name, covering d's building. */
static bool share_caller_ok(const struct http_request *req, uint32_t d)
{
    const struct foyer_config *cfg = req->cfg;
    const struct http_principal *p = req->who;
    return p->role == HTTP_ROLE_AMBASSADOR && d < cfg->n_dwellings && p->name[0] &&
           http_principal_has_building(p, (int32_t)cfg->dwellings[d].building);
}

int share_span(const struct http_request *req, uint32_t d, const struct store_grant *g,
               int64_t *ret_from_s, int64_t *ret_to_s)
{
    const struct foyer_config *cfg = req->cfg;
    int rc = 0;
    if (!share_caller_ok(req, d))
        return -ENOENT;
    int64_t from_s = INT64_MIN, to_s = INT64_MAX;
    if (g->tenancy[0]) {
        struct tenancy *tv = NULL;
        size_t n_tv = 0;
        rc = store_tenancy_read_dwelling(req->ro, cfg, d, &tv, &n_tv);
        if (rc < 0)
            return rc;
        rc = -ENOENT; /* its tenancy is gone: nothing to show */
        for (size_t i = 0; i < n_tv; i++)
            if (strcmp(tv[i].id, g->tenancy) == 0) {
                store_auth_tenancy_span(&tv[i], &from_s, &to_s);
                rc = 0;
            }
        free(tv);
        if (rc < 0)
            return rc;
    }
    *ret_from_s = from_s;
    *ret_to_s = to_s;
    return 0;
}

int share_granted(const struct http_request *req, uint32_t d, struct store_grant *ret_g,
                  int64_t *ret_from_s, int64_t *ret_to_s)
{
    struct store_grant g;
    if (!share_caller_ok(req, d))
        return -ENOENT;
    int rc = store_grant_active(req->ro, req->cfg, d, req->who->name, req->now_s, &g);
    if (rc == 0)
        rc = share_span(req, d, &g, ret_from_s, ret_to_s);
    if (rc == 0)
        *ret_g = g;
    return rc;
}

int share_gate(const struct http_request *req, struct http_response *resp, uint32_t d,
               const char *id, int64_t *ret_from_s, int64_t *ret_to_s)
{
    struct store_grant g;
    int rc = share_granted(req, d, &g, ret_from_s, ret_to_s);
    if (rc == -ENOENT)
        rc =
            http_error(resp, 403, "forbidden",
                       "dwelling %s: its household shares nothing with %s now", id, req->who->name);
    else if (rc < 0 && rc != -ENOMEM)
        rc = http_error(resp, 503, "unavailable", "the grants cannot be read");
    else
        return rc;
    return rc < 0 ? rc : 1;
}

int share_log(const struct http_request *req, const char *dwelling, const char *what)
{
    const struct http_principal *p = req->who;
    struct store_access a = {
        .ts_s = tu_now_s(),
        .who = p->name,
        .role = p->role == HTTP_ROLE_ENERGY_TEAM ? "energy-team" : "ambassador",
        .what = what,
        .dwelling = dwelling,
        .origin = req->client ? req->client : "-",
    };
    const char *msg = NULL;
    int rc = store_access_append(req->cfg->database, &a, &msg);
    if (rc < 0)
        log_err("http: %s reads %s: the access log cannot be written, nothing is read: %s", p->name,
                dwelling, msg ? msg : strerror(-rc));
    return rc;
}

void share_by(const struct http_request *req, char *buf, size_t len)
{
    if (req->who->name[0])
        (void)snprintf(buf, len, "tenant:%s", req->who->name);
    else
        (void)snprintf(buf, len, "tenant:token-%lld", (long long)req->who->token_id);
}

bool share_offered(const struct store_token *t, const char *building, int64_t now_s)
{
    return strcmp(t->role, "ambassador") == 0 && !t->revoked_s && !t->pairing && t->has_hash &&
           !(t->expires_s > 0 && t->expires_s <= now_s) &&
           store_auth_buildings_has(t->buildings, building);
}
