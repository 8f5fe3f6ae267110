/*
 * store_portab.c - everything held about one household, for its rights of
 * access and portability (RGPD art. 15 and 20): GET /api/v1/me/export for
 * the tenant, `foyerctl export --all-data` for the operator (store.h,
 * "Household export").
 *
 * One walk over every table that holds data about a dwelling, clipped to a
 * window [from, to) (the token's tenancy for the tenant), in one read
 * transaction so the sections agree with each other.  Never another
 * dwelling's rows: every statement is keyed by the dwelling's ID or by
 * the database ids of its own channels.  What is left out on purpose:
 * token hashes (a secret, not data about the household), the outbox
 * (copies of the summaries exported here), the uplink tables (copies of
 * the rollups), device health (about meters, not people).
 *
 * Two formats from the same rows.  Each row is built once as a JSON object
 * whose keys are the section's columns (struct col):
 *   JSON: {"schema": 1, "export": {...}, "dwelling": {...}, "channels":
 *         [...], ..., "access_log": [...]}: one object per row;
 *   CSV:  one stream, a block per section: a header line "#NAME,COLUMNS"
 *         (present when the section is empty too), one line per row
 *         "NAME,VALUES", a blank line between blocks: `grep ^readings,`
 *         takes out a section's rows, and a spreadsheet opens the file as
 *         it is.
 * Rows go to the caller's writer as they are made: memory stays one row
 * whatever the length of the tenancy.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "foyer/counter.h"
#include "foyer/store.h"
#include "foyer/store_tenancy.h"
#include "foyer/timeutil.h"
#include "foyer/units.h"
#include "store_int.h"

/* The version of the structure above, in every export ("schema"): raised
 * when a column changes meaning or goes away (docs/api.md). */
#define PORTAB_SCHEMA 1

/* How a column's SQL value becomes a field. */
enum col_type {
    COL_TEXT,   /* as stored; NULL: null */
    COL_INT,    /* an integer */
    COL_REAL,   /* a number as stored (an alert's figure: its rule's unit) */
    COL_TIME,   /* UTC epoch s -> local ISO 8601 with offset; NULL or 0: null */
    COL_BOOL,   /* 0/1 -> false/true */
    COL_VALUE,  /* a figure in the current channel's unit, at its precision */
    COL_STATUS, /* readings.status -> its name */
    COL_STATE,  /* alerts.state -> its name */
};

struct col {
    const char *name;
    enum col_type type;
};

struct portab {
    struct store *s;
    const struct foyer_config *cfg;
    const struct store_portab_opts *o;
    const char *dwelling; /* its ID */
    int (*write)(void *ctx, const char *data, size_t len);
    void *wctx;
    bool csv;
    const char *section;    /* the open section */
    const struct col *cols; /* its columns, NULL-terminated by name */
    bool first_section;
    bool first_row;
    bool single;                         /* JSON: the section is one object, not an array */
    const char *unit;                    /* the channel being read (COL_VALUE) */
    char (*tenancies)[FOYER_ID_MAX + 1]; /* the tenancies the window meets */
    size_t n_tenancies;
    char *line; /* a CSV line being built */
    size_t len, cap;
    int64_t rows;
};

static int out(struct portab *p, const char *s, size_t n)
{
    return p->write(p->wctx, s, n);
}

static int out_str(struct portab *p, const char *s)
{
    return out(p, s, strlen(s));
}

static int line_add(struct portab *p, const char *s, size_t n)
{
    if (p->len + n + 1 > p->cap) {
        size_t cap = p->cap ? p->cap : 256;
        while (cap < p->len + n + 1)
            cap *= 2;
        char *bigger = realloc(p->line, cap);
        if (!bigger)
            return -ENOMEM;
        p->line = bigger;
        p->cap = cap;
    }
    memcpy(p->line + p->len, s, n);
    p->len += n;
    return 0;
}

/* A CSV field, quoted when it holds a comma, quote or line break. */
static int csv_field(struct portab *p, const char *s)
{
    if (!strpbrk(s, ",\"\n\r"))
        return line_add(p, s, strlen(s));
    int rc = line_add(p, "\"", 1);
    for (; rc == 0 && *s; s++)
        rc = *s == '"' ? line_add(p, "\"\"", 2) : line_add(p, s, 1);
    return rc == 0 ? line_add(p, "\"", 1) : rc;
}

