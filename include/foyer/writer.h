/*
 * writer.h - the writer thread: the only owner of the write connection.
 *
 * It pops readings from the queue, commits them in batches (by count or
 * after a deadline) through store_ingest(), runs raw-data retention once an
 * hour, and applies a new config between batches when asked.  A failed
 * commit (disk full, I/O error) keeps the batch and retries with backoff;
 * meanwhile the queue absorbs new readings and counts what it must refuse.
 * Each commit records the queue sequence number it reaches, then releases
 * the queue up to it (see queue.h).
 */
#ifndef FOYER_WRITER_H
#define FOYER_WRITER_H

#include "foyer/queue.h"
#include "foyer/store.h"

struct writer;

struct writer_stats {
    struct ingest_stats ingest;
    uint64_t commit_errors; /* failed transactions (each retried) */
    uint64_t lost_at_exit;  /* readings not committed when stopping failed (kept in the
                               queue file when the queue has one) */
    int64_t last_commit_s;  /* wall clock of the last successful commit */
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
 * Any thread.  Events beyond WRITER_EVENTS_MAX waiting are dropped and
 * counted (a flapping device must not grow memory). */
#define WRITER_EVENTS_MAX 1024
void writer_post_event(struct writer *w, const struct device_event *ev);
void writer_post_health(struct writer *w, const struct device_health *h);

#endif
