#!/usr/bin/env bash
# Installed torch tools find their stand-ins (libcommon/link) in the prefix's
# lib/hm through RUNPATH $ORIGIN/../lib/hm: an installed hm-serve loads them
# instead of the unused libraries, and runs.
# usage: installed_stand_ins_test.sh BUILD_DIR
set -euo pipefail
build=$1
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$prefix" > /dev/null
program=$prefix/bin/hm-serve
[ -x "$program" ] || fail "no $program after install"
[ -n "$(ls "$prefix/lib/hm")" ] || fail "no stand-ins installed in $prefix/lib/hm"

scope=$(LD_DEBUG=scopes "$program" --version 2>&1 > /dev/null | awk '/scope 0:/ && !seen++' | tr ' ' '\n')
stand_ins=$(grep -c "^$prefix/bin/../lib/hm/" <<< "$scope" || true)
[ "$stand_ins" -gt 100 ] || fail "installed hm-serve loads $stand_ins stand-ins from $prefix/lib/hm"
real=$(grep -v "^$prefix/" <<< "$scope" | grep 'libopencv_core' || true)
[ -z "$real" ] || fail "installed hm-serve loads the real OpenCV: $real"
"$program" --version | grep -q '^hm-serve ' || fail "installed hm-serve --version: $("$program" --version 2>&1)"
echo "installed stand-ins: ok ($stand_ins loaded)"
