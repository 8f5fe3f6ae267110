/*
 * coach_lang.c - the language files of the coaching summaries: the tip
 * catalogue (tips.LANG.conf) and the words of the text summary
 * (summary.LANG.conf), and the small expression language of the tips.
 *
 * Both files are INI, read by the config's INI reader (conf_read_ini() in
 * config.h, the same rules as foyer.conf), so every problem is reported as
 * FILE:LINE.
 *
 *   [tip ID]             one tip
 *   condition = EXPR     when it applies (required)
 *   priority = N         higher first (required, 0..1000)
 *   measure = EXPR       how bad the situation is (higher is worse): a tip
 *                        shown last period is shown again only when its
 *                        measure grew (not set: never twice in a row)
 *   saving = EXPR        estimated saving in euros per year (optional)
 *   text = TEXT          plain text, with {figure} placeholders (required)
 *
 *   [strings]            KEY = TEXT, the text summary's words and units
 *   [format]             decimal = , (decimal separator) and thousands
 *
 * EXPR: numbers, figure names (docs/summary.md), + - * / ( ), comparisons
 * < <= > >= == !=, and, or, not.  Precedence, loosest first, as in Python:
 * or, and, not, comparisons (one per operand: no a < b < c), + -, * /,
 * unary minus; so "not temp_mean > 21" is "not (temp_mean > 21)".  Every
 * figure name, in the expressions and in the {placeholders} of text, must
 * be one of the documented figures (figure_known()): a typo is a
 * FILE:LINE error at load, not a tip that silently never fires.
 *
 * An absent figure is NaN, and NaN is "unknown" through the whole
 * expression: arithmetic and comparisons with it are unknown, "not" of
 * unknown is unknown, "and" is false when one side is false, "or" true
 * when one side is true, else unknown; a condition that ends unknown does
 * not hold.  So a tip never rests on a figure that is not there, with or
 * without "not".
 *
 * The catalogue is immutable once loaded and may be shared by threads.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "coach_int.h"
#include "foyer/limits.h"
#include "foyer/units.h"

enum node_op {
    N_NUM,
    N_VAR,
    N_NEG,
    N_NOT,
    N_ADD,
    N_SUB,
    N_MUL,
    N_DIV,
    N_LT,
    N_LE,
    N_GT,
    N_GE,
    N_EQ,
    N_NE,
    N_AND,
    N_OR,
};

struct node {
    enum node_op op;
    double num;    /* N_NUM */
    char name[40]; /* N_VAR */
    int a, b;      /* operand node indexes */
};

struct expr {
    struct node n[FOYER_EXPR_NODES_MAX];
    int n_nodes;
    int root; /* -1: no expression */
};

struct tip {
    char id[FOYER_ID_MAX + 1];
    char *condition_text;
    struct expr condition;
    struct expr measure;
    struct expr saving;
    int priority;
    bool has_priority;
    char *text;
    int line;
};

struct kv {
    char *key;
    char *value;
};

struct summary_lang {
    char name[8];
    struct tip tips[FOYER_LANG_TIPS_MAX];
    size_t n_tips;
    struct kv strings[FOYER_LANG_STRINGS_MAX];
    size_t n_strings;
    char decimal[8];
    char thousands[8];
};

/* ---- figures ----------------------------------------------------------- */

static struct summary_var *var_slot(struct summary_vars *v, const char *name)
{
    for (size_t i = 0; i < v->n; i++)
        if (strcmp(v->v[i].name, name) == 0)
            return &v->v[i];
    if (v->n >= SUMMARY_VARS_MAX || strlen(name) >= sizeof(v->v[0].name))
        return NULL; /* a programmer error: the table is sized for every figure */
    struct summary_var *s = &v->v[v->n++];
    memcpy(s->name, name, strlen(name) + 1);
    return s;
}

void summary_vars_set(struct summary_vars *v, const char *name, double value)
{
    if (!isfinite(value))
        return;
    struct summary_var *s = var_slot(v, name);
    if (s) {
        s->value = value;
        s->is_text = false;
        s->text[0] = '\0';
    }
}

void summary_vars_set_text(struct summary_vars *v, const char *name, const char *text)
{
    struct summary_var *s = var_slot(v, name);
    if (s) {
        s->value = NAN;
        s->is_text = true;
        (void)snprintf(s->text, sizeof(s->text), "%s", text);
    }
}

