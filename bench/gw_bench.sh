#!/usr/bin/env bash
# Guest script of the gateway benchmark and probe (bench/run-vm-bench.sh --gateway runs it in the
# test VM; docs/gateway.md has the results). A gateway node G sits between a legacy segment (nsL,
# plain CAN FD applications) and a secured bus (nsB, a node running the tc data plane). Every
# variant is a separate set of vxcan pairs, measured side by side in one boot with the
# application pair of bench/vcan_bench.cpp (48-byte CAN FD frames, IDs 100..13F):
#
#   direct    nsG:app [egress stamps] ==vxcan== [ingress verifies] nsB:app   (no gateway: the
#             reference the gateway's added latency is measured against)
#   in_cangw  nsL:app ==vxcan== G:p -> can-gw (cangw -s p -d s -X) -> G:s [egress stamps]
#             ==vxcan== [ingress verifies] nsB:app
#   in_guard  in_cangw with the gateway's segment programs on G:p (bpf/spsec_gateway.h: per-rule
#             counters and rate limits) and the can-gw job, both set up by spsec_dp_driver --gw
#   in_relay  the same with a user-space relay (spsec_bench_gw relay: read, write; the secured
#             interface's egress stamps): the path classical frames would take
#   in_user   the project's user-space gateway (spsec_bench_gw seal: read, seal with the core
#             codec + OpenSSL, write; no data plane on G)
#   out_cangw nsB:app [egress stamps] ==vxcan== [G:s ingress verifies] -> can-gw -> G:p ==vxcan==
#             nsL:app
#   out_guard out_cangw with the segment programs on G:p (egress: only what a rule allows)
#   out_user  spsec_bench_gw open on G:s (no data plane on G), writes to G:p
#
# Probes (checks, before the measurement; bench/gw/gw_probe.bpf.c): whether tc can bpf_redirect a
# CAN skb from a segment's ingress to the secured interface (6.1: no, -ERANGE); whether tc can
# turn a classical skb into a CAN FD one (grows, but stays ETH_P_CAN); that with can-gw a frame
# failing verification on G never reaches the segment; whether skb->mark survives can-gw.
#
# usage (guest): gw_bench.sh [--smoke] [-n N] [-k K] [-m M] [--rounds R] [--aead NAME]
# shellcheck source-path=SCRIPTDIR source=../tests/vm/lib.sh
. "$SPSEC_SOURCE_DIR/tests/vm/lib.sh"
BENCH=$SPSEC_BUILD_DIR/bench/spsec_bench_vcan
GW=$SPSEC_BUILD_DIR/bench/spsec_bench_gw
DRV=$SPSEC_BUILD_DIR/tests/tools/spsec_dp_driver
PROBE=$SPSEC_BUILD_DIR/bench/spsec_gw_probe.bpf.o
N=20000 K=32 M=2000 ROUNDS=3 AEAD=chacha20-poly1305
while [ $# -gt 0 ]; do
	case "$1" in
	--smoke) N=300 M=100 ROUNDS=1 ;;
	-n) N=$2 && shift ;;
	-k) K=$2 && shift ;;
	-m) M=$2 && shift ;;
	--rounds) ROUNDS=$2 && shift ;;
	--aead) AEAD=$2 && shift ;;
	*) not_ok "gw_bench: unknown argument '$1'" && vm_finish ;;
	esac
	shift
done
require_built "$BENCH" "$GW" "$DRV"
check "$PROBE is built" test -f "$PROBE" || vm_finish
check "CAN and tc modules load" vm_modprobe_can || vm_finish
echo "# gw_bench: kernel $(uname -r), $(nproc) vCPU, N=$N K=$K M=$M rounds=$ROUNDS aead=$AEAD"
CLOCK=(--tick-ns 1000000 --window 2047) # as bench/vm_bench.sh: TCG stalls stay inside W
IDS=64
POL_OWN="" POL_RX=""
for ((i = 0; i < IDS; i++)); do
	POL_OWN+=$(printf '%s%X:so' "${POL_OWN:+,}" $((0x100 + i)))
	POL_RX+=$(printf '%s%X:s' "${POL_RX:+,}" $((0x100 + i)))
