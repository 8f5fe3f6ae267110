/*
 * conf_build.c - building the daemon's configuration from the raw sections
 * that conf_read.c reads: config_load(), the schema of the sections, the
 * names of the values, and the places, prices and services.
 *
 * DESIGN
 *
 * Loading runs in two phases, so that every problem is found in one pass and
 * nothing is half-built:
 *
 *  1. Reading (conf_read.c): the main file and its includes become a flat
 *     list of raw sections with their keys and positions.
 *
 *  2. Building (here and conf_build_devices.c): raw sections are grouped by
 *     type, duplicate IDs are reported, and each type is turned into its
 *     struct in a fixed order (foyer, buildings, dwellings, tenancies,
 *     buses, meters with their profiles, sensors, channels, mqtt, http,
 *     push, tariffs), resolving references through sorted ID indexes.
 *     Every value goes through conf_value.c.
 *
 * Errors are collected with their file and line and handed to the caller
 * sorted as "FILE:LINE: msg"; if there is any, the whole config is freed and
 * config_load returns NULL.
 *
 * Paths given in the config (database, profiles_dir, *_file, web_dir) are
 * relative to the main config file's directory when they are not absolute.
 *
 * Whatever foyerd would refuse when it starts is checked too, with the key's
 * FILE:LINE (systemd runs --check-config before the start, and a config it
 * passes must start): the zone through tu_zone_check(), the function
 * foyerd's start uses; the database path; what libmodbus and libmosquitto
 * refuse; the files foyerd reads at its start.  Nothing here logs.
 */
#include "conf_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "foyer/timeutil.h"

#ifndef FOYER_WEBDIR
#define FOYER_WEBDIR "/usr/share/foyer/web"
#endif

/* ---------------------------------------------------------------------- */
/* Names and per-quantity defaults                                        */

const struct conf_qinfo conf_qinfo[Q_COUNT_] = {
    [Q_ELECTRICITY] = {KIND_COUNTER, "kWh", 36, 2000, 0, 1e15, 0.01},
    [Q_HEAT] = {KIND_COUNTER, "kWh", 30, 3000, 0, 1e15, 0.01},
    [Q_GAS] = {KIND_COUNTER, "kWh", 40, 4000, 0, 1e15, 0.01},
    [Q_HOT_WATER] = {KIND_COUNTER, "L", 1500, 100000, 0, 1e15, 1},
    [Q_COLD_WATER] = {KIND_COUNTER, "L", 3000, 200000, 0, 1e15, 1},
    [Q_POWER] = {KIND_GAUGE, "W", 0, 0, -1e6, 1e6, 0},
    [Q_TEMPERATURE] = {KIND_GAUGE, "\u00b0C", 0, 0, -40, 85, 0},
    [Q_HUMIDITY] = {KIND_GAUGE, "%RH", 0, 0, 0, 100, 0},
    [Q_CO2] = {KIND_GAUGE, "ppm", 0, 0, 0, 40000, 0},
    [Q_OUTDOOR_TEMPERATURE] = {KIND_GAUGE, "\u00b0C", 0, 0, -60, 60, 0},
    [Q_VOLTAGE] = {KIND_GAUGE, "V", 0, 0, 0, 1000, 0},
    [Q_CURRENT] = {KIND_GAUGE, "A", 0, 0, 0, 10000, 0},
};

const char *const conf_quantity_names[Q_COUNT_] = {
    "electricity", "heat",     "gas", "hot_water",           "cold_water", "power",
    "temperature", "humidity", "co2", "outdoor_temperature", "voltage",    "current",
};
const char *const conf_kind_names[] = {"counter", "gauge"};
static const char *const heating_names[HEATING_COUNT_] = {
    "electric", "gas", "district", "collective", "heat-pump",
};
const char *const conf_bus_type_names[] = {"tcp", "rtu"};
const char *const conf_parity_names[] = {"none", "even", "odd"};
const char *const conf_function_names[] = {"holding", "input"};
const char *const conf_reg_type_names[] = {"u16", "s16", "u32",     "s32",
                                           "u64", "s64", "float32", "float64"};
const char *const conf_word_order_names[] = {"ABCD", "CDAB", "BADC", "DCBA"};
const char *const conf_preset_names[] = {"none", "zigbee2mqtt", "tasmota", "shelly-gen2"};
static const char *const log_level_names[] = {"error", "warning", "info", "debug"};
/* In enum dju_method order. */
static const char *const conf_dju_method_names[] = {"meteo-france", "costic"};
/* The languages foyer ships tips.LANG.conf and summary.LANG.conf for. */
static const char *const conf_summary_language_names[] = {"fr", "en"};
static const char *const price_unit_names[] = {"kWh", "m3"};

const char *quantity_name(enum quantity q)
{
    return (unsigned)q < Q_COUNT_ ? conf_quantity_names[q] : "?";
}

const char *kind_name(enum channel_kind k)
{
    return (unsigned)k < N_ELEMS(conf_kind_names) ? conf_kind_names[k] : "?";
}

const char *heating_name(enum heating h)
{
    return (unsigned)h < HEATING_COUNT_ ? heating_names[h] : "?";
}

enum channel_kind quantity_kind(enum quantity q)
{
    return (unsigned)q < Q_COUNT_ ? conf_qinfo[q].kind : KIND_GAUGE;
}

const char *quantity_unit(enum quantity q)
{
    return (unsigned)q < Q_COUNT_ ? conf_qinfo[q].unit : "?";
}

/* ---------------------------------------------------------------------- */
/* Section types and their keys                                           */

static const char *const keys_foyer[] = {
    "database",
    "timezone",
    "profiles_dir",
    "raw_retention_days",
    "raw_retention_days_no_consent",
    "erase_after_days",
    "batch_readings",
    "batch_deadline_ms",
    "log_level",
    "future_tolerance_s",
    "dju_method",
    "summary_language",
    "outbox_retention_days",
    NULL,
};
static const char *const keys_building[] = {"name", NULL};
static const char *const keys_dwelling[] = {"building", "label",   "surface_m2",
                                            "heating",  "consent", NULL};
static const char *const keys_tenancy[] = {"dwelling", "start", "end", NULL};
static const char *const keys_channel[] = {"dwelling", "building", "quantity",   "kind",     "unit",
                                           "rollover", "max_rate", "resolution", "submeter", NULL};
