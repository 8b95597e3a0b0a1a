#!/usr/bin/env bash
# Without capture rights (probe run as nobody, no capabilities) runs
# complete and connections carry the kernel's TCP_INFO figures, marked
# source=tcp_info, the run capture 'unavailable': across a 10 ms each-way
# link rtt_ms is the 20 ms RTT;
# when the bench drops the first SYN, the connection shows one SYN
# retransmission and a connect time of the kernel's 1 s SYN timeout plus
# the RTT.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_bench.sh"
bench_usable || { skip "tcp_info figures in the bench" "$BENCH_SKIP"; finish; }

D=10
bench_up --delay-ms $D && bench_dns_start && bench_nginx_start ||
	{ not_ok "bench with DNS and nginx"; finish; }
cat >"$T/s.scn" <<EOF
scenario bench-tcp-info
resolver $BENCH_RESOLVER
timeout 10s
defaults ca=$CERTS_DIR/ca.pem
tcp  demo.probe.test:$HTTPS_PORT name=tcp ip=4
tls  demo.probe.test:$HTTPS_PORT name=tls ip=4
http GET https://demo.probe.test:$HTTPS_PORT/ name=get ip=4 http=1.1 expect status=200
EOF
mkdir -p "$T/nopriv" && chmod 1777 "$T/nopriv" && chmod 711 "$T" &&
	cp "$T/s.scn" "$T/nopriv/" && chmod 644 "$T/nopriv/s.scn"
run() {
	bench_exec 1 setpriv --reuid=nobody --regid=nogroup --clear-groups \
		--inh-caps=-all --bounding-set=-all -- \
		"$PROBE" run --json --db "$T/nopriv/p.db" --spool "$T/nopriv/spool" \
		--region r1 --config /dev/null "$T/nopriv/s.scn" >"$T/run.json" 2>"$T/err"
	rc=$? out=$(cat "$T/run.json") err=$(cat "$T/err")
}
expect_sql() { expect_eq "$(sql "$T/nopriv/p.db" "$1" 2>&1)" "$2" "$3"; }
near() { awk -v g="$1" -v w="$2" -v t="$3" 'BEGIN { d = g - w; if (d < 0) d = -d; exit !(g != "" && d <= t) }'; }

run
expect_rc 0 "probe run across the link"
expect_match "$err" "no packet capture \(.*\): runs store TCP_INFO figures" "it says it runs without capture"
expect_eq "$(jget "r['capture']")" unavailable "JSON: capture unavailable"
expect_sql "SELECT capture FROM runs" unavailable "the run is stored with capture 'unavailable'"
for s in tcp tls get; do
	expect_eq "$(jget "st('$s')['connections'][0]['source']")" tcp_info "$s: source tcp_info"
	expect_eq "$(jget "st('$s')['connections'][0]['retrans']")" 0 "$s: no retransmissions"
done
# Right after connect the kernel's srtt is the SYN -> SYN/ACK sample alone.
r=$(jget "st('tcp')['connections'][0]['rtt_ms']")
near "$r" $((2 * D)) 2 && ok "tcp: rtt_ms $r = $((2 * D)) +- 2 ms (kernel srtt)" ||
	not_ok "tcp: rtt_ms $r, want $((2 * D)) +- 2"
# Later it is smoothed over ACKs the server may have delayed (up to ~40 ms
# each), so it is at least the RTT and at most RTT + one delayed ACK: the
# reason the packet-derived rtt_ms (issue 5) exists at all.
for s in tls get; do
	r=$(jget "st('$s')['connections'][0]['rtt_ms']")
	awk -v r="$r" -v lo=$((2 * D - 1)) -v hi=$((2 * D + 45)) \
		'BEGIN { exit !(r != "" && r >= lo && r <= hi) }' &&
		ok "$s: rtt_ms $r within [RTT - 1, RTT + 45] ms (kernel srtt)" ||
		not_ok "$s: rtt_ms $r, want $((2 * D - 1)) .. $((2 * D + 45))"
done
expect_sql "SELECT count(*) FROM connections WHERE source = 'tcp_info' AND rtt_ms > 0" 3 \
	"the store has the three tcp_info rows"

# the first SYN of the next run is lost: upstream, the run sends its A
# query (one UDP packet) and then that SYN
st=$(bench_stats 1 | awk '$1 == "a2b" { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
	END { print v["forwarded"] + v["dropped"] + v["pending"] }')
bench_profile 1 "a2b.drop_nth=$((st + 2))" || not_ok "drop the next run's first SYN"
run
expect_rc 0 "probe run with its first SYN lost"
expect_eq "$(jget "st('tcp')['connections'][0]['syn_retrans']")" 1 "tcp: one SYN retransmission"
c=$(jget "st('tcp')['connect_ms']")
# the kernel's 1 s SYN timer fires on the timer wheel, whose granularity
# at 1 s is tens of ms (seen: +52 ms): a lower bound and a loose upper one
awk -v c="$c" -v lo=$((1000 + 2 * D - 1)) -v hi=$((1000 + 2 * D + 150)) \
	'BEGIN { exit !(c != "" && c >= lo && c <= hi) }' &&
	ok "tcp: connect_ms $c = the 1 s SYN timeout + RTT (+0..150 ms timer slack)" ||
	not_ok "tcp: connect_ms $c, want $((1000 + 2 * D)) .. $((1150 + 2 * D))"
expect_eq "$(bench_stat 1 a2b nth)" 1 "pbfwd dropped exactly that packet"
finish
