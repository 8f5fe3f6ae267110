/*
 * mqtt_pub.c - simulated MQTT sensors for the demo, the tests and the bench.
 *
 * Publishes Zigbee2MQTT-, Tasmota- or Shelly-Gen2-shaped payloads (or bare
 * numbers) for N devices, with plausible values, to a broker with
 * libmosquitto.  The topic is a template in which "{}" is the device name
 * (PREFIX0, PREFIX1, ...).
 *
 *   continuous (default): publishes at --rate messages/s until SIGTERM, each
 *     message stamped with the current time.
 *   --count N: publishes exactly N numbered messages, device k % devices
 *     taking its j-th message (j = k / devices) with payload timestamp
 *     ts_base + j and values derived from j (so a test knows every reading),
 *     waits until the broker acknowledged all of them (QoS 1) and exits.
 *     Publishing goes on through broker restarts: a message refused while
 *     disconnected is retried, libmosquitto resends unacknowledged ones.
 *   --fuzz B: with --count, also publishes B malformed payloads (random
 *     bytes, truncated JSON, deep nesting, huge numbers, NaN, wrong types,
 *     oversized, absurd timestamps, out of range, no mapped field) spread
 *     among the valid ones, each refused whole by foyerd's z2m mapping.
 *
 * Flow control, so that a flat-out QoS 1 run is limited by the broker and
 * not by this program: each connection keeps at most --window messages in
 * flight (published, not yet acknowledged) and waits for acks beyond that,
 * instead of queueing everything inside libmosquitto: there, the 16-bit
 * message ids of more than 65 535 queued messages wrap, acks were counted
 * once per id, and a flat-out run of 200 000 waited out its 60 s for acks
 * it had miscounted.  --connections spreads the devices over several
 * clients, each with its own thread and socket, device d on connection
 * d % C so that a device's messages keep their order.
 *
 * Prints "published N acked N bad B" on stdout at the end; with -v, also
 * the time and rate on stderr.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <mosquitto.h>

#include "households.h"

enum shape { SH_Z2M, SH_TASMOTA, SH_SHELLY, SH_NUMBER, SH_SMALL };

struct opts {
    const char *host;
    int port;
    const char *topic;
    const char *prefix;
    enum shape shape;
    long devices;
    long count;  /* 0: continuous */
    double rate; /* messages/s, 0: as fast as possible */
    int qos;
    const char *id;
    long long ts_base;
    long fuzz;
    unsigned seed;
    long window; /* messages in flight per connection */
    long conns;  /* connections (clients) */
    bool verbose;
    bool households; /* -B: z2m comfort of device i from households[i] (households.h) */
};

/* MQTT message ids are 16-bit: a window below this never reuses an id
 * still in flight. */
#define PUB_WINDOW_MAX 65000

/* One client connection and the thread publishing its devices' messages. */
struct conn {
    const struct opts *o;
    long index;
    char id[128];
    struct mosquitto *m;
    pthread_t thread;
    /* Acknowledged messages, each counted once: libmosquitto may report a
     * message resent after a reconnect twice.  pending marks the message
     * ids in flight; lock spans mosquitto_publish() so an ack cannot come
     * before its id is marked. */
    pthread_mutex_t lock;
    pthread_cond_t acked_cond; /* signalled on each ack */
    unsigned char pending[65536];
    long inflight; /* marked in pending */
    long acked;
    long published, bad; /* by this connection's thread only */
};

/* Set by SIGTERM and SIGINT, read by every thread (lock-free: signal-safe). */
static atomic_bool stop;

static void on_stop(int sig)
{
    (void)sig;
    stop = true;
}

