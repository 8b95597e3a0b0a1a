# tests/integration/lib_bench.sh: the network test bench.  Namespaces, a
# delay/loss element per link (tests/tools/pbfwd), servers that think
# (nginx, dnsmasq, tests/tools/pbserver) and packet captures on either side,
# for the integration scripts (sourced after lib.sh; it sources
# lib_servers.sh itself when needed).  Needs root (ip netns, /dev/net/tun).
#
#   bench_usable          0 when the bench can run here; else sets BENCH_SKIP
#                         (the reason) for `skip`
#   bench_up [--regions N] [--delay-ms D] [--profile FILE] [--profile-I FILE]
#            [--mtu N] [--offload]
#                         a server namespace and N client namespaces
#                         ("regions", default 1), each client linked to the
#                         server by its own pbfwd (a TUN device on each side)
#                         with its own profile.  A region's profile is
#                         "delay_ms = D" (--delay-ms), then the lines of
#                         --profile FILE (every region) or --profile-I FILE
#                         (region I), later lines winning (pbfwd's rule).
#                         --mtu: both TUN devices' MTU.  --offload: plain
#                         veth pairs instead (no pbfwd, no delay, no
#                         profile), TSO/GSO/GRO on, so the server sends
#                         segments larger than the MSS.  One bench at a
#                         time per script; bench_down before the next.
#   bench_down            stops everything bench_* started (captures,
#                         servers, pbfwd) and deletes the namespaces;
#                         idempotent; runs from the EXIT trap.  The BENCH_*
#                         variables stay set, so a test can check that the
#                         names are gone.
#   bench_profile I KEY=VALUE...   sets KEYs in region I's profile (KEY= with
#                         nothing after '=' removes KEY), SIGHUPs its pbfwd
#                         and waits until pbfwd says it reloaded (fails,
#                         with pbfwd's message, when it kept the old one).
#                         KEY as pbfwd knows it: delay_ms, b2a.drop_data...
#                         Packets already queued keep their delay.
#   bench_stats I         SIGUSR1 to region I's pbfwd; prints its two lines
#                         "a2b forwarded=N dropped=N ..." and "b2a ..."
#   bench_stat I DIR KEY  one counter of those: bench_stat 1 b2a data
#   bench_exec I CMD...   CMD in region I's client namespace
#   bench_server_exec CMD...   CMD in the server namespace
#   bench_wait_closed [WHERE]  waits (5 s at most) until every TCP connection
#                         in the namespace (WHERE as for bench_capture_start)
#                         has closed (TIME-WAIT or gone): the last ACKs of a
#                         closed connection have been sent, so a capture
#                         stopped now has them
#   bench_nginx_start [DIR [CERTDIR]]   lib_servers.sh's nginx (same servers,
#                         locations and *_PORT variables) in the server
#                         namespace on BENCH_SERVER_IP4 and [BENCH_SERVER_IP6]
#                         (DIR: default $BENCH_DIR/nginx; certs from CERTDIR,
#                         default DIR/certs, made when missing)
#   bench_dns_start [OPTION...]   lib_servers.sh's dnsmasq in the server
#                         namespace on BENCH_SERVER_IP4 and IP6, port DNS_PORT:
#                         demo/a/b.probe.test A BENCH_SERVER_IP4,
#                         dual.probe.test A + AAAA (IP6), servfail.probe.test
#                         SERVFAIL, the rest of probe.test NXDOMAIN; OPTION...
#                         adds to the test's zone (e.g.
#                         --host-record=www.probe.test,$BENCH_SERVER_IP4).
#                         Exports BENCH_RESOLVER=IP4:DNS_PORT.  Its query log:
#                         dns_log $BENCH_DIR/dns
#   bench_pbserver_start  tests/tools/pbserver in the server namespace, on
#                         both server addresses: plain HTTP on PBSERVER_PORT
#                         (8080), TLS 1.2/1.3 on PBSERVER_TLS_PORT (8443, the
#                         certs of certs_make: demo.probe.test...), a
#                         stalled TLS handshake on PBSERVER_STALL_PORT (8444),
#                         a TLS 1.2 handshake that ends in a fatal alert
#                         after the server's first flight on
#                         PBSERVER_ALERT_PORT (8445, pbserver's
#                         --alert-handshake); ports fixed (the namespace is
#                         private; preset variables win).  Its logs, the
#                         server-side truth: $PBSERVER_LOG (plain and stall),
#                         $PBSERVER_TLS_LOG (TLS and alert).
#   Each *_start returns once the server answers on the server addresses:
#   checked inside the server namespace, so that no readiness packet
#   crosses a link (a profile's drop_nth/drop_data ordinals count the
#   test's own packets only).  Each is stopped by bench_down.
#   bench_capture_start NAME [WHERE [DEV [FILTER]]]   tcpdump --immediate-mode
#                         -U -w $BENCH_DIR/cap/NAME.pcap; WHERE: "server"
#                         (default), a region number (its client namespace)
#                         or a namespace name; DEV: default the server's
#                         device of region 1 (WHERE=server) or the region's
#                         client device; FILTER: one pcap-filter string.
#                         Returns once tcpdump says "listening on".
#   bench_capture_stop NAME   SIGINT, waits for tcpdump to write and exit;
#                         prints the pcap's path (works in $(...)); fails
#                         (still printing it) when tcpdump reports packets
#                         dropped by the kernel.  32 MB ring (-B).
#
# Variables (exported by bench_up; I = 1..N):
#   BENCH_ID              the run's unique prefix, pb<pid>x<n>: every
#                         namespace and device name starts with it, and the
#                         command lines of pbfwd, pbserver, tcpdump, nginx's
#                         master and dnsmasq contain it (BENCH_DIR is
#                         $T/<BENCH_ID>)
#   BENCH_DIR             the bench's files (profiles, logs, captures)
#   BENCH_REGIONS BENCH_MODE (tun or veth)
#   BENCH_UP_MS           how long bench_up took
#   BENCH_SERVER_NS       server namespace: <ID>s
#   BENCH_SERVER_IP4 BENCH_SERVER_IP6   THE server address, one for every
#                         region (see Topology)
#   BENCH_SERVER_DEV_I    the server's device of region I's link: <ID>s<I>
#   BENCH_CLIENT_NS_I     region I's client namespace: <ID>c<I>
#   BENCH_CLIENT_DEV_I    its device: <ID>c<I> (a name may repeat across
#                         namespaces)
#   BENCH_CLIENT_IP4_I BENCH_CLIENT_IP6_I
#   BENCH_PROFILE_I       region I's profile file (pbfwd's format)
#   BENCH_FWD_PID_I       region I's pbfwd; its stdout/stderr in
#                         $BENCH_DIR/fwdI.out/.err (empty in veth mode)
#
# Topology.  Region I: client namespace <ID>c<I> --TUN-- pbfwd --TUN--
# server namespace <ID>s.  pbfwd's side "a" is the client, "b" the server:
# a2b is upstream (client to server), b2a downstream.  Addresses: one /24
# of 198.18.0.0/15 per run (RFC 2544; claimed under $BENCH_CLAIMS, default
# /run/probe-bench, so concurrent runs never share one), 198.A.B.0/24 with
# A.B = 18.0 .. 19.255, and a random ULA /48 fdXX:XXXX:XXXX::/48 (RFC 4193):
#   server   198.A.B.1      fdXX:XXXX:XXXX::1   on EVERY link device, as the
#                                                local end of a point-to-point
#                                                address, peer = the client
#   region I 198.A.B.(I+1)  fdXX:XXXX:XXXX::(I+1), peer = the server
# so every region reaches the server at the same address; the server
# answers region I over region I's link (host route to each client, from
# the peer address).  Each client has default routes (v4, v6) into its
# link: all it sends crosses its delay element; the server namespace has no
# default route and does not forward, so nothing leaves the namespaces.
# No link-local addresses, no router solicitations, no DAD: bench_up sends
# nothing through a link (pbfwd's packet ordinals start with the test's).
# lo is up in every namespace.  veth mode: the same addresses and routes on
# a veth pair per region (ARP/ND on, offloads on).
#
# Timing: pbfwd runs under SCHED_FIFO (chrt -f 10) when allowed (BENCH_RT=0:
# not): on a busy 2-vCPU machine a normal-priority forwarder woke late
# (10-20% of handshakes 0.5-6 ms long with four bench scripts at once),
# the real-time one rarely, though then by up to ~150 ms.  Idle, both keep
# each leg within 0.1-0.5 ms over the configured delay (the VM's wakeup
# latency; never under).  Tests take medians, not means or single shots.
#
# Cleanup: sourcing this file puts bench_down in the EXIT trap (before
# lib_servers.sh's servers_cleanup and lib.sh's rm -rf $T); INT, TERM and
# HUP exit through it.  Should the script be killed outright (SIGKILL), a
# watchdog per bench tears it down within ~0.2 s; should the watchdog be
# killed too (SIGKILL to the process group), the next bench_up removes
# benches whose process is gone.

