#!/usr/bin/env bash
# The fleet uplink end to end: the real foyerd publishes its outbox to a real
# mosquitto broker; a small collector peer (tests/sim/uplink_peer.c) writes
# each item to a file, then acks (the fleet protocol).  Checked:
#   1. items reach the peer in seq order with the protocol's fields; acked
#      items leave the outbox; a message the peer never acked (--skip 1) is
#      sent again after ack_timeout_s; every daily and consented hourly
#      rollup of the gateway reaches the peer with its figures;
#   2. hourly rollups of a dwelling without consent never leave the gateway
#      (its daily ones do);
#   3. a rollup revised by a late reading is sent again with a higher seq
#      and the new figures;
#   4. the broker down for a while, data arriving meanwhile, then back:
#      caught up, nothing lost, duplicates only of items that were unacked;
#   5. foyerd SIGKILLed mid-stream, restarted: nothing lost;
#   6. foyerctl status says the outbox's depth and age; a reload restarts
#      the uplink.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mqtt_lib.sh"

PY=/usr/bin/python3
mqtt_setup uplink
peer_pid=""
cleanup() {
  if [ -n "$peer_pid" ]; then kill -KILL "$peer_pid" 2>/dev/null || true; fi
  mqtt_cleanup
}
trap cleanup EXIT

cat > "$work/foyer.conf" <<CONF
[foyer]
database = $work/foyer.db
timezone = Europe/Paris
log_level = info
batch_deadline_ms = 100
raw_retention_days = 3650
raw_retention_days_no_consent = 3650
[building b1]
[dwelling d1]
building = b1
surface_m2 = 40
heating = electric
consent = yes
[dwelling d2]
building = b1
surface_m2 = 55
heating = gas
[channel e1]
dwelling = d1
quantity = electricity
[channel e2]
dwelling = d2
quantity = electricity
[channel t0]
building = b1
quantity = outdoor_temperature
[uplink]
host = 127.0.0.1
port = $port
gateway_id = gw-1
ack_timeout_s = 2
batch_items = 40
max_in_flight = 120
settle_s = 0
CONF
"$FOYER_BIN/foyerd" --config "$work/foyer.conf" --check-config > /dev/null ||
  fail "config refused"
ctl() { "$FOYER_BIN/foyerctl" --config "$work/foyer.conf" "$@"; }

# History: counters every 2 hours (so that a late reading between two of
# them changes the sums of hours), a gauge every hour, from $1 for $2 days.
history() { # first-day days
  $PY - "$1" "$2" <<'PY'
import sys, datetime
d0 = datetime.datetime.fromisoformat(sys.argv[1] + "T00:00:00+00:00")
days = int(sys.argv[2])
print("channel,time,value")
for h in range(0, days * 24 + 1):
    t = d0 + datetime.timedelta(hours=h)
    ts = t.strftime("%Y-%m-%dT%H:%M:%SZ")
    k = int(t.timestamp()) // 3600
    if h % 2 == 0:
        print(f"e1,{ts},{1000 + k * 0.5 - 490000 * 0.5:.3f}")
        print(f"e2,{ts},{2000 + k * 0.25 - 490000 * 0.25:.3f}")
    print(f"t0,{ts},{(k % 24) / 2:.1f}")
PY
}

start_peer() { # extra options
  : > "$work/peer.ready"
  "$FOYER_BIN/tests/foyer-uplink-peer" --port "$port" --out "$work/peer.out" \
    --msgs "$work/peer.msgs" "$@" \
    > "$work/peer.ready" 2>> "$work/peer.err" &
  peer_pid=$!
  wait_for 10 grep -q ready "$work/peer.ready" || fail "peer did not subscribe"
}
stop_peer() {
  kill -TERM "$peer_pid" 2>/dev/null || true
  wait "$peer_pid" 2>/dev/null || true
  peer_pid=""
}
start_uplinked() {
  local before
  before=$(grep -c "uplink: connected" "$work/foyerd.log" 2>/dev/null || true)
  "$FOYER_BIN/foyerd" --config "$work/foyer.conf" 2>> "$work/foyerd.log" &
  foyerd_pid=$!
  wait_for 15 eval '[ "$(grep -c "uplink: connected" "$work/foyerd.log")" -gt "${before:-0}" ]' ||
    fail "foyerd did not connect its uplink: $(tail -20 "$work/foyerd.log")"
}
outbox() { sql "SELECT count(*) FROM uplink_outbox"; }
dirty() { sql "SELECT count(*) FROM uplink_dirty WHERE gran < 2"; }
# Everything settled has been queued, sent and acked.
drained() { [ "$(outbox)" = 0 ] && [ "$(dirty)" = 0 ]; }

