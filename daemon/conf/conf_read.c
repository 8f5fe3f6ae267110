/*
 * conf_read.c - reading the config's files: Foyer's one INI reader, the
 * raw sections, includes, and the collection of problems.
 *
 * The INI reader (conf_read_ini, conf_read_ini_file; its rules are in
 * config.h) lexes a file line by line and hands each header, key and
 * problem to a handler, with its line.  It is Foyer's only one: the config
 * and its includes, the meter profiles and the language files
 * (summary_lang.c) all go through it.  It was written instead of using
 * libinih because inih, as Debian ships it, gives a handler no line number
 * and no call on a header (an empty section would not exist), stops
 * reporting at the first error and keeps its options in process-wide
 * variables; wrapping it meant lexing every line a second time.
 *
 * For the config and the profiles, the raw handlers below check each
 * header against the schema (conf_sec_defs: known type, ID rule, valid ID)
 * and each key (known, not empty, not set twice), and append raw sections
 * (struct conf_sec) to a flat list.  `include = GLOB` is expanded where it
 * stands: the files it matches, in order, are read there and their
 * sections appended, then the including file's current section goes on.
 * Each file is read at most once in a load (an include loop or a file
 * included twice is reported at the include line), to a depth of
 * FOYER_CONF_INCLUDE_DEPTH.  Every file is opened by config_open_regular(),
 * so a FIFO matched by a glob never blocks a load.
 *
 * Problems are collected in the load's struct conf_parser (conf_err), with
 * control characters escaped (\xNN: an include may read any file and a
 * message must not drive the terminal it is shown on), and handed over
 * sorted by file, line and discovery order (conf_errs_take).  Nothing here
 * logs, and no state outlives a call.
 */
#include "conf_internal.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A problem of this load, as conf_err() collected it. */
struct conf_perr {
    uint32_t file; /* index in cfg->files, for sorting */
    int line;
    size_t seq;
    char *msg;
};

/* A file already read in this load (each is read at most once, so that
 * includes cannot multiply the work). */
struct conf_seen_file {
    dev_t dev;
    ino_t ino;
    const char *path;
};

/* Reading state of one config or profile file: the context of the raw
 * handlers (raw_section, raw_key) while conf_read_ini_file() reads it. */
struct pfile {
    const struct pfile *parent; /* the file that included it, or NULL */
    dev_t dev;                  /* to see include loops */
    ino_t ino;
    struct conf_parser *p;
    struct conf_secs *out;
    bool profile_file;
    FILE *f;
    const char *path; /* interned */
    int depth;
    long cur; /* index into out->v of the current section, or CUR_NONE */
};

#define CUR_NONE (-1L) /* before any section */

void *conf_calloc(struct conf_parser *p, size_t n, size_t size)
{
    void *v = calloc(n ? n : 1, size);
    if (!v)
        p->oom = true;
    return v;
}

char *conf_strdup(struct conf_parser *p, const char *s)
{
    char *d;
    if (!s)
        return NULL;
    d = strdup(s);
    if (!d)
        p->oom = true;
    return d;
}

/* Grow *v (of *cap elements of size) to hold at least n + 1. */
bool conf_grow(struct conf_parser *p, void **v, size_t *cap, size_t n, size_t size)
{
    size_t ncap;
    void *nv;
    if (n < *cap)
        return true;
    ncap = *cap ? *cap * 2 : 8;
    nv = reallocarray(*v, ncap, size);
    if (!nv) {
        p->oom = true;
        return false;
    }
    *v = nv;
    *cap = ncap;
    return true;
}

static uint32_t file_index(const struct conf_parser *p, const char *file)
{
    for (size_t i = 0; i < p->cfg->n_files; i++)
        if (p->cfg->files[i] == file)
            return (uint32_t)i;
    return 0;
}

/* Length of the well-formed UTF-8 sequence at s (1 to 4 bytes; no
 * overlong form, surrogate or code point past U+10FFFF), its code point in
 * *ret_cp; 0 when the bytes there are not one. */
