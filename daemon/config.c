/*
 * config.c - read, check and build the daemon's configuration.
 *
 * DESIGN
 *
 * Loading runs in two phases, so that every problem is found in one pass and
 * nothing is half-built:
 *
 *  1. Reading.  Each file is read by conf_read_ini_file(), Foyer's one INI
 *     reader (the language files use it too): it counts lines, reports
 *     every syntax problem and over-long line with its FILE:LINE rather than
 *     stopping at the first, and hands over each section header, so that an
 *     empty section ("[building b2]" with no key) still exists and
 *     duplicates are seen.  The raw handlers below turn what it hands over
 *     into a flat list of raw sections (struct rsec) with their keys and
 *     positions, refusing unknown section types and keys.  `include = GLOB`
 *     lines are expanded where they appear: the included files' sections
 *     are appended, and after the include the including file's current
 *     section goes on.
 *
 *  2. Building.  Raw sections are grouped by type, duplicate IDs are
 *     reported, and each type is turned into its struct in a fixed order
 *     (foyer, buildings, dwellings, tenancies, buses, meters with their
 *     profiles, sensors, channels, mqtt, http, push, tariffs), resolving
 *     references through sorted ID indexes.  Channels are laid out as: the
 *     [channel] sections in file order, then each meter's channels (one per
 *     profile register, contiguous at meter->first_channel), then each
 *     sensor's channels (one per field, contiguous at sensor->first_channel).
 *
 * Errors are collected with their file and line, sorted by (file in reading
 * order, line, discovery order) and handed to the caller as "FILE:LINE: msg".
 * If there is any, the whole config is freed and config_load returns NULL.
 *
 * Profiles (PROFILES_DIR/NAME.conf) use the same reader with their own
 * section types ([profile], [register NAME]) and no include.
 *
 * Paths given in the config (database, profiles_dir, *_file, web_dir) are
 * relative to the main config file's directory when they are not absolute.
 *
 * Whatever foyerd would refuse when it starts is checked here too, with the
 * key's FILE:LINE (systemd runs --check-config before the start, and a
 * config it passes must start): the zone through tu_zone_check(), the
 * function foyerd's start uses; the database path; what libmodbus and
 * libmosquitto refuse; the files foyerd reads at its start.  Every file is
 * opened through config_open_regular(), so a FIFO matched by an include
 * never blocks a load.  Messages have control characters written \xNN.
 *
 * No global state is touched. This module never logs.
 */
#include "foyer/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "foyer/timeutil.h"

#ifndef FOYER_WEBDIR
#define FOYER_WEBDIR "/usr/share/foyer/web"
#endif

/* ---------------------------------------------------------------------- */
/* Names and per-quantity defaults                                         */

struct qinfo {
    const char *name;
    enum channel_kind kind;
    const char *unit;
    double rate_dwelling; /* counters: default max_rate, unit/h, dwelling level */
    double rate_building; /* ... building level */
    double min, max;      /* default accepted range */
    double resolution;    /* counters: default index resolution, unit (0.01 kWh: the
                             last digit of an electricity, heat or gas meter; 1 L: a
                             water meter's litre wheel or pulse) */
};

static const struct qinfo qinfo[Q_COUNT_] = {
    [Q_ELECTRICITY] = {"electricity", KIND_COUNTER, "kWh", 36, 2000, 0, 1e15, 0.01},
    [Q_HEAT] = {"heat", KIND_COUNTER, "kWh", 30, 3000, 0, 1e15, 0.01},
    [Q_GAS] = {"gas", KIND_COUNTER, "kWh", 40, 4000, 0, 1e15, 0.01},
    [Q_HOT_WATER] = {"hot_water", KIND_COUNTER, "L", 1500, 100000, 0, 1e15, 1},
    [Q_COLD_WATER] = {"cold_water", KIND_COUNTER, "L", 3000, 200000, 0, 1e15, 1},
    [Q_POWER] = {"power", KIND_GAUGE, "W", 0, 0, -1e6, 1e6, 0},
    [Q_TEMPERATURE] = {"temperature", KIND_GAUGE, "\u00b0C", 0, 0, -40, 85, 0},
    [Q_HUMIDITY] = {"humidity", KIND_GAUGE, "%RH", 0, 0, 0, 100, 0},
    [Q_CO2] = {"co2", KIND_GAUGE, "ppm", 0, 0, 0, 40000, 0},
    [Q_OUTDOOR_TEMPERATURE] = {"outdoor_temperature", KIND_GAUGE, "\u00b0C", 0, 0, -60, 60, 0},
    [Q_VOLTAGE] = {"voltage", KIND_GAUGE, "V", 0, 0, 0, 1000, 0},
    [Q_CURRENT] = {"current", KIND_GAUGE, "A", 0, 0, 0, 10000, 0},
};

static const char *const quantity_names[Q_COUNT_] = {
    "electricity", "heat",     "gas", "hot_water",           "cold_water", "power",
    "temperature", "humidity", "co2", "outdoor_temperature", "voltage",    "current",
};
static const char *const kind_names[] = {"counter", "gauge"};
static const char *const heating_names[HEATING_COUNT_] = {
    "electric", "gas", "district", "collective", "heat-pump",
};
static const char *const bus_type_names[] = {"tcp", "rtu"};
static const char *const parity_names[] = {"none", "even", "odd"};
static const char *const function_names[] = {"holding", "input"};
static const char *const reg_type_names[] = {"u16", "s16", "u32",     "s32",
                                             "u64", "s64", "float32", "float64"};
static const char *const word_order_names[] = {"ABCD", "CDAB", "BADC", "DCBA"};
static const char *const preset_names[] = {"none", "zigbee2mqtt", "tasmota", "shelly-gen2"};
static const char *const log_level_names[] = {"error", "warning", "info", "debug"};
static const char *const price_unit_names[] = {"kWh", "m3"};

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

const char *quantity_name(enum quantity q)
{
    return (unsigned)q < Q_COUNT_ ? quantity_names[q] : "?";
}

const char *kind_name(enum channel_kind k)
{
    return (unsigned)k < N_ELEMS(kind_names) ? kind_names[k] : "?";
}

const char *heating_name(enum heating h)
{
    return (unsigned)h < HEATING_COUNT_ ? heating_names[h] : "?";
}

enum channel_kind quantity_kind(enum quantity q)
{
    return (unsigned)q < Q_COUNT_ ? qinfo[q].kind : KIND_GAUGE;
}

const char *quantity_unit(enum quantity q)
{
    return (unsigned)q < Q_COUNT_ ? qinfo[q].unit : "?";
}

/* Preset payload mappings. */
struct preset_field {
    const char *name;
    const char *path;
    enum quantity quantity;
    double scale;
};

static const struct preset_field preset_z2m[] = {
    {"temperature", "temperature", Q_TEMPERATURE, 1},
    {"humidity", "humidity", Q_HUMIDITY, 1},
    {"co2", "co2", Q_CO2, 1},
    {"energy", "energy", Q_ELECTRICITY, 1},
    {"power", "power", Q_POWER, 1},
};
static const struct preset_field preset_tasmota[] = {
    {"energy", "ENERGY.Total", Q_ELECTRICITY, 1},
    {"power", "ENERGY.Power", Q_POWER, 1},
};
static const struct preset_field preset_shelly2[] = {
    {"energy", "aenergy.total", Q_ELECTRICITY, 0.001},
    {"power", "apower", Q_POWER, 1},
};

static const struct {
    const struct preset_field *fields;
    size_t n;
} presets[] = {
    [PRESET_NONE] = {NULL, 0},
    [PRESET_ZIGBEE2MQTT] = {preset_z2m, N_ELEMS(preset_z2m)},
    [PRESET_TASMOTA] = {preset_tasmota, N_ELEMS(preset_tasmota)},
    [PRESET_SHELLY_GEN2] = {preset_shelly2, N_ELEMS(preset_shelly2)},
};

/* ---------------------------------------------------------------------- */
/* Section types and their keys                                            */

enum sec_type {
    ST_FOYER,
    ST_BUILDING,
    ST_DWELLING,
    ST_TENANCY,
    ST_CHANNEL,
    ST_BUS,
    ST_METER,
    ST_SENSOR,
    ST_MQTT,
    ST_HTTP,
    ST_PUSH,
    ST_TARIFF,
    ST_PROFILE,  /* profile files only */
    ST_REGISTER, /* profile files only */
    ST_COUNT_
};

enum id_rule { ID_NONE, ID_REQUIRED, ID_OPTIONAL };

static const char *const keys_foyer[] = {
    "database",
    "timezone",
    "profiles_dir",
    "raw_retention_days",
    "raw_retention_days_no_consent",
    "batch_readings",
    "batch_deadline_ms",
    "log_level",
    "future_tolerance_s",
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
static const char *const keys_http[] = {"listen", "port", "tokens_file", "web_dir", NULL};
static const char *const keys_push[] = {"url",     "token_file", "ca_file", "tls_verify",
                                        "timeout", "max_age",    NULL};
static const char *const keys_tariff[] = {
    "quantity",   "price",    "price_unit", "subscription_eur_month",
    "valid_from", "valid_to", "building",   NULL};
static const char *const keys_profile[] = {"model", NULL};
static const char *const keys_register[] = {"function", "address",    "type", "word_order", "scale",
                                            "offset",   "quantity",   "kind", "unit",       "min",
                                            "max",      "resolution", NULL};

static const struct sec_def {
    const char *name;
    enum id_rule id_rule;
    const char *const *keys;
    bool profile_file; /* only in profile files */
} sec_defs[ST_COUNT_] = {
    [ST_FOYER] = {"foyer", ID_NONE, keys_foyer, false},
    [ST_BUILDING] = {"building", ID_REQUIRED, keys_building, false},
    [ST_DWELLING] = {"dwelling", ID_REQUIRED, keys_dwelling, false},
    [ST_TENANCY] = {"tenancy", ID_REQUIRED, keys_tenancy, false},
    [ST_CHANNEL] = {"channel", ID_REQUIRED, keys_channel, false},
    [ST_BUS] = {"bus", ID_REQUIRED, keys_bus, false},
    [ST_METER] = {"meter", ID_REQUIRED, keys_meter, false},
    [ST_SENSOR] = {"sensor", ID_REQUIRED, keys_sensor, false},
    [ST_MQTT] = {"mqtt", ID_NONE, keys_mqtt, false},
    [ST_HTTP] = {"http", ID_NONE, keys_http, false},
    [ST_PUSH] = {"push", ID_OPTIONAL, keys_push, false},
    [ST_TARIFF] = {"tariff", ID_REQUIRED, keys_tariff, false},
    [ST_PROFILE] = {"profile", ID_NONE, keys_profile, true},
    [ST_REGISTER] = {"register", ID_REQUIRED, keys_register, true},
};

/* ---------------------------------------------------------------------- */
/* Raw sections, parser state and errors                                   */

struct rkey {
    char *name;
    char *value;
    struct conf_pos pos;
};

struct rsec {
    enum sec_type type;
    char id[FOYER_ID_MAX + 1];
    struct conf_pos pos;
    size_t seq;   /* reading order, for "first defined at" */
    bool dup;     /* a later duplicate: reported, not built */
    uint32_t ent; /* index of the built entity in its cfg array */
    struct rkey *keys;
    size_t n_keys, cap_keys;
};

struct rsecs {
    struct rsec **v;
    size_t n, cap;
};

struct perr {
    uint32_t file; /* index in cfg->files, for sorting */
    int line;
    size_t seq;
    char *msg;
};

/* A loaded (or failed) profile, by name, so each file is read once. */
struct pcache {
    char name[FOYER_ID_MAX + 1];
    int32_t idx; /* index in cfg->profiles, or -1 when it failed */
    int err;     /* errno of the open when the file could not be read */
};

/* A file already read in this load (each is read at most once, so that
 * includes cannot multiply the work). */
struct seen_file {
    dev_t dev;
    ino_t ino;
    const char *path;
};

struct parser {
    struct foyer_config *cfg;
    struct seen_file *seen;
    size_t n_seen, cap_seen;
    struct perr *errs;
    size_t n_errs, cap_errs;
    bool oom;
    char *main_dir;
    struct pcache *pc;
    size_t n_pc;
    size_t seq;
    size_t cap_files; /* allocated length of cfg->files */
};

/* Reading state of one config or profile file: the context of the raw
 * handlers (raw_section, raw_key) while conf_read_ini_file() reads it. */
struct pfile {
    const struct pfile *parent; /* the file that included it, or NULL */
    dev_t dev;                  /* to see include loops */
    ino_t ino;
    struct parser *p;
    struct rsecs *out;
    bool profile_file;
    FILE *f;
    const char *path; /* interned */
    int depth;
    long cur; /* index into out->v of the current section, or CUR_NONE */
};

#define CUR_NONE (-1L) /* before any section */

static void *p_calloc(struct parser *p, size_t n, size_t size)
{
    void *v = calloc(n ? n : 1, size);
    if (!v)
        p->oom = true;
    return v;
}

static char *p_strdup(struct parser *p, const char *s)
{
    char *d;
    if (!s)
        return NULL;
    d = strdup(s);
    if (!d)
        p->oom = true;
    return d;
}

/* Grow *v (of *cap elements of size) to hold at least n + 1. */
static bool p_grow(struct parser *p, void **v, size_t *cap, size_t n, size_t size)
{
    size_t ncap;
    void *nv;
    if (n < *cap)
        return true;
    ncap = *cap ? *cap * 2 : 8;
    nv = reallocarray(*v, ncap, size);
    if (!nv) {
        p->oom = true;
        return false;
    }
    *v = nv;
    *cap = ncap;
    return true;
}

static uint32_t file_index(const struct parser *p, const char *file)
{
    for (size_t i = 0; i < p->cfg->n_files; i++)
        if (p->cfg->files[i] == file)
            return (uint32_t)i;
    return 0;
}

/* Length of the well-formed UTF-8 sequence at s (1 to 4 bytes; no
 * overlong form, surrogate or code point past U+10FFFF), its code point in
 * *ret_cp; 0 when the bytes there are not one. */
static size_t utf8_char(const unsigned char *s, uint32_t *ret_cp)
{
    uint32_t cp;
    size_t n;
    if (*s < 0x80) {
        *ret_cp = *s;
        return 1;
    }
    if (*s >= 0xC2 && *s <= 0xDF) {
        n = 2;
        cp = *s & 0x1Fu;
    } else if ((*s & 0xF0) == 0xE0) {
        n = 3;
        cp = *s & 0x0Fu;
    } else if (*s >= 0xF0 && *s <= 0xF4) {
        n = 4;
        cp = *s & 0x07u;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3Fu);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    *ret_cp = cp;
    return n;
}

static bool is_control(uint32_t cp)
{
    return cp <= 0x1F || (cp >= 0x7F && cp <= 0x9F);
}

/* MSG with control characters and bytes that are not UTF-8 written \xNN:
 * messages quote config values, and an include may read any file, so a
 * message must not drive the terminal it is shown on.  Caller frees. */
static char *escape_controls(const char *msg)
{
    const unsigned char *s = (const unsigned char *)msg;
    char *out = malloc(strlen(msg) * 4 + 1), *o = out;
    if (!out)
        return NULL;
    while (*s) {
        uint32_t cp = 0;
        size_t n = utf8_char(s, &cp);
        if (n == 0 || is_control(cp)) {
            (void)sprintf(o, "\\x%02X", (unsigned)*s++);
            o += 4;
        } else {
            memcpy(o, s, n);
            o += n;
            s += n;
        }
    }
    *o = '\0';
    return out;
}

/* "FILE:LINE: MSG" (or "FILE: MSG" for line 0) with MSG's control
 * characters escaped, or NULL when out of memory.  Caller frees. */
static char *format_err(const struct conf_pos *pos, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
static char *format_err(const struct conf_pos *pos, const char *fmt, va_list ap)
{
    char *raw = NULL, *body, *msg = NULL;
    int r;

    if (vasprintf(&raw, fmt, ap) < 0)
        return NULL;
    body = escape_controls(raw);
    free(raw);
    if (!body)
        return NULL;
    if (pos->line > 0)
        r = asprintf(&msg, "%s:%d: %s", pos->file, pos->line, body);
    else
        r = asprintf(&msg, "%s: %s", pos->file, body);
    free(body);
    return r < 0 ? NULL : msg;
}

int conf_errors_add(struct conf_errors *errs, const struct conf_pos *pos, const char *fmt, ...)
{
    va_list ap;
    char *msg, **grown;

    va_start(ap, fmt);
    msg = format_err(pos, fmt, ap);
    va_end(ap);
    if (!msg)
        return -ENOMEM;
    grown = reallocarray(errs->msgs, errs->n + 1, sizeof(*grown));
    if (!grown) {
        free(msg);
        return -ENOMEM;
    }
    errs->msgs = grown;
    errs->msgs[errs->n++] = msg;
    return 0;
}

/* Collect a problem of this load, to be sorted by position at the end. */
__attribute__((format(printf, 3, 4))) static void
add_err(struct parser *p, const struct conf_pos *pos, const char *fmt, ...)
{
    va_list ap;
    char *msg;

    va_start(ap, fmt);
    msg = format_err(pos, fmt, ap);
    va_end(ap);
    if (!msg) {
        p->oom = true;
        return;
    }
    if (!p_grow(p, (void **)&p->errs, &p->cap_errs, p->n_errs, sizeof(*p->errs))) {
        free(msg);
        return;
    }
    p->errs[p->n_errs] = (struct perr){file_index(p, pos->file), pos->line, p->n_errs, msg};
    p->n_errs++;
}

/* Keep one copy of each file path; conf_pos.file points at it. */
static const char *intern_file(struct parser *p, const char *path)
{
    struct foyer_config *cfg = p->cfg;
    char *d;

    for (size_t i = 0; i < cfg->n_files; i++)
        if (strcmp(cfg->files[i], path) == 0)
            return cfg->files[i];
    d = p_strdup(p, path);
    if (!d)
        return NULL;
    if (!p_grow(p, (void **)&cfg->files, &p->cap_files, cfg->n_files, sizeof(*cfg->files))) {
        free(d);
        return NULL;
    }
    cfg->files[cfg->n_files++] = d;
    return d;
}

/* ---------------------------------------------------------------------- */
/* Small helpers                                                           */

bool conf_id_valid(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];
        if (!(isalnum(c) || c == '_' || c == '-') || c >= 0x80)
            return false;
    }
    return n >= 1 && n <= FOYER_ID_MAX;
}

