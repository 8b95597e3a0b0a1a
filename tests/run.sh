#!/usr/bin/env bash
# tests/run.sh: the runner behind `make check`.
#
#   tests/run.sh --suite NAME --probe BIN --unit "BINS" --replay "BINS" \
#                --integration "SCRIPTS" [--suite NAME ...]
#
# Each --suite starts a group that runs its unit binaries (cmocka), replays
# each fuzz target over tests/fuzz/corpus/<target>/, and runs the
# integration scripts with PROBE=BIN.  Integration scripts print TAP-style
# "ok - ..." / "not ok - ..." lines (tests/integration/lib.sh).  The last
# line is the summary of everything: "check: N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/.." || exit 3

passed=0 failed=0 skipped=0
failures=()
log_dir=$(mktemp -d /tmp/probe-check.XXXXXX)
trap 'rm -rf "$log_dir"' EXIT

fail() { failed=$((failed + 1)); failures+=("$1"); }

run_unit() { # suite bin
	local suite=$1 bin=$2 out="$log_dir/unit.out" rc
	timeout 600 "$bin" >"$out" 2>&1; rc=$?
	local p f
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$out" | awk '{s+=$1} END {print s+0}')
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$out" | awk '{s+=$1} END {print s+0}')
	passed=$((passed + p))
	if [ "$f" -gt 0 ] || [ $rc -ne 0 ]; then
		[ "$f" -gt 0 ] || f=1
		failed=$((failed + f))
		failures+=("$suite unit $(basename "$bin") (exit $rc)")
		cat "$out"
	fi
	printf '%-6s unit     %-28s %3d passed, %d failed\n' "$suite" "$(basename "$bin")" "$p" "$f"
}

run_replay() { # suite bin
	local suite=$1 bin=$2 t corpus n rc
	t=$(basename "$bin"); corpus="tests/fuzz/corpus/${t#fuzz_}"
	n=$(find "$corpus" -type f 2>/dev/null | wc -l)
	if [ "$n" -eq 0 ]; then
		fail "$suite replay $t: empty corpus $corpus"
		echo "$suite replay $t: no corpus in $corpus"; return
	fi
	find "$corpus" -type f -print0 | timeout 600 xargs -0 "$bin" >"$log_dir/replay.out" 2>&1; rc=$?
	if [ $rc -eq 0 ]; then passed=$((passed + 1)); else
		fail "$suite replay $t"; tail -30 "$log_dir/replay.out"; fi
	printf '%-6s replay   %-28s %d inputs, exit %d\n' "$suite" "$t" "$n" "$rc"
}

run_integration() { # suite probe script
	local suite=$1 probe=$2 s=$3 out="$log_dir/it.out" rc p f k
	PROBE=$probe SUITE=$suite timeout 900 bash "$s" >"$out" 2>&1; rc=$?
	p=$(grep '^ok ' "$out" | grep -vc '# SKIP')
	k=$(grep -c '^ok .*# SKIP' "$out")
	f=$(grep -c '^not ok ' "$out")
	passed=$((passed + p)); skipped=$((skipped + k))
	if [ "$f" -gt 0 ] || [ $rc -ne 0 ] || [ $((p + k)) -eq 0 ]; then
		[ "$f" -gt 0 ] || f=1
		failed=$((failed + f))
		failures+=("$suite integration $(basename "$s") (exit $rc)")
		cat "$out"
	fi
	printf '%-6s integ    %-28s %3d passed, %d failed, %d skipped\n' "$suite" "$(basename "$s")" "$p" "$f" "$k"
}

suite="" probe=./probe
while [ $# -gt 0 ]; do
	case $1 in
	--suite) suite=$2 ;;
	--probe) probe=$2 ;;
	--unit) for b in $2; do run_unit "$suite" "$b"; done ;;
	--replay) for b in $2; do run_replay "$suite" "$b"; done ;;
	--integration) for s in $2; do run_integration "$suite" "$probe" "$s"; done ;;
	*) echo "run.sh: unknown argument $1" >&2; exit 3 ;;
	esac
	shift 2
done

if [ ${#failures[@]} -gt 0 ]; then
	echo; echo "Failed:"; printf '  %s\n' "${failures[@]}"
fi
echo "check: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
