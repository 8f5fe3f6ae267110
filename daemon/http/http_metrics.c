/*
 * http_metrics.c - GET /healthz and GET /metrics.
 *
 * Both read the daemon's snapshot (include/foyer/http.h: foyerd fills it
 * from what the queue, the writer, the drivers' health reports and the
 * pusher count) and the server's own request counts; /metrics also
 * reads, on the thread's read-only handle, the outbox depth and the open
 * alerts by kind, and the pages' counters (http_page_stats_get()).
 *
 * /healthz answers 503 when the writer loop stopped turning
 * (FOYER_HTTP_HEALTH_STALL_MS), when commits are failing (the last attempt
 * failed: disk full, database locked or damaged), or when the reading
 * queue is nearly full (readings are about to be refused); 200 otherwise,
 * with the figures either way.
 *
 * /metrics is the Prometheus text exposition format (version 0.0.4),
 * checked by `promtool check metrics` in the tests.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "foyer/alerts.h"
#include "foyer/limits.h"
#include "foyer/store_uplink.h"
#include "foyer/timeutil.h"
#include "http_srv.h"

/* Weak, as the server's references to the route tables: a build without
 * the pages (test_http_server) has no page counters to show. */
extern void http_page_stats_get(struct http_page_stats *ret) __attribute__((weak));

/* The writer loop turns at least every 200 ms; no turn for this long
 * means it is stuck (in I/O, or dead). */
#define HTTP_HEALTH_STALL_MS 5000
/* Queue fill, in percent, above which readings are about to be refused. */
#define HTTP_HEALTH_QUEUE_PCT 90

int http_metrics_healthz(const struct http_request *req, struct http_response *resp)
{
    struct http_snapshot s;
    const char *why = NULL;

    http_server_health_snapshot(req, &s);
    free(s.devices); /* NULL, unless a callback ignores skip_devices */
    if (!s.writer_alive || s.writer_heartbeat_age_ms > HTTP_HEALTH_STALL_MS)
        why = "the writer has stopped turning";
    else if (s.commit_failing)
        why = "commits are failing (disk full, database locked or damaged): readings wait in "
              "the queue";
    else if (s.queue_capacity && s.queue_depth * 100 >= s.queue_capacity * HTTP_HEALTH_QUEUE_PCT)
        why = "the reading queue is nearly full";
    resp->status = why ? 503 : 200;
    resp->content_type = "application/json";
    (void)http_buf_printf(&resp->body, "{\"status\": \"%s\", ", why ? "unhealthy" : "ok");
    if (why) {
        (void)http_buf_str(&resp->body, "\"reason\": ");
        (void)http_buf_json_str(&resp->body, why);
        (void)http_buf_str(&resp->body, ", ");
    }
    return http_buf_printf(
        &resp->body,
        "\"writer_alive\": %s, \"writer_heartbeat_age_ms\": %" PRId64 ", \"queue_depth\": %" PRIu64
        ", \"queue_capacity\": %" PRIu64 ", \"last_commit_age_s\": %" PRId64
        ", \"commit_errors\": %" PRIu64 "}\n",
        s.writer_alive ? "true" : "false", s.writer_heartbeat_age_ms, s.queue_depth,
        s.queue_capacity, s.last_commit_s ? req->now_s - s.last_commit_s : -1, s.commit_errors);
}

/* A label value, escaped as the exposition format says (\\, \", \n). */
static void label(struct http_buf *b, const char *v)
{
    for (const char *p = v; *p; p++) {
        if (*p == '\\' || *p == '"')
            (void)http_buf_printf(b, "\\%c", *p);
        else if (*p == '\n')
            (void)http_buf_str(b, "\\n");
        else
            (void)http_buf_add(b, p, 1);
    }
}

