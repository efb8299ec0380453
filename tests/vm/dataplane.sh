#!/usr/bin/env bash
# vm tier: the spsec data plane end to end (runs in the VM, see tests/vm/dataplane.cmake).
#
#   nsA: vxA ==vxcan== vxAw  [ wire namespace W: can-gw vxAw <-> vxBw ]  vxBw ==vxcan== vxB :nsB
#
# Both nodes run the production object (bpf/spsec.bpf.c) on their vxcan end, loaded and attached
# by tests/tools/spsec_dp_driver with the same keys and a clock derived from CLOCK_MONOTONIC, so
# they agree on T. candump in W sees what travels on the "bus"; an attacker sits in W too.
# Assertions are on candump -L lines and on the pinned per-reason counters.
# shellcheck source=tests/vm/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
DRV=$SPSEC_BUILD_DIR/tests/tools/spsec_dp_driver
LOGW=$VM_OUT/dp-wire.log
LOGA=$VM_OUT/dp-nodeA.log
LOGB=$VM_OUT/dp-nodeB.log

# A 100 ms tick and the largest window (2047 ticks, 204 s) so that TCG's slow execs (40-150 ms
# each) keep the whole run inside the acceptance window: the replay at the end is then caught
# by per-ID freshness, not merely by its age. SPSEC_DP_TICK_NS sets a longer tick where the run
# is slower still: the arm64 VM (emulated arm64 on x86-64) takes about 300 s from the first
# frame to the replay, so the arm64 tier uses 500 ms (a 1023 s window).
COMMON=(--aead chacha20-poly1305 --mode encrypt --tick-ns "${SPSEC_DP_TICK_NS:-100000000}" --window 2047)
PAY54=$(printf '%02X' $(seq 1 54))
PAY64=$(printf '%02X' $(seq 1 64))

# the ingress drop reasons, from the one reason table (SPSEC_REASONS in abi.h)
RX_DROPS=" $("$DRV" reasons --json | jq -r '.[] | select(.direction == "rx" and (.pass | not)) | .name' | tr '\n' ' ')"
rx_drops() { # rx_drops <ifname>: all ingress drops
	local name val sum=0
	while read -r name val; do
		[[ $RX_DROPS == *" $name "* ]] && sum=$((sum + val))
	done < <("$DRV" counters "$1")
	echo "$sum"
}

check "CAN and tc modules load" vm_modprobe_can || vm_finish
ip netns add W || true
check "vxcan nsA:vxA <-> W:vxAw" make_vxcan_pair nsA vxA W vxAw || vm_finish
check "vxcan nsB:vxB <-> W:vxBw" make_vxcan_pair nsB vxB W vxBw || vm_finish
# can-gw rules are per frame type: -X for CAN FD, none for classic (the sentinels). -i: can-gw
# refuses to route back to the frame's originating ifindex, and ifindexes are per namespace
# (vxB in nsB and vxAw in W are both 2), so without it B's frames would never reach A.
check "can-gw in W routes vxAw <-> vxBw (CAN FD and classic)" bash -c "
	ip netns exec W cangw -A -s vxAw -d vxBw -X -i && ip netns exec W cangw -A -s vxBw -d vxAw -X -i &&
	ip netns exec W cangw -A -s vxAw -d vxBw -i && ip netns exec W cangw -A -s vxBw -d vxAw -i"

# node A sends 123, node B sends 456; 7FF is plain both ways (sentinels)
if out=$("$DRV" attach vxA --netns nsA "${COMMON[@]}" --policy 123:so,456:s,7FF:rt 2>&1); then
	ok "the $(uname -r) verifier accepts the data plane; node A attached"
	echo "$out" | sed 's/^/# /'
else
	not_ok "the $(uname -r) verifier accepts the data plane; node A attached" "$out"
