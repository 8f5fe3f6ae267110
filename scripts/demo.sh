#!/usr/bin/env bash
# The Foyer demo: build, then run foyerd on the demo building
# (config/demo.conf) with four months of generated history imported, and show
# what an operator sees: `foyerctl status` and a daily export.
#
# Usage: scripts/demo.sh [--once]
#   --once   stop foyerd and exit after showing (for scripted use);
#            otherwise foyerd keeps running until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
once=0
[ "${1:-}" = "--once" ] && once=1

bash scripts/deps.sh
echo "== build (build/demo)"
cmake -S . -B build/demo -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/demo -j2 >/dev/null
bin=$root/build/demo
conf=$root/config/demo.conf

run=$root/demo-run
rm -rf "$run"
mkdir -p "$run"

echo "== check the demo config"
"$bin/foyerd" --check-config --config "$conf"

echo "== start foyerd (log: demo-run/foyerd.log)"
"$bin/foyerd" --config "$conf" 2>"$run/foyerd.log" &
pid=$!
stop() {
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    wait "$pid" || true
    echo "== foyerd stopped; its last lines:"
    tail -n 3 "$run/foyerd.log"
  fi
}
trap stop EXIT
# foyerd creates the database when it starts: wait for it (at most 10 s).
for _ in $(seq 100); do
  [ -f "$run/foyer.db" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$run/foyerd.log"; exit 1; }
  sleep 0.1
done

echo "== generate 120 days of readings (every 15 min) and import them"
"$bin/tests/foyer-gen-history" --config "$conf" --days 120 --step 900 --anomalies \
  --output "$run/history.csv"
"$bin/foyerctl" --config "$conf" import "$run/history.csv"

echo
echo "== foyerctl status"
"$bin/foyerctl" --config "$conf" status

echo
echo "== monthly consumption of dwelling a01 (foyerctl export --granularity month --dwelling a01)"
"$bin/foyerctl" --config "$conf" export --granularity month --dwelling a01

from=$(date -d '7 days ago' +%F)
echo
echo "== last week, day by day, building totals and a01 (export --granularity day --from $from)"
"$bin/foyerctl" --config "$conf" export --granularity day --from "$from" --dwelling a01 \
  | grep -E 'channel|linky|cold-water' | column -t -s,

echo
echo "== events the counter logic recorded (sqlite3 demo-run/foyer.db)"
sqlite3 -header -column "$run/foyer.db" \
  "SELECT datetime(e.ts, 'unixepoch', 'localtime') AS local_time, c.name AS channel, e.kind,
          e.value, e.prev_value FROM events e JOIN channels c ON c.id = e.channel ORDER BY e.ts"

echo
echo "Database: $run/foyer.db    Config: $conf    Log: $run/foyerd.log"
echo "Try: $bin/foyerctl --config $conf export --granularity hour --dwelling a01 --from $from"
if [ "$once" = 1 ]; then
  exit 0
fi
echo "foyerd is running (pid $pid). Press Ctrl-C to stop it."
wait "$pid"