static const struct summary_var *var_find(const struct summary_vars *v, const char *name)
{
    for (size_t i = 0; i < v->n; i++)
        if (strcmp(v->v[i].name, name) == 0)
            return &v->v[i];
    return NULL;
}

double summary_vars_get(const struct summary_vars *v, const char *name)
{
    const struct summary_var *s = var_find(v, name);
    return s ? s->value : NAN;
}

/* ---- the documented figures --------------------------------------------- */

/* The figures a tip may name: the table "Figures the conditions, savings
 * and texts can use" of docs/summary.md, set by coach_summary.c.  A name
 * added there is added here (test_tips checks every name of this table is
 * in docs/summary.md). */
static const char *const figures_fixed[] = {
    "days",
    "periods_per_year",
    "coverage",
    "surface_m2",
    "dju",
    "heating_season",
    "heating_kwh",
    "heating_eur",
    "heating_price",
    "heating_expected_kwh",
    "heating_change_pct",
    "heating_change_same",
    "temp_mean",
    "temp_hours_below_16",
    "temp_hours_above_22",
    "humidity_mean",
    "humidity_hours_above_70",
    "co2_hours_above_1000",
    "co2_hours_above_1500",
    "base_load_w",
    "base_load_eur_year",
    "building_change_pct",
};
/* Q_SUFFIX for each quantity Q of figures_quantities. */
static const char *const figures_quantities[] = {"electricity", "heat", "gas", "hot_water",
                                                 "cold_water"};
static const char *const figures_suffixes[] = {
    "",        "_per_day",       "_eur",          "_price", "_change_prev_pct", "_change_year_pct",
    "_per_m2", "_vs_median_pct", "_best_quarter", "_peers",
};

static bool figure_known(const char *name)
{
    for (size_t i = 0; i < sizeof(figures_fixed) / sizeof(figures_fixed[0]); i++)
        if (strcmp(name, figures_fixed[i]) == 0)
            return true;
    for (size_t q = 0; q < sizeof(figures_quantities) / sizeof(figures_quantities[0]); q++) {
        size_t n = strlen(figures_quantities[q]);
        if (strncmp(name, figures_quantities[q], n) != 0)
            continue;
        for (size_t k = 0; k < sizeof(figures_suffixes) / sizeof(figures_suffixes[0]); k++)
            if (strcmp(name + n, figures_suffixes[k]) == 0)
                return true;
    }
    return false;
}

size_t summary_figures_fixed(const char *const **ret)
{
    *ret = figures_fixed;
    return sizeof(figures_fixed) / sizeof(figures_fixed[0]);
}

/* ---- expressions ------------------------------------------------------- */

struct eparse {
    const char *s;
    struct expr *e;
    const char *err;
};

static void skip_ws(struct eparse *p)
{
    while (isspace((unsigned char)*p->s))
        p->s++;
}

static int new_node(struct eparse *p, enum node_op op, int a, int b)
{
    if (p->e->n_nodes >= FOYER_EXPR_NODES_MAX) {
        p->err = "expression too long";
        return -1;
    }
    int i = p->e->n_nodes++;
    p->e->n[i] = (struct node){.op = op, .a = a, .b = b};
    return i;
}

static bool word_is(struct eparse *p, const char *w)
{
    size_t n = strlen(w);
    if (strncmp(p->s, w, n) != 0 || isalnum((unsigned char)p->s[n]) || p->s[n] == '_')
        return false;
    p->s += n;
    return true;
}

static int parse_or(struct eparse *p);
static int parse_not(struct eparse *p);

