#!/usr/bin/env bash
# 0760-collect.sh: `probe collect` and `probe pcap fetch` end to end.
# Two regions (eu, us) each run real `probe run --json` against pbserver
# on loopback into their own store; their JSON lines are what a regional
# probe's /api/runs serves.  A central store collects both: same runs
# (run_ids), same figures; a second collect adds nothing; new regional
# runs come on the next collect only (the cursor); a region that is down,
# refuses the token, has a token file others can read or serves bad JSON
# is reported and skipped while the others land (exit 1).  pcap fetch:
# the file equals the regional one and its sha256 checks; a tampered
# X-Probe-Sha256 gives exit 3 and no file; 404 exit 1; 401 exit 3.
# Over https, the region's ca=FILE is trusted and nothing else.
#
# The regional side is a small python3 server (below) until `probe serve`
# is merged: then this test switches to the real `probe serve`, with the
# same assertions.
. "$(dirname "$0")/lib.sh"

PBS=$PWD/build/tools/pbserver
[ -x "$PBS" ] || { skip "collect" "no $PBS"; finish; }
freeport() {
	python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT

port=$(freeport)
"$PBS" --listen "127.0.0.1:$port" --pid-file "$T/pbs.pid" --log "$T/pbs.log" \
	>"$T/pbs.out" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -s "$T/pbs.pid" ] && break; sleep 0.1; done

# The regional /api (a stand-in for `probe serve`): NDJSON of runs with
# seq > after, at most limit, X-Probe-Next-After; pcaps by run id with
# X-Probe-Sha256 (a wrong one for ids starting "tampered"); bearer token.
cat >"$T/region.py" <<'EOF'
import hashlib, http.server, json, os, sys, urllib.parse
ndjson, pcapdir, token, portfile = sys.argv[1:5]
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def send(self, code, body, hdrs=()):
        self.send_response(code)
        for k, v in hdrs: self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        if self.headers.get("Authorization") != "Bearer " + token:
            return self.send(401, b"no\n")
        u = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(u.query)
        if u.path == "/api/runs":
            after, limit = int(q["after"][0]), int(q.get("limit", ["100"])[0])
            lines = []
            for l in open(ndjson, "rb").read().splitlines():
                try: seq = json.loads(l)["seq"]
                except Exception: seq = after + 1 + len(lines)
                if seq > after: lines.append((seq, l))
            lines.sort()
            lines = lines[:limit]
            nxt = lines[-1][0] if lines else after
            body = b"".join(l + b"\n" for _, l in lines)
            return self.send(200, body, [("Content-Type", "application/x-ndjson"),
                                         ("X-Probe-Next-After", str(nxt))])
        if u.path.startswith("/api/pcaps/"):
            rid = u.path[len("/api/pcaps/"):]
            f = os.path.join(pcapdir, rid + ".pcapng")
            if "/" in rid or not os.path.exists(f):
                return self.send(404, b"no such pcap\n")
            data = open(f, "rb").read()
            sha = hashlib.sha256(data).hexdigest()
            if rid.startswith("tampered"):
                sha = hashlib.sha256(data + b"x").hexdigest()
            return self.send(200, data, [("X-Probe-Sha256", sha)])
        self.send(404, b"?\n")
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
if len(sys.argv) > 6:  # TLS: CERT KEY
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[5], sys.argv[6])
    s.socket = ctx.wrap_socket(s.socket, server_side=True)
open(portfile + ".tmp", "w").write(str(s.server_address[1]))
os.rename(portfile + ".tmp", portfile)
s.serve_forever()
EOF

cat >"$T/get.scn" <<EOF
scenario get
http GET http://127.0.0.1:$port/?think_ms=5 name=get expect status=200
http GET http://127.0.0.1:$port/again name=again expect status=200
EOF
regional_run() { # REGION: one run into that region's store, its JSON kept
	"$PROBE" run --db "$T/$1.db" --spool "$T/$1.spool" --config /dev/null \
		--region "$1" --json "$T/get.scn" >>"$T/$1.ndjson" 2>>"$T/$1.err" ||
		not_ok "probe run in $1" "$(tail -3 "$T/$1.err")"
}
for r in eu us; do
	mkdir -p "$T/$r.pcaps"
	: >"$T/$r.ndjson"
	for _ in 1 2 3; do regional_run $r; done
	printf 'tok-%s\n' $r >"$T/$r.token"
	chmod 600 "$T/$r.token"
	python3 "$T/region.py" "$T/$r.ndjson" "$T/$r.pcaps" "tok-$r" "$T/$r.port" &
	pids+=($!)
