#!/usr/bin/env bash
# Alerts through the outbox to a [push] endpoint with alerts = yes: a real
# local HTTP receiver gets each alert once per state (open, acknowledged,
# closed), each with its own Idempotency-Key, across reloads and restarts of
# foyerd that judge the same history again; an endpoint without alerts = yes
# gets none.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/push_lib.sh" alerts-push
start_receiver
cat > "$work/foyer.conf" <<CONF
[foyer]
database = $work/foyer.db
timezone = Europe/Paris
log_level = debug
[building b1]
[dwelling a]
building = b1
surface_m2 = 40
heating = electric
[channel a-temp]
dwelling = a
quantity = temperature
[alerts]
; the whole year, so that the test does not depend on the season it runs in
heating_from = 01-01
heating_to = 12-31
[push hook]
url = http://127.0.0.1:$port/alerts
insecure = yes
alerts = yes
[push other]
url = http://127.0.0.1:$port/summaries
insecure = yes
CONF
ctl() { "$FOYER_BIN/foyerctl" --config "$work/foyer.conf" "$@"; }

# 30 closed hours at 14 degC.
now=$(date +%s)
hour0=$(((now - 600) / 3600 * 3600 - 30 * 3600))
{
  echo "channel,time,value"
  for h in $(seq 0 29); do
    echo "a-temp,$(date -u -d "@$((hour0 + h * 3600 + 1800))" +%Y-%m-%dT%H:%M:%SZ),14"
  done
} > "$work/history.csv"
ctl import "$work/history.csv" > /dev/null

start_foyerd() {
  "$FOYER_BIN/foyerd" --config "$work/foyer.conf" 2>> "$work/foyerd.log" &
  pid=$!
}
stop_foyerd() {
  kill -TERM "$pid"
  wait "$pid" || push_fail "foyerd exited $?"
  pid=""
}
# Requests for alerts the receiver answered (any endpoint), and those with
# a key ending in $1.
alert_posts() { grep -c '"key": "alert-[0-9a-f]*-[0-9]*-'"${1:-}" "$work/recv.log" 2>/dev/null || true; }
delivered() { # state: every queued row of it delivered, and the receiver saw it
  [ "$(alert_posts "$1")" -ge 1 ] &&
    [ "$(push_sql "SELECT count(*) FROM outbox WHERE key LIKE 'alert-%-$1' AND state = 1")" = 1 ]
}
runs() { grep -c "alerts: hours up to\|alerts: .* opened, .* closed" "$work/foyerd.log" || true; }

start_foyerd
wait_for 30 delivered open || push_fail "the open alert was not delivered"
id=$(push_sql "SELECT id FROM alerts")

# Acknowledged: delivered at the next run (a reload runs the engine at once).
ctl alerts ack "$id" --note "radiateur" > /dev/null
kill -HUP "$pid"
wait_for 30 delivered acknowledged || push_fail "the acknowledgement was not delivered"

# Closed by hand, then a restart: delivered once.
ctl alerts close "$id" > /dev/null
stop_foyerd
start_foyerd
wait_for 30 delivered closed || push_fail "the closing was not delivered"

# Another restart and reload judge the same history again: nothing new.
runs_at_least() { [ "$(runs)" -ge "$1" ]; }
before=$(runs)
stop_foyerd
start_foyerd
wait_for 30 runs_at_least $((before + 1)) || push_fail "the restarted foyerd did not run the engine"
kill -HUP "$pid"
wait_for 30 runs_at_least $((before + 2)) || push_fail "no run after the reload"
stop_foyerd

[ "$(alert_posts)" = 3 ] || push_fail "$(alert_posts) alert requests, expected 3 (one per state)"
[ "$(grep -c '"duplicate": true' "$work/recv.log")" = 0 ] || push_fail "a key was delivered twice"
[ "$(push_sql "SELECT count(*) FROM outbox WHERE key LIKE 'alert-%' AND endpoint <> 'hook'")" = 0 ] ||
  push_fail "an endpoint without alerts = yes got alerts"
[ "$(push_sql "SELECT count(DISTINCT key) FROM outbox WHERE key LIKE 'alert-%'")" = 3 ] ||
  push_fail "expected three keys"
echo "alerts_push: ok"
