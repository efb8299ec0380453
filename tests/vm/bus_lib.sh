# shellcheck shell=bash
# Shared set-up of the three-node vm tests (daemon_bus.sh, daemon_rollover.sh, daemon_restart.sh):
# the Sync (1) and participants A (5) and B (6), each spsecd in its own namespace, joined through
# the wire namespace W by can-gw:
#   nsS:vxS ==vxcan== vxSw \
#   nsA:vxA ==vxcan== vxAw  [ W: can-gw between every pair ]
#   nsB:vxB ==vxcan== vxBw /
# Secured ID 0x123 is transmitted by A. Source it after lib.sh:
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"; . "$(dirname "${BASH_SOURCE[0]}")/bus_lib.sh"
# then call bus_setup (fails the test and finishes on a set-up error) and bus_start.
#
# TCG is slow: the test configuration allows a 2 s PA round trip and a 1 ms tick (data_bitrate
# 100k) with the widest acceptance window (2047 ticks); the defaults stay strict.

SPSECD=$SPSEC_BUILD_DIR/userspace/daemon/spsecd
SPSECCTL=$SPSEC_BUILD_DIR/userspace/ctl/spsecctl
W=$(mktemp -d /tmp/spsecd-bus.XXXXXX)
SPSEC_STATE_DIR=/var/lib/spsec # spsecd's state dir: the Sync's persisted T and csalt
declare -A PIDS

_bus_gw() { # -i: ifindexes are per namespace, so can-gw must be allowed to route to any of them.
	local s d
	for s in S A B; do
		for d in S A B; do
			[ "$s" = "$d" ] && continue
			ip netns exec W cangw -A -s "vx${s}w" -d "vx${d}w" -X -i || return 1
			ip netns exec W cangw -A -s "vx${s}w" -d "vx${d}w" -i || return 1
		done
	done
}

bus_config() { # bus_config <node> <pp> <sync on|off> <monitor list> <transmit list>
	cp "$W/keys" "$W/keys-$1" && chmod 0600 "$W/keys-$1"
	cat >"$W/$1.yaml" <<CFG
interface: vx$1
participant_id: $2
sync: $3
aead: aes-gcm
data_bitrate: 100k
acceptance_window: 2047
heartbeat: {cycle: 2s, monitor: [$4]}
secured_ids: [0x123]
transmit_ids: [$5]
key_store: $W/keys-$1
control_socket: $W/$1.sock
pin_dir: /sys/fs/bpf/spsec/vx$1
timeouts: {pa_retry: 2s, pa_max_rtt: 2s, sync_abort: 20s, warning_abort: 60s}
CFG
}

bus_setup() { # modules, namespaces, can-gw, bpffs, a fresh state dir, keys and the three configs
	require_built "$SPSECD" "$SPSECCTL"
	rm -f "$VM_OUT"/spsecd-[SAB].log # VM_OUT outlives the run: start the logs afresh
	check "CAN modules load" vm_modprobe_can || vm_finish
	ip netns add W || true
	local n
	for n in S A B; do
		check "vxcan ns$n:vx$n <-> W:vx${n}w" make_vxcan_pair "ns$n" "vx$n" W "vx${n}w" ||
			vm_finish
	done
	check "can-gw in W joins vxSw, vxAw and vxBw" _bus_gw || vm_finish
	mkdir -p /sys/fs/bpf && { mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf; }
	mkdir -p "$SPSEC_STATE_DIR"
	rm -f "$SPSEC_STATE_DIR/vxS.t" "$SPSEC_STATE_DIR/vxS.csalt"
	check "spsec-setup new-keys writes a key store" \
		"$SPSEC_SOURCE_DIR/scripts/spsec-setup" new-keys "$W/keys" --id 0x00000042 || vm_finish
	bus_config S 1 on "5, 6" ""
	bus_config A 5 off "1, 6" "0x123"
	bus_config B 6 off "1, 5" ""
}

