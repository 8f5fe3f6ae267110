/*
 * coach_text.c - the text summary for a person, rendered from the JSON
 * document of summary_compute() and the words of the language
 * (summary.LANG.conf): every word and unit comes from that file, the C
 * code only chooses which line to print.
 *
 * Lines: the title, a warning when data is partial, one line per energy
 * and water (amount, euros, changes), heating against what the household
 * usually uses in such cold (only when the engine made that comparison), the
 * comparison with similar homes (praise first), comfort, night base load,
 * the building's shared figure and at most three tips.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "coach_int.h"
#include "foyer/timeutil.h"

struct out {
    const struct summary_lang *l;
    FILE *f;
    struct summary_vars *v;
    bool err;
};

static const char *str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static double num(const json_t *o, const char *key)
{
    const json_t *x = json_object_get(o, key);
    return json_is_number(x) ? json_number_value(x) : NAN;
}

/* Print template KEY expanded with the current figures, then a newline. */
static void line(struct out *o, const char *indent, const char *key)
{
    char buf[2048];
    summary_lang_expand(o->l, summary_lang_str(o->l, key), o->v, buf, sizeof(buf));
    if (fprintf(o->f, "%s%s\n", indent, buf) < 0)
        o->err = true;
}

static void blank(struct out *o)
{
    if (fputc('\n', o->f) == EOF)
        o->err = true;
}

/* "16 novembre 2026" from an ISO 8601 local time. */
static void date_text(const struct summary_lang *l, const char *iso, bool year, char *buf,
                      size_t len)
{
    int y = 0, m = 1, d = 1;
    char key[16];
    if (!iso || sscanf(iso, "%d-%d-%d", &y, &m, &d) != 3)
        m = 1;
    (void)snprintf(key, sizeof(key), "month_%d", m);
    if (year)
        (void)snprintf(buf, len, "%d %s %d", d, summary_lang_str(l, key), y);
    else
        (void)snprintf(buf, len, "%d %s", d, summary_lang_str(l, key));
}

/* The day before an ISO local time (the last day of a period ending there). */
static void last_day(const char *iso, char *buf, size_t len)
{
    int64_t ts;
    if (!iso || tu_parse_iso(iso, &ts) < 0) {
        (void)snprintf(buf, len, "%s", iso ? iso : "");
        return;
    }
    tu_format_local(ts - 3600, buf, len);
}

static void change_line(struct out *o, const json_t *ref, const char *prefix, const char *word)
{
    double pct = num(ref, "change_pct");
    char key[48];
    if (!isfinite(pct))
        return;
    summary_vars_set(o->v, "pct", fabs(pct));
    summary_vars_set_text(o->v, "ref", summary_lang_str(o->l, word));
    (void)snprintf(key, sizeof(key), "%s_%s", prefix,
                   fabs(pct) < 3 ? "same"
                   : pct > 0     ? "up"
                                 : "down");
    line(o, "      ", key);
}

static void energy_lines(struct out *o, const json_t *doc, bool week)
{
    const json_t *arr = json_object_get(doc, "consumption");
    const json_t *e;
    size_t i;
    bool heading = false;
    json_array_foreach(arr, i, e)
    {
        const char *q = json_string_value(json_object_get(e, "quantity"));
        const char *unit = json_string_value(json_object_get(e, "unit"));
        char key[48];
        if (!q || !unit)
            continue;
        if (!heading) {
            line(o, "", "heading_consumption");
            heading = true;
        }
        (void)snprintf(key, sizeof(key), "q_%s", q);
        summary_vars_set_text(o->v, "label", summary_lang_str(o->l, key));
        (void)snprintf(key, sizeof(key), "unit_%s", unit);
        summary_vars_set_text(o->v, "unit", summary_lang_str(o->l, key));
        summary_vars_set(o->v, "amount", num(e, "amount"));
        summary_vars_set(o->v, "eur", num(e, "eur"));
        bool reliable = json_is_true(json_object_get(e, "reliable"));
        summary_vars_set_text(o->v, "mark", reliable ? "" : summary_lang_str(o->l, "mark_partial"));
        line(o, "  ", isfinite(num(e, "eur")) ? "line_amount" : "line_amount_no_eur");
        change_line(o, json_object_get(e, "previous"), "prev",
                    week ? "ref_prev_week" : "ref_prev_month");
        change_line(o, json_object_get(e, "last_year"), "prev",
                    week ? "ref_last_year_week" : "ref_last_year_month");
    }
    if (heading)
        blank(o);
}