static const char *const keys_bus[] = {
    "type",      "host",  "port",       "device",         "baud",          "parity", "data_bits",
    "stop_bits", "rs485", "timeout_ms", "frame_delay_ms", "offline_after", NULL};
static const char *const keys_meter[] = {"profile",  "bus",      "unit_id",  "dwelling",
                                         "building", "interval", "submeter", NULL};
static const char *const keys_sensor[] = {"topic",           "preset",   "dwelling",
                                          "building",        "interval", "stale_after",
                                          "timestamp_field", "submeter", NULL};
static const char *const keys_mqtt[] = {"host",           "port",       "client_id", "username",
                                        "password_file",  "tls",        "ca_file",   "cert_file",
                                        "key_file",       "tls_verify", "protocol",  "keepalive",
                                        "session_expiry", "qos",        NULL};
static const char *const keys_uplink[] = {
    "host",          "port",        "gateway_id", "client_id",      "username",
    "password_file", "tls",         "ca_file",    "cert_file",      "key_file",
    "tls_verify",    "protocol",    "keepalive",  "session_expiry", "ack_timeout_s",
    "max_in_flight", "batch_items", "settle_s",   "device_every_s", NULL};
static const char *const keys_http[] = {"listen",  "port",         "tls_cert",    "tls_key",
                                        "web_dir", "behind_proxy", "tokens_file", NULL};
static const char *const keys_push[] = {"url",     "token_file", "ca_file", "tls_verify", "timeout",
                                        "max_age", "insecure",   "alerts",  NULL};
static const char *const keys_tariff[] = {
    "quantity",   "price",    "price_unit", "subscription_eur_month",
    "valid_from", "valid_to", "building",   NULL};
static const char *const keys_alerts[] = {"enabled",
                                          "silent_grace",
                                          "leak_lph",
                                          "leak_nights",
                                          "cold_below",
                                          "cold_hours",
                                          "heating_from",
                                          "heating_to",
                                          "damp_above",
                                          "damp_hours",
                                          "damp_cold_below",
                                          "co2_above",
                                          "co2_nights",
                                          "abnormal_factor",
                                          "abnormal_min_days",
                                          "vacant_heat_kwh",
                                          "vacant_water_l",
                                          "history_days",
                                          "hold",
                                          NULL};
static const char *const keys_profile[] = {"model", NULL};
static const char *const keys_register[] = {"function", "address",    "type", "word_order", "scale",
                                            "offset",   "quantity",   "kind", "unit",       "min",
                                            "max",      "resolution", NULL};

const struct conf_sec_def conf_sec_defs[SEC_COUNT_] = {
    [SEC_FOYER] = {"foyer", SEC_ID_NONE, keys_foyer, false},
    [SEC_BUILDING] = {"building", SEC_ID_REQUIRED, keys_building, false},
    [SEC_DWELLING] = {"dwelling", SEC_ID_REQUIRED, keys_dwelling, false},
    [SEC_TENANCY] = {"tenancy", SEC_ID_REQUIRED, keys_tenancy, false},
    [SEC_CHANNEL] = {"channel", SEC_ID_REQUIRED, keys_channel, false},
    [SEC_BUS] = {"bus", SEC_ID_REQUIRED, keys_bus, false},
    [SEC_METER] = {"meter", SEC_ID_REQUIRED, keys_meter, false},
    [SEC_SENSOR] = {"sensor", SEC_ID_REQUIRED, keys_sensor, false},
    [SEC_MQTT] = {"mqtt", SEC_ID_NONE, keys_mqtt, false},
    [SEC_UPLINK] = {"uplink", SEC_ID_NONE, keys_uplink, false},
    [SEC_HTTP] = {"http", SEC_ID_NONE, keys_http, false},
    [SEC_PUSH] = {"push", SEC_ID_OPTIONAL, keys_push, false},
    [SEC_TARIFF] = {"tariff", SEC_ID_REQUIRED, keys_tariff, false},
    [SEC_ALERTS] = {"alerts", SEC_ID_NONE, keys_alerts, false},
    [SEC_PROFILE] = {"profile", SEC_ID_NONE, keys_profile, true},
    [SEC_REGISTER] = {"register", SEC_ID_REQUIRED, keys_register, true},
};

/* ---------------------------------------------------------------------- */
/* Grouping sections, duplicates, ID lookup                               */

static int cmp_sec_id_seq(const void *a, const void *b)
{
    const struct conf_sec *x = *(struct conf_sec *const *)a, *y = *(struct conf_sec *const *)b;
    int c = strcmp(x->id, y->id);
    if (c)
        return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

void conf_group_build(struct conf_parser *p, const struct conf_secs *all, enum conf_sec_type t,
                      struct conf_group *g)
{
    size_t n = 0, k = 0;
    char lbl[CONF_LABEL_MAX];

    for (size_t i = 0; i < all->n; i++)
        n += all->v[i]->type == t;
    g->v = conf_calloc(p, n, sizeof(*g->v));
    g->sorted = conf_calloc(p, n, sizeof(*g->sorted));
    g->n = 0;
    if (!g->v || !g->sorted)
        return;
    for (size_t i = 0; i < all->n; i++)
        if (all->v[i]->type == t)
            g->sorted[k++] = all->v[i];
    qsort(g->sorted, n, sizeof(*g->sorted), cmp_sec_id_seq);
    for (size_t i = 1, run = 0; i < n; i++) {
        const struct conf_sec *first = g->sorted[run];
        struct conf_sec *s = g->sorted[i];
        if (strcmp(first->id, s->id) != 0) {
            run = i;
            continue;
        }
        s->dup = true;
        if (s->id[0])
            conf_err(p, &s->pos, "duplicate %s \"%s\" (first defined at %s:%d)",
                     conf_sec_defs[t].name, s->id, first->pos.file, first->pos.line);
        else
            conf_err(p, &s->pos, "duplicate section %s (first defined at %s:%d)",
                     conf_sec_label(s, lbl, sizeof(lbl)), first->pos.file, first->pos.line);
    }
    /* Compact both lists. */
    k = 0;
    for (size_t i = 0; i < n; i++)
        if (!g->sorted[i]->dup)
            g->sorted[k++] = g->sorted[i];
    for (size_t i = 0; i < all->n; i++)
        if (all->v[i]->type == t && !all->v[i]->dup) {
            all->v[i]->ent = (uint32_t)g->n;
            g->v[g->n++] = all->v[i];
        }
}

static int cmp_key_sec(const void *key, const void *elem)
{
    return strcmp(key, (*(struct conf_sec *const *)elem)->id);
}

int32_t conf_group_find(const struct conf_group *g, const char *id)
{
    struct conf_sec **r;
    if (!g->sorted || g->n == 0)
        return -1;
    r = bsearch(id, g->sorted, g->n, sizeof(*g->sorted), cmp_key_sec);
    return r ? (int32_t)(*r)->ent : -1;
}

void conf_group_free(struct conf_group *g)
{
    free(g->v);
    free(g->sorted);
    memset(g, 0, sizeof(*g));
}

/* ---------------------------------------------------------------------- */
/* Places: [foyer], buildings, dwellings, tenancies                       */

/* The database path: SQLite creates the file, but not over a directory or
 * below a file.  A missing directory is left to the start: the systemd
 * unit creates /var/lib/foyer (StateDirectory=) just before it. */
static void database_check(struct conf_parser *p, const struct conf_key *k, const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            conf_err(p, &k->pos,
                     "database \"%s\" is a directory: name the database file in it, "
                     "e.g. %s%sfoyer.db",
                     path, path, path[strlen(path) - 1] == '/' ? "" : "/");
        else if (!S_ISREG(st.st_mode))
            conf_err(p, &k->pos, "database \"%s\" is not a regular file", path);
    } else if (errno == ENOTDIR) {
        conf_err(p, &k->pos, "database \"%s\": a part of the path is a file, not a directory",
                 path);
    }
}

