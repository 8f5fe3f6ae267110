#!/usr/bin/env bash
# TLS push: a receiver with a certificate of a test CA (made here with
# openssl).  The endpoint given that CA delivers every summary; the endpoint
# given another CA refuses the server (verification on by default): nothing
# is delivered there, the failure is logged and counted in the outbox row,
# and the items stay pending for a retry.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/push_lib.sh" tls
cd "$work"
ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
openssl req -x509 $ec -keyout ca.key -out ca.pem -days 2 -subj "/CN=Foyer test CA" 2>/dev/null
openssl req -x509 $ec -keyout other.key -out other.pem -days 2 -subj "/CN=Another CA" 2>/dev/null
openssl req $ec -keyout srv.key -out srv.csr -subj "/CN=127.0.0.1" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' > srv.ext
openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 \
  -extfile srv.ext 2>/dev/null

start_receiver --tls srv.pem srv.key

{
  push_base_conf
  cat <<CONF
[push good]
url = https://127.0.0.1:$port/summaries
ca_file = ca.pem
timeout = 2
[push wrong-ca]
url = https://127.0.0.1:$port/summaries
ca_file = other.pem
timeout = 2
CONF
} > foyer.conf

python3 - history.csv <<'PY'
import sys, time
now = int(time.time()) // 3600 * 3600
with open(sys.argv[1], "w") as f:
    f.write("channel,time,value\n")
    for i, ts in enumerate(range(now - 40 * 86400, now, 3600)):
        t = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
        f.write(f"a-elec,{t},{1000 + 0.5 * i:.1f}\n")
PY
"$FOYER_BIN/foyerctl" --config foyer.conf import history.csv >/dev/null

"$FOYER_BIN/foyerd" --config foyer.conf 2> foyerd.log &
pid=$!
q() { sqlite3 foyer.db "$1"; }
good_done() { [ "$(q "SELECT count(*) FROM outbox WHERE endpoint = 'good' AND state = 1")" = 2 ]; }
bad_tried() { [ "$(q "SELECT count(*) FROM outbox WHERE endpoint = 'wrong-ca' AND attempts > 0")" -ge 1 ]; }
wait_for 20 good_done || fail "TLS push with the right CA failed: $(q 'SELECT * FROM outbox'; cat foyerd.log)"
wait_for 20 bad_tried || fail "no attempt with the wrong CA: $(cat foyerd.log)"
kill -TERM "$pid"
wait "$pid" || fail "foyerd did not exit cleanly"
pid=""

[ "$(q "SELECT count(*) FROM outbox WHERE endpoint = 'wrong-ca' AND state = 0")" = 2 ] ||
  fail "wrong-CA items are not pending: $(q 'SELECT * FROM outbox')"
q "SELECT last_error FROM outbox WHERE endpoint = 'wrong-ca' AND attempts > 0" |
  grep -qi "certificate" || fail "no certificate error recorded: $(q 'SELECT * FROM outbox')"
grep -q "push wrong-ca: .*retrying in" foyerd.log || fail "failure not logged: $(cat foyerd.log)"
[ "$(grep -c '"outcome": "200"' recv.log)" = 2 ] || fail "receiver: $(cat recv.log)"
echo "push_tls: OK"
