/*
 * config.h - the daemon's configuration, read from INI files by Foyer's own
 * INI reader (conf_read_ini(), shared with the language files).
 *
 * config_load() parses a main file, the files its `include = GLOB` lines name,
 * and the meter profiles (config/profiles/NAME.conf) the meters use, checks
 * everything (unknown keys, missing references, duplicate IDs, bad values,
 * unknown profiles) and builds the channel inventory.  The result is
 * immutable: threads share it read-only, and SIGHUP builds a new one and
 * swaps it in only when it is valid.
 *
 * Errors are collected, not printed: each is "FILE:LINE: message" so the
 * caller can print them all at once (foyerd --check-config) or log them.
 */
#ifndef FOYER_CONFIG_H
#define FOYER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "foyer/limits.h"

/* What a channel measures.  The names (config values, CSV and JSON) are
 * those of quantity_name(). */
enum quantity {
    Q_ELECTRICITY,         /* counter, kWh */
    Q_HEAT,                /* counter, kWh (heat meter) */
    Q_GAS,                 /* counter, kWh (m³ converted with kwh_per_m3) */
    Q_HOT_WATER,           /* counter, L */
    Q_COLD_WATER,          /* counter, L */
    Q_POWER,               /* gauge, W */
    Q_TEMPERATURE,         /* gauge, °C (indoor) */
    Q_HUMIDITY,            /* gauge, %RH */
    Q_CO2,                 /* gauge, ppm */
    Q_OUTDOOR_TEMPERATURE, /* gauge, °C, per building: degree-days */
    Q_VOLTAGE,             /* gauge, V */
    Q_CURRENT,             /* gauge, A */
    Q_COUNT_
};

enum channel_kind {
    KIND_COUNTER, /* cumulative index: consumption is a difference */
    KIND_GAUGE,   /* instantaneous value: mean/min/max */
};

enum heating {
    HEATING_ELECTRIC,
    HEATING_GAS,
    HEATING_DISTRICT,
    HEATING_COLLECTIVE,
    HEATING_HEAT_PUMP,
    HEATING_COUNT_
};

/* Where a setting came from, for messages. */
struct conf_pos {
    const char *file; /* interned in the config, lives as long as it */
    int line;
};

struct building {
    char id[FOYER_ID_MAX + 1];
    char *name; /* display name, UTF-8; may be NULL */
    struct conf_pos pos;
};

struct dwelling {
    char id[FOYER_ID_MAX + 1];
    uint32_t building; /* index into cfg->buildings */
    char *label;       /* e.g. "Bât A, 3e gauche"; may be NULL */
    double surface_m2; /* > 0 */
    enum heating heating;
    bool consent; /* load-curve consent (RGPD); default false */
    struct conf_pos pos;
};

/* [tenancy ID]: who lives in a dwelling from when to when.  Dates are local
 * calendar days written YYYYMMDD as integers (20240301), so the config does
 * not depend on the time zone; tu_local_date() turns them into instants.
 * end_ymd is the last day included, or 0 while the tenancy runs. */
struct tenancy {
    char id[FOYER_ID_MAX + 1];
    uint32_t dwelling;
    int32_t start_ymd;
    int32_t end_ymd;
    struct conf_pos pos;
};

/* A measured quantity at one place.  Created by a [channel ID] section, by a
 * meter (one per profile register, ID "METER.REGISTER") or by a sensor (one
 * per mapped field, ID "SENSOR.NAME"). */
struct channel {
    char id[FOYER_CHANNEL_ID_MAX + 1];
    int32_t dwelling; /* index into cfg->dwellings, or -1 */
    int32_t building; /* index into cfg->buildings (a dwelling's building too) */
    enum quantity quantity;
    enum channel_kind kind;
    const char *unit; /* stored unit, static string: "kWh", "L", "W", ... */
    double rollover;  /* the index wraps to 0 at this value; 0 = never */
    double max_rate;  /* counters: largest plausible consumption per hour,
                         in unit/h; gauges: unused */
    double min_value; /* gauges: values outside [min,max] are refused */
    double max_value;
    /* Counters: the smallest step of the index, in unit; a drop of at most
     * this is no change (counter.h).  Gauges: 0. */
    double resolution;
    int32_t meter;  /* index into cfg->meters, or -1 */
    int32_t sensor; /* index into cfg->sensors, or -1 */
    int32_t reg;    /* index into the meter's profile registers, or -1 */
    bool submeter;  /* measures part of another channel of the same place (a circuit, an
                       appliance): stored and shown, never added to the dwelling's or the
                       building's totals */
    struct conf_pos pos;
};

