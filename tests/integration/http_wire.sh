#!/usr/bin/env bash
# The merged HTTP pieces working together, over the wire against a real
# foyerd ([http], a real broker, a real SQLite file):
# - the server hands the pages Host, Origin and Referer: a tablet form post
#   with a foreign Origin (or Referer) is refused (403), a same-origin one
#   accepted (303);
# - a browser opening /tablet or /ambassador without a live session is sent
#   to /pair (303); the API keeps its JSON 401;
# - /foyer.css is served from web_dir (the repository's web/, as the demo
#   serves it), and the default web_dir is where `cmake --install` puts it;
# - SIGHUP reads the pages' language files again (the server is stopped,
#   no request runs, while they are dropped);
# - alerts: GET /api/v1/alerts, POST /api/v1/alerts/{id}/ack by role and
#   building, alerts and reports in /api/v1/buildings/{id}/status, the
#   ambassador page's alert list and form, foyer_alerts_open in /metrics.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mqtt_lib.sh"

mqtt_setup http_wire
hport=$(free_port)
base="http://127.0.0.1:$hport"
# The pages' language files, copied: the reload below edits one.
mkdir -p "$work/lang"
cp "$FOYER_SRC"/config/*.conf "$work/lang/"
export FOYER_LANG_DIR="$work/lang"

{
  foyer_base_conf
  cat <<CONF
[building b2]
[dwelling c01]
building = b2
surface_m2 = 60
heating = gas
[tenancy t1]
dwelling = d1
start = 2020-01-01
[tenancy t2]
dwelling = c01
start = 2020-01-01
[mqtt]
port = $port
client_id = foyerd-http-wire
[sensor s0]
topic = tele/s0/SENSOR
preset = tasmota
dwelling = d1
timestamp_field = Time
[channel d1-temp]
dwelling = d1
quantity = temperature
[channel c01-temp]
dwelling = c01
quantity = temperature
[alerts]
; the whole year, so that the test does not depend on the season it runs in
heating_from = 01-01
heating_to = 12-31
[http]
listen = 127.0.0.1
port = $hport
web_dir = $FOYER_SRC/web
CONF
} > "$work/foyer.conf"

ctl() { "$FOYER_BIN/foyerctl" --config "$work/foyer.conf" "$@"; }
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
expect() { # want what curl-args...
  local want=$1 what=$2 got
  shift 2
  got=$(code "$@") || true
  [ "$got" = "$want" ] || fail "$what: HTTP $got, expected $want"
}
http_up() { [ "$(code "$base/healthz")" = 200 ]; }

# ---- the default web_dir is where the style sheet is installed ----
sed '/^web_dir = /d' "$work/foyer.conf" > "$work/default.conf"
def=$("$FOYER_BIN/foyerd" --check-config -v --config "$work/default.conf" |
  sed -n 's/^ *web_dir *= *//p' | tr -d '"')
[ -n "$def" ] || fail "no web_dir in the dumped config"
DESTDIR=$work/inst cmake --install "$FOYER_BIN" > /dev/null
[ -f "$work/inst$def/foyer.css" ] ||
  fail "default web_dir $def: no foyer.css installed there ($(find "$work/inst" -name foyer.css))"

# Cold homes in both buildings (40 hours at 14 degC): one cold_home alert
# each when foyerd judges the history at start.
now=$(date +%s)
hour0=$(((now - 600) / 3600 * 3600 - 45 * 3600))
{
  echo "channel,time,value"
  for h in $(seq 0 39); do
    ts=$(date -u -d "@$((hour0 + h * 3600 + 1800))" +%Y-%m-%dT%H:%M:%SZ)
    echo "d1-temp,$ts,14"
    echo "c01-temp,$ts,14"
  done
} > "$work/history.csv"
ctl import "$work/history.csv" > "$work/import.log" 2>&1 || fail "import: $(cat "$work/import.log")"

start_foyerd
wait_for 20 grep -q "alerts: 2 opened" "$work/foyerd.log" ||
  fail "no alerts opened: $(grep alerts "$work/foyerd.log")"
wait_for 10 http_up || fail "http server not up: $(tail -5 "$work/foyerd.log")"
T=$(ctl token create --role tenant --dwelling d1 --name tab-d1 2> /dev/null)
A=$(ctl token create --role ambassador --buildings b1 --name amb-b1 2> /dev/null)
E=$(ctl token create --role energy-team --name team 2> /dev/null)

