#!/usr/bin/env bash
# The Foyer demo: build, then run foyerd on the demo building
# (config/demo.conf) with four months (--days) of generated history imported, and show
# what an operator sees, through foyerctl only (never raw SQL): status,
# exports, summaries and events.  The six households (tests/sim/households.h:
# average, heavy, frugal, a night leak, a cold flat, a damp flat) live the
# same way in the history and in the live simulators.  foyerd also serves
# the tenants' tablet page, the ambassador page, /healthz and /metrics on a
# free loopback port; the demo ends by printing their URLs with a pairing
# code for each page.
#
# Usage: scripts/demo.sh [--once] [--days N]
#   --once   check that the pages answer (/healthz 200, a tablet paired with
#            a code shows last week), stop foyerd and exit (for scripted use);
#            otherwise foyerd keeps serving until Ctrl-C.
#   --days N days of history to generate (default 120, at most 800).  With
#            400 or more the energy signature has a heating season behind
#            each period and the summaries give weather-corrected figures
#            (the import takes about three times longer).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
once=0
days=120
while [ $# -gt 0 ]; do
  case $1 in
    --once) once=1 ;;
    --days)
      days=${2:-}
      shift
      ;;
    *)
      echo "usage: scripts/demo.sh [--once] [--days N]" >&2
      exit 2
      ;;
  esac
  shift
done
case $days in
  '' | *[!0-9]*)
    echo "scripts/demo.sh: --days: \"$days\" is not a number of days" >&2
    exit 2
    ;;
esac
if [ "$days" -lt 8 ] || [ "$days" -gt 800 ]; then
  echo "scripts/demo.sh: --days: $days is not between 8 and 800" >&2
  exit 2
fi

bash scripts/deps.sh
echo "== build (build/demo)"
cmake -S . -B build/demo -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/demo -j2 >/dev/null
bin=$root/build/demo
conf=$root/config/demo.conf

run=$root/demo-run
rm -rf "$run"
mkdir -p "$run"

# ---- mqtt: a mosquitto broker on a free loopback port, and simulated sensors.
mqtt_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$run/mosquitto.conf" <<MQCONF
listener $mqtt_port 127.0.0.1
allow_anonymous true
persistence false
log_dest file $run/mosquitto.log
MQCONF
[ "$(id -u)" = 0 ] && echo "user root" >> "$run/mosquitto.conf"
printf '[mqtt]\nhost = 127.0.0.1\nport = %s\nclient_id = foyerd-demo\n' "$mqtt_port" \
  >> "$run/demo-ports.conf"
echo "== start mosquitto on 127.0.0.1:$mqtt_port (log: demo-run/mosquitto.log)"
mosquitto -c "$run/mosquitto.conf" 2>/dev/null &
mqtt_broker=$!
mqtt_pubs=()
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$mqtt_port") 2>/dev/null && break; sleep 0.1; done
mqtt_stop() {
  for p in "${mqtt_pubs[@]}" "$mqtt_broker"; do kill -TERM "$p" 2>/dev/null || true; done
  wait "${mqtt_pubs[@]}" "$mqtt_broker" 2>/dev/null || true
}
trap mqtt_stop EXIT
# ---- mqtt: end

# ---- modbus: a simulated TCP gateway (tests/sim/modbus_sim.c) on a free
# loopback port with one Eastron SDM120 per dwelling (units 1-6) and an SDM630
# for the common areas (unit 10); its [bus demo-gw] and [meter] sections are
# written into the include (config/demo.conf says why).  In the demo's story
# the SDM120s meter each dwelling's heating circuit and the SDM630 the lifts:
# submeters of the Linky and common-areas channels, shown but never added.
TZ=Europe/Paris "$bin/tests/foyer-modbus-sim" --tcp 0 --meters 1-6:sdm120,10:sdm630 --households \
  --port-file "$run/modbus-sim.port" > "$run/modbus-sim.log" 2>&1 &
modbus_sim=$!
modbus_stop() { kill -TERM "$modbus_sim" 2>/dev/null || true; wait "$modbus_sim" 2>/dev/null || true; }
trap 'mqtt_stop; modbus_stop' EXIT
for _ in $(seq 100); do [ -s "$run/modbus-sim.port" ] && break; sleep 0.1; done
echo "== start the simulated Modbus gateway on 127.0.0.1:$(cat "$run/modbus-sim.port") (7 meters)"
{
  printf '[bus demo-gw]\ntype = tcp\nhost = 127.0.0.1\nport = %s\n' "$(cat "$run/modbus-sim.port")"
  unit=1
  for d in a01 a02 a11 a12 b01 b11; do
    printf '[meter m-%s]\nprofile = sdm120\nbus = demo-gw\nunit_id = %d\ndwelling = %s\ninterval = 10\nsubmeter = yes\n' \
      "$d" "$unit" "$d"
    unit=$((unit + 1))
  done
  printf '[meter m-common]\nprofile = sdm630\nbus = demo-gw\nunit_id = 10\nbuilding = tilleuls\ninterval = 10\nsubmeter = yes\n'
} >> "$run/demo-ports.conf"
# ---- modbus: end

