#!/usr/bin/env python3
"""gen.py: write the hand-made captures (python3 stdlib only): tcp_*.pcap
(one tcp.analysis flag each), find_<CODE>.pcap (one DESIGN section 6
finding each, see FIND_CASES; 0660-analyze-findings.sh checks them against
find_<CODE>.expect) and vxlan_http.pcap (find_SLOW_SERVER inside VXLAN).

Classic pcap (microsecond timestamps), Ethernet / IPv4 / TCP with correct
IP and TCP checksums, so tshark has nothing to complain about.  Every
capture is deterministic: fixed addresses, ports, ISNs, times and payload
bytes, so `gen.py DIR` writes the same bytes every run (the integration
test 0630 regenerates them into a scratch directory and compares).

Each capture shows one tcp.analysis flag (see the comment of each case);
0630-tcp-analysis-vs-tshark.sh compares build/tools/pbdecode --tcp with
tshark on all of them.  Usage: gen.py [DIR] (default: this directory).
"""
import os
import struct
import sys

CLI = bytes([10, 0, 0, 1])
SRV = bytes([10, 0, 0, 2])
MAC_C = bytes.fromhex("020000000001")
MAC_S = bytes.fromhex("020000000002")
SYN, FIN, RST, PSH, ACK = 0x02, 0x01, 0x04, 0x08, 0x10
T0 = 1700000000  # capture start, seconds


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def payload(n, salt):
    return bytes((i * 7 + salt) & 0xFF for i in range(n))


class Cap:
    """Frames of one capture, appended in capture order."""

    def __init__(self):
        self.frames = []
        self.ipid = 1

    def tcp(self, us, c2s, seq, ack, flags, win, data=b"", opts=b"",
            cli=CLI, srv=SRV, cport=40000, sport=80):
        src, dst = (cli, srv) if c2s else (srv, cli)
        sport, dport = (cport, sport) if c2s else (sport, cport)
        while len(opts) % 4:
            opts += b"\x01"  # NOP padding
        off = (20 + len(opts)) // 4
        seq &= 0xFFFFFFFF
        ack &= 0xFFFFFFFF
        hdr = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, off << 4,
                          flags, win, 0, 0) + opts
        seg = hdr + data
        pseudo = src + dst + struct.pack("!BBH", 0, 6, len(seg))
        c = csum(pseudo + seg)
        seg = seg[:16] + struct.pack("!H", c) + seg[18:]
        return self.ip(us, c2s, src, dst, 6, seg)

    def ip(self, us, c2s, src, dst, proto, l4, ttl=64):
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), self.ipid,
                         0x4000, ttl, proto, 0, src, dst)
        self.ipid += 1
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        eth = (MAC_S + MAC_C if c2s else MAC_C + MAC_S) + b"\x08\x00"
        self.frames.append((us, eth + ip + l4))
        return ip + l4

    def udp(self, us, c2s, src, dst, sport, dport, data):
        seg = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
        pseudo = src + dst + struct.pack("!BBH", 0, 17, len(seg))
        c = csum(pseudo + seg) or 0xFFFF
        seg = seg[:6] + struct.pack("!H", c) + seg[8:]
        self.ip(us, c2s, src, dst, 17, seg)

    def icmp(self, us, src, dst, typ, code, quoted, mtu=0):
        """An ICMP error to the client quoting the start of a packet it
        sent (the IP header and 8 bytes beyond: RFC 792)."""
        body = struct.pack("!BBHHH", typ, code, 0, 0, mtu) + quoted[:28]
        body = body[:2] + struct.pack("!H", csum(body)) + body[4:]
        self.ip(us, False, src, dst, 1, body, ttl=255)

    def write(self, path, snap=65535, vxlan=None):
        with open(path, "wb") as f:
            f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snap, 1))
            for i, (us, b) in enumerate(self.frames):
                if vxlan:
                    b = vxlan_wrap(b, i)
                n = min(len(b), snap)
                f.write(struct.pack("<IIII", T0 + us // 1000000, us % 1000000,
                                    n, len(b)))
                f.write(b[:n])


def mss_ws(ws):
    o = struct.pack("!BBH", 2, 4, 1460)
    if ws is not None:
        o += b"\x01" + struct.pack("!BBB", 3, 3, ws)
    return o


