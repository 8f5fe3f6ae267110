#!/usr/bin/env bash
# The right to erasure (issue 15): a building of 7 dwellings with 14
# months of hourly history (foyerctl import), one of them, zq7erase, with an
# electricity and a hot-water meter and a thermometer, a tenancy with a
# lease reference, consent records, a tenant token, and the rows the other
# writers leave about a household (a summary and its outbox row, a tip
# answer, a report, an alert, uplink items; their shapes as those writers
# write them).  foyerctl erase next to a running foyerd: refused while the
# household's tenancy is open, then done once it ended, with an account.
# Afterwards no row of any table of the schema (read from sqlite_master, so
# a table added later is checked too) names the dwelling or holds a row of
# its channels before the cut, but for an allow-list printed with its
# reasons; the summaries' building_total (kWh this period and last year,
# the change, with the building's signature) and the building status
# totals of the API (today, week) are the same to the Wh; the other
# dwellings' rows are untouched.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mqtt_lib.sh" # free_port

scratch_setup erase
export FOYER_LANG_DIR="$FOYER_SRC/config"
export TZ=Europe/Paris # dates and cuts as the config's zone counts them
hport=$(free_port)
base="http://127.0.0.1:$hport"
mkdir -p "$work/web"
echo '<!doctype html><title>t</title>' > "$work/web/index.html"
X=zq7erase # distinctive: found by a text search in any column

{
  cat <<CONF
[foyer]
database = foyer.db
timezone = Europe/Paris
log_level = debug
[building b1]
[channel b1-outdoor]
building = b1
quantity = outdoor_temperature
[channel b1-heat]
building = b1
quantity = heat
CONF
  for d in d1 d2 d3 d4 d5 d6 $X; do
    printf '[dwelling %s]\nbuilding = b1\nsurface_m2 = 50\nheating = electric\n' "$d"
    printf '[channel %s-elec]\ndwelling = %s\nquantity = electricity\n' "$d" "$d"
  done
  printf '[channel %s-hw]\ndwelling = %s\nquantity = hot_water\n' "$X" "$X"
  printf '[channel %s-temp]\ndwelling = %s\nquantity = temperature\n' "$X" "$X"
  printf '[http]\nlisten = 127.0.0.1\nport = %s\nweb_dir = %s\n' "$hport" "$work/web"
} > "$work/foyer.conf"