enum bus_type { BUS_TCP, BUS_RTU };
enum parity { PARITY_NONE, PARITY_EVEN, PARITY_ODD };

struct bus {
    char id[FOYER_ID_MAX + 1];
    enum bus_type type;
    char *host;         /* tcp */
    int port;           /* tcp, default 502 */
    char *device;       /* rtu: /dev/ttyUSB0 */
    int baud;           /* rtu, default 9600 */
    enum parity parity; /* rtu, default none */
    int data_bits;      /* rtu, default 8 */
    int stop_bits;      /* rtu, default 1 */
    bool rs485;         /* rtu: switch the line to RS-485 mode, default false */
    int timeout_ms;     /* response timeout, default 1000 */
    int frame_delay_ms; /* silence between two requests, default 0 (tcp), 5 (rtu) */
    int offline_after;  /* missed polls before a meter is offline, default 3 */
    struct conf_pos pos;
};

enum reg_function { REG_HOLDING, REG_INPUT };
enum reg_type { RT_U16, RT_S16, RT_U32, RT_S32, RT_U64, RT_S64, RT_FLOAT32, RT_FLOAT64 };
enum word_order { WO_ABCD, WO_CDAB, WO_BADC, WO_DCBA };

struct profile_register {
    char name[FOYER_ID_MAX + 1]; /* channel suffix: "energy_import" */
    enum reg_function function;
    uint16_t address; /* 0-based protocol address */
    enum reg_type type;
    enum word_order order; /* default ABCD (big-endian, high word first) */
    double scale;          /* value = raw * scale + offset; default 1 */
    double offset;         /* default 0 */
    enum quantity quantity;
    enum channel_kind kind;
    const char *unit;            /* stored unit after scale */
    double min_value, max_value; /* declared range; outside is refused */
    /* Counters: the index's step in unit; 0 = not set: the larger of the
     * unit's default and, for an integer type, the scale. */
    double resolution;
    struct conf_pos pos;
};

/* A meter model's register map, from PROFILES_DIR/NAME.conf. */
struct profile {
    char name[FOYER_ID_MAX + 1]; /* file name without .conf: "sdm630" */
    char *model;                 /* [profile] model = "Eastron SDM630" */
    struct profile_register *regs;
    size_t n_regs;
    char *path;
};

struct meter {
    char id[FOYER_ID_MAX + 1];
    uint32_t profile; /* index into cfg->profiles */
    uint32_t bus;     /* index into cfg->buses */
    int unit_id;      /* 1..247 */
    int32_t dwelling; /* or -1 */
    int32_t building;
    int interval_s;         /* poll interval, default 60 */
    uint32_t first_channel; /* its channels are [first_channel, +profile->n_regs) */
    bool submeter;          /* its channels are submeters (see struct channel) */
    struct conf_pos pos;
};

enum sensor_preset { PRESET_NONE, PRESET_ZIGBEE2MQTT, PRESET_TASMOTA, PRESET_SHELLY_GEN2 };

/* One field of a sensor payload mapped to a channel. */
struct sensor_field {
    char name[FOYER_ID_MAX + 1]; /* channel suffix: "temperature" */
    char *path;                  /* JSON path "ENERGY.Total", or "" for a bare number */
    enum quantity quantity;
    double scale; /* applied before storing: Wh->kWh 0.001, m³->L 1000 */
};

struct sensor {
    char id[FOYER_ID_MAX + 1];
    char *topic; /* MQTT topic filter, wildcards allowed */
    enum sensor_preset preset;
    struct sensor_field *fields; /* from the preset and channel.NAME keys */
    size_t n_fields;
    int32_t dwelling; /* or -1 */
    int32_t building;
    int interval_s;         /* expected interval between messages, default 300 */
    int stale_after;        /* missed intervals before stale, default 3 */
    char *timestamp_field;  /* JSON path of a timestamp, or NULL: receive time */
    uint32_t first_channel; /* its channels: [first_channel, +n_fields), or for a
                                   wildcard topic n_fields per listed device, device by
                                   device (DEVICE.FIELD) */
    bool submeter;          /* its channels are submeters (see struct channel) */
    struct conf_pos pos;
};

struct mqtt_conf {
    bool enabled;    /* an [mqtt] section exists */
    char *host;      /* default 127.0.0.1 */
    int port;        /* default 1883, 8883 with TLS */
    char *client_id; /* default "foyerd-<hostname>" (filled by the driver) */
    char *username;
    char *password_file;
    bool tls;
    char *ca_file;
    char *cert_file;
    char *key_file;
    bool tls_verify;      /* default true */
    int protocol;         /* 5 or 311; default 5, falls back to 311 */
    int keepalive_s;      /* default 60 */
    int session_expiry_s; /* default 86400 */
    int qos;              /* default 1 */
    struct conf_pos pos;
};