done
for _ in $(seq 50); do [ -s "$T/eu.port" ] && [ -s "$T/us.port" ] && break; sleep 0.1; done
expect_eq "$(wc -l <"$T/eu.ndjson") $(wc -l <"$T/us.ndjson")" "3 3" "3 regional runs each, as JSON lines"

cat >"$T/regions.conf" <<EOF
# the two regions of this test
eu http://127.0.0.1:$(cat "$T/eu.port")/ $T/eu.token
us  http://127.0.0.1:$(cat "$T/us.port")   $T/us.token   # trailing comment
EOF
C="$T/central.db"
q() { sqlite3 "$1" "$2"; }

run_probe collect --db "$C" --config /dev/null "$T/regions.conf"
expect_rc 0 "collect two regions: exit 0"
expect_match "$out" "^eu: 3 added, 0 already present, cursor 3$" "summary: eu 3 added, cursor 3"
expect_match "$out" "^us: 3 added, 0 already present, cursor 3$" "summary: us 3 added"
for r in eu us; do
	expect_eq "$(q "$C" "SELECT count(*) FROM runs WHERE region = '$r'")" 3 "central: 3 runs of $r"
	expect_eq "$(q "$C" "SELECT run_id FROM runs WHERE region = '$r' ORDER BY run_id")" \
		"$(q "$T/$r.db" "SELECT run_id FROM runs ORDER BY run_id")" "central: $r's run_ids"
done
FIG="SELECT r.run_id, r.scenario, r.ok, r.started_at, r.finished_at, r.clock_sync,
	s.idx, s.name, s.kind, s.status, s.bytes, s.dns_ms, s.connect_ms, s.ttfb_ms,
	s.total_ms, s.http_version, s.conn_state
	FROM runs r JOIN steps s ON s.run_seq = r.seq WHERE r.region = '%s'
	ORDER BY r.run_id, s.idx"
XFIG="SELECT r.run_id, s.idx, x.idx, x.url, x.status, x.ttfb_ms, x.think_ms,
	x.think_quality, c.dst_port, c.rtt_ms, c.conn_state, c.bytes_in
	FROM runs r JOIN steps s ON s.run_seq = r.seq JOIN exchanges x ON x.step_id = s.id
	LEFT JOIN connections c ON c.id = x.connection_id WHERE r.region = '%s'
	ORDER BY r.run_id, s.idx, x.idx"
for r in eu us; do
	# shellcheck disable=SC2059
	expect_eq "$(q "$C" "$(printf "$FIG" $r)")" "$(q "$T/$r.db" "$(printf "$FIG" $r)")" \
		"central: $r's steps and their figures equal the region's"
	# shellcheck disable=SC2059
	expect_eq "$(q "$C" "$(printf "$XFIG" $r)")" "$(q "$T/$r.db" "$(printf "$XFIG" $r)")" \
		"central: $r's exchanges and their connections equal the region's"
done
expect_eq "$(q "$C" "SELECT region, last_seq FROM collect_cursors ORDER BY region")" \
	"$(printf 'eu|3\nus|3')" "collect_cursors: one per region, at seq 3"

run_probe collect --db "$C" --config /dev/null "$T/regions.conf"
expect_rc 0 "collect again: exit 0"
expect_eq "$(q "$C" "SELECT count(*) FROM runs")" 6 "collect again: nothing added"
expect_match "$out" "^eu: 0 added, 0 already present, cursor 3$" "collect again: eu unchanged"

# the cursor: a region's new runs, and only those, on the next collect
regional_run eu
regional_run eu
run_probe collect --db "$C" --config /dev/null "$T/regions.conf"
expect_match "$out" "^eu: 2 added, 0 already present, cursor 5$" "2 new eu runs: 2 added, cursor 5"
expect_eq "$(q "$C" "SELECT count(*) FROM runs WHERE region = 'eu'")" 5 "central: 5 eu runs"

