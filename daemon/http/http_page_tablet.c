/*
 * http_page_tablet.c - the tenant's tablet page (GET /tablet) and its two
 * forms (POST /tablet/tip, POST /tablet/report).
 *
 * The page shows the household's last closed week from its stored summary
 * (store_read_summary(), the JSON of docs/summary.md): for each energy and
 * water, a verdict in a word, a colour and a pictogram, the euros first,
 * then what changed since the week before and how similar homes do (praise
 * first, never a reproach), two bars (this week, the week before); comfort
 * pictograms; at most three tips with three answer buttons; a "report a
 * problem" form; the household's choices (http_page_choices.c).  It refreshes itself every
 * PAGE_TABLET_REFRESH_S and says plainly when the figures are old.
 *
 * Tenant isolation: the principal's dwelling only, and nothing from before
 * its tenancy: a summary whose period starts before the tenancy (it was
 * computed for the household before) is not shown, nor a comparison with a
 * week before it, nor tip answers given before it.
 */
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "foyer/coach.h"
#include "foyer/limits.h"
#include "foyer/log.h"
#include "foyer/store_people.h"
#include "foyer/timeutil.h"
#include "http_page.h"

/* The page reloads itself this often: a tablet on a wall shows the new
 * week on Monday morning without a touch, and a few hundred tablets cost
 * one request a second. */
#define PAGE_TABLET_REFRESH_S 300

/* Closed weeks looked back for a stored summary before saying there is
 * none: a gateway down for a while still shows its last figures, marked
 * old. */
#define PAGE_TABLET_WEEKS_BACK 4

/* Figures of a week that ended longer ago than this are said to be old:
 * the last closed week ended at most 7 days ago, and its summary is
 * computed in the first minutes of the new week; one more day of grace
 * keeps a late computation from alarming anyone on Monday morning. */
#define PAGE_TABLET_OLD_S (8 * 86400)

/* A number of limits.h inside a static message. */
#define PAGE_STR_(x) #x
#define PAGE_STR(x)  PAGE_STR_(x)

/* A change of the daily rate smaller than this (percent) is "steady". */
#define PAGE_STEADY_PCT 5.0

static const struct {
    const char *quantity;
    enum page_key label;
} quantities[] = {
    {"electricity", PK_q_electricity},
    {"heat", PK_q_heat},
    {"gas", PK_q_gas},
    {"hot_water", PK_q_hot_water},
    {"cold_water", PK_q_cold_water},
};

static const struct {
    const char *kind;
    enum page_key label;
    const char *picto;
} report_kinds[] = {
    {"cold", PK_report_cold, "cold"},        {"damp", PK_report_damp, "damp"},
    {"draught", PK_report_draught, "stale"}, {"leak", PK_report_leak, "cold_water"},
    {"broken", PK_report_broken, "alert"},
};

static const char *const tip_answers[] = {"done", "impossible", "more"};

/* The tenant's dwelling, or NULL when the principal names none of the
 * config's (a token from before a reload that removed it). */
static const struct dwelling *tenant_dwelling(const struct http_request *req)
{
    const struct http_principal *who = req->who;
    if (!who || who->role != HTTP_ROLE_TENANT || who->dwelling < 0 ||
        (size_t)who->dwelling >= req->cfg->n_dwellings)
        return NULL;
    return &req->cfg->dwellings[who->dwelling];
}

