#!/usr/bin/env bash
# Issue 13, the server side: foyerd's HTTP server against real clients
# (curl, python3 sockets) on loopback, a real broker feeding readings, a real
# SQLite file.  Tokens: create, list, revoke; revoked, expired, paired-twice
# tokens and a tenant token after its tenancy ended are refused (401); roles
# give 401 or 403; pairing by JSON and by form; hostile requests (bad JSON,
# huge bodies and headers, bad query values, path traversal) get clean 4xx;
# /metrics passes promtool; /healthz says 503 while commits fail and 200
# again after; the [http] config refusals; reload; stop within seconds.
# (The slowloris part is tests/integration/http_slowloris.sh.)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mqtt_lib.sh"
# The pages' language files (web.LANG.conf), which [http] needs.
export FOYER_LANG_DIR="$FOYER_SRC/config"

mqtt_setup http
# The database locker below waits for this file: never leave it behind.
trap 'touch "$work/unlock"; mqtt_cleanup' EXIT
hport=$(free_port)
base="http://127.0.0.1:$hport"
mkdir -p "$work/web/css"
echo '<!doctype html><title>t</title>' > "$work/web/index.html"
echo 'body{}' > "$work/web/css/a.css"
echo 'SECRET' > "$work/secret.txt"
ln -s "$work/secret.txt" "$work/web/link.txt"

http_conf() { # extra [http] lines on stdin
  {
    foyer_base_conf
    cat <<CONF
[tenancy t1]
dwelling = d1
start = 2020-01-01
[tenancy t0]
dwelling = a01
start = 2019-01-01
end = 2019-12-31
[mqtt]
port = $port
client_id = foyerd-http
[sensor s0]
topic = tele/s0/SENSOR
preset = tasmota
dwelling = d1
timestamp_field = Time
[http]
listen = 127.0.0.1
port = $hport
web_dir = $work/web
CONF
    cat
  } > "$work/foyer.conf"
}
echo "behind_proxy = yes" | http_conf

ctl() { "$FOYER_BIN/foyerctl" --config "$work/foyer.conf" "$@"; }
# status of a request: code [curl args...]
code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
expect() { # want what curl-args...
  local want=$1 what=$2 got
  shift 2
  got=$(code "$@") || true
  [ "$got" = "$want" ] || fail "$what: HTTP $got, expected $want"
}
http_up() { [ "$(code "$base/healthz")" = 200 ]; }

# ---- configuration refusals (--check-config, FILE:LINE) ----
cp "$work/foyer.conf" "$work/ok.conf"
sed 's/^listen = 127.0.0.1$/listen = 0.0.0.0/; /^behind_proxy/d' "$work/ok.conf" > "$work/bad.conf"
if "$FOYER_BIN/foyerd" --check-config --config "$work/bad.conf" 2> "$work/check.err"; then
  fail "listen = 0.0.0.0 without TLS nor behind_proxy accepted"
fi
line=$(grep -n '^listen = 0.0.0.0' "$work/bad.conf" | cut -d: -f1)
grep -q "bad.conf:$line: http: listen = 0.0.0.0 is not a loopback address" "$work/check.err" ||
  fail "no FILE:LINE refusal: $(cat "$work/check.err")"
sed 's/^listen = 127.0.0.1$/listen = 0.0.0.0/' "$work/ok.conf" > "$work/proxy.conf"
"$FOYER_BIN/foyerd" --check-config --config "$work/proxy.conf" > /dev/null ||
  fail "behind_proxy = yes refused"
printf 'tls_cert = %s/none.pem\n' "$work" >> "$work/bad2.conf.in"
{ cat "$work/ok.conf"; cat "$work/bad2.conf.in"; } > "$work/bad2.conf"
if "$FOYER_BIN/foyerd" --check-config --config "$work/bad2.conf" 2> "$work/check2.err"; then
  fail "tls_cert without tls_key accepted"
fi
grep -q "tls_cert and tls_key go together" "$work/check2.err" || fail "$(cat "$work/check2.err")"

