#!/usr/bin/env bash
# The MQTT password is read whole from password_file, by the same reader as
# every secret (conf_read_secret()), against a broker that requires it:
#  - a password of 255 bytes, the longest taken, reaches the broker
#    unchanged: foyerd subscribes and stores a reading;
#  - a longer one is refused at start, naming the file and the limit.
#    Before, it was cut to 255 bytes without a word, and foyerd retried
#    "not authorised" for ever.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mqtt_lib.sh"

work=$(mktemp -d /tmp/foyer-mqtt-password-XXXXXX)
trap mqtt_cleanup EXIT
port=$(free_port)
long_pw() { # bytes
  /usr/bin/python3 -c "import sys; print(''.join(chr(33 + i % 94) for i in range(int(sys.argv[1]))))" "$1"
}
pw255=$(long_pw 255)
pw300=$(long_pw 300)
mosquitto_passwd -b -c "$work/passwd" foyer "$pw255"
mosquitto_passwd -b "$work/passwd" foyer300 "$pw300"
broker_conf "$port" <<CONF
allow_anonymous false
password_file $work/passwd
CONF
start_broker "$port"

conf() { # username password-file
  foyer_base_conf
  cat <<CONF
[mqtt]
port = $port
client_id = foyerd-password
username = $1
password_file = $2
[sensor s0]
topic = tele/s0/SENSOR
preset = tasmota
dwelling = d1
CONF
}

# 1. 255 bytes: accepted by the broker, so sent whole.
printf '%s\n' "$pw255" > "$work/pw255"
conf foyer "$work/pw255" > "$work/foyer.conf"
start_foyerd
mosquitto_pub -h 127.0.0.1 -p "$port" -u foyer -P "$pw255" -q 1 -t tele/s0/SENSOR \
  -m '{"ENERGY":{"Total":12.5,"Power":100}}'
wait_for 10 readings_at_least s0.energy 1 || fail "no reading stored: $(tail -5 "$work/foyerd.log")"
stop_foyerd

# 2. 300 bytes: refused at start, never sent cut short.
printf '%s\n' "$pw300" > "$work/pw300"
conf foyer300 "$work/pw300" > "$work/foyer.conf"
: > "$work/foyerd.log"
"$FOYER_BIN/foyerd" --config "$work/foyer.conf" 2>> "$work/foyerd.log" &
foyerd_pid=$!
exited() { ! kill -0 "$foyerd_pid" 2>/dev/null; }
wait_for 10 exited || fail "foyerd runs with a 300-byte password: $(tail -5 "$work/foyerd.log")"
rc=0
wait "$foyerd_pid" || rc=$?
foyerd_pid=""
[ "$rc" = 1 ] || fail "foyerd exited $rc with a 300-byte password: $(tail -5 "$work/foyerd.log")"
grep -q "mqtt: $work/pw300: cannot read the password: longer than 255 bytes" "$work/foyerd.log" ||
  fail "no message naming the password file and the limit: $(tail -5 "$work/foyerd.log")"
echo "mqtt_password: a 255-byte password sent whole, a 300-byte one refused at start"
