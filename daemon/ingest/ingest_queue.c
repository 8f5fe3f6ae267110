/*
 * ingest_queue.c - fixed ring of readings, mutex and condition variable, in memory
 * or in a memory-mapped file (the layout is described in queue.h).
 *
 * The lock is held only to copy a reading in or a batch out: never across
 * I/O (stores to a shared file mapping are memory writes; the kernel writes
 * the pages back on its own).  The consumer copies a whole batch per
 * wake-up, so the lock is taken once per batch on the consumer side.
 *
 * Sequence numbers: tail is the last one pushed, head the next one to pop,
 * released the last one committed.  Readings waiting: tail - head + 1.
 * Room used in the ring: tail - released (popped readings keep their slots
 * until the writer has committed them).
 */
#include "foyer/ingest.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "foyer/timeutil.h"

#define QUEUE_MAGIC "FOYERQ1"

struct queue_header {
    char magic[8];
    uint32_t record_size;
    uint32_t pid; /* last process that opened it, for people reading the file */
    uint64_t capacity;
    _Atomic uint64_t tail;     /* last sequence number written */
    _Atomic uint64_t released; /* last sequence number committed (a hint: the database holds
                                  the truth) */
    uint64_t db_id;            /* identity of the database it feeds (store_queue_state()) */
    uint8_t pad[16];
};

struct queue_record {
    _Atomic uint64_t seq; /* valid when it equals the slot's sequence number */
    int64_t ts_s;
    double value;
    uint32_t channel; /* config index at push time */
    uint32_t chan_db; /* database id, to map the reading to another config */
};

_Static_assert(sizeof(struct queue_header) == 64, "queue header is 64 bytes");
_Static_assert(sizeof(struct queue_record) == 32, "queue record is 32 bytes");

struct queue {
    pthread_mutex_t lock;
    pthread_cond_t nonempty;
    struct queue_header *hdr; /* mapped file or private memory */
    struct queue_record *ring;
    size_t map_len;
    bool mapped;
    int fd; /* the locked file, -1 in memory */
    size_t capacity;
    uint64_t head;     /* next sequence number to pop */
    uint64_t tail;     /* last sequence number pushed */
    uint64_t released; /* last sequence number committed */
    bool closed;
    bool remap;         /* waiting readings come from an earlier process */
    const int64_t *ids; /* database id per config channel */
    size_t n_ids;
    struct queue_stats stats;
};

static int queue_init(struct queue *q)
{
    pthread_mutex_init(&q->lock, NULL);
    if (tu_cond_init_monotonic(&q->nonempty) < 0) {
        pthread_mutex_destroy(&q->lock);
        return -ENOMEM;
    }
    return 0;
}

struct queue *queue_new(size_t capacity)
{
    struct queue *q = calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    q->fd = -1;
    q->hdr = calloc(1, sizeof(*q->hdr) + capacity * sizeof(struct queue_record));
    if (!q->hdr || queue_init(q) < 0) {
        free(q->hdr);
        free(q);
        return NULL;
    }
    q->ring = (struct queue_record *)(q->hdr + 1);
    q->capacity = capacity;
    q->hdr->capacity = capacity;
    q->stats.capacity = capacity;
    q->head = 1;
    return q;
}

/* Lock the whole file for this process; -EBUSY with the holder's PID. */
static int lock_file(int fd, long *ret_holder_pid)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    if (fcntl(fd, F_SETLK, &fl) == 0)
        return 0;
    int err = errno;
    if (err != EACCES && err != EAGAIN)
        return -err;
    struct flock who = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    if (ret_holder_pid && fcntl(fd, F_GETLK, &who) == 0 && who.l_type != F_UNLCK)
        *ret_holder_pid = (long)who.l_pid;
    return -EBUSY;
}

static bool header_valid(const struct queue_header *h, off_t size)
{
    return memcmp(h->magic, QUEUE_MAGIC, sizeof(QUEUE_MAGIC)) == 0 &&
           h->record_size == sizeof(struct queue_record) && h->capacity > 0 &&
           (uint64_t)size == sizeof(*h) + h->capacity * sizeof(struct queue_record);
}

static int map_file(struct queue *q, size_t capacity)
{
    size_t len = sizeof(struct queue_header) + capacity * sizeof(struct queue_record);
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, q->fd, 0);
    if (p == MAP_FAILED)
        return -errno;
    q->hdr = p;
    q->ring = (struct queue_record *)(q->hdr + 1);
    q->map_len = len;
    q->mapped = true;
    q->capacity = capacity;
    return 0;
}

/* Make the file a new, empty queue of capacity records whose first
 * sequence number follows last_seq. */
