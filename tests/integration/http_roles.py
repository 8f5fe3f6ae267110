#!/usr/bin/python3
"""Every JSON API route x every role, over the wire, against a running foyerd.

The table below is the API's permission contract (docs/api.md, "Routes"; the
C route table http_api_routes[] in daemon/http/http_api.c says the same, and
tests/unit/test_http_api.c checks that it does).  For each route this driver
calls it without credentials (401 expected), with each role's token (the
allowed answer, else 403), with a wrong method (405), and checks that an error
is JSON {"error", "detail"}.  Then the tenant-specific rules: every other
dwelling and every period before the tenancy get nothing, and the ambassador
gets nothing of a building not its own.

Usage:
  http_roles.py BASE_URL --tenant TOKEN --ambassador TOKEN --team TOKEN
                --building ID (one of the ambassador's) --other-building ID
                --dwelling ID (the tenant's) --other-dwelling ID [--other-dwelling ID ...]
                --tenancy-start YYYY-MM-DD --period P (a period with a stored summary)
                --day YYYY-MM-DD (a day with data) --channel ID [--alert ID]

Exits 0 when every answer is the expected one, 1 listing the others.
Loopback only: the lead's test starts foyerd on 127.0.0.1.
"""
import argparse
import datetime
import json
import sys
import urllib.error
import urllib.request

TENANT, AMBASSADOR, TEAM = "tenant", "ambassador", "energy-team"

# (method, path template, query template, roles allowed, answers allowed for
# an allowed role).  {b} the ambassador's building, {d} the tenant's
# dwelling, {p} a period with a stored summary, {day} a day with data, {ch}
# a channel, {a} an alert or report id (one that may not exist: 404 then,
# 409 when closed).
ROUTES = [
    ("GET", "/api/v1/me", "", {TENANT}, {200}),
    ("GET", "/api/v1/me/summary", "period={p}", {TENANT}, {200, 404}),
    ("GET", "/api/v1/me/history",
     "quantity=electricity&granularity=day&from={day}&to={day}", {TENANT}, {200, 403, 404}),
    ("GET", "/api/v1/me/export", "", {TENANT}, {200}),
    ("GET", "/api/v1/me/export", "format=csv", {TENANT}, {200}),
    ("GET", "/api/v1/buildings", "", {AMBASSADOR, TEAM}, {200}),
    ("GET", "/api/v1/buildings/{b}/status", "", {AMBASSADOR, TEAM}, {200}),
    ("GET", "/api/v1/dwellings", "", {TEAM}, {200}),
    ("GET", "/api/v1/dwellings/{d}/summary", "period={p}", {TEAM}, {200, 404}),
    ("GET", "/api/v1/channels", "", {TEAM}, {200}),
    ("GET", "/api/v1/rollups", "channel={ch}&granularity=day&from={day}&to={day}", {TEAM}, {200}),
    ("GET", "/api/v1/events", "since={day}", {TEAM}, {200}),
    ("GET", "/api/v1/export.csv", "granularity=day&from={day}&to={day}", {TEAM}, {200}),
    ("GET", "/api/v1/alerts", "", {AMBASSADOR, TEAM}, {200}),
    ("GET", "/api/v1/alerts", "building={b}", {AMBASSADOR, TEAM}, {200}),
    ("POST", "/api/v1/alerts/{a}/ack", "", {AMBASSADOR, TEAM}, {200, 404, 409}),
    ("POST", "/api/v1/reports/{a}/close", "", {AMBASSADOR, TEAM}, {200, 404, 409}),
    # Sharing (issue 15).  The ambassador may call the dwelling routes, but
    # holds no grant here: 403 (privacy_sharing.sh reads with one).
    ("GET", "/api/v1/dwellings/{d}/history",
     "quantity=electricity&granularity=day&from={day}&to={day}", {TEAM}, {200}),
    ("GET", "/api/v1/me/grants", "", {TENANT}, {200}),
    ("POST", "/api/v1/me/grants", "", {TENANT}, {400}),  # no body
    ("POST", "/api/v1/me/grants/{a}/revoke", "", {TENANT}, {404}),  # no such grant
    ("GET", "/api/v1/me/ambassadors", "", {TENANT}, {200}),
    ("GET", "/api/v1/me/consents", "", {TENANT}, {200}),
    ("POST", "/api/v1/me/consents", "", {TENANT}, {400}),  # no body
    ("GET", "/api/v1/shared", "", {AMBASSADOR}, {200}),
]
METHODS = {(m, p) for m, p, _, _, _ in ROUTES}


def request(base, method, path, token=None):
    req = urllib.request.Request(base.rstrip("/") + path, method=method,
                                 data=b"" if method == "POST" else None)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


