/*
 * store_erase.c - the right to erasure (include/foyer/store_erase.h): a
 * dwelling's personal data deleted before a cut, its counters' consumption
 * folded first into rollup_folded (building, quantity, period), and the
 * reader every building total adds.
 *
 * In: foyerctl erase (a write handle of its own next to foyerd: SQLite
 * serialises the one IMMEDIATE transaction with the writer's batches) and
 * foyerd's writer (store_erase_due(), after its hourly retention run).
 * Out: store_read_folded() for the building totals (summaries' building
 * figure, the status totals of the API and the ambassador page).
 *
 * Counter state: foyerd's writer keeps each channel's last reading in
 * memory and an erasure raises no ingest generation, so the next reading
 * of an erased counter is still measured from it.  A foyerd started after
 * an erasure that took every reading of a counter begins it on a new
 * baseline (one interval's consumption is not counted): the price of not
 * keeping the household's last index.
 */
#include "foyer/store_erase.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "foyer/limits.h"
#include "foyer/store_auth.h"
#include "foyer/store_tenancy.h"
#include "foyer/timeutil.h"
#include "store_int.h"

const char *store_erase_table(enum store_erase_what w)
{
    static const char *const names[STORE_ERASE_N] = {
        [STORE_ERASE_READINGS] = "readings",  [STORE_ERASE_HOURS] = "rollup_hour",
        [STORE_ERASE_DAYS] = "rollup_day",    [STORE_ERASE_MONTHS] = "rollup_month",
        [STORE_ERASE_EVENTS] = "events",      [STORE_ERASE_SUMMARIES] = "summaries",
        [STORE_ERASE_OUTBOX] = "outbox",      [STORE_ERASE_TIP_ANSWERS] = "tip_answers",
        [STORE_ERASE_REPORTS] = "reports",    [STORE_ERASE_ALERTS] = "alerts",
        [STORE_ERASE_TOKENS] = "tokens",      [STORE_ERASE_CONSENTS] = "consents",
        [STORE_ERASE_REFS] = "tenancies.ref", [STORE_ERASE_UPLINK] = "uplink",
        [STORE_ERASE_GRANTS] = "grants",
    };
    return (unsigned)w < STORE_ERASE_N ? names[w] : NULL;
}

/* The granularities of rollup_folded.gran, as uplink_dirty numbers them. */
static int gran_num(enum store_gran g)
{
    return g == STORE_HOUR ? 0 : g == STORE_DAY ? 1 : 2;
}

/* The parameters ?1..?5 of a statement: is_int[k] binds i[k], else t[k]
 * (NULL: left unbound, NULL). */
#define BIND_MAX 5
struct bind {
    const char *t[BIND_MAX];
    int64_t i[BIND_MAX];
    bool is_int[BIND_MAX];
};

/* Run sql (no result rows) with b bound; add its changes to *count (NULL:
 * not counted).  0 or -errno. */
static int run(sqlite3 *db, const char *sql, const struct bind *b, int64_t *count)
{
    sqlite3_stmt *st = NULL;
    int rc = store_sqlite_errno(sqlite3_prepare_v2(db, sql, -1, &st, NULL));
    for (int k = 0; rc == 0 && k < BIND_MAX; k++) {
        if (b->is_int[k])
            sqlite3_bind_int64(st, k + 1, b->i[k]);
        else if (b->t[k])
            sqlite3_bind_text(st, k + 1, b->t[k], -1, SQLITE_STATIC);
    }
    if (rc == 0)
        rc = store_step_done(st);
    if (rc == 0 && count)
        *count += sqlite3_changes(db);
    sqlite3_finalize(st);
    return rc;
}

/* Fold channel chan's rows of one rollup table before cut into
 * rollup_folded (building, quantity, gran). */
