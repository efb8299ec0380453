#!/usr/bin/env bash
# Builds the arm64 test VM's root filesystem from Debian's arm64 packages, without installing any
# of them on the host and without running their maintainer scripts: apt resolves the dependency
# closure of a short package list for arm64 alone (as if nothing were installed), downloads it
# (`apt-get download`, checked against the signed Release files) and each .deb is unpacked with
# `dpkg -x`. The root's dpkg database then records every one of them as installed (status, file
# lists, md5sums), so `dpkg -i spsec-linux_*_arm64.deb` inside the VM checks its dependencies
# and runs its maintainer scripts for real (tests/vm/lib.sh vm_install_deb).
#
# usage: vm/mkroot-arm64.sh ROOT DEBCACHE
#   ROOT      the root to make; built in ROOT.tmp.* and renamed into place (ROOT is replaced)
#   DEBCACHE  where the downloaded .debs are kept between builds
# Needs the arm64 architecture in apt (dpkg --add-architecture arm64 && apt-get update) and
# binutils (readelf). Prints the package count and ROOT's size; writes ROOT/.packages (name,
# version, architecture of each package) and ROOT/.complete.
# Exit status: 0; 3 when the packages cannot be had (no network, arm64 not configured); 1 when
# the root is broken (a program's library that no package of the root provides).
set -euo pipefail
[ $# -eq 2 ] || {
	echo "usage: $0 ROOT DEBCACHE" >&2
	exit 2
}
ROOT=$1 DEBS=$2
fail() {
	echo "mkroot-arm64: $2" >&2
	exit "$1"
}
# What the guest scripts run: bash and coreutils (guest-init.sh, tests/vm/*.sh), dpkg and passwd
# (installing the package, whose postinst runs groupadd), iproute2, can-utils, kmod, util-linux
# (nsenter, setsid, dmesg, mountpoint), jq, busybox-static (the initramfs), and the libraries
# spsec-linux links (its Depends); libatm1 for tc's ATM plugin, so that every ELF file of the root
# has its libraries (checked below). usr-is-merged stands in for usrmerge, which would pull in perl
# to convert a root this script lays out itself.
# shellcheck disable=SC2206 # SPSEC_ARM64_EXTRA_PKGS: a blank-separated list, split on purpose
PKGS=(usr-is-merged base-files base-passwd bash coreutils dash dpkg libc-bin grep sed mawk findutils
	diffutils gzip util-linux passwd iproute2 libatm1 can-utils kmod jq busybox-static
	libbpf1 libelf1 zlib1g libssl3 libyaml-cpp0.7 libstdc++6 libgcc-s1
	${SPSEC_ARM64_EXTRA_PKGS:-})
# arm64 as the only architecture: every dependency resolves to an arm64 (or all) package.
APT_ARM64=(-o APT::Architecture=arm64 -o APT::Architectures::=arm64 -o APT::Install-Recommends=0
	-o APT::Get::AllowUnauthenticated=0)

mkdir -p "$DEBS" "$(dirname "$ROOT")"
work=$(mktemp -d "$ROOT.tmp.XXXXXX")
trap 'rm -rf "$work"' EXIT
: >"$work/empty-status"
# The closure: what apt would install on a system that has nothing.
if ! apt-get -s -o Dir::State::status="$work/empty-status" "${APT_ARM64[@]}" install "${PKGS[@]}" \
	>"$work/sim.log" 2>&1; then
	cat "$work/sim.log" >&2
	fail 3 "apt cannot resolve the arm64 packages (dpkg --add-architecture arm64; apt-get update)"
fi
# "Inst libc6 (2.36-9+deb12u14 Debian:12.13/stable [arm64])", some followed by " []"
sed -n 's/^Inst \([^ ]*\) (\([^ ]*\) .*\[\(arm64\|all\)\])\( \[.*\]\)\{0,1\}$/\1 \2/p' \
	"$work/sim.log" >"$work/want"
[ "$(wc -l <"$work/want")" = "$(grep -c '^Inst ' "$work/sim.log")" ] ||
	fail 1 "cannot read apt's list of packages to install (see $work/sim.log)"
[ -s "$work/want" ] || fail 1 "apt's simulation listed no packages (see $work/sim.log)"
want=()
while read -r p v; do want+=("$p=$v"); done <"$work/want"

# Download what the cache lacks (the file name carries the version: a new version is fetched).
missing=()
while read -r p v; do
	compgen -G "$DEBS/${p}_${v//:/%3a}_*.deb" >/dev/null || missing+=("$p=$v")
