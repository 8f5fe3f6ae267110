/*
 * coach_sched.c - when summaries are computed: foyerd's main loop calls
 * summary_scheduler_tick() every second; when a local week or month has
 * closed (SUMMARY_GRACE_S after its end, so the last readings of the
 * period are committed), the summaries of every dwelling for it are
 * computed through a read-only connection and handed to the pusher, which
 * stores them and queues them for the endpoints.
 *
 * At start, and every hour, the last closed week and month are computed
 * again for every dwelling: a foyerd that was stopped over a boundary
 * catches up, and history imported later or a gateway that was offline for
 * days changes the figures.  Each computed summary is compared with the one
 * stored for its dwelling and period (summary_revise()): the same figures
 * are not handed over again (a restart does not push twice); different
 * ones are handed over as the next revision, with its own Idempotency-Key,
 * so that the corrected summary reaches the endpoints.  A dwelling without
 * a single reading in a period gets no summary (not one of zeros), and none
 * before the data has closed the period (summary_closed_by_data()).
 *
 * Computing them all again costs what the boundary run costs (bench_summary:
 * about 0.75 s for the week of 1 000 dwellings), twice an hour at most.
 *
 * The pushed summaries are in [foyer] summary_language (default French),
 * with the degree-days of [foyer] dju_method.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "coach_int.h"
#include "foyer/log.h"
#include "foyer/push.h"
#include "foyer/timeutil.h"

/* Readings of the last minutes of a period may still be on their way
 * (meter polls, the writer's batch deadline, MQTT sensors' intervals). */
#define SUMMARY_GRACE_S 900
/* How often the last closed week and month are computed again: history
 * imported after the period closed, a meter connected late, a gateway back
 * online make new summaries or new revisions. */
#define SUMMARY_CATCHUP_S 3600

struct summary_scheduler {
    const struct foyer_config *cfg;
    struct pusher *pusher;
    struct summary_lang *lang;
    /* The tips' other languages (tips[].texts): French and English. */
    struct summary_lang *other[FOYER_SUMMARY_TEXT_LANGS_MAX];
    size_t n_other;
    int64_t week_start; /* start of the week current at the last tick */
    int64_t month_start;
    int64_t next_catchup_s; /* wall clock of the next look for missing ones */
};

static struct summary_lang *load_lang(const struct foyer_config *cfg)
{
    char dir[1024];
    struct conf_errors errs = {0};
    struct summary_lang *l = NULL;
    summary_lang_dir(cfg, dir, sizeof(dir));
    int rc = summary_lang_load(dir, cfg->summary_language, &l, &errs);
    if (rc < 0) {
        for (size_t i = 0; i < errs.n; i++)
            log_err("%s", errs.msgs[i]);
        log_err("summaries: cannot load the \"%s\" language files from %s: %s",
                cfg->summary_language, dir, strerror(-rc));
        conf_errors_free(&errs);
        return NULL;
    }
    return l;
}

/* Replace s's other languages by cfg's; one that does not load is said
 * and left out (its tips are then in the summary's language only). */
static void load_others(struct summary_scheduler *s, const struct foyer_config *cfg)
{
    struct conf_errors errs = {0};
    for (size_t i = 0; i < s->n_other; i++)
        summary_lang_free(s->other[i]);
    s->n_other = summary_lang_load_others(cfg, cfg->summary_language, s->other, &errs);
    for (size_t i = 0; i < errs.n; i++)
        log_warn("summaries: %s; the tips are written without that language", errs.msgs[i]);
    conf_errors_free(&errs);
}

struct summary_scheduler *summary_scheduler_new(const struct foyer_config *cfg,
                                                struct pusher *pusher)
{
    struct summary_scheduler *s = calloc(1, sizeof(*s));
    if (!s) {
        log_err("summaries: out of memory");
        return NULL;
    }
    s->cfg = cfg;
    s->pusher = pusher;
    s->lang = load_lang(cfg);
    if (!s->lang) {
        free(s);
        return NULL;
    }
    load_others(s, cfg);
    return s;
}

