/*
 * http_api.c - the JSON API under /api/v1 (docs/api.md, docs/openapi.yaml):
 * the route table the server matches requests against (method and
 * pattern, and who may call each route), the helpers every route shares
 * (query arguments, times, rounding, serialising), and the tenant's routes:
 * /me, /me/summary, /me/history, /me/export.  The ambassador's and the energy team's
 * routes are in http_api_team.c.
 *
 * Every handler reads through the store's read API on its thread's
 * read-only handle (req->ro) and the running config (req->cfg); none
 * writes.  A tenant's answers are clipped to the tenancy its token is
 * bound to (req->who): nothing from before it or after it is read, so a
 * household never sees the one before it.  Times are local ISO 8601 with
 * the offset of the config's zone, with epoch seconds beside them where a
 * program may compute with them; values carry their unit and are rounded
 * to what the quantity's meters resolve (api_value()).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "foyer/coach.h"
#include "foyer/store_consent.h"
#include "foyer/timeutil.h"
#include "http_api_int.h"

/* ---- helpers ------------------------------------------------------------ */

int api_send_json(struct http_response *resp, json_t *j)
{
    if (!j)
        return -ENOMEM;
    /* Values are rounded by api_value(); 15 digits print them as rounded
     * (0.1, not 0.10000000000000001). */
    char *text = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(15));
    json_decref(j);
    if (!text)
        return -ENOMEM;
    resp->status = 200;
    resp->content_type = "application/json";
    int rc = http_buf_add(&resp->body, text, strlen(text));
    free(text);
    return rc < 0 ? rc : 0;
}

int api_buf_json(struct http_buf *b, json_t *j)
{
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(j);
    if (!text) {
        b->failed = true;
        return -ENOMEM;
    }
    int rc = http_buf_str(b, text);
    free(text);
    return rc;
}

/* Decimals shown per quantity: what the meters resolve, so a figure never
 * shows noise (230.4847412 V).  kWh to the Wh, litres to 0.1 L, degrees to
 * 0.01. */
static int quantity_decimals(enum quantity q)
{
    switch (q) {
    case Q_ELECTRICITY:
    case Q_HEAT:
    case Q_GAS:
        return 3;
    case Q_HOT_WATER:
    case Q_COLD_WATER:
    case Q_POWER:
    case Q_HUMIDITY:
    case Q_VOLTAGE:
        return 1;
    case Q_TEMPERATURE:
    case Q_OUTDOOR_TEMPERATURE:
    case Q_CURRENT:
        return 2;
    case Q_CO2:
    case Q_COUNT_:
        break;
    }
    return 0;
}

json_t *api_value(enum quantity q, double v)
{
    if (!isfinite(v))
        return json_null();
    double scale = pow(10, quantity_decimals(q));
    return json_real(round(v * scale) / scale + 0.0); /* + 0.0: never -0 */
}

json_t *api_time(int64_t ts_s)
{
    char buf[40];
    return json_string(tu_format_local(ts_s, buf, sizeof(buf)));
}

static const char *const gran_names[] = {"hour", "day", "week", "month"};

int api_arg_gran(const struct http_request *req, struct http_response *resp, const char *name,
                 unsigned allowed, enum api_gran *ret)
{
    const char *v = http_arg(req, name);
    char list[40] = "";
    for (unsigned g = API_HOUR; g <= API_MONTH; g++) {
        if (!(allowed & API_GRAN_BIT(g)))
            continue;
        if (v && strcmp(v, gran_names[g]) == 0) {
            *ret = (enum api_gran)g;
            return 0;
        }
        size_t n = strlen(list);
        (void)snprintf(list + n, sizeof(list) - n, "%s%s", n ? "|" : "", gran_names[g]);
    }
    int rc =
        v ? http_error(resp, 400, "bad_request", "%s: \"%.40s\" is not one of %s", name, v, list)
          : http_error(resp, 400, "bad_request", "%s: missing (one of %s)", name, list);
    return rc < 0 ? rc : API_ANSWERED;
}

