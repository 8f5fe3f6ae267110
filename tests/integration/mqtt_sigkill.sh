#!/usr/bin/env bash
# Issue 9 item 4: SIGKILL loses nothing the broker counted as delivered.
# 6 000 numbered QoS 1 readings are published while foyerd is killed with
# SIGKILL 12 times at random moments and started again each time.
# libmosquitto acknowledges a QoS 1 message before foyerd has committed it,
# so only the reading queue's file (replayed at start) keeps those in
# flight.  Every one of the 6 000 must be stored, once.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mqtt_lib.sh"

mqtt_setup sk
{
  foyer_base_conf | sed '/^batch_deadline_ms/d' # the default deadline: the worst case
  cat <<CONF
[mqtt]
port = $port
client_id = foyerd-sk
session_expiry = 600
[sensor s0]
topic = tele/s0/SENSOR
preset = tasmota
dwelling = d1
timestamp_field = Time
CONF
} > "$work/foyer.conf"
start_foyerd

total=6000
"$FOYER_BIN/tests/foyer-mqtt-pub" -p "$port" -s tasmota -t 'tele/{}/SENSOR' -c "$total" -r 400 \
  -q 1 -i pub-sk > "$work/pub.out" &
pub_pid=$!
kills=0
while [ "$kills" -lt "${KILLS:-12}" ] && kill -0 "$pub_pid" 2>/dev/null; do
  sleep "0.$(( RANDOM % 9 + 1 ))"
  kill -KILL "$foyerd_pid"
  wait "$foyerd_pid" 2>/dev/null || true
  foyerd_pid=""
  kills=$((kills + 1))
  start_foyerd
done
wait "$pub_pid" || fail "publisher: $(cat "$work/pub.out")"
pub_pid=""
grep -q "published $total acked $total" "$work/pub.out" || fail "publisher: $(cat "$work/pub.out")"
[ "$kills" -ge "$(( ${KILLS:-12} / 2 ))" ] || fail "only $kills kills happened while publishing"
wait_for 30 readings_at_least s0.power "$total" ||
  fail "$(count_readings s0.power)/$total readings after $kills SIGKILLs; $(grep -c 'committing them now' "$work/foyerd.log" || true) replays: $(grep 'queue:' "$work/foyerd.log" | tail -3)"
stop_foyerd
[ "$(count_readings s0.power)" = "$total" ] || fail "$(count_readings s0.power) readings, expected $total"
[ "$(sql 'PRAGMA integrity_check')" = ok ] || fail "integrity_check: $(sql 'PRAGMA integrity_check')"
replays=$(grep -c 'committing them now' "$work/foyerd.log" || true)
echo "mqtt_sigkill: OK ($total of $total readings after $kills SIGKILLs; $replays starts replayed the queue file)"
