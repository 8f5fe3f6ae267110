/*
 * store_alerts.h - the store's alerts table (daemon/store/store.c describes
 * it), for the alert engine (daemon/alerts/) and foyerctl alerts.
 *
 * OWNERSHIP
 *   The alert engine, run by foyerd's main thread, is the store's third
 *   documented owner, of exactly the alerts table: it opens, updates and
 *   closes alerts through a handle of its own (store_alerts_open(): its own
 *   connection; it also queues each alert's states in the pusher's outbox
 *   for the endpoints with alerts = yes, store_alerts_queue(): new rows
 *   only, which the pusher alone sends and updates), while it reads the figures through a read-only
 * store handle (store.h).  Acknowledging and closing by hand (foyerctl alerts ack|close, later the
 * API) go through the same functions on a handle of their own; SQLite serialises these short
 * statements with the writer's transactions.  No commit here raises the ingest generation, so the
 *   writer's cached counter state survives them.
 *
 * Kinds and severities are the engine's names (include/foyer/alerts.h); the
 * store keeps them as text.  An alert is identified for de-duplication by
 * (kind, subject): the subject is what it is about (a channel, a meter, a
 * bus, "mqtt").  Times are UTC epoch seconds.
 *
 * One handle, one thread.  Functions return 0 or -errno (-ENOENT no such
 * alert, -EALREADY a closed alert acknowledged or closed again, -EBUSY the
 * database stayed locked, -ENOSPC disk full, -ENOMEM, -EIO otherwise) and
 * store_alerts_errmsg() says why; they never log.
 */
#ifndef FOYER_STORE_ALERTS_H
#define FOYER_STORE_ALERTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "foyer/store.h"

/* Longest wait for the write lock, per statement (as the pusher's). */
#define STORE_ALERTS_BUSY_MS 10000

/* An alert's state (alerts.state). */
enum store_alert_state {
    STORE_ALERT_OPEN = 0,
    STORE_ALERT_ACKNOWLEDGED = 1,
    STORE_ALERT_CLOSED = 2,
};

/* One alert, as stored.  Strings are borrowed (for the call when handed to
 * a callback; the caller's when given to store_alerts_add()). */
struct store_alert {
    int64_t id;
    const char *kind;     /* ALERT_* name of include/foyer/alerts.h */
    const char *subject;  /* what it is about, for de-duplication */
    const char *severity; /* "info", "warning", "critical" */
    const char *building; /* building ID, or NULL */
    const char *dwelling; /* dwelling ID, or NULL */
    const char *channel;  /* channel ID, or NULL (a device, a bus) */
    enum store_alert_state state;
    int64_t opened_s;    /* the first hour the condition held */
    int64_t last_seen_s; /* the last hour it held */
    int64_t acked_s;     /* 0: never acknowledged */
    const char *ack_by;  /* who acknowledged, or NULL */
    const char *ack_note;
    int64_t closed_s;      /* 0: not closed */
    const char *closed_by; /* "auto" (clear for the hold time) or who closed it */
    double value;          /* the figure that opened it (its unit: the rule's) */
    double threshold;      /* the threshold it crossed */
    const char *text_fr;   /* the plain sentence, French */
    const char *text_en;   /* and English */
};

struct store_alerts;

/* Open the database at path (existing, with the current schema: foyerd's
 * store_open() made it) for alerts.  0 and *ret (free with
 * store_alerts_close()), or -errno with *ret_err_msg (when not NULL) saying
 * why, borrowed until this thread's next store_alerts_open(). */
int store_alerts_open(const char *path, struct store_alerts **ret, const char **ret_err_msg);

/* Close the handle.  Accepts NULL. */
void store_alerts_close(struct store_alerts *a);

/* Why the last failed call failed. */
const char *store_alerts_errmsg(const struct store_alerts *a);

/* The latest alert of (kind, subject), any state, into *ret (its strings
 * are not filled: NULL).  0, -ENOENT when there is none, or -errno. */
int store_alerts_latest(struct store_alerts *a, const char *kind, const char *subject,
                        struct store_alert *ret);