# Every rollup the gateway holds that may leave it (days of every channel,
# hours of e1 and t0, months) against the peer's newest item of its key;
# no hourly item of e2; the protocol's fields; seq order within messages.
check_peer() { # label max-duplicates
  sqlite3 -separator '|' "$work/foyer.db" "
    SELECT c.name, 'hour', r.ts, r.sum, r.n FROM rollup_hour r JOIN channels c ON c.id = r.channel
      WHERE c.name <> 'e2'
    UNION ALL SELECT c.name, 'day', r.ts, r.sum, r.n FROM rollup_day r JOIN channels c ON c.id = r.channel
    UNION ALL SELECT c.name, 'month', r.ts, r.sum, r.n FROM rollup_month r
      JOIN channels c ON c.id = r.channel" > "$work/gateway.rollups"
  $PY - "$work/gateway.rollups" "$work/peer.out" "$1" "$2" <<'PY' || fail "$1: peer and gateway differ"
import sys, json, collections
gw_file, peer_file, label, max_dup = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
newest, seen, prev_seq = {}, collections.Counter(), {}
msgs = collections.defaultdict(list)
bad = []
for line in open(peer_file):
    seq, typ, key, body = line.rstrip("\n").split("\t", 3)
    seq = int(seq); it = json.loads(body)
    seen[seq] += 1
    if it["seq"] != seq or it["type"] != typ:
        bad.append(f"line mangled: {line}")
    if typ == "rollup":
        if it["channel"] == "e2" and it["gran"] == "hour":
            bad.append(f"hourly figure of e2 (no consent) left the gateway: {body}")
        if it["dwelling"] not in ("d1", "d2", None) or it["building"] != "b1":
            bad.append(f"wrong place: {body}")
        if "+0" not in it["start"] and "Z" not in it["start"]:
            bad.append(f"start without offset: {body}")
    if key not in newest or newest[key][0] < seq:
        newest[key] = (seq, it)
want = 0
for row in open(gw_file):
    ch, gran, ts, s, n = row.rstrip("\n").split("|")
    key = f"rollup|{ch}|{gran}|{ts}"
    want += 1
    if key not in newest:
        bad.append(f"missing at the peer: {key} sum {s} n {n}")
        continue
    it = newest[key][1]
    if abs(it["sum"] - float(s)) > 1e-6 * (1 + abs(float(s))) or it["n"] != int(n):
        bad.append(f"{key}: peer has sum {it['sum']} n {it['n']}, gateway {s} n {n}")
dups = sum(c - 1 for c in seen.values() if c > 1)
if dups > max_dup:
    bad.append(f"{dups} duplicate seqs at the peer (at most {max_dup} allowed)")
for b in bad[:10]:
    print(f"{label}: {b}", file=sys.stderr)
print(f"{label}: {want} rollups agree; {len(seen)} seqs, {dups} duplicates", file=sys.stderr)
sys.exit(1 if bad else 0)
PY
}

# ---- 1 and 2: history queued, the first message lost by the collector ----
history 2026-10-01 3 > "$work/h1.csv"
ctl import "$work/h1.csv" > /dev/null
[ "$(dirty)" -gt 0 ] || fail "the import noted no changed rollup for the uplink"
# An item the collector finds malformed: rejected, deleted, logged.
sql "INSERT INTO uplink_outbox(type, key, body, created) VALUES ('rollup', 'bad', '{\"type\":\"rollup\"}', 0)"
start_peer --skip 1
start_uplinked
wait_for 30 grep -q "not acked within 2 s: sent again" "$work/foyerd.log" ||
  fail "the unacked first message was not sent again: $(grep 'uplink:' "$work/foyerd.log"); $(outbox) waiting, $(wc -l < "$work/peer.out") at the peer"
wait_for 30 drained || fail "outbox not drained: $(outbox) items, $(dirty) dirty: $(tail "$work/foyerd.log")"
check_peer "history" 0
grep -q "the collector rejected items 1\.\.1" "$work/foyerd.log" ||
  fail "the malformed item was not reported as rejected: $(grep 'uplink:' "$work/foyerd.log")"
