/*
 * test_store_uplink.c - the store's uplink outbox (include/foyer/store_uplink.h)
 * on a real SQLite file, the uplink's handle beside the writer's:
 *  - store_ingest() notes changed hours only while [uplink] is configured;
 *  - a settled hour becomes its item and marks its day, a settled day its
 *    item and its month; an unsettled period waits;
 *  - hourly figures of a dwelling without consent are withheld, its daily
 *    ones are sent, a building's hours are sent;
 *  - a period revised by late data is queued again with a higher seq and
 *    the older unsent item of its key is dropped;
 *  - seqs are never reused, even once the outbox was emptied; the floor
 *    the uplink sets at each start raises them, never lowers them;
 *  - events are queued once, in id order; the alert hook's fields;
 *  - every change of an alert's state in the alerts table is queued once
 *    (the engine's, foyerctl's), a mere last_seen is not;
 *  - the depth for foyerctl status.
 * The database is looked into on a connection of the test's own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>

#include "foyer/store_consent.h"
#include "foyer/store_uplink.h"
#include "testutil.h"

#define H 3600

static const char uplink_conf[] = "[dwelling d2]\n"
                                  "building = b1\n"
                                  "surface_m2 = 40\n"
                                  "heating = gas\n"
                                  "[channel gas2]\n"
                                  "dwelling = d2\n"
                                  "quantity = electricity\n"
                                  "[channel outdoor]\n"
                                  "building = b1\n"
                                  "quantity = outdoor_temperature\n"
                                  "[uplink]\n"
                                  "host = 127.0.0.1\n"
                                  "gateway_id = gw1\n"
                                  "settle_s = 600\n";

struct uenv {
    struct tenv t;
    struct store_uplink *u;
};

static int setup_with(void **state, const char *extra)
{
    struct uenv *e = calloc(1, sizeof(*e));
    const char *msg;
    if (!e || tenv_setup(&e->t, extra) < 0)
        return -1;
    if (store_uplink_open(e->t.db, &e->u, &msg) < 0) {
        fprintf(stderr, "store_uplink_open: %s\n", msg);
        return -1;
    }
    *state = e;
    return 0;
}

static int setup(void **state)
{
    return setup_with(state, uplink_conf);
}

static int setup_no_uplink(void **state)
{
    return setup_with(state, NULL);
}

static int teardown(void **state)
{
    struct uenv *e = *state;
    store_uplink_close(e->u);
    tenv_teardown(&e->t);
    free(e);
    return 0;
}

__attribute__((format(printf, 2, 3))) static int64_t look(struct uenv *e, const char *fmt, ...)
{
    char sql[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof(sql), fmt, ap);
    va_end(ap);
    sqlite3_stmt *st;
    int64_t v = -1;
    if (sqlite3_prepare_v2(tdb(&e->t), sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(tdb(&e->t)));
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static struct store_uplink_harvest harvest(struct uenv *e, int64_t now_s)
{
    struct store_uplink_harvest h = {0}, sum = {0};
    do {
        assert_int_equal(store_uplink_harvest(e->u, e->t.cfg, now_s, &h), 0);
        sum.rollups += h.rollups;
        sum.withheld += h.withheld;
        sum.events += h.events;
        sum.devices += h.devices;
        sum.alerts += h.alerts;
        sum.replaced += h.replaced;
    } while (h.more > 0);
    return sum;
}

/* The newest queued item of key, parsed (NULL when none); its seq. */
static json_t *item(struct uenv *e, const char *key, int64_t *ret_seq)
{
    sqlite3_stmt *st;
    json_t *o = NULL;
    assert_int_equal(sqlite3_prepare_v2(tdb(&e->t),
                                        "SELECT seq, body FROM uplink_outbox WHERE key = ?1"
                                        " ORDER BY seq DESC LIMIT 1",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        *ret_seq = sqlite3_column_int64(st, 0);
        o = json_loads((const char *)sqlite3_column_text(st, 1), 0, NULL);
    }
    sqlite3_finalize(st);
    return o;
}

static void test_dirty_only_with_uplink(void **state)
{
    struct uenv *e = *state;
    int64_t t0 = tu_day_start(tu_now_s()) - 5 * 86400;
    assert_int_equal(tput(&e->t, "elec", t0, 100), 0);
    assert_int_equal(tput(&e->t, "elec", t0 + 2 * H, 102), 0);
    assert_int_equal(look(e, "SELECT count(*) FROM uplink_dirty"), 0);
    assert_int_equal(look(e, "SELECT backfill FROM uplink_state"), 0);
}

static void test_periods_consent_and_revision(void **state)
{
    struct uenv *e = *state;
    int64_t now = tu_now_s();
    int64_t day = tu_day_start(now) - 3 * 86400; /* a settled day */
    char key[128];
    int64_t seq = 0, seq2 = 0;

    /* Backfill of an empty history first. */
    harvest(e, now);
    assert_int_equal(look(e, "SELECT backfill FROM uplink_state"), -1);

    assert_int_equal(tput(&e->t, "elec", day + H, 100), 0);
    assert_int_equal(tput(&e->t, "elec", day + 3 * H, 104), 0);
    assert_int_equal(tput(&e->t, "gas2", day + H, 50), 0);
    assert_int_equal(tput(&e->t, "gas2", day + 3 * H, 52), 0);
    assert_int_equal(tput(&e->t, "outdoor", day + H, 7.5), 0);
    /* The current hour: never settled yet. */
    assert_int_equal(tput(&e->t, "outdoor", now - 1, 9), 0);
    assert_true(look(e, "SELECT count(*) FROM uplink_dirty WHERE gran = 0") >= 5);

    struct store_uplink_harvest h = harvest(e, now);
    /* gas2's hours 1, 2 (the spread) and 3 (its second reading) stay: d2
     * has no consent. */
    assert_int_equal(h.withheld, 3);
    snprintf(key, sizeof(key), "rollup:elec:hour:%lld", (long long)(day + 2 * H));
    json_t *o = item(e, key, &seq);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "type")), "rollup");
    assert_string_equal(json_string_value(json_object_get(o, "gran")), "hour");
    assert_string_equal(json_string_value(json_object_get(o, "dwelling")), "d1");
    assert_string_equal(json_string_value(json_object_get(o, "building")), "b1");
    assert_string_equal(json_string_value(json_object_get(o, "quantity")), "electricity");
    assert_string_equal(json_string_value(json_object_get(o, "kind")), "counter");
    assert_string_equal(json_string_value(json_object_get(o, "unit")), "kWh");
    assert_int_equal(json_integer_value(json_object_get(o, "start_s")), day + 2 * H);
    assert_double_equal(json_real_value(json_object_get(o, "sum")), 2, 1e-9);
    assert_true(json_is_null(json_object_get(o, "min")));
    json_decref(o);
    /* No hour of gas2 (d2 has no consent), but its day. */
    assert_int_equal(
        look(e, "SELECT count(*) FROM uplink_outbox WHERE key LIKE 'rollup:gas2:hour:%%'"), 0);
    snprintf(key, sizeof(key), "rollup:gas2:day:%lld", (long long)day);
    o = item(e, key, &seq2);
    assert_non_null(o);
    assert_double_equal(json_real_value(json_object_get(o, "sum")), 2, 1e-9);
    json_decref(o);
    /* The building's hour goes. */
    snprintf(key, sizeof(key), "rollup:outdoor:hour:%lld", (long long)(day + H));
    o = item(e, key, &seq2);
    assert_non_null(o);
    assert_true(json_is_null(json_object_get(o, "dwelling")));
    assert_double_equal(json_real_value(json_object_get(o, "max")), 7.5, 1e-9);
    json_decref(o);
    /* The current hour waits, as a dirty key. */
    assert_int_equal(look(e, "SELECT count(*) FROM uplink_dirty WHERE gran = 0 AND ts = %lld",
                          (long long)(now - 1 - (now - 1) % H)),
                     1);

    /* A late reading revises hour 2: queued again, higher seq, one item. */
    snprintf(key, sizeof(key), "rollup:elec:hour:%lld", (long long)(day + 2 * H));
    assert_int_equal(store_uplink_mark_sent(e->u, seq, seq, now), 0);
    assert_int_equal(tput(&e->t, "elec", day + 2 * H + 1800, 101), 0);
    h = harvest(e, now);
    assert_true(h.replaced >= 1);
    int64_t seq_new = 0;
    o = item(e, key, &seq_new);
    assert_non_null(o);
    assert_true(seq_new > seq);
    /* 100 -> 101 over 1.5 h puts 1/3 in hour 2, 101 -> 104 its last half hour. */
    assert_double_equal(json_real_value(json_object_get(o, "sum")), 1.0 / 3 + 3, 1e-9);
    json_decref(o);
    assert_int_equal(look(e, "SELECT count(*) FROM uplink_outbox WHERE key = '%s'", key), 1);

    /* d1's consent withdrawn (a reload): its hourly items still waiting
     * never leave; its daily ones and the building's hours stay. */
    int64_t before = look(e, "SELECT count(*) FROM uplink_outbox");
    int64_t hours_d1 =
        look(e, "SELECT count(*) FROM uplink_outbox WHERE key LIKE 'rollup:elec:hour:%%'");
    assert_true(hours_d1 >= 3);
    for (size_t i = 0; i < e->t.cfg->n_dwellings; i++)
        e->t.cfg->dwellings[i].consent = false;
    int64_t gone = 0;
    assert_int_equal(store_uplink_withhold_hours(e->u, e->t.cfg, &gone), 0);
    assert_int_equal(gone, hours_d1);
    assert_int_equal(look(e, "SELECT count(*) FROM uplink_outbox"), before - hours_d1);
    assert_int_equal(
        look(e, "SELECT count(*) FROM uplink_outbox WHERE key LIKE 'rollup:elec:day:%%'"), 1);
    assert_true(
        look(e, "SELECT count(*) FROM uplink_outbox WHERE key LIKE 'rollup:outdoor:hour:%%'") >= 1);
}

