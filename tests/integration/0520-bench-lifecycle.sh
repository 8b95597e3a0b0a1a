#!/usr/bin/env bash
# The bench's life cycle (lib_bench.sh): bench_up makes what it says (two
# regions, their namespaces, pbfwd processes, devices, addresses, routes),
# the servers run in the server namespace and answer a client namespace
# (DNS, nginx, pbserver; IPv4 and IPv6), nothing the bench starts listens
# in the root namespace, bench_down leaves nothing behind (namespaces,
# processes, devices, the address claim) and is idempotent, and up + down
# take under 5 s.  A script that fails, is terminated or is killed outright
# leaves nothing behind either (the EXIT trap; the watchdog).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_bench.sh"
once_per_check "0520-bench-lifecycle"
bench_usable || { skip "bench life cycle" "$BENCH_SKIP"; finish; }

ms() { echo $((($(date +%s%N) - $1) / 1000000)); }
# listeners: the root namespace's TCP and UDP listeners, with their owners
listeners() { ss -Hltunp 2>/dev/null | awk '{ print $1, $5, $7 }' | sort; }
L0=$(listeners)

t0=$(date +%s%N)
if bench_up --regions 2 --delay-ms 5; then ok "bench_up --regions 2 --delay-ms 5"; else
	not_ok "bench_up --regions 2"; finish; fi
up_ms=$(ms "$t0")
ID=$BENCH_ID S4=$BENCH_SERVER_IP4 S6=$BENCH_SERVER_IP6
NSS="$BENCH_SERVER_NS $BENCH_CLIENT_NS_1 $BENCH_CLIENT_NS_2"
FWDS="$BENCH_FWD_PID_1 $BENCH_FWD_PID_2"
CLAIM=$_BENCH_CLAIM

# ---- what bench_up made ---------------------------------------------------------
have=$(_bench_nss_of "$ID" | sort | tr '\n' ' ')
expect_eq "$have" "$(tr ' ' '\n' <<<"$NSS" | sort | tr '\n' ' ')" "three namespaces: $NSS"
n=0
for p in $FWDS; do srv_alive "$p" && n=$((n + 1)); done
expect_eq "$n" 2 "two pbfwd processes ($FWDS)"
for ns in $NSS; do
	expect_match "$(ip -n "$ns" -o link show lo)" '[<,]UP[,>]' "lo is up in $ns"
done
for i in 1 2; do
	c=BENCH_CLIENT_NS_$i cd=BENCH_CLIENT_DEV_$i sd=BENCH_SERVER_DEV_$i c4=BENCH_CLIENT_IP4_$i c6=BENCH_CLIENT_IP6_$i
	expect_match "$(ip -n "${!c}" -o addr show dev "${!cd}" | tr '\n' ' ')" "inet ${!c4} peer $S4/32 .*inet6 ${!c6} peer $S6/128" \
		"region $i: client ${!c4}, ${!c6} on ${!cd} (TUN), peer the server"
	expect_match "$(ip -n "$BENCH_SERVER_NS" -o addr show dev "${!sd}" | tr '\n' ' ')" "inet $S4 peer ${!c4}/32 .*inet6 $S6 peer ${!c6}/128" \
		"region $i: the server's $S4, $S6 on ${!sd}, peer the client"
	expect_match "$(ip -n "${!c}" -o link show dev "${!cd}")" 'link/none' "region $i: ${!cd} is a TUN device"
	expect_match "$(ip -n "${!c}" route show default)$(ip -n "${!c}" -6 route show default)" \
		"^default via $S4 dev ${!cd} onlink.*default via $S6 dev ${!cd} " "region $i: default routes into the link"
	pf=BENCH_PROFILE_$i
	expect_eq "$(cat "${!pf}")" "# region $i (a = client ${ID}c$i, b = server)
delay_ms = 5" "region $i's profile (${!pf})"
done
expect_eq "$(ip -n "$BENCH_SERVER_NS" route show default)" "" "no default route in the server namespace"
expect_eq "$(bench_server_exec sysctl -n net.ipv4.ip_forward net.ipv6.conf.all.forwarding | tr '\n' ' ')" "0 0 " \
	"the server namespace does not forward"