size_t conf_utf8_char(const unsigned char *s, uint32_t *ret_cp)
{
    uint32_t cp;
    size_t n;
    if (*s < 0x80) {
        *ret_cp = *s;
        return 1;
    }
    if (*s >= 0xC2 && *s <= 0xDF) {
        n = 2;
        cp = *s & 0x1Fu;
    } else if ((*s & 0xF0) == 0xE0) {
        n = 3;
        cp = *s & 0x0Fu;
    } else if (*s >= 0xF0 && *s <= 0xF4) {
        n = 4;
        cp = *s & 0x07u;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3Fu);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    *ret_cp = cp;
    return n;
}

bool conf_is_control(uint32_t cp)
{
    return cp <= 0x1F || (cp >= 0x7F && cp <= 0x9F);
}

/* MSG with control characters and bytes that are not UTF-8 written \xNN:
 * messages quote config values, and an include may read any file, so a
 * message must not drive the terminal it is shown on.  Caller frees. */
static char *escape_controls(const char *msg)
{
    const unsigned char *s = (const unsigned char *)msg;
    char *out = malloc(strlen(msg) * 4 + 1), *o = out;
    if (!out)
        return NULL;
    while (*s) {
        uint32_t cp = 0;
        size_t n = conf_utf8_char(s, &cp);
        if (n == 0 || conf_is_control(cp)) {
            (void)sprintf(o, "\\x%02X", (unsigned)*s++);
            o += 4;
        } else {
            memcpy(o, s, n);
            o += n;
            s += n;
        }
    }
    *o = '\0';
    return out;
}

/* "FILE:LINE: MSG" (or "FILE: MSG" for line 0) with MSG's control
 * characters escaped, or NULL when out of memory.  Caller frees. */
static char *format_err(const struct conf_pos *pos, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
static char *format_err(const struct conf_pos *pos, const char *fmt, va_list ap)
{
    char *raw = NULL, *body, *msg = NULL;
    int r;

    if (vasprintf(&raw, fmt, ap) < 0)
        return NULL;
    body = escape_controls(raw);
    free(raw);
    if (!body)
        return NULL;
    if (pos->line > 0)
        r = asprintf(&msg, "%s:%d: %s", pos->file, pos->line, body);
    else
        r = asprintf(&msg, "%s: %s", pos->file, body);
    free(body);
    return r < 0 ? NULL : msg;
}

int conf_errors_add(struct conf_errors *errs, const struct conf_pos *pos, const char *fmt, ...)
{
    va_list ap;
    char *msg, **grown;

    va_start(ap, fmt);
    msg = format_err(pos, fmt, ap);
    va_end(ap);
    if (!msg)
        return -ENOMEM;
    grown = reallocarray(errs->msgs, errs->n + 1, sizeof(*grown));
    if (!grown) {
        free(msg);
        return -ENOMEM;
    }
    errs->msgs = grown;
    errs->msgs[errs->n++] = msg;
    return 0;
}

void conf_err(struct conf_parser *p, const struct conf_pos *pos, const char *fmt, ...)
{
    va_list ap;
    char *msg;

    va_start(ap, fmt);
    msg = format_err(pos, fmt, ap);
    va_end(ap);
    if (!msg) {
        p->oom = true;
        return;
    }
    if (!conf_grow(p, (void **)&p->errs, &p->cap_errs, p->n_errs, sizeof(*p->errs))) {
        free(msg);
        return;
    }
    p->errs[p->n_errs] = (struct conf_perr){file_index(p, pos->file), pos->line, p->n_errs, msg};
    p->n_errs++;
}

/* Keep one copy of each file path; conf_pos.file points at it. */
const char *conf_intern_file(struct conf_parser *p, const char *path)
{
    struct foyer_config *cfg = p->cfg;
    char *d;

    for (size_t i = 0; i < cfg->n_files; i++)
        if (strcmp(cfg->files[i], path) == 0)
            return cfg->files[i];
    d = conf_strdup(p, path);
    if (!d)
        return NULL;
    if (!conf_grow(p, (void **)&cfg->files, &p->cap_files, cfg->n_files, sizeof(*cfg->files))) {
        free(d);
        return NULL;
    }
    cfg->files[cfg->n_files++] = d;
    return d;
}

/* ---------------------------------------------------------------------- */
/* Small helpers                                                           */

bool conf_id_valid(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];
        if (!(isalnum(c) || c == '_' || c == '-') || c >= 0x80)
            return false;
    }
    return n >= 1 && n <= FOYER_ID_MAX;
}

