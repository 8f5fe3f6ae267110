/*
 * test_mqtt_decode.c - the MQTT driver's payload decoding, without a broker:
 * the three presets on real-shaped payloads, field paths with dots and ':',
 * unit scale, bare numbers, payload timestamps (ISO 8601, epoch s and ms),
 * and every refusal (too large, too deep, not JSON, wrong type, huge
 * numbers, out of range, absurd timestamps, no mapped field); wildcard
 * device names.  Sensors come from a real config loaded by config_load().
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "foyer/drv_mqtt.h"
#include "foyer/limits.h"
#include "foyer/timeutil.h"

#define NOW 1767225600 /* 2026-01-01T00:00:00Z */

static const char conf_text[] =
    "[foyer]\ndatabase = /nonexistent/foyer.db\ntimezone = Europe/Paris\n"
    "[building b1]\n"
    "[dwelling d1]\nbuilding = b1\nsurface_m2 = 40\nheating = electric\n"
    "[sensor z]\ntopic = zigbee2mqtt/salon\npreset = zigbee2mqtt\ndwelling = d1\n"
    "timestamp_field = time\n"
    "[sensor t]\ntopic = tele/plug/SENSOR\npreset = tasmota\ndwelling = d1\n"
    "timestamp_field = Time\n"
    "[sensor s]\ntopic = shellies/pm/status/switch:0\npreset = shelly-gen2\ndwelling = d1\n"
    "[sensor rpc]\ntopic = shellies/pm/events/rpc\ndwelling = d1\n"
    "channel.energy = params.switch:0.aenergy.total, electricity, 0.001\n"
    "timestamp_field = params.ts\n"
    "[sensor w]\ntopic = water/d1\ndwelling = d1\nchannel.cold = -, cold_water, 1000\n";

static struct foyer_config *cfg;
static char dir[64];

static int setup(void **state)
{
    char path[128];
    struct conf_errors errs = {0};
    FILE *f;

    (void)state;
    (void)snprintf(dir, sizeof(dir), "/tmp/foyer-mqttdec-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    (void)snprintf(path, sizeof(path), "%s/foyer.conf", dir);
    f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(conf_text, f);
    fclose(f);
    tu_set_zone("Europe/Paris");
    cfg = config_load(path, &errs);
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "%s\n", errs.msgs[i]);
    conf_errors_free(&errs);
    unlink(path);
    rmdir(dir);
    return cfg ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    config_free(cfg);
    return 0;
}

static const struct sensor *sensor(const char *id)
{
    for (size_t i = 0; i < cfg->n_sensors; i++)
        if (strcmp(cfg->sensors[i].id, id) == 0)
            return &cfg->sensors[i];
    fail_msg("no sensor %s", id);
    return NULL;
}

/* Decode payload for sensor id; returns rc, fills out/n. */
static int decode(const char *id, const char *payload, struct reading *out, size_t *n,
                  const char **field)
{
    const struct sensor *s = sensor(id);
    return drv_mqtt_decode_message(cfg, s, s->first_channel, payload, strlen(payload), NOW, out, n,
                                   field);
}

static double value_of(const struct reading *out, size_t n, const char *channel_id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(cfg->channels[out[i].channel].id, channel_id) == 0)
            return out[i].value;
    fail_msg("no reading for %s", channel_id);
    return NAN;
}

static void test_z2m(void **state)
{
    struct reading out[8];
    size_t n;
    const char *field;
    (void)state;
    int rc = decode("z",
                    "{\"battery\":97,\"humidity\":48.21,\"linkquality\":134,"
                    "\"temperature\":20.5,\"voltage\":2995,\"co2\":612,"
                    "\"time\":\"2025-12-31T23:30:00+01:00\"}",
                    out, &n, &field);
    assert_int_equal(rc, 0);
    assert_int_equal(n, 3);
    assert_true(value_of(out, n, "z.temperature") == 20.5);
    assert_true(value_of(out, n, "z.humidity") == 48.21);
    assert_true(value_of(out, n, "z.co2") == 612);
    assert_int_equal(out[0].ts_s, NOW - 1800 - 3600);
}

