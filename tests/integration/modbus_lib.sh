# Helpers of the Modbus integration tests (sourced after lib.sh): the meter
# simulator, foyerd with a config written by the test, SQL on its database.
# Each test owns $work (a temp dir) and calls mb_cleanup from its EXIT trap.

PY=/usr/bin/python3 # Debian's, with python3-pymodbus (not a pyenv shim)
sim_pid=""
foyerd_pid=""
sim_acks=0

mb_cleanup() {
  [ -n "$foyerd_pid" ] && kill -KILL "$foyerd_pid" 2>/dev/null || true
  [ -n "$sim_pid" ] && kill -TERM "$sim_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}

# mb_start_sim ARGS...: the simulator on a free port; sets sim_port.
mb_start_sim() {
  "$FOYER_BIN/tests/foyer-modbus-sim" --port-file "$work/sim.port" --control "$work/sim.ctl" \
    "$@" > "$work/sim.log" 2>&1 &
  sim_pid=$!
  wait_for 10 test -s "$work/sim.port" || fail "simulator did not start: $(cat "$work/sim.log")"
  sim_port=$(cat "$work/sim.port")
}

# mb_sim CMD [ARG]: send a command and wait for its acknowledgement.
mb_sim() {
  sim_acks=$((sim_acks + 1))
  echo "$*" > "$work/sim.ctl"
  wait_for 5 mb_acks_at_least "$sim_acks" || fail "simulator did not acknowledge \"$*\""
  grep -q "^ok $*" "$work/sim.log" || fail "simulator refused \"$*\""
}
mb_acks_at_least() { [ "$(grep -cE '^(ok|error) ' "$work/sim.log")" -ge "$1" ]; }

# mb_conf_head: [foyer], a building and a dwelling; the caller appends buses
# and meters.  Profiles from $work/profiles (the shipped ones copied there).
mb_conf_head() {
  mkdir -p "$work/profiles"
  cp "$FOYER_SRC"/config/profiles/*.conf "$work/profiles/"
  cat > "$work/foyer.conf" <<CONF
[foyer]
database = $work/foyer.db
timezone = Europe/Paris
profiles_dir = $work/profiles
batch_deadline_ms = 100
log_level = info
[building b1]
[dwelling d1]
building = b1
surface_m2 = 40
heating = electric
CONF
}

# mb_conf_gateway N OFFLINE_AFTER: append the simulator's TCP gateway as
# [bus gw1] (300 ms timeout) and SDM120 meters m1..mN (unit ids 1..N) in
# dwelling d1, polled every 2 s.
mb_conf_gateway() { # meters offline_after
  cat >> "$work/foyer.conf" <<CONF
[bus gw1]
type = tcp
host = 127.0.0.1
port = $sim_port
timeout_ms = 300
offline_after = $2
CONF
  local u
  for u in $(seq 1 "$1"); do
    printf '[meter m%d]\nprofile = sdm120\nbus = gw1\nunit_id = %d\ndwelling = d1\ninterval = 2\n' \
      "$u" "$u" >> "$work/foyer.conf"
  done
}

mb_start_foyerd() {
  "$FOYER_BIN/foyerd" --config "$work/foyer.conf" 2> "$work/foyerd.log" &
  foyerd_pid=$!
  wait_for 10 grep -q "started:" "$work/foyerd.log" || fail "foyerd did not start: $(cat "$work/foyerd.log")"
}

# SIGTERM, exit 0 (commits what is queued, stores the last health).
mb_stop_foyerd() {
  kill -TERM "$foyerd_pid"
  local rc=0
  wait "$foyerd_pid" || rc=$?
  foyerd_pid=""
  [ "$rc" = 0 ] || fail "foyerd exited $rc: $(tail -n 20 "$work/foyerd.log")"
}

sql() { sqlite3 -cmd ".timeout 2000" "$work/foyer.db" "$@"; }

# Readings of a channel stored so far (0 while the database is not there).
mb_count() {
  [ -f "$work/foyer.db" ] || { echo 0; return; }
  sql "SELECT count(*) FROM readings r JOIN channels c ON c.id = r.channel WHERE c.name = '$1'"
}
mb_count_at_least() { [ "$(mb_count "$1")" -ge "$2" ]; }

# Latest value of a channel.
mb_last() {
  sql "SELECT r.value FROM readings r JOIN channels c ON c.id = r.channel
       WHERE c.name = '$1' ORDER BY r.ts DESC LIMIT 1"
}

# The types profile: one holding register per type and word order at the
# simulator's layout (0x100 + 4 * (4 * TYPE + ORDER)), ranges wide open.
mb_types_profile() {
  local f=$work/profiles/$1.conf t o a=256
  echo "[profile]" > "$f"
  echo "model = decoding test map" >> "$f"
  for t in u16 s16 u32 s32 u64 s64 float32 float64; do
    for o in ABCD CDAB BADC DCBA; do
      printf '[register %s_%s]\nfunction = holding\naddress = %d\ntype = %s\nword_order = %s\nquantity = power\nmin = -1e19\nmax = 1e19\n' \
        "$t" "$(echo "$o" | tr A-Z a-z)" "$a" "$t" "$o" >> "$f"
      a=$((a + 4))
    done
  done
  # scale and offset: the u32 ABCD value * 0.001 - 1000
  printf '[register scaled]\nfunction = holding\naddress = 288\ntype = u32\nscale = 0.001\noffset = -1000\nquantity = power\nmin = -1e19\nmax = 1e19\n' >> "$f"
}

# mb_check_types METER: every register of the types profile has its value.
mb_check_types() {
  local m=$1 t o v want
  for t in u16:12345 s16:-12345 u32:3000000000 s32:-2000000000 u64:1234567890123 \
           s64:-1234567890123 float32:1234.5 float64:-98765.4321; do
    want=${t#*:}
    for o in abcd cdab badc dcba; do
      v=$(mb_last "$m.${t%%:*}_$o")
      [ -n "$v" ] || fail "$m.${t%%:*}_$o: no reading"
      awk -v a="$v" -v b="$want" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 1e-6 * (1 + (b < 0 ? -b : b))) }' ||
        fail "$m.${t%%:*}_$o decoded $v, expected $want"
    done
  done
  v=$(mb_last "$m.scaled")
  awk -v a="$v" 'BEGIN { d = a - 2999000; exit !(d < 1e-6 && d > -1e-6) }' || fail "$m.scaled decoded $v, expected 2999000"
}
