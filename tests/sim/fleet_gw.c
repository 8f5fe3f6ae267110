/*
 * fleet_gw.c - simulated gateways of the fleet uplink (protocol in
 * docs/fleet.md), for the collector's tests and benchmark: a real MQTT
 * peer that publishes items and keeps each one until the collector has
 * acked it, resending the unacked ones after --ack-timeout-ms, oldest
 * first, with at most --max-in-flight unacked per gateway: what foyerd's
 * uplink does, without foyerd.
 *
 * Gateway g (ID PREFIXg) has --channels channels (cK, building bG, dwelling
 * dG-K/5) and, for each of --hours hours from --start, one hourly rollup per
 * channel; at each day's last hour, a daily rollup per channel (the day's
 * sum), one event and one device-health item; first of all one alert.
 * Values: hour h of channel c has sum = MULT * (1 + c % 7 + (h % 24) / 4.0)
 * (exact in binary), so --mult changes every value (a revision).  Seqs are
 * --seq-base + 1, + 2, ...  --bad K adds K malformed items (with seqs),
 * which must come back as rejected.  --rate paces new items (all gateways
 * together), so that a test can kill something while they flow.
 *
 * Exits 0 once every item is acked (or rejected, as many as --bad), 1 after
 * --timeout-s.  Prints on stdout:
 *   items N acked A rejected R resent X sum_hour S sum_day D elapsed_ms E
 *   rate_items_s R lag_ms_avg L lag_ms_max M
 * where lag is from an item's first publication to its ack.
 */
#include <getopt.h>
#include <jansson.h>
#include <mosquitto.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum kind { K_HOUR, K_DAY, K_EVENT, K_DEVICE, K_ALERT, K_BAD };

struct item {
    enum kind kind;
    int c, h;      /* channel, hour index */
    uint8_t state; /* 0 unsent, 1 in flight, 2 acked, 3 rejected */
    int64_t sent_ms, first_ms;
};

struct gw {
    char id[64];
    struct item *items;
    size_t n, lowest, next, in_flight;
};

static struct {
    const char *host, *prefix;
    int port, gateways, channels, hours, per_msg, max_in_flight, ack_timeout_ms, timeout_s, bad;
    long long start, seq_base;
    double mult;
    double rate; /* new items per second over all gateways, 0: flat out */
} o = {"127.0.0.1", "gw", 1883, 1, 5, 48, 500, 2000, 3000, 60, 0, 1700006400LL, 0, 1.0, 0};

static int64_t t_start_ms;
static size_t new_sent;

static struct gw *gws;
static size_t acked, rejected, resent;
static double lag_sum_ms;
static int64_t lag_max_ms;
static volatile sig_atomic_t stop;

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double hour_sum(int c, int h)
{
    return o.mult * (1 + c % 7 + (h % 24) / 4.0);
}

