#!/usr/bin/env bash
# The Wireshark dissector (wireshark/spsec.lua) under tshark, on the host, no root needed:
#   1. the checked-in capture is what the project's codec makes (spsec_capture_gen)
#   2. every message type and every stamp decodes to the values of expected-fields.txt, which
#      were written by hand from the spec; secured IDs from the preference and, the same, from
#      the shipped config/spsecd.yaml (block list) and a flow-list file; the same frames as a
#      pcap of link type SocketCAN (what tshark -i can0 writes) give the same table
#   3. auth-only mode shows the clear-text payloads and the Sync broadcast's T
#   4. malformed frames raise the expert infos named in the table below
#   5. hostile or malformed config files never break the dissector: expert info, no ID applied
#   6. spsec-setup wireshark-plugin installs it where tshark loads it
#   7. decrypt-log annotations (packet comments) are shown as verdicts
# usage: dissector_test.sh CAPTURE_GEN_BINARY [SPSECCTL_BINARY]
# Exit 77 (skipped) when tshark is not installed (scripts/install-deps.sh installs it).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
data=$src/tests/data/wireshark
lua=$src/wireshark/spsec.lua
gen=${1:?usage: dissector_test.sh CAPTURE_GEN_BINARY [SPSECCTL_BINARY]}
spsecctl=${2:-}

if ! command -v tshark >/dev/null 2>&1; then
	echo "SKIP wireshark: tshark is not installed (scripts/install-deps.sh installs it)"
	exit 77
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# tshark must not pick up the invoking user's Wireshark profile or installed plugins.
export WIRESHARK_CONFIG_DIR=$work/profile
mkdir -p "$WIRESHARK_CONFIG_DIR"
export HOME=$work

failures=0
ok() { echo "ok - $*"; }
not_ok() {
	echo "not ok - $*"
	failures=$((failures + 1))
}

# ts ARGS...: tshark with the dissector loaded; stderr kept apart so warnings are checked.
ts() {
	tshark -n -X "lua_script:$lua" "$@" 2>"$work/stderr"
}

# The columns of expected-fields.txt.
FIELDS=(frame.number spsec.msg spsec.priority spsec.context spsec.msg_type spsec.dest
	spsec.participant spsec.session.cnt8 spsec.status.state spsec.status.alert spsec.s
	spsec.payload_len spsec.pad spsec.t spsec.tim spsec.selector spsec.reg spsec.event)

# table CAPTURE OPTIONS...: the decoded fields, one line per frame, "-" for an absent field.
table() {
	local cap=$1
	shift
	local args=()
	for fld in "${FIELDS[@]}"; do
		args+=(-e "$fld")
	done
	ts -r "$cap" "$@" -T fields -E occurrence=f "${args[@]}" |
		awk -F'\t' '{ for (i = 1; i <= NF; i++) if ($i == "") $i = "-"; $1 = $1; print }' OFS=' '
}

expected_table() {
	grep -v '^#' "$data/expected-fields.txt" | awk '{ $1 = $1; print }'
}

no_lua_error() {
	local what=$1 out=$2
	if grep -qi 'lua error' "$out" "$work/stderr"; then
		not_ok "$what: Lua error"
		grep -i 'lua error' "$out" "$work/stderr" | head -3
		return 1
	fi
	return 0
}

# 1. The capture is the codec's output.
if "$gen" >"$work/gen.log" && cmp -s "$work/gen.log" "$data/spsec-all.log"; then
	ok "spsec-all.log is what spsec_capture_gen writes"
else
	not_ok "spsec-all.log differs from spsec_capture_gen's output (regenerate it:" \
		"spsec_capture_gen > tests/data/wireshark/spsec-all.log)"
	diff "$data/spsec-all.log" "$work/gen.log" | head -10
fi

# 2. Every field of every frame, with the IDs from the preference and from config files.
expected_table >"$work/expected"
check_table() {
	local what=$1
	shift
	table "${CAPTURE:-$data/spsec-all.log}" "$@" >"$work/got"
	if diff -u "$work/expected" "$work/got" >"$work/diff" && no_lua_error "$what" "$work/got"; then
		ok "$what: all 30 frames decode as the spec says"
	else
		not_ok "$what: decoded fields differ from expected-fields.txt (- expected, + got)"
		head -40 "$work/diff"
	fi
}
check_table "secured IDs from the preference" -o 'spsec.secured_ids:0x181, 0x201 0x00012345'
check_table "secured IDs from config/spsecd.yaml (block list)" \
	-o "spsec.config_file:$src/config/spsecd.yaml"
