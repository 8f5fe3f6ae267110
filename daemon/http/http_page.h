/*
 * http_page.h - what the page files of the http room share
 * (http_pages.c: routes, the pairing page, the error page, the cross-site
 * check, the skeleton, numbers, dates and pictograms; http_page_text.c:
 * the language files; http_page_tablet.c, http_page_ambassador.c: the two
 * pages).  Not an interface: the server sees only http_page_routes[] and
 * http_page_stats_get() (http_int.h), foyerd http_pages.h.
 *
 * Every word a page shows comes from config/web.LANG.conf through
 * page_say(); the C holds markup, never text for people.
 */
#ifndef FOYER_HTTP_PAGE_H
#define FOYER_HTTP_PAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http_int.h"

/* The keys of [strings] in web.LANG.conf: both files must hold exactly
 * these (page_texts_load()).  One X(key) per line, in the files' order. */
#define PAGE_KEYS(X)                                                                               \
    X(lang_switch)                                                                                 \
    X(lang_switch_name)                                                                            \
    X(error_title)                                                                                 \
    X(error_bad_form)                                                                              \
    X(error_not_yours)                                                                             \
    X(error_back)                                                                                  \
    X(pair_title)                                                                                  \
    X(pair_intro)                                                                                  \
    X(pair_label)                                                                                  \
    X(pair_submit)                                                                                 \
    X(pair_error)                                                                                  \
    X(tablet_title)                                                                                \
    X(tablet_period)                                                                               \
    X(tablet_since)                                                                                \
    X(tablet_none)                                                                                 \
    X(tablet_old)                                                                                  \
    X(tablet_old_why)                                                                              \
    X(tablet_partial)                                                                              \
    X(tablet_updated)                                                                              \
    X(tablet_refresh)                                                                              \
    X(q_electricity)                                                                               \
    X(q_heat)                                                                                      \
    X(q_gas)                                                                                       \
    X(q_hot_water)                                                                                 \
    X(q_cold_water)                                                                                \
    X(unit_kWh)                                                                                    \
    X(unit_L)                                                                                      \
    X(eur)                                                                                         \
    X(amount)                                                                                      \
    X(verdict_good)                                                                                \
    X(verdict_steady)                                                                              \
    X(verdict_up)                                                                                  \
    X(verdict_unknown)                                                                             \
    X(verdict_neutral)                                                                             \
    X(prev_down)                                                                                   \
    X(prev_same)                                                                                   \
    X(prev_up)                                                                                     \
    X(peers_best_quarter)                                                                          \
    X(peers_better)                                                                                \
    X(peers_above)                                                                                 \
    X(unreliable)                                                                                  \
    X(bar_this_week)                                                                               \
    X(bar_prev_week)                                                                               \
    X(comfort_title)                                                                               \
    X(comfort_temp)                                                                                \
    X(comfort_cold)                                                                                \
    X(comfort_cold_ok)                                                                             \
    X(comfort_damp)                                                                                \
    X(comfort_damp_ok)                                                                             \
    X(comfort_stale)                                                                               \
    X(comfort_stale_ok)                                                                            \
    X(tips_title)                                                                                  \
    X(tips_saving)                                                                                 \
    X(tip_answer_label)                                                                            \
    X(tip_done)                                                                                    \
    X(tip_impossible)                                                                              \
    X(tip_more)                                                                                    \
    X(tip_was_done)                                                                                \
    X(tip_was_more)                                                                                \
    X(report_title)                                                                                \
    X(report_open)                                                                                 \
    X(report_intro)                                                                                \
    X(report_text_label)                                                                           \
    X(report_cold)                                                                                 \
    X(report_damp)                                                                                 \
    X(report_draught)                                                                              \
    X(report_leak)                                                                                 \
    X(report_broken)                                                                               \
    X(thanks_tip)                                                                                  \
    X(thanks_more)                                                                                 \
    X(thanks_report)                                                                               \
    X(thanks_choice)                                                                               \
    X(choices_title)                                                                               \
    X(choices_load_curve)                                                                          \
    X(choices_load_curve_yes)                                                                      \
    X(choices_load_curve_no)                                                                       \
    X(choices_yes)                                                                                 \
    X(choices_no)                                                                                  \
    X(choices_share_title)                                                                         \
    X(choices_share_intro)                                                                         \
    X(choices_share_who)                                                                           \
    X(choices_share_days)                                                                          \
    X(choices_share_submit)                                                                        \
    X(choices_share_none)                                                                          \
    X(choices_share_line)                                                                          \
    X(choices_share_revoke)                                                                        \
    X(choices_share_nobody)                                                                        \
    X(amb_title)                                                                                   \
    X(amb_building)                                                                                \
    X(amb_devices_title)                                                                           \
    X(amb_devices_ok)                                                                              \
    X(amb_devices_ok_count)                                                                        \
    X(amb_devices_ok_one)                                                                          \
    X(amb_device_offline)                                                                          \
    X(amb_device_stale)                                                                            \
    X(amb_device_never)                                                                            \
    X(amb_kind_meter)                                                                              \
    X(amb_kind_sensor)                                                                             \
    X(amb_common)                                                                                  \
    X(amb_dwelling)                                                                                \
    X(amb_alerts_title)                                                                            \
    X(amb_alerts_none)                                                                             \
    X(amb_alert_line)                                                                              \
    X(amb_alert_acked)                                                                             \
    X(amb_alert_note)                                                                              \
    X(amb_alert_ack)                                                                               \
    X(amb_acked)                                                                                   \
    X(amb_reports_title)                                                                           \
    X(amb_kind_more)                                                                               \
    X(amb_reports_none)                                                                            \
    X(amb_report_line)                                                                             \
    X(amb_report_close)                                                                            \
    X(amb_closed)                                                                                  \
    X(amb_totals_title)                                                                            \
    X(amb_total_line)                                                                              \
    X(amb_totals_none)                                                                             \
    X(amb_shared_title)                                                                            \
    X(amb_shared_none)                                                                             \
    X(amb_shared_line)                                                                             \
    X(amb_shared_week)                                                                             \
    X(amb_shared_figure)                                                                           \
    X(amb_shared_nofigures)                                                                        \
    X(date_day)                                                                                    \
    X(date_time)                                                                                   \
    X(month_1)                                                                                     \
    X(month_2)                                                                                     \
    X(month_3)                                                                                     \
    X(month_4)                                                                                     \
    X(month_5)                                                                                     \
    X(month_6)                                                                                     \
    X(month_7)                                                                                     \
    X(month_8)                                                                                     \
    X(month_9)                                                                                     \
    X(month_10)                                                                                    \
    X(month_11)                                                                                    \
    X(month_12)

