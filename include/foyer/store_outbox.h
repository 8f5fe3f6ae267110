/*
 * store_outbox.h - the store's outbox, for the pusher (daemon/push/push.c): the
 * summaries and outbox tables (daemon/store/store.c describes them) and the
 * push_given_up events, on a connection of the pusher's own.
 *
 * OWNERSHIP
 *   The pusher thread is the database's second owner, of exactly these:
 *   it alone writes summaries and updates outbox rows (the alert engine
 *   only adds rows for its alerts: include/foyer/store_alerts.h), and it appends push_given_up
 *   rows to events (which the writer appends to as well: appends never
 *   clash).  Its handle is its own connection, opened by
 *   store_outbox_open() on the database the writer's store_open() has
 *   created or migrated; SQLite serialises its short transactions with
 *   the writer's (busy_timeout).  Its commits leave the writer's cached
 *   counter state alone: that cache follows the ingest generation, which
 *   only store_ingest() raises (daemon/store/store.c, WRITE PATH).
 *
 *   Why not through the writer thread: the pusher's writes would wait
 *   behind reading batches (50 000 readings in one transaction when the
 *   writer is behind, retried with backoff when the disk is full), the
 *   pusher would need a reply channel for each of them, and stopping would
 *   have to order the two threads (the writer kept alive until the pusher
 *   has recorded its last results).  On its own connection each statement
 *   waits at most STORE_OUTBOX_BUSY_MS for the writer's lock, so the
 *   pusher's stop and reload stay bounded whatever the writer is doing,
 *   and the writer never waits for the network side.
 *
 * One handle, one thread (the pusher's): not thread-safe.  Every statement
 * is prepared once, by store_outbox_open().  Functions return 0 or -errno
 * (-EBUSY the database stayed locked, -ENOSPC disk full, -ENOMEM, -EIO
 * otherwise) and store_outbox_errmsg() then says why; they never log.
 * Times are UTC epoch seconds.
 */
#ifndef FOYER_STORE_OUTBOX_H
#define FOYER_STORE_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

/* Longest wait for the write lock, per statement: a writer's batch commits
 * in well under a second; ten seconds is a database in trouble. */
#define STORE_OUTBOX_BUSY_MS 10000

/* An outbox item's state (outbox.state). */
enum store_outbox_state {
    STORE_OUTBOX_PENDING = 0,   /* to send (again) at next_try */
    STORE_OUTBOX_DELIVERED = 1, /* the endpoint answered 2xx */
    STORE_OUTBOX_GIVEN_UP = 2,  /* refused by the endpoint, or older than its max_age */
};

struct store_outbox;

/* Open the database at path (existing, with the current schema) for the
 * pusher, and prepare its statements.  0 and *ret (free with
 * store_outbox_close()), or -errno with *ret_err_msg (when not NULL) saying
 * why, borrowed until this thread's next store_outbox_open(). */
int store_outbox_open(const char *path, struct store_outbox **ret, const char **ret_err_msg);

/* Close the handle.  Accepts NULL. */
void store_outbox_close(struct store_outbox *o);

/* Why the handle's last failed call failed; borrowed until its next call. */
const char *store_outbox_errmsg(const struct store_outbox *o);

/* A summary to store and queue, one link of the caller's list (the store
 * only reads it, during the call). */
struct store_outbox_summary {
    struct store_outbox_summary *next; /* the next summary, or NULL */
    char *key;                         /* Idempotency-Key: one item per (endpoint, key) */
    char *dwelling;                    /* dwelling ID */
    char *period;                      /* "2026-W47", "2026-11" */
    char *body;                        /* the summary's JSON, as pushed */
};

/* In one transaction, for each summary of list, in order: store it in
 * summaries (replacing the dwelling's row for that period), with its JSON
 * schema version schema and computed = now_s, and queue it once for each
 * of the n_endpoints endpoint IDs (an item already queued under the same
 * endpoint and key is left as it is).  A summary of a dwelling erased
 * after its period began (table erasures: the erasure's cut is after the
 * body's period.start) is neither stored nor queued: it was computed from
 * data read before the erasure.  *ret_queued gets the number of outbox
 * rows created, *ret_refused (when not NULL) the number of summaries so
 * refused.  On failure nothing is stored. */
int store_outbox_add(struct store_outbox *o, const struct store_outbox_summary *list, int schema,
                     const char *const *endpoints, size_t n_endpoints, int64_t now_s,
                     uint64_t *ret_queued, uint64_t *ret_refused);

/* Give up endpoint's pending items created before created_before_s: given
 * up, last_error "expired", body dropped.  *ret_n gets how many. */
int store_outbox_expire(struct store_outbox *o, const char *endpoint, int64_t created_before_s,
                        int64_t *ret_n);

/* Append an events row saying the pusher gave up items of endpoint:
 * device "push:ENDPOINT", kind push_given_up, detail (copied), at now_s. */
int store_outbox_event_given_up(struct store_outbox *o, const char *endpoint, const char *detail,
                                int64_t now_s);

/* A pending outbox item as store_outbox_heads() hands it over; the strings
 * are borrowed for the callback only. */
struct store_outbox_row {
    int64_t id;           /* the row: its key for store_outbox_set() */
    const char *endpoint; /* endpoint ID */
    const char *key;      /* Idempotency-Key */
    const char *body;     /* the JSON to POST */
    int attempts;         /* tries so far */
    int64_t next_try_s;   /* not before (wall clock, as stored) */
};

/* Hand fn each head item, in id order: the oldest pending item of each
 * (endpoint, dwelling), the only one that may be sent (items of a dwelling
 * go in order).  fn must not call back into o.  fn returns 0 to go on; any
 * other value stops the scan and is returned as is.  No read transaction
 * is left open. */
int store_outbox_heads(struct store_outbox *o,
                       int (*fn)(void *ud, const struct store_outbox_row *row), void *ud);

/* Record a try of item id: its attempts, next_try_s and last_error (error
 * copied; NULL for none).  STORE_OUTBOX_PENDING keeps it pending, to try
 * again at next_try_s; DELIVERED and GIVEN_UP close it and drop its body
 * (for DELIVERED, next_try_s is the delivery time: store_outbox_purge()
 * goes by it). */
int store_outbox_set(struct store_outbox *o, int64_t id, enum store_outbox_state state,
                     int attempts, int64_t next_try_s, const char *error);

/* Delete the delivered items delivered before delivered_before_s (the
 * retention of [foyer] outbox_retention_days).  Pending and given-up items
 * stay.  The stored summaries (table summaries) stay too: they, not the
 * outbox, tell the scheduler what was already pushed.  *ret_n gets how
 * many were deleted. */
int store_outbox_purge(struct store_outbox *o, int64_t delivered_before_s, int64_t *ret_n);

#endif
