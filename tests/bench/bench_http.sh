#!/usr/bin/env bash
# HTTP server benchmark: wrk (2 threads, 8 connections: the per-address
# limit) against foyerd's server on loopback, while a broker feeds it
# readings.  Figures: requests/s and p99 latency of
#   - a static file (the baseline: libmicrohttpd, routing, no store, no token),
#   - /healthz (the daemon's snapshot, no token),
#   - /metrics with an energy-team token (SHA-256, the token's row on the
#     thread's read-only handle, the snapshot, the exposition text),
#   - a bad token (the same lookup, then 401).
# Prints figures, never fails on time.  Usage: bench_http.sh BUILD_DIR [SECONDS]
set -euo pipefail
bin=$(cd "${1:?build dir}" && pwd)
secs=${2:-5}
src=$(cd "$(dirname "$0")/../.." && pwd)
export FOYER_SRC=$src FOYER_BIN=$bin
. "$src/tests/integration/lib.sh"
. "$src/tests/integration/mqtt_lib.sh"

mqtt_setup bench-http
hport=$(free_port)
mkdir -p "$work/web"
head -c 2048 /dev/zero | tr '\0' x > "$work/web/page.css"
{
  foyer_base_conf
  cat <<CONF
[mqtt]
port = $port
client_id = foyerd-bench-http
[sensor s0]
topic = tele/s0/SENSOR
preset = tasmota
dwelling = d1
[http]
port = $hport
web_dir = $work/web
CONF
} > "$work/foyer.conf"
start_foyerd
base="http://127.0.0.1:$hport"
wait_for 10 eval '[ "$(curl -s -o /dev/null -w "%{http_code}" "$base/healthz")" = 200 ]' || fail "http not up"
E=$("$bin/foyerctl" --config "$work/foyer.conf" token create --role energy-team 2> /dev/null)

# Readings meanwhile: one message every 10 ms.
(
  i=0
  while :; do
    i=$((i + 1))
    mosquitto_pub -h 127.0.0.1 -p "$port" -t tele/s0/SENSOR -m "{\"ENERGY\":{\"Total\":$i.5}}" 2> /dev/null || exit 0
    sleep 0.01
  done
) &
pub_pid=$!

run() { # label wrk-args...
  local label=$1 out
  shift
  out=$(wrk -t2 -c8 -d"${secs}s" --latency "$@")
  printf '%-34s %10s req/s   p99 %8s   (%s)\n' "$label" \
    "$(echo "$out" | awk '/^Requests\/sec/ {print $2}')" \
    "$(echo "$out" | awk '$1 == "99%" {print $2}')" \
    "$(echo "$out" | grep -Eo 'Non-2xx or 3xx responses: [0-9]+' || echo 'all 2xx')"
}
run "static file (baseline)" "$base/page.css"
run "/healthz" "$base/healthz"
run "/metrics, energy-team token" -H "Authorization: Bearer $E" "$base/metrics"
run "/metrics, unknown token (401)" -H "Authorization: Bearer ${E%?????}xxxxx" "$base/metrics"
ps -o rss=,time= -p "$foyerd_pid" | awk '{printf "foyerd after the runs: RSS %d KiB, CPU time %s\n", $1, $2}'
kill "$pub_pid" 2> /dev/null || true
wait "$pub_pid" 2> /dev/null || true
pub_pid=""
stop_foyerd
