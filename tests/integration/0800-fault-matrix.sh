#!/usr/bin/env bash
# 0800-fault-matrix.sh: the fault matrix of issue 9.  One bench (one region,
# 2 ms each way; dnsmasq, nginx and pbserver in the server namespace), and
# one block per fault, each a function row_<fault> called in turn.  Every
# row runs the real thing (`probe run` in the client namespace, its own
# --db and --spool under $T) against a real server and checks
#   (a) the stored error class (steps.error) and/or finding code (findings),
#   (b) probe's exit code (0 ok, 1 a step failed, 3 internal/storage or
#       `capture required` without capture, 4 the scenario's lock is held),
#   (c) no crash: the exit code is not >= 128, not 99 (the sanitizer
#       build's exitcode, lib.sh), not 124 (probe hung and `timeout` killed
#       it), and stderr has no sanitizer report.
# The faults: DNS no response (an address of the bench's /24 that nobody
# has: the server namespace does not forward and drops it silently),
# NXDOMAIN, SERVFAIL, a truncated answer retried over TCP (a 750-byte TXT
# record; no EDNS, so the UDP answer is cut at 512 bytes); TCP refused, SYN
# blackholed (that same address), RST mid-body; TLS expired, wrong name,
# unknown CA, version mismatch (tls_min=1.3 against nginx's TLS 1.2-only
# server), a fatal alert after the server's first flight (pbserver's
# --alert-handshake), a stalled handshake; HTTP 500, a body slower than the
# step's timeout, a Content-Length longer than the body, broken chunked
# encoding, a redirect loop, a body over max_body, a header that never
# ends, one byte per second (pbserver's split/split_ms); an MTU blackhole
# (pbfwd's drop_larger, which also swallows ICMP "fragmentation needed");
# no CAP_NET_RAW (runs go on, capture 'unavailable') and `capture
# required` (exit 3); capture drops (the probe SIGSTOPped while a flood
# matching its filter fills its 4 MiB kernel ring: real kernel drops);
# the store locked by another writer (waits, then stores); the spool on a
# full tmpfs (the run is stored, the pcap failure said and exit 3); kill
# -9 during a run (integrity_check, earlier runs unchanged); overlapping
# cron runs (the second exits 4).
# Tolerances: a step that must end at its 2 s timeout may end up to 2.5 s
# late (the sanitizer build on a loaded 2-vCPU machine); every probe run
# is bounded by `timeout` (FAULT_TIMEOUT, 60 s; 15 s for the truncated DNS
# answer) so that a hang fails its row instead of the suite.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_bench.sh"
bench_usable || { skip "fault matrix" "$BENCH_SKIP"; finish; }
for t in python3 unshare setpriv sqlite3 curl; do
	command -v "$t" >/dev/null || { skip "fault matrix" "needs $t"; finish; }
done

PTIMEOUT=${FAULT_TIMEOUT:-60}
H=demo.probe.test
# a TXT record of three 250-byte strings: 750 bytes, more than a UDP
# answer without EDNS may carry (512)
BIG=$(printf 'x%.0s' $(seq 250))
bench_up --delay-ms 2 && bench_dns_start --txt-record=big.probe.test,"$BIG","$BIG","$BIG" &&
	bench_nginx_start && bench_pbserver_start || { not_ok "bench with DNS, nginx and pbserver"; finish; }
# in the bench's /24, nobody's: the server namespace neither owns nor
# forwards it, and drops what comes for it without an ICMP error
DEAD4=${BENCH_SERVER_IP4%.*}.99
CLOSED=9 # no listener on it in the server namespace

# ---- helpers -----------------------------------------------------------------

# scn ROW LINES: writes $T/ROW.scn, scenario fm-ROW, with the bench's
# resolver, the test CA, and 2 s step timeouts
scn() {
	{
		echo "scenario fm-$1"
		echo "resolver $BENCH_RESOLVER"
		echo "timeout 20s"
		echo "defaults ca=$CERTS_DIR/ca.pem timeout=2s retries=1"
		echo "$2"
	} >"$T/$1.scn"
}

# prun ROW [SCENARIO]: probe run in region 1 with the row's own store and
# spool ($T/ROW.db, $T/ROW.spool); sets rc, out, err and ms (wall time).
prun() {
	local row=$1 s=${2:-$T/$1.scn} t0
	t0=$(date +%s%N)
	bench_exec 1 timeout -k 5 "${TMO:-$PTIMEOUT}" "$PROBE" run --db "$T/$row.db" \
		--spool "$T/$row.spool" --region r1 --config /dev/null "$s" >"$T/out" 2>"$T/err"
	rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	out=$(cat "$T/out") err=$(cat "$T/err")
}

