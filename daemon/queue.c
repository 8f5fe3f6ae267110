/*
 * queue.c - fixed ring of struct reading, mutex and condition variable.
 *
 * The lock is held only to copy a reading in or a batch out: never across
 * I/O.  The consumer copies a whole batch per wake-up, so the lock is taken
 * once per batch on the consumer side.
 */
#include "foyer/queue.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "foyer/timeutil.h"

struct queue {
    pthread_mutex_t lock;
    pthread_cond_t nonempty;
    struct reading *ring;
    size_t capacity;
    size_t head;  /* next to pop */
    size_t count; /* readings in the ring */
    bool closed;
    struct queue_stats stats;
};

struct queue *queue_new(size_t capacity)
{
    struct queue *q = calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    q->ring = calloc(capacity, sizeof(*q->ring));
    if (!q->ring) {
        free(q);
        return NULL;
    }
    q->capacity = capacity;
    q->stats.capacity = capacity;
    pthread_mutex_init(&q->lock, NULL);
    if (tu_cond_init_monotonic(&q->nonempty) < 0) {
        pthread_mutex_destroy(&q->lock);
        free(q->ring);
        free(q);
        return NULL;
    }
    return q;
}

void queue_free(struct queue *q)
{
    if (!q)
        return;
    pthread_cond_destroy(&q->nonempty);
    pthread_mutex_destroy(&q->lock);
    free(q->ring);
    free(q);
}

bool queue_push(struct queue *q, const struct reading *r)
{
    bool ok = false;
    pthread_mutex_lock(&q->lock);
    if (!q->closed && q->count < q->capacity) {
        q->ring[(q->head + q->count) % q->capacity] = *r;
        q->count++;
        q->stats.pushed++;
        if (q->count > q->stats.high_water)
            q->stats.high_water = q->count;
        ok = true;
        if (q->count == 1)
            pthread_cond_signal(&q->nonempty);
    } else {
        q->stats.dropped_full++;
    }
    pthread_mutex_unlock(&q->lock);
    return ok;
}

size_t queue_pop(struct queue *q, struct reading *out, size_t max, int64_t wait_ms)
{
    struct timespec deadline = tu_mono_timespec(tu_mono_ms() + wait_ms);

    pthread_mutex_lock(&q->lock);
    while (q->count == 0 && !q->closed && wait_ms > 0) {
        if (pthread_cond_timedwait(&q->nonempty, &q->lock, &deadline) != 0)
            break;
    }
    size_t n = q->count < max ? q->count : max;
    for (size_t i = 0; i < n; i++)
        out[i] = q->ring[(q->head + i) % q->capacity];
    q->head = (q->head + n) % q->capacity;
    q->count -= n;
    pthread_mutex_unlock(&q->lock);
    return n;
}

void queue_close(struct queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->closed = true;
    pthread_cond_broadcast(&q->nonempty);
    pthread_mutex_unlock(&q->lock);
}

bool queue_closed_and_empty(struct queue *q)
{
    pthread_mutex_lock(&q->lock);
    bool r = q->closed && q->count == 0;
    pthread_mutex_unlock(&q->lock);
    return r;
}

void queue_get_stats(struct queue *q, struct queue_stats *ret)
{
    pthread_mutex_lock(&q->lock);
    *ret = q->stats;
    ret->depth = q->count;
    pthread_mutex_unlock(&q->lock);
}
