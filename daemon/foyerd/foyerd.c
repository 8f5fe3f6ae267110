/*
 * foyerd.c - the daemon: lifecycle, signals, systemd notification.
 *
 * Threads: main (this file: signals, watchdog, reload), the writer, and the
 * drivers' own threads.  Signals are blocked in every thread and taken by
 * the main thread with sigtimedwait(), so no code runs in a signal handler:
 *   SIGTERM, SIGINT  stop drivers, commit what is queued, exit 0
 *   SIGHUP           load the config again; a bad one is refused and the
 *                    running config kept.  The HTTP server is stopped first
 *                    (no request runs: its threads are joined), its pages'
 *                    texts dropped, and it starts again on the new config
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "foyer/config.h"
#include "foyer/driver.h"
#include "foyer/drv_modbus.h"
#include "foyer/drv_mqtt.h"
#include "foyer/http.h"
#include "foyer/http_pages.h"
#include "foyer/ingest.h"
#include "foyer/log.h"
#include "foyer/store.h"
#include "foyer/timeutil.h"
#include "foyer/uplink.h"
/* summaries-and-push: begin */
#include "foyer/alerts.h"
#include "foyer/coach.h"
#include "foyer/push.h"
/* summaries-and-push: end */

#define DEFAULT_CONFIG FOYER_SYSCONFDIR "/foyer.conf"

/* Drivers built into foyerd, started in this order. */
static const struct driver_ops *const driver_table[] = {
    &drv_modbus_ops,
    &drv_mqtt_ops,
    NULL,
};

struct daemon {
    struct foyer_config *cfg;
    struct queue *q;
    struct writer *writer;
    void *drv[sizeof(driver_table) / sizeof(driver_table[0])];
    struct log_ratelimit refused_rl;
    struct http_server *http; /* NULL without [http] */
    /* For /metrics: readings handed to the queue and refused, by driver
     * (a channel of a meter is Modbus's, of a sensor MQTT's), and the
     * latest health each device reported (guarded by health_lock), each
     * with its bus looked up once, when the device first reports under a
     * config (health_gen against cfg_gen, counted up at each reload): a
     * /metrics snapshot is then one copy. */
    atomic_uint_fast64_t emitted[2], refused[2];
    uint64_t mqtt_connections_before; /* of the MQTT driver instances closed (reloads) */
    pthread_mutex_t health_lock;
    struct http_snapshot_device *health;
    unsigned *health_gen; /* the cfg_gen each bus was looked up under */
    size_t n_health, cap_health;
    unsigned cfg_gen; /* 1 at start, + 1 at each reload */
};

/* 0 Modbus, 1 MQTT: the driver of a config channel. */
static int channel_driver(const struct foyer_config *cfg, uint32_t ch)
{
    return ch < cfg->n_channels && cfg->channels[ch].sensor >= 0 ? 1 : 0;
}

/* ---- summaries-and-push: begin ------------------------------------------
 * The pusher thread (daemon/push/push.c) owns the summaries and outbox tables;
 * the scheduler (daemon/coach/coach_sched.c) runs in this main thread, computes
 * summaries when a week or month closes and hands them to the pusher. */
static struct pusher *summaries_pusher;
static struct summary_scheduler *summaries_sched;

static void summaries_start(const struct foyer_config *cfg)
{
    int err = 0;
    summaries_pusher = push_start(cfg, &err);
    if (!summaries_pusher) {
        log_err("summaries and push disabled: %s", strerror(-err));
        return;
    }
    summaries_sched = summary_scheduler_new(cfg, summaries_pusher);
}

static void summaries_reload(const struct foyer_config *cfg)
{
    if (summaries_pusher && push_set_config(summaries_pusher, cfg) < 0)
        log_err("push: keeping the running endpoints");
    if (summaries_sched)
        (void)summary_scheduler_set_config(summaries_sched, cfg);
}

/* The alert engine (daemon/alerts/) runs in this main thread too: at start
 * and once per closed hour it judges the recent history through a
 * read-only connection and writes alerts on a connection of its own, in
 * steps of ALERTS_STEP_MS between which signals are answered (a stop or a
 * reload drops the pass under way: alerts_engine_free(),
 * alerts_engine_set_config()). */
static struct alerts_engine *alerts_eng;

