#!/usr/bin/env bash
# vm tier: three spsecd on one CAN FD bus — the Sync (1) and participants A (5) and B (6), each in
# its own namespace, joined through the wire namespace W by can-gw:
#   nsS:vxS ==vxcan== vxSw \
#   nsA:vxA ==vxcan== vxAw  [ W: can-gw between every pair ]
#   nsB:vxB ==vxcan== vxBw /
# All reach Secure through Parameter Authentication, a secured ID sent plain by an application
# on A arrives plain at B (stamped on the wire), heartbeats show in status; after kill -9 of A's
# spsecd its data plane keeps securing and a restarted spsecd resumes it; a stopped node is
# reported missing by the others; without the Sync the participants abort (FE0Fh) and recover
# by PA when it returns. TCG is slow: the test config allows a 2 s PA round trip and a
# 1 ms tick with the widest acceptance window (the defaults stay strict). Asserts on spsecctl
# --json output and the logs, never on timing.
# shellcheck source=tests/vm/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SPSECD=$SPSEC_BUILD_DIR/userspace/daemon/spsecd
SPSECCTL=$SPSEC_BUILD_DIR/userspace/ctl/spsecctl
W=$(mktemp -d /tmp/spsecd-bus.XXXXXX)
LOGW=$VM_OUT/bus-wire.log
LOGB=$VM_OUT/bus-nodeB.log
declare -A PIDS

require_built "$SPSECD" "$SPSECCTL"
check "CAN modules load" vm_modprobe_can || vm_finish
ip netns add W || true
for n in S A B; do
	check "vxcan ns$n:vx$n <-> W:vx${n}w" make_vxcan_pair "ns$n" "vx$n" W "vx${n}w" || vm_finish
done
# -i: ifindexes are per namespace, so can-gw must be allowed to route to any of them.
gw() {
	local s d
	for s in S A B; do
		for d in S A B; do
			[ "$s" = "$d" ] && continue
			ip netns exec W cangw -A -s "vx${s}w" -d "vx${d}w" -X -i || return 1
			ip netns exec W cangw -A -s "vx${s}w" -d "vx${d}w" -i || return 1
		done
	done
}
check "can-gw in W joins vxSw, vxAw and vxBw" gw || vm_finish
mkdir -p /sys/fs/bpf && { mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf; }
mkdir -p /var/lib/spsec
rm -f /var/lib/spsec/vxS.t /var/lib/spsec/vxS.csalt

check "spsec-setup new-keys writes a key store" \
	"$SPSEC_SOURCE_DIR/scripts/spsec-setup" new-keys "$W/keys" --id 0x00000042

write_config() { # write_config <node> <pp> <sync on|off> <monitor list> <transmit list>
	cp "$W/keys" "$W/keys-$1" && chmod 0600 "$W/keys-$1"
	cat >"$W/$1.yaml" <<CFG
interface: vx$1
participant_id: $2
sync: $3
aead: aes-gcm
data_bitrate: 100k
acceptance_window: 2047
heartbeat: {cycle: 2s, monitor: [$4]}
secured_ids: [0x123]
transmit_ids: [$5]
key_store: $W/keys-$1
control_socket: $W/$1.sock
pin_dir: /sys/fs/bpf/spsec/vx$1
timeouts: {pa_retry: 2s, pa_max_rtt: 2s, sync_abort: 20s, warning_abort: 60s}
CFG
}
write_config S 1 on "5, 6" ""
write_config A 5 off "1, 6" "0x123"
write_config B 6 off "1, 5" ""

status_json() { "$SPSECCTL" status --socket "$W/$1.sock" --json 2>/dev/null; }
state_is() { [ "$(status_json "$1" | jq -r .state 2>/dev/null)" = "$2" ]; }
start_node() { # start_node <node>
	# nsenter, not `ip netns exec`: that remounts /sys, hiding the bpffs the pins live in.
	nsenter --net="/run/netns/ns$1" "$SPSECD" --config "$W/$1.yaml" --log-level debug \
		>>"$VM_OUT/spsecd-$1.log" 2>&1 &
	PIDS[$1]=$!
}

start_candump -n W vxAw "$LOGW" || not_ok "candump on the wire"
start_candump -n nsB vxB "$LOGB" || not_ok "candump on node B"

