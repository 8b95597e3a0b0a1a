#!/usr/bin/env bash
# 0650-tls-decrypt-vs-tshark.sh: TLS record decryption (src/packet/
# dec_tls_crypt.c with dec_tls.c's whole records, through
# build/tools/pbtlsdec) agrees with tshark on real traffic on loopback,
# record by record: the inner content type of every record and the HTTP/2
# frame types inside.  Captured with tcpdump, keys from curl's
# SSLKEYLOGFILE:
#   conn 0  TLS 1.3 TLS_AES_128_GCM_SHA256, HTTP/1.1       (nginx)
#   conn 1  TLS 1.3 TLS_AES_128_GCM_SHA256, h2, two requests (nginx)
#   conn 2  TLS 1.3 TLS_AES_256_GCM_SHA384, h2            (nginx)
#   conn 3  TLS 1.3 TLS_CHACHA20_POLY1305_SHA256, HTTP/1.1 (nginx)
#   conn 4  TLS 1.2 ECDHE-ECDSA-AES256-GCM-SHA384, h2      (nginx)
#   conn 5  TLS 1.2 ECDHE-RSA-AES128-GCM-SHA256, HTTP/1.1  (s_server)
#   conn 6  TLS 1.2 ECDHE-RSA-CHACHA20-POLY1305, HTTP/1.1  (s_server)
# (nginx has the project's EC test certificates, lib_servers.sh; the RSA
# suites need `openssl s_server -www` with a self-signed RSA certificate.)
# Asserts, beyond tshark == pbtlsdec: every encrypted record decrypted;
# on TLS 1.3 the server's session tickets (inner type 22 after the
# client's Finished) precede the response; on h2 the server's SETTINGS
# precede its HEADERS.  Needs root (capture), tcpdump, tshark, curl,
# openssl and nginx; skips otherwise.  Every process started is stopped.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_servers.sh"
once_per_check "0650-tls-decrypt-vs-tshark"

DEC=$PWD/build/tools/pbtlsdec

if [ "$(id -u)" -ne 0 ] || ! command -v tcpdump >/dev/null ||
	! command -v tshark >/dev/null || ! command -v curl >/dev/null ||
	! command -v openssl >/dev/null || ! _srv_bin nginx >/dev/null 2>&1 ||
	[ ! -x "$DEC" ]; then
	skip "tls decrypt vs tshark" \
		"needs root, tcpdump, tshark, curl, openssl, nginx and $DEC"
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

mkdir -p "$T/srv"
if ! certs_make "$T/srv/certs" >"$T/certs.log" 2>&1 ||
	! nginx_start "$T/srv" >"$T/nginx.log" 2>&1; then
	not_ok "nginx did not start" "$(tail -20 "$T/certs.log" "$T/nginx.log")"
	finish
fi

# s_server with a self-signed RSA certificate, TLS 1.2 only.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/rsa.key" \
	-out "$T/rsa.pem" -days 2 -subj /CN=localhost >"$T/req.log" 2>&1
RSA_PORT=$(free_port)
openssl s_server -accept "127.0.0.1:$RSA_PORT" -cert "$T/rsa.pem" \
	-key "$T/rsa.key" -www -tls1_2 \
	-cipher ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-CHACHA20-POLY1305 \
	</dev/null >"$T/s_server.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
	grep -q ACCEPT "$T/s_server.out" 2>/dev/null && break
	sleep 0.05
done

tcpdump -i lo -w "$T/tls.pcap" --immediate-mode -U -n \
	"tcp port $HTTPS_PORT or tcp port $TLS12_PORT or tcp port $RSA_PORT" \
	2>"$T/tcpdump.err" &
cap_pid=$!
pids+=("$cap_pid")
for _ in $(seq 100); do
	grep -q 'listening on' "$T/tcpdump.err" 2>/dev/null && break
	sleep 0.05
done

export SSLKEYLOGFILE=$T/keys.txt
H=https://127.0.0.1
c() { curl -sk --max-time 10 -o /dev/null -o /dev/null "$@"; }
A128=(--tls13-ciphers TLS_AES_128_GCM_SHA256)
c --http1.1 --tlsv1.3 "${A128[@]}" "$H:$HTTPS_PORT/"
c --http2 --tlsv1.3 "${A128[@]}" "$H:$HTTPS_PORT/" "$H:$HTTPS_PORT/json"
c --http2 --tlsv1.3 --tls13-ciphers TLS_AES_256_GCM_SHA384 "$H:$HTTPS_PORT/"
c --http1.1 --tlsv1.3 --tls13-ciphers TLS_CHACHA20_POLY1305_SHA256 \
	"$H:$HTTPS_PORT/"