static void head(struct http_buf *b, const char *name, const char *type, const char *help)
{
    (void)http_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(struct http_buf *b, const char *name, const char *type, const char *help,
                uint64_t v)
{
    head(b, name, type, help);
    (void)http_buf_printf(b, "%s %" PRIu64 "\n", name, v);
}

static void count_line(void *ctx, const char *route, int status, uint64_t n)
{
    struct http_buf *b = ctx;
    (void)http_buf_str(b, "foyer_http_requests_total{route=\"");
    label(b, route);
    (void)http_buf_printf(b, "\",status=\"%d\"} %" PRIu64 "\n", status, n);
}

/* One line per device of kind ("meter" or "sensor") of a counter of
 * struct device_health. */
static void device_lines(struct http_buf *b, const struct http_snapshot *s, const char *kind,
                         const char *name, size_t offset, const char *extra_label)
{
    for (size_t i = 0; i < s->n_devices; i++) {
        const struct http_snapshot_device *d = &s->devices[i];
        uint64_t v;
        if (!d->h.kind || strcmp(d->h.kind, kind) != 0)
            continue;
        memcpy(&v, (const char *)&d->h + offset, sizeof(v));
        (void)http_buf_printf(b, "%s{", name);
        if (strcmp(kind, "meter") == 0) {
            (void)http_buf_str(b, "bus=\"");
            label(b, d->bus);
            (void)http_buf_str(b, "\",meter=\"");
        } else {
            (void)http_buf_str(b, "sensor=\"");
        }
        label(b, d->h.device);
        (void)http_buf_printf(b, "\"%s} %" PRIu64 "\n", extra_label ? extra_label : "", v);
    }
}

int http_metrics_metrics(const struct http_request *req, struct http_response *resp)
{
    struct http_snapshot s;
    struct http_buf *b = &resp->body;

    http_server_snapshot(req, &s);
    resp->status = 200;
    resp->content_type = "text/plain; version=0.0.4; charset=utf-8";

    head(b, "foyer_readings_emitted_total", "counter",
         "Readings the drivers handed to the reading queue, by driver.");
    (void)http_buf_printf(b, "foyer_readings_emitted_total{driver=\"modbus\"} %" PRIu64 "\n",
                          s.emitted_modbus);
    (void)http_buf_printf(b, "foyer_readings_emitted_total{driver=\"mqtt\"} %" PRIu64 "\n",
                          s.emitted_mqtt);
    head(b, "foyer_readings_refused_total", "counter",
         "Readings refused before the database, by driver and reason.");
    (void)http_buf_printf(b,
                          "foyer_readings_refused_total{driver=\"modbus\",reason=\"queue_full\"} "
                          "%" PRIu64 "\n",
                          s.refused_modbus);
    (void)http_buf_printf(b,
                          "foyer_readings_refused_total{driver=\"mqtt\",reason=\"queue_full\"} "
                          "%" PRIu64 "\n",
                          s.refused_mqtt);
    head(b, "foyer_ingest_readings_total", "counter",
         "What the writer did with readings, by outcome (stored, or why not).");
    static const char *const outcome[] = {"stored",       "duplicate", "conflict",
                                          "out_of_range", "bad_time",  "late_refused",
                                          "glitch",       "spike",     "clock_gap"};
    const uint64_t ov[] = {s.stored,       s.duplicates, s.conflicts, s.out_of_range, s.bad_time,
                           s.late_refused, s.glitches,   s.spikes,    s.clock_gaps};
    for (size_t i = 0; i < sizeof(ov) / sizeof(ov[0]); i++)
        (void)http_buf_printf(b, "foyer_ingest_readings_total{outcome=\"%s\"} %" PRIu64 "\n",
                              outcome[i], ov[i]);

    head(b, "foyer_queue_depth", "gauge", "Readings waiting in the reading queue.");
    (void)http_buf_printf(b, "foyer_queue_depth %" PRIu64 "\n", s.queue_depth);
    head(b, "foyer_queue_capacity", "gauge", "Readings the reading queue holds at most.");
    (void)http_buf_printf(b, "foyer_queue_capacity %" PRIu64 "\n", s.queue_capacity);
    one(b, "foyer_queue_dropped_total", "counter",
        "Readings refused because the reading queue was full.", s.queue_dropped_full);
    one(b, "foyer_commits_total", "counter", "Transactions of readings committed.", s.batches);
    one(b, "foyer_commit_errors_total", "counter", "Failed commits (each retried).",
        s.commit_errors);
    one(b, "foyer_writer_events_dropped_total", "counter",
        "Device events refused: too many waiting for the writer.", s.events_dropped);
    head(b, "foyer_last_commit_timestamp_seconds", "gauge",
         "Wall clock of the last successful commit (0: none yet).");
    (void)http_buf_printf(b, "foyer_last_commit_timestamp_seconds %" PRId64 "\n", s.last_commit_s);

    head(b, "foyer_commit_duration_seconds", "histogram",
         "Time a commit of a batch of readings took.");
    uint64_t cum = 0;
    for (size_t i = 0; i < HTTP_COMMIT_BUCKETS; i++) {
        cum += s.commit_buckets[i];
        (void)http_buf_printf(b, "foyer_commit_duration_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
                              s.commit_bound_ms[i] / 1000.0, cum);
    }
    cum += s.commit_buckets[HTTP_COMMIT_BUCKETS];
    (void)http_buf_printf(b, "foyer_commit_duration_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n",
                          cum);
    (void)http_buf_printf(b, "foyer_commit_duration_seconds_sum %.3f\n", s.commit_sum_ms / 1000.0);
    (void)http_buf_printf(b, "foyer_commit_duration_seconds_count %" PRIu64 "\n", cum);

    head(b, "foyer_modbus_polls_total", "counter", "Modbus requests sent, by bus and meter.");
    device_lines(b, &s, "meter", "foyer_modbus_polls_total", offsetof(struct device_health, polls),
                 NULL);
    head(b, "foyer_modbus_timeouts_total", "counter",
         "Modbus requests without an answer, by bus and meter.");
    device_lines(b, &s, "meter", "foyer_modbus_timeouts_total",
                 offsetof(struct device_health, timeouts), NULL);
    head(b, "foyer_modbus_errors_total", "counter",
         "Modbus requests that failed otherwise, by bus, meter and kind.");
    device_lines(b, &s, "meter", "foyer_modbus_errors_total",
                 offsetof(struct device_health, crc_errors), ",kind=\"crc\"");
    device_lines(b, &s, "meter", "foyer_modbus_errors_total",
                 offsetof(struct device_health, exceptions), ",kind=\"exception\"");
    device_lines(b, &s, "meter", "foyer_modbus_errors_total",
                 offsetof(struct device_health, bad_values), ",kind=\"bad_value\"");
    device_lines(b, &s, "meter", "foyer_modbus_errors_total",
                 offsetof(struct device_health, other_errors), ",kind=\"other\"");
    head(b, "foyer_mqtt_messages_total", "counter", "MQTT messages received, by sensor.");
    device_lines(b, &s, "sensor", "foyer_mqtt_messages_total",
                 offsetof(struct device_health, polls), NULL);
    head(b, "foyer_mqtt_bad_messages_total", "counter",
         "MQTT messages refused (bad payload or values), by sensor.");
    device_lines(b, &s, "sensor", "foyer_mqtt_bad_messages_total",
                 offsetof(struct device_health, bad_values), NULL);
    one(b, "foyer_mqtt_connections_total", "counter",
        "Connections made to the MQTT broker: the first and each reconnect.", s.mqtt_connections);
    head(b, "foyer_device_up", "gauge",
         "1 when a meter answers or a sensor is fresh, 0 when offline or stale.");
    for (size_t i = 0; i < s.n_devices; i++) {
        const struct http_snapshot_device *d = &s.devices[i];
        bool up =
            d->h.state && (strcmp(d->h.state, "online") == 0 || strcmp(d->h.state, "fresh") == 0);
        (void)http_buf_str(b, "foyer_device_up{kind=\"");
        label(b, d->h.kind ? d->h.kind : "");
        (void)http_buf_str(b, "\",device=\"");
        label(b, d->h.device);
        (void)http_buf_printf(b, "\"} %d\n", up ? 1 : 0);
    }
    free(s.devices);

    head(b, "foyer_push_items_total", "counter",
         "Summary deliveries of the pusher since start, by outcome.");
    static const char *const pout[] = {"queued", "delivered", "failed_attempt", "given_up",
                                       "expired"};
    const uint64_t pv[] = {s.push_queued, s.push_delivered, s.push_failures, s.push_given_up,
                           s.push_expired};
    for (size_t i = 0; i < sizeof(pv) / sizeof(pv[0]); i++)
        (void)http_buf_printf(b, "foyer_push_items_total{outcome=\"%s\"} %" PRIu64 "\n", pout[i],
                              pv[i]);
    /* The outbox as the database holds it: items made before a restart
     * count too.  A database that does not answer leaves the gauge out
     * rather than say 0. */
    int64_t pending;
    if (store_read_outbox_pending(req->ro, &pending) == 0) {
        head(b, "foyer_push_outbox_depth", "gauge",
             "Outbox items still to deliver (pending in the database).");
        (void)http_buf_printf(b, "foyer_push_outbox_depth %" PRId64 "\n", pending);
    }

    /* Alerts not closed, as the database holds them (the engine runs in
     * the main thread): left out, like the outbox, when it does not
     * answer. */
    int64_t open[ALERT_KIND_COUNT_];
    if (alerts_open_by_kind(req->ro, open) == 0) {
        head(b, "foyer_alerts_open", "gauge", "Alerts open or acknowledged (not closed), by kind.");
        for (int k = 0; k < ALERT_KIND_COUNT_; k++)
            (void)http_buf_printf(b, "foyer_alerts_open{kind=\"%s\"} %" PRId64 "\n",
                                  alert_kind_name((enum alert_kind)k), open[k]);
    }

    struct http_page_stats ps = {0};
    if (http_page_stats_get)
        http_page_stats_get(&ps);
    one(b, "foyer_http_page_bad_forms_total", "counter",
        "Form posts of the pages refused for a bad or missing field.", ps.bad_forms);
    one(b, "foyer_http_page_cross_site_total", "counter",
        "Form posts of the pages refused: Origin or Referer of another host.", ps.cross_site);
    one(b, "foyer_http_page_tip_answers_total", "counter", "Tip answers stored from the tablets.",
        ps.tip_answers);
    one(b, "foyer_http_page_reports_opened_total", "counter",
        "Problem reports filed from the tablets.", ps.reports_opened);
    one(b, "foyer_http_page_reports_closed_total", "counter",
        "Problem reports closed from the ambassador page.", ps.reports_closed);

    /* The fleet uplink: its outbox as the database holds it (as the push
     * outbox's), its thread's counters since it started. */
    int64_t up_items, up_oldest_s;
    if (s.uplink_enabled && store_uplink_read_depth(req->ro, &up_items, &up_oldest_s) == 0) {
        head(b, "foyer_uplink_outbox_depth", "gauge",
             "Uplink items waiting for the central collector's ack (in the database).");
        (void)http_buf_printf(b, "foyer_uplink_outbox_depth %" PRId64 "\n", up_items);
        int64_t age_s = up_oldest_s > 0 ? tu_now_s() - up_oldest_s : 0;
        head(b, "foyer_uplink_outbox_oldest_age_seconds", "gauge",
             "Age of the oldest uplink item waiting, 0 when none waits.");
        (void)http_buf_printf(b, "foyer_uplink_outbox_oldest_age_seconds %" PRId64 "\n",
                              age_s > 0 ? age_s : 0);
    }
    if (s.uplink_enabled) {
        head(b, "foyer_uplink_items_total", "counter",
             "Uplink items since the uplink started, by outcome (acked: after the collector's "
             "commit).");
        static const char *const uout[] = {"queued", "sent", "resent", "acked", "rejected"};
        const uint64_t uv[] = {s.uplink_queued, s.uplink_sent, s.uplink_resent, s.uplink_acked,
                               s.uplink_rejected};
        for (size_t i = 0; i < sizeof(uv) / sizeof(uv[0]); i++)
            (void)http_buf_printf(b, "foyer_uplink_items_total{outcome=\"%s\"} %" PRIu64 "\n",
                                  uout[i], uv[i]);
        head(b, "foyer_uplink_connected", "gauge", "1 while connected to the central broker.");
        (void)http_buf_printf(b, "foyer_uplink_connected %d\n", s.uplink_connected ? 1 : 0);
    }

    head(b, "foyer_http_requests_total", "counter", "HTTP requests answered, by route and status.");
    http_server_each_count(req, count_line, b);
    return b->failed ? -ENOMEM : 0;
}
