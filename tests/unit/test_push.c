/*
 * test_push.c - the pusher's own rules, without an HTTP receiver (the
 * delivery rules are tested end to end by tests/integration/push_*.sh).
 *
 * A token_file that has become a FIFO (replaced after the config was
 * checked) is refused at once by push_start() and push_set_config(): the
 * token is read by conf_read_secret(), which never opens a FIFO.  Before,
 * fopen() waited for a writer that never came, and foyerd's start or
 * SIGHUP hung with it.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "foyer/push.h"
#include "testutil.h"

/* How long a call may take before the test calls it blocked: far more than
 * reading a file, far less than ctest's timeout. */
#define BLOCKED_MS 5000

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* A database migrated by the writer's store_open() and a config whose
 * [push] endpoint reads dir/push.token (a regular file when loaded). */
struct pushenv {
    char dir[64];
    char token[128];
    struct foyer_config *cfg;
    struct store *s;
};

static void pushenv_setup(struct pushenv *e)
{
    char conf[128], db[128], text[2048];
    struct conf_errors errs = {0};
    const char *msg;

    memset(e, 0, sizeof(*e));
    snprintf(e->dir, sizeof(e->dir), "/tmp/foyer-test-XXXXXX");
    assert_non_null(mkdtemp(e->dir));
    snprintf(e->token, sizeof(e->token), "%s/push.token", e->dir);
    snprintf(conf, sizeof(conf), "%s/foyer.conf", e->dir);
    snprintf(db, sizeof(db), "%s/foyer.db", e->dir);
    write_file(e->token, "s3cret-token\n");
    int n = snprintf(text, sizeof(text),
                     TEST_BASE_CONF "[push receiver]\n"
                                    "url = http://127.0.0.1:9/summaries\ninsecure = yes\n"
                                    "token_file = push.token\n",
                     db);
    assert_true(n > 0 && (size_t)n < sizeof(text));
    write_file(conf, text);
    e->cfg = config_load(conf, &errs);
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "%s\n", errs.msgs[i]);
    conf_errors_free(&errs);
    assert_non_null(e->cfg);
    assert_int_equal(store_open(db, e->cfg, &e->s, &msg), 0);
}

static void pushenv_teardown(struct pushenv *e)
{
    char cmd[160];
    store_close(e->s);
    config_free(e->cfg);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", e->dir);
}

static void make_fifo(const char *path)
{
    assert_int_equal(unlink(path), 0);
    assert_int_equal(mkfifo(path, 0600), 0);
}

/* Run fn in a child process; fail if it has not exited 0 within
 * BLOCKED_MS (it is then killed). */
static void run_bounded(void (*fn)(struct pushenv *), struct pushenv *e, const char *what)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        fn(e);
        _exit(0);
    }
    int status = 0;
    pid_t got = 0;
    for (int64_t end = tu_mono_ms() + BLOCKED_MS; got == 0 && tu_mono_ms() < end;) {
        got = waitpid(pid, &status, WNOHANG);
        if (got == 0)
            usleep(10 * 1000);
    }
    if (got == 0) {
        kill(pid, SIGKILL);
        (void)waitpid(pid, &status, 0);
        fail_msg("%s: still blocked after %d ms", what, BLOCKED_MS);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("%s: the child failed (status %d)", what, status);
}

/* In the child: exit 1 on any unexpected result. */
static void start_with_fifo(struct pushenv *e)
{
    int err = 0;
    struct pusher *p = push_start(e->cfg, &err);
    if (p || err != -EINVAL) {
        fprintf(stderr, "push_start with a FIFO token_file: %s, err %d\n", p ? "started" : "failed",
                err);
        _exit(1);
    }
}

static void reload_with_fifo(struct pushenv *e)
{
    int err = 0;
    struct pusher *p = push_start(e->cfg, &err);
    if (!p) {
        fprintf(stderr, "push_start with a regular token_file: %d\n", err);
        _exit(1);
    }
    make_fifo(e->token);
    err = push_set_config(p, e->cfg);
    push_stop(p, NULL);
    if (err != -EINVAL) {
        fprintf(stderr, "push_set_config with a FIFO token_file: %d\n", err);
        _exit(1);
    }
}

static void test_token_fifo_at_start(void **state)
{
    (void)state;
    struct pushenv e;
    pushenv_setup(&e);
    make_fifo(e.token);
    run_bounded(start_with_fifo, &e, "push_start with a FIFO as token_file");
    pushenv_teardown(&e);
}

static void test_token_fifo_at_reload(void **state)
{
    (void)state;
    struct pushenv e;
    pushenv_setup(&e);
    run_bounded(reload_with_fifo, &e, "push_set_config with a FIFO as token_file");
    pushenv_teardown(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_fifo_at_start),
        cmocka_unit_test(test_token_fifo_at_reload),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
