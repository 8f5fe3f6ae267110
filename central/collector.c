/*
 * collector.c - foyer-collector: the central side of the fleet uplink
 * (docs/fleet.md).  Owns the MQTT client, the batch in memory, the acks,
 * the /metrics listener and main().
 *
 * DESIGN.  One thread does the work, so that the order "commit, then ack"
 * holds without locks: it runs libmosquitto's loop (mosquitto_loop) and,
 * between two turns, writes the batch.  Each items message received is
 * decoded at once (collector_item.c) and its items appended to the batch;
 * a malformed item is noted to be acked as rejected, a message whose
 * envelope is malformed is counted and dropped (its seqs are unknown, so
 * nothing can be acked).  The batch is written (collector_db.c, one
 * transaction) when it holds batch_max items or its oldest item has waited
 * batch_deadline_ms; only after COMMIT are the acks published, one message
 * per gateway on foyer/v1/GW/ack, QoS 1.
 *
 * Why nothing is lost: libmosquitto sends the broker's PUBACK before the
 * message reaches us, so a message in the batch is the collector's alone
 * until committed.  A crash there loses it from the broker, but its gateway
 * still holds it (it deletes items only on our ack) and sends it again
 * after its ack timeout; writes are idempotent (collector_db.c: an item
 * replaces a row only with a greater seq), so a resent or redelivered item
 * changes nothing.
 *
 * PostgreSQL down: the batch is kept and retried with a backoff (1 s
 * doubling to 30 s); messages are still taken until the batch is full
 * (batch_max items plus one message), then the collector disconnects from
 * the broker, which keeps its persistent session (session expiry) and
 * queues for it, or hands the shared subscription's messages to the other
 * collectors.  It reconnects once the batch is committed.  Memory stays
 * bounded by batch_max.
 *
 * Broker: MQTT 5 with clean start false and a session expiry, subscribed to
 * $share/GROUP/foyer/v1/+/items (several collectors share the load); a
 * broker refusing MQTT 5 gets MQTT 3.1.1 and the plain topic (one
 * collector).  Reconnects with the same backoff.
 *
 * /metrics: a second thread answers GET on [collector] metrics_listen from
 * the atomic counters below (the only state shared between the threads).
 * SIGTERM/SIGINT: the batch is written (one attempt), the acks sent, exit
 * 0, within seconds.  Type=notify: READY=1 once running, WATCHDOG=1 from
 * the loop.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "collector.h"
#include "foyer/log.h"

/* Counters shown by /metrics (written by the main thread). */
static struct {
    atomic_ullong messages, messages_malformed, items, items_rejected, items_committed;
    atomic_ullong batches, batch_failures, acks_sent, acks_unsent;
    atomic_ullong buffered_items, pg_up, mqtt_up, last_commit_us, commit_us_total;
} m;

static volatile sig_atomic_t stop_requested;

/* One gateway's part of the batch: what to ack once committed. */
struct gw_part {
    char gw[FLEET_GW_MAX + 1];
    uint64_t *acked, *rejected; /* seqs, in arrival order */
    size_t n_acked, cap_acked, n_rejected, cap_rejected;
    uint64_t max_seq;
};

struct collector {
    struct collector_conf conf;
    struct mosquitto *mosq;
    struct collector_db *db;
    bool mqtt_connected, mqtt_connecting;
    bool acks_to_release; /* connected again with acks held: the loop sends them */
    int mqtt_version;     /* in use: 5 or 311 (after a broker refused 5) */
    int64_t mqtt_retry_ms, mqtt_backoff_ms, pg_retry_ms, pg_backoff_ms;
    bool pg_down_logged, mqtt_down_logged;
    /* the batch */
    json_t **msgs; /* decoded messages: the items' strings live in them */
    size_t n_msgs, cap_msgs;
    struct fleet_item *items;
    size_t *item_gw; /* index in gws of each item */
    size_t n_items, cap_items;
    size_t n_refused; /* items of the batch refused by PostgreSQL (write_one_by_one) */
    struct gw_part *gws;
    size_t n_gws, cap_gws;
    int64_t first_ms; /* arrival of the batch's first message */
    int pending_acks; /* acks published, PUBACK not yet received */
    /* Acks of batches committed while the broker was away (the batch that
     * filled up during a PostgreSQL outage is written before reconnecting),
     * published once connected again. */
    struct held_ack {
        char topic[FLEET_GW_MAX + 32];
        char *body;
    } * held;
    size_t n_held, cap_held;
    int64_t ahead_ms; /* next creation of the coming months' partitions */
};

static struct log_ratelimit bad_rl = LOG_RATELIMIT_INIT(10, 60);

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static bool grow(void **v, size_t *cap, size_t n, size_t size)
{
    size_t c;
    void *p;

    if (n < *cap)
        return true;
    c = *cap ? *cap * 2 : 64;
    p = realloc(*v, c * size);
    if (!p)
        return false;
    *v = p;
    *cap = c;
    return true;
}