enum page_key {
#define PAGE_KEY_ENUM(k) PK_##k,
    PAGE_KEYS(PAGE_KEY_ENUM)
#undef PAGE_KEY_ENUM
        PK_COUNT_
};

/* The languages of the pages, French first (the default). */
enum page_lang_id { PAGE_FR, PAGE_EN, PAGE_LANG_COUNT_ };

/* One loaded language: immutable once loaded, shared by threads. */
struct page_lang {
    const char *code;      /* "fr", "en" */
    char *text[PK_COUNT_]; /* every key present */
    char decimal[8];       /* [format] decimal separator */
    char thousands[8];     /* [format] thousands separator, may be "" */
};

/* Load DIR/web.fr.conf and DIR/web.en.conf and check them: every key of
 * PAGE_KEYS present in both, no unknown key, values not empty.  Problems
 * go to errs as "FILE:LINE: message" (a missing key: "FILE: missing key
 * KEY").  0 and *ret (free with page_texts_free()), or -EINVAL, -ENOMEM. */
int page_texts_load(const char *dir, struct page_lang **ret, struct conf_errors *errs);
void page_texts_free(struct page_lang *langs);

/* The texts for a request's config (loaded on first use, kept until
 * http_pages_reset()), and the tip catalogue's ids, for answers.  NULL
 * when the files cannot be loaded (logged once). */