void summary_scheduler_free(struct summary_scheduler *s)
{
    if (!s)
        return;
    summary_lang_free(s->lang);
    for (size_t i = 0; i < s->n_other; i++)
        summary_lang_free(s->other[i]);
    free(s);
}

int summary_scheduler_set_config(struct summary_scheduler *s, const struct foyer_config *cfg)
{
    struct summary_lang *l = load_lang(cfg);
    s->cfg = cfg;
    if (!l) {
        log_err("summaries: keeping the language files loaded before");
        return -EINVAL;
    }
    summary_lang_free(s->lang);
    s->lang = l;
    load_others(s, cfg);
    return 0;
}

/* A summary's text without what changes at every computation (its
 * generated_at time, its revision and the key naming it), keys sorted:
 * two computations with the same figures give the same text.  NULL when
 * out of memory. */
static char *figures_text(const json_t *doc)
{
    json_t *c = json_deep_copy(doc);
    if (!c)
        return NULL;
    (void)json_object_del(c, "generated_at");
    (void)json_object_del(c, "revision");
    (void)json_object_del(c, "key");
    char *t = json_dumps(c, SUMMARY_JSON_FLAGS | JSON_SORT_KEYS);
    json_decref(c);
    return t;
}

int summary_revise(json_t *doc, const char *stored_body)
{
    if (!stored_body)
        return 1; /* the first computation: revision 1, as made */
    json_t *old = json_loads(stored_body, 0, NULL);
    if (!old)
        return -EINVAL;
    char *a = figures_text(doc), *b = figures_text(old);
    /* A summary stored before revisions existed is revision 1. */
    json_int_t rev = json_integer_value(json_object_get(old, "revision"));
    if (rev < 1)
        rev = 1;
    json_decref(old);
    int rc;
    if (!a || !b) {
        rc = -ENOMEM;
    } else if (strcmp(a, b) == 0) {
        rc = 0;
    } else if (rev >= SUMMARY_REVISION_MAX) {
        rc = -ERANGE;
    } else {
        /* Revision 1 keeps the key as it was before revisions (receivers
         * and stored outbox rows know it); later ones end in "/rN". */
        const char *base = json_string_value(json_object_get(doc, "key"));
        char key[256];
        int n = base ? snprintf(key, sizeof(key), "%s/r%lld", base, (long long)(rev + 1)) : -1;
        if (n < 0 || (size_t)n >= sizeof(key)) {
            rc = -ENAMETOOLONG;
        } else {
            json_object_set_new(doc, "revision", json_integer(rev + 1));
            json_object_set_new(doc, "key", json_string(key));
            rc = (int)(rev + 1);
        }
    }
    free(a);
    free(b);
    return rc;
}

/* Compute every dwelling's summary of p and hand to the pusher those that
 * are new or whose figures changed (summary_revise()).  at_boundary: p
 * has just closed (the hourly catch-up does not repeat its log lines). */
