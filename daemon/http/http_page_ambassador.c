/*
 * http_page_ambassador.c - the ambassador page (GET /ambassador) and the
 * form that closes a problem report (POST /ambassador/report).
 *
 * For each building of the token (the energy team: every one): the devices
 * that stopped sending first (offline meters, stale sensors, devices never
 * heard of: since when, which dwelling and device), then the building's
 * alerts not closed (issue 14: the sentence in the reader's language, since
 * when, who saw it, and a "seen" button with an optional note: POST
 * /ambassador/alert), then the open problem
 * reports of the households (each with a "fixed" button), then the
 * building's totals today and since Monday, per energy and water.  A
 * dwelling's own consumption only in the first section, "Foyers qui
 * partagent avec vous" (http_page_shared.c): the households that let this
 * ambassador see their figures now; the figures of a home are the
 * household's.  One column, large buttons: a phone will do.
 */
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "foyer/limits.h"
#include "foyer/log.h"
#include "foyer/store_alerts.h"
#include "foyer/store_erase.h"
#include "foyer/store_people.h"
#include "foyer/timeutil.h"
#include "http_page.h"

#define PAGE_AMBASSADOR_REFRESH_S 300

#define AMB_STR_(x) #x
#define AMB_STR(x)  AMB_STR_(x)

/* The devices' health as the drivers last reported it, sorted by name
 * (health_sort()) for health_of(): a building's page looks up each of its
 * meters and sensors, hundreds on a large site. */
struct healths {
    struct device_health *h;
    size_t n, cap;
};

static int health_row(void *ctx, const struct device_health *h)
{
    struct healths *hs = ctx;
    if (hs->n == hs->cap) {
        size_t cap = hs->cap ? hs->cap * 2 : 64;
        struct device_health *nh = realloc(hs->h, cap * sizeof(*nh));
        if (!nh)
            return -ENOMEM;
        hs->h = nh;
        hs->cap = cap;
    }
    hs->h[hs->n] = *h;
    /* kind and state are borrowed for the call: keep static ones. */
    hs->h[hs->n].kind = NULL;
    hs->h[hs->n].state = strcmp(h->state, "offline") == 0 ? "offline"
                         : strcmp(h->state, "stale") == 0 ? "stale"
                                                          : "ok";
    hs->n++;
    return 0;
}

static int health_cmp(const void *a, const void *b)
{
    return strcmp(((const struct device_health *)a)->device,
                  ((const struct device_health *)b)->device);
}

static void health_sort(struct healths *hs)
{
    if (hs->n > 1)
        qsort(hs->h, hs->n, sizeof(*hs->h), health_cmp);
}

static const struct device_health *health_of(const struct healths *hs, const char *device)
{
    struct device_health key = {0};
    if (!hs->n || strlen(device) >= sizeof(key.device))
        return NULL;
    memcpy(key.device, device, strlen(device) + 1);
    return bsearch(&key, hs->h, hs->n, sizeof(*hs->h), health_cmp);
}

/* One device of the building: listed when silent; *n_ok counts the others. */
static void device_line(struct page *pg, const struct healths *hs, const char *id, bool meter,
                        int32_t dwelling, bool *any, int *n_ok)
{
    const struct device_health *h = health_of(hs, id);
    if (h && strcmp(h->state, "ok") == 0) {
        (*n_ok)++;
        return;
    }
    if (!*any)
        (void)http_buf_str(pg->b, "<ul class=\"devices\">\n");
    *any = true;
    struct page_var vid[] = {{"id", id}};
    (void)http_buf_printf(pg->b, "<li class=\"device\" data-device=\"%s\">", id);
    (void)page_picto(pg->b, "alert");
    (void)http_buf_str(pg->b, "<strong>");
    (void)page_say(pg, meter ? PK_amb_kind_meter : PK_amb_kind_sensor, vid, 1);
    (void)http_buf_str(pg->b, "</strong> <span class=\"where\">");
    if (dwelling >= 0 && (size_t)dwelling < pg->req->cfg->n_dwellings) {
        const struct dwelling *dw = &pg->req->cfg->dwellings[dwelling];
        struct page_var v[] = {{"label", dw->label ? dw->label : dw->id}};
        (void)page_say(pg, PK_amb_dwelling, v, 1);
    } else {
        (void)page_say(pg, PK_amb_common, NULL, 0);
    }
    (void)http_buf_str(pg->b, "</span> <span class=\"since\">");
    if (!h) {
        (void)page_say(pg, PK_amb_device_never, NULL, 0);
    } else {
        char d[96];
        (void)page_date(pg, h->since_s, true, d, sizeof(d));
        struct page_var v[] = {{"date", d}};
        (void)page_say(
            pg, strcmp(h->state, "offline") == 0 ? PK_amb_device_offline : PK_amb_device_stale, v,
            1);
    }
    (void)http_buf_str(pg->b, "</span></li>\n");
}

