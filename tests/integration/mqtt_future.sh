#!/usr/bin/env bash
# Issue 9 item 3: one MQTT message stamped 23 h ahead (a sensor whose clock
# is wrong) must not block its counter.  Before, every genuine reading after
# it was refused as late until the wall clock passed it, and foyerctl status
# said "ok".  Now it is refused with a future_refused event, never becomes the
# channel's last reading, and the genuine readings after it count.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mqtt_lib.sh"

mqtt_setup future
{
  foyer_base_conf
  cat <<CONF
[mqtt]
port = $port
client_id = foyerd-future
[sensor s0]
topic = tele/s0/SENSOR
preset = tasmota
dwelling = d1
timestamp_field = Time
CONF
} > "$work/foyer.conf"
start_foyerd

now=$(date -u +%s)
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%S; }
pub() { # epoch total
  mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -t tele/s0/SENSOR \
    -m "{\"Time\":\"$(iso "$1")\",\"ENERGY\":{\"Total\":$2,\"Power\":100}}"
}
pub $((now - 600)) 1000.000
pub $((now + 23 * 3600)) 1000.500 # the wrong clock
for i in 1 2 3 4 5; do
  pub $((now - 600 + i * 60)) "$(printf '1000.%03d' $((i * 50)))"
done
wait_for 10 readings_at_least s0.energy 6 || fail "genuine readings missing: $(count_readings s0.energy)/6"
# The chain ends at the last genuine reading: 0.25 kWh counted.
total=$(sql "SELECT printf('%.3f', sum(r.sum)) FROM rollup_hour r JOIN channels c ON c.id = r.channel
             WHERE c.name = 's0.energy'")
[ "$total" = "0.250" ] || fail "consumption $total kWh, expected 0.250"
[ "$(sql "SELECT count(*) FROM readings r JOIN channels c ON c.id = r.channel
          WHERE c.name = 's0.energy' AND r.ts > $now + 3600")" = 0 ] || fail "the future reading was stored"
[ "$(sql "SELECT count(*) FROM events e JOIN channels c ON c.id = e.channel
          WHERE c.name = 's0.energy' AND e.kind = 'future_refused'")" = 1 ] ||
  fail "no future_refused event: $(sql 'SELECT kind, ts FROM events')"
last=$("$FOYER_BIN/foyerctl" --config "$work/foyer.conf" status --json |
  /usr/bin/python3 -c 'import json,sys; print([c["last_value"] for c in json.load(sys.stdin) if c["channel"]=="s0.energy"][0])')
[ "$last" = "1000.25" ] || fail "foyerctl status shows $last as the last energy reading"
stop_foyerd
echo "mqtt_future: OK (a reading 23 h ahead refused with an event; the genuine ones after it counted)"
