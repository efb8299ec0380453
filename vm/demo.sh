#!/usr/bin/env bash
# Guest side of scripts/demo.sh (runs in the test VM): the spsec data plane on a CAN FD bus under
# attack, narrated for a person and checked with numbers.
#
#   node A (nsA): vxA ==vxcan== vxAw ┐                       ┌ vxBw ==vxcan== vxB (nsB): node B
#                                    └─ the bus (namespace W, can-gw) ─┘
#                                       + a candump on the wire, + the attacker (no keys)
#
# Both nodes run the production data plane (bpf/spsec.bpf.c), loaded by tests/tools/spsec_dp_driver
# with the same Communication Key and a clock from CLOCK_MONOTONIC, so they agree on T without a
# Sync (the daemon's time sync, heartbeats and key roll-over join this demo with spsecd).
# The applications are plain can-utils: cansend on A, candump on B.
#
# usage (guest): demo.sh [--aead aes-gcm|chacha20-poly1305|ascon] [--auth-only]
# Exit status 0 only if every check passed.
# shellcheck source-path=SCRIPTDIR source=../tests/vm/lib.sh
. "$SPSEC_SOURCE_DIR/tests/vm/lib.sh"
DRV=$SPSEC_BUILD_DIR/tests/tools/spsec_dp_driver
AEAD=chacha20-poly1305
MODE=encrypt
while [ $# -gt 0 ]; do
	case "$1" in
	--aead) AEAD=$2; shift ;;
	--auth-only) MODE=auth ;;
	*) not_ok "demo: unknown argument '$1' (use --aead NAME, --auth-only)"; vm_finish ;;
	esac
	shift
done
LOGW=$VM_OUT/demo-wire.log
LOGA=$VM_OUT/demo-nodeA.log
LOGB=$VM_OUT/demo-nodeB.log
# A 100 ms tick and the widest window keep TCG's slow process starts inside the acceptance window,
# so the replay below is caught by per-ID freshness, not merely by its age.
COMMON=(--aead "$AEAD" --mode "$MODE" --tick-ns 100000000 --window 2047)

say() { printf '\n--- %s\n' "$*"; }
show_counters() { # show_counters <ifname> <label>: every non-zero reason counter
	local name val
	printf '  %s\n' "$2"
	while read -r name val; do
		printf '    %-22s %6s\n' "$name" "$val"
	done < <("$DRV" counters "$1")
}
wire_frames() { # wire_frames <id>: frames of that ID seen on the bus, in order
	local f
	while read -r f; do [ "${f%%#*}" = "$1" ] && echo "$f"; done < <(frames_in_log "$LOGW")
}

echo
echo "=== spsec-linux: a secured CAN FD bus under attack ==="
echo "kernel $(uname -r) in QEMU; AEAD $AEAD, mode $MODE; two nodes and an attacker on one bus."
echo "Node A's application sends ID 123, node B's sends ID 456 (both secured); 7FF is plain."

say "bringing up the bus and attaching the data plane to both nodes"
check "CAN and tc modules load" vm_modprobe_can || vm_finish
ip netns add W 2>/dev/null || true
check "node A linked to the bus" make_vxcan_pair nsA vxA W vxAw || vm_finish
check "node B linked to the bus" make_vxcan_pair nsB vxB W vxBw || vm_finish
check "the bus routes CAN FD and classic frames both ways" bash -c "
	ip netns exec W cangw -A -s vxAw -d vxBw -X -i && ip netns exec W cangw -A -s vxBw -d vxAw -X -i &&
	ip netns exec W cangw -A -s vxAw -d vxBw -i && ip netns exec W cangw -A -s vxBw -d vxAw -i" ||
	vm_finish
check "node A: data plane attached (tc ingress + egress)" \
	"$DRV" attach vxA --netns nsA "${COMMON[@]}" --policy 123:so,456:s,7FF:rt || vm_finish
check "node B: data plane attached (tc ingress + egress)" \
	"$DRV" attach vxB --netns nsB "${COMMON[@]}" --policy 123:s,456:so,7FF:rt || vm_finish
start_candump -n W vxAw "$LOGW" || not_ok "candump on the wire"
start_candump -n nsA vxA "$LOGA" || not_ok "candump on node A (application)"
start_candump -n nsB vxB "$LOGB" || not_ok "candump on node B (application)"

