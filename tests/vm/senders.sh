#!/usr/bin/env bash
# vm tier: sender rules (config key `senders`) on the real tc egress program of the 6.1 kernel.
# Node A transmits the secured IDs 123 (rule 1: uid 1000 or cgroup /spsec-ok), 124 (rule 2: group
# spsecvm) and 125 (no rule: anyone). Local senders are cansend processes started as other
# uids (setpriv) and in other cgroups. Permitted frames leave A stamped and arrive plain at the
# Sync S; refused ones never reach the wire, their write() fails, and A counts each one exactly:
# tx_sender_denied, and per rule in `spsecctl senders`. Then: an unprivileged process cannot move
# itself into the permitted cgroup, and a re-created cgroup (a restarted unit) gets its new id
# installed by spsecd's re-check.
# shellcheck source=tests/vm/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SPSEC_DIR=$(mktemp -d /tmp/spsecd-senders.XXXXXX)
SPSEC_APP_LOG=$VM_OUT/senders-app
LOGW=$VM_OUT/senders-wire.log
CG=/sys/fs/cgroup
SPSEC_SECURED_IDS="0x123, 0x124, 0x125"
SPSEC_PLAIN_IDS="0x7FF"

# Users and a group for the rules, in the guest's overlay (gone at power-off): spsecu has the
# group as its primary group, spsecm is listed as a member.
echo "spsecvm:x:4242:spsecm" >>/etc/group
echo "spsecu:x:4243:4242::/:/bin/false" >>/etc/passwd
echo "spsecm:x:4244:100::/:/bin/false" >>/etc/passwd
mkdir -p "$CG/spsec-ok/child" "$CG/spsec-other" || not_ok "cgroups for the test"

spsec_bus_setup S A
spsec_write_config S 1 on "5" "" || not_ok "config of S"
spsec_write_config A 5 off "1" "0x123, 0x124, 0x125, 0x7FF" || not_ok "config of A"
cat >>"$SPSEC_DIR/A.yaml" <<'CFG'
senders:
  - ids: 0x123
    users: 1000
    cgroups: /spsec-ok
  - ids: [0x124]
    groups: spsecvm
CFG
start_candump -n W vxAw "$LOGW" || not_ok "candump on the wire"
start_candump -n nsS vxS "$(spsec_app_log S)" || not_ok "candump of S's applications"
# another application on A itself: it gets the local echo of A's frames (the CAN core's clone on
# vxcan), which the kernel delivers only after tc egress let the frame through
start_candump -n nsA vxA "$(spsec_app_log A)" || not_ok "candump of A's applications"
spsec_start_node S
check "the Sync reaches Secure" wait_until "$VM_WAIT_TIMEOUT" spsec_state_is S Secure
spsec_start_node A
check "A reaches Secure by Parameter Authentication" wait_until 60 spsec_state_is A Secure

senders_json() { "$SPSECCTL" senders --socket "$SPSEC_DIR/A.sock" --json; }
echo "# spsecctl senders on A:"
"$SPSECCTL" senders --socket "$SPSEC_DIR/A.sock" | sed 's/^/#   /'
check_eq "rule 2 resolves group spsecvm to its two members" "4243 4244" \
	"$(senders_json | jq -r '.rules[1].resolved.uids | map(tostring) | join(" ")')"
ok_id=$(senders_json | jq -r '.rules[0].resolved.cgroups[0].id')
check "rule 1's cgroup /spsec-ok is resolved (id $ok_id)" [ "$ok_id" -gt 0 ]

# send_as <uid> <cgroup> <frame>: cansend on A as that uid, started in that cgroup; returns
# cansend's exit status (a refused frame fails its write() with ENOBUFS)
send_as() {
	local uid=$1 cg=$2 frame=$3
	bash -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' _ "$CG$cg" \
		nsenter --net=/run/netns/nsA setpriv --reuid "$uid" --regid "$uid" --clear-groups \
		cansend vxA "$frame" 2>/dev/null
}
refused_send() { ! send_as "$@"; }
sent_ok=0
sent_refused=0
expect_send() { # expect_send ok|refused <uid> <cgroup> <frame>
	local what=$1
	shift
	if [ "$what" = ok ]; then
		check "uid $1 in $2 sends $3" send_as "$@" && sent_ok=$((sent_ok + 1))
	else
		check "uid $1 in $2 is refused $3 (write fails)" refused_send "$@"
		sent_refused=$((sent_refused + 1))
	fi
}

