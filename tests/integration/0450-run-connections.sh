#!/usr/bin/env bash
# probe run's connections: `tcp HOST:PORT ip=both` probes and records each
# address family (two connections rows, ipv4 and ipv6); ip=4 / ip=6 pick
# one; and two scenarios run in parallel against the same host open their
# own connections (different source ports), overlapping in time.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_servers.sh"
export SLOW_MS=150 # the parallel scenarios below overlap for sure
servers_start "$T" || { not_ok "test servers start"; finish; }
C=$T/certs
P=$HTTPS_PORT

cat >"$T/families.scn" <<EOF
scenario it-families
resolver 127.0.0.1:$DNS_PORT
timeout 20s
defaults ca=$C/ca.pem
tcp  dual.probe.test:$P ip=both name=both
tcp  dual.probe.test:$P ip=4 name=v4
tcp  dual.probe.test:$P ip=6 name=v6
http GET https://dual.probe.test:$P/ ip=6 name=http6 expect status=200
http GET https://dual.probe.test:$P/ ip=4 name=http4 expect status=200
EOF
for n in 1 2; do
	cat >"$T/par$n.scn" <<-EOF
		scenario it-par$n
		resolver 127.0.0.1:$DNS_PORT
		timeout 20s
		defaults ca=$C/ca.pem
		http GET https://demo.probe.test:$P/slow name=par${n}_a expect status=200
		http GET https://demo.probe.test:$P/slow name=par${n}_b expect status=200
		http GET https://demo.probe.test:$P/slow name=par${n}_c expect status=200
	EOF
done
for f in families par1 par2; do
	run_probe check "$T/$f.scn"
	expect_rc 0 "$f.scn is valid"
done

# ---- address families ------------------------------------------------------------------
if [ "$SRV_IPV6" = 1 ]; then
	probe_run "$T/families.scn"
	expect_rc 0 "families scenario: exit 0"
	expect_sql "SELECT group_concat(family || ' ' || dst_addr || ' ' || dst_port, ',') FROM (SELECT * FROM connections WHERE step_id = $(sid both) ORDER BY family)" \
		"ipv4 127.0.0.1 $P,ipv6 ::1 $P" "ip=both: two connections, ipv4 and ipv6"
	expect_sql "SELECT count(*) FROM connections WHERE step_id = $(sid both) AND src_port > 0 AND src_addr IN ('127.0.0.1', '::1')" 2 \
		"ip=both: both connections have their source"
	expect_json 'sorted(c["family"] for c in conns(st("both")))' '["ipv4", "ipv6"]' "JSON ip=both: ipv4 and ipv6"
	expect_sql "SELECT ok FROM steps WHERE name = 'both'" 1 "ip=both step ok"
	expect_sql "SELECT family, dst_addr FROM connections WHERE step_id = $(sid v4)" "ipv4|127.0.0.1" "ip=4: ipv4"
	expect_sql "SELECT family, dst_addr FROM connections WHERE step_id = $(sid v6)" "ipv6|::1" "ip=6: ipv6"
	expect_sql "SELECT s.family, c.family, c.dst_addr, s.status FROM steps s JOIN connections c ON c.step_id = s.id WHERE s.name = 'http6'" \
		"ipv6|ipv6|::1|200" "http ip=6 over ::1"
	expect_sql "SELECT s.family, c.dst_addr, s.status FROM steps s JOIN connections c ON c.step_id = s.id WHERE s.name = 'http4'" \
		"ipv4|127.0.0.1|200" "http ip=4 over 127.0.0.1"
	expect_match "$(cat "$T/access.log")" "^::1 [0-9]+ -> ::1:$P " "nginx saw the IPv6 request"
else
	skip "address families" "no IPv6 loopback here"
fi

# ---- two scenarios in parallel ------------------------------------------------------------
before=$(sql "$T/p.db" "SELECT coalesce(max(seq), 0) FROM runs" 2>/dev/null || echo 0)
t0=$(date +%s%N)
probe_run --parallel 2 "$T/par1.scn" "$T/par2.scn"
ms=$((($(date +%s%N) - t0) / 1000000))
expect_rc 0 "two scenarios with --parallel 2: exit 0"
expect_json 'sorted(x["scenario"] for x in runs)' '["it-par1", "it-par2"]' "two JSON objects"
expect_sql "SELECT count(*), sum(ok) FROM runs WHERE seq > $before" "2|2" "two runs stored, ok"
q="SELECT c.src_port FROM connections c JOIN runs r ON r.seq = c.run_seq WHERE r.scenario = 'it-par%s' AND c.dst_port = $P ORDER BY c.src_port"
p1=$(sql "$T/p.db" "$(printf "$q" 1)")
p2=$(sql "$T/p.db" "$(printf "$q" 2)")
[ -n "$p1" ] && [ -n "$p2" ] && ok "both runs recorded their connections" ||
	not_ok "both runs recorded their connections" "par1: $p1" "par2: $p2"
common=$(comm -12 <(sort <<<"$p1") <(sort <<<"$p2"))
expect_eq "$common" "" "the parallel runs use different connections (source ports)"
expect_eq "$(jget 'len(set(c["src_port"] for x in runs for s in x["steps"] for c in conns(s)) ) >= 2')" true \
	"JSON: different source ports"
expect_sql "SELECT a.started_at < b.finished_at AND b.started_at < a.finished_at FROM runs a, runs b WHERE a.scenario = 'it-par1' AND b.scenario = 'it-par2'" \
	1 "the two runs overlapped in time"
# three /slow requests each: serial would take 6 x SLOW_MS
if [ "$ms" -lt $((6 * SLOW_MS)) ]; then ok "parallel: $ms ms < 6 x SLOW_MS"; else not_ok "parallel: $ms ms < 6 x SLOW_MS"; fi
expect_eq "$(grep -c '"GET /slow HTTP/2.0" 200' "$T/access.log")" 6 "nginx served six /slow"
expect_sql "SELECT count(*) FROM steps s JOIN runs r ON r.seq = s.run_seq WHERE r.scenario LIKE 'it-par_' AND s.ttfb_ms > 0" \
	6 "six /slow steps timed"
expect_sql "SELECT group_concat(s.name || '=' || s.ttfb_ms, ' ') FROM steps s JOIN runs r ON r.seq = s.run_seq WHERE r.scenario LIKE 'it-par_' AND NOT s.ttfb_ms >= $SLOW_MS" \
	"" "each /slow step waited SLOW_MS"
finish
