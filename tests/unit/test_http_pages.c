/*
 * test_http_pages.c - the tablet and ambassador pages, called directly on a
 * real SQLite store filled with a month of hourly readings and a summary
 * computed by the real engine (the server is stood for by the test harness
 * tests/unit/http_harness.c).  Checks the HTML: figures equal the summary
 * JSON, text is escaped, a tip answered "not possible here" is hidden, a
 * report appears on the ambassador page then closes, nothing from before
 * the tenancy is shown, both language files hold every key.
 *
 * FOYER_PAGES_OUT=DIR writes the rendered pages there (tablet.html,
 * ambassador.html) for tests/integration/browser_pages.py --static.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>

#include "foyer/coach.h"
#include "foyer/http_pages.h"
#include "foyer/store_outbox.h"
#include "foyer/store_people.h"
#include "http_harness.h"
#include "http_page.h"
#include "testutil.h"

#define H 3600
/* The no-break space the French texts put before units, € and ! (and
 * inside dates), so a line never breaks there. */
#define NBSP "\u00a0"

static const char conf_text[] =
    "[foyer]\ndatabase = %s\ntimezone = Europe/Paris\n"
    "[mqtt]\nhost = 127.0.0.1\n"
    "[building b1]\nname = Les <Tilleuls> & Co\n"
    "[building b2]\n"
    "[dwelling d1]\nbuilding = b1\nsurface_m2 = 50\nheating = electric\nconsent = true\n"
    "label = Bât A, 3e \"gauche\"\n"
    "[dwelling d2]\nbuilding = b2\nsurface_m2 = 50\nheating = electric\n"
    "[channel d1-elec]\ndwelling = d1\nquantity = electricity\n"
    "[channel d2-elec]\ndwelling = d2\nquantity = electricity\n"
    "[channel d1-hw]\ndwelling = d1\nquantity = hot_water\n"
    "[sensor s-d1]\ntopic = zigbee2mqtt/d1\npreset = zigbee2mqtt\ndwelling = d1\n"
    /* Its energy field is a plug's: not the dwelling's electricity. */
    "submeter = true\n"
    /* Two sensors of the common parts: one sending, one never heard of. */
    "[sensor s-hall]\ntopic = zigbee2mqtt/hall\npreset = zigbee2mqtt\nbuilding = b1\n"
    "submeter = true\n"
    "[sensor s-cellar]\ntopic = zigbee2mqtt/cellar\npreset = zigbee2mqtt\nbuilding = b1\n"
    "submeter = true\n"
    "[tariff elec]\nquantity = electricity\nprice = 0.20\n"
    "[tariff hw]\nquantity = hot_water\nprice = 5\nprice_unit = m3\n";

struct fix {
    struct tenv t;
    struct store *ro;
    json_t *doc; /* the stored summary of d1, 2026-W10 */
    int64_t now_s;
};

static struct fix *fx;

static int store_doc(struct tenv *t, const json_t *doc, int64_t now_s);