# bg ROW [SCENARIO]: the same in the background; $bgpid is probe itself
# (ip netns exec execs it)
bg() {
	ip netns exec "$BENCH_CLIENT_NS_1" "$PROBE" run --db "$T/$1.db" --spool "$T/$1.spool" \
		--region r1 --config /dev/null "${2:-$T/$1.scn}" >"$T/$1.bg.out" 2>"$T/$1.bg.err" &
	bgpid=$!
}

# bg_wait ROW: waits for $bgpid (at most PTIMEOUT s, then kills it); sets
# rc, out, err from it
bg_wait() {
	local i
	for ((i = 0; i < PTIMEOUT * 10; i++)); do
		srv_alive "$bgpid" || break
		sleep 0.1
	done
	srv_alive "$bgpid" && kill -KILL "$bgpid"
	wait "$bgpid" 2>/dev/null
	rc=$?
	out=$(cat "$T/$1.bg.out") err=$(cat "$T/$1.bg.err")
}

# connected PORT: waits (5 s at most) until region 1 has an established
# TCP connection to the server's PORT
connected() {
	local i
	for ((i = 0; i < 500; i++)); do
		bench_exec 1 ss -Htn state established "( dport = :$1 )" 2>/dev/null | grep -q . && return 0
		sleep 0.01
	done
	return 1
}

# q ROW QUERY: a query of the row's store ("(no store)" when there is none:
# sqlite3 would create the file)
q() {
	if [ -e "$T/$1.db" ]; then sql "$T/$1.db" "$2" 2>&1; else echo "(no store)"; fi
}

# no_crash ROW: (c) of the header
no_crash() {
	local why=""
	if [ "$rc" -eq 124 ]; then
		why="probe did not finish: killed by timeout"
	elif [ "$rc" -ge 128 ]; then
		why="killed by signal $((rc - 128))"
	elif [ "$rc" -eq 99 ]; then
		why="exit 99: a sanitizer report"
	fi
	if grep -Eq 'AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error' <<<"$err"; then
		why="${why:+$why; }a sanitizer report on stderr"
	fi
	if [ -z "$why" ]; then ok "$1: no crash (exit $rc, no sanitizer report)"; else
		not_ok "$1: no crash" "$why" "stderr: ${err:0:1500}"; fi
}

# step_is ROW WANT [STEP]: the step (default s) stored as "ok -" or
# "failed CLASS" (ROW may be DIR/ROW: the store $T/DIR/ROW.db)
step_is() {
	local got
	got=$(q "$1" "SELECT CASE WHEN ok THEN 'ok' ELSE 'failed' END || ' ' ||
		coalesce(error, '-') FROM steps WHERE name = '${3:-s}'")
	expect_eq "$got" "$2" "${1##*/}: step ${3:-s} stored as '$2'"
}

# finding ROW CODE [step|run]: a finding CODE stored for the row's run;
# `step`: attached to step s
finding() {
	local where="" got
	[ "${3:-}" = step ] && where="AND step_id = (SELECT id FROM steps WHERE name = 's')"
	got=$(q "$1" "SELECT count(*) FROM findings WHERE code = '$2' $where")
	if [ "${got:-0}" -ge 1 ] 2>/dev/null; then
		ok "$1: finding $2 stored${3:+ (${3})}"
	else
		not_ok "$1: finding $2 stored${3:+ (${3})}" "findings: $(q "$1" "SELECT group_concat(code || '@' || coalesce(step_id, 'run'), ' ') FROM findings")"
	fi
}

# detail ROW REGEX: the step's error_detail matches
detail() { expect_match "$(q "$1" "SELECT error_detail FROM steps WHERE name = 's'")" "$2" "$1: detail says /$2/"; }

# between ROW VALUE LO HI WHAT
between() {
	if awk -v v="$2" -v lo="$3" -v hi="$4" 'BEGIN { exit !(v != "" && v + 0 >= lo && v + 0 <= hi) }'; then
		ok "$1: $5 ($2 in $3..$4)"
	else
		not_ok "$1: $5" "got '$2', want $3..$4"
	fi
}

# ---- DNS ---------------------------------------------------------------------

row_dns_no_response() {
	scn dns_no_response "dns $H A resolver=$DEAD4:$DNS_PORT name=s"
	prun dns_no_response
	expect_rc 1 "dns_no_response: exit 1"
	step_is dns_no_response "failed dns.timeout"
	finding dns_no_response DNS_NO_RESPONSE step
	between dns_no_response "$(q dns_no_response "SELECT total_ms FROM steps WHERE name = 's'")" 1900 4500 \
		"the step gave up at its 2 s timeout"
	no_crash dns_no_response
}

row_dns_nxdomain() {
	scn dns_nxdomain "dns nothing.probe.test A name=s"
	prun dns_nxdomain
	expect_rc 1 "dns_nxdomain: exit 1"
	step_is dns_nxdomain "failed dns.nxdomain"
	expect_eq "$(q dns_nxdomain "SELECT rcode FROM steps WHERE name = 's'")" 3 "dns_nxdomain: rcode 3 stored"
	finding dns_nxdomain DNS_NXDOMAIN step
	no_crash dns_nxdomain
}

row_dns_servfail() {
	scn dns_servfail "dns x.servfail.probe.test A name=s"
	prun dns_servfail
	expect_rc 1 "dns_servfail: exit 1"
	step_is dns_servfail "failed dns.servfail"
	expect_eq "$(q dns_servfail "SELECT rcode FROM steps WHERE name = 's'")" 2 "dns_servfail: rcode 2 stored"
	finding dns_servfail DNS_SERVFAIL step
	no_crash dns_servfail
}

# the server itself: over UDP the answer comes truncated (TC), over TCP
# whole (prints "tc=1 tcp_txt=750")
TC_PY='
import socket, struct, sys
srv, port = sys.argv[1], int(sys.argv[2])
q = struct.pack(">HHHHHH", 0x5151, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(l)]) + l.encode() for l in "big.probe.test".split(".")) + b"\0"
q += struct.pack(">HH", 16, 1)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(2)
u.sendto(q, (srv, port))
d = u.recv(4096)
tc = (d[2] >> 1) & 1
t = socket.create_connection((srv, port), 2)
t.sendall(struct.pack(">H", len(q)) + q)
b = b""
while len(b) < 2 or len(b) < 2 + struct.unpack(">H", b[:2])[0]:
    c = t.recv(4096)
    if not c:
        break
    b += c