static int fold_table(sqlite3 *db, const char *table, enum store_gran g, int64_t chan,
                      const char *building, const char *quantity, int64_t cut_s)
{
    char sql[512];
    (void)snprintf(sql, sizeof(sql),
                   "INSERT INTO rollup_folded(building, quantity, gran, ts, sum, n)"
                   " SELECT ?1, ?2, %d, ts, sum, n FROM %s WHERE channel = ?3 AND ts < ?4"
                   " AND true ON CONFLICT(building, quantity, gran, ts) DO UPDATE SET"
                   " sum = sum + excluded.sum, n = n + excluded.n",
                   gran_num(g), table);
    struct bind b = {.t = {building, quantity}, .i = {0, 0, chan, cut_s}, .is_int = {0, 0, 1, 1}};
    return run(db, sql, &b, NULL);
}

/* Add one fold (gran 0: a day, 1: a month starting at start) to the
 * folds of the erasure item (protocol amendment 3) in acc, keyed by
 * building, quantity, gran and period; nothing without acc (no uplink). */
static int note_fold(json_t *acc, const char *building, const char *quantity, const char *unit,
                     int g, int64_t start, double sum, int64_t n)
{
    char key[2 * FOYER_ID_MAX + 64], local[40];
    if (!acc)
        return 0;
    (void)snprintf(key, sizeof(key), "%s\x1f%s\x1f%d\x1f%lld", building, quantity, g,
                   (long long)start);
    json_t *f = json_object_get(acc, key);
    if (f) {
        json_object_set_new(f, "sum", json_real(json_real_value(json_object_get(f, "sum")) + sum));
        json_object_set_new(f, "n", json_integer(json_integer_value(json_object_get(f, "n")) + n));
        return 0;
    }
    f = json_object();
    tu_format_local(start, local, sizeof(local));
    if (!f || json_object_set_new(acc, key, f) < 0)
        return -ENOMEM;
    json_object_set_new(f, "building", json_string(building));
    json_object_set_new(f, "quantity", json_string(quantity));
    json_object_set_new(f, "unit", json_string(unit ? unit : ""));
    json_object_set_new(f, "gran", json_string(g == 0 ? "day" : "month"));
    json_object_set_new(f, "start", json_string(local));
    json_object_set_new(f, "start_s", json_integer(start));
    json_object_set_new(f, "sum", json_real(sum));
    json_object_set_new(f, "n", json_integer(n));
    return 0;
}

/* The months of channel chan's erased days folded as months: the sum of
 * the days before cut, per local month.  The same pass notes each day and
 * its month in acc for the central database (note_fold(): the central
 * views have no building hours; a household's folded hours stay on its
 * gateway). */
static int fold_months(sqlite3 *db, int64_t chan, const char *building, const char *quantity,
                       const char *unit, int64_t cut_s, json_t *acc, double *ret_day_sum)
{
    static const char sel[] =
        "SELECT ts, sum, n FROM rollup_day WHERE channel = ?1 AND ts < ?2 ORDER BY ts";
    static const char up[] =
        "INSERT INTO rollup_folded(building, quantity, gran, ts, sum, n) VALUES (?1, ?2, 2, ?3,"
        " ?4, ?5) ON CONFLICT(building, quantity, gran, ts) DO UPDATE SET"
        " sum = sum + excluded.sum, n = n + excluded.n";
    sqlite3_stmt *s1 = NULL, *s2 = NULL;
    int rc = store_sqlite_errno(sqlite3_prepare_v2(db, sel, -1, &s1, NULL));
    if (rc == 0)
        rc = store_sqlite_errno(sqlite3_prepare_v2(db, up, -1, &s2, NULL));
    int64_t month = INT64_MIN, n = 0;
    double sum = 0, total = 0;
    bool done = false;
    if (rc == 0) {
        sqlite3_bind_int64(s1, 1, chan);
        sqlite3_bind_int64(s1, 2, cut_s);
    }
    while (rc == 0 && !done) {
        int src = sqlite3_step(s1);
        int64_t m = INT64_MIN;
        if (src == SQLITE_ROW)
            m = tu_month_start(sqlite3_column_int64(s1, 0));
        else if (src == SQLITE_DONE)
            done = true;
        else
            rc = store_sqlite_errno(src);
        if (rc == 0 && month != INT64_MIN && (done || m != month)) {
            sqlite3_bind_text(s2, 1, building, -1, SQLITE_STATIC);
            sqlite3_bind_text(s2, 2, quantity, -1, SQLITE_STATIC);
            sqlite3_bind_int64(s2, 3, month);
            sqlite3_bind_double(s2, 4, sum);
            sqlite3_bind_int64(s2, 5, n);
            rc = store_step_done(s2);
            sum = 0;
            n = 0;
        }
        if (rc == 0 && !done) {
            double day_sum = sqlite3_column_double(s1, 1);
            int64_t day_n = sqlite3_column_int64(s1, 2);
            month = m;
            sum += day_sum;
            total += day_sum;
            n += day_n;
            rc = note_fold(acc, building, quantity, unit, 0, sqlite3_column_int64(s1, 0), day_sum,
                           day_n);
            if (rc == 0)
                rc = note_fold(acc, building, quantity, unit, 1, m, day_sum, day_n);
        }
    }
    sqlite3_finalize(s1);
    sqlite3_finalize(s2);
    if (rc == 0)
        *ret_day_sum += total;
    return rc;
}

