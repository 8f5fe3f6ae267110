#!/usr/bin/env bash
# foyerd on an RTU line: a pseudo-terminal pair (socat) joins foyerd's serial
# bus to the simulator in RTU mode.  Several unit IDs on the line, every
# type and word order, CRC-checked frames; a silent meter goes offline
# without disturbing the others, and returns.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/modbus_lib.sh"
work=$(mktemp -d /tmp/foyer-mbrtu-XXXXXX)
socat_pid=""
cleanup() {
  [ -n "$socat_pid" ] && kill "$socat_pid" 2>/dev/null || true
  mb_cleanup
}
trap cleanup EXIT

command -v socat > /dev/null || fail "socat is not installed (scripts/deps.sh)"
socat pty,raw,echo=0,link="$work/tty-sim" pty,raw,echo=0,link="$work/tty-foyer" 2> "$work/socat.log" &
socat_pid=$!
wait_for 10 test -e "$work/tty-sim" -a -e "$work/tty-foyer" || fail "socat: $(cat "$work/socat.log")"

"$FOYER_BIN/tests/foyer-modbus-sim" --rtu "$work/tty-sim" --baud 19200 --parity E \
  --meters 1:sdm120,2:sdm630,9:types --control "$work/sim.ctl" > "$work/sim.log" 2>&1 &
sim_pid=$!
wait_for 10 grep -q "^listening rtu" "$work/sim.log" || fail "simulator: $(cat "$work/sim.log")"

mb_conf_head
mb_types_profile types
cat >> "$work/foyer.conf" <<CONF
[bus line1]
type = rtu
device = $work/tty-foyer
baud = 19200
parity = even
data_bits = 8
stop_bits = 1
timeout_ms = 300
offline_after = 2
[meter r1]
profile = sdm120
bus = line1
unit_id = 1
dwelling = d1
interval = 2
[meter r2]
profile = sdm630
bus = line1
unit_id = 2
building = b1
interval = 2
[meter rt]
profile = types
bus = line1
unit_id = 9
building = b1
interval = 2
CONF
mb_start_foyerd
wait_for 20 mb_count_at_least r1.energy_import 2 || fail "no readings from r1: $(cat "$work/foyerd.log")"
wait_for 10 mb_count_at_least r2.energy_import 2 || fail "no readings from r2"
wait_for 10 mb_count_at_least rt.float64_dcba 1 || fail "no readings from rt"
mb_check_types rt
v=$(mb_last r2.voltage)
awk -v v="$v" 'BEGIN { exit !(v > 220 && v < 240) }' || fail "r2.voltage = $v"

has_event() { [ "$(sql "SELECT count(*) FROM events WHERE device = '$1' AND kind = '$2'")" -ge 1 ]; }
mb_sim silent 2
wait_for 15 has_event r2 offline || fail "r2 not offline: $(tail -n 20 "$work/foyerd.log")"
grep -q "bus=line1 unit=2 meter=r2: offline: 2 polls missed: timeout" "$work/foyerd.log" ||
  fail "no offline warning: $(tail -n 5 "$work/foyerd.log")"
n=$(mb_count r1.power)
wait_for 10 mb_count_at_least r1.power $((n + 2)) || fail "r1 stalled while r2 was silent"
mb_sim answer 2
wait_for 15 has_event r2 online || fail "r2 not back online"

mb_stop_foyerd
row=$(sql "SELECT state, crc_errors, bad_values FROM devices WHERE name = 'r1'")
[ "$row" = "online|0|0" ] || fail "r1 health: $row"
[ "$(sql "PRAGMA integrity_check")" = ok ] || fail "integrity_check"
echo "modbus_rtu: RTU over a pty pair, three units, all types, offline/online: ok"
