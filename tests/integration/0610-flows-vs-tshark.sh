#!/usr/bin/env bash
# 0610-flows-vs-tshark.sh: the connections src/analyze/flow.c makes of a
# capture (through build/tools/pbdecode --flows) agree with tshark's
# tcp.stream: one flow per stream, client and server ports, the handshake
# RTT (first SYN -> first SYN/ACK, to 0.001 ms), who reset, and payload
# bytes each way (the sum of tcp.len).  Traffic: curl against
# python3 -m http.server on loopback (clean handshakes) and curl to a
# closed port (RST in answer to the SYN).  Then, when the test bench is
# usable, the same across a 20 ms RTT, where rtt_ms must be 20 +- 1 per connection (the bench adds 0.1-0.3 ms, more on a loaded machine; 0500 holds the +-0.5 median).
# Needs root (capture), tcpdump and tshark; skips otherwise.
. "$(dirname "$0")/lib.sh"
once_per_check "0610-flows-vs-tshark"

DEC=$PWD/build/tools/pbdecode

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
# after our trap: bench_down joins it
. "$(dirname "$0")/lib_bench.sh"

if [ "$(id -u)" -ne 0 ] || ! command -v tcpdump >/dev/null ||
	! command -v tshark >/dev/null || [ ! -x "$DEC" ]; then
	skip "flows vs tshark" "needs root, tcpdump, tshark and $DEC"
	finish
fi

free_port() {
	python3 -c 'import socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# flows_check NAME PCAP WANT_RST_PORT [RTT_MS TOLERANCE]: pbdecode --flows
# against tshark; prints ok/not ok lines.  WANT_RST_PORT: the server port
# whose flows must show rst=server ("" for none); every other flow must
# show none.  With RTT_MS, every measured RTT must lie within TOLERANCE.
flows_check() {
	local name=$1 pcap=$2
	"$DEC" --flows "$pcap" >"$T/$name.flows" 2>"$T/$name.flows.err" ||
		{ not_ok "$name: pbdecode --flows failed" \
			"$(cat "$T/$name.flows.err")"; return; }
	tshark -n -r "$pcap" -Y 'tcp.flags.syn==1' -T fields -e tcp.stream \
		-e tcp.flags.ack -e frame.time_epoch -e tcp.srcport \
		>"$T/$name.syn" 2>"$T/$name.tshark.err"
	tshark -n -r "$pcap" -Y tcp -T fields -e tcp.stream -e tcp.srcport \
		-e tcp.dstport -e tcp.len -e tcp.flags.reset \
		>"$T/$name.seg" 2>>"$T/$name.tshark.err"
	python3 - "$T/$name.flows" "$T/$name.syn" "$T/$name.seg" "$name" \
		"$3" "${4:-}" "${5:-}" <<'PY'
import sys
from decimal import Decimal
flows_f, syn_f, seg_f, name, rst_port, want_rtt, tol = sys.argv[1:8]
fails_n = [0]
def ok(what): print("ok - %s: %s" % (name, what))
def bad(what, *det):
	fails_n[0] += 1
	print("not ok - %s: %s" % (name, what))
	for d in det: print("    " + d)

streams = {}   # stream -> dict
for line in open(seg_f):
	s, sp, dp, ln, rst = line.rstrip("\n").split("\t")
	st = streams.setdefault(s, {"segs": [], "syn": [], "synack": []})
	st["segs"].append((int(sp), int(dp), int(ln or 0),
			   rst in ("1", "True")))
for line in open(syn_f):
	s, ack, t, sp = line.rstrip("\n").split("\t")
	st = streams[s]
	acked = ack in ("1", "True")
	(st["synack"] if acked else st["syn"]).append((Decimal(t), int(sp)))

flows = [l.split() for l in open(flows_f)]
if len(flows) == len(streams):
	ok("%d flows, as many as tshark's tcp streams" % len(flows))
else:
	bad("%d flows, tshark has %d streams" % (len(flows), len(streams)),
	    *open(flows_f).read().splitlines()[:20])

byport = {}
for st in streams.values():
	if not st["syn"]:
		continue
	cport = st["syn"][0][1]
	sport = [d for s, d, _, _ in st["segs"] if s == cport][0]
	byport[(cport, sport)] = st

n_rtt = n_rst = 0
for f in flows:
	cip, cport, sip, sport, nsyn, sretr, rtt, rst, cb, sb = f
	key = (int(cport), int(sport))
	st = byport.get(key)
	tag = "%s:%s -> %s:%s" % (cip, cport, sip, sport)
	if st is None:
		bad("%s: no tshark stream with that client port" % tag)
		continue
	c2s = sum(l for s, d, l, r in st["segs"] if s == key[0])
	s2c = sum(l for s, d, l, r in st["segs"] if s == key[1])
	if (int(cb), int(sb)) != (c2s, s2c):
		bad("%s: bytes %s/%s, tshark %d/%d" % (tag, cb, sb, c2s, s2c))
	n = len(st["syn"])
	if (int(nsyn), int(sretr)) != (n, n - 1):
		bad("%s: n_syn %s syn_retrans %s, tshark %d SYNs" %
		    (tag, nsyn, sretr, n))
	if st["synack"] and n == 1:
		want = (st["synack"][0][0] - st["syn"][0][0]) * 1000
		if rtt == "-" or abs(Decimal(rtt) - want) > Decimal("0.001"):
			bad("%s: rtt_ms %s, tshark %.6f" % (tag, rtt, want))
		elif want_rtt and abs(Decimal(rtt) - Decimal(want_rtt)) > \
				Decimal(tol):
			bad("%s: rtt_ms %s, want %s +- %s" %
			    (tag, rtt, want_rtt, tol))
		else:
			n_rtt += 1
	elif not st["synack"] and rtt != "-":
		bad("%s: rtt_ms %s without a SYN/ACK" % (tag, rtt))
	first_rst = [s for s, d, l, r in st["segs"] if r]
	want_rst = "none"
	if first_rst:
		want_rst = "client" if first_rst[0] == key[0] else "server"
	if rst != want_rst:
		bad("%s: rst=%s, tshark says %s" % (tag, rst, want_rst))
	if rst_port and int(sport) == int(rst_port):
		if rst == "server":
			n_rst += 1
		else:
			bad("%s: rst=%s, want server (closed port)" %
			    (tag, rst))
	elif rst_port and rst != "none":
		bad("%s: rst=%s, want none" % (tag, rst))
if n_rtt:
	ok("%d handshake RTTs == tshark's to 0.001 ms%s" %
	   (n_rtt, " and %s +- %s ms" % (want_rtt, tol) if want_rtt else ""))
else:
	bad("no handshake RTT agreed with tshark")
if rst_port:
	if n_rst:
		ok("closed port: rst=server on %d flows" % n_rst)
	else:
		bad("closed port: no flow with rst=server")
if not fails_n[0]:
	ok("bytes, SYN counts and rst == tshark's on every flow")
sys.exit(1 if fails_n[0] else 0)
PY
	[ $? -eq 0 ] || _fails=$((_fails + 1))
}

# Loopback: clean handshakes and a closed port.
mkdir -p "$T/www"
head -c 100000 /dev/urandom >"$T/www/big.bin"
echo hello >"$T/www/index.html"
P1=$(free_port)
P2=$(free_port)
python3 -m http.server -b 127.0.0.1 -d "$T/www" "$P1" >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 100); do
	curl -s -o /dev/null "http://127.0.0.1:$P1/" && break
	sleep 0.05