# ---- the style sheet, from web_dir ----
curl -s -D "$work/hcss" -o "$work/css" "$base/foyer.css"
grep -q '^HTTP/1.1 200' "$work/hcss" || fail "/foyer.css: $(head -1 "$work/hcss")"
grep -qi '^Content-Type: text/css' "$work/hcss" || fail "/foyer.css type: $(cat "$work/hcss")"
cmp -s "$work/css" "$FOYER_SRC/web/foyer.css" || fail "/foyer.css is not web/foyer.css"

# ---- pages without a session: to /pair; the API: JSON 401 ----
for page in /tablet /ambassador "/tablet?lang=en"; do
  curl -s -D "$work/h" -o /dev/null "$base$page"
  grep -q '^HTTP/1.1 303' "$work/h" || fail "GET $page without a session: $(head -1 "$work/h")"
  grep -qi '^Location: /pair' "$work/h" || fail "GET $page: $(cat "$work/h")"
done
curl -s -D "$work/h" -o /dev/null -b "foyer_token=${T%?}x" "$base/tablet"
grep -q '^HTTP/1.1 303' "$work/h" || fail "GET /tablet with a dead cookie: $(head -1 "$work/h")"
expect 200 "the pairing page" "$base/pair"
expect 401 "POST /tablet/tip without a session" -d "tip=standby&answer=done" "$base/tablet/tip"
curl -s -o "$work/b401" -w '%{http_code}' "$base/api/v1/me" > "$work/c401" || true
[ "$(cat "$work/c401")" = 401 ] || fail "API without credentials: $(cat "$work/c401")"
/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert set(d)=={"error","detail"}, d' \
  "$work/b401" || fail "API 401 is not JSON: $(cat "$work/b401")"
expect 200 "the tablet with its cookie" -b "foyer_token=$T" "$base/tablet"
expect 403 "the ambassador page as a tenant" -b "foyer_token=$T" "$base/ambassador"

