#!/usr/bin/env bash
# foyerctl import takes only rows that name one instant and one number, and
# says so for each other row (FILE:LINE and why, input escaped): times
# without an offset (the missing 02:30 of the spring DST change collided
# with 03:30 and the valid row was lost; the two 02:30 of the autumn change
# collapsed into one), the leap second 23:59:60 (it collided with the next
# second), hex values (0x10, 0x1p4), control characters in messages.
# RFC 4180 quoted fields and header are read.  The final line counts
# conflicts; exit 1 when any row was not taken, 0 for a clean file and for
# its re-import (duplicates only).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

scratch_setup csv
sql() { sqlite3 "$work/foyer.db" "$1"; }
# The value stored for channel $1 at UTC epoch second $2 (empty when none).
stored() {
  sql "SELECT printf('%g', r.value) FROM readings r JOIN channels c ON c.id = r.channel
       WHERE c.name = '$1' AND r.ts = $2"
}
epoch() { date -u -d "$1" +%s; }
# Import $1, keeping stdout, stderr and the exit status in $work/out, err, rc.
import() {
  local rc=0
  ctl import "$1" > "$work/out" 2> "$work/err" || rc=$?
  echo "$rc" > "$work/rc"
}
expect_err() { # line message-part
  grep -qF "$(basename "$csv"):$1: $2" "$work/err" ||
    fail "line $1 not reported as \"$2\": $(cat "$work/err")"
}

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
[channel t1]
dwelling = d1
quantity = temperature
CONF

# 1. Times: a missing local time, an ambiguous one twice, a leap second.
csv=$work/times.csv
cat > "$csv" <<'CSV'
channel,time,value
t1,2025-03-30T02:30:00,10
t1,2025-03-30T03:30:00+02:00,11
t1,2025-10-26T02:30:00,12
t1,2025-10-26T02:30:00,13
t1,2025-12-31T23:59:60Z,14
t1,2026-01-01T00:00:00Z,15
t1,2025-10-26,16
t1,2025-10-26T02:30:00+01:00,17
CSV
import "$csv"
[ "$(cat "$work/rc")" = 1 ] || fail "times: exit $(cat "$work/rc"), expected 1"
expect_err 2 'time "2025-03-30T02:30:00" has no UTC offset'
expect_err 4 'time "2025-10-26T02:30:00" has no UTC offset'
expect_err 5 'time "2025-10-26T02:30:00" has no UTC offset'
expect_err 6 'time "2025-12-31T23:59:60Z" is a leap second'
expect_err 8 'time "2025-10-26" has no UTC offset'
# The valid rows kept their own values at their own instants.
[ "$(stored t1 "$(epoch 2025-03-30T01:30:00Z)")" = 11 ] || fail "03:30+02:00 lost"
[ "$(stored t1 "$(epoch 2026-01-01T00:00:00Z)")" = 15 ] || fail "the second after 23:59:60 lost"
[ "$(stored t1 "$(epoch 2025-10-26T01:30:00Z)")" = 17 ] || fail "02:30+01:00 lost"
[ "$(sql "SELECT count(*) FROM readings")" = 3 ] || fail "times: $(sql 'SELECT * FROM readings')"
grep -q ": 8 rows: 3 stored, 0 duplicates skipped, 5 bad rows (0 unknown channels), 0 conflicts" \
  "$work/out" || fail "times: final line $(cat "$work/out")"

# 2. RFC 4180 quoting, values that are not decimal numbers, control bytes.
csv=$work/fields.csv
printf '%s\n' '"channel","time","value"' \
  '"t1","2025-01-01T00:00:00Z","5.5"' \
  ' t1 , "2025-01-01T01:00:00Z" , 6 ' \
  '"t""1",2025-01-01T02:00:00Z,7' \
  '"t1,x",2025-01-01T02:00:00Z,7' \
  't1,2025-01-01T03:00:00Z,0x10' \
  't1,2025-01-01T04:00:00Z,0x1p4' \
  't1,2025-01-01T05:00:00Z,inf' \
  't1,2025-01-01T06:00:00Z,"12,5"' \
  't1,2025-01-01T07:00:00Z,-1.5e1' \
  '"t1"x,2025-01-01T08:00:00Z,1' \
  '"t1,2025-01-01T08:00:00Z,1' > "$csv"
printf 't1\a\033[2J,2025-01-01T09:00:00Z,1\n' >> "$csv"
import "$csv"
[ "$(cat "$work/rc")" = 1 ] || fail "fields: exit $(cat "$work/rc"), expected 1"
[ "$(stored t1 "$(epoch 2025-01-01T00:00:00Z)")" = 5.5 ] || fail "quoted row not imported: $(cat "$work/err")"
[ "$(stored t1 "$(epoch 2025-01-01T01:00:00Z)")" = 6 ] || fail "row with blanks not imported"
[ "$(stored t1 "$(epoch 2025-01-01T07:00:00Z)")" = -15 ] || fail "exponent not read"
expect_err 4 'unknown channel "t\"1"'
expect_err 5 'unknown channel "t1,x"'
expect_err 6 'bad value "0x10"'
expect_err 7 'bad value "0x1p4"'
expect_err 8 'bad value "inf"'
expect_err 9 'bad value "12,5"'
expect_err 11 'text after a closing quote'
expect_err 12 'a quoted field is not closed on its line'
expect_err 13 'unknown channel "t1\x07\x1B[2J"'
if LC_ALL=C grep -q $'[\a\033]' "$work/err"; then fail "control characters echoed raw"; fi
grep -q ": 12 rows: 3 stored, 0 duplicates skipped, 9 bad rows (3 unknown channels)" "$work/out" ||
  fail "fields: final line $(cat "$work/out")"

# 3. Conflicts are counted and fail the import; a clean file and its
# re-import (duplicates only) exit 0.
csv=$work/conflict.csv
printf 'channel,time,value\nt1,2025-02-01T00:00:00Z,20\nt1,2025-02-01T00:00:00Z,21\n' > "$csv"
import "$csv"
[ "$(cat "$work/rc")" = 1 ] || fail "conflict: exit $(cat "$work/rc"), expected 1"
grep -q ": 2 rows: 1 stored, 0 duplicates skipped, 0 bad rows (0 unknown channels), 1 conflict " \
  "$work/out" || fail "conflict: final line $(cat "$work/out")"
csv=$work/clean.csv
printf 'channel,time,value\nt1,2025-02-02T00:00:00Z,20\nt1,2025-02-02T02:00:00+01:00,21\n' > "$csv"
import "$csv"
[ "$(cat "$work/rc")" = 0 ] || fail "clean import: exit $(cat "$work/rc"): $(cat "$work/err")"
import "$csv"
[ "$(cat "$work/rc")" = 0 ] || fail "clean re-import: exit $(cat "$work/rc")"
grep -q ": 2 rows: 0 stored, 2 duplicates skipped, 0 bad rows (0 unknown channels), 0 conflicts" \
  "$work/out" || fail "re-import: final line $(cat "$work/out")"
echo "csv_import: times with offsets only, RFC 4180 fields, decimal values, escaped messages, conflicts counted"