fi
check "node B attached" "$DRV" attach vxB --netns nsB "${COMMON[@]}" --policy 123:s,456:so,7FF:rt
# tcx links from Linux 6.6, netlink tc filters before (probed by the loader at load time)
ATTACH=$(expected_attach)
check_eq "the driver reports attach $ATTACH on $(uname -r)" "$ATTACH" "$(sed -n 's/^attach //p' <<<"$out")"
both_attached() { # both spsec programs on vxA, in the expected mode
	"$DRV" attached vxA --netns nsA | grep -Eqx "$ATTACH ingress [1-9][0-9]* egress [1-9][0-9]*"
}
check "vxA has spsec programs on ingress and egress ($ATTACH)" both_attached
if [ "$ATTACH" = tc ]; then
	check "tc shows spsec filters on vxA ingress and egress" \
		bash -c "ip netns exec nsA tc filter show dev vxA ingress | grep -q spsec_ingress &&
			ip netns exec nsA tc filter show dev vxA egress | grep -q spsec_egress"
else
	check "with tcx links there is no spsec tc filter on vxA" \
		bash -c "! ip netns exec nsA tc filter show dev vxA ingress 2>/dev/null | grep -q spsec_ &&
			! ip netns exec nsA tc filter show dev vxA egress 2>/dev/null | grep -q spsec_"
	check "the tcx links are pinned next to the maps" \
		test -e /sys/fs/bpf/spsec/vxA/spsec_tcx_ingress -a -e /sys/fs/bpf/spsec/vxA/spsec_tcx_egress
fi

# Re-attaching where egress fails after ingress replaced the filter: the error path must not
# leave vxA unfiltered (both of A's filters are still there, and A still stamps below).
check "a re-attach with a refused egress program fails" \
	bash -c "! '$DRV' attach vxA --netns nsA ${COMMON[*]} --policy 123:so,456:s,7FF:rt --egress-fd bad"
check "after the failed re-attach vxA still has its ingress and egress programs" both_attached

start_candump -n W vxAw "$LOGW" || not_ok "candump on the wire"
start_candump -n nsA vxA "$LOGA" || not_ok "candump on node A"
start_candump -n nsB vxB "$LOGB" || not_ok "candump on node B"

# ---- plain in, stamped on the wire, plain out -----------------------------------------------
send_frames -n nsA vxA "123##1DEADBEEF" "123##10011223344556677" "123##1$PAY54" "123##1"
check "sentinel A -> B" send_sentinel -n nsA vxA "$LOGB" vxB
check "B receives the application's plain frames" bash -c "
	grep -q ' vxB 123##5DEADBEEF\$' '$LOGB' && grep -q ' vxB 123##50011223344556677\$' '$LOGB' &&
	grep -q ' vxB 123##5$PAY54\$' '$LOGB' && grep -q ' vxB 123##5\$' '$LOGB'"