static double num(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static int64_t iso_field(const json_t *o, const char *key)
{
    int64_t ts;
    const char *s = json_string_value(json_object_get(o, key));
    return s && tu_parse_iso(s, &ts) == 0 ? ts : INT64_MIN;
}

/* Whether the summary doc may be shown to the principal: its dwelling,
 * and the part the household sees ([from, to), clipped by the engine to
 * the tenancy of the config) inside the principal's tenancy.  A summary
 * computed before this tenancy was configured (the previous household's
 * whole week) starts before it: not shown. */
static bool summary_visible(const json_t *doc, const struct dwelling *dw,
                            const struct http_principal *who)
{
    const json_t *period = json_object_get(doc, "period");
    const char *d = json_string_value(json_object_get(doc, "dwelling"));
    int64_t from = iso_field(period, "from"), to = iso_field(period, "to");
    return d && strcmp(d, dw->id) == 0 && from != INT64_MIN && to != INT64_MIN &&
           from >= who->tenancy_from_s && from < who->tenancy_to_s && to > from;
}

/* ---- tip answers --------------------------------------------------------- */

struct answers {
    char tip[SUMMARY_TIPS_MAX][FOYER_ID_MAX + 1];
    char answer[SUMMARY_TIPS_MAX][16];
    const json_t *tips; /* the summary's tips: only their answers are kept */
};

static int answer_row(void *ctx, const struct store_tip_answer *a)
{
    struct answers *an = ctx;
    size_t i;
    const json_t *t;
    json_array_foreach(an->tips, i, t)
    {
        const char *id = json_string_value(json_object_get(t, "id"));
        if (i < SUMMARY_TIPS_MAX && id && strcmp(id, a->tip) == 0) {
            /* Oldest first: the newest answer stays. */
            (void)snprintf(an->tip[i], sizeof(an->tip[i]), "%s", a->tip);
            (void)snprintf(an->answer[i], sizeof(an->answer[i]), "%s", a->answer);
        }
    }
    return 0;
}

/* ---- the page ------------------------------------------------------------ */

static void say_li(struct page *pg, enum page_key key, const struct page_var *v, size_t n,
                   const char *cls)
{
    (void)http_buf_printf(pg->b, "<li class=\"%s\">", cls);
    (void)page_say(pg, key, v, n);
    (void)http_buf_str(pg->b, "</li>\n");
}

/* An amount in its unit, in the page's words ("219 kWh"). */
static void amount_text(struct page *pg, double amount, const char *unit, char *buf, size_t len)
{
    char n[48];
    int decimals = strcmp(unit, "kWh") == 0 && fabs(amount) < 10 ? 1 : 0;
    page_num(pg, amount, decimals, n, sizeof(n));
    (void)snprintf(buf, len, "%s", n);
}

static enum page_key unit_key(const char *unit)
{
    return strcmp(unit, "L") == 0 ? PK_unit_L : PK_unit_kWh;
}

static void bar(struct page *pg, enum page_key label, double v, double max, const char *unit,
                const char *field, const char *cls)
{
    char a[48];
    double w = max > 0 ? 100.0 * v / max : 0;
    amount_text(pg, v, unit, a, sizeof(a));
    struct page_var vars[] = {{"amount", a}, {"unit", page_text(pg, unit_key(unit))}};
    (void)http_buf_printf(pg->b, "<div class=\"bar %s\"><span class=\"bar-label\">", cls);
    (void)page_say(pg, label, NULL, 0);
    (void)http_buf_printf(pg->b,
                          "</span><svg viewBox=\"0 0 100 12\" preserveAspectRatio=\"none\" "
                          "aria-hidden=\"true\" focusable=\"false\"><rect width=\"%.1f\" "
                          "height=\"12\" rx=\"2\"/></svg><data class=\"fig\" data-f=\"%s\" "
                          "value=\"%.12g\">",
                          w < 1 && v > 0 ? 1.0 : w, field, v);
    (void)page_say(pg, PK_amount, vars, 2);
    (void)http_buf_str(pg->b, "</data></div>\n");
}

static void consumption_card(struct page *pg, const json_t *c, bool prev_allowed)
{
    const char *q = json_string_value(json_object_get(c, "quantity"));
    const char *unit = json_string_value(json_object_get(c, "unit"));
    enum page_key label = PK_COUNT_;
    for (size_t i = 0; q && i < sizeof(quantities) / sizeof(quantities[0]); i++)
        if (strcmp(quantities[i].quantity, q) == 0)
            label = quantities[i].label;
    if (label == PK_COUNT_ || !unit)
        return;
    bool reliable = json_is_true(json_object_get(c, "reliable"));
    double amount = num(c, "amount"), eur = num(c, "eur");
    const json_t *prev = prev_allowed ? json_object_get(c, "previous") : NULL;
    double pct = json_is_object(prev) ? num(prev, "change_pct") : NAN;
    double prev_amount = json_is_object(prev) ? num(prev, "amount") : NAN;
    const json_t *cmp = json_object_get(c, "comparison");
    const char *position =
        json_is_object(cmp) ? json_string_value(json_object_get(cmp, "position")) : NULL;
    bool peers_good = position && (strcmp(position, "best_quarter") == 0 ||
                                   strcmp(position, "better_than_median") == 0);

    const char *verdict = "neutral", *vpicto = "same";
    enum page_key vkey = PK_verdict_neutral;
    if (!reliable) {
        verdict = "unknown", vpicto = "unknown", vkey = PK_verdict_unknown;
    } else if (isfinite(pct) && pct <= -PAGE_STEADY_PCT) {
        verdict = "good", vpicto = "down", vkey = PK_verdict_good;
    } else if (isfinite(pct) && pct >= PAGE_STEADY_PCT) {
        verdict = "up", vpicto = "up", vkey = PK_verdict_up;
    } else if (isfinite(pct)) {
        verdict = "steady", vpicto = "same", vkey = PK_verdict_steady;
    } else if (peers_good) {
        verdict = "good", vpicto = "ok", vkey = PK_verdict_good;
    }

    struct http_buf *b = pg->b;
    (void)http_buf_printf(b, "<article class=\"card v-%s\" data-q=\"%s\">\n<h2>", verdict, q);
    (void)page_picto(b, q);
    (void)page_say(pg, label, NULL, 0);
    (void)http_buf_str(b, "</h2>\n<p class=\"verdict\">");
    (void)page_picto(b, vpicto);
    (void)page_say(pg, vkey, NULL, 0);
    (void)http_buf_str(b, "</p>\n");
    char n[48], a[48];
    if (isfinite(eur)) {
        page_num(pg, eur, 2, n, sizeof(n));
        struct page_var v[] = {{"eur", n}};
        (void)http_buf_printf(b,
                              "<p class=\"eur\"><data class=\"fig\" data-f=\"eur\" "
                              "value=\"%.12g\">",
                              eur);
        (void)page_say(pg, PK_eur, v, 1);
        (void)http_buf_str(b, "</data></p>\n");
    }
    if (isfinite(amount)) {
        amount_text(pg, amount, unit, a, sizeof(a));
        struct page_var v[] = {{"amount", a}, {"unit", page_text(pg, unit_key(unit))}};
        (void)http_buf_printf(b,
                              "<p class=\"amount\"><data class=\"fig\" data-f=\"amount\" "
                              "value=\"%.12g\">",
                              amount);
        (void)page_say(pg, PK_amount, v, 2);
        (void)http_buf_str(b, "</data></p>\n");
    }

    /* Praise first: the good news, then the rest. */
    (void)http_buf_str(b, "<ul class=\"says\">\n");
    if (!reliable) {
        say_li(pg, PK_unreliable, NULL, 0, "neutral");
    } else {
        page_num(pg, fabs(pct), 0, n, sizeof(n));
        struct page_var v[] = {{"pct", n}};
        bool down = isfinite(pct) && pct <= -0.5, up = isfinite(pct) && pct >= 0.5;
        if (down)
            say_li(pg, PK_prev_down, v, 1, "good");
        if (position && strcmp(position, "best_quarter") == 0)
            say_li(pg, PK_peers_best_quarter, NULL, 0, "good");
        else if (peers_good)
            say_li(pg, PK_peers_better, NULL, 0, "good");
        if (isfinite(pct) && !down && !up)
            say_li(pg, PK_prev_same, NULL, 0, "neutral");
        if (up)
            say_li(pg, PK_prev_up, v, 1, "neutral");
        if (position && strcmp(position, "above_median") == 0)
            say_li(pg, PK_peers_above, NULL, 0, "neutral");
    }
    (void)http_buf_str(b, "</ul>\n");
    if (reliable && isfinite(amount) && isfinite(prev_amount)) {
        double max = fmax(amount, prev_amount);
        (void)http_buf_str(b, "<div class=\"bars\">\n");
        bar(pg, PK_bar_this_week, amount, max, unit, "this_week", "this");
        bar(pg, PK_bar_prev_week, prev_amount, max, unit, "previous", "prev");
        (void)http_buf_str(b, "</div>\n");
    }
    (void)http_buf_str(b, "</article>\n");
}

static void comfort_item(struct page *pg, double hours, enum page_key bad, enum page_key ok,
                         const char *picto)
{
    char n[48];
    if (!isfinite(hours))
        return;
    page_num(pg, hours, 0, n, sizeof(n));
    struct page_var v[] = {{"hours", n}};
    (void)http_buf_printf(pg->b, "<li class=\"%s\">", hours > 0 ? "c-alert" : "c-ok");
    (void)page_picto(pg->b, hours > 0 ? picto : "ok");
    (void)page_say(pg, hours > 0 ? bad : ok, v, 1);
    (void)http_buf_str(pg->b, "</li>\n");
}

static void comfort_section(struct page *pg, const json_t *comfort)
{
    if (!json_is_object(comfort))
        return;
    const json_t *t = json_object_get(comfort, "temperature");
    const json_t *h = json_object_get(comfort, "humidity");
    const json_t *co2 = json_object_get(comfort, "co2");
    (void)http_buf_str(pg->b, "<section class=\"comfort\">\n<h2>");
    (void)page_say(pg, PK_comfort_title, NULL, 0);
    (void)http_buf_str(pg->b, "</h2>\n<ul>\n");
    if (json_is_object(t) && json_is_true(json_object_get(t, "reliable")) &&
        isfinite(num(t, "mean"))) {
        char n[48];
        page_num(pg, num(t, "mean"), 1, n, sizeof(n));
        struct page_var v[] = {{"mean", n}};
        say_li(pg, PK_comfort_temp, v, 1, "c-info");
    }
    if (json_is_object(t))
        comfort_item(pg, num(t, "hours_below_16"), PK_comfort_cold, PK_comfort_cold_ok, "cold");
    if (json_is_object(h))
        comfort_item(pg, num(h, "hours_above_70"), PK_comfort_damp, PK_comfort_damp_ok, "damp");
    if (json_is_object(co2))
        comfort_item(pg, num(co2, "hours_above_1000"), PK_comfort_stale, PK_comfort_stale_ok,
                     "stale");
    (void)http_buf_str(pg->b, "</ul>\n</section>\n");
}

static void tips_section(struct page *pg, const json_t *doc, const struct answers *an)
{
    const json_t *tips = json_object_get(doc, "tips");
    const char *doc_lang = json_string_value(json_object_get(doc, "lang"));
    size_t i;
    const json_t *t;
    bool any = false;
    json_array_foreach(tips, i, t)
    {
        const char *id = json_string_value(json_object_get(t, "id"));
        const char *text = json_string_value(json_object_get(t, "text"));
        /* The tip in the page's language when the summary has it
         * (tips[].texts, docs/summary.md), else in the summary's. */
        const char *mine =
            json_string_value(json_object_get(json_object_get(t, "texts"), pg->t->code));
        const char *text_lang = doc_lang;
        if (mine) {
            text = mine;
            text_lang = pg->t->code;
        }
        if (i >= SUMMARY_TIPS_MAX || !id || !text || !conf_id_valid(id))
            continue;
        const char *answer = an->tip[i][0] ? an->answer[i] : "";
        if (strcmp(answer, "impossible") == 0)
            continue; /* "not possible here": never shown again to this dwelling */
        if (!any) {
            (void)http_buf_str(pg->b, "<section class=\"tips\">\n<h2>");
            (void)page_say(pg, PK_tips_title, NULL, 0);
            (void)http_buf_str(pg->b, "</h2>\n");
            any = true;
        }
        (void)http_buf_printf(pg->b, "<article class=\"tip\" id=\"tip-%s\" data-tip=\"%s\">\n", id,
                              id);
        /* Words in another language than the page's (a summary made
         * before tips[].texts, or without the page's catalogue): say so,
         * for screen readers. */
        if (text_lang && conf_id_valid(text_lang) && strcmp(text_lang, pg->t->code) != 0)
            (void)http_buf_printf(pg->b, "<p class=\"tip-text\" lang=\"%s\">", text_lang);
        else
            (void)http_buf_str(pg->b, "<p class=\"tip-text\">");
        (void)http_buf_html(pg->b, text);
        (void)http_buf_str(pg->b, "</p>\n");
        double saving = num(t, "saving_eur_year");
        if (isfinite(saving) && saving >= 1) {
            char n[48];
            page_num(pg, saving, 0, n, sizeof(n));
            struct page_var v[] = {{"eur", n}};
            (void)http_buf_str(pg->b, "<p class=\"saving\">");
            (void)page_say(pg, PK_tips_saving, v, 1);
            (void)http_buf_str(pg->b, "</p>\n");
        }
        if (strcmp(answer, "done") == 0 || strcmp(answer, "more") == 0) {
            (void)http_buf_str(pg->b, "<p class=\"answered\">");
            (void)page_say(pg, strcmp(answer, "done") == 0 ? PK_tip_was_done : PK_tip_was_more,
                           NULL, 0);
            (void)http_buf_str(pg->b, "</p>\n");
        }
        (void)http_buf_printf(pg->b,
                              "<form class=\"answers\" method=\"post\" action=\"/tablet/tip\">\n"
                              "<input type=\"hidden\" name=\"tip\" value=\"%s\">\n"
                              "<fieldset><legend>",
                              id);
        (void)page_say(pg, PK_tip_answer_label, NULL, 0);
        (void)http_buf_str(pg->b, "</legend>\n");
        static const enum page_key labels[] = {PK_tip_done, PK_tip_impossible, PK_tip_more};
        for (size_t k = 0; k < 3; k++) {
            (void)http_buf_printf(pg->b, "<button type=\"submit\" name=\"answer\" value=\"%s\">",
                                  tip_answers[k]);
            (void)page_say(pg, labels[k], NULL, 0);
            (void)http_buf_str(pg->b, "</button>\n");
        }
        (void)http_buf_str(pg->b, "</fieldset>\n</form>\n</article>\n");
    }
    if (any)
        (void)http_buf_str(pg->b, "</section>\n");
}

static void report_section(struct page *pg)
{
    struct http_buf *b = pg->b;
    (void)http_buf_str(b, "<section class=\"report\">\n<h2>");
    (void)page_say(pg, PK_report_title, NULL, 0);
    (void)http_buf_str(b, "</h2>\n<details>\n<summary class=\"button\">");
    (void)page_say(pg, PK_report_open, NULL, 0);
    (void)http_buf_str(b, "</summary>\n<form method=\"post\" action=\"/tablet/report\">\n<p>");
    (void)page_say(pg, PK_report_intro, NULL, 0);
    (void)http_buf_str(b, "</p>\n<label for=\"report-text\">");
    (void)page_say(pg, PK_report_text_label, NULL, 0);
    (void)http_buf_printf(b,
                          "</label>\n<input id=\"report-text\" name=\"text\" maxlength=\"%d\" "
                          "autocomplete=\"off\">\n<div class=\"kinds\">\n",
                          FOYER_REPORT_TEXT_MAX);
    for (size_t i = 0; i < sizeof(report_kinds) / sizeof(report_kinds[0]); i++) {
        (void)http_buf_printf(b, "<button type=\"submit\" name=\"kind\" value=\"%s\">",
                              report_kinds[i].kind);
        (void)page_picto(b, report_kinds[i].picto);
        (void)page_say(pg, report_kinds[i].label, NULL, 0);
        (void)http_buf_str(b, "</button>\n");
    }
    (void)http_buf_str(b, "</div>\n</form>\n</details>\n</section>\n");
}

static void line(struct page *pg, const char *cls, const char *role, enum page_key key,
                 const struct page_var *v, size_t n)
{
    if (role)
        (void)http_buf_printf(pg->b, "<p class=\"%s\" role=\"%s\">", cls, role);
    else
        (void)http_buf_printf(pg->b, "<p class=\"%s\">", cls);
    (void)page_say(pg, key, v, n);
    (void)http_buf_str(pg->b, "</p>\n");
}

/* *ret_doc = the newest stored summary the principal may see among the
 * last PAGE_TABLET_WEEKS_BACK closed weeks (NULL: none).  0 or -errno. */
static int tablet_summary(const struct http_request *req, const struct dwelling *dw,
                          json_t **ret_doc)
{
    struct summary_period cur, p;
    summary_period_at(SUMMARY_WEEK, req->now_s, &cur);
    summary_period_prev(&cur, &p);
    *ret_doc = NULL;
    for (int back = 0; back < PAGE_TABLET_WEEKS_BACK && p.end_s > req->who->tenancy_from_s;
         back++) {
        char *body = NULL;
        int rc = store_read_summary(req->ro, dw->id, p.id, &body);
        if (rc < 0 && rc != -ENOENT) {
            log_err("tablet: dwelling=%s period=%s: cannot read the summary: %s", dw->id, p.id,
                    store_errmsg(req->ro));
            return rc;
        }
        if (rc == 0) {
            json_t *doc = json_loads(body, 0, NULL);
            free(body);
            if (doc && summary_visible(doc, dw, req->who)) {
                *ret_doc = doc;
                return 0;
            }
            json_decref(doc);
        }
        summary_period_prev(&p, &p);
    }
    return 0;
}

/* The week of doc: its dates, its warnings, the cards, comfort, tips. */
static int tablet_week(struct page *pg, const struct dwelling *dw, const json_t *doc)
{
    const struct http_request *req = pg->req;
    const json_t *period = json_object_get(doc, "period");
    int64_t from = iso_field(period, "from"), to = iso_field(period, "to");
    bool clipped = json_is_true(json_object_get(period, "clipped_to_tenancy"));
    char dfrom[96], dto[96];
    (void)page_date(pg, from, false, dfrom, sizeof(dfrom));
    /* "to" is the Monday after: the last day shown is the Sunday. */
    (void)page_date(pg, to - 1, false, dto, sizeof(dto));
    struct page_var pv[] = {{"from", dfrom}, {"to", dto}};
    if (req->now_s - to > PAGE_TABLET_OLD_S) {
        line(pg, "old", "alert", PK_tablet_old, pv, 1);
        line(pg, "old", NULL, PK_tablet_old_why, NULL, 0);
    }
    line(pg, "period", NULL, PK_tablet_period, pv, 2);
    if (clipped)
        line(pg, "period", NULL, PK_tablet_since, pv, 1);
    if (json_is_true(json_object_get(json_object_get(doc, "coverage"), "partial")))
        line(pg, "partial", NULL, PK_tablet_partial, NULL, 0);

    /* The week before is compared only when it lies inside the tenancy:
     * the summary says null otherwise too, and this holds for a summary
     * computed under another tenancy as well. */
    struct summary_period shown, before = {0};
    bool known =
        summary_period_parse(json_string_value(json_object_get(period, "id")), &shown) == 0;
    if (known)
        summary_period_prev(&shown, &before);
    bool prev_allowed = known && !clipped && before.start_s >= req->who->tenancy_from_s;
    /* The period shown, for a program comparing the page with the API. */
    (void)http_buf_printf(pg->b, "<section class=\"cards\" data-period=\"%s\">\n",
                          known ? shown.id : "");
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(doc, "consumption"), i, c)
    {
        consumption_card(pg, c, prev_allowed);
    }
    (void)http_buf_str(pg->b, "</section>\n");
    comfort_section(pg, json_object_get(doc, "comfort"));

    struct answers an = {.tips = json_object_get(doc, "tips")};
    int rc =
        store_people_read_tip_answers(req->ro, dw->id, req->who->tenancy_from_s, answer_row, &an);
    if (rc < 0) {
        log_err("tablet: dwelling=%s: cannot read tip answers: %s", dw->id, store_errmsg(req->ro));
        return rc;
    }
    tips_section(pg, doc, &an);
    return 0;
}

