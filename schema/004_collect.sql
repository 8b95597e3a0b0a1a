-- 004_collect.sql: where `probe collect` stands with each regional probe.
--
-- A central database filled by `probe collect REGIONS.conf` remembers,
-- per region and base URL, the last regional seq it has taken in: the
-- next collect asks that probe's /api/runs?after=last_seq.  The key holds
-- the URL too, so pointing a region at a new probe (a new database, whose
-- seqs start again at 1) starts from 0 instead of skipping its runs.
-- Runs themselves land in runs (and below) with their regional run_id;
-- runs.seq is this file's own.  Fetching a page again is harmless: a
-- run_id already present is skipped.

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
