/*
 * ingest_writer.c - the writer thread ("foyer-writer").
 *
 * Loop: fill a batch from the queue until it holds batch_readings readings
 * or the first one has waited batch_deadline_ms; commit it; repeat.  The
 * batch buffer is allocated once.  Everything the writer does to the
 * database happens on this thread, including config switches and retention,
 * so the store needs no locking.
 *
 * Each batch's readings are a run of the queue's sequence numbers; the last
 * one is committed with the batch (store_ingest()) and only then released
 * in the queue, so a crash at any moment leaves every reading either
 * committed or still in the queue file, never both and never neither.
 *
 * Stopping is bounded: once writer_stop() is called, a failing database
 * gets one more try per batch, then the writer exits and leaves what it
 * could not commit in the queue file for the next start (counted).
 */
#include "foyer/ingest.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "foyer/limits.h"
#include "foyer/log.h"
#include "foyer/store_erase.h"
#include "foyer/timeutil.h"

#define WRITER_RETRY_MIN_MS       500
#define WRITER_RETRY_MAX_MS       30000
#define WRITER_RETENTION_EVERY_MS (3600 * 1000)
/* A retention run goes a few channels per writer turn, this long at most
 * (one transaction per channel): between turns the batches are committed
 * and other writers (foyerctl token create, the HTTP side's reports) get
 * the lock, whose holder they wait for 5 s at most. */
#define WRITER_RETENTION_STEP_MS 50
/* ... and one step per this long at most: a turn can be short (device
 * health posted, readings arriving), and steps back to back would hold
 * the lock nearly all the time; SQLite's busy wait polls every 100 ms and
 * would keep missing the gaps.  The lock is then free 4/5 of the time. */
#define WRITER_RETENTION_PAUSE_MS 250

struct writer {
    pthread_t thread;
    struct store *store;
    struct queue *q;
    const struct foyer_config *cfg;
    struct reading *batch;
    size_t batch_cap;

    pthread_mutex_t lock; /* guards the fields below */
    pthread_cond_t cond;
    const struct foyer_config *pending_cfg;
    bool switching; /* the writer is applying pending_cfg now */
    int cfg_result;
    bool cfg_done;
    struct writer_stats stats;
    struct device_event *events; /* waiting to be stored */
    size_t n_events;
    struct device_health *health; /* latest per device */
    bool *health_dirty;
    size_t n_health, cap_health;
    int64_t health_flushed_ms;
    _Atomic int64_t heartbeat_ms; /* see writer_heartbeat_ms() */
    atomic_bool stopping;         /* writer_stop() was called */
};

/* How long writer_set_config() waits for the queue to drain and the switch
 * to happen before it gives up (the database refusing writes). */
#define WRITER_SWITCH_WAIT_MS 5000

#define WRITER_HEALTH_EVERY_MS 5000

static void batch_limits(const struct foyer_config *cfg, size_t *ret_n, int64_t *ret_ms)
{
    *ret_n = cfg->batch_readings > 0 ? (size_t)cfg->batch_readings : FOYER_BATCH_READINGS;
    *ret_ms = cfg->batch_deadline_ms > 0 ? cfg->batch_deadline_ms : FOYER_BATCH_DEADLINE_MS;
}

static void log_anomalies(const struct ingest_stats *d)
{
    if (d->resets || d->jumps || d->rollovers || d->glitches || d->spikes || d->late_refused ||
        d->conflicts)
        log_info("counters: %llu resets, %llu index jumps, %llu rollovers, %llu glitches "
                 "dropped, %llu spikes dropped, %llu late readings refused, %llu conflicting "
                 "duplicates (details in the events table)",
                 (unsigned long long)d->resets, (unsigned long long)d->jumps,
                 (unsigned long long)d->rollovers, (unsigned long long)d->glitches,
                 (unsigned long long)d->spikes, (unsigned long long)d->late_refused,
                 (unsigned long long)d->conflicts);
    if (d->out_of_range || d->bad_time)
        log_warn("refused %llu readings out of their channel's range and %llu with an absurd "
                 "time (%llu of them ahead of the clock: future_refused events)",
                 (unsigned long long)d->out_of_range, (unsigned long long)d->bad_time,
                 (unsigned long long)d->future);
    if (d->clock_gaps)
        log_warn("%llu counter readings too far in time from their channel's others to spread "
                 "(a device clock reset?): new baselines or refused, see clock_gap events",
                 (unsigned long long)d->clock_gaps);
}