# ---- http: the pages and the API on a free loopback port (plain HTTP is
# accepted on loopback only); the pages' files come from the source tree.
http_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf '[http]\nlisten = 127.0.0.1\nport = %s\nweb_dir = %s/web\n' "$http_port" "$root" \
  >> "$run/demo-ports.conf"
base="http://127.0.0.1:$http_port"
# ---- http: end

echo "== check the demo config"
"$bin/foyerd" --check-config --config "$conf"

# ---- mqtt: simulated sensors, publishing every 10 s each (QoS 1).
TZ=Europe/Paris "$bin/tests/foyer-mqtt-pub" -p "$mqtt_port" -t 'zigbee2mqtt/{}' -n 6 -r 0.6 -B > /dev/null &
mqtt_pubs+=($!)
"$bin/tests/foyer-mqtt-pub" -p "$mqtt_port" -s tasmota -t 'tele/plug-a01/SENSOR' -r 0.1 > /dev/null &
mqtt_pubs+=($!)
# ---- mqtt: end

echo "== generate $days days of readings (every 15 min) and import them"
# --skip-live: the live meters' and the plug's channels get no history (their
# indexes are the simulators' own), so every generated row is imported.
# Imported before foyerd starts (foyerctl import creates the database): at
# start foyerd computes the last closed week's and month's summaries, which
# the tablet page shows; history imported later would wait for the hourly
# catch-up.
"$bin/tests/foyer-gen-history" --config "$conf" --days "$days" --step 900 --anomalies --skip-live \
  --params "$run/households.csv" --output "$run/history.csv"
"$bin/foyerctl" --config "$conf" import "$run/history.csv"
echo
echo "== the simulated households (demo-run/households.csv, tests/sim/households.h)"
column -t -s, "$run/households.csv"

echo
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
trap 'stop; mqtt_stop; modbus_stop' EXIT
# Wait for its HTTP server (at most 10 s).
for _ in $(seq 100); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$base/healthz")" = 200 ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$run/foyerd.log"; exit 1; }
  sleep 0.1
done


ctl() { "$bin/foyerctl" --config "$conf" "$@"; }
# Every live channel (meters m-*, sensors s0-s5, the plug) has a reading of
# the last minute, and every device's health is stored.
live_ready() {
  ctl status --json | /usr/bin/python3 -c '
import json, sys
live = [r for r in json.load(sys.stdin)
        if r["channel"].startswith(("m-", "demo-plug.")) or r["channel"][:1] == "s"]
sys.exit(0 if live and all(r["age_s"] is not None and r["age_s"] < 60 for r in live) else 1)' &&
    ! ctl status | grep -q "not reported on by a driver yet"
}
echo
echo "== let every live meter and sensor report (at most 30 s)"
for _ in $(seq 60); do
  live_ready && break
  sleep 0.5
done

echo
echo "== foyerctl status"
ctl status

echo
echo "== live meters over Modbus: the heating circuits' SDM120s and the lifts' SDM630"
echo "   (foyerctl status, rows m-*: submeters, below their dwelling's Linky index)"
ctl status | grep -E '^(CHANNEL|m-[a-z0-9]*\.(energy_import|power) )'
ctl status | grep -E '^(CHANNEL|[ab][0-9]*-linky )' | head -n 7

echo
echo "== monthly figures of dwelling a01 (foyerctl export --granularity month --dwelling a01)"
echo "   (the first and the current month are partial: the history starts and ends in them)"
ctl export --granularity month --dwelling a01 | grep -E '^(channel|a01-)' | column -t -s,