done
dp() { # dp <ns> <if> <policy> [driver options]: the data plane, keyed, on <ns>:<if>
	local ns=$1 ifn=$2 pol=$3
	shift 3
	"$DRV" attach "$ifn" --netns "$ns" --aead "$AEAD" --mode encrypt "${CLOCK[@]}" \
		--policy "$pol" "$@" >/dev/null
}
for ns in nsL nsG nsB; do ip netns add $ns; done
declare -A EP # EP[variant] = "txNS:IF rxNS:IF"
VARIANTS=()
GWPIDS=()

# direct: G -> B, no gateway
check "direct: vxcan nsG:d0 <-> nsB:e0" make_vxcan_pair nsG d0 nsB e0 &&
	check "direct: G:d0 stamps" dp nsG d0 "$POL_OWN" && check "direct: B:e0 verifies" \
	dp nsB e0 "$POL_RX" && EP[direct]="nsG:d0 nsB:e0" && VARIANTS+=(direct)

# gateways legacy -> secured: nsL:l<i> == nsG:p<i>, nsG:s<i> == nsB:b<i>
pair() { # pair <i>
	make_vxcan_pair nsL "l$1" nsG "p$1" && make_vxcan_pair nsG "s$1" nsB "b$1"
}
check "in_cangw: pairs" pair 2 && check "in_cangw: G:s2 stamps" dp nsG s2 "$POL_OWN" &&
	check "in_cangw: B:b2 verifies" dp nsB b2 "$POL_RX" &&
	check "in_cangw: cangw p2 -> s2 (filter 100/7C0)" ip netns exec nsG cangw -A -s p2 -d s2 -X -i \
		-f 100:7C0 && EP[in_cangw]="nsL:l2 nsB:b2" && VARIANTS+=(in_cangw)
check "in_guard: pairs" pair 8 &&
	check "in_guard: G:s8 stamps; rule in:p8:100-13F on p8's tc hooks and its can-gw job" \
		dp nsG s8 "$POL_OWN" --gw in:p8:100-13F &&
	check "in_guard: B:b8 verifies" dp nsB b8 "$POL_RX" &&
	EP[in_guard]="nsL:l8 nsB:b8" && VARIANTS+=(in_guard)
check "in_relay: pairs" pair 3 && check "in_relay: G:s3 stamps" dp nsG s3 "$POL_OWN" &&
	check "in_relay: B:b3 verifies" dp nsB b3 "$POL_RX" && {
	"$GW" relay --netns nsG --from p3 --to s3 >"$VM_OUT/gw-relay.log" 2>&1 &
	GWPIDS+=($!)
	check "in_relay: relay ready" wait_until 60 grep -qx ready "$VM_OUT/gw-relay.log"
} && EP[in_relay]="nsL:l3 nsB:b3" && VARIANTS+=(in_relay)
check "in_user: pairs" pair 4 && check "in_user: B:b4 verifies" dp nsB b4 "$POL_RX" && {
	"$GW" seal --netns nsG --from p4 --to s4 --aead "$AEAD" "${CLOCK[@]}" >"$VM_OUT/gw-seal.log" 2>&1 &
	GWPIDS+=($!)
	check "in_user: gateway ready" wait_until 60 grep -qx ready "$VM_OUT/gw-seal.log"
} && EP[in_user]="nsL:l4 nsB:b4" && VARIANTS+=(in_user)
# secured -> legacy
check "out_cangw: pairs" pair 6 && check "out_cangw: B:b6 stamps" dp nsB b6 "$POL_OWN" &&
	check "out_cangw: G:s6 verifies" dp nsG s6 "$POL_RX" &&
	check "out_cangw: cangw s6 -> p6" ip netns exec nsG cangw -A -s s6 -d p6 -X -i -f 100:7C0 &&
	EP[out_cangw]="nsB:b6 nsL:l6" && VARIANTS+=(out_cangw)
