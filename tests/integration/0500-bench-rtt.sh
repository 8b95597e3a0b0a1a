#!/usr/bin/env bash
# The bench's delay (lib_bench.sh, tests/tools/pbfwd): a one-way delay D in
# both directions gives an RTT of 2*D, measured three ways, each within
# +-0.5 ms: ping (IPv4 and IPv6) from the client namespace, the SYN ->
# SYN/ACK gap in a capture on the client's device, and the SYN/ACK -> ACK
# gap in a capture on the server's device (truth from the other side).
# Also: nginx runs in the server namespace on the server's addresses, and
# the link carries nothing but the test's packets.  The measure is a
# median each time (see below).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_bench.sh"
once_per_check "0500-bench-rtt"
bench_usable || { skip "bench RTT" "$BENCH_SKIP"; finish; }

D=10 # ms, one way
WANT=$((2 * D))
TOL=0.5
if bench_up --delay-ms $D; then ok "bench_up --delay-ms $D ($BENCH_UP_MS ms)"; else
	not_ok "bench_up --delay-ms $D"; finish; fi
S4=$BENCH_SERVER_IP4 S6=$BENCH_SERVER_IP6

# within GOT: |GOT - WANT| <= TOL
within() { awk -v g="$1" -v w="$WANT" -v t="$TOL" 'BEGIN { d = g - w; if (d < 0) d = -d; exit !(g != "" && d <= t) }'; }

# median: of the numbers on stdin
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# ---- ping --------------------------------------------------------------------
# The measure is the median of the 20 RTTs (ping's average is reported
# too): on a loaded machine one late wakeup can add tens of ms to a single
# packet, which says nothing about the configured delay.
for fam in 4 6; do
	a=S$fam
	out=$(bench_exec 1 ping -$fam -c 20 -i 0.05 "${!a}" 2>&1)
	times=$(sed -n 's/.* time=\([0-9.]*\) ms$/\1/p' <<<"$out")
	med=$(median <<<"$times")
	# rtt min/avg/max/mdev = 20.139/20.264/20.623/0.182 ms
	sum=$(sed -n 's|^rtt min/avg/max/mdev = \([0-9.]*\)/\([0-9.]*\)/\([0-9.]*\)/\([0-9.]*\) ms$|min \1, avg \2, max \3, mdev \4|p' <<<"$out")
	if [ "$(grep -c . <<<"$times")" = 20 ] && within "$med"; then
		ok "ping -$fam: RTT median $med ms ($sum; 20/20) = $WANT +- $TOL ms"
	else
		not_ok "ping -$fam: RTT median ${med:-?} ms, want $WANT +- $TOL ms, 20 replies" "$out"
	fi
done

# ---- SYN -> SYN/ACK, client side; SYN/ACK -> ACK, server side ---------------------
if bench_nginx_start; then ok "nginx in the server namespace on $S4 and [$S6]"; else
	not_ok "bench_nginx_start"; finish; fi
bench_capture_start cli 1 "" "tcp port $HTTP_PORT" || not_ok "capture on the client device"
bench_capture_start srv server "" "tcp port $HTTP_PORT" || not_ok "capture on the server device"
N=5
got=""
for ((i = 0; i < N; i++)); do
	got+=$(bench_exec 1 curl -sS --max-time 5 "http://$S4:$HTTP_PORT/" 2>&1)
done
expect_eq "$got" "$(for ((i = 0; i < N; i++)); do echo "hello from probe demo"; done | tr -d '\n')" \
	"$N GETs from the client namespace to nginx"
bench_wait_closed 1 || not_ok "the client's connections close"
fc=$(bench_capture_stop cli) || not_ok "the client-side capture is complete"
fs=$(bench_capture_stop srv) || not_ok "the server-side capture is complete"

# gaps PCAP FIRST SECOND: per TCP stream, the ms from the first packet
# matching FIRST to the first one matching SECOND (tshark display filters)
gaps() {
	tshark -r "$1" -Y "($2) || ($3)" -T fields -e tcp.stream -e frame.time_epoch \
		-e tcp.flags.syn -e tcp.flags.ack -e tcp.len 2>/dev/null |
		awk -v first="$4" '
		{ kind = ($3 == 1 || $3 == "True") ? (($4 == 1 || $4 == "True") ? "synack" : "syn") : "ack" }
		!(($1, "a") in t) && kind == first { t[$1, "a"] = $2; next }
		(($1, "a") in t) && !(($1, "b") in t) && kind != first { t[$1, "b"] = $2; n[++k] = $1 }
		END { for (i = 1; i <= k; i++) printf "%.3f\n", (t[n[i], "b"] - t[n[i], "a"]) * 1000 }'
}
# check_gaps WHAT GAPS: N gaps, their median within +-TOL of 2*D (the
# measure), all but one within +-2 ms (a late wakeup on a loaded machine
# is not the bench's delay being wrong; a wrong delay is off by whole ms)
check_gaps() {
	local what=$1 list=$2 n med bad=0
	n=$(grep -c . <<<"$list")
	med=$(median <<<"$list")
	for g in $list; do TOL=2 within "$g" || bad=$((bad + 1)); done
	if [ "$n" = "$N" ] && [ $bad -le 1 ] && within "$med"; then
		ok "$what: median $med ms of $N ($(tr '\n' ' ' <<<"$list" | sed 's/ $//')) = $WANT +- $TOL ms"
	else
		not_ok "$what: want $N gaps, median $WANT +- $TOL ms, all but one +- 2 ms" \
			"got $n: $(tr '\n' ' ' <<<"$list")" "median ${med:-?}; $bad off by more than 2 ms"
	fi
}
check_gaps "SYN -> SYN/ACK on the client's device" \
	"$(gaps "$fc" 'tcp.flags.syn==1 && tcp.flags.ack==0' 'tcp.flags.syn==1 && tcp.flags.ack==1' syn)"
check_gaps "SYN/ACK -> ACK on the server's device" \
	"$(gaps "$fs" 'tcp.flags.syn==1 && tcp.flags.ack==1' 'tcp.flags.syn==0 && tcp.flags.ack==1 && tcp.len==0' synack)"
# the server answers the SYN at once: the delay is all in the link
srv=$(gaps "$fs" 'tcp.flags.syn==1 && tcp.flags.ack==0' 'tcp.flags.syn==1 && tcp.flags.ack==1' syn)
if [ "$(grep -c . <<<"$srv")" = "$N" ] && awk '$1 >= 1 { bad = 1 } END { exit bad }' <<<"$srv"; then
	ok "SYN -> SYN/ACK on the server's device under 1 ms ($(tr '\n' ' ' <<<"$srv" | sed 's/ $//'))"
else
	not_ok "SYN -> SYN/ACK on the server's device under 1 ms" "$srv"
fi

# ---- the link saw only the test's packets -------------------------------------------
st=$(bench_stats 1)
expect_match "$st" '^a2b forwarded=[1-9][0-9]* dropped=0 ' "pbfwd forwarded upstream, dropped nothing"
expect_match "$st" $'\n''b2a forwarded=[1-9][0-9]* dropped=0 .* unparsed=0 ' "pbfwd forwarded downstream, dropped nothing"
up=$(awk '$1 == "a2b" { sub("forwarded=", "", $2); print $2 }' <<<"$st")
expect_eq "$up" $((2 * 20 + $(tshark -r "$fc" -Y 'ip.src == '"$BENCH_CLIENT_IP4_1" 2>/dev/null | wc -l))) \
	"upstream packets = 40 pings + the client's TCP packets (no other traffic)"
finish
