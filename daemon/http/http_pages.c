/*
 * http_pages.c - the pages' route table (http_page_routes[], http_int.h),
 * the pairing form, the HTML error page, the cross-site check of form
 * posts, and the skeleton every page shares (head, language switch,
 * numbers and dates in the reader's language, pictograms).
 *
 * Pages are rendered on the server, complete: readable with JavaScript off
 * (there is none), refreshed by <meta http-equiv=refresh>, styled by
 * web/foyer.css (served by the server from web_dir).  Every word comes from
 * config/web.LANG.conf (http_page_text.c); the language is the request's
 * (?lang=, else the foyer_lang cookie, else Accept-Language, else French),
 * and a ?lang= choice is remembered in the foyer_lang cookie.
 *
 * Form posts (tip answers, problem reports, closing a report) answer 303
 * back to their page with a thank-you line.  Cross-site posts: the session
 * cookie is SameSite=Strict, so a browser does not send it with another
 * site's form; on top of that a post whose Origin (else Referer) names
 * another host than the request's Host is refused (page_same_origin()).  A
 * per-session hidden token would need state kept on the server or a secret
 * shared between restarts, and a tablet left on a page across a restart
 * would post a stale one; the headers need neither.  Bearer clients are
 * not browsers and send no cookie to be abused.
 */
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "foyer/log.h"
#include "foyer/timeutil.h"
#include "http_page.h"

static _Atomic uint64_t stat_bad_forms, stat_cross_site;
_Atomic uint64_t page_stat_tip_answers, page_stat_reports_opened, page_stat_reports_closed;

void http_page_stats_get(struct http_page_stats *ret)
{
    ret->bad_forms = atomic_load(&stat_bad_forms);
    ret->cross_site = atomic_load(&stat_cross_site);
    ret->tip_answers = atomic_load(&page_stat_tip_answers);
    ret->reports_opened = atomic_load(&page_stat_reports_opened);
    ret->reports_closed = atomic_load(&page_stat_reports_closed);
}

/* ---- text -------------------------------------------------------------- */

/* n bytes of s, escaped for HTML content and quoted attributes, as
 * http_buf_html() does for a whole string: page_say() escapes a template
 * piece by piece, between its placeholders. */
static int html_n(struct http_buf *b, const char *s, size_t n)
{
    size_t start = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const char *rep = NULL;
        switch (s[i]) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&#39;";
            break;
        default:
            continue;
        }
        if (i > start)
            rc = http_buf_add(b, s + start, i - start);
        if (rc == 0)
            rc = http_buf_str(b, rep);
        start = i + 1;
    }
    if (rc == 0 && n > start)
        rc = http_buf_add(b, s + start, n - start);
    return rc;
}

const char *page_text(const struct page *pg, enum page_key key)
{
    return pg->t->text[key];
}

int page_say(struct page *pg, enum page_key key, const struct page_var *vars, size_t n_vars)
{
    const char *s = pg->t->text[key];
    int rc = 0;
    while (*s && rc == 0) {
        const char *open = strchr(s, '{');
        const char *close = open ? strchr(open, '}') : NULL;
        if (!open || !close) {
            rc = html_n(pg->b, s, strlen(s));
            break;
        }
        rc = html_n(pg->b, s, (size_t)(open - s));
        size_t len = (size_t)(close - open - 1);
        const struct page_var *v = NULL;
        for (size_t i = 0; i < n_vars && !v; i++)
            if (strlen(vars[i].name) == len && memcmp(vars[i].name, open + 1, len) == 0)
                v = &vars[i];
        if (rc == 0)
            rc = v ? html_n(pg->b, v->value, strlen(v->value))
                   : html_n(pg->b, open, (size_t)(close - open + 1));
        s = close + 1;
    }
    return rc;
}

