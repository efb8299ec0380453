#!/usr/bin/env bash
# vm tier (run by the arm64 tier, tests/vm/arm64.cmake): a three-node spsecd bus under attack,
# counted exactly. The Sync S and participants A and B (tests/vm/lib.sh spsec_bus_up) reach Secure,
# each node's application sends N secured frames of its own ID (S 1C0, A 1A0, B 1B0); then an
# attacker X on the bus without keys replays the recorded wire frames, sends them again with one
# bit flipped, and forges frames of every secured ID. Afterwards:
#   - every node's application received exactly the other two nodes' N frames each, in order,
#     and nothing else of a secured ID: no replayed, tampered or forged frame reached it;
#   - the books balance on every node: delivered == what the others sent, dropped == what the
#     attacker sent, nothing refused on egress (spsec_account, spsec_check_books);
#   - each node counted the replays of the other nodes' frames as rx_replay and every attacker
#     frame of its own ID (replayed, tampered, forged) as rx_injection, exactly.
# With SPSEC_VM_DEB set (the arm64 tier) the package is installed first and spsecd, spsecctl and
# spsec-setup are the installed ones (lib.sh vm_install_deb).
# shellcheck source=tests/vm/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
N=${SPSEC_BUS_FRAMES:-20}
SPSEC_SECURED_IDS="0x1A0, 0x1B0, 0x1C0"
SPSEC_PLAIN_IDS=0x7FF
# A 10 ms tick (data_bitrate 10k): the widest window, 2047 ticks, is then 20 s, so the replay,
# which follows the traffic by a few seconds under TCG, falls inside the window and must be
# caught by per-ID freshness (rx_replay), not merely by its age (rx_outside_window).
SPSEC_DATA_BITRATE=${SPSEC_DATA_BITRATE:-10k}
SPSEC_DIR=$(mktemp -d /tmp/spsec-bus-attack.XXXXXX)
NODES=(S A B)
declare -A ID=([S]=1C0 [A]=1A0 [B]=1B0)
SPSEC_APP_LOG=$VM_OUT/ba-app
PROBE=$VM_OUT/ba-wire.log
echo "# spsecd: $SPSECD ($(uname -m))"

spsec_bus_setup S A B X
spsec_sab_configs 0x1C0 0x1A0 0x1B0
spsec_sab_recorders "$PROBE" # $PROBE: what the attacker records on the wire
spsec_bus_start 60 90 || vm_finish
spsec_snap start "${NODES[@]}" || not_ok "counters readable"
X0=$(spsec_x_tx)

# ---- traffic: N frames from each node's application ---------------------------------------------
pids=()
for n in "${NODES[@]}"; do
	# -p: on ENOBUFS wait and retry, never skip a frame; -D i: LE counter payloads 0..N-1
	ip netns exec "ns$n" cangen "vx$n" -f -I "${ID[$n]}" -L 8 -D i -g 5 -n "$N" -p 100 &
	pids+=($!)
done
wait "${pids[@]}"
for n in "${NODES[@]}"; do
	if spsec_sentinel "$n" "${NODES[@]}"; then ok "sentinel from $n seen by every node"
	else not_ok "sentinel from $n seen by every node"; fi
done

# ---- the attacker: replay, tamper, forge --------------------------------------------------------
DATA_RE=' vx[SAB]w 1[ABC]0##'
grep "$DATA_RE" "$PROBE" >"$SPSEC_DIR/replay.log"
check_eq "the attacker recorded the $((3 * N)) data frames" $((3 * N)) "$(log_lines "$SPSEC_DIR/replay.log")"
ip netns exec nsX canplayer -t -I "$SPSEC_DIR/replay.log" vxX=vxAw vxX=vxBw vxX=vxSw
# the same frames, one bit of the first stamped byte flipped (RANDOM draws the bit)
while read -r ts ifn f; do
	data=${f#*##?}
	printf -v b '%02X' $((16#${data:0:2} ^ (1 << (RANDOM % 8))))
	echo "$ts $ifn ${f%%#*}##1$b${data:2}"
done <"$SPSEC_DIR/replay.log" >"$SPSEC_DIR/tampered.log"
ip netns exec nsX canplayer -t -I "$SPSEC_DIR/tampered.log" vxX=vxAw vxX=vxBw vxX=vxSw
# forged: random lengths and data under every secured ID
gen_frames "$SPSEC_DIR/forged.log" 60 1A0 1B0 1C0
play_frames -n nsX vxX "$SPSEC_DIR/forged.log"
if spsec_sentinel X "${NODES[@]}"; then ok "sentinel from X seen by every node"
else not_ok "sentinel from X seen by every node"; fi

# ---- the books ---------------------------------------------------------------------------------
spsec_snap end "${NODES[@]}" || not_ok "counters readable"
ATTACK=$(($(spsec_x_tx) - X0 - SPSEC_X_SENTINELS))
check_eq "the attacker sent $((3 * N)) replayed, $((3 * N)) tampered and 60 forged frames" \
	$((6 * N + 60)) "$ATTACK"
ACCT=$(spsec_account start end "$ATTACK")
jq -r '"# \(.node): sent \(.tx_ok), delivered \(.delivered) of \(.valid_sent) valid, " +
	"dropped \(.dropped) of \(.attack_sent) attack frames: \(.reasons)"' <<<"$ACCT"
spsec_check_books bus "$ACCT"
attack_frames_of() { # attack_frames_of <id>: the attacker's frames of that ID, all three kinds
	cat "$SPSEC_DIR/replay.log" "$SPSEC_DIR/tampered.log" "$SPSEC_DIR/forged.log" |
		grep -c " ${1}##"
}
for n in "${NODES[@]}"; do
	reasons=$(jq -c --arg n "$n" 'select(.node == $n) | .reasons' <<<"$ACCT")
	check_eq "$n counted the replays of the other nodes' frames as rx_replay" $((2 * N)) \
		"$(jq '.rx_replay // 0' <<<"$reasons")"
	check_eq "$n counted every attacker frame of its own ID ${ID[$n]} as rx_injection" \
		"$(attack_frames_of "${ID[$n]}")" "$(jq '.rx_injection // 0' <<<"$reasons")"
	want=$(stream_expected "$N")
	for m in "${NODES[@]}"; do
		# m = n: the application's own frames, looped back locally; the attacker's frames of
		# n's ID (injections) must not be among them
		what="$m's $N frames, plain, in order, and nothing else of ${ID[$m]}"
		[ "$m" = "$n" ] && what="its own $N frames (local loopback) and no attacker frame of ${ID[$m]}"
		got=$(frames_in_log "$(spsec_app_log "$n")" | sed -n "s/^${ID[$m]}##.//p")
		if [ "$got" = "$want" ]; then
			ok "$n's application received $what"
		else
			not_ok "$n's application received $what" "$(diff <(echo "$want") <(echo "$got") | head -n 12)"
		fi
	done
	# (extended IDs are the control plane's: heartbeats, time sync, PA, which pass to sockets)
	others=$(frames_in_log "$(spsec_app_log "$n")" | grep -E '^[0-9A-F]{3}#' | grep -vc '^1[ABC]0#')
	check_eq "$n's application received no frame of another standard ID" 0 "$others"
done
for n in "${NODES[@]}"; do spsec_stop_node_ok "$n"; done
rm -rf "$SPSEC_DIR"
vm_finish
