/*
 * collector_item.c - decoding the gateways' items messages (protocol in
 * docs/fleet.md): the envelope, then each item, into struct fleet_item.
 *
 * Pure: no I/O, no logging.  The envelope is checked first (size, JSON,
 * "v", the gateway against the topic's, 1..500 items); each item is then
 * decoded on its own, so one malformed item is refused (and acked as
 * rejected when its seq can be read) without the others.  Unknown fields
 * are ignored (forward compatibility); a known field of the wrong type, a
 * non-finite number or an over-long string makes the item malformed.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "collector.h"

static const char *const gran_names[FLEET_GRAN_COUNT_] = {"hour", "day", "month"};

const char *fleet_gran_name(enum fleet_gran g)
{
    return gran_names[g];
}

static bool gw_valid(const char *s, size_t len)
{
    if (len == 0 || len > FLEET_GW_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    return true;
}

int fleet_topic_gateway(const char *topic, char ret_gw[FLEET_GW_MAX + 1])
{
    static const char prefix[] = "foyer/v1/";
    static const char suffix[] = "/items";
    size_t len = strlen(topic), pl = sizeof(prefix) - 1, sl = sizeof(suffix) - 1;

    if (len <= pl + sl || strncmp(topic, prefix, pl) != 0 || strcmp(topic + len - sl, suffix) != 0)
        return -EINVAL;
    if (!gw_valid(topic + pl, len - pl - sl))
        return -EINVAL;
    memcpy(ret_gw, topic + pl, len - pl - sl);
    ret_gw[len - pl - sl] = '\0';
    return 0;
}

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen, const char *fmt,
                                                      ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

int fleet_msg_decode(const char *gw, const void *payload, size_t len, struct fleet_msg *ret,
                     char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root, *items;
    const char *mgw;
    int r;

    if (len > FLEET_MSG_MAX) {
        snprintf(err, errlen, "message of %zu bytes, more than %d", len, FLEET_MSG_MAX);
        return -EMSGSIZE;
    }
    /* JSON_REJECT_DUPLICATES: a key given twice would make the item mean
     * whatever the parser kept. */
    root = json_loadb(payload, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return fail(err, errlen, "not JSON: %s (byte %d)", jerr.text, jerr.position);
    if (!json_is_object(root)) {
        r = fail(err, errlen, "not a JSON object");
        goto out_free;
    }
    if (json_integer_value(json_object_get(root, "v")) != 1 ||
        !json_is_integer(json_object_get(root, "v"))) {
        r = fail(err, errlen, "\"v\" is not 1");
        goto out_free;
    }
    mgw = json_string_value(json_object_get(root, "gateway"));
    if (!mgw || strcmp(mgw, gw) != 0) {
        r = fail(err, errlen, "\"gateway\" is not the topic's %s", gw);
        goto out_free;
    }
    items = json_object_get(root, "items");
    if (!json_is_array(items) || json_array_size(items) == 0 ||
        json_array_size(items) > FLEET_MSG_ITEMS_MAX) {
        r = fail(err, errlen, "\"items\" is not an array of 1 to %d items", FLEET_MSG_ITEMS_MAX);
        goto out_free;
    }
    ret->root = root;
    snprintf(ret->gateway, sizeof(ret->gateway), "%s", gw);
    ret->n_items = json_array_size(items);
    return 0;
out_free:
    json_decref(root);
    return r;
}

/* A field decoder: each returns false (and says why) on a malformed field. */
struct dec {
    json_t *obj;
    char *err;
    size_t errlen;
};

static bool str_ok(const char *s, size_t max)
{
    size_t len = strlen(s);

    if (len == 0 || len > max)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20)
            return false;
    return true;
}

/* A string field; NULLABLE accepts null or absence (then *ret = NULL). */
static bool get_str(struct dec *d, const char *key, bool nullable, size_t max, const char **ret)
{
    json_t *v = json_object_get(d->obj, key);

    if ((!v || json_is_null(v)) && nullable) {
        *ret = NULL;
        return true;
    }
    if (!json_is_string(v) || !str_ok(json_string_value(v), max)) {
        fail(d->err, d->errlen, "\"%s\" is not a string of 1 to %zu printable bytes", key, max);
        return false;
    }
    *ret = json_string_value(v);
    return true;
}

static bool get_int(struct dec *d, const char *key, bool nullable, int64_t min, int64_t *ret)
{
    json_t *v = json_object_get(d->obj, key);

    if ((!v || json_is_null(v)) && nullable) {
        *ret = -1;
        return true;
    }
    if (!json_is_integer(v) || json_integer_value(v) < min) {
        fail(d->err, d->errlen, "\"%s\" is not an integer >= %lld", key, (long long)min);
        return false;
    }
    *ret = json_integer_value(v);
    return true;
}

