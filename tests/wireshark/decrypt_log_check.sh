#!/usr/bin/env bash
# spsecctl decrypt-log end to end: frames sealed with spsecctl seal (one tampered, one replayed,
# a control-plane frame between them) are decrypted into a pcapng whose packet comments carry the
# verdicts, and tshark with the dissector shows plain payloads, T and verdicts.
# usage: decrypt_log_check.sh SPSECCTL DATA_DIR WORK_DIR LUA_SCRIPT   (called by dissector_test.sh)
set -uo pipefail

spsecctl=$1 data=$2 work=$3 lua=$4
fails=0
ok() { echo "ok - decrypt-log: $*"; }
not_ok() {
	echo "not ok - decrypt-log: $*"
	fails=$((fails + 1))
}

d=$work/decrypt
mkdir -p "$d"
umask 077
# The generator's network: Seed Key 00..1f, csalt 01020304, Seed Key salt a0..a7, AES-GCM.
printf '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n' >"$d/seed.hex"
"$spsecctl" derive --seed-file "$d/seed.hex" --csalt 01020304 --t 0x1001234 >"$d/key.hex" ||
	not_ok "spsecctl derive failed"
seal() { # seal T FRAME
	"$spsecctl" seal --aead aes-gcm --key-file "$d/key.hex" --salt a0a1a2a3a4a5a6a7 --t "$1" "$2"
}
f1=$(seal 0x1001234 181##1DEADBEEF)
f2=$(seal 0x1001240 201##11122334455)
# Frame 3: f2 with its first ciphertext byte flipped (0x00 <-> 0x01).
id=${f2%%##*} rest=${f2#*##}
byte=${rest:1:2}
flipped=$(printf '%02X' $((16#$byte ^ 1)))
f3="$id##${rest:0:1}$flipped${rest:3}"
# 1 Mbit/s: 100 us per tick. Log times put each frame's T inside the acceptance window.
cat >"$d/bus.log" <<EOF
(1700000000.000000) can0 $f1
(1700000000.001200) can0 $f2
(1700000000.001300) can0 $f3
(1700000000.001400) can0 0AFF0805##0404142434445464748494A4B4C4D4E4F
(1700000000.001500) can0 $f1
EOF

"$spsecctl" decrypt-log --aead aes-gcm --seed-file "$d/seed.hex" --csalt 01020304 \
	--salt a0a1a2a3a4a5a6a7 --t 0x1001234 --out "$d/bus.pcapng" "$d/bus.log" >"$d/stdout" 2>&1
rc=$?
if [ "$rc" -eq 1 ] && [ -f "$d/bus.pcapng" ]; then
	ok "exit 1 (two frames rejected), capture written"
else
	not_ok "exit $rc, want 1 with a capture; output: $(cat "$d/stdout")"
fi
mode=$(stat -c %a "$d/bus.pcapng" 2>/dev/null)
if [ "$mode" = 600 ]; then
	ok "the decrypted capture is owner-only (0600)"
else
	not_ok "the decrypted capture has mode $mode, want 600"
fi
if grep -q "total: 5 frames, 2 ok, 2 rejected, 1 skipped" "$d/stdout"; then
	ok "summary line"
else
	not_ok "summary: $(tail -1 "$d/stdout")"
fi

got=$(tshark -n -X "lua_script:$lua" -r "$d/bus.pcapng" -T fields -e frame.number -e spsec.msg \
	-e spsec.plain -e spsec.full_t -e spsec.verdict 2>/dev/null)
# The plain payloads are the sealed ones; T is the sealing T; the verdicts name the receiver check.
want=$(printf '%s\n' \
	"1	data	deadbeef	0x0000000001001234	ok T=0x1001234 L=4 secured=$f1" \
	"2	data	1122334455	0x0000000001001240	ok T=0x1001240 L=5 secured=$f2" \
	"3	data		0x0000000001001240	REJECTED rx_bad_tag (AEAD tag mismatch) T=0x1001240" \
	"4	pa_request			" \
	"5	data		0x0000000001001234	REJECTED rx_replay (T not greater than the ID's last accepted T) T=0x1001234")
if [ "$got" = "$want" ]; then
	ok "tshark shows plain payloads, T and verdicts"
else
	not_ok "tshark fields differ"
	diff <(echo "$want") <(echo "$got")
fi

# An existing output file is never overwritten.
"$spsecctl" decrypt-log --aead aes-gcm --seed-file "$d/seed.hex" --csalt 01020304 \
	--salt a0a1a2a3a4a5a6a7 --t 0x1001234 --out "$d/bus.pcapng" "$d/bus.log" >"$d/again" 2>&1
rc=$?
if [ "$rc" -eq 2 ] && grep -q "exists" "$d/again"; then
	ok "refuses to overwrite an existing --out file"
else
	not_ok "second run: exit $rc, $(cat "$d/again")"
fi
exit $((fails > 0))
