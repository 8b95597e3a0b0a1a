#!/usr/bin/env bash
# The test bench itself (lib_servers.sh): the certificates, nginx and
# dnsmasq that the 04xx run tests use, checked with openssl, curl and a raw
# DNS client; everything listens on loopback only, and the stop leaves no
# process behind.  Does not use probe.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_servers.sh"
once_per_check "0400-servers-selftest"
t0=$(date +%s%N)
C=$T/certs

# ---- certificates -------------------------------------------------------------
if certs_make "$C"; then ok "certs_make"; else not_ok "certs_make"; finish; fi
v() { openssl verify "$@" 2>&1; }
expect_eq "$(v -CAfile "$C/ca.pem" -verify_hostname demo.probe.test "$C/server.pem")" \
	"$C/server.pem: OK" "server.pem verifies for demo.probe.test"
for n in a.probe.test b.probe.test dual.probe.test localhost; do
	expect_match "$(v -CAfile "$C/ca.pem" -verify_hostname $n "$C/server.pem")" ': OK$' "server.pem names $n"
done
for ip in 127.0.0.1 ::1; do
	expect_match "$(v -CAfile "$C/ca.pem" -verify_ip $ip "$C/server.pem")" ': OK$' "server.pem names IP $ip"
done
if openssl x509 -in "$C/server.pem" -noout -checkend $((29 * 86400)) >/dev/null &&
	! openssl x509 -in "$C/server.pem" -noout -checkend $((31 * 86400)) >/dev/null; then
	ok "server.pem valid for 30 days"
else not_ok "server.pem valid for 30 days" "$(openssl x509 -in "$C/server.pem" -noout -dates)"; fi
expect_match "$(v -CAfile "$C/ca.pem" "$C/expired.pem")" 'certificate has expired' "expired.pem: expired"
if ! openssl x509 -in "$C/expired.pem" -noout -checkend 0 >/dev/null &&
	[ "$(openssl x509 -in "$C/expired.pem" -noout -startdate -enddate | wc -l)" -eq 2 ]; then
	ok "expired.pem ended in the past"
else not_ok "expired.pem ended in the past" "$(openssl x509 -in "$C/expired.pem" -noout -dates)"; fi
expect_match "$(v -CAfile "$C/ca.pem" -no_check_time -verify_hostname demo.probe.test "$C/expired.pem")" ': OK$' \
	"expired.pem: only its dates are wrong"
expect_match "$(v -CAfile "$C/ca.pem" "$C/wrongname.pem")" ': OK$' "wrongname.pem chains to the CA"
expect_match "$(v -CAfile "$C/ca.pem" -verify_hostname demo.probe.test "$C/wrongname.pem")" 'hostname mismatch' \
	"wrongname.pem does not name demo.probe.test"
expect_match "$(openssl x509 -in "$C/wrongname.pem" -noout -ext subjectAltName)" 'DNS:wrong.example$' "wrongname.pem names wrong.example"
expect_match "$(v -CAfile "$C/ca.pem" "$C/unknown-server.pem")" 'unable to get local issuer certificate' \
	"unknown-server.pem: not trusted by ca.pem"