check_eq "B receives exactly 4 frames of 123" 4 "$(count_frames "$LOGB" 123 fd)"
check_eq "the wire carries 4 frames of 123" 4 "$(count_frames "$LOGW" 123 fd)"
check "no plain payload on the wire (encrypted)" bash -c "! grep -q -e DEADBEEF -e 0011223344556677 -e $PAY54 '$LOGW'"
# secured lengths: L 4 -> S 16, L 8 -> 20, L 54 -> 64, L 0 -> 12 (32, 40, 128, 24 hex digits)
lens=""
while read -r f; do
	[ "${f%%#*}" = 123 ] || continue
	d=${f#*##5}
	lens+="${#d} "
done < <(frames_in_log "$LOGW")
check_eq "stamped lengths on the wire are S = 16 20 64 12" "32 40 128 24 " "$lens"
check "A's local echo is the plain frame" grep -q ' vxA 123##5DEADBEEF$' "$LOGA"
check_eq "A counted 4 stamped frames (tx_ok)" 4 "$(dp_counter vxA tx_ok)"
check_eq "B counted 4 verified frames (rx_ok)" 4 "$(dp_counter vxB rx_ok)"
check "A counted its local echoes" test "$(dp_counter vxA rx_local_echo)" -ge 4

# ---- and the other way, authenticated by B --------------------------------------------------
send_frames -n nsB vxB "456##1CAFE"
check "sentinel B -> A" send_sentinel -n nsB vxB "$LOGA" vxA
check "A receives B's plain frame" grep -q ' vxA 456##5CAFE$' "$LOGA"
"$DRV" counters vxA | sed 's/^/# vxA /'

# ---- frames that cannot be secured never leave ----------------------------------------------
ip netns exec nsA cansend vxA "123##1$PAY64" 2>/dev/null
ip netns exec nsA cansend vxA "123#DEADBEEF" 2>/dev/null
check "sentinel A -> B" send_sentinel -n nsA vxA "$LOGB" vxB
check_eq "L = 64 dropped on egress (tx_too_long)" 1 "$(dp_counter vxA tx_too_long)"
check_eq "classic frame of a secured ID dropped on egress (tx_classic)" 1 "$(dp_counter vxA tx_classic)"
check_eq "still 4 frames of 123 on the wire" 4 "$(count_frames "$LOGW" 123)"

# ---- an attacker on the bus -----------------------------------------------------------------
# Random lengths and data from the seeded generator; the random IDs leave out every ID whose
# frames are counted below (123, 456, and the plain 7FF), so the counts are exact in every run.
before=$(rx_drops vxB)
ATTACK=$VM_OUT/dp-attack.log
gen_frames "$ATTACK.1" 200 123 && play_frames -n W vxBw "$ATTACK.1"
gen_frames "$ATTACK.2" 100 456 && play_frames -n W vxBw "$ATTACK.2"
gen_frames -X 123,456,7FF "$ATTACK.3" 100 r && play_frames -n W vxBw "$ATTACK.3"
cat "$ATTACK".[123] >"$ATTACK" && rm -f "$ATTACK".[123]
check "sentinel W -> B" send_sentinel -n W vxBw "$LOGB" vxB
check_eq "the attacker sent 200 frames of 123, 100 of 456, 100 of other IDs" "200 100 100" \
	"$(count_frames "$ATTACK" 123) $(count_frames "$ATTACK" 456) $(($(log_lines "$ATTACK") - 300))"
check_eq "no attacker frame of 123 reaches B" 4 "$(count_frames "$LOGB" 123)"
check_eq "no attacker frame of 456 reaches B (1: B's own echo)" 1 "$(count_frames "$LOGB" 456)"
others=$(frames_in_log "$LOGB" | grep -v -e '^123#' -e '^456#' -e '^7FF#' -c)
check_eq "random IDs: only plain-allowed 7FF may pass" 0 "$others"
after=$(rx_drops vxB)
check "B's counters prove >= 300 attacker frames dropped" test $((after - before)) -ge 300
"$DRV" counters vxB | sed 's/^/# vxB /'

# ---- injection of A's own ID, seen by A -----------------------------------------------------
ip netns exec W cansend vxAw "123##1AA"
check "sentinel W -> A" send_sentinel -n W vxAw "$LOGA" vxA
# A also saw the attacker's frames of 123 (can-gw routes them both ways): all injections. The
# expected count comes from the attacker's own record, not from a constant.
check_eq "A counts every injection of its own ID 123" $(($(count_frames "$ATTACK" 123) + 1)) \
	"$(dp_counter vxA rx_injection)"

# ---- replay of the recorded wire traffic ----------------------------------------------------
replay=$VM_OUT/dp-replay.log
grep ' vxAw 123##' "$LOGW" >"$replay"
before_ok=$(dp_counter vxB rx_ok)
ip netns exec W canplayer -t -I "$replay" vxBw=vxAw
check "sentinel W -> B" send_sentinel -n W vxBw "$LOGB" vxB
check_eq "replayed frames do not reach B" 4 "$(count_frames "$LOGB" 123)"
check_eq "B counts the 4 replays (rx_replay)" 4 "$(dp_counter vxB rx_replay)"
check_eq "B's rx_ok unchanged by the replay" "$before_ok" "$(dp_counter vxB rx_ok)"

# ---- fail closed after the driver exited; detach restores plain traffic ---------------------
check "detach B" "$DRV" detach vxB --netns nsB
ip netns exec W cansend vxBw "123##1BB"
check "sentinel W -> B" send_sentinel -n W vxBw "$LOGB" vxB
check "without the data plane an unstamped 123 reaches B" grep -q ' vxB 123##5BB$' "$LOGB"
vm_finish