static int setup(void **state)
{
    struct fix *f = calloc(1, sizeof(*f));
    struct tenv *t = &f->t;
    snprintf(t->dir, sizeof(t->dir), "/tmp/foyer-test-XXXXXX");
    if (!mkdtemp(t->dir))
        return -1;
    snprintf(t->db, sizeof(t->db), "%s/foyer.db", t->dir);
    snprintf(t->conf, sizeof(t->conf), "%s/foyer.conf", t->dir);
    FILE *cf = fopen(t->conf, "w");
    fprintf(cf, conf_text, t->db);
    fclose(cf);
    struct conf_errors errs = {0};
    t->cfg = config_load(t->conf, &errs);
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "%s\n", errs.msgs[i]);
    const char *msg;
    if (!t->cfg || tu_set_zone("Europe/Paris") < 0 || store_open(t->db, t->cfg, &t->s, &msg) < 0)
        return -1;

    /* Hourly readings over weeks 9, 10 and the start of 11: electricity a
     * little lower in week 10, damp air for 30 hours of week 10. */
    int64_t from = tiso("2026-02-23T00:00:00+01:00"), to = tiso("2026-03-11T00:00:00+01:00");
    int64_t w10 = tiso("2026-03-02T00:00:00+01:00"), w11 = tiso("2026-03-09T00:00:00+01:00");
    size_t n = 0, cap = (size_t)((to - from) / H + 1) * 5;
    struct reading *r = calloc(cap, sizeof(*r));
    double e1 = 100, e2 = 100, hw = 0;
    for (int64_t ts = from; ts <= to; ts += H) {
        r[n++] = (struct reading){.channel = tchan(t, "d1-elec"), .ts_s = ts, .value = e1};
        r[n++] = (struct reading){.channel = tchan(t, "d2-elec"), .ts_s = ts, .value = e2};
        r[n++] = (struct reading){.channel = tchan(t, "s-d1.temperature"),
                                  .ts_s = ts,
                                  .value = ts >= w10 && ts < w10 + 14 * H ? 15 : 20};
        r[n++] = (struct reading){.channel = tchan(t, "s-d1.humidity"),
                                  .ts_s = ts,
                                  .value = ts >= w10 + 24 * H && ts < w10 + 54 * H ? 75 : 50};
        r[n++] = (struct reading){.channel = tchan(t, "d1-hw"), .ts_s = ts, .value = hw};
        e1 += ts >= w10 && ts < w11 ? 1.0 : 1.25;
        hw += ts >= w10 && ts < w11 ? 12 : 10; /* more hot water in week 10 */
        e2 += 1;
    }
    if (store_ingest(t->s, r, n, 0, &t->stats) < 0)
        return -1;
    free(r);

    /* The summary of week 10, computed and stored as foyerd does. */
    struct summary_lang *fr = NULL;
    struct summary_period p;
    if (summary_lang_load(getenv("FOYER_LANG_DIR"), "fr", &fr, &errs) < 0 ||
        store_open_readonly(t->db, t->cfg, &f->ro, &msg) < 0 ||
        summary_period_parse("2026-W10", &p) < 0)
        return -1;
    struct summary_engine *e = summary_engine_new(t->cfg, f->ro, fr, DJU_METEO_FRANCE);
    f->now_s = tiso("2026-03-11T12:00:00+01:00");
    if (!e || summary_compute(e, 0, &p, f->now_s, &f->doc) < 0)
        return -1;
    summary_engine_free(e);
    summary_lang_free(fr);
    if (store_doc(t, f->doc, f->now_s) < 0)
        return -1;
    fx = f;
    *state = f;
    return 0;
}

/* Store doc as dwelling d1's summary of 2026-W10 (replacing the stored
 * one), as the pusher does. */
static int store_doc(struct tenv *t, const json_t *doc, int64_t now_s)
{
    char *body = json_dumps(doc, SUMMARY_JSON_FLAGS);
    struct store_outbox *o;
    struct store_outbox_summary s = {
        .key = "k", .dwelling = "d1", .period = "2026-W10", .body = body};
    uint64_t queued;
    const char *msg;
    int rc = store_outbox_open(t->db, &o, &msg);
    if (rc == 0)
        rc = store_outbox_add(o, &s, SUMMARY_SCHEMA_VERSION, NULL, 0, now_s, &queued, NULL);
    store_outbox_close(o);
    free(body);
    return rc;
}

static int teardown(void **state)
{
    struct fix *f = *state;
    json_decref(f->doc);
    store_close(f->ro);
    tenv_teardown(&f->t);
    http_pages_reset();
    free(f);
    return 0;
}

/* ---- calling a handler --------------------------------------------------- */

static struct http_principal tenant(int64_t tenancy_from_s)
{
    return (struct http_principal){.role = HTTP_ROLE_TENANT,
                                   .token_id = 1,
                                   .name = "tablet-d1",
                                   .dwelling = 0,
                                   .tenancy_from_s = tenancy_from_s,
                                   .tenancy_to_s = INT64_MAX};
}

static struct http_principal ambassador(int32_t building)
{
    return (struct http_principal){.role = HTTP_ROLE_AMBASSADOR,
                                   .token_id = 2,
                                   .name = "amb-claire",
                                   .dwelling = -1,
                                   .n_buildings = 1,
                                   .buildings = {building}};
}

struct call {
    struct http_response resp;
    const char *html; /* resp.body.data, "" when empty */
};

/* The end of call()'s argument list: a typed null pointer (a bare NULL
 * may be an int where a pointer is read). */
#define END ((const char *)NULL)

/* Call handler as the server would: method, an Origin header or NULL, then
 * the request's arguments as name, value pairs, ended by END. */
static void call(struct call *c, http_handler_fn handler, const char *method,
                 const struct http_principal *who, const char *lang, const char *origin, ...)
{
    struct harness_args args = {0};
    va_list ap;
    va_start(ap, origin);
    for (const char *a; (a = va_arg(ap, const char *)) != NULL && args.n < 8; args.n++) {
        args.name[args.n] = a;
        args.value[args.n] = va_arg(ap, const char *);
    }
    va_end(ap);
    struct http_request req = {
        .method = method,
        .path = "/",
        .lang = lang,
        .client = "127.0.0.1",
        .now_s = fx->now_s,
        .who = who,
        .cfg = fx->t.cfg,
        .ro = fx->ro,
        .server = &args,
        .host = "tablet.example:8080",
        .origin = origin,
    };
    memset(&c->resp, 0, sizeof(c->resp));
    c->resp.status = 200;
    int rc = handler(&req, &c->resp);
    if (rc < 0)
        fail_msg("handler %s: %d", method, rc);
    c->html = c->resp.body.data ? c->resp.body.data : "";
}

