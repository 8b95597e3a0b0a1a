#!/bin/bash
# 0690-pcap-commands.sh: `probe pcap list/show/export/prune` end to end on
# a store seeded with runs, their threshold evaluations and findings, and
# real pcapng files (written by build/tools/pbpcapng through the
# capture's own writer) in the spool: export is byte-exact, 0600 and
# refuses a tampered file; show explains the breach with frame numbers;
# prune honours the byte budget oldest first and list marks what went.
. "$(dirname "$0")/lib.sh"

CONV=$PWD/build/tools/pbpcapng
DB=$T/probe.db
SP=$T/spool
mkdir -p "$SP/pcaps"
export PROBE_DB=$DB PROBE_SPOOL=$SP PROBE_CONFIG=/dev/null

run_probe report
expect_rc 0 "an empty store is created"

# Three runs a day apart, each with a pcap written by our pcapng writer.
declare -A SHA BYTES
i=0
for p in find_SLOW_SERVER find_RETRANSMISSIONS find_HTTP_STATUS; do
	i=$((i + 1))
	id=p1-run$i
	line=$("$CONV" "tests/data/pcap/$p.pcap" "$SP/pcaps/$id.pcapng") ||
		{ not_ok "pbpcapng $p"; finish; }
	SHA[$id]=$(awk '{print $2}' <<<"$line")
	BYTES[$id]=$(awk '{print $4}' <<<"$line")
	day=$(printf '2030-01-%02d' $((9 + i)))
	sql "$DB" "INSERT INTO runs (run_id, scenario, region, probe_id,
		started_at, ok, breach, clock_sync, capture, probe_version)
		VALUES ('$id', 'shop', 'eu', 'p1', '${day}T10:00:00.000000Z',
		0, 1, 'synced', 'on', '0.1.0');
		INSERT INTO pcaps (run_seq, path, bytes, sha256, created_at,
		expires_at, reason, keylog) VALUES ($i, 'pcaps/$id.pcapng',
		${BYTES[$id]}, '${SHA[$id]}', '${day}T10:00:01.000000Z',
		'2099-01-01T00:00:00.000000Z', 'breach', $((i == 3)))"
done
expect_eq "$(sha256sum "$SP/pcaps/p1-run1.pcapng" | cut -c1-64)" "${SHA[p1-run1]}" \
	"pbpcapng's sha256 is the file's"
sql "$DB" "INSERT INTO steps (run_seq, idx, name, kind, target, ok)
	VALUES (1, 1, 'login', 'http', 'http://x/', 0);
	INSERT INTO threshold_evals (run_seq, threshold, metric, step, value,
	limit_value, met, breached) VALUES
	(1, 'think_ms > 300', 'think_ms', 'login', 412.5, 300, 1, 1),
	(1, 'rtt_ms > 50', 'rtt_ms', 'login', 0.2, 50, 0, 0);
	INSERT INTO findings (run_seq, step_id, code, packets, detail) VALUES
	(1, 1, 'SLOW_SERVER', '[4,6]', 'think 412 ms of 413'),
	(1, NULL, 'CAPTURE_DROPS', '[]', '3 dropped')"

# --help of each subcommand
for s in list show export prune; do
	run_probe pcap $s --help
	[ "$rc" -eq 0 ] && grep -q "^usage: probe pcap $s" <<<"$out" &&
		ok "pcap $s --help" || not_ok "pcap $s --help" "exit $rc" "$out"
done

# list: newest first, keylog said loudly, sizes and expiry
run_probe pcap list
expect_rc 0 "pcap list"
expect_eq "$(grep -o '^p1-run[0-9]' <<<"$out" | tr '\n' ' ')" "p1-run3 p1-run2 p1-run1 " \
	"list: newest run first"
expect_match "$(grep p1-run3 <<<"$out")" "TLS SECRETS" "list: keylog pcap flagged"
expect_match "$err" "WARNING: 1 kept pcap holds TLS SECRETS" "list: keylog warning on stderr"
expect_match "$(grep p1-run1 <<<"$out")" "shop +eu +2030-01-10T10:00:00.000000Z .* breach +no +2099-01-01" \
	"list: scenario, region, start, reason, keylog, expiry"