static char *trim(char *s)
{
    char *e;
    while (*s == ' ' || *s == '\t')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
        *--e = '\0';
    return s;
}

/* Directory part of a path: "." for a bare file name. Caller frees. */
static char *dir_of(struct parser *p, const char *path)
{
    const char *slash = strrchr(path, '/');
    char *d;
    if (!slash)
        return p_strdup(p, ".");
    if (slash == path)
        return p_strdup(p, "/");
    d = strndup(path, (size_t)(slash - path));
    if (!d)
        p->oom = true;
    return d;
}

/* DIR/REL, or REL when absolute or when DIR is ".". Caller frees. */
static char *path_join(struct parser *p, const char *dir, const char *rel)
{
    char *r = NULL;
    if (rel[0] == '/' || strcmp(dir, ".") == 0)
        return p_strdup(p, rel);
    if (asprintf(&r, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", rel) < 0) {
        p->oom = true;
        return NULL;
    }
    return r;
}

/* The same, with glob metacharacters of DIR escaped. */
static char *glob_join(struct parser *p, const char *dir, const char *pattern)
{
    char *esc, *o, *r;
    if (pattern[0] == '/' || strcmp(dir, ".") == 0)
        return p_strdup(p, pattern);
    esc = p_calloc(p, strlen(dir) * 2 + 1, 1);
    if (!esc)
        return NULL;
    o = esc;
    for (const char *s = dir; *s; s++) {
        if (strchr("*?[]\\", *s))
            *o++ = '\\';
        *o++ = *s;
    }
    *o = '\0';
    r = path_join(p, esc, pattern);
    free(esc);
    return r;
}

/* Shortest "%.Ng" that reads back as the same double: stable and short. */
static const char *fmt_num(double v, char *buf, size_t len)
{
    for (int prec = 15; prec <= 17; prec++) {
        int r = snprintf(buf, len, "%.*g", prec, v);
        if (r < 0 || (size_t)r >= len) {
            if (len)
                buf[0] = '\0';
            return buf;
        }
        if (strtod(buf, NULL) == v)
            break;
    }
    return buf;
}

static const char *sec_label(const struct rsec *s, char *buf, size_t len)
{
    int r;
    if (s->id[0])
        r = snprintf(buf, len, "[%s %s]", sec_defs[s->type].name, s->id);
    else
        r = snprintf(buf, len, "[%s]", sec_defs[s->type].name);
    if (r < 0 || (size_t)r >= len)
        buf[0] = '\0';
    return buf;
}

#define LABEL_MAX (FOYER_ID_MAX + 16)

int config_open_regular(const char *path, FILE **ret_f)
{
    struct stat st;
    FILE *f;
    int fd, e;

    /* stat first, so that a device is never even opened (opening a tape or
     * a modem line acts on it); fstat after the open, against a swap. */
    if (stat(path, &st) < 0)
        return -errno;
    if (!S_ISREG(st.st_mode))
        return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
    fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    e = fstat(fd, &st) < 0    ? errno
        : S_ISREG(st.st_mode) ? 0
        : S_ISDIR(st.st_mode) ? EISDIR
                              : EINVAL;
    if (e) {
        close(fd);
        return -e;
    }
    f = fdopen(fd, "r");
    if (!f) {
        e = errno;
        close(fd);
        return -e;
    }
    *ret_f = f;
    return 0;
}

/* The text for a config_open_regular() error. */
static const char *open_strerror(int err)
{
    if (err == -EINVAL)
        return "not a regular file (a FIFO, socket or device)";
    return strerror(-err);
}

/* ---------------------------------------------------------------------- */
/* Reading files                                                           */

/* Reading state of one INI file (conf_read_ini_file). */
struct ini_file {
    FILE *f;
    struct conf_pos pos; /* the file as the caller names it, the current line */
    const struct conf_ini_handler *h;
    void *ctx;
    bool skip; /* after a refused header: keys ignored up to the next one */
};

static void ini_err(struct ini_file *in, const char *msg)
{
    in->h->error(in->ctx, &in->pos, msg);
}

static char *ini_lskip(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    return s;
}

static void ini_rstrip(char *s)
{
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
}

/* The first of CHARS in s, or a ';' after white space (an inline comment),
 * or the end of s. */
static char *ini_find(char *s, const char *chars)
{
    bool was_space = false;
    for (; *s; s++) {
        if (chars && strchr(chars, *s))
            break;
        if (was_space && *s == ';')
            break;
        was_space = isspace((unsigned char)*s) != 0;
    }
    return s;
}

/* A "[...]" line, s at the '[' and stripped: the header's words, or the
 * problem.  A refused header makes the keys up to the next one skipped. */
static void ini_header(struct ini_file *in, char *s)
{
    char *close = strchr(s, ']'), *after, *save = NULL;
    struct conf_ini_header hdr = {0};

    in->skip = true;
    if (!close) {
        ini_err(in, "syntax error: missing \"]\" in section header");
        return;
    }
    after = ini_lskip(close + 1);
    if (*after && *after != ';' && *after != '#') {
        ini_err(in, "syntax error: text after section header");
        return;
    }
    *close = '\0';
    hdr.type = strtok_r(s + 1, " \t\n\v\f\r", &save);
    hdr.id = hdr.type ? strtok_r(NULL, " \t\n\v\f\r", &save) : NULL;
    hdr.extra = hdr.id && strtok_r(NULL, " \t\n\v\f\r", &save);
    if (!hdr.type) {
        ini_err(in, "syntax error: empty section header");
        return;
    }
    in->skip = !in->h->section(in->ctx, &hdr, &in->pos);
}

/* A "KEY = VALUE" or "KEY: VALUE" line, s stripped and not empty. */
static void ini_key(struct ini_file *in, char *s)
{
    char *sep = ini_find(s, "=:"), *value;

    if ((*sep != '=' && *sep != ':') || sep == s) {
        ini_err(in, "syntax error: expected \"key = value\"");
        return;
    }
    if (in->skip)
        return;
    *sep = '\0';
    ini_rstrip(s);
    value = sep + 1;
    *ini_find(value, NULL) = '\0';
    value = ini_lskip(value);
    ini_rstrip(value);
    in->h->key(in->ctx, s, value, &in->pos);
}

int conf_read_ini_file(FILE *f, const char *path, const struct conf_ini_handler *h, void *ctx)
{
    struct ini_file in = {f, {path, 0}, h, ctx, false};
    char buf[FOYER_CONF_LINE_MAX + 2];

    for (;;) {
        char *s = buf;
        size_t len;

        if (!fgets(buf, (int)sizeof(buf), f)) {
            if (ferror(f)) {
                char msg[96];
                in.pos.line++;
                (void)snprintf(msg, sizeof(msg), "read error: %s", strerror(errno ? errno : EIO));
                ini_err(&in, msg);
                return -EIO;
            }
            return 0;
        }
        in.pos.line++;
        len = strlen(buf);
        if (len > 0 && buf[len - 1] != '\n' && !feof(f)) {
            char msg[64];
            int c;
            while ((c = getc(f)) != EOF && c != '\n')
                ;
            (void)snprintf(msg, sizeof(msg), "line too long (max %d characters)",
                           FOYER_CONF_LINE_MAX);
            ini_err(&in, msg);
            continue;
        }
        if (in.pos.line == 1 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
            s += 3;
        s = ini_lskip(s);
        ini_rstrip(s);
        if (*s == '\0' || *s == ';' || *s == '#')
            continue;
        if (*s == '[')
            ini_header(&in, s);
        else
            ini_key(&in, s);
    }
}

int conf_read_ini(const char *path, const struct conf_ini_handler *h, void *ctx)
{
    FILE *f = NULL;
    int r = config_open_regular(path, &f);

    if (r < 0) {
        struct conf_pos pos = {path, 0};
        char msg[128];
        (void)snprintf(msg, sizeof(msg), "cannot open: %s", open_strerror(r));
        h->error(ctx, &pos, msg);
        return r;
    }
    r = conf_read_ini_file(f, path, h, ctx);
    fclose(f);
    return r;
}

/* ---------------------------------------------------------------------- */
/* Raw sections: the config's and the profiles' handlers                   */

static void parse_file(struct parser *p, struct rsecs *out, bool profile_file, const char *path,
                       const struct pfile *parent, const struct conf_pos *from);

static void raw_error(void *ctx, const struct conf_pos *pos, const char *msg)
{
    struct pfile *pf = ctx;
    add_err(pf->p, pos, "%s", msg);
}

/* A header: a known type, with an ID when its type takes one.  Starts a new
 * raw section, or reports the problem and has the following keys skipped. */
static bool raw_section(void *ctx, const struct conf_ini_header *hdr, const struct conf_pos *pos)
{
    struct pfile *pf = ctx;
    struct parser *p = pf->p;
    const char *type = hdr->type, *id = hdr->id;
    struct rsec *sec;
    int t;

    for (t = 0; t < ST_COUNT_; t++)
        if (sec_defs[t].profile_file == pf->profile_file && strcmp(sec_defs[t].name, type) == 0)
            break;
    if (t == ST_COUNT_) {
        add_err(p, pos, "unknown section type \"%s\"", type);
        return false;
    }
    if (hdr->extra) {
        add_err(p, pos, "bad section header: expected [%s%s]", type,
                sec_defs[t].id_rule == ID_NONE ? "" : " ID");
        return false;
    }
    if (id && sec_defs[t].id_rule == ID_NONE) {
        add_err(p, pos, "[%s] takes no ID", type);
        return false;
    }
    if (!id && sec_defs[t].id_rule == ID_REQUIRED) {
        add_err(p, pos, "[%s] needs an ID: [%s ID]", type, type);
        return false;
    }
    if (id && !conf_id_valid(id)) {
        add_err(p, pos, "bad ID \"%s\" in [%s %s]: use 1 to %d letters, digits, \"_\" or \"-\"", id,
                type, id, FOYER_ID_MAX);
        return false;
    }
    if (!p_grow(p, (void **)&pf->out->v, &pf->out->cap, pf->out->n, sizeof(*pf->out->v)))
        return false;
    sec = p_calloc(p, 1, sizeof(*sec));
    if (!sec)
        return false;
    sec->type = (enum sec_type)t;
    if (id)
        memcpy(sec->id, id, strlen(id) + 1);
    sec->pos = *pos;
    sec->seq = p->seq++;
    pf->cur = (long)pf->out->n;
    pf->out->v[pf->out->n++] = sec;
    return true;
}

static bool key_allowed(const struct rsec *sec, const char *name)
{
    for (const char *const *k = sec_defs[sec->type].keys; *k; k++)
        if (strcmp(*k, name) == 0)
            return true;
    return sec->type == ST_SENSOR &&
           (strncmp(name, "channel.", 8) == 0 || strncmp(name, "device.", 7) == 0);
}

static void do_include(struct pfile *pf, const struct conf_pos *pos, const char *pattern);

static void raw_key(void *ctx, const char *name, const char *value, const struct conf_pos *pos)
{
    struct pfile *pf = ctx;
    struct parser *p = pf->p;
    struct rsec *sec;
    char lbl[LABEL_MAX];

    if (!pf->profile_file && strcmp(name, "include") == 0) {
        if (!*value)
            add_err(p, pos, "empty value for \"include\"");
        else
            do_include(pf, pos, value);
        return;
    }
    if (pf->cur == CUR_NONE) {
        add_err(p, pos, "key \"%s\" outside any section", name);
        return;
    }
    sec = pf->out->v[pf->cur];
    if (!key_allowed(sec, name)) {
        add_err(p, pos, "unknown key \"%s\" in %s", name, sec_label(sec, lbl, sizeof(lbl)));
        return;
    }
    if (!*value) {
        add_err(p, pos, "empty value for \"%s\" in %s", name, sec_label(sec, lbl, sizeof(lbl)));
        return;
    }
    for (size_t i = 0; i < sec->n_keys; i++) {
        if (strcmp(sec->keys[i].name, name) == 0) {
            add_err(p, pos, "duplicate key \"%s\" in %s (first set at line %d)", name,
                    sec_label(sec, lbl, sizeof(lbl)), sec->keys[i].pos.line);
            return;
        }
    }
    if (!p_grow(p, (void **)&sec->keys, &sec->cap_keys, sec->n_keys, sizeof(*sec->keys)))
        return;
    sec->keys[sec->n_keys].name = p_strdup(p, name);
    sec->keys[sec->n_keys].value = p_strdup(p, value);
    sec->keys[sec->n_keys].pos = *pos;
    if (!sec->keys[sec->n_keys].name || !sec->keys[sec->n_keys].value) {
        free(sec->keys[sec->n_keys].name);
        free(sec->keys[sec->n_keys].value);
        return;
    }
    sec->n_keys++;
}

static const struct conf_ini_handler raw_handler = {raw_section, raw_key, raw_error};

/* `include = GLOB` at POS: each file it matches, in glob's (sorted) order,
 * read where the line stands. */
static void do_include(struct pfile *pf, const struct conf_pos *pos, const char *pattern)
{
    struct parser *p = pf->p;
    glob_t g;
    char *dir, *full;
    int r;

    if (pf->depth >= FOYER_CONF_INCLUDE_DEPTH) {
        add_err(p, pos, "include nested too deeply (max %d levels)", FOYER_CONF_INCLUDE_DEPTH);
        return;
    }
    dir = dir_of(p, pf->path);
    if (!dir)
        return;
    full = glob_join(p, dir, pattern);
    free(dir);
    if (!full)
        return;
    memset(&g, 0, sizeof(g));
    r = glob(full, 0, NULL, &g);
    if (r == GLOB_NOMATCH) {
        /* Nothing to include is fine: conf.d may be empty. */
    } else if (r == GLOB_NOSPACE) {
        p->oom = true;
    } else if (r != 0) {
        add_err(p, pos, "cannot read include \"%s\"", full);
    } else {
        for (size_t i = 0; i < g.gl_pathc; i++)
            parse_file(p, pf->out, false, g.gl_pathv[i], pf, pos);
    }
    globfree(&g);
    free(full);
}

/* Read PATH into OUT.  PARENT is the including file (NULL for the main file
 * and profiles); FROM is the include line (or meter profile line) that named
 * it, NULL for the main file. */
static void parse_file(struct parser *p, struct rsecs *out, bool profile_file, const char *path,
                       const struct pfile *parent, const struct conf_pos *from)
{
    struct pfile *pf;
    struct stat st;
    int r;
    const char *ipath = intern_file(p, path);

    if (!ipath)
        return;
    pf = p_calloc(p, 1, sizeof(*pf));
    if (!pf)
        return;
    pf->p = p;
    pf->out = out;
    pf->profile_file = profile_file;
    pf->path = ipath;
    pf->parent = parent;
    pf->depth = parent ? parent->depth + 1 : 0;
    pf->cur = CUR_NONE;
    r = config_open_regular(path, &pf->f);
    if (r == 0 && fstat(fileno(pf->f), &st) < 0) {
        r = -errno;
        fclose(pf->f);
    }
    if (r < 0) {
        if (from) {
            add_err(p, from, "cannot open %s \"%s\": %s", profile_file ? "profile" : "include",
                    path, open_strerror(r));
        } else {
            struct conf_pos pos = {ipath, 0};
            add_err(p, &pos, "cannot open: %s", open_strerror(r));
        }
        free(pf);
        return;
    }
    pf->dev = st.st_dev;
    pf->ino = st.st_ino;
    for (const struct pfile *a = parent; a; a = a->parent) {
        if (a->dev == pf->dev && a->ino == pf->ino) {
            add_err(p, from, "include loop: \"%s\" is already being read", path);
            goto out_close;
        }
    }
    for (size_t i = 0; !profile_file && i < p->n_seen; i++) {
        if (p->seen[i].dev == pf->dev && p->seen[i].ino == pf->ino) {
            add_err(p, from, "\"%s\" is included twice (already read as \"%s\")", path,
                    p->seen[i].path);
            goto out_close;
        }
    }
    if (!profile_file) {
        if (!p_grow(p, (void **)&p->seen, &p->cap_seen, p->n_seen, sizeof(*p->seen)))
            goto out_close;
        p->seen[p->n_seen++] = (struct seen_file){pf->dev, pf->ino, ipath};
    }
    (void)conf_read_ini_file(pf->f, ipath, &raw_handler, pf);
out_close:
    fclose(pf->f);
    free(pf);
}

/* ---------------------------------------------------------------------- */
/* Value parsing                                                           */

static const struct rkey *get(const struct rsec *s, const char *name)
{
    for (size_t i = 0; i < s->n_keys; i++)
        if (strcmp(s->keys[i].name, name) == 0)
            return &s->keys[i];
    return NULL;
}

static void bad_value(struct parser *p, const struct rsec *s, const struct rkey *k,
                      const char *expected)
{
    char lbl[LABEL_MAX];
    add_err(p, &k->pos, "bad value \"%s\" for \"%s\" in %s (expected %s)", k->value, k->name,
            sec_label(s, lbl, sizeof(lbl)), expected);
}

static const struct rkey *require(struct parser *p, const struct rsec *s, const char *name)
{
    const struct rkey *k = get(s, name);
    char lbl[LABEL_MAX];
    if (!k)
        add_err(p, &s->pos, "missing required key \"%s\" in %s", name,
                sec_label(s, lbl, sizeof(lbl)));
    return k;
}

/* Decimal integer, or 0x hex when hex_ok. */
static bool parse_ll(const char *v, bool hex_ok, long long *ret)
{
    char *end;
    long long x;
    int base = 10;
    if (hex_ok && v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
        base = 16;
        v += 2;
        if (!isxdigit((unsigned char)*v))
            return false;
    } else if (!(isdigit((unsigned char)v[0]) ||
                 ((v[0] == '-' || v[0] == '+') && isdigit((unsigned char)v[1])))) {
        return false;
    }
    errno = 0;
    x = strtoll(v, &end, base);
    if (errno || *end)
        return false;
    *ret = x;
    return true;
}

/* A finite decimal number: no hex, nan, inf or trailing garbage.  The daemon
 * never calls setlocale, so strtod reads "." as the decimal point. */
static bool parse_num(const char *v, double *ret)
{
    char *end;
    double x;
    if (!*v)
        return false;
    for (const char *c = v; *c; c++)
        if (!(isdigit((unsigned char)*c) || strchr("+-.eE", *c)))
            return false;
    errno = 0;
    x = strtod(v, &end);
    if (errno || *end || end == v || !isfinite(x))
        return false;
    *ret = x;
    return true;
}

static bool get_int(struct parser *p, const struct rsec *s, const char *name, long long min,
                    long long max, int *ret)
{
    const struct rkey *k = get(s, name);
    long long x;
    if (!k)
        return true;
    if (!parse_ll(k->value, false, &x) || x < min || x > max) {
        char exp[96];
        (void)snprintf(exp, sizeof(exp), "an integer from %lld to %lld", min, max);
        bad_value(p, s, k, exp);
        return false;
    }
    *ret = (int)x;
    return true;
}

enum num_rule { NUM_ANY, NUM_POSITIVE, NUM_NONNEG, NUM_NONZERO };

static bool get_num(struct parser *p, const struct rsec *s, const char *name, enum num_rule rule,
                    double *ret)
{
    const struct rkey *k = get(s, name);
    double x;
    static const char *const exp[] = {"a number", "a number > 0", "a number >= 0",
                                      "a number other than 0"};
    if (!k)
        return true;
    if (!parse_num(k->value, &x) || (rule == NUM_POSITIVE && !(x > 0)) ||
        (rule == NUM_NONNEG && !(x >= 0)) || (rule == NUM_NONZERO && x == 0)) {
        bad_value(p, s, k, exp[rule]);
        return false;
    }
    *ret = x;
    return true;
}

static bool get_bool(struct parser *p, const struct rsec *s, const char *name, bool *ret)
{
    const struct rkey *k = get(s, name);
    static const char *const yes[] = {"true", "yes", "1"}, *const no[] = {"false", "no", "0"};
    if (!k)
        return true;
    for (size_t i = 0; i < 3; i++) {
        if (strcasecmp(k->value, yes[i]) == 0) {
            *ret = true;
            return true;
        }
        if (strcasecmp(k->value, no[i]) == 0) {
            *ret = false;
            return true;
        }
    }
    bad_value(p, s, k, "true, false, yes, no, 1 or 0");
    return false;
}

static int find_name(const char *const *names, size_t n, const char *v)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], v) == 0)
            return (int)i;
    return -1;
}

