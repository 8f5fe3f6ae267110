#!/usr/bin/env bash
# A redirect from the endpoint (301, as after an http -> https move) is a
# configuration problem, not a refusal: the summaries stay pending (never
# given up, no event), foyerd logs an error naming the Location and the
# config key to change (url, at FILE:LINE), counts the redirects, and never
# follows the redirect: the new address receives nothing, and no bearer
# token, until the site changes url.  After that change and a reload
# (SIGHUP) the pending summaries are delivered there.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/push_lib.sh" push-redirect
start_receiver2
start_receiver --script "$(printf '301,%.0s' $(seq 1 60))" --location "http://127.0.0.1:$port2/moved"
echo "s3cret-token" > "$work/push.token"
write_conf() { # url
  {
    push_base_conf
    cat <<CONF
[push receiver]
url = $1
insecure = yes
token_file = $work/push.token
timeout = 10
CONF
  } > "$work/foyer.conf"
}
write_conf "http://127.0.0.1:$port/summaries"
"$FOYER_BIN/foyerctl" --config "$work/foyer.conf" import /dev/stdin >/dev/null <<CSV
channel,time,value
$(for d in $(seq 50 -1 0); do echo "a-elec,$(date -u -d "$d days ago" +%Y-%m-%dT%H:00:00Z),$((5000 + (50 - d) * 7))"; done)
CSV

: > "$work/foyerd.log"
"$FOYER_BIN/foyerd" --config "$work/foyer.conf" 2> "$work/foyerd.log" &
pid=$!
wait_for 30 grep -q "push receiver: HTTP 301 redirect to http://127.0.0.1:$port2/moved: not followed" \
  "$work/foyerd.log" || push_fail "no error naming the Location"
grep -q "until the url of \[push receiver\] ($work/foyer.conf:[0-9]*) is set" "$work/foyerd.log" ||
  push_fail "the error does not name the config key to change"
# A retry comes (the item stays pending, with the usual backoff).
two() { [ "$(grep -c '"outcome": "301"' "$work/recv.log")" -ge 2 ]; }
wait_for 30 two || push_fail "the redirected summary was not retried"
[ "$(push_sql "SELECT count(*) FROM outbox WHERE state != 0")" = 0 ] ||
  push_fail "a redirected summary was given up or marked delivered"
[ "$(push_sql "SELECT count(*) FROM events WHERE kind = 'push_given_up'")" = 0 ] ||
  push_fail "a push_given_up event for a redirect"
[ "$(grep -c "redirect to" "$work/foyerd.log")" = 1 ] ||
  push_fail "the redirect error is logged more than once"
[ ! -s "$work/recv2.log" ] || push_fail "the redirect was followed: $(cat "$work/recv2.log")"
grep -q "push receiver: insecure = yes: the bearer token and the households. data go in clear" \
  "$work/foyerd.log" || push_fail "no warning for the http:// url at start"

# The site corrects url and reloads: the pending summaries go there.
write_conf "http://127.0.0.1:$port2/summaries"
kill -HUP "$pid"
settled() { [ "$(push_sql "SELECT count(*) = 2 AND sum(state = 1) = 2 FROM outbox" 2>/dev/null)" = 1 ]; }
wait_for 30 settled || push_fail "the pending summaries were not delivered after the url changed"
kill -TERM "$pid"
wait "$pid" || push_fail "foyerd did not exit cleanly"
pid=""
grep -Eq "push: 2 summaries delivered, .* [1-9][0-9]* redirects not followed" "$work/foyerd.log" ||
  push_fail "the redirects are not counted in the push stats"
/usr/bin/python3 - "$work/recv2.log" <<'PY' || push_fail "second receiver: $(cat "$work/recv2.log")"
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
assert len(reqs) == 2 and all(r["auth"] == "Bearer s3cret-token" for r in reqs), reqs
PY
echo "push_redirect: 301 kept pending with an error naming Location and url, counted, never followed; delivered once url changed"
