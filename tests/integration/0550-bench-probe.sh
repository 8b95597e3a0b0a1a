#!/usr/bin/env bash
# probe in the bench (tests/README.md's example): probe runs in a client
# namespace against nginx and dnsmasq in the server namespace across a
# 10 ms each-way link; its DNS and connect times are the RTT, and its
# connect time agrees with what the server saw (SYN/ACK -> ACK in a capture
# on the server's device).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_bench.sh"
bench_usable || { skip "probe in the bench" "$BENCH_SKIP"; finish; }

D=10
bench_up --delay-ms $D && bench_dns_start && bench_nginx_start ||
	{ not_ok "bench with DNS and nginx"; finish; }
ok "bench with DNS and nginx ($BENCH_RESOLVER)"
cat >"$T/s.scn" <<EOF
scenario bench-probe
resolver $BENCH_RESOLVER
timeout 10s
defaults ca=$CERTS_DIR/ca.pem
dns  demo.probe.test A name=dns
tcp  demo.probe.test:$HTTPS_PORT name=tcp
http GET https://demo.probe.test:$HTTPS_PORT/slow name=slow http=1.1 expect status=200 body*='slow'
EOF
bench_capture_start srv
bench_exec 1 "$PROBE" run --json --db "$T/p.db" --spool "$T/spool" --region r1 \
	--config /dev/null "$T/s.scn" >"$T/run.json" 2>"$T/err"
rc=$? out=$(cat "$T/run.json") err=$(cat "$T/err") # for expect_rc
expect_rc 0 "probe run in region 1's namespace"
bench_wait_closed 1 || not_ok "probe's connections close"
f=$(bench_capture_stop srv) || not_ok "the server-side capture is complete"

near() { awk -v g="$1" -v w="$2" -v t="$3" 'BEGIN { d = g - w; if (d < 0) d = -d; exit !(g != "" && d <= t) }'; }
dns=$(jget 'st("dns")["dns_ms"]') con=$(jget 'st("tcp")["connect_ms"]')
near "$dns" $((2 * D)) 1 && ok "dns_ms $dns = $((2 * D)) +- 1 ms" || not_ok "dns_ms $dns, want $((2 * D)) +- 1"
# connect_ms is the library's clock: the RTT plus the process's own
# latency to see the socket writable, which the sanitizer build (and a
# capture thread on a 2-core machine) stretches by up to ~1.5 ms; the
# wire's rtt_ms of the same connection is exact.
near "$con" $((2 * D)) 2 && ok "connect_ms $con = $((2 * D)) +- 2 ms (library clock)" || not_ok "connect_ms $con, want $((2 * D)) +- 2"
rtt=$(jget 'st("tcp")["connections"][0]["rtt_ms"]')
near "$rtt" $((2 * D)) 1 && ok "rtt_ms $rtt (pcap) = $((2 * D)) +- 1 ms" || not_ok "rtt_ms $rtt, want $((2 * D)) +- 1"
expect_eq "$(jget 'st("tcp")["connections"][0]["source"]')" pcap "rtt_ms comes from the packets"
expect_eq "$(jget 'st("tcp")["connections"][0]["src_addr"]')" "$BENCH_CLIENT_IP4_1" "probe's source is region 1's address"
sport=$(jget 'st("tcp")["connections"][0]["src_port"]')
# the server's view of that connection: SYN/ACK sent -> ACK received
srv=$(tshark -r "$f" -Y "tcp.port == $sport && tcp.flags.ack == 1 && tcp.len == 0 && !(tcp.flags.fin == 1)" \
	-T fields -e frame.time_epoch 2>/dev/null | head -n 2 | awk 'NR == 1 { a = $1 } NR == 2 { printf "%.3f", ($1 - a) * 1000 }')
near "$con" "$srv" 2 && ok "connect_ms $con = the server's SYN/ACK -> ACK $srv ms +- 2" ||
	not_ok "connect_ms $con vs the server's SYN/ACK -> ACK ${srv:-?} ms (+- 2)"
near "$rtt" "$srv" 1 && ok "rtt_ms $rtt = the server's SYN/ACK -> ACK $srv ms +- 1" ||
	not_ok "rtt_ms $rtt vs the server's SYN/ACK -> ACK ${srv:-?} ms (+- 1)"
expect_eq "$(jget 'st("slow")["status"]')" 200 "the slow page"
finish