/* Open a section: JSON `,"name":[` (or `{` when single), CSV its header. */
static int section_begin(struct portab *p, const char *name, const struct col *cols, bool single)
{
    int rc;
    p->section = name;
    p->cols = cols;
    p->first_row = true;
    p->single = single;
    if (!p->csv) {
        char head[80];
        (void)snprintf(head, sizeof(head), ",\"%s\":%s", name, single ? "" : "[");
        return out_str(p, head);
    }
    p->len = 0;
    rc = line_add(p, "\n#", p->first_section ? 0 : 2);
    if (rc == 0 && p->first_section)
        rc = line_add(p, "#", 1);
    if (rc == 0)
        rc = line_add(p, name, strlen(name));
    for (const struct col *c = cols; rc == 0 && c->name; c++) {
        rc = line_add(p, ",", 1);
        if (rc == 0)
            rc = line_add(p, c->name, strlen(c->name));
    }
    if (rc == 0)
        rc = line_add(p, "\n", 1);
    p->first_section = false;
    return rc < 0 ? rc : out(p, p->line, p->len);
}

static int section_end(struct portab *p)
{
    if (p->csv)
        return 0;
    if (p->single && p->first_row)
        return out_str(p, "null");
    return p->single ? 0 : out_str(p, "]");
}

/* A field of a CSV row from the row's JSON value. */
static int csv_value(struct portab *p, const json_t *v)
{
    char num[64];
    switch (json_typeof(v)) {
    case JSON_STRING:
        return csv_field(p, json_string_value(v));
    case JSON_INTEGER:
        (void)snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
        return line_add(p, num, strlen(num));
    case JSON_REAL:
        (void)snprintf(num, sizeof(num), "%.15g", json_real_value(v));
        return line_add(p, num, strlen(num));
    case JSON_TRUE:
        return line_add(p, "true", 4);
    case JSON_FALSE:
        return line_add(p, "false", 5);
    case JSON_OBJECT:
    case JSON_ARRAY: {
        char *text = json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(15));
        int rc = text ? csv_field(p, text) : -ENOMEM;
        free(text);
        return rc;
    }
    case JSON_NULL:
        break;
    }
    return 0;
}

/* Write row (taken: decref'd) into the open section. */
static int row_emit(struct portab *p, json_t *row)
{
    int rc;
    if (!row)
        return -ENOMEM;
    if (!p->csv) {
        char *text = json_dumps(row, JSON_COMPACT | JSON_REAL_PRECISION(15));
        json_decref(row);
        if (!text)
            return -ENOMEM;
        rc = p->first_row ? 0 : out_str(p, ",");
        if (rc == 0)
            rc = out_str(p, text);
        free(text);
    } else {
        p->len = 0;
        rc = csv_field(p, p->section);
        for (const struct col *c = p->cols; rc == 0 && c->name; c++) {
            rc = line_add(p, ",", 1);
            json_t *v = json_object_get(row, c->name);
            if (rc == 0 && v)
                rc = csv_value(p, v);
        }
        json_decref(row);
        if (rc == 0)
            rc = line_add(p, "\n", 1);
        if (rc == 0)
            rc = out(p, p->line, p->len);
    }
    p->first_row = false;
    if (rc == 0)
        p->rows++;
    return rc;
}

/* Text as stored.  Nothing stored should be anything but UTF-8 (the pages
 * check their forms), but a byte that is not must not drop the field (a
 * JSON string cannot hold it): such bytes become U+FFFD. */
static json_t *text_json(const char *s)
{
    json_t *j = json_string(s);
    if (j || !s)
        return j;
    size_t n = strlen(s);
    char *fixed = malloc(3 * n + 1);
    if (!fixed)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        /* The longest valid UTF-8 sequence starting at i, 1 to 4 bytes. */
        size_t len = 0;
        for (size_t l = 1; l <= 4 && i + l <= n && !len; l++) {
            char one[5] = {0};
            memcpy(one, s + i, l);
            json_t *probe = json_string(one);
            if (probe)
                len = l;
            json_decref(probe);
        }
        if (len) {
            memcpy(fixed + k, s + i, len);
            k += len;
            i += len;
        } else {
            memcpy(fixed + k, "\xef\xbf\xbd", 3);
            k += 3;
            i++;
        }
    }
    fixed[k] = '\0';
    j = json_string(fixed);
    free(fixed);
    return j;
}