static void on_publish(struct mosquitto *m, void *obj, int mid)
{
    struct conn *c = obj;
    (void)m;
    pthread_mutex_lock(&c->lock);
    if (c->pending[mid & 0xffff]) {
        c->pending[mid & 0xffff] = 0;
        c->inflight--;
        c->acked++;
        pthread_cond_signal(&c->acked_cond);
    }
    pthread_mutex_unlock(&c->lock);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The topic for device d: the template with "{}" replaced by PREFIXd. */
static void make_topic(const struct opts *o, long d, char *buf, size_t len)
{
    const char *at = strstr(o->topic, "{}");
    if (!at)
        (void)snprintf(buf, len, "%s", o->topic);
    else
        (void)snprintf(buf, len, "%.*s%s%ld%s", (int)(at - o->topic), o->topic, o->prefix, d,
                       at + 2);
}

static void iso_utc(long long ts, char *buf, size_t len)
{
    time_t t = (time_t)ts;
    struct tm tm;
    gmtime_r(&t, &tm);
    if (!strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
        buf[0] = '\0';
}

/* A valid payload for sequence j of device d, stamped ts. */
static int make_payload(const struct opts *o, long d, long j, long long ts, char *buf, size_t len)
{
    char iso[40];
    iso_utc(ts, iso, sizeof(iso));
    switch (o->shape) {
    case SH_Z2M:
        if (o->households) {
            /* the building of the demo's history: the same household
             * makes the same comfort, live and past */
            const struct household *hh = household_of(d);
            time_t t = (time_t)ts;
            struct tm tm;
            localtime_r(&t, &tm);
            double noise = (double)((j * 7919 + d * 104729) % 1000) / 1000.0 - 0.5;
            return snprintf(
                buf, len,
                "{\"temperature\":%.2f,\"humidity\":%.1f,\"linkquality\":%ld,\"time\":%lld}",
                household_temperature(hh, tm.tm_hour, household_outdoor_c(t), noise),
                household_humidity(hh, tm.tm_hour, noise), 60 + j % 100, ts);
        }
        return snprintf(buf, len,
                        "{\"temperature\":%.2f,\"humidity\":%.1f,\"linkquality\":%ld,"
                        "\"time\":%lld}",
                        18.0 + (double)(j % 50) / 10.0, 40.0 + (double)(j % 20), 60 + j % 100, ts);
    case SH_TASMOTA:
        return snprintf(buf, len,
                        "{\"Time\":\"%s\",\"ENERGY\":{\"TotalStartTime\":\"2023-01-01T00:00:00\","
                        "\"Total\":%.3f,\"Yesterday\":1.234,\"Today\":0.567,\"Power\":%ld,"
                        "\"ApparentPower\":%ld,\"ReactivePower\":12,\"Factor\":0.95,"
                        "\"Voltage\":231,\"Current\":0.512}}",
                        iso, 100.0 + (double)j * 0.01, 100 + j % 50, 110 + j % 50);
    case SH_SHELLY:
        return snprintf(buf, len,
                        "{\"id\":0,\"source\":\"timer\",\"output\":true,\"apower\":%.1f,"
                        "\"voltage\":230.4,\"current\":0.52,\"aenergy\":{\"total\":%.3f,"
                        "\"by_minute\":[12.1,11.9,12.0],\"minute_ts\":%lld},"
                        "\"temperature\":{\"tC\":41.2,\"tF\":106.2}}",
                        5.0 + (double)(j % 100), 10000.0 + (double)j * 10.0, ts);
    case SH_SMALL: /* the bench's ~55-byte message */
        return snprintf(buf, len, "{\"temperature\":%.2f,\"humidity\":%.1f,\"time\":%lld}",
                        18.0 + (double)(j % 50) / 10.0, 40.0 + (double)(j % 20), ts);
    case SH_NUMBER:
    default:
        return snprintf(buf, len, "%.2f", 18.0 + (double)(j % 50) / 10.0);
    }
}

/* A small PRNG (xorshift64) whose state is the caller's: the k-th bad
 * payload is the same whichever thread makes it. */
static uint32_t next_rand(uint64_t *st)
{
    *st ^= *st << 13;
    *st ^= *st >> 7;
    *st ^= *st << 17;
    return (uint32_t)(*st >> 32);
}

/* The k-th malformed payload; each is refused whole by the z2m mapping with
 * timestamp_field = time. */
static size_t make_bad(long k, unsigned seed, long long ts, char *buf, size_t len)
{
    size_t n = 0;
    int r = 0;
    uint64_t st = ((uint64_t)seed << 32 | (uint64_t)k) * 0x9e3779b97f4a7c15u | 1u;
    switch (k % 12) {
    case 0: /* random bytes, not starting like JSON */
        n = 8 + (size_t)(next_rand(&st) % 40);
        buf[0] = (char)0xff;
        for (size_t i = 1; i < n; i++)
            buf[i] = (char)(next_rand(&st) & 0xff);
        return n;
    case 1:
        r = snprintf(buf, len, "{\"temperature\":21.5,\"humid");
        break;
    case 2: /* deep nesting */
        for (n = 0; n < 200 && n < len - 1; n++)
            buf[n] = '[';
        return n;
    case 3:
        r = snprintf(buf, len, "{\"temperature\":1e999,\"time\":%lld}", ts);
        break;
    case 4:
        r = snprintf(buf, len, "{\"temperature\":NaN,\"time\":%lld}", ts);
        break;
    case 5:
        r = snprintf(buf, len, "{\"temperature\":\"warm\",\"time\":%lld}", ts);
        break;
    case 6: /* oversized */
        n = len - 1 < 20000 ? len - 1 : 20000;
        memset(buf, ' ', n);
        buf[0] = '{';
        buf[n - 1] = '}';
        return n;
    case 7:
        r = snprintf(buf, len, "{\"temperature\":20.5,\"time\":%lld}", ts + 10 * 86400);
        break;
    case 8:
        r = snprintf(buf, len, "{\"temperature\":20.5,\"time\":\"1970-01-02T00:00:00Z\"}");
        break;
    case 9:
        r = snprintf(buf, len, "{\"temperature\":1e6,\"time\":%lld}", ts);
        break;
    case 10:
        r = snprintf(buf, len, "{\"battery\":90,\"linkquality\":120,\"time\":%lld}", ts);
        break;
    default:
        r = snprintf(buf, len, "{\"temperature\":123456789012345678901234567890,\"time\":%lld}",
                     ts);
        break;
    }
    return r < 0 ? 0 : (size_t)r;
}

/* Wait on c->lock (held) until the window has room or stop. */
static void wait_window(struct conn *c)
{
    while (c->inflight >= c->o->window && !stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 100000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        (void)pthread_cond_timedwait(&c->acked_cond, &c->lock, &until);
    }
}

static void publish_retry(struct conn *c, const char *topic, const void *payload, size_t len)
{
    for (;;) {
        int mid = 0, rc;
        pthread_mutex_lock(&c->lock);
        wait_window(c);
        rc = mosquitto_publish(c->m, &mid, topic, (int)len, payload, c->o->qos, false);
        if (rc == MOSQ_ERR_SUCCESS && !c->pending[mid & 0xffff]) {
            c->pending[mid & 0xffff] = 1;
            c->inflight++;
        }
        pthread_mutex_unlock(&c->lock);
        if (rc == MOSQ_ERR_SUCCESS || stop)
            return;
        if (rc == MOSQ_ERR_PAYLOAD_SIZE || rc == MOSQ_ERR_INVAL) {
            fprintf(stderr, "mqtt_pub: %s: %s\n", topic, mosquitto_strerror(rc));
            return;
        }
        sleep_ms(20);
    }
}

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: foyer-mqtt-pub -p PORT [options]\n"
            "  -H HOST     broker (127.0.0.1)\n"
            "  -p PORT     broker port\n"
            "  -t TOPIC    topic template, {} = device name (zigbee2mqtt/{})\n"
            "  -P PREFIX   device name prefix (s): s0, s1, ...\n"
            "  -s SHAPE    z2m | tasmota | shelly | number | small (z2m)\n"
            "  -n N        devices (1)\n"
            "  -c N        publish exactly N messages, wait for their acks, exit\n"
            "  -r RATE     messages per second over all devices (1; 0 = flat out)\n"
            "  -q QOS      0, 1 or 2 (1)\n"
            "  -i ID       client id (foyer-mqtt-pub-PID)\n"
            "  -b TS       count mode: payload timestamp of the first message of each\n"
            "              device, epoch s (now - count/devices - 60)\n"
            "  -f B        count mode: also publish B malformed payloads\n"
            "  -S SEED     random seed for -f (1)\n"
            "  -w N        messages in flight per connection, 1-%d (1000)\n"
            "  -C N        connections, devices spread over them (1); client ids\n"
            "              ID, ID-1, ID-2, ...\n"
            "  -B          z2m: device i reports the comfort of households[i] of\n"
            "              tests/sim/households.h (the demo's history), not a sawtooth\n"
            "  -v          print the time and rate on stderr at the end\n",
            PUB_WINDOW_MAX);
}

