/*
 * alerts_rules.c - the rules: from the store's figures (hourly and daily
 * rollups, counter events, device states, read through a read-only handle
 * with the read API of store.h) to runs of hours in which a condition
 * held, handed to the engine's sink (alerts_engine.c decides what opens,
 * what belongs to an alert already open, what closes).
 *
 * Each rule reads what it needs before the judged window as well (24 h
 * below 16 degC, three nights, the season's days), so an hour is judged
 * the same whether it is near the window's start or not.  An hour without
 * a figure (no reading: a gauge's n = 0, a counter's missing row) never
 * makes a condition hold: a silent sensor is device_silent's business, not
 * a cold home.  Hours are UTC hours, which are local hours (the zone has
 * whole-hour offsets); nights and days are local.
 *
 *   cold_home    indoor temperature channel: hourly mean < cold_below for
 *                cold_hours hours in a row, the last of them in the heating
 *                season; the figure is the mean of those hours.
 *   damp_home    humidity channel: hourly mean > damp_above for damp_hours
 *                in a row; critical when the dwelling's temperature over
 *                those hours averaged below damp_cold_below.
 *   stale_air    CO2 channel: a night (local 00:00-06:00) is stale when more
 *                than half of its hours with a figure (three at least) are
 *                above co2_above; co2_nights stale nights in a row.
 *   water_leak   water counter: every hour 01:00-05:00 local used at least
 *                leak_lph litres; leak_nights such nights in a row.
 *   abnormal_use electricity, heat, gas and water counters of dwellings
 *                (not submeters): a day above abnormal_factor x the median
 *                of the dwelling's days of the same season (heating season
 *                or not) over the year before, once abnormal_min_days such
 *                days are known.  A median of the same season, not a
 *                weather-corrected figure: simple, and robust to a few
 *                abnormal days.
 *   vacant_use   heat, gas and water counters of a dwelling that has
 *                tenancies: a day no tenancy covers, above vacant_heat_kwh
 *                or vacant_water_l.  A dwelling without any [tenancy]
 *                section is not known to be empty.
 *   meter_reset, index_jump   each such counter event.
 *   device_silent  a meter offline or a sensor stale for silent_grace; a
 *                bus whose meters (two or more) are all offline gives one
 *                alert for the bus, and the broker one when every sensor
 *                (two or more) is stale.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alerts_int.h"
#include "foyer/counter.h"
#include "foyer/limits.h"
#include "foyer/store_tenancy.h"
#include "foyer/timeutil.h"

#define HOUR_S       3600
#define SEV_INFO     "info"
#define SEV_WARNING  "warning"
#define SEV_CRITICAL "critical"

/* The usual day of abnormal_use is taken from this many days before. */
#define ALERTS_SEASON_DAYS 365
/* A stale night needs figures for this many of its hours. */
#define ALERTS_NIGHT_MIN_HOURS 3
/* Nights: local hours [0, 6) for CO2, [1, 5) for water. */
#define CO2_NIGHT_END_H   6
#define LEAK_NIGHT_FROM_H 1
#define LEAK_NIGHT_END_H  5

static void local_tm(int64_t ts_s, struct tm *ret)
{
    time_t t = (time_t)ts_s;
    localtime_r(&t, ret);
}

static bool season_md(const struct alerts_conf *a, int md)
{
    if (a->heating_from_md <= a->heating_to_md)
        return md >= a->heating_from_md && md <= a->heating_to_md;
    return md >= a->heating_from_md || md <= a->heating_to_md; /* across the new year */
}

bool alerts_heating_season(const struct alerts_conf *a, int64_t ts_s)
{
    struct tm tm;
    local_tm(ts_s, &tm);
    return season_md(a, (tm.tm_mon + 1) * 100 + tm.tm_mday);
}

/* The local day of the hours a rule walks through, so that localtime_r runs
 * once per day, not once per hour (a run walks millions of hours: on a
 * large site it was most of the run's time).  Only on the two days a year
 * whose offset changes is each hour asked. */
struct local_day {
    int64_t start_s, next_s; /* [local midnight, next local midnight) */
    bool dst_day;            /* not 24 hours long */
    int md;                  /* MMDD */
};

