#!/usr/bin/env bash
# probe's wire figures against the truth (issue 5): probe runs in the bench
# (region 1) with its own capture; each exchange's rtt_ms and think_ms
# (source pcap) are compared with what the server side saw
# (tests/integration/lib_truth.sh: the server-side capture, SYN/ACK -> ACK
# for the RTT, request in -> response out for the think time, pbserver's
# log or nginx's request burst and sleep saying which segments those are).
# A case in which the bench itself held a packet more than 1 ms over the
# configured delay is run again (truth_case, at most 3 runs, with a "#"
# line): the truth would then not describe probe's packets.
#
# Cases: one-way D in {10, 20, 40} ms x think T in {0, 150} ms x {HTTP/1.1
# cleartext, TLS 1.2, TLS 1.3 with tickets, h2 (nginx)}; at D=20: a request
# on a kept-alive connection, a resumed TLS session, the request's first
# transmission dropped, the server's delayed ACK, a Nagle stall; then the
# veth topology with offloads on (segments larger than the MSS): TLS 1.3
# T=150 and a 5 MB download.
#
# Tolerances, from the bench's measured jitter (lib_bench.sh "Timing",
# 0500-bench-rtt.sh, FIELD-NOTES.md):
# - pbfwd keeps each leg 0.1-0.5 ms over the configured delay when idle,
#   never under.  probe's rtt_ms (SYN -> SYN/ACK, client side) and the truth
#   (SYN/ACK -> ACK, server side) share the SYN/ACK's leg and differ in one
#   upstream leg (SYN vs ACK): |error| <= 0.5 ms from the bench; +-1 ms
#   (TOL_RTT) leaves room for one late wakeup of the VM's timer.
# - think_ms = ttfb_wire - rtt_ms: the response's two legs against the
#   handshake's two legs, up to 4 x 0.5 ms apart in theory, plus the truth's
#   own offset (a segment's timestamp on the server's device is taken in
#   the kernel, tens of us from the server's code).  Measured: |error|
#   median 0.05 ms, p95 0.17 ms over 420 runs (BENCHMARKS.md).  +-1.5 ms
#   (TOL_THINK).
# - the issue's acceptance, against the configured values: D=20, T=150,
#   TLS 1.3 with tickets: rtt_ms 40 +- 1, think_ms 150 +- 3 (pbserver's
#   sleep overshoots by a median 0.13 ms, FIELD-NOTES.md).
# A failure beyond these is reported, not absorbed: the tolerance stays.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_bench.sh"
. "$(dirname "$0")/lib_truth.sh"
[ -z "${TRUTH_KEEP:-}" ] || TRUTH_DIR=$TRUTH_KEEP
bench_usable || { skip "probe's figures against the truth" "$BENCH_SKIP"; finish; }

TOL_RTT=1.0
TOL_THINK=1.5

# near GOT WANT TOL
near() { awk -v g="$1" -v w="$2" -v t="$3" 'BEGIN { d = g - w; if (d < 0) d = -d; exit !(g != "" && g != "-" && w != "" && w != "-" && d <= t) }'; }

# check CASE STEP EX FIGURE TOL: probe's figure within TOL of the truth, source pcap
check() {
	local c=$1 s=$2 e=$3 f=$4 tol=$5 p t src q m
	p=$(truth_get "$c" "$s" "$e" "$f" probe) t=$(truth_get "$c" "$s" "$e" "$f" truth)
	src=$(truth_get "$c" "$s" "$e" "$f" source) q=$(truth_get "$c" "$s" "$e" "$f" quality)
	m=$(truth_get "$c" "$s" "$e" "$f" method)
	if [ "$src" = pcap ] && near "$p" "$t" "$tol"; then
		ok "$c $s#$e: $f $p = truth $t +- $tol ms ($m; source $src, $q)"
	else
		not_ok "$c $s#$e: $f ${p:-?} vs truth ${t:-?} (+- $tol ms, $m), source ${src:-?} (want pcap), quality ${q:-?}" \
			"$(grep -P "^$c\t$s\t" "$TRUTH_DIR/lines" | tr '\t' ' ')"
	fi
}

if truth_up --delay-ms 20; then ok "bench with dnsmasq, nginx and pbserver"; else
	not_ok "truth_up"; finish; fi

# ---- the grid --------------------------------------------------------------------
for D in 10 20 40; do
	truth_delay $D || not_ok "delay $D ms"
	for TH in 0 150; do
		for kind in plain tls12 tls13 h2; do
			c=$kind-d$D-t$TH
			case $kind in
			plain) truth_case "$c" "http GET $(truth_url plain $TH) name=x" ;;
			tls12) truth_case "$c" "http GET $(truth_url tls $TH) name=x tls_max=1.2 http=1.1" ;;
			tls13) truth_case "$c" "http GET $(truth_url tls $TH) name=x tls_min=1.3 http=1.1" ;;
			h2) truth_case "$c" --nginx-ms $TH "http GET $(truth_url h2 $TH) name=x http=2" ;;
			esac
			rc=$?
			[ $rc = 0 ] || not_ok "$c: probe run exits $rc" "$(cat "$TRUTH_DIR/$c/err")"
			check "$c" x 1 rtt_ms $TOL_RTT
			check "$c" x 1 think_ms $TOL_THINK
		done
	done
