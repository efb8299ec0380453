#!/usr/bin/env bash
# vm tier: kill -9 of a participant's spsecd, and its restart, drop no valid frame.
# Three spsecd (tests/vm/bus_lib.sh). While the application on A sends a continuous stream of
# secured frames to B, B's spsecd (the receiver) is killed with SIGKILL, the data plane keeps
# verifying on its own, and a restarted spsecd resumes the pinned maps and then runs its own
# Parameter Authentication; then the same for A's spsecd (the sender). The count is exact:
# B's application receives every frame A's application sent, plain and in order, no data-plane
# drop counter moves on any node, and every node stays Secure. Asserts on numbers (spsecctl
# --json, candump logs, spsecd's log), never on timing.
# shellcheck source=tests/vm/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=tests/vm/bus_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/bus_lib.sh"
GAP_MS=10
LOGA=$VM_OUT/sent-A.log
LOGB=$VM_OUT/received-B.log

bus_setup
bus_start
declare -A MARK RX0 TX0
for n in A B S; do
	MARK[$n]=$(log_lines "$VM_OUT/spsecd-$n.log")
	read -r "RX0[$n]" "TX0[$n]" < <(dp_count "vx$n" rx_ok tx_ok)
done
start_candump -n nsA vxA "$LOGA" || not_ok "candump on A"
start_candump -n nsB vxB "$LOGB" || not_ok "candump on B"

# received_more <n>: B's application got at least n more stream frames than when RECEIVED was
# last taken (polled every half second: grep is an exec, the stream needs the CPU).
count_received() { grep -c '^([0-9.]*) vxB 123##.\{17\}$' "$LOGB"; }
received_more() {
	local base=$RECEIVED limit=$((${EPOCHREALTIME/./} + 60000000))
	until [ "$(count_received)" -ge $((base + $1)) ]; do
		[ "${EPOCHREALTIME/./}" -lt "$limit" ] || return 1
		vm_nap 0.5
	done
}
heartbeat_sent() { [ "$(status_field "$1" heartbeat.last_sent_ms_ago)" != null ]; }
resumed_own_pa() { [ "$(status_json "$1" | jq -r '"\(.resumed) \(.state)"')" = "false Secure" ]; }

stream_start "$GAP_MS" # endless, until stream_stop
RECEIVED=0
check "the stream flows from A to B" received_more 50

for n in B A; do
	role=$([ "$n" = B ] && echo receiver || echo sender)
	mark=$(log_lines "$VM_OUT/spsecd-$n.log")
	kill -KILL "${PIDS[$n]}"
	wait "${PIDS[$n]}" 2>/dev/null
	check_eq "$n's spsecd ($role) is killed by SIGKILL" 137 "$?"
	RECEIVED=$(count_received)
	check "with $n's spsecd dead, its data plane carries the stream on" received_more 50
	start_node "$n"
	check "the restarted spsecd of $n resumes the live pinned data plane" \
		wait_until 30 log_has "$VM_OUT/spsecd-$n.log" "resuming the live pinned data plane"
	check "$n runs its own Parameter Authentication and stays Secure (resumed: false)" \
		wait_until 60 resumed_own_pa "$n"
	slice=$(log_after "$VM_OUT/spsecd-$n.log" "$mark")
	check "$n logged its own PA after the resume" \
		grep -q "Parameter Authentication succeeded" <<<"$slice"
	echo "# $n resumed: $(status_json "$n" | jq -c '{state,resumed,t,key_window,comm_key_windows}')"
	check "$n's own heartbeat goes out again" wait_until 30 heartbeat_sent "$n"
	RECEIVED=$(count_received)
	check "the stream flows on after $n's resume, on its own clock and keys" received_more 50
	check "the stream is still running" stream_running
done
stream_stop
check "the end marker reaches B's and A's candump" stream_end "$LOGA" "$LOGB"

sent=$(stream_frames "$LOGA")
count=$(grep -c . <<<"$sent")
echo "# the stream: $count frames, one per $GAP_MS ms"
want=$(stream_expected "$count")
stream_check "A's application sent the frames 0..$((count - 1)) without a gap" "$want" "$LOGA"
stream_check "B's application received every one of the $count, plain, in order" "$want" "$LOGB"
check_eq "B's data plane verified each of them (rx_ok +$((count + 1)) with the marker)" \
	$((count + 1)) $(($(dp_count vxB rx_ok) - RX0[B]))
check_eq "the Sync's data plane verified each of them too" \
	$((count + 1)) $(($(dp_count vxS rx_ok) - RX0[S]))
check_eq "A's data plane stamped each of them (tx_ok +$((count + 1)))" \
	$((count + 1)) $(($(dp_count vxA tx_ok) - TX0[A]))
for n in A B S; do
	check_eq "no data-plane drop on $n, for any reason" "" "$(dp_drops "vx$n")"
	check_eq "$n is Secure" Secure "$(status_field "$n" state)"
	slice=$(log_after "$VM_OUT/spsecd-$n.log" "${MARK[$n]}")
	check "$n logged no state change, security event or data-plane event" \
		bash -c '! grep -E "state [A-Za-z]+ -> |security event|data plane: " <<<"$1"' _ "$slice"
done

for n in A B S; do stop_node "$n"; done
rm -rf "$W"
vm_finish
