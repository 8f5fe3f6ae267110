/*
 * uplink.c - the fleet uplink: the outbox of the store's uplink tables,
 * published to the central broker, deleted on the collector's ack
 * (include/foyer/uplink.h says what; include/foyer/store_uplink.h what is
 * queued).
 *
 * DESIGN
 *   Threads.  The uplink thread ("foyer-uplink") does everything but the
 *   socket: it queues items (store_uplink_harvest(), every second, at once
 *   again while more is waiting), publishes, applies acks, resends, and
 *   owns the connection's life.  The network thread ("foyer-uplink-net")
 *   runs mosquitto_loop() and its callbacks: on_message only parses an
 *   ack into a bounded array of ranges under the lock and wakes the uplink
 *   thread; nothing there touches the database or logs.
 *
 *   Connection.  As the MQTT driver (drivers/drv_mqtt.c), from which these
 *   patterns come: every connect is made by the uplink thread without
 *   blocking (CONNECT properties stored by a connect refused before any
 *   I/O, then mosquitto_connect_bind_async()), with a CONNACK deadline and
 *   backoff (1, 2, 4 ... 30 s); the network thread never reconnects and
 *   ends within UL_STOP_GRACE_MS of being told.  Clean start off, a stable
 *   client id and a session expiry: acks the collector sends while the
 *   gateway is away are delivered when it comes back.  A broker refusing
 *   MQTT 5 gets MQTT 3.1.1 from then on.
 *
 *   Flow.  Items go out in seq order, at most batch_items per message and
 *   at most max_in_flight unacked.  A record per message in flight (first
 *   and last seq, items, when sent) is all the memory that grows with the
 *   flow.  An ack deletes its ranges from the outbox; a message whose items
 *   are all gone leaves the in-flight records.  A message not fully acked
 *   within ack_timeout_s is sent again with what is left of it.  After each
 *   (re)connection every waiting item is sent again from the oldest: the
 *   collector's apply rule (greater seq wins, by key) makes a duplicate
 *   change nothing.
 *
 *   Consent.  Hourly figures leave only for dwellings whose load-curve
 *   consent is given now, as foyerctl consent records it (not the config's
 *   flag): the uplink thread reads store_consent_load_curve() on a
 *   read-only store handle of its own (opened at start, then used by that
 *   thread alone) at start, every UL_CONSENT_MS, and at once when
 *   store_uplink_consent_mark() says a consent or a tenancy was written;
 *   always before a harvest, never holding a read transaction between two.
 *   The array is sized by the config the uplink was started with (a reload
 *   starts a new uplink).  A withdrawal also deletes the dwelling's hourly
 *   items still waiting (store_uplink_withhold_hours()), before anything
 *   more is sent; a consent that cannot be read stops the harvest until it
 *   can (nothing leaves on a guess, nothing is lost: the keys wait).
 */
#include "foyer/uplink.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>

#include "foyer/limits.h"
#include "foyer/log.h"
#include "foyer/store.h"
#include "foyer/store_consent.h"
#include "foyer/store_uplink.h"
#include "foyer/timeutil.h"

#define UL_TICK_MS       200
#define UL_HARVEST_MS    1000
#define UL_BACKOFF_MAX_S 30
/* As the MQTT driver's (drivers/drv_mqtt.c says why). */
#define UL_CONNACK_TIMEOUT_MS 5000
#define UL_NET_WAIT_MS        200
#define UL_STOP_GRACE_MS      500
#define UL_ERR_NO_CONNACK     (-1000)
/* The seq floor at each start: the wall clock in microseconds. */
#define UL_SEQ_PER_S 1000000LL
/* A database error is retried after this long, not in a tight loop. */
#define UL_DB_RETRY_MS 2000
/* The consents are read again at least this often even when no write was
 * seen (a tenancy that ends at midnight changes whose consent counts). */
#define UL_CONSENT_MS 60000

/* One items message in flight. */
struct ul_batch {
    int64_t first, last; /* seq range it carried */
    int64_t n;           /* its items still waiting (recounted after acks) */
    int64_t sent_ms;     /* monotonic ms of its last publication */
};

/* An ack's range, waiting for the uplink thread. */
struct ul_range {
    int64_t from, to;
    bool rejected;
};

struct uplink {
    const struct foyer_config *cfg; /* borrowed until uplink_stop() */
    struct store_uplink *db;
    struct mosquitto *mosq;
    mosquitto_property *connect_props;
    int protocol; /* MQTT_PROTOCOL_V5 or V311 */
    char client_id[FOYER_MQTT_CLIENT_ID_MAX + 1];
    char password[FOYER_MQTT_PASSWORD_MAX];
    char topic_items[FOYER_UPLINK_GATEWAY_ID_MAX + 32];
    char topic_ack[FOYER_UPLINK_GATEWAY_ID_MAX + 32];