say "1. normal traffic: node A's application sends 20 plain CAN FD frames of ID 123"
sent=()
for i in $(seq 1 20); do sent+=("123##1$(printf 'C0DE%02X%08X' "$i" $((i * 2654435761 % 4294967296)))"); done
send_frames -n nsA vxA "${sent[@]}"
check "B's application has heard from A" send_sentinel -n nsA vxA "$LOGB" vxB
first_wire=$(wire_frames 123 | head -1)
printf '  application on A sent:   %s\n' "${sent[0]}"
printf '  the bus carried:          %s\n' "$first_wire"
printf '  application on B got:    %s\n' "$(frames_in_log "$LOGB" | grep '^123#' | head -1)"
check_eq "B's application received all 20 frames" 20 "$(count_frames "$LOGB" 123 fd)"
if [ "$MODE" = encrypt ]; then
	check "no payload in clear on the bus" bash -c "! grep -q C0DE '$LOGW'"
fi
send_frames -n nsB vxB "456##1CAFE"
check "A hears B" send_sentinel -n nsB vxB "$LOGA" vxA
check_eq "A's application received B's frame" 1 "$(count_frames "$LOGA" 456 fd)"

say "2. forgery: the attacker injects 300 random frames (IDs 123, 456 and random) toward B"
ip netns exec W cangen vxBw -f -n 100 -g 0 -I 123 -L r -D r
ip netns exec W cangen vxBw -f -n 100 -g 0 -I 456 -L r -D r
ip netns exec W cangen vxBw -f -n 100 -g 0 -I r -L r -D r
check "B is still listening" send_sentinel -n W vxBw "$LOGB" vxB
check_eq "forged frames of 123 delivered to B's application" 20 "$(count_frames "$LOGB" 123)"
check_eq "forged frames of 456 delivered to B's application (1 = its own echo)" 1 \
	"$(count_frames "$LOGB" 456)"
check_eq "forged frames of other IDs delivered" 0 \
	"$(frames_in_log "$LOGB" | grep -v -e '^123#' -e '^456#' -e '^7FF#' -c)"

say "3. tampering: the attacker flips one bit of a recorded frame and sends it again"
bad_tag_before=$(dp_counter vxB rx_bad_tag)
data=${first_wire#*##?}
flipped=$(printf '%X' $((0x${data:0:1} ^ 1)))${data:1}
tampered="123##1$flipped"
printf '  original: %s\n  tampered: %s\n' "$first_wire" "$tampered"
ip netns exec W cansend vxBw "$tampered"
check "B is still listening" send_sentinel -n W vxBw "$LOGB" vxB
check_eq "tampered frame delivered" 20 "$(count_frames "$LOGB" 123)"
check_eq "B counted it as a tag failure (rx_bad_tag + 1)" $((bad_tag_before + 1)) \
	"$(dp_counter vxB rx_bad_tag)"

say "4. replay: the attacker plays back every frame of 123 recorded on the bus"
replay=$VM_OUT/demo-replay.log
grep ' vxAw 123##' "$LOGW" >"$replay"
replay_before=$(dp_counter vxB rx_replay)
ip netns exec W canplayer -t -I "$replay" vxBw=vxAw
check "B is still listening" send_sentinel -n W vxBw "$LOGB" vxB
check_eq "replayed frames delivered" 20 "$(count_frames "$LOGB" 123)"
check_eq "B counted 20 replays (rx_replay)" $((replay_before + 20)) "$(dp_counter vxB rx_replay)"

say "5. spoofing: the attacker sends with node A's own ID 123 toward A"
inj_before=$(dp_counter vxA rx_injection)
ip netns exec W cansend vxAw "123##1AA"
check "A is still listening" send_sentinel -n W vxAw "$LOGA" vxA
check_eq "A detected the injection of its own ID (rx_injection + 1)" $((inj_before + 1)) \
	"$(dp_counter vxA rx_injection)"

say "6. a frame that cannot be secured never leaves A"
on_wire=$(grep -c ' vxAw 123##' "$LOGW")
ip netns exec nsA cansend vxA "123##1$(printf '%02X' $(seq 1 64))" 2>/dev/null
ip netns exec nsA cansend vxA "123#DEADBEEF" 2>/dev/null
check "B is still listening" send_sentinel -n nsA vxA "$LOGB" vxB
check_eq "64-byte frame (L > 54) dropped on A's egress" 1 "$(dp_counter vxA tx_too_long)"
check_eq "classic frame of a secured ID dropped on A's egress" 1 "$(dp_counter vxA tx_classic)"
check_eq "neither of them reached the bus" "$on_wire" "$(grep -c ' vxAw 123##' "$LOGW")"

say "summary"
printf '  %-46s %s\n' "valid frames A's application sent (ID 123)" 20
printf '  %-46s %s\n' "... delivered to B's application" "$(count_frames "$LOGB" 123)"
printf '  %-46s %s\n' "forged, tampered or replayed frames delivered" \
	"$(($(count_frames "$LOGB" 123) - 20 + $(count_frames "$LOGB" 456) - 1))"
echo
show_counters vxA "node A, verdicts by reason (pinned per-CPU counters):"
show_counters vxB "node B, verdicts by reason:"
echo
vm_finish
