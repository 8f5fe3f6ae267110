#!/usr/bin/env bash
# The alert engine's pass on a big history goes in steps: a database with
# one meter_reset event on each of 8000 counters (8000 alerts to open; the
# pass in one go took seconds, during which SIGTERM waited), foyerd started;
# once the pass has opened its first alert, foyerctl token create (a write
# from another process, 5 s busy wait) succeeds, SIGHUP reloads within a
# few seconds (the pass dropped and begun again), and SIGTERM stops foyerd
# within a few seconds with the pass unfinished (fewer alerts than events,
# said in the log); the next start judges again and ends with every alert
# once (no duplicate).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

scratch_setup alerts-steps
export FOYER_LANG_DIR="$FOYER_SRC/config"
n=8000

# The config: 8000 dwellings with a cold-water counter each, in buildings
# of 100.
py '
import sys
w, n = sys.argv[1], int(sys.argv[2])
with open(w + "/foyer.conf", "w") as f:
    f.write("[foyer]\ndatabase = %s/foyer.db\ntimezone = Europe/Paris\n" % w)
    for b in range((n + 99) // 100):
        f.write("[building b%d]\n" % b)
    for d in range(n):
        f.write("[dwelling d%d]\nbuilding = b%d\nsurface_m2 = 50\nheating = electric\n"
                "[channel d%d-water]\ndwelling = d%d\nquantity = cold_water\n" % (d, d // 100, d, d))
' "$work" "$n"

# The database (foyerctl import creates it and registers the channels),
# then one meter reset per counter two hours ago, as an import of old
# indexes would leave them.
now=$(date +%s)
ts=$(date -u -d "@$((now - 7200))" +%Y-%m-%dT%H:%M:%SZ)
printf 'channel,time,value\nd0-water,%s,10\n' "$ts" > "$work/h.csv"
ctl import "$work/h.csv" > "$work/import.log" 2>&1 || fail "import: $(cat "$work/import.log")"
sqlite3 "$work/foyer.db" "INSERT INTO events(ts, channel, kind, value, prev_value, logged)
  SELECT $((now - 7200)), id, 'meter_reset', 5, 1000, $now FROM channels"

: > "$work/foyerd.log"
"$FOYER_BIN/foyerd" --config "$work/foyer.conf" 2>> "$work/foyerd.log" &
pid=$!
wait_for 60 grep -q "alert 1 opened" "$work/foyerd.log" ||
  fail "the pass opened nothing: $(tail -n 5 "$work/foyerd.log")"

# A write from another process while the pass runs.
ctl token create --role energy-team --name during-pass > "$work/token.out" 2> "$work/token.err" ||
  fail "token create during the pass: $(cat "$work/token.err")"

# SIGHUP: the reload is done within a few seconds (the pass under way is
# dropped and begins again on the new config).
kill -HUP "$pid"
wait_for 10 grep -q "configuration reloaded" "$work/foyerd.log" ||
  fail "no reload 10 s after SIGHUP: $(tail -n 3 "$work/foyerd.log")"

# SIGTERM: foyerd is gone within a few seconds, the pass not finished.
kill -TERM "$pid"
wait_for 5 eval '! kill -0 "$pid" 2> /dev/null' ||
  fail "foyerd still running 5 s after SIGTERM: $(tail -n 3 "$work/foyerd.log")"
rc=0
wait "$pid" || rc=$?
pid=
[ "$rc" = 0 ] || fail "foyerd exited $rc on SIGTERM: $(tail -n 5 "$work/foyerd.log")"
stopped=$(grep -c "alerts: pass stopped" "$work/foyerd.log" || true)
[ "$stopped" = 2 ] || fail "passes stopped (reload, stop): $stopped, expected 2: $(grep 'alerts:' "$work/foyerd.log")"
first=$(sqlite3 "$work/foyer.db" "SELECT count(*) FROM alerts")
[ "$first" -gt 0 ] && [ "$first" -lt "$n" ] || fail "$first alerts after the stop: the pass was not cut short"
grep -q "opened, .* closed" "$work/foyerd.log" && fail "the first pass ended: $(grep 'alerts:' "$work/foyerd.log")"

# The next start judges again: every alert once.
: > "$work/foyerd2.log"
"$FOYER_BIN/foyerd" --config "$work/foyer.conf" 2>> "$work/foyerd2.log" &
pid=$!
wait_for 60 grep -q "alerts: .* opened, 0 closed" "$work/foyerd2.log" ||
  fail "the second pass did not end: $(tail -n 5 "$work/foyerd2.log")"
kill -TERM "$pid"
wait "$pid" || fail "foyerd exited $? on SIGTERM"
pid=
got=$(sqlite3 "$work/foyer.db" "SELECT count(*) || ' ' || count(DISTINCT subject) FROM alerts WHERE kind = 'meter_reset'")
[ "$got" = "$n $n" ] || fail "alerts (all, distinct subjects): $got, expected $n $n"
echo "alerts_steps: token create during the pass, stop with the pass unfinished ($first of $n), resumed: ok"
