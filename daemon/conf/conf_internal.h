/*
 * conf_internal.h - what the files of daemon/conf/ share, and nothing else
 * includes (the public interface is include/foyer/config.h).
 *
 * A load goes: conf_read.c reads the files into raw sections (struct
 * conf_sec: a type, an ID, keys with their positions), collecting every
 * problem in struct conf_parser; conf_build.c groups them by type and,
 * with conf_value.c for each typed value and conf_build_devices.c for the
 * buses, profiles, meters, sensors and channels, builds struct
 * foyer_config; conf_dump.c prints a built config.  Problems are collected
 * with conf_err() (never logged) and handed to the caller sorted by
 * position.
 *
 * Naming: everything shared here starts with conf_ (types, functions,
 * tables), SEC_ for section types; what one file keeps to itself is static.
 */
#ifndef FOYER_CONF_INTERNAL_H
#define FOYER_CONF_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "foyer/config.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* ---- the schema (conf_build.c) ------------------------------------------ */

/* Section types: the config's, then the profiles' ([profile], [register]). */
enum conf_sec_type {
    SEC_FOYER,
    SEC_BUILDING,
    SEC_DWELLING,
    SEC_TENANCY,
    SEC_CHANNEL,
    SEC_BUS,
    SEC_METER,
    SEC_SENSOR,
    SEC_MQTT,
    SEC_UPLINK,
    SEC_HTTP,
    SEC_PUSH,
    SEC_TARIFF,
    SEC_ALERTS,
    SEC_PROFILE,  /* profile files only */
    SEC_REGISTER, /* profile files only */
    SEC_COUNT_
};

enum conf_id_rule { SEC_ID_NONE, SEC_ID_REQUIRED, SEC_ID_OPTIONAL };

/* A section type: its name, whether it takes an ID, its keys (the reader
 * refuses any other, but a sensor's channel.NAME and device.NAME). */
struct conf_sec_def {
    const char *name;
    enum conf_id_rule id_rule;
    const char *const *keys; /* NULL-terminated */
    bool profile_file;       /* only in profile files */
};

extern const struct conf_sec_def conf_sec_defs[SEC_COUNT_];

/* A quantity's kind, unit and defaults (its name: conf_quantity_names). */
struct conf_qinfo {
    enum channel_kind kind;
    const char *unit;
    double rate_dwelling; /* counters: default max_rate, unit/h, dwelling level */
    double rate_building; /* ... building level */
    double min, max;      /* default accepted range */
    double resolution;    /* counters: default index resolution, unit (0.01 kWh: the
                             last digit of an electricity, heat or gas meter; 1 L: a
                             water meter's litre wheel or pulse) */
};

extern const struct conf_qinfo conf_qinfo[Q_COUNT_];

/* Value names, indexed by their enum (config.h): read by the builders,
 * written by the dump. */
extern const char *const conf_quantity_names[Q_COUNT_];
extern const char *const conf_kind_names[2];
extern const char *const conf_bus_type_names[2];
extern const char *const conf_parity_names[3];
extern const char *const conf_function_names[2];
extern const char *const conf_reg_type_names[8];
extern const char *const conf_word_order_names[4];
extern const char *const conf_preset_names[4];

/* ---- raw sections and the load's state (conf_read.c) -------------------- */

struct conf_key {
    char *name;
    char *value;
    struct conf_pos pos;
};

struct conf_sec {
    enum conf_sec_type type;
    char id[FOYER_ID_MAX + 1];
    struct conf_pos pos;
    size_t seq;   /* reading order, for "first defined at" */
    bool dup;     /* a later duplicate: reported, not built */
    uint32_t ent; /* index of the built entity in its cfg array */
    struct conf_key *keys;
    size_t n_keys, cap_keys;
};

struct conf_secs {
    struct conf_sec **v;
    size_t n, cap;
};

struct conf_perr;      /* a collected problem (conf_read.c) */
struct conf_seen_file; /* a file read in this load (conf_read.c) */

/* A loaded (or failed) profile, by name, so each file is read once. */
struct conf_pcache {
    char name[FOYER_ID_MAX + 1];
    int32_t idx; /* index in cfg->profiles, or -1 when it failed */
    int err;     /* errno of the open when the file could not be read */
};

/* The state of one config_load(). */
struct conf_parser {
    struct foyer_config *cfg;
    struct conf_seen_file *seen;
    size_t n_seen, cap_seen;
    struct conf_perr *errs;
    size_t n_errs, cap_errs;
    bool oom;
    char *main_dir;
    struct conf_pcache *pc;
    size_t n_pc;
    size_t seq;
    size_t cap_files; /* allocated length of cfg->files */
};

/* Allocation that records a failure in p->oom (reported once, at the end). */
void *conf_calloc(struct conf_parser *p, size_t n, size_t size);
char *conf_strdup(struct conf_parser *p, const char *s);
/* Grow *v (of *cap elements of size) to hold at least n + 1. */
bool conf_grow(struct conf_parser *p, void **v, size_t *cap, size_t n, size_t size);

/* Collect a problem at POS, to be handed over sorted by position. */
void conf_err(struct conf_parser *p, const struct conf_pos *pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Hand p's problems to errs as "FILE:LINE: message", sorted by (file in
 * reading order, line, discovery order); false when out of memory. */
bool conf_errs_take(struct conf_parser *p, struct conf_errors *errs);

