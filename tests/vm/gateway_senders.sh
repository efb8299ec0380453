#!/usr/bin/env bash
# vm tier: a gateway with sender rules (docs/gateway.md, "Sender rules on a gateway"). spsecd
# (the Sync) on the secured interface vx0 forwards 0x120-0x121 from the plain segment p1 and
# sends 0x130 for its own applications, which a sender rule reserves for uid 1000. Checked:
#   - a sender rule on a forwarded ID is refused, at start and on reload, naming both lines;
#   - a legacy frame crosses stamped although can-gw's copy has no socket (no rule on its ID);
#   - 0x130: uid 1000 sends it, uid 1001 is refused (tx_sender_denied, per rule);
#   - why the refusal: an unprivileged local process (uid 1001) that writes 0x120 to the segment
#     interface p1 gets it onto the secured bus, stamped, counted under the gateway rule;
#   - the books: per gateway rule, per sender rule, per reason, exactly; the rule's Prometheus
#     samples.
# shellcheck source=tests/vm/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# vx0: the secured interface, its peer vx1 in "bus"; p1: a plain segment, its peer l1 in "legacy"
gw_setup spsecd-gws
W=$GW_DIR SOCK=$GW_SOCK LOG=$GW_LOG

write_config() { # write_config <file> <ids of the sender rule>: it is on line 13, the gateway rule on 19
	gw_config_head "$1" "0x120, 0x121, 0x130" "0x120, 0x121, 0x130"
	cat >>"$1" <<CFG
senders:
  - ids: $2
    users: 1000
gateway:
  segments:
    - {name: p1}
  rules:
    - {ids: 0x120-0x121, direction: to_secured, segment: p1}
CFG
}
status_field() { gw_status_field "$@"; }
state_is() { gw_state_is "$@"; }
counter() { gw_counter "$@"; }
books() { # the counters this test moves, in one line
	local n out=""
	for n in tx_ok tx_sender_denied tx_sender_unknown rx_gw_in_allowed tx_gw_local_tx gw0_fwd; do
		out+="$n=$(counter "$n") "
	done
	echo "${out% }"
}
senders_json() { "$SPSECCTL" senders --socket "$SOCK" --json; }
REFUSAL="senders: 0x121 is forwarded onto the secured bus from p1 by the gateway rule on line 19"

# ---- a sender rule on a forwarded ID: refused at start, naming both lines ----------------------
write_config "$W/bad.yaml" "0x121"
"$SPSECD" --config "$W/bad.yaml" >"$VM_OUT/spsecd-bad.log" 2>&1
check_eq "spsecd refuses to start with a sender rule on a forwarded ID (exit 1)" 1 "$?"
check "the refusal names file and both lines" log_has "$VM_OUT/spsecd-bad.log" "$W/bad.yaml:13: $REFUSAL"
check "nothing was attached" bash -c "! tc filter show dev vx0 egress 2>/dev/null | grep -q spsec"

write_config "$W/vx0.yaml" "0x130"
"$SPSECD" --config "$W/vx0.yaml" --log-level debug >>"$LOG" 2>&1 &
PID=$!
check "spsecd (the Sync, a gateway with a sender rule) reaches Secure" wait_until 60 state_is Secure ||
	vm_finish
check "spsecd logged the gateway" log_has "$LOG" "gateway: 1 rules, 1 can-gw jobs, 1 segments"
start_candump -n bus vx1 "$W/bus.log" && PB=$VM_CANDUMP_PID
b0=$(books)
echo "# books at the start: $b0"

# send_as <uid> <ifname> <frame>: cansend as that uid (no privileges); its exit status
send_as() { setpriv --reuid "$1" --regid "$1" --clear-groups cansend "$2" "$3" 2>/dev/null; }
refused_as() { ! send_as "$@"; }

