#!/usr/bin/env bash
# hm's one setup script. On a fresh Debian 12 machine (as root, or a user
# with sudo) it installs what is missing, builds, and then:
#   ./setup.sh demo    runs the main job: a local swarm on 127.0.0.1
#   ./setup.sh test    runs every test (what CI runs): the normal build with
#                      every test, the ASan+UBSan build with ctest, the TSan
#                      build with its threaded tests, then every fuzz target
#                      for 30 s, two at a time; ends with a table of each
#                      stage's time
#   ./setup.sh asan    only the AddressSanitizer+UBSan stage (build-asan)
#   ./setup.sh tsan    only the ThreadSanitizer stage (build-tsan)
#   ./setup.sh fuzz [SECONDS]  only the fuzz stage: every libFuzzer target
#                      for SECONDS (default 60; CI runs 30); the torch ones
#                      are built in build-asan
#   ./setup.sh build   only installs and builds
#   ./setup.sh package builds, then the Debian package hm_VERSION_ARCH.deb
#                      in the build folder (tools/packaging/); prints its
#                      path: apt install ./build/hm_*.deb
# Environment: BUILD_DIR (default ./build), JOBS (default: all cores).
set -euo pipefail
cd "$(dirname "$0")"
BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}

# Debian 12 packages: build, runtime, and the test oracles.
BUILD_PACKAGES=(g++ cmake ninja-build pkg-config ccache
  libtorch-dev libopenblas0-pthread libcapnp-dev capnproto libuv1-dev
  libcli11-dev libgtest-dev libssl-dev libspdlog-dev nlohmann-json3-dev zlib1g-dev
  dataset-fashion-mnist)
# zsh, fish and groff: the docs tests check the completions and man pages;
# python3-prometheus-client parses --metrics in tests/e2e/metrics_test.sh.
TEST_PACKAGES=(python3-numpy python3-torch python3-prometheus-client zsh fish groff iproute2)
FUZZ_PACKAGES=(clang-14 libclang-rt-14-dev)
# dpkg-dev: dpkg-shlibdeps, which turns the binaries' shared libraries into
# the package's Depends (./setup.sh package and tests/e2e/package_test.sh).
PACKAGE_PACKAGES=(dpkg-dev)

install_missing() {
  local missing=()
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
      missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "setup: installing ${missing[*]}" >&2
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >&2
}

build() {
  install_missing "${BUILD_PACKAGES[@]}"
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" >&2
  cmake --build "$BUILD_DIR" -j "$JOBS" >&2
}

# run_timed LABEL CMD...: runs CMD, prints how long it took and records it
# in STAGE_TIMES for print_stage_times (the CI log's closing table).
STAGE_TIMES=${STAGE_TIMES:-$(mktemp "${TMPDIR:-/tmp}/hm-stage-times.XXXXXX")}
run_timed() {
  local label=$1 start=$SECONDS rc=0
  shift
  "$@" || rc=$?
  local took=$((SECONDS - start))
  echo "setup: $label took $took s" >&2
  printf '%s\t%s\t%s\n' "$label" "$took" "$([ $rc -eq 0 ] && echo ok || echo "FAILED ($rc)")" >>"$STAGE_TIMES"
  return $rc
}

# print_stage_times: the stages run so far, their seconds and outcome, and the total.
print_stage_times() {
  [ -s "$STAGE_TIMES" ] || return 0
  awk -F'\t' '{ printf "  %-22s %6d s  %s\n", $1, $2, $3; total += $2 }
    END { printf "  %-22s %6d s  (%d min)\n", "total", total, total / 60 }' "$STAGE_TIMES" >&2
}

# ctest_in DIR ARGS...: runs DIR's tests (ARGS: label filters).
ctest_in() {
  local dir=$1
  shift
  (cd "$dir" && ctest -j "$JOBS" --output-on-failure --timeout 600 "$@")
}

run_tests() {
  ctest_in "$BUILD_DIR"
}

# make_package: the Debian package of the build in BUILD_DIR (CPack, settings
# in tools/packaging/packaging.cmake); prints the .deb's path on stdout.
make_package() {
  install_missing "${PACKAGE_PACKAGES[@]}"
  local log deb
  log=$(cd "$BUILD_DIR" && cpack -G DEB)
  echo "$log" >&2
  deb=$(sed -n 's/^CPack: - package: \(.*\) generated\.$/\1/p' <<<"$log")
  [ -n "$deb" ] || { echo "setup: cpack named no package" >&2; return 1; }
  echo "$deb"
}

# sanitizer_stage PRESET: configures, builds and tests CMakePresets.json's
# PRESET (asan or tsan, HM_SANITIZE) in build-PRESET. The labels
# (tests/CMakeLists.txt) choose the tests: both skip `slow` ones (only the
# normal build runs those), ASan skips `docs`, `static` and `fuzz_replay` (the fuzz
# stage replays every corpus under ASan), TSan runs only `threaded` ones and
# builds only what they need. build-asan also holds the torch fuzz targets.
sanitizer_stage() {
  local preset=$1 target=all labels=(-LE 'slow|docs|static|fuzz_replay')
  install_missing "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}" "${FUZZ_PACKAGES[@]}"
  if [ "$preset" = tsan ]; then
    target=hm_threaded_tests
    labels=(-L threaded -LE slow)
  fi
  cmake --preset "$preset" >&2
  run_timed "$preset build" cmake --build "build-$preset" -j "$JOBS" --target "$target" >&2
  run_timed "$preset tests" ctest_in "build-$preset" "${labels[@]}"
}

# fuzz_stage SECONDS: builds the libFuzzer targets (tests/fuzz) and runs each
# for SECONDS. clang in build-fuzz for all but the torch target, which clang
# cannot compile (torch's headers in C++20): the gcc ASan build (build-asan,
# comparison tracing on) builds that one.
fuzz_stage() {
  install_missing "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}" "${FUZZ_PACKAGES[@]}"
  CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz -G Ninja -DHM_FUZZ=ON \
    -DHM_BUILD_TESTS=OFF >&2
  [ -f build-asan/CMakeCache.txt ] || cmake --preset asan >&2
  run_timed "fuzz build" cmake --build build-fuzz -j "$JOBS" --target hm_fuzzers >&2
  run_timed "fuzz build (torch)" cmake --build build-asan -j "$JOBS" --target checkpoint_fuzz >&2
  run_timed "fuzz" tests/fuzz/run_fuzzers.sh "$1"
}

case "${1:-}" in
  build)
    build
    ;;
  test)
    trap print_stage_times EXIT
    install_missing "${TEST_PACKAGES[@]}" "${PACKAGE_PACKAGES[@]}"
    run_timed "build" build
    run_timed "tests" run_tests
    sanitizer_stage asan
    sanitizer_stage tsan
    fuzz_stage 30
    ;;
  asan | tsan)
    sanitizer_stage "$1"
    ;;
  fuzz)
    fuzz_stage "${2:-60}"
    ;;
  package)
    build
    run_timed "package" make_package
    ;;
  demo)
    build
    HM_BIN="$BUILD_DIR/tools" bash tools/demo.sh
    ;;
  *)
    echo "usage: $0 demo|test|asan|tsan|fuzz [SECONDS]|build|package" >&2
    exit 2
    ;;
esac