# ---- servers ---------------------------------------------------------------------
t1=$(date +%s%N)
bench_dns_start && ok "bench_dns_start" || not_ok "bench_dns_start"
bench_nginx_start && ok "bench_nginx_start" || not_ok "bench_nginx_start"
bench_pbserver_start && ok "bench_pbserver_start" || not_ok "bench_pbserver_start"
srv_ms=$(ms "$t1")
expect_eq "$BENCH_RESOLVER" "$S4:$DNS_PORT" "BENCH_RESOLVER"
q() { SRV_NETNS=$BENCH_CLIENT_NS_2 dns_query "$1" "$2" "$DNS_PORT" "$S4" 2>&1 | tr '\n' ' '; }
expect_eq "$(q demo.probe.test A)" "rcode=0 A $S4 " "DNS from region 2: demo.probe.test A $S4"
expect_eq "$(q dual.probe.test AAAA)" "rcode=0 AAAA $S6 " "DNS from region 2: dual.probe.test AAAA $S6"
expect_eq "$(q nope.probe.test A)" "rcode=3 " "DNS from region 2: NXDOMAIN"
cu() { # REGION URL...
	local r=$1
	shift
	bench_exec "$r" curl -sS --max-time 5 --cacert "$CERTS_DIR/ca.pem" \
		--resolve "demo.probe.test:$HTTPS_PORT:$S4" --resolve "demo.probe.test:$PBSERVER_TLS_PORT:$S4" \
		-w ' %{http_code} %{remote_ip}' "$@" 2>&1
}
expect_eq "$(cu 1 "https://demo.probe.test:$HTTPS_PORT/")" "hello from probe demo
 200 $S4" "region 1: nginx over TLS"
expect_eq "$(cu 2 -g "http://[$S6]:$HTTP_PORT/")" "hello from probe demo
 200 $S6" "region 2: nginx over IPv6"
expect_eq "$(cu 1 "https://demo.probe.test:$PBSERVER_TLS_PORT/")" "ok
 200 $S4" "region 1: pbserver over TLS"
expect_eq "$(cu 2 -g "http://[$S6]:$PBSERVER_PORT/?size=5")" "abcde 200 $S6" "region 2: pbserver over IPv6"
expect_eq "$(cu 1 --max-time 1 "https://demo.probe.test:$PBSERVER_STALL_PORT/" | grep -ci 'timeout\|timed out')" 1 \
	"region 1: pbserver's stalled TLS handshake times out"

# ---- nothing listens outside the namespaces ---------------------------------------------
# Every process the bench runs: what runs in its namespaces, pbfwd, and
# whatever names the bench in its command line.
mine=$( (for ns in $NSS; do ip netns pids "$ns"; done; echo $FWDS; pgrep -f "${ID}[sc/]") | tr ' ' '\n' | sort -un)
nmine=$(grep -c . <<<"$mine")
L1=$(listeners)
new=$(comm -13 <(echo "$L0") <(echo "$L1"))
ours=""
for p in $mine; do ours+=$(grep "pid=$p," <<<"$L1"); done
expect_eq "$ours" "" "no listener of the bench's $nmine processes in the root namespace"
if [ -z "$new" ]; then ok "ss -Hltun: no new listener in the root namespace"; else
	# others' tests may run on this machine: report, fail only for ours (above)
	ok "ss -Hltun: new listeners in the root namespace, none the bench's: ${new//$'\n'/; }"
fi
ino() { stat -L -c %i "$1" 2>/dev/null; }
nsino=" "
for ns in $NSS; do nsino+="$(ino "/run/netns/$ns") "; done
outside=""
for p in $(for ns in $NSS; do ip netns pids "$ns"; done); do
	case $nsino in *" $(ino "/proc/$p/ns/net") "*) ;; *) outside+=" $p" ;; esac
done
expect_eq "$outside" "" "every server process is in a bench namespace"
expect_match "$(bench_server_exec ss -Hltn | tr '\n' ' ')" "$S4:$HTTPS_PORT .*\[$S6\]:$HTTPS_PORT " "nginx listens in the server namespace"

# ---- bench_down ----------------------------------------------------------------------
t2=$(date +%s%N)
bench_down
down_ms=$(ms "$t2")
expect_eq "$(_bench_nss_of "$ID")" "" "bench_down: no namespace left"
alive=""
for p in $mine; do srv_alive "$p" && alive+=" $p($(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null))"; done
expect_eq "$alive" "" "bench_down: none of the $nmine processes left"
expect_eq "$(pgrep -af "${ID}[sc/]")" "" "bench_down: no process names $ID"
expect_eq "$(pgrep -af pbfwd | grep -c -- "--a-ns ${ID}c")" 0 "bench_down: no pbfwd of this bench (pgrep -f pbfwd)"
expect_eq "$(ip -o link | grep -c "${ID}[sc]"; ip -all netns exec ip -o link 2>/dev/null | grep -c "${ID}[sc]")" "0
0" "bench_down: no device named $ID* in any namespace"
[ ! -e "$CLAIM" ] && ok "bench_down: address block released ($CLAIM)" || not_ok "address block released" "$CLAIM"
L2=$(listeners)
expect_eq "$(comm -13 <(echo "$L0") <(echo "$L2") | grep -c "${ID}[sc/]")" 0 "ss -Hltun afterwards: nothing of the bench"
bench_down && ok "bench_down again: nothing to do, exit 0" || not_ok "bench_down is idempotent"
total=$((up_ms + down_ms))
if [ $total -lt 5000 ]; then
	ok "up + down in $total ms (up $up_ms, down with servers $down_ms; starting the three servers $srv_ms) < 5000"
