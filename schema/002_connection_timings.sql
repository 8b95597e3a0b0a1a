-- 002_connection_timings.sql: the library's timings per connection.
--
-- A step can open more than one connection (`tcp HOST:PORT ip=both`
-- probes IPv4 and IPv6 separately; an http step that follows redirects
-- may open one per host), so the step's connect_ms and tls_ms (those of
-- its first connection) do not say what each one took.

-- From connect(2) to the connection being established, as the client
-- library measured it (ms).  NULL on a reused connection.
ALTER TABLE connections ADD COLUMN connect_ms REAL
	CHECK (connect_ms >= 0);
-- The TLS handshake on this connection, start to finished (ms).  NULL
-- without TLS or on a reused connection.
ALTER TABLE connections ADD COLUMN tls_ms REAL CHECK (tls_ms >= 0);
