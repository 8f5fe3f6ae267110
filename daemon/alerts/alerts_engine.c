/*
 * alerts_engine.c - the alert engine: when rules run (at start, then once
 * per closed hour, from foyerd's main thread), and what their runs do to
 * the alerts table (the lifecycle written in include/foyer/alerts.h).
 *
 * A pass opens a read-only store handle for the figures and a store_alerts
 * handle for the alerts, both for the pass only.  Each pass judges the
 * last history_days days again, so what was imported or delivered late
 * since the last pass is judged too; the lifecycle makes that idempotent: a
 * run of hours belonging to an alert only moves its last hour forward.
 *
 * STEPS
 *   On a large or freshly imported history a pass opens thousands of
 *   alerts and took seconds to tens of seconds in one go: foyerd's main
 *   thread answered neither SIGTERM nor SIGHUP meanwhile, and the pass's
 *   back-to-back commits (one per alert, each with its sync) left other
 *   writers' busy waits (foyerctl token create: 5 s, polling every 100 ms)
 *   too few gaps: "database is locked".  So a pass goes in steps, as the
 *   writer's retention does: a cursor (phase: channels one by one, then
 *   counter events, device states, closing, delivery; the next channel or
 *   alert to close) and the pass's state (its clock, its tenancies, the
 *   subject whose runs are coming in) are kept from one step to the next;
 *   a step works for ALERTS_STEP_MS at most (one channel's rules at least)
 *   and writes what it decided in one transaction, and foyerd's main loop
 *   comes back ALERTS_STEP_PAUSE_MS later, answering signals in between.
 *   The figures are read statement by statement as before (the one-go
 *   pass did not read one snapshot either), from the same clock, in the
 *   same order, through the same lifecycle: the alerts opened and closed,
 *   and their texts, are those of one unbroken pass.  A pass cut short by
 *   a stop or a reload is judged again from the start at the next start
 *   (or at once with the new config): idempotent, like every pass.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts_int.h"
#include "foyer/log.h"
#include "foyer/timeutil.h"

#define HOUR_S 3600
/* Counter events judged per piece of a step (each may open an alert):
 * a piece stays a few milliseconds, so a step keeps to ALERTS_STEP_MS. */
#define ALERTS_EVENTS_PIECE 64

static const char *const kind_names[ALERT_KIND_COUNT_] = {
    [ALERT_DEVICE_SILENT] = "device_silent", [ALERT_WATER_LEAK] = "water_leak",
    [ALERT_COLD_HOME] = "cold_home",         [ALERT_DAMP_HOME] = "damp_home",
    [ALERT_STALE_AIR] = "stale_air",         [ALERT_ABNORMAL_USE] = "abnormal_use",
    [ALERT_METER_RESET] = "meter_reset",     [ALERT_INDEX_JUMP] = "index_jump",
    [ALERT_VACANT_USE] = "vacant_use",
};

const char *alert_kind_name(enum alert_kind k)
{
    return (unsigned)k < ALERT_KIND_COUNT_ ? kind_names[k] : "?";
}

int alert_kind_from_name(const char *name)
{
    for (int k = 0; name && k < ALERT_KIND_COUNT_; k++)
        if (strcmp(kind_names[k], name) == 0)
            return k;
    return -1;
}

/* Kinds that close only by hand: one-off events somebody must check. */
static bool sticky_kind(int k)
{
    return k == ALERT_METER_RESET || k == ALERT_INDEX_JUMP;
}

struct alerts_pass;

struct alerts_engine {
    const struct foyer_config *cfg;
    struct alerts_texts *texts;
    int64_t next_run_s;       /* wall clock of the next pass; 0: at the first tick */
    struct alerts_pass *pass; /* the pass under way, or NULL */
};

static void pass_drop(struct alerts_engine *e);