static json_t *time_json(int64_t ts_s)
{
    char buf[40];
    return json_string(tu_format_local(ts_s, buf, sizeof(buf)));
}

/* A figure in unit at the unit's precision (units_format(): what foyerctl
 * export writes), a number in JSON and those very digits in CSV. */
static json_t *value_json(const struct portab *p, const char *unit, double v)
{
    char buf[48];
    if (!isfinite(v))
        return json_null();
    units_format(unit, v, buf, sizeof(buf));
    return p->csv ? json_string(buf) : json_real(strtod(buf, NULL) + 0.0);
}

static const char *status_name(int status)
{
    static const char *const names[] = {
        [RS_ACCEPTED] = "accepted",
        [RS_BASELINE] = "baseline",
        [RS_HELD_LOW] = "held_low",
        [RS_HELD_JUMP] = "held_jump",
        [RS_DROPPED_GLITCH] = "dropped_glitch",
        [RS_DROPPED_SPIKE] = "dropped_spike",
        [RS_DROPPED_LATE] = "dropped_late",
        [RS_UNCHANGED] = "unchanged",
    };
    return status >= 0 && (size_t)status < sizeof(names) / sizeof(names[0]) ? names[status]
                                                                            : "unknown";
}

static const char *alert_state_name(int state)
{
    static const char *const names[] = {"open", "acknowledged", "closed"};
    return state >= 0 && state < 3 ? names[state] : "unknown";
}

/* The field of column i of st, as c says. */
static json_t *col_json(const struct portab *p, sqlite3_stmt *st, int i, const struct col *c)
{
    int type = sqlite3_column_type(st, i);
    if (type == SQLITE_NULL)
        return json_null();
    switch (c->type) {
    case COL_TEXT:
        return text_json((const char *)sqlite3_column_text(st, i));
    case COL_INT:
        return json_integer(sqlite3_column_int64(st, i));
    case COL_REAL:
        return json_real(sqlite3_column_double(st, i));
    case COL_TIME:
        return sqlite3_column_int64(st, i) ? time_json(sqlite3_column_int64(st, i)) : json_null();
    case COL_BOOL:
        return json_boolean(sqlite3_column_int(st, i) != 0);
    case COL_VALUE:
        return value_json(p, p->unit, sqlite3_column_double(st, i));
    case COL_STATUS:
        return json_string(status_name(sqlite3_column_int(st, i)));
    case COL_STATE:
        return json_string(alert_state_name(sqlite3_column_int(st, i)));
    }
    return json_null();
}

/* Whether tenancy (a tenancies.id, or NULL) is one the window meets. */
static bool tenancy_included(const struct portab *p, const unsigned char *tenancy)
{
    for (size_t i = 0; tenancy && i < p->n_tenancies; i++)
        if (strcmp(p->tenancies[i], (const char *)tenancy) == 0)
            return true;
    return false;
}

/* Run sql (parameters: ?1 the dwelling's ID or a channel's database id,
 * ?2 and ?3 the window, ?4 text4; a statement may leave some out, the
 * binds of those fail harmlessly) and emit a row per result row, its
 * columns in the order of cols; keep (NULL: every row) decides first. */
static int rows_sql(struct portab *p, const char *sql, const struct col *cols, int64_t channel,
                    const char *text4, bool (*keep)(const struct portab *p, sqlite3_stmt *st))
{
    sqlite3_stmt *st = NULL;
    int src = sqlite3_prepare_v2(p->s->db, sql, -1, &st, NULL);
    if (src != SQLITE_OK) {
        store_note_error(p->s);
        return store_sqlite_errno(src);
    }
    if (channel >= 0)
        (void)sqlite3_bind_int64(st, 1, channel);
    else
        (void)sqlite3_bind_text(st, 1, p->dwelling, -1, SQLITE_STATIC);
    (void)sqlite3_bind_int64(st, 2, p->o->from_s);
    (void)sqlite3_bind_int64(st, 3, p->o->to_s);
    if (text4)
        (void)sqlite3_bind_text(st, 4, text4, -1, SQLITE_STATIC);
    int rc = 0;
    while (rc == 0 && (src = sqlite3_step(st)) == SQLITE_ROW) {
        if (keep && !keep(p, st))
            continue;
        json_t *row = json_object();
        for (int i = 0; row && cols[i].name; i++)
            json_object_set_new(row, cols[i].name, col_json(p, st, i, &cols[i]));
        rc = row_emit(p, row);
    }
    if (rc == 0 && src != SQLITE_DONE) {
        store_note_error(p->s);
        rc = store_sqlite_errno(src);
    }
    sqlite3_finalize(st);
    return rc;
}

