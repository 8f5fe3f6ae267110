/*
 * conf_build_devices.c - building what measures: the Modbus buses, the
 * meter profiles (PROFILES_DIR/NAME.conf, read once each), the meters, the
 * MQTT sensors with their presets and wildcard devices, and from them every
 * channel, with the index of channels by ID.
 *
 * Channels are laid out as: the [channel] sections in file order, then each
 * meter's channels (one per profile register, contiguous at
 * meter->first_channel), then each sensor's channels (one per field,
 * contiguous at sensor->first_channel; for a wildcard sensor one run of
 * fields per listed device, device by device).  The drivers and the dump
 * rely on that layout.
 */
#include "conf_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>

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

/* A device of a wildcard sensor (device.NAME = PLACE), kept while building:
 * its channels are NAME.FIELD, at its place. */
struct conf_sensor_dev {
    const char *name; /* borrowed from the raw key, "device." skipped */
    struct conf_pos pos;
    int32_t dwelling; /* or -1 */
    int32_t building;
};

/* Resolve "dwelling = X" / "building = Y" (exactly one): sets both indexes
 * (a dwelling's building too).  what = "meter m12". */
static void resolve_place(struct conf_build *b, const struct conf_sec *s, const char *what,
                          bool required, int32_t *ret_dwelling, int32_t *ret_building)
{
    struct conf_parser *p = b->p;
    const struct conf_key *kd = conf_get(s, "dwelling"), *kb = conf_get(s, "building");
    struct foyer_config *cfg = p->cfg;

    *ret_dwelling = -1;
    *ret_building = -1;
    if (kd && kb) {
        const struct conf_key *later = kd->pos.line > kb->pos.line ? kd : kb;
        conf_err(p, &later->pos, "%s: set only one of \"dwelling\" and \"building\"", what);
        return;
    }
    if (!kd && !kb) {
        if (required)
            conf_err(p, &s->pos, "%s: missing \"dwelling\" or \"building\"", what);
        return;
    }
    if (kd) {
        int32_t d = conf_group_find(&b->g[SEC_DWELLING], kd->value);
        if (d < 0) {
            conf_err(p, &kd->pos, "%s: unknown dwelling \"%s\"", what, kd->value);
            return;
        }
        *ret_dwelling = d;
        *ret_building = (int32_t)cfg->dwellings[d].building;
        if (cfg->dwellings[d].building == UINT32_MAX)
            *ret_building = -1;
    } else {
        int32_t bi = conf_group_find(&b->g[SEC_BUILDING], kb->value);
        if (bi < 0) {
            conf_err(p, &kb->pos, "%s: unknown building \"%s\"", what, kb->value);
            return;
        }
        *ret_building = bi;
    }
}

static void build_buses(struct conf_build *b)
{
    struct conf_parser *p = b->p;
    struct foyer_config *cfg = p->cfg;
    const struct conf_group *g = &b->g[SEC_BUS];
    static const char *const tcp_only[] = {"host", "port"};
    static const char *const rtu_only[] = {"device",    "baud",      "parity",
                                           "data_bits", "stop_bits", "rs485"};

    cfg->buses = conf_calloc(p, g->n, sizeof(*cfg->buses));
    if (!cfg->buses)
        return;
    cfg->n_buses = g->n;
    for (size_t i = 0; i < g->n; i++) {
        const struct conf_sec *s = g->v[i];
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
        if (!conf_require(p, s, "type") ||
            !conf_get_enum(p, s, "type", conf_bus_type_names, N_ELEMS(conf_bus_type_names), &t))
            continue;
        x->type = (enum bus_type)t;
        x->frame_delay_ms = x->type == BUS_RTU ? 5 : 0;
        if (x->type == BUS_TCP) {
            struct in_addr a;
            const struct conf_key *k = conf_require(p, s, "host");
            /* libmodbus's TCP backend connects to a dotted IPv4 address
             * only: it resolves no name, and refuses a longer string at
             * foyerd's start. */
            if (k && inet_pton(AF_INET, k->value, &a) != 1)
                conf_bad_value(p, s, k, "an IPv4 address like 192.0.2.10");
            else if (k)
                (void)conf_get_str(p, s, "host", &x->host);
            (void)conf_get_int(p, s, "port", 1, 65535, &x->port);
            other = rtu_only;
            n_other = N_ELEMS(rtu_only);
        } else {
            if (conf_require(p, s, "device"))
                (void)conf_get_str(p, s, "device", &x->device);
            (void)conf_get_int(p, s, "baud", 300, 4000000, &x->baud);
            (void)conf_get_enum(p, s, "parity", conf_parity_names, N_ELEMS(conf_parity_names),
                                &par);
            x->parity = (enum parity)par;
            (void)conf_get_int(p, s, "data_bits", 7, 8, &x->data_bits);
            (void)conf_get_int(p, s, "stop_bits", 1, 2, &x->stop_bits);
            (void)conf_get_bool(p, s, "rs485", &x->rs485);
            other = tcp_only;
            n_other = N_ELEMS(tcp_only);
        }
        for (size_t j = 0; j < n_other; j++) {
            const struct conf_key *k = conf_get(s, other[j]);
            if (k)
                conf_err(p, &k->pos, "bus %s: \"%s\" does not apply to a %s bus", s->id, k->name,
                         conf_bus_type_names[t]);
        }
        (void)conf_get_int(p, s, "timeout_ms", 1, 60000, &x->timeout_ms);
        (void)conf_get_int(p, s, "frame_delay_ms", 0, 10000, &x->frame_delay_ms);
        (void)conf_get_int(p, s, "offline_after", 1, 1000, &x->offline_after);
    }
}

