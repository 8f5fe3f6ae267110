#!/usr/bin/env bash
# What guards a database's history, against the real foyerd and foyerctl and
# real SQLite files:
#  relabel  (issue 9 item 5) a channel holding data keeps its quantity, unit
#           and dwelling: a config changing them is refused by --check-config,
#           by foyerctl and by a SIGHUP, with FILE:LINE naming the channel and
#           what it holds; a channel without data may change.
#  instance (item 9) a second foyerd on the same database exits 1 at once,
#           naming the database and the first's PID; the first runs on.
#  sqlite   (item 13) an unwritable file, an unwritable directory, a file
#           that is no database and a database with damaged pages each stop
#           foyerd at once (exit 1) with a message saying what is wrong with
#           which file and what to do.
# Arguments: the parts to run (default: all).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

work=$(mktemp -d /tmp/foyer-guard-XXXXXX)
chmod 755 "$work" # the unprivileged user of the sqlite part must reach its files
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  chmod -R u+rwX "$work" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
export FOYER_LANG_DIR="$FOYER_SRC/config"
parts=${*:-relabel instance sqlite}

# A config without drivers: foyerd runs with it (nothing to poll).
write_conf() { # file database [channel sections...]
  local file=$1 db=$2; shift 2
  {
    printf '[foyer]\ndatabase = %s\ntimezone = Europe/Paris\n' "$db"
    printf 'raw_retention_days = 3650\nraw_retention_days_no_consent = 3650\n'
    printf '[building b1]\n'
    printf '[dwelling d1]\nbuilding = b1\nsurface_m2 = 40\nheating = electric\nconsent = yes\n'
    printf '[dwelling d2]\nbuilding = b1\nsurface_m2 = 60\nheating = gas\nconsent = yes\n'
    printf '%s\n' "$@"
  } > "$file"
}
line_of() { # file section -> its line number
  grep -n -F -x "$2" "$1" | cut -d: -f1
}
count_is() { # n pattern file: the file has n lines matching
  [ "$(grep -c "$2" "$3")" = "$1" ]
}
# No message of SQLite that means nothing to an operator.
no_sqlite_noise() { # file what
  if grep -E -q "not an error|cannot rollback" "$1"; then
    fail "$2: SQLite's meaningless message: $(cat "$1")"
  fi
}

