#!/usr/bin/env bash
# vm tier: Communication Key roll-over under continuous secured traffic drops no valid frame.
# Three spsecd (tests/vm/bus_lib.sh). A key window is 2^24 ticks (4.7 h at the test's 1 ms tick),
# so instead of waiting the test places the Sync's T: it writes the persisted T file so that the
# Sync boots (stored + 80 000 ticks, above the wall-clock floor realtime / tick) LEAD ticks before
#   phase 1: a window boundary E << 24: the frames' window, and with it the key slot, flips from
#            E-1 to E (K(E) was derived ahead, in the second half of E-1);
#   phase 2: the middle of window E, N(E): K(E+1) is derived ahead and replaces K(E-1) in its
#            slot while traffic runs (the network restarts between the phases, T moving forward).
# In each phase the application on A sends a continuous stream of secured frames across that
# point; B's application must receive every one, plain and in order, as sent; no data-plane drop
# counter may move on any node; the state stays Secure. Asserts on numbers (spsecctl --json,
# candump logs, spsecd's log), never on timing.
# shellcheck source=tests/vm/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=tests/vm/bus_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/bus_lib.sh"

# Ticks between the Sync's boot T and the point: covers start-up and PA of A and B under TCG.
LEAD=${SPSEC_ROLLOVER_LEAD:-30000}
GAP_MS=10        # one frame per 10 ms (the stream's T advances with the clock, 1 tick per ms)
AFTER=5000       # ticks the stream runs on past the point, at least
HALF=$((1 << 23))

bus_setup

# E: a window at least one whole window above the wall-clock floor, so boot T = stored + 80 000
# wins over the floor (realtime / 1 ms) however long the test runs.
floor_t=$((${EPOCHREALTIME/./} / 1000))
E=$(((floor_t >> 24) + 2))
echo "# wall-clock floor T $floor_t (window $((floor_t >> 24))); boundary of window $E at $((E << 24))"

persist_t() { # persist_t <boot T>: the Sync's T file for that boot T (spsecd adds 80 000)
	printf 'spsec-t 1 %s\n' $(($1 - 80000)) >"$SPSEC_STATE_DIR/vxS.t" &&
		chmod 0600 "$SPSEC_STATE_DIR/vxS.t"
}
log_lines() { local n=0 _l; while read -r _l; do n=$((n + 1)); done <"$1"; echo "$n"; }
log_after() { tail -n "+$(($2 + 1))" "$1"; } # log_after <log> <line count>: the lines after it