# ---- cross-site form posts ----
tip() { # curl-args...: status of a tip answer posted with the tenant's cookie
  code -b "foyer_token=$T" -d "tip=standby&answer=done" "$@" "$base/tablet/tip"
}
[ "$(tip -H "Origin: http://evil.example")" = 403 ] || fail "a foreign Origin accepted"
[ "$(tip -H "Origin: http://127.0.0.1:$((hport + 1))")" = 403 ] || fail "another port accepted"
[ "$(tip -H "Referer: http://evil.example/page")" = 403 ] || fail "a foreign Referer accepted"
[ "$(tip -H "Origin: http://127.0.0.1:$hport")" = 303 ] || fail "a same-origin post refused"
[ "$(tip -H "Referer: $base/tablet")" = 303 ] || fail "a same-origin Referer refused"
# A paired tablet may be paired again: the form answers with a live cookie.
[ "$(code -b "foyer_token=$T" "$base/pair")" = 200 ] || fail "GET /pair with a live cookie refused"
# "Origin: null" (an opaque origin: a sandboxed frame) proves nothing: the
# Referer decides, and without one the post is refused.
[ "$(tip -H "Origin: null")" = 403 ] || fail "Origin: null without a Referer accepted"
[ "$(tip -H "Origin: null" -H "Referer: $base/tablet")" = 303 ] ||
  fail "Origin: null with a same-origin Referer refused"
# Same-origin pages send their Referer (and a real Origin) with form posts.
curl -s -D - -o /dev/null "$base/pair" | grep -qi '^Referrer-Policy: same-origin' ||
  fail "the pages are not served with Referrer-Policy: same-origin"
curl -s -b "foyer_token=$E" "$base/metrics" > "$work/metrics"
grep -q '^foyer_http_page_cross_site_total 4$' "$work/metrics" ||
  fail "cross-site posts not counted: $(grep page "$work/metrics")"
grep -q '^foyer_http_page_tip_answers_total 3$' "$work/metrics" ||
  fail "tip answers not counted: $(grep page "$work/metrics")"

# ---- SIGHUP reads the pages' texts again ----
grep -q 'Relier cette tablette' <(curl -s "$base/pair") || fail "pairing page title"
sed -i 's/^pair_title = .*/pair_title = Relier la tablette, texte relu/' "$work/lang/web.fr.conf"
kill -HUP "$foyerd_pid"
reread() { curl -s "$base/pair" | grep -q 'texte relu'; }
wait_for 10 reread || fail "the pages' texts not read again after SIGHUP"

# ---- alerts in the API ----
py() { /usr/bin/python3 -c "$@"; }
api() { # token path [curl args]: the body; the status in $work/status
  local tok=$1 path=$2
  shift 2
  curl -s -o "$work/body" -w '%{http_code}' -H "Authorization: Bearer $tok" "$@" "$base$path" \
    > "$work/status" || true
  cat "$work/body"
}
api "$E" /api/v1/alerts > "$work/team.json"
[ "$(cat "$work/status")" = 200 ] || fail "team alerts: $(cat "$work/status") $(cat "$work/body")"
py 'import json,sys; a=json.load(open(sys.argv[1]))["alerts"]
assert sorted(x["building"] for x in a) == ["b1", "b2"], a
assert all(x["kind"] == "cold_home" and x["state"] == "open" for x in a), a' "$work/team.json" ||
  fail "team alerts: $(cat "$work/team.json")"
id1=$(py 'import json,sys; print([x["id"] for x in json.load(open(sys.argv[1]))["alerts"] if x["building"]=="b1"][0])' "$work/team.json")
id2=$(py 'import json,sys; print([x["id"] for x in json.load(open(sys.argv[1]))["alerts"] if x["building"]=="b2"][0])' "$work/team.json")
api "$A" /api/v1/alerts > "$work/amb.json"
py 'import json,sys; a=json.load(open(sys.argv[1]))["alerts"]
assert [x["building"] for x in a] == ["b1"], a
assert "16" in a[0]["text"] or a[0]["text"], a' "$work/amb.json" ||
  fail "ambassador alerts: $(cat "$work/amb.json")"
api "$A" "/api/v1/alerts?lang=en" > "$work/amb_en.json"
py 'import json,sys
fr = json.load(open(sys.argv[1]))["alerts"][0]["text"]
en = json.load(open(sys.argv[2]))["alerts"][0]["text"]
assert fr and en and fr != en, (fr, en)' "$work/amb.json" "$work/amb_en.json" ||
  fail "alert texts by language: $(cat "$work/amb_en.json")"
api "$A" "/api/v1/alerts?building=b2" > /dev/null
[ "$(cat "$work/status")" = 403 ] || fail "ambassador alerts of b2: $(cat "$work/status")"
api "$A" "/api/v1/alerts?building=zz" > /dev/null
[ "$(cat "$work/status")" = 404 ] || fail "alerts of an unknown building: $(cat "$work/status")"
api "$A" "/api/v1/alerts?state=bogus" > /dev/null
[ "$(cat "$work/status")" = 400 ] || fail "alerts?state=bogus: $(cat "$work/status")"
api "$T" /api/v1/alerts > /dev/null
[ "$(cat "$work/status")" = 403 ] || fail "tenant alerts: $(cat "$work/status")"
expect 401 "alerts without credentials" "$base/api/v1/alerts"

# ---- alerts on the ambassador page, between silent devices and reports ----
curl -s -b "foyer_token=$A" "$base/ambassador" > "$work/amb.html"
curl -s -b "foyer_token=$A" "$base/ambassador?lang=en" > "$work/amb_en.html"
py 'import json, sys, html
page = open(sys.argv[1]).read()
page_en = open(sys.argv[2]).read()
fr = json.load(open(sys.argv[3]))["alerts"][0]
en = json.load(open(sys.argv[4]))["alerts"][0]
i = page.index("data-alert=\"%d\"" % fr["id"])
assert page.index("Appareils qui ne transmettent plus") < i < page.index("Problèmes et demandes"), "order"
assert html.escape(fr["text"]) in page, fr["text"]
assert html.escape(en["text"]) in page_en and html.escape(en["text"]) not in page, en["text"]
assert "action=\"/ambassador/alert\"" in page, "no acknowledge form"
assert "data-alert=\"%d\"" % int(sys.argv[5]) not in page, "another building alert shown"' \
  "$work/amb.html" "$work/amb_en.html" "$work/amb.json" "$work/amb_en.json" "$id2" ||
  fail "ambassador page alerts: $(grep -A8 'class="alerts"' "$work/amb.html")"
page_ack() { # curl args: status of an acknowledgement by the page's form
  code -b "foyer_token=$A" --data-urlencode "id=$id1" --data-urlencode "note=vu sur place" "$@" \
    "$base/ambassador/alert"
}
[ "$(page_ack -H "Origin: http://evil.example")" = 403 ] || fail "page ack with a foreign Origin"
[ "$(code -b "foyer_token=$A" -H "Origin: $base" -d "id=$id2" "$base/ambassador/alert")" = 403 ] ||
  fail "page ack of another building's alert"
[ "$(page_ack -H "Origin: $base")" = 303 ] || fail "page ack refused"
ctl alerts --json | py 'import json,sys; a={x["id"]: x for x in json.load(sys.stdin)}
x = a['"$id1"']
assert x["state"] == "acknowledged" and x["acknowledged_by"] == "amb-b1", x
assert x["note"] == "vu sur place", x' || fail "page ack not stored: $(ctl alerts --json)"
curl -s -b "foyer_token=$A" "$base/ambassador?acked=1" > "$work/amb2.html"
grep -q 'Vu par amb-b1' "$work/amb2.html" || fail "the page does not say who saw it"
grep -q 'data-state="acknowledged"' "$work/amb2.html" || fail "the page does not mark it seen"

ack() { # token id [body]
  local tok=$1 id=$2
  shift 2
  api "$tok" "/api/v1/alerts/$id/ack" -X POST -H 'Content-Type: application/json' "$@"
}
ack "$A" "$id2" > /dev/null
[ "$(cat "$work/status")" = 403 ] || fail "ambassador acks b2's alert: $(cat "$work/status")"
ack "$T" "$id1" > /dev/null
[ "$(cat "$work/status")" = 403 ] || fail "tenant acks: $(cat "$work/status")"
ack "$A" 999999 > /dev/null
[ "$(cat "$work/status")" = 404 ] || fail "ack of no alert: $(cat "$work/status")"
ack "$A" abc > /dev/null
[ "$(cat "$work/status")" = 400 ] || fail "ack of a bad id: $(cat "$work/status")"
ack "$A" "$id1" -d '{"note": ' > /dev/null
[ "$(cat "$work/status")" = 400 ] || fail "ack with bad JSON: $(cat "$work/status")"
ack "$A" "$id1" -d '{"note": 3}' > /dev/null
[ "$(cat "$work/status")" = 400 ] || fail "ack with a number as note: $(cat "$work/status")"
ack "$A" "$id1" -d "{\"note\": \"$(head -c 1001 /dev/zero | tr '\0' n)\"}" > /dev/null
[ "$(cat "$work/status")" = 400 ] || fail "ack with a note too long: $(cat "$work/status")"
ack "$A" "$id1" -d '{"note": "radiateur purgé"}' > "$work/ack.json"
[ "$(cat "$work/status")" = 200 ] || fail "ack: $(cat "$work/status") $(cat "$work/ack.json")"
py 'import json,sys; a=json.load(open(sys.argv[1]))["alert"]
assert a["state"] == "acknowledged" and a["acknowledged_by"] == "amb-b1", a
assert a["note"] == "radiateur purgé" and a["acknowledged"], a' "$work/ack.json" ||
  fail "ack answer: $(cat "$work/ack.json")"
ctl alerts --json | py 'import json,sys; a={x["id"]: x for x in json.load(sys.stdin)}
assert a['"$id1"']["state"] == "acknowledged", a' || fail "foyerctl alerts does not see the ack"
ack "$E" "$id2" > "$work/ack2.json"
[ "$(cat "$work/status")" = 200 ] || fail "team ack without a body: $(cat "$work/ack2.json")"
ctl alerts close "$id2" > /dev/null 2>&1 || fail "foyerctl alerts close"
ack "$E" "$id2" > /dev/null
[ "$(cat "$work/status")" = 409 ] || fail "ack of a closed alert: $(cat "$work/status")"
api "$E" "/api/v1/alerts?state=closed" > "$work/closed.json"
py 'import json,sys; a=json.load(open(sys.argv[1]))["alerts"]
assert [x["id"] for x in a] == ['"$id2"'], a' "$work/closed.json" || fail "closed: $(cat "$work/closed.json")"
api "$E" "/api/v1/alerts?state=all" > "$work/all.json"
py 'import json,sys; assert len(json.load(open(sys.argv[1]))["alerts"]) == 2' "$work/all.json" ||
  fail "state=all: $(cat "$work/all.json")"

# ---- the building status: alerts and open problem reports ----
code -b "foyer_token=$T" -H "Origin: $base" -d "kind=damp&text=moisissure" "$base/tablet/report" > /dev/null
api "$A" /api/v1/buildings/b1/status > "$work/status.json"
py 'import json,sys; s=json.load(open(sys.argv[1]))
assert [(a["id"], a["state"]) for a in s["alerts"]] == [('"$id1"', "acknowledged")], s["alerts"]
r = [x for x in s["reports"] if x["kind"] == "damp"]
assert len(r) == 1 and r[0]["dwelling"] == "d1" and r[0]["text"] == "moisissure", s["reports"]' \
  "$work/status.json" || fail "status: $(cat "$work/status.json")"

# ---- closing a problem report through the API ----
T2=$(ctl token create --role tenant --dwelling c01 --name tab-c01 2> /dev/null)
code -b "foyer_token=$T2" -H "Origin: $base" -d "kind=leak" "$base/tablet/report" > /dev/null
rid1=$(py 'import json,sys; print([r["id"] for r in json.load(open(sys.argv[1]))["reports"] if r["kind"]=="damp"][0])' "$work/status.json")
api "$E" /api/v1/buildings/b2/status > "$work/status2.json"
rid2=$(py 'import json,sys; print([r["id"] for r in json.load(open(sys.argv[1]))["reports"] if r["kind"]=="leak"][0])' "$work/status2.json")
close_report() { api "$1" "/api/v1/reports/$2/close" -X POST; }
close_report "$A" "$rid2" > /dev/null
[ "$(cat "$work/status")" = 403 ] || fail "ambassador closes b2's report: $(cat "$work/status")"
close_report "$T" "$rid1" > /dev/null
[ "$(cat "$work/status")" = 403 ] || fail "tenant closes a report: $(cat "$work/status")"
close_report "$A" 999999 > /dev/null
[ "$(cat "$work/status")" = 404 ] || fail "close of no report: $(cat "$work/status")"
close_report "$A" "$rid1" > "$work/close.json"
[ "$(cat "$work/status")" = 200 ] || fail "close: $(cat "$work/status") $(cat "$work/close.json")"
py 'import json,sys; r=json.load(open(sys.argv[1]))["report"]
assert r["closed_by"] == "amb-b1" and r["building"] == "b1", r' "$work/close.json" ||
  fail "close answer: $(cat "$work/close.json")"
close_report "$A" "$rid1" > /dev/null
[ "$(cat "$work/status")" = 409 ] || fail "closing twice: $(cat "$work/status")"
api "$A" /api/v1/buildings/b1/status > "$work/status.json"
py 'import json,sys; s=json.load(open(sys.argv[1]))
assert not [r for r in s["reports"] if r["kind"] == "damp"], s["reports"]' "$work/status.json" ||
  fail "a closed report still listed: $(cat "$work/status.json")"
close_report "$E" "$rid2" > /dev/null
[ "$(cat "$work/status")" = 200 ] || fail "team closes b2's report: $(cat "$work/status")"

# ---- /metrics: the open alerts by kind, and promtool ----
curl -s -b "foyer_token=$E" "$base/metrics" > "$work/metrics"
grep -q '^foyer_alerts_open{kind="cold_home"} 1$' "$work/metrics" ||
  fail "foyer_alerts_open: $(grep alerts "$work/metrics")"
grep -q '^foyer_http_page_reports_opened_total 2$' "$work/metrics" ||
  fail "reports not counted: $(grep page "$work/metrics")"
promtool check metrics < "$work/metrics" > "$work/promtool.out" 2>&1 ||
  fail "promtool: $(cat "$work/promtool.out")"

# A clean stop (under ASan: nothing leaked, the pages' texts freed).
stop_foyerd
echo "http_wire: OK"