# ---- item 5: a channel's stored history keeps its labels ----------------
relabel() {
  local w=$work/relabel
  mkdir "$w"
  local db=$w/foyer.db
  local x_temp='[channel x]
dwelling = d1
quantity = temperature'
  local y_temp='[channel y]
dwelling = d1
quantity = temperature'
  write_conf "$w/good.conf" "$db" "$x_temp" "$y_temp"
  write_conf "$w/quantity.conf" "$db" "${x_temp/temperature/electricity}" "$y_temp"
  write_conf "$w/moved.conf" "$db" "${x_temp/d1/d2}" "$y_temp"
  write_conf "$w/empty-changed.conf" "$db" "$x_temp" "${y_temp/temperature/electricity}"
  local xline
  xline=$(line_of "$w/good.conf" '[channel x]')

  printf 'channel,time,value\n%s\n%s\n%s\n' "x,2026-03-28T10:00:00+01:00,19.5" \
    "x,2026-03-28T10:30:00+01:00,20.5" "x,2026-03-28T11:00:00+01:00,20" > "$w/x.csv"
  "$FOYER_BIN/foyerctl" --config "$w/good.conf" import "$w/x.csv" > "$w/import.out" ||
    fail "import into x: $(cat "$w/import.out")"
  grep -q ": 3 stored," "$w/import.out" || fail "import counts: $(cat "$w/import.out")"
  local day='x,d1,temperature,2026-03-28T00:00:00+01:00,20,°C'
  "$FOYER_BIN/foyerctl" --config "$w/good.conf" export --granularity day > "$w/day0.csv"
  grep -qxF "$day" "$w/day0.csv" || fail "export before any change: $(cat "$w/day0.csv")"

  # (a) --check-config refuses, saying where, what the channel holds, what to do.
  local rc=0
  "$FOYER_BIN/foyerd" --check-config --config "$w/quantity.conf" > "$w/check-q.out" 2>&1 || rc=$?
  [ "$rc" = 1 ] || fail "check-config of x as electricity exited $rc: $(cat "$w/check-q.out")"
  grep -q "quantity.conf:$xline: channel \"x\" holds 3 readings .* temperature (°C)" \
    "$w/check-q.out" || fail "check-config message (FILE:LINE, channel, what it holds): $(cat "$w/check-q.out")"
  grep -q "another channel ID" "$w/check-q.out" || fail "check-config does not say what to do"

  # (b) foyerctl import with the changed config is refused, nothing written.
  rc=0
  "$FOYER_BIN/foyerctl" --config "$w/quantity.conf" import "$w/x.csv" > "$w/import-q.out" 2>&1 || rc=$?
  [ "$rc" = 1 ] || fail "import with x as electricity exited $rc: $(cat "$w/import-q.out")"
  grep -q "quantity.conf:$xline: channel \"x\" holds 3 readings .* temperature (°C).*another channel ID" \
    "$w/import-q.out" || fail "import refusal message: $(cat "$w/import-q.out")"
  [ "$(sqlite3 "$db" "SELECT quantity, unit, dwelling FROM channels WHERE name = 'x'")" = "temperature|°C|d1" ] ||
    fail "the refused import re-labelled x in the database"

  # Read commands with the changed config do not show x's history as kWh.
  rc=0
  "$FOYER_BIN/foyerctl" --config "$w/quantity.conf" export --granularity day > "$w/export-q.out" 2>&1 || rc=$?
  grep -q "^x,.*kWh" "$w/export-q.out" && fail "export labels x's temperatures as kWh: $(cat "$w/export-q.out")"
  [ "$rc" = 1 ] && grep -q "quantity.conf:$xline: channel \"x\"" "$w/export-q.out" ||
    fail "export with the re-labelling config not refused (exit $rc): $(cat "$w/export-q.out")"

  # (c) a running foyerd refuses the reload and runs on with its config.
  cp "$w/good.conf" "$w/run.conf"
  "$FOYER_BIN/foyerd" --config "$w/run.conf" 2> "$w/foyerd.log" &
  local pid=$!
  pids+=("$pid")
  wait_for 10 grep -q "started:" "$w/foyerd.log" || fail "foyerd did not start: $(cat "$w/foyerd.log")"
  cp "$w/quantity.conf" "$w/run.conf"
  kill -HUP "$pid"
  wait_for 10 grep -q "reload refused" "$w/foyerd.log" || fail "re-labelling reload not refused: $(cat "$w/foyerd.log")"
  grep -q "run.conf:$xline: channel \"x\" holds 3 readings .* temperature (°C)" "$w/foyerd.log" ||
    fail "reload refusal without FILE:LINE and what x holds: $(cat "$w/foyerd.log")"
  kill -0 "$pid" || fail "foyerd died on a refused reload"
  [ "$(sqlite3 "$db" "SELECT quantity, unit FROM channels WHERE name = 'x'")" = "temperature|°C" ] ||
    fail "the refused reload re-labelled x in the database"
  "$FOYER_BIN/foyerctl" --config "$w/good.conf" export --granularity day > "$w/day1.csv"
  grep -qxF "$day" "$w/day1.csv" || fail "export after the refused reload: $(cat "$w/day1.csv")"

  # (d) moving x to another dwelling: refused the same ways (a privacy leak).
  rc=0
  "$FOYER_BIN/foyerd" --check-config --config "$w/moved.conf" > "$w/check-m.out" 2>&1 || rc=$?
  [ "$rc" = 1 ] || fail "check-config of x moved to d2 exited $rc: $(cat "$w/check-m.out")"
  grep -q "moved.conf:$xline: channel \"x\" holds 3 readings .* in dwelling d1.* dwelling d2" \
    "$w/check-m.out" || fail "check-config message for the move: $(cat "$w/check-m.out")"
  rc=0
  "$FOYER_BIN/foyerctl" --config "$w/moved.conf" import "$w/x.csv" > "$w/import-m.out" 2>&1 || rc=$?
  [ "$rc" = 1 ] && grep -q "moved.conf:$xline: channel \"x\"" "$w/import-m.out" ||
    fail "import with x moved to d2 not refused (exit $rc): $(cat "$w/import-m.out")"
  rc=0
  "$FOYER_BIN/foyerctl" --config "$w/moved.conf" export --granularity day --dwelling d2 \
    > "$w/export-m.out" 2>&1 || rc=$?
  grep -q "^x,d2" "$w/export-m.out" && fail "d1's history of x exported as d2's: $(cat "$w/export-m.out")"
  [ "$rc" = 1 ] || fail "export with x moved to d2 not refused (exit $rc)"
  cp "$w/moved.conf" "$w/run.conf"
  kill -HUP "$pid"
  wait_for 10 count_is 2 "reload refused" "$w/foyerd.log" ||
    fail "moving reload not refused: $(cat "$w/foyerd.log")"
  grep -q "run.conf:$xline: channel \"x\" .* in dwelling d1.* dwelling d2" "$w/foyerd.log" ||
    fail "move refusal without FILE:LINE: $(cat "$w/foyerd.log")"
  [ "$(sqlite3 "$db" "SELECT dwelling FROM channels WHERE name = 'x'")" = d1 ] ||
    fail "the refused reload moved x"

  # (e) a channel without data may change: accepted, and applied on SIGHUP.
  rc=0
  "$FOYER_BIN/foyerd" --check-config --config "$w/empty-changed.conf" > "$w/check-e.out" 2>&1 || rc=$?
  [ "$rc" = 0 ] || fail "changing y (no data) refused: $(cat "$w/check-e.out")"
  cp "$w/empty-changed.conf" "$w/run.conf"
  kill -HUP "$pid"
  wait_for 10 grep -q "configuration reloaded" "$w/foyerd.log" ||
    fail "reload changing only y not applied: $(cat "$w/foyerd.log")"
  [ "$(sqlite3 "$db" "SELECT quantity, unit FROM channels WHERE name = 'y'")" = "electricity|kWh" ] ||
    fail "y (no data) not updated"

  kill -TERM "$pid"
  rc=0
  wait "$pid" || rc=$?
  [ "$rc" = 0 ] || fail "foyerd exited $rc on SIGTERM: $(cat "$w/foyerd.log")"
  no_sqlite_noise "$w/foyerd.log" "relabel: foyerd"

  # After all this, x's history is what it was.
  [ "$(sqlite3 "$db" "SELECT quantity, kind, unit, dwelling FROM channels WHERE name = 'x'")" = \
    "temperature|gauge|°C|d1" ] || fail "x's labels changed in the database"
  "$FOYER_BIN/foyerctl" --config "$w/empty-changed.conf" export --granularity day > "$w/day2.csv"
  grep -qxF "$day" "$w/day2.csv" || fail "export at the end: $(cat "$w/day2.csv")"
  echo "relabel: a channel holding data keeps its quantity, unit and dwelling: ok"
}

