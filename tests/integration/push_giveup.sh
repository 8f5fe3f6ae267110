#!/usr/bin/env bash
# A summary the endpoint refuses for good (400) is given up at once, with a
# push_given_up event and a warning naming its key; it is never sent again,
# and the other summaries (including the same dwelling's next ones) are
# still delivered.  A dwelling without any reading gets no summary at all
# (the outbox holds dwelling a's week and month only).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/push_lib.sh" push-giveup
start_receiver --script 400,200
{
  push_base_conf
  cat <<CONF
[dwelling empty]
building = b1
surface_m2 = 30
heating = electric
[channel empty-elec]
dwelling = empty
quantity = electricity
[push receiver]
url = http://127.0.0.1:$port/summaries
insecure = yes
timeout = 10
CONF
} > "$work/foyer.conf"
# timeout = 10: a loaded machine (ctest -j2 under ASan) must not turn the
# scripted 400 into a client timeout and a retry.
"$FOYER_BIN/foyerctl" --config "$work/foyer.conf" import /dev/stdin >/dev/null <<CSV
channel,time,value
$(for d in $(seq 50 -1 0); do echo "a-elec,$(date -u -d "$d days ago" +%Y-%m-%dT%H:00:00Z),$((5000 + (50 - d) * 7))"; done)
CSV

"$FOYER_BIN/foyerd" --config "$work/foyer.conf" 2> "$work/foyerd.log" &
pid=$!
# Settled: both summaries queued and neither pending, read in one query (one
# read transaction).  The scheduler submits the week and the month one after
# the other, so the week can be stored, sent and given up before the month is
# queued: two separate counts could see "none pending" before the month's row
# and "two rows" after it, while the month was still pending.
settled() { [ "$(push_sql "SELECT count(*) = 2 AND sum(state = 0) = 0 FROM outbox" 2>/dev/null)" = 1 ]; }
wait_for 30 settled || push_fail "outbox did not settle (two rows, none pending) in 30 s"
kill -TERM "$pid"
wait "$pid" || push_fail "foyerd did not exit cleanly"
pid=""

[ "$(push_sql "SELECT count(*) FROM outbox WHERE state = 2")" = 1 ] ||
  push_fail "no summary given up"
[ "$(push_sql "SELECT count(*) FROM outbox WHERE state = 1")" = 1 ] ||
  push_fail "the other summary was not delivered"
[ "$(push_sql "SELECT count(*) FROM events WHERE kind = 'push_given_up'")" = 1 ] ||
  push_fail "no push_given_up event"
grep -q "given up (the endpoint refuses it)" "$work/foyerd.log" || push_fail "no warning in the log"
given=$(push_sql "SELECT key FROM outbox WHERE state = 2")
n=$(grep -c "\"key\": \"$given\"" "$work/recv.log" || true)
[ "$n" = 1 ] || push_fail "the refused summary was sent $n times"
echo "push_giveup: 400 given up once with an event, the next summary delivered"