/* Commit n readings popped up to queue sequence number seq, retrying while
 * the database refuses.  Returns false when it gave up: stopping, and the
 * database still refused. */
static bool commit_batch(struct writer *w, size_t n, uint64_t seq)
{
    int64_t backoff_ms = WRITER_RETRY_MIN_MS;
    bool failing = false;

    for (;;) {
        struct ingest_stats d = {0};
        int64_t t0 = tu_mono_ms();
        int rc = store_ingest(w->store, w->batch, n, seq, &d);
        int64_t took_ms = tu_mono_ms() - t0;
        pthread_mutex_lock(&w->lock);
        if (rc == 0) {
            static const int64_t bound_ms[WRITER_COMMIT_BUCKETS] = WRITER_COMMIT_BOUNDS_MS;
            size_t b = 0;
            while (b < WRITER_COMMIT_BUCKETS && took_ms > bound_ms[b])
                b++;
            w->stats.commit_ms[b]++;
            w->stats.commit_ms_sum += (uint64_t)took_ms;
            ingest_stats_add(&w->stats.ingest, &d);
            w->stats.last_commit_s = tu_now_s();
            w->stats.commit_failing = false;
        } else {
            w->stats.commit_errors++;
            w->stats.last_error_s = tu_now_s();
            w->stats.commit_failing = true;
        }
        pthread_mutex_unlock(&w->lock);
        if (rc == 0) {
            queue_release(w->q, seq);
            if (failing)
                log_info("database writes work again: %zu readings committed", n);
            log_anomalies(&d);
            return true;
        }
        if (!failing || atomic_load(&w->stopping))
            log_err("database write failed: %s (%s); keeping %zu readings, %s", strerror(-rc),
                    store_errmsg(w->store), n,
                    atomic_load(&w->stopping) && failing ? "giving up: stopping"
                                                         : "retrying with backoff");
        if (atomic_load(&w->stopping) && failing)
            return false;
        failing = true;
        /* Wait in short steps, alive for the watchdog: a full disk is not a
         * hung writer.  No reading is lost meanwhile: the queue keeps what
         * drivers push, and counts what it must refuse once full.  A stop
         * cuts the wait short: one more try, then give up. */
        for (int64_t end = tu_mono_ms() + backoff_ms;
             tu_mono_ms() < end && !atomic_load(&w->stopping);) {
            atomic_store(&w->heartbeat_ms, tu_mono_ms());
            struct timespec ts = {0, 100 * 1000000L};
            nanosleep(&ts, NULL);
        }
        backoff_ms = tu_backoff_next(backoff_ms, WRITER_RETRY_MAX_MS);
    }
}

/* One step of the retention run; true when the run is over (done or
 * failed).  *cursor and *total carry the run from turn to turn. */
static bool run_retention(struct writer *w, int64_t now_s, size_t *cursor, int64_t *total)
{
    int64_t n = store_retention_step(w->store, now_s, cursor, WRITER_RETENTION_STEP_MS);
    if (n < 0) {
        log_warn("retention failed: %s (%s), retrying in an hour", strerror((int)-n),
                 store_errmsg(w->store));
        return true;
    }
    *total += n;
    pthread_mutex_lock(&w->lock);
    w->stats.retention_deleted += n;
    pthread_mutex_unlock(&w->lock);
    if (*cursor < w->cfg->n_channels)
        return false;
    if (*total > 0)
        log_info("retention: deleted %lld raw readings and hourly figures past their window",
                 (long long)*total);
    return true;
}

/* The hourly folded consumption of erased dwellings is kept as long as a
 * household's hours without load-curve consent (store_erase.h). */
