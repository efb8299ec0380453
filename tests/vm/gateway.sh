#!/usr/bin/env bash
# vm tier: the gateway's kernel data path end to end (tests/vm/gateway.cmake; docs/gateway.md).
#
#   nsL (legacy): l1 ==vxcan== p1 :nsG (gateway G) s0 ==vxcan== b0 :nsB (secured node B)
#
# G runs the production data plane on its secured interface s0 (stamps its transmit IDs 120-123,
# verifies B's 200, 201, 210) with the gateway's rule programs on the plain segment p1 and the
# can-gw jobs, set up by tests/tools/spsec_dp_driver --gw-config from the gateway section of a
# configuration file (bpf/gateway_setup.h, as spsecd will):
#   rule 0: 0x120-0x123  to_secured  p1      rule 1: 0x200/0x7FE  to_plain  p1
# the jobs with the filters cangw_filters() gives those rules. B runs the data plane on b0
# (stamps 200, 201, 210; verifies 120-123). Checked, on candump -L logs and exact counters:
#   - legacy -> secured and back, byte for byte (random seeded payloads of the lengths SPsec can
#     carry), stamped by G and verified by B, and the reverse;
#   - an attacker on the legacy segment sending IDs it may not send (no rule, the other
#     direction's IDs, 29-bit, control plane, RTR): nothing reaches B;
#   - a forged (unstamped) frame from the secured side: G drops it, nothing reaches the segment;
#   - a stray can-gw job forwarding everything: the segment's egress program lets only what
#     a rule allows out;
#   - ISO-TP (can-isotp, isotpsend/isotprecv, CAN FD) both ways: multi-frame PDUs need the
#     to_secured and the to_plain rule together (data one way, flow control the other);
#   - the books: every per-rule counter and gateway reason exactly.
# shellcheck source=tests/vm/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
DRV=$SPSEC_BUILD_DIR/tests/tools/spsec_dp_driver
require_built "$DRV"
LOG=$VM_OUT/gw
mkdir -p "$LOG"
COMMON=(--aead chacha20-poly1305 --mode encrypt --tick-ns 100000000 --window 2047)
G_POL=120:so,121:so,122:so,123:so,200:s,201:s,210:s
B_POL=120:s,121:s,122:s,123:s,200:so,201:so,210:so

counter() { # counter <if> <name>: a data-plane or per-rule counter (0 if none)
	"$DRV" counters "$1" | awk -v n="$2" '$1 == n { print $2; f = 1 } END { if (!f) print 0 }'
}
wait_fd() { # wait_fd <log> <if> <id> <data hex>: a CAN FD frame with that ID and data, any flags
	wait_until 30 grep -q " $2 $3##.$4\$" "$1"
}
# what travels, ID and data (the FD flags nibble left out)
seen() {
	[ -n "$(frames_in_log "$1")" ] || return 0
	paste -d' ' <(ids_in_log "$1" | tr ' ' '\n') <(data_in_log "$1")
}

# vcan with echo=1 (a device that echoes, as real drivers do) for the last part; the parameter is
# read when a vcan device is created, so before anything loads vcan
load_modules() { modprobe vcan echo=1 && vm_modprobe_can; }
check "CAN and tc modules load, vcan with echo=1" load_modules || vm_finish
check "vxcan nsL:l1 <-> nsG:p1 (legacy segment)" make_vxcan_pair nsL l1 nsG p1 || vm_finish
check "vxcan nsG:s0 <-> nsB:b0 (secured bus)" make_vxcan_pair nsG s0 nsB b0 || vm_finish
# G's gateway section, as in its spsecd configuration (the driver validates the whole file and
# uses the gateway section; the data plane's policy is --policy, the same lists)
gw_config() { # gw_config <file> [rule lines...]
	local f=$1
	shift
	cat >"$f" <<CFG
interface: s0
participant_id: 9
aead: chacha20-poly1305
data_bitrate: 1M
key_store: /var/lib/spsec/g.keys
secured_ids: [0x120, 0x121, 0x122, 0x123, 0x200, 0x201, 0x210]
transmit_ids: [0x120, 0x121, 0x122, 0x123]
gateway:
  segments:
    - {name: p1}
  rules:
CFG
	printf '    - %s\n' "$@" >>"$f"
}
gw_config "$LOG/g.yaml" "{ids: 0x120-0x123, direction: to_secured, segment: p1}" \
	"{ids: 0x200/0x7FE, direction: to_plain, segment: p1}"
