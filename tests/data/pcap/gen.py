#!/usr/bin/env python3
"""gen.py: write the hand-made TCP captures tcp_*.pcap (python3 stdlib only).

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

    def tcp(self, us, c2s, seq, ack, flags, win, data=b"", opts=b""):
        src, dst = (CLI, SRV) if c2s else (SRV, CLI)
        sport, dport = (40000, 80) if c2s else (80, 40000)
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
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(seg), self.ipid,
                         0x4000, 64, 6, 0, src, dst)
        self.ipid += 1
        ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
        eth = (MAC_S + MAC_C if c2s else MAC_C + MAC_S) + b"\x08\x00"
        self.frames.append((us, eth + ip + seg))

    def write(self, path):
        with open(path, "wb") as f:
            f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
            for us, b in self.frames:
                f.write(struct.pack("<IIII", T0 + us // 1000000, us % 1000000,
                                    len(b), len(b)))
                f.write(b)


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


if __name__ == "__main__":
    main()