static void iso(long long t, char *buf, size_t len)
{
    time_t tt = (time_t)t;
    struct tm tm;

    gmtime_r(&tt, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%S+00:00", &tm);
}

static json_t *item_json(const struct gw *g, size_t i)
{
    const struct item *it = &g->items[i];
    long long seq = o.seq_base + (long long)i + 1, t;
    char ch[32], bld[32], dwl[48], start[40];
    double sum = 0;
    int gi = (int)(g - gws);

    snprintf(ch, sizeof(ch), "c%d", it->c);
    snprintf(bld, sizeof(bld), "b%d", gi);
    snprintf(dwl, sizeof(dwl), "d%d-%d", gi, it->c / 5);
    switch (it->kind) {
    case K_HOUR:
        t = o.start + 3600LL * it->h;
        iso(t, start, sizeof(start));
        return json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:f,s:i,s:f,s:f}", "seq",
                         seq, "type", "rollup", "gran", "hour", "channel", ch, "building", bld,
                         "dwelling", dwl, "quantity", "electricity", "kind", "counter", "unit",
                         "kWh", "start", start, "start_s", t, "sum", hour_sum(it->c, it->h), "n",
                         60, "min", 0.0, "max", 1.0);
    case K_DAY:
        t = o.start + 3600LL * (it->h - 23);
        iso(t, start, sizeof(start));
        for (int h = it->h - 23; h <= it->h; h++)
            sum += hour_sum(it->c, h);
        return json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:f,s:i,s:n,s:n,s:s}", "seq",
                         seq, "type", "rollup", "gran", "day", "channel", ch, "building", bld,
                         "dwelling", dwl, "quantity", "electricity", "kind", "counter", "unit",
                         "kWh", "start", start, "start_s", t, "sum", sum, "n", 1440, "min", "max",
                         "future_field", "ignored");
    case K_EVENT:
        return json_pack("{s:I,s:s,s:I,s:I,s:s,s:s,s:n,s:s,s:f}", "seq", seq, "type", "event", "id",
                         (long long)it->h, "time_s", o.start + 3600LL * it->h, "kind",
                         "counter_reset", "channel", ch, "device", "detail", "simulated", "value",
                         1.5);
    case K_DEVICE:
        return json_pack("{s:I,s:s,s:s,s:s,s:I,s:I,s:i,s:i,s:I}", "seq", seq, "type", "device",
                         "device", "meter0", "state", "ok", "since_s", o.start, "polls",
                         (long long)it->h * 60, "errors", 0, "timeouts", 0, "last_ok_s",
                         o.start + 3600LL * it->h);
    case K_ALERT:
        return json_pack("{s:I,s:s,s:i,s:s,s:s,s:s,s:s,s:n,s:s,s:I,s:n,s:n,s:s,s:s}", "seq", seq,
                         "type", "alert", "id", 1, "kind", "meter_silent", "severity", "warning",
                         "building", bld, "dwelling", dwl, "channel", "state", "open", "opened_s",
                         o.start, "acknowledged_s", "closed_s", "text_fr", "Compteur muet",
                         "text_en", "Meter silent");
    case K_BAD:
        /* A rollup whose sum is not a number: refused, acked as rejected. */
        return json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:s,s:i}", "seq", seq, "type",
                         "rollup", "gran", "hour", "channel", ch, "building", bld, "quantity",
                         "electricity", "kind", "counter", "unit", "kWh", "start",
                         "2023-11-15T00:00:00+00:00", "start_s", o.start, "sum", "lots", "n", 1);
    }
    return NULL;
}

static void build(struct gw *g)
{
    size_t cap = (size_t)o.hours * (size_t)o.channels * 2 + (size_t)o.hours + 16 + (size_t)o.bad;

    g->items = calloc(cap, sizeof(*g->items));
    if (!g->items)
        exit(2);
    g->items[g->n++] = (struct item){.kind = K_ALERT};
    for (int h = 0; h < o.hours; h++) {
        for (int c = 0; c < o.channels; c++)
            g->items[g->n++] = (struct item){.kind = K_HOUR, .c = c, .h = h};
        if (h % 24 == 23) {
            for (int c = 0; c < o.channels; c++)
                g->items[g->n++] = (struct item){.kind = K_DAY, .c = c, .h = h};
            g->items[g->n++] = (struct item){.kind = K_EVENT, .h = h};
            g->items[g->n++] = (struct item){.kind = K_DEVICE, .h = h};
        }
    }
    for (int b = 0; b < o.bad; b++)
        g->items[g->n++] = (struct item){.kind = K_BAD, .c = b};
}

static void mark(struct gw *g, long long from, long long to, uint8_t state)
{
    int64_t t = now_ms();

    for (long long s = from; s <= to; s++) {
        long long i = s - o.seq_base - 1;
        struct item *it;

        if (i < 0 || (size_t)i >= g->n)
            continue;
        it = &g->items[i];
        if (it->state >= 2)
            continue;
        if (it->state == 1)
            g->in_flight--;
        it->state = state;
        if (state == 2)
            acked++;
        else
            rejected++;
        lag_sum_ms += (double)(t - it->first_ms);
        if (t - it->first_ms > lag_max_ms)
            lag_max_ms = t - it->first_ms;
    }
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg)
{
    json_t *root = json_loadb(msg->payload, (size_t)msg->payloadlen, 0, NULL), *r;
    const char *gwid = json_string_value(json_object_get(root, "gateway"));
    size_t i, k;

    (void)m;
    (void)obj;
    for (k = 0; gwid && k < (size_t)o.gateways; k++)
        if (strcmp(gws[k].id, gwid) == 0)
            break;
    if (!gwid || k == (size_t)o.gateways) {
        fprintf(stderr, "fleet_gw: ack for an unknown gateway on %s\n", msg->topic);
        json_decref(root);
        return;
    }
    for (int st = 2; st <= 3; st++) {
        json_t *list = json_object_get(root, st == 2 ? "acked" : "rejected");
        for (i = 0; i < json_array_size(list); i++) {
            r = json_array_get(list, i);
            mark(&gws[k], json_integer_value(json_array_get(r, 0)),
                 json_integer_value(json_array_get(r, 1)), (uint8_t)st);
        }
    }
    json_decref(root);
}

