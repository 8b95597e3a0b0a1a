#!/usr/bin/env bash
# 0620-capture.sh: src/capture/ (through build/tools/pbcap) against
# tcpdump on the same interface and filter at the same time:
#   - curl against python3 -m http.server on lo: the same frames, byte for
#     byte (tcpdump -r -nn -x of both), timestamps within 500 us of
#     tcpdump's (the kernel stamps each tap's copy of a TCP frame on lo
#     apart), in a nanosecond pcap whose stamps are not whole
#     microseconds; UDP datagrams on lo with timestamps equal to the ns;
#   - without --iface: lo (for 127.0.0.1) and the default routes' devices;
#   - capture_set_filter mid-run: a connection made before the switch (the
#     filter then matched an unused port) is not captured, the three made
#     after it are, completely;
#   - the ring's soft cap (--ring 20000, a 1 MB download): frames past it
#     are headers only (tshark still sees tcp.len = the missing payload);
#     a tiny ring also loses frames and counts them;
#   - privileges: as nobody without capabilities, exit 3 with a
#     "permission denied" message; a copy with `setcap cap_net_raw+ep` (no
#     cap_net_admin: enough here, see capture.h) captures as nobody, and
#     with --drop ends with CapEff and CapPrm holding CAP_NET_RAW alone,
#     with which one more interface can still be opened.
# Needs root, tcpdump, tshark, curl, setpriv and setcap; skips otherwise.
. "$(dirname "$0")/lib.sh"
once_per_check "0620-capture"

PBCAP=$PWD/build/tools/pbcap

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT

for t in tcpdump tshark curl setpriv setcap python3; do
	command -v "$t" >/dev/null || { skip "capture" "needs $t"; finish; }
done
if [ "$(id -u)" -ne 0 ] || [ ! -x "$PBCAP" ]; then
	skip "capture" "needs root and $PBCAP"
	finish
fi

