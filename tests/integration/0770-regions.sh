#!/usr/bin/env bash
# 0770-regions.sh: simulated regions (issue 7).  Three client namespaces
# (one-way 5, 20 and 60 ms) probe one server namespace; each region runs
# its own probe and its own `probe serve`; a central collector in the
# server namespace pulls them into one database and `probe compare` says:
#   1. region 2's path degrades (+60 ms, 1% loss): NETWORK_LOCAL r2;
#   2. restored, the backend thinks 200 ms more: APPLICATION_WIDE;
#   3. region 3's DNS answer (a second resolver, as geo-DNS would) sends it
#      to another, slower front end (another address of the server
#      namespace, its own pbserver): SERVER_LOCAL r3;
# and `probe pcap fetch` brings an escalation pcap from a region with its
# sha256 checked.  Baselines need baseline_min_n = 5 runs here (config),
# and `compare --recent-runs 3` takes each region's last 3 runs as recent.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_bench.sh"
bench_usable || { skip "simulated regions" "$BENCH_SKIP"; finish; }
command -v curl >/dev/null || { skip "simulated regions" "no curl"; finish; }

bench_up --regions 3 --delay-ms 5 && bench_dns_start && bench_pbserver_start ||
	{ not_ok "bench with three regions, DNS and pbserver"; finish; }
bench_profile 2 delay_ms=20 && bench_profile 3 delay_ms=60 ||
	not_ok "region profiles"
S=$BENCH_SERVER_IP4
# the other front end: a second address of the server namespace, a second
# pbserver on it that thinks 200 ms more (its own scenario URL says so)
ALT=${S%.*}.200
ip -n "$BENCH_SERVER_NS" addr add "$ALT/32" dev lo || not_ok "second server address"
# geo-DNS: a second resolver that answers demo.probe.test with ALT
SRV_NETNS=$BENCH_SERVER_NS dns_start "$T/dns-alt" "$ALT" >"$T/dns-alt.log" 2>&1 ||
	not_ok "the second resolver" "$(tail -5 "$T/dns-alt.log")"
ip netns exec "$BENCH_SERVER_NS" "$BENCH_PBSERVER" --listen "$ALT:$PBSERVER_PORT" \
	--pid-file "$T/alt.pid" --log "$T/alt.log" >"$T/alt.out" 2>&1 &
alt=$! # bench_down kills what still runs in the bench's namespaces
for _ in $(seq 50); do [ -s "$T/alt.pid" ] && break; sleep 0.1; done
export PROBE_BASELINE_MIN_N=5
for i in 1 2 3; do mkdir -p "$T/r$i" && chmod 700 "$T/r$i"; done
scn() { # REGION NAME RESOLVER: region I's scenario file
	cat >"$T/r$1/$2.scn" <<EOF
scenario $2
resolver $3
threshold think_ms > 150
http GET http://demo.probe.test:$PBSERVER_PORT/?think_ms=\${THINK} name=get expect status=200
EOF
}
for i in 1 2 3; do scn $i shop "$BENCH_RESOLVER"; done
probe_in() { # REGION CMD ARGS...: probe in region I's namespace, its store
	bench_exec "$1" env PROBE_REGION="r$1" PROBE_ID="probe$1" \
		PROBE_BASELINE_MIN_N=5 "$PROBE" "$2" --db "$T/r$1/p.db" \
		--spool "$T/r$1/spool" --config /dev/null "${@:3}"
}
runs() { # N THINK SCENARIO: N runs in every region
	local k i
	for ((k = 0; k < $1; k++)); do
		for i in 1 2 3; do
			THINK=$2 probe_in $i run "$T/r$i/$3.scn" >/dev/null 2>>"$T/runs.err"
		done
	done
}

# regional serves, each on its namespace's loopback; the collector reaches
# each from inside its namespace (collect speaks plain http to loopback
# only), all into one central store
port=9180
for i in 1 2 3; do
	head -c 24 /dev/urandom | base64 >"$T/r$i/token" && chmod 600 "$T/r$i/token"
	probe_in $i serve --listen "127.0.0.1:$port" --token-file "$T/r$i/token" \
		>"$T/r$i/serve.out" 2>&1 &
	echo "r$i http://127.0.0.1:$port $T/r$i/token" >"$T/r$i/regions.conf"
