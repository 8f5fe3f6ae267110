/*
 * http_api_share.c - a household's choices and what they open
 * (docs/api.md, "Sharing and consent"): the tenant's grants to a named
 * ambassador (GET/POST /api/v1/me/grants, POST
 * /api/v1/me/grants/{id}/revoke), the ambassadors it may choose from
 * (GET /api/v1/me/ambassadors), its consents per purpose (GET/POST
 * /api/v1/me/consents); and for an ambassador, the households sharing with
 * it (GET /api/v1/shared) and a shared household's history (GET
 * /api/v1/dwellings/{id}/history, which the energy team reads too).
 *
 * Writes go through store_grant.h and store_consent.h on a connection of
 * their own for the call, recorded as "tenant:NAME" (the token's name).
 * An ambassador reads a household's data only while a grant is active
 * (share_granted(), asked at every request, so a revocation or an expiry
 * holds at the next one), clipped to the grant's tenancy, and each read is
 * written in the access log before it is made; a read that cannot be
 * logged is not made.  Without a grant: 403, and nothing is logged, as
 * nothing is read.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "foyer/log.h"
#include "foyer/store_access.h"
#include "foyer/store_auth.h"
#include "foyer/store_consent.h"
#include "foyer/store_grant.h"
#include "foyer/store_tenancy.h"
#include "foyer/timeutil.h"
#include "http_api_int.h"
#include "http_share.h"

/* A number of limits.h inside a static message. */
#define SHARE_STR_(x) #x
#define SHARE_STR(x)  SHARE_STR_(x)

/* ---- helpers --------------------------------------------------------------- */

/* The request's JSON object body, or an answer (400). */
static int body_object(const struct http_request *req, struct http_response *resp,
                       const char *shape, json_t **ret)
{
    json_error_t jerr;
    json_t *j = req->body && req->body_len
                    ? json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr)
                    : NULL;
    if (!json_is_object(j)) {
        json_decref(j);
        int rc = http_error(resp, 400, "bad_json", "the body must be JSON %s", shape);
        return rc < 0 ? rc : API_ANSWERED;
    }
    *ret = j;
    return 0;
}

static json_t *grant_json(const struct store_grant *g)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(g->id));
    json_object_set_new(o, "grantee", json_string(g->grantee));
    json_object_set_new(o, "created", api_time(g->created_s));
    json_object_set_new(o, "created_s", json_integer(g->created_s));
    json_object_set_new(o, "expires", api_time(g->expires_s));
    json_object_set_new(o, "expires_s", json_integer(g->expires_s));
    json_object_set_new(o, "revoked", g->revoked_s ? api_time(g->revoked_s) : json_null());
    json_object_set_new(o, "revoked_s", g->revoked_s ? json_integer(g->revoked_s) : json_null());
    json_object_set_new(o, "active", json_boolean(g->active));
    return o;
}

/* ---- GET /api/v1/me/grants ----------------------------------------------- */

struct grant_find {
    json_t *arr; /* every grant, or NULL */
    int64_t id;  /* the one wanted, or 0 */
    json_t *one; /* it */
};

static int grant_add(void *ctx, const struct store_grant *g)
{
    struct grant_find *f = ctx;
    if (f->arr)
        json_array_append_new(f->arr, grant_json(g));
    if (f->id && g->id == f->id)
        f->one = grant_json(g);
    return 0;
}

/* Answer {"grant": ...} for grant id of dwelling d as it is now. */
static int send_grant(const struct http_request *req, struct http_response *resp, uint32_t d,
                      int64_t id, int status)
{
    struct grant_find f = {.id = id};
    int rc = store_grant_list(req->ro, req->cfg, d, req->now_s, grant_add, &f);
    if (rc < 0 || !f.one) {
        json_decref(f.one);
        return rc == -ENOMEM ? rc
                             : http_error(resp, 503, "unavailable", "re-reading the grant failed");
    }
    json_t *j = json_object();
    json_object_set_new(j, "grant", f.one);
    rc = api_send_json(resp, j);
    resp->status = status;
    return rc;
}