else not_ok "up + down in $total ms, want < 5000" "up $up_ms, down $down_ms"; fi

# ---- a second bench in the same script: new names, new block ---------------------------------
if bench_up; then
	[ "$BENCH_ID" != "$ID" ] && ok "a second bench_up in the script: new names ($BENCH_ID)" ||
		not_ok "a second bench_up: new names" "$BENCH_ID"
	bench_down
else not_ok "a second bench_up in the script"; fi

# ---- a script that fails, is terminated, is killed ------------------------------------
cat >"$T/child.sh" <<EOF
. "$PWD/tests/integration/lib.sh"
. "$PWD/tests/integration/lib_bench.sh"
bench_up --delay-ms 1 || exit 9
bench_pbserver_start || exit 9
bench_capture_start c || exit 9
echo "\$BENCH_ID \$T \$_BENCH_CLAIM \$BENCH_FWD_PID_1" >"\$1.tmp" && mv "\$1.tmp" "\$1"
[ "\$2" = fail ] && { not_ok "a deliberate failure"; finish; }
while :; do sleep 0.05; done
EOF
# gone ID CLAIM PID: the bench ID made is gone entirely
gone() {
	[ -z "$(_bench_nss_of "$1")" ] &&
		[ -z "$(pgrep -f "${1}[sc/]")" ] && [ ! -e "$2" ] && ! srv_alive "$3"
}
# (env --default-signal: a background job of a script starts with SIGINT
# ignored, and a shell cannot trap what it started ignoring)
for how in fail TERM INT KILL; do
	rm -f "$T/child.id"
	env --default-signal=INT bash "$T/child.sh" "$T/child.id" $how >"$T/child.out" 2>&1 &
	cp=$!
	_bench_poll 100 test -e "$T/child.id"
	read -r cid ct cclaim cfwd <"$T/child.id" 2>/dev/null
	if [ -z "${cid:-}" ]; then not_ok "child script ($how) brings a bench up" "$(cat "$T/child.out")"; continue; fi
	[ $how = fail ] || kill -$how $cp
	wait $cp 2>/dev/null
	t3=$(date +%s%N)
	if _bench_poll 50 gone "$cid" "$cclaim" "$cfwd"; then
		case $how in
		fail) ok "a failing script leaves nothing behind (EXIT trap)" ;;
		KILL) ok "a script killed with SIGKILL leaves nothing behind (the watchdog, $(ms "$t3") ms)" ;;
		*) ok "a script stopped by SIG$how leaves nothing behind" ;;
		esac
	else
		not_ok "after $how: bench $cid gone" "$(_bench_nss_of "$cid")" "$(pgrep -af "${cid}[sc/]")" "claim: $(ls -d "$cclaim" 2>&1)"
	fi
	[ $how = KILL ] && rm -rf "$ct" # no EXIT trap ran: its scratch dir stays
done

# SIGKILL to the whole process group, watchdog included: the bench stays
# behind, and the next bench_up (of anyone) removes it
rm -f "$T/child.id"
setsid bash "$T/child.sh" "$T/child.id" KILL >"$T/child.out" 2>&1 &
cp=$!
_bench_poll 100 test -e "$T/child.id"
read -r cid ct cclaim cfwd <"$T/child.id" 2>/dev/null
if [ -n "${cid:-}" ]; then
	kill -KILL -- -$cp
	wait $cp 2>/dev/null
	_bench_poll 20 eval '! srv_alive $cfwd'
	left=$(_bench_nss_of "$cid" | wc -l)
	bench_up 2>"$T/gc.err" && bench_down
	if [ "$left" -gt 0 ] && gone "$cid" "$cclaim" "$cfwd"; then
		ok "a bench whose process group was SIGKILLed ($left namespaces left) is removed by the next bench_up"
	else
		not_ok "the next bench_up removes a dead run's bench" "left: $left" "$(cat "$T/gc.err")" \
			"$(_bench_nss_of "$cid")" "claim: $(ls -d "$cclaim" 2>&1)"
	fi
	rm -rf "$ct"
else
	not_ok "child script (process group) brings a bench up" "$(cat "$T/child.out")"
fi
finish
