#!/usr/bin/env bash
# vm tier: spsecd start-up with the real data plane, control socket, reload, signals and
# persisted T on a vxcan pair
# (runs in the VM, see tests/vm/daemon.cmake). Asserts on spsecctl --json output and on spsecd's
# one-line-per-event log, never on timing.
# shellcheck source=tests/vm/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SPSECD=$SPSEC_BUILD_DIR/userspace/daemon/spsecd
SPSECCTL=$SPSEC_BUILD_DIR/userspace/ctl/spsecctl
W=$(mktemp -d /tmp/spsecd-vm.XXXXXX)
SOCK=$W/vx0.sock
LOG=$VM_OUT/spsecd.log
PID=""

require_built "$SPSECD" "$SPSECCTL"
check "CAN modules load" vm_modprobe_can || vm_finish
# vx0 is this node's interface; its vxcan peer vx1 in namespace "bus" stands for the rest of the
# bus, so frames sent there arrive on vx0's ingress like frames from other nodes.
check "vxcan pair vx0 <-> bus/vx1 created" make_vxcan_pair "" vx0 bus vx1 || vm_finish
mkdir -p /sys/fs/bpf && { mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf; }

check "spsec-setup new-keys writes a key store" \
	"$SPSEC_SOURCE_DIR/scripts/spsec-setup" new-keys "$W/keys" --id 0x00000042

write_config() { # write_config <sync on|off> <acceptance window>
	cat >"$W/vx0.yaml" <<CFG
interface: vx0
participant_id: 5
sync: $1
aead: aes-gcm
data_bitrate: 2M
acceptance_window: $2
key_store: $W/keys
control_socket: $SOCK
pin_dir: /sys/fs/bpf/spsec/vx0
CFG
}

status_json() { "$SPSECCTL" status --socket "$SOCK" --json 2>/dev/null; }
status_field() { status_json | jq -r ".$1"; }
daemon_ready() { [ "$(status_field state 2>/dev/null)" = "$1" ]; }
alive() { [ -n "$PID" ] && _vm_alive "$PID"; }

start_daemon() { # start_daemon <expected state> [spsecd options]
	local want=$1
	shift
	"$SPSECD" --config "$W/vx0.yaml" "$@" >>"$LOG" 2>&1 &
	PID=$!
	if ! wait_until "$VM_WAIT_TIMEOUT" daemon_ready "$want"; then
		not_ok "spsecd reaches $want" "$(tail -n 20 "$LOG")"
		return 1
	fi
	ok "spsecd reaches $want"
}

stop_daemon() { # SIGTERM, then the exit status must be 0 and the socket gone
	kill -TERM "$PID"
	wait "$PID"
	local rc=$?
	PID=""
	check_eq "spsecd exits 0 on SIGTERM" 0 "$rc"
	check "control socket removed on exit" test ! -e "$SOCK"
}

# ---- participant ------------------------------------------------------------------------------
write_config off 150
: >"$LOG"
start_daemon Waiting --log-level debug || vm_finish
# Informational (the resource target is a benchmark, not a test): resident memory when idle.
echo "# spsecd idle: $(grep -E '^(VmRSS|VmLck)' "/proc/$PID/status" | tr -s ' \t' ' ' | tr '\n' ' ')"
check_eq "status names the interface" vx0 "$(status_field interface)"
check_eq "status shows the seed Key ID" 0x00000042 "$(status_field keys.seed)"
check_eq "participant clock is not set before Parameter Authentication" false \
	"$(status_field clock_set)"
check_eq "tick follows the 2 Mbit/s data rate" 50000 "$(status_field tick_ns)"
check "spsecctl status prints text" bash -c "'$SPSECCTL' status --socket '$SOCK' | grep -qx 'state: Waiting'"
check_eq "control socket mode is 0660" 660 "$(stat -c %a "$SOCK")"

# The CAN socket's filter passes control-plane IDs (bit 25, extended) only.
send_frames -n bus vx1 "181##1112233" "0AFF0805##100112233445566778899AABBCCDDEEFF"
check "spsecd receives a control-plane frame" \
	wait_until "$VM_WAIT_TIMEOUT" log_has "$LOG" "control frame 0x8aff0805 len 16"
check "spsecd does not receive data-plane frames" bash -c "! grep -q 'control frame 0x00000181' '$LOG'"

