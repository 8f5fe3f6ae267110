/*
 * http_pages.h - what the rest of foyer asks of the pages of the http room
 * (daemon/http/http_page_text.c): their language files.  The pages
 * themselves are reached through the server's route table only
 * (daemon/http/http_int.h).
 */
#ifndef FOYER_HTTP_PAGES_H
#define FOYER_HTTP_PAGES_H

#include "foyer/config.h"

/* Load and check the pages' language files DIR/web.fr.conf and
 * DIR/web.en.conf for cfg (DIR as summary_lang_dir() says): every text
 * key in both, no unknown key.  Appends "FILE:LINE: message" to errs and
 * returns their number, or -ENOMEM.  For foyerd --check-config. */
int http_pages_check_texts(const struct foyer_config *cfg, struct conf_errors *errs);

/* Forget the texts loaded for the pages, so the next request loads them
 * again (after SIGHUP, and between tests).  Not while a request runs. */
void http_pages_reset(void);

#endif
