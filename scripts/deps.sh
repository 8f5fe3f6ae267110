#!/usr/bin/env bash
# Install the Debian 12 packages Foyer needs to build, test and run its demo.
# Idempotent: installs only what is missing; runs apt-get update once.
set -euo pipefail

packages=(
  # build
  build-essential cmake pkg-config clang cppcheck
  # libraries (see README: why each)
  libsqlite3-dev libinih-dev libsystemd-dev libjansson-dev libcmocka-dev
  libmodbus-dev libmosquitto-dev libcurl4-openssl-dev libmicrohttpd-dev
  # tools the tests and the demo use
  sqlite3 systemd procps python3
  # MQTT: the broker and clients of the tests and the demo, openssl for the TLS test CA
  mosquitto mosquitto-clients openssl
  # push tests: test certificates
  openssl
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
