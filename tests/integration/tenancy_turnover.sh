#!/usr/bin/env bash
# Tenancies at run time (issue 15): a household leaves and another moves in
# with foyerctl tenancy end|start next to a running foyerd, without a config
# edit.  The old tenant's token stops at once; the new tenant's token sees
# nothing of the previous tenancy; a restart (the config still says the old
# tenancy runs) changes nothing; the team API and the summaries read the
# database's tenancies; refusals name what is wrong; list and --json.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mqtt_lib.sh" # free_port

scratch_setup tenancy
export FOYER_LANG_DIR="$FOYER_SRC/config"
hport=$(free_port)
base="http://127.0.0.1:$hport"
mkdir -p "$work/web"
echo '<!doctype html><title>t</title>' > "$work/web/index.html"

cat > "$work/foyer.conf" <<CONF
[foyer]
database = foyer.db
timezone = Europe/Paris
[building b1]
[dwelling d1]
building = b1
surface_m2 = 40
heating = electric
[dwelling d2]
building = b1
surface_m2 = 60
heating = electric
consent = true
[channel d2-elec]
dwelling = d2
quantity = electricity
[channel d2-water]
dwelling = d2
quantity = cold_water
[tenancy t1]
dwelling = d1
start = 2020-01-01
[http]
listen = 127.0.0.1
port = $hport
web_dir = $work/web
CONF

