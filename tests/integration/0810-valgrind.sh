#!/usr/bin/env bash
# valgrind memcheck over the commands that take input from the network and
# from files (issue 9): `probe run` of every step kind against the local
# servers with the capture on, a breach (so the escalation pcap is
# written) and retention; `probe analyze` on every hand-made capture of
# tests/data/pcap (text and --json) and on a live run's own capture with
# its key log; `probe report` (terminal, JSON, HTML) of the store those
# runs made.  Each must report no memcheck error and no definite leak
# (--errors-for-leak-kinds=definite: "possibly" and "still reachable"
# blocks belong to the libraries' process-wide caches, freed or not at
# exit by design).  valgrind cannot run the sanitizer build: the asan half
# skips this script (ASan's LeakSanitizer covers that build).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_servers.sh"

if [ "${SUITE:-}" = asan ]; then
	skip "valgrind memcheck" "the sanitizer build runs under ASan/LSan instead"
	finish
fi
command -v valgrind >/dev/null || { not_ok "valgrind is installed (make deps)"; finish; }
VG=(valgrind -q --leak-check=full --show-leak-kinds=definite
	--errors-for-leak-kinds=definite --error-exitcode=99 --num-callers=30)

# vg WHAT WANT_RC ARGS...: probe under memcheck; its stderr in $T/vg.err
vg() {
	local what=$1 want=$2
	shift 2
	"${VG[@]}" "$PROBE" "$@" >"$T/vg.out" 2>"$T/vg.err"
	local rc=$?
	if [ "$rc" -eq "$want" ] && ! grep -q '^==[0-9]*== ' "$T/vg.err"; then
		ok "valgrind: $what (exit $rc, no error, no definite leak)"
	else
		not_ok "valgrind: $what" "exit $rc, want $want" "$(grep -m 40 '^==' "$T/vg.err")" \
			"$(grep -v '^==' "$T/vg.err" | tail -3)"
	fi
}

servers_start "$T" || { not_ok "test servers start"; finish; }
cat >"$T/s.scn" <<EOF
scenario vg
resolver 127.0.0.1:$DNS_PORT
timeout 60s
defaults ca=$T/certs/ca.pem
threshold ttfb_wire_ms > 0.001
keylog on
dns   demo.probe.test A AAAA name=dns
tcp   demo.probe.test:$HTTPS_PORT name=tcp
tls   demo.probe.test:$TLS12_PORT alpn=h2,http/1.1 name=tls12
tls   demo.probe.test:$TLS13_PORT alpn=h2,http/1.1 name=tls13
http  GET https://demo.probe.test:$HTTPS_PORT/ name=h11 http=1.1 expect status=200
http  GET https://a.probe.test:$HTTPS_PORT/ name=h2 http=2 expect status=200
http  GET https://a.probe.test:$HTTPS_PORT/r1 name=redir follow=3 expect status=200
http  GET http://b.probe.test:$HTTP_PORT/ name=plain expect status=200
dns   nx.probe.test A name=nx expect rcode=NXDOMAIN
EOF
vg "probe run (capture, breach, pcap, retention)" 1 run --json --db "$T/p.db" --spool "$T/spool" \
	--region vg --config /dev/null "$T/s.scn"
cp "$T/vg.out" "$T/run.json"
expect_match "$(cat "$T/run.json")" '"capture":"on"' "the run captured its packets"
expect_eq "$(sql "$T/p.db" "SELECT count(*) FROM steps WHERE ok = 0")" 0 "every step ok under valgrind"
pcap=$(ls "$T"/spool/pcaps/*.pcapng 2>/dev/null | head -1)
[ -n "$pcap" ] && ok "the breach kept a pcap ($pcap)" || not_ok "the breach kept a pcap"
vg "probe run --parallel 2 of two scenarios" 1 run --parallel 2 --db "$T/p.db" --spool "$T/spool" \
	--region vg2 --config /dev/null "$T/s.scn" "$T/s.scn"

n=0
for f in tests/data/pcap/*.pcap; do
	"${VG[@]}" "$PROBE" analyze --json "$f" >/dev/null 2>"$T/a.err"
	rc=$?
	if [ "$rc" -gt 3 ] || grep -q '^==[0-9]*== ' "$T/a.err"; then
		not_ok "valgrind: probe analyze --json $f" "exit $rc" "$(grep -m 30 '^==' "$T/a.err")"
	fi
	n=$((n + 1))
done
ok "valgrind: probe analyze --json on $n hand-made captures (no error, no definite leak)"
vg "probe analyze (text) of a hand-made capture" 0 analyze tests/data/pcap/case_reused_delayed_ack.pcap
if [ -n "$pcap" ]; then
	vg "probe analyze of the run's own pcapng (its secrets block decrypts)" 0 analyze --json "$pcap"
fi
vg "probe report" 0 report --db "$T/p.db" --spool "$T/spool" --config /dev/null
vg "probe report --json" 0 report --json --db "$T/p.db" --config /dev/null
vg "probe report --html" 0 report --html "$T/r.html" --db "$T/p.db" --spool "$T/spool" --config /dev/null
finish
