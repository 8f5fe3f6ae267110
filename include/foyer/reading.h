/*
 * reading.h - one measurement, the unit of data flowing from drivers to the
 * writer.  A reading carries the channel's index in the inventory (not its
 * name): names are resolved once, when a driver starts, so nothing between a
 * Modbus read and the queue allocates or looks up strings.
 */
#ifndef FOYER_READING_H
#define FOYER_READING_H

#include <stdint.h>

struct reading {
    uint32_t channel; /* index into config->channels */
    int64_t ts_s;     /* UTC epoch seconds of the measurement */
    double value;     /* in the channel's stored unit (kWh, L, W, °C, %RH, ppm) */
};

#endif
