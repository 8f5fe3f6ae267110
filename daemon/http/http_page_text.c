/*
 * http_page_text.c - the language files of the pages: config/web.fr.conf
 * and config/web.en.conf, read by the config's INI reader (FILE:LINE for
 * every problem) from the directory of the language files
 * (summary_lang_dir(): beside foyer.conf, or $FOYER_LANG_DIR).
 *
 *   [format]    decimal = ,   thousands = " "   (quotes taken off)
 *   [strings]   KEY = TEXT    every key of PAGE_KEYS (http_page.h), no other
 *
 * Both files must hold the same keys, the ones the code uses: a missing key
 * is an error naming the file and the key, so a page never shows a key
 * instead of a sentence.  foyerd --check-config loads both
 * (http_pages_check_texts()).
 *
 * The handlers load the texts on first use and keep them (with the tip
 * catalogue's ids, which a tip answer must name) until http_pages_reset():
 * immutable once loaded, shared by libmicrohttpd's threads.  This file
 * writes no HTML (it is linked by foyerd for --check-config alone).
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "foyer/coach.h"
#include "foyer/http_pages.h"
#include "foyer/limits.h"
#include "foyer/log.h"
#include "http_page.h"

static const char *const page_key_names[PK_COUNT_] = {
#define PAGE_KEY_NAME(k) #k,
    PAGE_KEYS(PAGE_KEY_NAME)
#undef PAGE_KEY_NAME
};

static const char *const page_lang_codes[PAGE_LANG_COUNT_] = {"fr", "en"};

/* One file being read. */
struct text_load {
    struct page_lang *l;
    struct conf_errors *errs;
    int section; /* 0 none, 1 [format], 2 [strings], -1 unknown */
    int line[PK_COUNT_];
    int n_errors;
    int rc; /* -ENOMEM */
};

