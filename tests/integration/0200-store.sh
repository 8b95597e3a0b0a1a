#!/usr/bin/env bash
# The store as users see it: a command that opens a store creates the
# documented schema (docs/schema.sql) in WAL mode with mode 0600; a
# database at any earlier schema version is upgraded in place; a newer one
# is refused untouched.
. "$(dirname "$0")/lib.sh"

latest=$(ls schema/[0-9][0-9][0-9]_*.sql | wc -l)

run_probe report --db "$T/new.db" --config /dev/null
expect_rc 0 "report on a new store"
expect_match "$out" "^no runs in $T/new.db$" "an empty store says so"
expect_eq "$(sqlite3 "$T/new.db" .schema)" "$(cat docs/schema.sql)" "sqlite3 .schema equals docs/schema.sql"
expect_eq "$(sql "$T/new.db" 'PRAGMA user_version')" "$latest" "user_version is the last migration"
expect_eq "$(sql "$T/new.db" 'PRAGMA journal_mode')" wal "WAL mode"
expect_eq "$(sql "$T/new.db" 'PRAGMA integrity_check')" ok "integrity_check ok"
expect_eq "$(stat -c %a "$T/new.db")" 600 "store file is 0600"

# every earlier version, built from the migrations themselves
for ((v = 0; v < latest; v++)); do
	db="$T/v$v.db"
	{
		for f in $(ls schema/[0-9][0-9][0-9]_*.sql | head -n "$v"); do cat "$f"; done
		echo "PRAGMA user_version = $v;"
	} | sqlite3 "$db"
	[ "$v" -ge 1 ] && sql "$db" "INSERT INTO runs (run_id, scenario, region, probe_id, started_at, ok, breach, clock_sync, capture, probe_version)
		VALUES ('p-1', 'old', 'r', 'p', '2026-01-02T03:04:05.000000Z', 1, 0, 'unknown', 'off', '0.1.0')"
	run_probe report --db "$db" --config /dev/null
	expect_rc 0 "report opens a version-$v store"
	expect_eq "$(sql "$db" 'PRAGMA user_version')" "$latest" "version $v upgraded to $latest in place"
	expect_eq "$(sql "$db" 'PRAGMA integrity_check')" ok "version $v upgraded: integrity ok"
	expect_eq "$(sqlite3 "$db" .schema)" "$(cat docs/schema.sql)" "version $v upgraded: schema as documented"
	if [ "$v" -ge 1 ]; then
		expect_match "$out" ' old ' "version $v upgraded: its runs kept"
	fi
done

# a store from a newer probe is refused and left as it was
sql "$T/new.db" "PRAGMA user_version = $((latest + 1))"
before=$(sha256sum <"$T/new.db")
run_probe report --db "$T/new.db" --config /dev/null
expect_rc 3 "a newer store is refused with exit 3"
expect_match "$err" "newer" "the refusal says the store is newer"
expect_eq "$(sha256sum <"$T/new.db")" "$before" "the newer store is untouched"

# something that is not a database
echo "not a database" >"$T/junk.db"
run_probe report --db "$T/junk.db" --config /dev/null
expect_rc 3 "a non-database file is an error, exit 3"
expect_eq "$(cat "$T/junk.db")" "not a database" "and it is left alone"

# a directory that does not exist
run_probe report --db "$T/nodir/x.db" --config /dev/null
expect_rc 3 "an uncreatable store path is exit 3"

# report's own options, on a store holding one run
run_probe report --db "$T/r.db" --config /dev/null
sql "$T/r.db" "INSERT INTO runs (run_id, scenario, region, probe_id, started_at, ok, breach, clock_sync, capture, probe_version)
	VALUES ('p-1', 'old', 'r', 'p', '2026-01-02T03:04:05.000000Z', 1, 0, 'unknown', 'off', '0.1.0')"
run_probe report --db "$T/r.db" --config /dev/null --json
expect_rc 0 "report --json"
expect_match "$out" '^\{"seq":1,"run_id":"p-1","scenario":"old",' "report --json gives NDJSON"
run_probe report --db "$T/r.db" --config /dev/null --since 2026-02-01
expect_match "$out" "^no runs match" "--since filters by UTC time"
run_probe report --db "$T/r.db" --config /dev/null --since 2026-01-01
expect_match "$out" ' old ' "--since keeps later runs"
run_probe report --db "$T/r.db" --config /dev/null --since yesterday
expect_rc 2 "--since with a bad time is a usage error"
run_probe report --db "$T/r.db" --config /dev/null --scenario other
expect_match "$out" "^no runs match" "--scenario filters"
run_probe report --db "$T/r.db" --config /dev/null --list
expect_match "$out" '^1 +2026-01-02T03:04:05.000000Z +old +r ' "report --list: a table of runs"
run_probe report --db "$T/r.db" --config /dev/null --list --json
expect_match "$out" '^\{"seq":1,"run_id":"p-1","scenario":"old",.*"steps":0,' "report --list --json: NDJSON of run summaries"

finish