char *page_num(const struct page *pg, double v, int decimals, char *buf, size_t len)
{
    char raw[48];
    if (!isfinite(v)) {
        (void)snprintf(buf, len, "?");
        return buf;
    }
    /* "-0" reads as a fault: a rounded zero is zero. */
    (void)snprintf(raw, sizeof(raw), "%.*f", decimals, v);
    if (strspn(raw, "-0.") == strlen(raw) && raw[0] == '-')
        memmove(raw, raw + 1, strlen(raw));
    const char *dot = strchr(raw, '.');
    size_t int_end = dot ? (size_t)(dot - raw) : strlen(raw);
    size_t digits_from = raw[0] == '-' ? 1 : 0;
    size_t o = 0;
    for (size_t i = 0; i < int_end && o + 8 < len; i++) {
        size_t left = int_end - i;
        if (i > digits_from && left % 3 == 0) {
            size_t tl = strlen(pg->t->thousands);
            if (o + tl + 8 >= len)
                break;
            memcpy(buf + o, pg->t->thousands, tl);
            o += tl;
        }
        buf[o++] = raw[i];
    }
    if (dot && o + strlen(pg->t->decimal) + strlen(dot) < len) {
        memcpy(buf + o, pg->t->decimal, strlen(pg->t->decimal));
        o += strlen(pg->t->decimal);
        memcpy(buf + o, dot + 1, strlen(dot + 1));
        o += strlen(dot + 1);
    }
    buf[o] = '\0';
    return buf;
}

/* The text of key with vars into buf (not escaped): for dates built from
 * a text, which page_say() escapes later as a value. */
static void text_fill(const char *tmpl, const struct page_var *vars, size_t n_vars, char *buf,
                      size_t len)
{
    size_t o = 0;
    const char *s = tmpl;
    while (*s && o + 1 < len) {
        const struct page_var *v = NULL;
        const char *close = *s == '{' ? strchr(s, '}') : NULL;
        for (size_t i = 0; close && i < n_vars && !v; i++)
            if (strlen(vars[i].name) == (size_t)(close - s - 1) &&
                memcmp(vars[i].name, s + 1, (size_t)(close - s - 1)) == 0)
                v = &vars[i];
        if (v) {
            int n = snprintf(buf + o, len - o, "%s", v->value);
            o = n < 0 ? o : (size_t)n >= len - o ? len - 1 : o + (size_t)n;
            s = close + 1;
        } else {
            buf[o++] = *s++;
        }
    }
    buf[o] = '\0';
}

/* page_date() finds a month's name at PK_month_1 + month - 1. */
_Static_assert(PK_month_12 - PK_month_1 == 11, "month_1 .. month_12 must follow each other in "
                                               "PAGE_KEYS");

int page_date(struct page *pg, int64_t ts_s, bool with_time, char *buf, size_t len)
{
    char iso[40], day[8], hour[8], minute[8];
    int y, mo, d, h, mi;
    tu_format_local(ts_s, iso, sizeof(iso));
    if (sscanf(iso, "%d-%d-%dT%d:%d", &y, &mo, &d, &h, &mi) != 5 || mo < 1 || mo > 12)
        return -EINVAL;
    (void)snprintf(day, sizeof(day), "%d", d);
    (void)snprintf(hour, sizeof(hour), "%d", h);
    (void)snprintf(minute, sizeof(minute), "%02d", mi);
    struct page_var v[] = {
        {"day", day},
        {"month", pg->t->text[PK_month_1 + mo - 1]},
        {"hour", hour},
        {"minute", minute},
    };
    text_fill(pg->t->text[with_time ? PK_date_time : PK_date_day], v, 4, buf, len);
    return 0;
}

/* ---- skeleton ---------------------------------------------------------- */