today=$(date +%Y-%m-%d)
yesterday=$(date -d yesterday +%Y-%m-%d)
# Water used in d2 every hour of the last two days (10 L an hour): a day
# no tenancy of d2 covers is vacant_use once d2 has tenancies.
now=$(date +%s)
h0=$(((now - 3600) / 3600 * 3600 - 48 * 3600))
{
  echo "channel,time,value"
  for i in $(seq 0 48); do
    echo "d2-water,$(date -u -d "@$((h0 + i * 3600))" +%Y-%m-%dT%H:%M:%SZ),$((100 + i * 10))"
  done
} > "$work/water.csv"
ctl import "$work/water.csv" > "$work/import.log" 2>&1 || fail "import: $(cat "$work/import.log")"
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
expect() { # want what curl-args...
  local want=$1 what=$2 got
  shift 2
  got=$(code "$@")
  [ "$got" = "$want" ] || fail "$what: HTTP $got, expected $want"
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

start_foyerd
wait_for 20 grep -Eq "alerts: (hours up to|[0-9]+ opened)" "$work/foyerd.log" || fail "no alerts run: $(cat "$work/foyerd.log")"
grep -q "vacant_use" "$work/foyerd.log" && fail "vacant_use for d2, which has no tenancy at all"
# The config's section, seeded at foyerd's start.
ctl tenancy list --json > "$work/l0.json"
py '
import json, sys
l = json.load(open(sys.argv[1]))
assert [(t["id"], t["dwelling"], t["start"], t["end"], t["created_by"], t["consent"]) for t in l] == \
    [("t1", "d1", "2020-01-01", None, "config", False)], l
' "$work/l0.json" || fail "list before: $(cat "$work/l0.json")"

E=$(ctl token create --role energy-team 2> /dev/null)
T1=$(ctl token create --role tenant --dwelling d1 2> /dev/null)
expect 200 "the first tenant" -H "Authorization: Bearer $T1" "$base/api/v1/me"

# A new tenancy while one is open: refused, naming it.
rc=0; ctl tenancy start --dwelling d1 --date "$today" > /dev/null 2> "$work/err" || rc=$?
[ "$rc" = 1 ] || fail "start over an open tenancy: exit $rc"
grep -q "tenancy t1 is open since 2020-01-01: end it first" "$work/err" || fail "start: $(cat "$work/err")"

# The household leaves: its token stops at once (no reload).
ctl tenancy end --dwelling d1 --date "$yesterday" > "$work/end.out" || fail "end"
grep -q "tenancy t1 of dwelling d1 ends after $yesterday" "$work/end.out" || fail "end: $(cat "$work/end.out")"
expect 401 "the first tenant after the end" -H "Authorization: Bearer $T1" "$base/api/v1/me"
rc=0; ctl token create --role tenant --dwelling d1 > /dev/null 2> "$work/err" || rc=$?
[ "$rc" = 1 ] || fail "token for a dwelling between tenancies: exit $rc"
grep -q "no current tenancy" "$work/err" || fail "token: $(cat "$work/err")"

# Starting before the previous one ended: refused.
rc=0; ctl tenancy start --dwelling d1 --date "$yesterday" > /dev/null 2> "$work/err" || rc=$?
[ "$rc" = 1 ] || fail "overlapping start: exit $rc"
grep -q "tenancy t1 runs from 2020-01-01 to $yesterday" "$work/err" || fail "overlap: $(cat "$work/err")"

# The next household moves in today.
ctl tenancy start --dwelling d1 --date "$today" --ref BAIL-42 > "$work/start.out" || fail "start"
new="d1.$(date +%Y%m%d)"
grep -q "tenancy $new of dwelling d1 starts on $today" "$work/start.out" || fail "start: $(cat "$work/start.out")"
T2=$(ctl token create --role tenant --dwelling d1 2> /dev/null)
curl -s -H "Authorization: Bearer $T2" "$base/api/v1/me" > "$work/me.json"
py '
import json, sys, time
j = json.load(open(sys.argv[1]))
t = j["tenancy"]
assert t["end"] is None, t
assert t["start_s"] > time.time() - 86400 - 3600, t
' "$work/me.json" || fail "me: $(cat "$work/me.json")"
# Nothing of the previous household: yesterday lies outside the tenancy.
expect 403 "the new tenant asks for yesterday" -H "Authorization: Bearer $T2" \
  "$base/api/v1/me/history?quantity=electricity&granularity=day&from=$yesterday&to=$yesterday"

# The team API lists both tenancies of d1.
curl -s -H "Authorization: Bearer $E" "$base/api/v1/dwellings" > "$work/dw.json"
py '
import json, sys
d = {x["id"]: x for x in json.load(open(sys.argv[1]))["dwellings"]}
ids = [t["id"] for t in d["d1"]["tenancies"]]
assert ids == ["t1", sys.argv[2]], ids
assert d["d1"]["tenancies"][0]["end"] == sys.argv[3], d["d1"]
' "$work/dw.json" "$new" "$yesterday" || fail "dwellings: $(cat "$work/dw.json")"

# Summaries ask the database: d2 has a tenancy from today, none last month.
ctl tenancy start --dwelling d2 --date "$today" > /dev/null || fail "start d2"
month=$(date -d "$(date +%Y-%m-01) -1 day" +%Y-%m)
rc=0; ctl summary --dwelling d2 --period "$month" > /dev/null 2> "$work/err" || rc=$?
grep -q "dwelling d2 has no tenancy during $month" "$work/err" || fail "summary d2 $month (exit $rc): $(cat "$work/err")"
# This week: the data has not closed it, so the figures may be partial.
week=$(date +%G-W%V)
ctl summary --dwelling d2 --period "$week" > /dev/null 2> "$work/err" || fail "summary d2 $week: $(cat "$work/err")"
grep -q "^foyerctl summary: warning: d2 $week: no reading yet at or after the period's end" "$work/err" ||
  fail "summary d2 $week: no warning that the period is open: $(cat "$work/err")"

# A restart (the config still says t1 runs): the database decides.  The
# alerts too: d2 now has a tenancy from today, so its water yesterday is
# vacant_use.
stop_foyerd
start_foyerd
wait_for 20 grep -q "opened: vacant_use d2-water" "$work/foyerd.log" ||
  fail "no vacant_use for d2 after its tenancy started: $(grep alert "$work/foyerd.log")"
expect 401 "the first tenant after a restart" -H "Authorization: Bearer $T1" "$base/api/v1/me"
expect 200 "the new tenant after a restart" -H "Authorization: Bearer $T2" "$base/api/v1/me"
ctl tenancy list --json > "$work/l1.json"
py '
import json, sys, getpass
l = json.load(open(sys.argv[1]))
got = [(t["id"], t["dwelling"], t["start"], t["end"], t["ref"], t["consent"]) for t in l]
want = [("t1", "d1", "2020-01-01", sys.argv[3], None, False),
        (sys.argv[2], "d1", sys.argv[4], None, "BAIL-42", False),
        ("d2." + sys.argv[4].replace("-", ""), "d2", sys.argv[4], None, None, True)]
assert got == want, (got, want)
assert l[1]["created_by"] not in ("", "config"), l[1]
' "$work/l1.json" "$new" "$yesterday" "$today" || fail "list after: $(cat "$work/l1.json")"
ctl tenancy list --dwelling d2 | grep -q "^d2\." || fail "list --dwelling d2"
ctl tenancy list --dwelling d2 | grep -q "^t1 " && fail "list --dwelling d2 shows d1's"
ctl token list | grep -q "tenancy-ended" || fail "token list: the first tenant's token is not tenancy-ended"
stop_foyerd

# Refusals: exit 2 for usage, 1 for what the database refuses.
rc=0; ctl tenancy end --dwelling d1 --date 2019-12-31 2> "$work/err" || rc=$?
[ "$rc" = 1 ] && grep -q "before the start of tenancy $new" "$work/err" || fail "end before start: $rc $(cat "$work/err")"
rc=0; ctl tenancy end --dwelling nope --date "$today" 2> "$work/err" || rc=$?
[ "$rc" = 2 ] && grep -q 'unknown dwelling "nope"' "$work/err" || fail "unknown dwelling: $rc"
rc=0; ctl tenancy start --dwelling d1 --date 2026-02-30 2> "$work/err" || rc=$?
[ "$rc" = 2 ] && grep -q 'expected YYYY-MM-DD' "$work/err" || fail "bad date: $rc"
rc=0; ctl tenancy start --dwelling d1 2> "$work/err" || rc=$?
[ "$rc" = 2 ] || fail "start without --date: $rc"
rc=0; ctl tenancy frobnicate 2> "$work/err" || rc=$?
[ "$rc" = 2 ] && grep -q 'unknown sub-command "frobnicate"' "$work/err" || fail "unknown sub-command: $rc"
long=$(printf 'x%.0s' $(seq 1 65))
rc=0; ctl tenancy end --dwelling d2 --date "$today" > /dev/null || fail "end d2"
rc=0; ctl tenancy start --dwelling d2 --date "$(date -d tomorrow +%Y-%m-%d)" --ref "$long" 2> "$work/err" || rc=$?
[ "$rc" = 1 ] && grep -q -- '--ref: longer than 64 bytes' "$work/err" || fail "long ref: $rc $(cat "$work/err")"
echo "ok"