    pthread_t thread, net;
    bool thread_started, loop_running;
    bool lib_init; /* mosquitto_lib_init() called (reference-counted) */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;                /* under lock */
    struct ul_range *acks;    /* under lock: ranges waiting */
    size_t n_acks;            /* under lock */
    atomic_bool net_stop;     /* the network thread must end */
    atomic_bool connected;    /* CONNACK accepted, not yet disconnected */
    atomic_bool connack_seen; /* this connection got a CONNACK */
    atomic_bool need_restart; /* the connection ended: connect again */
    atomic_bool new_session;  /* connected since the uplink thread last looked */
    atomic_bool fallback_311; /* the broker refused MQTT 5 */
    atomic_int net_rc, net_errno;
    atomic_int connack_rc; /* the broker's refusal of the last CONNECT, 0 none */

    /* Uplink thread only (and uplink_start() before it runs). */
    struct store *ro;         /* read-only: the consents */
    bool *consent;            /* cfg->n_dwellings: load-curve consent as last read */
    bool *consent_new;        /* cfg->n_dwellings: the read in progress */
    bool consent_read;        /* consent holds a successful read */
    int64_t consent_ms;       /* monotonic ms of that read */
    int64_t consent_mark;     /* store_uplink_consent_mark() at that read */
    bool consent_failing;     /* the last refresh failed (logged once) */
    struct ul_batch *batches; /* max_in_flight records */
    size_t n_batches;
    int64_t in_flight; /* items of the batches */
    int64_t cursor;    /* highest seq published in this connection */
    char *msg;         /* FOYER_UPLINK_MSG_MAX */
    size_t msg_len;
    int64_t msg_first, msg_last, msg_n;
    int64_t oversized; /* an item that alone does not fit in a message, or 0 */

    /* Counters (struct uplink_stats), any thread. */
    _Atomic uint64_t queued, withheld, sent, resent, acked, rejected, messages, n_acks_taken,
        acks_bad, acks_dropped;
    _Atomic int64_t depth, oldest_s;
};

/* ---- network thread: callbacks --------------------------------------- */

/* Append the [FROM,TO] pairs of arr to the waiting ranges (lock held). */
static bool take_ranges(struct uplink *u, json_t *arr, bool rejected)
{
    size_t i;
    json_t *r;
    if (!arr)
        return true;
    if (!json_is_array(arr))
        return false;
    json_array_foreach(arr, i, r)
    {
        json_t *a = json_array_get(r, 0), *b = json_array_get(r, 1);
        if (!json_is_array(r) || json_array_size(r) != 2 || !json_is_integer(a) ||
            !json_is_integer(b) || json_integer_value(a) > json_integer_value(b))
            return false;
        if (u->n_acks >= FOYER_UPLINK_ACK_RANGES_MAX) {
            atomic_fetch_add(&u->acks_dropped, 1);
            continue;
        }
        u->acks[u->n_acks++] =
            (struct ul_range){json_integer_value(a), json_integer_value(b), rejected};
    }
    return true;
}

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg,
                       const mosquitto_property *props)
{
    struct uplink *u = obj;
    (void)mosq;
    (void)props;
    if (strcmp(msg->topic, u->topic_ack) != 0 || msg->payloadlen <= 0 ||
        msg->payloadlen > FOYER_UPLINK_MSG_MAX) {
        atomic_fetch_add(&u->acks_bad, 1);
        return;
    }
    json_t *root = json_loadb(msg->payload, (size_t)msg->payloadlen, 0, NULL);
    json_t *gw = root ? json_object_get(root, "gateway") : NULL;
    json_t *v = root ? json_object_get(root, "v") : NULL;
    bool ok = json_is_object(root) && json_is_integer(v) && json_integer_value(v) == 1 &&
              json_is_string(gw) && strcmp(json_string_value(gw), u->cfg->uplink.gateway_id) == 0;
    if (ok) {
        pthread_mutex_lock(&u->lock);
        size_t before = u->n_acks;
        ok = take_ranges(u, json_object_get(root, "acked"), false) &&
             take_ranges(u, json_object_get(root, "rejected"), true);
        if (!ok)
            u->n_acks = before; /* all of a message or nothing */
        else
            pthread_cond_signal(&u->wake);
        pthread_mutex_unlock(&u->lock);
    }
    if (ok)
        atomic_fetch_add(&u->n_acks_taken, 1);
    else
        atomic_fetch_add(&u->acks_bad, 1);
    json_decref(root);
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc, int flags,
                       const mosquitto_property *props)
{
    struct uplink *u = obj;
    (void)flags;
    (void)props;
    atomic_store(&u->connack_seen, true);
    if (rc == 0) {
        /* QoS 1: an ack is delivered even if it was sent while we were
         * away (persistent session). */
        (void)mosquitto_subscribe_v5(mosq, NULL, u->topic_ack, 1, 0, NULL);
        atomic_store(&u->connected, true);
        atomic_store(&u->new_session, true);
        pthread_mutex_lock(&u->lock);
        pthread_cond_signal(&u->wake);
        pthread_mutex_unlock(&u->lock);
        return;
    }
    if (u->protocol == MQTT_PROTOCOL_V5 &&
        (rc == MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION || rc == CONNACK_REFUSED_PROTOCOL_VERSION))
        atomic_store(&u->fallback_311, true);
    atomic_store(&u->connack_rc, rc);
    atomic_store(&u->need_restart, true);
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc,
                          const mosquitto_property *props)
{
    struct uplink *u = obj;
    (void)mosq;
    (void)props;
    atomic_store(&u->connected, false);
    if (rc != 0)
        atomic_store(&u->need_restart, true);
}

