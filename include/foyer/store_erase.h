/*
 * store_erase.h - the right to erasure: a household's personal data taken
 * out of the store, its consumption kept only as building totals
 * (daemon/store/store_erase.c; the rollup_folded table is described in
 * daemon/store/store.c).
 *
 * An erasure works on one dwelling and on whole local days: everything of
 * the dwelling before the cut (the start of a local day) goes.  Before
 * anything is deleted, the dwelling's counters that count in building
 * totals (counters that are not submeters) are folded: their hourly, daily
 * and monthly consumption is added to rollup_folded, per building,
 * quantity and period, where no dwelling is named.  Every building total
 * adds store_read_folded() to the channels' rollups, so building totals
 * are unchanged to the Wh; the folded consumption counts in totals, never
 * as a dwelling (the "dwellings" counts and the withholding rule stay on
 * live dwellings).
 *
 * What goes (before the cut): raw readings, hourly, daily and monthly
 * rollups (a month cut in two keeps what its remaining days hold) and
 * counter events of the dwelling's channels; its summaries (by period
 * start) and outbox rows; tip answers; reports; alerts; the uplink's
 * waiting items and dirty keys of those rows; tenant tokens of its ended
 * tenancies; the lease reference of those tenancies; consent records,
 * except those that prove consent: per tenancy and purpose, the first
 * record that gave it and the newest record (who recorded them and when,
 * no figure).  What stays: the tenancies' rows (ID and dates, the frame the
 * proof of consent refers to), the access log (no figure; the security
 * record), with the erasure itself appended to it, and the equipment
 * (channels, devices, device events).  The cut is recorded (table
 * erasures): a summary or an alert computed from data read before the
 * erasure and stored after it is refused if it covers time before the cut
 * (store_outbox_add(), store_alerts_add()), so nothing erased comes back.
 *
 * One transaction: a crash leaves the dwelling whole or erased.  The cut
 * is taken back to the start of its local day.
 */
#ifndef FOYER_STORE_ERASE_H
#define FOYER_STORE_ERASE_H

#include <stdbool.h>
#include <stdint.h>

#include "foyer/config.h"
#include "foyer/store.h"

/* The tables an erasure counts rows of, in the order an account lists
 * them. */
enum store_erase_what {
    STORE_ERASE_READINGS,    /* readings */
    STORE_ERASE_HOURS,       /* rollup_hour */
    STORE_ERASE_DAYS,        /* rollup_day */
    STORE_ERASE_MONTHS,      /* rollup_month (deleted, or cut to their remaining days) */
    STORE_ERASE_EVENTS,      /* events of the dwelling's channels */
    STORE_ERASE_SUMMARIES,   /* summaries */
    STORE_ERASE_OUTBOX,      /* outbox (summaries and alerts waiting or pushed) */
    STORE_ERASE_TIP_ANSWERS, /* tip_answers */
    STORE_ERASE_REPORTS,     /* reports */
    STORE_ERASE_ALERTS,      /* alerts (and uplink_alerts) */
    STORE_ERASE_TOKENS,      /* tokens of the erased tenancies */
    STORE_ERASE_CONSENTS,    /* consents beyond the proof */
    STORE_ERASE_REFS,        /* tenancies' lease references cleared */
    STORE_ERASE_UPLINK,      /* uplink_outbox items and uplink_dirty keys */
    STORE_ERASE_GRANTS,      /* grants to an adviser made before the cut */
    STORE_ERASE_N,
};

/* The table's name of w for logs ("readings", "rollup_hour", ...,
 * "tenancies.ref", "uplink"); NULL out of range. */
const char *store_erase_table(enum store_erase_what w);

/* What an erasure did. */
struct store_erase_account {
    int64_t cut_s;               /* everything before this local day start went */
    int64_t rows[STORE_ERASE_N]; /* rows deleted (or changed: months, refs) per table */
    double folded[Q_COUNT_];     /* consumption folded into building totals, per
                                    quantity, in its unit (kWh, L): the sum of the
                                    daily figures folded */
    int tenancies;               /* ended tenancies marked erased */
};

/* What to erase and who asks. */
struct store_erase_opts {
    int64_t before_s;   /* the cut: taken back to its local day's start */
    bool force;         /* erase even while an open tenancy started before the cut */
    const char *by;     /* the local user, or "foyerd" (access log "who") */
    const char *origin; /* "foyerctl" or "foyerd" (access log "origin") */
    int64_t now_s;      /* when (access log, tenancy_erasures) */
};

/* Erase config dwelling `dwelling`'s personal data before o->before_s, on
 * write handle s (foyerd's writer, or a handle foyerctl opened: SQLite
 * serialises it with foyerd's writer).  0 with *ret, or -errno
 * (store_errmsg(s) says why): -ENOENT unknown dwelling, -EBUSY an open
 * tenancy of the dwelling started before the cut (without force: its
 * household would lose data it needs), -EROFS a read-only handle.
 * Nothing changes on failure. */
int store_erase_dwelling(struct store *s, const struct foyer_config *cfg, const char *dwelling,
                         const struct store_erase_opts *o, struct store_erase_account *ret);

/* Automatic erasure: the first tenancy that ended more than after_days
 * days before now_s (its last day's end), not yet erased, is erased with
 * the cut at the day after its end (never a later tenancy's data), by
 * "foyerd".  1 with *ret, ret_tenancy (FOYER_ID_MAX + 1 bytes) and
 * ret_dwelling (FOYER_ID_MAX + 1 bytes) when one was erased, 0 none due
 * (after_days 0: never), or -errno (store_errmsg(s), ret_tenancy names
 * the tenancy). */
int store_erase_due(struct store *s, const struct foyer_config *cfg, int64_t now_s, int after_days,
                    char *ret_tenancy, char *ret_dwelling, struct store_erase_account *ret);

/* Delete the hourly folded rows (gran hour) of periods starting before
 * before_s: an erased household's hours, even unnamed, are a load curve it
 * may never have consented to; the days and months stay.  foyerd's writer
 * calls it after its retention run with raw_retention_days_no_consent.
 * The number of rows deleted, or -errno. */
int64_t store_erase_prune_hours(struct store *s, int64_t before_s);

/* The folded consumption of building (config ID) for quantity q at
 * granularity g, periods starting in [from_s, to_s), oldest first, to fn
 * as rollup rows (n: readings folded; min and max NaN).  0, fn's non-zero
 * value, or -errno.  Any handle. */
int store_read_folded(struct store *s, const char *building, enum quantity q, enum store_gran g,
                      int64_t from_s, int64_t to_s,
                      int (*fn)(void *ctx, const struct store_rollup *row), void *ctx);

#endif
