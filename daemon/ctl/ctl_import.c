/*
 * ctl_import.c - backfill readings from CSV (foyerctl import).
 *
 * The file is read in chunks of IMPORT_CHUNK_ROWS rows; each chunk is sorted
 * by (channel, time) inside store_ingest() and committed in transactions of
 * IMPORT_BATCH rows.  A file in time order per channel therefore takes the
 * fast in-order path, and any order still gives the same result through the
 * store's late-reading path.  Memory stays bounded whatever the file size.
 *
 * Rows are RFC 4180 records of one line: a field may be quoted ("e1", with
 * "" for a quote inside); a line break inside quotes is a bad row, since no
 * field of ours can hold one.  A row must name one instant: a time without
 * an offset is refused (a local time is missing or repeated at a DST
 * change, so two rows would land on one instant and one would be lost), and
 * so is second 60 (Unix time has no leap second: it would be the next
 * second's).  Values are decimal numbers read without the locale; hex
 * ("0x10", "0x1p4"), "inf" and "nan" are refused.  Input quoted in a
 * message is escaped (\xNN for control bytes), so a file cannot drive the
 * terminal it is reported on.
 */
#include "foyer/ctl.h"

#include <ctype.h>
#include <errno.h>
#include <locale.h>
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
    locale_t c_locale; /* numbers are read with "." whatever the caller's locale */
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

/* Length of the UTF-8 sequence at s that may be shown as it is: a valid
 * sequence of a printable character; 0 for anything else (a control
 * character, C1 included, or a byte that starts no valid sequence). */
static size_t printable_utf8(const unsigned char *s)
{
    uint32_t cp;
    size_t n = conf_utf8_char(s, &cp);
    return n > 0 && !conf_is_control(cp) ? n : 0;
}

/* IN as it may be quoted in a message: control characters and bytes that
 * are not UTF-8 as \xNN, a backslash and a quote escaped.  Returns buf
 * (at least 4 bytes per input byte, plus one). */
static const char *esc(const char *in, char *buf, size_t len)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t o = 0;
    while (*s && o + 5 <= len) {
        size_t n = printable_utf8(s);
        if (*s == '\\' || *s == '"') {
            buf[o++] = '\\';
            buf[o++] = (char)*s++;
        } else if (n == 0) {
            (void)snprintf(buf + o, len - o, "\\x%02X", (unsigned)*s++);
            o += 4;
        } else {
            memcpy(buf + o, s, n);
            o += n;
            s += n;
        }
    }
    buf[o] = '\0';
    return buf;
}

#define ESC_LEN (4 * FOYER_CSV_LINE_MAX + 1)

