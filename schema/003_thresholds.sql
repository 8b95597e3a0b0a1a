-- 003_thresholds.sql: what each threshold of a scenario said about each
-- run, and why an escalation pcap was kept.
--
-- A run's `breach` (runs.breach) is 1 when any of its thresholds fired.
-- The rows below keep the evidence: which threshold, on which figure, the
-- run's value against the limit, and whether the condition held this run
-- (`met`) and fired (`breached`: met for the `for N runs` in a row).
-- `probe pcap show RUN_ID` reads them; `for N runs` looks back at `met`
-- of the same threshold in the scenario's earlier runs in this region.

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

-- Why a pcap was kept: 'breach' (a threshold fired) or 'always'
-- (keep_pcap always).
ALTER TABLE pcaps ADD COLUMN reason TEXT
	CHECK (reason IN ('breach', 'always'));
-- 1: the file carries the run's TLS secrets and whole TLS records
-- (keylog on): whoever has it can decrypt the run's HTTPS.  Handle it as
-- the secret it is.
ALTER TABLE pcaps ADD COLUMN keylog INTEGER NOT NULL DEFAULT 0
	CHECK (keylog IN (0, 1));

CREATE INDEX pcaps_created ON pcaps (created_at);