# Seq order: each message's items in seq order; the messages in seq order
# but for the first one (the peer dropped it), sent again after the others.
$PY - "$work/peer.msgs" <<'PY' || fail "items out of seq order: $(cat "$work/peer.msgs")"
import sys
msgs = [tuple(map(int, l.split())) for l in open(sys.argv[1])]
assert all(m[3] == 1 for m in msgs), "a message's items out of seq order"
assert all(m[2] <= 40 for m in msgs), "more than batch_items in a message"
lows = [m for m in msgs if m[0] == 1]
assert len(lows) == 1 and msgs[-1] == lows[0], "the dropped first message not sent again last"
rest = [m[0] for m in msgs[:-1]]
assert rest == sorted(rest) and all(a[1] < b[0] for a, b in zip(msgs[:-1], msgs[1:-1])), \
    "messages out of seq order"
PY
[ "$(sql "SELECT count(*) FROM rollup_hour r JOIN channels c ON c.id = r.channel WHERE c.name = 'e2'")" -gt 0 ] ||
  fail "no hourly figures of e2 at all: the consent check proves nothing"

# ---- 3: a late reading revises stored hours --------------------------------
key="rollup|e1|hour|$(date -u -d 2026-10-02T05:00:00Z +%s)"
old_seq=$(awk -F'\t' -v k="$key" '$3 == k { s = $1 } END { print s }' "$work/peer.out")
[ -n "$old_seq" ] || fail "no item for $key"
k=$(( $(date -u -d 2026-10-02T05:00:00Z +%s) / 3600 ))
printf 'channel,time,value\ne1,2026-10-02T05:00:00Z,%s\n' \
  "$($PY -c "print(f'{1000 + $k * 0.5 - 490000 * 0.5 + 0.2:.3f}')")" > "$work/late.csv"
ctl import "$work/late.csv" > /dev/null
wait_for 15 eval '[ "$(awk -F"\t" -v k="$key" "\$3 == k { s = \$1 } END { print s }" "$work/peer.out")" -gt "$old_seq" ]' ||
  fail "the revised hour was not sent again"
wait_for 15 drained || fail "not drained after the late reading"
check_peer "late reading" 0

# A reload restarts the uplink on the new config; it connects again.
n=$(grep -c "uplink: connected" "$work/foyerd.log")
kill -HUP "$foyerd_pid"
wait_for 15 eval '[ "$(grep -c "uplink: connected" "$work/foyerd.log")" -gt "$n" ]' ||
  fail "no uplink after a reload: $(tail -5 "$work/foyerd.log")"
grep -q "configuration reloaded" "$work/foyerd.log" || fail "reload not logged"

# ---- 4: broker down, data meanwhile, broker back ---------------------------
kill -KILL "$broker_pid"
wait "$broker_pid" 2>/dev/null || true
broker_pid=""
history 2026-10-05 2 > "$work/h2.csv"
ctl import "$work/h2.csv" > /dev/null
wait_for 15 eval '[ "$(outbox)" -gt 0 ] && [ "$(dirty)" = 0 ]' || fail "nothing queued while the broker was down"
ctl status > "$work/status.out"
grep -qE "^uplink gw-1 to 127.0.0.1:$port: [0-9]+ items? waiting for the collector's ack, oldest [0-9]" \
  "$work/status.out" || fail "foyerctl status: $(tail -3 "$work/status.out")"
start_broker "$port"
wait_for 30 grep -q ready "$work/peer.ready" || true
wait_for 40 drained || fail "not caught up after the broker came back: $(outbox) waiting"
check_peer "broker restart" 120

# ---- 5: SIGKILL foyerd mid-stream ------------------------------------------
history 2026-10-08 20 > "$work/h3.csv"
kill -KILL "$foyerd_pid"
wait "$foyerd_pid" 2>/dev/null || true
foyerd_pid=""
ctl import "$work/h3.csv" > /dev/null
total=$(($(dirty)))
start_uplinked
lines=$(wc -l < "$work/peer.out")
# A restarted foyerd replays its queue file, reconnects and harvests 20
# days first: on a loaded CI machine that takes a while.
wait_for 90 eval '[ "$(wc -l < "$work/peer.out")" -gt $((lines + 100)) ]' || fail "no flow"
[ "$(outbox)" -gt 0 ] || [ "$(dirty)" -gt 0 ] || fail "drained before the kill: make the history longer ($total keys)"
kill -KILL "$foyerd_pid"
wait "$foyerd_pid" 2>/dev/null || true
foyerd_pid=""
start_uplinked
wait_for 60 drained || fail "not drained after the restart: $(outbox) waiting"
check_peer "SIGKILL" 120
[ "$(sql "PRAGMA integrity_check")" = ok ] || fail "integrity_check"
stop_foyerd
stop_peer
echo "uplink_flow: ok"
