#!/usr/bin/env bash
# vm tier: Configurator sessions over real CAN FD between `spsecctl configure` and spsecd.
# Five namespaces joined through W by can-gw: a Sync S (1) and participants A (5) and
# B (6), commissioned earlier (Provisioning, Integrator and Seed Keys in their key stores); a
# factory-fresh node F (127, empty key store); and the Configurator C (no spsecd, no data plane).
#   1. F is commissioned end to end: Zero-Key discovery, Provisioning Key, then Integrator and
#      Seed Keys with the Provisioning Key, that session unpadded as the reference's python-can
#      Configurator sends it on vxcan (--no-pad: the keys' WriteSegs are 40 bytes); F joins the
#      secured bus by PA and receives A's secured frames plain.
#   2. Attacks, each refused with its event and the node's key store unchanged (sha256): a
#      replayed ClientFinished (5E02h), a session opened with a wrong Integrator Key (5E02h),
#      the Provisioning Key written a second time (already_set).
#   3. The Seed Key of the running bus is re-keyed node by node from one `spsecctl provision`
#      plan; every node is back in Secure with the new Key ID, afterwards every frame A sends
#      reaches B with no drop counted on B, and the same plan run again changes nothing.
# TCG is slow: as in daemon_bus.sh the test config allows a 2 s PA round trip and a 1 ms tick
# with the widest acceptance window, and here a 5 s session response time on both ends
# (`timeouts.response` on the nodes, --response-timeout on spsecctl); the defaults stay strict.
# shellcheck source=tests/vm/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SPSEC_DIR=$(mktemp -d /tmp/spsec-cfg.XXXXXX)
W=$SPSEC_DIR
NODES=(S A B F C)
LOGW=$VM_OUT/cfg-wire.log

require_built "$SPSECD" "$SPSECCTL"
check "can-gw in W joins the five namespaces" spsec_bus_up "${NODES[@]}" || vm_finish
rm -rf /var/lib/spsec/vx?.t /var/lib/spsec/vx?.csalt /var/lib/spsec/vx?.registers /var/lib/spsec/vxF

# ---- keys: random (seeded, tests/vm/lib.sh rand_hex), in key files (0600) ------------------------
key_file() { # key_file <file> <role> <id>
	local key salt
	rand_hex key 32
	rand_hex salt 8
	(umask 077 && printf 'format = 1\n%s.key = %s\n%s.salt = %s\n%s.id = %s\n' \
		"$2" "$key" "$2" "$salt" "$2" "$3" >"$1")
}
key_store() { # key_store <out> <key file>...: one store holding the keys of the files
	(umask 077 && { echo "format = 1" && grep -hv '^format' "${@:2}"; } >"$1")
}
key_file "$W/integ.keys" integrator 0x00000202
key_file "$W/wrong-integ.keys" integrator 0x00000202
key_file "$W/seed1.keys" seed 0x00000042
key_file "$W/seed2.keys" seed 0x00000043
i=1
for n in S A B F; do
	key_file "$W/prov-$n.keys" provisioning "0x0000010$i"
	i=$((i + 1))
done
key_file "$W/prov-F2.keys" provisioning 0x00000199
for n in S A B; do key_store "$W/keys-$n" "$W/prov-$n.keys" "$W/integ.keys" "$W/seed1.keys"; done

# The nodes' own key stores (above); F's is where spsec-setup puts it, empty (--factory-fresh).
SPSEC_KEY_STORE=([S]=$W/keys-S [A]=$W/keys-A [B]=$W/keys-B [F]=/var/lib/spsec/vxF/keys)
SPSEC_SECURED_IDS="0x123, 0x124"
SPSEC_TIMEOUTS_EXTRA="response: 5s" # the 5 s session response time (header)
spsec_write_config S 1 on "5, 6" ""
spsec_write_config A 5 off "1, 6" "0x123, 0x124" # A sends both secured IDs
spsec_write_config B 6 off "1, 5" ""
spsec_write_config F 127 off "1" ""
check "spsec-setup --factory-fresh installs F's config and an empty key store" \
	"$SPSEC_SOURCE_DIR/scripts/spsec-setup" --interface vxF --config "$W/F.yaml" --factory-fresh \
	--no-enable
check_eq "F's key store holds no key" "format = 1" "$(grep -v '^#' "${SPSEC_KEY_STORE[F]}")"
check_eq "F's key store is owner-only" 600 "$(stat -c %a "${SPSEC_KEY_STORE[F]}")"