/* The local hour (0..23) of ts_s; c->md its day. */
static int local_hour(struct local_day *c, int64_t ts_s)
{
    struct tm tm;
    if (ts_s < c->start_s || ts_s >= c->next_s) {
        c->start_s = tu_day_start(ts_s);
        c->next_s = tu_next_day(c->start_s);
        c->dst_day = c->next_s - c->start_s != 86400;
        local_tm(c->start_s, &tm);
        c->md = (tm.tm_mon + 1) * 100 + tm.tm_mday;
    }
    if (c->dst_day) {
        local_tm(ts_s, &tm);
        return tm.tm_hour;
    }
    return (int)((ts_s - c->start_s) / HOUR_S);
}

/* ---- reading series -------------------------------------------------------- */

/* A channel's figures, one slot per hour (or per row for days). */
struct series {
    int64_t base_s; /* start of slot 0 */
    size_t n;
    double *v; /* gauges: hourly mean; counters: consumption; NaN: no figure */
    bool gauge;
};

static int put_hour(void *ctx, const struct store_rollup *row)
{
    struct series *s = ctx;
    if (row->ts_s < s->base_s)
        return 0;
    size_t i = (size_t)((row->ts_s - s->base_s) / HOUR_S);
    if (i >= s->n)
        return 0;
    if (s->gauge)
        s->v[i] = row->n > 0 ? row->sum / (double)row->n : NAN;
    else
        s->v[i] = row->sum;
    return 0;
}

/* The hourly figures of config channel ch over [from_s, end_s). */
static int read_hours(const struct alerts_scope *sc, uint32_t ch, int64_t from_s,
                      struct series *ret)
{
    struct series s = {.base_s = from_s,
                       .n = (size_t)((sc->end_s - from_s) / HOUR_S),
                       .gauge = sc->cfg->channels[ch].kind == KIND_GAUGE};
    s.v = malloc((s.n ? s.n : 1) * sizeof(*s.v));
    if (!s.v)
        return -ENOMEM;
    for (size_t i = 0; i < s.n; i++)
        s.v[i] = NAN;
    int rc = store_read_rollups(sc->ro, STORE_HOUR, ch, from_s, sc->end_s, 0, put_hour, &s);
    if (rc < 0) {
        free(s.v);
        return rc;
    }
    *ret = s;
    return 0;
}

static int64_t slot_ts(const struct series *s, size_t i)
{
    return s->base_s + (int64_t)i * HOUR_S;
}

static void run_init(struct alerts_run *r, const struct alerts_scope *sc, enum alert_kind kind,
                     uint32_t ch, enum alerts_text text, const char *severity)
{
    const struct channel *c = &sc->cfg->channels[ch];
    *r = (struct alerts_run){.kind = kind,
                             .subject = c->id,
                             .severity = severity,
                             .building = c->building,
                             .dwelling = c->dwelling,
                             .channel = (int32_t)ch,
                             .text = text};
}

/* ---- sustained conditions: cold_home, damp_home ---------------------------- */

/* The first temperature channel of dwelling dw, or -1. */
static int32_t dwelling_temperature(const struct foyer_config *cfg, int32_t dw)
{
    for (size_t i = 0; i < cfg->n_channels; i++)
        if (cfg->channels[i].dwelling == dw && cfg->channels[i].quantity == Q_TEMPERATURE)
            return (int32_t)i;
    return -1;
}

/* The mean of s's figures in slots [a, b] (NaN when none). */
static double mean_of(const struct series *s, size_t a, size_t b)
{
    double sum = 0;
    size_t n = 0;
    for (size_t i = a; i <= b && i < s->n; i++)
        if (!isnan(s->v[i])) {
            sum += s->v[i];
            n++;
        }
    return n ? sum / (double)n : NAN;
}

