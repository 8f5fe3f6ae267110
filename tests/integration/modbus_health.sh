#!/usr/bin/env bash
# A meter is healthy only when it yields valid values.  On the simulator's
# TCP gateway, meters that answer every read with an exception (01 illegal
# function, 04 device failure, 06 busy) or with NaN only are alive but give
# nothing: each goes offline after offline_after polls, with the exception
# code or "invalid values" in the event, its last success does not move
# meanwhile, and it comes back online by itself with its first valid value.
# A meter answering normally beside them stays online throughout.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/modbus_lib.sh"
work=$(mktemp -d /tmp/foyer-mbhealth-XXXXXX)
trap mb_cleanup EXIT

mb_start_sim --tcp 0 --meters 1-5:sdm120
mb_conf_head
mb_conf_gateway 5 2
mb_start_foyerd
for u in 1 2 3 4 5; do
  wait_for 20 mb_count_at_least "m$u.power" 1 || fail "no readings from m$u: $(cat "$work/foyerd.log")"
done

event_detail() { # device kind
  sql "SELECT detail FROM events WHERE device = '$1' AND kind = '$2' ORDER BY id DESC LIMIT 1"
}
has_event() { [ -n "$(event_detail "$1" "$2")" ]; }
last_success() { sql "SELECT last_success FROM devices WHERE name = '$1'"; }

mb_sim exception 1 1
mb_sim exception 2 4
mb_sim exception 3 6
mb_sim nan 4
t_fault=$(date +%s)
for u in 1 2 3 4; do
  wait_for 15 has_event "m$u" offline ||
    fail "m$u stays online while it gives no valid value: $(sql "SELECT * FROM devices WHERE name = 'm$u'"; tail -n 20 "$work/foyerd.log")"
done
for c in "1:01 (Illegal function)" "2:04 (Slave device or server failure)" "3:06 (Slave device or server is busy)"; do
  u=${c%%:*}
  want="2 polls without a valid value: exception ${c#*:}"
  d=$(event_detail "m$u" offline)
  [ "$d" = "$want" ] || fail "m$u offline detail: \"$d\", expected \"$want\""
  grep -q "bus=gw1 unit=$u meter=m$u: offline: $want" "$work/foyerd.log" ||
    fail "no offline warning with context for m$u: $(grep "meter=m$u" "$work/foyerd.log")"
done
d=$(event_detail m4 offline)
case "$d" in
"2 polls without a valid value: invalid values ("*" NaN, infinite or out of range)") ;;
*) fail "m4 offline detail: \"$d\"" ;;
esac
has_event m5 offline && fail "m5, answering normally, went offline"

# Health as stored: offline, exceptions or bad values counted, and the last
# success from before the faults, not refreshed by the useless answers.
health_is() { # device row
  [ "$(sql "SELECT state, last_success < $t_fault + 1 FROM devices WHERE name = '$1'")" = "$2" ]
}
for u in 1 2 3 4; do
  wait_for 5 health_is "m$u" "offline|1" ||
    fail "m$u health (state, last success before the fault): $(sql "SELECT * FROM devices WHERE name = 'm$u'")"
done
n=$(mb_count m1.power)
[ "$(sql "SELECT exceptions >= 2 FROM devices WHERE name = 'm1'")" = 1 ] || fail "m1 exceptions not counted"
[ "$(sql "SELECT bad_values >= 2 FROM devices WHERE name = 'm4'")" = 1 ] || fail "m4 bad values not counted"
[ "$(sql "SELECT state FROM devices WHERE name = 'm5'")" = online ] || fail "m5 not online"

# Valid values again: online again, by themselves.
mb_sim answer all
for u in 1 2 3 4; do
  wait_for 15 has_event "m$u" online || fail "m$u not back online: $(tail -n 20 "$work/foyerd.log")"
done
wait_for 10 mb_count_at_least m1.power $((n + 1)) || fail "m1 not read after recovering"
mb_stop_foyerd
for u in 1 2 3 4; do
  row=$(sql "SELECT state, last_success >= $t_fault FROM devices WHERE name = 'm$u'")
  [ "$row" = "online|1" ] || fail "m$u health after recovery: $row"
done
bad=$(sql "SELECT count(*) FROM readings WHERE value != value")
[ "$bad" = 0 ] || fail "$bad NaN values stored"
echo "modbus_health: exceptions 01/04/06 and NaN-only answers make a meter offline, and back: ok"
