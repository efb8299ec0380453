#!/usr/bin/env bash
# The whole test suite, as the README and .ci/run run it: installs packages, builds everything
# (BPF objects, skeletons, C++ with warnings as errors), checks formatting, runs clang-tidy
# (.clang-tidy, scripts/clang-tidy.sh), and runs the three
# test tiers (unit, bpf, vm), the per-kernel vm tests (kernels: the data-plane tests, the daemon
# bus test and the short demo on each other supported kernel, fetched into the VM cache first;
# docs/kernels.md), the unit tier again under ASan+UBSan, and the fuzz targets for a
# bounded time (clang-tidy, unit-asan and fuzz at nice 19 beside the VM tiers, whose guests use
# one core). Exits non-zero on any failure. A tier that cannot run prints SKIP and the reason;
# under CI=true a skipped tier fails the run, because CI machines can run every tier.
#
# usage: scripts/test.sh [--quick] [--repeat N] [--tier T]...
#   --quick      no sanitizer build, no fuzzing
#   --repeat N   run each test of the tiers up to N times, stopping at its first failure (ctest
#                --repeat until-fail:N): hunts flaky tests, e.g. `--repeat 5 --tier vm`
#   --tier T     run only tier T (unit, unit-asan, bpf, vm, kernels, fuzz, tidy, arm64;
#                repeatable); build and format check always run
#                arm64 runs only when named: it cross-builds for arm64 and packages
#                (scripts/cross-arm64.sh, installing the cross toolchain and the multiarch
#                packages), then runs ctest -L arm64 (the .deb installed in an arm64 VM, the
#                data-plane test, a three-node bus under attack, figures); about 30-40 min
# SPSEC_CI_KERNELS="6.1-rt 6.12 6.12-rt" (the default) names the kernels of the kernels tier; the
# installed 6.1 is the vm tier's. A kernel that cannot be fetched (no network) skips its tests.
# SPSEC_TEST_SEED=N replays the random input of the vm tier and the fuzzers (each prints its seed).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${SPSEC_BUILD_DIR:-$ROOT/build}
ASAN_BUILD=${SPSEC_ASAN_BUILD_DIR:-$ROOT/build-asan}
FUZZ_BUILD=${SPSEC_FUZZ_BUILD_DIR:-$ROOT/build-fuzz}
QUICK=0
REPEAT=1
TIERS=""
usage() { sed -n '/^# usage:/,/^# SPSEC_TEST_SEED/p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while [ $# -gt 0 ]; do
	case $1 in
	--quick) QUICK=1 && shift ;;
	--repeat)
		[[ ${2:-} =~ ^[1-9][0-9]{0,3}$ ]] || { echo "test: --repeat needs a count 1..9999, got '${2:-}'" >&2 && usage; }
		REPEAT=$2 && shift 2
		;;
	--tier)
		case ${2:-} in
		unit | unit-asan | bpf | vm | kernels | fuzz | tidy | arm64) TIERS+=" $2 " && shift 2 ;;
		*) echo "test: --tier needs one of unit, unit-asan, bpf, vm, kernels, fuzz, tidy, arm64, got '${2:-}'" >&2 && usage ;;
		esac
		;;
	*) echo "test: unknown argument '$1'" >&2 && usage ;;
	esac
done
wanted() { [ -z "$TIERS" ] || [[ $TIERS == *" $1 "* ]]; } # wanted <tier>
named() { [[ $TIERS == *" $1 "* ]]; }                      # named <tier>: asked for by --tier
JOBS=$(nproc)

declare -A RESULT
ORDER=()
failed=0
LANE_RESULTS="" # set in the host lane (below): its results go to this file, read back after it
record() { # record <step> <PASS|FAIL|SKIP> [why]
	if [ -n "$LANE_RESULTS" ]; then
		printf '%s\t%s\t%s\n' "$1" "$2" "${3:-}" >>"$LANE_RESULTS"
		return
	fi
	RESULT[$1]="$2${3:+ ($3)}"
	ORDER+=("$1")
	if [ "$2" = FAIL ]; then failed=1; fi
	if [ "$2" = SKIP ] && [ "${CI:-}" = true ]; then failed=1; fi
}
step() { printf '\n==== %s ====\n' "$*"; }
t0=$SECONDS

step "install dependencies"
if ! "$ROOT/scripts/install-deps.sh"; then
	echo "test: installing dependencies failed" >&2
	exit 1
fi

step "build ($BUILD)"
if cmake -S "$ROOT" -B "$BUILD" -G Ninja -DSPSEC_WERROR=ON >/dev/null &&
	cmake --build "$BUILD" -j "$JOBS"; then
	record build PASS
else
	record build FAIL
	echo "test: build failed" >&2
	exit 1
fi

step "clang-format"
if "$ROOT/scripts/check-format.sh"; then record format PASS; else record format FAIL; fi

run_tier() { # run_tier <label> <build dir> <step name> <jobs> [ctest args...]
	local label=$1 dir=$2 name=$3 jobs=$4 log repeat=()
	shift 4
	wanted "$name" || return 0
	[ "$REPEAT" -gt 1 ] && repeat=(--repeat "until-fail:$REPEAT")
	log=$(mktemp)
	step "tier $name${repeat[*]:+ (${repeat[*]})}"
	ctest --test-dir "$dir" -L "^$label\$" --output-on-failure -j "$jobs" "${repeat[@]}" "$@" 2>&1 | tee "$log"
	local rc=${PIPESTATUS[0]}
	if grep -q 'No tests were found' "$log"; then
		record "$name" FAIL "no tests"
	elif [ "$rc" -ne 0 ]; then
		record "$name" FAIL
	elif grep -Eq '\*\*\*Skipped|Skipped$' "$log"; then
		record "$name" SKIP "$(grep -ho 'SKIP [a-z]*: .*' "$log" | sort -u | head -3 | tr '\n' ';')"
	else
		record "$name" PASS
	fi
	rm -f "$log"
}

