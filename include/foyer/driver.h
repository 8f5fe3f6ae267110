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
#include "foyer/reading.h"

#define FOYER_DRIVER_ABI 1

/* Where readings go.  Returns true when the reading was queued, false when it
 * was refused (queue full: counted by the sink, the driver may retry later or
 * drop).  Thread-safe: any driver thread may call it. */
typedef bool (*reading_sink_fn)(void *sink_ctx, const struct reading *r);

/* Where a driver reports device state changes (offline, stale, back online).
 * kind is one of the EVENT_* names of store.h, detail free text. */
typedef void (*event_sink_fn)(void *sink_ctx, uint32_t channel, int64_t ts_s, const char *kind,
                              const char *detail);

struct driver_env {
    const struct foyer_config *cfg; /* borrowed until close() returns */
    reading_sink_fn emit;
    event_sink_fn event;
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