static int rule_sustained(const struct alerts_scope *sc, uint32_t ch, bool cold)
{
    const struct alerts_conf *a = &sc->cfg->alerts;
    int hours = cold ? a->cold_hours : a->damp_hours;
    double thr = cold ? a->cold_below_c : a->damp_above_rh;
    struct series s, temp = {0};
    int rc = read_hours(sc, ch, sc->from_s - (int64_t)hours * HOUR_S, &s);
    if (rc < 0)
        return rc;
    int32_t tch = cold ? -1 : dwelling_temperature(sc->cfg, sc->cfg->channels[ch].dwelling);
    if (tch >= 0 && (rc = read_hours(sc, (uint32_t)tch, s.base_s, &temp)) < 0) {
        free(s.v);
        return rc;
    }
    struct alerts_run r;
    struct local_day day = {0};
    bool in_run = false;
    size_t streak = 0;
    for (size_t i = 0; i < s.n && rc == 0; i++) {
        bool bad = !isnan(s.v[i]) && (cold ? s.v[i] < thr : s.v[i] > thr);
        streak = bad ? streak + 1 : 0;
        int64_t ts = slot_ts(&s, i);
        (void)local_hour(&day, ts);
        bool fire = streak >= (size_t)hours && ts >= sc->from_s && (!cold || season_md(a, day.md));
        if (fire && !in_run) {
            size_t first = i + 1 - (size_t)hours;
            if (cold) {
                run_init(&r, sc, ALERT_COLD_HOME, ch, AT_COLD_HOME, SEV_WARNING);
            } else {
                double t = temp.v ? mean_of(&temp, first, i) : NAN;
                bool also_cold = !isnan(t) && t < a->damp_cold_below_c;
                run_init(&r, sc, ALERT_DAMP_HOME, ch, also_cold ? AT_DAMP_HOME_COLD : AT_DAMP_HOME,
                         also_cold ? SEV_CRITICAL : SEV_WARNING);
            }
            r.first_s = ts;
            r.value = mean_of(&s, first, i);
            r.threshold = thr;
            in_run = true;
        }
        if (in_run && fire)
            r.last_s = ts;
        if (in_run && (!fire || i + 1 == s.n)) {
            rc = sc->sink(sc->ctx, &r);
            in_run = false;
        }
    }
    free(s.v);
    free(temp.v);
    return rc;
}

/* ---- nightly conditions: stale_air, water_leak ------------------------------ */

static int rule_nightly(const struct alerts_scope *sc, uint32_t ch, bool leak)
{
    const struct alerts_conf *a = &sc->cfg->alerts;
    int nights = leak ? a->leak_nights : a->co2_nights;
    double thr = leak ? a->leak_lph : a->co2_above_ppm;
    int from_h = leak ? LEAK_NIGHT_FROM_H : 0, end_h = leak ? LEAK_NIGHT_END_H : CO2_NIGHT_END_H;
    struct series s;
    int rc = read_hours(sc, ch, tu_day_start(sc->from_s - (int64_t)(nights + 1) * 86400), &s);
    if (rc < 0)
        return rc;
    int streak = 0;
    int64_t night = -1; /* local day start of the night being summed */
    struct local_day ld = {0};
    int hours = 0, with_figure = 0, above = 0;
    double lowest = INFINITY, sum = 0;
    for (size_t i = 0; i < s.n && rc == 0; i++) {
        int64_t ts = slot_ts(&s, i);
        int hour = local_hour(&ld, ts);
        if (hour < from_h || hour >= end_h)
            continue;
        int64_t day = ld.start_s;
        if (day != night) {
            night = day;
            hours = with_figure = above = 0;
            lowest = INFINITY;
            sum = 0;
        }
        double v = s.v[i];
        hours++;
        if (!isnan(v)) {
            with_figure++;
            sum += v;
            above += v > thr;
            if (v < lowest)
                lowest = v;
        }
        /* Judge the night at its last hour (the next one is outside it). */
        if (hour != end_h - 1)
            continue;
        bool bad;
        if (leak) /* every hour of the night at least thr litres; one hour fewer
                     when 02:00 is skipped (March) */
            bad = with_figure == hours && hours >= end_h - from_h - (ld.dst_day ? 1 : 0) &&
                  lowest >= thr;
        else
            bad = with_figure >= ALERTS_NIGHT_MIN_HOURS && above * 2 > with_figure;
        streak = bad ? streak + 1 : 0;
        if (streak < nights || ts < sc->from_s)
            continue;
        struct alerts_run r;
        if (leak)
            run_init(&r, sc, ALERT_WATER_LEAK, ch, AT_WATER_LEAK, SEV_WARNING);
        else
            run_init(&r, sc, ALERT_STALE_AIR, ch, AT_STALE_AIR, SEV_INFO);
        r.first_s = r.last_s = ts;
        r.value = leak ? lowest : sum / with_figure;
        r.threshold = thr;
        rc = sc->sink(sc->ctx, &r);
    }
    free(s.v);
    return rc;
}