int page_tablet(const struct http_request *req, struct http_response *resp)
{
    struct page pg = {.req = req, .resp = resp, .b = &resp->body};
    const struct dwelling *dw = tenant_dwelling(req);
    json_t *doc = NULL;
    pg.t = page_texts_get(req->cfg, req->lang);
    if (!pg.t)
        return http_error(resp, 500, "texts", "the pages' language files cannot be loaded");
    if (!dw)
        return page_error(req, resp, 403, PK_error_not_yours, "/pair",
                          "the token names no dwelling of the config");
    int rc = tablet_summary(req, dw, &doc);
    if (rc < 0)
        return rc;

    (void)page_begin(&pg, PK_tablet_title, PAGE_TABLET_REFRESH_S, "/tablet", "/tablet");
    const char *thanks = http_arg(req, "thanks");
    if (thanks && strcmp(thanks, "tip") == 0)
        line(&pg, "thanks", "status", PK_thanks_tip, NULL, 0);
    else if (thanks && strcmp(thanks, "more") == 0)
        line(&pg, "thanks", "status", PK_thanks_more, NULL, 0);
    else if (thanks && strcmp(thanks, "report") == 0)
        line(&pg, "thanks", "status", PK_thanks_report, NULL, 0);
    else if (thanks && strcmp(thanks, "choice") == 0)
        line(&pg, "thanks", "status", PK_thanks_choice, NULL, 0);
    if (doc)
        rc = tablet_week(&pg, dw, doc);
    else
        line(&pg, "none", NULL, PK_tablet_none, NULL, 0);
    if (rc == 0) {
        report_section(&pg);
        rc = page_choices_section(&pg, (uint32_t)(dw - req->cfg->dwellings));
    }
    if (rc == 0) {
        (void)http_buf_str(pg.b, "<footer>\n");
        int64_t generated = doc ? iso_field(doc, "generated_at") : INT64_MIN;
        if (generated != INT64_MIN) {
            char d[96];
            (void)page_date(&pg, generated, true, d, sizeof(d));
            struct page_var v[] = {{"date", d}};
            line(&pg, "updated", NULL, PK_tablet_updated, v, 1);
        }
        (void)http_buf_str(pg.b, "<p><a class=\"button\" href=\"/tablet\">");
        (void)page_say(&pg, PK_tablet_refresh, NULL, 0);
        (void)http_buf_str(pg.b, "</a></p>\n</footer>\n");
        rc = page_end(&pg);
    }
    json_decref(doc);
    if (rc < 0)
        return rc;
    return pg.b->failed ? -ENOMEM : 0;
}

