#!/usr/bin/env bash
# vm tier: soak. A Sync and two participants running spsecd on one CAN FD bus (tests/vm/lib.sh
# spsec_bus_up), each with an application streaming its own secured ID (S 1C0, A 1A0, B 1B0,
# cangen), while an attacker without keys picks attacks at random (forged frames of any length,
# bit flips in frames it just recorded, replays of its recording, spoofing the nodes' own IDs,
# unknown IDs). At the end the books must balance exactly on every node — every valid frame the
# others sent delivered (rx_ok, and the same count in the application's candump), every attack
# frame dropped under some reason, nothing refused on egress — and no spsecd may have grown in
# memory (VmRSS after warm-up vs at the end, bounded slack). The attacker replays and tampers with
# data frames only: control-plane frames go to spsecd, which checks them itself (their data-plane
# verdict is rx_control, not a drop), and tests/vm/daemon*.sh cover those.
#
# usage (guest): soak.sh [SECONDS]    length of the attack-and-traffic run (default
#                                     $SPSEC_SOAK_SECONDS, else 45); warm-up is the first quarter
# Environment: SPSEC_SOAK_RSS_SLACK_KB  allowed VmRSS growth per daemon (default 512)
# shellcheck source=tests/vm/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
LENGTH=${1:-${SPSEC_SOAK_SECONDS:-45}}
SLACK_KB=${SPSEC_SOAK_RSS_SLACK_KB:-512}
SPSEC_AEAD=${SPSEC_AEAD:-aes-gcm}
SPSEC_SECURED_IDS="0x1A0, 0x1B0, 0x1C0"
SPSEC_PLAIN_IDS=0x7FF
# The attacks never pause, so the nodes stay in Warning for the whole run. The attacker's frames
# are unauthenticated and so never arm the Warning-sustained abort (docs/threat-model.md); the
# long warning_abort also keeps authenticated events (a late heartbeat under load) from
# aborting a node mid-run, since the soak measures steady-state accounting under attack.
SPSEC_WARNING_ABORT=$((LENGTH + 120))s
SPSEC_DIR=$(mktemp -d /tmp/spsec-soak.XXXXXX)
NODES=(S A B)
declare -A STREAM_ID=([S]=1C0 [A]=1A0 [B]=1B0)
PROBE=$VM_OUT/soak-probe.log

SPSEC_APP_LOG=$VM_OUT/soak-app
rss_kb() { # rss_kb <pid>: VmRSS in kB, or nothing (a check on it then fails)
	local k v _u
	while read -r k v _u; do [ "$k" = VmRSS: ] && echo "$v"; done <"/proc/$1/status"
}
# app_count <node> <id>: frames of that ID in the node's candump
app_count() { grep -c " vx$1 $2##" "$(spsec_app_log "$1")"; }
# data frames in the probe's log (control frames and sentinels left out)
DATA_RE=' vx[SAB]w 1[ABC]0##'

spsec_bus_setup S A B X
spsec_sab_configs 0x1C0 0x1A0 0x1B0
spsec_sab_recorders "$PROBE"
spsec_bus_start 30 60 || vm_finish
spsec_snap start "${NODES[@]}" || not_ok "counters readable"
X0=$(spsec_x_tx)

attacker() { # random attacks until the deadline (a background subshell; counts in the kernel)
	local ids=(1A0 1B0 1C0 555 00012345) own=(1A0 1B0 1C0) f data b n
	local kind names=(forge tamper replay spoof) gen=$SPSEC_DIR/attack.log
	vm_seed_subshell 1
	while [ "${EPOCHREALTIME/./}" -lt "$1" ]; do
		kind=$((RANDOM % 4))
		echo "${names[kind]}" >>"$VM_OUT/soak-attacks.log"
		case $kind in
		0)
			gen_frames "$gen" $((1 + RANDOM % 50)) "${ids[RANDOM % 5]}"
			cat "$gen" >>"$VM_OUT/soak-attack-frames.log"
			play_frames -n nsX vxX "$gen"
			;;
		1)
			f=$(tail -n 10 "$PROBE" | grep "$DATA_RE" | tail -n 1 | cut -d' ' -f3)
			data=${f#*##?}
			# RANDOM is read here, in this shell: inside $(...) or a pipeline bash reseeds it
			b=$((RANDOM % 8))
			if [ -n "$data" ]; then
				printf -v b '%02X' $((16#${data:0:2} ^ (1 << b)))
				ip netns exec nsX cansend vxX "${f%%#*}##1$b${data:2}"
			fi
			;;
		2)
			n=$((1 + RANDOM % 30))
			tail -n 100 "$PROBE" | grep "$DATA_RE" | tail -n "$n" \
				>"$SPSEC_DIR/replay.log"
			ip netns exec nsX canplayer -t -I "$SPSEC_DIR/replay.log" \
				vxX=vxAw vxX=vxBw vxX=vxSw || echo "# soak: canplayer failed" >&2
			;;
		3)
			gen_frames -L 16 "$gen" $((1 + RANDOM % 10)) "${own[RANDOM % 3]}"
			cat "$gen" >>"$VM_OUT/soak-attack-frames.log"
			play_frames -n nsX vxX "$gen"
			;;
		esac
		vm_nap 0.05
	done
}

