# Helpers of the MQTT integration tests: a real mosquitto broker on a free
# loopback port with its own generated config, foyerd against it, and the
# sensor publisher.  Source after lib.sh; set $work first.  Every process
# started here is stopped by mqtt_cleanup (call it from the EXIT trap).

broker_pid=""
foyerd_pid=""
pub_pid=""

# A free TCP port on 127.0.0.1 (the kernel picks it).
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

port_open() { # port
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Write $work/mosquitto.conf: a loopback listener on $1, anonymous, more
# lines from stdin (persistence, TLS listeners ...).  As root, mosquitto
# would switch to the "mosquitto" user and lose access to $work.
broker_conf() { # port
  {
    echo "user root"
    echo "listener $1 127.0.0.1"
    echo "allow_anonymous true"
    echo "log_dest file $work/mosquitto.log"
    echo "log_type error"
    echo "log_type warning"
    echo "log_type notice"
    echo "max_queued_messages 100000"
    echo "max_inflight_messages 1000"
    cat
  } > "$work/mosquitto.conf"
}

start_broker() { # port (config written by broker_conf)
  mosquitto -c "$work/mosquitto.conf" 2>> "$work/mosquitto.err" &
  broker_pid=$!
  wait_for 10 port_open "$1" || fail "broker did not start: $(cat "$work/mosquitto.err" "$work/mosquitto.log" 2>/dev/null)"
}

# The usual start of a test: a work directory cleaned up on exit, and a
# plain broker on a free port (sets work and port).
mqtt_setup() { # name
  work=$(mktemp -d "/tmp/foyer-mqtt-$1-XXXXXX")
  trap mqtt_cleanup EXIT
  port=$(free_port)
  broker_conf "$port" < /dev/null
  start_broker "$port"
}

stop_broker() {
  [ -n "$broker_pid" ] || return 0
  kill -TERM "$broker_pid" 2>/dev/null || true
  wait "$broker_pid" 2>/dev/null || true
  broker_pid=""
}

# The [foyer] part and one building/dwelling; append [mqtt] and sensors.
foyer_base_conf() {
  cat <<CONF
[foyer]
database = $work/foyer.db
timezone = Europe/Paris
log_level = info
batch_deadline_ms = 100
[building b1]
[dwelling d1]
building = b1
surface_m2 = 40
heating = electric
[dwelling a01]
building = b1
surface_m2 = 55
heating = gas
CONF
}

# Start foyerd on $work/foyer.conf, logging to $work/foyerd.log (appended),
# and wait until it has subscribed.
start_foyerd() {
  local before
  before=$(grep -c "mqtt: subscribed" "$work/foyerd.log" 2>/dev/null || true)
  "$FOYER_BIN/foyerd" --config "$work/foyer.conf" 2>> "$work/foyerd.log" &
  foyerd_pid=$!
  wait_for 15 eval '[ "$(grep -c "mqtt: subscribed" "$work/foyerd.log")" -gt "${before:-0}" ]' ||
    fail "foyerd did not subscribe: $(tail -20 "$work/foyerd.log")"
}

stop_foyerd() {
  [ -n "$foyerd_pid" ] || return 0
  kill -TERM "$foyerd_pid" 2>/dev/null || true
  local rc=0
  wait "$foyerd_pid" || rc=$?
  foyerd_pid=""
  [ "$rc" = 0 ] || fail "foyerd exited $rc: $(tail -20 "$work/foyerd.log")"
}

# Every step runs whatever the one before returned: under set -e a
# "[ -n ... ] && kill" whose process has already exited (or whose pid is
# empty) returns non-zero and would end the function there, leaving the
# broker running.
mqtt_cleanup() {
  local p
  for p in "$pub_pid" "$foyerd_pid" "$broker_pid"; do
    if [ -n "$p" ]; then kill -KILL "$p" 2>/dev/null || true; fi
  done
  wait 2>/dev/null || true
  if [ "${KEEP_WORK:-0}" = 1 ]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}

sql() {
  sqlite3 -cmd ".timeout 2000" "$work/foyer.db" "$1"
}

# Readings of a channel (by name).
count_readings() { # channel-name
  sql "SELECT count(*) FROM readings r JOIN channels c ON c.id = r.channel WHERE c.name = '$1'" 2>/dev/null
}

readings_at_least() { # channel-name n
  local n
  n=$(count_readings "$1")
  [ "${n:-0}" -ge "$2" ]
}
