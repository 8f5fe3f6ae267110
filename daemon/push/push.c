/*
 * push.c - the pusher thread: stores submitted summaries, keeps the outbox
 * and POSTs it to the [push] endpoints with libcurl's multi interface (see
 * push.h for the delivery rules).
 *
 * DESIGN
 *   One thread owns the curl multi handle, its easy handles and its outbox
 *   handle (include/foyer/store_outbox.h): a database connection of its
 *   own, as the store's documented second owner of the summaries and
 *   outbox tables, rather than messages to the writer thread, so that
 *   stopping or reloading the pusher waits for no reading batch and the
 *   writer never waits for the network (store_outbox.h says more).  It
 *   holds no SQL: the store prepares every statement once.
 *
 *   Other threads reach it only through push_submit() and
 *   push_set_config() (a mutex-protected list and pointer, then
 *   curl_multi_wakeup() so the thread wakes at once), push_stop() (an
 *   atomic flag, then the same wakeup) and push_get_stats() (atomic
 *   counters).  The mutex is never held across I/O.
 *
 *   The loop: take what was posted (new endpoints, summaries), store the
 *   summaries (one transaction), give up expired items (once a minute),
 *   start transfers for the first pending item of each (endpoint,
 *   dwelling) whose retry time has come, record each finished transfer in
 *   its row, start more if there is room, and wait in curl_multi_poll() at
 *   most a second.  The row, not memory, is the truth, so a restart
 *   resumes where it stopped.
 *
 *   Clocks: a row's next_try is wall-clock time (what is stored must mean
 *   something after a restart), but a running pusher waits on the monotonic
 *   clock: each pending head row gets an in-memory due time (struct due)
 *   the first time the pusher sees it, from its next_try, and a retry it
 *   schedules itself is due after its delay in monotonic time.  A step of
 *   the gateway's wall clock (NTP at boot, a wrong manual setting: an hour
 *   back, a day ahead) thus neither stalls retries nor fires them early.
 */
#include "foyer/push.h"
#include "foyer/limits.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "foyer/log.h"
#include "foyer/store_outbox.h"
#include "foyer/timeutil.h"

#define PUSH_STR_(x) #x
#define PUSH_STR(x)  PUSH_STR_(x)

/* The JSON schema version of the summaries handed over (the summary
 * engine's SUMMARY_SCHEMA_VERSION, docs/summary.md), stored beside each. */
#define PUSH_SUMMARY_SCHEMA 1

struct endpoint {
    char id[FOYER_ID_MAX + 1];
    char *url;
    char *auth; /* "Authorization: Bearer ..." or NULL */
    char *ca_file;
    bool tls_verify;
    long timeout_s;
    int64_t max_age_s;
    char *conf_file; /* where its section is, for the redirect error */
    int conf_line;
    bool failing;    /* logged as failing; log again when it recovers */
    bool redirected; /* logged as redirected; likewise */
};

struct endpoints {
    struct endpoint *v;
    const char **ids; /* v[i].id, for store_outbox_add() */
    size_t n;
    int64_t keep_delivered_s; /* [foyer] outbox_retention_days, in seconds */
};

struct xfer {
    CURL *h;
    struct curl_slist *hdrs;
    int64_t id;
    int attempts;
    size_t ep; /* index into the endpoints at start */
    char key[256];
    char err[CURL_ERROR_SIZE];
};

/* When a pending head row may be tried, on the monotonic clock. */
struct due {
    int64_t id;     /* outbox row */
    int64_t due_ms; /* tu_mono_ms() time */
};

struct pusher {
    pthread_t thread;
    struct store_outbox *ob; /* the thread's connection (store_outbox.h) */
    CURLM *multi;
    struct endpoints eps; /* the thread's */
    struct xfer *inflight[PUSH_INFLIGHT_MAX];
    size_t n_inflight;
    uint64_t rng;
    struct due *sched; /* the pending head rows seen by the last scan, by id */
    size_t n_sched, cap_sched;

