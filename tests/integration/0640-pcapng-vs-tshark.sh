#!/usr/bin/env bash
# 0640-pcapng-vs-tshark.sh: the pcapng writer (src/capture/cap_pcapw.c,
# through build/tools/pbpcapng) against Wireshark's reader.  A real TLS 1.3
# session on loopback (openssl s_server -www, curl with SSLKEYLOGFILE) is
# captured by tcpdump with nanosecond timestamps and converted, with a
# comment on frame 3 and the key log as a Decryption Secrets Block; then
# tshark sees the same frames (number, time to the ns, lengths) plus the
# comment, capinfos reads the file without complaint and agrees on its
# sha256 and size, the file is 0600, and tshark decrypts the GET request
# from the DSB alone (no -o tls.keylog_file; the plain capture does not
# decrypt).  Needs root (capture), tcpdump, tshark, capinfos, openssl and
# curl; skips otherwise.  Every process started is stopped.
. "$(dirname "$0")/lib.sh"
once_per_check "0640-pcapng-vs-tshark"

CONV=$PWD/build/tools/pbpcapng
FIELDS=(-e frame.number -e frame.time_epoch -e frame.len -e frame.cap_len
	-e frame.comment)
COMMENT="probe: frame 3, an odd-length comment"

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT

for tool in tcpdump tshark capinfos openssl curl sha256sum; do
	command -v "$tool" >/dev/null || missing="${missing:-} $tool"
done
if [ "$(id -u)" -ne 0 ] || [ -n "${missing:-}" ] || [ ! -x "$CONV" ]; then
	skip "pcapng vs tshark" "needs root, tools (missing:${missing:-}) and $CONV"
	finish
fi

# tshark on stderr, less its root warning: what is left is a complaint.
tshark_q() { tshark "$@" 2>"$T/tshark.err"; }
tshark_complaints() { grep -v 'Running as user' "$T/tshark.err"; }

PORT=$(python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cd "$T" || exit 3
openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem \
	-days 1 -subj /CN=localhost >/dev/null 2>&1 ||
	{ not_ok "openssl req -x509"; finish; }
openssl s_server -www -tls1_3 -key key.pem -cert cert.pem -accept "$PORT" \
	-quiet </dev/null >/dev/null 2>&1 &
pids+=($!)
tcpdump -i lo --immediate-mode -U -n --time-stamp-precision=nano \
	-w cap.pcap "tcp port $PORT" 2>cap.err &
cap_pid=$!
pids+=("$cap_pid")
for _ in $(seq 100); do
	grep -q 'listening on' cap.err 2>/dev/null && break
	sleep 0.05
done
for _ in $(seq 100); do # the server is up when it answers
	SSLKEYLOGFILE=$T/keys.txt curl -sk --tlsv1.3 -o body.html \
		"https://127.0.0.1:$PORT/" && break
	rm -f keys.txt
	sleep 0.05
done
sleep 0.3
kill -INT "$cap_pid" 2>/dev/null
wait "$cap_pid" 2>/dev/null

if ! grep -q 'TLSv1.3' body.html 2>/dev/null || [ ! -s keys.txt ]; then
	not_ok "a TLS 1.3 session with a key log" "$(cat cap.err)"
	finish
fi
ok "a TLS 1.3 session captured ($(grep -c . keys.txt) key log lines)"

umask 022
"$CONV" -c "3:$COMMENT" -k keys.txt -i lo cap.pcap out.pcapng >conv.out \
	2>conv.err
expect_eq "$?" 0 "pbpcapng converts the capture"
expect_eq "$(stat -c %a out.pcapng)" 600 "the pcapng file is 0600"
expect_eq "$(cat conv.out)" \
	"sha256 $(sha256sum out.pcapng | cut -d' ' -f1) bytes $(stat -c %s out.pcapng)" \
	"cap_pcapw_close's sha256 and size are the file's"

# The same frames, to the nanosecond, plus the comment on frame 3.
tshark_q -r cap.pcap -T fields "${FIELDS[@]}" >in.fields
awk -F'\t' -v OFS='\t' -v c="$COMMENT" '$1 == 3 { $5 = c } { print }' \
	in.fields >want.fields
tshark_q -r out.pcapng -T fields "${FIELDS[@]}" >out.fields
expect_eq "$(tshark_complaints)" "" "tshark reads the pcapng without complaint"
n=$(wc -l <out.fields)
if [ "$n" -ge 10 ] && diff want.fields out.fields >fields.diff; then
	ok "tshark: the same $n frames (time to the ns, lengths) and the comment"
else
	not_ok "tshark: frames differ (< pcap, > pcapng), $n frames" \
		"$(head -20 fields.diff)"
fi
expect_match "$(cut -f2 out.fields | head -1)" '^[0-9]+\.[0-9]{9}$' \
	"frame.time_epoch has nanoseconds"
expect_match "$(cut -f2 out.fields | grep -v '000$' | head -1)" . \
	"the timestamps are not microseconds in disguise"

capinfos out.pcapng >capinfos.out 2>capinfos.err
expect_eq "$?" 0 "capinfos reads the pcapng"
expect_eq "$(grep -v 'Running as user' capinfos.err)" "" \
	"capinfos has no complaint"
expect_match "$(cat capinfos.out)" 'File type: +Wireshark/... - pcapng' \
	"capinfos: a pcapng file"
expect_match "$(cat capinfos.out)" "Number of packets: +$n\$" \
	"capinfos: $n packets"
expect_match "$(cat capinfos.out)" 'Capture application: +probe' \
	"capinfos: shb_userappl probe"
expect_match "$(cat capinfos.out)" 'Time precision = nanoseconds \(9\)' \
	"capinfos: if_tsresol 9"
expect_match "$(cat capinfos.out)" 'Number of decryption secrets in file: 1' \
	"capinfos: one Decryption Secrets Block"
expect_eq "$(awk '/^SHA256:/ { print $2 }' capinfos.out)" \
	"$(sha256sum out.pcapng | cut -d' ' -f1)" "capinfos: the same sha256"

# The DSB alone decrypts the session; the plain capture does not.
tshark_q -r out.pcapng -Y http -T fields -e http.request.method \
	-e http.request.uri -e http.host >http.out
expect_eq "$(cat http.out)" "GET	/	127.0.0.1:$PORT" \
	"tshark decrypts the GET from the DSB alone"
tshark_q -r cap.pcap -Y http -T fields -e http.request.method >http0.out
expect_eq "$(cat http0.out)" "" "without the DSB nothing decrypts"

finish