[ -n "${_SRV_PYCODE:-}" ] || . "$(dirname "${BASH_SOURCE[0]}")/lib_servers.sh"

BENCH_PBFWD=${BENCH_PBFWD:-$PWD/build/tools/pbfwd}
BENCH_PBSERVER=${BENCH_PBSERVER:-$PWD/build/tools/pbserver}
BENCH_CLAIMS=${BENCH_CLAIMS:-/run/probe-bench}

_BENCH_UP=0		# 1 between bench_up and bench_down
_BENCH_SEQ=0		# benches made by this script (the <n> of BENCH_ID)
_BENCH_NSS=()		# namespaces made
_BENCH_FWD=()		# pbfwd pids
_BENCH_NGINX=()		# nginx dirs (lib_servers.sh) started in the bench
_BENCH_DNS=()		# dnsmasq dirs
_BENCH_CLAIM=""		# the claimed address block's directory

_bench_err() { echo "lib_bench: $*" >&2; }

# _bench_poll TENTHS CMD...: runs CMD every 10 ms until it succeeds or
# TENTHS tenths of a second have passed.
_bench_poll() {
	local n=$(($1 * 10)) i
	shift
	for ((i = 0; i < n; i++)); do
		"$@" && return 0
		sleep 0.01
	done
	"$@"
}

