#!/usr/bin/env bash
# vm tier: a classical CAN segment behind a gateway (docs/gateway.md, "Classical CAN"). Three
# spsecd on the secured bus: S (the Sync), G (a participant, the gateway) and B (a participant).
# G's classical relay carries classical frames from the segment c2 (vxcan, MTU 16 on both ends:
# no CAN FD there) onto the secured bus as CAN FD, stamped as G's own, and verified frames of B
# back as classical frames when they fit.
# Checked:
#   - legacy -> B and B -> legacy, byte for byte (seeded frames of 0..8 bytes);
#   - a 12-byte frame of B is not carried to the classical segment (counted, not cut);
#   - a legacy frame no rule covers stays on the gateway;
#   - ISO-TP on the classical segment (classical ISO-TP on the legacy side, ISO-TP over CAN FD
#     with 8-byte frames on B) both ways, PDUs byte for byte;
#   - the books: per rule in the data plane (classical, forwarded) and in the relay exactly,
#     both from `spsecctl stats` (pinned maps), the relay's also equal in spsecd's status;
#   - the relay's books outlive spsecd: the same with spsecd stopped and after its restart
#     (SIGTERM, start again), and the restarted relay counts on from them;
#   - the segment is deleted and re-created: spsecd attaches its programs again, the relay
#     reopens, frames cross again;
#   - an attacker on the secured bus (namespace W, with a wire tap): B's frames replayed and
#     tampered with, B's ID forged into the gateway, the legacy ID spoofed into B: each dropped
#     once, nothing reaches the segment, the rule's and the relay's books unchanged.
# shellcheck source=tests/vm/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SPSECD=$SPSEC_BUILD_DIR/userspace/daemon/spsecd
SPSECCTL=$SPSEC_BUILD_DIR/userspace/ctl/spsecctl
SPSEC_DIR=$(mktemp -d /tmp/spsec-gwc.XXXXXX)
SPSEC_STATE_DIR=/var/lib/spsec
SPSEC_SECURED_IDS="0x120, 0x121, 0x122, 0x123, 0x200, 0x201, 0x202, 0x203"
SPSEC_PLAIN_IDS="0x7FF"
LOG=$VM_OUT
spsec_bus_setup S G B
check "can-isotp loads" modprobe can-isotp || vm_finish

make_segment() { # the classical segment: c2 on G, its peer l2 in "legacy", MTU 16 both ends
	[ -e /run/netns/legacy ] || ip netns add legacy || return 1
	ip link add dev c2 netns nsG mtu 16 type vxcan peer name l2 netns legacy mtu 16 || return 1
	ip -n nsG link set dev c2 up && ip -n legacy link set dev l2 up
}
check "vxcan c2 <-> legacy/l2, MTU 16 (classical only)" make_segment || vm_finish
check "the legacy side cannot send CAN FD" bash -c "! ip netns exec legacy cansend l2 120##0.11 2>/dev/null"

spsec_write_config S 1 on "5, 6" "" &&
	spsec_write_config G 5 off "1, 6" "0x120, 0x121, 0x122, 0x123" &&
	spsec_write_config B 6 off "1, 5" "0x200, 0x201, 0x202, 0x203" || vm_finish
cat >>"$SPSEC_DIR/G.yaml" <<CFG
gateway:
  segments:
    - {name: c2, frames: classic}
  rules:
    - {ids: 0x120-0x123, direction: to_secured, segment: c2}
    - {ids: 0x200-0x203, direction: to_plain, segment: c2}
CFG
spsec_start_node S
check "the Sync reaches Secure" wait_until 60 spsec_state_is S Secure || vm_finish
spsec_start_node G
spsec_start_node B
check "the gateway G reaches Secure by Parameter Authentication" wait_until 60 spsec_state_is G Secure ||
	vm_finish
check "participant B reaches Secure by Parameter Authentication" wait_until 60 spsec_state_is B Secure ||
	vm_finish
check "G logged the relay" log_has "$VM_OUT/spsecd-G.log" "gateway relay: 1 segments"
# the relay's counts of a rule: from the pinned map (spsecctl stats), and from spsecd's status
relay() { spsec_stats_json G | jq -r "[.gateway[$1] | .relayed, .too_long, .refused] | join(\" \")"; }
relay_status() { spsec_status_json G | jq -r "[.gateway_relay.rules[$1] | .relayed, .too_long, .refused] | join(\" \")"; }
# the relay writes its counts to the map after each wake-up, just after the frames: poll
books_are() { [ "$(relay 0)|$(relay 1)" = "$1" ]; }
relay_sockets_are() { [ "$(spsec_status_field G gateway_relay.sockets)" = "$1" ]; }
rule() { spsec_stats_json G | jq -r "[.gateway[$1] | .forwarded, .over_rate, .classical] | join(\" \")"; }
only() { grep -E " $2 $3#" "$1" >"$1.$3" || :; echo "$1.$3"; } # only <log> <if> <id regex>
start_candump -n nsB vxB "$LOG/b.log" && PB=$VM_CANDUMP_PID
start_candump -n W vxBw "$LOG/wire.log" && PW=$VM_CANDUMP_PID # the wire tap: what B sends
start_candump -n legacy l2 "$LOG/l.log" && PL=$VM_CANDUMP_PID