# a cursor lost (a crash before it moved): fetched again, nothing doubled
q "$C" "UPDATE collect_cursors SET last_seq = 1 WHERE region = 'eu'"
run_probe collect --db "$C" --config /dev/null "$T/regions.conf"
expect_match "$out" "^eu: 0 added, 4 already present, cursor 5$" "cursor behind: 4 fetched again, skipped by run_id"
expect_eq "$(q "$C" "SELECT count(*) FROM runs")" 8 "central: still 8 runs"

# two collectors at once into one store: each run once, both exit 0.
# (The store is made first: two processes creating one new file at once
# can fail in store_open's PRAGMA journal_mode = WAL, a store matter.)
"$PROBE" report --db "$T/par.db" --config /dev/null >/dev/null 2>&1
"$PROBE" collect --db "$T/par.db" --config /dev/null "$T/regions.conf" >"$T/par1" 2>&1 &
p1=$!
"$PROBE" collect --db "$T/par.db" --config /dev/null "$T/regions.conf" >"$T/par2" 2>&1
r2=$?
wait $p1
rp=$?; expect_eq "$rp $r2" "0 0" "two collects at once: both exit 0"; [ "$rp$r2" = 00 ] || cat "$T/par1" "$T/par2"
expect_eq "$(q "$T/par.db" "SELECT count(*), count(DISTINCT run_id) FROM runs")" "8|8" \
	"two collects at once: 8 runs, each once"

# failures: one region down, one refusing the token, others land
down=$(freeport)
printf 'wrong\n' >"$T/bad.token"; chmod 600 "$T/bad.token"
printf 'tok-us\n' >"$T/open.token"; chmod 644 "$T/open.token"
cat >"$T/bad.conf" <<EOF
down http://127.0.0.1:$down $T/eu.token
eu http://127.0.0.1:$(cat "$T/eu.port") $T/eu.token
badtok http://127.0.0.1:$(cat "$T/us.port") $T/bad.token
opentok http://127.0.0.1:$(cat "$T/us.port") $T/open.token
EOF
regional_run eu
run_probe collect --db "$C" --config /dev/null "$T/bad.conf"
expect_rc 1 "regions failing: exit 1"
expect_match "$out" "^eu: 1 added" "the region that works lands"
expect_match "$err" "region down: .*(onnect|refused)" "region down reported"
expect_match "$err" "region badtok: .*token refused \\(HTTP 401\\)" "wrong token reported"
expect_match "$err" "region opentok: .*readable by group or others" "token file others can read: refused"
expect_match "$err" "3 of 4 regions failed: down badtok opentok" "the failed regions named together"
expect_eq "$(q "$C" "SELECT count(*) FROM runs")" 9 "central: 9 runs"

# bad JSON from a region
printf '{"format_version":2,"run_id":"x","seq":1}\n' >"$T/v2.ndjson"
python3 "$T/region.py" "$T/v2.ndjson" "$T/eu.pcaps" tok-eu "$T/v2.port" &
pids+=($!)
for _ in $(seq 50); do [ -s "$T/v2.port" ] && break; sleep 0.1; done
echo "v2 http://127.0.0.1:$(cat "$T/v2.port") $T/eu.token" >"$T/v2.conf"
run_probe collect --db "$C" --config /dev/null "$T/v2.conf"
expect_rc 1 "a region serving format_version 2: exit 1"
expect_match "$err" "format_version 2: this probe reads version 1 only" "format_version 2 refused, said why"

# https: verified against the region's ca=FILE; without it (the system's
# CAs) the test CA's certificate is refused
. "$(dirname "$0")/lib_servers.sh"
if certs_make "$T/pki" 2>"$T/pki.err"; then
	python3 "$T/region.py" "$T/eu.ndjson" "$T/eu.pcaps" tok-eu "$T/tls.port" \
		"$T/pki/server.pem" "$T/pki/server.key" &
	pids+=($!)
	for _ in $(seq 50); do [ -s "$T/tls.port" ] && break; sleep 0.1; done
	echo "tls https://127.0.0.1:$(cat "$T/tls.port") $T/eu.token ca=$T/pki/ca.pem" >"$T/tls.conf"
	run_probe collect --db "$T/tls.db" --config /dev/null "$T/tls.conf"
	expect_rc 0 "https with ca=FILE: exit 0"
	expect_match "$out" "^tls: 6 added, 0 already present, cursor 6$" "https: eu's 6 runs collected"
	echo "tls https://127.0.0.1:$(cat "$T/tls.port") $T/eu.token" >"$T/tls-noca.conf"
	run_probe collect --db "$T/tls2.db" --config /dev/null "$T/tls-noca.conf"
	expect_rc 1 "https, a CA the system does not trust: exit 1"
	expect_match "$err" "region tls: .*(certificate|SSL)" "https: the unverified certificate refused"
	expect_eq "$(sql "$T/tls2.db" "SELECT count(*) FROM runs")" 0 "https refused: nothing stored"
