#!/bin/bash
# shellcheck source=tests/integration/lib.sh
# Packaging (cmake/packaging.cmake): cpack builds the .deb from this build
# directory; its control data (Package, Version, Depends from dpkg-shlibdeps
# plus fuse3, conffiles, maintainer scripts) and its files are checked; it is
# installed with dpkg into a scratch root (--root: its own admin directory,
# --force-depends as the scratch root has no libraries registered,
# --force-script-chrootless as it has no /bin/sh; the scripts do nothing
# outside the real root), and the installed quorumfs --version, quorumctl
# --help, man pages (rendered without warnings, listing every option and
# command the binaries show) and unit (systemd-analyze verify in the scratch
# root) are used for real.  Removal keeps the conffile, purge removes it.
# `cmake --install --prefix` elsewhere rewrites the unit's paths.
# Needs no FUSE.  Environment: QFS_BUILD_DIR (the build directory).
. "$(dirname "$0")/lib.sh"

BUILD=${QFS_BUILD_DIR:-$QFS_SRC_DIR/build}
[ -f "$BUILD/CPackConfig.cmake" ] || die "no CPackConfig.cmake in $BUILD (set QFS_BUILD_DIR)"
for tool in cpack dpkg dpkg-deb man groff; do
	command -v "$tool" >/dev/null || die "$tool is missing (scripts/deps.sh installs it)"
done
T=$(mktemp -d /tmp/qfs-it-t19_package.XXXXXX) || exit 1
trap 'rm -rf --one-file-system "$T"' EXIT
trap 'exit 143' TERM

version=$("$QFS_BIN" --version | awk '{ print $2 }')
[ -n "$version" ] || die "quorumfs --version printed no version"