static int flush_chunk(struct importer *im)
{
    for (size_t off = 0; off < im->n; off += IMPORT_BATCH) {
        size_t len = im->n - off < IMPORT_BATCH ? im->n - off : IMPORT_BATCH;
        int rc = store_ingest(im->s, im->rows + off, len, 0, &im->res->ingest);
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

/* Split LINE (without its line break) into its RFC 4180 fields, in place:
 * at most max fields in f, their count in *ret_n (max + 1 when there are
 * more).  Blanks around a field are dropped.  Returns NULL, or why the line
 * cannot be split. */
static const char *split_fields(char *line, char **f, size_t max, size_t *ret_n)
{
    char *p = line;
    size_t n = 0;
    for (;;) {
        char *out, *start;
        while (*p == ' ' || *p == '\t')
            p++;
        out = start = p;
        if (*p == '"') {
            p++;
            for (;;) {
                if (*p == '\0')
                    return "a quoted field is not closed on its line";
                if (*p == '"' && p[1] == '"') {
                    *out++ = '"';
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else {
                    *out++ = *p++;
                }
            }
            while (*p == ' ' || *p == '\t')
                p++;
            if (*p != ',' && *p != '\0')
                return "text after a closing quote (double a quote inside a quoted field)";
        } else {
            while (*p != ',' && *p != '\0') {
                if (*p == '"')
                    return "a quote inside an unquoted field (quote the field and double the "
                           "quote)";
                p++;
            }
            out = p;
            while (out > start && (out[-1] == ' ' || out[-1] == '\t'))
                out--;
        }
        bool last = *p == '\0';
        *out = '\0';
        if (n < max)
            f[n] = start;
        n++;
        if (last || n > max)
            break;
        p++;
    }
    *ret_n = n;
    return NULL;
}

/* A decimal number as a person or a spreadsheet writes it: optional sign,
 * digits with an optional point, an optional exponent.  Nothing else, so
 * that strtod's hex ("0x10", "0x1p4"), "inf" and "nan" never pass. */
static bool plain_decimal(const char *s)
{
    size_t digits = 0;
    if (*s == '+' || *s == '-')
        s++;
    for (; isdigit((unsigned char)*s); s++)
        digits++;
    if (*s == '.')
        for (s++; isdigit((unsigned char)*s); s++)
            digits++;
    if (digits == 0)
        return false;
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-')
            s++;
        if (!isdigit((unsigned char)*s))
            return false;
        while (isdigit((unsigned char)*s))
            s++;
    }
    return *s == '\0';
}

/* Parse one data line into im->rows[im->n]; reports and returns false when
 * the row is bad. */
static bool parse_row(struct importer *im, char *line, unsigned long lineno)
{
    char *f[3], e[ESC_LEN];
    size_t n;
    const char *why = split_fields(line, f, 3, &n);
    if (why) {
        bad_row(im, lineno, "%s", why);
        return false;
    }
    if (n > 3) {
        bad_row(im, lineno, "more than 3 fields (a decimal comma? use a point)");
        return false;
    }
    if (n < 3) {
        bad_row(im, lineno, "expected 3 fields: channel,time,value");
        return false;
    }
    int32_t ch = config_find_channel(im->cfg, f[0]);
    if (ch < 0) {
        im->res->unknown_channel++;
        bad_row(im, lineno, "unknown channel \"%s\"", esc(f[0], e, sizeof(e)));
        return false;
    }
    int64_t ts;
    struct tu_iso_info ti;
    if (tu_parse_iso_info(f[1], &ts, &ti) < 0) {
        bad_row(im, lineno, "bad time \"%s\" (ISO 8601, e.g. 2026-03-29T02:00:00Z)",
                esc(f[1], e, sizeof(e)));
        return false;
    }
    if (!ti.has_time || !ti.has_offset) {
        bad_row(im, lineno,
                "time \"%s\" has no UTC offset: add Z or one like +01:00 (a local time is "
                "missing or repeated at a DST change)",
                esc(f[1], e, sizeof(e)));
        return false;
    }
    if (ti.leap_second) {
        bad_row(im, lineno,
                "time \"%s\" is a leap second (:60): Unix time has none, it would be the next "
                "second's",
                esc(f[1], e, sizeof(e)));
        return false;
    }
    char *end = f[2];
    double v = NAN;
    errno = 0;
    if (plain_decimal(f[2]))
        v = strtod_l(f[2], &end, im->c_locale);
    if (*end != '\0' || errno == ERANGE || !isfinite(v)) {
        bad_row(im, lineno, "bad value \"%s\" (a decimal number with a point, e.g. 1234.5)",
                esc(f[2], e, sizeof(e)));
        return false;
    }
    const struct channel *c = &im->cfg->channels[ch];
    if (v < c->min_value || v > c->max_value) {
        bad_row(im, lineno, "value %s out of the range of %s (%g to %g %s)",
                esc(f[2], e, sizeof(e)), c->id, c->min_value, c->max_value, c->unit);
        return false;
    }
    if (ts < FOYER_TS_MIN_S || ts > tu_now_s() + im->cfg->future_tolerance_s) {
        bad_row(im, lineno, "time \"%s\" is before 2000 or in the future", esc(f[1], e, sizeof(e)));
        return false;
    }
    im->rows[im->n++] = (struct reading){.channel = (uint32_t)ch, .ts_s = ts, .value = v};
    return true;
}

/* The header line: the three names, quoted or not. */
static bool header_ok(char *line)
{
    char *f[3];
    size_t n;
    return split_fields(line, f, 3, &n) == NULL && n == 3 && strcmp(f[0], "channel") == 0 &&
           strcmp(f[1], "time") == 0 && strcmp(f[2], "value") == 0;
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
    im.c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    if (im.c_locale == (locale_t)0)
        return -ENOMEM;
    im.rows = calloc(IMPORT_CHUNK_ROWS, sizeof(*im.rows));
    if (!im.rows) {
        freelocale(im.c_locale);
        return -ENOMEM;
    }
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
        char *t = conf_trim(line);
        if (lineno == 1 && strncmp(t, "\xef\xbb\xbf", 3) == 0)
            t += 3; /* UTF-8 BOM from spreadsheet exports */
        if (*t == '\0' || *t == '#')
            continue;
        if (!header) {
            if (!header_ok(t)) {
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
    freelocale(im.c_locale);
    return rc;
}