cat >"$work/flow.yaml" <<'EOF'
interface: can0
secured_ids: [0x181,   # a comment inside the list
              0x201, 0x00012345]
plaintext_ids: [0x700]
EOF
check_table "secured IDs from a flow list across lines" -o "spsec.config_file:$work/flow.yaml"
# The same frames in the encapsulation of a live capture (tshark -i can0): LINKTYPE_CAN_SOCKETCAN.
if "$gen" --pcap >"$work/all.pcap"; then
	CAPTURE=$work/all.pcap check_table "SocketCAN pcap (live-capture link type)" \
		-o 'spsec.secured_ids:0x181, 0x201 0x00012345'
else
	not_ok "spsec_capture_gen --pcap failed"
fi

# Without any secured ID the data frames are left to Wireshark (no SPsec tree).
ts -r "$data/spsec-all.log" -Y 'frame.number >= 22 && frame.number <= 29 && spsec' \
	-T fields -e frame.number >"$work/got"
if [ ! -s "$work/got" ]; then
	ok "no secured IDs configured: data frames are not claimed"
else
	not_ok "no secured IDs configured, yet frames $(tr '\n' ' ' <"$work/got") were decoded as SPsec"
fi

# 3. auth-only: payloads are clear text, the auth-only Sync broadcast's T (0x1003000) shows.
sed 's/^mode: encrypt/mode: auth-only/' "$src/config/spsecd.yaml" >"$work/authonly.yaml"
got=$(ts -r "$data/spsec-all.log" -o "spsec.config_file:$work/authonly.yaml" \
	-Y 'frame.number == 27 || frame.number == 30' -T fields -e spsec.sync.t \
	-e spsec.sync.correction -e spsec.payload | tr '\t\n' '| ')
want="||c0c1c2c3c4c5c6c7c8c9cacbcccdce 0x0000000001003000|0|00300001000000000000 "
if [ "$got" = "$want" ]; then
	ok "auth-only (from the config file's mode): Sync T and clear payload shown"
else
	not_ok "auth-only: got \"$got\", want \"$want\""
fi

# 4. Malformed frames: which frames raise which expert info.
#    malformed.log: 1 PA response of 4 bytes, 2 PA request with priority 3, 3 heartbeat with
#    reserved bit 24, 4 message type 7, 5 secured ID on a classical 8-byte frame, 6 pad count
#    3 > S - 10, 7 heartbeat with a 6-byte payload, 8 empty ClientHello, 9 Sync broadcast with
#    participant 5, 10 secured ID with 0 bytes, 11 and 12 remote frames (RTR) on a secured and a
#    control-plane ID, 13 PA response with T = 0.
declare -A EXPERTS=(
	[spsec.malformed]="1 7 8 11 12 13"
	[spsec.bad_id]="2 3 4 9"
	[spsec.bad_stamp]="5 6 10"
	[spsec.not_fd]="5"
)
for e in "${!EXPERTS[@]}"; do
	got=$(ts -r "$data/malformed.log" -o 'spsec.secured_ids:0x181' -Y "$e" -T fields \
		-e frame.number | tr '\n' ' ' | sed 's/ $//')
	if [ "$got" = "${EXPERTS[$e]}" ]; then
		ok "malformed.log: $e on frames ${EXPERTS[$e]}"
	else
		not_ok "malformed.log: $e on frames \"$got\", want \"${EXPERTS[$e]}\""
	fi
done
ts -r "$data/malformed.log" -o 'spsec.secured_ids:0x181' -V >"$work/verbose"
no_lua_error "malformed.log" "$work/verbose" && ok "malformed.log: no Lua error"

