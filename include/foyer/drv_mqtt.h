/*
 * drv_mqtt.h - the MQTT driver (drivers/drv_mqtt.c) and its payload decoding
 * (drivers/drv_mqtt_decode.c).
 *
 * The driver subscribes to the [sensor] topics on the [mqtt] broker with
 * libmosquitto and turns each message into readings of the sensor's
 * channels.  Decoding is separate and pure (no I/O, no logging, no global
 * state) so that it can be tested without a broker: a payload goes in, the
 * readings of one message come out, or an error saying why it was refused.
 */
#ifndef FOYER_DRV_MQTT_H
#define FOYER_DRV_MQTT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "foyer/config.h"
#include "foyer/driver.h"
#include "foyer/reading.h"

extern const struct driver_ops drv_mqtt_ops;

/* Connections to the broker the driver instance drv (drv_mqtt_ops.open()'s)
 * made so far: the first and each reconnect.  Any thread, until close(). */
uint64_t drv_mqtt_connections(void *drv);

/* Largest payload decoded.  The payloads we map are a few hundred bytes
 * (a Shelly Gen2 NotifyStatus with every component is about 2 KiB); 16 KiB
 * leaves room for chatty firmware and keeps a misdirected topic (a camera
 * snapshot, a firmware blob) from costing a parse: it is refused, counted,
 * before any byte is looked at. */
#define DRV_MQTT_PAYLOAD_MAX (16 * 1024)

/* Deepest JSON nesting accepted.  The payloads we map nest at most four
 * levels (params.switch:0.aenergy.total); jansson's parser recurses without
 * a limit of its own, so the raw bytes are checked before parsing. */
#define DRV_MQTT_DEPTH_MAX 16

/* Longest field path, and levels in one ("params.switch:0.aenergy.total"
 * is four). */
#define DRV_MQTT_PATH_LEVELS_MAX 8

/* Why a payload or one of its values was refused (negative, as returned).
 * The decoder also returns -errno (-ENOENT: a field is absent, -ENOMEM), so
 * its own codes lie below -DRV_MQTT_ERRNO_MAX, where no -errno can be: a
 * code means one thing only, whichever of the two kinds it is. */
#define DRV_MQTT_ERRNO_MAX 4095 /* the largest errno value, as the kernel has it */
enum drv_mqtt_decode_error {
    DRV_MQTT_OK = 0,
    DRV_MQTT_E_SIZE = -DRV_MQTT_ERRNO_MAX - 1,   /* larger than DRV_MQTT_PAYLOAD_MAX */
    DRV_MQTT_E_DEPTH = -DRV_MQTT_ERRNO_MAX - 2,  /* nested deeper than DRV_MQTT_DEPTH_MAX */
    DRV_MQTT_E_SYNTAX = -DRV_MQTT_ERRNO_MAX - 3, /* not JSON, or not an object or a number */
    DRV_MQTT_E_NOFIELD =
        -DRV_MQTT_ERRNO_MAX - 4,               /* none of the sensor's fields is in the payload */
    DRV_MQTT_E_TYPE = -DRV_MQTT_ERRNO_MAX - 5, /* a field is not a number */
    DRV_MQTT_E_NOTFINITE = -DRV_MQTT_ERRNO_MAX - 6, /* NaN or infinite, or too large to represent */
    DRV_MQTT_E_RANGE = -DRV_MQTT_ERRNO_MAX - 7, /* outside the channel's [min_value, max_value] */
    DRV_MQTT_E_TS = -DRV_MQTT_ERRNO_MAX - 8,    /* timestamp field not a date or epoch number */
    DRV_MQTT_E_TS_FUTURE =
        -DRV_MQTT_ERRNO_MAX - 9, /* more than FOYER_FUTURE_TOLERANCE_MAX_S ahead of now */
    DRV_MQTT_E_TS_PAST = -DRV_MQTT_ERRNO_MAX - 10, /* before FOYER_TS_MIN_S */
    DRV_MQTT_E_LAST_ = DRV_MQTT_E_TS_PAST,         /* the lowest code, for tests */
};

/* Short text for what a decoder function returned: an drv_mqtt_decode_error ("not
 * a JSON object or a number", "value out of range"; static), or a -errno
 * (strerror's text: valid until the calling thread's next strerror).
 * Never NULL. */
const char *drv_mqtt_decode_strerror(int err);

/* True when buf nests arrays/objects at most max_depth deep (brackets inside
 * JSON strings are not counted).  Linear, no allocation. */
bool drv_mqtt_decode_depth_ok(const char *buf, size_t len, int max_depth);

/* A parsed payload: a JSON object or a bare number.  Opaque. */
struct drv_mqtt_decode_doc;

/* Parse a payload.  Returns 0 and *ret_doc (caller frees with
 * drv_mqtt_decode_doc_free()), or an drv_mqtt_decode_error (SIZE, DEPTH, SYNTAX). */
int drv_mqtt_decode_parse(const void *payload, size_t len, struct drv_mqtt_decode_doc **ret_doc);
void drv_mqtt_decode_doc_free(struct drv_mqtt_decode_doc *doc);

/* The number at PATH: "" for a bare-number payload, else dot-separated keys
 * ("ENERGY.Total", "params.switch:0.aenergy.total": the key "switch:0"
 * inside "params").  Returns 0, -ENOENT when the path is absent (a field the
 * device does not report), DRV_MQTT_E_TYPE or DRV_MQTT_E_NOTFINITE. */
int drv_mqtt_decode_number(const struct drv_mqtt_decode_doc *doc, const char *path,
                           double *ret_value);

/* The timestamp at PATH: an ISO 8601 string (tu_parse_iso: without an
 * offset it is local time), or a number of epoch seconds, or milliseconds
 * when it is at least 1e11 (year 5138 in seconds, 1973 in ms).  Returns 0,
 * -ENOENT when absent, DRV_MQTT_E_TS when not a date. */
int drv_mqtt_decode_timestamp(const struct drv_mqtt_decode_doc *doc, const char *path,
                              int64_t *ret_ts_s);

/* Decode one message of sensor s whose channels for this device start at
 * first_channel (s->first_channel, or a wildcard device's run).  Fills
 * out[0..*ret_n) (out holds s->n_fields) with the valid values, scaled to
 * the stored unit, at the payload's timestamp (s->timestamp_field) or now_s.
 * Fields absent from the payload are skipped; a field present but refused
 * is left out and reported.
 *
 * Returns 0 when every present field was good, or the first error: the
 * whole message refused (SIZE, DEPTH, SYNTAX, NOFIELD, TS*, *ret_n = 0) or
 * one field refused (TYPE, NOTFINITE, RANGE: the others are in out).  On an
 * error, *ret_field names the field at fault (static or borrowed from cfg;
 * "" for the whole payload). */
int drv_mqtt_decode_message(const struct foyer_config *cfg, const struct sensor *s,
                            uint32_t first_channel, const void *payload, size_t len, int64_t now_s,
                            struct reading *out, size_t *ret_n, const char **ret_field);

/* The device name a wildcard topic filter gives a topic: the level matched
 * by the filter's first "+", or the first level matched by "#".  Copies it
 * to buf (len bytes) and returns true; false when the filter has no
 * wildcard, the topic does not match, or the name does not fit. */
bool drv_mqtt_decode_device_name(const char *filter, const char *topic, char *buf, size_t len);

#endif
