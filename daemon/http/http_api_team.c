/*
 * http_api_team.c - the JSON API's routes for ambassadors and the energy
 * team (docs/api.md): buildings and their status (every meter and sensor,
 * building totals), and for the energy team the inventory, rollups,
 * events, any dwelling's summary and the CSV export.
 *
 * An ambassador sees only the buildings of its token, and of them device
 * health and building totals; a dwelling's summary only while its
 * household shares it with the ambassador (http_share.h).  The
 * energy team sees everything but the load curves (hourly figures) of
 * dwellings without consent, refused here as by `foyerctl export`.  The
 * building status also lists the building's alerts not closed and its
 * open problem reports; the alerts have routes of their own (list,
 * acknowledge), for ambassadors within their buildings.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "foyer/alerts.h"
#include "foyer/coach.h"
#include "foyer/limits.h"
#include "foyer/log.h"
#include "foyer/store_consent.h"
#include "foyer/store_erase.h"
#include "foyer/store_people.h"
#include "foyer/store_tenancy.h"
#include "foyer/timeutil.h"
#include "http_api_int.h"
#include "http_share.h"

/* The building of path parameter 0, or an answer (404 unknown, 403 not
 * one of the caller's). */
static int path_building(const struct http_request *req, struct http_response *resp, uint32_t *ret)
{
    const char *id = req->n_params > 0 ? req->params[0] : "";
    int32_t b = config_find_building(req->cfg, id);
    int rc;
    if (b < 0) {
        rc = http_error(resp, 404, "not_found", "building: no building \"%.64s\"", id);
        return rc < 0 ? rc : API_ANSWERED;
    }
    if (!http_principal_has_building(req->who, b)) {
        rc = http_error(resp, 403, "forbidden", "building: %s is not one of this token's", id);
        return rc < 0 ? rc : API_ANSWERED;
    }
    *ret = (uint32_t)b;
    return 0;
}

/* ---- GET /api/v1/buildings ----------------------------------------------- */

int api_buildings(const struct http_request *req, struct http_response *resp)
{
    const struct foyer_config *cfg = req->cfg;
    json_t *arr = json_array();
    for (size_t b = 0; b < cfg->n_buildings; b++) {
        if (!http_principal_has_building(req->who, (int32_t)b))
            continue;
        size_t dwellings = 0, meters = 0, sensors = 0;
        for (size_t i = 0; i < cfg->n_dwellings; i++)
            dwellings += cfg->dwellings[i].building == b;
        for (size_t i = 0; i < cfg->n_meters; i++)
            meters += cfg->meters[i].building == (int32_t)b;
        for (size_t i = 0; i < cfg->n_sensors; i++)
            sensors += cfg->sensors[i].building == (int32_t)b;
        json_t *o = json_object();
        json_object_set_new(o, "id", json_string(cfg->buildings[b].id));
        json_object_set_new(
            o, "name", cfg->buildings[b].name ? json_string(cfg->buildings[b].name) : json_null());
        json_object_set_new(o, "dwellings", json_integer((json_int_t)dwellings));
        json_object_set_new(o, "meters", json_integer((json_int_t)meters));
        json_object_set_new(o, "sensors", json_integer((json_int_t)sensors));
        json_array_append_new(arr, o);
    }
    json_t *j = json_object();
    json_object_set_new(j, "buildings", arr);
    return api_send_json(resp, j);
}

/* ---- GET /api/v1/buildings/{id}/status ----------------------------------- */

static int keep_report(void *ctx, const struct store_report *r)
{
    json_t *arr = ctx;
    json_t *o = json_object();
    if (!o)
        return -ENOMEM;
    json_object_set_new(o, "id", json_integer(r->id));
    json_object_set_new(o, "dwelling", r->dwelling ? json_string(r->dwelling) : json_null());
    json_object_set_new(o, "kind", json_string(r->kind));
    json_object_set_new(o, "text", r->text && *r->text ? json_string(r->text) : json_null());
    json_object_set_new(o, "opened", api_time(r->opened_s));
    return json_array_append_new(arr, o) == 0 ? 0 : -ENOMEM;
}

static int alerts_array(const struct http_request *req, const struct store_alert_filter *f,
                        int state, json_t **ret);

/* ,"alerts":[...],"reports":[...] of config building b: its alerts not
 * closed and its open problem reports, oldest first.  0 or -ENOMEM; a
 * store that does not answer is logged and the lists said null. */
static int status_alerts_reports(const struct http_request *req, uint32_t b, struct http_buf *out)
{
    const char *id = req->cfg->buildings[b].id;
    struct store_alert_filter f = {.building = id};
    json_t *alerts = NULL, *reports = json_array();
    int rc = alerts_array(req, &f, -1, &alerts);
    if (rc == -ENOMEM || !reports) {
        json_decref(reports);
        return -ENOMEM;
    }
    if (rc < 0)
        log_err("http: building %s: alerts: %s", id, store_errmsg(req->ro));
    rc = store_people_read_reports(req->ro, id, true, keep_report, reports);
    if (rc == -ENOMEM) {
        json_decref(alerts);
        json_decref(reports);
        return rc;
    }
    if (rc < 0) {
        log_err("http: building %s: reports: %s", id, store_errmsg(req->ro));
        json_decref(reports);
        reports = NULL;
    }
    http_buf_str(out, ",\"alerts\":");
    api_buf_json(out, alerts ? alerts : json_null());
    http_buf_str(out, ",\"reports\":");
    return api_buf_json(out, reports ? reports : json_null());
}

/* A device's health as its driver last reported it. */
struct reported {
    char name[FOYER_ID_MAX + 1];
    char state[16];
    int64_t since_s;
    int64_t last_success_s; /* 0: never */
};

struct reported_list {
    struct reported *r;
    size_t n, cap;
};

static int keep_reported(void *ctx, const struct device_health *h)
{
    struct reported_list *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        struct reported *bigger = realloc(l->r, cap * sizeof(*bigger));
        if (!bigger)
            return -ENOMEM;
        l->r = bigger;
        l->cap = cap;
    }
    struct reported *r = &l->r[l->n++];
    (void)snprintf(r->name, sizeof(r->name), "%s", h->device);
    (void)snprintf(r->state, sizeof(r->state), "%s", h->state ? h->state : "");
    r->since_s = h->since_s;
    r->last_success_s = h->last_success_s;
    return 0;
}

static int reported_cmp(const void *a, const void *b)
{
    return strcmp(((const struct reported *)a)->name, ((const struct reported *)b)->name);
}