static void *net_main(void *arg)
{
    struct uplink *u = arg;
    int64_t give_up_ms = 0;
    int rc;

    pthread_setname_np(pthread_self(), "foyer-uplink-n");
    for (;;) {
        rc = mosquitto_loop(u->mosq, UL_NET_WAIT_MS, 1);
        if (rc != MOSQ_ERR_SUCCESS) {
            atomic_store(&u->net_errno, errno);
            break;
        }
        if (atomic_load(&u->net_stop)) {
            int64_t now = tu_mono_ms();
            if (!atomic_load(&u->connected))
                break;
            if (!give_up_ms)
                give_up_ms = now + UL_STOP_GRACE_MS;
            else if (now >= give_up_ms)
                break;
        }
    }
    atomic_store(&u->net_rc, rc);
    if (!atomic_load(&u->net_stop))
        atomic_store(&u->need_restart, true);
    return NULL;
}

/* ---- uplink thread: connection ---------------------------------------- */

static int do_connect(struct uplink *u)
{
    const struct uplink_conf *c = &u->cfg->uplink;
    int rc;

    if (atomic_exchange(&u->fallback_311, false)) {
        u->protocol = MQTT_PROTOCOL_V311;
        (void)mosquitto_int_option(u->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    }
    /* The CONNECT properties are stored by a connect refused before any
     * I/O (port -1); the non-blocking connect then sends them
     * (drivers/drv_mqtt.c, do_connect). */
    rc = mosquitto_connect_bind_v5(u->mosq, c->host, -1, c->keepalive_s, NULL,
                                   u->protocol == MQTT_PROTOCOL_V5 ? u->connect_props : NULL);
    if (rc != MOSQ_ERR_INVAL)
        return rc == MOSQ_ERR_SUCCESS ? MOSQ_ERR_UNKNOWN : rc;
    rc = mosquitto_connect_bind_async(u->mosq, c->host, c->port, c->keepalive_s, NULL);
    if (rc != MOSQ_ERR_SUCCESS)
        return rc;
    atomic_store(&u->net_stop, false);
    atomic_store(&u->net_rc, MOSQ_ERR_SUCCESS);
    atomic_store(&u->need_restart, false);
    if (pthread_create(&u->net, NULL, net_main, u) != 0)
        return MOSQ_ERR_NOMEM;
    u->loop_running = true;
    return MOSQ_ERR_SUCCESS;
}

static void stop_loop(struct uplink *u)
{
    if (!u->loop_running)
        return;
    atomic_store(&u->net_stop, true);
    if (u->protocol == MQTT_PROTOCOL_V5)
        (void)mosquitto_disconnect_v5(u->mosq, MQTT_RC_NORMAL_DISCONNECTION, NULL);
    else
        (void)mosquitto_disconnect(u->mosq);
    pthread_join(u->net, NULL);
    u->loop_running = false;
    atomic_store(&u->connected, false);
}

static const char *mosq_err_text(int rc, int err)
{
    if (rc == MOSQ_ERR_ERRNO || (rc == MOSQ_ERR_CONN_LOST && err))
        return strerror(err);
    return mosquitto_strerror(rc);
}

/* ---- uplink thread: flow ---------------------------------------------- */

static void msg_begin(struct uplink *u)
{
    char when[32];
    tu_format_utc(tu_now_s(), when, sizeof(when));
    int n = snprintf(u->msg, FOYER_UPLINK_MSG_MAX,
                     "{\"v\":1,\"gateway\":\"%s\",\"sent\":\"%s\",\"items\":[",
                     u->cfg->uplink.gateway_id, when);
    u->msg_len = n > 0 ? (size_t)n : 0;
    u->msg_n = 0;
    u->msg_first = u->msg_last = 0;
    u->oversized = 0;
}

/* Append an item; 1 when the message is full (the item is left out). */
static int msg_add(void *ud, int64_t seq, const char *body, size_t len)
{
    struct uplink *u = ud;
    char head[40];
    int h = snprintf(head, sizeof(head), "%s{\"seq\":%lld%s", u->msg_n ? "," : "", (long long)seq,
                     len > 2 ? "," : "");
    /* body is an object: "{...}"; its fields follow the seq.  Room is kept
     * for the closing "]}". */
    if (h < 0 || len < 2 || u->msg_len + (size_t)h + len - 1 + 2 > FOYER_UPLINK_MSG_MAX) {
        if (!u->msg_n)
            u->oversized = seq;
        return 1;
    }
    memcpy(u->msg + u->msg_len, head, (size_t)h);
    u->msg_len += (size_t)h;
    memcpy(u->msg + u->msg_len, body + 1, len - 1);
    u->msg_len += len - 1;
    if (!u->msg_n)
        u->msg_first = seq;
    u->msg_last = seq;
    u->msg_n++;
    return 0;
}

/* Publish the message built; 0 or a MOSQ_ERR_*. */
static int msg_publish(struct uplink *u)
{
    memcpy(u->msg + u->msg_len, "]}", 2);
    u->msg_len += 2;
    int rc = mosquitto_publish_v5(u->mosq, NULL, u->topic_items, (int)u->msg_len, u->msg, 1, false,
                                  NULL);
    if (rc == MOSQ_ERR_SUCCESS) {
        atomic_fetch_add(&u->messages, 1);
        if (store_uplink_mark_sent(u->db, u->msg_first, u->msg_last, tu_now_s()) < 0)
            log_warn("uplink: %s: cannot record items %lld..%lld as sent: %s", u->cfg->database,
                     (long long)u->msg_first, (long long)u->msg_last, store_uplink_errmsg(u->db));
    }
    return rc;
}

static void forget_batches(struct uplink *u)
{
    u->n_batches = 0;
    u->in_flight = 0;
    u->cursor = 0;
}

/* An item larger than a message by itself can never be sent: dropped,
 * logged and counted as rejected, so that it does not hold back the rest. */
static int drop_oversized(struct uplink *u, int64_t seq)
{
    int64_t n = 0;
    int rc = store_uplink_delete(u->db, seq, seq, &n);
    if (rc < 0)
        return rc;
    atomic_fetch_add(&u->rejected, (uint64_t)n);
    log_err("uplink: item %lld is larger than a message (%d bytes): dropped", (long long)seq,
            FOYER_UPLINK_MSG_MAX);
    if (seq > u->cursor)
        u->cursor = seq;
    return 0;
}

/* Send new items while the window allows.  0, or -1 on a publish or
 * database failure (tried again later). */
static int send_new(struct uplink *u)
{
    const struct uplink_conf *c = &u->cfg->uplink;
    while (u->in_flight < c->max_in_flight && u->n_batches < (size_t)c->max_in_flight) {
        int64_t room = c->max_in_flight - u->in_flight;
        int limit = (int)(room < c->batch_items ? room : c->batch_items);
        msg_begin(u);
        int rc = store_uplink_items(u->db, u->cursor, -1, limit, msg_add, u);
        if (rc < 0) {
            log_warn("uplink: %s: cannot read the outbox: %s; retrying", u->cfg->database,
                     store_uplink_errmsg(u->db));
            return -1;
        }
        if (u->msg_n == 0) {
            if (u->oversized > 0) {
                if (drop_oversized(u, u->oversized) < 0)
                    return -1;
                continue;
            }
            return 0; /* nothing new */
        }
        rc = msg_publish(u);
        if (rc != MOSQ_ERR_SUCCESS)
            return -1;
        u->batches[u->n_batches++] =
            (struct ul_batch){u->msg_first, u->msg_last, u->msg_n, tu_mono_ms()};
        u->in_flight += u->msg_n;
        u->cursor = u->msg_last;
        atomic_fetch_add(&u->sent, (uint64_t)u->msg_n);
    }
    return 0;
}

/* Send again, oldest first, the messages not fully acked within
 * ack_timeout_s: what is left of each. */
static int resend_timed_out(struct uplink *u)
{
    int64_t timeout_ms = (int64_t)u->cfg->uplink.ack_timeout_s * 1000;
    for (;;) {
        size_t oldest = SIZE_MAX;
        int64_t now = tu_mono_ms();
        for (size_t i = 0; i < u->n_batches; i++)
            if (now - u->batches[i].sent_ms >= timeout_ms &&
                (oldest == SIZE_MAX || u->batches[i].first < u->batches[oldest].first))
                oldest = i;
        if (oldest == SIZE_MAX)
            return 0;
        struct ul_batch *b = &u->batches[oldest];
        msg_begin(u);
        int rc = store_uplink_items(u->db, b->first - 1, b->last, (int)b->n + 1, msg_add, u);
        if (rc < 0) {
            log_warn("uplink: %s: cannot read the outbox: %s; retrying", u->cfg->database,
                     store_uplink_errmsg(u->db));
            return -1;
        }
        if (u->msg_n == 0) {
            /* All of it acked meanwhile (or replaced by newer items). */
            u->in_flight -= b->n;
            *b = u->batches[--u->n_batches];
            continue;
        }
        if (msg_publish(u) != MOSQ_ERR_SUCCESS)
            return -1;
        log_info("uplink: %lld items %lld..%lld not acked within %d s: sent again",
                 (long long)u->msg_n, (long long)u->msg_first, (long long)u->msg_last,
                 u->cfg->uplink.ack_timeout_s);
        atomic_fetch_add(&u->resent, (uint64_t)u->msg_n);
        u->in_flight += u->msg_n - b->n;
        b->n = u->msg_n;
        b->sent_ms = tu_mono_ms();
    }
}

/* Apply the acks waiting: delete their ranges, then recount the messages
 * in flight they touch. */
static void apply_acks(struct uplink *u, struct ul_range *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int64_t gone = 0;
        int rc = store_uplink_delete(u->db, r[i].from, r[i].to, &gone);
        if (rc < 0) {
            /* Not deleted: sent again after the timeout, acked again. */
            log_warn("uplink: %s: cannot delete acked items %lld..%lld: %s; they will be sent "
                     "again",
                     u->cfg->database, (long long)r[i].from, (long long)r[i].to,
                     store_uplink_errmsg(u->db));
            continue;
        }
        if (r[i].rejected) {
            atomic_fetch_add(&u->rejected, (uint64_t)gone);
            log_warn("uplink: the collector rejected items %lld..%lld (%lld still queued, now "
                     "deleted): malformed for it; see its log",
                     (long long)r[i].from, (long long)r[i].to, (long long)gone);
        } else {
            atomic_fetch_add(&u->acked, (uint64_t)gone);
        }
    }
    for (size_t k = 0; k < u->n_batches;) {
        struct ul_batch *b = &u->batches[k];
        bool touched = false;
        for (size_t i = 0; i < n && !touched; i++)
            touched = r[i].from <= b->last && r[i].to >= b->first;
        int64_t left = b->n;
        if (touched && store_uplink_count(u->db, b->first, b->last, &left) < 0)
            left = b->n;
        u->in_flight -= b->n - left;
        b->n = left;
        if (left == 0)
            *b = u->batches[--u->n_batches];
        else
            k++;
    }
}