status_json() { "$SPSECCTL" status --socket "$W/$1.sock" --json 2>/dev/null; }
status_field() { status_json "$1" | jq -r ".$2" 2>/dev/null; } # status_field <node> <key>
state_is() { [ "$(status_field "$1" state)" = "$2" ]; }
start_node() { # start_node <node>
	# nsenter, not `ip netns exec`: that remounts /sys, hiding the bpffs the pins live in.
	nsenter --net="/run/netns/ns$1" "$SPSECD" --config "$W/$1.yaml" --log-level debug \
		>>"$VM_OUT/spsecd-$1.log" 2>&1 &
	PIDS[$1]=$!
}
stop_node() { # stop_node <node>: SIGTERM; the exit status must be 0
	kill -TERM "${PIDS[$1]}"
	wait "${PIDS[$1]}"
	check_eq "$1 exits 0 on SIGTERM" 0 "$?"
}

log_lines() { local n=0 _l; while read -r _l; do n=$((n + 1)); done <"$1"; echo "$n"; }
log_after() { tail -n "+$(($2 + 1))" "$1"; } # log_after <log> <line count>: the lines after it

# quiet_since <node> <log line mark> [pp...]: since the mark the node logged no data-plane event,
# no security event other than heartbeat_missing of those participants (a killed spsecd sends no
# heartbeat: EF00h + pp is the protocol noticing), and changed state only between Secure and
# Warning (which only a security event causes: without pp, no state change). Prints the
# offending lines.
quiet_since() {
	local n=$1 mark=$2 line pp codes=" " bad=0 code
	shift 2
	for pp in "$@"; do codes+=$(printf '0x0000ef%02x ' "$pp"); done
	while read -r line; do
		if [[ $line == *"security event "* ]]; then
			code=${line#*security event }
			code=${code%% *}
			[[ $codes == *" $code "* && $line == *"(heartbeat_missing)"* ]] && continue
		elif [[ $line =~ state\ ([A-Za-z]+)\ -\>\ ([A-Za-z]+)$ ]]; then
			case "${BASH_REMATCH[1]}-${BASH_REMATCH[2]}" in
			Secure-Warning | Warning-Secure) continue ;;
			esac
		elif [[ $line != *"warning: data plane: "* ]]; then
			continue
		fi
		echo "$line"
		bad=1
	done < <(log_after "$VM_OUT/spsecd-$n.log" "$mark")
	return $bad
}

bus_start() { # the Sync, then A and B, each up to Secure (by PA for A and B)
	start_node S
	check "the Sync reaches Secure" wait_until "$VM_WAIT_TIMEOUT" state_is S Secure
	start_node A
	start_node B
	check "participant A reaches Secure by Parameter Authentication" \
		wait_until 60 state_is A Secure
	check "participant B reaches Secure by Parameter Authentication" \
		wait_until 60 state_is B Secure
}

# ---- a continuous secured stream A -> B, counted exactly -----------------------------------
# The application on A (cangen) sends CAN FD frames of ID 123, 8 bytes, with an incrementing
# payload, one per gap; candumps record them on A (its own frames, as the application wrote them)
# and on B (what B's application receives). STREAM_PID is cangen's PID.

stream_start() { # stream_start <gap ms> [count]: in the background; no count: until stream_stop
	# -p: on ENOBUFS wait and retry, never skip a frame.
	ip netns exec nsA cangen vxA -f -I 123 -L 8 -D i -g "$1" ${2:+-n "$2"} -p 100 &
	STREAM_PID=$!
}
stream_running() { _vm_alive "$STREAM_PID"; }
stream_done() { ! stream_running; }
stream_stop() { # stops an endless stream; cangen ends cleanly on SIGTERM
	kill -TERM "$STREAM_PID" 2>/dev/null
	wait "$STREAM_PID" 2>/dev/null
	return 0
}