static struct alerts_texts *load_texts(const struct foyer_config *cfg)
{
    char dir[1024];
    struct conf_errors errs = {0};
    struct alerts_texts *t = NULL;
    alerts_lang_dir(cfg, dir, sizeof(dir));
    int rc = alerts_texts_load(dir, &t, &errs);
    if (rc < 0) {
        for (size_t i = 0; i < errs.n; i++)
            log_err("%s", errs.msgs[i]);
        log_err("alerts: cannot load the alert texts (alerts.fr.conf, alerts.en.conf) from %s: %s",
                dir, strerror(-rc));
        conf_errors_free(&errs);
        return NULL;
    }
    return t;
}

struct alerts_engine *alerts_engine_new(const struct foyer_config *cfg)
{
    struct alerts_engine *e = calloc(1, sizeof(*e));
    if (!e) {
        log_err("alerts: out of memory");
        return NULL;
    }
    e->cfg = cfg;
    e->texts = load_texts(cfg);
    if (!e->texts) {
        free(e);
        return NULL;
    }
    return e;
}

int alerts_engine_set_config(struct alerts_engine *e, const struct foyer_config *cfg)
{
    struct alerts_texts *t = load_texts(cfg);
    pass_drop(e); /* it holds indexes into the old config */
    e->cfg = cfg;
    e->next_run_s = 0; /* new thresholds: judge again now */
    if (!t) {
        log_err("alerts: keeping the alert texts loaded before");
        return -EINVAL;
    }
    alerts_texts_free(e->texts);
    e->texts = t;
    return 0;
}

void alerts_engine_free(struct alerts_engine *e)
{
    if (!e)
        return;
    pass_drop(e);
    alerts_texts_free(e->texts);
    free(e);
}

/* ---- the lifecycle ------------------------------------------------------ */

/* The state of one run, and the alert of the (kind, subject) whose runs
 * are coming in: the rules hand a subject's runs one after the other. */
struct run_ctx {
    struct alerts_engine *e;
    struct store_alerts *sa;
    struct alerts_run_stats stats;
    int64_t now_s;
    bool in_txn;      /* this step's write transaction is open (write_txn()) */
    bool sink_failed; /* a write failed: store_alerts_errmsg() says why */
    bool have_cur;    /* cur_kind and cur_subject are set */
    enum alert_kind cur_kind;
    char cur_subject[FOYER_CHANNEL_ID_MAX + 8];
    bool has_latest;           /* the subject has an alert: latest */
    struct store_alert latest; /* id, state, opened, last_seen only */
    int64_t seen_s;            /* its last hour, as this run moved it */
};

/* Before a step's first write: its transaction (one commit per step). */
static int write_txn(struct run_ctx *x)
{
    if (x->in_txn)
        return 0;
    int rc = store_alerts_begin(x->sa);
    x->in_txn = rc == 0;
    if (rc < 0)
        x->sink_failed = true;
    return rc;
}

/* The end of a step's transaction: committed, or (failed) left for
 * pass_free() to roll back. */
static int commit_txn(struct run_ctx *x)
{
    if (!x->in_txn)
        return 0;
    int rc = store_alerts_commit(x->sa);
    if (rc < 0)
        x->sink_failed = true;
    else
        x->in_txn = false;
    return rc;
}

/* Write the current alert's last hour if this run moved it. */
static int flush(struct run_ctx *x)
{
    if (!x->has_latest || x->seen_s <= x->latest.last_seen_s)
        return 0;
    int rc = write_txn(x);
    if (rc == 0)
        rc = store_alerts_seen(x->sa, x->latest.id, x->seen_s);
    if (rc < 0)
        x->sink_failed = true;
    if (rc == 0)
        x->latest.last_seen_s = x->seen_s;
    return rc;
}

static const char *place_of(const struct foyer_config *cfg, const struct alerts_run *r)
{
    if (r->dwelling >= 0) {
        const struct dwelling *d = &cfg->dwellings[r->dwelling];
        return d->label ? d->label : d->id;
    }
    if (r->building >= 0) {
        const struct building *b = &cfg->buildings[r->building];
        return b->name ? b->name : b->id;
    }
    return "?";
}