char *conf_trim(char *s)
{
    char *e;
    while (isspace((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

/* Directory part of a path: "." for a bare file name. Caller frees. */
char *conf_dir_of(struct conf_parser *p, const char *path)
{
    const char *slash = strrchr(path, '/');
    char *d;
    if (!slash)
        return conf_strdup(p, ".");
    if (slash == path)
        return conf_strdup(p, "/");
    d = strndup(path, (size_t)(slash - path));
    if (!d)
        p->oom = true;
    return d;
}

/* DIR/REL, or REL when absolute or when DIR is ".". Caller frees. */
char *conf_path_join(struct conf_parser *p, const char *dir, const char *rel)
{
    char *r = NULL;
    if (rel[0] == '/' || strcmp(dir, ".") == 0)
        return conf_strdup(p, rel);
    if (asprintf(&r, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", rel) < 0) {
        p->oom = true;
        return NULL;
    }
    return r;
}

/* The same, with glob metacharacters of DIR escaped. */
static char *glob_join(struct conf_parser *p, const char *dir, const char *pattern)
{
    char *esc, *o, *r;
    if (pattern[0] == '/' || strcmp(dir, ".") == 0)
        return conf_strdup(p, pattern);
    esc = conf_calloc(p, strlen(dir) * 2 + 1, 1);
    if (!esc)
        return NULL;
    o = esc;
    for (const char *s = dir; *s; s++) {
        if (strchr("*?[]\\", *s))
            *o++ = '\\';
        *o++ = *s;
    }
    *o = '\0';
    r = conf_path_join(p, esc, pattern);
    free(esc);
    return r;
}

const char *conf_sec_label(const struct conf_sec *s, char *buf, size_t len)
{
    int r;
    if (s->id[0])
        r = snprintf(buf, len, "[%s %s]", conf_sec_defs[s->type].name, s->id);
    else
        r = snprintf(buf, len, "[%s]", conf_sec_defs[s->type].name);
    if (r < 0 || (size_t)r >= len)
        buf[0] = '\0';
    return buf;
}

#define CONF_LABEL_MAX (FOYER_ID_MAX + 16)

int config_open_regular(const char *path, FILE **ret_f)
{
    struct stat st;
    FILE *f;
    int fd, e;

    /* stat first, so that a device is never even opened (opening a tape or
     * a modem line acts on it); fstat after the open, against a swap. */
    if (stat(path, &st) < 0)
        return -errno;
    if (!S_ISREG(st.st_mode))
        return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
    fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    e = fstat(fd, &st) < 0    ? errno
        : S_ISREG(st.st_mode) ? 0
        : S_ISDIR(st.st_mode) ? EISDIR
                              : EINVAL;
    if (e) {
        close(fd);
        return -e;
    }
    f = fdopen(fd, "r");
    if (!f) {
        e = errno;
        close(fd);
        return -e;
    }
    *ret_f = f;
    return 0;
}

/* The text for a config_open_regular() error. */
const char *conf_open_strerror(int err)
{
    if (err == -EINVAL)
        return "not a regular file (a FIFO, socket or device)";
    return strerror(-err);
}

int conf_read_secret(const char *path, char *buf, size_t len)
{
    FILE *f = NULL;
    char *tmp;
    size_t n = 0;
    int c, r;

    if (len == 0)
        return -EMSGSIZE;
    r = config_open_regular(path, &f);
    if (r < 0)
        return r;
    /* Unbuffered (a secret is a line): no copy is left in a stdio buffer. */
    (void)setvbuf(f, NULL, _IONBF, 0);
    /* One byte more than buf: a "\r" before the "\n" is not the secret's. */
    tmp = malloc(len + 1);
    if (!tmp) {
        fclose(f);
        return -ENOMEM;
    }
    while ((c = getc(f)) != EOF && c != '\n') {
        if (n >= len) {
            r = -EMSGSIZE;
            goto out_wipe;
        }
        tmp[n++] = (char)c;
    }
    if (ferror(f)) {
        r = -EIO;
        goto out_wipe;
    }
    if (n > 0 && tmp[n - 1] == '\r')
        n--;
    if (n >= len) {
        r = -EMSGSIZE;
        goto out_wipe;
    }
    if (n == 0) {
        r = -ENODATA;
        goto out_wipe;
    }
    memcpy(buf, tmp, n);
    buf[n] = '\0';
out_wipe:
    explicit_bzero(tmp, len + 1);
    free(tmp);
    fclose(f);
    return r;
}

/* ---------------------------------------------------------------------- */
/* The INI reader                                                         */

/* Reading state of one INI file (conf_read_ini_file). */
struct ini_file {
    FILE *f;
    struct conf_pos pos; /* the file as the caller names it, the current line */
    const struct conf_ini_handler *h;
    void *ctx;
    bool skip; /* after a refused header: keys ignored up to the next one */
};

static void ini_err(struct ini_file *in, const char *msg)
{
    in->h->error(in->ctx, &in->pos, msg);
}

/* The first of CHARS in s, or a ';' after white space (an inline comment),
 * or the end of s. */
static char *ini_find(char *s, const char *chars)
{
    bool was_space = false;
    for (; *s; s++) {
        if (chars && strchr(chars, *s))
            break;
        if (was_space && *s == ';')
            break;
        was_space = isspace((unsigned char)*s) != 0;
    }
    return s;
}

/* A "[...]" line, s at the '[' and stripped: the header's words, or the
 * problem.  A refused header makes the keys up to the next one skipped. */
static void ini_header(struct ini_file *in, char *s)
{
    char *close = strchr(s, ']'), *after, *save = NULL;
    struct conf_ini_header hdr = {0};

    in->skip = true;
    if (!close) {
        ini_err(in, "syntax error: missing \"]\" in section header");
        return;
    }
    after = conf_trim(close + 1);
    if (*after && *after != ';' && *after != '#') {
        ini_err(in, "syntax error: text after section header");
        return;
    }
    *close = '\0';
    hdr.type = strtok_r(s + 1, " \t\n\v\f\r", &save);
    hdr.id = hdr.type ? strtok_r(NULL, " \t\n\v\f\r", &save) : NULL;
    hdr.extra = hdr.id && strtok_r(NULL, " \t\n\v\f\r", &save);
    if (!hdr.type) {
        ini_err(in, "syntax error: empty section header");
        return;
    }
    in->skip = !in->h->section(in->ctx, &hdr, &in->pos);
}

/* A "KEY = VALUE" or "KEY: VALUE" line, s stripped and not empty. */
static void ini_key(struct ini_file *in, char *s)
{
    char *sep = ini_find(s, "=:"), *value;

    if ((*sep != '=' && *sep != ':') || sep == s) {
        ini_err(in, "syntax error: expected \"key = value\"");
        return;
    }
    if (in->skip)
        return;
    *sep = '\0';
    s = conf_trim(s);
    value = sep + 1;
    *ini_find(value, NULL) = '\0';
    value = conf_trim(value);
    in->h->key(in->ctx, s, value, &in->pos);
}

int conf_read_ini_file(FILE *f, const char *path, const struct conf_ini_handler *h, void *ctx)
{
    struct ini_file in = {f, {path, 0}, h, ctx, false};
    char buf[FOYER_CONF_LINE_MAX + 2];

    for (;;) {
        char *s = buf;
        size_t len;

        if (!fgets(buf, (int)sizeof(buf), f)) {
            if (ferror(f)) {
                char msg[96];
                in.pos.line++;
                (void)snprintf(msg, sizeof(msg), "read error: %s", strerror(errno ? errno : EIO));
                ini_err(&in, msg);
                return -EIO;
            }
            return 0;
        }
        in.pos.line++;
        len = strlen(buf);
        if (len > 0 && buf[len - 1] != '\n' && !feof(f)) {
            char msg[64];
            int c;
            while ((c = getc(f)) != EOF && c != '\n')
                ;
            (void)snprintf(msg, sizeof(msg), "line too long (max %d characters)",
                           FOYER_CONF_LINE_MAX);
            ini_err(&in, msg);
            continue;
        }
        if (in.pos.line == 1 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
            s += 3;
        s = conf_trim(s);
        if (*s == '\0' || *s == ';' || *s == '#')
            continue;
        if (*s == '[')
            ini_header(&in, s);
        else
            ini_key(&in, s);
    }
}

int conf_read_ini(const char *path, const struct conf_ini_handler *h, void *ctx)
{
    FILE *f = NULL;
    int r = config_open_regular(path, &f);

    if (r < 0) {
        struct conf_pos pos = {path, 0};
        char msg[128];
        (void)snprintf(msg, sizeof(msg), "cannot open: %s", conf_open_strerror(r));
        h->error(ctx, &pos, msg);
        return r;
    }
    r = conf_read_ini_file(f, path, h, ctx);
    fclose(f);
    return r;
}

/* ---------------------------------------------------------------------- */
/* Raw sections: the config's and the profiles' handlers                   */

static void read_file(struct conf_parser *p, struct conf_secs *out, bool profile_file,
                      const char *path, const struct pfile *parent, const struct conf_pos *from);

static void raw_error(void *ctx, const struct conf_pos *pos, const char *msg)
{
    struct pfile *pf = ctx;
    conf_err(pf->p, pos, "%s", msg);
}

/* A header: a known type, with an ID when its type takes one.  Starts a new
 * raw section, or reports the problem and has the following keys skipped. */
static bool raw_section(void *ctx, const struct conf_ini_header *hdr, const struct conf_pos *pos)
{
    struct pfile *pf = ctx;
    struct conf_parser *p = pf->p;
    const char *type = hdr->type, *id = hdr->id;
    struct conf_sec *sec;
    int t;

    for (t = 0; t < SEC_COUNT_; t++)
        if (conf_sec_defs[t].profile_file == pf->profile_file &&
            strcmp(conf_sec_defs[t].name, type) == 0)
            break;
    if (t == SEC_COUNT_) {
        conf_err(p, pos, "unknown section type \"%s\"", type);
        return false;
    }
    if (hdr->extra) {
        conf_err(p, pos, "bad section header: expected [%s%s]", type,
                 conf_sec_defs[t].id_rule == SEC_ID_NONE ? "" : " ID");
        return false;
    }
    if (id && conf_sec_defs[t].id_rule == SEC_ID_NONE) {
        conf_err(p, pos, "[%s] takes no ID", type);
        return false;
    }
    if (!id && conf_sec_defs[t].id_rule == SEC_ID_REQUIRED) {
        conf_err(p, pos, "[%s] needs an ID: [%s ID]", type, type);
        return false;
    }
    if (id && !conf_id_valid(id)) {
        conf_err(p, pos, "bad ID \"%s\" in [%s %s]: use 1 to %d letters, digits, \"_\" or \"-\"",
                 id, type, id, FOYER_ID_MAX);
        return false;
    }
    if (!conf_grow(p, (void **)&pf->out->v, &pf->out->cap, pf->out->n, sizeof(*pf->out->v)))
        return false;
    sec = conf_calloc(p, 1, sizeof(*sec));
    if (!sec)
        return false;
    sec->type = (enum conf_sec_type)t;
    if (id)
        memcpy(sec->id, id, strlen(id) + 1);
    sec->pos = *pos;
    sec->seq = p->seq++;
    pf->cur = (long)pf->out->n;
    pf->out->v[pf->out->n++] = sec;
    return true;
}

static bool key_allowed(const struct conf_sec *sec, const char *name)
{
    for (const char *const *k = conf_sec_defs[sec->type].keys; *k; k++)
        if (strcmp(*k, name) == 0)
            return true;
    return sec->type == SEC_SENSOR &&
           (strncmp(name, "channel.", 8) == 0 || strncmp(name, "device.", 7) == 0);
}

static void do_include(struct pfile *pf, const struct conf_pos *pos, const char *pattern);

static void raw_key(void *ctx, const char *name, const char *value, const struct conf_pos *pos)
{
    struct pfile *pf = ctx;
    struct conf_parser *p = pf->p;
    struct conf_sec *sec;
    char lbl[CONF_LABEL_MAX];

    if (!pf->profile_file && strcmp(name, "include") == 0) {
        if (!*value)
            conf_err(p, pos, "empty value for \"include\"");
        else
            do_include(pf, pos, value);
        return;
    }
    if (pf->cur == CUR_NONE) {
        conf_err(p, pos, "key \"%s\" outside any section", name);
        return;
    }
    sec = pf->out->v[pf->cur];
    if (!key_allowed(sec, name)) {
        conf_err(p, pos, "unknown key \"%s\" in %s", name, conf_sec_label(sec, lbl, sizeof(lbl)));
        return;
    }
    if (!*value) {
        conf_err(p, pos, "empty value for \"%s\" in %s", name,
                 conf_sec_label(sec, lbl, sizeof(lbl)));
        return;
    }
    for (size_t i = 0; i < sec->n_keys; i++) {
        if (strcmp(sec->keys[i].name, name) == 0) {
            conf_err(p, pos, "duplicate key \"%s\" in %s (first set at line %d)", name,
                     conf_sec_label(sec, lbl, sizeof(lbl)), sec->keys[i].pos.line);
            return;
        }
    }
    if (!conf_grow(p, (void **)&sec->keys, &sec->cap_keys, sec->n_keys, sizeof(*sec->keys)))
        return;
    sec->keys[sec->n_keys].name = conf_strdup(p, name);
    sec->keys[sec->n_keys].value = conf_strdup(p, value);
    sec->keys[sec->n_keys].pos = *pos;
    if (!sec->keys[sec->n_keys].name || !sec->keys[sec->n_keys].value) {
        free(sec->keys[sec->n_keys].name);
        free(sec->keys[sec->n_keys].value);
        return;
    }
    sec->n_keys++;
}

static const struct conf_ini_handler raw_handler = {raw_section, raw_key, raw_error};

/* `include = GLOB` at POS: each file it matches, in glob's (sorted) order,
 * read where the line stands. */
static void do_include(struct pfile *pf, const struct conf_pos *pos, const char *pattern)
{
    struct conf_parser *p = pf->p;
    glob_t g;
    char *dir, *full;
    int r;

    if (pf->depth >= FOYER_CONF_INCLUDE_DEPTH) {
        conf_err(p, pos, "include nested too deeply (max %d levels)", FOYER_CONF_INCLUDE_DEPTH);
        return;
    }
    dir = conf_dir_of(p, pf->path);
    if (!dir)
        return;
    full = glob_join(p, dir, pattern);
    free(dir);
    if (!full)
        return;
    memset(&g, 0, sizeof(g));
    r = glob(full, 0, NULL, &g);
    if (r == GLOB_NOMATCH) {
        /* Nothing to include is fine: conf.d may be empty. */
    } else if (r == GLOB_NOSPACE) {
        p->oom = true;
    } else if (r != 0) {
        conf_err(p, pos, "cannot read include \"%s\"", full);
    } else {
        for (size_t i = 0; i < g.gl_pathc; i++)
            read_file(p, pf->out, false, g.gl_pathv[i], pf, pos);
    }
    globfree(&g);
    free(full);
}

/* Read PATH into OUT.  PARENT is the including file (NULL for the main file
 * and profiles); FROM is the include line (or meter profile line) that named
 * it, NULL for the main file. */
static void read_file(struct conf_parser *p, struct conf_secs *out, bool profile_file,
                      const char *path, const struct pfile *parent, const struct conf_pos *from)
{
    struct pfile *pf;
    struct stat st;
    int r;
    const char *ipath = conf_intern_file(p, path);

    if (!ipath)
        return;
    pf = conf_calloc(p, 1, sizeof(*pf));
    if (!pf)
        return;
    pf->p = p;
    pf->out = out;
    pf->profile_file = profile_file;
    pf->path = ipath;
    pf->parent = parent;
    pf->depth = parent ? parent->depth + 1 : 0;
    pf->cur = CUR_NONE;
    r = config_open_regular(path, &pf->f);
    if (r == 0 && fstat(fileno(pf->f), &st) < 0) {
        r = -errno;
        fclose(pf->f);
    }
    if (r < 0) {
        if (from) {
            conf_err(p, from, "cannot open %s \"%s\": %s", profile_file ? "profile" : "include",
                     path, conf_open_strerror(r));
        } else {
            struct conf_pos pos = {ipath, 0};
            conf_err(p, &pos, "cannot open: %s", conf_open_strerror(r));
        }
        free(pf);
        return;
    }
    pf->dev = st.st_dev;
    pf->ino = st.st_ino;
    for (const struct pfile *a = parent; a; a = a->parent) {
        if (a->dev == pf->dev && a->ino == pf->ino) {
            conf_err(p, from, "include loop: \"%s\" is already being read", path);
            goto out_close;
        }
    }
    for (size_t i = 0; !profile_file && i < p->n_seen; i++) {
        if (p->seen[i].dev == pf->dev && p->seen[i].ino == pf->ino) {
            conf_err(p, from, "\"%s\" is included twice (already read as \"%s\")", path,
                     p->seen[i].path);
            goto out_close;
        }
    }
    if (!profile_file) {
        if (!conf_grow(p, (void **)&p->seen, &p->cap_seen, p->n_seen, sizeof(*p->seen)))
            goto out_close;
        p->seen[p->n_seen++] = (struct conf_seen_file){pf->dev, pf->ino, ipath};
    }
    (void)conf_read_ini_file(pf->f, ipath, &raw_handler, pf);
out_close:
    fclose(pf->f);
    free(pf);
}

void conf_read_file(struct conf_parser *p, struct conf_secs *out, bool profile_file,
                    const char *path, const struct conf_pos *from)
{
    read_file(p, out, profile_file, path, NULL, from);
}

void conf_secs_free(struct conf_secs *r)
{
    for (size_t i = 0; i < r->n; i++) {
        for (size_t k = 0; k < r->v[i]->n_keys; k++) {
            free(r->v[i]->keys[k].name);
            free(r->v[i]->keys[k].value);
        }
        free(r->v[i]->keys);
        free(r->v[i]);
    }
    free(r->v);
    memset(r, 0, sizeof(*r));
}

/* ---------------------------------------------------------------------- */
/* Handing the problems over                                               */

static int cmp_perr(const void *a, const void *b)
{
    const struct conf_perr *x = a, *y = b;
    if (x->file != y->file)
        return x->file < y->file ? -1 : 1;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

bool conf_errs_take(struct conf_parser *p, struct conf_errors *errs)
{
    qsort(p->errs, p->n_errs, sizeof(*p->errs), cmp_perr);
    errs->msgs = calloc(p->n_errs ? p->n_errs : 1, sizeof(*errs->msgs));
    if (errs->msgs) {
        for (size_t i = 0; i < p->n_errs; i++)
            errs->msgs[i] = p->errs[i].msg;
        errs->n = p->n_errs;
    } else {
        for (size_t i = 0; i < p->n_errs; i++)
            free(p->errs[i].msg);
    }
    free(p->errs);
    p->errs = NULL;
    p->n_errs = p->cap_errs = 0;
    return errs->msgs != NULL;
}

void conf_errors_free(struct conf_errors *errs)
{
    if (!errs)
        return;
    for (size_t i = 0; i < errs->n; i++)
        free(errs->msgs[i]);
    free(errs->msgs);
    errs->msgs = NULL;
    errs->n = 0;
}
