/*
 * uplink_peer.c - a small collector for the uplink tests: plays the central
 * collector's part of the fleet protocol against a real broker, without a
 * database.
 *
 * Subscribes to foyer/v1/+/items (QoS 1).  For each items message it checks
 * the envelope and every item's fields for its type, appends each valid
 * item to OUT as one line "SEQ<TAB>TYPE<TAB>KEY<TAB>JSON" (then fflush and
 * fsync: its "commit"), and only then publishes the ack on foyer/v1/GW/ack
 * with the seqs written as "acked" and the malformed ones as "rejected",
 * in inclusive ranges.  KEY is the protocol's natural key (channel|gran|
 * start_s, event id, device, alert id): a test dedups by it as the central
 * side does.
 *
 *   --msgs FILE   also append one line per message written:
 *                 "FIRST_SEQ LAST_SEQ ITEMS ORDERED" (ORDERED 1 when its seqs
 *                 increase), for the tests' order checks
 *   --skip N      the first N items messages are neither written nor acked
 *                 (a collector that crashed before its commit)
 *   --protocol 311  MQTT 3.1.1 (default 5)
 *
 * Prints "ready" on stdout once subscribed; exits 0 on SIGTERM.
 *
 * Usage: foyer-uplink-peer --port PORT --out FILE [--skip N] [--protocol 311]
 */
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>

static volatile sig_atomic_t stop;
static FILE *out, *msgs_out;
static long skip;
static long messages;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static bool has(json_t *o, const char *k, int type)
{
    json_t *v = json_object_get(o, k);
    if (!v)
        return false;
    switch (type) {
    case 's':
        return json_is_string(v);
    case 'i':
        return json_is_integer(v);
    case 'n':
        return json_is_number(v);
    case 'S':
        return json_is_string(v) || json_is_null(v);
    case 'I':
        return json_is_integer(v) || json_is_null(v);
    case 'N':
        return json_is_number(v) || json_is_null(v);
    default:
        return false;
    }
}

/* The item's key, or false when it is malformed for the protocol. */
static bool item_key(json_t *it, char *key, size_t len)
{
    const char *type = json_string_value(json_object_get(it, "type"));
    if (!type || !has(it, "seq", 'i'))
        return false;
    if (strcmp(type, "rollup") == 0) {
        const char *g = json_string_value(json_object_get(it, "gran"));
        if (!g || (strcmp(g, "hour") && strcmp(g, "day") && strcmp(g, "month")) ||
            !has(it, "channel", 's') || !has(it, "building", 'S') || !has(it, "dwelling", 'S') ||
            !has(it, "quantity", 's') || !has(it, "kind", 's') || !has(it, "unit", 's') ||
            !has(it, "start", 's') || !has(it, "start_s", 'i') || !has(it, "sum", 'n') ||
            !has(it, "n", 'i') || !has(it, "min", 'N') || !has(it, "max", 'N'))
            return false;
        snprintf(key, len, "rollup|%s|%s|%lld", json_string_value(json_object_get(it, "channel")),
                 g, (long long)json_integer_value(json_object_get(it, "start_s")));
        return true;
    }
    if (strcmp(type, "event") == 0) {
        if (!has(it, "id", 'i') || !has(it, "time_s", 'i') || !has(it, "kind", 's') ||
            !has(it, "channel", 'S') || !has(it, "device", 'S') || !has(it, "detail", 'S') ||
            !has(it, "value", 'N'))
            return false;
        snprintf(key, len, "event|%lld", (long long)json_integer_value(json_object_get(it, "id")));
        return true;
    }
    if (strcmp(type, "device") == 0) {
        if (!has(it, "device", 's') || !has(it, "state", 's') || !has(it, "since_s", 'I') ||
            !has(it, "polls", 'I') || !has(it, "errors", 'I') || !has(it, "timeouts", 'I') ||
            !has(it, "last_ok_s", 'I'))
            return false;
        snprintf(key, len, "device|%s", json_string_value(json_object_get(it, "device")));
        return true;
    }
    if (strcmp(type, "alert") == 0) {
        if (!has(it, "id", 'i') || !has(it, "kind", 's') || !has(it, "severity", 's') ||
            !has(it, "state", 's') || !has(it, "opened_s", 'i') || !has(it, "text_fr", 's') ||
            !has(it, "text_en", 's'))
            return false;
        snprintf(key, len, "alert|%lld", (long long)json_integer_value(json_object_get(it, "id")));
        return true;
    }
    return false;
}

/* Append seq to ranges (seqs arrive in increasing order within a message,
 * except resends; a range is extended only by its successor). */