a = b[2:]
i = 12
while a[i]:
    i += 1 + a[i]
i += 5 + 2 + 10  # qtype, qclass; the answer: a pointer, then its fixed part
rd = a[i:i + struct.unpack(">H", a[i - 2:i])[0]]
n, j = 0, 0
while j < len(rd):
    n += rd[j]
    j += 1 + rd[j]
print("tc=%d tcp_txt=%d" % (tc, n))
'
row_dns_truncated_tcp_fallback() {
	local pre
	pre=$(bench_server_exec python3 -c "$TC_PY" "$BENCH_SERVER_IP4" "$DNS_PORT" 2>&1)
	expect_eq "$pre" "tc=1 tcp_txt=750" "dns_truncated_tcp_fallback: the server truncates over UDP, answers whole over TCP"
	scn dns_truncated_tcp_fallback "dns big.probe.test TXT name=s"
	TMO=15 prun dns_truncated_tcp_fallback
	expect_rc 0 "dns_truncated_tcp_fallback: exit 0 (tcp=auto retries over TCP)"
	step_is dns_truncated_tcp_fallback "ok -"
	# 750 bytes of TXT: only the TCP answer has them
	expect_eq "$(q dns_truncated_tcp_fallback "SELECT json_extract(answers, '\$[0].type') || ' ' ||
		length(replace(replace(json_extract(answers, '\$[0].data'), '\"', ''), ' ', ''))
		FROM steps WHERE name = 's'")" "TXT 750" "dns_truncated_tcp_fallback: the whole 750-byte TXT answer stored (it came over TCP)"
	finding dns_truncated_tcp_fallback DNS_TRUNCATED
	no_crash dns_truncated_tcp_fallback
}

# ---- TCP -------------------------------------------------------------------------

row_tcp_refused() {
	scn tcp_refused "tcp $H:$CLOSED name=s"
	prun tcp_refused
	expect_rc 1 "tcp_refused: exit 1"
	step_is tcp_refused "failed tcp.refused"
	# the failed attempt is the step's connection, its finding the step's
	finding tcp_refused TCP_REFUSED step
	no_crash tcp_refused
}

row_tcp_syn_blackholed() {
	scn tcp_syn_blackholed "tcp $DEAD4:80 name=s"
	prun tcp_syn_blackholed
	expect_rc 1 "tcp_syn_blackholed: exit 1"
	step_is tcp_syn_blackholed "failed tcp.timeout"
	finding tcp_syn_blackholed SYN_NO_SYNACK step
	between tcp_syn_blackholed "$(q tcp_syn_blackholed "SELECT total_ms FROM steps WHERE name = 's'")" 1900 4500 \
		"the step gave up at its 2 s timeout"
	no_crash tcp_syn_blackholed
}

