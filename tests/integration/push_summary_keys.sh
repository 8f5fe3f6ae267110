#!/usr/bin/env bash
# [foyer] summary_language and dju_method reach the pushed summaries (they
# were fixed to French and Météo-France): with summary_language = en and
# dju_method = costic, the stored and pushed November-like month says
# "lang": "en" and its heating figure "dju_method": "costic"; foyerctl
# summary follows the same keys by default.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/push_lib.sh" push-keys
start_receiver
{
  push_base_conf
  cat <<CONF
[channel b1-outdoor]
building = b1
quantity = outdoor_temperature
[push receiver]
url = http://127.0.0.1:$port/summaries
insecure = yes
timeout = 10
CONF
} > "$work/foyer.conf"
sed -i 's/^\[foyer\]$/[foyer]\nsummary_language = en\ndju_method = costic/' "$work/foyer.conf"
# 50 days of hourly history: electricity, and an outdoor temperature from 4
# to 14 °C over each day (cold enough for degree-days every day).
/usr/bin/python3 - "$work/history.csv" <<'PY'
import math, sys, time
now = int(time.time()) // 3600 * 3600
with open(sys.argv[1], "w") as f:
    f.write("channel,time,value\n")
    for i, ts in enumerate(range(now - 50 * 86400, now, 3600)):
        t = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
        f.write(f"a-elec,{t},{1000 + 0.5 * i:.1f}\n")
        f.write(f"b1-outdoor,{t},{9 + 5 * math.sin(2 * math.pi * (i % 24) / 24):.2f}\n")
PY
"$FOYER_BIN/foyerctl" --config "$work/foyer.conf" import "$work/history.csv" >/dev/null

"$FOYER_BIN/foyerd" --config "$work/foyer.conf" 2> "$work/foyerd.log" &
pid=$!
settled() { [ "$(push_sql "SELECT count(*) = 2 AND sum(state = 1) = 2 FROM outbox" 2>/dev/null)" = 1 ]; }
wait_for 30 settled || push_fail "the week and the month were not delivered"
kill -TERM "$pid"
wait "$pid" || push_fail "foyerd did not exit cleanly"
pid=""

month=$(push_sql "SELECT period FROM summaries WHERE period NOT LIKE '%W%'")
[ "$(push_sql "SELECT json_extract(body, '$.lang') FROM summaries WHERE period = '$month'")" = en ] ||
  push_fail "the pushed summary is not in English"
[ "$(push_sql "SELECT json_extract(body, '$.heating.dju_method') FROM summaries WHERE period = '$month'")" = costic ] ||
  push_fail "the pushed summary's degree-days are not COSTIC's: $(push_sql "SELECT json_extract(body, '$.heating') FROM summaries WHERE period = '$month'")"
"$FOYER_BIN/foyerctl" --config "$work/foyer.conf" summary --dwelling a --period "$month" \
  --format json > "$work/ctl.json"
/usr/bin/python3 - "$work/ctl.json" <<'PY' || push_fail "foyerctl summary does not follow the keys: $(cat "$work/ctl.json")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["lang"] == "en" and d["heating"]["dju_method"] == "costic", d
PY
echo "push_summary_keys: summary_language = en and dju_method = costic reach the pushed summary and foyerctl summary"
