#!/usr/bin/env bash
# Boots Debian's own kernel in QEMU with the host root shared read-only over 9p (plus a tmpfs
# overlay, so / is writable inside), runs a guest script, collects its results, powers off.
# Host-built binaries run unchanged in the guest, at the same paths. See docs/testing.md.
#
# usage: vm/run.sh [options] [--script FILE [ARGS...]]
#   --script FILE [ARGS...]  bash script to run as root in the guest; everything after FILE is
#                            passed to it, so --script comes last
#   --out DIR     results dir, shared read-write with the guest at the same path (default: a new
#                 /tmp/spsec-vm-out.XXXXXX); gets rc, guest.log, dmesg.txt, console.log, timing.txt
#   --shell       interactive shell on the serial console after the script (or instead of one);
#                 'exit' powers off, Ctrl-A x quits QEMU
#   --timeout S   wall-clock limit for the whole VM run (default 300); a hung VM fails with 124
#   --smp N       vCPUs (default 1: under TCG on a busy host, 2 vCPUs are 1.5-5x slower)
#   --mem MB      guest memory (default 1024)
#   --accel A     auto (default) | kvm | tcg. auto = KVM only when /dev/kvm is writable and
#                 kvm_intel or kvm_amd is loaded (a paravirtual /dev/kvm such as kvm_pvm cannot
#                 boot a stock kernel), TCG otherwise
#   --quiet       echo only the guest script's output and kernel splats, without timestamps
#                 (for demos); OUT/console.log still gets everything
#   --verbose     show every kernel message on the console (default: warnings and worse; the
#                 whole kernel log is always saved in OUT/dmesg.txt)
#   --env N=V     export N=V to the guest script (repeatable)
#   --append ARGS extra kernel command line arguments
#   --kernel NAME boot another Debian kernel: 6.1, 6.1-rt, 6.12 or 6.12-rt (the newest matching
#                 linux-image package of the apt sources), or linux-image-PKG[=VERSION]. It is
#                 fetched with apt-get download and unpacked into the cache (vm/fetch-kernel.sh),
#                 never installed on the host; the guest's /lib/modules/<kver> then comes from
#                 there. Default: $SPSEC_VM_KERNEL, else the newest kernel installed in /boot
#   --arch A      amd64 (default) | arm64. arm64: qemu-system-aarch64 -M virt -cpu max under TCG
#                 boots Debian's arm64 kernel (--kernel 6.1-arm64, the default, or 6.12-arm64,
#                 fetched like any --kernel) with a root made of Debian's arm64 packages
#                 (vm/mkroot-arm64.sh, cached in $SPSEC_ARM64_ROOT, default CACHE/arm64/root)
#                 instead of the host root; SPSEC_SOURCE_DIR and SPSEC_BUILD_DIR (default
#                 $SPSEC_SOURCE_DIR/build-arm64, a cross build: scripts/cross-arm64.sh) are shared
#                 read-only at their host paths
# The guest script always gets SPSEC_SOURCE_DIR (this checkout), SPSEC_BUILD_DIR (default
# $SPSEC_SOURCE_DIR/build), VM_OUT (= --out) and every other SPSEC_* variable set here.
#
# Exit status: the guest script's. 77 + "SKIP vm: <reason>" when qemu, the kernel or busybox-static
# is missing, or a --kernel (or the arm64 root) cannot be fetched (no network, not in the apt sources); 124 when the VM hangs past --timeout; 99 when the script never finished; 1 when the
# kernel lacks an option of vm/required-config or the guest kernel log shows a splat (WARNING:,
# BUG:, Oops, KASAN, Call Trace, panic), even if the script passed.
#
# The vmlinux and the initramfs are cached in ${SPSEC_VM_CACHE:-/var/tmp/spsec-vm} and rebuilt
# when the kernel or these scripts change; fetched kernels in its kernels/<package>_<version>.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")

usage() {
	sed -n '/^# usage:/,/^# when the kernel/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
	exit "${1:-2}"
}
skip() {
	echo "SKIP vm: $*"
	exit 77
}
die() {
	echo "FAIL vm: $*" >&2
	exit 1
}