static void devices_part(struct page *pg, const struct healths *hs, int32_t b)
{
    const struct foyer_config *cfg = pg->req->cfg;
    bool any = false;
    int n_ok = 0;
    (void)http_buf_str(pg->b, "<h3>");
    (void)page_say(pg, PK_amb_devices_title, NULL, 0);
    (void)http_buf_str(pg->b, "</h3>\n");
    for (size_t i = 0; i < cfg->n_meters; i++)
        if (cfg->meters[i].building == b)
            device_line(pg, hs, cfg->meters[i].id, true, cfg->meters[i].dwelling, &any, &n_ok);
    for (size_t i = 0; i < cfg->n_sensors; i++)
        if (cfg->sensors[i].building == b)
            device_line(pg, hs, cfg->sensors[i].id, false, cfg->sensors[i].dwelling, &any, &n_ok);
    if (any)
        (void)http_buf_str(pg->b, "</ul>\n");
    char n[16];
    (void)snprintf(n, sizeof(n), "%d", n_ok);
    struct page_var v[] = {{"n", n}};
    if (any && n_ok == 0)
        return; /* "0 devices are sending well" says nothing the list does not */
    (void)http_buf_printf(pg->b, "<p class=\"%s\">", any ? "ok-count" : "ok");
    (void)page_say(pg,
                   !any        ? PK_amb_devices_ok
                   : n_ok == 1 ? PK_amb_devices_ok_one
                               : PK_amb_devices_ok_count,
                   v, 1);
    (void)http_buf_str(pg->b, "</p>\n");
}

static const struct {
    enum quantity q;
    enum page_key label;
} total_quantities[] = {
    {Q_ELECTRICITY, PK_q_electricity},
    {Q_HEAT, PK_q_heat},
    {Q_GAS, PK_q_gas},
    {Q_HOT_WATER, PK_q_hot_water},
    {Q_COLD_WATER, PK_q_cold_water},
};

struct total {
    int64_t day_start_s;
    double today, week;
    bool any;
};

static int total_row(void *ctx, const struct store_rollup *row)
{
    struct total *t = ctx;
    t->week += row->sum;
    if (row->ts_s >= t->day_start_s)
        t->today += row->sum;
    t->any = true;
    return 0;
}

