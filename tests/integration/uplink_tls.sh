#!/usr/bin/env bash
# The fleet uplink over TLS with a test CA made here with openssl, the
# broker asking for a client certificate: with ca_file, cert_file and
# key_file, foyerd verifies the central broker (IP SAN 127.0.0.1), is
# accepted, and its items reach the collector peer (on a plain listener of
# the same broker) and are acked, in MQTT 3.1.1 (protocol = 311; MQTT 5 is
# what uplink_flow runs); with another CA's file it refuses the
# broker, says so, keeps running, and its items stay in the outbox.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mqtt_lib.sh"

work=$(mktemp -d /tmp/foyer-uplink-tls-XXXXXX)
peer_pid=""
cleanup() {
  if [ -n "$peer_pid" ]; then kill -KILL "$peer_pid" 2>/dev/null || true; fi
  mqtt_cleanup
}
trap cleanup EXIT
cd "$work"
mkca() { # name
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=Foyer test $1" \
    -keyout "$1.key" -out "$1.crt" 2>/dev/null
}
mkcert() { # name cn extfile
  openssl req -newkey rsa:2048 -nodes -subj "/CN=$2" -keyout "$1.key" -out "$1.csr" 2>/dev/null
  openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
    ${3:+-extfile "$3"} -out "$1.crt" 2>/dev/null
}
mkca ca
mkca wrongca
printf 'subjectAltName = IP:127.0.0.1\n' > san.ext
mkcert server 127.0.0.1 san.ext
mkcert gw gw-tls
chmod 644 ./*.key

port=$(free_port)
tls_port=$(free_port)
broker_conf "$port" <<CONF
listener $tls_port 127.0.0.1
cafile $work/ca.crt
certfile $work/server.crt
keyfile $work/server.key
require_certificate true
CONF
start_broker "$port"
wait_for 10 port_open "$tls_port" || fail "TLS listener not up"

write_conf() { # ca_file [protocol]
  {
    foyer_base_conf
    cat <<CONF
[channel e1]
building = b1
quantity = electricity
[uplink]
host = 127.0.0.1
port = $tls_port
gateway_id = gw-tls
tls = true
ca_file = $1
cert_file = $work/gw.crt
key_file = $work/gw.key
settle_s = 0
protocol = ${2:-5}
CONF
  } > "$work/foyer.conf"
}
outbox() { sql "SELECT count(*) FROM uplink_outbox"; }

printf 'channel,time,value\ne1,2026-10-01T00:00:00Z,10\ne1,2026-10-01T06:00:00Z,16\n' > h.csv
write_conf "$work/wrongca.crt"
"$FOYER_BIN/foyerctl" --config foyer.conf import h.csv > /dev/null
"$FOYER_BIN/tests/foyer-uplink-peer" --port "$port" --out peer.out --protocol 311 > peer.ready 2> peer.err &
peer_pid=$!
wait_for 10 grep -q ready peer.ready || fail "peer did not subscribe"

# The wrong CA: refused at the handshake, retried, nothing sent, foyerd up.
"$FOYER_BIN/foyerd" --config foyer.conf 2>> foyerd.log &
foyerd_pid=$!
wait_for 15 grep -q "uplink: .*127.0.0.1:$tls_port" foyerd.log ||
  fail "wrong certificate not reported: $(tail -5 foyerd.log)"
wait_for 10 eval '[ "$(outbox)" -gt 0 ]' || fail "nothing queued"
kill -0 "$foyerd_pid" || fail "foyerd died on a TLS refusal"
! grep -q "uplink: connected" foyerd.log || fail "connected to a broker it cannot verify"
[ ! -s peer.out ] || fail "items reached the peer without a verified broker"
stop_foyerd

# The right CA and the client certificate: connected, sent, acked.
write_conf "$work/ca.crt" 311
"$FOYER_BIN/foyerd" --config foyer.conf 2>> foyerd.log &
foyerd_pid=$!
wait_for 15 grep -q "uplink: connected to 127.0.0.1:$tls_port as foyer-uplink-gw-tls (MQTT 3.1.1)" foyerd.log ||
  fail "no TLS connection: $(tail -5 foyerd.log)"
wait_for 15 eval '[ "$(outbox)" = 0 ]' || fail "items not acked over TLS: $(outbox) waiting"
grep -q $'rollup\trollup|e1|day|' peer.out || fail "no daily figure at the peer: $(cat peer.out)"
stop_foyerd
echo "uplink_tls: OK"