static void prune_folded_hours(struct writer *w, int64_t now_s)
{
    int64_t n = store_erase_prune_hours(
        w->store, now_s - (int64_t)w->cfg->raw_retention_days_no_consent * 86400);
    if (n < 0)
        log_warn("retention of the folded hours failed: %s (%s), retrying in an hour",
                 strerror((int)-n), store_errmsg(w->store));
}

/* One step of the automatic erasure that follows a retention run: the
 * next tenancy ended more than [foyer] erase_after_days ago and not yet
 * erased (store_erase_due()), in one transaction; true when none is left
 * or it failed (retried at the next run, in an hour).  Logged once per
 * erasure, with its counts. */
static bool run_erasure(struct writer *w, int64_t now_s)
{
    char ten[FOYER_ID_MAX + 1] = "", dw[FOYER_ID_MAX + 1] = "";
    struct store_erase_account a;
    int rc = store_erase_due(w->store, w->cfg, now_s, w->cfg->erase_after_days, ten, dw, &a);
    if (rc < 0)
        log_warn("erasure of tenancy %s failed: %s (%s), retrying in an hour", ten[0] ? ten : "?",
                 strerror(-rc), store_errmsg(w->store));
    /* Every step: the hours just folded go at once when past the window,
     * and those aging past it once a run. */
    if (rc >= 0)
        prune_folded_hours(w, now_s);
    if (rc <= 0)
        return true;
    char counts[512], day[40];
    size_t len = 0;
    counts[0] = '\0';
    for (int k = 0; k < STORE_ERASE_N && len < sizeof(counts); k++)
        if (a.rows[k])
            len +=
                (size_t)snprintf(counts + len, sizeof(counts) - len, " %s=%lld",
                                 store_erase_table((enum store_erase_what)k), (long long)a.rows[k]);
    for (int q = 0; q < Q_COUNT_ && len < sizeof(counts); q++)
        if (a.folded[q] != 0)
            len += (size_t)snprintf(counts + len, sizeof(counts) - len, " folded_%s=%.3f%s",
                                    quantity_name((enum quantity)q), a.folded[q],
                                    quantity_unit((enum quantity)q));
    tu_format_local(a.cut_s, day, sizeof(day));
    log_info("erasure: tenancy %s of dwelling %s ended more than %d days ago: its data before "
             "%.10s erased:%s",
             ten, dw, w->cfg->erase_after_days, day, counts[0] ? counts : " nothing held");
    return false;
}

/* Apply a config switch asked by writer_set_config(), once the queue is
 * empty (the caller stopped the drivers first). */
