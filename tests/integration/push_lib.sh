# Shared parts of the push tests (sourced after lib.sh): a work directory
# cleaned up on exit with the foyerd and receiver they started, the local
# HTTP(S) receiver, and the config every push test starts from.
work=$(mktemp -d "/tmp/foyer-${1:-push}-XXXXXX")
pid=""
recv=""
recv2=""
push_cleanup() {
  [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
  [ -n "$recv" ] && kill "$recv" 2>/dev/null || true
  [ -n "$recv2" ] && kill "$recv2" 2>/dev/null || true
  rm -rf "$work"
}
trap push_cleanup EXIT
export FOYER_LANG_DIR="$FOYER_SRC/config"

# start_receiver [http_receiver.py options]: sets recv and port.
start_receiver() {
  /usr/bin/python3 "$FOYER_SRC/tests/integration/http_receiver.py" --port-file "$work/port" \
    --log "$work/recv.log" "$@" &
  recv=$!
  wait_for 10 test -s "$work/port" || fail "receiver did not start"
  port=$(cat "$work/port")
}

# start_receiver2 [options]: a second receiver (recv2.log); sets recv2 and port2.
start_receiver2() {
  /usr/bin/python3 "$FOYER_SRC/tests/integration/http_receiver.py" --port-file "$work/port2" \
    --log "$work/recv2.log" "$@" &
  recv2=$!
  wait_for 10 test -s "$work/port2" || fail "second receiver did not start"
  port2=$(cat "$work/port2")
}

# The [foyer] section and a building b1 with dwelling a (40 m², electric,
# consent) and its electricity channel a-elec; the caller appends the rest.
push_base_conf() {
  cat <<CONF
[foyer]
database = $work/foyer.db
timezone = Europe/Paris
raw_retention_days = 90
raw_retention_days_no_consent = 90
[building b1]
[dwelling a]
building = b1
surface_m2 = 40
heating = electric
consent = true
[channel a-elec]
dwelling = a
quantity = electricity
CONF
}

# SQL on the test's database, waiting out the writer's and the pusher's locks.
push_sql() { sqlite3 -cmd ".timeout 2000" "$work/foyer.db" "$@"; }

# What a failed push test shows: the outbox, what the receiver got, the end
# of foyerd's log.
push_dump() {
  echo "outbox at $(date +%s) (id|endpoint|key|dwelling|attempts|next_try|state|last_error;"
  echo "  state 0 pending, 1 delivered, 2 given up):"
  push_sql "SELECT id, endpoint, key, dwelling, attempts, next_try, state, last_error
            FROM outbox ORDER BY id" 2>&1 | sed 's/^/  /'
  echo "receiver log ($work/recv.log):"
  if [ -f "$work/recv.log" ]; then sed 's/^/  /' "$work/recv.log"; else echo "  (none)"; fi
  echo "foyerd log, last 20 lines:"
  if [ -f "$work/foyerd.log" ]; then tail -n 20 "$work/foyerd.log" | sed 's/^/  /'; fi
}
push_fail() { fail "$*"$'\n'"$(push_dump)"; }