static int open_alert(struct run_ctx *x, const struct alerts_run *r)
{
    const struct foyer_config *cfg = x->e->cfg;
    char fr[FOYER_ALERT_TEXT_MAX], en[FOYER_ALERT_TEXT_MAX];
    struct alerts_fill f = {.place = place_of(cfg, r),
                            .subject = r->label ? r->label : r->subject,
                            .value = r->value,
                            .threshold = r->threshold,
                            .since_s = r->first_s};
    alerts_texts_fill(x->e->texts, ALERTS_FR, r->text, &f, fr, sizeof(fr));
    alerts_texts_fill(x->e->texts, ALERTS_EN, r->text, &f, en, sizeof(en));
    struct store_alert al = {
        .kind = alert_kind_name(r->kind),
        .subject = r->subject,
        .severity = r->severity,
        .building = r->building >= 0 ? cfg->buildings[r->building].id : NULL,
        .dwelling = r->dwelling >= 0 ? cfg->dwellings[r->dwelling].id : NULL,
        .channel = r->channel >= 0 ? cfg->channels[r->channel].id : NULL,
        .opened_s = r->first_s,
        .last_seen_s = r->last_s,
        .value = r->value,
        .threshold = r->threshold,
        .text_fr = fr,
        .text_en = en,
    };
    int64_t id;
    int rc = write_txn(x);
    if (rc == 0)
        rc = store_alerts_add(x->sa, &al, &id);
    if (rc == -ECANCELED) {
        /* Its dwelling was erased after the run began (foyerctl erase
         * while this pass read): not stored, counted, logged once. */
        x->has_latest = false;
        x->stats.refused++;
        return 0;
    }
    if (rc < 0) {
        x->sink_failed = true;
        return rc;
    }
    x->has_latest = true;
    x->latest = (struct store_alert){
        .id = id, .state = STORE_ALERT_OPEN, .opened_s = r->first_s, .last_seen_s = r->last_s};
    x->seen_s = r->last_s;
    x->stats.opened++;
    log_info("alert %lld opened: %s %s (%s): %s", (long long)id, al.kind, r->subject, r->severity,
             en);
    return 0;
}

/* The sink of the rules: a run of hours in which a condition held. */
static int take_run(void *ctx, const struct alerts_run *r)
{
    struct run_ctx *x = ctx;
    int rc;
    x->stats.runs++;
    if (!x->have_cur || x->cur_kind != r->kind || strcmp(x->cur_subject, r->subject) != 0) {
        if ((rc = flush(x)) < 0)
            return rc;
        x->have_cur = true;
        x->cur_kind = r->kind;
        (void)snprintf(x->cur_subject, sizeof(x->cur_subject), "%s", r->subject);
        rc = store_alerts_latest(x->sa, alert_kind_name(r->kind), r->subject, &x->latest);
        if (rc < 0 && rc != -ENOENT) {
            x->sink_failed = true;
            return rc;
        }
        x->has_latest = rc == 0;
        x->seen_s = x->has_latest ? x->latest.last_seen_s : 0;
    }
    if (x->has_latest) {
        const struct store_alert *l = &x->latest;
        if (r->last_s < l->opened_s)
            return 0; /* history from before the subject's latest alert */
        /* Against its last hour as this run has moved it (seen_s), not as
         * stored: a leak every night extends one alert night after night. */
        bool belongs;
        if (r->sticky) /* an event already seen, or one more while open */
            belongs = l->state != STORE_ALERT_CLOSED || r->first_s <= x->seen_s;
        else /* not clear for the hold time in between */
            belongs = r->first_s - (x->seen_s + HOUR_S) < x->e->cfg->alerts.hold_s;
        if (belongs) {
            if (r->last_s > x->seen_s)
                x->seen_s = r->last_s;
            return 0;
        }
        if ((rc = flush(x)) < 0)
            return rc;
    }
    return open_alert(x, r);
}

/* An alert not closed, as the closing pass needs it. */
struct open_alert {
    int64_t id;
    int kind;
    int64_t last_seen_s;
};

struct open_list {
    struct open_alert *v;
    size_t n, cap;
};

