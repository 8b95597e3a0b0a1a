#!/usr/bin/env bash
# probe run --dry-run prints the plan, never expands or stores secrets, and
# refuses unset variables.
. "$(dirname "$0")/lib.sh"
cd "$T" && cp -r "$OLDPWD/scenarios" . || exit 3

USER=alice PASS=hunter2 run_probe run --dry-run --region eu-west-1 scenarios/shop-checkout.scn
expect_rc 0 "dry-run of shop-checkout"
expect_match "$out" '^scenario   shop-checkout \(scenarios/shop-checkout.scn\)$' "plan names the scenario"
expect_match "$out" '^resolver   10.0.0.2:53$' "plan shows the resolver"
expect_match "$out" '^threshold  retrans > 0 for 3 runs$' "plan shows thresholds"
expect_match "$out" '^steps      6$' "plan counts the steps"
expect_match "$out" "body 'user=\\\$\\{USER\\}&pw=\\\$\\{PASS\\}'" "variables shown unexpanded"
expect_match "$out" 'header .X-CSRF: \$\{csrf\}' "extract variable shown unexpanded"
expect_match "$out" '^run as     region eu-west-1, ' "dry-run shows the region it would use"
expect_match "$out" '^capture    on the interfaces the routes use; filter at the start' "dry-run says where it would capture"
expect_match "$out" 'filter at the start.*: .*10\.0\.0\.2' "and the filter holds the resolver"
if grep -q -e hunter2 -e alice <<<"$out$err"; then not_ok "secret values never printed"; else ok "secret values never printed"; fi
[ ! -e probe.db ] && ok "dry-run creates no store" || not_ok "dry-run creates no store"

env -u PASS USER=alice "$PROBE" run --dry-run scenarios/shop-checkout.scn >"$T/out" 2>"$T/err"; rc=$?
err=$(cat "$T/err"); out=""
expect_rc 2 "dry-run with an unset variable exits 2"
expect_eq "$err" 'scenarios/shop-checkout.scn:17:76: ${PASS} is not set in the environment' "unset variable named at file:line:col"

for f in scenarios/*.scn; do
	USER=u PASS=p API_TOKEN=t run_probe run --dry-run "$f"
	expect_rc 0 "dry-run $f"
done

USER=u PASS=p run_probe run --dry-run scenarios/demo.scn scenarios/dns-health.scn
expect_rc 0 "dry-run of two scenarios"
expect_eq "$(grep -c '^scenario ' <<<"$out")" 2 "both plans printed"

env -u PASS USER=u "$PROBE" run --db "$T/x.db" scenarios/shop-checkout.scn >"$T/out" 2>"$T/err"; rc=$?
expect_rc 2 "a real run with an unset variable exits 2 before running"
[ ! -e "$T/x.db" ] && ok "and creates no store" || not_ok "and creates no store"

USER=u PASS=p run_probe run --dry-run --interface lo scenarios/shop-checkout.scn
expect_match "$out" '^capture    on lo; ' "--interface shown"

printf 'scenario req\ncapture required\ntcp 127.0.0.1:9\n' >"$T/req.scn"
cp "$T/req.scn" "$T/nopriv/" 2>/dev/null || { mkdir -p "$T/nopriv"; cp "$T/req.scn" "$T/nopriv/"; }
run_probe_nopriv run --db "$T/nopriv/req.db" --spool "$T/nopriv/spool" --config /dev/null --region x "$T/nopriv/req.scn"
expect_rc 3 "capture required without capture rights: exit 3"
expect_match "$err" "capture required, but no capture: .*(ermission|denied|not permitted)" "and says why"
expect_eq "$(sqlite3 "$T/nopriv/req.db" 'SELECT count(*) FROM runs' 2>/dev/null || echo 0)" 0 "nothing was run or stored"

run_probe run --parallel 0 scenarios/demo.scn
expect_rc 2 "--parallel 0 refused"
run_probe run --jitter 5 scenarios/demo.scn
expect_rc 2 "--jitter without unit refused"
expect_match "$err" "--jitter '5': expected a duration" "jitter error explains"
run_probe run --bogus scenarios/demo.scn
expect_rc 2 "unknown option refused"
run_probe run --dry-run "$OLDPWD/tests/data/scn/bad/unknown-directive.scn"
expect_rc 2 "dry-run of a bad scenario exits 2"

finish