/* ---- the sections -------------------------------------------------------- */

static int put_header(struct portab *p, const struct dwelling *dw)
{
    static const struct col export_cols[] = {
        {"schema", COL_INT}, {"generated", COL_TIME},  {"dwelling", COL_TEXT}, {"from", COL_TIME},
        {"to", COL_TIME},    {"load_curve", COL_BOOL}, {NULL, COL_TEXT}};
    static const struct col dwelling_cols[] = {
        {"id", COL_TEXT},         {"label", COL_TEXT},
        {"building", COL_TEXT},   {"building_name", COL_TEXT},
        {"surface_m2", COL_REAL}, {"heating", COL_TEXT},
        {NULL, COL_TEXT}};
    const struct store_portab_opts *o = p->o;
    const struct building *b = &p->cfg->buildings[dw->building];
    char head[32];
    int rc;
    if (!p->csv) {
        (void)snprintf(head, sizeof(head), "{\"schema\":%d", PORTAB_SCHEMA);
        if ((rc = out_str(p, head)) < 0)
            return rc;
    }
    /* The window: null for "from the beginning" and "up to now". */
    json_t *row = json_object();
    json_object_set_new(row, "schema", json_integer(PORTAB_SCHEMA));
    json_object_set_new(row, "generated", time_json(o->now_s));
    json_object_set_new(row, "dwelling", json_string(dw->id));
    json_object_set_new(row, "from", o->from_s == INT64_MIN ? json_null() : time_json(o->from_s));
    json_object_set_new(row, "to", o->to_s == INT64_MAX ? json_null() : time_json(o->to_s));
    json_object_set_new(row, "load_curve", json_boolean(o->load_curve));
    if ((rc = section_begin(p, "export", export_cols, true)) < 0 || (rc = row_emit(p, row)) < 0 ||
        (rc = section_end(p)) < 0)
        return rc;
    row = json_object();
    json_object_set_new(row, "id", json_string(dw->id));
    json_object_set_new(row, "label", dw->label ? text_json(dw->label) : json_null());
    json_object_set_new(row, "building", json_string(b->id));
    json_object_set_new(row, "building_name", b->name ? text_json(b->name) : json_null());
    json_object_set_new(row, "surface_m2", json_real(dw->surface_m2));
    json_object_set_new(row, "heating", json_string(heating_name(dw->heating)));
    if ((rc = section_begin(p, "dwelling", dwelling_cols, true)) < 0 || (rc = row_emit(p, row)) < 0)
        return rc;
    return section_end(p);
}

static int put_channels(struct portab *p, uint32_t d)
{
    static const struct col cols[] = {{"id", COL_TEXT},       {"quantity", COL_TEXT},
                                      {"kind", COL_TEXT},     {"unit", COL_TEXT},
                                      {"submeter", COL_BOOL}, {NULL, COL_TEXT}};
    int rc = section_begin(p, "channels", cols, false);
    for (size_t i = 0; rc == 0 && i < p->cfg->n_channels; i++) {
        const struct channel *c = &p->cfg->channels[i];
        if (c->dwelling != (int32_t)d)
            continue;
        json_t *row = json_object();
        json_object_set_new(row, "id", json_string(c->id));
        json_object_set_new(row, "quantity", json_string(quantity_name(c->quantity)));
        json_object_set_new(row, "kind", json_string(kind_name(c->kind)));
        json_object_set_new(row, "unit", json_string(c->unit));
        json_object_set_new(row, "submeter", json_boolean(c->submeter));
        rc = row_emit(p, row);
    }
    return rc == 0 ? section_end(p) : rc;
}

/* [start, end) of a tenancy, local midnights; end INT64_MAX while it runs. */
static void tenancy_span(const struct store_tenancy *t, int64_t *ret_from_s, int64_t *ret_to_s)
{
    *ret_from_s = tu_local_date(t->start_ymd / 10000, t->start_ymd / 100 % 100, t->start_ymd % 100);
    *ret_to_s = t->end_ymd ? tu_next_day(tu_local_date(t->end_ymd / 10000, t->end_ymd / 100 % 100,
                                                       t->end_ymd % 100))
                           : INT64_MAX;
}