run_tier unit "$BUILD" unit "$JOBS"

run_tier bpf "$BUILD" bpf 1

# The host lane: clang-tidy, the ASan+UBSan build and its unit tier, and the fuzzers. They need no
# VM, and each VM test's guest keeps one of the two cores busy, so the lane runs at nice 19 beside
# the vm and kernels tiers instead of after them (about 15 minutes less in all). Not beside the
# unit and bpf tiers: those use the host's network devices and bpffs. Its output is shown when
# it is done, after the VM tiers.
host_lane() {
	if wanted tidy; then
		step "clang-tidy"
		"$ROOT/scripts/clang-tidy.sh" "$BUILD"
		case $? in
		0) record tidy PASS ;;
		77) record tidy SKIP "clang-tidy not installed" ;;
		*) record tidy FAIL ;;
		esac
	fi
	if [ "$QUICK" = 0 ] && wanted unit-asan; then
		step "build with ASan+UBSan ($ASAN_BUILD)"
		if cmake -S "$ROOT" -B "$ASAN_BUILD" -G Ninja -DSPSEC_WERROR=ON -DSPSEC_ASAN=ON \
			-DSPSEC_UBSAN=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null &&
			cmake --build "$ASAN_BUILD" -j "$JOBS"; then
			run_tier unit "$ASAN_BUILD" unit-asan "$JOBS"
		else
			record unit-asan FAIL "build"
		fi
	fi
	if [ "$QUICK" = 0 ] && wanted fuzz; then
		step "fuzz (bounded)"
		if "$ROOT/scripts/fuzz.sh" "$FUZZ_BUILD" "${SPSEC_FUZZ_SECONDS:-20}"; then
			record fuzz PASS
		else
			record fuzz FAIL
		fi
	fi
}
lane_results=$(mktemp) lane_log=$(mktemp)
(LANE_RESULTS=$lane_results && renice -n 19 -p "$BASHPID" >/dev/null && host_lane &&
	printf 'lane-done\n' >>"$lane_results") >"$lane_log" 2>&1 &
lane_pid=$!
lane_t0=$SECONDS
echo "test: clang-tidy, unit-asan and fuzz run at nice 19 beside the VM tiers (pid $lane_pid)"

run_tier vm "$BUILD" vm 1

if wanted kernels; then
	# Fetch (or find in the cache) each kernel before the tests, outside their ctest timeouts; a
	# fresh CI machine starts with an empty cache (about 15-25 s per kernel). A kernel that
	# cannot be fetched is left to its tests, which then skip and name the reason.
	KERNELS=${SPSEC_CI_KERNELS-6.1-rt 6.12 6.12-rt}
	step "fetch kernels ($KERNELS) into ${SPSEC_VM_CACHE:-/var/tmp/spsec-vm}"
	kre=""
	for k in $KERNELS; do
		k0=$SECONDS
		if "$ROOT/vm/fetch-kernel.sh" "$k" "${SPSEC_VM_CACHE:-/var/tmp/spsec-vm}" >/dev/null; then
			echo "test: kernel $k ready ($((SECONDS - k0)) s)"
		else
			echo "test: kernel $k not fetched ($((SECONDS - k0)) s); its tests will say why" >&2
		fi
		kre+="${kre:+|}${k//./\\.}"
	done
	# vm_<test>@<kernel> of these kernels, and the offline fetch check.
	run_tier kernels "$BUILD" kernels 1 -R "@($kre)\$|^vm_fetch_kernel_offline\$"
fi

step "the host lane (clang-tidy, unit-asan, fuzz), run beside the VM tiers"
wait "$lane_pid"
lane_rc=$?
cat "$lane_log"
echo "test: the host lane took $((SECONDS - lane_t0)) s (exit status $lane_rc)"
lane_done=0
while IFS=$'\t' read -r name res why; do
	if [ "$name" = lane-done ]; then lane_done=1; else record "$name" "$res" "$why"; fi
done <"$lane_results"
# a lane that stopped before its end (killed, renice failed) is a failure, never a silent pass
[ "$lane_done" = 1 ] || record host-lane FAIL "it stopped before its end, exit status $lane_rc"
rm -f "$lane_results" "$lane_log"
# arm64: not in the default suite (the cross build alone is 13-19 min); only with --tier arm64.
if named arm64; then
	step "cross-build for arm64 and package (scripts/cross-arm64.sh)"
	# build-arm64: the tree the arm64 tests look in (SPSEC_ARM64_BUILD_DIR of tests/vm/arm64.cmake)
	if "$ROOT/scripts/cross-arm64.sh" "$ROOT/build-arm64"; then
		record arm64-build PASS
		run_tier arm64 "$BUILD" arm64 1
	else
		record arm64-build FAIL
	fi
fi


step "summary ($((SECONDS - t0)) s)"
pass=0 fail=0 skip=0
for s in "${ORDER[@]}"; do
	printf '  %-10s %s\n' "$s" "${RESULT[$s]}"
	case "${RESULT[$s]}" in
	PASS*) pass=$((pass + 1)) ;;
	FAIL*) fail=$((fail + 1)) ;;
	SKIP*) skip=$((skip + 1)) ;;
	esac
done
echo "steps: $pass passed, $fail failed, $skip skipped"
exit "$failed"