/* Check quantity/kind/unit keys of a [channel] or [register] section. */
static bool quantity_keys(struct conf_parser *p, const struct conf_sec *s, const char *what,
                          enum quantity *ret_q, enum channel_kind *ret_kind)
{
    const struct conf_key *k;
    int q = 0, kind;

    if (!conf_require(p, s, "quantity") ||
        !conf_get_enum(p, s, "quantity", conf_quantity_names, Q_COUNT_, &q))
        return false;
    *ret_q = (enum quantity)q;
    *ret_kind = conf_qinfo[q].kind;
    kind = (int)conf_qinfo[q].kind;
    if (conf_get_enum(p, s, "kind", conf_kind_names, N_ELEMS(conf_kind_names), &kind) &&
        kind != (int)conf_qinfo[q].kind) {
        k = conf_get(s, "kind");
        conf_err(p, &k->pos, "%s: kind \"%s\" does not match quantity %s (expected %s)", what,
                 k->value, conf_quantity_names[q], conf_kind_names[conf_qinfo[q].kind]);
    }
    if ((k = conf_get(s, "unit")) != NULL && strcmp(k->value, conf_qinfo[q].unit) != 0)
        conf_err(p, &k->pos, "%s: unit \"%s\" does not match quantity %s (expected \"%s\")", what,
                 k->value, conf_quantity_names[q], conf_qinfo[q].unit);
    return true;
}

static double default_rate(enum quantity q, int32_t dwelling)
{
    return dwelling >= 0 ? conf_qinfo[q].rate_dwelling : conf_qinfo[q].rate_building;
}

/* A counter register's resolution: as set, else the unit's default, or an
 * integer register's scale when coarser (a u32 of 0.1 kWh steps by 0.1). */
static double register_resolution(const struct profile_register *reg)
{
    double r = conf_qinfo[reg->quantity].resolution;
    if (reg->resolution > 0)
        return reg->resolution;
    if (reg->type != RT_FLOAT32 && reg->type != RT_FLOAT64 && fabs(reg->scale) > r)
        return fabs(reg->scale);
    return r;
}