static void maybe_switch_config(struct writer *w)
{
    struct queue_stats qs;
    queue_get_stats(w->q, &qs);
    pthread_mutex_lock(&w->lock);
    const struct foyer_config *cfg = qs.depth == 0 ? w->pending_cfg : NULL;
    w->switching = cfg != NULL; /* from now on writer_set_config() waits for the result */
    pthread_mutex_unlock(&w->lock);
    if (!cfg)
        return;
    int rc = store_set_config(w->store, cfg);
    if (rc == 0) {
        size_t n_ids;
        const int64_t *ids = store_channel_ids(w->store, &n_ids);
        queue_set_channels(w->q, ids, n_ids);
    } else {
        log_err("cannot switch to the new configuration: %s (%s)", strerror(-rc),
                store_errmsg(w->store));
    }
    pthread_mutex_lock(&w->lock);
    if (rc == 0)
        w->cfg = cfg;
    w->pending_cfg = NULL;
    w->switching = false;
    w->cfg_result = rc;
    w->cfg_done = true;
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

/* Store waiting device events, and health changes every few seconds. */
static void flush_devices(struct writer *w, bool force)
{
    struct device_event ev[64];
    struct device_health hl[64];
    size_t n_ev = 0, n_h = 0;
    bool health_due = force || tu_mono_ms() - w->health_flushed_ms >= WRITER_HEALTH_EVERY_MS;

    do {
        /* Copy out in chunks so the lock is never held across I/O. */
        pthread_mutex_lock(&w->lock);
        n_ev = w->n_events < 64 ? w->n_events : 64;
        memcpy(ev, w->events, n_ev * sizeof(*ev));
        memmove(w->events, w->events + n_ev, (w->n_events - n_ev) * sizeof(*ev));
        w->n_events -= n_ev;
        n_h = 0;
        for (size_t i = 0; health_due && i < w->n_health && n_h < 64; i++) {
            if (w->health_dirty[i]) {
                hl[n_h++] = w->health[i];
                w->health_dirty[i] = false;
            }
        }
        pthread_mutex_unlock(&w->lock);
        if (n_ev == 0 && n_h == 0)
            break;
        int rc = store_put_devices(w->store, ev, n_ev, hl, n_h);
        if (rc < 0) {
            log_warn("could not store %zu device events and %zu health records: %s", n_ev, n_h,
                     strerror(-rc));
            break;
        }
    } while (n_ev == 64 || n_h == 64);
    if (health_due)
        w->health_flushed_ms = tu_mono_ms();
}

void writer_post_event(struct writer *w, const struct device_event *ev)
{
    pthread_mutex_lock(&w->lock);
    if (w->n_events < FOYER_WRITER_EVENTS_MAX)
        w->events[w->n_events++] = *ev;
    else
        w->stats.events_dropped++;
    pthread_mutex_unlock(&w->lock);
}

void writer_post_health(struct writer *w, const struct device_health *h)
{
    pthread_mutex_lock(&w->lock);
    size_t i = 0;
    while (i < w->n_health && strcmp(w->health[i].device, h->device) != 0)
        i++;
    if (i == w->n_health) {
        if (w->n_health == w->cap_health) {
            size_t cap = w->cap_health ? w->cap_health * 2 : 64;
            struct device_health *nh = realloc(w->health, cap * sizeof(*nh));
            bool *nd = nh ? realloc(w->health_dirty, cap * sizeof(*nd)) : NULL;
            if (nh)
                w->health = nh;
            if (!nd) {
                pthread_mutex_unlock(&w->lock);
                return; /* out of memory: health is refreshed on the next report */
            }
            w->health_dirty = nd;
            w->cap_health = cap;
        }
        w->n_health++;
    }
    w->health[i] = *h;
    w->health_dirty[i] = true;
    pthread_mutex_unlock(&w->lock);
}

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    int64_t next_retention = tu_mono_ms();
    /* A retention run under way: its clock, next channel and rows so far. */
    bool retaining = false;
    bool erasing = false; /* the erasure steps after a retention run (run_erasure()) */
    int64_t retain_now_s = 0, retained = 0, next_step_ms = 0;
    size_t retain_cursor = 0;

    for (;;) {
        atomic_store(&w->heartbeat_ms, tu_mono_ms());
        size_t max_n;
        int64_t deadline_ms;
        batch_limits(w->cfg, &max_n, &deadline_ms);
        if (max_n > w->batch_cap)
            max_n = w->batch_cap;

        /* Wait for a first reading (wake up now and then for retention and
         * config switches), then fill until full or the deadline. */
        size_t n = queue_pop(w->q, w->batch, max_n, 200);
        if (n > 0) {
            int64_t end = tu_mono_ms() + deadline_ms;
            while (n < max_n) {
                int64_t left = end - tu_mono_ms();
                if (left <= 0)
                    break;
                size_t got = queue_pop(w->q, w->batch + n, max_n - n, left);
                if (got == 0 && queue_closed_and_empty(w->q))
                    break;
                n += got;
            }
            /* Behind (a full batch and more waiting): take what is already
             * queued, up to the backlog limit.  With 1 000 channels arriving
             * time-major a batch of 5 000 holds 5 readings per channel, and
             * each touches its own leaf pages; ten times more per commit
             * writes those pages ten times less often. */
            while (n >= max_n && n < w->batch_cap) {
                size_t got = queue_pop(w->q, w->batch + n, w->batch_cap - n, 0);
                if (got == 0)
                    break;
                n += got;
            }
            if (!commit_batch(w, n, queue_popped_seq(w->q))) {
                struct queue_stats qs;
                queue_get_stats(w->q, &qs);
                pthread_mutex_lock(&w->lock);
                w->stats.lost_at_exit += n + qs.depth;
                pthread_mutex_unlock(&w->lock);
                log_err("stopping with %zu readings not committed: %s", n + qs.depth,
                        queue_persistent(w->q)
                            ? "they stay in the queue file and are committed at the next start"
                            : "they are lost");
                break;
            }
        } else if (queue_closed_and_empty(w->q)) {
            flush_devices(w, true);
            break;
        }
        flush_devices(w, false);
        maybe_switch_config(w);
        if (!retaining && tu_mono_ms() >= next_retention) {
            retaining = true;
            retain_now_s = tu_now_s();
            retain_cursor = 0;
            retained = 0;
        }
        if (retaining && tu_mono_ms() >= next_step_ms) {
            next_step_ms = tu_mono_ms() + WRITER_RETENTION_PAUSE_MS;
            if (run_retention(w, retain_now_s, &retain_cursor, &retained)) {
                retaining = false;
                erasing = true;
                next_retention = tu_mono_ms() + WRITER_RETENTION_EVERY_MS;
            }
        } else if (erasing && tu_mono_ms() >= next_step_ms) {
            next_step_ms = tu_mono_ms() + WRITER_RETENTION_PAUSE_MS;
            erasing = !run_erasure(w, retain_now_s);
        }
    }
    return NULL;
}