SCRIPT="" OUT="" SHELL_MODE=0 TIMEOUT=300 SMP=1 MEM=1024 ACCEL=auto QUIET=0 LOGLEVEL=4 EXTRA_APPEND=""
KNAME=${SPSEC_VM_KERNEL:-} KPKG="" KPKGVER="" ARCH=amd64
ARGS=()
ENVS=()
while [ $# -gt 0 ]; do
	case "$1" in
	--script)
		[ $# -ge 2 ] || usage
		SCRIPT=$2
		shift 2
		ARGS=("$@")
		break
		;;
	--out) OUT=${2:?--out needs a directory} && shift ;;
	--shell) SHELL_MODE=1 ;;
	--timeout) TIMEOUT=${2:?--timeout needs seconds} && shift ;;
	--smp) SMP=${2:?--smp needs a number} && shift ;;
	--mem) MEM=${2:?--mem needs megabytes} && shift ;;
	--accel) ACCEL=${2:?--accel needs auto, kvm or tcg} && shift ;;
	--quiet) QUIET=1 ;;
	--verbose) LOGLEVEL=7 ;;
	--env)
		[[ ${2:-} =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || die "--env needs NAME=VALUE, got '${2:-}'"
		ENVS+=("$2")
		shift
		;;
	--append) EXTRA_APPEND=${2?--append needs kernel arguments} && shift ;;
	--kernel) KNAME=${2:?--kernel needs 6.1, 6.1-rt, 6.12, 6.12-rt or a package} && shift ;;
	--arch) ARCH=${2:?--arch needs amd64 or arm64} && shift ;;
	-h | --help) usage 0 ;;
	*)
		echo "run.sh: unknown option '$1'" >&2
		usage
		;;
	esac
	shift
done
for n in "$TIMEOUT" "$SMP" "$MEM"; do
	[[ $n =~ ^[1-9][0-9]*$ ]] || die "--timeout/--smp/--mem need a positive integer, got '$n'"
done

# ---- prerequisites: missing software is a SKIP, a kernel lacking an option is a failure --------
CACHE=${SPSEC_VM_CACHE:-/var/tmp/spsec-vm}
mkdir -p "$CACHE" || die "cannot create the cache dir $CACHE"
BUSYBOX=/bin/busybox
case "$ARCH" in
amd64)
	command -v qemu-system-x86_64 >/dev/null ||
		skip "qemu-system-x86_64 not installed (apt-get install qemu-system-x86)"
	;;
arm64)
	command -v qemu-system-aarch64 >/dev/null ||
		skip "qemu-system-aarch64 not installed (apt-get install qemu-system-arm)"
	KNAME=${KNAME:-6.1-arm64}
	[[ $KNAME == *-arm64 ]] || die "--arch arm64 boots an arm64 kernel (6.1-arm64, 6.12-arm64), not '$KNAME'"
	[ "$ACCEL" = kvm ] && die "--arch arm64 runs under TCG only (an x86-64 host has no arm64 KVM)"
	ABUILD=${SPSEC_BUILD_DIR:-${SPSEC_SOURCE_DIR:-$ROOT}/build-arm64}
	[ -f "$ABUILD/CMakeCache.txt" ] ||
		skip "no arm64 cross build in $ABUILD (scripts/cross-arm64.sh makes it)"
	ACCEL=tcg
	# The guest's root: Debian's arm64 packages, unpacked (vm/mkroot-arm64.sh), rebuilt when that
	# script changes. Parallel runs: one builds, the others wait.
	ARM_ROOT=${SPSEC_ARM64_ROOT:-$CACHE/arm64/root}
	rkey=$(sha256sum "$HERE/mkroot-arm64.sh" | cut -d' ' -f1)
	mkdir -p "$CACHE/arm64"
	{
		flock 9 || die "cannot lock $CACHE/arm64/lock"
		if [ ! -f "$ARM_ROOT/.complete" ] || [ "$(cat "$ARM_ROOT/.key" 2>/dev/null)" != "$rkey" ]; then
			echo "run.sh: building the arm64 root $ARM_ROOT (vm/mkroot-arm64.sh)" >&2
			"$HERE/mkroot-arm64.sh" "$ARM_ROOT" "$CACHE/arm64/debs"
			case $? in
			0) echo "$rkey" >"$ARM_ROOT/.key" ;;
			3) skip "the arm64 root cannot be built: its packages cannot be fetched (see above)" ;;
			*) die "building the arm64 root failed (vm/mkroot-arm64.sh)" ;;
			esac
		fi
	} 9>"$CACHE/arm64/lock"
	BUSYBOX=$ARM_ROOT/bin/busybox
	;;
