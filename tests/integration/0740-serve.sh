#!/usr/bin/env bash
# 0740-serve.sh: `probe serve` over a store with a few runs, one of them
# breaching with its escalation pcap kept (pbserver on loopback; capture
# on loopback needs root).
#   - /healthz 200 without a token; everything else 401 (WWW-Authenticate:
#     Bearer) without or with a wrong token;
#   - /metrics parses as Prometheus text (name{labels} value), has
#     probe_success, probe_last_run_timestamp_seconds, probe_runs_total and
#     a histogram with _bucket (le="+Inf"), _sum and _count;
#   - /api/runs?after=0 is NDJSON, seq increasing, format_version 1, the
#     stored runs all; limit=1 pages through them via X-Probe-Next-After;
#   - /api/pcaps/RUN_ID is the file, byte for byte, with its sha256 in
#     X-Probe-Sha256; traversal (plain and percent-encoded) and an unknown
#     run are 404; POST is 405;
#   - a token file others can read: serve refuses to start (exit 2);
#   - SIGTERM stops it with exit 0; the store is never written.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || { skip "probe serve" "needs root (capture on loopback)"; finish; }
PBS=$PWD/build/tools/pbserver
[ -x "$PBS" ] || { skip "probe serve" "no $PBS"; finish; }
freeport() { python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(freeport)
"$PBS" --listen "127.0.0.1:$port" --pid-file "$T/pbs.pid" --log "$T/pbs.log" \
	>"$T/pbs.out" 2>&1 &
pbs=$!
srv=
trap 'kill $pbs $srv 2>/dev/null; wait $pbs $srv 2>/dev/null; rm -rf "$T"' EXIT
for _ in $(seq 50); do [ -s "$T/pbs.pid" ] && break; sleep 0.1; done

cat >"$T/s.scn" <<EOF
scenario serve_test
threshold think_ms > 100
keep_pcap on_breach
http GET http://127.0.0.1:$port/?think_ms=\${THINK} name=get expect status=200
EOF
run() { # THINK
	THINK=$1 "$PROBE" run --db "$T/p.db" --spool "$T/spool" --config /dev/null \
		--region r1 "$T/s.scn" >"$T/out" 2>"$T/err"
}
run 10; run 10; run 200
q() { sqlite3 "$T/p.db" "$1"; }
expect_eq "$(q "SELECT count(*) FROM runs")" 3 "three runs stored"
rid=$(q "SELECT r.run_id FROM runs r JOIN pcaps p ON p.run_seq = r.seq WHERE p.pruned = 0 LIMIT 1")
[ -n "$rid" ] || not_ok "the breaching run kept a pcap" "$(cat "$T/err")"
pfile=$(q "SELECT p.path FROM pcaps p JOIN runs r ON r.seq = p.run_seq WHERE r.run_id = '$rid'")
case $pfile in /*) ;; *) pfile=$T/spool/$pfile ;; esac
sum0=$(sha256sum "$T/p.db" | cut -d' ' -f1)

printf 'tok-%s\n' "$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$T/token"
chmod 600 "$T/token"
tok=$(head -1 "$T/token")

sport=$(freeport)
"$PROBE" serve --listen "127.0.0.1:$sport" --token-file "$T/token" \
	--db "$T/p.db" --spool "$T/spool" --config /dev/null 2>"$T/serve.err" &
srv=$!
for _ in $(seq 50); do grep -q listening "$T/serve.err" && break; sleep 0.1; done
U=http://127.0.0.1:$sport
code() { curl -s --path-as-is -o /dev/null -w '%{http_code}' "$@"; }
auth=(-H "Authorization: Bearer $tok")

expect_eq "$(code "$U/healthz")" 200 "/healthz: 200 without a token"
expect_eq "$(curl -s "$U/healthz")" ok "/healthz says ok"
for p in /metrics "/api/runs?after=0" "/api/pcaps/$rid" /nope; do
	expect_eq "$(code "$U$p")" 401 "$p: 401 without a token"
	expect_eq "$(code -H 'Authorization: Bearer wrong' "$U$p")" 401 "$p: 401 with a wrong token"
done
expect_match "$(curl -s -D - -o /dev/null "$U/metrics")" "WWW-Authenticate: Bearer" \
	"401 says WWW-Authenticate: Bearer"

expect_eq "$(code "${auth[@]}" "$U/metrics")" 200 "/metrics: 200 with the token"
curl -s "${auth[@]}" "$U/metrics" >"$T/metrics"
if python3 - "$T/metrics" >"$T/py" 2>&1 <<'EOF'
import re, sys
lines = open(sys.argv[1]).read().splitlines()
pat = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*"(,[a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*")*)?\})? (\S+)$')
names = set()
for l in lines:
    if not l or l.startswith('#'):
        continue
    m = pat.match(l)
    if not m:
        sys.exit('bad line: ' + l)
    float(m.group(7))
    names.add(m.group(1))
need = ['probe_success', 'probe_last_run_timestamp_seconds', 'probe_runs_total',
        'probe_breaches_total', 'probe_think_seconds_bucket',
        'probe_think_seconds_sum', 'probe_think_seconds_count']
miss = [n for n in need if n not in names]
if miss:
    sys.exit('missing: %s' % miss)
if not any('le="+Inf"' in l for l in lines if l.startswith('probe_think_seconds_bucket')):
    sys.exit('no +Inf bucket')
if not any(l.startswith('probe_runs_total{') and l.endswith(' 3') for l in lines):
    sys.exit('probe_runs_total is not 3')
if '# TYPE probe_think_seconds histogram' not in lines:
    sys.exit('no TYPE line')
EOF
then ok "/metrics parses, with probe_success, last run time, runs_total and a histogram"
else not_ok "/metrics" "$(cat "$T/py")"; fi

curl -s -D "$T/h" "${auth[@]}" "$U/api/runs?after=0" >"$T/runs"
expect_match "$(cat "$T/h")" "application/x-ndjson" "/api/runs: Content-Type application/x-ndjson"
if python3 - "$T/runs" "$T/p.db" >"$T/py" 2>&1 <<'EOF'
import json, sqlite3, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
db = sqlite3.connect(sys.argv[2])
want = [r for r in db.execute('SELECT seq, run_id FROM runs ORDER BY seq')]
got = [(r['seq'], r['run_id']) for r in runs]
if got != want:
    sys.exit('got %s want %s' % (got, want))
if any(r['format_version'] != 1 for r in runs):
    sys.exit('format_version')
if not all(r['steps'] and r['steps'][0]['kind'] == 'http' for r in runs):
    sys.exit('steps')
if sum(1 for r in runs if r['breach']) != 1 or not any(r['pcap'] for r in runs):
    sys.exit('breach/pcap')
EOF
then ok "/api/runs?after=0: every stored run in seq order, format_version 1, with steps"
else not_ok "/api/runs" "$(cat "$T/py")" "$(cat "$T/serve.err")"; fi
after=0 seen=
for _ in 1 2 3 4 5; do
	curl -s -D "$T/h" "${auth[@]}" "$U/api/runs?after=$after&limit=1" >"$T/page"
	n=$(grep -c . "$T/page")
	[ "$n" -eq 0 ] && break
	seen="$seen $(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["seq"])' "$T/page")"
	after=$(tr -d '\r' <"$T/h" | sed -n 's/^X-Probe-Next-After: //Ip')
done
expect_eq "$seen" " $(q "SELECT group_concat(seq, ' ') FROM (SELECT seq FROM runs ORDER BY seq)")" \
	"limit=1 walks every run via X-Probe-Next-After"
expect_eq "$(code "${auth[@]}" "$U/api/runs?after=0&limit=1001")" 400 "limit beyond 1000: 400"

curl -s -D "$T/h" "${auth[@]}" "$U/api/pcaps/$rid" -o "$T/got.pcapng"
if cmp -s "$T/got.pcapng" "$pfile"; then ok "/api/pcaps/RUN_ID: the file, byte for byte"
else not_ok "/api/pcaps/RUN_ID" "$(cat "$T/h")"; fi
hdr=$(tr -d '\r' <"$T/h" | sed -n 's/^X-Probe-Sha256: //Ip')
expect_eq "$hdr" "$(sha256sum "$pfile" | cut -d' ' -f1)" "X-Probe-Sha256 is the file's sha256sum"
expect_match "$(cat "$T/h")" "application/vnd.tcpdump.pcap" "Content-Type application/vnd.tcpdump.pcap"
for p in /api/pcaps/../../etc/passwd /api/pcaps/..%2f..%2fetc%2fpasswd \
	/api/pcaps/%2e%2e%2f%2e%2e%2fetc%2fpasswd /api/pcaps/%252e%252e%252fetc%252fpasswd \
	/api/pcaps/.. /api/pcaps/no-such-run /api/pcaps/ /nope; do
	expect_eq "$(code "${auth[@]}" "$U$p")" 404 "$p: 404"
done
expect_eq "$(code "${auth[@]}" -X POST "$U/api/runs?after=0")" 405 "POST: 405"
expect_eq "$(code "${auth[@]}" -X DELETE "$U/api/pcaps/$rid")" 405 "DELETE: 405"

kill -TERM $srv; wait $srv; rc=$?; srv=
expect_eq "$rc" 0 "SIGTERM: serve exits 0"
expect_eq "$(sha256sum "$T/p.db" | cut -d' ' -f1)" "$sum0" "the database file is unchanged"

# HTTPS with a self-signed certificate (libmicrohttpd's GnuTLS)
if openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/k.pem" -out "$T/c.pem" \
	-days 2 -subj /CN=localhost >/dev/null 2>&1; then
	"$PROBE" serve --listen "127.0.0.1:$sport" --token-file "$T/token" \
		--tls-cert "$T/c.pem" --tls-key "$T/k.pem" \
		--db "$T/p.db" --spool "$T/spool" --config /dev/null 2>"$T/serve.err" &
	srv=$!
	for _ in $(seq 50); do grep -q listening "$T/serve.err" && break; sleep 0.1; done
	S=https://127.0.0.1:$sport
	expect_eq "$(code -k "$S/healthz")" 200 "https: /healthz 200"
	expect_eq "$(code -k "$S/metrics")" 401 "https: /metrics 401 without a token"
	expect_eq "$(curl -sk "${auth[@]}" "$S/api/runs?after=0" | grep -c '"format_version":1')" 3 \
		"https: /api/runs with the token"
	kill -TERM $srv; wait $srv; rc=$?; srv=
	expect_eq "$rc" 0 "https: SIGTERM, exit 0"
else
	skip "https" "openssl cannot make a certificate"
fi
run_probe serve --listen "127.0.0.1:$sport" --token-file "$T/token" --tls-cert "$T/c.pem" \
	--db "$T/p.db" --config /dev/null
expect_rc 2 "--tls-cert without --tls-key: usage error"

chmod 644 "$T/token"
timeout 5 "$PROBE" serve --listen "127.0.0.1:$sport" --token-file "$T/token" \
	--db "$T/p.db" --config /dev/null >"$T/out" 2>"$T/err"
expect_eq "$?" 2 "a token file others can read: serve refuses (exit 2)"
expect_match "$(cat "$T/err")" "group or others" "and says why"
: >"$T/empty"; chmod 600 "$T/empty"
timeout 5 "$PROBE" serve --listen "127.0.0.1:$sport" --token-file "$T/empty" \
	--db "$T/p.db" --config /dev/null >"$T/out" 2>"$T/err"
expect_eq "$?" 2 "an empty token file: serve refuses (exit 2)"
finish
