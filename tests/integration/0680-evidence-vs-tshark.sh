#!/usr/bin/env bash
# 0680-evidence-vs-tshark.sh: the escalation file's redaction (src/capture/
# cap_evidence.c, src/packet/dec_redact.c, through build/tools/pbevidence)
# on real traffic captured on loopback, held against tshark:
#   - cleartext HTTP (curl http:// to nginx, a planted Authorization
#     header and a planted POST body), HTTPS (curl --http1.1 https://,
#     keys from SSLKEYLOGFILE, a planted header inside TLS), DNS (dnsmasq);
#   - no "SECRET-PLANTED" anywhere in the output, key log or not;
#   - tshark reads it without a complaint; it sees the same TLS records
#     (frame, content type, length) and the same DNS queries and answers
#     as on the input; the comment is frame.comment of its frame;
#   - with --keylog the file decrypts by itself (tshark with no key
#     option): the HTTPS GET is there, the cleartext request is not.
# Needs root (capture), tcpdump, tshark, curl, nginx and dnsmasq; skips
# otherwise.  Every process started is stopped.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_servers.sh"
once_per_check "0680-evidence-vs-tshark"

EV=$PWD/build/tools/pbevidence

if [ "$(id -u)" -ne 0 ] || ! command -v tcpdump >/dev/null ||
	! command -v tshark >/dev/null || ! command -v curl >/dev/null ||
	! _srv_bin nginx >/dev/null 2>&1 ||
	! _srv_bin dnsmasq >/dev/null 2>&1 ||
	[ ! -x "$EV" ]; then
	skip "evidence vs tshark" \
		"needs root, tcpdump, tshark, curl, nginx, dnsmasq and $EV"
	finish
fi

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	servers_cleanup
	rm -rf "$T"
}
trap cleanup EXIT

if ! servers_start "$T/srv" >"$T/servers.log" 2>&1; then
	not_ok "servers did not start" "$(tail -20 "$T/servers.log")"
	finish
fi

tcpdump -i lo -w "$T/in.pcap" --immediate-mode -U -n \
	"tcp port $HTTP_PORT or tcp port $HTTPS_PORT or tcp port $TLS12_PORT \
	or udp port $DNS_PORT" \
	2>"$T/tcpdump.err" &
cap_pid=$!
pids+=("$cap_pid")
for _ in $(seq 100); do
	grep -q 'listening on' "$T/tcpdump.err" 2>/dev/null && break
	sleep 0.05
done

dns_query demo.probe.test A >"$T/dns.out" 2>&1
curl -s --max-time 10 -o /dev/null \
	-H 'Authorization: Bearer SECRET-PLANTED-HDR' \
	--data 'user=u&password=SECRET-PLANTED-BODY' \
	"http://127.0.0.1:$HTTP_PORT/"
SSLKEYLOGFILE=$T/keys.txt curl -sk --http1.1 --max-time 10 -o /dev/null \
	-H 'X-Token: SECRET-PLANTED-TLS' "https://127.0.0.1:$HTTPS_PORT/"
SSLKEYLOGFILE=$T/keys.txt curl -sk --http1.1 --tls-max 1.2 --max-time 10 \
	-o /dev/null "https://127.0.0.1:$TLS12_PORT/"
sleep 0.3
kill -INT "$cap_pid" 2>/dev/null
wait "$cap_pid" 2>/dev/null

secrets() { grep -ac SECRET-PLANTED "$1"; }
expect_match "$(secrets "$T/in.pcap")" '^[1-9]' \
	"the input holds the planted cleartext secrets"
[ -s "$T/keys.txt" ] || not_ok "curl wrote no key log"

# The frame that carries the cleartext request gets the comment.
req=$(tshark -n -r "$T/in.pcap" -Y 'http.request.method == "POST"' \
	-T fields -e frame.number 2>/dev/null | head -1)
[ -n "$req" ] || req=1

out=$("$EV" --comment "$req:EVIDENCE: the request" --comment \
	"$req:second note" --dns-port "$DNS_PORT" "$T/in.pcap" "$T/spool" \
	run-1 2>&1)
expect_eq "$?" 0 "pbevidence: $out"
OUT=$T/spool/pcaps/run-1.pcapng
out=$("$EV" --keylog "$T/keys.txt" --dns-port "$DNS_PORT" "$T/in.pcap" \
	"$T/spool" run-1-keylog 2>&1)
expect_eq "$?" 0 "pbevidence --keylog: $out"
OUTK=$T/spool/pcaps/run-1-keylog.pcapng

expect_eq "$(secrets "$OUT")" 0 "no planted secret in the file"
expect_eq "$(secrets "$OUTK")" 0 "no planted secret in the key log file"
expect_eq "$(stat -c %a "$OUT") $(stat -c %a "$T/spool/pcaps")" "600 700" \
	"file 0600, directory 0700"

