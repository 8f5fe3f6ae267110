/*
 * store_uplink.h - the store's uplink outbox, for the uplink thread
 * (daemon/uplink/uplink.c): the uplink_dirty, uplink_outbox and uplink_state
 * tables (daemon/store/store.c describes them), on a connection of the
 * uplink's own.
 *
 * OWNERSHIP
 *   The uplink thread is the database's third owner (after the writer and
 *   the pusher), of exactly these three tables: it alone queues, sends and
 *   deletes uplink items, but for the erasure and withdrawal items (protocol
 *   amendment 3) that store_erase.c and store_consent.c queue in the
 *   transaction of their own record (the store's internal
 *   store_uplink_queue_privacy()), so that an erasure and its item commit
 *   together, and the erased rows' items an erasure deletes.  The other
 *   exception is uplink_dirty, to which the
 *   writer's store_ingest() adds the (channel, hour) keys it changes, in
 *   its own transaction, so that a change and its note commit together
 *   (a crash loses neither) and the writer pays one INSERT OR IGNORE per
 *   changed hourly row.  The uplink's handle is its own connection, like
 *   the pusher's (store_outbox.h says why): its short transactions wait at
 *   most STORE_UPLINK_BUSY_MS for the writer's lock, so stop and reload
 *   stay bounded, and the writer never waits for the network.
 *
 * WHAT IS QUEUED (store_uplink_harvest())
 *   - rollups: a dirty hour is settled once its end is settle_s in the
 *     past; then its hourly figure is queued (only for a building channel
 *     or a dwelling whose consent is set: the hourly figures of other
 *     dwellings never leave the gateway) and its day is marked dirty; a
 *     settled dirty day queues the daily figure and marks its month; a
 *     settled month queues the monthly figure.  A period changed again
 *     later (late data) is dirty again and queued again, with a new seq;
 *   - events: every events row, in id order, past a cursor;
 *   - device health: the devices updated since the last look, at most
 *     every device_every_s;
 *   - alerts: every alert whose state (open, acknowledged, closed) is not
 *     the one last queued, remembered in uplink_alerts: what the alert
 *     engine opens or closes and what foyerctl alerts acknowledges or
 *     closes, without either knowing of the uplink (key "alert:ID": a
 *     later state replaces an earlier one still waiting);
 *   Queuing an item deletes the item of the same key still in the outbox,
 *   sent or not: the newer item carries the whole figure, and the
 *   collector's apply rule (greater seq wins) makes the older one useless.
 *   Beyond FOYER_UPLINK_OUTBOX_MAX items waiting, nothing is queued: the
 *   keys wait in uplink_dirty (one per period) and the events behind their
 *   cursor, so the outbox stays bounded and nothing is lost.
 *
 * One handle, one thread: not thread-safe.  Functions return 0 or -errno
 * (-EBUSY locked, -ENOSPC disk full, -ENOMEM, -EIO) and
 * store_uplink_errmsg() then says why; they never log.  Times are UTC epoch
 * seconds.
 */
#ifndef FOYER_STORE_UPLINK_H
#define FOYER_STORE_UPLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "foyer/config.h"
#include "foyer/store.h"

/* Longest wait for the write lock, per statement (as the pusher's). */
#define STORE_UPLINK_BUSY_MS 10000

struct store_uplink;

/* Open the database at path (existing, with the current schema, created
 * or migrated by the writer's store_open()) for the uplink.  0 and *ret
 * (free with store_uplink_close()), or -errno with *ret_err_msg (when not
 * NULL) saying why, borrowed until this thread's next call. */
int store_uplink_open(const char *path, struct store_uplink **ret, const char **ret_err_msg);

/* Close the handle.  Accepts NULL. */
void store_uplink_close(struct store_uplink *u);

/* Why the handle's last failed call failed; borrowed until its next call. */
const char *store_uplink_errmsg(const struct store_uplink *u);

/* What one store_uplink_harvest() queued. */
struct store_uplink_harvest {
    uint64_t rollups;  /* rollup items queued (hour, day, month) */
    uint64_t withheld; /* hourly figures of dwellings without consent, not queued */
    uint64_t events;   /* event items queued */
    uint64_t devices;  /* device items queued */
    uint64_t alerts;   /* alert items queued (a state changed) */
    uint64_t replaced; /* older items of the same key dropped from the outbox */
    uint64_t backfill; /* channels whose stored history was marked to send */
    int more;          /* 1: more is waiting (call again soon); 0 none; -1 the outbox is full */
};