/* The zone, checked by the function foyerd's start uses (tu_zone_check),
 * so that --check-config and foyerd agree. */
static void zone_check(struct conf_parser *p, const struct conf_key *k)
{
    const char *z = k->value;
    int32_t off = 0;
    int r = tu_zone_check(z, &off);

    if (r == 0)
        return;
    if (r == -EINVAL) {
        conf_err(p, &k->pos, "bad time zone \"%s\" (expected a name like Europe/Paris)", z);
    } else if (r == -ENOENT) {
        conf_err(p, &k->pos, "bad time zone \"%s\" (no file %s/%s)", z, tu_zone_dir(), z);
    } else if (r == -EDOM) {
        int a = off < 0 ? -off : off;
        conf_err(p, &k->pos,
                 "time zone \"%s\" is not usable: its offset UTC%c%02d:%02d is not a whole "
                 "number of hours, and foyer needs whole-hour offsets (hourly figures are "
                 "stored per UTC hour, which must also be a local hour)",
                 z, off < 0 ? '-' : '+', a / 3600, a % 3600 / 60);
    } else if (r == -EBADMSG) {
        conf_err(p, &k->pos, "bad time zone \"%s\" (%s/%s is not a time zone file)", z,
                 tu_zone_dir(), z);
    } else {
        conf_err(p, &k->pos, "bad time zone \"%s\" (%s/%s: %s)", z, tu_zone_dir(), z, strerror(-r));
    }
}

static void build_foyer(struct conf_build *b)
{
    struct conf_parser *p = b->p;
    struct foyer_config *cfg = p->cfg;
    const struct conf_sec *s;
    int lvl = 2;

    cfg->database = conf_path_join(p, p->main_dir, "/var/lib/foyer/foyer.db");
    cfg->timezone = conf_strdup(p, "Europe/Paris");
    cfg->profiles_dir = conf_path_join(p, p->main_dir, "profiles");
    cfg->raw_retention_days = 30;
    cfg->raw_retention_days_no_consent = 7;
    cfg->erase_after_days = 92;
    cfg->batch_readings = FOYER_BATCH_READINGS;
    cfg->batch_deadline_ms = FOYER_BATCH_DEADLINE_MS;
    cfg->watchdog_s = 0;
    cfg->future_tolerance_s = FOYER_FUTURE_TOLERANCE_S;
    cfg->outbox_retention_days = 90;
    int dju = DJU_METEO_FRANCE, lang = 0;
    if (b->g[SEC_FOYER].n) {
        const struct conf_key *k;
        s = b->g[SEC_FOYER].v[0];
        if (conf_get_path(p, s, "database", &cfg->database) && conf_get(s, "database"))
            database_check(p, conf_get(s, "database"), cfg->database);
        if ((k = conf_get(s, "timezone")) != NULL) {
            zone_check(p, k);
            (void)conf_get_str(p, s, "timezone", &cfg->timezone);
        }
        (void)conf_get_path(p, s, "profiles_dir", &cfg->profiles_dir);
        (void)conf_get_int(p, s, "raw_retention_days", 1, 36600, &cfg->raw_retention_days);
        (void)conf_get_int(p, s, "raw_retention_days_no_consent", 1, 36600,
                           &cfg->raw_retention_days_no_consent);
        (void)conf_get_int(p, s, "erase_after_days", 0, 36600, &cfg->erase_after_days);
        (void)conf_get_int(p, s, "batch_readings", 1, FOYER_BATCH_BACKLOG_MAX,
                           &cfg->batch_readings);
        (void)conf_get_int(p, s, "batch_deadline_ms", 1, 60000, &cfg->batch_deadline_ms);
        (void)conf_get_enum(p, s, "log_level", log_level_names, N_ELEMS(log_level_names), &lvl);
        (void)conf_get_int(p, s, "future_tolerance_s", 0, FOYER_FUTURE_TOLERANCE_MAX_S,
                           &cfg->future_tolerance_s);
        (void)conf_get_enum(p, s, "dju_method", conf_dju_method_names,
                            N_ELEMS(conf_dju_method_names), &dju);
        (void)conf_get_enum(p, s, "summary_language", conf_summary_language_names,
                            N_ELEMS(conf_summary_language_names), &lang);
        (void)conf_get_int(p, s, "outbox_retention_days", 1, 36600, &cfg->outbox_retention_days);
        if (cfg->raw_retention_days_no_consent > cfg->raw_retention_days) {
            k = conf_get(s, "raw_retention_days_no_consent");
            if (!k)
                k = conf_get(s, "raw_retention_days");
            conf_err(p, k ? &k->pos : &s->pos,
                     "raw_retention_days_no_consent (%d) must not exceed raw_retention_days (%d)",
                     cfg->raw_retention_days_no_consent, cfg->raw_retention_days);
        }
    }
    cfg->log_level = conf_strdup(p, log_level_names[lvl]);
    cfg->dju_method = (enum dju_method)dju;
    (void)snprintf(cfg->summary_language, sizeof(cfg->summary_language), "%s",
                   conf_summary_language_names[lang]);
}

