/*
 * http_page_shared.c - the ambassador page's "Foyers qui partagent avec
 * vous": each household that lets this ambassador see its figures now
 * (store_grant.h, http_share.h), until when, and the figures of its last
 * week's summary (docs/summary.md: the amount per energy and water).
 *
 * Only an ambassador's token holds grants (the energy team's page shows no
 * such section).  Each household's summary is read only after the read is
 * written in the access log (share_log()); a household whose read cannot
 * be logged is shown without figures.  A summary is shown only when the
 * week it covers lies inside the grant's tenancy.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "foyer/coach.h"
#include "foyer/log.h"
#include "foyer/store_grant.h"
#include "foyer/timeutil.h"
#include "http_page.h"
#include "http_share.h"

/* Closed weeks looked back for a household's stored summary, as the
 * tablet does (PAGE_TABLET_WEEKS_BACK). */
#define PAGE_SHARED_WEEKS_BACK 4

static const struct {
    const char *quantity;
    enum page_key label;
} shared_quantities[] = {
    {"electricity", PK_q_electricity},
    {"heat", PK_q_heat},
    {"gas", PK_q_gas},
    {"hot_water", PK_q_hot_water},
    {"cold_water", PK_q_cold_water},
};

struct shared_ctx {
    struct page *pg;
    int n;
    int rc;
};

/* *ret_doc = the newest stored weekly summary of dwelling d lying inside
 * [from_s, to_s), among the last closed weeks (NULL none).  0 or -errno. */
static int shared_summary(const struct http_request *req, uint32_t d, int64_t from_s, int64_t to_s,
                          json_t **ret_doc)
{
    struct summary_period cur, p;
    summary_period_at(SUMMARY_WEEK, req->now_s, &cur);
    summary_period_prev(&cur, &p);
    *ret_doc = NULL;
    for (int back = 0; back < PAGE_SHARED_WEEKS_BACK && p.end_s > from_s; back++) {
        char *body = NULL;
        if (p.start_s >= from_s && p.end_s <= to_s) {
            int rc = store_read_summary(req->ro, req->cfg->dwellings[d].id, p.id, &body);
            if (rc < 0 && rc != -ENOENT)
                return rc;
            if (rc == 0) {
                *ret_doc = json_loads(body, 0, NULL);
                free(body);
                return 0;
            }
        }
        summary_period_prev(&p, &p);
    }
    return 0;
}

static void shared_figures(struct page *pg, const json_t *doc)
{
    const json_t *period = json_object_get(doc, "period");
    int64_t from = INT64_MIN, to = INT64_MIN;
    const char *fs = json_string_value(json_object_get(period, "from"));
    const char *ts = json_string_value(json_object_get(period, "to"));
    char dfrom[96] = "", dto[96] = "";
    if (fs && tu_parse_iso(fs, &from) == 0)
        (void)page_date(pg, from, false, dfrom, sizeof(dfrom));
    if (ts && tu_parse_iso(ts, &to) == 0)
        (void)page_date(pg, to - 1, false, dto, sizeof(dto));
    struct page_var pv[] = {{"from", dfrom}, {"to", dto}};
    (void)http_buf_str(pg->b, "<p>");
    (void)page_say(pg, PK_amb_shared_week, pv, 2);
    (void)http_buf_str(pg->b, "</p>\n<ul>\n");
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(doc, "consumption"), i, c)
    {
        const char *q = json_string_value(json_object_get(c, "quantity"));
        const char *unit = json_string_value(json_object_get(c, "unit"));
        const json_t *a = json_object_get(c, "amount");
        enum page_key label = PK_COUNT_;
        for (size_t k = 0; q && k < sizeof(shared_quantities) / sizeof(shared_quantities[0]); k++)
            if (strcmp(shared_quantities[k].quantity, q) == 0)
                label = shared_quantities[k].label;
        if (label == PK_COUNT_ || !unit || !json_is_number(a))
            continue;
        double v = json_number_value(a);
        char n[48];
        page_num(pg, v, strcmp(unit, "kWh") == 0 && fabs(v) < 10 ? 1 : 0, n, sizeof(n));
        struct page_var fv[] = {
            {"label", page_text(pg, label)},
            {"amount", n},
            {"unit", page_text(pg, strcmp(unit, "L") == 0 ? PK_unit_L : PK_unit_kWh)},
        };
        (void)http_buf_printf(pg->b, "<li data-q=\"%s\"><data class=\"fig\" value=\"%.12g\">", q,
                              v);
        (void)page_say(pg, PK_amb_shared_figure, fv, 3);
        (void)http_buf_str(pg->b, "</data></li>\n");
    }
    (void)http_buf_str(pg->b, "</ul>\n");
}