static bool get_num(struct dec *d, const char *key, bool nullable, bool *ret_has, double *ret)
{
    json_t *v = json_object_get(d->obj, key);

    if ((!v || json_is_null(v)) && nullable) {
        if (ret_has)
            *ret_has = false;
        return true;
    }
    if (!json_is_number(v) || !isfinite(json_number_value(v))) {
        fail(d->err, d->errlen, "\"%s\" is not a finite number", key);
        return false;
    }
    *ret = json_number_value(v);
    if (ret_has)
        *ret_has = true;
    return true;
}

static bool one_of(struct dec *d, const char *key, const char *v, const char *const *names)
{
    for (; *names; names++)
        if (strcmp(v, *names) == 0)
            return true;
    fail(d->err, d->errlen, "\"%s\" has an unknown value \"%s\"", key, v);
    return false;
}

/* Times from 2000 to 2100: a partition is created per month of data, so an
 * absurd time (0, year 9999) is refused rather than given a partition. */
#define FLEET_TIME_MIN 946684800LL  /* 2000-01-01 */
#define FLEET_TIME_MAX 4102444800LL /* 2100-01-01 */

static bool epoch_ok(struct dec *d, const char *key, int64_t t)
{
    if (t >= FLEET_TIME_MIN && t < FLEET_TIME_MAX)
        return true;
    fail(d->err, d->errlen, "\"%s\" is not a time between 2000 and 2100", key);
    return false;
}

/* Other times (an alert's, a device's) are not partition keys, but must be
 * times PostgreSQL's to_timestamp() takes: up to 2100. */
static bool time_ok(struct dec *d, const char *key, int64_t t)
{
    if (t < FLEET_TIME_MAX)
        return true;
    fail(d->err, d->errlen, "\"%s\" is not a time before 2100", key);
    return false;
}

static int digits(const char *s, int n)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static bool date_valid(const char *s)
{
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, dd;

    if (strlen(s) < 10 || s[4] != '-' || s[7] != '-' || (s[10] && s[10] != 'T' && s[10] != ' '))
        return false;
    y = digits(s, 4);
    mo = digits(s + 5, 2);
    dd = digits(s + 8, 2);
    if (y < 2000 || y > 2100 || mo < 1 || mo > 12 || dd < 1 || dd > mdays[mo - 1])
        return false;
    return !(mo == 2 && dd == 29 && (y % 4 != 0 || (y % 100 == 0 && y % 400 != 0)));
}

static bool decode_rollup(struct dec *d, struct fleet_item *it)
{
    static const char *const kinds[] = {"counter", "gauge", NULL};
    const char *gran;
    int g;

    if (!get_str(d, "gran", false, 8, &gran))
        return false;
    for (g = 0; g < FLEET_GRAN_COUNT_; g++)
        if (strcmp(gran, gran_names[g]) == 0)
            break;
    if (g == FLEET_GRAN_COUNT_) {
        fail(d->err, d->errlen, "\"gran\" is not hour, day or month");
        return false;
    }
    it->gran = (enum fleet_gran)g;
    if (!get_str(d, "channel", false, FLEET_ID_MAX, &it->channel) ||
        !get_str(d, "building", false, FLEET_ID_MAX, &it->building) ||
        !get_str(d, "dwelling", true, FLEET_ID_MAX, &it->dwelling) ||
        !get_str(d, "quantity", false, FLEET_ID_MAX, &it->quantity) ||
        !get_str(d, "kind", false, 16, &it->kind) || !one_of(d, "kind", it->kind, kinds) ||
        !get_str(d, "unit", false, FLEET_ID_MAX, &it->unit) ||
        !get_str(d, "start", false, 40, &it->start) ||
        !get_int(d, "start_s", false, 0, &it->start_s) ||
        !get_num(d, "sum", false, NULL, &it->sum) || !get_int(d, "n", false, 0, &it->n) ||
        !get_num(d, "min", true, &it->has_min, &it->min) ||
        !get_num(d, "max", true, &it->has_max, &it->max))
        return false;
    /* The local start's date is the day the views group by, cast by
     * PostgreSQL: a date it would refuse must be refused here, or the whole
     * batch would fail again and again. */
    if (!date_valid(it->start)) {
        fail(d->err, d->errlen, "\"start\" does not begin with a valid date YYYY-MM-DD");
        return false;
    }
    return epoch_ok(d, "start_s", it->start_s);
}