int api_me_grants(const struct http_request *req, struct http_response *resp)
{
    uint32_t d;
    int rc = api_tenant_dwelling(req, resp, &d);
    if (rc != 0)
        return rc > 0 ? 0 : rc;
    struct grant_find f = {.arr = json_array()};
    rc = store_grant_list(req->ro, req->cfg, d, req->now_s, grant_add, &f);
    if (rc < 0) {
        json_decref(f.arr);
        log_err("http: dwelling=%s: cannot read the grants: %s", req->cfg->dwellings[d].id,
                store_errmsg(req->ro));
        return rc == -ENOMEM ? rc
                             : http_error(resp, 503, "unavailable", "the grants cannot be read");
    }
    json_t *j = json_object();
    json_object_set_new(j, "dwelling", json_string(req->cfg->dwellings[d].id));
    json_object_set_new(j, "grants", f.arr);
    json_object_set_new(j, "days_default", json_integer(FOYER_GRANT_DAYS_DEFAULT));
    json_object_set_new(j, "days_max", json_integer(FOYER_GRANT_DAYS_MAX));
    return api_send_json(resp, j);
}

/* ---- POST /api/v1/me/grants ---------------------------------------------- */

int api_me_grant_create(const struct http_request *req, struct http_response *resp)
{
    static const char shape[] = "{\"grantee\": \"AMBASSADOR\", \"days\": 1 to " SHARE_STR(
        FOYER_GRANT_DAYS_MAX) " (default " SHARE_STR(FOYER_GRANT_DAYS_DEFAULT) ")}";
    uint32_t d;
    json_t *body = NULL;
    int rc = api_tenant_dwelling(req, resp, &d);
    if (rc == 0)
        rc = body_object(req, resp, shape, &body);
    if (rc != 0)
        return rc > 0 ? 0 : rc;
    const json_t *jg = json_object_get(body, "grantee"), *jd = json_object_get(body, "days");
    json_int_t days = FOYER_GRANT_DAYS_DEFAULT;
    if (!json_is_string(jg) || (jd && !json_is_integer(jd))) {
        json_decref(body);
        return http_error(resp, 400, "bad_json", "grantee: a string, days: an integer: %s", shape);
    }
    if (jd)
        days = json_integer_value(jd);
    if (days < 1 || days > FOYER_GRANT_DAYS_MAX) {
        json_decref(body);
        return http_error(resp, 400, "bad_request", "days: %lld is not 1 to %d", (long long)days,
                          FOYER_GRANT_DAYS_MAX);
    }
    char by[80];
    share_by(req, by, sizeof(by));
    const char *msg = NULL;
    int64_t id = 0;
    rc = store_grant_create(req->cfg->database, req->cfg, req->cfg->dwellings[d].id,
                            json_string_value(jg), (int)days, by, req->now_s, &id, &msg);
    json_decref(body);
    if (rc == -ENOENT || rc == -EACCES)
        return http_error(resp, 404, "not_found", "%s", msg ? msg : "no such ambassador");
    if (rc == -EMLINK)
        return http_error(resp, 409, "too_many", "%s", msg ? msg : "too many grants");
    if (rc < 0) {
        log_err("http: dwelling=%s: cannot store the grant: %s", req->cfg->dwellings[d].id,
                msg ? msg : strerror(-rc));
        return http_error(resp, 503, "unavailable", "the grant cannot be stored now");
    }
    log_info("http: dwelling=%s grants %s access for %lld days (grant %lld)",
             req->cfg->dwellings[d].id, req->who->name, (long long)days, (long long)id);
    return send_grant(req, resp, d, id, 201);
}

/* ---- POST /api/v1/me/grants/{id}/revoke ---------------------------------- */

int api_me_grant_revoke(const struct http_request *req, struct http_response *resp)
{
    const char *ids = req->n_params > 0 ? req->params[0] : "";
    uint32_t d;
    int rc = api_tenant_dwelling(req, resp, &d);
    if (rc != 0)
        return rc > 0 ? 0 : rc;
    char *end;
    errno = 0;
    long long id = strtoll(ids, &end, 10);
    if (!*ids || *end || errno || id <= 0)
        return http_error(resp, 400, "bad_path", "grant id: a positive integer, not \"%.32s\"",
                          ids);
    char by[80];
    share_by(req, by, sizeof(by));
    const char *msg = NULL;
    rc = store_grant_revoke(req->cfg->database, req->cfg, req->cfg->dwellings[d].id, id, by,
                            req->now_s, &msg);
    if (rc == -ENOENT)
        return http_error(resp, 404, "not_found", "%s", msg ? msg : "no such grant");
    if (rc == -EALREADY)
        return http_error(resp, 409, "ended", "%s", msg ? msg : "ended already");
    if (rc < 0) {
        log_err("http: dwelling=%s: cannot revoke grant %lld: %s", req->cfg->dwellings[d].id, id,
                msg ? msg : strerror(-rc));
        return http_error(resp, 503, "unavailable", "the grant cannot be revoked now");
    }
    log_info("http: dwelling=%s revokes grant %lld", req->cfg->dwellings[d].id, id);
    return send_grant(req, resp, d, id, 200);
}

