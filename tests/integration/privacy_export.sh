#!/usr/bin/env bash
# The right of access and portability (issue 15): everything held about a
# household, GET /api/v1/me/export for the tenant and foyerctl export
# --all-data for the operator, in JSON and CSV.
#
# Dwelling d1 has two tenancies: t1 (since 2020, consenting to load curves,
# ended six days ago with foyerctl tenancy end) and the next one (from five
# days ago, no consent); d2 is another household of the building.  Ten days
# of hourly readings of both, and rows of every kind (tip answers, reports,
# summaries, alerts) stamped in each tenancy with distinctive words.
#   - the new tenant's export holds its own hours, days, readings, tokens,
#     tip answers, reports, summaries, alerts and who read its data, and
#     nothing of t1's household nor of d2 (no row before its start, none of
#     the words); JSON parses, the CSV has every section; not in the access
#     log (the household reading its own data);
#   - foyerctl export --all-data holds both tenancies, logs the read, and
#     leaves hourly figures and raw readings out while the household has
#     not consented, gives them once it has;
#   - refusals name what is wrong.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mqtt_lib.sh" # free_port

scratch_setup export
export FOYER_LANG_DIR="$FOYER_SRC/config"
export TZ=Europe/Paris
hport=$(free_port)
base="http://127.0.0.1:$hport"
mkdir -p "$work/web"
echo '<!doctype html><title>t</title>' > "$work/web/index.html"

cat > "$work/foyer.conf" <<CONF
[foyer]
database = foyer.db
timezone = Europe/Paris
[building b1]
[dwelling d1]
building = b1
surface_m2 = 40
heating = electric
[dwelling d2]
building = b1
surface_m2 = 60
heating = electric
consent = true
[channel d1-elec]
dwelling = d1
quantity = electricity
[channel d2-elec]
dwelling = d2
quantity = electricity
[tenancy t1]
dwelling = d1
start = 2020-01-01
[tenancy t2]
dwelling = d2
start = 2020-01-01
[http]
listen = 127.0.0.1
port = $hport
web_dir = $work/web
CONF

# Ten days of hourly indexes, up to an hour ago: d1 uses 1.5 kWh an hour,
# d2 2.25 (so a d2 figure in d1's export would show).
now=$(date +%s)
h0=$(((now - 3600) / 3600 * 3600 - 10 * 86400))
{
  echo "channel,time,value"
  for i in $(seq 0 240); do
    ts=$(date -u -d "@$((h0 + i * 3600))" +%Y-%m-%dT%H:%M:%SZ)
    echo "d1-elec,$ts,$((1000 + i * 3 / 2)).$((i % 2 * 5))"
    echo "d2-elec,$ts,$((7000 + i * 9 / 4)).$((i * 9 % 4 * 25))"
  done
} > "$work/history.csv"
ctl import "$work/history.csv" > "$work/import.log" 2>&1 || fail "import: $(cat "$work/import.log")"

# t1's household: consents, a token, then leaves; the next one moves in.
old_end=$(date -d "-6 days" +%F)
new_start=$(date -d "-5 days" +%F)
ctl consent set --dwelling d1 --purpose load_curve > /dev/null || fail "consent t1"
ctl token create --role tenant --dwelling d1 --name tab-oldhousehold > /dev/null 2>&1 || fail "token t1"
ctl tenancy end --dwelling d1 --date "$old_end" > /dev/null || fail "tenancy end"
ctl tenancy start --dwelling d1 --date "$new_start" --ref LEASE-NEW > /dev/null || fail "tenancy start"
new="d1.$(date -d "$new_start" +%Y%m%d)"
T=$(ctl token create --role tenant --dwelling d1 --name tab-newhousehold 2> /dev/null)
T2=$(ctl token create --role tenant --dwelling d2 --name tab-otherdwelling 2> /dev/null)
E=$(ctl token create --role energy-team --name team-anna 2> /dev/null)
A=$(ctl token create --role ambassador --buildings b1 --name amb-b1 2> /dev/null)