# Hourly history from 14 months ago to an hour ago: a year-ago period and
# this year's, and the signature's year of days between.
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
    season = math.cos(2 * math.pi * (ts / 86400 - 15) / 365.25)  # 1 in mid-January
    hod = (ts // 3600) % 24
    outdoor = 11 - 9 * season + 4 * math.sin(2 * math.pi * (hod - 9) / 24)
    out.write("b1-outdoor,%s,%.2f\n" % (t, outdoor))
    heat_need = max(0.0, 18 - outdoor)
    for k, d in enumerate(["d1", "d2", "d3", "d4", "d5", "d6", X]):
        use = 0.15 + 0.02 * k + 0.03 * heat_need * (1 + 0.1 * k) + (0.2 if 18 <= hod <= 21 else 0)
        idx[d] = idx.get(d, 1000.0 * (k + 1)) + use
        out.write("%s-elec,%s,%.3f\n" % (d, t, idx[d]))
    idx["heat"] = idx.get("heat", 50000.0) + 2.0 * heat_need
    out.write("b1-heat,%s,%.3f\n" % (t, idx["heat"]))
    idx["hw"] = idx.get("hw", 0.0) + (12.0 if hod in (7, 8, 20) else 0.5)
    out.write("%s-hw,%s,%.1f\n" % (X, t, idx["hw"]))
    out.write("%s-temp,%s,%.2f\n" % (X, t, 19.5 + math.sin(ts / 7200.0)))
' "$X" "$work/history.csv"
ctl import "$work/history.csv" > "$work/import.log" 2>&1 || fail "import: $(cat "$work/import.log")"

code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
start_foyerd() {
  "$FOYER_BIN/foyerd" --config "$work/foyer.conf" 2>> "$work/foyerd.log" &
  pid=$!
  wait_for 20 eval '[ "$(code "$base/api/v1/me")" = 401 ]' ||
    fail "foyerd's HTTP server did not answer: $(tail -5 "$work/foyerd.log")"
}
stop_foyerd() {
  kill -TERM "$pid"
  wait "$pid" || fail "foyerd exited $?: $(cat "$work/foyerd.log")"
  pid=
}

today=$(date +%Y-%m-%d)
tomorrow=$(date -d tomorrow +%Y-%m-%d)
month=$(date -d "$(date +%Y-%m-01) -1 day" +%Y-%m)
ctl tenancy start --dwelling $X --date 2020-01-01 --ref "BAIL-$X-2020" > /dev/null || fail "tenancy start"
old="$X.20200101"
ctl consent set --dwelling $X --purpose load_curve > /dev/null || fail "consent set"
ctl consent withdraw --dwelling $X --purpose load_curve > /dev/null || fail "consent withdraw"
ctl consent set --dwelling $X --purpose load_curve > /dev/null || fail "consent set again"
ctl consent set --dwelling $X --purpose sharing > /dev/null || fail "consent sharing"
ctl token create --role tenant --dwelling $X --name "tablet-$X" > /dev/null 2>&1 || fail "tenant token"
E=$(ctl token create --role energy-team 2> /dev/null)
A=$(ctl token create --role ambassador --buildings b1 2> /dev/null)
ctl summary --dwelling $X --period "$month" --format json > "$work/xsum.json" 2> "$work/xsum.err" || fail "summary $X"
# Last month is closed by the data (readings up to now): no warning.
[ ! -s "$work/xsum.err" ] || fail "summary $X $month: $(cat "$work/xsum.err")"

# What the pusher, the tablet pages, the alert engine and the uplink write
# about a household (their own connections write them in foyerd).
py '
import sqlite3, sys, time, json
db = sqlite3.connect(sys.argv[1]); X = sys.argv[2]; body = open(sys.argv[3]).read()
now = int(time.time())
per = json.loads(body)["period"]["id"]
db.execute("INSERT INTO summaries VALUES (?, ?, 2, ?, ?)", (X, per, now, body))
db.execute("INSERT INTO outbox(endpoint, key, dwelling, body, created, state, next_try)"
           " VALUES (?, ?, ?, ?, ?, 1, ?)", ("coach", "foyer-summary-v2/b1/%s/%s" % (X, per), X, body, now, now))
db.execute("INSERT INTO tip_answers VALUES (?, ?, ?, ?)", (X, "standby", "done", now - 86400))
db.execute("INSERT INTO reports(building, dwelling, kind, text, opened) VALUES (?, ?, ?, ?, ?)",
           ("b1", X, "cold", "il fait 16 degres", now - 86400))
cur = db.execute("INSERT INTO alerts(kind, subject, severity, building, dwelling, channel, state,"
                 " opened, last_seen, value, threshold, text_fr, text_en) VALUES (?, ?, ?, ?, ?, ?, 0,"
                 " ?, ?, ?, ?, ?, ?)", ("leak", X + "-hw", "warning", "b1", X, X + "-hw",
                 now - 7200, now - 3600, 12.5, 2.0, "fuite", "leak"))
db.execute("INSERT INTO uplink_alerts VALUES (?, 0)", (cur.lastrowid,))
db.execute("INSERT INTO uplink_outbox(type, key, body, created) VALUES (?, ?, ?, ?)",
           ("alert", "alert:%d" % cur.lastrowid, json.dumps({"dwelling": X}), now))
ch = db.execute("SELECT id FROM channels WHERE name = ?", (X + "-elec",)).fetchone()[0]
day = db.execute("SELECT max(ts) FROM rollup_day WHERE channel = ?", (ch,)).fetchone()[0]
db.execute("INSERT INTO uplink_outbox(type, key, body, created) VALUES (?, ?, ?, ?)",
           ("rollup", "rollup:%s-elec:day:%d" % (X, day), json.dumps({"channel": X + "-elec", "sum": 4.2}), now))
db.execute("INSERT INTO uplink_dirty VALUES (0, ?, ?)", (day, ch))
db.execute("INSERT INTO grants(dwelling, tenancy, grantee, created, expires, created_by)"
           " VALUES (?, ?, ?, ?, ?, ?)", (X, sys.argv[4], "amb-b1", now - 86400, now + 86400 * 29,
           "tenant:tablet-" + X))
db.commit()
' "$work/foyer.db" "$X" "$work/xsum.json" "$old"

start_foyerd
# foyerd's start-up work on the history is done before the erasure, or
# it could store what it read before it (an alert, a summary): the alert
# engine's first run, the summaries' catch-up of last week and last month
# (the month's run comes last), and the pusher storing the week's summary.
wait_for 30 grep -Eq "alerts: (hours up to|[0-9]+ opened)" "$work/foyerd.log" ||
  fail "no alerts run: $(tail -5 "$work/foyerd.log")"
wait_for 30 grep -q "summaries $month: .*already pushed" "$work/foyerd.log" ||
  fail "no summaries run: $(tail -5 "$work/foyerd.log")"
x_summaries() {
  py 'import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM summaries WHERE dwelling = ?", (sys.argv[2],)).fetchone()[0])' "$work/foyer.db" "$X"
}
wait_for 30 eval '[ "$(x_summaries)" -ge 2 ]' || fail "the week's summary of $X was not stored"
status() { curl -s -H "Authorization: Bearer $E" "$base/api/v1/buildings/b1/status"; }
amb_totals() { # the ambassador page's building totals
  curl -s -b "foyer_token=$A" "$base/ambassador" > "$work/amb.html"
  py 'import re, sys  # to the Wh (the page writes the float sums with 12 digits)
for q, t, w in re.findall(r"<li data-q=\"([a-z_]+)\" data-today=\"([^\"]*)\" data-week=\"([^\"]*)\"", open(sys.argv[1]).read()):
    print(q, "%.3f" % float(t), "%.3f" % float(w))' "$work/amb.html"
}
status > "$work/status0.json"
amb_totals > "$work/amb0"
grep -q "^electricity " "$work/amb0" || fail "no totals on the ambassador page: $(cat "$work/amb0")"
ctl summary --dwelling d1 --period "$month" --format json > "$work/sum0.json" || fail "summary d1 before"
py '
import json, sys
b = json.load(open(sys.argv[1]))["building_total"]
assert b and b["dwellings"] == 7 and b["kwh"] > 0 and b["last_year_kwh"] > 0, b
' "$work/sum0.json" || fail "building_total before: $(cat "$work/sum0.json")"
# The other dwellings' rows, to compare after.
others() {
  py 'import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for t in ("rollup_day", "rollup_month"):  # raw and hourly: retention runs too
    v = "value" if t == "readings" else "sum"
    print(t, *db.execute("SELECT count(*), total(r.%s) FROM %s r JOIN channels c ON c.id = r.channel"
                         " WHERE c.name NOT LIKE ?" % (v, t), (sys.argv[2] + "%",)).fetchone())
' "$work/foyer.db" "$X"
}
others > "$work/others0"
folded_want=$(py 'import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print("%.3f" % db.execute("SELECT total(sum) FROM rollup_day r JOIN channels c ON c.id = r.channel WHERE c.name = ?", (sys.argv[2] + "-elec",)).fetchone()[0])
' "$work/foyer.db" "$X")

# Refused while the household's tenancy is open (it would lose its data).
rc=0; ctl erase --dwelling $X --before "$tomorrow" > "$work/out" 2> "$work/err" || rc=$?
[ "$rc" = 1 ] || fail "erase over an open tenancy: exit $rc $(cat "$work/out")"
grep -q "tenancy $old is open since 2020-01-01" "$work/err" || fail "refusal: $(cat "$work/err")"
grep -q -- "--force" "$work/err" || fail "refusal names no --force: $(cat "$work/err")"
rc=0; ctl erase --dwelling $X --before 2026-02-30 2> "$work/err" || rc=$?
[ "$rc" = 2 ] && grep -q "expected a date YYYY-MM-DD" "$work/err" || fail "bad date: $rc $(cat "$work/err")"
rc=0; ctl erase 2> "$work/err" || rc=$?
[ "$rc" = 2 ] && grep -q "dwelling ID is required" "$work/err" || fail "no dwelling: $rc"

# The household leaves today, the next one comes tomorrow: the erasure
# takes everything up to tonight, next to the running foyerd.
ctl tenancy end --dwelling $X --date "$today" > /dev/null || fail "tenancy end"
ctl tenancy start --dwelling $X --date "$tomorrow" --ref "BAIL-NEXT" > /dev/null || fail "next tenancy"
ctl erase --dwelling $X --before "$tomorrow" > "$work/account" 2> "$work/err" || fail "erase: $(cat "$work/err")"
cat "$work/account"
grep -q "^dwelling $X: erased everything before $tomorrow:" "$work/account" || fail "account head"
# foyerd's scheduler and alert engine may have stored more of the
# household's summaries and alerts than the rows put in above.
for w in "[0-9]+ raw readings" "[0-9]+ hourly figures" "[0-9]+ daily figures" \
  "[0-9]+ monthly figures" "[0-9]+ summar(y|ies)" "[0-9]+ push outbox rows?" "1 tip answer" \
  "1 report" "1 grant to an adviser" "[0-9]+ alerts?" "1 tenant token" "1 consent record" "1 lease reference cleared" \
  "[0-9]+ uplink items" "1 ended tenancy marked erased"; do
  grep -Eq "^  $w" "$work/account" || fail "account lacks \"$w\""
done
grep -q "^  $folded_want kWh of electricity$" "$work/account" || fail "folded electricity: want $folded_want kWh"
grep -q "L of hot water$" "$work/account" || fail "folded hot water"
grep -q "of temperature" "$work/account" && fail "a gauge folded"

# Every table of the schema: no row names the dwelling, no row of its
# channels before the cut, but for the allow-list.
py '
import sqlite3, sys, time, datetime
db = sqlite3.connect(sys.argv[1]); X = sys.argv[2]; old = sys.argv[4]
cut = int(time.mktime(datetime.datetime.strptime(sys.argv[3], "%Y-%m-%d").timetuple()))
chans = [r[0] for r in db.execute("SELECT id FROM channels WHERE dwelling = ?", (X,))]
assert len(chans) == 3, chans
allow = {
  "channels": ("equipment: the channel rows (name, dwelling) hold no figure", lambda r: True),
  "tenancies": ("the tenancies frame the proof of consent: ID and dates, no lease reference",
                lambda r: r["ref"] is None if r["id"] == old else r["start_ymd"] >= int(sys.argv[3].replace("-", ""))),
  "consents": ("proof of consent: per tenancy and purpose the first record that gave it and the newest",
               lambda r: True),
  "access_log": ("the security record: who read or erased what, never a figure", lambda r: True),
  "tenancy_erasures": ("which ended tenancy was erased and when (no figure): not erased twice",
                       lambda r: r["tenancy"] == old),
  "erasures": ("the erasure and its cut (no figure): what foyerd computed before it is not stored after",
               lambda r: r["cut"] == cut),
}
print("allow-list:")
for t, (why, _) in sorted(allow.items()):
    print("  %-11s %s" % (t, why))
bad = []
tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = \"table\" AND name NOT LIKE \"sqlite_%\"")]
assert "rollup_folded" in tables and "readings" in tables, tables
for t in tables:
    cols = [c[1] for c in db.execute("PRAGMA table_info(\"%s\")" % t)]
    db.row_factory = sqlite3.Row
    for r in db.execute("SELECT * FROM \"%s\"" % t):
        named = any(isinstance(r[c], (str, bytes)) and X in (r[c] if isinstance(r[c], str) else r[c].decode("latin-1")) for c in cols)
        chan = "channel" in cols and r["channel"] in chans and ("ts" not in cols or r["ts"] < cut)
        if not (named or chan):
            continue
        if t in allow and allow[t][1](r):
            continue
        bad.append((t, dict(r)))
    db.row_factory = None