static bool connected;

static void on_connect(struct mosquitto *m, void *obj, int rc)
{
    (void)obj;
    if (rc == 0) {
        connected = true;
        mosquitto_subscribe(m, NULL, "foyer/v1/+/ack", 1);
    }
}

static void on_disconnect(struct mosquitto *m, void *obj, int rc)
{
    (void)m;
    (void)obj;
    (void)rc;
    connected = false;
}

/* Publish the items listed in idx as one message. */
static void publish(struct mosquitto *m, struct gw *g, const size_t *idx, size_t n)
{
    json_t *arr = json_array(), *msg;
    char topic[128], *body;
    int64_t t = now_ms();

    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, item_json(g, idx[i]));
    msg = json_pack("{s:i,s:s,s:s,s:o}", "v", 1, "gateway", g->id, "sent", "2026-11-30T10:00:00Z",
                    "items", arr);
    body = json_dumps(msg, JSON_COMPACT);
    snprintf(topic, sizeof(topic), "foyer/v1/%s/items", g->id);
    if (mosquitto_publish(m, NULL, topic, (int)strlen(body), body, 1, false) != MOSQ_ERR_SUCCESS)
        t = 0; /* not sent: due again at once */
    for (size_t i = 0; i < n; i++) {
        struct item *it = &g->items[idx[i]];
        if (it->state == 0) {
            g->in_flight++;
            it->state = 1;
        }
        if (it->first_ms == 0)
            it->first_ms = now_ms();
        it->sent_ms = t;
    }
    free(body);
    json_decref(msg);
}

static void pump(struct mosquitto *m, struct gw *g, size_t *idx)
{
    int64_t t = now_ms();
    size_t n = 0;

    while (g->lowest < g->n && g->items[g->lowest].state >= 2)
        g->lowest++;
    /* Unacked beyond the timeout: again, oldest first. */
    for (size_t i = g->lowest; i < g->next; i++) {
        struct item *it = &g->items[i];
        if (it->state == 1 && t - it->sent_ms >= o.ack_timeout_ms) {
            idx[n++] = i;
            resent++;
            if (n == (size_t)o.per_msg) {
                publish(m, g, idx, n);
                n = 0;
            }
        }
    }
    while (g->next < g->n && g->in_flight + n < (size_t)o.max_in_flight) {
        if (o.rate > 0 && (double)new_sent >= o.rate * (double)(t - t_start_ms) / 1000.0)
            break;
        new_sent++;
        idx[n++] = g->next++;
        if (n == (size_t)o.per_msg) {
            publish(m, g, idx, n);
            n = 0;
        }
    }
    if (n)
        publish(m, g, idx, n);
}

