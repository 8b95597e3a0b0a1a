#!/usr/bin/env bash
# 0600-decode-vs-tshark.sh: the packet decoders (src/packet/, through
# build/tools/pbdecode) agree with tshark, field by field, on real traffic
# captured on loopback: HTTP over TCP on 127.0.0.1 and ::1 (curl against
# python3 -m http.server on free ports), ping 127.0.0.1, UDP to a closed
# port (ICMP/ICMPv6 port unreachable quoting the datagram); then the same
# on `tcpdump -i any` (LINKTYPE_LINUX_SLL2).  Needs root (capture),
# tcpdump and tshark; skips otherwise.  Every process started is stopped.
. "$(dirname "$0")/lib.sh"
once_per_check "0600-decode-vs-tshark"

DEC=$PWD/build/tools/pbdecode
FIELDS=(frame.number ip.src ip.dst ipv6.src ipv6.dst tcp.srcport tcp.dstport
	tcp.seq_raw tcp.ack_raw tcp.flags tcp.window_size_value tcp.len
	tcp.options.mss_val tcp.options.wscale.shift udp.srcport udp.dstport
	icmp.type icmpv6.type)

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT

if [ "$(id -u)" -ne 0 ] || ! command -v tcpdump >/dev/null ||
	! command -v tshark >/dev/null || [ ! -x "$DEC" ]; then
	skip "decode vs tshark" "needs root, tcpdump, tshark and $DEC"
	finish
fi

free_port() { # family
	python3 -c 'import socket,sys
f = socket.AF_INET6 if sys.argv[1] == "6" else socket.AF_INET
s = socket.socket(f, socket.SOCK_STREAM)
s.bind(("::1" if f == socket.AF_INET6 else "127.0.0.1", 0))
print(s.getsockname()[1])' "$1"
}

# start_capture IFACE FILE FILTER: tcpdump in the background, ready.
start_capture() {
	tcpdump -i "$1" -w "$2" --immediate-mode -U -n "$3" 2>"$2.err" &
	cap_pid=$!
	pids+=("$cap_pid")
	for _ in $(seq 100); do
		grep -q 'listening on' "$2.err" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

stop_capture() {
	sleep 0.3
	kill -INT "$cap_pid" 2>/dev/null
	wait "$cap_pid" 2>/dev/null
}

udp_to_closed() { # host port
	python3 -c 'import socket,sys
h, p = sys.argv[1], int(sys.argv[2])
f = socket.AF_INET6 if ":" in h else socket.AF_INET
s = socket.socket(f, socket.SOCK_DGRAM)
s.sendto(b"probe", (h, p))' "$1" "$2"
}

# compare NAME FILE: pbdecode's lines == tshark's lines.
compare() {
	local args=() f
	for f in "${FIELDS[@]}"; do args+=(-e "$f"); done
	tshark -n -r "$2" -T fields -E separator=/t "${args[@]}" \
		>"$T/$1.tshark" 2>"$T/$1.tshark.err"
	"$DEC" "$2" >"$T/$1.dec" 2>"$T/$1.dec.err"
	local n
	n=$(wc -l <"$T/$1.tshark")
	if [ "$n" -lt "$3" ]; then
		not_ok "$1: capture has $n frames (want >= $3)" \
			"$(cat "$2.err" "$T/$1.tshark.err")"
	elif diff "$T/$1.tshark" "$T/$1.dec" >"$T/$1.diff"; then
		ok "$1: pbdecode == tshark on $n frames"
		# columns: 2 ip.src, 15 udp.srcport, 17 icmp.type, 18 icmpv6.type
		awk -F'\t' '$17 == 8 { f = 1 } END { exit !f }' "$T/$1.dec" ||
			not_ok "$1: no ICMP echo request in the capture"
		awk -F'\t' '$17 == 3 && $2 ~ /,/ && $15 != "" { f = 1 }
			END { exit !f }' "$T/$1.dec" ||
			not_ok "$1: no ICMP unreachable quoting a UDP datagram"
		awk -F'\t' '$18 == 1 && $4 ~ /,/ && $15 != "" { f = 1 }
			END { exit !f }' "$T/$1.dec" ||
			not_ok "$1: no ICMPv6 unreachable quoting a UDP datagram"
		awk -F'\t' '$13 != "" && $14 != "" { f = 1 } END { exit !f }' \
			"$T/$1.dec" || not_ok "$1: no SYN with MSS and window scale"
	else
		not_ok "$1: pbdecode != tshark (< tshark, > pbdecode)" \
			"$(head -40 "$T/$1.diff")"
	fi
}

mkdir -p "$T/www"
head -c 200000 /dev/urandom >"$T/www/big.bin"
echo hello >"$T/www/index.html"
P4=$(free_port 4) P6=$(free_port 6) U4=$(free_port 4) U6=$(free_port 6)
python3 -m http.server -b 127.0.0.1 -d "$T/www" "$P4" >/dev/null 2>&1 &
pids+=($!)
python3 -m http.server -b ::1 -d "$T/www" "$P6" >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 100); do
	curl -s -o /dev/null "http://127.0.0.1:$P4/" &&
		curl -s -o /dev/null "http://[::1]:$P6/" && break
	sleep 0.05
done

traffic() {
	curl -s -o /dev/null "http://127.0.0.1:$P4/index.html"
	curl -s -o /dev/null "http://127.0.0.1:$P4/big.bin"
	curl -s -o /dev/null "http://[::1]:$P6/index.html"
	curl -s -o /dev/null "http://[::1]:$P6/big.bin"
	ping -n -c 2 -i 0.2 127.0.0.1 >/dev/null 2>&1
	udp_to_closed 127.0.0.1 "$U4"
	udp_to_closed ::1 "$U6"
}

FILTER="port $P4 or port $P6 or port $U4 or port $U6 or icmp or icmp6"

# Loopback: Ethernet framing.
if start_capture lo "$T/lo.pcap" "$FILTER"; then
	traffic
	stop_capture
	compare lo "$T/lo.pcap" 20
	expect_match "$(head -c 4 "$T/lo.pcap" | od -An -tx1 | tr -d ' ')" \
		'^(a1b2c3d4|d4c3b2a1|a1b23c4d|4d3cb2a1)$' \
		"lo: a pcap (not pcapng) file, as written by tcpdump -w"
else
	not_ok "tcpdump -i lo did not start" "$(cat "$T/lo.pcap.err")"
fi

# The "any" device: Linux cooked v2 headers.
if start_capture any "$T/any.pcap" "$FILTER"; then
	traffic
	stop_capture
	compare any "$T/any.pcap" 20
	expect_match "$(tshark -r "$T/any.pcap" -T fields -e frame.protocols -c 1 2>/dev/null)" \
		'^sll' "any: SLL2 framing"
else
	not_ok "tcpdump -i any did not start" "$(cat "$T/any.pcap.err")"
fi

# pcapng: the same frames through libpcap's pcapng reader.
if [ -s "$T/lo.pcap" ] && command -v editcap >/dev/null; then
	editcap -F pcapng "$T/lo.pcap" "$T/lo.pcapng" 2>/dev/null
	compare pcapng "$T/lo.pcapng" 20
	expect_eq "$(head -c 4 "$T/lo.pcapng" | od -An -tx1 | tr -d ' ')" \
		0a0d0d0a "pcapng: a pcapng file"
else
	skip "pcapng" "no editcap"
fi

finish
