# shellcheck shell=bash
# Helpers for guest test scripts of the vm tier (run inside the VM by vm/run.sh, as root).
# Source it first thing:   . "$SPSEC_SOURCE_DIR/tests/vm/lib.sh"
#
# Checks (TAP-like): every check prints "ok N - what" or "not ok N - what" plus "#" detail lines;
# vm_finish prints exactly "vm: N passed, M failed" and exits 0 only when M is 0 and N > 0. A
# script that exits without vm_finish (an error, a missing binary) fails with the same summary:
# lib.sh owns the EXIT trap, so a script that sets its own must call _vm_on_exit from it.
# vm/guest-init.sh stops whatever a script leaves running.
#
# Synchronisation: never sleep for a fixed time. start_candump returns once the kernel lists the
# new CAN_RAW receiver; send_sentinel returns once its frame is in the candump log, which proves
# that every frame sent before it on the same path has been delivered or dropped. Waits are
# bounded by VM_WAIT_TIMEOUT seconds (default 20; exec'ing a program over 9p under TCG takes
# 40-150 ms, more on a busy host) and a timeout fails the check.
#
# Network namespaces: helpers taking "-n NS" run the command in NS ("" = the initial namespace).
# can-utils notation: "123#DEADBEEF" classic, "123##1AABB" CAN FD (flags nibble after ##; the
# kernel sets CANFD_FDF, so candump -L logs "##1" frames as "##5").

VM_PASS=0
VM_FAIL=0
VM_FINISHED=0
VM_WAIT_TIMEOUT=${VM_WAIT_TIMEOUT:-20}
VM_CANDUMP_PIDS=()

# ---- checks -------------------------------------------------------------------------------------

ok() { # ok <description>
	VM_PASS=$((VM_PASS + 1))
	echo "ok $((VM_PASS + VM_FAIL)) - $*"
}

not_ok() { # not_ok <description> [detail lines...]
	VM_FAIL=$((VM_FAIL + 1))
	echo "not ok $((VM_PASS + VM_FAIL)) - $1"
	shift
	local d
	for d in "$@"; do echo "#   $d"; done
	echo "#   random input: SPSEC_TEST_SEED=$VM_SEED reproduces it"
	echo "#   $(vm_stalls)"
}

# check <description> <command...>: ok when the command succeeds. The command runs in a subshell
# (its output is kept for the failure report), so variables it sets are lost: call
# start_candump directly, not through check.
check() {
	local what=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	if [ $rc -eq 0 ]; then
		ok "$what"
	else
		not_ok "$what" "command: $*" "exit status $rc" "${out:-(no output)}"
	fi
	return $rc
}

check_eq() { # check_eq <description> <expected> <actual>
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		not_ok "$1" "expected: '$2'" "got:      '$3'"
		return 1
	fi
}

vm_finish() { # vm_finish: summary line, exit status 0 only if every check passed
	VM_FINISHED=1
	echo "# $(vm_stalls)"
	vm_cleanup
	[ $((VM_PASS + VM_FAIL)) -gt 0 ] || echo "# no checks ran: that is a failure"
	echo "vm: $VM_PASS passed, $VM_FAIL failed"
	if [ "$VM_FAIL" -eq 0 ] && [ "$VM_PASS" -gt 0 ]; then exit 0; fi
	exit 1
}

vm_skip() { # vm_skip <reason>: the test cannot run here; ctest reports it as skipped (status 77)
	VM_FINISHED=1
	vm_cleanup
	echo "SKIP vm: $*"
	exit 77
}

_vm_on_exit() {
	local rc=$?
	[ "$VM_FINISHED" = 1 ] && return
	vm_cleanup
	not_ok "guest script ended without vm_finish (exit status $rc)"
	echo "vm: $VM_PASS passed, $VM_FAIL failed"
	exit 1
}
trap _vm_on_exit EXIT

vm_cleanup() { # stops the candumps and the stall probe still running
	local p
	for p in "${VM_CANDUMP_PIDS[@]}" $VM_STALL_PID; do kill "$p" 2>/dev/null; done
	VM_CANDUMP_PIDS=()
	VM_STALL_PID=
}

# ---- stalls of the guest ------------------------------------------------------------------------
# Under TCG the host sometimes leaves the guest unscheduled for seconds (a busy host); its clock
# runs on, and the protocol reacts to what then looks like late frames. tests/tools/
# spsec_stall_probe logs every such stall over 20 ms at real-time priority; each failed check and
# the summary print them, so a failure on a stalled guest reads as one. Nothing is excused by it.
VM_STALL_LOG=$VM_OUT/stalls.log
VM_STALL_PID=
VM_STALL_PROBE=$SPSEC_BUILD_DIR/tests/tools/spsec_stall_probe
if [ -x "$VM_STALL_PROBE" ]; then
	"$VM_STALL_PROBE" "$VM_STALL_LOG" 10 20 &
	VM_STALL_PID=$!
fi
vm_stalls() { # vm_stalls: one line on the guest stalls logged so far
	if [ ! -s "$VM_STALL_LOG" ] && [ -z "$VM_STALL_PID" ]; then
		echo "guest stalls: not recorded ($VM_STALL_PROBE not built)"
		return
	fi
	awk '$1 == "stall" { n++; if ($3 + 0 > max) { max = $3 + 0; at = $2 } }
	     END { if (n == 0) print "guest stalls over 20 ms: none";
	           else printf "guest stalls over 20 ms: %d, longest %d ms (due at %s s uptime)\n", n, max, at }' \
		"$VM_STALL_LOG" 2>/dev/null || echo "guest stalls: $VM_STALL_LOG unreadable"
}

