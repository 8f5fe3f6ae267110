#!/usr/bin/env bash
# Push of the summaries to a real local HTTP receiver that answers 500, then
# does not answer (timeout), then 429 with Retry-After, then 200: every
# summary (2 dwellings x last closed week and month) is delivered exactly
# once by Idempotency-Key, in order per dwelling, with the bearer token; a
# restart of foyerd in the middle loses nothing and computes nothing twice.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/push_lib.sh" push
start_receiver --script 500,timeout,429,200 --hang 3
echo "s3cret-token" > "$work/push.token"
{
  push_base_conf
  cat <<CONF
[dwelling b]
building = b1
surface_m2 = 60
heating = electric
consent = true
[channel b-elec]
dwelling = b
quantity = electricity
[tariff elec]
quantity = electricity
price = 0.1952
[push receiver]
url = http://127.0.0.1:$port/summaries
insecure = yes
token_file = push.token
timeout = 1
CONF
} > "$work/foyer.conf"

# Hourly history of the last 50 days: the last closed week and month.
python3 - "$work/history.csv" <<'PY'
import sys, time
now = int(time.time()) // 3600 * 3600
with open(sys.argv[1], "w") as f:
    f.write("channel,time,value\n")
    for i, ts in enumerate(range(now - 50 * 86400, now, 3600)):
        t = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
        f.write(f"a-elec,{t},{1000 + 0.5 * i:.1f}\n")
        f.write(f"b-elec,{t},{2000 + 0.8 * i:.1f}\n")
PY
"$FOYER_BIN/foyerctl" --config "$work/foyer.conf" import "$work/history.csv" >/dev/null

"$FOYER_BIN/foyerd" --config "$work/foyer.conf" 2> "$work/foyerd.log" &
pid=$!
# The first answer (500) has come: stop foyerd in the middle of the sequence.
wait_for 20 grep -q '"outcome": "500"' "$work/recv.log" || fail "no push: $(cat "$work/foyerd.log")"
kill -TERM "$pid"
wait "$pid" || fail "foyerd did not exit cleanly: $(cat "$work/foyerd.log")"
pid=""
pending=$(sqlite3 "$work/foyer.db" "SELECT count(*) FROM outbox WHERE state = 0")
[ "$pending" -ge 1 ] || fail "nothing pending after the restart point"

"$FOYER_BIN/foyerd" --config "$work/foyer.conf" 2>> "$work/foyerd.log" &
pid=$!
delivered() {
  [ "$(sqlite3 "$work/foyer.db" "SELECT count(*) FROM outbox WHERE state = 1")" = 4 ]
}
wait_for 40 delivered || fail "not all delivered: $(sqlite3 "$work/foyer.db" \
  'SELECT id, key, state, attempts, last_error FROM outbox'; cat "$work/foyerd.log")"
kill -TERM "$pid"
wait "$pid" || fail "foyerd did not exit cleanly"
pid=""

[ "$(sqlite3 "$work/foyer.db" "SELECT count(*) FROM summaries")" = 4 ] || fail "summaries"
[ "$(grep -c 'dwellings computed' "$work/foyerd.log")" = 2 ] ||
  fail "summaries computed again after the restart: $(cat "$work/foyerd.log")"
sqlite3 "$work/foyer.db" "SELECT dwelling, key FROM outbox ORDER BY id" > "$work/order"

python3 - "$work/recv.log" "$work/order" <<'PY' || fail "receiver log: $(cat "$work/recv.log")"
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
order = [l.strip().split("|") for l in open(sys.argv[2])]
keys = [k for _, k in order]
outcomes = [r["outcome"] for r in reqs[:4]]
assert outcomes == ["500", "timeout", "429", "200"], outcomes
accepted = [r["key"] for r in reqs if r["outcome"] == "200" and not r["duplicate"]]
assert sorted(accepted) == sorted(keys) and len(set(accepted)) == 4, accepted
for r in reqs:
    assert r["auth"] == "Bearer s3cret-token", r
    assert r["type"] == "application/json", r
    assert r["key"].startswith("foyer-summary-v2/b1/"), r
    assert r["key"].endswith("/" + r["dwelling"] + "/" + r["period"]), r
# In order per dwelling: no request for an item before the earlier items of
# its dwelling were accepted.
for dw in ("a", "b"):
    mine = [k for d, k in order if d == dw]
    done = set()
    for r in reqs:
        if r["dwelling"] != dw:
            continue
        i = mine.index(r["key"])
        assert all(k in done for k in mine[:i]), (dw, r, done)
        if r["outcome"] == "200":
            done.add(r["key"])
print("push: %d requests, %d summaries accepted once each, %d duplicates answered" %
      (len(reqs), len(accepted), sum(r["duplicate"] for r in reqs)))
PY
echo "push_retry: OK"
