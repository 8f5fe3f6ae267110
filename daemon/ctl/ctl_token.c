/*
 * ctl_token.c - `foyerctl token create|list|revoke`: the HTTP server's
 * bearer tokens (include/foyer/store_auth.h).
 *
 * create prints the token (or, with --pairing, a short one-time code)
 * alone on stdout, once: only its SHA-256 is stored.  A tenant token is
 * bound to the dwelling's tenancy current now ([tenancy] sections): the
 * server refuses it once that tenancy has ended.  The writes open a
 * connection of their own (foyerd may run); list reads through a
 * read-only handle.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "foyer/ctl.h"
#include "foyer/limits.h"
#include "foyer/store_auth.h"
#include "foyer/store_tenancy.h"
#include "foyer/timeutil.h"

/* The one help text (include/foyer/ctl.h); the figures are checked against
 * the limits they name below. */
static const char ctl_token_usage[] =
    "Usage: foyerctl [--config FILE] token create|list|revoke ...\n"
    "\n"
    "  token create --role tenant --dwelling ID [--name TEXT] [--expires DATE]\n"
    "               [--pairing]\n"
    "  token create --role ambassador --buildings A,B [--name TEXT] [--expires DATE]\n"
    "               [--pairing]\n"
    "  token create --role energy-team [--name TEXT] [--expires DATE]\n"
    "  token list [--json]\n"
    "  token revoke NAME-OR-ID\n"
    "\n"
    "Bearer tokens of the HTTP API and pages.  create prints the token alone on\n"
    "standard output, once (only its hash is kept).  A tenant token is bound to\n"
    "the dwelling's current tenancy and stops working when it ends.\n"
    "\n"
    "Options:\n"
    "  --role ROLE       tenant, ambassador or energy-team\n"
    "  --dwelling ID     the tenant's dwelling\n"
    "  --buildings A,B   the ambassador's buildings\n"
    "  --name TEXT       a name for list and revoke (default: role, place, random)\n"
    "  --expires DATE    stop working at DATE (local midnight; ISO 8601 time too)\n"
    "  --pairing         print an 8-character one-time code instead, valid 15\n"
    "                    minutes, exchanged once by the tablet for its token (5\n"
    "                    wrong codes in all end every waiting code)\n"
    "  --json            list: one JSON array\n"
    "  -h, --help        this help\n";
_Static_assert(STORE_AUTH_CODE_LEN == 8 && FOYER_PAIR_VALID_S == 15 * 60 &&
                   FOYER_PAIR_TRIES_MAX == 5,
               "foyerctl token's usage text names these figures");

static void usage(FILE *out)
{
    fputs(ctl_token_usage, out);
}

static bool name_valid(const char *s)
{
    if (!*s || strlen(s) > FOYER_TOKEN_NAME_MAX)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x21 || *p == 0x7f || *p == ',')
            return false;
    return true;
}