static bool push_seq(uint64_t **v, size_t *n, size_t *cap, uint64_t seq)
{
    if (!grow((void **)v, cap, *n, sizeof(**v)))
        return false;
    (*v)[(*n)++] = seq;
    return true;
}

static struct gw_part *gw_part_get(struct collector *c, const char *gw, size_t *ret_idx)
{
    for (size_t i = 0; i < c->n_gws; i++)
        if (strcmp(c->gws[i].gw, gw) == 0) {
            *ret_idx = i;
            return &c->gws[i];
        }
    if (!grow((void **)&c->gws, &c->cap_gws, c->n_gws, sizeof(*c->gws)))
        return NULL;
    memset(&c->gws[c->n_gws], 0, sizeof(*c->gws));
    snprintf(c->gws[c->n_gws].gw, sizeof(c->gws[0].gw), "%s", gw);
    *ret_idx = c->n_gws;
    return &c->gws[c->n_gws++];
}

static void batch_clear(struct collector *c)
{
    for (size_t i = 0; i < c->n_msgs; i++)
        json_decref(c->msgs[i]);
    for (size_t i = 0; i < c->n_gws; i++) {
        free(c->gws[i].acked);
        free(c->gws[i].rejected);
    }
    c->n_msgs = c->n_items = c->n_gws = c->n_refused = 0;
    atomic_store(&m.buffered_items, 0);
}

static void batch_free(struct collector *c)
{
    batch_clear(c);
    free(c->msgs);
    free(c->items);
    free(c->item_gw);
    free(c->gws);
}

static bool batch_full(const struct collector *c)
{
    return c->n_items >= (size_t)c->conf.batch_max;
}

static void bad_item(const char *gw, uint64_t seq, const char *why)
{
    unsigned long suppressed;

    if (!log_ratelimit_ok(&bad_rl, &suppressed))
        return;
    if (seq)
        log_warn("gateway=%s seq=%llu: item refused (acked as rejected): %s%s", gw,
                 (unsigned long long)seq, why, suppressed ? " (more refusals not logged)" : "");
    else
        log_warn("gateway=%s: %s; dropped, nothing to ack%s", gw, why,
                 suppressed ? " (more refusals not logged)" : "");
}

