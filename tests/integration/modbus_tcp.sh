#!/usr/bin/env bash
# foyerd polls simulated meters on a TCP gateway (foyer-modbus-sim): every
# register type in every word order decodes to its value, the SDM120/SDM630
# profiles give plausible channels METER.REGISTER, registers are read in
# merged requests (counted by the simulator), health reaches the devices table.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/modbus_lib.sh"
work=$(mktemp -d /tmp/foyer-mbtcp-XXXXXX)
trap mb_cleanup EXIT

mb_start_sim --tcp 0 --meters 1-3:sdm120,4:sdm630,9:types
mb_conf_head
mb_types_profile types
cat >> "$work/foyer.conf" <<CONF
[bus gw1]
type = tcp
host = 127.0.0.1
port = $sim_port
timeout_ms = 500
[meter m1]
profile = sdm120
bus = gw1
unit_id = 1
dwelling = d1
interval = 2
[meter m2]
profile = sdm120
bus = gw1
unit_id = 2
dwelling = d1
interval = 2
[meter m3]
profile = sdm120
bus = gw1
unit_id = 3
dwelling = d1
interval = 2
[meter m4]
profile = sdm630
bus = gw1
unit_id = 4
building = b1
interval = 2
[meter mt]
profile = types
bus = gw1
unit_id = 9
building = b1
interval = 2
CONF
"$FOYER_BIN/foyerd" --check-config --config "$work/foyer.conf" > /dev/null || fail "config refused"
mb_start_foyerd
grep -q "modbus: polling 5 meters on 1 buses" "$work/foyerd.log" || fail "no start line: $(cat "$work/foyerd.log")"

wait_for 20 mb_count_at_least m1.energy_import 3 || fail "no readings from m1: $(cat "$work/foyerd.log")"
wait_for 10 mb_count_at_least m4.energy_import 3 || fail "no readings from m4"
wait_for 10 mb_count_at_least mt.float64_dcba 1 || fail "no readings from mt"
mb_check_types mt

# The public channel names and their kinds.
for m in m1 m2 m3 m4; do
  q=$(sql "SELECT quantity || '/' || kind || '/' || unit FROM channels WHERE name = '$m.energy_import'")
  [ "$q" = "electricity/counter/kWh" ] || fail "$m.energy_import is \"$q\""
  q=$(sql "SELECT quantity || '/' || kind || '/' || unit FROM channels WHERE name = '$m.power'")
  [ "$q" = "power/gauge/W" ] || fail "$m.power is \"$q\""
  v=$(mb_last "$m.voltage")
  awk -v v="$v" 'BEGIN { exit !(v > 220 && v < 240) }' || fail "$m.voltage = $v"
  v=$(mb_last "$m.power")
  awk -v v="$v" 'BEGIN { exit !(v > 50 && v < 20000) }' || fail "$m.power = $v"
  v=$(mb_last "$m.energy_import")
  awk -v v="$v" 'BEGIN { exit !(v >= 1000 && v < 5001) }' || fail "$m.energy_import = $v"
done
# The index advances: consumption, never negative, stored in the rollups.
wait_for 10 test "$(sql "SELECT count(*) FROM rollup_hour h JOIN channels c ON c.id = h.channel
  WHERE c.name = 'm1.energy_import' AND h.sum > 0")" -ge 1 || fail "no consumption for m1"

mb_stop_foyerd
mb_sim stats
# Merged reads (a TCP gateway reads through gaps of up to 64 registers):
# SDM120 and SDM630 = [0x00,0x4C): 76 registers in 1 request per poll;
# types = [0x100,0x17C) + [0x17C,0x180): 128 registers in 2 (125 at most).
stat() { grep "^stats unit=$1 " "$work/sim.log" | tail -n 1; }
reads() { stat "$1" | sed 's/.*reads=\([0-9]*\).*/\1/'; }
regs() { stat "$1" | sed 's/.*regs=\([0-9]*\).*/\1/'; }
for u in 1 2 3 4; do
  [ "$(reads $u)" -gt 0 ] && [ $(( $(regs $u) )) = $(( 76 * $(reads $u) )) ] ||
    fail "unit $u: $(stat $u): not 1 merged request of 76 registers per poll"
done
[ $(( $(regs 9) )) = $(( 64 * $(reads 9) )) ] || fail "unit 9: $(stat 9): not 2 requests per poll"

# Health: every request the simulator answered was counted by foyerd.
row=$(sql "SELECT state, polls, timeouts + crc_errors + exceptions + other_errors, bad_values,
  last_success > 0, response_ms > 0 FROM devices WHERE name = 'm1'")
[ "$row" = "online|$(reads 1)|0|0|1|1" ] || fail "m1 health: $row (simulator: $(stat 1))"
[ "$(sql "PRAGMA integrity_check")" = ok ] || fail "integrity_check"
echo "modbus_tcp: all types and word orders, SDM120/SDM630 channels, merged reads, health: ok"