static void alerts_start(const struct foyer_config *cfg)
{
    if (!cfg->alerts.enabled) {
        log_info("alerts: disabled ([alerts] enabled = false)");
        return;
    }
    alerts_eng = alerts_engine_new(cfg);
    if (!alerts_eng)
        log_err("alerts disabled until the alert texts load (restart or reload foyerd)");
}

static void alerts_reload(const struct foyer_config *cfg)
{
    if (alerts_eng)
        (void)alerts_engine_set_config(alerts_eng, cfg);
    else
        alerts_start(cfg);
}

static void summaries_stop(void)
{
    struct push_stats ps = {0};
    summary_scheduler_free(summaries_sched);
    push_stop(summaries_pusher, &ps); /* stats after the thread ended: nothing missed */
    summaries_sched = NULL;
    summaries_pusher = NULL;
    log_info("push: %llu summaries delivered, %llu failed attempts retried, %llu given up, "
             "%llu expired, %llu redirects not followed",
             (unsigned long long)ps.delivered, (unsigned long long)ps.failures,
             (unsigned long long)ps.given_up, (unsigned long long)ps.expired,
             (unsigned long long)ps.redirects);
}
/* ---- summaries-and-push: end -------------------------------------------- */

/* ---- uplink: begin ------------------------------------------------------
 * The uplink thread (daemon/uplink/) owns the uplink tables and the
 * connection to the central broker.  It borrows the config: a reload stops
 * it (about a second at most) and starts one on the new config. */
static struct uplink *fleet_uplink;

static void uplink_begin(const struct foyer_config *cfg)
{
    int err = 0;
    fleet_uplink = uplink_start(cfg, &err);
    if (!fleet_uplink && err < 0)
        log_err("uplink disabled: %s", strerror(-err));
}

static void uplink_end(void)
{
    struct uplink_stats st;
    if (!fleet_uplink)
        return;
    uplink_stop(fleet_uplink, &st);
    fleet_uplink = NULL;
    log_info("uplink: %llu items queued, %llu sent, %llu sent again, %llu acked, %llu rejected; "
             "%lld waiting",
             (unsigned long long)st.queued, (unsigned long long)st.sent,
             (unsigned long long)st.resent, (unsigned long long)st.acked,
             (unsigned long long)st.rejected, (long long)st.depth);
}
/* ---- uplink: end -------------------------------------------------------- */

static bool sink_emit(void *ctx, const struct reading *r)
{
    struct daemon *d = ctx;
    int drv = channel_driver(d->cfg, r->channel);
    if (queue_push(d->q, r)) {
        atomic_fetch_add(&d->emitted[drv], 1);
        return true;
    }
    atomic_fetch_add(&d->refused[drv], 1);
    unsigned long suppressed;
    if (log_ratelimit_ok(&d->refused_rl, &suppressed))
        log_warn("reading queue full (%zu readings): the database is not keeping up; "
                 "readings are dropped and counted (%lu more not logged)",
                 (size_t)FOYER_QUEUE_CAPACITY, suppressed);
    return false;
}

static void sink_event(void *ctx, const char *device, int64_t ts_s, const char *kind,
                       const char *detail)
{
    struct daemon *d = ctx;
    struct device_event ev = {.ts_s = ts_s};
    char when[40];
    log_info("%s: %s since %s%s%s", device, kind, tu_format_local(ts_s, when, sizeof(when)),
             detail ? ": " : "", detail ? detail : "");
    snprintf(ev.device, sizeof(ev.device), "%s", device);
    snprintf(ev.kind, sizeof(ev.kind), "%s", kind);
    snprintf(ev.detail, sizeof(ev.detail), "%s", detail ? detail : "");
    writer_post_event(d->writer, &ev);
}

