/*
 * test_queue.c - the reading queue in its file: what a process hands over
 * survives its SIGKILL, is committed exactly once, follows a changed
 * config by database id, and one process at a time holds it.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "foyer/ingest.h"
#include "testutil.h"

static char dir[64];
static char qpath[192];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/foyer-queue-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(qpath, sizeof(qpath), "%s/q", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static struct queue *open_q(size_t cap, uint64_t committed)
{
    struct queue *q = NULL;
    long pid = 0;
    assert_int_equal(queue_open(qpath, cap, &q, &pid), 0);
    assert_int_equal(queue_recover(q, committed, 77), 0);
    return q;
}

/* A child pushes n readings of channels 0..2 (database ids 10, 11, 12) and
 * is killed without any cleanup. */
static void push_then_die(size_t n)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        static const int64_t ids[] = {10, 11, 12};
        struct queue *q = NULL;
        long holder;
        if (queue_open(qpath, 4096, &q, &holder) < 0 || queue_recover(q, 0, 77) < 0)
            _exit(3);
        queue_set_channels(q, ids, 3);
        for (size_t i = 0; i < n; i++) {
            struct reading r = {(uint32_t)(i % 3), 1700000000 + (int64_t)i, (double)i};
            if (!queue_push(q, &r))
                _exit(4);
        }
        raise(SIGKILL);
        _exit(5);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

static void test_readings_survive_sigkill(void **state)
{
    (void)state;
    push_then_die(1000);

    /* The database committed 400 of them; the next config lost channel 11
     * and swapped the order of the others. */
    struct queue *q = open_q(4096, 400);
    static const int64_t ids2[] = {12, 10};
    queue_set_channels(q, ids2, 2);
    struct queue_stats qs;
    queue_get_stats(q, &qs);
    assert_int_equal(qs.replayed, 600);
    assert_int_equal(qs.depth, 600);
    assert_int_equal(qs.replay_damaged, 0);
    assert_int_equal(qs.replay_unknown, 200); /* i % 3 == 1 for i in [400, 1000) */

    struct reading out[1000];
    size_t n = queue_pop(q, out, 1000, 0);
    assert_int_equal(n, 600);
    for (size_t k = 0; k < n; k++) {
        size_t i = 400 + k;
        uint32_t want = i % 3 == 0 ? 1 : i % 3 == 2 ? 0 : UINT32_MAX;
        if (out[k].channel != want || out[k].ts_s != 1700000000 + (int64_t)i ||
            out[k].value != (double)i)
            fail_msg("reading %zu came back as channel %u ts %lld value %g", i, out[k].channel,
                     (long long)out[k].ts_s, out[k].value);
    }
    assert_int_equal(queue_popped_seq(q), 1000);
    /* New readings follow on with the next sequence numbers. */
    struct reading r = {0, 1800000000, 1};
    assert_true(queue_push(q, &r));
    assert_int_equal(queue_pop(q, out, 10, 0), 1);
    assert_int_equal(queue_popped_seq(q), 1001);
    queue_free(q);
}

static void test_all_committed_nothing_replayed(void **state)
{
    (void)state;
    push_then_die(50);
    struct queue *q = open_q(4096, 50);
    struct queue_stats qs;
    queue_get_stats(q, &qs);
    assert_int_equal(qs.replayed, 0);
    assert_int_equal(qs.depth, 0);
    queue_free(q);
}

/* Killed before its first commit: the database holds nothing yet, and
 * every reading of the file is its own. */
static void test_killed_before_first_commit(void **state)
{
    (void)state;
    push_then_die(20);
    struct queue *q = open_q(4096, 0);
    struct queue_stats qs;
    queue_get_stats(q, &qs);
    assert_int_equal(qs.replayed, 20);
    assert_int_equal(qs.discarded, 0);
    queue_free(q);
}

static void test_file_of_another_database_is_discarded(void **state)
{
    (void)state;
    push_then_die(30);
    struct queue *q = NULL;
    long pid = 0;
    assert_int_equal(queue_open(qpath, 4096, &q, &pid), 0);
    assert_int_equal(queue_recover(q, 0, 78), 0); /* another database */
    struct queue_stats qs;
    queue_get_stats(q, &qs);
    assert_int_equal(qs.discarded, 30);
    assert_int_equal(qs.depth, 0);
    queue_free(q);
}

