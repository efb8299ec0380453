#!/usr/bin/env bash
# Guest side of scripts/demo.sh (runs in the test VM). Placeholder until the SPsec demo replaces
# it: a BPF classifier (tests/vm/filter_test.bpf.c) on the tc ingress of a CAN FD bus (vcan0)
# decides which frames reach a listening application (candump). It prints every frame sent, the
# filter's verdict, whether candump received it, and the filter's counters, then checks that the
# three agree. Exit status 0 only if they do.
#
# usage (guest): demo.sh [FILTER_OBJECT]   default $SPSEC_BUILD_DIR/tests/vm/filter_test.bpf.o
# shellcheck source-path=SCRIPTDIR source=../tests/vm/lib.sh
. "$SPSEC_SOURCE_DIR/tests/vm/lib.sh"
OBJ=${1:-$SPSEC_BUILD_DIR/tests/vm/filter_test.bpf.o}
LOG=$VM_OUT/demo-candump.log

PAY=$(printf '%02X' $(seq 0 63))
# frame | the filter counter it must land in | why
SCENARIO=(
	"123##1$PAY|pass_fd|CAN FD, 64 bytes"
	"124##1$PAY|drop_id|CAN FD, ID 0x124 is blocked"
	"125##155AA|drop_data|CAN FD, first byte 0x55 is blocked"
	"126##1|pass_fd|CAN FD, no data"
	"00000124##1$PAY|pass_fd|CAN FD, extended ID 0x124 (not the blocked standard ID)"
	"124#55AA|pass_classic|classic CAN: the filter only judges CAN FD"
	"127#DEADBEEF|pass_classic|classic CAN"
	"1FF##1AA|pass_fd|CAN FD"
)

short() { # can-utils frame -> "ID  FD|classic  first bytes (length)"
	local id=${1%%#*} data kind
	if [[ $1 == *"##"* ]]; then
		kind=FD
		data=${1#*##?}
	else
		kind=classic
		data=${1#*#}
	fi
	local shown=${data:0:16}
	[ ${#data} -gt 16 ] && shown+=..
	printf '%-8s %-7s %-20s %2d B' "$id" "$kind" "$shown" $((${#data} / 2))
}

echo
echo "=== spsec-linux demo (placeholder): a tc BPF filter on a CAN FD bus ==="
echo "kernel $(uname -r) in QEMU; bus vcan0; filter: drop CAN FD frames with ID 0x124 or"
echo "first data byte 0x55; a candump on vcan0 plays the listening application."
echo

vm_modprobe_can >/dev/null || not_ok "loading the CAN modules"
make_vcan vcan0 || not_ok "creating vcan0"
if [ ! -s "$OBJ" ]; then
	not_ok "filter object $OBJ missing (build the target filter_test_bpf)"
	vm_finish
fi
if ! tc qdisc add dev vcan0 clsact || ! tc filter add dev vcan0 ingress bpf da obj "$OBJ" sec tc; then
	not_ok "attaching the filter to vcan0 ingress"
	vm_finish
fi
map=$(prog_map_id "$(tc_prog_id vcan0)" ft_counters)

frames=()
for s in "${SCENARIO[@]}"; do frames+=("${s%%|*}"); done
start_candump vcan0 "$LOG" || not_ok "candump did not start"
send_frames vcan0 "${frames[@]}"
send_sentinel vcan0 "$LOG" || not_ok "the end-of-test frame never arrived"
stop_candump "$VM_CANDUMP_PID"

printf '  %-46s %-8s %-9s %s\n' "frame sent (ID, type, data, length)" filter candump why
declare -A received=()
while read -r f; do received[$f]=1; done < <(frames_in_log "$LOG")
mismatch=0
# expected counters; the end-of-test marker is one more classic frame
declare -A expect=([seen]=$((${#SCENARIO[@]} + 1)) [pass_fd]=0 [pass_classic]=1 [other]=0
	[drop_id]=0 [drop_data]=0)
for s in "${SCENARIO[@]}"; do
	IFS='|' read -r frame counter why <<<"$s"
	expect[$counter]=$((expect[$counter] + 1))
	want=${counter%%_*}
	got=-
	[ -n "${received[${frame/\#\#1/##5}]:-}" ] && got=received # the kernel sets CANFD_FDF
	if { [ "$want" = pass ] && [ "$got" != received ]; } || { [ "$want" = drop ] && [ "$got" != - ]; }; then
		mismatch=1
	fi
	printf '  %s  %-8s %-9s %s\n' "$(short "$frame")" "$want" "$got" "$why"
done
echo
read -r seen pass_fd pass_classic other drop_id drop_data <<<"$(map_values "$map")"
echo "filter counters (BPF map ft_counters; the last classic frame is the end-of-test marker):"
printf '  seen %s | passed: CAN FD %s, classic %s, other %s | dropped: ID %s, data %s\n' \
	"$seen" "$pass_fd" "$pass_classic" "$other" "$drop_id" "$drop_data"
echo
if [ $mismatch = 0 ]; then
	ok "candump received exactly the frames the filter passes"
else
	not_ok "candump and the filter's verdicts disagree"
fi
check_eq "counters agree with the frames sent" \
	"${expect[seen]} ${expect[pass_fd]} ${expect[pass_classic]} 0 ${expect[drop_id]} ${expect[drop_data]}" \
	"$seen $pass_fd $pass_classic $other $drop_id $drop_data"
vm_finish