static int format_file(struct queue *q, size_t capacity, uint64_t last_seq, uint64_t db_id)
{
    size_t len = sizeof(struct queue_header) + capacity * sizeof(struct queue_record);
    if (ftruncate(q->fd, 0) < 0)
        return -errno;
    /* Reserve the blocks now: writing to the mapping later must never meet
     * a full disk (that would be SIGBUS). */
    int rc = posix_fallocate(q->fd, 0, (off_t)len);
    if (rc != 0)
        return -rc;
    rc = map_file(q, capacity);
    if (rc < 0)
        return rc;
    memset(q->hdr, 0, len);
    memcpy(q->hdr->magic, QUEUE_MAGIC, sizeof(QUEUE_MAGIC));
    q->hdr->record_size = sizeof(struct queue_record);
    q->hdr->capacity = capacity;
    q->hdr->db_id = db_id;
    atomic_store(&q->hdr->tail, last_seq);
    atomic_store(&q->hdr->released, last_seq);
    /* The header must be on disk before any record counts on it. */
    if (msync(q->hdr, sizeof(*q->hdr), MS_SYNC) < 0 || fsync(q->fd) < 0)
        return -errno;
    return 0;
}

/* Check the records after committed_seq up to the file's tail, which wait
 * to be committed again. */
static void scan_waiting(struct queue *q, uint64_t committed_seq)
{
    uint64_t tail = atomic_load(&q->hdr->tail);
    if (tail < committed_seq || tail - committed_seq > q->capacity) {
        /* The file is older than the database (restored, recreated) or
         * damaged: nothing in it can be trusted to be uncommitted. */
        if (tail > committed_seq)
            q->stats.replay_damaged += tail - committed_seq;
        tail = committed_seq;
        atomic_store(&q->hdr->tail, tail);
    }
    q->tail = tail;
    q->released = committed_seq;
    q->head = committed_seq + 1;
    for (uint64_t s = committed_seq + 1; s <= tail; s++) {
        struct queue_record *rec = &q->ring[s % q->capacity];
        if (atomic_load(&rec->seq) != s) {
            /* Never fully written: its slot becomes a reading nobody
             * stores (channel UINT32_MAX is refused and counted). */
            q->stats.replay_damaged++;
            rec->channel = UINT32_MAX;
            rec->chan_db = UINT32_MAX;
            atomic_store(&rec->seq, s);
        }
    }
    q->stats.replayed = tail - committed_seq;
    q->remap = tail > committed_seq;
}

int queue_open(const char *path, size_t capacity, struct queue **ret, long *ret_holder_pid)
{
    struct queue *q = calloc(1, sizeof(*q));
    struct stat stb;
    int rc;

    if (!q)
        return -ENOMEM;
    q->capacity = capacity;
    q->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0600);
    if (q->fd < 0) {
        rc = -errno;
        goto out_free;
    }
    rc = lock_file(q->fd, ret_holder_pid);
    if (rc < 0)
        goto out_close;
    if (fstat(q->fd, &stb) < 0) {
        rc = -errno;
        goto out_close;
    }
    if (!S_ISREG(stb.st_mode)) {
        rc = -EBADMSG;
        goto out_close;
    }
    if (queue_init(q) < 0) {
        rc = -ENOMEM;
        goto out_close;
    }
    *ret = q;
    return 0;

out_close:
    close(q->fd);
out_free:
    free(q);
    return rc;
}

int queue_recover(struct queue *q, uint64_t committed_seq, uint64_t db_id)
{
    struct stat stb;
    int rc;

    if (fstat(q->fd, &stb) < 0)
        return -errno;
    if (stb.st_size >= (off_t)sizeof(struct queue_header)) {
        struct queue_header h;
        if (pread(q->fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h))
            return -EIO;
        if (!header_valid(&h, stb.st_size))
            return -EBADMSG;
        uint64_t tail = atomic_load(&h.tail);
        bool waiting = tail > committed_seq && tail - committed_seq <= h.capacity;
        if (h.db_id != db_id) {
            /* Left by another database (deleted, replaced by a new one):
             * its readings are not for this one. */
            uint64_t released = atomic_load(&h.released);
            q->stats.discarded = tail > released ? tail - released : 0;
            rc = format_file(q, q->capacity, committed_seq, db_id);
        } else if (h.capacity == q->capacity || waiting)
            rc = map_file(q, (size_t)h.capacity);
        else
            rc = format_file(q, q->capacity, committed_seq, db_id);
    } else if (stb.st_size == 0) {
        rc = format_file(q, q->capacity, committed_seq, db_id);
    } else {
        rc = -EBADMSG;
    }
    if (rc < 0)
        return rc;
    scan_waiting(q, committed_seq);
    q->hdr->pid = (uint32_t)getpid();
    q->stats.capacity = q->capacity;
    return 0;
}