static int token_create(const struct foyer_config *cfg, int argc, char **argv)
{
    static const struct option opts[] = {{"role", required_argument, NULL, 'r'},
                                         {"dwelling", required_argument, NULL, 'd'},
                                         {"buildings", required_argument, NULL, 'b'},
                                         {"name", required_argument, NULL, 'n'},
                                         {"expires", required_argument, NULL, 'e'},
                                         {"pairing", no_argument, NULL, 'p'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct store_token t = {0};
    const char *role = NULL, *dwelling = NULL, *buildings = NULL, *name = NULL;
    bool pairing = false;
    int64_t now_s = tu_now_s();
    int c;

    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            role = optarg;
            break;
        case 'd':
            dwelling = optarg;
            break;
        case 'b':
            buildings = optarg;
            break;
        case 'n':
            name = optarg;
            break;
        case 'e':
            if (tu_parse_iso(optarg, &t.expires_s) < 0) {
                fprintf(stderr,
                        "foyerctl token create: --expires \"%s\": expected a date "
                        "(2027-06-30) or an ISO 8601 time\n",
                        optarg);
                return 2;
            }
            if (t.expires_s <= now_s) {
                fprintf(stderr, "foyerctl token create: --expires \"%s\" is in the past\n", optarg);
                return 2;
            }
            break;
        case 'p':
            pairing = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "foyerctl token create: unexpected argument \"%s\"\n", argv[optind]);
        return 2;
    }
    if (!role || (strcmp(role, "tenant") != 0 && strcmp(role, "ambassador") != 0 &&
                  strcmp(role, "energy-team") != 0)) {
        fprintf(stderr, "foyerctl token create: --role tenant, ambassador or energy-team\n");
        return 2;
    }
    if ((dwelling != NULL) != (strcmp(role, "tenant") == 0) ||
        (buildings != NULL) != (strcmp(role, "ambassador") == 0)) {
        fprintf(stderr, "foyerctl token create: --role tenant takes --dwelling ID, --role "
                        "ambassador takes --buildings A,B, --role energy-team neither\n");
        return 2;
    }
    (void)snprintf(t.role, sizeof(t.role), "%s", role);
    const char *place = "team";
    if (dwelling) {
        int32_t d = ctl_find_dwelling(cfg, "token create", dwelling);
        if (d < 0)
            return 2;
        /* The run's tenancies (foyerctl tenancy), not only the config's. */
        struct store *ro = ctl_open_readonly(cfg, "token create");
        struct tenancy *tv = NULL;
        size_t n_tv = 0;
        if (!ro)
            return 1;
        if (store_tenancy_read(ro, cfg, &tv, &n_tv) < 0) {
            fprintf(stderr, "foyerctl token create: %s: %s\n", cfg->database, store_errmsg(ro));
            store_close(ro);
            return 1;
        }
        store_close(ro);
        const struct tenancy *ten = store_tenancy_current(tv, n_tv, (uint32_t)d, now_s);
        if (!ten) {
            fprintf(stderr,
                    "foyerctl token create: dwelling \"%s\" has no current tenancy: a "
                    "tenant token is bound to one (foyerctl tenancy start --dwelling %s "
                    "--date YYYY-MM-DD for the household living there now)\n",
                    dwelling, dwelling);
            free(tv);
            return 1;
        }
        (void)snprintf(t.dwelling, sizeof(t.dwelling), "%s", dwelling);
        (void)snprintf(t.tenancy, sizeof(t.tenancy), "%s", ten->id);
        free(tv);
        place = dwelling;
    }
    if (buildings) {
        size_t n = 0;
        char *copy = strdup(buildings), *save = NULL;
        if (!copy)
            return 1;
        for (char *b = strtok_r(copy, ",", &save); b; b = strtok_r(NULL, ",", &save)) {
            if (config_find_building(cfg, b) < 0) {
                fprintf(stderr, "foyerctl token create: unknown building \"%s\"\n", b);
                free(copy);
                return 2;
            }
            if (++n > FOYER_TOKEN_BUILDINGS_MAX) {
                fprintf(stderr, "foyerctl token create: more than %d buildings\n",
                        FOYER_TOKEN_BUILDINGS_MAX);
                free(copy);
                return 2;
            }
            size_t used = strlen(t.buildings);
            if (used + strlen(b) + 2 > sizeof(t.buildings)) {
                fprintf(stderr, "foyerctl token create: --buildings is too long\n");
                free(copy);
                return 2;
            }
            if (used)
                t.buildings[used++] = ',';
            memcpy(t.buildings + used, b, strlen(b) + 1);
        }
        free(copy);
        if (!n) {
            fprintf(stderr, "foyerctl token create: --buildings names no building\n");
            return 2;
        }
        place = t.buildings;
    }

    char secret[STORE_AUTH_TOKEN_LEN + 1];
    uint8_t hash[STORE_AUTH_HASH_LEN];
    int rc = pairing ? store_auth_new_code(secret) : store_auth_new_token(secret);
    if (rc == 0)
        rc = store_auth_hash(secret, hash);
    if (rc < 0) {
        fprintf(stderr, "foyerctl token create: no randomness or hash: %s\n", strerror(-rc));
        return 1;
    }
    if (name) {
        if (!name_valid(name)) {
            fprintf(stderr,
                    "foyerctl token create: --name: 1 to %d printable characters, no space "
                    "or comma\n",
                    FOYER_TOKEN_NAME_MAX);
            return 2;
        }
        (void)snprintf(t.name, sizeof(t.name), "%s", name);
    } else {
        char tag[STORE_AUTH_CODE_LEN + 1];
        if (store_auth_new_code(tag) < 0)
            return 1;
        tag[4] = '\0';
        (void)snprintf(t.name, sizeof(t.name), "%s-%.32s-%s", role, place, tag);
    }
    t.created_s = now_s;
    int64_t id = 0;
    const char *msg = NULL;
    rc = store_auth_create(cfg->database, &t, hash, pairing, now_s + FOYER_PAIR_VALID_S, &id, &msg);
    if (rc < 0) {
        fprintf(stderr, "foyerctl token create: %s\n", msg ? msg : strerror(-rc));
        return 1;
    }
    printf("%s\n", secret);
    fprintf(stderr, "foyerctl token create: token \"%s\" (id %lld, %s)%s\n", t.name, (long long)id,
            role, pairing ? ": the code above is valid 15 minutes, for one exchange" : "");
    return 0;
}

/* A token's state at now_s, for list. */
static const char *token_state(const struct foyer_config *cfg, const struct tenancy *tv,
                               size_t n_tv, const struct store_token *t, int64_t now_s)
{
    if (t->revoked_s)
        return "revoked";
    if (t->expires_s && now_s >= t->expires_s)
        return "expired";
    if (t->pairing)
        return now_s >= t->pair_expires_s || t->pair_tries >= FOYER_PAIR_TRIES_MAX ? "pairing-dead"
                                                                                   : "pairing";
    if (t->role[0] == 't') {
        int32_t d = config_find_dwelling(cfg, t->dwelling);
        for (size_t i = 0; d >= 0 && i < n_tv; i++) {
            int64_t from_s, to_s;
            if (tv[i].dwelling != (uint32_t)d || strcmp(tv[i].id, t->tenancy) != 0)
                continue;
            store_auth_tenancy_span(&tv[i], &from_s, &to_s);
            return now_s < to_s ? "active" : "tenancy-ended";
        }
        return "tenancy-gone";
    }
    return "active";
}