static int parse_primary(struct eparse *p)
{
    skip_ws(p);
    if (p->err)
        return -1;
    if (*p->s == '(') {
        p->s++;
        int i = parse_or(p);
        skip_ws(p);
        if (i >= 0 && *p->s != ')') {
            p->err = "missing \")\"";
            return -1;
        }
        p->s++;
        return i;
    }
    if (*p->s == '-') {
        p->s++;
        int a = parse_primary(p);
        return a < 0 ? -1 : new_node(p, N_NEG, a, -1);
    }
    if (word_is(p, "not")) {
        /* Here only after an operator of its own level or looser has been
         * left: "a > not b" is an error, as in Python. */
        p->err = "\"not\" where a value is expected (write \"not (a > b)\" or "
                 "\"a <= b\")";
        return -1;
    }
    if (isdigit((unsigned char)*p->s) || *p->s == '.') {
        char *end;
        double v = strtod(p->s, &end);
        if (end == p->s) {
            p->err = "bad number";
            return -1;
        }
        p->s = end;
        int i = new_node(p, N_NUM, -1, -1);
        if (i >= 0)
            p->e->n[i].num = v;
        return i;
    }
    if (isalpha((unsigned char)*p->s) || *p->s == '_') {
        const char *st = p->s;
        while (isalnum((unsigned char)*p->s) || *p->s == '_')
            p->s++;
        size_t len = (size_t)(p->s - st);
        if (len >= sizeof(p->e->n[0].name)) {
            p->err = "figure name too long";
            return -1;
        }
        int i = new_node(p, N_VAR, -1, -1);
        if (i >= 0) {
            memcpy(p->e->n[i].name, st, len);
            p->e->n[i].name[len] = '\0';
        }
        return i;
    }
    p->err = *p->s ? "unexpected character" : "unexpected end of expression";
    return -1;
}

static int parse_mul(struct eparse *p)
{
    int a = parse_primary(p);
    for (;;) {
        skip_ws(p);
        if (a < 0 || (*p->s != '*' && *p->s != '/'))
            return a;
        enum node_op op = *p->s == '*' ? N_MUL : N_DIV;
        p->s++;
        int b = parse_primary(p);
        a = b < 0 ? -1 : new_node(p, op, a, b);
    }
}

static int parse_add(struct eparse *p)
{
    int a = parse_mul(p);
    for (;;) {
        skip_ws(p);
        if (a < 0 || (*p->s != '+' && *p->s != '-'))
            return a;
        enum node_op op = *p->s == '+' ? N_ADD : N_SUB;
        p->s++;
        int b = parse_mul(p);
        a = b < 0 ? -1 : new_node(p, op, a, b);
    }
}

static int parse_cmp(struct eparse *p)
{
    static const struct {
        const char *tok;
        enum node_op op;
    } ops[] = {{"<=", N_LE}, {">=", N_GE}, {"==", N_EQ}, {"!=", N_NE}, {"<", N_LT}, {">", N_GT}};
    int a = parse_add(p);
    skip_ws(p);
    if (a < 0)
        return a;
    for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
        size_t n = strlen(ops[k].tok);
        if (strncmp(p->s, ops[k].tok, n) == 0) {
            p->s += n;
            int b = parse_add(p);
            return b < 0 ? -1 : new_node(p, ops[k].op, a, b);
        }
    }
    return a;
}

/* "not" binds looser than comparisons, tighter than "and". */
static int parse_not(struct eparse *p)
{
    skip_ws(p);
    if (p->err)
        return -1;
    if (word_is(p, "not")) {
        int a = parse_not(p);
        return a < 0 ? -1 : new_node(p, N_NOT, a, -1);
    }
    return parse_cmp(p);
}

static int parse_and(struct eparse *p)
{
    int a = parse_not(p);
    for (;;) {
        skip_ws(p);
        if (a < 0 || !word_is(p, "and"))
            return a;
        int b = parse_not(p);
        a = b < 0 ? -1 : new_node(p, N_AND, a, b);
    }
}

static int parse_or(struct eparse *p)
{
    int a = parse_and(p);
    for (;;) {
        skip_ws(p);
        if (a < 0 || !word_is(p, "or"))
            return a;
        int b = parse_and(p);
        a = b < 0 ? -1 : new_node(p, N_OR, a, b);
    }
}

/* Parse text into e; NULL on success or a static message. */
static const char *expr_parse(const char *text, struct expr *e)
{
    struct eparse p = {.s = text, .e = e};
    e->n_nodes = 0;
    e->root = parse_or(&p);
    skip_ws(&p);
    if (!p.err && *p.s)
        p.err = "unexpected text after the expression";
    if (p.err)
        e->root = -1;
    return p.err;
}

static bool truthy(double x)
{
    return isfinite(x) && x != 0;
}