expect_match "$(v -CAfile "$C/unknown-ca.pem" "$C/unknown-server.pem")" ': OK$' "unknown-server.pem: signed by unknown-ca.pem"
expect_match "$(v -CAfile "$C/client-ca.pem" -purpose sslclient "$C/client.pem")" ': OK$' "client.pem: a client cert from client-ca.pem"
modes=$(stat -c '%a' "$C"/*.key | sort -u)
expect_eq "$modes" 600 "keys are mode 0600"

# ---- servers ---------------------------------------------------------------------
if dns_start "$T"; then ok "dns_start"; else not_ok "dns_start"; finish; fi
if nginx_start "$T" "$C"; then ok "nginx_start"; else not_ok "nginx_start"; finish; fi
ports="$HTTPS_PORT $TLS12_PORT $TLS13_PORT $HTTP_PORT $EXPIRED_PORT $WRONGNAME_PORT $UNKNOWNCA_PORT $CLIENTCERT_PORT $DNS_PORT"
expect_eq "$(tr ' ' '\n' <<<"$ports" | grep -c '^[0-9][0-9]*$')" 9 "nine ports exported"
expect_eq "$(tr ' ' '\n' <<<"$ports" | sort -u | wc -l)" 9 "nine distinct ports"
expect_eq "$SLOW_MS" 80 "SLOW_MS defaults to 80"

# curl with every test name resolved to 127.0.0.1 on every port.
R=()
for n in demo a b dual; do
	for p in $ports; do R+=(--resolve "$n.probe.test:$p:127.0.0.1"); done
done
cu() { curl -sS --max-time 5 --cacert "$C/ca.pem" "${R[@]}" "$@" 2>&1; }
H=https://demo.probe.test:$HTTPS_PORT

expect_eq "$(cu -w ' %{http_code} %{http_version}' $H/)" "hello from probe demo
 200 2" "GET / over h2 (127.0.0.1)"
expect_eq "$(cu --http1.1 -w '%{http_code} %{http_version}' -o /dev/null $H/)" "200 1.1" "GET / over HTTP/1.1"
if [ "$SRV_IPV6" = 1 ]; then
	expect_eq "$(cu -g -w ' %{http_code} %{remote_ip}' "https://[::1]:$HTTPS_PORT/")" "hello from probe demo
 200 ::1" "GET / over [::1]"
	expect_eq "$(cu -6 -w '%{http_code} %{remote_ip}' -o /dev/null \
		--resolve "dual.probe.test:$HTTPS_PORT:[::1]" "https://dual.probe.test:$HTTPS_PORT/")" "200 ::1" \
		"dual.probe.test over [::1]"
else
	skip "GET / over [::1]" "no IPv6 loopback"
fi
expect_eq "$(cu -w ' %{http_code}' "http://127.0.0.1:$HTTP_PORT/")" "hello from probe demo
 200" "plain HTTP port"

# TLS versions, ALPN, tickets: openssl s_client.
sc() { # PORT ARGS...
	local p=$1; shift
	openssl s_client -connect "127.0.0.1:$p" -servername demo.probe.test \
		-CAfile "$C/ca.pem" -verify_return_error "$@" </dev/null 2>&1
}
expect_match "$(sc $HTTPS_PORT -brief -tls1_2)" 'Protocol version: TLSv1.2' "HTTPS_PORT speaks TLS 1.2"
expect_match "$(sc $HTTPS_PORT -brief -tls1_3)" 'Protocol version: TLSv1.3' "HTTPS_PORT speaks TLS 1.3"
expect_match "$(sc $HTTPS_PORT -alpn h2,http/1.1 | tr -d '\0')" 'ALPN protocol: h2' "HTTPS_PORT negotiates h2"
expect_match "$(sc $TLS12_PORT -brief -tls1_2)" 'Protocol version: TLSv1.2' "TLS12_PORT speaks TLS 1.2"
out=$(sc $TLS12_PORT -brief -tls1_3)
if grep -q 'Protocol version' <<<"$out"; then not_ok "TLS12_PORT refuses TLS 1.3" "$out"; else ok "TLS12_PORT refuses TLS 1.3"; fi
expect_match "$(sc $TLS13_PORT -brief -tls1_3)" 'Protocol version: TLSv1.3' "TLS13_PORT speaks TLS 1.3"
out=$(sc $TLS13_PORT -brief -tls1_2)
if grep -q 'Protocol version' <<<"$out"; then not_ok "TLS13_PORT refuses TLS 1.2" "$out"; else ok "TLS13_PORT refuses TLS 1.2"; fi
out=$(sc $HTTPS_PORT -tls1_2 -sess_out "$T/sess" | tr -d '\0')
expect_match "$out" 'TLS session ticket lifetime hint' "HTTPS_PORT issues session tickets"
expect_match "$(sc $HTTPS_PORT -tls1_2 -sess_in "$T/sess" | tr -d '\0')" '^Reused, TLSv1.2' "a TLS 1.2 session resumes"

# Certificates as served.
expect_match "$(cu "https://demo.probe.test:$EXPIRED_PORT/")" 'certificate has expired' "EXPIRED_PORT: curl says expired"
expect_match "$(cu "https://demo.probe.test:$WRONGNAME_PORT/")" 'subject name' "WRONGNAME_PORT: curl says wrong name"
expect_match "$(cu "https://demo.probe.test:$UNKNOWNCA_PORT/")" 'unable to get local issuer' "UNKNOWNCA_PORT: curl says unknown issuer"
for p in $EXPIRED_PORT $WRONGNAME_PORT $UNKNOWNCA_PORT; do cu -k "https://demo.probe.test:$p/"; done >"$T/bad"
expect_eq "$(grep -c '^hello from probe demo$' "$T/bad")" 3 "the bad-certificate servers answer once unverified"
expect_match "$(sc $UNKNOWNCA_PORT -CAfile "$C/unknown-ca.pem" -brief)" 'Verification: OK' "UNKNOWNCA_PORT serves unknown-server.pem"
expect_eq "$(cu -o /dev/null -w '%{http_code}' "https://demo.probe.test:$CLIENTCERT_PORT/")" 400 "CLIENTCERT_PORT without a client cert: 400"
expect_eq "$(cu -w ' %{http_code}' --cert "$C/client.pem" --key "$C/client.key" "https://demo.probe.test:$CLIENTCERT_PORT/")" \
	"hello from probe demo
 200" "CLIENTCERT_PORT with client.pem: 200"
expect_match "$(cu -o /dev/null -w '%{http_code}' --cert "$C/server.pem" --key "$C/server.key" "https://demo.probe.test:$CLIENTCERT_PORT/")" \
	'^400$' "CLIENTCERT_PORT refuses a cert from another CA"

# Locations.
out=$(cu -o "$T/body" -w '%{http_code} %{time_starttransfer}' $H/slow)
read -r code ttfb <<<"$out"
body=$(cat "$T/body")
if [ "$body $code" = "slow 200" ] && awk -v t="$ttfb" -v m="$SLOW_MS" 'BEGIN { exit !(t * 1000 >= m) }'; then
	ok "/slow answers after SLOW_MS ($ttfb s)"
else not_ok "/slow answers after SLOW_MS" "$out"; fi
expect_eq "$(cu -o /dev/null -w '%{http_code}' $H/status/500)" 500 "/status/500"
expect_eq "$(cu -w ' %{http_code} %{content_type}' $H/json)" '{"ok":true} 200 application/json' "/json"
expect_eq "$(cu -o /dev/null -w '%{http_code} %{redirect_url}' "https://a.probe.test:$HTTPS_PORT/r1")" \
	"302 https://b.probe.test:$HTTPS_PORT/r2" "/r1 redirects to b.probe.test"
expect_eq "$(cu -o /dev/null -w '%{http_code} %{redirect_url}' "https://b.probe.test:$HTTPS_PORT/r2")" \
	"302 https://a.probe.test:$HTTPS_PORT/r3" "/r2 redirects to a.probe.test"
expect_eq "$(cu -L --max-redirs 3 -w '%{http_code} %{num_redirects} %{num_connects}' "https://a.probe.test:$HTTPS_PORT/r1")" \
	"end of redirects
200 2 2" "/r1 -> /r2 -> /r3: three requests across two names"

# The cookie login flow.
J=$T/jar
expect_eq "$(cu -o /dev/null -w '%{http_code}' $H/form)" 401 "/form without the cookie: 401"
out=$(cu -c "$J" -D - -o /dev/null -X POST -d 'user=probe&pw=x' $H/login)
expect_match "$out" '^HTTP/2 302' "POST /login: 302"
expect_match "$out" '^set-cookie: session=s3cr3t; Path=/' "POST /login sets the session cookie"
expect_eq "$(cu -o /dev/null -w '%{http_code}' $H/login)" 405 "GET /login: 405"
out=$(cu -b "$J" -w ' %{http_code}' $H/form | tr -d '\n')
expect_match "$out" '<input name="csrf" value="tok123">.* 200$' "/form with the cookie: 200 and the csrf field"
expect_eq "$(cu -b "$J" -H 'X-CSRF: tok123' -d '{"id":1}' -w ' %{http_code}' $H/api/items)" '{"created":true}
 201' "POST /api/items with cookie and token: 201"
expect_eq "$(cu -b "$J" -d '{"id":1}' -o /dev/null -w '%{http_code}' $H/api/items)" 403 "... without the token: 403"
expect_eq "$(cu -H 'X-CSRF: tok123' -d '{"id":1}' -o /dev/null -w '%{http_code}' $H/api/items)" 403 "... without the cookie: 403"
expect_eq "$(cu -b "$J" -H 'X-CSRF: nope' -d '{"id":1}' -o /dev/null -w '%{http_code}' $H/api/items)" 403 "... with a wrong token: 403"

# DNS.
expect_eq "$(dns_query demo.probe.test A)" "rcode=0
A 127.0.0.1" "DNS demo.probe.test A"
expect_eq "$(dns_query demo.probe.test AAAA)" "rcode=0" "DNS demo.probe.test AAAA: no data"
expect_eq "$(dns_query a.probe.test A)$(dns_query b.probe.test A)" "rcode=0
A 127.0.0.1rcode=0
A 127.0.0.1" "DNS a. and b.probe.test A"
expect_eq "$(dns_query dual.probe.test A)$(dns_query dual.probe.test AAAA)" "rcode=0
A 127.0.0.1rcode=0
AAAA ::1" "DNS dual.probe.test A and AAAA"
expect_eq "$(dns_query demo.probe.test TXT)" "rcode=0
TXT v=probe1 demo" "DNS demo.probe.test TXT"
expect_eq "$(dns_query demo.probe.test MX)" "rcode=0
MX 10 mail.probe.test" "DNS demo.probe.test MX"
expect_eq "$(dns_query nothing.probe.test A)" "rcode=3" "DNS nothing.probe.test: NXDOMAIN"
expect_eq "$(dns_query servfail.probe.test A)" "rcode=2" "DNS servfail.probe.test: SERVFAIL"
expect_eq "$(dns_query x.servfail.probe.test AAAA)" "rcode=2" "DNS x.servfail.probe.test: SERVFAIL"
expect_eq "$(dns_query example.com A)" "rcode=5" "DNS outside probe.test: REFUSED (nothing forwarded)"
if dns_log_wait "$T" 'query\[MX\] demo\.probe\.test from 127\.0\.0\.1'; then ok "dns_log shows the queries"
else not_ok "dns_log shows the queries" "$(dns_log "$T" --all | tail -5)"; fi
if dns_log "$T" | grep -q 'ready\.servfail'; then not_ok "dns_log leaves out the readiness queries"
else ok "dns_log leaves out the readiness queries"; fi
expect_match "$(dns_log "$T" --all | head -1)" 'dnsmasq\[[0-9]+\]: started' "dns_log --all has everything"

# ---- loopback only ---------------------------------------------------------------
pids=$(cat "$T/nginx.pid" "$T/dns.pid" "$T/servfail.pid")
pids="$pids $(pgrep -P "$(cat "$T/nginx.pid")")"
listen=$(ss -Hlntup | grep -E "pid=($(echo $pids | tr ' ' '|')),")
n=$(grep -c . <<<"$listen")
want=$((8 * (1 + SRV_IPV6) + 3)) # nginx: 8 ports per address; dnsmasq udp+tcp; servfail udp
expect_eq "$n" "$want" "listening sockets of the servers"
bad=$(awk '{ print $5 }' <<<"$listen" | grep -Ev '^(127\.0\.0\.1|\[::1\]):[0-9]+$')
expect_eq "$bad" "" "every listening socket is on 127.0.0.1 or [::1]"
expect_eq "$(grep -c 'nginx' <<<"$listen")" $((8 * (1 + SRV_IPV6))) "nginx listens on every port"

# ---- stop ----------------------------------------------------------------------------
watch=$(cat "$T"/*.watch)
servers_cleanup
left=""
for p in $pids $watch; do srv_alive "$p" && left="$left $(ps -o pid=,args= -p "$p")"; done
expect_eq "$left" "" "the stop leaves no process"
open=""
for p in $ports; do (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && open="$open $p"; done
expect_eq "$open" "" "no port accepts after the stop"
expect_eq "$(ls "$T"/*.pid 2>/dev/null)" "" "pid files removed"
servers_cleanup && ok "servers_cleanup twice is harmless" || not_ok "servers_cleanup twice is harmless"

# A second start in the same directory works (the run tests restart).
if dns_start "$T" && nginx_start "$T" "$C" && [ "$(dns_query demo.probe.test A)" = "rcode=0
A 127.0.0.1" ] && [ "$(cu --resolve "demo.probe.test:$HTTPS_PORT:127.0.0.1" \
	"https://demo.probe.test:$HTTPS_PORT/")" = "hello from probe demo" ]; then
	ok "restart in the same directory"
else not_ok "restart in the same directory"; fi
servers_cleanup

ms=$((($(date +%s%N) - t0) / 1000000))
if [ $ms -lt 10000 ]; then ok "self-test took $ms ms (< 10 s)"; else not_ok "self-test took $ms ms (< 10 s)"; fi
finish
