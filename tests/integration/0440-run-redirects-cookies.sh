#!/usr/bin/env bash
# probe run's http steps across several requests: a three-hop redirect
# followed with follow=3 (one exchange per hop, each timed; the step's
# total is their sum), and a cookie login flow whose csrf token is extracted
# from a form and sent back; cookies carry across the steps of a scenario
# but never to another scenario, and secrets are never stored.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_servers.sh"
servers_start "$T" || { not_ok "test servers start"; finish; }
C=$T/certs
P=$HTTPS_PORT

cat >"$T/redirects.scn" <<EOF
scenario it-redirects
resolver 127.0.0.1:$DNS_PORT
timeout 20s
defaults ca=$C/ca.pem
http GET https://a.probe.test:$P/r1 name=hops follow=3 expect status=200 body*='end of redirects'
http GET https://a.probe.test:$P/r1 name=nofollow expect status=302
EOF
cat >"$T/login.scn" <<EOF
scenario it-login
resolver 127.0.0.1:$DNS_PORT
timeout 20s
defaults ca=$C/ca.pem
http POST https://demo.probe.test:$P/login name=login body='user=probe&pw=\${PASS}' \\
     header='Content-Type: application/x-www-form-urlencoded' expect status=302
http GET https://demo.probe.test:$P/form name=form expect status=200 \\
     extract csrf='name="csrf" value="([^"]+)"'
http POST https://demo.probe.test:$P/api/items name=items header="X-CSRF: \${csrf}" \\
     header='Content-Type: application/json' body='{"id":1}' \\
     expect status=201 header:Content-Type~'json' body*='created'
EOF
# the same form and API without logging in first
cat >"$T/nologin.scn" <<EOF
scenario it-nologin
resolver 127.0.0.1:$DNS_PORT
timeout 20s
defaults ca=$C/ca.pem
http GET https://demo.probe.test:$P/form name=form_anon expect status=200 \\
     extract csrf='name="csrf" value="([^"]+)"'
http POST https://demo.probe.test:$P/api/items name=items_anon header="X-CSRF: \${csrf}" \\
     body='{"id":1}' expect status=201
http POST https://demo.probe.test:$P/api/items name=items_notoken body='{"id":2}' expect status=403
EOF
for f in redirects login nologin; do
	PASS=x run_probe check "$T/$f.scn"
	expect_rc 0 "$f.scn is valid"
done

# ---- redirects --------------------------------------------------------------------
probe_run "$T/redirects.scn"
expect_rc 0 "redirect scenario: exit 0"
expect_sql "SELECT ok, status, http_version FROM steps WHERE name = 'hops'" "1|200|2" "follow=3: final status 200"
expect_sql "SELECT group_concat(idx || ' ' || status || ' ' || url, ',') FROM (SELECT * FROM exchanges WHERE step_id = $(sid hops) ORDER BY idx)" \
	"1 302 https://a.probe.test:$P/r1,2 302 https://b.probe.test:$P/r2,3 200 https://a.probe.test:$P/r3" \
	"three exchanges: r1 (a) -> r2 (b) -> r3 (a)"
expect_sql "SELECT count(*) FROM exchanges WHERE step_id = $(sid hops) AND total_ms > 0 AND ttfb_ms > 0 AND total_ms >= ttfb_ms AND method = 'GET'" \
	3 "each hop has its own timings"
expect_sql "SELECT abs(s.total_ms - (SELECT sum(e.total_ms) FROM exchanges e WHERE e.step_id = s.id)) <= 1.0 FROM steps s WHERE s.id = $(sid hops)" \
	1 "steps.total_ms = sum of the hops' total_ms (within 1 ms)"
expect_sql "SELECT count(*) >= 2 FROM connections WHERE step_id = $(sid hops)" 1 "two names: at least two connections"
expect_sql "SELECT count(*) FROM exchanges WHERE step_id = $(sid hops) AND connection_id IS NULL" 0 "every hop knows its connection"
expect_json 'sorted((e["idx"], e["status"]) for e in exchanges(st("hops")))' '[[1, 302], [2, 302], [3, 200]]' "JSON: three hops"
expect_json 'abs(st("hops")["total_ms"] - sum(e["total_ms"] for e in exchanges(st("hops")))) <= 1.0' true \
	"JSON total_ms = sum of the hops"
expect_sql "SELECT ok, status FROM steps WHERE name = 'nofollow'" "1|302" "without follow: the 302 itself"
expect_sql "SELECT count(*) FROM exchanges WHERE step_id = $(sid nofollow)" 1 "without follow: one exchange"

# ---- login flow, and a scenario beside it that never logged in ---------------------------
PASS=hunter2 probe_run "$T/login.scn" "$T/nologin.scn"
expect_rc 1 "login + nologin: exit 1 (nologin fails)"
expect_json 'len(runs)' 2 "two JSON objects"
expect_json '[(x["scenario"], x["ok"]) for x in runs]' '[["it-login", true], ["it-nologin", false]]' "login ok, nologin not"
expect_sql "SELECT scenario, ok FROM runs WHERE scenario LIKE 'it-%login' ORDER BY scenario" "it-login|1
it-nologin|0" "stored: login ok, nologin not"
expect_sql "SELECT ok, status FROM steps WHERE name = 'login'" "1|302" "POST /login: 302"
expect_sql "SELECT ok, status FROM steps WHERE name = 'form'" "1|200" "GET /form with the session cookie: 200"
expect_sql "SELECT ok, status FROM steps WHERE name = 'items'" "1|201" "POST /api/items with cookie and extracted token: 201"
expect_json '[s["status"] for x in runs for s in x["steps"] if s["name"] == "items"]' "[201]" "JSON: items 201"
expect_sql "SELECT ok, status, error FROM steps WHERE name = 'form_anon'" "0|401|http.status" "another scenario has no cookie: 401"
expect_sql "SELECT ok, skipped FROM steps WHERE name = 'items_anon'" "0|1" "the step needing the failed extract is skipped"
expect_sql "SELECT ok, status FROM steps WHERE name = 'items_notoken'" "1|403" "no cookie, no token: 403 as expected"
expect_match "$(stepq items target)" "https://demo\.probe\.test:$P/api/items\$" "target stored"
dump=$(sqlite3 "$T/p.db" .dump)
if grep -q hunter2 <<<"$dump$out$err"; then not_ok "the environment secret is never stored or printed"
else ok "the environment secret is never stored or printed"; fi
expect_eq "$(grep -c 'session=s3cr3t' <<<"$dump")" 0 "the session cookie is not stored"
expect_match "$(cat "$T/access.log")" '"POST /api/items HTTP/2.0" 201' "nginx saw the authorised POST"
finish
