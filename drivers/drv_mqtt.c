/*
 * drv_mqtt.c - the MQTT driver: subscribes to the [sensor] topics on the [mqtt]
 * broker with libmosquitto and hands the decoded values to the sink.
 *
 * DESIGN
 *   Threads.  The network thread ("foyer-mqtt-net", mosquitto_loop()) runs
 *   the callbacks: on_message looks the topic up, decodes the payload
 *   (drivers/drv_mqtt_decode.c) and emits the readings (a non-blocking queue
 *   push).  It does no other I/O: what it has to say (a refused payload, a
 *   connection change) goes into a small ring of log lines, and state
 *   changes into atomics.  A supervisor thread ("foyer-mqtt") wakes every
 *   250 ms: it writes the ring to the log, sends events and health to the
 *   sinks, marks silent devices stale, and owns the connection's life.
 *
 *   Connection.  Every connect is made by the supervisor, with the CONNECT
 *   properties (session expiry), retried with backoff (1, 2, 4 ... 30 s)
 *   until it succeeds; then it starts the network thread, and on_connect
 *   subscribes (again).  When the connection drops, the network thread ends
 *   and the supervisor connects again: libmosquitto's own reconnect would
 *   not resend the session expiry, and its loop ends for good on some errors
 *   (a refused MQTT 5 CONNECT, TLS).  A broker that refuses MQTT 5 as an
 *   unknown protocol gets MQTT 3.1.1 from then on.
 *
 *   Nothing blocks a stop or a reload, whatever the broker does (a full
 *   accept queue, a listener that never answers): the connect is
 *   non-blocking (mosquitto_connect_bind_async; the TCP and TLS handshakes
 *   go on in the network loop), the CONNACK has MQ_CONNACK_TIMEOUT_MS, and
 *   the network thread is ours ("foyer-mqtt-net": mosquitto_loop() in a
 *   loop, at most MQ_NET_WAIT_MS per call, never reconnecting by itself),
 *   so it ends within MQ_STOP_GRACE_MS of being told.  libmosquitto's own
 *   thread (mosquitto_loop_start) would reconnect with a blocking connect()
 *   that mosquitto_loop_stop() then waits for, two minutes against a
 *   broker whose accept queue is full.  Only a host name to resolve still
 *   waits for the resolver (getaddrinfo); give an address to avoid it.
 *
 *   Session.  Clean start off, a stable client id and (MQTT 5) a session
 *   expiry interval, with QoS 1 subscriptions: the broker keeps the messages
 *   published while foyerd restarts and delivers them when it comes back.
 *   A redelivered message has its payload timestamp, so it lands on the same
 *   (channel, ts) and changes nothing.
 *
 *   Lookup.  Topics without wildcards are found by binary search in a sorted
 *   table; topics with wildcards are tried in turn (a building has a few).
 *   For a wildcard sensor, the level its first "+" (or "#") matches names
 *   the device; devices are listed in the config (device.NAME keys) and
 *   found by binary search.  A message of an unlisted device is counted on
 *   the sensor section and logged at a limited rate.
 *
 *   Units.  Staleness and health are kept per unit: a non-wildcard sensor,
 *   a wildcard sensor's device, and the wildcard section itself (which
 *   counts every message and refusal of its devices, plus the unlisted
 *   ones, and goes stale when the whole topic is silent).  A unit silent
 *   for interval x stale_after is stale (event "stale"), and fresh again on
 *   its next valid message (event "fresh").  Health goes to the sink on
 *   each change and every 2 s while messages arrive.
 */
#include "foyer/drv_mqtt.h"
#include "foyer/limits.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>
#include <mqtt_protocol.h>

#include "foyer/log.h"
#include "foyer/timeutil.h"

#define MQ_TICK_MS         250
#define MQ_HEALTH_EVERY_MS 2000
#define MQ_BACKOFF_MAX_S   30
#define MQ_LOG_RING        64   /* lines waiting for the supervisor */
#define MQ_LOG_LINE        320  /* a topic, a reason and a field fit */
#define MQ_RECEIVE_MAXIMUM 1000 /* QoS 1 messages in flight to us (MQTT 5) */
/* A connect whose CONNACK has not come by then has failed: with a TLS
 * handshake finished in the network thread, libmosquitto's loop ends on
 * the error without any callback. */
#define MQ_CONNACK_TIMEOUT_MS 5000
/* Longest wait of one mosquitto_loop() call: the network thread looks at
 * its stop flag at least this often. */
#define MQ_NET_WAIT_MS 200
/* On stop, time left to the network thread to send DISCONNECT (a broker
 * that reads it ends the session's connection at once, not at keepalive). */
#define MQ_STOP_GRACE_MS 500
/* The supervisor's code for "no CONNACK in time", beside MOSQ_ERR_*, so that
 * a broker that never answers is logged once, not at every attempt. */
#define MQ_ERR_NO_CONNACK (-1000)

enum mq_state { MQ_UNSEEN, MQ_FRESH, MQ_STALE };