static json_t *ymd_json(int32_t ymd)
{
    char buf[16];
    if (!ymd)
        return json_null();
    (void)snprintf(buf, sizeof(buf), "%04d-%02d-%02d", (int)(ymd / 10000), (int)(ymd / 100 % 100),
                   (int)(ymd % 100));
    return json_string(buf);
}

static int tenancy_row(void *ctx, const struct store_tenancy *t)
{
    struct portab *p = ctx;
    int64_t from_s, to_s;
    if (strcmp(t->dwelling, p->dwelling) != 0)
        return 0;
    tenancy_span(t, &from_s, &to_s);
    if (from_s >= p->o->to_s || to_s <= p->o->from_s)
        return 0; /* another household's, outside the window */
    void *bigger = realloc(p->tenancies, (p->n_tenancies + 1) * sizeof(*p->tenancies));
    if (!bigger)
        return -ENOMEM;
    p->tenancies = bigger;
    memcpy(p->tenancies[p->n_tenancies++], t->id, sizeof(t->id));
    json_t *row = json_object();
    json_object_set_new(row, "id", json_string(t->id));
    json_object_set_new(row, "start", ymd_json(t->start_ymd));
    json_object_set_new(row, "end", ymd_json(t->end_ymd));
    json_object_set_new(row, "ref", t->ref[0] ? text_json(t->ref) : json_null());
    json_object_set_new(row, "default_load_curve_consent", json_boolean(t->consent));
    json_object_set_new(row, "recorded_by", text_json(t->created_by));
    return row_emit(p, row);
}

static int put_tenancies(struct portab *p)
{
    static const struct col cols[] = {{"id", COL_TEXT},
                                      {"start", COL_TEXT},
                                      {"end", COL_TEXT},
                                      {"ref", COL_TEXT},
                                      {"default_load_curve_consent", COL_BOOL},
                                      {"recorded_by", COL_TEXT},
                                      {NULL, COL_TEXT}};
    int rc = section_begin(p, "tenancies", cols, false);
    if (rc == 0)
        rc = store_tenancy_list(p->s, p->cfg, tenancy_row, p);
    return rc == 0 ? section_end(p) : rc;
}

/* A consent or a token: of a tenancy the window meets, or of none and
 * recorded inside the window (column 0 the tenancy, column 4 the time). */
static bool keep_by_tenancy(const struct portab *p, sqlite3_stmt *st)
{
    const unsigned char *t = sqlite3_column_text(st, 0);
    if (t && t[0])
        return tenancy_included(p, t);
    int64_t ts = sqlite3_column_int64(st, 4);
    return ts >= p->o->from_s && ts < p->o->to_s;
}

static int put_consents(struct portab *p)
{
    static const struct col cols[] = {{"tenancy", COL_TEXT}, {"purpose", COL_TEXT},
                                      {"given", COL_BOOL},   {"by", COL_TEXT},
                                      {"time", COL_TIME},    {NULL, COL_TEXT}};
    int rc = section_begin(p, "consents", cols, false);
    if (rc == 0)
        rc = rows_sql(p,
                      "SELECT tenancy, purpose, given, by, ts FROM consents WHERE dwelling = ?1"
                      " AND ?2 <= ?3 ORDER BY id",
                      cols, -1, NULL, keep_by_tenancy);
    return rc == 0 ? section_end(p) : rc;
}

struct rollup_ctx {
    struct portab *p;
    const struct channel *c;
    enum store_gran g;
};

static int rollup_row(void *ctx, const struct store_rollup *r)
{
    struct rollup_ctx *x = ctx;
    struct portab *p = x->p;
    const struct channel *c = x->c;
    bool gauge = c->kind == KIND_GAUGE;
    if (gauge && r->n == 0)
        return 0;
    /* A month the window cuts holds days of another household (a tenancy
     * starting on the 15th): its days are in rollups_day. */
    if (x->g == STORE_MONTH && tu_next_month(r->ts_s) > p->o->to_s)
        return 0;
    json_t *row = json_object();
    json_object_set_new(row, "channel", json_string(c->id));
    json_object_set_new(row, "quantity", json_string(quantity_name(c->quantity)));
    json_object_set_new(row, "period_start", time_json(r->ts_s));
    json_object_set_new(row, "value",
                        value_json(p, c->unit, gauge ? r->sum / (double)r->n : r->sum));
    json_object_set_new(row, "unit", json_string(c->unit));
    json_object_set_new(row, "min", gauge ? value_json(p, c->unit, r->min) : json_null());
    json_object_set_new(row, "max", gauge ? value_json(p, c->unit, r->max) : json_null());
    json_object_set_new(row, "readings", json_integer(r->n));
    return row_emit(p, row);
}

