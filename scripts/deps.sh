#!/usr/bin/env bash
# Install the Debian 12 packages Foyer needs to build, test and run its demo.
# Idempotent: installs only what is missing; runs apt-get update once.
set -euo pipefail

packages=(
  # build; cppcheck runs before the builds in scripts/test.sh
  build-essential cmake pkg-config clang cppcheck
  # libraries: SQLite (the store), libsystemd (sd_notify), jansson (JSON),
  # cmocka (unit tests), libmodbus (meters), libmosquitto (sensors), libcurl
  # (push), libmicrohttpd (the coming HTTP API)
  libsqlite3-dev libsystemd-dev libjansson-dev libcmocka-dev
  libmodbus-dev libmosquitto-dev libcurl4-openssl-dev libmicrohttpd-dev
  # tools the tests and the demo use: sqlite3 to inspect databases,
  # systemd-analyze, python3 (notify socket, HTTP receiver), column (demo)
  sqlite3 systemd procps python3 bsdextrautils
  # MQTT: the broker and clients; openssl makes the TLS test CAs (MQTT, push)
  mosquitto mosquitto-clients openssl
  # modbus tests: a third-party server, an RTU line over a pty pair
  python3-pymodbus socat
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
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done"