*) die "--arch must be amd64 or arm64, got '$ARCH'" ;;
esac
if [ -n "$KNAME" ]; then
	# A named kernel: fetched into the cache (not installed); its modules, vmlinux and
	# initramfs all live in its directory there, keyed by package version.
	# A kernel that cannot be had here (no network, no such package in the apt sources) is a
	# SKIP naming the reason, as missing software is; anything else that goes wrong is a failure.
	ferr=$(mktemp)
	fetched=$("$HERE/fetch-kernel.sh" "$KNAME" "$CACHE" 2>"$ferr")
	frc=$?
	cat "$ferr" >&2
	why=$(grep '^fetch-kernel: ' "$ferr" | tail -1 | sed 's/^fetch-kernel: //')
	rm -f "$ferr"
	case $frc in
	0) ;;
	3) skip "kernel '$KNAME' cannot be fetched: $why" ;;
	*) die "cannot get kernel '$KNAME': ${why:-vm/fetch-kernel.sh exited with $frc}" ;;
	esac
	read -r KVER KPKG KPKGVER KDIR <<<"$fetched"
	BZIMAGE=$KDIR/boot/vmlinuz-$KVER
	KCONFIG=$KDIR/boot/config-$KVER
	MODROOT=$KDIR/lib/modules
	VMLINUX=$KDIR/vmlinux INITRD=$KDIR/initramfs.cpio.gz STAMP=$KDIR/vm.stamp
else
	# The newest installed Debian kernel, not `uname -r`: the host may run a different kernel
	# that has no modules in /lib/modules and no CAN support.
	KVER=$(find /boot -maxdepth 1 -name 'vmlinuz-*' -printf '%f\n' 2>/dev/null | sed 's/^vmlinuz-//' |
		sort -V | tail -1)
	[ -n "$KVER" ] || skip "no kernel image /boot/vmlinuz-* (apt-get install linux-image-amd64)"
	BZIMAGE=/boot/vmlinuz-$KVER
	KCONFIG=/boot/config-$KVER
	MODROOT=/lib/modules
	VMLINUX=$CACHE/vmlinux-$KVER INITRD=$CACHE/initramfs-$KVER.cpio.gz STAMP=$CACHE/$KVER.stamp
fi
[ -r "$BZIMAGE" ] || skip "$BZIMAGE is not readable"
[ -f "$MODROOT/$KVER/modules.dep" ] || skip "no modules for $KVER in $MODROOT/$KVER"
file -L "$BUSYBOX" 2>/dev/null | grep -q 'statically linked' ||
	skip "no static $BUSYBOX (apt-get install busybox-static)"

[ -r "$KCONFIG" ] || die "cannot check vm/required-config: $KCONFIG is missing"
missing=()
while read -r opt _; do
	case "$opt" in '' | '#'*) continue ;; esac
	grep -qE "^$opt=[ym]$" "$KCONFIG" || missing+=("$opt")
done <"$HERE/required-config"
[ ${#missing[@]} -eq 0 ] ||
	die "kernel $KVER lacks ${missing[*]} (required by vm/required-config, checked in $KCONFIG)"

if [ -n "$SCRIPT" ]; then
	[ -f "$SCRIPT" ] || die "guest script $SCRIPT not found"
	SCRIPT=$(realpath "$SCRIPT")
fi

case "$ACCEL" in
auto)
	if [ -w /dev/kvm ] && { [ -d /sys/module/kvm_intel ] || [ -d /sys/module/kvm_amd ]; }; then
		ACCEL=kvm
	else
		ACCEL=tcg
	fi
	;;
kvm) [ -w /dev/kvm ] || die "--accel kvm: /dev/kvm is not writable" ;;
tcg) ;;
*) die "--accel must be auto, kvm or tcg, got '$ACCEL'" ;;
esac