check "G: data plane on s0, the gateway from its config: rule programs on p1, can-gw jobs" \
	"$DRV" attach s0 --netns nsG "${COMMON[@]}" --policy "$G_POL" --gw-config "$LOG/g.yaml" ||
	vm_finish
check "B: data plane on b0" "$DRV" attach b0 --netns nsB "${COMMON[@]}" --policy "$B_POL" ||
	vm_finish
check "tc shows the segment programs on p1" bash -c \
	"ip netns exec nsG tc filter show dev p1 ingress | grep -q spsec_gw_in &&
	 ip netns exec nsG tc filter show dev p1 egress | grep -q spsec_gw_out"
# the driver made the can-gw jobs over rtnetlink (common/can_gw.h) with cangw_filters()' filters:
# rule 0 (0x120-0x123) and rule 1 (0x200/0x7FE), id:mask with CAN_EFF_FLAG and CAN_RTR_FLAG in
# the mask, CAN FD, may send to the originating ifindex (per-namespace indexes), no echo
gwjobs() { "$DRV" gwjobs --netns nsG; }
check_eq "can-gw jobs p1 -> s0 and s0 -> p1, as cangw -L lists them too" \
	"p1 s0 120:C00007FC fd 0 0|s0 p1 200:C00007FE fd 0 0" "$(gwjobs | sort | paste -sd'|')"
ip netns exec nsG cangw -L | sed 's/^/# /'

# ---- legacy -> secured, byte for byte ---------------------------------------------------------
: >"$LOG/in-sent.log"
for len in 0 1 7 8 12 20 32 48; do
	gen_frames -L "$len" "$LOG/in-part.log" 4 120 121 122 123 && cat "$LOG/in-part.log" >>"$LOG/in-sent.log"
done
N_IN=$(log_lines "$LOG/in-sent.log")
start_candump -n nsB b0 "$LOG/in-b.log" && PB=$VM_CANDUMP_PID
check "legacy sends $N_IN frames of IDs 120-123 on l1" play_frames -n nsL l1 "$LOG/in-sent.log"
# the last frame has arrived once B's verified count reaches N_IN
check "B verified all $N_IN" wait_until 30 test "$(counter b0 rx_ok)" -ge "$N_IN"
stop_candump "$PB"
check_eq "B received the legacy frames byte for byte, in order" "$(seen "$LOG/in-sent.log")" \
	"$(seen "$LOG/in-b.log")"
check_eq "G stamped each as its own (tx_ok)" "$N_IN" "$(counter s0 tx_ok)"
check_eq "rule 0 forwarded $N_IN (gw0_fwd)" "$N_IN" "$(counter s0 gw0_fwd)"
check_eq "rx_gw_in_allowed $N_IN" "$N_IN" "$(counter s0 rx_gw_in_allowed)"

# ---- secured -> legacy, byte for byte ---------------------------------------------------------
: >"$LOG/out-sent.log"
for len in 0 1 8 12 24 48; do
	gen_frames -L "$len" "$LOG/out-part.log" 4 200 201 && cat "$LOG/out-part.log" >>"$LOG/out-sent.log"
done
N_OUT=$(log_lines "$LOG/out-sent.log")
start_candump -n nsL l1 "$LOG/out-l.log" && PL=$VM_CANDUMP_PID
check "B sends $N_OUT frames of IDs 200, 201 (stamped by B)" play_frames -n nsB b0 "$LOG/out-sent.log"
check "G verified all $N_OUT" wait_until 30 test "$(counter s0 rx_ok)" -ge "$N_OUT"
check "the last reached the legacy segment" wait_until 30 test "$(counter s0 gw1_fwd)" -ge "$N_OUT"
send_sentinel -n nsG p1 "$LOG/out-l.log" l1 >/dev/null # G's own frame on p1: after the forwarded ones
stop_candump "$PL"
check_eq "the legacy segment received B's frames decrypted, byte for byte, in order" \
	"$(seen "$LOG/out-sent.log")" "$(seen "$LOG/out-l.log")"
