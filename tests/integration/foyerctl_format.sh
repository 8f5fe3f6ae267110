#!/usr/bin/env bash
# How foyerctl writes numbers and tables: every value at its unit's fixed
# precision (include/foyer/units.h), the same in status, status --json,
# events and export (no 0.4580000001 L, no 21.43060241 °C); the status table
# aligned by display columns with a multi-byte unit (°C) and within 80
# columns; singular and plural counts ("1 reset", "1 error").
set -euo pipefail
. "$(dirname "$0")/lib.sh"

scratch_setup fmt

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
[channel d1-linky]
dwelling = d1
quantity = electricity
[channel d1-temp]
dwelling = d1
quantity = temperature
[channel d1-humidity]
dwelling = d1
quantity = humidity
[channel d1-water]
dwelling = d1
quantity = cold_water
[channel b1-outdoor]
building = b1
quantity = outdoor_temperature
[mqtt]
host = 127.0.0.1
port = 1
[sensor plug]
topic = tele/plug/SENSOR
preset = tasmota
dwelling = d1
timestamp_field = Time
CONF

# Values with float noise, as a meter's scale or a mean gives them.
{
  echo "channel,time,value"
  echo "d1-linky,2026-03-02T00:00:00+01:00,2979.49292"
  echo "d1-linky,2026-03-02T01:00:00+01:00,2980.1234567"
  echo "d1-linky,2026-03-02T02:00:00+01:00,2981.4847412"
  echo "d1-water,2026-03-02T00:00:00+01:00,1000"
  echo "d1-water,2026-03-02T01:00:00+01:00,1000.4580000001"
  echo "d1-temp,2026-03-02T00:00:00+01:00,21.43060241"
  echo "d1-temp,2026-03-02T01:00:00+01:00,21.4306"
  echo "d1-temp,2026-03-02T02:00:00+01:00,21.43060241"
  echo "d1-humidity,2026-03-02T02:00:00+01:00,41.26"
} > "$work/in.csv"
ctl import "$work/in.csv" > "$work/import.out"

ctl export --granularity day > "$work/day.csv"
grep -qx "d1-water,d1,cold_water,2026-03-02T00:00:00+01:00,0.5,L" "$work/day.csv" ||
  fail "water not to 0.1 L: $(cat "$work/day.csv")"
grep -qx "d1-temp,d1,temperature,2026-03-02T00:00:00+01:00,21.43,°C" "$work/day.csv" ||
  fail "temperature not to 0.01 °C: $(cat "$work/day.csv")"
grep -qx "d1-linky,d1,electricity,2026-03-02T00:00:00+01:00,1.992,kWh" "$work/day.csv" ||
  fail "energy not to the Wh: $(cat "$work/day.csv")"
grep -qx "d1-humidity,d1,humidity,2026-03-02T00:00:00+01:00,41.3,%RH" "$work/day.csv" ||
  fail "humidity not to 0.1 %RH: $(cat "$work/day.csv")"
# Every value of every export: no more decimals than its unit's.
for g in hour day month; do
  ctl export --granularity $g | awk -F, 'NR > 1 {
      split($5, p, "."); d = length(p[2])
      max = ($6 == "kWh" ? 3 : $6 == "L" ? 1 : $6 == "°C" ? 2 : $6 == "%RH" ? 1 : 0)
      if (d > max) { print "'$g': " $0 ": " d " decimals for " $6; bad = 1 } }
    END { exit bad }' || fail "export --granularity $g: too many decimals"
done

# The device table lists every configured device, also one no driver has
# reported on (foyerd is not running here), with the age of its newest
# reading as LAST OK.
now=$(date -u -d '-30 seconds' +%Y-%m-%dT%H:%M:%SZ)
printf 'channel,time,value\nplug.power,%s,12.5\n' "$now" | ctl import - > /dev/null
ctl status > "$work/status.txt"
grep -qE "^plug +sensor +- +(2[0-9]|3[0-9]) s +- +- +-\$" "$work/status.txt" ||
  fail "unreported device not listed with its reading's age: $(cat "$work/status.txt")"
