#!/usr/bin/env bash
# DNS is the probe's own (DESIGN section 3): with /etc/hosts pointing the
# demo names at another address, every step still connects to what the
# scenario's resolver (c-ares) answered, never to what the system's
# resolver (libcurl's threaded getaddrinfo) would say.  /etc/hosts is
# replaced only inside a private mount namespace (unshare -m), so the
# machine's own file is never touched.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_servers.sh"

if ! unshare -m true 2>/dev/null; then
	skip "c-ares answer over /etc/hosts" "no mount namespaces here (unshare -m)"
	finish
fi
servers_start "$T" || { not_ok "test servers start"; finish; }

# 127.0.0.2: loopback, where nothing listens on these ports
printf '127.0.0.2 demo.probe.test a.probe.test\n' >"$T/hosts"
cat >"$T/own.scn" <<EOF
scenario it-own-dns
resolver 127.0.0.1:$DNS_PORT
defaults ca=$T/certs/ca.pem
tcp  demo.probe.test:$HTTPS_PORT name=tcp ip=4
tls  demo.probe.test:$HTTPS_PORT name=tls ip=4
http GET https://a.probe.test:$HTTPS_PORT/ name=http ip=4 expect status=200
EOF
unshare -m sh -c 'mount --bind "$1" /etc/hosts && getent hosts demo.probe.test &&
	exec "$2" run --json --db "$3/p.db" --spool "$3/spool" --region it \
	--config /dev/null "$4"' sh "$T/hosts" "$PROBE" "$T" "$T/own.scn" \
	>"$T/run.json" 2>"$T/err"
rc=$?
expect_match "$(head -1 "$T/run.json")" '127\.0\.0\.2 +demo\.probe\.test' \
	"inside the namespace the system resolver says 127.0.0.2"
sed -i 1d "$T/run.json"
expect_eq "$rc" 0 "every step connected to the c-ares answer"
expect_sql "SELECT group_concat(DISTINCT dst_addr) FROM connections" 127.0.0.1 \
	"every connection went to 127.0.0.1, not 127.0.0.2"
expect_sql "SELECT count(*) FROM connections" 3 "three connections recorded"
n=$(dns_log "$T" | grep -c 'query\[A\] \(demo\|a\)\.probe\.test')
[ "$n" -ge 3 ] && ok "the scenario's DNS server saw the probe's queries ($n)" ||
	not_ok "the scenario's DNS server saw the probe's queries" "$(dns_log "$T")"
finish