# ---- item 9: one foyerd per database ------------------------------------
instance() {
  local w=$work/instance
  mkdir "$w"
  write_conf "$w/foyer.conf" "$w/foyer.db" '[channel e]
dwelling = d1
quantity = electricity'
  "$FOYER_BIN/foyerd" --config "$w/foyer.conf" 2> "$w/first.log" &
  local first=$!
  pids+=("$first")
  wait_for 10 grep -q "started:" "$w/first.log" || fail "first foyerd did not start: $(cat "$w/first.log")"

  # The bound only catches a second foyerd that runs: it must exit at once.
  local rc=0
  timeout -k 1 5 "$FOYER_BIN/foyerd" --config "$w/foyer.conf" 2> "$w/second.log" || rc=$?
  [ "$rc" = 1 ] || fail "second foyerd on the same database exited $rc (124: still running after 5 s): $(cat "$w/second.log")"
  grep -q "$w/foyer.db.*in use by another foyerd (PID $first" "$w/second.log" ||
    fail "second foyerd does not name the database and PID $first: $(cat "$w/second.log")"
  grep -q "started:" "$w/second.log" && fail "the second foyerd started"

  # The first runs on undisturbed: it reloads and stops cleanly.
  kill -0 "$first" || fail "the first foyerd died"
  kill -HUP "$first"
  wait_for 10 grep -q "configuration reloaded" "$w/first.log" ||
    fail "first foyerd does not reload after the second's attempt: $(cat "$w/first.log")"
  kill -TERM "$first"
  rc=0
  wait "$first" || rc=$?
  [ "$rc" = 0 ] || fail "first foyerd exited $rc on SIGTERM: $(cat "$w/first.log")"
  grep -q "error" "$w/first.log" && fail "first foyerd logged an error: $(cat "$w/first.log")"

  # The guard goes with the process, even on SIGKILL: no stale lock.
  "$FOYER_BIN/foyerd" --config "$w/foyer.conf" 2> "$w/third.log" &
  local third=$!
  pids+=("$third")
  wait_for 10 grep -q "started:" "$w/third.log" || fail "foyerd did not start again: $(cat "$w/third.log")"
  kill -KILL "$third"
  wait "$third" 2>/dev/null || true
  "$FOYER_BIN/foyerd" --config "$w/foyer.conf" 2> "$w/fourth.log" &
  local fourth=$!
  pids+=("$fourth")
  wait_for 10 grep -q "started:" "$w/fourth.log" ||
    fail "foyerd refused to start after a SIGKILLed one: $(cat "$w/fourth.log")"
  kill -TERM "$fourth"
  wait "$fourth" || fail "foyerd after a SIGKILLed one did not stop cleanly"
  echo "instance: a second foyerd on one database exits 1 naming PID $first: ok"
}