static void call_free(struct call *c)
{
    http_buf_free(&c->resp.body);
}

#define assert_has(html, s)                                                                        \
    do {                                                                                           \
        if (!strstr((html), (s)))                                                                  \
            fail_msg("page lacks %s", (s));                                                        \
    } while (0)
#define assert_lacks(html, s)                                                                      \
    do {                                                                                           \
        if (strstr((html), (s)))                                                                   \
            fail_msg("page has %s", (s));                                                          \
    } while (0)

static void write_out(const char *name, const char *html)
{
    const char *dir = getenv("FOYER_PAGES_OUT");
    char path[512];
    if (!dir)
        return;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(html, f);
    fclose(f);
}

static const json_t *cons_of(const json_t *doc, const char *q)
{
    size_t i;
    const json_t *e;
    json_array_foreach(json_object_get(doc, "consumption"), i, e)
    {
        if (strcmp(json_string_value(json_object_get(e, "quantity")), q) == 0)
            return e;
    }
    fail_msg("no %s in the summary", q);
    return NULL;
}

static const json_t *cons(const char *q)
{
    return cons_of(fx->doc, q);
}

/* ---- tests ----------------------------------------------------------------- */

static void test_tablet_figures(void **state)
{
    (void)state;
    struct http_principal who = tenant(tiso("2025-01-01"));
    struct call c;
    call(&c, page_tablet, "GET", &who, "fr", NULL, END);
    assert_int_equal(c.resp.status, 200);
    assert_string_equal(c.resp.content_type, "text/html; charset=utf-8");
    assert_has(c.html, "<html lang=\"fr\">");
    assert_has(c.html, "http-equiv=\"refresh\"");

    /* The euros and the amount: the JSON's numbers, and the French words. */
    const json_t *el = cons("electricity");
    double eur = json_number_value(json_object_get(el, "eur"));
    double amount = json_number_value(json_object_get(el, "amount"));
    double prev = json_number_value(json_object_get(json_object_get(el, "previous"), "amount"));
    char want[160], text[48];
    snprintf(want, sizeof(want), "data-f=\"eur\" value=\"%.12g\">", eur);
    assert_has(c.html, want);
    snprintf(text, sizeof(text), "%.2f", eur);
    *strchr(text, '.') = ',';
    snprintf(want, sizeof(want), "value=\"%.12g\">%s" NBSP "€</data>", eur, text);
    assert_has(c.html, want);
    snprintf(want, sizeof(want), "data-f=\"amount\" value=\"%.12g\">%.0f" NBSP "kWh</data>", amount,
             amount);
    assert_has(c.html, want);
    snprintf(want, sizeof(want), "data-f=\"previous\" value=\"%.12g\">", prev);
    assert_has(c.html, want);
    /* Less than the week before: the verdict is good, and praised. */
    assert_true(amount < prev);
    assert_has(c.html, "class=\"card v-good\" data-q=\"electricity\"");
    assert_has(c.html, "de moins que la semaine d&#39;avant. Bravo" NBSP "!");
    /* More hot water than the week before: said plainly, in amber, no
     * reproach; its euros from the JSON too. */
    const json_t *hw = cons("hot_water");
    snprintf(want, sizeof(want), "data-f=\"eur\" value=\"%.12g\">",
             json_number_value(json_object_get(hw, "eur")));
    assert_has(c.html, want);
    const char *card = strstr(c.html, "class=\"card v-up\" data-q=\"hot_water\"");
    assert_non_null(card);
    const char *card_end = strstr(card, "</article>");
    snprintf(want, sizeof(want), "%.0f" NBSP "%% de plus que la semaine d&#39;avant.",
             json_number_value(json_object_get(json_object_get(hw, "previous"), "change_pct")));
    const char *said = strstr(card, want);
    if (!said || said > card_end)
        fail_msg("hot water card lacks %s", want);
    assert_has(card, "En hausse");
    /* Comfort: 14 cold hours, 30 damp ones. */
    assert_has(c.html, "Il a fait froid" NBSP ": 14 heures sous 16" NBSP "°C.");
    assert_has(c.html, "pendant 30 heures");
    /* Tips: the summary's, escaped (an apostrophe in every French tip). */
    const json_t *tips = json_object_get(fx->doc, "tips");
    assert_true(json_array_size(tips) > 0);
    size_t i;
    const json_t *tip;
    json_array_foreach(tips, i, tip)
    {
        snprintf(want, sizeof(want), "data-tip=\"%s\"",
                 json_string_value(json_object_get(tip, "id")));
        assert_has(c.html, want);
    }
    assert_lacks(c.html, "L'air");
    assert_has(c.html, "L&#39;air");
    /* The forms and their labels. */
    assert_has(c.html, "action=\"/tablet/tip\"");
    assert_has(c.html, "name=\"answer\" value=\"impossible\"");
    assert_has(c.html, "action=\"/tablet/report\"");
    assert_has(c.html, "<label for=\"report-text\">");
    assert_has(c.html, "data-period=\"2026-W10\"");
    write_out("tablet.html", c.html);
    char *doc = json_dumps(fx->doc, SUMMARY_JSON_FLAGS);
    write_out("summary.json", doc);
    free(doc);
    call_free(&c);

    /* English: its words, the tips marked as French. */
    call(&c, page_tablet, "GET", &who, "en", NULL, "lang", "en", END);
    assert_has(c.html, "<html lang=\"en\">");
    snprintf(want, sizeof(want), "value=\"%.12g\">€%.2f</data>", eur, eur);
    assert_has(c.html, want);
    assert_has(c.html, "<p class=\"tip-text\" lang=\"fr\">");
    assert_has(c.resp.set_cookie, "foyer_lang=en");
    write_out("tablet-en.html", c.html);
    call_free(&c);
}