/* ---- GET /api/v1/me/ambassadors ------------------------------------------ */

struct amb_list {
    json_t *arr;
    const char *building; /* the tenant's, a config ID */
    int64_t now_s;
};

static int amb_add(void *ctx, const struct store_token *t)
{
    struct amb_list *l = ctx;
    if (share_offered(t, l->building, l->now_s)) {
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(t->name));
        json_array_append_new(l->arr, o);
    }
    return 0;
}

int api_me_ambassadors(const struct http_request *req, struct http_response *resp)
{
    uint32_t d;
    int rc = api_tenant_dwelling(req, resp, &d);
    if (rc != 0)
        return rc > 0 ? 0 : rc;
    struct amb_list l = {
        .arr = json_array(),
        .building = req->cfg->buildings[req->cfg->dwellings[d].building].id,
        .now_s = req->now_s,
    };
    rc = store_auth_list(req->ro, amb_add, &l);
    if (rc < 0) {
        json_decref(l.arr);
        return rc == -ENOMEM ? rc
                             : http_error(resp, 503, "unavailable", "the tokens cannot be read");
    }
    json_t *j = json_object();
    json_object_set_new(j, "ambassadors", l.arr);
    return api_send_json(resp, j);
}

/* ---- GET, POST /api/v1/me/consents --------------------------------------- */

static int send_consents(const struct http_request *req, struct http_response *resp, uint32_t d)
{
    json_t *arr = json_array();
    int rc = 0;
    for (int p = 0; rc == 0 && p < STORE_PURPOSE_N; p++) {
        struct store_consent c;
        rc = store_consent_get(req->ro, req->cfg, d, (enum store_purpose)p, req->now_s, &c);
        if (rc < 0)
            break;
        json_t *o = json_object();
        json_object_set_new(o, "purpose", json_string(store_purpose_name((enum store_purpose)p)));
        json_object_set_new(o, "given", json_boolean(c.given));
        json_object_set_new(o, "recorded", json_boolean(c.recorded));
        json_object_set_new(o, "ts", c.recorded ? api_time(c.ts_s) : json_null());
        json_object_set_new(o, "by", c.recorded ? json_string(c.by) : json_null());
        json_array_append_new(arr, o);
    }
    if (rc < 0) {
        json_decref(arr);
        log_err("http: dwelling=%s: cannot read the consents: %s", req->cfg->dwellings[d].id,
                store_errmsg(req->ro));
        return rc == -ENOMEM ? rc
                             : http_error(resp, 503, "unavailable", "the consents cannot be read");
    }
    json_t *j = json_object();
    json_object_set_new(j, "dwelling", json_string(req->cfg->dwellings[d].id));
    json_object_set_new(j, "consents", arr);
    return api_send_json(resp, j);
}

int api_me_consents(const struct http_request *req, struct http_response *resp)
{
    uint32_t d;
    int rc = api_tenant_dwelling(req, resp, &d);
    if (rc != 0)
        return rc > 0 ? 0 : rc;
    return send_consents(req, resp, d);
}

int api_me_consent_set(const struct http_request *req, struct http_response *resp)
{
    static const char shape[] = "{\"purpose\": \"load_curve\" or \"sharing\", \"given\": true "
                                "or false}";
    uint32_t d;
    json_t *body = NULL;
    int rc = api_tenant_dwelling(req, resp, &d);
    if (rc == 0)
        rc = body_object(req, resp, shape, &body);
    if (rc != 0)
        return rc > 0 ? 0 : rc;
    const char *pname = json_string_value(json_object_get(body, "purpose"));
    const json_t *jg = json_object_get(body, "given");
    enum store_purpose p;
    if (!pname || store_purpose_parse(pname, &p) < 0 || !json_is_boolean(jg)) {
        json_decref(body);
        return http_error(resp, 400, "bad_json", "purpose, given: %s", shape);
    }
    bool given = json_is_true(jg);
    json_decref(body);
    char by[80], tenancy[FOYER_ID_MAX + 1];
    share_by(req, by, sizeof(by));
    const char *msg = NULL;
    rc = store_consent_record(req->cfg->database, req->cfg, req->cfg->dwellings[d].id, p, given, by,
                              req->now_s, tenancy, &msg);
    if (rc < 0) {
        log_err("http: dwelling=%s: cannot record the consent to %s: %s", req->cfg->dwellings[d].id,
                store_purpose_name(p), msg ? msg : strerror(-rc));
        return rc == -ENOENT
                   ? http_error(resp, 409, "no_tenancy", "%s", msg ? msg : "no current tenancy")
                   : http_error(resp, 503, "unavailable", "the consent cannot be recorded now");
    }
    log_info("http: dwelling=%s %s consent to %s", req->cfg->dwellings[d].id,
             given ? "gives" : "withdraws", store_purpose_name(p));
    return send_consents(req, resp, d);
}

