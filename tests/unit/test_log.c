/*
 * test_log.c - daemon/util/util_log.c under concurrent use: a reload (SIGHUP) sets
 * the level while driver threads log.  Run in a ThreadSanitizer build, a
 * plain read of the threshold is reported as a data race (it was one);
 * everywhere, the level set is the level seen, and each line is whole.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "foyer/log.h"

#define ROUNDS 20000

static void *reader(void *arg)
{
    unsigned long *seen = arg;
    for (int i = 0; i < ROUNDS; i++) {
        if (log_enabled(LOG_LVL_DEBUG))
            (*seen)++;
        log_debug("test_log: reader line %d", i); /* to /dev/null */
    }
    return NULL;
}

static void test_level_set_while_threads_log(void **state)
{
    pthread_t t[2];
    unsigned long seen[2] = {0, 0};
    (void)state;
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, reader, &seen[i]), 0);
    for (int i = 0; i < ROUNDS; i++)
        log_set_level(i % 2 ? LOG_LVL_DEBUG : LOG_LVL_ERR);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    log_set_level(LOG_LVL_WARNING);
    assert_false(log_enabled(LOG_LVL_INFO));
    assert_true(log_enabled(LOG_LVL_WARNING));
    assert_true(log_set_level_name("debug"));
    assert_true(log_enabled(LOG_LVL_DEBUG));
    assert_false(log_set_level_name("loud"));
    assert_true(log_enabled(LOG_LVL_DEBUG)); /* an unknown name changes nothing */
}

int main(void)
{
    /* The lines go nowhere: only the level and the race matter here. */
    if (!freopen("/dev/null", "w", stderr))
        return 1;
    log_init("test_log");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_level_set_while_threads_log),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