/* A device whose staleness and health we track. */
struct mq_unit {
    const char *name; /* borrowed from the config (sensor ID or channel ID prefix) */
    char name_buf[FOYER_ID_MAX + 1];
    uint32_t first_channel;  /* its channels; UINT32_MAX for a wildcard section */
    int64_t stale_ms;        /* interval x stale_after */
    _Atomic int64_t last_ms; /* monotonic ms of the last valid message, 0 never */
    _Atomic int64_t last_s;  /* UTC s of the last valid message, 0 never */
    atomic_int state;        /* enum mq_state; MQ_STALE -> MQ_FRESH by the callback */
    atomic_bool fresh_due;   /* the callback freshened a stale unit: event due */
    atomic_bool dirty;       /* counters moved since the last health report */
    _Atomic uint64_t messages;
    _Atomic uint64_t bad;
    int64_t since_s; /* supervisor only: state entered at */
};

struct mq_dev {
    const char *name; /* = unit name */
    uint32_t unit;
};

struct mq_sensor {
    const struct sensor *s;
    bool wild;
    uint32_t unit;       /* its own unit (the section for a wildcard sensor) */
    struct mq_dev *devs; /* wildcard: sorted by name */
    size_t n_devs;
    struct log_ratelimit rl;
};

struct mq_topic {
    const char *topic;
    uint32_t sensor;
};

struct mq_logline {
    enum log_level lvl;
    char text[MQ_LOG_LINE];
};

struct drv_mqtt {
    struct driver_env env;
    const struct foyer_config *cfg;
    struct mosquitto *mosq;
    struct mq_sensor *sensors;
    size_t n_sensors;
    struct mq_unit *units;
    size_t n_units;
    struct mq_topic *exact; /* sorted by topic */
    size_t n_exact;
    uint32_t *wild; /* sensor indexes with wildcard topics */
    size_t n_wild;
    char **subs; /* distinct topic filters */
    size_t n_subs;
    char client_id[FOYER_MQTT_CLIENT_ID_MAX];
    char password[FOYER_MQTT_PASSWORD_MAX];
    int protocol; /* MQTT_PROTOCOL_V5 or MQTT_PROTOCOL_V311 */
    mosquitto_property *connect_props;
    bool lib_init; /* mosquitto_lib_init() called */

    pthread_t sup;
    bool sup_started;
    pthread_t net;        /* the network thread, running mosquitto_loop() */
    bool loop_running;    /* supervisor only: net started and not joined */
    atomic_bool net_stop; /* the network thread is to end */
    atomic_int net_rc;    /* why the network loop ended (MOSQ_ERR_*) */
    atomic_int net_errno; /* errno when net_rc is MOSQ_ERR_ERRNO */
    pthread_mutex_t lock; /* the log ring and the stop condition */
    pthread_cond_t wake;
    bool stop;
    struct mq_logline ring[MQ_LOG_RING];
    size_t ring_head, ring_n;
    unsigned long ring_lost;

    atomic_bool connected;
    atomic_bool connack_seen;    /* on_connect called since the last connect */
    struct log_ratelimit lib_rl; /* libmosquitto's own error lines */
    atomic_bool need_restart;    /* the network loop has ended: connect again */
    atomic_bool fallback_311;    /* the broker refused MQTT 5 */
    _Atomic uint64_t unmatched;
    _Atomic uint64_t refused_queue;
    _Atomic uint64_t connections; /* CONNACKs accepted: the first connection and each
                                     reconnect (drv_mqtt_connections(), /metrics) */
    int64_t start_ms;
};

/* ---------------------------------------------------------------------- */
/* Log ring: filled by the network thread, written out by the supervisor.  */

