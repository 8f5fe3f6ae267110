#!/usr/bin/env bash
# A Modbus TCP gateway that never answers the connection: foyerd says the
# connect timed out and after how long (the bus's timeout_ms), not
# "Operation now in progress".  The silent gateway is a loopback listener
# whose accept queue is full: the kernel drops further SYNs, as a gateway
# behind a dead link would.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/modbus_lib.sh"
work=$(mktemp -d /tmp/foyer-mbconn-XXXXXX)
holder=""
trap '[ -n "$holder" ] && kill -TERM "$holder" 2>/dev/null; mb_cleanup' EXIT

"$PY" - "$work/port" <<'PY' &
import os, signal, socket, sys
l = socket.socket()
l.bind(("127.0.0.1", 0))
l.listen(0)  # never accepted: the queue fills with the connections below
port = l.getsockname()[1]
fill = []
for _ in range(3):
    c = socket.socket()
    c.setblocking(False)
    try:
        c.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    fill.append(c)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(port))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
signal.sigwait({signal.SIGTERM})
PY
holder=$!
wait_for 10 test -s "$work/port" || fail "listener did not start"
sim_port=$(cat "$work/port")

mb_conf_head
mb_conf_gateway 1 3
mb_start_foyerd
wait_for 10 grep -q "bus=gw1: cannot connect" "$work/foyerd.log" ||
  fail "no connect failure logged: $(cat "$work/foyerd.log")"
grep -q "bus=gw1: cannot connect to 127.0.0.1:$sim_port: timed out after 300 ms (the bus's timeout_ms); retrying" \
  "$work/foyerd.log" || fail "connect timeout not said: $(grep 'cannot connect' "$work/foyerd.log")"
grep -q "in progress" "$work/foyerd.log" && fail "\"in progress\" logged: $(grep 'in progress' "$work/foyerd.log")"
mb_stop_foyerd
echo "modbus_connect_timeout: a silent gateway is reported as a connect timeout after 300 ms"