# What the households told and what foyer made of them, in each tenancy:
# rows as the pages, the alert engine and the summaries write them, with
# words that name whose they are.
/usr/bin/python3 - "$work/foyer.db" "$new_start" <<'PY'
import json, sqlite3, sys, time, datetime
db = sqlite3.connect(sys.argv[1])
start = int(time.mktime(datetime.date.fromisoformat(sys.argv[2]).timetuple()))
old, cur = start - 3 * 86400, start + 86400
def summary(d, period, a, b, word):
    body = {"schema": 1, "dwelling": d, "period": {"id": period,
            "from": datetime.datetime.fromtimestamp(a).astimezone().isoformat(),
            "to": datetime.datetime.fromtimestamp(b).astimezone().isoformat()}, "note": word}
    db.execute("INSERT INTO summaries VALUES (?, ?, 1, ?, ?)", (d, period, b, json.dumps(body)))
for d, ts, word in (("d1", old, "oldhousehold"), ("d1", cur, "newhousehold"),
                    ("d2", cur, "otherdwelling")):
    db.execute("INSERT INTO tip_answers VALUES (?, ?, 'done', ?)", (d, "tip-" + word, ts))
    db.execute("INSERT INTO reports(building, dwelling, kind, text, opened) VALUES"
               " ('b1', ?, 'damp', ?, ?)", (d, "report-" + word, ts))
    db.execute("INSERT INTO alerts(kind, subject, severity, building, dwelling, channel, state,"
               " opened, last_seen, value, threshold, text_fr, text_en) VALUES ('night_base',"
               " ?, 'warning', 'b1', ?, ?, 0, ?, ?, 1.5, 1.0, ?, ?)",
               (d + "-elec-" + word, d, d + "-elec", ts, ts, "alerte-" + word, "alert-" + word))
    summary(d, "P-" + word, ts - 3600, ts, "summary-" + word)
# A report whose text is not UTF-8 (a byte the pages would refuse): the
# export keeps the field, the byte replaced.
db.execute("INSERT INTO reports(building, dwelling, kind, text, opened) VALUES"
           " ('b1', 'd1', 'leak', CAST(? AS TEXT), ?)", (b"tap-\xff-newhousehold", cur + 60))
# A summary of a week straddling the move, made for the former household:
# the new tenant does not see it.
summary("d1", "P-straddle", start - 2 * 86400, start, "summary-straddle")
db.commit()
PY

code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
"$FOYER_BIN/foyerd" --config "$work/foyer.conf" 2>> "$work/foyerd.log" &
pid=$!
wait_for 20 eval '[ "$(code "$base/api/v1/me")" = 401 ]' ||
  fail "foyerd's HTTP server did not answer: $(tail -5 "$work/foyerd.log")"

# The team reads d1's days: the household is entitled to know.
[ "$(code -H "Authorization: Bearer $E" "$base/api/v1/rollups?channel=d1-elec&granularity=day&from=$new_start&to=$(date +%F)")" = 200 ] ||
  fail "team rollups"
log_rows() { sqlite3 "$work/foyer.db" "SELECT count(*) FROM access_log"; }
before=$(log_rows)

# The tenant's export, JSON (the default) and CSV.
curl -s -D "$work/h.json" -H "Authorization: Bearer $T" "$base/api/v1/me/export" -o "$work/me.json"
curl -s -D "$work/h.csv" -H "Authorization: Bearer $T" "$base/api/v1/me/export?format=csv" -o "$work/me.csv"
grep -qi "^content-type: application/json" "$work/h.json" || fail "json headers: $(cat "$work/h.json")"
grep -qi "^content-disposition: attachment; filename=\"foyer-d1-$(date +%F).json\"" "$work/h.json" ||
  fail "json disposition: $(cat "$work/h.json")"
