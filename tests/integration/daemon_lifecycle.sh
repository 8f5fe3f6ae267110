#!/usr/bin/env bash
# foyerd's life under systemd-like supervision: READY=1 and WATCHDOG=1 on the
# notify socket, SIGHUP with a broken config refused (old config kept, still
# running), SIGHUP with a good one applied (new channel registered), SIGTERM
# exits 0 after STOPPING=1; a broken config never starts the daemon.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

work=$(mktemp -d /tmp/foyer-lifecycle-XXXXXX)
listener=""
pid=""
cleanup() {
  [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
  [ -n "$listener" ] && kill "$listener" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$FOYER_BIN/foyerd" --version | grep -q '^foyerd [0-9]' || fail "--version"
"$FOYER_BIN/foyerd" --help | grep -q -- '--check-config' || fail "--help"

cat > "$work/foyer.conf" <<CONF
[foyer]
database = $work/foyer.db
timezone = Europe/Paris
[building b1]
[dwelling d1]
building = b1
surface_m2 = 40
heating = electric
[channel d1-linky]
dwelling = d1
quantity = electricity
CONF
cp "$work/foyer.conf" "$work/good.conf"

# A broken config never starts the daemon, and says where.
printf '[dwelling d2]\nbuilding = nowhere\n' >> "$work/foyer.conf"
if "$FOYER_BIN/foyerd" --config "$work/foyer.conf" 2> "$work/bad.log"; then
  fail "foyerd started with a broken config"
fi
grep -q "foyer.conf:[0-9]*: .*nowhere" "$work/bad.log" || fail "no FILE:LINE error: $(cat "$work/bad.log")"
[ ! -e "$work/foyer.db" ] || fail "a broken config created the database"
cp "$work/good.conf" "$work/foyer.conf"

python3 "$FOYER_SRC/tests/integration/notify_listener.py" "$work/notify.sock" "$work/notify.log" &
listener=$!
wait_for 10 grep -q listening "$work/notify.log" 2>/dev/null || fail "notify listener did not start"

NOTIFY_SOCKET="$work/notify.sock" WATCHDOG_USEC=400000 \
  "$FOYER_BIN/foyerd" --config "$work/foyer.conf" 2> "$work/foyerd.log" &
pid=$!
wait_for 10 grep -q "READY=1" "$work/notify.log" || fail "no READY=1: $(cat "$work/foyerd.log")"
wait_for 5 grep -q "WATCHDOG=1" "$work/notify.log" || fail "no WATCHDOG=1"

# SIGHUP with a broken config: refused, still running, READY again.
printf '[channel x]\ndwelling = d1\nquantity = electrcity\n' >> "$work/foyer.conf"
kill -HUP "$pid"
wait_for 10 grep -q "reload refused" "$work/foyerd.log" || fail "broken reload not refused"
grep -q 'foyer.conf:[0-9]*: .*electrcity' "$work/foyerd.log" || fail "reload error without FILE:LINE"
kill -0 "$pid" || fail "foyerd died on a broken reload"

# SIGHUP with a good config: applied, the new channel registered.
cp "$work/good.conf" "$work/foyer.conf"
printf '[channel d1-water]\ndwelling = d1\nquantity = cold_water\n' >> "$work/foyer.conf"
kill -HUP "$pid"
wait_for 10 grep -q "configuration reloaded" "$work/foyerd.log" || fail "good reload not applied"
n=$(sqlite3 "$work/foyer.db" "SELECT count(*) FROM channels WHERE name = 'd1-water'")
[ "$n" = 1 ] || fail "new channel not registered after reload"

# SIGTERM: STOPPING=1, exit 0.
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=""
[ "$rc" = 0 ] || fail "foyerd exited $rc on SIGTERM"
grep -q "STOPPING=1" "$work/notify.log" || fail "no STOPPING=1"
grep -q "stopped:" "$work/foyerd.log" || fail "no final log line"
ok=$(sqlite3 "$work/foyer.db" "PRAGMA integrity_check")
[ "$ok" = ok ] || fail "integrity_check: $ok"
echo "daemon_lifecycle: READY, WATCHDOG, reload refused and applied, SIGTERM exit 0: ok"