static int totals_part(struct page *pg, int32_t b)
{
    const struct foyer_config *cfg = pg->req->cfg;
    int64_t now = pg->req->now_s;
    bool any = false;
    (void)http_buf_str(pg->b, "<h3>");
    (void)page_say(pg, PK_amb_totals_title, NULL, 0);
    (void)http_buf_str(pg->b, "</h3>\n");
    for (size_t k = 0; k < sizeof(total_quantities) / sizeof(total_quantities[0]); k++) {
        struct total t = {.day_start_s = tu_day_start(now)};
        /* Every non-submeter channel of the quantity in the building:
         * the dwellings' and the common meters', added up, never shown
         * one by one. */
        for (size_t c = 0; c < cfg->n_channels; c++) {
            const struct channel *ch = &cfg->channels[c];
            if (ch->building != b || ch->quantity != total_quantities[k].q || ch->submeter)
                continue;
            int rc = store_read_rollups(pg->req->ro, STORE_DAY, (uint32_t)c, tu_week_start(now),
                                        now + 1, 0, total_row, &t);
            if (rc < 0) {
                log_err("ambassador: building=%s channel=%s: cannot read rollups: %s",
                        cfg->buildings[b].id, ch->id, store_errmsg(pg->req->ro));
                return rc;
            }
        }
        /* Erased dwellings' consumption, folded per building
         * (store_erase.h). */
        int rc = store_read_folded(pg->req->ro, cfg->buildings[b].id, total_quantities[k].q,
                                   STORE_DAY, tu_week_start(now), now + 1, total_row, &t);
        if (rc < 0) {
            log_err("ambassador: building=%s: cannot read folded totals: %s", cfg->buildings[b].id,
                    store_errmsg(pg->req->ro));
            return rc;
        }
        if (!t.any)
            continue;
        const char *unit = quantity_unit(total_quantities[k].q);
        char today[48], week[48];
        page_num(pg, t.today, 0, today, sizeof(today));
        page_num(pg, t.week, 0, week, sizeof(week));
        struct page_var v[] = {
            {"label", page_text(pg, total_quantities[k].label)},
            {"today", today},
            {"week", week},
            {"unit", page_text(pg, strcmp(unit, "L") == 0 ? PK_unit_L : PK_unit_kWh)},
        };
        if (!any)
            (void)http_buf_str(pg->b, "<ul class=\"totals\">\n");
        any = true;
        (void)http_buf_printf(pg->b, "<li data-q=\"%s\" data-today=\"%.12g\" data-week=\"%.12g\">",
                              quantity_name(total_quantities[k].q), t.today, t.week);
        (void)page_say(pg, PK_amb_total_line, v, 4);
        (void)http_buf_str(pg->b, "</li>\n");
    }
    if (any) {
        (void)http_buf_str(pg->b, "</ul>\n");
    } else {
        (void)http_buf_str(pg->b, "<p>");
        (void)page_say(pg, PK_amb_totals_none, NULL, 0);
        (void)http_buf_str(pg->b, "</p>\n");
    }
    return 0;
}

static const struct {
    const char *kind;
    enum page_key label;
} kinds[] = {
    {"cold", PK_report_cold}, {"damp", PK_report_damp},     {"draught", PK_report_draught},
    {"leak", PK_report_leak}, {"broken", PK_report_broken}, {PAGE_REPORT_MORE, PK_amb_kind_more},
};

struct reports_ctx {
    struct page *pg;
    int n;
};

static int report_row(void *ctx, const struct store_report *r)
{
    struct reports_ctx *rc = ctx;
    struct page *pg = rc->pg;
    const struct foyer_config *cfg = pg->req->cfg;
    if (rc->n++ == 0)
        (void)http_buf_str(pg->b, "<ul class=\"reports\">\n");
    (void)http_buf_printf(pg->b, "<li class=\"report-item\" data-report=\"%lld\">\n<strong>",
                          (long long)r->id);
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strcmp(kinds[i].kind, r->kind) == 0)
            (void)page_say(pg, kinds[i].label, NULL, 0);
    (void)http_buf_str(pg->b, "</strong> <span class=\"where\">");
    int32_t d = config_find_dwelling(cfg, r->dwelling);
    const char *label = d >= 0 && cfg->dwellings[d].label ? cfg->dwellings[d].label : r->dwelling;
    struct page_var v[] = {{"label", label}};
    (void)page_say(pg, PK_amb_dwelling, v, 1);
    (void)http_buf_str(pg->b, "</span>\n");
    if (r->text[0]) {
        (void)http_buf_str(pg->b, "<q>");
        (void)http_buf_html(pg->b, r->text);
        (void)http_buf_str(pg->b, "</q>\n");
    }
    char date[96];
    (void)page_date(pg, r->opened_s, true, date, sizeof(date));
    struct page_var vd[] = {{"date", date}};
    (void)http_buf_str(pg->b, "<span class=\"since\">");
    (void)page_say(pg, PK_amb_report_line, vd, 1);
    (void)http_buf_printf(pg->b,
                          "</span>\n<form method=\"post\" action=\"/ambassador/report\">"
                          "<input type=\"hidden\" name=\"id\" value=\"%lld\">"
                          "<button type=\"submit\">",
                          (long long)r->id);
    (void)page_say(pg, PK_amb_report_close, NULL, 0);
    (void)http_buf_str(pg->b, "</button></form>\n</li>\n");
    return 0;
}

