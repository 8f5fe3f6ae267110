#!/usr/bin/env bash
# The fleet end to end, both halves together (issue 16): three real foyerd
# gateways fed by imported history, a real mosquitto broker, a real
# foyer-collector, a PostgreSQL 15 cluster of the test's own.  Checked:
#   1. while the items flow, the collector, the broker and one gateway are
#      SIGKILLed at random moments and restarted; afterwards every central
#      rollup (hour, day, month) equals the gateway's own to the Wh, none
#      missing, none extra (hourly figures of a dwelling without consent
#      never reach the centre);
#   2. a gateway cut off from the broker while a week of history is
#      imported catches up by itself once the broker is back; its /metrics
#      say the outbox's depth and age meanwhile, the items acked after;
#   2b. a gateway's database restored from a backup, then revised: the
#      centre takes the revision (no seq reused);
#   3. a second collector sharing the subscription: the same result; device
#      health (ga's Zigbee sensor) as the gateway's devices table says;
#   4. an alert opened by a gateway's alert engine reaches open_alerts; its
#      acknowledgement and closing by hand (foyerctl alerts) follow it.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mqtt_lib.sh"
. "$(dirname "$0")/pg_lib.sh"

PY=/usr/bin/python3
export FOYER_LANG_DIR="$FOYER_SRC/config"
mqtt_setup fleet
declare -A gw_pids=()
cleanup() {
  local pid
  for pid in "${gw_pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  pg_cleanup
}
trap cleanup EXIT
pg_setup
collector_conf c1
"$FOYER_BIN/central/foyer-collector" --init-db --config "$work/c1.conf" > /dev/null ||
  fail "--init-db"
start_collector c1

gateways="ga gb gc"
for g in $gateways; do
  free_port > "$work/$g.hport"
  cat > "$work/$g.conf" <<CONF
[foyer]
database = $work/$g.db
timezone = Europe/Paris
log_level = info
batch_deadline_ms = 100
raw_retention_days = 3650
raw_retention_days_no_consent = 3650
[building $g-b1]
[dwelling $g-d1]
building = $g-b1
surface_m2 = 40
heating = electric
consent = yes
[dwelling $g-d2]
building = $g-b1
surface_m2 = 55
heating = gas
[channel e1]
dwelling = $g-d1
quantity = electricity
[channel e2]
dwelling = $g-d2
quantity = electricity
[channel t0]
building = $g-b1
quantity = outdoor_temperature
[channel tin]
dwelling = $g-d1
quantity = temperature
[alerts]
; the whole year, so that the test does not depend on the season it runs in
heating_from = 01-01
heating_to = 12-31
[uplink]
host = 127.0.0.1
port = $port
gateway_id = $g
ack_timeout_s = 3
batch_items = 50
max_in_flight = 200
settle_s = 0
device_every_s = 1
[http]
listen = 127.0.0.1
port = $(cat "$work/$g.hport")
web_dir = $FOYER_SRC/web
CONF
done
# gc speaks MQTT 3.1.1 to the broker (the collectors MQTT 5).
sed -i '/^\[uplink\]/a protocol = 311' "$work/gc.conf"
# ga also has a Zigbee sensor on the same broker: device health and its
# events leave too.
cat >> "$work/ga.conf" <<CONF
[mqtt]
port = $port
client_id = foyerd-ga-sensors
[sensor z2m]
topic = zigbee2mqtt/+
preset = zigbee2mqtt
building = ga-b1
timestamp_field = time
device.s0 = ga-d1
CONF
ctl() { # gateway args...
  local g=$1
  shift
  "$FOYER_BIN/foyerctl" --config "$work/$g.conf" "$@"
}
gsql() { sqlite3 "$work/$1.db" "$2"; }
# Gateway $1's /metrics in $work/$1.metrics (promtool-checked); a figure.
gw_scrape() { # gateway
  curl -sf "http://127.0.0.1:$(cat "$work/$1.hport")/metrics" > "$work/$1.metrics" ||
    fail "$1: no /metrics"
  promtool check metrics < "$work/$1.metrics" > "$work/promtool.out" 2>&1 ||
    fail "$1: promtool: $(cat "$work/promtool.out")"
}
gw_metric() { # gateway line-prefix
  awk -v k="$2" 'index($0, k " ") == 1 { print $2 }' "$work/$1.metrics"
}

