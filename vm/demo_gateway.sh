#!/usr/bin/env bash
# Guest side of scripts/demo.sh --gateway (runs in the test VM): a gateway between a secured CAN FD
# bus of spsecd nodes and two legacy segments of unmodified applications, under attack from both
# sides, narrated for a person, checked with numbers, reported as JSON (docs/gateway.md).
#
#   Sync S (pp 1)         nsS:vxS ==vxcan== vxSw \
#   gateway G (pp 5)      nsG:vxG ==vxcan== vxGw  [ W: can-gw joins every pair (the secured bus);
#   participant B (pp 6)  nsB:vxB ==vxcan== vxBw  [    a wire tap records vxGw and vxBw         ]
#   attacker X (no keys)  nsX:vxX ==vxcan== vxXw /
#   G's plain segments:   nsG:f1 ==vxcan== legacy:l1   CAN FD (MTU 72)
#                         nsG:c2 ==vxcan== legacy:l2   classical CAN (MTU 16 on both ends)
#
# G's gateway rules (rule number = position; the counters' index):
#   0  0x120-0x123  to_secured  from f1     can-gw forwards, G's egress stamps as G's own
#   1  0x130        to_secured  from f1     10 frames/s, burst 5
#   2  0x200/0x7FE  to_plain    to f1       B's 200, 201 once G verified them
#   3  0x180-0x181  to_secured  from c2     classical: spsecd's relay converts to CAN FD
#   4  0x202-0x203  to_plain    to c2       as classical frames when they fit (8 bytes)
# Applications (nothing in them knows about SPsec): seeded frames with canplayer and candump,
# ISO-TP over CAN FD across f1 (121 <-> 201) and classical ISO-TP across c2 (181 <-> 203).
# Phases: traffic both ways on both segments (byte for byte); an attacker on the legacy side
# sending IDs no rule lets it send; a legacy ECU flooding the rate-limited ID; the keyless
# attacker X on the secured bus forging, replaying G's frames at once and B's recorded ones later,
# tampering, and spoofing G's and B's own IDs. After each phase two sets of books must balance exactly:
#   the secured bus (tests/vm/lib.sh spsec_account): per node, delivered == valid frames the
#     others sent, dropped == attack frames, by reason;
#   the gateway: every frame the legacy ECUs sent is counted once on G's segment ingress
#     (crossed, no rule or over rate), every one that crossed was stamped on the bus, every
#     frame the segments received is one G verified and a to_plain rule let out (or one too long
#     for the classical segment, counted by the relay).
# The summary shows both tables and G's per-rule counters as `spsecctl stats` prints them.
#
# usage (guest): demo_gateway.sh [--aead aes-gcm|chacha20-poly1305|ascon] [--auth-only]
#                                [--json FILE]
#   --json  the machine-readable report (default $VM_OUT/demo-report.json)
# Exit status 0 only if every check passed.
# shellcheck source-path=SCRIPTDIR source=../tests/vm/lib.sh
. "$SPSEC_SOURCE_DIR/tests/vm/lib.sh"
AEAD=chacha20-poly1305
MODE=encrypt
REPORT=$VM_OUT/demo-report.json
while [ $# -gt 0 ]; do
	case "$1" in
	--aead) AEAD=$2; shift ;;
	--auth-only) MODE=auth-only ;;
	--json) REPORT=$2; shift ;;
	*)
		not_ok "demo --gateway: unknown argument '$1' (use --aead NAME, --auth-only, --json FILE)"
		vm_finish
		;;
	esac
	shift
done
SPSEC_AEAD=$AEAD
SPSEC_MODE=$MODE
SPSEC_SECURED_IDS="0x120, 0x121, 0x122, 0x123, 0x130, 0x180, 0x181, 0x200, 0x201, 0x202, 0x203"
SPSEC_PLAIN_IDS=0x7FF
SPSEC_DIR=$(mktemp -d /tmp/spsec-gwdemo.XXXXXX)
NODES=(S G B)
OUT=$VM_OUT/gwdemo # the frames sent, the candump logs
mkdir -p "$OUT"
SPSEC_APP_LOG=$OUT/app # the applications' candump on S, G and B (also the sentinels' witnesses)
WIRE=$OUT/wire.log     # the wire tap: what G and B put on the bus
LEGACY=$OUT/legacy.log # what the legacy ECUs receive on l1 and l2
PHASES=$SPSEC_DIR/phases.jsonl
ISO_FD=(-L 72:48:0) # ISO-TP over CAN FD, 48-byte frames (a secured frame carries at most 54)
ISO_C8=(-L 72:8:0)  # B's side of the classical segment: 8-byte frames, as the relay carries them

say() { printf '\n=== %s\n' "$*"; }
info() { printf '  %s\n' "$*"; }

