CREATE TABLE runs (
	-- Local, monotonic sequence: the order runs were stored in this file.
	-- AUTOINCREMENT: a seq is never reused, even after old runs are
	-- deleted, so `probe serve`'s /api/runs?after=SEQ stays correct.
	seq INTEGER PRIMARY KEY AUTOINCREMENT,
	-- Global identity: probe_id || '-' || a random UUID.  The same run
	-- keeps its run_id in a central database filled by `probe collect`.
	run_id TEXT UNIQUE NOT NULL CHECK (length(run_id) > 0),
	-- The scenario's name (`scenario NAME`, else the file's stem).
	scenario TEXT NOT NULL,
	-- The scenario file as given on the command line; NULL if unknown.
	scenario_file TEXT,
	-- The location label (--region, PROBE_REGION, config; 'local').
	region TEXT NOT NULL,
	-- The stable identity of the probe host that ran it.
	probe_id TEXT NOT NULL,
	-- When the run started and finished (UTC).  finished_at is NULL for
	-- a run that was stored before it could finish.
	started_at TEXT NOT NULL CHECK (started_at GLOB
		'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T'
		|| '[0-9][0-9]:[0-9][0-9]:[0-9][0-9]'
		|| '.[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
	finished_at TEXT CHECK (finished_at GLOB
		'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T'
		|| '[0-9][0-9]:[0-9][0-9]:[0-9][0-9]'
		|| '.[0-9][0-9][0-9][0-9][0-9][0-9]Z'
		AND finished_at >= started_at),
	-- 1: every step succeeded.  0: at least one failed.
	ok INTEGER NOT NULL CHECK (ok IN (0, 1)),
	-- 1: a threshold of the scenario was breached by this run.
	breach INTEGER NOT NULL CHECK (breach IN (0, 1)),
	-- Whether the host clock was NTP-synchronised during the run; wire
	-- times are comparable across regions only when 'synced'.
	clock_sync TEXT NOT NULL
		CHECK (clock_sync IN ('synced', 'unsynced', 'unknown')),
	-- Packet capture: 'on' (packets captured), 'off' (the scenario said
	-- so), 'unavailable' (no capture rights: figures from tcp_info).
	capture TEXT NOT NULL CHECK (capture IN ('on', 'off', 'unavailable')),
	-- Packets the kernel or libpcap dropped during the run (pcap_stats);
	-- NULL when nothing was captured.  > 0 makes the evidence incomplete.
	capture_drops INTEGER CHECK (capture_drops >= 0),
	-- Packets kept incompletely (cut by the snapshot length or not kept
	-- because the memory ring was full); NULL when nothing was captured.
	capture_truncated INTEGER CHECK (capture_truncated >= 0),
	-- The probe that stored the run ('0.1.0').
	probe_version TEXT NOT NULL,
	-- Run-level error class when probe itself could not complete the run
	-- (e.g. 'run.timeout'); NULL otherwise.  Step failures are in steps.
	error TEXT
);
CREATE TABLE sqlite_sequence(name,seq);
CREATE INDEX runs_scenario_started ON runs (scenario, started_at);
CREATE INDEX runs_started ON runs (started_at);
CREATE TABLE steps (
	id INTEGER PRIMARY KEY,
	run_seq INTEGER NOT NULL REFERENCES runs (seq) ON DELETE CASCADE,
	-- 1-based position of the step in the scenario.
	idx INTEGER NOT NULL CHECK (idx >= 1),
	-- The step's name (name=..., else '<kind>#<idx>'); baselines key on it.
	name TEXT NOT NULL,
	kind TEXT NOT NULL CHECK (kind IN ('dns', 'tcp', 'tls', 'http')),
	-- What the step aimed at: dns the name, tcp/tls host:port, http the
	-- URL.  Variables from the environment stay as ${NAME}: this column
	-- never holds an expanded secret.
	target TEXT NOT NULL,
	-- 1: the step succeeded (its expectations held).
	ok INTEGER NOT NULL CHECK (ok IN (0, 1)),
	-- 1: the step did not run (an earlier step failed); ok is then 0.
	skipped INTEGER NOT NULL DEFAULT 0 CHECK (skipped IN (0, 1)),
	-- Error class of a failed step, '<kind>.<what>': 'dns.nxdomain',
	-- 'tcp.refused', 'tls.cert_expired', 'http.status'...; NULL when ok.
	error TEXT,
	-- Human-readable detail of the error (library message, expected vs
	-- got).  Free text; NULL when ok.
	error_detail TEXT,
	-- When the step started (UTC); NULL for a skipped step.
	started_at TEXT CHECK (started_at GLOB
		'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T'
		|| '[0-9][0-9]:[0-9][0-9]:[0-9][0-9]'
		|| '.[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
	-- Library timings (ms), each from the step's start.  For an http step
	-- that followed redirects these cover the last hop; per-hop figures
	-- are in exchanges.
	--   dns_ms      name resolution (c-ares)
	--   connect_ms  TCP connect, SYN to established
	--   tls_ms      the whole TLS handshake
	--   ttfb_ms     request sent to the first response byte
	--   total_ms    the whole step
	dns_ms REAL,
	connect_ms REAL,
	tls_ms REAL,
	ttfb_ms REAL,
	total_ms REAL,
	-- HTTP status of the final response (after followed redirects).
	status INTEGER CHECK (status BETWEEN 100 AND 999),
	-- HTTP: response body bytes received.
	bytes INTEGER CHECK (bytes >= 0),
	-- TLS as negotiated, in OpenSSL's words: 'TLSv1.3',
	-- 'TLS_AES_128_GCM_SHA256'; alpn as sent on the wire: 'h2'.
	tls_version TEXT,
	tls_cipher TEXT,
	alpn TEXT,
	-- 1: the TLS session was resumed (no certificate was sent).
	tls_resumed INTEGER CHECK (tls_resumed IN (0, 1)),
	-- HTTP version of the final response: '1.0', '1.1', '2', '3'.
	http_version TEXT,
	-- The connection the step used: opened for it ('new'), kept alive
	-- from an earlier step ('reused'), or new with a resumed TLS session
	-- ('resumed').
	conn_state TEXT CHECK (conn_state IN ('new', 'reused', 'resumed')),
	-- Address family of the connection (or of the dns step's answers).
	family TEXT CHECK (family IN ('ipv4', 'ipv6')),
	-- dns: the response code as on the wire (0 NOERROR, 2 SERVFAIL,
	-- 3 NXDOMAIN, 5 REFUSED).
	rcode INTEGER CHECK (rcode BETWEEN 0 AND 4095),
	-- dns: the answer records, a JSON array, one object per record:
	-- [{"type": "A", "ttl": 300, "data": "192.0.2.1"}, ...].
	answers TEXT CHECK (answers IS NULL OR (CASE WHEN json_valid(answers)
		THEN json_type(answers) = 'array' ELSE 0 END)),
	CHECK (skipped = 0 OR ok = 0),
	UNIQUE (run_seq, idx)
);
CREATE TABLE certificates (
	id INTEGER PRIMARY KEY,
	step_id INTEGER NOT NULL REFERENCES steps (id) ON DELETE CASCADE,
	-- Position in the chain as the server sent it: 0 is the leaf.
	depth INTEGER NOT NULL CHECK (depth >= 0),
	-- Distinguished names, RFC 2253 form: 'CN=shop.example.com,O=...'.
	subject TEXT,
	issuer TEXT,
	-- End of validity (UTC).
	not_after TEXT CHECK (not_after GLOB
		'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T'
		|| '[0-9][0-9]:[0-9][0-9]:[0-9][0-9]'
		|| '.[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
	-- Whole days from the step's start to not_after, rounded down;
	-- negative once expired.
	days_left INTEGER,
	-- 1: the certificate verified against the trust store (and pins);
	-- NULL when verification was not attempted.
	verified INTEGER CHECK (verified IN (0, 1)),
	UNIQUE (step_id, depth)
);
CREATE TABLE connections (
	id INTEGER PRIMARY KEY,
	run_seq INTEGER NOT NULL REFERENCES runs (seq) ON DELETE CASCADE,
	-- The step that opened the connection; NULL for a connection no step
	-- owns (DNS over TCP to the resolver, say).
	step_id INTEGER REFERENCES steps (id) ON DELETE CASCADE,
	family TEXT CHECK (family IN ('ipv4', 'ipv6')),
	-- The 5-tuple, client side first; addresses numeric.
	src_addr TEXT,
	src_port INTEGER CHECK (src_port BETWEEN 0 AND 65535),
	dst_addr TEXT,
	dst_port INTEGER CHECK (dst_port BETWEEN 0 AND 65535),
	-- 'new', 'reused' (kept alive), 'resumed' (new TCP, resumed TLS).
	conn_state TEXT CHECK (conn_state IN ('new', 'reused', 'resumed')),
	-- Where this row's figures come from (see the top of this file).
	source TEXT CHECK (source IN ('pcap', 'tcp_info', 'library')),
	-- rtt_ms: the SYN the SYN/ACK answers, to that SYN/ACK.  NULL (with
	-- rtt_quality 'ambiguous') when the SYN was retransmitted and TCP
	-- timestamps cannot tell which copy was answered.  On a reused
	-- connection: the minimum over bare, immediate ACKs of client data.
	-- Behind a load balancer, CDN or proxy: the RTT to the first TCP peer.
	rtt_ms REAL,
	rtt_quality TEXT,
	-- Retransmissions of the SYN.
	syn_retrans INTEGER CHECK (syn_retrans >= 0),
	-- tls_server_ms: the last ClientHello segment to the real
	-- ServerHello, minus rtt_ms: the peer's own TLS work (ms).
	tls_server_ms REAL,
	tls_server_quality TEXT,
	-- 1: a HelloRetryRequest happened (one extra round trip).
	hrr INTEGER CHECK (hrr IN (0, 1)),
	-- 1: the TLS session was resumed.
	resumed INTEGER CHECK (resumed IN (0, 1)),
	-- TCP payload bytes received and sent.
	bytes_in INTEGER CHECK (bytes_in >= 0),
	bytes_out INTEGER CHECK (bytes_out >= 0),
	-- Retransmitted segments, tshark's tcp.analysis.retransmission
	-- semantics (fast and spurious included, out-of-order not).
	retrans INTEGER CHECK (retrans >= 0),
	-- Duplicate ACKs, zero-window advertisements, out-of-order segments.
	dup_acks INTEGER CHECK (dup_acks >= 0),
	zero_window INTEGER CHECK (zero_window >= 0),
	out_of_order INTEGER CHECK (out_of_order >= 0),
	-- The server's segments that never reached the capture point and
	-- came later as fills: inbound loss as seen from the client.
	lost_in INTEGER CHECK (lost_in >= 0),
	-- Who sent the first RST ('client' or 'server'; NULL: nobody), and
	-- when, in ms from the connection's first packet.
	rst TEXT CHECK (rst IN ('client', 'server')),
	rst_at_ms REAL,
	-- The first ICMP error about this flow, as 'type/code' ('3/4').
	icmp TEXT CHECK (icmp GLOB '[0-9]*/[0-9]*'),
	-- From the handshake: the server's MSS, its window scale shift, and
	-- whether both sides agreed on SACK (1) or not (0).
	mss INTEGER CHECK (mss BETWEEN 0 AND 65535),
	wscale INTEGER CHECK (wscale BETWEEN 0 AND 14),
	sack INTEGER CHECK (sack IN (0, 1))
, connect_ms REAL
	CHECK (connect_ms >= 0), tls_ms REAL CHECK (tls_ms >= 0));
CREATE INDEX connections_run ON connections (run_seq);
CREATE INDEX connections_step ON connections (step_id);
CREATE TABLE exchanges (
	id INTEGER PRIMARY KEY,
	run_seq INTEGER NOT NULL REFERENCES runs (seq) ON DELETE CASCADE,
	step_id INTEGER NOT NULL REFERENCES steps (id) ON DELETE CASCADE,
	-- The connection it travelled on (perhaps one an earlier step
	-- opened); NULL when unknown.
	connection_id INTEGER REFERENCES connections (id) ON DELETE SET NULL,
	-- 1-based order within the step: hop 1, then each redirect hop.
	idx INTEGER NOT NULL CHECK (idx >= 1),
	method TEXT,
	-- The URL requested, with credentials and ${NAME} values redacted.
	url TEXT,
	-- HTTP status of the final (non-1xx) response of this exchange.
	status INTEGER CHECK (status BETWEEN 100 AND 999),
	-- Where the wire figures below come from (see the top of this file).
	source TEXT CHECK (source IN ('pcap', 'tcp_info', 'library')),
	-- Library timings of this hop alone (ms), as in steps.
	dns_ms REAL,
	connect_ms REAL,
	tls_ms REAL,
	ttfb_ms REAL,
	total_ms REAL,
	-- The request's last byte, first transmission, to the first server
	-- segment that acknowledges it (ms).
	request_ack_ms REAL,
	-- What that acknowledging segment was: 'piggybacked' (it carries
	-- response bytes), 'separate' (a bare ACK, payload later), 'control'
	-- (it carries other bytes: TLS tickets, HTTP/2 SETTINGS), 'unknown'.
	-- Describes the server's TCP stack, not its speed.
	ack_pattern TEXT
		CHECK (ack_pattern IN ('piggybacked', 'separate', 'control',
			'unknown')),
	-- The transmission of the request's last byte that the server
	-- acknowledged, to the first segment carrying bytes of the final
	-- (non-1xx) response (ms).
	ttfb_wire_ms REAL,
	ttfb_wire_quality TEXT,
	-- think_ms = ttfb_wire_ms - rtt_ms, signed: the time the server (first
	-- TCP peer) spent before answering.  Below -0.5 ms it is NULL with
	-- think_quality 'inconsistent' (never silently floored).
	think_ms REAL,
	think_quality TEXT,
	-- First to last byte of the final response on the wire (ms), and the
	-- response bytes over that time (kilobits per second).
	transfer_ms REAL,
	goodput_kbps REAL,
	-- 1: the request's ACK came about 40 ms after one RTT with no loss.
	server_delayed_ack INTEGER CHECK (server_delayed_ack IN (0, 1)), rtt_ms REAL CHECK (rtt_ms >= 0), request_sent_ms REAL,
	UNIQUE (step_id, idx)
);
CREATE INDEX exchanges_run ON exchanges (run_seq);
CREATE INDEX exchanges_connection ON exchanges (connection_id);
CREATE TABLE findings (
	id INTEGER PRIMARY KEY,
	run_seq INTEGER NOT NULL REFERENCES runs (seq) ON DELETE CASCADE,
	-- The step and connection it is about; NULL for run-wide findings
	-- such as CAPTURE_DROPS or CLOCK_STEP.
	step_id INTEGER REFERENCES steps (id) ON DELETE CASCADE,
	connection_id INTEGER REFERENCES connections (id) ON DELETE SET NULL,
	-- The finding's public code: 'SYN_NO_SYNACK', 'RETRANSMISSIONS',
	-- 'SLOW_SERVER', 'CAPTURE_DROPS'...
	code TEXT NOT NULL CHECK (length(code) > 0),
	-- The packets that prove it: a JSON array of 1-based frame numbers of
	-- the capture as analyzed (for a live run, of its escalation pcap),
	-- so `tshark -r FILE -Y frame.number==N` shows them.  [] or NULL when
	-- the finding rests on no packet (CAPTURE_DROPS, HTTP_STATUS).
	packets TEXT CHECK (packets IS NULL OR (CASE WHEN json_valid(packets)
		THEN json_type(packets) = 'array' ELSE 0 END)),
	-- Human-readable specifics ('3 SYN retransmissions, no answer').
	detail TEXT
);
CREATE INDEX findings_run ON findings (run_seq);
CREATE INDEX findings_step ON findings (step_id);
CREATE INDEX findings_connection ON findings (connection_id);
CREATE INDEX findings_code ON findings (code);
CREATE TABLE pcaps (
	id INTEGER PRIMARY KEY,
	-- No ON DELETE CASCADE, on purpose: a run whose pcap row still exists
	-- cannot be deleted, so row retention cannot orphan a file on disk.
	-- Prune the file and delete its row first.
	run_seq INTEGER NOT NULL REFERENCES runs (seq),
	-- Where the file is (absolute, or relative to the spool directory).
	path TEXT NOT NULL,
	-- Its size in bytes and the SHA-256 of its contents (64 lower-case
	-- hex digits), both as written.
	bytes INTEGER CHECK (bytes >= 0),
	sha256 TEXT
		CHECK (length(sha256) = 64 AND sha256 NOT GLOB '*[^0-9a-f]*'),
	-- When it was written, and when retention may delete it (UTC;
	-- expires_at NULL: only the spool's byte budget removes it).
	created_at TEXT NOT NULL CHECK (created_at GLOB
		'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T'
		|| '[0-9][0-9]:[0-9][0-9]:[0-9][0-9]'
		|| '.[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
	expires_at TEXT CHECK (expires_at GLOB
		'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T'
		|| '[0-9][0-9]:[0-9][0-9]:[0-9][0-9]'
		|| '.[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
	-- 1: the file has been deleted by retention (the row stays, so the
	-- run still says it once had evidence), at pruned_at (UTC).
	pruned INTEGER NOT NULL DEFAULT 0 CHECK (pruned IN (0, 1)),
	pruned_at TEXT CHECK (pruned_at GLOB
		'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T'
		|| '[0-9][0-9]:[0-9][0-9]:[0-9][0-9]'
		|| '.[0-9][0-9][0-9][0-9][0-9][0-9]Z')
, reason TEXT
	CHECK (reason IN ('breach', 'always')), keylog INTEGER NOT NULL DEFAULT 0
	CHECK (keylog IN (0, 1)));
CREATE INDEX pcaps_run ON pcaps (run_seq);
CREATE INDEX pcaps_expiry ON pcaps (pruned, expires_at);
CREATE TABLE baselines (
	scenario TEXT NOT NULL,
	-- The step's name (steps.name).
	step TEXT NOT NULL,
	region TEXT NOT NULL,
	-- 'ipv4', 'ipv6', or 'any' when the metric is not split by family.
	family TEXT NOT NULL CHECK (family IN ('ipv4', 'ipv6', 'any')),
	-- 'new', 'reused', 'resumed', or 'any' when not split by state.
	conn_state TEXT NOT NULL
		CHECK (conn_state IN ('new', 'reused', 'resumed', 'any')),
	-- A public metric name of DESIGN section 5 ('rtt_ms', 'think_ms').
	metric TEXT NOT NULL,
	-- Percentiles, in the metric's unit (ms, count or kbps).
	p50 REAL,
	p90 REAL,
	p95 REAL,
	p99 REAL,
	-- The number of samples they come from (trusted from 30 up).
	n INTEGER NOT NULL CHECK (n >= 0),
	-- The runs' started_at range the samples cover, and when the row was
	-- computed (UTC).
	window_start TEXT NOT NULL CHECK (window_start GLOB
		'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T'
		|| '[0-9][0-9]:[0-9][0-9]:[0-9][0-9]'
		|| '.[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
	window_end TEXT NOT NULL CHECK (window_end GLOB
		'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T'
		|| '[0-9][0-9]:[0-9][0-9]:[0-9][0-9]'
		|| '.[0-9][0-9][0-9][0-9][0-9][0-9]Z'
		AND window_end >= window_start),
	computed_at TEXT NOT NULL CHECK (computed_at GLOB
		'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T'
		|| '[0-9][0-9]:[0-9][0-9]:[0-9][0-9]'
		|| '.[0-9][0-9][0-9][0-9][0-9][0-9]Z'),
	PRIMARY KEY (scenario, step, region, family, conn_state, metric)
);
CREATE TABLE threshold_evals (
	id INTEGER PRIMARY KEY,
	run_seq INTEGER NOT NULL REFERENCES runs (seq) ON DELETE CASCADE,
	-- The threshold as the scenario states it, canonical form (the key
	-- for `for N runs`): 'think_ms > 300', 'rtt_ms > 2x baseline for 3
	-- runs step=login', 'retrans > p95', 'RETRANSMISSIONS > 0'.
	threshold TEXT NOT NULL,
	-- The public figure or finding code it watches.
	metric TEXT NOT NULL,
	-- The step whose figure decided (the worst one for a scenario-wide
	-- threshold); NULL when no step had the figure.
	step TEXT,
	-- The run's figure (a count for a finding code); NULL: none.
	value REAL,
	-- The limit it was compared with, in the figure's unit: the absolute
	-- value, or the factor times the baseline's p50, or its p95.
	limit_value REAL,
	-- Relative thresholds: the baseline's sample count when evaluated
	-- (below the minimum, the threshold cannot hold); NULL: absolute.
	baseline_n INTEGER CHECK (baseline_n >= 0),
	-- 1: the condition held in this run.
	met INTEGER NOT NULL CHECK (met IN (0, 1)),
	-- 1: it fired: held in this run and the N - 1 before it.
	breached INTEGER NOT NULL CHECK (breached IN (0, 1)),
	-- Why it could not hold, when it could not: 'baseline not ready
	-- (n=12)', 'no figure'.  NULL otherwise.
	note TEXT
);
CREATE INDEX threshold_evals_run ON threshold_evals (run_seq);
CREATE INDEX threshold_evals_threshold ON threshold_evals (threshold, run_seq);
CREATE INDEX pcaps_created ON pcaps (created_at);
CREATE TABLE collect_cursors (
	-- The region's name, as REGIONS.conf spells it.
	region TEXT NOT NULL,
	-- The probe's base URL, as REGIONS.conf spells it.
	base_url TEXT NOT NULL,
	-- The regional seq of the last run taken in (0: none yet).
	last_seq INTEGER NOT NULL CHECK (last_seq >= 0),
	-- When it last moved (UTC, "2026-11-23T13:43:04.123456Z").
	updated_at TEXT NOT NULL,
	PRIMARY KEY (region, base_url)
);
