#!/usr/bin/env bash
# The shipped unit passes systemd-analyze verify (with ExecStart pointed at
# the built binary, since verify checks that the executable exists), and the
# sysusers and tmpfiles files parse.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
command -v systemd-analyze >/dev/null || fail "systemd-analyze missing (package systemd)"

work=$(mktemp -d /tmp/foyer-units-XXXXXX)
trap 'rm -rf "$work"' EXIT
sed -e "s|/usr/sbin/foyerd|$FOYER_BIN/foyerd|g" "$FOYER_SRC/systemd/foyerd.service" \
  > "$work/foyerd.service"
# verify prints problems on stderr and exits non-zero on errors; warnings
# about the machine (no systemd running as PID 1 in a container) are not
# about the unit: keep only lines naming the unit file.
out=$(SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no "$work/foyerd.service" 2>&1 || true)
problems=$(printf '%s\n' "$out" | grep "foyerd.service" || true)
[ -z "$problems" ] || fail "systemd-analyze verify: $problems"
grep -q '^Type=notify' "$work/foyerd.service" || fail "unit is not Type=notify"
grep -q '^WatchdogSec=' "$work/foyerd.service" || fail "unit has no watchdog"

if command -v systemd-sysusers >/dev/null; then
  mkdir -p "$work/root/etc"
  systemd-sysusers --root="$work/root" "$FOYER_SRC/systemd/foyer.sysusers" \
    || fail "sysusers file rejected"
  grep -q '^foyer:' "$work/root/etc/passwd" || fail "sysusers did not create the foyer user"
fi
if command -v systemd-tmpfiles >/dev/null; then
  systemd-tmpfiles --root="$work/root" --create "$FOYER_SRC/systemd/foyer.tmpfiles" 2>&1 \
    | grep -v "Failed to resolve user\|Failed to resolve group" || true
fi
echo "systemd_units: verify clean, sysusers creates foyer"