row_http_rst_mid_body() {
	scn http_rst_mid_body "http GET http://$H:$PBSERVER_PORT/?size=100000&rst_after=20000 name=s expect status=200"
	prun http_rst_mid_body
	expect_rc 1 "http_rst_mid_body: exit 1"
	step_is http_rst_mid_body "failed http.error"
	detail http_rst_mid_body 'reset'
	between http_rst_mid_body "$(q http_rst_mid_body "SELECT bytes FROM steps WHERE name = 's'")" 1 20000 \
		"the body bytes before the reset are stored"
	finding http_rst_mid_body RST_MIDSTREAM step
	no_crash http_rst_mid_body
}

# ---- TLS -------------------------------------------------------------------------

row_tls_expired() {
	scn tls_expired "tls $H:$EXPIRED_PORT name=s"
	prun tls_expired
	expect_rc 1 "tls_expired: exit 1"
	step_is tls_expired "failed tls.verify"
	detail tls_expired 'expired'
	expect_eq "$(q tls_expired "SELECT verified, days_left < 0 FROM certificates WHERE depth = 0")" "0|1" \
		"tls_expired: the leaf stored, not verified, days_left < 0"
	no_crash tls_expired
}

row_tls_wrong_hostname() {
	scn tls_wrong_hostname "tls $H:$WRONGNAME_PORT name=s"
	prun tls_wrong_hostname
	expect_rc 1 "tls_wrong_hostname: exit 1"
	step_is tls_wrong_hostname "failed tls.hostname"
	expect_match "$(q tls_wrong_hostname "SELECT subject FROM certificates WHERE depth = 0")" 'CN=wrong\.example' \
		"tls_wrong_hostname: the certificate for wrong.example is stored"
	no_crash tls_wrong_hostname
}

row_tls_unknown_ca() {
	scn tls_unknown_ca "tls $H:$UNKNOWNCA_PORT name=s"
	prun tls_unknown_ca
	expect_rc 1 "tls_unknown_ca: exit 1"
	step_is tls_unknown_ca "failed tls.verify"
	expect_match "$(q tls_unknown_ca "SELECT verified || ' ' || issuer FROM certificates WHERE depth = 0")" \
		'^0 .*CN=probe untrusted CA' "tls_unknown_ca: the leaf stored with its untrusted issuer, not verified"
	no_crash tls_unknown_ca
}

row_tls_version_mismatch() {
	scn tls_version_mismatch "tls $H:$TLS12_PORT tls_min=1.3 name=s"
	prun tls_version_mismatch
	expect_rc 1 "tls_version_mismatch: exit 1"
	step_is tls_version_mismatch "failed tls.alert"
	detail tls_version_mismatch 'protocol version \(70\)'
	finding tls_version_mismatch TLS_ALERT step
	no_crash tls_version_mismatch
}

row_tls_alert_mid_handshake() {
	scn tls_alert_mid_handshake "tls $H:$PBSERVER_ALERT_PORT name=s"
	prun tls_alert_mid_handshake
	expect_rc 1 "tls_alert_mid_handshake: exit 1"
	step_is tls_alert_mid_handshake "failed tls.alert"
	detail tls_alert_mid_handshake 'handshake failure \(40\)'
	finding tls_alert_mid_handshake TLS_ALERT step
	expect_match "$(q tls_alert_mid_handshake "SELECT detail FROM findings WHERE code = 'TLS_ALERT'")" 'level 2 description 40' \
		"tls_alert_mid_handshake: the finding names the fatal alert"
	# the server's side: it sent its first flight, then the alert when
	# the client's came without a certificate
	expect_match "$(cat "$PBSERVER_TLS_LOG")" 'end=tls_error note=peer_did_not_return_a_certificate' \
		"tls_alert_mid_handshake: pbserver sent the alert after the client's second flight"
	no_crash tls_alert_mid_handshake
}

row_tls_handshake_stall() {
	scn tls_handshake_stall "tls $H:$PBSERVER_STALL_PORT name=s"
	prun tls_handshake_stall
	expect_rc 1 "tls_handshake_stall: exit 1"
	step_is tls_handshake_stall "failed tls.timeout"
	finding tls_handshake_stall TLS_HANDSHAKE_TIMEOUT step
	between tls_handshake_stall "$(q tls_handshake_stall "SELECT total_ms FROM steps WHERE name = 's'")" 1900 4500 \
		"the step gave up at its 2 s timeout"
	no_crash tls_handshake_stall
}

# ---- HTTP ------------------------------------------------------------------------

