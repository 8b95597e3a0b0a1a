#!/usr/bin/env bash
# 0670-analyze-tls.sh: `probe analyze` on real TLS captures, with and
# without secrets.  curl fetches nginx's /slow (it waits SLOW_MS + 5 ms)
# over TLS 1.3 (HTTP/1.1, then h2) with SSLKEYLOGFILE, tcpdump captures
# on loopback.  Without a key log the ticket records before the response
# are recognised by inference (quality inferred); with --keylog, and with
# the key log embedded in the pcapng as a Decryption Secrets Block
# (build/tools/pbpcapng), the records are decrypted (quality measured).
# Either way think_ms is the server's wait, not the ~0 ms that the first
# server record after the request would give.  Also the command's own
# contract: usage (exit 2), a missing file (exit 3), a damaged file
# (what came before the damage is printed, exit 3).
# Needs root (capture), tcpdump, curl, nginx; skips otherwise.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_servers.sh"
once_per_check "0670-analyze-tls"

PCAPNG=$PWD/build/tools/pbpcapng

# the command's contract needs nothing
run_probe analyze
expect_rc 2 "analyze without a file: usage, exit 2"
run_probe analyze "$T/nope.pcap"
expect_rc 3 "a missing file: exit 3"
expect_match "$err" "nope.pcap" "and the message names it"
printf 'not a capture at all\n' >"$T/text.pcap"
run_probe analyze "$T/text.pcap"
expect_rc 3 "a text file: exit 3"

if [ "$(id -u)" -ne 0 ] || ! command -v tcpdump >/dev/null ||
	! command -v curl >/dev/null || ! _srv_bin nginx >/dev/null 2>&1 ||
	[ ! -x "$PCAPNG" ]; then
	skip "analyze real TLS captures" "needs root, tcpdump, curl, nginx and $PCAPNG"
	finish
fi

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	servers_cleanup
	[ -z "${KEEP:-}" ] || cp -r "$T" "$KEEP"
	rm -rf "$T"
}
trap cleanup EXIT

export SLOW_MS=120
mkdir -p "$T/srv"
if ! certs_make "$T/srv/certs" >"$T/certs.log" 2>&1 ||
	! nginx_start "$T/srv" >"$T/nginx.log" 2>&1; then
	not_ok "nginx did not start" "$(tail -20 "$T/certs.log" "$T/nginx.log")"
	finish
fi
WANT=$((SLOW_MS + 5))

capture() { # NAME CURL-ARGS...: one curl run captured; keys in NAME.keys
	local name=$1
	shift
	tcpdump -i lo -U --immediate-mode -w "$T/$name.pcap" \
		"tcp port $HTTPS_PORT" >"$T/$name.tcpdump" 2>&1 &
	local tp=$!
	pids+=("$tp")
	for _ in $(seq 50); do
		grep -q "listening on" "$T/$name.tcpdump" && break
		sleep 0.1
	done
	SSLKEYLOGFILE=$T/$name.keys curl -sS -k --tlsv1.3 "$@" \
		-o /dev/null "https://127.0.0.1:$HTTPS_PORT/slow" 2>"$T/$name.curl"
	sleep 0.3
	kill -INT "$tp"
	wait "$tp" 2>/dev/null
}

capture h1 --http1.1
capture h2 --http2

# field FILE PYTHON-EXPR: from probe analyze --json FILE: c = the first
# connection, x = its first exchange
field() {
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
c = d["connections"][0]
x = c["exchanges"][0] if c["exchanges"] else {}
v = eval(sys.argv[2])
print(v if isinstance(v, str) else json.dumps(v))' "$1" "$2" 2>&1
}
near() { awk -v g="$1" -v w="$2" -v t="$3" 'BEGIN { d = g - w; if (d < 0) d = -d; exit !(g != "" && d <= t) }'; }

for v in h1 h2; do
	"$PROBE" analyze --json "$T/$v.pcap" >"$T/$v.plain.json" 2>"$T/$v.plain.err"
	rc=$?
	expect_eq "$rc" 0 "$v: analyze without secrets, exit 0"
	"$PROBE" analyze --json --keylog "$T/$v.keys" "$T/$v.pcap" >"$T/$v.key.json" 2>"$T/$v.key.err"
	rc=$?
	expect_eq "$rc" 0 "$v: analyze --keylog, exit 0"
	"$PCAPNG" -k "$T/$v.keys" "$T/$v.pcap" "$T/$v.pcapng" >/dev/null 2>"$T/$v.conv.err" ||
		not_ok "$v: pcapng with a secrets block" "$(cat "$T/$v.conv.err")"
	"$PROBE" analyze --json "$T/$v.pcapng" >"$T/$v.dsb.json" 2>"$T/$v.dsb.err"
	rc=$?
	expect_eq "$rc" 0 "$v: analyze of the pcapng with secrets, exit 0"

	for mode in key dsb; do
		th=$(field "$T/$v.$mode.json" 'x["think_ms"]')
		near "$th" "$WANT" 3 && ok "$v ($mode): think_ms $th = the server's $WANT ms +- 3" ||
			not_ok "$v ($mode): think_ms $th, want $WANT +- 3"
		expect_eq "$(field "$T/$v.$mode.json" 'x["think_quality"]')" measured "$v ($mode): quality measured (decrypted)"
		expect_eq "$(field "$T/$v.$mode.json" 'len(c["exchanges"])')" 1 "$v ($mode): one exchange"
	done
	th=$(field "$T/$v.plain.json" 'x["think_ms"]')
	near "$th" "$WANT" 3 && ok "$v (no secrets): think_ms $th = $WANT +- 3 (inferred)" ||
		not_ok "$v (no secrets): think_ms $th, want $WANT +- 3"
	expect_eq "$(field "$T/$v.plain.json" 'x["think_quality"]')" inferred "$v (no secrets): quality inferred"
	# the request's ACK rides on the tickets or comes alone, as the
	# server's timing has it; never on the response of a slow server
	expect_match "$(field "$T/$v.key.json" 'x["ack_pattern"]')" '^(control|separate)$' \
		"$v: the request's ACK came before the response (control or separate)"
done

# the naive figure: the first server record after the request comes at once
if command -v tshark >/dev/null; then
	n=$(tshark -r "$T/h1.pcap" -o "tls.keylog_file:$T/h1.keys" -Y 'tls.handshake.type == 4' \
		-T fields -e frame.number 2>"$T/tshark.err" | wc -l)
	[ "$n" -ge 1 ] && ok "the h1 capture holds $n frame(s) with session tickets (tshark)" ||
		not_ok "no session tickets in the h1 capture" "$(tail -5 "$T/tshark.err")" \
			"$(tshark -r "$T/h1.pcap" -o "tls.keylog_file:$T/h1.keys" 2>&1 | head -30)" \
			"$(wc -l <"$T/h1.keys") key log lines"
fi

# a damaged file: cut inside the last frame
sz=$(stat -c %s "$T/h1.pcap")
head -c $((sz - 7)) "$T/h1.pcap" >"$T/cut.pcap"
run_probe analyze "$T/cut.pcap"
expect_rc 3 "a file cut inside its last frame: exit 3"
expect_match "$out" "^connection 1: " "what came before the damage is printed"
expect_match "$err" "frame [0-9]+" "and the error names the frame"
finish
