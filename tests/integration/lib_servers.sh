# tests/integration/lib_servers.sh: the test bench's servers, for the
# integration scripts (sourced after lib.sh) and tests/tools/demo.sh.
#
#   certs_make DIR        a test PKI in DIR (see certs_make below)
#   nginx_start DIR [CD [ADDR...]]  nginx on 127.0.0.1 and [::1] (or on
#                         ADDR...), files in DIR, certs
#                         from CD (default DIR/certs; made when missing);
#                         exports HTTPS_PORT TLS12_PORT TLS13_PORT HTTP_PORT
#                         EXPIRED_PORT WRONGNAME_PORT UNKNOWNCA_PORT
#                         CLIENTCERT_PORT SLOW_MS CERTS_DIR
#   nginx_stop DIR
#   dns_start DIR [A4 [A6 [OPT...]]]  dnsmasq on 127.0.0.1 (UDP and TCP);
#                         exports DNS_PORT.  With A4 [A6]: listens there and
#                         answers the names below with A4 (dual: A4, A6)
#                         instead of 127.0.0.1/::1; OPT...: more dnsmasq
#                         options (e.g. --host-record=x.probe.test,A4)
#   dns_stop DIR
#   dns_log DIR [--all]   the query log: by default only what was asked after
#                         dns_start's own readiness queries (i.e. the probe's)
#   dns_log_wait DIR ERE  waits (up to 3 s) until dns_log matches ERE
#   dns_query NAME TYPE [PORT [SERVER]]  asks the server (127.0.0.1): "rcode=N"
#                         then "TYPE DATA" lines (TYPE: A AAAA TXT MX or a number)
#   servers_start DIR     certs_make DIR/certs, dns_start DIR, nginx_start DIR
#   servers_cleanup       stops everything started here (idempotent)
#   srv_alive PID         the process runs (and is not a zombie)
#   free_port / free_ports N   ports free on TCP 127.0.0.1 and ::1, UDP
#                         127.0.0.1, picked by the kernel (bind to port 0)
#   SRV_IPV6              1 when ::1 is usable (else the servers are IPv4-only)
#   SRV_NETNS             when set (e.g. `SRV_NETNS=ns nginx_start ...`), the
#                         servers, port picking, readiness checks and
#                         dns_query run inside that network namespace
#                         (lib_bench.sh does this)
#
# Helpers for the scripts that run probe against these servers:
#   probe_run ARGS...     run_probe run --json --db $T/p.db --spool $T/spool
#                         --region it --config /dev/null ARGS...; the JSON
#                         is kept in $T/run.json for jget
#   jget EXPR             a Python expression over probe_run's JSON output:
#                         runs (all objects), r (the first), S (its steps),
#                         st('name') (a step by name); prints the value
#                         (JSON for lists/dicts/None/bools)
#   stepq NAME EXPR       SELECT EXPR FROM steps WHERE name=NAME (latest run)
#   sid NAME              SQL: the id of the latest step named NAME
#   expect_json EXPR WANT WHAT   expect_eq on jget EXPR
#   expect_sql QUERY WANT WHAT   expect_eq on a query of $T/p.db
#
# DNS names (dnsmasq, authoritative for probe.test, nothing forwarded
# elsewhere; names outside probe.test get REFUSED):
#   (TTL 300, no cache: every query is answered afresh and logged)
#   demo.probe.test  A 127.0.0.1, TXT "v=probe1 demo", MX 10 mail.probe.test
#   a.probe.test, b.probe.test   A 127.0.0.1
#   dual.probe.test  A 127.0.0.1 and AAAA ::1
#   *.servfail.probe.test and servfail.probe.test   SERVFAIL (rcode 2)
#   any other name in probe.test                   NXDOMAIN (rcode 3)
# SERVFAIL: dnsmasq forwards servfail.probe.test to a tiny UDP responder
# (Python, started by dns_start) that answers every query with rcode 2;
# dnsmasq passes that on.  (Forwarding to a port where nothing listens does
# not work: dnsmasq never answers, the client times out.)
#
# nginx servers, each on 127.0.0.1:PORT and [::1]:PORT, all with the same
# locations:
#   HTTPS_PORT       TLS 1.2 + 1.3, h2 and http/1.1, session tickets on
#   TLS12_PORT       TLS 1.2 only          TLS13_PORT   TLS 1.3 only
#   HTTP_PORT        plain HTTP/1.1
#   EXPIRED_PORT     a certificate that expired 30 days ago (trusted CA)
#   WRONGNAME_PORT   a certificate for wrong.example only (trusted CA)
#   UNKNOWNCA_PORT   the good names, signed by a CA nobody trusts
#   CLIENTCERT_PORT  ssl_verify_client on (client-ca.pem): without a client
#                    certificate nginx completes the handshake and answers
#                    400 "No required SSL certificate was sent"
# Locations:
#   /            200 "hello from probe demo\n"
#   /slow        200 "slow\n" after SLOW_MS (default 80; nginx sleeps
#                SLOW_MS + 5 ms, so a client's TTFB is >= SLOW_MS)
#   /status/500  500;   /json  200 {"ok":true} (application/json)
#   /echo        200 "auth=<Authorization> cookie=<Cookie> q=<query q>",
#                and Set-Cookie: echoed=<q> (what a client sent, sent back)
#   /r1  302 -> https://b.probe.test:HTTPS_PORT/r2  302 ->
#               https://a.probe.test:HTTPS_PORT/r3  200 "end of redirects\n"
# POST /login  302 + Set-Cookie: session=s3cr3t; Path=/;  GET /form  200
# with the cookie (body has <input name="csrf" value="tok123">), else 401;
# POST /api/items  201 {"created":true} with the cookie AND X-CSRF: tok123,
# else 403.  Access log: DIR/access.log (client port, TLS version, HTTP
# version, request, status).
#
# Fixed ports (the demo): with SERVERS_FIXED_PORTS=1, a port variable that
# is already set (HTTPS_PORT=58443, DNS_PORT=53535...) is used as is; the
# start fails, saying so, when it is busy.  Otherwise every port is picked
# afresh (and the start is retried on a lost race).
#
# Every server runs unprivileged-port and loopback-only, with its config,
# pid file, logs and temp paths inside DIR.  Sourcing this file extends the
# EXIT trap (lib.sh's `rm -rf "$T"`) with servers_cleanup, and makes INT,
# TERM and HUP exit through it.  A script that sets its own EXIT trap later
# must call servers_cleanup in it.  Should the script be killed outright
# (SIGKILL), a small watchdog per server stops the server within ~0.3 s.