start_node S
check "the Sync reaches Secure" wait_until "$VM_WAIT_TIMEOUT" state_is S Secure
start_node A
start_node B
check "participant A reaches Secure by Parameter Authentication" \
	wait_until 60 state_is A Secure
check "participant B reaches Secure by Parameter Authentication" \
	wait_until 60 state_is B Secure
check "the Sync answered PA requests" log_has "$VM_OUT/spsecd-S.log" "answering the PA request"
check "A logged its Parameter Authentication" \
	log_has "$VM_OUT/spsecd-A.log" "Parameter Authentication succeeded"
check_eq "A holds a Communication Key" true \
	"$(status_json A | jq '.comm_key_windows | length >= 1')"

# ---- data: plain in on A, stamped on the wire, plain out on B ---------------------------------
deliver() { # deliver <hex payload>: sent plain on A until it arrives plain on B
	ip netns exec nsA cansend vxA "123##1$1" 2>/dev/null
	wait_until 2 log_has "$LOGB" " vxB 123##5$1"
}
check "a secured frame sent plain on A arrives plain on B" wait_until 60 deliver DEADBEEF
check "the wire carries 123 stamped (16 bytes), never the plain payload" bash -c "
	grep -q ' vxAw 123##5[0-9A-F]\{32\}\$' '$LOGW' && ! grep -q DEADBEEF '$LOGW'"

# ---- heartbeats -------------------------------------------------------------------------------
hb_seen() { # hb_seen <node> <pp>: status lists pp with a heartbeat time
	status_json "$1" | jq -e ".peers | map(select(.pp == $2 and .last_heartbeat_ms_ago != null)) | length == 1" >/dev/null
}
check "A sees the Sync's heartbeat" wait_until 30 hb_seen A 1
check "A sees B's heartbeat" wait_until 30 hb_seen A 6
check "the Sync sees A's heartbeat" wait_until 30 hb_seen S 5
check "the wire carries heartbeats of A" grep -q ' vxAw 12..0A05##' "$LOGW"
echo "# A status: $(status_json A | jq -c '{state,t,comm_key_windows,heartbeat,peers}')"

# ---- kill -9: the data plane keeps enforcing, a restarted spsecd resumes ----------------------
kill -KILL "${PIDS[A]}"
wait "${PIDS[A]}" 2>/dev/null
check "with A's spsecd dead, its data plane still secures A -> B" wait_until 30 deliver 0A0B0C0D
start_node A
check "the restarted spsecd resumes the live pinned data plane" \
	wait_until 30 log_has "$VM_OUT/spsecd-A.log" "resuming the live pinned data plane"
own_sync() { [ "$(status_json A | jq -r .resumed)" = false ] && state_is A Secure; }
check "A re-establishes its own clock and keys by PA, still Secure" wait_until 60 own_sync
check "data flows A -> B after the resume" wait_until 30 deliver 01020304

# ---- a stopped node is missed ---------------------------------------------------------------
kill -TERM "${PIDS[B]}"
wait "${PIDS[B]}"
check_eq "B exits 0 on SIGTERM" 0 "$?"
b_missing() { status_json A | jq -e '.peers | map(select(.pp == 6 and .missing)) | length == 1' >/dev/null; }
check "A reports B's heartbeat missing" wait_until 30 b_missing
check "A logged event EF06h" log_has "$VM_OUT/spsecd-A.log" "security event 0x0000ef06"

# ---- the Sync goes away: abort after sync_abort (20 s here), recovery when it returns ----------
kill -TERM "${PIDS[S]}"
wait "${PIDS[S]}"
check_eq "the Sync exits 0 on SIGTERM" 0 "$?"
check "without Sync broadcasts A aborts to Waiting" wait_until 60 state_is A Waiting
check "A logged event FE0Fh" log_has "$VM_OUT/spsecd-A.log" "0x0000fe0f"
start_node S
check "the Sync is back in Secure" wait_until "$VM_WAIT_TIMEOUT" state_is S Secure
check "A recovers to Secure by Parameter Authentication" wait_until 60 state_is A Secure

for n in S A; do
	kill -TERM "${PIDS[$n]}"
	wait "${PIDS[$n]}"
	check_eq "$n exits 0 on SIGTERM" 0 "$?"
done
rm -rf "$W"
vm_finish
