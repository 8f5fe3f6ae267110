#!/usr/bin/env bash
# Fleet uplink catch-up bench: a building whose gateway was cut off for
# DAYS days (CHANNELS counter channels, hourly readings, half of the
# dwellings with consent) comes back: foyerd -> local mosquitto -> the
# collector peer (tests/sim/uplink_peer.c, which writes and fsyncs each
# message before its ack).  Measures, from foyerd's start, the time until
# the outbox is empty (every item acked after the peer's write), the items
# and the rate; beside it, the peer's own time to write what it got.  The
# issue's target: a week of one building caught up in under a minute.
# Prints figures; never fails on time.
# Usage: bench_uplink.sh BUILD_DIR [CHANNELS [DAYS]]
set -euo pipefail
bin=$(cd "${1:?build dir}" && pwd)
channels=${2:-100}
days=${3:-7}
work=$(mktemp -d /tmp/foyer-bench-uplink-XXXXXX)
broker="" foyerd="" peer=""
cleanup() {
  if [ -n "$foyerd" ]; then kill -KILL "$foyerd" 2>/dev/null || true; fi
  if [ -n "$peer" ]; then kill -KILL "$peer" 2>/dev/null || true; fi
  if [ -n "$broker" ]; then kill -KILL "$broker" 2>/dev/null || true; fi
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
now() { date +%s.%N; }
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/mosquitto.conf" <<CONF
user root
listener $port 127.0.0.1
allow_anonymous true
log_dest none
max_queued_messages 0
CONF

{
  cat <<CONF
[foyer]
database = $work/foyer.db
timezone = Europe/Paris
raw_retention_days = 3650
raw_retention_days_no_consent = 3650
[building b1]
CONF
  for ((d = 0; d < channels / 2; d++)); do
    printf '[dwelling d%d]\nbuilding = b1\nsurface_m2 = 50\nheating = gas\nconsent = %s\n' \
      "$d" "$([ $((d % 2)) = 0 ] && echo yes || echo no)"
    printf '[channel d%d-elec]\ndwelling = d%d\nquantity = electricity\n' "$d" "$d"
    printf '[channel d%d-gas]\ndwelling = d%d\nquantity = gas\n' "$d" "$d"
  done
  cat <<CONF
[uplink]
host = 127.0.0.1
port = $port
gateway_id = bench
settle_s = 0
CONF
} > "$work/foyer.conf"

/usr/bin/python3 - "$channels" "$days" > "$work/h.csv" <<'PY'
import sys, time
n, days = int(sys.argv[1]), int(sys.argv[2])
t0 = (int(time.time()) // 86400 - days - 1) * 86400
print("channel,time,value")
for h in range(days * 24 + 1):
    ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0 + h * 3600))
    for d in range(n // 2):
        print(f"d{d}-elec,{ts},{1000 + h * (0.3 + d % 7 * 0.05):.3f}")
        print(f"d{d}-gas,{ts},{500 + h * (0.8 + d % 5 * 0.1):.3f}")
PY
t=$(now)
"$bin/foyerctl" --config "$work/foyer.conf" import "$work/h.csv" > /dev/null
ti=$(awk -v a="$(now)" -v b="$t" 'BEGIN { print a - b }')

mosquitto -c "$work/mosquitto.conf" 2> /dev/null &
broker=$!
until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do sleep 0.05; done
"$bin/tests/foyer-uplink-peer" --port "$port" --out "$work/peer.out" > "$work/peer.ready" &
peer=$!
until grep -q ready "$work/peer.ready"; do sleep 0.05; done

outbox() { sqlite3 -cmd ".timeout 2000" "$work/foyer.db" "SELECT count(*) FROM uplink_outbox"; }
dirty() { sqlite3 -cmd ".timeout 2000" "$work/foyer.db" "SELECT count(*) FROM uplink_dirty WHERE gran < 2"; }
t=$(now)
"$bin/foyerd" --config "$work/foyer.conf" 2> "$work/foyerd.log" &
foyerd=$!
until grep -q "uplink: connected" "$work/foyerd.log"; do sleep 0.05; done
until [ "$(dirty)" = 0 ] && [ "$(outbox)" = 0 ]; do sleep 0.1; done
tc=$(awk -v a="$(now)" -v b="$t" 'BEGIN { print a - b }')
items=$(wc -l < "$work/peer.out")
kill -TERM "$foyerd"
wait "$foyerd" || true
foyerd=""
printf 'Fleet uplink catch-up: %d channels (half the dwellings with consent), %d days of hourly readings\n' \
  "$channels" "$days"
printf '  import with [uplink] (changed hours noted): %.2f s\n' "$ti"
printf '  foyerd start -> every item acked after the peer'"'"'s fsync: %.2f s, %d items, %.0f items/s (target: a week under 60 s)\n' \
  "$tc" "$items" "$(awk -v a="$items" -v b="$tc" 'BEGIN { print a / b }')"
grep "uplink: .* items queued" "$work/foyerd.log" | sed 's/^foyerd: info: /  /'