/* Queue the erasure's items for the central database (protocol amendment
 * 3): the dwelling, its channels, the cut and the folds of acc, cut into
 * parts of at most FOYER_UPLINK_ERASE_FOLDS_MAX folds. */
static int queue_erasure(sqlite3 *db, const char *dw, int64_t cut_s, int64_t now_s, json_t *acc)
{
    json_t *channels = NULL;
    int rc = store_uplink_dwelling_channels(db, dw, &channels);
    if (rc < 0)
        return rc;
    size_t n = json_object_size(acc);
    size_t parts = n ? (n + FOYER_UPLINK_ERASE_FOLDS_MAX - 1) / FOYER_UPLINK_ERASE_FOLDS_MAX : 1;
    void *iter = json_object_iter(acc);
    char cut[40];
    tu_format_local(cut_s, cut, sizeof(cut));
    for (size_t part = 1; rc == 0 && part <= parts; part++) {
        json_t *o = json_object(), *folded = json_array();
        if (!o || !folded) {
            json_decref(o);
            json_decref(folded);
            rc = -ENOMEM;
            break;
        }
        for (size_t k = 0; iter && k < FOYER_UPLINK_ERASE_FOLDS_MAX; k++) {
            json_array_append(folded, json_object_iter_value(iter));
            iter = json_object_iter_next(acc, iter);
        }
        json_object_set_new(o, "type", json_string("erasure"));
        json_object_set_new(o, "dwelling", json_string(dw));
        json_object_set(o, "channels", channels);
        json_object_set_new(o, "cut", json_string(cut));
        json_object_set_new(o, "cut_s", json_integer(cut_s));
        json_object_set_new(o, "part", json_integer((json_int_t)part));
        json_object_set_new(o, "parts", json_integer((json_int_t)parts));
        json_object_set_new(o, "folded", folded);
        char key[FOYER_ID_MAX + 64];
        (void)snprintf(key, sizeof(key), "erasure:%s:%lld:%zu", dw, (long long)cut_s, part);
        rc = store_uplink_queue_privacy(db, "erasure", key, o, now_s);
    }
    json_decref(channels);
    return rc;
}

/* Delete the rows of channel chan (named name) before cut, in every table
 * that holds them. */