# The data plane: attached to both tc hooks, maps pinned, control frames from the bus counted.
check "spsec programs attached to vx0 ingress" tc_prog_id vx0 ingress
check "spsec programs attached to vx0 egress" tc_prog_id vx0 egress
check "counter map pinned" test -e /sys/fs/bpf/spsec/vx0/spsec_counters
rx_control() { "$SPSECCTL" stats --interface vx0 --json | jq -e '.counters.rx_control >= 1'; }
check "the control frame was counted as rx_control" rx_control
check_eq "status reports the same counters" true \
	"$(status_json | jq '.counters.rx_control >= 1')"
# Only spsecd (SO_MARK) may send control-plane frames; another local process is refused.
check "a local process cannot send a control-plane frame" bash -c '! cansend vx0 0AFF0805##10011'
tx_unmarked() { "$SPSECCTL" stats --interface vx0 --json | jq -e '.counters.tx_control_unmarked >= 1'; }
check "the refused frame is counted as tx_control_unmarked" tx_unmarked

# Events: a follower sees a refused reload; the daemon keeps running with the old config.
"$SPSECCTL" events --socket "$SOCK" >"$W/events.log" 2>&1 &
EVPID=$!
printf 'interface: [\n' >"$W/vx0.yaml"
hup_seen() { kill -HUP "$PID" && vm_nap 0.1 && log_has "$W/events.log" '"event":"reload","ok":false'; }
check "a bad config on SIGHUP is refused and reported as an event" \
	wait_until "$VM_WAIT_TIMEOUT" hup_seen
check "the refusal is logged" log_has "$LOG" "reload refused, keeping the running configuration"
check "spsecd still runs after a refused reload" alive
check_eq "the old acceptance window stays" 150 "$(status_field acceptance_window)"
write_config off 300
good_reload() { kill -HUP "$PID" && vm_nap 0.1 && [ "$(status_field acceptance_window)" = 300 ]; }
check "a good config on SIGHUP is applied" wait_until "$VM_WAIT_TIMEOUT" good_reload
stop_daemon
wait "$EVPID" 2>/dev/null
check "the events follower saw the state change to Shutdown" \
	log_has "$W/events.log" '"event":"state","from":"Waiting","to":"Shutdown"'
# Fail closed: the data plane outlives the daemon.
check "filters stay attached after spsecd exits" tc_prog_id vx0 ingress
check "spsecctl stats works while spsecd is down" "$SPSECCTL" stats --interface vx0
check "spsecctl stats --prometheus writes the textfile" \
	"$SPSECCTL" stats --interface vx0 --prometheus "$VM_OUT/spsec.prom"
check "the textfile has the rx_control sample" \
	grep -Eq '^spsec_frames_total\{interface="vx0",direction="rx",verdict="pass",reason="rx_control"\} [1-9]' "$VM_OUT/spsec.prom"

# ---- refusals ---------------------------------------------------------------------------------
chmod 0644 "$W/keys"
"$SPSECD" --config "$W/vx0.yaml" >"$W/refused.log" 2>&1
check_eq "a group-readable key store stops start-up (exit 1)" 1 "$?"
check "the error names the mode and the fix" log_has "$W/refused.log" "mode 0644"
chmod 0600 "$W/keys"

# ---- Sync role: persisted T never repeats -------------------------------------------------------
mkdir -p /var/lib/spsec
rm -f /var/lib/spsec/vx0.t
write_config on 150
start_daemon Secure || vm_finish
t1=$(status_field t)
stored=$(</var/lib/spsec/vx0.t)
stored=${stored#spsec-t 1 }
# First start: T begins at the wall-clock floor (realtime / tick), reserved 80 000 ahead.
check "first start reserves T ahead on disk (T=$t1, stored $stored)" test "$stored" -gt "$t1"
# 2 Mbit/s: 20 000 ticks per second.
check "first start T is at least the wall-clock floor" test "$t1" -ge $((($(date +%s) - 5) * 20000))
stop_daemon
start_daemon Secure || vm_finish
t=$(status_field t)
check "after a restart T continues beyond stored + 80000 (T=$t)" test "$t" -ge $((stored + 80000))
stop_daemon
printf 'garbage' >/var/lib/spsec/vx0.t
"$SPSECD" --config "$W/vx0.yaml" >"$W/corrupt.log" 2>&1
check_eq "a corrupt persisted T stops the Sync (exit 1)" 1 "$?"
check "the error says the T file is corrupt" log_has "$W/corrupt.log" "is corrupt"

rm -rf "$W"
vm_finish
