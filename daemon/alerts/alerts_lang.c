/*
 * alerts_lang.c - the sentences of alerts, French first and English, from
 * config/alerts.fr.conf and config/alerts.en.conf (beside foyer.conf, or in
 * FOYER_LANG_DIR), read by the config's INI reader (conf_read_ini()), so
 * every problem is reported as FILE:LINE.
 *
 *   [alerts]
 *   KEY = TEXT     one sentence per kind and variant (enum alerts_text),
 *                  with placeholders {place} {subject} {value} {threshold}
 *                  {since}
 *
 * Both files must have exactly the same keys, every one of them: an alert
 * is stored with its sentence in both languages, and a sentence missing in
 * one would show an ambassador an empty line.  The sentences are filled in
 * when an alert opens and stored with it: its history reads as it was.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts_int.h"
#include "foyer/limits.h"
#include "foyer/timeutil.h"

static const char *const text_keys[AT_COUNT_] = {
    [AT_DEVICE_SILENT_METER] = "device_silent_meter",
    [AT_DEVICE_SILENT_SENSOR] = "device_silent_sensor",
    [AT_DEVICE_SILENT_BUS] = "device_silent_bus",
    [AT_DEVICE_SILENT_BROKER] = "device_silent_broker",
    [AT_WATER_LEAK] = "water_leak",
    [AT_COLD_HOME] = "cold_home",
    [AT_DAMP_HOME] = "damp_home",
    [AT_DAMP_HOME_COLD] = "damp_home_cold",
    [AT_STALE_AIR] = "stale_air",
    [AT_ABNORMAL_USE] = "abnormal_use",
    [AT_METER_RESET] = "meter_reset",
    [AT_INDEX_JUMP] = "index_jump",
    [AT_VACANT_USE] = "vacant_use",
};

static const char *const lang_names[ALERTS_LANG_COUNT_] = {[ALERTS_FR] = "fr", [ALERTS_EN] = "en"};

struct alerts_texts {
    char *text[ALERTS_LANG_COUNT_][AT_COUNT_];
};

/* The state of reading one file. */
struct tparse {
    struct alerts_texts *t;
    enum alerts_lang_id lang;
    const char *path;
    struct conf_errors *errs;
    int line[AT_COUNT_]; /* where each key was set, 0 not yet */
    bool in_alerts;      /* inside [alerts] */
    size_t problems;
    bool oom;
};

