/*
 * http_page_choices.c - the household's choices on its tablet: the
 * "Mes choix" section of GET /tablet and its forms, POST /tablet/consent
 * (load curves yes or no), POST /tablet/share (let a named ambassador see
 * the figures for N days) and POST /tablet/share/revoke (withdraw it).
 *
 * The same records as the tenant's API (http_api_share.c) and foyerctl
 * consent: store_consent_record() and store_grant.h on a connection of
 * their own for the call, recorded as "tenant:NAME" (the token's name).
 * No script: each form posts and is answered 303 to /tablet, where the
 * section shows the new state.  Form posts come from our own pages only
 * (page_same_origin()).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "foyer/limits.h"
#include "foyer/log.h"
#include "foyer/store_auth.h"
#include "foyer/store_consent.h"
#include "foyer/store_grant.h"
#include "http_page.h"
#include "http_share.h"

/* The principal's dwelling (a tenant's, in the config), or -1. */
static int32_t choices_dwelling(const struct http_request *req)
{
    const struct http_principal *who = req->who;
    if (!who || who->role != HTTP_ROLE_TENANT || who->dwelling < 0 ||
        (size_t)who->dwelling >= req->cfg->n_dwellings)
        return -1;
    return who->dwelling;
}

/* ---- the section ----------------------------------------------------------- */

struct choices_grants {
    struct page *pg;
    int n; /* active grants shown */
};

static int choices_grant_row(void *ctx, const struct store_grant *g)
{
    struct choices_grants *cg = ctx;
    struct page *pg = cg->pg;
    if (!g->active)
        return 0;
    char date[96];
    (void)page_date(pg, g->expires_s, false, date, sizeof(date));
    struct page_var v[] = {{"name", g->grantee}, {"date", date}};
    if (cg->n++ == 0)
        (void)http_buf_str(pg->b, "<ul class=\"grants\">\n");
    (void)http_buf_printf(pg->b, "<li data-grant=\"%lld\"><p>", (long long)g->id);
    (void)page_say(pg, PK_choices_share_line, v, 2);
    (void)http_buf_printf(pg->b,
                          "</p>\n<form method=\"post\" action=\"/tablet/share/revoke\">"
                          "<input type=\"hidden\" name=\"id\" value=\"%lld\">"
                          "<button type=\"submit\">",
                          (long long)g->id);
    (void)page_say(pg, PK_choices_share_revoke, NULL, 0);
    (void)http_buf_str(pg->b, "</button></form></li>\n");
    return 0;
}

struct choices_ambs {
    struct page *pg;
    const char *building;
    int64_t now_s;
    int n;
};

/* An ambassador token covering the household's building: an option. */
static int choices_amb_row(void *ctx, const struct store_token *t)
{
    struct choices_ambs *ca = ctx;
    if (!share_offered(t, ca->building, ca->now_s))
        return 0;
    (void)http_buf_str(ca->pg->b, "<option value=\"");
    (void)http_buf_html(ca->pg->b, t->name);
    (void)http_buf_str(ca->pg->b, "\">");
    (void)http_buf_html(ca->pg->b, t->name);
    (void)http_buf_str(ca->pg->b, "</option>\n");
    ca->n++;
    return 0;
}

