#!/usr/bin/env bash
# probe run on a demo-like scenario against the test bench (nginx, dnsmasq):
# every kind of step succeeds; TLS 1.2 and 1.3, HTTP/1.1 and h2, plain
# HTTP, DNS answers, the slow backend's TTFB and the certificate chain are
# in the --json output and in the store alike.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_servers.sh"
servers_start "$T" || { not_ok "test servers start"; finish; }
C=$T/certs
S=$T/demo.scn
cat >"$S" <<EOF
scenario it-demo
resolver 127.0.0.1:$DNS_PORT
timeout 20s
defaults ca=$C/ca.pem

dns   demo.probe.test A name=dns
tcp   demo.probe.test:$HTTPS_PORT name=tcp
tls   demo.probe.test:$TLS12_PORT alpn=h2,http/1.1 min_days_valid=7 name=tls12
tls   demo.probe.test:$TLS13_PORT alpn=h2,http/1.1 name=tls13
tls   demo.probe.test:$HTTPS_PORT tls_max=1.2 name=max12
tls   demo.probe.test:$HTTPS_PORT tls_min=1.3 name=min13
http  GET https://demo.probe.test:$HTTPS_PORT/ name=h11 http=1.1 expect status=200 body*='hello from probe demo'
http  GET https://a.probe.test:$HTTPS_PORT/ name=h2 http=2 expect status=200 body~'^hello from probe demo'
http  GET http://b.probe.test:$HTTP_PORT/ name=plain expect status=200
http  GET https://demo.probe.test:$HTTPS_PORT/slow name=slow http=1.1 expect status=200 body*='slow'
http  GET https://b.probe.test:$HTTPS_PORT/json name=json expect status=200 header:Content-Type~'application/json' body*='"ok":true'
EOF
NSTEPS=11

run_probe check "$S"
expect_rc 0 "the generated scenario is valid"

probe_run "$S"
expect_rc 0 "the demo scenario runs, exit 0"

# ---- the run ---------------------------------------------------------------------
expect_json 'len(runs)' 1 "one JSON object"
expect_json 'r["scenario"]' it-demo "JSON scenario"
expect_json 'r["region"]' it "JSON region"
expect_json 'r["ok"]' true "JSON run ok"
expect_json 'r["breach"]' false "JSON no breach"
expect_json 'isinstance(r["format_version"], int) and r["format_version"] >= 1' true "JSON format_version"
expect_json 'len(S)' $NSTEPS "JSON has every step"
expect_json '[s["name"] for s in S if not s["ok"]]' '[]' "JSON: every step ok"
expect_sql "SELECT count(*), min(ok), max(ok), scenario, region FROM runs" "1|1|1|it-demo|it" "one stored run, ok"
expect_eq "$(jget 'r["run_id"]')" "$(sql "$T/p.db" 'SELECT run_id FROM runs')" "JSON run_id is the stored one"
expect_sql "SELECT count(*), sum(ok), sum(skipped) FROM steps" "$NSTEPS|$NSTEPS|0" "every step stored ok"
expect_sql "SELECT group_concat(name || ':' || kind, ' ') FROM (SELECT name, kind FROM steps ORDER BY idx)" \
	"dns:dns tcp:tcp tls12:tls tls13:tls max12:tls min13:tls h11:http h2:http plain:http slow:http json:http" \
	"steps stored in order, with their kinds"
expect_sql "SELECT count(*) FROM steps WHERE error IS NOT NULL OR error_detail IS NOT NULL" 0 "no error on ok steps"

# ---- dns -------------------------------------------------------------------------------
expect_json 'st("dns")["rcode"]' 0 "JSON dns rcode 0"
expect_json '[(a["type"], a["data"]) for a in st("dns")["answers"]]' '[["A", "127.0.0.1"]]' "JSON dns answer"
expect_sql "SELECT rcode, json_extract(answers, '\$[0].type'), json_extract(answers, '\$[0].data'), json_array_length(answers) FROM steps WHERE name = 'dns'" \
	"0|A|127.0.0.1|1" "stored dns answers"
expect_sql "SELECT dns_ms > 0 AND total_ms >= dns_ms FROM steps WHERE name = 'dns'" 1 "dns_ms measured"
if dns_log_wait "$T" 'query\[A\] demo\.probe\.test from 127\.0\.0\.1'; then ok "the query reached dnsmasq"
else not_ok "the query reached dnsmasq" "$(dns_log "$T" | tail -5)"; fi

# ---- tcp -------------------------------------------------------------------------------
expect_json 'st("tcp")["target"]' "demo.probe.test:$HTTPS_PORT" "JSON tcp target"
expect_json 'st("tcp")["connect_ms"] > 0' true "JSON tcp connect_ms"
expect_json '[(c["family"], c["dst_addr"], c["dst_port"]) for c in conns(st("tcp"))]' \
	"[[\"ipv4\", \"127.0.0.1\", $HTTPS_PORT]]" "JSON tcp connection"
