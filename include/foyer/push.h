/*
 * push.h - the pusher: the persistent outbox of summaries and their HTTP
 * delivery to the [push] endpoints (libcurl multi interface).
 *
 * The pusher thread ("foyer-push") owns its own SQLite connection and is
 * the only writer of the summaries and outbox tables (daemon/store.c
 * describes them); it also appends push_given_up rows to events.  Other
 * threads hand it summaries with push_submit(): it stores each one and
 * queues it once per endpoint, in one transaction, then POSTs them:
 *
 *   - JSON body, headers Content-Type: application/json, Idempotency-Key
 *     (stable for dwelling + period + schema version), Authorization:
 *     Bearer <token_file's content> when a token file is set;
 *   - TLS verified unless tls_verify = false, with ca_file when set;
 *   - 2xx: delivered.  5xx, 408, 429 and network or TLS errors: retried
 *     with exponential backoff and jitter (1 s doubling up to 15 min), or
 *     after the Retry-After the server gave.  Other answers (4xx): given
 *     up, with an event.  Items older than the endpoint's max_age: given up;
 *   - in order per dwelling and endpoint: an item is sent only when every
 *     earlier item of its dwelling is delivered or given up;
 *   - undelivered items survive a restart (they are rows).
 */
#ifndef FOYER_PUSH_H
#define FOYER_PUSH_H

#include <stdint.h>

#include "foyer/config.h"

/* Transfers in flight at once, over every endpoint. */
#define PUSH_INFLIGHT_MAX 16
/* Summaries handed over and not yet stored: beyond, push_submit refuses.
 * One scheduler run hands over one week and one month for every dwelling
 * of a site (a few thousand). */
#define PUSH_SUBMIT_MAX 20000
/* Retry delays: first, and most. */
#define PUSH_BACKOFF_FIRST_S 1
#define PUSH_BACKOFF_MAX_S   900
/* Longest Retry-After obeyed: a day.  Also the longest a row stored with a
 * later next_try waits after a restart (the wall clock went back). */
#define PUSH_RETRY_AFTER_MAX_S 86400

/* Counters since start, for /metrics. */
struct push_stats {
    uint64_t submitted; /* summaries handed over */
    uint64_t queued;    /* outbox rows created (one per summary and endpoint) */
    uint64_t delivered; /* 2xx */
    uint64_t failures;  /* failed attempts that will be retried */
    uint64_t given_up;  /* refused by the endpoint (4xx) */
    uint64_t expired;   /* older than max_age */
    uint64_t refused;   /* push_submit refused: too many waiting */
};

struct pusher;

/* Open the pusher's connection on cfg->database (already migrated by the
 * writer's store_open) and start its thread.  cfg is copied (endpoints and
 * tokens): it may be freed after.  NULL on failure, *ret_err = -errno
 * (logged). */
struct pusher *push_start(const struct foyer_config *cfg, int *ret_err);

/* Hand over a summary (copied): the pusher stores it in summaries and
 * queues it for every endpoint.  Thread-safe.  0, -ENOBUFS when
 * PUSH_SUBMIT_MAX are waiting (counted), -ENOMEM. */
int push_submit(struct pusher *p, const char *key, const char *dwelling, const char *period,
                const char *body);

/* Switch to the endpoints of a new config (SIGHUP).  0 or -errno; on
 * failure the running endpoints are kept. */
int push_set_config(struct pusher *p, const struct foyer_config *cfg);

void push_get_stats(struct pusher *p, struct push_stats *ret);

/* Stop the thread: transfers in flight are abandoned (their items stay in
 * the outbox and are sent again after a restart: the receiver recognises
 * them by their Idempotency-Key).  When ret_final is not NULL it gets the
 * stats once the thread has ended.  Accepts NULL. */
void push_stop(struct pusher *p, struct push_stats *ret_final);

#endif