/* ---- the forms ----------------------------------------------------------- */

/* Open a report of kind PAGE_REPORT_MORE for dwelling, its text the words
 * of tip in the summary the household sees now (the tip's id when it is no
 * longer there): the ambassador knows what to talk about. */
static int tip_more_report(const struct http_request *req, const struct dwelling *dw,
                           const char *tip)
{
    json_t *doc = NULL;
    const char *text = tip;
    size_t i;
    const json_t *t;
    int rc = tablet_summary(req, dw, &doc);
    if (rc < 0)
        return rc;
    json_array_foreach(json_object_get(doc, "tips"), i, t)
    {
        const char *id = json_string_value(json_object_get(t, "id"));
        const char *words = json_string_value(json_object_get(t, "text"));
        if (id && words && strcmp(id, tip) == 0)
            text = words;
    }
    rc = store_people_report_open(req->cfg->database, req->cfg->buildings[dw->building].id, dw->id,
                                  PAGE_REPORT_MORE, text, req->now_s, NULL);
    json_decref(doc);
    if (rc < 0) {
        log_err("tablet: dwelling=%s tip=%s: cannot store the request to know more: %s", dw->id,
                tip, strerror(-rc));
        return rc;
    }
    atomic_fetch_add(&page_stat_reports_opened, 1);
    return 0;
}

