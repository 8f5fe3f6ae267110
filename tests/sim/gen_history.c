/*
 * gen_history.c - plausible readings for every channel of a config, as CSV
 * for `foyerctl import` (header channel,time,value).
 *
 * For the demo and the tests: deterministic for a seed.  Each dwelling gets
 * its own habits (base load, presence peaks, thermostat, shower length);
 * electric and heat consumption follow the outdoor temperature of a French
 * winter; counters start at a realistic index.  With --anomalies the first
 * dwelling's electricity meter shows what real meters do: a reading of 0
 * after a gateway reboot, a reset to zero, and a two-day outage.
 *
 * Usage: foyer-gen-history --config FILE [--days N] [--step S] [--end ISO]
 *                          [--seed N] [--anomalies] [--output FILE]
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

struct habits {
    double base_kw;     /* night base load */
    double peak_kw;     /* evening presence */
    double setpoint_c;  /* thermostat */
    double shower_l;    /* hot water per day */
    double cold_l;      /* cold water per day */
    double humid_extra; /* %RH above a normal dwelling */
};

static uint64_t rng_state;

static double rnd(void) /* uniform [0, 1) */
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

static double outdoor_c(int64_t ts)
{
    struct tm tm;
    time_t t = (time_t)ts;
    localtime_r(&t, &tm);
    double doy = tm.tm_yday + tm.tm_hour / 24.0;
    double season = 12.5 - 8.5 * cos(2 * M_PI * (doy - 20) / 365.0);
    double day = 4.0 * sin(2 * M_PI * (tm.tm_hour + tm.tm_min / 60.0 - 9) / 24.0);
    double weather = 3.0 * sin(2 * M_PI * doy / 9.3) + 1.5 * sin(2 * M_PI * doy / 4.1);
    return season + day + weather;
}

static int local_hour(int64_t ts)
{
    struct tm tm;
    time_t t = (time_t)ts;
    localtime_r(&t, &tm);
    return tm.tm_hour;
}

/* Presence factor 0..1 by hour of day: mornings and evenings. */
static double presence(int h)
{
    static const double p[24] = {0.1, 0.1, 0.1, 0.1, 0.1, 0.2, 0.6, 0.9, 0.6, 0.3, 0.3, 0.4,
                                 0.6, 0.4, 0.3, 0.3, 0.4, 0.6, 0.9, 1.0, 1.0, 0.8, 0.5, 0.2};
    return p[h];
}

/* Consumption rate per hour of a counter channel at ts. */
static double rate(const struct foyer_config *cfg, const struct channel *c, const struct habits *hb,
                   int64_t ts)
{
    int h = local_hour(ts);
    double out = outdoor_c(ts);
    double surface = c->dwelling >= 0 ? cfg->dwellings[c->dwelling].surface_m2 : 500;
    double heat_need = fmax(0, hb->setpoint_c - 2 - out) * 0.055 * surface / 50.0;
    switch (c->quantity) {
    case Q_ELECTRICITY:
        if (c->dwelling < 0)
            return 1.2 + (h < 7 || h > 19 ? 0.8 : 0); /* common areas: lights at night */
        return hb->base_kw + hb->peak_kw * presence(h) * (0.7 + 0.6 * rnd()) +
               (cfg->dwellings[c->dwelling].heating == HEATING_ELECTRIC ? heat_need : 0);
    case Q_HEAT:
    case Q_GAS:
        return heat_need * 1.1;
    case Q_HOT_WATER:
        return hb->shower_l * presence(h) / 8.0 * (rnd() < 0.5 ? 2 * rnd() : 0.2);
    case Q_COLD_WATER:
        return hb->cold_l * presence(h) / 8.0 * (0.5 + rnd());
    default:
        return 0;
    }
}

static double gauge(const struct channel *c, const struct habits *hb, int64_t ts)
{
    int h = local_hour(ts);
    double out = outdoor_c(ts);
    switch (c->quantity) {
    case Q_OUTDOOR_TEMPERATURE:
        return out + (rnd() - 0.5) * 0.4;
    case Q_TEMPERATURE:
        return hb->setpoint_c - 1.2 + 1.5 * presence(h) + 0.05 * (out - 8) + (rnd() - 0.5) * 0.3;
    case Q_HUMIDITY:
        return fmin(99, 52 + hb->humid_extra + 8 * presence(h) + (rnd() - 0.5) * 3);
    case Q_CO2:
        return 450 + 900 * presence(h) + rnd() * 80;
    case Q_POWER:
        return 1000 * (hb->base_kw + hb->peak_kw * presence(h));
    default:
        return 0;
    }
}

static double start_index(const struct channel *c)
{
    switch (c->quantity) {
    case Q_HOT_WATER:
    case Q_COLD_WATER:
        return 150000 + rnd() * 600000;
    default:
        return 8000 + rnd() * 30000;
    }
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"days", required_argument, NULL, 'd'},
        {"step", required_argument, NULL, 's'},   {"end", required_argument, NULL, 'e'},
        {"seed", required_argument, NULL, 'r'},   {"anomalies", no_argument, NULL, 'a'},
        {"output", required_argument, NULL, 'o'}, {NULL, 0, NULL, 0}};
    const char *path = NULL, *output = NULL;
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
        default:
            return 2;
        }
    }
    if (!path || days <= 0 || step <= 0) {
        fprintf(stderr, "usage: foyer-gen-history --config FILE [--days N] [--step S] "
                        "[--end ISO] [--seed N] [--anomalies] [--output FILE]\n");
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
    struct habits *hb = calloc(cfg->n_dwellings + 1, sizeof(*hb));
    for (size_t d = 0; d <= cfg->n_dwellings; d++) {
        hb[d] = (struct habits){.base_kw = 0.08 + rnd() * 0.25,
                                .peak_kw = 0.6 + rnd() * 1.2,
                                .setpoint_c = 18.5 + rnd() * 4,
                                .shower_l = 60 + rnd() * 120,
                                .cold_l = 90 + rnd() * 150,
                                .humid_extra = d == 1 ? 16 : rnd() * 6};
    }
    double *index = calloc(cfg->n_channels, sizeof(*index));
    for (size_t i = 0; i < cfg->n_channels; i++)
        index[i] = start_index(&cfg->channels[i]);
    int32_t odd = -1; /* the channel that misbehaves with --anomalies */
    for (size_t i = 0; anomalies && i < cfg->n_channels && odd < 0; i++)
        if (cfg->channels[i].quantity == Q_ELECTRICITY && cfg->channels[i].dwelling >= 0)
            odd = (int32_t)i;

    fprintf(out, "channel,time,value\n");
    size_t rows = 0;
    for (int64_t ts = start; ts <= end; ts += step) {
        int64_t day = (ts - start) / 86400;
        for (size_t i = 0; i < cfg->n_channels; i++) {
            const struct channel *c = &cfg->channels[i];
            const struct habits *h = &hb[c->dwelling >= 0 ? c->dwelling + 1 : 0];
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
    fprintf(stderr, "gen-history: %zu readings of %zu channels over %d days, every %d s\n", rows,
            cfg->n_channels, days, step);
    free(index);
    free(hb);
    config_free(cfg);
    return 0;
}
