#!/bin/bash
# PID 1 of the test VM after switch_root, run from the host root (so editing it needs no
# initramfs rebuild). The initramfs has already mounted /run, devpts, bpffs, tracefs, debugfs,
# cgroup2 and the writable share at vm.out.
#
# vm/run.sh writes $OUT/vm-cmd before booting: the guest script, its arguments and the
# environment to export (SPSEC_SOURCE_DIR, SPSEC_BUILD_DIR, ...). This runs it and leaves in OUT:
#   rc          the script's exit status; "99" is written before the script starts, so a guest
#               that dies or hangs never leaves a passing status behind
#   guest.log   the script's output (also on the console)
#   dmesg.txt   the guest kernel log after the script, scanned for splats by vm/run.sh
# then powers off. With vm.shell=1 (or no script) it opens an interactive shell first.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root TERM=${TERM:-linux} LANG=C.UTF-8

arg() {
	local a
	for a in $(</proc/cmdline); do
		case "$a" in "$1="*)
			echo "${a#*=}"
			return 0
			;;
		esac
	done
	return 1
}
uptime_s() {
	local u
	read -r u _ </proc/uptime
	echo "$u"
}
poweroff_now() {
	echo "VM-POWEROFF uptime=$(uptime_s)s"
	# PID 1 must never exit (that panics the kernel); sysrq 'o' powers off at once and QEMU
	# (-no-reboot) exits.
	echo o >/proc/sysrq-trigger
	# Wait with a bash builtin: during the power-off exec from the 9p root can already fail, and
	# a failing `sleep` would let PID 1 exit.
	local fd
	if exec {fd}<> <(:); then
		while :; do read -r -t 60 -u "$fd" _; done
	fi
	while :; do :; done
}

OUT=$(arg vm.out) || OUT=""
VM_SCRIPT=""
VM_ARGS=()
if [ -n "$OUT" ] && [ -f "$OUT/vm-cmd" ]; then
	# shellcheck source=/dev/null
	. "$OUT/vm-cmd"
fi
echo "VM-READY uptime=$(uptime_s)s"

if [ -n "$VM_SCRIPT" ]; then
	echo 99 >"$OUT/rc"
	cd "$OUT" || exit 1
	# Not `script | tee`: a background process the script leaves behind (a candump) would hold
	# the pipe open and the VM would hang until the timeout.
	export OUT VM_OUT=$OUT
	bash "$VM_SCRIPT" "${VM_ARGS[@]}" </dev/null > >(tee "$OUT/guest.log") 2>&1
	rc=$?
	tee_pid=$!
	echo "$rc" >"$OUT/rc"
	# Whatever the script left running goes now, except tee, which ends (after writing out what
	# is still in the pipe) once its last writer is gone. Kernel threads ignore the signal.
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		[ "$p" = 1 ] || [ "$p" = "$tee_pid" ] || kill -TERM "$p" 2>/dev/null
	done
	for _ in $(seq 100); do
		kill -0 "$tee_pid" 2>/dev/null || break
		read -r -t 0.05 _ <> <(:)
	done
	kill -KILL -1 2>/dev/null
	wait "$tee_pid" 2>/dev/null
	echo "VM-SCRIPT-RC=$rc uptime=$(uptime_s)s"
fi
if [ -z "$VM_SCRIPT" ] || [ "$(arg vm.shell)" = 1 ]; then
	echo "guest-init: interactive shell; 'exit' powers the VM off (or Ctrl-A x quits QEMU)"
	cd /root 2>/dev/null || cd /
	setsid -c bash -i </dev/console >/dev/console 2>&1
fi
[ -n "$OUT" ] && dmesg >"$OUT/dmesg.txt" 2>&1
poweroff_now