bench_usable() {
	local t
	BENCH_SKIP=""
	if [ "$(id -u)" != 0 ]; then
		BENCH_SKIP="needs root (ip netns, /dev/net/tun)"
	elif ! command -v ip >/dev/null; then
		BENCH_SKIP="no ip(8)"
	elif ! { : <>/dev/net/tun; } 2>/dev/null; then
		BENCH_SKIP="/dev/net/tun cannot be opened"
	else
		for t in tcpdump tshark ping ethtool; do
			_srv_bin "$t" >/dev/null 2>&1 || { BENCH_SKIP="no $t (make deps)"; break; }
		done
	fi
	if [ -z "$BENCH_SKIP" ] && { [ ! -x "$BENCH_PBFWD" ] || [ ! -x "$BENCH_PBSERVER" ]; }; then
		make -s "${BENCH_PBFWD#"$PWD"/}" "${BENCH_PBSERVER#"$PWD"/}" >/dev/null 2>&1
		[ -x "$BENCH_PBFWD" ] && [ -x "$BENCH_PBSERVER" ] ||
			BENCH_SKIP="cannot build $BENCH_PBFWD and $BENCH_PBSERVER"
	fi
	if [ -z "$BENCH_SKIP" ]; then
		t=pb$$probe
		if ip netns add "$t" 2>/dev/null; then ip netns del "$t"; else
			BENCH_SKIP="ip netns add fails"; fi
	fi
	[ -z "$BENCH_SKIP" ]
}

# _bench_claim: claims a free /24 of 198.18.0.0/15 (512 of them), as the
# directory $BENCH_CLAIMS/K (mkdir is atomic); a claim whose owner is dead
# is taken over.  Prints K (run in $(...): the caller sets _BENCH_CLAIM).
_bench_claim() {
	local k i start o
	mkdir -p "$BENCH_CLAIMS" || return 1
	start=$(((RANDOM * 32768 + RANDOM) % 512))
	for ((i = 0; i < 512; i++)); do
		k=$(((start + i) % 512))
		if ! mkdir "$BENCH_CLAIMS/$k" 2>/dev/null; then
			o=$(cat "$BENCH_CLAIMS/$k/owner" 2>/dev/null) || continue
			o=${o%% *}
			[ -n "$o" ] && ! kill -0 "$o" 2>/dev/null || continue
			# stale: rename it away (only one taker wins), then claim
			mv -T "$BENCH_CLAIMS/$k" "$BENCH_CLAIMS/.stale.$$.$k" 2>/dev/null || continue
			rm -rf "$BENCH_CLAIMS/.stale.$$.$k"
			mkdir "$BENCH_CLAIMS/$k" 2>/dev/null || continue
		fi
		echo "$$ $BENCH_ID" >"$BENCH_CLAIMS/$k/owner"
		echo "$k"
		return 0
	done
	_bench_err "no free address block in $BENCH_CLAIMS"
	return 1
}