static void build_buildings(struct conf_build *b)
{
    struct conf_parser *p = b->p;
    struct foyer_config *cfg = p->cfg;
    const struct conf_group *g = &b->g[SEC_BUILDING];

    cfg->buildings = conf_calloc(p, g->n, sizeof(*cfg->buildings));
    if (!cfg->buildings)
        return;
    cfg->n_buildings = g->n;
    for (size_t i = 0; i < g->n; i++) {
        struct building *x = &cfg->buildings[i];
        memcpy(x->id, g->v[i]->id, sizeof(x->id));
        x->pos = g->v[i]->pos;
        (void)conf_get_str(p, g->v[i], "name", &x->name);
    }
}

static void build_dwellings(struct conf_build *b)
{
    struct conf_parser *p = b->p;
    struct foyer_config *cfg = p->cfg;
    const struct conf_group *g = &b->g[SEC_DWELLING];

    cfg->dwellings = conf_calloc(p, g->n, sizeof(*cfg->dwellings));
    if (!cfg->dwellings)
        return;
    cfg->n_dwellings = g->n;
    for (size_t i = 0; i < g->n; i++) {
        const struct conf_sec *s = g->v[i];
        struct dwelling *x = &cfg->dwellings[i];
        const struct conf_key *k;
        int h = 0;

        memcpy(x->id, s->id, sizeof(x->id));
        x->pos = s->pos;
        x->building = UINT32_MAX;
        if ((k = conf_require(p, s, "building")) != NULL) {
            int32_t bi = conf_group_find(&b->g[SEC_BUILDING], k->value);
            if (bi < 0)
                conf_err(p, &k->pos, "dwelling %s: unknown building \"%s\"", s->id, k->value);
            else
                x->building = (uint32_t)bi;
        }
        (void)conf_get_str(p, s, "label", &x->label);
        if (conf_require(p, s, "surface_m2"))
            (void)conf_get_num(p, s, "surface_m2", CONF_NUM_POSITIVE, &x->surface_m2);
        if (conf_require(p, s, "heating"))
            (void)conf_get_enum(p, s, "heating", heating_names, HEATING_COUNT_, &h);
        x->heating = (enum heating)h;
        (void)conf_get_bool(p, s, "consent", &x->consent);
    }
}

static void build_tenancies(struct conf_build *b)
{
    struct conf_parser *p = b->p;
    struct foyer_config *cfg = p->cfg;
    const struct conf_group *g = &b->g[SEC_TENANCY];

    cfg->tenancies = conf_calloc(p, g->n, sizeof(*cfg->tenancies));
    if (!cfg->tenancies)
        return;
    cfg->n_tenancies = g->n;
    for (size_t i = 0; i < g->n; i++) {
        const struct conf_sec *s = g->v[i];
        struct tenancy *x = &cfg->tenancies[i];
        const struct conf_key *k;
        bool ok = true;

        memcpy(x->id, s->id, sizeof(x->id));
        x->pos = s->pos;
        x->dwelling = UINT32_MAX;
        if ((k = conf_require(p, s, "dwelling")) != NULL) {
            int32_t d = conf_group_find(&b->g[SEC_DWELLING], k->value);
            if (d < 0) {
                conf_err(p, &k->pos, "tenancy %s: unknown dwelling \"%s\"", s->id, k->value);
                ok = false;
            } else {
                x->dwelling = (uint32_t)d;
            }
        } else {
            ok = false;
        }
        if (!conf_require(p, s, "start") || !conf_get_date(p, s, "start", &x->start_ymd))
            ok = false;
        if (!conf_get_date(p, s, "end", &x->end_ymd))
            ok = false;
        if (ok && x->end_ymd && x->end_ymd < x->start_ymd) {
            char d1[16], d2[16];
            conf_err(p, &conf_get(s, "end")->pos, "tenancy %s: end %s is before start %s", s->id,
                     conf_fmt_date(x->end_ymd, d1, sizeof(d1)),
                     conf_fmt_date(x->start_ymd, d2, sizeof(d2)));
            ok = false;
        }
        if (!ok) {
            x->start_ymd = 0; /* keep it out of the overlap check */
            continue;
        }
        /* Households must not overlap: a tenant sees only their own period. */
        for (size_t j = 0; j < i; j++) {
            const struct tenancy *o = &cfg->tenancies[j];
            int32_t xe = x->end_ymd ? x->end_ymd : INT32_MAX;
            int32_t oe = o->end_ymd ? o->end_ymd : INT32_MAX;
            if (o->start_ymd == 0 || o->dwelling != x->dwelling)
                continue;
            if (x->start_ymd <= oe && o->start_ymd <= xe) {
                conf_err(p, &s->pos, "tenancy %s overlaps tenancy %s (%s:%d) in dwelling %s", s->id,
                         o->id, o->pos.file, o->pos.line, cfg->dwellings[x->dwelling].id);
                break;
            }
        }
    }
}

/* ---------------------------------------------------------------------- */
/* Services and prices: mqtt, http, push, tariffs                         */