/* Connection c's share of the messages: those of devices d % conns == c, in
 * the global order k (so --rate paces the whole, and a count run publishes
 * the same messages whatever the number of connections). */
static void *conn_main(void *arg)
{
    struct conn *c = arg;
    const struct opts *o = c->o;
    char payload[24 * 1024];
    char topic[256];
    long fuzz_every = o->fuzz > 0 ? (o->count + o->fuzz - 1) / o->fuzz : 0;
    double t0 = now_s();

    for (long k = 0; !stop && (o->count == 0 || k < o->count); k++) {
        long d = k % o->devices, j = k / o->devices;
        if (d % o->conns != c->index)
            continue;
        if (o->rate > 0) {
            double due = t0 + (double)k / o->rate, wait = due - now_s();
            if (wait > 0)
                sleep_ms((long)(wait * 1000));
        }
        long long ts = o->count ? o->ts_base + j : (long long)time(NULL);
        int n = make_payload(o, d, j, ts, payload, sizeof(payload));
        make_topic(o, d, topic, sizeof(topic));
        if (n > 0)
            publish_retry(c, topic, payload, (size_t)n);
        c->published++;
        long b = fuzz_every ? k / fuzz_every : 0;
        if (fuzz_every && b < o->fuzz && k % fuzz_every == fuzz_every / 2) {
            size_t bn = make_bad(b, o->seed, ts, payload, sizeof(payload));
            publish_retry(c, topic, payload, bn);
            c->published++;
            c->bad++;
        }
    }
    /* Count mode: wait until the broker acknowledged everything. */
    if (o->qos > 0) {
        double end = now_s() + 60;
        pthread_mutex_lock(&c->lock);
        while (!stop && c->acked < c->published && now_s() < end) {
            pthread_mutex_unlock(&c->lock);
            sleep_ms(10);
            pthread_mutex_lock(&c->lock);
        }
        pthread_mutex_unlock(&c->lock);
    }
    return NULL;
}