static void expected_list(const char *const *names, size_t n, char *buf, size_t len)
{
    size_t off = 0;
    int r = snprintf(buf, len, "one of:");
    if (r < 0 || (size_t)r >= len)
        return;
    off = (size_t)r;
    for (size_t i = 0; i < n; i++) {
        r = snprintf(buf + off, len - off, " %s%s", names[i], i + 1 < n ? "," : "");
        if (r < 0 || (size_t)r >= len - off)
            return;
        off += (size_t)r;
    }
}

static bool get_enum(struct parser *p, const struct rsec *s, const char *name,
                     const char *const *names, size_t n, int *ret)
{
    const struct rkey *k = get(s, name);
    int i;
    char exp[256];
    if (!k)
        return true;
    i = find_name(names, n, k->value);
    if (i < 0) {
        expected_list(names, n, exp, sizeof(exp));
        bad_value(p, s, k, exp);
        return false;
    }
    *ret = i;
    return true;
}

static bool get_str(struct parser *p, const struct rsec *s, const char *name, char **ret)
{
    const struct rkey *k = get(s, name);
    char *d;
    if (!k)
        return true;
    d = p_strdup(p, k->value);
    if (!d)
        return false;
    free(*ret);
    *ret = d;
    return true;
}

/* A path key: relative paths are relative to the main file's directory. */
static bool get_path(struct parser *p, const struct rsec *s, const char *name, char **ret)
{
    const struct rkey *k = get(s, name);
    char *d;
    if (!k)
        return true;
    d = path_join(p, p->main_dir, k->value);
    if (!d)
        return false;
    free(*ret);
    *ret = d;
    return true;
}

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* "YYYY-MM-DD" -> YYYYMMDD, checking the day exists. */
static bool parse_date(const char *v, int32_t *ret)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, m, d;
    if (strlen(v) != 10 || v[4] != '-' || v[7] != '-')
        return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !isdigit((unsigned char)v[i]))
            return false;
    y = (v[0] - '0') * 1000 + (v[1] - '0') * 100 + (v[2] - '0') * 10 + (v[3] - '0');
    m = (v[5] - '0') * 10 + (v[6] - '0');
    d = (v[8] - '0') * 10 + (v[9] - '0');
    if (y < 1970 || m < 1 || m > 12 || d < 1)
        return false;
    if (d > mdays[m - 1] + (m == 2 && is_leap(y)))
        return false;
    *ret = y * 10000 + m * 100 + d;
    return true;
}

static bool get_date(struct parser *p, const struct rsec *s, const char *name, int32_t *ret)
{
    const struct rkey *k = get(s, name);
    if (!k)
        return true;
    if (!parse_date(k->value, ret)) {
        bad_value(p, s, k, "a date YYYY-MM-DD");
        return false;
    }
    return true;
}

static const char *fmt_date(int32_t ymd, char *buf, size_t len)
{
    int r = snprintf(buf, len, "%04d-%02d-%02d", (int)(ymd / 10000), (int)(ymd / 100 % 100),
                     (int)(ymd % 100));
    if (r < 0 || (size_t)r >= len)
        buf[0] = '\0';
    return buf;
}

/* A JSON path: dot-separated non-empty names, no blanks or commas. */
static bool json_path_valid(const char *v)
{
    bool seg = false;
    for (const char *c = v; *c; c++) {
        if (*c == '.') {
            if (!seg)
                return false;
            seg = false;
        } else if (isspace((unsigned char)*c) || *c == ',') {
            return false;
        } else {
            seg = true;
        }
    }
    return seg;
}

/* A string libmosquitto takes (client ID, user name, topic): well-formed
 * UTF-8 without control characters (U+0000-U+001F, U+007F-U+009F) or
 * non-characters, as mosquitto_validate_utf8() checks.  Else mosquitto_new()
 * or mosquitto_username_pw_set() fail at foyerd's start, or the
 * subscription at every connection. */
static bool mqtt_string_valid(const char *v)
{
    const unsigned char *s = (const unsigned char *)v;
    while (*s) {
        uint32_t cp = 0;
        size_t n = utf8_char(s, &cp);
        if (n == 0 || is_control(cp) || (cp >= 0xFDD0 && cp <= 0xFDEF) || (cp & 0xFFFE) == 0xFFFE)
            return false;
        s += n;
    }
    return true;
}

/* A file foyerd reads when it starts (a password, a certificate, a token):
 * a missing one, or one that is not a regular file, stops foyerd or one of
 * its parts, so the config check says so.  Whether foyerd's user may read
 * it is left to the start: the check may run as another user. */