grep -qi "^content-type: text/csv" "$work/h.csv" || fail "csv headers: $(cat "$work/h.csv")"
grep -qi "^content-disposition: attachment; filename=\"foyer-d1-$(date +%F).csv\"" "$work/h.csv" ||
  fail "csv disposition: $(cat "$work/h.csv")"
[ "$(log_rows)" = "$before" ] || fail "the tenant's own export is in the access log"
/usr/bin/python3 -m json.tool "$work/me.json" > /dev/null || fail "me/export is not JSON: $(head -c 300 "$work/me.json")"

# Its own data, all of it, nothing before its tenancy, nothing of d2.
/usr/bin/python3 - "$work/me.json" "$work/me.csv" "$new" "$new_start" <<'PY' || fail "tenant export: $(head -c 2000 "$work/me.json")"
import csv, datetime, json, sys
j = json.load(open(sys.argv[1]))
new, start = sys.argv[3], sys.argv[4]
assert j["schema"] == 1, j["schema"]
assert j["export"]["dwelling"] == "d1" and j["export"]["load_curve"] is True, j["export"]
assert j["export"]["from"].startswith(start + "T00:00:00"), j["export"]
assert j["dwelling"]["id"] == "d1", j["dwelling"]
assert [c["id"] for c in j["channels"]] == ["d1-elec"], j["channels"]
assert [(t["id"], t["start"], t["end"], t["ref"]) for t in j["tenancies"]] == [(new, start, None, "LEASE-NEW")], j["tenancies"]
assert j["consents"] == [], j["consents"]  # t1's consent is t1's household's
# Hours (its own load curve, though it has not consented), days, readings.
for sec in ("rollups_hour", "rollups_day", "readings"):
    rows = j[sec]
    assert rows, sec
    key = "time" if sec == "readings" else "period_start"
    assert all(r["channel"] == "d1-elec" and r["unit"] == "kWh" for r in rows), sec
    assert min(r[key] for r in rows) >= start, (sec, min(r[key] for r in rows))
# d1 uses 1.5 kWh an hour; d2 2.25.
hours = [r["value"] for r in j["rollups_hour"]]
assert hours.count(1.5) >= 100 and 2.25 not in hours, hours
assert any(r["value"] == 36.0 for r in j["rollups_day"]), j["rollups_day"]
# Whole months inside the tenancy only: this one began before it (unless
# the tenancy began on the 1st).
assert len(j["rollups_month"]) == (1 if start.endswith("-01") else 0), j["rollups_month"]
assert [t["name"] for t in j["tokens"]] == ["tab-newhousehold"], j["tokens"]
assert all("hash" not in t for t in j["tokens"]), j["tokens"]
assert [a["tip"] for a in j["tip_answers"]] == ["tip-newhousehold"], j["tip_answers"]
assert [r["text"] for r in j["reports"]] == ["report-newhousehold", "tap-\ufffd-newhousehold"], j["reports"]
# (foyerd's own alerts and summaries of the dwelling may come beside ours.)
assert [a["text_en"] for a in j["alerts"] if "household" in a["text_en"]] == ["alert-newhousehold"], j["alerts"]
assert [s["body"]["note"] for s in j["summaries"] if "note" in s["body"]] == ["summary-newhousehold"], j["summaries"]
log = j["access_log"]
assert any(a["who"] == "team-anna" and a["what"].startswith("GET /api/v1/rollups") for a in log), log
text = json.dumps(j)
for word in ("oldhousehold", "otherdwelling", "straddle", "d2", '"t1"', "7000"):
    assert word not in text, word
# The CSV: the same sections, each a header "#NAME,..." and its rows.
want = ["export", "dwelling", "channels", "tenancies", "consents", "rollups_hour", "rollups_day",
        "rollups_month", "readings", "events", "summaries", "tip_answers", "reports", "alerts",
        "tokens", "grants", "access_log"]