# ---- reproducible random input ------------------------------------------------------------------
# Every random choice a test makes comes from bash's RANDOM, seeded with VM_SEED: SPSEC_TEST_SEED
# when set (vm/run.sh passes SPSEC_* into the guest), else a fresh seed. The seed is printed at
# the start and with every failed check, so `SPSEC_TEST_SEED=N ctest -R vm_x` replays the same
# frames (the timing of the VM still differs from run to run). Bash reseeds RANDOM in every
# subshell, so a background subshell that draws numbers calls vm_seed_subshell first, and
# helpers that draw return their results in variables, never through $(...). cangen's random
# modes (-I r, -L r, -D r) seed from the clock: tests make random frames with gen_frames and send
# them with play_frames instead.
if [ -n "${SPSEC_TEST_SEED:-}" ]; then
	[[ $SPSEC_TEST_SEED =~ ^[0-9]{1,9}$ ]] || {
		echo "vm: SPSEC_TEST_SEED must be a decimal number below 10^9, got '$SPSEC_TEST_SEED'" >&2
		exit 1
	}
	VM_SEED=$((10#$SPSEC_TEST_SEED))
else
	VM_SEED=$((SRANDOM % 1000000000))
fi
RANDOM=$VM_SEED
echo "# random input: seed $VM_SEED (SPSEC_TEST_SEED=$VM_SEED reproduces it)"

vm_seed_subshell() { RANDOM=$((VM_SEED + ${1:-1})); } # vm_seed_subshell <n>: distinct per subshell

rand_hex() { # rand_hex <var> <bytes>: <bytes> random bytes as upper-case hex, into <var>
	local -n _rh_out=$1
	local i b
	_rh_out=""
	for ((i = 0; i < $2; i++)); do
		printf -v b '%02X' $((RANDOM & 255))
		_rh_out+=$b
	done
}

VM_FD_LENS=(0 1 2 3 4 5 6 7 8 12 16 20 24 32 48 64)

# gen_frames [-c] [-L <len>] [-X <id>,...] <log> <count> <id>...
# Writes <count> random frames in candump -L form (interface "gen") to <log>: each frame's ID is
# drawn from the <id> list, where "r" is a random standard (11-bit) ID that is none of the -X IDs;
# the length is a random CAN FD length (-c: classic, 0..8) unless -L sets it; data are random.
# Send them with play_frames; the log is the exact record of what was sent.
gen_frames() {
	local classic=0 len="" exclude=","
	while [ $# -gt 0 ]; do
		case $1 in
		-c) classic=1 && shift ;;
		-L) len=$2 && shift 2 ;;
		-X) exclude=",${2^^}," && shift 2 ;;
		*) break ;;
		esac
	done
	local log=$1 count=$2 i id n data
	shift 2
	local ids=("$@")
	: >"$log" || return 1
	for ((i = 0; i < count; i++)); do
		id=${ids[RANDOM % ${#ids[@]}]}
		if [ "$id" = r ]; then
			printf -v id '%03X' $((RANDOM & 0x7FF))
			while [[ $exclude == *",$id,"* ]]; do printf -v id '%03X' $((RANDOM & 0x7FF)); done
		fi
		if [ -n "$len" ]; then
			n=$len
		elif [ "$classic" = 1 ]; then
			n=$((RANDOM % 9))
		else
			n=${VM_FD_LENS[RANDOM % ${#VM_FD_LENS[@]}]}
		fi
		rand_hex data "$n"
		# 8 classic bytes starting 5E17 would read as a sentinel (is_sentinel): draw again
		while [ "$classic" = 1 ] && [[ $data == 5E17* ]]; do rand_hex data "$n"; done
		if [ "$classic" = 1 ]; then
			echo "(0.000000) gen $id#$data"
		else
			echo "(0.000000) gen $id##0$data"
		fi
	done >>"$log"
}

play_frames() { # play_frames [-n NS] <ifname> <log>: sends gen_frames' frames on <ifname>, in order
	local ns=""
	if [ "$1" = -n ]; then
		ns=$2
		shift 2
	fi
	_vm_ns "$ns" canplayer -t -I "$2" "$1=gen"
}

# ---- waiting without sleep(1) ----------------------------------------------------------------

# A pipe nobody writes to: `read -t` on it is a sleep without exec'ing /bin/sleep.
exec {VM_NAP_FD}<> <(:)
vm_nap() { read -r -t "${1:-0.02}" -u "$VM_NAP_FD" _ || true; }

wait_until() { # wait_until <timeout, whole s> <command...>: polls until the command succeeds
	local limit=$(($1 * 1000)) start=${EPOCHREALTIME/./}
	shift
	until "$@"; do
		if [ $(((${EPOCHREALTIME/./} - start) / 1000)) -ge "$limit" ]; then return 1; fi
		vm_nap 0.02
	done
}

# ---- kernel modules and interfaces --------------------------------------------------------------

vm_modprobe_can() { # loads CAN, vcan/vxcan, can-gw and tc clsact/cls_bpf (one exec: each is slow)
	modprobe -a can can_raw can_dev vcan vxcan can_gw sch_ingress cls_bpf
}

_vm_ns() { # _vm_ns <ns> <command...>: run in a namespace ("" = here)
	local ns=$1
	shift
	if [ -n "$ns" ]; then ip netns exec "$ns" "$@"; else "$@"; fi
}

make_vcan() { # make_vcan <name>: a vcan with CAN FD MTU (72), up
	ip link add dev "$1" mtu 72 type vcan && ip link set dev "$1" up
}

make_vxcan_pair() { # make_vxcan_pair <nsA> <ifA> <nsB> <ifB>: vxcan tunnel, MTU 72, both ends up
	local nsa=$1 ifa=$2 nsb=$3 ifb=$4 ns
	for ns in "$nsa" "$nsb"; do
		[ -z "$ns" ] || [ -e "/run/netns/$ns" ] || ip netns add "$ns" || return 1
	done
	ip link add dev "$ifa" ${nsa:+netns "$nsa"} mtu 72 type vxcan \
		peer name "$ifb" ${nsb:+netns "$nsb"} mtu 72 || return 1
	ip ${nsa:+-n "$nsa"} link set dev "$ifa" up && ip ${nsb:+-n "$nsb"} link set dev "$ifb" up
}

# ---- candump / cansend --------------------------------------------------------------------------

_vm_rcv_count() { # _vm_rcv_count <rcvlist file> <ifname>: CAN receivers registered on ifname
	local n=0 line
	while read -r line; do
		[[ $line == "$2 "* ]] && n=$((n + 1))
	done 2>/dev/null <"$1"
	echo "$n"
}

_vm_alive() { # _vm_alive <pid>: running, not a zombie
	local stat
	read -r stat 2>/dev/null <"/proc/$1/stat" || return 1
	[[ $stat != *") Z "* && $stat != *") X "* ]]
}

_vm_candump_ready() { # pid ifname baseline
	[ "$(<"/proc/$1/comm")" = candump ] || return 1 # still `ip netns exec`
	[ "$(_vm_rcv_count "/proc/$1/net/can/rcvlist_all" "$2")" -gt "$3" ]
}

# start_candump [-n NS] <ifname> <logfile> [candump options...]
# Starts `candump -L` (log format) on ifname into logfile and returns once its receiver appears
# in the kernel's list (/proc/<pid>/net/can/rcvlist_all, the candump's own namespace), so no frame
# sent afterwards can be missed. Sets VM_CANDUMP_PID. Returns 1 (and kills it) on timeout.
start_candump() {
	local ns=""
	if [ "$1" = -n ]; then
		ns=$2
		shift 2
	fi
	local ifname=$1 log=$2 base
	shift 2
	# Receivers already on ifname; for another namespace its /proc/net needs an exec there.
	if [ -n "$ns" ]; then
		_vm_ns "$ns" cat /proc/net/can/rcvlist_all >"$log" 2>/dev/null
		base=$(_vm_rcv_count "$log" "$ifname")
		# Simple commands, not a function: the background child then execs candump itself, so
		# $! is candump's PID (ip netns exec also execs).
		ip netns exec "$ns" candump -L "$@" "$ifname" >"$log" 2>&1 &
	else
		base=$(_vm_rcv_count /proc/net/can/rcvlist_all "$ifname")
		candump -L "$@" "$ifname" >"$log" 2>&1 &
	fi
	VM_CANDUMP_PID=$!
	VM_CANDUMP_PIDS+=("$VM_CANDUMP_PID")
	local start=${EPOCHREALTIME/./}
	until _vm_candump_ready "$VM_CANDUMP_PID" "$ifname" "$base" 2>/dev/null; do
		if ! _vm_alive "$VM_CANDUMP_PID"; then
			echo "# start_candump: candump on $ifname${ns:+ in $ns} exited: $(head -c 300 "$log")" >&2
			stop_candump "$VM_CANDUMP_PID"
			return 1
		fi
		if [ $(((${EPOCHREALTIME/./} - start) / 1000000)) -ge "$VM_WAIT_TIMEOUT" ]; then
			echo "# start_candump: no receiver on $ifname${ns:+ in $ns} after ${VM_WAIT_TIMEOUT}s" >&2
			stop_candump "$VM_CANDUMP_PID"
			return 1
		fi
		vm_nap 0.02
	done
}

stop_candump() { # stop_candump <pid>
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	local p keep=()
	for p in "${VM_CANDUMP_PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
	VM_CANDUMP_PIDS=(${keep[@]+"${keep[@]}"})
	return 0
}

# send_frames [-n NS] <ifname> <frame>...: sends the frames in order with one canplayer exec
# (cansend costs an exec per frame).
send_frames() {
	local ns=""
	if [ "$1" = -n ]; then
		ns=$2
		shift 2
	fi
	local ifname=$1 f file
	shift
	file=$(mktemp /tmp/vm-frames.XXXXXX)
	for f in "$@"; do echo "(0.000000) $ifname $f"; done >"$file"
	_vm_ns "$ns" canplayer -t -I "$file"
	local rc=$?
	rm -f "$file"
	return $rc
}

log_has() { # log_has <logfile> <substring>
	local content
	content=$(<"$1") || return 1
	[[ $content == *"$2"* ]]
}

wait_for_frame() { # wait_for_frame <logfile> <ifname> <frame> [timeout s]: frame in candump -L form
	wait_until "${4:-$VM_WAIT_TIMEOUT}" log_has "$1" " $2 $3"
}

# send_sentinel [-n NS] <send ifname> <logfile> [<dump ifname> [<id>]]
# Sends a classic frame <id>#5E17<12 hex digits> (default id 7FF; the digits are the microsecond
# clock, so every sentinel is unique, even from subshells) on the send interface and waits until
# it shows up in logfile as received on <dump ifname> (default: the send interface). Use an ID
# the filter under test passes. Returns 1 on timeout.
send_sentinel() {
	local ns=""
	if [ "$1" = -n ]; then
		ns=$2
		shift 2
	fi
	local sif=$1 log=$2 dif=${3:-$1} id=${4:-7FF} frame
	frame=$(printf '%s#5E17%012X' "$id" $((${EPOCHREALTIME/./} & 0xFFFFFFFFFFFF)))
	_vm_ns "$ns" cansend "$sif" "$frame" || return 1
	if ! wait_for_frame "$log" "$dif" "$frame"; then
		echo "# send_sentinel: $frame sent on $sif not seen on $dif within ${VM_WAIT_TIMEOUT}s" >&2
		return 1
	fi
}

# ---- reading candump -L logs --------------------------------------------------------------------
# A log line is "(seconds.micro) ifname frame", e.g. "(1700000000.000001) vcan0 123##5AABB".

is_sentinel() { [[ $1 == *"#5E17"???????????? && $1 != *"##"* ]]; }

frames_in_log() { # frames_in_log <logfile>: the frames ("123##5AABB"), sentinels left out
	local _ts _if frame
	while read -r _ts _if frame; do
		[ -n "$frame" ] && ! is_sentinel "$frame" && echo "$frame"
	done <"$1"
}

data_in_log() { # data_in_log <logfile>: each frame's data in hex ("AABB"), FD flags nibble left out
	local f
	while read -r f; do
		if [[ $f == *"##"* ]]; then f=${f#*##} && echo "${f:1}"; else echo "${f#*#}"; fi
	done < <(frames_in_log "$1")
}

ids_in_log() { # ids_in_log <logfile>: the IDs in arrival order, one line, sentinels left out
	local out="" f
	while read -r f; do out+=" ${f%%#*}"; done < <(frames_in_log "$1")
	echo "${out# }"
}

_vm_id_key() { # _vm_id_key <id as candump prints it>: "S:<value>" or, for 8 digits, "E:<value>"
	if [ ${#1} -eq 8 ]; then echo "E:$((16#$1))"; else echo "S:$((16#$1))"; fi
}

# count_frames <logfile> <id> [fd|classic]: frames with that ID. IDs are hex as candump prints
# them: 3 digits for a standard ID, 8 for an extended one (124 and 00000124 are different IDs).
count_frames() {
	local want n=0 f
	want=$(_vm_id_key "$2")
	while read -r f; do
		[ "$(_vm_id_key "${f%%#*}")" = "$want" ] || continue
		case "${3:-}" in
		fd) [[ $f == *"##"* ]] || continue ;;
		classic) [[ $f != *"##"* ]] || continue ;;
		esac
		n=$((n + 1))
	done < <(frames_in_log "$1")
	echo "$n"
}

# ---- BPF ----------------------------------------------------------------------------------------

# require_built <binary>...: a host-built binary the test needs; a missing one fails the test.
require_built() {
	local b
	for b in "$@"; do
		if [ ! -x "$b" ]; then
			not_ok "$b is built" "build it on the host first (scripts/test.sh builds everything)"
			vm_finish
		fi
	done
}

# dp_counter <ifname> <reason name>: the data plane's pinned per-reason counter, summed over CPUs
# by tests/tools/spsec_dp_driver; 0 when absent.
dp_counter() {
	local name val
	while read -r name val; do
		if [ "$name" = "$2" ]; then
			echo "$val"
			return
		fi
	done < <("$SPSEC_BUILD_DIR/tests/tools/spsec_dp_driver" counters "$1")
	echo 0
}

# What the loader must find on this kernel (probed at load time, never chosen at build time):
# tcx links from Linux 6.6 (tc_attachment.h), the BPF crypto kfuncs from 6.10.
kernel_at_least() { # kernel_at_least <major> <minor>
	local major minor
	IFS=. read -r major minor _ <<<"$(uname -r)"
	minor=${minor%%[!0-9]*}
	[ "$major" -gt "$1" ] || { [ "$major" -eq "$1" ] && [ "$minor" -ge "$2" ]; }
}
expected_attach() { if kernel_at_least 6 6; then echo tcx; else echo tc; fi; }
expected_crypto_kfuncs() { if kernel_at_least 6 10; then echo true; else echo false; fi; }
# the data plane's AES with SPSEC_AES unset: kernel where the crypto kfuncs are
expected_aes() { if kernel_at_least 6 10; then echo kernel; else echo bpf; fi; }

tc_prog_id() { # tc_prog_id <ifname> [ingress|egress]: id of the first tc BPF program there
	bpftool -j net show dev "$1" |
		jq -er --arg k "clsact/${2:-ingress}" '[.[0].tc[] | select(.kind == $k)][0].id'
}

prog_map_id() { # prog_map_id <prog id> <map name>: id of that program's map with that name
	local id
	for id in $(bpftool -j prog show id "$1" | jq -r '.map_ids[]?'); do
		if [ "$(bpftool -j map show id "$id" | jq -r .name)" = "$2" ]; then
			echo "$id"
			return 0
		fi
	done
	return 1
}

map_values() { # map_values <map id>: "v0 v1 ..." of an array map whose values are integers
	bpftool -j map dump id "$1" | jq -r '[.[] | (.formatted // .) | .value] | map(tostring) | join(" ")'
}

# ---- a bus of spsecd nodes ----------------------------------------------------------------------
# Nodes are letters; node N lives in namespace nsN on vxN, whose vxcan peer vxNw sits in the wire
# namespace W, where can-gw joins every pair (CAN FD and classic): a frame one node sends reaches
# all the others. spsecd's work files (configs, key stores, sockets) live in $SPSEC_DIR (the
# script sets it, e.g. SPSEC_DIR=$(mktemp -d /tmp/spsec-x.XXXXXX)).
# The binaries: the build tree's, unless the script's caller names others (tests/vm/installed.sh
# runs the demo with the ones the .deb installed).
SPSECD=${SPSECD:-$SPSEC_BUILD_DIR/userspace/daemon/spsecd}
SPSECCTL=${SPSECCTL:-$SPSEC_BUILD_DIR/userspace/ctl/spsecctl}
SPSEC_SETUP=${SPSEC_SETUP:-$SPSEC_SOURCE_DIR/scripts/spsec-setup}
SPSEC_STATE_DIR=/var/lib/spsec # spsecd's state dir: the Sync's persisted T and csalt
declare -A SPSEC_PIDS
# A node's key store: SPSEC_KEY_STORE[N] when set (the test made it), else spsec_write_config
# copies $SPSEC_DIR/keys (spsec_new_keys) to $SPSEC_DIR/keys-N.
declare -A SPSEC_KEY_STORE
# More configuration lines for node N: SPSEC_CONFIG_EXTRA[N] (e.g. "attach: tc"), appended.
declare -A SPSEC_CONFIG_EXTRA
# spsec_write_config reads these: the same on every node of a bus.
SPSEC_AEAD=${SPSEC_AEAD:-aes-gcm}
SPSEC_MODE=${SPSEC_MODE:-encrypt}
SPSEC_SECURED_IDS=${SPSEC_SECURED_IDS:-0x123}
SPSEC_PLAIN_IDS=${SPSEC_PLAIN_IDS:-}

spsec_bus_up() { # spsec_bus_up <node>...: vxcan per node into W, can-gw between every pair, bpffs
	local n s d
	for n in "$@"; do rm -f "$VM_OUT/spsecd-$n.log"; done # VM_OUT outlives the run: fresh logs
	vm_modprobe_can || return 1
	[ -e /run/netns/W ] || ip netns add W || return 1
	for n in "$@"; do make_vxcan_pair "ns$n" "vx$n" W "vx${n}w" || return 1; done
	# -i: ifindexes are per namespace, so can-gw must be allowed to route to any of them. One
	# shell in W runs every cangw (an `ip netns exec` per rule costs seconds under TCG).
	local rules=""
	for s in "$@"; do
		for d in "$@"; do
			[ "$s" = "$d" ] && continue
			rules+="cangw -A -s vx${s}w -d vx${d}w -X -i && cangw -A -s vx${s}w -d vx${d}w -i && "
		done
	done
	ip netns exec W sh -c "${rules}:" || return 1
	mkdir -p /sys/fs/bpf /var/lib/spsec || return 1
	mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
}

spsec_new_keys() { # spsec_new_keys: one key store ($SPSEC_DIR/keys) for every node
	"$SPSEC_SETUP" new-keys "$SPSEC_DIR/keys" --id 0x00000042
}

# spsec_bus_setup <node>...: spsecd and spsecctl built, the bus (spsec_bus_up), a fresh Sync
# state (no persisted T or csalt) and one key store (spsec_new_keys); a failure fails the test
# and finishes it.
spsec_bus_setup() {
	require_built "$SPSECD" "$SPSECCTL"
	check "nodes $* in namespaces, joined by can-gw" spsec_bus_up "$@" || vm_finish
	rm -f "$SPSEC_STATE_DIR/vxS.t" "$SPSEC_STATE_DIR/vxS.csalt"
	check "spsec-setup new-keys writes a key store" spsec_new_keys || vm_finish
}

# spsec_sab_configs <S transmit> <A transmit> <B transmit>: configs of the usual three nodes, the
# Sync S (1) and participants A (5) and B (6), each monitoring the other two's heartbeats
spsec_sab_configs() {
	spsec_write_config S 1 on "5, 6" "$1" && spsec_write_config A 5 off "1, 6" "$2" &&
		spsec_write_config B 6 off "1, 5" "$3"
}

# spsec_bus_start [<sync timeout> [<participant timeout>]]: the Sync, then A and B, each up to
# Secure (by PA for A and B), within the timeouts in seconds (default $VM_WAIT_TIMEOUT and 60).
# Non-zero status after the first node that does not get there.
spsec_bus_start() {
	spsec_start_node S
	check "the Sync reaches Secure" wait_until "${1:-$VM_WAIT_TIMEOUT}" spsec_state_is S Secure ||
		return 1
	spsec_start_node A
	spsec_start_node B
	check "participant A reaches Secure by Parameter Authentication" \
		wait_until "${2:-60}" spsec_state_is A Secure || return 1
	check "participant B reaches Secure by Parameter Authentication" \
		wait_until "${2:-60}" spsec_state_is B Secure
}

# spsec_sab_recorders <wire log>: each node's application candump (a 4 MiB receive buffer, so it
# loses no frame while the VM is busy) and, in namespace W, a recorder of every node's frames as
# they travel on the wire (what a bus attacker records)
spsec_sab_recorders() {
	local n
	for n in S A B; do
		start_candump -n "ns$n" "vx$n" "$(spsec_app_log "$n")" -r 4194304 ||
			not_ok "candump on $n"
	done
	start_candump -n W vxAw "$1" vxSw vxBw || not_ok "the recorder on the wire"
}

# spsec_write_config <node> <pp> <sync on|off> <monitor list> <transmit list>
# A test configuration: 1 ms tick (data_bitrate 100k) with the widest acceptance window and a 2 s
# PA round trip, because processes under TCG start and get scheduled slowly; sync_abort at its
# minimum (20 s) so Sync loss shows quickly; warning_abort from SPSEC_WARNING_ABORT (default 60s);
# further timeouts from SPSEC_TIMEOUTS_EXTRA (e.g. "response: 5s"; the test says why).
# The product's defaults stay strict. A test of the production timing sets SPSEC_DATA_BITRATE
# (1M: 100 us tick), SPSEC_WINDOW (150), SPSEC_PA_MAX_RTT (20ms) and SPSEC_HB_CYCLE.
spsec_write_config() {
	local ks=${SPSEC_KEY_STORE[$1]:-}
	if [ -z "$ks" ]; then
		ks=$SPSEC_DIR/keys-$1
		cp "$SPSEC_DIR/keys" "$ks" && chmod 0600 "$ks" || return 1
	fi
	cat >"$SPSEC_DIR/$1.yaml" <<CFG
interface: vx$1
participant_id: $2
sync: $3
aead: $SPSEC_AEAD
mode: $SPSEC_MODE
data_bitrate: ${SPSEC_DATA_BITRATE:-100k}
acceptance_window: ${SPSEC_WINDOW:-2047}
heartbeat: {cycle: ${SPSEC_HB_CYCLE:-2s}, monitor: [$4]}
secured_ids: [$SPSEC_SECURED_IDS]
plaintext_ids: [$SPSEC_PLAIN_IDS]
transmit_ids: [$5]
key_store: $ks
control_socket: $SPSEC_DIR/$1.sock
pin_dir: /sys/fs/bpf/spsec/vx$1
timeouts: {pa_retry: 2s, pa_max_rtt: ${SPSEC_PA_MAX_RTT:-2s}, sync_abort: 20s, warning_abort: ${SPSEC_WARNING_ABORT:-60s}${SPSEC_TIMEOUTS_EXTRA:+, $SPSEC_TIMEOUTS_EXTRA}}
${SPSEC_CONFIG_EXTRA[$1]:-}
CFG
}

spsec_start_node() { # spsec_start_node <node>: spsecd in nsN, log $VM_OUT/spsecd-N.log
	# nsenter, not `ip netns exec`: that remounts /sys, hiding the bpffs the pins live in.
	nsenter --net="/run/netns/ns$1" "$SPSECD" --config "$SPSEC_DIR/$1.yaml" --log-level debug \
		>>"$VM_OUT/spsecd-$1.log" 2>&1 &
	SPSEC_PIDS[$1]=$!
}

spsec_stop_node() { # spsec_stop_node <node>: SIGTERM, returns spsecd's exit status
	kill -TERM "${SPSEC_PIDS[$1]}"
	wait "${SPSEC_PIDS[$1]}"
}
spsec_stop_node_ok() { # spsec_stop_node_ok <node>: SIGTERM; the check that the exit status is 0
	spsec_stop_node "$1"
	check_eq "$1 exits 0 on SIGTERM" 0 "$?"
}

spsec_status_json() { "$SPSECCTL" status --socket "$SPSEC_DIR/$1.sock" --json 2>/dev/null; }
# spsec_status_field <node> <key>: one field of the status ("state", "heartbeat.last_sent_ms_ago")
spsec_status_field() { spsec_status_json "$1" | jq -r ".$2" 2>/dev/null; }
spsec_state_is() { [ "$(spsec_status_field "$1" state)" = "$2" ]; }
# spsec_stats_json <node>: the data plane's counters by reason (pinned maps, no spsecd needed)
# Run in the node's namespace (nsenter: `ip netns exec` would remount /sys and hide bpffs), where
# spsecctl finds vxN and checks that the tc filters are attached.
spsec_stats() { # spsec_stats <node> [ARGS...]: spsecctl stats of the node's pinned maps
	local ns=()
	[ -e "/run/netns/ns$1" ] && ns=(nsenter --net="/run/netns/ns$1")
	"${ns[@]}" "$SPSECCTL" stats --pin-dir "/sys/fs/bpf/spsec/vx$1" "${@:2}"
}
spsec_stats_json() { spsec_stats "$1" --json; }
spsec_count() { # spsec_count <node> <reason name>...: those counters, space-separated
	local n=$1 names
	shift
	names=$(printf '.%s,' "$@")
	spsec_stats_json "$n" | jq -r "[.counters | ${names%,}] | map(tostring) | join(\" \")"
}
# spsec_drops <node>: "reason=count ..." of every data-plane drop counter that is not 0; "" when
# none. The stats JSON lists the pass reasons itself ("passes", from SPSEC_REASONS in abi.h).
spsec_drops() {
	spsec_stats_json "$1" | jq -r '.passes as $p
		| [.counters | to_entries[] | select(.value != 0 and (.key as $k | $p | index($k) | not))
		| "\(.key)=\(.value)"] | join(" ")'
}

# The applications' candump on node N logs into $SPSEC_APP_LOG-N.log (set SPSEC_APP_LOG first).
spsec_app_log() { echo "${SPSEC_APP_LOG:-$VM_OUT/app}-$1.log"; }
# spsec_x_tx: frames the attacker (node X, no spsecd) has put on the bus: its vxcan's tx count
spsec_x_tx() { ip -n nsX -j -s link show vxX | jq '.[0].stats64.tx.packets'; }
SPSEC_X_SENTINELS=0
# spsec_sentinel <from> <node>...: a plain 7FF frame (a plaintext ID on the bus) from node <from>,
# seen by the applications of every other listed node: every frame <from> sent before it has been
# delivered or dropped there. Counts the attacker's in SPSEC_X_SENTINELS (call it directly, not
# through check, so the count survives).
spsec_sentinel() {
	local from=$1 frame n
	shift
	frame=$(printf '7FF#5E17%012X' $((${EPOCHREALTIME/./} & 0xFFFFFFFFFFFF)))
	ip netns exec "ns$from" cansend "vx$from" "$frame" || return 1
	[ "$from" = X ] && SPSEC_X_SENTINELS=$((SPSEC_X_SENTINELS + 1))
	for n in "$@"; do
		[ "$n" = "$from" ] && continue
		wait_for_frame "$(spsec_app_log "$n")" "vx$n" "$frame" 60 ||
			{ echo "# sentinel from $from not seen on $n" >&2; return 1; }
	done
}

# ---- counting every frame -----------------------------------------------------------------------
# spsec_snap <label> <node>...: all nodes' counters in one file, $SPSEC_DIR/snap-<label>.json =
# {"A": {"interface":"vxA","counters":{...}}, ...}
spsec_snap() {
	local label=$1 n sep="" out="{"
	shift
	for n in "$@"; do
		out+="$sep\"$n\":$(spsec_stats_json "$n")" || return 1
		sep=","
	done
	echo "$out}" >"$SPSEC_DIR/snap-$label.json"
}

# spsec_account <from> <to> <attack frames>: one JSON object per node between two snapshots:
#   valid_sent  secured frames the other nodes' data planes sent (sum of their tx_ok)
#   delivered   what this node's data plane verified and passed to its applications (rx_ok)
#   attack_sent frames the attacker put on the bus (each reaches every node)
#   dropped     frames this node's ingress dropped, any reason; reasons: each non-zero one
#   tx_dropped  frames this node's own applications sent that its egress refused
# Frames every node passes by design (control plane, plaintext IDs, local echo) are left out, and
# so are a gateway's segment reasons (rx_gw_*, tx_gw_*: counted on its plain segments, not on
# the secured bus; vm/demo_gateway.sh books them separately).
# The bus is lossless (vxcan + can-gw), so the books balance exactly when delivered ==
# valid_sent and dropped == attack_sent.
spsec_account() {
	jq -c -n --argjson attack "$3" --slurpfile from "$SPSEC_DIR/snap-$1.json" \
		--slurpfile to "$SPSEC_DIR/snap-$2.json" '
	def passes: [$to[0][]][0].passes;
	def bus($k): ($k | test("^(rx|tx)_gw_") | not) and (passes | index($k) | not);
	def drops($d; $dir): [$d | to_entries[] | select(.key | startswith($dir))
		| select(bus(.key)) | .value] | add // 0;
	[$to[0] | keys_unsorted[] as $n | {node: $n, d: ($to[0][$n].counters
		| with_entries(.value -= ($from[0][$n].counters[.key] // 0)))}] as $ds
	| $ds[] | . as $x
	| {node: $x.node,
	   valid_sent: ([$ds[] | select(.node != $x.node) | .d.tx_ok] | add // 0),
	   delivered: $x.d.rx_ok, attack_sent: $attack,
	   dropped: drops($x.d; "rx_"), tx_dropped: drops($x.d; "tx_"), tx_ok: $x.d.tx_ok,
	   reasons: ($x.d | with_entries(select(.value != 0 and bus(.key))))}'
}

# spsec_check_books <what> <account lines>: one check per node that every frame is accounted for:
# delivered == valid_sent, dropped == attack_sent, tx_dropped == 0
spsec_check_books() {
	local what=$1 node vs dl as dr td
	while read -r node vs dl as dr td; do
		check_eq "$what: $node's books balance (delivered/valid sent, dropped/attack frames, refused/0)" \
			"$vs/$vs $as/$as 0/0" "$dl/$vs $dr/$as $td/0"
	done < <(jq -r '"\(.node) \(.valid_sent) \(.delivered) \(.attack_sent) \(.dropped) \(.tx_dropped)"' <<<"$2")
}

# ---- spsecd's log -------------------------------------------------------------------------------
log_lines() { local n=0 _l; while read -r _l; do n=$((n + 1)); done <"$1"; echo "$n"; }
log_after() { tail -n "+$(($2 + 1))" "$1"; } # log_after <log> <line count>: the lines after it

# quiet_since <node> <log line mark> [pp...]: since the mark the node logged no data-plane event,
# no security event other than heartbeat_missing of those participants (a killed spsecd sends no
# heartbeat: EF00h + pp is the protocol noticing), and changed state only between Secure and
# Warning (which only a security event causes: without pp, no state change). Prints the
# offending lines.
quiet_since() {
	local n=$1 mark=$2 line pp codes=" " bad=0 code
	shift 2
	for pp in "$@"; do codes+=$(printf '0x0000ef%02x ' "$pp"); done
	while read -r line; do
		if [[ $line == *"security event "* ]]; then
			code=${line#*security event }
			code=${code%% *}
			[[ $codes == *" $code "* && $line == *"(heartbeat_missing)"* ]] && continue
		elif [[ $line =~ state\ ([A-Za-z]+)\ -\>\ ([A-Za-z]+)$ ]]; then
			case "${BASH_REMATCH[1]}-${BASH_REMATCH[2]}" in
			Secure-Warning | Warning-Secure) continue ;;
			esac
		elif [[ $line != *"warning: data plane: "* ]]; then
			continue
		fi
		echo "$line"
		bad=1
	done < <(log_after "$VM_OUT/spsecd-$n.log" "$mark")
	return $bad
}

# ---- a continuous secured stream A -> B, counted exactly ----------------------------------------
# The application on A (cangen) sends CAN FD frames of ID 123, 8 bytes, with an incrementing
# payload, one per gap; candumps record them on A (its own frames, as the application wrote them)
# and on B (what B's application receives). STREAM_PID is cangen's PID.

stream_start() { # stream_start <gap ms> [count]: in the background; no count: until stream_stop
	# -p: on ENOBUFS wait and retry, never skip a frame.
	ip netns exec nsA cangen vxA -f -I 123 -L 8 -D i -g "$1" ${2:+-n "$2"} -p 100 &
	STREAM_PID=$!
}
stream_running() { _vm_alive "$STREAM_PID"; }
stream_done() { ! stream_running; }
stream_stop() { # stops an endless stream; cangen ends cleanly on SIGTERM
	kill -TERM "$STREAM_PID" 2>/dev/null
	wait "$STREAM_PID" 2>/dev/null
	return 0
}

stream_frames() { # stream_frames <candump log>: payloads of the stream's frames, in order
	local f
	while read -r f; do
		[[ $f == 123##????????????????? ]] && echo "${f#123##?}"
	done < <(frames_in_log "$1")
}
stream_expected() { # stream_expected <count>: the payloads cangen -D i sends: LE64 counter 0..
	local i
	for ((i = 0; i < $1; i++)); do
		printf '%02X%02X%02X%02X00000000\n' $((i & 255)) $((i >> 8 & 255)) $((i >> 16 & 255)) \
			$((i >> 24 & 255))
	done
}
# stream_check <what> <expected payloads> <candump log>: the log holds exactly those, in order
stream_check() {
	local got
	got=$(stream_frames "$3")
	if [ "$got" = "$2" ]; then
		ok "$1"
	else
		not_ok "$1" "$(grep -c . <<<"$got") stream frames, $(grep -c . <<<"$2") expected; first differences:" \
			"$(diff <(echo "$2") <(echo "$got") | head -n 12)"
	fi
}
stream_end() { # stream_end <log on A> <log on B>: a 3-byte end marker of ID 123, in both logs
	# Once it is there, every frame sent before it has been delivered (or dropped).
	ip netns exec nsA cansend vxA 123##1E0D0E0 &&
		wait_for_frame "$2" vxB 123##5E0D0E0 60 && wait_for_frame "$1" vxA 123##5E0D0E0 60
}

# stream_open <log on A> <log on B>: takes each node's log mark (STREAM_MARK) and rx_ok/tx_ok
# counters, then starts the two candumps.
declare -A STREAM_MARK STREAM_RX0 STREAM_TX0
stream_open() {
	local n
	STREAM_LOGA=$1 STREAM_LOGB=$2
	for n in A B S; do
		# shellcheck disable=SC2034 # read by the scripts
		STREAM_MARK[$n]=$(log_lines "$VM_OUT/spsecd-$n.log")
		read -r "STREAM_RX0[$n]" "STREAM_TX0[$n]" < <(spsec_count "$n" rx_ok tx_ok)
	done
	start_candump -n nsA vxA "$1" || not_ok "candump on A"
	STREAM_DUMPS=("$VM_CANDUMP_PID")
	start_candump -n nsB vxB "$2" || not_ok "candump on B"
	STREAM_DUMPS+=("$VM_CANDUMP_PID")
}
# stream_close <check prefix> [count]: after the stream ended, the end marker, then the exact
# count: A's application sent the frames 0..N-1 (N = count, or what A's log holds), B's
# application received exactly those, plain, in order; rx_ok on B and on the Sync and tx_ok on A
# moved by N + 1 (the marker); every drop counter of every node is 0.
stream_close() {
	local pre=$1 count=$2 want p n
	check "${pre}the end marker reaches B's and A's candump" \
		stream_end "$STREAM_LOGA" "$STREAM_LOGB"
	for p in "${STREAM_DUMPS[@]}"; do stop_candump "$p"; done
	[ -n "$count" ] || count=$(stream_frames "$STREAM_LOGA" | grep -c .)
	echo "# ${pre}the stream: $count frames"
	want=$(stream_expected "$count")
	stream_check "${pre}A's application sent the frames 0..$((count - 1)), no gap" "$want" \
		"$STREAM_LOGA"
	stream_check "${pre}B's application received every one, plain, in order" "$want" \
		"$STREAM_LOGB"
	check_eq "${pre}B's data plane verified each of them (rx_ok +$((count + 1)) with the marker)" \
		$((count + 1)) $(($(spsec_count B rx_ok) - STREAM_RX0[B]))
	check_eq "${pre}the Sync's data plane verified each of them too" \
		$((count + 1)) $(($(spsec_count S rx_ok) - STREAM_RX0[S]))
	check_eq "${pre}A's data plane stamped each of them (tx_ok +$((count + 1)))" \
		$((count + 1)) $(($(spsec_count A tx_ok) - STREAM_TX0[A]))
	for n in A B S; do
		check_eq "${pre}no data-plane drop on $n, for any reason" "" "$(spsec_drops "$n")"
	done
}

# ---- one spsecd gateway node on vx0 (gateway_daemon.sh, gateway_senders.sh) ---------------------
# gw_setup <tmp dir prefix>: spsecd, spsecctl and the test driver built; the CAN and tc modules;
# the secured interface vx0 (its peer vx1 in namespace "bus") and the plain segment p1 (its peer
# l1 in "legacy"); bpffs; no persisted T or csalt of vx0; a key store $GW_DIR/keys. Sets GW_DIR
# (spsecd's work files), GW_SOCK (its control socket) and GW_LOG ($VM_OUT/spsecd.log). A failure
# fails the test and finishes it.
gw_setup() {
	GW_DIR=$(mktemp -d "/tmp/$1.XXXXXX")
	GW_SOCK=$GW_DIR/vx0.sock
	# shellcheck disable=SC2034 # read by the scripts
	GW_LOG=$VM_OUT/spsecd.log
	GW_DRV=$SPSEC_BUILD_DIR/tests/tools/spsec_dp_driver
	require_built "$SPSECD" "$SPSECCTL" "$GW_DRV"
	check "CAN modules load" vm_modprobe_can || vm_finish
	check "vxcan vx0 <-> bus/vx1 (secured bus)" make_vxcan_pair "" vx0 bus vx1 || vm_finish
	check "vxcan p1 <-> legacy/l1 (plain segment)" make_vxcan_pair "" p1 legacy l1 || vm_finish
	mkdir -p /sys/fs/bpf "$SPSEC_STATE_DIR" && { mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf; }
	rm -f "$SPSEC_STATE_DIR/vx0.t" "$SPSEC_STATE_DIR/vx0.csalt"
	check "spsec-setup new-keys writes a key store" \
		"$SPSEC_SETUP" new-keys "$GW_DIR/keys" --id 0x00000042 || vm_finish
}

# gw_config_head <file> <secured ids> <transmit ids>: the node part of vx0's configuration (the
# Sync, AES-GCM, 1 ms tick, the widest window); the caller appends senders: and gateway:
gw_config_head() {
	cat >"$1" <<CFG
interface: vx0
participant_id: 1
sync: on
aead: aes-gcm
data_bitrate: 100k
acceptance_window: 2047
secured_ids: [$2]
transmit_ids: [$3]
key_store: $GW_DIR/keys
control_socket: $GW_SOCK
pin_dir: /sys/fs/bpf/spsec/vx0
CFG
}

gw_status_field() { "$SPSECCTL" status --socket "$GW_SOCK" --json 2>/dev/null | jq -r ".$1"; }
gw_state_is() { [ "$(gw_status_field state)" = "$1" ]; }
gw_counter() { # gw_counter <name>: vx0's data-plane or per-rule counter (gw0_fwd, ...), 0 if none
	"$GW_DRV" counters vx0 | awk -v n="$1" '$1 == n { print $2; f = 1 } END { if (!f) print 0 }'
}

# ---- the package installed first ----------------------------------------------------------------
# SPSEC_VM_DEB=<path of a .deb> (the arm64 tier: tests/vm/arm64.cmake): before the test runs,
# dpkg -i installs it in the guest as an operator would, resolving its dependencies against the
# root's dpkg database and running its maintainer scripts for real; the bus helpers above then
# use the installed /usr/sbin/spsecd, /usr/bin/spsecctl and /usr/sbin/spsec-setup. The guest's
# root is a tmpfs overlay, so the install is gone at power-off.
vm_install_deb() { # vm_install_deb <.deb>: installs it, with checks; a failed install finishes
	local deb=$1 arch
	arch=$(dpkg --print-architecture)
	check_eq "$(basename "$deb") is a package for this machine's architecture" "$arch" \
		"$(dpkg-deb -f "$deb" Architecture 2>&1)" || vm_finish
	check "dpkg -i installs it (dependencies from the root's dpkg database, maintainer scripts run)" \
		dpkg -i "$deb" || vm_finish
	check_eq "dpkg lists spsec-linux:$arch installed" "install ok installed $arch" \
		"$(dpkg-query -W -f='${Status} ${Architecture}' spsec-linux)"
	check "every file as packaged (dpkg --verify)" dpkg --verify spsec-linux
	check "postinst made the group spsec" getent group spsec
	check_eq "postinst made /etc/spsec (0755) and /var/lib/spsec (0700)" "755 700" \
		"$(stat -c %a /etc/spsec /var/lib/spsec | tr '\n' ' ' | sed 's/ $//')"
	check "the installed spsecd and spsecctl run on $(uname -m)" bash -c \
		"/usr/sbin/spsecd --help 2>&1 | grep -q '^usage: spsecd' &&
		 /usr/bin/spsecctl --help 2>&1 | grep -qi 'usage'"
	SPSECD=/usr/sbin/spsecd SPSECCTL=/usr/bin/spsecctl SPSEC_SETUP=/usr/sbin/spsec-setup
}
if [ -n "${SPSEC_VM_DEB:-}" ]; then vm_install_deb "$SPSEC_VM_DEB"; fi