int page_begin(struct page *pg, enum page_key title, int refresh_s, const char *refresh_url,
               const char *path)
{
    struct http_buf *b = pg->b;
    const char *other = strcmp(pg->t->code, "fr") == 0 ? "en" : "fr";
    pg->resp->status = 200;
    pg->resp->content_type = "text/html; charset=utf-8";
    pg->resp->max_age_s = 0;
    /* A choice made with the switch is remembered for the next visits. */
    const char *asked = http_arg(pg->req, "lang");
    if (asked && (strcmp(asked, "fr") == 0 || strcmp(asked, "en") == 0))
        (void)snprintf(pg->resp->set_cookie, sizeof(pg->resp->set_cookie),
                       "foyer_lang=%s; Path=/; Max-Age=31536000; SameSite=Strict%s", asked,
                       pg->req->secure ? "; Secure" : "");
    (void)http_buf_printf(b,
                          "<!doctype html>\n<html lang=\"%s\">\n<head>\n<meta charset=\"utf-8\">\n"
                          "<meta name=\"viewport\" content=\"width=device-width, "
                          "initial-scale=1\">\n",
                          pg->t->code);
    if (refresh_s > 0)
        (void)http_buf_printf(b, "<meta http-equiv=\"refresh\" content=\"%d; url=%s\">\n",
                              refresh_s, refresh_url);
    (void)http_buf_str(b, "<title>");
    (void)page_say(pg, title, NULL, 0);
    (void)http_buf_str(b, "</title>\n<link rel=\"stylesheet\" href=\"/foyer.css\">\n</head>\n"
                          "<body>\n<header class=\"top\">\n<h1>");
    (void)page_say(pg, title, NULL, 0);
    (void)http_buf_printf(b,
                          "</h1>\n<a class=\"lang\" href=\"%s?lang=%s\" lang=\"%s\" "
                          "hreflang=\"%s\" title=\"",
                          path, other, other, other);
    (void)page_say(pg, PK_lang_switch_name, NULL, 0);
    (void)http_buf_str(b, "\">");
    (void)page_say(pg, PK_lang_switch, NULL, 0);
    return http_buf_str(b, "</a>\n</header>\n<main>\n");
}

int page_end(struct page *pg)
{
    return http_buf_str(pg->b, "</main>\n</body>\n</html>\n");
}

/* Refused forms are logged, naming the field, at most a few a minute: a
 * broken or hostile client must not flood the journal (they are counted
 * in http_page_stats all the same). */
static struct log_ratelimit refused_log = LOG_RATELIMIT_INIT(5, 60);

int page_error(const struct http_request *req, struct http_response *resp, int status,
               enum page_key key, const char *back_path, const char *why)
{
    struct page pg = {.req = req, .resp = resp, .b = &resp->body};
    unsigned long suppressed = 0;
    if (status == 400)
        atomic_fetch_add(&stat_bad_forms, 1);
    if (log_ratelimit_ok(&refused_log, &suppressed))
        log_warn("pages: %s %s from %s (%s) refused with %d: %s%s", req->method, req->path,
                 req->who && req->who->name[0] ? req->who->name : "nobody", req->client, status,
                 why, suppressed ? " (and earlier refusals not logged)" : "");
    pg.t = page_texts_get(req->cfg, req->lang);
    if (!pg.t)
        return http_error(resp, 500, "texts", "the pages' language files cannot be loaded");
    http_buf_free(&resp->body);
    resp->body = (struct http_buf){0};
    (void)page_begin(&pg, PK_error_title, 0, NULL, back_path);
    (void)http_buf_str(pg.b, "<p class=\"problem\">");
    (void)page_say(&pg, key, NULL, 0);
    (void)http_buf_printf(pg.b, "</p>\n<p><a class=\"button\" href=\"%s\">", back_path);
    (void)page_say(&pg, PK_error_back, NULL, 0);
    (void)http_buf_str(pg.b, "</a></p>\n");
    int rc = page_end(&pg);
    resp->status = status;
    resp->set_cookie[0] = '\0';
    return pg.b->failed ? -ENOMEM : rc;
}

void page_redirect(struct http_response *resp, const char *location)
{
    resp->status = 303;
    resp->content_type = "text/html; charset=utf-8";
    (void)snprintf(resp->location, sizeof(resp->location), "%s", location);
}

/* The host[:port] of an absolute URL "scheme://host[:port]/...", into buf;
 * false when url is not one. */
