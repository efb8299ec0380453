#!/usr/bin/env bash
# vm tier: spsecd sets a gateway up from its configuration (docs/gateway.md): at start the rule
# programs on the plain segment and the can-gw jobs; a legacy frame crosses stamped; a SIGHUP
# reload with fewer rules removes a job, one without the gateway section removes them all; a
# classical frame on the CAN FD segment crosses through spsecd's relay;
# SIGTERM leaves the rest as it is (fail closed). The traffic checks of the gateway are in
# tests/vm/gateway.sh; this one is about spsecd's set-up. Asserts on jobs, tc and counters.
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

RULE0="{ids: 0x120-0x123, direction: to_secured, segment: p1}"
RULE1="{ids: 0x200, direction: to_plain, segment: p1, rate: 50, burst: 5}"
write_config "$RULE0" "$RULE1"
"$SPSECD" --config "$W/vx0.yaml" --log-level debug >>"$LOG" 2>&1 &
PID=$!
check "spsecd (the Sync) reaches Secure" wait_until 60 state_is Secure || vm_finish
check "spsecd logged the gateway" log_has "$LOG" "gateway: 2 rules, 2 can-gw jobs, 1 segments"
check_eq "the can-gw jobs of both rules" "p1 vx0 120:C00007FC|vx0 p1 200:C00007FF" "$(jobs)"
check "the rule programs on p1" bash -c \
	"tc filter show dev p1 ingress | grep -q spsec_gw_in && tc filter show dev p1 egress | grep -q spsec_gw_out"

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
check "the rule programs stay" bash -c "tc filter show dev p1 ingress | grep -q spsec_gw_in"
vm_finish