struct alerts_ctx {
    struct page *pg;
    int n;
};

static int alert_row(void *ctx, const struct store_alert *al)
{
    struct alerts_ctx *ac = ctx;
    struct page *pg = ac->pg;
    bool en = strcmp(pg->req->lang, "en") == 0;
    const char *text = en && al->text_en ? al->text_en : al->text_fr;
    if (ac->n++ == 0)
        (void)http_buf_str(pg->b, "<ul class=\"alerts\">\n");
    (void)http_buf_printf(pg->b, "<li class=\"alert-item\" data-alert=\"%lld\" data-kind=\"",
                          (long long)al->id);
    (void)http_buf_html(pg->b, al->kind);
    (void)http_buf_printf(pg->b, "\" data-state=\"%s\">\n",
                          al->state == STORE_ALERT_ACKNOWLEDGED ? "acknowledged" : "open");
    (void)page_picto(pg->b, "alert");
    (void)http_buf_str(pg->b, "<strong>");
    (void)http_buf_html(pg->b, text ? text : al->kind);
    (void)http_buf_str(pg->b, "</strong>\n<span class=\"since\">");
    char date[96];
    (void)page_date(pg, al->opened_s, true, date, sizeof(date));
    struct page_var vd[] = {{"date", date}};
    (void)page_say(pg, PK_amb_alert_line, vd, 1);
    (void)http_buf_str(pg->b, "</span>\n");
    if (al->state == STORE_ALERT_ACKNOWLEDGED) {
        (void)page_date(pg, al->acked_s, true, date, sizeof(date));
        struct page_var va[] = {{"who", al->ack_by ? al->ack_by : "?"}, {"date", date}};
        (void)http_buf_str(pg->b, "<span class=\"acked\">");
        (void)page_say(pg, PK_amb_alert_acked, va, 2);
        (void)http_buf_str(pg->b, "</span>\n");
        if (al->ack_note && *al->ack_note) {
            (void)http_buf_str(pg->b, "<q>");
            (void)http_buf_html(pg->b, al->ack_note);
            (void)http_buf_str(pg->b, "</q>\n");
        }
    } else {
        (void)http_buf_printf(pg->b,
                              "<form method=\"post\" action=\"/ambassador/alert\">"
                              "<input type=\"hidden\" name=\"id\" value=\"%lld\">"
                              "<label for=\"note-%lld\">",
                              (long long)al->id, (long long)al->id);
        (void)page_say(pg, PK_amb_alert_note, NULL, 0);
        (void)http_buf_printf(pg->b,
                              "</label><input id=\"note-%lld\" name=\"note\" maxlength=\"%d\">"
                              "<button type=\"submit\">",
                              (long long)al->id, FOYER_ALERT_NOTE_MAX);
        (void)page_say(pg, PK_amb_alert_ack, NULL, 0);
        (void)http_buf_str(pg->b, "</button></form>\n");
    }
    (void)http_buf_str(pg->b, "</li>\n");
    return 0;
}

/* The building's alerts not closed, oldest first. */
static int alerts_part(struct page *pg, const struct building *bd)
{
    struct alerts_ctx ac = {.pg = pg};
    struct store_alert_filter f = {.building = bd->id};
    (void)http_buf_str(pg->b, "<h3>");
    (void)page_say(pg, PK_amb_alerts_title, NULL, 0);
    (void)http_buf_str(pg->b, "</h3>\n");
    int err = store_read_alerts(pg->req->ro, &f, alert_row, &ac);
    if (err < 0) {
        log_err("ambassador: building=%s: cannot read alerts: %s", bd->id,
                store_errmsg(pg->req->ro));
        return err;
    }
    if (ac.n > 0) {
        (void)http_buf_str(pg->b, "</ul>\n");
    } else {
        (void)http_buf_str(pg->b, "<p class=\"ok\">");
        (void)page_say(pg, PK_amb_alerts_none, NULL, 0);
        (void)http_buf_str(pg->b, "</p>\n");
    }
    return 0;
}