static int shared_row(void *ctx, const struct store_grant *g)
{
    struct shared_ctx *sc = ctx;
    struct page *pg = sc->pg;
    const struct http_request *req = pg->req;
    int32_t d = config_find_dwelling(req->cfg, g->dwelling);
    int64_t from_s, to_s;
    /* g is active (store_grant_list_grantee()): only its span is read. */
    if (d < 0 || share_span(req, (uint32_t)d, g, &from_s, &to_s) < 0)
        return 0; /* not one of this token's buildings, or its tenancy gone */
    const struct dwelling *dw = &req->cfg->dwellings[d];
    char date[96];
    (void)page_date(pg, g->expires_s, false, date, sizeof(date));
    struct page_var v[] = {{"label", dw->label ? dw->label : dw->id}, {"date", date}};
    (void)http_buf_str(pg->b, "<article class=\"shared\" data-dwelling=\"");
    (void)http_buf_html(pg->b, dw->id);
    (void)http_buf_str(pg->b, "\">\n<h3>");
    (void)page_say(pg, PK_amb_shared_line, v, 2);
    (void)http_buf_str(pg->b, "</h3>\n");
    sc->n++;
    json_t *doc = NULL;
    if (share_log(req, dw->id, "GET /ambassador shared household: last week's summary") == 0) {
        int rc = shared_summary(req, (uint32_t)d, from_s, to_s, &doc);
        if (rc < 0) {
            log_err("ambassador: dwelling=%s: cannot read the summary: %s", dw->id,
                    store_errmsg(req->ro));
            sc->rc = rc;
            return rc;
        }
    }
    if (doc)
        shared_figures(pg, doc);
    else {
        (void)http_buf_str(pg->b, "<p class=\"none\">");
        (void)page_say(pg, PK_amb_shared_nofigures, NULL, 0);
        (void)http_buf_str(pg->b, "</p>\n");
    }
    json_decref(doc);
    (void)http_buf_str(pg->b, "</article>\n");
    return 0;
}

int page_shared_section(struct page *pg)
{
    const struct http_request *req = pg->req;
    if (req->who->role != HTTP_ROLE_AMBASSADOR || !req->who->name[0])
        return 0;
    (void)http_buf_str(pg->b, "<section class=\"shared-homes\" id=\"shared\">\n<h2>");
    (void)page_say(pg, PK_amb_shared_title, NULL, 0);
    (void)http_buf_str(pg->b, "</h2>\n");
    struct shared_ctx sc = {.pg = pg};
    int rc =
        store_grant_list_grantee(req->ro, req->cfg, req->who->name, req->now_s, shared_row, &sc);
    if (rc < 0) {
        if (sc.rc == 0)
            log_err("ambassador: cannot read the grants: %s", store_errmsg(req->ro));
        return rc;
    }
    if (sc.n == 0) {
        (void)http_buf_str(pg->b, "<p class=\"none\">");
        (void)page_say(pg, PK_amb_shared_none, NULL, 0);
        (void)http_buf_str(pg->b, "</p>\n");
    }
    (void)http_buf_str(pg->b, "</section>\n");
    return 0;
}