grep -q "^1 device not reported on by a driver yet" "$work/status.txt" || fail "no note on the unreported device"
grep -q "^plug.power .* 12.5 W " "$work/status.txt" || fail "W to 0.1: $(cat "$work/status.txt")"

# status: the same precision, the same figures in --json.
ctl status > "$work/status.txt"
grep -q "^d1-linky .* 2981.485 kWh " "$work/status.txt" || fail "status kWh: $(cat "$work/status.txt")"
grep -q "^d1-temp .* 21.43 °C " "$work/status.txt" || fail "status °C: $(cat "$work/status.txt")"
ctl status --json | /usr/bin/python3 -c '
import json, sys
by = {r["channel"]: r for r in json.load(sys.stdin)}
assert by["d1-linky"]["last_value"] == 2981.485, by["d1-linky"]
assert by["d1-temp"]["last_value"] == 21.43, by["d1-temp"]
assert by["d1-water"]["last_value"] == 1000.5, by["d1-water"]
' || fail "status --json values"

# The channel table: the UNIT column and the ones after it start at the same
# display column on every row, °C (3 bytes, 2 columns) included; no line of
# status is wider than 80 columns.
/usr/bin/python3 - "$work/status.txt" <<'PY' || fail "status table misaligned: $(cat "$work/status.txt")"
import sys
lines = open(sys.argv[1], encoding="utf-8").read().split("\n")
header = lines[0]
col = {name: header.index(name) for name in ("VALUE", "UNIT", "AGE", "STATE")}
rows = [l for l in lines[1:] if l.startswith(("d1-", "b1-", "plug."))]
assert len(rows) > 5, rows
for l in rows:
    # the unit starts where the header says, and the state after it too
    assert l[col["UNIT"]] != " " and l[col["UNIT"] - 1] == " ", (l, col)
    assert l[col["STATE"]:].split()[0] in ("ok", "stale", "never", "held", "offline"), (l, col)
for l in lines:
    assert len(l) <= 80, ("wider than 80 columns", len(l), l)
PY

# Plurals: one of a kind is singular.
{
  echo "channel,time,value"
  echo "d1-linky,2026-03-05T00:00:00+01:00,3000"
  echo "d1-linky,2026-03-05T01:00:00+01:00,0.5"
  echo "d1-linky,2026-03-05T02:00:00+01:00,1.5"
} > "$work/reset.csv"
ctl import "$work/reset.csv" > "$work/reset.out"
grep -q ": 3 rows: 3 stored, 0 duplicates skipped, 0 bad rows (0 unknown channels), 0 conflicts" "$work/reset.out" ||
  fail "import counts: $(cat "$work/reset.out")"
grep -q "counters: 1 reset, 0 rollovers, 0 glitches and 0 spikes dropped, 0 late readings" "$work/reset.out" ||
  fail "singular reset: $(cat "$work/reset.out")"
{
  echo "channel,time,value"
  echo "d1-temp,2026-03-06T00:00:00+01:00,20"
} > "$work/one.csv"
ctl import "$work/one.csv" | grep -q ": 1 row: 1 stored, 0 duplicates skipped" || fail "singular row"
printf '[foyer]\ndatabase = x.db\nbogus = 1\n' > "$work/bad.conf"
rc=0
"$FOYER_BIN/foyerctl" --config "$work/bad.conf" status 2> "$work/bad.err" || rc=$?
grep -q "^foyerctl: 1 error in $work/bad.conf" "$work/bad.err" || fail "singular error: $(cat "$work/bad.err")"
ctl events --since 2026-03-01 > "$work/events.txt"
grep -q "^1 event since" "$work/events.txt" || fail "singular event: $(cat "$work/events.txt")"
grep -A1 "d1-linky *d1 *meter_reset" "$work/events.txt" | grep -q "^    0.5 kWh, before 3000 kWh" ||
  fail "reset event values: $(cat "$work/events.txt")"
awk 'length($0) > 80 { exit 1 }' "$work/events.txt" || fail "events wider than 80 columns"
echo "foyerctl_format: fixed precision per unit everywhere, aligned 80-column tables, plurals"
