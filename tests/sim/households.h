/*
 * households.h - the simulated building's households, shared by the history
 * generator (gen_history.c), the MQTT sensor publisher (mqtt_pub.c, z2m
 * shape) and the Modbus meter simulator (modbus_sim.c), so the history a
 * demo imports and the live readings that follow it tell one story: the
 * damp flat's live sensor reads as damp as its history, the cold flat stays
 * cold, a heating-circuit submeter's index stays below its dwelling's main
 * meter.
 *
 * Dwelling i of a config (or sensor device si, or Modbus unit i + 1) lives
 * as households[i % HOUSEHOLDS_N].  The demo building (config/demo.conf)
 * has six dwellings, one of each.  Every figure is a mean; the generator
 * adds presence by hour, seasons and noise.  gen_history --params writes
 * the table it used, so a test can check the history against these claims.
 */
#ifndef FOYER_SIM_HOUSEHOLDS_H
#define FOYER_SIM_HOUSEHOLDS_H

#include <math.h>
#include <time.h>

struct household {
    const char *profile;      /* "frugal", "average", "heavy", "leak", "cold", "damp" */
    double base_kw;           /* night base load (fridge, standby) */
    double peak_kw;           /* extra load at full presence (cooking, lights, appliances) */
    double setpoint_c;        /* thermostat; heating runs below it */
    double humidity_rh;       /* indoor relative humidity, mean over a day */
    double shower_l;          /* hot water per day */
    double cold_l;            /* cold water per day, leak aside */
    double leak_l_h;          /* a running toilet: cold water every hour, day and night */
    double heating_index_kwh; /* heating-circuit submeter's index at the simulators' start */
    double main_index_kwh;    /* main meter's (Linky) index when the history starts */
};

#define HOUSEHOLDS_N 6

static const struct household households[HOUSEHOLDS_N] = {
    /* a01: a couple, average habits, electric heating at 20 °C */
    {"average", 0.15, 1.1, 20.0, 50.0, 110, 160, 0, 2100, 14200},
    /* a02: a family of five, heavy: more appliances, 22 °C */
    {"heavy", 0.30, 2.2, 22.0, 55.0, 260, 330, 0, 4300, 31800},
    /* a11: a retired person living frugally at 19.5 °C */
    {"frugal", 0.08, 0.5, 19.5, 47.0, 45, 70, 0, 900, 8600},
    /* a12: average, but the toilet cistern leaks 6 L an hour, night too */
    {"leak", 0.14, 1.0, 20.0, 52.0, 100, 150, 6, 1500, 12100},
    /* b01: cannot afford the heating: 16.5 °C, collective heat valve low */
    {"cold", 0.10, 0.8, 16.5, 58.0, 70, 120, 0, 600, 9900},
    /* b11: a small flat dried badly (laundry indoors, no ventilation) */
    {"damp", 0.12, 0.9, 20.0, 71.0, 90, 130, 0, 1100, 10400},
};

static inline const struct household *household_of(long i)
{
    return &households[(unsigned long)i % HOUSEHOLDS_N];
}

/* Presence 0..1 by local hour of day: mornings and evenings. */
static inline double household_presence(int h)
{
    static const double p[24] = {0.1, 0.1, 0.1, 0.1, 0.1, 0.2, 0.6, 0.9, 0.6, 0.3, 0.3, 0.4,
                                 0.6, 0.4, 0.3, 0.3, 0.4, 0.6, 0.9, 1.0, 1.0, 0.8, 0.5, 0.2};
    return p[h % 24];
}

/* Outdoor temperature of a French city at ts (local time set by TZ): a
 * season (4 °C in mid-January, 21 °C in mid-July), a day and weather. */
static inline double household_outdoor_c(time_t ts)
{
    struct tm tm;
    localtime_r(&ts, &tm);
    double doy = tm.tm_yday + tm.tm_hour / 24.0;
    double season = 12.5 - 8.5 * cos(2 * M_PI * (doy - 20) / 365.0);
    double day = 4.0 * sin(2 * M_PI * (tm.tm_hour + tm.tm_min / 60.0 - 9) / 24.0);
    double weather = 3.0 * sin(2 * M_PI * doy / 9.3) + 1.5 * sin(2 * M_PI * doy / 4.1);
    return season + day + weather;
}

/* Indoor temperature at local hour h, outdoor out_c; noise in [-0.5, 0.5). */
static inline double household_temperature(const struct household *hh, int h, double out_c,
                                           double noise)
{
    return hh->setpoint_c - 0.8 + 1.0 * household_presence(h) + 0.04 * (out_c - 10) + 0.3 * noise;
}

/* Indoor humidity at local hour h: showers and cooking at presence peaks. */
static inline double household_humidity(const struct household *hh, int h, double noise)
{
    double v = hh->humidity_rh - 2.5 + 5 * household_presence(h) + 3 * noise;
    return v < 5 ? 5 : v > 99 ? 99 : v;
}

#endif
