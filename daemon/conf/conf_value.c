/*
 * conf_value.c - typed values: one raw key of a section read as what it
 * must be (an integer in a range, a number, a boolean, one of a list of
 * names, a path, a calendar day), or a "bad value" problem at its line
 * naming what was expected; and the checks of single values that foyerd or
 * its libraries would refuse at the start (MQTT topic filters and strings,
 * JSON paths, files read at the start).
 *
 * A calendar day (tenancies, tariffs) is parsed here rather than by
 * timeutil's tu_parse_iso(): it is a local day, kept as YYYYMMDD whatever
 * the zone, while tu_parse_iso() reads an instant (with a time and an
 * offset, or in the process's zone).  Numbers are read with strtod in the
 * C locale (foyerd never calls setlocale).
 */
#include "conf_internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

const struct conf_key *conf_get(const struct conf_sec *s, const char *name)
{
    for (size_t i = 0; i < s->n_keys; i++)
        if (strcmp(s->keys[i].name, name) == 0)
            return &s->keys[i];
    return NULL;
}

void conf_bad_value(struct conf_parser *p, const struct conf_sec *s, const struct conf_key *k,
                    const char *expected)
{
    char lbl[CONF_LABEL_MAX];
    conf_err(p, &k->pos, "bad value \"%s\" for \"%s\" in %s (expected %s)", k->value, k->name,
             conf_sec_label(s, lbl, sizeof(lbl)), expected);
}

const struct conf_key *conf_require(struct conf_parser *p, const struct conf_sec *s,
                                    const char *name)
{
    const struct conf_key *k = conf_get(s, name);
    char lbl[CONF_LABEL_MAX];
    if (!k)
        conf_err(p, &s->pos, "missing required key \"%s\" in %s", name,
                 conf_sec_label(s, lbl, sizeof(lbl)));
    return k;
}

/* Decimal integer, or 0x hex when hex_ok. */
bool conf_parse_ll(const char *v, bool hex_ok, long long *ret)
{
    char *end;
    long long x;
    int base = 10;
    if (hex_ok && v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
        base = 16;
        v += 2;
        if (!isxdigit((unsigned char)*v))
            return false;
    } else if (!(isdigit((unsigned char)v[0]) ||
                 ((v[0] == '-' || v[0] == '+') && isdigit((unsigned char)v[1])))) {
        return false;
    }
    errno = 0;
    x = strtoll(v, &end, base);
    if (errno || *end)
        return false;
    *ret = x;
    return true;
}

/* A finite decimal number: no hex, nan, inf or trailing garbage.  The daemon
 * never calls setlocale, so strtod reads "." as the decimal point. */
bool conf_parse_num(const char *v, double *ret)
{
    char *end;
    double x;
    if (!*v)
        return false;
    for (const char *c = v; *c; c++)
        if (!(isdigit((unsigned char)*c) || strchr("+-.eE", *c)))
            return false;
    errno = 0;
    x = strtod(v, &end);
    if (errno || *end || end == v || !isfinite(x))
        return false;
    *ret = x;
    return true;
}

bool conf_get_int(struct conf_parser *p, const struct conf_sec *s, const char *name, long long min,
                  long long max, int *ret)
{
    const struct conf_key *k = conf_get(s, name);
    long long x;
    if (!k)
        return true;
    if (!conf_parse_ll(k->value, false, &x) || x < min || x > max) {
        char exp[96];
        (void)snprintf(exp, sizeof(exp), "an integer from %lld to %lld", min, max);
        conf_bad_value(p, s, k, exp);
        return false;
    }
    *ret = (int)x;
    return true;
}

bool conf_get_num(struct conf_parser *p, const struct conf_sec *s, const char *name,
                  enum conf_num_rule rule, double *ret)
{
    const struct conf_key *k = conf_get(s, name);
    double x;
    static const char *const exp[] = {"a number", "a number > 0", "a number >= 0",
                                      "a number other than 0"};
    if (!k)
        return true;
    if (!conf_parse_num(k->value, &x) || (rule == CONF_NUM_POSITIVE && !(x > 0)) ||
        (rule == CONF_NUM_NONNEG && !(x >= 0)) || (rule == CONF_NUM_NONZERO && x == 0)) {
        conf_bad_value(p, s, k, exp[rule]);
        return false;
    }
    *ret = x;
    return true;
}

bool conf_get_bool(struct conf_parser *p, const struct conf_sec *s, const char *name, bool *ret)
{
    const struct conf_key *k = conf_get(s, name);
    static const char *const yes[] = {"true", "yes", "1"}, *const no[] = {"false", "no", "0"};
    if (!k)
        return true;
    for (size_t i = 0; i < 3; i++) {
        if (strcasecmp(k->value, yes[i]) == 0) {
            *ret = true;
            return true;
        }
        if (strcasecmp(k->value, no[i]) == 0) {
            *ret = false;
            return true;
        }
    }
    conf_bad_value(p, s, k, "true, false, yes, no, 1 or 0");
    return false;
}

int conf_find_name(const char *const *names, size_t n, const char *v)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], v) == 0)
            return (int)i;
    return -1;
}

void conf_expected_list(const char *const *names, size_t n, char *buf, size_t len)
{
    size_t off = 0;
    int r = snprintf(buf, len, "one of:");
    if (r < 0 || (size_t)r >= len)
        return;
    off = (size_t)r;
    for (size_t i = 0; i < n; i++) {
        r = snprintf(buf + off, len - off, " %s%s", names[i], i + 1 < n ? "," : "");
        if (r < 0 || (size_t)r >= len - off)
            return;
        off += (size_t)r;
    }
}