static void build_mqtt(struct conf_build *b)
{
    struct conf_parser *p = b->p;
    struct mqtt_conf *m = &p->cfg->mqtt;
    const struct conf_sec *s;

    m->port = 1883;
    m->tls_verify = true;
    m->protocol = 5;
    m->keepalive_s = 60;
    m->session_expiry_s = 86400;
    m->qos = 1;
    if (!b->g[SEC_MQTT].n)
        return;
    s = b->g[SEC_MQTT].v[0];
    m->enabled = true;
    m->pos = s->pos;
    m->host = conf_strdup(p, "127.0.0.1");
    (void)conf_get_str(p, s, "host", &m->host);
    (void)conf_get_bool(p, s, "tls", &m->tls);
    if (m->tls)
        m->port = 8883;
    (void)conf_get_int(p, s, "port", 1, 65535, &m->port);
    (void)conf_get_str(p, s, "client_id", &m->client_id);
    (void)conf_get_str(p, s, "username", &m->username);
    (void)conf_get_path(p, s, "password_file", &m->password_file);
    (void)conf_get_path(p, s, "ca_file", &m->ca_file);
    (void)conf_get_path(p, s, "cert_file", &m->cert_file);
    (void)conf_get_path(p, s, "key_file", &m->key_file);
    (void)conf_get_bool(p, s, "tls_verify", &m->tls_verify);
    if (conf_get(s, "protocol") && strcmp(conf_get(s, "protocol")->value, "5") != 0 &&
        strcmp(conf_get(s, "protocol")->value, "311") != 0)
        conf_bad_value(p, s, conf_get(s, "protocol"), "5 or 311");
    else
        (void)conf_get_int(p, s, "protocol", 5, 311, &m->protocol);
    (void)conf_get_int(p, s, "keepalive", 5, 65535, &m->keepalive_s);
    (void)conf_get_int(p, s, "session_expiry", 0, INT32_MAX, &m->session_expiry_s);
    (void)conf_get_int(p, s, "qos", 0, 2, &m->qos);
    if ((conf_get(s, "cert_file") != NULL) != (conf_get(s, "key_file") != NULL)) {
        const struct conf_key *k =
            conf_get(s, "cert_file") ? conf_get(s, "cert_file") : conf_get(s, "key_file");
        conf_err(p, &k->pos, "mqtt: cert_file and key_file go together");
    }
    /* What foyerd's MQTT client refuses when it starts. */
    if (m->client_id && !conf_mqtt_string_valid(m->client_id))
        conf_bad_value(p, s, conf_get(s, "client_id"), "UTF-8 text without control characters");
    if (m->username && !conf_mqtt_string_valid(m->username))
        conf_bad_value(p, s, conf_get(s, "username"), "UTF-8 text without control characters");
    if (m->username && m->password_file)
        conf_file_check(p, conf_get(s, "password_file"), m->password_file, "mqtt");
    if (m->tls) {
        static const char *const tls_files[] = {"ca_file", "cert_file", "key_file"};
        const char *const paths[] = {m->ca_file, m->cert_file, m->key_file};
        for (size_t i = 0; i < N_ELEMS(tls_files); i++)
            if (paths[i])
                conf_file_check(p, conf_get(s, tls_files[i]), paths[i], "mqtt");
    }
}

/* Whether a listen address is loopback: 127.0.0.0/8, ::1, localhost. */
static bool conf_http_loopback(const char *a)
{
    return strncmp(a, "127.", 4) == 0 || strcmp(a, "::1") == 0 || strcmp(a, "localhost") == 0 ||
           strncmp(a, "::ffff:127.", 11) == 0;
}

/* A gateway id is a topic level and part of every central key. */
static bool uplink_id_valid(const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n > FOYER_UPLINK_GATEWAY_ID_MAX)
        return false;
    for (const char *c = v; *c; c++)
        if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
              *c == '_' || *c == '-'))
            return false;
    return true;
}

static void build_uplink(struct conf_build *b)
{
    struct conf_parser *p = b->p;
    struct uplink_conf *u = &p->cfg->uplink;
    const struct conf_sec *s;

    u->port = 1883;
    u->tls_verify = true;
    u->protocol = 5;
    u->keepalive_s = 60;
    u->session_expiry_s = 604800;
    u->ack_timeout_s = 60;
    u->max_in_flight = 2000;
    u->batch_items = 500;
    u->settle_s = 900;
    u->device_every_s = 900;
    if (!b->g[SEC_UPLINK].n)
        return;
    s = b->g[SEC_UPLINK].v[0];
    u->enabled = true;
    u->pos = s->pos;
    if (!conf_get(s, "host"))
        conf_err(p, &s->pos, "uplink: host is required (the central broker)");
    if (!conf_get(s, "gateway_id"))
        conf_err(p, &s->pos, "uplink: gateway_id is required (this building's name at the center)");
    (void)conf_get_str(p, s, "host", &u->host);
    (void)conf_get_str(p, s, "gateway_id", &u->gateway_id);
    if (u->gateway_id && !uplink_id_valid(u->gateway_id))
        conf_bad_value(p, s, conf_get(s, "gateway_id"), "1 to 64 of A-Z a-z 0-9 _ -");
    (void)conf_get_bool(p, s, "tls", &u->tls);
    if (u->tls)
        u->port = 8883;
    (void)conf_get_int(p, s, "port", 1, 65535, &u->port);
    (void)conf_get_str(p, s, "client_id", &u->client_id);
    (void)conf_get_str(p, s, "username", &u->username);
    (void)conf_get_path(p, s, "password_file", &u->password_file);
    (void)conf_get_path(p, s, "ca_file", &u->ca_file);
    (void)conf_get_path(p, s, "cert_file", &u->cert_file);
    (void)conf_get_path(p, s, "key_file", &u->key_file);
    (void)conf_get_bool(p, s, "tls_verify", &u->tls_verify);
    if (conf_get(s, "protocol") && strcmp(conf_get(s, "protocol")->value, "5") != 0 &&
        strcmp(conf_get(s, "protocol")->value, "311") != 0)
        conf_bad_value(p, s, conf_get(s, "protocol"), "5 or 311");
    else
        (void)conf_get_int(p, s, "protocol", 5, 311, &u->protocol);
    (void)conf_get_int(p, s, "keepalive", 5, 65535, &u->keepalive_s);
    (void)conf_get_int(p, s, "session_expiry", 0, INT32_MAX, &u->session_expiry_s);
    (void)conf_get_int(p, s, "ack_timeout_s", 1, 86400, &u->ack_timeout_s);
    (void)conf_get_int(p, s, "max_in_flight", 1, FOYER_UPLINK_IN_FLIGHT_MAX, &u->max_in_flight);
    (void)conf_get_int(p, s, "batch_items", 1, FOYER_UPLINK_BATCH_MAX, &u->batch_items);
    (void)conf_get_int(p, s, "settle_s", 0, 86400, &u->settle_s);
    (void)conf_get_int(p, s, "device_every_s", 1, 86400, &u->device_every_s);
    if ((conf_get(s, "cert_file") != NULL) != (conf_get(s, "key_file") != NULL)) {
        const struct conf_key *k =
            conf_get(s, "cert_file") ? conf_get(s, "cert_file") : conf_get(s, "key_file");
        conf_err(p, &k->pos, "uplink: cert_file and key_file go together");
    }
    if (u->client_id &&
        (!conf_mqtt_string_valid(u->client_id) || strlen(u->client_id) > FOYER_MQTT_CLIENT_ID_MAX))
        conf_bad_value(p, s, conf_get(s, "client_id"),
                       "UTF-8 text without control characters, at most 128 bytes");
    if (u->username && !conf_mqtt_string_valid(u->username))
        conf_bad_value(p, s, conf_get(s, "username"), "UTF-8 text without control characters");
    if (u->password_file && !u->username)
        conf_err(p, &conf_get(s, "password_file")->pos, "uplink: password_file needs a username");
    if (u->username && u->password_file)
        conf_file_check(p, conf_get(s, "password_file"), u->password_file, "uplink");
    if (u->tls) {
        static const char *const tls_files[] = {"ca_file", "cert_file", "key_file"};
        const char *const paths[] = {u->ca_file, u->cert_file, u->key_file};
        for (size_t i = 0; i < N_ELEMS(tls_files); i++)
            if (paths[i])
                conf_file_check(p, conf_get(s, tls_files[i]), paths[i], "uplink");
    }
}