struct writer *writer_start(struct store *s, struct queue *q, const struct foyer_config *cfg)
{
    struct writer *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->store = s;
    w->q = q;
    w->cfg = cfg;
    w->batch_cap = FOYER_BATCH_BACKLOG_MAX;
    w->batch = calloc(w->batch_cap, sizeof(*w->batch));
    w->events = calloc(FOYER_WRITER_EVENTS_MAX, sizeof(*w->events));
    if (!w->batch || !w->events) {
        free(w->batch);
        free(w->events);
        free(w);
        return NULL;
    }
    pthread_mutex_init(&w->lock, NULL);
    if (tu_cond_init_monotonic(&w->cond) < 0) {
        free(w->batch);
        free(w->events);
        free(w);
        return NULL;
    }
    atomic_store(&w->heartbeat_ms, tu_mono_ms());
    size_t n_ids;
    const int64_t *ids = store_channel_ids(s, &n_ids);
    queue_set_channels(q, ids, n_ids);
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        free(w->batch);
        free(w->events);
        free(w);
        return NULL;
    }
    pthread_setname_np(w->thread, "foyer-writer");
    return w;
}

int64_t writer_heartbeat_ms(struct writer *w)
{
    return atomic_load(&w->heartbeat_ms);
}

int writer_set_config(struct writer *w, const struct foyer_config *cfg)
{
    struct timespec deadline = tu_mono_timespec(tu_mono_ms() + WRITER_SWITCH_WAIT_MS);
    pthread_mutex_lock(&w->lock);
    w->pending_cfg = cfg;
    w->cfg_done = false;
    int rc = 0;
    while (!w->cfg_done && (rc != ETIMEDOUT || w->switching))
        rc = w->switching ? pthread_cond_wait(&w->cond, &w->lock)
                          : pthread_cond_timedwait(&w->cond, &w->lock, &deadline);
    if (!w->cfg_done) {
        /* The queue did not drain (the database refuses writes): take the
         * request back; the writer goes on with the running config. */
        w->pending_cfg = NULL;
        pthread_mutex_unlock(&w->lock);
        return -ETIMEDOUT;
    }
    rc = w->cfg_result;
    pthread_mutex_unlock(&w->lock);
    return rc;
}

void writer_stop(struct writer *w, struct writer_stats *ret_final)
{
    if (!w)
        return;
    atomic_store(&w->stopping, true);
    queue_close(w->q);
    pthread_join(w->thread, NULL);
    if (ret_final)
        *ret_final = w->stats;
    store_close(w->store);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
    free(w->batch);
    free(w->events);
    free(w->health);
    free(w->health_dirty);
    free(w);
}

void writer_get_stats(struct writer *w, struct writer_stats *ret)
{
    pthread_mutex_lock(&w->lock);
    *ret = w->stats;
    pthread_mutex_unlock(&w->lock);
}
