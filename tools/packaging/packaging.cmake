# The Debian package (./setup.sh package, or cpack -G DEB in the build
# folder): hm_VERSION_ARCH.deb with the five binaries, their man pages and
# completions (installed by tools/CMakeLists.txt and the top-level
# CMakeLists.txt), plus the systemd units and example configs of this
# folder. tests/e2e/package_test.sh checks what it holds and installs it.

# The units and configs go to absolute paths (/lib/systemd/system, /etc/hm)
# that only a package should write: they belong to the component `service`,
# which `cmake --install` leaves out (EXCLUDE_FROM_ALL) and CPack asks for.
install(FILES ${CMAKE_CURRENT_LIST_DIR}/hm-dht.service ${CMAKE_CURRENT_LIST_DIR}/hm-serve@.service
        DESTINATION /lib/systemd/system COMPONENT service EXCLUDE_FROM_ALL)
install(FILES ${CMAKE_CURRENT_LIST_DIR}/dht.toml ${CMAKE_CURRENT_LIST_DIR}/serve-example.toml
        DESTINATION /etc/hm COMPONENT service EXCLUDE_FROM_ALL)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME hm)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_CONTACT "hm developers <hm@example.org>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "decentralized mixture-of-experts as command-line tools")
# The long description, under the summary line.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "Learning@home's decentralized mixture of experts in C++: hm-serve hosts
experts and trains them on every backward call, hm-dht runs the Kademlia
DHT in which servers declare their experts, hm-moe routes each input to the
best live experts and trains a model through them, hm-call calls one expert
from a shell, and hm-bench measures all of it. Includes systemd units for a
DHT node (hm-dht.service) and expert servers (hm-serve@.service).")
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# hm_0.1.0_amd64.deb
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)

# Only the tools, their docs and the service files; nothing else installs
# today, but a future install() without a component joins "Unspecified"
# and shows in tests/e2e/package_test.sh's file list check.
set(CPACK_COMPONENTS_ALL Unspecified service)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_GROUPING ALL_COMPONENTS_IN_ONE)

# Depends: the Debian packages of the shared libraries the binaries link
# (dpkg-shlibdeps, from dpkg-dev), plus OpenBLAS: LibTorch reaches BLAS
# through libblas.so.3, which Debian's alternatives point at whichever BLAS
# is installed, and with the reference BLAS it runs ~25x slower.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS libopenblas0-pthread)
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "python3-numpy, bash-completion")

# Stripped binaries (the build's -g1 line tables are most of their size:
# hm-serve goes from 56 MB to 1.7 MB),
# gzip because it is fast on CI's two cores, and man pages gzipped as
# Debian's policy wants (gzip_man_pages.cmake runs in the staging folder).
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_COMPRESSION_TYPE gzip)
set(CPACK_PRE_BUILD_SCRIPTS ${CMAKE_CURRENT_LIST_DIR}/gzip_man_pages.cmake)
# The configs are conffiles: an upgrade keeps the admin's edits (dpkg asks),
# and a removal without purge keeps the files. CPack does not mark files
# under /etc by itself.
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${CMAKE_CURRENT_LIST_DIR}/conffiles)
# Root-owned files with Debian's modes (0644 files, 0755 dirs and binaries).
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

include(CPack)