static void text_error(struct text_load *tl, const struct conf_pos *pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void text_error(struct text_load *tl, const struct conf_pos *pos, const char *fmt, ...)
{
    char msg[FOYER_CONF_LINE_MAX + 256];
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    tl->n_errors++;
    if (conf_errors_add(tl->errs, pos, "%s", msg) < 0)
        tl->rc = -ENOMEM;
}

static bool text_section(void *ctx, const struct conf_ini_header *hdr, const struct conf_pos *pos)
{
    struct text_load *tl = ctx;
    if (!hdr->id && !hdr->extra && strcmp(hdr->type, "format") == 0) {
        tl->section = 1;
    } else if (!hdr->id && !hdr->extra && strcmp(hdr->type, "strings") == 0) {
        tl->section = 2;
    } else {
        tl->section = -1;
        text_error(tl, pos, "unknown section [%s]: expected [format] or [strings]", hdr->type);
        return false;
    }
    return true;
}

/* value without one pair of enclosing double quotes (a value may need
 * them to keep a blank: thousands = " "). */
static void unquote(const char *value, char *buf, size_t len)
{
    size_t n = strlen(value);
    if (n >= 2 && value[0] == '"' && value[n - 1] == '"')
        (void)snprintf(buf, len, "%.*s", (int)(n - 2), value + 1);
    else
        (void)snprintf(buf, len, "%s", value);
}

static void text_key(void *ctx, const char *key, const char *value, const struct conf_pos *pos)
{
    struct text_load *tl = ctx;
    if (tl->section == 1) {
        char *dst = strcmp(key, "decimal") == 0     ? tl->l->decimal
                    : strcmp(key, "thousands") == 0 ? tl->l->thousands
                                                    : NULL;
        if (!dst) {
            text_error(tl, pos, "unknown key \"%s\" in [format]: expected decimal or thousands",
                       key);
            return;
        }
        char v[64];
        unquote(value, v, sizeof(v));
        if (strlen(v) >= sizeof(tl->l->decimal) || (dst == tl->l->decimal && !*v)) {
            text_error(tl, pos, "[format] %s: one separator expected", key);
            return;
        }
        memcpy(dst, v, strlen(v) + 1);
        return;
    }
    if (tl->section != 2) {
        text_error(tl, pos, "key \"%s\" outside [strings]", key);
        return;
    }
    for (int k = 0; k < PK_COUNT_; k++) {
        if (strcmp(page_key_names[k], key) != 0)
            continue;
        if (tl->line[k]) {
            text_error(tl, pos, "key \"%s\" given twice", key);
            return;
        }
        if (!*value) {
            text_error(tl, pos, "key \"%s\" has no text", key);
            return;
        }
        tl->l->text[k] = strdup(value);
        if (!tl->l->text[k]) {
            tl->rc = -ENOMEM;
            return;
        }
        tl->line[k] = pos->line;
        return;
    }
    text_error(tl, pos, "unknown key \"%s\": the pages do not use it", key);
}

static void text_reader_error(void *ctx, const struct conf_pos *pos, const char *msg)
{
    text_error(ctx, pos, "%s", msg);
}

static const struct conf_ini_handler text_handler = {
    .section = text_section,
    .key = text_key,
    .error = text_reader_error,
};

void page_texts_free(struct page_lang *langs)
{
    if (!langs)
        return;
    for (int i = 0; i < PAGE_LANG_COUNT_; i++)
        for (int k = 0; k < PK_COUNT_; k++)
            free(langs[i].text[k]);
    free(langs);
}

int page_texts_load(const char *dir, struct page_lang **ret, struct conf_errors *errs)
{
    struct page_lang *langs = calloc(PAGE_LANG_COUNT_, sizeof(*langs));
    int n_errors = 0, rc = 0;
    if (!langs)
        return -ENOMEM;
    for (int i = 0; i < PAGE_LANG_COUNT_ && rc == 0; i++) {
        char path[PATH_MAX];
        struct text_load tl = {.l = &langs[i], .errs = errs};
        langs[i].code = page_lang_codes[i];
        (void)snprintf(langs[i].decimal, sizeof(langs[i].decimal), ".");
        int n = snprintf(path, sizeof(path), "%s/web.%s.conf", dir, page_lang_codes[i]);
        if (n < 0 || (size_t)n >= sizeof(path)) {
            rc = -ENAMETOOLONG;
            break;
        }
        /* The reader reports an open failure to text_reader_error(). */
        (void)conf_read_ini(path, &text_handler, &tl);
        for (int k = 0; k < PK_COUNT_ && tl.rc == 0 && tl.n_errors == 0; k++) {
            if (!tl.line[k]) {
                struct conf_pos pos = {.file = path, .line = 0};
                text_error(&tl, &pos,
                           "missing key \"%s\" (every page text must be in both "
                           "web.fr.conf and web.en.conf)",
                           page_key_names[k]);
            }
        }
        n_errors += tl.n_errors;
        rc = tl.rc;
    }
    if (rc == 0 && n_errors > 0)
        rc = -EINVAL;
    if (rc < 0) {
        page_texts_free(langs);
        return rc;
    }
    *ret = langs;
    return 0;
}

int http_pages_check_texts(const struct foyer_config *cfg, struct conf_errors *errs)
{
    char dir[PATH_MAX];
    struct page_lang *langs = NULL;
    size_t before = errs->n;
    summary_lang_dir(cfg, dir, sizeof(dir));
    int rc = page_texts_load(dir, &langs, errs);
    page_texts_free(langs);
    if (rc == -ENOMEM)
        return rc;
    if (rc < 0 && errs->n == before) {
        struct conf_pos pos = {.file = dir, .line = 0};
        if (conf_errors_add(errs, &pos, "cannot load the pages' language files: %s",
                            strerror(-rc)) < 0)
            return -ENOMEM;
    }
    return (int)(errs->n - before);
}

/* ---- the texts of the running pages ------------------------------------ */

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct page_lang *cache_langs;
static struct summary_lang *cache_tips; /* the French catalogue: the tip ids */
static bool cache_failed;               /* logged once; retried after a reset */

/* Load the texts and the tip catalogue if not yet done; the lock held. */
static void cache_fill(const struct foyer_config *cfg)
{
    char dir[PATH_MAX];
    struct conf_errors errs = {0};
    if (cache_langs || cache_failed)
        return;
    summary_lang_dir(cfg, dir, sizeof(dir));
    int rc = page_texts_load(dir, &cache_langs, &errs);
    if (rc == 0)
        rc = summary_lang_load(dir, "fr", &cache_tips, &errs);
    if (rc < 0) {
        for (size_t i = 0; i < errs.n; i++)
            log_err("%s", errs.msgs[i]);
        log_err("pages: cannot load the language files in %s (%s): the pages answer 500 until "
                "the next reload",
                dir, strerror(-rc));
        page_texts_free(cache_langs);
        cache_langs = NULL;
        cache_failed = true;
    }
    conf_errors_free(&errs);
}

const struct page_lang *page_texts_get(const struct foyer_config *cfg, const char *lang)
{
    const struct page_lang *l = NULL;
    pthread_mutex_lock(&cache_lock);
    cache_fill(cfg);
    if (cache_langs)
        l = &cache_langs[lang && strcmp(lang, "en") == 0 ? PAGE_EN : PAGE_FR];
    pthread_mutex_unlock(&cache_lock);
    return l;
}

bool page_tip_known(const struct foyer_config *cfg, const char *tip)
{
    bool known = false;
    pthread_mutex_lock(&cache_lock);
    cache_fill(cfg);
    for (size_t i = 0; cache_tips && !known && i < summary_lang_n_tips(cache_tips); i++)
        known = strcmp(summary_lang_tip_id(cache_tips, i), tip) == 0;
    pthread_mutex_unlock(&cache_lock);
    return known;
}

void http_pages_reset(void)
{
    pthread_mutex_lock(&cache_lock);
    page_texts_free(cache_langs);
    summary_lang_free(cache_tips);
    cache_langs = NULL;
    cache_tips = NULL;
    cache_failed = false;
    pthread_mutex_unlock(&cache_lock);
}
