#!/usr/bin/python3
"""Sharing with an adviser (issue 15) against a real foyerd: an ambassador
sees a household's summary and history only during a grant the tenant made
(before: 403; grant: 200; revoked, withdrawn through foyerctl consent, or
expired: 403); every read is in `foyerctl access-log --json` before it is
served, refusals are not, and the log holds no figure that was served; the
tenant's consents set and withdrawn through the API and the tablet's forms
show in `foyerctl consent list` with who recorded them.

  privacy_sharing.py HOST PORT --tenant T --ambassador A --other-ambassador A2
                     --team E --db FILE --config FILE --foyerctl BIN
                     --tenancy-start YYYY-MM-DD --period 2026-W47
"""
import argparse
import http.client
import json
import re
import sqlite3
import subprocess
import sys
import time
import urllib.parse

FAILS = []


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("FAIL: " + what, file=sys.stderr)


class Client:
    def __init__(self, host, port):
        self.host, self.port = host, port

    def req(self, method, path, token=None, body=None, form=None, origin=None):
        c = http.client.HTTPConnection(self.host, self.port, timeout=10)
        h = {}
        if token:
            h["Authorization"] = "Bearer " + token
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            h["Content-Type"] = "application/x-www-form-urlencoded"
        if origin:
            h["Origin"] = origin
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        text = r.read().decode()
        loc = r.getheader("Location")
        c.close()
        return r.status, text, loc

    def json(self, method, path, token=None, body=None):
        st, text, _ = self.req(method, path, token, body)
        try:
            j = json.loads(text)
        except ValueError:
            j = None
        return st, j, text


