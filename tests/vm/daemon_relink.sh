#!/usr/bin/env bash
# vm tier: the CAN interface is deleted and re-created under live traffic and an attacker
# (a USB adapter re-plugged, a driver reloaded, `ip link del`/`add`). The tc filters die with the
# old device; spsecd (rtnetlink link watch) reports the data plane detached, and attaches the
# same programs on the same pinned maps to the new device when it appears.
# Nodes S (Sync), A (sends secured 0x123 to B), B (its application sends secured 0x124 all the
# time), and O: a plain observer/attacker on the bus (no spsecd) that floods forged plain frames
# of 0x123 toward B and records the wire. vxB is deleted and re-created the way a driver does it
# (the device appears down, the bus joins, then it is set up). Counted from candump -L logs:
#   forged frames that reach B's applications, and B's 0x124 frames on the wire in clear.
# Both must be zero after the re-attach; any before it must lie inside the re-attach gap
# [device up, attach observed], which is measured and printed.
# shellcheck source=tests/vm/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SPSEC_DIR=$(mktemp -d /tmp/spsecd-relink.XXXXXX)
SPSEC_SECURED_IDS="0x123, 0x124"
FORGED=0BAD0BAD0BAD0BAD # the attacker's plain 0x123 payload
CLEAR=C1EAC1EAC1EAC1EA  # B's application's plain 0x124 payload (ciphertext on the wire)
LOGO=$VM_OUT/relink-wire.log
LOGB=$VM_OUT/relink-appB.log # B's applications' view (candump on "any": it survives the device)

require_built "$SPSECD" "$SPSECCTL"
check "nodes S A B O in namespaces, joined by can-gw" spsec_bus_up S A B O || vm_finish
rm -f "$SPSEC_STATE_DIR/vxS.t" "$SPSEC_STATE_DIR/vxS.csalt"
check "spsec-setup new-keys writes a key store" spsec_new_keys || vm_finish
spsec_sab_configs "" 0x123 0x124
spsec_bus_start

attached_is() { [ "$(spsec_status_field B data_plane.attached)" = "$1" ]; }
gauge_in_nsB() { # the Prometheus gauge as spsecctl stats writes it, run in B's namespace
	nsenter --net=/run/netns/nsB "$SPSECCTL" stats --pin-dir /sys/fs/bpf/spsec/vxB \
		--prometheus "$VM_OUT/relink.prom" 2>/dev/null
	sed -n 's/^spsec_data_plane_attached{interface="vxB"} //p' "$VM_OUT/relink.prom"
}
stamp() { local t=${EPOCHREALTIME/./}; echo "$t"; } # realtime in us, as candump's clock
state_kept() { local s; s=$(spsec_status_field B state); [ "$s" = Secure ] || [ "$s" = Warning ]; }
check_eq "B reports its data plane attached" true "$(spsec_status_field B data_plane.attached)"
check_eq "the attached gauge is 1" 1 "$(gauge_in_nsB)"

start_candump -n nsO vxO "$LOGO" || not_ok "candump on the observer O"
# Bound to any interface: a socket bound to vxB would end with it (ENETDOWN, ENODEV).
ip netns exec nsB candump -L any >"$LOGB" 2>&1 &
DUMP_B=$!
# Live traffic: A -> B secured, B's application -> bus secured, the attacker's forgeries.
ip netns exec nsA cangen vxA -f -I 123 -L 8 -D i -g 20 -i &
PID_A=$!
ip netns exec nsO cangen vxO -f -I 123 -L 8 -D "$FORGED" -g 5 -i &
PID_O=$!
# B's application: a sender that reopens its socket when the device is back (cangen exits
# when its interface disappears).
(while :; do ip netns exec nsB cangen vxB -f -I 124 -L 8 -D "$CLEAR" -g 10 -i 2>/dev/null; vm_nap 0.05; done) &
PID_B=$!
check "B's application receives A's secured frames" wait_until 30 grep -q ' vxB 123##.' "$LOGB"
check_eq "no forged frame reached B before the re-creation" 0 "$(grep -c "##.$FORGED" "$LOGB")"

# ---- delete ----------------------------------------------------------------------------------
ip -n nsB link del vxB
check "B reports the data plane detached" wait_until 30 attached_is false
check "B logged the detach" log_has "$VM_OUT/spsecd-B.log" "data plane detached"
check_eq "the attached gauge is 0 while vxB is gone" 0 "$(gauge_in_nsB)"
check "B keeps its state while detached" state_kept

