#!/usr/bin/env bash
# foyerctl's help, as a new operator meets it: `foyerctl --help` and every
# command's `--help` (and -h) print exactly the golden text of
# tests/integration/help/ on stdout, exit 0 and need no config; every option
# a usage names is in foyerctl(8), and every command in its SYNOPSIS; no help
# line is wider than 79 columns; an unknown option names itself and prints
# the command's usage (exit 2); without --config, FOYER_CONFIG is honoured
# and a missing config says how to give one.  A new command fails here until
# its golden file, its man page entry and its completion word exist.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

work=$(mktemp -d /tmp/foyer-help-XXXXXX)
trap 'rm -rf "$work"' EXIT
golden=$FOYER_SRC/tests/integration/help
man=$FOYER_SRC/docs/man/foyerctl.8
completion=$FOYER_SRC/contrib/foyerctl.bash
ctl() { FOYER_CONFIG=$work/none.conf "$FOYER_BIN/foyerctl" "$@"; }

check_help() { # name golden-file args...
  local name=$1 file=$2
  shift 2
  [ -f "$file" ] || fail "$name: no golden help file $file (add it with: foyerctl $* > $file)"
  local rc=0
  ctl "$@" > "$work/out" 2> "$work/err" || rc=$?
  [ "$rc" = 0 ] || fail "foyerctl $*: exit $rc, expected 0: $(cat "$work/err")"
  [ -s "$work/err" ] && fail "foyerctl $*: wrote on stderr: $(cat "$work/err")"
  diff -u "$file" "$work/out" || fail "foyerctl $*: differs from $file (above)"
  awk -v n="foyerctl $*" 'length($0) > 79 { print n ": line " NR " wider than 79 columns: " $0; bad = 1 } END { exit bad }' \
    "$work/out" || fail "help too wide"
}

check_help foyerctl "$golden/foyerctl.txt" --help
check_help foyerctl "$golden/foyerctl.txt" -h

# The commands, as `foyerctl --help` lists them.
cmds=$(awk '/^Commands:/ { on = 1; next } /^$/ { on = 0 } on && /^  [a-z]/ { print $1 }' "$golden/foyerctl.txt")
[ "$(echo "$cmds" | wc -w)" -ge 5 ] || fail "too few commands listed: $cmds"
# A golden file of no command is a leftover.
for f in "$golden"/*.txt; do
  b=$(basename "$f" .txt)
  [ "$b" = foyerctl ] || echo "$cmds" | grep -qx "$b" || fail "$f: no command $b in foyerctl --help"
done

cat > "$work/foyer.conf" <<CONF
[foyer]
database = foyer.db
timezone = Europe/Paris
[building b1]
[dwelling d1]
building = b1
surface_m2 = 40
heating = electric
[channel d1-linky]
dwelling = d1
quantity = electricity
CONF

for c in $cmds; do
  check_help "$c" "$golden/$c.txt" "$c" --help
  check_help "$c" "$golden/$c.txt" "$c" -h
  # Help wins wherever it is among the arguments, as with git and systemctl.
  check_help "$c" "$golden/$c.txt" "$c" --bogus --help
  grep -q "^\.B $c\$" "$man" || fail "foyerctl.8: SYNOPSIS has no \".B $c\""
  grep -qw -- "$c" "$completion" || fail "$completion: no word $c"
  # Every long option of the usage is in the man page (groff spells - as \-).
  for o in $(grep -o -- '--[a-z][a-z-]*' "$golden/$c.txt" | sort -u); do
    [ "$o" = --config ] || [ "$o" = --help ] && continue
    grep -qF -- "$(echo "$o" | sed 's/-/\\-/g')" "$man" || fail "foyerctl.8 lacks $o of $c"
    grep -qF -- "$o" "$completion" || fail "$completion lacks $o of $c"
  done
  # An unknown option: named, then the command's usage, exit 2.
  rc=0
  "$FOYER_BIN/foyerctl" --config "$work/foyer.conf" "$c" --bogus > "$work/out" 2> "$work/err" || rc=$?
  [ "$rc" = 2 ] || fail "$c --bogus: exit $rc, expected 2: $(cat "$work/err")"
  grep -qx "foyerctl $c: unknown option \"--bogus\"" "$work/err" || fail "$c --bogus: $(head -3 "$work/err")"
  grep -qxF "$(head -n 1 "$golden/$c.txt")" "$work/err" || fail "$c --bogus: no usage on stderr"
  [ -s "$work/out" ] && fail "$c --bogus: wrote on stdout"
done

# No config given, none at the default path: say how to give one.
rc=0
env -u FOYER_CONFIG "$FOYER_BIN/foyerctl" status > /dev/null 2> "$work/err" || rc=$?
if [ ! -e /etc/foyer/foyer.conf ]; then
  [ "$rc" = 1 ] || fail "status without a config: exit $rc"
  grep -q "cannot open" "$work/err" && grep -q -- "--config FILE or the FOYER_CONFIG environment variable" "$work/err" ||
    fail "no hint without a config: $(cat "$work/err")"
fi
# FOYER_CONFIG is honoured, and --config wins over it.
rc=0
FOYER_CONFIG=$work/foyer.conf "$FOYER_BIN/foyerctl" status > "$work/out" 2> "$work/err" || rc=$?
grep -q "no database yet" "$work/err" || fail "FOYER_CONFIG not honoured: $(cat "$work/err")"
rc=0
FOYER_CONFIG=$work/foyer.conf "$FOYER_BIN/foyerctl" --config "$work/other.conf" status 2> "$work/err" || rc=$?
grep -q "other.conf: cannot open" "$work/err" || fail "--config does not win over FOYER_CONFIG: $(cat "$work/err")"
echo "foyerctl_help: $(echo $cmds | wc -w) commands answer --help with their golden usage, in step with foyerctl(8)"

# The completion: installed where bash-completion looks, and it completes.
DESTDIR=$work/inst cmake --install "$FOYER_BIN" --prefix /usr > /dev/null
[ -f "$work/inst/usr/share/bash-completion/completions/foyerctl" ] ||
  fail "completion not installed to share/bash-completion/completions/foyerctl"
complete_words() { # words... (the last one is being completed)
  bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _foyerctl; echo "${COMPREPLY[*]}"' \
    _ "$completion" "$@"
}
[ "$(complete_words foyerctl ev)" = events ] || fail "completion of a command: $(complete_words foyerctl ev)"
[ "$(complete_words foyerctl --config "$work/foyer.conf" events --dwelling '')" = d1 ] ||
  fail "completion of a dwelling ID: $(complete_words foyerctl --config "$work/foyer.conf" events --dwelling '')"
[ "$(complete_words foyerctl status --w)" = --wide ] || fail "completion of an option"
echo "foyerctl_help: bash completion installed and completing"