static int conn_open(struct conn *c)
{
    /* A persistent session: QoS 1 messages survive our reconnects. */
    c->m = mosquitto_new(c->id, false, c);
    if (!c->m) {
        fprintf(stderr, "mqtt_pub: cannot create a client\n");
        return -1;
    }
    mosquitto_publish_callback_set(c->m, on_publish);
    (void)mosquitto_reconnect_delay_set(c->m, 1, 2, false);
    (void)mosquitto_int_option(c->m, MOSQ_OPT_SEND_MAXIMUM, (int)c->o->window);
    (void)mosquitto_int_option(c->m, MOSQ_OPT_TCP_NODELAY, 1);
    while (mosquitto_connect(c->m, c->o->host, c->o->port, 60) != MOSQ_ERR_SUCCESS) {
        if (stop)
            return -1;
        sleep_ms(100);
    }
    return mosquitto_loop_start(c->m) == MOSQ_ERR_SUCCESS ? 0 : -1;
}

int main(int argc, char **argv)
{
    struct opts o = {.host = "127.0.0.1",
                     .topic = "zigbee2mqtt/{}",
                     .prefix = "s",
                     .devices = 1,
                     .rate = 1,
                     .qos = 1,
                     .seed = 1,
                     .ts_base = -1,
                     .window = 1000,
                     .conns = 1};
    char idbuf[64];
    int c;

    while ((c = getopt(argc, argv, "H:p:t:P:s:n:c:r:q:i:b:f:S:w:C:Bvh")) != -1) {
        switch (c) {
        case 'H':
            o.host = optarg;
            break;
        case 'p':
            o.port = atoi(optarg);
            break;
        case 't':
            o.topic = optarg;
            break;
        case 'P':
            o.prefix = optarg;
            break;
        case 's':
            if (strcmp(optarg, "z2m") == 0)
                o.shape = SH_Z2M;
            else if (strcmp(optarg, "tasmota") == 0)
                o.shape = SH_TASMOTA;
            else if (strcmp(optarg, "shelly") == 0)
                o.shape = SH_SHELLY;
            else if (strcmp(optarg, "number") == 0)
                o.shape = SH_NUMBER;
            else if (strcmp(optarg, "small") == 0)
                o.shape = SH_SMALL;
            else {
                usage(stderr);
                return 2;
            }
            break;
        case 'n':
            o.devices = atol(optarg);
            break;
        case 'c':
            o.count = atol(optarg);
            break;
        case 'r':
            o.rate = atof(optarg);
            break;
        case 'q':
            o.qos = atoi(optarg);
            break;
        case 'i':
            o.id = optarg;
            break;
        case 'b':
            o.ts_base = atoll(optarg);
            break;
        case 'f':
            o.fuzz = atol(optarg);
            break;
        case 'S':
            o.seed = (unsigned)atol(optarg);
            break;
        case 'w':
            o.window = atol(optarg);
            break;
        case 'C':
            o.conns = atol(optarg);
            break;
        case 'v':
            o.verbose = true;
            break;
        case 'B':
            o.households = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (o.port <= 0 || o.devices <= 0 || o.count < 0 || o.qos < 0 || o.qos > 2 || o.rate < 0 ||
        o.window < 1 || o.window > PUB_WINDOW_MAX || o.conns < 1) {
        usage(stderr);
        return 2;
    }
    if (o.ts_base < 0)
        o.ts_base = (long long)time(NULL) - o.count / o.devices - 60;
    if (o.conns > o.devices)
        o.conns = o.devices; /* a connection without a device has nothing to send */
    if (!o.id) {
        (void)snprintf(idbuf, sizeof(idbuf), "foyer-mqtt-pub-%ld", (long)getpid());
        o.id = idbuf;
    }
    signal(SIGTERM, on_stop);
    signal(SIGINT, on_stop);

    struct conn *conns = calloc((size_t)o.conns, sizeof(*conns));
    if (!conns) {
        fprintf(stderr, "mqtt_pub: out of memory\n");
        return 1;
    }
    mosquitto_lib_init();
    int rc = 0;
    long n_open = 0;
    for (long i = 0; i < o.conns; i++) {
        struct conn *x = &conns[i];
        x->o = &o;
        x->index = i;
        pthread_mutex_init(&x->lock, NULL);
        pthread_cond_init(&x->acked_cond, NULL);
        if (i == 0)
            (void)snprintf(x->id, sizeof(x->id), "%s", o.id);
        else
            (void)snprintf(x->id, sizeof(x->id), "%s-%ld", o.id, i);
        if (conn_open(x) < 0) {
            rc = 1;
            break;
        }
        n_open++;
    }
    double t0 = now_s();
    long started = 0;
    for (long i = 0; rc == 0 && i < n_open; i++) {
        if (pthread_create(&conns[i].thread, NULL, conn_main, &conns[i]) != 0) {
            fprintf(stderr, "mqtt_pub: cannot start a thread\n");
            stop = true;
            rc = 1;
            break;
        }
        started++;
    }
    long published = 0, acked = 0, bad = 0;
    for (long i = 0; i < started; i++)
        pthread_join(conns[i].thread, NULL);
    double t1 = now_s();
    for (long i = 0; i < o.conns; i++) {
        struct conn *x = &conns[i];
        if (x->m) {
            mosquitto_disconnect(x->m);
            mosquitto_loop_stop(x->m, false);
            mosquitto_destroy(x->m);
        }
        published += x->published;
        acked += x->acked;
        bad += x->bad;
        pthread_cond_destroy(&x->acked_cond);
        pthread_mutex_destroy(&x->lock);
    }
    free(conns);
    mosquitto_lib_cleanup();
    if (rc != 0)
        return rc;
    printf("published %ld acked %ld bad %ld\n", published, acked, bad);
    if (o.verbose)
        fprintf(stderr,
                "mqtt_pub: %ld messages (%ld acked) in %.3f s on %ld connections, window "
                "%ld: %.0f msg/s\n",
                published, acked, t1 - t0, o.conns, o.window,
                t1 > t0 ? (double)published / (t1 - t0) : 0.0);
    return o.qos > 0 && acked < published ? 1 : 0;
}
