# tests/integration/lib.sh: helpers shared by the integration scripts.
#
# A script sources this file, calls the helpers, and ends with `finish`.
# It prints TAP-style lines that tests/run.sh counts:
#   ok - what       a check that passed
#   not ok - what   a check that failed (details follow, indented)
#   ok - what # SKIP why
# $PROBE is the binary under test (./probe, or the sanitizer build).
# Every script gets its own scratch directory $T, removed on exit.

set -u
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 3
PROBE=${PROBE:-./probe}
case $PROBE in /*) ;; *) PROBE=$PWD/${PROBE#./} ;; esac
T=$(mktemp -d /tmp/probe-it.XXXXXX)
trap 'rm -rf "$T"' EXIT
_fails=0
# Sanitizer builds: fail on any report, keep going otherwise.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:exitcode=99}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:exitcode=99}

ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $1"; shift; [ $# -eq 0 ] || printf '    %s\n' "$@"; _fails=$((_fails + 1)); }
skip() { echo "ok - $1 # SKIP $2"; }

# run_probe ARGS...: runs $PROBE; sets $rc, $out (stdout), $err (stderr).
run_probe() {
	"$PROBE" "$@" >"$T/out" 2>"$T/err"
	rc=$?
	out=$(cat "$T/out")
	err=$(cat "$T/err")
}

# run_probe_nopriv ARGS...: run_probe without capture rights: as root,
# as nobody with no capabilities (setpriv); otherwise as we are (an
# unprivileged user has none).  Files it should write go in $T/nopriv
# (world-writable).
run_probe_nopriv() {
	mkdir -p "$T/nopriv" && chmod 1777 "$T/nopriv" && chmod 711 "$T"
	if [ "$(id -u)" -eq 0 ]; then
		setpriv --reuid=nobody --regid=nogroup --clear-groups \
			--inh-caps=-all --bounding-set=-all -- \
			"$PROBE" "$@" >"$T/out" 2>"$T/err"
	else
		"$PROBE" "$@" >"$T/out" 2>"$T/err"
	fi
	rc=$?
	out=$(cat "$T/out")
	err=$(cat "$T/err")
}

# expect_rc WANT WHAT: checks the last run_probe's exit code.
expect_rc() {
	if [ "$rc" -eq "$1" ]; then ok "$2"; else
		not_ok "$2" "exit $rc, want $1" "stdout: ${out:0:500}" "stderr: ${err:0:500}"; fi
}

# expect_eq GOT WANT WHAT
expect_eq() {
	if [ "$1" == "$2" ]; then ok "$3"; else
		not_ok "$3" "got:  $1" "want: $2"; fi
}

# expect_match TEXT REGEX WHAT (grep -E)
expect_match() {
	if grep -Eq -- "$2" <<<"$1"; then ok "$3"; else
		not_ok "$3" "no match for /$2/ in:" "${1:0:800}"; fi
}

# sql DB QUERY: one query through the sqlite3 shell.
sql() { sqlite3 -batch -noheader "$1" "$2"; }

finish() { [ "$_fails" -eq 0 ]; exit $?; }

# once_per_check WHAT: for scripts that test the test tools themselves
# (not probe): run them in the plain half of `make check` only, so the
# sanitizer half does not repeat them (it has nothing new to find there).
once_per_check() {
	if [ "${SUITE:-}" = asan ]; then
		skip "$1" "a test of the test tools; run in the plain half"
		exit 0
	fi
}