/* Read the dwellings' consent again when a consent or tenancy was written
 * since the last read, UL_CONSENT_MS passed or force; hand it to the
 * harvest and delete the waiting hourly items of every dwelling that lost
 * it (at the first read: of every dwelling without it).  0, or -errno
 * (logged once until a refresh works again; the harvest must wait). */
static int consent_refresh(struct uplink *u, bool force)
{
    const struct foyer_config *cfg = u->cfg;
    int64_t now_ms = tu_mono_ms(), mark = 0;
    int rc = store_uplink_consent_mark(u->db, &mark);
    if (rc == 0 && !force && u->consent_read && mark == u->consent_mark &&
        now_ms - u->consent_ms < UL_CONSENT_MS)
        return 0;
    if (rc < 0) {
        if (!u->consent_failing)
            log_warn("uplink: %s: cannot see whether a consent changed: %s; nothing is queued "
                     "until it can",
                     cfg->database, store_uplink_errmsg(u->db));
        u->consent_failing = true;
        return rc;
    }
    rc = store_consent_load_curve(u->ro, cfg, tu_now_s(), u->consent_new);
    if (rc < 0) {
        if (!u->consent_failing)
            log_warn("uplink: %s: cannot read the dwellings' consent: %s; nothing is queued "
                     "until it can",
                     cfg->database, store_errmsg(u->ro));
        u->consent_failing = true;
        return rc;
    }
    bool lost = false;
    for (size_t d = 0; d < cfg->n_dwellings; d++) {
        bool was = u->consent_read ? u->consent[d] : true, now = u->consent_new[d];
        if (was != now && u->consent_read)
            log_info("uplink: dwelling %s: load-curve consent %s: its hourly figures %s",
                     cfg->dwellings[d].id, now ? "given" : "withdrawn",
                     now ? "leave from now on" : "no longer leave the gateway");
        lost = lost || (was && !now);
    }
    rc = store_uplink_set_consent(u->db, cfg, u->consent_new);
    if (rc < 0) {
        log_warn("uplink: %s: out of memory for the consents", cfg->database);
        return rc;
    }
    if (cfg->n_dwellings)
        memcpy(u->consent, u->consent_new, cfg->n_dwellings * sizeof(*u->consent));
    if (u->consent_failing)
        log_info("uplink: %s: the dwellings' consent read again", cfg->database);
    u->consent_failing = false;
    u->consent_read = true;
    u->consent_ms = now_ms;
    u->consent_mark = mark;
    if (lost) {
        int64_t n = 0;
        rc = store_uplink_withhold_hours(u->db, cfg, &n);
        if (rc < 0) {
            /* Read again next time, to delete them then. */
            u->consent_read = false;
            if (!u->consent_failing)
                log_warn("uplink: %s: cannot delete the waiting hourly items of dwellings without "
                         "consent: %s; nothing is queued until it can",
                         cfg->database, store_uplink_errmsg(u->db));
            u->consent_failing = true;
            return rc;
        }
        if (n > 0)
            log_info("uplink: %lld hourly items of dwellings without consent withdrawn from the "
                     "outbox",
                     (long long)n);
    }
    return 0;
}