static void file_check(struct parser *p, const struct rkey *k, const char *path, const char *what)
{
    struct stat st;
    if (stat(path, &st) == 0) {
        if (!S_ISREG(st.st_mode))
            add_err(p, &k->pos, "%s: %s \"%s\" is not a regular file", what, k->name, path);
    } else if (errno == ENOENT || errno == ENOTDIR) {
        add_err(p, &k->pos, "%s: %s \"%s\": %s", what, k->name, path, strerror(ENOENT));
    }
}

/* An MQTT topic filter: "+" and "#" only as whole levels, "#" only last. */
static bool topic_valid(const char *t)
{
    size_t n = strlen(t);
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        bool starts = i == 0 || t[i - 1] == '/';
        bool ends = i + 1 == n || t[i + 1] == '/';
        if (t[i] == '+' && !(starts && ends))
            return false;
        if (t[i] == '#' && !(starts && i + 1 == n))
            return false;
    }
    return true;
}

/* ---------------------------------------------------------------------- */
/* Grouping sections, duplicates, ID lookup                                */

struct group {
    struct rsec **v; /* file order, duplicates removed */
    size_t n;
    struct rsec **sorted; /* by ID, for lookups */
};

static int cmp_sec_id_seq(const void *a, const void *b)
{
    const struct rsec *x = *(struct rsec *const *)a, *y = *(struct rsec *const *)b;
    int c = strcmp(x->id, y->id);
    if (c)
        return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void group_build(struct parser *p, const struct rsecs *all, enum sec_type t, struct group *g)
{
    size_t n = 0, k = 0;
    char lbl[LABEL_MAX];

    for (size_t i = 0; i < all->n; i++)
        n += all->v[i]->type == t;
    g->v = p_calloc(p, n, sizeof(*g->v));
    g->sorted = p_calloc(p, n, sizeof(*g->sorted));
    g->n = 0;
    if (!g->v || !g->sorted)
        return;
    for (size_t i = 0; i < all->n; i++)
        if (all->v[i]->type == t)
            g->sorted[k++] = all->v[i];
    qsort(g->sorted, n, sizeof(*g->sorted), cmp_sec_id_seq);
    for (size_t i = 1, run = 0; i < n; i++) {
        const struct rsec *first = g->sorted[run];
        struct rsec *s = g->sorted[i];
        if (strcmp(first->id, s->id) != 0) {
            run = i;
            continue;
        }
        s->dup = true;
        if (s->id[0])
            add_err(p, &s->pos, "duplicate %s \"%s\" (first defined at %s:%d)", sec_defs[t].name,
                    s->id, first->pos.file, first->pos.line);
        else
            add_err(p, &s->pos, "duplicate section %s (first defined at %s:%d)",
                    sec_label(s, lbl, sizeof(lbl)), first->pos.file, first->pos.line);
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
    return strcmp(key, (*(struct rsec *const *)elem)->id);
}

static int32_t group_find(const struct group *g, const char *id)
{
    struct rsec **r;
    if (!g->sorted || g->n == 0)
        return -1;
    r = bsearch(id, g->sorted, g->n, sizeof(*g->sorted), cmp_key_sec);
    return r ? (int32_t)(*r)->ent : -1;
}

static void group_free(struct group *g)
{
    free(g->v);
    free(g->sorted);
    memset(g, 0, sizeof(*g));
}

static void rsecs_free(struct rsecs *r)
{
    for (size_t i = 0; i < r->n; i++) {
        for (size_t k = 0; k < r->v[i]->n_keys; k++) {
            free(r->v[i]->keys[k].name);
            free(r->v[i]->keys[k].value);
        }
        free(r->v[i]->keys);
        free(r->v[i]);
    }
    free(r->v);
    memset(r, 0, sizeof(*r));
}

/* ---------------------------------------------------------------------- */
/* Building the config                                                     */

/* A device of a wildcard sensor (device.NAME = PLACE), kept while building:
 * its channels are NAME.FIELD, at its place. */
struct sensor_dev {
    const char *name; /* borrowed from the raw key, "device." skipped */
    struct conf_pos pos;
    int32_t dwelling; /* or -1 */
    int32_t building;
};

struct build {
    struct parser *p;
    struct group g[ST_COUNT_];
    int32_t *meter_profile_ok;       /* per meter: 1 when its profile loaded */
    struct sensor_dev **sensor_devs; /* per sensor: its devices, NULL if no wildcard */
    size_t *n_sensor_devs;           /* per sensor: how many; 0 if no wildcard */
};

/* Resolve "dwelling = X" / "building = Y" (exactly one): sets both indexes
 * (a dwelling's building too).  what = "meter m12". */
static void resolve_place(struct build *b, const struct rsec *s, const char *what, bool required,
                          int32_t *ret_dwelling, int32_t *ret_building)
{
    struct parser *p = b->p;
    const struct rkey *kd = get(s, "dwelling"), *kb = get(s, "building");
    struct foyer_config *cfg = p->cfg;

    *ret_dwelling = -1;
    *ret_building = -1;
    if (kd && kb) {
        const struct rkey *later = kd->pos.line > kb->pos.line ? kd : kb;
        add_err(p, &later->pos, "%s: set only one of \"dwelling\" and \"building\"", what);
        return;
    }
    if (!kd && !kb) {
        if (required)
            add_err(p, &s->pos, "%s: missing \"dwelling\" or \"building\"", what);
        return;
    }
    if (kd) {
        int32_t d = group_find(&b->g[ST_DWELLING], kd->value);
        if (d < 0) {
            add_err(p, &kd->pos, "%s: unknown dwelling \"%s\"", what, kd->value);
            return;
        }
        *ret_dwelling = d;
        *ret_building = (int32_t)cfg->dwellings[d].building;
        if (cfg->dwellings[d].building == UINT32_MAX)
            *ret_building = -1;
    } else {
        int32_t bi = group_find(&b->g[ST_BUILDING], kb->value);
        if (bi < 0) {
            add_err(p, &kb->pos, "%s: unknown building \"%s\"", what, kb->value);
            return;
        }
        *ret_building = bi;
    }
}

/* The database path: SQLite creates the file, but not over a directory or
 * below a file.  A missing directory is left to the start: the systemd
 * unit creates /var/lib/foyer (StateDirectory=) just before it. */
static void database_check(struct parser *p, const struct rkey *k, const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            add_err(p, &k->pos,
                    "database \"%s\" is a directory: name the database file in it, "
                    "e.g. %s%sfoyer.db",
                    path, path, path[strlen(path) - 1] == '/' ? "" : "/");
        else if (!S_ISREG(st.st_mode))
            add_err(p, &k->pos, "database \"%s\" is not a regular file", path);
    } else if (errno == ENOTDIR) {
        add_err(p, &k->pos, "database \"%s\": a part of the path is a file, not a directory", path);
    }
}

/* The zone, checked by the function foyerd's start uses (tu_zone_check),
 * so that --check-config and foyerd agree. */
static void zone_check(struct parser *p, const struct rkey *k)
{
    const char *z = k->value;
    int32_t off = 0;
    int r = tu_zone_check(z, &off);

    if (r == 0)
        return;
    if (r == -EINVAL) {
        add_err(p, &k->pos, "bad time zone \"%s\" (expected a name like Europe/Paris)", z);
    } else if (r == -ENOENT) {
        add_err(p, &k->pos, "bad time zone \"%s\" (no file %s/%s)", z, tu_zone_dir(), z);
    } else if (r == -EDOM) {
        int a = off < 0 ? -off : off;
        add_err(p, &k->pos,
                "time zone \"%s\" is not usable: its offset UTC%c%02d:%02d is not a whole "
                "number of hours, and foyer needs whole-hour offsets (hourly figures are "
                "stored per UTC hour, which must also be a local hour)",
                z, off < 0 ? '-' : '+', a / 3600, a % 3600 / 60);
    } else if (r == -EBADMSG) {
        add_err(p, &k->pos, "bad time zone \"%s\" (%s/%s is not a time zone file)", z,
                tu_zone_dir(), z);
    } else {
        add_err(p, &k->pos, "bad time zone \"%s\" (%s/%s: %s)", z, tu_zone_dir(), z, strerror(-r));
    }
}

static void build_foyer(struct build *b)
{
    struct parser *p = b->p;
    struct foyer_config *cfg = p->cfg;
    const struct rsec *s;
    int lvl = 2;

    cfg->database = path_join(p, p->main_dir, "/var/lib/foyer/foyer.db");
    cfg->timezone = p_strdup(p, "Europe/Paris");
    cfg->profiles_dir = path_join(p, p->main_dir, "profiles");
    cfg->raw_retention_days = 30;
    cfg->raw_retention_days_no_consent = 7;
    cfg->batch_readings = FOYER_BATCH_READINGS;
    cfg->batch_deadline_ms = FOYER_BATCH_DEADLINE_MS;
    cfg->watchdog_s = 0;
    cfg->future_tolerance_s = FOYER_FUTURE_TOLERANCE_S;
    if (b->g[ST_FOYER].n) {
        const struct rkey *k;
        s = b->g[ST_FOYER].v[0];
        if (get_path(p, s, "database", &cfg->database) && get(s, "database"))
            database_check(p, get(s, "database"), cfg->database);
        if ((k = get(s, "timezone")) != NULL) {
            zone_check(p, k);
            (void)get_str(p, s, "timezone", &cfg->timezone);
        }
        (void)get_path(p, s, "profiles_dir", &cfg->profiles_dir);
        (void)get_int(p, s, "raw_retention_days", 1, 36600, &cfg->raw_retention_days);
        (void)get_int(p, s, "raw_retention_days_no_consent", 1, 36600,
                      &cfg->raw_retention_days_no_consent);
        (void)get_int(p, s, "batch_readings", 1, FOYER_BATCH_BACKLOG_MAX, &cfg->batch_readings);
        (void)get_int(p, s, "batch_deadline_ms", 1, 60000, &cfg->batch_deadline_ms);
        (void)get_enum(p, s, "log_level", log_level_names, N_ELEMS(log_level_names), &lvl);
        (void)get_int(p, s, "future_tolerance_s", 0, FOYER_FUTURE_TOLERANCE_MAX_S,
                      &cfg->future_tolerance_s);
        if (cfg->raw_retention_days_no_consent > cfg->raw_retention_days) {
            k = get(s, "raw_retention_days_no_consent");
            if (!k)
                k = get(s, "raw_retention_days");
            add_err(p, k ? &k->pos : &s->pos,
                    "raw_retention_days_no_consent (%d) must not exceed raw_retention_days (%d)",
                    cfg->raw_retention_days_no_consent, cfg->raw_retention_days);
        }
    }
    cfg->log_level = p_strdup(p, log_level_names[lvl]);
}

static void build_buildings(struct build *b)
{
    struct parser *p = b->p;
    struct foyer_config *cfg = p->cfg;
    const struct group *g = &b->g[ST_BUILDING];

    cfg->buildings = p_calloc(p, g->n, sizeof(*cfg->buildings));
    if (!cfg->buildings)
        return;
    cfg->n_buildings = g->n;
    for (size_t i = 0; i < g->n; i++) {
        struct building *x = &cfg->buildings[i];
        memcpy(x->id, g->v[i]->id, sizeof(x->id));
        x->pos = g->v[i]->pos;
        (void)get_str(p, g->v[i], "name", &x->name);
    }
}

static void build_dwellings(struct build *b)
{
    struct parser *p = b->p;
    struct foyer_config *cfg = p->cfg;
    const struct group *g = &b->g[ST_DWELLING];

    cfg->dwellings = p_calloc(p, g->n, sizeof(*cfg->dwellings));
    if (!cfg->dwellings)
        return;
    cfg->n_dwellings = g->n;
    for (size_t i = 0; i < g->n; i++) {
        const struct rsec *s = g->v[i];
        struct dwelling *x = &cfg->dwellings[i];
        const struct rkey *k;
        int h = 0;

        memcpy(x->id, s->id, sizeof(x->id));
        x->pos = s->pos;
        x->building = UINT32_MAX;
        if ((k = require(p, s, "building")) != NULL) {
            int32_t bi = group_find(&b->g[ST_BUILDING], k->value);
            if (bi < 0)
                add_err(p, &k->pos, "dwelling %s: unknown building \"%s\"", s->id, k->value);
            else
                x->building = (uint32_t)bi;
        }
        (void)get_str(p, s, "label", &x->label);
        if (require(p, s, "surface_m2"))
            (void)get_num(p, s, "surface_m2", NUM_POSITIVE, &x->surface_m2);
        if (require(p, s, "heating"))
            (void)get_enum(p, s, "heating", heating_names, HEATING_COUNT_, &h);
        x->heating = (enum heating)h;
        (void)get_bool(p, s, "consent", &x->consent);
    }
}

static void build_tenancies(struct build *b)
{
    struct parser *p = b->p;
    struct foyer_config *cfg = p->cfg;
    const struct group *g = &b->g[ST_TENANCY];

    cfg->tenancies = p_calloc(p, g->n, sizeof(*cfg->tenancies));
    if (!cfg->tenancies)
        return;
    cfg->n_tenancies = g->n;
    for (size_t i = 0; i < g->n; i++) {
        const struct rsec *s = g->v[i];
        struct tenancy *x = &cfg->tenancies[i];
        const struct rkey *k;
        bool ok = true;

        memcpy(x->id, s->id, sizeof(x->id));
        x->pos = s->pos;
        x->dwelling = UINT32_MAX;
        if ((k = require(p, s, "dwelling")) != NULL) {
            int32_t d = group_find(&b->g[ST_DWELLING], k->value);
            if (d < 0) {
                add_err(p, &k->pos, "tenancy %s: unknown dwelling \"%s\"", s->id, k->value);
                ok = false;
            } else {
                x->dwelling = (uint32_t)d;
            }
        } else {
            ok = false;
        }
        if (!require(p, s, "start") || !get_date(p, s, "start", &x->start_ymd))
            ok = false;
        if (!get_date(p, s, "end", &x->end_ymd))
            ok = false;
        if (ok && x->end_ymd && x->end_ymd < x->start_ymd) {
            char d1[16], d2[16];
            add_err(p, &get(s, "end")->pos, "tenancy %s: end %s is before start %s", s->id,
                    fmt_date(x->end_ymd, d1, sizeof(d1)), fmt_date(x->start_ymd, d2, sizeof(d2)));
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
                add_err(p, &s->pos, "tenancy %s overlaps tenancy %s (%s:%d) in dwelling %s", s->id,
                        o->id, o->pos.file, o->pos.line, cfg->dwellings[x->dwelling].id);
                break;
            }
        }
    }
}