# History of gateway $1 from day $2 for $3 days: counters every 15 min
# with a per-gateway slope (gb's e1 meter replaced on 2026-09-10: an
# event), a gauge every hour.  Across the end of summer time (2026-10-25).
history() { # gateway first-day days [until-epoch]
  $PY - "$@" <<'PY'
import sys, datetime, zlib
g, d0, days = sys.argv[1], sys.argv[2], int(sys.argv[3])
end = datetime.datetime.fromtimestamp(int(sys.argv[4]), datetime.timezone.utc) if len(sys.argv) > 4 else None
t0 = datetime.datetime.fromisoformat(d0 + "T00:00:00+00:00")
base = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
slope = 0.1 + (zlib.crc32(g.encode()) % 7) / 37
reset = datetime.datetime(2026, 9, 10, 12, tzinfo=datetime.timezone.utc)
k_reset = int((reset - base).total_seconds()) // 900
print("channel,time,value")
for q in range(0, days * 96):
    t = t0 + datetime.timedelta(minutes=15 * q)
    if end and t > end:
        break
    ts = t.strftime("%Y-%m-%dT%H:%M:%SZ")
    k = int((t - base).total_seconds()) // 900
    e1 = 100 + k * slope
    if g == "gb" and t >= reset:
        e1 -= 100 + k_reset * slope - 0.5  # the meter replaced: a reset event
    print(f"e1,{ts},{e1:.3f}")
    print(f"e2,{ts},{200 + k * slope * 1.5 + (k % 5) * 0.01:.3f}")
    if q % 4 == 0:
        print(f"t0,{ts},{(k % 96) / 8:.1f}")
PY
}

start_gw() { # gateway
  local g=$1 before
  before=$(grep -c "uplink: connected" "$work/$g.log" 2>/dev/null || true)
  "$FOYER_BIN/foyerd" --config "$work/$g.conf" 2>> "$work/$g.log" &
  gw_pids[$g]=$!
  wait_for 15 eval '[ "$(grep -c "uplink: connected" "$work/$g.log" 2>/dev/null)" -gt "${before:-0}" ]' ||
    fail "gateway $g did not connect its uplink: $(tail -20 "$work/$g.log")"
}
kill_gw() { # gateway: SIGKILL
  kill -KILL "${gw_pids[$1]}" 2>/dev/null || true
  wait "${gw_pids[$1]}" 2>/dev/null || true
  unset "gw_pids[$1]"
}
stop_gw() { # gateway: SIGTERM, must exit 0
  local rc=0
  kill -TERM "${gw_pids[$1]}"
  wait "${gw_pids[$1]}" || rc=$?
  unset "gw_pids[$1]"
  [ "$rc" = 0 ] || fail "gateway $1 exited $rc: $(tail -20 "$work/$1.log")"
}
drained() { # gateway: everything settled queued, sent and acked
  local today
  today=$(TZ=Europe/Paris date -d "$(TZ=Europe/Paris date +%F)" +%s)
  [ "$(gsql "$1" "SELECT (SELECT count(*) FROM uplink_outbox) + (SELECT count(*) FROM uplink_dirty
    WHERE (gran = 0 AND ts + 3600 <= $(date +%s)) OR (gran = 1 AND ts < $today))")" = 0 ]
}
all_drained() {
  local g
  for g in $gateways; do drained "$g" || return 1; done
}
central_rows() { psql_q "SELECT (SELECT count(*) FROM rollup_hour) + (SELECT count(*) FROM rollup_day)"; }