static void build_channel_sections(struct conf_build *b)
{
    struct conf_parser *p = b->p;
    struct foyer_config *cfg = p->cfg;
    const struct conf_group *g = &b->g[SEC_CHANNEL];
    char what[FOYER_ID_MAX + 16];

    for (size_t i = 0; i < g->n; i++) {
        const struct conf_sec *s = g->v[i];
        struct channel *x = &cfg->channels[i];
        const struct conf_key *k;

        memcpy(x->id, s->id, strlen(s->id) + 1);
        x->pos = s->pos;
        x->meter = x->sensor = x->reg = -1;
        (void)snprintf(what, sizeof(what), "channel %s", s->id);
        resolve_place(b, s, what, true, &x->dwelling, &x->building);
        if (!quantity_keys(p, s, what, &x->quantity, &x->kind)) {
            x->unit = "?";
            continue;
        }
        x->unit = conf_qinfo[x->quantity].unit;
        x->min_value = conf_qinfo[x->quantity].min;
        x->max_value = conf_qinfo[x->quantity].max;
        if (x->kind == KIND_COUNTER) {
            x->max_rate = default_rate(x->quantity, x->dwelling);
            x->resolution = conf_qinfo[x->quantity].resolution;
        }
        (void)conf_get_num(p, s, "rollover", CONF_NUM_POSITIVE, &x->rollover);
        (void)conf_get_num(p, s, "max_rate", CONF_NUM_POSITIVE, &x->max_rate);
        (void)conf_get_num(p, s, "resolution", CONF_NUM_POSITIVE, &x->resolution);
        (void)conf_get_bool(p, s, "submeter", &x->submeter);
        if (x->kind == KIND_GAUGE) {
            if ((k = conf_get(s, "rollover")) != NULL)
                conf_err(p, &k->pos, "%s: rollover applies only to counters", what);
            if ((k = conf_get(s, "max_rate")) != NULL)
                conf_err(p, &k->pos, "%s: max_rate applies only to counters", what);
            if ((k = conf_get(s, "resolution")) != NULL)
                conf_err(p, &k->pos, "%s: resolution applies only to counters", what);
            x->resolution = 0;
        }
    }
}