static void test_tasmota(void **state)
{
    struct reading out[8];
    size_t n;
    const char *field;
    (void)state;
    /* Tasmota's Time has no offset: local time (Europe/Paris, +01:00). */
    int rc = decode("t",
                    "{\"Time\":\"2025-12-31T12:00:00\",\"ENERGY\":{\"TotalStartTime\":"
                    "\"2023-01-01T00:00:00\",\"Total\":1234.567,\"Yesterday\":3.2,\"Today\":1.1,"
                    "\"Period\":5,\"Power\":230,\"ApparentPower\":240,\"ReactivePower\":20,"
                    "\"Factor\":0.96,\"Voltage\":231,\"Current\":1.04}}",
                    out, &n, &field);
    assert_int_equal(rc, 0);
    assert_int_equal(n, 2);
    assert_true(value_of(out, n, "t.energy") == 1234.567);
    assert_true(value_of(out, n, "t.power") == 230);
    assert_int_equal(out[0].ts_s, NOW - 12 * 3600 - 3600);
}

static void test_shelly_scale_and_colon_path(void **state)
{
    struct reading out[8];
    size_t n;
    const char *field;
    (void)state;
    int rc = decode("s",
                    "{\"id\":0,\"source\":\"init\",\"output\":true,\"apower\":120.5,"
                    "\"voltage\":231.2,\"current\":0.6,\"aenergy\":{\"total\":15234.5,"
                    "\"by_minute\":[1.2,1.1,1.3],\"minute_ts\":1767225540},"
                    "\"temperature\":{\"tC\":40.1,\"tF\":104.2}}",
                    out, &n, &field);
    assert_int_equal(rc, 0);
    assert_int_equal(n, 2);
    assert_true(fabs(value_of(out, n, "s.energy") - 15.2345) < 1e-12); /* Wh -> kWh */
    assert_int_equal(out[0].ts_s, NOW);                                /* receive time */

    /* NotifyStatus: "switch:0" is one key inside "params"; epoch ts with a fraction. */
    rc = decode("rpc",
                "{\"src\":\"shellyplus1pm-a8032ab12345\",\"dst\":\"user_1\",\"method\":"
                "\"NotifyStatus\",\"params\":{\"ts\":1767225000.52,\"switch:0\":{\"id\":0,"
                "\"aenergy\":{\"total\":2000.0,\"by_minute\":[0,0,0],\"minute_ts\":1767224940}}}}",
                out, &n, &field);
    assert_int_equal(rc, 0);
    assert_int_equal(n, 1);
    assert_true(value_of(out, n, "rpc.energy") == 2.0);
    assert_int_equal(out[0].ts_s, 1767225000);
}

static void test_bare_number_and_epoch_ms(void **state)
{
    struct reading out[8];
    size_t n;
    const char *field;
    int64_t ts;
    struct drv_mqtt_decode_doc *doc;
    (void)state;
    assert_int_equal(decode("w", "1.25", out, &n, &field), 0);
    assert_int_equal(n, 1);
    assert_true(value_of(out, n, "w.cold") == 1250); /* m3 -> L */
    assert_int_equal(decode("w", "{\"v\":1}", out, &n, &field), DRV_MQTT_E_NOFIELD);

    assert_int_equal(drv_mqtt_decode_parse("{\"t\":1767225600123}", 19, &doc), 0);
    assert_int_equal(drv_mqtt_decode_timestamp(doc, "t", &ts), 0);
    assert_int_equal(ts, NOW);
    assert_int_equal(drv_mqtt_decode_timestamp(doc, "u", &ts), -ENOENT);
    drv_mqtt_decode_doc_free(doc);
}

struct bad_case {
    const char *name;
    const char *payload;
    int rc;
};