done
expect_eq "$(jget 'st("x")["http_version"]')/$(jget 'st("x")["alpn"]')" 2/h2 "the h2 cases speak h2"

# ---- the acceptance case: D=20, T=150, TLS 1.3 with tickets -----------------------
truth_delay 20 || not_ok "delay 20 ms"
# Against the configured values the server must have slept as told:
# pbserver's sleep overshoots by a median 0.13 ms but by up to 3.5 ms on a
# loaded machine (FIELD-NOTES.md); a run where the truth itself is more
# than 1 ms off 150 is done again (3 runs at most), saying so.
c=accept
for i in 1 2 3; do
	truth_case $c "http GET $(truth_url tls 150) name=x tls_min=1.3 http=1.1" || not_ok "$c: probe run"
	t=$(truth_get $c x 1 think_ms truth)
	near "$t" 150 1 && break
	echo "# $c: the server thought $t ms, not 150 (+- 1): run $i not used"
	[ $i = 3 ] || { awk -F'\t' -v c="$c" '$1 != c' "$TRUTH_DIR/lines" >"$T/l" && cp "$T/l" "$TRUTH_DIR/lines"; }
done
expect_eq "$(jget 'st("x")["tls_version"]')" TLSv1.3 "$c: TLS 1.3"
check $c x 1 rtt_ms $TOL_RTT
check $c x 1 think_ms $TOL_THINK
p=$(truth_get $c x 1 rtt_ms probe) s=$(truth_get $c x 1 rtt_ms source)
[ "$s" = pcap ] && near "$p" 40 1 && ok "$c: rtt_ms $p = 40 +- 1 (source $s)" ||
	not_ok "$c: rtt_ms ${p:-?} (source ${s:-?}), want 40 +- 1, source pcap"
p=$(truth_get $c x 1 think_ms probe) s=$(truth_get $c x 1 think_ms source)
[ "$s" = pcap ] && near "$p" 150 3 && ok "$c: think_ms $p = 150 +- 3 (source $s)" ||
	not_ok "$c: think_ms ${p:-?} (source ${s:-?}), want 150 +- 3, source pcap"
n=$(truth_get $c x 1 records_between probe) nv=$(truth_get $c x 1 naive_think probe)
[ "${n:-0}" -ge 2 ] 2>/dev/null && ok "$c: $n server TLS records (the tickets) between the request and the response, client side" ||
	not_ok "$c: server records between the request and the response: ${n:-?}, want >= 2 (two tickets)"
t=$(truth_get $c x 1 naive_think truth)
awk -v n="$nv" -v t="$t" 'BEGIN { exit !(n != "" && n != "-" && n < 10 && t > 140) }' &&
	ok "$c: the naive first-record-after-the-request think would be $nv ms (truth $t)" ||
	not_ok "$c: the naive first-record think ${nv:-?} ms, expected under 10 (the tickets; truth ${t:-?})"

# ---- a kept-alive connection (HTTP/1.1 cleartext, T=0) -----------------------------
c=keepalive
truth_case $c "http GET $(truth_url plain 0) name=a" "http GET $(truth_url plain 0) name=b" ||
	not_ok "$c: probe run"
expect_eq "$(jget 'st("b")["conn_state"]')" reused "$c: the second request reuses the connection"
for s in a b; do check $c $s 1 rtt_ms $TOL_RTT; check $c $s 1 think_ms $TOL_THINK; done

# ---- the server's delayed ACK: kept-alive, TLS 1.3, T=150 --------------------------
c=delack
truth_case $c "http GET $(truth_url tls 150) name=a tls_min=1.3 http=1.1" \
	"http GET $(truth_url tls 150) name=b tls_min=1.3 http=1.1" || not_ok "$c: probe run"
expect_eq "$(jget 'st("b")["conn_state"]')" reused "$c: the second request reuses the connection"
for s in a b; do check $c $s 1 rtt_ms $TOL_RTT; check $c $s 1 think_ms $TOL_THINK; done
check $c b 1 request_ack_ms $TOL_RTT
expect_eq "$(jget 'exchanges(st("b"))[0]["server_delayed_ack"]')" 1 "$c: server_delayed_ack=1 on the second request"
expect_match "$(jget '[f["code"] for f in st("b")["findings"]]')" '"SERVER_DELAYED_ACK"' "$c: a SERVER_DELAYED_ACK finding"
ra=$(truth_get $c b 1 request_ack_ms probe) rt=$(truth_get $c b 1 rtt_ms probe)
# Linux's delayed ACK: ato starts at 40 ms (TCP_ATO_MIN), fires on the
# next timer tick and adapts upwards: 40-48 ms seen here
d=$(awk -v a="$ra" -v r="$rt" 'BEGIN { print a - r }')
awk -v d="$d" 'BEGIN { exit !(d >= 38 && d <= 60) }' &&
	ok "$c: request_ack_ms $ra = rtt_ms $rt + $d (the server's delayed ACK, 40-60 ms)" ||
	not_ok "$c: request_ack_ms ${ra:-?} - rtt_ms ${rt:-?} = ${d:-?}, want 38..60 ms"

