/*
 * util_units.c - the precision table of include/foyer/units.h and the text
 * helpers beside it (display width, padding, plurals, grouped thousands).
 * Pure functions, no state, no locale: numbers are written with
 * snprintf("%.*f") and a point, then grouped and re-marked by hand, so a
 * caller's setlocale() changes nothing.
 */
#include "foyer/units.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* One row per stored unit (conf_qinfo in daemon/conf/conf_build.c lists the
 * units).  Why each precision: */
static const struct {
    const char *unit;
    int decimals;
} units_table[] = {
    {"kWh", 3},     /* indexes count Wh (SDM120, Linky: 0.001 kWh) */
    {"L", 1},       /* water meters' pulse: 0.1 L at best */
    {"\u00b0C", 2}, /* sensors report 0.01 °C (zigbee2mqtt, SHT3x) */
    {"%RH", 1},     /* humidity sensors: ±2 %RH, 0.1 shown */
    {"ppm", 0},     /* CO2: ±30 ppm, a decimal would be noise */
    {"W", 1},       /* SDM registers: 0.1 W */
    {"V", 1},       /* SDM registers: 0.1 V */
    {"A", 3},       /* SDM registers: 1 mA */
};

int units_decimals(const char *unit)
{
    if (!unit)
        return -1;
    for (size_t i = 0; i < sizeof(units_table) / sizeof(units_table[0]); i++)
        if (strcmp(units_table[i].unit, unit) == 0)
            return units_table[i].decimals;
    return -1;
}

/* "-0", "-0.00": a negative value that rounds to zero is written as zero. */
static void drop_negative_zero(char *buf)
{
    if (buf[0] != '-')
        return;
    for (const char *p = buf + 1; *p; p++)
        if (*p != '0' && *p != '.')
            return;
    memmove(buf, buf + 1, strlen(buf));
}

/* "23.000" -> "23", "0.450" -> "0.45". */
static void drop_trailing_zeros(char *buf)
{
    char *dot = strchr(buf, '.');
    if (!dot)
        return;
    char *end = buf + strlen(buf);
    while (end > dot + 1 && end[-1] == '0')
        end--;
    if (end == dot + 1)
        end = dot;
    *end = '\0';
}

static char *format(const char *unit, double v, bool trim, char *buf, size_t len)
{
    int d = units_decimals(unit);
    if (d < 0) {
        (void)snprintf(buf, len, "%.6g", v);
    } else {
        /* Two sums of the same readings in another order differ in the
         * last bits; snapped 4 digits below the precision first, they round
         * alike (21.8649999999 and 21.8650000001 are both 21.86). */
        double snap = pow(10, d + 4);
        if (fabs(v) * snap < 1e15)
            v = round(v * snap) / snap;
        (void)snprintf(buf, len, "%.*f", d, v);
        if (trim)
            drop_trailing_zeros(buf);
    }
    drop_negative_zero(buf);
    return buf;
}

char *units_format(const char *unit, double v, char *buf, size_t len)
{
    return format(unit, v, true, buf, len);
}

char *units_format_column(const char *unit, double v, char *buf, size_t len)
{
    return format(unit, v, false, buf, len);
}

char *units_format_grouped(double v, int decimals, const char *sep, const char *point, char *buf,
                           size_t len)
{
    char raw[64];
    if (decimals < 0)
        decimals = 0;
    if (!isfinite(v) || snprintf(raw, sizeof(raw), "%.*f", decimals, v) >= (int)sizeof(raw)) {
        (void)snprintf(buf, len, "%g", v);
        return buf;
    }
    drop_negative_zero(raw);
    const char *digits = raw[0] == '-' ? raw + 1 : raw;
    size_t int_len = strcspn(digits, ".");
    size_t o = 0;
    /* Appends s when it fits whole, so a truncated result never ends in
     * half a UTF-8 separator. */
#define UNITS_PUT(s, n)                                                                            \
    do {                                                                                           \
        if (o + (n) < len) {                                                                       \
            memcpy(buf + o, (s), (n));                                                             \
            o += (n);                                                                              \
        }                                                                                          \
    } while (0)
    if (len == 0)
        return buf;
    if (digits != raw)
        UNITS_PUT("-", 1);
    for (size_t i = 0; i < int_len; i++) {
        if (i > 0 && (int_len - i) % 3 == 0 && sep)
            UNITS_PUT(sep, strlen(sep));
        UNITS_PUT(digits + i, 1);
    }
    if (digits[int_len] == '.') {
        UNITS_PUT(point ? point : ".", strlen(point ? point : "."));
        UNITS_PUT(digits + int_len + 1, strlen(digits + int_len + 1));
    }
#undef UNITS_PUT
    buf[o] = '\0';
    return buf;
}

size_t units_text_width(const char *s)
{
    size_t w = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p & 0xC0) != 0x80) /* every byte but a continuation byte */
            w++;
    return w;
}

void units_print_padded(FILE *out, const char *s, int width)
{
    size_t w = units_text_width(s);
    size_t cols = (size_t)(width < 0 ? -width : width);
    size_t pad = w < cols ? cols - w : 0;
    if (width < 0)
        fprintf(out, "%*s", (int)pad, "");
    fputs(s, out);
    if (width > 0)
        fprintf(out, "%*s", (int)pad, "");
}

const char *units_plural(unsigned long long n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}
