#!/usr/bin/env bash
# probe run's error classes against the test bench: a refused port
# (tcp.refused), a certificate for the wrong name (tls.hostname), an expired
# one and one from an unknown CA (tls.verify, chain still recorded), a
# server that wants a client certificate (fails without, ok with cert= key=),
# HTTP 500 against expect status=200 (http.status) and a body mismatch
# (http.body).  JSON output and stored rows agree; the run exits 1.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_servers.sh"
servers_start "$T" || { not_ok "test servers start"; finish; }
C=$T/certs
DEAD=$(free_port) # nothing listens there
S=$T/errors.scn
cat >"$S" <<EOF
scenario it-errors
resolver 127.0.0.1:$DNS_PORT
timeout 30s
defaults ca=$C/ca.pem timeout=5s

tcp   demo.probe.test:$DEAD name=refused
tls   demo.probe.test:$DEAD name=tls_refused
http  GET https://demo.probe.test:$DEAD/ name=http_refused expect status=200
tls   demo.probe.test:$WRONGNAME_PORT name=wrongname
http  GET https://demo.probe.test:$WRONGNAME_PORT/ name=http_wrongname expect status=200
tls   demo.probe.test:$EXPIRED_PORT name=expired
http  GET https://demo.probe.test:$EXPIRED_PORT/ name=http_expired expect status=200
tls   demo.probe.test:$UNKNOWNCA_PORT name=unknownca
tls   demo.probe.test:$UNKNOWNCA_PORT name=unknownca_trusted ca=$C/unknown-ca.pem
http  GET https://demo.probe.test:$CLIENTCERT_PORT/ name=nocert expect status=200
http  GET https://a.probe.test:$CLIENTCERT_PORT/ name=withcert cert=$C/client.pem key=$C/client.key expect status=200 body*='hello'
http  GET https://demo.probe.test:$HTTPS_PORT/status/500 name=status500 expect status=200
http  GET https://demo.probe.test:$HTTPS_PORT/status/500 name=status5xx expect status=5xx
http  GET https://demo.probe.test:$HTTPS_PORT/ name=body expect status=200 body~'^goodbye'
http  GET https://demo.probe.test:$HTTPS_PORT/ name=body_not expect body!~'hello'
http  GET https://demo.probe.test:$HTTPS_PORT/ name=fine expect status=200 body~'^hello'
EOF

run_probe check "$S"
expect_rc 0 "the generated scenario is valid"
probe_run "$S"
expect_rc 1 "a run with failed steps exits 1"
expect_json 'r["ok"]' false "JSON run not ok"
expect_sql "SELECT ok FROM runs" 0 "stored run not ok"
expect_sql "SELECT count(*) FROM steps" 16 "every step stored"

# err NAME WANT: the step failed with error class WANT, in JSON and store,
# with a human-readable detail
err() {
	expect_sql "SELECT ok, skipped, error, length(error_detail) > 0 FROM steps WHERE name = '$1'" "0|0|$2|1" "$1: $2 (stored)"
	expect_json "[st('$1')['ok'], st('$1')['error']]" "[false, \"$2\"]" "$1: $2 (JSON)"
}
good() {
	expect_sql "SELECT ok, error IS NULL FROM steps WHERE name = '$1'" "1|1" "$1: ok (stored)"
	expect_json "st('$1')['ok']" true "$1: ok (JSON)"
}

err refused tcp.refused
err tls_refused tcp.refused
err http_refused tcp.refused
expect_sql "SELECT tls_ms IS NULL, status IS NULL FROM steps WHERE name = 'http_refused'" "1|1" "refused: no TLS time, no status"
expect_sql "SELECT count(*) = 0 OR max(dst_port) = $DEAD FROM connections WHERE step_id = $(sid refused)" 1 "refused: only the attempted connection, if any"

err wrongname tls.hostname
err http_wrongname tls.hostname
expect_sql "SELECT depth, subject LIKE '%CN=wrong.example%' FROM certificates WHERE step_id = $(sid wrongname) AND depth = 0" \
	"0|1" "wrongname: the certificate is recorded"

err expired tls.verify
err http_expired tls.verify
expect_sql "SELECT verified, days_left BETWEEN -31 AND -29, not_after < strftime('%Y-%m-%dT%H:%M:%S', 'now') FROM certificates WHERE step_id = $(sid expired) AND depth = 0" \
	"0|1|1" "expired: certificate recorded, verified 0, days_left about -30"
expect_json "(lambda c: [c['verified'], c['days_left'] < 0])(st('expired')['certificates'][0])" "[0, true]" "JSON expired certificate"

err unknownca tls.verify
expect_sql "SELECT verified, issuer LIKE '%CN=probe untrusted CA%' FROM certificates WHERE step_id = $(sid unknownca) AND depth = 0" \
	"0|1" "unknown CA: certificate recorded with its issuer"
good unknownca_trusted
expect_sql "SELECT verified FROM certificates WHERE step_id = $(sid unknownca_trusted) AND depth = 0" 1 "with ca=unknown-ca.pem it verifies"

# nginx completes the handshake without a client certificate and answers 400
err nocert http.status
expect_sql "SELECT status FROM steps WHERE name = 'nocert'" 400 "without a client certificate: 400"
good withcert
expect_sql "SELECT status, tls_version IS NOT NULL FROM steps WHERE name = 'withcert'" "200|1" "with cert= key=: 200"
expect_match "$(cat "$T/access.log")" "-> 127\.0\.0\.1:$CLIENTCERT_PORT .* \"GET / HTTP/2\.0\" 200" "nginx accepted the client certificate"

err status500 http.status
expect_sql "SELECT status, http_version FROM steps WHERE name = 'status500'" "500|2" "HTTP 500 stored with its status"
expect_json "st('status500')['status']" 500 "JSON status 500"
good status5xx
err body http.body
expect_sql "SELECT status FROM steps WHERE name = 'body'" 200 "body mismatch: status still stored"
err body_not http.body
good fine
finish