static void test_tip_hidden(void **state)
{
    (void)state;
    struct http_principal who = tenant(tiso("2025-01-01"));
    struct call c;
    /* Bad answers, unknown tips, another site's form: refused. */
    call(&c, page_tablet_tip, "POST", &who, "fr", NULL, "tip", "damp-air", "answer", "maybe", END);
    assert_int_equal(c.resp.status, 400);
    assert_has(c.html, "<html lang=\"fr\">");
    call_free(&c);
    call(&c, page_tablet_tip, "POST", &who, "fr", NULL, "tip", "no-such-tip", "answer", "done",
         END);
    assert_int_equal(c.resp.status, 400);
    call_free(&c);
    call(&c, page_tablet_tip, "POST", &who, "fr", "https://evil.example", "tip", "damp-air",
         "answer", "impossible", END);
    assert_int_equal(c.resp.status, 403);
    call_free(&c);
    call(&c, page_tablet, "GET", &who, "fr", NULL, END);
    assert_has(c.html, "data-tip=\"damp-air\"");
    call_free(&c);

    call(&c, page_tablet_tip, "POST", &who, "fr", "http://tablet.example:8080", "tip", "damp-air",
         "answer", "impossible", END);
    assert_int_equal(c.resp.status, 303);
    assert_string_equal(c.resp.location, "/tablet?thanks=tip");
    call_free(&c);
    call(&c, page_tablet, "GET", &who, "fr", NULL, "thanks", "tip", END);
    assert_lacks(c.html, "data-tip=\"damp-air\"");
    assert_has(c.html, "Merci, votre réponse est notée.");
    call_free(&c);
    /* "Tell me more": the tip stays, and the ambassador sees the request
     * with the tip's words until closing it. */
    call(&c, page_tablet_tip, "POST", &who, "fr", NULL, "tip", "cold-home", "answer", "more", END);
    assert_int_equal(c.resp.status, 303);
    assert_string_equal(c.resp.location, "/tablet?thanks=more");
    call_free(&c);
    call(&c, page_tablet, "GET", &who, "fr", NULL, "thanks", "more", END);
    assert_has(c.html, "data-tip=\"cold-home\"");
    assert_has(c.html, "Vous avez demandé à en savoir plus.");
    assert_has(c.html, "L&#39;ambassadeur énergie va vous contacter pour en parler.");
    call_free(&c);
    struct http_principal amb = ambassador(0);
    call(&c, page_ambassador, "GET", &amb, "fr", NULL, END);
    const char *item = strstr(c.html, "Aimerait en savoir plus sur ce conseil");
    assert_non_null(item);
    assert_has(item, "<q>Il a fait moins de 16 °C chez vous pendant 14 heures.");
    const char *idp = strstr(c.html, "data-report=\"");
    assert_non_null(idp);
    char id[24];
    snprintf(id, sizeof(id), "%lld", atoll(idp + strlen("data-report=\"")));
    call_free(&c);
    call(&c, page_ambassador_report, "POST", &amb, "fr", NULL, "id", id, END);
    assert_int_equal(c.resp.status, 303);
    call_free(&c);

    struct http_page_stats st;
    http_page_stats_get(&st);
    assert_true(st.bad_forms >= 2);
    assert_true(st.cross_site >= 1);
    assert_true(st.tip_answers >= 1);
}

