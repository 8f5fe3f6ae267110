#!/usr/bin/env bash
# foyer-collector against real parts on loopback: a mosquitto broker and a
# PostgreSQL 15 cluster started here, fake gateways (foyer-fleet-gw, a real
# MQTT peer following docs/fleet.md: it resends what is not acked) and
# hand-written messages (mosquitto_pub).  Checks: the schema and its
# idempotent --init-db; rows equal to what the gateways sent, acks only
# once committed; a redelivered item changes nothing (not even the row's
# xmin); an older seq never overwrites a newer one; malformed items acked
# as rejected; two collectors sharing the subscription store everything
# once; SIGKILL of a collector or of the broker mid-stream and a
# PostgreSQL stop lose nothing; SIGTERM stops within seconds; MQTT 3.1.1 works with one collector.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mqtt_lib.sh"
. "$(dirname "$0")/pg_lib.sh"

gw="$FOYER_BIN/tests/foyer-fleet-gw"
mqtt_setup collector
trap pg_cleanup EXIT
pg_setup

# ---- schema: created, then up to date (idempotent) -------------------------
collector_conf ca
out=$("$FOYER_BIN/central/foyer-collector" --init-db --config "$work/ca.conf")
[[ $out == "schema: version 0 -> "* ]] || fail "first --init-db: $out"
out=$("$FOYER_BIN/central/foyer-collector" --init-db --config "$work/ca.conf")
[[ $out == *"up to date"* ]] || fail "second --init-db: $out"
[ "$(psql_q "SELECT count(*) FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid
  WHERE c.relname IN ('rollup_hour', 'rollup_day', 'rollup_month', 'events')")" = 4 ] ||
  fail "rollups and events are not partitioned"
# This month's and the next two months' partitions exist ahead of the data.
[ "$(psql_q "SELECT count(*) FROM pg_class WHERE relname IN (SELECT t || '_p' ||
  to_char(date_trunc('month', now() AT TIME ZONE 'UTC') + k * interval '1 month', 'YYYYMM')
  FROM unnest(ARRAY['rollup_hour', 'rollup_day', 'rollup_month', 'events']) t, generate_series(0, 2) k)")" = 12 ] ||
  fail "partitions ahead: $(psql_q "SELECT relname FROM pg_class WHERE relname LIKE '%\_p2%'")"

start_collector ca

# ---- a fleet of two gateways, two days, two malformed items each -----------
res=$("$gw" --port "$port" --gateways 2 --prefix g --hours 48 --channels 5 --bad 2 \
  --ack-timeout-ms 5000 --timeout-s 30) || fail "gateways not all acked: $res"
echo "two gateways: $res"
sum_hour=$(sed -n 's/.*sum_hour \([0-9.]*\).*/\1/p' <<< "$res")
sum_day=$(sed -n 's/.*sum_day \([0-9.]*\).*/\1/p' <<< "$res")
[ "$(psql_q "SELECT count(*) FROM rollup_hour WHERE gateway_id LIKE 'g%'")" = 480 ] ||
  fail "rollup_hour rows: $(psql_q "SELECT count(*) FROM rollup_hour")"
[ "$(psql_q "SELECT to_char(sum(sum), 'FM999999990.000') FROM rollup_hour
  WHERE gateway_id LIKE 'g%'")" = "$sum_hour" ] || fail "hourly sums differ from the gateways'"
[ "$(psql_q "SELECT to_char(sum(sum), 'FM999999990.000') FROM rollup_day
  WHERE gateway_id LIKE 'g%'")" = "$sum_day" ] || fail "daily sums differ from the gateways'"
# A day's rollup equals its hours, through the views.
[ "$(psql_q "SELECT count(*) FROM dwelling_day d JOIN (SELECT gateway_id, dwelling_id, local_day,
  sum(sum) AS s FROM rollup_hour GROUP BY 1, 2, 3) h USING (gateway_id, dwelling_id)
  WHERE h.local_day = d.day AND abs(h.s - d.total) > 1e-9")" = 0 ] || fail "dwelling_day != hours"
[ "$(psql_q "SELECT count(*) FROM events")" = 4 ] || fail "events: $(psql_q "SELECT count(*) FROM events")"
[ "$(psql_q "SELECT count(*) FROM device_health")" = 2 ] || fail "device_health"
[ "$(psql_q "SELECT count(*) FROM open_alerts")" = 2 ] || fail "open_alerts"
[ "$(psql_q "SELECT count(*) FROM channels WHERE gateway_id = 'g1'")" = 5 ] || fail "channels"
[ "$(psql_q "SELECT count(*) FROM dwellings")" = 2 ] || fail "dwellings"
[ "$(psql_q "SELECT items_rejected || ',' || channels || ',' || channels_silent || ',' || hour_gaps_7d
  FROM gateway_quality WHERE gateway_id = 'g0'")" = "2,5,0,0" ] ||
  fail "gateway_quality: $(psql_q "SELECT * FROM gateway_quality")"