echo "# soak: ${LENGTH}s of traffic from S, A and B with random attacks"
STREAMS=()
for n in "${NODES[@]}"; do
	ip netns exec "ns$n" cangen "vx$n" -f -I "${STREAM_ID[$n]}" -L 16 -D i -g 10 &
	STREAMS+=($!)
done
start_us=${EPOCHREALTIME/./}
: >"$VM_OUT/soak-attacks.log"
attacker $((start_us + LENGTH * 1000000)) &
APID=$!
# Warm-up (a quarter of the run): then sample every daemon's memory.
warmed_up() { [ "${EPOCHREALTIME/./}" -ge $((start_us + LENGTH * 250000)) ]; }
wait_until "$LENGTH" warmed_up
declare -A RSS0
for n in "${NODES[@]}"; do RSS0[$n]=$(rss_kb "${SPSEC_PIDS[$n]}"); done
wait "$APID"
kill "${STREAMS[@]}"
wait "${STREAMS[@]}" 2>/dev/null
for n in A B S X; do
	if spsec_sentinel "$n" "${NODES[@]}"; then ok "sentinel from $n seen by every node"
	else not_ok "sentinel from $n seen by every node"; fi
done
spsec_snap end "${NODES[@]}" || not_ok "counters readable"
ATTACK=$(($(spsec_x_tx) - X0 - SPSEC_X_SENTINELS))
ACCT=$(spsec_account start end "$ATTACK")
echo "# attacker frames: $ATTACK; attacks:" \
	"$(sort "$VM_OUT/soak-attacks.log" | uniq -c | tr -s ' \n' ' ')"
jq -r '"# \(.node): sent \(.tx_ok), delivered \(.delivered) of \(.valid_sent) valid, " +
	"dropped \(.dropped) of \(.attack_sent) attack frames: \(.reasons)"' <<<"$ACCT"
check "the attacker attacked" test "$ATTACK" -gt 0
spsec_check_books soak "$ACCT"
for n in "${NODES[@]}"; do
	got=0
	for m in "${NODES[@]}"; do
		[ "$m" = "$n" ] || got=$((got + $(app_count "$n" "${STREAM_ID[$m]}")))
	done
	check_eq "soak: $n's application received exactly what its data plane delivered" \
		"$(jq -r --arg n "$n" 'select(.node == $n) | .delivered' <<<"$ACCT")" "$got"
	# Warning lasts warning_hold (5 s) after the last security event, then Secure again.
	check "soak: $n back in Secure once the attacks stop" wait_until 30 spsec_state_is "$n" Secure
	check "soak: $n never aborted (no Waiting since the join)" bash -c \
		"! grep -qE '^spsecd: state (Secure|Warning) -> Waiting' '$VM_OUT/spsecd-$n.log'"
	rss=$(rss_kb "${SPSEC_PIDS[$n]}")
	echo "# $n spsecd VmRSS after warm-up ${RSS0[$n]} kB, at the end $rss kB"
	if [[ $rss =~ ^[0-9]+$ && ${RSS0[$n]} =~ ^[0-9]+$ ]]; then
		check "soak: $n's spsecd grew by at most $SLACK_KB kB" test $((rss - RSS0[$n])) -le "$SLACK_KB"
	else
		not_ok "soak: $n's spsecd VmRSS readable" "after warm-up '${RSS0[$n]}', at the end '$rss'"
	fi
done
jq -n --argjson len "$LENGTH" --argjson attack "$ATTACK" --slurpfile nodes <(echo "$ACCT") \
	'{seconds: $len, attack_frames: $attack, nodes: $nodes}' >"$VM_OUT/soak-report.json"
for n in "${NODES[@]}"; do spsec_stop_node_ok "$n"; done
rm -rf "$SPSEC_DIR"
vm_finish
