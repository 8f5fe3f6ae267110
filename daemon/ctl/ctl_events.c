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
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "foyer/ctl.h"
#include "foyer/store.h"
#include "foyer/timeutil.h"
#include "foyer/units.h"

#define EVENTS_DEFAULT_DAYS 30
/* The listing fits a terminal of this many columns: an event's values and
 * detail go on indented lines under it, wrapped at word boundaries. */
#define EVENTS_COLUMNS 80
#define EVENTS_INDENT  4

static const char ctl_events_usage[] =
    "Usage: foyerctl [--config FILE] events [--since DATE] [--dwelling ID] [--json]\n"
    "\n"
    "What the counter logic and the drivers recorded, oldest first: meter\n"
    "resets, rollovers, dropped glitches and spikes, late readings refused,\n"
    "meters offline and back, sensors stale and fresh, summaries given up.\n"
    "\n"
    "Options:\n"
    "  -s, --since DATE     events from DATE (2026-01-31 or ISO 8601; default: 30\n"
    "                       days ago)\n"
    "  -d, --dwelling ID    only this dwelling's events\n"
    "  --json               a JSON array of objects (time, channel, device,\n"
    "                       dwelling, kind, value, prev_value, unit, detail)\n"
    "  -h, --help           this help\n";

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

/* text on lines of at most EVENTS_COLUMNS, each indented by EVENTS_INDENT,
 * broken at spaces (a word longer than a line stays whole). */
static void print_wrapped(const char *text)
{
    const size_t width = EVENTS_COLUMNS - EVENTS_INDENT;
    while (*text) {
        size_t len = strlen(text), cut = len;
        if (units_text_width(text) > width) {
            /* the last space within width columns */
            size_t cols = 0, last_space = 0;
            for (size_t i = 0; text[i] && cols <= width; i++) {
                if (text[i] == ' ')
                    last_space = i;
                if (((unsigned char)text[i] & 0xC0) != 0x80)
                    cols++;
            }
            cut = last_space ? last_space : strcspn(text, " ");
        }
        printf("%*s%.*s\n", EVENTS_INDENT, "", (int)cut, text);
        text += cut;
        while (*text == ' ')
            text++;
    }
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
    /* A device's event has no unit: its numbers are shown as they are. */
    if (has_v)
        units_format(unit, ev->value, v, sizeof(v));
    if (has_p)
        units_format(unit, ev->prev_value, p, sizeof(p));
    x->n++;
    if (x->arr) {
        json_t *o = json_object();
        json_object_set_new(o, "time", json_string(when));
        json_object_set_new(o, "channel", channel ? json_string(channel) : json_null());
        json_object_set_new(o, "device", device ? json_string(device) : json_null());
        json_object_set_new(o, "dwelling", dw ? json_string(dw) : json_null());
        json_object_set_new(o, "kind", json_string(text_or(ev->kind, "")));
        json_object_set_new(o, "value", has_v ? json_real(strtod(v, NULL)) : json_null());
        json_object_set_new(o, "prev_value", has_p ? json_real(strtod(p, NULL)) : json_null());
        json_object_set_new(o, "unit", unit[0] ? json_string(unit) : json_null());
        json_object_set_new(o, "detail", json_string(text_or(ev->detail, "")));
        json_array_append_new(x->arr, o);
    } else {
        printf("%-25s %-26s %-8s %s\n", when, channel ? channel : (device ? device : "-"),
               dw ? dw : "-", text_or(ev->kind, "?"));
        char line[512];
        size_t n = 0;
        line[0] = '\0';
        if (has_v)
            n +=
                (size_t)snprintf(line + n, sizeof(line) - n, "%s%s%s", v, unit[0] ? " " : "", unit);
        if (has_p && n < sizeof(line))
            n += (size_t)snprintf(line + n, sizeof(line) - n, "%sbefore %s%s%s", has_v ? ", " : "",
                                  p, unit[0] ? " " : "", unit);
        if (ev->detail && ev->detail[0] && n < sizeof(line))
            (void)snprintf(line + n, sizeof(line) - n, "%s%s", n ? ": " : "", ev->detail);
        print_wrapped(line);
    }
    return 0;
}

static int ctl_events(const struct ctl_command *cmd, const struct foyer_config *cfg, int argc,
                      char **argv)
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
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":s:d:", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            if (tu_parse_iso(optarg, &since) < 0)
                return ctl_usage_error(cmd,
                                       "--since \"%s\": expected a date (2026-01-31) or an "
                                       "ISO 8601 time",
                                       optarg);
            break;
        case 'd':
            if (config_find_dwelling(cfg, optarg) < 0)
                return ctl_usage_error(cmd, "unknown dwelling \"%s\"", optarg);
            dwelling = optarg;
            break;
        case 'j':
            json = true;
            break;
        default:
            return ctl_getopt_error(cmd, c, argv);
        }
    }
    if (optind < argc)
        return ctl_usage_error(cmd, "unexpected argument \"%s\"", argv[optind]);
    struct store *s = ctl_open_readonly(cfg, "events");
    if (!s)
        return 1;
    struct events_ctx x = {.cfg = cfg, .dwelling = dwelling, .arr = json ? json_array() : NULL};
    if (!json)
        printf("%-25s %-26s %-8s %s\n%*sVALUE, BEFORE: DETAIL\n", "TIME", "CHANNEL OR DEVICE",
               "DWELLING", "EVENT", EVENTS_INDENT, "");
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
        json_dumpf(arr, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
        fputc('\n', stdout);
        json_decref(arr);
    } else {
        char from[40];
        printf("%zu %s since %s\n", n, units_plural(n, "event", "events"),
               tu_format_local(since, from, sizeof(from)));
    }
    return 0;
}

const struct ctl_command ctl_events_command = {"events", ctl_events_usage, ctl_events};
