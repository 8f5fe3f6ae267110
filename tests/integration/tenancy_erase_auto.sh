#!/usr/bin/env bash
# Automatic erasure of ended tenancies (issue 15): with [foyer]
# erase_after_days = 10, a household of zq7erase that left 20 days ago
# (dated history, foyerctl import) is erased by foyerd's retention run at
# its start: every row of its channels before the day after its end goes
# (the month it ended in keeps the days after; the folded hours go past
# raw_retention_days_no_consent), the next household's rows
# stay as they were, its lease reference goes, the erasure is logged once
# with its counts and written to the access log.  Building totals (every
# building counter's daily and monthly figures plus the folded ones, and
# the summaries' building_total) are unchanged to the Wh.  A restart does
# not erase it again (the tenancy is marked): the next due tenancy (zz9,
# ended since) is erased, and zq7erase's only once.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

scratch_setup eraseauto
export FOYER_LANG_DIR="$FOYER_SRC/config"
export TZ=Europe/Paris # dates and cuts as the config's zone counts them
X=zq7erase

{
  printf '[foyer]\ndatabase = foyer.db\ntimezone = Europe/Paris\nerase_after_days = 10\n'
  printf '[building b1]\n[channel b1-outdoor]\nbuilding = b1\nquantity = outdoor_temperature\n'
  for d in d1 d2 d3 d4 d5 d6 $X zz9; do
    printf '[dwelling %s]\nbuilding = b1\nsurface_m2 = 50\nheating = electric\n' "$d"
    [ "$d" = $X ] && printf 'consent = true\n' # its hourly figures are kept: folded too
    printf '[channel %s-elec]\ndwelling = %s\nquantity = electricity\n' "$d" "$d"
  done
  printf '[channel %s-hw]\ndwelling = %s\nquantity = hot_water\n' "$X" "$X"
} > "$work/foyer.conf"