# a legacy ECU's frame: can-gw's copy has no socket, and 0x121 has no sender rule
ip netns exec legacy cansend l1 121##0.1E6AC1
check "the legacy frame reaches the secured bus" wait_until 30 grep -q ' vx1 121##' "$W/bus.log"
# this node's application ID 0x130: uid 1000 only
check "uid 1000 sends 0x130 on vx0" send_as 1000 vx0 130##0.A110ED
check "uid 1001 is refused 0x130 on vx0 (its write fails)" refused_as 1001 vx0 130##0.DE1E0D
# the way round any sender rule on a forwarded ID: an unprivileged process writes it to the
# segment; the CAN core's echo reaches p1's ingress and can-gw forwards it like a legacy frame
check "uid 1001 writes 0x120 to the segment p1" send_as 1001 p1 120##0.5E6E17
check "it reaches the secured bus" wait_until 30 grep -q ' vx1 120##' "$W/bus.log"
check "0x130 of uid 1000 reaches the secured bus" wait_until 30 grep -q ' vx1 130##' "$W/bus.log"
stop_candump "$PB"
check_eq "the bus got 121, 130 (uid 1000's, not uid 1001's) and 120, each once" "1 1 1" \
	"$(count_frames "$W/bus.log" 121 fd) $(count_frames "$W/bus.log" 130 fd) $(count_frames "$W/bus.log" 120 fd)"
check_eq "all of them stamped (no payload in clear on the bus)" "" \
	"$(grep -E '1E6AC1$|A110ED$|DE1E0D$|5E6E17$' "$W/bus.log")"
b1=$(books)
echo "# books at the end: $b1"
# exact: 3 stamped (121 via can-gw, 130 of uid 1000, 120 via the segment), 1 refused by the
# sender rule, none without a socket refused; the gateway rule forwarded 2, one of them a local
# socket's frame on p1 (tx_gw_local_tx on p1's egress)
delta() { # delta <name>: the counter's change between b0 and b1
	local a b
	a=$(tr ' ' '\n' <<<"$b0" | awk -F= -v n="$1" '$1 == n { print $2 }')
	b=$(tr ' ' '\n' <<<"$b1" | awk -F= -v n="$1" '$1 == n { print $2 }')
	echo $((b - a))
}
check_eq "tx_ok +3, tx_sender_denied +1, tx_sender_unknown +0" "3 1 0" \
	"$(delta tx_ok) $(delta tx_sender_denied) $(delta tx_sender_unknown)"
check_eq "gateway: rule 0 forwarded 2 (rx_gw_in_allowed 2), one local frame on p1 (tx_gw_local_tx 1)" \
	"2 2 1" "$(delta gw0_fwd) $(delta rx_gw_in_allowed) $(delta tx_gw_local_tx)"
check_eq "sender rule 1: allowed 1, denied 1" "1 1" \
	"$(senders_json | jq -r '"\(.rules[0].allowed) \(.rules[0].denied)"')"
check_eq "spsecctl stats shows the gateway rule" \
	"gateway rule 0: to_secured 0x120-0x121 from p1: forwarded 2, over rate 0, classical 0" \
	"$("$SPSECCTL" stats --interface vx0 | grep '^gateway rule')"
check "spsecctl stats --prometheus writes the textfile" \
	"$SPSECCTL" stats --interface vx0 --prometheus "$VM_OUT/gw.prom"
check_eq "with the rule's samples" \
	'spsec_gateway_frames_total{interface="vx0",rule="0",direction="to_secured",ids="0x120-0x121",segment="p1",kind="forwarded"} 2|spsec_gateway_frames_total{interface="vx0",rule="0",direction="to_secured",ids="0x120-0x121",segment="p1",kind="over_rate"} 0' \
	"$(grep -E '^spsec_gateway_frames_total.*kind="(forwarded|over_rate)"' "$VM_OUT/gw.prom" | paste -sd'|')"

# ---- the same refusal on reload: the running configuration stays --------------------------------
write_config "$W/vx0.yaml" "[0x121, 0x130]"
kill -HUP "$PID"
check "the reload is refused, naming both lines" wait_until 30 log_has "$LOG" "$W/vx0.yaml:13: $REFUSAL"
check "spsecd still runs, Secure" state_is Secure
check_eq "the running sender rule is unchanged (0x130 only)" '["0x130"]' \
	"$(senders_json | jq -c '.rules[0].ids')"
start_candump -n bus vx1 "$W/bus2.log" && PB=$VM_CANDUMP_PID
ip netns exec legacy cansend l1 121##0.2E6AC1
check "a legacy frame still crosses" wait_until 30 grep -q ' vx1 121##' "$W/bus2.log"
stop_candump "$PB"
kill -TERM "$PID"
wait "$PID"
check_eq "spsecd exits 0" 0 "$?"
rm -rf "$W"
vm_finish