static void build_buses(struct build *b)
{
    struct parser *p = b->p;
    struct foyer_config *cfg = p->cfg;
    const struct group *g = &b->g[ST_BUS];
    static const char *const tcp_only[] = {"host", "port"};
    static const char *const rtu_only[] = {"device",    "baud",      "parity",
                                           "data_bits", "stop_bits", "rs485"};

    cfg->buses = p_calloc(p, g->n, sizeof(*cfg->buses));
    if (!cfg->buses)
        return;
    cfg->n_buses = g->n;
    for (size_t i = 0; i < g->n; i++) {
        const struct rsec *s = g->v[i];
        struct bus *x = &cfg->buses[i];
        int t = BUS_TCP, par = PARITY_NONE;
        const char *const *other;
        size_t n_other;

        memcpy(x->id, s->id, sizeof(x->id));
        x->pos = s->pos;
        x->port = 502;
        x->baud = 9600;
        x->data_bits = 8;
        x->stop_bits = 1;
        x->timeout_ms = 1000;
        x->offline_after = 3;
        if (!require(p, s, "type") ||
            !get_enum(p, s, "type", bus_type_names, N_ELEMS(bus_type_names), &t))
            continue;
        x->type = (enum bus_type)t;
        x->frame_delay_ms = x->type == BUS_RTU ? 5 : 0;
        if (x->type == BUS_TCP) {
            struct in_addr a;
            const struct rkey *k = require(p, s, "host");
            /* libmodbus's TCP backend connects to a dotted IPv4 address
             * only: it resolves no name, and refuses a longer string at
             * foyerd's start. */
            if (k && inet_pton(AF_INET, k->value, &a) != 1)
                bad_value(p, s, k, "an IPv4 address like 192.0.2.10");
            else if (k)
                (void)get_str(p, s, "host", &x->host);
            (void)get_int(p, s, "port", 1, 65535, &x->port);
            other = rtu_only;
            n_other = N_ELEMS(rtu_only);
        } else {
            if (require(p, s, "device"))
                (void)get_str(p, s, "device", &x->device);
            (void)get_int(p, s, "baud", 300, 4000000, &x->baud);
            (void)get_enum(p, s, "parity", parity_names, N_ELEMS(parity_names), &par);
            x->parity = (enum parity)par;
            (void)get_int(p, s, "data_bits", 7, 8, &x->data_bits);
            (void)get_int(p, s, "stop_bits", 1, 2, &x->stop_bits);
            (void)get_bool(p, s, "rs485", &x->rs485);
            other = tcp_only;
            n_other = N_ELEMS(tcp_only);
        }
        for (size_t j = 0; j < n_other; j++) {
            const struct rkey *k = get(s, other[j]);
            if (k)
                add_err(p, &k->pos, "bus %s: \"%s\" does not apply to a %s bus", s->id, k->name,
                        bus_type_names[t]);
        }
        (void)get_int(p, s, "timeout_ms", 1, 60000, &x->timeout_ms);
        (void)get_int(p, s, "frame_delay_ms", 0, 10000, &x->frame_delay_ms);
        (void)get_int(p, s, "offline_after", 1, 1000, &x->offline_after);
    }
}

/* Check quantity/kind/unit keys of a [channel] or [register] section. */
static bool quantity_keys(struct parser *p, const struct rsec *s, const char *what,
                          enum quantity *ret_q, enum channel_kind *ret_kind)
{
    const struct rkey *k;
    int q = 0, kind;

    if (!require(p, s, "quantity") || !get_enum(p, s, "quantity", quantity_names, Q_COUNT_, &q))
        return false;
    *ret_q = (enum quantity)q;
    *ret_kind = qinfo[q].kind;
    kind = (int)qinfo[q].kind;
    if (get_enum(p, s, "kind", kind_names, N_ELEMS(kind_names), &kind) &&
        kind != (int)qinfo[q].kind) {
        k = get(s, "kind");
        add_err(p, &k->pos, "%s: kind \"%s\" does not match quantity %s (expected %s)", what,
                k->value, qinfo[q].name, kind_names[qinfo[q].kind]);
    }
    if ((k = get(s, "unit")) != NULL && strcmp(k->value, qinfo[q].unit) != 0)
        add_err(p, &k->pos, "%s: unit \"%s\" does not match quantity %s (expected \"%s\")", what,
                k->value, qinfo[q].name, qinfo[q].unit);
    return true;
}

static double default_rate(enum quantity q, int32_t dwelling)
{
    return dwelling >= 0 ? qinfo[q].rate_dwelling : qinfo[q].rate_building;
}

/* A counter register's resolution: as set, else the unit's default, or an
 * integer register's scale when coarser (a u32 of 0.1 kWh steps by 0.1). */
static double register_resolution(const struct profile_register *reg)
{
    double r = qinfo[reg->quantity].resolution;
    if (reg->resolution > 0)
        return reg->resolution;
    if (reg->type != RT_FLOAT32 && reg->type != RT_FLOAT64 && fabs(reg->scale) > r)
        return fabs(reg->scale);
    return r;
}

static void build_channel_sections(struct build *b)
{
    struct parser *p = b->p;
    struct foyer_config *cfg = p->cfg;
    const struct group *g = &b->g[ST_CHANNEL];
    char what[FOYER_ID_MAX + 16];

    for (size_t i = 0; i < g->n; i++) {
        const struct rsec *s = g->v[i];
        struct channel *x = &cfg->channels[i];
        const struct rkey *k;

        memcpy(x->id, s->id, strlen(s->id) + 1);
        x->pos = s->pos;
        x->meter = x->sensor = x->reg = -1;
        (void)snprintf(what, sizeof(what), "channel %s", s->id);
        resolve_place(b, s, what, true, &x->dwelling, &x->building);
        if (!quantity_keys(p, s, what, &x->quantity, &x->kind)) {
            x->unit = "?";
            continue;
        }
        x->unit = qinfo[x->quantity].unit;
        x->min_value = qinfo[x->quantity].min;
        x->max_value = qinfo[x->quantity].max;
        if (x->kind == KIND_COUNTER) {
            x->max_rate = default_rate(x->quantity, x->dwelling);
            x->resolution = qinfo[x->quantity].resolution;
        }
        (void)get_num(p, s, "rollover", NUM_POSITIVE, &x->rollover);
        (void)get_num(p, s, "max_rate", NUM_POSITIVE, &x->max_rate);
        (void)get_num(p, s, "resolution", NUM_POSITIVE, &x->resolution);
        (void)get_bool(p, s, "submeter", &x->submeter);
        if (x->kind == KIND_GAUGE) {
            if ((k = get(s, "rollover")) != NULL)
                add_err(p, &k->pos, "%s: rollover applies only to counters", what);
            if ((k = get(s, "max_rate")) != NULL)
                add_err(p, &k->pos, "%s: max_rate applies only to counters", what);
            if ((k = get(s, "resolution")) != NULL)
                add_err(p, &k->pos, "%s: resolution applies only to counters", what);
            x->resolution = 0;
        }
    }
}

/* Parse a profile's raw sections into a struct profile. */
static bool build_profile(struct parser *p, struct rsecs *raw, const char *name, const char *path,
                          size_t n_err0, struct profile *ret)
{
    struct build pb = {.p = p};
    struct profile pr = {0};
    const struct group *g;

    memcpy(pr.name, name, strlen(name) + 1);
    pr.path = p_strdup(p, path);
    group_build(p, raw, ST_PROFILE, &pb.g[ST_PROFILE]);
    group_build(p, raw, ST_REGISTER, &pb.g[ST_REGISTER]);
    if (pb.g[ST_PROFILE].n)
        (void)get_str(p, pb.g[ST_PROFILE].v[0], "model", &pr.model);
    g = &pb.g[ST_REGISTER];
    if (g->n == 0) {
        struct conf_pos pos = {intern_file(p, path), 1};
        if (pb.g[ST_PROFILE].n)
            pos = pb.g[ST_PROFILE].v[0]->pos;
        if (pos.file)
            add_err(p, &pos, "profile %s has no [register NAME] section", name);
    } else if (g->n > FOYER_PROFILE_REGISTERS_MAX) {
        add_err(p, &g->v[FOYER_PROFILE_REGISTERS_MAX]->pos,
                "profile %s: too many registers (max %d)", name, FOYER_PROFILE_REGISTERS_MAX);
    } else {
        pr.regs = p_calloc(p, g->n, sizeof(*pr.regs));
        if (pr.regs)
            pr.n_regs = g->n;
    }
    for (size_t i = 0; pr.regs && i < pr.n_regs; i++) {
        const struct rsec *s = g->v[i];
        struct profile_register *r = &pr.regs[i];
        char what[FOYER_ID_MAX + 16];
        int fn = REG_INPUT, type = RT_U16, wo = WO_ABCD, addr = 0;
        static const int words[] = {1, 1, 2, 2, 4, 4, 2, 4};

        (void)snprintf(what, sizeof(what), "register %s", s->id);
        memcpy(r->name, s->id, sizeof(r->name));
        r->pos = s->pos;
        r->scale = 1;
        if (require(p, s, "function"))
            (void)get_enum(p, s, "function", function_names, N_ELEMS(function_names), &fn);
        r->function = (enum reg_function)fn;
        if (require(p, s, "type"))
            (void)get_enum(p, s, "type", reg_type_names, N_ELEMS(reg_type_names), &type);
        r->type = (enum reg_type)type;
        (void)get_enum(p, s, "word_order", word_order_names, N_ELEMS(word_order_names), &wo);
        r->order = (enum word_order)wo;
        if (require(p, s, "address")) {
            const struct rkey *k = get(s, "address");
            long long a;
            if (!parse_ll(k->value, true, &a) || a < 0 || a + words[type] > 65536) {
                char exp[64];
                (void)snprintf(exp, sizeof(exp), "0 to %d, decimal or 0x hex", 65536 - words[type]);
                bad_value(p, s, k, exp);
            } else {
                addr = (int)a;
            }
        }
        r->address = (uint16_t)addr;
        (void)get_num(p, s, "scale", NUM_NONZERO, &r->scale);
        (void)get_num(p, s, "offset", NUM_ANY, &r->offset);
        if (!quantity_keys(p, s, what, &r->quantity, &r->kind)) {
            r->unit = "?";
            continue;
        }
        r->unit = qinfo[r->quantity].unit;
        r->min_value = qinfo[r->quantity].min;
        r->max_value = qinfo[r->quantity].max;
        if (get_num(p, s, "min", NUM_ANY, &r->min_value) &&
            get_num(p, s, "max", NUM_ANY, &r->max_value) && !(r->min_value < r->max_value)) {
            const struct rkey *k = get(s, "max") ? get(s, "max") : get(s, "min");
            char a[32], c[32];
            add_err(p, &k->pos, "%s: min (%s) must be less than max (%s)", what,
                    fmt_num(r->min_value, a, sizeof(a)), fmt_num(r->max_value, c, sizeof(c)));
        }
        (void)get_num(p, s, "resolution", NUM_POSITIVE, &r->resolution);
        if (r->kind == KIND_GAUGE && get(s, "resolution"))
            add_err(p, &get(s, "resolution")->pos, "%s: resolution applies only to counters", what);
    }
    group_free(&pb.g[ST_PROFILE]);
    group_free(&pb.g[ST_REGISTER]);
    if (p->n_errs != n_err0 || p->oom) {
        free(pr.model);
        free(pr.regs);
        free(pr.path);
        return false;
    }
    *ret = pr;
    return true;
}

/* Index in cfg->profiles of profile NAME (loading it on first use), or -1
 * after reporting why at K (the meter's profile line). */
static int32_t profile_get(struct build *b, const struct rsec *meter, const struct rkey *k)
{
    struct parser *p = b->p;
    struct foyer_config *cfg = p->cfg;
    struct pcache *pc = NULL;
    struct rsecs raw = {0};
    char *rel = NULL, *path = NULL;
    FILE *f;

    if (!conf_id_valid(k->value)) {
        bad_value(p, meter, k, "a profile name: letters, digits, \"_\" or \"-\"");
        return -1;
    }
    for (size_t i = 0; i < p->n_pc; i++)
        if (strcmp(p->pc[i].name, k->value) == 0)
            pc = &p->pc[i];
    if (asprintf(&rel, "%s.conf", k->value) < 0) {
        p->oom = true;
        return -1;
    }
    path = path_join(p, cfg->profiles_dir, rel);
    free(rel);
    if (!path)
        return -1;
    if (!pc) {
        struct pcache *npc = reallocarray(p->pc, p->n_pc + 1, sizeof(*p->pc));
        if (!npc) {
            p->oom = true;
            free(path);
            return -1;
        }
        p->pc = npc;
        pc = &p->pc[p->n_pc++];
        memset(pc, 0, sizeof(*pc));
        memcpy(pc->name, k->value, strlen(k->value) + 1);
        pc->idx = -1;
        /* Probe first so a missing profile reads as such, at the meter. */
        int r = config_open_regular(path, &f);
        if (r < 0) {
            pc->err = -r;
        } else {
            struct profile pr;
            struct profile *np;
            size_t n_err0 = p->n_errs;
            fclose(f);
            parse_file(p, &raw, true, path, NULL, &k->pos);
            if (build_profile(p, &raw, k->value, path, n_err0, &pr)) {
                np = reallocarray(cfg->profiles, cfg->n_profiles + 1, sizeof(*np));
                if (!np) {
                    p->oom = true;
                    free(pr.model);
                    free(pr.regs);
                    free(pr.path);
                } else {
                    cfg->profiles = np;
                    cfg->profiles[cfg->n_profiles] = pr;
                    pc->idx = (int32_t)cfg->n_profiles++;
                }
            }
            rsecs_free(&raw);
        }
    }
    if (pc->err == ENOENT)
        add_err(p, &k->pos, "meter %s: unknown profile \"%s\" (no file %s)", meter->id, k->value,
                path);
    else if (pc->err)
        add_err(p, &k->pos, "meter %s: cannot read profile \"%s\" (%s: %s)", meter->id, k->value,
                path, open_strerror(-pc->err));
    free(path);
    return pc->idx;
}