static void test_seq_never_reused_and_alert(void **state)
{
    struct uenv *e = *state;
    int64_t seq1 = 0, seq2 = 0, n = 0, items = -1, oldest = -1;
    struct store_uplink_alert a = {.id = 7,
                                   .kind = "no_data",
                                   .severity = "warning",
                                   .building = "b1",
                                   .dwelling = "d1",
                                   .state = "open",
                                   .opened_s = 1700000000,
                                   .text_fr = "Pas de données",
                                   .text_en = "No data"};
    assert_int_equal(store_uplink_add_alert(e->u, &a, 1700000100, &seq1), 0);
    assert_int_equal(store_uplink_depth(e->u, &items, &oldest), 0);
    assert_int_equal(items, 1);
    assert_int_equal(oldest, 1700000100);
    assert_int_equal(store_uplink_delete(e->u, seq1, seq1, &n), 0);
    assert_int_equal(n, 1);
    a.state = "closed";
    a.closed_s = 1700000500;
    assert_int_equal(store_uplink_add_alert(e->u, &a, 1700000600, &seq2), 0);
    assert_true(seq2 > seq1);
    int64_t got = 0;
    json_t *o = item(e, "alert:7", &got);
    assert_int_equal(got, seq2);
    assert_string_equal(json_string_value(json_object_get(o, "state")), "closed");
    assert_int_equal(json_integer_value(json_object_get(o, "closed_s")), 1700000500);
    assert_true(json_is_null(json_object_get(o, "acknowledged_s")));
    assert_true(json_is_null(json_object_get(o, "channel")));
    assert_string_equal(json_string_value(json_object_get(o, "text_fr")), "Pas de données");
    json_decref(o);
    /* foyerctl status reads the same on a read-only handle. */
    struct store *ro;
    const char *msg;
    assert_int_equal(store_open_readonly(e->t.db, e->t.cfg, &ro, &msg), 0);
    assert_int_equal(store_uplink_read_depth(ro, &items, &oldest), 0);
    assert_int_equal(items, 1);
    assert_int_equal(oldest, 1700000600);
    store_close(ro);
}

