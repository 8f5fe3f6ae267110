/*
 * collector_conf.c - foyer-collector's config file (collector.conf, INI;
 * the annotated example is config/collector.conf).
 *
 * Read with foyerd's INI reader, conf_read_ini() (include/foyer/config.h):
 * one reader for every INI file of the project.  The sections are [broker],
 * [postgresql] and [collector]; every unknown section or key, bad value,
 * key given twice and missing requirement is reported as "FILE:LINE:
 * message" (line 0: the file as a whole), all of them, not only the first.
 * Secrets (password_file, conninfo_file) are read here, with
 * conf_read_secret(), so that --check-config also checks they can be read.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collector.h"

enum sec { SEC_NONE, SEC_BROKER, SEC_PG, SEC_COLLECTOR };

struct load {
    struct collector_conf *c;
    const char *path;
    FILE *errs;
    int n_errs;
    enum sec sec;
    char seen[64][32]; /* keys set so far, "section.key", to refuse repeats */
    int n_seen;
    char conninfo_file[4096];
    int conninfo_line, port_line;
    bool port_set;
};

__attribute__((format(printf, 3, 4))) static void err_at(struct load *l, int line, const char *fmt,
                                                         ...)
{
    va_list ap;

    fprintf(l->errs, "%s:%d: ", l->path, line);
    va_start(ap, fmt);
    vfprintf(l->errs, fmt, ap);
    va_end(ap);
    fputc('\n', l->errs);
    l->n_errs++;
}

static void on_error(void *ctx, const struct conf_pos *pos, const char *msg)
{
    struct load *l = ctx;

    err_at(l, pos->line, "%s", msg);
}

static bool on_section(void *ctx, const struct conf_ini_header *hdr, const struct conf_pos *pos)
{
    struct load *l = ctx;

    l->sec = SEC_NONE;
    if (hdr->id || hdr->extra) {
        err_at(l, pos->line, "[%s] takes no name", hdr->type);
        return false;
    }
    if (strcmp(hdr->type, "broker") == 0)
        l->sec = SEC_BROKER;
    else if (strcmp(hdr->type, "postgresql") == 0)
        l->sec = SEC_PG;
    else if (strcmp(hdr->type, "collector") == 0)
        l->sec = SEC_COLLECTOR;
    else {
        err_at(l, pos->line, "unknown section [%s] (broker, postgresql, collector)", hdr->type);
        return false;
    }
    return true;
}

static bool set_str(struct load *l, int line, const char *key, const char *v, char *dst,
                    size_t size)
{
    if (strlen(v) >= size) {
        err_at(l, line, "%s: longer than %zu bytes", key, size - 1);
        return false;
    }
    memcpy(dst, v, strlen(v) + 1);
    return true;
}

static bool set_int(struct load *l, int line, const char *key, const char *v, long min, long max,
                    int *dst)
{
    char *end;
    long n;

    errno = 0;
    n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < min || n > max) {
        err_at(l, line, "%s: \"%s\" is not an integer from %ld to %ld", key, v, min, max);
        return false;
    }
    *dst = (int)n;
    return true;
}

static bool set_bool(struct load *l, int line, const char *key, const char *v, bool *dst)
{
    if (strcmp(v, "true") == 0 || strcmp(v, "yes") == 0 || strcmp(v, "1") == 0)
        *dst = true;
    else if (strcmp(v, "false") == 0 || strcmp(v, "no") == 0 || strcmp(v, "0") == 0)
        *dst = false;
    else {
        err_at(l, line, "%s: \"%s\" is not true or false", key, v);
        return false;
    }
    return true;
}