static void run_period(struct summary_scheduler *s, const struct summary_period *p,
                       bool at_boundary)
{
    const struct foyer_config *cfg = s->cfg;
    struct store *ro;
    const char *msg;
    int64_t t0 = tu_mono_ms();
    int rc = store_open_readonly(cfg->database, cfg, &ro, &msg);
    if (rc < 0) {
        log_err("summaries %s: %s: %s; retried at the next start", p->id, cfg->database,
                msg ? msg : strerror(-rc));
        return;
    }
    struct summary_engine *e = summary_engine_new(cfg, ro, s->lang, cfg->dju_method);
    for (size_t i = 0; e && i < s->n_other; i++)
        (void)summary_engine_add_lang(e, s->other[i]); /* -EEXIST: the same twice, harmless */
    size_t done = 0, failed = 0, empty = 0, revised = 0, same = 0, waiting = 0;
    int64_t now = tu_now_s();
    for (size_t d = 0; e && d < cfg->n_dwellings; d++) {
        const struct dwelling *dw = &cfg->dwellings[d];
        /* The wall clock says the period is over; the data may not (a
         * gateway offline, a clock ahead): the hourly catch-up makes it
         * once the readings have passed its end. */
        bool closed = false;
        rc = summary_closed_by_data(e, (uint32_t)d, p, &closed);
        if (rc == 0 && !closed) {
            waiting++;
            continue;
        }
        json_t *doc = NULL;
        if (rc == 0)
            rc = summary_compute(e, (uint32_t)d, p, now, &doc);
        if (rc == -ENOENT)
            continue; /* nobody lives there during p */
        /* Not a single reading in the period (foyerd just installed, the
         * history not imported yet): a summary of zeros would tell the
         * household it used nothing.  None is made; the hourly catch-up
         * makes it once data has come. */
        if (rc == 0 &&
            json_number_value(json_object_get(json_object_get(doc, "coverage"), "share")) <= 0) {
            empty++;
            json_decref(doc);
            continue;
        }
        int rev = 1;
        if (rc == 0) {
            char *stored = NULL;
            int r = store_read_summary(ro, dw->id, p->id, &stored);
            /* A failed look computes as if none were stored: at worst the
             * same figures are pushed again under revision 1's key, which
             * receivers recognise. */
            rev = summary_revise(doc, r == 0 ? stored : NULL);
            free(stored);
            if (rev == 0) {
                same++;
                json_decref(doc);
                continue; /* the same figures as the stored summary */
            }
            if (rev < 0)
                rc = rev;
        }
        char *body = rc == 0 ? json_dumps(doc, SUMMARY_JSON_FLAGS) : NULL;
        const char *key = rc == 0 ? json_string_value(json_object_get(doc, "key")) : NULL;
        if (body && key)
            rc = push_submit(s->pusher, key, dw->id, p->id, body);
        else if (rc == 0)
            rc = -ENOMEM;
        if (rc < 0) {
            failed++;
            log_err("summary %s %s: %s", dw->id, p->id,
                    rc == -ERANGE ? "too many revisions, the last one is kept" : strerror(-rc));
        } else {
            done++;
            if (rev > 1) {
                revised++;
                log_info("summary %s %s: the figures changed since it was pushed: pushing "
                         "revision %d",
                         dw->id, p->id, rev);
            }
        }
        free(body);
        json_decref(doc);
    }
    if (empty && at_boundary)
        log_info("summaries %s: %zu dwellings have no reading in the period: no summary for "
                 "them yet",
                 p->id, empty);
    if (waiting && at_boundary)
        log_info("summaries %s: the readings of %zu dwellings have not reached the period's end "
                 "yet: their summaries wait for them",
                 p->id, waiting);
    if (!e)
        log_err("summaries %s: %s", p->id, store_errmsg(ro));
    else if (done || failed)
        log_info("summaries %s: %zu dwellings computed (%zu revised) in %lld ms%s", p->id, done,
                 revised, (long long)(tu_mono_ms() - t0),
                 failed ? ", some failed (see above)" : "");
    if (e)
        log_debug("summaries %s: %zu dwellings with the figures already pushed, not pushed again",
                  p->id, same);
    summary_engine_free(e);
    store_close(ro);
}

void summary_scheduler_tick(struct summary_scheduler *s, int64_t now_s)
{
    if (!s)
        return;
    struct summary_period week, month, closed;
    int64_t t = now_s - SUMMARY_GRACE_S;
    summary_period_at(SUMMARY_WEEK, t, &week);
    summary_period_at(SUMMARY_MONTH, t, &month);
    if (now_s >= s->next_catchup_s) {
        /* At start, then every hour: the last closed periods again, for
         * late data (only what changed is pushed again). */
        s->next_catchup_s = now_s + SUMMARY_CATCHUP_S;
        summary_period_prev(&week, &closed);
        run_period(s, &closed, false);
        summary_period_prev(&month, &closed);
        run_period(s, &closed, false);
    } else {
        if (week.start_s != s->week_start) {
            summary_period_prev(&week, &closed);
            run_period(s, &closed, true);
        }
        if (month.start_s != s->month_start) {
            summary_period_prev(&month, &closed);
            run_period(s, &closed, true);
        }
    }
    s->week_start = week.start_s;
    s->month_start = month.start_s;
}