# _bench_watch: a detached watchdog that tears the bench down when this
# shell dies without completing bench_down (which removes $BENCH_DIR/up
# when done, then stops the watchdog).
_bench_watch() {
	local me=$$ dir=$BENCH_DIR id=$BENCH_ID claim=$_BENCH_CLAIM
	(
		(
			# TERM too: a process group killed by a harness takes the
			# watchdog along only if that was SIGKILL
			trap '' INT HUP TERM
			while kill -0 "$me" 2>/dev/null && [ -e "$dir/up" ]; do sleep 0.1; done
			[ -e "$dir/up" ] || exit 0
			for f in "$dir"/*.pid "$dir"/cap/*.pid; do
				p=$(cat "$f" 2>/dev/null) && [ -n "$p" ] && kill -TERM "$p"
			done
			for ns in $(_bench_nss_of "$id"); do
				p=$(ip netns pids "$ns")
				[ -n "$p" ] && kill -KILL $p
				ip netns del "$ns"
			done
			rm -rf "$claim"
		) </dev/null >/dev/null 2>&1 &
		echo $! >"$dir/watch"
	)
}

# _bench_gc: removes the benches of runs that died without cleaning up
# (their whole process group SIGKILLed, the watchdog with it): namespaces
# pb<PID>x<N>... whose PID is gone, what runs in them, their pbfwd, and
# address claims whose owner is gone.
_bench_gc() {
	local ns pid p
	for ns in $(ip netns list | awk '{ print $1 }' | grep -E '^pb[0-9]+x[0-9]+(s|c[0-9]+)$'); do
		pid=${ns#pb} && pid=${pid%%x*}
		kill -0 "$pid" 2>/dev/null && continue
		p=$(ip netns pids "$ns" 2>/dev/null)
		[ -z "$p" ] || kill -KILL $p 2>/dev/null
		p=$(pgrep -f -- "--[ab]-ns $ns( |\$)")
		[ -z "$p" ] || kill -KILL $p 2>/dev/null
		ip netns del "$ns" 2>/dev/null && _bench_err "removed $ns, left behind by the dead process $pid"
	done
	for p in "$BENCH_CLAIMS"/[0-9]*/owner; do
		[ -e "$p" ] || continue
		pid=$(cat "$p" 2>/dev/null) && pid=${pid%% *} && [ -n "$pid" ] || continue
		kill -0 "$pid" 2>/dev/null && continue
		p=${p%/owner}
		mv -T "$p" "$BENCH_CLAIMS/.stale.$$.${p##*/}" 2>/dev/null &&
			rm -rf "$BENCH_CLAIMS/.stale.$$.${p##*/}"
	done
	return 0
}

# _bench_nss_of ID: the namespaces of bench ID that exist
_bench_nss_of() { ip netns list | awk '{ print $1 }' | grep -E "^$1(s|c[0-9]+)\$"; }

# _bench_region_ok I: I names a region of the bench.
_bench_region_ok() {
	[ "$_BENCH_UP" = 1 ] || { _bench_err "no bench (bench_up first)"; return 1; }
	case $1 in '' | *[!0-9]*) _bench_err "bad region '$1'"; return 1 ;; esac
	[ "$1" -ge 1 ] && [ "$1" -le "$BENCH_REGIONS" ] ||
		{ _bench_err "no region $1 (1..$BENCH_REGIONS)"; return 1; }
}

# _bench_v6 PREFIX N: PREFIX::N in hex
_bench_v6() { printf '%s::%x' "$1" "$2"; }

bench_up() {
	local regions=1 delay="" common="" mtu="" offload=0 i k o2 o3 p6 ns dev b0 b1 b2 b3 b4
	local -A pfile=()
	local t0 pf pid err
	while [ $# -gt 0 ]; do
		case $1 in
		--regions) regions=$2; shift ;;
		--delay-ms) delay=$2; shift ;;
		--profile) common=$2; shift ;;
		--profile-[0-9]*) pfile[${1#--profile-}]=$2; shift ;;
		--mtu) mtu=$2; shift ;;
		--offload) offload=1 ;;
		*) _bench_err "bench_up: unknown option $1"; return 2 ;;
		esac
		shift
	done
	case $regions in '' | *[!0-9]* | 0) _bench_err "bench_up: bad --regions '$regions'"; return 2 ;; esac
	[ "$regions" -le 99 ] || { _bench_err "bench_up: at most 99 regions"; return 2; }
	for i in "${!pfile[@]}"; do
		[ "$i" -ge 1 ] && [ "$i" -le "$regions" ] || { _bench_err "bench_up: no region $i for --profile-$i"; return 2; }
		[ -r "${pfile[$i]}" ] || { _bench_err "bench_up: cannot read ${pfile[$i]}"; return 2; }
	done
	[ -z "$common" ] || [ -r "$common" ] || { _bench_err "bench_up: cannot read $common"; return 2; }
	[ "$_BENCH_UP" = 0 ] || { _bench_err "bench_up: a bench is up already (bench_down first)"; return 1; }
	if [ -n "${BENCH_SKIP:-}" ] || { [ -z "${BENCH_SKIP+x}" ] && ! bench_usable; }; then
		_bench_err "bench_up: $BENCH_SKIP"
		return 1
	fi
	_bench_gc

	# Names: unique among live processes (the pid), and a leftover of a
	# dead run with the same pid is skipped, not reused.
	while :; do
		_BENCH_SEQ=$((_BENCH_SEQ + 1))
		BENCH_ID=pb$$x$_BENCH_SEQ
		[ -n "$(_bench_nss_of "$BENCH_ID")" ] || break
	done
	if [ $((${#BENCH_ID} + 3)) -gt 15 ]; then
		_bench_err "bench_up: name prefix $BENCH_ID too long for device names"
		return 1
	fi
	export BENCH_ID BENCH_DIR=$T/$BENCH_ID BENCH_REGIONS=$regions
	if [ $offload = 1 ]; then export BENCH_MODE=veth; else export BENCH_MODE=tun; fi
	mkdir -p "$BENCH_DIR/cap" || return 1
	t0=$(date +%s%N)
	_BENCH_UP=1
	: >"$BENCH_DIR/up"
	k=$(_bench_claim) || { bench_down; return 1; }
	_BENCH_CLAIM=$BENCH_CLAIMS/$k
	_bench_watch
	o2=$((18 + k / 256)) o3=$((k % 256))
	# fdXX:XXXX:XXXX, written as ip(8) and ss(8) print it (no leading
	# zeros; no group 0, which could move the "::")
	p6=""
	while [ -z "$p6" ]; do
		read -r b0 b1 b2 b3 b4 < <(od -An -N5 -tu1 /dev/urandom)
		[ $((b1 * 256 + b2)) -gt 0 ] && [ $((b3 * 256 + b4)) -gt 0 ] &&
			p6=$(printf 'fd%02x:%x:%x' "$b0" $((b1 * 256 + b2)) $((b3 * 256 + b4)))
	done
	export BENCH_SERVER_NS=${BENCH_ID}s
	export BENCH_SERVER_IP4=198.$o2.$o3.1 BENCH_SERVER_IP6=$p6::1

	# Namespaces: lo up; no IPv6 autoconfiguration chatter on the links.
	for ns in "$BENCH_SERVER_NS" $(for ((i = 1; i <= regions; i++)); do echo "${BENCH_ID}c$i"; done); do
		if ! ip netns add "$ns"; then bench_down; return 1; fi
		_BENCH_NSS+=("$ns")
		if ! ip netns exec "$ns" sh -c '
			ip link set lo up &&
			for c in all default; do
				sysctl -qw net.ipv6.conf.$c.addr_gen_mode=1 \
					net.ipv6.conf.$c.accept_ra=0 \
					net.ipv6.conf.$c.router_solicitations=0 \
					net.ipv6.conf.$c.dad_transmits=0 || exit 1
			done'; then
			_bench_err "bench_up: setting up namespace $ns failed"
			bench_down
			return 1
		fi
	done

	# pbfwd's timers under SCHED_FIFO when allowed: on a busy machine
	# (2 vCPUs, four bench scripts at once) a normal-priority forwarder
	# woke late and a 20 ms RTT came out 0.7 ms long on average; ppoll
	# sleeps between packets, so it takes no CPU from anyone
	_BENCH_RT=()
	[ "${BENCH_RT:-1}" = 0 ] || ! chrt -f 10 true 2>/dev/null || _BENCH_RT=(chrt -f 10)
	for ((i = 1; i <= regions; i++)); do
		export "BENCH_CLIENT_NS_$i=${BENCH_ID}c$i" "BENCH_CLIENT_DEV_$i=${BENCH_ID}c$i"
		export "BENCH_SERVER_DEV_$i=${BENCH_ID}s$i"
		export "BENCH_CLIENT_IP4_$i=198.$o2.$o3.$((i + 1))"
		export "BENCH_CLIENT_IP6_$i=$(_bench_v6 "$p6" $((i + 1)))"
		export "BENCH_PROFILE_$i=" "BENCH_FWD_PID_$i="
	done

	# The links.
	if [ $offload = 1 ]; then
		for ((i = 1; i <= regions; i++)); do
			ns=BENCH_CLIENT_NS_$i dev=BENCH_CLIENT_DEV_$i pf=BENCH_SERVER_DEV_$i
			if ! ip link add "${!dev}" netns "${!ns}" type veth \
				peer name "${!pf}" netns "$BENCH_SERVER_NS" ||
				! ip netns exec "${!ns}" ethtool -K "${!dev}" tso on gso on gro on ||
				! ip netns exec "$BENCH_SERVER_NS" ethtool -K "${!pf}" tso on gso on gro on; then
				_bench_err "bench_up: veth pair for region $i failed"
				bench_down
				return 1
			fi
		done
	else
		for ((i = 1; i <= regions; i++)); do
			pf=$BENCH_DIR/profile$i
			{
				echo "# region $i (a = client ${BENCH_ID}c$i, b = server)"
				[ -z "$delay" ] || echo "delay_ms = $delay"
				[ -z "$common" ] || cat "$common"
				[ -z "${pfile[$i]:-}" ] || cat "${pfile[$i]}"
			} >"$pf"
			export "BENCH_PROFILE_$i=$pf"
			ns=BENCH_CLIENT_NS_$i dev=BENCH_CLIENT_DEV_$i
			o=BENCH_SERVER_DEV_$i
			"${_BENCH_RT[@]}" "$BENCH_PBFWD" --a-ns "${!ns}" --a-dev "${!dev}" \
				--b-ns "$BENCH_SERVER_NS" --b-dev "${!o}" --profile "$pf" \
				--pid-file "$BENCH_DIR/fwd$i.pid" --stats "$BENCH_DIR/fwd$i.stats" \
				${mtu:+--mtu "$mtu"} </dev/null >"$BENCH_DIR/fwd$i.out" 2>"$BENCH_DIR/fwd$i.err" &
			_BENCH_FWD+=($!)
			export "BENCH_FWD_PID_$i=$!"
		done
		for ((i = 1; i <= regions; i++)); do
			pid=BENCH_FWD_PID_$i
			# ready: its pid file (both devices exist); or it died
			_bench_poll 50 eval "[ -s '$BENCH_DIR/fwd$i.pid' ] || ! srv_alive ${!pid}"
			if ! [ -s "$BENCH_DIR/fwd$i.pid" ] || ! srv_alive "${!pid}"; then
				err=$(cat "$BENCH_DIR/fwd$i.err" 2>/dev/null)
				_bench_err "bench_up: pbfwd of region $i is not ready: ${err:-no pid file after 5 s}"
				bench_down
				return 1
			fi
		done
	fi

	# TUN devices: GSO and GRO off.  Nothing changes on the wire (a TUN
	# device without IFF_VNET_HDR gets every packet segmented anyway), but
	# libpcap sizes its ring's slots for 64 KB packets when a device has
	# any offload on, and a 2 MB ring of 64 KB slots drops packets of a
	# burst (seen: 18 of 242 during a 200 KB download).
	if [ $offload = 0 ]; then
		for ns in "${_BENCH_NSS[@]}"; do
			dev=$(ip -n "$ns" -o link show type tun | awk -F': ' '{ print $2 }')
			[ -n "$dev" ] || continue
			if ! ip netns exec "$ns" sh -c 'for d; do ethtool -K "$d" gso off gro off || exit 1; done' sh $dev; then
				_bench_err "bench_up: ethtool -K in $ns failed"
				bench_down
				return 1
			fi
		done
	fi

	# Addresses and routes, one `ip -batch` per namespace.
	{
		for ((i = 1; i <= regions; i++)); do
			o=BENCH_CLIENT_IP4_$i dev=BENCH_SERVER_DEV_$i p6=BENCH_CLIENT_IP6_$i
			echo "link set ${!dev} up"
			echo "addr add $BENCH_SERVER_IP4/32 peer ${!o}/32 dev ${!dev}"
			echo "addr add $BENCH_SERVER_IP6/128 peer ${!p6}/128 dev ${!dev} nodad"
		done
	} >"$BENCH_DIR/ip-server"
	ip -n "$BENCH_SERVER_NS" -batch "$BENCH_DIR/ip-server" || { bench_down; return 1; }
	for ((i = 1; i <= regions; i++)); do
		o=BENCH_CLIENT_IP4_$i dev=BENCH_CLIENT_DEV_$i p6=BENCH_CLIENT_IP6_$i ns=BENCH_CLIENT_NS_$i
		cat >"$BENCH_DIR/ip-client$i" <<-EOF
			link set ${!dev} up
			addr add ${!o}/32 peer $BENCH_SERVER_IP4/32 dev ${!dev}
			addr add ${!p6}/128 peer $BENCH_SERVER_IP6/128 dev ${!dev} nodad
			route add default via $BENCH_SERVER_IP4 dev ${!dev} onlink
			route add ::/0 via $BENCH_SERVER_IP6 dev ${!dev} onlink
		EOF
		ip -n "${!ns}" -batch "$BENCH_DIR/ip-client$i" || { bench_down; return 1; }
	done
	export BENCH_UP_MS=$((($(date +%s%N) - t0) / 1000000))
}

bench_down() {
	local f p i ns
	[ "$_BENCH_UP" = 1 ] || return 0
	# captures first: they are what a failing test wants to look at
	for f in "$BENCH_DIR"/cap/*.pid; do
		[ -e "$f" ] || continue
		f=${f##*/}
		bench_capture_stop "${f%.pid}" >/dev/null
	done
	for f in "$BENCH_DIR"/pbserver*.pid; do
		[ -e "$f" ] && _srv_kill "$f"
	done
	for f in "${_BENCH_NGINX[@]}"; do nginx_stop "$f"; done
	for f in "${_BENCH_DNS[@]}"; do dns_stop "$f"; done
	_BENCH_NGINX=() _BENCH_DNS=()
	# pbfwd: TERM makes it write its final stats and exit; its TUN
	# devices go with it
	for p in "${_BENCH_FWD[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${_BENCH_FWD[@]}"; do
		_bench_poll 50 eval "! srv_alive $p"
		srv_alive "$p" && kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	_BENCH_FWD=()
	# whatever still runs in the namespaces (a test's own processes)
	for ns in "${_BENCH_NSS[@]}"; do
		p=$(ip netns pids "$ns" 2>/dev/null)
		[ -z "$p" ] && continue
		kill -TERM $p 2>/dev/null
		for i in $p; do
			_bench_poll 20 eval "! srv_alive $i"
			srv_alive "$i" && kill -KILL "$i" 2>/dev/null
		done
	done
	for ns in "${_BENCH_NSS[@]}"; do
		# veth pairs: delete them now rather than in the asynchronous
		# namespace teardown
		if [ "$BENCH_MODE" = veth ]; then
			for ((i = 1; i <= BENCH_REGIONS; i++)); do
				f=BENCH_SERVER_DEV_$i
				[ "$ns" = "$BENCH_SERVER_NS" ] && ip -n "$ns" link del "${!f}" 2>/dev/null
			done
		fi
		ip netns del "$ns" 2>/dev/null
	done
	_BENCH_NSS=()
	# the watchdog last: should this be cut short, it finishes the job
	rm -f "$BENCH_DIR/up"
	if p=$(cat "$BENCH_DIR/watch" 2>/dev/null) && [ -n "$p" ]; then
		kill -KILL "$p" $(pgrep -P "$p" 2>/dev/null) 2>/dev/null
	fi
	rm -f "$BENCH_DIR/watch"
	[ -z "$_BENCH_CLAIM" ] || rm -rf "$_BENCH_CLAIM"
	_BENCH_CLAIM=""
	_BENCH_UP=0
	return 0
}

# _bench_ns WHERE: the namespace of "server", a region number or a name.
_bench_ns() {
	local p
	case $1 in
	'' | server) echo "$BENCH_SERVER_NS" ;;
	*[!0-9]*) echo "$1" ;;
	*) _bench_region_ok "$1" || return 1; p=BENCH_CLIENT_NS_$1; echo "${!p}" ;;
	esac
}

