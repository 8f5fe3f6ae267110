/*
 * gen_history.c - plausible readings for every channel of a config, as CSV
 * for `foyerctl import` (header channel,time,value).
 *
 * For the demo and the tests: deterministic for a seed.  Dwelling i of the
 * config lives as households[i] of tests/sim/households.h (frugal, average,
 * heavy, a night leak, a cold flat, a damp flat), the table the live
 * simulators use too, so history and live readings agree.  Electricity,
 * heat and hot water follow the outdoor temperature of the season; the
 * electricity index of a dwelling starts at its household's main_index_kwh,
 * above its heating-circuit submeter's.  With --anomalies the first
 * dwelling's cold-water meter shows what real meters do: a reading of 0
 * after a gateway reboot, a reset to zero (the meter replaced), and a
 * two-day outage.
 *
 * --skip-live leaves out the channels the demo's simulators feed live
 * (every [meter]'s, and a [sensor]'s other than temperature, humidity and
 * CO2): their indexes are the simulators' own.  --params FILE writes the
 * household of every dwelling as CSV, the parameters this run used, so a
 * test checks the history against them.
 *
 * Usage: foyer-gen-history --config FILE [--days N] [--step S] [--end ISO]
 *                          [--seed N] [--anomalies] [--skip-live]
 *                          [--params FILE] [--output FILE]
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "foyer/config.h"
#include "foyer/timeutil.h"

#include "households.h"

static uint64_t rng_state;

static double rnd(void) /* uniform [0, 1) */
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

static int local_hour(int64_t ts)
{
    struct tm tm;
    time_t t = (time_t)ts;
    localtime_r(&t, &tm);
    return tm.tm_hour;
}

/* The building's own habits (common areas, outdoor sensor). */
static const struct household building_habits = {"building", 1.2, 0.8, 19, 50, 0, 0, 0, 0, 0};

/* Consumption rate per hour of a counter channel at ts. */
static double rate(const struct foyer_config *cfg, const struct channel *c,
                   const struct household *hb, int64_t ts)
{
    int h = local_hour(ts);
    double out = household_outdoor_c((time_t)ts);
    double surface = c->dwelling >= 0 ? cfg->dwellings[c->dwelling].surface_m2 : 500;
    /* Heating runs below 2 °C under the setpoint (gains from people and
     * appliances cover the rest), in proportion to the surface. */
    double heat_need = fmax(0, hb->setpoint_c - 2 - out) * 0.055 * surface / 50.0;
    /* Water is colder in winter: a shower takes more hot water. */
    double winter = 1 + 0.15 * fmax(0, 12 - out) / 12;
    double p = household_presence(h);
    /* Nobody runs water asleep (presence 0.1, midnight to 5:00): a leak
     * shows at night.  10.3 is the day's sum of the other hours' presence,
     * so a day draws shower_l and cold_l. */
    double awake = p > 0.1 ? p : 0;
    switch (c->quantity) {
    case Q_ELECTRICITY:
        if (c->dwelling < 0)
            return 1.2 + (h < 7 || h > 19 ? 0.8 : 0); /* common areas: lights at night */
        return hb->base_kw + hb->peak_kw * p * (0.7 + 0.6 * rnd()) +
               (cfg->dwellings[c->dwelling].heating == HEATING_ELECTRIC ? heat_need : 0);
    case Q_HEAT:
    case Q_GAS:
        return heat_need * 1.1;
    case Q_HOT_WATER:
        return hb->shower_l * winter * awake / 10.3 * (rnd() < 0.5 ? 2 * rnd() : 0.2) / 0.6;
    case Q_COLD_WATER:
        return hb->cold_l * awake / 10.3 * (0.5 + rnd()) + hb->leak_l_h;
    default:
        return 0;
    }
}

static double gauge(const struct channel *c, const struct household *hb, int64_t ts)
{
    int h = local_hour(ts);
    double out = household_outdoor_c((time_t)ts);
    switch (c->quantity) {
    case Q_OUTDOOR_TEMPERATURE:
        return out + (rnd() - 0.5) * 0.4;
    case Q_TEMPERATURE:
        return household_temperature(hb, h, out, rnd() - 0.5);
    case Q_HUMIDITY:
        return household_humidity(hb, h, rnd() - 0.5);
    case Q_CO2:
        return 450 + 900 * household_presence(h) + rnd() * 80;
    case Q_POWER:
        return 1000 * (hb->base_kw + hb->peak_kw * household_presence(h));
    default:
        return 0;
    }
}

static double start_index(const struct channel *c, const struct household *hb)
{
    switch (c->quantity) {
    case Q_HOT_WATER:
    case Q_COLD_WATER:
        return 150000 + rnd() * 600000;
    case Q_ELECTRICITY:
        if (c->dwelling >= 0)
            return hb->main_index_kwh;
        return 8000 + rnd() * 30000;
    default:
        return 8000 + rnd() * 30000;
    }
}

/* Channels the demo's simulators feed live (--skip-live). */
static bool fed_live(const struct channel *c)
{
    if (c->meter >= 0)
        return true;
    return c->sensor >= 0 && c->quantity != Q_TEMPERATURE && c->quantity != Q_HUMIDITY &&
           c->quantity != Q_CO2;
}