static void test_report_to_ambassador(void **state)
{
    (void)state;
    struct http_principal who = tenant(tiso("2025-01-01"));
    struct http_principal amb = ambassador(0), other = ambassador(1);
    struct call c;
    char long_text[FOYER_REPORT_TEXT_MAX + 2];
    memset(long_text, 'a', sizeof(long_text) - 1);
    long_text[sizeof(long_text) - 1] = '\0';
    call(&c, page_tablet_report, "POST", &who, "fr", NULL, "kind", "leak", "text", long_text, END);
    assert_int_equal(c.resp.status, 400);
    call_free(&c);
    call(&c, page_tablet_report, "POST", &who, "fr", NULL, "kind", "fire", END);
    assert_int_equal(c.resp.status, 400);
    call_free(&c);
    call(&c, page_tablet_report, "POST", &who, "fr", NULL, "kind", "leak", "text",
         "<b>fuite</b> sous l'évier", END);
    assert_int_equal(c.resp.status, 303);
    assert_string_equal(c.resp.location, "/tablet?thanks=report");
    call_free(&c);

    /* The sensor went stale: listed first, with its dwelling. */
    struct device_health h[] = {
        {.device = "s-d1",
         .kind = "sensor",
         .state = "stale",
         .since_s = tiso("2026-03-10T08:05:00+01:00")},
        {.device = "s-hall", .kind = "sensor", .state = "fresh", .since_s = fx->now_s - 60},
    };
    assert_int_equal(store_put_devices(fx->t.s, NULL, 0, h, 2), 0);

    call(&c, page_ambassador, "GET", &amb, "fr", NULL, END);
    assert_int_equal(c.resp.status, 200);
    assert_has(c.html, "Immeuble Les &lt;Tilleuls&gt; &amp; Co");
    assert_has(c.html, "data-device=\"s-d1\"");
    assert_has(c.html, "Pas de nouvelles depuis le 10" NBSP "mars à 8" NBSP "h" NBSP "05.");
    assert_has(c.html, "Logement Bât A, 3e &quot;gauche&quot;");
    assert_lacks(c.html, "data-device=\"s-hall\"");
    const char *cellar = strstr(c.html, "data-device=\"s-cellar\"");
    assert_non_null(cellar);
    assert_has(cellar, "Parties communes</span> <span class=\"since\">N&#39;a encore jamais "
                       "transmis.");
    assert_has(c.html, "1 appareil transmet bien.");
    assert_has(c.html, "Fuite d&#39;eau");
    assert_has(c.html, "&lt;b&gt;fuite&lt;/b&gt; sous l&#39;évier");
    assert_lacks(c.html, "<b>fuite");
    assert_true(strstr(c.html, "data-device=") < strstr(c.html, "data-report="));
    /* The building's totals: since Monday 00:00 (48 hours of 1.25 kWh and
     * 10 L), nothing yet today (the last reading is at midnight); the
     * plug's energy (a submeter) is not added. */
    assert_has(c.html, "data-q=\"electricity\" data-today=\"0\" data-week=\"60\"");
    assert_has(c.html, "data-q=\"hot_water\" data-today=\"0\" data-week=\"480\"");
    assert_has(c.html,
               "Électricité" NBSP ": 0" NBSP "kWh aujourd&#39;hui, 60" NBSP "kWh depuis lundi.");
    write_out("ambassador.html", c.html);
    const char *idp = strstr(c.html, "data-report=\"");
    assert_non_null(idp);
    char id[24];
    snprintf(id, sizeof(id), "%lld", atoll(idp + strlen("data-report=\"")));
    call_free(&c);

    /* An ambassador of another building neither sees nor closes it. */
    call(&c, page_ambassador, "GET", &other, "fr", NULL, END);
    assert_lacks(c.html, "data-report=");
    call_free(&c);
    call(&c, page_ambassador_report, "POST", &other, "fr", NULL, "id", id, END);
    assert_int_equal(c.resp.status, 403);
    call_free(&c);
    call(&c, page_ambassador_report, "POST", &amb, "fr", NULL, "id", "12abc", END);
    assert_int_equal(c.resp.status, 400);
    call_free(&c);

    call(&c, page_ambassador_report, "POST", &amb, "fr", NULL, "id", id, END);
    assert_int_equal(c.resp.status, 303);
    assert_string_equal(c.resp.location, "/ambassador?closed=1");
    call_free(&c);
    call(&c, page_ambassador, "GET", &amb, "fr", NULL, "closed", "1", END);
    assert_lacks(c.html, "data-report=");
    assert_has(c.html, "Aucun problème ni demande en ce moment.");
    assert_has(c.html, "le problème est marqué comme réglé");
    call_free(&c);

    /* The limit counts characters: 280 "é" (560 bytes) are fine, a
     * control character or broken UTF-8 is not. */
    char accents[2 * FOYER_REPORT_TEXT_MAX + 1] = "";
    for (int i = 0; i < FOYER_REPORT_TEXT_MAX; i++)
        strcat(accents, "é");
    call(&c, page_tablet_report, "POST", &who, "fr", NULL, "kind", "cold", "text", accents, END);
    assert_int_equal(c.resp.status, 303);
    call_free(&c);
    call(&c, page_ambassador, "GET", &amb, "fr", NULL, END);
    assert_has(c.html, accents);
    call_free(&c);
    call(&c, page_tablet_report, "POST", &who, "fr", NULL, "kind", "cold", "text", "a\x1b[2Jb",
         END);
    assert_int_equal(c.resp.status, 400);
    call_free(&c);
    call(&c, page_tablet_report, "POST", &who, "fr", NULL, "kind", "cold", "text", "caf\xc3", END);
    assert_int_equal(c.resp.status, 400);
    call_free(&c);
}

