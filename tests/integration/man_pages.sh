#!/usr/bin/env bash
# The manual pages render without a warning (groff -ww, as `man --warnings`
# does) and hold no raw control byte: a form feed typed where "\f" was meant
# once showed `summary --dwellingIiB` in foyerctl(8).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

n=0
for page in "$FOYER_SRC"/docs/man/*.[1-8]; do
  if LC_ALL=C grep -n '[[:cntrl:]]' "$page" | grep -v $'\t' > /dev/null; then
    fail "$page: raw control bytes: $(LC_ALL=C grep -n '[[:cntrl:]]' "$page" | cat -A | head -3)"
  fi
  warnings=$(groff -ww -man -Tutf8 -z "$page" 2>&1) || fail "$page: groff failed: $warnings"
  [ -z "$warnings" ] || fail "$page: $warnings"
  n=$((n + 1))
done
[ "$n" -ge 3 ] || fail "only $n manual pages found under docs/man"
echo "man_pages: $n pages render without a warning or a control byte"