static int building_section(struct page *pg, const struct healths *hs, int32_t b)
{
    const struct building *bd = &pg->req->cfg->buildings[b];
    struct page_var v[] = {{"name", bd->name ? bd->name : bd->id}};
    (void)http_buf_printf(pg->b, "<section class=\"building\" data-building=\"%s\">\n<h2>", bd->id);
    (void)page_say(pg, PK_amb_building, v, 1);
    (void)http_buf_str(pg->b, "</h2>\n");
    devices_part(pg, hs, b);
    int err = alerts_part(pg, bd);
    if (err < 0)
        return err;

    struct reports_ctx rc = {.pg = pg};
    (void)http_buf_str(pg->b, "<h3>");
    (void)page_say(pg, PK_amb_reports_title, NULL, 0);
    (void)http_buf_str(pg->b, "</h3>\n");
    err = store_people_read_reports(pg->req->ro, bd->id, true, report_row, &rc);
    if (err < 0) {
        log_err("ambassador: building=%s: cannot read reports: %s", bd->id,
                store_errmsg(pg->req->ro));
        return err;
    }
    if (rc.n > 0) {
        (void)http_buf_str(pg->b, "</ul>\n");
    } else {
        (void)http_buf_str(pg->b, "<p class=\"ok\">");
        (void)page_say(pg, PK_amb_reports_none, NULL, 0);
        (void)http_buf_str(pg->b, "</p>\n");
    }
    err = totals_part(pg, b);
    (void)http_buf_str(pg->b, "</section>\n");
    return err;
}

int page_ambassador(const struct http_request *req, struct http_response *resp)
{
    struct page pg = {.req = req, .resp = resp, .b = &resp->body};
    pg.t = page_texts_get(req->cfg, req->lang);
    if (!pg.t)
        return http_error(resp, 500, "texts", "the pages' language files cannot be loaded");
    struct healths hs = {0};
    int rc = store_read_devices(req->ro, health_row, &hs);
    if (rc < 0) {
        log_err("ambassador: cannot read device health: %s", store_errmsg(req->ro));
        free(hs.h);
        return rc;
    }
    health_sort(&hs);
    (void)page_begin(&pg, PK_amb_title, PAGE_AMBASSADOR_REFRESH_S, "/ambassador", "/ambassador");
    const char *closed = http_arg(req, "closed");
    if (closed && strcmp(closed, "1") == 0) {
        (void)http_buf_str(pg.b, "<p class=\"thanks\" role=\"status\">");
        (void)page_say(&pg, PK_amb_closed, NULL, 0);
        (void)http_buf_str(pg.b, "</p>\n");
    }
    const char *acked = http_arg(req, "acked");
    if (acked && strcmp(acked, "1") == 0) {
        (void)http_buf_str(pg.b, "<p class=\"thanks\" role=\"status\">");
        (void)page_say(&pg, PK_amb_acked, NULL, 0);
        (void)http_buf_str(pg.b, "</p>\n");
    }
    rc = page_shared_section(&pg);
    for (size_t b = 0; rc == 0 && b < req->cfg->n_buildings; b++)
        if (http_principal_has_building(req->who, (int32_t)b))
            rc = building_section(&pg, &hs, (int32_t)b);
    free(hs.h);
    if (rc < 0)
        return rc;
    rc = page_end(&pg);
    return pg.b->failed ? -ENOMEM : rc;
}

int page_ambassador_report(const struct http_request *req, struct http_response *resp)
{
    if (!page_same_origin(req))
        return page_error(req, resp, 403, PK_error_not_yours, "/ambassador",
                          "Origin or Referer names another host (a cross-site post)");
    const char *id_text = http_arg(req, "id");
    char *end = NULL;
    errno = 0;
    long long id = id_text && *id_text >= '1' && *id_text <= '9' ? strtoll(id_text, &end, 10) : 0;
    if (id <= 0 || errno || !end || *end)
        return page_error(req, resp, 400, PK_error_bad_form, "/ambassador",
                          "field id: missing, or not a report number");
    char building[FOYER_ID_MAX + 1];
    int rc = store_people_report_building(req->ro, id, building, sizeof(building));
    if (rc == -ENOENT || rc == -ENAMETOOLONG)
        return page_error(req, resp, 400, PK_error_bad_form, "/ambassador",
                          "field id: no such report");
    if (rc < 0) {
        log_err("ambassador: report=%lld: cannot read it: %s", id, store_errmsg(req->ro));
        return rc;
    }
    int32_t b = config_find_building(req->cfg, building);
    if (b < 0 || !http_principal_has_building(req->who, b))
        return page_error(req, resp, 403, PK_error_not_yours, "/ambassador",
                          "the report is of a building the token does not hold");
    rc = store_people_report_close(req->cfg->database, id, req->who->name, req->now_s);
    if (rc == -ENOENT) {
        /* Closed already (two ambassadors, or a second tap): done. */
        page_redirect(resp, "/ambassador?closed=1");
        return 0;
    }
    if (rc < 0) {
        log_err("ambassador: report=%lld: cannot close it: %s", id, strerror(-rc));
        return rc;
    }
    atomic_fetch_add(&page_stat_reports_closed, 1);
    page_redirect(resp, "/ambassador?closed=1");
    return 0;
}