# ---- a resumed TLS session ------------------------------------------------------------
c=resumed
truth_case $c "http GET $(truth_url tls 150 '&close=1') name=a tls_min=1.3 http=1.1" \
	"http GET $(truth_url tls 150) name=b tls_min=1.3 http=1.1" || not_ok "$c: probe run"
expect_eq "$(jget 'st("b")["conn_state"]')/$(jget 'st("b")["tls_resumed"]')" resumed/1 "$c: the second connection resumes (conn_state, tls_resumed)"
for s in a b; do check $c $s 1 rtt_ms $TOL_RTT; check $c $s 1 think_ms $TOL_THINK; done

# ---- the request's first transmission dropped ------------------------------------------
# A first run finds which of the run's client data segments carries the
# request (ClientHello, Finished, request...); pbfwd counts data segments
# from its start, so K = the segments so far + that ordinal.
c=drop
truth_case $c-count "http GET $(truth_url tls 150) name=x tls_min=1.3 http=1.1"
k=$(truth_get $c-count x 1 req_segment probe)
n0=$(truth_data_count)
if [ -n "$k" ] && [ "$k" != - ] && bench_profile 1 "a2b.drop_data=$((n0 + k))"; then
	# truth_run: once (a second run would not be dropped)
	truth_run $c "http GET $(truth_url tls 150) name=x tls_min=1.3 http=1.1" >/dev/null || not_ok "$c: probe run"
	bench_profile 1 a2b.drop_data= || not_ok "$c: profile restored"
	expect_eq "$(bench_stat 1 a2b data)" 1 "$c: pbfwd dropped the request's data segment (ordinal $((n0 + k)), the run's #$k)"
	check $c x 1 rtt_ms $TOL_RTT
	check $c x 1 think_ms $TOL_THINK
	r=$(jget 'st("x")["connections"][0]["retrans"]')
	[ "${r:-0}" -ge 1 ] 2>/dev/null && ok "$c: the retransmission is counted (retrans $r)" ||
		not_ok "$c: retrans ${r:-?}, want >= 1"
else
	not_ok "$c: the request's data segment ordinal (${k:-?}) and the drop profile"
fi

# ---- a Nagle stall: TLS 1.3 tickets hold the answer ---------------------------------------
c=nagle
truth_case $c "http GET $(truth_url tls 0 '&nodelay=0') name=x tls_min=1.3 http=1.1" ||
	not_ok "$c: probe run"
expect_match "$(jget '[f["code"] for f in st("x")["findings"]]')" '"NAGLE_STALL"' "$c: a NAGLE_STALL finding"
check $c x 1 think_ms $TOL_THINK
tl=$(truth_get $c x 1 think_log truth) tc=$(truth_get $c x 1 think_ms truth)
awk -v l="$tl" -v c="$tc" 'BEGIN { exit !(l != "" && l < 1 && c > 40) }' &&
	ok "$c: the stall ($tc ms, server-side capture) is not pbserver's think ($tl ms)" ||
	not_ok "$c: stall ${tc:-?} ms in the capture, pbserver thought ${tl:-?} ms: want > 40 and < 1"

# ---- offloads on: veth, TSO/GSO/GRO ----------------------------------------------------------
bench_down
if truth_up --offload; then
	ok "veth bench with offloads on"
	c=offload-tls13
	truth_case $c "http GET $(truth_url tls 150) name=x tls_min=1.3 http=1.1" || not_ok "$c: probe run"
	check $c x 1 rtt_ms $TOL_RTT
	check $c x 1 think_ms $TOL_THINK
	c=offload-big
	truth_case $c "http GET $(truth_url tls 0 '&size=5000000') name=x tls_min=1.3 http=1.1" ||
		not_ok "$c: probe run"
	expect_eq "$(jget 'st("x")["bytes"]')" 5000000 "$c: 5 MB downloaded"
	# probe's capture once dropped 28-108 of ~300 such 64 KB GRO packets
	# (TPACKET_V2 slots sized for 64 KiB, a 4 MiB ring); since it reads
	# TPACKET_V3 blocks (src/capture/capture.h) it drops none, and
	# transfer_ms ends where the client-side capture says.
	drops=$(jget 'r["capture_drops"]')
	expect_eq "$drops" 0 "$c: probe's capture dropped no packet"
	check $c x 1 rtt_ms $TOL_RTT
	check $c x 1 think_ms $TOL_THINK
	check $c x 1 transfer_ms $TOL_THINK
	big=$(awk -F'\t' '$9 > 1448 { n++ } END { print n + 0 }' "$TRUTH_DIR/$c/cli.tsv")
	[ "$big" -gt 0 ] && ok "$c: $big segments larger than the MSS in the client-side capture" ||
		not_ok "$c: no segment larger than the MSS (offloads off?)"
else
	not_ok "truth_up --offload"
fi
finish