/* ---- daily conditions: abnormal_use, vacant_use ------------------------------ */

struct day_rows {
    int64_t *ts;
    double *sum;
    size_t n, cap;
};

static int put_day(void *ctx, const struct store_rollup *row)
{
    struct day_rows *d = ctx;
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 64;
        int64_t *ts = realloc(d->ts, cap * sizeof(*ts));
        if (!ts)
            return -ENOMEM;
        d->ts = ts;
        double *sum = realloc(d->sum, cap * sizeof(*sum));
        if (!sum)
            return -ENOMEM;
        d->sum = sum;
        d->cap = cap;
    }
    d->ts[d->n] = row->ts_s;
    d->sum[d->n] = row->sum;
    d->n++;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int rule_abnormal(const struct alerts_scope *sc, uint32_t ch, double *scratch)
{
    const struct alerts_conf *a = &sc->cfg->alerts;
    struct day_rows d = {0};
    int64_t from = tu_day_start(sc->from_s - (int64_t)ALERTS_SEASON_DAYS * 86400);
    int rc = store_read_rollups(sc->ro, STORE_DAY, ch, from, sc->end_s, 0, put_day, &d);
    bool *season = rc == 0 ? malloc((d.n ? d.n : 1) * sizeof(*season)) : NULL;
    if (rc == 0 && !season)
        rc = -ENOMEM;
    for (size_t i = 0; rc == 0 && i < d.n; i++)
        season[i] = alerts_heating_season(a, d.ts[i]);
    for (size_t i = 0; rc == 0 && i < d.n; i++) {
        int64_t next = tu_next_day(d.ts[i]);
        if (d.ts[i] < sc->from_s || next > sc->end_s)
            continue;
        size_t m = 0;
        for (size_t j = 0; j < i; j++)
            if (d.ts[j] >= d.ts[i] - (int64_t)ALERTS_SEASON_DAYS * 86400 && season[j] == season[i])
                scratch[m++] = d.sum[j];
        if (m < (size_t)a->abnormal_min_days)
            continue;
        qsort(scratch, m, sizeof(*scratch), cmp_double);
        double median = m % 2 ? scratch[m / 2] : (scratch[m / 2 - 1] + scratch[m / 2]) / 2;
        if (!(median > 0) || !(d.sum[i] > a->abnormal_factor * median))
            continue;
        struct alerts_run r;
        run_init(&r, sc, ALERT_ABNORMAL_USE, ch, AT_ABNORMAL_USE, SEV_INFO);
        r.first_s = r.last_s = next - HOUR_S;
        r.value = d.sum[i];
        r.threshold = a->abnormal_factor * median;
        rc = sc->sink(sc->ctx, &r);
    }
    free(season);
    free(d.ts);
    free(d.sum);
    return rc;
}

/* Whether dwelling dw has tenancies, and whether one covers local day
 * day_s. */
static bool has_tenancies(const struct alerts_scope *sc, int32_t dw)
{
    for (size_t i = 0; i < sc->n_ten; i++)
        if ((int32_t)sc->ten[i].dwelling == dw && sc->ten[i].start_ymd)
            return true;
    return false;
}