void queue_free(struct queue *q)
{
    if (!q)
        return;
    pthread_cond_destroy(&q->nonempty);
    pthread_mutex_destroy(&q->lock);
    if (q->mapped)
        munmap(q->hdr, q->map_len);
    else if (q->fd < 0)
        free(q->hdr);
    if (q->fd >= 0)
        close(q->fd); /* releases the lock */
    free(q);
}

bool queue_persistent(const struct queue *q)
{
    return q->fd >= 0;
}

static int cmp_id(const void *a, const void *b)
{
    const int64_t *x = a, *y = b;
    return x[0] < y[0] ? -1 : x[0] > y[0];
}

/* Give the waiting readings of an earlier process the channel index of the
 * running config, by database id. */
static void remap_waiting(struct queue *q)
{
    int64_t(*by_id)[2] = calloc(q->n_ids ? q->n_ids : 1, sizeof(*by_id));
    size_t n = 0;
    for (size_t i = 0; by_id && i < q->n_ids; i++) {
        if (q->ids[i] >= 0) {
            by_id[n][0] = q->ids[i];
            by_id[n][1] = (int64_t)i;
            n++;
        }
    }
    if (by_id)
        qsort(by_id, n, sizeof(*by_id), cmp_id);
    for (uint64_t s = q->head; s <= q->tail; s++) {
        struct queue_record *rec = &q->ring[s % q->capacity];
        int64_t key[2] = {(int64_t)rec->chan_db, 0};
        const int64_t *hit = by_id && rec->chan_db != UINT32_MAX
                                 ? bsearch(key, by_id, n, sizeof(*by_id), cmp_id)
                                 : NULL;
        if (hit) {
            rec->channel = (uint32_t)hit[1];
        } else {
            rec->channel = UINT32_MAX;
            q->stats.replay_unknown++;
        }
    }
    free(by_id);
    q->remap = false;
}

void queue_set_channels(struct queue *q, const int64_t *ids, size_t n)
{
    pthread_mutex_lock(&q->lock);
    q->ids = ids;
    q->n_ids = n;
    if (q->remap)
        remap_waiting(q);
    pthread_mutex_unlock(&q->lock);
}

bool queue_push(struct queue *q, const struct reading *r)
{
    bool ok = false;
    pthread_mutex_lock(&q->lock);
    if (!q->closed && q->tail - q->released < q->capacity) {
        uint64_t seq = q->tail + 1;
        struct queue_record *rec = &q->ring[seq % q->capacity];
        rec->ts_s = r->ts_s;
        rec->value = r->value;
        rec->channel = r->channel;
        rec->chan_db = r->channel < q->n_ids && q->ids[r->channel] >= 0
                           ? (uint32_t)q->ids[r->channel]
                           : UINT32_MAX;
        /* The record first, then its seq, then the tail: a process killed
         * in between leaves a record that is not counted, never a counted
         * record that is half written. */
        atomic_store_explicit(&rec->seq, seq, memory_order_release);
        atomic_store_explicit(&q->hdr->tail, seq, memory_order_release);
        q->tail = seq;
        q->stats.pushed++;
        if (q->tail - q->released > q->stats.high_water)
            q->stats.high_water = (size_t)(q->tail - q->released);
        ok = true;
        if (q->tail + 1 - q->head == 1)
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
    while (q->tail + 1 == q->head && !q->closed && wait_ms > 0) {
        if (pthread_cond_timedwait(&q->nonempty, &q->lock, &deadline) != 0)
            break;
    }
    size_t waiting = (size_t)(q->tail + 1 - q->head);
    size_t n = waiting < max ? waiting : max;
    for (size_t i = 0; i < n; i++) {
        const struct queue_record *rec = &q->ring[(q->head + i) % q->capacity];
        out[i] = (struct reading){.channel = rec->channel, .ts_s = rec->ts_s, .value = rec->value};
    }
    q->head += n;
    pthread_mutex_unlock(&q->lock);
    return n;
}

uint64_t queue_popped_seq(struct queue *q)
{
    pthread_mutex_lock(&q->lock);
    uint64_t s = q->head - 1;
    pthread_mutex_unlock(&q->lock);
    return s;
}

void queue_release(struct queue *q, uint64_t seq)
{
    pthread_mutex_lock(&q->lock);
    if (seq > q->released && seq < q->head) {
        q->released = seq;
        atomic_store_explicit(&q->hdr->released, seq, memory_order_release);
    }
    pthread_mutex_unlock(&q->lock);
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
    bool r = q->closed && q->tail + 1 == q->head;
    pthread_mutex_unlock(&q->lock);
    return r;
}

void queue_get_stats(struct queue *q, struct queue_stats *ret)
{
    pthread_mutex_lock(&q->lock);
    *ret = q->stats;
    ret->depth = (size_t)(q->tail + 1 - q->head);
    pthread_mutex_unlock(&q->lock);
}