[ "$(psql_q "SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhparent
  WHERE c.relname = 'rollup_hour'")" -ge 1 ] || fail "no partition of rollup_hour"
[ "$(metric ca items_rejected_total)" = 4 ] || fail "items_rejected_total"

# Revisions: the same periods sent again with greater seqs and other values
# replace every row; the old items replayed after them change nothing.
res=$("$gw" --port "$port" --gateways 2 --prefix g --hours 48 --channels 5 --seq-base 1000 \
  --mult 2 --ack-timeout-ms 5000 --timeout-s 30) || fail "revision not acked: $res"
sum2=$(sed -n 's/.*sum_hour \([0-9.]*\).*/\1/p' <<< "$res")
"$gw" --port "$port" --gateways 2 --prefix g --hours 48 --channels 5 \
  --ack-timeout-ms 5000 --timeout-s 30 > /dev/null || fail "replay not acked"
[ "$(psql_q "SELECT count(*) || ',' || to_char(sum(sum), 'FM999999990.000') || ',' || min(seq)
  FROM rollup_hour WHERE gateway_id LIKE 'g%'")" = "480,$sum2,1002" ] ||
  fail "revision then replay: $(psql_q "SELECT count(*), sum(sum), min(seq) FROM rollup_hour WHERE gateway_id LIKE 'g%'")"

# ---- hand-written items: ack after commit, redelivery, older seq, refusal --
item() { # seq sum
  printf '{"seq":%s,"type":"rollup","gran":"hour","channel":"m1","building":"B","dwelling":null,"quantity":"heat","kind":"counter","unit":"kWh","start":"2026-03-29T02:00:00+02:00","start_s":1774742400,"sum":%s,"n":4,"min":null,"max":null}' "$1" "$2"
}
# One subscriber for the whole test (pub_pid: stopped by mqtt_cleanup),
# subscribed once a probe comes back.
mosquitto_sub -p "$port" -h 127.0.0.1 -q 1 -t foyer/v1/hw/ack > "$work/acks" &
pub_pid=$!
wait_for 10 eval 'mosquitto_pub -p "$port" -h 127.0.0.1 -t foyer/v1/hw/ack -m probe;
  grep -q probe "$work/acks"' || fail "ack subscriber"
send_and_ack() { # payload: publish on gateway hw's topic, print its ack
  local n
  n=$(wc -l < "$work/acks")
  mosquitto_pub -p "$port" -h 127.0.0.1 -q 1 -t foyer/v1/hw/items -m "$1"
  wait_for 10 eval '[ "$(wc -l < "$work/acks")" -gt "$n" ]' || fail "no ack for: $1"
  tail -n 1 "$work/acks"
}
row() { psql_q "SELECT sum || ',' || seq FROM rollup_hour WHERE gateway_id = 'hw' AND channel_id = 'm1'"; }

msg='{"v":1,"gateway":"hw","sent":"x","items":['"$(item 10 5)"']}'
ack=$(send_and_ack "$msg")
# Read right after the ack arrived: the row is there (committed before).
[ "$(row)" = "5,10" ] || fail "row after the ack: $(row)"
[ "$ack" = '{"v":1,"gateway":"hw","acked":[[10,10]],"rejected":[]}' ] || fail "ack: $ack"
xmin=$(psql_q "SELECT xmin FROM rollup_hour WHERE gateway_id = 'hw'")
ack=$(send_and_ack "$msg")
[ "$ack" = '{"v":1,"gateway":"hw","acked":[[10,10]],"rejected":[]}' ] || fail "redelivery ack: $ack"
[ "$(psql_q "SELECT xmin FROM rollup_hour WHERE gateway_id = 'hw'")" = "$xmin" ] ||
  fail "a redelivered item rewrote its row"
send_and_ack '{"v":1,"gateway":"hw","sent":"x","items":['"$(item 9 1)"']}' > /dev/null
[ "$(row)" = "5,10" ] || fail "an older seq overwrote a newer one: $(row)"
send_and_ack '{"v":1,"gateway":"hw","sent":"x","items":['"$(item 11 7.25)"']}' > /dev/null
[ "$(row)" = "7.25,11" ] || fail "a newer seq did not replace: $(row)"
ack=$(send_and_ack '{"v":1,"gateway":"hw","items":[{"seq":12,"type":"rollup","gran":"hour"},'"$(item 13 8)"',{"seq":14,"type":"rollup","gran":"week"},{"seq":15,"type":"event","id":1,"time_s":1774742400,"kind":"x","detail":"\u0001"}]}')
[ "$ack" = '{"v":1,"gateway":"hw","acked":[[13,13]],"rejected":[[12,12],[14,15]]}' ] ||
  fail "malformed items not rejected: $ack"