static double eval_node(const struct expr *e, int i, const struct summary_vars *v)
{
    const struct node *n = &e->n[i];
    double a, b;
    switch (n->op) {
    case N_NUM:
        return n->num;
    case N_VAR:
        return summary_vars_get(v, n->name);
    case N_NEG:
        return -eval_node(e, n->a, v);
    case N_NOT:
        a = eval_node(e, n->a, v);
        return isnan(a) ? NAN : (a == 0 ? 1 : 0);
    case N_AND:
        /* Three-valued: false wins, then unknown (NaN). */
        a = eval_node(e, n->a, v);
        if (!isnan(a) && !truthy(a))
            return 0;
        b = eval_node(e, n->b, v);
        if (!isnan(b) && !truthy(b))
            return 0;
        return isnan(a) || isnan(b) ? NAN : 1;
    case N_OR:
        /* Three-valued: true wins, then unknown (NaN). */
        a = eval_node(e, n->a, v);
        if (truthy(a))
            return 1;
        b = eval_node(e, n->b, v);
        if (truthy(b))
            return 1;
        return isnan(a) || isnan(b) ? NAN : 0;
    default:
        break;
    }
    a = eval_node(e, n->a, v);
    b = eval_node(e, n->b, v);
    if (isnan(a) || isnan(b))
        return NAN;
    switch (n->op) {
    case N_ADD:
        return a + b;
    case N_SUB:
        return a - b;
    case N_MUL:
        return a * b;
    case N_DIV:
        return b == 0 ? NAN : a / b;
    case N_LT:
        return a < b;
    case N_LE:
        return a <= b;
    case N_GT:
        return a > b;
    case N_GE:
        return a >= b;
    case N_EQ:
        return a == b;
    case N_NE:
        return a != b;
    default:
        return NAN;
    }
}

static double expr_eval(const struct expr *e, const struct summary_vars *v)
{
    return e->root < 0 ? NAN : eval_node(e, e->root, v);
}

/* ---- parsing the files ------------------------------------------------- */

/* Where the keys go: the open section of the file being read. */
enum lsec { LSEC_NONE = -1, LSEC_STRINGS = -2, LSEC_FORMAT = -3 };

struct lparse {
    struct summary_lang *l;
    struct conf_errors *errs;
    const char *path;
    bool tips_file;
    int section; /* enum lsec, or the index of the open tip */
    bool oom;
};

