#!/bin/sh
# tests/compiler/diagnostics/regen.sh [BUILD] [NAME...] — rewrite NAME.expected (default:
# every case) from what BUILD/cnnc (default build/cnnc) prints now.  Run from
# the repository root, without make:  sh tests/compiler/diagnostics/regen.sh build
#
# The .expected files are golden snapshots checked by hand.  A regenerated
# file is only a proposal: read every changed one (git diff tests/compiler/diagnostics)
# and check that each message is right, names FILE:LINE:COL of the layer that
# causes it, and puts the caret under the right token, before committing.
B=${1:-build}
[ $# -gt 0 ] && shift
cd "$(dirname "$0")/../../.." || exit 1
if [ $# -eq 0 ]; then
    set -- tests/compiler/diagnostics/*.net
fi
for f in "$@"; do
    case "$f" in *.net) ;; *) f=tests/compiler/diagnostics/$f.net ;; esac
    timeout 10 "$B/cnnc" "$f" --report 2>"${f%.net}.expected" >/dev/null
    echo "$f: exit $? (expected 1)"
done
echo "now review: git diff tests/compiler/diagnostics"
