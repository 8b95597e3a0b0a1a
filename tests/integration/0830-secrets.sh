#!/usr/bin/env bash
# Secrets never land (issue 9): values from the environment (${VAR} in a
# URL's query and userinfo, an Authorization header, a Cookie header, a
# POST body), a credential written literally in the scenario's
# Authorization header, and what the server sets (Set-Cookie session=s3cr3t, and
# /echo sending every one of them back, in the body a failing expectation
# quotes and in a Set-Cookie) must not reach the store (the database and
# its WAL), stdout or stderr of `probe run` (table and --json), `probe
# report` (terminal, JSON, HTML), `probe pcap show`, `probe serve`'s
# /api/runs, or the escalation pcaps -- over plain HTTP, HTTP/1.1 over TLS
# and h2.  With `keylog on` the pcap carries TLS secrets (as asked) and
# still no planted value in the clear.  Every file probe wrote is 0600 and
# every directory 0700.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_servers.sh"
servers_start "$T" || { not_ok "test servers start"; finish; }

# the planted values: distinct, greppable, and their encodings too
export PB_TOKEN=tok-7f3a9c1e-PLANTED PB_PASS=pw-51d2e8b0-PLANTED \
	PB_SID=sid-0c4e9a77-PLANTED PB_Q=q-93b1f6d2-PLANTED PB_USERPW=up-6a0d3c58-PLANTED
SECRETS=("$PB_TOKEN" "$PB_PASS" "$PB_SID" "$PB_Q" "$PB_USERPW" s3cr3t literal-cred-4242)
for v in "$PB_TOKEN" "$PB_USERPW"; do SECRETS+=("$(printf 'u:%s' "$v" | base64)"); done

scn() { # NAME KEYLOG
	cat <<EOF
scenario $1
resolver 127.0.0.1:$DNS_PORT
timeout 20s
defaults ca=$T/certs/ca.pem
keep_pcap always
keylog $2
http POST http://b.probe.test:$HTTP_PORT/login body='user=u&pw=\${PB_PASS}' name=login expect status=302
http GET http://b.probe.test:$HTTP_PORT/form name=form expect status=200
http GET http://b.probe.test:$HTTP_PORT/echo?q=\${PB_Q} header='Authorization: Bearer \${PB_TOKEN}' header='Cookie: sid=\${PB_SID}' name=plain expect body*='no such text'
http GET https://a.probe.test:$HTTPS_PORT/echo?q=\${PB_Q} header='Authorization: Bearer \${PB_TOKEN}' http=1.1 name=tls expect body*='no such text'
http GET https://a.probe.test:$HTTPS_PORT/echo?q=\${PB_Q} header='Cookie: sid=\${PB_SID}' header='Authorization: Bearer literal-cred-4242' http=2 name=h2 expect body*='no such text'
http GET http://u:\${PB_USERPW}@b.probe.test:$HTTP_PORT/echo name=userinfo expect status=201
EOF
}
D=$T/data
mkdir -p "$D"
for k in off on; do
	scn "sec-$k" "$k" >"$T/s-$k.scn"
	run_probe run --db "$D/p.db" --spool "$D/spool" --region r --config /dev/null "$T/s-$k.scn"
	printf '%s\n%s\n' "$out" "$err" >"$T/run-$k.table"
	expect_rc 1 "keylog $k: the run (four expectations fail on purpose), exit 1"
	run_probe run --json --db "$D/p.db" --spool "$D/spool" --region r --config /dev/null "$T/s-$k.scn"
	printf '%s\n%s\n' "$out" "$err" >"$T/run-$k.json"
	expect_match "$out" '"name":"plain".*"error":"http.body"' "keylog $k: the echo step failed on its body, as planned"
done
# the secrets were really on the wire: nginx saw them (its log has the query)
grep -q "$PB_Q" "$T/access.log" && ok "the planted query reached the server" || not_ok "the planted query reached the server"
expect_match "$(cat "$T/run-off.json")" 'q=\$\{PB_Q\}' "recorded URLs show \${PB_Q}, not its value"
expect_match "$(cat "$T/run-off.json")" '"detail":"[^"]*\$\{PB_TOKEN\}' "a detail quoting the echoed header shows \${PB_TOKEN}"
expect_match "$(cat "$T/run-off.json")" '"detail":"[^"]*\$\{cookie:session\}' \
	"a detail quoting a cookie the server set shows \${cookie:session}"

