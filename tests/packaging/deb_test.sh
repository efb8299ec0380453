#!/usr/bin/env bash
# The Debian package: scripts/build-deb.sh BUILD_DIR BUILD_DIR/deb (the vm test vm_installed
# installs this .deb), then its control fields, contents and maintainer scripts. What dpkg does
# with it (install, the group, remove, purge) is checked in the VM (tests/vm/installed.sh), never
# on the host.
#
# usage: deb_test.sh SOURCE_DIR BUILD_DIR
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=${1:?usage: deb_test.sh SOURCE_DIR BUILD_DIR}
BUILD=${2:?usage: deb_test.sh SOURCE_DIR BUILD_DIR}
fails=0
ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; fails=$((fails + 1)); }
check() { # check <description> <command...>
	local d=$1
	shift
	if "$@"; then ok "$d"; else not_ok "$d"; fi
}
if ! command -v dpkg-shlibdeps >/dev/null; then
	echo "SKIP deb: dpkg-shlibdeps not installed (apt-get install dpkg-dev)"
	exit 77
fi

ARCH=$(dpkg --print-architecture)
rm -f "$BUILD"/deb/spsec-linux_*.deb
out=$("$SRC/scripts/build-deb.sh" "$BUILD" "$BUILD/deb" 2>&1)
rc=$?
echo "$out" | sed 's/^/# /'
deb=$(tail -1 <<<"$out")
check "build-deb.sh succeeds (rc $rc)" test "$rc" = 0
check "it made $deb" test -f "$deb"
[ -f "$deb" ] || { echo "# $fails failed" && exit 1; }
version=$(sed -n 's/^project(spsec-linux VERSION \([0-9.]*\).*/\1/p' "$SRC/CMakeLists.txt")
check "named spsec-linux_${version}_$ARCH.deb" test "$(basename "$deb")" = "spsec-linux_${version}_$ARCH.deb"
field() { dpkg-deb -f "$deb" "$1"; }
check "Package: spsec-linux" test "$(field Package)" = spsec-linux
check "Architecture: $ARCH" test "$(field Architecture)" = "$ARCH"
check "Version: $version" test "$(field Version)" = "$version"
for d in libbpf1 libssl3 libyaml-cpp0.7 libstdc++6 libc6 passwd iproute2; do
	check "Depends on $d" grep -qxF "$d" <<<"$(field Depends | tr ',' '\n' | sed 's/^ *//; s/ .*//')"
done

# Contents: exactly the install manifest under /usr, owned by root; nothing in /etc or /var, so
# dpkg has no conffile and never touches /etc/spsec/*.yaml or a key store.
expected=$(grep -v '^#' "$HERE/install-manifest.txt" | awk '{print $1, "usr/" $2}')
got=$(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ {
	m = 0; p = substr($1, 2)
	for (i = 0; i < 9; i++) { m = m * 2 + (substr(p, i + 1, 1) != "-") }
	printf "%o %s\n", m, substr($6, 3) }' | sort -k2)
if [ "$got" = "$expected" ]; then
	ok "contents: the install manifest under /usr, with its modes"
else
	not_ok "contents differ from the install manifest under /usr"
	diff <(echo "$expected") <(echo "$got") | sed 's/^/#   /'
fi
check "contents: every entry root/root" test -z "$(dpkg-deb -c "$deb" | awk '$2 != "root/root"')"
check "contents: no directory outside /usr" \
	test -z "$(dpkg-deb -c "$deb" | awk '{print $6}' | grep -vE '^\./$|^\./usr/')"
check "contents: every directory 0755" test -z "$(dpkg-deb -c "$deb" | awk '$1 ~ /^d/ && $1 != "drwxr-xr-x"')"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
dpkg-deb -e "$deb" "$T/ctl"
check "no conffiles" test ! -e "$T/ctl/conffiles"
for s in postinst prerm postrm; do
	check "$s: 0755 and valid sh" bash -c "[ \"\$(stat -c %a '$T/ctl/$s')\" = 755 ] && sh -n '$T/ctl/$s'"
	check "$s: the one in packaging/deb" cmp -s "$T/ctl/$s" "$SRC/packaging/deb/$s"
done
# Enables nothing: no maintainer script enables, starts or unmasks a unit (try-restart restarts
# only running instances), or calls deb-systemd-helper.
check "enables and starts nothing" bash -c "! cat '$T'/ctl/p* | grep -v '^[[:space:]]*#' |
	grep -E 'systemctl( +-[-a-z]+)* +(enable|start|restart|reenable|unmask|preset)|deb-systemd'"
dpkg-deb -x "$deb" "$T/root"
check "the unit runs /usr/sbin/spsecd" \
	grep -qx 'ExecStart=/usr/sbin/spsecd --config /etc/spsec/%i.yaml' "$T/root/usr/lib/systemd/system/spsecd@.service"
check "binaries are stripped" bash -c "file '$T/root/usr/sbin/spsecd' '$T/root/usr/bin/spsecctl' | grep -c ', stripped' | grep -qx 2"

echo "# $fails failed"
[ "$fails" = 0 ]
