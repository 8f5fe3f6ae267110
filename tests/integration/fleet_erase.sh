#!/usr/bin/env bash
# A household's erasure and the withdrawal of its load-curve consent reach
# the central database (issue 15, RGPD; protocol amendment 3 of
# docs/fleet.md).  A real foyerd gateway (a building of 7 dwellings, two
# months and more of hourly history), a real mosquitto, foyer-collector and
# a PostgreSQL 15 cluster of the test's own; every items message the
# gateway publishes is also recorded by a second subscriber, to be replayed.
#   1. once the centre holds the history: foyerctl erase --dwelling X
#      --before D next to the running foyerd; then no row of any central
#      table naming a channel or a dwelling (read from information_schema,
#      so that a table added later is checked too, but for an allow-list
#      given with its reasons) holds X's data before D; X's rows from D
#      on stay; the building totals of the documented views (building_day,
#      building_month, counters, the dwellings' level) are the same to the
#      Wh;
#   2. the collector restarted, every message the gateway sent replayed,
#      newest first (the erasure again, then the erased rows' older items
#      after it): nothing comes back, the totals do not move (the folds are
#      not added twice);
#   3. foyerctl consent withdraw --purpose load_curve on dwelling W: W's
#      hourly rows are deleted centrally (its days stay, X's and the
#      building's hours after D too), and a replay does not bring them back.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mqtt_lib.sh"
. "$(dirname "$0")/pg_lib.sh"

PY=/usr/bin/python3
export FOYER_LANG_DIR="$FOYER_SRC/config"
export TZ=Europe/Paris # the config's zone: dates and cuts as it counts them
mqtt_setup fleeterase
gw_pid=""
sub_pid=""
cleanup() {
  if [ -n "$gw_pid" ]; then kill -KILL "$gw_pid" 2>/dev/null || true; fi
  if [ -n "$sub_pid" ]; then kill -KILL "$sub_pid" 2>/dev/null || true; fi
  pg_cleanup
}
trap cleanup EXIT
pg_setup
collector_conf c1
"$FOYER_BIN/central/foyer-collector" --init-db --config "$work/c1.conf" > /dev/null ||
  fail "--init-db"
start_collector c1

X=zq7erase # the erased household: electricity, hot water, a thermometer
W=d3       # the household that withdraws its load-curve consent
GW=gw-erase
{
  cat <<CONF
[foyer]
database = $work/foyer.db
timezone = Europe/Paris
log_level = info
batch_deadline_ms = 100
raw_retention_days = 3650
raw_retention_days_no_consent = 3650
[building b1]
[channel b1-heat]
building = b1
quantity = heat
CONF
  for d in d1 d2 d3 d4 d5 d6 $X; do
    consent=no
    if [ "$d" = "$X" ] || [ "$d" = "$W" ]; then consent=yes; fi
    printf '[dwelling %s]\nbuilding = b1\nsurface_m2 = 50\nheating = electric\nconsent = %s\n' \
      "$d" "$consent"
    printf '[channel %s-elec]\ndwelling = %s\nquantity = electricity\n' "$d" "$d"
  done
  printf '[channel %s-hw]\ndwelling = %s\nquantity = hot_water\n' "$X" "$X"
  printf '[channel %s-temp]\ndwelling = %s\nquantity = temperature\n' "$X" "$X"
  cat <<CONF
[uplink]
host = 127.0.0.1
port = $port
gateway_id = $GW
ack_timeout_s = 3
batch_items = 500
max_in_flight = 2000
settle_s = 0
CONF
} > "$work/foyer.conf"
ctl() { "$FOYER_BIN/foyerctl" --config "$work/foyer.conf" "$@"; }
gsql() { sqlite3 "$work/foyer.db" "$1"; }

