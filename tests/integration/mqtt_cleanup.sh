#!/usr/bin/env bash
# mqtt_cleanup (the EXIT trap of the MQTT tests) stops the broker even when
# the publisher it kills first has exited already.  Before, its first line
# `[ -n "$pub_pid" ] && kill ...` returned non-zero under set -e for a
# publisher gone, which ended the trap there: the broker ran on after the
# test.  The cleanup runs in a child shell with set -e, as a trap does.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mqtt_lib.sh"

outer=$(mktemp -d /tmp/foyer-mqtt-cleanup-XXXXXX)
trap 'kill -KILL "$(cat "$outer/broker.pid" 2>/dev/null)" 2>/dev/null || true; rm -rf "$outer"' EXIT

# A child shell: a broker, a publisher that has exited, then the cleanup.
# Not in an || list: set -e would be ignored inside.
set +e
(
  set -euo pipefail
  work=$(mktemp -d "$outer/work-XXXXXX")
  port=$(free_port)
  broker_conf "$port" < /dev/null
  start_broker "$port"
  echo "$broker_pid" > "$outer/broker.pid"
  true &
  pub_pid=$!
  wait "$pub_pid" || true
  mqtt_cleanup
  echo done > "$outer/cleanup.done"
)
set -e

bpid=$(cat "$outer/broker.pid")
[ -n "$bpid" ] || fail "no broker started"
gone() { ! kill -0 "$bpid" 2>/dev/null; }
wait_for 10 gone || fail "mqtt_cleanup left the broker (pid $bpid) running"
[ -f "$outer/cleanup.done" ] || fail "mqtt_cleanup did not complete"
echo "ok: mqtt_cleanup stops the broker after a publisher that has exited"
