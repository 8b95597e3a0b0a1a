#!/usr/bin/env bash
# 0710-run-retrans.sh: a probe run whose connection loses five data
# segments each way (the bench drops them deterministically: requests
# 2, 4, 6, 8, 10 of twelve upstream, five response segments downstream)
# reports retrans equal to tshark's tcp.analysis.retransmission count on
# a client-side tcpdump of the same device, and its RETRANSMISSIONS
# finding cites exactly tshark's retransmission frames: the run's frame
# numbers are those of the capture (the run is the namespace's only
# traffic, a literal address: no DNS), so `tshark -r FILE -Y
# frame.number==N` shows the evidence.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_bench.sh"
bench_usable || { skip "retransmissions of a probe run" "$BENCH_SKIP"; finish; }
command -v tshark >/dev/null || { skip "retransmissions of a probe run" "no tshark"; finish; }

bench_up --delay-ms 5 && bench_pbserver_start ||
	{ not_ok "bench with pbserver"; finish; }
U=http://$BENCH_SERVER_IP4:$PBSERVER_PORT
{
	echo "scenario run-retrans"
	echo "timeout 60s"
	for i in $(seq 12); do
		echo "http GET $U/?size=30000&n=$i name=get$i expect status=200"
	done
} >"$T/s.scn"
# upstream data segments: the twelve requests; downstream: 30 kB answers
# of about 21 segments each (MSS 1448): the drops spread over them
bench_profile 1 "a2b.drop_data=2,4,6,8,10" "b2a.drop_data=3,30,60,90,120" ||
	not_ok "the drop profile"
bench_capture_start cli 1 "" "tcp port $PBSERVER_PORT" || not_ok "client-side capture"
bench_exec 1 "$PROBE" run --json --db "$T/p.db" --spool "$T/spool" --region r1 \
	--config /dev/null "$T/s.scn" >"$T/run.json" 2>"$T/err"
rc=$? out=$(cat "$T/run.json") err=$(cat "$T/err")
expect_rc 0 "probe run with dropped segments"
bench_wait_closed 1 || not_ok "the connection closes"
f=$(bench_capture_stop cli) || not_ok "the client-side capture is complete"

conn() { jget "st('get1')['connections'][0]['$1']"; }
expect_eq "$(conn source)" pcap "the connection's figures come from the packets"
up=$(tshark -r "$f" -Y "tcp.analysis.retransmission && tcp.dstport == $PBSERVER_PORT" -T fields -e frame.number 2>/dev/null | wc -l)
down=$(tshark -r "$f" -Y "tcp.analysis.retransmission && tcp.srcport == $PBSERVER_PORT" -T fields -e frame.number 2>/dev/null | wc -l)
[ "$up" -ge 5 ] && [ "$down" -ge 5 ] && ok "tshark: $up retransmissions upstream, $down downstream (>= 5 each)" ||
	not_ok "tshark: $up upstream, $down downstream retransmissions, want >= 5 each"
expect_eq "$(conn retrans)" $((up + down)) "probe's retrans = tshark's count"
want=$(tshark -r "$f" -Y tcp.analysis.retransmission -T fields -e frame.number 2>/dev/null | paste -sd, -)
got=$(jget "','.join(str(n) for f in st('get1')['findings'] if f['code'] == 'RETRANSMISSIONS' for n in f['packets'])")
expect_eq "$got" "$want" "RETRANSMISSIONS cites tshark's retransmission frames"
n=$(tshark -r "$f" -T fields -e frame.number 2>/dev/null | wc -l)
expect_sql "SELECT count(*) FROM findings WHERE code = 'RETRANSMISSIONS'" 1 "the finding is stored"
expect_sql "SELECT capture || ',' || capture_drops FROM runs" "on,0" "capture on, no drops"
# the frame numbers are the capture's: the last one exists in it
last=${want##*,}
[ -n "$last" ] && [ "$last" -le "$n" ] &&
	[ "$(tshark -r "$f" -Y "frame.number == $last && tcp.analysis.retransmission" -T fields -e frame.number 2>/dev/null)" = "$last" ] &&
	ok "frame $last of the capture is a retransmission (of $n frames)" ||
	not_ok "frame $last is not a retransmission in the capture ($n frames)"
finish