static bool tenanted(const struct alerts_scope *sc, int32_t dw, int64_t day_s)
{
    struct tm tm;
    local_tm(day_s, &tm);
    int32_t ymd = (tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday;
    for (size_t i = 0; i < sc->n_ten; i++) {
        const struct tenancy *t = &sc->ten[i];
        if ((int32_t)t->dwelling == dw && t->start_ymd && t->start_ymd <= ymd &&
            (!t->end_ymd || ymd <= t->end_ymd))
            return true;
    }
    return false;
}

static int rule_vacant(const struct alerts_scope *sc, uint32_t ch)
{
    const struct alerts_conf *a = &sc->cfg->alerts;
    const struct channel *c = &sc->cfg->channels[ch];
    bool water = c->quantity == Q_HOT_WATER || c->quantity == Q_COLD_WATER;
    double thr = water ? a->vacant_water_l : a->vacant_heat_kwh;
    struct day_rows d = {0};
    int rc = store_read_rollups(sc->ro, STORE_DAY, ch, sc->from_s, sc->end_s, 0, put_day, &d);
    for (size_t i = 0; rc == 0 && i < d.n; i++) {
        int64_t next = tu_next_day(d.ts[i]);
        if (next > sc->end_s || !(d.sum[i] > thr) || tenanted(sc, c->dwelling, d.ts[i]))
            continue;
        struct alerts_run r;
        run_init(&r, sc, ALERT_VACANT_USE, ch, AT_VACANT_USE, SEV_WARNING);
        r.first_s = r.last_s = next - HOUR_S;
        r.value = d.sum[i];
        r.threshold = thr;
        rc = sc->sink(sc->ctx, &r);
    }
    free(d.ts);
    free(d.sum);
    return rc;
}

/* ---- counter events: meter_reset, index_jump --------------------------------- */

/* A piece of the events: where it starts, how far it may go. */
struct events_piece {
    const struct alerts_scope *sc;
    struct alerts_events_at *at;
    size_t skip; /* events at at->ts_s handed by the pieces before */
    size_t left; /* events this piece may still take */
};

/* Stops the store's scan: the piece has taken its share. */
#define EVENTS_PIECE_FULL 1

static int put_event(void *ctx, const struct store_event *ev)
{
    struct events_piece *pc = ctx;
    const struct alerts_scope *sc = pc->sc;
    if (ev->ts_s == pc->at->ts_s && pc->skip > 0) {
        pc->skip--;
        return 0;
    }
    if (pc->left == 0)
        return EVENTS_PIECE_FULL;
    pc->left--;
    if (ev->ts_s == pc->at->ts_s) {
        pc->at->n_at_ts++;
    } else {
        pc->at->ts_s = ev->ts_s;
        pc->at->n_at_ts = 1;
    }
    bool reset = strcmp(ev->kind, EVENT_METER_RESET) == 0;
    if ((!reset && strcmp(ev->kind, EVENT_INDEX_JUMP) != 0) || !ev->channel)
        return 0;
    int32_t ch = config_find_channel(sc->cfg, ev->channel);
    if (ch < 0 || ev->ts_s >= sc->end_s)
        return 0; /* a channel no longer configured: its meter is gone */
    struct alerts_run r;
    run_init(&r, sc, reset ? ALERT_METER_RESET : ALERT_INDEX_JUMP, (uint32_t)ch,
             reset ? AT_METER_RESET : AT_INDEX_JUMP, SEV_INFO);
    r.first_s = r.last_s = ev->ts_s - ev->ts_s % HOUR_S;
    r.value = ev->value;
    r.threshold = ev->prev_value;
    r.sticky = true;
    return sc->sink(sc->ctx, &r);
}

/* ---- device_silent ------------------------------------------------------------- */

/* What the devices table says of one device. */
struct dev_seen {
    char name[FOYER_ID_MAX + 1];
    bool sensor;
    bool silent; /* offline or stale */
    int64_t since_s;
};

struct dev_list {
    struct dev_seen *v;
    size_t n, cap;
};

static int put_device(void *ctx, const struct device_health *h)
{
    struct dev_list *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        struct dev_seen *v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    struct dev_seen *d = &l->v[l->n++];
    (void)snprintf(d->name, sizeof(d->name), "%s", h->device);
    d->sensor = h->kind && strcmp(h->kind, "sensor") == 0;
    d->silent = h->state && (strcmp(h->state, "offline") == 0 || strcmp(h->state, "stale") == 0);
    d->since_s = h->since_s;
    return 0;
}

static const struct dev_seen *find_dev(const struct dev_list *l, const char *name, bool sensor)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].sensor == sensor && strcmp(l->v[i].name, name) == 0)
            return &l->v[i];
    return NULL;
}

