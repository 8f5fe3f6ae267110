/*
 * driver.h - the interface between a data source (Modbus bus, MQTT broker)
 * and the daemon.  A driver turns bytes into struct reading and hands them to
 * the sink; it knows nothing of SQLite.  The daemon owns the sink and the
 * config; the driver owns its threads, sockets and library handles.
 */
#ifndef FOYER_DRIVER_H
#define FOYER_DRIVER_H

#include <stdbool.h>
#include <stddef.h>

#include "foyer/config.h"
#include "foyer/device.h"
#include "foyer/reading.h"

#define FOYER_DRIVER_ABI 1

/* Where readings go.  Returns true when the reading was queued, false when it
 * was refused (queue full: counted by the sink, the driver may retry later or
 * drop).  Thread-safe: any driver thread may call it. */
typedef bool (*reading_sink_fn)(void *sink_ctx, const struct reading *r);

/* Where a driver reports device state changes: a meter offline or back
 * online, a sensor stale or fresh.  device is the [meter]/[sensor] ID, kind
 * a short name ("offline", "online", "stale", "fresh"), detail free text for
 * people ("3 polls missed: timeout").  Logged and stored in the events
 * table.  Thread-safe; copies its arguments. */
typedef void (*event_sink_fn)(void *sink_ctx, const char *device, int64_t ts_s, const char *kind,
                              const char *detail);

/* Thread-safe; copies *h. */
typedef void (*health_sink_fn)(void *sink_ctx, const struct device_health *h);

struct driver_env {
    const struct foyer_config *cfg; /* borrowed until close() returns */
    reading_sink_fn emit;
    event_sink_fn event;
    health_sink_fn health;
    void *sink_ctx;
};

struct driver_ops {
    int abi;          /* FOYER_DRIVER_ABI */
    const char *name; /* "modbus", "mqtt" */
    /* Set up from the config; no I/O yet.  Returns NULL with *ret_err set to
     * a negative errno when the driver cannot start. */
    void *(*open)(const struct driver_env *env, int *ret_err);
    /* Start threads; returns 0 or -errno. */
    int (*start)(void *drv);
    /* Stop threads, wait for them, free everything.  Accepts NULL. */
    void (*close)(void *drv);
};

#endif
