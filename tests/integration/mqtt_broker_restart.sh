#!/usr/bin/env bash
# Broker restart while sensors publish at QoS 1: the broker (persistence on,
# so it keeps foyerd's session and the messages queued for it) is stopped
# and started again on the same port while the publisher sends 600
# numbered readings; foyerd reconnects by itself and, once the publisher has
# had every message acknowledged, all 600 readings are in the database.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mqtt_lib.sh"

work=$(mktemp -d /tmp/foyer-mqtt-brk-XXXXXX)
trap mqtt_cleanup EXIT
port=$(free_port)
broker_conf "$port" <<CONF
persistence true
persistence_location $work/
CONF
start_broker "$port"
{
  foyer_base_conf
  cat <<CONF
[mqtt]
port = $port
client_id = foyerd-brk
[sensor z2m]
topic = zigbee2mqtt/+
preset = zigbee2mqtt
building = b1
timestamp_field = time
device.s0 = d1
device.s1 = a01
device.s2 = -
CONF
} > "$work/foyer.conf"
start_foyerd

"$FOYER_BIN/tests/foyer-mqtt-pub" -p "$port" -n 3 -c 600 -r 200 -q 1 -i pub-brk > "$work/pub.out" &
pub_pid=$!
wait_for 10 readings_at_least s0.temperature 20 || fail "no readings before the restart"
stop_broker
sleep 0.5 # an outage: the publisher queues, foyerd retries
start_broker "$port"
wait "$pub_pid" || fail "publisher: $(cat "$work/pub.out")"
pub_pid=""
grep -q "published 600 acked 600" "$work/pub.out" || fail "publisher: $(cat "$work/pub.out")"
for d in s0 s1 s2; do
  wait_for 20 readings_at_least "$d.temperature" 200 ||
    fail "$d: $(count_readings "$d.temperature")/200 readings after the broker restart: $(tail -5 "$work/foyerd.log")"
done
grep -q "mqtt: disconnected from" "$work/foyerd.log" || fail "no disconnect seen"
[ "$(grep -c "mqtt: subscribed" "$work/foyerd.log")" -ge 2 ] || fail "no resubscription"
stop_foyerd
echo "mqtt_broker_restart: OK"