# phase <name> <point T> <window before> <window after> <key installed during the stream or "">
phase() {
	local name=$1 point=$2 wbefore=$3 wafter=$4 newkey=$5 n
	local -A mark rx0 tx0
	check "[$name] the persisted T places the Sync's boot $LEAD ticks before T $point" \
		persist_t $((point - LEAD))
	bus_start
	check "[$name] the Sync started from the persisted T" \
		log_has "$VM_OUT/spsecd-S.log" "T starts at $((point - LEAD)) (stored $((point - LEAD - 80000)))"
	for n in A B S; do
		check_eq "[$name] $n is in key window $wbefore before the stream" "$wbefore" \
			"$(status_field "$n" key_window)"
		mark[$n]=$(log_lines "$VM_OUT/spsecd-$n.log")
		rx0[$n]=$(dp_count "vx$n" rx_ok)
		tx0[$n]=$(dp_count "vx$n" tx_ok)
	done
	echo "# [$name] A before the stream: $(status_json A | jq -c '{state,t,key_window,comm_key_windows}')"
	local t_a remaining count
	t_a=$(status_field A t)
	remaining=$((point - t_a))
	if [ "$remaining" -lt 2000 ]; then
		not_ok "[$name] the stream starts at least 2 s before T $point" \
			"T is $t_a: start-up took longer than LEAD ($LEAD ticks); raise SPSEC_ROLLOVER_LEAD"
	fi
	# cangen waits at least GAP_MS between frames, so count * GAP_MS ms reach past the point.
	count=$(((remaining + AFTER) / GAP_MS))
	echo "# [$name] T $t_a, $remaining ticks before the point: $count frames, one per $GAP_MS ms"

	local logA=$VM_OUT/$name-sent-A.log logB=$VM_OUT/$name-received-B.log
	local pa pb
	start_candump -n nsA vxA "$logA" || not_ok "[$name] candump on A"
	pa=$VM_CANDUMP_PID
	start_candump -n nsB vxB "$logB" || not_ok "[$name] candump on B"
	pb=$VM_CANDUMP_PID
	stream_start "$GAP_MS" "$count"
	check "[$name] cangen sends its $count frames" \
		wait_until $((count * GAP_MS * 4 / 1000 + 60)) stream_done
	wait "$STREAM_PID"
	check_eq "[$name] cangen exits 0" 0 "$?"
	# The end marker, a 3-byte frame of the same ID: once it is in both logs, every frame sent
	# before it has been delivered (or dropped).
	ip netns exec nsA cansend vxA 123##1E0D0E0
	check "[$name] the end marker reaches B" wait_for_frame "$logB" vxB 123##5E0D0E0 60
	check "[$name] the end marker is in A's record" wait_for_frame "$logA" vxA 123##5E0D0E0 60
	stop_candump "$pa"
	stop_candump "$pb"

	local sent received
	sent=$(stream_frames "$logA")
	received=$(stream_frames "$logB")
	check_eq "[$name] A's application sent $count frames" "$count" "$(grep -c . <<<"$sent")"
	check_eq "[$name] all $count payloads are distinct" "$count" "$(sort -u <<<"$sent" | grep -c .)"
	check_eq "[$name] B's application received $count frames" "$count" \
		"$(grep -c . <<<"$received")"
	if [ "$sent" = "$received" ]; then
		ok "[$name] B received every frame, plain, in the order sent"
	else
		not_ok "[$name] B received every frame, plain, in the order sent" \
			"$(diff <(echo "$sent") <(echo "$received") | head -n 20)"
	fi
	check_eq "[$name] B's data plane verified each of them (rx_ok +$((count + 1)))" \
		$((count + 1)) $(($(dp_count vxB rx_ok) - rx0[B]))
	check_eq "[$name] the Sync's data plane verified each of them too" \
		$((count + 1)) $(($(dp_count vxS rx_ok) - rx0[S]))
	check_eq "[$name] A's data plane stamped each of them (tx_ok +$((count + 1)))" \
		$((count + 1)) $(($(dp_count vxA tx_ok) - tx0[A]))
	for n in A B S; do
		check_eq "[$name] no data-plane drop on $n, for any reason" "" "$(dp_drops "vx$n")"
	done

	local t_end
	for n in A B S; do
		t_end=$(status_field "$n" t)
		check "[$name] $n's T passed T $point" test "$t_end" -gt "$point"
		check_eq "[$name] $n is in key window $wafter after the stream" "$wafter" \
			"$(status_field "$n" key_window)"
		check_eq "[$name] $n is still Secure" Secure "$(status_field "$n" state)"
		local slice
		slice=$(log_after "$VM_OUT/spsecd-$n.log" "${mark[$n]}")
		check "[$name] $n changed no state during the stream" \
			bash -c '! grep -E "state [A-Za-z]+ -> |security event|data plane: " <<<"$1"' _ "$slice"
		if [ -n "$newkey" ]; then
			check "[$name] $n installed K($newkey) during the stream" \
				grep -q "Communication Key of window $newkey installed" <<<"$slice"
		else
			check "[$name] $n holds K($wafter), installed ahead, and installed no key at the boundary" \
				bash -c 'grep -q "Communication Key of window $2 installed" "$1" &&
					! grep -q "Communication Key of window" <<<"$3"' _ \
				"$VM_OUT/spsecd-$n.log" "$wafter" "$slice"
		fi
		echo "# [$name] $n after: $(status_json "$n" | jq -c '{state,t,key_window,comm_key_windows}')"
	done
	for n in A B S; do stop_node "$n"; done
}

phase boundary $((E << 24)) $((E - 1)) "$E" ""
# T only moves forward: phase 2 starts far beyond everything phase 1 used or reserved.
phase half-window $(((E << 24) + HALF)) "$E" "$E" $((E + 1))

rm -rf "$W"
vm_finish