# Hourly history from the first day of the month before last to an hour
# ago: two whole months reach the centre as months.  X's meter is replaced
# on the 10th of the first month (an event of its channel).  The cut D is
# the 15th of last month: the month of the cut keeps its days from D on.
first=$(date -d "$(date +%Y-%m-01) -2 month" +%F)
D=$(date -d "$(date +%Y-%m-01) -1 month" +%Y-%m-15)
D_s=$(date -d "$D" +%s)
M_s=$(date -d "${D%-15}-01" +%s) # the month of the cut
$PY - "$X" "$(date -d "$first" +%s)" > "$work/history.csv" <<'PY'
import sys, time
X, t0 = sys.argv[1], int(sys.argv[2])
now = int(time.time())
idx = {}
reset = t0 + 9 * 86400 + 12 * 3600
print("channel,time,value")
for ts in range(t0, now - 3600, 3600):
    t = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
    hod = (ts // 3600) % 24
    for k, d in enumerate(["d1", "d2", "d3", "d4", "d5", "d6", X]):
        idx[d] = idx.get(d, 1000.0 * (k + 1)) + 0.2 + 0.03 * k + (0.4 if 18 <= hod <= 21 else 0)
        v = idx[d] - (idx[d] - 5 if d == X and ts >= reset else 0)
        print("%s-elec,%s,%.3f" % (d, t, v))
    idx["heat"] = idx.get("heat", 50000.0) + 1.5 + (hod % 5) * 0.25
    print("b1-heat,%s,%.3f" % (t, idx["heat"]))
    idx["hw"] = idx.get("hw", 0.0) + (12.0 if hod in (7, 8, 20) else 0.5)
    print("%s-hw,%s,%.1f" % (X, t, idx["hw"]))
    print("%s-temp,%s,%.2f" % (X, t, 19.5 + (hod % 7) * 0.1))
PY
ctl import "$work/history.csv" > "$work/import.log" 2>&1 || fail "import: $(cat "$work/import.log")"

# The recorder: every items message of the gateway, one per line (line
# buffered: the file is read while it runs).
stdbuf -oL mosquitto_sub -h 127.0.0.1 -p "$port" -q 1 -d -t "foyer/v1/$GW/items" > "$work/sub.out" 2>&1 &
sub_pid=$!
wait_for 10 grep -q SUBACK "$work/sub.out" || fail "recorder did not subscribe: $(cat "$work/sub.out")"

"$FOYER_BIN/foyerd" --config "$work/foyer.conf" 2>> "$work/foyerd.log" &
gw_pid=$!
wait_for 15 grep -qs "uplink: connected" "$work/foyerd.log" ||
  fail "foyerd did not connect its uplink: $(tail -20 "$work/foyerd.log")"

drained() { # everything settled queued, sent and acked
  local today
  today=$(date -d "$(date +%F)" +%s)
  [ "$(gsql "SELECT (SELECT count(*) FROM uplink_outbox) + (SELECT count(*) FROM uplink_dirty
    WHERE (gran = 0 AND ts + 3600 <= $(date +%s)) OR (gran = 1 AND ts < $today))")" = 0 ]
}
wait_for 40 drained || fail "the history did not drain: $(gsql "SELECT count(*) FROM uplink_outbox") items waiting"

xch="'$X-elec', '$X-hw', '$X-temp'"
wch="'$W-elec'"
# X's rows before D in a central table: by its channels, else its dwelling.
# A month is the sum of its days: the month of the cut stays, holding the
# days from D on (checked below), the months before it go.
x_before() { # table time-column has-channel has-dwelling
  local cond=() cut=$D_s
  [ "$1" = rollup_month ] && cut=$M_s
  [ "$3" = 1 ] && cond+=("channel_id IN ($xch)")
  [ "$4" = 1 ] && cond+=("dwelling_id = '$X'")
  psql_q "SELECT count(*) FROM $1 WHERE ($(IFS='|'; echo "${cond[*]}" | sed 's/|/ OR /g'))
    AND $2 < to_timestamp($cut)"
}
# Building totals of counters through the documented views: day and month
# sums per building, quantity and unit, to the Wh (litres for water).
totals() {
  psql_q "SELECT 'day', building_id, quantity, unit, day, round(total::numeric, 3) FROM building_day
      WHERE kind = 'counter' AND level = 'dwellings'
    UNION ALL SELECT 'month', building_id, quantity, unit, month, round(total::numeric, 3)
      FROM building_month WHERE kind = 'counter' AND level = 'dwellings' ORDER BY 1, 2, 3, 4, 5"
}
for t in rollup_hour rollup_day rollup_month; do
  [ "$(x_before $t period_start 1 1)" -gt 0 ] || fail "the centre holds no $t of $X before $D"
done
[ "$(x_before events event_time 1 0)" -gt 0 ] || fail "the centre holds no event of $X before $D"
[ "$(psql_q "SELECT count(*) FROM rollup_hour WHERE channel_id IN ($wch)")" -gt 0 ] ||
  fail "the centre holds no hour of $W"
totals > "$work/totals.before"
[ "$(grep -c '^month|b1|electricity' "$work/totals.before")" -ge 2 ] ||
  fail "no two months of electricity centrally: $(cat "$work/totals.before" | head)"

# ---- 1: the erasure reaches the centre --------------------------------------
ctl erase --dwelling $X --before "$D" --force > "$work/erase.out" 2>&1 ||
  fail "erase: $(cat "$work/erase.out")"
# Queued with the erasure itself (one transaction), then acked.
wait_for 20 eval '[ "$(psql_q "SELECT count(*) FROM fleet_erasures WHERE kind = '"'erasure'"'")" -ge 1 ]' ||
  fail "the erasure did not reach the centre: $(tail -5 "$work/c1.log")"
wait_for 20 drained || fail "the erasure not acked"

# Every central table with a channel or dwelling column (a partition is
# read through its parent), but these:
allow="channels dwellings fleet_erasures fleet_erased_channels"
# channels, dwellings: the places learned from the items, no figure, no time
# fleet_erasures, fleet_erased_channels: the proof of the erasure and the cut
# the upserts check (which dwelling, which channels, before when)
psql_q "SELECT c.table_name, bool_or(c.column_name = 'channel_id')::int,
    bool_or(c.column_name = 'dwelling_id')::int,
    (array_agg(c.column_name::text ORDER BY c.ordinal_position) FILTER (WHERE
      c.data_type = 'timestamp with time zone' AND c.column_name IN ('period_start', 'event_time',
      'opened_at')))[1]
  FROM information_schema.columns c JOIN information_schema.tables t USING (table_schema, table_name)
  WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
    AND NOT EXISTS (SELECT 1 FROM pg_inherits i WHERE i.inhrelid = c.table_name::regclass)
  GROUP BY c.table_name HAVING bool_or(c.column_name IN ('channel_id', 'dwelling_id'))
  ORDER BY 1" > "$work/tables"
check_erased() { # label
  local n=0 tab hc hd tcol rows
  while IFS='|' read -r tab hc hd tcol; do
    case " $allow " in *" $tab "*) continue ;; esac
    [ -n "$tcol" ] || fail "$1: table $tab names channels or dwellings but has no known time column: teach this test its time"
    rows=$(x_before "$tab" "$tcol" "$hc" "$hd")
    [ "$rows" = 0 ] || fail "$1: $tab still holds $rows rows of $X before $D"
    n=$((n + 1))
  done < "$work/tables"
  [ "$n" -ge 5 ] || fail "$1: only $n tables checked: $(cat "$work/tables")"
}
check_erased "after the erasure"
[ "$(psql_q "SELECT count(*) FROM rollup_day WHERE channel_id = '$X-elec' AND period_start >= to_timestamp($D_s)")" -gt 0 ] ||
  fail "$X's days from $D on were erased too"
