#!/usr/bin/env bash
# A summary that late data changes reaches the endpoint again, as a new
# revision; the same figures are never pushed twice.  The issue's scenario,
# under libfaketime: on 2025-12-01 the gateway comes back after being
# offline since 2025-11-19; its readings pass the month's end, so the
# November summary is computed on what it holds (the gap's consumption
# spread, few hours read) and pushed as revision 1 with a low coverage.  The
# rest of November is imported; at the next start (the hourly catch-up)
# November is computed again: the corrected summary is pushed as revision 2,
# under the key .../2025-11/r2, with the higher coverage.  A third start with
# no new data pushes nothing.
# Skipped (exit 77) without libfaketime, or where it cannot be preloaded
# (a sanitizer build).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/push_lib.sh" push-revision

ft_lib=""
for f in /usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1 \
         /usr/lib/*/faketime/libfaketimeMT.so.1 /usr/lib/faketime/libfaketimeMT.so.1; do
  [ -f "$f" ] && { ft_lib=$f; break; }
done
if [ -z "$ft_lib" ]; then
  echo "push_revision: SKIPPED: libfaketime not installed (Debian package faketime)"
  exit 77
fi
# ft_env CLOCK sets env_cmd to an env command running its arguments with the
# wall clock at CLOCK (UTC) and going on from there; monotonic left alone.
# An env command, not a function: "${env_cmd[@]}" foyerd & is foyerd's own
# pid (env execs it), so SIGTERM reaches foyerd.
ft_env() { # "YYYY-mm-dd HH:MM:SS"
  local off=$(( $(date -u -d "$1" +%s) - $(date -u +%s) ))
  env_cmd=(env "LD_PRELOAD=$ft_lib" "FAKETIME=${off}" FAKETIME_DONT_FAKE_MONOTONIC=1
    FAKETIME_FORCE_MONOTONIC_FIX=0)
}
faked() { # "YYYY-mm-dd HH:MM:SS" command...
  ft_env "$1"
  shift
  "${env_cmd[@]}" "$@"
}
if ! faked "2025-12-01 10:00:00" "$FOYER_BIN/foyerd" --version > "$work/probe" 2>&1; then
  echo "push_revision: SKIPPED: foyerd does not run with libfaketime preloaded (sanitizer build?): $(head -n 2 "$work/probe")"
  exit 77
fi
[ "$(faked "2025-12-01 10:00:00" date -u +%Y-%m-%d)" = 2025-12-01 ] ||
  fail "libfaketime does not move the clock"

start_receiver
{
  push_base_conf
  cat <<CONF
[push receiver]
url = http://127.0.0.1:$port/summaries
insecure = yes
timeout = 10
CONF
} > "$work/foyer.conf"
sed -i 's/^\[foyer\]$/[foyer]\nlog_level = debug/' "$work/foyer.conf"

# Hourly index readings of a-elec, 0.3 kWh an hour, from $1 to $2 (UTC).
history() { # first last
  /usr/bin/python3 - "$1" "$2" <<'PY'
import sys, datetime as dt
t0 = dt.datetime(2025, 10, 1, tzinfo=dt.timezone.utc)
a = dt.datetime.fromisoformat(sys.argv[1]).replace(tzinfo=dt.timezone.utc)
b = dt.datetime.fromisoformat(sys.argv[2]).replace(tzinfo=dt.timezone.utc)
print("channel,time,value")
t = a
while t <= b:
    h = int((t - t0).total_seconds() // 3600)
    print(f"a-elec,{t:%Y-%m-%dT%H:%M:%SZ},{1000 + 0.3 * h:.1f}")
    t += dt.timedelta(hours=1)
PY
}
# Part 1: what the gateway holds when it comes back on 2025-12-01 after
# being offline from 2025-11-19 (its data has closed November: a reading
# after the month's end); part 2: the gap, imported later from the meter.
{ history "2025-10-01 00:00" "2025-11-19 12:00"
  history "2025-12-01 00:00" "2025-12-01 08:00" | tail -n +2; } > "$work/part1.csv"
history "2025-11-19 13:00" "2025-11-30 23:00" > "$work/part2.csv"
faked "2025-12-01 10:00:00" "$FOYER_BIN/foyerctl" --config "$work/foyer.conf" \
  import "$work/part1.csv" > /dev/null

month_key=foyer-summary-v2/b1/a/2025-11
rows() { push_sql "SELECT count(*) FROM outbox WHERE key LIKE '$month_key%' AND state = 1"; }
delivered() { [ "$(rows 2>/dev/null)" = "$1" ]; }
run_foyerd() { # clock
  ft_env "$1"
  "${env_cmd[@]}" "$FOYER_BIN/foyerd" --config "$work/foyer.conf" 2>> "$work/foyerd.log" &
  pid=$!
}
stop_foyerd() {
  kill -TERM "$pid"
  wait "$pid" || push_fail "foyerd did not exit cleanly"
  pid=""
}

# 1. Back on 2025-12-01, November read up to the 19th: revision 1.
run_foyerd "2025-12-01 10:00:00"
wait_for 30 delivered 1 || push_fail "November (revision 1) not delivered"
stop_foyerd

# 2. The rest of November arrives: revision 2, pushed once.
faked "2025-12-01 11:00:00" "$FOYER_BIN/foyerctl" --config "$work/foyer.conf" \
  import "$work/part2.csv" > /dev/null
run_foyerd "2025-12-01 12:00:00"
wait_for 30 delivered 2 || push_fail "November revision 2 not delivered"
stop_foyerd
grep -q "summary a 2025-11: the figures changed since it was pushed: pushing revision 2" \
  "$work/foyerd.log" || push_fail "no log line for revision 2"

# 3. Nothing new: nothing pushed again.
n_before=$(wc -l < "$work/recv.log")
run_foyerd "2025-12-01 13:00:00"
wait_for 30 grep -q "summaries 2025-11: 1 dwellings with the figures already pushed" \
  "$work/foyerd.log" || push_fail "November not computed again at the third start"
stop_foyerd
[ "$(wc -l < "$work/recv.log")" = "$n_before" ] || push_fail "unchanged summaries pushed again"
[ "$(rows)" = 2 ] || push_fail "more than two November items"

/usr/bin/python3 - "$work/recv.log" "$month_key" <<'PY' || push_fail "receiver log"
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
nov = [r for r in reqs if r["period"] == "2025-11" and r["outcome"] == "200"]
assert [r["revision"] for r in nov] == [1, 2], nov
assert [r["key"] for r in nov] == [sys.argv[2], sys.argv[2] + "/r2"], nov
# The receiver tells the latest by its revision: the corrected figures.
latest = max(nov, key=lambda r: r["revision"])
assert latest["coverage"] > 0.9 and nov[0]["coverage"] < 0.7, nov
PY
[ "$(push_sql "SELECT json_extract(body, '$.revision') FROM summaries WHERE period = '2025-11'")" = 2 ] ||
  push_fail "the stored November summary is not revision 2"
echo "push_revision: November pushed as revision 1 (coverage low), then revision 2 after late data; unchanged figures not pushed again"