static void refresh_depth(struct uplink *u)
{
    int64_t items = 0, oldest = 0;
    if (store_uplink_depth(u->db, &items, &oldest) == 0) {
        atomic_store(&u->depth, items);
        atomic_store(&u->oldest_s, oldest);
    }
}

static void *uplink_main(void *arg)
{
    struct uplink *u = arg;
    const struct uplink_conf *c = &u->cfg->uplink;
    int64_t next_connect_ms = 0, backoff_s = 1, connect_ms = 0, harvest_ms = 0, depth_ms = 0;
    int64_t db_retry_ms = 0;
    bool harvest_more = false, full = false;
    int last_err = 0;
    struct ul_range *taken = calloc(FOYER_UPLINK_ACK_RANGES_MAX, sizeof(*taken));

    pthread_setname_np(pthread_self(), "foyer-uplink");
    if (!taken) {
        log_err("uplink: out of memory; the uplink is stopped");
        return NULL;
    }
    pthread_mutex_lock(&u->lock);
    while (!u->stop) {
        size_t n_taken = u->n_acks;
        memcpy(taken, u->acks, n_taken * sizeof(*taken));
        u->n_acks = 0;
        pthread_mutex_unlock(&u->lock);

        int64_t now_ms = tu_mono_ms();
        if (n_taken)
            apply_acks(u, taken, n_taken);

        /* The connection's life, as the MQTT driver's supervisor. */
        if (atomic_load(&u->need_restart)) {
            atomic_store(&u->need_restart, false);
            stop_loop(u);
            int rc = atomic_load(&u->net_rc), refused = atomic_exchange(&u->connack_rc, 0);
            if (refused)
                rc = refused;
            if (atomic_load(&u->fallback_311)) {
                log_warn("uplink: %s:%d refuses MQTT 5; falling back to MQTT 3.1.1", c->host,
                         c->port);
                next_connect_ms = now_ms;
            } else {
                if (rc != last_err)
                    log_warn("uplink: connection to %s:%d %s: %s; retrying with backoff up to "
                             "%d s",
                             c->host, c->port,
                             refused                         ? "refused"
                             : atomic_load(&u->connack_seen) ? "lost"
                                                             : "failed",
                             refused && u->protocol == MQTT_PROTOCOL_V5
                                 ? mosquitto_reason_string(refused)
                             : refused ? mosquitto_connack_string(refused)
                                       : mosq_err_text(rc, atomic_load(&u->net_errno)),
                             UL_BACKOFF_MAX_S);
                last_err = rc;
                next_connect_ms = now_ms + backoff_s * 1000;
                backoff_s = tu_backoff_next(backoff_s, UL_BACKOFF_MAX_S);
            }
        }
        if (u->loop_running && !atomic_load(&u->connack_seen) &&
            now_ms - connect_ms > UL_CONNACK_TIMEOUT_MS) {
            if (last_err != UL_ERR_NO_CONNACK)
                log_warn("uplink: cannot connect to %s:%d: no answer to CONNECT within %d s; "
                         "retrying with backoff up to %d s",
                         c->host, c->port, UL_CONNACK_TIMEOUT_MS / 1000, UL_BACKOFF_MAX_S);
            last_err = UL_ERR_NO_CONNACK;
            stop_loop(u);
            next_connect_ms = now_ms + backoff_s * 1000;
            backoff_s = tu_backoff_next(backoff_s, UL_BACKOFF_MAX_S);
        }
        if (!u->loop_running && now_ms >= next_connect_ms) {
            atomic_store(&u->connack_seen, false);
            connect_ms = now_ms;
            int rc = do_connect(u);
            if (rc != MOSQ_ERR_SUCCESS) {
                if (rc != last_err)
                    log_warn("uplink: cannot connect to %s:%d: %s; retrying with backoff up to "
                             "%d s",
                             c->host, c->port, mosq_err_text(rc, errno), UL_BACKOFF_MAX_S);
                last_err = rc;
                next_connect_ms = now_ms + backoff_s * 1000;
                backoff_s = tu_backoff_next(backoff_s, UL_BACKOFF_MAX_S);
            }
        }
        bool connected = atomic_load(&u->connected);
        if (atomic_exchange(&u->new_session, false)) {
            /* Every waiting item goes again, from the oldest. */
            log_info("uplink: connected to %s:%d as %s (MQTT %s); sending from the oldest "
                     "waiting item",
                     c->host, c->port, u->client_id,
                     u->protocol == MQTT_PROTOCOL_V5 ? "5" : "3.1.1");
            forget_batches(u);
            backoff_s = 1;
            last_err = 0;
        }

        /* Queue what changed. */
        if (now_ms >= db_retry_ms && (harvest_more || now_ms - harvest_ms >= UL_HARVEST_MS)) {
            struct store_uplink_harvest h;
            int64_t now_s = tu_now_s();
            harvest_ms = now_ms;
            int rc = consent_refresh(u, false);
            if (rc < 0) {
                db_retry_ms = now_ms + UL_DB_RETRY_MS;
                harvest_more = false;
            } else if ((rc = store_uplink_harvest(u->db, u->cfg, now_s, &h)) < 0) {
                log_warn("uplink: %s: cannot queue items: %s; retrying in %d s", u->cfg->database,
                         store_uplink_errmsg(u->db), UL_DB_RETRY_MS / 1000);
                db_retry_ms = now_ms + UL_DB_RETRY_MS;
                harvest_more = false;
            } else {
                atomic_fetch_add(&u->queued, h.rollups + h.events + h.devices + h.alerts);
                atomic_fetch_add(&u->withheld, h.withheld);
                harvest_more = h.more > 0;
                if (h.more < 0 && !full)
                    log_warn("uplink: the outbox holds %d items: new ones wait (as changed "
                             "periods and an event cursor) until the collector acks",
                             FOYER_UPLINK_OUTBOX_MAX);
                full = h.more < 0;
            }
        }

        if (connected && now_ms >= db_retry_ms) {
            if (resend_timed_out(u) < 0 || send_new(u) < 0)
                db_retry_ms = now_ms + UL_DB_RETRY_MS / 4;
        }
        if (now_ms - depth_ms >= UL_HARVEST_MS) {
            depth_ms = now_ms;
            refresh_depth(u);
        }

        pthread_mutex_lock(&u->lock);
        if (u->stop)
            break;
        if (!u->n_acks && !harvest_more) {
            struct timespec ts = tu_mono_timespec(tu_mono_ms() + UL_TICK_MS);
            (void)pthread_cond_timedwait(&u->wake, &u->lock, &ts);
        }
    }
    pthread_mutex_unlock(&u->lock);
    stop_loop(u);
    refresh_depth(u);
    free(taken);
    return NULL;
}