class Conn:
    """A connection: c (client) and s (server) next sequence numbers."""

    def __init__(self, cap, isn_c=1000, isn_s=5000, ws=None, rtt_us=10000,
                 t=0):
        self.cap, self.t, self.ws = cap, t, ws
        self.c, self.s = isn_c, isn_s
        cap.tcp(t, True, self.c, 0, SYN, 64240, opts=mss_ws(ws))
        cap.tcp(t + rtt_us, False, self.s, self.c + 1, SYN | ACK, 65160,
                opts=mss_ws(ws))
        self.c += 1
        self.s += 1
        cap.tcp(t + rtt_us + 50, True, self.c, self.s, ACK, 502)
        self.t = t + rtt_us + 50

    def at(self, dt):
        self.t += dt
        return self.t

    def cdata(self, dt, n, seq=None, win=502, salt=1):
        s = self.c if seq is None else seq
        self.cap.tcp(self.at(dt), True, s, self.s, PSH | ACK, win,
                     payload(n, salt))
        if seq is None:
            self.c += n

    def sdata(self, dt, n, seq=None, win=509, salt=2):
        s = self.s if seq is None else seq
        self.cap.tcp(self.at(dt), False, s, self.c, ACK, win, payload(n, salt))
        if seq is None:
            self.s += n
        return s

    def cack(self, dt, ack=None, win=502):
        self.cap.tcp(self.at(dt), True, self.c, self.s if ack is None else ack,
                     ACK, win)

    def sack(self, dt, ack=None, win=509):
        self.cap.tcp(self.at(dt), False, self.s,
                     self.c if ack is None else ack, ACK, win)

    def close(self, dt=1000):
        self.cap.tcp(self.at(dt), True, self.c, self.s, FIN | ACK, 502)
        self.c += 1
        self.cap.tcp(self.at(dt), False, self.s, self.c, FIN | ACK, 509)
        self.s += 1
        self.cack(dt)


def retrans():
    """RTO: a server segment sent again 300 ms later, unacknowledged."""
    cap = Cap()
    k = Conn(cap)
    k.cdata(100, 120)
    k.sack(10000)
    s = k.sdata(200, 1448)
    k.sdata(100, 1448)
    k.sdata(300000, 1448, seq=s)  # retransmission of the first
    k.cack(10000, ack=k.s)
    k.close()
    return cap


def fast_retrans():
    """3 dup ACKs from the client, then the server resends within 20 ms."""
    cap = Cap()
    k = Conn(cap)
    k.cdata(100, 100)
    k.sack(10000)
    k.sdata(100, 1000)
    lost = k.sdata(50, 1000)  # the client never gets it
    k.cack(5000, ack=lost)
    for _ in range(4):
        k.sdata(50, 1000)
        k.cack(5000, ack=lost)  # dup ACKs 1..4
    k.sdata(1000, 1000, seq=lost)  # fast retransmission
    k.cack(5000)
    k.close()
    return cap


def dup_ack():
    """Dup ACK numbering: 1, 2, 3; the ack moves; 1, 2 again."""
    cap = Cap()
    k = Conn(cap)
    k.cdata(100, 50)
    k.sack(10000)
    k.sdata(100, 500)
    k.cack(1000)
    for _ in range(3):
        k.cack(1000)
    k.sdata(100, 500)
    k.cack(1000)
    k.cack(1000)
    k.cack(1000)
    k.close()
    return cap


def zero_window():
    """The client's window closes: zero window, probe, probe ACK, update;
    with window scaling known, a segment filling the window (window full)."""
    cap = Cap()
    k = Conn(cap, ws=0)
    k.cdata(100, 80)
    k.sack(10000)
    k.sdata(100, 1000)
    k.cack(1000, win=1000)  # 1000 bytes open after this ack
    k.sdata(100, 1000)  # fills it: window full
    k.cack(1000, win=0)  # zero window
    k.sdata(200000, 1)  # zero window probe
    k.cack(1000, win=0)  # zero window probe ACK (the probe is not acked)
    k.cack(50000, ack=k.s, win=8000)  # window update... and it acks the probe
    k.cack(1000, win=16000)  # window update
    k.sdata(100, 1000, seq=k.s - 1)  # new data starting at the probe's byte
    k.cack(1000)
    k.close()
    return cap


def keepalive():
    """Keep-alives both ways (seq = next - 1, 0 and 1 byte) and their ACKs."""
    cap = Cap()
    k = Conn(cap)
    k.cdata(100, 60)
    k.sack(10000)
    k.sdata(100, 300)
    k.cack(1000)
    cap.tcp(k.at(45000000), True, k.c - 1, k.s, ACK, 502)  # keep-alive
    k.sack(10000)  # keep-alive ACK
    cap.tcp(k.at(45000000), True, k.c - 1, k.s, ACK, 502, b"\0")  # 1 byte
    k.sack(10000)
    cap.tcp(k.at(45000000), False, k.s - 1, k.c, ACK, 509)  # from the server
    k.cack(10000)
    k.close()
    return cap