row_http_500() {
	scn http_500 "http GET https://$H:$HTTPS_PORT/status/500 name=s expect status=200"
	prun http_500
	expect_rc 1 "http_500: exit 1"
	step_is http_500 "failed http.status"
	expect_eq "$(q http_500 "SELECT status FROM steps WHERE name = 's'")" 500 "http_500: status 500 stored"
	finding http_500 HTTP_STATUS step
	no_crash http_500
}

row_http_body_slower_than_timeout() {
	# the head at once, the body 3 s later: past the step's 2 s
	scn http_body_slower_than_timeout "http GET http://$H:$PBSERVER_PORT/?size=1000&split=2&split_ms=3000 name=s expect status=200"
	prun http_body_slower_than_timeout
	expect_rc 1 "http_body_slower_than_timeout: exit 1"
	step_is http_body_slower_than_timeout "failed http.timeout"
	expect_eq "$(q http_body_slower_than_timeout "SELECT status || ' ' || bytes FROM steps WHERE name = 's'")" "200 0" \
		"http_body_slower_than_timeout: the head's status stored, no body byte"
	between http_body_slower_than_timeout "$(q http_body_slower_than_timeout "SELECT total_ms FROM steps WHERE name = 's'")" 1900 4500 \
		"the step gave up at its 2 s timeout"
	no_crash http_body_slower_than_timeout
}

row_http_content_length_longer() {
	# Content-Length 1500, 1000 bytes, then the server closes
	scn http_content_length_longer "http GET http://$H:$PBSERVER_PORT/?size=1000&clen_extra=500 name=s expect status=200"
	prun http_content_length_longer
	expect_rc 1 "http_content_length_longer: exit 1"
	step_is http_content_length_longer "failed http.error"
	detail http_content_length_longer 'partial|remaining'
	expect_eq "$(q http_content_length_longer "SELECT bytes FROM steps WHERE name = 's'")" 1000 "http_content_length_longer: the 1000 bytes that came are stored"
	finding http_content_length_longer HTTP_BODY_MISMATCH step
	no_crash http_content_length_longer
}

row_http_broken_chunked() {
	scn http_broken_chunked "http GET http://$H:$PBSERVER_PORT/?size=1000&bad_chunked=1 name=s expect status=200"
	prun http_broken_chunked
	expect_rc 1 "http_broken_chunked: exit 1"
	step_is http_broken_chunked "failed http.error"
	detail http_broken_chunked 'chunk'
	no_crash http_broken_chunked
}

row_http_redirect_loop() {
	# every hop 302s to itself: follow=5 ends after six requests, the last
	# 302 is the final status
	scn http_redirect_loop "http GET http://$H:$PBSERVER_PORT/loop?redirect=1 follow=5 name=s expect status=200"
	prun http_redirect_loop
	expect_rc 1 "http_redirect_loop: exit 1"
	step_is http_redirect_loop "failed http.status"
	expect_eq "$(q http_redirect_loop "SELECT count(*), min(status), max(status) FROM exchanges
		WHERE step_id = (SELECT id FROM steps WHERE name = 's')")" "6|302|302" \
		"http_redirect_loop: six hops stored (1 + follow=5), each a 302"
	finding http_redirect_loop HTTP_STATUS step
	no_crash http_redirect_loop
}

row_http_body_over_limit() {
	scn http_body_over_limit "http GET http://$H:$PBSERVER_PORT/?size=50000 max_body=10KiB name=s expect status=200"
	prun http_body_over_limit
	expect_rc 1 "http_body_over_limit: exit 1"
	step_is http_body_over_limit "failed http.too_large"
	detail http_body_over_limit 'max_body'
	no_crash http_body_over_limit
}

row_http_endless_header() {
	# header lines without end, as fast as the link takes them: the
	# client must give up on a size limit, not on the timeout
	scn http_endless_header "http GET http://$H:$PBSERVER_PORT/?endless_header=1 name=s expect status=200"
	prun http_endless_header
	expect_rc 1 "http_endless_header: exit 1"
	step_is http_endless_header "failed http.error"
	detail http_endless_header '[Hh]eader'
	between http_endless_header "$(q http_endless_header "SELECT total_ms FROM steps WHERE name = 's'")" 0 1900 \
		"it stopped on a header limit, before the 2 s timeout"
	no_crash http_endless_header
}

row_http_one_byte_per_second() {
	# 100 bytes, one write each, 1 s apart (pbserver's split/split_ms)
	scn http_one_byte_per_second "http GET http://$H:$PBSERVER_PORT/?size=100&split=101&split_ms=1000 name=s expect status=200"
	prun http_one_byte_per_second
	expect_rc 1 "http_one_byte_per_second: exit 1"
	step_is http_one_byte_per_second "failed http.timeout"
	between http_one_byte_per_second "$(q http_one_byte_per_second "SELECT bytes FROM steps WHERE name = 's'")" 1 3 \
		"the trickle's first bytes are stored"
	between http_one_byte_per_second "$(q http_one_byte_per_second "SELECT total_ms FROM steps WHERE name = 's'")" 1900 4500 \
		"the step gave up at its 2 s timeout"
	no_crash http_one_byte_per_second
}