_SRV_NGINX_DIRS=()
_SRV_DNS_DIRS=()
if [ -x /usr/bin/python3 ]; then _SRV_PY=/usr/bin/python3; else _SRV_PY=python3; fi

# _srv_bin NAME: the program's path (also looks in the sbin directories,
# which a non-root PATH often lacks).
_srv_bin() {
	local p
	p=$(command -v "$1" 2>/dev/null) && { echo "$p"; return 0; }
	for p in /usr/sbin/$1 /sbin/$1 /usr/local/sbin/$1; do
		[ -x "$p" ] && { echo "$p"; return 0; }
	done
	echo "lib_servers: $1 not found (make deps installs it)" >&2
	return 1
}

# _srv_abs DIR: DIR made absolute (it must exist).
_srv_abs() { (cd "$1" && pwd -P); }

# One Python toolbox, subcommands in argv[1].
_SRV_PYCODE='
import os, socket, struct, sys, time, random

def free(n):
    v6 = sys.argv[3] == "1"
    keep, out = [], []
    for _ in range(500):
        if len(out) >= n:
            break
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        keep.append(s)
        p = s.getsockname()[1]
        more = [(socket.AF_INET, socket.SOCK_DGRAM, "127.0.0.1")]
        if v6:
            more.append((socket.AF_INET6, socket.SOCK_STREAM, "::1"))
        try:
            for fam, typ, addr in more:
                x = socket.socket(fam, typ)
                keep.append(x)
                x.bind((addr, p))
        except OSError:
            continue
        out.append(p)
    if len(out) < n:
        sys.exit("free_ports: could not find %d free ports" % n)
    print(" ".join(map(str, out)))

def busy(addrs):
    # prints the ADDR:PORT[/udp] of addrs that cannot be bound now
    bad = []
    for a in addrs:
        udp = a.endswith("/udp")
        a = a[:-4] if udp else a
        host, port = a.rsplit(":", 1)
        host = host.strip("[]")
        fam = socket.AF_INET6 if ":" in host else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
        if not udp:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, int(port)))
        except OSError:
            bad.append(a + ("/udp" if udp else ""))
        s.close()
    print(" ".join(bad))

def pid_alive(pidfile):
    try:
        pid = int(open(pidfile).read().split()[0])
        os.kill(pid, 0)
        st = open("/proc/%d/stat" % pid).read()
        return st[st.rindex(")") + 2] != "Z"
    except (OSError, ValueError, IndexError):
        return False

def wait_tcp(pidfile, deadline, http_port, addrs):
    # the pid file names a live process, every addr accepts, and a GET /
    # on the plain port is answered (http_port: PORT on 127.0.0.1, or
    # HOST:PORT / [V6]:PORT)
    end = time.monotonic() + float(deadline)
    pending = list(addrs)
    while time.monotonic() < end:
        if not pid_alive(pidfile):
            time.sleep(0.01)
            continue
        for a in list(pending):
            host, port = a.rsplit(":", 1)
            host = host.strip("[]")
            fam = socket.AF_INET6 if ":" in host else socket.AF_INET
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.settimeout(0.5)
            try:
                s.connect((host, int(port)))
                pending.remove(a)
            except OSError:
                pass
            s.close()
        if not pending:
            try:
                hh, hp = "127.0.0.1", http_port
                if ":" in http_port:
                    hh, hp = http_port.rsplit(":", 1)
                    hh = hh.strip("[]")
                s = socket.create_connection((hh, int(hp)), 1)
                s.sendall(b"GET / HTTP/1.0\r\nHost: ready\r\n\r\n")
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    return 0
            except OSError:
                pass
        time.sleep(0.01)
    print("not ready after %ss: %s" % (deadline, " ".join(pending) or "GET /"))
    return 1