# ---- start ----
start_foyerd
wait_for 10 http_up || fail "http server not up: $(tail -5 "$work/foyerd.log")"
now=$(date -u +%s)
i=0
publish() { # one reading of s0, a minute after the last, the index rising
  i=$((i + 1))
  mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -t tele/s0/SENSOR \
    -m "{\"Time\":\"$(date -u -d @$((now - 7200 + i * 60)) +%Y-%m-%dT%H:%M:%S)\",\"ENERGY\":{\"Total\":$((1000 + i)).5,\"Power\":100}}"
}

# ---- tokens ----
E=$(ctl token create --role energy-team --name team1 2> "$work/create.err")
[ ${#E} = 43 ] || fail "energy-team token is ${#E} characters: $E"
[[ $E =~ ^[A-Za-z0-9_-]{43}$ ]] || fail "token not base64url: $E"
T=$(ctl token create --role tenant --dwelling d1 --name tab-d1 2> /dev/null)
A=$(ctl token create --role ambassador --buildings b1 2> /dev/null)
if ctl token create --role tenant --dwelling a01 > "$work/none.out" 2> "$work/none.err"; then
  fail "tenant token created for a dwelling without a current tenancy"
fi
[ ! -s "$work/none.out" ] || fail "a refused create printed $(cat "$work/none.out")"
grep -q 'no current tenancy' "$work/none.err" || fail "unclear refusal: $(cat "$work/none.err")"
ctl token create --role tenant --buildings b1 > /dev/null 2>&1 && fail "tenant with --buildings accepted"
ctl token create --role tenant --dwelling d1 --expires 2000-01-01 > /dev/null 2>&1 &&
  fail "an expiry in the past accepted"
ctl token create --role energy-team --name team1 > /dev/null 2>&1 && fail "duplicate name accepted"
ctl token --help | grep -q 'token create' || fail "token --help"
ctl token list > "$work/list.txt"
grep -q 'team1 .*energy-team .*active' "$work/list.txt" || fail "list: $(cat "$work/list.txt")"
grep -q 'tab-d1 .*tenant .*active .*d1/t1' "$work/list.txt" || fail "list: $(cat "$work/list.txt")"
n=$(ctl token list --json | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$n" = 3 ] || fail "list --json: $n tokens"
# Only hashes are stored.
[ "$(sql "SELECT count(*) FROM tokens WHERE hex(hash) = upper('$(printf %s "$E" | sha256sum | cut -c1-64)')")" = 1 ] ||
  fail "the stored hash is not the token's SHA-256"
cat "$work"/foyer.db* | grep -aq -- "$E" && fail "the token itself is in the database"

# ---- roles: /metrics (behind_proxy: loopback is not trusted) ----
expect 401 "metrics without credentials" "$base/metrics"
expect 401 "metrics with a wrong token" -H "Authorization: Bearer ${E%?}x" "$base/metrics"
expect 401 "metrics with a short token" -H "Authorization: Bearer abc" "$base/metrics"
expect 403 "metrics as tenant" -H "Authorization: Bearer $T" "$base/metrics"
expect 403 "metrics as ambassador" -H "Authorization: Bearer $A" "$base/metrics"
expect 200 "metrics as energy team" -H "Authorization: Bearer $E" "$base/metrics"
expect 200 "metrics with the cookie" -b "foyer_token=$E" "$base/metrics"
curl -s -D "$work/h401" -o "$work/b401" "$base/metrics" || true
grep -qi '^WWW-Authenticate: Bearer' "$work/h401" || fail "401 without WWW-Authenticate"
/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert set(d)=={"error","detail"}, d' \
  "$work/b401" || fail "401 body is not {error, detail}: $(cat "$work/b401")"

# ---- revoked, expired ----
ctl token revoke tab-d1 2> /dev/null
expect 401 "revoked token" -H "Authorization: Bearer $T" "$base/metrics"
ctl token revoke tab-d1 > /dev/null 2>&1 && fail "revoking twice succeeded"
ctl token revoke nosuch > /dev/null 2>&1 && fail "revoking an unknown token succeeded"
id=$(ctl token list --json | /usr/bin/python3 -c 'import json,sys; print([t["id"] for t in json.load(sys.stdin) if t["role"]=="ambassador"][0])')
ctl token revoke "$id" 2> /dev/null
expect 401 "token revoked by id" -H "Authorization: Bearer $A" "$base/metrics"
X=$(ctl token create --role energy-team --expires "$(date -d "+3 seconds" -Iseconds)" 2> /dev/null) ||
  fail "token with an expiry 3 s ahead refused"
expired() { [ "$(code -H "Authorization: Bearer $X" "$base/metrics")" = 401 ]; }
wait_for 10 expired || fail "expired token still accepted"
ctl token list | grep -q ' expired ' || fail "list does not say expired"

# ---- pairing ----
P=$(ctl token create --role tenant --dwelling d1 --pairing --name pair1 2> /dev/null)
[[ $P =~ ^[ABCDEFGHJKMNPQRSTUVWXYZ23456789]{8}$ ]] || fail "pairing code $P"
ctl token list | grep -q 'pair1 .* pairing ' || fail "list: pairing state"
expect 400 "pair with bad JSON" -X POST -H 'Content-Type: application/json' -d '{"code": ' "$base/api/v1/pair"
expect 400 "pair with a number" -X POST -H 'Content-Type: application/json' -d '{"code": 12}' "$base/api/v1/pair"
expect 400 "pair without a body" -X POST "$base/api/v1/pair"
curl -s -X POST -H 'Content-Type: application/json' -d "{\"code\": \"$(echo "$P" | tr A-Z a-z)\"}" \
  "$base/api/v1/pair" > "$work/pair.json"
PT=$(/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["role"]=="tenant", d; print(d["token"])' "$work/pair.json") ||
  fail "pair: $(cat "$work/pair.json")"
expect 403 "paired token authenticates (tenant)" -H "Authorization: Bearer $PT" "$base/metrics"
expect 401 "a code paired twice" -X POST -H 'Content-Type: application/json' -d "{\"code\": \"$P\"}" "$base/api/v1/pair"
ctl token list | grep -q 'pair1 .* active ' || fail "list: paired token not active"
# The form: cookie and 303 to the tablet.
P2=$(ctl token create --role tenant --dwelling d1 --pairing 2> /dev/null)
curl -s -D "$work/h303" -o /dev/null -d "code=$P2" "$base/pair"
grep -q '^HTTP/1.1 303' "$work/h303" || fail "form pair: $(head -1 "$work/h303")"
grep -qi '^Location: /tablet' "$work/h303" || fail "form pair location: $(cat "$work/h303")"
cookie=$(grep -i '^Set-Cookie: foyer_token=' "$work/h303" | tr -d '\r')
[[ $cookie == *HttpOnly* && $cookie == *SameSite=Strict* ]] || fail "cookie: $cookie"
[[ $cookie != *Secure* ]] || fail "Secure cookie without TLS: $cookie"
CT=$(echo "$cookie" | sed 's/^[^=]*=\([^;]*\);.*/\1/')
expect 403 "cookie from the form authenticates" -b "foyer_token=$CT" "$base/metrics"
curl -s -D "$work/hbad" -o /dev/null -d "code=$P2" "$base/pair"
grep -qi '^Location: /pair?error=1' "$work/hbad" || fail "form pair twice: $(cat "$work/hbad")"
# Five wrong codes in all kill a waiting code.
P3=$(ctl token create --role tenant --dwelling d1 --pairing 2> /dev/null)
for k in 1 2 3 4 5; do
  expect 401 "wrong code $k" -X POST -H 'Content-Type: application/json' -d '{"code": "AAAAAAAA"}' "$base/api/v1/pair"
done
expect 401 "a code after five wrong tries" -X POST -H 'Content-Type: application/json' \
  -d "{\"code\": \"$P3\"}" "$base/api/v1/pair"

# ---- hostile requests ----
head -c 10000 /dev/zero | tr '\0' a > "$work/big"
expect 413 "huge body" -X POST -H 'Content-Type: application/json' --data-binary @"$work/big" "$base/api/v1/pair"
expect 413 "huge chunked body" -X POST -H 'Transfer-Encoding: chunked' -H 'Content-Type: application/json' \
  --data-binary @"$work/big" "$base/api/v1/pair"
hdr=$(head -c 40000 /dev/zero | tr '\0' b)
got=$(code -H "X-Big: $hdr" "$base/healthz") || true
case $got in 431 | 413 | 400) ;; *) fail "huge header: HTTP $got" ;; esac
long=$(head -c 300 /dev/zero | tr '\0' c)
expect 400 "long query value" "$base/healthz?period=$long"
q=$(for k in $(seq 1 20); do printf 'a%d=1&' "$k"; done)
expect 400 "too many query arguments" "$base/healthz?$q"
expect 400 "control byte in a query value" "$base/healthz?x=%01"
expect 400 "form field too long" -d "code=$long" "$base/pair"
expect 200 "a static file" "$base/index.html"
expect 200 "a static file in a folder" "$base/css/a.css"
curl -s -D "$work/hcss" -o /dev/null "$base/css/a.css"
grep -qi '^Content-Type: text/css' "$work/hcss" || fail "css type: $(cat "$work/hcss")"
for p in '/../secret.txt' '/%2e%2e/secret.txt' '/css/..%2f..%2fsecret.txt' '/link.txt' \
  '/css/%2e%2e/%2e%2e/secret.txt' '/.%2e/secret.txt' '//etc/passwd' '/%00index.html'; do
  body=$(curl -s --path-as-is "$base$p") || true
  [[ $body != *SECRET* && $body != *root:* ]] || fail "path traversal: $p served $body"
  got=$(code --path-as-is "$base$p") || true
  case $got in 404 | 400) ;; *) fail "path traversal $p: HTTP $got" ;; esac