check_eq "rule 1 forwarded $N_OUT (gw1_fwd)" "$N_OUT" "$(counter s0 gw1_fwd)"
check_eq "tx_gw_out_allowed $N_OUT" "$N_OUT" "$(counter s0 tx_gw_out_allowed)"
check_eq "G's sentinel on p1 is a local sender's (tx_gw_local_tx)" 1 "$(counter s0 tx_gw_local_tx)"

# ---- an attacker on the legacy segment --------------------------------------------------------
NR0=$(counter s0 rx_gw_no_rule) TX0=$(counter s0 tx_ok)
start_candump -n nsB b0 "$LOG/atk-b.log" && PB=$VM_CANDUMP_PID
# 124: no rule; 200: B's ID (only to_plain); 7E0: nothing; 00000120: 29-bit, not 120;
# 02000120: control plane; 120 RTR (classic): never
ATTACK=(124##0AA 200##0BB 7E0##0CC 00000120##0DD 02000120##0EE 120#R)
check "the attacker sends ${#ATTACK[@]} frames on l1" send_frames -n nsL l1 "${ATTACK[@]}"
check "G counted them (rx_gw_no_rule)" wait_until 30 test "$(counter s0 rx_gw_no_rule)" -ge $((NR0 + ${#ATTACK[@]}))
# an allowed frame after them on the same path: once B has it, the attack frames had their turn
send_frames -n nsL l1 123##0.5E5E
check "the allowed frame after them arrives" wait_until 30 grep -q ' b0 123##.5E5E$' "$LOG/atk-b.log"
stop_candump "$PB"
check_eq "nothing of the attacker reached B" "123 5E5E" "$(seen "$LOG/atk-b.log")"
check_eq "rx_gw_no_rule counted exactly the attack" $((NR0 + ${#ATTACK[@]})) "$(counter s0 rx_gw_no_rule)"
check_eq "G stamped only the allowed frame" $((TX0 + 1)) "$(counter s0 tx_ok)"

# ---- a forged frame on the secured bus --------------------------------------------------------
start_candump -n nsL l1 "$LOG/forge-l.log" && PL=$VM_CANDUMP_PID
RX0=$(counter s0 rx_ok) FWD0=$(counter s0 gw1_fwd)
rx_drops() { "$DRV" counters s0 | awk '$1 ~ /^rx_/ && $1 !~ /^rx_gw_/ && $1 != "rx_ok" { n += $2 } END { print n + 0 }'; }
D0=$(rx_drops)
"$DRV" detach b0 --netns nsB # the forger bypasses B's data plane: an unstamped 200 on the bus
ip netns exec nsB cansend b0 200##0.0A0B0C0D0E0F101112131415
check "G drops the forged frame" wait_until 30 test "$(rx_drops)" -gt "$D0"
check "B's data plane back" "$DRV" attach b0 --netns nsB "${COMMON[@]}" --policy "$B_POL"
ip netns exec nsB cansend b0 201##0.F00D
check "the next verified frame crosses" wait_until 30 grep -q ' l1 201##.F00D$' "$LOG/forge-l.log"
stop_candump "$PL"
check_eq "nothing of the forged frame reached the segment" "201 F00D" "$(seen "$LOG/forge-l.log")"
check_eq "rule 1 forwarded only the verified frame" $((FWD0 + 1)) "$(counter s0 gw1_fwd)"
check_eq "G verified only that one" $((RX0 + 1)) "$(counter s0 rx_ok)"

# ---- a stray can-gw job: the segment's egress program is the last word ------------------------
check "a stray can-gw job s0 -> p1 for every CAN FD frame" ip netns exec nsG cangw -A -s s0 -d p1 -X -i
start_candump -n nsL l1 "$LOG/stray-l.log" && PL=$VM_CANDUMP_PID
NA0=$(counter s0 tx_gw_out_not_allowed) RX0=$(counter s0 rx_ok)
ip netns exec nsB cansend b0 210##0.BAD0
check "G verified B's 210" wait_until 30 test "$(counter s0 rx_ok)" -gt "$RX0"
check "the segment's egress refused it" wait_until 30 test "$(counter s0 tx_gw_out_not_allowed)" -gt "$NA0"
send_sentinel -n nsG p1 "$LOG/stray-l.log" l1 >/dev/null
stop_candump "$PL"
check_eq "210 (no rule) did not reach the segment" "" "$(seen "$LOG/stray-l.log")"
check_eq "tx_gw_out_not_allowed counted it once" $((NA0 + 1)) "$(counter s0 tx_gw_out_not_allowed)"
ip netns exec nsG cangw -D -s s0 -d p1 -X -i

# ---- ISO-TP across the gateway, both ways (unmodified applications, CAN FD) -------------------
# legacy 121 -> B (B's flow control 201 comes back to_plain), and B 201 -> legacy (the legacy
# flow control 121 goes to_secured): multi-frame PDUs need both rules working together.
ISOTP=(-L 72:48:0) # 48-byte frames: a secured frame carries at most 54
pdu() { # pdu <n> <tag>: n bytes "C0 DE <tag> 03 04 05 ..."
	local i out="C0 DE $2"
	for ((i = 3; i < $1; i++)); do out+=$(printf ' %02X' $((i & 255))); done
	echo "$out"
}
isotp_ready() { # isotp_ready <pid> <ifname> <id>: that process's ISO-TP receiver is registered
	cat "/proc/$1/net/can/rcvlist_sff" "/proc/$1/net/can/rcvlist_fil" 2>/dev/null | grep -q "$2 .* $3 "
}
check "can-isotp loads" modprobe can-isotp || vm_finish
start_candump -n nsB b0 "$LOG/iso-b.log" && PB=$VM_CANDUMP_PID
start_candump -n nsL l1 "$LOG/iso-l.log" && PL=$VM_CANDUMP_PID
ip netns exec nsB stdbuf -oL isotprecv -s 201 -d 121 "${ISOTP[@]}" -l b0 >"$LOG/iso-rx-b.txt" 2>&1 &
PRB=$!
ip netns exec nsL stdbuf -oL isotprecv -s 121 -d 201 "${ISOTP[@]}" -l l1 >"$LOG/iso-rx-l.txt" 2>&1 &
PRL=$!
check "B's and the legacy ISO-TP receivers listen" wait_until 20 bash -c \
	"$(declare -f isotp_ready); isotp_ready $PRB b0 121 && isotp_ready $PRL l1 201"
ISO_PDUS=("$(pdu 7 01)" "$(pdu 62 02)" "$(pdu 300 03)")
for p in "${ISO_PDUS[@]}"; do
	echo "$p" | ip netns exec nsL isotpsend -s 121 -d 201 "${ISOTP[@]}" l1 || not_ok "isotpsend on l1"
	echo "$p" | ip netns exec nsB isotpsend -s 201 -d 121 "${ISOTP[@]}" b0 || not_ok "isotpsend on b0"
done
lines_ge() { [ "$(wc -l <"$1")" -ge "$2" ]; }
check "B received 3 PDUs from the legacy segment" wait_until 30 lines_ge "$LOG/iso-rx-b.txt" 3
check "the legacy segment received 3 PDUs from B" wait_until 30 lines_ge "$LOG/iso-rx-l.txt" 3
kill "$PRB" "$PRL" 2>/dev/null
send_sentinel -n nsG p1 "$LOG/iso-l.log" l1 >/dev/null
stop_candump "$PB"
stop_candump "$PL"
printf '%s\n' "${ISO_PDUS[@]}" >"$LOG/iso-sent.txt"
check_eq "legacy -> B over ISO-TP, byte for byte" "$(cat "$LOG/iso-sent.txt")" "$(sed 's/ *$//' "$LOG/iso-rx-b.txt")"
check_eq "B -> legacy over ISO-TP, byte for byte" "$(cat "$LOG/iso-sent.txt")" "$(sed 's/ *$//' "$LOG/iso-rx-l.txt")"
# what crossed: 121 frames that reached B, 201 frames that reached the legacy segment
ISO0=$(count_frames "$LOG/iso-b.log" 121 fd)
ISO1=$(count_frames "$LOG/iso-l.log" 201 fd)
echo "# ISO-TP: $ISO0 frames of 121 crossed to_secured, $ISO1 of 201 to_plain"
check_eq "multi-frame transfers both ways: 10 data + 2 flow-control frames each" "12 12" "$ISO0 $ISO1"

# ---- the books ---------------------------------------------------------------------------------
# can-gw's own counts agree with the rule counters (the stray job is gone again)
check_eq "can-gw handled what the rules let through" \
	"p1 s0 120:C00007FC fd $(counter s0 gw0_fwd) 0|s0 p1 200:C00007FE fd $(counter s0 gw1_fwd) 0" \
	"$(gwjobs | sort | paste -sd'|')"
echo "# G s0: $("$DRV" counters s0 | tr '\n' ' ')"
echo "# B b0: $("$DRV" counters b0 | tr '\n' ' ')"
check_eq "rule 0: forwarded = the legacy frames + 1 + ISO-TP's, nothing over rate or classical" \
	"$((N_IN + 1 + ISO0)) 0 0" "$(counter s0 gw0_fwd) $(counter s0 gw0_rate) $(counter s0 gw0_classic)"
check_eq "rule 1: forwarded = B's frames + 1 + ISO-TP's" "$((N_OUT + 1 + ISO1)) 0 0" \
	"$(counter s0 gw1_fwd) $(counter s0 gw1_rate) $(counter s0 gw1_classic)"
check_eq "no other rule counted" "" "$("$DRV" counters s0 | awk '$1 ~ /^gw[2-9]/ || $1 ~ /^gw[0-9][0-9]/')"

# ---- a new configuration without rule 1 -------------------------------------------------------
gw_config "$LOG/g2.yaml" "{ids: 0x120-0x123, direction: to_secured, segment: p1}"
check "G re-applied with only rule 0" "$DRV" attach s0 --netns nsG "${COMMON[@]}" \
	--policy "$G_POL" --gw-config "$LOG/g2.yaml"
check_eq "the to_plain job is gone, rule 0's stays" "p1 s0 120:C00007FC fd" \
	"$(gwjobs | awk '{ print $1, $2, $3, $4 }' | paste -sd'|')"
start_candump -n nsL l1 "$LOG/reload-l.log" && PL=$VM_CANDUMP_PID
RX0=$(counter s0 rx_ok)
ip netns exec nsB cansend b0 200##0.0DD0
check "G still verifies B's 200" wait_until 30 test "$(counter s0 rx_ok)" -gt "$RX0"
send_sentinel -n nsG p1 "$LOG/reload-l.log" l1 >/dev/null
stop_candump "$PL"
check_eq "200 no longer crosses" "" "$(seen "$LOG/reload-l.log")"

# ---- a secured device that echoes sent frames (IFF_ECHO, like every real CAN driver) ---------
# The echo of a frame can-gw forwarded carries no socket; the mark spsec_gw_in put on it tells
# the secured ingress that it is this node's own frame coming back (rx_echo_opened), not one of
# its transmit IDs arriving from the bus (rx_injection). vcan echo=1 echoes only frames sent
# with loopback, so this job gets -e (a real driver echoes every frame).
make_vxcan_pair nsL l2 nsG p2 && ip -n nsG link add dev e0 mtu 72 type vcan &&
	ip -n nsG link set e0 up || not_ok "vcan e0 (echo) and vxcan nsL:l2 <-> nsG:p2"
sed 's/^interface: s0$/interface: e0/; s/segment: p1/segment: p2/; s/{name: p1}/{name: p2}/' \
	"$LOG/g2.yaml" >"$LOG/g3.yaml"
check "G': data plane on e0 (device echo), rule 0 from p2" "$DRV" attach e0 --netns nsG \
	"${COMMON[@]}" --policy "$G_POL" --gw-config "$LOG/g3.yaml"
check "the driver's job replaced by one with loopback" bash -c \
	"ip netns exec nsG cangw -D -s p2 -d e0 -X -i -f 120:C00007FC &&
	 ip netns exec nsG cangw -A -s p2 -d e0 -X -i -e -f 120:C00007FC"
start_candump -n nsG e0 "$LOG/echo-e0.log" && PE=$VM_CANDUMP_PID
ip netns exec nsL cansend l2 121##0.ABCD
check "the echo comes back opened to the plain frame" wait_fd "$LOG/echo-e0.log" e0 121 ABCD
stop_candump "$PE"
check_eq "e0: stamped once, its echo opened, no injection reported" "1 1 0" \
	"$(counter e0 tx_ok) $(counter e0 rx_echo_opened) $(counter e0 rx_injection)"
vm_finish
