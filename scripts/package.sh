#!/usr/bin/env bash
# Builds the Debian package of quorumfs: BUILD_DIR/quorumfs_VERSION_ARCH.deb
# (BUILD_DIR default build/).  Installs what is missing first (scripts/deps.sh:
# dpkg-dev for the Depends line, gzip for the man pages).  Extra args go to
# cmake.  Install the result with `apt install ./build/quorumfs_*.deb`.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/build}
bash "$top/scripts/deps.sh"
BUILD_DIR=$build bash "$top/scripts/build.sh" "$@"
cd "$build"
cpack -G DEB -B "$build" >/dev/null
rm -rf "$build/_CPack_Packages" # the staging tree; the .deb stays
deb=$(ls -t "$build"/quorumfs_*.deb | head -n 1)
echo "built $deb"
dpkg-deb -I "$deb" | sed -n 's/^ \(Package\|Version\|Architecture\|Depends\):/  \1:/p'
