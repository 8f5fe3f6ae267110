/*
 * test_units.c - the precision table and text helpers of include/foyer/units.h
 * (daemon/util/util_units.c), and the summaries' numbers written with the
 * language file's separators through them (daemon/coach/coach_lang.c).
 * A failure names its input.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../daemon/coach/coach_int.h"
#include "foyer/coach.h"
#include "foyer/units.h"

static void check_format(const char *unit, double v, const char *want)
{
    char buf[64];
    units_format(unit, v, buf, sizeof(buf));
    if (strcmp(buf, want) != 0)
        fail_msg("units_format(\"%s\", %.12g) = \"%s\", want \"%s\"", unit, v, buf, want);
}

/* The noise of issue 12, at each unit's precision. */
static void test_format_precision(void **state)
{
    (void)state;
    check_format("V", 230.4847412, "230.5");
    check_format("A", 0.9628437757, "0.963");
    check_format("kWh", 2979.49292, "2979.493");
    check_format("L", 0.4580000001, "0.5");
    check_format("L", 1242.04, "1242");
    check_format("\u00b0C", 21.43060241, "21.43");
    check_format("%RH", 71.6349, "71.6");
    check_format("ppm", 812.6, "813");
    check_format("W", 1234.56, "1234.6");
    check_format("kWh", 23.0, "23");
    /* The same figure summed in two orders rounds alike. */
    check_format("\u00b0C", 21.8649999999, "21.86");
    check_format("\u00b0C", 21.8650000001, "21.86");
    check_format("kWh", -0.0001, "0");
    check_format("Hz", 49.987654321, "49.9877"); /* not in the table: 6 digits */
    char col[32];
    assert_string_equal(units_format_column("V", 232.04, col, sizeof(col)), "232.0");
    assert_string_equal(units_format_column("kWh", 23, col, sizeof(col)), "23.000");
    assert_string_equal(units_format_column("ppm", 812.6, col, sizeof(col)), "813");
    assert_int_equal(units_decimals("kWh"), 3);
    assert_int_equal(units_decimals("\u00b0C"), 2);
    assert_int_equal(units_decimals("furlong"), -1);
    assert_int_equal(units_decimals(NULL), -1);
}

static void check_grouped(double v, int d, const char *sep, const char *point, const char *want)
{
    char buf[64];
    units_format_grouped(v, d, sep, point, buf, sizeof(buf));
    if (strcmp(buf, want) != 0)
        fail_msg("units_format_grouped(%.12g, %d, \"%s\", \"%s\") = \"%s\", want \"%s\"", v, d, sep,
                 point, buf, want);
}

static void test_grouped(void **state)
{
    (void)state;
    check_grouped(1242, 0, "\u00a0", ",", "1\u00a0242");
    check_grouped(999, 0, " ", ",", "999");
    check_grouped(12500.46, 1, " ", ",", "12 500,5");
    check_grouped(1234567.891, 2, ",", ".", "1,234,567.89");
    check_grouped(-1242.4, 0, " ", ",", "-1 242");
    check_grouped(-0.01, 1, " ", ",", "0,0");
    check_grouped(5, 0, "", ".", "5");
    char small[4];
    units_format_grouped(1242, 0, "\u00a0", ",", small, sizeof(small));
    assert_string_equal(small, "1\u00a0"); /* truncated, but never half a separator */
}

static void test_width_and_plural(void **state)
{
    (void)state;
    assert_int_equal(units_text_width("\u00b0C"), 2);
    assert_int_equal(units_text_width("kWh"), 3);
    assert_int_equal(units_text_width(""), 0);
    assert_string_equal(units_plural(1, "reset", "resets"), "reset");
    assert_string_equal(units_plural(0, "reset", "resets"), "resets");
    assert_string_equal(units_plural(2, "glitch", "glitches"), "glitches");
}

/* The summaries group thousands with the language file's separator from
 * 1 000 up: "1 242 litres", "1,242 litres". */
static void test_summary_thousands(void **state)
{
    (void)state;
    const char *src = getenv("FOYER_SRC");
    assert_non_null(src);
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/config", src);
    static const struct {
        const char *lang, *want;
    } cases[] = {{"fr", "1\u00a0242 litres, 12\u00a0500,5 kWh, 999 L"},
                 {"en", "1,242 litres, 12,500.5 kWh, 999 L"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct summary_lang *l = NULL;
        struct conf_errors errs = {0};
        int rc = summary_lang_load(dir, cases[i].lang, &l, &errs);
        if (rc < 0)
            fail_msg("summary_lang_load(%s, %s) = %d", dir, cases[i].lang, rc);
        conf_errors_free(&errs);
        static struct summary_vars v;
        memset(&v, 0, sizeof(v));
        summary_vars_set(&v, "litres", 1242);
        summary_vars_set(&v, "kwh", 12500.46);
        summary_vars_set(&v, "small", 999);
        char buf[256];
        summary_lang_expand(l, "{litres} litres, {kwh:1} kWh, {small} L", &v, buf, sizeof(buf));
        if (strcmp(buf, cases[i].want) != 0)
            fail_msg("lang %s: \"%s\", want \"%s\"", cases[i].lang, buf, cases[i].want);
        summary_lang_free(l);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_precision),
        cmocka_unit_test(test_grouped),
        cmocka_unit_test(test_width_and_plural),
        cmocka_unit_test(test_summary_thousands),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
