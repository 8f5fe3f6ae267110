#!/usr/bin/env bash
# foyerd against a third-party Modbus server (Debian's python3-pymodbus)
# serving a register map written by this test: every type and word order
# decodes to the same values as against foyer's own simulator, and an SDM120
# register block gives the expected channels.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/modbus_lib.sh"
work=$(mktemp -d /tmp/foyer-mbpy-XXXXXX)
trap mb_cleanup EXIT

server=$FOYER_SRC/tests/integration/modbus_pymodbus_server.py
# Everything the server imports, at once (not after the wait below).
check=$($PY "$server" --check 2>&1) || fail "$check"
$PY "$server" "$work/py.port" > "$work/py.log" 2>&1 &
sim_pid=$!
# Listening, or dead: no waiting out the limit for a server that exited.
py_up() {
  [ -s "$work/py.port" ] && return 0
  kill -0 "$sim_pid" 2>/dev/null || fail "pymodbus server exited: $(cat "$work/py.log")"
  return 1
}
wait_for 20 py_up || fail "pymodbus server did not start in 20 s: $(cat "$work/py.log")"
port=$(cat "$work/py.port")

mb_conf_head
mb_types_profile types
cat >> "$work/foyer.conf" <<CONF
[bus py]
type = tcp
host = 127.0.0.1
port = $port
timeout_ms = 1000
[meter mt]
profile = types
bus = py
unit_id = 1
building = b1
interval = 2
[meter me]
profile = sdm120
bus = py
unit_id = 2
dwelling = d1
interval = 2
CONF
mb_start_foyerd
wait_for 20 mb_count_at_least mt.float64_dcba 1 || fail "no readings from pymodbus: $(cat "$work/foyerd.log")"
wait_for 10 mb_count_at_least me.energy_export 1 || fail "no SDM120 readings from pymodbus"
mb_check_types mt
for pair in voltage:231.5 current:2.25 power:480 energy_import:4321.25 energy_export:12.5; do
  v=$(mb_last "me.${pair%%:*}")
  [ "$v" = "${pair#*:}" ] || [ "$v" = "${pair#*:}.0" ] || fail "me.${pair%%:*} = $v, expected ${pair#*:}"
done
mb_stop_foyerd
row=$(sql "SELECT state, timeouts + crc_errors + exceptions + other_errors + bad_values
  FROM devices WHERE name = 'mt'")
[ "$row" = "online|0" ] || fail "mt health: $row"
echo "modbus_pymodbus: all types and word orders and an SDM120 block decode against pymodbus: ok"
