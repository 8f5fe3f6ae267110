/*
 * drv_mqtt_decode.c - MQTT payloads to readings: JSON with field paths, bare
 * numbers, payload timestamps, unit scale and the checks every value goes
 * through before it becomes a reading.
 *
 * Pure functions: no I/O, no logging, no global state; the driver
 * (drivers/drv_mqtt.c) calls them from libmosquitto's thread and logs refusals
 * with the topic.  jansson parses.  Its own nesting limit is 2048 levels
 * (JSON_PARSER_MAX_DEPTH, each a recursive call and an allocation), far
 * beyond any sensor's payload, so the raw bytes are checked for nesting
 * against our much lower DRV_MQTT_DEPTH_MAX first (drv_mqtt_decode_depth_ok),
 * and payloads are bounded by DRV_MQTT_PAYLOAD_MAX before anything else.
 */
#include "foyer/drv_mqtt.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include <jansson.h>

#include "foyer/limits.h"
#include "foyer/timeutil.h"

struct drv_mqtt_decode_doc {
    json_t *root; /* an object or a number */
};

const char *drv_mqtt_decode_strerror(int err)
{
    switch (err) {
    case DRV_MQTT_OK:
        return "ok";
    case DRV_MQTT_E_SIZE:
        return "payload too large";
    case DRV_MQTT_E_DEPTH:
        return "JSON nested too deep";
    case DRV_MQTT_E_SYNTAX:
        return "not a JSON object or a number";
    case DRV_MQTT_E_NOFIELD:
        return "none of the mapped fields present";
    case DRV_MQTT_E_TYPE:
        return "field is not a number";
    case DRV_MQTT_E_NOTFINITE:
        return "value is NaN, infinite or too large";
    case DRV_MQTT_E_RANGE:
        return "value out of range";
    case DRV_MQTT_E_TS:
        return "timestamp is not a date or an epoch number";
    case DRV_MQTT_E_TS_FUTURE:
        return "timestamp in the future";
    case DRV_MQTT_E_TS_PAST:
        return "timestamp before 2000";
    default:
        /* strerror's texts for known errno values are static in glibc. */
        return err < 0 && err >= -DRV_MQTT_ERRNO_MAX ? strerror(-err) : "unknown error";
    }
}

bool drv_mqtt_decode_depth_ok(const char *buf, size_t len, int max_depth)
{
    int depth = 0;
    bool in_str = false, esc = false;

    for (size_t i = 0; i < len; i++) {
        char c = buf[i];
        if (in_str) {
            if (esc)
                esc = false;
            else if (c == '\\')
                esc = true;
            else if (c == '"')
                in_str = false;
            continue;
        }
        if (c == '"') {
            in_str = true;
        } else if (c == '{' || c == '[') {
            if (++depth > max_depth)
                return false;
        } else if ((c == '}' || c == ']') && depth > 0) {
            depth--;
        }
    }
    return true;
}

