/*
 * ingest.h - the ingest room (daemon/ingest/): the reading queue between the
 * drivers and the writer, and the writer thread, the only owner of the
 * database's write connection.  foyerd pushes what drivers emit into the
 * queue; the writer pops batches and commits them through store_ingest().
 */
#ifndef FOYER_INGEST_H
#define FOYER_INGEST_H

/*
 * The bounded reading queue (daemon/ingest/ingest_queue.c) between drivers and the writer.
 *
 * A fixed ring allocated once at startup: pushing never allocates.  Any
 * thread may push; one consumer (the writer) pops in batches.  When the ring
 * is full a push is refused and counted: the writer falling behind must
 * never grow memory without bound or block a Modbus poll.
 *
 * The ring of foyerd lives in a preallocated memory-mapped file beside the
 * database (queue_open()), so that a reading a driver handed over survives a
 * crash of the process (SIGKILL, OOM killer, abort): a broker counts a QoS 1
 * message as delivered before foyerd has committed it.  Every reading gets a
 * sequence number; the writer stores the last sequence number it committed
 * in the same transaction as the readings (store_ingest()), then releases
 * the ring space up to it (queue_release()).  At the next start the readings
 * after the committed sequence number are still in the file and are popped
 * again first: each reading is committed exactly once.
 *
 * What a crash of the process cannot lose: any reading queue_push() accepted.
 * What a power cut can lose: readings pushed since the kernel last wrote the
 * mapping back (no msync on the hot path; dirty pages are written within the
 * kernel's writeback interval, 5 to 30 s), and the database's own last
 * commits (synchronous = NORMAL).  See docs/DESIGN.md, "Reading queue".
 *
 * File layout (native byte order; the file never leaves its machine):
 *   header (64 bytes): magic "FOYERQ1\0", record size, the PID of the last
 *                      process that opened it, capacity, the sequence
 *                      number of the last record written, the last one
 *                      released, the identity of the database it feeds
 *   capacity records of 32 bytes: seq, ts_s, value, channel index in the
 *                      config that wrote it, channel database id
 *   A record is slot seq % capacity; it is valid when its seq field holds
 *   that seq.  The header's tail is advanced after the record is written.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "foyer/reading.h"

struct queue;

struct queue_stats {
    uint64_t pushed;       /* readings accepted */
    uint64_t dropped_full; /* readings refused because the ring was full */
    size_t depth;          /* readings waiting to be popped now */
    size_t high_water;     /* most readings the ring has held uncommitted */
    size_t capacity;
    uint64_t replayed;       /* readings found uncommitted in the file at open */
    uint64_t replay_unknown; /* of those, readings of channels no longer configured */
    uint64_t replay_damaged; /* records in the file that could not be read back */
    uint64_t discarded;      /* uncommitted readings of a file left by another database */
};

/* An in-memory queue (tests, benchmarks): nothing survives the process.
 * NULL on allocation failure.  Caller frees with queue_free(). */
struct queue *queue_new(size_t capacity);

/* Open or create the queue file at path with room for capacity readings,
 * and lock it: a second process gets -EBUSY and *ret_holder_pid the PID
 * holding it (-EBADMSG: not a regular file).  Nothing is read yet: call
 * queue_recover() before anything else.  0 or -errno. */
int queue_open(const char *path, size_t capacity, struct queue **ret, long *ret_holder_pid);

/* Make the file ready: a new file is preallocated on disk (so a full disk
 * later never refuses the ring).  committed_seq is the last sequence number
 * the database holds (store_queue_seq()): readings of the file after it are
 * waiting again, to be popped first once queue_set_channels() has mapped
 * them to the running config.  When the file holds waiting readings and
 * another capacity, the file's capacity is kept.  0 or -errno (-EBADMSG
 * not a queue file, -ENOSPC no room to preallocate). */
int queue_recover(struct queue *q, uint64_t committed_seq, uint64_t db_id);
void queue_free(struct queue *q);

/* True when the queue lives in a file (queue_open()). */
bool queue_persistent(const struct queue *q);

/* The database id of every config channel (ids[i] for config channel i, -1
 * when it has none), borrowed until the next call or queue_free().  Call
 * before the first push and after every config switch, while nothing
 * pushes.  The first call after queue_open() maps the waiting readings of
 * the file to channels of this config, by database id; readings of a
 * channel no longer configured are counted (replay_unknown) and popped
 * with channel UINT32_MAX, which the store refuses. */
void queue_set_channels(struct queue *q, const int64_t *ids, size_t n);

