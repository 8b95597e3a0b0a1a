#!/usr/bin/env bash
# `probe report` on real runs (issue 8): probe runs a scenario of every
# step kind in the bench (10 ms each way) -- HTTP/1.1 cleartext, TLS 1.3
# with a 200 kB body, a request on a kept-alive connection, TLS 1.2, h2
# (nginx), redirects across hosts -- three times; then each waterfall
# segment of `probe report` (JSON, terminal, HTML) must be the stored
# figure it draws, and the segments must add up to the step's (exchange's)
# total_ms within 2 ms: the library's clock (DNS, connect, TLS, total) and
# the wire's (request sent, RTT, think, transfer) are mapped per run
# (schema/005_request_sent.sql).  Measured on this bench: the largest
# |sum - total| 0.34 ms idle, the ASan build 0.81 ms (the process's own
# latency after the last byte, in total_ms and in no segment); 2 ms is the
# issue's bound.  Also: colours only on a terminal, NO_COLOR, the
# network/server split in words, findings with frame numbers, the pcap.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_bench.sh"
bench_usable || { skip "report on bench runs" "$BENCH_SKIP"; finish; }

D=10
bench_up --delay-ms $D && bench_dns_start && bench_nginx_start && bench_pbserver_start ||
	{ not_ok "bench with DNS, nginx and pbserver"; finish; }
ok "bench with DNS, nginx and pbserver"
cat >"$T/w.scn" <<EOF
scenario waterfall
resolver $BENCH_RESOLVER
timeout 20s
defaults ca=$CERTS_DIR/ca.pem
threshold think_ms > 40
dns  demo.probe.test A name=dns
tcp  demo.probe.test:$PBSERVER_PORT name=tcp
tls  demo.probe.test:$PBSERVER_TLS_PORT name=tls
http GET http://demo.probe.test:$PBSERVER_PORT/?think_ms=30 name=plain expect status=200
http GET https://demo.probe.test:$PBSERVER_TLS_PORT/?think_ms=60&size=200000 name=tls13 tls_min=1.3 expect status=200
http GET https://demo.probe.test:$PBSERVER_TLS_PORT/?think_ms=20 name=reused tls_min=1.3 expect status=200
http GET https://demo.probe.test:$PBSERVER_TLS_PORT/?think_ms=10 name=tls12 tls_max=1.2 expect status=200
http GET https://demo.probe.test:$HTTPS_PORT/slow name=h2 http=2 expect status=200
http GET https://a.probe.test:$HTTPS_PORT/r1 name=redir follow=3 http=1.1 expect status=200
EOF
DB=$T/p.db
for i in 1 2 3; do
	# a region label per run: the report draws the latest of each, so
	# all three are checked
	bench_exec 1 "$PROBE" run --db "$DB" --spool "$T/spool" --region r$i \
		--config /dev/null "$T/w.scn" >"$T/run$i.out" 2>"$T/run$i.err"
	rc=$? out=$(cat "$T/run$i.out") err=$(cat "$T/run$i.err")
	expect_rc 1 "run $i: every step ok, the think threshold breached (exit 1)"
done
expect_eq "$(sql "$DB" "SELECT count(*) FROM steps WHERE ok = 0")" 0 "no step failed"
expect_eq "$(sql "$DB" "SELECT count(*) FROM exchanges WHERE request_sent_ms IS NULL")" 0 \
	"every exchange has request_sent_ms (the clocks mapped)"
expect_eq "$(sql "$DB" "SELECT count(*) FROM exchanges e JOIN steps s ON s.id = e.step_id
	WHERE s.name = 'reused' AND e.connect_ms IS NULL AND e.rtt_ms > 0")" 3 \
	"the kept-alive request: no connect, an RTT of its own"
expect_eq "$(sql "$DB" "SELECT count(*) FROM exchanges e JOIN steps s ON s.id = e.step_id WHERE s.name = 'redir'")" 9 \
	"the redirect step: three exchanges a run"

"$PROBE" report --db "$DB" --spool "$T/spool" --config /dev/null --json >"$T/r.json" 2>"$T/r.err"
expect_eq "$?" 0 "report --json"
"$PROBE" report --db "$DB" --spool "$T/spool" --config /dev/null --color never >"$T/r.txt" 2>>"$T/r.err"
expect_eq "$?" 0 "report in the terminal"
"$PROBE" report --db "$DB" --spool "$T/spool" --config /dev/null --html "$T/r.html" 2>>"$T/r.err"
expect_eq "$?" 0 "report --html"
python3 "$(dirname "$0")/report_check.py" "$DB" --json "$T/r.json" --text "$T/r.txt" \
	--html "$T/r.html" --sum-tol 2 >"$T/chk" 2>&1
