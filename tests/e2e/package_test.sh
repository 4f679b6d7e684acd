#!/usr/bin/env bash
# The Debian package (tools/packaging/): cpack builds it from this build,
# dpkg-deb shows exactly the files, conffiles and Depends promised, and the
# example configs start the real binaries. As root, with no hm package known
# to dpkg, apt then installs it for real: the installed binaries run, their
# configs in /etc/hm start them, and systemd-analyze accepts the units; the
# package is purged at exit, whatever happened. Labelled `slow` in
# tests/CMakeLists.txt, so only the normal build runs it: a sanitizer
# build's package is not one anybody installs.
source "$(dirname "$0")/lib.sh"
BUILD=$(cd "$HM_BIN/.." && pwd)
SOURCE=$(cd "$HM_TESTS/.." && pwd)
TOOLS=(hm-serve hm-dht hm-moe hm-call hm-bench)
[ -f "$BUILD/CPackConfig.cmake" ] || fail "no $BUILD/CPackConfig.cmake (tools/packaging/packaging.cmake)"

# Into $WORK, so that this test never shares a staging folder with
# `./setup.sh package` (which packages into the build folder).
timeout 240 cpack --config "$BUILD/CPackConfig.cmake" -G DEB -B "$WORK/pkg" \
  > "$WORK/cpack.log" 2>&1 || { cat "$WORK/cpack.log" >&2; fail "cpack failed (log above)"; }