# 5. Hostile config files: tshark still works, frame 1 (a control-plane frame) carries an
#    expert info that names the problem, and no ID of the bad file is applied (frame 22 stays
#    undecoded, nothing half-applied).
mkdir -p "$work/hostile" "$work/hostile/a-directory.yaml"
h=$work/hostile
printf 'secured_ids: [0x181, 0x201\nplaintext_ids: [0x700]\n' >"$h/unterminated.yaml"
printf 'secured_ids:\n  - 0x181\n  - 0xZZZ\n' >"$h/bad-id.yaml"
printf 'secured_ids: 0x181\n' >"$h/scalar.yaml"
printf 'secured_ids: [0x181]\n\000\001\002' >"$h/binary.yaml"
printf 'secured_ids: [0x181, 0x02012345]\n' >"$h/control-plane-id.yaml"
printf 'secured_ids: [0x181]\nsecured_ids: [0x201]\n' >"$h/twice.yaml"
printf 'secured_ids: [0x181]\nmode: sometimes\n' >"$h/bad-mode.yaml"
printf 'secured_ids: [0x181, 0x800]\n' >"$h/too-big.yaml"
{
	printf 'secured_ids: [0x181]\n# '
	head -c 1100000 /dev/zero | tr '\0' 'x'
	printf '\n'
} >"$h/huge.yaml"
{
	printf 'secured_ids: ['
	for _ in $(seq 1 20000); do printf '0x181, '; done
	printf '0x181]\n'
} >"$h/long-line.yaml"
declare -A HOSTILE=(
	[unterminated.yaml]="unterminated [ list"
	[bad-id.yaml]='"0xZZZ" is not a CAN ID'
	[scalar.yaml]="expected a list"
	[binary.yaml]="binary data"
	[control-plane-id.yaml]="bit 25 set"
	[twice.yaml]="secured_ids given twice"
	[bad-mode.yaml]="is not encrypt or auth-only"
	[too-big.yaml]="above 0x7FF"
	[huge.yaml]="larger than 1 MiB"
	[a-directory.yaml]="a directory?"
	[missing.yaml]="cannot open"
	[long-line.yaml]="more than 4096 secured IDs"
)
for name in "${!HOSTILE[@]}"; do
	path=$h/$name
	out=$work/hostile.out
	if ! ts -r "$data/spsec-all.log" -o "spsec.config_file:$path" -V >"$out"; then
		not_ok "config $name: tshark failed"
		continue
	fi
	no_lua_error "config $name" "$out" || continue
	# One verbose run: frame 1's text holds the expert info, frame 22's must have no SPsec tree.
	msgs=$(awk '/^Frame 1:/,/^Frame 2:/' "$out")
	claimed=$(awk '/^Frame 22:/,/^Frame 23:/' "$out" | grep -F 'SPsec on CAN FD')
	if ! grep -qF -- "${HOSTILE[$name]}" <<<"$msgs"; then
		not_ok "config $name: no expert info saying \"${HOSTILE[$name]}\" on frame 1"
	elif [ -n "$claimed" ]; then
		not_ok "config $name: an ID of a rejected file was applied (frame 22 decoded)"
	else
		ok "config $name: expert info \"${HOSTILE[$name]}\", no ID applied"
	fi
done

# 6. spsec-setup wireshark-plugin --user puts it where Wireshark finds it (HOME is $work).
if "$src/scripts/spsec-setup" wireshark-plugin --user >"$work/setup.out" 2>&1 &&
	[ -f "$work/.local/lib/wireshark/plugins/spsec.lua" ]; then
	got=$(tshark -n -r "$data/spsec-all.log" -o 'spsec.secured_ids:0x181' \
		-Y 'frame.number == 22' -T fields -e spsec.msg -e spsec.t 2>/dev/null)
	if [ "$got" = "$(printf 'data\t0x0234')" ]; then
		ok "spsec-setup wireshark-plugin --user: tshark loads the installed plugin"
	else
		not_ok "installed plugin not loaded by tshark: got \"$got\""
	fi
else
	not_ok "spsec-setup wireshark-plugin --user failed: $(cat "$work/setup.out")"
fi

# 7. decrypt-log output: packet comments "spsec: ..." become verdict fields.
if [ -n "$spsecctl" ]; then
	"$here/decrypt_log_check.sh" "$spsecctl" "$data" "$work" "$lua" || failures=$((failures + 1))
fi

if [ "$failures" -gt 0 ]; then
	echo "FAIL: $failures check(s) failed"
	exit 1
fi
echo "PASS"