# ---- legacy -> B: classical frames of 0..8 bytes, as CAN FD on the bus, verified by B -----------
N=24
gen_frames -c "$LOG/in.log" "$N" 120 121 122 123
play_frames -n legacy l2 "$LOG/in.log"
got_in() { [ "$(wc -l <"$(only "$LOG/b.log" vxB '12[0-3]')")" -ge "$N" ]; }
check "B received the $N legacy frames" wait_until 60 got_in
check_eq "legacy -> B: IDs in order" "$(ids_in_log "$LOG/in.log")" "$(ids_in_log "$(only "$LOG/b.log" vxB '12[0-3]')")"
check_eq "legacy -> B: byte for byte" "$(data_in_log "$LOG/in.log")" "$(data_in_log "$(only "$LOG/b.log" vxB '12[0-3]')")"
check_eq "they arrive as CAN FD frames (the bus is CAN FD)" "$N" \
	"$(grep -cE ' vxB 12[0-3]##' "$LOG/b.log")"

# ---- B -> legacy: verified frames as classical frames ------------------------------------------
M=16
gen_frames -c "$LOG/out.log" "$M" 200 201 202 203
sed -E 's/ gen ([0-9A-F]{3})#/ gen \1##0/' "$LOG/out.log" >"$LOG/out-fd.log" # B sends them as CAN FD
play_frames -n nsB vxB "$LOG/out-fd.log"
got_out() { [ "$(wc -l <"$(only "$LOG/l.log" l2 '20[0-3]')")" -ge "$M" ]; }
check "the legacy segment received B's $M frames" wait_until 60 got_out
check_eq "B -> legacy: IDs in order" "$(ids_in_log "$LOG/out.log")" "$(ids_in_log "$(only "$LOG/l.log" l2 '20[0-3]')")"
check_eq "B -> legacy: byte for byte, as classical frames" "$(frames_in_log "$LOG/out.log")" \
	"$(frames_in_log "$(only "$LOG/l.log" l2 '20[0-3]')")"

# ---- what does not cross ----------------------------------------------------------------------
ip netns exec nsB cansend vxB 201##0.00112233445566778899AABB
too_long_is() { [ "$(relay 1 | cut -d' ' -f2)" = "$1" ]; }
check "B's 12-byte frame is counted as not carried" wait_until 30 too_long_is 1
NR0=$(spsec_count G rx_gw_no_rule)
ip netns exec legacy cansend l2 130#BAD0
no_rule_gt() { [ "$(spsec_count G rx_gw_no_rule)" -gt "$1" ]; }
check "a legacy frame no rule covers stays on G" wait_until 30 no_rule_gt "$NR0"

# ---- ISO-TP on the classical segment, both ways -------------------------------------------------
# legacy: classical ISO-TP; B: ISO-TP over CAN FD with 8-byte frames (what the relay makes of
# the legacy frames). legacy 122 -> B, flow control 202 back; B 203 -> legacy, flow control 123.
ISO_B=(-L 72:8:0)
pdu() { # pdu <n> <tag>: n bytes "C0 DE <tag> 03 04 05 ..."
	local i out="C0 DE $2"
	for ((i = 3; i < $1; i++)); do out+=$(printf ' %02X' $((i & 255))); done
	echo "$out"
}
isotp_ready() { # isotp_ready <pid> <ifname> <id>: that process's ISO-TP receiver is registered
	cat "/proc/$1/net/can/rcvlist_sff" "/proc/$1/net/can/rcvlist_fil" 2>/dev/null | grep -q "$2 .* $3 "
}
ip netns exec nsB stdbuf -oL isotprecv -s 202 -d 122 "${ISO_B[@]}" -l vxB >"$LOG/iso-rx-b.txt" 2>&1 &
PRB=$!
ip netns exec legacy stdbuf -oL isotprecv -s 123 -d 203 -l l2 >"$LOG/iso-rx-l.txt" 2>&1 &
PRL=$!
check "B's and the legacy ISO-TP receivers listen" wait_until 20 bash -c \
	"$(declare -f isotp_ready); isotp_ready $PRB vxB 122 && isotp_ready $PRL l2 203"
