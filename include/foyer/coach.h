/*
 * coach.h - the coach room (daemon/coach/): coaching summaries: per dwelling, per ISO week and
 * calendar month, what the household used (kWh, litres, euros), against its own past and similar
 * homes, heating per degree-day, comfort, night base load, the building's shared figure and up to
 * three tips.
 *
 * The engine only reads: a read-only store connection (rollups, tenancies
 * from the config, the summary stored for the previous period so a tip just
 * shown is not repeated).  Its output is one JSON document per dwelling and
 * period, the one that is pushed (schema in docs/summary.md); the text for a
 * person is rendered from that document and the language's strings.
 *
 * Language files (tips.LANG.conf: the tip catalogue; summary.LANG.conf: the
 * words of the text summary) are INI files read by the config's INI reader
 * (conf_read_ini()); they live in the directory of the main config file
 * (summary_lang_dir()).
 */
#ifndef FOYER_COACH_H
#define FOYER_COACH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "foyer/config.h"
#include "foyer/limits.h"
#include "foyer/store.h"

/* Version of the JSON document (docs/summary.md).  Part of the
 * Idempotency-Key: a new version is a new delivery. */
#define SUMMARY_SCHEMA_VERSION 2

/* How the document is serialised, by foyerctl and by the pusher alike. */
#define SUMMARY_JSON_FLAGS (JSON_INDENT(2) | JSON_REAL_PRECISION(12))

/* A comparison with similar dwellings (or the building's shared figure) is
 * shown only when at least this many other dwellings have data: fewer is
 * neither meaningful nor anonymous. */
#define SUMMARY_PEERS_MIN 5

/* Figures resting on a smaller share of the period's hours are flagged as
 * unreliable, not presented as facts. */
#define SUMMARY_COVERAGE_MIN 0.8

/* Tips shown at most. */
#define SUMMARY_TIPS_MAX 3

/* Two readings of a channel at most this many hours apart cover the hours
 * between them (docs/summary.md, "coverage"). */
#define SUMMARY_COVER_GAP_H 3

enum summary_kind { SUMMARY_WEEK, SUMMARY_MONTH };

/* A period: [start_s, end_s), local boundaries, UTC epoch seconds. */
struct summary_period {
    enum summary_kind kind;
    int64_t start_s;
    int64_t end_s;
    char id[16]; /* "2026-W47" (ISO week) or "2026-11" */
};

/* Parse "2026-W47" or "2026-11".  Needs the zone set (tu_set_zone).
 * 0 or -EINVAL. */
int summary_period_parse(const char *text, struct summary_period *ret);
/* The week or month containing ts_s. */
void summary_period_at(enum summary_kind kind, int64_t ts_s, struct summary_period *ret);
/* The period before p, and the same period one year before (the same ISO
 * week number; false when that year has no week 53). */
void summary_period_prev(const struct summary_period *p, struct summary_period *ret);
bool summary_period_last_year(const struct summary_period *p, struct summary_period *ret);

/* Degree-days by method m (enum dju_method in config.h: [foyer]
 * dju_method). */
double summary_dju(enum dju_method m, double tmin_c, double tmax_c);

/* ---- language files ---------------------------------------------------- */

struct summary_lang;

/* Load DIR/tips.LANG.conf and DIR/summary.LANG.conf.  On error returns
 * -EINVAL (or -ENOMEM, -ENOENT) and fills errs with "FILE:LINE: message"
 * (caller frees with conf_errors_free()).  Caller frees *ret with
 * summary_lang_free(). */
int summary_lang_load(const char *dir, const char *lang, struct summary_lang **ret,
                      struct conf_errors *errs);
void summary_lang_free(struct summary_lang *l);
/* "fr", "en": borrowed from l. */
const char *summary_lang_name(const struct summary_lang *l);
/* The directory of the language files for cfg: $FOYER_LANG_DIR when set,
 * else the directory of the main config file. */
void summary_lang_dir(const struct foyer_config *cfg, char *buf, size_t len);
/* The UI string KEY of the language, or key itself when it is missing
 * (borrowed). */
const char *summary_lang_str(const struct summary_lang *l, const char *key);
/* Number of tips, and the ids of tip i (borrowed), for tests. */
size_t summary_lang_n_tips(const struct summary_lang *l);
const char *summary_lang_tip_id(const struct summary_lang *l, size_t i);
const char *summary_lang_tip_condition(const struct summary_lang *l, size_t i);
/* Load every catalogue of dir (each tips.LANG.conf with its
 * summary.LANG.conf) to check it, for --check-config: problems are added
 * to errs as "FILE:LINE: message"; returns their number (0: all fine, or
 * no catalogue in dir). */
int summary_lang_check(const char *dir, struct conf_errors *errs);
/* The fixed figure names tips may use (the quantity ones aside), for
 * tests; *ret is static. */
size_t summary_figures_fixed(const char *const **ret);

/* ---- the engine -------------------------------------------------------- */

struct summary_engine;

