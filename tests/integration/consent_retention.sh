#!/usr/bin/env bash
# Consent per purpose at run time (issue 15): two households with 20 days
# of hourly history, d1 consenting to load curves (config flag), d2 not.
# foyerctl consent withdraw d1 next to a running foyerd: the energy-team API
# and foyerctl export refuse d1's hourly figures at once; foyerd's retention
# deletes d1's hourly figures past raw_retention_days_no_consent while its
# daily and monthly figures and the building's totals stay to the Wh; the
# record keeps who and when; set again gives the API back what is left.
# Every read of d1's data by the team or foyerctl export is in the access
# log, with no figure.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mqtt_lib.sh" # free_port

scratch_setup consent
export FOYER_LANG_DIR="$FOYER_SRC/config"
hport=$(free_port)
base="http://127.0.0.1:$hport"
mkdir -p "$work/web"
echo '<!doctype html><title>t</title>' > "$work/web/index.html"

cat > "$work/foyer.conf" <<CONF
[foyer]
database = foyer.db
timezone = Europe/Paris
raw_retention_days = 30
raw_retention_days_no_consent = 7
[building b1]
[dwelling d1]
building = b1
surface_m2 = 40
heating = electric
consent = true
[dwelling d2]
building = b1
surface_m2 = 60
heating = electric
[channel d1-elec]
dwelling = d1
quantity = electricity
[channel d2-elec]
dwelling = d2
quantity = electricity
[tenancy t1]
dwelling = d1
start = 2020-01-01
[http]
listen = 127.0.0.1
port = $hport
web_dir = $work/web
CONF

# 20 days of hourly counter indexes, up to an hour ago.
now=$(date +%s)
h0=$(((now - 3600) / 3600 * 3600 - 20 * 86400))
{
  echo "channel,time,value"
  for i in $(seq 0 480); do
    ts=$(date -u -d "@$((h0 + i * 3600))" +%Y-%m-%dT%H:%M:%SZ)
    echo "d1-elec,$ts,$((1000 + i * 3 + i % 5))"
    echo "d2-elec,$ts,$((5000 + i * 2))"
  done
} > "$work/history.csv"
ctl import "$work/history.csv" > "$work/import.log" 2>&1 || fail "import: $(cat "$work/import.log")"

code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
hour_rows() { # channel: hourly rollups older than 8 days, by our own connection
  py 'import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1])
print(db.execute("SELECT count(*) FROM rollup_hour h JOIN channels c ON c.id = h.channel"
                 " WHERE c.name = ? AND h.ts < ?", (sys.argv[2], int(time.time()) - 8 * 86400)).fetchone()[0])' \
    "$work/foyer.db" "$1"
}
start_foyerd() {
  "$FOYER_BIN/foyerd" --config "$work/foyer.conf" 2>> "$work/foyerd.log" &
  pid=$!
  wait_for 20 eval '[ "$(code "$base/api/v1/me")" = 401 ]' ||
    fail "foyerd's HTTP server did not answer: $(tail -5 "$work/foyerd.log")"
}
stop_foyerd() {
  kill -TERM "$pid"
  wait "$pid" || fail "foyerd exited $?: $(cat "$work/foyerd.log")"
  pid=
}

from=$(date -d "@$((h0 + 86400))" +%Y-%m-%d)
to=$(date -d yesterday +%Y-%m-%d)
ctl export --granularity day --from "$from" --to "$to" > "$work/day.before.csv"
ctl export --granularity month > "$work/month.before.csv"

start_foyerd
E=$(ctl token create --role energy-team --name team-anna 2> /dev/null)
q="granularity=hour&from=$from&to=$to"
[ "$(code -H "Authorization: Bearer $E" "$base/api/v1/rollups?channel=d1-elec&$q")" = 200 ] ||
  fail "d1 hourly before the withdrawal"
[ "$(code -H "Authorization: Bearer $E" "$base/api/v1/rollups?channel=d2-elec&$q")" = 403 ] ||
  fail "d2 hourly without consent"
wait_for 20 grep -q "retention: deleted" "$work/foyerd.log" || fail "no retention: $(cat "$work/foyerd.log")"
[ "$(hour_rows d1-elec)" -gt 200 ] || fail "d1's hourly figures deleted while it consents"
[ "$(hour_rows d2-elec)" = 0 ] || fail "d2's old hourly figures kept without consent: $(hour_rows d2-elec)"

# Withdrawal: reads refuse at once.
ctl consent withdraw --dwelling d1 --purpose load_curve > "$work/w.out" || fail "withdraw"
grep -q "consent to load_curve withdrawn for dwelling d1, tenancy t1" "$work/w.out" || fail "withdraw: $(cat "$work/w.out")"
[ "$(code -H "Authorization: Bearer $E" "$base/api/v1/rollups?channel=d1-elec&$q")" = 403 ] ||
  fail "d1 hourly after the withdrawal"
[ "$(code -H "Authorization: Bearer $E" "$base/api/v1/export.csv?dwelling=d1&$q")" = 403 ] ||
  fail "d1 hourly export.csv after the withdrawal"
[ "$(code -H "Authorization: Bearer $E" "$base/api/v1/rollups?channel=d1-elec&granularity=day&from=$from&to=$to")" = 200 ] ||
  fail "d1 daily after the withdrawal"