run_probe pcap list --json --since 2030-01-11
expect_eq "$(wc -l <<<"$out")" 2 "list --since: only later runs"
expect_match "$(head -1 <<<"$out")" '"run_id":"p1-run3".*"bytes":'"${BYTES[p1-run3]}"'.*"keylog":true' \
	"list --json: fields"
run_probe pcap list --scenario nosuch
expect_match "$out" "no kept pcaps match" "list --scenario filters"
run_probe pcap list --since yesterday-ish
expect_rc 2 "list: a malformed --since is a usage error"

# show: why it was kept
run_probe pcap show p1-run1
expect_rc 0 "pcap show"
expect_match "$out" "scenario: shop +region: eu" "show: the run"
expect_match "$out" "result: +FAILED, threshold BREACHED" "show: ok/breach"
expect_match "$out" "sha256: +${SHA[p1-run1]}" "show: sha256"
expect_match "$out" "BREACHED think_ms > 300 +\[step login\]: think_ms = 412.5 vs limit 300" \
	"show: the breached threshold, value vs limit"
expect_match "$out" "held +rtt_ms > 50" "show: a threshold that held"
expect_match "$out" "SLOW_SERVER +login +frames \[4,6\] +think 412" "show: finding with its frames"
expect_match "$out" "CAPTURE_DROPS +\(run\) +frames none" "show: run-wide finding"
run_probe pcap show --json p1-run1
expect_match "$out" '"thresholds":\[\{"threshold":"think_ms > 300".*"breached":true' "show --json: thresholds"
expect_match "$out" '"findings":\[\{"code":"CAPTURE_DROPS".*"packets":\[4,6\]' "show --json: findings"
run_probe pcap show 2
expect_match "$out" "run: +p1-run2 \(seq 2\)" "show: a seq works too"
run_probe pcap show nosuch
expect_rc 1 "show: an unknown run is exit 1"
expect_match "$err" "no run 'nosuch'" "show: says which"
run_probe pcap show
expect_rc 2 "show without RUN_ID: usage"

# export: byte-exact, 0600, never over an existing file
cd "$T" || exit 3
run_probe pcap export p1-run1
expect_rc 0 "export to the default ./RUN_ID.pcapng"
cmp -s "$T/p1-run1.pcapng" "$SP/pcaps/p1-run1.pcapng" && ok "export: byte for byte" ||
	not_ok "export: byte for byte"
expect_eq "$(stat -c %a "$T/p1-run1.pcapng")" 600 "export: mode 0600"
run_probe pcap export p1-run1
expect_rc 3 "export: an existing OUT is not overwritten"
"$PROBE" pcap export p1-run2 - >"$T/stdout.pcapng" 2>"$T/err"
rc=$? out= err=$(cat "$T/err")
expect_rc 0 "export to stdout"
cmp -s "$T/stdout.pcapng" "$SP/pcaps/p1-run2.pcapng" && ok "export -: byte for byte" ||
	not_ok "export -: byte for byte"
run_probe pcap export p1-run3 "$T/k.pcapng"
expect_match "$err" "TLS SECRETS" "export of a keylog pcap warns"
cp "$SP/pcaps/p1-run2.pcapng" "$T/orig2"
printf 'X' | dd of="$SP/pcaps/p1-run2.pcapng" bs=1 seek=100 conv=notrunc 2>/dev/null
run_probe pcap export p1-run2 "$T/tampered.pcapng"
expect_rc 3 "export: a tampered file is refused (exit 3)"
expect_match "$err" "sha256" "export: says the checksum differs"
[ ! -e "$T/tampered.pcapng" ] && ok "export: nothing written on mismatch" ||
	not_ok "export: nothing written on mismatch"
cp "$T/orig2" "$SP/pcaps/p1-run2.pcapng"
run_probe pcap export nosuch
expect_rc 1 "export: an unknown run is exit 1"
run_probe pcap export
expect_rc 2 "export without RUN_ID: usage"
cd - >/dev/null || exit 3