/* [uplink]: the central broker that foyerd publishes the building's figures
 * to (daemon/uplink/, the fleet protocol). */
struct uplink_conf {
    bool enabled;     /* an [uplink] section exists */
    char *host;       /* required */
    int port;         /* default 1883, 8883 with TLS */
    char *gateway_id; /* required, [A-Za-z0-9_-]{1,64}: the topic level and the key */
    char *client_id;  /* default "foyer-uplink-<gateway_id>" */
    char *username;
    char *password_file;
    bool tls;
    char *ca_file;
    char *cert_file;
    char *key_file;
    bool tls_verify;      /* default true */
    int protocol;         /* 5 or 311; default 5, falls back to 311 */
    int keepalive_s;      /* default 60 */
    int session_expiry_s; /* default 604800: acks sent while away still come */
    int ack_timeout_s;    /* an item not acked within it is sent again; default 60 */
    int max_in_flight;    /* items sent and not acked, at most; default 2000 */
    int batch_items;      /* items per message, at most; default 500 */
    int settle_s;         /* a period is sent this long after its end; default 900 */
    int device_every_s;   /* device health is queued at most this often; default 900 */
    struct conf_pos pos;
};

struct http_conf {
    bool enabled;
    char *listen;                    /* default 127.0.0.1 */
    int port;                        /* default 8080 */
    char *tokens_file;               /* obsolete (tokens live in the database): read, unused */
    char *web_dir;                   /* pages; default PREFIX/share/foyer/web */
    char *tls_cert;                  /* PEM certificate chain, or NULL: plain HTTP */
    char *tls_key;                   /* PEM private key (with tls_cert) */
    bool behind_proxy;               /* a reverse proxy on the gateway terminates TLS: listening
                                        elsewhere than loopback without TLS is allowed, and
                                        loopback clients are not trusted with /metrics */
    struct conf_pos tokens_file_pos; /* where the obsolete tokens_file key was (line 0:
                                        absent); foyerd warns: tokens are in the database */
    struct conf_pos pos;
};

struct push_endpoint {
    char id[FOYER_ID_MAX + 1]; /* "" for a bare [push] section */
    char *url;
    char *token_file;
    char *ca_file;
    bool tls_verify; /* default true */
    int timeout_s;   /* default 10 */
    int max_age_s;   /* undelivered items are given up after, default 7 days */
    bool insecure;   /* http:// or tls_verify = false allowed (warned at every start) */
    bool alerts;     /* also receives alerts, once per alert and state (daemon/alerts/);
                        default false */
    struct conf_pos pos;
};

/* [alerts]: the alert engine's thresholds (daemon/alerts/, foyer.conf(5)).
 * Every field has the issue's default when the section or key is absent. */
struct alerts_conf {
    bool present;             /* an [alerts] section exists (for the dump) */
    bool enabled;             /* enabled = yes (default) */
    int silent_grace_s;       /* device_silent: offline or stale longer, default 3600 */
    double leak_lph;          /* water_leak: litres in every night hour, default 2 */
    int leak_nights;          /* water_leak: nights in a row, default 2 */
    double cold_below_c;      /* cold_home: hourly indoor mean below, default 16 */
    int cold_hours;           /* cold_home: hours in a row, default 24 */
    int heating_from_md;      /* heating season: first day as MMDD, default 1001 */
    int heating_to_md;        /* heating season: last day as MMDD, default 520 */
    double damp_above_rh;     /* damp_home: hourly mean humidity above, default 70 */
    int damp_hours;           /* damp_home: hours in a row, default 72 */
    double damp_cold_below_c; /* damp_home is critical when the temperature of those
                                 hours averaged below this, default 18 (comfort line) */
    double co2_above_ppm;     /* stale_air: hourly mean above, default 1500 */
    int co2_nights;           /* stale_air: nights in a row, default 3 */
    double abnormal_factor;   /* abnormal_use: a day above factor x the usual, default 3 */
    int abnormal_min_days;    /* abnormal_use: days of the season needed first, default 14 */
    double vacant_heat_kwh;   /* vacant_use: heat or gas in a day above, default 1 kWh */
    double vacant_water_l;    /* vacant_use: water in a day above, default 20 L */
    int history_days;         /* how far back each run looks, default 35 */
    int hold_s;               /* clear this long before closing by itself, default 172800 */
    struct conf_pos pos;
};

