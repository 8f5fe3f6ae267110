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

/* Protocol amendment 3: a household's erasure (its channels, the cut, the
 * consumption folded per building) and the withdrawal of a consent. */
static const char erasure[] =
    "{\"seq\":9,\"type\":\"erasure\",\"dwelling\":\"d7\",\"channels\":[\"d7-elec\",\"d7-hw\"],"
    "\"cut\":\"2026-10-15T00:00:00+02:00\",\"cut_s\":1792015200,\"part\":1,\"parts\":2,"
    "\"folded\":[{\"building\":\"b1\",\"quantity\":\"electricity\",\"unit\":\"kWh\","
    "\"gran\":\"day\",\"start\":\"2026-10-14T00:00:00+02:00\",\"start_s\":1791928800,"
    "\"sum\":10.5,\"n\":24},{\"building\":\"b1\",\"quantity\":\"electricity\",\"unit\":\"kWh\","
    "\"gran\":\"month\",\"start\":\"2026-10-01T00:00:00+02:00\",\"start_s\":1790805600,"
    "\"sum\":147,\"n\":336}]}";

static void test_erasure(void **state)
{
    char buf[4096], err[256];
    struct fleet_msg m;
    struct fleet_item it;
    uint64_t seq;

    (void)state;
    snprintf(buf, sizeof(buf), "{\"v\":1,\"gateway\":\"gw-1\",\"items\":[%s,%s]}", erasure,
             "{\"seq\":10,\"type\":\"withdrawal\",\"dwelling\":\"d3\","
             "\"purpose\":\"load_curve\",\"channels\":[\"d3-elec\"],"
             "\"since\":\"2026-11-30T09:00:00+01:00\",\"since_s\":1795939200}");
    assert_int_equal(fleet_msg_decode("gw-1", buf, strlen(buf), &m, err, sizeof(err)), 0);
    assert_int_equal(fleet_item_decode(&m, 0, &it, &seq, err, sizeof(err)), 0);
    assert_int_equal(it.type, FLEET_ERASURE);
    assert_int_equal(seq, 9);
    assert_string_equal(it.dwelling, "d7");
    assert_int_equal(it.cut_s, 1792015200);
    assert_true(it.part == 1 && it.parts == 2);
    assert_int_equal(json_array_size(it.channels), 2);
    assert_string_equal(json_string_value(json_array_get(it.channels, 1)), "d7-hw");
    assert_int_equal(json_array_size(it.folded), 2);
    assert_int_equal(fleet_item_decode(&m, 1, &it, &seq, err, sizeof(err)), 0);
    assert_int_equal(it.type, FLEET_WITHDRAWAL);
    assert_string_equal(it.purpose, "load_curve");
    assert_string_equal(it.dwelling, "d3");
    assert_int_equal(it.cut_s, 1795939200);
    assert_int_equal(json_array_size(it.channels), 1);
    json_decref(m.root);

    /* part and parts may be left out: one part. */
    assert_int_equal(decode_one("{\"seq\":4,\"type\":\"erasure\",\"dwelling\":\"d7\","
                                "\"channels\":[],\"cut\":\"2026-10-15T00:00:00+02:00\","
                                "\"cut_s\":1792015200,\"folded\":[]}",
                                &it, &seq, err),
                     0);
    assert_true(it.part == 1 && it.parts == 1);
}

/* Each malformed erasure is refused, with its seq (acked as rejected). */
static void test_erasure_malformed(void **state)
{
    static const struct {
        const char *from, *to;
    } cases[] = {
        {"\"dwelling\":\"d7\",", ""},
        {"[\"d7-elec\",\"d7-hw\"]", "[\"d7-elec\",7]"},
        {"[\"d7-elec\",\"d7-hw\"]", "\"d7-elec\""},
        {"\"cut_s\":1792015200", "\"cut_s\":5"},
        {"\"cut\":\"2026-10-15T", "\"cut\":\"2026-13-15T"},
        {"\"part\":1", "\"part\":3"},
        {"\"gran\":\"day\"", "\"gran\":\"hour\""},
        {"\"sum\":10.5", "\"sum\":null"},
        {"\"start\":\"2026-10-14T", "\"start\":\"2026-10-32T"},
        {"\"start_s\":1791928800", "\"start_s\":-3"},
        {"\"building\":\"b1\"", "\"building\":\"\""},
        {"\"folded\":[", "\"folded\":[1,"},
    };
    char item[2048], err[256];
    struct fleet_item it;
    uint64_t seq;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *at = strstr(erasure, cases[i].from);
        assert_non_null(at);
        snprintf(item, sizeof(item), "%.*s%s%s", (int)(at - erasure), erasure, cases[i].to,
                 at + strlen(cases[i].from));
        if (decode_one(item, &it, &seq, err) == 0)
            fail_msg("case %zu accepted: %s", i, item);
        if (seq != 9)
            fail_msg("case %zu: seq %llu, want 9 (%s)", i, (unsigned long long)seq, err);
    }
    /* A fold's error names the fold, then what is wrong in it. */
    const char *hour = strstr(erasure, "\"gran\":\"month\"");
    assert_non_null(hour);
    snprintf(item, sizeof(item), "%.*s\"gran\":\"hour\"%s", (int)(hour - erasure), erasure,
             hour + strlen("\"gran\":\"month\""));
    assert_int_equal(decode_one(item, &it, &seq, err), -EINVAL);
    assert_non_null(strstr(err, "\"folded\"[1]: \"gran\" is not day or month"));
    /* A withdrawal without its purpose. */
    assert_int_equal(decode_one("{\"seq\":11,\"type\":\"withdrawal\",\"dwelling\":\"d3\","
                                "\"channels\":[],\"since\":\"2026-11-30T09:00:00+01:00\","
                                "\"since_s\":1795939200}",
                                &it, &seq, err),
                     -EINVAL);
    assert_int_equal(seq, 11);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rollup),    cmocka_unit_test(test_envelope),
        cmocka_unit_test(test_malformed), cmocka_unit_test(test_other_types),
        cmocka_unit_test(test_erasure),   cmocka_unit_test(test_erasure_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