class Check:
    def __init__(self):
        self.failures = []
        self.n = 0

    def status(self, what, got, want, ctype, body):
        self.n += 1
        if got not in want:
            self.failures.append("%s: %d, expected %s: %s" % (what, got, sorted(want),
                                                             body[:200].decode("utf-8", "replace")))
            return
        if got >= 400:
            try:
                doc = json.loads(body)
                if not isinstance(doc.get("error"), str) or not isinstance(doc.get("detail"), str):
                    raise ValueError("no error or detail")
            except ValueError as e:
                self.failures.append("%s: error %d is not JSON {error, detail} (%s): %s"
                                     % (what, got, e, body[:200]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("base")
    ap.add_argument("--tenant", required=True)
    ap.add_argument("--ambassador", required=True)
    ap.add_argument("--team", required=True)
    ap.add_argument("--building", required=True)
    ap.add_argument("--other-building", required=True)
    ap.add_argument("--dwelling", required=True)
    ap.add_argument("--other-dwelling", action="append", default=[])
    ap.add_argument("--tenancy-start", required=True)
    ap.add_argument("--period", required=True)
    ap.add_argument("--day", required=True)
    ap.add_argument("--channel", required=True)
    ap.add_argument("--alert", default="1")
    a = ap.parse_args()
    tokens = {TENANT: a.tenant, AMBASSADOR: a.ambassador, TEAM: a.team}
    subst = {"b": a.building, "d": a.dwelling, "p": a.period, "day": a.day, "ch": a.channel,
             "a": a.alert}
    c = Check()

    for method, path, query, roles, ok in ROUTES:
        url = path.format(**subst) + ("?" + query.format(**subst) if query else "")
        st, ct, body = request(a.base, method, url)
        c.status("%s %s without credentials" % (method, url), st, {401}, ct, body)
        for role, token in tokens.items():
            st, ct, body = request(a.base, method, url, token)
            c.status("%s %s as %s" % (method, url, role), st, ok if role in roles else {403}, ct,
                     body)
        wrong = "GET" if method == "POST" else "POST"
        if (wrong, path) in METHODS:
            continue  # both methods are routes (/api/v1/me/grants)
        st, ct, body = request(a.base, wrong, url, a.team)
        c.status("%s %s (wrong method)" % (wrong, url), st, {405}, ct, body)

    # The ambassador: nothing of another building.
    st, ct, body = request(a.base, "GET", "/api/v1/buildings/%s/status" % a.other_building,
                           a.ambassador)
    c.status("ambassador on building %s" % a.other_building, st, {403}, ct, body)
    st, ct, body = request(a.base, "GET", "/api/v1/alerts?building=%s" % a.other_building,
                           a.ambassador)
    c.status("ambassador on the alerts of building %s" % a.other_building, st, {403}, ct, body)
    st, ct, body = request(a.base, "GET", "/api/v1/buildings", a.ambassador)
    if st == 200:
        ids = [b["id"] for b in json.loads(body)["buildings"]]
        if a.other_building in ids:
            c.failures.append("ambassador's building list holds %s" % a.other_building)

    # The tenant: every other dwelling gets nothing (there is no tenant
    # route naming a dwelling; the team's answer 403).
    for d in a.other_dwelling:
        for path in ("/api/v1/dwellings/%s/summary?period=%s" % (d, a.period),
                     "/api/v1/dwellings/%s/history?quantity=electricity&granularity=day"
                     "&from=%s&to=%s" % (d, a.day, a.day),
                     "/api/v1/export.csv?granularity=day&from=%s&to=%s&dwelling=%s"
                     % (a.day, a.day, d)):
            st, ct, body = request(a.base, "GET", path, a.tenant)
            c.status("tenant on %s" % path, st, {403}, ct, body)
    st, ct, body = request(a.base, "GET", "/api/v1/me", a.tenant)
    if st == 200 and json.loads(body)["dwelling"]["id"] != a.dwelling:
        c.failures.append("tenant's /me is not dwelling %s" % a.dwelling)

    # Every period before the tenancy: the 8 weeks and 3 months before it.
    start = datetime.date.fromisoformat(a.tenancy_start)
    periods = []
    for w in range(1, 9):
        y, n, _ = (start - datetime.timedelta(weeks=w)).isocalendar()
        periods.append("%d-W%02d" % (y, n))
    m = start.replace(day=1)
    for _ in range(3):
        m = (m - datetime.timedelta(days=1)).replace(day=1)
        periods.append("%d-%02d" % (m.year, m.month))
    for p in periods:
        st, ct, body = request(a.base, "GET", "/api/v1/me/summary?period=" + p, a.tenant)
        c.status("tenant summary of %s, before the tenancy" % p, st, {403, 404}, ct, body)
    before = (start - datetime.timedelta(days=30)).isoformat()
    last = (start - datetime.timedelta(days=1)).isoformat()
    st, ct, body = request(a.base, "GET", "/api/v1/me/history?quantity=electricity&granularity=day"
                           "&from=%s&to=%s" % (before, last), a.tenant)
    c.status("tenant history before the tenancy", st, {403, 404}, ct, body)

    for f in c.failures:
        print("FAIL " + f)
    print("http_roles: %d checks, %d failed" % (c.n, len(c.failures)))
    return 1 if c.failures else 0


if __name__ == "__main__":
    sys.exit(main())