static int erase_channel(sqlite3 *db, int64_t chan, const char *name, int64_t cut_s,
                         struct store_erase_account *a)
{
    struct bind b = {.i = {chan, cut_s}, .is_int = {1, 1}};
    int rc = run(db, "DELETE FROM readings WHERE channel = ?1 AND ts < ?2", &b,
                 &a->rows[STORE_ERASE_READINGS]);
    if (rc == 0)
        rc = run(db, "DELETE FROM rollup_hour WHERE channel = ?1 AND ts < ?2", &b,
                 &a->rows[STORE_ERASE_HOURS]);
    if (rc == 0)
        rc = run(db, "DELETE FROM rollup_day WHERE channel = ?1 AND ts < ?2", &b,
                 &a->rows[STORE_ERASE_DAYS]);
    /* Months wholly before the cut go; the month the cut falls in keeps
     * what its remaining days hold (a month is the sum of its days). */
    int64_t m_cut = tu_month_start(cut_s);
    struct bind bm = {.i = {chan, m_cut, tu_next_month(m_cut)}, .is_int = {1, 1, 1}};
    if (rc == 0)
        rc = run(db, "DELETE FROM rollup_month WHERE channel = ?1 AND ts < ?2", &bm,
                 &a->rows[STORE_ERASE_MONTHS]);
    if (rc == 0 && m_cut < cut_s) {
        int64_t changed = 0;
        rc = run(db,
                 "UPDATE rollup_month SET (sum, n, min, max) = (SELECT total(sum), total(n),"
                 " min(min), max(max) FROM rollup_day WHERE channel = ?1 AND ts >= ?2"
                 " AND ts < ?3) WHERE channel = ?1 AND ts = ?2",
                 &bm, &changed);
        if (rc == 0)
            rc = run(db,
                     "DELETE FROM rollup_month WHERE channel = ?1 AND ts = ?2 AND NOT EXISTS"
                     " (SELECT 1 FROM rollup_day WHERE channel = ?1 AND ts >= ?2 AND ts < ?3)",
                     &bm, NULL);
        a->rows[STORE_ERASE_MONTHS] += changed;
    }
    /* The uplink's items of these rows and events, before the events go. */
    if (rc == 0)
        rc = run(db,
                 "DELETE FROM uplink_outbox WHERE key IN (SELECT 'event:' || id FROM events"
                 " WHERE channel = ?1 AND ts < ?2)",
                 &b, &a->rows[STORE_ERASE_UPLINK]);
    if (rc == 0)
        rc = run(db, "DELETE FROM events WHERE channel = ?1 AND ts < ?2", &b,
                 &a->rows[STORE_ERASE_EVENTS]);
    if (rc == 0)
        rc = run(db, "DELETE FROM uplink_dirty WHERE channel = ?1 AND ts < ?2", &b,
                 &a->rows[STORE_ERASE_UPLINK]);
    /* Keys "rollup:NAME:GRAN:START" (store_uplink.c). */
    char prefix[FOYER_ID_MAX + 16];
    (void)snprintf(prefix, sizeof(prefix), "rollup:%s:", name);
    struct bind bu = {.t = {prefix}, .i = {0, cut_s}, .is_int = {0, 1}};
    if (rc == 0)
        rc = run(db,
                 "DELETE FROM uplink_outbox WHERE type = 'rollup'"
                 " AND substr(key, 1, length(?1)) = ?1 AND CAST(substr(substr(key, length(?1) + 1),"
                 " instr(substr(key, length(?1) + 1), ':') + 1) AS INTEGER) < ?2",
                 &bu, &a->rows[STORE_ERASE_UPLINK]);
    return rc;
}

/* The period start of a summary (or the outbox body of one), else its
 * row time: a summary of a period that began before the cut holds erased
 * figures. */
#define ERASE_BODY_START(body, t)                                                                  \
    "coalesce(CASE WHEN json_valid(" body ") THEN unixepoch(json_extract(" body                    \
    ", '$.period.start')) END, " t ")"