cat "$T/chk"
_fails=$((_fails + $(grep -c '^not ok' "$T/chk")))
grep -q '^ok - sums checked' "$T/chk" || not_ok "report_check.py ran to its end" "$(tail -5 "$T/chk")"

# the words around the bars
txt=$(cat "$T/r.txt")
expect_match "$txt" '^scenario waterfall  latest run of 3 regions$' "one scenario, three regions"
expect_match "$txt" '^      first byte: [0-9.]+ ms network, 6[0-9.]+ ms server$' \
	"the network/server split in words (tls13: ~20 ms network, 60 ms server)"
expect_match "$txt" 'request ACK [0-9.]+ ms after its last byte: (piggybacked|a bare ACK)' \
	"the request's ACK and its pattern"
expect_match "$txt" '^      hop 3: GET https://a.probe.test:[0-9]+/r3$' "redirect hops drawn one by one"
expect_match "$txt" '^    breached: think_ms > 40' "the breached threshold"
expect_match "$txt" "^    escalation pcap: $T/spool/pcaps/.*\\.pcapng \\([0-9]+ bytes, breach" "the escalation pcap kept"
nf=$(python3 -c 'import json,sys; print(len(json.loads(open(sys.argv[1]).readline())["findings"]))' "$T/r.json")
if [ "$nf" -gt 0 ]; then
	first=$(python3 -c 'import json,sys; f=json.loads(open(sys.argv[1]).readline())["findings"][0]; print(f["code"], ",".join(map(str, f["packets"])))' "$T/r.json")
	code=${first% *} frames=${first#* }
	expect_match "$txt" "^      $code in step [^ ]+ \\(frames ${frames//,/, }\\)" "findings in words with their frame numbers ($code)"
else
	ok "no findings in this run (nothing to show)"
fi

# colours: only on a terminal, never with NO_COLOR, always on request
"$PROBE" report --db "$DB" --config /dev/null >"$T/plain.txt" 2>&1
grep -q $'\033' "$T/plain.txt" && not_ok "no colours into a file" || ok "no colours into a file"
"$PROBE" report --db "$DB" --config /dev/null --color always >"$T/col.txt" 2>&1
grep -q $'\033\[3[0-9]m' "$T/col.txt" && ok "--color always: ANSI colours" || not_ok "--color always: ANSI colours"
if command -v script >/dev/null; then
	TERM=xterm script -qec "$PROBE report --db $DB --config /dev/null" /dev/null >"$T/tty.txt" 2>&1
	grep -q $'\033\[3[0-9]m' "$T/tty.txt" && ok "colours on a terminal" || not_ok "colours on a terminal" "$(head -3 "$T/tty.txt")"
	NO_COLOR=1 TERM=xterm script -qec "$PROBE report --db $DB --config /dev/null" /dev/null >"$T/nc.txt" 2>&1
	grep -q $'\033\[' "$T/nc.txt" && not_ok "NO_COLOR: no colours on a terminal" || ok "NO_COLOR: no colours on a terminal"
	LC_ALL=C.UTF-8 TERM=xterm script -qec "$PROBE report --db $DB --config /dev/null" /dev/null >"$T/u8.txt" 2>&1
	grep -q $'\u2588' "$T/u8.txt" && ok "Unicode bars in a UTF-8 locale" || not_ok "Unicode bars in a UTF-8 locale" "$(head -5 "$T/u8.txt")"
else
	skip "colours on a terminal" "script(1) is not installed"
fi
LC_ALL=C "$PROBE" report --db "$DB" --config /dev/null >"$T/c.txt" 2>&1
grep -q '#' "$T/c.txt" && ! grep -q $'\u2588' "$T/c.txt" && ok "ASCII bars in the C locale" || not_ok "ASCII bars in the C locale"

# the page holds nothing from elsewhere
for pat in 'src=' 'url(' '@import' '<link' '<script'; do
	grep -qiF -- "$pat" "$T/r.html" && not_ok "the page has no $pat" || ok "the page has no $pat"
done
expect_eq "$(stat -c %a "$T/r.html")" 600 "the page is written 0600"
finish