/* ---- GET /api/v1/shared -------------------------------------------------- */

struct shared_list {
    const struct http_request *req;
    json_t *arr;
};

static int shared_add(void *ctx, const struct store_grant *g)
{
    struct shared_list *l = ctx;
    const struct foyer_config *cfg = l->req->cfg;
    int32_t d = config_find_dwelling(cfg, g->dwelling);
    if (d < 0 || !http_principal_has_building(l->req->who, (int32_t)cfg->dwellings[d].building))
        return 0;
    json_t *o = json_object();
    json_object_set_new(o, "dwelling", json_string(g->dwelling));
    json_object_set_new(o, "building", json_string(cfg->buildings[cfg->dwellings[d].building].id));
    json_object_set_new(o, "grant", json_integer(g->id));
    json_object_set_new(o, "expires", api_time(g->expires_s));
    json_object_set_new(o, "expires_s", json_integer(g->expires_s));
    json_array_append_new(l->arr, o);
    return 0;
}

int api_shared(const struct http_request *req, struct http_response *resp)
{
    struct shared_list l = {.req = req, .arr = json_array()};
    int rc = req->who->name[0] ? store_grant_list_grantee(req->ro, req->cfg, req->who->name,
                                                          req->now_s, shared_add, &l)
                               : 0;
    if (rc < 0) {
        json_decref(l.arr);
        return rc == -ENOMEM ? rc
                             : http_error(resp, 503, "unavailable", "the grants cannot be read");
    }
    json_t *j = json_object();
    json_object_set_new(j, "households", l.arr);
    return api_send_json(resp, j);
}

/* ---- GET /api/v1/dwellings/{id}/history ---------------------------------- */

int api_dwelling_history(const struct http_request *req, struct http_response *resp)
{
    const char *id = req->n_params > 0 ? req->params[0] : "";
    int32_t d = config_find_dwelling(req->cfg, id);
    int64_t from_s = INT64_MIN, to_s = INT64_MAX;
    int rc;
    if (d < 0)
        return http_error(resp, 404, "not_found", "dwelling: no dwelling \"%.64s\"", id);
    if (req->who->role == HTTP_ROLE_AMBASSADOR) {
        rc = share_gate(req, resp, (uint32_t)d, id, &from_s, &to_s);
        if (rc != 0)
            return rc > 0 ? 0 : rc;
    }
    /* Hourly figures without the household's consent are refused here,
     * before the access log, as no read is made (api_send_history() says
     * so again for the tenant's route). */
    const char *gr = http_arg(req, "granularity");
    struct store_consent lc;
    if (gr && strcmp(gr, "hour") == 0 &&
        !(store_consent_get(req->ro, req->cfg, (uint32_t)d, STORE_PURPOSE_LOAD_CURVE, req->now_s,
                            &lc) == 0 &&
          lc.given))
        return http_error(resp, 403, "forbidden",
                          "granularity: hour needs the household's consent to load curves "
                          "(RGPD), which dwelling %s has not given; day, week and month are "
                          "available",
                          id);
    char what[200];
    const char *q = http_arg(req, "quantity");
    const char *f = http_arg(req, "from"), *t = http_arg(req, "to");
    (void)snprintf(what, sizeof(what),
                   "GET /api/v1/dwellings/%s/history quantity=%.16s granularity=%.8s from=%.12s "
                   "to=%.12s",
                   id, q ? q : "-", gr ? gr : "-", f ? f : "-", t ? t : "-");
    if (share_log(req, id, what) < 0)
        return http_error(resp, 500, "access_log",
                          "the read cannot be written in the access log: nothing is read");
    return api_send_history(req, resp, (uint32_t)d, from_s, to_s);
}