/* Store a new open alert (al->id, state, acknowledgement and closing are
 * ignored); *ret_id = its id.  0, -ECANCELED when al->dwelling was erased
 * after al->opened_s (table erasures: the alert was judged from data read
 * before the erasure; nothing stored), or -errno. */
int store_alerts_add(struct store_alerts *a, const struct store_alert *al, int64_t *ret_id);

/* The condition of alert id held again at seen_s: last_seen moves forward
 * (never back).  0 or -errno. */
int store_alerts_seen(struct store_alerts *a, int64_t id, int64_t seen_s);

/* Group the calls that follow (store_alerts_add(), _seen(), _close_one())
 * in one write transaction until store_alerts_commit(), or
 * store_alerts_rollback() after a failure: the alert engine writes a
 * step's alerts with one commit, and holds the lock for one step only.
 * Not around store_alerts_queue(), which has its own.  0 or -errno. */
int store_alerts_begin(struct store_alerts *a);
int store_alerts_commit(struct store_alerts *a);
/* Accepts a handle with no transaction open. */
void store_alerts_rollback(struct store_alerts *a);

/* Acknowledge an open alert: who (required), note (NULL: none), at now_s.
 * Acknowledging an acknowledged alert replaces who, when and note.
 * 0, -ENOENT, -EALREADY (closed), -EMSGSIZE (who empty or longer than
 * FOYER_ALERT_WHO_MAX, note longer than FOYER_ALERT_NOTE_MAX), or -errno. */
int store_alerts_ack(struct store_alerts *a, int64_t id, const char *who, const char *note,
                     int64_t now_s);

/* Close an open or acknowledged alert at closed_s; by is "auto" for the
 * engine, or who closed it by hand.  0, -ENOENT, -EALREADY (closed),
 * -EMSGSIZE (by empty or too long), or -errno. */
int store_alerts_close_one(struct store_alerts *a, int64_t id, const char *by, int64_t closed_s);

/* One alert's state to deliver to the [push] endpoints that take alerts. */
struct store_alert_push {
    int64_t id;           /* the alert: not queued once it is gone (erased) */
    const char *key;      /* Idempotency-Key: once per alert and state */
    const char *dwelling; /* its dwelling, or NULL (building-level) */
    const char *body;     /* the JSON POSTed */
};

/* Queue items in the pusher's outbox, for each of the endpoints (their
 * [push] IDs), in one transaction; an (endpoint, key) queued before is
 * left as it is (delivered or not), so queuing again is harmless, and an
 * item whose alert no longer exists (erased since it was listed) is left
 * out.
 * *ret_queued = the rows added.  The pusher (daemon/push/push.c) sends
 * them as it sends summaries: in order per (endpoint, dwelling), with
 * retries, given up after the endpoint's max_age.  0 or -errno. */
int store_alerts_queue(struct store_alerts *a, const struct store_alert_push *items, size_t n,
                       const char *const *endpoints, size_t n_endpoints, int64_t now_s,
                       uint64_t *ret_queued);

/* Which alerts store_alerts_list() and store_read_alerts() hand over. */
struct store_alert_filter {
    bool all;             /* closed ones too; default open and acknowledged */
    const char *building; /* only this building's, or NULL */
    const char *dwelling; /* only this dwelling's, or NULL */
};

/* The alerts f selects, oldest first, to fn (row borrowed for the call).
 * 0, fn's non-zero value, or -errno. */
int store_alerts_list(struct store_alerts *a, const struct store_alert_filter *f,
                      int (*fn)(void *ctx, const struct store_alert *al), void *ctx);

/* The same on any store handle (read-only ones included: the HTTP API, the
 * ambassador page).  The statement is prepared at each call: these reads
 * are rare (a page, a scrape).  store_errmsg() says why on failure. */
int store_read_alerts(struct store *s, const struct store_alert_filter *f,
                      int (*fn)(void *ctx, const struct store_alert *al), void *ctx);

/* The number of alerts not closed (open or acknowledged) per kind, to fn
 * (kind borrowed for the call), by kind.  Any store handle.  0, fn's
 * non-zero value, or -errno. */
int store_read_alerts_open(struct store *s, int (*fn)(void *ctx, const char *kind, int64_t n),
                           void *ctx);

#endif