ISO_PDUS=("$(pdu 5 01)" "$(pdu 40 02)" "$(pdu 100 03)")
for p in "${ISO_PDUS[@]}"; do
	echo "$p" | ip netns exec legacy isotpsend -s 122 -d 202 l2 || not_ok "isotpsend on l2"
	echo "$p" | ip netns exec nsB isotpsend -s 203 -d 123 "${ISO_B[@]}" vxB || not_ok "isotpsend on vxB"
done
lines_ge() { [ "$(wc -l <"$1")" -ge "$2" ]; }
check "B received 3 PDUs from the classical segment" wait_until 30 lines_ge "$LOG/iso-rx-b.txt" 3
check "the classical segment received 3 PDUs from B" wait_until 30 lines_ge "$LOG/iso-rx-l.txt" 3
kill "$PRB" "$PRL" 2>/dev/null
printf '%s\n' "${ISO_PDUS[@]}" >"$LOG/iso-sent.txt"
check_eq "legacy -> B over ISO-TP, byte for byte" "$(cat "$LOG/iso-sent.txt")" "$(sed 's/ *$//' "$LOG/iso-rx-b.txt")"
check_eq "B -> legacy over ISO-TP, byte for byte" "$(cat "$LOG/iso-sent.txt")" "$(sed 's/ *$//' "$LOG/iso-rx-l.txt")"
# each PDU: 5 bytes a single frame; 40: FF + 5 CF; 100: FF + 14 CF; one FC each multi-frame PDU
# (the seeded frames above used the same IDs: they are counted out)
iso() { echo $(($(count_frames "$1" "$3" "$4") - $(count_frames "$2" "$3"))); } # iso <log> <sent> <id> <kind>
check_eq "ISO-TP: 22 data frames each way, CAN FD on B, classical on the segment" "22 22" \
	"$(iso "$LOG/b.log" "$LOG/in.log" 122 fd) $(iso "$LOG/l.log" "$LOG/out.log" 203 classic)"
check_eq "ISO-TP: 2 flow-control frames each way" "2 2" \
	"$(iso "$LOG/b.log" "$LOG/in.log" 123 fd) $(iso "$LOG/l.log" "$LOG/out.log" 202 classic)"

# ---- the books ----------------------------------------------------------------------------------
# rule 0 (to_secured): every legacy frame on 0x120-0x123 classical in the data plane, relayed,
# stamped (tx_ok); rule 1 (to_plain): B's frames that fit forwarded on the segment's egress
IN=$((N + 22 + 2)) # the seeded frames, legacy's ISO-TP data 22 + flow control 2
OUT=$((M + 22 + 2))
check_eq "rule 0: forwarded 0, over rate 0, classical $IN" "0 0 $IN" "$(rule 0)"
wait_until 10 books_are "$IN 0 0|$OUT 1 0" || :  # check_eq below shows what differs
check_eq "relay rule 0: relayed $IN, none too long or refused" "$IN 0 0" "$(relay 0)"
check_eq "rule 1: forwarded $OUT (the 12-byte frame never reached the segment)" "$OUT 0 0" "$(rule 1)"
check_eq "relay rule 1: relayed $OUT, 1 too long, none refused" "$OUT 1 0" "$(relay 1)"
check_eq "what B received of 0x120-0x123: exactly what rule 0 relayed" "$IN" \
	"$(wc -l <"$(only "$LOG/b.log" vxB '12[0-3]')")"
check_eq "spsecd's status: the same relay counts (read from the map's mirror, not counted twice)" \
	"$IN 0 0|$OUT 1 0" "$(relay_status 0)|$(relay_status 1)"
check_eq "spsecctl stats: rule 1's line with the relay's counts" \
	"gateway rule 1: to_plain 0x200-0x203 to c2 (classic): forwarded $OUT, over rate 0, classical 0; relay: relayed $OUT, too long 1, refused 0" \
	"$(spsec_stats G | grep '^gateway rule 1:')"
check "spsecctl stats --prometheus: the relay's kinds" spsec_stats G --prometheus "$LOG/gw.prom"
check_eq "the relay's kinds in the textfile" "$IN 0 0|$OUT 1 0" "$(for r in 0 1; do
	for k in relayed too_long refused; do
		grep -E "^spsec_gateway_frames_total\{.*rule=\"$r\".*kind=\"$k\"\} " "$LOG/gw.prom" | cut -d' ' -f2
	done | paste -sd' '
done | paste -sd'|')"

# ---- the relay's books outlive spsecd (the pinned map spsec_gw_relay) -------------------------
T_RESTART=${EPOCHREALTIME/./}
spsec_stop_node_ok G
check_eq "spsecd stopped: spsecctl stats shows the relay's counts still" "$IN 0 0|$OUT 1 0" \
	"$(relay 0)|$(relay 1)"