static bool url_host(const char *url, char *buf, size_t len)
{
    const char *p = strstr(url, "://");
    if (!p)
        return false;
    p += 3;
    size_t n = strcspn(p, "/?#");
    if (n == 0 || n >= len)
        return false;
    memcpy(buf, p, n);
    buf[n] = '\0';
    return true;
}

bool page_same_origin(const struct http_request *req)
{
    /* "Origin: null" is what a browser sends from an opaque origin (a
     * sandboxed frame, a page served with Referrer-Policy no-referrer): it
     * proves nothing, so the Referer decides, and without one it is
     * refused. */
    bool null_origin = req->origin && strcmp(req->origin, "null") == 0;
    const char *from = req->origin && *req->origin && !null_origin ? req->origin : req->referer;
    char host[256];
    if (!from || !*from) {
        if (!null_origin)
            return true; /* neither sent: the SameSite=Strict cookie is the guard */
        atomic_fetch_add(&stat_cross_site, 1);
        return false;
    }
    bool same = req->host && url_host(from, host, sizeof(host)) && strcasecmp(host, req->host) == 0;
    if (!same)
        atomic_fetch_add(&stat_cross_site, 1);
    return same;
}

/* ---- pictograms (24 x 24, currentColor) -------------------------------- */

static const struct {
    const char *name;
    const char *body;
} pictos[] = {
    {"electricity", "<path d=\"M13 2 4 14h7l-1 8 9-12h-7z\"/>"},
    {"gas",
     "<path d=\"M12 2c1 4 6 6 6 12a6 6 0 0 1-12 0c0-3 2-5 3-7 0 3 1 4 3 5-1-4 0-7 0-10z\"/>"},
    {"heat", "<path d=\"M4 6h3v14H4zm6.5 0h3v14h-3zM17 6h3v14h-3zM3 20h18v2H3zM3 4h18v2H3z\"/>"},
    {"hot_water", "<path d=\"M12 2s-7 8-7 13a7 7 0 0 0 14 0c0-5-7-13-7-13zm-3 13h2a2 2 0 0 0 2 "
                  "2v2a4 4 0 0 1-4-4z\"/>"},
    {"cold_water", "<path d=\"M12 2s-7 8-7 13a7 7 0 0 0 14 0c0-5-7-13-7-13z\"/>"},
    {"cold", "<path d=\"M11 1h2v22h-2zM1 11h22v2H1zM4.2 5.6l1.4-1.4 14.2 14.2-1.4 1.4zm0 "
             "12.8L18.4 4.2l1.4 1.4L5.6 19.8z\"/>"},
    {"damp", "<path d=\"M7 3s-4 5-4 8a4 4 0 0 0 8 0c0-3-4-8-4-8zm10 6s-4 5-4 8a4 4 0 0 0 8 "
             "0c0-3-4-8-4-8z\"/>"},
    {"stale",
     "<path d=\"M3 8h11a3 3 0 1 0-3-3h-2a5 5 0 1 1 5 5H3zm0 4h16a4 4 0 1 1-4 4h2a2 2 0 1 0 "
     "2-2H3zm0 4h8v2H3z\"/>"},
    {"down", "<path d=\"M11 3h2v13l5-5 1.4 1.4L12 19.8l-7.4-7.4L6 11l5 5z\"/>"},
    {"up", "<path d=\"M11 21h2V8l5 5 1.4-1.4L12 4.2l-7.4 7.4L6 13l5-5z\"/>"},
    {"same", "<path d=\"M4 8h16v2.5H4zm0 5.5h16V16H4z\"/>"},
    {"unknown", "<path d=\"M11 17h2v2h-2zm1-14a5 5 0 0 1 2 9.6V15h-2v-4a3 3 0 1 0-3-3H7a5 5 0 0 1 "
                "5-5z\"/>"},
    {"ok", "<path d=\"M9 16.2 4.8 12l-1.4 1.4L9 19 21 7l-1.4-1.4z\"/>"},
    {"alert", "<path d=\"M12 2 1 21h22zm-1 7h2v6h-2zm0 8h2v2h-2z\"/>"},
};