done

tcpdump -i lo --immediate-mode -U -n -w "$T/lo.pcap" \
	"tcp port $P1 or tcp port $P2" 2>"$T/lo.pcap.err" &
cap_pid=$!
pids+=("$cap_pid")
for _ in $(seq 100); do
	grep -q 'listening on' "$T/lo.pcap.err" 2>/dev/null && break
	sleep 0.05
done
for _ in 1 2 3; do
	curl -s -o /dev/null "http://127.0.0.1:$P1/index.html"
	curl -s -o /dev/null "http://127.0.0.1:$P1/big.bin"
done
curl -s -o /dev/null --max-time 5 "http://127.0.0.1:$P2/"
sleep 0.3
kill -INT "$cap_pid" 2>/dev/null
wait "$cap_pid" 2>/dev/null
flows_check lo "$T/lo.pcap" "$P2"

# The bench: 10 ms each way, captured on the client's device.  Port 9 in
# the server namespace is closed.
if ! bench_usable; then
	skip "bench: flows across a 20 ms RTT" "$BENCH_SKIP"
	finish
fi
bench_up --delay-ms 10 || { not_ok "bench_up --delay-ms 10"; finish; }
bench_nginx_start || { not_ok "bench_nginx_start"; finish; }
S4=$BENCH_SERVER_IP4
bench_capture_start cli 1 "" "tcp port $HTTP_PORT or tcp port 9" ||
	not_ok "bench: capture on the client device"
for _ in 1 2 3; do
	bench_exec 1 curl -s -o /dev/null --max-time 5 "http://$S4:$HTTP_PORT/"
done
bench_exec 1 curl -s -o /dev/null --max-time 5 "http://$S4:9/"
bench_wait_closed 1 || not_ok "bench: the client's connections close"
if fc=$(bench_capture_stop cli); then
	flows_check bench "$fc" 9 20 1.0 # per connection; the +-0.5 median is 0500's
else
	not_ok "bench: the client-side capture is complete"
fi
finish
