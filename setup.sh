#!/usr/bin/env bash
# hm's one setup script. On a fresh Debian 12 machine (as root, or a user
# with sudo) it installs what is missing, builds, and then:
#   ./setup.sh demo    runs the main job: a local swarm on 127.0.0.1
#   ./setup.sh test    runs every test (what CI runs)
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

case "${1:-}" in
  build)
    build
    ;;
  test)
    install_missing "${TEST_PACKAGES[@]}"
    build
    (cd "$BUILD_DIR" && ctest -j "$JOBS" --output-on-failure --timeout 600)
    ;;
  demo)
    build
    HM_BIN="$BUILD_DIR/tools" bash tools/demo.sh
    ;;
  *)
    echo "usage: $0 demo|test|build" >&2
    exit 2
    ;;
esac