debs=("$WORK"/pkg/hm_*.deb)
[ ${#debs[@]} -eq 1 ] && [ -f "${debs[0]}" ] || fail "cpack made no single hm_*.deb: ${debs[*]}"
deb=${debs[0]}
version=$(dpkg-deb -f "$deb" Version)
[[ "$(basename "$deb")" == "hm_${version}_$(dpkg --print-architecture).deb" ]] ||
  fail "package file is $(basename "$deb"), expected hm_${version}_ARCH.deb"

# Exactly these files: an extra one (a test binary, a static library) fails.
expected=(./lib/systemd/system/hm-dht.service ./lib/systemd/system/hm-serve@.service
  ./etc/hm/dht.toml ./etc/hm/serve-example.toml ./usr/share/man/man7/hm.7.gz)
for tool in "${TOOLS[@]}"; do
  expected+=("./usr/bin/$tool" "./usr/share/man/man1/$tool.1.gz"
    "./usr/share/bash-completion/completions/$tool"
    "./usr/share/zsh/vendor-completions/_$tool"
    "./usr/share/fish/vendor_completions.d/$tool.fish")
done
timeout 60 dpkg-deb -c "$deb" > "$WORK/contents" || fail "dpkg-deb -c $deb failed"
grep '^-' "$WORK/contents" | awk '{ print $NF }' | sort > "$WORK/files"
printf '%s\n' "${expected[@]}" | sort > "$WORK/expected"
diff "$WORK/expected" "$WORK/files" > "$WORK/files.diff" ||
  { cat "$WORK/files.diff" >&2; fail "package files differ from the expected list (< missing, > extra)"; }
awk '$2 != "root/root" { print; bad = 1 } END { exit bad }' "$WORK/contents" ||
  fail "files not owned by root/root (above)"
for tool in "${TOOLS[@]}"; do
  grep -qE "^-rwxr-xr-x .* \./usr/bin/$tool\$" "$WORK/contents" || fail "./usr/bin/$tool is not mode 0755"
done

# Conffiles: an upgrade keeps the admin's edits to the configs.
timeout 60 dpkg-deb -e "$deb" "$WORK/control" || fail "dpkg-deb -e $deb failed"
[ "$(sort "$WORK/control/conffiles" 2>/dev/null)" = $'/etc/hm/dht.toml\n/etc/hm/serve-example.toml' ] ||
  fail "conffiles is '$(cat "$WORK/control/conffiles" 2>/dev/null)', expected the two /etc/hm configs"

# Depends: Debian package names (dpkg-shlibdeps), never paths, with
# LibTorch's package and OpenBLAS (chosen through alternatives, not linked).
depends=$(dpkg-deb -f "$deb" Depends)
[[ "$depends" == */* ]] && fail "Depends holds a path: $depends"
[[ ", $depends," =~ ,\ libtorch[0-9.]+[\ ,] ]] || fail "Depends lacks libtorch's package: $depends"
[[ ", $depends," == *", libopenblas0-pthread,"* ]] || fail "Depends lacks libopenblas0-pthread: $depends"

# check_configs BIN DIR: hm-dht runs with DIR/dht.toml, and hm-serve with
# DIR/serve-example.toml joins it, hosts the config's experts and saves
# their checkpoints on SIGTERM. The command line wins over the file: local
# ports, a checkpoint folder (as the unit passes one) and small experts.
check_configs() {
  local bin=$1 dir=$2 uid
  local HM_BIN=$bin tag=${bin//\//_}  # start_dht runs $HM_BIN/hm-dht
  start_dht "dht$tag" 1 --config "$dir/dht.toml"
  local dht_pid=$DHT_PID
  rm -rf "$WORK/ck"
  start_process "serve$tag" 1 "$bin/hm-serve" --config "$dir/serve-example.toml" \
    --listen 127.0.0.1:0 --dht "${DHT_ADDRS[0]}" --checkpoint-dir "$WORK/ck" --hidden-dim 64
  stop_server "$PROCESS_PID"
  stop_dht "$dht_pid"
  for uid in ffn.0.0 ffn.0.1 ffn.0.2 ffn.0.3; do
    [ -s "$WORK/ck/$uid.pt" ] || fail "$bin/hm-serve with $dir/serve-example.toml saved no $uid checkpoint"
  done
}
check_configs "$HM_BIN" "$SOURCE/tools/packaging"

if [ "$(id -u)" -ne 0 ]; then
  echo "package_test: not root: skipping the real install" >&2
  exit 0
fi
if dpkg-query -W hm > /dev/null 2>&1; then
  echo "package_test: dpkg already knows a package hm: skipping the real install" >&2
  exit 0
fi
# Installing must add hm alone: every dependency is already here (the build
# needed them), and a test must not download anything. Unknown dependency
# names fail here.
apt_get=(timeout 180 env DEBIAN_FRONTEND=noninteractive apt-get -q -y -o DPkg::Lock::Timeout=60
  --no-install-recommends)
"${apt_get[@]}" -s install "$deb" > "$WORK/simulate" 2>&1 ||
  { cat "$WORK/simulate" >&2; fail "apt-get cannot install the package (above)"; }
others=$(awk '$1 == "Inst" && $2 != "hm" { print $2 }' "$WORK/simulate" | paste -sd' ')
if [ -n "$others" ]; then
  echo "package_test: installing would also install $others: skipping the real install" >&2
  exit 0
fi

purge_hm() {
  timeout 120 dpkg --purge hm > "$WORK/purge.log" 2>&1 ||
    { cat "$WORK/purge.log" >&2; echo "package_test: dpkg --purge hm failed" >&2; }
}
# Also on SIGINT/SIGTERM (after the running step: each is bounded); a
# SIGKILL, such as ctest's past its 300 s timeout, leaves hm installed.
trap 'purge_hm; cleanup' EXIT
trap 'exit 143' INT TERM HUP
# apt-get --no-download refuses a local .deb (apt's "Pathname to install is
# not absolute"): the simulation above made sure nothing is downloaded.
"${apt_get[@]}" install "$deb" > "$WORK/install.log" 2>&1 ||
  { cat "$WORK/install.log" >&2; fail "apt-get install $deb failed (log above)"; }

for tool in "${TOOLS[@]}"; do
  out=$(timeout 30 "/usr/bin/$tool" --version 2>&1) || fail "/usr/bin/$tool --version failed: $out"
  [ "$out" = "$tool $version" ] || fail "/usr/bin/$tool --version printed '$out', expected '$tool $version'"
done
check_configs /usr/bin /etc/hm

if command -v systemd-analyze > /dev/null; then
  # verify exits 0 on unknown keys too: any line naming our units fails.
  timeout 60 systemd-analyze verify /lib/systemd/system/hm-dht.service \
    /lib/systemd/system/hm-serve@.service > "$WORK/verify.log" 2>&1 ||
    { cat "$WORK/verify.log" >&2; fail "systemd-analyze verify failed (above)"; }
  if grep 'hm-' "$WORK/verify.log" >&2; then fail "systemd-analyze verify warns about the units (above)"; fi
else
  echo "package_test: no systemd-analyze: units not verified" >&2
fi