# settle <node>...: every frame those nodes sent so far has been delivered or dropped everywhere
settle() {
	local n
	for n; do spsec_sentinel "$n" "${NODES[@]}" || return 1; done
}
# only <log> <ifname> <id regex>: the lines of that interface and those IDs, in a file; its name
only() {
	local f=$1.$2.${3//[^A-Za-z0-9]/_}
	grep -E " $2 ($3)#" "$1" >"$f" || :
	echo "$f"
}
# seen <log>: "ID DATA" per frame (the FD flags nibble left out), sentinels left out (as
# is_sentinel); one awk, where frames_in_log and friends cost several execs per call under TCG
seen() {
	awk '{ f = $3; if (f == "") next
	       if (index(f, "##")) { id = substr(f, 1, index(f, "##") - 1); d = substr(f, length(id) + 4) }
	       else { id = substr(f, 1, index(f, "#") - 1); d = substr(f, length(id) + 2)
	              if (substr(d, 1, 4) == "5E17" && length(d) == 16) next }
	       print id " " d }' "$1"
}
nth() { # nth <file> <n>: the frame on the n-th line of a candump -L log
	local -a l
	mapfile -t l <"$1"
	echo "${l[$2 - 1]##* }"
}
lines_ge() { [ "$(wc -l <"$1")" -ge "$2" ]; }
count_ge() { [ "$(wc -l <"$(only "$1" "$2" "$3")")" -ge "$4" ]; } # count_ge <log> <if> <ids> <n>
pdu() { # pdu <n> <tag>: n bytes "C0 DE <tag> 03 04 05 ..."
	local i out="C0 DE $2"
	for ((i = 3; i < $1; i++)); do out+=$(printf ' %02X' $((i & 255))); done
	echo "$out"
}
isotp_ready() { # isotp_ready <pid> <ifname> <id>: that process's ISO-TP receiver is registered
	cat "/proc/$1/net/can/rcvlist_sff" "/proc/$1/net/can/rcvlist_fil" 2>/dev/null | grep -q "$2 .* $3 "
}
# legacy_links: the legacy ends' frame counts, {"l1": {"tx": N, "rx": N}, "l2": ...}. vxcan
# counts a frame on both ends only once the peer took it, after the peer's tc ingress and
# before nothing else: l1 tx = frames into G's f1 ingress, l1 rx = frames f1's egress let out.
legacy_links() {
	ip -n legacy -j -s link show | jq -c 'map(select(.ifname == "l1" or .ifname == "l2") |
		{(.ifname): {tx: .stats64.tx.packets, rx: .stats64.rx.packets}}) | add'
}
relay_too_long() { spsec_status_json G | jq '[.gateway_relay.rules[]?.too_long] | add // 0'; }

