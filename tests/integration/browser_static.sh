#!/bin/bash
# browser_static.sh - the pages in a real browser, before a server serves
# them: test_http_pages renders the tablet (French and English) and
# ambassador pages from a real store into a directory, and
# browser_pages.py --static loads them in Debian's headless chromium
# (served by python3 -m http.server on loopback): the figures in the DOM
# equal the summary JSON, html lang is set, every form control is
# labelled, every visible text has a contrast of at least 4.5:1.
# Screenshots (tablet portrait 800x1280 and landscape 1280x800, ambassador
# on a phone too) are kept in $FOYER_BIN/artefacts/browser_static.
#
# Environment: FOYER_SRC, FOYER_BIN (set by CTest).
set -eu

: "${FOYER_SRC:?FOYER_SRC must point at the source tree}"
: "${FOYER_BIN:?FOYER_BIN must point at the build tree}"
pages=$(mktemp -d)
trap 'rm -rf "$pages"' EXIT
artefacts="$FOYER_BIN/artefacts/browser_static"
rm -rf "$artefacts"
mkdir -p "$artefacts"

FOYER_PAGES_OUT=$pages FOYER_LANG_DIR="$FOYER_SRC/config" "$FOYER_BIN/tests/test_http_pages" \
    >"$pages/unit.log" 2>&1 || { cat "$pages/unit.log"; exit 1; }
/usr/bin/python3 "$FOYER_SRC/tests/integration/browser_pages.py" --static "$pages" \
    --artefacts "$artefacts"
