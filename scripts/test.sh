#!/usr/bin/env bash
# Build Foyer twice and run every test in both builds:
#   build/test-gcc    gcc -O3, warnings as errors (inlining finds more)
#   build/test-asan   clang, warnings as errors, AddressSanitizer + UBSan
# Usage: scripts/test.sh            (installs missing Debian packages first)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh

jobs=$(nproc 2>/dev/null || echo 2)
[ "$jobs" -gt 2 ] && jobs=2

run_build() {
  local name=$1; shift
  echo "== $name: configure and build"
  cmake -S . -B "build/$name" -DFOYER_WERROR=ON "$@" >/dev/null
  cmake --build "build/$name" -j"$jobs" 2>&1 | grep -Ev '^\[ *[0-9]+%\]|^-- ' || true
  # A failed build leaves no binaries: fail loudly.
  cmake --build "build/$name" -j"$jobs" >/dev/null
  echo "== $name: tests"
  (cd "build/$name" && ctest --output-on-failure -j"$jobs" --timeout 600)
}

echo "== cppcheck (warnings, performance, portability)"
cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability --std=c11 \
  -Iinclude --suppress=missingIncludeSystem -D_GNU_SOURCE daemon drivers tests/sim

run_build test-gcc -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Release
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  run_build test-asan -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DFOYER_SANITIZE=ON
echo "== all tests passed (gcc build and clang ASan+UBSan build)"