cut_month() { # X's month of the cut minus the sum of its days from D (all of them kept)
  psql_q "SELECT m.channel_id, round((m.sum - (SELECT sum(d.sum) FROM rollup_day d
      WHERE d.channel_id = m.channel_id AND d.period_start >= to_timestamp($D_s)
      AND d.local_day < (m.local_day + interval '1 month')::date))::numeric, 3)
    FROM rollup_month m WHERE m.channel_id IN ($xch) AND m.period_start = to_timestamp($M_s)
    ORDER BY 1"
}
[ "$(cut_month | grep -c '|0.000$')" = 3 ] ||
  fail "$X's month of the cut is not the sum of its days from $D: $(cut_month)"
totals > "$work/totals.after"
diff "$work/totals.before" "$work/totals.after" > "$work/totals.diff" ||
  fail "the building totals moved with the erasure: $(head -20 "$work/totals.diff")"

# ---- 2: the collector restarted, everything replayed: nothing comes back ---
replay() { # file of messages
  local before n=0 f
  before=$(psql_q "SELECT items_received + items_rejected FROM gateways WHERE gateway_id = '$GW'")
  rm -rf "$work/replay" && mkdir "$work/replay"
  $PY - "$1" "$work/replay" <<'PY'
import sys, json
n = 0
for i, line in enumerate(l for l in open(sys.argv[1]) if l.startswith("{")):
    open("%s/%04d" % (sys.argv[2], i), "w").write(line.rstrip("\n"))
    n += len(json.loads(line)["items"])
open(sys.argv[2] + "/count", "w").write(str(n))
PY
  # Newest first: the erasure (or withdrawal) again, then every older item
  # after it, as a late resend would bring them.
  for f in $(ls -r "$work"/replay/[0-9]*); do
    mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -t "foyer/v1/$GW/items" -f "$f" ||
      fail "replay of $f"
  done
  n=$(cat "$work/replay/count")
  wait_for 30 eval '[ "$(psql_q "SELECT items_received + items_rejected FROM gateways WHERE gateway_id = '"'$GW'"'")" -ge $((before + n)) ]' ||
    fail "the replay of $n items was not written"
}
grep -q '"type":"erasure"' "$work/sub.out" || fail "the recorder did not see the erasure item"
stop_collector c1
start_collector c1
cp "$work/sub.out" "$work/erase.sent"
replay "$work/erase.sent"
check_erased "after the replay"
totals > "$work/totals.replay"
diff "$work/totals.before" "$work/totals.replay" > "$work/totals.diff" ||
  fail "the building totals moved with the replay: $(head -20 "$work/totals.diff")"

