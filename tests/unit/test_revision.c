/*
 * test_revision.c - summary_revise() (daemon/coach/coach_sched.c): a
 * recomputed summary is a new revision only when its figures changed; its
 * key gains "/rN"; a summary stored before revisions existed counts as
 * revision 1.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "foyer/coach.h"

#define KEY "foyer-summary-v2/b1/a/2025-11"

/* A summary as summary_compute() makes it: revision 1, its base key. */
static json_t *doc(double kwh, double coverage, const char *generated_at)
{
    json_t *d = json_pack("{s:i, s:s, s:i, s:s, s:s, s:{s:f, s:b}, s:[{s:s, s:f}]}",
                          "schema_version", 1, "key", KEY, "revision", 1, "dwelling", "a",
                          "generated_at", generated_at, "coverage", "share", coverage, "reliable",
                          coverage >= 0.8, "consumption", "quantity", "electricity", "amount", kwh);
    assert_non_null(d);
    return d;
}

static char *stored(json_t *d)
{
    char *s = json_dumps(d, SUMMARY_JSON_FLAGS);
    assert_non_null(s);
    return s;
}

static void test_revisions(void **state)
{
    (void)state;
    /* Nothing stored: revision 1, untouched. */
    json_t *first = doc(130.5, 0.61, "2025-12-01T10:00:00+01:00");
    assert_int_equal(summary_revise(first, NULL), 1);
    assert_string_equal(json_string_value(json_object_get(first, "key")), KEY);
    char *s1 = stored(first);

    /* The same figures computed later: nothing to push. */
    json_t *same = doc(130.5, 0.61, "2025-12-01T11:00:00+01:00");
    assert_int_equal(summary_revise(same, s1), 0);
    assert_int_equal(json_integer_value(json_object_get(same, "revision")), 1);

    /* Late data: revision 2, its own key. */
    json_t *second = doc(201.6, 0.94, "2025-12-02T10:00:00+01:00");
    assert_int_equal(summary_revise(second, s1), 2);
    assert_int_equal(json_integer_value(json_object_get(second, "revision")), 2);
    assert_string_equal(json_string_value(json_object_get(second, "key")), KEY "/r2");
    char *s2 = stored(second);

    /* Unchanged against revision 2: nothing; changed again: revision 3,
     * the key built on the base key, not on "/r2". */
    json_t *again = doc(201.6, 0.94, "2025-12-02T11:00:00+01:00");
    assert_int_equal(summary_revise(again, s2), 0);
    json_t *third = doc(202.0, 0.95, "2025-12-03T10:00:00+01:00");
    assert_int_equal(summary_revise(third, s2), 3);
    assert_string_equal(json_string_value(json_object_get(third, "key")), KEY "/r3");

    /* Stored before revisions existed (no "revision"): that was 1. */
    json_t *old = doc(130.5, 0.61, "2025-12-01T10:00:00+01:00");
    json_object_del(old, "revision");
    char *s_old = stored(old);
    json_t *fresh = doc(130.5, 0.61, "2025-12-05T10:00:00+01:00");
    assert_int_equal(summary_revise(fresh, s_old), 0);
    json_t *changed = doc(140.0, 0.7, "2025-12-05T10:00:00+01:00");
    assert_int_equal(summary_revise(changed, s_old), 2);

    /* Not JSON, or too many revisions: an error, doc untouched. */
    json_t *x = doc(1, 1, "2025-12-05T10:00:00+01:00");
    assert_int_equal(summary_revise(x, "{not json"), -EINVAL);
    json_object_set_new(second, "revision", json_integer(SUMMARY_REVISION_MAX));
    char *s_max = stored(second);
    assert_int_equal(summary_revise(x, s_max), -ERANGE);
    assert_int_equal(json_integer_value(json_object_get(x, "revision")), 1);
    assert_string_equal(json_string_value(json_object_get(x, "key")), KEY);

    free(s1);
    free(s2);
    free(s_old);
    free(s_max);
    json_decref(first);
    json_decref(same);
    json_decref(second);
    json_decref(again);
    json_decref(third);
    json_decref(old);
    json_decref(fresh);
    json_decref(changed);
    json_decref(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_revisions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