# ---- re-create, as a driver does: the device appears down, joins the bus, then goes up -------
ip link add dev vxB netns nsB mtu 72 type vxcan peer name vxBw netns W mtu 72
ip netns exec W sh -c 'for d in vxSw vxAw vxOw; do
	cangw -A -s vxBw -d $d -X -i && cangw -A -s vxBw -d $d -i &&
	cangw -A -s $d -d vxBw -X -i && cangw -A -s $d -d vxBw -i; done'
T_UP=$(stamp)
ip -n W link set dev vxBw up && ip -n nsB link set dev vxB up
check "B attaches its data plane to the new vxB" wait_until 30 attached_is true
T_ATT=$(stamp)
check "B logged the re-attach" log_has "$VM_OUT/spsecd-B.log" "data plane attached again"
check_eq "the attached gauge is 1 again" 1 "$(gauge_in_nsB)"
echo "# B: $(spsec_status_json B | jq -c '{state,data_plane}')"

# Traffic after the re-attach: A's frames reach B again under the same keys; B's own go out
# secured.
after() { awk -v t="$T_ATT" '{ s = $1; gsub(/[().]/, "", s); if (s + 0 > t + 0) print }' "$1"; }
a_frames_after() { [ "$(after "$LOGB" | grep -c ' vxB 123##.')" -ge 20 ]; }
check "A's secured frames reach B's application again" wait_until 60 a_frames_after
check "B's 0x124 frames are on the wire after the re-attach" wait_until 60 bash -c "[ \$(awk -v t=$T_ATT '{ gsub(/[().]/, \"\", \$1); if (\$1 + 0 > t + 0) print }' '$LOGO' | grep -c ' vxO 124##') -ge 20 ]"
pkill -P "$PID_B" 2>/dev/null # B's current cangen (a child of that loop, by its parent's PID)
kill "$PID_A" "$PID_O" "$PID_B" "$DUMP_B" 2>/dev/null
wait "$PID_A" "$PID_O" "$DUMP_B" 2>/dev/null

# ---- the count ---------------------------------------------------------------------------------
# Timestamps (us) of the violations: forged frames B's applications received, and B's 0x124
# frames on the wire in clear (the plain payload, unstamped).
times() { grep "$2" "$1" | sed 's/^(\([0-9]*\)\.\([0-9]*\)).*/\1\2/'; }
mapfile -t FORGED_T < <(times "$LOGB" "##.$FORGED\$")
mapfile -t CLEAR_T < <(times "$LOGO" " vxO 124##.$CLEAR\$")
late=0
for t in "${FORGED_T[@]}" "${CLEAR_T[@]}"; do
	{ [ "$t" -ge "$T_UP" ] && [ "$t" -le "$T_ATT" ]; } || late=$((late + 1))
done
gap_ms=$(((T_ATT - T_UP) / 1000))
echo "# re-attach gap: device up -> attach observed by the test <= ${gap_ms} ms;" \
	"spsecd: $(grep -o 'attached again after [0-9]* ms' "$VM_OUT/spsecd-B.log" | tail -1) (from the removal)"
echo "# in the gap: ${#FORGED_T[@]} forged frame(s) delivered, ${#CLEAR_T[@]} frame(s) of 0x124 in clear"
# The data's view of the gap: B's first frame on the wire after the device went up.
first=$(awk -v t="$T_UP" '{ s = $1; gsub(/[().]/, "", s); if (s + 0 > t + 0 && $3 ~ /^124##/) { print s, $3; exit } }' "$LOGO")
if [ -n "$first" ]; then
	echo "# B's first frame on the wire after the device went up: +$(((${first%% *} - T_UP) / 1000)) ms," \
		"$([[ ${first#* } == "124##"?"$CLEAR" ]] && echo "IN CLEAR" || echo "stamped")"
fi
check_eq "no forged frame delivered and nothing in clear outside the re-attach gap" 0 "$late"
check_eq "no forged frame reached B's applications outside the gap" 0 \
	"$(after "$LOGB" | grep -c "##.$FORGED")"
check_eq "no 0x124 frame in clear on the wire before the deletion" 0 \
	"$(awk -v t="$T_UP" '{ gsub(/[().]/, "", $1); if ($1 + 0 < t + 0) print }' "$LOGO" | grep -c " vxO 124##.$CLEAR\$")"
check "B is Secure or Warning (state kept, nothing aborted)" state_kept
vm_finish
