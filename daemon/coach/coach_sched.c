/*
 * coach_sched.c - when summaries are computed: foyerd's main loop calls
 * summary_scheduler_tick() every second; when a local week or month has
 * closed (SUMMARY_GRACE_S after its end, so the last readings of the
 * period are committed), the summaries of every dwelling for it are
 * computed through a read-only connection and handed to the pusher, which
 * stores them and queues them for the endpoints.
 *
 * At start, and every hour, the last closed week and month are computed
 * for the dwellings that have no stored summary for them: a foyerd that was
 * stopped over a boundary catches up, history imported later is summarised,
 * and a restart does not compute twice.  A dwelling without a single
 * reading in a period gets no summary (not one of zeros), and none before
 * the data has closed the period (summary_closed_by_data()).
 *
 * The pushed summaries are in the default language, French.
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
/* The language of pushed summaries. */
#define SUMMARY_PUSH_LANG "fr"
/* How often the last closed week and month are looked at again for
 * dwellings that have no summary yet: history imported after the period
 * closed, a meter connected late. */
#define SUMMARY_CATCHUP_S 3600

struct summary_scheduler {
    const struct foyer_config *cfg;
    struct pusher *pusher;
    struct summary_lang *lang;
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
    int rc = summary_lang_load(dir, SUMMARY_PUSH_LANG, &l, &errs);
    if (rc < 0) {
        for (size_t i = 0; i < errs.n; i++)
            log_err("%s", errs.msgs[i]);
        log_err("summaries: cannot load the \"%s\" language files from %s: %s", SUMMARY_PUSH_LANG,
                dir, strerror(-rc));
        conf_errors_free(&errs);
        return NULL;
    }
    return l;
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
    return s;
}

void summary_scheduler_free(struct summary_scheduler *s)
{
    if (!s)
        return;
    summary_lang_free(s->lang);
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
    return 0;
}

/* Whether dwelling's summary of period is stored (a failed look is "no":
 * computing again is harmless, the pusher's key makes it one delivery). */
static bool stored(struct store *ro, const char *dwelling, const char *period)
{
    return store_read_summary(ro, dwelling, period, NULL) == 0;
}

/* Compute every dwelling's summary of p and hand them to the pusher. */
static void run_period(struct summary_scheduler *s, const struct summary_period *p,
                       bool only_missing)
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
    struct summary_engine *e = summary_engine_new(cfg, ro, s->lang, DJU_METEO_FRANCE);
    size_t done = 0, failed = 0, empty = 0, waiting = 0;
    int64_t now = tu_now_s();
    for (size_t d = 0; e && d < cfg->n_dwellings; d++) {
        const struct dwelling *dw = &cfg->dwellings[d];
        if (only_missing && stored(ro, dw->id, p->id))
            continue;
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
        char *body = rc == 0 ? json_dumps(doc, SUMMARY_JSON_FLAGS) : NULL;
        const char *key = rc == 0 ? json_string_value(json_object_get(doc, "key")) : NULL;
        if (body && key)
            rc = push_submit(s->pusher, key, dw->id, p->id, body);
        else if (rc == 0)
            rc = -ENOMEM;
        if (rc < 0) {
            failed++;
            log_err("summary %s %s: %s", dw->id, p->id, strerror(-rc));
        } else {
            done++;
        }
        free(body);
        json_decref(doc);
    }
    if (empty && !only_missing)
        log_info("summaries %s: %zu dwellings have no reading in the period: no summary for "
                 "them yet",
                 p->id, empty);
    if (waiting && !only_missing)
        log_info("summaries %s: the readings of %zu dwellings have not reached the period's end "
                 "yet: their summaries wait for them",
                 p->id, waiting);
    if (!e)
        log_err("summaries %s: %s", p->id, store_errmsg(ro));
    else if (done || failed)
        log_info("summaries %s: %zu dwellings computed in %lld ms%s", p->id, done,
                 (long long)(tu_mono_ms() - t0), failed ? ", some failed (see above)" : "");
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
        /* At start, then every hour: the dwellings without a summary of
         * the last closed periods (a restart does not compute twice). */
        s->next_catchup_s = now_s + SUMMARY_CATCHUP_S;
        summary_period_prev(&week, &closed);
        run_period(s, &closed, true);
        summary_period_prev(&month, &closed);
        run_period(s, &closed, true);
    } else {
        if (week.start_s != s->week_start) {
            summary_period_prev(&week, &closed);
            run_period(s, &closed, false);
        }
        if (month.start_s != s->month_start) {
            summary_period_prev(&month, &closed);
            run_period(s, &closed, false);
        }
    }
    s->week_start = week.start_s;
    s->month_start = month.start_s;
}
