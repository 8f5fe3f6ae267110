/*
 * csvimport.c - backfill readings from CSV (foyerctl import).
 *
 * The file is read in chunks of IMPORT_CHUNK_ROWS rows; each chunk is sorted
 * by (channel, time) inside store_ingest() and committed in transactions of
 * IMPORT_BATCH rows.  A file in time order per channel therefore takes the
 * fast in-order path, and any order still gives the same result through the
 * store's late-reading path.  Memory stays bounded whatever the file size.
 */
#include "foyer/csvio.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "foyer/limits.h"
#include "foyer/timeutil.h"

#define IMPORT_CHUNK_ROWS (1u << 20)
#define IMPORT_BATCH      20000
#define IMPORT_REPORT_MAX 50 /* bad rows reported one by one */

struct importer {
    struct store *s;
    const struct foyer_config *cfg;
    const char *name;
    FILE *err;
    FILE *progress;
    struct reading *rows;
    size_t n;
    struct import_result *res;
    long file_size;
};

static void bad_row(struct importer *im, unsigned long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void bad_row(struct importer *im, unsigned long line, const char *fmt, ...)
{
    im->res->bad_rows++;
    if (im->res->bad_rows <= IMPORT_REPORT_MAX) {
        va_list ap;
        va_start(ap, fmt);
        fprintf(im->err, "%s:%lu: ", im->name, line);
        vfprintf(im->err, fmt, ap);
        fputc('\n', im->err);
        va_end(ap);
    }
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t len = strlen(s);
    while (len > 0 && isspace((unsigned char)s[len - 1]))
        s[--len] = '\0';
    if (len >= 2 && s[0] == '"' && s[len - 1] == '"') {
        s[len - 1] = '\0';
        s++;
    }
    return s;
}

static int flush_chunk(struct importer *im)
{
    for (size_t off = 0; off < im->n; off += IMPORT_BATCH) {
        size_t len = im->n - off < IMPORT_BATCH ? im->n - off : IMPORT_BATCH;
        int rc = store_ingest(im->s, im->rows + off, len, &im->res->ingest);
        if (rc < 0)
            return rc;
    }
    im->n = 0;
    return 0;
}

static void show_progress(struct importer *im, FILE *in, bool final)
{
    if (!im->progress)
        return;
    long pos = ftell(in);
    if (im->file_size > 0 && pos >= 0)
        fprintf(im->progress, "\rimport: %3.0f %% of %s, %llu rows read",
                100.0 * (double)pos / (double)im->file_size, im->name,
                (unsigned long long)im->res->rows);
    else
        fprintf(im->progress, "\rimport: %llu rows read", (unsigned long long)im->res->rows);
    if (final)
        fputc('\n', im->progress);
    fflush(im->progress);
}

/* Parse one data line into im->rows[im->n]; reports and returns false when
 * the row is bad. */
static bool parse_row(struct importer *im, char *line, unsigned long lineno)
{
    char *f[3];
    char *p = line;
    for (int i = 0; i < 3; i++) {
        f[i] = p;
        char *comma = strchr(p, ',');
        if (i < 2) {
            if (!comma) {
                bad_row(im, lineno, "expected 3 fields: channel,time,value");
                return false;
            }
            *comma = '\0';
            p = comma + 1;
        } else if (comma) {
            bad_row(im, lineno, "more than 3 fields (a decimal comma? use a point)");
            return false;
        }
        f[i] = trim(f[i]);
    }
    int32_t ch = config_find_channel(im->cfg, f[0]);
    if (ch < 0) {
        im->res->unknown_channel++;
        bad_row(im, lineno, "unknown channel \"%s\"", f[0]);
        return false;
    }
    int64_t ts;
    if (tu_parse_iso(f[1], &ts) < 0) {
        bad_row(im, lineno, "bad time \"%s\" (ISO 8601, e.g. 2026-03-29T02:00:00Z)", f[1]);
        return false;
    }
    char *end;
    errno = 0;
    double v = strtod(f[2], &end);
    if (f[2][0] == '\0' || *end != '\0' || errno == ERANGE || !isfinite(v)) {
        bad_row(im, lineno, "bad value \"%s\" (a number with a decimal point)", f[2]);
        return false;
    }
    const struct channel *c = &im->cfg->channels[ch];
    if (v < c->min_value || v > c->max_value) {
        bad_row(im, lineno, "value %s out of the range of %s (%g to %g %s)", f[2], c->id,
                c->min_value, c->max_value, c->unit);
        return false;
    }
    if (ts < FOYER_TS_MIN_S || ts > tu_now_s() + im->cfg->future_tolerance_s) {
        bad_row(im, lineno, "time \"%s\" is before 2000 or in the future", f[1]);
        return false;
    }
    im->rows[im->n++] = (struct reading){.channel = (uint32_t)ch, .ts_s = ts, .value = v};
    return true;
}

int csv_import(struct store *s, const struct foyer_config *cfg, FILE *in, const char *name,
               FILE *err, FILE *progress, struct import_result *ret)
{
    struct importer im = {
        .s = s, .cfg = cfg, .name = name, .err = err, .progress = progress, .res = ret};
    char line[FOYER_CSV_LINE_MAX + 2];
    unsigned long lineno = 0;
    bool header = false;
    int rc = 0;

    memset(ret, 0, sizeof(*ret));
    im.rows = calloc(IMPORT_CHUNK_ROWS, sizeof(*im.rows));
    if (!im.rows)
        return -ENOMEM;
    if (fseek(in, 0, SEEK_END) == 0) {
        im.file_size = ftell(in);
        rewind(in);
    }

    while (fgets(line, sizeof(line), in)) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof(line) - 1 && line[len - 1] != '\n') {
            bad_row(&im, lineno, "line longer than %d bytes", FOYER_CSV_LINE_MAX);
            int c;
            while ((c = fgetc(in)) != EOF && c != '\n')
                ;
            continue;
        }
        char *t = trim(line);
        if (lineno == 1 && strncmp(t, "\xef\xbb\xbf", 3) == 0)
            t += 3; /* UTF-8 BOM from spreadsheet exports */
        if (*t == '\0' || *t == '#')
            continue;
        if (!header) {
            if (strcmp(t, "channel,time,value") != 0) {
                fprintf(err, "%s:%lu: expected the header \"channel,time,value\"\n", name, lineno);
                rc = -EINVAL;
                goto out;
            }
            header = true;
            continue;
        }
        ret->rows++;
        parse_row(&im, t, lineno);
        if (im.n == IMPORT_CHUNK_ROWS) {
            rc = flush_chunk(&im);
            if (rc < 0)
                goto out;
        }
        if ((ret->rows & 0xffff) == 0)
            show_progress(&im, in, false);
    }
    if (ferror(in)) {
        rc = -EIO;
        goto out;
    }
    if (!header) {
        fprintf(err, "%s: empty file: expected the header \"channel,time,value\"\n", name);
        rc = -EINVAL;
        goto out;
    }
    rc = flush_chunk(&im);
    show_progress(&im, in, true);
    if (ret->bad_rows > IMPORT_REPORT_MAX)
        fprintf(err, "%s: %llu more bad rows not shown\n", name,
                (unsigned long long)(ret->bad_rows - IMPORT_REPORT_MAX));
out:
    free(im.rows);
    return rc;
}
