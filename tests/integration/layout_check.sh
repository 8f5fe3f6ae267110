#!/usr/bin/env bash
# The store owns the schema (docs/DESIGN.md, "Storage"): under daemon/,
# drivers/ and include/ only the store's files (daemon/store/store.c,
# daemon/store/, include/foyer/store_private.h) mention sqlite3 or hold SQL
# in string literals, and only they reach the store's connection
# (store_db(), the private headers), anywhere in the tree: tests look into
# the database on a connection of their own.  Each file breaking a rule is
# named.
#
# Usage: layout_check.sh [SOURCE_DIR]   (default: $FOYER_SRC, set by ctest)
set -euo pipefail
root=${1:-${FOYER_SRC:?set by ctest, or give the source directory}}
cd "$root"

store_file() {
  case $1 in
    daemon/store/store.c | daemon/store/* | include/foyer/store_private.h) return 0 ;;
  esac
  return 1
}

bad=0
report() {
  echo "layout_check: $1: $2" >&2
  bad=1
}
# Files under the given directories whose text matches the extended regex.
files_matching() { # regex dir...
  local re=$1
  shift
  grep -rlE --include='*.c' --include='*.h' -- "$re" "$@" || true
}

for f in $(files_matching 'sqlite3' daemon drivers include); do
  store_file "$f" ||
    report "$f" "mentions sqlite3: only the store's files use SQLite (read through the read API of include/foyer/store.h)"
done

# SQL in a string literal: a statement keyword after a double quote on the
# same line ("SELECT ...", " DELETE FROM ..." in a concatenation).
sql='"[^"]*\b(SELECT|INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER|PRAGMA|BEGIN|COMMIT|ROLLBACK)\b'
for f in $(files_matching "$sql" daemon drivers include); do
  store_file "$f" ||
    report "$f" "holds SQL: $(grep -nE -m1 -- "$sql" "$f" | cut -c1-100)"
done

for f in $(files_matching 'store_db *\(|store_private\.h|store_int\.h' daemon drivers include tests); do
  store_file "$f" ||
    report "$f" "reaches the store's connection (store_db(), its private headers): use the read API, or a connection of your own in a test"
done

# The rooms' arrows (docs/DESIGN.md, "Layout"): a file of a room includes
# only the interfaces of the rooms listed for it (limits.h: every room).
room_of_header() { # include/foyer/NAME.h -> room
  case $1 in
    config.h) echo conf ;;
    ingest.h) echo ingest ;;
    store.h | store_outbox.h | store_people.h | store_auth.h | store_alerts.h | store_uplink.h | store_tenancy.h | store_consent.h | store_access.h | store_grant.h | store_erase.h | store_private.h | counter.h) echo store ;;
    http.h | http_pages.h) echo http ;;
    alerts.h) echo alerts ;;
    coach.h) echo coach ;;
    push.h) echo push ;;
    uplink.h) echo uplink ;;
    ctl.h) echo ctl ;;
    timeutil.h | log.h | units.h) echo util ;;
    limits.h) echo limits ;;
    reading.h | device.h | driver.h) echo driver ;;
    drv_modbus.h | drv_mqtt.h) echo drivers ;;
    *) echo "?" ;;
  esac
}
declare -A allowed=(
  [foyerd]="drivers driver ingest store coach push http alerts uplink conf util"
  [http]="store coach alerts driver conf util"
  [ctl]="coach alerts store conf util"
  [coach]="push store conf util"
  [alerts]="store conf util"
  [push]="store conf util"
  [uplink]="store conf util"
  [ingest]="store driver util"
  [drivers]="driver conf util"
  [store]="conf driver util"
  [driver]="conf"
  [conf]="util"
  [util]=""
  [limits]=""
  [central]="conf util"
)
# The collector (central/): its PostgreSQL SQL only in collector_db.c.
for f in $(files_matching "$sql" central); do
  [ "$f" = central/collector_db.c ] ||
    report "$f" "holds SQL: the collector's SQL lives in central/collector_db.c"
done
for f in $(find daemon drivers central include/foyer -name '*.[ch]' | sort); do
  case $f in
    central/*) room=central ;;
    daemon/*/*) room=${f#daemon/}; room=${room%%/*} ;;
    drivers/*) room=drivers ;;
    include/foyer/*) room=$(room_of_header "${f##*/}") ;;
  esac
  [ -n "${allowed[$room]+set}" ] || { report "$f" "belongs to no room of docs/DESIGN.md"; continue; }
  for h in $(sed -nE 's/^#include "foyer\/([a-z_]+\.h)".*/\1/p' "$f"); do
    to=$(room_of_header "$h")
    [ "$to" = "$room" ] || [ "$to" = limits ] && continue
    case " ${allowed[$room]} " in
      *" $to "*) ;;
      *) report "$f" "includes foyer/$h (room $to): not an arrow of room $room in docs/DESIGN.md" ;;
    esac
  done
done

[ "$bad" = 0 ] || exit 1
echo "layout_check: SQLite and SQL only in the store's files; every include is an arrow of docs/DESIGN.md"