static void test_second_process_is_refused(void **state)
{
    (void)state;
    struct queue *q = open_q(64, 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct queue *q2 = NULL;
        long holder = 0;
        int rc = queue_open(qpath, 64, &q2, &holder);
        _exit(rc == -EBUSY && holder == (long)getppid() ? 0 : 1);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    queue_free(q);
}

static void test_room_comes_back_at_release(void **state)
{
    (void)state;
    struct queue *q = open_q(4, 0);
    struct reading r = {0, 1700000000, 1}, out[8];
    for (int i = 0; i < 4; i++)
        assert_true(queue_push(q, &r));
    assert_false(queue_push(q, &r));
    assert_int_equal(queue_pop(q, out, 8, 0), 4);
    /* Popped is not committed: the slots stay taken. */
    assert_false(queue_push(q, &r));
    queue_release(q, 2);
    assert_true(queue_push(q, &r));
    assert_true(queue_push(q, &r));
    assert_false(queue_push(q, &r));
    struct queue_stats qs;
    queue_get_stats(q, &qs);
    assert_int_equal(qs.dropped_full, 3);
    queue_free(q);
}

/* The whole path, killed at random: a child runs queue + writer + store and
 * pushes numbered readings as fast as it can, telling the parent through
 * shared memory how many the queue accepted; the parent kills it with
 * SIGKILL at a random moment, ten times over.  Every accepted reading must
 * be in the database exactly once at the end. */
static void test_writer_and_queue_lose_nothing_on_sigkill(void **state)
{
    (void)state;
    struct tenv t;
    assert_int_equal(tenv_setup(&t, NULL), 0);
    uint32_t ch = tchan(&t, "temp");
    store_close(t.s);
    t.s = NULL;
    snprintf(qpath, sizeof(qpath), "%s.queue", t.db);
    /* [0]: readings the queue accepted, [1]: readings replayed at starts. */
    _Atomic int64_t *accepted = mmap(NULL, 2 * sizeof(*accepted), PROT_READ | PROT_WRITE,
                                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(accepted != MAP_FAILED);
    atomic_store(&accepted[0], 0);
    atomic_store(&accepted[1], 0);
    srand(42);
    /* Recent enough for raw retention (30 days) to keep every reading. */
    const int64_t t0 = tu_now_s() - 20 * 86400;

    for (int round = 0; round <= 10; round++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            struct store *s;
            const char *msg;
            uint64_t seq = 0, db_id = 0;
            struct queue *q = NULL;
            long holder;
            if (queue_open(qpath, 8192, &q, &holder) < 0 || store_open(t.db, t.cfg, &s, &msg) < 0 ||
                store_queue_state(s, &seq, &db_id) < 0 || queue_recover(q, seq, db_id) < 0)
                _exit(3);
            struct queue_stats qs;
            queue_get_stats(q, &qs);
            atomic_fetch_add(&accepted[1], (int64_t)qs.replayed);
            struct writer *w = writer_start(s, q, t.cfg);
            if (!w)
                _exit(4);
            int64_t i = atomic_load(accepted);
            for (; round < 10 && i < 1500000; i++) {
                /* One reading a second of simulated time, values 15..25. */
                struct reading r = {ch, t0 + i, 15 + (double)(i % 1000) / 100};
                while (!queue_push(q, &r))
                    usleep(100);
                atomic_store(accepted, i + 1);
            }
            writer_stop(w, NULL); /* the last round stops cleanly */
            queue_free(q);
            _exit(0);
        }
        if (round < 10) {
            usleep(20000 + (useconds_t)(rand() % 150000));
            kill(pid, SIGKILL);
        }
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        if (round == 10)
            assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    int64_t n = atomic_load(accepted);
    assert_true(n > 1000);
    /* The kills did catch readings not yet committed. */
    assert_true(atomic_load(&accepted[1]) > 0);
    const char *msg;
    assert_int_equal(store_open_readonly(t.db, t.cfg, &t.s, &msg), 0);
    assert_true(tintegrity_ok(&t));
    double stored = tquery(&t, "SELECT count(*) FROM readings WHERE channel = %lld",
                           (long long)tchan_id(&t, "temp"));
    double rolled = tquery(&t, "SELECT sum(n) FROM rollup_hour WHERE channel = %lld",
                           (long long)tchan_id(&t, "temp"));
    /* The child counts a reading after queue_push() returned: a kill in
     * between leaves one reading in the queue the counter does not know,
     * stored all the same (the next child pushed it again: a duplicate,
     * skipped).  So n or n + 1, contiguous from t0, and each once. */
    double span = tquery(&t, "SELECT max(ts) - min(ts) + 1 FROM readings WHERE channel = %lld",
                         (long long)tchan_id(&t, "temp"));
    if ((stored != (double)n && stored != (double)n + 1) || rolled != stored || span != stored)
        fail_msg("%lld readings accepted by the queue, %.0f stored over %.0f seconds, %.0f in "
                 "the hourly rollups",
                 (long long)n, stored, span, rolled);
    munmap(accepted, 2 * sizeof(*accepted));
    tenv_teardown(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_readings_survive_sigkill, setup, teardown),
        cmocka_unit_test_setup_teardown(test_all_committed_nothing_replayed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_killed_before_first_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_of_another_database_is_discarded, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_second_process_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_room_comes_back_at_release, setup, teardown),
        cmocka_unit_test(test_writer_and_queue_lose_nothing_on_sigkill),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