def query(name, qtype, port, server="127.0.0.1", timeout=2.0):
    types = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "MX": 15, "TXT": 16, "AAAA": 28}
    qt = types.get(qtype.upper()) or int(qtype)
    tid = random.randrange(65536)
    q = struct.pack(">HHHHHH", tid, 0x0100, 1, 0, 0, 0)
    q += b"".join(bytes([len(l)]) + l.encode() for l in name.strip(".").split(".")) + b"\0"
    q += struct.pack(">HH", qt, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    s.sendto(q, (server, int(port)))
    while True:
        d = s.recv(4096)
        if d[:2] == q[:2]:
            break
    s.close()
    rcode = d[3] & 0xF
    an = struct.unpack(">H", d[6:8])[0]
    def skip_name(i):
        while True:
            l = d[i]
            if l >= 0xC0:
                return i + 2
            if l == 0:
                return i + 1
            i += 1 + l
    def read_name(i):
        labels = []
        for _ in range(64):
            l = d[i]
            if l >= 0xC0:
                i = ((l & 0x3F) << 8) | d[i + 1]
                continue
            if l == 0:
                break
            labels.append(d[i + 1:i + 1 + l].decode())
            i += 1 + l
        return ".".join(labels)
    i = skip_name(12) + 4
    rev = {v: k for k, v in types.items()}
    lines = ["rcode=%d" % rcode]
    for _ in range(an):
        i = skip_name(i)
        t, c, ttl, rl = struct.unpack(">HHIH", d[i:i + 10])
        i += 10
        rd = d[i:i + rl]
        if t == 1:
            v = socket.inet_ntop(socket.AF_INET, rd)
        elif t == 28:
            v = socket.inet_ntop(socket.AF_INET6, rd)
        elif t == 16:
            parts, j = [], 0
            while j < len(rd):
                parts.append(rd[j + 1:j + 1 + rd[j]].decode())
                j += 1 + rd[j]
            v = "".join(parts)
        elif t == 15:
            v = "%d %s" % (struct.unpack(">H", rd[:2])[0], read_name(i + 2))
        elif t in (2, 5):
            v = read_name(i)
        else:
            v = rd.hex()
        lines.append("%s %s" % (rev.get(t, str(t)), v))
        i += rl
    return lines

def wait_dns(pidfile, deadline, port, server="127.0.0.1"):
    # server: the address dnsmasq listens on, which is also what it answers
    # for demo.probe.test
    end = time.monotonic() + float(deadline)
    last = "no answer"
    while time.monotonic() < end:
        if pid_alive(pidfile):
            try:
                a = query("demo.probe.test", "A", port, server, timeout=0.3)
                b = query("ready.servfail.probe.test", "A", port, server, timeout=0.5)
                if a == ["rcode=0", "A " + server] and b == ["rcode=2"]:
                    return 0
                last = "demo.probe.test: %s; servfail: %s" % (a, b)
            except OSError as e:
                last = str(e)
        time.sleep(0.01)
    print("DNS not ready after %ss: %s" % (deadline, last))
    return 1

def servfail(port):
    # answers every query with SERVFAIL: the id, QR=1, opcode and RD as
    # asked, RA=1, rcode 2, the question copied, no records
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", int(port)))
    while True:
        d, a = s.recvfrom(4096)
        if len(d) < 12 or d[2] & 0x80:
            continue
        i = 12
        while i < len(d) and d[i]:
            i += 1 + d[i]
        out = d[:2] + bytes([(d[2] & 0x79) | 0x80, 0x82]) + b"\0\1\0\0\0\0\0\0"
        s.sendto(out + d[12:i + 5], a)

cmd = sys.argv[1]
if cmd == "free":
    free(int(sys.argv[2]))
elif cmd == "busy":
    busy(sys.argv[2:])
elif cmd == "wait-tcp":
    sys.exit(wait_tcp(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]))
elif cmd == "wait-dns":
    sys.exit(wait_dns(*sys.argv[2:6]))
elif cmd == "query":
    try:
        print("\n".join(query(*sys.argv[2:6])))
    except OSError as e:
        sys.exit("dns_query: %s" % e)
elif cmd == "servfail":
    servfail(sys.argv[2])
'
_srv_py() { _srv_in "$_SRV_PY" -c "$_SRV_PYCODE" "$@"; }

# _srv_in CMD...: runs CMD, inside the network namespace $SRV_NETNS when
# that is set (the bench: `SRV_NETNS=ns nginx_start ...`; needs root).
_srv_in() {
	if [ -n "${SRV_NETNS:-}" ]; then
		ip netns exec "$SRV_NETNS" "$@"
	else
		"$@"
	fi
}

if [ -r /proc/net/if_inet6 ] && grep -q '^00000000000000000000000000000001 ' /proc/net/if_inet6; then
	SRV_IPV6=1