assert [k for k in j if k != "schema"] == want, list(j)
header, n, heads = None, {}, []
for line in csv.reader(open(sys.argv[2], newline="")):
    if not line:
        header = None
        continue
    if line[0].startswith("#"):
        assert header is None, line
        header = line
        heads.append(line[0][1:])
        continue
    assert header is not None and line[0] == header[0][1:], (header, line)
    assert len(line) == len(header), (header, line)
    n[line[0]] = n.get(line[0], 0) + 1
    row = dict(zip(header[1:], line[1:]))
    if line[0] == "rollups_hour" and row["readings"] != "0":
        assert row["value"] in ("1.5", "0"), row  # as foyerctl export writes it
for sec in want:
    if sec in ("rollups_month", "consents", "events"):
        continue
    assert n.get(sec, 0) == (1 if isinstance(j[sec], dict) else len(j[sec])), (sec, n.get(sec))
csvtext = open(sys.argv[2]).read()
for word in ("oldhousehold", "otherdwelling", "straddle", "d2-elec"):
    assert word not in csvtext, word
assert heads == want, heads
PY

# The other household's token: its own dwelling only.
curl -s -H "Authorization: Bearer $T2" "$base/api/v1/me/export" -o "$work/d2.json"
/usr/bin/python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert j["dwelling"]["id"] == "d2" and [c["id"] for c in j["channels"]] == ["d2-elec"], j
t = json.dumps(j)
assert "d1-elec" not in t and "household" not in t.replace("otherdwelling", ""), t[:500]
' "$work/d2.json" || fail "d2 export: $(head -c 500 "$work/d2.json")"

# Refusals and roles: the tenant's route only.
[ "$(code -H "Authorization: Bearer $T" "$base/api/v1/me/export?format=xml")" = 400 ] || fail "format=xml"
[ "$(code "$base/api/v1/me/export")" = 401 ] || fail "no token"
[ "$(code -H "Authorization: Bearer $E" "$base/api/v1/me/export")" = 403 ] || fail "team"
[ "$(code -H "Authorization: Bearer $A" "$base/api/v1/me/export")" = 403 ] || fail "ambassador"
[ "$(log_rows)" = "$before" ] || fail "refused exports in the access log"

# foyerctl export --all-data: both tenancies, logged, no hourly figures
# without the current household's consent.
ctl export --dwelling d1 --all-data > "$work/all.json" 2> "$work/all.err" || fail "all-data: $(cat "$work/all.err")"
grep -q "has not consented to load curves: hourly figures and raw readings left out" "$work/all.err" ||
  fail "all-data stderr: $(cat "$work/all.err")"
ctl export --dwelling d1 --all-data --format csv --output "$work/all.csv" 2> "$work/all-csv.err" ||
  fail "all-data csv: $(cat "$work/all-csv.err")"
grep -q "rows of dwelling d1 written to $work/all.csv" "$work/all-csv.err" || fail "csv: $(cat "$work/all-csv.err")"
/usr/bin/python3 - "$work/all.json" "$work/all.csv" "$new" "$new_start" <<'PY' || fail "all-data: $(head -c 2000 "$work/all.json")"
import json, sys
j = json.load(open(sys.argv[1]))
new, start = sys.argv[3], sys.argv[4]
assert j["export"]["from"] is None and j["export"]["to"] is None and j["export"]["load_curve"] is False, j["export"]
assert [t["id"] for t in j["tenancies"]] == ["t1", new], j["tenancies"]
assert [(c["tenancy"], c["purpose"], c["given"]) for c in j["consents"]] == [("t1", "load_curve", True)], j["consents"]
assert "rollups_hour" not in j and "readings" not in j, list(j)
assert min(r["period_start"] for r in j["rollups_day"]) < start, "no day of t1"
assert max(r["period_start"] for r in j["rollups_day"]) >= start, "no day of the new tenancy"
assert {t["name"] for t in j["tokens"]} == {"tab-oldhousehold", "tab-newhousehold"}, j["tokens"]
assert sorted(a["tip"] for a in j["tip_answers"]) == ["tip-newhousehold", "tip-oldhousehold"], j["tip_answers"]
assert len(j["reports"]) == 3, j["reports"]
assert len([a for a in j["alerts"] if "household" in a["text_en"]]) == 2, j["alerts"]
assert len([s for s in j["summaries"] if "note" in s["body"]]) == 3, j["summaries"]
assert any(a["what"].startswith("foyerctl export --all-data format=json") and a["dwelling"] == "d1"
           and a["origin"] == "foyerctl" for a in j["access_log"]), j["access_log"]