static void build_http(struct conf_build *b)
{
    struct conf_parser *p = b->p;
    struct http_conf *h = &p->cfg->http;
    const struct conf_sec *s;

    h->port = 8080;
    if (!b->g[SEC_HTTP].n)
        return;
    s = b->g[SEC_HTTP].v[0];
    h->enabled = true;
    h->pos = s->pos;
    h->listen = conf_strdup(p, "127.0.0.1");
    h->web_dir = conf_strdup(p, FOYER_WEBDIR);
    (void)conf_get_str(p, s, "listen", &h->listen);
    (void)conf_get_int(p, s, "port", 1, 65535, &h->port);
    (void)conf_get_path(p, s, "web_dir", &h->web_dir);
    (void)conf_get_path(p, s, "tls_cert", &h->tls_cert);
    (void)conf_get_path(p, s, "tls_key", &h->tls_key);
    (void)conf_get_bool(p, s, "behind_proxy", &h->behind_proxy);
    /* Tokens live in the database now (foyerctl token); the key is
     * accepted so that an older config still loads, and foyerd warns. */
    (void)conf_get_path(p, s, "tokens_file", &h->tokens_file);
    if (conf_get(s, "tokens_file"))
        h->tokens_file_pos = conf_get(s, "tokens_file")->pos;
    if ((h->tls_cert != NULL) != (h->tls_key != NULL)) {
        const struct conf_key *k =
            conf_get(s, "tls_cert") ? conf_get(s, "tls_cert") : conf_get(s, "tls_key");
        conf_err(p, &k->pos, "http: tls_cert and tls_key go together");
    }
    if (h->tls_cert && h->tls_key) {
        conf_file_check(p, conf_get(s, "tls_cert"), h->tls_cert, "http");
        conf_file_check(p, conf_get(s, "tls_key"), h->tls_key, "http");
    }
    /* Tokens and cookies in clear on a building's network: only on
     * loopback, or with TLS, or when a proxy on the gateway does TLS. */
    if (!h->tls_cert && !h->behind_proxy && !conf_http_loopback(h->listen)) {
        const struct conf_key *k = conf_get(s, "listen");
        conf_err(p, k ? &k->pos : &s->pos,
                 "http: listen = %s is not a loopback address: set tls_cert and tls_key, or "
                 "behind_proxy = yes when a reverse proxy on this host terminates TLS",
                 h->listen);
    }
}

/* A day of the year "MM-DD" as MMDD; Feb 29 is refused (not every year
 * has it). */
static void get_month_day(struct conf_parser *p, const struct conf_sec *s, const char *name,
                          int *ret)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const struct conf_key *k = conf_get(s, name);
    int m, d;
    char tail;
    if (!k)
        return;
    if (sscanf(k->value, "%2d-%2d%c", &m, &d, &tail) != 2 || strlen(k->value) != 5 || m < 1 ||
        m > 12 || d < 1 || d > mdays[m - 1]) {
        conf_bad_value(p, s, k, "a day of the year MM-DD, e.g. 10-01");
        return;
    }
    *ret = m * 100 + d;
}

static void build_alerts(struct conf_build *b)
{
    struct conf_parser *p = b->p;
    struct alerts_conf *a = &p->cfg->alerts;
    const struct conf_sec *s;

    *a = (struct alerts_conf){
        .enabled = true,
        .silent_grace_s = 3600,
        .leak_lph = 2,
        .leak_nights = 2,
        .cold_below_c = 16,
        .cold_hours = 24,
        .heating_from_md = 1001,
        .heating_to_md = 520,
        .damp_above_rh = 70,
        .damp_hours = 72,
        .damp_cold_below_c = 18,
        .co2_above_ppm = 1500,
        .co2_nights = 3,
        .abnormal_factor = 3,
        .abnormal_min_days = 14,
        .vacant_heat_kwh = 1,
        .vacant_water_l = 20,
        .history_days = 35,
        .hold_s = 2 * 86400,
    };
    if (!b->g[SEC_ALERTS].n)
        return;
    s = b->g[SEC_ALERTS].v[0];
    a->present = true;
    a->pos = s->pos;
    (void)conf_get_bool(p, s, "enabled", &a->enabled);
    (void)conf_get_int(p, s, "silent_grace", 60, 30 * 86400, &a->silent_grace_s);
    (void)conf_get_num(p, s, "leak_lph", CONF_NUM_POSITIVE, &a->leak_lph);
    (void)conf_get_int(p, s, "leak_nights", 1, 14, &a->leak_nights);
    (void)conf_get_num(p, s, "cold_below", CONF_NUM_ANY, &a->cold_below_c);
    (void)conf_get_int(p, s, "cold_hours", 1, 24 * 14, &a->cold_hours);
    get_month_day(p, s, "heating_from", &a->heating_from_md);
    get_month_day(p, s, "heating_to", &a->heating_to_md);
    (void)conf_get_num(p, s, "damp_above", CONF_NUM_POSITIVE, &a->damp_above_rh);
    (void)conf_get_int(p, s, "damp_hours", 1, 24 * 14, &a->damp_hours);
    (void)conf_get_num(p, s, "damp_cold_below", CONF_NUM_ANY, &a->damp_cold_below_c);
    (void)conf_get_num(p, s, "co2_above", CONF_NUM_POSITIVE, &a->co2_above_ppm);
    (void)conf_get_int(p, s, "co2_nights", 1, 14, &a->co2_nights);
    (void)conf_get_num(p, s, "abnormal_factor", CONF_NUM_POSITIVE, &a->abnormal_factor);
    (void)conf_get_int(p, s, "abnormal_min_days", 1, 366, &a->abnormal_min_days);
    (void)conf_get_num(p, s, "vacant_heat_kwh", CONF_NUM_POSITIVE, &a->vacant_heat_kwh);
    (void)conf_get_num(p, s, "vacant_water_l", CONF_NUM_POSITIVE, &a->vacant_water_l);
    /* Rules read their own look-back before the window (72 h of humidity,
     * three nights, the season's days): the window itself only has to
     * cover what may have been imported or missed while foyerd was down. */
    (void)conf_get_int(p, s, "history_days", 2, 366, &a->history_days);
    /* Nightly and daily rules are judged once a day, and a night may be 25
     * hours away from the last (DST): a shorter hold would close their
     * alerts between two judgements. */
    (void)conf_get_int(p, s, "hold", 25 * 3600, 60 * 86400, &a->hold_s);
    if (a->abnormal_factor <= 1)
        conf_bad_value(p, s, conf_get(s, "abnormal_factor"), "a factor above 1, e.g. 3");
}