static void test_tenancy_clipping(void **state)
{
    (void)state;
    /* Moved in on Wednesday of week 10: that week was another household's. */
    struct http_principal who = tenant(tiso("2026-03-04"));
    struct call c;
    call(&c, page_tablet, "GET", &who, "fr", NULL, END);
    assert_int_equal(c.resp.status, 200);
    assert_lacks(c.html, "data-f=\"eur\"");
    assert_lacks(c.html, "data-tip=");
    assert_has(c.html, "Il n&#39;y a pas encore de chiffres pour votre logement.");
    call_free(&c);
    /* Moved in on Monday of week 10: the week shows, the week before not. */
    who = tenant(tiso("2026-03-02"));
    call(&c, page_tablet, "GET", &who, "fr", NULL, END);
    assert_has(c.html, "data-f=\"eur\"");
    assert_lacks(c.html, "data-f=\"previous\"");
    assert_lacks(c.html, "semaine d&#39;avant");
    call_free(&c);
    /* The engine clipped the week to a tenancy starting on Wednesday: the
     * new household sees its part, said so, with no week before. */
    json_t *clipped = json_deep_copy(fx->doc);
    json_t *period = json_object_get(clipped, "period");
    json_object_set_new(period, "from", json_string("2026-03-04T00:00:00+01:00"));
    json_object_set_new(period, "clipped_to_tenancy", json_true());
    assert_int_equal(store_doc(&fx->t, clipped, fx->now_s), 0);
    who = tenant(tiso("2026-03-04"));
    call(&c, page_tablet, "GET", &who, "fr", NULL, END);
    assert_has(c.html, "data-f=\"eur\"");
    assert_has(c.html, "Depuis votre arrivée le 4" NBSP "mars.");
    assert_lacks(c.html, "data-f=\"previous\"");
    call_free(&c);
    /* A tenancy from Thursday does not: the figures start before it. */
    who = tenant(tiso("2026-03-05"));
    call(&c, page_tablet, "GET", &who, "fr", NULL, END);
    assert_lacks(c.html, "data-f=\"eur\"");
    call_free(&c);
    assert_int_equal(store_doc(&fx->t, fx->doc, fx->now_s), 0);
    json_decref(clipped);
    who = tenant(tiso("2026-03-02"));

    /* Monday night of week 12, week 11's summary not computed yet: week
     * 10 is shown, not yet called old. */
    int64_t saved_now = fx->now_s;
    fx->now_s = tiso("2026-03-16T02:00:00+01:00");
    call(&c, page_tablet, "GET", &who, "fr", NULL, END);
    fx->now_s = saved_now;
    assert_has(c.html, "data-period=\"2026-W10\"");
    assert_lacks(c.html, "ces chiffres sont anciens");
    call_free(&c);
    /* Two weeks later, the week-10 figures are shown as old. */
    fx->now_s += 14 * 86400;
    call(&c, page_tablet, "GET", &who, "fr", NULL, END);
    fx->now_s -= 14 * 86400;
    assert_has(c.html, "ces chiffres sont anciens");
    call_free(&c);
}

