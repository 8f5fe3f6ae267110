/*
 * ctl_summary.c - `foyerctl summary`: one dwelling's summary for one period,
 * computed on demand from the database through a read-only connection (it
 * can run next to foyerd), printed as text for a person or as the JSON
 * document that is pushed.  Nothing is stored.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "foyer/coach.h"
#include "foyer/ctl.h"
#include "foyer/timeutil.h"

static const char ctl_summary_usage[] =
    "Usage: foyerctl [--config FILE] summary --dwelling ID --period PERIOD\n"
    "                [--lang fr|en] [--format text|json] [--dju meteo-france|costic]\n"
    "\n"
    "One household's coaching summary for an ISO week (2026-W47) or a month\n"
    "(2026-11), computed from the database; nothing is stored or sent.\n"
    "\n"
    "Options:\n"
    "  -d, --dwelling ID        the dwelling\n"
    "  -p, --period PERIOD      2026-W47 or 2026-11\n"
    "  -l, --lang fr|en         the language of the text (default fr)\n"
    "  -f, --format text|json   text for a person, or the JSON that is pushed\n"
    "                           (default text)\n"
    "  -j, --dju meteo-france|costic   degree-day method (default meteo-france)\n"
    "  -h, --help               this help\n";

static int ctl_summary(const struct ctl_command *cmd, const struct foyer_config *cfg, int argc,
                       char **argv)
{
    static const struct option opts[] = {
        {"dwelling", required_argument, NULL, 'd'}, {"period", required_argument, NULL, 'p'},
        {"lang", required_argument, NULL, 'l'},     {"format", required_argument, NULL, 'f'},
        {"dju", required_argument, NULL, 'j'},      {NULL, 0, NULL, 0}};
    /* By default what foyerd pushes: [foyer] summary_language and dju_method. */
    const char *dwelling = NULL, *period = NULL, *lang = cfg->summary_language;
    bool json = false;
    enum dju_method dju = cfg->dju_method;
    int c;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":d:p:l:f:j:", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dwelling = optarg;
            break;
        case 'p':
            period = optarg;
            break;
        case 'l':
            if (strcmp(optarg, "fr") != 0 && strcmp(optarg, "en") != 0)
                return ctl_usage_error(cmd, "--lang \"%s\": fr or en", optarg);
            lang = optarg;
            break;
        case 'f':
            if (strcmp(optarg, "json") == 0) {
                json = true;
            } else if (strcmp(optarg, "text") != 0) {
                return ctl_usage_error(cmd, "--format \"%s\": text or json", optarg);
            }
            break;
        case 'j':
            if (strcmp(optarg, "costic") == 0) {
                dju = DJU_COSTIC;
            } else if (strcmp(optarg, "meteo-france") != 0) {
                return ctl_usage_error(cmd, "--dju \"%s\": meteo-france or costic", optarg);
            }
            break;
        default:
            return ctl_getopt_error(cmd, c, argv);
        }
    }
    if (optind < argc)
        return ctl_usage_error(cmd, "unexpected argument \"%s\"", argv[optind]);
    if (!dwelling || !period)
        return ctl_usage_error(cmd, "--dwelling ID and --period 2026-W47|2026-11 are required");
    int32_t d = config_find_dwelling(cfg, dwelling);
    if (d < 0) {
        fprintf(stderr, "foyerctl summary: unknown dwelling \"%s\"\n", dwelling);
        return 2;
    }
    struct summary_period p;
    if (summary_period_parse(period, &p) < 0) {
        fprintf(stderr,
                "foyerctl summary: --period \"%s\": an ISO week (2026-W47) or a month "
                "(2026-11)\n",
                period);
        return 2;
    }

    char dir[1024];
    struct conf_errors errs = {0};
    struct summary_lang *l = NULL;
    summary_lang_dir(cfg, dir, sizeof(dir));
    int rc = summary_lang_load(dir, lang, &l, &errs);
    if (rc < 0) {
        for (size_t i = 0; i < errs.n; i++)
            fprintf(stderr, "%s\n", errs.msgs[i]);
        fprintf(stderr, "foyerctl summary: cannot load the \"%s\" language files from %s: %s\n",
                lang, dir, strerror(-rc));
        conf_errors_free(&errs);
        return 1;
    }
    struct store *s = ctl_open_readonly(cfg, "summary");
    if (!s) {
        summary_lang_free(l);
        return 1;
    }
    int exit_code = 1;
    struct summary_engine *e = summary_engine_new(cfg, s, l, dju);
    json_t *doc = NULL;
    /* The tips in the other languages too, as foyerd stores them. */
    struct summary_lang *other[FOYER_SUMMARY_TEXT_LANGS_MAX];
    struct conf_errors oerrs = {0};
    size_t n_other = summary_lang_load_others(cfg, lang, other, &oerrs);
    for (size_t i = 0; i < oerrs.n; i++)
        fprintf(stderr, "foyerctl summary: warning: %s\n", oerrs.msgs[i]);
    conf_errors_free(&oerrs);
    for (size_t i = 0; e && i < n_other; i++)
        (void)summary_engine_add_lang(e, other[i]);
    if (!e) {
        fprintf(stderr, "foyerctl summary: %s: %s\n", cfg->database, store_errmsg(s));
        goto out;
    }
    rc = summary_compute(e, (uint32_t)d, &p, tu_now_s(), &doc);
    if (rc == -ENOENT) {
        fprintf(stderr, "foyerctl summary: dwelling %s has no tenancy during %s\n", dwelling, p.id);
        goto out;
    }
    if (rc < 0) {
        fprintf(stderr, "foyerctl summary: %s %s: %s (%s)\n", dwelling, p.id, strerror(-rc),
                store_errmsg(s));
        goto out;
    }
    /* foyerd waits for the data to close a period before it computes and
     * pushes it; here the operator asked, so it is computed, but said. */
    bool closed = true;
    if (summary_closed_by_data(e, (uint32_t)d, &p, &closed) == 0 && !closed)
        fprintf(stderr,
                "foyerctl summary: warning: %s %s: no reading yet at or after the period's end, "
                "so late readings may still come: these figures may be partial (foyerd waits for "
                "the data before it computes and pushes this period)\n",
                dwelling, p.id);
    if (json) {
        rc = json_dumpf(doc, stdout, SUMMARY_JSON_FLAGS) < 0 ? -EIO : 0;
        if (rc == 0 && fputc('\n', stdout) == EOF)
            rc = -EIO;
    } else {
        rc = summary_render_text(doc, l, stdout);
    }
    if (rc == 0 && fflush(stdout) != 0)
        rc = -EIO;
    if (rc < 0)
        fprintf(stderr, "foyerctl summary: cannot write: %s\n", strerror(-rc));
    else
        exit_code = 0;
out:
    json_decref(doc);
    summary_engine_free(e);
    for (size_t i = 0; i < n_other; i++)
        summary_lang_free(other[i]);
    store_close(s);
    summary_lang_free(l);
    return exit_code;
}

const struct ctl_command ctl_summary_command = {"summary", ctl_summary_usage, ctl_summary};
