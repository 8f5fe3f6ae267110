#!/usr/bin/env bash
# foyerd restart while sensors publish at QoS 1: foyerd gets SIGTERM in the
# middle of 600 numbered readings and starts again a moment later; the
# broker kept its session (clean start off, session expiry, stable client
# id) and delivers what was published meanwhile: nothing is missing.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mqtt_lib.sh"

mqtt_setup fr
{
  foyer_base_conf
  cat <<CONF
[mqtt]
port = $port
client_id = foyerd-fr
session_expiry = 600
[sensor s0]
topic = tele/s0/SENSOR
preset = tasmota
dwelling = d1
timestamp_field = Time
CONF
} > "$work/foyer.conf"
start_foyerd

"$FOYER_BIN/tests/foyer-mqtt-pub" -p "$port" -s tasmota -t 'tele/{}/SENSOR' -c 600 -r 200 -q 1 \
  -i pub-fr > "$work/pub.out" &
pub_pid=$!
wait_for 10 readings_at_least s0.power 20 || fail "no readings before the restart"
stop_foyerd
n_mid=$(count_readings s0.power)
sleep 0.5 # published meanwhile: queued by the broker for foyerd's session
start_foyerd
grep -q "session resumed" "$work/foyerd.log" || fail "session not resumed: $(tail -5 "$work/foyerd.log")"
wait "$pub_pid" || fail "publisher: $(cat "$work/pub.out")"
pub_pid=""
grep -q "published 600 acked 600" "$work/pub.out" || fail "publisher: $(cat "$work/pub.out")"
wait_for 20 readings_at_least s0.power 600 ||
  fail "$(count_readings s0.power)/600 readings after the foyerd restart (had $n_mid at SIGTERM)"
wait_for 10 readings_at_least s0.energy 600 || fail "energy readings missing"
stop_foyerd
[ "$n_mid" -lt 600 ] || fail "the restart did not happen during the stream ($n_mid)"
echo "mqtt_foyerd_restart: OK (restarted after $n_mid readings)"
