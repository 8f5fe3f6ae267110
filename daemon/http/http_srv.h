/*
 * http_srv.h - what the server's own files share (http_server.c,
 * http_auth.c, http_metrics.c); the handlers (http_api.c, http_pages.c)
 * see only http_int.h.
 */
#ifndef FOYER_HTTP_SRV_H
#define FOYER_HTTP_SRV_H

#include <stdbool.h>
#include <stdint.h>

#include "foyer/http.h"
#include "http_int.h"

/* ---- authentication (http_auth.c) -------------------------------------- */

/* The principal of bearer token text at now_s, judged against cfg: 0 and
 * *ret, or -EACCES with *ret_why (static) saying why (unknown, revoked,
 * expired, tenancy ended, dwelling or buildings gone from the config,
 * still a pairing token), or -errno from the store. */
int http_auth_principal(struct store *ro, const struct foyer_config *cfg, const char *token,
                        int64_t now_s, struct http_principal *ret, const char **ret_why);

/* The role's name in the API ("tenant", "ambassador", "energy-team"). */
const char *http_auth_role_name(enum http_role role);

/* POST /api/v1/pair (JSON {"code": ...} -> {"token": ..., "role": ...})
 * and POST /pair (form field code: the foyer_token cookie and 303). */
int http_auth_pair_api(const struct http_request *req, struct http_response *resp);
int http_auth_pair_form(const struct http_request *req, struct http_response *resp);

/* ---- /healthz and /metrics (http_metrics.c) ----------------------------- */

int http_metrics_healthz(const struct http_request *req, struct http_response *resp);
int http_metrics_metrics(const struct http_request *req, struct http_response *resp);

/* ---- the server, for the files above (http_server.c) -------------------- */

/* The daemon's snapshot (req->server's callback); caller frees
 * ret->devices with free(). */
void http_server_snapshot(const struct http_request *req, struct http_snapshot *ret);
/* The same without the device list: what /healthz needs, on every probe. */
void http_server_health_snapshot(const struct http_request *req, struct http_snapshot *ret);

/* Requests answered so far, by route name and status, to fn. */
void http_server_each_count(const struct http_request *req,
                            void (*fn)(void *ctx, const char *route, int status, uint64_t n),
                            void *ctx);

#endif