done
sleep 0.5
central() { # REGION CMD ARGS...: probe in region I's namespace, central store
	bench_exec "$1" env PROBE_BASELINE_MIN_N=5 "$PROBE" "$2" \
		--db "$T/central.db" --spool "$T/central-spool" --config /dev/null \
		"${@:3}"
}
verdict() { # SCENARIO -> the verdict line after collecting every region
	local i
	for i in 1 2 3; do
		central $i collect "$T/r$i/regions.conf" >>"$T/collect.out" 2>&1 ||
			not_ok "collect r$i" "$(tail -5 "$T/collect.out")"
	done
	central 1 compare --scenario "$1" --recent-runs 3 >"$T/compare.out" 2>&1
	head -n 1 "$T/compare.out"
}

runs 6 20 shop
expect_eq "$(verdict shop)" "shop: NONE" "normal runs everywhere: NONE"
bench_profile 2 delay_ms=80 loss=0.01 || not_ok "region 2 degrades"
runs 3 20 shop
expect_eq "$(verdict shop)" "shop: NETWORK_LOCAL r2" "region 2's path degraded: NETWORK_LOCAL r2" ||
	cat "$T/compare.out"
bench_profile 2 delay_ms=20 loss= || not_ok "region 2 restored"
runs 3 220 shop
expect_eq "$(verdict shop)" "shop: APPLICATION_WIDE" "the backend thinks 200 ms more: APPLICATION_WIDE" ||
	cat "$T/compare.out"

# region 3's DNS answer now sends it to the other, slower front end (its
# resolver is the geo-DNS one)
for i in 1 2 3; do scn $i front "$BENCH_RESOLVER"; done
runs 6 20 front
scn 3 front "$ALT:$DNS_PORT"
for k in 1 2 3; do
	for i in 1 2; do THINK=20 probe_in $i run "$T/r$i/front.scn" >/dev/null 2>&1; done
	THINK=220 probe_in 3 run "$T/r3/front.scn" >/dev/null 2>&1
done
expect_eq "$(sqlite3 "$T/r3/p.db" "SELECT c.dst_addr FROM connections c JOIN runs r ON r.seq = c.run_seq WHERE r.scenario = 'front' ORDER BY c.id DESC LIMIT 1")" \
	"$ALT" "region 3's geo-DNS answer took it to the other front end ($ALT)"
expect_eq "$(verdict front)" "front: SERVER_LOCAL r3" "one region sent to a slower front end: SERVER_LOCAL r3" ||
	cat "$T/compare.out"

# an escalation pcap from region 1, fetched from its serve
id=$(sqlite3 "$T/r1/p.db" "SELECT r.run_id FROM pcaps p JOIN runs r ON r.seq = p.run_seq LIMIT 1")
[ -n "$id" ] && ok "region 1 kept a pcap ($id)" || not_ok "region 1 kept no pcap"
bench_exec 1 "$PROBE" pcap fetch --config /dev/null --regions "$T/r1/regions.conf" \
	r1 "$id" "$T/fetched.pcapng" >"$T/fetch.out" 2>&1
expect_eq "$?" 0 "probe pcap fetch"
want=$(sqlite3 "$T/r1/p.db" "SELECT sha256 FROM pcaps p JOIN runs r ON r.seq = p.run_seq WHERE r.run_id = '$id'")
got=$(sha256sum <"$T/fetched.pcapng" 2>/dev/null | cut -d' ' -f1)
[ -n "$want" ] && [ "$got" = "$want" ] && ok "its sha256 matches the region's record" ||
	not_ok "fetched sha256 '$got', the region's record '$want'"
expect_eq "$(stat -c %a "$T/fetched.pcapng")" 600 "written 0600"
expect_eq "$(sqlite3 "$T/central.db" "SELECT count(DISTINCT region) FROM runs")" 3 "the central store has the three regions"
kill "$alt" 2>/dev/null
finish