static void test_texts_both_languages(void **state)
{
    (void)state;
    struct conf_errors errs = {0};
    struct page_lang *l = NULL;
    assert_int_equal(page_texts_load(getenv("FOYER_LANG_DIR"), &l, &errs), 0);
    for (int k = 0; k < PK_COUNT_; k++) {
        assert_non_null(l[PAGE_FR].text[k]);
        assert_non_null(l[PAGE_EN].text[k]);
    }
    page_texts_free(l);
    assert_true(http_pages_check_texts(fx->t.cfg, &errs) == 0);

    /* An English file without one key: named with its file. */
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "cp '%s/web.fr.conf' '%s/' && grep -v '^tip_more = ' '%s/web.en.conf' > "
             "'%s/web.en.conf'",
             getenv("FOYER_LANG_DIR"), fx->t.dir, getenv("FOYER_LANG_DIR"), fx->t.dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(page_texts_load(fx->t.dir, &l, &errs), -EINVAL);
    assert_int_equal(errs.n, 1);
    char want[256];
    snprintf(want, sizeof(want), "%s/web.en.conf: missing key \"tip_more\"", fx->t.dir);
    if (!strstr(errs.msgs[0], want))
        fail_msg("got %s", errs.msgs[0]);
    conf_errors_free(&errs);
}

static void test_pair_page(void **state)
{
    (void)state;
    struct http_principal nobody = {.role = HTTP_ROLE_NONE, .dwelling = -1};
    const struct http_route *pair = NULL;
    for (const struct http_route *r = http_page_routes; r->method; r++)
        if (strcmp(r->method, "GET") == 0 && strcmp(r->pattern, "/pair") == 0)
            pair = r;
    assert_non_null(pair);
    /* public, and a paired tablet (a live cookie) may be paired again */
    assert_int_equal(pair->roles, HTTP_ALLOW_PUBLIC | HTTP_ALLOW_TENANT | HTTP_ALLOW_AMBASSADOR |
                                      HTTP_ALLOW_ENERGY_TEAM);
    struct call c;
    call(&c, pair->handler, "GET", &nobody, "fr", NULL, END);
    assert_int_equal(c.resp.status, 200);
    assert_has(c.html, "<form class=\"pair\" method=\"post\" action=\"/pair\">");
    assert_has(c.html, "<label for=\"code\">Le code</label>");
    assert_lacks(c.html, "role=\"alert\"");
    write_out("pair.html", c.html);
    call_free(&c);
    call(&c, pair->handler, "GET", &nobody, "en", NULL, "error", "1", END);
    assert_has(c.html, "<p class=\"problem\" role=\"alert\">This code does not work.");
    call_free(&c);
}

/* The comparison with similar homes: praise comes first, whatever else is
 * said; a household above the median is never shamed. */
static void test_praise_first(void **state)
{
    (void)state;
    struct http_principal who = tenant(tiso("2025-01-01"));
    struct call c;
    json_t *doc = json_deep_copy(fx->doc);
    json_t *el = (json_t *)cons_of(doc, "electricity");
    json_t *hw = (json_t *)cons_of(doc, "hot_water");
    /* Electricity: 8 % up on the week before, yet among the best quarter. */
    json_object_set_new(json_object_get(el, "previous"), "change_pct", json_real(8.0));
    json_object_set_new(el, "comparison",
                        json_pack("{s:i, s:f, s:f, s:f, s:f, s:s}", "peers", 7, "per_m2", 3.2,
                                  "median_per_m2", 3.9, "best_quarter_per_m2", 3.3, "vs_median_pct",
                                  -18.0, "position", "best_quarter"));
    /* Hot water: above the median of similar homes, and up. */
    json_object_set_new(hw, "comparison",
                        json_pack("{s:i, s:f, s:f, s:f, s:f, s:s}", "peers", 7, "per_m2", 40.0,
                                  "median_per_m2", 30.0, "best_quarter_per_m2", 25.0,
                                  "vs_median_pct", 33.0, "position", "above_median"));
    assert_int_equal(store_doc(&fx->t, doc, fx->now_s), 0);
    call(&c, page_tablet, "GET", &who, "fr", NULL, END);
    const char *card = strstr(c.html, "data-q=\"electricity\"");
    assert_non_null(card);
    const char *praise = strstr(card, "vous êtes parmi les foyers les plus économes");
    const char *up = strstr(card, "8" NBSP "% de plus que la semaine d&#39;avant.");
    assert_non_null(praise);
    assert_non_null(up);
    assert_true(praise < up);
    assert_has(card, "En hausse");
    card = strstr(c.html, "data-q=\"hot_water\"");
    assert_non_null(card);
    assert_has(card, "Les logements semblables consomment un peu moins. Les conseils plus bas "
                     "peuvent aider.");
    call_free(&c);
    assert_int_equal(store_doc(&fx->t, fx->doc, fx->now_s), 0);
    json_decref(doc);
}

/* A summary whose tips carry both languages (tips[].texts, computed by an
 * engine given the English catalogue too): the English page shows the
 * English words, unmarked; the French page the French ones. */