static const struct reported *reported_find(const struct reported_list *l, const char *name)
{
    struct reported key = {0};
    (void)snprintf(key.name, sizeof(key.name), "%s", name);
    return l->n ? bsearch(&key, l->r, l->n, sizeof(*l->r), reported_cmp) : NULL;
}

/* States, in the order an ambassador reads them: silent first. */
enum dev_state { DEV_OFFLINE, DEV_STALE, DEV_NEVER, DEV_OK, DEV_STATE_COUNT_ };
static const char *const dev_state_names[] = {"offline", "stale", "never", "ok"};

struct dev_row {
    const char *name;
    const char *kind; /* "meter", "sensor" */
    int32_t dwelling; /* config index or -1 */
    enum dev_state state;
    int64_t since_s; /* INT64_MIN: unknown */
    int64_t last_s;  /* newest reading taken, INT64_MIN: none */
    char driver[16]; /* the driver's word ("online", "offline", ...) or "" */
    size_t order;    /* config order, for a stable sort */
};

static int dev_row_cmp(const void *a, const void *b)
{
    const struct dev_row *x = a, *y = b;
    if (x->state != y->state)
        return x->state < y->state ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* The device's state from its driver's report (or, without one, its
 * channels' newest reading), as `foyerctl status` judges a channel: the
 * driver's offline or stale wins; else never heard of is "never", last
 * heard of longer ago than the device's silence allowance is "stale". */
static int dev_judge(const struct http_request *req, const struct reported_list *rep,
                     uint32_t first, size_t n_ch, int64_t stale_after_s, struct dev_row *d)
{
    const struct reported *r = reported_find(rep, d->name);
    d->last_s = INT64_MIN;
    if (r) {
        /* The driver's word: its last good poll or message.  Reading every
         * channel's newest reading instead was two thirds of the answer's
         * time for 300 meters, and says less (a meter answering with
         * refused values is not silent). */
        if (r->last_success_s > 0)
            d->last_s = r->last_success_s;
    } else {
        /* No driver reported on it (foyerd has not run it yet, or it is
         * fed by imports): its channels' newest reading. */
        for (size_t k = 0; k < n_ch; k++) {
            struct store_channel_status cs;
            int rc = store_read_channel_status(req->ro, first + (uint32_t)k, &cs);
            if (rc < 0)
                return rc;
            if (cs.has_last && cs.last_ts_s > d->last_s)
                d->last_s = cs.last_ts_s;
        }
    }
    (void)snprintf(d->driver, sizeof(d->driver), "%s", r ? r->state : "");
    d->since_s = INT64_MIN;
    if (r && (strcmp(r->state, "offline") == 0 || strcmp(r->state, "stale") == 0)) {
        d->state = r->state[0] == 'o' ? DEV_OFFLINE : DEV_STALE;
        d->since_s = r->since_s;
    } else if (d->last_s == INT64_MIN) {
        d->state = DEV_NEVER;
    } else if (req->now_s - d->last_s > stale_after_s) {
        d->state = DEV_STALE;
        d->since_s = d->last_s; /* silent since it was last heard */
    } else {
        d->state = DEV_OK;
        if (r)
            d->since_s = r->since_s;
    }
    return 0;
}

/* The dwelling a sensor serves: its own, or the one all its channels
 * share (a wildcard topic's listed devices); -1 for the building's. */
static int32_t sensor_dwelling(const struct foyer_config *cfg, const struct sensor *se, size_t n_ch)
{
    if (se->dwelling >= 0 || n_ch == 0)
        return se->dwelling;
    int32_t d = cfg->channels[se->first_channel].dwelling;
    for (size_t k = 1; k < n_ch; k++)
        if (cfg->channels[se->first_channel + k].dwelling != d)
            return -1;
    return d;
}

/* Channels of a sensor: n_fields, or n_fields per listed device. */
static size_t sensor_channels(const struct foyer_config *cfg, uint32_t s)
{
    const struct sensor *se = &cfg->sensors[s];
    size_t n = 0;
    for (size_t i = se->first_channel; i < cfg->n_channels && cfg->channels[i].sensor == (int32_t)s;
         i++)
        n++;
    return n;
}

struct total_ctx {
    int64_t today_s;
    double today, week;
    bool has;
};

static int add_total(void *ctx, const struct store_rollup *row)
{
    struct total_ctx *t = ctx;
    t->week += row->sum;
    if (row->ts_s >= t->today_s)
        t->today += row->sum;
    t->has = true;
    return 0;
}

/* The answer of building b into resp->body. */
static int status_build(const struct http_request *req, uint32_t b, struct http_response *resp)
{
    const struct foyer_config *cfg = req->cfg;
    int rc = 0;

    struct reported_list rep = {0};
    struct dev_row *rows = calloc(cfg->n_meters + cfg->n_sensors + 1, sizeof(*rows));
    size_t n = 0;
    if (!rows)
        return -ENOMEM;
    /* Some 1 500 reads for 300 dwellings: one snapshot, one transaction. */
    rc = store_read_begin(req->ro);
    if (rc == 0)
        rc = store_read_devices(req->ro, keep_reported, &rep);
    if (rc == 0 && rep.n)
        qsort(rep.r, rep.n, sizeof(*rep.r), reported_cmp);
    for (size_t i = 0; rc == 0 && i < cfg->n_meters; i++) {
        const struct meter *m = &cfg->meters[i];
        if (m->building != (int32_t)b)
            continue;
        struct dev_row *d = &rows[n];
        *d = (struct dev_row){.name = m->id, .kind = "meter", .dwelling = m->dwelling, .order = n};
        n++;
        rc = dev_judge(req, &rep, m->first_channel, cfg->profiles[m->profile].n_regs,
                       (int64_t)m->interval_s * cfg->buses[m->bus].offline_after, d);
    }
    for (size_t i = 0; rc == 0 && i < cfg->n_sensors; i++) {
        const struct sensor *se = &cfg->sensors[i];
        if (se->building != (int32_t)b)
            continue;
        size_t n_ch = sensor_channels(cfg, (uint32_t)i);
        struct dev_row *d = &rows[n];
        *d = (struct dev_row){.name = se->id,
                              .kind = "sensor",
                              .dwelling = sensor_dwelling(cfg, se, n_ch),
                              .order = n};
        n++;
        rc = dev_judge(req, &rep, se->first_channel, n_ch,
                       (int64_t)se->interval_s * se->stale_after, d);
    }

    /* Building totals: every counter of the building that is not a
     * submeter (the dwellings' and the common ones), today and this week
     * so far, from daily figures.  For an ambassador a quantity's total is
     * withheld while fewer than SUMMARY_PEERS_MIN + 1 dwellings have data
     * in it (the summaries' building_total rule): in a small building, or
     * where one flat has a water meter, the total would be one
     * household's consumption. */
    double today[Q_COUNT_] = {0}, week[Q_COUNT_] = {0};
    bool has[Q_COUNT_] = {false}, metered[Q_COUNT_] = {false};
    size_t contributors[Q_COUNT_] = {0};
    bool *seen = calloc(cfg->n_dwellings * Q_COUNT_ + 1, sizeof(*seen));
    int64_t day_s = tu_day_start(req->now_s), week_s = tu_week_start(req->now_s);
    if (!seen)
        rc = -ENOMEM;
    for (size_t i = 0; rc == 0 && i < cfg->n_channels; i++) {
        const struct channel *c = &cfg->channels[i];
        if (c->building != (int32_t)b || c->kind != KIND_COUNTER || c->submeter)
            continue;
        struct total_ctx t = {.today_s = day_s};
        metered[c->quantity] = true;
        rc = store_read_rollups(req->ro, STORE_DAY, (uint32_t)i, week_s, tu_next_day(day_s), 0,
                                add_total, &t);
        today[c->quantity] += t.today;
        week[c->quantity] += t.week;
        has[c->quantity] |= t.has;
        if (t.has && c->dwelling >= 0 && !seen[(size_t)c->dwelling * Q_COUNT_ + c->quantity]) {
            seen[(size_t)c->dwelling * Q_COUNT_ + c->quantity] = true;
            contributors[c->quantity]++;
        }
    }
    /* The consumption of erased dwellings, folded per building
     * (store_erase.h): it counts in the totals, never as a dwelling. */
    for (int q = 0; rc == 0 && q < Q_COUNT_; q++) {
        if (quantity_kind((enum quantity)q) != KIND_COUNTER)
            continue;
        struct total_ctx t = {.today_s = day_s};
        rc = store_read_folded(req->ro, cfg->buildings[b].id, (enum quantity)q, STORE_DAY, week_s,
                               tu_next_day(day_s), add_total, &t);
        today[q] += t.today;
        week[q] += t.week;
        has[q] |= t.has;
        metered[q] |= t.has;
    }
    free(seen);
    store_read_end(req->ro);
    free(rep.r);
    if (rc < 0) {
        free(rows);
        return rc;
    }

    qsort(rows, n, sizeof(*rows), dev_row_cmp);
    size_t counts[DEV_STATE_COUNT_] = {0};
    for (size_t i = 0; i < n; i++)
        counts[rows[i].state]++;
    json_t *jb = json_object();
    json_object_set_new(jb, "id", json_string(cfg->buildings[b].id));
    json_object_set_new(jb, "name",
                        cfg->buildings[b].name ? json_string(cfg->buildings[b].name) : json_null());
    json_t *jc = json_object();
    for (int s = 0; s < DEV_STATE_COUNT_; s++)
        json_object_set_new(jc, dev_state_names[s], json_integer((json_int_t)counts[s]));
    json_t *jt = json_object();
    json_object_set_new(jt, "today_from", api_time(day_s));
    json_object_set_new(jt, "week_from", api_time(week_s));
    json_t *jq = json_array();
    for (int q = 0; q < Q_COUNT_; q++) {
        if (!metered[q])
            continue;
        json_t *o = json_object();
        json_object_set_new(o, "quantity", json_string(quantity_name((enum quantity)q)));
        json_object_set_new(o, "unit", json_string(quantity_unit((enum quantity)q)));
        bool withheld = req->who->role != HTTP_ROLE_ENERGY_TEAM && contributors[q] > 0 &&
                        contributors[q] < SUMMARY_PEERS_MIN + 1;
        bool shown = has[q] && !withheld;
        json_object_set_new(o, "today",
                            shown ? api_value((enum quantity)q, today[q]) : json_null());
        json_object_set_new(o, "week", shown ? api_value((enum quantity)q, week[q]) : json_null());
        json_object_set_new(o, "dwellings", json_integer((json_int_t)contributors[q]));
        if (withheld)
            json_object_set_new(o, "withheld", json_string("too_few_dwellings"));
        json_array_append_new(jq, o);
    }
    json_object_set_new(jt, "quantities", jq);

    /* The devices are written straight into the body: as jansson objects,
     * 300 of them took 1.6 ms, more than all the reads (bench_api). */
    struct http_buf *out = &resp->body;
    char when[40];
    resp->status = 200;
    resp->content_type = "application/json";
    http_buf_str(out, "{\"building\":");
    api_buf_json(out, jb);
    http_buf_printf(out, ",\"generated_at\":\"%s\",\"devices\":[",
                    tu_format_local(req->now_s, when, sizeof(when)));
    for (size_t i = 0; i < n; i++) {
        const struct dev_row *d = &rows[i];
        http_buf_str(out, i ? ",{\"device\":" : "{\"device\":");
        http_buf_json_str(out, d->name);
        http_buf_printf(out, ",\"kind\":\"%s\",\"dwelling\":", d->kind);
        if (d->dwelling >= 0) {
            const struct dwelling *dw = &cfg->dwellings[d->dwelling];
            http_buf_str(out, "{\"id\":");
            http_buf_json_str(out, dw->id);
            http_buf_str(out, ",\"label\":");
            if (dw->label)
                http_buf_json_str(out, dw->label);
            else
                http_buf_str(out, "null");
            http_buf_str(out, "}");
        } else {
            http_buf_str(out, "null"); /* common areas */
        }
        http_buf_printf(out, ",\"state\":\"%s\"", dev_state_names[d->state]);
        if (d->since_s != INT64_MIN)
            http_buf_printf(out, ",\"since\":\"%s\",\"since_s\":%lld",
                            tu_format_local(d->since_s, when, sizeof(when)), (long long)d->since_s);
        else
            http_buf_str(out, ",\"since\":null,\"since_s\":null");
        if (d->last_s != INT64_MIN)
            http_buf_printf(out, ",\"last_seen\":\"%s\",\"last_seen_s\":%lld",
                            tu_format_local(d->last_s, when, sizeof(when)), (long long)d->last_s);
        else
            http_buf_str(out, ",\"last_seen\":null,\"last_seen_s\":null");
        http_buf_str(out, ",\"driver_state\":");
        if (d->driver[0])
            http_buf_json_str(out, d->driver);
        else
            http_buf_str(out, "null");
        http_buf_str(out, "}");
    }
    free(rows);
    http_buf_str(out, "],\"device_counts\":");
    api_buf_json(out, jc);
    http_buf_str(out, ",\"totals\":");
    api_buf_json(out, jt);
    rc = status_alerts_reports(req, b, out);
    if (rc < 0)
        return rc;
    /* Appends after a failed one do nothing and fail again: one check. */
    return http_buf_str(out, "}") < 0 ? -ENOMEM : 0;
}

/* Status answers kept FOYER_HTTP_STATUS_CACHE_S seconds, by building and
 * role (an ambassador's totals may be withheld, the energy team's not).
 * Keyed by the config too: a reload starts over.  status_gen counts the
 * clears: an answer begun before one is not kept. */
struct status_cached {
    const struct foyer_config *cfg;
    uint32_t building;
    bool team;
    int64_t made_s;  /* req->now_s of the answer */
    bool refreshing; /* a thread is making the next answer */
    char *body;
    size_t len;
};

static pthread_mutex_t status_cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct status_cached status_cache[FOYER_HTTP_STATUS_CACHE_MAX];
static uint64_t status_gen;

void api_status_cache_clear(void)
{
    pthread_mutex_lock(&status_cache_lock);
    status_gen++;
    for (size_t i = 0; i < FOYER_HTTP_STATUS_CACHE_MAX; i++) {
        free(status_cache[i].body);
        status_cache[i] = (struct status_cached){0};
    }
    pthread_mutex_unlock(&status_cache_lock);
}

/* Slot of (cfg, b, team), or NULL past the cache's size. */
static struct status_cached *status_slot(const struct foyer_config *cfg, uint32_t b, bool team)
{
    size_t i = (size_t)b * 2 + team;
    if (i >= FOYER_HTTP_STATUS_CACHE_MAX)
        return NULL;
    struct status_cached *c = &status_cache[i];
    if (c->cfg != cfg || c->building != b || c->team != team) {
        free(c->body);
        *c = (struct status_cached){.cfg = cfg, .building = b, .team = team};
    }
    return c;
}

int api_building_status(const struct http_request *req, struct http_response *resp)
{
    uint32_t b;
    int rc = path_building(req, resp, &b);
    if (rc != 0)
        return rc > 0 ? 0 : rc;
    bool team = req->who->role == HTTP_ROLE_ENERGY_TEAM;

    /* Fresh, or being made again by another thread (then one second
     * older at most): the kept answer. */
    pthread_mutex_lock(&status_cache_lock);
    struct status_cached *c = status_slot(req->cfg, b, team);
    bool fresh = c && c->body && req->now_s >= c->made_s &&
                 req->now_s - c->made_s < FOYER_HTTP_STATUS_CACHE_S;
    if (c && c->body && (fresh || c->refreshing)) {
        rc = http_buf_add(&resp->body, c->body, c->len);
        pthread_mutex_unlock(&status_cache_lock);
        if (rc < 0)
            return -ENOMEM;
        resp->status = 200;
        resp->content_type = "application/json";
        return 0;
    }
    bool mine = c != NULL; /* this thread makes the next answer */
    uint64_t gen = status_gen;
    if (c)
        c->refreshing = true;
    pthread_mutex_unlock(&status_cache_lock);

    /* Made outside the lock: meanwhile the others serve the old answer,
     * or make their own when there is none yet. */
    rc = status_build(req, b, resp);
    bool keep = rc == 0 && resp->status == 200 && !resp->body.failed && resp->body.data;
    char *copy = keep ? malloc(resp->body.len) : NULL;
    if (copy)
        memcpy(copy, resp->body.data, resp->body.len);
    pthread_mutex_lock(&status_cache_lock);
    c = mine ? status_slot(req->cfg, b, team) : NULL;
    if (c) {
        c->refreshing = false;
        if (copy && gen == status_gen && (!c->body || c->made_s <= req->now_s)) {
            free(c->body);
            c->body = copy;
            c->len = resp->body.len;
            c->made_s = req->now_s;
            copy = NULL;
        }
    }
    pthread_mutex_unlock(&status_cache_lock);
    free(copy);
    return rc;
}

/* ---- GET /api/v1/dwellings, /api/v1/channels ----------------------------- */

static json_t *ymd_json(int32_t ymd)
{
    if (ymd == 0)
        return json_null();
    char buf[16];
    (void)snprintf(buf, sizeof(buf), "%04d-%02d-%02d", (int)(ymd / 10000), (int)(ymd / 100 % 100),
                   (int)(ymd % 100));
    return json_string(buf);
}

/* A query argument for the access log's "what" ("-" when absent). */
static const char *arg_text(const struct http_request *req, const char *name)
{
    const char *v = http_arg(req, name);
    return v ? v : "-";
}

/* Record in the access log (store_access.h) that the caller reads dwelling
 * (a config ID, "*" every one) through route with args (no figure), before
 * reading it: 0, API_ANSWERED after a 500 answer (not logged: nothing is
 * read), or -errno. */
static int log_access(const struct http_request *req, struct http_response *resp,
                      const char *dwelling, const char *what)
{
    if (share_log(req, dwelling, what) == 0)
        return 0;
    int rc = http_error(resp, 500, "access_log",
                        "the read cannot be written in the access log: nothing is read");
    return rc < 0 ? rc : API_ANSWERED;
}

/* The household's load-curve consent now (store_consent.h, foyerctl
 * consent): a withdrawal holds at the next request; a failed read refuses. */
static bool load_curve_ok(const struct http_request *req, int32_t d)
{
    struct store_consent c;
    return store_consent_get(req->ro, req->cfg, (uint32_t)d, STORE_PURPOSE_LOAD_CURVE, tu_now_s(),
                             &c) == 0 &&
           c.given;
}

int api_dwellings(const struct http_request *req, struct http_response *resp)
{
    const struct foyer_config *cfg = req->cfg;
    struct tenancy *tv = NULL; /* the run's tenancies (foyerctl tenancy) */
    size_t n_tv = 0;
    int rc = store_tenancy_read(req->ro, cfg, &tv, &n_tv);
    if (rc < 0)
        return rc;
    json_t *arr = json_array();
    for (size_t i = 0; i < cfg->n_dwellings; i++) {
        const struct dwelling *dw = &cfg->dwellings[i];
        json_t *o = json_object();
        json_object_set_new(o, "id", json_string(dw->id));
        json_object_set_new(o, "label", dw->label ? json_string(dw->label) : json_null());
        json_object_set_new(o, "building", json_string(cfg->buildings[dw->building].id));
        json_object_set_new(o, "surface_m2", json_real(dw->surface_m2));
        json_object_set_new(o, "heating", json_string(heating_name(dw->heating)));
        json_object_set_new(o, "consent", json_boolean(load_curve_ok(req, (int32_t)i)));
        json_t *ten = json_array();
        for (size_t k = 0; k < n_tv; k++) {
            const struct tenancy *t = &tv[k];
            if (t->dwelling != i)
                continue;
            json_t *jt = json_object();
            json_object_set_new(jt, "id", json_string(t->id));
            json_object_set_new(jt, "start", ymd_json(t->start_ymd));
            json_object_set_new(jt, "end", ymd_json(t->end_ymd)); /* last day, included */
            json_array_append_new(ten, jt);
        }
        json_object_set_new(o, "tenancies", ten);
        json_array_append_new(arr, o);
    }
    free(tv);
    json_t *j = json_object();
    json_object_set_new(j, "dwellings", arr);
    return api_send_json(resp, j);
}

int api_channels(const struct http_request *req, struct http_response *resp)
{
    const struct foyer_config *cfg = req->cfg;
    json_t *arr = json_array();
    for (size_t i = 0; i < cfg->n_channels; i++) {
        const struct channel *c = &cfg->channels[i];
        json_t *o = json_object();
        json_object_set_new(o, "id", json_string(c->id));
        json_object_set_new(o, "dwelling",
                            c->dwelling >= 0 ? json_string(cfg->dwellings[c->dwelling].id)
                                             : json_null());
        json_object_set_new(o, "building",
                            c->building >= 0 ? json_string(cfg->buildings[c->building].id)
                                             : json_null());
        json_object_set_new(o, "quantity", json_string(quantity_name(c->quantity)));
        json_object_set_new(o, "kind", json_string(kind_name(c->kind)));
        json_object_set_new(o, "unit", json_string(c->unit));
        json_object_set_new(o, "submeter", json_boolean(c->submeter));
        const char *dev = c->meter >= 0    ? cfg->meters[c->meter].id
                          : c->sensor >= 0 ? cfg->sensors[c->sensor].id
                                           : NULL;
        json_object_set_new(o, "device", dev ? json_string(dev) : json_null());
        json_array_append_new(arr, o);
    }
    json_t *j = json_object();
    json_object_set_new(j, "channels", arr);
    return api_send_json(resp, j);
}

/* ---- GET /api/v1/rollups ------------------------------------------------- */

struct rollup_ctx {
    const struct channel *c;
    json_t *arr;
};

static int rollup_row(void *ctx, const struct store_rollup *row)
{
    struct rollup_ctx *x = ctx;
    const struct channel *c = x->c;
    json_t *o = json_object();
    json_object_set_new(o, "start", api_time(row->ts_s));
    json_object_set_new(o, "start_s", json_integer(row->ts_s));
    if (c->kind == KIND_COUNTER) {
        json_object_set_new(o, "value", api_value(c->quantity, row->sum));
    } else {
        /* Gauges: the mean of the readings taken in the period. */
        json_object_set_new(o, "value",
                            row->n > 0 ? api_value(c->quantity, row->sum / (double)row->n)
                                       : json_null());
        json_object_set_new(o, "min", api_value(c->quantity, row->min));
        json_object_set_new(o, "max", api_value(c->quantity, row->max));
    }
    json_object_set_new(o, "n", json_integer(row->n));
    return json_array_append_new(x->arr, o) == 0 ? 0 : -ENOMEM;
}

/* Hourly figures of a dwelling without consent are a load curve: refused
 * (RGPD), as by foyerctl export. */
static int refuse_load_curve(struct http_response *resp, const struct dwelling *dw)
{
    int rc = http_error(resp, 403, "forbidden",
                        "granularity: hour of dwelling %s, which has not consented to load "
                        "curves (RGPD); day and month are available",
                        dw->id);
    return rc < 0 ? rc : 0;
}

int api_rollups(const struct http_request *req, struct http_response *resp)
{
    const struct foyer_config *cfg = req->cfg;
    const char *id = http_arg(req, "channel");
    int rc;
    if (!id) {
        rc = http_error(resp, 400, "bad_request", "channel: missing (a channel ID)");
        return rc < 0 ? rc : 0;
    }
    int32_t ch = config_find_channel(cfg, id);
    if (ch < 0) {
        rc = http_error(resp, 404, "not_found", "channel: no channel \"%.130s\"", id);
        return rc < 0 ? rc : 0;
    }
    const struct channel *c = &cfg->channels[ch];
    enum api_gran g;
    rc = api_arg_gran(req, resp, "granularity",
                      API_GRAN_BIT(API_HOUR) | API_GRAN_BIT(API_DAY) | API_GRAN_BIT(API_MONTH), &g);
    if (rc != 0)
        return rc > 0 ? 0 : rc;
    if (g == API_HOUR && c->dwelling >= 0 && !load_curve_ok(req, c->dwelling))
        return refuse_load_curve(resp, &cfg->dwellings[c->dwelling]);
    int64_t from_s, to_s;
    rc = api_arg_range(req, resp, g, &from_s, &to_s);
    if (rc != 0)
        return rc > 0 ? 0 : rc;
    if (c->dwelling >= 0) {
        char what[256];
        (void)snprintf(what, sizeof(what),
                       "GET /api/v1/rollups channel=%s granularity=%s from=%s to=%s", c->id,
                       arg_text(req, "granularity"), arg_text(req, "from"), arg_text(req, "to"));
        rc = log_access(req, resp, cfg->dwellings[c->dwelling].id, what);
        if (rc != 0)
            return rc > 0 ? 0 : rc;
    }
    enum store_gran sg = g == API_HOUR ? STORE_HOUR : g == API_DAY ? STORE_DAY : STORE_MONTH;
    struct rollup_ctx x = {.c = c, .arr = json_array()};
    if (!x.arr)
        return -ENOMEM;
    rc = store_read_rollups(req->ro, sg, (uint32_t)ch, from_s, to_s,
                            c->kind == KIND_GAUGE ? STORE_READ_MINMAX : 0, rollup_row, &x);
    if (rc < 0) {
        json_decref(x.arr);
        return rc;
    }
    json_t *j = json_object();
    json_object_set_new(j, "channel", json_string(c->id));
    json_object_set_new(j, "quantity", json_string(quantity_name(c->quantity)));
    json_object_set_new(j, "kind", json_string(kind_name(c->kind)));
    json_object_set_new(j, "unit", json_string(c->unit));
    json_object_set_new(j, "granularity",
                        json_string(g == API_HOUR  ? "hour"
                                    : g == API_DAY ? "day"
                                                   : "month"));
    json_object_set_new(j, "from", api_time(from_s));
    json_object_set_new(j, "to", api_time(to_s));
    json_object_set_new(j, "rows", x.arr);
    return api_send_json(resp, j);
}

/* ---- GET /api/v1/events -------------------------------------------------- */

struct events_ctx {
    const struct foyer_config *cfg;
    json_t *arr;
    size_t n;
    int64_t next_s; /* the first event left out, when the answer is full */
    bool full;
};

/* The dwelling an event concerns, from the config (the database does not
 * know dwellings), or NULL. */
static const char *event_dwelling(const struct foyer_config *cfg, const struct store_event *ev)
{
    int32_t d = -1;
    if (ev->channel) {
        int32_t ch = config_find_channel(cfg, ev->channel);
        d = ch >= 0 ? cfg->channels[ch].dwelling : -1;
    } else if (ev->device) {
        for (size_t i = 0; i < cfg->n_meters && d < 0; i++)
            if (strcmp(cfg->meters[i].id, ev->device) == 0)
                d = cfg->meters[i].dwelling;
        for (size_t i = 0; i < cfg->n_sensors && d < 0; i++)
            if (strcmp(cfg->sensors[i].id, ev->device) == 0)
                d = cfg->sensors[i].dwelling;
    }
    return d >= 0 ? cfg->dwellings[d].id : NULL;
}

/* An event's value in its channel's precision (api_value()), or as stored
 * when the channel left the config. */
static json_t *event_value(const struct foyer_config *cfg, const struct store_event *ev, double v)
{
    int32_t ch = ev->channel ? config_find_channel(cfg, ev->channel) : -1;
    if (ch >= 0)
        return api_value(cfg->channels[ch].quantity, v);
    return isfinite(v) ? json_real(v) : json_null();
}

static int event_row(void *ctx, const struct store_event *ev)
{
    struct events_ctx *x = ctx;
    if (x->n == FOYER_API_EVENTS_MAX) {
        x->full = true;
        x->next_s = ev->ts_s;
        return 1; /* stop */
    }
    const char *dw = event_dwelling(x->cfg, ev);
    json_t *o = json_object();
    json_object_set_new(o, "time", api_time(ev->ts_s));
    json_object_set_new(o, "ts_s", json_integer(ev->ts_s));
    json_object_set_new(o, "kind", json_string(ev->kind ? ev->kind : ""));
    json_object_set_new(o, "channel", ev->channel ? json_string(ev->channel) : json_null());
    json_object_set_new(o, "device", ev->device ? json_string(ev->device) : json_null());
    json_object_set_new(o, "dwelling", dw ? json_string(dw) : json_null());
    json_object_set_new(o, "value", event_value(x->cfg, ev, ev->value));
    json_object_set_new(o, "prev_value", event_value(x->cfg, ev, ev->prev_value));
    json_object_set_new(o, "detail", ev->detail ? json_string(ev->detail) : json_null());
    x->n++;
    return json_array_append_new(x->arr, o) == 0 ? 0 : -ENOMEM;
}

int api_events(const struct http_request *req, struct http_response *resp)
{
    const char *since = http_arg(req, "since");
    int64_t since_s;
    struct tu_iso_info info;
    int rc;
    if (!since) {
        rc = http_error(resp, 400, "bad_request",
                        "since: missing (a local date 2026-11-30 or a time with offset "
                        "2026-11-30T08:00:00+01:00)");
        return rc < 0 ? rc : 0;
    }
    if (tu_parse_iso_info(since, &since_s, &info) < 0 || (info.has_time && !info.has_offset)) {
        rc = http_error(resp, 400, "bad_request",
                        "since: \"%.40s\" is neither a date YYYY-MM-DD nor a time with offset",
                        since);
        return rc < 0 ? rc : 0;
    }
    struct events_ctx x = {.cfg = req->cfg, .arr = json_array()};
    if (!x.arr)
        return -ENOMEM;
    rc = store_read_events(req->ro, since_s, event_row, &x);
    if (rc < 0) {
        json_decref(x.arr);
        return rc;
    }
    json_t *j = json_object();
    json_object_set_new(j, "since", api_time(since_s));
    json_object_set_new(j, "events", x.arr);
    json_object_set_new(j, "truncated", json_boolean(x.full));
    /* Ask again from there; events of that very second already given come
     * again. */
    json_object_set_new(j, "next_since", x.full ? api_time(x.next_s) : json_null());
    return api_send_json(resp, j);
}

/* ---- GET /api/v1/dwellings/{id}/summary ---------------------------------- */

int api_dwelling_summary(const struct http_request *req, struct http_response *resp)
{
    const char *id = req->n_params > 0 ? req->params[0] : "";
    int32_t d = config_find_dwelling(req->cfg, id);
    if (d < 0) {
        int rc = http_error(resp, 404, "not_found", "dwelling: no dwelling \"%.64s\"", id);
        return rc < 0 ? rc : 0;
    }
    /* An ambassador: only while the household shares with it, and only
     * the grant's tenancy; refused before anything is logged or read. */
    int64_t from_s = INT64_MIN, to_s = INT64_MAX;
    int rc;
    if (req->who->role == HTTP_ROLE_AMBASSADOR) {
        rc = share_gate(req, resp, (uint32_t)d, id, &from_s, &to_s);
        if (rc != 0)
            return rc > 0 ? 0 : rc;
    }
    char what[160];
    (void)snprintf(what, sizeof(what), "GET /api/v1/dwellings/%s/summary period=%.40s", id,
                   arg_text(req, "period"));
    rc = log_access(req, resp, id, what);
    if (rc != 0)
        return rc > 0 ? 0 : rc;
    return api_send_summary(req, resp, (uint32_t)d, from_s, to_s);
}

/* ---- GET /api/v1/export.csv ---------------------------------------------- */

static int export_write(void *ctx, const char *data, size_t len)
{
    return http_buf_add(ctx, data, len);
}

int api_export_csv(const struct http_request *req, struct http_response *resp)
{
    const struct foyer_config *cfg = req->cfg;
    enum api_gran g;
    int rc =
        api_arg_gran(req, resp, "granularity",
                     API_GRAN_BIT(API_HOUR) | API_GRAN_BIT(API_DAY) | API_GRAN_BIT(API_MONTH), &g);
    if (rc != 0)
        return rc > 0 ? 0 : rc;
    struct store_export_opts o = {
        .gran = g == API_HOUR  ? STORE_HOUR
                : g == API_DAY ? STORE_DAY
                               : STORE_MONTH,
    };
    const char *dwelling = http_arg(req, "dwelling");
    if (dwelling) {
        int32_t d = config_find_dwelling(cfg, dwelling);
        if (d < 0) {
            rc = http_error(resp, 404, "not_found", "dwelling: no dwelling \"%.64s\"", dwelling);
            return rc < 0 ? rc : 0;
        }
        if (g == API_HOUR && !load_curve_ok(req, d))
            return refuse_load_curve(resp, &cfg->dwellings[d]);
        o.dwelling = cfg->dwellings[d].id;
    }
    rc = api_arg_range(req, resp, g, &o.from_s, &o.to_s);
    if (rc != 0)
        return rc > 0 ? 0 : rc;
    /* The most rows the answer may hold, before reading any: channels
     * exported times periods in the range (an hour more per day for the
     * 25-hour day). */
    int64_t days = (o.to_s - o.from_s + 43200) / 86400;
    int64_t periods = g == API_HOUR ? days * 25 : g == API_DAY ? days : days / 28 + 2;
    int64_t channels = 0;
    for (size_t i = 0; i < cfg->n_channels; i++) {
        const struct channel *c = &cfg->channels[i];
        if (o.dwelling && (c->dwelling < 0 || strcmp(cfg->dwellings[c->dwelling].id, o.dwelling)))
            continue;
        if (g == API_HOUR && c->dwelling >= 0 && !load_curve_ok(req, c->dwelling))
            continue;
        channels++;
    }
    if (channels * periods > FOYER_API_EXPORT_ROWS_MAX) {
        rc = http_error(resp, 400, "bad_request",
                        "from, to: up to %lld rows (%lld channels); at most %d in one export: "
                        "narrow the range or give a dwelling",
                        (long long)(channels * periods), (long long)channels,
                        FOYER_API_EXPORT_ROWS_MAX);
        return rc < 0 ? rc : 0;
    }
    char what[256];
    (void)snprintf(what, sizeof(what), "GET /api/v1/export.csv granularity=%s from=%s to=%s",
                   arg_text(req, "granularity"), arg_text(req, "from"), arg_text(req, "to"));
    rc = log_access(req, resp, o.dwelling ? o.dwelling : "*", what);
    if (rc != 0)
        return rc > 0 ? 0 : rc;
    resp->status = 200;
    resp->content_type = "text/csv; charset=utf-8";
    int64_t rows = store_export_csv(req->ro, cfg, &o, export_write, &resp->body, NULL);
    return rows < 0 ? (int)rows : 0;
}

/* ---- alerts (issue 14): GET /api/v1/alerts, POST /api/v1/alerts/{id}/ack - */

static const char *const alert_states[] = {"open", "acknowledged", "closed"};

/* Whether the caller may see an alert of building (its ID, NULL for one
 * about no building, a bus or the broker: the energy team's). */
static bool alert_visible(const struct http_request *req, const char *building)
{
    if (req->who->role == HTTP_ROLE_ENERGY_TEAM)
        return true;
    int32_t b = building ? config_find_building(req->cfg, building) : -1;
    return b >= 0 && http_principal_has_building(req->who, b);
}

struct alert_list {
    const struct http_request *req;
    int state; /* -1: any the filter gives */
    json_t *arr;
};

static int keep_alert(void *ctx, const struct store_alert *al)
{
    struct alert_list *l = ctx;
    if (!alert_visible(l->req, al->building) || (l->state >= 0 && (int)al->state != l->state))
        return 0;
    json_t *o = alerts_json(al, al->state, l->req->lang);
    return o && json_array_append_new(l->arr, o) == 0 ? 0 : -ENOMEM;
}

/* The caller's alerts of filter f (state: one of them, or -1) as a JSON
 * array into *ret.  0 or -errno. */
static int alerts_array(const struct http_request *req, const struct store_alert_filter *f,
                        int state, json_t **ret)
{
    struct alert_list l = {.req = req, .state = state, .arr = json_array()};
    if (!l.arr)
        return -ENOMEM;
    int rc = store_read_alerts(req->ro, f, keep_alert, &l);
    if (rc < 0) {
        json_decref(l.arr);
        return rc;
    }
    *ret = l.arr;
    return 0;
}

int api_alerts(const struct http_request *req, struct http_response *resp)
{
    const char *building = http_arg(req, "building");
    const char *state = http_arg(req, "state");
    struct store_alert_filter f = {0};
    int st = -1, rc;
    if (building) {
        int32_t b = config_find_building(req->cfg, building);
        if (b < 0)
            return http_error(resp, 404, "not_found", "building: no building \"%.64s\"", building);
        if (!http_principal_has_building(req->who, b))
            return http_error(resp, 403, "forbidden", "building: %s is not one of this token's",
                              building);
        f.building = building;
    }
    if (state && strcmp(state, "all") == 0) {
        f.all = true;
    } else if (state) {
        for (int s = 0; s < 3 && st < 0; s++)
            if (strcmp(state, alert_states[s]) == 0)
                st = s;
        if (st < 0)
            return http_error(resp, 400, "bad_query",
                              "state: open, acknowledged, closed or all, not \"%.32s\"", state);
        f.all = st == STORE_ALERT_CLOSED;
    }
    json_t *arr;
    rc = alerts_array(req, &f, st, &arr);
    if (rc < 0) {
        log_err("http: alerts: %s", store_errmsg(req->ro));
        return http_error(resp, 503, "unavailable", "the alerts cannot be read");
    }
    json_t *j = json_object();
    json_object_set_new(j, "alerts", arr);
    return api_send_json(resp, j);
}

/* The one alert of id: its building and state. */
struct alert_find {
    int64_t id;
    bool found;
    char building[FOYER_ID_MAX + 1];
    bool has_building;
    enum store_alert_state state;
    json_t *json; /* when wanted (lang set) */
    const char *lang;
};

static int find_alert(void *ctx, const struct store_alert *al)
{
    struct alert_find *a = ctx;
    if (al->id != a->id)
        return 0;
    a->found = true;
    a->has_building = al->building != NULL;
    (void)snprintf(a->building, sizeof(a->building), "%s", al->building ? al->building : "");
    a->state = al->state;
    if (a->lang && !(a->json = alerts_json(al, al->state, a->lang)))
        return -ENOMEM;
    return 1;
}

int api_alert_ack(const struct http_request *req, struct http_response *resp)
{
    const char *ids = req->n_params > 0 ? req->params[0] : "";
    char *end;
    errno = 0;
    long long id = strtoll(ids, &end, 10);
    if (!*ids || *end || errno || id <= 0)
        return http_error(resp, 400, "bad_path", "alert id: a positive integer, not \"%.32s\"",
                          ids);
    /* The body: nothing, or {"note": "..."}. */
    const char *note = NULL;
    json_t *body = NULL;
    if (req->body && req->body_len) {
        json_error_t jerr;
        body = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
        json_t *n = body ? json_object_get(body, "note") : NULL;
        if (!body || !json_is_object(body) || (n && !json_is_string(n) && !json_is_null(n))) {
            json_decref(body);
            return http_error(resp, 400, "bad_json",
                              "the body must be empty or JSON {\"note\": \"...\"}%s%s",
                              body ? "" : ": ", body ? "" : jerr.text);
        }
        note = n && json_is_string(n) ? json_string_value(n) : NULL;
    }
    struct store_alert_filter f = {.all = true};
    struct alert_find a = {.id = id};
    int rc = store_read_alerts(req->ro, &f, find_alert, &a);
    if (rc < 0) {
        json_decref(body);
        log_err("http: alert %lld: %s", id, store_errmsg(req->ro));
        return http_error(resp, 503, "unavailable", "the alerts cannot be read");
    }
    if (!a.found || !alert_visible(req, a.has_building ? a.building : NULL)) {
        json_decref(body);
        return a.found ? http_error(resp, 403, "forbidden",
                                    "alert %lld is not of this token's buildings", id)
                       : http_error(resp, 404, "not_found", "no alert %lld", id);
    }
    if (a.state == STORE_ALERT_CLOSED) {
        json_decref(body);
        return http_error(resp, 409, "closed", "alert %lld is closed", id);
    }

    /* Who: the token's name (the access log says the same). */
    char who[80];
    if (req->who->name[0])
        (void)snprintf(who, sizeof(who), "%s", req->who->name);
    else
        (void)snprintf(who, sizeof(who), "token-%lld", (long long)req->who->token_id);
    struct store_alerts *w = NULL;
    const char *msg = NULL;
    rc = store_alerts_open(req->cfg->database, &w, &msg);
    if (rc == 0) {
        rc = store_alerts_ack(w, id, who, note, req->now_s);
        if (rc < 0 && rc != -EMSGSIZE && rc != -EALREADY && rc != -ENOENT)
            log_err("http: alert %lld: cannot acknowledge: %s", id, store_alerts_errmsg(w));
        store_alerts_close(w);
    } else {
        log_err("http: alert %lld: cannot open the database: %s", id, msg ? msg : strerror(-rc));
    }
    json_decref(body);
    if (rc == -EMSGSIZE)
        return http_error(resp, 400, "bad_json", "note: at most %d bytes", FOYER_ALERT_NOTE_MAX);
    if (rc == -EALREADY)
        return http_error(resp, 409, "closed", "alert %lld is closed", id);
    if (rc == -ENOENT)
        return http_error(resp, 404, "not_found", "no alert %lld", id);
    if (rc < 0)
        return http_error(resp, 503, "unavailable", "the alert cannot be acknowledged now");
    log_info("http: alert %lld acknowledged by %s", id, who);

    struct alert_find after = {.id = id, .lang = req->lang};
    rc = store_read_alerts(req->ro, &f, find_alert, &after);
    if (rc < 0 || !after.json) {
        json_decref(after.json);
        return rc == -ENOMEM ? rc : http_error(resp, 503, "unavailable", "re-reading alert failed");
    }
    json_t *j = json_object();
    json_object_set_new(j, "alert", after.json);
    return api_send_json(resp, j);
}

/* ---- POST /api/v1/reports/{id}/close ------------------------------------- */

int api_report_close(const struct http_request *req, struct http_response *resp)
{
    const char *ids = req->n_params > 0 ? req->params[0] : "";
    char *end;
    errno = 0;
    long long id = strtoll(ids, &end, 10);
    if (!*ids || *end || errno || id <= 0)
        return http_error(resp, 400, "bad_path", "report id: a positive integer, not \"%.32s\"",
                          ids);
    char building[FOYER_ID_MAX + 1];
    int rc = store_people_report_building(req->ro, id, building, sizeof(building));
    if (rc == -ENOENT || rc == -ENAMETOOLONG)
        return http_error(resp, 404, "not_found", "no report %lld", id);
    if (rc < 0) {
        log_err("http: report %lld: %s", id, store_errmsg(req->ro));
        return http_error(resp, 503, "unavailable", "the reports cannot be read");
    }
    int32_t b = config_find_building(req->cfg, building);
    if (b < 0 || !http_principal_has_building(req->who, b))
        return http_error(resp, 403, "forbidden", "report %lld is not of this token's buildings",
                          id);
    char who[80];
    if (req->who->name[0])
        (void)snprintf(who, sizeof(who), "%s", req->who->name);
    else
        (void)snprintf(who, sizeof(who), "token-%lld", (long long)req->who->token_id);
    rc = store_people_report_close(req->cfg->database, id, who, req->now_s);
    if (rc == -ENOENT)
        return http_error(resp, 409, "closed", "report %lld is closed", id);
    if (rc < 0) {
        log_err("http: report %lld: cannot close it: %s", id, strerror(-rc));
        return http_error(resp, 503, "unavailable", "the report cannot be closed now");
    }
    log_info("http: report %lld closed by %s", id, who);
    json_t *r = json_object();
    json_object_set_new(r, "id", json_integer(id));
    json_object_set_new(r, "building", json_string(building));
    json_object_set_new(r, "closed", api_time(req->now_s));
    json_object_set_new(r, "closed_by", json_string(who));
    json_t *j = json_object();
    json_object_set_new(j, "report", r);
    return api_send_json(resp, j);
}