bench_exec() {
	local ns
	ns=$(_bench_ns "${1:?usage: bench_exec REGION CMD...}") || return 125
	shift
	ip netns exec "$ns" "$@"
}

bench_wait_closed() {
	local ns
	ns=$(_bench_ns "${1:-server}") || return 1
	_bench_poll 50 eval "[ -z \"\$(ip netns exec '$ns' ss -Htan state connected exclude time-wait 2>/dev/null)\" ]" ||
		{ _bench_err "bench_wait_closed: TCP connections still open in $ns: $(ip netns exec "$ns" ss -Htan state connected)"; return 1; }
}

bench_server_exec() {
	[ "$_BENCH_UP" = 1 ] || { _bench_err "no bench (bench_up first)"; return 125; }
	ip netns exec "$BENCH_SERVER_NS" "$@"
}

bench_profile() {
	local i=${1:-} f kv key val n0 n pid
	_bench_region_ok "$i" || return 1
	[ "$BENCH_MODE" = tun ] || { _bench_err "bench_profile: no delay element in veth mode"; return 1; }
	shift
	f=BENCH_PROFILE_$i pid=BENCH_FWD_PID_$i
	f=${!f} pid=${!pid}
	cp "$f" "$f.new" || return 1
	for kv in "$@"; do
		case $kv in *=*) ;; *) _bench_err "bench_profile: expected KEY=VALUE, got '$kv'"; rm -f "$f.new"; return 2 ;; esac
		key=${kv%%=*} val=${kv#*=}
		awk -v k="$key" '{ l = $0; sub(/#.*/, "", l); split(l, a, "=");
			gsub(/[ \t]/, "", a[1]) } a[1] != k' "$f.new" >"$f.tmp" && mv "$f.tmp" "$f.new"
		[ -z "$val" ] || echo "$key = $val" >>"$f.new"
	done
	mv "$f.new" "$f"
	n0=$(grep -c 'reloaded$\|old profile kept' "$BENCH_DIR/fwd$i.err")
	kill -HUP "$pid" || return 1
	_bench_poll 50 eval "[ \$(grep -c 'reloaded\$\\|old profile kept' '$BENCH_DIR/fwd$i.err') -gt $n0 ]"
	n=$(grep 'reloaded$\|old profile kept' "$BENCH_DIR/fwd$i.err" | tail -n 1)
	case $n in
	*reloaded) return 0 ;;
	'') _bench_err "bench_profile: pbfwd of region $i did not reload within 5 s"; return 1 ;;
	*) _bench_err "bench_profile: $n"; return 1 ;;
	esac
}