static int put_rollups(struct portab *p, uint32_t d, enum store_gran g, const char *name)
{
    static const struct col cols[] = {
        {"channel", COL_TEXT}, {"quantity", COL_TEXT}, {"period_start", COL_TIME},
        {"value", COL_VALUE},  {"unit", COL_TEXT},     {"min", COL_VALUE},
        {"max", COL_VALUE},    {"readings", COL_INT},  {NULL, COL_TEXT}};
    int rc = section_begin(p, name, cols, false);
    for (size_t i = 0; rc == 0 && i < p->cfg->n_channels; i++) {
        const struct channel *c = &p->cfg->channels[i];
        if (c->dwelling != (int32_t)d || store_channel_id(p->s, (uint32_t)i) < 0)
            continue;
        /* From the window's start: a month starting before it holds
         * another household's days too. */
        struct rollup_ctx x = {p, c, g};
        rc = store_read_rollups(p->s, g, (uint32_t)i, p->o->from_s, p->o->to_s,
                                c->kind == KIND_GAUGE ? STORE_READ_MINMAX : 0, rollup_row, &x);
    }
    return rc == 0 ? section_end(p) : rc;
}

/* Per channel of the dwelling: readings or events (?1 its database id,
 * ?4 its ID). */
static int put_per_channel(struct portab *p, uint32_t d, const char *name, const char *sql,
                           const struct col *cols)
{
    int rc = section_begin(p, name, cols, false);
    for (size_t i = 0; rc == 0 && i < p->cfg->n_channels; i++) {
        const struct channel *c = &p->cfg->channels[i];
        int64_t id = store_channel_id(p->s, (uint32_t)i);
        if (c->dwelling != (int32_t)d || id < 0)
            continue;
        p->unit = c->unit;
        rc = rows_sql(p, sql, cols, id, c->id, NULL);
    }
    return rc == 0 ? section_end(p) : rc;
}

static int put_readings(struct portab *p, uint32_t d)
{
    static const struct col cols[] = {{"channel", COL_TEXT},  {"time", COL_TIME},
                                      {"value", COL_VALUE},   {"unit", COL_TEXT},
                                      {"status", COL_STATUS}, {NULL, COL_TEXT}};
    return put_per_channel(p, d, "readings",
                           "SELECT ?4, r.ts, r.value, c.unit, r.status FROM readings r"
                           " JOIN channels c ON c.id = r.channel"
                           " WHERE r.channel = ?1 AND r.ts >= ?2 AND r.ts < ?3 ORDER BY r.ts",
                           cols);
}

static int put_events(struct portab *p, uint32_t d)
{
    static const struct col cols[] = {
        {"channel", COL_TEXT},     {"time", COL_TIME},   {"kind", COL_TEXT}, {"value", COL_VALUE},
        {"prev_value", COL_VALUE}, {"detail", COL_TEXT}, {NULL, COL_TEXT}};
    return put_per_channel(p, d, "events",
                           "SELECT ?4, ts, kind, value, prev_value, detail FROM events"
                           " WHERE channel = ?1 AND ts >= ?2 AND ts < ?3 ORDER BY id",
                           cols);
}

/* The instant of a summary's period field ("from", "to"), or false. */
static bool summary_time(const json_t *period, const char *key, int64_t *ret_s)
{
    const char *v = json_string_value(json_object_get(period, key));
    return v && tu_parse_iso(v, ret_s) == 0;
}