static void lerr(struct lparse *p, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void lerr(struct lparse *p, int line, const char *fmt, ...)
{
    char msg[512];
    struct conf_pos pos = {p->path, line};
    va_list ap;
    va_start(ap, fmt);
    (void)vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (conf_errors_add(p->errs, &pos, "%s", msg) < 0)
        p->oom = true;
}

static void lang_error(void *ctx, const struct conf_pos *pos, const char *msg)
{
    lerr(ctx, pos->line, "%s", msg);
}

/* [tip ID] in a tips file, [strings] or [format] in a words file. */
static bool lang_section(void *ctx, const struct conf_ini_header *hdr, const struct conf_pos *pos)
{
    struct lparse *p = ctx;
    const char *id = hdr->id;

    p->section = LSEC_NONE;
    if (p->tips_file && strcmp(hdr->type, "tip") == 0 && id && !hdr->extra) {
        if (!conf_id_valid(id)) {
            lerr(p, pos->line, "bad tip ID \"%s\": 1 to %d letters, digits, \"_\" or \"-\"", id,
                 FOYER_ID_MAX);
            return false;
        }
        for (size_t i = 0; i < p->l->n_tips; i++) {
            if (strcmp(p->l->tips[i].id, id) == 0) {
                lerr(p, pos->line, "tip %s defined twice (first at line %d)", id,
                     p->l->tips[i].line);
                return false;
            }
        }
        if (p->l->n_tips >= FOYER_LANG_TIPS_MAX) {
            lerr(p, pos->line, "too many tips (max %d)", FOYER_LANG_TIPS_MAX);
            return false;
        }
        struct tip *t = &p->l->tips[p->l->n_tips];
        memset(t, 0, sizeof(*t));
        memcpy(t->id, id, strlen(id) + 1);
        t->condition.root = t->measure.root = t->saving.root = -1;
        t->line = pos->line;
        p->section = (int)p->l->n_tips++;
        return true;
    }
    if (!p->tips_file && !id && strcmp(hdr->type, "strings") == 0) {
        p->section = LSEC_STRINGS;
        return true;
    }
    if (!p->tips_file && !id && strcmp(hdr->type, "format") == 0) {
        p->section = LSEC_FORMAT;
        return true;
    }
    lerr(p, pos->line, "unknown section [%s%s%s%s]: expected %s", hdr->type, id ? " " : "",
         id ? id : "", hdr->extra ? " ..." : "",
         p->tips_file ? "[tip ID]" : "[strings] or [format]");
    return false;
}

static char *dup_or_oom(struct lparse *p, const char *s)
{
    char *d = strdup(s);
    if (!d)
        p->oom = true;
    return d;
}

static void check_text(struct lparse *p, const struct tip *t, const char *text, int line);

static void tip_key(struct lparse *p, struct tip *t, const char *name, const char *value, int line)
{
    struct expr *e = NULL;
    if (strcmp(name, "condition") == 0) {
        e = &t->condition;
        free(t->condition_text);
        t->condition_text = dup_or_oom(p, value);
    } else if (strcmp(name, "measure") == 0) {
        e = &t->measure;
    } else if (strcmp(name, "saving") == 0) {
        e = &t->saving;
    } else if (strcmp(name, "priority") == 0) {
        char *end;
        long v = strtol(value, &end, 10);
        if (*value == '\0' || *end || v < 0 || v > 1000)
            lerr(p, line, "tip %s: priority \"%s\": expected an integer 0..1000", t->id, value);
        t->priority = (int)v;
        t->has_priority = true;
        return;
    } else if (strcmp(name, "text") == 0) {
        free(t->text);
        t->text = dup_or_oom(p, value);
        check_text(p, t, value, line);
        return;
    } else {
        lerr(p, line, "tip %s: unknown key \"%s\"", t->id, name);
        return;
    }
    const char *err = expr_parse(value, e);
    if (err) {
        lerr(p, line, "tip %s: %s: %s in \"%s\"", t->id, name, err, value);
        return;
    }
    for (int i = 0; i < e->n_nodes; i++)
        if (e->n[i].op == N_VAR && !figure_known(e->n[i].name))
            lerr(p, line, "tip %s: %s: unknown figure \"%s\" (docs/summary.md lists them)", t->id,
                 name, e->n[i].name);
}

/* The {figure} and {figure:N} placeholders of a tip's text name documented
 * figures. */
static void check_text(struct lparse *p, const struct tip *t, const char *text, int line)
{
    for (const char *c = strchr(text, '{'); c; c = strchr(c + 1, '{')) {
        size_t n = strcspn(c + 1, ":}");
        char name[64];
        if (c[1 + n] != '}' && c[1 + n] != ':') {
            lerr(p, line, "tip %s: text: \"{\" without \"}\"", t->id);
            return;
        }
        if (n >= sizeof(name))
            n = sizeof(name) - 1;
        memcpy(name, c + 1, n);
        name[n] = '\0';
        /* saving_eur: the tip's own saving, set for its text only. */
        if (!figure_known(name) && strcmp(name, "saving_eur") != 0)
            lerr(p, line, "tip %s: text: unknown figure \"{%s}\" (docs/summary.md lists them)",
                 t->id, name);
    }
}

static void lang_key(void *ctx, const char *name, const char *value, const struct conf_pos *pos)
{
    struct lparse *p = ctx;
    if (p->section >= 0) {
        tip_key(p, &p->l->tips[p->section], name, value, pos->line);
    } else if (p->section == LSEC_FORMAT) {
        if (strcmp(name, "decimal") == 0 && strlen(value) < sizeof(p->l->decimal))
            memcpy(p->l->decimal, value, strlen(value) + 1);
        else if (strcmp(name, "thousands") == 0 && strlen(value) < sizeof(p->l->thousands))
            memcpy(p->l->thousands, value, strlen(value) + 1);
        else
            lerr(p, pos->line, "[format]: unknown key or value too long: \"%s\"", name);
    } else if (p->section == LSEC_STRINGS) {
        for (size_t i = 0; i < p->l->n_strings; i++) {
            if (strcmp(p->l->strings[i].key, name) == 0) {
                lerr(p, pos->line, "string \"%s\" defined twice", name);
                return;
            }
        }
        if (p->l->n_strings >= FOYER_LANG_STRINGS_MAX) {
            lerr(p, pos->line, "too many strings (max %d)", FOYER_LANG_STRINGS_MAX);
            return;
        }
        struct kv *kv = &p->l->strings[p->l->n_strings];
        kv->key = dup_or_oom(p, name);
        kv->value = dup_or_oom(p, value);
        /* "quotes" keep leading or trailing blanks: thousands = " " */
        p->l->n_strings++;
    } else {
        lerr(p, pos->line, "key \"%s\" outside any section", name);
    }
}

static const struct conf_ini_handler lang_handler = {lang_section, lang_key, lang_error};

/* Read one language file with the config's INI reader (config.h), which
 * opens regular files only, without waiting: a FIFO would hang the load. */
static int parse_file(struct lparse *p, const char *path, bool tips)
{
    p->path = path;
    p->tips_file = tips;
    p->section = LSEC_NONE;
    return conf_read_ini(path, &lang_handler, p);
}

static void unquote(char *s)
{
    size_t n = strlen(s);
    if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
        memmove(s, s + 1, n - 2);
        s[n - 2] = '\0';
    }
}