ctl export --granularity hour --dwelling d1 --from "$from" --to "$to" > "$work/h.csv" 2> "$work/h.err" || true
grep -q "d1-elec" "$work/h.csv" && fail "foyerctl export gives d1's hourly figures after the withdrawal"
grep -q "left out of the hourly export" "$work/h.err" || fail "export: $(cat "$work/h.err")"

# Storage: the next retention (at foyerd's start, then hourly) deletes them.
stop_foyerd
before=$(grep -c "retention: deleted" "$work/foyerd.log")
start_foyerd
wait_for 20 eval '[ "$(grep -c "retention: deleted" "$work/foyerd.log")" -gt "$before" ]' ||
  fail "no retention after the withdrawal: $(tail -5 "$work/foyerd.log")"
[ "$(hour_rows d1-elec)" = 0 ] || fail "d1's old hourly figures kept after the withdrawal: $(hour_rows d1-elec)"
ctl export --granularity day --from "$from" --to "$to" > "$work/day.after.csv"
ctl export --granularity month > "$work/month.after.csv"
cmp "$work/day.before.csv" "$work/day.after.csv" || fail "daily figures changed: $(diff "$work/day.before.csv" "$work/day.after.csv" | head)"
cmp "$work/month.before.csv" "$work/month.after.csv" || fail "monthly figures changed"

# The record: who and when; set again gives back the recent hours.
ctl consent list --dwelling d1 --json > "$work/list.json"
py '
import json, sys
l = {c["purpose"]: c for c in json.load(open(sys.argv[1]))}
lc = l["load_curve"]
assert lc["dwelling"] == "d1" and lc["tenancy"] == "t1" and lc["given"] is False, lc
assert lc["recorded"] is True and lc["by"] and lc["since"], lc
assert l["sharing"]["given"] is False and l["sharing"]["recorded"] is False, l
' "$work/list.json" || fail "consent list: $(cat "$work/list.json")"
ctl consent list | grep -Eq "^d2 +- +load_curve +no +- +\(default\)" || fail "list d2: $(ctl consent list)"
ctl consent set --dwelling d1 --purpose load_curve > /dev/null || fail "set"
[ "$(code -H "Authorization: Bearer $E" "$base/api/v1/rollups?channel=d1-elec&$q")" = 200 ] ||
  fail "d1 hourly after consent given again"

# The access log: every read of d1's data by the team and by foyerctl
# export, who, what, from where; refused reads are not reads; no figure.
ctl access-log --dwelling d1 --json > "$work/access.json"
ctl access-log --json > "$work/access-all.json"
py '
import json, sys, csv
log = json.load(open(sys.argv[1]))
team = [a for a in log if a["role"] == "energy-team"]
# Read: hourly before the withdrawal, daily after, hourly after consent again.
assert len([a for a in team if a["what"].startswith("GET /api/v1/rollups channel=d1-elec")]) == 3, team
assert all(a["who"] == "team-anna" and a["origin"] == "127.0.0.1" and a["dwelling"] == "d1" for a in team), team
local = [a for a in log if a["role"] == "local"]
assert any(a["what"].startswith("foyerctl export granularity=hour") and a["dwelling"] == "d1" and a["origin"] == "foyerctl" for a in local), local
assert any(a["dwelling"] == "*" for a in local), local  # the exports of every dwelling
assert not any(a["dwelling"] == "d2" for a in log), log
allrows = json.load(open(sys.argv[2]))
assert any(a["dwelling"] == "d2" for a in allrows) is False, allrows  # d2: only refused reads
text = json.dumps(allrows)
figures = set()
for f in sys.argv[3:]:
    for r in csv.DictReader(open(f)):
        figures.add(r["value"])
leaked = [v for v in figures if v and ("=" + v in text or " " + v + " " in text or "\"" + v + "\"" in text)]
assert not leaked, leaked
' "$work/access.json" "$work/access-all.json" "$work/day.after.csv" "$work/month.after.csv" ||
  fail "access log: $(cat "$work/access-all.json")"
ctl access-log --dwelling d1 | grep -q "team-anna .*energy-team .*d1 .*127.0.0.1 .*GET /api/v1/rollups" ||
  fail "access-log text: $(ctl access-log --dwelling d1)"
[ "$(ctl access-log --since "$(date -d tomorrow +%Y-%m-%d)" --json)" = "[]" ] || fail "--since tomorrow"
stop_foyerd

# Refusals.
rc=0; ctl consent set --dwelling d1 --purpose marketing 2> "$work/err" || rc=$?
[ "$rc" = 2 ] && grep -q "expected load_curve or sharing" "$work/err" || fail "bad purpose: $rc"
rc=0; ctl consent set --dwelling nope --purpose sharing 2> "$work/err" || rc=$?
[ "$rc" = 2 ] && grep -q 'unknown dwelling "nope"' "$work/err" || fail "unknown dwelling: $rc"
rc=0; ctl consent withdraw --dwelling d1 2> "$work/err" || rc=$?
[ "$rc" = 2 ] || fail "withdraw without --purpose: $rc"
ctl tenancy end --dwelling d1 --date "$(date -d yesterday +%Y-%m-%d)" > /dev/null
rc=0; ctl consent set --dwelling d1 --purpose sharing 2> "$work/err" || rc=$?
[ "$rc" = 1 ] && grep -q "no current tenancy" "$work/err" || fail "between tenancies: $rc $(cat "$work/err")"
echo ok