/* The building of alert id (its ID into buf, "" for none) and its state. */
struct alert_of {
    int64_t id;
    bool found;
    enum store_alert_state state;
    char building[FOYER_ID_MAX + 1];
};

static int alert_of_row(void *ctx, const struct store_alert *al)
{
    struct alert_of *a = ctx;
    if (al->id != a->id)
        return 0;
    a->found = true;
    a->state = al->state;
    (void)snprintf(a->building, sizeof(a->building), "%s", al->building ? al->building : "");
    return 1;
}

int page_ambassador_alert(const struct http_request *req, struct http_response *resp)
{
    if (!page_same_origin(req))
        return page_error(req, resp, 403, PK_error_not_yours, "/ambassador",
                          "Origin or Referer names another host (a cross-site post)");
    const char *id_text = http_arg(req, "id");
    const char *note = http_arg(req, "note");
    char *end = NULL;
    errno = 0;
    long long id = id_text && *id_text >= '1' && *id_text <= '9' ? strtoll(id_text, &end, 10) : 0;
    if (id <= 0 || errno || !end || *end)
        return page_error(req, resp, 400, PK_error_bad_form, "/ambassador",
                          "field id: missing, or not an alert number");
    struct store_alert_filter f = {.all = true};
    struct alert_of a = {.id = id};
    int rc = store_read_alerts(req->ro, &f, alert_of_row, &a);
    if (rc < 0) {
        log_err("ambassador: alert=%lld: cannot read it: %s", id, store_errmsg(req->ro));
        return rc;
    }
    if (!a.found)
        return page_error(req, resp, 400, PK_error_bad_form, "/ambassador",
                          "field id: no such alert");
    int32_t b = config_find_building(req->cfg, a.building);
    if (req->who->role != HTTP_ROLE_ENERGY_TEAM &&
        (b < 0 || !http_principal_has_building(req->who, b)))
        return page_error(req, resp, 403, PK_error_not_yours, "/ambassador",
                          "the alert is of a building the token does not hold");
    if (a.state == STORE_ALERT_CLOSED) {
        /* Closed meanwhile (by itself, or by the team): nothing to see. */
        page_redirect(resp, "/ambassador?acked=1");
        return 0;
    }
    struct store_alerts *w = NULL;
    const char *msg = NULL;
    rc = store_alerts_open(req->cfg->database, &w, &msg);
    if (rc < 0) {
        log_err("ambassador: alert=%lld: cannot open the database: %s", id,
                msg ? msg : strerror(-rc));
        return rc;
    }
    rc = store_alerts_ack(w, id, req->who->name[0] ? req->who->name : "ambassador",
                          note && *note ? note : NULL, req->now_s);
    if (rc < 0 && rc != -EMSGSIZE && rc != -EALREADY)
        log_err("ambassador: alert=%lld: cannot acknowledge it: %s", id, store_alerts_errmsg(w));
    store_alerts_close(w);
    if (rc == -EMSGSIZE)
        return page_error(req, resp, 400, PK_error_bad_form, "/ambassador",
                          "field note: longer than " AMB_STR(FOYER_ALERT_NOTE_MAX) " bytes");
    if (rc < 0 && rc != -EALREADY)
        return rc;
    log_info("ambassador: alert %lld acknowledged by %s", id, req->who->name);
    page_redirect(resp, "/ambassador?acked=1");
    return 0;
}
