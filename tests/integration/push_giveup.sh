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
timeout = 2
CONF
} > "$work/foyer.conf"
"$FOYER_BIN/foyerctl" --config "$work/foyer.conf" import /dev/stdin >/dev/null <<CSV
channel,time,value
$(for d in $(seq 50 -1 0); do echo "a-elec,$(date -u -d "$d days ago" +%Y-%m-%dT%H:00:00Z),$((5000 + (50 - d) * 7))"; done)
CSV

"$FOYER_BIN/foyerd" --config "$work/foyer.conf" 2> "$work/foyerd.log" &
pid=$!
settled() {
  [ "$(sqlite3 "$work/foyer.db" "SELECT count(*) FROM outbox WHERE state = 0" 2>/dev/null)" = 0 ] &&
    [ "$(sqlite3 "$work/foyer.db" "SELECT count(*) FROM outbox" 2>/dev/null)" = 2 ]
}
wait_for 30 settled || fail "outbox did not settle: $(sqlite3 "$work/foyer.db" \
  'SELECT id, key, state, attempts, last_error FROM outbox'; cat "$work/foyerd.log")"
kill -TERM "$pid"
wait "$pid" || fail "foyerd did not exit cleanly"
pid=""

[ "$(sqlite3 "$work/foyer.db" "SELECT count(*) FROM outbox WHERE state = 2")" = 1 ] ||
  fail "no summary given up: $(sqlite3 "$work/foyer.db" 'SELECT key, state FROM outbox')"
[ "$(sqlite3 "$work/foyer.db" "SELECT count(*) FROM outbox WHERE state = 1")" = 1 ] ||
  fail "the other summary was not delivered"
[ "$(sqlite3 "$work/foyer.db" "SELECT count(*) FROM events WHERE kind = 'push_given_up'")" = 1 ] ||
  fail "no push_given_up event"
grep -q "given up (the endpoint refuses it)" "$work/foyerd.log" || fail "no warning in the log"
given=$(sqlite3 "$work/foyer.db" "SELECT key FROM outbox WHERE state = 2")
n=$(grep -c "\"key\": \"$given\"" "$work/recv.log")
[ "$n" = 1 ] || fail "the refused summary was sent $n times"
echo "push_giveup: 400 given up once with an event, the next summary delivered"
