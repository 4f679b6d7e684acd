#!/usr/bin/env bash
# ctest layering.finds_violations: layering_test.py fails, naming the file,
# on a small tree with each kind of violation, and passes on the same tree
# without them.
#   finds_violations_test.sh PYTHON layering_test.py
set -euo pipefail
python=$1 script=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/hm-layering.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "layering.finds_violations: $*" >&2; exit 1; }

mkdir -p "$work"/libcommon/{include/hm/base,include/hm/io,src/base,src/io} "$work"/tools/hm-a \
  "$work"/tools/hm-b "$work"/tests/unit/io
printf '#pragma once\n' >"$work/libcommon/include/hm/base/error.h"
printf '#include "hm/base/error.h"\n' >"$work/libcommon/src/base/error.cpp"
printf '#include "hm/io/loop.h"\n#include "hm/base/error.h"\n' >"$work/libcommon/src/io/loop.cpp"
printf '#pragma once\n#include <vector>\n' >"$work/libcommon/include/hm/io/loop.h"
printf '#include "hm/io/loop.h"\n' >"$work/tools/hm-a/main.cpp"
printf '#include "hm/base/error.h"\n' >"$work/tools/hm-b/main.cpp"
printf '#include "hm/io/loop.h"\n' >"$work/tests/unit/io/loop_test.cpp"
graph=$work/graph.txt
printf 'hm_base: \nhm_io: hm_base\nhm-a: hm_io\nhm-b: hm_base\nhm_io_tests: hm_io\n' >"$graph"

"$python" "$script" "$graph" "$work" >"$work/out" || { cat "$work/out"; fail "a clean tree was refused"; }

# expect_violation FILE TEXT WHAT: with TEXT appended to FILE, the check
# fails and names FILE; then FILE is restored.
expect_violation() {
  local file=$work/$1 what=$3
  cp "$file" "$work/saved"
  printf '%s\n' "$2" >>"$file"
  if "$python" "$script" "$graph" "$work" >"$work/out"; then
    fail "not refused: $what"
  fi
  grep -q "^layering: $1:" "$work/out" || { cat "$work/out"; fail "no line naming $1 for $what"; }
  mv "$work/saved" "$file"
}
expect_violation libcommon/src/base/error.cpp '#include "hm/io/loop.h"' "base including io (upward)"
expect_violation libcommon/include/hm/io/loop.h '#include <torch/torch.h>' "torch headers in io"
expect_violation tools/hm-b/main.cpp '#include "hm/io/loop.h"' "a tool including what it does not link"
expect_violation tools/hm-b/main.cpp '#include "../hm-a/report.h"' "a tool including another tool"
expect_violation tests/unit/io/loop_test.cpp '#include "hm/rpc/client.h"' "a test including an unlinked module"

# A cycle in the declared graph, and a source folder no module declares.
printf 'hm_base: hm_io\nhm_io: hm_base\n' >"$work/cycle.txt"
if "$python" "$script" "$work/cycle.txt" "$work" >"$work/out"; then fail "a cycle was not refused"; fi
grep -q "cycle" "$work/out" || fail "no line naming the cycle"
mkdir "$work/libcommon/src/orphan"
if "$python" "$script" "$graph" "$work" >"$work/out"; then fail "an undeclared module folder was not refused"; fi
grep -q "libcommon/src/orphan/" "$work/out" || fail "no line naming the undeclared folder"
echo "layering.finds_violations: ok"