c --http2 --tls-max 1.2 --ciphers ECDHE-ECDSA-AES256-GCM-SHA384 \
	"$H:$TLS12_PORT/"
c --http1.1 --tls-max 1.2 --ciphers ECDHE-RSA-AES128-GCM-SHA256 \
	"$H:$RSA_PORT/"
c --http1.1 --tls-max 1.2 --ciphers ECDHE-RSA-CHACHA20-POLY1305 \
	"$H:$RSA_PORT/"
unset SSLKEYLOGFILE
sleep 0.3
kill -INT "$cap_pid" 2>/dev/null
wait "$cap_pid" 2>/dev/null

# The suites negotiated, in connection order.
suites=$(tshark -n -r "$T/tls.pcap" -Y 'tls.handshake.type == 2' -T fields \
	-e tls.handshake.ciphersuite 2>/dev/null | tr '\n' ' ')
expect_eq "$suites" \
	"0x1301 0x1301 0x1302 0x1303 0xc02c 0xc02f 0xcca8 " \
	"seven connections with the intended suites"

"$DEC" "$T/keys.txt" "$T/tls.pcap" >"$T/dec.out" 2>"$T/dec.err"
rc=$?
expect_eq "$rc" 0 "pbtlsdec: every encrypted record decrypted"
expect_match "$(tail -1 "$T/dec.err")" \
	'encrypted [1-9][0-9]* failed 0 ' "pbtlsdec counts: $(tail -1 "$T/dec.err")"

# Per frame, as tshark prints it: the records' types, comma-separated,
# then the HTTP/2 frame types.
awk -F'\t' '
	$1 != f { if (f != "") print f "\t" t "\t" h; f = $1; t = ""; h = "" }
	{ t = t (t == "" ? "" : ",") $4
	  if ($5 != "") h = h (h == "" ? "" : ",") $5 }
	END { if (f != "") print f "\t" t "\t" h }' "$T/dec.out" >"$T/dec.frames"
tshark -n -r "$T/tls.pcap" -o "tls.keylog_file:$T/keys.txt" -Y tls \
	-T fields -E separator=/t -e frame.number -e tls.record.content_type \
	-e http2.type >"$T/tshark.frames" 2>"$T/tshark.err"
n=$(wc -l <"$T/tshark.frames")
if [ "$n" -lt 50 ]; then
	not_ok "tshark saw only $n TLS frames" "$(cat "$T/tshark.err")"
elif diff "$T/tshark.frames" "$T/dec.frames" >"$T/diff"; then
	ok "pbtlsdec == tshark on $n TLS frames (inner types, h2 frames)"
else
	not_ok "pbtlsdec != tshark (< tshark, > pbtlsdec)" \
		"$(head -40 "$T/diff")"
fi

# TLS 1.3 (conns 0-3): the server's tickets come after the client's
# Finished and before the first server application data.
for conn in 0 1 2 3; do
	got=$(awk -F'\t' -v c="$conn" '
		$3 != c { next }
		$2 == "s" && !sf { sf = $1 }
		$2 == "c" && sf && $1 > sf && !cf { cf = $1 }
		$2 == "s" && cf && $4 == 22 && !resp { tk++ }
		$2 == "s" && cf && $4 == 23 && !resp { resp = $1 }
		END { print (tk > 0 && resp > 0) ? "tickets " tk " then response" \
			: "tickets " tk " response " resp }' "$T/dec.out")
	expect_match "$got" '^tickets [1-9][0-9]* then response$' \
		"conn $conn (TLS 1.3): $got"
done

# h2 (conns 1, 2, 4): the server's SETTINGS (4) precede its HEADERS (1);
# conn 1 carries two responses.
for conn in 1 2 4; do
	seq=$(awk -F'\t' -v c="$conn" '$3 == c && $2 == "s" && $5 != "" {
		printf "%s%s", s, $5; s = "," }' "$T/dec.out")
	expect_match "$seq" '^4(,[0-9]+)*,1(,|$)' \
		"conn $conn (h2): SETTINGS before HEADERS ($seq)"
done
hdrs=$(awk -F'\t' '$3 == 1 && $2 == "s" { n += gsub(/(^|,)1(,|$)/, "&", $5) }
	END { print n + 0 }' "$T/dec.out")
expect_eq "$hdrs" 2 "conn 1 (h2): two HEADERS from the server"

finish
