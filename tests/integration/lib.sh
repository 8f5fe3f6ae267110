# Shared helpers of the integration scripts.  FOYER_SRC and FOYER_BIN come
# from ctest (tests/CMakeLists.txt).
: "${FOYER_SRC:?set by ctest}" "${FOYER_BIN:?set by ctest}"

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# Compare two CSV files with the same rows; the numeric 5th column may differ
# by a relative tolerance.
compare_csv_values() { # a b tolerance
  awk -F, -v tol="$3" 'NR == FNR { v[FNR] = $0; next }
    {
      split(v[FNR], a, ",")
      if (a[1] != $1 || a[4] != $4) { print "row " FNR ": " v[FNR] " <> " $0; bad = 1; exit }
      if (FNR > 1) {
        d = a[5] - $5; if (d < 0) d = -d
        m = a[5] < 0 ? -a[5] : a[5]
        if (d > tol * (1 + m)) { print "row " FNR ": " v[FNR] " <> " $0; bad = 1; exit }
      }
    }
    END { exit bad }' "$1" "$2"
}

# Wait until a command succeeds, at most $1 seconds (polling, no fixed sleep).
wait_for() { # seconds command...
  local limit=$1; shift
  local end=$((SECONDS + limit))
  until "$@"; do
    [ $SECONDS -lt $end ] || return 1
    sleep 0.05
  done
}

# A scratch directory for one test, $work (/tmp/foyer-NAME-XXXXXX), removed
# at exit after killing the foyerd the test started (its pid in $pid, empty
# when none runs); ctl runs foyerctl on $work/foyer.conf, py Debian's
# python3 on a program text.
scratch_setup() { # name
  work=$(mktemp -d "/tmp/foyer-$1-XXXXXX")
  pid=
  trap scratch_cleanup EXIT
  ctl() { "$FOYER_BIN/foyerctl" --config "$work/foyer.conf" "$@"; }
  py() { /usr/bin/python3 -c "$@"; }
}
scratch_cleanup() {
  [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
  rm -rf "$work"
}
