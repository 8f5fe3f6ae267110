#!/usr/bin/env bash
# MQTT ingest bench: 1 000 sensors (one [sensor] section each), ~55-byte
# JSON payloads, at QoS 0 and QoS 1, published flat out by foyer-mqtt-pub
# to a local mosquitto.  Measures, in the same run and the same way (from
# the publisher's start to the last message in), a bare libmosquitto
# subscriber (bench_mqtt_sub) and the whole foyerd path: decode -> queue ->
# batched commit -> rollups, done when every reading is in SQLite; and what
# each of them lost.
# The publisher keeps WINDOW messages in flight on each of CONNS connections
# and runs in the background, so the broker (single-threaded mosquitto),
# not the publisher, sets the pace: its own rate is printed beside.
# Prints figures; never fails on time.
# Usage: bench_mqtt.sh BUILD_DIR [N [CONNS [WINDOW]]]
set -euo pipefail
bin=$(cd "${1:?build dir}" && pwd)
n=${2:-200000}
conns=${3:-2}
window=${4:-1000}
sensors=1000
work=$(mktemp -d /tmp/foyer-bench-mqtt-XXXXXX)
broker=""
foyerd=""
pub_pid=""
cleanup() {
  [ -n "$foyerd" ] && kill -KILL "$foyerd" 2>/dev/null
  [ -n "$pub_pid" ] && kill -TERM "$pub_pid" 2>/dev/null
  [ -n "$broker" ] && kill -KILL "$broker" 2>/dev/null
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
max_inflight_messages 1000
set_tcp_nodelay true
CONF
mosquitto -c "$work/mosquitto.conf" 2> /dev/null &
broker=$!
until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do sleep 0.05; done

{
  printf '[foyer]\ndatabase = %s/foyer.db\ntimezone = Europe/Paris\nlog_level = info\n' "$work"
  printf '[building b1]\n[mqtt]\nport = %s\nclient_id = foyerd-bench-QOS\nqos = QOS\n' "$port"
  for ((i = 0; i < sensors; i++)); do
    printf '[sensor s%d]\ntopic = bench/s%d\nbuilding = b1\ntimestamp_field = time\n' "$i" "$i"
    printf 'channel.temperature = temperature, temperature\nchannel.humidity = humidity, humidity\n'
  done
} > "$work/foyer.conf.in"

count() {
  sqlite3 -cmd ".timeout 5000" "$work/foyer.db" "SELECT count(*) FROM readings" 2>/dev/null || echo 0
}

# pub QOS ID: the publisher, in the background (pub_pid), output in pub.out.
pub() {
  "$bin/tests/foyer-mqtt-pub" -p "$port" -t 'bench/{}' -n "$sensors" -s small -c "$n" -r 0 \
    -q "$1" -i "$2" -C "$conns" -w "$window" -v > "$work/pub.out" 2>&1 &
  pub_pid=$!
}
# pub_wait: wait for the publisher; sets pub_rate to its rate, and to
# "failed: ITS OUTPUT" if it failed.
pub_wait() {
  local rc=0
  wait "$pub_pid" || rc=$?
  pub_pid=""
  pub_rate=$(sed -n 's/^mqtt_pub: .*: \([0-9]*\) msg\/s$/\1/p' "$work/pub.out")
  [ "$rc" = 0 ] || pub_rate="failed: $(tr '\n' ' ' < "$work/pub.out")"
}

echo "publisher: $conns connections, $window messages in flight each; $n messages to $sensors sensors"
for qos in 0 1; do
  # The bare subscriber: done when it has n messages (or after 120 s).
  "$bin/tests/bench_mqtt_sub" "$port" 'bench/#' "$qos" "$n" 120 > "$work/sub.out" &
  sub=$!
  until grep -q ready "$work/sub.out" 2>/dev/null; do
    kill -0 "$sub" 2>/dev/null || { echo "bench_mqtt_sub exited: $(cat "$work/sub.out")"; exit 1; }
    sleep 0.02
  done
  t0=$(now)
  pub "$qos" "bench-pub-bare-$qos"
  wait "$sub" || true
  t1=$(now)
  pub_wait
  pub_bare=$pub_rate
  got_sub=$(sed -n 's/^received \([0-9]*\).*/\1/p' "$work/sub.out")
  bare=$(awk -v a="$t0" -v b="$t1" -v n="$got_sub" 'BEGIN { printf "%.0f", n / (b - a) }')

  # foyerd, from an empty database, with a session of its own per QoS.
  rm -f "$work"/foyer.db*
  sed "s/QOS/$qos/g" "$work/foyer.conf.in" > "$work/foyer.conf"
  : > "$work/foyerd.log"
  "$bin/foyerd" --config "$work/foyer.conf" 2> "$work/foyerd.log" &
  foyerd=$!
  until grep -q "mqtt: subscribed" "$work/foyerd.log"; do
    kill -0 "$foyerd" 2>/dev/null || { echo "foyerd exited: $(cat "$work/foyerd.log")"; exit 1; }
    sleep 0.05
  done
  t0=$(now)
  pub "$qos" "bench-pub-foyerd-$qos"
  want=$((2 * n))
  last=-1
  stable=0
  while :; do
    c=$(count)
    [ "$c" -ge "$want" ] && break
    if [ "$c" = "$last" ]; then stable=$((stable + 1)); else stable=0; fi
    [ "$stable" -ge 50 ] && break # 5 s without progress: report what is missing
    last=$c
    sleep 0.1
  done
  t1=$(now)
  pub_wait
  pub_foyerd=$pub_rate
  kill -TERM "$foyerd"
  wait "$foyerd" || true
  foyerd=""
  stored=$(count)
  rate=$(awk -v a="$t0" -v b="$t1" -v n="$stored" 'BEGIN { printf "%.0f", n / 2 / (b - a) }')
  ratio=$(awk -v f="$rate" -v b="$bare" 'BEGIN { r = 0; if (b > 0) r = 100 * f / b; printf "%.0f", r }')
  printf 'QoS %d: bare subscriber %s msg/s, %d of %d received, %d lost (publisher %s msg/s)\n' \
    "$qos" "$bare" "$got_sub" "$n" $((n - got_sub)) "$pub_bare"
  printf 'QoS %d: foyerd -> SQLite %s msg/s (%d%% of bare), %d of %d readings stored, %d lost (publisher %s msg/s)\n' \
    "$qos" "$rate" "$ratio" "$stored" "$want" $((want - stored)) "$pub_foyerd"
  if [ "$stored" -lt "$want" ]; then
    grep -E "warning|error|stopped" "$work/foyerd.log" | grep -v summar | tail -5 | sed 's/^/  foyerd: /'
  fi
done