# ---- path ------------------------------------------------------------------------

row_mtu_blackhole() {
	local g0 body
	# upstream packets over 1000 bytes vanish (and pbfwd's default
	# drop_icmp_frag=1 would swallow an ICMP "fragmentation needed" coming
	# back): the ClientHello passes and is acknowledged, the request's
	# full-sized segments never
	body=$(head -c 6000 /dev/zero | tr '\0' b)
	scn mtu_blackhole "http POST https://$H:$PBSERVER_TLS_PORT/ body='$body' timeout=3s name=s expect status=200"
	if ! bench_profile 1 a2b.drop_larger=1000; then
		not_ok "mtu_blackhole: bench_profile 1 a2b.drop_larger=1000"
		return
	fi
	g0=$(bench_stat 1 a2b larger)
	prun mtu_blackhole
	between mtu_blackhole "$(($(bench_stat 1 a2b larger) - g0))" 2 1000 "pbfwd dropped the large segments"
	bench_profile 1 a2b.drop_larger= || not_ok "mtu_blackhole: profile restored"
	expect_rc 1 "mtu_blackhole: exit 1"
	step_is mtu_blackhole "failed http.timeout"
	finding mtu_blackhole MTU_BLACKHOLE step
	expect_eq "$(q mtu_blackhole "SELECT count(*) FROM findings WHERE code IN ('ICMP_FRAG_NEEDED', 'ICMP_UNREACHABLE')")" 0 \
		"mtu_blackhole: no ICMP finding (none reached the client)"
	no_crash mtu_blackhole
}

# ---- capture -----------------------------------------------------------------------

# as nobody without capabilities, in region 1 (files in the world-writable
# $T/nopriv, as lib.sh's run_probe_nopriv)
prun_nopriv() {
	local row=$1
	mkdir -p "$T/nopriv" && chmod 1777 "$T/nopriv" && chmod 711 "$T"
	cp "$T/$row.scn" "$T/nopriv/" && chmod 644 "$T/nopriv/$row.scn"
	bench_exec 1 timeout -k 5 "$PTIMEOUT" setpriv --reuid=nobody --regid=nogroup --clear-groups \
		--inh-caps=-all --bounding-set=-all -- \
		"$PROBE" run --db "$T/nopriv/$row.db" --spool "$T/nopriv/$row.spool" --region r1 \
		--config /dev/null "$T/nopriv/$row.scn" >"$T/out" 2>"$T/err"
	rc=$? out=$(cat "$T/out") err=$(cat "$T/err")
}

row_no_cap_net_raw() {
	scn no_cap_net_raw "http GET http://$H:$PBSERVER_PORT/ name=s expect status=200"
	prun_nopriv no_cap_net_raw
	expect_rc 0 "no_cap_net_raw: exit 0 (runs go on without capture)"
	expect_match "$err" 'no packet capture \(.*\): runs store TCP_INFO figures' "no_cap_net_raw: it says it runs without capture"
	expect_eq "$(q nopriv/no_cap_net_raw "SELECT ok, capture, capture_drops IS NULL FROM runs")" "1|unavailable|1" \
		"no_cap_net_raw: the run stored, capture 'unavailable'"
	step_is nopriv/no_cap_net_raw "ok -"
	expect_eq "$(q nopriv/no_cap_net_raw "SELECT group_concat(DISTINCT source) FROM connections")" tcp_info \
		"no_cap_net_raw: connection figures from tcp_info"
	no_crash no_cap_net_raw
}

row_capture_required() {
	scn capture_required "http GET http://$H:$PBSERVER_PORT/ name=s expect status=200"
	sed -i '1a capture required' "$T/capture_required.scn"
	prun_nopriv capture_required
	expect_rc 3 "capture_required: exit 3"
	expect_match "$err" 'capture required, but no capture: .*(permission|not permitted)' "capture_required: it says why"
	expect_match "$(q nopriv/capture_required "SELECT count(*) FROM runs")" '^(0|\(no store\))$' "capture_required: nothing run or stored"
	no_crash capture_required
}