/* "YYYY-MM-DD", a real calendar day from 2000 to 2100: its local midnight. */
static bool parse_date(const char *s, int64_t *ret_s)
{
    int y, m, d;
    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return false;
    y = atoi(s);
    m = atoi(s + 5);
    d = atoi(s + 8);
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 2000 || y > 2100 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
        return false;
    if (m == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
        return false;
    *ret_s = tu_local_date(y, m, d);
    return true;
}

static int range_days_max(enum api_gran g)
{
    return g == API_HOUR  ? FOYER_API_HOUR_DAYS_MAX
           : g == API_DAY ? FOYER_API_DAY_DAYS_MAX
                          : FOYER_API_LONG_DAYS_MAX;
}

int api_arg_range(const struct http_request *req, struct http_response *resp, enum api_gran g,
                  int64_t *ret_from_s, int64_t *ret_to_s)
{
    static const char *const names[] = {"from", "to"};
    int64_t t[2];
    int rc;
    for (int i = 0; i < 2; i++) {
        const char *v = http_arg(req, names[i]);
        if (!v) {
            rc = http_error(resp, 400, "bad_request", "%s: missing (a local date YYYY-MM-DD)",
                            names[i]);
            return rc < 0 ? rc : API_ANSWERED;
        }
        if (!parse_date(v, &t[i])) {
            rc = http_error(resp, 400, "bad_request",
                            "%s: \"%.40s\" is not a date YYYY-MM-DD (2000 to 2100)", names[i], v);
            return rc < 0 ? rc : API_ANSWERED;
        }
    }
    if (t[0] > t[1]) {
        rc = http_error(resp, 400, "bad_request", "from: after to");
        return rc < 0 ? rc : API_ANSWERED;
    }
    int64_t to_s = tu_next_day(t[1]);
    /* Calendar days, whatever DST does to their length. */
    int64_t days = (to_s - t[0] + 43200) / 86400;
    if (days > range_days_max(g)) {
        rc = http_error(resp, 400, "bad_request",
                        "from, to: %lld days; at most %d days at granularity %s", (long long)days,
                        range_days_max(g), gran_names[g]);
        return rc < 0 ? rc : API_ANSWERED;
    }
    *ret_from_s = t[0];
    *ret_to_s = to_s;
    return 0;
}

/* The tenant's dwelling, or an answer: a token whose dwelling left the
 * config (a reload) sees nothing. */
int api_tenant_dwelling(const struct http_request *req, struct http_response *resp, uint32_t *ret)
{
    const struct http_principal *p = req->who;
    if (p->role != HTTP_ROLE_TENANT || p->dwelling < 0 ||
        (size_t)p->dwelling >= req->cfg->n_dwellings) {
        int rc = http_error(resp, 403, "forbidden", "this token is bound to no dwelling");
        return rc < 0 ? rc : API_ANSWERED;
    }
    *ret = (uint32_t)p->dwelling;
    return 0;
}

/* ---- GET /api/v1/me ------------------------------------------------------ */

static int api_me(const struct http_request *req, struct http_response *resp)
{
    const struct foyer_config *cfg = req->cfg;
    const struct http_principal *p = req->who;
    uint32_t d;
    int rc = api_tenant_dwelling(req, resp, &d);
    if (rc != 0)
        return rc > 0 ? 0 : rc;
    const struct dwelling *dw = &cfg->dwellings[d];
    const struct building *b = &cfg->buildings[dw->building];

    json_t *j = json_object();
    json_t *jd = json_object();
    json_object_set_new(jd, "id", json_string(dw->id));
    json_object_set_new(jd, "label", dw->label ? json_string(dw->label) : json_null());
    json_object_set_new(jd, "surface_m2", json_real(dw->surface_m2));
    json_object_set_new(jd, "heating", json_string(heating_name(dw->heating)));
    struct store_consent lc; /* the household's, now (foyerctl consent) */
    bool consent = store_consent_get(req->ro, cfg, (uint32_t)d, STORE_PURPOSE_LOAD_CURVE,
                                     tu_now_s(), &lc) == 0 &&
                   lc.given;
    json_object_set_new(jd, "consent", json_boolean(consent));
    json_object_set_new(j, "dwelling", jd);
    json_t *jb = json_object();
    json_object_set_new(jb, "id", json_string(b->id));
    json_object_set_new(jb, "name", b->name ? json_string(b->name) : json_null());
    json_object_set_new(j, "building", jb);
    json_t *jt = json_object();
    json_object_set_new(jt, "start", api_time(p->tenancy_from_s));
    json_object_set_new(jt, "start_s", json_integer(p->tenancy_from_s));
    bool ends = p->tenancy_to_s != INT64_MAX;
    json_object_set_new(jt, "end", ends ? api_time(p->tenancy_to_s) : json_null());
    json_object_set_new(jt, "end_s", ends ? json_integer(p->tenancy_to_s) : json_null());
    json_object_set_new(j, "tenancy", jt);
    /* What is measured: the dwelling's channels, and for the consumptions
     * the history can be asked for (hourly only with consent). */
    json_t *jc = json_array();
    for (size_t i = 0; i < cfg->n_channels; i++) {
        const struct channel *c = &cfg->channels[i];
        if (c->dwelling != (int32_t)d)
            continue;
        json_t *o = json_object();
        json_object_set_new(o, "id", json_string(c->id));
        json_object_set_new(o, "quantity", json_string(quantity_name(c->quantity)));
        json_object_set_new(o, "kind", json_string(kind_name(c->kind)));
        json_object_set_new(o, "unit", json_string(c->unit));
        json_object_set_new(o, "submeter", json_boolean(c->submeter));
        json_array_append_new(jc, o);
    }
    json_object_set_new(j, "channels", jc);
    json_t *jg = json_array();
    if (consent)
        json_array_append_new(jg, json_string("hour"));
    for (int g = API_DAY; g <= API_MONTH; g++)
        json_array_append_new(jg, json_string(gran_names[g]));
    json_object_set_new(j, "history_granularities", jg);
    return api_send_json(resp, j);
}

/* ---- summaries ----------------------------------------------------------- */

/* The instant of a summary's period field ("from", "to"), or false. */
static bool summary_time(const json_t *period, const char *key, int64_t *ret_s)
{
    const char *v = json_string_value(json_object_get(period, key));
    return v && tu_parse_iso(v, ret_s) == 0;
}

int api_send_summary(const struct http_request *req, struct http_response *resp, uint32_t d,
                     int64_t from_s, int64_t to_s)
{
    const struct foyer_config *cfg = req->cfg;
    const char *arg = http_arg(req, "period");
    struct summary_period p;
    int rc;
    if (!arg) {
        rc = http_error(resp, 400, "bad_request", "period: missing (2026-W48 or 2026-11)");
        return rc < 0 ? rc : 0;
    }
    if (summary_period_parse(arg, &p) < 0) {
        rc = http_error(resp, 400, "bad_request",
                        "period: \"%.40s\" is neither an ISO week (2026-W48) nor a month (2026-11)",
                        arg);
        return rc < 0 ? rc : 0;
    }
    if (p.end_s <= from_s || p.start_s >= to_s) {
        rc = http_error(resp, 403, "forbidden", "period: %s lies %s your tenancy", p.id,
                        p.end_s <= from_s ? "before" : "after");
        return rc < 0 ? rc : 0;
    }
    const char *id = cfg->dwellings[d].id;
    char *body = NULL;
    rc = store_read_summary(req->ro, id, p.id, &body);
    if (rc == -ENOENT)
        goto out_none;
    if (rc < 0)
        return rc;
    if (p.start_s < from_s || p.end_s > to_s) {
        /* The period straddles the tenancy's start or end.  A stored
         * summary shows the latest tenancy meeting its period: in a week a
         * household moved out, it is the next household's.  Shown only
         * when what it covers lies inside this token's tenancy.  (A period
         * inside the tenancy needs no look: what the summary covers lies
         * inside its period; parsing every document cost the tablets'
         * request ten times the read.) */
        json_t *doc = json_loads(body, 0, NULL);
        json_t *per = json_object_get(doc, "period");
        int64_t a, b;
        bool inside = summary_time(per, "from", &a) && summary_time(per, "to", &b) && a >= from_s &&
                      b <= to_s;
        json_decref(doc);
        if (!inside) {
            free(body);
            goto out_none;
        }
    }
    resp->status = 200;
    resp->content_type = "application/json";
    rc = http_buf_str(&resp->body, body);
    free(body);
    return rc < 0 ? rc : 0;

out_none:
    rc = http_error(resp, 404, "not_found",
                    "period: no summary of dwelling %s for %s (computed 15 minutes after the "
                    "week or month closes, for periods with readings)",
                    id, p.id);
    return rc < 0 ? rc : 0;
}

/* ---- GET /api/v1/me/summary ---------------------------------------------- */

static int api_me_summary(const struct http_request *req, struct http_response *resp)
{
    uint32_t d;
    int rc = api_tenant_dwelling(req, resp, &d);
    if (rc != 0)
        return rc > 0 ? 0 : rc;
    return api_send_summary(req, resp, d, req->who->tenancy_from_s, req->who->tenancy_to_s);
}

/* ---- GET /api/v1/me/history ---------------------------------------------- */

/* The periods of a history, and what the rollup rows add to them. */
struct history {
    int64_t *start; /* period starts, ascending; start[n] = the range's end */
    double *sum;
    bool *has; /* a rollup row fell in it */
    size_t n;
    size_t cur; /* where the last row fell: rows come in time order */
};

static int history_row(void *ctx, const struct store_rollup *row)
{
    struct history *h = ctx;
    while (h->cur + 1 < h->n && row->ts_s >= h->start[h->cur + 1])
        h->cur++;
    if (row->ts_s < h->start[h->cur] || row->ts_s >= h->start[h->n])
        return 0;
    h->sum[h->cur] += row->sum;
    h->has[h->cur] = true;
    return 0;
}

/* Period boundaries of granularity g covering [from_s, to_s): the first
 * is the period containing from_s (a week started before it), clipped. */
static int history_periods(enum api_gran g, int64_t from_s, int64_t to_s, struct history *h)
{
    size_t cap = 16;
    h->start = malloc((cap + 1) * sizeof(*h->start));
    if (!h->start)
        return -ENOMEM;
    int64_t t = g == API_HOUR   ? from_s - (from_s % 3600 + 3600) % 3600
                : g == API_DAY  ? tu_day_start(from_s)
                : g == API_WEEK ? tu_week_start(from_s)
                                : tu_month_start(from_s);
    h->n = 0;
    while (t < to_s) {
        if (h->n == cap) {
            int64_t *bigger = realloc(h->start, (2 * cap + 1) * sizeof(*h->start));
            if (!bigger)
                return -ENOMEM;
            h->start = bigger;
            cap *= 2;
        }
        h->start[h->n++] = t;
        t = g == API_HOUR   ? t + 3600
            : g == API_DAY  ? tu_next_day(t)
            : g == API_WEEK ? tu_week_start(t + 7 * 86400 + 43200) /* DST moves 1 h at most */
                            : tu_next_month(t);
    }
    h->start[h->n] = to_s;
    h->sum = calloc(h->n + 1, sizeof(*h->sum));
    h->has = calloc(h->n + 1, sizeof(*h->has));
    return h->sum && h->has ? 0 : -ENOMEM;
}

static void history_free(struct history *h)
{
    free(h->start);
    free(h->sum);
    free(h->has);
}

int api_send_history(const struct http_request *req, struct http_response *resp, uint32_t d,
                     int64_t span_from_s, int64_t span_to_s)
{
    const struct foyer_config *cfg = req->cfg;
    int rc;
    const struct dwelling *dw = &cfg->dwellings[d];

    const char *qname = http_arg(req, "quantity");
    int q = -1;
    for (int i = 0; qname && i < Q_COUNT_; i++)
        if (quantity_kind((enum quantity)i) == KIND_COUNTER &&
            strcmp(qname, quantity_name((enum quantity)i)) == 0)
            q = i;
    if (q < 0) {
        rc = qname ? http_error(resp, 400, "bad_request",
                                "quantity: \"%.40s\" is not a consumption (electricity, heat, "
                                "gas, hot_water, cold_water)",
                                qname)
                   : http_error(resp, 400, "bad_request",
                                "quantity: missing (electricity, heat, gas, hot_water, "
                                "cold_water)");
        return rc < 0 ? rc : 0;
    }
    enum api_gran g;
    rc = api_arg_gran(req, resp, "granularity",
                      API_GRAN_BIT(API_HOUR) | API_GRAN_BIT(API_DAY) | API_GRAN_BIT(API_WEEK) |
                          API_GRAN_BIT(API_MONTH),
                      &g);
    if (rc != 0)
        return rc > 0 ? 0 : rc;
    struct store_consent lc; /* the household's, now (foyerctl consent) */
    if (g == API_HOUR &&
        !(store_consent_get(req->ro, cfg, d, STORE_PURPOSE_LOAD_CURVE, tu_now_s(), &lc) == 0 &&
          lc.given)) {
        rc = http_error(resp, 403, "forbidden",
                        "granularity: hour needs the household's consent to load curves "
                        "(RGPD), which dwelling %s has not given; day, week and month are "
                        "available",
                        dw->id);
        return rc < 0 ? rc : 0;
    }
    int64_t from_s, to_s;
    rc = api_arg_range(req, resp, g, &from_s, &to_s);
    if (rc != 0)
        return rc > 0 ? 0 : rc;
    /* Nothing from outside the tenancy is read. */
    bool clipped = false;
    if (from_s < span_from_s) {
        from_s = span_from_s;
        clipped = true;
    }
    if (to_s > span_to_s) {
        to_s = span_to_s;
        clipped = true;
    }
    if (from_s >= to_s) {
        rc = http_error(resp, 403, "forbidden", "from, to: the range lies outside the tenancy");
        return rc < 0 ? rc : 0;
    }

    struct history h = {0};
    rc = history_periods(g, from_s, to_s, &h);
    size_t n_channels = 0;
    /* Weeks and months are built from days: a month's rollup would hold
     * the days of the month before the tenancy. */
    enum store_gran sg = g == API_HOUR ? STORE_HOUR : STORE_DAY;
    for (size_t i = 0; rc == 0 && i < cfg->n_channels; i++) {
        const struct channel *c = &cfg->channels[i];
        if (c->dwelling != (int32_t)d || c->quantity != (enum quantity)q || c->submeter)
            continue;
        n_channels++;
        h.cur = 0;
        rc = store_read_rollups(req->ro, sg, (uint32_t)i, from_s, to_s, 0, history_row, &h);
    }
    if (rc < 0) {
        history_free(&h);
        return rc;
    }
    if (n_channels == 0) {
        history_free(&h);
        rc = http_error(resp, 404, "not_found", "quantity: dwelling %s has no %s meter", dw->id,
                        quantity_name((enum quantity)q));
        return rc < 0 ? rc : 0;
    }

    json_t *j = json_object();
    double total = 0;
    json_object_set_new(j, "dwelling", json_string(dw->id));
    json_object_set_new(j, "quantity", json_string(quantity_name((enum quantity)q)));
    json_object_set_new(j, "unit", json_string(quantity_unit((enum quantity)q)));
    json_object_set_new(j, "granularity", json_string(gran_names[g]));
    json_object_set_new(j, "from", api_time(from_s));
    json_object_set_new(j, "to", api_time(to_s));
    json_object_set_new(j, "clipped_to_tenancy", json_boolean(clipped));
    json_t *arr = json_array();
    for (size_t i = 0; i < h.n; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "start", api_time(h.start[i]));
        json_object_set_new(o, "start_s", json_integer(h.start[i]));
        json_object_set_new(o, "value",
                            h.has[i] ? api_value((enum quantity)q, h.sum[i]) : json_null());
        /* A week or month cut by the range or the tenancy. */
        if (g >= API_WEEK && (h.start[i] < from_s ||
                              (i + 1 == h.n && to_s != (g == API_WEEK ? tu_week_start(to_s)
                                                                      : tu_month_start(to_s)))))
            json_object_set_new(o, "partial", json_true());
        json_array_append_new(arr, o);
        if (h.has[i])
            total += h.sum[i];
    }
    json_object_set_new(j, "periods", arr);
    json_object_set_new(j, "total", api_value((enum quantity)q, total));
    history_free(&h);
    return api_send_json(resp, j);
}

