#!/usr/bin/env bash
# Benchmarks: a release build in build/bench, then every benchmark under
# tests/bench/.  They print figures (throughput, CPU per value, memory) and
# never fail on time.  Usage: scripts/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cmake -S . -B build/bench -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/bench -j2 >/dev/null

echo "== ingest: writer, bare SQLite baseline, import, bytes per reading"
build/bench/tests/bench_ingest 1000 1000

echo "== summaries: weekly summaries of 1 000 dwellings, push throughput to a local receiver"
FOYER_SRC=$PWD build/bench/tests/bench_summary 1000 60 2000

echo "== api: summary and building-status handlers on 300 dwellings x 2 years of hourly data, beside the bare store reads"
FOYER_SRC=$PWD build/bench/tests/bench_api 300 730 5000
echo "== alerts: one run of the alert engine over 1 000 dwellings x 5 channels x 35 days"
FOYER_SRC=$PWD build/bench/tests/bench_alerts 1000 35 2>/dev/null
echo "== alerts in foyerd: 8 000 alerts at the first pass; the write lock, token create and SIGTERM during it, beside idle"
bash tests/bench/bench_alerts_lock.sh build/bench 8000

echo "== mqtt: 1 000 sensors, broker -> foyerd -> SQLite against a bare libmosquitto subscriber, publisher with a window in flight"
bash tests/bench/bench_mqtt.sh build/bench 200000

echo "== fleet collector: simulated gateways -> broker -> foyer-collector -> PostgreSQL, beside COPY and single-row INSERTs"
bash tests/bench/bench_collector.sh build/bench 40
echo "== uplink: a week of a 500-channel building caught up: foyerd -> mosquitto -> a collector peer that fsyncs before its ack"
bash tests/bench/bench_uplink.sh build/bench 500 7

echo "== modbus: 100 meters on one gateway, dead meter, foyerd CPU and memory, collectd"
# collectd's modbus plugin is the comparison; bench-only, so installed here.
if [ ! -e /usr/lib/collectd/modbus.so ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  # (env: sudo would drop DEBIAN_FRONTEND; debconf's notes go to stderr)
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o Dpkg::Use-Pty=0 \
    --no-install-recommends collectd-core >/dev/null 2>&1 ||
    echo "modbus bench: collectd-core not installed, comparison skipped"
  # The package enables its own daemon; the bench runs collectd itself.
  $sudo systemctl disable --now collectd >/dev/null 2>&1 || true
fi
build/bench/tests/bench_modbus build/bench

echo "== http: wrk against foyerd's server (static file baseline, /healthz, /metrics with a token, a bad token) while ingesting"
bash tests/bench/bench_http.sh build/bench 5

echo "== http api: wrk against /api/v1/me/summary and /api/v1/buildings/{id}/status (300 dwellings x 2 years hourly) while ingesting, beside a static file and /healthz"
bash tests/bench/bench_http_api.sh build/bench 10