bench_stats() {
	local i=${1:-} s pid
	_bench_region_ok "$i" || return 1
	[ "$BENCH_MODE" = tun ] || { _bench_err "bench_stats: no delay element in veth mode"; return 1; }
	s=$BENCH_DIR/fwd$i.stats pid=BENCH_FWD_PID_$i
	# pbfwd writes the file atomically (rename): once there, it is whole
	rm -f "$s"
	kill -USR1 "${!pid}" || return 1
	_bench_poll 50 test -e "$s" || { _bench_err "bench_stats: no stats from region $i's pbfwd"; return 1; }
	cat "$s"
}

bench_stat() {
	local out
	out=$(bench_stats "$1") || return 1
	awk -v d="$2" -v k="$3" '$1 == d { for (i = 2; i <= NF; i++) {
		split($i, a, "="); if (a[1] == k) { print a[2]; f = 1 } } }
		END { exit !f }' <<<"$out" || { _bench_err "bench_stat: no $2 $3 in: $out"; return 1; }
}

# ---- servers in the server namespace --------------------------------------------

bench_nginx_start() {
	local d=${1:-$BENCH_DIR/nginx} c=${2:-}
	[ "$_BENCH_UP" = 1 ] || { _bench_err "no bench (bench_up first)"; return 1; }
	mkdir -p "$d" || return 1
	_BENCH_NGINX+=("$d")
	SRV_NETNS=$BENCH_SERVER_NS nginx_start "$d" "$c" "$BENCH_SERVER_IP4" "$BENCH_SERVER_IP6"
}