bool conf_get_enum(struct conf_parser *p, const struct conf_sec *s, const char *name,
                   const char *const *names, size_t n, int *ret)
{
    const struct conf_key *k = conf_get(s, name);
    int i;
    char exp[256];
    if (!k)
        return true;
    i = conf_find_name(names, n, k->value);
    if (i < 0) {
        conf_expected_list(names, n, exp, sizeof(exp));
        conf_bad_value(p, s, k, exp);
        return false;
    }
    *ret = i;
    return true;
}

/* *ret replaced by d, a copy made for it; false when d is NULL (out of
 * memory, already recorded), *ret then untouched. */
static bool replace_str(char **ret, char *d)
{
    if (!d)
        return false;
    free(*ret);
    *ret = d;
    return true;
}

bool conf_get_str(struct conf_parser *p, const struct conf_sec *s, const char *name, char **ret)
{
    const struct conf_key *k = conf_get(s, name);
    return !k || replace_str(ret, conf_strdup(p, k->value));
}

/* A path key: relative paths are relative to the main file's directory. */
bool conf_get_path(struct conf_parser *p, const struct conf_sec *s, const char *name, char **ret)
{
    const struct conf_key *k = conf_get(s, name);
    return !k || replace_str(ret, conf_path_join(p, p->main_dir, k->value));
}

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* "YYYY-MM-DD" -> YYYYMMDD, checking the day exists. */
static bool parse_date(const char *v, int32_t *ret)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, m, d;
    if (strlen(v) != 10 || v[4] != '-' || v[7] != '-')
        return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !isdigit((unsigned char)v[i]))
            return false;
    y = (v[0] - '0') * 1000 + (v[1] - '0') * 100 + (v[2] - '0') * 10 + (v[3] - '0');
    m = (v[5] - '0') * 10 + (v[6] - '0');
    d = (v[8] - '0') * 10 + (v[9] - '0');
    if (y < 1970 || m < 1 || m > 12 || d < 1)
        return false;
    if (d > mdays[m - 1] + (m == 2 && is_leap(y)))
        return false;
    *ret = y * 10000 + m * 100 + d;
    return true;
}

bool conf_get_date(struct conf_parser *p, const struct conf_sec *s, const char *name, int32_t *ret)
{
    const struct conf_key *k = conf_get(s, name);
    if (!k)
        return true;
    if (!parse_date(k->value, ret)) {
        conf_bad_value(p, s, k, "a date YYYY-MM-DD");
        return false;
    }
    return true;
}

const char *conf_fmt_date(int32_t ymd, char *buf, size_t len)
{
    int r = snprintf(buf, len, "%04d-%02d-%02d", (int)(ymd / 10000), (int)(ymd / 100 % 100),
                     (int)(ymd % 100));
    if (r < 0 || (size_t)r >= len)
        buf[0] = '\0';
    return buf;
}

/* A JSON path: dot-separated non-empty names, no blanks or commas. */
bool conf_json_path_valid(const char *v)
{
    bool seg = false;
    for (const char *c = v; *c; c++) {
        if (*c == '.') {
            if (!seg)
                return false;
            seg = false;
        } else if (isspace((unsigned char)*c) || *c == ',') {
            return false;
        } else {
            seg = true;
        }
    }
    return seg;
}

/* A string libmosquitto takes (client ID, user name, topic): well-formed
 * UTF-8 without control characters (U+0000-U+001F, U+007F-U+009F) or
 * non-characters, as mosquitto_validate_utf8() checks.  Else mosquitto_new()
 * or mosquitto_username_pw_set() fail at foyerd's start, or the
 * subscription at every connection. */
bool conf_mqtt_string_valid(const char *v)
{
    const unsigned char *s = (const unsigned char *)v;
    while (*s) {
        uint32_t cp = 0;
        size_t n = conf_utf8_char(s, &cp);
        if (n == 0 || conf_is_control(cp) || (cp >= 0xFDD0 && cp <= 0xFDEF) ||
            (cp & 0xFFFE) == 0xFFFE)
            return false;
        s += n;
    }
    return true;
}

/* A file foyerd reads when it starts (a password, a certificate, a token):
 * a missing one, or one that is not a regular file, stops foyerd or one of
 * its parts, so the config check says so.  Whether foyerd's user may read
 * it is left to the start: the check may run as another user. */
void conf_file_check(struct conf_parser *p, const struct conf_key *k, const char *path,
                     const char *what)
{
    struct stat st;
    if (stat(path, &st) == 0) {
        if (!S_ISREG(st.st_mode))
            conf_err(p, &k->pos, "%s: %s \"%s\" is not a regular file", what, k->name, path);
    } else if (errno == ENOENT || errno == ENOTDIR) {
        conf_err(p, &k->pos, "%s: %s \"%s\": %s", what, k->name, path, strerror(ENOENT));
    }
}

/* An MQTT topic filter: "+" and "#" only as whole levels, "#" only last. */
bool conf_topic_valid(const char *t)
{
    size_t n = strlen(t);
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        bool starts = i == 0 || t[i - 1] == '/';
        bool ends = i + 1 == n || t[i + 1] == '/';
        if (t[i] == '+' && !(starts && ends))
            return false;
        if (t[i] == '#' && !(starts && i + 1 == n))
            return false;
    }
    return true;
}

/* Shortest "%.Ng" that reads back as the same double: stable and short. */
const char *conf_fmt_num(double v, char *buf, size_t len)
{
    for (int prec = 15; prec <= 17; prec++) {
        int r = snprintf(buf, len, "%.*g", prec, v);
        if (r < 0 || (size_t)r >= len) {
            if (len)
                buf[0] = '\0';
            return buf;
        }
        if (strtod(buf, NULL) == v)
            break;
    }
    return buf;
}