static int write_params(const char *path, const struct foyer_config *cfg)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -errno;
    fprintf(f, "dwelling,profile,base_kw,peak_kw,setpoint_c,humidity_rh,shower_l,cold_l,leak_l_h,"
               "heating_index_kwh,main_index_kwh\n");
    for (size_t d = 0; d < cfg->n_dwellings; d++) {
        const struct household *hh = household_of((long)d);
        fprintf(f, "%s,%s,%.2f,%.2f,%.1f,%.1f,%.0f,%.0f,%.1f,%.0f,%.0f\n", cfg->dwellings[d].id,
                hh->profile, hh->base_kw, hh->peak_kw, hh->setpoint_c, hh->humidity_rh,
                hh->shower_l, hh->cold_l, hh->leak_l_h, hh->heating_index_kwh, hh->main_index_kwh);
    }
    return fclose(f) == 0 ? 0 : -errno;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"days", required_argument, NULL, 'd'},
        {"step", required_argument, NULL, 's'},   {"end", required_argument, NULL, 'e'},
        {"seed", required_argument, NULL, 'r'},   {"anomalies", no_argument, NULL, 'a'},
        {"output", required_argument, NULL, 'o'}, {"skip-live", no_argument, NULL, 'L'},
        {"params", required_argument, NULL, 'P'}, {NULL, 0, NULL, 0}};
    const char *path = NULL, *output = NULL, *params = NULL;
    bool skip_live = false;
    int days = 120, step = 900;
    uint64_t seed = 42;
    int64_t end = 0;
    bool anomalies = false;
    int opt;

    while ((opt = getopt_long(argc, argv, "c:d:s:e:r:ao:", opts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            path = optarg;
            break;
        case 'd':
            days = atoi(optarg);
            break;
        case 's':
            step = atoi(optarg);
            break;
        case 'e':
            if (tu_parse_iso(optarg, &end) < 0) {
                fprintf(stderr, "gen-history: bad --end \"%s\"\n", optarg);
                return 2;
            }
            break;
        case 'r':
            seed = strtoull(optarg, NULL, 10);
            break;
        case 'a':
            anomalies = true;
            break;
        case 'o':
            output = optarg;
            break;
        case 'L':
            skip_live = true;
            break;
        case 'P':
            params = optarg;
            break;
        default:
            return 2;
        }
    }
    if (!path || days <= 0 || step <= 0) {
        fprintf(stderr, "usage: foyer-gen-history --config FILE [--days N] [--step S] "
                        "[--end ISO] [--seed N] [--anomalies] [--skip-live] [--params FILE] "
                        "[--output FILE]\n");
        return 2;
    }
    struct conf_errors errs = {0};
    struct foyer_config *cfg = config_load(path, &errs);
    if (!cfg) {
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "%s\n", errs.msgs[i]);
        conf_errors_free(&errs);
        return 1;
    }
    if (tu_set_zone(cfg->timezone) < 0) {
        fprintf(stderr, "gen-history: bad time zone %s\n", cfg->timezone);
        return 1;
    }
    FILE *out = output ? fopen(output, "w") : stdout;
    if (!out) {
        fprintf(stderr, "gen-history: %s: %s\n", output, strerror(errno));
        return 1;
    }
    if (end == 0)
        end = tu_now_s();
    end -= end % step;
    int64_t start = end - (int64_t)days * 86400;

    rng_state = seed * 2654435761u + 88172645463325252ull;
    if (params && write_params(params, cfg) < 0) {
        fprintf(stderr, "gen-history: %s: %s\n", params, strerror(errno));
        return 1;
    }
    double *index = calloc(cfg->n_channels, sizeof(*index));
    for (size_t i = 0; i < cfg->n_channels; i++) {
        const struct channel *c = &cfg->channels[i];
        index[i] = start_index(c, c->dwelling >= 0 ? household_of(c->dwelling) : &building_habits);
    }
    int32_t odd = -1; /* the channel that misbehaves with --anomalies */
    for (size_t i = 0; anomalies && i < cfg->n_channels && odd < 0; i++)
        if (cfg->channels[i].quantity == Q_COLD_WATER && cfg->channels[i].dwelling >= 0)
            odd = (int32_t)i;
    size_t skipped = 0;
    for (size_t i = 0; skip_live && i < cfg->n_channels; i++)
        skipped += fed_live(&cfg->channels[i]);

    fprintf(out, "channel,time,value\n");
    size_t rows = 0;
    for (int64_t ts = start; ts <= end; ts += step) {
        int64_t day = (ts - start) / 86400;
        for (size_t i = 0; i < cfg->n_channels; i++) {
            const struct channel *c = &cfg->channels[i];
            const struct household *h =
                c->dwelling >= 0 ? household_of(c->dwelling) : &building_habits;
            if (skip_live && fed_live(c))
                continue;
            char when[40];
            double v;
            if (c->kind == KIND_COUNTER) {
                index[i] += rate(cfg, c, h, ts) * step / 3600.0;
                v = index[i];
                if ((int32_t)i == odd) {
                    if (day == 10 && ts % 86400 == 43200)
                        v = 0; /* gateway reboot: one reading of 0 */
                    if (day == 40 && ts % 86400 == 0)
                        index[i] = v = 0; /* meter replaced, starts from 0 */
                    if (day >= 60 && day < 62)
                        continue; /* two days without readings */
                }
                fprintf(out, "%s,%s,%.3f\n", c->id, tu_format_utc(ts, when, sizeof(when)), v);
            } else {
                v = gauge(c, h, ts);
                fprintf(out, "%s,%s,%.2f\n", c->id, tu_format_utc(ts, when, sizeof(when)), v);
            }
            rows++;
        }
    }
    if (out != stdout)
        fclose(out);
    fprintf(stderr,
            "gen-history: %zu readings of %zu channels over %d days, every %d s (%zu channels "
            "fed live by the simulators left out)\n",
            rows, cfg->n_channels - skipped, days, step, skipped);
    free(index);
    config_free(cfg);
    return 0;
}
