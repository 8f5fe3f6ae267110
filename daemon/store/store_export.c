/*
 * store_export.c - the CSV export of hourly, daily or monthly figures, one
 * format for `foyerctl export` and the API's GET /api/v1/export.csv
 * (store.h, "CSV export").
 *
 * Reads only rollups (store_read_rollups(): one indexed range scan per
 * channel), never raw readings, so exporting a year of a building is a
 * lookup.  Rows go to the caller's writer as they are read (a file for
 * foyerctl, the response buffer for the API).  It moved here from the ctl
 * room so that the HTTP room, which may include the store but not foyerctl's
 * room, writes the same columns and numbers without a copy.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "foyer/store.h"
#include "foyer/store_consent.h"
#include "foyer/timeutil.h"
#include "foyer/units.h"

static bool channel_selected(const struct foyer_config *cfg, const struct channel *c,
                             const struct store_export_opts *o)
{
    if (o->dwelling &&
        (c->dwelling < 0 || strcmp(cfg->dwellings[c->dwelling].id, o->dwelling) != 0))
        return false;
    if (o->building && (c->building < 0 || strcmp(cfg->buildings[c->building].id, o->building)))
        return false;
    return true;
}

/* Where the rows of one channel go. */
struct export_ctx {
    int (*write)(void *ctx, const char *data, size_t len);
    void *wctx;
    const struct channel *c;
    const char *dwelling; /* its ID, "" when none */
    int64_t rows;         /* written so far, all channels */
    char line[512];       /* the row being built */
    size_t len;
};

static void line_add(struct export_ctx *x, const char *s, size_t n)
{
    if (x->len + n < sizeof(x->line)) {
        memcpy(x->line + x->len, s, n);
        x->len += n;
    } else {
        x->len = sizeof(x->line); /* cannot happen: IDs are bounded (limits.h) */
    }
}

/* A CSV field, quoted when it holds a comma, quote or newline. */
static void csv_field(struct export_ctx *x, const char *s)
{
    if (!strpbrk(s, ",\"\n\r")) {
        line_add(x, s, strlen(s));
        return;
    }
    line_add(x, "\"", 1);
    for (; *s; s++) {
        if (*s == '"')
            line_add(x, "\"", 1);
        line_add(x, s, 1);
    }
    line_add(x, "\"", 1);
}

static int export_row(void *ctx, const struct store_rollup *r)
{
    struct export_ctx *x = ctx;
    const struct channel *c = x->c;
    char when[40], rest[160], num[48];
    double value = c->kind == KIND_COUNTER ? r->sum : (r->n > 0 ? r->sum / (double)r->n : 0);
    if (c->kind == KIND_GAUGE && r->n == 0)
        return 0;
    x->len = 0;
    csv_field(x, c->id);
    line_add(x, ",", 1);
    csv_field(x, x->dwelling);
    /* At the unit's precision (include/foyer/units.h): a sum of float
     * index differences carries digits no meter measured. */
    int n = snprintf(rest, sizeof(rest), ",%s,%s,%s,%s\n", quantity_name(c->quantity),
                     tu_format_local(r->ts_s, when, sizeof(when)),
                     units_format(c->unit, value, num, sizeof(num)), c->unit);
    if (n < 0 || (size_t)n >= sizeof(rest))
        return -EOVERFLOW;
    line_add(x, rest, (size_t)n);
    if (x->len >= sizeof(x->line))
        return -EOVERFLOW;
    int rc = x->write(x->wctx, x->line, x->len);
    if (rc < 0)
        return rc;
    x->rows++;
    return 0;
}

int64_t store_export_csv(struct store *s, const struct foyer_config *cfg,
                         const struct store_export_opts *o,
                         int (*write)(void *ctx, const char *data, size_t len), void *ctx,
                         uint64_t *ret_skipped_channels)
{
    static const char header[] = "channel,dwelling,quantity,period_start,value,unit\n";
    struct export_ctx x = {.write = write, .wctx = ctx};
    uint64_t skipped = 0;
    /* Each household's load-curve consent now (foyerctl consent). */
    bool *consent = calloc(cfg->n_dwellings + 1, sizeof(*consent));
    int rc = consent ? store_consent_load_curve(s, cfg, tu_now_s(), consent) : -ENOMEM;
    if (rc == 0)
        rc = write(ctx, header, sizeof(header) - 1);
    if (rc < 0) {
        free(consent);
        return rc;
    }
    for (size_t i = 0; i < cfg->n_channels; i++) {
        const struct channel *c = &cfg->channels[i];
        int64_t id = store_channel_id(s, (uint32_t)i);
        if (!channel_selected(cfg, c, o) || id < 0)
            continue;
        if (o->gran == STORE_HOUR && c->dwelling >= 0 && !consent[c->dwelling]) {
            skipped++; /* no load curve without consent (RGPD) */
            continue;
        }
        x.c = c;
        x.dwelling = c->dwelling >= 0 ? cfg->dwellings[c->dwelling].id : "";
        rc = store_read_rollups(s, o->gran, (uint32_t)i, o->from_s, o->to_s, 0, export_row, &x);
        if (rc < 0) {
            free(consent);
            return rc;
        }
    }
    free(consent);
    if (ret_skipped_channels)
        *ret_skipped_channels = skipped;
    return x.rows;
}
