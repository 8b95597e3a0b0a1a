#!/usr/bin/env bash
# probe run's dns steps against dnsmasq: A, AAAA, TXT and MX answers in the
# JSON output and in steps.answers; NXDOMAIN and SERVFAIL as failures
# (dns.nxdomain, dns.servfail, with their rcode) and as expected answers
# (expect rcode=...); a failed step does not stop the next one.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_servers.sh"
dns_start "$T" || { not_ok "dnsmasq starts"; finish; }

cat >"$T/ok.scn" <<EOF
scenario it-dns
resolver 127.0.0.1:$DNS_PORT
timeout 15s
defaults retries=0
dns demo.probe.test A name=a
dns dual.probe.test A AAAA name=dual
dns dual.probe.test name=dual_default
dns demo.probe.test TXT name=txt
dns demo.probe.test MX name=mx
dns nothing.probe.test A name=nx_expected expect rcode=NXDOMAIN
dns servfail.probe.test A name=sf_expected expect rcode=SERVFAIL
EOF
cat >"$T/fail.scn" <<EOF
scenario it-dns-fail
resolver 127.0.0.1:$DNS_PORT
timeout 15s
defaults retries=0
dns nothing.probe.test A name=nx
dns x.servfail.probe.test A name=sf
dns demo.probe.test A name=nx_instead expect rcode=NXDOMAIN
dns b.probe.test A name=after
EOF
for f in ok fail; do
	run_probe check "$T/$f.scn"
	expect_rc 0 "$f.scn is valid"
done

# ---- answers ---------------------------------------------------------------------
probe_run "$T/ok.scn"
expect_rc 0 "dns scenario: exit 0"
expect_json 'r["ok"]' true "JSON run ok"
expect_sql "SELECT count(*), sum(ok) FROM steps" "7|7" "seven dns steps stored, all ok"
# answers as sorted "TYPE DATA" strings, from the JSON and from the store
ans() { jget "sorted('%s %s' % (a['type'], a['data']) for a in st('$1')['answers'])"; }
sans() { sql "$T/p.db" "SELECT group_concat(t || ' ' || d, ',') FROM (SELECT json_extract(j.value, '\$.type') t, json_extract(j.value, '\$.data') d FROM steps, json_each(steps.answers) j WHERE steps.id = $(sid "$1") ORDER BY 1, 2)"; }
expect_json 'st("a")["rcode"]' 0 "JSON A: rcode 0"
expect_eq "$(ans a)" '["A 127.0.0.1"]' "JSON A answer"
expect_eq "$(sans a)" "A 127.0.0.1" "stored A answer"
expect_eq "$(ans dual)" '["A 127.0.0.1", "AAAA ::1"]' "JSON A+AAAA answers"
expect_eq "$(sans dual)" "A 127.0.0.1,AAAA ::1" "stored A+AAAA answers"
expect_eq "$(sans dual_default)" "A 127.0.0.1,AAAA ::1" "default types are A and AAAA"
expect_match "$(sans txt)" '^TXT "?v=probe1 demo"?$' "stored TXT answer"
expect_match "$(sans mx)" '^MX (10 )?mail\.probe\.test\.?$' "stored MX answer"
expect_sql "SELECT json_extract(answers, '\$[0].ttl') FROM steps WHERE name = 'a'" 300 "answers carry their ttl"
expect_sql "SELECT rcode, ok, error IS NULL, json_array_length(answers) FROM steps WHERE name = 'nx_expected'" \
	"3|1|1|0" "expect rcode=NXDOMAIN: ok with rcode 3"
expect_sql "SELECT rcode, ok, error IS NULL FROM steps WHERE name = 'sf_expected'" "2|1|1" "expect rcode=SERVFAIL: ok with rcode 2"
expect_json '[st("nx_expected")["rcode"], st("sf_expected")["rcode"]]' '[3, 2]' "JSON rcodes 3 and 2"
expect_sql "SELECT dns_ms > 0, total_ms >= dns_ms, connect_ms IS NULL, tls_ms IS NULL FROM steps WHERE name = 'a'" "1|1|1|1" "dns step timings"

dns_log_wait "$T" 'forwarded servfail\.probe\.test' # the last step's query
for q in 'query\[A\] demo\.probe\.test' 'query\[AAAA\] dual\.probe\.test' 'query\[TXT\] demo\.probe\.test' \
	'query\[MX\] demo\.probe\.test' 'query\[A\] nothing\.probe\.test' 'forwarded servfail\.probe\.test'; do
	if dns_log "$T" | grep -Eq "$q from 127\.0\.0\.1|$q to"; then ok "dnsmasq logged: $q"
	else not_ok "dnsmasq logged: $q" "$(dns_log "$T" | tail -8)"; fi
done

# ---- failures ----------------------------------------------------------------------
probe_run "$T/fail.scn"
expect_rc 1 "NXDOMAIN/SERVFAIL: exit 1"
expect_json 'r["ok"]' false "JSON run not ok"
expect_sql "SELECT ok FROM runs WHERE scenario = 'it-dns-fail'" 0 "stored run not ok"
expect_sql "SELECT ok, error, rcode FROM steps WHERE name = 'nx'" "0|dns.nxdomain|3" "NXDOMAIN: dns.nxdomain, rcode 3"
expect_json '[st("nx")["ok"], st("nx")["error"], st("nx")["rcode"]]' '[false, "dns.nxdomain", 3]' "JSON NXDOMAIN"
expect_sql "SELECT ok, error, rcode FROM steps WHERE name = 'sf'" "0|dns.servfail|2" "SERVFAIL: dns.servfail, rcode 2"
expect_json '[st("sf")["ok"], st("sf")["error"], st("sf")["rcode"]]' '[false, "dns.servfail", 2]' "JSON SERVFAIL"
expect_sql "SELECT error_detail IS NOT NULL AND length(error_detail) > 0 FROM steps WHERE name IN ('nx', 'sf')" "1
1" "failed steps explain themselves"
expect_sql "SELECT ok, rcode, error FROM steps WHERE name = 'nx_instead'" "0|0|dns.rcode" "expect rcode=NXDOMAIN fails on NOERROR with dns.rcode"
expect_sql "SELECT ok, skipped, rcode, json_extract(answers, '\$[0].data') FROM steps WHERE name = 'after'" \
	"1|0|0|127.0.0.1" "a failed step does not stop the next one"
finish