int summary_lang_load(const char *dir, const char *lang, struct summary_lang **ret,
                      struct conf_errors *errs)
{
    char tips_path[1024], strings_path[1024];
    if (!conf_id_valid(lang) || strlen(lang) >= sizeof((*ret)->name))
        return -EINVAL;
    struct summary_lang *l = calloc(1, sizeof(*l));
    if (!l)
        return -ENOMEM;
    memcpy(l->name, lang, strlen(lang) + 1);
    memcpy(l->decimal, ".", 2);
    struct lparse p = {.l = l, .errs = errs};
    size_t errs_before = errs->n;
    int rc = 0;

    if (snprintf(tips_path, sizeof(tips_path), "%s/tips.%s.conf", dir, lang) >=
            (int)sizeof(tips_path) ||
        snprintf(strings_path, sizeof(strings_path), "%s/summary.%s.conf", dir, lang) >=
            (int)sizeof(strings_path)) {
        summary_lang_free(l);
        return -ENAMETOOLONG;
    }
    int r1 = parse_file(&p, tips_path, true);
    int r2 = parse_file(&p, strings_path, false);
    for (size_t i = 0; i < l->n_tips; i++) {
        struct tip *t = &l->tips[i];
        p.path = tips_path;
        if (t->condition.root < 0 && !t->condition_text)
            lerr(&p, t->line, "tip %s: condition is required", t->id);
        if (!t->has_priority)
            lerr(&p, t->line, "tip %s: priority is required", t->id);
        if (!t->text)
            lerr(&p, t->line, "tip %s: text is required", t->id);
    }
    for (size_t i = 0; i < l->n_strings; i++)
        if (l->strings[i].value)
            unquote(l->strings[i].value);
    unquote(l->thousands);
    if (p.oom)
        rc = -ENOMEM;
    else if (r1 < 0 || r2 < 0)
        rc = r1 < 0 ? r1 : r2;
    else if (errs->n > errs_before)
        rc = -EINVAL;
    if (rc < 0) {
        summary_lang_free(l);
        return rc;
    }
    *ret = l;
    return 0;
}

void summary_lang_free(struct summary_lang *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n_tips; i++) {
        free(l->tips[i].text);
        free(l->tips[i].condition_text);
    }
    for (size_t i = 0; i < l->n_strings; i++) {
        free(l->strings[i].key);
        free(l->strings[i].value);
    }
    free(l);
}

const char *summary_lang_name(const struct summary_lang *l)
{
    return l->name;
}

void summary_lang_dir(const struct foyer_config *cfg, char *buf, size_t len)
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

const char *summary_lang_str(const struct summary_lang *l, const char *key)
{
    for (size_t i = 0; i < l->n_strings; i++)
        if (strcmp(l->strings[i].key, key) == 0)
            return l->strings[i].value;
    return key;
}

size_t summary_lang_n_tips(const struct summary_lang *l)
{
    return l->n_tips;
}