c0=$(spsec_count A tx_ok tx_sender_denied tx_sender_unknown)
# rule 1 (123): uid 1000 anywhere, or anyone in /spsec-ok and below
expect_send ok 1000 / "123##01111111111111111"
expect_send ok 1000 /spsec-other "123##01111111111111112"
expect_send ok 1000 /spsec-ok "123##01111111111111113"
expect_send ok 0 /spsec-ok "123##01111111111111114"
expect_send ok 0 /spsec-ok/child "123##01111111111111115"
expect_send refused 1001 / "123##01111111111111116"
expect_send refused 0 /spsec-other "123##01111111111111117"
expect_send refused 0 / "123##01111111111111118"
# rule 2 (124): the group's members, by primary group and by member list
expect_send ok 4243 / "124##02222222222222221"
expect_send ok 4244 / "124##02222222222222222"
expect_send refused 1000 /spsec-ok "124##02222222222222223"
expect_send refused 4245 / "124##02222222222222224"
# 125 has no rule: any local sender, as without sender rules
expect_send ok 1001 /spsec-other "125##03333333333333331"
check "a sentinel from A reaches S" spsec_sentinel A S
check "the wire carries the sentinel" wait_until 20 bash -c "grep -q ' vxAw 7FF#5E17' '$LOGW'"

c1=$(spsec_count A tx_ok tx_sender_denied tx_sender_unknown)
read -r ok0 den0 unk0 <<<"$c0"
read -r ok1 den1 unk1 <<<"$c1"
check_eq "A stamped every permitted frame (tx_ok)" "$sent_ok" $((ok1 - ok0))
check_eq "A refused every other frame as tx_sender_denied" "$sent_refused" $((den1 - den0))
check_eq "no frame without a socket (tx_sender_unknown)" 0 $((unk1 - unk0))
check_eq "S's applications got 123 five times, plain" 5 "$(count_frames "$(spsec_app_log S)" 123 fd)"
check_eq "S's applications got 124 twice" 2 "$(count_frames "$(spsec_app_log S)" 124 fd)"
check_eq "S's applications got 125 once" 1 "$(count_frames "$(spsec_app_log S)" 125 fd)"
check "S got the permitted payloads in clear" log_has "$(spsec_app_log S)" " vxS 123##41111111111111115"
check_eq "no refused payload reached S" "" \
	"$(grep -E '123##.111111111111111[678]|124##.222222222222222[34]' "$(spsec_app_log S)")"
check_eq "the wire carries 8 frames of 123/124/125, all stamped to 20 bytes" "8 8" \
	"$(grep -cE ' vxAw 12[345]##' "$LOGW") $(grep -cE ' vxAw 12[345]##[0-9A-F][0-9A-F]{40}$' "$LOGW")"
check_eq "A's own applications saw the 8 permitted frames (local echo)" 8 \
	"$(grep -cE ' vxA 12[345]##' "$(spsec_app_log A)")"
check_eq "and none of the refused ones" "" \
	"$(grep -E '123##.111111111111111[678]|124##.222222222222222[34]' "$(spsec_app_log A)")"
check_eq "no payload in clear on the wire" 0 "$(grep -cE '1111111111111|2222222222222|3333333333333' "$LOGW")"
check_eq "per-rule counters: rule 1 allowed 5 denied 3, rule 2 allowed 2 denied 2" "5 3 2 2" \
	"$(senders_json | jq -r '[.rules[0].allowed, .rules[0].denied, .rules[1].allowed, .rules[1].denied] | map(tostring) | join(" ")')"
echo "# A: $(spsec_drops A)"

# ---- an unprivileged process cannot move itself into the permitted cgroup -----------------------
check "uid 1001 cannot write /spsec-ok/cgroup.procs (EACCES)" bash -c \
	"! setpriv --reuid 1001 --regid 1001 --clear-groups sh -c 'echo \$\$ >$CG/spsec-ok/cgroup.procs' 2>/dev/null"

# ---- a restarted unit: its cgroup is removed and made again, with a new id -------------------
rmdir "$CG/spsec-ok/child" "$CG/spsec-ok" || not_ok "removing /spsec-ok"
gone() { [ "$(senders_json | jq -r '.rules[0].resolved.cgroups[0].id')" = 0 ]; }
check "spsecd sees /spsec-ok gone (id 0: refused)" wait_until 20 gone
expect_send refused 0 /spsec-other "123##01111111111111119"
mkdir "$CG/spsec-ok" || not_ok "making /spsec-ok again"
new_id=""
back() { new_id=$(senders_json | jq -r '.rules[0].resolved.cgroups[0].id') && [ "$new_id" != 0 ]; }
check "spsecd installs the new cgroup's id" wait_until 20 back
check "the new id differs from the old" [ "$new_id" != "$ok_id" ]
expect_send ok 0 /spsec-ok "123##0111111111111111A"
check "a sentinel from A reaches S" spsec_sentinel A S
check "the frame from the re-made cgroup reached S" log_has "$(spsec_app_log S)" " vxS 123##4111111111111111A"
check "A logged the cgroup's new id" log_has "$VM_OUT/spsecd-A.log" "cgroup /spsec-ok is now id $new_id"
echo "# spsecctl senders on A at the end:"
"$SPSECCTL" senders --socket "$SPSEC_DIR/A.sock" | sed 's/^/#   /'

for n in S A; do spsec_stop_node_ok "$n"; done
rmdir "$CG/spsec-ok" "$CG/spsec-other" 2>/dev/null
rm -rf "$SPSEC_DIR"
vm_finish
