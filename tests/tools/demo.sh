#!/usr/bin/env bash
# tests/tools/demo.sh: `make demo`.  Starts nginx (with a private test CA)
# and dnsmasq on fixed loopback ports, runs scenarios/demo.scn with probe,
# shows the DNS server's log of the probe's queries, and stops the servers
# (always, also on failure or Ctrl-C).
#
# The ports are literal in scenarios/demo.scn (a scenario cannot take them
# from the environment), so they are fixed here: DNS 127.0.0.1:53535 and
# HTTPS 127.0.0.1:58443 (and [::1]:58443).  Everything lives in build/demo/:
# certificates (ca.pem is the CA the scenario trusts), server configs and
# logs, the store demo.db and the spool.
set -u
cd "$(dirname "$0")/../.." || exit 3
PROBE=${PROBE:-./probe}
D=build/demo
DEMO_DNS_PORT=53535 # as in scenarios/demo.scn: resolver 127.0.0.1:53535
DEMO_HTTPS_PORT=58443 # as in scenarios/demo.scn: demo.probe.test:58443

. tests/integration/lib_servers.sh # sets the EXIT trap: servers_cleanup

say() { printf 'demo: %s\n' "$*"; }
die() { printf 'demo: %s\n' "$*" >&2; exit "${2:-3}"; }

[ -x "$PROBE" ] || die "$PROBE is not built (run 'make')" 2
for p in $DEMO_HTTPS_PORT $DEMO_DNS_PORT; do
	grep -q ":$p\\b" scenarios/demo.scn ||
		die "scenarios/demo.scn does not use port $p: keep it and this script in step"
done
busy=$(_srv_py busy "127.0.0.1:$DEMO_DNS_PORT" "127.0.0.1:$DEMO_DNS_PORT/udp" \
	"127.0.0.1:$DEMO_HTTPS_PORT" "[::1]:$DEMO_HTTPS_PORT")
if [ -n "$busy" ]; then
	{
		say "port(s) already in use: $busy"
		say "the demo needs DNS on 127.0.0.1:$DEMO_DNS_PORT and HTTPS on 127.0.0.1:$DEMO_HTTPS_PORT;"
		say "stop what holds them (an earlier demo still running?):"
		ss -Hlntup 2>/dev/null | grep -E ":($DEMO_DNS_PORT|$DEMO_HTTPS_PORT)\\b" | sed 's/^/  /'
	} >&2
	exit 3
fi

# Only the two ports the scenario names are fixed; nginx's other servers
# (TLS 1.2-only, expired certificate...) take free ports.
unset $_SRV_NGINX_VARS DNS_PORT
SERVERS_FIXED_PORTS=1
DNS_PORT=$DEMO_DNS_PORT
HTTPS_PORT=$DEMO_HTTPS_PORT

rm -rf "$D"
mkdir -p "$D" || exit 3
certs_make "$D" || die "could not make the test certificates"
dns_start "$D" || die "could not start dnsmasq"
nginx_start "$D" "$D" || die "could not start nginx"
say "dnsmasq on 127.0.0.1:$DNS_PORT answers demo.probe.test (log: $D/dns.log)"
say "nginx on 127.0.0.1:$HTTPS_PORT and [::1]:$HTTPS_PORT, certificate from $D/ca.pem (log: $D/access.log)"
say "probe run scenarios/demo.scn"
echo

"$PROBE" run --db "$D/demo.db" --spool "$D/spool" --region demo scenarios/demo.scn
rc=$?

echo
if [ $rc -ne 2 ] && command -v sqlite3 >/dev/null; then
	t=$(sqlite3 "$D/demo.db" "SELECT printf('%.2f', ttfb_ms) FROM steps WHERE name = 'slow' ORDER BY id DESC LIMIT 1")
	say "the 'slow' step's TTFB: $t ms; the backend waits $((SLOW_MS + 5)) ms (nginx echo_sleep)"
	w=$(sqlite3 "$D/demo.db" "SELECT printf('%.2f ms (source %s, %s)', e.think_ms, e.source, e.think_quality) FROM exchanges e JOIN steps s ON s.id = e.step_id WHERE s.name = 'slow' ORDER BY e.id DESC LIMIT 1")
	say "its think time on the wire (TTFB minus one RTT, from the run's own packets): ${w:-none (no capture)}"
fi
if [ $rc -eq 2 ]; then
	say "probe run exited 2 (see its message above)"
fi
say "the DNS server's log of the probe's queries ($D/dns.log):"
[ $rc -eq 2 ] || dns_log_wait "$D" 'query\[' || true
q=$(dns_log "$D" | grep -F 'query[')
if [ -n "$q" ]; then sed 's/^/  /' <<<"$q"; else echo "  (none: the probe asked nothing)"; fi
servers_cleanup
say "servers stopped; results in $D/demo.db (probe report --db $D/demo.db)"
exit $rc