const char *summary_lang_tip_id(const struct summary_lang *l, size_t i)
{
    return i < l->n_tips ? l->tips[i].id : NULL;
}

const char *summary_lang_tip_condition(const struct summary_lang *l, size_t i)
{
    return i < l->n_tips ? l->tips[i].condition_text : NULL;
}

/* ---- templates --------------------------------------------------------- */

/* Format x with the language's separators and `decimals` decimals, thousands
 * grouped from 1 000 up ("1 242 litres"), as foyerctl groups them. */
static void format_number(const struct summary_lang *l, double x, int decimals, char *buf,
                          size_t len)
{
    (void)units_format_grouped(x, decimals, l->thousands, l->decimal, buf, len);
}

size_t summary_lang_expand(const struct summary_lang *l, const char *tmpl,
                           const struct summary_vars *v, char *buf, size_t len)
{
    size_t o = 0;
    if (len == 0)
        return 0;
    for (const char *s = tmpl; *s && o + 1 < len;) {
        const char *close = *s == '{' ? strchr(s, '}') : NULL;
        if (!close || close - s > 48) {
            buf[o++] = *s++;
            continue;
        }
        char name[48];
        int decimals = -1;
        memcpy(name, s + 1, (size_t)(close - s - 1));
        name[close - s - 1] = '\0';
        char *colon = strchr(name, ':');
        if (colon) {
            *colon = '\0';
            decimals = atoi(colon + 1);
            if (decimals < 0 || decimals > 6)
                decimals = 1;
        }
        const struct summary_var *var = var_find(v, name);
        char piece[sizeof(var->text) + 16];
        if (!var)
            (void)snprintf(piece, sizeof(piece), "?");
        else if (var->is_text)
            (void)snprintf(piece, sizeof(piece), "%s", var->text);
        else
            format_number(l, var->value,
                          decimals >= 0             ? decimals
                          : fabs(var->value) >= 100 ? 0
                                                    : 1,
                          piece, sizeof(piece));
        for (const char *c = piece; *c && o + 1 < len; c++)
            buf[o++] = *c;
        s = close + 1;
    }
    buf[o] = '\0';
    return o;
}

/* ---- choosing tips ----------------------------------------------------- */

/* The previous period's entry of tip id, or NULL. */
static const json_t *prev_tip(const json_t *prev_tips, const char *id)
{
    size_t i;
    const json_t *t;
    if (!json_is_array(prev_tips))
        return NULL;
    json_array_foreach(prev_tips, i, t)
    {
        const char *pid = json_string_value(json_object_get(t, "id"));
        if (pid && strcmp(pid, id) == 0)
            return t;
    }
    return NULL;
}

/* Tip id of catalogue l, or NULL. */
static const struct tip *tip_by_id(const struct summary_lang *l, const char *id)
{
    for (size_t i = 0; i < l->n_tips; i++)
        if (strcmp(l->tips[i].id, id) == 0)
            return &l->tips[i];
    return NULL;
}