text = json.dumps(j)
assert "otherdwelling" not in text and "d2-elec" not in text, "d2 in d1's export"
csvtext = open(sys.argv[2]).read()
assert "\nrollups_day,d1-elec," in csvtext and "\nrollups_hour," not in csvtext, csvtext[:500]
assert "oldhousehold" in csvtext and "otherdwelling" not in csvtext
PY
sqlite3 "$work/foyer.db" "SELECT who, role, what, dwelling, origin FROM access_log" > "$work/log.txt"
grep -q "|local|foyerctl export --all-data format=json from=- to=-|d1|foyerctl" "$work/log.txt" ||
  fail "access log: $(cat "$work/log.txt")"
grep -q "|local|foyerctl export --all-data format=csv from=- to=-|d1|foyerctl" "$work/log.txt" ||
  fail "access log csv: $(cat "$work/log.txt")"

# With the household's consent: hours and readings, within --from/--to.
ctl consent set --dwelling d1 --purpose load_curve > /dev/null || fail "consent new"
ctl export --dwelling d1 --all-data --from "$new_start" > "$work/all2.json" 2> "$work/all2.err" || fail "all-data 2"
/usr/bin/python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert j["export"]["load_curve"] is True and j["rollups_hour"] and j["readings"], list(j)
assert min(r["time"] for r in j["readings"]) >= sys.argv[2], "a reading before --from"
assert [t["id"] for t in j["tenancies"]] == [sys.argv[3]], j["tenancies"]
' "$work/all2.json" "$new_start" "$new" || fail "all-data with consent: $(head -c 800 "$work/all2.json")"
grep -q "left out" "$work/all2.err" && fail "hours left out with consent: $(cat "$work/all2.err")"

# Refusals of foyerctl.
rc=0; ctl export --all-data > /dev/null 2> "$work/err" || rc=$?
[ "$rc" = 2 ] && grep -q -- "--all-data: give the household's --dwelling ID" "$work/err" || fail "no dwelling: $rc $(cat "$work/err")"
rc=0; ctl export --all-data --dwelling d1 --granularity hour > /dev/null 2> "$work/err" || rc=$?
[ "$rc" = 2 ] && grep -q -- "--granularity do not apply" "$work/err" || fail "granularity: $rc"
rc=0; ctl export --dwelling d1 --format json > /dev/null 2> "$work/err" || rc=$?
[ "$rc" = 2 ] && grep -q -- "--format: only with --all-data" "$work/err" || fail "format alone: $rc"
rc=0; ctl export --all-data --dwelling d1 --format xml > /dev/null 2> "$work/err" || rc=$?
[ "$rc" = 2 ] && grep -q -- '--format "xml": csv or json' "$work/err" || fail "format xml: $rc"
rc=0; ctl export --all-data --dwelling nope > /dev/null 2> "$work/err" || rc=$?
[ "$rc" = 2 ] && grep -q 'unknown dwelling "nope"' "$work/err" || fail "unknown dwelling: $rc"

kill -TERM "$pid"
wait "$pid" || fail "foyerd exited $?: $(tail -5 "$work/foyerd.log")"
pid=
echo ok