# phase_begin <name> <title...> / phase_end <senders>: counters of S, G, B and of the legacy links
# before and after (synchronised by sentinels from the nodes that sent in the phase), both
# books, printed and kept for the summary. A phase starts from the state the previous one ended
# with (nothing is sent between phases), so only the first phase reads the counters at its start.
# Every number a check or a line needs comes out of two jq runs per phase: each exec costs
# 50-500 ms under TCG.
phase_begin() {
	PHASE=$1
	shift
	PHASE_TITLE=$*
	say "$PHASE_TITLE"
	if [ -z "${END_LABEL:-}" ]; then
		spsec_snap "$PHASE-0" "${NODES[@]}" || not_ok "$PHASE: counters readable"
		END_X=$(spsec_x_tx) END_LEG=$(legacy_links) END_TL=$(relay_too_long)
	else
		cp "$SPSEC_DIR/snap-$END_LABEL.json" "$SPSEC_DIR/snap-$PHASE-0.json"
	fi
	X0=$END_X XS0=$SPSEC_X_SENTINELS LEG0=$END_LEG TL0=$END_TL
}
declare -A GV # the phase's gateway books (keys of GW below) and rule deltas rN_forwarded, ...
phase_end() {
	settle "$@" || not_ok "$PHASE: sentinels from $* seen by every node"
	spsec_snap "$PHASE-1" "${NODES[@]}" || not_ok "$PHASE: counters readable"
	END_LABEL=$PHASE-1 END_X=$(spsec_x_tx) END_LEG=$(legacy_links) END_TL=$(relay_too_long)
	ATTACK=$((END_X - X0 - (SPSEC_X_SENTINELS - XS0)))
	ACCT=$(spsec_account "$PHASE-0" "$PHASE-1" "$ATTACK")
	GW=$(jq -c -n --slurpfile a "$SPSEC_DIR/snap-$PHASE-0.json" \
		--slurpfile b "$SPSEC_DIR/snap-$PHASE-1.json" --argjson l0 "$LEG0" \
		--argjson l1 "$END_LEG" --argjson tl "$((END_TL - TL0))" '
		def d($k): ($b[0].G.counters[$k] // 0) - ($a[0].G.counters[$k] // 0);
		{legacy_sent: ($l1.l1.tx + $l1.l2.tx - $l0.l1.tx - $l0.l2.tx),
		 to_secured: (d("rx_gw_in_allowed") + d("rx_gw_classic")),
		 no_rule: d("rx_gw_no_rule"), over_rate: d("rx_gw_rate_limited"),
		 stamped: d("tx_ok"), verified: d("rx_ok"), too_long: $tl,
		 to_plain: d("tx_gw_out_allowed"),
		 out_refused: (d("tx_gw_out_not_allowed") + d("tx_gw_out_rate_limited")),
		 local_tx: d("tx_gw_local_tx"),
		 legacy_got: ($l1.l1.rx + $l1.l2.rx - $l0.l1.rx - $l0.l2.rx),
		 rules: [$b[0].G.gateway[] | . as $r | ($a[0].G.gateway[] | select(.rule == $r.rule)) as $o
			| {rule, forwarded: (.forwarded - $o.forwarded), over_rate: (.over_rate - $o.over_rate),
			   classical: (.classical - $o.classical)}]}')
	info "the attacker X put $ATTACK frames on the secured bus"
	local kind node vs dl as dr td line v
	GV=()
	while read -r kind line; do
		case $kind in
		say) echo "  $line" ;;
		book)
			read -r node vs dl as dr td <<<"$line"
			check_eq "$PHASE: $node's books balance (delivered/valid sent, dropped/attack frames, refused/0)" \
				"$vs/$vs $as/$as 0/0" "$dl/$vs $dr/$as $td/0"
			;;
		gwbook)
			read -r -a v <<<"$line"
			check_eq "$PHASE: G's books balance (legacy sent = crossed + no rule + over rate, crossed = stamped, received = let out = verified - too long, refused 0)" \
				"${v[0]} ${v[2]} ${v[4]} ${v[6]} 0" "${v[1]} ${v[3]} ${v[5]} ${v[7]} ${v[8]}"
			;;
		gv) GV[${line% *}]=${line#* } ;;
		esac
	done < <(jq -r -n --argjson gw "$GW" --slurpfile acct <(echo "$ACCT") '
		($acct[] | "say firewall on \(.node): delivered \(.delivered) of \(.valid_sent) valid " +
			"frames; dropped \(.dropped) of \(.attack_sent) attack frames" + (if .reasons == {}
			then "" else ": " + (.reasons | to_entries | map("\(.key) \(.value)") | join(", "))
			end)),
		($gw | "say gateway G: the legacy ECUs sent \(.legacy_sent): \(.to_secured) crossed " +
			"(stamped \(.stamped)), \(.no_rule) no rule, \(.over_rate) over rate; G verified " +
			"\(.verified): \(.to_plain) crossed to the segments, \(.too_long) too long for c2; " +
			"the segments received \(.legacy_got)"),
		($acct[] | "book \(.node) \(.valid_sent) \(.delivered) \(.attack_sent) \(.dropped) \(.tx_dropped)"),
		($gw | "gwbook " + ([.legacy_sent, .to_secured + .no_rule + .over_rate, .to_secured,
			.stamped, .legacy_got, .to_plain + .local_tx, .to_plain, .verified - .too_long,
			.out_refused] | map(tostring) | join(" "))),
		($gw | del(.rules) | to_entries[] | "gv \(.key) \(.value)"),
		($gw.rules[] | . as $r | ("forwarded", "over_rate", "classical") |
			"gv r\($r.rule)_\(.) \($r[.])"),
		($acct[] | . as $n | .reasons | to_entries[] | "gv \($n.node)_\(.key) \(.value)")')
	echo "{\"phase\":\"$PHASE\",\"title\":\"$PHASE_TITLE\",\"attack_frames\":$ATTACK,\"gateway\":$GW,\"nodes\":[${ACCT//$'\n'/,}]}" >>"$PHASES"
}
reason() { echo "${GV[$1_$2]:-0}"; } # reason <node> <name>: that node's drops in the phase
gw() { echo "${GV[$1]}"; }          # gw <key>: the phase's gateway books, rule deltas rN_<field>
# state_is_soon <node> <state>: spsec_state_is, polled gently: each poll is two execs (spsecctl,
# jq) taken from the spsecd that is starting on the same emulated CPU
state_is_soon() { spsec_state_is "$@" || { vm_nap 0.3; return 1; }; }

echo
echo "=== spsec-linux: a gateway between a secured CAN FD bus and legacy segments ==="
echo "kernel $(uname -r) in QEMU; AEAD $AEAD, mode $MODE. On the secured bus a Sync S, the gateway G"
echo "and a participant B (all spsecd) and an attacker X without keys; behind G a CAN FD segment"
echo "(f1) and a classical CAN segment (c2) of legacy ECUs that know nothing of SPsec."

say "0. bringing up the bus and the segments"
require_built "$SPSECD" "$SPSECCTL"
check "four nodes in namespaces (S, G, B, the attacker X), joined by can-gw" \
	spsec_bus_up S G B X || vm_finish
make_segments() { # f1: CAN FD; c2: classical (MTU 16 on both ends: no CAN FD frame fits)
	make_vxcan_pair nsG f1 legacy l1 &&
		ip link add dev c2 netns nsG mtu 16 type vxcan peer name l2 netns legacy mtu 16 &&
		ip -n nsG link set dev c2 up && ip -n legacy link set dev l2 up
}
check "G's segments: nsG:f1 <-> legacy:l1 (CAN FD), nsG:c2 <-> legacy:l2 (classical)" \
	make_segments || vm_finish
check "can-isotp loads (ISO-TP on both segments)" modprobe can-isotp || vm_finish
rm -f "$SPSEC_STATE_DIR/vxS.t" "$SPSEC_STATE_DIR/vxS.csalt"
check "spsec-setup new-keys writes the key store of the network" spsec_new_keys || vm_finish
spsec_write_config S 1 on "5, 6" "" &&
	spsec_write_config G 5 off "1, 6" "0x120, 0x121, 0x122, 0x123, 0x130, 0x180, 0x181" &&
	spsec_write_config B 6 off "1, 5" "0x200, 0x201, 0x202, 0x203" || vm_finish
cat >>"$SPSEC_DIR/G.yaml" <<CFG
gateway:
  segments:
    - {name: f1, frames: fd}
    - {name: c2, frames: classic}
  rules:
    - {ids: 0x120-0x123, direction: to_secured, segment: f1}
    - {ids: 0x130, direction: to_secured, segment: f1, rate: 10, burst: 5}
    - {ids: 0x200/0x7FE, direction: to_plain, segment: f1}
    - {ids: 0x180-0x181, direction: to_secured, segment: c2}
    - {ids: 0x202-0x203, direction: to_plain, segment: c2}
CFG
for n in "${NODES[@]}"; do
	start_candump -n "ns$n" "vx$n" "$(spsec_app_log "$n")" || not_ok "candump application on $n"
done
start_candump -n W vxGw "$WIRE" vxBw || not_ok "the wire tap on vxGw and vxBw"
start_candump -n legacy l1 "$LEGACY" l2 || not_ok "the legacy ECUs' candump on l1 and l2"
# ISO-TP applications: legacy 121 <-> B 201 across f1 (CAN FD), legacy 181 <-> B 203 across c2
ip netns exec nsB stdbuf -oL isotprecv -s 201 -d 121 "${ISO_FD[@]}" -l vxB >"$OUT/iso-b-f1.txt" 2>&1 &
P1=$!
ip netns exec nsB stdbuf -oL isotprecv -s 203 -d 181 "${ISO_C8[@]}" -l vxB >"$OUT/iso-b-c2.txt" 2>&1 &
P2=$!
ip netns exec legacy stdbuf -oL isotprecv -s 121 -d 201 "${ISO_FD[@]}" -l l1 >"$OUT/iso-l1.txt" 2>&1 &
P3=$!
ip netns exec legacy stdbuf -oL isotprecv -s 181 -d 203 -l l2 >"$OUT/iso-l2.txt" 2>&1 &
P4=$!
isotp_all_ready() {
	isotp_ready "$P1" vxB 121 && isotp_ready "$P2" vxB 181 && isotp_ready "$P3" l1 201 &&
		isotp_ready "$P4" l2 203
}
check "the ISO-TP applications listen (B on 121 and 181, the legacy ECUs on 201 and 203)" \
	wait_until 20 isotp_all_ready

say "1. join: the Sync starts, G and B join by Parameter Authentication"
# all three at once: G and B ask for Parameter Authentication until the Sync answers (pa_retry)
spsec_start_node S
spsec_start_node G
spsec_start_node B
check "the Sync reaches Secure" wait_until 60 state_is_soon S Secure || vm_finish
check "the gateway G reaches Secure by Parameter Authentication" \
	wait_until 60 state_is_soon G Secure || vm_finish
check "B reaches Secure by Parameter Authentication" wait_until 60 state_is_soon B Secure ||
	vm_finish
info "G: $(grep -o 'gateway: [0-9]* rules.*' "$VM_OUT/spsecd-G.log" | tail -n 1)"

# ---- 2. traffic --------------------------------------------------------------------------------
phase_begin traffic "2. traffic: legacy -> secured and back, on both segments, byte for byte"
# legacy f1 -> B: 120, 122, 123, the lengths a stamp leaves room for; legacy c2 -> B: 180, 0..8
# bytes; B -> f1: 200; B -> c2: 202 (classical lengths) and one 12-byte frame c2 cannot carry
: >"$OUT/in-f1.log"
for len in 0 1 8 12 20 32 48; do
	gen_frames -L "$len" "$OUT/part.log" 3 120 122 123 && cat "$OUT/part.log" >>"$OUT/in-f1.log"
done
gen_frames -c "$OUT/in-c2.log" 12 180
: >"$OUT/out-f1.log"
for len in 0 8 24 48; do
	gen_frames -L "$len" "$OUT/part.log" 4 200 && cat "$OUT/part.log" >>"$OUT/out-f1.log"
done
gen_frames -c "$OUT/out-c2.log" 10 202
# B's application sends them as CAN FD (the bus is CAN FD), then the one that does not fit
sed -E 's/ gen ([0-9A-F]{3})#/ gen \1##0/' "$OUT/out-c2.log" >"$OUT/out-c2-fd.log"
echo "(0.000000) gen 202##0000102030405060708090A0B" >>"$OUT/out-c2-fd.log"
N_IN_F=$(log_lines "$OUT/in-f1.log") N_IN_C=$(log_lines "$OUT/in-c2.log")
N_OUT_F=$(log_lines "$OUT/out-f1.log") N_OUT_C=$(log_lines "$OUT/out-c2.log")
# one canplayer per side (an exec costs): l1's frames, then l2's (interface gen2 in the log)
sed 's/ gen / gen2 /' "$OUT/in-c2.log" | cat "$OUT/in-f1.log" - >"$OUT/in.log"
ip netns exec legacy canplayer -t -I "$OUT/in.log" l1=gen l2=gen2 || not_ok "canplayer on l1, l2"
cat "$OUT/out-f1.log" "$OUT/out-c2-fd.log" >"$OUT/out.log"
play_frames -n nsB vxB "$OUT/out.log" || not_ok "canplayer on vxB"
# ISO-TP, each side's PDUs in one shell: a single frame and a multi-frame PDU each way
ISO_PDUS=("$(pdu 7 01)" "$(pdu 150 02)")
iso_l="" iso_b=""
for p in "${ISO_PDUS[@]}"; do
	iso_l+="echo '$p' | isotpsend -s 121 -d 201 ${ISO_FD[*]} l1 && echo '$p' | isotpsend -s 181 -d 203 l2 && "
	iso_b+="echo '$p' | isotpsend -s 201 -d 121 ${ISO_FD[*]} vxB && echo '$p' | isotpsend -s 203 -d 181 ${ISO_C8[*]} vxB && "
done
ip netns exec legacy sh -c "${iso_l}:" || not_ok "isotpsend on l1 and l2"
ip netns exec nsB sh -c "${iso_b}:" || not_ok "isotpsend on vxB"
B_LOG=$(spsec_app_log B)
# (each poll execs grep; a pause after a miss leaves the emulated CPU to the frames)
got_in() {
	count_ge "$B_LOG" vxB '12[023]' "$N_IN_F" && count_ge "$B_LOG" vxB 180 "$N_IN_C" ||
		{ vm_nap 0.2; return 1; }
}
got_out() {
	count_ge "$LEGACY" l1 200 "$N_OUT_F" && count_ge "$LEGACY" l2 202 "$N_OUT_C" ||
		{ vm_nap 0.2; return 1; }
}
got_iso() {
	lines_ge "$OUT/iso-b-f1.txt" 2 && lines_ge "$OUT/iso-b-c2.txt" 2 &&
		lines_ge "$OUT/iso-l1.txt" 2 && lines_ge "$OUT/iso-l2.txt" 2
}
check "B received the $N_IN_F frames of f1 and the $N_IN_C of c2" wait_until 30 got_in
check "the legacy ECUs received B's $N_OUT_F frames on l1 and $N_OUT_C on l2" wait_until 30 got_out
check "the four ISO-TP applications received 2 PDUs each" wait_until 30 got_iso
phase_end B G
check_eq "f1 -> B: byte for byte, in order" "$(seen "$OUT/in-f1.log")" \
	"$(seen "$(only "$B_LOG" vxB '12[023]')")"
check_eq "c2 -> B: byte for byte, in order, as CAN FD frames" "$(seen "$OUT/in-c2.log") $N_IN_C" \
	"$(seen "$(only "$B_LOG" vxB 180)") $(grep -c ' vxB 180##' "$B_LOG")"
check_eq "B -> f1: byte for byte, in order" "$(seen "$OUT/out-f1.log")" \
	"$(seen "$(only "$LEGACY" l1 200)")"
check_eq "B -> c2: byte for byte, in order, as classical frames; the 12-byte frame not carried" \
	"$(frames_in_log "$OUT/out-c2.log")" "$(frames_in_log "$(only "$LEGACY" l2 202)")"
check_eq "the relay counted the 12-byte frame as too long (not cut)" 1 "$(gw too_long)"
printf '%s\n' "${ISO_PDUS[@]}" >"$OUT/iso-sent.txt"
for f in iso-b-f1 iso-l1 iso-b-c2 iso-l2; do
	case $f in
	iso-b-f1) what="ISO-TP f1 -> B (CAN FD)" ;;
	iso-l1) what="ISO-TP B -> f1 (CAN FD)" ;;
	iso-b-c2) what="ISO-TP c2 -> B (classical on the segment)" ;;
	iso-l2) what="ISO-TP B -> c2 (classical on the segment)" ;;
	esac
	check_eq "$what: the 2 PDUs byte for byte" "$(cat "$OUT/iso-sent.txt")" \
		"$(sed 's/ *$//' "$OUT/$f.txt")"
