#!/usr/bin/env bash
# probe check: every bad case prints exactly its .err and exits 2; every
# valid file, every example in scenarios/ and every scn block of
# scenarios/README.md is accepted.
. "$(dirname "$0")/lib.sh"

for f in tests/data/scn/bad/*.scn; do
	run_probe check "$f"
	want=$(cat "${f%.scn}.err")
	if [ "$rc" -eq 2 ] && [ "$err" == "$want" ] && [ -z "$out" ]; then
		ok "check $f"
	else
		not_ok "check $f" "exit $rc (want 2)" "stderr: $err" "want:   $want" "stdout: $out"
	fi
done

for f in tests/data/scn/ok/*.scn scenarios/*.scn; do
	run_probe check "$f"
	if [ "$rc" -eq 0 ] && [ -z "$err" ]; then ok "check $f"; else
		not_ok "check $f" "exit $rc" "$err"; fi
done

# the examples of the language reference, one file per ```scn block
awk -v dir="$T" '
	/^```scn$/ { n++; f = sprintf("%s/readme-%02d.scn", dir, n); on = 1; next }
	/^```$/ { on = 0; next }
	on { print > f }
' scenarios/README.md
n=$(ls "$T"/readme-*.scn 2>/dev/null | wc -l)
[ "$n" -ge 3 ] && ok "README has $n scn examples" || not_ok "README has scn examples" "found $n"
for f in "$T"/readme-*.scn; do
	run_probe check --quiet "$f"
	if [ "$rc" -eq 0 ] && [ -z "$err$out" ]; then ok "README example $(basename "$f")"; else
		not_ok "README example $(basename "$f")" "exit $rc" "$err" "$(cat "$f")"; fi
done

# several files: each reported, exit 2 if any is bad
run_probe check scenarios/demo.scn tests/data/scn/bad/unknown-directive.scn
expect_rc 2 "check with one bad file among good ones exits 2"
expect_match "$out" '^scenarios/demo.scn: ok \(scenario demo, 5 steps\)$' "good file reported ok"
expect_match "$err" '^tests/data/scn/bad/unknown-directive.scn:[0-9]+:[0-9]+: ' "bad file reported"

run_probe check "$T/no-such-file.scn"
expect_rc 2 "missing file exits 2"
expect_match "$err" "no-such-file.scn: No such file or directory" "missing file named"

run_probe check "$T"
expect_rc 2 "a directory is refused"

run_probe check
expect_rc 2 "no file: usage error"

# a secret-bearing scenario checks without its environment
env -u USER -u PASS "$PROBE" check scenarios/shop-checkout.scn >/dev/null 2>"$T/e"; rc=$?
expect_rc 0 "check does not need the environment's secrets"

finish