    pthread_mutex_t lock;                  /* guards the three below */
    struct store_outbox_summary *sub_head; /* newest first */
    size_t n_sub;
    struct endpoints *new_eps; /* posted by push_set_config */
    atomic_bool stop;

    _Atomic uint64_t st_submitted, st_queued, st_delivered, st_failures, st_given_up, st_expired,
        st_refused, st_redirects;
};

/* ---- endpoints --------------------------------------------------------- */

static void endpoints_free(struct endpoints *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->n; i++) {
        free(e->v[i].url);
        free(e->v[i].auth);
        free(e->v[i].ca_file);
        free(e->v[i].conf_file);
    }
    free(e->v);
    free(e->ids);
    e->v = NULL;
    e->ids = NULL;
    e->n = 0;
}

static const char *ep_name(const struct endpoint *e)
{
    return e->id[0] ? e->id : "(default)";
}

/* "Authorization: Bearer TOKEN" from the first line of path, read by
 * conf_read_secret() (a FIFO is refused, never waited on: a reload cannot
 * hang on it).  The caller frees *ret. */
static int read_token(const char *path, char **ret)
{
    static const char prefix[] = "Authorization: Bearer ";
    char buf[FOYER_TOKEN_MAX + 1];
    int rc = conf_read_secret(path, buf, sizeof(buf));
    if (rc < 0)
        return rc;
    size_t len = sizeof(prefix) + strlen(buf);
    char *h = malloc(len);
    if (h)
        (void)snprintf(h, len, "%s%s", prefix, buf);
    explicit_bzero(buf, sizeof(buf));
    if (!h)
        return -ENOMEM;
    *ret = h;
    return 0;
}

/* What went wrong with a token file, for the log. */
static const char *token_strerror(int err)
{
    switch (err) {
    case -EMSGSIZE:
        return "longer than " PUSH_STR(FOYER_TOKEN_MAX) " bytes";
    case -EINVAL:
        return "not a regular file (a FIFO, socket or device)";
    case -ENODATA:
        return "its first line is empty";
    default:
        return strerror(-err);
    }
}

static int endpoints_copy(const struct foyer_config *cfg, struct endpoints *ret)
{
    struct endpoints e = {calloc(cfg->n_push + 1, sizeof(*e.v)),
                          calloc(cfg->n_push + 1, sizeof(*e.ids)), cfg->n_push,
                          (int64_t)cfg->outbox_retention_days * 86400};
    if (!e.v || !e.ids) {
        endpoints_free(&e);
        return -ENOMEM;
    }
    for (size_t i = 0; i < cfg->n_push; i++) {
        const struct push_endpoint *pe = &cfg->push[i];
        struct endpoint *x = &e.v[i];
        memcpy(x->id, pe->id, sizeof(x->id));
        e.ids[i] = x->id;
        x->url = strdup(pe->url);
        x->ca_file = pe->ca_file ? strdup(pe->ca_file) : NULL;
        x->tls_verify = pe->tls_verify;
        x->timeout_s = pe->timeout_s;
        x->max_age_s = pe->max_age_s;
        x->conf_file = strdup(pe->pos.file ? pe->pos.file : "?");
        x->conf_line = pe->pos.line;
        if (!x->url || (pe->ca_file && !x->ca_file) || !x->conf_file) {
            endpoints_free(&e);
            return -ENOMEM;
        }
        /* Allowed by insecure = yes only (conf_build.c); said at every
         * start and reload, so it is not forgotten. */
        if (strncmp(x->url, "http://", 7) == 0)
            log_warn("%s:%d: push %s: insecure = yes: the bearer token and the households' data "
                     "go in clear to %s",
                     x->conf_file, x->conf_line, ep_name(x), x->url);
        if (!x->tls_verify)
            log_warn("%s:%d: push %s: insecure = yes: tls_verify = false, anyone on the path "
                     "can receive the bearer token and the households' data",
                     x->conf_file, x->conf_line, ep_name(x));
        if (pe->token_file) {
            int rc = read_token(pe->token_file, &x->auth);
            if (rc < 0) {
                log_err("%s:%d: push %s: cannot read the token file %s: %s", pe->pos.file,
                        pe->pos.line, pe->id[0] ? pe->id : "(default)", pe->token_file,
                        token_strerror(rc));
                endpoints_free(&e);
                return rc;
            }
        }
    }
    *ret = e;
    return 0;
}