def numbers(j, out):
    """Every non-integral number of a JSON document, as served."""
    if isinstance(j, dict):
        for v in j.values():
            numbers(v, out)
    elif isinstance(j, list):
        for v in j:
            numbers(v, out)
    elif isinstance(j, float) and j != int(j):
        out.add(j)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    for k in ("tenant", "ambassador", "other-ambassador", "team", "db", "config", "foyerctl",
              "tenancy-start", "period"):
        ap.add_argument("--" + k, required=True)
    a = ap.parse_args()
    cl = Client(a.host, a.port)
    T, A, A2 = a.tenant, a.ambassador, a.other_ambassador
    origin = "http://%s:%d" % (a.host, a.port)

    def ctl(*args):
        return subprocess.run([a.foyerctl, "--config", a.config] + list(args), check=True,
                              capture_output=True, text=True).stdout

    def amb_rows():
        return [r for r in json.loads(ctl("access-log", "--json")) if r["who"] == "amb-b1"]

    def consent(purpose):
        rows = json.loads(ctl("consent", "list", "--dwelling", "d1", "--json"))
        return [r for r in rows if r["purpose"] == purpose][0]

    today = time.strftime("%Y-%m-%d")
    early = time.strftime("%Y-%m-%d", time.localtime(time.time() - 40 * 86400))
    q = "quantity=electricity&granularity=day&from=%s&to=%s" % (early, today)
    hist = "/api/v1/dwellings/d1/history?" + q
    hour = "/api/v1/dwellings/d1/history?quantity=electricity&granularity=hour&from=%s&to=%s" % (
        today, today)
    summ = "/api/v1/dwellings/d1/summary?period=" + a.period
    served = set()

    # Before any grant: nothing, and nothing logged.
    for path in (hist, summ, hour):
        st, _, text = cl.json("GET", path, A)
        check(st == 403, "before a grant: %s answered %d, not 403: %s" % (path, st, text[:200]))
    st, j, _ = cl.json("GET", "/api/v1/shared", A)
    check(st == 200 and j["households"] == [], "before a grant: /api/v1/shared %d %s" % (st, j))
    check(amb_rows() == [], "refused reads were logged: %s" % amb_rows())

    # The tenant's choice: the building's ambassadors only.
    st, j, _ = cl.json("GET", "/api/v1/me/ambassadors", T)
    check(st == 200 and [x["name"] for x in j["ambassadors"]] == ["amb-b1"],
          "ambassadors offered: %d %s" % (st, j))
    for body, want in (({"grantee": "amb-b2"}, 404), ({"grantee": "nobody"}, 404),
                       ({"grantee": "amb-b1", "days": 0}, 400),
                       ({"grantee": "amb-b1", "days": 366}, 400), ({"days": 3}, 400)):
        st, _, text = cl.json("POST", "/api/v1/me/grants", T, body)
        check(st == want, "grant %s: %d, expected %d: %s" % (body, st, want, text[:200]))
    st, _, _ = cl.json("POST", "/api/v1/me/grants", A, {"grantee": "amb-b1"})
    check(st == 403, "an ambassador granting: %d" % st)
    check(consent("sharing")["given"] is False, "sharing consented by refused grants")

    st, j, text = cl.json("POST", "/api/v1/me/grants", T, {"grantee": "amb-b1"})
    check(st == 201, "grant: %d %s" % (st, text[:200]))
    g1 = j["grant"]
    check(g1["active"] and g1["expires_s"] - g1["created_s"] == 30 * 86400,
          "the grant: %s (30 days by default)" % g1)
    c = consent("sharing")
    check(c["given"] is True and c["by"] == "tenant:tab-d1", "sharing consent after grant: %s" % c)

    # During the grant: the household's own figures, clipped to its tenancy.
    st, ja, text = cl.json("GET", hist, A)
    check(st == 200, "during the grant: history %d %s" % (st, text[:200]))
    st, jt, _ = cl.json("GET", "/api/v1/me/history?" + q, T)
    check(st == 200 and ja == jt, "ambassador's history differs from the tenant's")
    check(ja and ja["clipped_to_tenancy"] is True and
          ja["periods"][0]["start"][:10] >= a.tenancy_start,
          "history not clipped to the tenancy (starts %s, tenancy %s)" %
          (ja and ja["periods"][0]["start"], a.tenancy_start))
    numbers(ja, served)
    check(len(served) > 0, "no figure served to compare the log with")
    st, js, text = cl.json("GET", summ, A)
    st2, _, text2 = cl.json("GET", "/api/v1/me/summary?period=" + a.period, T)
    check(st == 200 and text == text2, "summary during the grant: %d, same as tenant's: %s" %
          (st, text == text2))
    numbers(js, served)
    st, _, _ = cl.json("GET", hour, A)
    check(st == 403, "hourly without load_curve consent: %d" % st)
    st, _, _ = cl.json("GET", "/api/v1/dwellings/a01/history?" + q, A)
    check(st == 403, "another household without a grant: %d" % st)
    st, _, _ = cl.json("GET", hist, A2)
    check(st == 403, "another ambassador: %d" % st)
    st, j, _ = cl.json("GET", "/api/v1/shared", A)
    check(st == 200 and [h["dwelling"] for h in j["households"]] == ["d1"],
          "/api/v1/shared during the grant: %s" % j)
    rows = amb_rows()
    check(len(rows) == 2, "reads logged: %d rows, expected 2: %s" % (len(rows), rows))
    for r in rows:
        check(r["dwelling"] == "d1" and r["role"] == "ambassador" and
              r["origin"] == "127.0.0.1" and r["what"].startswith("GET /api/v1/dwellings/d1/"),
              "access-log row: %s" % r)

    # The tenant's consent to load curves through the API.
    st, j, text = cl.json("POST", "/api/v1/me/consents", T, {"purpose": "load_curve",
                                                               "given": True})
    check(st == 200, "consent set: %d %s" % (st, text[:200]))
    c = consent("load_curve")
    check(c["given"] is True and c["by"] == "tenant:tab-d1", "load_curve after set: %s" % c)
    st, jh, _ = cl.json("GET", hour, A)
    check(st == 200, "hourly with consent, during the grant: %d" % st)
    numbers(jh, served)
    st, _, _ = cl.json("POST", "/api/v1/me/consents", T, {"purpose": "load_curve",
                                                          "given": False})
    st, _, _ = cl.json("GET", hour, A)
    check(st == 403, "hourly after the withdrawal: %d" % st)
    st, j, _ = cl.json("GET", "/api/v1/me/consents", T)
    got = {x["purpose"]: x["given"] for x in j["consents"]}
    check(got == {"load_curve": False, "sharing": True}, "GET /api/v1/me/consents: %s" % j)
    st, _, _ = cl.json("POST", "/api/v1/me/consents", T, {"purpose": "nope", "given": True})
    check(st == 400, "consent of an unknown purpose: %d" % st)

    # Revoked: refused at once, nothing more logged.
    n = len(amb_rows())
    st, j, _ = cl.json("POST", "/api/v1/me/grants/%d/revoke" % g1["id"], T)
    check(st == 200 and j["grant"]["active"] is False and j["grant"]["revoked_s"],
          "revoke: %d %s" % (st, j))
    for path in (hist, summ):
        st, _, _ = cl.json("GET", path, A)
        check(st == 403, "after the revocation: %s %d" % (path, st))
    check(len(amb_rows()) == n, "refused reads after the revocation were logged")
    c = consent("sharing")
    check(c["given"] is False and c["by"] == "tenant:tab-d1", "sharing after revoke: %s" % c)
    st, _, _ = cl.json("POST", "/api/v1/me/grants/%d/revoke" % g1["id"], T)
    check(st == 409, "revoking twice: %d" % st)
    st, _, _ = cl.json("POST", "/api/v1/me/grants/9999/revoke", T)
    check(st == 404, "revoking no grant: %d" % st)

    # A withdrawal of sharing through foyerctl ends every grant at once.
    st, j, _ = cl.json("POST", "/api/v1/me/grants", T, {"grantee": "amb-b1", "days": 10})
    g2 = j["grant"]
    st, _, _ = cl.json("GET", hist, A)
    check(st == 200, "second grant: %d" % st)
    ctl("consent", "withdraw", "--dwelling", "d1", "--purpose", "sharing")
    st, _, _ = cl.json("GET", hist, A)
    check(st == 403, "after foyerctl consent withdraw: %d" % st)
    st, j, _ = cl.json("GET", "/api/v1/me/grants", T)
    mine = [x for x in j["grants"] if x["id"] == g2["id"]]
    check(mine and not mine[0]["active"] and mine[0]["revoked_s"],
          "the grant after foyerctl's withdrawal: %s" % mine)

    # Expiry: a grant whose end has passed (set in the store).
    st, j, _ = cl.json("POST", "/api/v1/me/grants", T, {"grantee": "amb-b1", "days": 1})
    g3 = j["grant"]
    st, _, _ = cl.json("GET", hist, A)
    check(st == 200, "third grant: %d" % st)
    db = sqlite3.connect(a.db, timeout=10)
    db.execute("UPDATE grants SET expires = ? WHERE id = ?", (int(time.time()) - 1, g3["id"]))
    db.commit()
    db.close()
    n = len(amb_rows())
    st, _, _ = cl.json("GET", hist, A)
    check(st == 403, "after the expiry: %d" % st)
    check(len(amb_rows()) == n, "the refused read after the expiry was logged")
    st, j, _ = cl.json("GET", "/api/v1/me/grants", T)
    mine = [x for x in j["grants"] if x["id"] == g3["id"]]
    check(mine and not mine[0]["active"] and mine[0]["revoked_s"] is None,
          "the expired grant: %s" % mine)

    # The tablet's forms (no script: post, 303 to /tablet).
    st, _, loc = cl.req("POST", "/tablet/consent", T, form={"purpose": "load_curve", "given": "1"},
                        origin="http://evil.example")
    check(st == 403 and consent("load_curve")["given"] is False,
          "a cross-site consent post: %d" % st)
    st, _, loc = cl.req("POST", "/tablet/consent", T, form={"purpose": "load_curve", "given": "1"},
                        origin=origin)
    check(st == 303 and loc and loc.startswith("/tablet"), "tablet consent: %d %s" % (st, loc))
    c = consent("load_curve")
    check(c["given"] is True and c["by"] == "tenant:tab-d1", "load_curve from the tablet: %s" % c)
    st, _, loc = cl.req("POST", "/tablet/share", T, form={"grantee": "amb-b1", "days": "7"},
                        origin=origin)
    check(st == 303, "tablet share: %d" % st)
    st, j, _ = cl.json("GET", "/api/v1/me/grants", T)
    act = [x for x in j["grants"] if x["active"]]
    check(len(act) == 1 and act[0]["expires_s"] - act[0]["created_s"] == 7 * 86400,
          "grants after the tablet's share: %s" % act)
    st, _, _ = cl.req("POST", "/tablet/share", T, form={"grantee": "amb-b2", "days": "7"},
                      origin=origin)
    check(st == 400, "tablet share with another building's ambassador: %d" % st)
    st, page, _ = cl.req("GET", "/tablet", T)
    check(st == 200 and 'id="choices"' in page and "Mes choix" in page and
          'data-consent="yes"' in page and "amb-b1" in page and "Retirer" in page and
          'action="/tablet/share/revoke"' in page, "the tablet's choices section")
    st, page, _ = cl.req("GET", "/tablet?lang=en", T)
    check(st == 200 and "My choices" in page, "the choices section in English")

    # The ambassador's page: the household, its figures, the read logged.
    n = len(amb_rows())
    st, page, _ = cl.req("GET", "/ambassador", A)
    check(st == 200 and "Foyers qui partagent avec vous" in page and
          'data-dwelling="d1"' in page, "the ambassador page during the grant")
    for v in re.findall(r'<data class="fig" value="([^"]+)"', page):
        served.add(float(v))
    rows = amb_rows()
    check(len(rows) == n + 1 and rows[-1]["what"].startswith("GET /ambassador"),
          "the page's read logged: %s" % rows[n:])
    st, _, _ = cl.req("POST", "/tablet/share/revoke", T, form={"id": str(act[0]["id"])},
                      origin=origin)
    check(st == 303, "tablet revoke: %d" % st)
    n = len(amb_rows())
    st, page, _ = cl.req("GET", "/ambassador", A)
    check(st == 200 and 'data-dwelling="d1"' not in page, "the ambassador page after revoke")
    check(len(amb_rows()) == n, "the page logged a read after the revocation")

    # A grant dies with its tenancy: the household moves out, another in.
    st, j, _ = cl.json("POST", "/api/v1/me/grants", T, {"grantee": "amb-b1", "days": 5})
    st, _, _ = cl.json("GET", hist, A)
    check(st == 200, "grant before the move: %d" % st)
    yesterday = time.strftime("%Y-%m-%d", time.localtime(time.time() - 86400))
    ctl("tenancy", "end", "--dwelling", "d1", "--date", yesterday)
    st, _, _ = cl.json("GET", hist, A)
    check(st == 403, "after the tenancy's end: %d" % st)
    ctl("tenancy", "start", "--dwelling", "d1", "--date", today)
    T3 = ctl("token", "create", "--role", "tenant", "--dwelling", "d1", "--name",
             "tab-d1-next").strip()
    st, j, _ = cl.json("GET", "/api/v1/me/grants", T3)
    check(st == 200 and j["grants"] == [], "the next household's grants: %d %s" % (st, j))
    st, _, _ = cl.json("GET", hist, A)
    check(st == 403, "the next household's figures without its grant: %d" % st)
    check(consent("sharing")["given"] is False, "the next household starts without sharing")

    # The log never holds a figure that was served.
    log = ctl("access-log", "--json")
    for f in sorted(served):
        for text in {repr(f), "%g" % f, "%.12g" % f}:
            if len(text) >= 4 and text in log:
                check(False, "the access log holds %s, a figure served" % text)
    if FAILS:
        sys.exit(1)
    print("privacy_sharing.py: OK (%d figures checked against the log)" % len(served))


main()