static int api_me_history(const struct http_request *req, struct http_response *resp)
{
    uint32_t d;
    int rc = api_tenant_dwelling(req, resp, &d);
    if (rc != 0)
        return rc > 0 ? 0 : rc;
    return api_send_history(req, resp, d, req->who->tenancy_from_s, req->who->tenancy_to_s);
}

/* ---- GET /api/v1/me/export ---------------------------------------------- */

/* store_portab_write()'s writer: into the response body. */
static int export_to_body(void *ctx, const char *data, size_t len)
{
    return http_buf_add(ctx, data, len);
}

/* Everything held about the household (its right of access and
 * portability), clipped to the token's tenancy: hourly figures and raw
 * readings included whatever its load-curve consent (its own data).  Not
 * in the access log: the household reading its own data. */
static int api_me_export(const struct http_request *req, struct http_response *resp)
{
    const struct http_principal *p = req->who;
    uint32_t d;
    int rc = api_tenant_dwelling(req, resp, &d);
    if (rc != 0)
        return rc > 0 ? 0 : rc;
    const char *format = http_arg(req, "format");
    bool csv = format && strcmp(format, "csv") == 0;
    if (format && !csv && strcmp(format, "json") != 0) {
        rc = http_error(resp, 400, "bad_request", "format: \"%.40s\" is not one of json|csv",
                        format);
        return rc < 0 ? rc : 0;
    }
    struct store_portab_opts o = {.dwelling = d,
                                  .from_s = p->tenancy_from_s,
                                  .to_s = p->tenancy_to_s,
                                  .load_curve = true,
                                  .format = csv ? STORE_PORTAB_CSV : STORE_PORTAB_JSON,
                                  .now_s = req->now_s};
    int64_t rows = store_portab_write(req->ro, req->cfg, &o, export_to_body, &resp->body);
    if (rows < 0)
        return (int)rows;
    char day[40]; /* the date of its local time, YYYY-MM-DD */
    tu_format_local(req->now_s, day, sizeof(day));
    resp->status = 200;
    resp->content_type = csv ? "text/csv; charset=utf-8" : "application/json";
    /* Dwelling IDs are letters, digits, _ and - (conf_id_valid()): safe in a
     * quoted file name, and short enough for the field. */
    (void)snprintf(resp->disposition, sizeof(resp->disposition),
                   "attachment; filename=\"foyer-%s-%.10s.%s\"", req->cfg->dwellings[d].id, day,
                   csv ? "csv" : "json");
    return 0;
}