/* In one transaction: queue what changed (WHAT IS QUEUED above) up to
 * FOYER_UPLINK_HARVEST_MAX keys, events and devices, as of now_s, with
 * the rules of cfg's [uplink] (settle_s, device_every_s) and its
 * dwellings' consent (store_uplink_set_consent(); a dwelling no longer
 * configured has none).  Also
 * marks the stored history of one more channel to send while uplink_state
 * asks for it (the first time [uplink] is configured).  *ret is filled on
 * success only. */
int store_uplink_harvest(struct store_uplink *u, const struct foyer_config *cfg, int64_t now_s,
                         struct store_uplink_harvest *ret);

/* The load-curve consent the harvest and store_uplink_withhold_hours()
 * follow from now on: consent[d] for each of cfg's n_dwellings, copied
 * (the uplink reads it with store_consent_load_curve(), which follows
 * foyerctl consent and the tenancies).  consent NULL, or a later cfg of
 * another number of dwellings: the config's flags.  0 or -ENOMEM (the
 * consent given before is kept). */
int store_uplink_set_consent(struct store_uplink *u, const struct foyer_config *cfg,
                             const bool *consent);

/* A figure that moves whenever a consent is recorded or a tenancy added,
 * changed or ended (cheap: the uplink asks before each harvest, and reads
 * the consents again when it moved). */
int store_uplink_consent_mark(struct store_uplink *u, int64_t *ret_mark);

/* Delete the hourly items still waiting of every dwelling of cfg without
 * consent (its consent was withdrawn since they were queued: they must not
 * leave now).  The uplink calls it at each start and whenever the consent
 * it reads changes, so a withdrawal takes effect on the outbox too.
 * *ret_n (when not NULL) gets how many. */
int store_uplink_withhold_hours(struct store_uplink *u, const struct foyer_config *cfg,
                                int64_t *ret_n);

/* An alert as the protocol describes it (strings borrowed for the call;
 * NULL for the optional ones). */
struct store_uplink_alert {
    int64_t id;
    const char *kind;
    const char *severity;
    const char *building;
    const char *dwelling; /* or NULL */
    const char *channel;  /* or NULL */
    const char *state;    /* "open", "acknowledged", "closed" */
    int64_t opened_s;
    int64_t acknowledged_s; /* 0: none */
    int64_t closed_s;       /* 0: none */
    const char *text_fr;
    const char *text_en;
};

/* Queue an alert item (key "alert:ID", replacing an earlier one still
 * waiting), in a transaction of its own, whatever uplink_alerts says (the
 * harvest queues the alerts table's changes by itself).  *ret_seq (when not NULL) gets its
 * seq. */
int store_uplink_add_alert(struct store_uplink *u, const struct store_uplink_alert *a,
                           int64_t now_s, int64_t *ret_seq);

/* Hand fn the items with after_seq < seq <= upto_seq (upto_seq < 0: no
 * bound), in seq order, at most limit.  body is the item's JSON object
 * without its seq, borrowed for the call.  fn returns 0 to go on, anything
 * else stops the scan and is returned.  No read transaction is left open
 * unless fn stopped it (the next call on the handle closes it). */
int store_uplink_items(struct store_uplink *u, int64_t after_seq, int64_t upto_seq, int limit,
                       int (*fn)(void *ud, int64_t seq, const char *body, size_t len), void *ud);

/* Record that the items from_seq..to_seq were published at now_s. */
int store_uplink_mark_sent(struct store_uplink *u, int64_t from_seq, int64_t to_seq, int64_t now_s);

/* Delete the items from_seq..to_seq (acked or rejected by the collector):
 * *ret_n (when not NULL) gets how many were still there. */
int store_uplink_delete(struct store_uplink *u, int64_t from_seq, int64_t to_seq, int64_t *ret_n);

/* How many items from_seq..to_seq are still waiting. */
int store_uplink_count(struct store_uplink *u, int64_t from_seq, int64_t to_seq, int64_t *ret_n);

/* Make the next seq greater than floor (when it is not already): the
 * uplink calls it at each start with the wall clock in microseconds, so
 * that a database restored from a backup, or a new one under the same
 * gateway_id, never hands out a seq the collector has already seen (it
 * keeps the row of the greater seq: a reused one would be acked and
 * ignored).  *ret_raised (when not NULL) says whether it moved. */
int store_uplink_seq_floor(struct store_uplink *u, int64_t floor, bool *ret_raised);

/* The outbox's depth (items waiting) and the creation time of its oldest
 * item (0 when empty). */
int store_uplink_depth(struct store_uplink *u, int64_t *ret_items, int64_t *ret_oldest_s);

/* The same, on any store handle (foyerctl status reads it on its read-only
 * handle); 0 or -errno, store_errmsg() saying why. */
int store_uplink_read_depth(struct store *s, int64_t *ret_items, int64_t *ret_oldest_s);

#endif