week=$(date -d '7 days ago' +%G-W%V)
month=$(date -d "$(date +%Y-%m-01) -1 day" +%Y-%m)
echo
echo "== what the tenants of a01 get for last week (foyerctl summary --dwelling a01 --period $week)"
ctl summary --dwelling a01 --period "$week"
echo
echo "== the same household's last month, in English (--period $month --lang en)"
ctl summary --dwelling a01 --period "$month" --lang en
echo
echo "== the damp flat b11, last week: its summary carries the damp-air tip (--lang en)"
ctl summary --dwelling b11 --period "$week" --lang en
echo
echo "== the cold flat b01, last week: the cold-home tip"
ctl summary --dwelling b01 --period "$week"
echo "(--format json prints what is pushed to the landlord's endpoint; schema: docs/summary.md)"

from=$(date -d '7 days ago' +%F)
today=$(date +%F)
echo
echo "== a01's last seven whole days: electricity and cold water"
echo "   (export --granularity day --dwelling a01 --from $from --to $today)"
ctl export --granularity day --dwelling a01 --from "$from" --to "$today" |
  grep -E '^(channel|a01-linky|a01-cold-water),' | column -t -s,

yesterday=$(date -d yesterday +%F)
echo
echo "== a12's leaking cistern: cold water every hour of last night, when a01 sleeps"
echo "   (export --granularity hour --from ${yesterday}T00:00 --to ${yesterday}T05:00)"
for d in a12 a01; do
  ctl export --granularity hour --dwelling $d --from "${yesterday}T00:00:00" --to "${yesterday}T05:00:00"
done | grep -E '^(channel|a12-cold-water|a01-cold-water),' | awk '!(/^channel/ && seen++)' | column -t -s,

echo
since=$(date -d "$days days ago" +%F)
echo "== events the counter logic and the drivers recorded (foyerctl events --since $since)"
echo "   (a01's cold-water meter: a reading of 0 after a gateway reboot, dropped; then"
echo "   the meter replaced, counting again from 0)"
ctl events --since "$since"

echo
echo "== alerts for the ambassador (foyerctl alerts): a12's leaking cistern; each is"
echo "   acknowledged on the ambassador page or with foyerctl alerts ack ID"
ctl alerts --lang en

echo
echo "== the pages: a tablet paired with a one-time code shows b01's last week"
# What a tablet does (POST /pair with the code, then /tablet with the
# cookie it got), with a code of its own: the codes printed below stay
# unused for the reader.
check=$(ctl token create --role tenant --dwelling b01 --pairing --name demo-check 2>/dev/null)
jar=$run/check-cookies.txt
curl -s -o /dev/null -c "$jar" -d "code=$check" "$base/pair"
tablet_week=$(curl -s -b "$jar" -H 'Accept-Language: fr' "$base/tablet" |
  sed -n 's/.*<section class="cards" data-period="\([^"]*\)".*/\1/p')
rm -f "$jar"
healthz=$(curl -s -o /dev/null -w '%{http_code}' "$base/healthz")
metrics=$(curl -s "$base/metrics" | grep -c '^foyer_' || true)
echo "   /healthz: HTTP $healthz; /metrics: $metrics samples; /tablet shows the week ${tablet_week:-(none)}"
if [ "$healthz" != 200 ] || [ -z "$tablet_week" ] || [ "$metrics" = 0 ]; then
  echo "demo: the pages do not answer as they should (no week on the tablet?); see $run/foyerd.log" >&2
  exit 1
fi

echo
echo "Database: $run/foyer.db    Config: $conf    Log: $run/foyerd.log"
echo "Try: $bin/foyerctl --config $conf export --granularity hour --dwelling a01 --from $from"
if [ "$once" = 1 ]; then
  exit 0
fi

# The reader's codes: each is valid 15 minutes, for one pairing (make
# another with the same command).
tcode=$(ctl token create --role tenant --dwelling b01 --pairing --name demo-tablet-b01 2>/dev/null)
acode=$(ctl token create --role ambassador --buildings tilleuls --pairing --name demo-ambassador 2>/dev/null)
cat <<URLS

== foyerd serves the pages on $base (until Ctrl-C)
  Tenant tablet of b01, the cold flat (Bât B, RDC):
      open $base/pair and type the code $tcode
      (the tablet then keeps its token and shows $base/tablet)
  Ambassador of the Résidence des Tilleuls (on a phone too):
      open $base/pair and type the code $acode
      (then $base/ambassador; the reports filed on the tablet appear there)
  Each code works once, within 15 minutes; another one:
      $bin/foyerctl --config $conf token create --role tenant --dwelling b01 --pairing
  Health:  $base/healthz
  Metrics: $base/metrics   (Prometheus text; loopback needs no token)
  One browser for both: open $base/pair again and type the other code (the
  new session replaces the old one).
URLS
echo "foyerd is running (pid $pid). Press Ctrl-C to stop it."
wait "$pid"
