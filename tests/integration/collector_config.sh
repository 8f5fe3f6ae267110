#!/usr/bin/env bash
# foyer-collector --check-config: the shipped example parses; every problem
# of a bad file is reported as FILE:LINE, all of them; --help answers.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bin="$FOYER_BIN/central/foyer-collector"
work=$(mktemp -d /tmp/foyer-collector-conf-XXXXXX)
trap 'rm -rf "$work"' EXIT

"$bin" --help | grep -q -- "--init-db" || fail "--help"
"$bin" --check-config --config "$FOYER_SRC/config/collector.conf" > "$work/out" ||
  fail "the shipped example: $(cat "$work/out")"

cat > "$work/bad.conf" <<'CONF'
[broker]
port = 70000
tls = maybe
mqtt_version = 4
password_file = /nonexistent/secret
port = 1883
[postgresql]
conninfo = host=/tmp
conninfo_file = /nonexistent/conninfo
[collector]
batch_max = 0
metrics_listen = nowhere
colour = blue
[extra]
CONF
if "$bin" --check-config --config "$work/bad.conf" 2> "$work/err"; then
  fail "a bad config passed"
fi
for want in "bad.conf:2: port" "bad.conf:3: tls" "bad.conf:4: mqtt_version" \
  "bad.conf:5: password_file /nonexistent/secret" "bad.conf:6: \"port\" set twice" \
  "bad.conf:9: [postgresql] conninfo and conninfo_file" "bad.conf:11: batch_max" \
  "bad.conf:12: metrics_listen" "bad.conf:13: unknown key \"colour\"" \
  "bad.conf:14: unknown section [extra]" "bad.conf:0: [broker] client_id is required"; do
  grep -qF -- "$want" "$work/err" || fail "missing \"$want\" in: $(cat "$work/err")"
done
if "$bin" --check-config --config "$work/none.conf" 2> "$work/err"; then
  fail "a missing file passed"
fi
grep -q "none.conf:0: cannot open" "$work/err" || fail "missing file: $(cat "$work/err")"
echo "collector_config: example OK, every problem at its line"

# The unit passes systemd-analyze verify (ExecStart pointed at the built
# binary, which verify wants to exist), as in systemd_units.sh.
if command -v systemd-analyze > /dev/null; then
  sed -e "s|/usr/sbin/foyer-collector|$bin|g" "$FOYER_SRC/systemd/foyer-collector.service" \
    > "$work/foyer-collector.service"
  out=$(SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no "$work/foyer-collector.service" 2>&1 || true)
  problems=$(printf '%s\n' "$out" | grep "foyer-collector.service" || true)
  [ -z "$problems" ] || fail "systemd-analyze verify: $problems"
  grep -q '^Type=notify' "$work/foyer-collector.service" || fail "unit is not Type=notify"
  grep -q '^WatchdogSec=' "$work/foyer-collector.service" || fail "unit has no watchdog"
  echo "collector_config: unit verify clean"
fi