static void test_refusals(void **state)
{
    static const struct bad_case cases[] = {
        {"binary", "\xff\x01garbage", DRV_MQTT_E_SYNTAX},
        {"empty", "", DRV_MQTT_E_SYNTAX},
        {"truncated", "{\"temperature\":21.5,\"humid", DRV_MQTT_E_SYNTAX},
        {"array root", "[1,2]", DRV_MQTT_E_SYNTAX},
        {"string root", "\"21.5\"", DRV_MQTT_E_SYNTAX},
        {"NaN literal", "{\"temperature\":NaN}", DRV_MQTT_E_SYNTAX},
        {"real overflow", "{\"temperature\":1e999}", DRV_MQTT_E_SYNTAX},
        {"integer overflow", "{\"temperature\":123456789012345678901234567890}", DRV_MQTT_E_SYNTAX},
        {"string value", "{\"temperature\":\"warm\"}", DRV_MQTT_E_TYPE},
        {"null value", "{\"temperature\":null}", DRV_MQTT_E_TYPE},
        {"out of range", "{\"temperature\":1e6}", DRV_MQTT_E_RANGE},
        {"humidity > 100", "{\"humidity\":140}", DRV_MQTT_E_RANGE},
        {"no field", "{\"battery\":90}", DRV_MQTT_E_NOFIELD},
        {"future", "{\"temperature\":20,\"time\":1768225600}", DRV_MQTT_E_TS_FUTURE},
        {"past", "{\"temperature\":20,\"time\":\"1999-12-31T00:00:00Z\"}", DRV_MQTT_E_TS_PAST},
        {"bad date", "{\"temperature\":20,\"time\":\"yesterday\"}", DRV_MQTT_E_TS},
        {"bool ts", "{\"temperature\":20,\"time\":true}", DRV_MQTT_E_TS},
    };
    struct reading out[8];
    size_t n;
    const char *field;
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = decode("z", cases[i].payload, out, &n, &field);
        if (rc != cases[i].rc)
            fail_msg("%s: got %d (%s), expected %d (%s)", cases[i].name, rc,
                     drv_mqtt_decode_strerror(rc), cases[i].rc,
                     drv_mqtt_decode_strerror(cases[i].rc));
        assert_string_not_equal(drv_mqtt_decode_strerror(rc), "unknown error");
    }
    /* One bad field does not lose the good ones. */
    assert_int_equal(decode("z", "{\"temperature\":\"x\",\"humidity\":50}", out, &n, &field),
                     DRV_MQTT_E_TYPE);
    assert_int_equal(n, 1);
    assert_string_equal(field, "temperature");
    assert_true(value_of(out, n, "z.humidity") == 50);
}

static void test_size_and_depth(void **state)
{
    static char big[DRV_MQTT_PAYLOAD_MAX + 2];
    char deep[200];
    struct drv_mqtt_decode_doc *doc = NULL;
    (void)state;
    memset(big, ' ', sizeof(big));
    big[0] = '{';
    big[sizeof(big) - 1] = '}';
    assert_int_equal(drv_mqtt_decode_parse(big, sizeof(big), &doc), DRV_MQTT_E_SIZE);
    assert_int_equal(drv_mqtt_decode_parse(big, DRV_MQTT_PAYLOAD_MAX, &doc), DRV_MQTT_E_SYNTAX);

    memset(deep, '[', sizeof(deep));
    assert_false(drv_mqtt_decode_depth_ok(deep, sizeof(deep), DRV_MQTT_DEPTH_MAX));
    assert_int_equal(drv_mqtt_decode_parse(deep, sizeof(deep), &doc), DRV_MQTT_E_DEPTH);
    /* Brackets inside strings do not count; closing ones bring the depth down. */
    assert_true(drv_mqtt_decode_depth_ok("{\"a\":\"[[[[[[[[[[[[[[[[[[[[[[\"}", 29, 2));
    assert_true(drv_mqtt_decode_depth_ok("[[[]],[[]],[[]]]", 16, 3));
    assert_false(drv_mqtt_decode_depth_ok("[[[[]]]]", 8, 3));
    assert_true(drv_mqtt_decode_depth_ok("{\"a\\\"[[[\":1}", 12, 1));
}

/* The decoder's own codes and the -errno values it also returns never
 * collide: -ENOENT (a field absent) once printed as "JSON nested too deep". */