bench_dns_start() {
	local d=$BENCH_DIR/dns
	[ "$_BENCH_UP" = 1 ] || { _bench_err "no bench (bench_up first)"; return 1; }
	mkdir -p "$d" || return 1
	_BENCH_DNS+=("$d")
	SRV_NETNS=$BENCH_SERVER_NS dns_start "$d" "$BENCH_SERVER_IP4" "$BENCH_SERVER_IP6" "$@" || return 1
	export BENCH_RESOLVER=$BENCH_SERVER_IP4:$DNS_PORT
}

bench_pbserver_start() {
	local d=$BENCH_DIR/pbserver c a4=$BENCH_SERVER_IP4 a6=[$BENCH_SERVER_IP6] out n
	[ "$_BENCH_UP" = 1 ] || { _bench_err "no bench (bench_up first)"; return 1; }
	export PBSERVER_PORT=${PBSERVER_PORT:-8080} PBSERVER_TLS_PORT=${PBSERVER_TLS_PORT:-8443}
	export PBSERVER_STALL_PORT=${PBSERVER_STALL_PORT:-8444}
	export PBSERVER_ALERT_PORT=${PBSERVER_ALERT_PORT:-8445}
	export PBSERVER_LOG=$d/plain.log PBSERVER_TLS_LOG=$d/tls.log
	mkdir -p "$d" || return 1
	c=${CERTS_DIR:-$d/certs}
	if [ ! -e "$c/server.pem" ]; then
		c=$d/certs
		certs_make "$c" || return 1
	fi
	export CERTS_DIR=$c
	for n in plain tls; do
		if [ $n = plain ]; then
			set -- --listen "$a4:$PBSERVER_PORT" --listen "$a6:$PBSERVER_PORT" \
				--stall-handshake "$a4:$PBSERVER_STALL_PORT" \
				--stall-handshake "$a6:$PBSERVER_STALL_PORT"
		else
			set -- --listen "$a4:$PBSERVER_TLS_PORT" --listen "$a6:$PBSERVER_TLS_PORT" \
				--alert-handshake "$a4:$PBSERVER_ALERT_PORT" \
				--alert-handshake "$a6:$PBSERVER_ALERT_PORT" \
				--tls-cert "$c/server.pem" --tls-key "$c/server.key"
		fi
		rm -f "$d/pbserver-$n.pid"
		ip netns exec "$BENCH_SERVER_NS" "$BENCH_PBSERVER" "$@" \
			--pid-file "$d/pbserver-$n.pid" --log "$d/$n.log" \
			</dev/null >"$d/$n.out" 2>"$d/$n.err" &
		# bench_down finds it by this pid file (pbserver's own is in $d)
		echo $! >"$BENCH_DIR/pbserver-$n.pid"
		_srv_watch "$BENCH_DIR/pbserver-$n.pid"
	done
	for n in plain tls; do
		if ! _bench_poll 50 eval "[ -s '$d/pbserver-$n.pid' ] || ! srv_alive \$(cat '$BENCH_DIR/pbserver-$n.pid')" ||
			! [ -s "$d/pbserver-$n.pid" ]; then
			_bench_err "bench_pbserver_start: pbserver ($n) not ready: $(cat "$d/$n.err")"
			return 1
		fi
	done
	# the pid file means bound; check that it also answers (in the server
	# namespace: nothing crosses a link)
	if ! out=$(SRV_NETNS=$BENCH_SERVER_NS _srv_py wait-tcp "$BENCH_DIR/pbserver-plain.pid" 5 \
		"$a4:$PBSERVER_PORT" "$a4:$PBSERVER_PORT" "$a6:$PBSERVER_PORT" \
		"$a4:$PBSERVER_TLS_PORT" "$a6:$PBSERVER_TLS_PORT" \
		"$a4:$PBSERVER_STALL_PORT" "$a6:$PBSERVER_STALL_PORT" \
		"$a4:$PBSERVER_ALERT_PORT" "$a6:$PBSERVER_ALERT_PORT"); then
		_bench_err "bench_pbserver_start: $out"
		return 1
	fi
}