/* A message from a gateway: decoded into the batch. */
static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg,
                       const mosquitto_property *props)
{
    struct collector *c = obj;
    char gw[FLEET_GW_MAX + 1], err[256];
    struct fleet_msg fm;
    struct gw_part *part;
    size_t gi;

    (void)mosq;
    (void)props;
    atomic_fetch_add(&m.messages, 1);
    if (fleet_topic_gateway(msg->topic, gw) < 0) {
        atomic_fetch_add(&m.messages_malformed, 1);
        bad_item("?", 0, "topic is not foyer/v1/GW/items");
        return;
    }
    if (fleet_msg_decode(gw, msg->payload, (size_t)msg->payloadlen, &fm, err, sizeof(err)) < 0) {
        atomic_fetch_add(&m.messages_malformed, 1);
        bad_item(gw, 0, err);
        return;
    }
    if (!grow((void **)&c->msgs, &c->cap_msgs, c->n_msgs, sizeof(*c->msgs)) ||
        !grow((void **)&c->items, &c->cap_items, c->n_items + fm.n_items, sizeof(*c->items)) ||
        !(part = gw_part_get(c, gw, &gi)))
        goto out_nomem;
    /* grow() doubles from cap: make sure the items fit, then item_gw. */
    while (c->cap_items < c->n_items + fm.n_items)
        if (!grow((void **)&c->items, &c->cap_items, c->cap_items, sizeof(*c->items)))
            goto out_nomem;
    {
        size_t *ig = realloc(c->item_gw, c->cap_items * sizeof(*ig));
        if (!ig)
            goto out_nomem;
        c->item_gw = ig;
    }
    for (size_t i = 0; i < fm.n_items; i++) {
        struct fleet_item *it = &c->items[c->n_items];
        uint64_t seq;

        if (fleet_item_decode(&fm, i, it, &seq, err, sizeof(err)) < 0) {
            atomic_fetch_add(&m.items_rejected, 1);
            bad_item(gw, seq, err);
            if (seq && !push_seq(&part->rejected, &part->n_rejected, &part->cap_rejected, seq))
                goto out_nomem;
            if (seq > part->max_seq)
                part->max_seq = seq;
            continue;
        }
        if (!push_seq(&part->acked, &part->n_acked, &part->cap_acked, it->seq))
            goto out_nomem;
        if (it->seq > part->max_seq)
            part->max_seq = it->seq;
        c->item_gw[c->n_items++] = gi;
        atomic_fetch_add(&m.items, 1);
    }
    if (c->n_msgs == 0)
        c->first_ms = now_ms();
    c->msgs[c->n_msgs++] = fm.root;
    atomic_store(&m.buffered_items, c->n_items);
    return;
out_nomem:
    /* Not acked: its gateway sends it again. */
    log_err("gateway=%s: out of memory, message dropped (its gateway resends it)", gw);
    json_decref(fm.root);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* Seqs as sorted inclusive ranges [[FROM,TO],...]. */
static json_t *ranges(uint64_t *v, size_t n)
{
    json_t *arr = json_array();

    if (n > 1)
        qsort(v, n, sizeof(*v), cmp_u64);
    for (size_t i = 0; i < n && arr;) {
        size_t j = i;
        while (j + 1 < n && (v[j + 1] == v[j] || v[j + 1] == v[j] + 1))
            j++;
        json_array_append_new(arr, json_pack("[II]", (json_int_t)v[i], (json_int_t)v[j]));
        i = j + 1;
    }
    return arr;
}

/* After COMMIT: one ack per gateway of the batch. */
/* Publish one ack, or hold it until connected; consumes BODY. */
static void ack_send(struct collector *c, const char *topic, char *body)
{
    int rc = MOSQ_ERR_NO_CONN;

    if (c->mqtt_connected)
        rc = mosquitto_publish_v5(c->mosq, NULL, topic, (int)strlen(body), body, 1, false, NULL);
    if (rc == MOSQ_ERR_SUCCESS) {
        atomic_fetch_add(&m.acks_sent, 1);
        c->pending_acks++;
        free(body);
        return;
    }
    if (c->n_held < COLLECTOR_HELD_ACKS_MAX &&
        grow((void **)&c->held, &c->cap_held, c->n_held, sizeof(*c->held))) {
        snprintf(c->held[c->n_held].topic, sizeof(c->held[0].topic), "%s", topic);
        c->held[c->n_held++].body = body;
        return;
    }
    /* Committed but not acked: the gateway resends, the rows do not
     * change, and the next ack covers them. */
    atomic_fetch_add(&m.acks_unsent, 1);
    log_warn("%s: ack dropped (%s, %zu held); the gateway resends, and is acked then", topic,
             mosquitto_strerror(rc), c->n_held);
    free(body);
}

/* Once connected: the acks held while away. */
static void acks_release(struct collector *c)
{
    size_t n = c->n_held;

    c->n_held = 0;
    for (size_t i = 0; i < n; i++)
        ack_send(c, c->held[i].topic, c->held[i].body);
}

/* After COMMIT: one ack per gateway of the batch. */
static void publish_acks(struct collector *c)
{
    for (size_t g = 0; g < c->n_gws; g++) {
        struct gw_part *p = &c->gws[g];
        char topic[FLEET_GW_MAX + 32], *body;
        json_t *ack;

        ack =
            json_pack("{s:i, s:s, s:o, s:o}", "v", 1, "gateway", p->gw, "acked",
                      ranges(p->acked, p->n_acked), "rejected", ranges(p->rejected, p->n_rejected));
        body = ack ? json_dumps(ack, JSON_COMPACT) : NULL;
        json_decref(ack);
        snprintf(topic, sizeof(topic), "foyer/v1/%s/ack", p->gw);
        if (!body) {
            atomic_fetch_add(&m.acks_unsent, 1);
            log_warn("%s: ack dropped (out of memory); the gateway resends", topic);
            continue;
        }
        ack_send(c, topic, body);
    }
}

static void pg_failed(struct collector *c, const char *what, const char *err)
{
    int64_t t = now_ms();

    if (!c->pg_down_logged)
        log_err("postgresql: %s: %s; batch of %zu items kept, retrying in %lld s", what, err,
                c->n_items, (long long)(c->pg_backoff_ms / 1000));
    c->pg_down_logged = true;
    c->pg_retry_ms = t + c->pg_backoff_ms;
    c->pg_backoff_ms = c->pg_backoff_ms * 2 > COLLECTOR_BACKOFF_MAX_MS ? COLLECTOR_BACKOFF_MAX_MS
                                                                       : c->pg_backoff_ms * 2;
    atomic_store(&m.pg_up, 0);
}

/* The coming months' partitions, at each connection and once a day. */
static void partitions_ahead(struct collector *c)
{
    char err[512];

    c->ahead_ms = now_ms() + 24LL * 3600 * 1000;
    if (db_create_ahead(c->db, (int64_t)time(NULL), err, sizeof(err)) < 0)
        log_warn("postgresql: partitions ahead: %s; created with the data instead", err);
}

/* Connect to PostgreSQL and check the schema.  False: retry later. */
static bool pg_connect(struct collector *c)
{
    char err[512];
    int v;

    if (c->db)
        return true;
    if (now_ms() < c->pg_retry_ms)
        return false;
    c->db = db_open(c->conf.conninfo, err, sizeof(err));
    if (!c->db) {
        pg_failed(c, "connect", err);
        return false;
    }
    v = db_schema_version(c->db, err, sizeof(err));
    if (v != db_schema_latest()) {
        if (v >= 0)
            snprintf(err, sizeof(err),
                     "schema version %d, this collector needs %d: run "
                     "foyer-collector --init-db",
                     v, db_schema_latest());
        db_close(c->db);
        c->db = NULL;
        pg_failed(c, "schema", err);
        return false;
    }
    partitions_ahead(c);
    if (c->pg_down_logged)
        log_info("postgresql: connected again");
    else
        log_info("postgresql: connected");
    c->pg_down_logged = false;
    c->pg_backoff_ms = COLLECTOR_BACKOFF_MIN_MS;
    atomic_store(&m.pg_up, 1);
    return true;
}

/* Move SEQ of part P from the acked to the rejected. */
static void part_reject(struct gw_part *p, uint64_t seq)
{
    for (size_t i = 0; i < p->n_acked; i++)
        if (p->acked[i] == seq) {
            p->acked[i] = p->acked[--p->n_acked];
            break;
        }
    /* The array had room for this seq among the acked: push cannot fail
     * but for memory; then the item is simply not acked (resent). */
    (void)push_seq(&p->rejected, &p->n_rejected, &p->cap_rejected, seq);
}

/* The batch hit a statement refusing an item's data (a CHECK constraint
 * added by a DBA, a value the server cannot take): each item in its own
 * transaction, the refused ones acked as rejected (logged, counted), the
 * gateways' counts last.  Slow, but rare, and the alternative is a batch
 * failing forever.  0, or the first -EIO (the connection: retried whole;
 * what was committed is written again without change). */
static int write_one_by_one(struct collector *c, struct db_batch_item *dbi, struct db_batch_gw *dbg,
                            char *err, size_t errlen)
{
    int r;

    for (size_t i = 0; i < c->n_items; i++) {
        struct gw_part *p = &c->gws[c->item_gw[i]];

        r = db_write_batch(c->db, &dbi[i], 1, NULL, 0, err, errlen);
        if (r == -EIO)
            return r;
        if (r == -EINVAL) {
            log_warn("gateway=%s seq=%llu: refused by PostgreSQL (acked as rejected): %s", p->gw,
                     (unsigned long long)dbi[i].item->seq, err);
            part_reject(p, dbi[i].item->seq);
            dbg[c->item_gw[i]].received--;
            dbg[c->item_gw[i]].rejected++;
            c->n_refused++;
            atomic_fetch_add(&m.items_rejected, 1);
        }
    }
    r = db_write_batch(c->db, NULL, 0, dbg, c->n_gws, err, errlen);
    return r == -EINVAL ? -EIO : r;
}

/* Write the batch; acks once committed.  False: kept for a retry. */
static bool flush(struct collector *c)
{
    struct db_batch_item *dbi = NULL;
    struct db_batch_gw *dbg = NULL;
    char err[512];
    int64_t t0;
    int r;

    if (c->n_msgs == 0)
        return true;
    /* After a failure, wait out the backoff even on a live connection (a
     * failed statement, a full disk): no retry storm against the server. */
    if (now_ms() < c->pg_retry_ms || !pg_connect(c))
        return false;
    dbi = calloc(c->n_items ? c->n_items : 1, sizeof(*dbi));
    dbg = calloc(c->n_gws ? c->n_gws : 1, sizeof(*dbg));
    if (!dbi || !dbg) {
        free(dbi);
        free(dbg);
        log_err("batch of %zu items: out of memory, retrying", c->n_items);
        return false;
    }
    for (size_t i = 0; i < c->n_items; i++) {
        dbi[i].gateway = c->gws[c->item_gw[i]].gw;
        dbi[i].item = &c->items[i];
    }
    for (size_t g = 0; g < c->n_gws; g++) {
        dbg[g].gateway = c->gws[g].gw;
        dbg[g].max_seq = c->gws[g].max_seq;
        dbg[g].received = (int64_t)c->gws[g].n_acked;
        dbg[g].rejected = (int64_t)c->gws[g].n_rejected;
    }
    t0 = now_ms();
    r = db_write_batch(c->db, dbi, c->n_items, dbg, c->n_gws, err, sizeof(err));
    if (r == -EINVAL) {
        log_warn("batch of %zu items refused by PostgreSQL (%s): writing it item by item",
                 c->n_items, err);
        r = write_one_by_one(c, dbi, dbg, err, sizeof(err));
    }
    free(dbi);
    free(dbg);
    if (r < 0) {
        atomic_fetch_add(&m.batch_failures, 1);
        if (!db_ok(c->db)) {
            db_close(c->db);
            c->db = NULL;
        }
        pg_failed(c, "batch not written", err);
        return false;
    }
    atomic_store(&m.last_commit_us, (unsigned long long)(now_ms() - t0) * 1000);
    atomic_fetch_add(&m.commit_us_total, (unsigned long long)(now_ms() - t0) * 1000);
    atomic_fetch_add(&m.batches, 1);
    atomic_fetch_add(&m.items_committed, c->n_items - c->n_refused);
    log_debug("batch: %zu items of %zu gateways committed in %lld ms", c->n_items, c->n_gws,
              (long long)(now_ms() - t0));
    publish_acks(c);
    batch_clear(c);
    return true;
}

/* ---- MQTT ---------------------------------------------------------------- */

static void on_connect(struct mosquitto *mosq, void *obj, int rc, int flags,
                       const mosquitto_property *props)
{
    struct collector *c = obj;
    char topic[128];
    int r;

    (void)flags;
    (void)props;
    c->mqtt_connecting = false;
    if (rc != 0) {
        /* A broker speaking only 3.1.1 refuses a version 5 CONNECT with
         * "unacceptable protocol version" (3.1.1's code 1) or 5's 0x84. */
        if (c->mqtt_version == 5 && (rc == 1 || rc == MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION)) {
            log_warn("mqtt: broker refuses MQTT 5, falling back to 3.1.1 (one collector: no "
                     "shared subscription)");
            c->mqtt_version = 311;
            c->mqtt_retry_ms = 0;
        } else {
            /* Logged once, retried with the growing backoff (a refused
             * password stays refused until someone fixes it). */
            if (!c->mqtt_down_logged)
                log_err("mqtt: connection refused: %s; retrying in %lld s",
                        mosquitto_reason_string(rc), (long long)(c->mqtt_backoff_ms / 1000));
            c->mqtt_down_logged = true;
            c->mqtt_retry_ms = now_ms() + c->mqtt_backoff_ms;
            c->mqtt_backoff_ms = c->mqtt_backoff_ms * 2 > COLLECTOR_BACKOFF_MAX_MS
                                     ? COLLECTOR_BACKOFF_MAX_MS
                                     : c->mqtt_backoff_ms * 2;
        }
        (void)mosquitto_disconnect(mosq);
        return;
    }
    if (c->mqtt_version == 5)
        snprintf(topic, sizeof(topic), "$share/%s/foyer/v1/+/items", c->conf.share_group);
    else
        snprintf(topic, sizeof(topic), "foyer/v1/+/items");
    r = mosquitto_subscribe_v5(mosq, NULL, topic, 1, 0, NULL);
    if (r != MOSQ_ERR_SUCCESS) {
        log_err("mqtt: subscribe %s: %s", topic, mosquitto_strerror(r));
        (void)mosquitto_disconnect(mosq);
        return;
    }
    c->mqtt_connected = true;
    /* Not from inside libmosquitto's callback: publishing here takes its
     * locks in the opposite order to a publish from the loop (a lock-order
     * inversion ThreadSanitizer reports); the main loop releases them. */
    c->acks_to_release = c->n_held > 0;
    c->mqtt_down_logged = false;
    c->mqtt_backoff_ms = COLLECTOR_BACKOFF_MIN_MS;
    atomic_store(&m.mqtt_up, 1);
    log_info("mqtt: connected to %s:%d (MQTT %s, session %s), subscribed to %s", c->conf.host,
             c->conf.port, c->mqtt_version == 5 ? "5" : "3.1.1", (flags & 1) ? "resumed" : "new",
             topic);
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc,
                          const mosquitto_property *props)
{
    struct collector *c = obj;

    (void)mosq;
    (void)props;
    c->mqtt_connected = c->mqtt_connecting = false;
    atomic_store(&m.mqtt_up, 0);
    if (rc != 0 && !c->mqtt_down_logged) {
        log_warn("mqtt: connection lost (%s), reconnecting", mosquitto_strerror(rc));
        c->mqtt_down_logged = true;
    }
}

static void on_publish(struct mosquitto *mosq, void *obj, int mid, int rc,
                       const mosquitto_property *props)
{
    struct collector *c = obj;

    (void)mosq;
    (void)mid;
    (void)rc;
    (void)props;
    if (c->pending_acks > 0)
        c->pending_acks--;
}

static void mqtt_connect(struct collector *c)
{
    mosquitto_property *props = NULL;
    int64_t t = now_ms();
    int r;

    if (t < c->mqtt_retry_ms)
        return;
    (void)mosquitto_int_option(c->mosq, MOSQ_OPT_PROTOCOL_VERSION,
                               c->mqtt_version == 5 ? MQTT_PROTOCOL_V5 : MQTT_PROTOCOL_V311);
    /* Clean start false (mosquitto_new) and a session that outlives the
     * connection: the broker queues the gateways' items while we are away. */
    if (c->mqtt_version == 5)
        (void)mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL,
                                           c->conf.session_expiry_s);
    r = mosquitto_connect_bind_v5(c->mosq, c->conf.host, c->conf.port, c->conf.keepalive_s, NULL,
                                  props);
    mosquitto_property_free_all(&props);
    if (r != MOSQ_ERR_SUCCESS) {
        if (!c->mqtt_down_logged)
            log_warn("mqtt: cannot connect to %s:%d: %s, retrying in %lld s", c->conf.host,
                     c->conf.port, r == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(r),
                     (long long)(c->mqtt_backoff_ms / 1000));
        c->mqtt_down_logged = true;
        c->mqtt_retry_ms = t + c->mqtt_backoff_ms;
        c->mqtt_backoff_ms = c->mqtt_backoff_ms * 2 > COLLECTOR_BACKOFF_MAX_MS
                                 ? COLLECTOR_BACKOFF_MAX_MS
                                 : c->mqtt_backoff_ms * 2;
        return;
    }
    c->mqtt_connecting = true;
    c->mqtt_retry_ms = t + c->mqtt_backoff_ms;
}

