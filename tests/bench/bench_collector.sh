#!/usr/bin/env bash
# Fleet collector bench: simulated gateways (foyer-fleet-gw, one process for
# many) -> mosquitto -> foyer-collector -> PostgreSQL 15 (fsync on), all on
# this machine.  Prints, in the same run:
#   - the fleet: GATEWAYS gateways x a week of hourly rollups of 5 channels,
#     flat out: items/s from the first publication to the last ack (acked
#     only after commit), and the end-to-end lag (publication -> ack);
#   - the same volume paced at 5 600 items/s (the issue's target): the lag
#     of a steady flow;
#   - a week of one building (100 channels) caught up, the issue's target;
#   - baselines on the same cluster: the same number of rollup rows by COPY
#     into a plain table (no upsert, no partition, no broker), and
#     single-row INSERTs, one transaction each (what a naive collector does).
# Never fails on time.  Usage: bench_collector.sh BUILD_DIR [GATEWAYS]
set -euo pipefail
bin=$(cd "${1:?build dir}" && pwd)
gateways=${2:-40}
export FOYER_SRC=${FOYER_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
export FOYER_BIN=$bin
. "$FOYER_SRC/tests/integration/lib.sh"
. "$FOYER_SRC/tests/integration/mqtt_lib.sh"
. "$FOYER_SRC/tests/integration/pg_lib.sh"
pg_fsync=on
mqtt_setup bench
trap pg_cleanup EXIT
pg_setup
collector_conf bench
sed -i 's/^batch_max = .*/batch_max = 4000/; s/^batch_deadline_ms = .*/batch_deadline_ms = 200/' \
  "$work/bench.conf"
"$bin/central/foyer-collector" --init-db --config "$work/bench.conf" > /dev/null
start_collector bench

now_ns() { date +%s%N; }
field() { sed -n "s/.* $1 \([0-9.]*\).*/\1/p" <<< "$2"; }

res=$("$bin/tests/foyer-fleet-gw" --port "$port" --gateways "$gateways" --prefix f --hours 168 \
  --channels 5 --ack-timeout-ms 30000 --timeout-s 300)
rows=$(psql_q "SELECT count(*) FROM rollup_hour")
cpu=$(awk '{ printf "%.2f", ($14 + $15) / 100 }' "/proc/${collector_pids[bench]}/stat")
printf 'fleet: %d gateways x 168 h x 5 channels: %s items in %s ms: %s items/s into PostgreSQL (acked after commit); lag avg %s ms, max %s ms; %s hourly rows; collector CPU %s s\n' \
  "$gateways" "$(field items " $res")" "$(field elapsed_ms "$res")" "$(field rate_items_s "$res")" \
  "$(field lag_ms_avg "$res")" "$(field lag_ms_max "$res")" "$rows" "$cpu"

# The same volume paced at the issue's target, 5 600 items/s: the lag a
# steady flow sees (flat out, above, everything is queued at once).
res=$("$bin/tests/foyer-fleet-gw" --port "$port" --gateways "$gateways" --prefix r --hours 168 \
  --channels 5 --rate 5600 --ack-timeout-ms 30000 --timeout-s 300)
printf 'paced at 5 600 items/s: %s items in %s ms (%s items/s); lag avg %s ms, max %s ms\n' \
  "$(field items " $res")" "$(field elapsed_ms "$res")" "$(field rate_items_s "$res")" \
  "$(field lag_ms_avg "$res")" "$(field lag_ms_max "$res")"

bytes=$(psql_q "SELECT (sum(pg_total_relation_size(inhrelid)) / (SELECT count(*) FROM rollup_hour))::int FROM pg_inherits
  WHERE inhparent = 'rollup_hour'::regclass")
printf 'storage: %s bytes per hourly rollup row (table, primary key, TOAST)\n' "$bytes"

res=$("$bin/tests/foyer-fleet-gw" --port "$port" --gateways 1 --prefix week --hours 168 \
  --channels 100 --ack-timeout-ms 30000 --timeout-s 300)
printf 'one building, a week, 100 channels: %s items caught up in %s ms (%s items/s)\n' \
  "$(field items " $res")" "$(field elapsed_ms "$res")" "$(field rate_items_s "$res")"

# Baselines on the same cluster, the same rows.
psql_q "CREATE TABLE copy_base (gateway_id text, channel_id text, period_start timestamptz,
  start_local text, local_day date, building_id text, dwelling_id text, quantity text,
  kind text, unit text, sum double precision, n bigint, min double precision,
  max double precision, seq bigint, PRIMARY KEY (gateway_id, channel_id, period_start))"
psql_q "COPY (SELECT gateway_id, channel_id, period_start, start_local, local_day, building_id,
  dwelling_id, quantity, kind, unit, sum, n, min, max, seq FROM rollup_hour WHERE gateway_id LIKE 'f%')
  TO STDOUT" > "$work/rows.tsv"
t0=$(now_ns)
psql -h "$pgdir" -p "$pgport" -U postgres -d foyer -X -q -c "\\copy copy_base FROM '$work/rows.tsv'"
t1=$(now_ns)
n=$(wc -l < "$work/rows.tsv")
printf 'baseline COPY into a plain table: %d rows in %d ms: %d rows/s\n' "$n" \
  $(((t1 - t0) / 1000000)) $((n * 1000000000 / (t1 - t0)))
head -n 2000 "$work/rows.tsv" | awk -F'\t' '{ printf "INSERT INTO copy_base VALUES (%s%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s);\n",
  "'\''x", $1 "'\''", "'\''" $2 "'\''", "'\''" $3 "'\''", "'\''" $4 "'\''", "'\''" $5 "'\''",
  "'\''" $6 "'\''", ($7 == "\\N" ? "NULL" : "'\''" $7 "'\''"), "'\''" $8 "'\''", "'\''" $9 "'\''",
  "'\''" $10 "'\''", $11, $12, ($13 == "\\N" ? "NULL" : $13), ($14 == "\\N" ? "NULL" : $14), $15 }' \
  > "$work/inserts.sql"
t0=$(now_ns)
psql -h "$pgdir" -p "$pgport" -U postgres -d foyer -X -q -f "$work/inserts.sql"
t1=$(now_ns)
printf 'baseline single-row INSERTs, one transaction each (psql): 2000 rows in %d ms: %d rows/s\n' \
  $(((t1 - t0) / 1000000)) $((2000 * 1000000000 / (t1 - t0)))
printf 'target (issue 16): 5600 rows/s (100 x a 40 000-dwelling landlord), a week of a building < 60 s\n'
stop_collector bench