static void comparison_lines(struct out *o, const json_t *doc)
{
    const json_t *arr = json_object_get(doc, "consumption");
    const json_t *e;
    size_t i;
    json_array_foreach(arr, i, e)
    {
        const json_t *c = json_object_get(e, "comparison");
        const char *pos = json_string_value(json_object_get(c, "position"));
        const char *q = json_string_value(json_object_get(e, "quantity"));
        char key[48];
        if (!pos || !q)
            continue;
        (void)snprintf(key, sizeof(key), "q_%s", q);
        summary_vars_set_text(o->v, "label", summary_lang_str(o->l, key));
        summary_vars_set(o->v, "peers", num(c, "peers"));
        summary_vars_set(o->v, "mine", num(c, "per_m2"));
        summary_vars_set(o->v, "median", num(c, "median_per_m2"));
        (void)snprintf(key, sizeof(key), "compare_%s", pos);
        line(o, "  ", key);
    }
}

/* Only when the engine made a weather-corrected comparison (its
 * signature holds, the period had cold enough): otherwise nothing is said
 * about heating.  The verdict, not the figure, chooses praise or warning:
 * a change within the noise is "as usual". */
static void heating_lines(struct out *o, const json_t *doc)
{
    const json_t *h = json_object_get(doc, "heating");
    const json_t *w = json_object_get(h, "weather_corrected");
    const char *verdict = json_string_value(json_object_get(w, "verdict"));
    if (!json_is_object(w) || !verdict)
        return;
    summary_vars_set(o->v, "kwh", num(h, "heating_kwh"));
    summary_vars_set(o->v, "expected", num(w, "expected_kwh"));
    summary_vars_set(o->v, "dju", num(h, "dju"));
    summary_vars_set(o->v, "pct", fabs(num(w, "change_pct")));
    line(o, "", "heading_heating");
    line(o, "  ", "heating_line");
    line(o, "  ",
         strcmp(verdict, "less") == 0   ? "heating_less"
         : strcmp(verdict, "more") == 0 ? "heating_more"
                                        : "heating_same");
    blank(o);
}

static void comfort_lines(struct out *o, const json_t *doc)
{
    const json_t *c = json_object_get(doc, "comfort");
    if (!json_is_object(c))
        return;
    const json_t *t = json_object_get(c, "temperature");
    const json_t *h = json_object_get(c, "humidity");
    const json_t *co2 = json_object_get(c, "co2");
    line(o, "", "heading_comfort");
    if (isfinite(num(t, "mean"))) {
        summary_vars_set(o->v, "mean", num(t, "mean"));
        line(o, "  ", "comfort_temp");
    }
    if (num(t, "hours_below_16") > 0) {
        summary_vars_set(o->v, "hours", num(t, "hours_below_16"));
        line(o, "  ", "comfort_cold");
    }
    if (num(t, "hours_above_22") > 0) {
        summary_vars_set(o->v, "hours", num(t, "hours_above_22"));
        line(o, "  ", "comfort_warm");
    }
    if (num(h, "hours_above_70") > 0) {
        summary_vars_set(o->v, "hours", num(h, "hours_above_70"));
        line(o, "  ", "comfort_damp");
    }
    if (num(co2, "hours_above_1000") > 0) {
        summary_vars_set(o->v, "hours", num(co2, "hours_above_1000"));
        line(o, "  ", "comfort_co2");
    }
    blank(o);
}