static void key_broker(struct load *l, const char *k, const char *v, int line)
{
    struct collector_conf *c = l->c;
    int n;

    if (strcmp(k, "host") == 0)
        (void)set_str(l, line, k, v, c->host, sizeof(c->host));
    else if (strcmp(k, "port") == 0) {
        l->port_set = set_int(l, line, k, v, 1, 65535, &c->port);
        l->port_line = line;
    } else if (strcmp(k, "tls") == 0)
        (void)set_bool(l, line, k, v, &c->tls);
    else if (strcmp(k, "ca_file") == 0)
        (void)set_str(l, line, k, v, c->ca_file, sizeof(c->ca_file));
    else if (strcmp(k, "cert_file") == 0)
        (void)set_str(l, line, k, v, c->cert_file, sizeof(c->cert_file));
    else if (strcmp(k, "key_file") == 0)
        (void)set_str(l, line, k, v, c->key_file, sizeof(c->key_file));
    else if (strcmp(k, "username") == 0)
        (void)set_str(l, line, k, v, c->username, sizeof(c->username));
    else if (strcmp(k, "password_file") == 0) {
        int r;

        if (!set_str(l, line, k, v, c->password_file, sizeof(c->password_file)))
            return;
        r = conf_read_secret(v, c->password, sizeof(c->password));
        if (r < 0)
            err_at(l, line, "password_file %s: %s", v, r == -ENODATA ? "empty" : strerror(-r));
    } else if (strcmp(k, "client_id") == 0) {
        /* The persistent session's name: the broker keeps the session by
         * it, so it must be stable and unique per collector. */
        if (set_str(l, line, k, v, c->client_id, sizeof(c->client_id)) && !*v)
            err_at(l, line, "client_id: empty");
    } else if (strcmp(k, "session_expiry_s") == 0) {
        if (set_int(l, line, k, v, 0, 0x7fffffff, &n))
            c->session_expiry_s = (uint32_t)n;
    } else if (strcmp(k, "keepalive_s") == 0)
        (void)set_int(l, line, k, v, 5, 3600, &c->keepalive_s);
    else if (strcmp(k, "mqtt_version") == 0) {
        if (strcmp(v, "5") == 0)
            c->mqtt_version = 5;
        else if (strcmp(v, "3.1.1") == 0)
            c->mqtt_version = 311;
        else
            err_at(l, line, "mqtt_version: \"%s\" is not 5 or 3.1.1", v);
    } else if (strcmp(k, "share_group") == 0) {
        if (set_str(l, line, k, v, c->share_group, sizeof(c->share_group)) &&
            (!*v || strpbrk(v, "/+#")))
            err_at(l, line, "share_group: \"%s\" is empty or holds / + #", v);
    } else
        err_at(l, line, "unknown key \"%s\" in [broker]", k);
}

static void key_pg(struct load *l, const char *k, const char *v, int line)
{
    if (strcmp(k, "conninfo") == 0)
        (void)set_str(l, line, k, v, l->c->conninfo, sizeof(l->c->conninfo));
    else if (strcmp(k, "conninfo_file") == 0) {
        (void)set_str(l, line, k, v, l->conninfo_file, sizeof(l->conninfo_file));
        l->conninfo_line = line;
    } else
        err_at(l, line, "unknown key \"%s\" in [postgresql]", k);
}

static void key_collector(struct load *l, const char *k, const char *v, int line)
{
    struct collector_conf *c = l->c;

    if (strcmp(k, "batch_max") == 0)
        (void)set_int(l, line, k, v, COLLECTOR_BATCH_MIN, COLLECTOR_BATCH_MAX, &c->batch_max);
    else if (strcmp(k, "batch_deadline_ms") == 0)
        (void)set_int(l, line, k, v, 1, 60000, &c->batch_deadline_ms);
    else if (strcmp(k, "metrics_listen") == 0) {
        const char *colon = strrchr(v, ':');
        int port;

        if (!set_str(l, line, k, v, c->metrics_listen, sizeof(c->metrics_listen)) || !*v)
            return;
        if (!colon || colon == v || !set_int(l, line, k, colon + 1, 1, 65535, &port))
            err_at(l, line, "metrics_listen: \"%s\" is not ADDRESS:PORT", v);
    } else if (strcmp(k, "log_level") == 0) {
        if (set_str(l, line, k, v, c->log_level, sizeof(c->log_level)) && strcmp(v, "error") != 0 &&
            strcmp(v, "warning") != 0 && strcmp(v, "info") != 0 && strcmp(v, "debug") != 0)
            err_at(l, line, "log_level: \"%s\" is not error, warning, info or debug", v);
    } else
        err_at(l, line, "unknown key \"%s\" in [collector]", k);
}