py '
import math, sys, time
X = sys.argv[1]
now = int(time.time())
h0 = (now - 3600) // 3600 * 3600 - 430 * 86400
out = open(sys.argv[2], "w")
out.write("channel,time,value\n")
idx = {}
for i in range((now - 3600 - h0) // 3600 + 1):
    ts = h0 + i * 3600
    t = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
    season = math.cos(2 * math.pi * (ts / 86400 - 15) / 365.25)
    hod = (ts // 3600) % 24
    outdoor = 11 - 9 * season + 4 * math.sin(2 * math.pi * (hod - 9) / 24)
    out.write("b1-outdoor,%s,%.2f\n" % (t, outdoor))
    for k, d in enumerate(["d1", "d2", "d3", "d4", "d5", "d6", X, "zz9"]):
        use = 0.15 + 0.02 * k + 0.03 * max(0.0, 18 - outdoor) * (1 + 0.1 * k)
        idx[d] = idx.get(d, 1000.0 * (k + 1)) + use
        out.write("%s-elec,%s,%.3f\n" % (d, t, idx[d]))
    idx["hw"] = idx.get("hw", 0.0) + (12.0 if hod in (7, 8, 20) else 0.5)
    out.write("%s-hw,%s,%.1f\n" % (X, t, idx["hw"]))
' "$X" "$work/history.csv"
ctl import "$work/history.csv" > "$work/import.log" 2>&1 || fail "import: $(cat "$work/import.log")"

ended=$(date -d "20 days ago" +%Y-%m-%d)
next=$(date -d "19 days ago" +%Y-%m-%d)
month=$(date -d "$(date +%Y-%m-01) -1 day" +%Y-%m)
ctl tenancy start --dwelling $X --date 2020-01-01 --ref "BAIL-$X" > /dev/null || fail "start"
ctl tenancy end --dwelling $X --date "$ended" > /dev/null || fail "end"
ctl tenancy start --dwelling $X --date "$next" --ref "BAIL-NEXT" > /dev/null || fail "next"
ctl tenancy start --dwelling zz9 --date 2020-01-01 > /dev/null || fail "start zz9"

# Building totals: per day and per month, per quantity, every building
# counter's figures plus the folded ones; the next household's rows.
totals() {
  py 'import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for g, t in ((1, "rollup_day"), (2, "rollup_month")):
    live = db.execute("SELECT c.quantity, r.ts, total(r.sum) FROM %s r JOIN channels c ON c.id = r.channel"
                      " WHERE c.building = \"b1\" AND c.kind = \"counter\" GROUP BY 1, 2" % t).fetchall()
    s = {}
    for q, ts, v in live:
        s[(q, ts)] = s.get((q, ts), 0) + v
    for q, ts, v in db.execute("SELECT quantity, ts, sum FROM rollup_folded WHERE building = \"b1\" AND gran = ?", (g,)):
        s[(q, ts)] = s.get((q, ts), 0) + v
    for k in sorted(s):
        print(g, k[0], k[1], "%.3f" % s[k])
' "$work/foyer.db"
}
# Every daily row of a channel from a time on, with its figures (raw and
# hourly rows past the raw window go by retention, not by erasure).
rows_from() { # channel ts
  py 'import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
ch = db.execute("SELECT id FROM channels WHERE name = ?", (sys.argv[2],)).fetchone()[0]
for t in ("rollup_day",):
    for r in db.execute("SELECT * FROM %s WHERE channel = ? AND ts >= ? ORDER BY ts" % t, (ch, int(sys.argv[3]))):
        print(t, *r)
' "$work/foyer.db" "$1" "$2"
}
cut=$(date -d "$next" +%s)
totals > "$work/totals0"
rows_from "$X-elec" "$cut" > "$work/next0"
rows_from "$X-hw" "$cut" >> "$work/next0"
[ "$(wc -l < "$work/next0")" -gt 30 ] || fail "no rows of the next household to keep"
ctl summary --dwelling d1 --period "$month" --format json > "$work/sum0.json" || fail "summary before"

"$FOYER_BIN/foyerd" --config "$work/foyer.conf" 2>> "$work/foyerd.log" &
pid=$!
wait_for 30 grep -q "erasure: tenancy $X.20200101" "$work/foyerd.log" ||
  fail "no erasure logged: $(cat "$work/foyerd.log")"
grep "erasure:" "$work/foyerd.log"
grep -q "erasure: tenancy $X.20200101 of dwelling $X ended more than 10 days ago: its data before $next erased: .*rollup_hour=[1-9][0-9]* rollup_day=[0-9]* rollup_month=[0-9]* .*tenancies.ref=1 .*folded_electricity=[0-9.]*kWh folded_hot_water=[0-9.]*L" \
  "$work/foyerd.log" || fail "erasure log line: $(grep erasure: "$work/foyerd.log")"
kill -TERM "$pid"; wait "$pid" || fail "foyerd exited $?"; pid=

totals > "$work/totals1"
diff "$work/totals0" "$work/totals1" > /dev/null || fail "building totals changed: $(diff "$work/totals0" "$work/totals1" | head)"
rows_from "$X-elec" "$cut" > "$work/next1"
rows_from "$X-hw" "$cut" >> "$work/next1"
diff "$work/next0" "$work/next1" > /dev/null || fail "the next household's rows changed: $(diff "$work/next0" "$work/next1" | head)"
py '
import sqlite3, sys
db = sqlite3.connect(sys.argv[1]); X = sys.argv[2]; cut = int(sys.argv[3]); month_of_cut = int(sys.argv[4])
chans = [r[0] for r in db.execute("SELECT id FROM channels WHERE dwelling = ?", (X,))]
q = ",".join(str(c) for c in chans)
for t in ("readings", "rollup_hour", "rollup_day", "events", "uplink_dirty"):
    n = db.execute("SELECT count(*) FROM %s WHERE channel IN (%s) AND ts < ?" % (t, q), (cut,)).fetchone()[0]
    assert n == 0, (t, n)
# The month the cut falls in keeps its later days alone.
assert db.execute("SELECT count(*) FROM rollup_month WHERE channel IN (%s) AND ts < ?" % q, (month_of_cut,)).fetchone()[0] == 0
for c in chans:
    m = db.execute("SELECT sum, n FROM rollup_month WHERE channel = ? AND ts = ?", (c, month_of_cut)).fetchone()
    d = db.execute("SELECT total(sum), total(n) FROM rollup_day WHERE channel = ? AND ts >= ?", (c, month_of_cut)).fetchone()
    if month_of_cut < cut:
        assert m is not None and abs(m[0] - d[0]) < 1e-6 and m[1] == d[1], (c, m, d)
# Folded hours: kept no longer than the hours of a household without consent.
old_hours = db.execute("SELECT count(*) FROM rollup_folded WHERE gran = 0 AND ts < strftime(\"%s\", \"now\") - 7 * 86400").fetchone()[0]
assert old_hours == 0, old_hours
ref = db.execute("SELECT ref, EXISTS (SELECT 1 FROM tenancy_erasures WHERE tenancy = id) FROM tenancies WHERE id = ?", (X + ".20200101",)).fetchone()
assert ref == (None, 1), ref
nxt = db.execute("SELECT ref, EXISTS (SELECT 1 FROM tenancy_erasures WHERE tenancy = id) FROM tenancies WHERE dwelling = ? AND start_ymd > 20200101", (X,)).fetchone()
assert nxt == ("BAIL-NEXT", 0), nxt
a = db.execute("SELECT who, role, origin FROM access_log WHERE dwelling = ? AND what LIKE \"erase before=%\"", (X,)).fetchall()
assert a == [("foyerd", "local", "foyerd")], a
' "$work/foyer.db" "$X" "$cut" "$(date -d "$(date -d "$next" +%Y-%m-01)" +%s)" || fail "rows of the ended tenancy left"
ctl summary --dwelling d1 --period "$month" --format json > "$work/sum1.json" || fail "summary after"
py '
import json, sys
b0 = json.load(open(sys.argv[1]))["building_total"]
b1 = json.load(open(sys.argv[2]))["building_total"]
assert b0 and b1 and b0["dwellings"] == 8 and b1["dwellings"] == 7, (b0, b1)
for k in ("kwh", "last_year_kwh", "change_pct"):
    assert b0[k] == b1[k], (k, b0, b1)
' "$work/sum0.json" "$work/sum1.json" || fail "building_total changed: $(cat "$work/sum0.json" "$work/sum1.json" | grep -A8 building_total)"

# A restart: zq7erase is not erased again; zz9, ended since, is.
ctl tenancy end --dwelling zz9 --date "$ended" > /dev/null || fail "end zz9"
"$FOYER_BIN/foyerd" --config "$work/foyer.conf" 2>> "$work/foyerd.log" &
pid=$!
wait_for 30 grep -q "erasure: tenancy zz9.20200101" "$work/foyerd.log" ||
  fail "no erasure of zz9: $(grep erasure "$work/foyerd.log")"
kill -TERM "$pid"; wait "$pid" || fail "foyerd exited $?"; pid=
[ "$(grep -c "erasure: tenancy $X" "$work/foyerd.log")" = 1 ] || fail "zq7erase erased twice"
totals > "$work/totals2"
diff "$work/totals0" "$work/totals2" > /dev/null || fail "building totals changed after zz9: $(diff "$work/totals0" "$work/totals2" | head)"
echo "ok"
