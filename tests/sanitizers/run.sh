#!/usr/bin/env bash
# run.sh CMD ARGS...: runs CMD with the sanitizer runtime options of hm's
# sanitizer builds (HM_SANITIZE). ctest starts every test through it (the
# gtest binaries as their CROSSCOMPILING_EMULATOR, also when listing their
# tests, and the e2e scripts), and the binaries those scripts start inherit
# the options. Python, the tests' oracle, is not instrumented and ignores
# them; nothing is preloaded.
#
# Every finding fails its test: halt_on_error, and exit code 23, so that a
# sanitizer exit is never mistaken for a tool's own error code (1, 2) by the
# e2e scripts' expect_error. Each suppression file says why its entries are
# not our bugs.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
common="halt_on_error=1:exitcode=23:print_suppressions=0"
export ASAN_OPTIONS="$common:detect_leaks=1:check_initialization_order=1:strict_init_order=1:suppressions=$here/asan.supp"
export LSAN_OPTIONS="print_suppressions=0:suppressions=$here/lsan.supp"
export UBSAN_OPTIONS="$common:print_stacktrace=1:suppressions=$here/ubsan.supp"
export TSAN_OPTIONS="$common:second_deadlock_stack=1:report_signal_unsafe=0:suppressions=$here/tsan.supp"
# libgomp (LibTorch's and OpenBLAS's thread pools) is not instrumented, so TSan
# cannot see its synchronization; one thread each keeps it out of the picture
# (and keeps sanitizer runs on 2 cores from oversubscribing).
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
exec "$@"