/* The dwelling's rows of the people's tables before cut. */
static int erase_household(sqlite3 *db, const char *dw, int64_t cut_s,
                           struct store_erase_account *a)
{
    struct bind b = {.t = {dw}, .i = {0, cut_s}, .is_int = {0, 1}};
    int rc = run(db,
                 "DELETE FROM summaries WHERE dwelling = ?1 AND " ERASE_BODY_START(
                     "body", "computed") " < ?2",
                 &b, &a->rows[STORE_ERASE_SUMMARIES]);
    if (rc == 0)
        rc = run(db,
                 "DELETE FROM outbox WHERE dwelling = ?1 AND " ERASE_BODY_START("body",
                                                                                "created") " < ?2",
                 &b, &a->rows[STORE_ERASE_OUTBOX]);
    if (rc == 0)
        rc = run(db, "DELETE FROM tip_answers WHERE dwelling = ?1 AND ts < ?2", &b,
                 &a->rows[STORE_ERASE_TIP_ANSWERS]);
    if (rc == 0)
        rc = run(db, "DELETE FROM reports WHERE dwelling = ?1 AND opened < ?2", &b,
                 &a->rows[STORE_ERASE_REPORTS]);
    /* Grants to an adviser made before the cut: the consents rows kept
     * below prove the sharing consent; the access log keeps the reads. */
    if (rc == 0)
        rc = run(db, "DELETE FROM grants WHERE dwelling = ?1 AND created < ?2", &b,
                 &a->rows[STORE_ERASE_GRANTS]);
    if (rc == 0)
        rc = run(db,
                 "DELETE FROM uplink_outbox WHERE key IN (SELECT 'alert:' || id FROM alerts"
                 " WHERE dwelling = ?1 AND opened < ?2)",
                 &b, &a->rows[STORE_ERASE_UPLINK]);
    if (rc == 0)
        rc = run(db,
                 "DELETE FROM uplink_alerts WHERE id IN (SELECT id FROM alerts"
                 " WHERE dwelling = ?1 AND opened < ?2)",
                 &b, NULL);
    if (rc == 0)
        rc = run(db, "DELETE FROM alerts WHERE dwelling = ?1 AND opened < ?2", &b,
                 &a->rows[STORE_ERASE_ALERTS]);
    /* Consent: per tenancy and purpose, the first record that gave it and
     * the newest record prove what was given, withdrawn, by whom and when;
     * the rest of the history goes. */
    if (rc == 0)
        rc = run(db,
                 "DELETE FROM consents WHERE dwelling = ?1 AND ts < ?2 AND id NOT IN ("
                 "SELECT max(id) FROM consents WHERE dwelling = ?1 GROUP BY tenancy, purpose"
                 " UNION SELECT min(id) FROM consents WHERE dwelling = ?1 AND given = 1"
                 " GROUP BY tenancy, purpose)",
                 &b, &a->rows[STORE_ERASE_CONSENTS]);
    return rc;
}

/* An ended tenancy wholly before the cut: its tokens, its lease reference,
 * marked erased. */
static int erase_tenancy(sqlite3 *db, const char *dw, const char *id, int64_t now_s,
                         struct store_erase_account *a)
{
    struct bind b = {.t = {dw, id}, .i = {0, 0, now_s}, .is_int = {0, 0, 1}};
    int rc = run(db, "DELETE FROM tokens WHERE role = 'tenant' AND dwelling = ?1 AND tenancy = ?2",
                 &b, &a->rows[STORE_ERASE_TOKENS]);
    if (rc == 0)
        rc = run(db, "UPDATE tenancies SET ref = NULL WHERE id = ?2 AND ref IS NOT NULL", &b,
                 &a->rows[STORE_ERASE_REFS]);
    int64_t marked = 0;
    if (rc == 0)
        rc = run(db,
                 "INSERT INTO tenancy_erasures(tenancy, ts) VALUES (?2, ?3) ON CONFLICT(tenancy)"
                 " DO UPDATE SET ts = excluded.ts",
                 &b, &marked);
    a->tenancies += (int)marked;
    return rc;
}

/* The channels of dwelling dw in the database: their ids and names
 * (*ret_ids, *ret_names, the caller frees), and their number, or -errno. */