done
info "legacy ECU sent on f1:  $(nth "$OUT/in-f1.log" 5)"
info "the bus carried:        $(nth "$(only "$WIRE" vxGw '12[023]')" 5)"
info "B's application got:    $(nth "$B_LOG.vxB.12_023_" 5)"
info "legacy ECU sent on c2:  $(nth "$OUT/in-c2.log" 3)"
info "the bus carried:        $(nth "$(only "$WIRE" vxGw 180)" 3)"
info "B's application got:    $(nth "$B_LOG.vxB.180" 3)"
info "B sent for c2:          $(nth "$OUT/out-c2-fd.log" 2)"
info "the legacy ECU got:     $(nth "$LEGACY.l2.202" 2)"
if [ "$MODE" = encrypt ]; then
	check_eq "no legacy payload of 8 bytes or more in clear on the bus" "" \
		"$(data_in_log "$(only "$WIRE" vxGw '12[0-3]|180|181')" |
			grep -F -f <(data_in_log "$OUT/in-f1.log" | grep -E '^.{16,}' | cut -c1-16) | head -n 3)"
fi

# ---- 3. an attacker on the legacy segments ---------------------------------------------------
phase_begin legacy_attack "3. an attacker on the legacy segments sends IDs no rule lets it send"
# f1: 124 (no rule), 200 (B's: only to_plain), 7E0, 00000120 (29-bit, not 120), 02000120 (control
# plane), 120 RTR, 180 (c2's rule, not f1's); c2: 182, 202 (B's), 120 (f1's rule), 7E0. Then one
# allowed frame on each: once B has both, the attack frames had their turn on the same paths.
LA_F1=(124##0AA 200##0BB 7E0##0CC 00000120##0DD 02000120##0EE 120#R 180##0FF)
LA_C2=(182#11 202#22 120#33 7E0#44)
B_MARK=$(log_lines "$B_LOG")
send_frames -n legacy l1 "${LA_F1[@]}" 123##0.5E5E || not_ok "the attacker's frames on l1"
send_frames -n legacy l2 "${LA_C2[@]}" 180#5E5E || not_ok "the attacker's frames on l2"
allowed_in() { grep -qE ' vxB 123##.5E5E$' "$B_LOG" && grep -qE ' vxB 180##.5E5E$' "$B_LOG"; }
check "the allowed frames after them reach B" wait_until 30 allowed_in
phase_end G
check_eq "legacy attack: G held all $((${#LA_F1[@]} + ${#LA_C2[@]})) (rx_gw_no_rule); only the 2 allowed frames crossed" \
	"$((${#LA_F1[@]} + ${#LA_C2[@]})) 2 2" "$(gw no_rule) $(gw to_secured) $(gw stamped)"
# (standard IDs: the control plane's 29-bit frames reach B's candump too)
log_after "$B_LOG" "$B_MARK" >"$OUT/b-legacy-attack.log"
check_eq "legacy attack: B's applications got only the 2 allowed frames" "123 5E5E|180 5E5E" \
	"$(seen "$(only "$OUT/b-legacy-attack.log" vxB '[0-9A-F]{3}')" | paste -sd'|')"

# ---- 4. a legacy ECU floods the rate-limited ID ----------------------------------------------
phase_begin rate "4. a legacy ECU floods 0x130 (rule 1: 10 frames/s, burst 5): 60 frames back" \
	"to back"
gen_frames -L 8 "$OUT/flood.log" 60 130
play_frames -n legacy l1 "$OUT/flood.log" || not_ok "canplayer on l1"
send_frames -n legacy l1 123##0.5E5F
check "the allowed frame after the flood reaches B" wait_until 30 grep -qE ' vxB 123##.5E5F$' "$B_LOG"
phase_end G
FWD1=$(gw r1_forwarded) RATE1=$(gw r1_over_rate)
info "rule 1 forwarded $FWD1, dropped $RATE1 over its rate"
check_eq "rate: rule 1 forwarded + over rate = the 60 frames of the flood" 60 $((FWD1 + RATE1))
check "rate: the burst of 5 went through, and the rule dropped some as over rate" \
	test "$FWD1" -ge 5 -a "$RATE1" -ge 1
check_eq "rate: rx_gw_rate_limited counted the same; B got exactly what rule 1 forwarded" \
	"$RATE1 $FWD1" "$(gw over_rate) $(grep -c ' vxB 130##' "$B_LOG")"

# ---- 5-7. the attacker X on the secured bus ---------------------------------------------------
# nothing_crossed <what>: after an attack on the bus, no frame reached either segment and no
# to_plain rule moved
nothing_crossed() {
	check_eq "$1: nothing reached the segments (f1, c2), no to_plain rule moved" "0 0 0 0" \
		"$(gw legacy_got) $(gw to_plain) $(gw r2_forwarded) $(gw r4_forwarded)"
}
phase_begin forgery "5. forgery: X injects frames it made up with B's and G's IDs"
: >"$OUT/forged.log"
gen_frames "$OUT/forged.log" 24 200 201 202 203 120 180
gen_frames -c "$OUT/part.log" 6 202 && cat "$OUT/part.log" >>"$OUT/forged.log"
play_frames -n nsX vxX "$OUT/forged.log" || not_ok "canplayer on vxX"
phase_end X
check_eq "forgery: 30 frames forged" 30 "$ATTACK"
nothing_crossed forgery

phase_begin replay "6. replay and tampering: X plays back G's next frames at once, B's frames" \
	"it recorded on the wire earlier, and some with one bit flipped"
# The prompt replay: X records the 6 frames G stamps for the legacy ECU next and plays them back
# right away, inside the acceptance window (2047 ticks of 1 ms), so per-ID freshness is what
# catches them (rx_replay). The earlier recordings are older than the window by now: their 12-bit
# T is rebuilt as a different T and their tag fails (rx_bad_tag), or they are outside it.
start_candump -n nsX vxX "$OUT/prompt.log" || not_ok "X's recorder on vxX"
REC=$VM_CANDUMP_PID
gen_frames -L 16 "$OUT/prompt-sent.log" 6 120 # room for the 10-byte stamp
play_frames -n legacy l1 "$OUT/prompt-sent.log" || not_ok "canplayer on l1"
prompt_recorded() { [ "$(grep -c ' vxX 120##' "$OUT/prompt.log")" -ge 6 ]; }
check "replay: X recorded G's 6 frames of 120 on the bus" wait_until 30 prompt_recorded
stop_candump "$REC"
grep ' vxX 120##' "$OUT/prompt.log" >"$OUT/prompt-replay.log"
ip netns exec nsX canplayer -t -I "$OUT/prompt-replay.log" vxX=vxX || not_ok "canplayer on vxX"
grep -E ' vxBw 20[0-3]##' "$WIRE" >"$OUT/replay.log"
REPLAYED=$(log_lines "$OUT/replay.log")
tampered=()
while read -r _ _ f; do # the last 6 of them: the first payload byte or the last tag byte flipped
	data=${f#*##?}
	if [ $((${#tampered[@]} % 2)) = 0 ]; then
		printf -v bad '%02X%s' $((16#${data:0:2} ^ 1)) "${data:2}"
	else
		printf -v bad '%s%02X' "${data:0:${#data}-2}" $((16#${data: -2} ^ 128))
	fi
	tampered+=("${f%%##*}##${f:${#f}-${#data}-1:1}$bad")
done < <(tail -n 6 "$OUT/replay.log")
info "replaying $REPLAYED recorded frames of B; tampered: $(tail -n 1 "$OUT/replay.log" |
	cut -d' ' -f3) sent as ${tampered[5]}"
ip netns exec nsX canplayer -t -I "$OUT/replay.log" vxX=vxBw || not_ok "canplayer on vxX"
send_frames -n nsX vxX "${tampered[@]}" || not_ok "the tampered frames on vxX"
phase_end G X
check_eq "replay: every recorded frame went out again, the 6 prompt ones and the 6 tampered ones" \
	$((REPLAYED + 12)) "$ATTACK"
check_eq "replay: B counted its own as injection of its own IDs, G the prompt ones" \
	"$((REPLAYED + 6)) 6" "$(reason B rx_injection) $(reason G rx_injection)"
check_eq "replay: G's 6 legacy frames crossed (rule 0) and were stamped" "6 6" \
	"$(gw r0_forwarded) $(gw stamped)"
info "the prompt replays: S caught $(reason S rx_replay) and B $(reason B rx_replay) of the 6 by" \
	"per-ID freshness (rx_replay), the rest by their tag or age"
nothing_crossed replay

phase_begin spoof "7. spoofing: X sends with G's transmit ID 120 and B's 200"
ip netns exec nsX sh -c "cangen vxX -f -n 10 -g 0 -I 120 -L 16 -D i &&
	cangen vxX -f -n 10 -g 0 -I 200 -L 16 -D i" || not_ok "cangen on vxX"
phase_end X
check_eq "spoof: G and B detected injection of their own IDs (rx_injection 10 each)" "10 10" \
	"$(reason G rx_injection) $(reason B rx_injection)"
nothing_crossed spoof

# ---- summary ----------------------------------------------------------------------------------
say "summary"
TOT=$(jq -s -c '{phases: [.[] | {phase, attack_frames, gateway,
	valid_sent: ([.nodes[].valid_sent] | add), delivered: ([.nodes[].delivered] | add),
	dropped: ([.nodes[].dropped] | add), tx_refused: ([.nodes[].tx_dropped] | add),
	reasons: (reduce .nodes[].reasons as $r ({};
		reduce ($r | to_entries[]) as $e (.; .[$e.key] += $e.value)))}]}' "$PHASES")
echo "  the secured bus (frames counted by the data planes of S, G and B; each frame reaches all three)"
printf '  %-14s %6s %9s %7s %8s %7s  %s\n' phase valid delivered attack dropped refused \
	"drops by reason (all nodes)"
jq -r '.phases[] | [.phase, .valid_sent, .delivered, .attack_frames * 3, .dropped, .tx_refused,
	(.reasons | to_entries | map("\(.key | sub("^(rx|tx)_"; "")) \(.value)") | join(", "))] | @tsv' <<<"$TOT" |
	while IFS=$'\t' read -r p v d a dr r why; do
		printf '  %-14s %6s %9s %7s %8s %7s  %s\n' "$p" "$v" "$d" "$a" "$dr" "$r" "$why"
	done
echo
echo "  the gateway G (segments f1 and c2; counted by G's segment programs, its relay and the links)"
printf '  %-14s %11s %8s %8s %9s | %8s %10s %9s %8s\n' phase "legacy sent" crossed "no rule" \
	"over rate" verified "to legacy" "too long" received
jq -r '.phases[] | .gateway as $g | [.phase, $g.legacy_sent, $g.to_secured, $g.no_rule,
	$g.over_rate, $g.verified, $g.to_plain, $g.too_long, $g.legacy_got] | @tsv' <<<"$TOT" |
	while IFS=$'\t' read -r p ls cr nr ora ve tp tl lg; do
		printf '  %-14s %11s %8s %8s %9s | %8s %10s %9s %8s\n' "$p" "$ls" "$cr" "$nr" "$ora" \
			"$ve" "$tp" "$tl" "$lg"
	done
echo
echo "  G's rules and its relay's counts (spsecctl stats --interface vxG):"
nsenter --net=/run/netns/nsG "$SPSECCTL" stats --interface vxG 2>/dev/null |
	grep '^gateway rule' | sed 's/^/  /'
forged_delivered=$(jq '[.phases[] | .delivered - .valid_sent | select(. > 0)] | add // 0' <<<"$TOT")
valid_lost=$(jq '[.phases[] | .valid_sent - .delivered | select(. > 0)] | add // 0' <<<"$TOT")
leaked=$(jq '[.phases[] | select(.attack_frames > 0) | .gateway.legacy_got] | add // 0' <<<"$TOT")
echo
info "forged, tampered, replayed or spoofed frames delivered to an application: $forged_delivered"
info "frames of the attacks on the secured bus that reached a legacy segment:   $leaked"
info "valid frames dropped:                                                     $valid_lost"
info "ISO-TP PDUs across the gateway: 8, all byte for byte as sent"
check_eq "zero attack frames delivered in the whole demo" 0 "$forged_delivered"
check_eq "zero frames of the secured bus's attacks crossed to a segment" 0 "$leaked"
check_eq "zero valid frames dropped" 0 "$valid_lost"

# G's rules, exactly: what the legacy ECUs and B sent of each rule's IDs, over the whole demo
RULES=$(spsec_stats_json G | jq -c .gateway)
declare -A RV # rN_forwarded, rN_over_rate, rN_classical; relay: rN_relayed, rN_too_long, rN_refused
while read -r k v; do RV[$k]=$v; done < <(jq -r -n --argjson rules "$RULES" '
	$rules[] | . as $r | ("forwarded", "over_rate", "classical", "relayed", "too_long", "refused")
	| select($r[.] != null) | "r\($r.rule)_\(.) \($r[.])"')
# grep, not count_frames: that forks per line, and B's log holds every control-plane frame
ISO_121=$(grep -c ' vxB 121##' "$B_LOG") ISO_201=$(grep -c ' l1 201##' "$LEGACY")
ISO_181=$(grep -c ' vxB 181##' "$B_LOG") ISO_203=$(grep -c ' l2 203#' "$LEGACY")
info "ISO-TP frames that crossed: 121 $ISO_121, 201 $ISO_201, 181 $ISO_181, 203 $ISO_203"
check_eq "rule 0 (0x120-0x123 from f1): forwarded = seeded + ISO-TP + 2 allowed + 6 replayed, none over rate" \
	"$((N_IN_F + ISO_121 + 2 + 6)) 0 0" "${RV[r0_forwarded]} ${RV[r0_over_rate]} ${RV[r0_classical]}"
check_eq "rule 1 (0x130 from f1): the flood, forwarded + over rate = 60" "$FWD1 $RATE1" \
	"${RV[r1_forwarded]} ${RV[r1_over_rate]}"
check_eq "rule 2 (0x200/0x7FE to f1): forwarded = B's 200 + ISO-TP 201" \
	"$((N_OUT_F + ISO_201)) 0" "${RV[r2_forwarded]} ${RV[r2_over_rate]}"
check_eq "rule 3 (0x180-0x181 from c2): classical = seeded + ISO-TP + 1 allowed" \
	"0 $((N_IN_C + ISO_181 + 1))" "${RV[r3_forwarded]} ${RV[r3_classical]}"
check_eq "rule 4 (0x202-0x203 to c2): forwarded = B's 202 that fit + ISO-TP 203" \
	"$((N_OUT_C + ISO_203))" "${RV[r4_forwarded]}"
check_eq "relay: rule 3 relayed what it counted; rule 4 relayed what it forwarded, 1 too long" \
	"$((N_IN_C + ISO_181 + 1)) 0 0|$((N_OUT_C + ISO_203)) 1 0" \
	"${RV[r3_relayed]} ${RV[r3_too_long]} ${RV[r3_refused]}|${RV[r4_relayed]} ${RV[r4_too_long]} ${RV[r4_refused]}"

kill "$P1" "$P2" "$P3" "$P4" 2>/dev/null
for n in "${NODES[@]}"; do spsec_stop_node_ok "$n"; done
jq -n --arg aead "$AEAD" --arg mode "$MODE" --arg kernel "$(uname -r)" \
	--argjson tot "$TOT" --slurpfile phases "$PHASES" --argjson rules "$RULES" \
	--argjson pass "$VM_PASS" --argjson fail "$VM_FAIL" \
	'{demo: "gateway", aead: $aead, mode: $mode, kernel: $kernel,
	  checks: {passed: $pass, failed: $fail}, summary: $tot.phases, phases: $phases,
	  gateway_rules: $rules}' >"$REPORT"
info "JSON report: $REPORT"
vm_finish