spsec_start_node G
check "G is Secure again after its restart" wait_until 60 spsec_state_is G Secure
check "G's relay is open again" wait_until 30 relay_sockets_are 2
check_eq "after the restart: the relay's counts as before, in stats and status" \
	"$IN 0 0|$OUT 1 0|$IN 0 0|$OUT 1 0" "$(relay 0)|$(relay 1)|$(relay_status 0)|$(relay_status 1)"
echo "# G's restart and its checks took $(((${EPOCHREALTIME/./} - T_RESTART) / 1000)) ms"

# ---- the segment goes away and comes back ------------------------------------------------------
stop_candump "$PL"
ip -n nsG link del c2
check "G saw the segment go" wait_until 30 log_has "$VM_OUT/spsecd-G.log" "gateway segment c2 is gone"
check "the segment is back (re-created)" make_segment || vm_finish
check "G attached the rule programs to the new c2" wait_until 30 bash -c \
	"tc -n nsG filter show dev c2 ingress | grep -q spsec_gw_in && tc -n nsG filter show dev c2 egress | grep -q spsec_gw_out"
check "G's relay reopened on it" wait_until 30 relay_sockets_are 2
start_candump -n legacy l2 "$LOG/l2.log" && PL=$VM_CANDUMP_PID
ip netns exec legacy cansend l2 121#0A0B0C
check "a legacy frame crosses again" wait_until 30 grep -qE ' vxB 121##[0-9A-F]0A0B0C$' "$LOG/b.log"
ip netns exec nsB cansend vxB 200##0.D0D1
check "and a frame of B reaches the new segment" wait_for_frame "$LOG/l2.log" l2 "200#D0D1" 30
wait_until 10 books_are "$((IN + 1)) 0 0|$((OUT + 1)) 1 0" || :
check_eq "the restarted relay counts on from its books: one more each way" \
	"$((IN + 1)) 0 0|$((OUT + 1)) 1 0" "$(relay 0)|$(relay 1)"
check_eq "nothing dropped on B" "" "$(spsec_drops B)"

# ---- an attacker on the secured bus (the wire, namespace W) -------------------------------------
# Towards G: B's last 3 stamped frames from the tap, replayed; the last one again with a bit of
# its ciphertext flipped (tampered); an unstamped frame of B's ID 0x202 (forged). Towards B: the
# legacy ECU's ID 0x121 unstamped (spoofed). The wire is a bus (can-gw in W): every frame reaches
# every node, and each drops each one (B sees its own IDs from the bus: injections). None
# reaches the segment or B's applications.
stop_candump "$PW"
drops_sum() { spsec_drops "$1" | tr ' ' '\n' | awk -F= '{ s += $2 } END { print s + 0 }'; }
drops_are() { [ "$(drops_sum "$1")" -eq "$2" ]; }
D0=$(drops_sum G)
R1=$(rule 1)
RL1=$(relay 1)
L0=$(count_frames "$LOG/l2.log" 202)
grep -E ' vxBw 20[0-3]##' "$LOG/wire.log" | tail -n 3 >"$LOG/replay.log"
check_eq "the tap recorded B's frames" 3 "$(wc -l <"$LOG/replay.log")"
ip netns exec W canplayer -t -I "$LOG/replay.log" vxGw=vxBw
f=$(tail -n 1 "$LOG/replay.log" | cut -d' ' -f3)
data=${f#*##?}
printf -v b '%02X' $((16#${data:0:2} ^ 1))
ip netns exec W cansend vxGw "${f%%##*}##${f:${#f}-${#data}-1:1}$b${data:2}"
ip netns exec W cansend vxGw 202##0.0102030405060708
check "G dropped the 5 frames sent towards it" wait_until 30 drops_are G $((D0 + 5))
echo "# G drops: $(spsec_drops G)"
ip netns exec W cansend vxBw 121##0.CAFE
check "B dropped the 6 frames" wait_until 30 drops_are B 6
check "G dropped the spoofed frame too" wait_until 30 drops_are G $((D0 + 6))
echo "# B drops: $(spsec_drops B)"
check_eq "rule 1's and the relay's books unchanged by the attacks" "$R1|$RL1" "$(rule 1)|$(relay 1)"
check_eq "nothing of it reached the segment" "$L0" "$(count_frames "$LOG/l2.log" 202)"
check_eq "the spoofed frame did not reach B's applications" 0 "$(grep -c ' vxB 121##.CAFE$' "$LOG/b.log")"
stop_candump "$PB"
stop_candump "$PL"
spsec_stop_node_ok B
spsec_stop_node_ok G
spsec_stop_node_ok S
vm_finish