const struct page_lang *page_texts_get(const struct foyer_config *cfg, const char *lang);
bool page_tip_known(const struct foyer_config *cfg, const char *tip);

/* A page being written. */
struct page {
    const struct http_request *req;
    struct http_response *resp;
    struct http_buf *b;
    const struct page_lang *t;
};

/* A named value for a text's {name} placeholder. */
struct page_var {
    const char *name;
    const char *value;
};

/* The text of key with its placeholders replaced, escaped for HTML. */
int page_say(struct page *pg, enum page_key key, const struct page_var *vars, size_t n_vars);
/* Raw text of a key (not escaped): for attributes, use http_buf_html(). */
const char *page_text(const struct page *pg, enum page_key key);

/* A number in the page's language: decimals after the separator,
 * thousands grouped.  buf of at least 48 bytes. */
char *page_num(const struct page *pg, double v, int decimals, char *buf, size_t len);
/* A local date ("16 novembre"), with the time when with_time. */
int page_date(struct page *pg, int64_t ts_s, bool with_time, char *buf, size_t len);

/* Open the page: <!doctype>, <html lang>, head (title from key,
 * refresh_s > 0: refresh to refresh_url), <body>, the language switch
 * (a link to path?lang=OTHER).  Close it with page_end(). */
int page_begin(struct page *pg, enum page_key title, int refresh_s, const char *refresh_url,
               const char *path);
int page_end(struct page *pg);

/* An HTML error page (status 400, 403 ...): its title, the sentence of
 * key, a link back to back_path.  why (static text naming the field and
 * what is wrong with it) goes to the log, rate-limited; a 400 is counted
 * as a bad form. */
int page_error(const struct http_request *req, struct http_response *resp, int status,
               enum page_key key, const char *back_path, const char *why);

/* A form post may come from our own pages only: Origin, else Referer,
 * when sent, must name the Host the request was sent to. */
bool page_same_origin(const struct http_request *req);

/* 303 See Other to location. */
void page_redirect(struct http_response *resp, const char *location);

/* Inline SVG pictograms, decorative (aria-hidden): the words beside them
 * say the same. */
int page_picto(struct http_buf *b, const char *name);

/* The report kind of a household's "tell me more" answer to a tip: the
 * ambassador sees it with the problem reports (text: the tip's). */
#define PAGE_REPORT_MORE "more"

/* Counters of http_page_stats (http_pages.c), for the page files. */
extern _Atomic uint64_t page_stat_tip_answers, page_stat_reports_opened, page_stat_reports_closed;

/* The handlers. */
int page_tablet(const struct http_request *req, struct http_response *resp);
int page_tablet_tip(const struct http_request *req, struct http_response *resp);
int page_tablet_report(const struct http_request *req, struct http_response *resp);
int page_ambassador(const struct http_request *req, struct http_response *resp);
int page_ambassador_report(const struct http_request *req, struct http_response *resp);
int page_ambassador_alert(const struct http_request *req, struct http_response *resp);

/* The household's choices on the tablet (http_page_choices.c): the
 * "Mes choix" section (consent to load curves, grants to an ambassador)
 * for config dwelling d, and its three forms. */
int page_choices_section(struct page *pg, uint32_t d);
int page_tablet_consent(const struct http_request *req, struct http_response *resp);
int page_tablet_share(const struct http_request *req, struct http_response *resp);
int page_tablet_unshare(const struct http_request *req, struct http_response *resp);

/* The ambassador page's "Foyers qui partagent avec vous" section
 * (http_page_shared.c): each household sharing with the principal, its
 * last week's figures, every read access-logged first. */
int page_shared_section(struct page *pg);

#endif /* FOYER_HTTP_PAGE_H */