int drv_mqtt_decode_parse(const void *payload, size_t len, struct drv_mqtt_decode_doc **ret_doc)
{
    struct drv_mqtt_decode_doc *doc;
    json_error_t jerr;
    json_t *root;

    if (len > DRV_MQTT_PAYLOAD_MAX)
        return DRV_MQTT_E_SIZE;
    if (!drv_mqtt_decode_depth_ok(payload, len, DRV_MQTT_DEPTH_MAX))
        return DRV_MQTT_E_DEPTH;
    /* JSON_DECODE_ANY only to take a bare number ("21.5"); any other
     * non-object root is refused below. */
    root = json_loadb(payload, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return DRV_MQTT_E_SYNTAX;
    if (!json_is_object(root) && !json_is_number(root)) {
        json_decref(root);
        return DRV_MQTT_E_SYNTAX;
    }
    doc = calloc(1, sizeof(*doc));
    if (!doc) {
        json_decref(root);
        return -ENOMEM;
    }
    doc->root = root;
    *ret_doc = doc;
    return 0;
}

void drv_mqtt_decode_doc_free(struct drv_mqtt_decode_doc *doc)
{
    if (!doc)
        return;
    json_decref(doc->root);
    free(doc);
}

/* The JSON value at a dot-separated path, or NULL. */
static json_t *lookup(const struct drv_mqtt_decode_doc *doc, const char *path)
{
    json_t *v = doc->root;
    const char *seg = path;

    if (!path[0])
        return json_is_number(v) ? v : NULL;
    for (int level = 0; level < DRV_MQTT_PATH_LEVELS_MAX; level++) {
        const char *dot = strchr(seg, '.');
        size_t n = dot ? (size_t)(dot - seg) : strlen(seg);
        if (!json_is_object(v))
            return NULL;
        v = json_object_getn(v, seg, n);
        if (!v || !dot)
            return v;
        seg = dot + 1;
    }
    return NULL;
}

int drv_mqtt_decode_number(const struct drv_mqtt_decode_doc *doc, const char *path,
                           double *ret_value)
{
    json_t *v = lookup(doc, path);
    double d;

    if (!v)
        return -ENOENT;
    if (!json_is_number(v))
        return DRV_MQTT_E_TYPE;
    d = json_number_value(v);
    if (!isfinite(d))
        return DRV_MQTT_E_NOTFINITE;
    *ret_value = d;
    return 0;
}

int drv_mqtt_decode_timestamp(const struct drv_mqtt_decode_doc *doc, const char *path,
                              int64_t *ret_ts_s)
{
    json_t *v = lookup(doc, path);
    int64_t ts;

    if (!v)
        return -ENOENT;
    if (json_is_string(v)) {
        if (tu_parse_iso(json_string_value(v), &ts) < 0)
            return DRV_MQTT_E_TS;
    } else if (json_is_number(v)) {
        double d = json_number_value(v);
        if (!isfinite(d) || d < 0 || d > 1e15)
            return DRV_MQTT_E_TS;
        if (d >= 1e11)
            d /= 1000;
        ts = (int64_t)d;
    } else {
        return DRV_MQTT_E_TS;
    }
    *ret_ts_s = ts;
    return 0;
}

int drv_mqtt_decode_message(const struct foyer_config *cfg, const struct sensor *s,
                            uint32_t first_channel, const void *payload, size_t len, int64_t now_s,
                            struct reading *out, size_t *ret_n, const char **ret_field)
{
    struct drv_mqtt_decode_doc *doc = NULL;
    int64_t ts_s = now_s;
    size_t n = 0, found = 0;
    int rc, first_err = 0;

    *ret_n = 0;
    *ret_field = "";
    rc = drv_mqtt_decode_parse(payload, len, &doc);
    if (rc < 0)
        return rc;
    if (s->timestamp_field) {
        rc = drv_mqtt_decode_timestamp(doc, s->timestamp_field, &ts_s);
        if (rc == -ENOENT) {
            ts_s = now_s;
        } else if (rc < 0) {
            *ret_field = s->timestamp_field;
            goto out_free;
        } else if (ts_s > now_s + FOYER_FUTURE_TOLERANCE_MAX_S) {
            *ret_field = s->timestamp_field;
            rc = DRV_MQTT_E_TS_FUTURE;
            goto out_free;
        } else if (ts_s < FOYER_TS_MIN_S) {
            *ret_field = s->timestamp_field;
            rc = DRV_MQTT_E_TS_PAST;
            goto out_free;
        }
    }
    for (size_t f = 0; f < s->n_fields; f++) {
        const struct sensor_field *sf = &s->fields[f];
        const struct channel *ch = &cfg->channels[first_channel + f];
        double v;

        rc = drv_mqtt_decode_number(doc, sf->path, &v);
        if (rc == -ENOENT)
            continue;
        found++;
        if (rc == 0) {
            v *= sf->scale;
            if (!isfinite(v))
                rc = DRV_MQTT_E_NOTFINITE;
            else if (v < ch->min_value || v > ch->max_value)
                rc = DRV_MQTT_E_RANGE;
        }
        if (rc < 0) {
            if (!first_err) {
                first_err = rc;
                *ret_field = sf->name;
            }
            continue;
        }
        out[n++] =
            (struct reading){.channel = first_channel + (uint32_t)f, .ts_s = ts_s, .value = v};
    }
    rc = first_err;
    if (found == 0)
        rc = DRV_MQTT_E_NOFIELD;
    *ret_n = n;
out_free:
    drv_mqtt_decode_doc_free(doc);
    return rc;
}

bool drv_mqtt_decode_device_name(const char *filter, const char *topic, char *buf, size_t len)
{
    const char *f = filter, *t = topic;
    const char *name = NULL;
    size_t name_len = 0;

    for (;;) {
        const char *fe = strchr(f, '/'), *te = strchr(t, '/');
        size_t fl = fe ? (size_t)(fe - f) : strlen(f);
        size_t tl = te ? (size_t)(te - t) : strlen(t);

        if (fl == 1 && f[0] == '#') {
            if (!name) {
                name = t;
                name_len = tl;
            }
            break;
        }
        if (fl == 1 && f[0] == '+') {
            if (!name) {
                name = t;
                name_len = tl;
            }
        } else if (fl != tl || memcmp(f, t, fl) != 0) {
            return false;
        }
        if (!fe || !te) {
            if (fe || te)
                return false;
            break;
        }
        f = fe + 1;
        t = te + 1;
    }
    if (!name || name_len == 0 || name_len >= len)
        return false;
    memcpy(buf, name, name_len);
    buf[name_len] = '\0';
    return true;
}
