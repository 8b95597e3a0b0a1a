#!/usr/bin/env bash
# 0660-analyze-findings.sh: `probe analyze` finds what a capture shows,
# with the frame numbers that prove it (DESIGN section 6).
#
# 1. tests/data/pcap/LIST names hand-made captures (gen.py rebuilds them
#    byte for byte), one per finding a capture alone can show.  For each
#    NAME.pcap, NAME.expect holds, one per line ('#' starts a comment):
#      finding CODE F1,F2,...     every finding `probe analyze --json`
#                                 reports (connections' and top-level),
#                                 no more, no fewer: the code and its
#                                 frame numbers in capture order
#      conn N KEY VALUE           connections[N-1].KEY == VALUE
#      exchange N.M KEY VALUE     connections[N-1].exchanges[M-1].KEY
#      dns N KEY VALUE            dns[N-1].KEY
#      counts KEY VALUE           counts.KEY
#    VALUE is JSON (10, 224.3, "separate", null, true); numbers equal to
#    1 us.  Every finding's frames exist (tshark -r F -Y frame.number==N
#    prints one frame) and the text output names every finding with the
#    same frames.
# 2. On every tests/data/pcap/*.pcap, per connection (matched to tshark's
#    tcp.stream by its first frame), against tshark 4.0:
#      rtt_ms      = the SYN/ACK's frame time - the SYN's, when the stream
#                    has exactly one SYN and a SYN/ACK (not tshark's
#                    initial_rtt, which runs to the ACK completing the
#                    handshake); no SYN/ACK: rtt_ms null
#      retrans     = frames with tcp.analysis.retransmission,
#                    fast_retransmission or spurious_retransmission
#      dup_acks    = frames with tcp.analysis.duplicate_ack
#      zero_window = frames with tcp.analysis.zero_window
#      the RETRANSMISSIONS finding's frames = those retransmission frames
#                    (when <= 64; none: no finding)
# 3. vxlan_http.pcap (find_SLOW_SERVER inside VXLAN, VNI 42): the same
#    connections, exchanges, findings and DNS as the plain capture.
# 4. Live (root): a closed port on loopback (TCP_REFUSED) and SYNs dropped
#    on the bench (SYN_NO_SYNACK, >= 2 SYNs); the finding's frames are
#    exactly the SYN and RST frames tshark shows.
# Parts needing tshark, root or the bench skip without them.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_bench.sh"

PCAPS=tests/data/pcap
have_tshark=0
command -v tshark >/dev/null && have_tshark=1

# ---- the captures are gen.py's ---------------------------------------------
mkdir -p "$T/gen"
if python3 "$PCAPS/gen.py" "$T/gen"; then
	diffs=""
	for f in "$T"/gen/find_*.pcap "$T"/gen/vxlan_*.pcap; do
		cmp -s "$f" "$PCAPS/${f##*/}" || diffs+=" ${f##*/}"
	done
	expect_eq "${diffs:-none}" none "gen.py rebuilds every find_*.pcap and vxlan_*.pcap byte for byte"
else
	not_ok "gen.py failed"
fi