/* Parse a profile's raw sections into a struct profile. */
static bool build_profile(struct conf_parser *p, struct conf_secs *raw, const char *name,
                          const char *path, size_t n_err0, struct profile *ret)
{
    struct conf_build pb = {.p = p};
    struct profile pr = {0};
    const struct conf_group *g;

    memcpy(pr.name, name, strlen(name) + 1);
    pr.path = conf_strdup(p, path);
    conf_group_build(p, raw, SEC_PROFILE, &pb.g[SEC_PROFILE]);
    conf_group_build(p, raw, SEC_REGISTER, &pb.g[SEC_REGISTER]);
    if (pb.g[SEC_PROFILE].n)
        (void)conf_get_str(p, pb.g[SEC_PROFILE].v[0], "model", &pr.model);
    g = &pb.g[SEC_REGISTER];
    if (g->n == 0) {
        struct conf_pos pos = {conf_intern_file(p, path), 1};
        if (pb.g[SEC_PROFILE].n)
            pos = pb.g[SEC_PROFILE].v[0]->pos;
        if (pos.file)
            conf_err(p, &pos, "profile %s has no [register NAME] section", name);
    } else if (g->n > FOYER_PROFILE_REGISTERS_MAX) {
        conf_err(p, &g->v[FOYER_PROFILE_REGISTERS_MAX]->pos,
                 "profile %s: too many registers (max %d)", name, FOYER_PROFILE_REGISTERS_MAX);
    } else {
        pr.regs = conf_calloc(p, g->n, sizeof(*pr.regs));
        if (pr.regs)
            pr.n_regs = g->n;
    }
    for (size_t i = 0; pr.regs && i < pr.n_regs; i++) {
        const struct conf_sec *s = g->v[i];
        struct profile_register *r = &pr.regs[i];
        char what[FOYER_ID_MAX + 16];
        int fn = REG_INPUT, type = RT_U16, wo = WO_ABCD, addr = 0;
        static const int words[] = {1, 1, 2, 2, 4, 4, 2, 4};

        (void)snprintf(what, sizeof(what), "register %s", s->id);
        memcpy(r->name, s->id, sizeof(r->name));
        r->pos = s->pos;
        r->scale = 1;
        if (conf_require(p, s, "function"))
            (void)conf_get_enum(p, s, "function", conf_function_names, N_ELEMS(conf_function_names),
                                &fn);
        r->function = (enum reg_function)fn;
        if (conf_require(p, s, "type"))
            (void)conf_get_enum(p, s, "type", conf_reg_type_names, N_ELEMS(conf_reg_type_names),
                                &type);
        r->type = (enum reg_type)type;
        (void)conf_get_enum(p, s, "word_order", conf_word_order_names,
                            N_ELEMS(conf_word_order_names), &wo);
        r->order = (enum word_order)wo;
        if (conf_require(p, s, "address")) {
            const struct conf_key *k = conf_get(s, "address");
            long long a;
            if (!conf_parse_ll(k->value, true, &a) || a < 0 || a + words[type] > 65536) {
                char exp[64];
                (void)snprintf(exp, sizeof(exp), "0 to %d, decimal or 0x hex", 65536 - words[type]);
                conf_bad_value(p, s, k, exp);
            } else {
                addr = (int)a;
            }
        }
        r->address = (uint16_t)addr;
        (void)conf_get_num(p, s, "scale", CONF_NUM_NONZERO, &r->scale);
        (void)conf_get_num(p, s, "offset", CONF_NUM_ANY, &r->offset);
        if (!quantity_keys(p, s, what, &r->quantity, &r->kind)) {
            r->unit = "?";
            continue;
        }
        r->unit = conf_qinfo[r->quantity].unit;
        r->min_value = conf_qinfo[r->quantity].min;
        r->max_value = conf_qinfo[r->quantity].max;
        if (conf_get_num(p, s, "min", CONF_NUM_ANY, &r->min_value) &&
            conf_get_num(p, s, "max", CONF_NUM_ANY, &r->max_value) &&
            !(r->min_value < r->max_value)) {
            const struct conf_key *k = conf_get(s, "max") ? conf_get(s, "max") : conf_get(s, "min");
            char a[32], c[32];
            conf_err(p, &k->pos, "%s: min (%s) must be less than max (%s)", what,
                     conf_fmt_num(r->min_value, a, sizeof(a)),
                     conf_fmt_num(r->max_value, c, sizeof(c)));
        }
        (void)conf_get_num(p, s, "resolution", CONF_NUM_POSITIVE, &r->resolution);
        if (r->kind == KIND_GAUGE && conf_get(s, "resolution"))
            conf_err(p, &conf_get(s, "resolution")->pos, "%s: resolution applies only to counters",
                     what);
    }
    conf_group_free(&pb.g[SEC_PROFILE]);
    conf_group_free(&pb.g[SEC_REGISTER]);
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
static int32_t profile_get(struct conf_build *b, const struct conf_sec *meter,
                           const struct conf_key *k)
{
    struct conf_parser *p = b->p;
    struct foyer_config *cfg = p->cfg;
    struct conf_pcache *pc = NULL;
    struct conf_secs raw = {0};
    char *rel = NULL, *path = NULL;
    FILE *f;

    if (!conf_id_valid(k->value)) {
        conf_bad_value(p, meter, k, "a profile name: letters, digits, \"_\" or \"-\"");
        return -1;
    }
    for (size_t i = 0; i < p->n_pc; i++)
        if (strcmp(p->pc[i].name, k->value) == 0)
            pc = &p->pc[i];
    if (asprintf(&rel, "%s.conf", k->value) < 0) {
        p->oom = true;
        return -1;
    }
    path = conf_path_join(p, cfg->profiles_dir, rel);
    free(rel);
    if (!path)
        return -1;
    if (!pc) {
        struct conf_pcache *npc = reallocarray(p->pc, p->n_pc + 1, sizeof(*p->pc));
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
            conf_read_file(p, &raw, true, path, &k->pos);
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
            conf_secs_free(&raw);
        }
    }
    if (pc->err == ENOENT)
        conf_err(p, &k->pos, "meter %s: unknown profile \"%s\" (no file %s)", meter->id, k->value,
                 path);
    else if (pc->err)
        conf_err(p, &k->pos, "meter %s: cannot read profile \"%s\" (%s: %s)", meter->id, k->value,
                 path, conf_open_strerror(-pc->err));
    free(path);
    return pc->idx;
}