/* ---- setup ------------------------------------------------------------ */

static void uplink_free(struct uplink *u)
{
    if (!u)
        return;
    if (u->mosq)
        mosquitto_destroy(u->mosq);
    if (u->lib_init)
        mosquitto_lib_cleanup();
    mosquitto_property_free_all(&u->connect_props);
    store_uplink_close(u->db);
    store_close(u->ro);
    free(u->consent);
    free(u->consent_new);
    free(u->batches);
    free(u->acks);
    free(u->msg);
    pthread_mutex_destroy(&u->lock);
    pthread_cond_destroy(&u->wake);
    free(u);
}

/* The MQTT client: identity, credentials, TLS, callbacks.  0 or -errno
 * (logged). */
static int setup_client(struct uplink *u)
{
    const struct uplink_conf *c = &u->cfg->uplink;
    int rc;

    u->mosq = mosquitto_new(u->client_id, false, u);
    if (!u->mosq) {
        log_err("uplink: cannot create the MQTT client: %s", strerror(errno ? errno : ENOMEM));
        return -ENOMEM;
    }
    u->protocol = c->protocol == 311 ? MQTT_PROTOCOL_V311 : MQTT_PROTOCOL_V5;
    (void)mosquitto_int_option(u->mosq, MOSQ_OPT_PROTOCOL_VERSION, u->protocol);
    (void)mosquitto_int_option(u->mosq, MOSQ_OPT_TCP_NODELAY, 1);
    if (mosquitto_property_add_int32(&u->connect_props, MQTT_PROP_SESSION_EXPIRY_INTERVAL,
                                     (uint32_t)c->session_expiry_s) != MOSQ_ERR_SUCCESS)
        return -ENOMEM;
    (void)mosquitto_threaded_set(u->mosq, true);
    if (c->username) {
        if (c->password_file) {
            rc = conf_read_secret(c->password_file, u->password, sizeof(u->password));
            if (rc < 0) {
                log_err("uplink: %s: cannot read the password: %s", c->password_file,
                        rc == -EMSGSIZE  ? "too long"
                        : rc == -EINVAL  ? "not a regular file (a FIFO, socket or device)"
                        : rc == -ENODATA ? "its first line is empty"
                                         : strerror(-rc));
                return rc;
            }
        }
        if (mosquitto_username_pw_set(u->mosq, c->username,
                                      c->password_file ? u->password : NULL) != MOSQ_ERR_SUCCESS) {
            log_err("uplink: bad username");
            return -EINVAL;
        }
    }
    if (c->tls) {
        if (c->ca_file)
            rc = mosquitto_tls_set(u->mosq, c->ca_file, NULL, c->cert_file, c->key_file, NULL);
        else
            rc = mosquitto_int_option(u->mosq, MOSQ_OPT_TLS_USE_OS_CERTS, 1);
        if (rc == MOSQ_ERR_SUCCESS && !c->ca_file && c->cert_file)
            rc =
                mosquitto_tls_set(u->mosq, NULL, "/etc/ssl/certs", c->cert_file, c->key_file, NULL);
        if (rc == MOSQ_ERR_SUCCESS)
            rc = mosquitto_tls_opts_set(u->mosq, c->tls_verify ? 1 : 0, NULL, NULL);
        if (rc == MOSQ_ERR_SUCCESS && !c->tls_verify)
            rc = mosquitto_tls_insecure_set(u->mosq, true);
        if (rc != MOSQ_ERR_SUCCESS) {
            log_err("uplink: TLS setup failed (ca_file %s, cert_file %s): %s",
                    c->ca_file ? c->ca_file : "(system)", c->cert_file ? c->cert_file : "(none)",
                    rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
            return -EINVAL;
        }
    }
    mosquitto_connect_v5_callback_set(u->mosq, on_connect);
    mosquitto_disconnect_v5_callback_set(u->mosq, on_disconnect);
    mosquitto_message_v5_callback_set(u->mosq, on_message);
    return 0;
}

struct uplink *uplink_start(const struct foyer_config *cfg, int *ret_err)
{
    const struct uplink_conf *c = &cfg->uplink;
    const char *msg = NULL;
    int rc;

    *ret_err = 0;
    if (!c->enabled)
        return NULL;
    struct uplink *u = calloc(1, sizeof(*u));
    if (!u) {
        *ret_err = -ENOMEM;
        log_err("uplink: out of memory");
        return NULL;
    }
    u->cfg = cfg;
    pthread_mutex_init(&u->lock, NULL);
    (void)tu_cond_init_monotonic(&u->wake);
    u->batches = calloc((size_t)c->max_in_flight, sizeof(*u->batches));
    u->acks = calloc(FOYER_UPLINK_ACK_RANGES_MAX, sizeof(*u->acks));
    u->msg = malloc(FOYER_UPLINK_MSG_MAX);
    u->consent = calloc(cfg->n_dwellings + 1, sizeof(*u->consent));
    u->consent_new = calloc(cfg->n_dwellings + 1, sizeof(*u->consent_new));
    if (!u->batches || !u->acks || !u->msg || !u->consent || !u->consent_new) {
        rc = -ENOMEM;
        log_err("uplink: out of memory");
        goto out_free;
    }
    if (c->client_id)
        (void)snprintf(u->client_id, sizeof(u->client_id), "%s", c->client_id);
    else
        (void)snprintf(u->client_id, sizeof(u->client_id), "foyer-uplink-%s", c->gateway_id);
    (void)snprintf(u->topic_items, sizeof(u->topic_items), "foyer/v1/%s/items", c->gateway_id);
    (void)snprintf(u->topic_ack, sizeof(u->topic_ack), "foyer/v1/%s/ack", c->gateway_id);
    rc = store_uplink_open(cfg->database, &u->db, &msg);
    if (rc < 0) {
        log_err("uplink: %s: cannot open the database: %s", cfg->database,
                msg ? msg : strerror(-rc));
        goto out_free;
    }
    rc = store_open_readonly(cfg->database, cfg, &u->ro, &msg);
    if (rc < 0) {
        log_err("uplink: %s: cannot open the database to read the consents: %s", cfg->database,
                msg ? msg : strerror(-rc));
        goto out_free;
    }
    /* Before anything is sent: what waits of a consent withdrawn while
     * foyerd was stopped goes now. */
    rc = consent_refresh(u, true);
    if (rc < 0)
        goto out_free;
    /* Seqs above the clock in microseconds (store_uplink_seq_floor() says
     * why): at most a million items a second keep them ahead of any seq
     * handed out before a restore. */
    rc = store_uplink_seq_floor(u->db, tu_now_s() * UL_SEQ_PER_S, NULL);
    if (rc < 0) {
        log_err("uplink: %s: cannot set the next sequence number: %s", cfg->database,
                store_uplink_errmsg(u->db));
        goto out_free;
    }
    mosquitto_lib_init();
    u->lib_init = true;
    rc = setup_client(u);
    if (rc < 0)
        goto out_free;
    refresh_depth(u);
    if (pthread_create(&u->thread, NULL, uplink_main, u) != 0) {
        rc = -EAGAIN;
        log_err("uplink: cannot start its thread");
        goto out_free;
    }
    u->thread_started = true;
    log_info("uplink: gateway %s to %s:%d%s; %lld items waiting", c->gateway_id, c->host, c->port,
             c->tls ? " (TLS)" : "", (long long)atomic_load(&u->depth));
    return u;

out_free:
    uplink_free(u);
    *ret_err = rc;
    return NULL;
}

void uplink_get_stats(struct uplink *u, struct uplink_stats *ret)
{
    *ret = (struct uplink_stats){0};
    if (!u)
        return;
    ret->queued = atomic_load(&u->queued);
    ret->withheld = atomic_load(&u->withheld);
    ret->sent = atomic_load(&u->sent);
    ret->resent = atomic_load(&u->resent);
    ret->acked = atomic_load(&u->acked);
    ret->rejected = atomic_load(&u->rejected);
    ret->messages = atomic_load(&u->messages);
    ret->acks = atomic_load(&u->n_acks_taken);
    ret->acks_bad = atomic_load(&u->acks_bad);
    ret->acks_dropped = atomic_load(&u->acks_dropped);
    ret->depth = atomic_load(&u->depth);
    ret->oldest_s = atomic_load(&u->oldest_s);
    ret->connected = atomic_load(&u->connected);
}

void uplink_stop(struct uplink *u, struct uplink_stats *ret_final)
{
    if (!u) {
        if (ret_final)
            *ret_final = (struct uplink_stats){0};
        return;
    }
    if (u->thread_started) {
        pthread_mutex_lock(&u->lock);
        u->stop = true;
        pthread_cond_signal(&u->wake);
        pthread_mutex_unlock(&u->lock);
        pthread_join(u->thread, NULL);
    }
    if (ret_final)
        uplink_get_stats(u, ret_final);
    uplink_free(u);
}