int page_picto(struct http_buf *b, const char *name)
{
    for (size_t i = 0; i < sizeof(pictos) / sizeof(pictos[0]); i++)
        if (strcmp(pictos[i].name, name) == 0)
            return http_buf_printf(
                b,
                "<svg class=\"picto\" viewBox=\"0 0 24 24\" aria-hidden=\"true\" "
                "focusable=\"false\" fill=\"currentColor\">%s</svg>",
                pictos[i].body);
    return 0;
}

/* ---- pairing ----------------------------------------------------------- */

/* GET /pair: the form the server's POST /pair answers (it sets the session
 * cookie and sends the tablet to its page, or back here with ?error=1). */
static int page_pair(const struct http_request *req, struct http_response *resp)
{
    struct page pg = {.req = req, .resp = resp, .b = &resp->body};
    pg.t = page_texts_get(req->cfg, req->lang);
    if (!pg.t)
        return http_error(resp, 500, "texts", "the pages' language files cannot be loaded");
    const char *err = http_arg(req, "error");
    (void)page_begin(&pg, PK_pair_title, 0, NULL, "/pair");
    if (err && strcmp(err, "1") == 0) {
        (void)http_buf_str(pg.b, "<p class=\"problem\" role=\"alert\">");
        (void)page_say(&pg, PK_pair_error, NULL, 0);
        (void)http_buf_str(pg.b, "</p>\n");
    }
    (void)http_buf_str(pg.b, "<p>");
    (void)page_say(&pg, PK_pair_intro, NULL, 0);
    (void)http_buf_str(pg.b, "</p>\n<form class=\"pair\" method=\"post\" action=\"/pair\">\n"
                             "<label for=\"code\">");
    (void)page_say(&pg, PK_pair_label, NULL, 0);
    (void)http_buf_str(pg.b, "</label>\n<input id=\"code\" name=\"code\" required "
                             "autocomplete=\"one-time-code\" autocapitalize=\"characters\" "
                             "spellcheck=\"false\">\n<button type=\"submit\">");
    (void)page_say(&pg, PK_pair_submit, NULL, 0);
    (void)http_buf_str(pg.b, "</button>\n</form>\n");
    int rc = page_end(&pg);
    return pg.b->failed ? -ENOMEM : rc;
}

const struct http_route http_page_routes[] = {
    {"GET", "/pair",
     HTTP_ALLOW_PUBLIC | HTTP_ALLOW_TENANT | HTTP_ALLOW_AMBASSADOR | HTTP_ALLOW_ENERGY_TEAM,
     page_pair, "/pair"}, /* a paired tablet may be paired again */
    {"GET", "/tablet", HTTP_ALLOW_TENANT, page_tablet, "/tablet"},
    {"POST", "/tablet/tip", HTTP_ALLOW_TENANT, page_tablet_tip, "/tablet/tip"},
    {"POST", "/tablet/report", HTTP_ALLOW_TENANT, page_tablet_report, "/tablet/report"},
    {"POST", "/tablet/consent", HTTP_ALLOW_TENANT, page_tablet_consent, "/tablet/consent"},
    {"POST", "/tablet/share", HTTP_ALLOW_TENANT, page_tablet_share, "/tablet/share"},
    {"POST", "/tablet/share/revoke", HTTP_ALLOW_TENANT, page_tablet_unshare,
     "/tablet/share/revoke"},
    {"GET", "/ambassador", HTTP_ALLOW_AMBASSADOR | HTTP_ALLOW_ENERGY_TEAM, page_ambassador,
     "/ambassador"},
    {"POST", "/ambassador/report", HTTP_ALLOW_AMBASSADOR | HTTP_ALLOW_ENERGY_TEAM,
     page_ambassador_report, "/ambassador/report"},
    {"POST", "/ambassador/alert", HTTP_ALLOW_AMBASSADOR | HTTP_ALLOW_ENERGY_TEAM,
     page_ambassador_alert, "/ambassador/alert"},
    {NULL, NULL, 0, NULL, NULL},
};