# Every settled rollup of every gateway that may leave it (a period not
# over yet, such as this month, is sent once it is) against the central
# tables: the same keys, the same sums to the Wh, the same counts; no extra
# central row, no hourly row of e2 (its dwelling has no consent).
check_central() { # label
  local g now today month
  now=$(date +%s)
  today=$(TZ=Europe/Paris date -d "$(TZ=Europe/Paris date +%F)" +%s)
  month=$(TZ=Europe/Paris date -d "$(TZ=Europe/Paris date +%Y-%m-01)" +%s)
  : > "$work/gw.rollups"
  for g in $gateways; do
    sqlite3 -separator '|' "$work/$g.db" "
      SELECT '$g', c.name, 'hour', r.ts, printf('%.3f', r.sum), r.n FROM rollup_hour r
        JOIN channels c ON c.id = r.channel WHERE c.name <> 'e2' AND r.ts + 3600 <= $now
      UNION ALL SELECT '$g', c.name, 'day', r.ts, printf('%.3f', r.sum), r.n FROM rollup_day r
        JOIN channels c ON c.id = r.channel WHERE r.ts < $today
      UNION ALL SELECT '$g', c.name, 'month', r.ts, printf('%.3f', r.sum), r.n FROM rollup_month r
        JOIN channels c ON c.id = r.channel WHERE r.ts < $month" >> "$work/gw.rollups"
  done
  psql_q "SELECT gateway_id, channel_id, g, extract(epoch FROM period_start)::bigint,
      to_char(sum, 'FM9999999990.000'), n
    FROM (SELECT *, 'hour' AS g FROM rollup_hour UNION ALL SELECT *, 'day' FROM rollup_day
      UNION ALL SELECT *, 'month' FROM rollup_month) r" > "$work/central.rollups"
  sort "$work/gw.rollups" > "$work/gw.sorted"
  sort "$work/central.rollups" > "$work/central.sorted"
  if ! cmp -s "$work/gw.sorted" "$work/central.sorted"; then
    diff "$work/gw.sorted" "$work/central.sorted" | head -20 >&2
    fail "$1: central rollups differ from the gateways' ($(wc -l < "$work/gw.sorted") at the gateways, $(wc -l < "$work/central.sorted") central)"
  fi
  : > "$work/gw.events"
  for g in $gateways; do
    sqlite3 -separator '|' "$work/$g.db" "SELECT '$g', e.id, e.ts, e.kind, coalesce(c.name, '')
      FROM events e LEFT JOIN channels c ON c.id = e.channel" >> "$work/gw.events"
  done
  psql_q "SELECT gateway_id, event_id, extract(epoch FROM event_time)::bigint, kind,
    coalesce(channel_id, '') FROM events" | sort > "$work/central.events"
  sort -o "$work/gw.events" "$work/gw.events"
  cmp -s "$work/gw.events" "$work/central.events" ||
    fail "$1: central events differ: $(diff "$work/gw.events" "$work/central.events" | head)"
  echo "$1: $(wc -l < "$work/gw.sorted") rollups, $(wc -l < "$work/gw.events") events equal at the gateways and in PostgreSQL"
}

# ---- 1: history flowing; collector, broker and a gateway SIGKILLed --------
for g in $gateways; do
  history "$g" 2026-08-10 80 > "$work/$g.h1.csv"
  ctl "$g" import "$work/$g.h1.csv" > /dev/null
  start_gw "$g"
done
# Each kill at a random moment while rows are arriving: after a random
# number of central rows, checked to be short of the total.
kill_after() { # rows
  want_rows=$1
  wait_for 30 eval '[ "$(central_rows)" -ge "$want_rows" ]' || fail "no flow: $(central_rows) rows"
}
kill_after $((200 + RANDOM % 400))
kill_collector c1
start_collector c1
kill_after $(($(central_rows) + 100 + RANDOM % 300))
kill -KILL "$broker_pid"
wait "$broker_pid" 2>/dev/null || true
start_broker "$port"
kill_after $(($(central_rows) + 100 + RANDOM % 300))
all_drained && fail "all drained before the kills: make the history longer"
kill_gw gb
start_gw gb
wait_for 60 all_drained || fail "not drained: $(for g in $gateways; do gsql "$g" "SELECT count(*) FROM uplink_outbox"; done | tr '\n' ' ')"
check_central "SIGKILLs"
grep -q "uplink: connected .*(MQTT 3.1.1)" "$work/gc.log" || fail "gc did not use MQTT 3.1.1"

# ---- 2: gc cut off from the broker while a week is imported ----------------
stop_broker
history gc 2026-10-29 7 > "$work/gc.h2.csv"
ctl gc import "$work/gc.h2.csv" > /dev/null
wait_for 20 eval '[ "$(gsql gc "SELECT count(*) FROM uplink_dirty WHERE gran < 2")" = 0 ]' ||
  fail "the week was not queued while cut off"