def ooo():
    """Out of order: segment 3 before 2, 2 arriving within the first RTT."""
    cap = Cap()
    k = Conn(cap, rtt_us=20000)
    k.cdata(100, 90)
    k.sack(20000)
    a = k.sdata(100, 1000)
    b = k.s
    k.s += 1000
    k.sdata(100, 1000)  # segment 3: previous segment not captured
    k.cack(100, ack=b)  # a dup-ish ack for b (ack moved: not a dup)
    k.sdata(500, 1000, seq=b)  # segment 2, 0.6 ms later: out of order
    k.cack(100)
    k.sdata(100, 1000)
    k.sdata(100, 1000)
    k.sdata(100, 1000, seq=a)  # an old segment again, 0.1 ms after: ooo too
    k.cack(100)
    k.close()
    return cap


def lost_segment():
    """A server segment missing from the capture: 'previous segment not
    captured' on the next, 'ACKed unseen segment' on the client's ACK; and
    one that was lost before the capture point and came later (lost_in)."""
    cap = Cap()
    k = Conn(cap)
    k.cdata(100, 70)
    k.sack(10000)
    k.sdata(100, 1000)
    k.s += 1000  # not captured, but the client gets it
    k.sdata(100, 1000)
    k.cack(1000)  # acks the unseen bytes
    k.sdata(100, 1000)
    hole = k.s
    k.s += 1000  # lost before the capture point
    k.sdata(100, 1000)
    k.cack(1000, ack=hole)
    k.sdata(100, 1000)
    k.cack(1000, ack=hole)
    k.sdata(250000, 1000, seq=hole)  # the fill, after an RTO
    k.cack(1000)
    k.close()
    return cap


def spurious():
    """The server resends data the client had acknowledged already."""
    cap = Cap()
    k = Conn(cap)
    k.cdata(100, 110)
    k.sack(10000)
    s1 = k.sdata(100, 1200)
    k.sdata(100, 1200)
    k.cack(10000)
    k.sdata(300000, 1200, seq=s1)  # both acked: spurious
    k.cack(1000)
    k.close()
    return cap


def wrap():
    """Sequence numbers wrap at 2^32 in both directions mid-transfer, with a
    retransmission and an out-of-order segment across the wrap."""
    cap = Cap()
    k = Conn(cap, isn_c=0xFFFFFF00, isn_s=0xFFFFF000)
    k.cdata(100, 200)  # client data crosses 0
    k.sack(10000)
    segs = [k.sdata(100, 1000) for _ in range(5)]  # server crosses 0
    k.cack(1000, ack=segs[3])
    k.sdata(300000, 1000, seq=segs[3])  # retransmission across the wrap
    k.cack(1000)
    k.s += 1000
    k.sdata(100, 1000)  # hole
    k.sdata(200, 1000, seq=(k.s - 2000) & 0xFFFFFFFF)  # fill: ooo
    k.cack(1000)
    k.close()
    return cap


def bad_option():
    """A SYN whose options are malformed (an option of length 0) and a
    data segment with one running past the header: the fixed header is
    fine, so the segments are analyzed all the same (the SYN/ACK acks the
    SYN; the bad segment is a retransmission)."""
    cap = Cap()
    cap.tcp(0, True, 1000, 0, SYN, 64240, opts=b"\x02\x04\x05\xb4\x03\x00")
    cap.tcp(10000, False, 5000, 1001, SYN | ACK, 65160, opts=mss_ws(None))
    cap.tcp(10050, True, 1001, 5001, ACK, 502)
    cap.tcp(10100, True, 1001, 5001, PSH | ACK, 502, payload(100, 3))
    cap.tcp(20000, False, 5001, 1101, ACK, 509)
    cap.tcp(20100, False, 5001, 1101, PSH | ACK, 509, payload(500, 4))
    cap.tcp(320100, False, 5001, 1101, PSH | ACK, 509, payload(500, 4),
            opts=b"\x08\x0c\x00\x00")
    cap.tcp(330000, True, 1101, 5501, ACK, 502)
    return cap


# ---- the findings captures (find_<CODE>.pcap) ------------------------------
# Client 10.0.0.1, server 10.0.0.2 (HTTP 80, TLS 443), resolver 10.0.0.53,
# router 10.0.0.254; captured on the client, as probe captures.  Linux-like
# TCP: SYN options MSS, SACK_PERM, timestamps, window scale 7; every later
# segment carries timestamps (client clock 1 ms, server clock 1 ms, echoing
# the newest value the other side could have seen).