expect_sql "SELECT count(*), family, src_addr, src_port > 0, dst_addr, dst_port FROM connections WHERE step_id = $(sid tcp)" \
	"1|ipv4|127.0.0.1|1|127.0.0.1|$HTTPS_PORT" "stored tcp connection"
expect_sql "SELECT connect_ms > 0, tls_ms IS NULL, status IS NULL FROM steps WHERE name = 'tcp'" "1|1|1" "tcp step: connect_ms only"

# ---- tls ---------------------------------------------------------------------------------
for x in tls12:TLSv1.2 tls13:TLSv1.3 max12:TLSv1.2 min13:TLSv1.3; do
	n=${x%%:*} v=${x#*:}
	expect_json "st('$n')['tls_version']" "$v" "JSON $n: $v"
	expect_sql "SELECT tls_version, tls_cipher IS NOT NULL, tls_ms > 0 FROM steps WHERE name = '$n'" "$v|1|1" "stored $n: $v"
done
expect_sql "SELECT alpn FROM steps WHERE name IN ('tls12', 'tls13') ORDER BY idx" "h2
h2" "ALPN h2 negotiated"
expect_match "$(stepq tls13 tls_cipher)" '^TLS_(AES_(128|256)_GCM_SHA(256|384)|CHACHA20_POLY1305_SHA256)$' "TLS 1.3 cipher in OpenSSL's words"
q="SELECT depth, subject LIKE '%CN=demo.probe.test%', issuer LIKE '%CN=probe test CA%', verified, days_left BETWEEN 29 AND 30, not_after > strftime('%Y-%m-%dT%H:%M:%S', 'now')
   FROM certificates WHERE step_id = $(sid tls12) ORDER BY depth LIMIT 1"
expect_sql "$q" "0|1|1|1|1|1" "stored leaf certificate: names, issuer, verified, 29 days left"
expect_json '(lambda c: [c["depth"], "CN=demo.probe.test" in c["subject"], c["verified"], c["days_left"] in (29, 30)])(st("tls12")["certificates"][0])' \
	'[0, true, 1, true]' "JSON leaf certificate"

# ---- http ----------------------------------------------------------------------------------
expect_sql "SELECT http_version, status, tls_version, alpn FROM steps WHERE name = 'h11'" "1.1|200|TLSv1.3|http/1.1" "stored HTTP/1.1 over TLS 1.3"
expect_sql "SELECT http_version, status, alpn FROM steps WHERE name = 'h2'" "2|200|h2" "stored h2"
expect_json '[st("h11")["http_version"], st("h2")["http_version"], st("plain")["http_version"]]' '["1.1", "2", "1.1"]' "JSON http versions"
expect_sql "SELECT http_version, status, tls_ms IS NULL, tls_version IS NULL, bytes FROM steps WHERE name = 'plain'" "1.1|200|1|1|22" "stored plain HTTP: no TLS, 22 body bytes"
expect_sql "SELECT bytes FROM steps WHERE name = 'h11'" 22 "body bytes counted"
expect_sql "SELECT count(*), min(idx), method, status, url FROM exchanges WHERE step_id = $(sid h11)" \
	"1|1|GET|200|https://demo.probe.test:$HTTPS_PORT/" "one exchange for a plain GET"
expect_sql "SELECT ttfb_ms > 0 AND total_ms >= ttfb_ms FROM exchanges WHERE step_id = $(sid h2)" 1 "exchange timings"
expect_json '[len(exchanges(st("h2"))), exchanges(st("h2"))[0]["status"]]' '[1, 200]' "JSON exchange"
expect_sql "SELECT dns_ms >= 0, connect_ms > 0, tls_ms > 0, ttfb_ms > 0, total_ms >= ttfb_ms FROM steps WHERE name = 'h2'" \
	"1|1|1|1|1" "http step library timings"

# the slow backend
expect_sql "SELECT ttfb_ms >= $SLOW_MS, ttfb_ms <= $SLOW_MS + 5 + 15, status, bytes FROM steps WHERE name = 'slow'" \
	"1|1|200|5" "slow: ttfb_ms within [T, T+15] of nginx's sleep T = SLOW_MS + 5 = $((SLOW_MS + 5)) ms"
expect_json "st('slow')['ttfb_ms'] >= $SLOW_MS" true "JSON slow ttfb_ms >= SLOW_MS"
expect_sql "SELECT ttfb_ms < $SLOW_MS FROM steps WHERE name = 'h11'" 1 "a fast page stays under SLOW_MS"
expect_sql "SELECT status, http_version FROM steps WHERE name = 'json'" "200|2" "json step"

# what nginx saw
expect_match "$(cat "$T/access.log")" "TLSv1.3 HTTP/1.1 \"GET /slow HTTP/1.1\" 200" "nginx served /slow over HTTP/1.1"
expect_match "$(cat "$T/access.log")" "TLSv1.3 HTTP/2.0 \"GET / HTTP/2.0\" 200" "nginx served / over h2"

# no stray TLS: every connection of the run belongs to a step
expect_sql "SELECT count(*) FROM connections WHERE step_id IS NULL AND dst_port != $DNS_PORT" 0 "every connection has its step"
finish
