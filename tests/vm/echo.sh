#!/usr/bin/env bash
# vm tier: a device that echoes sent frames itself (IFF_ECHO), as every real CAN driver does.
#
#   nsE: vcE (vcan, module parameter echo=1): spsec data plane; cansend, candump
#
# On such a device the CAN core makes no plain echo clone: the driver loops back the skb that
# left tc egress, i.e. the stamped frame. The data plane must open it on ingress so that local
# sockets (candump, a second reader of the ID, CAN_RAW_RECV_OWN_MSGS) get the plain frame. vcan
# echo=1 has no bus (it discards what it does not echo), so this topology checks the echo path
# only; the bus paths are tests/vm/dataplane.sh's (docs/testing.md: which topology models what).
# shellcheck source=tests/vm/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
DRV=$SPSEC_BUILD_DIR/tests/tools/spsec_dp_driver
LOG=$VM_OUT/echo-node.log
COMMON=(--aead chacha20-poly1305 --mode encrypt --tick-ns 100000000 --window 2047)

# echo=1 before anything loads vcan: the parameter is read when a vcan device is created
check "CAN and tc modules load, vcan with echo=1" bash -c \
	"modprobe -a can can_raw can_dev sch_ingress cls_bpf && modprobe vcan echo=1"
ip netns add nsE || true
check "vcan vcE in nsE" bash -c "ip -n nsE link add dev vcE mtu 72 type vcan &&
	ip -n nsE link set dev vcE up && ip -n nsE link set dev lo up"
check "vcE has IFF_ECHO" bash -c "ip -n nsE link show vcE | grep -q '[<,]ECHO[,>]'"

# this node sends 123 (secured, own) and 7FF (plain); 456 is another node's secured ID
out=$("$DRV" attach vcE --netns nsE "${COMMON[@]}" --policy 123:so,456:s,7FF:rt 2>&1)
check_eq "attached; the loader saw IFF_ECHO" 0 "$?"
echo "$out" | sed 's/^/# /'
check "the loader reports device echo on" grep -q "device echo on (IFF_ECHO)" <<<"$out"

start_candump -n nsE vcE "$LOG" || not_ok "candump on vcE"
send_frames -n nsE vcE "123##1DEADBEEF" "123##1$(printf '%02X' $(seq 1 54))" "456##1CAFE"
check "sentinel on vcE (plain 7FF, its own echo)" send_sentinel -n nsE vcE "$LOG"
check "candump (a second local socket) sees the application's plain frame" \
	grep -q ' vcE 123##5DEADBEEF$' "$LOG"
check "... and the 54-byte one, plain" grep -q " vcE 123##5$(printf '%02X' $(seq 1 54))\$" "$LOG"
check_eq "exactly those 2 frames of 123 reach local sockets" 2 "$(count_frames "$LOG" 123 fd)"
check_eq "egress stamped both (tx_ok)" 2 "$(dp_counter vcE tx_ok)"
check_eq "ingress opened both echoes (rx_echo_opened)" 2 "$(dp_counter vcE rx_echo_opened)"
check_eq "no echo failed to open" 0 "$(dp_counter vcE rx_echo_failed)"
check_eq "the echo is no injection" 0 "$(dp_counter vcE rx_injection)"
check_eq "another node's secured ID is not stamped (tx_not_own)" 1 "$(dp_counter vcE tx_not_own)"
check_eq "... and never reaches a local socket" 0 "$(count_frames "$LOG" 456)"
check "plain IDs echo as they are (rx_local_echo)" test "$(dp_counter vcE rx_local_echo)" -ge 1
"$DRV" counters vcE | sed 's/^/# vcE /'
check "detach" "$DRV" detach vcE --netns nsE
vm_finish
