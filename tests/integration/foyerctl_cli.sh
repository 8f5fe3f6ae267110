#!/usr/bin/env bash
# foyerctl as an operator uses it: import with a bad row (reported by line,
# the rest imported, exit 1), export at each granularity with filters (local
# times with offsets, DST day of 23 h), no hourly export without consent,
# status --json fields.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

scratch_setup ctl

cat > "$work/foyer.conf" <<CONF
[foyer]
database = foyer.db
timezone = Europe/Paris
raw_retention_days = 3650
raw_retention_days_no_consent = 3650
[building b1]
[dwelling d1]
building = b1
surface_m2 = 40
heating = electric
consent = yes
[dwelling d2]
building = b1
surface_m2 = 60
heating = gas
[channel d1-linky]
dwelling = d1
quantity = electricity
[channel d1-temp]
dwelling = d1
quantity = temperature
[channel d2-water]
dwelling = d2
quantity = cold_water
[channel b1-outdoor]
building = b1
quantity = outdoor_temperature
CONF

# 1 kWh per hour across the spring DST change (2026-03-29 has 23 hours).
{
  echo "channel,time,value"
  for h in $(seq 0 71); do
    ts=$(date -u -d "2026-03-28T00:00:00+01:00 + $h hours" +%Y-%m-%dT%H:%M:%SZ)
    echo "d1-linky,$ts,$((1000 + h))"
  done
  echo "d1-temp,2026-03-28T10:00:00+01:00,19.5"
  echo "d1-temp,2026-03-28T10:30:00+01:00,20.5"
  echo "d2-water,2026-03-28T00:00:00+01:00,5000"
  echo "d2-water,2026-03-28T12:00:00+01:00,5120"
  echo "d2-water,2026-03-28T13:00:00+01:00,0"
  echo "d2-water,2026-03-28T14:00:00+01:00,5130"
  echo "d1-linky,yesterday,1"
  echo "nobody,2026-03-28T00:00:00Z,1"
  echo "d1-temp,2026-03-28T11:00:00+01:00,12,5"
} > "$work/in.csv"
total=$(wc -l < "$work/in.csv")

rc=0
ctl import "$work/in.csv" > "$work/import.out" 2> "$work/import.err" || rc=$?
[ "$rc" = 1 ] || fail "import with bad rows exited $rc, expected 1"
grep -q "in.csv:$((total - 2)): bad time \"yesterday\"" "$work/import.err" || fail "bad time not reported by line: $(cat "$work/import.err")"
grep -q "in.csv:$((total - 1)): unknown channel \"nobody\"" "$work/import.err" || fail "unknown channel not reported"
grep -q "in.csv:$total: more than 3 fields" "$work/import.err" || fail "decimal comma not reported"
grep -q ": 78 stored, 0 duplicates skipped, 3 bad rows" "$work/import.out" || fail "import counts: $(cat "$work/import.out")"

# Again: nothing new, duplicates counted.
ctl import "$work/in.csv" > "$work/import2.out" 2>/dev/null || true
grep -q ": 0 stored, 78 duplicates skipped" "$work/import2.out" || fail "second import: $(cat "$work/import2.out")"

ctl export --granularity day --dwelling d1 > "$work/day.csv"
head -n 1 "$work/day.csv" | grep -qx "channel,dwelling,quantity,period_start,value,unit" || fail "export header"
grep -qx "d1-linky,d1,electricity,2026-03-29T00:00:00+01:00,23,kWh" "$work/day.csv" || fail "DST day not 23 kWh: $(cat "$work/day.csv")"
grep -qx "d1-linky,d1,electricity,2026-03-28T00:00:00+01:00,24,kWh" "$work/day.csv" || fail "normal day not 24 kWh"
grep -qx "d1-temp,d1,temperature,2026-03-28T00:00:00+01:00,20,°C" "$work/day.csv" || fail "gauge daily mean"
grep -q "d2-water" "$work/day.csv" && fail "--dwelling d1 exported d2"

ctl export --granularity hour --from 2026-03-29T01:00:00+01:00 --to 2026-03-29T04:00:00+02:00 \
  --dwelling d1 > "$work/hour.csv"
# 01:00+01, then 03:00+02 (02:00 does not exist that night); 04:00+02 excluded.
[ "$(grep -c '^d1-linky' "$work/hour.csv")" = 2 ] || fail "hour range: $(cat "$work/hour.csv")"
grep -qx "d1-linky,d1,electricity,2026-03-29T03:00:00+02:00,1,kWh" "$work/hour.csv" || fail "hour after DST change"

ctl export --granularity hour --building b1 --output "$work/b1.csv" 2> "$work/hour.err"
grep -q "d2-water" "$work/b1.csv" && fail "hourly figures of d2 (no consent) exported"
grep -q "left out of the hourly export" "$work/hour.err" || fail "no notice of the consent rule"
ctl export --granularity month --building b1 > "$work/month.csv"
grep -qx "d2-water,d2,cold_water,2026-03-01T00:00:00+01:00,130,L" "$work/month.csv" || fail "monthly water: $(cat "$work/month.csv")"

rc=0; ctl export --granularity week > /dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "bad granularity accepted"

ctl status --json > "$work/status.json"
python3 - "$work/status.json" <<'PY' || fail "status --json"
import json, sys
rows = json.load(open(sys.argv[1]))
by = {r["channel"]: r for r in rows}
need = ["channel", "dwelling", "quantity", "kind", "unit", "last_time", "last_value", "state"]
for r in rows:
    missing = [k for k in need if k not in r]
    assert not missing, (r, missing)
l = by["d1-linky"]
assert l["dwelling"] == "d1" and l["kind"] == "counter" and l["unit"] == "kWh", l
assert l["last_value"] == 1071 and l["last_time"] == "2026-03-31T00:00:00+02:00", l
assert l["state"] == "stale", l
assert by["b1-outdoor"]["state"] == "never" and by["b1-outdoor"]["dwelling"] is None
PY
ctl status | grep -q "^4 channels: 0 ok, 3 stale, 0 offline, 0 held, 1 never read" || fail "status summary line"
# The reading of 0 between two normal ones was a glitch: an event, no spike.
ctl events --since 2026-03-01 --dwelling d2 > "$work/events.txt"
# An event on one line, its values (with their unit) and detail indented
# under it, so the listing fits 80 columns.
grep -A1 "^2026-03-28T13:00:00+01:00 *d2-water *d2 *glitch_dropped" "$work/events.txt" |
  grep -q "^    0 L, before 5120 L" || fail "glitch event: $(cat "$work/events.txt")"
grep -q "^1 event since 2026-03-01T00:00:00+01:00" "$work/events.txt" || fail "events count"
[ "$(ctl events --since 2026-03-01 --dwelling d1 | tail -n 1)" = "0 events since 2026-03-01T00:00:00+01:00" ] ||
  fail "events of d2 shown for d1"
ctl events --since 2026-03-01 --json | python3 -c '
import json, sys
ev = json.load(sys.stdin)
assert len(ev) == 1 and ev[0]["kind"] == "glitch_dropped" and ev[0]["unit"] == "L", ev
assert ev[0]["channel"] == "d2-water" and ev[0]["dwelling"] == "d2" and ev[0]["value"] == 0, ev
' || fail "events --json"
echo "foyerctl_cli: import/export/status/events as specified"