int summary_render_text(const json_t *doc, const struct summary_lang *l, FILE *f)
{
    struct out o = {.l = l, .f = f, .v = calloc(1, sizeof(struct summary_vars))};
    if (!o.v)
        return -ENOMEM;
    const json_t *per = json_object_get(doc, "period");
    bool week = strcmp(str(per, "kind"), "week") == 0;
    char from[64], to[64], end[40];
    date_text(l, json_string_value(json_object_get(per, "from")), false, from, sizeof(from));
    last_day(json_string_value(json_object_get(per, "to")), end, sizeof(end));
    date_text(l, end, true, to, sizeof(to));
    summary_vars_set_text(o.v, "from", from);
    summary_vars_set_text(o.v, "to", to);
    summary_vars_set_text(o.v, "period", str(per, "id"));
    summary_vars_set_text(o.v, "dwelling", str(doc, "dwelling"));
    {
        int y = 0, m = 1;
        char key[16], month[64];
        if (sscanf(str(per, "id"), "%d-%d", &y, &m) != 2)
            m = 1;
        (void)snprintf(key, sizeof(key), "month_%d", m);
        (void)snprintf(month, sizeof(month), "%s %d", summary_lang_str(l, key), y);
        summary_vars_set_text(o.v, "month", month);
    }
    line(&o, "", week ? "title_week" : "title_month");
    if (json_is_true(json_object_get(per, "clipped_to_tenancy")))
        line(&o, "", "clipped");
    const json_t *cov = json_object_get(doc, "coverage");
    if (json_is_true(json_object_get(cov, "partial"))) {
        summary_vars_set(o.v, "coverage_pct", 100 * num(cov, "share"));
        line(&o, "",
             json_is_true(json_object_get(cov, "reliable")) ? "coverage_partial" : "coverage_low");
    }
    blank(&o);

    energy_lines(&o, doc, week);
    heating_lines(&o, doc);

    const json_t *arr = json_object_get(doc, "consumption");
    bool any_cmp = false;
    const json_t *e;
    size_t i;
    json_array_foreach(arr, i, e)
    {
        any_cmp |= json_is_object(json_object_get(e, "comparison"));
    }
    if (any_cmp) {
        line(&o, "", "heading_compare");
        comparison_lines(&o, doc);
        blank(&o);
    }
    comfort_lines(&o, doc);

    const json_t *bl = json_object_get(doc, "base_load");
    if (json_is_object(bl)) {
        summary_vars_set(o.v, "w", num(bl, "w"));
        summary_vars_set(o.v, "eur", num(bl, "eur_per_year"));
        line(&o, "", "heading_base_load");
        line(&o, "  ", isfinite(num(bl, "eur_per_year")) ? "base_load" : "base_load_no_eur");
        blank(&o);
    }
    const json_t *bt = json_object_get(doc, "building_total");
    /* Only with a verdict (schema 2): a schema 1 change divided by the
     * degree-days is no claim to make. */
    if (json_is_object(bt) && isfinite(num(bt, "change_pct")) &&
        json_is_string(json_object_get(bt, "verdict"))) {
        double pct = num(bt, "change_pct");
        summary_vars_set(o.v, "pct", fabs(pct));
        summary_vars_set(o.v, "dwellings", num(bt, "dwellings"));
        summary_vars_set_text(o.v, "norm",
                              json_is_true(json_object_get(bt, "normalised_by_dju"))
                                  ? summary_lang_str(l, "building_norm")
                                  : "");
        line(&o, "", "heading_building");
        const char *verdict = str(bt, "verdict");
        line(&o, "  ",
             strcmp(verdict, "less") == 0   ? "building_down"
             : strcmp(verdict, "more") == 0 ? "building_up"
                                            : "building_same");
        blank(&o);
    }
    const json_t *tips = json_object_get(doc, "tips");
    if (json_array_size(tips) > 0) {
        line(&o, "", "heading_tips");
        json_array_foreach(tips, i, e)
        {
            summary_vars_set(o.v, "n", (double)(i + 1));
            summary_vars_set_text(o.v, "text", str(e, "text"));
            line(&o, "  ", "tip_line");
            if (json_is_integer(json_object_get(e, "saving_eur_year"))) {
                summary_vars_set(o.v, "saving", num(e, "saving_eur_year"));
                line(&o, "     ", "tip_saving");
            }
        }
    }
    free(o.v);
    return o.err ? -EIO : 0;
}
