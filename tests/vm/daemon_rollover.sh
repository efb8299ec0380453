#!/usr/bin/env bash
# vm tier: Communication Key roll-over under continuous secured traffic drops no valid frame.
# Three spsecd (tests/vm/lib.sh spsec_bus_setup). A key window is 2^24 ticks (4.7 h at the test's 1 ms tick),
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
SPSEC_DIR=$(mktemp -d /tmp/spsecd-bus.XXXXXX)

# Ticks between the Sync's boot T and the point: covers start-up and PA of A and B under TCG.
LEAD=${SPSEC_ROLLOVER_LEAD:-45000}
GAP_MS=10        # one frame per 10 ms (the stream's T advances with the clock, 1 tick per ms)
AFTER=5000       # ticks the stream runs on past the point, at least
HALF=$((1 << 23))

spsec_bus_setup S A B
spsec_sab_configs "" 0x123 ""

# E: a window at least one whole window above the wall-clock floor, so boot T = stored + 80 000
# wins over the floor (realtime / 1 ms) however long the test runs.
floor_t=$((${EPOCHREALTIME/./} / 1000))
E=$(((floor_t >> 24) + 2))
echo "# wall-clock floor T $floor_t (window $((floor_t >> 24))); boundary of window $E at $((E << 24))"

persist_t() { # persist_t <boot T>: the Sync's T file for that boot T (spsecd adds 80 000)
	printf 'spsec-t 1 %s\n' $(($1 - 80000)) >"$SPSEC_STATE_DIR/vxS.t" &&
		chmod 0600 "$SPSEC_STATE_DIR/vxS.t"
}

# phase <name> <point T> <window before> <window after> <key installed during the stream or "">
phase() {
	local name=$1 point=$2 wbefore=$3 wafter=$4 newkey=$5 n st
	check "[$name] the persisted T places the Sync's boot $LEAD ticks before T $point" \
		persist_t $((point - LEAD))
	spsec_bus_start
	check "[$name] the Sync started from the persisted T" \
		log_has "$VM_OUT/spsecd-S.log" "T starts at $((point - LEAD)) (stored $((point - LEAD - 80000)))"
	stream_open "$VM_OUT/$name-sent-A.log" "$VM_OUT/$name-received-B.log"

	local t_a count
	t_a=$(spsec_status_field A t)
	# cangen waits at least GAP_MS between frames, so count * GAP_MS ms reach past the point.
	count=$(((point - t_a + AFTER) / GAP_MS))
	echo "# [$name] T $t_a, $((point - t_a)) ticks before the point: $count frames, one per $GAP_MS ms"
	stream_start "$GAP_MS" "$count"
	# While the stream runs, every node is still before the point: the stream straddles it.
	for n in A B S; do
		st=$(spsec_status_json "$n" | jq -r '"\(.key_window) \(.t)"')
		check_eq "[$name] $n is in key window $wbefore after the stream started" "$wbefore" "${st% *}"
		check "[$name] $n's T is still before T $point" test "${st#* }" -lt "$point"
	done
	check "[$name] cangen sends its $count frames" \
		wait_until $((count * GAP_MS * 4 / 1000 + 60)) stream_done
	wait "$STREAM_PID"
	check_eq "[$name] cangen exits 0" 0 "$?"
	stream_close "[$name] " "$count"

	local slice
	for n in A B S; do
		st=$(spsec_status_json "$n")
		echo "# [$name] $n after: $(jq -c '{state,t,key_window,comm_key_windows}' <<<"$st")"
		check "[$name] $n's T passed T $point" test "$(jq .t <<<"$st")" -gt "$point"
		check_eq "[$name] $n is in key window $wafter, still Secure" "$wafter Secure" \
			"$(jq -r '"\(.key_window) \(.state)"' <<<"$st")"
		slice=$(log_after "$VM_OUT/spsecd-$n.log" "${STREAM_MARK[$n]}")
		check "[$name] $n logged no state change, security event or data-plane event" \
			quiet_since "$n" "${STREAM_MARK[$n]}"
		if [ -n "$newkey" ]; then
			check "[$name] $n installed K($newkey) during the stream" \
				grep -q "Communication Key of window $newkey installed" <<<"$slice"
		else
			check "[$name] $n holds K($wafter), installed ahead, none installed at the boundary" \
				bash -c 'grep -q "Communication Key of window $2 installed" "$1" &&
					! grep -q "Communication Key of window" <<<"$3"' _ \
				"$VM_OUT/spsecd-$n.log" "$wafter" "$slice"
		fi
	done
	for n in A B S; do spsec_stop_node_ok "$n"; done
}

phase boundary $((E << 24)) $((E - 1)) "$E" ""
# T only moves forward: phase 2 starts far beyond everything phase 1 used or reserved.
phase half-window $(((E << 24) + HALF)) "$E" "$E" $((E + 1))

rm -rf "$SPSEC_DIR"
vm_finish
