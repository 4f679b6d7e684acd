#!/usr/bin/env bash
# hm's one setup script. On a fresh Debian 12 machine (as root, or a user
# with sudo) it installs what is missing, builds, and then:
#   ./setup.sh demo    runs the main job: a local swarm on 127.0.0.1
#   ./setup.sh test    runs every test (what CI runs): the normal build, then
#                      the ASan+UBSan build and the TSan build, each with ctest,
#                      then every fuzz target for 30 s
#   ./setup.sh asan    only the AddressSanitizer+UBSan stage (build-asan)
#   ./setup.sh tsan    only the ThreadSanitizer stage (build-tsan)
#   ./setup.sh fuzz [SECONDS]  only the fuzz stage: every libFuzzer target
#                      for SECONDS (default 60; CI runs 30)
#   ./setup.sh build   only installs and builds
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
TEST_PACKAGES=(python3-numpy python3-torch)
FUZZ_PACKAGES=(clang-14 libclang-rt-14-dev)

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

# run_timed LABEL CMD...: runs CMD and prints how long it took, for the CI log.
run_timed() {
  local label=$1 start=$SECONDS
  shift
  "$@"
  echo "setup: $label took $((SECONDS - start)) s" >&2
}

run_tests() {
  (cd "$BUILD_DIR" && ctest -j "$JOBS" --output-on-failure --timeout 600)
}

# sanitizer_stage PRESET: configures, builds and tests CMakePresets.json's
# PRESET (asan or tsan, HM_SANITIZE) in build-PRESET. Tests labelled `slow`
# run only in the normal build (tests/CMakeLists.txt says which, and why).
sanitizer_stage() {
  local preset=$1
  install_missing "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
  cmake --preset "$preset" >&2
  run_timed "$preset build" cmake --build "build-$preset" -j "$JOBS" >&2
  run_timed "$preset tests" \
    bash -c "cd build-$preset && ctest -j $JOBS --output-on-failure --timeout 600 -LE slow"
}

# fuzz_stage SECONDS: builds the libFuzzer targets (tests/fuzz) and runs each
# for SECONDS. clang in build-fuzz for all but the torch target, which clang
# cannot compile (torch's headers in C++20): gcc with comparison tracing in
# build-fuzzgcc builds that one.
fuzz_stage() {
  install_missing "${BUILD_PACKAGES[@]}" "${FUZZ_PACKAGES[@]}"
  CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz -G Ninja -DHM_FUZZ=ON \
    -DHM_BUILD_TESTS=OFF >&2
  cmake -S . -B build-fuzzgcc -G Ninja -DHM_FUZZ=ON -DHM_BUILD_TESTS=OFF >&2
  run_timed "fuzz build" cmake --build build-fuzz -j "$JOBS" --target hm_fuzzers >&2
  run_timed "fuzz build (gcc)" cmake --build build-fuzzgcc -j "$JOBS" --target checkpoint_fuzz >&2
  run_timed "fuzz" tests/fuzz/run_fuzzers.sh "$1"
}

case "${1:-}" in
  build)
    build
    ;;
  test)
    install_missing "${TEST_PACKAGES[@]}"
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
  demo)
    build
    HM_BIN="$BUILD_DIR/tools" bash tools/demo.sh
    ;;
  *)
    echo "usage: $0 demo|test|asan|tsan|fuzz [SECONDS]|build" >&2
    exit 2
    ;;
esac
