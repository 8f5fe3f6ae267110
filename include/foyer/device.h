/*
 * device.h - what drivers report about devices (meters, sensors), as opposed
 * to readings of channels: health and state changes.  Plain data: the
 * daemon passes it from driver threads to the writer, which keeps it in the
 * devices and events tables.
 */
#ifndef FOYER_DEVICE_H
#define FOYER_DEVICE_H

#include <stdint.h>

#include "foyer/limits.h"

/* Health of one device, reported by its driver after each poll or message
 * (or at least once a minute).  Kept in the devices table for foyerctl
 * status and the metrics endpoint. */
struct device_health {
    char device[FOYER_ID_MAX + 1]; /* [meter ID] or [sensor ID] */
    const char *kind;              /* "meter" or "sensor" (static string) */
    const char *state;             /* "online", "offline", "fresh", "stale" (static) */
    int64_t since_s;               /* state entered at (UTC epoch s) */
    int64_t last_success_s;        /* last good poll or message, 0 never */
    uint64_t polls;                /* requests sent, or messages received */
    uint64_t timeouts;
    uint64_t crc_errors;
    uint64_t exceptions;   /* Modbus exception responses */
    uint64_t bad_values;   /* decoded but refused: NaN, out of range, bad payload */
    uint64_t other_errors; /* connection refused or dropped, ... */
    double response_ms;    /* mean response time of the last polls, 0 unknown */
};

/* A device state change, as stored in the events table. */
struct device_event {
    char device[FOYER_ID_MAX + 1];
    int64_t ts_s;
    char kind[16];    /* "offline", "online", "stale", "fresh" */
    char detail[160]; /* for people: "3 polls missed: timeout" */
};

#endif