static int mqtt_setup(struct collector *c)
{
    const struct collector_conf *cf = &c->conf;
    int r;

    c->mosq = mosquitto_new(cf->client_id, false, c);
    if (!c->mosq)
        return -ENOMEM;
    mosquitto_connect_v5_callback_set(c->mosq, on_connect);
    mosquitto_disconnect_v5_callback_set(c->mosq, on_disconnect);
    mosquitto_message_v5_callback_set(c->mosq, on_message);
    mosquitto_publish_v5_callback_set(c->mosq, on_publish);
    if (*cf->username) {
        r = mosquitto_username_pw_set(c->mosq, cf->username, *cf->password ? cf->password : NULL);
        if (r != MOSQ_ERR_SUCCESS)
            return -EINVAL;
    }
    if (cf->tls) {
        r = mosquitto_tls_set(
            c->mosq, *cf->ca_file ? cf->ca_file : NULL, *cf->ca_file ? NULL : "/etc/ssl/certs",
            *cf->cert_file ? cf->cert_file : NULL, *cf->key_file ? cf->key_file : NULL, NULL);
        if (r != MOSQ_ERR_SUCCESS) {
            log_err("mqtt: TLS setup: %s", mosquitto_strerror(r));
            return -EINVAL;
        }
    }
    return 0;
}