RESOLVER = bytes([10, 0, 0, 53])
ROUTER = bytes([10, 0, 0, 254])
HOST = b"10.0.0.2"


def ts_opt(val, ecr):
    return b"\x01\x01\x08\x0a" + struct.pack("!II", val, ecr)


def sack_opt(blocks):
    o = b"\x01\x01\x05" + bytes([2 + 8 * len(blocks)])
    for left, right in blocks:
        o += struct.pack("!II", left & 0xFFFFFFFF, right & 0xFFFFFFFF)
    return o


class Conv:
    """A Linux-like TCP conversation seen from the client: c and s are the
    next sequence numbers; lost=True marks a segment the peer never got
    (captured here, dropped on the path)."""

    def __init__(self, cap, rtt_us=10000, t=0, cport=40000, sport=80,
                 isn_c=0x1A2B3C4D, isn_s=0x5E6F7081, handshake=True):
        self.cap, self.t, self.rtt = cap, t, rtt_us
        self.cport, self.sport = cport, sport
        self.c, self.s = isn_c, isn_s
        self.c_sent = []   # (capture time, tsval, lost) of client segments
        self.s_tsval = 0   # newest server tsval the client saw
        if handshake:
            self.syn(0)
            self.synack(rtt_us)
            self.c += 1
            self.s += 1
            self.cl(50)

    def at(self, dt):
        self.t += dt
        return self.t

    def ctsval(self, t):
        return 1000000 + t // 1000

    def stsval(self, t):
        return 7000000 + t // 1000

    def secr(self, t):
        """TSecr of a server segment captured at t: the newest client
        tsval the server had received (sent before t - rtt/2, not lost)."""
        got = [v for (ct, v, lost) in self.c_sent
               if ct <= t - self.rtt // 2 and not lost]
        return got[-1] if got else 0

    def _c(self, t, seq, ack, flags, win, data, opts, lost):
        v = self.ctsval(t)
        self.c_sent.append((t, v, lost))
        return self.cap.tcp(t, True, seq, ack, flags, win, data, opts,
                            cport=self.cport, sport=self.sport)

    def syn(self, dt):
        t = self.at(dt)
        o = (struct.pack("!BBH", 2, 4, 1460) + b"\x04\x02\x08\x0a" +
             struct.pack("!II", self.ctsval(t), 0) + b"\x01\x03\x03\x07")
        return self._c(t, self.c, 0, SYN, 64240, b"", o, False)

    def synack(self, dt):
        t = self.at(dt)
        v = self.stsval(t)
        self.s_tsval = v
        o = (struct.pack("!BBH", 2, 4, 1460) + b"\x04\x02\x08\x0a" +
             struct.pack("!II", v, self.secr(t)) + b"\x01\x03\x03\x07")
        self.cap.tcp(t, False, self.s, self.c + 1, SYN | ACK, 65160, b"", o,
                     cport=self.cport, sport=self.sport)

    def cl(self, dt, data=b"", flags=None, seq=None, ack=None, win=502,
           lost=False):
        """A client segment; new data (seq None) advances c."""
        t = self.at(dt)
        if flags is None:
            flags = PSH | ACK if data else ACK
        sq = self.c if seq is None else seq
        pkt = self._c(t, sq, self.s if ack is None else ack, flags, win,
                      data, ts_opt(self.ctsval(t), self.s_tsval), lost)
        if seq is None:
            self.c += len(data) + (1 if flags & (FIN | SYN) else 0)
        return pkt

    def sv(self, dt, data=b"", flags=None, seq=None, ack=None, win=509,
           sack=None):
        """A server segment; new data (seq None) advances s."""
        t = self.at(dt)
        if flags is None:
            flags = PSH | ACK if data else ACK
        sq = self.s if seq is None else seq
        v = self.stsval(t)
        self.s_tsval = v
        o = ts_opt(v, self.secr(t)) + (sack_opt(sack) if sack else b"")
        self.cap.tcp(t, False, sq, self.c if ack is None else ack, flags,
                     win, data, o, cport=self.cport, sport=self.sport)
        if seq is None:
            self.s += len(data) + (1 if flags & (FIN | SYN) else 0)
        return sq

    def sv_stream(self, dt, data, gap=50, mss=1448):
        """Server data in MSS-sized segments, the first dt after now."""
        for i in range(0, len(data), mss):
            self.sv(dt if i == 0 else gap, data[i:i + mss])

    def close_c(self, dt=1000):
        """The client closes first; the server answers with its FIN."""
        self.cl(dt, flags=FIN | ACK)
        self.sv(self.rtt, flags=FIN | ACK)
        self.cl(50)


def http_req(path="/", method="GET", body=b"", extra=b""):
    h = (b"%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: curl/7.88.1\r\n"
         b"Accept: */*\r\n" % (method.encode(), path.encode(), HOST))
    if body:
        h += b"Content-Length: %d\r\n" % len(body)
    return h + extra + b"\r\n" + body


def http_resp(status=200, reason="OK", body_len=512, cl=None, extra=b""):
    body = bytes(b"abcdefghijklmnopqrstuvwxyz0123456789\n"[i % 37]
                 for i in range(body_len))
    h = b"HTTP/1.1 %d %s\r\nServer: nginx\r\nContent-Type: text/plain\r\n" % (
        status, reason.encode())
    if cl is not False:
        h += b"Content-Length: %d\r\n" % (body_len if cl is None else cl)
    return h + extra + b"\r\n" + body


def client_hello():
    """A TLS 1.3 ClientHello (curl/OpenSSL 3 style) in one record."""
    ext = b""
    sni = b"www.example.test"
    ext += struct.pack("!HHHBH", 0, len(sni) + 5, len(sni) + 3, 0,
                       len(sni)) + sni
    ext += struct.pack("!HHB", 0x0B, 2, 1) + b"\x00"          # ec formats
    ext += struct.pack("!HHHHHH", 0x0A, 6, 4, 0x1D, 0x17, 0)[:-2]
    ext += struct.pack("!HHH", 0x23, 0, 0)[:-2]               # tickets
    alpn = b"\x08http/1.1"
    ext += struct.pack("!HHH", 0x10, len(alpn) + 2, len(alpn)) + alpn
    ext += struct.pack("!HH", 0x16, 0) + struct.pack("!HH", 0x17, 0)
    sig = struct.pack("!6H", 0x0403, 0x0503, 0x0804, 0x0805, 0x0401, 0x0501)
    ext += struct.pack("!HHH", 0x0D, len(sig) + 2, len(sig)) + sig
    ext += struct.pack("!HHB", 0x2B, 5, 4) + struct.pack("!HH", 0x0304,
                                                         0x0303)
    ext += struct.pack("!HHB", 0x2D, 2, 1) + b"\x01"
    ks = struct.pack("!HH", 0x1D, 32) + payload(32, 9)
    ext += struct.pack("!HHH", 0x33, len(ks) + 2, len(ks)) + ks
    suites = struct.pack("!7H", 0x1302, 0x1303, 0x1301, 0xC02C, 0xC030,
                         0xC02B, 0xC02F)
    body = (b"\x03\x03" + payload(32, 5) + b"\x20" + payload(32, 6) +
            struct.pack("!H", len(suites)) + suites + b"\x01\x00" +
            struct.pack("!H", len(ext)) + ext)
    hs = b"\x01" + struct.pack("!I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


def dns_msg(qid, flags, name=b"www.example.test", an=b"", ns=b"", nan=0,
            nns=0):
    q = b"".join(bytes([len(x)]) + x for x in name.split(b".")) + b"\0"
    return (struct.pack("!HHHHHH", qid, flags, 1, nan, nns, 0) + q +
            struct.pack("!HH", 1, 1) + an + ns)


A_RR = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 300, 4) + SRV
SOA_RR = (b"\xc0\x10" + struct.pack("!HHI", 6, 1, 900) +
          struct.pack("!H", 2 + 2 + 4 * 5) + b"\xc0\x10" + b"\xc0\x10" +
          struct.pack("!5I", 2026010101, 7200, 900, 1209600, 300))


def dns_udp(cap, us, query, data, cport=45123):
    if query:
        cap.udp(us, True, CLI, RESOLVER, cport, 53, data)
    else:
        cap.udp(us, False, RESOLVER, CLI, 53, cport, data)


def f_syn_no_synack():
    """SYN_NO_SYNACK: a SYN and its two retries (1 s, then 2 s backoff),
    never answered (a firewall dropping them)."""
    cap = Cap()
    k = Conv(cap, handshake=False)
    k.syn(0)
    k.syn(1000000)
    k.syn(2000000)
    return cap


def f_tcp_refused():
    """TCP_REFUSED: the server's RST/ACK answers the SYN (closed port)."""
    cap = Cap()
    k = Conv(cap, handshake=False)
    k.syn(0)
    cap.tcp(k.at(10000), False, 0, k.c + 1, RST | ACK, 0, cport=k.cport,
            sport=k.sport)
    return cap


def f_rst_after_handshake():
    """RST_AFTER_HANDSHAKE: a connect-only check; the server (a balancer
    with no backend) resets the connection before anyone sent data."""
    cap = Cap()
    k = Conv(cap)
    k.sv(10000, flags=RST | ACK, win=0)
    return cap


def f_rst_midstream():
    """RST_MIDSTREAM: a chunked response cut by the server's reset."""
    cap = Cap()
    k = Conv(cap)
    k.cl(100, http_req("/stream"))
    r = http_resp(body_len=4000, cl=False,
                  extra=b"Transfer-Encoding: chunked\r\n")
    k.sv_stream(10000, r[:2 * 1448])
    k.cl(100)
    k.sv(20000, flags=RST | ACK, win=0)
    return cap


def f_retransmissions():
    """RETRANSMISSIONS: an upload whose second segment is lost after the
    capture point; three dup ACKs (with SACK) and a fast retransmission.
    """
    cap = Cap()
    k = Conv(cap)
    body = payload(6000, 11)
    req = http_req("/upload", "POST", body)
    segs = [req[i:i + 1448] for i in range(0, len(req), 1448)]
    start = k.c
    seq2 = start + 1448
    for i, sg in enumerate(segs):
        k.cl(100 if i == 0 else 20, sg, lost=(i == 1))
    end = k.c
    t0 = k.t
    k.t = t0 - 80 + 10000  # the server's ACK of the first segment
    k.sv(0, ack=seq2)
    for i in range(2, len(segs)):
        k.sv(20, ack=seq2, sack=[(seq2 + 1448, start + 1448 * (i + 1)
                                  if i + 1 < len(segs) else end)])
    k.cl(100, segs[1], seq=seq2)  # fast retransmission
    k.sv(10000)                   # all acked
    k.sv(200, http_resp(201, "Created", 0))
    k.cl(100)
    k.close_c()
    return cap


def f_rto_spike():
    """RTO_SPIKE: the request is lost after the capture point and sent
    again by the retransmission timer 214 ms later (Linux: RTO >= 200 ms);
    the server answers the copy it got (its TSecr says which)."""
    cap = Cap()
    k = Conv(cap)
    req = http_req("/")
    k.cl(100, req, lost=True)
    k.cl(214000, req, seq=k.c - len(req))
    k.sv(10300, http_resp())
    k.cl(100)
    k.close_c()
    return cap


def f_zero_window():
    """ZERO_WINDOW: a download the client application stops reading: its
    receive window closes, then opens again 150 ms later."""
    cap = Cap()
    k = Conv(cap)
    k.cl(100, http_req("/big"))
    r = http_resp(body_len=8000)
    segs = [r[i:i + 1448] for i in range(0, len(r), 1448)]
    k.sv(10000, segs[0])
    k.sv(50, segs[1])
    k.cl(100, win=12)      # 12 << 7 = 1536 bytes left
    k.sv(10000, segs[2])
    k.sv(50, segs[3][:88])
    k.cl(100, win=0)       # full: zero window
    k.cl(150000, win=300)  # the application read: window update
    for sg in segs[3:]:
        k.sv(10000 if sg is segs[3] else 50, sg[88:] if sg is segs[3] else sg)
    k.cl(100)
    k.close_c()
    return cap


def f_icmp_unreachable():
    """ICMP_UNREACHABLE: a router has no route to the server (net
    unreachable, 3/0) and says so in answer to the SYN."""
    cap = Cap()
    k = Conv(cap, handshake=False)
    syn = k.syn(0)
    cap.icmp(k.at(2000), ROUTER, CLI, 3, 0, syn)
    return cap


def f_icmp_frag_needed():
    """ICMP_FRAG_NEEDED: an upload's full-sized segment meets a 1400-byte
    link; the router's 3/4 (next-hop MTU 1400) makes the client send it
    again in smaller segments."""
    cap = Cap()
    k = Conv(cap)
    req = http_req("/upload", "POST", payload(1800, 12))
    start = k.c
    big = k.cl(100, req[:1448], lost=True)
    k.cl(20, req[1448:], lost=True)
    cap.icmp(k.at(3000), ROUTER, CLI, 3, 4, big, mtu=1400)
    k.cl(50, req[:1348], seq=start)
    k.cl(20, req[1348:1448], seq=start + 1348)
    k.cl(20, req[1448:], seq=start + 1448)
    k.sv(10000)
    k.sv(200, http_resp(201, "Created", 0))
    k.cl(100)
    k.close_c()
    return cap


def f_mtu_blackhole():
    """MTU_BLACKHOLE: the request's small head is acknowledged, its full
    sized body segments never are (a path dropping them with no ICMP);
    the client's timer resends the first one again and again."""
    cap = Cap()
    k = Conv(cap)
    body = payload(2896, 13)
    head = http_req("/upload", "POST", body)[:-len(body)]
    k.cl(100, head)
    k.sv(10000)
    b0 = k.c
    k.cl(100, body[:1448], lost=True)
    k.cl(20, body[1448:], lost=True)
    rto = 210000
    for _ in range(3):
        k.cl(rto, body[:1448], seq=b0, lost=True)
        rto *= 2
    return cap


def f_tls_alert():
    """TLS_ALERT: the server refuses the ClientHello with a plaintext
    alert (fatal, handshake_failure 40) and closes."""
    cap = Cap()
    k = Conv(cap, sport=443)
    k.cl(100, client_hello())
    k.sv(10000, b"\x15\x03\x03\x00\x02\x02\x28")
    k.sv(20, flags=FIN | ACK)
    k.cl(100, flags=FIN | ACK)
    k.sv(10000)
    return cap


def f_tls_handshake_timeout():
    """TLS_HANDSHAKE_TIMEOUT: the ClientHello is acknowledged, no
    ServerHello follows; the client gives up after 10 s and closes."""
    cap = Cap()
    k = Conv(cap, sport=443)
    k.cl(100, client_hello())
    k.sv(10000)
    k.close_c(10000000)
    return cap


def f_dns_no_response():
    """DNS_NO_RESPONSE: a query and its retry (same id, 5 s later), no
    answer."""
    cap = Cap()
    q = dns_msg(0x1F2E, 0x0100)
    dns_udp(cap, 0, True, q)
    dns_udp(cap, 5000000, True, q)
    return cap


def dns_answered(flags, an=b"", ns=b"", nan=0, nns=0):
    cap = Cap()
    dns_udp(cap, 0, True, dns_msg(0x2A3B, 0x0100))
    dns_udp(cap, 12000, False, dns_msg(0x2A3B, flags, an=an, ns=ns, nan=nan,
                                       nns=nns))
    return cap


def f_dns_servfail():
    """DNS_SERVFAIL: the resolver answers rcode 2."""
    return dns_answered(0x8182)


def f_dns_nxdomain():
    """DNS_NXDOMAIN: rcode 3, the zone's SOA in the authority section."""
    return dns_answered(0x8183, ns=SOA_RR, nns=1)


def f_dns_truncated():
    """DNS_TRUNCATED: a UDP answer with TC set, then the same query over
    TCP (length-prefixed), answered in full."""
    cap = dns_answered(0x8380)
    k = Conv(cap, t=13000, cport=41000, sport=53)
    # Conv's handshake starts at t=0 + its own times: shift it
    q = dns_msg(0x2A3C, 0x0100)
    k.cl(100, struct.pack("!H", len(q)) + q, ack=k.s)
    a = dns_msg(0x2A3C, 0x8180, an=A_RR, nan=1)
    k.sv(10000, struct.pack("!H", len(a)) + a)
    k.close_c(200)
    return cap


def http_get(rtt_us=10000, ack_us=None, resp_us=200, resp=None, path="/"):
    """One GET: the server's bare ACK ack_us after it (None: the response
    carries the ACK), the response resp_us after that."""
    cap = Cap()
    k = Conv(cap, rtt_us=rtt_us)
    k.cl(100, http_req(path))
    if ack_us is not None:
        k.sv(ack_us)
    k.sv_stream(resp_us, resp if resp is not None else http_resp())
    k.cl(100)
    k.close_c()
    return cap


def f_slow_server():
    """SLOW_SERVER: the server acknowledges the request at once (one RTT,
    10 ms) and answers 200 ms later."""
    return http_get(ack_us=10000, resp_us=200500, path="/slow")


def f_slow_network():
    """SLOW_NETWORK: a 150 ms RTT; the server answers in 1 ms."""
    return http_get(rtt_us=150000, resp_us=151000)


def f_server_delayed_ack():
    """SERVER_DELAYED_ACK: two GETs on one connection; the first is
    quick-acked, the second's ACK comes 40 ms after one RTT (Linux's
    delayed ACK) and the response 5 ms later."""
    cap = Cap()
    k = Conv(cap)
    k.cl(100, http_req("/a"))
    k.sv(10000)
    k.sv(2000, http_resp())
    k.cl(100)
    k.cl(1000000, http_req("/b"))
    k.sv(50000)
    k.sv(5000, http_resp())
    k.cl(100)
    k.close_c()
    return cap


def f_nagle_stall():
    """NAGLE_STALL: the server sends 103 Early Hints at once, then its
    response waits (Nagle) until the client's delayed ACK of that small
    segment comes 40 ms later; the response arrives one RTT after it."""
    cap = Cap()
    k = Conv(cap)
    k.cl(100, http_req("/"))
    k.sv(10000, b"HTTP/1.1 103 Early Hints\r\n"
         b"Link: </style.css>; rel=preload; as=style\r\n\r\n")
    k.cl(40000)
    k.sv(10000, http_resp())
    k.cl(100)
    k.close_c()
    return cap


def f_http_status():
    """HTTP_STATUS: 404 Not Found, in one segment with the request's ACK."""
    return http_get(resp_us=10500, path="/missing",
                    resp=http_resp(404, "Not Found", 153))


def f_http_body_mismatch():
    """HTTP_BODY_MISMATCH: Content-Length 8000, the server closes after
    3000 body bytes."""
    cap = Cap()
    k = Conv(cap)
    k.cl(100, http_req("/file"))
    r = http_resp(body_len=8000)
    r = r[:len(r) - 5000]
    k.sv_stream(10500, r)
    k.sv(50, flags=FIN | ACK)
    k.cl(100)
    k.cl(1000, flags=FIN | ACK)
    k.sv(10000)
    return cap


def f_capture_truncated():
    """CAPTURE_TRUNCATED: a plain GET written with a 96-byte snap length:
    every frame with payload is cut (headers kept)."""
    return http_get(resp_us=10500, resp=http_resp(body_len=3000))


def vxlan_wrap(inner, i):
    """The frame inside VXLAN (VNI 42) between two VTEPs 192.0.2.1/.2."""
    c2s = inner[6:12] == MAC_C
    a, b = bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2])
    src, dst = (a, b) if c2s else (b, a)
    vx = b"\x08\x00\x00\x00" + struct.pack("!I", 42 << 8) + inner
    udp = struct.pack("!HHHH", 49152 + 1234, 4789, 8 + len(vx), 0) + vx
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0x100 + i,
                     0, 64, 17, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    m1, m2 = bytes.fromhex("02000000aa01"), bytes.fromhex("02000000aa02")
    eth = (m2 + m1 if c2s else m1 + m2) + b"\x08\x00"
    return eth + ip + udp


