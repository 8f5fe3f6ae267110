#!/usr/bin/env bash
# Sharing with an adviser (issue 15): tests/integration/privacy_sharing.py
# against a real foyerd.  d1's tenancy began on the Monday of the last
# closed week (a former household's before it); 40 days of hourly
# electricity in d1 and a01 (building b1) imported with foyerctl import;
# foyerd makes the summaries itself.  Tokens: d1's tenant, the ambassador
# of b1 (amb-b1), of b2 (amb-b2), the energy team.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mqtt_lib.sh" # free_port

scratch_setup privacy-sharing
export FOYER_LANG_DIR="$FOYER_SRC/config"
export TZ=Europe/Paris
hport=$(free_port)
base="http://127.0.0.1:$hport"

start=$(date -d "$(date +%F) -$(($(date +%u) - 1 + 7)) days" +%F)
week=$(date -d "$start" +%G-W%V)
cat > "$work/foyer.conf" <<CONF
[foyer]
database = $work/foyer.db
timezone = Europe/Paris
[building b1]
[building b2]
[dwelling d1]
building = b1
surface_m2 = 40
heating = electric
[dwelling a01]
building = b1
surface_m2 = 55
heating = electric
[dwelling c01]
building = b2
surface_m2 = 60
heating = electric
[tenancy before]
dwelling = d1
start = 2020-01-01
end = $(date -d "$start -1 day" +%F)
[tenancy now]
dwelling = d1
start = $start
[channel d1-elec]
dwelling = d1
quantity = electricity
[channel a01-elec]
dwelling = a01
quantity = electricity
[http]
listen = 127.0.0.1
port = $hport
web_dir = $FOYER_SRC/web
CONF

/usr/bin/python3 - "$work/history.csv" <<'PY'
import sys, time
now = int(time.time()) // 3600 * 3600
with open(sys.argv[1], "w") as f:
    f.write("channel,time,value\n")
    index = [1000.0, 2000.0]
    for i, ts in enumerate(range(now - 40 * 86400, now, 3600)):
        t = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
        for k, ch in enumerate(("d1-elec", "a01-elec")):
            # Every hour and day its own figure: the log is compared with each.
            index[k] += 0.3 + 0.011 * (i % 24) + 0.007 * (i // 24 % 7) + 0.1 * k
            f.write(f"{ch},{t},{index[k]:.3f}\n")
PY
ctl import "$work/history.csv" > "$work/import.log" 2>&1 || fail "import: $(cat "$work/import.log")"

"$FOYER_BIN/foyerd" --config "$work/foyer.conf" 2>> "$work/foyerd.log" &
pid=$!
listening() { [ "$(curl -s -o /dev/null -w '%{http_code}' "$base/api/v1/me")" = 401 ]; }
wait_for 20 listening || fail "foyerd's HTTP server did not answer: $(tail -5 "$work/foyerd.log")"
token() { # name args...
  local name=$1 t
  shift
  t=$(ctl token create --name "$name" "$@" 2> "$work/token.err") ||
    fail "token create $name: $(cat "$work/token.err")"
  echo "$t"
}
T=$(token tab-d1 --role tenant --dwelling d1)
A=$(token amb-b1 --role ambassador --buildings b1)
A2=$(token amb-b2 --role ambassador --buildings b2)
E=$(token team --role energy-team)
summarised() {
  [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $T" \
    "$base/api/v1/me/summary?period=$week")" = 200 ]
}
wait_for 30 summarised || fail "no summary of $week for the tenant: $(tail -5 "$work/foyerd.log")"

/usr/bin/python3 "$FOYER_SRC/tests/integration/privacy_sharing.py" 127.0.0.1 "$hport" \
  --tenant="$T" --ambassador="$A" --other-ambassador="$A2" --team="$E" --db "$work/foyer.db" \
  --config "$work/foyer.conf" --foyerctl "$FOYER_BIN/foyerctl" --tenancy-start "$start" \
  --period "$week" || fail "privacy_sharing.py: see above; foyerd: $(tail -5 "$work/foyerd.log")"
kill -TERM "$pid"
wait "$pid" || fail "foyerd exited $?: $(tail -5 "$work/foyerd.log")"
pid=
echo "privacy_sharing: OK"
