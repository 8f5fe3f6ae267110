/*
 * test_collector_item.c - the collector's decoding of items messages
 * (central/collector_item.c), against the protocol of docs/fleet.md: the
 * envelope's checks, each item type, nulls, unknown fields ignored, and
 * each malformed item refused with its seq (to be acked as rejected).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "collector.h"

static const char rollup[] =
    "{\"seq\":7,\"type\":\"rollup\",\"gran\":\"day\",\"channel\":\"d1.elec\",\"building\":\"b1\","
    "\"dwelling\":null,\"quantity\":\"electricity\",\"kind\":\"counter\",\"unit\":\"kWh\","
    "\"start\":\"2026-10-25T00:00:00+02:00\",\"start_s\":1792879200,\"sum\":12.5,\"n\":23,"
    "\"min\":null,\"max\":3,\"new_field\":[1,2]}";

static int decode_one(const char *item, struct fleet_item *it, uint64_t *seq, char *err)
{
    char buf[4096];
    struct fleet_msg m;
    int r;

    snprintf(buf, sizeof(buf), "{\"v\":1,\"gateway\":\"gw-1\",\"items\":[%s]}", item);
    assert_int_equal(fleet_msg_decode("gw-1", buf, strlen(buf), &m, err, 256), 0);
    r = fleet_item_decode(&m, 0, it, seq, err, 256);
    /* The strings are borrowed from the JSON: compare before freeing. */
    if (r == 0 && it->type == FLEET_ROLLUP)
        assert_string_equal(it->channel, "d1.elec");
    json_decref(m.root);
    return r;
}

static void test_rollup(void **state)
{
    struct fleet_item it;
    uint64_t seq;
    char err[256];

    (void)state;
    assert_int_equal(decode_one(rollup, &it, &seq, err), 0);
    assert_int_equal(it.seq, 7);
    assert_int_equal(it.type, FLEET_ROLLUP);
    assert_int_equal(it.gran, FLEET_DAY);
    assert_null(it.dwelling);
    assert_false(it.has_min);
    assert_true(it.has_max);
    assert_true(it.sum == 12.5 && it.n == 23 && it.start_s == 1792879200);
}

static void test_envelope(void **state)
{
    static const struct {
        const char *gw, *body;
    } bad[] = {
        {"gw-1", "{\"v\":1,\"gateway\":\"gw-1\",\"items\":["},
        {"gw-1", "[1]"},
        {"gw-1", "{\"v\":2,\"gateway\":\"gw-1\",\"items\":[{}]}"},
        {"gw-1", "{\"v\":1,\"gateway\":\"gw-2\",\"items\":[{}]}"},
        {"gw-1", "{\"v\":1,\"gateway\":\"gw-1\",\"items\":[]}"},
        {"gw-1", "{\"v\":1,\"gateway\":\"gw-1\",\"v\":1,\"items\":[{}]}"},
    };
    struct fleet_msg m;
    char err[256], gw[FLEET_GW_MAX + 1];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int r = fleet_msg_decode(bad[i].gw, bad[i].body, strlen(bad[i].body), &m, err, sizeof(err));
        if (r == 0)
            fail_msg("envelope %zu accepted: %s", i, bad[i].body);
    }
    assert_int_equal(fleet_topic_gateway("foyer/v1/gw_A-9/items", gw), 0);
    assert_string_equal(gw, "gw_A-9");
    assert_int_equal(fleet_topic_gateway("foyer/v1/a/b/items", gw), -EINVAL);
    assert_int_equal(fleet_topic_gateway("foyer/v1//items", gw), -EINVAL);
    assert_int_equal(fleet_topic_gateway("foyer/v1/gw/ack", gw), -EINVAL);
}

