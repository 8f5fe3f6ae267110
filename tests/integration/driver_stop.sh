#!/usr/bin/env bash
# Stop and reload whatever the peers do: the MQTT broker, the Modbus TCP
# gateway, the push endpoint and the fleet uplink's central broker are
# listeners that never answer, first with
# a full accept queue (every connect stays pending), then accepting and
# never writing a byte (a request waits for its answer).  With every driver
# and the pusher waiting on them, SIGHUP must reload ("configuration
# reloaded") and SIGTERM must end foyerd with exit 0, each within
# STOP_BOUND_S: the timeouts of the peers are far longer (Modbus 30 s, push
# 60 s, TCP connect about two minutes), so only an interruptible wait passes.
# The times are printed; the bound is a correctness line, not a figure.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

STOP_BOUND_S=5
work=$(mktemp -d /tmp/foyer-drvstop-XXXXXX)
bh_pid=""
pid=""
cleanup() {
  set +e # every step runs, whatever the one before returned
  [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
  [ -n "$bh_pid" ] && kill -KILL "$bh_pid" 2>/dev/null
  wait 2>/dev/null
  if [ "${KEEP_WORK:-0}" = 1 ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
export FOYER_LANG_DIR="$FOYER_SRC/config"
mkdir -p "$work/profiles"
cp "$FOYER_SRC"/config/profiles/*.conf "$work/profiles/"

# Hourly history of the last 50 days, so that foyerd computes summaries at
# start and has something to push.
/usr/bin/python3 - "$work/history.csv" <<'PY'
import sys, time
now = int(time.time()) // 3600 * 3600
with open(sys.argv[1], "w") as f:
    f.write("channel,time,value\n")
    for i, ts in enumerate(range(now - 50 * 86400, now, 3600)):
        t = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
        f.write(f"a-elec,{t},{1000 + 0.5 * i:.1f}\n")
PY

write_conf() { # mqtt-port modbus-port push-port uplink-port
  cat > "$work/foyer.conf" <<CONF
[foyer]
database = $work/foyer.db
timezone = Europe/Paris
profiles_dir = $work/profiles
batch_deadline_ms = 100
log_level = info
raw_retention_days = 90
raw_retention_days_no_consent = 90
[building b1]
[dwelling a]
building = b1
surface_m2 = 40
heating = electric
consent = true
[channel a-elec]
dwelling = a
quantity = electricity
[dwelling z]
building = b1
surface_m2 = 40
heating = electric
[mqtt]
host = 127.0.0.1
port = $1
client_id = foyerd-drvstop
[sensor t1]
topic = test/t1
preset = tasmota
dwelling = z
[bus gw1]
type = tcp
host = 127.0.0.1
port = $2
timeout_ms = 30000
[meter m1]
profile = sdm120
bus = gw1
unit_id = 1
dwelling = z
interval = 2
[push receiver]
url = http://127.0.0.1:$3/summaries
insecure = yes
timeout = 60
[uplink]
host = 127.0.0.1
port = $4
gateway_id = drvstop
CONF
}

# foyerd's sockets to PORT in STATE (ss state name), counted.
conns() { # state port
  ss -tnpH state "$1" "( dport = :$2 )" 2>/dev/null | grep -c "pid=$pid," || true
}
# Each of the three peers has a connection of foyerd waiting on it.
all_waiting() { # state ports...
  local st=$1 p
  shift
  for p in "$@"; do
    [ "$(conns "$st" "$p")" -ge 1 ] || return 1
  done
}

now_ms() { date +%s%3N; }

# SIGHUP, then SIGTERM, with foyerd's three connections waiting in STATE.
signal_round() { # mode state ports...
  local mode=$1 st=$2 t0 t1 ms rc=0 n
  shift 2
  wait_for 30 all_waiting "$st" "$@" ||
    fail "$mode: foyerd is not waiting on every peer ($*): $(ss -tnpH | grep "pid=$pid," ; tail -n 20 "$work/foyerd.log")"
  n=$(grep -c "configuration reloaded" "$work/foyerd.log" || true)
  t0=$(now_ms)
  kill -HUP "$pid"
  wait_for $((STOP_BOUND_S + 5)) eval '[ "$(grep -c "configuration reloaded" "$work/foyerd.log")" -gt "$n" ]' ||
    fail "$mode: no reload after $(( ($(now_ms) - t0) / 1000 )) s: $(tail -n 20 "$work/foyerd.log")"
  t1=$(now_ms)
  ms=$((t1 - t0))
  echo "$mode: SIGHUP to \"configuration reloaded\": $ms ms"
  [ "$ms" -le $((STOP_BOUND_S * 1000)) ] || fail "$mode: reload took $ms ms (bound ${STOP_BOUND_S} s)"

  # After the reload, every driver waits on its peer again.
  wait_for 30 all_waiting "$st" "$@" ||
    fail "$mode: not waiting on every peer after the reload: $(tail -n 20 "$work/foyerd.log")"
  t0=$(now_ms)
  kill -TERM "$pid"
  # Bounded wait: a watchdog kills a foyerd still running past the bound, so
  # a hung one fails the test instead of hanging it (and no polling of ps:
  # a process whose threads are still exiting is neither running nor gone).
  (sleep $((STOP_BOUND_S + 5)) && kill -KILL "$pid" 2>/dev/null) > /dev/null 2>&1 &
  local watchdog=$!
  wait "$pid" || rc=$?
  kill "$watchdog" 2>/dev/null || true
  wait "$watchdog" 2>/dev/null || true
  [ "$rc" != 137 ] ||
    fail "$mode: foyerd still running $(( ($(now_ms) - t0) / 1000 )) s after SIGTERM: $(tail -n 20 "$work/foyerd.log")"
  t1=$(now_ms)
  pid=""
  ms=$((t1 - t0))
  echo "$mode: SIGTERM to exit: $ms ms (exit $rc)"
  [ "$rc" = 0 ] || fail "$mode: foyerd exited $rc: $(tail -n 20 "$work/foyerd.log")"
  [ "$ms" -le $((STOP_BOUND_S * 1000)) ] || fail "$mode: stop took $ms ms (bound ${STOP_BOUND_S} s)"
}

run_mode() { # full|silent
  local mode=$1 ports
  rm -f "$work/ports" "$work/foyer.db"* "$work/bh.log"
  # Its output goes to files: a listener left behind must never hold the
  # test's output open (ctest would wait for it).
  /usr/bin/python3 "$FOYER_SRC/tests/integration/blackhole.py" --mode "$mode" --count 4 \
    --ports-file "$work/ports" --log "$work/bh.log" > "$work/bh.out" 2>&1 &
  bh_pid=$!
  wait_for 10 test -s "$work/ports" || fail "blackhole did not start"
  mapfile -t ports < "$work/ports"
  write_conf "${ports[0]}" "${ports[1]}" "${ports[2]}" "${ports[3]}"
  "$FOYER_BIN/foyerctl" --config "$work/foyer.conf" import "$work/history.csv" > /dev/null
  "$FOYER_BIN/foyerd" --config "$work/foyer.conf" > /dev/null 2> "$work/foyerd.log" &
  pid=$!
  if [ "$mode" = full ]; then
    signal_round "$mode" syn-sent "${ports[@]}"
  else
    signal_round "$mode" established "${ports[@]}"
  fi
  kill -KILL "$bh_pid" 2>/dev/null
  wait "$bh_pid" 2>/dev/null || true
  bh_pid=""
}

run_mode full
run_mode silent
echo "driver_stop: reload and stop within ${STOP_BOUND_S} s against peers that never answer: ok"