waiting=$(gsql gc "SELECT count(*) FROM uplink_outbox")
[ "$waiting" -gt 300 ] || fail "nothing waiting for the broker"
# /metrics says what waits, and since when (the import made it just now).
gw_scrape gc
[ "$(gw_metric gc foyer_uplink_outbox_depth)" = "$waiting" ] ||
  fail "foyer_uplink_outbox_depth: $(grep uplink "$work/gc.metrics")"
age=$(gw_metric gc foyer_uplink_outbox_oldest_age_seconds)
[ -n "$age" ] && [ "$age" -ge 0 ] && [ "$age" -lt 60 ] || fail "oldest age: $age"
[ "$(gw_metric gc foyer_uplink_connected)" = 0 ] || fail "connected without a broker"
acked0=$(gw_metric gc 'foyer_uplink_items_total{outcome="acked"}')
start_broker "$port"
wait_for 60 all_drained || fail "the week was not caught up: $(gsql gc "SELECT count(*) FROM uplink_outbox") waiting"
gw_scrape gc
[ "$(gw_metric gc foyer_uplink_outbox_depth)" = 0 ] || fail "depth after the catch-up"
[ "$(gw_metric gc foyer_uplink_outbox_oldest_age_seconds)" = 0 ] || fail "age after the catch-up"
[ "$(gw_metric gc 'foyer_uplink_items_total{outcome="acked"}')" -ge $((acked0 + waiting)) ] ||
  fail "acked: $(grep uplink_items "$work/gc.metrics")"
check_central "a week cut off"

# ---- 2b: gc's database restored from a backup ------------------------------
# A late reading revises an hour of gc (sent, stored centrally); then the
# database is restored from a backup taken before, and another late reading
# revises the same hour.  Its items must replace the central rows: seqs
# handed out after the backup must not come again (the collector keeps the
# greater seq, and would ack and ignore a reused one).
late_reading() { # value: gc's outdoor temperature at 2026-09-15T09:30Z
  printf 'channel,time,value\nt0,2026-09-15T09:30:00Z,%s\n' "$1"
}
stop_gw gc
sqlite3 "$work/gc.db" ".backup '$work/gc.backup'"
start_gw gc
late_reading 5.5 > "$work/late1.csv"
ctl gc import "$work/late1.csv" > /dev/null
wait_for 30 all_drained || fail "the first late reading was not sent"
check_central "late reading"
stop_gw gc
cp "$work/gc.backup" "$work/gc.db"
rm -f "$work/gc.db-wal" "$work/gc.db-shm"
late_reading 9.5 > "$work/late2.csv"
ctl gc import "$work/late2.csv" > /dev/null
start_gw gc
wait_for 30 all_drained || fail "the second late reading was not sent"
check_central "restored backup"

# ---- 3: two collectors sharing the subscription ---------------------------
collector_conf c2
start_collector c2
before2=$(metric c2 items_committed_total)
for g in $gateways; do
  history "$g" 2026-11-05 5 > "$work/$g.h3.csv"
  ctl "$g" import "$work/$g.h3.csv" > /dev/null
done
# The sensor's readings are stamped inside the imported history (-b): stamped
# "now", an hour that ends during the test would settle and leave, and
# every channel of ga whose history ends on 11-10 would look silent.
"$FOYER_BIN/tests/foyer-mqtt-pub" -p "$port" -n 1 -c 30 -r 200 -q 1 -i pub-e2e \
  -b "$(date -u -d '2026-11-09 12:00:00' +%s)" > "$work/pub.out" ||
  fail "sensor publisher: $(cat "$work/pub.out")"
