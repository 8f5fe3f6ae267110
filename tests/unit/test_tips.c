/*
 * test_tips.c - the tip language (daemon/coach/coach_lang.c): "not" binds
 * looser than comparisons, an absent figure never makes a condition true,
 * every figure name is checked at load with FILE:LINE errors, and the
 * shipped catalogues (config/tips.fr.conf, tips.en.conf) pass the check.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../daemon/coach/coach_int.h"

struct tenv {
    char dir[64];
};

static int setup(void **state)
{
    struct tenv *t = calloc(1, sizeof(*t));
    snprintf(t->dir, sizeof(t->dir), "/tmp/foyer-tips-XXXXXX");
    if (!mkdtemp(t->dir))
        return -1;
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct tenv *t = *state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", t->dir);
    if (system(cmd) != 0)
        return -1;
    free(t);
    return 0;
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Load language "xx" with the tips given; the words file is minimal. */
static int load(struct tenv *t, const char *tips, struct summary_lang **ret,
                struct conf_errors *errs)
{
    write_file(t->dir, "tips.xx.conf", tips);
    write_file(t->dir, "summary.xx.conf", "[strings]\nhello = Hello\n");
    return summary_lang_load(t->dir, "xx", ret, errs);
}

/* The ids of the tips picked for v, joined by spaces. */
static void picked(const struct summary_lang *l, const struct summary_vars *v, char *buf,
                   size_t len)
{
    json_t *arr = summary_tips_pick(l, NULL, 0, v, NULL);
    size_t i;
    json_t *o;
    assert_non_null(arr);
    buf[0] = '\0';
    json_array_foreach(arr, i, o)
    {
        size_t n = strlen(buf);
        snprintf(buf + n, len - n, "%s%s", n ? " " : "",
                 json_string_value(json_object_get(o, "id")));
    }
    json_decref(arr);
}

static void test_not_precedence(void **state)
{
    struct tenv *t = *state;
    struct summary_lang *l = NULL;
    struct conf_errors errs = {0};
    int rc = load(t,
                  "[tip cool]\ncondition = not temp_mean > 21\npriority = 3\ntext = cool\n"
                  "[tip both]\ncondition = not (heating_season and temp_mean > 21)\n"
                  "priority = 2\ntext = both\n"
                  "[tip mixed]\ncondition = not temp_mean > 21 and base_load_w >= 150\n"
                  "priority = 1\ntext = mixed\n",
                  &l, &errs);
    for (size_t i = 0; i < errs.n; i++)
        print_error("%s\n", errs.msgs[i]);
    assert_int_equal(rc, 0);
    char got[128];
    struct summary_vars *v = calloc(1, sizeof(*v));
    assert_non_null(v);

    /* 19 °C: "not (19 > 21)" holds (it used to read "(not 19) > 21"). */
    summary_vars_set(v, "temp_mean", 19);
    summary_vars_set(v, "heating_season", 1);
    summary_vars_set(v, "base_load_w", 200);
    picked(l, v, got, sizeof(got));
    assert_string_equal(got, "cool both mixed");
    /* 23 °C: none of them. */
    summary_vars_set(v, "temp_mean", 23);
    picked(l, v, got, sizeof(got));
    assert_string_equal(got, "");
    /* No temperature at all: nothing rests on the absent figure, "not" or
     * not ("not (heating_season and absent)" used to hold). */
    memset(v, 0, sizeof(*v));
    summary_vars_set(v, "heating_season", 1);
    summary_vars_set(v, "base_load_w", 200);
    picked(l, v, got, sizeof(got));
    assert_string_equal(got, "");
    /* Outside the heating season "and" is false whatever the rest. */
    summary_vars_set(v, "heating_season", 0);
    picked(l, v, got, sizeof(got));
    assert_string_equal(got, "both");
    free(v);
    summary_lang_free(l);
}