static void build_push(struct conf_build *b)
{
    struct conf_parser *p = b->p;
    struct foyer_config *cfg = p->cfg;
    const struct conf_group *g = &b->g[SEC_PUSH];

    cfg->push = conf_calloc(p, g->n, sizeof(*cfg->push));
    if (!cfg->push)
        return;
    cfg->n_push = g->n;
    for (size_t i = 0; i < g->n; i++) {
        const struct conf_sec *s = g->v[i];
        struct push_endpoint *x = &cfg->push[i];
        const struct conf_key *k;

        char what[FOYER_ID_MAX + 8];

        (void)snprintf(what, sizeof(what), "push%s%s", s->id[0] ? " " : "", s->id);
        memcpy(x->id, s->id, sizeof(x->id));
        x->pos = s->pos;
        x->tls_verify = true;
        x->timeout_s = 10;
        x->max_age_s = 7 * 86400;
        if ((k = conf_require(p, s, "url")) != NULL) {
            if ((strncmp(k->value, "http://", 7) != 0 || !k->value[7]) &&
                (strncmp(k->value, "https://", 8) != 0 || !k->value[8]))
                conf_bad_value(p, s, k, "an http:// or https:// URL");
            else
                x->url = conf_strdup(p, k->value);
        }
        if (conf_get_path(p, s, "token_file", &x->token_file) && x->token_file)
            conf_file_check(p, conf_get(s, "token_file"), x->token_file, what);
        if (conf_get_path(p, s, "ca_file", &x->ca_file) && x->ca_file)
            conf_file_check(p, conf_get(s, "ca_file"), x->ca_file, what);
        (void)conf_get_bool(p, s, "tls_verify", &x->tls_verify);
        (void)conf_get_int(p, s, "timeout", 1, 3600, &x->timeout_s);
        (void)conf_get_int(p, s, "max_age", 60, 366 * 86400, &x->max_age_s);
        (void)conf_get_bool(p, s, "insecure", &x->insecure);
        /* The bearer token and per-household figures would go in clear, or
         * to whoever answers: only when the site says it knows. */
        if (x->url && strncmp(x->url, "http://", 7) == 0 && !x->insecure)
            conf_err(p, &conf_get(s, "url")->pos,
                     "[%s] url: http:// sends the token and the households' data in clear; use "
                     "https://, or set insecure = yes in this section",
                     what);
        if (!x->tls_verify && !x->insecure)
            conf_err(p, &conf_get(s, "tls_verify")->pos,
                     "[%s] tls_verify = false lets anyone on the path receive the token and the "
                     "households' data; set ca_file instead, or insecure = yes in this section",
                     what);
        (void)conf_get_bool(p, s, "alerts", &x->alerts);
    }
}

static void build_tariffs(struct conf_build *b)
{
    struct conf_parser *p = b->p;
    struct foyer_config *cfg = p->cfg;
    const struct conf_group *g = &b->g[SEC_TARIFF];

    cfg->tariffs = conf_calloc(p, g->n, sizeof(*cfg->tariffs));
    if (!cfg->tariffs)
        return;
    cfg->n_tariffs = g->n;
    for (size_t i = 0; i < g->n; i++) {
        const struct conf_sec *s = g->v[i];
        struct tariff *x = &cfg->tariffs[i];
        const struct conf_key *k;
        int q = 0, pu;
        bool water;

        memcpy(x->id, s->id, sizeof(x->id));
        x->pos = s->pos;
        x->building = -1;
        x->price_unit = price_unit_names[0];
        if (conf_require(p, s, "quantity") &&
            conf_get_enum(p, s, "quantity", conf_quantity_names, Q_COUNT_, &q)) {
            if (conf_qinfo[q].kind != KIND_COUNTER) {
                k = conf_get(s, "quantity");
                conf_bad_value(p, s, k,
                               "a counter quantity: electricity, heat, gas, hot_water, cold_water");
            }
        }
        x->quantity = (enum quantity)q;
        water = q == Q_HOT_WATER || q == Q_COLD_WATER;
        pu = water ? 1 : 0;
        x->price_unit = price_unit_names[pu];
        if ((k = conf_get(s, "price_unit")) != NULL &&
            conf_get_enum(p, s, "price_unit", price_unit_names, N_ELEMS(price_unit_names), &pu) &&
            pu != (water ? 1 : 0))
            conf_err(p, &k->pos, "tariff %s: price_unit for %s must be %s", s->id,
                     conf_quantity_names[q], price_unit_names[water ? 1 : 0]);
        if (conf_require(p, s, "price"))
            (void)conf_get_num(p, s, "price", CONF_NUM_NONNEG, &x->price_eur);
        (void)conf_get_num(p, s, "subscription_eur_month", CONF_NUM_NONNEG,
                           &x->subscription_eur_month);
        if (conf_get_date(p, s, "valid_from", &x->valid_from_ymd) &&
            conf_get_date(p, s, "valid_to", &x->valid_to_ymd) && x->valid_from_ymd &&
            x->valid_to_ymd && x->valid_to_ymd < x->valid_from_ymd) {
            char d1[16], d2[16];
            conf_err(p, &conf_get(s, "valid_to")->pos,
                     "tariff %s: valid_to %s is before valid_from %s", s->id,
                     conf_fmt_date(x->valid_to_ymd, d1, sizeof(d1)),
                     conf_fmt_date(x->valid_from_ymd, d2, sizeof(d2)));
        }
        if ((k = conf_get(s, "building")) != NULL) {
            x->building = conf_group_find(&b->g[SEC_BUILDING], k->value);
            if (x->building < 0)
                conf_err(p, &k->pos, "tariff %s: unknown building \"%s\"", s->id, k->value);
        }
    }
}