static void build_meters(struct conf_build *b)
{
    struct conf_parser *p = b->p;
    struct foyer_config *cfg = p->cfg;
    const struct conf_group *g = &b->g[SEC_METER];

    cfg->meters = conf_calloc(p, g->n, sizeof(*cfg->meters));
    b->meter_profile_ok = conf_calloc(p, g->n, sizeof(*b->meter_profile_ok));
    if (!cfg->meters || !b->meter_profile_ok)
        return;
    cfg->n_meters = g->n;
    for (size_t i = 0; i < g->n; i++) {
        const struct conf_sec *s = g->v[i];
        struct meter *x = &cfg->meters[i];
        const struct conf_key *k;
        char what[FOYER_ID_MAX + 16];
        bool bus_ok = false;

        (void)snprintf(what, sizeof(what), "meter %s", s->id);
        memcpy(x->id, s->id, sizeof(x->id));
        x->pos = s->pos;
        x->interval_s = 60;
        x->profile = UINT32_MAX;
        x->bus = UINT32_MAX;
        if ((k = conf_require(p, s, "profile")) != NULL) {
            int32_t pi = profile_get(b, s, k);
            if (pi >= 0) {
                x->profile = (uint32_t)pi;
                b->meter_profile_ok[i] = 1;
            }
        }
        if ((k = conf_require(p, s, "bus")) != NULL) {
            int32_t bi = conf_group_find(&b->g[SEC_BUS], k->value);
            if (bi < 0) {
                conf_err(p, &k->pos, "meter %s: unknown bus \"%s\"", s->id, k->value);
            } else {
                x->bus = (uint32_t)bi;
                bus_ok = true;
            }
        }
        if (conf_require(p, s, "unit_id") && conf_get_int(p, s, "unit_id", 1, 247, &x->unit_id) &&
            bus_ok) {
            for (size_t j = 0; j < i; j++) {
                const struct meter *o = &cfg->meters[j];
                if (o->bus == x->bus && o->unit_id == x->unit_id) {
                    conf_err(p, &conf_get(s, "unit_id")->pos,
                             "meter %s: unit_id %d on bus %s already used by meter %s (%s:%d)",
                             s->id, x->unit_id, cfg->buses[x->bus].id, o->id, o->pos.file,
                             o->pos.line);
                    break;
                }
            }
        }
        resolve_place(b, s, what, true, &x->dwelling, &x->building);
        if (conf_get_int(p, s, "interval", 1, 86400, &x->interval_s) &&
            x->interval_s < FOYER_METER_INTERVAL_MIN_S)
            conf_err(p, &conf_get(s, "interval")->pos,
                     "meter %s: interval %d s is too short (at least %d s: readings are stamped "
                     "to the second, and two polls jittered less than a second apart would "
                     "share one)",
                     s->id, x->interval_s, FOYER_METER_INTERVAL_MIN_S);
        (void)conf_get_bool(p, s, "submeter", &x->submeter);
    }
}

/* Resolve "device.NAME = PLACE" for a wildcard sensor: PLACE is a dwelling
 * ID, else a building ID, or "-" for the section's own dwelling/building. */
