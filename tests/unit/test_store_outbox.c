/*
 * test_store_outbox.c - the store's outbox (include/foyer/store_outbox.h),
 * the pusher's own handle on a real SQLite file next to the writer's:
 *  - summaries stored and queued once per endpoint, in one transaction; a
 *    summary queued again under the same key is not queued twice;
 *  - the head items: the oldest pending one of each (endpoint, dwelling);
 *  - tries recorded, expiry, the push_given_up event;
 *  - the pusher's commits leave the writer's cached counter state alone
 *    (before, each changed PRAGMA data_version and the writer rebuilt every
 *    channel's state: three queries per channel), while another handle's
 *    ingest (foyerctl import next to foyerd) is still noticed;
 *  - a database of schema version 3 gets the generation at the writer's
 *    open.
 * The database is looked into on a connection of the test's own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "foyer/store_outbox.h"
#include "testutil.h"

#define H 3600

struct oenv {
    struct tenv t;
    struct store_outbox *o;
    sqlite3 *look; /* the test's own connection */
};

static int setup(void **state)
{
    struct oenv *e = calloc(1, sizeof(*e));
    const char *msg;
    if (!e || tenv_setup(&e->t, NULL) < 0)
        return -1;
    if (store_outbox_open(e->t.db, &e->o, &msg) < 0) {
        fprintf(stderr, "store_outbox_open: %s\n", msg);
        return -1;
    }
    if (sqlite3_open_v2(e->t.db, &e->look, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        return -1;
    sqlite3_busy_timeout(e->look, 2000);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    struct oenv *e = *state;
    sqlite3_close(e->look);
    store_outbox_close(e->o);
    tenv_teardown(&e->t);
    free(e);
    return 0;
}

/* One number from SQL on the test's own connection. */
static int64_t look(struct oenv *e, const char *sql)
{
    sqlite3_stmt *st;
    int64_t v = -1;
    if (sqlite3_prepare_v2(e->look, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(e->look));
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static const char *const two_eps[] = {"a", "b"};

/* Store and queue summaries (key, dwelling, period) for endpoints a and b;
 * returns the rows queued. */
static uint64_t add(struct oenv *e, int64_t now_s, size_t n, char *const (*rows)[3])
{
    struct store_outbox_summary s[8] = {{0}};
    assert_true(n > 0 && n <= 8);
    for (size_t i = 0; i < n; i++) {
        s[i] = (struct store_outbox_summary){.next = i + 1 < n ? &s[i + 1] : NULL,
                                             .key = rows[i][0],
                                             .dwelling = rows[i][1],
                                             .period = rows[i][2],
                                             .body = rows[i][0]};
    }
    uint64_t queued = 99;
    int rc = store_outbox_add(e->o, s, 1, two_eps, 2, now_s, &queued, NULL);
    if (rc < 0)
        fail_msg("store_outbox_add: %s", store_outbox_errmsg(e->o));
    return queued;
}

/* The head items, as "endpoint:key" joined by spaces. */
struct heads {
    char text[512];
    int64_t ids[16];
    size_t n;
    size_t stop_after; /* 0: never */
};

static int collect(void *ud, const struct store_outbox_row *row)
{
    struct heads *h = ud;
    size_t len = strlen(h->text);
    snprintf(h->text + len, sizeof(h->text) - len, "%s%s:%s", len ? " " : "", row->endpoint,
             row->key);
    if (h->n < 16)
        h->ids[h->n] = row->id;
    h->n++;
    return h->stop_after && h->n == h->stop_after ? 42 : 0;
}

static void heads(struct oenv *e, struct heads *h)
{
    size_t stop_after = h->stop_after;
    memset(h, 0, sizeof(*h));
    h->stop_after = stop_after;
    int rc = store_outbox_heads(e->o, collect, h);
    assert_int_equal(rc, stop_after ? 42 : 0);
}

static void test_add_and_heads(void **state)
{
    struct oenv *e = *state;
    char *const rows[][3] = {
        {"k-d1-w1", "d1", "2026-W01"},
        {"k-d2-w1", "d2", "2026-W01"},
        {"k-d1-w2", "d1", "2026-W02"},
    };
    int64_t now = tu_now_s();
    assert_int_equal(add(e, now, 3, rows), 6);
    assert_int_equal(look(e, "SELECT count(*) FROM summaries"), 3);
    /* The same summaries again: replaced in summaries, not queued twice. */
    assert_int_equal(add(e, now, 3, rows), 0);
    assert_int_equal(look(e, "SELECT count(*) FROM outbox"), 6);
    assert_int_equal(look(e, "SELECT count(*) FROM summaries"), 3);

    /* d1's second week waits behind its first, for each endpoint. */
    struct heads h = {0};
    heads(e, &h);
    assert_string_equal(h.text, "a:k-d1-w1 b:k-d1-w1 a:k-d2-w1 b:k-d2-w1");

    /* A failed try keeps the item the head, with its count and error. */
    assert_int_equal(
        store_outbox_set(e->o, h.ids[0], STORE_OUTBOX_PENDING, 1, now + 30, "HTTP 500"), 0);
    char sql[160];
    snprintf(sql, sizeof(sql),
             "SELECT attempts * 1000 + (next_try - %lld) FROM outbox WHERE id = %lld "
             "AND state = 0 AND last_error = 'HTTP 500' AND body <> ''",
             (long long)now, (long long)h.ids[0]);
    assert_int_equal(look(e, sql), 1030);
    heads(e, &h);
    assert_string_equal(h.text, "a:k-d1-w1 b:k-d1-w1 a:k-d2-w1 b:k-d2-w1");

    /* Delivered to a: d1's next item becomes a's head, b still waits. */
    assert_int_equal(store_outbox_set(e->o, h.ids[0], STORE_OUTBOX_DELIVERED, 2, now, NULL), 0);
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM outbox WHERE id = %lld AND state = 1 AND attempts = 2"
             " AND body = '' AND last_error IS NULL",
             (long long)h.ids[0]);
    assert_int_equal(look(e, sql), 1);
    heads(e, &h);
    assert_string_equal(h.text, "b:k-d1-w1 a:k-d2-w1 b:k-d2-w1 a:k-d1-w2");

    /* Given up by b: the same, for b. */
    assert_int_equal(store_outbox_set(e->o, h.ids[0], STORE_OUTBOX_GIVEN_UP, 1, now, "HTTP 400"),
                     0);
    heads(e, &h);
    assert_string_equal(h.text, "a:k-d2-w1 b:k-d2-w1 a:k-d1-w2 b:k-d1-w2");

    /* The callback stops the scan, and its value comes back. */
    h.stop_after = 2;
    heads(e, &h);
    assert_string_equal(h.text, "a:k-d2-w1 b:k-d2-w1");
}

static void test_expire_and_event(void **state)
{
    struct oenv *e = *state;
    char *const old[][3] = {{"k-old", "d1", "2026-W01"}};
    char *const young[][3] = {{"k-young", "d2", "2026-W01"}};
    int64_t now = tu_now_s(), n = -1;
    assert_int_equal(add(e, now - 1000, 1, old), 2);
    assert_int_equal(add(e, now, 1, young), 2);

    assert_int_equal(store_outbox_expire(e->o, "a", now - 500, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(look(e, "SELECT count(*) FROM outbox WHERE state = 2 AND endpoint = 'a'"
                             " AND key = 'k-old' AND last_error = 'expired' AND body = ''"),
                     1);
    assert_int_equal(store_outbox_expire(e->o, "a", now - 500, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(look(e, "SELECT count(*) FROM outbox WHERE state = 0"), 3);

    assert_int_equal(store_outbox_event_given_up(e->o, "a", "1 summaries expired", now), 0);
    assert_int_equal(look(e, "SELECT count(*) FROM events WHERE device = 'push:a'"
                             " AND kind = 'push_given_up' AND detail = '1 summaries expired'"
                             " AND channel IS NULL"),
                     1);
}

/* Delivered items are deleted after the retention, by their delivery time;
 * pending and given-up ones, and the stored summaries, stay. */
static void test_purge_delivered(void **state)
{
    struct oenv *e = *state;
    char *const rows[][3] = {
        {"k-old", "d1", "2026-W01"},
        {"k-new", "d2", "2026-W01"},
        {"k-lost", "d3", "2026-W01"},
    };
    const int64_t day = 86400;
    int64_t now = tu_now_s(), n = -1;
    assert_int_equal(add(e, now - 100 * day, 3, rows), 6);
    struct heads h = {0};
    heads(e, &h);
    assert_string_equal(h.text, "a:k-old b:k-old a:k-new b:k-new a:k-lost b:k-lost");
    assert_int_equal(
        store_outbox_set(e->o, h.ids[0], STORE_OUTBOX_DELIVERED, 1, now - 95 * day, NULL), 0);
    assert_int_equal(store_outbox_set(e->o, h.ids[2], STORE_OUTBOX_DELIVERED, 1, now, NULL), 0);
    assert_int_equal(
        store_outbox_set(e->o, h.ids[4], STORE_OUTBOX_GIVEN_UP, 1, now - 95 * day, "HTTP 400"), 0);

    assert_int_equal(store_outbox_purge(e->o, now - 90 * day, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(look(e, "SELECT count(*) FROM outbox WHERE key = 'k-old' AND endpoint = 'a'"),
                     0);
    assert_int_equal(look(e, "SELECT count(*) FROM outbox"), 5);
    assert_int_equal(look(e, "SELECT count(*) FROM outbox WHERE state = 1"), 1);
    assert_int_equal(look(e, "SELECT count(*) FROM outbox WHERE state = 2"), 1);
    assert_int_equal(look(e, "SELECT count(*) FROM summaries"), 3);
    assert_int_equal(store_outbox_purge(e->o, now - 90 * day, &n), 0);
    assert_int_equal(n, 0);
}

static void test_open_needs_the_database(void **state)
{
    struct oenv *e = *state;
    char path[160];
    struct store_outbox *o = NULL;
    const char *msg = NULL;
    snprintf(path, sizeof(path), "%s/none.db", e->t.dir);
    assert_true(store_outbox_open(path, &o, &msg) < 0);
    assert_null(o);
    assert_non_null(msg);
    assert_int_equal(access(path, F_OK), -1); /* not created */
}

/* The regression: the pusher's commits no longer make the writer rebuild
 * its cached counter state. */
static void test_outbox_commit_keeps_writer_cache(void **state)
{
    struct oenv *e = *state;
    struct tenv *t = &e->t;
    int64_t t0 = tiso("2026-01-05T00:00:00Z");
    char *const rows[][3] = {{"k1", "d1", "2026-W01"}};

    assert_int_equal(tput(t, "elec", t0, 100), 0);
    assert_int_equal(tput(t, "roll", t0, 500), 0);
    assert_int_equal(t->stats.state_loads, 2);
    assert_int_equal(tput(t, "elec", t0 + H, 101), 0);
    assert_int_equal(t->stats.state_loads, 2); /* cached */

    /* What the pusher does in a round: store, record tries, expire, event. */
    assert_int_equal(add(e, tu_now_s(), 1, rows), 2);
    struct heads h = {0};
    heads(e, &h);
    assert_int_equal(store_outbox_set(e->o, h.ids[0], STORE_OUTBOX_DELIVERED, 1, t0, NULL), 0);
    assert_int_equal(store_outbox_set(e->o, h.ids[1], STORE_OUTBOX_PENDING, 1, t0, "HTTP 503"), 0);
    int64_t n;
    assert_int_equal(store_outbox_expire(e->o, "a", 0, &n), 0);
    assert_int_equal(store_outbox_event_given_up(e->o, "b", "k1 refused: HTTP 400", t0), 0);

    assert_int_equal(tput(t, "elec", t0 + 2 * H, 102), 0);
    assert_int_equal(tput(t, "roll", t0 + 2 * H, 502), 0);
    if (t->stats.state_loads != 2)
        fail_msg("the writer rebuilt %llu channels' counter state after the pusher's commits",
                 (unsigned long long)(t->stats.state_loads - 2));
    assert_double_equal(thours(t, "elec", t0, t0 + 3 * H), 2, 1e-9);
    assert_double_equal(thours(t, "roll", t0, t0 + 3 * H), 2, 1e-9);
}

/* Another handle's ingest (foyerctl import next to foyerd) is still
 * noticed: the writer drops its cache and counts from the imported
 * reading, never twice over the same interval. */
static void test_import_next_to_writer_noticed(void **state)
{
    struct oenv *e = *state;
    struct tenv *t = &e->t;
    int64_t t0 = tiso("2026-01-05T00:00:00Z");
    struct store *imp;
    struct ingest_stats ist = {0};
    const char *msg;

    assert_int_equal(tput(t, "elec", t0, 100), 0);
    assert_int_equal(tput(t, "roll", t0, 500), 0);
    assert_int_equal(t->stats.state_loads, 2);

    assert_int_equal(store_open(t->db, t->cfg, &imp, &msg), 0);
    struct reading r = {.channel = tchan(t, "elec"), .ts_s = t0 + H, .value = 110};
    assert_int_equal(store_ingest(imp, &r, 1, 0, &ist), 0);
    assert_int_equal(ist.stored, 1);

    assert_int_equal(tput(t, "elec", t0 + 2 * H, 115), 0);
    assert_int_equal(t->stats.state_loads, 3); /* elec rebuilt, from the import */
    assert_double_equal(thours(t, "elec", t0, t0 + 3 * H), 15, 1e-9);

    /* And the import notices the writer's ingest the same way. */
    r = (struct reading){.channel = tchan(t, "elec"), .ts_s = t0 + 3 * H, .value = 116};
    assert_int_equal(store_ingest(imp, &r, 1, 0, &ist), 0);
    assert_double_equal(thours(t, "elec", t0, t0 + 4 * H), 16, 1e-9);
    store_close(imp);

    /* The writer's own ingests never drop its cache. */
    assert_int_equal(tput(t, "roll", t0 + H, 501), 0);
    assert_int_equal(tput(t, "roll", t0 + 2 * H, 502), 0);
    assert_int_equal(t->stats.state_loads, 4); /* roll once, after the import's ingest */
}

/* A database of schema version 3 (before the ingest generation) is
 * migrated at the writer's open, its readings and queue position kept. */
static void test_migration_from_v3(void **state)
{
    struct oenv *e = *state;
    struct tenv *t = &e->t;
    int64_t t0 = tiso("2026-01-05T00:00:00Z");
    sqlite3 *db;
    const char *msg;

    assert_int_equal(tput(t, "elec", t0, 100), 0);
    store_outbox_close(e->o);
    e->o = NULL;
    store_close(t->s);
    t->s = NULL;
    assert_int_equal(sqlite3_open(t->db, &db), SQLITE_OK);
    assert_int_equal(
        sqlite3_exec(db,
                     "ALTER TABLE ingest_state DROP COLUMN ingest_gen;"
                     " DROP TABLE tip_answers; DROP TABLE reports;" /* version 5 */
                     " DROP TABLE uplink_dirty; DROP TABLE uplink_outbox;"
                     " DROP TABLE uplink_state;" /* version 8 */
                     " UPDATE ingest_state SET queue_seq = 77; PRAGMA user_version = 3",
                     NULL, NULL, NULL),
        SQLITE_OK);
    sqlite3_close(db);

    assert_int_equal(store_open(t->db, t->cfg, &t->s, &msg), 0);
    assert_int_equal(look(e, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    uint64_t seq = 0, id = 0;
    assert_int_equal(store_queue_state(t->s, &seq, &id), 0);
    assert_int_equal(seq, 77);
    assert_int_equal(tput(t, "elec", t0 + H, 101), 0);
    assert_int_equal(look(e, "SELECT ingest_gen FROM ingest_state"), 1);
    assert_double_equal(thours(t, "elec", t0, t0 + 2 * H), 1, 1e-9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_add_and_heads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expire_and_event, setup, teardown),
        cmocka_unit_test_setup_teardown(test_purge_delivered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_needs_the_database, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbox_commit_keeps_writer_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_next_to_writer_noticed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migration_from_v3, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