row_capture_drops() {
	local got
	# the probe waits 3 s for its answer; meanwhile it is stopped, and a
	# download from the same server port (so inside the capture's filter,
	# though not the run's connection) fills its 4 MiB kernel ring
	scn capture_drops "http GET http://$H:$PBSERVER_PORT/?think_ms=3000 timeout=10s name=s expect status=200"
	bg capture_drops
	if ! connected "$PBSERVER_PORT"; then
		not_ok "capture_drops: the probe reaches pbserver"
		bg_wait capture_drops
		return
	fi
	kill -STOP "$bgpid"
	got=$(bench_exec 1 curl -sS --max-time 1 -o /dev/null -w '%{size_download}' \
		"http://$BENCH_SERVER_IP4:$PBSERVER_PORT/?size=2000000000&flood=1" 2>/dev/null)
	kill -CONT "$bgpid"
	between capture_drops "${got:-0}" 8388608 1e12 "a flood of more than twice the kernel ring went by"
	bg_wait capture_drops
	expect_rc 0 "capture_drops: exit 0 (the step itself is fine)"
	step_is capture_drops "ok -"
	between capture_drops "$(q capture_drops "SELECT capture_drops FROM runs")" 1 1e12 "runs.capture_drops counts the kernel's drops"
	expect_eq "$(q capture_drops "SELECT count(*) FROM findings WHERE code = 'CAPTURE_DROPS' AND step_id IS NULL")" 1 \
		"capture_drops: a run-wide CAPTURE_DROPS finding"
	no_crash capture_drops
}

# ---- the store and the spool ----------------------------------------------------------

HOLD_PY='
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
c.execute("BEGIN EXCLUSIVE")
open(sys.argv[2], "w").close()
time.sleep(float(sys.argv[3]))
c.execute("COMMIT")
print("released")
'
row_db_locked() {
	local holder i
	scn db_locked "http GET http://$H:$PBSERVER_PORT/ name=s expect status=200"
	prun db_locked
	expect_rc 0 "db_locked: a first run"
	# another writer holds the store for 1.5 s
	python3 -c "$HOLD_PY" "$T/db_locked.db" "$T/held" 1.5 >"$T/holder.out" 2>&1 &
	holder=$!
	for ((i = 0; i < 500; i++)); do [ -e "$T/held" ] && break; sleep 0.01; done
	[ -e "$T/held" ] || not_ok "db_locked: the other writer takes its lock" "$(cat "$T/holder.out")"
	prun db_locked
	wait "$holder"
	expect_eq "$?:$(cat "$T/holder.out")" "0:released" "db_locked: the other writer committed and let go"
	expect_rc 0 "db_locked: exit 0 (waited, then stored)"
	between db_locked "$ms" 1000 20000 "the run waited for the other writer, in ms"
	expect_eq "$(q db_locked "SELECT count(*), sum(ok) FROM runs")" "2|2" "db_locked: both runs stored"
	expect_eq "$(q db_locked 'PRAGMA integrity_check')" ok "db_locked: integrity_check ok"
	no_crash db_locked
}

row_spool_disk_full() {
	# the spool on a 64 KiB tmpfs filled to the last block, in a mount
	# namespace of its own: `keep_pcap always` cannot write its pcap
	scn spool_disk_full "http GET http://$H:$PBSERVER_PORT/ name=s expect status=200"
	sed -i '1a keep_pcap always' "$T/spool_disk_full.scn"
	mkdir -p "$T/spool_disk_full.spool"
	bench_exec 1 unshare -m --propagation private sh -c '
		s=$1 ls=$2; shift 2
		mount -t tmpfs -o size=64k,mode=0700 tmpfs "$s" || exit 50
		dd if=/dev/zero of="$s/fill" bs=4k 2>/dev/null
		"$@"; rc=$?
		ls -A "$s/pcaps" >"$ls" 2>&1; df -k "$s" | tail -n 1 >>"$ls"
		exit $rc' sh "$T/spool_disk_full.spool" "$T/spool_disk_full.ls" \
		timeout -k 5 "$PTIMEOUT" "$PROBE" run --db "$T/spool_disk_full.db" --spool "$T/spool_disk_full.spool" \
		--region r1 --config /dev/null "$T/spool_disk_full.scn" >"$T/out" 2>"$T/err"
	rc=$? out=$(cat "$T/out") err=$(cat "$T/err")
	expect_rc 3 "spool_disk_full: exit 3 (the pcap could not be written)"
	expect_match "$err" 'escalation pcap: .*No space left on device' "spool_disk_full: the pcap failure is said on stderr"
	expect_eq "$(q spool_disk_full "SELECT count(*), sum(ok), min(capture) FROM runs")" "1|1|on" "spool_disk_full: the run is stored"
	step_is spool_disk_full "ok -"
	expect_eq "$(q spool_disk_full "SELECT count(*) FROM pcaps")" 0 "spool_disk_full: no pcaps row for the file that failed"
	expect_match "$(cat "$T/spool_disk_full.ls")" '^tmpfs +64 +64 +0 ' "spool_disk_full: nothing left in spool/pcaps, the tmpfs still full"
	no_crash spool_disk_full
}