static int find_endpoint(const struct endpoints *e, const char *id)
{
    for (size_t i = 0; i < e->n; i++)
        if (strcmp(e->v[i].id, id) == 0)
            return (int)i;
    return -1;
}

/* ---- outbox (through store_outbox.h) ----------------------------------- */

/* Store the submitted summaries and queue them for every endpoint, in one
 * transaction.  On failure the caller keeps the list for the next round,
 * or, when last (the thread stops), leaves them to the next start. */
static int store_submissions(struct pusher *p, const struct store_outbox_summary *list, bool last)
{
    uint64_t queued = 0, refused = 0;
    int rc = store_outbox_add(p->ob, list, PUSH_SUMMARY_SCHEMA, p->eps.ids, p->eps.n, tu_now_s(),
                              &queued, &refused);
    if (rc < 0)
        log_err("push: cannot store summaries: %s; %s", store_outbox_errmsg(p->ob),
                last ? "computed again at the next start" : "retrying in 1 s");
    else
        p->st_queued += queued;
    /* Computed from figures read before an erasure of their dwelling
     * (foyerctl erase meanwhile): storing them would bring them back. */
    if (rc == 0 && refused > 0)
        log_warn("push: %llu summaries not stored nor pushed: their dwelling was erased after "
                 "their period began (computed from data read before the erasure)",
                 (unsigned long long)refused);
    return rc;
}

static void give_up_event(struct pusher *p, const char *endpoint, const char *detail)
{
    if (store_outbox_event_given_up(p->ob, endpoint, detail, tu_now_s()) < 0)
        log_err("push %s: cannot record the event \"%s\": %s", endpoint, detail,
                store_outbox_errmsg(p->ob));
}

/* Give up the pending items older than their endpoint's max_age, and
 * delete the delivered ones past the retention. */
static void expire(struct pusher *p)
{
    int64_t now = tu_now_s();
    int64_t purged = 0;
    if (store_outbox_purge(p->ob, now - p->eps.keep_delivered_s, &purged) < 0)
        log_err("push: cannot delete the delivered summaries older than outbox_retention_days: "
                "%s; retrying in 60 s",
                store_outbox_errmsg(p->ob));
    else if (purged > 0)
        log_debug("push: %lld delivered outbox items past outbox_retention_days deleted",
                  (long long)purged);
    for (size_t i = 0; i < p->eps.n; i++) {
        const struct endpoint *e = &p->eps.v[i];
        int64_t n = 0;
        if (store_outbox_expire(p->ob, e->id, now - e->max_age_s, &n) < 0) {
            log_err("push %s: cannot give up expired summaries: %s; retrying in 60 s", ep_name(e),
                    store_outbox_errmsg(p->ob));
            continue;
        }
        if (n > 0) {
            char detail[96];
            p->st_expired += (uint64_t)n;
            log_warn("push %s: %lld summaries undelivered for longer than max_age (%lld s): "
                     "given up",
                     ep_name(e), (long long)n, (long long)e->max_age_s);
            (void)snprintf(detail, sizeof(detail), "%lld summaries expired", (long long)n);
            give_up_event(p, e->id, detail);
        }
    }
}

/* ---- transfers --------------------------------------------------------- */

static size_t discard(char *ptr, size_t size, size_t nmemb, void *ud)
{
    (void)ptr;
    (void)ud;
    return size * nmemb;
}

static bool is_inflight(const struct pusher *p, int64_t id)
{
    for (size_t i = 0; i < p->n_inflight; i++)
        if (p->inflight[i]->id == id)
            return true;
    return false;
}

