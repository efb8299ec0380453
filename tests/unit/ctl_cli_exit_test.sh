#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The installed binaries' command lines end to end (core/cli.h): exit codes and messages of
# spsecd and spsecctl. 2 is a usage error; a command line that parsed fails later with 1 (no
# config file, no daemon, no CAN interface), which proves the parse.
# usage: ctl_cli_exit_test.sh SPSECD SPSECCTL
spsecd=${1:?usage: ctl_cli_exit_test.sh SPSECD SPSECCTL}
spsecctl=${2:?usage: ctl_cli_exit_test.sh SPSECD SPSECCTL}
failures=0
n=0
expect() { # expect <rc> <stderr substring or ""> <command...>
	local want=$1 text=$2
	shift 2
	n=$((n + 1))
	local err rc
	err=$("$@" 2>&1 >/dev/null </dev/null)
	rc=$?
	if [ "$rc" != "$want" ] || [[ "$err" != *"$text"* ]]; then
		echo "not ok $n - $* => exit $rc (want $want), stderr: $err (want: $text)"
		failures=$((failures + 1))
	else
		echo "ok $n - $*"
	fi
}
nocfg=/nonexistent/spsecd.yaml

# spsecd: the vm tests' forms parse (start-up then fails on the missing file: 1).
expect 1 "$nocfg" "$spsecd" --config "$nocfg"
expect 1 "$nocfg" "$spsecd" --config "$nocfg" --log-level debug
expect 1 "$nocfg" "$spsecd" --config="$nocfg" --log-level=info
expect 1 "$nocfg" "$spsecd" -c "$nocfg" -v
expect 0 "" "$spsecd" --help
expect 0 "" "$spsecd" -h
expect 2 "spsecd: --config FILE is required" "$spsecd"
expect 2 "spsecd: --config needs a value" "$spsecd" --config
expect 2 "spsecd: --config needs a value" "$spsecd" --config --verbose
expect 2 "spsecd: unknown option --bogus" "$spsecd" --config "$nocfg" --bogus
expect 2 "spsecd: --config given twice" "$spsecd" --config=a -c b
expect 2 "spsecd: --verbose takes no value" "$spsecd" --config a --verbose=1
expect 2 "spsecd: --log-level: " "$spsecd" --config a --log-level loud
expect 2 "spsecd: give --verbose or --log-level, not both" "$spsecd" --config a -v --log-level debug
expect 2 "spsecd: unexpected argument 'extra'" "$spsecd" --config a extra
expect 2 "(spsecd --help)" "$spsecd" --bogus

# spsecctl: forms that parse and then fail to reach the daemon, the pins or the interface.
expect 1 "spsecctl status:" "$spsecctl" status --socket=/nonexistent.sock --json
expect 1 "spsecctl status:" "$spsecctl" status --socket /nonexistent.sock
expect 1 "spsecctl events:" "$spsecctl" events --socket=/nonexistent.sock
expect 1 "spsecctl senders:" "$spsecctl" senders --socket=/nonexistent.sock --json
expect 2 "spsecctl senders: unknown option --bogus" "$spsecctl" senders --bogus
expect 1 "spsecctl stats:" "$spsecctl" stats --pin-dir=/nonexistent --json
expect 1 "spsecctl stats:" "$spsecctl" stats -i nonexistent0
expect 1 "spsecctl commission:" "$spsecctl" commission --socket /nonexistent.sock --window=10m
expect 1 "spsecctl configure:" "$spsecctl" configure --interface=nonexistent0 --participant=5 \
	--key-selector=zero --response-timeout=50 status
expect 2 "/nonexistent/plan.yaml" "$spsecctl" provision --response-timeout=50 /nonexistent/plan.yaml
expect 2 "spsecctl configure: --interface IF is required" "$spsecctl" configure
expect 2 "spsecctl seal: --aead needs a value" "$spsecctl" seal --aead --key-file k
expect 2 "spsecctl status: unknown option --bogus" "$spsecctl" status --bogus
expect 0 "" "$spsecctl" provision --help
expect 2 "spsecctl: unknown command 'bogus'" "$spsecctl" bogus
expect 2 "" "$spsecctl"
expect 0 "" "$spsecctl" --help

# A key given in argv is gone from /proc/<pid>/cmdline once parsed, in both forms: verify-log
# reads its log from a FIFO, so it stays alive, parsed, until the FIFO is closed.
key=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
key_scrubbed() { ! tr '\0' ' ' <"/proc/$1/cmdline" | grep -q "${key:8:24}"; }
for form in "--key=$key" "--key $key"; do
	n=$((n + 1))
	mkfifo "$work/log"
	# shellcheck disable=SC2086 # $form is one or two words on purpose
	"$spsecctl" verify-log --aead aes-gcm $form --salt 0001020304050607 --t 1 - \
		<"$work/log" >/dev/null 2>&1 &
	pid=$!
	exec 3>"$work/log"
	scrubbed=0
	for _ in $(seq 1000); do # until parsed (bounded; no fixed sleep)
		if key_scrubbed "$pid"; then scrubbed=1 && break; fi
		sleep 0.01
	done
	cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline")
	exec 3>&-
	wait "$pid"
	rm -f "$work/log"
	if [ "$scrubbed" = 1 ] && [[ "$cmdline" == *"xxxxxxxxxxxxxxxx"* ]]; then
		echo "ok $n - verify-log $form: /proc/<pid>/cmdline shows $cmdline"
	else
		echo "not ok $n - verify-log $form: the key is still in /proc/<pid>/cmdline: $cmdline"
		failures=$((failures + 1))
	fi
done

echo "1..$n"
[ "$failures" -eq 0 ]