# ---- each LIST entry against its .expect ------------------------------------
# check_expect PCAP EXPECT JSON TEXT: prints ok/not ok lines; the frames
# to look up with tshark go to $T/frames ("CODE N" per line)
check_expect() {
	python3 - "$@" "$T/frames" <<'PY'
import json, sys
pcap, exp_f, json_f, text_f, frames_f = sys.argv[1:6]
name = pcap.rsplit("/", 1)[-1]
d = json.load(open(json_f))
text = open(text_f).read()
got = []
for c in d["connections"]:
	got += c["findings"]
got += d["findings"]
got_lines = sorted("%s %s" % (f["code"], ",".join(map(str, f["packets"])))
		   for f in got)
want_lines, figs = [], []
for ln in open(exp_f):
	ln = ln.split("#", 1)[0].strip()
	if not ln:
		continue
	p = ln.split(None, 1)
	if p[0] == "finding":
		want_lines.append(p[1].strip())
	else:
		figs.append(ln)
want_lines.sort()
fails = 0
def res(good, what, det=()):
	global fails
	if good:
		print("ok - %s: %s" % (name, what))
		return
	fails += 1
	print("not ok - %s: %s" % (name, what))
	for x in det:
		print("    " + x)
res(got_lines == want_lines, "findings == .expect (%s)" %
    "; ".join(want_lines), ["got:  " + " | ".join(got_lines),
			      "want: " + " | ".join(want_lines)])
def pick(kind, idx, key):
	if kind == "conn":
		return d["connections"][int(idx) - 1][key]
	if kind == "exchange":
		n, m = idx.split(".")
		return d["connections"][int(n) - 1]["exchanges"][int(m) - 1][key]
	if kind == "dns":
		return d["dns"][int(idx) - 1][key]
	raise KeyError(kind)
bad = []
for ln in figs:
	p = ln.split(None, 3)
	if p[0] == "counts":
		kind, idx, key, val = "counts", "", p[1], ln.split(None, 2)[2]
	else:
		kind, idx, key, val = p
	want = json.loads(val)
	try:
		g = d["counts"][key] if kind == "counts" else pick(kind, idx, key)
	except (KeyError, IndexError) as e:
		bad.append("%s: missing (%s)" % (ln, e))
		continue
	same = (g == want if isinstance(want, (str, bool)) or want is None or
		isinstance(g, (str, bool)) or g is None
		else abs(g - want) <= 1e-6)
	if not same:
		bad.append("%s: got %s" % (ln, json.dumps(g)))
res(not bad, "%d figures == .expect" % len(figs), bad)
# the text output names every finding with the same frames
missing = [l for l in got_lines
	   if "finding %s [%s]" % tuple(l.split(" ", 1)) not in text]
res(not missing and got_lines, "text output names every finding",
    missing or ["no findings"])
with open(frames_f, "w") as f:
	for l in got_lines:
		code, fr = l.split(" ", 1)
		for n in fr.split(","):
			f.write("%s %s\n" % (code, n))
sys.exit(1 if fails else 0)
PY
	[ $? -eq 0 ] || _fails=$((_fails + 1))
}

n_cases=0
while read -r name _; do
	case $name in '' | '#'*) continue ;; esac
	f=$PCAPS/$name
	e=$PCAPS/${name%.pcap}.expect
	n_cases=$((n_cases + 1))
	if [ ! -f "$f" ] || [ ! -f "$e" ]; then
		not_ok "$name: the capture and its .expect exist"
		continue
	fi
	"$PROBE" analyze --json "$f" >"$T/a.json" 2>"$T/a.err" ||
		{ not_ok "$name: probe analyze --json" "$(cat "$T/a.err")"; continue; }
	"$PROBE" analyze "$f" >"$T/a.txt" 2>"$T/a.err" ||
		{ not_ok "$name: probe analyze (text)" "$(cat "$T/a.err")"; continue; }
	check_expect "$f" "$e" "$T/a.json" "$T/a.txt"
	[ "$have_tshark" = 1 ] || continue
	bad=""
	while read -r code n; do
		c=$(tshark -n -r "$f" -Y "frame.number==$n" 2>/dev/null | wc -l)
		[ "$c" = 1 ] || bad+=" $code:$n($c)"
	done <"$T/frames"
	expect_eq "${bad:-none}" none "$name: tshark shows one frame for each finding frame"
done <"$PCAPS/LIST"
[ "$n_cases" -ge 24 ] || not_ok "LIST has $n_cases cases, want >= 24"

# ---- VXLAN: the same as the plain capture ----------------------------------
strip_json() {
	python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
print(json.dumps({k: d[k] for k in ("connections", "dns", "findings")},
		 sort_keys=True, indent=1))' "$1"
}
if "$PROBE" analyze --json "$PCAPS/vxlan_http.pcap" >"$T/vx.json" &&
	"$PROBE" analyze --json "$PCAPS/find_SLOW_SERVER.pcap" >"$T/pl.json"; then
	strip_json "$T/vx.json" >"$T/vx.n"
	strip_json "$T/pl.json" >"$T/pl.n"
	if diff "$T/pl.n" "$T/vx.n" >"$T/vx.diff"; then
		ok "vxlan_http.pcap: connections, exchanges, findings, DNS == the plain capture's"
	else
		not_ok "vxlan_http.pcap: the same as find_SLOW_SERVER.pcap" \
			"$(head -20 "$T/vx.diff")"
	fi
	expect_eq "$(python3 -c 'import json,sys