done
expect 404 "unknown route" "$base/api/v1/nothing"
expect 405 "DELETE on /healthz" -X DELETE "$base/healthz"
curl -s -D "$work/h405" -o /dev/null -X DELETE "$base/healthz"
grep -qi '^Allow: GET' "$work/h405" || fail "405 without Allow: $(cat "$work/h405")"
# Garbage on the socket: a clean close or 400, and the server still answers.
printf 'GARBAGE\r\n\r\n' | timeout 5 /usr/bin/python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(sys.stdin.buffer.read())
print(s.recv(100).decode("latin-1").split("\r\n")[0])' "$hport" > "$work/garbage" || true
[ -z "$(tr -d "\n" < "$work/garbage")" ] || grep -q '^HTTP/1.1 400' "$work/garbage" || fail "garbage: $(cat "$work/garbage")"
http_up || fail "server down after hostile requests"

# ---- /metrics passes promtool, counts what happened ----
for k in 1 2 3; do publish; done
wait_for 10 readings_at_least s0.energy 3 || fail "readings not ingested"
# The driver reports a sensor's health after its messages: poll for it.
metrics_has_sensor() {
  curl -s -H "Authorization: Bearer $E" "$base/metrics" > "$work/metrics.txt"
  grep -q '^foyer_mqtt_messages_total{sensor="s0"} [1-9]' "$work/metrics.txt"
}
wait_for 70 metrics_has_sensor || fail "no health of s0 in /metrics"
promtool check metrics < "$work/metrics.txt" > "$work/promtool.out" 2>&1 ||
  fail "promtool: $(cat "$work/promtool.out")"