[ "$(row)" = "8,13" ] || fail "the valid item beside malformed ones: $(row)"
# An item PostgreSQL refuses (a CHECK constraint a DBA added): the batch is
# written item by item, the refused one acked as rejected, the others stored.
psql_q "ALTER TABLE rollup_hour ADD CONSTRAINT test_refused CHECK (sum < 1000)"
ack=$(send_and_ack '{"v":1,"gateway":"hw","items":['"$(item 20 5000)"','"$(item 21 9)"']}')
[ "$ack" = '{"v":1,"gateway":"hw","acked":[[21,21]],"rejected":[[20,20]]}' ] ||
  fail "an item refused by PostgreSQL: $ack"
[ "$(row)" = "9,21" ] || fail "the item beside one refused by PostgreSQL: $(row)"
psql_q "ALTER TABLE rollup_hour DROP CONSTRAINT test_refused"
grep -q "gateway=hw seq=20: refused by PostgreSQL" "$work/ca.log" || fail "refusal not logged"
# An alert of no one building (a silent bus serving several): stored, open.
ack=$(send_and_ack '{"v":1,"gateway":"hw","items":[{"seq":30,"type":"alert","id":4,"kind":"device_silent","severity":"warning","building":null,"dwelling":null,"channel":null,"state":"open","opened_s":1774742400,"acknowledged_s":null,"closed_s":null,"text_fr":"Bus muet","text_en":"Bus silent"}]}')
[ "$ack" = '{"v":1,"gateway":"hw","acked":[[30,30]],"rejected":[]}' ] || fail "building-less alert: $ack"
[ "$(psql_q "SELECT kind || ',' || coalesce(building_id, 'null') FROM open_alerts
  WHERE gateway_id = 'hw' AND alert_id = 4")" = "device_silent,null" ] ||
  fail "building-less alert not in open_alerts: $(psql_q "SELECT * FROM alerts WHERE gateway_id = 'hw'")"
# A malformed envelope (not JSON, another gateway's name): counted, dropped.
before=$(metric ca messages_malformed_total)
mosquitto_pub -p "$port" -h 127.0.0.1 -q 1 -t foyer/v1/hw/items -m '{"v":1,'
mosquitto_pub -p "$port" -h 127.0.0.1 -q 1 -t foyer/v1/hw/items -m '{"v":1,"gateway":"other","items":['"$(item 16 1)"']}'
wait_for 10 eval '[ "$(metric ca messages_malformed_total)" -ge $((before + 2)) ]' ||
  fail "malformed messages not counted"
grep -q 'gateway=hw: "gateway" is not the topic' "$work/ca.log" || fail "spoofed gateway not logged"

# ---- two collectors share the subscription -----------------------------------
collector_conf cb
start_collector cb
res=$("$gw" --port "$port" --gateways 4 --prefix s --hours 72 --channels 5 \
  --ack-timeout-ms 5000 --timeout-s 40) || fail "shared: not all acked: $res"
echo "two collectors: $res"
sum_hour=$(sed -n 's/.*sum_hour \([0-9.]*\).*/\1/p' <<< "$res")
[ "$(psql_q "SELECT count(*) || ',' || to_char(sum(sum), 'FM999999990.000') FROM rollup_hour
  WHERE gateway_id LIKE 's%'")" = "1440,$sum_hour" ] || fail "shared: rows or sums differ"
a=$(metric ca items_committed_total)
b=$(metric cb items_committed_total)
echo "collector ca committed $a items, cb $b"
[ "$b" -gt 0 ] || fail "the second collector took no share"
t0=$SECONDS
stop_collector cb
[ $((SECONDS - t0)) -le 5 ] || fail "SIGTERM took $((SECONDS - t0)) s"

# ---- SIGKILL of the collector mid-stream, then restart -------------------------
"$gw" --port "$port" --gateways 3 --prefix k --hours 240 --channels 5 --per-msg 100 \
  --max-in-flight 600 --ack-timeout-ms 5000 --rate 1500 --timeout-s 90 > "$work/kill.out" &
gwpid=$!
wait_for 15 eval '[ "$(psql_q "SELECT count(*) FROM rollup_hour WHERE gateway_id LIKE '"'k%'"'")" -gt 500 ]' ||
  fail "no rows before the kill"