static void test_unknown_figures(void **state)
{
    struct tenv *t = *state;
    struct summary_lang *l = NULL;
    struct conf_errors errs = {0};
    int rc = load(t,
                  "[tip warm]\n"
                  "condition = heating_season and temp_maen > 21\n"
                  "priority = 600\n"
                  "measure = temp_mean\n"
                  "saving = (temp_mean - 20) * heating_euro\n"
                  "text = {temp_mean} °C, {saving_eur} € a year, {base_lod_w:0} W\n"
                  "[tip fine]\n"
                  "condition = electricity_vs_median_pct >= 30 and hot_water_per_day > 0\n"
                  "priority = 1\n"
                  "text = ok {electricity_peers}\n",
                  &l, &errs);
    assert_int_equal(rc, -EINVAL);
    assert_null(l);
    char path[128];
    snprintf(path, sizeof(path), "%s/tips.xx.conf", t->dir);
    const char *want[] = {
        ":2: tip warm: condition: unknown figure \"temp_maen\" (docs/summary.md lists them)",
        ":5: tip warm: saving: unknown figure \"heating_euro\" (docs/summary.md lists them)",
        ":6: tip warm: text: unknown figure \"{base_lod_w}\" (docs/summary.md lists them)",
    };
    assert_int_equal(errs.n, 3);
    for (size_t i = 0; i < 3; i++) {
        char line[256];
        snprintf(line, sizeof(line), "%s%s", path, want[i]);
        assert_string_equal(errs.msgs[i], line);
    }
    conf_errors_free(&errs);

    /* "not" after a comparison operator is an error, not a silent 0. */
    rc = load(t, "[tip x]\ncondition = temp_mean > not 21\npriority = 1\ntext = x\n", &l, &errs);
    assert_int_equal(rc, -EINVAL);
    assert_int_equal(errs.n, 1);
    assert_non_null(strstr(errs.msgs[0], "tips.xx.conf:2: tip x: condition: \"not\" where"));
    conf_errors_free(&errs);

    /* summary_lang_check() finds the same problems, for --check-config. */
    write_file(t->dir, "tips.xx.conf",
               "[tip warm]\ncondition = temp_maen > 21\npriority = 1\ntext = x\n");
    assert_int_equal(summary_lang_check(t->dir, &errs), 1);
    assert_non_null(strstr(errs.msgs[0], "tips.xx.conf:2: tip warm: condition: unknown figure"));
    conf_errors_free(&errs);
}

/* Both shipped catalogues pass, and every figure of the table is
 * documented in docs/summary.md. */
static void test_shipped(void **state)
{
    (void)state;
    const char *src = getenv("FOYER_SRC");
    assert_non_null(src);
    char dir[512], path[600];
    snprintf(dir, sizeof(dir), "%s/config", src);
    struct conf_errors errs = {0};
    int n = summary_lang_check(dir, &errs);
    for (size_t i = 0; i < errs.n; i++)
        print_error("%s\n", errs.msgs[i]);
    assert_int_equal(n, 0);
    conf_errors_free(&errs);
    for (size_t i = 0; i < 2; i++) {
        struct summary_lang *l = NULL;
        assert_int_equal(summary_lang_load(dir, i ? "en" : "fr", &l, &errs), 0);
        assert_true(summary_lang_n_tips(l) > 0);
        summary_lang_free(l);
    }

    snprintf(path, sizeof(path), "%s/docs/summary.md", src);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char doc[1 << 17];
    size_t len = fread(doc, 1, sizeof(doc) - 1, f);
    fclose(f);
    doc[len] = '\0';
    const char *const *names;
    size_t nf = summary_figures_fixed(&names);
    for (size_t i = 0; i < nf; i++) {
        char quoted[64];
        snprintf(quoted, sizeof(quoted), "`%s`", names[i]);
        if (!strstr(doc, quoted))
            fail_msg("figure %s is not documented in docs/summary.md", names[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_not_precedence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_figures, setup, teardown),
        cmocka_unit_test(test_shipped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