grep -q '^foyer_readings_emitted_total{driver="mqtt"} [1-9]' "$work/metrics.txt" || fail "emitted: $(grep emitted "$work/metrics.txt")"
grep -q '^foyer_mqtt_messages_total{sensor="s0"} [1-9]' "$work/metrics.txt" || fail "mqtt messages: $(grep mqtt "$work/metrics.txt")"
grep -q '^foyer_http_requests_total{route="/metrics",status="401"} [1-9]' "$work/metrics.txt" || fail "http counts"
grep -q '^foyer_commit_duration_seconds_count [1-9]' "$work/metrics.txt" || fail "commit histogram"
grep -q '^foyer_mqtt_connections_total 1$' "$work/metrics.txt" || fail "mqtt connections: $(grep connections "$work/metrics.txt")"

# ---- reload: /metrics open to loopback without behind_proxy; tenancy ended ----
T2=$(ctl token create --role tenant --dwelling d1 2> /dev/null)
expect 403 "tenant before the tenancy ends" -H "Authorization: Bearer $T2" "$base/metrics"
sed -i '/^behind_proxy/d' "$work/foyer.conf"
sed -i "s/^start = 2020-01-01$/start = 2020-01-01\nend = $(date -d yesterday +%Y-%m-%d)/" "$work/foyer.conf"
before=$(grep -c 'http: listening' "$work/foyerd.log")
kill -HUP "$foyerd_pid"
wait_for 10 eval '[ "$(grep -c "http: listening" "$work/foyerd.log")" -gt "$before" ]' ||
  fail "no restart on reload: $(tail -5 "$work/foyerd.log")"