static void ring_put(struct drv_mqtt *drv, enum log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void ring_put(struct drv_mqtt *drv, enum log_level lvl, const char *fmt, ...)
{
    va_list ap;
    pthread_mutex_lock(&drv->lock);
    if (drv->ring_n == MQ_LOG_RING) {
        drv->ring_lost++;
    } else {
        struct mq_logline *l = &drv->ring[(drv->ring_head + drv->ring_n++) % MQ_LOG_RING];
        l->lvl = lvl;
        va_start(ap, fmt);
        (void)vsnprintf(l->text, sizeof(l->text), fmt, ap);
        va_end(ap);
    }
    pthread_mutex_unlock(&drv->lock);
}

/* Called with drv->lock held; unlocks around each write. */
static void ring_flush_locked(struct drv_mqtt *drv)
{
    while (drv->ring_n) {
        struct mq_logline l = drv->ring[drv->ring_head];
        drv->ring_head = (drv->ring_head + 1) % MQ_LOG_RING;
        drv->ring_n--;
        pthread_mutex_unlock(&drv->lock);
        log_msg(l.lvl, "%s", l.text);
        pthread_mutex_lock(&drv->lock);
    }
    if (drv->ring_lost) {
        unsigned long lost = drv->ring_lost;
        drv->ring_lost = 0;
        pthread_mutex_unlock(&drv->lock);
        log_warn("mqtt: %lu log lines dropped (log ring full)", lost);
        pthread_mutex_lock(&drv->lock);
    }
}

/* ---------------------------------------------------------------------- */
/* Lookup                                                                  */

static int cmp_topic(const void *a, const void *b)
{
    return strcmp(((const struct mq_topic *)a)->topic, ((const struct mq_topic *)b)->topic);
}

static int cmp_dev(const void *a, const void *b)
{
    return strcmp(((const struct mq_dev *)a)->name, ((const struct mq_dev *)b)->name);
}

/* The sensor a topic belongs to, or -1. */
static int32_t find_sensor(const struct drv_mqtt *drv, const char *topic)
{
    struct mq_topic key = {.topic = topic};
    const struct mq_topic *t;

    if (drv->n_exact) {
        t = bsearch(&key, drv->exact, drv->n_exact, sizeof(*drv->exact), cmp_topic);
        if (t)
            return (int32_t)t->sensor;
    }
    for (size_t i = 0; i < drv->n_wild; i++) {
        bool match = false;
        if (mosquitto_topic_matches_sub(drv->sensors[drv->wild[i]].s->topic, topic, &match) ==
                MOSQ_ERR_SUCCESS &&
            match)
            return (int32_t)drv->wild[i];
    }
    return -1;
}

/* ---------------------------------------------------------------------- */
/* The network thread's callbacks                                          */

static void unit_bad(struct mq_unit *u)
{
    atomic_fetch_add(&u->bad, 1);
    atomic_store(&u->dirty, true);
}

static void unit_fresh(struct mq_unit *u, int64_t now_ms, int64_t now_s)
{
    int prev;
    atomic_store(&u->last_ms, now_ms);
    atomic_store(&u->last_s, now_s);
    prev = atomic_exchange(&u->state, MQ_FRESH);
    if (prev != MQ_FRESH)
        atomic_store(&u->fresh_due, true);
}

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg,
                       const mosquitto_property *props)
{
    struct drv_mqtt *drv = obj;
    struct reading out[64];
    struct mq_sensor *ms;
    struct mq_unit *section, *u;
    int64_t now_ms = tu_mono_ms(), now_s = tu_now_s();
    uint32_t first_channel;
    int32_t si;
    size_t n = 0;
    const char *field = "";
    unsigned long supp;
    int rc;

    (void)mosq;
    (void)props;
    si = find_sensor(drv, msg->topic);
    if (si < 0) {
        atomic_fetch_add(&drv->unmatched, 1);
        return;
    }
    ms = &drv->sensors[si];
    section = &drv->units[ms->unit];
    u = section;
    first_channel = ms->s->first_channel;
    atomic_fetch_add(&section->messages, 1);
    atomic_store(&section->dirty, true);
    if (ms->wild) {
        char name[FOYER_ID_MAX + 1];
        struct mq_dev key = {.name = name}, *d = NULL;
        if (drv_mqtt_decode_device_name(ms->s->topic, msg->topic, name, sizeof(name)))
            d = bsearch(&key, ms->devs, ms->n_devs, sizeof(*ms->devs), cmp_dev);
        if (!d) {
            unit_bad(section);
            if (log_ratelimit_ok(&ms->rl, &supp))
                ring_put(drv, LOG_LVL_WARNING,
                         "sensor %s: topic %s: device not listed (add device.NAME to the "
                         "section); message dropped (%lu more not logged)",
                         ms->s->id, msg->topic, supp);
            return;
        }
        u = &drv->units[d->unit];
        first_channel = u->first_channel;
        atomic_fetch_add(&u->messages, 1);
        atomic_store(&u->dirty, true);
    }
    if (msg->payloadlen < 0 || msg->payloadlen > DRV_MQTT_PAYLOAD_MAX) {
        rc = DRV_MQTT_E_SIZE;
    } else if (ms->s->n_fields > sizeof(out) / sizeof(out[0])) {
        rc = -E2BIG; /* cannot happen with the config's limits; refuse, do not overflow */
    } else {
        rc = drv_mqtt_decode_message(drv->cfg, ms->s, first_channel, msg->payload,
                                     (size_t)msg->payloadlen, now_s, out, &n, &field);
    }
    for (size_t i = 0; i < n; i++)
        if (!drv->env.emit(drv->env.sink_ctx, &out[i]))
            atomic_fetch_add(&drv->refused_queue, 1);
    if (n > 0) {
        unit_fresh(u, now_ms, now_s);
        if (u != section)
            unit_fresh(section, now_ms, now_s);
    }
    if (rc < 0) {
        unit_bad(u);
        if (u != section)
            unit_bad(section);
        if (log_ratelimit_ok(&ms->rl, &supp))
            ring_put(drv, LOG_LVL_WARNING,
                     "sensor %s: topic %s: %s%s%s (%d bytes); %s (%lu more not logged)", ms->s->id,
                     msg->topic, field[0] ? field : "", field[0] ? ": " : "",
                     rc == -E2BIG ? "too many fields" : drv_mqtt_decode_strerror(rc),
                     msg->payloadlen, n ? "other fields kept" : "message dropped", supp);
    }
}

static void subscribe_all(struct drv_mqtt *drv)
{
    int rc = mosquitto_subscribe_multiple(drv->mosq, NULL, (int)drv->n_subs, drv->subs,
                                          drv->cfg->mqtt.qos, 0, NULL);
    if (rc != MOSQ_ERR_SUCCESS)
        ring_put(drv, LOG_LVL_ERR, "mqtt: cannot subscribe to %zu topics: %s", drv->n_subs,
                 mosquitto_strerror(rc));
}

/* libmosquitto's error lines say why a TLS handshake failed
 * ("certificate verify failed"): pass them on, at a limited rate. */
static void on_log(struct mosquitto *mosq, void *obj, int level, const char *str)
{
    struct drv_mqtt *drv = obj;
    unsigned long supp;
    (void)mosq;
    if (level == MOSQ_LOG_ERR && log_ratelimit_ok(&drv->lib_rl, &supp))
        ring_put(drv, LOG_LVL_WARNING, "mqtt: libmosquitto: %s (%lu more not logged)", str, supp);
}

