#!/usr/bin/env bash
# Steps of the gateway's wall clock leave foyerd's timers sane: foyerd runs
# under libfaketime (Debian package "faketime"), whose offset file is
# rewritten while it runs; the monotonic clock is left alone, as in a real
# step (NTP at boot, a wrong manual setting).
#  - An hour back, while a push to an endpoint answering 500 waits for its
#    retry: the retries go on (on the monotonic clock) and the summary is
#    delivered; a retry time kept in wall-clock time would wait an hour.
#  - Polling of a Modbus meter goes on after the step back and after a step
#    a day ahead (the simulator counts foyerd's reads).
#  - foyerd still stops cleanly.
# Skipped (exit 77) without libfaketime, or where it cannot be preloaded
# (a sanitizer build: the sanitizer's runtime must come first).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/modbus_lib.sh"
work=$(mktemp -d /tmp/foyer-clock-XXXXXX)
recv=""
cleanup() {
  [ -n "$recv" ] && kill "$recv" 2>/dev/null
  mb_cleanup
}
trap cleanup EXIT

ft_lib=""
for f in /usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1 \
         /usr/lib/*/faketime/libfaketimeMT.so.1 /usr/lib/faketime/libfaketimeMT.so.1; do
  [ -f "$f" ] && { ft_lib=$f; break; }
done
if [ -z "$ft_lib" ]; then
  echo "clock_jump: SKIPPED: libfaketime not installed (Debian package faketime)"
  exit 77
fi
echo "+0" > "$work/clock"
# Only the wall clock is faked (DONT_FAKE_MONOTONIC), the offset file is read
# at every call (NO_CACHE), and libfaketime's "monotonic fix" of
# pthread_cond_timedwait, which takes our CLOCK_MONOTONIC deadlines for
# wall-clock ones and makes every timed wait return at once, is off.
# An env command, not a function: "${faked[@]}" foyerd & is foyerd's own
# pid (env execs it), so SIGTERM reaches foyerd.
faked=(env "LD_PRELOAD=$ft_lib" "FAKETIME_TIMESTAMP_FILE=$work/clock" FAKETIME_NO_CACHE=1
  FAKETIME_DONT_FAKE_MONOTONIC=1 FAKETIME_FORCE_MONOTONIC_FIX=0)
if ! "${faked[@]}" "$FOYER_BIN/foyerd" --version > "$work/probe" 2>&1; then
  echo "clock_jump: SKIPPED: foyerd does not run with libfaketime preloaded (sanitizer build?): $(head -n 2 "$work/probe")"
  exit 77
fi
export FOYER_LANG_DIR="$FOYER_SRC/config"

mb_start_sim --tcp 0 --meters 1:sdm120
/usr/bin/python3 "$FOYER_SRC/tests/integration/http_receiver.py" --port-file "$work/push.port" \
  --log "$work/recv.log" --script 500,500,500,500,200 &
recv=$!
wait_for 10 test -s "$work/push.port" || fail "receiver did not start"
mb_conf_head
# Keep the imported history (the default retention would drop part of it).
sed -i 's/^\[foyer\]$/[foyer]\nraw_retention_days = 90\nraw_retention_days_no_consent = 90/' "$work/foyer.conf"
cat >> "$work/foyer.conf" <<CONF
[dwelling a]
building = b1
surface_m2 = 40
heating = electric
consent = true
[channel a-elec]
dwelling = a
quantity = electricity
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
[push receiver]
url = http://127.0.0.1:$(cat "$work/push.port")/summaries
insecure = yes
timeout = 5
CONF

# A month and a half of hourly history: a closed week and month to push.
/usr/bin/python3 - "$work/history.csv" <<'PY'
import sys, time
now = int(time.time()) // 3600 * 3600
with open(sys.argv[1], "w") as f:
    f.write("channel,time,value\n")
    for i, ts in enumerate(range(now - 50 * 86400, now - 2 * 86400, 3600)):
        t = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
        f.write(f"a-elec,{t},{1000 + 0.5 * i:.1f}\n")
PY
"$FOYER_BIN/foyerctl" --config "$work/foyer.conf" import "$work/history.csv" > /dev/null

sim_reads() { # unit
  mb_sim stats
  grep "^stats unit=$1 " "$work/sim.log" | tail -n 1 | sed 's/.* reads=\([0-9]*\).*/\1/'
}
reads_above() { [ "$(sim_reads "$1")" -gt "$2" ]; }
outcomes() { grep -c '"outcome"' "$work/recv.log" 2>/dev/null || echo 0; }

"${faked[@]}" "$FOYER_BIN/foyerd" --config "$work/foyer.conf" 2> "$work/foyerd.log" &
foyerd_pid=$!
wait_for 20 grep -q '"outcome": "500"' "$work/recv.log" ||
  fail "no push attempt: $(cat "$work/foyerd.log")"

# One hour back, with the first retry waiting.
echo "-1h" > "$work/clock"
t0=$SECONDS
delivered() {
  [ "$(sql "SELECT count(*) FROM outbox WHERE state = 1")" -ge 1 ]
}
wait_for 40 delivered ||
  fail "retries stalled after the clock went back an hour ($(outcomes) attempts): $(sql \
    'SELECT id, state, attempts, next_try, last_error FROM outbox'; tail -n 20 "$work/foyerd.log")"
echo "clock_jump: delivered $((SECONDS - t0)) s after the step back, $(outcomes) attempts"
n=$(sim_reads 1)
wait_for 10 reads_above 1 $((n + 2)) || fail "Modbus polling stopped after the step back"

# A day ahead.
echo "+1d" > "$work/clock"
n=$(sim_reads 1)
wait_for 10 reads_above 1 $((n + 2)) || fail "Modbus polling stopped after the step ahead"
mb_stop_foyerd
[ "$(sql "PRAGMA integrity_check")" = ok ] || fail "integrity_check"
echo "clock_jump: push retries and Modbus polling kept going across -1 h and +1 day: ok"
