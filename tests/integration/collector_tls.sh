#!/usr/bin/env bash
# foyer-collector over TLS with a password: a test CA made here with
# openssl, a broker with a TLS listener (IP SAN 127.0.0.1) and a password
# file; the collector verifies the broker against ca_file, logs in with
# password_file and stores a fake gateway's items (published on the plain
# listener).  With another CA's file it refuses the broker; with a wrong
# password the broker refuses it: either way it says so, keeps running and
# retries.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mqtt_lib.sh"
. "$(dirname "$0")/pg_lib.sh"

work=$(mktemp -d /tmp/foyer-collector-tls-XXXXXX)
trap pg_cleanup EXIT
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
mosquitto_passwd -b -c passwd collector 's3cret pass' 2>/dev/null
chmod 644 passwd
printf 's3cret pass\n' > collector.pw
printf 'wrong\n' > wrong.pw

port=$(free_port)
tls_port=$(free_port)
broker_conf "$port" <<CONF
password_file $work/passwd
listener $tls_port 127.0.0.1
cafile $work/ca.crt
certfile $work/server.crt
keyfile $work/server.key
CONF
start_broker "$port"
wait_for 10 port_open "$tls_port" || fail "TLS listener not up"
pg_setup

tls_conf() { # name ca_file password_file
  collector_conf "$1"
  sed -i "s/^port = .*/port = $tls_port\ntls = true\nca_file = ${2//\//\\/}\nusername = collector\npassword_file = ${3//\//\\/}/" \
    "$work/$1.conf"
}
tls_conf good "$work/ca.crt" "$work/collector.pw"
"$FOYER_BIN/central/foyer-collector" --check-config --config "$work/good.conf" > /dev/null ||
  fail "config: $("$FOYER_BIN/central/foyer-collector" --check-config --config "$work/good.conf" 2>&1)"
"$FOYER_BIN/central/foyer-collector" --init-db --config "$work/good.conf" > /dev/null
start_collector good
grep -q "connected to 127.0.0.1:$tls_port" good.log || fail "no TLS connection line"
res=$("$FOYER_BIN/tests/foyer-fleet-gw" --port "$port" --gateways 1 --prefix t --hours 24 \
  --channels 2 --ack-timeout-ms 5000 --timeout-s 20) || fail "not acked over TLS: $res"
[ "$(psql_q "SELECT count(*) FROM rollup_hour")" = 48 ] || fail "rows over TLS"
stop_collector good

# The wrong CA: refused at the handshake, said, retried; never subscribed.
tls_conf wrongca "$work/wrongca.crt" "$work/collector.pw"
"$FOYER_BIN/central/foyer-collector" --config "$work/wrongca.conf" 2>> wrongca.log &
collector_pids[wrongca]=$!
wait_for 15 grep -q "mqtt: .*\(cannot connect\|connection lost\|refused\)" wrongca.log ||
  fail "wrong certificate not reported: $(tail -5 wrongca.log)"
kill -0 "${collector_pids[wrongca]}" || fail "collector died on a TLS refusal"
! grep -q "subscribed to" wrongca.log || fail "subscribed through a broker it cannot verify"
stop_collector wrongca

# A wrong password: the broker refuses, the collector says so and retries.
tls_conf wrongpw "$work/ca.crt" "$work/wrong.pw"
"$FOYER_BIN/central/foyer-collector" --config "$work/wrongpw.conf" 2>> wrongpw.log &
collector_pids[wrongpw]=$!
wait_for 15 grep -q "mqtt: connection refused" wrongpw.log ||
  fail "refused password not reported: $(tail -5 wrongpw.log)"
! grep -q "subscribed to" wrongpw.log || fail "subscribed with a wrong password"
stop_collector wrongpw
echo "collector_tls: TLS verified, password used, wrong CA and password refused"