static void build_meters(struct build *b)
{
    struct parser *p = b->p;
    struct foyer_config *cfg = p->cfg;
    const struct group *g = &b->g[ST_METER];

    cfg->meters = p_calloc(p, g->n, sizeof(*cfg->meters));
    b->meter_profile_ok = p_calloc(p, g->n, sizeof(*b->meter_profile_ok));
    if (!cfg->meters || !b->meter_profile_ok)
        return;
    cfg->n_meters = g->n;
    for (size_t i = 0; i < g->n; i++) {
        const struct rsec *s = g->v[i];
        struct meter *x = &cfg->meters[i];
        const struct rkey *k;
        char what[FOYER_ID_MAX + 16];
        bool bus_ok = false;

        (void)snprintf(what, sizeof(what), "meter %s", s->id);
        memcpy(x->id, s->id, sizeof(x->id));
        x->pos = s->pos;
        x->interval_s = 60;
        x->profile = UINT32_MAX;
        x->bus = UINT32_MAX;
        if ((k = require(p, s, "profile")) != NULL) {
            int32_t pi = profile_get(b, s, k);
            if (pi >= 0) {
                x->profile = (uint32_t)pi;
                b->meter_profile_ok[i] = 1;
            }
        }
        if ((k = require(p, s, "bus")) != NULL) {
            int32_t bi = group_find(&b->g[ST_BUS], k->value);
            if (bi < 0) {
                add_err(p, &k->pos, "meter %s: unknown bus \"%s\"", s->id, k->value);
            } else {
                x->bus = (uint32_t)bi;
                bus_ok = true;
            }
        }
        if (require(p, s, "unit_id") && get_int(p, s, "unit_id", 1, 247, &x->unit_id) && bus_ok) {
            for (size_t j = 0; j < i; j++) {
                const struct meter *o = &cfg->meters[j];
                if (o->bus == x->bus && o->unit_id == x->unit_id) {
                    add_err(p, &get(s, "unit_id")->pos,
                            "meter %s: unit_id %d on bus %s already used by meter %s (%s:%d)",
                            s->id, x->unit_id, cfg->buses[x->bus].id, o->id, o->pos.file,
                            o->pos.line);
                    break;
                }
            }
        }
        resolve_place(b, s, what, true, &x->dwelling, &x->building);
        if (get_int(p, s, "interval", 1, 86400, &x->interval_s) &&
            x->interval_s < FOYER_METER_INTERVAL_MIN_S)
            add_err(p, &get(s, "interval")->pos,
                    "meter %s: interval %d s is too short (at least %d s: readings are stamped "
                    "to the second, and two polls jittered less than a second apart would "
                    "share one)",
                    s->id, x->interval_s, FOYER_METER_INTERVAL_MIN_S);
        (void)get_bool(p, s, "submeter", &x->submeter);
    }
}

/* Resolve "device.NAME = PLACE" for a wildcard sensor: PLACE is a dwelling
 * ID, else a building ID, or "-" for the section's own dwelling/building. */
static bool device_place(struct build *b, const struct rsec *s, const struct sensor *x,
                         const struct rkey *k, struct sensor_dev *d)
{
    struct parser *p = b->p;
    int32_t di = group_find(&b->g[ST_DWELLING], k->value);
    int32_t bi = group_find(&b->g[ST_BUILDING], k->value);

    if (strcmp(k->value, "-") == 0) {
        if (x->dwelling < 0 && x->building < 0) {
            add_err(p, &k->pos,
                    "sensor %s: %s = - needs the section's \"dwelling\" or \"building\"", s->id,
                    k->name);
            return false;
        }
        d->dwelling = x->dwelling;
        d->building = x->building;
        return true;
    }
    if (di >= 0 && bi >= 0) {
        add_err(p, &k->pos, "sensor %s: %s: \"%s\" is both a dwelling and a building", s->id,
                k->name, k->value);
        return false;
    }
    if (di < 0 && bi < 0) {
        add_err(p, &k->pos, "sensor %s: %s: unknown dwelling or building \"%s\"", s->id, k->name,
                k->value);
        return false;
    }
    d->dwelling = di;
    d->building = bi;
    if (di >= 0) {
        uint32_t db = p->cfg->dwellings[di].building;
        d->building = db == UINT32_MAX ? -1 : (int32_t)db;
    }
    return true;
}

/* The device.NAME keys of sensor i.  A topic with a wildcard covers several
 * devices, named by the level the first "+" (or "#") matches; each must be
 * listed, so that its channels (NAME.FIELD) exist with a place from the
 * start.  Without a wildcard, device keys are an error. */
static void build_sensor_devices(struct build *b, size_t i, const struct rsec *s,
                                 const struct sensor *x, bool wild)
{
    struct parser *p = b->p;
    size_t n = 0;

    for (size_t j = 0; j < s->n_keys; j++)
        n += strncmp(s->keys[j].name, "device.", 7) == 0;
    if (!wild) {
        for (size_t j = 0; j < s->n_keys; j++)
            if (strncmp(s->keys[j].name, "device.", 7) == 0)
                add_err(p, &s->keys[j].pos,
                        "sensor %s: %s applies only to a topic with \"+\" or \"#\"", s->id,
                        s->keys[j].name);
        return;
    }
    if (n == 0) {
        add_err(p, &s->pos,
                "sensor %s: topic \"%s\" has a wildcard: list its devices with "
                "device.NAME = DWELLING or BUILDING",
                s->id, x->topic);
        return;
    }
    if (!b->sensor_devs)
        return;
    b->sensor_devs[i] = p_calloc(p, n, sizeof(**b->sensor_devs));
    if (!b->sensor_devs[i])
        return;
    for (size_t j = 0; j < s->n_keys; j++) {
        const struct rkey *k = &s->keys[j];
        const char *name = k->name + 7;
        struct sensor_dev d = {.name = name, .pos = k->pos};

        if (strncmp(k->name, "device.", 7) != 0)
            continue;
        if (!conf_id_valid(name)) {
            add_err(p, &k->pos,
                    "sensor %s: bad device name \"%s\" (use 1 to %d letters, digits, \"_\" "
                    "or \"-\")",
                    s->id, name, FOYER_ID_MAX);
            continue;
        }
        /* Devices share the devices table with sensors and meters. */
        if (group_find(&b->g[ST_SENSOR], name) >= 0 || group_find(&b->g[ST_METER], name) >= 0) {
            add_err(p, &k->pos, "sensor %s: device \"%s\" has the ID of a sensor or meter", s->id,
                    name);
            continue;
        }
        if (!device_place(b, s, x, k, &d))
            continue;
        b->sensor_devs[i][b->n_sensor_devs[i]++] = d;
    }
}

static void build_sensors(struct build *b)
{
    struct parser *p = b->p;
    struct foyer_config *cfg = p->cfg;
    const struct group *g = &b->g[ST_SENSOR];

    cfg->sensors = p_calloc(p, g->n, sizeof(*cfg->sensors));
    b->sensor_devs = p_calloc(p, g->n, sizeof(*b->sensor_devs));
    b->n_sensor_devs = p_calloc(p, g->n, sizeof(*b->n_sensor_devs));
    if (!cfg->sensors || !b->sensor_devs || !b->n_sensor_devs)
        return;
    cfg->n_sensors = g->n;
    for (size_t i = 0; i < g->n; i++) {
        const struct rsec *s = g->v[i];
        struct sensor *x = &cfg->sensors[i];
        const struct rkey *k;
        char what[FOYER_ID_MAX + 16];
        int preset = PRESET_NONE;
        size_t n_custom = 0, cap, n_bad = 0;
        bool wild;

        (void)snprintf(what, sizeof(what), "sensor %s", s->id);
        memcpy(x->id, s->id, sizeof(x->id));
        x->pos = s->pos;
        x->interval_s = 300;
        x->stale_after = 3;
        if ((k = require(p, s, "topic")) != NULL) {
            if (!topic_valid(k->value))
                bad_value(p, s, k,
                          "an MQTT topic; \"+\" and \"#\" fill a whole level, \"#\" only last");
            else if (!mqtt_string_valid(k->value))
                bad_value(p, s, k, "an MQTT topic in UTF-8, without control characters");
            else
                x->topic = p_strdup(p, k->value);
        }
        (void)get_enum(p, s, "preset", preset_names, N_ELEMS(preset_names), &preset);
        x->preset = (enum sensor_preset)preset;
        wild = x->topic && strpbrk(x->topic, "+#") != NULL;
        /* A wildcard sensor's devices have their own places: the section's
         * is only the default for "device.NAME = -". */
        resolve_place(b, s, what, !wild, &x->dwelling, &x->building);
        build_sensor_devices(b, i, s, x, wild);
        (void)get_int(p, s, "interval", 1, 86400, &x->interval_s);
        (void)get_int(p, s, "stale_after", 1, 1000, &x->stale_after);
        (void)get_bool(p, s, "submeter", &x->submeter);
        if ((k = get(s, "timestamp_field")) != NULL) {
            if (!json_path_valid(k->value))
                bad_value(p, s, k, "a JSON path like \"time\" or \"status.ts\"");
            else
                x->timestamp_field = p_strdup(p, k->value);
        }

        for (size_t j = 0; j < s->n_keys; j++)
            n_custom += strncmp(s->keys[j].name, "channel.", 8) == 0;
        cap = presets[preset].n + n_custom;
        x->fields = p_calloc(p, cap, sizeof(*x->fields));
        if (!x->fields)
            continue;
        for (size_t j = 0; j < presets[preset].n; j++) {
            const struct preset_field *pf = &presets[preset].fields[j];
            struct sensor_field *f = &x->fields[x->n_fields++];
            memcpy(f->name, pf->name, strlen(pf->name) + 1);
            f->path = p_strdup(p, pf->path);
            f->quantity = pf->quantity;
            f->scale = pf->scale;
        }
        for (size_t j = 0; j < s->n_keys; j++) {
            const struct rkey *ck = &s->keys[j];
            const char *fname = ck->name + 8;
            char val[FOYER_CONF_LINE_MAX + 1], *parts[4] = {0}, *tok;
            size_t np = 0;
            struct sensor_field nf = {.scale = 1};
            int q;
            size_t slot;

            if (strncmp(ck->name, "channel.", 8) != 0)
                continue;
            n_bad++; /* until it is taken */
            if (!conf_id_valid(fname)) {
                add_err(p, &ck->pos,
                        "sensor %s: bad channel name \"%s\" (use 1 to %d letters, digits, "
                        "\"_\" or \"-\")",
                        s->id, fname, FOYER_ID_MAX);
                continue;
            }
            (void)snprintf(val, sizeof(val), "%s", ck->value);
            /* strtok_r would merge empty fields: split by hand. */
            tok = val;
            while (np < 4) {
                char *comma = strchr(tok, ',');
                if (comma)
                    *comma = '\0';
                parts[np++] = trim(tok);
                if (!comma)
                    break;
                tok = comma + 1;
            }
            if (np < 2 || np > 3 || !parts[0][0] ||
                (strcmp(parts[0], "-") != 0 && !json_path_valid(parts[0]))) {
                bad_value(p, s, ck, "PATH, QUANTITY[, SCALE] with PATH a JSON path or \"-\"");
                continue;
            }
            q = find_name(quantity_names, Q_COUNT_, parts[1]);
            if (q < 0) {
                char exp[256], msg[300];
                expected_list(quantity_names, Q_COUNT_, exp, sizeof(exp));
                (void)snprintf(msg, sizeof(msg), "a quantity, %s", exp);
                bad_value(p, s, ck, msg);
                continue;
            }
            if (np == 3 && (!parse_num(parts[2], &nf.scale) || nf.scale == 0)) {
                bad_value(p, s, ck, "a SCALE number other than 0");
                continue;
            }
            memcpy(nf.name, fname, strlen(fname) + 1);
            nf.quantity = (enum quantity)q;
            nf.path = p_strdup(p, strcmp(parts[0], "-") == 0 ? "" : parts[0]);
            for (slot = 0; slot < x->n_fields; slot++)
                if (strcmp(x->fields[slot].name, fname) == 0)
                    break;
            if (slot < x->n_fields)
                free(x->fields[slot].path);
            else
                x->n_fields++;
            x->fields[slot] = nf;
            n_bad--;
        }
        if (x->n_fields == 0 && n_bad == 0)
            add_err(p, &s->pos, "sensor %s: no fields (set a preset or channel.NAME keys)", s->id);
    }
}

static void build_channels(struct build *b)
{
    struct parser *p = b->p;
    struct foyer_config *cfg = p->cfg;
    size_t n = b->g[ST_CHANNEL].n, c;

    for (size_t i = 0; i < cfg->n_meters; i++)
        if (b->meter_profile_ok && b->meter_profile_ok[i])
            n += cfg->profiles[cfg->meters[i].profile].n_regs;
    for (size_t i = 0; i < cfg->n_sensors; i++) {
        size_t nd = b->n_sensor_devs && b->n_sensor_devs[i] ? b->n_sensor_devs[i] : 1;
        if (cfg->sensors[i].n_fields > (FOYER_CHANNELS_MAX + 1) / nd)
            nd = (FOYER_CHANNELS_MAX + 1) / cfg->sensors[i].n_fields; /* no overflow */
        n += cfg->sensors[i].n_fields * nd;
    }
    if (n > FOYER_CHANNELS_MAX) {
        struct conf_pos pos = {cfg->main_file, 0};
        add_err(p, &pos, "too many channels: %zu (max %d)", n, FOYER_CHANNELS_MAX);
        return;
    }
    cfg->channels = p_calloc(p, n, sizeof(*cfg->channels));
    if (!cfg->channels)
        return;
    cfg->n_channels = n;
    build_channel_sections(b);
    c = b->g[ST_CHANNEL].n;
    for (size_t i = 0; i < cfg->n_meters; i++) {
        struct meter *m = &cfg->meters[i];
        const struct profile *pr;
        m->first_channel = (uint32_t)c;
        if (!b->meter_profile_ok[i])
            continue;
        pr = &cfg->profiles[m->profile];
        for (size_t r = 0; r < pr->n_regs; r++) {
            struct channel *x = &cfg->channels[c++];
            const struct profile_register *reg = &pr->regs[r];
            (void)snprintf(x->id, sizeof(x->id), "%s.%s", m->id, reg->name);
            x->dwelling = m->dwelling;
            x->building = m->building;
            x->quantity = reg->quantity;
            x->kind = reg->kind;
            x->unit = reg->unit;
            x->max_rate = x->kind == KIND_COUNTER ? default_rate(x->quantity, x->dwelling) : 0;
            x->resolution = x->kind == KIND_COUNTER ? register_resolution(reg) : 0;
            x->min_value = reg->min_value;
            x->max_value = reg->max_value;
            x->meter = (int32_t)i;
            x->sensor = -1;
            x->reg = (int32_t)r;
            x->submeter = m->submeter;
            x->pos = m->pos;
        }
    }
    /* A sensor's channels: SENSOR.FIELD for each field, or for a wildcard
     * sensor DEVICE.FIELD for each device (device-major: device d's field f
     * is first_channel + d * n_fields + f), at the device's place. */
    for (size_t i = 0; i < cfg->n_sensors; i++) {
        struct sensor *se = &cfg->sensors[i];
        size_t nd = b->n_sensor_devs[i] ? b->n_sensor_devs[i] : 1;
        se->first_channel = (uint32_t)c;
        for (size_t f = 0; f < se->n_fields * nd; f++) {
            struct channel *x = &cfg->channels[c++];
            const struct sensor_field *sf = &se->fields[f % se->n_fields];
            const struct sensor_dev *dv =
                b->n_sensor_devs[i] ? &b->sensor_devs[i][f / se->n_fields] : NULL;
            (void)snprintf(x->id, sizeof(x->id), "%s.%s", dv ? dv->name : se->id, sf->name);
            x->dwelling = dv ? dv->dwelling : se->dwelling;
            x->building = dv ? dv->building : se->building;
            x->quantity = sf->quantity;
            x->kind = qinfo[sf->quantity].kind;
            x->unit = qinfo[sf->quantity].unit;
            x->max_rate = x->kind == KIND_COUNTER ? default_rate(x->quantity, x->dwelling) : 0;
            x->resolution = x->kind == KIND_COUNTER ? qinfo[x->quantity].resolution : 0;
            x->min_value = qinfo[sf->quantity].min;
            x->max_value = qinfo[sf->quantity].max;
            x->meter = -1;
            x->sensor = (int32_t)i;
            x->reg = -1;
            x->submeter = se->submeter;
            x->pos = dv ? dv->pos : se->pos;
        }
    }
}