seed_is() { [ "$(spsec_status_field "$1" keys.seed)" = "$2" ]; }
# The Configurator, on the plain interface of namespace C.
cfgctl() { # cfgctl <pp> <key-selector> [--key-file F] OP...
	local pp=$1 sel=$2
	shift 2
	ip netns exec nsC "$SPSECCTL" configure --interface vxC --participant "$pp" \
		--key-selector "$sel" --response-timeout 5000 "$@"
}
sum_of() { sha256sum "$1" | cut -d' ' -f1; }

start_candump -n W vxCw "$LOGW" || not_ok "candump on the wire"
start_candump -n W vxFw "$VM_OUT/cfg-wire-F.log" || not_ok "candump of F's frames"
start_candump -n nsF vxF "$VM_OUT/cfg-nodeF.log" || not_ok "candump on node F"
start_candump -n nsB vxB "$VM_OUT/cfg-nodeB.log" || not_ok "candump on node B"
for n in S A B F; do spsec_start_node $n; done
check "the Sync reaches Secure" wait_until 60 spsec_state_is S Secure
check "A reaches Secure" wait_until 60 spsec_state_is A Secure
check "B reaches Secure" wait_until 60 spsec_state_is B Secure
check "the fresh node F waits without a Seed Key" wait_until 30 spsec_state_is F Waiting
check_eq "F holds no Seed Key" null "$(spsec_status_json F | jq -r .keys.seed)"
check "F logged that it is factory-fresh" log_has "$VM_OUT/spsecd-F.log" "factory-fresh node"

# ---- 1. commissioning F -----------------------------------------------------------------------
out=$(cfgctl 127 zero identify 2>&1)
check_eq "Zero-Key discovery of F succeeds" 0 $?
echo "$out" | sed 's/^/#   /'
check "discovery shows no Provisioning Key yet" grep -q "provisioning-key-id.*not installed" <<<"$out"
check "discovery shows the device ID" grep -q "spsec-linux" <<<"$out"
check "Zero-Key session installs the Provisioning Key" \
	cfgctl 127 zero install-provisioning --key-file "$W/prov-F.keys"
check "F's key store holds the Provisioning Key ID" grep -q "^provisioning.id = " "${SPSEC_KEY_STORE[F]}"
check_eq "F's key store stays owner-only" 600 "$(stat -c %a "${SPSEC_KEY_STORE[F]}")"
check "Provisioning-Key session with unpadded frames installs Integrator and Seed Keys and sets the heartbeat" \
	cfgctl 127 provisioning --key-file "$W/prov-F.keys" --no-pad \
	install-integrator --key-file "$W/integ.keys" install-seed --key-file "$W/seed1.keys" \
	set heartbeat 2s set heartbeat-monitor 1
