#!/usr/bin/env bash
# vm tier smoke test (runs in the VM, see tests/vm/CMakeLists.txt): CAN modules load, vcan0 has
# the CAN FD MTU, and a tc BPF classifier on vcan0 ingress (filter_test.bpf.c) decides which
# frames reach a CAN_RAW socket (candump), with its counters matching what candump saw.
#
# usage (guest): smoke.sh [FILTER_OBJECT]   default $SPSEC_BUILD_DIR/tests/vm/filter_test.bpf.o
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
OBJ=${1:-$SPSEC_BUILD_DIR/tests/vm/filter_test.bpf.o}
LOG=$VM_OUT/smoke-candump.log

# 64 data bytes: 00 01 .. 3F, and the same with a first byte of 0x55
PAY=$(printf '%02X' $(seq 0 63))
PAY55=55${PAY:2}
# The frames, in can-utils notation, and filter_test's verdict for each: it drops CAN FD frames
# with standard ID 0x124 or data[0] == 0x55 and passes everything else, classic frames always.
FRAMES=(
	"123##1$PAY"      # pass_fd
	"124##1$PAY"      # drop_id
	"125##155AA"      # drop_data
	"126##1"          # pass_fd: no data byte to test
	"00000124##1$PAY" # pass_fd: extended ID 0x124 is not standard ID 0x124
	"124##1$PAY55"    # drop_id: both reasons, counted once
	"124#55AA"        # pass_classic: ID and data of a dropped FD frame
	"127#DEADBEEF"    # pass_classic
	"128##1$PAY55"    # drop_data
	"1FF##1AA"        # pass_fd
)
ALL_IDS="123 124 125 126 00000124 124 124 127 128 1FF"
PASS_IDS="123 126 00000124 124 127 1FF"

if ! check "CAN and tc modules load" vm_modprobe_can; then vm_finish; fi
check "vcan0 created" make_vcan vcan0 || vm_finish
check_eq "vcan0 MTU is CANFD_MTU" 72 "$(</sys/class/net/vcan0/mtu)"

# Baseline without a filter: every frame arrives, so the drops below are the filter's doing.
start_candump vcan0 "$LOG" || not_ok "candump registers on vcan0"
send_frames vcan0 "${FRAMES[@]}"
check "baseline: sentinel arrives" send_sentinel vcan0 "$LOG"
stop_candump "$VM_CANDUMP_PID"
check_eq "baseline: all ${#FRAMES[@]} frames reach candump" "$ALL_IDS" "$(ids_in_log "$LOG")"

if [ ! -s "$OBJ" ]; then
	not_ok "BPF object $OBJ exists" "build the target filter_test_bpf on the host first"
	vm_finish
fi
check "tc clsact qdisc on vcan0" tc qdisc add dev vcan0 clsact
check "6.1 verifier accepts filter_test on vcan0 ingress" \
	tc filter add dev vcan0 ingress bpf da obj "$OBJ" sec tc
prog=$(tc_prog_id vcan0 ingress)
map=$(prog_map_id "$prog" ft_counters)
check_eq "filter's counter map found via its program" 1 "$([ -n "$map" ] && echo 1)"
check_eq "counters start at zero" "0 0 0 0 0 0" "$(map_values "$map")"

start_candump vcan0 "$LOG" || not_ok "candump registers on vcan0"
send_frames vcan0 "${FRAMES[@]}"
check "filtered: sentinel arrives" send_sentinel vcan0 "$LOG"
stop_candump "$VM_CANDUMP_PID"
cat "$LOG"
check_eq "filtered: exactly the passing frames arrive, in order" "$PASS_IDS" "$(ids_in_log "$LOG")"
check_eq "dropped: no FD frame with ID 0x124 reaches candump" 0 "$(count_frames "$LOG" 124 fd)"
check_eq "dropped: no FD frame with data[0] 0x55 reaches candump" 0 \
	"$(($(count_frames "$LOG" 125) + $(count_frames "$LOG" 128)))"
check "passed unchanged: FD 123 with 64 bytes" log_has "$LOG" " vcan0 123##5$PAY"
check "passed unchanged: FD extended ID 00000124" log_has "$LOG" " vcan0 00000124##5$PAY"
check "passed unchanged: classic 124#55AA" log_has "$LOG" " vcan0 124#55AA"
# ft_counters: seen pass_fd pass_classic pass_other drop_id drop_data; the sentinel (7FF,
# classic) is the 11th frame.
check_eq "counters match candump (seen pass_fd pass_classic other drop_id drop_data)" \
	"11 4 3 0 2 2" "$(map_values "$map")"

# Detached, frames flow again: the filter, not something else, dropped them.
check "filter detached" tc qdisc del dev vcan0 clsact
start_candump vcan0 "$LOG" || not_ok "candump registers on vcan0"
send_frames vcan0 "124##1$PAY" "125##155AA"
check "detached: sentinel arrives" send_sentinel vcan0 "$LOG"
stop_candump "$VM_CANDUMP_PID"
check_eq "detached: FD 124 and 125 arrive again" "124 125" "$(ids_in_log "$LOG")"

# Two nodes in their own network namespaces joined by a vxcan tunnel (the shape of the multi-node
# tests): the filter on node B's ingress drops what node A sends, A's own candump sees it all.
check "vxcan pair nodeA/vxA <-> nodeB/vxB" make_vxcan_pair nodeA vxA nodeB vxB
check_eq "vxB MTU is CANFD_MTU" 72 "$(ip netns exec nodeB cat /sys/class/net/vxB/mtu)"
check "filter on vxB ingress in nodeB" ip netns exec nodeB sh -c \
	"tc qdisc add dev vxB clsact && tc filter add dev vxB ingress bpf da obj '$OBJ' sec tc"
start_candump -n nodeB vxB "$LOG" || not_ok "candump registers on vxB in nodeB"
B_PID=$VM_CANDUMP_PID
LOG_A=$VM_OUT/smoke-candump-a.log
start_candump -n nodeA vxA "$LOG_A" || not_ok "candump registers on vxA in nodeA"
send_frames -n nodeA vxA "${FRAMES[@]}"
check "vxcan: sentinel reaches nodeB" send_sentinel -n nodeA vxA "$LOG" vxB
check "vxcan: sentinel echoed in nodeA" wait_for_frame "$LOG_A" vxA "$(tail -1 "$LOG" | cut -d' ' -f3)"
stop_candump "$B_PID"
stop_candump "$VM_CANDUMP_PID"
check_eq "vxcan: nodeB receives exactly the passing frames" "$PASS_IDS" "$(ids_in_log "$LOG")"
check_eq "vxcan: nodeA's own candump sees all it sent" "$ALL_IDS" "$(ids_in_log "$LOG_A")"
vm_finish
