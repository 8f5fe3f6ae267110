/*
 * http.h - foyerd's HTTP server (daemon/http/): the tenant, ambassador and
 * energy-team API and pages, /healthz and /metrics, over libmicrohttpd.
 *
 * foyerd starts it when the config has an [http] section and stops it
 * before the config it borrows is freed (a reload stops it and starts it
 * again with the new config).  What foyerd counts (queue, writer, drivers,
 * pusher) reaches /healthz and /metrics through a snapshot callback that
 * foyerd gives the server: the http room includes no driver, queue or
 * pusher header.
 */
#ifndef FOYER_HTTP_H
#define FOYER_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "foyer/config.h"
#include "foyer/device.h"

/* Buckets of the commit latency histogram (besides +Inf). */
#define HTTP_COMMIT_BUCKETS 8

/* The daemon's figures at one instant, filled by the snapshot callback. */
struct http_snapshot {
    /* health */
    bool writer_alive; /* the writer loop turned recently */
    int64_t writer_heartbeat_age_ms;
    int64_t last_commit_s; /* wall clock of the last commit, 0 none yet */
    int64_t last_error_s;  /* of the last failed commit, 0 none */
    bool commit_failing;   /* the last commit attempt failed (the writer retries) */
    /* queue */
    uint64_t queue_depth, queue_capacity;
    uint64_t queue_dropped_full;
    /* readings handed to the queue by driver ("modbus", "mqtt") */
    uint64_t emitted_modbus, emitted_mqtt;
    uint64_t refused_modbus, refused_mqtt; /* the queue was full */
    /* what the writer did with readings (ingest_stats) */
    uint64_t stored, duplicates, conflicts, out_of_range, bad_time, late_refused, glitches, spikes,
        clock_gaps, batches, commit_errors, events_dropped;
    /* commit latency: upper bounds (ms, increasing) and the commits in
     * each bucket (not cumulative: the server adds them up), the last one
     * above every bound; sum in ms */
    double commit_bound_ms[HTTP_COMMIT_BUCKETS];
    uint64_t commit_buckets[HTTP_COMMIT_BUCKETS + 1];
    double commit_sum_ms;
    /* pusher (zeros when it does not run) */
    uint64_t push_queued, push_delivered, push_failures, push_given_up, push_expired;
    /* devices: the latest health each driver reported (caller of the
     * snapshot frees devices with free()); bus is the Modbus bus ID of a
     * meter, "" for a sensor (MQTT) */
    struct http_snapshot_device {
        struct device_health h;
        char bus[FOYER_ID_MAX + 1];
    } * devices;
    size_t n_devices;
    /* in, set by the server before the call: the caller needs no device
     * list (/healthz); devices stays NULL */
    bool skip_devices;
    /* MQTT: connections to the broker made (the first, and each reconnect,
     * over reloads too) */
    uint64_t mqtt_connections;
    /* fleet uplink: configured ([uplink]); its thread's counters since it
     * started (uplink_get_stats(); zeros when it does not run) */
    bool uplink_enabled, uplink_connected;
    uint64_t uplink_queued, uplink_sent, uplink_resent, uplink_acked, uplink_rejected;
};

/* Fill *ret (zeroed by the caller); called on a server thread, any time:
 * must be thread-safe. */
typedef void (*http_snapshot_fn)(void *ctx, struct http_snapshot *ret);

struct http_server;

/* Start listening as cfg->http says, with the route tables built in.  cfg
 * is borrowed until http_server_stop().  NULL with *ret_err = -errno and
 * ret_msg (len bytes) saying why (address in use, TLS files unreadable). */
struct http_server *http_server_start(const struct foyer_config *cfg, http_snapshot_fn snapshot,
                                      void *snapshot_ctx, int *ret_err, char *ret_msg, size_t len);

/* The port listened on (the configured one, or the kernel's choice for
 * port 0 in tests). */
int http_server_port(const struct http_server *srv);

/* Close every connection, join the threads, close their store handles.
 * Bounded whatever clients do.  Accepts NULL. */
void http_server_stop(struct http_server *srv);

#endif
