#!/usr/bin/env bash
# vm tier: spsecd sets a gateway up from its configuration (docs/gateway.md): at start the rule
# programs on the plain segment and the can-gw jobs; a legacy frame crosses stamped; a SIGHUP
# reload with fewer rules removes a job, one without the gateway section removes them all; a
# classical frame on the CAN FD segment crosses through spsecd's relay;
# SIGTERM leaves the rest as it is (fail closed): the jobs, and the rule programs on p1 in the
# secured interface's attach mode (tcx links pinned in vx0's pin dir, gw/p1/, on a tcx kernel:
# unpinned links would go with spsecd), replaced in place by a restarted spsecd. Also run on the
# other kernels (vm_gateway_daemon@6.12: tcx). The traffic checks of the gateway are in
# tests/vm/gateway.sh; this one is about spsecd's set-up. Asserts on jobs, attachments, counters.
# shellcheck source=tests/vm/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# vx0: the secured interface, its peer vx1 in "bus"; p1: a plain segment, its peer l1 in "legacy"
gw_setup spsecd-gw
W=$GW_DIR LOG=$GW_LOG

write_config() { # write_config [rule lines...]: no rule lines, no gateway section
	gw_config_head "$W/vx0.yaml" "0x120, 0x121, 0x122, 0x123, 0x200" "0x120, 0x121, 0x122, 0x123"
	[ $# -gt 0 ] || return 0
	printf 'gateway:\n  segments:\n    - {name: p1}\n  rules:\n' >>"$W/vx0.yaml"
	printf '    - %s\n' "$@" >>"$W/vx0.yaml"
}
status_field() { gw_status_field "$@"; }
state_is() { gw_state_is "$@"; }
jobs() { "$GW_DRV" gwjobs | awk '{ print $1, $2, $3 }' | sort | paste -sd'|'; }
jobs_are() { [ "$(jobs)" = "$1" ]; }
counter() { gw_counter "$@"; }
# guard: "<mode> <ingress prog name> <egress prog name>" of spsec's programs on p1 (tcx links
# pinned in $SEG_PINS, or tc filters), "none" without; read from the kernel, spsecd or not
SEG_PINS=/sys/fs/bpf/spsec/vx0/gw/p1
prog_name() { bpftool -j prog show id "$1" | jq -r .name; }
guard() {
	local a mode in out
	a=$("$GW_DRV" attached p1 --pin-dir "$SEG_PINS") || { echo none && return; }
	read -r mode _ in _ out <<<"$a"
	echo "$mode $(prog_name "$in") $(prog_name "$out")"
}
guard_ids() { "$GW_DRV" attached p1 --pin-dir "$SEG_PINS" | awk '{ print $3, $5 }'; }
hooks() { # "<n> <m>": tc filters on p1 (tc mode) or tcx links (any device) running p1's programs
	local i e
	read -r i e <<<"$(guard_ids)"
	if [ "$MODE" = tcx ]; then
		bpftool -j link show # bpftool 7.1 cannot name a tcx link's device, but its program
	else
		bpftool -j net show dev p1 | jq '.[0].tc'
	fi | jq -r --argjson i "$i" --argjson e "$e" \
		'"\([.[] | select((.prog_id // .id) == $i)] | length) \([.[] | select((.prog_id // .id) == $e)] | length)"'
}

RULE0="{ids: 0x120-0x123, direction: to_secured, segment: p1}"
RULE1="{ids: 0x200, direction: to_plain, segment: p1, rate: 50, burst: 5}"
write_config "$RULE0" "$RULE1"
"$SPSECD" --config "$W/vx0.yaml" --log-level debug >>"$LOG" 2>&1 &
PID=$!
check "spsecd (the Sync) reaches Secure" wait_until 60 state_is Secure || vm_finish
check "spsecd logged the gateway" log_has "$LOG" "gateway: 2 rules, 2 can-gw jobs, 1 segments"
check_eq "the can-gw jobs of both rules" "p1 vx0 120:C00007FC|vx0 p1 200:C00007FF" "$(jobs)"
MODE=$("$GW_DRV" attached vx0 | awk '{ print $1 }')
check_eq "the rule programs on p1, attached as vx0's data plane ($MODE on $(uname -r))" \
	"$MODE spsec_gw_in spsec_gw_out" "$(guard)"

# a legacy frame crosses, stamped by vx0's egress as this node's own (Secure: keys and clock)
start_candump -n bus vx1 "$W/bus.log" && PB=$VM_CANDUMP_PID
ip netns exec legacy cansend l1 121##0.CAFE
check "the legacy frame reaches the bus" wait_until 30 grep -q ' vx1 121##' "$W/bus.log"
stop_candump "$PB"
check "it is stamped on the bus (12 bytes, not the plain 2)" bash -c \
	"grep ' vx1 121##' '$W/bus.log' | grep -qvE ' vx1 121##.CAFE$'"
check_eq "counted: rule 0 forwarded 1, stamped 1" "1 1" "$(counter gw0_fwd) $(counter tx_ok)"
check_eq "spsecctl stats shows the rules with their counters" \
	"gateway rule 0: to_secured 0x120-0x123 from p1: forwarded 1, over rate 0, classical 0|gateway rule 1: to_plain 0x200 to p1: forwarded 0, over rate 0, classical 0" \
	"$("$SPSECCTL" stats --interface vx0 | grep '^gateway rule' | paste -sd'|')"
check_eq "and in JSON" '1 "0x120-0x123" "to_plain"' \
	"$("$SPSECCTL" stats --interface vx0 --json | jq -r '"\(.gateway[0].forwarded) \(.gateway[0].ids | tojson) \(.gateway[1].direction | tojson)"')"

# a classical frame on the CAN FD segment: can-gw cannot carry it, spsecd's relay does (as CAN FD,
# stamped): counted classical under rule 0, relayed once
start_candump -n bus vx1 "$W/bus2.log" && PB=$VM_CANDUMP_PID
ip netns exec legacy cansend l1 122#BEEF
check "the classical legacy frame reaches the bus as CAN FD" wait_until 30 grep -q ' vx1 122##' "$W/bus2.log"
stop_candump "$PB"
check "it is stamped on the bus" bash -c "grep ' vx1 122##' '$W/bus2.log' | grep -qvE ' vx1 122##.BEEF$'"
check_eq "counted: rule 0 classical 1, forwarded still 1, stamped 2" "1 1 2" \
	"$(counter gw0_classic) $(counter gw0_fwd) $(counter tx_ok)"
check_eq "the relay relayed it (status gateway_relay)" "1 0 0" \
	"$(status_field 'gateway_relay.rules[0] | "\(.relayed) \(.too_long) \(.refused)"')"

# reload without rule 1: its job goes, rule 0's stays
write_config "$RULE0"
kill -HUP "$PID"
check "a reload with rule 0 only removes rule 1's job" wait_until 30 jobs_are "p1 vx0 120:C00007FC"
# reload without a gateway: every job to and from p1 goes
write_config
kill -HUP "$PID"
check "a reload without the gateway section removes the jobs" wait_until 30 jobs_are ""
check "spsecd still runs" _vm_alive "$PID"
# back, then SIGTERM: the jobs and programs stay (a dead spsecd leaves the data plane enforcing)
write_config "$RULE0" "$RULE1"
kill -HUP "$PID"
check "a reload with both rules adds both jobs again" wait_until 30 jobs_are \
	"p1 vx0 120:C00007FC|vx0 p1 200:C00007FF"
kill -TERM "$PID"
wait "$PID"
check_eq "spsecd exits 0" 0 "$?"
check_eq "the jobs stay after spsecd exits" "p1 vx0 120:C00007FC|vx0 p1 200:C00007FF" "$(jobs)"
check_eq "the rule programs stay on p1 ($MODE)" "$MODE spsec_gw_in spsec_gw_out" "$(guard)"
if [ "$MODE" = tcx ]; then
	check "their links are pinned in $SEG_PINS" \
		test -e "$SEG_PINS/spsec_tcx_ingress" -a -e "$SEG_PINS/spsec_tcx_egress"
fi
# a restarted spsecd swaps its programs in on p1 (tcx: BPF_LINK_UPDATE of the pinned links, tc:
# filter replace), never a second pair beside the first
OLD_IDS=$(guard_ids)
NLOG=$(grep -c 'gateway: 2 rules, 2 can-gw jobs, 1 segments' "$LOG")
"$SPSECD" --config "$W/vx0.yaml" --log-level debug >>"$LOG" 2>&1 &
PID=$!
check "a restarted spsecd sets the gateway up again" wait_until 60 bash -c \
	"[ \$(grep -c 'gateway: 2 rules, 2 can-gw jobs, 1 segments' '$LOG') -gt $NLOG ]"
check_eq "p1 has its programs from the restarted spsecd, in the same mode" \
	"$MODE spsec_gw_in spsec_gw_out" "$(guard)"
check "their program ids changed (the new spsecd's object)" [ "$(guard_ids)" != "$OLD_IDS" ]
check_eq "one program per hook on p1, not a second beside the first" "1 1" "$(hooks)"
kill -TERM "$PID"
wait "$PID"
check_eq "the restarted spsecd exits 0" 0 "$?"
check_eq "the rule programs stay on p1 after its exit too" "$MODE spsec_gw_in spsec_gw_out" "$(guard)"
vm_finish