for b in bad[:10]:
    print("linked:", b)
assert not bad, "%d rows still link erased data to %s" % (len(bad), X)
n = db.execute("SELECT count(*) FROM consents WHERE dwelling = ? AND tenancy = ?", (X, old)).fetchone()[0]
assert n == 3, n  # load_curve: the first given, the newest; sharing: the one
assert db.execute("SELECT count(*) FROM access_log WHERE dwelling = ? AND what LIKE \"erase before=%\"", (X,)).fetchone()[0] == 1
assert db.execute("SELECT count(*) FROM tenancy_erasures WHERE tenancy = ?", (old,)).fetchone()[0] == 1
assert db.execute("SELECT count(*) FROM erasures WHERE dwelling = ? AND cut = ?", (X, cut)).fetchone()[0] == 1
assert db.execute("SELECT count(*) FROM rollup_folded WHERE quantity = \"temperature\"").fetchone()[0] == 0
print("every table checked:", ", ".join(tables))
' "$work/foyer.db" "$X" "$tomorrow" "$old" || fail "rows still link erased data to $X"

others > "$work/others1"
diff "$work/others0" "$work/others1" || fail "the other dwellings' rows changed"

# Building totals: the summaries' building figure (computed afresh by
# foyerctl) and the status totals (a restart: no cached answer).
ctl summary --dwelling d1 --period "$month" --format json > "$work/sum1.json" || fail "summary d1 after"
stop_foyerd
start_foyerd
status > "$work/status1.json"
amb_totals > "$work/amb1"
stop_foyerd
diff "$work/amb0" "$work/amb1" || fail "the ambassador page's building totals changed"
py '
import json, sys
b0 = json.load(open(sys.argv[1]))["building_total"]
b1 = json.load(open(sys.argv[2]))["building_total"]
assert b1 is not None, "building_total gone"
assert b1["dwellings"] == 6, b1  # the folded consumption is no dwelling
for k in ("kwh", "last_year_kwh", "change_pct", "normalised_by_dju", "verdict", "last_year_period"):
    assert b0[k] == b1[k], (k, b0, b1)
def totals(f):
    j = json.load(open(f))["totals"]
    return {q["quantity"]: (q["today"], q["week"]) for q in j["quantities"]}
t0, t1 = totals(sys.argv[3]), totals(sys.argv[4])
assert t0 == t1, (t0, t1)
assert t0["electricity"][1] and t0["electricity"][1] > 0 and t0["hot_water"][1] > 0, t0
print("building totals unchanged:", b1, t1)
' "$work/sum0.json" "$work/sum1.json" "$work/status0.json" "$work/status1.json" ||
  fail "building totals changed: $(cat "$work/sum0.json" "$work/sum1.json" "$work/status0.json" "$work/status1.json" | grep -E 'building_total|totals' -A8)"
echo "ok"
