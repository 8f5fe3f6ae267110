/*
 * ctl_events.c - `foyerctl events`: what the counter logic and the drivers
 * recorded (meter resets, rollovers, dropped glitches and spikes, late
 * readings refused, meters offline and back, sensors stale and fresh,
 * summaries given up), newest last, for the operator and the ambassador.
 *
 * Reads the events through a read-only handle (store_read_events()); which
 * dwelling an event concerns comes from the config.
 */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "foyer/ctl.h"
#include "foyer/store.h"
#include "foyer/timeutil.h"

#define EVENTS_DEFAULT_DAYS 30

/* The dwelling an event concerns, from its channel or its device (a meter or
 * sensor section, or a wildcard sensor's device); NULL when building-level. */
static const char *event_dwelling(const struct foyer_config *cfg, const char *channel,
                                  const char *device)
{
    int32_t ch = channel ? config_find_channel(cfg, channel) : -1;
    if (ch >= 0)
        return cfg->channels[ch].dwelling >= 0 ? cfg->dwellings[cfg->channels[ch].dwelling].id
                                               : NULL;
    if (!device)
        return NULL;
    for (size_t i = 0; i < cfg->n_meters; i++)
        if (strcmp(cfg->meters[i].id, device) == 0)
            return cfg->meters[i].dwelling >= 0 ? cfg->dwellings[cfg->meters[i].dwelling].id : NULL;
    for (size_t i = 0; i < cfg->n_sensors; i++)
        if (strcmp(cfg->sensors[i].id, device) == 0)
            return cfg->sensors[i].dwelling >= 0 ? cfg->dwellings[cfg->sensors[i].dwelling].id
                                                 : NULL;
    /* A wildcard sensor's device: its channels are DEVICE.FIELD. */
    size_t len = strlen(device);
    for (size_t i = 0; i < cfg->n_channels; i++) {
        const struct channel *c = &cfg->channels[i];
        if (c->sensor >= 0 && strncmp(c->id, device, len) == 0 && c->id[len] == '.')
            return c->dwelling >= 0 ? cfg->dwellings[c->dwelling].id : NULL;
    }
    return NULL;
}

static const char *text_or(const char *s, const char *dflt)
{
    return s ? s : dflt;
}

/* What the listing needs besides each event. */
struct events_ctx {
    const struct foyer_config *cfg;
    const char *dwelling; /* only this dwelling's events, or NULL */
    json_t *arr;          /* --json: the array being built, else NULL */
    size_t n;             /* events listed */
};

static int list_event(void *ctx, const struct store_event *ev)
{
    struct events_ctx *x = ctx;
    const struct foyer_config *cfg = x->cfg;
    const char *channel = ev->channel;
    const char *device = ev->device;
    const char *dw = event_dwelling(cfg, channel, device);
    if (x->dwelling && (!dw || strcmp(dw, x->dwelling) != 0))
        return 0;
    int32_t ch = channel ? config_find_channel(cfg, channel) : -1;
    const char *unit = ch >= 0 ? cfg->channels[ch].unit : "";
    char when[40], v[32] = "-", p[32] = "-";
    tu_format_local(ev->ts_s, when, sizeof(when));
    bool has_v = !isnan(ev->value);
    bool has_p = !isnan(ev->prev_value);
    if (has_v)
        snprintf(v, sizeof(v), "%.10g", ev->value);
    if (has_p)
        snprintf(p, sizeof(p), "%.10g", ev->prev_value);
    x->n++;
    if (x->arr) {
        json_t *o = json_object();
        json_object_set_new(o, "time", json_string(when));
        json_object_set_new(o, "channel", channel ? json_string(channel) : json_null());
        json_object_set_new(o, "device", device ? json_string(device) : json_null());
        json_object_set_new(o, "dwelling", dw ? json_string(dw) : json_null());
        json_object_set_new(o, "kind", json_string(text_or(ev->kind, "")));
        json_object_set_new(o, "value", has_v ? json_real(ev->value) : json_null());
        json_object_set_new(o, "prev_value", has_p ? json_real(ev->prev_value) : json_null());
        json_object_set_new(o, "unit", unit[0] ? json_string(unit) : json_null());
        json_object_set_new(o, "detail", json_string(text_or(ev->detail, "")));
        json_array_append_new(x->arr, o);
    } else {
        printf("%-25s %-26s %-9s %-22s %14s %14s %-5s %s\n", when,
               channel ? channel : (device ? device : "-"), dw ? dw : "-", text_or(ev->kind, "?"),
               v, p, unit[0] ? unit : "-", text_or(ev->detail, ""));
    }
    return 0;
}

int ctl_events(const struct foyer_config *cfg, int argc, char **argv)
{
    static const struct option opts[] = {{"since", required_argument, NULL, 's'},
                                         {"dwelling", required_argument, NULL, 'd'},
                                         {"json", no_argument, NULL, 'j'},
                                         {NULL, 0, NULL, 0}};
    int64_t since = tu_day_start(tu_now_s()) - (int64_t)EVENTS_DEFAULT_DAYS * 86400;
    const char *dwelling = NULL;
    bool json = false;
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "s:d:j", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            if (tu_parse_iso(optarg, &since) < 0) {
                fprintf(stderr,
                        "foyerctl events: --since \"%s\": expected a date (2026-01-31) "
                        "or an ISO 8601 time\n",
                        optarg);
                return 2;
            }
            break;
        case 'd':
            if (config_find_dwelling(cfg, optarg) < 0) {
                fprintf(stderr, "foyerctl events: unknown dwelling \"%s\"\n", optarg);
                return 2;
            }
            dwelling = optarg;
            break;
        case 'j':
            json = true;
            break;
        default:
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "foyerctl events: unexpected argument \"%s\"\n", argv[optind]);
        return 2;
    }
    struct store *s = ctl_open_readonly(cfg, "events");
    if (!s)
        return 1;
    struct events_ctx x = {.cfg = cfg, .dwelling = dwelling, .arr = json ? json_array() : NULL};
    if (!json)
        printf("%-25s %-26s %-9s %-22s %14s %14s %-5s %s\n", "TIME", "CHANNEL OR DEVICE",
               "DWELLING", "EVENT", "VALUE", "BEFORE", "UNIT", "DETAIL");
    if (store_read_events(s, since, list_event, &x) < 0) {
        fprintf(stderr, "foyerctl: %s: %s\n", cfg->database, store_errmsg(s));
        json_decref(x.arr);
        store_close(s);
        return 1;
    }
    json_t *arr = x.arr;
    size_t n = x.n;
    store_close(s);
    if (json) {
        json_dumpf(arr, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(12));
        fputc('\n', stdout);
        json_decref(arr);
    } else {
        char from[40];
        printf("%zu events since %s\n", n, tu_format_local(since, from, sizeof(from)));
    }
    return 0;
}
