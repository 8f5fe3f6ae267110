#!/usr/bin/env bash
# Consent withdrawn at run time and the fleet uplink (issue 16: "hourly only
# for dwellings whose consent allows it"): the consent foyerctl records, not
# the config's flag, decides which hourly figures leave the gateway.
# A real foyerd, a real mosquitto, the collector peer (tests/sim/uplink_peer.c).
#   1. d1 consents (config flag); its hourly items wait in the outbox (no
#      collector yet); foyerctl consent withdraw d1 next to the running
#      foyerd deletes them from the outbox (its daily items stay);
#   2. later hours of d1 are never queued, and the collector, started
#      afterwards, receives no hourly item of d1 at all (its days, and the
#      building's hours, do arrive);
#   3. foyerctl consent set d1 again: d1's later hours leave again.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mqtt_lib.sh"

PY=/usr/bin/python3
mqtt_setup upconsent
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
[channel e1]
dwelling = d1
quantity = electricity
[channel t0]
building = b1
quantity = outdoor_temperature
[uplink]
host = 127.0.0.1
port = $port
gateway_id = gw-c
ack_timeout_s = 1
batch_items = 40
max_in_flight = 120
settle_s = 0
CONF
ctl() { "$FOYER_BIN/foyerctl" --config "$work/foyer.conf" "$@"; }

history() { # first-day days: e1 and t0 every hour
  $PY - "$1" "$2" <<'PY'
import sys, datetime
d0 = datetime.datetime.fromisoformat(sys.argv[1] + "T00:00:00+00:00")
print("channel,time,value")
for h in range(0, int(sys.argv[2]) * 24 + 1):
    t = d0 + datetime.timedelta(hours=h)
    ts = t.strftime("%Y-%m-%dT%H:%M:%SZ")
    k = int(t.timestamp()) // 3600
    print(f"e1,{ts},{1000 + (k - 490000) * 0.5:.3f}")
    print(f"t0,{ts},{(k % 24) / 2:.1f}")
PY
}
waiting() { # gran dwelling-or-building-sql: items of that kind in the outbox
  sql "SELECT count(*) FROM uplink_outbox WHERE type = 'rollup'
    AND json_extract(body, '\$.gran') = '$1' AND $2"
}
d1_hours() { waiting hour "json_extract(body, '\$.dwelling') = 'd1'"; }
dirty() { sql "SELECT count(*) FROM uplink_dirty WHERE gran < 2"; }
drained() { [ "$(sql "SELECT count(*) FROM uplink_outbox")" = 0 ] && [ "$(dirty)" = 0 ]; }
# Items of the peer: "gran channel start_s" per rollup line.
peer_rollups() {
  $PY - "$work/peer.out" <<'PY'
import sys, json
for line in open(sys.argv[1]):
    seq, typ, key, body = line.rstrip("\n").split("\t", 3)
    it = json.loads(body)
    if typ == "rollup":
        print(it["gran"], it["channel"], it["dwelling"] or "-", it["start_s"])
PY
}

"$FOYER_BIN/foyerd" --config "$work/foyer.conf" 2>> "$work/foyerd.log" &
foyerd_pid=$!
wait_for 15 grep -q "uplink: connected" "$work/foyerd.log" ||
  fail "foyerd did not connect its uplink: $(tail -20 "$work/foyerd.log")"

# ---- 1: d1's hours wait (no collector acks them); consent withdrawn --------
history 2026-10-01 3 > "$work/h1.csv"
ctl import "$work/h1.csv" > /dev/null
wait_for 15 eval '[ "$(dirty)" = 0 ] && [ "$(d1_hours)" -gt 48 ]' ||
  fail "d1's hours not queued: $(d1_hours) waiting, $(dirty) dirty"
d1_days=$(waiting day "json_extract(body, '\$.dwelling') = 'd1'")
[ "$d1_days" -gt 0 ] || fail "no daily item of d1 waiting"
ctl consent withdraw --dwelling d1 --purpose load_curve > /dev/null || fail "withdraw"
wait_for 10 eval '[ "$(d1_hours)" = 0 ]' ||
  fail "d1's waiting hourly items not deleted after the withdrawal: $(d1_hours) still waiting"
grep -q "uplink: dwelling d1: load-curve consent withdrawn" "$work/foyerd.log" ||
  fail "the withdrawal not logged: $(grep 'uplink:' "$work/foyerd.log")"
[ "$(waiting day "json_extract(body, '\$.dwelling') = 'd1'")" -ge "$d1_days" ] ||
  fail "d1's daily items deleted with its hours"
[ "$(waiting hour "json_extract(body, '\$.building') = 'b1' AND json_extract(body, '\$.dwelling') IS NULL")" -gt 48 ] ||
  fail "the building's hourly items deleted too"

# ---- 2: later hours of d1 never leave; the collector gets none -------------
history 2026-10-04 2 > "$work/h2.csv"
ctl import "$work/h2.csv" > /dev/null
wait_for 15 eval '[ "$(dirty)" = 0 ]' || fail "h2 not queued"
[ "$(d1_hours)" = 0 ] || fail "d1's later hours queued after the withdrawal: $(d1_hours)"
: > "$work/peer.ready"
"$FOYER_BIN/tests/foyer-uplink-peer" --port "$port" --out "$work/peer.out" \
  > "$work/peer.ready" 2>> "$work/peer.err" &
peer_pid=$!
wait_for 10 grep -q ready "$work/peer.ready" || fail "peer did not subscribe"
wait_for 30 drained || fail "not drained: $(sql "SELECT count(*) FROM uplink_outbox") waiting"
peer_rollups > "$work/peer.rollups"
! grep -q "^hour e1 " "$work/peer.rollups" ||
  fail "hourly items of d1 reached the collector after the withdrawal: $(grep -c "^hour e1 " "$work/peer.rollups")"
h2_day=$(TZ=Europe/Paris date -d 2026-10-05 +%s)
grep -q "^day e1 d1 $h2_day\$" "$work/peer.rollups" || fail "d1's days did not reach the collector"
[ "$(grep -c "^hour t0 - " "$work/peer.rollups")" -ge 100 ] ||
  fail "the building's hours did not reach the collector: $(grep -c "^hour t0 - " "$work/peer.rollups")"

# ---- 3: consent given again: d1's later hours leave ------------------------
ctl consent set --dwelling d1 --purpose load_curve > /dev/null || fail "set"
wait_for 10 grep -q "uplink: dwelling d1: load-curve consent given" "$work/foyerd.log" ||
  fail "the consent given again not seen: $(grep 'uplink:' "$work/foyerd.log")"
history 2026-10-06 1 > "$work/h3.csv"
ctl import "$work/h3.csv" > /dev/null
wait_for 30 drained || fail "not drained after the consent given again"
peer_rollups > "$work/peer.rollups"
h3_hour=$(date -u -d 2026-10-06T12:00:00Z +%s)
grep -q "^hour e1 d1 $h3_hour\$" "$work/peer.rollups" ||
  fail "d1's hours after the consent given again did not leave"
first_h3=$(date -u -d 2026-10-06T00:00:00Z +%s)
awk -v f="$first_h3" '$1 == "hour" && $2 == "e1" && $4 < f { bad = 1 } END { exit !bad }' \
  "$work/peer.rollups" && fail "hours of d1 from the time without consent left"
stop_foyerd
kill -TERM "$peer_pid" 2>/dev/null || true
wait "$peer_pid" 2>/dev/null || true
peer_pid=""
echo "uplink_consent: ok"