wait_for 60 all_drained || fail "not drained with two collectors"
check_central "two collectors"
# ga's device health as its devices table says, once the last figures left.
devices_equal() {
  [ "$(gsql ga "SELECT name || ',' || state || ',' || polls FROM devices ORDER BY name")" = \
    "$(psql_q "SELECT device || ',' || state || ',' || polls FROM device_health
      WHERE gateway_id = 'ga' ORDER BY device")" ] && [ -n "$(gsql ga "SELECT 1 FROM devices")" ]
}
wait_for 20 devices_equal || fail "device health: gateway $(gsql ga "SELECT name, state, polls FROM devices"), central $(psql_q "SELECT * FROM device_health")"
[ "$(metric c2 items_committed_total)" -gt "$before2" ] || fail "the second collector took no share"
stop_collector c2

[ "$(psql_q "SELECT count(*) FROM gateway_quality WHERE items_rejected = 0")" = 3 ] ||
  fail "items rejected: $(psql_q "SELECT gateway_id, items_rejected FROM gateway_quality")"
# Every channel has figures up to the same day: none is silent (e2's hours
# never leave its gateway: its days alone must not make it look silent).
[ "$(psql_q "SELECT string_agg(gateway_id || ':' || channels_silent, ' ' ORDER BY gateway_id)
  FROM gateway_quality")" = "ga:0 gb:0 gc:0" ] ||
  fail "silent channels: $(psql_q "SELECT gateway_id, channel_id, last_start FROM channels ORDER BY 1, 2")"

# ---- 4: an alert of ga's engine, then acknowledged and closed by hand ------
# The last 45 closed hours of ga-d1 at 14 degC: cold_home (as alerts_cli).
now=$(date +%s)
hour0=$(((now - 600) / 3600 * 3600 - 45 * 3600))
{
  echo "channel,time,value"
  for h in $(seq 0 44); do
    echo "tin,$(date -u -d "@$((hour0 + h * 3600 + 1800))" +%Y-%m-%dT%H:%M:%SZ),14"
  done
} > "$work/cold.csv"
ctl ga import "$work/cold.csv" > /dev/null
stop_gw ga
start_gw ga
wait_for 20 grep -q "alerts: 1 opened" "$work/ga.log" || fail "no alert opened: $(tail "$work/ga.log")"
id=$(gsql ga "SELECT id FROM alerts WHERE kind = 'cold_home'")
central_alert() {
  psql_q "SELECT kind || ',' || building_id || ',' || dwelling_id || ',' || channel_id || ',' ||
    state FROM alerts WHERE gateway_id = 'ga' AND alert_id = $id"
}
wait_for 20 eval '[ "$(psql_q "SELECT count(*) FROM open_alerts WHERE gateway_id = '"'ga'"'
  AND alert_id = $id AND kind = '"'cold_home'"'")" = 1 ]' ||
  fail "the alert did not reach open_alerts: $(central_alert)"
[ "$(central_alert)" = "cold_home,ga-b1,ga-d1,tin,open" ] || fail "central alert: $(central_alert)"
ctl ga alerts ack "$id" > /dev/null
wait_for 20 eval '[ "$(central_alert)" = "cold_home,ga-b1,ga-d1,tin,acknowledged" ]' ||
  fail "the acknowledgement did not follow: $(central_alert)"
ctl ga alerts close "$id" > /dev/null
wait_for 20 eval '[ "$(central_alert)" = "cold_home,ga-b1,ga-d1,tin,closed" ]' ||
  fail "the closing did not follow: $(central_alert)"
[ "$(psql_q "SELECT count(*) FROM open_alerts")" = 0 ] || fail "a closed alert is still open centrally"

# ---- 5: live figures: gb's last two days up to the last hour ---------------
# Its consented e1 and its building's t0 send hours up to the last one, e2
# (no consent) days up to yesterday: still, no channel of gb is silent.
history gb "$(date -u -d '2 days ago' +%F)" 3 $(($(date +%s) / 3600 * 3600 - 3600)) > "$work/gb.live.csv"
ctl gb import "$work/gb.live.csv" > /dev/null
wait_for 30 all_drained || fail "live figures not drained"
[ "$(psql_q "SELECT channels_silent FROM gateway_quality WHERE gateway_id = 'gb'")" = 0 ] ||
  fail "live: silent channels of gb: $(psql_q "SELECT channel_id, last_start FROM channels WHERE gateway_id = 'gb' ORDER BY 1")"
for g in $gateways; do stop_gw "$g"; done
stop_collector c1
echo "fleet_e2e: ok"