static void add_seq(json_t *ranges, json_int_t seq)
{
    json_t *last = json_array_get(ranges, json_array_size(ranges) - 1);
    if (last && json_integer_value(json_array_get(last, 1)) == seq - 1) {
        json_array_set_new(last, 1, json_integer(seq));
        return;
    }
    json_t *r = json_array();
    json_array_append_new(r, json_integer(seq));
    json_array_append_new(r, json_integer(seq));
    json_array_append_new(ranges, r);
}

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg,
                       const mosquitto_property *props)
{
    (void)obj;
    (void)props;
    json_t *root = json_loadb(msg->payload, (size_t)msg->payloadlen, 0, NULL);
    json_t *items = root ? json_object_get(root, "items") : NULL;
    const char *gw = root ? json_string_value(json_object_get(root, "gateway")) : NULL;
    if (!root || json_integer_value(json_object_get(root, "v")) != 1 || !gw ||
        !has(root, "sent", 's') || !json_is_array(items) || json_array_size(items) < 1 ||
        json_array_size(items) > 500 || msg->payloadlen > 256 * 1024) {
        fprintf(stderr, "uplink_peer: malformed message on %s\n", msg->topic);
        json_decref(root);
        return;
    }
    if (messages++ < skip) {
        json_decref(root);
        return;
    }
    json_t *acked = json_array(), *rejected = json_array();
    size_t i;
    json_t *it;
    json_int_t first = -1, last = -1;
    bool ordered = true;
    json_array_foreach(items, i, it)
    {
        char key[512];
        json_int_t seq = json_integer_value(json_object_get(it, "seq"));
        if (first < 0)
            first = seq;
        else if (seq <= last)
            ordered = false;
        last = seq;
        if (!item_key(it, key, sizeof(key))) {
            add_seq(rejected, seq);
            continue;
        }
        char *line = json_dumps(it, JSON_COMPACT | JSON_SORT_KEYS);
        fprintf(out, "%lld\t%s\t%s\t%s\n", (long long)seq,
                json_string_value(json_object_get(it, "type")), key, line);
        free(line);
        add_seq(acked, seq);
    }
    if (msgs_out) {
        fprintf(msgs_out, "%lld %lld %zu %d\n", (long long)first, (long long)last,
                json_array_size(items), ordered);
        fflush(msgs_out);
    }
    /* The commit: on disk before the ack. */
    fflush(out);
    fsync(fileno(out));
    json_t *ack = json_pack("{s:i, s:s, s:o, s:o}", "v", 1, "gateway", gw, "acked", acked,
                            "rejected", rejected);
    char *body = json_dumps(ack, JSON_COMPACT);
    char topic[128];
    snprintf(topic, sizeof(topic), "foyer/v1/%s/ack", gw);
    mosquitto_publish(mosq, NULL, topic, (int)strlen(body), body, 1, false);
    free(body);
    json_decref(ack);
    json_decref(root);
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
    (void)obj;
    if (rc == 0)
        mosquitto_subscribe(mosq, NULL, "foyer/v1/+/items", 1);
}

static void on_subscribe(struct mosquitto *mosq, void *obj, int mid, int n, const int *granted)
{
    (void)mosq;
    (void)obj;
    (void)mid;
    (void)n;
    (void)granted;
    printf("ready\n");
    fflush(stdout);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"port", required_argument, NULL, 'p'},     {"out", required_argument, NULL, 'o'},
        {"skip", required_argument, NULL, 's'},     {"msgs", required_argument, NULL, 'm'},
        {"protocol", required_argument, NULL, 'P'}, {NULL, 0, NULL, 0}};
    int port = 1883, protocol = MQTT_PROTOCOL_V5, opt;
    const char *path = NULL;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'p':
            port = atoi(optarg);
            break;
        case 'o':
            path = optarg;
            break;
        case 's':
            skip = atol(optarg);
            break;
        case 'm':
            msgs_out = fopen(optarg, "a");
            if (!msgs_out) {
                perror(optarg);
                return 1;
            }
            break;
        case 'P':
            protocol = atoi(optarg) == 311 ? MQTT_PROTOCOL_V311 : MQTT_PROTOCOL_V5;
            break;
        default:
            fprintf(stderr, "usage: %s --port PORT --out FILE [--skip N] [--protocol 311]\n",
                    argv[0]);
            return 2;
        }
    }
    if (!path) {
        fprintf(stderr, "uplink_peer: --out FILE is required\n");
        return 2;
    }
    out = fopen(path, "a");
    if (!out) {
        perror(path);
        return 1;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    mosquitto_lib_init();
    struct mosquitto *mosq = mosquitto_new(NULL, true, NULL);
    mosquitto_int_option(mosq, MOSQ_OPT_PROTOCOL_VERSION, protocol);
    mosquitto_connect_callback_set(mosq, on_connect);
    mosquitto_subscribe_callback_set(mosq, on_subscribe);
    mosquitto_message_v5_callback_set(mosq, on_message);
    if (mosquitto_connect(mosq, "127.0.0.1", port, 30) != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "uplink_peer: cannot connect to 127.0.0.1:%d\n", port);
        return 1;
    }
    while (!stop) {
        int rc = mosquitto_loop(mosq, 200, 1);
        if (rc != MOSQ_ERR_SUCCESS && !stop) {
            sleep(1);
            mosquitto_reconnect(mosq);
        }
    }
    mosquitto_disconnect(mosq);
    mosquitto_destroy(mosq);
    mosquitto_lib_cleanup();
    fclose(out);
    if (msgs_out)
        fclose(msgs_out);
    return 0;
}
