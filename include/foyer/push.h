/*
 * push.h - the pusher: the persistent outbox of summaries and their HTTP
 * delivery to the [push] endpoints (libcurl multi interface).
 *
 * The pusher thread ("foyer-push") is the only writer of the summaries and
 * outbox tables, and appends push_given_up rows to events, through an
 * outbox handle of its own (include/foyer/store_outbox.h: the store's
 * second owner, and why).  Other threads hand it summaries with
 * push_submit(): it stores the ones it has taken and queues each once per
 * endpoint, in one transaction, then POSTs them:
 *
 *   - JSON body, headers Content-Type: application/json, Idempotency-Key
 *     (stable for dwelling + period + schema version + revision), Authorization:
 *     Bearer <the first line of token_file> when a token file is set;
 *   - TLS verified unless tls_verify = false (allowed with insecure = yes
 *     only, and warned about at every start, like an http:// url), with
 *     ca_file when set;
 *   - 2xx: delivered.  5xx, 408, 429 and network or TLS errors: retried
 *     with exponential backoff (1 s doubling up to 15 min, times a random
 *     factor from 0.5 to 1), or after the Retry-After the server gave (at
 *     most a day).  A redirect (3xx) is never followed (the bearer token
 *     would go to another origin): the items stay pending and are retried
 *     with the same backoff, an error names the Location and the url to
 *     correct (once, until the endpoint delivers again), counted in
 *     redirects.  Any other answer (a 4xx): given up, with an event.
 *     Items older than the endpoint's max_age: given up, with an event per
 *     endpoint, looked for once a minute, when delivered items older than
 *     [foyer] outbox_retention_days are deleted too.  The items of an
 *     endpoint no longer configured stay pending, neither sent nor expired;
 *   - in order per dwelling and endpoint: an item is sent only when every
 *     earlier item of its dwelling for that endpoint is delivered or given
 *     up;
 *   - undelivered items survive a restart (they are rows).
 */
#ifndef FOYER_PUSH_H
#define FOYER_PUSH_H

#include <stdint.h>

#include "foyer/config.h"

/* Transfers in flight at once, over every endpoint. */
#define PUSH_INFLIGHT_MAX 16
/* Summaries handed over and not yet taken by the thread: beyond,
 * push_submit refuses.  One scheduler run hands over one week and one
 * month for every dwelling of a site (a few thousand). */
#define PUSH_SUBMIT_MAX 20000
/* Retry delays: first, and most. */
#define PUSH_BACKOFF_FIRST_S 1
#define PUSH_BACKOFF_MAX_S   900
/* Longest Retry-After obeyed: a day.  Also the longest a row stored with a
 * later next_try waits after a restart (the wall clock went back). */
#define PUSH_RETRY_AFTER_MAX_S 86400

/* Counters since start (logged at stop; for /metrics). */
struct push_stats {
    uint64_t submitted; /* summaries handed over */
    uint64_t queued;    /* outbox rows created (one per summary and endpoint) */
    uint64_t delivered; /* 2xx */
    uint64_t failures;  /* failed attempts that will be retried */
    uint64_t given_up;  /* refused by the endpoint (any answer but 2xx, 3xx, 5xx, 408, 429) */
    uint64_t expired;   /* older than max_age */
    uint64_t refused;   /* push_submit refused: too many waiting */
    uint64_t redirects; /* 3xx answers: a url to correct (the items stay pending) */
};

struct pusher;

/* Read each endpoint's token file (conf_read_secret(): a FIFO is refused,
 * never waited on), open the pusher's outbox handle on cfg->database
 * (already created or migrated by the writer's store_open()) and start its
 * thread.  cfg is copied (endpoints and tokens): it may be freed after.
 * NULL on failure, *ret_err = -errno (logged). */
struct pusher *push_start(const struct foyer_config *cfg, int *ret_err);

/* Hand over a summary (copied): the pusher stores it in summaries and
 * queues it for every endpoint.  Thread-safe.  0, -ENOBUFS when
 * PUSH_SUBMIT_MAX are waiting (counted), -ENOMEM. */
int push_submit(struct pusher *p, const char *key, const char *dwelling, const char *period,
                const char *body);

/* Switch to the endpoints of a new config (SIGHUP), their token files read
 * here, in the caller's thread.  0 or -errno; on failure the running
 * endpoints are kept.  When the thread takes the new endpoints, transfers
 * in flight are aborted, not recorded: their items are sent again at once
 * (same Idempotency-Key) if their endpoint is still configured. */
int push_set_config(struct pusher *p, const struct foyer_config *cfg);

/* The counters so far (atomics: any thread). */
void push_get_stats(struct pusher *p, struct push_stats *ret);

/* Stop the thread: transfers in flight are abandoned (their items stay in
 * the outbox and are sent again after a restart: the receiver recognises
 * them by their Idempotency-Key).  Summaries handed over but not stored
 * yet are stored if the thread had taken them and the database allows it,
 * else dropped: the scheduler computes them again at the next start.
 * The thread ends the round it is in first: no network transfer is waited
 * for, and each of its statements waits at most STORE_OUTBOX_BUSY_MS for
 * the writer's lock (held a batch's commit long).  When ret_final is not
 * NULL it gets the stats once the thread has ended.  Accepts NULL. */
void push_stop(struct pusher *p, struct push_stats *ret_final);

#endif
