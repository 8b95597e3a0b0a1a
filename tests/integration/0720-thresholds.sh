#!/usr/bin/env bash
# 0720-thresholds.sh: thresholds against a region's baseline.  pbserver on
# loopback thinks ${THINK} ms; a scenario says
#   threshold think_ms > 2x baseline            (A)
#   threshold think_ms > 3x baseline for 3 runs (B)
#   threshold think_ms > 5000                   (C, never)
# 30 normal runs (THINK=20) build the baseline and never breach (it is
# not ready before 30 samples: baseline_min_n); then THINK=200: A fires at
# once, B only on the third slow run in a row; a slow run breaches, is
# stored with its evidence in threshold_evals and is left out of the
# baseline.  A new scenario's first runs never breach on a relative
# threshold, however slow.  `probe baseline` recomputes the same p50.
. "$(dirname "$0")/lib.sh"
once_per_check "0720-thresholds"

PBS=$PWD/build/tools/pbserver
[ -x "$PBS" ] || { skip "thresholds" "no $PBS"; finish; }
port=$(python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$PBS" --listen "127.0.0.1:$port" --pid-file "$T/pbs.pid" --log "$T/pbs.log" \
	>"$T/pbs.out" 2>&1 &
pbs=$!
trap 'kill $pbs 2>/dev/null; wait $pbs 2>/dev/null; rm -rf "$T"' EXIT
for _ in $(seq 50); do [ -s "$T/pbs.pid" ] && break; sleep 0.1; done

scn() { # NAME: a scenario file
	cat >"$T/$1.scn" <<EOF
scenario $1
threshold think_ms > 2x baseline
threshold think_ms > 3x baseline for 3 runs
threshold think_ms > 5000
http GET http://127.0.0.1:$port/?think_ms=\${THINK} name=get expect status=200
EOF
}
scn base
scn fresh
run() { # NAME THINK: one run; sets rc
	THINK=$2 "$PROBE" run --db "$T/p.db" --spool "$T/spool" --config /dev/null \
		--region r1 "$T/$1.scn" >"$T/out" 2>"$T/err"
	rc=$?
}
q() { sqlite3 "$T/p.db" "$1"; }
A='think_ms > 2x baseline'
B='think_ms > 3x baseline for 3 runs'

bad=0
for i in $(seq 30); do
	run base 20
	[ "$rc" -eq 0 ] || { bad=$((bad + 1)); not_ok "normal run $i exits $rc" "$(cat "$T/err")"; }
done
[ "$bad" -eq 0 ] && ok "30 normal runs: none breaches (exit 0)"
expect_eq "$(q "SELECT count(*) FROM runs WHERE breach = 1")" 0 "no run stored as breaching"
expect_eq "$(q "SELECT note FROM threshold_evals WHERE threshold = '$A' ORDER BY run_seq LIMIT 1")" \
	"baseline not ready (n=0, needs 30)" "the first run: baseline not ready (n=0)"
expect_eq "$(q "SELECT note FROM threshold_evals WHERE threshold = '$A' ORDER BY run_seq DESC LIMIT 1")" \
	"baseline not ready (n=29, needs 30)" "the 30th run: still not ready (n=29)"
expect_eq "$(q "SELECT n FROM baselines WHERE scenario = 'base' AND step = 'get' AND family = 'any' AND metric = 'think_ms'")" \
	30 "the baseline has 30 samples"
p50=$(q "SELECT round(p50) FROM baselines WHERE scenario = 'base' AND step = 'get' AND family = 'any' AND metric = 'think_ms'")
awk -v p="$p50" 'BEGIN { exit !(p >= 19 && p <= 23) }' && ok "its p50 is the server's think time ($p50 ms)" ||
	not_ok "baseline p50 $p50, want ~20"

run base 200
expect_eq "$rc" 1 "a slow run breaches: exit 1"
expect_eq "$(q "SELECT breach FROM runs ORDER BY seq DESC LIMIT 1")" 1 "and is stored as breaching"
expect_eq "$(q "SELECT met || breached FROM threshold_evals WHERE threshold = '$A' ORDER BY run_seq DESC LIMIT 1")" 11 \
	"A (2x baseline) fires at once"
expect_eq "$(q "SELECT met || breached FROM threshold_evals WHERE threshold = '$B' ORDER BY run_seq DESC LIMIT 1")" 10 \
	"B (3x for 3 runs) holds but does not fire on the first slow run"
lim=$(q "SELECT round(limit_value) FROM threshold_evals WHERE threshold = '$A' ORDER BY run_seq DESC LIMIT 1")
expect_eq "$lim" "$(awk -v p="$p50" 'BEGIN { printf "%.1f", 2 * p }')" "A's limit is twice the baseline p50"
run base 200
expect_eq "$(q "SELECT breached FROM threshold_evals WHERE threshold = '$B' ORDER BY run_seq DESC LIMIT 1")" 0 \
	"B: second slow run, not yet"
run base 200
expect_eq "$(q "SELECT breached FROM threshold_evals WHERE threshold = '$B' ORDER BY run_seq DESC LIMIT 1")" 1 \
	"B fires on the third slow run in a row"
expect_eq "$(q "SELECT n FROM baselines WHERE scenario = 'base' AND step = 'get' AND family = 'any' AND metric = 'think_ms'")" \
	30 "breaching runs stay out of the baseline"
expect_eq "$(q "SELECT count(*) FROM threshold_evals WHERE threshold = 'think_ms > 5000' AND met = 1")" 0 \
	"the absolute threshold never held"

# a normal run between slow ones resets B's count
run base 20
run base 200
expect_eq "$(q "SELECT met || breached FROM threshold_evals WHERE threshold = '$B' ORDER BY run_seq DESC LIMIT 1")" 10 \
	"after a normal run, B starts counting again"

bad=0
for i in 1 2 3 4 5; do
	run fresh 500
	[ "$rc" -eq 0 ] || bad=$((bad + 1))
done
expect_eq "$bad" 0 "a new scenario's first (slow) runs never breach a relative threshold"

run_probe baseline --db "$T/p.db" --config /dev/null --scenario base --metric think_ms
expect_rc 0 "probe baseline"
expect_match "$out" "^base +get +r1 +any +any +think_ms +${p50%.*}\\.[0-9]+ .* 31$" "probe baseline recomputes it (31 normal runs now)"
finish