static void sink_health(void *ctx, const struct device_health *h)
{
    struct daemon *d = ctx;
    writer_post_health(d->writer, h);
    pthread_mutex_lock(&d->health_lock);
    size_t i = 0;
    while (i < d->n_health && strcmp(d->health[i].h.device, h->device) != 0)
        i++;
    if (i == d->n_health && d->n_health < FOYER_HTTP_DEVICES_MAX) {
        if (d->n_health == d->cap_health) {
            size_t cap = d->cap_health ? d->cap_health * 2 : 16;
            struct http_snapshot_device *v = realloc(d->health, cap * sizeof(*v));
            if (v)
                d->health = v;
            unsigned *g = v ? realloc(d->health_gen, cap * sizeof(*g)) : NULL;
            if (g) {
                d->health_gen = g;
                d->cap_health = cap;
            }
        }
        if (d->n_health < d->cap_health) {
            d->health_gen[i] = 0;
            d->n_health++;
        }
    }
    if (i < d->n_health) {
        d->health[i].h = *h; /* kind and state are static strings */
        /* The drivers run only under one config at a time: d->cfg is stable here. */
        if (d->health_gen[i] != d->cfg_gen) {
            d->health[i].bus[0] = '\0';
            for (size_t k = 0; k < d->cfg->n_meters; k++)
                if (strcmp(d->cfg->meters[k].id, h->device) == 0) {
                    (void)snprintf(d->health[i].bus, sizeof(d->health[i].bus), "%s",
                                   d->cfg->buses[d->cfg->meters[k].bus].id);
                    break;
                }
            d->health_gen[i] = d->cfg_gen;
        }
    }
    pthread_mutex_unlock(&d->health_lock);
}

/* The HTTP server's snapshot (include/foyer/http.h): any server thread.
 * The device list only when asked (/metrics, not /healthz), one copy. */
static void http_snapshot(void *ctx, struct http_snapshot *ret)
{
    static const int64_t bounds_ms[WRITER_COMMIT_BUCKETS] = WRITER_COMMIT_BOUNDS_MS;
    struct daemon *d = ctx;
    struct writer_stats ws;
    struct queue_stats qs;

    writer_get_stats(d->writer, &ws);
    queue_get_stats(d->q, &qs);
    ret->writer_heartbeat_age_ms = tu_mono_ms() - writer_heartbeat_ms(d->writer);
    ret->writer_alive = ret->writer_heartbeat_age_ms < 5000;
    ret->last_commit_s = ws.last_commit_s;
    ret->last_error_s = ws.last_error_s;
    ret->commit_failing = ws.commit_failing;
    ret->queue_depth = qs.depth;
    ret->queue_capacity = qs.capacity;
    ret->queue_dropped_full = qs.dropped_full;
    ret->emitted_modbus = atomic_load(&d->emitted[0]);
    ret->emitted_mqtt = atomic_load(&d->emitted[1]);
    ret->refused_modbus = atomic_load(&d->refused[0]);
    ret->refused_mqtt = atomic_load(&d->refused[1]);
    ret->stored = ws.ingest.stored;
    ret->duplicates = ws.ingest.duplicates;
    ret->conflicts = ws.ingest.conflicts;
    ret->out_of_range = ws.ingest.out_of_range;
    ret->bad_time = ws.ingest.bad_time;
    ret->late_refused = ws.ingest.late_refused;
    ret->glitches = ws.ingest.glitches;
    ret->spikes = ws.ingest.spikes;
    ret->clock_gaps = ws.ingest.clock_gaps;
    ret->batches = ws.ingest.batches;
    ret->commit_errors = ws.commit_errors;
    ret->events_dropped = ws.events_dropped;
    for (size_t i = 0; i < HTTP_COMMIT_BUCKETS && i < WRITER_COMMIT_BUCKETS; i++) {
        ret->commit_bound_ms[i] = (double)bounds_ms[i];
        ret->commit_buckets[i] = ws.commit_ms[i];
    }
    ret->commit_buckets[HTTP_COMMIT_BUCKETS] = ws.commit_ms[WRITER_COMMIT_BUCKETS];
    ret->commit_sum_ms = (double)ws.commit_ms_sum;
    if (summaries_pusher) {
        struct push_stats ps;
        push_get_stats(summaries_pusher, &ps);
        ret->push_queued = ps.queued;
        ret->push_delivered = ps.delivered;
        ret->push_failures = ps.failures;
        ret->push_given_up = ps.given_up;
        ret->push_expired = ps.expired;
    }
    /* The HTTP server runs only while the drivers do (stopped first). */
    ret->mqtt_connections = d->mqtt_connections_before;
    for (size_t i = 0; driver_table[i]; i++)
        if (driver_table[i] == &drv_mqtt_ops)
            ret->mqtt_connections += drv_mqtt_connections(d->drv[i]);
    if (ret->skip_devices)
        return;
    pthread_mutex_lock(&d->health_lock);
    size_t n = d->n_health;
    ret->devices = n ? malloc(n * sizeof(*ret->devices)) : NULL;
    if (ret->devices) {
        memcpy(ret->devices, d->health, n * sizeof(*ret->devices));
        ret->n_devices = n;
    }
    pthread_mutex_unlock(&d->health_lock);
    /* Started before the server, stopped after it (reload, stop). */
    ret->uplink_enabled = d->cfg->uplink.enabled;
    if (fleet_uplink) {
        struct uplink_stats us;
        uplink_get_stats(fleet_uplink, &us);
        ret->uplink_connected = us.connected;
        ret->uplink_queued = us.queued;
        ret->uplink_sent = us.sent;
        ret->uplink_resent = us.resent;
        ret->uplink_acked = us.acked;
        ret->uplink_rejected = us.rejected;
    }
}

