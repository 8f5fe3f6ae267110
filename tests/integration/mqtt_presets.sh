#!/usr/bin/env bash
# MQTT mapping end to end through a real mosquitto broker: the zigbee2mqtt,
# tasmota and shelly-gen2 presets on real-shaped payloads, a field path with
# ':' (Shelly NotifyStatus), unit conversion (Wh -> kWh, m3 -> L), payload
# timestamps (ISO 8601 with and without offset, epoch s and ms), a wildcard
# sensor with listed devices (and an unlisted one counted and dropped), and
# staleness (stale event after interval x stale_after, fresh on the next
# message).  Values are checked in the SQLite database.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mqtt_lib.sh"

mqtt_setup presets

{
  foyer_base_conf
  cat <<CONF
[mqtt]
host = 127.0.0.1
port = $port
client_id = foyerd-presets
[sensor salon]
topic = zigbee2mqtt/salon
preset = zigbee2mqtt
dwelling = d1
timestamp_field = last_seen
[sensor plug]
topic = tele/plug/SENSOR
preset = tasmota
dwelling = d1
timestamp_field = Time
[sensor pm]
topic = shellies/pm/status/switch:0
preset = shelly-gen2
dwelling = d1
timestamp_field = aenergy.minute_ts
[sensor rpc]
topic = shellies/pm2/events/rpc
dwelling = d1
channel.energy = params.switch:0.aenergy.total, electricity, 0.001
timestamp_field = params.ts
[sensor water]
topic = meters/water
dwelling = d1
channel.cold = -, cold_water, 1000
[sensor z2m]
topic = zigbee2mqtt/+
preset = zigbee2mqtt
building = b1
timestamp_field = time
device.a01-th = a01
device.hall = -
[sensor quiet]
topic = test/quiet
dwelling = d1
channel.t = -, temperature
interval = 1
stale_after = 1
CONF
} > "$work/foyer.conf"
"$FOYER_BIN/foyerd" --check-config -v --config "$work/foyer.conf" > "$work/check.out" ||
  fail "config refused: $(cat "$work/check.out")"
grep -q '^device.a01-th = a01$' "$work/check.out" || fail "dump lacks device.a01-th"
grep -q '^device.hall = b1$' "$work/check.out" || fail "dump lacks device.hall = b1"
start_foyerd

pub() { mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -t "$1" -m "$2"; }
pub zigbee2mqtt/salon '{"battery":97,"humidity":48.2,"linkquality":134,"temperature":20.5,"voltage":2995,"co2":612,"last_seen":"2025-01-15T10:00:00+01:00"}'
pub tele/plug/SENSOR '{"Time":"2025-01-15T10:00:00","ENERGY":{"TotalStartTime":"2023-01-01T00:00:00","Total":1234.567,"Yesterday":3.2,"Today":1.1,"Period":5,"Power":230,"ApparentPower":240,"ReactivePower":20,"Factor":0.96,"Voltage":231,"Current":1.04}}'
pub shellies/pm/status/switch:0 '{"id":0,"source":"timer","output":true,"apower":120.5,"voltage":231.2,"current":0.6,"aenergy":{"total":15234.5,"by_minute":[1.2,1.1,1.3],"minute_ts":1736931600},"temperature":{"tC":40.1,"tF":104.2}}'
pub shellies/pm2/events/rpc '{"src":"shellyplus1pm-a8032ab12345","dst":"user_1","method":"NotifyStatus","params":{"ts":1736931600123,"switch:0":{"id":0,"aenergy":{"total":2000.0,"by_minute":[0,0,0],"minute_ts":1736931540}}}}'
pub meters/water '1.25'
pub zigbee2mqtt/a01-th '{"temperature":19.25,"humidity":61,"time":1736931600}'
pub zigbee2mqtt/hall '{"temperature":16.5,"time":"2025-01-15T09:00:00Z"}'
pub zigbee2mqtt/bridge '{"state":"online"}'   # matched by z2m/+ but not listed
pub zigbee2mqtt/unlisted '{"temperature":18}' # same

t=1736931600 # 2025-01-15T09:00:00Z
expect() { # channel ts value
  local got
  wait_for 10 readings_at_least "$1" 1 || fail "no reading for $1: $(tail -5 "$work/foyerd.log")"
  got=$(sql "SELECT r.ts || ' ' || r.value FROM readings r JOIN channels c ON c.id = r.channel WHERE c.name = '$1'")
  awk -v g="$got" -v ts="$2" -v v="$3" 'BEGIN { split(g, a, " ");
    d = a[2] - v; if (d < 0) d = -d; exit !(a[1] == ts && d < 1e-9 * (1 + (v < 0 ? -v : v))) }' ||
    fail "$1: got '$got', expected '$2 $3'"
}
expect salon.temperature $t 20.5
expect salon.humidity $t 48.2
expect salon.co2 $t 612
expect plug.energy $t 1234.567     # Tasmota's local Time, Europe/Paris in January: +01:00
expect plug.power $t 230
expect pm.energy $t 15.2345        # Wh -> kWh
expect pm.power $t 120.5
expect rpc.energy $t 2             # epoch ms, params.switch:0.aenergy.total
expect a01-th.temperature $t 19.25
expect a01-th.humidity $t 61
expect hall.temperature $t 16.5
n=$(count_readings water.cold)
wait_for 10 readings_at_least water.cold 1 || fail "no bare-number reading"
v=$(sql "SELECT r.value FROM readings r JOIN channels c ON c.id = r.channel WHERE c.name = 'water.cold'")
[ "$v" = 1250.0 ] || fail "water.cold: m3 -> L gave $v"

# Wildcard devices are at their own places.
[ "$(sql "SELECT dwelling FROM channels WHERE name = 'a01-th.temperature'")" = a01 ] || fail "a01-th place"
[ "$(sql "SELECT coalesce(dwelling, '') || '/' || building FROM channels WHERE name = 'hall.temperature'")" = /b1 ] ||
  fail "hall place"
# Unlisted devices: logged with the topic, counted on the section.
wait_for 5 grep -q "sensor z2m: topic zigbee2mqtt/bridge: device not listed" "$work/foyerd.log" ||
  fail "unlisted device not logged"

# Staleness: quiet expects a message every second; silent for 1 s it is stale,
# a message brings it back.
wait_for 10 grep -q "quiet: stale" "$work/foyerd.log" || fail "quiet never went stale"
pub test/quiet '21'
wait_for 10 grep -q "quiet: fresh" "$work/foyerd.log" || fail "quiet not fresh again"

stop_foyerd
bad=$(sql "SELECT bad_values FROM devices WHERE name = 'z2m'")
[ "$bad" = 2 ] || fail "z2m section bad_values = $bad, expected 2 (two unlisted devices)"
st=$(sql "SELECT count(*) FROM events WHERE device = 'quiet' AND kind IN ('stale', 'fresh')")
[ "$st" -ge 2 ] || fail "stale/fresh events not stored ($st)"
echo "mqtt_presets: OK"