/* Non-blocking.  False when the queue is full or closed (counted). */
bool queue_push(struct queue *q, const struct reading *r);

/* Wait up to wait_ms for at least one reading, then take up to max.  Returns
 * the number taken (0 on timeout, or when closed and empty).  Readings
 * taken still occupy the ring until queue_release(). */
size_t queue_pop(struct queue *q, struct reading *out, size_t max, int64_t wait_ms);

/* Sequence number of the last reading popped (0 before any). */
uint64_t queue_popped_seq(struct queue *q);

/* The readings up to seq are committed: free their room in the ring. */
void queue_release(struct queue *q, uint64_t seq);

/* Refuse further pushes and wake the consumer; readings already queued can
 * still be popped. */
void queue_close(struct queue *q);
bool queue_closed_and_empty(struct queue *q);

void queue_get_stats(struct queue *q, struct queue_stats *ret);

/*
 * The writer thread (daemon/ingest/ingest_writer.c): the only owner of the write connection.
 *
 * It pops readings from the queue, commits them in batches (by count or
 * after a deadline) through store_ingest(), runs raw-data retention once an
 * hour, and applies a new config between batches when asked.  A failed
 * commit (disk full, I/O error) keeps the batch and retries with backoff;
 * meanwhile the queue absorbs new readings and counts what it must refuse.
 * Each commit records the queue sequence number it reaches, then releases
 * the queue up to it (see queue.h).
 */

#include "foyer/store.h"

struct writer;

/* Upper bounds (ms) of the commit time histogram of struct writer_stats
 * (for /metrics): a commit of a batch takes a few ms on an SD card, a
 * second or more when the disk stalls. */
#define WRITER_COMMIT_BUCKETS 8
#define WRITER_COMMIT_BOUNDS_MS                                                                    \
    {                                                                                              \
        1, 5, 10, 25, 100, 250, 1000, 5000                                                         \
    }

struct writer_stats {
    struct ingest_stats ingest;
    /* successful commits by time taken (store_ingest(), monotonic ms):
     * commit_ms[i] those at most WRITER_COMMIT_BOUNDS_MS[i] (and above the
     * bound before), the last one above every bound; and their sum */
    uint64_t commit_ms[WRITER_COMMIT_BUCKETS + 1];
    uint64_t commit_ms_sum;
    uint64_t commit_errors; /* failed transactions (each retried) */
    uint64_t lost_at_exit;  /* readings not committed when stopping failed (kept in the
                               queue file when the queue has one) */
    int64_t last_commit_s;  /* wall clock of the last successful commit */
    int64_t last_error_s;   /* wall clock of the last failed commit, 0 none */
    bool commit_failing;    /* the last commit attempt failed (the writer retries) */
    int64_t retention_deleted;
    uint64_t events_dropped; /* device events refused: too many waiting */
};

/* Start the thread.  The writer owns s from now on; cfg is borrowed.
 * NULL on failure. */
struct writer *writer_start(struct store *s, struct queue *q, const struct foyer_config *cfg);

/* Make the writer switch config between batches, after draining the queue
 * (the caller has stopped the drivers, so queued readings are all indexed by
 * the old config).  Blocks until applied; 0 or -errno: -ETIMEDOUT when the
 * queue did not drain within WRITER_SWITCH_WAIT_MS (the database refusing
 * writes), other errors from store_set_config().  On any failure the writer
 * goes on with the running config and cfg is no longer referenced. */
int writer_set_config(struct writer *w, const struct foyer_config *cfg);

/* Close the queue, let the writer commit everything left and join it.  A
 * database that still refuses writes gets one more try, then the writer
 * gives up (counted in lost_at_exit): stopping is bounded.
 * Closes the store.  When ret_final is not NULL it gets the final stats.
 * Accepts NULL. */
void writer_stop(struct writer *w, struct writer_stats *ret_final);

void writer_get_stats(struct writer *w, struct writer_stats *ret);

/* Monotonic time (tu_mono_ms) of the writer loop's last turn.  The loop
 * turns at least every 200 ms, also while it waits to retry a failed commit;
 * an old heartbeat means the writer is stuck (the watchdog stops pinging). */
int64_t writer_heartbeat_ms(struct writer *w);

/* Hand a device state change or a device's health to the writer, which
 * stores them with its next commit (health at most every few seconds).
 * Any thread.  Events beyond FOYER_WRITER_EVENTS_MAX waiting are dropped
 * and counted (a flapping device must not grow memory). */
void writer_post_event(struct writer *w, const struct device_event *ev);
void writer_post_health(struct writer *w, const struct device_health *h);

#endif
