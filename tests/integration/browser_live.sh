#!/bin/bash
# browser_live.sh - the pages in a real browser against a real foyerd:
# the demo building (config/demo.conf) with three weeks of the demo's
# generated history (tests/sim/gen_history.c, imported with foyerctl
# import, as scripts/demo.sh does), [http] on a free loopback port.  At
# start foyerd computes the last closed week's summaries; then a tenant
# pairing code (the cold flat b01, whose week carries tips) and an
# ambassador pairing code (the building) are created with foyerctl token
# create --pairing, and browser_pages.py drives Debian's headless chromium
# over DevTools: it pairs the tablet, checks that the figures and tips of
# /tablet (French, then English by its switch) equal /api/v1/me/summary,
# answers a tip "not possible here" (gone after), files a report, pairs a
# second device as the ambassador, finds the report on /ambassador and
# closes it there (gone after), runs
# the accessibility check (lang, labels, contrast, touch targets) and saves
# screenshots (portrait 800x1280, landscape 1280x800, phone 390x844) into
# $FOYER_BIN/artefacts/browser_live.  foyerd is healthy after, and stops
# cleanly.  Chromium is only a client: this runs in every build, sanitized
# ones included.
#
# Environment: FOYER_SRC, FOYER_BIN (set by CTest).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
# The pages' and summaries' language files.
export FOYER_LANG_DIR="$FOYER_SRC/config"

work=$(mktemp -d /tmp/foyer-browser-XXXXXX)
pid=
cleanup() {
  [ -z "$pid" ] || kill -TERM "$pid" 2>/dev/null || true
  [ -z "$pid" ] || wait "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
artefacts="$FOYER_BIN/artefacts/browser_live"
rm -rf "$artefacts"
mkdir -p "$artefacts" "$work/conf" "$work/demo-run"

# The demo's config, its database in $work; its include (demo-run/demo-ports.conf,
# relative to the config) carries [http] instead of the demo's ports.
sed 's|^database = .*|database = '"$work"'/foyer.db|' "$FOYER_SRC/config/demo.conf" > "$work/conf/demo.conf"
hport=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$hport"
printf '[http]\nlisten = 127.0.0.1\nport = %s\nweb_dir = %s/web\n' "$hport" "$FOYER_SRC" \
  > "$work/demo-run/demo-ports.conf"
ctl() { "$FOYER_BIN/foyerctl" --config "$work/conf/demo.conf" "$@"; }

# Three weeks, hourly: two whole weeks closed whatever the day (the last
# closed one is what the tablet shows), a few seconds to generate and import.
"$FOYER_BIN/tests/foyer-gen-history" --config "$work/conf/demo.conf" --days 21 --step 3600 \
  --skip-live --output "$work/history.csv" 2> "$work/gen.err" || fail "gen-history: $(cat "$work/gen.err")"
ctl import "$work/history.csv" > "$work/import.out" 2>&1 || fail "import: $(cat "$work/import.out")"

"$FOYER_BIN/foyerd" --config "$work/conf/demo.conf" 2> "$work/foyerd.log" &
pid=$!
up() {
  kill -0 "$pid" 2>/dev/null || fail "foyerd exited: $(cat "$work/foyerd.log")"
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$base/healthz")" = 200 ]
}
wait_for 20 up || fail "no /healthz 200 on $base: $(cat "$work/foyerd.log")"

# The summaries are computed by foyerd's first scheduler tick: wait until
# b01's tablet shows a week (read with a token of its own, not the codes').
probe=$(ctl token create --role tenant --dwelling b01 --name probe-b01 2> /dev/null)
shown() { curl -s -H "Authorization: Bearer $probe" "$base/tablet" | grep -q 'data-period="2'; }
wait_for 20 shown || fail "b01's tablet shows no week: $(tail -n 5 "$work/foyerd.log")"

tcode=$(ctl token create --role tenant --dwelling b01 --pairing --name tablet-b01 2> /dev/null)
acode=$(ctl token create --role ambassador --buildings tilleuls --pairing --name amb-tilleuls 2> /dev/null)
# An adviser the household may share with (the tablet's "Mes choix" lists it).
ctl token create --role ambassador --buildings tilleuls --name conseil-tilleuls > /dev/null 2>&1 ||
  fail "token create conseil-tilleuls"
[[ $tcode =~ ^[A-Z0-9]{8}$ && $acode =~ ^[A-Z0-9]{8}$ ]] || fail "pairing codes: '$tcode' '$acode'"

/usr/bin/python3 "$FOYER_SRC/tests/integration/browser_pages.py" --base "$base" --code "$tcode" \
  --ambassador-code "$acode" --artefacts "$artefacts" ||
  fail "browser checks failed (foyerd log: $(tail -n 5 "$work/foyerd.log"))"

# Both codes were exchanged once: they are spent now.
for c in "$tcode" "$acode"; do
  got=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
    -d "{\"code\": \"$c\"}" "$base/api/v1/pair")
  [ "$got" = 401 ] || fail "code $c exchanged again: HTTP $got"
done
up || fail "foyerd unhealthy after the browser: $(tail -n 5 "$work/foyerd.log")"
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=
[ "$rc" = 0 ] || fail "foyerd exit $rc: $(tail -n 5 "$work/foyerd.log")"
echo "screenshots:"
ls "$artefacts"/*.png