kill -0 "$gwpid" 2>/dev/null || fail "the gateways were done before the kill: $(cat "$work/kill.out")"
kill_collector ca
start_collector ca
wait "$gwpid" || fail "after SIGKILL: not all acked: $(cat "$work/kill.out")"
echo "SIGKILL: $(cat "$work/kill.out")"
sum_hour=$(sed -n 's/.*sum_hour \([0-9.]*\).*/\1/p' "$work/kill.out")
[ "$(psql_q "SELECT count(*) || ',' || to_char(sum(sum), 'FM999999990.000') FROM rollup_hour
  WHERE gateway_id LIKE 'k%'")" = "3600,$sum_hour" ] || fail "after SIGKILL: rows or sums differ"

# ---- PostgreSQL stopped and restarted mid-stream ------------------------------
"$gw" --port "$port" --gateways 3 --prefix p --hours 240 --channels 5 --per-msg 100 \
  --max-in-flight 600 --ack-timeout-ms 5000 --rate 1500 --timeout-s 90 > "$work/pg.out" &
gwpid=$!
wait_for 15 eval '[ "$(psql_q "SELECT count(*) FROM rollup_hour WHERE gateway_id LIKE '"'p%'"'")" -gt 500 ]' ||
  fail "no rows before the PostgreSQL stop"
kill -0 "$gwpid" 2>/dev/null || fail "the gateways were done before the stop: $(cat "$work/pg.out")"
pg_stop fast
wait_for 10 eval '[ "$(metric ca postgresql_up)" = 0 ]' || fail "collector did not see PostgreSQL go"
pg_start
wait "$gwpid" || fail "after the PostgreSQL stop: not all acked: $(cat "$work/pg.out")"
echo "PostgreSQL stop: $(cat "$work/pg.out")"
sum_hour=$(sed -n 's/.*sum_hour \([0-9.]*\).*/\1/p' "$work/pg.out")
[ "$(psql_q "SELECT count(*) || ',' || to_char(sum(sum), 'FM999999990.000') FROM rollup_hour
  WHERE gateway_id LIKE 'p%'")" = "3600,$sum_hour" ] || fail "after PostgreSQL stop: rows or sums differ"
[ "$(metric ca batch_failures_total)" -ge 1 ] || fail "no batch failed while PostgreSQL was down?"

# ---- the broker SIGKILLed mid-stream (no persistence), then restarted ----------
"$gw" --port "$port" --gateways 2 --prefix x --hours 240 --channels 5 --per-msg 100 \
  --max-in-flight 600 --ack-timeout-ms 5000 --rate 1500 --timeout-s 90 > "$work/broker.out" &
gwpid=$!
wait_for 15 eval '[ "$(psql_q "SELECT count(*) FROM rollup_hour WHERE gateway_id LIKE '"'x%'"'")" -gt 300 ]' ||
  fail "no rows before the broker kill"
kill -0 "$gwpid" 2>/dev/null || fail "the gateways were done before the broker kill"
kill -KILL "$broker_pid"
wait "$broker_pid" 2>/dev/null || true
start_broker "$port"
wait "$gwpid" || fail "after the broker kill: not all acked: $(cat "$work/broker.out")"
echo "broker SIGKILL: $(cat "$work/broker.out")"
sum_hour=$(sed -n 's/.*sum_hour \([0-9.]*\).*/\1/p' "$work/broker.out")
[ "$(psql_q "SELECT count(*) || ',' || to_char(sum(sum), 'FM999999990.000') FROM rollup_hour
  WHERE gateway_id LIKE 'x%'")" = "2400,$sum_hour" ] || fail "after the broker kill: rows or sums differ"

t0=$SECONDS
stop_collector ca
[ $((SECONDS - t0)) -le 5 ] || fail "SIGTERM took $((SECONDS - t0)) s"

# ---- MQTT 3.1.1: one collector on the plain topic ------------------------------
collector_conf c3
echo "mqtt_version = 3.1.1" > "$work/c3.extra"
sed -i '/^session_expiry_s/r '"$work/c3.extra" "$work/c3.conf"
start_collector c3
grep -q "MQTT 3.1.1.*subscribed to foyer/v1/+/items" "$work/c3.log" || fail "3.1.1: $(cat "$work/c3.log")"
res=$("$gw" --port "$port" --gateways 1 --prefix v3_ --hours 24 --channels 2 \
  --ack-timeout-ms 5000 --timeout-s 20) || fail "3.1.1: not all acked: $res"
[ "$(psql_q "SELECT count(*) FROM rollup_hour WHERE gateway_id = 'v3_0'")" = 48 ] || fail "3.1.1 rows"
stop_collector c3
echo "collector_pg: schema, idempotence, refusals, sharing, SIGKILL (collector, broker), PostgreSQL stop, 3.1.1: OK"
