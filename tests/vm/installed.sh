#!/usr/bin/env bash
# vm tier: the package as an operator gets it. The .deb of this build (scripts/build-deb.sh; the
# ctest packaging_deb makes build/deb/spsec-linux_<version>_<arch>.deb, a fixture of this test) is
# installed with the host's own dpkg in the VM: the guest's / is the host root under a tmpfs
# overlay, so dpkg, its maintainer scripts and their writes run for real and vanish at power-off.
#   1. dpkg -i: the group, the directories, the unit, nothing enabled; the build tree's spsecd and
#      spsecctl are made unrunnable (/dev/null bound over them), so all below uses the package's;
#   2. the README's demo (vm/demo.sh --short, AES-GCM) with the installed spsecd, spsecctl and
#      spsec-setup: a Sync and two participants, traffic, forged and tampered frames dropped;
#   3. the operator's first run: the installed spsec-setup sets up vcan0, spsecd runs from
#      /etc/spsec/vcan0.yaml as the unit would run it and its Sync persists T; a configuration
#      with four errors is refused with one error per line, plain and with journal priorities;
#   4. dpkg -r keeps the configuration, key store and T byte for byte, reinstalling and upgrading
#      over them changes none of them; dpkg -P deletes exactly the paths it prints, keeps T.
# The VM runs no systemd. Around each dpkg call the test makes it look as if it did
# (/run/systemd/system and a systemctl on PATH that only records its arguments), so the maintainer
# scripts take their systemd branches: each call's systemctl commands are checked, and none may
# enable or start a unit.
# shellcheck source=tests/vm/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ARCH=$(dpkg --print-architecture)
DEBS=("$SPSEC_BUILD_DIR"/deb/spsec-linux_*_"$ARCH".deb)
if [ ! -f "${DEBS[0]}" ] || [ ${#DEBS[@]} -ne 1 ]; then
	not_ok "one $SPSEC_BUILD_DIR/deb/spsec-linux_*_$ARCH.deb" \
		"make it with scripts/build-deb.sh $SPSEC_BUILD_DIR $SPSEC_BUILD_DIR/deb (ctest -R packaging_deb)"
	vm_finish
fi
DEB=${DEBS[0]}
W=$(mktemp -d /tmp/spsec-installed.XXXXXX)
echo "# package: $DEB"

# A node that never had spsec-linux (the overlay hides whatever the host root holds).
if dpkg-query -W -f='${Status}' spsec-linux 2>/dev/null | grep -q 'ok installed'; then
	not_ok "the host root has spsec-linux installed: this VM cannot show a first install"
	vm_finish
fi
getent group spsec >/dev/null && groupdel spsec
rm -rf /etc/spsec /var/lib/spsec
rm -f /etc/systemd/system/*.wants/spsecd@*.service /etc/systemd/system/spsecd@.service
for b in userspace/daemon/spsecd userspace/ctl/spsecctl; do
	mount --bind /dev/null "$SPSEC_BUILD_DIR/$b"
done
check "the build tree's spsecd and spsecctl cannot run any more" bash -c "
	! '$SPSEC_BUILD_DIR/userspace/daemon/spsecd' --help && ! '$SPSEC_BUILD_DIR/userspace/ctl/spsecctl' --help"

# ---- 1. install ------------------------------------------------------------------------------
SYSTEMCTL_LOG=$W/systemctl.log
fake_systemd() { # fake_systemd on|off
	if [ "$1" = on ]; then
		mkdir -p /run/systemd/system
		printf '#!/bin/sh\necho "$*" >>%s\n' "$SYSTEMCTL_LOG" >/usr/local/sbin/systemctl
		chmod 0755 /usr/local/sbin/systemctl
	else
		rm -f /usr/local/sbin/systemctl
		rm -rf /run/systemd
	fi
}
# dpkg_run <what> <systemctl calls> <dpkg args...>: a check that dpkg succeeds (its output in
# $W/dpkg.log) and one that its maintainer scripts ran exactly these systemctl commands ("a;b;")
dpkg_run() {
	local what=$1 calls=$2 rc
	shift 2
	: >"$SYSTEMCTL_LOG"
	fake_systemd on
	dpkg "$@" >"$W/dpkg.log" 2>&1
	rc=$?
	fake_systemd off
	check_eq "$what (dpkg $*)" 0 "$rc" || sed 's/^/#   /' "$W/dpkg.log"
	check_eq "... under systemd its scripts ran: ${calls:-no systemctl}" "$calls" \
		"$(tr '\n' ';' <"$SYSTEMCTL_LOG")"
}
dpkg_run "the package installs" "daemon-reload;" -i "$DEB"
check_eq "dpkg lists it installed" "install ok installed" "$(dpkg-query -W -f='${Status}' spsec-linux)"
check "every file as packaged (dpkg --verify)" dpkg --verify spsec-linux
check "postinst made the group spsec" getent group spsec
check_eq "postinst made /etc/spsec (0755) and /var/lib/spsec (0700), root's" "755 root 700 root" \
	"$(stat -c '%a %U' /etc/spsec /var/lib/spsec | tr '\n' ' ' | sed 's/ $//')"
check "the unit template is in /usr/lib/systemd/system" \
	grep -qx 'ExecStart=/usr/sbin/spsecd --config /etc/spsec/%i.yaml' /usr/lib/systemd/system/spsecd@.service
check_eq "nothing enabled: no spsecd@ unit or link in /etc/systemd/system" "" \
	"$(find /etc/systemd/system -name 'spsecd@*' 2>/dev/null)"
check_eq "no configuration or key store shipped" "" "$(find /etc/spsec /var/lib/spsec -mindepth 1)"
check_eq "the commands on PATH are the package's" "/usr/sbin/spsecd /usr/bin/spsecctl /usr/sbin/spsec-setup" \
	"$(command -v spsecd) $(command -v spsecctl) $(command -v spsec-setup)"

# ---- 2. the demo with the installed binaries ----------------------------------------------------
SPSECD=/usr/sbin/spsecd SPSECCTL=/usr/bin/spsecctl SPSEC_SETUP=/usr/sbin/spsec-setup \
	bash "$SPSEC_SOURCE_DIR/vm/demo.sh" --short --aead aes-gcm \
	--json "$VM_OUT/demo-installed-report.json" >"$VM_OUT/demo-installed.log" 2>&1
rc=$?
echo "# demo: $(grep -E '^vm: [0-9]+ passed' "$VM_OUT/demo-installed.log") (log: demo-installed.log)"
check "the demo ran the package's binaries" grep -q "spsecd /usr/sbin/spsecd, spsecctl /usr/bin/spsecctl, spsec-setup /usr/sbin/spsec-setup" \
	"$VM_OUT/demo-installed.log"
check_eq "the short demo passes with them (Sync + A + B, traffic, forgery, tampering)" 0 "$rc" ||
	grep -E '^not ok|^#' "$VM_OUT/demo-installed.log" | head -20 | sed 's/^/#   /'

# ---- 3. the operator's first run ---------------------------------------------------------------
check "spsec-setup new-keys (installed) writes a key store" spsec-setup new-keys "$W/net.keys" --id 0x00000007
cat >"$W/vcan0.yaml" <<EOF
interface: vcan0
participant_id: 1
sync: on
aead: aes-gcm
data_bitrate: 1000000
key_store: /var/lib/spsec/vcan0/keys
EOF
spsec-setup --interface vcan0 --vcan --config "$W/vcan0.yaml" --keys "$W/net.keys" >"$W/setup.log" 2>&1
check_eq "the installed spsec-setup sets up vcan0, config and keys" 0 "$?" || sed 's/^/#   /' "$W/setup.log"
check "... and says how to start the installed spsecd (no systemd here)" \
	grep -qF "start by hand: /usr/sbin/spsecd --config /etc/spsec/vcan0.yaml" "$W/setup.log"
check_eq "config and key store root's, 0600" "600 600" \
	"$(stat -c %a /etc/spsec/vcan0.yaml /var/lib/spsec/vcan0/keys | tr '\n' ' ' | sed 's/ $//')"
# As the unit runs it (its RuntimeDirectory= would make /run/spsec).
mkdir -p /run/spsec
spsecd --config /etc/spsec/vcan0.yaml >"$VM_OUT/spsecd-vcan0.log" 2>&1 &
PID=$!
vcan0_secure() { [ "$(spsecctl status --interface vcan0 --json 2>/dev/null | jq -r .state)" = Secure ]; }
check "spsecd runs from /etc/spsec/vcan0.yaml, the Sync reaches Secure" wait_until 30 vcan0_secure
kill -TERM "$PID"
wait "$PID"
check_eq "it exits 0 on SIGTERM" 0 "$?"
check "the Sync persisted T in /var/lib/spsec/vcan0.t" test -s /var/lib/spsec/vcan0.t

printf 'interface: vcan0\nparticipant_id: 500\n' >"$W/bad.yaml"
spsecd --config "$W/bad.yaml" 2>"$W/bad.log"
check_eq "a configuration with errors: exit status 1" 1 "$?"
errors() { # errors <log> <prefix>: lines, error lines, lines not starting with a prefix, '?'s
	echo "$(grep -c . "$1") $(grep -c "^$2" "$1") $(grep -vc '^\(<[0-9]>\)\{0,1\}spsecd: ' "$1") $(grep -c '?' "$1")"
}
echo "# the refused configuration, as the operator sees it:" && sed 's/^/#   /' "$W/bad.log"
# 5 lines: the 4 errors, then "spsecd stopped"
check_eq "one error per line (5 lines, 4 'spsecd: error: ', every one prefixed, no '?')" "5 4 0 0" \
	"$(errors "$W/bad.log" 'spsecd: error: ')"
check "the missing aead is a line of its own" grep -qx \
	"spsecd: error: $W/bad.yaml: aead: is required (aes-gcm | chacha20-poly1305 | ascon, one per network)" "$W/bad.log"
# Under systemd stderr is the journal stream $JOURNAL_STREAM names (device:inode).
: >"$W/bad-journal.log"
JOURNAL_STREAM=$(stat -c '%d:%i' "$W/bad-journal.log") spsecd --config "$W/bad.yaml" 2>>"$W/bad-journal.log"
check_eq "to the journal: one record per error, each with priority <3> (and <6> stopped)" "5 4 0 0" \
	"$(errors "$W/bad-journal.log" '<3>spsecd: ')"

# ---- 4. remove, reinstall, upgrade, purge -------------------------------------------------------
KEEP=(/etc/spsec/vcan0.yaml /var/lib/spsec/vcan0/keys /var/lib/spsec/vcan0/provisioning.keys
	/var/lib/spsec/vcan0.t)
SUMS=$(sha256sum "${KEEP[@]}")
dpkg_run "the package removes" "stop spsecd@*.service;daemon-reload;" -r spsec-linux
check "its files are gone" bash -c '! ls /usr/sbin/spsecd /usr/bin/spsecctl /usr/sbin/spsec-setup /usr/lib/systemd/system/spsecd@.service 2>/dev/null'
check_eq "remove keeps the configuration, key store, Provisioning Key copy and T byte for byte" \
	"$SUMS" "$(sha256sum "${KEEP[@]}" 2>&1)"
check "remove keeps the group spsec" getent group spsec
# A removed package stays known to dpkg (state config-files), so postinst gets "configure
# <its version>" here too and try-restarts: that starts nothing, the instances were stopped.
dpkg_run "reinstalled over them" "daemon-reload;try-restart spsecd@*.service;" -i "$DEB"
dpkg_run "and again (an upgrade: prerm upgrade, postinst configure <old version>)" \
	"daemon-reload;try-restart spsecd@*.service;" -i "$DEB"
check_eq "neither changed the configuration, key store or T" "$SUMS" "$(sha256sum "${KEEP[@]}" 2>&1)"

# What systemctl enable spsecd@vcan0 would have left, and state purge must keep.
mkdir -p /etc/systemd/system/multi-user.target.wants
ln -sf /usr/lib/systemd/system/spsecd@.service /etc/systemd/system/multi-user.target.wants/spsecd@vcan0.service
listing() { find /etc/spsec /var/lib/spsec /etc/systemd/system 2>/dev/null | sort; }
listing >"$W/before"
: >"$SYSTEMCTL_LOG"
fake_systemd on
dpkg -P spsec-linux >"$W/purge.log" 2>&1
rc=$?
fake_systemd off
check_eq "the package purges" 0 "$rc"
check_eq "... under systemd its scripts ran: stop, daemon-reload (remove), daemon-reload (purge)" "stop spsecd@*.service;daemon-reload;daemon-reload;" \
	"$(tr '\n' ';' <"$SYSTEMCTL_LOG")"
echo "# purge says:" && sed 's/^/#   /' "$W/purge.log"
listing >"$W/after"
# Every path gone must be one purge named, or inside one.
sed -n 's/^spsec-linux purge: deleting //p' "$W/purge.log" | sort >"$W/said"
gone=$(comm -23 "$W/before" "$W/after")
unsaid=$(while read -r p; do
	while read -r s; do [[ $p == "$s" || $p == "$s"/* ]] && continue 2; done <"$W/said"
	echo "$p"
done <<<"$gone")
check_eq "purge deleted nothing it did not name" "" "$unsaid"
check_eq "purge deleted everything it named" "" "$(comm -12 "$W/said" "$W/after")"
check_eq "purge deleted /etc/spsec, the key store dir and the enablement link" \
	"/etc/spsec /etc/systemd/system/multi-user.target.wants/spsecd@vcan0.service /var/lib/spsec/vcan0" \
	"$(tr '\n' ' ' <"$W/said" | sed 's/ $//')"
check "purge kept the persisted T (vcan0.t, and the demo Sync's vxS.t and vxS.csalt)" \
	test -s /var/lib/spsec/vcan0.t -a -s /var/lib/spsec/vxS.t -a -s /var/lib/spsec/vxS.csalt
check "... and said so" grep -q "keeping /var/lib/spsec/vcan0.t" "$W/purge.log"
check_eq "dpkg knows no spsec-linux any more" "" \
	"$(dpkg-query -W -f='${Status}' spsec-linux 2>/dev/null | grep 'installed')"

rm -rf "$W"
vm_finish