free_port() {
	python3 -c 'import socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# tcpdump_start FILE FILTER / tcpdump_stop: the reference capture.
tcpdump_start() {
	tcpdump -i lo --time-stamp-precision=nano -w "$1" --immediate-mode -U \
		-n "$2" 2>"$1.err" &
	td_pid=$!
	pids+=("$td_pid")
	for _ in $(seq 100); do
		grep -q 'listening on' "$1.err" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
tcpdump_stop() {
	sleep 0.2
	kill -INT "$td_pid" 2>/dev/null
	wait "$td_pid" 2>/dev/null
}

# same_frames NAME OURS THEIRS: the same frames, byte for byte (tcpdump -r
# -nn -x listings without times), and the same timestamps give or take
# MAX_SKEW_NS.  Exact timestamps are not to be had for TCP on lo: TCP
# skbs carry a monotonic departure time there, so the kernel stamps each
# tap's copy separately (capture.h), a few hundred ns apart.  The UDP
# check below holds them to the nanosecond.
MAX_SKEW_NS=500000
same_frames() {
	tcpdump -r "$2" -nn -t -x >"$T/$1.ours" 2>/dev/null
	tcpdump -r "$3" -nn -t -x >"$T/$1.theirs" 2>/dev/null
	local n
	n=$(grep -c '^[A-Z]' "$T/$1.theirs")
	if [ "$n" -lt "${4:-10}" ]; then
		not_ok "$1: tcpdump caught $n frames (want >= ${4:-10})"
	elif cmp -s "$T/$1.ours" "$T/$1.theirs"; then
		ok "$1: the same $n frames as tcpdump, byte for byte"
	else
		not_ok "$1: frames differ from tcpdump's" \
			"$(diff "$T/$1.ours" "$T/$1.theirs" | head -20)"
	fi
	local skew
	skew=$(paste <(tcpdump --nano -r "$2" -nn -tt 2>/dev/null |
		awk '{print $1}') <(tcpdump --nano -r "$3" -nn -tt 2>/dev/null |
		awk '{print $1}') | awk '{
		split($1, a, "."); split($2, b, ".");
		d = (a[1] - b[1]) * 1e9 + (a[2] - b[2]); if (d < 0) d = -d;
		if (d > m) m = d } END { print m + 0 }')
	if [ "$skew" -le "${5:-$MAX_SKEW_NS}" ]; then
		ok "$1: timestamps within $skew ns of tcpdump's"
	else
		not_ok "$1: timestamps $skew ns from tcpdump's" \
			"(at most ${5:-$MAX_SKEW_NS})"
	fi
}

P=$(free_port)
UNUSED=$(free_port)
mkdir -p "$T/www"
echo hello >"$T/www/index.html"
head -c 1000000 /dev/urandom >"$T/www/big"
python3 -m http.server -b 127.0.0.1 -d "$T/www" "$P" >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 100); do
	curl -s -o /dev/null "http://127.0.0.1:$P/" && break
	sleep 0.05
done

# ---- 1. the same frames as tcpdump ------------------------------------------
tcpdump_start "$T/td1.pcap" "tcp port $P" || not_ok "tcpdump did not start"
"$PBCAP" --iface lo --filter "tcp port $P" --out "$T/pb1.pcap" -- \
	curl -s -o /dev/null "http://127.0.0.1:$P/" >"$T/pb1.out" 2>"$T/pb1.err"
expect_eq "$?" 0 "pbcap around curl"
tcpdump_stop
expect_match "$(cat "$T/pb1.out")" \
	'^received=[1-9][0-9]* dropped=0 cut=0 lost=0 ifaces=lo$' "pbcap stats"
same_frames plain "$T/pb1.pcap" "$T/td1.pcap"
expect_eq "$(od -An -tx1 -N4 "$T/pb1.pcap" | tr -d ' ')" 4d3cb2a1 \
	"nanosecond pcap magic"
ns=$(tcpdump --nano -r "$T/pb1.pcap" -nn -tt 2>/dev/null | awk '{print $1}')
expect_match "$ns" '^[0-9]+\.[0-9]{9}$' "9-digit timestamps"
expect_match "$(grep -v '000$' <<<"$ns")" '[0-9]' \
	"timestamps carry sub-microsecond digits"

# UDP on lo: one kernel stamp shared by every tap (capture turns on the
# kernel's entry stamps, cap_thread.c), so the same to the nanosecond.
tcpdump_start "$T/tdu.pcap" "udp port $UNUSED" || not_ok "tcpdump did not start"
"$PBCAP" --iface lo --filter "udp port $UNUSED" --out "$T/pbu.pcap" -- \
	python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(5): s.sendto(b"probe", ("127.0.0.1", int(sys.argv[1])))' \
	"$UNUSED" >"$T/pbu.out" 2>"$T/pbu.err"
expect_eq "$?" 0 "pbcap around five UDP datagrams"
tcpdump_stop
same_frames udp "$T/pbu.pcap" "$T/tdu.pcap" 5 0

# No --iface: lo for 127.0.0.1, plus the default routes' interfaces.
want=lo
for dst in 192.0.2.1 2001:db8::1; do
	dev=$(ip route get "$dst" 2>/dev/null | sed -nE 's/.* dev ([^ ]+).*/\1/p')
	[ -z "$dev" ] || [[ ",$want," == *",$dev,"* ]] || want="$want,$dev"
done
"$PBCAP" --filter "tcp port $UNUSED" --out "$T/pbi.pcap" -- true \
	>"$T/pbi.out" 2>"$T/pbi.err"
expect_match "$(cat "$T/pbi.out")" " ifaces=$want\$" \
	"interfaces chosen: the destination's and the default routes' ($want)"

# ---- 2. a new filter mid-run -----------------------------------------------
tcpdump_start "$T/td2.pcap" "tcp port $P" || not_ok "tcpdump did not start"
"$PBCAP" --iface lo --filter "tcp port $UNUSED" --filter-later "tcp port $P" \
	--after-ms 200 --out "$T/pb2.pcap" -- bash -c "
	curl -s -o /dev/null http://127.0.0.1:$P/
	sleep 0.4
	for i in 1 2 3; do curl -s -o /dev/null http://127.0.0.1:$P/; done" \
	>"$T/pb2.out" 2>"$T/pb2.err"
expect_eq "$?" 0 "pbcap around a curl loop, filter switched after 200 ms"
tcpdump_stop
syns() {
	tcpdump -r "$1" -nn 'tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn' \
		2>/dev/null | awk '{print $3}'
}
expect_eq "$(syns "$T/td2.pcap" | wc -l)" 4 "tcpdump: four connections"
expect_eq "$(syns "$T/pb2.pcap" | wc -l)" 3 \
	"pbcap: the three connections after the switch"
first=$(syns "$T/td2.pcap" | head -1)
first=${first##*.}
tcpdump -r "$T/td2.pcap" -w "$T/td2-after.pcap" "not port $first" 2>/dev/null
same_frames "filter switched" "$T/pb2.pcap" "$T/td2-after.pcap"

# ---- 3. the ring's caps ---------------------------------------------------------
"$PBCAP" --iface lo --filter "tcp port $P" --ring 20000 --out "$T/pb3.pcap" -- \
	curl -s -o /dev/null "http://127.0.0.1:$P/big" >"$T/pb3.out" 2>"$T/pb3.err"
expect_eq "$?" 0 "pbcap around a 1 MB download, ring 20000"
out=$(cat "$T/pb3.out")
expect_match "$out" ' cut=[1-9][0-9]* lost=0 ' "frames cut, none lost"
tshark -n -r "$T/pb3.pcap" -T fields -e frame.number -e frame.len \
	-e frame.cap_len -e tcp.len -Y tcp >"$T/pb3.tshark" 2>/dev/null
read -r n_cut bad first_cut kept_before <<<"$(awk -F'\t' '
	$3 < $2 { cut++; if ($2 - $3 != $4) bad++; if (!first) first = $1 }
	!first { kept += $3 }
	END { print cut + 0, bad + 0, first + 0, kept + 0 }' "$T/pb3.tshark")"
want_cut=$(sed -E 's/.* cut=([0-9]+) .*/\1/' <<<"$out")
expect_eq "$n_cut" "$want_cut" "tshark sees as many short frames as were cut"
expect_eq "$bad" 0 "every cut frame lacks exactly its TCP payload (tcp.len)"
if [ "$kept_before" -le 20000 ] && [ "$first_cut" -gt 1 ]; then
	ok "whole frames up to the soft cap ($kept_before bytes), then cut"
else
	not_ok "whole frames up to the soft cap" \
		"first cut frame $first_cut, $kept_before bytes before it"
fi
expect_eq "$(awk -F'\t' '$3 < $2 && $3 > $2 - $4' "$T/pb3.tshark" | wc -l)" 0 \
	"no payload byte kept in a cut frame"

"$PBCAP" --iface lo --filter "tcp port $P" --ring 1000 --out "$T/pb4.pcap" -- \
	curl -s -o /dev/null "http://127.0.0.1:$P/big" >"$T/pb4.out" 2>"$T/pb4.err"
read -r rcv lost <<<"$(sed -E 's/received=([0-9]+) .* lost=([0-9]+) .*/\1 \2/' \
	"$T/pb4.out")"
n4=$(tcpdump -r "$T/pb4.pcap" 2>/dev/null | wc -l)
if [ "${lost:-0}" -gt 0 ] && [ $((n4 + lost)) -eq "$rcv" ]; then
	ok "ring 1000: $lost frames lost, kept + lost = received"
else
	not_ok "ring 1000: frames lost and counted" "$(cat "$T/pb4.out")" \
		"$n4 frames in the file"
fi

# ---- 4. privileges ----------------------------------------------------------------
chmod 711 "$T"
mkdir -m 1777 "$T/nb"
NOBODY=(setpriv --reuid nobody --regid nogroup --clear-groups)
"${NOBODY[@]}" "$PBCAP" --iface lo --filter "tcp port $P" \
	--out "$T/nb/x.pcap" -- true >"$T/nb.out" 2>"$T/nb.err"
rc=$?
expect_eq "$rc" 3 "as nobody without capabilities: exit 3"
expect_match "$(cat "$T/nb.err")" 'permission denied.*cap_net_raw' \
	"as nobody: the message says permission and cap_net_raw"

mkdir -m 755 "$T/bin"
cp "$PBCAP" "$T/bin/pbcap"
if ! setcap cap_net_raw+ep "$T/bin/pbcap" 2>"$T/setcap.err"; then
	skip "file capabilities" "setcap: $(cat "$T/setcap.err")"
	finish
fi
other=$(ip -o link show up | awk -F': ' '$2 != "lo" { sub(/@.*/, "", $2);
	print $2; exit }')
"${NOBODY[@]}" "$T/bin/pbcap" --iface lo --filter "tcp port $P" --drop \
	${other:+--add "$other"} --out "$T/nb/y.pcap" -- \
	curl -s -o /dev/null "http://127.0.0.1:$P/" >"$T/nbc.out" 2>"$T/nbc.err"
expect_eq "$?" 0 "as nobody with cap_net_raw+ep alone: pbcap works"
out=$(cat "$T/nbc.out")
expect_match "$out" 'received=[1-9]' "as nobody with cap_net_raw: frames caught"
expect_eq "$(grep -E '^Cap(Eff|Prm):' <<<"$out" | awk '{print $2}' | sort -u)" \
	0000000000002000 "after cap_priv_drop: CapEff and CapPrm hold CAP_NET_RAW (13) alone"
if [ -n "$other" ]; then
	expect_match "$out" "^add_iface $other: PE_OK" \
		"after the drop, one more interface can still be opened ($other)"
fi
expect_eq "$(tcpdump -r "$T/nb/y.pcap" 'tcp[tcpflags] & tcp-syn != 0' \
	2>/dev/null | wc -l)" 2 "after the drop the capture still runs (SYN, SYN/ACK)"
finish