FIND_CASES = {
    "SYN_NO_SYNACK": f_syn_no_synack,
    "TCP_REFUSED": f_tcp_refused,
    "RST_AFTER_HANDSHAKE": f_rst_after_handshake,
    "RST_MIDSTREAM": f_rst_midstream,
    "RETRANSMISSIONS": f_retransmissions,
    "RTO_SPIKE": f_rto_spike,
    "ZERO_WINDOW": f_zero_window,
    "ICMP_UNREACHABLE": f_icmp_unreachable,
    "ICMP_FRAG_NEEDED": f_icmp_frag_needed,
    "MTU_BLACKHOLE": f_mtu_blackhole,
    "TLS_ALERT": f_tls_alert,
    "TLS_HANDSHAKE_TIMEOUT": f_tls_handshake_timeout,
    "DNS_NO_RESPONSE": f_dns_no_response,
    "DNS_SERVFAIL": f_dns_servfail,
    "DNS_NXDOMAIN": f_dns_nxdomain,
    "DNS_TRUNCATED": f_dns_truncated,
    "SLOW_SERVER": f_slow_server,
    "SLOW_NETWORK": f_slow_network,
    "SERVER_DELAYED_ACK": f_server_delayed_ack,
    "NAGLE_STALL": f_nagle_stall,
    "HTTP_STATUS": f_http_status,
    "HTTP_BODY_MISMATCH": f_http_body_mismatch,
    "CAPTURE_TRUNCATED": f_capture_truncated,
}


CASES = {
    "tcp_bad_option.pcap": bad_option,
    "tcp_retrans.pcap": retrans,
    "tcp_fast_retrans.pcap": fast_retrans,
    "tcp_dup_ack.pcap": dup_ack,
    "tcp_zero_window.pcap": zero_window,
    "tcp_keepalive.pcap": keepalive,
    "tcp_ooo.pcap": ooo,
    "tcp_lost_segment.pcap": lost_segment,
    "tcp_spurious.pcap": spurious,
    "tcp_wrap.pcap": wrap,
}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(
        os.path.abspath(__file__))
    for name, fn in CASES.items():
        fn().write(os.path.join(out, name))
    for code, fn in FIND_CASES.items():
        snap = 96 if code == "CAPTURE_TRUNCATED" else 65535
        fn().write(os.path.join(out, "find_%s.pcap" % code), snap=snap)
    f_slow_server().write(os.path.join(out, "vxlan_http.pcap"), vxlan=True)


if __name__ == "__main__":
    main()