# ---- captures ------------------------------------------------------------------

bench_capture_start() {
	local name=${1:?usage: bench_capture_start NAME [WHERE [DEV [FILTER]]]} where=${2:-server}
	local dev=${3:-} filter=${4:-} ns f v tcpdump
	[ "$_BENCH_UP" = 1 ] || { _bench_err "no bench (bench_up first)"; return 1; }
	tcpdump=$(_srv_bin tcpdump) || return 1
	ns=$(_bench_ns "$where") || return 1
	if [ -z "$dev" ]; then
		case $where in
		'' | server) dev=$BENCH_SERVER_DEV_1 ;;
		*[!0-9]*) _bench_err "bench_capture_start: name the device in namespace $ns"; return 2 ;;
		*) v=BENCH_CLIENT_DEV_$where; dev=${!v} ;;
		esac
	fi
	f=$BENCH_DIR/cap/$name
	[ ! -e "$f.pid" ] || { _bench_err "bench_capture_start: capture $name runs already"; return 1; }
	rm -f "$f.pcap" "$f.err"
	# -Z root: Debian's tcpdump would drop to user tcpdump, who cannot
	# write in $T; -U: every packet written at once (none lost at SIGINT)
	# -B: a 32 MB ring (bursts of a bulk download, 64 KB segments on veth)
	ip netns exec "$ns" "$tcpdump" --immediate-mode -U -n -Z root -B 32768 -i "$dev" \
		-w "$f.pcap" ${filter:+"$filter"} </dev/null >/dev/null 2>"$f.err" &
	echo $! >"$f.pid"
	_bench_poll 50 eval "grep -q 'listening on' '$f.err' || ! srv_alive $!"
	if ! grep -q 'listening on' "$f.err" || ! srv_alive "$!"; then
		_bench_err "bench_capture_start: tcpdump on $dev in $ns: $(cat "$f.err")"
		kill -KILL "$!" 2>/dev/null
		rm -f "$f.pid"
		return 1
	fi
}

bench_capture_stop() {
	local name=${1:?usage: bench_capture_stop NAME} f p
	f=$BENCH_DIR/cap/$name
	p=$(cat "$f.pid" 2>/dev/null) || { _bench_err "bench_capture_stop: no capture $name"; return 1; }
	kill -INT "$p" 2>/dev/null
	_bench_poll 50 eval "! srv_alive $p"
	if srv_alive "$p"; then
		_bench_err "bench_capture_stop: tcpdump ($name) ignored SIGINT; killed"
		kill -KILL "$p" 2>/dev/null
	fi
	rm -f "$f.pid"
	echo "$f.pcap"
	# a capture with holes is no ground truth: say so, and fail
	if grep -q '^[1-9][0-9]* packets\? dropped by kernel' "$f.err"; then
		_bench_err "bench_capture_stop: $name: $(grep 'dropped by kernel' "$f.err")"
		return 1
	fi
}

# ---- traps ----------------------------------------------------------------------

_BENCH_PREV_EXIT=$(_srv_trap_cmd EXIT)
case $_BENCH_PREV_EXIT in
*bench_down*) ;;
*) trap 'bench_down; eval "$_BENCH_PREV_EXIT"' EXIT ;;
esac
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
