/*
 * http_api_int.h - what the JSON API's files (http_api.c: the route table,
 * shared helpers and the tenant's routes; http_api_team.c: the
 * ambassador's and the energy team's routes) share.  Nothing outside
 * daemon/http/http_api*.c includes it.
 *
 * Helpers that read a query argument either fill *ret and return 0, or
 * answer the request themselves (a 400 naming the parameter, a 404 for an
 * unknown id) and return API_ANSWERED; a handler then returns 0.  They
 * return -errno only when the error answer could not be built.
 */
#ifndef FOYER_HTTP_API_INT_H
#define FOYER_HTTP_API_INT_H

#include <jansson.h>

#include "http_int.h"

/* The request has been answered (an error); the handler returns 0. */
#define API_ANSWERED 1

/* Serialise j (taken: decref'd) as the response body, status 200.  0 or
 * -ENOMEM. */
int api_send_json(struct http_response *resp, json_t *j);

/* Append j (taken: decref'd) to b, serialised as api_send_json() does.
 * 0 or -ENOMEM (b->failed set). */
int api_buf_json(struct http_buf *b, json_t *j);

/* The value rounded to the precision shown for its quantity (kWh to the
 * Wh, litres to 0.1 L, degrees to 0.01, ...), as a JSON number; NaN gives
 * null. */
json_t *api_value(enum quantity q, double v);
/* The dwelling of the caller's tenant token, or an answer (403,
 * API_ANSWERED): a token whose dwelling left the config (a reload) sees
 * nothing. */
int api_tenant_dwelling(const struct http_request *req, struct http_response *resp, uint32_t *ret);
/* A time as local ISO 8601 with its offset, in the config's zone. */
json_t *api_time(int64_t ts_s);

/* Granularities of the API's ranges, as bits for api_arg_gran(). */
enum api_gran { API_HOUR, API_DAY, API_WEEK, API_MONTH };
#define API_GRAN_BIT(g) (1u << (g))

/* ?name=hour|day|week|month among the allowed bits; required. */
int api_arg_gran(const struct http_request *req, struct http_response *resp, const char *name,
                 unsigned allowed, enum api_gran *ret);
/* ?from=YYYY-MM-DD&to=YYYY-MM-DD, local days, to included: [*ret_from_s,
 * *ret_to_s) from the first's midnight to the midnight after the second;
 * both required, from not after to, at most the granularity's days
 * (limits.h, FOYER_API_*_DAYS_MAX). */
int api_arg_range(const struct http_request *req, struct http_response *resp, enum api_gran g,
                  int64_t *ret_from_s, int64_t *ret_to_s);

/* Answer the stored summary (docs/summary.md) of config dwelling d for
 * ?period=, as stored, when the part of the period it covers lies inside
 * [from_s, to_s) (a tenant's tenancy; INT64_MIN, INT64_MAX: any); else 404
 * (none stored, or one that shows another tenancy's household). */
int api_send_summary(const struct http_request *req, struct http_response *resp, uint32_t d,
                     int64_t from_s, int64_t to_s);

/* Answer the history of config dwelling d (?quantity, ?granularity,
 * ?from, ?to as GET /api/v1/me/history; hourly only with the household's
 * load-curve consent), clipped to [span_from_s, span_to_s) (the tenancy). */
int api_send_history(const struct http_request *req, struct http_response *resp, uint32_t d,
                     int64_t span_from_s, int64_t span_to_s);

/* The routes of http_api_team.c. */
int api_buildings(const struct http_request *req, struct http_response *resp);
int api_building_status(const struct http_request *req, struct http_response *resp);
/* Forget the kept building status answers (the server stops). */
void api_status_cache_clear(void);
int api_dwellings(const struct http_request *req, struct http_response *resp);
int api_channels(const struct http_request *req, struct http_response *resp);
int api_rollups(const struct http_request *req, struct http_response *resp);
int api_events(const struct http_request *req, struct http_response *resp);
int api_dwelling_summary(const struct http_request *req, struct http_response *resp);
int api_export_csv(const struct http_request *req, struct http_response *resp);
int api_alerts(const struct http_request *req, struct http_response *resp);
int api_alert_ack(const struct http_request *req, struct http_response *resp);
int api_report_close(const struct http_request *req, struct http_response *resp);

/* The routes of http_api_share.c: a household's grants and consents, and
 * what an ambassador reads of the households sharing with it. */
int api_me_grants(const struct http_request *req, struct http_response *resp);
int api_me_grant_create(const struct http_request *req, struct http_response *resp);
int api_me_grant_revoke(const struct http_request *req, struct http_response *resp);
int api_me_consents(const struct http_request *req, struct http_response *resp);
int api_me_consent_set(const struct http_request *req, struct http_response *resp);
int api_me_ambassadors(const struct http_request *req, struct http_response *resp);
int api_shared(const struct http_request *req, struct http_response *resp);
int api_dwelling_history(const struct http_request *req, struct http_response *resp);

#endif /* FOYER_HTTP_API_INT_H */