# a row pointing outside the spool: never deleted, never exported
echo secret >"$T/outside"
sql "$DB" "INSERT INTO runs (run_id, scenario, region, probe_id, started_at,
	ok, breach, clock_sync, capture, probe_version) VALUES ('p1-evil',
	'shop', 'eu', 'p1', '2030-01-01T00:00:00.000000Z', 1, 0, 'synced',
	'on', '0.1.0');
	INSERT INTO pcaps (run_seq, path, bytes, sha256, created_at, expires_at)
	VALUES (4, 'pcaps/../../outside', 7, '$(sha256sum "$T/outside" | cut -c1-64)',
	'2030-01-01T00:00:00.000000Z', '2030-01-02T00:00:00.000000Z')"
run_probe pcap export p1-evil "$T/evil.out"
expect_rc 3 "export: a path outside the spool is refused"

# prune: the expired outsider is refused; the byte budget removes the
# oldest first; rows stay, marked
total=$(( ${BYTES[p1-run1]} + ${BYTES[p1-run2]} + ${BYTES[p1-run3]} ))
budget=$(( total - ${BYTES[p1-run1]} ))
run_probe pcap prune --dry-run
expect_match "$out" "^dry run: files deleted: 0 " "prune --dry-run: nothing with no budget"
PROBE_RETENTION_BYTES=$budget run_probe pcap prune --dry-run
expect_match "$out" "would prune p1-run1 " "prune --dry-run names the oldest"
[ -e "$SP/pcaps/p1-run1.pcapng" ] && ok "prune --dry-run deletes nothing" ||
	not_ok "prune --dry-run deletes nothing"
PROBE_RETENTION_BYTES=$budget run_probe pcap prune
expect_rc 3 "prune: exit 3 when a row had to be refused"
expect_match "$err" "refused p1-evil .*outside" "prune: reports the refused row"
[ -e "$T/outside" ] && ok "prune: the file outside the spool survives" ||
	not_ok "prune: the file outside the spool survives"
expect_match "$out" "pruned p1-run1 pcaps/p1-run1.pcapng .*over retention_bytes" "prune: the oldest goes first"
[ ! -e "$SP/pcaps/p1-run1.pcapng" ] && [ -e "$SP/pcaps/p1-run2.pcapng" ] &&
	ok "prune: only the oldest file is deleted" || not_ok "prune: only the oldest file is deleted"
expect_eq "$(sql "$DB" "SELECT pruned, pruned_at IS NOT NULL FROM pcaps WHERE path = 'pcaps/p1-run1.pcapng'")" \
	"1|1" "prune: the row stays, marked pruned"
sql "$DB" "DELETE FROM pcaps WHERE run_seq = 4; DELETE FROM runs WHERE seq = 4"
PROBE_RETENTION_BYTES=$budget run_probe pcap prune
expect_rc 0 "prune again: nothing to do"
expect_match "$out" "files deleted: 0 " "prune is idempotent"
run_probe pcap list
expect_eq "$(grep -c '^p1-run' <<<"$out")" 2 "list: the pruned pcap is gone"
run_probe pcap list --all
expect_match "$(grep p1-run1 <<<"$out")" "PRUNED 20" "list --all: marks it pruned"
run_probe pcap export p1-run1 "$T/gone.pcapng"
expect_rc 1 "export of a pruned pcap: exit 1"
expect_match "$err" "pruned" "export says it was pruned"
run_probe pcap show p1-run1
expect_match "$out" "PRUNED:" "show says it was pruned"

# row retention: runs from 2030 are old by 2031's clock?  Use a run from
# the distant past instead: it goes with its rows; the pcap first.
sql "$DB" "UPDATE runs SET started_at = '2001-01-01T00:00:00.000000Z' WHERE seq = 2"
run_probe pcap prune
expect_rc 0 "prune with an old run"
expect_match "$out" "pruned p1-run2 .*run past runs_retention_days" "prune: an old run's pcap is pruned first"
expect_match "$out" "runs deleted: 1," "prune: the old run is deleted"
expect_eq "$(sql "$DB" "SELECT count(*) FROM runs WHERE seq = 2") $(sql "$DB" "SELECT count(*) FROM pcaps WHERE run_seq = 2")" \
	"0 0" "prune: run and pcap rows of the old run are gone"
expect_eq "$(sql "$DB" "SELECT count(*) FROM runs")" 2 "prune: the other runs stay"

finish