/* Start the HTTP server when the config has [http]; a server that cannot
 * start is logged and foyerd goes on ingesting without it. */
static void http_start(struct daemon *d)
{
    char msg[256];
    int err = 0;
    if (!d->cfg->http.enabled)
        return;
    if (d->cfg->http.tokens_file_pos.line)
        log_warn("%s:%d: http: tokens_file is obsolete and ignored: tokens live in the "
                 "database (foyerctl token create)",
                 d->cfg->http.tokens_file_pos.file, d->cfg->http.tokens_file_pos.line);
    d->http = http_server_start(d->cfg, http_snapshot, d, &err, msg, sizeof(msg));
    if (!d->http)
        log_err("http: not serving: %s", msg);
    else
        log_info("http: listening on %s port %d%s", d->cfg->http.listen, http_server_port(d->http),
                 d->cfg->http.tls_cert ? " (TLS)" : "");
}

/* After http_server_stop() no request runs (it joins libmicrohttpd's
 * threads): the only moment the pages' texts may be dropped, so that a
 * reload or the next start reads the language files again. */
static void http_stop(struct daemon *d)
{
    http_server_stop(d->http);
    d->http = NULL;
    http_pages_reset();
}

static int start_drivers(struct daemon *d)
{
    struct driver_env env = {.cfg = d->cfg,
                             .emit = sink_emit,
                             .event = sink_event,
                             .health = sink_health,
                             .sink_ctx = d};
    for (size_t i = 0; driver_table[i]; i++) {
        int err = 0;
        d->drv[i] = driver_table[i]->open(&env, &err);
        if (!d->drv[i]) {
            log_err("driver %s: cannot start: %s", driver_table[i]->name, strerror(-err));
            return err;
        }
        err = driver_table[i]->start(d->drv[i]);
        if (err < 0) {
            log_err("driver %s: cannot start: %s", driver_table[i]->name, strerror(-err));
            return err;
        }
    }
    return 0;
}

static void stop_drivers(struct daemon *d)
{
    for (size_t i = 0; driver_table[i]; i++) {
        if (driver_table[i] == &drv_mqtt_ops)
            d->mqtt_connections_before += drv_mqtt_connections(d->drv[i]);
        driver_table[i]->close(d->drv[i]);
        d->drv[i] = NULL;
    }
}

static void print_errors(const struct conf_errors *errs, FILE *out)
{
    for (size_t i = 0; i < errs->n; i++)
        fprintf(out, "%s\n", errs->msgs[i]);
}

/* Channels of cfg that would re-label history the database holds: printed
 * to out (or logged when out is NULL) as FILE:LINE: message.  Returns their
 * number.  A database that does not exist yet or is still to be migrated
 * has none; one that cannot be opened counts as one problem for
 * --check-config (foyerd would refuse it too). */
static int check_channels_against_db(const struct foyer_config *cfg, FILE *out)
{
    struct store *ro;
    const char *msg;
    if (access(cfg->database, F_OK) < 0)
        return 0;
    int rc = store_open_readonly(cfg->database, cfg, &ro, &msg);
    if (rc == -ESTALE)
        return 0; /* foyerd migrates it at start; nothing to compare yet */
    if (rc < 0) {
        /* foyerd would refuse to start on it: say so now, with the cause.
         * A running foyerd (reload) leaves the verdict to the writer. */
        if (!out) {
            log_err("%s: cannot compare the channels with the database: %s", cfg->database,
                    msg ? msg : "cannot open");
            return 0;
        }
        fprintf(out, "%s: cannot open the database: %s\n", cfg->database,
                msg ? msg : "cannot open");
        return 1;
    }
    struct conf_errors errs = {0};
    int n = store_check_channels(ro, cfg, &errs);
    for (size_t i = 0; i < errs.n; i++) {
        if (out)
            fprintf(out, "%s\n", errs.msgs[i]);
        else
            log_err("%s", errs.msgs[i]);
    }
    conf_errors_free(&errs);
    store_close(ro);
    return n > 0 ? n : 0;
}