static int put_open(void *ctx, const struct store_alert *al)
{
    struct open_list *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        struct open_alert *v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = (struct open_alert){
        .id = al->id, .kind = alert_kind_from_name(al->kind), .last_seen_s = al->last_seen_s};
    return 0;
}

static json_t *time_or_null(int64_t ts)
{
    char b[40];
    return ts ? json_string(tu_format_local(ts, b, sizeof(b))) : json_null();
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

json_t *alerts_json(const struct store_alert *al, enum store_alert_state state, const char *lang)
{
    static const char *const states[] = {"open", "acknowledged", "closed"};
    json_t *o = json_object();
    bool en = lang && strcmp(lang, "en") == 0;
    if (!o)
        return NULL;
    int rc = json_object_set_new(o, "id", json_integer(al->id));
    rc |= json_object_set_new(o, "kind", str_or_null(al->kind));
    rc |= json_object_set_new(o, "severity", str_or_null(al->severity));
    rc |= json_object_set_new(o, "building", str_or_null(al->building));
    rc |= json_object_set_new(o, "dwelling", str_or_null(al->dwelling));
    rc |= json_object_set_new(o, "channel", str_or_null(al->channel));
    rc |= json_object_set_new(o, "state", json_string((unsigned)state < 3 ? states[state] : "?"));
    rc |= json_object_set_new(o, "opened", time_or_null(al->opened_s));
    rc |= json_object_set_new(o, "acknowledged", time_or_null(al->acked_s));
    rc |= json_object_set_new(o, "closed", time_or_null(al->closed_s));
    rc |= json_object_set_new(o, "text", str_or_null(en ? al->text_en : al->text_fr));
    rc |= json_object_set_new(o, "acknowledged_by", str_or_null(al->ack_by));
    rc |= json_object_set_new(o, "note", str_or_null(al->ack_note));
    rc |= json_object_set_new(o, "closed_by", str_or_null(al->closed_by));
    rc |= json_object_set_new(o, "subject", str_or_null(al->subject));
    rc |= json_object_set_new(o, "value", json_real(al->value));
    rc |= json_object_set_new(o, "threshold", json_real(al->threshold));
    if (rc != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* ---- delivery to the [push] endpoints with alerts = yes -------------------- */

/* The outbox rows of one run. */
struct push_list {
    struct store_alert_push *v;
    size_t n, cap;
    uint64_t db_id;
    int64_t from_s; /* alerts closed before are not looked at again */
    int err;
};

static void push_list_free(struct push_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free((char *)l->v[i].key);
        free((char *)l->v[i].dwelling);
        free((char *)l->v[i].body);
    }
    free(l->v);
}

static int put_push(void *ctx, const struct store_alert *al)
{
    struct push_list *l = ctx;
    if (al->state == STORE_ALERT_CLOSED && al->closed_s < l->from_s)
        return 0;
    for (int st = STORE_ALERT_OPEN; st <= STORE_ALERT_CLOSED; st++) {
        if ((st == STORE_ALERT_ACKNOWLEDGED && !al->acked_s) ||
            (st == STORE_ALERT_CLOSED && al->state != STORE_ALERT_CLOSED))
            continue;
        if (l->n == l->cap) {
            size_t cap = l->cap ? l->cap * 2 : 16;
            struct store_alert_push *v = realloc(l->v, cap * sizeof(*v));
            if (!v)
                return -ENOMEM;
            l->v = v;
            l->cap = cap;
        }
        static const char *const states[] = {"open", "acknowledged", "closed"};
        char key[96];
        (void)snprintf(key, sizeof(key), "alert-%016llx-%lld-%s", (unsigned long long)l->db_id,
                       (long long)al->id, states[st]);
        json_t *o = alerts_json(al, (enum store_alert_state)st, "fr");
        if (o && json_object_set_new(o, "text_en", str_or_null(al->text_en)) == 0 &&
            json_object_set_new(o, "key", json_string(key)) == 0 &&
            json_object_set_new(o, "type", json_string("alert")) == 0) {
            struct store_alert_push *p = &l->v[l->n];
            p->id = al->id;
            p->key = strdup(key);
            p->dwelling = al->dwelling ? strdup(al->dwelling) : NULL;
            p->body = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(12));
            l->n++;
            if (!p->key || (al->dwelling && !p->dwelling) || !p->body) {
                json_decref(o);
                return -ENOMEM;
            }
        } else {
            json_decref(o);
            return -ENOMEM;
        }
        json_decref(o);
    }
    return 0;
}

/* Queue the states of the alerts of the last history_days days not queued
 * yet, for the endpoints with alerts = yes. */
static int deliver(struct run_ctx *x, struct store *ro, int64_t from_s)
{
    const struct foyer_config *cfg = x->e->cfg;
    const char **eps = calloc(cfg->n_push ? cfg->n_push : 1, sizeof(*eps));
    size_t n_eps = 0;
    if (!eps)
        return -ENOMEM;
    for (size_t i = 0; i < cfg->n_push; i++)
        if (cfg->push[i].alerts)
            eps[n_eps++] = cfg->push[i].id;
    struct push_list l = {.from_s = from_s};
    uint64_t seq, queued = 0;
    struct store_alert_filter f = {.all = true};
    int rc = n_eps ? store_queue_state(ro, &seq, &l.db_id) : 0;
    if (rc == 0 && n_eps)
        rc = store_alerts_list(x->sa, &f, put_push, &l);
    if (rc == 0 && l.n)
        rc = store_alerts_queue(x->sa, l.v, l.n, eps, n_eps, x->now_s, &queued);
    if (rc == 0 && queued)
        log_info("alerts: %llu states queued for the endpoints with alerts = yes",
                 (unsigned long long)queued);
    push_list_free(&l);
    free(eps);
    return rc;
}

/* Close open alert a if its condition has been clear for the hold time in
 * the hours judged (those before end_s). */
static int close_cleared(struct run_ctx *x, const struct open_alert *a, int64_t end_s)
{
    int64_t hold = x->e->cfg->alerts.hold_s;
    int64_t clear_from = a->last_seen_s + HOUR_S;
    if (a->kind < 0 || sticky_kind(a->kind) || end_s - clear_from < hold)
        return 0;
    int rc = write_txn(x);
    if (rc == 0)
        rc = store_alerts_close_one(x->sa, a->id, "auto", clear_from + hold);
    if (rc == -EALREADY)
        return 0; /* closed by hand meanwhile */
    if (rc < 0) {
        x->sink_failed = true;
        return rc;
    }
    x->stats.closed++;
    log_info("alert %lld closed: %s clear for %lld h", (long long)a->id,
             alert_kind_name((enum alert_kind)a->kind), (long long)(hold / HOUR_S));
    return 0;
}

/* Where a pass is (the order of one unbroken pass). */
enum pass_phase {
    PASS_CHANNELS, /* the rules of channel cursor */
    PASS_EVENTS,   /* counter events */
    PASS_DEVICES,  /* device states; then the last subject's alert written */
    PASS_CLOSE,    /* open alert cursor of the list read after the rules */
    PASS_DELIVER,  /* the outbox rows of the endpoints with alerts = yes */
    PASS_DONE,
};

struct alerts_pass {
    struct store *ro;
    struct store_alerts *sa;
    struct alerts_scope sc; /* the pass's clock (from_s, end_s, now_s) and tenancies */
    struct run_ctx x;
    enum pass_phase phase;
    size_t cursor;                  /* next channel (PASS_CHANNELS), next open alert (PASS_CLOSE) */
    struct alerts_events_at events; /* the next counter events (PASS_EVENTS) */
    struct open_list open;          /* the alerts not closed after the rules (PASS_CLOSE) */
    int64_t t0_ms;                  /* monotonic start */
};

static void pass_free(struct alerts_pass *p)
{
    if (!p)
        return;
    if (p->sa && p->x.in_txn)
        store_alerts_rollback(p->sa);
    alerts_rules_end(&p->sc);
    free(p->open.v);
    store_alerts_close(p->sa);
    store_close(p->ro);
    free(p);
}

/* A pass cut short (stop, reload): what its steps committed stays; the
 * next pass judges everything again. */
static void pass_drop(struct alerts_engine *e)
{
    if (!e->pass)
        return;
    log_info("alerts: pass stopped at step %llu, before its end; judged again from the start "
             "at the next pass",
             (unsigned long long)e->pass->x.stats.steps);
    pass_free(e->pass);
    e->pass = NULL;
}

static int pass_begin(struct alerts_engine *e, int64_t now_s)
{
    const struct foyer_config *cfg = e->cfg;
    const char *msg;
    struct alerts_pass *p = calloc(1, sizeof(*p));
    if (!p) {
        log_err("alerts: out of memory; judged again in an hour");
        return -ENOMEM;
    }
    int64_t end_s = (now_s - ALERTS_GRACE_S) / HOUR_S * HOUR_S;
    int64_t from_s = tu_day_start(end_s - (int64_t)cfg->alerts.history_days * 86400);
    p->t0_ms = tu_mono_ms();
    int rc = store_open_readonly(cfg->database, cfg, &p->ro, &msg);
    if (rc == 0)
        rc = store_alerts_open(cfg->database, &p->sa, &msg);
    if (rc < 0) {
        log_err("alerts: %s: %s; judged again in an hour", cfg->database,
                msg ? msg : strerror(-rc));
        pass_free(p);
        return rc;
    }
    p->x = (struct run_ctx){.e = e, .sa = p->sa, .now_s = now_s};
    p->sc = (struct alerts_scope){.cfg = cfg,
                                  .ro = p->ro,
                                  .from_s = from_s,
                                  .end_s = end_s,
                                  .now_s = now_s,
                                  .sink = take_run,
                                  .ctx = &p->x};
    rc = alerts_rules_begin(&p->sc);
    if (rc < 0) {
        log_err("alerts: pass failed: %s: %s; judged again in an hour", strerror(-rc),
                store_errmsg(p->ro));
        pass_free(p);
        return rc;
    }
    e->pass = p;
    return 0;
}

/* One piece of work of pass p: 0 (or -errno), p->phase moved on when its
 * part is done. */
static int pass_piece(struct alerts_pass *p)
{
    struct run_ctx *x = &p->x;
    int rc = 0;
    switch (p->phase) {
    case PASS_CHANNELS:
        if (p->cursor < p->sc.cfg->n_channels)
            rc = alerts_rules_channel(&p->sc, (uint32_t)p->cursor++);
        else
            p->phase = PASS_EVENTS;
        break;
    case PASS_EVENTS:
        rc = alerts_rules_events(&p->sc, &p->events, ALERTS_EVENTS_PIECE);
        if (rc == 0)
            p->phase = PASS_DEVICES;
        rc = rc > 0 ? 0 : rc;
        break;
    case PASS_DEVICES:
        rc = alerts_rules_devices(&p->sc);
        if (rc == 0)
            rc = flush(x);
        /* The alerts not closed once the rules have run, as one unbroken
         * pass lists them. */
        if (rc == 0) {
            struct store_alert_filter f = {0};
            rc = store_alerts_list(x->sa, &f, put_open, &p->open);
            if (rc < 0)
                x->sink_failed = true;
        }
        p->cursor = 0;
        p->phase = PASS_CLOSE;
        break;
    case PASS_CLOSE:
        if (p->cursor < p->open.n)
            rc = close_cleared(x, &p->open.v[p->cursor++], p->sc.end_s);
        else
            p->phase = PASS_DELIVER;
        break;
    case PASS_DELIVER:
        /* store_alerts_queue() has its own transaction. */
        rc = commit_txn(x);
        if (rc == 0)
            rc = deliver(x, p->ro, p->sc.from_s);
        if (rc < 0)
            x->sink_failed = true;
        p->phase = PASS_DONE;
        break;
    case PASS_DONE:
        break;
    }
    return rc;
}

/* The end of a pass, done or failed: logged, freed. */
static void pass_end(struct alerts_engine *e, int rc, struct alerts_run_stats *ret_stats)
{
    struct alerts_pass *p = e->pass;
    struct alerts_run_stats *st = &p->x.stats;
    st->duration_ms = tu_mono_ms() - p->t0_ms;
    if (rc < 0)
        log_err("alerts: pass failed: %s: %s; judged again in an hour", strerror(-rc),
                p->x.sink_failed ? store_alerts_errmsg(p->sa) : store_errmsg(p->ro));
    else if (st->opened || st->closed)
        log_info("alerts: %llu opened, %llu closed in %lld ms (%llu steps, the longest %lld ms)",
                 (unsigned long long)st->opened, (unsigned long long)st->closed,
                 (long long)st->duration_ms, (unsigned long long)st->steps,
                 (long long)st->longest_step_ms);
    else
        log_debug("alerts: hours up to %lld judged, nothing opened or closed, in %lld ms",
                  (long long)p->sc.end_s, (long long)st->duration_ms);
    if (rc == 0 && st->refused)
        log_warn("alerts: %llu alerts not opened: their dwelling was erased after they began "
                 "(judged from data read before the erasure)",
                 (unsigned long long)st->refused);
    if (rc == 0 && ret_stats)
        *ret_stats = *st;
    pass_free(p);
    e->pass = NULL;
}

int alerts_engine_step(struct alerts_engine *e, int64_t now_s, int64_t budget_ms,
                       struct alerts_run_stats *ret_stats)
{
    int rc = 0;
    if (!e->pass && (rc = pass_begin(e, now_s)) < 0)
        return rc;
    struct alerts_pass *p = e->pass;
    int64_t t0 = tu_mono_ms();
    /* One piece at least: a step always moves the pass on. */
    do
        rc = pass_piece(p);
    while (rc == 0 && p->phase != PASS_DONE && (budget_ms < 0 || tu_mono_ms() - t0 < budget_ms));
    /* What the step decided is committed, unless a write failed (then
     * rolled back by pass_free()): a failed read keeps the alerts opened
     * before it, as they were logged. */
    if (rc == 0 || !p->x.sink_failed) {
        int crc = commit_txn(&p->x);
        rc = rc < 0 ? rc : crc;
    }
    int64_t ms = tu_mono_ms() - t0;
    p->x.stats.steps++;
    if (ms > p->x.stats.longest_step_ms)
        p->x.stats.longest_step_ms = ms;
    if (rc < 0 || p->phase == PASS_DONE) {
        pass_end(e, rc, ret_stats);
        return rc;
    }
    return 1;
}

int alerts_engine_run(struct alerts_engine *e, int64_t now_s, struct alerts_run_stats *ret_stats)
{
    pass_drop(e);
    return alerts_engine_step(e, now_s, -1, ret_stats);
}

bool alerts_engine_tick(struct alerts_engine *e, int64_t now_s)
{
    if (!e || !e->cfg->alerts.enabled)
        return false;
    if (!e->pass) {
        if (now_s < e->next_run_s)
            return false;
        /* At start (and after a reload), then once per closed hour. */
        e->next_run_s = (now_s - ALERTS_GRACE_S) / HOUR_S * HOUR_S + HOUR_S + ALERTS_GRACE_S;
    }
    return alerts_engine_step(e, now_s, ALERTS_STEP_MS, NULL) == 1;
}

struct count_ctx {
    int64_t *counts;
};

static int put_count(void *ctx, const char *kind, int64_t n)
{
    struct count_ctx *c = ctx;
    int k = alert_kind_from_name(kind);
    if (k >= 0)
        c->counts[k] += n;
    return 0;
}

int alerts_open_by_kind(struct store *s, int64_t ret_counts[ALERT_KIND_COUNT_])
{
    int64_t counts[ALERT_KIND_COUNT_] = {0};
    struct count_ctx c = {counts};
    int rc = store_read_alerts_open(s, put_count, &c);
    if (rc < 0)
        return rc;
    memcpy(ret_counts, counts, sizeof(counts));
    return 0;
}
