#!/usr/bin/env bash
# Issue 13: slow clients.  A slowloris (tests/integration/http_slowloris.py:
# connections from several loopback addresses that never finish their
# headers) holds at most FOYER_HTTP_CONN_PER_IP_MAX (8) connections per
# address: the rest are closed at once.  Meanwhile another client is served,
# readings keep being ingested from a real broker, and foyerd stops within
# seconds with every slow connection still open.  Then the same over TLS
# (a certificate made here with openssl), with the Secure cookie.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mqtt_lib.sh"
# The pages' language files (web.LANG.conf), which [http] needs.
export FOYER_LANG_DIR="$FOYER_SRC/config"

mqtt_setup slowloris
slow_pid=""
trap '[ -n "$slow_pid" ] && kill "$slow_pid" 2>/dev/null; mqtt_cleanup' EXIT
hport=$(free_port)
base="http://127.0.0.1:$hport"
write_conf() { # extra [http] lines on stdin
  {
    foyer_base_conf
    cat <<CONF
[tenancy t1]
dwelling = d1
start = 2020-01-01
[mqtt]
port = $port
client_id = foyerd-slow
[sensor s0]
topic = tele/s0/SENSOR
preset = tasmota
dwelling = d1
timestamp_field = Time
[http]
listen = 127.0.0.1
port = $hport
web_dir = $work
CONF
    cat
  } > "$work/foyer.conf"
}
write_conf < /dev/null
start_foyerd
wait_for 10 eval '[ "$(curl -s -o /dev/null -w "%{http_code}" "$base/healthz")" = 200 ]' ||
  fail "http not up: $(tail -5 "$work/foyerd.log")"

now=$(date -u +%s)
i=0
publish() {
  i=$((i + 1))
  mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -t tele/s0/SENSOR \
    -m "{\"Time\":\"$(date -u -d @$((now - 7200 + i * 60)) +%Y-%m-%dT%H:%M:%S)\",\"ENERGY\":{\"Total\":$((1000 + i)).5,\"Power\":100}}"
}

# 5 addresses x 12 connections: 8 per address held, 4 per address closed.
/usr/bin/python3 "$(dirname "$0")/http_slowloris.py" "$hport" "$work/slow.status" 5 12 &
slow_pid=$!
wait_for 20 test -s "$work/slow.status" || fail "slowloris did not report"
read -r _ held _ closed < "$work/slow.status"
[ "$held" = 40 ] && [ "$closed" = 20 ] || fail "slowloris: held $held, closed $closed (expected 40, 20)"

echo "foyerd RSS with the slowloris held: $(ps -o rss= -p "$foyerd_pid") KiB" >&2
# Another client is served at once, and readings still flow to the database.
t0=$(date +%s%N)
[ "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$base/healthz")" = 200 ] ||
  fail "healthz not answered under slowloris"
echo "healthz under slowloris: $((($(date +%s%N) - t0) / 1000000)) ms" >&2
for k in 1 2 3 4 5; do publish; done
wait_for 10 readings_at_least s0.energy 5 || fail "readings not ingested under slowloris: $(count_readings s0.energy)"

# Stop with every slow connection open: within seconds.
t0=$SECONDS
kill -TERM "$foyerd_pid"
wait_for 10 eval '! kill -0 "$foyerd_pid" 2>/dev/null' || fail "foyerd did not stop within 10 s under slowloris"
wait "$foyerd_pid" || fail "foyerd exited $?: $(tail -5 "$work/foyerd.log")"
foyerd_pid=""
echo "stop under slowloris: $((SECONDS - t0)) s" >&2
kill "$slow_pid"
wait "$slow_pid" 2>/dev/null || true
slow_pid=""

# ---- TLS ----
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" \
  -days 2 -subj "/CN=localhost" -addext "subjectAltName=IP:127.0.0.1" 2> /dev/null
printf 'tls_cert = %s/cert.pem\ntls_key = %s/key.pem\n' "$work" "$work" | write_conf
start_foyerd
tbase="https://127.0.0.1:$hport"
wait_for 10 eval '[ "$(curl -s --cacert "$work/cert.pem" -o /dev/null -w "%{http_code}" "$tbase/healthz")" = 200 ]' ||
  fail "https not up: $(tail -5 "$work/foyerd.log")"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/healthz")" != 200 ] || fail "plain HTTP answered on the TLS port"
P=$("$FOYER_BIN/foyerctl" --config "$work/foyer.conf" token create --role tenant --dwelling d1 --pairing 2> /dev/null)
curl -s --cacert "$work/cert.pem" -D "$work/h303" -o /dev/null -d "code=$P" "$tbase/pair"
grep -i '^Set-Cookie: foyer_token=' "$work/h303" | grep -q 'Secure' || fail "no Secure cookie under TLS: $(cat "$work/h303")"
stop_foyerd
echo "http_slowloris: OK (8 connections per address held, the rest closed; served, ingesting and stopped in seconds; TLS)"