done <"$work/want"
if [ ${#missing[@]} -gt 0 ]; then
	echo "mkroot-arm64: downloading ${#missing[@]} arm64 packages into $DEBS" >&2
	# apt's _apt user cannot write into a root-owned cache: download in a dir it owns, then move.
	dl=$(mktemp -d "$DEBS/.dl.XXXXXX")
	chmod 0777 "$dl"
	if ! (cd "$dl" && apt-get "${APT_ARM64[@]}" download -q "${missing[@]}" >"$work/dl.log" 2>&1); then
		cat "$work/dl.log" >&2
		rm -rf "$dl"
		fail 3 "apt-get download of the arm64 packages failed (no network or mirror?)"
	fi
	mv "$dl"/*.deb "$DEBS"/
	rmdir "$dl"
fi

# ---- unpack and record -----------------------------------------------------------------------
R=$work/root
mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates" "$R/var/lib/dpkg/triggers" \
	"$R/var/lib/dpkg/alternatives"
: >"$R/var/lib/dpkg/status"
n=0
while read -r p v; do
	deb=$(compgen -G "$DEBS/${p}_${v//:/%3a}_*.deb" | head -1)
	dpkg-deb -x "$deb" "$R"
	# The dpkg database entry: the package's control fields as "install ok installed", its file
	# list and md5sums (dpkg --verify), as dpkg itself would have left them. Multi-Arch: same
	# packages have arch-qualified database files.
	ctl=$work/ctl
	rm -rf "$ctl" && dpkg-deb -e "$deb" "$ctl"
	arch=$(dpkg-deb -f "$deb" Architecture)
	name=$p
	[ "$(dpkg-deb -f "$deb" Multi-Arch)" = same ] && name=$p:$arch
	{
		grep -v '^Status:' "$ctl/control" | sed '/^Package:/a Status: install ok installed'
		echo
	} >>"$R/var/lib/dpkg/status"
	dpkg-deb --fsys-tarfile "$deb" | tar -t | sed -e 's|^\./|/|' -e 's|/$||' -e 's|^$|/.|' \
		>"$R/var/lib/dpkg/info/$name.list"
	[ -f "$ctl/md5sums" ] && cp "$ctl/md5sums" "$R/var/lib/dpkg/info/$name.md5sums"
	[ -f "$ctl/conffiles" ] && cp "$ctl/conffiles" "$R/var/lib/dpkg/info/$name.conffiles"
	echo "$p $v $arch" >>"$work/packages"
	n=$((n + 1))
done <"$work/want"
echo arm64 >"$R/var/lib/dpkg/arch"
# Format 1: the multiarch layout of info/ (arch-qualified names); without it dpkg reads format 0.
echo 1 >"$R/var/lib/dpkg/info/format"
: >"$R/var/lib/dpkg/available"
: >"$R/var/lib/dpkg/diversions"
: >"$R/var/lib/dpkg/statoverride"

# What the skipped maintainer scripts would have made and the guest needs: the user and group
# databases (base-passwd's postinst copies its masters), /bin/sh (dash), awk (an alternative),
# the mount points of the VM's initramfs.
[ -e "$R/etc/passwd" ] || cp "$R/usr/share/base-passwd/passwd.master" "$R/etc/passwd"
[ -e "$R/etc/group" ] || cp "$R/usr/share/base-passwd/group.master" "$R/etc/group"
# No passwords: every account locked.
sed 's/^\([^:]*\):.*$/\1:*:19000:0:99999:7:::/' "$R/etc/passwd" >"$R/etc/shadow"
sed 's/^\([^:]*\):.*$/\1:*::/' "$R/etc/group" >"$R/etc/gshadow"
chmod 0640 "$R/etc/shadow" "$R/etc/gshadow"
[ -e "$R/bin/sh" ] || ln -s dash "$R/bin/sh"
[ -e "$R/usr/bin/awk" ] || ln -s mawk "$R/usr/bin/awk"
mkdir -p "$R"/{proc,sys,dev,run,tmp,root,lib/modules,usr/local/sbin,usr/local/bin}
chmod 1777 "$R/tmp"

# ---- every program's libraries are in the root --------------------------------------------
# The loader's search path in Debian's multiarch glibc (no ld.so.cache here).
LIBDIRS=(lib/aarch64-linux-gnu usr/lib/aarch64-linux-gnu lib usr/lib)
declare -A HAVE=()
for d in "${LIBDIRS[@]}"; do
	[ -d "$R/$d" ] || continue
	for f in "$R/$d"/*; do HAVE[${f##*/}]=1; done
done
elfs=0 bad=()
# ELF files among the regular files (readelf skips the others with an error we drop). A library
# is found in the loader's path or, for an ELF whose RUNPATH is $ORIGIN (glibc's gconv modules),
# next to it.
mapfile -d '' files < <(find "$R" -type f \( -perm /111 -o -name '*.so*' \) -print0)
while read -r file kind lib; do
	case $kind in
	file) elfs=$((elfs + 1)) ;;
	needed) [ -n "${HAVE[$lib]:-}" ] || bad+=("${file#"$R"} needs $lib") ;;
	needed-origin) [ -n "${HAVE[$lib]:-}" ] || [ -e "${file%/*}/$lib" ] ||
		bad+=("${file#"$R"} needs $lib") ;;
	esac
done < <(readelf -d "${files[@]}" 2>/dev/null | awk '
	function flush(i) {
		for (i = 0; i < n; i++) print f, (origin ? "needed-origin" : "needed"), need[i]
		n = 0; origin = 0
	}
	/^File: / { flush(); f = $2; print f, "file", "-" }
	/\((RUNPATH|RPATH)\)/ { if (index($NF, "$ORIGIN")) origin = 1 }
	/\(NEEDED\)/ { l = $NF; gsub(/[][]/, "", l); need[n++] = l }
	END { flush() }')
[ ${#bad[@]} -eq 0 ] || fail 1 "libraries missing from the root: $(printf '%s; ' "${bad[@]}")"

sort "$work/packages" >"$R/.packages"
echo "$n packages, $elfs ELF files, every NEEDED library present" >"$R/.complete"
rm -rf "$ROOT"
mv "$R" "$ROOT"
echo "mkroot-arm64: $ROOT: $(cat "$ROOT/.complete"), $(du -sh "$ROOT" | cut -f1)" >&2