static int put_summaries(struct portab *p)
{
    static const struct col cols[] = {
        {"period", COL_TEXT}, {"computed", COL_TIME}, {"body", COL_TEXT}, {NULL, COL_TEXT}};
    sqlite3_stmt *st = NULL;
    int rc = section_begin(p, "summaries", cols, false);
    if (rc < 0)
        return rc;
    int src = sqlite3_prepare_v2(p->s->db,
                                 "SELECT period, computed, body FROM summaries WHERE dwelling = ?1"
                                 " ORDER BY period",
                                 -1, &st, NULL);
    if (src != SQLITE_OK) {
        store_note_error(p->s);
        return store_sqlite_errno(src);
    }
    sqlite3_bind_text(st, 1, p->dwelling, -1, SQLITE_STATIC);
    while (rc == 0 && (src = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *body = json_loads((const char *)sqlite3_column_text(st, 2), 0, NULL);
        int64_t a, b;
        /* What the summary covers (its period clipped to the tenancy it
         * was made for) lies in the window: a period straddling a move
         * shows the household it was made for. */
        bool bounded = p->o->from_s != INT64_MIN || p->o->to_s != INT64_MAX;
        json_t *per = json_object_get(body, "period");
        if (bounded && !(summary_time(per, "from", &a) && summary_time(per, "to", &b) &&
                         a >= p->o->from_s && b <= p->o->to_s)) {
            json_decref(body);
            continue;
        }
        json_t *row = json_object();
        json_object_set_new(row, "period", text_json((const char *)sqlite3_column_text(st, 0)));
        json_object_set_new(row, "computed", time_json(sqlite3_column_int64(st, 1)));
        /* JSON: the document itself; CSV: its text in one field. */
        json_object_set_new(row, "body",
                            body && !p->csv ? body
                                            : text_json((const char *)sqlite3_column_text(st, 2)));
        if (body && p->csv)
            json_decref(body);
        rc = row_emit(p, row);
    }
    if (rc == 0 && src != SQLITE_DONE) {
        store_note_error(p->s);
        rc = store_sqlite_errno(src);
    }
    sqlite3_finalize(st);
    return rc == 0 ? section_end(p) : rc;
}

/* A section of rows of the dwelling (?1 its ID) in the window. */
static int put_simple(struct portab *p, const char *name, const char *sql, const struct col *cols,
                      bool (*keep)(const struct portab *p, sqlite3_stmt *st))
{
    int rc = section_begin(p, name, cols, false);
    if (rc == 0)
        rc = rows_sql(p, sql, cols, -1, NULL, keep);
    return rc == 0 ? section_end(p) : rc;
}

static int put_people(struct portab *p)
{
    static const struct col tips[] = {
        {"tip", COL_TEXT}, {"answer", COL_TEXT}, {"time", COL_TIME}, {NULL, COL_TEXT}};
    static const struct col reports[] = {
        {"id", COL_INT},      {"kind", COL_TEXT},      {"text", COL_TEXT}, {"opened", COL_TIME},
        {"closed", COL_TIME}, {"closed_by", COL_TEXT}, {NULL, COL_TEXT}};
    int rc = put_simple(p, "tip_answers",
                        "SELECT tip, answer, ts FROM tip_answers WHERE dwelling = ?1"
                        " AND ts >= ?2 AND ts < ?3 ORDER BY ts",
                        tips, NULL);
    if (rc == 0)
        rc = put_simple(p, "reports",
                        "SELECT id, kind, text, opened, closed, closed_by FROM reports"
                        " WHERE dwelling = ?1 AND opened >= ?2 AND opened < ?3 ORDER BY id",
                        reports, NULL);
    return rc;
}

static int put_alerts(struct portab *p)
{
    static const struct col cols[] = {{"id", COL_INT},         {"kind", COL_TEXT},
                                      {"severity", COL_TEXT},  {"channel", COL_TEXT},
                                      {"state", COL_STATE},    {"opened", COL_TIME},
                                      {"last_seen", COL_TIME}, {"acknowledged", COL_TIME},
                                      {"ack_by", COL_TEXT},    {"ack_note", COL_TEXT},
                                      {"closed", COL_TIME},    {"closed_by", COL_TEXT},
                                      {"value", COL_REAL},     {"threshold", COL_REAL},
                                      {"text_fr", COL_TEXT},   {"text_en", COL_TEXT},
                                      {NULL, COL_TEXT}};
    return put_simple(p, "alerts",
                      "SELECT id, kind, severity, channel, state, opened, last_seen, acked,"
                      " ack_by, ack_note, closed, closed_by, value, threshold, text_fr, text_en"
                      " FROM alerts WHERE dwelling = ?1 AND opened >= ?2 AND opened < ?3"
                      " ORDER BY id",
                      cols, NULL);
}

static int put_tokens(struct portab *p)
{
    /* Never the hash nor a pairing code's: secrets, not data about the
     * household. */
    static const struct col cols[] = {{"tenancy", COL_TEXT}, {"name", COL_TEXT},
                                      {"expires", COL_TIME}, {"revoked", COL_TIME},
                                      {"created", COL_TIME}, {NULL, COL_TEXT}};
    return put_simple(p, "tokens",
                      "SELECT tenancy, name, expires, revoked, created FROM tokens"
                      " WHERE role = 'tenant' AND dwelling = ?1 ORDER BY id",
                      cols, keep_by_tenancy);
}

static int put_grants(struct portab *p)
{
    /* Whom the household let see its data, until when (sharing). */
    static const struct col cols[] = {
        {"id", COL_INT},          {"tenancy", COL_TEXT},    {"grantee", COL_TEXT},
        {"created", COL_TIME},    {"expires", COL_TIME},    {"revoked", COL_TIME},
        {"created_by", COL_TEXT}, {"revoked_by", COL_TEXT}, {NULL, COL_TEXT}};
    return put_simple(p, "grants",
                      "SELECT id, tenancy, grantee, created, expires, revoked, created_by,"
                      " revoked_by FROM grants WHERE dwelling = ?1 AND created >= ?2"
                      " AND created < ?3 ORDER BY id",
                      cols, NULL);
}

static int put_access_log(struct portab *p)
{
    /* "*": a read of every dwelling's data at once (foyerctl export
     * without --dwelling), this one's included. */
    static const struct col cols[] = {
        {"time", COL_TIME},     {"who", COL_TEXT},    {"role", COL_TEXT}, {"what", COL_TEXT},
        {"dwelling", COL_TEXT}, {"origin", COL_TEXT}, {NULL, COL_TEXT}};
    return put_simple(p, "access_log",
                      "SELECT ts, who, role, what, dwelling, origin FROM access_log"
                      " WHERE dwelling IN (?1, '*') AND ts >= ?2 AND ts < ?3 ORDER BY id",
                      cols, NULL);
}

int64_t store_portab_write(struct store *s, const struct foyer_config *cfg,
                           const struct store_portab_opts *o,
                           int (*write)(void *ctx, const char *data, size_t len), void *ctx)
{
    if (o->dwelling >= cfg->n_dwellings || o->from_s > o->to_s)
        return -EINVAL;
    const struct dwelling *dw = &cfg->dwellings[o->dwelling];
    struct portab p = {.s = s,
                       .cfg = cfg,
                       .o = o,
                       .dwelling = dw->id,
                       .write = write,
                       .wctx = ctx,
                       .csv = o->format == STORE_PORTAB_CSV,
                       .first_section = true};
    /* One snapshot: the sections agree (no reading without its rollup). */
    int rc = store_read_begin(s);
    if (rc < 0)
        return rc;
    rc = put_header(&p, dw);
    if (rc == 0)
        rc = put_channels(&p, o->dwelling);
    if (rc == 0)
        rc = put_tenancies(&p);
    if (rc == 0)
        rc = put_consents(&p);
    /* Finer than daily (hourly figures, raw readings) only as the caller
     * decided: the tenant's own, or with the household's consent. */
    if (rc == 0 && o->load_curve)
        rc = put_rollups(&p, o->dwelling, STORE_HOUR, "rollups_hour");
    if (rc == 0)
        rc = put_rollups(&p, o->dwelling, STORE_DAY, "rollups_day");
    if (rc == 0)
        rc = put_rollups(&p, o->dwelling, STORE_MONTH, "rollups_month");
    if (rc == 0 && o->load_curve)
        rc = put_readings(&p, o->dwelling);
    if (rc == 0)
        rc = put_events(&p, o->dwelling);
    if (rc == 0)
        rc = put_summaries(&p);
    if (rc == 0)
        rc = put_people(&p);
    if (rc == 0)
        rc = put_alerts(&p);
    if (rc == 0)
        rc = put_tokens(&p);
    if (rc == 0)
        rc = put_grants(&p);
    if (rc == 0)
        rc = put_access_log(&p);
    if (rc == 0 && !p.csv)
        rc = out_str(&p, "}\n");
    store_read_end(s);
    free(p.tenancies);
    free(p.line);
    return rc < 0 ? rc : p.rows;
}
