/*
 * ctl_export.c - CSV export of hourly, daily or monthly figures (foyerctl export).
 *
 * Reads only rollups (store_read_rollups(): one indexed range scan per
 * channel), never raw readings, so exporting a year of a building is a
 * lookup.  Streams rows to the output as they are read.
 */
#include "foyer/ctl.h"

#include <errno.h>
#include <string.h>

#include "foyer/timeutil.h"
#include "foyer/units.h"

static bool channel_selected(const struct foyer_config *cfg, const struct channel *c,
                             const struct export_opts *o)
{
    if (o->dwelling &&
        (c->dwelling < 0 || strcmp(cfg->dwellings[c->dwelling].id, o->dwelling) != 0))
        return false;
    if (o->building && (c->building < 0 || strcmp(cfg->buildings[c->building].id, o->building)))
        return false;
    return true;
}

/* Print a CSV field, quoted when it holds a comma, quote or newline. */
static void csv_field(FILE *out, const char *s)
{
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

/* Where the rows of one channel go. */
struct export_ctx {
    FILE *out;
    const struct channel *c;
    const char *dwelling; /* its ID, "" when none */
    int64_t rows;         /* written so far, all channels */
};

static int export_row(void *ctx, const struct store_rollup *r)
{
    struct export_ctx *x = ctx;
    const struct channel *c = x->c;
    char when[40], num[48];
    double value = c->kind == KIND_COUNTER ? r->sum : (r->n > 0 ? r->sum / (double)r->n : 0);
    if (c->kind == KIND_GAUGE && r->n == 0)
        return 0;
    csv_field(x->out, c->id);
    fputc(',', x->out);
    csv_field(x->out, x->dwelling);
    /* At the unit's precision (include/foyer/units.h): a sum of float
     * index differences carries digits no meter measured. */
    fprintf(x->out, ",%s,%s,%s,%s\n", quantity_name(c->quantity),
            tu_format_local(r->ts_s, when, sizeof(when)),
            units_format(c->unit, value, num, sizeof(num)), c->unit);
    x->rows++;
    return 0;
}

int64_t csv_export(struct store *s, const struct foyer_config *cfg, const struct export_opts *o,
                   FILE *out, uint64_t *ret_skipped_channels)
{
    struct export_ctx x = {.out = out};
    uint64_t skipped = 0;

    fputs("channel,dwelling,quantity,period_start,value,unit\n", out);
    for (size_t i = 0; i < cfg->n_channels; i++) {
        const struct channel *c = &cfg->channels[i];
        int64_t id = store_channel_id(s, (uint32_t)i);
        if (!channel_selected(cfg, c, o) || id < 0)
            continue;
        if (o->gran == STORE_HOUR && c->dwelling >= 0 && !cfg->dwellings[c->dwelling].consent) {
            skipped++; /* no load curve without consent (RGPD) */
            continue;
        }
        x.c = c;
        x.dwelling = c->dwelling >= 0 ? cfg->dwellings[c->dwelling].id : "";
        if (store_read_rollups(s, o->gran, (uint32_t)i, o->from_s, o->to_s, 0, export_row, &x) < 0)
            return -EIO;
    }
    if (ret_skipped_channels)
        *ret_skipped_channels = skipped;
    return ferror(out) ? -EIO : x.rows;
}