static int start_transfer(struct pusher *p, size_t ep, int64_t id, const char *key,
                          const char *body, int attempts)
{
    const struct endpoint *e = &p->eps.v[ep];
    struct xfer *x = calloc(1, sizeof(*x));
    char idem[300];
    if (!x)
        return -ENOMEM;
    x->h = curl_easy_init();
    if (!x->h) {
        free(x);
        return -ENOMEM;
    }
    x->id = id;
    x->ep = ep;
    x->attempts = attempts;
    (void)snprintf(x->key, sizeof(x->key), "%s", key);
    (void)snprintf(idem, sizeof(idem), "Idempotency-Key: %s", key);
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    if (h)
        x->hdrs = h;
    if (h && !(h = curl_slist_append(x->hdrs, idem)))
        h = NULL;
    if (h && e->auth && !(h = curl_slist_append(x->hdrs, e->auth)))
        h = NULL;
    /* No "Expect: 100-continue" round trip. */
    if (h && !(h = curl_slist_append(x->hdrs, "Expect:")))
        h = NULL;
    if (!x->h || !h) {
        curl_slist_free_all(x->hdrs);
        curl_easy_cleanup(x->h);
        free(x);
        return -ENOMEM;
    }
    curl_easy_setopt(x->h, CURLOPT_URL, e->url);
    curl_easy_setopt(x->h, CURLOPT_HTTPHEADER, x->hdrs);
    curl_easy_setopt(x->h, CURLOPT_COPYPOSTFIELDS, body);
    curl_easy_setopt(x->h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(x->h, CURLOPT_TIMEOUT, e->timeout_s);
    curl_easy_setopt(x->h, CURLOPT_CONNECTTIMEOUT, e->timeout_s);
    curl_easy_setopt(x->h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(x->h, CURLOPT_ERRORBUFFER, x->err);
    curl_easy_setopt(x->h, CURLOPT_PRIVATE, x);
    curl_easy_setopt(x->h, CURLOPT_USERAGENT, "foyerd/" FOYER_VERSION);
    curl_easy_setopt(x->h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(x->h, CURLOPT_SSL_VERIFYPEER, e->tls_verify ? 1L : 0L);
    curl_easy_setopt(x->h, CURLOPT_SSL_VERIFYHOST, e->tls_verify ? 2L : 0L);
    if (e->ca_file)
        curl_easy_setopt(x->h, CURLOPT_CAINFO, e->ca_file);
    if (curl_multi_add_handle(p->multi, x->h) != CURLM_OK) {
        curl_slist_free_all(x->hdrs);
        curl_easy_cleanup(x->h);
        free(x);
        return -EIO;
    }
    p->inflight[p->n_inflight++] = x;
    return 0;
}

static void free_transfer(struct pusher *p, struct xfer *x)
{
    for (size_t i = 0; i < p->n_inflight; i++) {
        if (p->inflight[i] == x) {
            p->inflight[i] = p->inflight[--p->n_inflight];
            break;
        }
    }
    curl_multi_remove_handle(p->multi, x->h);
    curl_easy_cleanup(x->h);
    curl_slist_free_all(x->hdrs);
    free(x);
}

/* The position of row id in the schedule (sorted by id), or where it would
 * be inserted. */
static size_t sched_lower_bound(const struct pusher *p, int64_t id)
{
    size_t lo = 0, hi = p->n_sched;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->sched[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The due time of row id in the schedule, or -1. */
static int64_t sched_find(const struct pusher *p, int64_t id)
{
    size_t lo = sched_lower_bound(p, id);
    return lo < p->n_sched && p->sched[lo].id == id ? p->sched[lo].due_ms : -1;
}

/* Set row id's due time (a retry this process scheduled); kept sorted. */
static void sched_set(struct pusher *p, int64_t id, int64_t due_ms)
{
    size_t lo = sched_lower_bound(p, id);
    if (lo < p->n_sched && p->sched[lo].id == id) {
        p->sched[lo].due_ms = due_ms;
        return;
    }
    if (p->n_sched == p->cap_sched) {
        size_t cap = p->cap_sched ? 2 * p->cap_sched : 64;
        struct due *v = realloc(p->sched, cap * sizeof(*v));
        if (!v)
            return; /* the next scan takes it from its next_try, in wall time */
        p->sched = v;
        p->cap_sched = cap;
    }
    memmove(&p->sched[lo + 1], &p->sched[lo], (p->n_sched - lo) * sizeof(*p->sched));
    p->sched[lo] = (struct due){id, due_ms};
    p->n_sched++;
}

/* Scan the pending head rows (the first pending item of each (endpoint,
 * dwelling)), rebuild the schedule from them and start the transfers that
 * are due.  A row seen for the first time is due after what its stored
 * next_try says from now, at most PUSH_RETRY_AFTER_MAX_S; from then on its
 * due time is monotonic. */
/* One scan of the head rows (start_due()). */
struct scan {
    struct pusher *p;
    struct due *next; /* the new schedule, by id */
    size_t n_next, cap_next;
    int64_t now_ms, now_s;
    bool can_start; /* false once a transfer could not start (out of memory) */
};

static int scan_row(void *ud, const struct store_outbox_row *row)
{
    struct scan *sc = ud;
    struct pusher *p = sc->p;
    int64_t due = sched_find(p, row->id);
    if (due < 0) {
        int64_t wait_s = row->next_try_s - sc->now_s;
        if (wait_s > PUSH_RETRY_AFTER_MAX_S)
            wait_s = PUSH_RETRY_AFTER_MAX_S; /* the wall clock went back */
        due = sc->now_ms + (wait_s > 0 ? wait_s * 1000 : 0);
    }
    if (sc->n_next == sc->cap_next) {
        struct due *v = realloc(sc->next, 2 * sc->cap_next * sizeof(*v));
        if (!v)
            return 1; /* out of memory: the schedule holds the rows seen so far */
        sc->next = v;
        sc->cap_next *= 2;
    }
    sc->next[sc->n_next++] = (struct due){row->id, due};
    if (!sc->can_start || due > sc->now_ms || p->n_inflight >= PUSH_INFLIGHT_MAX ||
        is_inflight(p, row->id))
        return 0;
    int ep = find_endpoint(&p->eps, row->endpoint);
    /* An endpoint no longer configured: its items stay pending, neither sent
     * nor expired (expire() goes by the configured endpoints), until a
     * config names it again. */
    if (ep < 0)
        return 0;
    /* Out of memory: no more transfers this round, the scan goes on. */
    sc->can_start = start_transfer(p, (size_t)ep, row->id, row->key, row->body, row->attempts) == 0;
    return 0;
}

/* Scan the pending head rows (the first pending item of each (endpoint,
 * dwelling)), rebuild the schedule from them and start the transfers that
 * are due.  A row seen for the first time is due after what its stored
 * next_try says from now, at most PUSH_RETRY_AFTER_MAX_S; from then on its
 * due time is monotonic. */
static void start_due(struct pusher *p)
{
    struct scan sc = {.p = p,
                      .cap_next = p->n_sched + 16,
                      .now_ms = tu_mono_ms(),
                      .now_s = tu_now_s(),
                      .can_start = true};

    if (p->eps.n == 0)
        return;
    sc.next = malloc(sc.cap_next * sizeof(*sc.next));
    if (!sc.next)
        return; /* out of memory: the old schedule stays, nothing starts */
    int rc = store_outbox_heads(p->ob, scan_row, &sc);
    if (rc < 0)
        log_err("push: cannot read the outbox: %s", store_outbox_errmsg(p->ob));
    free(p->sched);
    p->sched = sc.next;
    p->n_sched = sc.n_next;
    p->cap_sched = sc.cap_next;
}

static double jitter(struct pusher *p)
{
    p->rng ^= p->rng << 13;
    p->rng ^= p->rng >> 7;
    p->rng ^= p->rng << 17;
    return 0.5 + 0.5 * (double)(p->rng >> 11) / 9007199254740992.0;
}

static void set_row(struct pusher *p, int64_t id, enum store_outbox_state state, int attempts,
                    int64_t next_try, const char *err)
{
    /* On failure the row stays as it was: the item is sent again (same
     * key). */
    if (store_outbox_set(p->ob, id, state, attempts, next_try, err) < 0)
        log_err("push: cannot update outbox row %lld: %s", (long long)id,
                store_outbox_errmsg(p->ob));
}

static void finish_transfer(struct pusher *p, struct xfer *x, CURLcode res)
{
    struct endpoint *e = &p->eps.v[x->ep];
    long status = 0;
    curl_off_t retry_after = 0;
    char why[CURL_ERROR_SIZE + 64];
    int attempts = x->attempts + 1;
    int64_t now = tu_now_s();

    curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
    if (res == CURLE_OK && status >= 200 && status < 300) {
        set_row(p, x->id, STORE_OUTBOX_DELIVERED, attempts, now, NULL);
        p->st_delivered++;
        if (e->failing || e->redirected) {
            log_info("push %s: delivering again", ep_name(e));
            e->failing = false;
            e->redirected = false;
        }
        return;
    }
    bool retry, redirect = false;
    if (res == CURLE_OK && status >= 300 && status < 400) {
        /* Never followed (the bearer token would go to whoever the Location
         * names), nor a reason to give up: the endpoint moved (http to
         * https, a new host) and the config must follow.  The summaries
         * stay pending and are retried with the usual backoff, so they
         * leave as soon as url is corrected and foyerd reloaded. */
        char *loc = NULL;
        curl_easy_getinfo(x->h, CURLINFO_REDIRECT_URL, &loc);
        p->st_redirects++;
        if (!e->redirected) {
            log_err("push %s: HTTP %ld redirect to %s: not followed; the summaries stay pending "
                    "until the url of [push%s%s] (%s:%d) is set to the endpoint's address and "
                    "foyerd reloaded",
                    ep_name(e), status, loc ? loc : "(no Location)", e->id[0] ? " " : "", e->id,
                    e->conf_file, e->conf_line);
            e->redirected = true;
        }
        (void)snprintf(why, sizeof(why), "HTTP %ld redirect to %s", status,
                       loc ? loc : "(no Location)");
        retry = redirect = true;
    } else if (res != CURLE_OK) {
        (void)snprintf(why, sizeof(why), "%s", x->err[0] ? x->err : curl_easy_strerror(res));
        retry = true;
    } else {
        (void)snprintf(why, sizeof(why), "HTTP %ld", status);
        retry = status >= 500 || status == 408 || status == 429;
    }
    if (!retry) {
        char detail[sizeof(x->key) + sizeof(why) + 16];
        set_row(p, x->id, STORE_OUTBOX_GIVEN_UP, attempts, now, why);
        p->st_given_up++;
        (void)snprintf(detail, sizeof(detail), "%s refused: %s", x->key, why);
        give_up_event(p, e->id, detail);
        log_warn("push %s: %s: %s; given up (the endpoint refuses it)", ep_name(e), x->key, why);
        return;
    }
    /* The backoff of the row's attempts (stored: a restart keeps it). */
    int64_t backoff_s = PUSH_BACKOFF_FIRST_S;
    for (int i = 1; i < attempts && backoff_s < PUSH_BACKOFF_MAX_S; i++)
        backoff_s = tu_backoff_next(backoff_s, PUSH_BACKOFF_MAX_S);
    double delay = (double)backoff_s * jitter(p);
    if (res == CURLE_OK)
        curl_easy_getinfo(x->h, CURLINFO_RETRY_AFTER, &retry_after);
    if (retry_after > 0)
        delay =
            (double)(retry_after < PUSH_RETRY_AFTER_MAX_S ? retry_after : PUSH_RETRY_AFTER_MAX_S);
    int64_t wait_s = (int64_t)(delay + 0.999);
    set_row(p, x->id, STORE_OUTBOX_PENDING, attempts, now + wait_s, why);
    sched_set(p, x->id, tu_mono_ms() + wait_s * 1000);
    if (redirect)
        return; /* counted and logged above */
    p->st_failures++;
    if (!e->failing) {
        log_warn("push %s: %s: %s; retrying in %lld s (logged again when it delivers)", ep_name(e),
                 x->key, why, (long long)wait_s);
        e->failing = true;
    } else {
        log_debug("push %s: %s: %s; retrying in %lld s", ep_name(e), x->key, why,
                  (long long)wait_s);
    }
}

/* ---- the thread -------------------------------------------------------- */

static void free_submissions(struct store_outbox_summary *s)
{
    while (s) {
        struct store_outbox_summary *n = s->next;
        free(s->key);
        free(s->dwelling);
        free(s->period);
        free(s->body);
        free(s);
        s = n;
    }
}

static void *push_main(void *arg)
{
    struct pusher *p = arg;
    struct store_outbox_summary *pending = NULL;
    int64_t expire_ms = 0; /* next expiry pass (monotonic) */

    while (!atomic_load(&p->stop)) {
        /* Take what other threads posted; never hold the lock across I/O. */
        pthread_mutex_lock(&p->lock);
        struct store_outbox_summary *got = p->sub_head;
        struct endpoints *ne = p->new_eps;
        p->sub_head = NULL;
        p->n_sub = 0;
        p->new_eps = NULL;
        pthread_mutex_unlock(&p->lock);
        if (ne) {
            /* Transfers in flight are aborted (each knows its endpoint by
             * its index in the table about to be freed) and nothing is
             * recorded in their rows: still pending, their attempts
             * unchanged, they are sent again at once, under the same
             * Idempotency-Key, when their endpoint is still configured. */
            for (size_t i = p->n_inflight; i > 0; i--)
                free_transfer(p, p->inflight[i - 1]);
            endpoints_free(&p->eps);
            p->eps = *ne;
            free(ne);
        }
        /* got is newest first: reverse it and append it to pending, which
         * is kept oldest first (a failed store keeps them for the next
         * round). */
        struct store_outbox_summary *rev = NULL;
        while (got) {
            struct store_outbox_summary *nx = got->next;
            got->next = rev;
            rev = got;
            got = nx;
        }
        if (rev) {
            if (pending) {
                struct store_outbox_summary *e = pending;
                while (e->next)
                    e = e->next;
                e->next = rev;
            } else {
                pending = rev;
            }
        }
        if (pending && store_submissions(p, pending, false) == 0) {
            free_submissions(pending);
            pending = NULL;
        }
        if (tu_mono_ms() >= expire_ms) {
            expire(p);
            expire_ms = tu_mono_ms() + 60 * 1000;
        }
        start_due(p);

        int running = 0;
        curl_multi_perform(p->multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(p->multi, &left)) != NULL) {
            if (m->msg != CURLMSG_DONE)
                continue;
            struct xfer *x = NULL;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
            CURLcode res = m->data.result;
            finish_transfer(p, x, res);
            free_transfer(p, x);
        }
        if (p->n_inflight < PUSH_INFLIGHT_MAX)
            start_due(p);
        /* Wake for network activity, a submission, or the next second. */
        curl_multi_poll(p->multi, NULL, 0, 1000, NULL);
    }
    for (size_t i = p->n_inflight; i > 0; i--)
        free_transfer(p, p->inflight[i - 1]);
    /* What was handed over since the last round (the scheduler submitting
     * just before the stop) is stored too: a summary computed is a summary
     * kept, and the next start finds it stored, not to compute again. */
    pthread_mutex_lock(&p->lock);
    struct store_outbox_summary *got = p->sub_head;
    p->sub_head = NULL;
    p->n_sub = 0;
    pthread_mutex_unlock(&p->lock);
    struct store_outbox_summary *rev = NULL; /* got is newest first */
    while (got) {
        struct store_outbox_summary *nx = got->next;
        got->next = rev;
        rev = got;
        got = nx;
    }
    struct store_outbox_summary **tail = &pending;
    while (*tail)
        tail = &(*tail)->next;
    *tail = rev;
    if (pending) {
        /* One more try.  Summaries it cannot store (a full disk) are
         * computed again by the scheduler at the next start: their period
         * has no stored summary. */
        (void)store_submissions(p, pending, true);
        free_submissions(pending);
    }
    return NULL;
}

struct pusher *push_start(const struct foyer_config *cfg, int *ret_err)
{
    struct pusher *p = calloc(1, sizeof(*p));
    int rc;
    if (!p) {
        *ret_err = -ENOMEM;
        return NULL;
    }
    pthread_mutex_init(&p->lock, NULL);
    p->rng = (uint64_t)tu_mono_ms() * 2654435761u ^ (uint64_t)getpid();
    if (p->rng == 0)
        p->rng = 1;
    rc = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -EIO;
    if (rc < 0) {
        log_err("push: cannot initialise libcurl");
        goto out_free;
    }
    rc = endpoints_copy(cfg, &p->eps);
    if (rc < 0)
        goto out_curl;
    const char *msg;
    rc = store_outbox_open(cfg->database, &p->ob, &msg);
    if (rc < 0) {
        log_err("push: %s: cannot open: %s", cfg->database, msg);
        goto out_eps;
    }
    p->multi = curl_multi_init();
    if (!p->multi) {
        rc = -ENOMEM;
        goto out_db;
    }
    rc = -pthread_create(&p->thread, NULL, push_main, p);
    if (rc < 0) {
        log_err("push: cannot start the thread: %s", strerror(-rc));
        goto out_multi;
    }
    (void)pthread_setname_np(p->thread, "foyer-push");
    return p;

out_multi:
    curl_multi_cleanup(p->multi);
out_db:
    store_outbox_close(p->ob);
out_eps:
    endpoints_free(&p->eps);
out_curl:
    curl_global_cleanup();
out_free:
    pthread_mutex_destroy(&p->lock);
    free(p);
    *ret_err = rc;
    return NULL;
}

int push_submit(struct pusher *p, const char *key, const char *dwelling, const char *period,
                const char *body)
{
    struct store_outbox_summary *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->key = strdup(key);
    s->dwelling = strdup(dwelling);
    s->period = strdup(period);
    s->body = strdup(body);
    if (!s->key || !s->dwelling || !s->period || !s->body) {
        free_submissions(s);
        return -ENOMEM;
    }
    pthread_mutex_lock(&p->lock);
    if (p->n_sub >= PUSH_SUBMIT_MAX) {
        pthread_mutex_unlock(&p->lock);
        free_submissions(s);
        p->st_refused++;
        return -ENOBUFS;
    }
    /* Newest first; the thread reverses the list to store in order. */
    s->next = p->sub_head;
    p->sub_head = s;
    p->n_sub++;
    pthread_mutex_unlock(&p->lock);
    p->st_submitted++;
    curl_multi_wakeup(p->multi);
    return 0;
}

int push_set_config(struct pusher *p, const struct foyer_config *cfg)
{
    struct endpoints *e = calloc(1, sizeof(*e));
    if (!e)
        return -ENOMEM;
    int rc = endpoints_copy(cfg, e);
    if (rc < 0) {
        free(e);
        return rc;
    }
    pthread_mutex_lock(&p->lock);
    struct endpoints *old = p->new_eps;
    p->new_eps = e;
    pthread_mutex_unlock(&p->lock);
    if (old) {
        endpoints_free(old);
        free(old);
    }
    curl_multi_wakeup(p->multi);
    return 0;
}

void push_get_stats(struct pusher *p, struct push_stats *ret)
{
    *ret = (struct push_stats){
        .submitted = p->st_submitted,
        .queued = p->st_queued,
        .delivered = p->st_delivered,
        .failures = p->st_failures,
        .given_up = p->st_given_up,
        .expired = p->st_expired,
        .refused = p->st_refused,
        .redirects = p->st_redirects,
    };
}

void push_stop(struct pusher *p, struct push_stats *ret_final)
{
    if (!p)
        return;
    atomic_store(&p->stop, true);
    curl_multi_wakeup(p->multi);
    pthread_join(p->thread, NULL);
    if (ret_final)
        push_get_stats(p, ret_final);
    free_submissions(p->sub_head);
    if (p->new_eps) {
        endpoints_free(p->new_eps);
        free(p->new_eps);
    }
    curl_multi_cleanup(p->multi);
    store_outbox_close(p->ob);
    endpoints_free(&p->eps);
    curl_global_cleanup();
    pthread_mutex_destroy(&p->lock);
    free(p->sched);
    free(p);
}
