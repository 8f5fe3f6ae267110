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