static bool decode_event(struct dec *d, struct fleet_item *it)
{
    return get_int(d, "id", false, 0, &it->id) && get_int(d, "time_s", false, 0, &it->time_s) &&
           epoch_ok(d, "time_s", it->time_s) &&
           get_str(d, "kind", false, FLEET_ID_MAX, &it->kind) &&
           get_str(d, "channel", true, FLEET_ID_MAX, &it->channel) &&
           get_str(d, "device", true, FLEET_ID_MAX, &it->device) &&
           get_str(d, "detail", true, FLEET_TEXT_MAX, &it->detail) &&
           get_num(d, "value", true, &it->has_value, &it->value);
}

static bool decode_alert(struct dec *d, struct fleet_item *it)
{
    static const char *const states[] = {"open", "acknowledged", "closed", NULL};

    return get_int(d, "id", false, 0, &it->id) &&
           get_str(d, "kind", false, FLEET_ID_MAX, &it->kind) &&
           get_str(d, "severity", false, FLEET_ID_MAX, &it->severity) &&
           /* null: an alert of no one building (a bus serving several, a
            * gateway's own trouble), as the gateway's alerts table has. */
           get_str(d, "building", true, FLEET_ID_MAX, &it->building) &&
           get_str(d, "dwelling", true, FLEET_ID_MAX, &it->dwelling) &&
           get_str(d, "channel", true, FLEET_ID_MAX, &it->channel) &&
           get_str(d, "state", false, 16, &it->state) && one_of(d, "state", it->state, states) &&
           get_int(d, "opened_s", false, 0, &it->opened_s) &&
           time_ok(d, "opened_s", it->opened_s) &&
           get_int(d, "acknowledged_s", true, 0, &it->ack_s) &&
           time_ok(d, "acknowledged_s", it->ack_s) &&
           get_int(d, "closed_s", true, 0, &it->closed_s) && time_ok(d, "closed_s", it->closed_s) &&
           get_str(d, "text_fr", false, FLEET_TEXT_MAX, &it->text_fr) &&
           get_str(d, "text_en", false, FLEET_TEXT_MAX, &it->text_en);
}

static bool decode_device(struct dec *d, struct fleet_item *it)
{
    return get_str(d, "device", false, FLEET_ID_MAX, &it->device) &&
           get_str(d, "state", false, FLEET_ID_MAX, &it->state) &&
           get_int(d, "since_s", false, 0, &it->since_s) && time_ok(d, "since_s", it->since_s) &&
           get_int(d, "polls", false, 0, &it->polls) &&
           get_int(d, "errors", false, 0, &it->errors) &&
           get_int(d, "timeouts", false, 0, &it->timeouts) &&
           get_int(d, "last_ok_s", true, 0, &it->last_ok_s) &&
           time_ok(d, "last_ok_s", it->last_ok_s);
}

/* The "channels" of an erasure or withdrawal: an array of 0 to
 * FLEET_ERASE_CHANNELS_MAX channel ids. */
static bool decode_channels(struct dec *d, struct fleet_item *it)
{
    json_t *a = json_object_get(d->obj, "channels");
    size_t i;
    json_t *v;

    if (!json_is_array(a) || json_array_size(a) > FLEET_ERASE_CHANNELS_MAX) {
        fail(d->err, d->errlen, "\"channels\" is not an array of at most %d ids",
             FLEET_ERASE_CHANNELS_MAX);
        return false;
    }
    json_array_foreach(a, i,
                       v) if (!json_is_string(v) || !str_ok(json_string_value(v), FLEET_ID_MAX))
    {
        fail(d->err, d->errlen, "\"channels\"[%zu] is not a string of 1 to %d printable bytes", i,
             FLEET_ID_MAX);
        return false;
    }
    it->channels = a;
    return true;
}

/* A time of an erasure or withdrawal: "KEY_s" (epoch) and "KEY" (local
 * ISO 8601, whose date PostgreSQL casts). */
static bool decode_cut(struct dec *d, const char *key, const char *key_s, struct fleet_item *it)
{
    if (!get_str(d, key, false, 40, &it->cut) || !get_int(d, key_s, false, 0, &it->cut_s) ||
        !epoch_ok(d, key_s, it->cut_s))
        return false;
    if (!date_valid(it->cut)) {
        fail(d->err, d->errlen, "\"%s\" does not begin with a valid date YYYY-MM-DD", key);
        return false;
    }
    return true;
}

/* The fields of one folded period of an erasure: checked as a rollup's
 * are, since PostgreSQL casts its date and partitions nothing by it. */