# ---- cached kernel + initramfs ----------------------------------------------------------------
# Everything the cached files are made from; a change in any of them rebuilds both.
key=$({
	cat "$HERE/extract-vmlinux.sh" "$HERE/mkinitramfs.sh" "$HERE/initramfs-init.sh"
	stat -Lc '%n %s %Y' "$BZIMAGE" "$MODROOT/$KVER/modules.dep" "$BUSYBOX"
} | sha256sum | cut -d' ' -f1)
{
	# Several test runs may start at once: one builds, the others wait for it.
	flock 9 || die "cannot lock $CACHE/lock"
	if [ "$(head -1 "$STAMP" 2>/dev/null)" != "$key" ] || [ ! -s "$INITRD" ]; then
		echo "run.sh: building the VM kernel image and initramfs for $KVER in $CACHE" >&2
		rm -f "$VMLINUX" "$STAMP"
		boot=pvh
		if [ "$ARCH" = arm64 ]; then
			boot=image # QEMU loads the arm64 Image as it is; PVH is x86's
		else
			"$HERE/extract-vmlinux.sh" "$BZIMAGE" "$VMLINUX" ||
				{ echo "run.sh: falling back to the bzImage (slower boot)" >&2 && boot=bzimage; }
		fi
		MODDIR=$MODROOT/$KVER BUSYBOX=$BUSYBOX "$HERE/mkinitramfs.sh" "$KVER" "$INITRD" >&2 ||
			die "building the initramfs failed"
		printf '%s\n%s\n' "$key" "$boot" >"$STAMP"
	fi
} 9>"$CACHE/lock"
if [ "$(sed -n 2p "$STAMP")" = pvh ] && [ -s "$VMLINUX" ]; then
	KERNEL=$VMLINUX BOOT=pvh
elif [ "$ARCH" = arm64 ]; then
	KERNEL=$BZIMAGE BOOT=image
else
	KERNEL=$BZIMAGE BOOT=bzimage
fi

# ---- results dir and the command for the guest -------------------------------------------------
if [ -n "$OUT" ]; then
	mkdir -p "$OUT" || die "cannot create --out $OUT"
else
	OUT=$(mktemp -d "${TMPDIR:-/tmp}/spsec-vm-out.XXXXXX") || die "mktemp failed"
fi
OUT=$(realpath "$OUT")
# Paths travel on the kernel command line, which splits on blanks.
[[ "$OUT$HERE$MODROOT" =~ [[:space:]] ]] &&
	die "paths with blanks are not supported: $OUT, $HERE, $MODROOT"
rm -f "$OUT"/{rc,guest.log,dmesg.txt,console.log,timing.txt,vm-cmd,qemu-cmd.txt}

export SPSEC_SOURCE_DIR=${SPSEC_SOURCE_DIR:-$ROOT}
if [ "$ARCH" = arm64 ]; then
	export SPSEC_BUILD_DIR=${SPSEC_BUILD_DIR:-$SPSEC_SOURCE_DIR/build-arm64}
else
	export SPSEC_BUILD_DIR=${SPSEC_BUILD_DIR:-$SPSEC_SOURCE_DIR/build}