int page_tablet_tip(const struct http_request *req, struct http_response *resp)
{
    const struct dwelling *dw = tenant_dwelling(req);
    if (!dw)
        return page_error(req, resp, 403, PK_error_not_yours, "/tablet",
                          "the token names no dwelling of the config");
    if (!page_same_origin(req))
        return page_error(req, resp, 403, PK_error_not_yours, "/tablet",
                          "Origin or Referer names another host (a cross-site post)");
    const char *tip = http_arg(req, "tip");
    const char *answer = http_arg(req, "answer");
    bool answer_ok = false;
    for (size_t i = 0; answer && i < sizeof(tip_answers) / sizeof(tip_answers[0]); i++)
        answer_ok = answer_ok || strcmp(answer, tip_answers[i]) == 0;
    if (!answer_ok)
        return page_error(req, resp, 400, PK_error_bad_form, "/tablet",
                          "field answer: missing, or not done, impossible or more");
    if (!tip || !conf_id_valid(tip) || !page_tip_known(req->cfg, tip))
        return page_error(req, resp, 400, PK_error_bad_form, "/tablet",
                          "field tip: missing, or not a tip of the catalogue (tips.fr.conf)");
    int rc = store_people_tip_answer(req->cfg->database, dw->id, tip, answer, req->now_s);
    if (rc < 0) {
        log_err("tablet: dwelling=%s tip=%s: cannot store the answer: %s", dw->id, tip,
                strerror(-rc));
        return rc;
    }
    /* "Tell me more" promises a visit: the ambassador's page lists it, as
     * a report, until closed. */
    if (strcmp(answer, "more") == 0 && (rc = tip_more_report(req, dw, tip)) < 0)
        return rc;
    atomic_fetch_add(&page_stat_tip_answers, 1);
    page_redirect(resp, strcmp(answer, "more") == 0 ? "/tablet?thanks=more" : "/tablet?thanks=tip");
    return 0;
}