/* Each malformed item is refused, and its seq returned to be rejected. */
static void test_malformed(void **state)
{
    static const struct {
        const char *from, *to;
        uint64_t seq;
    } cases[] = {
        {"\"sum\":12.5", "\"sum\":\"12.5\"", 7},
        {"\"sum\":12.5,", "", 7},
        {"\"gran\":\"day\"", "\"gran\":\"week\"", 7},
        {"\"kind\":\"counter\"", "\"kind\":\"meter\"", 7},
        {"2026-10-25T", "2026-02-30T", 7},
        {"\"start_s\":1792879200", "\"start_s\":0", 7},
        {"\"n\":23", "\"n\":-1", 7},
        {"\"channel\":\"d1.elec\"", "\"channel\":\"\"", 7},
        {"\"seq\":7", "\"seq\":0", 0},
        {"\"seq\":7", "\"seq\":\"7\"", 0},
        {"\"type\":\"rollup\"", "\"type\":\"reading\"", 7},
    };
    char item[2048], err[256];
    struct fleet_item it;
    uint64_t seq;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *at = strstr(rollup, cases[i].from);
        assert_non_null(at);
        snprintf(item, sizeof(item), "%.*s%s%s", (int)(at - rollup), rollup, cases[i].to,
                 at + strlen(cases[i].from));
        if (decode_one(item, &it, &seq, err) == 0)
            fail_msg("case %zu accepted: %s", i, item);
        if (seq != cases[i].seq)
            fail_msg("case %zu: seq %llu, want %llu (%s)", i, (unsigned long long)seq,
                     (unsigned long long)cases[i].seq, err);
    }
}

static void test_other_types(void **state)
{
    struct fleet_item it;
    uint64_t seq;
    char err[256];

    (void)state;
    assert_int_equal(decode_one("{\"seq\":1,\"type\":\"event\",\"id\":4,\"time_s\":1792879200,"
                                "\"kind\":\"counter_reset\",\"channel\":null,\"device\":null,"
                                "\"detail\":null,\"value\":null}",
                                &it, &seq, err),
                     0);
    assert_int_equal(it.type, FLEET_EVENT);
    assert_false(it.has_value);
    assert_int_equal(decode_one("{\"seq\":2,\"type\":\"alert\",\"id\":3,\"kind\":\"k\","
                                "\"severity\":\"warning\",\"building\":\"b\",\"dwelling\":null,"
                                "\"channel\":null,\"state\":\"closed\",\"opened_s\":5,"
                                "\"acknowledged_s\":null,\"closed_s\":9,\"text_fr\":\"F\","
                                "\"text_en\":\"E\"}",
                                &it, &seq, err),
                     0);
    assert_true(it.ack_s == -1 && it.closed_s == 9);
    /* An alert of no one building (a bus serving several): the gateway's
     * alerts table allows it, so the protocol does. */
    assert_int_equal(decode_one("{\"seq\":6,\"type\":\"alert\",\"id\":7,\"kind\":\"device_silent\","
                                "\"severity\":\"warning\",\"building\":null,\"dwelling\":null,"
                                "\"channel\":null,\"state\":\"open\",\"opened_s\":5,"
                                "\"acknowledged_s\":null,\"closed_s\":null,\"text_fr\":\"F\","
                                "\"text_en\":\"E\"}",
                                &it, &seq, err),
                     0);
    assert_null(it.building);
    assert_int_equal(decode_one("{\"seq\":3,\"type\":\"alert\",\"id\":3,\"kind\":\"k\","
                                "\"severity\":\"warning\",\"building\":\"b\",\"state\":\"gone\","
                                "\"opened_s\":5,\"text_fr\":\"F\",\"text_en\":\"E\"}",
                                &it, &seq, err),
                     -EINVAL);
    assert_int_equal(seq, 3);
    /* A time to_timestamp() would refuse (year 292 billion) fails the item,
     * not the batch. */
    assert_int_equal(decode_one("{\"seq\":5,\"type\":\"device\",\"device\":\"m0\",\"state\":\"ok\","
                                "\"since_s\":9000000000000000000,\"polls\":2,\"errors\":0,"
                                "\"timeouts\":0,\"last_ok_s\":null}",
                                &it, &seq, err),
                     -EINVAL);
    assert_int_equal(seq, 5);
    assert_int_equal(decode_one("{\"seq\":4,\"type\":\"device\",\"device\":\"m0\",\"state\":\"ok\","
                                "\"since_s\":1,\"polls\":2,\"errors\":0,\"timeouts\":0,"
                                "\"last_ok_s\":null}",
                                &it, &seq, err),
                     0);
    assert_int_equal(it.last_ok_s, -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rollup),
        cmocka_unit_test(test_envelope),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_other_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
