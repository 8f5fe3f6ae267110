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

start_foyerd
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
curl -s -b "foyer_token=$E" "$base/metrics" > "$work/metrics"
grep -q '^foyer_http_page_cross_site_total 3$' "$work/metrics" ||
  fail "cross-site posts not counted: $(grep page "$work/metrics")"
grep -q '^foyer_http_page_tip_answers_total 2$' "$work/metrics" ||
  fail "tip answers not counted: $(grep page "$work/metrics")"

# ---- SIGHUP reads the pages' texts again ----
grep -q 'Relier cette tablette' <(curl -s "$base/pair") || fail "pairing page title"
sed -i 's/^pair_title = .*/pair_title = Relier la tablette, texte relu/' "$work/lang/web.fr.conf"
kill -HUP "$foyerd_pid"
reread() { curl -s "$base/pair" | grep -q 'texte relu'; }
wait_for 10 reread || fail "the pages' texts not read again after SIGHUP"

echo "http_wire: OK"