static void test_events_once_in_order(void **state)
{
    struct uenv *e = *state;
    int64_t now = tu_now_s();
    harvest(e, now);
    assert_int_equal(texec(&e->t, "INSERT INTO events(ts, device, kind, detail, logged) VALUES"
                                  " (1700000000, 'm1', 'offline', 'no answer', 0),"
                                  " (1700000060, 'm1', 'online', NULL, 0)"),
                     SQLITE_OK);
    struct store_uplink_harvest h = harvest(e, now);
    assert_int_equal(h.events, 2);
    h = harvest(e, now);
    assert_int_equal(h.events, 0);
    int64_t s1 = 0, s2 = 0;
    int64_t id1 = look(e, "SELECT min(id) FROM events"),
            id2 = look(e, "SELECT max(id) FROM events");
    char k1[32], k2[32];
    snprintf(k1, sizeof(k1), "event:%lld", (long long)id1);
    snprintf(k2, sizeof(k2), "event:%lld", (long long)id2);
    json_t *o1 = item(e, k1, &s1), *o2 = item(e, k2, &s2);
    assert_true(s1 < s2);
    assert_string_equal(json_string_value(json_object_get(o1, "kind")), "offline");
    assert_string_equal(json_string_value(json_object_get(o1, "device")), "m1");
    assert_true(json_is_null(json_object_get(o2, "detail")));
    assert_int_equal(json_integer_value(json_object_get(o2, "time_s")), 1700000060);
    json_decref(o1);
    json_decref(o2);

    /* Device health: the devices updated since the last look, at most
     * every device_every_s (900 s by default; the first harvest was at now). */
    char sql[400];
    snprintf(sql, sizeof(sql),
             "INSERT INTO devices(name, kind, state, since, last_success, polls, timeouts,"
             " crc_errors, exceptions, bad_values, other_errors, response_ms, updated) VALUES"
             " ('m1', 'meter', 'offline', 1700000000, 0, 10, 3, 1, 0, 0, 0, 12.5, %lld)",
             (long long)(now + 100));
    assert_int_equal(texec(&e->t, sql), SQLITE_OK);
    h = harvest(e, now + 10);
    assert_int_equal(h.devices, 0); /* not before device_every_s */
    h = harvest(e, now + 900);
    assert_int_equal(h.devices, 1);
    o1 = item(e, "device:m1", &s1);
    assert_non_null(o1);
    assert_string_equal(json_string_value(json_object_get(o1, "state")), "offline");
    assert_int_equal(json_integer_value(json_object_get(o1, "errors")), 4);
    assert_int_equal(json_integer_value(json_object_get(o1, "timeouts")), 3);
    assert_true(json_is_null(json_object_get(o1, "last_ok_s")));
    json_decref(o1);
    h = harvest(e, now + 1800);
    assert_int_equal(h.devices, 0); /* not updated since the last look */
    snprintf(sql, sizeof(sql),
             "UPDATE devices SET state = 'ok', last_success = 1700000200, updated = %lld",
             (long long)(now + 1900));
    assert_int_equal(texec(&e->t, sql), SQLITE_OK);
    h = harvest(e, now + 2700);
    assert_int_equal(h.devices, 1);
    assert_int_equal(h.replaced, 1); /* the older, unsent item of m1 */
    o1 = item(e, "device:m1", &s2);
    assert_true(s2 > s1);
    assert_string_equal(json_string_value(json_object_get(o1, "state")), "ok");
    assert_int_equal(json_integer_value(json_object_get(o1, "last_ok_s")), 1700000200);
    json_decref(o1);
}