stream_frames() { # stream_frames <candump log>: payloads of the stream's frames, in order
	local f
	while read -r f; do
		[[ $f == 123##????????????????? ]] && echo "${f#123##?}"
	done < <(frames_in_log "$1")
}
stream_expected() { # stream_expected <count>: the payloads cangen -D i sends: LE64 counter 0..
	local i
	for ((i = 0; i < $1; i++)); do
		printf '%02X%02X%02X%02X00000000\n' $((i & 255)) $((i >> 8 & 255)) $((i >> 16 & 255)) \
			$((i >> 24 & 255))
	done
}
# stream_check <what> <expected payloads> <candump log>: the log holds exactly those, in order
stream_check() {
	local got
	got=$(stream_frames "$3")
	if [ "$got" = "$2" ]; then
		ok "$1"
	else
		not_ok "$1" "$(grep -c . <<<"$got") stream frames, $(grep -c . <<<"$2") expected; first differences:" \
			"$(diff <(echo "$2") <(echo "$got") | head -n 12)"
	fi
}
stream_end() { # stream_end <log on A> <log on B>: a 3-byte end marker of ID 123, in both logs
	# Once it is there, every frame sent before it has been delivered (or dropped).
	ip netns exec nsA cansend vxA 123##1E0D0E0 &&
		wait_for_frame "$2" vxB 123##5E0D0E0 60 && wait_for_frame "$1" vxA 123##5E0D0E0 60
}

# stream_open <log on A> <log on B>: takes each node's log mark (STREAM_MARK) and rx_ok/tx_ok
# counters, then starts the two candumps.
declare -A STREAM_MARK STREAM_RX0 STREAM_TX0
stream_open() {
	local n
	STREAM_LOGA=$1 STREAM_LOGB=$2
	for n in A B S; do
		# shellcheck disable=SC2034 # read by the scripts
		STREAM_MARK[$n]=$(log_lines "$VM_OUT/spsecd-$n.log")
		read -r "STREAM_RX0[$n]" "STREAM_TX0[$n]" < <(dp_count "vx$n" rx_ok tx_ok)
	done
	start_candump -n nsA vxA "$1" || not_ok "candump on A"
	STREAM_DUMPS=("$VM_CANDUMP_PID")
	start_candump -n nsB vxB "$2" || not_ok "candump on B"
	STREAM_DUMPS+=("$VM_CANDUMP_PID")
}
# stream_close <check prefix> [count]: after the stream ended, the end marker, then the exact
# count: A's application sent the frames 0..N-1 (N = count, or what A's log holds), B's
# application received exactly those, plain, in order; rx_ok on B and on the Sync and tx_ok on A
# moved by N + 1 (the marker); every drop counter of every node is 0.
stream_close() {
	local pre=$1 count=$2 want p n
	check "${pre}the end marker reaches B's and A's candump" \
		stream_end "$STREAM_LOGA" "$STREAM_LOGB"
	for p in "${STREAM_DUMPS[@]}"; do stop_candump "$p"; done
	[ -n "$count" ] || count=$(stream_frames "$STREAM_LOGA" | grep -c .)
	echo "# ${pre}the stream: $count frames"
	want=$(stream_expected "$count")
	stream_check "${pre}A's application sent the frames 0..$((count - 1)), no gap" "$want" \
		"$STREAM_LOGA"
	stream_check "${pre}B's application received every one, plain, in order" "$want" \
		"$STREAM_LOGB"
	check_eq "${pre}B's data plane verified each of them (rx_ok +$((count + 1)) with the marker)" \
		$((count + 1)) $(($(dp_count vxB rx_ok) - STREAM_RX0[B]))
	check_eq "${pre}the Sync's data plane verified each of them too" \
		$((count + 1)) $(($(dp_count vxS rx_ok) - STREAM_RX0[S]))
	check_eq "${pre}A's data plane stamped each of them (tx_ok +$((count + 1)))" \
		$((count + 1)) $(($(dp_count vxA tx_ok) - STREAM_TX0[A]))
	for n in A B S; do
		check_eq "${pre}no data-plane drop on $n, for any reason" "" "$(dp_drops "vx$n")"
	done
}

# dp_drops <ifname>: "reason=count ..." of every data-plane drop counter that is not 0 (the
# product's own pass/drop classification from `spsecctl stats --prometheus`); "" when none.
dp_drops() {
	local prom=$W/drops-$1.prom line out=""
	"$SPSECCTL" stats --interface "$1" --prometheus "$prom" || return 1
	while read -r line; do
		[[ $line == *'verdict="drop"'* && $line != *'} 0' ]] || continue
		line=${line#*reason=\"}
		out+=" ${line%%\"*}=${line##* }"
	done <"$prom"
	echo "${out# }"
}
dp_count() { # dp_count <ifname> <reason name>...: counters from `spsecctl stats --json`
	local ifname=$1 names
	shift
	names=$(printf '.%s,' "$@")
	"$SPSECCTL" stats --interface "$ifname" --json |
		jq -r "[.counters | ${names%,}] | map(tostring) | join(\" \")"
}