else
	SRV_IPV6=0
fi
export SRV_IPV6

# free_ports N: N distinct ports, free on TCP 127.0.0.1 (and ::1) and UDP
# 127.0.0.1 at the time of asking.
free_ports() { _srv_py free "$1" "$SRV_IPV6"; }
free_port() { free_ports 1; }

# srv_alive PID: the process exists and is not a zombie (an orphan's
# zombie can linger: not every pid 1 reaps promptly).
srv_alive() {
	local s
	kill -0 "$1" 2>/dev/null || return 1
	s=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	s=${s##*) }
	[ "${s%% *}" != Z ]
}

# _srv_pid FILE: the pid in FILE when that process is alive.
_srv_pid() {
	local p
	p=$(cat "$1" 2>/dev/null) || return 1
	p=${p%%[!0-9]*}
	[ -n "$p" ] && srv_alive "$p" && echo "$p"
}

# _srv_watch PIDFILE: a detached watchdog that TERMs the pid in PIDFILE if
# this shell dies without stopping it.  Its pid goes to PIDFILE.watch.
_srv_watch() {
	local me=$BASHPID pf=$1
	(
		(
			trap '' INT HUP
			while kill -0 "$me" 2>/dev/null && [ -e "$pf" ]; do sleep 0.25; done
			p=$(cat "$pf" 2>/dev/null) && [ -n "$p" ] && kill -TERM "$p"
		) </dev/null >/dev/null 2>&1 &
		echo $! >"$pf.watch"
	)
}

# _srv_kill PIDFILE: TERM the process, wait for it (5 s), then KILL; also
# its children as they were, and the watchdog.  Removes PIDFILE.
_srv_kill() {
	local pf=$1 p kids w i k
	if p=$(_srv_pid "$pf"); then
		kids=$(pgrep -P "$p" 2>/dev/null)
		kill -TERM "$p" 2>/dev/null
		for ((i = 0; i < 500; i++)); do
			srv_alive "$p" || break
			sleep 0.01
		done
		srv_alive "$p" && kill -KILL "$p" 2>/dev/null
		for k in $kids; do
			for ((i = 0; i < 200; i++)); do
				srv_alive "$k" || break
				sleep 0.01
			done
			srv_alive "$k" && kill -KILL "$k" 2>/dev/null
		done
	fi
	rm -f "$pf"
	if w=$(_srv_pid "$pf.watch"); then
		kids=$(pgrep -P "$w" 2>/dev/null)
		kill -TERM "$w" $kids 2>/dev/null
	fi
	rm -f "$pf.watch"
	return 0
}

# _srv_ports VAR...: gives each VAR a free port, except (with
# SERVERS_FIXED_PORTS=1) those already set.
_srv_ports() {
	local v n=0 list ports=() i=0
	for v in "$@"; do
		if [ "${SERVERS_FIXED_PORTS:-0}" = 1 ] && [ -n "${!v:-}" ]; then continue; fi
		n=$((n + 1))
	done
	if [ $n -gt 0 ]; then
		list=$(free_ports "$n") || return 1
		read -ra ports <<<"$list"
	fi
	for v in "$@"; do
		if [ "${SERVERS_FIXED_PORTS:-0}" = 1 ] && [ -n "${!v:-}" ]; then
			export "${v?}"
			continue
		fi
		export "$v=${ports[$i]}"
		i=$((i + 1))
	done
}

# ---- certificates -----------------------------------------------------------

# certs_make DIR: a test PKI with the openssl CLI (EC P-256 keys, mode 0600):
#   ca.pem ca.key                    the test CA ("probe test CA", 365 days)
#   server.pem server.key            signed by it, 30 days, SAN DNS:
#                                    demo/a/b/dual.probe.test, localhost,
#                                    IP 127.0.0.1, ::1
#   expired.pem expired.key          same names and CA, valid from 60 to 30
#                                    days ago (made with `openssl ca
#                                    -startdate -enddate`: OpenSSL 3.0's x509
#                                    has no -not_before/-not_after)
#   wrongname.pem wrongname.key      same CA, only DNS:wrong.example
#   unknown-ca.pem unknown-ca.key    a second CA nobody trusts
#   unknown-server.pem .key          the good names, signed by unknown-ca
#   client-ca.pem client-ca.key      the CA that CLIENTCERT_PORT trusts
#   client.pem client.key            CN=probe-client, clientAuth, by client-ca
# The CSRs, serials and openssl's CA database are in DIR/.ca.
certs_make() {
	local d=$1 ossl
	ossl=$(_srv_bin openssl) || return 1
	mkdir -p "$d/.ca/new" || return 1
	(
		set -e
		cd "$d"
		umask 077
		rm -f .ca/index.txt* .ca/new/*
		: >.ca/index.txt
		echo 1000 >.ca/serial
		cat >.ca/openssl.cnf <<-'EOF'
			[ req ]
			distinguished_name = dn
			[ dn ]
			[ v3_ca ]
			basicConstraints = critical, CA:TRUE
			keyUsage = critical, keyCertSign, cRLSign
			subjectKeyIdentifier = hash
			[ server ]
			basicConstraints = critical, CA:FALSE
			keyUsage = critical, digitalSignature
			extendedKeyUsage = serverAuth
			subjectKeyIdentifier = hash
			authorityKeyIdentifier = keyid
			subjectAltName = @good_names
			[ good_names ]
			DNS.1 = demo.probe.test
			DNS.2 = a.probe.test
			DNS.3 = b.probe.test
			DNS.4 = dual.probe.test
			DNS.5 = localhost
			IP.1 = 127.0.0.1
			IP.2 = ::1
			[ wrongname ]
			basicConstraints = critical, CA:FALSE
			keyUsage = critical, digitalSignature
			extendedKeyUsage = serverAuth
			subjectKeyIdentifier = hash
			authorityKeyIdentifier = keyid
			subjectAltName = DNS:wrong.example
			[ client ]
			basicConstraints = critical, CA:FALSE
			keyUsage = critical, digitalSignature
			extendedKeyUsage = clientAuth
			subjectKeyIdentifier = hash
			authorityKeyIdentifier = keyid
			[ ca ]
			default_ca = past
			[ past ]
			database = .ca/index.txt
			new_certs_dir = .ca/new
			serial = .ca/serial
			default_md = sha256
			policy = any_name
			unique_subject = no
			copy_extensions = none
			[ any_name ]
			organizationName = optional
			commonName = supplied
		EOF
		key() { "$ossl" genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key"; }
		ca() { # NAME CN
			key "$1"
			"$ossl" req -config .ca/openssl.cnf -new -x509 -key "$1.key" \
				-subj "/O=probe tests/CN=$2" -days 365 -extensions v3_ca \
				-out "$1.pem"
		}
		csr() { # NAME CN
			key "$1"
			"$ossl" req -config .ca/openssl.cnf -new -key "$1.key" \
				-subj "/O=probe tests/CN=$2" -out ".ca/$1.csr"
		}
		sign() { # NAME CA EXTENSIONS
			"$ossl" x509 -req -in ".ca/$1.csr" -CA "$2.pem" -CAkey "$2.key" \
				-CAserial ".ca/$2.srl" -CAcreateserial -days 30 \
				-extfile .ca/openssl.cnf -extensions "$3" -out "$1.pem" 2>/dev/null
		}
		ca ca "probe test CA"
		ca unknown-ca "probe untrusted CA"
		ca client-ca "probe test client CA"
		csr server demo.probe.test && sign server ca server
		csr wrongname wrong.example && sign wrongname ca wrongname
		csr unknown-server demo.probe.test && sign unknown-server unknown-ca server
		csr client probe-client && sign client client-ca client
		csr expired demo.probe.test
		"$ossl" ca -batch -config .ca/openssl.cnf -cert ca.pem -keyfile ca.key \
			-in .ca/expired.csr -out expired.pem -notext -extensions server \
			-startdate "$(date -u -d '-60 days' +%Y%m%d%H%M%SZ)" \
			-enddate "$(date -u -d '-30 days' +%Y%m%d%H%M%SZ)" 2>/dev/null
		chmod 0644 ./*.pem
		chmod 0600 ./*.key
	) >"$d/.ca/log" 2>&1 || {
		echo "certs_make: openssl failed:" >&2
		cat "$d/.ca/log" >&2
		return 1
	}
}

# ---- nginx -------------------------------------------------------------------

# _srv_nginx_conf DIR CERTDIR: writes DIR/nginx.conf for the exported ports.
_srv_nginx_conf() {
	local d=$1 c=$2 slow echo_mod="" listen l6
	# echo_sleep counts from nginx's cached clock (whole ms, updated when
	# epoll_wait returns), which lags the request's arrival: a client saw
	# a TTFB 0.06 ms short of the sleep on an idle machine, 2.7 ms short
	# under heavy load (seven test scripts at once on 2 vCPUs).  Sleeping
	# 5 ms more keeps a client's TTFB for /slow at or above SLOW_MS.
	slow=$(awk -v m="$SLOW_MS" 'BEGIN { printf "%.3f", (m + 5) / 1000 }')
	# Debian's nginx-light has the echo module as a dynamic module.
	for m in /usr/lib/nginx/modules/ngx_http_echo_module.so \
		/usr/share/nginx/modules/ngx_http_echo_module.so; do
		[ -e "$m" ] && { echo_mod="load_module \"$m\";"; break; }
	done
	mkdir -p "$d/nginx-tmp"
	# listen PORT EXTRA: both loopback addresses, or nginx_start's ADDRs
	listen() {
		local a pre=""
		if [ -n "${_srv_listen[*]:-}" ]; then
			for a in "${_srv_listen[@]}"; do
				echo "${pre}listen $(_srv_hostport "$a" "$1") $2;"
				pre="    "
			done
			return 0
		fi
		echo "listen 127.0.0.1:$1 $2;"
		[ "$SRV_IPV6" = 1 ] && echo "    listen [::1]:$1 $2;"
		true
	}
	cat >"$d/locations.conf" <<-EOF
		location = / { return 200 "hello from probe demo\n"; }
		location = /slow { echo_sleep $slow; echo "slow"; }
		location = /status/500 { return 500 "internal error\n"; }
		location = /json {
		    default_type application/json;
		    return 200 '{"ok":true}';
		}
		location = /r1 { return 302 https://b.probe.test:$HTTPS_PORT/r2; }
		location = /r2 { return 302 https://a.probe.test:$HTTPS_PORT/r3; }
		location = /r3 { return 200 "end of redirects\n"; }
		location = /echo {
		    default_type text/plain;
		    add_header Set-Cookie "echoed=\$arg_q; Path=/" always;
		    return 200 "auth=\$http_authorization cookie=\$http_cookie q=\$arg_q\n";
		}
		location = /login {
		    if (\$request_method != POST) { return 405; }
		    add_header Set-Cookie "session=s3cr3t; Path=/" always;
		    return 302 /form;
		}
		location = /form {
		    if (\$cookie_session != "s3cr3t") { return 401 "log in first\n"; }
		    default_type text/html;
		    return 200 '<html><body><form method="post" action="/api/items"><input name="csrf" value="tok123"></form></body></html>\n';
		}
		location = /api/items {
		    if (\$probe_items_ok = 0) { return 403 "forbidden\n"; }
		    if (\$request_method != POST) { return 405; }
		    default_type application/json;
		    return 201 '{"created":true}\n';
		}
	EOF
	# tls_server PORT CERT PROTOCOLS [EXTRA...]
	tls_server() {
		local port=$1 cert=$2 protos=$3
		shift 3
		cat <<-EOF
			    server {
			        $(listen "$port" "ssl http2")
			        ssl_certificate "$c/$cert.pem";
			        ssl_certificate_key "$c/$cert.key";
			        ssl_protocols $protos;
			        ssl_session_tickets on;
			        $*
			        include "$d/locations.conf";
			    }
		EOF
	}
	cat >"$d/nginx.conf" <<-EOF
		# generated by tests/integration/lib_servers.sh
		$echo_mod
		worker_processes 1;
		daemon on;
		master_process on;
		pid "$d/nginx.pid";
		error_log "$d/error.log" info;
		events { worker_connections 512; }
		http {
		    log_format probe '\$remote_addr \$remote_port -> \$server_addr:\$server_port '
		                     '\$ssl_protocol \$server_protocol "\$request" \$status '
		                     '\$body_bytes_sent \$request_time';
		    access_log "$d/access.log" probe;
		    client_body_temp_path "$d/nginx-tmp/body";
		    proxy_temp_path "$d/nginx-tmp/proxy";
		    fastcgi_temp_path "$d/nginx-tmp/fastcgi";
		    uwsgi_temp_path "$d/nginx-tmp/uwsgi";
		    scgi_temp_path "$d/nginx-tmp/scgi";
		    default_type text/plain;
		    server_tokens off;
		    keepalive_timeout 30s;
		    ssl_session_cache shared:probe_tls:1m;
		    ssl_session_timeout 10m;
		    map "\$cookie_session:\$http_x_csrf" \$probe_items_ok {
		        default 0;
		        "s3cr3t:tok123" 1;
		    }
		$(tls_server "$HTTPS_PORT" server "TLSv1.2 TLSv1.3")
		$(tls_server "$TLS12_PORT" server TLSv1.2)
		$(tls_server "$TLS13_PORT" server TLSv1.3)
		$(tls_server "$EXPIRED_PORT" expired "TLSv1.2 TLSv1.3")
		$(tls_server "$WRONGNAME_PORT" wrongname "TLSv1.2 TLSv1.3")
		$(tls_server "$UNKNOWNCA_PORT" unknown-server "TLSv1.2 TLSv1.3")
		$(tls_server "$CLIENTCERT_PORT" server "TLSv1.2 TLSv1.3" \
			"ssl_verify_client on; ssl_client_certificate \"$c/client-ca.pem\";")
		    server {
		        $(listen "$HTTP_PORT" "")
		        include "$d/locations.conf";
		    }
		}
	EOF
	unset -f listen tls_server
}

_SRV_NGINX_VARS="HTTPS_PORT TLS12_PORT TLS13_PORT HTTP_PORT EXPIRED_PORT WRONGNAME_PORT UNKNOWNCA_PORT CLIENTCERT_PORT"

# _srv_hostport ADDR PORT: ADDR:PORT, or [ADDR]:PORT for IPv6.
_srv_hostport() {
	case $1 in
	*:*) echo "[$1]:$2" ;;
	*) echo "$1:$2" ;;
	esac
}

nginx_start() {
	local d c nginx attempt rc v a addrs=() out http
	[ $# -ge 1 ] || { echo "usage: nginx_start DIR [CERTDIR [ADDR...]]" >&2; return 2; }
	# ADDR...: listen there instead of 127.0.0.1 and [::1] (the bench);
	# readiness is checked on them.  Seen by _srv_nginx_conf (dynamic scope).
	local _srv_listen=("${@:3}")
	nginx=$(_srv_bin nginx) || return 1
	mkdir -p "$1" && d=$(_srv_abs "$1") || return 1
	c=${2:-$d/certs}
	if [ ! -e "$c/ca.pem" ] || [ ! -e "$c/client.key" ]; then
		certs_make "$c" || return 1
	fi
	c=$(_srv_abs "$c") || return 1
	export CERTS_DIR=$c
	export SLOW_MS=${SLOW_MS:-80}
	if _srv_pid "$d/nginx.pid" >/dev/null; then
		echo "nginx_start: nginx already runs in $d" >&2
		return 1
	fi
	for attempt in 1 2 3 4 5; do
		_srv_ports $_SRV_NGINX_VARS || return 1
		_srv_nginx_conf "$d" "$c"
		rm -f "$d/nginx.pid"
		_srv_in "$nginx" -p "$d/" -c "$d/nginx.conf" -e "$d/error.log" >"$d/nginx.out" 2>&1
		rc=$?
		[ $rc -eq 0 ] && break
		if [ "${SERVERS_FIXED_PORTS:-0}" != 1 ] && [ $attempt -lt 5 ] &&
			grep -q 'Address already in use' "$d/nginx.out" "$d/error.log" 2>/dev/null; then
			continue # lost a race for a port: pick again
		fi
		echo "nginx_start: nginx failed (exit $rc):" >&2
		cat "$d/nginx.out" >&2
		tail -n 20 "$d/error.log" >&2 2>/dev/null
		return 1
	done
	_SRV_NGINX_DIRS+=("$d")
	_srv_watch "$d/nginx.pid"
	http=$HTTP_PORT
	for v in $_SRV_NGINX_VARS; do
		if [ -n "${_srv_listen[*]:-}" ]; then
			for a in "${_srv_listen[@]}"; do addrs+=("$(_srv_hostport "$a" "${!v}")"); done
			http=$(_srv_hostport "${_srv_listen[0]}" "$HTTP_PORT")
			continue
		fi
		addrs+=("127.0.0.1:${!v}")
		[ "$SRV_IPV6" = 1 ] && addrs+=("[::1]:${!v}")
	done
	if ! out=$(_srv_py wait-tcp "$d/nginx.pid" 10 "$http" "${addrs[@]}"); then
		echo "nginx_start: $out" >&2
		tail -n 30 "$d/error.log" >&2 2>/dev/null
		nginx_stop "$d"
		return 1
	fi
}

nginx_stop() {
	local d
	d=$(_srv_abs "$1" 2>/dev/null) || return 0
	_srv_kill "$d/nginx.pid"
}

# ---- DNS ---------------------------------------------------------------------

dns_start() {
	local d dnsmasq attempt rc out sf_port a4=${2:-} a6=${3:-} at
	[ $# -ge 1 ] || { echo "usage: dns_start DIR [ADDR4 [ADDR6 [OPTION...]]]" >&2; return 2; }
	# ADDR4 [ADDR6] (the bench): listen there instead of 127.0.0.1, and
	# answer demo/a/b.probe.test with ADDR4, dual.probe.test with ADDR4 and
	# ADDR6; OPTION...: more dnsmasq options (records of a test's zone).
	local listen=127.0.0.1 dual=127.0.0.1,::1 extra=("${@:4}")
	if [ -n "$a4" ]; then
		listen=$a4 dual=$a4
		[ -n "$a6" ] && listen=$a4,$a6 dual=$a4,$a6
	fi
	at=${a4:-127.0.0.1}
	dnsmasq=$(_srv_bin dnsmasq) || return 1
	mkdir -p "$1" && d=$(_srv_abs "$1") || return 1
	if _srv_pid "$d/dns.pid" >/dev/null; then
		echo "dns_start: dnsmasq already runs in $d" >&2
		return 1
	fi
	# The SERVFAIL responder (dnsmasq forwards servfail.probe.test to it).
	sf_port=$(free_port) || return 1
	printf '%s' "$_SRV_PYCODE" >"$d/srvtool.py"
	(
		# a simple command, so that $! is the responder itself
		set --
		[ -z "${SRV_NETNS:-}" ] || set -- ip netns exec "$SRV_NETNS"
		"$@" "$_SRV_PY" "$d/srvtool.py" servfail "$sf_port" </dev/null \
			>>"$d/servfail.log" 2>&1 &
		echo $! >"$d/servfail.pid"
	)
	_SRV_DNS_DIRS+=("$d")
	_srv_watch "$d/servfail.pid"
	for attempt in 1 2 3 4 5; do
		_srv_ports DNS_PORT || return 1
		rm -f "$d/dns.pid"
		# daemon mode (no --no-daemon): it is not a job of this shell,
		# so a script's bare `wait` never waits for it.
		_srv_in "$dnsmasq" --conf-file=/dev/null --no-resolv --no-hosts \
			--bind-interfaces --listen-address="$listen" --port="$DNS_PORT" \
			--log-queries --log-facility="$d/dns.log" --pid-file="$d/dns.pid" \
			--cache-size=0 --local-ttl=300 --local=/probe.test/ \
			--host-record=demo.probe.test,"$at" \
			--host-record=a.probe.test,"$at" \
			--host-record=b.probe.test,"$at" \
			--host-record=dual.probe.test,"$dual" \
			--txt-record=demo.probe.test,"v=probe1 demo" \
			--mx-host=demo.probe.test,mail.probe.test,10 \
			--server=/servfail.probe.test/127.0.0.1#"$sf_port" \
			"${extra[@]}" >"$d/dns.out" 2>&1
		rc=$?
		[ $rc -eq 0 ] && break
		if [ "${SERVERS_FIXED_PORTS:-0}" != 1 ] && [ $attempt -lt 5 ] &&
			grep -q 'in use' "$d/dns.out"; then
			continue
		fi
		echo "dns_start: dnsmasq failed (exit $rc):" >&2
		cat "$d/dns.out" >&2
		dns_stop "$d"
		return 1
	done
	_srv_watch "$d/dns.pid"
	if ! out=$(_srv_py wait-dns "$d/dns.pid" 10 "$DNS_PORT" "$at"); then
		echo "dns_start: $out" >&2
		tail -n 30 "$d/dns.log" >&2 2>/dev/null
		cat "$d/servfail.log" >&2 2>/dev/null
		dns_stop "$d"
		return 1
	fi
	# dns_log shows what came after the readiness queries
	wc -c <"$d/dns.log" >"$d/dns.log.mark"
}

dns_stop() {
	local d
	d=$(_srv_abs "$1" 2>/dev/null) || return 0
	_srv_kill "$d/dns.pid"
	_srv_kill "$d/servfail.pid"
}

dns_log() {
	local d=$1 mark=0
	[ "${2:-}" = --all ] || mark=$(cat "$d/dns.log.mark" 2>/dev/null || echo 0)
	tail -c +"$((mark + 1))" "$d/dns.log" 2>/dev/null
}

dns_log_wait() {
	local i
	for ((i = 0; i < 300; i++)); do
		dns_log "$1" | grep -Eq -- "$2" && return 0
		sleep 0.01
	done
	return 1
}

dns_query() { _srv_py query "$1" "$2" "${3:-$DNS_PORT}" "${4:-127.0.0.1}"; }

servers_start() {
	certs_make "$1/certs" && dns_start "$1" && nginx_start "$1" "$1/certs"
}

servers_cleanup() {
	local d
	for d in "${_SRV_NGINX_DIRS[@]}"; do nginx_stop "$d"; done
	for d in "${_SRV_DNS_DIRS[@]}"; do dns_stop "$d"; done
	_SRV_NGINX_DIRS=()
	_SRV_DNS_DIRS=()
	return 0
}

# ---- running probe against them -----------------------------------------------

probe_run() {
	run_probe run --json --db "$T/p.db" --spool "$T/spool" --region it \
		--config /dev/null "$@"
	cp "$T/out" "$T/run.json"
}


_SRV_JGET='
import json, sys
text = open(sys.argv[1]).read()
dec, runs, i = json.JSONDecoder(), [], 0
while True:
    while i < len(text) and text[i].isspace():
        i += 1
    if i >= len(text):
        break
    o, i = dec.raw_decode(text, i)
    runs.append(o)
r = runs[0] if runs else {}
S = r.get("steps", [])
def st(name):
    for s in S:
        if s.get("name") == name:
            return s
    raise KeyError("no step named %r" % name)
def conns(s):
    return s.get("connections") or []
def exchanges(s):
    return [e for c in conns(s) for e in (c.get("exchanges") or [])]
v = eval(sys.argv[2])
print(v if isinstance(v, str) else json.dumps(v))
'
jget() { "$_SRV_PY" -c "$_SRV_JGET" "$T/run.json" "$1" 2>&1; }

stepq() {
	sql "$T/p.db" "SELECT $2 FROM steps WHERE name = '$1' ORDER BY id DESC LIMIT 1"
}

# sid NAME: SQL for the id of the latest step named NAME
sid() { echo "(SELECT id FROM steps WHERE name = '$1' ORDER BY id DESC LIMIT 1)"; }

# expect_json EXPR WANT WHAT / expect_sql QUERY WANT WHAT (on $T/p.db)
expect_json() { expect_eq "$(jget "$1")" "$2" "$3"; }
expect_sql() { expect_eq "$(sql "$T/p.db" "$1" 2>&1)" "$2" "$3"; }

# ---- traps ----------------------------------------------------------------------

# _srv_trap_cmd SIG: the command of the current trap for SIG.
_srv_trap_cmd() {
	local t
	t=$(trap -p "$1")
	[ -n "$t" ] || return 0
	eval "set -- $t"
	printf '%s' "$3"
}
_SRV_PREV_EXIT=$(_srv_trap_cmd EXIT)
case $_SRV_PREV_EXIT in
*servers_cleanup*) ;;
*) trap 'servers_cleanup; eval "$_SRV_PREV_EXIT"' EXIT ;;
esac
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