static void terr(struct tparse *p, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void terr(struct tparse *p, int line, const char *fmt, ...)
{
    struct conf_pos pos = {p->path, line};
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    p->problems++;
    if (conf_errors_add(p->errs, &pos, "%s", msg) < 0)
        p->oom = true;
}

static bool text_section(void *ctx, const struct conf_ini_header *hdr, const struct conf_pos *pos)
{
    struct tparse *p = ctx;
    p->in_alerts = strcmp(hdr->type, "alerts") == 0 && !hdr->id && !hdr->extra;
    if (!p->in_alerts)
        terr(p, pos->line, "unknown section \"%s\" (expected [alerts])", hdr->type);
    return p->in_alerts;
}

static void text_key(void *ctx, const char *key, const char *value, const struct conf_pos *pos)
{
    struct tparse *p = ctx;
    if (!p->in_alerts) {
        terr(p, pos->line, "key \"%s\" outside [alerts]", key);
        return;
    }
    for (int k = 0; k < AT_COUNT_; k++) {
        if (strcmp(text_keys[k], key) != 0)
            continue;
        if (p->line[k]) {
            terr(p, pos->line, "\"%s\" set twice (first at line %d)", key, p->line[k]);
            return;
        }
        if (value[0] == '\0') {
            terr(p, pos->line, "\"%s\" is empty", key);
            return;
        }
        if (strlen(value) > FOYER_ALERT_TEMPLATE_MAX) {
            terr(p, pos->line, "\"%s\" is longer than %d bytes", key, FOYER_ALERT_TEMPLATE_MAX);
            return;
        }
        p->line[k] = pos->line;
        p->t->text[p->lang][k] = strdup(value);
        if (!p->t->text[p->lang][k])
            p->oom = true;
        return;
    }
    terr(p, pos->line, "unknown key \"%s\" (see the keys in foyer.conf(5))", key);
}

static void text_error(void *ctx, const struct conf_pos *pos, const char *msg)
{
    struct tparse *p = ctx;
    terr(p, pos->line, "%s", msg);
}

static const struct conf_ini_handler text_handler = {text_section, text_key, text_error};

void alerts_lang_dir(const struct foyer_config *cfg, char *buf, size_t len)
{
    const char *env = getenv("FOYER_LANG_DIR");
    if (env && *env) {
        (void)snprintf(buf, len, "%s", env);
        return;
    }
    const char *slash = cfg->main_file ? strrchr(cfg->main_file, '/') : NULL;
    if (!slash)
        (void)snprintf(buf, len, ".");
    else
        (void)snprintf(buf, len, "%.*s", (int)(slash - cfg->main_file), cfg->main_file);
}

void alerts_texts_free(struct alerts_texts *t)
{
    if (!t)
        return;
    for (int l = 0; l < ALERTS_LANG_COUNT_; l++)
        for (int k = 0; k < AT_COUNT_; k++)
            free(t->text[l][k]);
    free(t);
}

int alerts_texts_load(const char *dir, struct alerts_texts **ret, struct conf_errors *errs)
{
    struct alerts_texts *t = calloc(1, sizeof(*t));
    char path[ALERTS_LANG_COUNT_][1024];
    int line[ALERTS_LANG_COUNT_][AT_COUNT_];
    size_t problems = 0;
    bool oom = !t;

    for (int l = 0; !oom && l < ALERTS_LANG_COUNT_; l++) {
        if (snprintf(path[l], sizeof(path[l]), "%s/alerts.%s.conf", dir, lang_names[l]) >=
            (int)sizeof(path[l])) {
            alerts_texts_free(t);
            return -ENAMETOOLONG;
        }
        struct tparse p = {.t = t, .lang = (enum alerts_lang_id)l, .path = path[l], .errs = errs};
        (void)conf_read_ini(path[l], &text_handler, &p);
        memcpy(line[l], p.line, sizeof(p.line));
        problems += p.problems;
        oom |= p.oom;
    }
    /* The key sets must be equal: a key of one file missing in the other is
     * named at the line that has it; a key missing in both at the file. */
    for (int k = 0; !oom && k < AT_COUNT_; k++) {
        for (int l = 0; l < ALERTS_LANG_COUNT_; l++) {
            if (line[l][k])
                continue;
            int o = 1 - l;
            struct conf_pos pos = {path[o], line[o][k]};
            problems++;
            if (line[o][k])
                oom |= conf_errors_add(errs, &pos, "\"%s\" has no sentence in %s (%s)",
                                       text_keys[k], path[l], lang_names[l]) < 0;
            else if (l == 0)
                oom |=
                    conf_errors_add(errs, &(struct conf_pos){path[l], 0},
                                    "no sentence \"%s\" here nor in %s", text_keys[k], path[o]) < 0;
        }
    }
    if (oom) {
        alerts_texts_free(t);
        return -ENOMEM;
    }
    if (problems) {
        alerts_texts_free(t);
        return -EINVAL;
    }
    *ret = t;
    return 0;
}

/* A figure as people read it: no decimals from 100 up, one below. */
static void fmt_figure(double v, char *buf, size_t len)
{
    if (!isfinite(v))
        (void)snprintf(buf, len, "?");
    else if (fabs(v) >= 100)
        (void)snprintf(buf, len, "%.0f", v);
    else
        (void)snprintf(buf, len, "%.1f", v);
}

void alerts_texts_fill(const struct alerts_texts *t, enum alerts_lang_id lang, enum alerts_text key,
                       const struct alerts_fill *f, char *buf, size_t len)
{
    const char *s = t->text[lang][key];
    size_t o = 0;
    if (len == 0)
        return;
    while (*s && o + 1 < len) {
        char tmp[64];
        const char *rep = NULL;
        size_t skip = 0;
        if (*s == '{') {
            static const char *const names[] = {"{place}", "{subject}", "{value}", "{threshold}",
                                                "{since}"};
            for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && !rep; i++) {
                size_t n = strlen(names[i]);
                if (strncmp(s, names[i], n) != 0)
                    continue;
                skip = n;
                if (i == 0)
                    rep = f->place ? f->place : "?";
                else if (i == 1)
                    rep = f->subject ? f->subject : "?";
                else if (i == 2 || i == 3) {
                    fmt_figure(i == 2 ? f->value : f->threshold, tmp, sizeof(tmp));
                    rep = tmp;
                } else {
                    /* Local date and hour: "2026-11-30 04:00". */
                    char iso[40];
                    tu_format_local(f->since_s, iso, sizeof(iso));
                    (void)snprintf(tmp, sizeof(tmp), "%.10s %.5s", iso, iso + 11);
                    rep = tmp;
                }
            }
        }
        if (!rep) {
            buf[o++] = *s++;
            continue;
        }
        size_t n = strlen(rep);
        if (n > len - 1 - o)
            n = len - 1 - o;
        memcpy(buf + o, rep, n);
        o += n;
        s += skip;
    }
    buf[o] = '\0';
}

int alerts_lang_check(const struct foyer_config *cfg, struct conf_errors *errs)
{
    char dir[1024];
    struct alerts_texts *t = NULL;
    size_t before = errs->n;
    alerts_lang_dir(cfg, dir, sizeof(dir));
    int rc = alerts_texts_load(dir, &t, errs);
    alerts_texts_free(t);
    if (rc == -EINVAL)
        return (int)(errs->n - before);
    return rc;
}