static void on_subscribe(struct mosquitto *mosq, void *obj, int mid, int n, const int *granted,
                         const mosquitto_property *props)
{
    struct drv_mqtt *drv = obj;
    int refused = 0;
    (void)mosq;
    (void)mid;
    (void)props;
    for (int i = 0; i < n; i++)
        refused += granted[i] > 2;
    if (refused)
        ring_put(drv, LOG_LVL_ERR, "mqtt: the broker refused %d of %d subscriptions", refused, n);
    else
        ring_put(drv, LOG_LVL_INFO, "mqtt: subscribed to %d topics", n);
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc, int flags,
                       const mosquitto_property *props)
{
    struct drv_mqtt *drv = obj;
    const struct mqtt_conf *m = &drv->cfg->mqtt;

    (void)mosq;
    (void)props;
    atomic_store(&drv->connack_seen, true);
    if (rc == 0) {
        atomic_store(&drv->connected, true);
        atomic_fetch_add(&drv->connections, 1);
        ring_put(drv, LOG_LVL_INFO, "mqtt: connected to %s:%d as %s (MQTT %s, session %s)", m->host,
                 m->port, drv->client_id, drv->protocol == MQTT_PROTOCOL_V5 ? "5" : "3.1.1",
                 (flags & 1) ? "resumed" : "new");
        subscribe_all(drv);
        return;
    }
    if (drv->protocol == MQTT_PROTOCOL_V5 &&
        (rc == MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION || rc == CONNACK_REFUSED_PROTOCOL_VERSION)) {
        atomic_store(&drv->fallback_311, true);
        ring_put(drv, LOG_LVL_WARNING, "mqtt: %s:%d refuses MQTT 5; falling back to MQTT 3.1.1",
                 m->host, m->port);
    } else {
        ring_put(drv, LOG_LVL_ERR, "mqtt: %s:%d refused the connection: %s; retrying with backoff",
                 m->host, m->port,
                 drv->protocol == MQTT_PROTOCOL_V5 ? mosquitto_reason_string(rc)
                                                   : mosquitto_connack_string(rc));
    }
    /* MQTT 5 refusals end libmosquitto's loop (it returns a protocol error);
     * the supervisor connects again, with backoff. */
    atomic_store(&drv->need_restart, true);
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc,
                          const mosquitto_property *props)
{
    struct drv_mqtt *drv = obj;
    (void)mosq;
    (void)props;
    if (atomic_exchange(&drv->connected, false))
        ring_put(drv, rc == 0 ? LOG_LVL_INFO : LOG_LVL_WARNING,
                 "mqtt: disconnected from %s:%d%s%s%s", drv->cfg->mqtt.host, drv->cfg->mqtt.port,
                 rc ? ": " : "", rc ? mosquitto_strerror(rc) : "",
                 rc ? "; reconnecting with backoff up to 30 s" : "");
    /* Reconnect through the supervisor rather than libmosquitto's own
     * loop: libmosquitto sends CONNECT properties (our session expiry) only
     * on the connect call that carries them, so its reconnects would open
     * sessions that end with the connection.  Some errors (TLS, protocol)
     * also end its loop for good. */
    if (rc != 0)
        atomic_store(&drv->need_restart, true);
}

/* ---------------------------------------------------------------------- */
/* Supervisor: connection, staleness, health, log                          */

static void report_health(struct drv_mqtt *drv, struct mq_unit *u)
{
    struct device_health h = {.kind = "sensor"};
    int st = atomic_load(&u->state);

    atomic_store(&u->dirty, false);
    (void)snprintf(h.device, sizeof(h.device), "%s", u->name);
    h.state = st == MQ_STALE ? "stale" : "fresh";
    h.since_s = u->since_s;
    h.last_success_s = atomic_load(&u->last_s);
    h.polls = atomic_load(&u->messages);
    h.bad_values = atomic_load(&u->bad);
    drv->env.health(drv->env.sink_ctx, &h);
}

static void check_units(struct drv_mqtt *drv, bool health_due)
{
    int64_t now_ms = tu_mono_ms(), now_s = tu_now_s();

    for (size_t i = 0; i < drv->n_units; i++) {
        struct mq_unit *u = &drv->units[i];
        int64_t last = atomic_load(&u->last_ms);
        char detail[160];
        bool report = health_due && atomic_load(&u->dirty);

        if (atomic_exchange(&u->fresh_due, false)) {
            bool was_stale = u->since_s != 0;
            u->since_s = atomic_load(&u->last_s);
            if (was_stale) {
                drv->env.event(drv->env.sink_ctx, u->name, u->since_s, "fresh", "messages again");
            }
            report = true;
        }
        if (atomic_load(&u->state) != MQ_STALE &&
            now_ms - (last ? last : drv->start_ms) > u->stale_ms) {
            int expected = atomic_load(&u->state);
            /* A message may freshen it meanwhile: only a CAS makes it stale. */
            if (atomic_compare_exchange_strong(&u->state, &expected, MQ_STALE)) {
                u->since_s = now_s;
                (void)snprintf(detail, sizeof(detail),
                               "no valid message for %lld s (expected every %lld s)",
                               (long long)((now_ms - (last ? last : drv->start_ms)) / 1000),
                               (long long)(u->stale_ms / 1000));
                drv->env.event(drv->env.sink_ctx, u->name, now_s, "stale", detail);
                report = true;
            }
        }
        if (report && atomic_load(&u->state) != MQ_UNSEEN)
            report_health(drv, u);
    }
}

