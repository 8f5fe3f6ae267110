/*
 * conf_dump.c - a built config written back: the normalised dump of
 * `foyerd --check-config -v` (every section and key with its effective
 * value, defaults filled in, in a stable order: the golden files of
 * tests/config/ are diffed against it) and the one-line summary foyerd logs
 * at its start.  Reads struct foyer_config only.
 */
#include "conf_internal.h"

#include <stdio.h>
#include <string.h>

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
    fprintf(out, "%s = %s\n", key, conf_fmt_num(v, b, sizeof(b)));
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
        fprintf(out, ", max_rate %s", conf_fmt_num(c->max_rate, r, sizeof(r)));
        fprintf(out, ", resolution %s", conf_fmt_num(c->resolution, r, sizeof(r)));
        if (c->rollover > 0)
            fprintf(out, ", rollover %s", conf_fmt_num(c->rollover, r, sizeof(r)));
    }
    fprintf(out, ", range %s .. %s\n", conf_fmt_num(c->min_value, a, sizeof(a)),
            conf_fmt_num(c->max_value, b, sizeof(b)));
}

/* A sensor's channels; for a wildcard sensor, its device.NAME keys first.
 * The devices are not kept in struct sensor: they are the runs of n_fields
 * channels at first_channel (conf_build_devices.c), named DEVICE.FIELD. */
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
    fprintf(out, "erase_after_days = %d\n", cfg->erase_after_days);
    fprintf(out, "batch_readings = %d\n", cfg->batch_readings);
    fprintf(out, "batch_deadline_ms = %d\n", cfg->batch_deadline_ms);
    dump_str(out, "log_level", cfg->log_level);
    fprintf(out, "future_tolerance_s = %d\n", cfg->future_tolerance_s);
    fprintf(out, "dju_method = %s\n", cfg->dju_method == DJU_COSTIC ? "costic" : "meteo-france");
    dump_str(out, "summary_language", cfg->summary_language);
    fprintf(out, "outbox_retention_days = %d\n", cfg->outbox_retention_days);

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
    if (cfg->uplink.enabled) {
        const struct uplink_conf *u = &cfg->uplink;
        fprintf(out, "\n[uplink]\n");
        dump_str(out, "host", u->host);
        fprintf(out, "port = %d\n", u->port);
        dump_str(out, "gateway_id", u->gateway_id);
        dump_str(out, "client_id", u->client_id);
        dump_str(out, "username", u->username);
        dump_str(out, "password_file", u->password_file);
        fprintf(out, "tls = %s\n", u->tls ? "true" : "false");
        dump_str(out, "ca_file", u->ca_file);
        dump_str(out, "cert_file", u->cert_file);
        dump_str(out, "key_file", u->key_file);
        fprintf(out, "tls_verify = %s\n", u->tls_verify ? "true" : "false");
        fprintf(out, "protocol = %d\n", u->protocol);
        fprintf(out, "keepalive = %d\n", u->keepalive_s);
        fprintf(out, "session_expiry = %d\n", u->session_expiry_s);
        fprintf(out, "ack_timeout_s = %d\n", u->ack_timeout_s);
        fprintf(out, "max_in_flight = %d\n", u->max_in_flight);
        fprintf(out, "batch_items = %d\n", u->batch_items);
        fprintf(out, "settle_s = %d\n", u->settle_s);
        fprintf(out, "device_every_s = %d\n", u->device_every_s);
    }
    if (cfg->http.enabled) {
        const struct http_conf *h = &cfg->http;
        fprintf(out, "\n[http]\n");
        dump_str(out, "listen", h->listen);
        fprintf(out, "port = %d\n", h->port);
        dump_str(out, "web_dir", h->web_dir);
        dump_str(out, "tls_cert", h->tls_cert);
        dump_str(out, "tls_key", h->tls_key);
        fprintf(out, "behind_proxy = %s\n", h->behind_proxy ? "yes" : "no");
    } else {
        fprintf(out, "\n; no [http] section\n");
    }
    if (cfg->alerts.present) {
        /* Only when the section is written: a config without one runs the
         * engine on these same defaults (foyer.conf(5)). */
        const struct alerts_conf *a = &cfg->alerts;
        fprintf(out, "\n[alerts]\n");
        fprintf(out, "enabled = %s\n", a->enabled ? "true" : "false");
        fprintf(out, "silent_grace = %d\n", a->silent_grace_s);
        dump_num(out, "leak_lph", a->leak_lph);
        fprintf(out, "leak_nights = %d\n", a->leak_nights);
        dump_num(out, "cold_below", a->cold_below_c);
        fprintf(out, "cold_hours = %d\n", a->cold_hours);
        fprintf(out, "heating_from = %02d-%02d\n", a->heating_from_md / 100,
                a->heating_from_md % 100);
        fprintf(out, "heating_to = %02d-%02d\n", a->heating_to_md / 100, a->heating_to_md % 100);
        dump_num(out, "damp_above", a->damp_above_rh);
        fprintf(out, "damp_hours = %d\n", a->damp_hours);
        dump_num(out, "damp_cold_below", a->damp_cold_below_c);
        dump_num(out, "co2_above", a->co2_above_ppm);
        fprintf(out, "co2_nights = %d\n", a->co2_nights);
        dump_num(out, "abnormal_factor", a->abnormal_factor);
        fprintf(out, "abnormal_min_days = %d\n", a->abnormal_min_days);
        dump_num(out, "vacant_heat_kwh", a->vacant_heat_kwh);
        dump_num(out, "vacant_water_l", a->vacant_water_l);
        fprintf(out, "history_days = %d\n", a->history_days);
        fprintf(out, "hold = %d\n", a->hold_s);
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
        fprintf(out, "start = %s\n", conf_fmt_date(t->start_ymd, d1, sizeof(d1)));
        if (t->end_ymd)
            fprintf(out, "end = %s\n", conf_fmt_date(t->end_ymd, d2, sizeof(d2)));
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
        fprintf(out, "; range %s .. %s\n", conf_fmt_num(c->min_value, d1, sizeof(d1)),
                conf_fmt_num(c->max_value, n1, sizeof(n1)));
    }
    for (size_t i = 0; i < cfg->n_buses; i++) {
        const struct bus *b = &cfg->buses[i];
        fprintf(out, "\n[bus %s]\n", b->id);
        fprintf(out, "type = %s\n", conf_bus_type_names[b->type]);
        if (b->type == BUS_TCP) {
            dump_str(out, "host", b->host);
            fprintf(out, "port = %d\n", b->port);
        } else {
            dump_str(out, "device", b->device);
            fprintf(out, "baud = %d\nparity = %s\ndata_bits = %d\nstop_bits = %d\n", b->baud,
                    conf_parity_names[b->parity], b->data_bits, b->stop_bits);
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
                    conf_function_names[reg->function], (unsigned)reg->address,
                    conf_reg_type_names[reg->type], conf_word_order_names[reg->order],
                    conf_fmt_num(reg->scale, d1, sizeof(d1)),
                    conf_fmt_num(reg->offset, n1, sizeof(n1)));
            dump_channel_desc(out, c);
        }
    }
    for (size_t i = 0; i < cfg->n_sensors; i++) {
        const struct sensor *s = &cfg->sensors[i];
        fprintf(out, "\n[sensor %s]\n", s->id);
        dump_str(out, "topic", s->topic);
        fprintf(out, "preset = %s\n", conf_preset_names[s->preset]);
        dump_place(out, cfg, s->dwelling, s->building);
        fprintf(out, "interval = %d\nstale_after = %d\n", s->interval_s, s->stale_after);
        dump_str(out, "timestamp_field", s->timestamp_field);
        if (s->submeter)
            fprintf(out, "submeter = true\n");
        for (size_t f = 0; f < s->n_fields; f++) {
            const struct sensor_field *sf = &s->fields[f];
            fprintf(out, "channel.%s = %s, %s, %s\n", sf->name, sf->path[0] ? sf->path : "-",
                    quantity_name(sf->quantity), conf_fmt_num(sf->scale, n1, sizeof(n1)));
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
        fprintf(out, "tls_verify = %s\ntimeout = %d\nmax_age = %d\ninsecure = %s\n",
                pe->tls_verify ? "true" : "false", pe->timeout_s, pe->max_age_s,
                pe->insecure ? "true" : "false");
        if (pe->alerts) /* only when set: the dumps of configs before it stay as they were */
            fprintf(out, "alerts = true\n");
    }
    for (size_t i = 0; i < cfg->n_tariffs; i++) {
        const struct tariff *t = &cfg->tariffs[i];
        fprintf(out, "\n[tariff %s]\n", t->id);
        fprintf(out, "quantity = %s\n", quantity_name(t->quantity));
        dump_num(out, "price", t->price_eur);
        fprintf(out, "price_unit = %s\n", t->price_unit);
        dump_num(out, "subscription_eur_month", t->subscription_eur_month);
        if (t->valid_from_ymd)
            fprintf(out, "valid_from = %s\n", conf_fmt_date(t->valid_from_ymd, d1, sizeof(d1)));
        else
            fprintf(out, "; valid_from (not set)\n");
        if (t->valid_to_ymd)
            fprintf(out, "valid_to = %s\n", conf_fmt_date(t->valid_to_ymd, d2, sizeof(d2)));
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