# ---- item 13: what is wrong with which file, and what to do -------------
sqlite_errors() {
  local w=$work/sqlite
  mkdir "$w"
  chmod 755 "$w"
  # As root, run as nobody; otherwise as ourselves (the modes still apply).
  local -a as_user=()
  local ro_mode=444
  if [ "$(id -u)" = 0 ]; then
    as_user=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
    ro_mode=644
    # The build tree may not be reachable by nobody.
    mkdir "$w/bin"
    cp "$FOYER_BIN/foyerd" "$FOYER_BIN/foyerctl" "$w/bin/"
    chmod 755 "$w/bin" "$w/bin/foyerd" "$w/bin/foyerctl"
    # Under ThreadSanitizer the reports and suppressions live in the build
    # tree, which nobody may not reach: give these runs their own, and fail
    # below on any report they write.
    mkdir -m 1777 "$w/san"
    if [ -n "${TSAN_OPTIONS:-}" ]; then
      local supp opts=$TSAN_OPTIONS
      supp=$(sed -nE 's/.*suppressions=([^ ]*).*/\1/p' <<< "$opts")
      if [ -n "$supp" ]; then
        cp "$supp" "$w/san/tsan.supp"
        chmod 644 "$w/san/tsan.supp"
      fi
      local -x TSAN_OPTIONS
      TSAN_OPTIONS=$(sed -E "s#log_path=[^ ]*#log_path=$w/san/tsan#; s#suppressions=[^ ]*#suppressions=$w/san/tsan.supp#" <<< "$opts")
    fi
  else
    ln -s "$FOYER_BIN" "$w/bin"
  fi
  local ch='[channel e]
dwelling = d1
quantity = electricity'
  # Starts foyerd as the user on $1's config; must exit by itself (the
  # bound only catches one that runs on).
  refused() { # case
    local rc=0
    timeout -k 1 10 "${as_user[@]}" "$w/bin/foyerd" --config "$w/$1/foyer.conf" \
      > "$w/$1.log" 2>&1 || rc=$?
    [ "$rc" = 1 ] || fail "$1: foyerd exited $rc (124: still running after 10 s): $(cat "$w/$1.log")"
    grep -q "started:" "$w/$1.log" && fail "$1: foyerd started"
    no_sqlite_noise "$w/$1.log" "$1"
  }
  for c in file dir garbage damaged; do
    mkdir "$w/$c"
    write_conf "$w/$c/foyer.conf" "$w/$c/foyer.db" "$ch"
  done
  printf 'channel,time,value\ne,2026-11-01T00:00:00Z,100\ne,2026-11-01T01:00:00Z,101\n' > "$w/in.csv"

  # (a) a database file this user cannot write, in a directory it cannot write.
  "$FOYER_BIN/foyerctl" --config "$w/file/foyer.conf" import "$w/in.csv" > /dev/null
  chmod "$ro_mode" "$w/file/foyer.db"
  chmod 555 "$w/file"
  refused file
  grep -q "$w/file/foyer.db: .*file is not .*writable by this user" "$w/file.log" ||
    fail "file: message does not say the file is not writable: $(cat "$w/file.log")"
  grep -q "chown\|chmod" "$w/file.log" || fail "file: message does not say what to do: $(cat "$w/file.log")"

  # (b) a writable database file in a directory this user cannot write.
  "$FOYER_BIN/foyerctl" --config "$w/dir/foyer.conf" import "$w/in.csv" > /dev/null
  chmod 666 "$w/dir/foyer.db"
  chmod 555 "$w/dir"
  refused dir
  grep -q "$w/dir/foyer.db: .*directory $w/dir is not writable by this user" "$w/dir.log" ||
    fail "dir: message does not say the directory is not writable: $(cat "$w/dir.log")"
  grep -q -- "-wal" "$w/dir.log" || fail "dir: message does not say why SQLite needs the directory: $(cat "$w/dir.log")"

  # (c) a file of garbage bytes where the database should be.
  chmod 777 "$w/garbage"
  head -c 40000 /dev/urandom > "$w/garbage/foyer.db"
  chmod 666 "$w/garbage/foyer.db"
  refused garbage
  grep -q "$w/garbage/foyer.db: .*not a foyer database or is damaged.*move it aside" "$w/garbage.log" ||
    fail "garbage: $(cat "$w/garbage.log")"
  # (e) foyerctl status on it says the same, exit 1.
  local rc=0
  timeout -k 1 10 "${as_user[@]}" "$w/bin/foyerctl" --config "$w/garbage/foyer.conf" status \
    > "$w/status.log" 2>&1 || rc=$?
  [ "$rc" = 1 ] || fail "foyerctl status on garbage exited $rc: $(cat "$w/status.log")"
  grep -q "$w/garbage/foyer.db: .*not a foyer database or is damaged.*move it aside" "$w/status.log" ||
    fail "foyerctl status on garbage: $(cat "$w/status.log")"
  # --check-config (systemd's ExecStartPre) says now what foyerd would refuse.
  rc=0
  timeout -k 1 10 "${as_user[@]}" "$w/bin/foyerd" --check-config --config "$w/garbage/foyer.conf" \
    > "$w/check.log" 2>&1 || rc=$?
  [ "$rc" = 1 ] || fail "--check-config on garbage exited $rc: $(cat "$w/check.log")"
  grep -q "not a foyer database or is damaged" "$w/check.log" ||
    fail "--check-config on garbage: $(cat "$w/check.log")"
  no_sqlite_noise "$w/status.log" "foyerctl status"

  # (d) a real database with damaged table pages (not the header).
  local db=$w/damaged/foyer.db
  {
    echo "channel,time,value"
    seq 1780000000 900 1782699100 | sed 's/^/@/' | date -u -f - +e,%Y-%m-%dT%H:%M:%SZ |
      awk '{ print $0 "," 1000 + NR }'
  } > "$w/big.csv"
  "$FOYER_BIN/foyerctl" --config "$w/damaged/foyer.conf" import "$w/big.csv" > "$w/big.out" ||
    fail "import of 3000 readings: $(cat "$w/big.out")"
  [ ! -s "$db-wal" ] || fail "the import left a WAL: the pages to damage are not all in $db"
  local psize pages
  psize=$(sqlite3 "$db" "PRAGMA page_size")
  # Two leaf pages of the readings table, from the middle of the file.
  pages=$(sqlite3 "$db" "SELECT pageno FROM dbstat WHERE name = 'readings' AND pagetype = 'leaf'
                         ORDER BY pageno LIMIT 2 OFFSET 4")
  [ "$(echo "$pages" | wc -l)" = 2 ] || fail "damaged: too few readings pages: $pages"
  for p in $pages; do
    dd if=/dev/zero of="$db" bs="$psize" seek=$((p - 1)) count=1 conv=notrunc status=none
  done
  [ "$(sqlite3 "$db" "PRAGMA quick_check" 2>&1)" != ok ] || fail "damaged: the pages were not damaged"
  chmod 777 "$w/damaged"
  chmod 666 "$db"
  refused damaged
  grep -q "$db: .*damaged.*quick_check" "$w/damaged.log" || fail "damaged: $(cat "$w/damaged.log")"
  grep -q "backup" "$w/damaged.log" || fail "damaged: message does not say what to do: $(cat "$w/damaged.log")"
  [ "$(wc -l < "$w/damaged.log")" = 1 ] || fail "damaged: the message spans lines: $(cat "$w/damaged.log")"
  if compgen -G "$w/san/tsan.*[0-9]" > /dev/null; then
    fail "ThreadSanitizer reports from the unprivileged runs: $(cat "$w"/san/tsan.*[0-9])"
  fi
  echo "sqlite: unwritable file or directory, garbage and damaged pages explained: ok"
}

for part in $parts; do
  case $part in
  relabel) relabel ;;
  instance) instance ;;
  sqlite) sqlite_errors ;;
  *) fail "unknown part $part (relabel, instance, sqlite)" ;;
  esac
done
echo "store_guard: ok"
