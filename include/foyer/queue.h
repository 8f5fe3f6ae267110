/*
 * queue.h - the bounded reading queue between drivers and the writer.
 *
 * A fixed ring allocated once at startup: pushing never allocates.  Any
 * thread may push; one consumer (the writer) pops in batches.  When the ring
 * is full a push is refused and counted (drivers keep their own copy or drop
 * with a count): the writer falling behind must never grow memory without
 * bound or block a Modbus poll.
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
    size_t depth;          /* readings waiting now */
    size_t high_water;     /* deepest the queue has been */
    size_t capacity;
};

/* NULL on allocation failure.  Caller frees with queue_free(). */
struct queue *queue_new(size_t capacity);
void queue_free(struct queue *q);

/* Non-blocking.  False when the queue is full or closed (counted). */
bool queue_push(struct queue *q, const struct reading *r);

/* Wait up to wait_ms for at least one reading, then take up to max.  Returns
 * the number taken (0 on timeout, or when closed and empty). */
size_t queue_pop(struct queue *q, struct reading *out, size_t max, int64_t wait_ms);

/* Refuse further pushes and wake the consumer; readings already queued can
 * still be popped. */
void queue_close(struct queue *q);
bool queue_closed_and_empty(struct queue *q);

void queue_get_stats(struct queue *q, struct queue_stats *ret);

#endif
