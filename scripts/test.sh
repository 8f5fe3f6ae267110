#!/usr/bin/env bash
# Build Foyer three times and run every test in each build:
#   build/test-gcc    gcc -O3, warnings as errors (inlining finds more)
#   build/test-asan   clang, warnings as errors, AddressSanitizer + UBSan
#   build/test-tsan   clang, warnings as errors, ThreadSanitizer
# The TSan build runs the whole suite, not only the tests with threads
# (test_writer, test_crash, and the integration tests running foyerd with
# its drivers, writer and pusher): on 2 cores the whole suite under TSan
# takes about as long as under ASan (under a minute), and a test without
# threads costs little and may start one tomorrow.  TSan reports go to files
# (log_path), so a race in a foyerd that a test kills or whose exit status it
# does not check still fails the run; they are printed at the end.
# tests/tsan.supp may silence races inside third-party libraries (a reason
# for each), never in Foyer's code.
#
# Prints each build's duration and a last line "N passed, N failed" over all
# the ctest runs; exits 1 if any test failed or TSan reported anything.
# Usage: scripts/test.sh            (installs missing Debian packages first)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bash scripts/deps.sh

jobs=$(nproc 2>/dev/null || echo 2)
[ "$jobs" -gt 2 ] && jobs=2
passed=0
failed=0
problems=()
total_start=$SECONDS

# run_build NAME CMAKE_ARGS...: configure, build (stops the script if the
# build fails), run ctest; adds to passed/failed.
run_build() {
  local name=$1; shift
  local start=$SECONDS
  echo "== $name: configure and build"
  cmake -S . -B "build/$name" -DFOYER_WERROR=ON "$@" >/dev/null
  cmake --build "build/$name" -j"$jobs" 2>&1 | grep -Ev '^\[ *[0-9]+%\]|^-- ' || true
  # A failed build leaves no binaries: fail loudly.
  cmake --build "build/$name" -j"$jobs" >/dev/null
  local built=$SECONDS
  echo "== $name: tests"
  local log=build/$name/ctest.log rc=0
  (cd "build/$name" && ctest --output-on-failure -j"$jobs" --timeout 600) 2>&1 | tee "$log" ||
    rc=$?
  # ctest's summary: "96% tests passed, 1 tests failed out of 26".
  local line p f n
  line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests failed out of [0-9]+' "$log" | tail -n 1 || true)
  if [ -n "$line" ]; then
    read -r p f n < <(echo "$line" | sed -E 's/^([0-9]+)% .* ([0-9]+) tests failed out of ([0-9]+).*/\1 \2 \3/')
    passed=$((passed + n - f))
    failed=$((failed + f))
    [ "$f" = 0 ] || problems+=("$name: $f of $n tests failed")
  else
    failed=$((failed + 1))
    problems+=("$name: ctest gave no summary (exit $rc)")
  fi
  [ -n "$line" ] && [ "$rc" != 0 ] && [ "$f" = 0 ] && problems+=("$name: ctest exited $rc")
  echo "== $name: $((SECONDS - start)) s (build $((built - start)) s, tests $((SECONDS - built)) s)"
}

echo "== cppcheck (warnings, performance, portability)"
cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability --std=c11 \
  -Iinclude --suppress=missingIncludeSystem -D_GNU_SOURCE daemon drivers central tests/sim

run_build test-gcc -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Release
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  run_build test-asan -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DFOYER_SANITIZE=ON

tsan_logs=$root/build/test-tsan/tsan-reports
rm -rf "$tsan_logs"
mkdir -p "$tsan_logs"
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 log_path=$tsan_logs/tsan suppressions=$root/tests/tsan.supp" \
  run_build test-tsan -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DFOYER_TSAN=ON
reports=("$tsan_logs"/tsan.*)
if [ -e "${reports[0]}" ]; then
  for r in "${reports[@]}"; do
    echo "== ThreadSanitizer report ($r)"
    cat "$r"
  done
  problems+=("test-tsan: ${#reports[@]} ThreadSanitizer reports (above)")
fi

echo "== total: $((SECONDS - total_start)) s"
for p in "${problems[@]}"; do
  echo "FAILED: $p"
done
echo "$passed passed, $failed failed"
[ ${#problems[@]} -eq 0 ]