static void test_alert_states_once(void **state)
{
    struct uenv *e = *state;
    int64_t now = tu_now_s(), s1 = 0, s2 = 0, s3 = 0;
    harvest(e, now);
    /* Opened by the engine; a bus's alert has no building. */
    assert_int_equal(texec(&e->t, "INSERT INTO alerts(id, kind, subject, severity, building,"
                                  " dwelling, channel, state, opened, last_seen, text_fr, text_en)"
                                  " VALUES (5, 'cold_home', 'd1', 'warning', 'b1', 'd1', 'temp1',"
                                  " 0, 1700000000, 1700003600, 'Froid', 'Cold'),"
                                  " (6, 'device_silent', 'bus0', 'warning', NULL, NULL, NULL,"
                                  " 0, 1700000000, 1700000000, 'Muet', 'Silent')"),
                     SQLITE_OK);
    struct store_uplink_harvest h = harvest(e, now);
    assert_int_equal(h.alerts, 2);
    json_t *o = item(e, "alert:5", &s1);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "state")), "open");
    assert_string_equal(json_string_value(json_object_get(o, "kind")), "cold_home");
    assert_string_equal(json_string_value(json_object_get(o, "channel")), "temp1");
    assert_int_equal(json_integer_value(json_object_get(o, "opened_s")), 1700000000);
    assert_true(json_is_null(json_object_get(o, "acknowledged_s")));
    assert_string_equal(json_string_value(json_object_get(o, "text_en")), "Cold");
    json_decref(o);
    o = item(e, "alert:6", &s2);
    assert_true(json_is_null(json_object_get(o, "building")));
    json_decref(o);
    /* Nothing changed; then only its last hour moved: nothing to send. */
    assert_int_equal(harvest(e, now).alerts, 0);
    assert_int_equal(texec(&e->t, "UPDATE alerts SET last_seen = 1700007200 WHERE id = 5"),
                     SQLITE_OK);
    assert_int_equal(harvest(e, now).alerts, 0);
    /* Acknowledged by hand, then closed: each state sent once. */
    assert_int_equal(
        texec(&e->t, "UPDATE alerts SET state = 1, acked = 1700010000, ack_by = 'x' WHERE id = 5"),
        SQLITE_OK);
    h = harvest(e, now);
    assert_int_equal(h.alerts, 1);
    assert_int_equal(h.replaced, 1); /* the open state, still waiting */
    o = item(e, "alert:5", &s3);
    assert_true(s3 > s1);
    assert_string_equal(json_string_value(json_object_get(o, "state")), "acknowledged");
    assert_int_equal(json_integer_value(json_object_get(o, "acknowledged_s")), 1700010000);
    json_decref(o);
    assert_int_equal(harvest(e, now).alerts, 0);
    assert_int_equal(texec(&e->t, "UPDATE alerts SET state = 2, closed = 1700020000 WHERE id = 5"),
                     SQLITE_OK);
    assert_int_equal(harvest(e, now).alerts, 1);
    o = item(e, "alert:5", &s1);
    assert_true(s1 > s3);
    assert_string_equal(json_string_value(json_object_get(o, "state")), "closed");
    assert_int_equal(json_integer_value(json_object_get(o, "closed_s")), 1700020000);
    json_decref(o);
    assert_int_equal(harvest(e, now).alerts, 0);
}