row_kill9_during_run() {
	local i before after victim_rc
	scn kill9_during_run "http GET http://$H:$PBSERVER_PORT/ name=s expect status=200"
	for i in 1 2 3; do prun kill9_during_run; done
	expect_eq "$(q kill9_during_run "SELECT count(*), sum(ok) FROM runs")" "3|3" "kill9_during_run: three runs stored before"
	snap() { q kill9_during_run "SELECT * FROM runs ORDER BY seq; SELECT * FROM steps ORDER BY id;
		SELECT * FROM connections ORDER BY id; SELECT * FROM exchanges ORDER BY id;
		SELECT * FROM findings ORDER BY id"; }
	before=$(snap)
	scn kill9_slow "http GET http://$H:$PBSERVER_PORT/?think_ms=5000 timeout=10s name=s expect status=200"
	sed -i 's/^scenario fm-kill9_slow$/scenario fm-kill9_during_run/' "$T/kill9_slow.scn"
	bg kill9_during_run "$T/kill9_slow.scn"
	if connected "$PBSERVER_PORT"; then ok "kill9_during_run: the fourth run is under way"; else
		not_ok "kill9_during_run: the fourth run is under way"; fi
	kill -KILL "$bgpid"
	wait "$bgpid" 2>/dev/null # no "Killed" notice from bash
	victim_rc=$?
	expect_eq "$victim_rc" 137 "kill9_during_run: the run died of SIGKILL"
	expect_eq "$(q kill9_during_run 'PRAGMA integrity_check')" ok "kill9_during_run: integrity_check ok"
	after=$(snap)
	if [ "$before" == "$after" ]; then ok "kill9_during_run: the three earlier runs are intact (every row unchanged)"; else
		not_ok "kill9_during_run: the three earlier runs are intact" "$(diff <(echo "$before") <(echo "$after") | head -20)"; fi
	prun kill9_during_run
	expect_rc 0 "kill9_during_run: the next run works (no stale lock)"
	expect_eq "$(q kill9_during_run "SELECT count(*), sum(ok) FROM runs")" "4|4" "kill9_during_run: four runs in the end, none of the killed one"
	no_crash kill9_during_run
}

row_overlapping_cron() {
	scn overlapping_cron "http GET http://$H:$PBSERVER_PORT/?think_ms=2500 timeout=10s name=s expect status=200"
	bg overlapping_cron
	if ! connected "$PBSERVER_PORT"; then
		not_ok "overlapping_cron: the first run reaches pbserver"
		bg_wait overlapping_cron
		return
	fi
	prun overlapping_cron
	expect_rc 4 "overlapping_cron: the second run exits 4"
	expect_match "$err" 'fm-overlapping_cron: skipped: another run' "overlapping_cron: it says why"
	between overlapping_cron "$ms" 0 1500 "the second run did not wait, in ms"
	no_crash overlapping_cron
	srv_alive "$bgpid" && ok "overlapping_cron: the first run is still going" || not_ok "overlapping_cron: the first run is still going"
	bg_wait overlapping_cron
	expect_rc 0 "overlapping_cron: the first run finishes normally"
	no_crash "overlapping_cron (the first run)"
	expect_eq "$(q overlapping_cron "SELECT count(*), sum(ok) FROM runs")" "1|1" "overlapping_cron: only the first run stored"
}

# ---- the matrix ----------------------------------------------------------------------

ROWS=(
	row_dns_no_response row_dns_nxdomain row_dns_servfail row_dns_truncated_tcp_fallback
	row_tcp_refused row_tcp_syn_blackholed row_http_rst_mid_body
	row_tls_expired row_tls_wrong_hostname row_tls_unknown_ca row_tls_version_mismatch
	row_tls_alert_mid_handshake row_tls_handshake_stall
	row_http_500 row_http_body_slower_than_timeout row_http_content_length_longer
	row_http_broken_chunked row_http_redirect_loop row_http_body_over_limit
	row_http_endless_header row_http_one_byte_per_second
	row_mtu_blackhole
	row_no_cap_net_raw row_capture_required row_capture_drops
	row_db_locked row_spool_disk_full row_kill9_during_run row_overlapping_cron
)
for r in "${ROWS[@]}"; do
	echo "# ${r#row_}"
	t0=$(date +%s%N)
	"$r"
	echo "# ${r#row_}: $((($(date +%s%N) - t0) / 1000000)) ms"
done
echo "# ${#ROWS[@]} rows"
finish
