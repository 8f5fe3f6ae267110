#!/usr/bin/env bash
# The alert engine's first pass inside foyerd, as others see it: a
# database with one meter_reset event on each of N counters (N alerts to
# open, as after an import of old indexes), foyerd started; while its pass
# runs, a probe tries to take the write lock without waiting every 5 ms
# (how often, and how long at a stretch, the lock is held: SQLite's busy
# wait of another writer polls every 100 ms, foyerctl's for 5 s), foyerctl
# token create is timed, and SIGTERM's time to exit; each beside the same
# figure with foyerd idle after the pass (the baseline).  The pass's
# duration, steps and longest step come from foyerd's log.
# Prints figures, never fails on time.
# Usage: bench_alerts_lock.sh BUILD_DIR [COUNTERS]   (8000)
set -euo pipefail
bin=$(cd "${1:?build dir}" && pwd)
n=${2:-8000}
src=$(cd "$(dirname "$0")/../.." && pwd)
export FOYER_SRC=$src FOYER_BIN=$bin FOYER_LANG_DIR=$src/config
. "$src/tests/integration/lib.sh"
scratch_setup bench-alerts-lock

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
now=$(date +%s)
printf 'channel,time,value\nd0-water,%s,10\n' "$(date -u -d "@$((now - 7200))" +%Y-%m-%dT%H:%M:%SZ)" > "$work/h.csv"
ctl import "$work/h.csv" > /dev/null
sqlite3 "$work/foyer.db" "INSERT INTO events(ts, channel, kind, value, prev_value, logged)
  SELECT $((now - 7200)), id, 'meter_reset', 5, 1000, $now FROM channels"
cp "$work/foyer.db" "$work/base.db"

# The write lock, tried every 5 ms for $1 seconds without waiting.
probe() {
  py '
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)
busy = tries = 0; longest = 0.0; since = None
end = time.time() + float(sys.argv[2])
while time.time() < end:
    tries += 1
    try:
        c.execute("BEGIN IMMEDIATE"); c.execute("ROLLBACK")
        if since is not None:
            longest = max(longest, time.time() - since); since = None
    except sqlite3.OperationalError:
        busy += 1
        since = since or time.time()
    time.sleep(0.005)
print("held at %3.0f %% of %d tries, longest stretch %4.0f ms" % (100.0 * busy / max(tries, 1), tries, longest * 1000))
' "$work/foyer.db" "$1"
}
ms() { date +%s%3N; }

echo "$n counters with a meter reset each: $n alerts to open at foyerd's first pass"
: > "$work/foyerd.log"
"$FOYER_BIN/foyerd" --config "$work/foyer.conf" 2>> "$work/foyerd.log" &
pid=$!
wait_for 120 grep -q "alert 1 opened" "$work/foyerd.log" || fail "no alert opened"
printf '%-34s %s\n' "write lock during the pass:" "$(probe 2)"
t0=$(ms)
ctl token create --role energy-team --name during > /dev/null 2> "$work/t.err" || echo "token create failed: $(cat "$work/t.err")"
printf '%-34s %d ms\n' "token create during the pass:" $(($(ms) - t0))
wait_for 300 grep -q "alerts: .* opened" "$work/foyerd.log" || fail "the pass did not end"
printf '%-34s %s\n' "the pass:" "$(grep -o 'alerts: .* opened.*' "$work/foyerd.log" | tail -n 1)"
printf '%-34s %s\n' "write lock, foyerd idle (baseline):" "$(probe 2)"
t0=$(ms)
ctl token create --role energy-team --name idle > /dev/null 2>&1
printf '%-34s %d ms\n' "token create, idle (baseline):" $(($(ms) - t0))
kill -TERM "$pid"; wait "$pid"; pid=

# SIGTERM in the middle of a pass, beside SIGTERM when idle.
cp "$work/base.db" "$work/foyer.db"; rm -f "$work/foyer.db-wal" "$work/foyer.db-shm"
: > "$work/foyerd.log"
"$FOYER_BIN/foyerd" --config "$work/foyer.conf" 2>> "$work/foyerd.log" &
pid=$!
wait_for 120 grep -q "alert 1 opened" "$work/foyerd.log" || fail "no alert opened"
t0=$(ms); kill -TERM "$pid"; wait "$pid"; pid=
printf '%-34s %d ms (%s)\n' "SIGTERM to exit, during the pass:" $(($(ms) - t0)) \
  "$(grep -c 'alert [0-9]* opened' "$work/foyerd.log") of $n opened"
"$FOYER_BIN/foyerd" --config "$work/foyer.conf" 2>> "$work/foyerd.log" &
pid=$!
# (a pass that ended before the stop leaves nothing to open: then a minute)
wait_for 60 grep -q "alerts: .* opened, " "$work/foyerd.log" || true
t0=$(ms); kill -TERM "$pid"; wait "$pid"; pid=
printf '%-34s %d ms\n' "SIGTERM to exit, idle (baseline):" $(($(ms) - t0))