/* ---- the route table ----------------------------------------------------- */

#define TENANT     HTTP_ALLOW_TENANT
#define TEAM       HTTP_ALLOW_ENERGY_TEAM
#define AMBASSADOR HTTP_ALLOW_AMBASSADOR

/* Who may call what (docs/api.md, "Routes"; tests/integration/http_roles.py
 * holds the same table for the over-the-wire test).  Handlers check the
 * finer rules: an ambassador's buildings, a tenant's tenancy, consent. */
const struct http_route http_api_routes[] = {
    {"GET", "/api/v1/me", TENANT, api_me, "/api/v1/me"},
    {"GET", "/api/v1/me/summary", TENANT, api_me_summary, "/api/v1/me/summary"},
    {"GET", "/api/v1/me/history", TENANT, api_me_history, "/api/v1/me/history"},
    {"GET", "/api/v1/me/export", TENANT, api_me_export, "/api/v1/me/export"},
    {"GET", "/api/v1/me/grants", TENANT, api_me_grants, "/api/v1/me/grants"},
    {"POST", "/api/v1/me/grants", TENANT, api_me_grant_create, "/api/v1/me/grants"},
    {"POST", "/api/v1/me/grants/{id}/revoke", TENANT, api_me_grant_revoke,
     "/api/v1/me/grants/{id}/revoke"},
    {"GET", "/api/v1/me/ambassadors", TENANT, api_me_ambassadors, "/api/v1/me/ambassadors"},
    {"GET", "/api/v1/me/consents", TENANT, api_me_consents, "/api/v1/me/consents"},
    {"POST", "/api/v1/me/consents", TENANT, api_me_consent_set, "/api/v1/me/consents"},
    {"GET", "/api/v1/shared", AMBASSADOR, api_shared, "/api/v1/shared"},
    {"GET", "/api/v1/buildings", AMBASSADOR | TEAM, api_buildings, "/api/v1/buildings"},
    {"GET", "/api/v1/buildings/{id}/status", AMBASSADOR | TEAM, api_building_status,
     "/api/v1/buildings/{id}/status"},
    {"GET", "/api/v1/dwellings", TEAM, api_dwellings, "/api/v1/dwellings"},
    {"GET", "/api/v1/dwellings/{id}/summary", AMBASSADOR | TEAM, api_dwelling_summary,
     "/api/v1/dwellings/{id}/summary"},
    {"GET", "/api/v1/dwellings/{id}/history", AMBASSADOR | TEAM, api_dwelling_history,
     "/api/v1/dwellings/{id}/history"},
    {"GET", "/api/v1/channels", TEAM, api_channels, "/api/v1/channels"},
    {"GET", "/api/v1/rollups", TEAM, api_rollups, "/api/v1/rollups"},
    {"GET", "/api/v1/events", TEAM, api_events, "/api/v1/events"},
    {"GET", "/api/v1/export.csv", TEAM, api_export_csv, "/api/v1/export.csv"},
    {"GET", "/api/v1/alerts", AMBASSADOR | TEAM, api_alerts, "/api/v1/alerts"},
    {"POST", "/api/v1/alerts/{id}/ack", AMBASSADOR | TEAM, api_alert_ack,
     "/api/v1/alerts/{id}/ack"},
    {"POST", "/api/v1/reports/{id}/close", AMBASSADOR | TEAM, api_report_close,
     "/api/v1/reports/{id}/close"},
    {NULL, NULL, 0, NULL, NULL},
};