# ---- 3: a withdrawal of load_curve deletes the hours centrally -------------
w_hours() { psql_q "SELECT count(*) FROM rollup_hour WHERE channel_id IN ($wch) OR dwelling_id = '$W'"; }
x_hours=$(psql_q "SELECT count(*) FROM rollup_hour WHERE channel_id IN ($xch)")
ctl consent withdraw --dwelling $W --purpose load_curve > /dev/null || fail "withdraw"
wait_for 20 eval '[ "$(w_hours)" = 0 ]' ||
  fail "$W's hourly rows not deleted centrally: $(w_hours) left"
wait_for 20 drained || fail "the withdrawal not acked"
[ "$(psql_q "SELECT count(*) FROM rollup_day WHERE channel_id IN ($wch)")" -gt 0 ] ||
  fail "$W's days deleted with its hours"
[ "$(psql_q "SELECT count(*) FROM rollup_hour WHERE channel_id IN ($xch)")" = "$x_hours" ] ||
  fail "other hours deleted with $W's"
cp "$work/sub.out" "$work/withdraw.sent"
replay "$work/withdraw.sent"
[ "$(w_hours)" = 0 ] || fail "the replay brought back $(w_hours) hourly rows of $W"
check_erased "after the second replay"

kill -TERM "$gw_pid"
wait "$gw_pid" || fail "foyerd exited $?: $(tail -20 "$work/foyerd.log")"
gw_pid=""
stop_collector c1
echo "fleet_erase: ok"