json_t *summary_tips_pick(const struct summary_lang *l, const struct summary_lang *const *other,
                          size_t n_other, const struct summary_vars *v, const json_t *prev_tips)
{
    size_t order[FOYER_LANG_TIPS_MAX], n = 0;
    double measure[FOYER_LANG_TIPS_MAX];

    for (size_t i = 0; i < l->n_tips; i++) {
        const struct tip *t = &l->tips[i];
        if (!truthy(expr_eval(&t->condition, v)))
            continue;
        measure[i] = expr_eval(&t->measure, v);
        const json_t *pt = prev_tip(prev_tips, t->id);
        if (pt) {
            /* Shown last period: again only when it got worse. */
            const json_t *pm = json_object_get(pt, "measure");
            if (!json_is_number(pm) || !isfinite(measure[i]) ||
                !(measure[i] > json_number_value(pm)))
                continue;
        }
        /* Insertion by priority, catalogue order among equals. */
        size_t k = n++;
        while (k > 0 && l->tips[order[k - 1]].priority < t->priority) {
            order[k] = order[k - 1];
            k--;
        }
        order[k] = i;
    }
    json_t *arr = json_array();
    if (!arr)
        return NULL;
    for (size_t k = 0; k < n && k < SUMMARY_TIPS_MAX; k++) {
        const struct tip *t = &l->tips[order[k]];
        struct summary_vars *tv = malloc(sizeof(*tv));
        char text[1024];
        double saving = expr_eval(&t->saving, v);
        if (!tv) {
            json_decref(arr);
            return NULL;
        }
        memcpy(tv, v, sizeof(*tv));
        if (isfinite(saving) && saving >= 1)
            summary_vars_set(tv, "saving_eur", round(saving));
        summary_lang_expand(l, t->text, tv, text, sizeof(text));
        /* The same tip in the other languages, with the same figures (each
         * written the language's way: 1,5 or 1.5). */
        json_t *texts = json_object();
        json_object_set_new(texts, l->name, json_string(text));
        for (size_t j = 0; j < n_other; j++) {
            const struct tip *ot = tip_by_id(other[j], t->id);
            char otext[1024];
            if (!ot)
                continue;
            summary_lang_expand(other[j], ot->text, tv, otext, sizeof(otext));
            json_object_set_new(texts, other[j]->name, json_string(otext));
        }
        free(tv);
        json_t *o = json_object();
        json_object_set_new(o, "id", json_string(t->id));
        json_object_set_new(o, "priority", json_integer(t->priority));
        json_object_set_new(o, "saving_eur_year",
                            isfinite(saving) && saving >= 1
                                ? json_integer((json_int_t)round(saving))
                                : json_null());
        json_object_set_new(o, "measure",
                            isfinite(measure[order[k]])
                                ? json_real(round(measure[order[k]] * 1000) / 1000)
                                : json_null());
        json_object_set_new(o, "text", json_string(text));
        json_object_set_new(o, "texts", texts);
        json_array_append_new(arr, o);
    }
    return arr;
}

size_t summary_lang_load_others(const struct foyer_config *cfg, const char *lang,
                                struct summary_lang *ret[FOYER_SUMMARY_TEXT_LANGS_MAX],
                                struct conf_errors *errs)
{
    static const char *const langs[] = {"fr", "en"};
    char dir[1024];
    size_t n = 0;
    summary_lang_dir(cfg, dir, sizeof(dir));
    for (size_t i = 0; i < sizeof(langs) / sizeof(langs[0]) && n < FOYER_SUMMARY_TEXT_LANGS_MAX;
         i++) {
        if (strcmp(langs[i], lang) == 0)
            continue;
        size_t before = errs->n;
        int rc = summary_lang_load(dir, langs[i], &ret[n], errs);
        if (rc == 0) {
            n++;
        } else if (errs->n == before) {
            struct conf_pos pos = {dir, 0};
            (void)conf_errors_add(errs, &pos, "tips.%s.conf and summary.%s.conf: cannot load: %s",
                                  langs[i], langs[i], strerror(-rc));
        }
    }
    return n;
}

int summary_lang_check(const char *dir, struct conf_errors *errs)
{
    DIR *d = opendir(dir);
    int problems = 0;
    if (!d)
        return 0; /* no catalogue here: foyerd says so at start */
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        /* tips.LANG.conf, LANG a valid ID of at most 7 bytes */
        const char *n = de->d_name;
        size_t len = strlen(n);
        char lang[8];
        if (len <= strlen("tips..conf") || strncmp(n, "tips.", 5) != 0 ||
            strcmp(n + len - 5, ".conf") != 0 || len - 10 >= sizeof(lang))
            continue;
        memcpy(lang, n + 5, len - 10);
        lang[len - 10] = '\0';
        if (!conf_id_valid(lang))
            continue;
        struct summary_lang *l = NULL;
        size_t before = errs->n;
        int rc = summary_lang_load(dir, lang, &l, errs);
        if (rc < 0) {
            problems += errs->n > before ? (int)(errs->n - before) : 1;
            if (errs->n == before) {
                struct conf_pos pos = {dir, 0};
                char what[64];
                (void)snprintf(what, sizeof(what), "tips.%s.conf and summary.%s.conf", lang, lang);
                (void)conf_errors_add(errs, &pos, "%s: cannot load: %s", what, strerror(-rc));
            }
        }
        summary_lang_free(l);
    }
    closedir(d);
    return problems;
}