static void test_error_codes_disjoint_from_errno(void **state)
{
    (void)state;
    for (int c = DRV_MQTT_E_SIZE; c >= DRV_MQTT_E_LAST_; c--) {
        if (c >= -DRV_MQTT_ERRNO_MAX)
            fail_msg("decoder code %d lies in the -errno range", c);
        const char *t = drv_mqtt_decode_strerror(c);
        if (strcmp(t, "unknown error") == 0)
            fail_msg("decoder code %d has no text", c);
        for (int e = 1; e <= 133; e++) /* every errno Linux has */
            if (strcmp(t, strerror(e)) == 0)
                fail_msg("decoder code %d reads as errno %d (%s)", c, e, t);
    }
    /* strerror's text lasts until its next call: compare copies. */
    for (int e = 1; e <= 133; e++) {
        char got[128], want[128];
        (void)snprintf(got, sizeof(got), "%s", drv_mqtt_decode_strerror(-e));
        (void)snprintf(want, sizeof(want), "%s", strerror(e));
        if (strcmp(got, want) != 0)
            fail_msg("-errno %d prints as \"%s\", not \"%s\"", e, got, want);
    }
    char enoent[128];
    (void)snprintf(enoent, sizeof(enoent), "%s", strerror(ENOENT));
    assert_string_equal(drv_mqtt_decode_strerror(-ENOENT), enoent);
    assert_string_equal(drv_mqtt_decode_strerror(DRV_MQTT_E_DEPTH), "JSON nested too deep");
    assert_string_equal(drv_mqtt_decode_strerror(DRV_MQTT_OK), "ok");
    assert_string_equal(drv_mqtt_decode_strerror(DRV_MQTT_E_LAST_ - 1), "unknown error");

    /* What the functions return for an absent field is -ENOENT, and it
     * prints as such. */
    struct drv_mqtt_decode_doc *doc = NULL;
    double v;
    assert_int_equal(drv_mqtt_decode_parse("{\"a\":1}", 7, &doc), 0);
    int rc = drv_mqtt_decode_number(doc, "b", &v);
    assert_int_equal(rc, -ENOENT);
    assert_string_equal(drv_mqtt_decode_strerror(rc), enoent);
    drv_mqtt_decode_doc_free(doc);
}

static void test_device_name(void **state)
{
    char buf[FOYER_ID_MAX + 1];
    (void)state;
    assert_true(
        drv_mqtt_decode_device_name("zigbee2mqtt/+", "zigbee2mqtt/salon-a01", buf, sizeof(buf)));
    assert_string_equal(buf, "salon-a01");
    assert_true(
        drv_mqtt_decode_device_name("tele/+/SENSOR", "tele/plug3/SENSOR", buf, sizeof(buf)));
    assert_string_equal(buf, "plug3");
    assert_true(drv_mqtt_decode_device_name("shellies/#", "shellies/pm1/status/switch:0", buf,
                                            sizeof(buf)));
    assert_string_equal(buf, "pm1");
    assert_true(drv_mqtt_decode_device_name("a/+/+", "a/x/y", buf, sizeof(buf)));
    assert_string_equal(buf, "x");
    assert_false(
        drv_mqtt_decode_device_name("tele/+/SENSOR", "tele/plug3/STATE", buf, sizeof(buf)));
    assert_false(drv_mqtt_decode_device_name("zigbee2mqtt/+", "zigbee2mqtt/a/b", buf, sizeof(buf)));
    assert_false(
        drv_mqtt_decode_device_name("zigbee2mqtt/salon", "zigbee2mqtt/salon", buf, sizeof(buf)));
    assert_false(drv_mqtt_decode_device_name("z/+", "z/", buf, sizeof(buf)));
    assert_false(drv_mqtt_decode_device_name("z/+", "z/0123456789", buf, 5));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_z2m),
        cmocka_unit_test(test_tasmota),
        cmocka_unit_test(test_shelly_scale_and_colon_path),
        cmocka_unit_test(test_bare_number_and_epoch_ms),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_size_and_depth),
        cmocka_unit_test(test_device_name),
        cmocka_unit_test(test_error_codes_disjoint_from_errno),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
