#!/usr/bin/env bash
# `cmake --install` of a build tree: into a DESTDIR with prefix /usr (as the package does) and into
# a plain prefix. Checks the installed files and their modes against
# install-manifest.txt, that the unit's ExecStart= and Documentation= and spsec-setup's own paths
# name the install-time prefix (never the DESTDIR), and that the installed spsec-setup finds its
# spsecd, unit and dissector there (--dry-run, wireshark-plugin --dir) and refuses --binaries.
#
# usage: install_test.sh BUILD_DIR   (spsecd and spsecctl built)
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:?usage: install_test.sh BUILD_DIR}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; fails=$((fails + 1)); }
check() { # check <description> <command...>
	local d=$1
	shift
	if "$@"; then ok "$d"; else not_ok "$d"; fi
}

expected=$(grep -v '^#' "$HERE/install-manifest.txt")
manifest() { # manifest <root>: "mode path" of every file under root, sorted like the manifest
	(cd "$1" && find . -type f -printf '%m %P\n' | sort -k2)
}

# 1. DESTDIR + prefix /usr, as the package. Under umask 077: files get their modes all the same
# (directories follow the umask, as with install -d: build-deb.sh sets 022).
(umask 077 && DESTDIR=$T/dest cmake --install "$BUILD" --prefix /usr >"$T/install.log" 2>&1) ||
	{ cat "$T/install.log"; not_ok "cmake --install with DESTDIR"; exit 1; }
check "DESTDIR install: nothing outside DESTDIR/usr" test "$(ls -A "$T/dest")" = usr
got=$(manifest "$T/dest/usr")
if [ "$got" = "$expected" ]; then
	ok "DESTDIR install: files and modes are install-manifest.txt's"
else
	not_ok "DESTDIR install: files and modes differ from install-manifest.txt"
	diff <(echo "$expected") <(echo "$got") | sed 's/^/#   /'
fi
unit=$T/dest/usr/lib/systemd/system/spsecd@.service
check "unit: ExecStart= names /usr/sbin/spsecd" \
	grep -qx 'ExecStart=/usr/sbin/spsecd --config /etc/spsec/%i.yaml' "$unit"
check "unit: Documentation= names /usr/share/doc/spsec-linux/operations.md" \
	grep -qx 'Documentation=file:/usr/share/doc/spsec-linux/operations.md' "$unit"
check "unit: no DESTDIR or /usr/local in it" bash -c "! grep -qE '$T|/usr/local' '$unit'"
check "unit: the checkout's unit otherwise (only the two lines differ)" test \
	"$(diff "$HERE/../../config/spsecd.service" "$unit" | grep -c '^[<>]')" = 4
setup=$T/dest/usr/sbin/spsec-setup
check "spsec-setup: knows its install paths" grep -qx 'INSTALLED_SBINDIR="/usr/sbin" INSTALLED_BINDIR="/usr/bin" INSTALLED_DOCDIR="/usr/share/doc/spsec-linux" INSTALLED_DATADIR="/usr/share/spsec-linux" INSTALLED_UNITDIR="/usr/lib/systemd/system"' "$setup"
check "spsecd: runs from the install (--help)" "$T/dest/usr/sbin/spsecd" --help >/dev/null
check "spsecctl: runs from the install (--help)" "$T/dest/usr/bin/spsecctl" --help >/dev/null

# 2. A plain prefix, no DESTDIR: the installed spsec-setup at work.
P=$T/prefix
(umask 022 && cmake --install "$BUILD" --prefix "$P" >"$T/install2.log" 2>&1) ||
	{ cat "$T/install2.log"; not_ok "cmake --install --prefix"; exit 1; }
got=$(manifest "$P")
check "prefix install: files and modes are install-manifest.txt's" test "$got" = "$expected"
bad_dirs=$(find "$P" -type d ! -perm 0755 -printf '%m %P; ')
check "prefix install: every directory 0755 under umask 022 ($bad_dirs)" test -z "$bad_dirs"
check "prefix install: the unit runs $P/sbin/spsecd" \
	grep -qx "ExecStart=$P/sbin/spsecd --config /etc/spsec/%i.yaml" "$P/lib/systemd/system/spsecd@.service"
out=$("$P/sbin/spsec-setup" --interface vcan7 --vcan --no-enable --dry-run 2>&1)
rc=$?
check "installed spsec-setup --dry-run succeeds (rc $rc)" test "$rc" = 0
# Not a prefix systemd searches: the unit is linked into /etc/systemd/system.
check "installed spsec-setup links its unit from $P" \
	grep -qxF "+ ln -sf $P/lib/systemd/system/spsecd@.service /etc/systemd/system/spsecd@.service" <<<"$out"
check "installed spsec-setup copies no binaries" bash -c "! grep -q 'install -m 0755' <<<'$out'"
out=$("$P/sbin/spsec-setup" --interface vcan7 --vcan --binaries "$BUILD" --dry-run 2>&1)
rc=$?
check "installed spsec-setup refuses --binaries (rc $rc: 2)" test "$rc" = 2
check "... naming its own spsecd" grep -qF "uses $P/sbin/spsecd" <<<"$out"
"$P/sbin/spsec-setup" wireshark-plugin --dir "$T/ws" >/dev/null 2>&1
check "installed spsec-setup wireshark-plugin installs its own dissector" \
	cmp -s "$P/share/spsec-linux/spsec.lua" "$T/ws/spsec.lua"
mv "$P/sbin/spsecd" "$P/sbin/spsecd.moved"
out=$("$P/sbin/spsec-setup" --interface vcan7 --vcan --no-enable --dry-run 2>&1)
rc=$?
check "installed spsec-setup without its spsecd fails (rc $rc: 1), naming it" \
	bash -c "[ $rc = 1 ] && grep -qF '$P/sbin/spsecd is missing' <<<'$out'"

echo "# $fails failed"
[ "$fails" = 0 ]
