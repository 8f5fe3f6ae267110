/*
 * test_crash.c - crash safety of the write path.
 *
 * A child process ingests at full speed and reports each committed batch
 * through a pipe; the parent kills it with SIGKILL at a random moment, 25
 * times.  After each kill: PRAGMA integrity_check is ok, every batch the
 * child reported as committed is there, and for every channel the hourly
 * rollups add up exactly to the difference between its last and first index
 * (rollups and raw rows are committed together or not at all).
 */
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>

#include <cmocka.h>

#include "testutil.h"

#define CHANNELS        50
#define STEPS_PER_BATCH 100 /* 50 channels x 100 steps = 5000 readings */
#define KILLS           25

static int64_t t0;

static double value_at(int c, int64_t step)
{
    return 1000.0 * c + (double)step * 0.01 * (c + 1);
}

static void child(struct tenv *t, int fd, uint32_t start)
{
    const char *msg;
    struct store *s;
    struct reading *batch = calloc(CHANNELS * STEPS_PER_BATCH, sizeof(*batch));
    uint32_t ch[CHANNELS];
    if (!batch || store_open(t->db, t->cfg, &s, &msg) < 0)
        _exit(3);
    for (int c = 0; c < CHANNELS; c++) {
        char id[16];
        snprintf(id, sizeof(id), "c%d", c);
        ch[c] = (uint32_t)config_find_channel(t->cfg, id);
    }
    /* Start at the first batch not reported: one committed just before the
     * last kill, unreported, is skipped as duplicates. */
    for (uint32_t b = start;; b++) {
        size_t n = 0;
        for (int64_t step = (int64_t)b * STEPS_PER_BATCH; step < (int64_t)(b + 1) * STEPS_PER_BATCH;
             step++)
            for (int c = 0; c < CHANNELS; c++)
                batch[n++] = (struct reading){ch[c], t0 + step * 60, value_at(c, step)};
        struct ingest_stats st = {0};
        if (store_ingest(s, batch, n, 0, &st) < 0)
            _exit(4);
        if (write(fd, &b, sizeof(b)) != sizeof(b))
            _exit(5);
    }
}

static void check_db(struct tenv *t, int64_t committed_batches, int round)
{
    const char *msg;
    struct store *s;
    assert_int_equal(store_open_readonly(t->db, t->cfg, &s, &msg), 0);
    /* The check's own connection: the store does not hand out its own. */
    sqlite3 *db;
    assert_int_equal(sqlite3_open_v2(t->db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;

    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    const char *ok = (const char *)sqlite3_column_text(st, 0);
    if (strcmp(ok, "ok") != 0)
        fail_msg("round %d: integrity_check: %s", round, ok);
    sqlite3_finalize(st);

    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT c.name, (SELECT count(*) FROM readings r WHERE "
                                        "r.channel = c.id), (SELECT max(value) - min(value) FROM "
                                        "readings r WHERE r.channel = c.id), (SELECT "
                                        "coalesce(sum(sum), 0) FROM rollup_hour h WHERE h.channel "
                                        "= c.id), (SELECT coalesce(sum(sum), 0) FROM rollup_month "
                                        "m WHERE m.channel = c.id) FROM channels c WHERE c.name "
                                        "LIKE 'c%'",
                                        -1, &st, NULL),
                     SQLITE_OK);
    int rows = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        int64_t n = sqlite3_column_int64(st, 1);
        double diff = sqlite3_column_double(st, 2);
        double hours = sqlite3_column_double(st, 3);
        double months = sqlite3_column_double(st, 4);
        if (n < committed_batches * STEPS_PER_BATCH)
            fail_msg("round %d: %s has %lld readings, %lld batches were committed", round, name,
                     (long long)n, (long long)committed_batches);
        if (fabs(hours - diff) > 1e-6 * (1 + diff) || fabs(months - diff) > 1e-6 * (1 + diff))
            fail_msg("round %d: %s: index difference %.9g, hours add up to %.9g, months %.9g",
                     round, name, diff, hours, months);
        rows++;
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    assert_int_equal(rows, CHANNELS);
    store_close(s);
}

static void test_sigkill_mid_batch(void **state)
{
    (void)state;
    char extra[CHANNELS * 64] = "";
    for (int c = 0; c < CHANNELS; c++) {
        char sec[64];
        snprintf(sec, sizeof(sec), "[channel c%d]\ndwelling = d1\nquantity = electricity\n", c);
        strcat(extra, sec);
    }
    struct tenv t;
    assert_int_equal(tenv_setup(&t, extra), 0);
    store_close(t.s); /* the children write; the parent only checks */
    t.s = NULL;
    t0 = tiso("2026-01-01T00:00:00+01:00");
    srand((unsigned)time(NULL));
    int64_t committed = 0;

    for (int round = 0; round < KILLS; round++) {
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            child(&t, fds[1], (uint32_t)committed);
        }
        close(fds[1]);
        /* Let it commit a few batches, then kill it at a random moment. */
        int wait_ms = 30 + rand() % 250;
        struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
        int64_t end = tu_mono_ms() + wait_ms;
        int64_t seen = -1;
        while (tu_mono_ms() < end) {
            int left = (int)(end - tu_mono_ms());
            if (poll(&pfd, 1, left > 0 ? left : 0) > 0) {
                uint32_t b;
                if (read(fds[0], &b, sizeof(b)) != sizeof(b))
                    break;
                seen = b;
            }
        }
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        if (!WIFSIGNALED(status))
            fail_msg("round %d: child exited with %d before the kill", round, WEXITSTATUS(status));
        uint32_t b;
        while (read(fds[0], &b, sizeof(b)) == sizeof(b))
            seen = b; /* reported just before the kill */
        close(fds[0]);
        if (seen + 1 > committed)
            committed = seen + 1;
        check_db(&t, committed, round);
    }
    print_message("%d kills, %lld batches of %d readings committed and intact\n", KILLS,
                  (long long)committed, CHANNELS * STEPS_PER_BATCH);
    tenv_teardown(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigkill_mid_batch),
    };
    return cmocka_run_group_tests_name("crash", tests, NULL, NULL);
}