else
	not_ok "certs_make" "$(cat "$T/pki.err")"
fi

# usage errors name file:line; https only beyond loopback
echo "eu http://example.com $T/eu.token" >"$T/plain.conf"
run_probe collect --db "$C" --config /dev/null "$T/plain.conf"
expect_rc 2 "http:// to a non-loopback host: exit 2"
expect_match "$err" "plain.conf:1: .*not an https:// URL" "and the error names file:line"
printf '# c\n\neu http://127.0.0.1:1\n' >"$T/short.conf"
run_probe collect --db "$C" --config /dev/null "$T/short.conf"
expect_rc 2 "a line with 2 columns: exit 2"
expect_match "$err" "short.conf:3: want NAME BASE_URL TOKEN_FILE" "file:line of the short line"

# pcap fetch
RID=$(q "$C" "SELECT run_id FROM runs WHERE region = 'eu' ORDER BY seq LIMIT 1")
cp tests/data/pcap/$(ls tests/data/pcap | grep -m1 '\.pcap$') "$T/eu.pcaps/$RID.pcapng"
cp "$T/eu.pcaps/$RID.pcapng" "$T/eu.pcaps/tampered-1.pcapng"
cd "$T" || exit 3
run_probe pcap fetch --db "$C" --config /dev/null --regions "$T/regions.conf" eu "$RID"
cd - >/dev/null || exit 3
expect_rc 0 "pcap fetch: exit 0"
cmp -s "$T/$RID.pcapng" "$T/eu.pcaps/$RID.pcapng" && ok "pcap fetch: the file equals the region's (default ./RUN_ID.pcapng)" ||
	not_ok "pcap fetch: file differs or missing"
expect_match "$out" "sha256 $(sha256sum "$T/eu.pcaps/$RID.pcapng" | cut -c1-64), checked" "pcap fetch: sha256 reported and checked"
expect_eq "$(stat -c %a "$T/$RID.pcapng" 2>/dev/null)" 600 "pcap fetch: mode 0600"
run_probe pcap fetch --regions "$T/regions.conf" eu "$RID" "$T/$RID.pcapng"
expect_rc 3 "pcap fetch onto an existing file: exit 3 (never overwritten)"
cmp -s "$T/$RID.pcapng" "$T/eu.pcaps/$RID.pcapng" && ok "and the file is untouched" || not_ok "existing file changed"
run_probe pcap fetch --regions "$T/regions.conf" eu tampered-1 "$T/t.pcapng"
expect_rc 3 "pcap fetch, X-Probe-Sha256 tampered: exit 3"
expect_match "$err" "sha256 mismatch" "tampered: sha256 mismatch said"
[ -e "$T/t.pcapng" ] && not_ok "tampered: the file was left behind" || ok "tampered: no file left"
run_probe pcap fetch --regions "$T/regions.conf" eu no-such-run "$T/n.pcapng"
expect_rc 1 "pcap fetch, 404: exit 1"
expect_match "$err" "no such run or pcap in eu" "404: said so"
[ -e "$T/n.pcapng" ] && not_ok "404: a file was left" || ok "404: no file left"
run_probe pcap fetch --regions "$T/bad.conf" badtok "$RID" "$T/b.pcapng"
expect_rc 3 "pcap fetch, token refused: exit 3"
expect_match "$err" "token refused" "401: token refused said"
run_probe pcap fetch --regions "$T/regions.conf" asia "$RID"
expect_rc 2 "pcap fetch, unknown region: exit 2"
finish