/* Hand a device_silent run for something silent since since_s, if it has
 * been for the grace period. */
static int silent_run(const struct alerts_scope *sc, struct alerts_run *r, int64_t since_s)
{
    int64_t due = since_s + sc->cfg->alerts.silent_grace_s;
    int64_t last = sc->end_s - HOUR_S;
    if (sc->now_s < due)
        return 0;
    r->first_s = due - due % HOUR_S;
    if (r->first_s > last)
        r->first_s = last;
    r->last_s = last;
    r->value = (double)(sc->now_s - since_s) / 60.0; /* minutes silent */
    r->threshold = (double)sc->cfg->alerts.silent_grace_s / 60.0;
    return sc->sink(sc->ctx, r);
}

static int rule_devices(const struct alerts_scope *sc)
{
    const struct foyer_config *cfg = sc->cfg;
    struct dev_list l = {0};
    int rc = store_read_devices(sc->ro, put_device, &l);
    char subject[FOYER_ID_MAX + 8];

    /* Buses: all of two or more meters offline is the bus (or its gateway). */
    bool *bus_down = calloc(cfg->n_buses ? cfg->n_buses : 1, sizeof(*bus_down));
    if (rc == 0 && !bus_down)
        rc = -ENOMEM;
    for (size_t b = 0; rc == 0 && b < cfg->n_buses; b++) {
        size_t meters = 0, silent = 0;
        int64_t since = 0;
        int32_t building = -1; /* the meters' building when they share one */
        bool one_building = true;
        for (size_t m = 0; m < cfg->n_meters; m++) {
            if (cfg->meters[m].bus != b)
                continue;
            const struct dev_seen *d = find_dev(&l, cfg->meters[m].id, false);
            if (meters++ == 0)
                building = cfg->meters[m].building;
            else if (building != cfg->meters[m].building)
                one_building = false;
            if (d && d->silent) {
                silent++;
                since = d->since_s > since ? d->since_s : since; /* down since the last fell */
            }
        }
        if (!one_building)
            building = -1;
        if (meters < 2 || silent < meters)
            continue;
        bus_down[b] = true;
        (void)snprintf(subject, sizeof(subject), "bus:%s", cfg->buses[b].id);
        struct alerts_run r = {.kind = ALERT_DEVICE_SILENT,
                               .subject = subject,
                               .label = cfg->buses[b].id,
                               .severity = SEV_CRITICAL,
                               .building = building,
                               .dwelling = -1,
                               .channel = -1,
                               .text = AT_DEVICE_SILENT_BUS};
        rc = silent_run(sc, &r, since);
    }
    for (size_t m = 0; rc == 0 && m < cfg->n_meters; m++) {
        const struct meter *mt = &cfg->meters[m];
        const struct dev_seen *d = find_dev(&l, mt->id, false);
        if (!d || !d->silent || bus_down[mt->bus])
            continue;
        struct alerts_run r = {.kind = ALERT_DEVICE_SILENT,
                               .subject = mt->id,
                               .severity = SEV_WARNING,
                               .building = mt->building,
                               .dwelling = mt->dwelling,
                               .channel = -1,
                               .text = AT_DEVICE_SILENT_METER};
        rc = silent_run(sc, &r, d->since_s);
    }

    /* Sensors (and the devices of wildcard sensors): all of two or more
     * stale is the broker, or foyerd's link to it. */
    size_t sensors = 0, stale = 0;
    int64_t since = 0;
    for (size_t i = 0; i < l.n; i++) {
        if (!l.v[i].sensor)
            continue;
        sensors++;
        if (l.v[i].silent) {
            stale++;
            since = l.v[i].since_s > since ? l.v[i].since_s : since;
        }
    }
    bool broker_down = sensors >= 2 && stale == sensors;
    if (rc == 0 && broker_down) {
        struct alerts_run r = {.kind = ALERT_DEVICE_SILENT,
                               .subject = "mqtt",
                               .severity = SEV_CRITICAL,
                               .building = cfg->n_buildings == 1 ? 0 : -1,
                               .dwelling = -1,
                               .channel = -1,
                               .text = AT_DEVICE_SILENT_BROKER};
        rc = silent_run(sc, &r, since);
    }
    for (size_t i = 0; rc == 0 && !broker_down && i < l.n; i++) {
        const struct dev_seen *d = &l.v[i];
        if (!d->sensor || !d->silent)
            continue;
        int32_t dw = -1, bd = -1;
        for (size_t k = 0; k < cfg->n_sensors; k++)
            if (strcmp(cfg->sensors[k].id, d->name) == 0) {
                dw = cfg->sensors[k].dwelling;
                bd = cfg->sensors[k].building;
            }
        /* A wildcard sensor's device: its channels are DEVICE.FIELD. */
        size_t len = strlen(d->name);
        for (size_t k = 0; bd < 0 && k < cfg->n_channels; k++)
            if (strncmp(cfg->channels[k].id, d->name, len) == 0 &&
                cfg->channels[k].id[len] == '.') {
                dw = cfg->channels[k].dwelling;
                bd = cfg->channels[k].building;
            }
        struct alerts_run r = {.kind = ALERT_DEVICE_SILENT,
                               .subject = d->name,
                               .severity = SEV_WARNING,
                               .building = bd,
                               .dwelling = dw,
                               .channel = -1,
                               .text = AT_DEVICE_SILENT_SENSOR};
        rc = silent_run(sc, &r, d->since_s);
    }
    free(bus_down);
    free(l.v);
    return rc;
}