expect 401 "tenant token after its tenancy ended" -H "Authorization: Bearer $T2" "$base/metrics"
expect 200 "metrics from loopback" "$base/metrics"
# The reload restarted the MQTT driver: a second connection, counted over
# the reload.
reconnected() { curl -s "$base/metrics" | grep -q '^foyer_mqtt_connections_total 2$'; }
wait_for 10 reconnected || fail "connections after reload: $(curl -s "$base/metrics" | grep connections)"

# ---- /healthz: 503 while commits fail (database locked), 200 after ----
/usr/bin/python3 - "$work/foyer.db" "$work/locked" "$work/unlock" <<'PY' &
import os, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
open(sys.argv[2], "w").close()
while not os.path.exists(sys.argv[3]):
    time.sleep(0.05)
db.execute("ROLLBACK")
PY
locker=$!
wait_for 10 test -e "$work/locked" || fail "could not lock the database"
publish
# The writer waits for the lock (its heartbeat stops: "the writer has
# stopped turning"), then its commit fails and it retries: "commits are
# failing".
unhealthy() {
  [ "$(curl -s -o "$work/health.json" -w '%{http_code}' "$base/healthz")" = 503 ] &&
    grep -q '"reason": "commits are failing' "$work/health.json"
}
wait_for 30 unhealthy || fail "healthz never 503 while commits fail: $(cat "$work/health.json")"
touch "$work/unlock"
wait "$locker"
publish
wait_for 30 http_up || fail "healthz not 200 again: $(curl -s "$base/healthz")"

# ---- guessing: dead tokens and wrong codes from one address are answered
# 429 (with Retry-After) once they pass the limit; a valid token is not ----
n=0
while [ "$(code -H "Authorization: Bearer guess$n" "$base/api/v1/me")" != 429 ]; do
  n=$((n + 1))
  [ "$n" -le 25 ] || fail "25 dead tokens in a row never answered 429"
done
[ "$n" -ge 1 ] || fail "the first dead token answered 429"
curl -s -D - -o /dev/null -H "Authorization: Bearer guess" "$base/api/v1/me" |
  grep -qi '^Retry-After: [0-9]' || fail "a 429 without Retry-After"
expect 429 "a pairing code tried while throttled" -X POST -H 'Content-Type: application/json' \
  --data '{"code": "ABCDEFGH"}' "$base/api/v1/pair"
expect 200 "a valid token while its address is throttled" -H "Authorization: Bearer $E" \
  "$base/metrics"

# ---- stop ----
t0=$SECONDS
stop_foyerd
[ $((SECONDS - t0)) -lt 10 ] || fail "stop took $((SECONDS - t0)) s"
echo "http_server: OK (tokens, roles, pairing, hostile requests, promtool, healthz 503/200, reload)"