/* ---- /metrics ------------------------------------------------------------ */

static int metrics_fd = -1;

static void metrics_write(int fd)
{
    static const struct {
        const char *name, *type, *help;
        atomic_ullong *v;
    } rows[] = {
        {"messages_total", "counter", "items messages received", &m.messages},
        {"messages_malformed_total", "counter", "messages refused whole (no ack possible)",
         &m.messages_malformed},
        {"items_total", "counter", "valid items received (redeliveries included)", &m.items},
        {"items_rejected_total", "counter", "malformed items, acked as rejected",
         &m.items_rejected},
        {"items_committed_total", "counter", "items in committed batches", &m.items_committed},
        {"batches_total", "counter", "batches committed", &m.batches},
        {"batch_failures_total", "counter", "batches rolled back (kept, retried)",
         &m.batch_failures},
        {"acks_total", "counter", "ack messages published", &m.acks_sent},
        {"acks_unsent_total", "counter", "acks not published (the gateway resends)",
         &m.acks_unsent},
        {"commit_microseconds_total", "counter", "time spent writing batches", &m.commit_us_total},
        {"buffered_items", "gauge", "items waiting for a commit", &m.buffered_items},
        {"last_commit_microseconds", "gauge", "duration of the last batch", &m.last_commit_us},
        {"postgresql_up", "gauge", "1 when connected to PostgreSQL", &m.pg_up},
        {"mqtt_up", "gauge", "1 when connected to the broker", &m.mqtt_up},
    };
    char body[4096], head[256];
    size_t len = 0;
    int n;

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        n = snprintf(body + len, sizeof(body) - len,
                     "# HELP foyer_collector_%s %s\n# TYPE foyer_collector_%s %s\n"
                     "foyer_collector_%s %llu\n",
                     rows[i].name, rows[i].help, rows[i].name, rows[i].type, rows[i].name,
                     atomic_load(rows[i].v));
        if (n < 0 || (size_t)n >= sizeof(body) - len)
            break;
        len += (size_t)n;
    }
    n = snprintf(head, sizeof(head),
                 "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
                 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                 len);
    if (write(fd, head, (size_t)n) == n)
        (void)!write(fd, body, len);
}