static int64_t dwelling_channels(sqlite3 *db, const char *dw, int64_t **ret_ids, char ***ret_names)
{
    sqlite3_stmt *st = NULL;
    int64_t n = 0, cap = 0;
    int64_t *ids = NULL;
    char **names = NULL;
    int rc = store_sqlite_errno(sqlite3_prepare_v2(
        db, "SELECT id, name FROM channels WHERE dwelling = ?1 ORDER BY id", -1, &st, NULL));
    if (rc == 0)
        sqlite3_bind_text(st, 1, dw, -1, SQLITE_STATIC);
    int src = SQLITE_DONE;
    while (rc == 0 && (src = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            int64_t *ni = realloc(ids, (size_t)cap * sizeof(*ni));
            if (ni)
                ids = ni;
            char **nn = ni ? realloc(names, (size_t)cap * sizeof(*nn)) : NULL;
            if (nn)
                names = nn;
            if (!ni || !nn) {
                rc = -ENOMEM;
                break;
            }
        }
        const unsigned char *nm = sqlite3_column_text(st, 1);
        ids[n] = sqlite3_column_int64(st, 0);
        names[n] = strdup(nm ? (const char *)nm : "");
        if (!names[n]) {
            rc = -ENOMEM;
            break;
        }
        n++;
    }
    if (rc == 0 && src != SQLITE_DONE)
        rc = store_sqlite_errno(src);
    sqlite3_finalize(st);
    if (rc < 0) {
        for (int64_t k = 0; k < n; k++)
            free(names[k]);
        free(names);
        free(ids);
        return rc;
    }
    *ret_ids = ids;
    *ret_names = names;
    return n;
}

static const char *fmt_day(int64_t ts_s, char *buf, size_t len)
{
    char t[40];
    tu_format_local(ts_s, t, sizeof(t));
    (void)snprintf(buf, len, "%.10s", t);
    return buf;
}

/* The whole erasure, inside the caller's transaction. */
static int erase_txn(struct store *s, const struct foyer_config *cfg, uint32_t d,
                     const struct store_erase_opts *o, int64_t cut_s, struct store_erase_account *a)
{
    sqlite3 *db = s->db;
    const char *dw = cfg->dwellings[d].id;
    char d1[16], d2[16];
    struct tenancy *tv = NULL;
    size_t tn = 0;
    int rc = store_tenancy_read_dwelling(s, cfg, d, &tv, &tn);
    if (rc < 0)
        return rc;
    for (size_t k = 0; k < tn && !o->force; k++) {
        int64_t from_s, to_s;
        store_auth_tenancy_span(&tv[k], &from_s, &to_s);
        if (tv[k].end_ymd == 0 && from_s < cut_s) {
            (void)snprintf(s->errmsg, sizeof(s->errmsg),
                           "dwelling %s: tenancy %s is open since %s: its household would lose "
                           "its data before %s; end the tenancy first, or erase with --force",
                           dw, tv[k].id, fmt_day(from_s, d1, sizeof(d1)),
                           fmt_day(cut_s, d2, sizeof(d2)));
            free(tv);
            return -EBUSY;
        }
    }

    int64_t *ids = NULL;
    char **names = NULL;
    int64_t n = dwelling_channels(db, dw, &ids, &names);
    if (n < 0) {
        free(tv);
        return (int)n;
    }
    /* The folds for the central database, only while [uplink] is set: an
     * item holding them must not wait in an outbox nothing sends. */
    json_t *folds = NULL;
    if (cfg->uplink.enabled && !(folds = json_object()))
        rc = -ENOMEM;
    for (int64_t k = 0; rc == 0 && k < n; k++) {
        int32_t c = config_find_channel(cfg, names[k]);
        const struct channel *ch = c >= 0 ? &cfg->channels[c] : NULL;
        /* What the building totals add up: counters that are not
         * submeters (http_api_team.c, coach_signature.c). */
        if (ch && ch->kind == KIND_COUNTER && !ch->submeter && ch->building >= 0) {
            const char *b = cfg->buildings[ch->building].id;
            const char *q = quantity_name(ch->quantity);
            rc = fold_table(db, "rollup_hour", STORE_HOUR, ids[k], b, q, cut_s);
            if (rc == 0)
                rc = fold_table(db, "rollup_day", STORE_DAY, ids[k], b, q, cut_s);
            if (rc == 0)
                rc =
                    fold_months(db, ids[k], b, q, ch->unit, cut_s, folds, &a->folded[ch->quantity]);
        }
        if (rc == 0)
            rc = erase_channel(db, ids[k], names[k], cut_s, a);
    }
    for (int64_t k = 0; k < n; k++)
        free(names[k]);
    free(names);
    free(ids);
    if (rc == 0)
        rc = erase_household(db, dw, cut_s, a);
    for (size_t k = 0; rc == 0 && k < tn; k++) {
        int64_t from_s, to_s;
        store_auth_tenancy_span(&tv[k], &from_s, &to_s);
        if (tv[k].end_ymd != 0 && to_s <= cut_s)
            rc = erase_tenancy(db, dw, tv[k].id, o->now_s, a);
    }
    free(tv);
    /* The central database erases and folds the same (protocol amendment
     * 3), in this transaction: the erasure and its item commit together. */
    if (rc == 0 && folds)
        rc = queue_erasure(db, dw, cut_s, o->now_s, folds);
    json_decref(folds);

    /* The cut, for what foyerd computed before this erasure and stores
     * after it (a summary, an alert): refused (store.c, erasures). */
    struct bind be = {.t = {dw}, .i = {0, cut_s, o->now_s}, .is_int = {0, 1, 1}};
    if (rc == 0)
        rc = run(db, "INSERT INTO erasures(dwelling, cut, ts) VALUES (?1, ?2, ?3)", &be, NULL);

    /* The security record: who erased what, never a figure. */
    char what[128];
    (void)snprintf(what, sizeof(what), "erase before=%s%s", fmt_day(cut_s, d1, sizeof(d1)),
                   o->force ? " force" : "");
    struct bind bl = {.t = {NULL, o->by, what, dw, o->origin}, .i = {o->now_s}, .is_int = {1}};
    if (rc == 0)
        rc = run(db,
                 "INSERT INTO access_log(ts, who, role, what, dwelling, origin)"
                 " VALUES (?1, ?2, 'local', ?3, ?4, ?5)",
                 &bl, NULL);
    return rc;
}

