/*
 * bench_mqtt_sub.c - the reference for the MQTT ingest bench: a bare
 * libmosquitto subscriber that counts messages and nothing else.
 *
 * Subscribes to TOPIC at QOS, prints "ready" once subscribed, then counts
 * messages until it has N of them (or TIMEOUT seconds pass) and prints
 * "received N in S s: R msg/s", timed from the first message to the last.
 *
 * Usage: bench_mqtt_sub PORT TOPIC QOS N [TIMEOUT_S]
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <mosquitto.h>

static atomic_long received;
static atomic_bool subscribed;
static double first_s, last_s;

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg)
{
    (void)m;
    (void)obj;
    (void)msg;
    double now = mono_s();
    if (atomic_fetch_add(&received, 1) == 0)
        first_s = now;
    last_s = now;
}

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int n, const int *granted)
{
    (void)m;
    (void)obj;
    (void)mid;
    (void)n;
    (void)granted;
    atomic_store(&subscribed, true);
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: bench_mqtt_sub PORT TOPIC QOS N [TIMEOUT_S]\n");
        return 2;
    }
    int port = atoi(argv[1]), qos = atoi(argv[3]);
    long n = atol(argv[4]);
    double timeout = argc > 5 ? atof(argv[5]) : 120;
    struct mosquitto *m;

    mosquitto_lib_init();
    m = mosquitto_new(NULL, true, NULL);
    if (!m)
        return 1;
    (void)mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
    (void)mosquitto_int_option(m, MOSQ_OPT_RECEIVE_MAXIMUM, 1000);
    (void)mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1);
    mosquitto_message_callback_set(m, on_message);
    mosquitto_subscribe_callback_set(m, on_subscribe);
    if (mosquitto_connect(m, "127.0.0.1", port, 60) != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "bench_mqtt_sub: cannot connect to port %d\n", port);
        return 1;
    }
    mosquitto_subscribe(m, NULL, argv[2], qos);
    mosquitto_loop_start(m);
    double start = mono_s();
    while (!atomic_load(&subscribed) && mono_s() - start < 10) {
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    printf("ready\n");
    fflush(stdout);
    start = mono_s();
    while (atomic_load(&received) < n && mono_s() - start < timeout) {
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    mosquitto_disconnect(m);
    mosquitto_loop_stop(m, false);
    mosquitto_destroy(m);
    mosquitto_lib_cleanup();
    long got = atomic_load(&received);
    double span = last_s - first_s;
    printf("received %ld in %.3f s: %.0f msg/s\n", got, span, span > 0 ? (double)got / span : 0.0);
    return got == n ? 0 : 1;
}
