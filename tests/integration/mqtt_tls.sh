#!/usr/bin/env bash
# MQTT over TLS with a test CA made here with openssl: foyerd verifies the
# broker's certificate (IP SAN 127.0.0.1) against ca_file, connects and
# stores a reading; with another CA's file it refuses the broker, says so,
# keeps running and stores nothing.  The publisher uses a plain listener of
# the same broker.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mqtt_lib.sh"

work=$(mktemp -d /tmp/foyer-mqtt-tls-XXXXXX)
trap mqtt_cleanup EXIT
cd "$work"
mkca() { # name
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=Foyer test $1" \
    -keyout "$1.key" -out "$1.crt" 2>/dev/null
}
mkca ca
mkca wrongca
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout server.key -out server.csr 2>/dev/null
printf 'subjectAltName = IP:127.0.0.1\n' > san.ext
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
  -extfile san.ext -out server.crt 2>/dev/null
chmod 644 ./*.key

port=$(free_port)
tls_port=$(free_port)
broker_conf "$port" <<CONF
listener $tls_port 127.0.0.1
cafile $work/ca.crt
certfile $work/server.crt
keyfile $work/server.key
CONF
start_broker "$port"
wait_for 10 port_open "$tls_port" || fail "TLS listener not up"

write_conf() { # ca_file
  {
    foyer_base_conf
    cat <<CONF
[mqtt]
port = $tls_port
tls = true
ca_file = $1
client_id = foyerd-tls
[sensor s0]
topic = zigbee2mqtt/s0
preset = zigbee2mqtt
dwelling = d1
CONF
  } > "$work/foyer.conf"
}

write_conf "$work/ca.crt"
start_foyerd
grep -q "foyerd-tls (MQTT 5" foyerd.log || fail "no connection line"
mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -t zigbee2mqtt/s0 -m '{"temperature":21.5}'
wait_for 10 readings_at_least s0.temperature 1 || fail "no reading over TLS"
stop_foyerd

# The wrong CA: refused at the handshake, retried with backoff, nothing stored.
rm -f foyer.db foyer.db-wal foyer.db-shm
: > foyerd.log
write_conf "$work/wrongca.crt"
"$FOYER_BIN/foyerd" --config "$work/foyer.conf" 2>> "$work/foyerd.log" &
foyerd_pid=$!
wait_for 15 grep -q "mqtt: cannot connect to 127.0.0.1:$tls_port" foyerd.log ||
  fail "wrong certificate not reported: $(tail -5 foyerd.log)"
mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -t zigbee2mqtt/s0 -m '{"temperature":22.5}'
kill -0 "$foyerd_pid" || fail "foyerd died on a TLS refusal"
! grep -q "mqtt: connected" foyerd.log || fail "connected to a broker it cannot verify"
stop_foyerd
[ "$(count_readings s0.temperature)" = 0 ] || fail "stored a reading without a verified broker"
echo "mqtt_tls: OK"