int store_erase_dwelling(struct store *s, const struct foyer_config *cfg, const char *dwelling,
                         const struct store_erase_opts *o, struct store_erase_account *ret)
{
    struct store_erase_account a = {0};
    s->errmsg[0] = '\0';
    if (s->readonly) {
        (void)snprintf(s->errmsg, sizeof(s->errmsg), "read-only handle");
        return -EROFS;
    }
    int32_t d = config_find_dwelling(cfg, dwelling);
    if (d < 0) {
        (void)snprintf(s->errmsg, sizeof(s->errmsg), "unknown dwelling \"%s\"", dwelling);
        return -ENOENT;
    }
    a.cut_s = tu_day_start(o->before_s);
    int rc = store_exec(s->db, "BEGIN IMMEDIATE");
    if (rc < 0) {
        store_note_error(s);
        return rc;
    }
    rc = erase_txn(s, cfg, (uint32_t)d, o, a.cut_s, &a);
    if (rc == 0)
        rc = store_exec(s->db, "COMMIT");
    if (rc < 0) {
        if (!s->errmsg[0])
            store_note_error(s);
        if (!sqlite3_get_autocommit(s->db))
            (void)store_exec(s->db, "ROLLBACK");
        return rc;
    }
    *ret = a;
    return 0;
}

/* Whether tenancy id is stored and not yet erased (tenancy_erasures). */
static int not_erased(sqlite3 *db, const char *id, bool *ret)
{
    sqlite3_stmt *st = NULL;
    int rc = store_sqlite_errno(sqlite3_prepare_v2(
        db,
        "SELECT NOT EXISTS (SELECT 1 FROM tenancy_erasures WHERE tenancy = ?1) FROM tenancies"
        " WHERE id = ?1",
        -1, &st, NULL));
    if (rc == 0) {
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        int src = sqlite3_step(st);
        if (src == SQLITE_ROW)
            *ret = sqlite3_column_int(st, 0) != 0;
        else if (src == SQLITE_DONE)
            *ret = false; /* a config section not seeded: foyerd seeds at start */
        else
            rc = store_sqlite_errno(src);
    }
    sqlite3_finalize(st);
    return rc;
}