# WriteSeg requests to F (1E<cnt>05FF) of <len> data bytes on C's wire: the keys' went out as
# 32 bytes of ciphertext + 8 of tag (no CAN FD length), the 1-byte heartbeat write as 9 bytes;
# only the padded Zero-Key session sent a key's WriteSeg as 48.
ws_to_f_is() { # ws_to_f_is <count> <len>
	[ "$(grep -cE " vxCw 1E..05FF##.[0-9A-F]{$(($2 * 2))}\$" "$LOGW")" -eq "$1" ]
}
check "the keys' WriteSegs went out unpadded: 40 bytes each" wait_until 10 ws_to_f_is 2 40
check "the heartbeat write went out unpadded: 9 bytes" wait_until 10 ws_to_f_is 1 9
check "the padded Zero-Key session sent its key as 48 bytes" ws_to_f_is 1 48
check "F refused no session message (no 5E05h)" \
	bash -c "! grep -q 'security event 0x00005e05' '$VM_OUT/spsecd-F.log'"
check "F joins the secured bus (Secure by PA)" wait_until 60 spsec_state_is F Secure
check "F logged its Parameter Authentication" \
	log_has "$VM_OUT/spsecd-F.log" "Parameter Authentication succeeded"
deliver_to() { # deliver_to <node> <hex>: sent plain on A until it arrives plain on <node>
	ip netns exec nsA cansend vxA "123##1$2" 2>/dev/null
	wait_until 2 log_has "$VM_OUT/cfg-node$1.log" " vx$1 123##5$2"
}
check "a secured frame from A arrives plain at the commissioned F" wait_until 60 deliver_to F C0FFEE01
out=$(cfgctl 127 integrator --key-file "$W/integ.keys" --json read seed-key-id status 2>&1)
check_eq "an Integrator-Key session reads F's Seed Key ID" 0x00000042 \
	"$(jq -r '.steps[0].value' <<<"$out" 2>/dev/null)"
check "no key material in any spsecd log" bash -c "! grep -qiF -e '$(sed -n 's/^seed.key = //p' "$W/seed1.keys")' -e '$(sed -n 's/^integrator.key = //p' "$W/integ.keys")' '$VM_OUT'/spsecd-*.log"

# ---- 2. attacks ---------------------------------------------------------------------------------
# A replayed ClientFinished: the last one C sent to F, sent again as it was.
fin=$(grep -o ' vxCw 1E..01FF##[0-9A-F]*' "$LOGW" | tail -1 | sed 's/^ vxCw //; s/##./##0/')
check "the wire log holds F's ClientFinished" test -n "$fin"
before=$(sum_of "${SPSEC_KEY_STORE[F]}")
n5e02=$(grep -c "security event 0x00005e02" "$VM_OUT/spsecd-F.log")
ip netns exec nsC cansend vxC "$fin"
f_refused() { [ "$(grep -c "security event 0x00005e02" "$VM_OUT/spsecd-F.log")" -gt "$n5e02" ]; }
check "F refuses the replayed ClientFinished (5E02h)" wait_until 30 f_refused
check "F did not enter Configuration" bash -c "! [ \"\$('$SPSECCTL' status --socket '$W/F.sock' --json | jq -r .state)\" = Configuration ]"
check_eq "F's key store is unchanged" "$before" "$(sum_of "${SPSEC_KEY_STORE[F]}")"

before=$(sum_of "$W/keys-A")
out=$(cfgctl 5 integrator --key-file "$W/wrong-integ.keys" set heartbeat 4s 2>&1)
check_eq "a session with a wrong Integrator Key fails (exit 1)" 1 $?
echo "$out" | sed 's/^/#   /'
check "spsecctl names 5E02h" grep -q "5E02h" <<<"$out"
check "A logged 5E02h" wait_until 10 log_has "$VM_OUT/spsecd-A.log" "security event 0x00005e02"
check_eq "A's register 51h holds 5E02h" 0x00005e02 "$(spsec_status_json A | jq -r .last_event)"
check_eq "A's key store is unchanged" "$before" "$(sum_of "$W/keys-A")"
check "A wrote no registers file" test ! -e /var/lib/spsec/vxA.registers

before=$(sum_of "${SPSEC_KEY_STORE[F]}")
out=$(cfgctl 127 zero install-provisioning --key-file "$W/prov-F2.keys" 2>&1)
check_eq "a second Provisioning Key write fails (exit 1)" 1 $?
echo "$out" | sed 's/^/#   /'
check "spsecctl says already_set" grep -q "already_set" <<<"$out"
check_eq "F's key store is unchanged" "$before" "$(sum_of "${SPSEC_KEY_STORE[F]}")"
check "F logged the refusal" log_has "$VM_OUT/spsecd-F.log" "access refused"

# ---- 3. re-keying the running bus -------------------------------------------------------------
# One plan for the whole bus (the Sync last): only the Seed Key differs, so spsecctl provision
# re-keys each node in one Integrator-Key session; run again, it writes nothing.
{
	echo "format: 1"
	echo "interface: vxC"
	echo "nodes:"
	for n in A:5 B:6 F:127 S:1; do
		printf '  - {participant-id: %s, provisioning-key: prov-%s.keys, integrator-key: integ.keys, seed-key: seed2.keys}\n' \
			"${n#*:}" "${n%%:*}"
	done
} >"$W/plan.yaml"
provision() { ip netns exec nsC "$SPSECCTL" provision --response-timeout 5000 "$W/plan.yaml"; }
out=$(provision 2>&1)
check_eq "spsecctl provision re-keys the running bus" 0 $?
declare -A mark # every node holds the new key now: a Sync applied after this is under it
for n in A B F; do mark[$n]=$(log_lines "$VM_OUT/spsecd-$n.log"); done
echo "$out" | sed 's/^/#   /'
check "the plan re-keyed four nodes (key, salt and ID each)" grep -q "provisioned 4 node(s), 12 register write(s)" <<<"$out"
# A node re-keyed before the Sync verifies no Sync broadcast until the Sync is re-keyed too. When
# that takes longer than timeouts.sync_abort (a slow, loaded run), the node's sync watchdog fires
# afterwards: Security Abort, a new PA, Secure again (docs/commissioning.md). Its state may still
# read Secure just before that, so the switch-over is over for a node only once it is Secure and
# has applied a Sync broadcast since the provisioning ended (which proves it verifies the Sync's new
# keys and re-arms its watchdog).
sync_applied_since() { log_after "$VM_OUT/spsecd-$1.log" "${mark[$1]}" | grep -q "Sync broadcast applied"; }
settled() { [ "$1" = S ] || sync_applied_since "$1" && spsec_state_is "$1" Secure; }
for n in S A B F; do
	check "$n holds Seed Key 0x00000043" wait_until 10 seed_is $n 0x00000043
	check "$n is back in Secure after the switch-over (and applies the Sync's broadcasts)" \
		wait_until 90 settled $n
done
for n in A B F; do
	echo "# $n after the switch-over: $(log_after "$VM_OUT/spsecd-$n.log" "${mark[$n]}" | grep -c 'security event 0x0000fe0f') Sync Abort(s)"
done
check "B receives A's frames under the new keys" wait_until 60 deliver_to B 5EED0002
drops_before=$(spsec_drops B)
for i in $(seq 10 39); do ip netns exec nsA cansend vxA "124##1AB${i}"; done
got_all() { [ "$(grep -c ' vxB 124##5AB' "$VM_OUT/cfg-nodeB.log")" -eq 30 ]; }
check "all 30 frames A sends after the switch-over reach B" wait_until 60 got_all
check_eq "no frame dropped on B after the switch-over" "$drops_before" "$(spsec_drops B)"
check_eq "B's frames arrived in order" "$(seq 10 39 | sed 's/^/AB/' | tr '\n' ' ')" \
	"$(grep -o ' vxB 124##5AB[0-9]*' "$VM_OUT/cfg-nodeB.log" | sed 's/.*##5//' | tr '\n' ' ')"
echo "# B status: $(spsec_status_json B | jq -c '{state,keys,last_event,configurator}')"
before=$(for n in S A B F; do sum_of "${SPSEC_KEY_STORE[$n]}"; done)
out=$(provision 2>&1)
check_eq "the same plan again succeeds" 0 $?
check "... and writes nothing" grep -q "provisioned 4 node(s), 0 register write(s)" <<<"$out"
check_eq "no key store changed" "$before" "$(for n in S A B F; do sum_of "${SPSEC_KEY_STORE[$n]}"; done)"

# ---- 4. spsec-setup --keys gives a node its own Provisioning Key -----------------------------
SPSEC_KEY_STORE[G]=/var/lib/spsec/vxG/keys
spsec_write_config G 9 off "" ""
rm -rf /var/lib/spsec/vxG
check "spsec-setup --keys installs G's key store (a Seed Key only in the file)" \
	"$SPSEC_SOURCE_DIR/scripts/spsec-setup" --interface vxG --config "$W/G.yaml" \
	--keys "$W/seed1.keys" --no-enable
GK=/var/lib/spsec/vxG
check "G's key store got a Provisioning Key of its own" grep -q '^provisioning.id = 0x' "$GK/keys"
check "... and kept the Seed Key" grep -q '^seed.id = 0x00000042' "$GK/keys"
check_eq "the Configurator's copy holds the same Provisioning Key" \
	"$(grep '^provisioning\.' "$GK/keys")" "$(grep '^provisioning\.' "$GK/provisioning.keys")"
check_eq "the copy is owner-only" 600 "$(stat -c %a "$GK/provisioning.keys")"
# No node answers at 9: exit 1 (no ServerHello) shows the key file was accepted (a bad one: 2).
rc=$(ip netns exec nsC "$SPSECCTL" configure --interface vxC --participant 9 \
	--key-selector provisioning --key-file "$GK/provisioning.keys" --response-timeout 100 \
	status >/dev/null 2>&1; echo $?)
check_eq "spsecctl accepts the copy as a Configurator key file" 1 "$rc"

for n in S A B F; do spsec_stop_node_ok "$n"; done
rm -rf "$SPSEC_DIR"
vm_finish