/* A report's text: at most FOYER_REPORT_TEXT_MAX characters (code points:
 * the form's maxlength counts characters, and "é" is two bytes) of
 * well-formed UTF-8 without control characters (it is shown on another
 * person's page and in logs). */
static bool report_text_ok(const char *s)
{
    size_t chars = 0;
    while (*s) {
        uint32_t cp;
        size_t n = conf_utf8_char((const unsigned char *)s, &cp);
        if (n == 0 || conf_is_control(cp) || ++chars > FOYER_REPORT_TEXT_MAX)
            return false;
        s += n;
    }
    return true;
}

int page_tablet_report(const struct http_request *req, struct http_response *resp)
{
    const struct dwelling *dw = tenant_dwelling(req);
    if (!dw)
        return page_error(req, resp, 403, PK_error_not_yours, "/tablet",
                          "the token names no dwelling of the config");
    if (!page_same_origin(req))
        return page_error(req, resp, 403, PK_error_not_yours, "/tablet",
                          "Origin or Referer names another host (a cross-site post)");
    const char *kind = http_arg(req, "kind");
    const char *text = http_arg(req, "text");
    bool kind_ok = false;
    for (size_t i = 0; kind && i < sizeof(report_kinds) / sizeof(report_kinds[0]); i++)
        kind_ok = kind_ok || strcmp(kind, report_kinds[i].kind) == 0;
    if (!text)
        text = "";
    if (!kind_ok)
        return page_error(req, resp, 400, PK_error_bad_form, "/tablet",
                          "field kind: missing, or not cold, damp, draught, leak or broken");
    if (!report_text_ok(text))
        return page_error(req, resp, 400, PK_error_bad_form, "/tablet",
                          "field text: longer than " PAGE_STR(
                              FOYER_REPORT_TEXT_MAX) " characters, not "
                                                     "UTF-8, or holding control characters");
    const char *building = req->cfg->buildings[dw->building].id;
    int rc = store_people_report_open(req->cfg->database, building, dw->id, kind, text, req->now_s,
                                      NULL);
    if (rc < 0) {
        log_err("tablet: dwelling=%s kind=%s: cannot store the report: %s", dw->id, kind,
                strerror(-rc));
        return rc;
    }
    atomic_fetch_add(&page_stat_reports_opened, 1);
    page_redirect(resp, "/tablet?thanks=report");
    return 0;
}