# --- cpack ---
out=$(cd "$BUILD" && timeout -k 10 240 cpack -G DEB --config "$BUILD/CPackConfig.cmake" -B "$T/pkg" 2>&1)
rc=$?
[ $rc -eq 0 ] || die "cpack -G DEB exited $rc: $out"
debs=("$T"/pkg/quorumfs_*.deb)
[ ${#debs[@]} -eq 1 ] && [ -f "${debs[0]}" ] || die "cpack made no single quorumfs_*.deb: $(ls "$T/pkg")"
deb=${debs[0]}
arch=$(dpkg --print-architecture)
check_eq "$(basename "$deb")" "quorumfs_${version}_${arch}.deb" "package file name"

# --- control data: dpkg-deb -I ---
field() { dpkg-deb -f "$deb" "$1"; }
check_eq "$(field Package)" quorumfs "Package"
check_eq "$(field Version)" "$version" "Version (from project())"
check_eq "$(field Architecture)" "$arch" "Architecture"
[ -n "$(field Maintainer)" ] || fail "no Maintainer"
[ -n "$(field Description)" ] || fail "no Description"
depends=$(field Depends)
qfs_log "Depends: $depends"
# dpkg-shlibdeps found the libraries the binaries link (libc6, libfuse3-3,
# liblmdb0, libnng1, ...), and fuse3 is there for fusermount3.
for dep in fuse3 libc6 libfuse3-3 liblmdb0 libnng1; do
	[[ ", $depends," == *", $dep"[\ ,]* ]] || fail "Depends lacks $dep: $depends"
done
info=$(dpkg-deb -I "$deb")
for member in conffiles postinst prerm postrm; do
	[[ "$info" == *" $member"* ]] || fail "dpkg-deb -I lists no $member: $info"
done
dpkg-deb -e "$deb" "$T/control"
check_eq "$(cat "$T/control/conffiles" 2>&1)" /etc/quorumfs/quorumfs.conf "conffiles"
for s in postinst prerm postrm; do
	[ -x "$T/control/$s" ] || fail "$s is not executable"
	sh -n "$T/control/$s" || fail "$s: shell syntax error"
done

# --- files: dpkg-deb -c ---
dpkg-deb -c "$deb" | awk '{ print $6 }' | sed 's|^\./|/|; s|/$||' | sort >"$T/files"
for f in /usr/bin/quorumfs /usr/bin/quorumctl /usr/lib/systemd/system/quorumfs.service \
	/etc/quorumfs/quorumfs.conf /usr/share/man/man8/quorumfs.8.gz /usr/share/man/man8/quorumctl.8.gz \
	/usr/share/doc/quorumfs/README.md /usr/share/doc/quorumfs/usage.md \
	/usr/share/doc/quorumfs/special-entries.md; do
	grep -qxF "$f" "$T/files" || fail "the package lacks $f"
done
leaks=$(grep -vE '^/(usr|etc)(/|$)|^$' "$T/files" | grep -v '^/$')
[ -z "$leaks" ] || fail "files outside /usr and /etc: $leaks"
grep -E '/usr/local|_CPack_Packages|^/tmp' "$T/files" && fail "staging or /usr/local paths in the package"
modes=$(dpkg-deb -c "$deb" | awk '$6 ~ /usr\/bin\/quorum/ { print $1 }' | sort -u)
check_eq "$modes" "-rwxr-xr-x" "mode of the binaries"

# --- dpkg -i into a scratch root ---
R=$T/root
mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates"
: >"$R/var/lib/dpkg/status"
: >"$R/var/lib/dpkg/available"
# --path-include: a host whose dpkg.cfg.d drops docs and man pages (minimal
# container images) must not drop the files this test checks.
dpkg_r() {
	timeout -k 5 60 dpkg --root="$R" --force-script-chrootless --force-depends \
		--path-include='/usr/share/man/*' --path-include='/usr/share/doc/quorumfs/*' "$@"
}
out=$(dpkg_r -i "$deb" 2>&1) || fail "dpkg --root -i failed: $out"
check_eq "$(dpkg-query --root="$R" -W -f='${Status} ${Version}' quorumfs 2>&1)" \
	"install ok installed $version" "dpkg-query of the scratch root"
[ -x "$R/usr/bin/quorumfs" ] || die "installed $R/usr/bin/quorumfs missing"

out=$("$R/usr/bin/quorumfs" --version 2>&1)
check_eq "$out" "quorumfs $version" "installed quorumfs --version"
help=$("$R/usr/bin/quorumfs" --help 2>&1) || fail "installed quorumfs --help failed: $help"
ctl_help=$("$R/usr/bin/quorumctl" --help 2>&1) || fail "installed quorumctl --help failed: $ctl_help"
[[ "$ctl_help" == *usage:\ quorumctl* ]] || fail "installed quorumctl --help: $ctl_help"
out=$("$R/usr/bin/quorumctl" --data "$T/nothing" status 2>&1)
check_eq "$?" 3 "installed quorumctl status without a daemon (exit 3)"
cmp -s "$R/etc/quorumfs/quorumfs.conf" "$QFS_SRC_DIR/systemd/quorumfs.conf" ||
	fail "installed quorumfs.conf differs from systemd/quorumfs.conf"

# The installed unit names the installed paths.
unit=$R/usr/lib/systemd/system/quorumfs.service
grep -q '^ExecStart=/usr/bin/quorumfs -f --config /etc/quorumfs/quorumfs.conf ' "$unit" ||
	fail "installed unit's ExecStart: $(grep ExecStart= "$unit")"
# systemd-analyze verify --root resolves ExecStart= and the units the
# service depends on (sysinit.target, ...) inside the scratch root: it gets
# the host's systemd units beside ours (cp -n: ours stay), and the man pages
# of Documentation= are looked up in the scratch root's.
if command -v systemd-analyze >/dev/null && [ -f /usr/lib/systemd/system/sysinit.target ]; then
	cp -an /usr/lib/systemd/system/. "$R/usr/lib/systemd/system/"
	out=$(MANPATH=$R/usr/share/man timeout 60 systemd-analyze verify --root="$R" "$unit" 2>&1)
	rc=$?
	[ $rc -eq 0 ] && [ -z "$out" ] || fail "systemd-analyze verify --root of the installed unit (rc $rc): $out"
else
	fail "systemd-analyze or the systemd units are missing (scripts/deps.sh installs the systemd package)"
fi

# --- the man pages: render cleanly, and document what the binaries offer ---
for page in quorumfs quorumctl; do
	gz=$R/usr/share/man/man8/$page.8.gz
	warn=$(MANWIDTH=100 man --warnings -l "$gz" 2>&1 >"$T/$page.txt")
	rc=$?
	check_eq "$rc" 0 "man -l $page.8.gz exit code"
	[ -z "$warn" ] || fail "man --warnings -l $page.8.gz: $warn"
	grep -q "^NAME" "$T/$page.txt" || fail "$page.8 rendered without a NAME section"
	warn=$(groff -man -Tutf8 -ww -z "$QFS_SRC_DIR/man/$page.8" 2>&1)
	[ -z "$warn" ] || fail "groff -ww man/$page.8: $warn"
	for sec in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" EXAMPLES "SEE ALSO"; do
		grep -q "^$sec" "$T/$page.txt" || fail "$page.8 has no $sec section"
	done
done
for sec in "SPECIAL ENTRIES" FILES ENVIRONMENT SIGNALS; do
	grep -q "^$sec" "$T/quorumfs.txt" || fail "quorumfs.8 has no $sec section"
done
# Every option quorumfs --help shows, as a tagged paragraph of OPTIONS.
for opt in $(grep -oE '^ +(-[a-zA-Z], )?--[a-z][a-z-]*' <<<"$help" | grep -oE -- '--[a-z-]+'); do
	grep -qE "^ {7}(-[a-zA-Z], |-[a-zA-Z] [^ ]*, )?$opt([ ,]|$)" "$T/quorumfs.txt" || fail "quorumfs.8 does not document $opt (in --help)"
done
# Every command quorumctl --help shows.
for cmd in $(sed -n '/^commands:/,/^$/p' <<<"$ctl_help" | awk 'NR > 1 && /^  [a-z]/ { print $1 }' | sort -u); do
	grep -qE "^ {7}$cmd( |$)" "$T/quorumctl.txt" || fail "quorumctl.8 does not document '$cmd' (in --help)"
done

# --- remove keeps the conffile, purge removes it ---
out=$(dpkg_r -r quorumfs 2>&1) || fail "dpkg --root -r failed: $out"
[ -e "$R/usr/bin/quorumfs" ] && fail "dpkg -r left /usr/bin/quorumfs"
[ -f "$R/etc/quorumfs/quorumfs.conf" ] || fail "dpkg -r removed the conffile /etc/quorumfs/quorumfs.conf"
out=$(dpkg_r --purge quorumfs 2>&1) || fail "dpkg --root --purge failed: $out"
[ -e "$R/etc/quorumfs/quorumfs.conf" ] && fail "dpkg --purge left /etc/quorumfs/quorumfs.conf"

# --- cmake --install under another prefix: the unit follows it ---
out=$(timeout -k 5 120 cmake --install "$BUILD" --prefix "$T/local" 2>&1) || fail "cmake --install --prefix failed: $out"
grep -q "^ExecStart=$T/local/bin/quorumfs -f --config $T/local/etc/quorumfs/quorumfs.conf " \
	"$T/local/lib/systemd/system/quorumfs.service" ||
	fail "unit under --prefix $T/local: $(grep ExecStart= "$T/local/lib/systemd/system/quorumfs.service" 2>&1)"
for f in bin/quorumfs bin/quorumctl etc/quorumfs/quorumfs.conf share/man/man8/quorumfs.8.gz share/doc/quorumfs/usage.md; do
	[ -e "$T/local/$f" ] || fail "cmake --install --prefix: no $f"
done
qfs_done