/* cfg, ro (a read-only store on cfg) and lang are borrowed for the
 * engine's life.  NULL on allocation failure.  The engine caches the
 * per-channel totals of the periods it computed (the comparisons need every
 * dwelling's): computing all dwellings of one period costs little more
 * than computing one. */
struct summary_engine *summary_engine_new(const struct foyer_config *cfg, struct store *ro,
                                          const struct summary_lang *lang, enum dju_method dju);
void summary_engine_free(struct summary_engine *e);
/* Write each tip in lang too (tips[].texts, docs/summary.md), lang being
 * borrowed for the engine's life: the tablet page shows the tips in its
 * reader's language whatever the summary's.  0, -EEXIST (the engine's
 * language, or one added already), -E2BIG (FOYER_SUMMARY_TEXT_LANGS_MAX
 * added already). */
int summary_engine_add_lang(struct summary_engine *e, const struct summary_lang *lang);
/* The languages the tips are written in besides the summary's own: those
 * of "fr" and "en" that are not lang (the summary's), loaded from the
 * catalogues beside the config into ret[] (at most
 * FOYER_SUMMARY_TEXT_LANGS_MAX; the caller frees each with
 * summary_lang_free()).  A catalogue that does not load is left out, why
 * appended to errs for the caller to say.  Returns how many were loaded. */
size_t summary_lang_load_others(const struct foyer_config *cfg, const char *lang,
                                struct summary_lang *ret[FOYER_SUMMARY_TEXT_LANGS_MAX],
                                struct conf_errors *errs);

/* Compute the summary of a dwelling (config index) for a period.  now_s is
 * the "generated" time.  *ret is the JSON document (caller frees with
 * json_decref()).  0, -ENOENT when the household's tenancy does not meet
 * the period, -EIO on a database error, -ENOMEM. */
int summary_compute(struct summary_engine *e, uint32_t dwelling, const struct summary_period *p,
                    int64_t now_s, json_t **ret);

/* When the readings of a dwelling whose own channels fell silent no
 * longer hold its period back: once the rest of its building's data is
 * this far past the period's end, its gateway is up and its meters are
 * the ones missing (the summary then says which). */
#define SUMMARY_CLOSED_SILENT_S (2 * 86400)

/* Whether the data has closed period p for dwelling (config index): a
 * channel of the dwelling has a reading at or after p->end_s, or a channel
 * of its building (a common one, another dwelling's) has one at or after
 * p->end_s + SUMMARY_CLOSED_SILENT_S.  Before that, late readings of the
 * period may still come (a gateway offline, a clock ahead) and a summary
 * would be computed on part of it.  0 and *ret_closed, or -EIO / -ENOMEM
 * (*ret_closed untouched). */
int summary_closed_by_data(struct summary_engine *e, uint32_t dwelling,
                           const struct summary_period *p, bool *ret_closed);

/* The text for a person, in the language of lang, rendered from a computed
 * summary.  0 or -EIO (write error). */
int summary_render_text(const json_t *summary, const struct summary_lang *lang, FILE *out);

/* The Idempotency-Key of a summary's first revision: "foyer-summary-vSCHEMA/
 * BUILDING/DWELLING/PERIOD", stable for dwelling + period + schema version
 * (revision N >= 2 adds "/rN": summary_revise()).  0 or -ENAMETOOLONG. */
int summary_key(const char *building, const char *dwelling, const char *period, char *buf,
                size_t len);

/* Revisions of one dwelling's summary of one period at most: a period
 * whose figures keep changing (a clock or a meter gone wrong) stops being
 * pushed again after this many. */
#define SUMMARY_REVISION_MAX 100

/* Compare a computed summary doc (revision 1, as summary_compute() makes
 * it) with the stored one of the same dwelling and period (its JSON, or
 * NULL when none is stored).  Returns 1 when none is stored (doc left
 * as is), 0 when the figures are the same (only generated_at, revision
 * and key may differ: nothing to push), or the new revision N >= 2 when
 * they changed: doc's "revision" becomes N and its "key" the first
 * revision's key + "/rN".  -EINVAL (stored_body is not JSON), -ERANGE
 * (SUMMARY_REVISION_MAX reached), -ENOMEM; doc is then untouched. */
int summary_revise(json_t *doc, const char *stored_body);

/* ---- the scheduler (foyerd's main loop) ---------------------------------- */

struct pusher;
struct summary_scheduler;

/* cfg and pusher are borrowed (set_config swaps cfg).  NULL on failure
 * (logged). */
struct summary_scheduler *summary_scheduler_new(const struct foyer_config *cfg,
                                                struct pusher *pusher);
void summary_scheduler_free(struct summary_scheduler *s);
int summary_scheduler_set_config(struct summary_scheduler *s, const struct foyer_config *cfg);
/* Called every second or so: when a local week or month has closed since
 * the last call (or, at the first call, when the last closed week or month
 * has no stored summary), compute the summaries of every dwelling for it
 * and hand them to the pusher.  Logs its own failures. */
void summary_scheduler_tick(struct summary_scheduler *s, int64_t now_s);

#endif
