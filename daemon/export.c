/*
 * export.c - CSV export of hourly, daily or monthly figures (foyerctl export).
 *
 * Reads only rollup tables (one indexed range scan per channel), never raw
 * readings, so exporting a year of a building is a lookup.  Streams rows to
 * the output as they are read.
 */
#include "foyer/csvio.h"

#include <errno.h>
#include <string.h>

#include "foyer/timeutil.h"

static const char *const gran_table[] = {
    [GRAN_HOUR] = "rollup_hour",
    [GRAN_DAY] = "rollup_day",
    [GRAN_MONTH] = "rollup_month",
};

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

int64_t csv_export(struct store *s, const struct foyer_config *cfg, const struct export_opts *o,
                   FILE *out, uint64_t *ret_skipped_channels)
{
    char sql[160];
    sqlite3_stmt *st;
    int64_t rows = 0;
    uint64_t skipped = 0;

    snprintf(sql, sizeof(sql),
             "SELECT ts, sum, n FROM %s WHERE channel = ?1 AND ts >= ?2 AND ts < ?3 ORDER BY ts",
             gran_table[o->gran]);
    if (sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL) != SQLITE_OK)
        return -EIO;
    fputs("channel,dwelling,quantity,period_start,value,unit\n", out);
    for (size_t i = 0; i < cfg->n_channels; i++) {
        const struct channel *c = &cfg->channels[i];
        int64_t id = store_channel_id(s, (uint32_t)i);
        if (!channel_selected(cfg, c, o) || id < 0)
            continue;
        if (o->gran == GRAN_HOUR && c->dwelling >= 0 && !cfg->dwellings[c->dwelling].consent) {
            skipped++; /* no load curve without consent (RGPD) */
            continue;
        }
        const char *dwelling = c->dwelling >= 0 ? cfg->dwellings[c->dwelling].id : "";
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_int64(st, 2, o->from_s);
        sqlite3_bind_int64(st, 3, o->to_s);
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            char when[40];
            int64_t ts = sqlite3_column_int64(st, 0);
            double sum = sqlite3_column_double(st, 1);
            int64_t n = sqlite3_column_int64(st, 2);
            double value = c->kind == KIND_COUNTER ? sum : (n > 0 ? sum / (double)n : 0);
            if (c->kind == KIND_GAUGE && n == 0)
                continue;
            csv_field(out, c->id);
            fputc(',', out);
            csv_field(out, dwelling);
            fprintf(out, ",%s,%s,%.10g,%s\n", quantity_name(c->quantity),
                    tu_format_local(ts, when, sizeof(when)), value + 0.0, c->unit);
            rows++;
        }
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) {
            sqlite3_finalize(st);
            return -EIO;
        }
    }
    sqlite3_finalize(st);
    if (ret_skipped_channels)
        *ret_skipped_channels = skipped;
    return ferror(out) ? -EIO : rows;
}
