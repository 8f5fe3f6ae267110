#!/usr/bin/env bash
# foyerctl import killed half-way (SIGKILL, several times) and run again gives
# exactly the result of an undisturbed import; running it twice changes
# nothing; PRAGMA integrity_check passes after every kill.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

work=$(mktemp -d /tmp/foyer-import-kill-XXXXXX)
trap 'rm -rf "$work"' EXIT
conf_with_db() { # $1 = database path
  sed "s|^database = .*|database = $1|" "$FOYER_SRC/config/demo.conf" > "$work/$(basename "$1" .db).conf"
  cp -r "$FOYER_SRC/config/profiles" "$work/" 2>/dev/null || true
  echo "$work/$(basename "$1" .db).conf"
}
ref_conf=$(conf_with_db "$work/ref.db")
kill_conf=$(conf_with_db "$work/killed.db")

"$FOYER_BIN/tests/foyer-gen-history" --config "$ref_conf" --days 60 --step 900 --anomalies \
  --seed 7 --end 2026-11-01T00:00:00Z --output "$work/h.csv"
# Shuffle the rows (header first): import must not depend on order.
{ head -n 1 "$work/h.csv"; tail -n +2 "$work/h.csv" | shuf --random-source=<(yes); } > "$work/shuffled.csv"

"$FOYER_BIN/foyerctl" --config "$ref_conf" import "$work/h.csv" > "$work/ref.out"
"$FOYER_BIN/foyerctl" --config "$ref_conf" export --granularity hour > "$work/ref-hour.csv"
"$FOYER_BIN/foyerctl" --config "$ref_conf" export --granularity day > "$work/ref-day.csv"

# The same import again: everything is a duplicate, nothing changes, exit 0.
"$FOYER_BIN/foyerctl" --config "$ref_conf" import "$work/h.csv" > "$work/again.out"
grep -q " 0 stored, " "$work/again.out" || fail "second import stored rows: $(cat "$work/again.out")"
"$FOYER_BIN/foyerctl" --config "$ref_conf" export --granularity hour | cmp -s - "$work/ref-hour.csv" \
  || fail "a second import changed the hourly figures"

# Kill the import at random moments, then finish it.
kills=0
for delay in 0.03 0.06 0.1 0.14 0.18 0.22 0.26; do
  "$FOYER_BIN/foyerctl" --config "$kill_conf" import "$work/h.csv" > /dev/null 2>&1 &
  pid=$!
  sleep "$delay"
  if kill -KILL "$pid" 2>/dev/null; then kills=$((kills + 1)); fi
  wait "$pid" 2>/dev/null || true
  [ -f "$work/killed.db" ] || continue
  ok=$(sqlite3 "$work/killed.db" "PRAGMA integrity_check")
  [ "$ok" = ok ] || fail "integrity_check after kill: $ok"
done
"$FOYER_BIN/foyerctl" --config "$kill_conf" import "$work/h.csv" > "$work/final.out"
"$FOYER_BIN/foyerctl" --config "$kill_conf" export --granularity hour > "$work/killed-hour.csv"
"$FOYER_BIN/foyerctl" --config "$kill_conf" export --granularity day > "$work/killed-day.csv"
diff -q "$work/ref-hour.csv" "$work/killed-hour.csv" >/dev/null || {
  diff "$work/ref-hour.csv" "$work/killed-hour.csv" | head -n 10
  fail "hourly export after $kills kills differs from the undisturbed import"
}
cmp -s "$work/ref-day.csv" "$work/killed-day.csv" || fail "daily export differs after kills"

# A shuffled file gives the same days (hours may be split differently only
# where readings were refused; there are none here).
shuf_conf=$(conf_with_db "$work/shuf.db")
"$FOYER_BIN/foyerctl" --config "$shuf_conf" import "$work/shuffled.csv" > "$work/shuf.out"
"$FOYER_BIN/foyerctl" --config "$shuf_conf" export --granularity day > "$work/shuf-day.csv"
compare_csv_values "$work/ref-day.csv" "$work/shuf-day.csv" 1e-6 \
  || fail "a shuffled import gives other daily figures"

echo "import_kill: $kills kills, result identical to an undisturbed import ($(wc -l < "$work/ref-hour.csv") hourly rows); shuffled import agrees"