/* [tariff ID]: a price for one quantity, valid over a range of local days. */
struct tariff {
    char id[FOYER_ID_MAX + 1];
    enum quantity quantity;
    double price_eur;              /* per price unit */
    const char *price_unit;        /* "kWh" or "m3" */
    double subscription_eur_month; /* fixed share per month, default 0 */
    int32_t valid_from_ymd;        /* first local day valid (YYYYMMDD), or 0 */
    int32_t valid_to_ymd;          /* last local day valid (YYYYMMDD), or 0 */
    int32_t building;              /* or -1: every building */
    struct conf_pos pos;
};

/* Degree-days, base 18 °C, from a day's outdoor minimum and maximum
 * (summary_dju() in coach.h). */
enum dju_method {
    DJU_METEO_FRANCE, /* max(0, 18 - (Tmin + Tmax) / 2) */
    DJU_COSTIC,       /* the heating engineers' method, for days straddling 18 °C */
};

struct foyer_config {
    /* [foyer] */
    char *database;                    /* default /var/lib/foyer/foyer.db */
    char *timezone;                    /* default Europe/Paris */
    char *profiles_dir;                /* default: "profiles" beside the main file */
    int raw_retention_days;            /* default 30 */
    int raw_retention_days_no_consent; /* default 7 */
    int erase_after_days;              /* an ended tenancy's data is erased this many days
                                          after its end; 0 never; default 92 */
    int batch_readings;                /* default FOYER_BATCH_READINGS */
    int batch_deadline_ms;             /* default FOYER_BATCH_DEADLINE_MS */
    char *log_level;                   /* error|warning|info|debug, default info */
    int future_tolerance_s;            /* further ahead of the clock: refused (limits.h) */
    int watchdog_s;                    /* unused when systemd gives WATCHDOG_USEC */
    enum dju_method dju_method;        /* degree-days of the summaries, default Météo-France */
    char summary_language[8];          /* "fr" (default) or "en": summaries foyerd pushes */
    int outbox_retention_days;         /* delivered outbox rows are deleted after, default 90 */

    struct building *buildings;
    size_t n_buildings;
    struct dwelling *dwellings;
    size_t n_dwellings;
    struct tenancy *tenancies;
    size_t n_tenancies;
    struct channel *channels;
    size_t n_channels;
    struct bus *buses;
    size_t n_buses;
    struct profile *profiles;
    size_t n_profiles;
    struct meter *meters;
    size_t n_meters;
    struct sensor *sensors;
    size_t n_sensors;
    struct push_endpoint *push;
    size_t n_push;
    struct tariff *tariffs;
    size_t n_tariffs;
    struct mqtt_conf mqtt;
    struct uplink_conf uplink;
    struct http_conf http;
    struct alerts_conf alerts;

    uint32_t *channel_order; /* channel indexes sorted by ID, for config_find_channel */

    char *main_file; /* path of the main config file */
    char **files;    /* every file read, for conf_pos.file */
    size_t n_files;
};

/* Collected problems, each formatted "FILE:LINE: message". */
struct conf_errors {
    char **msgs;
    size_t n;
};

/* Parse and check PATH.  On success returns a config (caller frees with
 * config_free()) and leaves errs empty.  On any problem returns NULL and
 * fills errs (caller frees with conf_errors_free()); never half-builds. */
struct foyer_config *config_load(const char *path, struct conf_errors *errs);
void config_free(struct foyer_config *cfg);
void conf_errors_free(struct conf_errors *errs);
/* Append "FILE:LINE: message" (line 0: "FILE: message") to errs, control
 * characters of the message written \xNN (it may quote any file's bytes).
 * Returns 0, or -ENOMEM (errs unchanged). */
