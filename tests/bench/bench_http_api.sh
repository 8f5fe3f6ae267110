#!/usr/bin/env bash
# HTTP API benchmark (issue 13): wrk against foyerd's two busiest routes on
# a building of 300 dwellings x 2 years of hourly data, while foyerd
# ingests:
#   - GET /api/v1/me/summary?period=WEEK with tenant tokens (one per
#     dwelling, rotated by a wrk script: every tablet of the building),
#   - GET /api/v1/buildings/b0/status with an ambassador token (300 meters,
#     their health, the building's totals today and this week),
# each beside baselines measured in the same run, on the same server: a
# static file (libmicrohttpd and routing only) and /healthz (no token).
# The database is built by bench_api (tests/bench/bench_api.c: hourly
# readings through store_ingest(), device health, the last full week's
# summaries stored), progress printed, and kept in BUILD_DIR/bench-http-api
# for the next run (FOYER_BENCH_DIR to put it elsewhere).
# Ingest meanwhile: foyer-mqtt-pub publishes for one sensor per dwelling
# (temperature and humidity) at one message per dwelling and second
# through a real mosquitto (600 readings/s for 300 dwellings); the readings stored during the run are
# counted.  The config's Modbus buses point at a closed loopback port: the
# meters are polled, refused, and shown offline, as a gateway down would be.
# wrk: 2 threads, 8 connections (foyerd's per-address limit).
# Prints figures, never fails on time.
# Usage: bench_http_api.sh BUILD_DIR [SECONDS] [DWELLINGS] [DAYS]
set -euo pipefail
bin=$(cd "${1:?build dir}" && pwd)
secs=${2:-10}
n=${3:-300}
days=${4:-730}
src=$(cd "$(dirname "$0")/../.." && pwd)
export FOYER_SRC=$src FOYER_BIN=$bin FOYER_LANG_DIR=$src/config
. "$src/tests/integration/lib.sh"
. "$src/tests/integration/mqtt_lib.sh"

data=${FOYER_BENCH_DIR:-$bin/bench-http-api}-$n-$days
if [ ! -s "$data/period" ]; then
  rm -rf "$data"
  mkdir -p "$data"
  echo "building the database: $n dwellings x $days days of hourly data (bench_api, once; kept in $data)"
  FOYER_BENCH_DIR=$data "$bin/tests/bench_api" "$n" "$days" 100 | tee "$data/build.log" |
    grep --line-buffered -E '^(filling|  *[0-9]+ %|filled|summaries of)'
  # bench_api exits with its work in the WAL: fold it into the file copied below.
  sqlite3 "$data/foyer.db" 'PRAGMA wal_checkpoint(TRUNCATE);' > /dev/null
  sed -n 's/^summaries of \([0-9W-]*\):.*/\1/p' "$data/build.log" > "$data/period"
  [ -s "$data/period" ] || fail "bench_api stored no summaries: $(tail -n 5 "$data/build.log")"
else
  echo "reusing the database in $data ($(du -sh "$data/foyer.db" | cut -f1))"
fi
period=$(cat "$data/period")

mqtt_setup bench-http-api
hport=$(free_port)
closed=$(free_port)
mkdir -p "$work/web"
cp "$src/web/foyer.css" "$work/web/"
# A copy per run: the tokens and readings of a run do not pile up in the kept one.
cp "$data/foyer.db" "$work/foyer.db"
{
  sed "s/^port = .*/port = $closed/; s|^database = .*|database = $work/foyer.db|" "$data/foyer.conf"
  printf '[mqtt]\nport = %s\nclient_id = foyerd-bench-http-api\n' "$port"
  for ((i = 0; i < n; i++)); do
    printf '[sensor s%d]\ntopic = bench/s%d\ndwelling = d%d\ntimestamp_field = time\n' "$i" "$i" "$i"
    printf 'channel.temperature = temperature, temperature\nchannel.humidity = humidity, humidity\n'
  done
  printf '[http]\nlisten = 127.0.0.1\nport = %s\nweb_dir = %s/web\n' "$hport" "$work"
} > "$work/foyer.conf"
# The sections above come after bench_api's [bus] ones: only their port lines are rewritten.
grep -q "^port = $closed" "$work/foyer.conf" || fail "no bus port rewritten"
: > "$work/foyerd.log"
start_foyerd
base="http://127.0.0.1:$hport"
wait_for 20 eval '[ "$(curl -s -o /dev/null -w "%{http_code}" "$base/healthz")" = 200 ]' ||
  fail "http not up: $(tail -n 5 "$work/foyerd.log")"
ctl() { "$bin/foyerctl" --config "$work/foyer.conf" "$@"; }

