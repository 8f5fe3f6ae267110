/*
 * alerts_int.h - what the files of daemon/alerts/ share, and nothing else
 * includes (the room's interface is include/foyer/alerts.h).
 *
 * alerts_lang.c loads the sentences (config/alerts.LANG.conf) and fills
 * them in; alerts_rules.c turns the store's figures into runs of hours in
 * which a rule's condition held; alerts_engine.c turns runs into alerts
 * (the lifecycle), and schedules the runs.
 */
#ifndef FOYER_ALERTS_INT_H
#define FOYER_ALERTS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "foyer/alerts.h"
#include "foyer/config.h"
#include "foyer/store.h"
#include "foyer/store_alerts.h"

/* ---- texts (alerts_lang.c) ---------------------------------------------- */

/* The languages of the sentences stored with each alert. */
enum alerts_lang_id { ALERTS_FR, ALERTS_EN, ALERTS_LANG_COUNT_ };

/* The sentence keys every language file has, one per kind and variant. */
enum alerts_text {
    AT_DEVICE_SILENT_METER,
    AT_DEVICE_SILENT_SENSOR,
    AT_DEVICE_SILENT_BUS,
    AT_DEVICE_SILENT_BROKER,
    AT_WATER_LEAK,
    AT_COLD_HOME,
    AT_DAMP_HOME,
    AT_DAMP_HOME_COLD,
    AT_STALE_AIR,
    AT_ABNORMAL_USE,
    AT_METER_RESET,
    AT_INDEX_JUMP,
    AT_VACANT_USE,
    AT_COUNT_
};

/* The sentences of both languages; immutable once loaded. */
struct alerts_texts;

/* Load DIR/alerts.fr.conf and DIR/alerts.en.conf: every key of enum
 * alerts_text in both, nothing else.  0 and *ret (free with
 * alerts_texts_free()), or -EINVAL with each problem in errs as
 * "FILE:LINE: message", or another -errno. */
int alerts_texts_load(const char *dir, struct alerts_texts **ret, struct conf_errors *errs);
void alerts_texts_free(struct alerts_texts *t);

/* The directory of the language files: FOYER_LANG_DIR, or the main config
 * file's. */
void alerts_lang_dir(const struct foyer_config *cfg, char *buf, size_t len);

/* What a sentence's placeholders stand for. */
struct alerts_fill {
    const char *place;   /* {place}: the dwelling's label or ID, or the building's */
    const char *subject; /* {subject}: the channel, meter, bus */
    double value;        /* {value} */
    double threshold;    /* {threshold} */
    int64_t since_s;     /* {since}: local time */
};

/* The sentence key of language lang with its placeholders filled, into buf
 * (len bytes, cut short if need be). */
void alerts_texts_fill(const struct alerts_texts *t, enum alerts_lang_id lang, enum alerts_text key,
                       const struct alerts_fill *f, char *buf, size_t len);

/* ---- rules (alerts_rules.c) --------------------------------------------- */

/* A run of hours in which a rule's condition held, with what opens an
 * alert for it. */
struct alerts_run {
    enum alert_kind kind;
    const char *subject;  /* channel, meter or sensor ID, "bus:ID", "mqtt" */
    const char *label;    /* what {subject} shows (the bus's ID), NULL: subject */
    const char *severity; /* "info", "warning", "critical" */
    int32_t building;     /* index into cfg->buildings, or -1 */
    int32_t dwelling;     /* index into cfg->dwellings, or -1 */
    int32_t channel;      /* index into cfg->channels, or -1 */
    int64_t first_s;      /* start of the first hour the condition held */
    int64_t last_s;       /* start of the last */
    double value;         /* the figure at the first hour */
    double threshold;
    enum alerts_text text;
    bool sticky; /* closes only by hand (counter events) */
};

/* Where the rules hand their runs: the engine's lifecycle.  0 or -errno
 * (the rules stop at the first failure). */
typedef int (*alerts_sink)(void *ctx, const struct alerts_run *r);

/* What every rule needs. */
struct alerts_scope {
    const struct foyer_config *cfg;
    struct store *ro; /* read-only handle: figures */
    int64_t from_s;   /* first hour judged (a local midnight) */
    int64_t end_s;    /* hours judged start before this (an hour boundary) */
    int64_t now_s;    /* wall clock, for device states */
    alerts_sink sink;
    void *ctx;
    /* Owned from alerts_rules_begin() to alerts_rules_end(): the pass's
     * tenancies (store_tenancy_read()), for vacant_use, and abnormal_use's
     * scratch (ALERTS_SEASON_DAYS + 2 figures). */
    struct tenancy *ten;
    size_t n_ten;
    double *scratch;
};

/* A pass of the rules over [from_s, end_s), in pieces the engine spreads
 * over its steps: alerts_rules_begin() reads the pass's tenancies, then
 * alerts_rules_channel() for each config channel, alerts_rules_events()
 * and alerts_rules_devices() once each, in that order, then
 * alerts_rules_end().  Every piece reads its figures through sc->ro,
 * statement by statement (no read transaction spans two pieces), and hands
 * its runs to sc->sink in the order one unbroken pass would.  0 (or 1,
 * alerts_rules_events()) or the first -errno (a failed read: store_errmsg(ro) says why; a failed
 * alerts_rules_begin() releases what it took). */
int alerts_rules_begin(struct alerts_scope *sc);
int alerts_rules_channel(const struct alerts_scope *sc, uint32_t ch);
/* Where the counter events of a pass are: the time of the last event
 * handed over and how many events of that time were (the store hands them
 * oldest first, in the order recorded for equal times).  Zeroed: from the
 * start. */
struct alerts_events_at {
    int64_t ts_s;
    size_t n_at_ts;
};
/* The counter events after *at, max of them at most (a pass opens an
 * alert per event: thousands after an import): 1 when more are left (*at
 * moved on), 0 when none, or -errno. */
int alerts_rules_events(const struct alerts_scope *sc, struct alerts_events_at *at, size_t max);
int alerts_rules_devices(const struct alerts_scope *sc);
void alerts_rules_end(struct alerts_scope *sc);

/* Whether ts_s (UTC) is on a local day of the heating season. */
bool alerts_heating_season(const struct alerts_conf *a, int64_t ts_s);

#endif