/* The network thread: libmosquitto's loop, until it fails or we stop it.
 * It never reconnects: the supervisor does, without blocking. */
static void *net_main(void *arg)
{
    struct drv_mqtt *drv = arg;
    int64_t give_up_ms = 0;
    int rc;

    pthread_setname_np(pthread_self(), "foyer-mqtt-net");
    for (;;) {
        rc = mosquitto_loop(drv->mosq, MQ_NET_WAIT_MS, 1);
        if (rc != MOSQ_ERR_SUCCESS) {
            atomic_store(&drv->net_errno, errno);
            break;
        }
        if (atomic_load(&drv->net_stop)) {
            /* Connected: turn a few more times so DISCONNECT goes out, not
             * longer.  Still connecting: nothing to say. */
            int64_t now = tu_mono_ms();
            if (!atomic_load(&drv->connected))
                break;
            if (!give_up_ms)
                give_up_ms = now + MQ_STOP_GRACE_MS;
            else if (now >= give_up_ms)
                break;
        }
    }
    atomic_store(&drv->net_rc, rc);
    if (!atomic_load(&drv->net_stop))
        atomic_store(&drv->need_restart, true);
    return NULL;
}

/* Start a connection and the network thread; returns at once. */
static int do_connect(struct drv_mqtt *drv)
{
    const struct mqtt_conf *m = &drv->cfg->mqtt;
    int rc;

    if (atomic_exchange(&drv->fallback_311, false)) {
        drv->protocol = MQTT_PROTOCOL_V311;
        (void)mosquitto_int_option(drv->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    }
    /* libmosquitto (2.0) has no non-blocking connect taking CONNECT
     * properties, but every connect sends the ones stored by the last
     * mosquitto_connect_bind_v5(), which stores them before it checks the
     * port.  So: store them with port -1 (refused before any I/O), then
     * connect without blocking.  MQTT 3.1.1 stores none.  mqtt_foyerd_restart
     * fails if the session expiry stops reaching the broker. */
    rc = mosquitto_connect_bind_v5(drv->mosq, m->host, -1, m->keepalive_s, NULL,
                                   drv->protocol == MQTT_PROTOCOL_V5 ? drv->connect_props : NULL);
    if (rc != MOSQ_ERR_INVAL)
        return rc == MOSQ_ERR_SUCCESS ? MOSQ_ERR_UNKNOWN : rc;
    rc = mosquitto_connect_bind_async(drv->mosq, m->host, m->port, m->keepalive_s, NULL);
    if (rc != MOSQ_ERR_SUCCESS)
        return rc;
    atomic_store(&drv->net_stop, false);
    atomic_store(&drv->net_rc, MOSQ_ERR_SUCCESS);
    atomic_store(&drv->need_restart, false);
    if (pthread_create(&drv->net, NULL, net_main, drv) != 0)
        return MOSQ_ERR_NOMEM;
    drv->loop_running = true;
    return MOSQ_ERR_SUCCESS;
}

/* Stop the network thread: at most MQ_STOP_GRACE_MS + MQ_NET_WAIT_MS. */
static void stop_loop(struct drv_mqtt *drv)
{
    if (!drv->loop_running)
        return;
    atomic_store(&drv->net_stop, true);
    /* Queues DISCONNECT and wakes the thread's select (threaded mode). */
    if (drv->protocol == MQTT_PROTOCOL_V5)
        (void)mosquitto_disconnect_v5(drv->mosq, MQTT_RC_NORMAL_DISCONNECTION, NULL);
    else
        (void)mosquitto_disconnect(drv->mosq);
    pthread_join(drv->net, NULL);
    drv->loop_running = false;
    atomic_store(&drv->connected, false);
}

static const char *mosq_err_text(int rc, int err)
{
    if (rc == MOSQ_ERR_ERRNO)
        return strerror(err);
    if (rc == MOSQ_ERR_CONN_LOST && err)
        return strerror(err); /* "Connection refused" says more */
    return mosquitto_strerror(rc);
}

static void *supervisor(void *arg)
{
    struct drv_mqtt *drv = arg;
    int64_t next_connect_ms = 0, backoff_s = 1, health_ms = 0, connect_ms = 0;
    int last_err = 0;

    pthread_setname_np(pthread_self(), "foyer-mqtt");
    pthread_mutex_lock(&drv->lock);
    while (!drv->stop) {
        struct timespec ts;
        int64_t now_ms;
        bool health_due;

        ring_flush_locked(drv);
        pthread_mutex_unlock(&drv->lock);

        now_ms = tu_mono_ms();
        if (atomic_load(&drv->need_restart)) {
            atomic_store(&drv->need_restart, false);
            stop_loop(drv);
            if (!atomic_load(&drv->connack_seen)) {
                /* The connection never got as far as CONNACK: refused, reset,
                 * TLS handshake failed. */
                int rc = atomic_load(&drv->net_rc), e = atomic_load(&drv->net_errno);
                if (rc != last_err)
                    log_warn("mqtt: cannot connect to %s:%d: %s; retrying with backoff up to %d s",
                             drv->cfg->mqtt.host, drv->cfg->mqtt.port, mosq_err_text(rc, e),
                             MQ_BACKOFF_MAX_S);
                last_err = rc;
            }
            next_connect_ms = now_ms + (atomic_load(&drv->fallback_311) ? 0 : backoff_s * 1000);
            backoff_s = tu_backoff_next(backoff_s, MQ_BACKOFF_MAX_S);
        }
        if (atomic_load(&drv->connected))
            backoff_s = 1;
        if (drv->loop_running && !atomic_load(&drv->connack_seen) &&
            now_ms - connect_ms > MQ_CONNACK_TIMEOUT_MS) {
            if (last_err != MQ_ERR_NO_CONNACK)
                log_warn("mqtt: cannot connect to %s:%d: no answer to CONNECT within %d s (the "
                         "broker does not accept connections, TLS handshake or protocol "
                         "refused); retrying with backoff up to %d s",
                         drv->cfg->mqtt.host, drv->cfg->mqtt.port, MQ_CONNACK_TIMEOUT_MS / 1000,
                         MQ_BACKOFF_MAX_S);
            last_err = MQ_ERR_NO_CONNACK;
            stop_loop(drv);
            next_connect_ms = now_ms + backoff_s * 1000;
            backoff_s = tu_backoff_next(backoff_s, MQ_BACKOFF_MAX_S);
        }
        if (!drv->loop_running && now_ms >= next_connect_ms) {
            int rc;
            atomic_store(&drv->connack_seen, false);
            connect_ms = now_ms;
            rc = do_connect(drv);
            if (rc != MOSQ_ERR_SUCCESS) {
                const char *why = mosq_err_text(rc, errno);
                if (rc != last_err)
                    log_warn("mqtt: cannot connect to %s:%d: %s; retrying with backoff up to %d s",
                             drv->cfg->mqtt.host, drv->cfg->mqtt.port, why, MQ_BACKOFF_MAX_S);
                last_err = rc;
                next_connect_ms = now_ms + backoff_s * 1000;
                backoff_s = tu_backoff_next(backoff_s, MQ_BACKOFF_MAX_S);
            }
        }
        if (atomic_load(&drv->connected))
            last_err = 0;
        health_due = now_ms - health_ms >= MQ_HEALTH_EVERY_MS;
        if (health_due)
            health_ms = now_ms;
        check_units(drv, health_due);

        pthread_mutex_lock(&drv->lock);
        if (drv->stop)
            break;
        ts = tu_mono_timespec(tu_mono_ms() + MQ_TICK_MS);
        if (!drv->ring_n)
            (void)pthread_cond_timedwait(&drv->wake, &drv->lock, &ts);
    }
    pthread_mutex_unlock(&drv->lock);
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* Setup                                                                   */

/* Build units, topic tables and subscriptions from the config. */
static int build_tables(struct drv_mqtt *drv)
{
    const struct foyer_config *cfg = drv->cfg;
    size_t n_units = 0;

    drv->n_sensors = cfg->n_sensors;
    drv->sensors = calloc(cfg->n_sensors ? cfg->n_sensors : 1, sizeof(*drv->sensors));
    drv->exact = calloc(cfg->n_sensors ? cfg->n_sensors : 1, sizeof(*drv->exact));
    drv->wild = calloc(cfg->n_sensors ? cfg->n_sensors : 1, sizeof(*drv->wild));
    drv->subs = calloc(cfg->n_sensors ? cfg->n_sensors : 1, sizeof(*drv->subs));
    if (!drv->sensors || !drv->exact || !drv->wild || !drv->subs)
        return -ENOMEM;
    for (size_t i = 0; i < cfg->n_sensors; i++) {
        const struct sensor *s = &cfg->sensors[i];
        struct mq_sensor *ms = &drv->sensors[i];
        size_t nch = 0;

        ms->s = s;
        ms->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(5, 60);
        ms->wild = strpbrk(s->topic, "+#") != NULL;
        /* A wildcard sensor's devices are the runs of n_fields channels at
         * first_channel named DEVICE.FIELD (daemon/conf/conf_build_devices.c,
         * build_channels). */
        while (s->first_channel + nch < cfg->n_channels &&
               cfg->channels[s->first_channel + nch].sensor == (int32_t)i)
            nch++;
        ms->n_devs = ms->wild && s->n_fields ? nch / s->n_fields : 0;
        n_units += 1 + ms->n_devs;
        if (ms->wild)
            drv->wild[drv->n_wild++] = (uint32_t)i;
        else
            drv->exact[drv->n_exact++] = (struct mq_topic){s->topic, (uint32_t)i};
    }
    /* Subscribe to each filter once, and not to an exact topic that a
     * wildcard filter already covers: the broker would deliver such a
     * message once per matching subscription.  Lookup is by topic anyway. */
    for (size_t i = 0; i < cfg->n_sensors; i++) {
        const char *t = cfg->sensors[i].topic;
        bool covered = false;
        for (size_t j = 0; j < drv->n_subs && !covered; j++)
            covered = strcmp(drv->subs[j], t) == 0;
        for (size_t w = 0; w < drv->n_wild && !covered && !drv->sensors[i].wild; w++) {
            bool match = false;
            covered = mosquitto_topic_matches_sub(cfg->sensors[drv->wild[w]].topic, t, &match) ==
                          MOSQ_ERR_SUCCESS &&
                      match;
        }
        if (!covered)
            drv->subs[drv->n_subs++] = cfg->sensors[i].topic;
    }
    qsort(drv->exact, drv->n_exact, sizeof(*drv->exact), cmp_topic);
    for (size_t i = 1; i < drv->n_exact; i++)
        if (strcmp(drv->exact[i - 1].topic, drv->exact[i].topic) == 0)
            log_warn("mqtt: sensors %s and %s have the same topic %s: messages go to the first",
                     cfg->sensors[drv->exact[i - 1].sensor].id,
                     cfg->sensors[drv->exact[i].sensor].id, drv->exact[i].topic);

    drv->units = calloc(n_units ? n_units : 1, sizeof(*drv->units));
    if (!drv->units)
        return -ENOMEM;
    drv->n_units = n_units;
    size_t u = 0;
    for (size_t i = 0; i < drv->n_sensors; i++) {
        struct mq_sensor *ms = &drv->sensors[i];
        const struct sensor *s = ms->s;
        int64_t stale_ms = (int64_t)s->interval_s * s->stale_after * 1000;

        ms->unit = (uint32_t)u;
        drv->units[u] = (struct mq_unit){.name = s->id,
                                         .first_channel = ms->wild ? UINT32_MAX : s->first_channel,
                                         .stale_ms = stale_ms};
        u++;
        if (!ms->n_devs)
            continue;
        ms->devs = calloc(ms->n_devs, sizeof(*ms->devs));
        if (!ms->devs)
            return -ENOMEM;
        for (size_t d = 0; d < ms->n_devs; d++) {
            struct mq_unit *x = &drv->units[u];
            uint32_t c = s->first_channel + (uint32_t)(d * s->n_fields);
            const char *id = cfg->channels[c].id, *dot = strrchr(id, '.');
            size_t len = dot ? (size_t)(dot - id) : strlen(id);

            if (len > FOYER_ID_MAX)
                len = FOYER_ID_MAX;
            *x = (struct mq_unit){.first_channel = c, .stale_ms = stale_ms};
            memcpy(x->name_buf, id, len);
            x->name_buf[len] = '\0';
            x->name = x->name_buf;
            ms->devs[d] = (struct mq_dev){x->name, (uint32_t)u};
            u++;
        }
        qsort(ms->devs, ms->n_devs, sizeof(*ms->devs), cmp_dev);
    }
    return 0;
}

static void drv_mqtt_close(void *p);

static void *drv_mqtt_open(const struct driver_env *env, int *ret_err)
{
    const struct foyer_config *cfg = env->cfg;
    const struct mqtt_conf *m = &cfg->mqtt;
    struct drv_mqtt *drv = calloc(1, sizeof(*drv));
    int err = -ENOMEM, rc;

    if (!drv)
        goto out_err;
    drv->env = *env;
    drv->cfg = cfg;
    drv->lib_rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(5, 60);
    pthread_mutex_init(&drv->lock, NULL);
    if (tu_cond_init_monotonic(&drv->wake) < 0) {
        pthread_mutex_destroy(&drv->lock);
        free(drv);
        goto out_err;
    }
    if (!m->enabled) {
        if (cfg->n_sensors)
            log_warn("mqtt: %zu sensors configured but no [mqtt] section: they are not read",
                     cfg->n_sensors);
        return drv;
    }
    if (!cfg->n_sensors)
        return drv; /* nothing to subscribe to: no connection */
    err = build_tables(drv);
    if (err < 0)
        goto out_close;

    if (m->client_id) {
        (void)snprintf(drv->client_id, sizeof(drv->client_id), "%s", m->client_id);
    } else {
        char host[64] = "localhost";
        (void)gethostname(host, sizeof(host) - 1);
        (void)snprintf(drv->client_id, sizeof(drv->client_id), "foyerd-%s", host);
    }
    mosquitto_lib_init();
    drv->lib_init = true;
    /* clean_session false: the broker keeps our subscriptions and queues
     * QoS 1 messages while we are away. */
    drv->mosq = mosquitto_new(drv->client_id, false, drv);
    if (!drv->mosq) {
        err = errno ? -errno : -ENOMEM;
        log_err("mqtt: cannot create the client: %s", strerror(-err));
        goto out_close;
    }
    drv->protocol = m->protocol == 311 ? MQTT_PROTOCOL_V311 : MQTT_PROTOCOL_V5;
    (void)mosquitto_int_option(drv->mosq, MOSQ_OPT_PROTOCOL_VERSION, drv->protocol);
    (void)mosquitto_int_option(drv->mosq, MOSQ_OPT_RECEIVE_MAXIMUM, MQ_RECEIVE_MAXIMUM);
    (void)mosquitto_int_option(drv->mosq, MOSQ_OPT_TCP_NODELAY, 1);
    if (mosquitto_property_add_int32(&drv->connect_props, MQTT_PROP_SESSION_EXPIRY_INTERVAL,
                                     (uint32_t)m->session_expiry_s) != MOSQ_ERR_SUCCESS)
        goto out_close;
    /* Our own thread calls mosquitto_loop(): libmosquitto must lock. */
    (void)mosquitto_threaded_set(drv->mosq, true);
    if (m->username) {
        if (m->password_file) {
            /* Never cut short: a longer password is refused, not sent
             * truncated (the broker would say "not authorised", forever). */
            err = conf_read_secret(m->password_file, drv->password, sizeof(drv->password));
            if (err == -EMSGSIZE)
                log_err("mqtt: %s: cannot read the password: longer than %d bytes",
                        m->password_file, FOYER_MQTT_PASSWORD_MAX - 1);
            else if (err < 0)
                log_err("mqtt: %s: cannot read the password: %s", m->password_file,
                        err == -EINVAL    ? "not a regular file (a FIFO, socket or device)"
                        : err == -ENODATA ? "its first line is empty"
                                          : strerror(-err));
            if (err < 0)
                goto out_close;
        }
        rc = mosquitto_username_pw_set(drv->mosq, m->username,
                                       m->password_file ? drv->password : NULL);
        if (rc != MOSQ_ERR_SUCCESS) {
            err = -EINVAL;
            log_err("mqtt: bad username: %s", mosquitto_strerror(rc));
            goto out_close;
        }
    }
    if (m->tls) {
        if (m->ca_file)
            rc = mosquitto_tls_set(drv->mosq, m->ca_file, NULL, m->cert_file, m->key_file, NULL);
        else
            rc = mosquitto_int_option(drv->mosq, MOSQ_OPT_TLS_USE_OS_CERTS, 1);
        if (rc == MOSQ_ERR_SUCCESS && !m->ca_file && m->cert_file)
            rc = mosquitto_tls_set(drv->mosq, NULL, "/etc/ssl/certs", m->cert_file, m->key_file,
                                   NULL);
        if (rc == MOSQ_ERR_SUCCESS)
            rc = mosquitto_tls_opts_set(drv->mosq, m->tls_verify ? 1 : 0, NULL, NULL);
        if (rc == MOSQ_ERR_SUCCESS && !m->tls_verify)
            rc = mosquitto_tls_insecure_set(drv->mosq, true);
        if (rc != MOSQ_ERR_SUCCESS) {
            err = -EINVAL;
            log_err("mqtt: TLS setup failed (ca_file %s, cert_file %s): %s",
                    m->ca_file ? m->ca_file : "(system)", m->cert_file ? m->cert_file : "(none)",
                    rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
            goto out_close;
        }
    }
    mosquitto_connect_v5_callback_set(drv->mosq, on_connect);
    mosquitto_disconnect_v5_callback_set(drv->mosq, on_disconnect);
    mosquitto_message_v5_callback_set(drv->mosq, on_message);
    mosquitto_subscribe_v5_callback_set(drv->mosq, on_subscribe);
    mosquitto_log_callback_set(drv->mosq, on_log);
    return drv;

out_close:
    drv_mqtt_close(drv);
out_err:
    *ret_err = err;
    return NULL;
}

static int drv_mqtt_start(void *p)
{
    struct drv_mqtt *drv = p;
    int err;

    if (!drv->mosq)
        return 0;
    drv->start_ms = tu_mono_ms();
    err = -pthread_create(&drv->sup, NULL, supervisor, drv);
    if (err < 0)
        return err;
    drv->sup_started = true;
    log_info("mqtt: %zu sensors (%zu devices tracked), %zu topics, broker %s:%d%s", drv->n_sensors,
             drv->n_units, drv->n_subs, drv->cfg->mqtt.host, drv->cfg->mqtt.port,
             drv->cfg->mqtt.tls ? " (TLS)" : "");
    return 0;
}

static void drv_mqtt_close(void *p)
{
    struct drv_mqtt *drv = p;

    if (!drv)
        return;
    if (drv->sup_started) {
        pthread_mutex_lock(&drv->lock);
        drv->stop = true;
        pthread_cond_signal(&drv->wake);
        pthread_mutex_unlock(&drv->lock);
        pthread_join(drv->sup, NULL);
    }
    if (drv->mosq) {
        stop_loop(drv);
        pthread_mutex_lock(&drv->lock);
        ring_flush_locked(drv);
        pthread_mutex_unlock(&drv->lock);
        for (size_t i = 0; i < drv->n_units; i++)
            if (atomic_load(&drv->units[i].state) != MQ_UNSEEN || drv->units[i].bad)
                report_health(drv, &drv->units[i]);
        if (drv->unmatched || drv->refused_queue)
            log_info("mqtt: %llu messages on no sensor's topic, %llu readings refused by a full "
                     "queue",
                     (unsigned long long)drv->unmatched, (unsigned long long)drv->refused_queue);
        mosquitto_destroy(drv->mosq);
    }
    if (drv->lib_init)
        mosquitto_lib_cleanup();
    mosquitto_property_free_all(&drv->connect_props);
    for (size_t i = 0; i < drv->n_sensors && drv->sensors; i++)
        free(drv->sensors[i].devs);
    free(drv->sensors);
    free(drv->units);
    free(drv->exact);
    free(drv->wild);
    free(drv->subs);
    pthread_cond_destroy(&drv->wake);
    pthread_mutex_destroy(&drv->lock);
    memset(drv->password, 0, sizeof(drv->password));
    free(drv);
}

const struct driver_ops drv_mqtt_ops = {
    .abi = FOYER_DRIVER_ABI,
    .name = "mqtt",
    .open = drv_mqtt_open,
    .start = drv_mqtt_start,
    .close = drv_mqtt_close,
};

uint64_t drv_mqtt_connections(void *drv)
{
    return drv ? atomic_load(&((struct drv_mqtt *)drv)->connections) : 0;
}