# One tenant token per dwelling (the wrk script rotates them), one ambassador.
echo "tokens = {" > "$work/tokens.lua"
# foyerd's first catch-up (the last closed week's and month's summaries of
# every dwelling) holds the write lock a while: foyerctl says "database is
# locked" then, and is asked again.
token() { # file foyerctl-token-create-args...
  local out=$1
  shift
  ctl token create "$@" > "$out" 2> "$work/token.err" && return 0
  grep -q 'database is locked' "$work/token.err" || fail "token create $*: $(cat "$work/token.err")"
  locked=$((locked + 1))
  return 1
}
locked=0
for ((i = 0; i < n; i++)); do
  wait_for 60 token "$work/t" --role tenant --dwelling "d$i" --name "bench-d$i" ||
    fail "token for d$i: $(cat "$work/token.err")"
  echo "\"$(cat "$work/t")\"," >> "$work/tokens.lua"
done
cat >> "$work/tokens.lua" <<LUA
}
local i = 0
request = function()
  i = i % #tokens + 1
  return wrk.format("GET", "/api/v1/me/summary?period=$period", {["Authorization"] = "Bearer " .. tokens[i]})
end
LUA
wait_for 60 token "$work/a" --role ambassador --buildings b0 --name bench-amb || fail "ambassador token"
A=$(cat "$work/a")
[ "$locked" = 0 ] || echo "  (foyerctl token create found the database locked $locked times, asked again)"
# Each route answers 200 before it is measured.
T0=$(sed -n '2s/^"\(.*\)",$/\1/p' "$work/tokens.lua")
for u in "$base/api/v1/me/summary?period=$period" "$base/api/v1/buildings/b0/status"; do
  h=$T0
  [[ $u == */status ]] && h=$A
  got=$(curl -s -o "$work/probe.json" -w '%{http_code}' -H "Authorization: Bearer $h" "$u")
  [ "$got" = 200 ] || fail "$u: HTTP $got $(head -c 300 "$work/probe.json")"
  echo "  $u: 200, $(wc -c < "$work/probe.json") bytes"
done

printf '\n%d dwellings x %d days, week %s; wrk -t2 -c8 -d%ss each; foyerd ingesting from the next line on\n' "$n" "$days" "$period" "$secs"
printf '%-44s %10s   %9s   %s\n' "route" "req/s" "p99" "answers"
run() { # label wrk-args...
  local label=$1 out
  shift
  out=$(wrk -t2 -c8 -d"${secs}s" --latency "$@")
  printf '%-44s %10s   %9s   %s\n' "$label" \
    "$(echo "$out" | awk '/^Requests\/sec/ {print $2}')" \
    "$(echo "$out" | awk '$1 == "99%" {print $2}')" \
    "$(echo "$out" | grep -Eo 'Non-2xx or 3xx responses: [0-9]+' || echo 'all 2xx')"
}
# The one figure without ingest: what the writer's commits cost the others.
run "/healthz, no ingest yet" "$base/healthz"
# Ingest meanwhile: 300 messages/s, two readings each.
"$bin/tests/foyer-mqtt-pub" -p "$port" -t 'bench/{}' -n "$n" -s small -r "$n" > /dev/null 2>&1 &
pub_pid=$!
trap 'kill "$pub_pid" 2>/dev/null || true; mqtt_cleanup' EXIT
count() { sqlite3 -cmd ".timeout 5000" "$work/foyer.db" \
  "SELECT count(*) FROM readings r JOIN channels c ON c.id = r.channel WHERE c.name LIKE 's%'" 2> /dev/null || echo 0; }
before=$(count)
t_start=$SECONDS

run "static file /foyer.css (baseline)" "$base/foyer.css"
run "/healthz (baseline)" "$base/healthz"
run "/api/v1/me/summary, $n tenant tokens" -s "$work/tokens.lua" "$base"
run "/api/v1/buildings/b0/status, ambassador" -H "Authorization: Bearer $A" "$base/api/v1/buildings/b0/status"
after=$(count)
el=$((SECONDS - t_start))
echo "ingest meanwhile: $((after - before)) sensor readings stored in ${el} s ($(((after - before) / (el > 0 ? el : 1))) readings/s; $((2 * n))/s published)"
ps -o rss=,time= -p "$foyerd_pid" | awk '{printf "foyerd after the runs: RSS %d KiB, CPU time %s\n", $1, $2}'
echo "target (issue 13): p99 under 5 ms and at least 5 000 requests/s per API route"
kill "$pub_pid" 2> /dev/null || true
wait "$pub_pid" 2> /dev/null || true
pub_pid=""
stop_foyerd
stop_broker