static void test_tip_languages(void **state)
{
    (void)state;
    struct http_principal who = tenant(tiso("2025-01-01"));
    struct summary_lang *fr = NULL, *en = NULL;
    struct conf_errors errs = {0};
    struct summary_period p;
    json_t *doc = NULL;
    assert_int_equal(summary_lang_load(getenv("FOYER_LANG_DIR"), "fr", &fr, &errs), 0);
    assert_int_equal(summary_lang_load(getenv("FOYER_LANG_DIR"), "en", &en, &errs), 0);
    assert_int_equal(summary_period_parse("2026-W10", &p), 0);
    struct summary_engine *e = summary_engine_new(fx->t.cfg, fx->ro, fr, DJU_METEO_FRANCE);
    assert_non_null(e);
    assert_int_equal(summary_engine_add_lang(e, en), 0);
    assert_int_equal(summary_compute(e, 0, &p, fx->now_s, &doc), 0);
    assert_int_equal(store_doc(&fx->t, doc, fx->now_s), 0);
    const json_t *tips = json_object_get(doc, "tips");
    assert_true(json_array_size(tips) > 0);

    struct call c;
    call(&c, page_tablet, "GET", &who, "en", NULL, "lang", "en", END);
    assert_int_equal(c.resp.status, 200);
    size_t i, shown = 0;
    const json_t *tip;
    char want[1200];
    json_array_foreach(tips, i, tip)
    {
        const json_t *texts = json_object_get(tip, "texts");
        /* A tip answered "not possible here" (test_tip_hidden) is not shown. */
        snprintf(want, sizeof(want), "data-tip=\"%s\"",
                 json_string_value(json_object_get(tip, "id")));
        if (!strstr(c.html, want))
            continue;
        shown++;
        struct http_buf b = {0};
        assert_int_equal(http_buf_html(&b, json_string_value(json_object_get(texts, "en"))), 0);
        snprintf(want, sizeof(want), "<p class=\"tip-text\">%s</p>", b.data);
        assert_has(c.html, want);
        http_buf_free(&b);
        assert_int_equal(http_buf_html(&b, json_string_value(json_object_get(texts, "fr"))), 0);
        assert_lacks(c.html, b.data);
        http_buf_free(&b);
    }
    assert_true(shown > 0);
    assert_lacks(c.html, "<p class=\"tip-text\" lang=\"fr\">");
    call_free(&c);

    call(&c, page_tablet, "GET", &who, "fr", NULL, END);
    json_array_foreach(tips, i, tip)
    {
        struct http_buf b = {0};
        snprintf(want, sizeof(want), "data-tip=\"%s\"",
                 json_string_value(json_object_get(tip, "id")));
        if (!strstr(c.html, want))
            continue;
        assert_int_equal(http_buf_html(&b, json_string_value(json_object_get(
                                               json_object_get(tip, "texts"), "fr"))),
                         0);
        assert_has(c.html, b.data);
        http_buf_free(&b);
    }
    call_free(&c);
    assert_int_equal(store_doc(&fx->t, fx->doc, fx->now_s), 0);
    json_decref(doc);
    summary_engine_free(e);
    summary_lang_free(fr);
    summary_lang_free(en);
}

static void test_numbers(void **state)
{
    (void)state;
    char buf[48];
    struct page fr = {.t = page_texts_get(fx->t.cfg, "fr")};
    struct page en = {.t = page_texts_get(fx->t.cfg, "en")};
    assert_non_null(fr.t);
    assert_non_null(en.t);
    assert_string_equal(page_num(&fr, 12500.5, 2, buf, sizeof(buf)), "12" NBSP "500,50");
    assert_string_equal(page_num(&en, 12500.5, 2, buf, sizeof(buf)), "12,500.50");
    assert_string_equal(page_num(&fr, 999, 0, buf, sizeof(buf)), "999");
    assert_string_equal(page_num(&fr, 1000, 0, buf, sizeof(buf)), "1" NBSP "000");
    assert_string_equal(page_num(&en, -1234567, 0, buf, sizeof(buf)), "-1,234,567");
    assert_string_equal(page_num(&en, -0.001, 0, buf, sizeof(buf)), "0");
    assert_string_equal(page_num(&fr, 0.05, 1, buf, sizeof(buf)), "0,1");
    assert_string_equal(page_num(&fr, NAN, 1, buf, sizeof(buf)), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* clang-format off */
        cmocka_unit_test(test_tablet_figures),
        cmocka_unit_test(test_tip_hidden),
        cmocka_unit_test(test_report_to_ambassador),
        cmocka_unit_test(test_tenancy_clipping),
        cmocka_unit_test(test_texts_both_languages),
        cmocka_unit_test(test_praise_first),
        cmocka_unit_test(test_tip_languages),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_pair_page),
        /* clang-format on */
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
