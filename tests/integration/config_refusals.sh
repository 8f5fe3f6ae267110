#!/usr/bin/env bash
# What foyerd refuses when it starts, `foyerd --check-config` refuses too,
# with the same FILE:LINE message (systemd runs the check as ExecStartPre: a
# config it passes must not make foyerd exit and restart-loop): a time zone
# with a half-hour offset, a Modbus gateway given by name, an MQTT client ID
# that is not UTF-8.  A FIFO where a config, profile or language file is
# expected is refused at once: it hung --check-config, SIGHUP (and then
# SIGTERM) and foyerctl.  Every command runs under `timeout 10`, so that a
# regression fails instead of hanging.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

work=$(mktemp -d /tmp/foyer-refusals-XXXXXX)
pid=""
cleanup() {
  [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"

base_conf() { # extra [foyer] lines on stdin are appended to [foyer]
  cat <<CONF
[foyer]
database = $work/foyer.db
$(cat)
[building b1]
[dwelling d1]
building = b1
surface_m2 = 40
heating = electric
[tenancy t1]
dwelling = d1
start = 2026-01-01
CONF
}

# The line of foyer.conf that starts with $1.
line_of() { grep -n -m 1 "^$1" foyer.conf | cut -d: -f1; }

# $1: a name for messages; foyer.conf is already written; $2: the expected
# message.  Both the check and the start must refuse, with that message.
both_refuse() {
  local rc=0
  timeout 10 "$FOYER_BIN/foyerd" --check-config --config foyer.conf > check.out 2>&1 || rc=$?
  [ "$rc" = 1 ] || fail "$1: --check-config exited $rc: $(cat check.out)"
  grep -qF "$2" check.out || fail "$1: --check-config said: $(cat check.out)"
  rc=0
  timeout 10 "$FOYER_BIN/foyerd" --config foyer.conf > start.out 2>&1 || rc=$?
  [ "$rc" = 1 ] || fail "$1: foyerd exited $rc: $(cat start.out)"
  grep -qF "$2" start.out || fail "$1: foyerd said: $(cat start.out)"
  [ ! -e foyer.db ] || fail "$1: foyerd opened the database before refusing"
}

# Zones whose offset is not a whole number of hours (hour buckets are UTC
# hours): foyerd always refused them, the check passed them.
for zone in Asia/Kolkata Asia/Kathmandu; do
  printf 'timezone = %s\n' "$zone" | base_conf > foyer.conf
  both_refuse "$zone" "foyer.conf:$(line_of timezone): time zone \"$zone\" is not usable: its offset UTC+05:"
done
printf 'timezone = Europe/Paris\n' | base_conf > foyer.conf
timeout 10 "$FOYER_BIN/foyerd" --check-config --config foyer.conf > /dev/null ||
  fail "Europe/Paris refused"

# A Modbus TCP gateway given by a long name: libmodbus takes IPv4 addresses
# only and refused it at the start.
{ printf 'timezone = UTC\n' | base_conf; cat <<CONF
[bus gw1]
type = tcp
host = modbus-gateway.example.org
[meter m1]
profile = sdm120
bus = gw1
unit_id = 1
dwelling = d1
CONF
} > foyer.conf
sed -i "s|^timezone = UTC|timezone = UTC\nprofiles_dir = $FOYER_SRC/config/profiles|" foyer.conf
both_refuse "bus host" "foyer.conf:$(line_of host): bad value \"modbus-gateway.example.org\" for \"host\" in [bus gw1]"

# An MQTT client ID with a control character: libmosquitto refused it at
# the start.
{ printf 'timezone = UTC\n' | base_conf; printf '[mqtt]\nport = 1\nclient_id = gw\001\n'
  printf '[sensor s1]\ntopic = a/b\npreset = zigbee2mqtt\ndwelling = d1\n'; } > foyer.conf
both_refuse "client_id" "foyer.conf:$(line_of client_id): bad value \"gw"

# An include that matches a FIFO: refused at once, with the include's line.
mkdir conf.d
mkfifo conf.d/20-fifo.conf
{ printf 'timezone = UTC\n' | base_conf; printf 'include = conf.d/*.conf\n'; } > foyer.conf
rc=0
timeout 10 "$FOYER_BIN/foyerd" --check-config --config foyer.conf > check.out 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "include of a FIFO: --check-config exited $rc (124: it hung): $(cat check.out)"
grep -qx "foyer.conf:$(line_of include): cannot open include \"conf.d/20-fifo.conf\": not a regular file (a FIFO, socket or device)" \
  check.out || fail "include of a FIFO: $(cat check.out)"

# A meter profile that is a FIFO.
mkdir profiles
mkfifo profiles/fifo.conf
{ printf 'timezone = UTC\n' | base_conf
  printf '[bus gw1]\ntype = tcp\nhost = 192.0.2.1\n[meter m1]\nprofile = fifo\nbus = gw1\n'
  printf 'unit_id = 1\ndwelling = d1\n'; } > foyer.conf
rc=0
timeout 10 "$FOYER_BIN/foyerd" --check-config --config foyer.conf > check.out 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "FIFO profile: --check-config exited $rc: $(cat check.out)"
grep -qF "foyer.conf:$(line_of profile): meter m1: cannot read profile \"fifo\" (profiles/fifo.conf: not a regular file" \
  check.out || fail "FIFO profile: $(cat check.out)"

# SIGHUP while an include matches a FIFO: the reload is refused, foyerd
# goes on and stops on SIGTERM.
rm conf.d/20-fifo.conf
{ printf 'timezone = UTC\n' | base_conf; printf 'include = conf.d/*.conf\n'; } > foyer.conf
"$FOYER_BIN/foyerd" --config foyer.conf 2> foyerd.log &
pid=$!
wait_for 10 grep -q "started:" foyerd.log || fail "foyerd did not start: $(cat foyerd.log)"
mkfifo conf.d/20-fifo.conf
kill -HUP "$pid"
wait_for 10 grep -q "reload refused" foyerd.log || fail "SIGHUP with a FIFO include: $(cat foyerd.log)"
grep -qF 'cannot open include "conf.d/20-fifo.conf": not a regular file' foyerd.log ||
  fail "reload error without FILE:LINE: $(cat foyerd.log)"
kill -TERM "$pid"
wait_for 10 eval '! kill -0 "$pid" 2>/dev/null' || fail "foyerd did not stop on SIGTERM after the reload"
rc=0
wait "$pid" || rc=$?
pid=""
[ "$rc" = 0 ] || fail "foyerd exited $rc on SIGTERM"

# A language file that is a FIFO (foyerctl summary reads tips.LANG.conf).
printf 'timezone = UTC\n' | base_conf > foyer.conf
mkdir lang
mkfifo lang/tips.fr.conf
cp "$FOYER_SRC/config/summary.fr.conf" lang/
rc=0
FOYER_LANG_DIR=$work/lang timeout 10 "$FOYER_BIN/foyerctl" --config foyer.conf \
  summary --dwelling d1 --period 2026-01 > ctl.out 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "FIFO language file: foyerctl exited $rc (124: it hung): $(cat ctl.out)"
grep -q "tips.fr.conf:.*cannot open: not a regular file" ctl.out || fail "FIFO language file: $(cat ctl.out)"
echo "config_refusals: the check refuses what the start refuses; FIFOs refused at once"
