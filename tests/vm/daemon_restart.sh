#!/usr/bin/env bash
# vm tier: kill -9 of a participant's spsecd, and its restart, drop no valid frame.
# Three spsecd (tests/vm/lib.sh spsec_bus_setup). While the application on A sends a continuous
# stream of secured frames to B, B's spsecd (the receiver) is killed with SIGKILL, the data plane keeps
# verifying on its own, and a restarted spsecd resumes the pinned maps and then runs its own
# Parameter Authentication; then the same for A's spsecd (the sender). The count is exact:
# B's application receives every frame A's application sent, plain and in order, no data-plane
# drop counter moves on any node, and every node stays Secure. Asserts on numbers (spsecctl
# --json, candump logs, spsecd's log), never on timing.
# shellcheck source=tests/vm/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SPSEC_DIR=$(mktemp -d /tmp/spsecd-bus.XXXXXX)
GAP_MS=10

spsec_bus_setup S A B
spsec_sab_configs "" 0x123 ""
spsec_bus_start
stream_open "$VM_OUT/sent-A.log" "$VM_OUT/received-B.log"

# received_more <n>: B's application got at least n more stream frames than when RECEIVED was
# last taken (polled every half second: grep is an exec, the stream needs the CPU).
count_received() { grep -c '^([0-9.]*) vxB 123##.\{17\}$' "$STREAM_LOGB"; }
received_more() {
	local base=$RECEIVED limit=$((${EPOCHREALTIME/./} + 60000000))
	until [ "$(count_received)" -ge $((base + $1)) ]; do
		[ "${EPOCHREALTIME/./}" -lt "$limit" ] || return 1
		vm_nap 0.5
	done
}
heartbeat_sent() { [ "$(spsec_status_field "$1" heartbeat.last_sent_ms_ago)" != null ]; }
resumed_own_pa() { [ "$(spsec_status_json "$1" | jq -r '"\(.resumed) \(.state)"')" = "false Secure" ]; }

kill_node() { # kill_node <node>: SIGKILL its spsecd
	kill -KILL "${SPSEC_PIDS[$1]}"
	wait "${SPSEC_PIDS[$1]}" 2>/dev/null
	check_eq "$1's spsecd is killed by SIGKILL" 137 "$?"
}
restart_node() { # restart_node <node> <log line mark before its kill>
	local n=$1 mark=$2
	spsec_start_node "$n"
	check "the restarted spsecd of $n resumes the live pinned data plane" \
		wait_until 30 bash -c 'tail -n "+$(($2 + 1))" "$1" | grep -q "resuming the live pinned data plane"' \
		_ "$VM_OUT/spsecd-$n.log" "$mark"
}
own_pa() { # own_pa <node> <log line mark before its kill>: resumed, then its own PA, Secure
	local n=$1 mark=$2
	check "$n runs its own Parameter Authentication and is Secure (resumed: false)" \
		wait_until 60 resumed_own_pa "$n"
	check "$n logged its own PA after the resume" \
		bash -c 'tail -n "+$(($2 + 1))" "$1" | grep -q "Parameter Authentication succeeded"' \
		_ "$VM_OUT/spsecd-$n.log" "$mark"
	echo "# $n resumed: $(spsec_status_json "$n" | jq -c '{state,resumed,t,key_window,comm_key_windows}')"
	check "$n's own heartbeat goes out again" wait_until 30 heartbeat_sent "$n"
}
flows() { # flows <what>: B's application gets 50 more frames of the stream
	RECEIVED=$(count_received)
	check "$1" received_more 50
}
all_secure() { spsec_state_is A Secure && spsec_state_is B Secure && spsec_state_is S Secure; }

stream_start "$GAP_MS" # endless, until stream_stop
RECEIVED=0
check "the stream flows from A to B" received_more 50

# 1. The receiver, then 2. the sender: killed, restarted, resumed, own PA. The others may see the
# killed node's heartbeat missing (Warning) and return to Secure after warning_hold.
for n in B A; do
	mark=$(log_lines "$VM_OUT/spsecd-$n.log")
	kill_node "$n"
	flows "with $n's spsecd dead, its data plane carries the stream on"
	restart_node "$n" "$mark"
	own_pa "$n" "$mark"
	check "$n stayed quiet and Secure through its resume" quiet_since "$n" "$mark"
	flows "the stream flows on after $n's resume, on its own clock and keys"
	check "every node is back in Secure" wait_until 60 all_secure
	check "the stream is still running" stream_running
done

# 3. Resume in Warning: B is killed, A goes to Warning (B's heartbeat missing) and is killed
# there; both restart. A resumes in Warning and must leave it after warning_hold.
mark_a=$(log_lines "$VM_OUT/spsecd-A.log")
mark_b=$(log_lines "$VM_OUT/spsecd-B.log")
kill_node B
check "A goes to Warning: B's heartbeat is missing" wait_until 30 spsec_state_is A Warning
kill_node A
flows "with both participants' spsecd dead, their data planes carry the stream on"
restart_node B "$mark_b"
restart_node A "$mark_a"
check "A resumed in Warning" bash -c 'tail -n "+$(($2 + 1))" "$1" | grep -q "resuming the live pinned data plane: state Warning"' \
	_ "$VM_OUT/spsecd-A.log" "$mark_a"
own_pa B "$mark_b"
own_pa A "$mark_a"
flows "the stream flows on after both resumed"
check "every node is back in Secure" wait_until 60 all_secure
check "the stream is still running" stream_running
stream_stop
stream_close ""
for n in A B S; do check_eq "$n is Secure" Secure "$(spsec_status_field "$n" state)"; done
# Over the whole stream: only the killed participants' heartbeats were missed.
check "A logged no data-plane event, no security event but B's heartbeat missing" \
	quiet_since A "${STREAM_MARK[A]}" 6
check "B logged no data-plane event, no security event but A's heartbeat missing" \
	quiet_since B "${STREAM_MARK[B]}" 5
check "the Sync logged no data-plane event, no security event but A's or B's heartbeat missing" \
	quiet_since S "${STREAM_MARK[S]}" 5 6

for n in A B S; do spsec_stop_node_ok "$n"; done
rm -rf "$SPSEC_DIR"
vm_finish
