#!/usr/bin/env bash
# Builds the libFuzzer targets with clang++ and runs each for a bounded time.
# usage: scripts/fuzz.sh <build dir> <seconds per target>
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${1:-$ROOT/build-fuzz}
SECS=${2:-20}
cmake -S "$ROOT" -B "$DIR" -G Ninja -DSPSEC_FUZZ=ON -DCMAKE_C_COMPILER=clang \
	-DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || exit 1
cmake --build "$DIR" --target fuzz_all -j "$(nproc)" || exit 1
# libFuzzer's inputs come from -seed: SPSEC_TEST_SEED when set (the same seed as the vm tier's
# random input), else a fresh one; it is printed, and a crashing input is kept in $DIR/artifacts.
SEED=${SPSEC_TEST_SEED:-$((SRANDOM % 1000000000 + 1))}
[[ $SEED =~ ^[0-9]{1,9}$ ]] || { echo "fuzz: SPSEC_TEST_SEED must be a decimal number, got '$SEED'" >&2; exit 1; }
echo "fuzz: seed $SEED (SPSEC_TEST_SEED=$SEED reproduces it)"
mkdir -p "$DIR/artifacts"
rc=0
targets=$(cat "$DIR/tests/fuzz/targets.txt" 2>/dev/null)
if [ -z "$targets" ]; then
	echo "fuzz: no fuzz targets built" >&2
	exit 1
fi
for t in $targets; do
	corpus=$(mktemp -d)
	seeds="$ROOT/tests/fuzz/corpus/$(basename "$t")"
	echo "fuzz: $(basename "$t") for ${SECS}s"
	if ! "$t" -seed="$SEED" -artifact_prefix="$DIR/artifacts/" -max_total_time="$SECS" \
		-print_final_stats=1 "$corpus" ${seeds:+$( [ -d "$seeds" ] && echo "$seeds")} \
		>"$corpus.log" 2>&1; then
		tail -40 "$corpus.log"
		echo "fuzz: $(basename "$t") FAILED (seed $SEED; the failing input is in $DIR/artifacts)"
		rc=1
	else
		grep -E 'stat::number_of_executed_units' "$corpus.log" | sed "s/^/fuzz: $(basename "$t") /"
	fi
	rm -rf "$corpus" "$corpus.log"
done
exit $rc