check "out_guard: pairs" pair 9 && check "out_guard: B:b9 stamps" dp nsB b9 "$POL_OWN" &&
	check "out_guard: G:s9 verifies; rule out:p9:100-13F on p9's tc hooks and its can-gw job" \
		dp nsG s9 "$POL_RX" --gw out:p9:100-13F &&
	EP[out_guard]="nsB:b9 nsL:l9" && VARIANTS+=(out_guard)
check "out_user: pairs" pair 7 && check "out_user: B:b7 stamps" dp nsB b7 "$POL_OWN" && {
	"$GW" open --netns nsG --from s7 --to p7 --aead "$AEAD" "${CLOCK[@]}" >"$VM_OUT/gw-open.log" 2>&1 &
	GWPIDS+=($!)
	check "out_user: gateway ready" wait_until 60 grep -qx ready "$VM_OUT/gw-open.log"
} && EP[out_user]="nsB:b7 nsL:l7" && VARIANTS+=(out_user)

# ---- probe ----------------------------------------------------------------------------------
counter() { # counter <if> <name>: a data-plane counter of that interface (0 if none)
	"$DRV" counters "$1" | awk -v n="$2" '$1 == n { print $2; f = 1 } END { if (!f) print 0 }'
}
wait_fd() { # wait_fd <log> <if> <id> <data hex>: a CAN FD frame with that ID and data, any flags
	wait_until 10 grep -q " $2 $3##.$4\$" "$1"
}
LOG=$VM_OUT/probe
mkdir -p "$LOG"
# nsenter, not `ip netns exec`: that remounts /sys and would hide the maps tc pins
NSG=(nsenter --net=/run/netns/nsG)
probe_out() { # probe_out <index>: gwp_out[index] as a signed number
	# from the raw little-endian bytes: jq reads big numbers as doubles; bash wraps at 2^63
	local hex
	hex=$(bpftool -j map lookup pinned /sys/fs/bpf/tc/globals/gwp_out key "$1" 0 0 0 |
		jq -r '.value | reverse | map(.[2:]) | join("")')
	echo $((16#$hex))
}
# 1. bpf_redirect from a plain segment's ingress to the secured interface (which stamps)
check "redirect probe: pairs" pair 1 && dp nsG s1 "$POL_OWN" && dp nsB b1 "$POL_RX" &&
	"${NSG[@]}" tc qdisc add dev p1 clsact &&
	check "redirect probe: tc loads gw_probe.bpf.o (tc/redirect) on p1" "${NSG[@]}" tc filter add \
		dev p1 ingress bpf da obj "$PROBE" sec tc/redirect && {
	idx=$(ip -n nsG -j link show s1 | jq '.[0].ifindex')
	bpftool map update pinned /sys/fs/bpf/tc/globals/gwp_cfg key 0 0 0 0 value \
		$((idx & 255)) $((idx >> 8 & 255)) 0 0
	start_candump -n nsB b1 "$LOG/b1.log" && P1=$VM_CANDUMP_PID
	ip netns exec nsL cansend l1 101##0.11223344
	check "redirect probe: tc saw the frame" wait_until 10 test "$(probe_out 5)" = 1
	send_sentinel -n nsG s1 "$LOG/b1.log" b1 2>/dev/null # s1 -> b1 is intact
	stop_candump "$P1"
	RC=$(probe_out 6)
	echo "# redirect probe: bpf_clone_redirect() returned $RC; B received:" \
		"$(frames_in_log "$LOG/b1.log" | tr '\n' ' '); s1 counters: $("$DRV" counters s1 | tr '\n' ' ')"
	check_eq "redirect probe: 6.1 refuses to redirect a CAN skb (-ERANGE: no link-layer header)" \
		-34 "$RC"
	check_eq "redirect probe: nothing reached the secured interface's egress (tx_ok)" 0 \
		"$(counter s1 tx_ok)"
}
# 2. classical -> CAN FD in tc: grow the skb to 72 bytes, try to change its protocol
make_vxcan_pair nsL cl0 nsG cl1 && "${NSG[@]}" tc qdisc add dev cl1 clsact &&
	check "classical probe: tc loads gw_probe.bpf.o (tc/grow) on cl1" "${NSG[@]}" tc filter add \
		dev cl1 ingress bpf da obj "$PROBE" sec tc/grow && {
	ip netns exec nsL cansend cl0 123#DEADBEEF
	check "classical probe: tc saw the frame" wait_until 10 test "$(probe_out 0)" = 1
	echo "# classical probe: bpf_skb_change_tail(72) returned $(probe_out 1), skb->len then" \
		"$(probe_out 2), skb->protocol $(printf '0x%04X' "$(probe_out 3)"), bpf_skb_change_proto(ETH_P_CANFD)" \
		"returned $(probe_out 4)"
	check_eq "classical probe: the skb can grow to 72 bytes" "0 72" "$(probe_out 1) $(probe_out 2)"
	check_eq "classical probe: but it stays ETH_P_CAN (0x000C); change_proto refuses (-ENOTSUPP)" \
		"12 -524" "$(probe_out 3) $(probe_out 4)"
}
# 3. does skb->mark set on a segment's ingress survive can-gw to the secured egress?
check "mark probe: pairs" pair 10 && "${NSG[@]}" tc qdisc add dev p10 clsact &&
	"${NSG[@]}" tc qdisc add dev s10 clsact &&
	check "mark probe: tc/mark on p10 ingress, tc/seemark on s10 egress" bash -c \
		"${NSG[*]} tc filter add dev p10 ingress bpf da obj '$PROBE' sec tc/mark &&
		 ${NSG[*]} tc filter add dev s10 egress bpf da obj '$PROBE' sec tc/seemark" &&
	check "mark probe: cangw p10 -> s10" ip netns exec nsG cangw -A -s p10 -d s10 -X -i && {
	ip netns exec nsL cansend l10 120##0.01
	check "mark probe: the frame reached s10's egress" wait_until 10 test "$(probe_out 7)" != 0
	check_eq "mark probe: the mark survives can-gw" 1196883969 "$(probe_out 7)"
}
# 4. can-gw with the data plane: a frame that fails verification on G:s6 does not cross
rx_drops() { "$DRV" counters s6 | awk '$1 ~ /^rx_/ && $1 != "rx_ok" { n += $2 } END { print n + 0 }'; }
drops_above() { [ "$(rx_drops)" -gt "$1" ]; }
start_candump -n nsL l6 "$LOG/l6.log" && P1=$VM_CANDUMP_PID
ip netns exec nsB cansend b6 105##0.0102030405 # stamped by B's egress, verified by G
check "out_cangw probe: the verified frame crosses, decrypted" wait_fd "$LOG/l6.log" l6 105 0102030405
# a forged frame straight onto the bus: B's data plane removed, so it goes out unstamped
D0=$(rx_drops)
"$DRV" detach b6 --netns nsB
ip netns exec nsB cansend b6 106##0.0A0B0C0D0E0F101112131415
check "out_cangw probe: G:s6 drops the forged frame" wait_until 10 drops_above "$D0"
dp nsB b6 "$POL_OWN" # B's data plane back (also for the measurement)
ip netns exec nsB cansend b6 105##0.AA # after the forged one on the same path
check "out_cangw probe: the next verified frame crosses" wait_fd "$LOG/l6.log" l6 105 AA
stop_candump "$P1"
check_eq "out_cangw probe: nothing of the forged frame reached the segment" "" \
	"$(grep ' l6 106#' "$LOG/l6.log")"


# ---- measurement ------------------------------------------------------------------------------
declare -A VAL
calc() { awk "BEGIN { printf \"%.${2:-2}f\", ($1) }"; }
target() { # target <what> <condition for awk>
	if awk "BEGIN { exit !($2) }"; then echo "TARGET $1: met"; else echo "TARGET $1: MISSED"; fi
}
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
for ((r = 1; r <= ROUNDS; r++)); do
	for v in "${VARIANTS[@]}"; do
		read -r tx rx <<<"${EP[$v]}"
		out=$VM_OUT/bench-$v-r$r.txt
		if "$BENCH" --label "${v}_r$r" --tx "$tx" --rx "$rx" -n "$N" -k "$K" -m "$M" \
			--ids "$IDS" --timeout 10 >"$out" 2>&1; then
			ok "$v round $r: $N + $M frames arrived intact and in order"
		else
			not_ok "$v round $r: every frame arrives intact and in order" "$(tail -3 "$out")"
			continue
		fi
		while read -r _ name val _; do
			VAL["$v ${name#vcan_"${v}"_r"$r"_} $r"]=$val
		done < <(grep '^BENCH ' "$out")
	done
done
med() {
	local r vals=()
	for ((r = 1; r <= ROUNDS; r++)); do [ -n "${VAL["$1 $2 $r"]:-}" ] && vals+=("${VAL["$1 $2 $r"]}"); done
	[ ${#vals[@]} -gt 0 ] && median "${vals[@]}"
}
echo "# medians over $ROUNDS round(s); latency = one frame in flight, us"
declare -A F P50 P99
for v in "${VARIANTS[@]}"; do
	F[$v]=$(med "$v" fps) P50[$v]=$(med "$v" lat_p50) P99[$v]=$(med "$v" lat_p99)
	echo "BENCH gw_${v}_fps ${F[$v]} frames/s"
	echo "BENCH gw_${v}_lat_p50 ${P50[$v]} us"
	echo "BENCH gw_${v}_lat_p99 ${P99[$v]} us"
done
if [ -n "${P99[direct]:-}" ]; then
	for v in "${VARIANTS[@]}"; do
		[ "$v" = direct ] && continue
		echo "BENCH gw_${v}_added_p50 $(calc "${P50[$v]} - ${P50[direct]}" 1) us"
		echo "BENCH gw_${v}_added_p99 $(calc "${P99[$v]} - ${P99[direct]}" 1) us"
	done
	for d in in out; do
		for v in cangw guard relay; do
			[ -n "${F[${d}_$v]:-}" ] && [ -n "${F[${d}_user]:-}" ] || continue
			echo "BENCH gw_${d}_${v}_vs_user_fps $(calc "${F[${d}_$v]} / ${F[${d}_user]}") x"
			echo "BENCH gw_${d}_${v}_vs_user_added_p99 $(calc "(${P99[${d}_$v]} - ${P99[direct]}) / (${P99[${d}_user]} - ${P99[direct]})") x"
		done
		# the issue's targets for the kernel path (information, never a check)
		for v in cangw guard; do
			[ -n "${F[${d}_$v]:-}" ] && [ -n "${F[${d}_user]:-}" ] || continue
			target "gw ${d}_$v frames/s >= 3x the user-space gateway" "${F[${d}_$v]} >= 3 * ${F[${d}_user]}"
			target "gw ${d}_$v added p99 <= 1/5 of the user-space gateway's" \
				"${P99[${d}_$v]} - ${P99[direct]} <= (${P99[${d}_user]} - ${P99[direct]}) / 5"
		done
	done
fi
for c in s2 b2 s6 b6 s8 s9; do echo "# counters $c: $("$DRV" counters "$c" | tr '\n' ' ')"; done
for p in "${GWPIDS[@]}"; do kill "$p" 2>/dev/null; done
wait "${GWPIDS[@]}" 2>/dev/null
cat "$VM_OUT"/gw-*.log | grep '^gateway' | sed 's/^/# /'
vm_finish
