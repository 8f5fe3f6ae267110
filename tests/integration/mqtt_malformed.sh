#!/usr/bin/env bash
# A fuzzed stream through a real broker: 400 valid zigbee2mqtt messages with
# 80 malformed payloads interleaved (random bytes, truncated JSON, nesting
# 200 deep, 1e999 and 30-digit numbers, NaN, strings, 20 KiB, timestamps 10
# days ahead and in 1970, out of range, no mapped field).  Every valid
# reading is stored, every bad payload is counted (devices.bad_values) and
# logged at a limited rate with its topic, and foyerd keeps running.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mqtt_lib.sh"

mqtt_setup fuzz
{
  foyer_base_conf
  cat <<CONF
[mqtt]
port = $port
client_id = foyerd-fuzz
[sensor s0]
topic = zigbee2mqtt/s0
preset = zigbee2mqtt
dwelling = d1
timestamp_field = time
CONF
} > "$work/foyer.conf"
start_foyerd

out=$("$FOYER_BIN/tests/foyer-mqtt-pub" -p "$port" -c 400 -f 80 -r 0 -q 1 -S 7) ||
  fail "publisher: $out"
[ "$out" = "published 480 acked 480 bad 80" ] || fail "publisher: $out"

wait_for 20 readings_at_least s0.temperature 400 || fail "valid readings missing: $(count_readings s0.temperature)/400"
wait_for 10 readings_at_least s0.humidity 400 || fail "humidity readings missing"
kill -0 "$foyerd_pid" || fail "foyerd died"
stop_foyerd
[ "$(count_readings s0.temperature)" = 400 ] || fail "more temperature readings than valid messages"
bad=$(sql "SELECT bad_values || ' ' || polls FROM devices WHERE name = 's0'")
[ "$bad" = "80 480" ] || fail "devices s0: bad_values polls = '$bad', expected '80 480'"
grep -q "sensor s0: topic zigbee2mqtt/s0: " "$work/foyerd.log" || fail "refusals not logged"
lines=$(grep -c "sensor s0: topic" "$work/foyerd.log")
[ "$lines" -le 10 ] || fail "refusals logged $lines times: not rate-limited"
echo "mqtt_malformed: OK"
