#!/usr/bin/env bash
# tests/integration/http_roles.py against a real foyerd: every JSON API
# route x every role (tenant, ambassador, energy team, none), the wrong
# method, the other dwellings and building, and every period before the
# tenant's tenancy.  History imported with foyerctl import (50 days of
# hourly electricity in three dwellings of two buildings); foyerd makes the
# summaries itself; the tenant's tenancy began on the Monday of the last
# closed week (a former household's before it).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

work=$(mktemp -d /tmp/foyer-http-roles-XXXXXX)
pid=
cleanup() {
  [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
export FOYER_LANG_DIR="$FOYER_SRC/config"
export TZ=Europe/Paris
ctl() { "$FOYER_BIN/foyerctl" --config "$work/foyer.conf" "$@"; }
hport=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$hport"

# The Monday of the last closed week (local), the tenancy's first day.
start=$(date -d "$(date +%F) -$(($(date +%u) - 1 + 7)) days" +%F)
week=$(date -d "$start" +%G-W%V)
day=$(date -d "$start +2 days" +%F)
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
[tenancy a]
dwelling = a01
start = 2020-01-01
[tenancy c]
dwelling = c01
start = 2020-01-01
[channel d1-elec]
dwelling = d1
quantity = electricity
[channel a01-elec]
dwelling = a01
quantity = electricity
[channel c01-elec]
dwelling = c01
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
    for i, ts in enumerate(range(now - 50 * 86400, now, 3600)):
        t = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
        for k, ch in enumerate(("d1-elec", "a01-elec", "c01-elec")):
            f.write(f"{ch},{t},{1000 + (0.4 + 0.1 * k) * i:.1f}\n")
PY
ctl import "$work/history.csv" > "$work/import.log" 2>&1 || fail "import: $(cat "$work/import.log")"

"$FOYER_BIN/foyerd" --config "$work/foyer.conf" 2>> "$work/foyerd.log" &
pid=$!
T=$(ctl token create --role tenant --dwelling d1 --name tab-d1 2> /dev/null)
A=$(ctl token create --role ambassador --buildings b1 --name amb-b1 2> /dev/null)
E=$(ctl token create --role energy-team --name team 2> /dev/null)
summarised() {
  [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $T" \
    "$base/api/v1/me/summary?period=$week")" = 200 ]
}
wait_for 30 summarised || fail "no summary of $week for the tenant: $(tail -5 "$work/foyerd.log")"
# The former household's last month is stored too (foyerd keeps the last
# closed week and month of each dwelling) when the tenancy began this month:
# the tenant's refusal of it below is then not for want of a summary.  (In
# the first days of a month the last closed week began last month, and the
# last closed month holds days of both households: not waited for.)
before=$(date -d "$(date +%Y-%m-01) -1 day" +%Y-%m)
stored() {
  [ "$(sqlite3 "$work/foyer.db" "SELECT count(*) FROM summaries WHERE dwelling = 'd1' AND period = '$before'")" = 1 ]
}
if [ "$(date -d "$start" +%Y-%m)" = "$(date +%Y-%m)" ]; then
  wait_for 30 stored || fail "no summary of $before, the former household's month, stored: $(sqlite3 "$work/foyer.db" "SELECT dwelling, period FROM summaries")"
fi

/usr/bin/python3 "$FOYER_SRC/tests/integration/http_roles.py" "$base" --tenant="$T" \
  --ambassador="$A" --team="$E" --building b1 --other-building b2 --dwelling d1 \
  --other-dwelling a01 --other-dwelling c01 --tenancy-start "$start" --period "$week" \
  --day "$day" --channel d1-elec || fail "http_roles.py: see above"
kill -TERM "$pid"
wait "$pid" || fail "foyerd exited $?: $(tail -5 "$work/foyerd.log")"
pid=
echo "http_roles: OK"