struct list_ctx {
    const struct foyer_config *cfg;
    json_t *arr;
    int64_t now_s;
    struct tenancy *tv; /* the run's tenancies */
    size_t n_tv;
};

static int list_one(void *ctx, const struct store_token *t)
{
    struct list_ctx *x = ctx;
    char created[40], expires[40] = "-";
    const char *state = token_state(x->cfg, x->tv, x->n_tv, t, x->now_s);
    char scope[600];
    if (t->dwelling[0])
        (void)snprintf(scope, sizeof(scope), "%s/%s", t->dwelling, t->tenancy);
    else
        (void)snprintf(scope, sizeof(scope), "%s", t->buildings[0] ? t->buildings : "-");
    tu_format_local(t->created_s, created, sizeof(created));
    if (t->expires_s)
        tu_format_local(t->expires_s, expires, sizeof(expires));
    if (x->arr) {
        json_t *o = json_object();
        json_object_set_new(o, "id", json_integer(t->id));
        json_object_set_new(o, "name", json_string(t->name));
        json_object_set_new(o, "role", json_string(t->role));
        json_object_set_new(o, "dwelling", t->dwelling[0] ? json_string(t->dwelling) : json_null());
        json_object_set_new(o, "tenancy", t->tenancy[0] ? json_string(t->tenancy) : json_null());
        json_t *b = json_array();
        char copy[sizeof(t->buildings)], *save = NULL;
        (void)snprintf(copy, sizeof(copy), "%s", t->buildings);
        for (char *s = strtok_r(copy, ",", &save); s; s = strtok_r(NULL, ",", &save))
            json_array_append_new(b, json_string(s));
        json_object_set_new(o, "buildings", b);
        json_object_set_new(o, "state", json_string(state));
        json_object_set_new(o, "created", json_string(created));
        json_object_set_new(o, "expires", t->expires_s ? json_string(expires) : json_null());
        json_array_append_new(x->arr, o);
    } else {
        printf("%-5lld %-32s %-12s %-14s %-25s %-25s %s\n", (long long)t->id, t->name, t->role,
               state, created, expires, scope);
    }
    return 0;
}

static int token_list(const struct foyer_config *cfg, int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    bool json = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'j') {
            json = true;
        } else if (c == 'h') {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "foyerctl token list: unexpected argument \"%s\"\n", argv[optind]);
        return 2;
    }
    struct store *s = ctl_open_readonly(cfg, "token list");
    if (!s)
        return 1;
    struct list_ctx x = {.cfg = cfg, .arr = json ? json_array() : NULL, .now_s = tu_now_s()};
    if (!json)
        printf("%-5s %-32s %-12s %-14s %-25s %-25s %s\n", "ID", "NAME", "ROLE", "STATE", "CREATED",
               "EXPIRES", "DWELLING/TENANCY OR BUILDINGS");
    int rc = store_tenancy_read(s, cfg, &x.tv, &x.n_tv);
    if (rc == 0)
        rc = store_auth_list(s, list_one, &x);
    free(x.tv);
    return ctl_list_finish(s, cfg, "token list", rc, x.arr, JSON_INDENT(2));
}

static int token_revoke(const struct foyer_config *cfg, int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc != 2) {
        fprintf(stderr, "foyerctl token revoke: give one token name or id\n");
        return 2;
    }
    const char *msg = NULL;
    int rc = store_auth_revoke(cfg->database, argv[1], tu_now_s(), &msg);
    if (rc < 0) {
        fprintf(stderr, "foyerctl token revoke: %s\n", msg ? msg : strerror(-rc));
        return 1;
    }
    fprintf(stderr, "foyerctl token revoke: \"%s\" revoked\n", argv[1]);
    return 0;
}

static int ctl_token(const struct ctl_command *cmd, const struct foyer_config *cfg, int argc,
                     char **argv)
{
    if (argc < 2)
        return ctl_subcommand_error(cmd, argc, argv, "create, list or revoke?");
    if (strcmp(argv[1], "create") == 0)
        return token_create(cfg, argc - 1, argv + 1);
    if (strcmp(argv[1], "list") == 0)
        return token_list(cfg, argc - 1, argv + 1);
    if (strcmp(argv[1], "revoke") == 0)
        return token_revoke(cfg, argc - 1, argv + 1);
    return ctl_subcommand_error(cmd, argc, argv, "create, list or revoke?");
}

const struct ctl_command ctl_token_command = {"token", ctl_token_usage, ctl_token};