int store_erase_due(struct store *s, const struct foyer_config *cfg, int64_t now_s, int after_days,
                    char *ret_tenancy, char *ret_dwelling, struct store_erase_account *ret)
{
    if (after_days <= 0)
        return 0;
    struct tenancy *tv = NULL;
    size_t tn = 0;
    int rc = store_tenancy_read(s, cfg, &tv, &tn);
    if (rc < 0)
        return rc;
    const struct tenancy *due = NULL;
    int64_t cut_s = 0;
    for (size_t k = 0; rc == 0 && !due && k < tn; k++) {
        int64_t from_s, to_s;
        bool todo = false;
        if (tv[k].end_ymd == 0)
            continue;
        store_auth_tenancy_span(&tv[k], &from_s, &to_s);
        if (now_s < to_s + (int64_t)after_days * 86400)
            continue;
        rc = not_erased(s->db, tv[k].id, &todo);
        if (rc < 0)
            store_note_error(s);
        if (rc == 0 && todo) {
            due = &tv[k];
            cut_s = to_s;
        }
    }
    if (rc < 0 || !due) {
        free(tv);
        return rc;
    }
    struct store_erase_opts o = {
        .before_s = cut_s, .force = false, .by = "foyerd", .origin = "foyerd", .now_s = now_s};
    (void)snprintf(ret_tenancy, FOYER_ID_MAX + 1, "%s", due->id);
    const char *dw = cfg->dwellings[due->dwelling].id;
    rc = store_erase_dwelling(s, cfg, dw, &o, ret);
    if (rc == 0)
        (void)snprintf(ret_dwelling, FOYER_ID_MAX + 1, "%s", dw);
    free(tv);
    return rc < 0 ? rc : 1;
}

int64_t store_erase_prune_hours(struct store *s, int64_t before_s)
{
    struct bind b = {.i = {before_s}, .is_int = {1}};
    int64_t n = 0;
    int rc = run(s->db, "DELETE FROM rollup_folded WHERE gran = 0 AND ts < ?1", &b, &n);
    if (rc < 0) {
        store_note_error(s);
        return rc;
    }
    return n;
}

int store_read_folded(struct store *s, const char *building, enum quantity q, enum store_gran g,
                      int64_t from_s, int64_t to_s,
                      int (*fn)(void *ctx, const struct store_rollup *row), void *ctx)
{
    sqlite3_stmt *st = NULL;
    int rc = store_sqlite_errno(sqlite3_prepare_v2(
        s->db,
        "SELECT ts, sum, n FROM rollup_folded WHERE building = ?1 AND quantity = ?2"
        " AND gran = ?3 AND ts >= ?4 AND ts < ?5 ORDER BY ts",
        -1, &st, NULL));
    if (rc < 0) {
        store_note_error(s);
        return rc;
    }
    sqlite3_bind_text(st, 1, building, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, quantity_name(q), -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, gran_num(g));
    sqlite3_bind_int64(st, 4, from_s);
    sqlite3_bind_int64(st, 5, to_s);
    int src;
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_rollup r = {.ts_s = sqlite3_column_int64(st, 0),
                                 .sum = sqlite3_column_double(st, 1),
                                 .n = sqlite3_column_int64(st, 2),
                                 .min = NAN,
                                 .max = NAN};
        rc = fn(ctx, &r);
        if (rc != 0)
            break;
    }
    if (rc == 0 && src != SQLITE_DONE) {
        rc = store_sqlite_errno(src);
        store_note_error(s);
    }
    sqlite3_finalize(st);
    return rc;
}