for f in "$OUT" "$OUTK"; do
	n=$(tshark -n -r "$f" 2>&1 >/dev/null |
		grep -v '^Running as user' >"$T/tshark.err"
		tshark -n -r "$f" 2>/dev/null | wc -l)
	if [ -s "$T/tshark.err" ] || [ "$n" -eq 0 ]; then
		not_ok "tshark reads $(basename "$f")" "$(head "$T/tshark.err")"
	else
		ok "tshark reads $(basename "$f"): $n frames, no complaint"
	fi
done
expect_eq "$(tshark -n -r "$OUT" 2>/dev/null | wc -l)" \
	"$(tshark -n -r "$T/in.pcap" 2>/dev/null | wc -l)" "every frame kept"

# TLS records per frame: the header types and lengths, as on the input.
# Read without keys, tshark takes TLS 1.3's encrypted records for
# opaque_type 23 when it saw the ServerHello's supported_versions (the
# input) and for content_type 23 when it could not (the redacted file:
# the ServerHello body is zero), so the header types are compared as a
# sorted list of both fields; lengths in record order.
recs() {
	tshark -n -r "$1" "${@:2}" -Y tls.record -T fields -E separator=/t \
		-e frame.number -e tls.record.content_type \
		-e tls.record.opaque_type -e tls.record.length 2>/dev/null
}
hdrs() {
	recs "$@" | awk -F'\t' '{
		t = $2 ($2 != "" && $3 != "" ? "," : "") $3
		n = split(t, a, ","); s = ""
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
			if (a[j] + 0 < a[i] + 0) {
				x = a[i]; a[i] = a[j]; a[j] = x
			}
		for (i = 1; i <= n; i++) s = s (i > 1 ? "," : "") a[i]
		print $1 "\t" s "\t" $4 }'
}
same() { # NAME WANT-FILE GOT-FILE
	local n
	n=$(wc -l <"$2")
	if [ "$n" -lt 8 ]; then
		not_ok "$1: tshark saw only $n TLS frames on the input"
	elif diff "$2" "$3" >"$T/diff"; then
		ok "$1: the same TLS records in $n frames"
	else
		not_ok "$1: TLS records differ (< in, > out)" \
			"$(head -20 "$T/diff")"
	fi
}
hdrs "$T/in.pcap" >"$T/hdr.in"
hdrs "$OUT" >"$T/hdr.out"
same "record headers" "$T/hdr.in" "$T/hdr.out"
# With the key log both decrypt: the inner types must agree exactly.
recs "$T/in.pcap" -o "tls.keylog_file:$T/keys.txt" >"$T/rec.in"
recs "$OUTK" >"$T/rec.out"
same "--keylog, decrypted" "$T/rec.in" "$T/rec.out"
if grep -q '23,23' "$T/hdr.out"; then
	ok "a frame with several encrypted records was among them"
else
	not_ok "no frame with several encrypted records" "$(cat "$T/hdr.out")"
fi

# DNS whole: the same queries and answers.
dnsf() {
	tshark -n -r "$1" -d "udp.port==$DNS_PORT,dns" -Y dns -T fields \
		-e frame.number -e dns.qry.name -e dns.a 2>/dev/null
}
expect_match "$(dnsf "$T/in.pcap")" 'demo\.probe\.test.*127\.0\.0\.1' \
	"the input holds the DNS answer"
expect_eq "$(dnsf "$OUT")" "$(dnsf "$T/in.pcap")" "DNS as on the input"

# The comments, joined, on the request's frame.
got=$(tshark -n -r "$OUT" -Y frame.comment -T fields -e frame.number \
	-e frame.comment 2>/dev/null)
expect_eq "$got" "$req	EVIDENCE: the request; second note" \
	"the comment on frame $req"

# No cleartext HTTP left for tshark to find, key log or not.
expect_eq "$(tshark -n -r "$OUT" -Y http 2>/dev/null | wc -l)" 0 \
	"no HTTP in the file"

# The key log file decrypts by itself: the HTTPS GET, nothing else.
got=$(tshark -n -r "$OUTK" -Y http.request -T fields \
	-e http.request.method -e tcp.dstport -e http.request.line \
	2>/dev/null | tr '\r\n' '  ')
expect_match "$got" "^GET.$HTTPS_PORT.*X-Token: SECRET-PLANTED-TLS" \
	"--keylog: the HTTPS GET decrypted from the file alone ($got)"
expect_eq "$(tshark -n -r "$OUTK" -Y "http && tcp.port == $HTTP_PORT" \
	2>/dev/null | wc -l)" 0 "--keylog: still no cleartext HTTP"

finish