static void on_key(void *ctx, const char *key, const char *value, const struct conf_pos *pos)
{
    static const char *const sec_names[] = {"", "broker", "postgresql", "collector"};
    struct load *l = ctx;
    char full[32];

    if (l->sec == SEC_NONE) {
        err_at(l, pos->line, "\"%s\" outside a section", key);
        return;
    }
    snprintf(full, sizeof(full), "%s.%s", sec_names[l->sec], key);
    for (int i = 0; i < l->n_seen; i++)
        if (strcmp(l->seen[i], full) == 0) {
            err_at(l, pos->line, "\"%s\" set twice in [%s]", key, sec_names[l->sec]);
            return;
        }
    if (l->n_seen < (int)(sizeof(l->seen) / sizeof(l->seen[0])))
        memcpy(l->seen[l->n_seen++], full, sizeof(full));
    switch (l->sec) {
    case SEC_BROKER:
        key_broker(l, key, value, pos->line);
        break;
    case SEC_PG:
        key_pg(l, key, value, pos->line);
        break;
    case SEC_COLLECTOR:
        key_collector(l, key, value, pos->line);
        break;
    case SEC_NONE:
        break;
    }
}

int collector_conf_load(const char *path, struct collector_conf *ret, FILE *errs)
{
    static const struct conf_ini_handler h = {on_section, on_key, on_error};
    struct collector_conf *c = calloc(1, sizeof(*c));
    struct load *l = calloc(1, sizeof(*l));
    int r;

    if (!c || !l) {
        free(c);
        free(l);
        return -ENOMEM;
    }
    snprintf(c->host, sizeof(c->host), "127.0.0.1");
    c->session_expiry_s = 7 * 24 * 3600;
    c->keepalive_s = 30;
    c->mqtt_version = 5;
    snprintf(c->share_group, sizeof(c->share_group), "foyer-collectors");
    c->batch_max = 2000;
    c->batch_deadline_ms = 200;
    snprintf(c->log_level, sizeof(c->log_level), "info");
    l->c = c;
    l->path = path;
    l->errs = errs;
    r = conf_read_ini(path, &h, l);
    if (r < 0 && l->n_errs == 0)
        err_at(l, 0, "cannot read: %s", strerror(-r));
    if (r < 0) {
        r = r == -ENOENT || r == -EACCES ? r : -EIO;
        goto out;
    }
    if (!l->port_set)
        c->port = c->tls ? 8883 : 1883;
    if (!*c->client_id)
        err_at(l, 0,
               "[broker] client_id is required (the persistent session's name, unique "
               "per collector)");
    if (!!*c->cert_file != !!*c->key_file)
        err_at(l, 0, "[broker] cert_file and key_file go together");
    if ((*c->ca_file || *c->cert_file) && !c->tls)
        err_at(l, 0, "[broker] ca_file or cert_file set without tls = true");
    for (const char *f = c->ca_file; f; f = f == c->ca_file     ? c->cert_file
                                            : f == c->cert_file ? c->key_file
                                                                : NULL)
        if (*f && access(f, R_OK) < 0)
            err_at(l, 0, "[broker] %s: %s", f, strerror(errno));
    if (*c->conninfo && *l->conninfo_file)
        err_at(l, l->conninfo_line, "[postgresql] conninfo and conninfo_file exclude each other");
    else if (*l->conninfo_file) {
        /* A connection string with a password stays out of the config, in a
         * file readable by the collector's user only. */
        r = conf_read_secret(l->conninfo_file, c->conninfo, sizeof(c->conninfo));
        if (r < 0)
            err_at(l, l->conninfo_line, "conninfo_file %s: %s", l->conninfo_file,
                   r == -ENODATA ? "empty" : strerror(-r));
    } else if (!*c->conninfo)
        err_at(l, 0, "[postgresql] conninfo or conninfo_file is required");
    r = l->n_errs;
    if (r == 0)
        *ret = *c;
out:
    explicit_bzero(c->password, sizeof(c->password));
    explicit_bzero(c->conninfo, sizeof(c->conninfo));
    free(c);
    free(l);
    return r;
}