struct chan_ref {
    const char *id;
    uint32_t i;
};

static int cmp_chan_ref(const void *a, const void *b)
{
    const struct chan_ref *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    if (c)
        return c;
    return x->i < y->i ? -1 : x->i > y->i;
}

static void build_channel_order(struct parser *p)
{
    struct foyer_config *cfg = p->cfg;
    uint32_t *o = p_calloc(p, cfg->n_channels, sizeof(*o));
    struct chan_ref *refs = p_calloc(p, cfg->n_channels, sizeof(*refs));
    if (!o || !refs) {
        free(o);
        free(refs);
        return;
    }
    for (size_t i = 0; i < cfg->n_channels; i++)
        refs[i] = (struct chan_ref){cfg->channels[i].id, (uint32_t)i};
    qsort(refs, cfg->n_channels, sizeof(*refs), cmp_chan_ref);
    for (size_t i = 0; i < cfg->n_channels; i++)
        o[i] = refs[i].i;
    free(refs);
    for (size_t i = 1; i < cfg->n_channels; i++) {
        const struct channel *first = &cfg->channels[o[i - 1]], *x = &cfg->channels[o[i]];
        if (strcmp(first->id, x->id) == 0) {
            size_t j = i - 1;
            while (j > 0 && strcmp(cfg->channels[o[j - 1]].id, x->id) == 0)
                j--;
            first = &cfg->channels[o[j]];
            add_err(p, &x->pos, "duplicate channel \"%s\" (first defined at %s:%d)", x->id,
                    first->pos.file, first->pos.line);
        }
    }
    cfg->channel_order = o;
}

static void build_mqtt(struct build *b)
{
    struct parser *p = b->p;
    struct mqtt_conf *m = &p->cfg->mqtt;
    const struct rsec *s;

    m->port = 1883;
    m->tls_verify = true;
    m->protocol = 5;
    m->keepalive_s = 60;
    m->session_expiry_s = 86400;
    m->qos = 1;
    if (!b->g[ST_MQTT].n)
        return;
    s = b->g[ST_MQTT].v[0];
    m->enabled = true;
    m->pos = s->pos;
    m->host = p_strdup(p, "127.0.0.1");
    (void)get_str(p, s, "host", &m->host);
    (void)get_bool(p, s, "tls", &m->tls);
    if (m->tls)
        m->port = 8883;
    (void)get_int(p, s, "port", 1, 65535, &m->port);
    (void)get_str(p, s, "client_id", &m->client_id);
    (void)get_str(p, s, "username", &m->username);
    (void)get_path(p, s, "password_file", &m->password_file);
    (void)get_path(p, s, "ca_file", &m->ca_file);
    (void)get_path(p, s, "cert_file", &m->cert_file);
    (void)get_path(p, s, "key_file", &m->key_file);
    (void)get_bool(p, s, "tls_verify", &m->tls_verify);
    if (get(s, "protocol") && strcmp(get(s, "protocol")->value, "5") != 0 &&
        strcmp(get(s, "protocol")->value, "311") != 0)
        bad_value(p, s, get(s, "protocol"), "5 or 311");
    else
        (void)get_int(p, s, "protocol", 5, 311, &m->protocol);
    (void)get_int(p, s, "keepalive", 5, 65535, &m->keepalive_s);
    (void)get_int(p, s, "session_expiry", 0, INT32_MAX, &m->session_expiry_s);
    (void)get_int(p, s, "qos", 0, 2, &m->qos);
    if ((get(s, "cert_file") != NULL) != (get(s, "key_file") != NULL)) {
        const struct rkey *k = get(s, "cert_file") ? get(s, "cert_file") : get(s, "key_file");
        add_err(p, &k->pos, "mqtt: cert_file and key_file go together");
    }
    /* What foyerd's MQTT client refuses when it starts. */
    if (m->client_id && !mqtt_string_valid(m->client_id))
        bad_value(p, s, get(s, "client_id"), "UTF-8 text without control characters");
    if (m->username && !mqtt_string_valid(m->username))
        bad_value(p, s, get(s, "username"), "UTF-8 text without control characters");
    if (m->username && m->password_file)
        file_check(p, get(s, "password_file"), m->password_file, "mqtt");
    if (m->tls) {
        static const char *const tls_files[] = {"ca_file", "cert_file", "key_file"};
        const char *const paths[] = {m->ca_file, m->cert_file, m->key_file};
        for (size_t i = 0; i < N_ELEMS(tls_files); i++)
            if (paths[i])
                file_check(p, get(s, tls_files[i]), paths[i], "mqtt");
    }
}

static void build_http(struct build *b)
{
    struct parser *p = b->p;
    struct http_conf *h = &p->cfg->http;
    const struct rsec *s;

    h->port = 8080;
    if (!b->g[ST_HTTP].n)
        return;
    s = b->g[ST_HTTP].v[0];
    h->enabled = true;
    h->pos = s->pos;
    h->listen = p_strdup(p, "127.0.0.1");
    h->web_dir = p_strdup(p, FOYER_WEBDIR);
    (void)get_str(p, s, "listen", &h->listen);
    (void)get_int(p, s, "port", 1, 65535, &h->port);
    (void)get_path(p, s, "tokens_file", &h->tokens_file);
    (void)get_path(p, s, "web_dir", &h->web_dir);
}

static void build_push(struct build *b)
{
    struct parser *p = b->p;
    struct foyer_config *cfg = p->cfg;
    const struct group *g = &b->g[ST_PUSH];

    cfg->push = p_calloc(p, g->n, sizeof(*cfg->push));
    if (!cfg->push)
        return;
    cfg->n_push = g->n;
    for (size_t i = 0; i < g->n; i++) {
        const struct rsec *s = g->v[i];
        struct push_endpoint *x = &cfg->push[i];
        const struct rkey *k;

        char what[FOYER_ID_MAX + 8];

        (void)snprintf(what, sizeof(what), "push%s%s", s->id[0] ? " " : "", s->id);
        memcpy(x->id, s->id, sizeof(x->id));
        x->pos = s->pos;
        x->tls_verify = true;
        x->timeout_s = 10;
        x->max_age_s = 7 * 86400;
        if ((k = require(p, s, "url")) != NULL) {
            if ((strncmp(k->value, "http://", 7) != 0 || !k->value[7]) &&
                (strncmp(k->value, "https://", 8) != 0 || !k->value[8]))
                bad_value(p, s, k, "an http:// or https:// URL");
            else
                x->url = p_strdup(p, k->value);
        }
        if (get_path(p, s, "token_file", &x->token_file) && x->token_file)
            file_check(p, get(s, "token_file"), x->token_file, what);
        if (get_path(p, s, "ca_file", &x->ca_file) && x->ca_file)
            file_check(p, get(s, "ca_file"), x->ca_file, what);
        (void)get_bool(p, s, "tls_verify", &x->tls_verify);
        (void)get_int(p, s, "timeout", 1, 3600, &x->timeout_s);
        (void)get_int(p, s, "max_age", 60, 366 * 86400, &x->max_age_s);
    }
}

static void build_tariffs(struct build *b)
{
    struct parser *p = b->p;
    struct foyer_config *cfg = p->cfg;
    const struct group *g = &b->g[ST_TARIFF];

    cfg->tariffs = p_calloc(p, g->n, sizeof(*cfg->tariffs));
    if (!cfg->tariffs)
        return;
    cfg->n_tariffs = g->n;
    for (size_t i = 0; i < g->n; i++) {
        const struct rsec *s = g->v[i];
        struct tariff *x = &cfg->tariffs[i];
        const struct rkey *k;
        int q = 0, pu;
        bool water;

        memcpy(x->id, s->id, sizeof(x->id));
        x->pos = s->pos;
        x->building = -1;
        x->price_unit = price_unit_names[0];
        if (require(p, s, "quantity") && get_enum(p, s, "quantity", quantity_names, Q_COUNT_, &q)) {
            if (qinfo[q].kind != KIND_COUNTER) {
                k = get(s, "quantity");
                bad_value(p, s, k,
                          "a counter quantity: electricity, heat, gas, hot_water, cold_water");
            }
        }
        x->quantity = (enum quantity)q;
        water = q == Q_HOT_WATER || q == Q_COLD_WATER;
        pu = water ? 1 : 0;
        x->price_unit = price_unit_names[pu];
        if ((k = get(s, "price_unit")) != NULL &&
            get_enum(p, s, "price_unit", price_unit_names, N_ELEMS(price_unit_names), &pu) &&
            pu != (water ? 1 : 0))
            add_err(p, &k->pos, "tariff %s: price_unit for %s must be %s", s->id, qinfo[q].name,
                    price_unit_names[water ? 1 : 0]);
        if (require(p, s, "price"))
            (void)get_num(p, s, "price", NUM_NONNEG, &x->price_eur);
        (void)get_num(p, s, "subscription_eur_month", NUM_NONNEG, &x->subscription_eur_month);
        if (get_date(p, s, "valid_from", &x->valid_from_ymd) &&
            get_date(p, s, "valid_to", &x->valid_to_ymd) && x->valid_from_ymd && x->valid_to_ymd &&
            x->valid_to_ymd < x->valid_from_ymd) {
            char d1[16], d2[16];
            add_err(p, &get(s, "valid_to")->pos, "tariff %s: valid_to %s is before valid_from %s",
                    s->id, fmt_date(x->valid_to_ymd, d1, sizeof(d1)),
                    fmt_date(x->valid_from_ymd, d2, sizeof(d2)));
        }
        if ((k = get(s, "building")) != NULL) {
            x->building = group_find(&b->g[ST_BUILDING], k->value);
            if (x->building < 0)
                add_err(p, &k->pos, "tariff %s: unknown building \"%s\"", s->id, k->value);
        }
    }
}

/* ---------------------------------------------------------------------- */
/* Load and free                                                           */