int conf_errors_add(struct conf_errors *errs, const struct conf_pos *pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Open PATH for reading if it is a regular file, the way every config,
 * include, profile and language file is opened: a FIFO matched by an
 * include glob would block the load (and SIGTERM with it), a device would
 * never end, so they are refused before any read, and the open itself
 * never waits.  Returns 0 and *ret_f (caller fcloses), or -errno: -EISDIR
 * for a directory, -EINVAL for any other file that is not regular. */
int config_open_regular(const char *path, FILE **ret_f);

/* The secret in the first line of PATH (a password_file, a token_file), the
 * one way every part of foyerd reads one: opened by config_open_regular()
 * (a FIFO or a device is refused, never waited on), the line ending ("\n"
 * or "\r\n") removed and nothing else (a secret may hold blanks).  Returns
 * 0 with the secret in buf; -ENODATA when the first line is empty;
 * -EMSGSIZE when it does not fit in len - 1 bytes (never cut short);
 * -EIO on a read error; -ENOMEM; the open's -errno.  buf is untouched on
 * failure, and the copy made while reading is wiped. */
int conf_read_secret(const char *path, char *buf, size_t len);

/* An ID as every section, device, channel name, profile, tip and language
 * takes it: 1 to FOYER_ID_MAX ASCII letters, digits, "_" or "-". */
bool conf_id_valid(const char *s);

/* One INI reader for every file Foyer reads as INI: the config and its
 * includes, the meter profiles, the language files (summary_lang.c).  It
 * lexes, the caller gives the meaning.  The rules:
 *  - a line is at most FOYER_CONF_LINE_MAX characters before its newline; a
 *    longer one is reported and skipped, and the next lines still read;
 *  - a UTF-8 BOM opening the file is ignored, and so is white space at both
 *    ends of a line; an empty line, or one starting with ";" or "#", is a
 *    comment;
 *  - "[TYPE]" or "[TYPE ID]" starts a section; after the "]" only a comment
 *    may follow;
 *  - anything else is "KEY = VALUE" (or "KEY: VALUE"): the first "=" or ":"
 *    separates, KEY is not empty, a ";" after white space starts a comment,
 *    KEY and VALUE are trimmed.  VALUE may be empty; there are no quotes
 *    (a caller may take them off) and no value spans two lines.
 * Every problem is reported (not only the first), with its line.  The
 * reader keeps no state between calls: each call is independent, so a
 * handler may read another file from inside a call (includes). */
struct conf_ini_header {
    const char *type; /* the first word between the brackets, never empty */
    const char *id;   /* the second word, or NULL */
    bool extra;       /* more words follow: neither "[TYPE]" nor "[TYPE ID]" */
};

/* What conf_read_ini() calls, in the order of the lines.  POS names the file
 * as the caller did, and the line; the strings are borrowed for the call. */
struct conf_ini_handler {
    /* A section header.  Return false to refuse it (after reporting why):
     * the keys up to the next header are then skipped. */
    bool (*section)(void *ctx, const struct conf_ini_header *hdr, const struct conf_pos *pos);
    /* A key line, whether or not a section has started. */
    void (*key)(void *ctx, const char *key, const char *value, const struct conf_pos *pos);
    /* A problem found by the reader: MSG is to be shown after "FILE:LINE: "
     * (line 0: the file itself, e.g. "cannot open: ..."). */
    void (*error)(void *ctx, const struct conf_pos *pos, const char *msg);
};

/* Read PATH, opened with config_open_regular() (a failure is reported to
 * h->error as "cannot open: WHY", line 0).  Returns 0, the open's -errno, or
 * -EIO after a read error (reported, with the line it stopped at). */
int conf_read_ini(const char *path, const struct conf_ini_handler *h, void *ctx);
/* The same on an open stream F, named PATH in POS; F is not closed. */
int conf_read_ini_file(FILE *f, const char *path, const struct conf_ini_handler *h, void *ctx);

/* Print the normalised config (every section and key with its effective
 * value, defaults filled in, in a stable order) for `--check-config -v`. */
void config_dump(const struct foyer_config *cfg, FILE *out);

/* "3 buildings, 12 dwellings, 40 channels, ..." (one line, no newline). */
void config_summary(const struct foyer_config *cfg, char *buf, size_t len);

/* Index of the channel with this ID, or -1.  O(log n). */
int32_t config_find_channel(const struct foyer_config *cfg, const char *id);
int32_t config_find_dwelling(const struct foyer_config *cfg, const char *id);
int32_t config_find_building(const struct foyer_config *cfg, const char *id);

const char *quantity_name(enum quantity q);
const char *kind_name(enum channel_kind k);
const char *heating_name(enum heating h);
/* Default kind and stored unit of a quantity. */
enum channel_kind quantity_kind(enum quantity q);
const char *quantity_unit(enum quantity q);

/* Text helpers shared with the CSV import (daemon/ctl/ctl_import.c), which
 * reads operators' files the same careful way. */
/* S without its leading and trailing white space (in place). */
char *conf_trim(char *s);
/* Length of the well-formed UTF-8 sequence at s (1 to 4 bytes; no overlong
 * form, surrogate or code point past U+10FFFF), its code point in *ret_cp;
 * 0 when the bytes there are not one. */
size_t conf_utf8_char(const unsigned char *s, uint32_t *ret_cp);
/* C0, DEL or C1: never echoed raw in a message. */
bool conf_is_control(uint32_t cp);

#endif