/* The seq floor: raised on an empty outbox never used, never lowered. */
static void test_seq_floor(void **state)
{
    struct uenv *e = *state;
    struct store_uplink_alert a = {.id = 1,
                                   .kind = "k",
                                   .severity = "info",
                                   .building = "b1",
                                   .state = "open",
                                   .opened_s = 1700000000,
                                   .text_fr = "F",
                                   .text_en = "E"};
    int64_t seq = 0;
    bool raised = false;
    assert_int_equal(store_uplink_seq_floor(e->u, 5000, &raised), 0);
    assert_true(raised);
    assert_int_equal(store_uplink_add_alert(e->u, &a, 1700000000, &seq), 0);
    assert_int_equal(seq, 5001);
    assert_int_equal(store_uplink_seq_floor(e->u, 100, &raised), 0);
    assert_false(raised);
    assert_int_equal(store_uplink_add_alert(e->u, &a, 1700000000, &seq), 0);
    assert_int_equal(seq, 5002);
    assert_int_equal(store_uplink_seq_floor(e->u, 9000, &raised), 0);
    assert_true(raised);
    assert_int_equal(store_uplink_add_alert(e->u, &a, 1700000000, &seq), 0);
    assert_int_equal(seq, 9001);
}

/* The consent read from the store (store_uplink_set_consent()), not the
 * config's flag, decides: d1 (flag yes) withdrawn, d2 (flag no) given; the
 * withdrawn dwelling's waiting hours leave the outbox; the mark moves when
 * foyerctl consent records. */