static void log_channel_problems(const struct foyer_config *cfg)
{
    (void)check_channels_against_db(cfg, NULL);
}

static int check_config(const char *path, bool verbose)
{
    struct conf_errors errs = {0};
    struct foyer_config *cfg = config_load(path, &errs);
    if (!cfg) {
        print_errors(&errs, stderr);
        conf_errors_free(&errs);
        return 1;
    }
    int problems = check_channels_against_db(cfg, stderr);
    /* The tip catalogues and words beside the config (every language, not
     * only summary_language): a typo in a figure name is found now. */
    char dir[1024];
    struct conf_errors lerrs = {0};
    summary_lang_dir(cfg, dir, sizeof(dir));
    problems += summary_lang_check(dir, &lerrs);
    print_errors(&lerrs, stderr);
    conf_errors_free(&lerrs);
    /* The pages' texts, both languages, when [http] serves the pages. */
    if (cfg->http.enabled) {
        struct conf_errors terrs = {0};
        int n = http_pages_check_texts(cfg, &terrs);
        print_errors(&terrs, stderr);
        conf_errors_free(&terrs);
        problems += n < 0 ? 1 : n;
    }
    if (cfg->alerts.present && cfg->alerts.enabled) {
        /* An [alerts] section: its texts must load as foyerd will load them. */
        struct conf_errors aerrs = {0};
        int n = alerts_lang_check(cfg, &aerrs);
        print_errors(&aerrs, stderr);
        conf_errors_free(&aerrs);
        problems += n > 0 ? n : n < 0 ? 1 : 0;
    }
    if (problems > 0) {
        fprintf(stderr, "%d %s in %s\n", problems, problems == 1 ? "error" : "errors", path);
        config_free(cfg);
        return 1;
    }
    char summary[256];
    if (verbose)
        config_dump(cfg, stdout);
    config_summary(cfg, summary, sizeof(summary));
    printf("%s: OK: %s\n", path, summary);
    config_free(cfg);
    return 0;
}

/* SIGHUP: load the config again; swap only when it is valid. */
static void reload(struct daemon *d, const char *path)
{
    struct conf_errors errs = {0};
    struct foyer_config *ncfg = config_load(path, &errs);

    sd_notify(0, "RELOADING=1\nSTATUS=Reloading configuration");
    if (!ncfg) {
        for (size_t i = 0; i < errs.n; i++)
            log_err("%s", errs.msgs[i]);
        log_err("reload refused: %zu errors in %s; keeping the running configuration", errs.n,
                path);
        conf_errors_free(&errs);
        goto out;
    }
    if (strcmp(ncfg->timezone, d->cfg->timezone) != 0 ||
        strcmp(ncfg->database, d->cfg->database) != 0) {
        log_err("reload refused: timezone or database changed; restart foyerd to apply");
        config_free(ncfg);
        goto out;
    }
    int problems = check_channels_against_db(ncfg, NULL);
    if (problems > 0) {
        log_err("reload refused: %d %s would re-label stored history; keeping the running "
                "configuration",
                problems, problems == 1 ? "channel" : "channels");
        config_free(ncfg);
        goto out;
    }
    /* The server borrows the config and reads the drivers' counters:
     * stopped before either goes, started again on the config that runs (a
     * changed port or TLS file too). */
    http_stop(d);
    stop_drivers(d);
    int rc = writer_set_config(d->writer, ncfg);
    if (rc < 0) {
        log_err("reload failed: %s; keeping the running configuration",
                rc == -ETIMEDOUT ? "the queue did not drain (the database refuses writes)"
                                 : strerror(-rc));
        config_free(ncfg);
    } else {
        uplink_end(); /* it borrows the old config */
        config_free(d->cfg);
        d->cfg = ncfg;
        d->cfg_gen++;
        uplink_begin(d->cfg);
        summaries_reload(d->cfg); /* summaries-and-push */
        alerts_reload(d->cfg);
        log_set_level_name(d->cfg->log_level);
        char summary[256];
        config_summary(d->cfg, summary, sizeof(summary));
        log_info("configuration reloaded: %s", summary);
    }
    if (start_drivers(d) < 0)
        log_err("some drivers did not restart after reload; see above");
    http_start(d);
out:
    sd_notify(0, "READY=1\nSTATUS=Running");
}

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: foyerd [OPTIONS]\n"
            "Energy-monitoring daemon: polls meters and sensors, stores per-dwelling\n"
            "consumption in SQLite.\n\n"
            "  -c, --config FILE   configuration file (default %s)\n"
            "  -t, --check-config  check the configuration and exit (0 valid, 1 not)\n"
            "  -v, --verbose       with --check-config: print the normalised config\n"
            "  -V, --version       print the version and exit\n"
            "  -h, --help          this help\n\n"
            "Signals: SIGTERM commits queued readings and exits; SIGHUP reloads the config.\n",
            DEFAULT_CONFIG);
}

