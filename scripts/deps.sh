#!/usr/bin/env bash
# Installs what quorumfs needs to build and test, from Debian's packages.
# Idempotent; `apt-get update` runs once per call, only when something is missing.
set -euo pipefail
pkgs=(build-essential cmake pkg-config libfuse3-dev fuse3 libnng-dev liblmdb-dev libcmocka-dev
      lmdb-utils libsodium-dev libjansson-dev rsync attr vim-tiny psmisc procps util-linux python3 iproute2 tar coreutils curl
      busybox-static)
# Peer TLS (c18_tls): openssl makes the test CA and certificates.
pkgs+=(openssl)
# The service and the package (t18_systemd, t19_package, scripts/package.sh):
# systemd-analyze, dpkg-shlibdeps for the .deb's Depends, man pages.
pkgs+=(systemd dpkg-dev groff-base man-db gzip)
# Fault injection (tests/fault): DROP rules inside network namespaces
# (iptables-nft; nftables for `nft list ruleset` when debugging).
pkgs+=(iptables nftables gdb)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