/* ---------------------------------------------------------------------- */
/* Load and free                                                          */

struct foyer_config *config_load(const char *path, struct conf_errors *errs)
{
    struct conf_parser p = {0};
    struct conf_build b = {.p = &p};
    struct conf_secs raw = {0};
    struct foyer_config *cfg;

    errs->msgs = NULL;
    errs->n = 0;
    cfg = calloc(1, sizeof(*cfg));
    p.cfg = cfg;
    if (!cfg)
        goto out_oom;
    cfg->main_file = strdup(path);
    p.main_dir = cfg->main_file ? conf_dir_of(&p, path) : NULL;
    if (!cfg->main_file || !p.main_dir)
        goto out_oom;

    conf_read_file(&p, &raw, false, path, NULL);
    for (int t = 0; t < SEC_COUNT_; t++)
        if (!conf_sec_defs[t].profile_file)
            conf_group_build(&p, &raw, (enum conf_sec_type)t, &b.g[t]);
    build_foyer(&b);
    build_buildings(&b);
    build_dwellings(&b);
    build_tenancies(&b);
    conf_build_devices(&b);
    build_mqtt(&b);
    build_uplink(&b);
    build_http(&b);
    build_alerts(&b);
    build_push(&b);
    build_tariffs(&b);

    for (int t = 0; t < SEC_COUNT_; t++)
        conf_group_free(&b.g[t]);
    conf_build_devices_done(&b);
    conf_secs_free(&raw);
    free(p.pc);
    free(p.seen);
    free(p.main_dir);

    if (p.oom) {
        struct conf_pos pos = {path, 0};
        p.oom = false;
        conf_err(&p, &pos, "out of memory");
    }
    if (p.n_errs == 0)
        return cfg;
    (void)conf_errs_take(&p, errs);
    config_free(cfg);
    return NULL;

out_oom:
    free(p.main_dir);
    config_free(cfg);
    errs->msgs = calloc(1, sizeof(*errs->msgs));
    if (errs->msgs && asprintf(&errs->msgs[0], "%s: out of memory", path) >= 0)
        errs->n = 1;
    return NULL;
}

void config_free(struct foyer_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->database);
    free(cfg->timezone);
    free(cfg->profiles_dir);
    free(cfg->log_level);
    for (size_t i = 0; i < cfg->n_buildings; i++)
        free(cfg->buildings[i].name);
    free(cfg->buildings);
    for (size_t i = 0; i < cfg->n_dwellings; i++)
        free(cfg->dwellings[i].label);
    free(cfg->dwellings);
    free(cfg->tenancies);
    free(cfg->channels);
    for (size_t i = 0; i < cfg->n_buses; i++) {
        free(cfg->buses[i].host);
        free(cfg->buses[i].device);
    }
    free(cfg->buses);
    for (size_t i = 0; i < cfg->n_profiles; i++) {
        free(cfg->profiles[i].model);
        free(cfg->profiles[i].regs);
        free(cfg->profiles[i].path);
    }
    free(cfg->profiles);
    free(cfg->meters);
    for (size_t i = 0; i < cfg->n_sensors; i++) {
        struct sensor *s = &cfg->sensors[i];
        for (size_t f = 0; f < s->n_fields; f++)
            free(s->fields[f].path);
        free(s->fields);
        free(s->topic);
        free(s->timestamp_field);
    }
    free(cfg->sensors);
    for (size_t i = 0; i < cfg->n_push; i++) {
        free(cfg->push[i].url);
        free(cfg->push[i].token_file);
        free(cfg->push[i].ca_file);
    }
    free(cfg->push);
    free(cfg->tariffs);
    free(cfg->mqtt.host);
    free(cfg->mqtt.client_id);
    free(cfg->mqtt.username);
    free(cfg->mqtt.password_file);
    free(cfg->mqtt.ca_file);
    free(cfg->mqtt.cert_file);
    free(cfg->mqtt.key_file);
    free(cfg->uplink.host);
    free(cfg->uplink.gateway_id);
    free(cfg->uplink.client_id);
    free(cfg->uplink.username);
    free(cfg->uplink.password_file);
    free(cfg->uplink.ca_file);
    free(cfg->uplink.cert_file);
    free(cfg->uplink.key_file);
    free(cfg->http.listen);
    free(cfg->http.tokens_file);
    free(cfg->http.tls_cert);
    free(cfg->http.tls_key);
    free(cfg->http.web_dir);
    free(cfg->channel_order);
    free(cfg->main_file);
    for (size_t i = 0; i < cfg->n_files; i++)
        free(cfg->files[i]);
    free(cfg->files);
    free(cfg);
}

/* ---------------------------------------------------------------------- */
/* Lookups                                                                */

static int cmp_find_channel(const void *key, const void *elem)
{
    const struct {
        const struct foyer_config *cfg;
        const char *id;
    } *k = key;
    return strcmp(k->id, k->cfg->channels[*(const uint32_t *)elem].id);
}

int32_t config_find_channel(const struct foyer_config *cfg, const char *id)
{
    struct {
        const struct foyer_config *cfg;
        const char *id;
    } key = {cfg, id};
    const uint32_t *r;
    if (!cfg || !cfg->channel_order || !id)
        return -1;
    r = bsearch(&key, cfg->channel_order, cfg->n_channels, sizeof(*cfg->channel_order),
                cmp_find_channel);
    return r ? (int32_t)*r : -1;
}

int32_t config_find_dwelling(const struct foyer_config *cfg, const char *id)
{
    for (size_t i = 0; cfg && id && i < cfg->n_dwellings; i++)
        if (strcmp(cfg->dwellings[i].id, id) == 0)
            return (int32_t)i;
    return -1;
}

int32_t config_find_building(const struct foyer_config *cfg, const char *id)
{
    for (size_t i = 0; cfg && id && i < cfg->n_buildings; i++)
        if (strcmp(cfg->buildings[i].id, id) == 0)
            return (int32_t)i;
    return -1;
}