static void *metrics_thread(void *arg)
{
    (void)arg;
    for (;;) {
        struct timeval tv = {2, 0};
        char req[1024];
        ssize_t r;
        int fd = accept4(metrics_fd, NULL, NULL, SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return NULL; /* shut down by main() */
        }
        /* A slow client holds this thread 2 s at most; the main loop never
         * waits for it. */
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        r = read(fd, req, sizeof(req) - 1);
        if (r > 0) {
            req[r] = '\0';
            if (strncmp(req, "GET /metrics ", 13) == 0)
                metrics_write(fd);
            else {
                static const char nf[] = "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n";
                (void)!write(fd, nf, sizeof(nf) - 1);
            }
        }
        close(fd);
    }
}

static int metrics_listen(const char *spec)
{
    char host[128];
    const char *colon = strrchr(spec, ':');
    struct sockaddr_in6 a6 = {0};
    struct sockaddr_in a4 = {0};
    int fd, one = 1;

    snprintf(host, sizeof(host), "%.*s", (int)(colon - spec), spec);
    if (host[0] == '[') { /* [::1]:9465 */
        memmove(host, host + 1, strlen(host));
        host[strcspn(host, "]")] = '\0';
    }
    if (inet_pton(AF_INET, host, &a4.sin_addr) == 1) {
        a4.sin_family = AF_INET;
        a4.sin_port = htons((uint16_t)atoi(colon + 1));
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    } else if (inet_pton(AF_INET6, host, &a6.sin6_addr) == 1) {
        a6.sin6_family = AF_INET6;
        a6.sin6_port = htons((uint16_t)atoi(colon + 1));
        fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    } else {
        return -EINVAL;
    }
    if (fd < 0)
        return -errno;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if ((a4.sin_family ? bind(fd, (struct sockaddr *)&a4, sizeof(a4))
                       : bind(fd, (struct sockaddr *)&a6, sizeof(a6))) < 0 ||
        listen(fd, 16) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

/* ---- main ---------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f, "usage: foyer-collector [--config FILE] [--check-config | --init-db]\n"
               "  -c, --config FILE   config file (default " FOYER_SYSCONFDIR "/collector.conf)\n"
               "      --check-config  check the config, print FILE:LINE errors, exit\n"
               "      --init-db       create or migrate the PostgreSQL schema, exit\n"
               "  -h, --help          this text\n"
               "      --version       print the version\n"
               "Takes the gateways' items from the broker into PostgreSQL: foyer-collector(8).\n");
}

static int init_db(const struct collector_conf *conf)
{
    char err[512];
    struct collector_db *db = db_open(conf->conninfo, err, sizeof(err));
    int from, to;

    if (!db) {
        fprintf(stderr, "foyer-collector: postgresql: %s\n", err);
        return 1;
    }
    if (db_migrate(db, &from, &to, err, sizeof(err)) < 0) {
        fprintf(stderr, "foyer-collector: schema: %s\n", err);
        db_close(db);
        return 1;
    }
    if (db_create_ahead(db, (int64_t)time(NULL), err, sizeof(err)) < 0) {
        fprintf(stderr, "foyer-collector: partitions: %s\n", err);
        db_close(db);
        return 1;
    }
    db_close(db);
    if (from == to)
        printf("schema: version %d, up to date\n", to);
    else
        printf("schema: version %d -> %d\n", from, to);
    return 0;
}

static void run(struct collector *c)
{
    int64_t last_watchdog = 0, stop_deadline;
    uint64_t wd_usec = 0;
    bool watchdog = sd_watchdog_enabled(0, &wd_usec) > 0;

    c->mqtt_version = c->conf.mqtt_version;
    c->pg_backoff_ms = c->mqtt_backoff_ms = COLLECTOR_BACKOFF_MIN_MS;
    (void)pg_connect(c);
    (void)sd_notify(0, "READY=1\nSTATUS=running");
    log_info("collector %s: running (batch_max %d, deadline %d ms)", c->conf.client_id,
             c->conf.batch_max, c->conf.batch_deadline_ms);
    while (!stop_requested) {
        int64_t t = now_ms(), timeout = 1000;

        if (watchdog && t - last_watchdog >= (int64_t)(wd_usec / 4000)) {
            (void)sd_notify(0, "WATCHDOG=1");
            last_watchdog = t;
        }
        if (c->acks_to_release && c->mqtt_connected) {
            c->acks_to_release = false;
            acks_release(c);
        }
        if (c->db && t >= c->ahead_ms && c->n_msgs == 0)
            partitions_ahead(c);
        if (c->n_msgs > 0 &&
            (batch_full(c) || t - c->first_ms >= c->conf.batch_deadline_ms || !c->mqtt_connected))
            (void)flush(c);
        /* Full and not written (PostgreSQL down): stop reading, let the
         * broker keep the rest. */
        if (batch_full(c)) {
            if (c->mqtt_connected || c->mqtt_connecting) {
                log_warn("mqtt: batch full and not written: disconnecting until PostgreSQL "
                         "takes it");
                (void)mosquitto_disconnect(c->mosq);
                (void)mosquitto_loop(c->mosq, 0, 1);
                c->mqtt_connected = c->mqtt_connecting = false;
                atomic_store(&m.mqtt_up, 0);
            }
        } else if (!c->mqtt_connected && !c->mqtt_connecting) {
            mqtt_connect(c);
        }
        if (c->n_msgs > 0) {
            int64_t left = c->first_ms + c->conf.batch_deadline_ms - now_ms();
            timeout = left < 0 ? 0 : left < timeout ? left : timeout;
        }
        if (c->n_msgs > 0 && !c->db)
            timeout = c->pg_retry_ms - now_ms() < 0 ? 50 : 200;
        if (c->mqtt_connected || c->mqtt_connecting) {
            int r = mosquitto_loop(c->mosq, (int)timeout, 1);
            if (r != MOSQ_ERR_SUCCESS && (c->mqtt_connected || c->mqtt_connecting)) {
                c->mqtt_connected = c->mqtt_connecting = false;
                atomic_store(&m.mqtt_up, 0);
                if (!c->mqtt_down_logged)
                    log_warn("mqtt: connection lost (%s), reconnecting", mosquitto_strerror(r));
                c->mqtt_down_logged = true;
            }
            /* A connect attempt that got no CONNACK in time is retried. */
            if (c->mqtt_connecting && now_ms() > c->mqtt_retry_ms + 10000) {
                (void)mosquitto_disconnect(c->mosq);
                c->mqtt_connecting = false;
            }
        } else {
            (void)poll(NULL, 0, (int)(timeout > 200 ? 200 : timeout));
        }
    }
    /* Stop: write what we hold (one attempt), then let the acks out. */
    (void)sd_notify(0, "STOPPING=1");
    log_info("stopping: writing %zu buffered items", c->n_items);
    c->pg_retry_ms = 0;
    if (c->n_msgs > 0 && !flush(c))
        log_warn("stopping: %zu items not written; their gateways resend them", c->n_items);
    stop_deadline = now_ms() + 2000;
    while (c->mqtt_connected && c->pending_acks > 0 && now_ms() < stop_deadline)
        (void)mosquitto_loop(c->mosq, 100, 1);
    if (c->mqtt_connected) {
        /* A clean stop ends the session (MQTT 5: expiry 0 in DISCONNECT):
         * mosquitto keeps handing an offline member of a shared
         * subscription its share, which would wait there until the session
         * expired (the gateways resend it, but late).  What it held is
         * committed and acked; what the broker had queued for it goes to
         * the other collectors, or comes again from the gateways.  A crash
         * keeps the session, so a restart gets its queue back. */
        mosquitto_property *props = NULL;

        if (c->mqtt_version == 5)
            (void)mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL, 0);
        (void)mosquitto_disconnect_v5(c->mosq, 0, props);
        mosquitto_property_free_all(&props);
        (void)mosquitto_loop(c->mosq, 100, 1);
    }
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"check-config", no_argument, NULL, 'C'},
        {"init-db", no_argument, NULL, 'I'},      {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},      {NULL, 0, NULL, 0}};
    const char *path = FOYER_SYSCONFDIR "/collector.conf";
    bool check = false, initdb = false;
    struct collector *c;
    struct sigaction sa;
    pthread_t mt;
    int opt, r, rc = 0;

    while ((opt = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            path = optarg;
            break;
        case 'C':
            check = true;
            break;
        case 'I':
            initdb = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("foyer-collector %s\n", FOYER_VERSION);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc || (check && initdb)) {
        usage(stderr);
        return 2;
    }
    c = calloc(1, sizeof(*c));
    if (!c)
        return 1;
    r = collector_conf_load(path, &c->conf, stderr);
    if (r != 0) {
        fprintf(stderr, "%s: %d problem%s\n", path, r < 0 ? 1 : r, r == 1 || r < 0 ? "" : "s");
        free(c);
        return 1;
    }
    if (check) {
        printf("%s: OK (broker %s:%d%s, client_id %s, batch_max %d)\n", path, c->conf.host,
               c->conf.port, c->conf.tls ? " TLS" : "", c->conf.client_id, c->conf.batch_max);
        goto out_free;
    }
    if (initdb) {
        rc = init_db(&c->conf);
        goto out_free;
    }
    log_init("foyer-collector");
    (void)log_set_level_name(c->conf.log_level);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal; /* no SA_RESTART: the loop's poll returns at once */
    sigemptyset(&sa.sa_mask);
    (void)sigaction(SIGTERM, &sa, NULL);
    (void)sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    mosquitto_lib_init();
    if (mqtt_setup(c) < 0) {
        log_err("mqtt: cannot set up the client");
        rc = 1;
        goto out_lib;
    }
    if (*c->conf.metrics_listen) {
        metrics_fd = metrics_listen(c->conf.metrics_listen);
        if (metrics_fd < 0) {
            log_err("metrics_listen %s: %s", c->conf.metrics_listen, strerror(-metrics_fd));
            rc = 1;
            goto out_lib;
        }
        if (pthread_create(&mt, NULL, metrics_thread, NULL) != 0) {
            log_err("metrics: cannot start its thread");
            close(metrics_fd);
            metrics_fd = -1;
            rc = 1;
            goto out_lib;
        }
    }
    run(c);
    if (metrics_fd >= 0) {
        /* shutdown wakes the thread's accept(); then it returns. */
        (void)shutdown(metrics_fd, SHUT_RDWR);
        (void)pthread_join(mt, NULL);
        close(metrics_fd);
    }
    log_info("stopped");
out_lib:
    mosquitto_destroy(c->mosq);
    mosquitto_lib_cleanup();
    db_close(c->db);
    batch_free(c);
    for (size_t i = 0; i < c->n_held; i++)
        free(c->held[i].body);
    free(c->held);
out_free:
    explicit_bzero(&c->conf, sizeof(c->conf));
    free(c);
    return rc;
}
