/*
 * http_share.h - what the API (http_api_share.c, http_api_team.c) and the
 * ambassador's page (http_page_shared.c) share about a household's
 * grant to an ambassador (include/foyer/store_grant.h): whether the
 * caller holds one now, and the access-log row written before each read
 * it allows; and with the tenant's choices page (http_page_choices.c),
 * who records a choice and which ambassadors may be chosen.  Defined in
 * http_share.c.
 */
#ifndef FOYER_HTTP_SHARE_H
#define FOYER_HTTP_SHARE_H

#include <stdbool.h>
#include <stdint.h>

#include "foyer/store_auth.h"
#include "foyer/store_grant.h"
#include "http_int.h"

/* Whether config dwelling d's household lets the ambassador of req (its
 * token's name, one of its buildings) see its data now: 0 with *ret_g and
 * the span of the grant's tenancy [*ret_from_s, *ret_to_s) (UTC epoch s;
 * INT64_MIN, INT64_MAX for a dwelling without tenancies), -ENOENT no
 * grant, or -errno (a failed read: refuse). */
int share_granted(const struct http_request *req, uint32_t d, struct store_grant *ret_g,
                  int64_t *ret_from_s, int64_t *ret_to_s);

/* The span of grant g's tenancy for the caller of req, as share_granted()
 * gives it, for a grant already judged active at req->now_s (a row of
 * store_grant_list_grantee()): 0, -ENOENT (not the caller's to see, or
 * its tenancy is gone), or -errno. */
int share_span(const struct http_request *req, uint32_t d, const struct store_grant *g,
               int64_t *ret_from_s, int64_t *ret_to_s);

/* share_granted() for an API route on dwelling d (id: its config ID):
 * 0 with the span as share_granted() gives it, 1 after answering 403 (no
 * grant now) or 503 (the grants cannot be read), or -errno. */
int share_gate(const struct http_request *req, struct http_response *resp, uint32_t d,
               const char *id, int64_t *ret_from_s, int64_t *ret_to_s);

/* Append to the access log that the caller of req reads dwelling (a
 * config ID) through what (the route and its parameters, never a
 * figure), before the read.  0 or -errno (logged; the caller reads
 * nothing). */
int share_log(const struct http_request *req, const char *dwelling, const char *what);

/* Who records a tenant's choice made through req: "tenant:NAME" (its
 * token's name), or "tenant:token-ID" for a token without one. */
void share_by(const struct http_request *req, char *buf, size_t len);

/* Whether t is a live ambassador token covering building (a config ID):
 * one the household of that building may share with. */
bool share_offered(const struct store_token *t, const char *building, int64_t now_s);

#endif /* FOYER_HTTP_SHARE_H */
