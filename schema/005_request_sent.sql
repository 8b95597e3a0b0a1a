-- 005_request_sent.sql: what an exchange's waterfall needs of its own.
--
-- A step's waterfall (`probe report`) lays an exchange's figures end to
-- end: dns_ms, connect_ms, tls_ms (the library's), then request_sent_ms,
-- then rtt_ms, think_ms and transfer_ms (the wire's).
--
-- rtt_ms here is the RTT think_ms was taken against: the handshake's on a
-- connection's first exchange, on a reused connection the smallest RTT of
-- a bare, immediate ACK of our data (DESIGN section 5), which the
-- connection's own rtt_ms (its handshake) does not show.  rtt_ms +
-- think_ms = ttfb_wire_ms.  NULL when unknown.
ALTER TABLE exchanges ADD COLUMN rtt_ms REAL CHECK (rtt_ms >= 0);

-- request_sent_ms joins the library's clock and the wire's:
-- from the moment the library had the connection ready for the request
-- (TLS done, or the connection reused; curl's prerequest callback) to the
-- transmission of the request's last byte that ttfb_wire_ms starts from.
-- The capture's timestamps are CLOCK_REALTIME and the library's are
-- monotonic; the run maps one onto the other with the two clocks read
-- side by side when the run starts and when it ends (DESIGN section 5).
-- NULL without a capture, when no request byte was seen, or when the
-- figure came out below -0.5 ms (the mapping is off: CLOCK_STEP says so).

-- ms, signed (a few µs below 0 is jitter of the mapping).
ALTER TABLE exchanges ADD COLUMN request_sent_ms REAL;