static bool device_place(struct conf_build *b, const struct conf_sec *s, const struct sensor *x,
                         const struct conf_key *k, struct conf_sensor_dev *d)
{
    struct conf_parser *p = b->p;
    int32_t di = conf_group_find(&b->g[SEC_DWELLING], k->value);
    int32_t bi = conf_group_find(&b->g[SEC_BUILDING], k->value);

    if (strcmp(k->value, "-") == 0) {
        if (x->dwelling < 0 && x->building < 0) {
            conf_err(p, &k->pos,
                     "sensor %s: %s = - needs the section's \"dwelling\" or \"building\"", s->id,
                     k->name);
            return false;
        }
        d->dwelling = x->dwelling;
        d->building = x->building;
        return true;
    }
    if (di >= 0 && bi >= 0) {
        conf_err(p, &k->pos, "sensor %s: %s: \"%s\" is both a dwelling and a building", s->id,
                 k->name, k->value);
        return false;
    }
    if (di < 0 && bi < 0) {
        conf_err(p, &k->pos, "sensor %s: %s: unknown dwelling or building \"%s\"", s->id, k->name,
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
static void build_sensor_devices(struct conf_build *b, size_t i, const struct conf_sec *s,
                                 const struct sensor *x, bool wild)
{
    struct conf_parser *p = b->p;
    size_t n = 0;

    for (size_t j = 0; j < s->n_keys; j++)
        n += strncmp(s->keys[j].name, "device.", 7) == 0;
    if (!wild) {
        for (size_t j = 0; j < s->n_keys; j++)
            if (strncmp(s->keys[j].name, "device.", 7) == 0)
                conf_err(p, &s->keys[j].pos,
                         "sensor %s: %s applies only to a topic with \"+\" or \"#\"", s->id,
                         s->keys[j].name);
        return;
    }
    if (n == 0) {
        conf_err(p, &s->pos,
                 "sensor %s: topic \"%s\" has a wildcard: list its devices with "
                 "device.NAME = DWELLING or BUILDING",
                 s->id, x->topic);
        return;
    }
    if (!b->sensor_devs)
        return;
    b->sensor_devs[i] = conf_calloc(p, n, sizeof(**b->sensor_devs));
    if (!b->sensor_devs[i])
        return;
    for (size_t j = 0; j < s->n_keys; j++) {
        const struct conf_key *k = &s->keys[j];
        const char *name = k->name + 7;
        struct conf_sensor_dev d = {.name = name, .pos = k->pos};

        if (strncmp(k->name, "device.", 7) != 0)
            continue;
        if (!conf_id_valid(name)) {
            conf_err(p, &k->pos,
                     "sensor %s: bad device name \"%s\" (use 1 to %d letters, digits, \"_\" "
                     "or \"-\")",
                     s->id, name, FOYER_ID_MAX);
            continue;
        }
        /* Devices share the devices table with sensors and meters. */
        if (conf_group_find(&b->g[SEC_SENSOR], name) >= 0 ||
            conf_group_find(&b->g[SEC_METER], name) >= 0) {
            conf_err(p, &k->pos, "sensor %s: device \"%s\" has the ID of a sensor or meter", s->id,
                     name);
            continue;
        }
        if (!device_place(b, s, x, k, &d))
            continue;
        b->sensor_devs[i][b->n_sensor_devs[i]++] = d;
    }
}

static void build_sensors(struct conf_build *b)
{
    struct conf_parser *p = b->p;
    struct foyer_config *cfg = p->cfg;
    const struct conf_group *g = &b->g[SEC_SENSOR];

    cfg->sensors = conf_calloc(p, g->n, sizeof(*cfg->sensors));
    b->sensor_devs = conf_calloc(p, g->n, sizeof(*b->sensor_devs));
    b->n_sensor_devs = conf_calloc(p, g->n, sizeof(*b->n_sensor_devs));
    if (!cfg->sensors || !b->sensor_devs || !b->n_sensor_devs)
        return;
    cfg->n_sensors = g->n;
    for (size_t i = 0; i < g->n; i++) {
        const struct conf_sec *s = g->v[i];
        struct sensor *x = &cfg->sensors[i];
        const struct conf_key *k;
        char what[FOYER_ID_MAX + 16];
        int preset = PRESET_NONE;
        size_t n_custom = 0, cap, n_bad = 0;
        bool wild;

        (void)snprintf(what, sizeof(what), "sensor %s", s->id);
        memcpy(x->id, s->id, sizeof(x->id));
        x->pos = s->pos;
        x->interval_s = 300;
        x->stale_after = 3;
        if ((k = conf_require(p, s, "topic")) != NULL) {
            if (!conf_topic_valid(k->value))
                conf_bad_value(
                    p, s, k, "an MQTT topic; \"+\" and \"#\" fill a whole level, \"#\" only last");
            else if (!conf_mqtt_string_valid(k->value))
                conf_bad_value(p, s, k, "an MQTT topic in UTF-8, without control characters");
            else
                x->topic = conf_strdup(p, k->value);
        }
        (void)conf_get_enum(p, s, "preset", conf_preset_names, N_ELEMS(conf_preset_names), &preset);
        x->preset = (enum sensor_preset)preset;
        wild = x->topic && strpbrk(x->topic, "+#") != NULL;
        /* A wildcard sensor's devices have their own places: the section's
         * is only the default for "device.NAME = -". */
        resolve_place(b, s, what, !wild, &x->dwelling, &x->building);
        build_sensor_devices(b, i, s, x, wild);
        (void)conf_get_int(p, s, "interval", 1, 86400, &x->interval_s);
        (void)conf_get_int(p, s, "stale_after", 1, 1000, &x->stale_after);
        (void)conf_get_bool(p, s, "submeter", &x->submeter);
        if ((k = conf_get(s, "timestamp_field")) != NULL) {
            if (!conf_json_path_valid(k->value))
                conf_bad_value(p, s, k, "a JSON path like \"time\" or \"status.ts\"");
            else
                x->timestamp_field = conf_strdup(p, k->value);
        }

        for (size_t j = 0; j < s->n_keys; j++)
            n_custom += strncmp(s->keys[j].name, "channel.", 8) == 0;
        cap = presets[preset].n + n_custom;
        x->fields = conf_calloc(p, cap, sizeof(*x->fields));
        if (!x->fields)
            continue;
        for (size_t j = 0; j < presets[preset].n; j++) {
            const struct preset_field *pf = &presets[preset].fields[j];
            struct sensor_field *f = &x->fields[x->n_fields++];
            memcpy(f->name, pf->name, strlen(pf->name) + 1);
            f->path = conf_strdup(p, pf->path);
            f->quantity = pf->quantity;
            f->scale = pf->scale;
        }
        for (size_t j = 0; j < s->n_keys; j++) {
            const struct conf_key *ck = &s->keys[j];
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
                conf_err(p, &ck->pos,
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
                parts[np++] = conf_trim(tok);
                if (!comma)
                    break;
                tok = comma + 1;
            }
            if (np < 2 || np > 3 || !parts[0][0] ||
                (strcmp(parts[0], "-") != 0 && !conf_json_path_valid(parts[0]))) {
                conf_bad_value(p, s, ck, "PATH, QUANTITY[, SCALE] with PATH a JSON path or \"-\"");
                continue;
            }
            q = conf_find_name(conf_quantity_names, Q_COUNT_, parts[1]);
            if (q < 0) {
                char exp[256], msg[300];
                conf_expected_list(conf_quantity_names, Q_COUNT_, exp, sizeof(exp));
                (void)snprintf(msg, sizeof(msg), "a quantity, %s", exp);
                conf_bad_value(p, s, ck, msg);
                continue;
            }
            if (np == 3 && (!conf_parse_num(parts[2], &nf.scale) || nf.scale == 0)) {
                conf_bad_value(p, s, ck, "a SCALE number other than 0");
                continue;
            }
            memcpy(nf.name, fname, strlen(fname) + 1);
            nf.quantity = (enum quantity)q;
            nf.path = conf_strdup(p, strcmp(parts[0], "-") == 0 ? "" : parts[0]);
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
            conf_err(p, &s->pos, "sensor %s: no fields (set a preset or channel.NAME keys)", s->id);
    }
}

static void build_channels(struct conf_build *b)
{
    struct conf_parser *p = b->p;
    struct foyer_config *cfg = p->cfg;
    size_t n = b->g[SEC_CHANNEL].n, c;

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
        conf_err(p, &pos, "too many channels: %zu (max %d)", n, FOYER_CHANNELS_MAX);
        return;
    }
    cfg->channels = conf_calloc(p, n, sizeof(*cfg->channels));
    if (!cfg->channels)
        return;
    cfg->n_channels = n;
    build_channel_sections(b);
    c = b->g[SEC_CHANNEL].n;
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
            const struct conf_sensor_dev *dv =
                b->n_sensor_devs[i] ? &b->sensor_devs[i][f / se->n_fields] : NULL;
            (void)snprintf(x->id, sizeof(x->id), "%s.%s", dv ? dv->name : se->id, sf->name);
            x->dwelling = dv ? dv->dwelling : se->dwelling;
            x->building = dv ? dv->building : se->building;
            x->quantity = sf->quantity;
            x->kind = conf_qinfo[sf->quantity].kind;
            x->unit = conf_qinfo[sf->quantity].unit;
            x->max_rate = x->kind == KIND_COUNTER ? default_rate(x->quantity, x->dwelling) : 0;
            x->resolution = x->kind == KIND_COUNTER ? conf_qinfo[x->quantity].resolution : 0;
            x->min_value = conf_qinfo[sf->quantity].min;
            x->max_value = conf_qinfo[sf->quantity].max;
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

static void build_channel_order(struct conf_parser *p)
{
    struct foyer_config *cfg = p->cfg;
    uint32_t *o = conf_calloc(p, cfg->n_channels, sizeof(*o));
    struct chan_ref *refs = conf_calloc(p, cfg->n_channels, sizeof(*refs));
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
            conf_err(p, &x->pos, "duplicate channel \"%s\" (first defined at %s:%d)", x->id,
                     first->pos.file, first->pos.line);
        }
    }
    cfg->channel_order = o;
}

void conf_build_devices(struct conf_build *b)
{
    build_buses(b);
    build_meters(b);
    build_sensors(b);
    build_channels(b);
    build_channel_order(b->p);
}

void conf_build_devices_done(struct conf_build *b)
{
    free(b->meter_profile_ok);
    for (size_t i = 0; b->sensor_devs && i < b->p->cfg->n_sensors; i++)
        free(b->sensor_devs[i]);
    free(b->sensor_devs);
    free(b->n_sensor_devs);
    b->meter_profile_ok = NULL;
    b->sensor_devs = NULL;
    b->n_sensor_devs = NULL;
}