static void test_consent_from_store(void **state)
{
    struct uenv *e = *state;
    int64_t now = tu_now_s();
    int64_t day = tu_day_start(now) - 3 * 86400;
    int64_t mark0 = 0, mark1 = 0, gone = 0;
    const char *msg = NULL;
    char tenancy[FOYER_ID_MAX + 1];

    harvest(e, now);
    assert_int_equal(tput(&e->t, "elec", day + H, 100), 0);
    assert_int_equal(tput(&e->t, "elec", day + 3 * H, 104), 0);
    harvest(e, now);
    int64_t hours_d1 =
        look(e, "SELECT count(*) FROM uplink_outbox WHERE key LIKE 'rollup:elec:hour:%%'");
    assert_true(hours_d1 >= 3);

    assert_int_equal(store_uplink_consent_mark(e->u, &mark0), 0);
    assert_int_equal(store_consent_record(e->t.db, e->t.cfg, "d1", STORE_PURPOSE_LOAD_CURVE, false,
                                          "test", now, tenancy, &msg),
                     0);
    assert_int_equal(store_uplink_consent_mark(e->u, &mark1), 0);
    assert_true(mark1 != mark0);

    bool consent[2] = {false, true}; /* d1, d2 (the config's order) */
    assert_int_equal(e->t.cfg->n_dwellings, 2);
    assert_string_equal(e->t.cfg->dwellings[1].id, "d2");
    assert_true(e->t.cfg->dwellings[0].consent && !e->t.cfg->dwellings[1].consent);
    assert_int_equal(store_uplink_set_consent(e->u, e->t.cfg, consent), 0);
    assert_int_equal(store_uplink_withhold_hours(e->u, e->t.cfg, &gone), 0);
    assert_int_equal(gone, hours_d1);
    assert_int_equal(
        look(e, "SELECT count(*) FROM uplink_outbox WHERE key LIKE 'rollup:elec:hour:%%'"), 0);
    assert_int_equal(
        look(e, "SELECT count(*) FROM uplink_outbox WHERE key LIKE 'rollup:elec:day:%%'"), 1);

    /* Later hours: none of d1, d2's go. */
    assert_int_equal(tput(&e->t, "elec", day + 5 * H, 108), 0);
    assert_int_equal(tput(&e->t, "gas2", day + H, 50), 0);
    assert_int_equal(tput(&e->t, "gas2", day + 3 * H, 52), 0);
    struct store_uplink_harvest h = harvest(e, now);
    assert_true(h.withheld >= 2); /* elec's new hours */
    assert_int_equal(
        look(e, "SELECT count(*) FROM uplink_outbox WHERE key LIKE 'rollup:elec:hour:%%'"), 0);
    assert_int_equal(
        look(e, "SELECT count(*) FROM uplink_outbox WHERE key LIKE 'rollup:gas2:hour:%%'"), 3);

    /* Back to the config's flags. */
    assert_int_equal(store_uplink_set_consent(e->u, e->t.cfg, NULL), 0);
    assert_int_equal(store_uplink_withhold_hours(e->u, e->t.cfg, &gone), 0);
    assert_int_equal(gone, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dirty_only_with_uplink, setup_no_uplink, teardown),
        cmocka_unit_test_setup_teardown(test_periods_consent_and_revision, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seq_never_reused_and_alert, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events_once_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alert_states_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seq_floor, setup, teardown),
        cmocka_unit_test_setup_teardown(test_consent_from_store, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
