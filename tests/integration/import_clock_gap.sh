#!/usr/bin/env bash
# Issue 9 item 2, as reported: import two readings of 2026-11-29, then one
# stamped 2000-01-02 with index 0 (a device whose clock reset after a
# reboot).  Nothing may be spread back to 2000: no hourly, daily or monthly
# figure before November 2026, one clock_gap event, and the import says how
# many readings were too far from the channel's others.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

work=$(mktemp -d /tmp/foyer-gap-XXXXXX)
trap 'rm -rf "$work"' EXIT
ctl() { "$FOYER_BIN/foyerctl" --config "$work/foyer.conf" "$@"; }

cat > "$work/foyer.conf" <<CONF
[foyer]
database = foyer.db
[building b1]
[dwelling d1]
building = b1
surface_m2 = 40
heating = electric
consent = yes
[channel e]
dwelling = d1
quantity = electricity
CONF

printf 'channel,time,value\ne,2026-11-29T10:00:00Z,12345\ne,2026-11-29T11:00:00Z,12345.5\n' > "$work/a.csv"
printf 'channel,time,value\ne,2000-01-02T00:00:00Z,0\n' > "$work/b.csv"
ctl import "$work/a.csv" > "$work/a.out" || fail "first import: $(cat "$work/a.out")"
rc=0
ctl import "$work/b.csv" > "$work/b.out" 2> "$work/b.err" || rc=$?
[ "$rc" = 0 ] || fail "import of the 2000 row exited $rc: $(cat "$work/b.out" "$work/b.err")"
grep -q "1 reading too far from the channel's other readings" "$work/b.out" ||
  fail "the clock gap is not counted by the import: $(cat "$work/b.out")"

/usr/bin/python3 - "$work/foyer.db" <<'PY' || fail "rollups or events after the 2000 row"
import sqlite3, sys, datetime
db = sqlite3.connect(sys.argv[1])
nov = int(datetime.datetime(2026, 10, 31, 23, tzinfo=datetime.timezone.utc).timestamp())
for table in ("rollup_hour", "rollup_day", "rollup_month"):
    n, = db.execute(f"SELECT count(*) FROM {table} WHERE ts < ?", (nov,)).fetchone()
    assert n == 0, f"{table}: {n} rows before November 2026"
total, = db.execute("SELECT sum(sum) FROM rollup_month").fetchone()
assert abs(total - 0.5) < 1e-9, f"consumption {total} kWh, expected 0.5"
ev = db.execute("SELECT kind, value, prev_value FROM events").fetchall()
assert ev == [("clock_gap", 0.0, 12345.0)], ev
PY
ctl events --since 2000-01-01 > "$work/events.txt"
# (the event on one line, its values on the indented line under it)
grep -A1 "^2000-01-02T01:00:00+01:00 *e *d1 *clock_gap" "$work/events.txt" |
  grep -q "^    0 kWh, before 12345 kWh" ||
  fail "clock_gap event: $(cat "$work/events.txt")"
ctl export --granularity month --from 2000-01-01 > "$work/month.csv"
[ "$(grep -c '^e,' "$work/month.csv")" = 1 ] || fail "monthly export: $(cat "$work/month.csv")"
echo "import_clock_gap: a reading 26 years before the others is refused, not spread"