int page_choices_section(struct page *pg, uint32_t d)
{
    const struct http_request *req = pg->req;
    const struct foyer_config *cfg = req->cfg;
    struct http_buf *b = pg->b;
    struct store_consent lc;
    int rc = store_consent_get(req->ro, cfg, d, STORE_PURPOSE_LOAD_CURVE, req->now_s, &lc);
    if (rc < 0) {
        log_err("tablet: dwelling=%s: cannot read the consent: %s", cfg->dwellings[d].id,
                store_errmsg(req->ro));
        return rc;
    }
    (void)http_buf_str(b, "<section class=\"choices\" id=\"choices\">\n<h2>");
    (void)page_say(pg, PK_choices_title, NULL, 0);
    (void)http_buf_str(b, "</h2>\n<p>");
    (void)page_say(pg, PK_choices_load_curve, NULL, 0);
    (void)http_buf_printf(b, "</p>\n<p class=\"state\" data-consent=\"%s\">",
                          lc.given ? "yes" : "no");
    (void)page_say(pg, lc.given ? PK_choices_load_curve_yes : PK_choices_load_curve_no, NULL, 0);
    (void)http_buf_str(b, "</p>\n<form method=\"post\" action=\"/tablet/consent\">"
                          "<input type=\"hidden\" name=\"purpose\" value=\"load_curve\">\n"
                          "<div class=\"answers\"><button type=\"submit\" name=\"given\" "
                          "value=\"1\">");
    (void)page_say(pg, PK_choices_yes, NULL, 0);
    (void)http_buf_str(b, "</button><button type=\"submit\" name=\"given\" value=\"0\">");
    (void)page_say(pg, PK_choices_no, NULL, 0);
    (void)http_buf_str(b, "</button></div></form>\n<h3>");

    (void)page_say(pg, PK_choices_share_title, NULL, 0);
    (void)http_buf_str(b, "</h3>\n<p>");
    (void)page_say(pg, PK_choices_share_intro, NULL, 0);
    (void)http_buf_str(b, "</p>\n");
    struct choices_grants cg = {.pg = pg};
    rc = store_grant_list(req->ro, cfg, d, req->now_s, choices_grant_row, &cg);
    if (rc < 0) {
        log_err("tablet: dwelling=%s: cannot read the grants: %s", cfg->dwellings[d].id,
                store_errmsg(req->ro));
        return rc;
    }
    if (cg.n)
        (void)http_buf_str(b, "</ul>\n");
    else {
        (void)http_buf_str(b, "<p class=\"none\">");
        (void)page_say(pg, PK_choices_share_none, NULL, 0);
        (void)http_buf_str(b, "</p>\n");
    }
    /* The form, with the building's ambassadors to choose from. */
    size_t mark = b->len;
    (void)http_buf_str(b, "<form method=\"post\" action=\"/tablet/share\">\n"
                          "<label for=\"share-who\">");
    (void)page_say(pg, PK_choices_share_who, NULL, 0);
    (void)http_buf_str(b, "</label>\n<select id=\"share-who\" name=\"grantee\">\n");
    struct choices_ambs ca = {
        .pg = pg, .building = cfg->buildings[cfg->dwellings[d].building].id, .now_s = req->now_s};
    rc = store_auth_list(req->ro, choices_amb_row, &ca);
    if (rc < 0) {
        log_err("tablet: cannot read the tokens: %s", store_errmsg(req->ro));
        return rc;
    }
    if (ca.n == 0) {
        /* Nobody to choose: no form, a sentence. */
        if (!b->failed) {
            b->len = mark;
            b->data[mark] = '\0';
        }
        (void)http_buf_str(b, "<p class=\"none\">");
        (void)page_say(pg, PK_choices_share_nobody, NULL, 0);
        (void)http_buf_str(b, "</p>\n</section>\n");
        return 0;
    }
    (void)http_buf_str(b, "</select>\n<label for=\"share-days\">");
    (void)page_say(pg, PK_choices_share_days, NULL, 0);
    (void)http_buf_printf(b,
                          "</label>\n<input id=\"share-days\" name=\"days\" type=\"number\" "
                          "inputmode=\"numeric\" min=\"1\" max=\"%d\" value=\"%d\" required>\n"
                          "<p><button type=\"submit\">",
                          FOYER_GRANT_DAYS_MAX, FOYER_GRANT_DAYS_DEFAULT);
    (void)page_say(pg, PK_choices_share_submit, NULL, 0);
    (void)http_buf_str(b, "</button></p>\n</form>\n</section>\n");
    return 0;
}

/* ---- the forms --------------------------------------------------------------- */

/* The common checks of the three forms: 0 and *ret_d, or answered. */
static int choices_form(const struct http_request *req, struct http_response *resp, uint32_t *ret_d,
                        int *ret_answered)
{
    int32_t d = choices_dwelling(req);
    if (d < 0) {
        *ret_answered = page_error(req, resp, 403, PK_error_not_yours, "/tablet",
                                   "the token names no dwelling of the config");
        return 1;
    }
    if (!page_same_origin(req)) {
        *ret_answered = page_error(req, resp, 403, PK_error_not_yours, "/tablet",
                                   "Origin or Referer names another host (a cross-site post)");
        return 1;
    }
    *ret_d = (uint32_t)d;
    return 0;
}