static int cmp_perr(const void *a, const void *b)
{
    const struct perr *x = a, *y = b;
    if (x->file != y->file)
        return x->file < y->file ? -1 : 1;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

struct foyer_config *config_load(const char *path, struct conf_errors *errs)
{
    struct parser p = {0};
    struct build b = {.p = &p};
    struct rsecs raw = {0};
    struct foyer_config *cfg;

    errs->msgs = NULL;
    errs->n = 0;
    cfg = calloc(1, sizeof(*cfg));
    p.cfg = cfg;
    if (!cfg)
        goto out_oom;
    cfg->main_file = strdup(path);
    p.main_dir = cfg->main_file ? dir_of(&p, path) : NULL;
    if (!cfg->main_file || !p.main_dir)
        goto out_oom;

    parse_file(&p, &raw, false, path, NULL, NULL);
    for (int t = 0; t < ST_COUNT_; t++)
        if (!sec_defs[t].profile_file)
            group_build(&p, &raw, (enum sec_type)t, &b.g[t]);
    build_foyer(&b);
    build_buildings(&b);
    build_dwellings(&b);
    build_tenancies(&b);
    build_buses(&b);
    build_meters(&b);
    build_sensors(&b);
    build_channels(&b);
    build_channel_order(&p);
    build_mqtt(&b);
    build_http(&b);
    build_push(&b);
    build_tariffs(&b);

    for (int t = 0; t < ST_COUNT_; t++)
        group_free(&b.g[t]);
    free(b.meter_profile_ok);
    for (size_t i = 0; b.sensor_devs && i < cfg->n_sensors; i++)
        free(b.sensor_devs[i]);
    free(b.sensor_devs);
    free(b.n_sensor_devs);
    rsecs_free(&raw);
    free(p.pc);
    free(p.seen);
    free(p.main_dir);

    if (p.oom) {
        struct conf_pos pos = {path, 0};
        p.oom = false;
        add_err(&p, &pos, "out of memory");
    }
    if (p.n_errs == 0)
        return cfg;

    qsort(p.errs, p.n_errs, sizeof(*p.errs), cmp_perr);
    errs->msgs = calloc(p.n_errs, sizeof(*errs->msgs));
    if (errs->msgs) {
        for (size_t i = 0; i < p.n_errs; i++)
            errs->msgs[i] = p.errs[i].msg;
        errs->n = p.n_errs;
    } else {
        for (size_t i = 0; i < p.n_errs; i++)
            free(p.errs[i].msg);
    }
    free(p.errs);
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
    free(cfg->http.listen);
    free(cfg->http.tokens_file);
    free(cfg->http.web_dir);
    free(cfg->channel_order);
    free(cfg->main_file);
    for (size_t i = 0; i < cfg->n_files; i++)
        free(cfg->files[i]);
    free(cfg->files);
    free(cfg);
}

void conf_errors_free(struct conf_errors *errs)
{
    if (!errs)
        return;
    for (size_t i = 0; i < errs->n; i++)
        free(errs->msgs[i]);
    free(errs->msgs);
    errs->msgs = NULL;
    errs->n = 0;
}

/* ---------------------------------------------------------------------- */
/* Lookups                                                                 */

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

/* ---------------------------------------------------------------------- */
/* Dump and summary                                                        */

static void dump_str(FILE *out, const char *key, const char *v)
{
    if (v)
        fprintf(out, "%s = %s\n", key, v);
    else
        fprintf(out, "; %s (not set)\n", key);
}

static void dump_num(FILE *out, const char *key, double v)
{
    char b[40];
    fprintf(out, "%s = %s\n", key, fmt_num(v, b, sizeof(b)));
}

static void dump_place(FILE *out, const struct foyer_config *cfg, int32_t dwelling,
                       int32_t building)
{
    if (dwelling >= 0)
        fprintf(out, "dwelling = %s\n", cfg->dwellings[dwelling].id);
    else if (building >= 0)
        fprintf(out, "building = %s\n", cfg->buildings[building].id);
}

/* "electricity counter kWh, max_rate 36, range 0 .. 1e+15" */
static void dump_channel_desc(FILE *out, const struct channel *c)
{
    char a[40], b[40], r[40];
    fprintf(out, "%s %s %s", quantity_name(c->quantity), kind_name(c->kind), c->unit);
    if (c->kind == KIND_COUNTER) {
        fprintf(out, ", max_rate %s", fmt_num(c->max_rate, r, sizeof(r)));
        fprintf(out, ", resolution %s", fmt_num(c->resolution, r, sizeof(r)));
        if (c->rollover > 0)
            fprintf(out, ", rollover %s", fmt_num(c->rollover, r, sizeof(r)));
    }
    fprintf(out, ", range %s .. %s\n", fmt_num(c->min_value, a, sizeof(a)),
            fmt_num(c->max_value, b, sizeof(b)));
}

/* A sensor's channels; for a wildcard sensor, its device.NAME keys first.
 * The devices are not kept in struct sensor: they are the runs of n_fields
 * channels at first_channel (see build_channels), named DEVICE.FIELD. */
static void dump_sensor_devices(FILE *out, const struct foyer_config *cfg, size_t i)
{
    const struct sensor *s = &cfg->sensors[i];
    size_t n = 0;

    while (s->first_channel + n < cfg->n_channels &&
           cfg->channels[s->first_channel + n].sensor == (int32_t)i)
        n++;
    if (s->topic && strpbrk(s->topic, "+#") && s->n_fields) {
        for (size_t c = 0; c < n; c += s->n_fields) {
            const struct channel *ch = &cfg->channels[s->first_channel + c];
            const char *dot = strrchr(ch->id, '.');
            int len = dot ? (int)(dot - ch->id) : (int)strlen(ch->id);
            fprintf(out, "device.%.*s = %s\n", len, ch->id,
                    ch->dwelling >= 0   ? cfg->dwellings[ch->dwelling].id
                    : ch->building >= 0 ? cfg->buildings[ch->building].id
                                        : "-");
        }
    }
    for (size_t c = 0; c < n; c++) {
        const struct channel *ch = &cfg->channels[s->first_channel + c];
        fprintf(out, "; channel %s: ", ch->id);
        dump_channel_desc(out, ch);
    }
}

void config_dump(const struct foyer_config *cfg, FILE *out)
{
    char d1[16], d2[16], n1[40];

    fprintf(out, "; foyer configuration, normalised: every key with its effective value\n");
    fprintf(out, "[foyer]\n");
    dump_str(out, "database", cfg->database);
    dump_str(out, "timezone", cfg->timezone);
    dump_str(out, "profiles_dir", cfg->profiles_dir);
    fprintf(out, "raw_retention_days = %d\n", cfg->raw_retention_days);
    fprintf(out, "raw_retention_days_no_consent = %d\n", cfg->raw_retention_days_no_consent);
    fprintf(out, "batch_readings = %d\n", cfg->batch_readings);
    fprintf(out, "batch_deadline_ms = %d\n", cfg->batch_deadline_ms);
    dump_str(out, "log_level", cfg->log_level);
    fprintf(out, "future_tolerance_s = %d\n", cfg->future_tolerance_s);

    if (cfg->mqtt.enabled) {
        const struct mqtt_conf *m = &cfg->mqtt;
        fprintf(out, "\n[mqtt]\n");
        dump_str(out, "host", m->host);
        fprintf(out, "port = %d\n", m->port);
        dump_str(out, "client_id", m->client_id);
        dump_str(out, "username", m->username);
        dump_str(out, "password_file", m->password_file);
        fprintf(out, "tls = %s\n", m->tls ? "true" : "false");
        dump_str(out, "ca_file", m->ca_file);
        dump_str(out, "cert_file", m->cert_file);
        dump_str(out, "key_file", m->key_file);
        fprintf(out, "tls_verify = %s\n", m->tls_verify ? "true" : "false");
        fprintf(out, "protocol = %d\n", m->protocol);
        fprintf(out, "keepalive = %d\n", m->keepalive_s);
        fprintf(out, "session_expiry = %d\n", m->session_expiry_s);
        fprintf(out, "qos = %d\n", m->qos);
    } else {
        fprintf(out, "\n; no [mqtt] section\n");
    }
    if (cfg->http.enabled) {
        const struct http_conf *h = &cfg->http;
        fprintf(out, "\n[http]\n");
        dump_str(out, "listen", h->listen);
        fprintf(out, "port = %d\n", h->port);
        dump_str(out, "tokens_file", h->tokens_file);
        dump_str(out, "web_dir", h->web_dir);
    } else {
        fprintf(out, "\n; no [http] section\n");
    }

    for (size_t i = 0; i < cfg->n_buildings; i++) {
        fprintf(out, "\n[building %s]\n", cfg->buildings[i].id);
        dump_str(out, "name", cfg->buildings[i].name);
    }
    for (size_t i = 0; i < cfg->n_dwellings; i++) {
        const struct dwelling *d = &cfg->dwellings[i];
        fprintf(out, "\n[dwelling %s]\n", d->id);
        fprintf(out, "building = %s\n", cfg->buildings[d->building].id);
        dump_str(out, "label", d->label);
        dump_num(out, "surface_m2", d->surface_m2);
        fprintf(out, "heating = %s\n", heating_name(d->heating));
        fprintf(out, "consent = %s\n", d->consent ? "true" : "false");
    }
    for (size_t i = 0; i < cfg->n_tenancies; i++) {
        const struct tenancy *t = &cfg->tenancies[i];
        fprintf(out, "\n[tenancy %s]\n", t->id);
        fprintf(out, "dwelling = %s\n", cfg->dwellings[t->dwelling].id);
        fprintf(out, "start = %s\n", fmt_date(t->start_ymd, d1, sizeof(d1)));
        if (t->end_ymd)
            fprintf(out, "end = %s\n", fmt_date(t->end_ymd, d2, sizeof(d2)));
        else
            fprintf(out, "; end (not set: running)\n");
    }
    for (size_t i = 0; i < cfg->n_channels; i++) {
        const struct channel *c = &cfg->channels[i];
        if (c->meter >= 0 || c->sensor >= 0)
            continue;
        fprintf(out, "\n[channel %s]\n", c->id);
        dump_place(out, cfg, c->dwelling, c->building);
        fprintf(out, "quantity = %s\nkind = %s\nunit = %s\n", quantity_name(c->quantity),
                kind_name(c->kind), c->unit);
        if (c->kind == KIND_COUNTER) {
            if (c->rollover > 0)
                dump_num(out, "rollover", c->rollover);
            else
                fprintf(out, "; rollover (not set)\n");
            dump_num(out, "max_rate", c->max_rate);
            dump_num(out, "resolution", c->resolution);
        }
        if (c->submeter)
            fprintf(out, "submeter = true\n");
        fprintf(out, "; range %s .. %s\n", fmt_num(c->min_value, d1, sizeof(d1)),
                fmt_num(c->max_value, n1, sizeof(n1)));
    }
    for (size_t i = 0; i < cfg->n_buses; i++) {
        const struct bus *b = &cfg->buses[i];
        fprintf(out, "\n[bus %s]\n", b->id);
        fprintf(out, "type = %s\n", bus_type_names[b->type]);
        if (b->type == BUS_TCP) {
            dump_str(out, "host", b->host);
            fprintf(out, "port = %d\n", b->port);
        } else {
            dump_str(out, "device", b->device);
            fprintf(out, "baud = %d\nparity = %s\ndata_bits = %d\nstop_bits = %d\n", b->baud,
                    parity_names[b->parity], b->data_bits, b->stop_bits);
            fprintf(out, "rs485 = %s\n", b->rs485 ? "true" : "false");
        }
        fprintf(out, "timeout_ms = %d\nframe_delay_ms = %d\noffline_after = %d\n", b->timeout_ms,
                b->frame_delay_ms, b->offline_after);
    }
    for (size_t i = 0; i < cfg->n_meters; i++) {
        const struct meter *m = &cfg->meters[i];
        const struct profile *pr = &cfg->profiles[m->profile];
        fprintf(out, "\n[meter %s]\n", m->id);
        fprintf(out, "profile = %s\n", pr->name);
        fprintf(out, "bus = %s\nunit_id = %d\n", cfg->buses[m->bus].id, m->unit_id);
        dump_place(out, cfg, m->dwelling, m->building);
        fprintf(out, "interval = %d\n", m->interval_s);
        if (m->submeter)
            fprintf(out, "submeter = true\n");
        fprintf(out, "; model %s\n", pr->model ? pr->model : "(not set)");
        for (size_t r = 0; r < pr->n_regs; r++) {
            const struct profile_register *reg = &pr->regs[r];
            const struct channel *c = &cfg->channels[m->first_channel + r];
            fprintf(out, "; channel %s: %s 0x%04X %s %s scale %s offset %s -> ", c->id,
                    function_names[reg->function], (unsigned)reg->address,
                    reg_type_names[reg->type], word_order_names[reg->order],
                    fmt_num(reg->scale, d1, sizeof(d1)), fmt_num(reg->offset, n1, sizeof(n1)));
            dump_channel_desc(out, c);
        }
    }
    for (size_t i = 0; i < cfg->n_sensors; i++) {
        const struct sensor *s = &cfg->sensors[i];
        fprintf(out, "\n[sensor %s]\n", s->id);
        dump_str(out, "topic", s->topic);
        fprintf(out, "preset = %s\n", preset_names[s->preset]);
        dump_place(out, cfg, s->dwelling, s->building);
        fprintf(out, "interval = %d\nstale_after = %d\n", s->interval_s, s->stale_after);
        dump_str(out, "timestamp_field", s->timestamp_field);
        if (s->submeter)
            fprintf(out, "submeter = true\n");
        for (size_t f = 0; f < s->n_fields; f++) {
            const struct sensor_field *sf = &s->fields[f];
            fprintf(out, "channel.%s = %s, %s, %s\n", sf->name, sf->path[0] ? sf->path : "-",
                    quantity_name(sf->quantity), fmt_num(sf->scale, n1, sizeof(n1)));
        }
        dump_sensor_devices(out, cfg, i);
    }
    for (size_t i = 0; i < cfg->n_push; i++) {
        const struct push_endpoint *pe = &cfg->push[i];
        if (pe->id[0])
            fprintf(out, "\n[push %s]\n", pe->id);
        else
            fprintf(out, "\n[push]\n");
        dump_str(out, "url", pe->url);
        dump_str(out, "token_file", pe->token_file);
        dump_str(out, "ca_file", pe->ca_file);
        fprintf(out, "tls_verify = %s\ntimeout = %d\nmax_age = %d\n",
                pe->tls_verify ? "true" : "false", pe->timeout_s, pe->max_age_s);
    }
    for (size_t i = 0; i < cfg->n_tariffs; i++) {
        const struct tariff *t = &cfg->tariffs[i];
        fprintf(out, "\n[tariff %s]\n", t->id);
        fprintf(out, "quantity = %s\n", quantity_name(t->quantity));
        dump_num(out, "price", t->price_eur);
        fprintf(out, "price_unit = %s\n", t->price_unit);
        dump_num(out, "subscription_eur_month", t->subscription_eur_month);
        if (t->valid_from_ymd)
            fprintf(out, "valid_from = %s\n", fmt_date(t->valid_from_ymd, d1, sizeof(d1)));
        else
            fprintf(out, "; valid_from (not set)\n");
        if (t->valid_to_ymd)
            fprintf(out, "valid_to = %s\n", fmt_date(t->valid_to_ymd, d2, sizeof(d2)));
        else
            fprintf(out, "; valid_to (not set)\n");
        if (t->building >= 0)
            fprintf(out, "building = %s\n", cfg->buildings[t->building].id);
        else
            fprintf(out, "; building (not set: every building)\n");
    }
}

/* Append "N thing(s)" to buf at *off; keeps going silently once full. */
static void sum_item(char *buf, size_t len, size_t *off, size_t n, const char *one,
                     const char *many, const char *sep)
{
    int r;
    if (*off >= len)
        return;
    r = snprintf(buf + *off, len - *off, "%s%zu %s", sep, n, n == 1 ? one : many);
    if (r < 0 || (size_t)r >= len - *off)
        *off = len;
    else
        *off += (size_t)r;
}

void config_summary(const struct foyer_config *cfg, char *buf, size_t len)
{
    size_t off = 0, counters = 0;
    int r;

    if (!len)
        return;
    buf[0] = '\0';
    for (size_t i = 0; i < cfg->n_channels; i++)
        counters += cfg->channels[i].kind == KIND_COUNTER;
    sum_item(buf, len, &off, cfg->n_buildings, "building", "buildings", "");
    sum_item(buf, len, &off, cfg->n_dwellings, "dwelling", "dwellings", ", ");
    sum_item(buf, len, &off, cfg->n_tenancies, "tenancy", "tenancies", ", ");
    sum_item(buf, len, &off, cfg->n_channels, "channel", "channels", ", ");
    if (off < len) {
        size_t gauges = cfg->n_channels - counters;
        r = snprintf(buf + off, len - off, " (%zu %s, %zu %s)", counters,
                     counters == 1 ? "counter" : "counters", gauges,
                     gauges == 1 ? "gauge" : "gauges");
        off = (r < 0 || (size_t)r >= len - off) ? len : off + (size_t)r;
    }
    sum_item(buf, len, &off, cfg->n_buses, "bus", "buses", ", ");
    sum_item(buf, len, &off, cfg->n_meters, "meter", "meters", ", ");
    sum_item(buf, len, &off, cfg->n_sensors, "sensor", "sensors", ", ");
    sum_item(buf, len, &off, cfg->n_push, "push endpoint", "push endpoints", ", ");
    sum_item(buf, len, &off, cfg->n_tariffs, "tariff", "tariffs", ", ");
}