print(len(json.load(open(sys.argv[1]))["connections"]))' "$T/vx.json")" 1 \
		"vxlan_http.pcap: the connection inside the tunnel is found"
else
	not_ok "probe analyze on vxlan_http.pcap / find_SLOW_SERVER.pcap"
fi

# ---- per connection against tshark ------------------------------------------
# vs_tshark PCAP: rtt, retrans, dup_acks, zero_window, RETRANSMISSIONS
vs_tshark() {
	local f=$1
	"$PROBE" analyze --json "$f" >"$T/v.json" 2>/dev/null ||
		{ not_ok "${f##*/}: probe analyze --json"; return; }
	tshark -n -r "$f" -Y 'tcp && !icmp' -T fields -E separator=/t \
		-e frame.number -e tcp.stream -e frame.time_epoch \
		-e tcp.flags.syn -e tcp.flags.ack -e tcp.flags.reset \
		-e tcp.analysis.retransmission \
		-e tcp.analysis.fast_retransmission \
		-e tcp.analysis.spurious_retransmission \
		-e tcp.analysis.duplicate_ack -e tcp.analysis.zero_window \
		>"$T/v.tsv" 2>/dev/null
	python3 - "$f" "$T/v.json" "$T/v.tsv" <<'PY'
import json, sys
from decimal import Decimal
pcap, jf, tf = sys.argv[1:4]
name = pcap.rsplit("/", 1)[-1]
d = json.load(open(jf))
st = {}
for ln in open(tf):
	c = ln.rstrip("\n").split("\t")
	c += [""] * (11 - len(c))
	fr, s = int(c[0]), c[1]
	x = st.setdefault(s, {"first": fr, "syn": [], "synack": [], "rtx": [],
			      "dup": 0, "zw": 0})
	syn, ack = c[3] in ("1", "True"), c[4] in ("1", "True")
	t = Decimal(c[2])
	if syn and not ack:
		x["syn"].append(t)
	if syn and ack:
		x["synack"].append(t)
	if c[6] or c[7] or c[8]:
		x["rtx"].append(fr)
	if c[9]:
		x["dup"] += 1
	if c[10]:
		x["zw"] += 1
byfirst = {x["first"]: x for x in st.values()}
bad, n = [], 0
for i, c in enumerate(d["connections"], 1):
	x = byfirst.get(c["first_frame"])
	if x is None:
		bad.append("connection %d: no tcp.stream starts at frame %d" %
			   (i, c["first_frame"]))
		continue
	n += 1
	w = "connection %d" % i
	if len(x["syn"]) == 1 and x["synack"]:
		rtt = float((x["synack"][0] - x["syn"][0]) * 1000)
		if c["rtt_ms"] is None or abs(c["rtt_ms"] - rtt) > 0.0015:
			bad.append("%s: rtt_ms %s, tshark SYN -> SYN/ACK %.3f" %
				   (w, c["rtt_ms"], rtt))
	elif not x["synack"] and c["rtt_ms"] is not None:
		bad.append("%s: rtt_ms %s without a SYN/ACK" % (w, c["rtt_ms"]))
	for k, v in (("retrans", len(x["rtx"])), ("dup_acks", x["dup"]),
		     ("zero_window", x["zw"])):
		if c[k] != v:
			bad.append("%s: %s %s, tshark %d" % (w, k, c[k], v))
	rf = [f["packets"] for f in c["findings"]
	      if f["code"] == "RETRANSMISSIONS"]
	if not x["rtx"]:
		if rf:
			bad.append("%s: RETRANSMISSIONS %s, tshark none" % (w, rf))
	elif len(x["rtx"]) <= 64 and rf != [x["rtx"]]:
		bad.append("%s: RETRANSMISSIONS frames %s, tshark %s" %
			   (w, rf, x["rtx"]))
if len(byfirst) != len(d["connections"]):
	bad.append("%d connections, tshark %d streams" %
		   (len(d["connections"]), len(byfirst)))
if bad:
	print("not ok - %s: per connection == tshark" % name)
	for b in bad[:20]:
		print("    " + b)
	sys.exit(1)
print("ok - %s: %d connections: rtt_ms, retrans, dup_acks, zero_window, "
      "RETRANSMISSIONS frames == tshark" % (name, n))
PY
	[ $? -eq 0 ] || _fails=$((_fails + 1))
}
if [ "$have_tshark" = 1 ]; then
	for f in "$PCAPS"/*.pcap; do
		vs_tshark "$f"
	done
else
	skip "per connection figures vs tshark" "needs tshark"
fi

# ---- live: a closed port on loopback ----------------------------------------
# frame_flags PCAP N: tshark's tcp.flags of frame N
frame_flags() {
	tshark -n -r "$1" -Y "frame.number==$2" -T fields -e tcp.flags \
		2>/dev/null
}
# live_check PCAP CODE SYN_FLAGS_WANT...: the finding CODE's frames and
# the flags tshark shows for each, in order
live_frames() {
	"$PROBE" analyze --json "$1" | python3 -c '
import json, sys
d = json.load(sys.stdin)
fs = [f for c in d["connections"] for f in c["findings"]
      if f["code"] == sys.argv[1]]
print(" ".join(str(n) for f in fs[:1] for n in f["packets"]))' "$2"
}

if [ "$(id -u)" -ne 0 ] || ! command -v tcpdump >/dev/null ||
	[ "$have_tshark" = 0 ]; then
	skip "live captures of real failures" "needs root, tcpdump and tshark"
	finish
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1]); s.close()')
tcpdump -i lo --immediate-mode -U -n -w "$T/lo.pcap" \
	"tcp port $port" 2>"$T/td.err" &
tdpid=$!
for _ in $(seq 50); do
	grep -q "listening on" "$T/td.err" && break
	sleep 0.1
done
curl -sS --max-time 3 "http://127.0.0.1:$port/" >/dev/null 2>&1
sleep 0.3
kill -INT "$tdpid"
wait "$tdpid" 2>/dev/null
fr=$(live_frames "$T/lo.pcap" TCP_REFUSED)
flags=""
for n in $fr; do flags+="$(frame_flags "$T/lo.pcap" "$n") "; done
expect_eq "${flags% }" "0x0002 0x0014" \
	"live: curl to a closed port: TCP_REFUSED frames [$fr] are the SYN and the RST/ACK"

# ---- live: SYNs dropped on the bench -----------------------------------------
if ! bench_usable; then
	skip "live: SYN_NO_SYNACK on the bench" "$BENCH_SKIP"
	finish
fi
cat >"$T/prof" <<-EOF
	delay_ms = 5
	a2b.drop_nth = 1,2,3,4,5,6,7,8
EOF
bench_up --profile-1 "$T/prof" || { not_ok "bench_up"; finish; }
bench_capture_start syn 1 "" "tcp port 8080" ||
	not_ok "bench: capture on the client device"
bench_exec 1 curl -sS --connect-timeout 4 \
	"http://$BENCH_SERVER_IP4:8080/" >/dev/null 2>&1
if fc=$(bench_capture_stop syn); then
	fr=$(live_frames "$fc" SYN_NO_SYNACK)
	flags=""
	for n in $fr; do flags+="$(frame_flags "$fc" "$n") "; done
	nsyn=$(tshark -n -r "$fc" -Y 'tcp.flags == 0x002' 2>/dev/null | wc -l)
	expect_match "$flags" '^0x0002( 0x0002)+ $' \
		"live: bench, SYNs dropped: SYN_NO_SYNACK frames [$fr] are SYNs, >= 2"
	expect_eq "$(wc -w <<<"$fr")" "$nsyn" \
		"live: bench: every SYN tshark sees is in SYN_NO_SYNACK"
else
	not_ok "bench: the client-side capture is complete"
fi
finish