fi
{
	printf 'VM_SCRIPT=%q\n' "$SCRIPT"
	printf 'VM_ARGS=('
	[ ${#ARGS[@]} -gt 0 ] && printf ' %q' "${ARGS[@]}"
	printf ' )\n'
	for v in $(compgen -e | grep '^SPSEC_'); do
		printf 'export %s=%q\n' "$v" "${!v}"
	done
	for e in ${ENVS[@]+"${ENVS[@]}"}; do
		printf 'export %s=%q\n' "${e%%=*}" "${e#*=}"
	done
} >"$OUT/vm-cmd"

case "$ACCEL" in
kvm) ACCEL_ARGS=(-accel kvm -cpu host) ;;
*) ACCEL_ARGS=(-accel tcg -cpu max) ;; # max: RDRAND etc., so the guest's CRNG is ready at once
esac
CONSOLE=ttyS0
SHARES=()
if [ "$ARCH" = arm64 ]; then
	CONSOLE=ttyAMA0 # the virt machine's PL011
	# The guest's root is ARM_ROOT, not the host's: the checkout and the build tree are shared
	# read-only at their host paths (vm.share<N>, mounted by the initramfs), so the scripts and
	# the cross-built binaries are where a test expects them.
	SHARES=("$SPSEC_SOURCE_DIR")
	case "$SPSEC_BUILD_DIR/" in "$SPSEC_SOURCE_DIR"/*) ;; *) SHARES+=("$SPSEC_BUILD_DIR") ;; esac
	# and the fetched kernel's modules, which vm.modules then binds over /lib/modules/<kver>
	SHARES+=("$MODROOT/$KVER")
	# and a guest script from elsewhere (its directory)
	if [ -n "$SCRIPT" ]; then
		case "$SCRIPT" in "$SPSEC_SOURCE_DIR"/* | "$SPSEC_BUILD_DIR"/*) ;; *) SHARES+=("$(dirname "$SCRIPT")") ;; esac
	fi
	for d in "${SHARES[@]}"; do
		[ -d "$d" ] || die "cannot share $d with the arm64 guest: no such directory"
		[[ $d =~ [[:space:]] ]] && die "paths with blanks are not supported: $d"
	done
fi
APPEND="console=$CONSOLE loglevel=$LOGLEVEL panic=-1 vm.init=$HERE/guest-init.sh vm.out=$OUT"
# x86: the boot-time check that the timer interrupt works gives up and panics ("IO-APIC + timer
# doesn't work") when a loaded host deschedules the TCG vCPU during it; skip that check only
[ "$ARCH" = amd64 ] && APPEND+=" no_timer_check"
[ "$SHELL_MODE" = 1 ] && APPEND+=" vm.shell=1"
# A fetched kernel's modules: the initramfs binds them over the guest's /lib/modules/<kver>.
[ "$MODROOT" != /lib/modules ] && APPEND+=" vm.modules=$MODROOT/$KVER"
[ -n "$EXTRA_APPEND" ] && APPEND+=" $EXTRA_APPEND"
if [ "$ARCH" = arm64 ]; then
	# -cpu max: every feature QEMU emulates (AES/SHA/PMULL instructions, RNDR for the CRNG);
	# pauth-impdef: pointer authentication with QEMU's cheap implementation-defined algorithm
	# instead of QARMA5, which Debian's kernel would pay at every function entry and exit.
	ACCEL_ARGS=(-accel tcg -cpu "max,pauth-impdef=on")
	QEMU=(qemu-system-aarch64 "${ACCEL_ARGS[@]}" -M virt -smp "$SMP" -m "$MEM" -nographic -no-reboot
		-kernel "$KERNEL" -initrd "$INITRD"
		-virtfs "local,path=$ARM_ROOT,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap")
	for i in "${!SHARES[@]}"; do
		QEMU+=(-virtfs "local,path=${SHARES[i]},mount_tag=share$i,security_model=none,readonly=on,multidevs=remap")
		APPEND+=" vm.share$i=${SHARES[i]}"
	done
	QEMU+=(-append "$APPEND")
else
	QEMU=(qemu-system-x86_64 "${ACCEL_ARGS[@]}" -M q35 -smp "$SMP" -m "$MEM" -nographic -no-reboot
		-kernel "$KERNEL" -initrd "$INITRD" -append "$APPEND"
		-virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap")
fi
QEMU+=(-virtfs "local,path=$OUT,mount_tag=out,security_model=none,multidevs=remap"
	-device virtio-rng-pci -nic none)
printf '%q ' "${QEMU[@]}" >"$OUT/qemu-cmd.txt"

# ---- boot ---------------------------------------------------------------------------------------
# What counts as a kernel splat in the guest's log (see the verdict below).
SPLAT_RE='WARNING:|BUG:|Oops|KASAN|Call Trace|[Pp]anic\b'
# What --quiet hides: firmware, kernel messages, the power-off marker.
CHATTER_RE='SeaBIOS|^\[ *[0-9]+\.[0-9]+\] |^VM-POWEROFF'
start=${EPOCHREALTIME/./}
if [ "$SHELL_MODE" = 1 ]; then
	"${QEMU[@]}"
	qrc=$?
else
	# Console lines get a timestamp relative to QEMU's start (in console.log always, on stdout
	# unless --quiet); the VM-READY marker gives time_to_ready.
	timeout -k 5 "$TIMEOUT" "${QEMU[@]}" </dev/null 2>&1 | {
		while IFS= read -r line; do
			line=${line%$'\r'}
			# SeaBIOS leaves no newline before the first guest line
			line=${line#*Booting from ROM..}
			ms=$(((${EPOCHREALTIME/./} - start) / 1000))
			stamped=$(printf '[%3d.%03d] %s' $((ms / 1000)) $((ms % 1000)) "$line")
			echo "$stamped" >>"$OUT/console.log"
			if [ "$QUIET" = 0 ]; then
				echo "$stamped"
			elif [[ $line =~ $SPLAT_RE || ! $line =~ $CHATTER_RE ]]; then
				echo "$line" # --quiet: the guest's output and kernel trouble, no boot chatter
			fi
			case "$line" in VM-READY*) echo "$ms" >"$OUT/.t_ready" ;; esac
		done
	}
	qrc=${PIPESTATUS[0]}
fi
total_ms=$(((${EPOCHREALTIME/./} - start) / 1000))

# ---- verdict ------------------------------------------------------------------------------------
if [ -z "$SCRIPT" ]; then
	rc=$qrc
elif [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
	echo "FAIL vm: the VM did not finish within --timeout ${TIMEOUT}s (hung guest); see $OUT/console.log"
	rc=124
elif [ ! -f "$OUT/rc" ]; then
	echo "FAIL vm: the guest never started the script (no $OUT/rc); see $OUT/console.log"
	rc=99
else
	rc=$(<"$OUT/rc")
	if ! [[ $rc =~ ^[0-9]+$ ]]; then
		echo "FAIL vm: $OUT/rc holds '$rc', not an exit status"
		rc=99
	elif [ "$rc" = 99 ]; then
		echo "FAIL vm: the guest script did not finish (status 99 was written before it started)"
	fi
fi

# Kernel splats fail the run even when the script passed. Prefer the guest's dmesg; without it
# (the guest died) the console is all there is. The TCG clocksource watchdog's "unstable" notes
# are expected under emulation and harmless.
KLOG=$OUT/dmesg.txt
[ -s "$KLOG" ] || KLOG=$OUT/console.log
splat=$(grep -E "$SPLAT_RE" "$KLOG" 2>/dev/null |
	grep -vE '[Cc]ommand line:|clocksource|[Uu]nstable' | head -5)
if [ -n "$splat" ]; then
	echo "FAIL vm: guest kernel log ($KLOG) shows a splat:"
	while IFS= read -r l; do echo "    $l"; done <<<"$splat"
	if [ "$rc" = 0 ] || [ "$rc" = 77 ]; then rc=1; fi
fi

fmt_ms() { printf '%d.%03ds' $(($1 / 1000)) $(($1 % 1000)); }
ready=never
[ -f "$OUT/.t_ready" ] && ready=$(fmt_ms "$(<"$OUT/.t_ready")")
rm -f "$OUT/.t_ready"
printf 'vm: arch=%s kver=%s%s accel=%s boot=%s smp=%s time_to_ready=%s total=%s rc=%s out=%s\n' \
	"$ARCH" "$KVER" "${KPKG:+ pkg=$KPKG=$KPKGVER}" "$ACCEL" "$BOOT" "$SMP" "$ready" "$(fmt_ms "$total_ms")" "$rc" "$OUT" |
	tee "$OUT/timing.txt"
exit "$rc"
