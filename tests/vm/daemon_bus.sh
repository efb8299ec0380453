#!/usr/bin/env bash
# vm tier: three spsecd on one CAN FD bus, the Sync and participants A and B in namespaces joined
# by can-gw (topology and test configuration: tests/vm/lib.sh spsec_bus_up, spsec_write_config).
# All reach Secure through Parameter Authentication, a secured ID sent plain by an application
# on A arrives plain at B (stamped on the wire), heartbeats show in status; after kill -9 of A's
# spsecd its data plane keeps securing and a restarted spsecd resumes it; a stopped node is
# reported missing by the others; without the Sync the participants abort (FE0Fh) and recover
# by PA when it returns. Asserts on spsecctl --json output and the logs, never on timing.
# shellcheck source=tests/vm/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SPSEC_DIR=$(mktemp -d /tmp/spsecd-bus.XXXXXX)
LOGW=$VM_OUT/bus-wire.log
LOGB=$VM_OUT/bus-nodeB.log

spsec_bus_setup S A B
# B's configuration forces tc filters (the attach key); where the kernel has tcx, A and the Sync
# probe and take tcx links, so both ways of attaching run on one bus
SPSEC_CONFIG_EXTRA[B]="attach: tc"
spsec_sab_configs "" 0x123 ""
start_candump -n W vxAw "$LOGW" || not_ok "candump on the wire"
start_candump -n nsB vxB "$LOGB" || not_ok "candump on node B"

spsec_bus_start
check "the Sync answered PA requests" log_has "$VM_OUT/spsecd-S.log" "answering the PA request"
check "A logged its Parameter Authentication" \
	log_has "$VM_OUT/spsecd-A.log" "Parameter Authentication succeeded"
check_eq "A holds a Communication Key" true \
	"$(spsec_status_json A | jq '.comm_key_windows | length >= 1')"

# ---- what the loader probed on this kernel ------------------------------------------------------
ATTACH=$(expected_attach)
check_eq "A's data plane is attached with $ATTACH on $(uname -r) (status)" "$ATTACH" \
	"$(spsec_status_field A data_plane.attach)"
check "A's log names the attach mode" log_has "$VM_OUT/spsecd-A.log" "(attach $ATTACH;"
check_eq "spsecctl stats reads the same mode from the kernel" "$ATTACH" \
	"$(spsec_stats_json A | jq -r .attach)"
spsec_stats A --prometheus "$VM_OUT/A.prom"
check_eq "the Prometheus attach-mode state set: 1 for $ATTACH, 0 for the other" \
	"tc $([ "$ATTACH" = tc ] && echo 1 || echo 0) tcx $([ "$ATTACH" = tcx ] && echo 1 || echo 0)" \
	"$(sed -n 's/^spsec_data_plane_attach_mode{interface="vxA",mode="\(tcx*\)"} \([01]\)$/\1 \2/p' \
		"$VM_OUT/A.prom" | tr '\n' ' ' | sed 's/ $//')"
check_eq "B's configuration (attach: tc) wins over the probe" tc \
	"$(spsec_status_field B data_plane.attach)"
check "B's log names tc" log_has "$VM_OUT/spsecd-B.log" "(attach tc;"
check_eq "status reports the BPF crypto kfuncs as this kernel has them" \
	"$(expected_crypto_kfuncs)" "$(spsec_status_field A data_plane.crypto_kfuncs)"
# The data plane's AES (docs/kernels.md): the kernel's through the crypto kfuncs where they are
# (6.10+), the T-table AES in BPF before. The network here is AES-GCM, so every secured frame
# below went through it; after the kill -9 the restarted spsecd re-makes the contexts.
AES=$(expected_aes)
check_eq "A's data plane uses the $AES AES on $(uname -r) (status)" "$AES" \
	"$(spsec_status_field A data_plane.aes)"
check "A's log names the AES" log_has "$VM_OUT/spsecd-A.log" "data plane AES: $AES ("
check_eq "spsecctl stats reads the same AES from the kernel" "$AES" \
	"$(spsec_stats_json A | jq -r .aes)"

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
	spsec_status_json "$1" | jq -e ".peers | map(select(.pp == $2 and .last_heartbeat_ms_ago != null)) | length == 1" >/dev/null
}
check "A sees the Sync's heartbeat" wait_until 30 hb_seen A 1
check "A sees B's heartbeat" wait_until 30 hb_seen A 6
check "the Sync sees A's heartbeat" wait_until 30 hb_seen S 5
check "the wire carries heartbeats of A" grep -q ' vxAw 12..0A05##' "$LOGW"
echo "# A status: $(spsec_status_json A | jq -c '{state,t,comm_key_windows,heartbeat,peers}')"
for n in S A B; do # each peer's clock offset, measured from its heartbeats' stamps
	echo "# $n: $("$SPSECCTL" status --socket "$SPSEC_DIR/$n.sock" | grep '^peer ' | tr '\n' ';')"
done

# ---- kill -9: the data plane keeps enforcing, a restarted spsecd resumes ----------------------
kill -KILL "${SPSEC_PIDS[A]}"
wait "${SPSEC_PIDS[A]}" 2>/dev/null
check "with A's spsecd dead, its data plane still secures A -> B" wait_until 30 deliver 0A0B0C0D
spsec_start_node A
check "the restarted spsecd resumes the live pinned data plane" \
	wait_until 30 log_has "$VM_OUT/spsecd-A.log" "resuming the live pinned data plane"
own_sync() { [ "$(spsec_status_json A | jq -r .resumed)" = false ] && spsec_state_is A Secure; }
check "A re-establishes its own clock and keys by PA, still Secure" wait_until 60 own_sync
check "data flows A -> B after the resume" wait_until 30 deliver 01020304
check_eq "the restarted spsecd took over the attachment in place ($ATTACH)" "$ATTACH" \
	"$(spsec_stats_json A | jq -r .attach)"
check_eq "the restarted spsecd's programs use the $AES AES too" "$AES" \
	"$(spsec_stats_json A | jq -r .aes)"
check_eq "no frame of A dropped for a missing kernel AES context" "0 0" \
	"$(spsec_stats_json A | jq -r '"\(.counters.rx_no_kernel_aes) \(.counters.tx_no_kernel_aes)"')"

# ---- a stopped node is missed ---------------------------------------------------------------
spsec_stop_node_ok B
b_missing() { spsec_status_json A | jq -e '.peers | map(select(.pp == 6 and .missing)) | length == 1' >/dev/null; }
check "A reports B's heartbeat missing" wait_until 30 b_missing
check "A logged event EF06h" log_has "$VM_OUT/spsecd-A.log" "security event 0x0000ef06"

# ---- the Sync goes away: abort after sync_abort (20 s here), recovery when it returns ----------
spsec_stop_node_ok S
check "without Sync broadcasts A aborts to Waiting" wait_until 60 spsec_state_is A Waiting
check "A logged event FE0Fh" log_has "$VM_OUT/spsecd-A.log" "0x0000fe0f"
spsec_start_node S
check "the Sync is back in Secure" wait_until "$VM_WAIT_TIMEOUT" spsec_state_is S Secure
check "A recovers to Secure by Parameter Authentication" wait_until 60 spsec_state_is A Secure

for n in S A; do spsec_stop_node_ok "$n"; done
rm -rf "$SPSEC_DIR"
vm_finish