# everything else that shows runs
rid=$(sql "$D/p.db" "SELECT run_id FROM runs ORDER BY seq DESC LIMIT 1")
{
	"$PROBE" report --db "$D/p.db" --spool "$D/spool" --config /dev/null
	"$PROBE" report --json --db "$D/p.db" --config /dev/null
	"$PROBE" report --list --json --db "$D/p.db" --config /dev/null
	"$PROBE" report --html - --db "$D/p.db" --spool "$D/spool" --config /dev/null
	"$PROBE" pcap show --db "$D/p.db" --spool "$D/spool" --config /dev/null "$rid"
	"$PROBE" pcap list --json --db "$D/p.db" --spool "$D/spool" --config /dev/null
} >"$T/views.txt" 2>&1
umask 077
echo tok-serve-0123 >"$T/token"
PORT=$(free_port)
"$PROBE" serve --db "$D/p.db" --spool "$D/spool" --config /dev/null --listen "127.0.0.1:$PORT" \
	--token-file "$T/token" >"$T/serve.out" 2>"$T/serve.err" &
spid=$!
for i in $(seq 50); do curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fs -H "Authorization: Bearer tok-serve-0123" "http://127.0.0.1:$PORT/api/runs?after=0" >"$T/api.ndjson" 2>&1
curl -fs -H "Authorization: Bearer tok-serve-0123" "http://127.0.0.1:$PORT/metrics" >"$T/metrics.txt" 2>&1
kill "$spid"; wait "$spid" 2>/dev/null
[ -s "$T/api.ndjson" ] && ok "probe serve's /api/runs answered" || not_ok "probe serve's /api/runs answered" "$(cat "$T/serve.err")"

# grep everything probe wrote or printed, bytes and all
files=("$D"/p.db* "$T"/run-*.table "$T"/run-*.json "$T/views.txt" "$T/api.ndjson" "$T/metrics.txt"
	"$T/serve.out" "$T/serve.err")
mapfile -t pcaps < <(find "$D/spool" -type f -name '*.pcapng')
[ "${#pcaps[@]}" -ge 2 ] && ok "pcaps kept for both runs (${#pcaps[@]})" || not_ok "pcaps kept" "${pcaps[*]}"
sqlite3 "$D/p.db" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
sqlite3 "$D/p.db" .dump >"$T/dump.sql"
for v in "${SECRETS[@]}"; do
	hits=$(grep -laF -- "$v" "${files[@]}" "${pcaps[@]}" "$T/dump.sql" 2>/dev/null)
	expect_eq "$hits" "" "'$v' is nowhere probe wrote or printed"
done
# keylog on: TLS secrets in that run's pcap, as asked, and nothing more
kp=$(sql "$D/p.db" "SELECT path FROM pcaps p JOIN runs r ON r.seq = p.run_seq WHERE r.scenario = 'sec-on' AND p.keylog = 1 LIMIT 1")
[ -n "$kp" ] && grep -qa CLIENT_HANDSHAKE_TRAFFIC_SECRET "$D/spool/$kp" &&
	ok "keylog on: the pcap carries the TLS secrets (as asked)" || not_ok "keylog on: the pcap carries the TLS secrets"
op=$(sql "$D/p.db" "SELECT path FROM pcaps p JOIN runs r ON r.seq = p.run_seq WHERE r.scenario = 'sec-off' LIMIT 1")
[ -n "$op" ] && ! grep -qa TRAFFIC_SECRET "$D/spool/$op" &&
	ok "keylog off: no TLS secret in the pcap" || not_ok "keylog off: no TLS secret in the pcap"
# a decrypting reader finds the planted values only inside TLS records:
# with the key log, tshark sees the Authorization header of the tls step
if command -v tshark >/dev/null && [ -n "$kp" ]; then
	n=$(tshark -r "$D/spool/$kp" -Y 'http.authorization' -T fields -e http.authorization 2>/dev/null | grep -c "$PB_TOKEN")
	[ "$n" -ge 1 ] && ok "keylog on: decrypted with its own secrets, the TLS request is whole ($n)" ||
		not_ok "keylog on: tshark decrypts the TLS request with the pcap's own secrets" "matches: $n"
fi

# modes: files 0600, directories 0700
bad=$(find "$D" \( -type f ! -perm 600 \) -o \( -type d ! -perm 700 ! -path "$D" \) 2>/dev/null)
expect_eq "$bad" "" "every file probe made is 0600 and every directory 0700"
finish