/* Keep one copy of each file path in cfg->files; conf_pos.file points at it. */
const char *conf_intern_file(struct conf_parser *p, const char *path);
/* Directory part of a path: "." for a bare file name.  Caller frees. */
char *conf_dir_of(struct conf_parser *p, const char *path);
/* DIR/REL, or REL when absolute or when DIR is ".".  Caller frees. */
char *conf_path_join(struct conf_parser *p, const char *dir, const char *rel);
/* The text for a config_open_regular() error. */
const char *conf_open_strerror(int err);

/* "[type id]" for messages, in buf of at least CONF_LABEL_MAX bytes. */
#define CONF_LABEL_MAX (FOYER_ID_MAX + 16)
const char *conf_sec_label(const struct conf_sec *s, char *buf, size_t len);

/* Read PATH (a config file, or a profile when profile_file) into OUT,
 * expanding includes.  FROM is the include or meter profile line that named
 * it, NULL for the main file; problems go to p. */
void conf_read_file(struct conf_parser *p, struct conf_secs *out, bool profile_file,
                    const char *path, const struct conf_pos *from);
void conf_secs_free(struct conf_secs *r);

/* ---- typed values (conf_value.c) ---------------------------------------- */

/* The key NAME of section s, or NULL. */
const struct conf_key *conf_get(const struct conf_sec *s, const char *name);
/* The same, reporting a missing key at the section's header. */
const struct conf_key *conf_require(struct conf_parser *p, const struct conf_sec *s,
                                    const char *name);
/* 'bad value "V" for "K" in [type id] (expected EXPECTED)' at the key. */
void conf_bad_value(struct conf_parser *p, const struct conf_sec *s, const struct conf_key *k,
                    const char *expected);

bool conf_parse_ll(const char *v, bool hex_ok, long long *ret);
bool conf_parse_num(const char *v, double *ret);
int conf_find_name(const char *const *names, size_t n, const char *v);
void conf_expected_list(const char *const *names, size_t n, char *buf, size_t len);

/* The conf_get_* read key NAME of s when it is set: true and *ret set when
 * it is valid, false after reporting it; true with *ret untouched (the
 * default) when the key is not set. */
enum conf_num_rule { CONF_NUM_ANY, CONF_NUM_POSITIVE, CONF_NUM_NONNEG, CONF_NUM_NONZERO };
bool conf_get_int(struct conf_parser *p, const struct conf_sec *s, const char *name, long long min,
                  long long max, int *ret);
bool conf_get_num(struct conf_parser *p, const struct conf_sec *s, const char *name,
                  enum conf_num_rule rule, double *ret);
bool conf_get_bool(struct conf_parser *p, const struct conf_sec *s, const char *name, bool *ret);
bool conf_get_enum(struct conf_parser *p, const struct conf_sec *s, const char *name,
                   const char *const *names, size_t n, int *ret);
/* A copy of the value (*ret freed and replaced). */
bool conf_get_str(struct conf_parser *p, const struct conf_sec *s, const char *name, char **ret);
/* A path: relative to the main file's directory (*ret freed and replaced). */
bool conf_get_path(struct conf_parser *p, const struct conf_sec *s, const char *name, char **ret);
/* A calendar day "YYYY-MM-DD" as YYYYMMDD. */
bool conf_get_date(struct conf_parser *p, const struct conf_sec *s, const char *name, int32_t *ret);

/* Shortest "%.Ng" that reads back as the same double. */
const char *conf_fmt_num(double v, char *buf, size_t len);
/* YYYYMMDD as "YYYY-MM-DD". */
const char *conf_fmt_date(int32_t ymd, char *buf, size_t len);

bool conf_json_path_valid(const char *v);
bool conf_mqtt_string_valid(const char *v);
bool conf_topic_valid(const char *t);
/* Report at K a file foyerd reads at its start that is missing or not a
 * regular file. */
void conf_file_check(struct conf_parser *p, const struct conf_key *k, const char *path,
                     const char *what);

/* ---- building (conf_build.c, conf_build_devices.c) ----------------------- */

/* The sections of one type: file order, and sorted by ID for lookups. */
struct conf_group {
    struct conf_sec **v; /* file order, duplicates removed */
    size_t n;
    struct conf_sec **sorted; /* by ID, for lookups */
};

/* Group ALL's sections of type t into g, reporting duplicate IDs. */
void conf_group_build(struct conf_parser *p, const struct conf_secs *all, enum conf_sec_type t,
                      struct conf_group *g);
/* Index of ID's entity in its cfg array, or -1. */
int32_t conf_group_find(const struct conf_group *g, const char *id);
void conf_group_free(struct conf_group *g);

struct conf_sensor_dev; /* a wildcard sensor's device (conf_build_devices.c) */

/* The state of building one config. */
struct conf_build {
    struct conf_parser *p;
    struct conf_group g[SEC_COUNT_];
    int32_t *meter_profile_ok;            /* per meter: 1 when its profile loaded */
    struct conf_sensor_dev **sensor_devs; /* per sensor: its devices, NULL if no wildcard */
    size_t *n_sensor_devs;                /* per sensor: how many; 0 if no wildcard */
};

/* Build the buses, the meters with their profiles, the sensors, then every
 * channel and the channel index (after the places: they refer to them). */
void conf_build_devices(struct conf_build *b);
/* Free what conf_build_devices() kept for the building only. */
void conf_build_devices_done(struct conf_build *b);

#endif