static void log_final(struct writer_stats *ws, struct queue_stats *qs)
{
    log_info("stopped: %llu readings committed in %llu batches, %llu duplicates, %llu refused "
             "by the full queue, %llu not committed (kept in the queue file)",
             (unsigned long long)ws->ingest.stored, (unsigned long long)ws->ingest.batches,
             (unsigned long long)ws->ingest.duplicates, (unsigned long long)qs->dropped_full,
             (unsigned long long)ws->lost_at_exit);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"check-config", no_argument, NULL, 't'},
        {"verbose", no_argument, NULL, 'v'},      {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    const char *path = DEFAULT_CONFIG;
    bool check = false, verbose = false;
    int c;

    log_init("foyerd");
    /* A peer closing a socket must never kill foyerd: writes get EPIPE. */
    signal(SIGPIPE, SIG_IGN);
    while ((c = getopt_long(argc, argv, "c:tvVh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            path = optarg;
            break;
        case 't':
            check = true;
            break;
        case 'v':
            verbose = true;
            break;
        case 'V':
            printf("foyerd %s\n", FOYER_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "foyerd: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (check)
        return check_config(path, verbose);

    struct daemon d = {.refused_rl = LOG_RATELIMIT_INIT(3, 60)};
    pthread_mutex_init(&d.health_lock, NULL);
    struct conf_errors errs = {0};
    d.cfg = config_load(path, &errs);
    d.cfg_gen = 1;
    if (!d.cfg) {
        for (size_t i = 0; i < errs.n; i++)
            log_err("%s", errs.msgs[i]);
        log_err("not starting: %zu errors in %s", errs.n, path);
        conf_errors_free(&errs);
        return 1;
    }
    log_set_level_name(d.cfg->log_level);
    if (tu_set_zone(d.cfg->timezone) < 0) {
        log_err("%s: time zone \"%s\" is unknown or not whole-hour", path, d.cfg->timezone);
        config_free(d.cfg);
        return 1;
    }

    /* Block the signals we wait for before any thread starts, so every
     * thread inherits the mask and only sigtimedwait() below sees them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    /* One foyerd per database: the queue file beside it is locked for the
     * life of the process (the lock goes with it, even on SIGKILL). */
    char qpath[4096];
    long holder = 0;
    const char *msg;
    snprintf(qpath, sizeof(qpath), "%s.queue", d.cfg->database);
    /* Said of the database before the queue file beside it fails the same
     * way with a bare "Permission denied". */
    int rc = store_check_access(d.cfg->database, &msg);
    if (rc < 0) {
        log_err("%s: cannot open the database: %s", d.cfg->database, msg);
        config_free(d.cfg);
        return 1;
    }
    rc = queue_open(qpath, FOYER_QUEUE_CAPACITY, &d.q, &holder);
    if (rc == -EBUSY) {
        log_err("%s: the database is in use by another foyerd (PID %ld, holding %s); stop it "
                "first",
                d.cfg->database, holder, qpath);
        config_free(d.cfg);
        return 1;
    }
    if (rc < 0) {
        log_err("%s: cannot open the reading queue: %s%s", qpath, strerror(-rc),
                rc == -EACCES    ? " (give the file to the user foyerd runs as, or move it aside)"
                : rc == -EBADMSG ? " (not a regular file: move it aside)"
                                 : "");
        config_free(d.cfg);
        return 1;
    }

    struct store *store;
    uint64_t committed = 0, db_id = 0;
    rc = store_open(d.cfg->database, d.cfg, &store, &msg);
    if (rc < 0) {
        log_err("%s: cannot open the database: %s", d.cfg->database, msg ? msg : strerror(-rc));
        log_channel_problems(d.cfg);
        queue_free(d.q);
        config_free(d.cfg);
        return 1;
    }
    rc = store_queue_state(store, &committed, &db_id);
    if (rc == 0)
        rc = queue_recover(d.q, committed, db_id);
    if (rc < 0) {
        log_err("%s: cannot use the reading queue: %s%s", qpath, strerror(-rc),
                rc == -EBADMSG ? " (not a foyer queue file: move it aside)" : "");
        store_close(store);
        queue_free(d.q);
        config_free(d.cfg);
        return 1;
    }
    d.writer = writer_start(store, d.q, d.cfg);
    if (!d.writer) {
        log_err("cannot start the writer: out of memory");
        store_close(store);
        queue_free(d.q);
        config_free(d.cfg);
        return 1;
    }
    struct queue_stats qs0;
    queue_get_stats(d.q, &qs0);
    if (qs0.discarded > 0)
        log_warn("queue: %s was used with another database; its %llu uncommitted readings are "
                 "not for this one and were discarded",
                 qpath, (unsigned long long)qs0.discarded);
    if (qs0.replayed > 0)
        log_warn("queue: %llu readings handed over before the last stop were not committed; "
                 "committing them now (%llu of channels no longer configured, %llu unreadable)",
                 (unsigned long long)qs0.replayed, (unsigned long long)qs0.replay_unknown,
                 (unsigned long long)qs0.replay_damaged);
    int exit_code = 0;
    if (start_drivers(&d) < 0)
        exit_code = 1;
    summaries_start(d.cfg); /* summaries-and-push */
    uplink_begin(d.cfg);    /* before the server, whose snapshot reads it */
    http_start(&d);
    alerts_start(d.cfg);

    char summary[256];
    config_summary(d.cfg, summary, sizeof(summary));
    if (exit_code == 0) {
        log_info("foyerd %s started: %s; database %s", FOYER_VERSION, summary, d.cfg->database);
        sd_notifyf(0, "READY=1\nSTATUS=Running: %s\nMAINPID=%lu", summary, (unsigned long)getpid());
    }

    uint64_t watchdog_usec = 0;
    bool watchdog = sd_watchdog_enabled(0, &watchdog_usec) > 0;
    int64_t tick_ms = watchdog ? (int64_t)(watchdog_usec / 2000) : 1000;
    if (tick_ms > 1000 || tick_ms <= 0)
        tick_ms = 1000;

    /* While an alerts pass is under way the loop comes back after a
     * step's pause, not a whole tick (alerts.h: ALERTS_STEP_PAUSE_MS). */
    bool alerts_busy = false;
    while (exit_code == 0) {
        int64_t wait_ms =
            alerts_busy && ALERTS_STEP_PAUSE_MS < tick_ms ? ALERTS_STEP_PAUSE_MS : tick_ms;
        struct timespec to = {(time_t)(wait_ms / 1000), (long)(wait_ms % 1000) * 1000000L};
        int sig = sigtimedwait(&set, NULL, &to);
        /* Ping only while the writer turns: a writer stuck in I/O for a
         * whole watchdog period gets foyerd restarted by systemd. */
        if (watchdog &&
            tu_mono_ms() - writer_heartbeat_ms(d.writer) < (int64_t)(watchdog_usec / 1000))
            sd_notify(0, "WATCHDOG=1");
        if (sig == SIGTERM || sig == SIGINT) {
            log_info("received %s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
            break;
        }
        if (sig == SIGHUP)
            reload(&d, path);
        summary_scheduler_tick(summaries_sched, tu_now_s()); /* summaries-and-push */
        alerts_busy = alerts_engine_tick(alerts_eng, tu_now_s());
    }

    sd_notify(0, "STOPPING=1\nSTATUS=Committing queued readings");
    http_stop(&d);
    stop_drivers(&d);
    summaries_stop(); /* summaries-and-push */
    alerts_engine_free(alerts_eng);
    alerts_eng = NULL;
    uplink_end();
    struct writer_stats ws;
    struct queue_stats qs;
    writer_stop(d.writer, &ws); /* drains the queue and commits */
    queue_get_stats(d.q, &qs);
    log_final(&ws, &qs);
    queue_free(d.q);
    config_free(d.cfg);
    free(d.health);
    free(d.health_gen);
    pthread_mutex_destroy(&d.health_lock);
    return exit_code;
}
