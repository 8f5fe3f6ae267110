#!/usr/bin/env bash
# Install the Debian 12 packages Foyer needs to build, test and run its demo.
# Idempotent: installs only what is missing; runs apt-get update once.
#
# Packages are installed with --no-install-recommends, so everything a build,
# a test or the demo uses is listed here by name, even where Debian only
# recommends it: a list that works only on a machine that happened to have
# the recommends is how the README's test command once failed on a fresh
# Debian 12.  Check a change in a fresh debootstrap'd Debian 12 root.
set -euo pipefail

packages=(
  # build; cppcheck runs before the builds in scripts/test.sh
  build-essential cmake pkg-config clang cppcheck
  # clang's sanitizer runtimes (ASan, UBSan, TSan: libclang_rt.*.a), only
  # recommended by clang; llvm gives llvm-symbolizer, without which a
  # sanitizer report has addresses instead of file:line
  libclang-rt-14-dev llvm
  # libraries: SQLite (the store), libsystemd (sd_notify), jansson (JSON),
  # cmocka (unit tests), libmodbus (meters), libmosquitto (sensors), libcurl
  # (push), libmicrohttpd (the HTTP server), GnuTLS (libmicrohttpd's TLS,
  # and SHA-256 of the HTTP tokens: gnutls_hash_fast)
  libsqlite3-dev libsystemd-dev libjansson-dev libcmocka-dev
  libmodbus-dev libmosquitto-dev libcurl4-openssl-dev libmicrohttpd-dev
  libgnutls28-dev
  # tools the tests and the demo use: sqlite3 to inspect databases,
  # systemd-analyze, python3 (notify socket, HTTP receiver), column (demo);
  # tzdata for the configs' timezones
  sqlite3 systemd procps python3 bsdextrautils tzdata
  # MQTT: the broker and clients; openssl makes the TLS test CAs (MQTT, push)
  mosquitto mosquitto-clients openssl
  # the fleet collector (central/): libpq to build it; PostgreSQL 15 (its
  # initdb, pg_ctl and psql) for its tests and bench, which start a cluster
  # of their own
  libpq-dev postgresql-15 postgresql-client-15
  # modbus tests: a third-party server (pymodbus imports serial and
  # serial_asyncio even for TCP; both only recommended), an RTU line over a
  # pty pair
  python3-pymodbus python3-serial python3-serial-asyncio socat
  # driver_stop checks foyerd's pending connections with ss; clock_jump
  # steps foyerd's wall clock with libfaketime; man_pages renders the manual
  # pages with groff
  iproute2 faketime groff-base
  # the pages in a real browser (tests/integration/browser_pages.py):
  # Debian's chromium, headless, driven over the DevTools protocol with
  # python3-websocket (no npm, no downloaded browser)
  chromium python3-websocket
  # http tests: curl is the client; promtool (prometheus) checks /metrics;
  # wrk drives the HTTP benchmark
  curl prometheus wrk
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "deps: installing ${missing[*]}"
# apt and debconf talk on stdout and stderr even with -qq ("debconf:
# delaying package configuration, since apt-utils is not installed"): keep
# their output in a file, shown only when the install fails.
log=$(mktemp /tmp/foyer-deps-XXXXXX.log)
apt() {
  $sudo env DEBIAN_FRONTEND=noninteractive DEBCONF_NOWARNINGS=yes \
    apt-get -qq -o Dpkg::Use-Pty=0 -o APT::Color=0 "$@" >>"$log" 2>&1 && return 0
  echo "deps: apt-get $1 failed; its output:" >&2
  cat "$log" >&2
  rm -f "$log"
  exit 1
}
apt update
apt install -y --no-install-recommends "${missing[@]}"
rm -f "$log"
echo "deps: done"