static void on_signal(int s)
{
    (void)s;
    stop = 1;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"host", 1, NULL, 'H'},          {"port", 1, NULL, 'p'},
        {"gateways", 1, NULL, 'g'},      {"prefix", 1, NULL, 'P'},
        {"channels", 1, NULL, 'c'},      {"hours", 1, NULL, 'h'},
        {"start", 1, NULL, 's'},         {"per-msg", 1, NULL, 'm'},
        {"max-in-flight", 1, NULL, 'f'}, {"ack-timeout-ms", 1, NULL, 'a'},
        {"timeout-s", 1, NULL, 't'},     {"seq-base", 1, NULL, 'b'},
        {"mult", 1, NULL, 'M'},          {"bad", 1, NULL, 'B'},
        {"rate", 1, NULL, 'r'},          {NULL, 0, NULL, 0}};
    struct mosquitto *m;
    size_t total = 0, *idx;
    double sum_hour = 0, sum_day = 0;
    int64_t t0, deadline;
    char cid[64];
    int opt;

    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'H':
            o.host = optarg;
            break;
        case 'p':
            o.port = atoi(optarg);
            break;
        case 'g':
            o.gateways = atoi(optarg);
            break;
        case 'P':
            o.prefix = optarg;
            break;
        case 'c':
            o.channels = atoi(optarg);
            break;
        case 'h':
            o.hours = atoi(optarg);
            break;
        case 's':
            o.start = atoll(optarg);
            break;
        case 'm':
            o.per_msg = atoi(optarg);
            break;
        case 'f':
            o.max_in_flight = atoi(optarg);
            break;
        case 'a':
            o.ack_timeout_ms = atoi(optarg);
            break;
        case 't':
            o.timeout_s = atoi(optarg);
            break;
        case 'b':
            o.seq_base = atoll(optarg);
            break;
        case 'M':
            o.mult = atof(optarg);
            break;
        case 'B':
            o.bad = atoi(optarg);
            break;
        case 'r':
            o.rate = atof(optarg);
            break;
        default:
            fprintf(stderr, "usage: fleet_gw [--port P] [--gateways N] [--prefix P] [--channels C] "
                            "[--hours H] [--start EPOCH] [--per-msg K] [--max-in-flight N] "
                            "[--ack-timeout-ms T] [--timeout-s S] [--seq-base B] [--mult X] "
                            "[--bad K] [--rate ITEMS_S]\n");
            return 2;
        }
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    gws = calloc((size_t)o.gateways, sizeof(*gws));
    idx = calloc((size_t)o.max_in_flight + (size_t)o.per_msg + 1, sizeof(*idx));
    if (!gws || !idx)
        return 2;
    for (int g = 0; g < o.gateways; g++) {
        snprintf(gws[g].id, sizeof(gws[g].id), "%s%d", o.prefix, g);
        build(&gws[g]);
        total += gws[g].n;
        for (size_t i = 0; i < gws[g].n; i++) {
            const struct item *it = &gws[g].items[i];
            if (it->kind == K_HOUR)
                sum_hour += hour_sum(it->c, it->h);
            else if (it->kind == K_DAY)
                for (int h = it->h - 23; h <= it->h; h++)
                    sum_day += hour_sum(it->c, h);
        }
    }
    mosquitto_lib_init();
    snprintf(cid, sizeof(cid), "fleet_gw-%s-%d", o.prefix, (int)getpid());
    m = mosquitto_new(cid, true, NULL);
    mosquitto_connect_callback_set(m, on_connect);
    mosquitto_disconnect_callback_set(m, on_disconnect);
    mosquitto_message_callback_set(m, on_message);
    mosquitto_max_inflight_messages_set(m, 100);
    if (mosquitto_connect(m, o.host, o.port, 30) != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "fleet_gw: cannot connect to %s:%d\n", o.host, o.port);
        return 1;
    }
    t0 = t_start_ms = now_ms();
    deadline = t0 + 1000LL * o.timeout_s;
    while (!stop && acked + rejected < total && now_ms() < deadline) {
        int rc = mosquitto_loop(m, 10, 1);
        if (rc != MOSQ_ERR_SUCCESS) {
            connected = false;
            struct timespec ts = {0, 100000000};
            nanosleep(&ts, NULL);
            (void)mosquitto_reconnect(m);
            continue;
        }
        if (!connected)
            continue;
        for (int g = 0; g < o.gateways; g++)
            pump(m, &gws[g], idx);
    }
    {
        int64_t el = now_ms() - t0;
        printf("items %zu acked %zu rejected %zu resent %zu sum_hour %.3f sum_day %.3f "
               "elapsed_ms %lld rate_items_s %.0f lag_ms_avg %.0f lag_ms_max %lld\n",
               total, acked, rejected, resent, sum_hour, sum_day, (long long)el,
               el > 0 ? (double)(acked + rejected) * 1000.0 / (double)el : 0.0,
               acked + rejected ? lag_sum_ms / (double)(acked + rejected) : 0.0,
               (long long)lag_max_ms);
    }
    mosquitto_disconnect(m);
    mosquitto_destroy(m);
    mosquitto_lib_cleanup();
    return acked + rejected == total && rejected == (size_t)o.bad * (size_t)o.gateways ? 0 : 1;
}
