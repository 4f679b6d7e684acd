#!/usr/bin/env bash
# Runs the libFuzzer targets (see the top CMakeLists.txt) of build-fuzz
# (clang, -DHM_FUZZ=ON) or, for those it lacks (the torch ones), build-asan
# (gcc, preset asan), SECONDS each, two at a time, and reports the
# executions each reached. Every run starts from a copy of
# tests/fuzz/corpus/<target>/ (the repo's corpus stays as it is) and writes
# its crash inputs to a temp dir, kept when there is a finding.
#   tests/fuzz/run_fuzzers.sh SECONDS [TARGET...]   (default: every target)
#   HM_FUZZ_BUILDS="DIR...": where to look, in order (default: build-fuzz
#   build-asan at the repo root)
#   HM_FUZZ_JOBS: how many run at once (default 2)
# Exits 1 on any finding (crash, sanitizer report, leak, timeout, OOM), 2 on
# a usage error.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
read -r -a builds <<<"${HM_FUZZ_BUILDS:-$root/build-fuzz $root/build-asan}"
jobs=${HM_FUZZ_JOBS:-2}
if [[ $# -lt 1 || ! $1 =~ ^[1-9][0-9]*$ || ! $jobs =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: $0 SECONDS [TARGET...]  (targets: $(ls "$here/corpus" | tr '\n' ' '))" >&2
  exit 2
fi
seconds=$1
shift
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  mapfile -t targets < <(ls "$here/corpus")
fi
# The binary of a target: the first build that has it.
binary_of() {
  local build
  for build in "${builds[@]}"; do
    # A libFuzzer binary, not a corpus replay (build-asan has both kinds).
    if [[ -x $build/tests/fuzz/$1_fuzz ]] && grep -q LLVMFuzzerRunDriver "$build/tests/fuzz/$1_fuzz"; then
      echo "$build/tests/fuzz/$1_fuzz"
      return 0
    fi
  done
  return 1
}
for target in "${targets[@]}"; do
  if [[ ! -d $here/corpus/$target ]]; then
    echo "error: no fuzz target $target (no $here/corpus/$target)" >&2
    exit 2
  fi
  if ! binary_of "$target" >/dev/null; then
    echo "error: ${target}_fuzz is built in none of ${builds[*]} (cmake --build DIR --target hm_fuzzers)" >&2
    exit 2
  fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/hm-fuzz.XXXXXX")
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$here/lsan.supp:print_suppressions=0}
# fuzz_one TARGET: fuzzes TARGET for SECONDS, then prints its report and
# exits 1 when it found something.
fuzz_one() {
  local target=$1
  local corpus=$work/$target/corpus artifacts=$work/$target/artifacts log=$work/$target/fuzz.log
  mkdir -p "$corpus" "$artifacts"
  cp "$here/corpus/$target"/* "$corpus"/
  # 2 GiB and 10 s per input for every target: a checkpoint is checked
  # (hm/data/torch_archive.h) before LibTorch could reserve what it declares.
  local rss_limit_mb=2048 timeout_s=10
  # Value profiling: comparisons guide the search (all a gcc build has).
  "$(binary_of "$target")" -max_total_time="$seconds" -rss_limit_mb="$rss_limit_mb" -timeout="$timeout_s" \
    -use_value_profile=1 -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" \
    >"$log" 2>&1
  local rc=$?
  local execs crashes
  execs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log")
  crashes=$(ls "$artifacts")
  echo "== $target: ${execs:-?} executions in ${seconds}s, $(ls "$corpus" | wc -l) corpus inputs, exit $rc (log $log)"
  if [[ $rc -ne 0 || -n $crashes ]]; then
    echo "   FINDING in $target:"
    grep -m3 -E 'ERROR: |runtime error: |check failed' "$log" | sed 's/^/     /'
    for crash in $crashes; do echo "     input: $artifacts/$crash"; done
    echo "     Fix the decoder, then keep the input as a regression case:"
    echo "       cp $artifacts/<input> $here/corpus/$target/crash-<what-it-hit>"
    return 1
  fi
}

echo "fuzzing ${#targets[@]} target(s) for ${seconds}s each, $jobs at a time"
findings=0
running=0
for target in "${targets[@]}"; do
  if [[ $running -ge $jobs ]]; then
    wait -n || findings=$((findings + 1))
    running=$((running - 1))
  fi
  fuzz_one "$target" &
  running=$((running + 1))
done
while [[ $running -gt 0 ]]; do
  wait -n || findings=$((findings + 1))
  running=$((running - 1))
done
if [[ $findings -gt 0 ]]; then
  echo "$findings target(s) with findings; logs and inputs kept in $work"
  exit 1
fi
rm -rf "$work"
echo "no findings"
