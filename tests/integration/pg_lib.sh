# Helpers of the collector's tests: a PostgreSQL 15 cluster of the test's
# own (initdb in $work/pg, a free loopback port, its unix socket in $work/pg)
# and foyer-collector against it.  Source after lib.sh and mqtt_lib.sh; set
# $work first.  PostgreSQL refuses to run as root: as root, the cluster
# belongs to the "postgres" user, which Debian's postgresql-15 package
# creates.  pg_cleanup (from the EXIT trap) stops what was started here.

pgbin=/usr/lib/postgresql/15/bin
pgdir=""
pgport=""
declare -A collector_pids=()

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_setup() {
  [ -x "$pgbin/initdb" ] || fail "PostgreSQL 15 missing ($pgbin; package postgresql-15)"
  pgdir=$work/pg
  pgport=$(free_port)
  mkdir -p "$pgdir"
  if [ "$(id -u)" = 0 ]; then
    chmod 755 "$work"
    chown postgres: "$pgdir"
  fi
  as_pg "$pgbin/initdb" -D "$pgdir/data" -U postgres -A trust -E UTF8 --locale=C --no-sync \
    > "$pgdir/initdb.log" 2>&1 || fail "initdb: $(cat "$pgdir/initdb.log")"
  pg_start
  as_pg "$pgbin/createdb" -h "$pgdir" -p "$pgport" -U postgres foyer || fail "createdb"
}

pg_start() {
  # fsync off: the tests stop PostgreSQL, never the machine (the bench sets
  # pg_fsync=on).
  as_pg "$pgbin/pg_ctl" -D "$pgdir/data" -l "$pgdir/pg.log" -w -t 30 start \
    -o "-p $pgport -k $pgdir -c listen_addresses=127.0.0.1 -c fsync=${pg_fsync:-off}" > /dev/null ||
    fail "PostgreSQL did not start: $(tail -20 "$pgdir/pg.log")"
}

pg_stop() { # [mode]
  as_pg "$pgbin/pg_ctl" -D "$pgdir/data" -w -t 30 -m "${1:-fast}" stop > /dev/null
}

psql_q() { # sql: one value per line, fields separated by |
  psql -h "$pgdir" -p "$pgport" -U postgres -d foyer -X -q -A -t -v ON_ERROR_STOP=1 -c "$1"
}

pg_conninfo() {
  echo "host=$pgdir port=$pgport user=postgres dbname=foyer"
}

# $work/NAME.conf for a collector with client_id NAME and /metrics on a free
# port (its port in $work/NAME.metrics_port).
collector_conf() { # name
  local mport
  mport=$(free_port)
  echo "$mport" > "$work/$1.metrics_port"
  cat > "$work/$1.conf" <<CONF
[broker]
host = 127.0.0.1
port = $port
client_id = $1
session_expiry_s = 600
[postgresql]
conninfo = $(pg_conninfo)
[collector]
batch_max = 1000
batch_deadline_ms = 50
metrics_listen = 127.0.0.1:$mport
log_level = info
CONF
}

# Start collector NAME (config from collector_conf) and wait until it has
# subscribed.
start_collector() { # name
  local name=$1 before
  before=$(grep -c "subscribed to" "$work/$name.log" 2>/dev/null || true)
  "$FOYER_BIN/central/foyer-collector" --config "$work/$name.conf" 2>> "$work/$name.log" &
  collector_pids[$name]=$!
  wait_for 15 eval '[ "$(cat "$work/$name.log" 2>/dev/null | grep -c "subscribed to")" -gt "${before:-0}" ]' ||
    fail "collector $name did not subscribe: $(tail -20 "$work/$name.log")"
}

stop_collector() { # name: SIGTERM, must exit 0
  local pid=${collector_pids[$1]} rc=0
  kill -TERM "$pid"
  wait "$pid" || rc=$?
  unset "collector_pids[$1]"
  [ "$rc" = 0 ] || fail "collector $1 exited $rc: $(tail -20 "$work/$1.log")"
}

kill_collector() { # name: SIGKILL
  kill -KILL "${collector_pids[$1]}" 2>/dev/null || true
  wait "${collector_pids[$1]}" 2>/dev/null || true
  unset "collector_pids[$1]"
}

# A metric of collector NAME.
metric() { # name metric
  /usr/bin/python3 - "$(cat "$work/$1.metrics_port")" "$2" <<'PY'
import sys, urllib.request
body = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=5).read().decode()
for line in body.splitlines():
    if line.startswith("foyer_collector_" + sys.argv[2] + " "):
        print(line.split()[1])
PY
}

pg_cleanup() {
  local pid
  for pid in "${collector_pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  if [ -n "$pgdir" ] && [ -f "$pgdir/data/postmaster.pid" ]; then
    pg_stop immediate 2>/dev/null || true
  fi
  mqtt_cleanup
}