/* ---- all rules ------------------------------------------------------------------ */

int alerts_rules_begin(struct alerts_scope *sc)
{
    /* vacant_use asks the pass's tenancies (foyerctl tenancy), once a pass. */
    sc->scratch = malloc((ALERTS_SEASON_DAYS + 2) * sizeof(*sc->scratch));
    int rc = sc->scratch ? store_tenancy_read(sc->ro, sc->cfg, &sc->ten, &sc->n_ten) : -ENOMEM;
    if (rc < 0)
        alerts_rules_end(sc);
    return rc;
}

void alerts_rules_end(struct alerts_scope *sc)
{
    free(sc->ten);
    free(sc->scratch);
    sc->ten = NULL;
    sc->n_ten = 0;
    sc->scratch = NULL;
}

int alerts_rules_channel(const struct alerts_scope *sc, uint32_t ch)
{
    const struct channel *c = &sc->cfg->channels[ch];
    bool water = c->quantity == Q_HOT_WATER || c->quantity == Q_COLD_WATER;
    bool heat = c->quantity == Q_HEAT || c->quantity == Q_GAS;
    int rc = 0;
    if (c->dwelling < 0)
        return 0; /* building-level channels: common areas, the boiler */
    if (c->quantity == Q_TEMPERATURE)
        rc = rule_sustained(sc, ch, true);
    else if (c->quantity == Q_HUMIDITY)
        rc = rule_sustained(sc, ch, false);
    else if (c->quantity == Q_CO2)
        rc = rule_nightly(sc, ch, false);
    if (rc == 0 && water)
        rc = rule_nightly(sc, ch, true);
    if (rc == 0 && c->kind == KIND_COUNTER && !c->submeter &&
        (water || heat || c->quantity == Q_ELECTRICITY))
        rc = rule_abnormal(sc, ch, sc->scratch);
    if (rc == 0 && (water || heat) && has_tenancies(sc, c->dwelling))
        rc = rule_vacant(sc, ch);
    return rc;
}

int alerts_rules_events(const struct alerts_scope *sc, struct alerts_events_at *at, size_t max)
{
    struct events_piece pc = {.sc = sc, .at = at, .skip = at->n_at_ts, .left = max};
    if (at->ts_s < sc->from_s) {
        *at = (struct alerts_events_at){.ts_s = sc->from_s};
        pc.skip = 0;
    }
    int rc = store_read_events(sc->ro, at->ts_s, put_event, &pc); /* read only */
    return rc == EVENTS_PIECE_FULL ? 1 : rc;
}

int alerts_rules_devices(const struct alerts_scope *sc)
{
    return rule_devices(sc);
}
