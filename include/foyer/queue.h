/*
 * queue.h - the bounded reading queue between drivers and the writer.
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
#ifndef FOYER_QUEUE_H
#define FOYER_QUEUE_H

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

#endif