static bool fold_ok(struct dec *fd)
{
    const char *s, *gran;
    int64_t t, n;
    double sum;

    if (!get_str(fd, "building", false, FLEET_ID_MAX, &s) ||
        !get_str(fd, "quantity", false, FLEET_ID_MAX, &s) ||
        !get_str(fd, "unit", false, FLEET_ID_MAX, &s) || !get_str(fd, "gran", false, 8, &gran) ||
        !get_str(fd, "start", false, 40, &s) || !get_int(fd, "start_s", false, 0, &t) ||
        !epoch_ok(fd, "start_s", t) || !get_num(fd, "sum", false, NULL, &sum) ||
        !get_int(fd, "n", false, 0, &n))
        return false;
    /* Hours of an erased household stay folded on its gateway only: hourly
     * building figures of one household would be its load curve. */
    if (strcmp(gran, "day") != 0 && strcmp(gran, "month") != 0) {
        fail(fd->err, fd->errlen, "\"gran\" is not day or month");
        return false;
    }
    if (!date_valid(s)) {
        fail(fd->err, fd->errlen, "\"start\" does not begin with a valid date YYYY-MM-DD");
        return false;
    }
    return true;
}

/* The i-th folded period of an erasure, its error naming which. */
static bool decode_fold(struct dec *d, size_t i, json_t *f)
{
    struct dec fd = {f, d->err, d->errlen};
    char what[256];

    if (!json_is_object(f)) {
        fail(d->err, d->errlen, "\"folded\"[%zu] is not an object", i);
        return false;
    }
    if (fold_ok(&fd))
        return true;
    /* Say which fold: fold_ok() said what. */
    snprintf(what, sizeof(what), "%s", d->err);
    fail(d->err, d->errlen, "\"folded\"[%zu]: %s", i, what);
    return false;
}

static bool decode_erasure(struct dec *d, struct fleet_item *it)
{
    json_t *a = json_object_get(d->obj, "folded");
    size_t i;
    json_t *f;

    if (!get_str(d, "dwelling", false, FLEET_ID_MAX, &it->dwelling) || !decode_channels(d, it) ||
        !decode_cut(d, "cut", "cut_s", it) || !get_int(d, "part", true, 1, &it->part) ||
        !get_int(d, "parts", true, 1, &it->parts))
        return false;
    if (it->part < 0)
        it->part = 1;
    if (it->parts < 0)
        it->parts = 1;
    if (it->part > it->parts) {
        fail(d->err, d->errlen, "\"part\" is greater than \"parts\"");
        return false;
    }
    if (!json_is_array(a) || json_array_size(a) > FLEET_ERASE_FOLDS_MAX) {
        fail(d->err, d->errlen, "\"folded\" is not an array of at most %d periods",
             FLEET_ERASE_FOLDS_MAX);
        return false;
    }
    json_array_foreach(a, i, f) if (!decode_fold(d, i, f)) return false;
    it->folded = a;
    return true;
}

static bool decode_withdrawal(struct dec *d, struct fleet_item *it)
{
    return get_str(d, "dwelling", false, FLEET_ID_MAX, &it->dwelling) &&
           get_str(d, "purpose", false, FLEET_ID_MAX, &it->purpose) && decode_channels(d, it) &&
           decode_cut(d, "since", "since_s", it);
}

int fleet_item_decode(const struct fleet_msg *msg, size_t i, struct fleet_item *ret,
                      uint64_t *ret_seq, char *err, size_t errlen)
{
    json_t *obj = json_array_get(json_object_get(msg->root, "items"), i);
    struct dec d = {obj, err, errlen};
    struct fleet_item it;
    const char *type;
    int64_t seq;
    bool ok;

    *ret_seq = 0;
    if (!json_is_object(obj))
        return fail(err, errlen, "item %zu is not an object", i);
    memset(&it, 0, sizeof(it));
    if (!get_int(&d, "seq", false, 1, &seq))
        return -EINVAL;
    /* From here on the item can be acked as rejected. */
    *ret_seq = (uint64_t)seq;
    it.seq = (uint64_t)seq;
    if (!get_str(&d, "type", false, 16, &type))
        return -EINVAL;
    if (strcmp(type, "rollup") == 0) {
        it.type = FLEET_ROLLUP;
        ok = decode_rollup(&d, &it);
    } else if (strcmp(type, "event") == 0) {
        it.type = FLEET_EVENT;
        ok = decode_event(&d, &it);
    } else if (strcmp(type, "alert") == 0) {
        it.type = FLEET_ALERT;
        ok = decode_alert(&d, &it);
    } else if (strcmp(type, "device") == 0) {
        it.type = FLEET_DEVICE;
        ok = decode_device(&d, &it);
    } else if (strcmp(type, "erasure") == 0) {
        it.type = FLEET_ERASURE;
        ok = decode_erasure(&d, &it);
    } else if (strcmp(type, "withdrawal") == 0) {
        it.type = FLEET_WITHDRAWAL;
        ok = decode_withdrawal(&d, &it);
    } else {
        return fail(err, errlen,
                    "\"type\" is not rollup, event, alert, device, erasure or withdrawal");
    }
    if (!ok)
        return -EINVAL;
    *ret = it;
    return 0;
}