int page_tablet_consent(const struct http_request *req, struct http_response *resp)
{
    uint32_t d;
    int answered = 0;
    if (choices_form(req, resp, &d, &answered))
        return answered;
    const char *purpose = http_arg(req, "purpose");
    const char *given = http_arg(req, "given");
    enum store_purpose p;
    if (!purpose || store_purpose_parse(purpose, &p) < 0)
        return page_error(req, resp, 400, PK_error_bad_form, "/tablet",
                          "field purpose: missing, or not load_curve or sharing");
    if (!given || (strcmp(given, "1") != 0 && strcmp(given, "0") != 0))
        return page_error(req, resp, 400, PK_error_bad_form, "/tablet",
                          "field given: missing, or not 1 or 0");
    char by[80], tenancy[FOYER_ID_MAX + 1];
    share_by(req, by, sizeof(by));
    const char *msg = NULL;
    const char *id = req->cfg->dwellings[d].id;
    int rc = store_consent_record(req->cfg->database, req->cfg, id, p, given[0] == '1', by,
                                  req->now_s, tenancy, &msg);
    if (rc < 0) {
        log_err("tablet: dwelling=%s: cannot record the consent to %s: %s", id, purpose,
                msg ? msg : strerror(-rc));
        return rc == -ENOENT ? page_error(req, resp, 403, PK_error_not_yours, "/tablet",
                                          "no current tenancy to record the consent for")
                             : rc;
    }
    log_info("tablet: dwelling=%s %s consent to %s", id, given[0] == '1' ? "gives" : "withdraws",
             purpose);
    page_redirect(resp, "/tablet?thanks=choice#choices");
    return 0;
}

int page_tablet_share(const struct http_request *req, struct http_response *resp)
{
    uint32_t d;
    int answered = 0;
    if (choices_form(req, resp, &d, &answered))
        return answered;
    const char *grantee = http_arg(req, "grantee");
    const char *days_s = http_arg(req, "days");
    char *end = NULL;
    long days = FOYER_GRANT_DAYS_DEFAULT;
    if (days_s && *days_s) {
        errno = 0;
        days = strtol(days_s, &end, 10);
        if (*end || errno)
            days = 0;
    }
    if (days < 1 || days > FOYER_GRANT_DAYS_MAX)
        return page_error(req, resp, 400, PK_error_bad_form, "/tablet",
                          "field days: not a whole number from 1 to the most (limits.h)");
    if (!grantee || !*grantee || strlen(grantee) >= 64)
        return page_error(req, resp, 400, PK_error_bad_form, "/tablet",
                          "field grantee: missing or longer than a token name");
    char by[80];
    share_by(req, by, sizeof(by));
    const char *msg = NULL;
    int64_t gid = 0;
    const char *id = req->cfg->dwellings[d].id;
    int rc = store_grant_create(req->cfg->database, req->cfg, id, grantee, (int)days, by,
                                req->now_s, &gid, &msg);
    if (rc == -ENOENT || rc == -EACCES || rc == -EMLINK || rc == -EINVAL)
        return page_error(req, resp, 400, PK_error_bad_form, "/tablet",
                          "field grantee: no ambassador of the building by that name, or too "
                          "many grants");
    if (rc < 0) {
        log_err("tablet: dwelling=%s: cannot store the grant: %s", id, msg ? msg : strerror(-rc));
        return rc;
    }
    log_info("tablet: dwelling=%s grants access for %ld days (grant %lld)", id, days,
             (long long)gid);
    page_redirect(resp, "/tablet?thanks=choice#choices");
    return 0;
}

int page_tablet_unshare(const struct http_request *req, struct http_response *resp)
{
    uint32_t d;
    int answered = 0;
    if (choices_form(req, resp, &d, &answered))
        return answered;
    const char *ids = http_arg(req, "id");
    char *end = NULL;
    errno = 0;
    long long gid = ids ? strtoll(ids, &end, 10) : 0;
    if (!ids || !*ids || *end || errno || gid <= 0)
        return page_error(req, resp, 400, PK_error_bad_form, "/tablet",
                          "field id: missing, or not a positive integer");
    char by[80];
    share_by(req, by, sizeof(by));
    const char *msg = NULL;
    const char *id = req->cfg->dwellings[d].id;
    int rc = store_grant_revoke(req->cfg->database, req->cfg, id, gid, by, req->now_s, &msg);
    if (rc == -ENOENT)
        return page_error(req, resp, 400, PK_error_bad_form, "/tablet",
                          "field id: not a grant of this household");
    if (rc < 0 && rc != -EALREADY) {
        log_err("tablet: dwelling=%s: cannot revoke grant %lld: %s", id, gid,
                msg ? msg : strerror(-rc));
        return rc;
    }
    /* Revoked already (twice pressed): the same answer, nothing to do. */
    log_info("tablet: dwelling=%s revokes grant %lld", id, gid);
    page_redirect(resp, "/tablet?thanks=choice#choices");
    return 0;
}
